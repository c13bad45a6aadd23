/* The file-system module on an overlay whose layers are two different tmpfs with xino=off:
 * there every non-directory reports the st_dev of its layer, directories the overlay's
 * (docs/notes-platform.md, "Mount points are mount IDs, not st_dev").  Telling mounts apart
 * by st_dev would skip the files in the tree size and the digest (a grown file unseen: the
 * final rootfs rsync skipped) and refuse to remove them.  Each test runs twice: with statx's
 * STATX_MNT_ID, and with statx failing ENOSYS (a seccomp filter), as on a kernel before 4.11;
 * kernels 4.11 to 5.7 have statx without STATX_MNT_ID and take the same way.
 *
 * As root (skipped otherwise), in a mount namespace of its own: nothing shows outside. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"

static char tmp[64], merged[128];
static int ready; /* setup made the overlay (root, overlayfs there) */

static void path(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void put(const char *dir, const char *name, const char *text, const char *mode)
{
	char p[512];
	path(p, sizeof(p), dir, name);
	FILE *f = fopen(p, mode);
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* tmp/lower (tmpfs: rootfs/counter.log), tmp/upper (another tmpfs), tmp/merged the overlay. */
static int setup(void **state)
{
	(void)state;
	ready = 0;
	if (geteuid() != 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "/tmp/test_fs_overlay.XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	char lower[128], upper[128], p[256], opts[600];
	path(lower, sizeof(lower), tmp, "lower");
	path(upper, sizeof(upper), tmp, "upper");
	path(merged, sizeof(merged), tmp, "merged");
	if (mkdir(lower, 0755) || mkdir(upper, 0755) || mkdir(merged, 0755) ||
	    mount("tfo-lower", lower, "tmpfs", 0, "size=4m") ||
	    mount("tfo-upper", upper, "tmpfs", 0, "size=4m"))
		return -1;
	path(p, sizeof(p), upper, "data");
	mkdir(p, 0755);
	path(p, sizeof(p), upper, "work");
	mkdir(p, 0755);
	path(p, sizeof(p), lower, "rootfs");
	mkdir(p, 0755);
	put(p, "counter.log", "1\n2\n3\n", "w");
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/data,workdir=%s/work,xino=off", lower,
		 upper, upper);
	if (mount("tfo-overlay", merged, "overlay", 0, opts) < 0) {
		fprintf(stderr, "test_fs_overlay: no overlay here (%s): skipped\n",
			strerror(errno));
		return 0;
	}
	ready = 1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	char p[256];
	umount2(merged, MNT_DETACH);
	rmdir(merged);
	path(p, sizeof(p), tmp, "upper");
	umount2(p, MNT_DETACH);
	rmdir(p);
	path(p, sizeof(p), tmp, "lower");
	umount2(p, MNT_DETACH);
	rmdir(p);
	rmdir(tmp);
	return 0;
}

#define NEED_OVERLAY()          \
	do {                    \
		if (!ready)     \
			skip(); \
	} while (0)

static int open_dir(const char *p)
{
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* The precondition: this overlay is the case st_dev gets wrong. */
static void test_files_report_their_layers_st_dev(void **state)
{
	(void)state;
	NEED_OVERLAY();
	char d[256], f[300];
	path(d, sizeof(d), merged, "rootfs");
	path(f, sizeof(f), d, "counter.log");
	struct stat sd, sf;
	assert_int_equal(stat(d, &sd), 0);
	assert_int_equal(stat(f, &sf), 0);
	assert_true(sd.st_dev != sf.st_dev);
}

static void test_tree_size_counts_the_files(void **state)
{
	(void)state;
	NEED_OVERLAY();
	int fd = open_dir(merged);
	assert_int_equal(fs_tree_size_at(fd, "rootfs"), 6);
	close(fd);
}

/* A copied-up file that grows (a running container's log) moves the digest. */
static void test_digest_sees_a_grown_file(void **state)
{
	(void)state;
	NEED_OVERLAY();
	char d[256];
	path(d, sizeof(d), merged, "rootfs");
	put(d, "counter.log", "4\n", "a");
	int fd = open_dir(d);
	unsigned char a[32], b[32];
	struct mig_err *e = NULL;
	assert_int_equal(fs_tree_digest(fd, a, &e), 0);
	put(d, "counter.log", "5\n", "a");
	assert_int_equal(fs_tree_digest(fd, b, &e), 0);
	close(fd);
	assert_memory_not_equal(a, b, 32);
}

static void test_remove_a_tree_on_the_overlay(void **state)
{
	(void)state;
	NEED_OVERLAY();
	char img[256];
	path(img, sizeof(img), merged, "image");
	assert_int_equal(mkdir(img, 0700), 0);
	put(img, "stats-dump", "x", "w");
	int fd = open_dir(merged);
	struct mig_err *e = NULL;
	int r = fs_clear_at(fd, "image", &e);
	close(fd);
	if (r < 0)
		fail_msg("fs_clear_at: %s", mig_err_msg(e));
	assert_int_equal(access(img, F_OK), -1);
}

/* Another filesystem mounted below is still one: not entered, not removed. */
static void test_a_mount_below_is_still_one(void **state)
{
	(void)state;
	NEED_OVERLAY();
	char dir[256], sub[300];
	path(dir, sizeof(dir), merged, "guarded");
	path(sub, sizeof(sub), dir, "m");
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(mount("tfo-sub", sub, "tmpfs", 0, "size=1m"), 0);
	put(sub, "precious", "keep me", "w");
	int fd = open_dir(merged);
	assert_int_equal(fs_tree_size_at(fd, "guarded"), 0);
	struct mig_err *e = NULL;
	assert_int_equal(fs_clear_at(fd, "guarded", &e), -1);
	mig_err_free(&e);
	close(fd);
	char p[400];
	path(p, sizeof(p), sub, "precious");
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(umount2(sub, MNT_DETACH), 0);
}

/* statx fails with ENOSYS from now on, as on a kernel without it. */
static int no_statx(void)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_statx, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_files_report_their_layers_st_dev),
	    cmocka_unit_test(test_tree_size_counts_the_files),
	    cmocka_unit_test(test_digest_sees_a_grown_file),
	    cmocka_unit_test(test_remove_a_tree_on_the_overlay),
	    cmocka_unit_test(test_a_mount_below_is_still_one),
	};
	/* Our own mount namespace, private: the test's mounts are seen by no one else and go
	 * with the process. */
	if (geteuid() == 0 &&
	    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)) {
		fprintf(stderr, "test_fs_overlay: no mount namespace of its own: %s\n",
			strerror(errno));
		return 1;
	}
	int failed = cmocka_run_group_tests_name("statx", tests, setup, teardown);
	if (no_statx() < 0) {
		fprintf(stderr, "test_fs_overlay: cannot install the seccomp filter: %s\n",
			strerror(errno));
		return 1;
	}
	return failed + cmocka_run_group_tests_name("without statx", tests, setup, teardown);
}

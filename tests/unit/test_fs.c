/* The file-system module against hostile bundle layouts: every directory the tools make or
 * clear, the rootfs and config.json as links to a victim (a directory, a file, a mount),
 * a FIFO for config.json, root.path values that point where the tools write, a directory
 * swapped for a link while the image streams in.  After each, the victim is untouched. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "conn.h"
#include "fs.h"
#include "proto.h"
#include "stream.h"

static char tmp[64], base[96], bdir[128], victim[96];
static int victim_mounted;

static void put(const char *dir, const char *name, const char *content)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void path(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* The victim: a directory with a file and a subdirectory, and (as root) a tmpfs on it. */
static void victim_intact(void)
{
	char p[256];
	path(p, sizeof(p), victim, "precious");
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	path(p, sizeof(p), victim, "sub/deep");
	assert_int_equal(stat(p, &st), 0);
	if (victim_mounted) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		char line[4096], mp[4096];
		int found = 0;
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && !strcmp(mp, victim))
				found = 1;
		if (f)
			fclose(f);
		assert_true(found);
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/test_fs.XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(base, sizeof(base), "%s/base", tmp);
	snprintf(bdir, sizeof(bdir), "%s/c1", base);
	snprintf(victim, sizeof(victim), "%s/victim", tmp);
	mkdir(base, 0700);
	mkdir(bdir, 0700);
	mkdir(victim, 0700);
	victim_mounted = getuid() == 0 && mount("victim", victim, "tmpfs", 0, "size=1m") == 0;
	char sub[160];
	path(sub, sizeof(sub), victim, "sub");
	mkdir(sub, 0700);
	put(victim, "precious", "keep me");
	put(sub, "deep", "and me");
	put(bdir, "config.json", "{\"root\":{\"path\":\"rootfs\"}}");
	char rootfs[200];
	path(rootfs, sizeof(rootfs), bdir, "rootfs");
	mkdir(rootfs, 0755);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	victim_intact();
	if (victim_mounted)
		umount2(victim, MNT_DETACH);
	struct mig_err *e = NULL;
	fs_clear_path(tmp, &e);
	mig_err_free(&e);
	return 0;
}

static void load(struct bundle_info *b)
{
	struct mig_err *e = NULL;
	if (bundle_load(base, "c1", b, &e) < 0)
		fail_msg("%s", mig_err_msg(e));
}

static void link_in_bundle(const char *name, const char *target)
{
	char p[256];
	path(p, sizeof(p), bdir, name);
	assert_int_equal(symlink(target, p), 0);
}

static int is_link(const char *name)
{
	char p[256];
	path(p, sizeof(p), bdir, name);
	struct stat st;
	return lstat(p, &st) == 0 && S_ISLNK(st.st_mode);
}

/* image, parent and work as links to the victim (a mounted tmpfs as root) and to "/": the
 * clearing unlinks the link and follows nothing. */
static void test_clear_links(void **state)
{
	(void)state;
	struct bundle_info b;
	load(&b);
	link_in_bundle("image", victim);
	link_in_bundle("parent", victim);
	link_in_bundle("work", "/");
	struct mig_err *e = NULL;
	assert_int_equal(bundle_clear_dir(&b, "image", &e), 0);
	assert_int_equal(bundle_clear_dir(&b, "parent", &e), 0);
	assert_int_equal(bundle_clear_dir(&b, "work", &e), 0);
	assert_false(is_link("image") || is_link("parent") || is_link("work"));
	assert_int_equal(access("/etc/passwd", F_OK), 0);
	victim_intact();
	/* a link below a directory being removed: unlinked, not followed */
	assert_int_equal(bundle_make_dir(&b, "image", &e), 0);
	link_in_bundle("image/v", victim);
	link_in_bundle("image/root", "/");
	assert_int_equal(bundle_clear_dir(&b, "image", &e), 0);
	victim_intact();
	bundle_free(&b);
}

/* Making a directory where a link stands, or through one, is refused. */
static void test_make_dir_refuses_links(void **state)
{
	(void)state;
	struct bundle_info b;
	load(&b);
	link_in_bundle("image", victim);
	struct mig_err *e = NULL;
	assert_int_equal(bundle_make_dir(&b, "image", &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "not a directory"));
	mig_err_free(&e);
	assert_int_equal(bundle_make_dir(&b, "image/x", &e), -1);
	mig_err_free(&e);
	assert_int_equal(bundle_has_dir(&b, "image", &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "symbolic link"));
	mig_err_free(&e);
	char p[256];
	path(p, sizeof(p), victim, "x");
	assert_int_equal(access(p, F_OK), -1); /* nothing made in the victim */
	/* nothing escapes the bundle by name either */
	assert_int_equal(fs_open_at(b.fd, "../c1/config.json", O_RDONLY, 0, &e), -1);
	mig_err_free(&e);
	assert_int_equal(fs_open_at(b.fd, "/etc/passwd", O_RDONLY, 0, &e), -1);
	mig_err_free(&e);
	bundle_free(&b);
}

/* config.json as a link to a file elsewhere, and as a FIFO nobody writes to: refused, at
 * once. */
static void test_config_link_and_fifo(void **state)
{
	(void)state;
	char cfg[256], other[256];
	path(cfg, sizeof(cfg), bdir, "config.json");
	path(other, sizeof(other), tmp, "other.json");
	put(tmp, "other.json", "{\"root\":{\"path\":\"rootfs\"}}");
	unlink(cfg);
	assert_int_equal(symlink(other, cfg), 0);
	struct bundle_info b;
	struct mig_err *e = NULL;
	assert_int_equal(bundle_load(base, "c1", &b, &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "symbolic link"));
	mig_err_free(&e);
	unlink(cfg);
	assert_int_equal(mkfifo(cfg, 0600), 0);
	time_t t0 = time(NULL);
	assert_int_equal(bundle_load(base, "c1", &b, &e), -1);
	assert_true(time(NULL) - t0 < 2);
	assert_non_null(strstr(mig_err_msg(e), "not a regular file"));
	mig_err_free(&e);
}

static int load_with_root(const char *root_path, struct mig_err **e)
{
	char cfg[300];
	snprintf(cfg, sizeof(cfg), "{\"root\":{\"path\":\"%s\"}}", root_path);
	put(bdir, "config.json", cfg);
	struct bundle_info b;
	int r = bundle_load(base, "c1", &b, e);
	if (r == 0)
		bundle_free(&b);
	return r;
}

/* root.path may not name what the tools write and clear, nor leave the bundle. */
static void test_root_path_rules(void **state)
{
	(void)state;
	char into[256];
	path(into, sizeof(into), bdir, "rootfs");
	const char *bad[] = {"image",	"parent",	"work",		".",	       "..",
			     "",	"image/rootfs", "../c2/rootfs", "a/../rootfs", "./rootfs",
			     "rootfs/", into,		"/x/../y"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mig_err *e = NULL;
		if (load_with_root(bad[i], &e) != -1)
			fail_msg("root.path '%s' was accepted", bad[i]);
		assert_non_null(strstr(mig_err_msg(e), "root.path"));
		mig_err_free(&e);
	}
	const char *good[] = {"rootfs", "sub/rootfs", "work2", "/srv/shared/rootfs"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct mig_err *e = NULL;
		if (load_with_root(good[i], &e) != 0)
			fail_msg("root.path '%s': %s", good[i], mig_err_msg(e));
	}
}

/* A rootfs that is a link, or an absolute root.path that leads into image through a link
 * outside the bundle: refused, so that clearing image can never empty a rootfs. */
static void test_rootfs_checks(void **state)
{
	(void)state;
	struct bundle_info b;
	struct mig_err *e = NULL;
	char rootfs[256];
	path(rootfs, sizeof(rootfs), bdir, "rootfs");
	rmdir(rootfs);
	link_in_bundle("rootfs", victim);
	load(&b);
	assert_int_equal(bundle_check_rootfs(&b, 0, &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "symbolic link"));
	mig_err_free(&e);
	bundle_free(&b);
	unlink(rootfs);
	/* /tmp/.../sneaky -> BUNDLE/image/inner, given as an absolute root.path */
	char inner[256], sneaky[256];
	path(inner, sizeof(inner), bdir, "image/inner");
	path(sneaky, sizeof(sneaky), tmp, "sneaky");
	load(&b);
	assert_int_equal(bundle_make_dir(&b, "image/inner", &e), 0);
	bundle_free(&b);
	assert_int_equal(symlink(inner, sneaky), 0);
	char cfg[400];
	snprintf(cfg, sizeof(cfg), "{\"root\":{\"path\":\"%s\"}}", sneaky);
	put(bdir, "config.json", cfg);
	load(&b);
	assert_int_equal(bundle_check_rootfs(&b, 0, &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "inside"));
	mig_err_free(&e);
	/* missing rootfs: an error unless allowed */
	put(bdir, "config.json", "{\"root\":{\"path\":\"rootfs\"}}");
	bundle_free(&b);
	load(&b);
	assert_int_equal(bundle_check_rootfs(&b, 0, &e), -1);
	mig_err_free(&e);
	assert_int_equal(bundle_check_rootfs(&b, 1, &e), 0);
	bundle_free(&b);
}

/* Only runc's and CRIU's own leftover mounts are unmounted; another mount below a directory
 * being cleared is left alone and the removal refuses it. */
static void test_leftover_mounts(void **state)
{
	(void)state;
	if (getuid() != 0)
		skip();
	struct bundle_info b;
	load(&b);
	struct mig_err *e = NULL;
	assert_int_equal(bundle_make_dir(&b, "work/.criu.cgyard.abc", &e), 0);
	assert_int_equal(bundle_make_dir(&b, "image/other", &e), 0);
	char yard[256], other[256];
	path(yard, sizeof(yard), bdir, "work/.criu.cgyard.abc");
	path(other, sizeof(other), bdir, "image/other");
	assert_int_equal(mount(victim, yard, NULL, MS_BIND, NULL), 0);
	assert_int_equal(mount(victim, other, NULL, MS_BIND, NULL), 0);
	assert_int_equal(bundle_clear_dir(&b, "work", &e), 0);
	assert_int_equal(bundle_clear_dir(&b, "image", &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "mount point"));
	mig_err_free(&e);
	victim_intact();
	assert_int_equal(umount2(other, 0), 0);
	assert_int_equal(bundle_clear_dir(&b, "image", &e), 0);
	victim_intact();
	bundle_free(&b);
}

/* An overlay whose layers are on different filesystems: its files report the layers'
 * st_dev, not the overlay's; the mount ID tells that they are on the overlay's mount, so
 * they are sized, digested and removed like any others. */
static void test_overlay_mount_id(void **state)
{
	(void)state;
	if (getuid() != 0)
		skip();
	char lower[160], upper[160], wk[192], merged[160], opts[800], p[256];
	path(lower, sizeof(lower), tmp, "lower");
	path(upper, sizeof(upper), tmp, "up");
	mkdir(lower, 0755);
	mkdir(upper, 0755);
	/* the lower layer on the victim's tmpfs, the upper one here (another filesystem) */
	path(p, sizeof(p), victim, "low");
	mkdir(p, 0755);
	put(p, "from-lower", "l");
	assert_int_equal(mount("up", upper, "tmpfs", 0, "size=1m"), 0);
	path(wk, sizeof(wk), upper, "work");
	path(merged, sizeof(merged), tmp, "merged");
	mkdir(wk, 0755);
	char up2[200];
	path(up2, sizeof(up2), upper, "data");
	mkdir(up2, 0755);
	mkdir(merged, 0755);
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", p, up2, wk);
	if (mount("overlay", merged, "overlay", 0, opts) < 0) {
		umount2(upper, MNT_DETACH);
		skip();
	}
	char scratch[256];
	path(scratch, sizeof(scratch), merged, "scratch");
	mkdir(scratch, 0755);
	put(scratch, "stats-dump", "12345");
	struct stat d, f;
	char file[300];
	path(file, sizeof(file), scratch, "stats-dump");
	assert_int_equal(stat(scratch, &d), 0);
	assert_int_equal(stat(file, &f), 0);
	int mfd = open(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(mfd >= 0);
	assert_int_equal(fs_tree_size_at(mfd, "scratch"), 5);
	struct mig_err *e = NULL;
	int r = fs_clear_at(mfd, "scratch", &e);
	if (r < 0)
		fail_msg("%s (st_dev of dir %lx, of file %lx)", mig_err_msg(e),
			 (unsigned long)d.st_dev, (unsigned long)f.st_dev);
	assert_int_equal(access(scratch, F_OK), -1);
	close(mfd);
	umount2(merged, MNT_DETACH);
	umount2(upper, MNT_DETACH);
}

/* The image dir swapped for a link to the victim while files stream in: every file still
 * lands in the directory that was opened, none in the victim, and the swap is noticed. */
static void test_stream_dir_swapped(void **state)
{
	(void)state;
	struct bundle_info b;
	load(&b);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct mig_conn *tx = conn_from_fd(sv[1], "tx"), *rx_c = conn_from_fd(sv[0], "rx");
	struct stream_rx rx;
	stream_rx_init(&rx);
	struct mig_err *e = NULL;
	const char *names[] = {"one.img", "two.img"};
	for (int i = 0; i < 2; i++) {
		cJSON *m = proto_msg("file");
		cJSON_AddStringToObject(m, "name", names[i]);
		cJSON_AddNumberToObject(m, "size", 3);
		assert_int_equal(proto_send(tx, m, &e), 0);
		cJSON_Delete(m);
		assert_int_equal(tx->write_full(tx, "abc", 3, &e), 0);
		cJSON *got = proto_recv(rx_c, 1000, &e);
		assert_non_null(got);
		assert_int_equal(stream_rx_file(&rx, rx_c, got, b.fd, "image", &e), 0);
		cJSON_Delete(got);
		if (i == 0) { /* between the files: image moved away, a link in its place */
			char img[256], moved[256];
			path(img, sizeof(img), bdir, "image");
			path(moved, sizeof(moved), bdir, "moved");
			assert_int_equal(rename(img, moved), 0);
			assert_int_equal(symlink(victim, img), 0);
		}
	}
	char p[256];
	path(p, sizeof(p), victim, "two.img");
	assert_int_equal(access(p, F_OK), -1);
	path(p, sizeof(p), bdir, "moved/two.img");
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(stream_rx_same_dir(&rx, b.fd, "image", &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "replaced"));
	mig_err_free(&e);
	assert_int_equal(bundle_clear_dir(&b, "image", &e), 0);
	victim_intact();
	stream_rx_free(&rx);
	tx->close(tx);
	rx_c->close(rx_c);
	bundle_free(&b);
}

/* The lock file as a link to a victim file: refused, the victim not truncated. */
static void test_lock_link(void **state)
{
	(void)state;
	char p[256];
	path(p, sizeof(p), victim, "precious");
	link_in_bundle(".migrate.lock", p);
	struct bundle_info b;
	load(&b);
	struct mig_err *e = NULL;
	assert_int_equal(bundle_lock(&b, &e), -1);
	mig_err_free(&e);
	char buf[16] = "";
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "keep me");
	bundle_free(&b);
}

/* openat2 fails with ENOSYS from now on, as on a kernel without it. */
static int no_openat2(void)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
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
	    cmocka_unit_test_setup_teardown(test_clear_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_make_dir_refuses_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_link_and_fifo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_path_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rootfs_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leftover_mounts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overlay_mount_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_dir_swapped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock_link, setup, teardown),
	};
	int failed = cmocka_run_group_tests_name("openat2", tests, NULL, NULL);
	/* Once more on the walk kernels before 5.6 (or a seccomp filter that refuses openat2)
	 * get: the same refusals, said the same way. */
	if (no_openat2() < 0) {
		fprintf(stderr, "test_fs: cannot install the seccomp filter: %s\n",
			strerror(errno));
		return 1;
	}
	return failed + cmocka_run_group_tests_name("walk without openat2", tests, NULL, NULL);
}

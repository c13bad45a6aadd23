/* Bundles and the file-system module: nothing is ever deleted through a mount point. */
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "fs.h"
#include "text.h"

static char tmp[64];

static void write_file(const char *dir, const char *name, const char *content)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/test_bundle.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

/* What a test mounted below tmp (the fs module unmounts only runc's and CRIU's own). */
static void unmount_test_mounts(void)
{
	char line[4096], mp[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
		    !strncmp(mp, tmp, strlen(tmp)))
			umount2(mp, MNT_DETACH);
	if (f)
		fclose(f);
}

static int teardown(void **state)
{
	(void)state;
	struct mig_err *err = NULL;
	unmount_test_mounts();
	fs_clear_path(tmp, &err);
	mig_err_free(&err);
	return 0;
}

static int open_tmp(void)
{
	int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static long long tree_size(const char *name)
{
	int fd = open_tmp();
	long long n = fs_tree_size_at(fd, name);
	close(fd);
	return n;
}

static void test_load(void **state)
{
	(void)state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/c1", tmp);
	mkdir(dir, 0755);
	write_file(
	    dir, "config.json",
	    "{\"process\":{\"terminal\":true,\"args\":[\"sh\"]},\"root\":{\"path\":\"rfs\"}}");
	struct bundle_info b;
	struct mig_err *err = NULL;
	assert_int_equal(bundle_load(tmp, "c1", &b, &err), 0);
	assert_int_equal(b.terminal, 1);
	assert_string_equal(b.root_path, "rfs");
	char want[160];
	snprintf(want, sizeof(want), "%s/c1/rfs", tmp);
	assert_string_equal(b.rootfs, want);
	bundle_free(&b);
	write_file(dir, "config.json", "{\"root\":{\"path\":\"/abs/root\"}}");
	assert_int_equal(bundle_load(tmp, "c1", &b, &err), 0);
	assert_int_equal(b.terminal, 0);
	assert_string_equal(b.rootfs, "/abs/root");
	bundle_free(&b);
	write_file(dir, "config.json", "[not an object");
	assert_int_equal(bundle_load(tmp, "c1", &b, &err), -1);
	assert_non_null(strstr(mig_err_msg(err), "not a JSON object"));
	mig_err_free(&err);
	assert_int_equal(bundle_load(tmp, "nope", &b, &err), -1);
	assert_non_null(strstr(mig_err_msg(err), "no bundle directory"));
	mig_err_free(&err);
}

static void test_tree_size_and_remove(void **state)
{
	(void)state;
	char dir[128], sub[160];
	snprintf(dir, sizeof(dir), "%s/tree", tmp);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	struct mig_err *err = NULL;
	assert_int_equal(fs_mkdir_p(sub, 0700, &err), 0);
	write_file(dir, "x", "12345");
	write_file(sub, "y", "1234567890");
	char link[200];
	snprintf(link, sizeof(link), "%s/l", dir);
	assert_int_equal(symlink("/etc/passwd", link), 0);
	assert_int_equal(tree_size("tree"), 15);
	assert_int_equal(fs_clear_path(dir, &err), 0);
	assert_false(fs_exists(dir));
	assert_true(fs_exists("/etc/passwd"));	       /* the link's target survives */
	assert_int_equal(fs_clear_path(dir, &err), 0); /* missing: not an error */
	assert_int_equal(tree_size("tree"), 0);
}

/* The rootfs hazard (docs/notes-platform.md): a bind mount of a rootfs inside a dir being removed.
 */
static void test_remove_refuses_mount_point(void **state)
{
	(void)state;
	char precious[128], victim[128], mnt[160], left[160];
	snprintf(precious, sizeof(precious), "%s/precious", tmp);
	snprintf(victim, sizeof(victim), "%s/state", tmp);
	snprintf(mnt, sizeof(mnt), "%s/bound", victim);
	snprintf(left, sizeof(left), "%s/criu-root", victim);
	struct mig_err *err = NULL;
	assert_int_equal(fs_mkdir_p(precious, 0755, &err), 0);
	assert_int_equal(fs_mkdir_p(mnt, 0755, &err), 0);
	assert_int_equal(fs_mkdir_p(left, 0755, &err), 0);
	write_file(precious, "data", "keep me");
	if (mount(precious, mnt, NULL, MS_BIND, NULL) < 0)
		skip(); /* not root: cannot build the hazard */
	/* A mount that is not runc's or CRIU's: not unmounted, and the removal refuses it. */
	assert_int_equal(fs_clear_path(victim, &err), -1);
	assert_non_null(strstr(mig_err_msg(err), "mount point"));
	mig_err_free(&err);
	char data[200];
	snprintf(data, sizeof(data), "%s/data", precious);
	assert_true(fs_exists(data));
	assert_int_equal(umount2(mnt, 0), 0);
	/* runc's leftover bind of the rootfs: unmounted first, then the tree goes. */
	assert_int_equal(mount(precious, left, NULL, MS_BIND, NULL), 0);
	assert_int_equal(fs_clear_path(victim, &err), 0);
	assert_false(fs_exists(victim));
	assert_true(fs_exists(data));
}

static void digest_of(const char *dir, unsigned char out[32])
{
	struct mig_err *e = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fs_tree_digest(fd, out, &e), 0);
	close(fd);
}

/* The digest that lets the final rootfs pass be skipped: equal when nothing changed (or
 * only a directory's times, as runc's checkpoint does to /tmp), different for any change to
 * an entry. */
static void test_tree_digest(void **state)
{
	(void)state;
	char root[128], sub[160], path[200];
	snprintf(root, sizeof(root), "%s/rootfs", tmp);
	snprintf(sub, sizeof(sub), "%s/tmp", root);
	mkdir(root, 0755);
	mkdir(sub, 01777);
	write_file(root, "a", "one");
	unsigned char d0[32], d1[32];
	digest_of(root, d0);
	digest_of(root, d1);
	assert_memory_equal(d0, d1, 32);
	/* a directory made and removed again in tmp: same */
	snprintf(path, sizeof(path), "%s/x", sub);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(rmdir(path), 0);
	digest_of(root, d1);
	assert_memory_equal(d0, d1, 32);
	/* a new file */
	write_file(sub, "new", "");
	digest_of(root, d1);
	assert_memory_not_equal(d0, d1, 32);
	snprintf(path, sizeof(path), "%s/new", sub);
	unlink(path);
	digest_of(root, d1);
	assert_memory_equal(d0, d1, 32);
	/* a content change (same size) */
	usleep(10000);
	write_file(root, "a", "two");
	digest_of(root, d1);
	assert_memory_not_equal(d0, d1, 32);
	digest_of(root, d0);
	/* a mode change */
	snprintf(path, sizeof(path), "%s/a", root);
	assert_int_equal(chmod(path, 0600), 0);
	digest_of(root, d1);
	assert_memory_not_equal(d0, d1, 32);
	struct mig_err *e = NULL;
	assert_int_equal(fs_tree_digest(-1, d1, &e), -1);
	mig_err_free(&e);
}

/* What fs_tail did before the file-system module: the last lines, on one line. */
static char *fs_tail(const char *path, size_t max)
{
	char *raw = fs_read_tail(path, max);
	char *line = raw ? text_one_line(raw, 0) : NULL;
	free(raw);
	return line;
}

static void test_tail(void **state)
{
	(void)state;
	write_file(tmp, "log", "line one\nline two\nError: the cause\n");
	char p[128];
	snprintf(p, sizeof(p), "%s/log", tmp);
	char *t = fs_tail(p, 4096);
	assert_string_equal(t, "line one | line two | Error: the cause");
	free(t);
	t = fs_tail(p, 20); /* partial first line dropped */
	assert_string_equal(t, "Error: the cause");
	free(t);
	assert_null(fs_tail("/nonexistent/log", 100));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tree_size_and_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_refuses_mount_point, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tree_digest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The image stream (src/common/stream.c): a directory sent through a socketpair arrives whole;
 * names, links, sizes and digests that are not right are refused; a write error on the
 * receiving side keeps the stream in step and becomes the restore's error. */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"
#include "stream.h"

static char tmp[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/test_stream.XXXXXX");
	assert_non_null(mkdtemp(tmp));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	const char *argv[] = {"rm", "-rf", "--one-file-system", tmp, NULL};
	pid_t p = fork();
	if (p == 0) {
		execvp("rm", (char *const *)argv);
		_exit(127);
	}
	waitpid(p, NULL, 0);
	return 0;
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Sends dir from a child process (the stream may exceed the socket buffer); returns the
 * receiving end, and in *sum_fd a pipe the child writes its summary to when done. */
static struct mig_conn *send_in_child(const char *dir, int level, int *sum_fd, pid_t *pid)
{
	int sv[2], pp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe(pp), 0);
	*pid = fork();
	if (*pid == 0) {
		close(sv[0]);
		close(pp[0]);
		struct mig_conn *c = conn_from_fd(sv[1], "tx");
		struct stream_tx tx = {.c = c, .zstd_level = level};
		struct stream_sum s;
		struct mig_err *e = NULL;
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int r = dfd < 0 ? -1 : stream_send_dir(&tx, dfd, &s, &e);
		(void)!write(pp[1], &s, sizeof(s));
		c->close(c);
		_exit(r == 0 ? 0 : 1);
	}
	close(sv[1]);
	close(pp[1]);
	*sum_fd = pp[0];
	return conn_from_fd(sv[0], "rx");
}

/* stream_rx_file into the directory dir: its parent stands for the bundle. */
static int rx_file(struct stream_rx *rx, struct mig_conn *c, const cJSON *msg, const char *dir,
		   struct mig_err **err)
{
	char parent[256];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/'), base[128];
	*slash = '\0';
	snprintf(base, sizeof(base), "%s", slash + 1);
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 && errno == ENOENT) {
		/* A parent that does not exist: a directory removed after it was opened, in
		 * which nothing can be made (ENOENT). */
		snprintf(parent, sizeof(parent), "%s/gone", tmp);
		assert_int_equal(mkdir(parent, 0700), 0);
		pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_int_equal(rmdir(parent), 0);
	}
	assert_true(pfd >= 0);
	int r = stream_rx_file(rx, c, msg, pfd, base, err);
	close(pfd);
	return r;
}

static void read_summary(int fd, struct stream_sum *sum)
{
	assert_int_equal(read(fd, sum, sizeof(*sum)), (ssize_t)sizeof(*sum));
	close(fd);
}

/* Receives what the child sends: "file" messages until the connection closes. */
static int receive_all(struct mig_conn *c, struct stream_rx *rx, const char *dir,
		       struct mig_err **err)
{
	for (;;) {
		struct mig_err *e = NULL;
		cJSON *msg = proto_recv(c, 5000, &e);
		if (!msg) {
			int closed = mig_err_status(e) == MIG_CLOSED;
			mig_err_free(&e);
			return closed ? 0 : -1;
		}
		int r = rx_file(rx, c, msg, dir, err);
		cJSON_Delete(msg);
		if (r < 0)
			return -1;
	}
}

static cJSON *restore_req(const struct stream_sum *sum)
{
	cJSON *req = proto_msg("restore");
	stream_sum_to_json(sum, req);
	return req;
}

static void roundtrip(int level)
{
	char src[128], dst[128];
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(dst, sizeof(dst), "%s/dst", tmp);
	mkdir(src, 0700);
	mkdir(dst, 0700);
	/* 2.5 MiB: several compressed blocks, the last one short */
	size_t bigsz = (5u << 20) / 2;
	char *big = malloc(bigsz);
	for (size_t i = 0; i < bigsz; i++)
		big[i] = (char)(i % 4096 < 2048 ? 0 : (i * 7) ^ (i >> 9));
	write_file(src, "pages-1.img", big, bigsz);
	write_file(src, "inventory.img", "inv", 3);
	write_file(src, "empty.img", "", 0);
	char link[160];
	snprintf(link, sizeof(link), "%s/parent", src);
	assert_int_equal(symlink("../parent/2", link), 0);
	struct stream_sum sum;
	pid_t pid;
	int sum_fd;
	struct mig_conn *c = send_in_child(src, level, &sum_fd, &pid);
	struct stream_rx rx;
	stream_rx_init(&rx);
	struct mig_err *e = NULL;
	char image[160];
	snprintf(image, sizeof(image), "%s/image", dst);
	assert_int_equal(receive_all(c, &rx, image, &e), 0);
	int st;
	waitpid(pid, &st, 0);
	assert_int_equal(WEXITSTATUS(st), 0);
	read_summary(sum_fd, &sum);
	assert_int_equal(sum.files, 4);
	assert_int_equal(sum.bytes, (long long)bigsz + 3);
	cJSON *req = restore_req(&sum);
	assert_int_equal(stream_rx_verify(&rx, req, &e), 0);
	cJSON_Delete(req);
	char path[200], target[64] = "";
	snprintf(path, sizeof(path), "%s/parent", image);
	assert_int_equal(readlink(path, target, sizeof(target) - 1), 11);
	assert_string_equal(target, "../parent/2");
	snprintf(path, sizeof(path), "%s/pages-1.img", image);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, (off_t)bigsz);
	/* the same bytes */
	FILE *f = fopen(path, "rb");
	char *back = malloc(bigsz);
	assert_int_equal(fread(back, 1, bigsz, f), bigsz);
	fclose(f);
	assert_memory_equal(back, big, bigsz);
	free(back);
	assert_int_equal(sb.st_mode & 0777, 0600);
	stream_rx_free(&rx);
	c->close(c);
	free(big);
}

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip(0);
}

static void test_roundtrip_zstd(void **state)
{
	(void)state;
	roundtrip(1);
}

/* A frame of a hand-made "file" message, then its bytes, into a socketpair. */
static struct mig_conn *feed(const char *json, const char *bytes, size_t n)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct mig_conn *tx = conn_from_fd(sv[1], "tx");
	cJSON *msg = cJSON_Parse(json);
	struct mig_err *e = NULL;
	assert_int_equal(proto_send(tx, msg, &e), 0);
	cJSON_Delete(msg);
	if (n)
		assert_int_equal(tx->write_full(tx, bytes, n, &e), 0);
	tx->close(tx);
	return conn_from_fd(sv[0], "rx");
}

static int rx_one(const char *json, const char *bytes, size_t n, struct stream_rx *rx,
		  const char *dir, struct mig_err **e)
{
	struct mig_conn *c = feed(json, bytes, n);
	struct mig_err *e2 = NULL;
	cJSON *msg = proto_recv(c, 1000, &e2);
	assert_non_null(msg);
	int r = rx_file(rx, c, msg, dir, e);
	cJSON_Delete(msg);
	c->close(c);
	return r;
}

static void test_refusals(void **state)
{
	(void)state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/image", tmp);
	const char *bad[] = {
	    "{\"v\":2,\"type\":\"file\",\"name\":\"../x\",\"size\":1}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"a/b\",\"size\":1}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\".hidden\",\"size\":1}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"x\",\"size\":-1}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"x\",\"size\":1.5}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"x\",\"size\":1e15}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"x\",\"size\":1e300}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"x\",\"size\":1,\"mode\":1e300}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"x\",\"size\":1,\"mode\":-1}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"x\",\"size\":\"NaN\"}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"x\"}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"parent\",\"link\":\"/etc\"}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"parent\",\"link\":\"../parent/1/../../../x\"}",
	    "{\"v\":2,\"type\":\"file\",\"name\":\"other\",\"link\":\"../parent/1\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct stream_rx rx;
		stream_rx_init(&rx);
		struct mig_err *e = NULL;
		if (rx_one(bad[i], "z", 1, &rx, dir, &e) != -1)
			fail_msg("accepted: %s", bad[i]);
		mig_err_free(&e);
		stream_rx_free(&rx);
	}
	struct stat sb;
	char path[200];
	snprintf(path, sizeof(path), "%s/x", dir);
	assert_int_equal(stat(path, &sb), -1); /* nothing written */
}

/* Bytes that differ from what the restore request's digest says: refused. */
static void test_tampered(void **state)
{
	(void)state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/image", tmp);
	struct stream_rx rx;
	stream_rx_init(&rx);
	struct mig_err *e = NULL;
	assert_int_equal(rx_one("{\"v\":2,\"type\":\"file\",\"name\":\"a.img\",\"size\":3}", "abd",
				3, &rx, dir, &e),
			 0);
	/* the digest of "abc" */
	struct stream_sum sum = {.files = 1, .bytes = 3};
	snprintf(sum.sha256, sizeof(sum.sha256), "%s",
		 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	cJSON *req = restore_req(&sum);
	assert_int_equal(stream_rx_verify(&rx, req, &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "did not arrive intact"));
	mig_err_free(&e);
	cJSON_Delete(req);
	stream_rx_free(&rx);
}

/* The image dir cannot be written: the bytes are still read (the next message is found),
 * and the restore gets the write error. */
static void test_write_error_keeps_step(void **state)
{
	(void)state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/no/such/dir", tmp);
	struct stream_rx rx;
	stream_rx_init(&rx);
	struct mig_err *e = NULL;
	assert_int_equal(rx_one("{\"v\":2,\"type\":\"file\",\"name\":\"a.img\",\"size\":3}", "abc",
				3, &rx, dir, &e),
			 0);
	assert_int_equal(rx.sum.bytes, 3);
	struct stream_sum sum = {.files = 1, .bytes = 3};
	snprintf(sum.sha256, sizeof(sum.sha256), "%s",
		 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	cJSON *req = restore_req(&sum);
	assert_int_equal(stream_rx_verify(&rx, req, &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "receiving the image"));
	assert_non_null(strstr(mig_err_msg(e), "No such file or directory"));
	mig_err_free(&e);
	cJSON_Delete(req);
	stream_rx_free(&rx);
}

/* Compressed blocks: lengths out of range end the stream; a block that does not
 * decompress is kept as the restore's error while the stream stays in step. */
static void test_bad_blocks(void **state)
{
	(void)state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/image", tmp);
	const char *hdr =
	    "{\"v\":2,\"type\":\"file\",\"name\":\"a.img\",\"size\":3,\"enc\":\"zstd\"}";
	struct stream_rx rx;
	stream_rx_init(&rx);
	struct mig_err *e = NULL;
	/* raw_len 2 MiB: over the block size */
	assert_int_equal(rx_one(hdr, "\x00\x20\x00\x00\x00\x00\x00\x05xxxxx", 13, &rx, dir, &e),
			 -1);
	assert_non_null(strstr(mig_err_msg(e), "bad block"));
	mig_err_free(&e);
	stream_rx_free(&rx);
	/* a 3-byte block of garbage, then the end: read through, remembered */
	struct stream_rx rx2;
	stream_rx_init(&rx2);
	hdr = "{\"v\":2,\"type\":\"file\",\"name\":\"c.img\",\"size\":3,\"enc\":\"zstd\"}";
	assert_int_equal(
	    rx_one(hdr, "\x00\x00\x00\x03\x00\x00\x00\x04junk\x00\x00\x00\x00\x00\x00\x00\x00", 20,
		   &rx2, dir, &e),
	    0);
	assert_non_null(rx2.failed);
	assert_non_null(strstr(mig_err_msg(rx2.failed), "does not decompress"));
	stream_rx_free(&rx2);
	/* an unknown encoding */
	struct stream_rx rx3;
	stream_rx_init(&rx3);
	assert_int_equal(
	    rx_one("{\"v\":2,\"type\":\"file\",\"name\":\"b.img\",\"size\":1,\"enc\":\"rot13\"}",
		   "x", 1, &rx3, dir, &e),
	    -1);
	assert_non_null(strstr(mig_err_msg(e), "unknown encoding"));
	mig_err_free(&e);
	stream_rx_free(&rx3);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(stream_valid_name("pages-1.img"));
	assert_true(stream_valid_name("tmpfs-dev-41.tar.gz.img"));
	assert_false(stream_valid_name(""));
	assert_false(stream_valid_name(".."));
	assert_false(stream_valid_name("a b"));
	assert_false(stream_valid_name("-x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_zstd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_blocks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_error_keeps_step, setup, teardown),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

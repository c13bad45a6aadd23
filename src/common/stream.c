#include "stream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "fs.h"
#include "proc.h"
#include "proto.h"
#include "text.h"
#include "timeouts.h"

#define CHUNK		  (256 * 1024)
#define MAX_FILE_BYTES	  (1LL << 40) /* 1 TiB: more than any checkpoint file */
#define MAX_FILES	  100000
#define PROGRESS_EVERY_MS 250
/* Compressed files go as blocks of at most BLOCK raw bytes, each [raw_len][comp_len] (u32,
 * big-endian) and comp_len bytes of one zstd frame; a block with raw_len 0 ends the file.
 * Independent blocks keep both sides' memory bounded and the stream in step after a bad
 * block. */
#define BLOCK (1024 * 1024)
#define WBUF  (64 * 1024)

int stream_valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255 ||
	    !strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", name[0]))
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
	       n;
}

/* "../parent/N": the only symlink an image dir has (pre-copy's last round). */
static int valid_link(const char *name, const char *target)
{
	if (strcmp(name, "parent") || strncmp(target, "../parent/", 10))
		return 0;
	const char *d = target + 10;
	size_t n = strspn(d, "0123456789");
	return n > 0 && n <= 4 && d[n] == '\0';
}

static EVP_MD_CTX *sha_new(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	return ctx;
}

static void sha_done(EVP_MD_CTX *ctx, char out[STREAM_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	if (EVP_DigestFinal_ex(ctx, md, &len) != 1)
		abort();
	text_hex(md, len < 32 ? len : 32, out);
}

/* ---- sending ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entry names of dir, sorted; *n set. */
static char **list_dir(int dfd, size_t *n, struct mig_err **err)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		mig_err_set(err, errno, "stream: read the image dir");
		return NULL;
	}
	size_t cap = 64;
	char **names = mig_xcalloc(cap, sizeof(char *));
	*n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n == cap)
			names = mig_xrealloc(names, (cap *= 2) * sizeof(char *));
		names[(*n)++] = mig_xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, *n, sizeof(char *), cmp_names);
	return names;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void show_progress(long long sent, long long total, long long t0, int done)
{
	long long ms = proc_now_ms() - t0;
	double rate = ms > 0 ? (double)sent / 1048576.0 / ((double)ms / 1000.0) : 0;
	fprintf(stderr, "\r\033[Ktransfer: %lld bytes  %3lld%%  %.2f MiB/s", sent,
		total > 0 ? sent * 100 / total : 100, rate);
	if (done)
		fputs("\r\033[K", stderr);
}

/* What one stream_send_dir() carries from file to file. */
struct tx_state {
	const struct stream_tx *tx;
	EVP_MD_CTX *sha;
	struct stream_sum *sum;
	unsigned char *raw, *out;  /* BLOCK bytes read; a compressed block with its header */
	size_t bound;		   /* ZSTD_compressBound(BLOCK) */
	long long total, t0, last; /* for the progress line */
	unsigned char *wbuf;	   /* small writes gathered: fewer packets on a slow link */
	size_t wlen;
};

static int tx_flush(struct tx_state *ts, struct mig_err **err)
{
	int r = ts->wlen ? ts->tx->c->write_full(ts->tx->c, ts->wbuf, ts->wlen, err) : 0;
	ts->wlen = 0;
	return r;
}

static int tx_put(struct tx_state *ts, const void *data, size_t n, struct mig_err **err)
{
	if (ts->wlen + n > WBUF && tx_flush(ts, err) < 0)
		return -1;
	if (n >= WBUF)
		return ts->tx->c->write_full(ts->tx->c, data, n, err);
	memcpy(ts->wbuf + ts->wlen, data, n);
	ts->wlen += n;
	return 0;
}

static int send_header(struct tx_state *ts, cJSON *msg, struct mig_err **err)
{
	if (ts->tx->sign)
		ts->tx->sign(ts->tx->sign_ctx, msg);
	size_t len = 0;
	uint8_t *frame = proto_encode(msg, &len, err);
	cJSON_Delete(msg);
	if (!frame)
		return -1;
	int r = tx_put(ts, frame, len, err);
	free(frame);
	return r;
}

/* Reads up to want bytes of the file (all of them unless it shrank: an error). */
static int read_piece(int fd, unsigned char *buf, size_t want, const char *name,
		      struct mig_err **err)
{
	size_t got = 0;
	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n <= 0)
			return mig_err_set(err, n < 0 ? errno : 0, "stream: read %s%s", name,
					   n == 0 ? ": shorter than it was" : "");
		got += (size_t)n;
	}
	return 0;
}

/* One piece of a file: as it is, or as a zstd block (see BLOCK); len 0 ends a compressed
 * file. */
static int send_piece(struct tx_state *ts, size_t len, struct mig_err **err)
{
	const struct stream_tx *tx = ts->tx;
	if (len)
		EVP_DigestUpdate(ts->sha, ts->raw, len);
	ts->sum->bytes += (long long)len;
	if (tx->zstd_level <= 0) {
		ts->sum->wire += (long long)len;
		return tx_put(ts, ts->raw, len, err);
	}
	size_t comp = 0;
	if (len) {
		comp = ZSTD_compress(ts->out + 8, ts->bound, ts->raw, len, tx->zstd_level);
		if (ZSTD_isError(comp))
			return mig_err_set(err, 0, "stream: zstd: %s", ZSTD_getErrorName(comp));
	}
	be32_put(ts->out, (uint32_t)len);
	be32_put(ts->out + 4, (uint32_t)comp);
	ts->sum->wire += (long long)(8 + comp);
	return tx_put(ts, ts->out, 8 + comp, err);
}

static int send_file(struct tx_state *ts, int dfd, const char *name, const struct stat *st,
		     struct mig_err **err)
{
	const struct stream_tx *tx = ts->tx;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return mig_err_set(err, errno, "stream: open %s", name);
	cJSON *msg = proto_msg("file");
	cJSON_AddStringToObject(msg, "name", name);
	cJSON_AddNumberToObject(msg, "size", (double)st->st_size);
	cJSON_AddNumberToObject(msg, "mode", st->st_mode & 0777);
	if (tx->zstd_level > 0)
		cJSON_AddStringToObject(msg, "enc", "zstd");
	int r = send_header(ts, msg, err);
	long long left = st->st_size;
	while (r == 0 && left > 0) {
		size_t len = left < BLOCK ? (size_t)left : BLOCK;
		r = read_piece(fd, ts->raw, len, name, err);
		if (r == 0)
			r = send_piece(ts, len, err);
		left -= (long long)len;
		if (tx->progress && proc_now_ms() - ts->last >= PROGRESS_EVERY_MS) {
			show_progress(ts->sum->bytes, ts->total, ts->t0, 0);
			ts->last = proc_now_ms();
		}
	}
	if (r == 0 && tx->zstd_level > 0)
		r = send_piece(ts, 0, err);
	close(fd);
	return r;
}

static int send_entry(struct tx_state *ts, int dfd, const char *name, struct mig_err **err)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return mig_err_set(err, errno, "stream: stat %s", name);
	if (!stream_valid_name(name))
		return mig_err_set(err, 0, "stream: image file name '%s' is not plain", name);
	if (S_ISREG(st.st_mode))
		return send_file(ts, dfd, name, &st, err);
	char target[64] = "";
	ssize_t n = S_ISLNK(st.st_mode) ? readlinkat(dfd, name, target, sizeof(target) - 1) : -1;
	if (n > 0)
		target[n] = '\0';
	if (n <= 0 || !valid_link(name, target))
		return mig_err_set(err, 0,
				   "stream: %s in the image dir is neither a file nor the parent "
				   "link; use --transfer rsync",
				   name);
	cJSON *msg = proto_msg("file");
	cJSON_AddStringToObject(msg, "name", name);
	cJSON_AddStringToObject(msg, "link", target);
	return send_header(ts, msg, err);
}

/* Total bytes of the regular files, for the progress line. */
static long long total_bytes(int dfd, char **names, size_t n)
{
	long long t = 0;
	struct stat st;
	for (size_t i = 0; i < n; i++)
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			t += st.st_size;
	return t;
}

int stream_send_dir(const struct stream_tx *tx, int dfd, struct stream_sum *sum,
		    struct mig_err **err)
{
	memset(sum, 0, sizeof(*sum));
	size_t n = 0;
	char **names = list_dir(dfd, &n, err);
	if (!names)
		return -1;
	struct tx_state ts = {.tx = tx,
			      .sha = sha_new(),
			      .sum = sum,
			      .raw = mig_xmalloc(BLOCK),
			      .bound = ZSTD_compressBound(BLOCK),
			      .t0 = proc_now_ms()};
	ts.out = mig_xmalloc(8 + ts.bound);
	ts.last = ts.t0;
	ts.total = tx->progress ? total_bytes(dfd, names, n) : 0;
	int r = 0;
	ts.wbuf = mig_xmalloc(WBUF);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = send_entry(&ts, dfd, names[i], err);
	if (r == 0)
		r = tx_flush(&ts, err);
	free(ts.wbuf);
	if (tx->progress)
		show_progress(sum->bytes, ts.total, ts.t0, 1);
	sum->files = (long long)n;
	sha_done(ts.sha, sum->sha256);
	EVP_MD_CTX_free(ts.sha);
	free(ts.raw);
	free(ts.out);
	free_names(names, n);
	return r;
}

void stream_sum_to_json(const struct stream_sum *sum, cJSON *req)
{
	cJSON *s = cJSON_AddObjectToObject(req, "stream");
	cJSON_AddNumberToObject(s, "files", (double)sum->files);
	cJSON_AddNumberToObject(s, "bytes", (double)sum->bytes);
	cJSON_AddStringToObject(s, "sha256", sum->sha256);
}

/* ---- receiving ---- */

/* Writes n raw bytes to *fd (which becomes -1 after a write error, kept in rx->failed). */
static void rx_write(struct stream_rx *rx, int *fd, const unsigned char *buf, size_t n,
		     const char *name)
{
	size_t off = 0;
	while (*fd >= 0 && off < n) {
		ssize_t w = write(*fd, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			mig_err_set(&rx->failed, errno, "writing %s", name);
			*fd = -1;
			return;
		}
		off += (size_t)w;
	}
}

/* Reads n bytes from c into fd (or nowhere when fd < 0), hashing them. */
static int rx_bytes(struct stream_rx *rx, struct mig_conn *c, int fd, long long n, const char *name,
		    struct mig_err **err)
{
	char *buf = mig_xmalloc(CHUNK);
	int r = 0;
	while (r == 0 && n > 0) {
		size_t k = n < CHUNK ? (size_t)n : CHUNK;
		r = c->read_full(c, buf, k, STREAM_STALL_MS, err);
		if (r < 0)
			break;
		EVP_DigestUpdate(rx->sha, buf, k);
		rx->sum.bytes += (long long)k;
		n -= (long long)k;
		rx_write(rx, &fd, (unsigned char *)buf, k, name);
	}
	free(buf);
	return r;
}

/* A compressed file's blocks; their raw lengths must add up to size.  A block that does not
 * decompress is kept as rx->failed (the lengths keep the stream in step); lengths out of
 * range are a violation. */
static int rx_blocks(struct stream_rx *rx, struct mig_conn *c, int fd, long long size,
		     const char *name, struct mig_err **err)
{
	size_t bound = ZSTD_compressBound(BLOCK);
	unsigned char *comp = mig_xmalloc(bound), *raw = mig_xmalloc(BLOCK), hdr[8];
	long long total = 0;
	int r = 0;
	for (;;) {
		if ((r = c->read_full(c, hdr, 8, STREAM_STALL_MS, err)) < 0)
			break;
		uint32_t rl = be32_get(hdr), cl = be32_get(hdr + 4);
		if (rl == 0 && cl == 0)
			break;
		if (rl == 0 || rl > BLOCK || cl == 0 || cl > bound || total + rl > size) {
			r = mig_err_set(err, 0, "stream: bad block in %s", name);
			break;
		}
		if ((r = c->read_full(c, comp, cl, STREAM_STALL_MS, err)) < 0)
			break;
		size_t got = ZSTD_decompress(raw, BLOCK, comp, cl);
		if (ZSTD_isError(got) || got != rl) {
			if (!rx->failed)
				mig_err_set(&rx->failed, 0, "%s: a block does not decompress",
					    name);
			memset(raw, 0, rl);
			fd = -1;
		}
		EVP_DigestUpdate(rx->sha, raw, rl);
		rx->sum.bytes += rl;
		total += rl;
		rx_write(rx, &fd, raw, rl, name);
	}
	if (r == 0 && total != size)
		r = mig_err_set(err, 0, "stream: %s ended after %lld of %lld bytes", name, total,
				size);
	free(comp);
	free(raw);
	return r;
}

static int rx_link(struct stream_rx *rx, const char *name, const char *target, struct mig_err **err)
{
	if (!valid_link(name, target))
		return mig_err_set(err, 0, "stream: link %s -> %.40s refused", name, target);
	if (!rx->failed && symlinkat(target, rx->dir_fd, name) < 0)
		mig_err_set(&rx->failed, errno, "stream: link %s", name);
	return 0;
}

/* The image dir, made and opened once, at the first file: every file is created from this
 * descriptor, so a directory swapped for a link meanwhile redirects nothing. */
static void rx_open_dir(struct stream_rx *rx, int bundle_fd, const char *sub)
{
	rx->sha = sha_new();
	struct mig_err *e = NULL;
	if (fs_mkdir_at(bundle_fd, sub, 0700, &e) < 0 ||
	    (rx->dir_fd = fs_open_at(bundle_fd, sub, O_RDONLY | O_DIRECTORY, 0, &e)) < 0) {
		mig_err_wrap(&e, "stream");
		rx->failed = e;
		rx->dir_fd = -1;
	}
}

int stream_rx_same_dir(const struct stream_rx *rx, int bundle_fd, const char *sub,
		       struct mig_err **err)
{
	if (rx->dir_fd < 0)
		return 0;
	struct stat a, b;
	if (fstat(rx->dir_fd, &a) < 0 || fstatat(bundle_fd, sub, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return mig_err_set(err, 0,
				   "the image dir %s was replaced while the image arrived: "
				   "refusing to restore from it",
				   sub);
	return 0;
}

int stream_rx_file(struct stream_rx *rx, struct mig_conn *c, const cJSON *msg, int bundle_fd,
		   const char *sub, struct mig_err **err)
{
	const char *name = proto_get_str(msg, "name", 1, err);
	if (!name)
		return -1;
	if (!stream_valid_name(name))
		return mig_err_set(err, 0, "stream: bad file name");
	if (rx->sum.files >= MAX_FILES)
		return mig_err_set(err, 0, "stream: more than %d files", MAX_FILES);
	if (!rx->sha)
		rx_open_dir(rx, bundle_fd, sub);
	rx->sum.files++;
	const char *link = proto_get_str(msg, "link", 0, NULL);
	if (link)
		return rx_link(rx, name, link, err);
	long long size = -1, mode = 0600;
	if (proto_get_count(msg, "size", MAX_FILE_BYTES, &size, 1, err) < 0)
		return mig_err_wrap(err, "stream: bad size for %s", name);
	if (cJSON_GetObjectItemCaseSensitive(msg, "mode") &&
	    proto_get_count(msg, "mode", 07777, &mode, 1, err) < 0)
		return mig_err_wrap(err, "stream: bad mode for %s", name);
	int fd = -1;
	if (!rx->failed) {
		fd = openat(rx->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0)
			mig_err_set(&rx->failed, errno, "stream: create %s/%s", sub, name);
	}
	const char *enc = proto_get_str(msg, "enc", 0, NULL);
	if (enc && strcmp(enc, "zstd")) {
		if (fd >= 0)
			close(fd);
		return mig_err_set(err, 0, "stream: unknown encoding '%.20s'", enc);
	}
	int r = enc ? rx_blocks(rx, c, fd, size, name, err) : rx_bytes(rx, c, fd, size, name, err);
	if (fd >= 0) {
		/* CRIU reads its images as root: owner-only modes are enough. */
		fchmod(fd, (mode_t)(mode & 0700));
		if (close(fd) < 0 && !rx->failed)
			mig_err_set(&rx->failed, errno, "stream: close %s", name);
	}
	return r;
}

int stream_rx_verify(struct stream_rx *rx, const cJSON *req, struct mig_err **err)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(req, "stream");
	long long files = -1, bytes = -1;
	const char *sha = proto_get_str(s, "sha256", 1, err);
	if (!sha || proto_get_count(s, "files", PROTO_MAX_COUNT, &files, 1, err) < 0 ||
	    proto_get_count(s, "bytes", PROTO_MAX_COUNT, &bytes, 1, err) < 0)
		return mig_err_wrap(err, "stream");
	if (rx->failed) {
		*err = rx->failed;
		rx->failed = NULL;
		return mig_err_wrap(err, "receiving the image");
	}
	char got[STREAM_HEX] = "";
	if (rx->sha) {
		sha_done(rx->sha, got);
		EVP_MD_CTX_free(rx->sha);
		rx->sha = NULL;
	} else {
		EVP_MD_CTX *empty = sha_new();
		sha_done(empty, got);
		EVP_MD_CTX_free(empty);
	}
	if (files != rx->sum.files || bytes != rx->sum.bytes || strcmp(sha, got))
		return mig_err_set(err, 0,
				   "the image did not arrive intact (%lld files, %lld bytes "
				   "received; the source sent %lld, %lld)",
				   rx->sum.files, rx->sum.bytes, files, bytes);
	return 0;
}

void stream_rx_init(struct stream_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	rx->dir_fd = -1;
}

void stream_rx_free(struct stream_rx *rx)
{
	if (rx->sha)
		EVP_MD_CTX_free(rx->sha);
	rx->sha = NULL;
	if (rx->dir_fd >= 0)
		close(rx->dir_fd);
	rx->dir_fd = -1;
	mig_err_free(&rx->failed);
}

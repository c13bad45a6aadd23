/* The checkpoint image sent through the control channel itself.
 *
 * rsync costs several round trips per run (session, exec, version, file list, checksums,
 * goodbye): most of a second at 80 ms.  The image is a flat directory that does not exist on
 * the destination yet, so nothing is to be compared: the source writes each file as a signed
 * {"type":"file","name","size","mode"} message (or "link" for pre-copy's "parent" symlink)
 * followed by its bytes, without waiting for replies, then the restore request carries the
 * count, the byte total and a SHA-256 of all the bytes, so its HMAC authenticates the data
 * too.  Data and restore arrive one round trip after the dump: the physical floor.
 *
 * Names are plain file names ([A-Za-z0-9][A-Za-z0-9_.-]*, at most 255); the only link is
 * "parent" -> "../parent/N".  The receiver creates files with O_EXCL|O_NOFOLLOW, 0600, from
 * a descriptor of the image dir the check emptied, and keeps reading (and discarding) after
 * a write error so that the stream stays in step; the error is the restore's answer. */
#ifndef MIG_STREAM_H
#define MIG_STREAM_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "conn.h"
#include "err.h"

#define STREAM_HEX 65 /* SHA-256 in hex, NUL-terminated */

struct stream_sum {
	long long files;
	long long bytes; /* of the files' contents */
	long long wire;	 /* sent for them, compressed blocks and block headers included
			  * (source side; the messages' JSON not counted) */
	char sha256[STREAM_HEX];
};

/* Signs a message before it is sent (the control session's HMAC), or NULL. */
typedef void (*stream_sign_fn)(void *ctx, cJSON *msg);

struct stream_tx {
	struct mig_conn *c;
	stream_sign_fn sign;
	void *sign_ctx;
	int progress;	/* a progress line on stderr */
	int zstd_level; /* > 0: files go as zstd blocks ("enc": "zstd") */
};

/* Sends every entry of the directory dirfd (sorted by name) and fills sum. */
int stream_send_dir(const struct stream_tx *tx, int dirfd, struct stream_sum *sum,
		    struct mig_err **err);

/* Puts sum into req as "stream": {"files", "bytes", "sha256"}. */
void stream_sum_to_json(const struct stream_sum *sum, cJSON *req);

/* The receiving side, one per connection. */
struct stream_rx {
	void *sha;  /* EVP_MD_CTX, NULL before the first file */
	int dir_fd; /* the image dir, opened at the first file; -1 before */
	struct stream_sum sum;
	struct mig_err *failed; /* the first write error; reading went on */
};

void stream_rx_init(struct stream_rx *rx);

/* A "file" message (already authenticated): validates it and reads its bytes from c into
 * the directory sub of bundle_fd (made, not followed if a link, at the first file, then
 * kept open: every file is created from that descriptor).  Returns -1 only for a protocol
 * violation (bad name, size, link): the connection cannot be kept in step and must be
 * closed; a write error is kept in rx->failed. */
int stream_rx_file(struct stream_rx *rx, struct mig_conn *c, const cJSON *msg, int bundle_fd,
		   const char *sub, struct mig_err **err);

/* The directory sub of bundle_fd is still the one the files went into (not swapped for a
 * link or another directory during the transfer). */
int stream_rx_same_dir(const struct stream_rx *rx, int bundle_fd, const char *sub,
		       struct mig_err **err);

/* Checks the restore request's "stream" against what arrived. */
int stream_rx_verify(struct stream_rx *rx, const cJSON *req, struct mig_err **err);

void stream_rx_free(struct stream_rx *rx);

/* A valid streamed file name. */
int stream_valid_name(const char *name);

#endif

/* Moving directories to the destination with rsync over ssh.
 *
 * rsync runs from an argv array; its ssh command line is given with -e, built from the same
 * options as our own SSH session (port, user, key, known_hosts), in BatchMode so that it
 * never prompts.  Sizes come from rsync's own --stats output, not from extra directory walks. */
#ifndef MIG_TRANSFER_H
#define MIG_TRANSFER_H

#include <stddef.h>

#include "err.h"

#define XFER_MAX_ARGS 48

struct xfer_ctx {
	const char *host;
	const char *user;
	int ssh_port;
	const char *identity;	 /* NULL: ssh's defaults */
	const char *known_hosts; /* NULL: ssh's defaults */
	int timeout_ms;		 /* whole transfer; rsync's own --timeout covers stalls */
};

enum xfer_kind {
	XFER_IMAGE,  /* CRIU images: plain files, mirrored (--delete) */
	XFER_ROOTFS, /* a container's files: owners by number, hard links, ACLs, xattrs */
};

struct xfer_stats {
	long long bytes_sent; /* "Total bytes sent": what crossed the wire */
	long long file_bytes; /* "Total transferred file size" */
	long long elapsed_ms;
};

/* Copies each of srcs (directories, no trailing slash: each lands as remote_dir/BASENAME)
 * into remote_dir on the destination in one rsync run (one SSH handshake). */
int xfer_rsync(const struct xfer_ctx *x, enum xfer_kind kind, const char *const srcs[],
	       size_t nsrcs, const char *remote_dir, struct xfer_stats *st, struct mig_err **err);

/* The argv xfer_rsync runs (for tests).  Strings in *owned must be freed with
 * xfer_argv_free. */
struct xfer_argv {
	const char *argv[XFER_MAX_ARGS];
	char *owned[4];
};
int xfer_build_argv(const struct xfer_ctx *x, enum xfer_kind kind, const char *const srcs[],
		    size_t nsrcs, const char *remote_dir, struct xfer_argv *a,
		    struct mig_err **err);
void xfer_argv_free(struct xfer_argv *a);

/* The ssh command rsync is given with -e. */
char *xfer_ssh_command(const struct xfer_ctx *x, struct mig_err **err);

/* Parses rsync --stats output. */
void xfer_parse_stats(const char *out, struct xfer_stats *st);

/* "rsync  version 3.2.7  protocol version 31" -> "3.2.7" (malloc'ed, or NULL). */
char *xfer_parse_rsync_version(const char *out);

/* The local rsync's version. */
int xfer_rsync_version(char **version, struct mig_err **err);

/* Proves that a transfer would work without changing anything: with src, the rootfs sync
 * of src into remote_dir as a dry run (st->file_bytes: what it would send); without, a
 * listing of remote_dir itself.  Either way through ssh with the transfer's options. */
int xfer_probe(const struct xfer_ctx *x, const char *src, const char *remote_dir,
	       struct xfer_stats *st, struct mig_err **err);

#endif

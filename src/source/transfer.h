/* Moving directories to the destination with rsync over ssh.
 *
 * rsync runs from an argv array; its ssh command line is given with -e, built from the same
 * ssh_target as our own SSH session (port, user, key, known_hosts), in BatchMode so that it
 * never prompts.  Sizes come from rsync's own --stats output, not from extra directory walks.
 *
 * An OpenSSH master connection (ControlMaster), opened before the container is frozen,
 * carries every rsync: no transfer inside the downtime waits for an SSH handshake (see
 * docs/design.md for why this and not a relay over our libssh session). */
#ifndef MIG_TRANSFER_H
#define MIG_TRANSFER_H

#include <stddef.h>

#include "err.h"
#include "proc.h"
#include "ssh.h"

#define XFER_MAX_ARGS 48

struct xfer_ctx {
	struct ssh_target ssh;	  /* the same as the libssh session's */
	int timeout_ms;		  /* whole transfer; rsync's own --timeout covers stalls */
	const char *control_path; /* the master's socket (xfer_master_start), or NULL */
	const char *compress;	  /* rsync --compress-choice ("zlib", "zstd"), or NULL */
	int progress;		  /* a live progress line on stderr (a terminal) */
	const char *label;	  /* what is sent, for the progress line */
};

/* The ssh master process and its private socket directory. */
struct xfer_master {
	struct proc *proc;
	char dir[256];	/* mkdtemp'ed, 0700 */
	char path[300]; /* dir/ssh.sock */
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

/* Opens the master connection and waits (up to 30 s) until it accepts sessions; sets
 * x->control_path.  Fails with ssh's own error (host key, authentication, refused). */
int xfer_master_start(struct xfer_ctx *x, struct xfer_master *m, struct mig_err **err);
/* Ends the master (by its PID) and removes its socket dir.  Safe on a zeroed struct. */
void xfer_master_stop(struct xfer_ctx *x, struct xfer_master *m);

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
/* The ssh master's argv (for tests); *owned as for xfer_argv. */
int xfer_master_argv(const struct xfer_ctx *x, const char *path, struct xfer_argv *a);

/* An ssh argv that runs cmd (an argv, each argument single-quoted for the remote shell) on
 * the destination, through the master when x->control_path is set. */
int xfer_remote_argv(const struct xfer_ctx *x, const char *const cmd[], struct xfer_argv *a,
		     struct mig_err **err);
int xfer_build_argv(const struct xfer_ctx *x, enum xfer_kind kind, const char *const srcs[],
		    size_t nsrcs, const char *remote_dir, struct xfer_argv *a,
		    struct mig_err **err);
void xfer_argv_free(struct xfer_argv *a);

/* The ssh command rsync is given with -e. */
char *xfer_ssh_command(const struct xfer_ctx *x, struct mig_err **err);

/* The last progress report in rsync --info=progress2 output ("1.05M  45%  10.2MB/s
 * 0:00:01"), trimmed, into buf; "" when there is none. */
void xfer_progress_line(const char *out, size_t len, char *buf, size_t buflen);

/* Parses rsync --stats output. */
void xfer_parse_stats(const char *out, struct xfer_stats *st);

/* "rsync  version 3.2.7  protocol version 31" -> "3.2.7" (malloc'ed, or NULL). */
char *xfer_parse_rsync_version(const char *out);

/* The local rsync's version. */
int xfer_rsync_version(char **version, struct mig_err **err);

/* The local rsync runs and is at least 3.2.4 (it keeps remote paths away from the remote
 * shell), or allow_old. */
int xfer_check_rsync(int allow_old, struct mig_err **err);

/* Proves that a transfer would work without changing anything: with src, the rootfs sync
 * of src into remote_dir as a dry run (st->file_bytes: what it would send); without, a
 * listing of remote_dir itself.  Either way through ssh with the transfer's options. */
int xfer_probe(const struct xfer_ctx *x, const char *src, const char *remote_dir,
	       struct xfer_stats *st, struct mig_err **err);

#endif

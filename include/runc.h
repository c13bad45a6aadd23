/* Calls to runc, each through proc.h with a timeout.
 *
 * The argv builders are separate from the calls so that tests can check exactly what runc
 * is asked to do.  Failed checkpoints and restores quote CRIU's own log (dump.log,
 * restore.log), since runc's stderr alone only says "criu failed". */
#ifndef MIG_RUNC_H
#define MIG_RUNC_H

#include <stddef.h>

#include "err.h"
#include "proc.h"

/* runc's own default state root for root; needed to find leftover mounts below it. */
#define RUNC_DEFAULT_ROOT "/run/runc"
#define RUNC_MAX_ARGS	  40
#define RUNC_FD_BUF	  16 /* room for the --status-fd number */

struct runc_ctx {
	const char *runc;	 /* binary, "runc" by default */
	const char *root;	 /* --root, or NULL for runc's default */
	const char *criu;	 /* --criu, or NULL for runc's default ("criu") */
	int timeout_ms;		 /* for checkpoint/restore; quick queries use a shorter one */
	int hangup_fd;		 /* > 0: restore is stopped when this socket's peer hangs up (the
				  * source gave up waiting; see proc_opts.hangup_fd) */
	const char *criu_config; /* a CRIU configuration file for runc's CRIU (CRIU_CONFIG_FILE),
				  * or NULL (criu.h, criu_config_write) */
	const char *version;	 /* runc's version when already known ("1.1.15"), else NULL:
				  * asked when needed (restore.h) */
};

enum runc_status {
	RUNC_ABSENT = 0, /* runc does not know the container */
	RUNC_CREATED,
	RUNC_RUNNING,
	RUNC_PAUSED,
	RUNC_STOPPED,
	RUNC_UNKNOWN,
};

const char *runc_status_name(enum runc_status s);

/* The CRIU options a migration may ask for, named as runc names them.  Most are runc flags
 * of checkpoint and restore alike; the three runc 1.1 has no flag for (tcp-skip-in-flight,
 * link-remap on the dump, tcp-close on the restore) go to CRIU in a configuration file
 * (criu.h, criu_config_write), which CRIU reads in runc's RPC mode too. */
struct criu_opts {
	int tcp_established;		 /* --tcp-established: connected TCP sockets (both sides) */
	int ext_unix_sk;		 /* --ext-unix-sk: external unix sockets */
	int file_locks;			 /* --file-locks */
	int shell_job;			 /* --shell-job */
	int empty_ns_network;		 /* --empty-ns network */
	int tcp_skip_in_flight;		 /* dump: skip connections not yet accepted */
	int link_remap;			 /* dump: open-but-deleted files by linking them */
	int tcp_close;			 /* restore (destination): restore connections closed */
	const char *manage_cgroups_mode; /* --manage-cgroups-mode soft|full|strict|ignore */
};

/* The restore's options as the "criu_opts" object of a request (only those set). */
struct cJSON;
void criu_opts_to_json(const struct criu_opts *o, struct cJSON *obj);

/* Reads a request's "criu_opts" (absent: none) against the allow-list of the restore's
 * options: known keys only, booleans, a mode from criu_opts_valid_mode.  The mode points
 * into j.  Anything else is refused, naming it: the peer never chooses runc's argv. */
int criu_opts_from_json(const struct cJSON *j, struct criu_opts *o, struct mig_err **err);

/* Every option of o as migrate-src's own flags ("--tcp-established", "--manage-cgroups-mode",
 * "soft", ...) appended to argv at n (room for 12 more); returns the new n. */
size_t criu_opts_argv(const struct criu_opts *o, const char *argv[], size_t n);

/* The modes --manage-cgroups-mode takes; 1 when mode is one. */
int criu_opts_valid_mode(const char *mode);

/* The options as text for reports and messages ("tcp-established,file-locks,
 * manage-cgroups-mode=soft", "" for none), into buf. */
const char *criu_opts_str(const struct criu_opts *o, char *buf, size_t len);

struct runc_ckpt {
	const char *image_path;
	const char *work_path;	 /* NULL: CRIU writes dump.log into the image dir */
	const char *parent_path; /* pre-copy: the previous dump, relative to image_path */
	int pre_dump;
	int leave_running;
	int lazy;		 /* post-copy: --lazy-pages, serving pages from page_server */
	const char *page_server; /* "ADDR:PORT" */
	int status_fd;		 /* inherited fd runc writes a byte to when the image is ready */
	const struct criu_opts *opts; /* NULL: none */
};

struct runc_restore {
	const char *bundle;
	const char *image_path;
	const char *work_path;
	const char *console_socket;   /* NULL unless the bundle's process.terminal is true */
	int lazy;		      /* post-copy: pages come from a running criu lazy-pages */
	const struct criu_opts *opts; /* NULL: none; tcp_close applies here */
	const char *log_path;	      /* runc --log, or NULL: where its messages go, as a
				       * detached restore's stdio become the container's
				       * (docs/notes-platform.md, "The container's stdio") */
};

/* Fill argv (at most RUNC_MAX_ARGS entries, NULL-terminated); strings are not copied, except
 * the status fd's number, which goes into fd_buf. */
void runc_checkpoint_argv(const struct runc_ctx *rc, const char *name, const struct runc_ckpt *c,
			  const char *argv[RUNC_MAX_ARGS], char fd_buf[RUNC_FD_BUF]);
void runc_restore_argv(const struct runc_ctx *rc, const char *name, const struct runc_restore *r,
		       const char *argv[RUNC_MAX_ARGS]);

/* "runc version 1.1.15" -> "1.1.15"; "Version: 4.1.1" -> "4.1.1" (malloc'ed, or NULL). */
char *runc_parse_version(const char *out);

int runc_version(const struct runc_ctx *rc, char **version, struct mig_err **err);

/* Runs a tool's version command (argv: runc or criu with --version) and parses its output
 * with runc_parse_version. */
int runc_tool_version(const char *const argv[], char **version, struct mig_err **err);

/* The container's status; RUNC_ABSENT (and 0) when runc says it does not exist. */
int runc_state(const struct runc_ctx *rc, const char *name, enum runc_status *st,
	       struct mig_err **err);

/* runc_state, also giving the container's init PID (0 when absent). */
int runc_state_pid(const struct runc_ctx *rc, const char *name, enum runc_status *st, int *pid,
		   struct mig_err **err);

/* Parses `runc state` JSON output; *pid (if non-NULL) gets its "pid". */
enum runc_status runc_parse_state(const char *json, int *pid);

/* runc checkpoint.  On failure the error quotes dump.log; *timed_out tells a hang apart. */
int runc_checkpoint(const struct runc_ctx *rc, const char *name, const struct runc_ckpt *c,
		    int *timed_out, struct mig_err **err);

/* Starts a lazy checkpoint in the background (it serves pages until the destination has
 * them all); c->status_fd is passed on to runc. */
int runc_checkpoint_spawn(const struct runc_ctx *rc, const char *name, const struct runc_ckpt *c,
			  struct proc *p, struct mig_err **err);

/* runc restore -d.  On failure the error quotes restore.log from the work dir. */
int runc_restore(const struct runc_ctx *rc, const char *name, const struct runc_restore *r,
		 struct mig_err **err);

/* runc's logrus stderr reduced to its msg="..." texts (malloc'ed). */
char *runc_clean_stderr(const char *tail);

/* runc kill NAME KILL when it is running, paused or created, then waits (briefly) for it
 * to stop; 0 for a stopped or missing one. */
int runc_kill(const struct runc_ctx *rc, const char *name, struct mig_err **err);

/* runc ps --format json: the PIDs in the container's cgroup (malloc'ed array, *n). */
int runc_ps(const struct runc_ctx *rc, const char *name, int **pids, size_t *n,
	    struct mig_err **err);

/* runc pause / resume: freeze and thaw the container's cgroup. */
int runc_pause(const struct runc_ctx *rc, const char *name, struct mig_err **err);
int runc_resume(const struct runc_ctx *rc, const char *name, struct mig_err **err);

/* Removes the container NAME if it is the one made from the bundle open at bundle_fd
 * (bundle_dir for messages): kills it if it is alive, unmounts criu-root and other mounts
 * below its state dir (a runc state dir can hold a bind mount of the rootfs:
 * docs/notes-platform.md, "the rootfs hazard"), then `runc delete -f`, only once those are
 * gone.  A same-named container from another bundle is an error and left alone; no
 * container is a no-op (after the unmounts). */
int runc_remove_own(const struct runc_ctx *rc, const char *name, int bundle_fd,
		    const char *bundle_dir, struct mig_err **err);

#endif

/* Running external programs (runc, criu, rsync, ssh) without a shell, always with a timeout.
 *
 * The child gets its own process group so that a timeout ends it and everything it started
 * (runc's criu, rsync's ssh).  Its stdout and stderr go to anonymous memory files (memfd),
 * not pipes: a daemon the child leaves behind (a restored container, a detached runc) can
 * keep such a descriptor open forever, and with a pipe we would wait for an EOF that never
 * comes.  The outputs are read once the child has exited. */
#ifndef MIG_PROC_H
#define MIG_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* How much of stderr an error message quotes. */
#define PROC_STDERR_TAIL 2048

struct proc_opts {
	int timeout_ms;		    /* <= 0: no timeout (only for tests; tools always set one) */
	int kill_grace_ms;	    /* SIGTERM -> SIGKILL delay on timeout; 0 means 2000 */
	const char *const *env_add; /* "NAME=VALUE" strings added to the environment (replacing
				     * NAME if set; a bare "NAME" removes it), or NULL.  PATH
				     * lookup of argv[0] still uses our own PATH. */
	const char *cwd;	    /* working directory, or NULL */
	int stdout_null;	    /* 1: stdout to /dev/null instead of being captured */
	int stderr_null;	    /* 1: stderr to /dev/null too, err_tail stays empty: for a
				     * child that hands its stdio on to what outlives it (runc
				     * restore -d), whose messages come another way
				     * (proc_capture_open) */
	const int *keep_fds;	    /* descriptors (>= 3) the child inherits at the same number,
				     * -1 ends; every other one above 2 is closed in the child */
	size_t max_capture;	    /* bytes of stdout kept (0 means 1 MiB); the rest is dropped */
	int hangup_fd;		    /* > 0: a connected socket watched while waiting; when its
				     * peer hangs up, the child's group is ended as on a timeout
				     * and res->hung_up is set (the requester is gone: finishing
				     * the work for it would do harm) */
	int new_session;	    /* 1: setsid() instead of setpgid(): a session of its own
				     * (still its own group).  CRIU refuses to dump a process
				     * whose session leader is outside its pid namespace, as
				     * under a CI runner that was started in one. */
};

struct proc_result {
	int status;	/* raw wait status */
	int exited;	/* 1 when it exited normally */
	int exit_code;	/* exit code when exited */
	int signaled;	/* signal number when killed by a signal, else 0 */
	int timed_out;	/* 1 when we killed it because the timeout passed */
	int hung_up;	/* 1 when we killed it because opts.hangup_fd's peer hung up */
	int timeout_ms; /* opts->timeout_ms at spawn: proc_result_err quotes it, and
			 * elapsed_ms would include the kill grace */
	long long elapsed_ms;
	char *out; /* captured stdout, NUL-terminated (never NULL after proc_run) */
	size_t out_len;
	char *err_tail; /* last PROC_STDERR_TAIL bytes of stderr, trailing whitespace
			 * trimmed, NUL-terminated */
};

/* A child started by proc_spawn, waited for by proc_wait. */
struct proc {
	pid_t pid;
	int pidfd;
	int out_fd; /* memfd holding stdout, or -1 */
	int err_fd; /* memfd holding stderr */
	long long start_ms;
	struct proc_opts opts;
};

/* Starts argv[0] (looked up in PATH when it has no '/') with argv.  Fails when it cannot be
 * started at all (fork, chdir, or exec: "cannot run rsync: No such file or directory" is an
 * error, not exit 127).  On success the child has already exec'd in its own process group,
 * so it gets no terminal signals (Ctrl-C): a caller that exits early must proc_kill() it.
 * opts and what it points to are only used during the call. */
int proc_spawn(struct proc *p, const char *const argv[], const struct proc_opts *opts,
	       struct mig_err **err);

/* Waits until the child exits or the timeout given at spawn passes (then kills its process
 * group: SIGTERM, grace, SIGKILL).  Fills res; free it with proc_result_free().
 * Returns 0 once the child is reaped, whatever its exit status.  Only the child is waited
 * for: what it leaves running in the background is not, and is not killed unless it timed
 * out.  On -1 (the child vanished: someone else reaped it) res is empty but still freeable. */
int proc_wait(struct proc *p, struct proc_result *res, struct mig_err **err);

/* Like proc_wait but returns 1 if the child is still running after wait_ms (res untouched),
 * so a caller can watch something else meanwhile; 0 when reaped. */
int proc_wait_for(struct proc *p, int wait_ms, struct proc_result *res, struct mig_err **err);

/* Ends a spawned child now (SIGTERM to its group, grace, SIGKILL) and reaps it.  res may be
 * NULL; timed_out stays 0.  Does nothing (res emptied) when the child was already reaped. */
void proc_kill(struct proc *p, struct proc_result *res);

/* proc_spawn + proc_wait.  res is always filled, even on -1 (zeroed, empty strings), so
 * proc_result_free() and reading res->timed_out are always safe afterwards. */
int proc_run(const char *const argv[], const struct proc_opts *opts, struct proc_result *res,
	     struct mig_err **err);

/* proc_run, and an error unless it exited 0.  The error names the program, says "timed out
 * after N s" (or "N ms"), "exited with code N" or "killed by signal N", and quotes the
 * stderr tail on one line ("rsync exited with code 12: line 1 | line 2"). */
int proc_run_ok(const char *const argv[], const struct proc_opts *opts, struct proc_result *res,
		struct mig_err **err);

/* Fills an error describing how res failed (as proc_run_ok does), for argv[0]. */
int proc_result_err(const char *const argv[], const struct proc_result *res, struct mig_err **err);

void proc_result_free(struct proc_result *res);

/* argv joined with spaces, empty arguments and ones with whitespace or ' in single quotes
 * (for debug logs only; never executed).  Free with free(). */
char *proc_argv_str(const char *const argv[]);

/* Monotonic milliseconds. */
long long proc_now_ms(void);

/* The deadline timeout_ms from now, or -1 (none) when timeout_ms <= 0. */
long long proc_deadline_in(int timeout_ms);

/* Milliseconds left until deadline (-1: none), at most cap when cap >= 0: for poll().
 * 0 once the deadline has passed; -1 when there is neither a deadline nor a cap. */
int proc_ms_left(long long deadline, int cap);

/* A capture file (memfd, close-on-exec, appending) for a child to write to by a path of
 * its own, "/proc/self/fd/N" with N in keep_fds; proc_capture_tail reads its last max bytes
 * (trailing whitespace dropped; malloc'ed).  -1 on error. */
int proc_capture_open(const char *name, struct mig_err **err);
char *proc_capture_tail(int fd, size_t max);

#endif

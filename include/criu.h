/* Direct calls to criu (runc calls it for checkpoint and restore; these are the rest):
 * its version, feature checks before anything is frozen, the destination's lazy-pages
 * daemon for post-copy, the pipe size CRIU's page server needs, and reading CRIU's logs. */
#ifndef MIG_CRIU_H
#define MIG_CRIU_H

#include "err.h"
#include "proc.h"

#define CRIU_MAX_ARGS 24
/* CRIU's page server sizes a pipe to about 3.3 MB (F_SETPIPE_SZ); without CAP_SYS_RESOURCE
 * that needs fs.pipe-max-size at least this big (docs/notes-platform.md, "post-copy's
 * pipe"). */
#define CRIU_PIPE_MAX_NEEDED 4194304

/* criu --version of the binary criu (NULL: "criu" from PATH) -> "4.1.1" (malloc'ed). */
int criu_version(const char *criu, char **version, struct mig_err **err);

/* The lines of the CRIU log at path that say what went wrong, on one line (malloc'ed, or
 * NULL when there is no log). */
char *criu_log_excerpt(const char *path);

/* CRIU's own names (as its configuration files write them) for the options of o runc has
 * no flag for: "tcp-skip-in-flight" and "link-remap" for a dump (dump set), "tcp-close" for
 * a restore; and for a lazy dump (lazy set) "address 127.0.0.1": runc passes CRIU no
 * address for a lazy dump's page server (CRIU then listens on every address), while CRIU's
 * RPC keeps the one its configuration file gives (criu/cr-service.c; docs/notes-lazy-pages.md,
 * "The page server on loopback").  Fills lines (room for CRIU_CONFIG_LINES, NULL-terminated);
 * returns how many. */
#define CRIU_CONFIG_LINES 5
struct criu_opts;
size_t criu_config_lines(const struct criu_opts *o, int dump, int lazy,
			 const char *lines[CRIU_CONFIG_LINES]);

/* A CRIU configuration file holding what the file named by our own CRIU_CONFIG_FILE holds
 * (a user's settings keep applying) and then lines, one option a line, written 0600 under
 * $TMPDIR (or /tmp); its path goes into path (len >= 64).  With no lines nothing is
 * written and path is "".  The caller unlinks it. */
int criu_config_write(const char *const lines[], char *path, size_t len, struct mig_err **err);

/* `criu check --feature NAME`: *ok is 1 when CRIU says the feature works here.  Fails only
 * when criu cannot be run at all. */
int criu_has_feature(const char *criu, const char *feature, int *ok, struct mig_err **err);

/* The kernel option a CRIU feature depends on, for error messages ("" when unknown). */
const char *criu_feature_kernel_option(const char *feature);

/* argv for `criu lazy-pages`: the destination's daemon that fetches pages from the source's
 * page server over the connected socket ps_fd (--ps-socket: inherited, the pages
 * connection) and serves them to the restored tasks (through a socket in work_dir that
 * `criu restore --lazy-pages` connects to).  CRIU's page-xfer.c takes a ready socket there
 * as it would its own TCP connection; on a Unix socket its TCP_NODELAY/TCP_CORK calls only
 * warn (docs/notes-lazy-pages.md, "The pages connection"). */
void criu_lazy_pages_argv(const char *criu, const char *ps_fd, const char *images_dir,
			  const char *work_dir, const char *log_file,
			  const char *argv[CRIU_MAX_ARGS]);

/* Bytes of memory the lazy-pages daemon copied into the tasks, from its -v4 log (the sum
 * of its uffd_copy lines; -1 when the log does not say). */
long long criu_lazy_log_bytes(const char *log_path);

/* Makes sure CRIU's page server can size its pipe: nothing to do with CAP_SYS_RESOURCE or a
 * large enough fs.pipe-max-size; else raises it (and says so in *note, malloc'ed) unless
 * no_sysctl, in which case it fails with the sysctl command to run.  proc_sys_dir is
 * "/proc/sys" except in tests. */
int criu_pipe_size_prepare(int no_sysctl, const char *proc_sys_dir, char **note,
			   struct mig_err **err);

/* Removes the network lock a killed CRIU dump leaves in the network namespace of the task
 * pid: CRIU locks a private netns with an iptables chain "CRIU" and only its own unlock step
 * removes it, so after we stop a hung dump the container would run cut off from its network.
 * Sets *removed when a lock was found and removed. */
int criu_unlock_network(int pid, int *removed, struct mig_err **err);

/* 1 when this process has CAP_SYS_RESOURCE in its effective set. */
int criu_has_cap_sys_resource(void);

#endif

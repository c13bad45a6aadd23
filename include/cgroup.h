/* Cgroups as the tools need them: which version this host runs, where a process is, whether
 * a paused container's cgroup is frozen, and the cgroup runc before 1.2 gives a container
 * on cgroup v2 without telling CRIU, which the restore then tells CRIU itself
 * (docs/notes-platform.md, "runc 1.1 on cgroup v2"). */
#ifndef MIG_CGROUP_H
#define MIG_CGROUP_H

#include "err.h"

/* 1 when /sys/fs/cgroup is cgroup2 (the unified hierarchy alone), 0 when it is not (v1, or
 * v1 with the unified hierarchy beside it), -1 when it cannot be told. */
int cgroup_v2(void);

/* The cgroup v2 path of process pid (0: this process), "/x/y" from the "0::" line of
 * /proc/PID/cgroup, malloc'ed, or NULL. */
char *cgroup_v2_of(int pid);

/* 1 when runc of this version ("1.1.15+ds1") gives CRIU no cgroup root when it restores on
 * cgroup v2 (before 1.2: runc commit 3438ef30b, "restore: fix --manage-cgroups-mode ignore
 * on cgroup v2"), 0 when it does or the version is unknown. */
int cgroup_runc_needs_root(const char *runc_version);

/* The cgroup runc 1.1's cgroupfs driver makes on cgroup v2 for container name from a bundle
 * whose linux.cgroupsPath is cgroups_path (NULL or "": unset), run by a process in
 * own_cgroup ("/system.slice/x.service"): an absolute path as it is (cleaned), a relative
 * one (or the name when unset) below own_cgroup's parent.  Malloc'ed. */
char *cgroup_runc11_path(const char *cgroups_path, const char *name, const char *own_cgroup);

/* The cgroup a runc < 1.2 started from this process gives container name of a bundle whose
 * linux.cgroupsPath is cgroups_path, into *root (malloc'ed), for CRIU's cgroup-root.
 * Refused when this process's cgroup cannot be read, or when the path has characters that
 * a line of a CRIU configuration file cannot carry as one plain value (white space, control
 * characters, quotes, '#', ...). */
int cgroup_restore_root(const char *cgroups_path, const char *name, char **root,
			struct mig_err **err);

/* Whether the cgroup v2 cgroup of process pid is frozen ("frozen 1" in its cgroup.events):
 * 1 frozen, 0 not, -1 when it cannot be told (cgroup v1, no such process). */
int cgroup_frozen(int pid);

#endif

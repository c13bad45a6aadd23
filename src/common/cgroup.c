/* Cgroups (cgroup.h). */
#include "cgroup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
/* The longest cgroup path handed to CRIU (its configuration lines are read into a buffer of
 * about this size). */
#define CGROUP_PATH_MAX 1024

int cgroup_v2(void)
{
	struct statfs s;
	if (statfs(CGROUP_ROOT, &s) < 0)
		return -1;
	return s.f_type == CGROUP2_SUPER_MAGIC;
}

/* The path of the line "HIER:CONTROLLERS:PATH" of /proc/PID/cgroup whose controllers are
 * want ("" for v2's "0::"), malloc'ed, or NULL. */
static char *cgroup_line(int pid, const char *want)
{
	char p[64], line[4200];
	if (pid > 0)
		snprintf(p, sizeof(p), "/proc/%d/cgroup", pid);
	else
		snprintf(p, sizeof(p), "/proc/self/cgroup");
	FILE *f = fopen(p, "re");
	if (!f)
		return NULL;
	char *r = NULL;
	while (!r && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c = strchr(line, ':');
		char *path = c ? strchr(c + 1, ':') : NULL;
		if (!path || path[1] != '/')
			continue;
		*c = *path = '\0';
		/* v1 lists controllers by comma: "4:cpu,cpuacct:/x" */
		int match = !*want ? !strcmp(line, "0") && !c[1] : 0;
		for (char *s = c + 1, *save = NULL, *t; *want && (t = strtok_r(s, ",", &save));
		     s = NULL)
			match |= !strcmp(t, want);
		if (match)
			r = mig_xstrdup(path + 1);
	}
	fclose(f);
	return r;
}

char *cgroup_v2_of(int pid)
{
	return cgroup_line(pid, "");
}

int cgroup_runc_needs_root(const char *v)
{
	int major, minor;
	if (!v || sscanf(v, "%d.%d", &major, &minor) != 2)
		return 0;
	return major < 1 || (major == 1 && minor < 2);
}

/* Appends the components of p to out (room cap), resolving "." and ".." as Go's
 * filepath.Clean does on an absolute path ("..": at the root it stays there). */
static void path_push(char *out, size_t cap, const char *p)
{
	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(out, '/');
			if (slash)
				*slash = '\0';
		} else if (!(n == 1 && p[0] == '.')) {
			size_t len = strlen(out);
			snprintf(out + len, cap - len, "/%.*s", (int)n, p);
		}
		p += n;
	}
}

char *cgroup_runc11_path(const char *cgroups_path, const char *name, const char *own_cgroup)
{
	/* runc's CleanPath: the path on its own first, so that a relative one cannot climb
	 * out ("../x" is "x"); then a relative one goes below the parent of runc's own cgroup
	 * (libcontainer/cgroups/fs2: "the current user scope most probably has tasks in it
	 * already"). */
	const char *inner = cgroups_path && *cgroups_path ? cgroups_path : name;
	char clean[4096] = "", out[8192] = "";
	path_push(clean, sizeof(clean), inner);
	if (inner[0] != '/') {
		path_push(out, sizeof(out), own_cgroup);
		char *slash = strrchr(out, '/');
		if (slash)
			*slash = '\0';
	}
	path_push(out, sizeof(out), clean);
	return mig_xstrdup(out[0] ? out : "/");
}

/* A value a CRIU configuration line carries as it is: no white space, quotes, comment
 * signs, backslashes or control characters. */
static int plain_value(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c >= 0x7f || strchr("\"'#\\", c))
			return 0;
	}
	return 1;
}

int cgroup_restore_root(const char *cgroups_path, const char *name, char **root,
			struct mig_err **err)
{
	*root = NULL;
	char *own = cgroup_v2_of(0);
	if (!own)
		return mig_err_set(err, errno, "this process's cgroup (/proc/self/cgroup)");
	char *r = cgroup_runc11_path(cgroups_path, name, own);
	free(own);
	if (strlen(r) > CGROUP_PATH_MAX || !plain_value(r)) {
		mig_err_set(err, 0,
			    "the cgroup of %s (linux.cgroupsPath '%s') cannot be given to CRIU: "
			    "white space, quotes, '#', '\\' or control characters, or longer than "
			    "%d bytes",
			    name, cgroups_path ? cgroups_path : "", CGROUP_PATH_MAX);
		free(r);
		return -1;
	}
	*root = r;
	return 0;
}

int cgroup_frozen(int pid)
{
	char file[4400], line[128];
	if (cgroup_v2() != 1)
		return -1;
	char *cg = cgroup_v2_of(pid);
	if (!cg)
		return -1;
	snprintf(file, sizeof(file), CGROUP_ROOT "%s/cgroup.events", cg);
	free(cg);
	FILE *f = fopen(file, "re");
	if (!f)
		return -1;
	int frozen = -1, v;
	while (frozen < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "frozen %d", &v) == 1)
			frozen = v == 1;
	fclose(f);
	return frozen;
}

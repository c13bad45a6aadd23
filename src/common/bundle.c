/* Bundles (bundle.h). */
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/statfs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fs.h"

#define CONFIG_MAX (4 << 20)

static const char *const reserved[] = BUNDLE_RESERVED;

int bundle_open(const char *base, const char *name, int create, struct bundle_info *b,
		struct mig_err **err)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->dir = mig_strdup_printf("%s/%s", base, name);
	if (create) {
		int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int r = bfd < 0 ? mig_err_set(err, errno, "open %s", base)
				: fs_mkdir_at(bfd, name, 0700, err);
		if (bfd >= 0)
			close(bfd);
		if (r < 0)
			return mig_err_wrap(err, "bundle %s", b->dir);
	}
	b->fd = fs_open_dir(base, name, err);
	return b->fd < 0 ? -1 : 0;
}

/* A component of a relative root.path that is not plain, or a first component that names
 * a directory the tools make and remove. */
static const char *bad_relative_root(const char *p)
{
	if (!*p)
		return "it is empty";
	if (p[strlen(p) - 1] == '/')
		return "it is not a normalized path";
	size_t first = strcspn(p, "/");
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.'))
			return "it is not a normalized path";
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return "it leaves the bundle";
		c += n;
		c += *c == '/';
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == first && !strncmp(p, reserved[i], first))
			return "the tools write their checkpoint there and clear it";
	return NULL;
}

/* An absolute root.path: normalized, and not into the bundle (a rootfs shared by both
 * hosts lives elsewhere). */
static const char *bad_absolute_root(const char *p, const char *dir)
{
	if (strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//") ||
	    (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/..")))
		return "it is not a normalized path";
	size_t n = strlen(dir);
	if (!strncmp(p, dir, n) && (p[n] == '\0' || p[n] == '/'))
		return "an absolute path into the bundle; write it relative";
	return NULL;
}

/* The network entry of linux.namespaces, or NULL. */
static cJSON *netns_entry(const cJSON *cfg)
{
	const cJSON *linux_ = cJSON_GetObjectItemCaseSensitive(cfg, "linux");
	cJSON *ns;
	cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(linux_, "namespaces"))
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(ns, "type");
		if (cJSON_IsString(t) && !strcmp(t->valuestring, "network"))
			return ns;
	}
	return NULL;
}

static void read_netns(struct bundle_info *b, const cJSON *cfg)
{
	const cJSON *ns = netns_entry(cfg);
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(ns, "path");
	b->netns = !ns						? NETNS_HOST
		   : cJSON_IsString(path) && *path->valuestring ? NETNS_NAMED
								: NETNS_PRIVATE;
	b->netns_path = b->netns == NETNS_NAMED ? mig_xstrdup(path->valuestring) : NULL;
}

static const char *const netns_names[] = {"host", "private", "named"};

const char *bundle_netns_name(enum bundle_netns n)
{
	return (unsigned)n < 3 ? netns_names[n] : "?";
}

int bundle_netns_parse(const char *s, enum bundle_netns *n)
{
	for (int i = 0; s && i < 3; i++)
		if (!strcmp(s, netns_names[i])) {
			*n = (enum bundle_netns)i;
			return 0;
		}
	return -1;
}

int bundle_netns_check(const char *path, struct mig_err **err)
{
	/* The path may come from a peer: only an nsfs file is opened (opening some device
	 * nodes has effects, /dev/watchdog arms the watchdog). */
	struct statfs sf;
	if (statfs(path, &sf) < 0)
		return mig_err_set(err, errno, "network namespace %s", path);
	if (sf.f_type != NSFS_MAGIC)
		return mig_err_set(err, 0,
				   "%s is not a network namespace (not on nsfs: bind-mount one "
				   "there, as `ip netns add` does)",
				   path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return mig_err_set(err, errno, "network namespace %s", path);
	int type = ioctl(fd, NS_GET_NSTYPE);
	close(fd);
	if (type != CLONE_NEWNET)
		return mig_err_set(err, 0, "%s is not a network namespace", path);
	return 0;
}

int bundle_set_netns(struct bundle_info *b, const char *path, struct mig_err **err)
{
	if (b->netns != NETNS_NAMED)
		return mig_err_set(err, 0, "%s/config.json joins no network namespace by path",
				   b->dir);
	if (!strcmp(b->netns_path, path))
		return 0;
	char *text = fs_read_file_at(b->fd, "config.json", CONFIG_MAX, err);
	cJSON *cfg = text ? cJSON_Parse(text) : NULL;
	free(text);
	cJSON *ns = netns_entry(cfg);
	if (!ns) {
		cJSON_Delete(cfg);
		return mig_err_set(err, 0, "%s/config.json changed while being read", b->dir);
	}
	cJSON_ReplaceItemInObjectCaseSensitive(ns, "path", cJSON_CreateString(path));
	char *out = cJSON_Print(cfg);
	cJSON_Delete(cfg);
	const char *tmp = "config.json.migrate-new";
	unlinkat(b->fd, tmp, 0);
	int fd = fs_open_at(b->fd, tmp, O_WRONLY | O_CREAT | O_EXCL, 0644, err);
	size_t len = strlen(out);
	int r = fd < 0 ? -1 : 0;
	if (r == 0 && (write(fd, out, len) != (ssize_t)len || fsync(fd) < 0))
		r = mig_err_set(err, errno, "writing %s/%s", b->dir, tmp);
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = mig_err_set(err, errno, "writing %s/%s", b->dir, tmp);
	if (r == 0 && renameat(b->fd, tmp, b->fd, "config.json") < 0)
		r = mig_err_set(err, errno, "renaming %s/%s", b->dir, tmp);
	free(out);
	if (r < 0) {
		unlinkat(b->fd, tmp, 0);
		return mig_err_wrap(err, "setting the network namespace to %s", path);
	}
	free(b->netns_path);
	b->netns_path = mig_xstrdup(path);
	return 0;
}

static int read_config(struct bundle_info *b, struct mig_err **err)
{
	char *text = fs_read_file_at(b->fd, "config.json", CONFIG_MAX, err);
	if (!text)
		return mig_err_wrap(err, "bundle %s", b->dir);
	cJSON *cfg = cJSON_Parse(text);
	free(text);
	if (!cJSON_IsObject(cfg)) {
		cJSON_Delete(cfg);
		return mig_err_set(err, 0, "%s/config.json is not a JSON object", b->dir);
	}
	const cJSON *proc = cJSON_GetObjectItemCaseSensitive(cfg, "process");
	b->terminal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(proc, "terminal"));
	read_netns(b, cfg);
	const cJSON *cg = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cfg, "linux"), "cgroupsPath");
	b->cgroups_path =
	    cJSON_IsString(cg) && *cg->valuestring ? mig_xstrdup(cg->valuestring) : NULL;
	const cJSON *root = cJSON_GetObjectItemCaseSensitive(cfg, "root");
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(root, "path");
	b->root_path = mig_xstrdup(cJSON_IsString(path) ? path->valuestring : "rootfs");
	cJSON_Delete(cfg);
	const char *why = b->root_path[0] == '/' ? bad_absolute_root(b->root_path, b->dir)
						 : bad_relative_root(b->root_path);
	if (why)
		return mig_err_set(err, 0, "%s/config.json: root.path '%s' is refused: %s", b->dir,
				   b->root_path, why);
	b->rootfs = b->root_path[0] == '/' ? mig_xstrdup(b->root_path)
					   : mig_strdup_printf("%s/%s", b->dir, b->root_path);
	return 0;
}

int bundle_load(const char *base, const char *name, struct bundle_info *b, struct mig_err **err)
{
	if (bundle_open(base, name, 0, b, err) < 0) {
		int e = (*err)->errno_val;
		/* Only a missing one is "no bundle"; a link, EACCES, EMFILE keep their cause. */
		if (e == ENOENT) {
			mig_err_free(err);
			mig_err_set(err, 0, "no bundle directory %s", b->dir);
			(*err)->errno_val = e; /* for callers; not in the text */
		} else {
			mig_err_wrap(err, "bundle directory %s", b->dir);
		}
		bundle_free(b);
		return -1;
	}
	if (read_config(b, err) < 0) {
		bundle_free(b);
		return -1;
	}
	return 0;
}

void bundle_free(struct bundle_info *b)
{
	if (b->fd >= 0)
		close(b->fd);
	free(b->dir);
	free(b->root_path);
	free(b->rootfs);
	free(b->netns_path);
	free(b->cgroups_path);
	memset(b, 0, sizeof(*b));
	b->fd = -1;
}

int bundle_rootfs_fd(const struct bundle_info *b, struct mig_err **err)
{
	if (b->root_path[0] != '/') {
		int fd = fs_open_at(b->fd, b->root_path, O_RDONLY | O_DIRECTORY, 0, err);
		return fd < 0 ? mig_err_wrap(err, "the rootfs of %s", b->dir) : fd;
	}
	int fd = open(b->root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? mig_err_set(err, errno, "the rootfs %s", b->root_path) : fd;
}

int bundle_check_rootfs(const struct bundle_info *b, int missing_ok, struct mig_err **err)
{
	int fd = bundle_rootfs_fd(b, err);
	if (fd < 0) {
		if (missing_ok && (*err)->errno_val == ENOENT) {
			mig_err_free(err);
			return 0;
		}
		return -1;
	}
	int r = 0;
	struct stat a, s;
	if (fstat(fd, &a) == 0 && fstat(b->fd, &s) == 0 && a.st_dev == s.st_dev &&
	    a.st_ino == s.st_ino)
		r = mig_err_set(err, 0, "the rootfs %s is the bundle directory itself", b->rootfs);
	for (size_t i = 0; r == 0 && i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		struct mig_err *e = NULL;
		int d = fs_open_at(b->fd, reserved[i], O_RDONLY | O_DIRECTORY, 0, &e);
		mig_err_free(&e);
		if (d >= 0 && fs_is_below(fd, d))
			r = mig_err_set(err, 0,
					"the rootfs %s is inside %s/%s, which the tools clear: "
					"refusing it",
					b->rootfs, b->dir, reserved[i]);
		if (d >= 0)
			close(d);
	}
	close(fd);
	return r;
}

int bundle_lock(const struct bundle_info *b, struct mig_err **err)
{
	int fd = fs_open_at(b->fd, ".migrate.lock", O_RDWR | O_CREAT, 0600, err);
	if (fd < 0)
		return mig_err_wrap(err, "lock in %s", b->dir);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mig_err_set(err, 0, "lock %s/.migrate.lock: not a regular file", b->dir);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		char holder[32] = "";
		ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			mig_err_set(
			    err, 0,
			    "another migration of this container is in progress on this host "
			    "(%s/.migrate.lock is locked by PID %s)",
			    b->dir, holder[0] ? holder : "?");
		else
			mig_err_set(err, e, "lock %s/.migrate.lock", b->dir);
		close(fd);
		return -1;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	/* A bundle dir where these bytes cannot be written cannot take an image either. */
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		mig_err_set(err, errno, "lock %s/.migrate.lock: cannot record our PID", b->dir);
		close(fd);
		fd = -1;
	}
	return fd;
}

char *bundle_path(const struct bundle_info *b, const char *sub)
{
	return mig_strdup_printf("%s/%s", b->dir, sub);
}

int bundle_clear_dir(const struct bundle_info *b, const char *sub, struct mig_err **err)
{
	return fs_clear_at(b->fd, sub, err) < 0 ? mig_err_wrap(err, "%s", b->dir) : 0;
}

int bundle_make_dir(const struct bundle_info *b, const char *sub, struct mig_err **err)
{
	return fs_mkdir_at(b->fd, sub, 0700, err) < 0 ? mig_err_wrap(err, "%s", b->dir) : 0;
}

int bundle_open_dir(const struct bundle_info *b, const char *sub, struct mig_err **err)
{
	int fd = fs_open_at(b->fd, sub, O_RDONLY | O_DIRECTORY, 0, err);
	return fd < 0 ? mig_err_wrap(err, "%s", b->dir) : fd;
}

int bundle_has_dir(const struct bundle_info *b, const char *sub, struct mig_err **err)
{
	int fd = fs_open_at(b->fd, sub, O_RDONLY | O_DIRECTORY, 0, err);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if ((*err)->errno_val == ENOENT) {
		mig_err_free(err);
		return 0;
	}
	return mig_err_wrap(err, "%s", b->dir);
}

long long bundle_tree_size(const struct bundle_info *b, const char *sub)
{
	return fs_tree_size_at(b->fd, sub);
}

int bundle_unmount_leftovers(const struct bundle_info *b, const char *sub, struct mig_err **err)
{
	return fs_unmount_leftovers_at(b->fd, sub, err) < 0 ? mig_err_wrap(err, "%s", b->dir) : 0;
}

/* The file-system module (fs.h). */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <openssl/evp.h>

/* The names runc and CRIU give the mounts they leave behind (docs/notes-platform.md, "The
 * rootfs hazard"): runc's bind of the rootfs in its state dir, CRIU's cgroup yard in its
 * work dir. */
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U /* Linux 5.8 */
#endif
#ifndef SYS_openat2
#define SYS_openat2 437 /* Linux 5.6, the same number on every architecture */
#endif

#define RUNC_LEFTOVER	"criu-root"
#define CRIU_LEFTOVER	".criu.cgyard."
#define READ_CHUNK	65536
#define MAX_LINK_TARGET PATH_MAX

/* ---- identities ---- */

/* What fs needs to know of an entry: its stat, and which mount it is on. */
struct fs_stat {
	struct stat st;
	uint64_t mnt_id; /* 0 when neither statx nor fdinfo can say (then st_dev decides) */
};

static void statx_to_stat(const struct statx *x, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = x->stx_mode;
	st->st_uid = x->stx_uid;
	st->st_gid = x->stx_gid;
	st->st_size = (off_t)x->stx_size;
	st->st_ino = x->stx_ino;
	st->st_nlink = x->stx_nlink;
	st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
	st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
	st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
	st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

/* The "mnt_id:" line of /proc/self/fdinfo/FD (Linux 3.15), the number statx's STATX_MNT_ID
 * gives; 0 when it cannot be read. */
static uint64_t fdinfo_mnt_id(int fd)
{
	char p[64], buf[512];
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
	int in = open(p, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return 0;
	ssize_t n = read(in, buf, sizeof(buf) - 1);
	close(in);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *m = strstr(buf, "\nmnt_id:");
	return m ? strtoull(m + strlen("\nmnt_id:"), NULL, 10) : 0;
}

/* Kernels without statx's STATX_MNT_ID (before 5.8): the entry opened O_PATH (which opens
 * nothing, follows no last link), its stat and its fdinfo's mount ID from that one
 * descriptor, so both describe the same entry. */
static int stat_fd_at(int dirfd, const char *name, struct fs_stat *fst)
{
	int fd = *name ? openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC) : dirfd;
	if (fd < 0)
		return -1;
	int r = fstatat(fd, "", &fst->st, AT_EMPTY_PATH);
	int e = errno;
	fst->mnt_id = r == 0 ? fdinfo_mnt_id(fd) : 0;
	if (fd != dirfd)
		close(fd);
	errno = e;
	return r;
}

/* stat of name in dirfd (or of dirfd itself with name ""), not following a last link, with
 * its mount ID: statx's, else fdinfo's (st_dev alone is wrong on overlays:
 * docs/notes-platform.md, "Mount points are mount IDs, not st_dev"). */
static int stat_at(int dirfd, const char *name, struct fs_stat *fst)
{
	struct statx x;
	int flags = AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);
	int r = statx(dirfd, name, flags, STATX_BASIC_STATS | STATX_MNT_ID, &x);
	if (r == 0 && (x.stx_mask & STATX_MNT_ID)) {
		statx_to_stat(&x, &fst->st);
		fst->mnt_id = x.stx_mnt_id;
		return 0;
	}
	if (r < 0 && errno != ENOSYS)
		return -1;
	return stat_fd_at(dirfd, name, fst);
}

/* Entry a is on another mount than its directory d. */
static int other_mount(const struct fs_stat *d, const struct fs_stat *a)
{
	if (d->mnt_id && a->mnt_id)
		return d->mnt_id != a->mnt_id;
	return d->st.st_dev != a->st.st_dev;
}

static int dot_or_dotdot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/* rel is relative and made of plain components. */
static int plain_rel(const char *rel)
{
	if (!*rel || *rel == '/')
		return 0;
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return rel[strlen(rel) - 1] != '/';
}

/* ---- opening ---- */

static int open_err(struct mig_err **err, int e, const char *rel)
{
	if (e == ELOOP)
		return mig_err_set(err, 0, "refusing %s: a symbolic link is on the way", rel);
	if (e == EXDEV)
		return mig_err_set(err, 0, "refusing %s: it leads out of its directory", rel);
	return mig_err_set(err, e, "open %s", rel);
}

/* The component-by-component walk for kernels without openat2 (before 5.6). */
static int open_walk(int dirfd, const char *rel, int flags, unsigned mode)
{
	char *copy = mig_xstrdup(rel), *save = NULL;
	int cur = dirfd, fd = -1;
	char *comp = strtok_r(copy, "/", &save);
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);
		int f = next ? O_RDONLY | O_DIRECTORY : flags;
		fd = openat(cur, comp, f | O_NOFOLLOW | O_CLOEXEC, mode);
		int e = errno;
		/* O_DIRECTORY | O_NOFOLLOW on a link says ENOTDIR: said as openat2 says it. */
		struct stat l;
		if (fd < 0 && e == ENOTDIR && fstatat(cur, comp, &l, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(l.st_mode))
			e = ELOOP;
		if (cur != dirfd)
			close(cur);
		errno = e;
		if (fd < 0 || !next)
			break;
		cur = fd;
		comp = next;
	}
	int e = errno;
	free(copy);
	errno = e;
	return fd;
}

int fs_open_at(int dirfd, const char *rel, int flags, unsigned mode, struct mig_err **err)
{
	if (!plain_rel(rel))
		return mig_err_set(err, 0, "refusing path '%s': not plain relative components",
				   rel);
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = open_walk(dirfd, rel, flags, mode);
	return fd < 0 ? open_err(err, errno, rel) : fd;
}

int fs_open_dir(const char *base, const char *name, struct mig_err **err)
{
	int b = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b < 0)
		return mig_err_set(err, errno, "open %s", base);
	int fd = fs_open_at(b, name, O_RDONLY | O_DIRECTORY, 0, err);
	close(b);
	return fd < 0 ? mig_err_wrap(err, "%s", base) : fd;
}

int fs_mkdir_at(int dirfd, const char *rel, unsigned mode, struct mig_err **err)
{
	if (!plain_rel(rel))
		return mig_err_set(err, 0, "refusing path '%s': not plain relative components",
				   rel);
	/* Component by component from descriptors: a link swapped in between two steps is
	 * never followed (openat O_NOFOLLOW), and mkdirat never resolves more than a name. */
	char *copy = mig_xstrdup(rel), *save = NULL;
	int cur = dirfd, r = 0;
	for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (mkdirat(cur, comp, mode) < 0 && errno != EEXIST) {
			r = mig_err_set(err, errno, "mkdir %s", rel);
			break;
		}
		int fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = errno == ELOOP || errno == ENOTDIR
				? mig_err_set(err, 0,
					      "mkdir %s: %s exists and is not a directory "
					      "(a symbolic link?)",
					      rel, comp)
				: mig_err_set(err, errno, "mkdir %s", rel);
			break;
		}
		if (cur != dirfd)
			close(cur);
		cur = fd;
	}
	if (cur != dirfd)
		close(cur);
	free(copy);
	return r;
}

int fs_exists_at(int dirfd, const char *rel, struct mig_err **err)
{
	const char *slash = strrchr(rel, '/');
	int d = dirfd;
	if (slash) {
		char *parent = strndup(rel, (size_t)(slash - rel));
		d = fs_open_at(dirfd, parent ? parent : "", O_PATH | O_DIRECTORY, 0, err);
		free(parent);
		if (d < 0)
			return (*err)->errno_val == ENOENT ? (mig_err_free(err), 0) : -1;
	} else if (!plain_rel(rel)) {
		return mig_err_set(err, 0, "refusing path '%s'", rel);
	}
	struct fs_stat st;
	int r = stat_at(d, slash ? slash + 1 : rel, &st);
	int e = errno;
	if (d != dirfd)
		close(d);
	if (r == 0)
		return 1;
	return e == ENOENT ? 0 : mig_err_set(err, e, "stat %s", rel);
}

int fs_is_below(int fd, int dir)
{
	struct stat target, cur;
	if (fstat(dir, &target) < 0)
		return 0;
	int walk = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	for (int depth = 0; walk >= 0 && depth < PATH_MAX / 2; depth++) {
		if (fstat(walk, &cur) < 0)
			break;
		if (cur.st_dev == target.st_dev && cur.st_ino == target.st_ino) {
			close(walk);
			return 1;
		}
		int up = openat(walk, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct stat ust;
		int top = up < 0 || fstat(up, &ust) < 0 ||
			  (ust.st_dev == cur.st_dev && ust.st_ino == cur.st_ino);
		close(walk);
		walk = up;
		if (top)
			break;
	}
	if (walk >= 0)
		close(walk);
	return 0;
}

/* ---- reading ---- */

static char *read_fd(int fd, size_t max, const char *what, struct mig_err **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		mig_err_set(err, errno, "stat %s", what);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		mig_err_set(err, 0, "refusing %s: not a regular file", what);
		return NULL;
	}
	char *buf = mig_xmalloc(max + 1);
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			mig_err_set(err, errno, "read %s", what);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			mig_err_set(err, 0, "read %s: larger than %zu bytes", what, max);
			free(buf);
			return NULL;
		}
	}
	buf[n] = '\0';
	return buf;
}

char *fs_read_file_at(int dirfd, const char *rel, size_t max, struct mig_err **err)
{
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
	int fd = fs_open_at(dirfd, rel, O_RDONLY | O_NONBLOCK, 0, err);
	if (fd < 0)
		return NULL;
	char *buf = read_fd(fd, max, rel, err);
	close(fd);
	return buf;
}

char *fs_read_tail(const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return NULL;
	}
	off_t off = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
	char *buf = mig_xmalloc(max + 1);
	ssize_t n = pread(fd, buf, max, off);
	close(fd);
	if (n <= 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	char *start = buf;
	if (off > 0 && (start = strchr(buf, '\n')))
		start++; /* drop the partial first line */
	else
		start = buf;
	size_t len = strlen(start);
	while (len && strchr(" \t\r\n", start[len - 1]))
		start[--len] = '\0';
	memmove(buf, start, len + 1);
	if (!len) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- walking ---- */

/* One walk over a tree: fn is called for every entry below the start (not for the start
 * itself), with the directory's descriptor, the entry's name and stat, and its path
 * relative to the start; entries on other mounts are passed to fn but not entered.  fn
 * returns 0 to go on, 1 to not enter this directory, -1 to stop. */
struct walk {
	int (*fn)(struct walk *w, int dfd, const char *name, const struct fs_stat *st,
		  const char *rel, int other_mount);
	void *ctx;
	struct mig_err **err;
};

static int walk_dir(struct walk *w, int dfd, const struct fs_stat *dst, const char *rel)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return mig_err_set(w->err, errno, "opendir %s", *rel ? rel : ".");
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (dot_or_dotdot(de->d_name))
			continue;
		struct fs_stat st;
		char *sub =
		    *rel ? mig_strdup_printf("%s/%s", rel, de->d_name) : mig_xstrdup(de->d_name);
		if (stat_at(dirfd(d), de->d_name, &st) < 0) {
			if (errno != ENOENT)
				r = mig_err_set(w->err, errno, "stat %s", sub);
			free(sub);
			continue;
		}
		int other = other_mount(dst, &st);
		int f = w->fn(w, dirfd(d), de->d_name, &st, sub, other);
		if (f < 0)
			r = -1;
		if (f == 0 && !other && S_ISDIR(st.st.st_mode)) {
			int sfd = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sfd >= 0) {
				r = walk_dir(w, sfd, &st, sub);
				close(sfd);
			} else if (errno != ENOENT) {
				r = mig_err_set(w->err, errno, "open %s", sub);
			}
		}
		free(sub);
	}
	closedir(d);
	return r;
}

static int walk_fd(struct walk *w, int fd)
{
	struct fs_stat st;
	if (stat_at(fd, "", &st) < 0)
		return mig_err_set(w->err, errno, "stat");
	return walk_dir(w, fd, &st, "");
}

static int size_entry(struct walk *w, int dfd, const char *name, const struct fs_stat *st,
		      const char *rel, int other)
{
	(void)dfd, (void)name, (void)rel;
	if (!other && S_ISREG(st->st.st_mode))
		*(long long *)w->ctx += st->st.st_size;
	return other ? 1 : 0;
}

long long fs_tree_size_at(int dirfd, const char *rel)
{
	struct mig_err *e = NULL;
	int fd = fs_open_at(dirfd, rel, O_RDONLY | O_DIRECTORY, 0, &e);
	mig_err_free(&e);
	if (fd < 0)
		return 0;
	long long total = 0;
	struct walk w = {.fn = size_entry, .ctx = &total, .err = &e};
	walk_fd(&w, fd);
	mig_err_free(&e);
	close(fd);
	return total;
}

static int digest_entry(struct walk *w, int dfd, const char *name, const struct fs_stat *fst,
			const char *rel, int other)
{
	if (other) /* a mount below: rsync --one-file-system skips it too */
		return 1;
	const struct stat *st = &fst->st;
	struct {
		mode_t mode;
		uid_t uid;
		gid_t gid;
		off_t size;
		struct timespec mtim, ctim;
		ino_t ino;
		nlink_t nlink;
		dev_t rdev;
	} rec;
	memset(&rec, 0, sizeof(rec));
	rec.mode = st->st_mode, rec.uid = st->st_uid, rec.gid = st->st_gid;
	rec.size = st->st_size, rec.mtim = st->st_mtim, rec.ctim = st->st_ctim;
	/* A directory's times move with every entry made or removed in it, and runc's
	 * checkpoint makes and removes one in the rootfs's /tmp: what changed inside is
	 * compared entry by entry anyway.  (Only an xattr change on a directory goes unseen.) */
	if (S_ISDIR(st->st_mode)) {
		memset(&rec.mtim, 0, sizeof(rec.mtim));
		memset(&rec.ctim, 0, sizeof(rec.ctim));
		rec.size = 0;
	}
	rec.ino = st->st_ino, rec.nlink = st->st_nlink, rec.rdev = st->st_rdev;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, rel, strlen(rel) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, &rec, sizeof(rec)) != 1)
		abort();
	if (S_ISLNK(st->st_mode)) {
		char target[MAX_LINK_TARGET];
		ssize_t n = readlinkat(dfd, name, target, sizeof(target));
		if (n > 0)
			EVP_DigestUpdate(ctx, target, (size_t)n);
	}
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	uint64_t *lane = w->ctx;
	for (int i = 0; i < 4; i++) {
		uint64_t v;
		memcpy(&v, md + 8 * i, 8);
		lane[i] += v;
	}
	return 0;
}

int fs_tree_digest(int fd, unsigned char out[32], struct mig_err **err)
{
	uint64_t lane[4] = {0, 0, 0, 0};
	struct walk w = {.fn = digest_entry, .ctx = lane, .err = err};
	if (walk_fd(&w, fd) < 0)
		return mig_err_wrap(err, "walking the tree");
	memcpy(out, lane, 32);
	return 0;
}

/* ---- removing ---- */

static int leftover_name(const char *name)
{
	return !strcmp(name, RUNC_LEFTOVER) || !strncmp(name, CRIU_LEFTOVER, strlen(CRIU_LEFTOVER));
}

/* Detaches the mount at name in dfd through a descriptor of its root: the path is never
 * looked up again, so nothing swapped in meanwhile can be unmounted instead. */
static int detach(int dfd, const char *name, const char *rel, struct mig_err **err)
{
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : mig_err_set(err, errno, "open %s", rel);
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int r = umount2(proc, MNT_DETACH) < 0 ? mig_err_set(err, errno, "umount %s", rel) : 0;
	close(fd);
	return r;
}

static int leftover_entry(struct walk *w, int dfd, const char *name, const struct fs_stat *st,
			  const char *rel, int other)
{
	(void)st;
	if (!other)
		return 0;
	if (!leftover_name(name))
		return 1; /* not ours to unmount: the removal refuses it */
	return detach(dfd, name, rel, w->err) < 0 ? -1 : 1;
}

int fs_unmount_leftovers_at(int dirfd, const char *name, struct mig_err **err)
{
	struct fs_stat st;
	if (!plain_rel(name))
		return mig_err_set(err, 0, "refusing path '%s'", name);
	if (strchr(name, '/') == NULL && stat_at(dirfd, name, &st) < 0)
		return errno == ENOENT ? 0 : mig_err_set(err, errno, "stat %s", name);
	if (strchr(name, '/') == NULL && !S_ISDIR(st.st.st_mode))
		return 0; /* a file, or a link (never followed): nothing mounted below it */
	int fd = fs_open_at(dirfd, name, O_RDONLY | O_DIRECTORY, 0, err);
	if (fd < 0) {
		if ((*err)->errno_val == ENOENT) {
			mig_err_free(err);
			return 0;
		}
		return -1;
	}
	struct walk w = {.fn = leftover_entry, .err = err};
	int r = walk_fd(&w, fd);
	close(fd);
	return r < 0 ? mig_err_wrap(err, "unmounting what runc and CRIU left in %s", name) : 0;
}

static int remove_entry(int dfd, const char *name, const struct fs_stat *parent, const char *rel,
			struct mig_err **err);

static int remove_children(int fd, const struct fs_stat *self, const char *rel,
			   struct mig_err **err)
{
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup < 0 ? NULL : fdopendir(dup);
	if (!d) {
		if (dup >= 0)
			close(dup);
		return mig_err_set(err, errno, "opendir %s", rel);
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (dot_or_dotdot(de->d_name))
			continue;
		char *sub = mig_strdup_printf("%s/%s", rel, de->d_name);
		r = remove_entry(dirfd(d), de->d_name, self, sub, err);
		free(sub);
	}
	closedir(d);
	return r;
}

static int remove_entry(int dfd, const char *name, const struct fs_stat *parent, const char *rel,
			struct mig_err **err)
{
	struct fs_stat st;
	if (stat_at(dfd, name, &st) < 0)
		return errno == ENOENT ? 0 : mig_err_set(err, errno, "stat %s", rel);
	if (parent && other_mount(parent, &st))
		return mig_err_set(err, 0, "refusing to remove %s: it is a mount point", rel);
	if (!S_ISDIR(st.st.st_mode)) { /* a link, too, is unlinked itself */
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return mig_err_set(err, errno, "unlink %s", rel);
		return 0;
	}
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : mig_err_set(err, errno, "open %s", rel);
	/* What was opened is checked again: it may have been swapped since the stat. */
	struct fs_stat self;
	int r = stat_at(fd, "", &self) < 0 ? mig_err_set(err, errno, "stat %s", rel) : 0;
	if (r == 0 && ((parent && other_mount(parent, &self)) || self.st.st_ino != st.st.st_ino))
		r = mig_err_set(err, 0, "refusing to remove %s: it changed while being removed",
				rel);
	if (r == 0)
		r = remove_children(fd, &self, rel, err);
	close(fd);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = mig_err_set(err, errno, "rmdir %s", rel);
	return r;
}

int fs_clear_at(int dirfd, const char *name, struct mig_err **err)
{
	if (!plain_rel(name) || strchr(name, '/'))
		return mig_err_set(err, 0, "refusing to remove '%s': not a plain name", name);
	if (fs_unmount_leftovers_at(dirfd, name, err) < 0)
		return -1;
	struct fs_stat parent;
	if (stat_at(dirfd, "", &parent) < 0)
		return mig_err_set(err, errno, "stat the directory of %s", name);
	return remove_entry(dirfd, name, &parent, name, err);
}

int fs_clear_path(const char *path, struct mig_err **err)
{
	const char *slash = strrchr(path, '/');
	if (!slash || !slash[1] || dot_or_dotdot(slash + 1))
		return mig_err_set(err, 0, "refusing to remove '%s'", path);
	char *parent = slash == path ? mig_xstrdup("/") : strndup(path, (size_t)(slash - path));
	int pfd = open(parent ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(parent);
	if (pfd < 0)
		return errno == ENOENT ? 0 : mig_err_set(err, errno, "open the parent of %s", path);
	int r = fs_clear_at(pfd, slash + 1, err);
	close(pfd);
	return r < 0 ? mig_err_wrap(err, "%s", path) : 0;
}

/* ---- paths outside bundles ---- */

int fs_mkdir_p(const char *dir, unsigned mode, struct mig_err **err)
{
	char *p = mig_xstrdup(dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			mig_err_set(err, errno, "mkdir %s", p);
			free(p);
			return -1;
		}
		*s = '/';
	}
	int rc = 0;
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		rc = mig_err_set(err, errno, "mkdir %s", p);
	free(p);
	return rc;
}

int fs_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

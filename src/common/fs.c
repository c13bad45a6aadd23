/* The file-system module (fs.h). */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

char *fs_read_file(const char *path, size_t max, struct mig_err **err)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		mig_err_set(err, errno, "open %s", path);
		return NULL;
	}
	char *buf = mig_xmalloc(max + 1);
	size_t n = fread(buf, 1, max, f);
	int bad = ferror(f) || !feof(f);
	fclose(f);
	if (bad) {
		free(buf);
		mig_err_set(err, 0, "read %s: error or larger than %zu bytes", path, max);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

int fs_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static long long tree_size_at(int dfd, dev_t dev)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return 0;
	}
	long long total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue;
		if (S_ISREG(st.st_mode))
			total += st.st_size;
		else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				total += tree_size_at(sub, dev);
		}
	}
	closedir(d);
	return total;
}

long long fs_tree_size(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return 0;
	}
	return tree_size_at(fd, st.st_dev);
}

/* Mount points from /proc/self/mountinfo that are dir itself or below it, deepest last.
 * Mount paths there escape spaces etc. as \040; decode them. */
static size_t mounts_below(const char *dir, char ***out)
{
	*out = NULL;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return 0;
	size_t n = 0, dlen = strlen(dir);
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		char raw[PATH_MAX], mp[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", raw) != 1)
			continue;
		size_t j = 0;
		for (size_t i = 0; raw[i] && j + 1 < sizeof(mp); i++) {
			if (raw[i] == '\\' && raw[i + 1] && raw[i + 2] && raw[i + 3]) {
				mp[j++] = (char)strtol(
				    (char[]){raw[i + 1], raw[i + 2], raw[i + 3], 0}, NULL, 8);
				i += 3;
			} else {
				mp[j++] = raw[i];
			}
		}
		mp[j] = '\0';
		if (strncmp(mp, dir, dlen) || (mp[dlen] != '\0' && mp[dlen] != '/'))
			continue;
		*out = realloc(*out, (n + 1) * sizeof(char *));
		if (!*out)
			abort();
		(*out)[n++] = mig_xstrdup(mp);
	}
	free(line);
	fclose(f);
	return n;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

int fs_unmount_below(const char *dir, struct mig_err **err)
{
	char real[PATH_MAX];
	if (!realpath(dir, real))
		return errno == ENOENT ? 0 : mig_err_set(err, errno, "realpath %s", dir);
	char **m;
	size_t n = mounts_below(real, &m);
	int rc = 0;
	/* mountinfo lists parents before children: unmount in reverse. */
	for (size_t i = n; i-- > 0;) {
		if (umount2(m[i], UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT &&
		    umount2(m[i], MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
			rc = mig_err_set(err, errno, "umount %s", m[i]);
			break;
		}
	}
	free_list(m, n);
	return rc;
}

static int remove_at(int dfd, const char *name, dev_t dev, const char *path, struct mig_err **err)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : mig_err_set(err, errno, "stat %s", path);
	if (st.st_dev != dev)
		return mig_err_set(err, 0,
				   "refusing to remove %s: it is on another filesystem "
				   "(a mount point?)",
				   path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return mig_err_set(err, errno, "unlink %s", path);
		return 0;
	}
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return mig_err_set(err, errno, "open %s", path);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return mig_err_set(err, errno, "opendir %s", path);
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *sub = mig_strdup_printf("%s/%s", path, de->d_name);
		rc = remove_at(dirfd(d), de->d_name, dev, sub, err);
		free(sub);
	}
	closedir(d);
	if (rc == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = mig_err_set(err, errno, "rmdir %s", path);
	return rc;
}

int fs_remove_tree(const char *dir, struct mig_err **err)
{
	char real[PATH_MAX];
	if (!realpath(dir, real))
		return errno == ENOENT ? 0 : mig_err_set(err, errno, "realpath %s", dir);
	if (!strcmp(real, "/"))
		return mig_err_set(err, 0, "refusing to remove /");
	char **m;
	size_t n = mounts_below(real, &m);
	free_list(m, n);
	if (n)
		return mig_err_set(err, 0, "refusing to remove %s: %zu mount point%s below it", dir,
				   n, n == 1 ? " is" : "s are");
	char *slash = strrchr(real, '/');
	char *parent = slash == real ? mig_xstrdup("/") : strndup(real, (size_t)(slash - real));
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(parent);
	if (pfd < 0)
		return mig_err_set(err, errno, "open parent of %s", dir);
	struct stat st;
	int rc;
	if (fstatat(pfd, slash + 1, &st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = errno == ENOENT ? 0 : mig_err_set(err, errno, "stat %s", dir);
	else
		rc = remove_at(pfd, slash + 1, st.st_dev, real, err);
	close(pfd);
	return rc;
}

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

/* nftw() takes no context: the walk's state, one walk at a time. */
static struct {
	uint64_t lane[4];
	dev_t dev;
	size_t root_len;
	int failed;
} digest_walk;

static int digest_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_NS || type == FTW_DNR) {
		digest_walk.failed = errno ? errno : EACCES;
		return 1;
	}
	if (st->st_dev != digest_walk.dev) /* a mount below: rsync skips it too */
		return 0;
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
	const char *rel = path + digest_walk.root_len;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, rel, strlen(rel) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, &rec, sizeof(rec)) != 1)
		abort();
	if (type == FTW_SL) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target));
		if (n > 0)
			EVP_DigestUpdate(ctx, target, (size_t)n);
	}
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	for (int i = 0; i < 4; i++) {
		uint64_t v;
		memcpy(&v, md + 8 * i, 8);
		digest_walk.lane[i] += v;
	}
	return 0;
}

int fs_tree_digest(const char *dir, unsigned char out[32], struct mig_err **err)
{
	struct stat st;
	if (lstat(dir, &st) < 0)
		return mig_err_set(err, errno, "stat %s", dir);
	memset(&digest_walk, 0, sizeof(digest_walk));
	digest_walk.dev = st.st_dev;
	digest_walk.root_len = strlen(dir);
	int r = nftw(dir, digest_entry, 64, FTW_PHYS | FTW_MOUNT);
	if (r != 0 || digest_walk.failed)
		return mig_err_set(err, digest_walk.failed ? digest_walk.failed : errno,
				   "walking %s", dir);
	memcpy(out, digest_walk.lane, 32);
	return 0;
}

int fs_clear_tree(const char *dir, struct mig_err **err)
{
	int r = fs_unmount_below(dir, err);
	return r == 0 ? fs_remove_tree(dir, err) : r;
}

char *fs_read_tail(const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size == 0) {
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

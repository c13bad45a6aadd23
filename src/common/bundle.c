/* Bundles (bundle.h). */
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fs.h"

int bundle_load(const char *base, const char *name, struct bundle_info *b, struct mig_err **err)
{
	memset(b, 0, sizeof(*b));
	b->dir = mig_strdup_printf("%s/%s", base, name);
	char *cfg_path = bundle_path(b, "config.json");
	struct stat st;
	if (stat(b->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		mig_err_set(err, 0, "no bundle directory %s", b->dir);
		goto fail;
	}
	char *text = fs_read_file(cfg_path, 4 << 20, err);
	if (!text)
		goto fail;
	cJSON *cfg = cJSON_Parse(text);
	free(text);
	if (!cJSON_IsObject(cfg)) {
		cJSON_Delete(cfg);
		mig_err_set(err, 0, "%s is not a JSON object", cfg_path);
		goto fail;
	}
	const cJSON *proc = cJSON_GetObjectItemCaseSensitive(cfg, "process");
	b->terminal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(proc, "terminal"));
	const cJSON *root = cJSON_GetObjectItemCaseSensitive(cfg, "root");
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(root, "path");
	b->root_path = mig_xstrdup(cJSON_IsString(path) ? path->valuestring : "rootfs");
	cJSON_Delete(cfg);
	b->rootfs = b->root_path[0] == '/' ? mig_xstrdup(b->root_path)
					   : mig_strdup_printf("%s/%s", b->dir, b->root_path);
	free(cfg_path);
	return 0;
fail:
	free(cfg_path);
	bundle_free(b);
	return -1;
}

void bundle_free(struct bundle_info *b)
{
	free(b->dir);
	free(b->root_path);
	free(b->rootfs);
	memset(b, 0, sizeof(*b));
}

int bundle_lock(const struct bundle_info *b, struct mig_err **err)
{
	char *path = bundle_path(b, ".migrate.lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		mig_err_set(err, errno, "lock %s", path);
		free(path);
		return -1;
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
			    "(%s is locked by PID %s)",
			    path, holder[0] ? holder : "?");
		else
			mig_err_set(err, e, "lock %s", path);
		close(fd);
		free(path);
		return -1;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	/* A bundle dir where these bytes cannot be written cannot take an image either. */
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		mig_err_set(err, errno, "lock %s: cannot record our PID", path);
		close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

char *bundle_path(const struct bundle_info *b, const char *sub)
{
	return mig_strdup_printf("%s/%s", b->dir, sub);
}

int bundle_clear_dir(const struct bundle_info *b, const char *sub, struct mig_err **err)
{
	char *p = bundle_path(b, sub);
	int r = fs_clear_tree(p, err);
	free(p);
	return r;
}

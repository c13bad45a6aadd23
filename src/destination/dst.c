/* migrate-dst's shared context (dst.h). */
#include "dst.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "criu.h"
#include "log.h"

int dst_ctx_init(struct dst_ctx *d, const struct dst_config *cfg, struct mig_err **err)
{
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->authed_fd = -1;
	d->runc = cfg->runc;
	char real[PATH_MAX];
	if (!realpath(cfg->base_dir, real))
		return mig_err_set(err, errno, "base dir %s", cfg->base_dir);
	d->base_dir = mig_xstrdup(real);
	d->auth_on = !cfg->insecure;
	if (d->auth_on && auth_load_or_create(cfg->token_file, d->token, err) < 0)
		return -1;
	struct mig_err *e = NULL;
	if (runc_version(&d->runc, &d->runc_version, &e) < 0)
		d->runc_error = mig_err_take(&e);
	d->runc.version = d->runc_version; /* every restore needs it on cgroup v2 */
	if (criu_version(cfg->criu, &d->criu_version, &e) < 0)
		d->criu_error = mig_err_take(&e);
	return 0;
}

void dst_authenticated(struct dst_ctx *d)
{
	if (d->authed_fd < 0)
		return;
	pid_t pid = getpid();
	/* One small write to a pipe: atomic; a full pipe only costs the server's bookkeeping. */
	if (write(d->authed_fd, &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
		log_debug("telling the server about the authentication: %s", strerror(errno));
}

void dst_ctx_free(struct dst_ctx *d)
{
	free(d->base_dir);
	free(d->runc_version);
	free(d->runc_error);
	free(d->criu_version);
	free(d->criu_error);
	memset(d, 0, sizeof(*d));
}

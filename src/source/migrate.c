/* The outline every technique follows (migrate.h); the steps are in technique.h's files. */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "stop.h"
#include "technique.h"
#include "timeouts.h"

int check_stop(struct mig_err **err)
{
	if (stop_requested())
		return mig_err_set(err, 0, "interrupted by a signal");
	return 0;
}

static void migration_free(struct migration *m)
{
	postcopy_abort(m);
	xfer_master_stop(&m->xfer, &m->master);
	free(m->parent);
	session_close(&m->sess);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	bundle_free(&m->b);
	free(m->image);
	free(m->dst_bundle);
	free(m->page_server);
	if (m->criu_config[0])
		unlink(m->criu_config);
}

int migrate_run(const struct plan *p, struct mig_report *r)
{
	struct migration m = {.p = p, .r = r, .lock_fd = -1};
	session_init(&m.sess, p);
	long long t_start = proc_now_ms();
	m.xfer = (struct xfer_ctx){
	    .ssh = p->where.ssh,
	    .timeout_ms = XFER_MS,
	    .compress = p->how.compress ? compress_name(p->how.compress) : NULL,
	    .progress = p->out.progress,
	};
	snprintf(r->peer, sizeof(r->peer), "%s", p->where.ssh.host);
	criu_opts_str(&p->how.criu, r->criu_opts, sizeof(r->criu_opts));
	struct mig_err *e = NULL;
	int rc;
	if (preflight(&m, &e) < 0) {
		mig_err_wrap(&e, "refused before touching the container (it still runs here)");
		report_fail(r, EXIT_REFUSED, mig_err_msg(e));
		mig_err_free(&e);
		rc = EXIT_REFUSED;
	} else if (mig_precopy(&m) && precopy_rounds(&m, &e) < 0) {
		rc = dump_failed(&m, &e, 0, "pre-copy");
	} else {
		rc = freeze_and_move(&m);
	}
	r->total_ms = proc_now_ms() - t_start;
	migration_free(&m);
	return rc;
}

/* Pre-copy: memory is dumped and sent while the container runs, round after round, each
 * round chained on the previous one (CRIU dumps only what changed since), so that the final
 * dump inside the downtime carries little. */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "technique.h"

static int one_round(struct migration *m, int i, struct mig_err **err)
{
	char name[16], prev[32];
	snprintf(name, sizeof(name), "%d", i);
	snprintf(prev, sizeof(prev), "../%d", i - 1);
	char *dir = mig_strdup_printf("%s/%s", m->parent, name);
	struct runc_ckpt c = {.image_path = dir,
			      .pre_dump = 1,
			      .parent_path = i > 1 ? prev : NULL,
			      .opts = &m->p->how.criu};
	struct report_pre_dump *pre = &m->r->pre[m->r->n_pre];
	int timed_out = 0;
	long long t0 = proc_now_ms();
	int r = runc_checkpoint(&m->dump_runc, m->p->what.container, &c, &timed_out, err);
	pre->dump_ms = proc_now_ms() - t0;
	pre->bytes = pre->xfer_ms = pre->xfer_bytes = REPORT_NONE;
	m->r->n_pre++;
	if (r < 0) {
		mig_err_wrap(err, "pre-dump %d%s", i, timed_out ? " (timed out)" : "");
		free(dir);
		return -1;
	}
	free(dir);
	char sub[32];
	snprintf(sub, sizeof(sub), "parent/%d", i);
	pre->bytes = bundle_tree_size(&m->b, sub);
	const char *srcs[] = {m->parent};
	struct xfer_stats st;
	m->xfer.label = "pre-dump";
	if (xfer_rsync(&m->xfer, XFER_IMAGE, srcs, 1, m->dst_bundle, &st, err) < 0)
		return mig_err_wrap(err, "sending pre-dump %d", i);
	pre->xfer_ms = st.elapsed_ms;
	pre->xfer_bytes = st.bytes_sent;
	snprintf(m->parent_rel, sizeof(m->parent_rel), "../parent/%d", i);
	log_info("pre-dump %d: %lld bytes in %lld ms, sent in %lld ms", i, pre->bytes, pre->dump_ms,
		 pre->xfer_ms);
	return 0;
}

int precopy_rounds(struct migration *m, struct mig_err **err)
{
	if (bundle_clear_dir(&m->b, "parent", err) < 0 || bundle_make_dir(&m->b, "parent", err) < 0)
		return -1;
	for (int i = 1; i <= m->p->how.pre_dumps && i <= REPORT_MAX_PRE; i++) {
		if (one_round(m, i, err) < 0)
			return -1;
		long long bytes = m->r->pre[m->r->n_pre - 1].bytes;
		long long converge = m->p->how.converge_bytes;
		if (converge > 0 && bytes < converge) {
			log_info("pre-dump %d dumped %lld bytes (< %lld): converged", i, bytes,
				 converge);
			break;
		}
	}
	return 0;
}

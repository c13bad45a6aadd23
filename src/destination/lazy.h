/* migrate-dst, post-copy: the `criu lazy-pages` daemon that fetches the memory pages from
 * the source's page server after `runc restore --lazy-pages`. */
#ifndef MIG_DST_LAZY_H
#define MIG_DST_LAZY_H

#include <cjson/cJSON.h>

#include "bundle.h"
#include "err.h"
#include "pages.h"
#include "proc.h"

struct dst_lazy {
	struct proc proc;
	int running;
	char *log; /* its log file, for the bytes it fetched */
};

/* Starts the daemon on the session's pages connection (pages.h: handed over, closed here
 * whatever happens), and waits for its socket in BUNDLE/work, which `criu restore
 * --lazy-pages` connects to.  The daemon may live LAZY_FACTOR steps. */
int lazy_start(struct dst_lazy *l, const char *criu, int step_ms, struct dst_pages *pages,
	       const struct bundle_info *b, struct mig_err **err);

/* Waits for the daemon to fetch every page and exit.  Fails when it did not finish well
 * (then the restored copy is missing memory).  *bytes: the bytes it fetched, from its log
 * (-1 unknown). */
int lazy_wait(struct dst_lazy *l, long long *bytes, struct mig_err **err);

/* lazy_wait for at most wait_ms: 1 while the daemon still runs, else as lazy_wait. */
int lazy_poll(struct dst_lazy *l, int wait_ms, long long *bytes, struct mig_err **err);

/* After a failed lazy restore: adds to *err whether the daemon had ended first (how) and
 * what its log says went wrong, so that the cause is not only the restore's side of it
 * ("Failed sending restore finished indication" when the daemon was gone). */
void lazy_explain(struct dst_lazy *l, struct mig_err **err);

/* Ends the daemon if it runs; frees what l holds. */
void lazy_stop(struct dst_lazy *l);

#endif

/* Experiment loops: one migration, or with --repeat N, N migrations back and forth: odd
 * runs go from here to DEST (migrate.h), even runs come back, made by DEST's own
 * migrate-src, started over SSH with --json and read back as a report.  Each run's report
 * goes to the caller as soon as it is known (printed and appended to --csv there); a loop
 * stops at the first failed run, since the container's place is then for a person to
 * check, and at a stop request (stop.h). */
#ifndef MIG_LOOP_H
#define MIG_LOOP_H

#include "err.h"
#include "plan.h"
#include "report.h"

/* Given each run's report, run is 1-based. */
typedef void (*loop_report_fn)(const struct plan *p, const struct mig_report *r, void *ctx);

/* Median, min and max of the migrated runs. */
struct loop_summary {
	int runs;     /* runs done */
	int migrated; /* of which migrated */
	long long downtime_ms[3], total_ms[3];
	int stopped; /* a stop request ended the loop early; after which run */
};

/* Runs what p asks for.  Returns the exit code of the last run (0 when all migrated), or
 * EXIT_USAGE with *err when the way back cannot be worked out before the first run. */
int loop_run(const struct plan *p, loop_report_fn on_report, void *ctx, struct loop_summary *sum,
	     struct mig_err **err);

/* The argv of the way-back migrate-src, run on DEST towards back_host (for tests).
 * argv needs room for PLAN_MAX_BACK_OPT + 40 entries; strings live in buf. */
void loop_back_argv(const struct plan *p, const char *back_host, const char *argv[], char buf[64]);

#endif

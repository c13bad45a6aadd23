/* Experiment loops: what migrate-src's main runs.  One migration, or with --repeat N, N
 * migrations back and forth: odd runs go from here to DEST (migrate.h), even runs come back,
 * made by DEST's own migrate-src, started over SSH with --json and read back as a report.
 * Each run's report is printed (table or JSON line) and appended to --csv; a loop ends with
 * a summary (median, min, max) and stops at the first failed run, since the container's
 * place is then for a person to check. */
#ifndef MIG_LOOP_H
#define MIG_LOOP_H

#include "cli.h"

/* Runs what o asks for; returns the exit code of the last run (0 when all migrated). */
int loop_run(const struct src_opts *o);

/* The argv of the way-back migrate-src, run on DEST towards back_host (for tests).
 * argv needs room for MAX_BACK_OPT + 24 entries; strings live in buf. */
void loop_back_argv(const struct src_opts *o, const char *back_host, const char *argv[],
		    char buf[64]);

#endif

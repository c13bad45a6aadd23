/* What migrate-src prints, and only its main calls it: each run's report (the table or one
 * JSON line on stdout, the error and the warnings on stderr) and its --csv row, the
 * summary of a --repeat loop, and the doctor's checklist. */
#ifndef MIG_OUTPUT_H
#define MIG_OUTPUT_H

#include "doctor.h"
#include "loop.h"
#include "plan.h"
#include "report.h"

/* A loop_report_fn: prints r and appends it to --csv. */
void output_run(const struct plan *p, const struct mig_report *r, void *ctx);

/* The summary line(s) of a --repeat loop (nothing for a single run). */
void output_summary(const struct plan *p, const struct loop_summary *sum);

/* The doctor's checklist (table or JSON). */
void output_doctor(const struct plan *p, const struct doctor_result *res);

#endif

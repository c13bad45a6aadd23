/* The migration techniques, driven by migrate-src.
 *
 * Every technique follows the same outline: preflight (nothing touched: local bundle and
 * container, SSH, control channel, hello, the destination's check, a first rootfs pass),
 * then the freeze (final checkpoint, transfer, restore request, commit), then the outcome.
 * Any failure after the freeze rolls back: the container is restored on the source from its
 * own image, so a failed migration leaves it running on exactly one host (exit 3), or says
 * where its image is when even that fails (exit 4).  docs/design.md has a table per
 * technique. */
#ifndef MIG_MIGRATE_H
#define MIG_MIGRATE_H

#include "plan.h"
#include "report.h"

/* Runs the migration p describes, filling r.  Returns the exit code (enum exit_code).
 * A stop requested by a signal (stop.h) is honoured at the next step boundary: before the
 * freeze a refusal, after it a rollback. */
int migrate_run(const struct plan *p, struct mig_report *r);

#endif

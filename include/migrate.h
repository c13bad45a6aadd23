/* The migration techniques, driven by migrate-src.
 *
 * Every technique follows the same outline: preflight (nothing touched: local bundle and
 * container, SSH, control channel, hello, the destination's check, a first rootfs pass),
 * then the freeze (final checkpoint, transfer, restore request), then the outcome.  Any
 * failure after the freeze rolls back: the container is restored on the source from its own
 * image, so a failed migration leaves it running on exactly one host (exit 3), or says where
 * its image is when even that fails (exit 4). */
#ifndef MIG_MIGRATE_H
#define MIG_MIGRATE_H

#include "cli.h"
#include "report.h"

/* Runs the migration o describes, filling r.  Returns the exit code (enum exit_code). */
int migrate_run(const struct src_opts *o, struct mig_report *r);

/* Set from a SIGINT/SIGTERM handler: the migration stops at the next step boundary (before
 * the freeze: refused; after it: rolled back). */
void migrate_request_stop(void);

/* 1 once a stop was requested (experiment loops end there). */
int migrate_stop_requested(void);

#endif

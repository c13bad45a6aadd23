/* SIGINT and SIGTERM as a request to stop at the next safe point, for both programs.
 *
 * A signal must never kill migrate-src between checkpoint and restore (that would lose the
 * container), and a handler of migrate-dst must clean up what it began: so the signals
 * only set a flag, and every wait looks at it.  One policy for both programs: the handlers
 * are installed without SA_RESTART, so a blocking call returns EINTR and its loop sees the
 * flag; SIGPIPE is ignored (a vanished peer is an error to report, not a death). */
#ifndef MIG_STOP_H
#define MIG_STOP_H

#include <signal.h>

/* Installs the handlers (SIGINT, SIGTERM) and ignores SIGPIPE; clears the flag. */
void stop_install(void);

/* 1 once a signal (or stop_request) asked to stop. */
int stop_requested(void);

/* Asks to stop, as a signal would. */
void stop_request(void);

/* The flag itself, for code that takes a pointer to it (facts_opts.stop). */
volatile sig_atomic_t *stop_flag(void);

#endif

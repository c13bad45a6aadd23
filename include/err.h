/* Error objects carried up the stack (in the style of crun's libcrun_error_t).
 *
 * Functions that can fail take `struct mig_err **err` as their last argument, return a
 * negative value on failure and fill *err; callers add context with mig_err_wrap() and the
 * caller that ends the error's life prints it once: the two mains, and migrate-dst's server
 * loop and connection handler (a server has nobody above it to hand an error to: the
 * handler prints it and sends it to the peer).  Nothing else prints an error or a warning: a
 * non-fatal problem deeper down becomes a warning in the report (report_warn), printed with it.
 * Progress goes to the levelled log (log.h) at info or debug level from anywhere.
 *
 * Ownership: a function that takes `struct mig_err **cause` (not `err`) takes the error
 * over: it frees it and sets *cause to NULL, whatever it returns.
 *
 * Decisions are never taken on message text: an error carries a status for the cases a
 * caller must tell apart (a timeout, the peer closing the connection), and its errno. */
#ifndef MIG_ERR_H
#define MIG_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum mig_status {
	MIG_FAILED = 0, /* anything else */
	MIG_TIMEOUT,	/* a wait ran out of time: "no answer yet" */
	MIG_CLOSED,	/* the peer closed or reset the connection */
	MIG_STOPPED,	/* a wait ended because SIGINT/SIGTERM asked to stop (stop.h) */
};

struct mig_err {
	enum mig_status status;
	int errno_val; /* errno of the failing syscall, or 0 */
	char *msg;     /* full message, context first: "restore: runc: exit 1: ..." */
};

/* Sets *err (if err is non-NULL and *err is NULL) and returns -1.  With errno_val != 0 the
 * message gets ": strerror(errno_val)" appended. */
int mig_err_set(struct mig_err **err, int errno_val, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mig_err_set with a status (and no strerror in the message). */
int mig_err_set_status(struct mig_err **err, enum mig_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The status of err; MIG_FAILED for NULL. */
enum mig_status mig_err_status(const struct mig_err *err);

/* Prefixes the message of an existing error with "context: ".  Returns -1. */
int mig_err_wrap(struct mig_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends "; text" to the message of an existing error (a consequence, such as a cleanup
 * that failed too).  Returns -1. */
int mig_err_append(struct mig_err **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Frees *err and sets it to NULL; NULL-safe. */
void mig_err_free(struct mig_err **err);

/* The message of *err as a malloc'ed string, and *err freed ("unknown error" for NULL). */
char *mig_err_take(struct mig_err **err);

/* The message of err, or "unknown error" when err is NULL. */
const char *mig_err_msg(const struct mig_err *err);

/* Formats into a freshly allocated string; aborts on out of memory (like xasprintf). */
char *mig_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mig_strdup_vprintf(const char *fmt, va_list ap);

/* Allocation wrappers that abort on out of memory: a migration tool that cannot allocate a
 * few bytes cannot do anything useful, and checking every small allocation hides the logic. */
void *mig_xmalloc(size_t n);
void *mig_xcalloc(size_t n, size_t size);
void *mig_xrealloc(void *p, size_t n);
char *mig_xstrdup(const char *s);

#endif

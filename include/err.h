/* Error objects carried up the stack (in the style of crun's libcrun_error_t).
 *
 * Functions that can fail take `struct mig_err **err` as their last argument, return a
 * negative value on failure and fill *err; callers add context with mig_err_wrap() and the
 * outermost caller prints it once.  Nothing deep in the stack prints an error itself. */
#ifndef MIG_ERR_H
#define MIG_ERR_H

#include <stdarg.h>
#include <stddef.h>

struct mig_err {
	int errno_val; /* errno of the failing syscall, or 0 */
	char *msg;     /* full message, context first: "restore: runc: exit 1: ..." */
};

/* Sets *err (if err is non-NULL and *err is NULL) and returns -1.  With errno_val != 0 the
 * message gets ": strerror(errno_val)" appended. */
int mig_err_set(struct mig_err **err, int errno_val, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mig_err_set for a wait that ran out of time: errno_val is ETIMEDOUT (without
 * strerror in the message), so callers can tell "no answer yet" from "connection gone". */
int mig_err_set_timeout(struct mig_err **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 1 when err was made by mig_err_set_timeout (or with errno_val ETIMEDOUT). */
int mig_err_timed_out(const struct mig_err *err);

/* Prefixes the message of an existing error with "context: ".  Returns -1. */
int mig_err_wrap(struct mig_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees *err and sets it to NULL; NULL-safe. */
void mig_err_free(struct mig_err **err);

/* The message of err, or "unknown error" when err is NULL. */
const char *mig_err_msg(const struct mig_err *err);

/* Formats into a freshly allocated string; aborts on out of memory (like xasprintf). */
char *mig_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mig_strdup_vprintf(const char *fmt, va_list ap);

/* Allocation wrappers that abort on out of memory: a migration tool that cannot allocate a
 * few bytes cannot do anything useful, and checking every small allocation hides the logic. */
void *mig_xmalloc(size_t n);
void *mig_xcalloc(size_t n, size_t size);
char *mig_xstrdup(const char *s);

#endif

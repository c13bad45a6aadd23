#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void)
{
	static const char m[] = "fatal: out of memory\n";
	(void)!fwrite(m, 1, sizeof(m) - 1, stderr);
	abort();
}

void *mig_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *mig_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *mig_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *mig_xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		oom();
	return p;
}

char *mig_strdup_vprintf(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	return s;
}

char *mig_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = mig_strdup_vprintf(fmt, ap);
	va_end(ap);
	return s;
}

int mig_err_set(struct mig_err **err, int errno_val, const char *fmt, ...)
{
	if (!err || *err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *msg = mig_strdup_vprintf(fmt, ap);
	va_end(ap);
	struct mig_err *e = mig_xcalloc(1, sizeof(*e));
	e->errno_val = errno_val;
	if (errno_val) {
		e->msg = mig_strdup_printf("%s: %s", msg, strerror(errno_val));
		free(msg);
	} else {
		e->msg = msg;
	}
	*err = e;
	return -1;
}

int mig_err_set_status(struct mig_err **err, enum mig_status st, const char *fmt, ...)
{
	if (!err || *err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	struct mig_err *e = mig_xcalloc(1, sizeof(*e));
	e->status = st;
	e->msg = mig_strdup_vprintf(fmt, ap);
	va_end(ap);
	*err = e;
	return -1;
}

enum mig_status mig_err_status(const struct mig_err *err)
{
	return err ? err->status : MIG_FAILED;
}

int mig_err_wrap(struct mig_err **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *ctx = mig_strdup_vprintf(fmt, ap);
	va_end(ap);
	char *msg = mig_strdup_printf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = msg;
	return -1;
}

int mig_err_append(struct mig_err **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *more = mig_strdup_vprintf(fmt, ap);
	va_end(ap);
	char *msg = mig_strdup_printf("%s; %s", (*err)->msg, more);
	free(more);
	free((*err)->msg);
	(*err)->msg = msg;
	return -1;
}

char *mig_err_take(struct mig_err **err)
{
	char *s = mig_xstrdup(mig_err_msg(err ? *err : NULL));
	mig_err_free(err);
	return s;
}

void mig_err_free(struct mig_err **err)
{
	if (!err || !*err)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}

const char *mig_err_msg(const struct mig_err *err)
{
	return err && err->msg ? err->msg : "unknown error";
}

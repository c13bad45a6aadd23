/* Migration reports: a phase table for people and one JSON line for scripts.
 * Both programs fill a struct mig_report as a migration goes and print it once at the end. */
#ifndef MIG_REPORT_H
#define MIG_REPORT_H

#include <stdio.h>

/* A value not measured (the phase did not run) is REPORT_NONE: "-" in the table, null in JSON. */
#define REPORT_NONE    (-1LL)
#define REPORT_MAX_PRE 64

struct report_pre_dump {
	long long dump_ms, bytes, xfer_ms, xfer_bytes;
};

struct mig_report {
	const char *role; /* "source" or "destination" */
	char container[129];
	char technique[16];
	char peer[256]; /* the other host */
	int ok;
	int exit_code;	   /* the exit code the program ends with */
	char error[1024];  /* "" when ok */
	long long sync_ms; /* rootfs first pass, container still running */
	long long sync_bytes;
	long long dump_ms;     /* the final checkpoint */
	long long dump_bytes;  /* size of the image directory */
	long long xfer_ms;     /* image + rootfs delta transfer, inside the downtime */
	long long xfer_bytes;  /* bytes rsync sent for it */
	long long restore_ms;  /* runc restore on the destination */
	long long downtime_ms; /* checkpoint start -> destination reports the container running */
	long long total_ms;
	long long lazy_ms;	  /* post-copy: container running -> all pages on the destination */
	long long lazy_bytes;	  /* post-copy: bytes of memory fetched lazily */
	long long page_server_ms; /* post-copy: restore reply -> the source's page server exited */
	size_t n_pre;
	struct report_pre_dump pre[REPORT_MAX_PRE];
};

/* Every number REPORT_NONE, ok 0, role and container set. */
void report_init(struct mig_report *r, const char *role, const char *container,
		 const char *technique);

/* Records a failure: keeps the first error text given (the cause, not its consequences). */
void report_fail(struct mig_report *r, int exit_code, const char *error);

/* "1.5 MiB", "512 B", "-" for REPORT_NONE, into buf. */
const char *report_fmt_bytes(long long bytes, char *buf, size_t len);

/* The whole report as one line of JSON (no newline), malloc'ed. */
char *report_json(const struct mig_report *r);

/* The phase table. */
void report_print_table(const struct mig_report *r, FILE *out);

#endif

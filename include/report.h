/* Migration reports: a phase table for people, one JSON line for scripts, and CSV rows for
 * spreadsheets and plotting scripts.
 * Both programs fill a struct mig_report as a migration goes and print it once at the end. */
#ifndef MIG_REPORT_H
#define MIG_REPORT_H

#include <stdio.h>
#include <time.h>

#include "err.h"
#include "stats.h"

/* A value not measured (the phase did not run) is REPORT_NONE: "-" in the table, null in JSON,
 * an empty cell in CSV. */
#define REPORT_NONE    (-1LL)
#define REPORT_MAX_PRE 64

struct report_pre_dump {
	long long dump_ms, bytes, xfer_ms, xfer_bytes;
};

struct mig_report {
	int run;	  /* 1-based index inside a --repeat loop, 0 when not repeating */
	char started[32]; /* UTC ISO-8601 start, "2026-11-26T01:02:03Z"; "" unknown */
	const char *role; /* "source" or "destination" */
	char container[129];
	char technique[16];
	char criu_opts[192]; /* the CRIU options asked for (criu_opts_str), "" for none */
	char peer[256];	     /* the other host */
	int ok;
	int exit_code;	     /* the exit code the program ends with */
	char error[1024];    /* "" when ok */
	char warnings[1024]; /* what went wrong without failing ("; "-separated), or "";
			      * "notes" in JSON and CSV */
	long long sync_ms;   /* rootfs first pass, container still running */
	long long sync_bytes;
	long long dump_ms;     /* the final checkpoint */
	long long dump_bytes;  /* size of the image directory */
	long long xfer_ms;     /* image + rootfs delta transfer, inside the downtime */
	long long xfer_bytes;  /* bytes rsync sent for it */
	long long restore_ms;  /* runc restore on the destination */
	long long downtime_ms; /* checkpoint start -> destination reports the container running */
	long long total_ms;
	long long lazy_ms;    /* post-copy: container running -> all pages on the destination */
	long long lazy_bytes; /* post-copy: bytes of memory fetched lazily */
	long long lazy_wire_bytes; /* post-copy, source: bytes the page tunnel carried to the
				    * destination (pages and CRIU's headers) */
	long long page_server_ms;  /* post-copy: restore reply -> the source's page server exited */
	size_t n_pre;
	struct report_pre_dump pre[REPORT_MAX_PRE];
	/* CRIU's own statistics (stats.h), kept in CRIU's microseconds; JSON and CSV give them
	 * as milliseconds with three decimals (keys frozen_ms, ...).  Of the final dump: */
	long long frozen_us;   /* the container really stopped (JSON frozen_ms) */
	long long freezing_us; /* stopping it (freezer) */
	long long memdump_us, memwrite_us;
	long long pages_scanned, pages_written, pages_skipped_parent, pages_lazy;
	/* of the restore (JSON criu_restore_ms, forking_ms, pages_restored): */
	long long criu_restore_us, forking_us, pages_restored;
};

/* Every number REPORT_NONE, ok 0, run 0, role and container set, started = now. */
void report_init(struct mig_report *r, const char *role, const char *container,
		 const char *technique);

/* started = t as UTC ISO-8601 ("2026-11-26T01:02:03Z"). */
void report_set_started(struct mig_report *r, time_t t);

/* Takes CRIU's numbers of the final dump (stats_read_dump()).  Statistics that describe no
 * dump (stats_dump_valid() false: CRIU 4.1.1 after a lazy dump) are left out, so the report
 * shows "not measured" instead of CRIU's garbage frozen time. */
void report_add_dump_stats(struct mig_report *r, const struct criu_dump_stats *s);

/* Takes CRIU's numbers of the restore (stats_read_restore()); ignored when not present. */
void report_add_restore_stats(struct mig_report *r, const struct criu_restore_stats *s);

/* Adds a warning: something went wrong without failing the migration (a statistic that
 * could not be read, a pause that did not work).  The report's owner prints it with the
 * report (err.h: nothing else prints); JSON and CSV carry them as "notes". */
void report_warn(struct mig_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records a failure: keeps the first error text given (the cause, not its consequences). */
void report_fail(struct mig_report *r, int exit_code, const char *error);

/* "1.5 MiB", "512 B", "-" for REPORT_NONE, into buf. */
const char *report_fmt_bytes(long long bytes, char *buf, size_t len);

/* The whole report as one line of JSON (no newline), malloc'ed. */
char *report_json(const struct mig_report *r);

/* The phase table, with a "CRIU" section when CRIU's statistics were added. */
void report_print_table(const struct mig_report *r, FILE *out);

/* As a program prints it: one JSON line with json, else the table unless verbose < 0. */
void report_print(const struct mig_report *r, int json, int verbose, FILE *out);

/* CSV (RFC 4180): one header line, then one row per migration, one column per JSON scalar
 * in this fixed order:
 *   run, started, role, container, technique, peer, criu_opts, ok, exit_code, sync_ms, sync_bytes,
 *   dump_ms, dump_bytes, xfer_ms, xfer_bytes, restore_ms, downtime_ms, total_ms, lazy_ms,
 *   lazy_bytes, lazy_wire_bytes, page_server_ms, pre_dumps, frozen_ms, freezing_ms, memdump_ms,
 * memwrite_ms, pages_scanned, pages_written, pages_skipped_parent, pages_lazy, criu_restore_ms,
 *   forking_ms, pages_restored, notes, error
 * pre_dumps is the number of pre-copy rounds (the JSON array's length); ok is true/false;
 * a value not measured (null in JSON) is an empty cell; text cells are quoted when they hold
 * a comma, a double quote, CR or LF, with quotes doubled.  Lines end with "\n". */
void report_csv_header(FILE *out);
void report_csv_row(const struct mig_report *r, FILE *out);

/* Appends r's row to the CSV file at path (created 0644), with the header first when the
 * file is empty; locked, so concurrent loops do not interleave. */
int report_csv_append(const char *path, const struct mig_report *r, struct mig_err **err);

/* Fills r (already report_init'ed) from a report_json() line, e.g. one printed by the
 * migrate-src of the other host.  role is left as it is. */
int report_from_json(struct mig_report *r, const char *json, struct mig_err **err);

#endif

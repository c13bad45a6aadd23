/* migrate-src --check: a doctor that changes nothing and reports, for both hosts, whether
 * each technique can run.
 *
 * It opens the same SSH session and control channel as a migration, asks migrate-dst for its
 * host facts (the "doctor" request) while it gathers the same facts here (facts.h), checks
 * rsync on both ends and through ssh (a dry run), compares versions, and prints one line per
 * check (OK, WARN or FAIL) and which techniques can run.  It never checkpoints, never writes
 * into a bundle, and takes no locks: it neither waits for nor holds up a migration.
 *
 * The rules (docs/protocol.md and README.md say the same):
 * - every check applies to some techniques (needed_by); a technique can run when no check
 *   it needs fails.  A failing check the chosen technique does not need is shown as WARN.
 * - CRIU versions: a different major version on the two hosts fails every technique (a
 *   CRIU major release may change the image format, so the destination may not restore what
 *   the source dumped); a different minor version is a warning; patch levels do not matter.
 *   runc versions that differ are only a warning: runc does not write the image.
 * - free space (both hosts): the image is about the container's anonymous + shared memory;
 *   the destination also receives the rootfs changes (the dry run's size).  Less free space
 *   than that fails, less than twice that warns. */
#ifndef MIG_DOCTOR_H
#define MIG_DOCTOR_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "facts.h"
#include "mig.h"
#include "plan.h"

enum check_status { CHECK_OK = 0, CHECK_WARN, CHECK_FAIL };

#define TECH_BIT(t) (1u << (t))
#define TECHS_ALL   0xfu
#define TECHS_PRE   (TECH_BIT(TECH_PRECOPY) | TECH_BIT(TECH_HYBRID))
#define TECHS_LAZY  (TECH_BIT(TECH_POSTCOPY) | TECH_BIT(TECH_HYBRID))

#define DOCTOR_MAX_CHECKS 48

struct doctor_check {
	const char *host; /* "source", "destination", "link" or "both" */
	const char *name;
	enum check_status status; /* as shown */
	int failed;		  /* it fails for the techniques in needed_by */
	unsigned needed_by;	  /* TECH_BIT()s */
	char *detail;
};

struct doctor_report {
	enum technique chosen;
	struct doctor_check checks[DOCTOR_MAX_CHECKS];
	size_t n;
	unsigned blocked; /* techniques that some failing check needs */
};

/* What doctor_run() learnt about the link between the hosts.  A step that was not tried
 * has *_ok -1 and its detail says why. */
struct doctor_link {
	int direct;
	int ssh_ok;
	char *ssh_detail;
	int control_ok;
	char *control_detail;
	int auth_on;
	int dst_ok; /* the destination's facts arrived */
	char *dst_detail;
	int probe_ok; /* rsync through ssh, as a dry run */
	char *probe_detail;
	long long probe_bytes; /* what the rootfs pass would send; -1 unknown */
	char *rsync_version;   /* local */
	char *rsync_error;
	int dst_rsync_ok; /* rsync --version over the SSH session */
	char *dst_rsync_version;
	char *dst_rsync_error;
	int interrupted;
};

enum version_diff {
	VERSION_SAME = 0,
	VERSION_PATCH,
	VERSION_MINOR,
	VERSION_MAJOR,
	VERSION_UNKNOWN
};

/* Compares the leading MAJOR.MINOR.PATCH numbers of two version strings ("4.1.1",
 * "1.1.15+ds1"); suffixes are ignored. */
enum version_diff doctor_version_diff(const char *a, const char *b);

/* The checks, from the source's facts, the destination's (NULL when they did not arrive)
 * and the link.  Pure: no I/O.  Free with doctor_report_free(). */
void doctor_evaluate(const struct plan *o, const struct host_facts *src,
		     const struct host_facts *dst, const struct doctor_link *l,
		     struct doctor_report *r);
void doctor_report_free(struct doctor_report *r);

int doctor_can_run(const struct doctor_report *r, enum technique t);

/* The checklist, one line per check, then the techniques. */
void doctor_print_table(const struct doctor_report *r, FILE *out);

/* Everything as one JSON object: container, destination, technique, ok, exit_code,
 * techniques, checks, facts {source, destination}. */
cJSON *doctor_json(const struct plan *o, const struct doctor_report *r,
		   const struct host_facts *src, const struct host_facts *dst);

void doctor_link_free(struct doctor_link *l);

/* Everything one run of the doctor learnt. */
struct doctor_result {
	struct doctor_report report;
	struct host_facts src, dst;
	int have_dst; /* dst arrived */
	struct doctor_link link;
};

/* Runs the doctor for p (a stop request ends it early, stop.h).  Returns EXIT_MIGRATED (0)
 * when the chosen technique can run, EXIT_REFUSED (2) when it cannot; res holds what was
 * found, for printing (doctor_print_table, doctor_json).  Free with doctor_result_free. */
int doctor_run(const struct plan *p, struct doctor_result *res);
void doctor_result_free(struct doctor_result *res);

#endif

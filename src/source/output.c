/* What migrate-src prints (output.h). */
#include "output.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"

void output_run(const struct plan *p, const struct mig_report *r, void *ctx)
{
	(void)ctx;
	if (!r->ok)
		log_error("%s", r->error);
	if (r->warnings[0])
		log_warn("%s", r->warnings);
	if (!p->out.json && p->out.verbose >= 0 && r->run)
		printf("run %d of %d: %s\n", r->run, p->loop.repeat, r->run % 2 ? "there" : "back");
	report_print(r, p->out.json, p->out.verbose, stdout);
	struct mig_err *e = NULL;
	if (p->out.csv && report_csv_append(p->out.csv, r, &e) < 0) {
		log_error("%s", mig_err_msg(e));
		mig_err_free(&e);
	}
}

void output_summary(const struct plan *p, const struct loop_summary *s)
{
	if (s->stopped)
		log_warn("loop stopped after run %d: interrupted by a signal", s->stopped);
	if (p->loop.repeat <= 1)
		return;
	const long long *d = s->downtime_ms, *t = s->total_ms;
	const char *name = p->what.container, *tech = technique_name(p->how.technique);
	if (p->out.json) {
		printf(
		    "{\"summary\":true,\"container\":\"%s\",\"technique\":\"%s\",\"runs\":%d,"
		    "\"migrated\":%d,\"downtime_ms\":{\"median\":%lld,\"min\":%lld,\"max\":%lld},"
		    "\"total_ms\":{\"median\":%lld,\"min\":%lld,\"max\":%lld}}\n",
		    name, tech, s->runs, s->migrated, d[0], d[1], d[2], t[0], t[1], t[2]);
	} else if (p->out.verbose >= 0) {
		printf("summary: %d of %d runs migrated %s (%s)\n", s->migrated, p->loop.repeat,
		       name, tech);
		if (s->migrated > 0)
			printf("  downtime  median %lld ms  min %lld ms  max %lld ms\n"
			       "  total     median %lld ms  min %lld ms  max %lld ms\n",
			       d[0], d[1], d[2], t[0], t[1], t[2]);
	}
	fflush(stdout);
}

void output_doctor(const struct plan *p, const struct doctor_result *res)
{
	if (p->out.json) {
		cJSON *j =
		    doctor_json(p, &res->report, &res->src, res->have_dst ? &res->dst : NULL);
		char *txt = cJSON_PrintUnformatted(j);
		printf("%s\n", txt);
		free(txt);
		cJSON_Delete(j);
	} else if (p->out.verbose >= 0) {
		doctor_print_table(&res->report, stdout);
	}
	fflush(stdout);
}

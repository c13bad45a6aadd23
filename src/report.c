#include "report.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "err.h"

void report_init(struct mig_report *r, const char *role, const char *container,
		 const char *technique)
{
	memset(r, 0, sizeof(*r));
	r->role = role;
	snprintf(r->container, sizeof(r->container), "%s", container ? container : "");
	snprintf(r->technique, sizeof(r->technique), "%s", technique ? technique : "");
	r->sync_ms = r->sync_bytes = REPORT_NONE;
	r->dump_ms = r->dump_bytes = REPORT_NONE;
	r->xfer_ms = r->xfer_bytes = REPORT_NONE;
	r->restore_ms = r->downtime_ms = r->total_ms = REPORT_NONE;
	r->lazy_ms = r->lazy_bytes = r->page_server_ms = REPORT_NONE;
}

void report_fail(struct mig_report *r, int exit_code, const char *error)
{
	r->ok = 0;
	r->exit_code = exit_code;
	if (!r->error[0])
		snprintf(r->error, sizeof(r->error), "%s", error ? error : "failed");
}

const char *report_fmt_bytes(long long bytes, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	if (bytes < 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (bytes < 1024) {
		snprintf(buf, len, "%lld B", bytes);
		return buf;
	}
	double v = (double)bytes / 1024.0;
	size_t u = 0;
	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

static void add_num(cJSON *o, const char *key, long long v)
{
	if (v == REPORT_NONE)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddNumberToObject(o, key, (double)v);
}

char *report_json(const struct mig_report *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "role", r->role ? r->role : "");
	cJSON_AddStringToObject(o, "container", r->container);
	cJSON_AddStringToObject(o, "technique", r->technique);
	cJSON_AddStringToObject(o, "peer", r->peer);
	cJSON_AddBoolToObject(o, "ok", r->ok);
	cJSON_AddNumberToObject(o, "exit_code", r->exit_code);
	add_num(o, "sync_ms", r->sync_ms);
	add_num(o, "sync_bytes", r->sync_bytes);
	add_num(o, "dump_ms", r->dump_ms);
	add_num(o, "dump_bytes", r->dump_bytes);
	add_num(o, "xfer_ms", r->xfer_ms);
	add_num(o, "xfer_bytes", r->xfer_bytes);
	add_num(o, "restore_ms", r->restore_ms);
	add_num(o, "downtime_ms", r->downtime_ms);
	add_num(o, "total_ms", r->total_ms);
	add_num(o, "lazy_ms", r->lazy_ms);
	add_num(o, "lazy_bytes", r->lazy_bytes);
	add_num(o, "page_server_ms", r->page_server_ms);
	cJSON *pre = cJSON_AddArrayToObject(o, "pre_dumps");
	for (size_t i = 0; i < r->n_pre; i++) {
		cJSON *p = cJSON_CreateObject();
		add_num(p, "dump_ms", r->pre[i].dump_ms);
		add_num(p, "bytes", r->pre[i].bytes);
		add_num(p, "xfer_ms", r->pre[i].xfer_ms);
		add_num(p, "xfer_bytes", r->pre[i].xfer_bytes);
		cJSON_AddItemToArray(pre, p);
	}
	if (r->ok)
		cJSON_AddNullToObject(o, "error");
	else
		cJSON_AddStringToObject(o, "error", r->error);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		abort();
	return s;
}

static void row(FILE *out, const char *phase, long long ms, long long bytes)
{
	char t[32], b[32] = "";
	if (ms == REPORT_NONE && bytes == REPORT_NONE)
		return;
	if (ms == REPORT_NONE)
		snprintf(t, sizeof(t), "-");
	else
		snprintf(t, sizeof(t), "%lld ms", ms);
	if (bytes != REPORT_NONE) {
		char h[32];
		snprintf(b, sizeof(b), "%lld B (%s)", bytes, report_fmt_bytes(bytes, h, sizeof(h)));
	}
	fprintf(out, "  %-20s %12s  %s\n", phase, t, b);
}

void report_print_table(const struct mig_report *r, FILE *out)
{
	fprintf(out, "%s report: container %s, %s migration%s%s: %s\n", r->role, r->container,
		r->technique, r->peer[0] ? (strcmp(r->role, "source") ? " from " : " to ") : "",
		r->peer, r->ok ? "ok" : "FAILED");
	fprintf(out, "  %-20s %12s  %s\n", "phase", "time", "size");
	row(out, "rootfs pre-sync", r->sync_ms, r->sync_bytes);
	for (size_t i = 0; i < r->n_pre; i++) {
		char name[48];
		snprintf(name, sizeof(name), "pre-dump %zu", i + 1);
		row(out, name, r->pre[i].dump_ms, r->pre[i].bytes);
		snprintf(name, sizeof(name), "pre-dump %zu xfer", i + 1);
		row(out, name, r->pre[i].xfer_ms, r->pre[i].xfer_bytes);
	}
	/* The destination sees the image it received, not the checkpoint itself. */
	int src = r->role && !strcmp(r->role, "source");
	row(out, src ? "checkpoint" : "image received", r->dump_ms, r->dump_bytes);
	row(out, "transfer", r->xfer_ms, r->xfer_bytes);
	row(out, "restore", r->restore_ms, REPORT_NONE);
	row(out, "downtime", r->downtime_ms, REPORT_NONE);
	row(out, "lazy pages", r->lazy_ms, r->lazy_bytes);
	row(out, "page server", r->page_server_ms, REPORT_NONE);
	row(out, "total", r->total_ms, REPORT_NONE);
	if (!r->ok)
		fprintf(out, "  error: %s\n", r->error);
	fflush(out);
}

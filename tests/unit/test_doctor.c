/* migrate-src --check: the rules that turn both hosts' facts into OK/WARN/FAIL checks and
 * per-technique verdicts, version comparison, the facts' JSON round trip, the "doctor"
 * request, and the CRIU hang test against tests/fake-criu. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "criu.h"
#include "source/doctor.h"
#include "facts.h"
#include "fs.h"
#include "proto.h"
#include "timeouts.h"

/* ---- fixtures ---- */

static void good_facts(struct host_facts *f, const char *host)
{
	memset(f, 0, sizeof(*f));
	f->runc_version = strdup("1.1.15");
	f->criu_version = strdup("4.1.1");
	f->criu_check = FACT_YES;
	f->criu_check_detail = strdup("Looks good.");
	f->features[FACTS_FEATURE_DIRTY] = FACT_YES;
	f->features[FACTS_FEATURE_UFFD] = FACT_YES;
	f->base_dir = mig_strdup_printf("/%s", host);
	f->free_bytes = 100LL << 30;
	f->bundle_ok = 1;
	f->bundle_dir = mig_strdup_printf("/%s/c1", host);
	f->root_path = strdup("rootfs");
	f->container_status = strdup(strcmp(host, "src") ? "absent" : "running");
	f->container_pid = strcmp(host, "src") ? 0 : 42;
	f->container_memory = strcmp(host, "src") ? -1 : 100LL << 20;
	f->cap_sys_resource = 0;
	f->pipe_max_size = CRIU_PIPE_MAX_NEEDED;
	f->hang = HANG_OK;
	f->hang_ms = 5;
	f->tcp = HANG_OK;
	f->tcp_ms = 7;
	f->container_tcp = strcmp(host, "src") ? -1 : 2;
}

static void good_link(struct doctor_link *l)
{
	memset(l, 0, sizeof(*l));
	l->ssh_ok = l->control_ok = l->probe_ok = l->dst_rsync_ok = 1;
	l->auth_on = 1;
	l->probe_bytes = 0;
	l->rsync_version = strdup("3.2.7");
	l->dst_rsync_version = strdup("3.2.7");
}

struct fixture {
	struct plan o;
	struct host_facts src, dst;
	struct doctor_link l;
	struct doctor_report r;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	fx->o.what.container = "c1";
	fx->o.what.sync_rootfs = 1;
	fx->o.where.ssh.host = "dst";
	fx->o.how.technique = TECH_COLD;
	good_facts(&fx->src, "src");
	good_facts(&fx->dst, "dst");
	good_link(&fx->l);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	facts_free(&fx->src);
	facts_free(&fx->dst);
	doctor_link_free(&fx->l);
	doctor_report_free(&fx->r);
	free(fx);
	return 0;
}

static void evaluate(struct fixture *fx, int with_dst)
{
	doctor_report_free(&fx->r);
	doctor_evaluate(&fx->o, &fx->src, with_dst ? &fx->dst : NULL, &fx->l, &fx->r);
}

static const struct doctor_check *find(const struct fixture *fx, const char *host, const char *name)
{
	for (size_t i = 0; i < fx->r.n; i++)
		if (!strcmp(fx->r.checks[i].host, host) && !strcmp(fx->r.checks[i].name, name))
			return &fx->r.checks[i];
	fail_msg("no check %s / %s", host, name);
	return NULL;
}

static void assert_runs(const struct fixture *fx, int cold, int pre, int post, int hybrid)
{
	assert_int_equal(doctor_can_run(&fx->r, TECH_COLD), cold);
	assert_int_equal(doctor_can_run(&fx->r, TECH_PRECOPY), pre);
	assert_int_equal(doctor_can_run(&fx->r, TECH_POSTCOPY), post);
	assert_int_equal(doctor_can_run(&fx->r, TECH_HYBRID), hybrid);
}

/* ---- tests ---- */

static void test_version_diff(void **state)
{
	(void)state;
	assert_int_equal(doctor_version_diff("4.1.1", "4.1.1"), VERSION_SAME);
	assert_int_equal(doctor_version_diff("4.1.1-fake", "4.1.1"), VERSION_SAME);
	assert_int_equal(doctor_version_diff("1.1.15+ds1", "1.1.15"), VERSION_SAME);
	assert_int_equal(doctor_version_diff("4.1.1", "4.1"), VERSION_PATCH);
	assert_int_equal(doctor_version_diff("4.1.1", "4.2.1"), VERSION_MINOR);
	assert_int_equal(doctor_version_diff("3.17.1", "4.1.1"), VERSION_MAJOR);
	assert_int_equal(doctor_version_diff("10", "9.9"), VERSION_MAJOR);
	assert_int_equal(doctor_version_diff(NULL, "4.1"), VERSION_UNKNOWN);
	assert_int_equal(doctor_version_diff("v4.1", "4.1"), VERSION_UNKNOWN);
}

static void test_all_good(void **state)
{
	struct fixture *fx = *state;
	evaluate(fx, 1);
	for (size_t i = 0; i < fx->r.n; i++) {
		if (fx->r.checks[i].status != CHECK_OK)
			fail_msg("%s %s: %s", fx->r.checks[i].host, fx->r.checks[i].name,
				 fx->r.checks[i].detail);
	}
	assert_runs(fx, 1, 1, 1, 1);
	assert_string_equal(find(fx, "both", "criu versions")->detail, "4.1.1 on both");
	/* Memory 100 MiB, 100 GiB free. */
	assert_non_null(strstr(find(fx, "source", "free space")->detail, "needs about 100.0 MiB"));
}

static void test_features_per_host_and_technique(void **state)
{
	struct fixture *fx = *state;
	fx->src.features[FACTS_FEATURE_DIRTY] = FACT_NO;
	evaluate(fx, 1);
	assert_runs(fx, 1, 0, 1, 0);
	const struct doctor_check *c = find(fx, "source", "feature mem_dirty_track");
	/* Not needed by cold (chosen): shown as a warning, still a failure for pre-copy. */
	assert_int_equal(c->status, CHECK_WARN);
	assert_true(c->failed);
	assert_int_equal(c->needed_by, TECHS_PRE);
	assert_non_null(strstr(c->detail, "CONFIG_MEM_SOFT_DIRTY"));
	assert_non_null(strstr(c->detail, "needed by pre-copy, hybrid"));
	fx->o.how.technique = TECH_PRECOPY;
	evaluate(fx, 1);
	assert_int_equal(find(fx, "source", "feature mem_dirty_track")->status, CHECK_FAIL);
	/* The destination's dirty tracking and the source's uffd do not matter. */
	fx->src.features[FACTS_FEATURE_DIRTY] = FACT_YES;
	fx->dst.features[FACTS_FEATURE_DIRTY] = FACT_NO;
	fx->src.features[FACTS_FEATURE_UFFD] = FACT_NO;
	evaluate(fx, 1);
	assert_runs(fx, 1, 1, 1, 1);
	fx->dst.features[FACTS_FEATURE_UFFD] = FACT_UNKNOWN;
	evaluate(fx, 1);
	assert_runs(fx, 1, 1, 0, 0);
	assert_non_null(
	    strstr(find(fx, "destination", "feature uffd-noncoop")->detail, "could not run"));
}

static void test_pipe_size(void **state)
{
	struct fixture *fx = *state;
	fx->o.how.technique = TECH_POSTCOPY;
	fx->src.pipe_max_size = 1048576;
	fx->src.cap_sys_resource = 1;
	evaluate(fx, 1);
	assert_string_equal(find(fx, "source", "lazy pipe size")->detail, "CAP_SYS_RESOURCE");
	assert_runs(fx, 1, 1, 1, 1);
	/* No capability, writable: migrate-src raises it itself. */
	fx->src.cap_sys_resource = 0;
	fx->src.pipe_max_writable = 1;
	evaluate(fx, 1);
	assert_int_equal(find(fx, "source", "lazy pipe size")->status, CHECK_OK);
	assert_non_null(strstr(find(fx, "source", "lazy pipe size")->detail, "raises it to"));
	/* --no-sysctl: refused, for the lazy techniques only. */
	fx->o.how.no_sysctl = 1;
	evaluate(fx, 1);
	assert_int_equal(find(fx, "source", "lazy pipe size")->status, CHECK_FAIL);
	assert_non_null(strstr(find(fx, "source", "lazy pipe size")->detail,
			       "sysctl -w fs.pipe-max-size=4194304"));
	assert_runs(fx, 1, 1, 0, 0);
	/* Not writable (read-only /proc/sys in a container). */
	fx->o.how.no_sysctl = 0;
	fx->src.pipe_max_writable = 0;
	evaluate(fx, 1);
	assert_runs(fx, 1, 1, 0, 0);
	assert_non_null(strstr(find(fx, "source", "lazy pipe size")->detail, "cannot be raised"));
}

static void test_free_space(void **state)
{
	struct fixture *fx = *state;
	fx->src.free_bytes = 50LL << 20; /* the image needs 100 MiB */
	fx->dst.free_bytes = 150LL << 20;
	fx->l.probe_bytes = 20LL << 20; /* rootfs changes: the destination needs 120 MiB */
	evaluate(fx, 1);
	assert_int_equal(find(fx, "source", "free space")->status, CHECK_FAIL);
	assert_int_equal(find(fx, "destination", "free space")->status, CHECK_WARN);
	assert_non_null(strstr(find(fx, "destination", "free space")->detail, "120.0 MiB"));
	assert_runs(fx, 0, 0, 0, 0);
	fx->dst.free_bytes = 100LL << 20;
	evaluate(fx, 1);
	assert_int_equal(find(fx, "destination", "free space")->status, CHECK_FAIL);
	/* Unknown memory (container not running): no verdict on space. */
	fx->src.container_memory = -1;
	evaluate(fx, 1);
	assert_int_equal(find(fx, "source", "free space")->status, CHECK_OK);
	assert_non_null(strstr(find(fx, "source", "free space")->detail, "unknown"));
	fx->src.free_bytes = -1;
	evaluate(fx, 1);
	assert_int_equal(find(fx, "source", "free space")->status, CHECK_WARN);
}

static void test_hang_verdicts(void **state)
{
	struct fixture *fx = *state;
	fx->dst.hang = HANG_HANGS;
	fx->dst.hang_with_fault = HANG_OK;
	fx->dst.criu_fault_set = 1;
	evaluate(fx, 1);
	assert_int_equal(find(fx, "destination", "dump hang test")->status, CHECK_OK);
	assert_runs(fx, 1, 1, 1, 1);
	fx->dst.criu_fault_set = 0;
	evaluate(fx, 1);
	assert_int_equal(find(fx, "destination", "dump hang test")->status, CHECK_FAIL);
	assert_non_null(
	    strstr(find(fx, "destination", "dump hang test")->detail, "set CRIU_FAULT=130"));
	assert_runs(fx, 0, 0, 0, 0);
	fx->dst.hang_with_fault = HANG_HANGS;
	fx->dst.criu_fault_set = 1;
	fx->dst.hang_detail = strdup("did not finish");
	evaluate(fx, 1);
	assert_string_equal(find(fx, "destination", "dump hang test")->detail,
			    "criu dump hangs, with CRIU_FAULT=130 too: did not finish");
	assert_runs(fx, 0, 0, 0, 0);
	fx->dst.hang = HANG_FAILED;
	evaluate(fx, 1);
	assert_string_equal(find(fx, "destination", "dump hang test")->detail,
			    "test dump failed: did not finish");
	free(fx->dst.hang_detail);
	fx->dst.hang_detail = NULL;
	fx->dst.hang = HANG_SKIPPED;
	evaluate(fx, 1);
	assert_int_equal(find(fx, "destination", "dump hang test")->status, CHECK_WARN);
	assert_string_equal(find(fx, "destination", "dump hang test")->detail,
			    "not run (--no-hang-test)");
	assert_runs(fx, 1, 1, 1, 1);
}

static void test_versions_rule(void **state)
{
	struct fixture *fx = *state;
	free(fx->dst.criu_version);
	fx->dst.criu_version = strdup("3.17.1");
	evaluate(fx, 1);
	assert_int_equal(find(fx, "both", "criu versions")->status, CHECK_FAIL);
	assert_runs(fx, 0, 0, 0, 0);
	free(fx->dst.criu_version);
	fx->dst.criu_version = strdup("4.2.1");
	free(fx->dst.runc_version);
	fx->dst.runc_version = strdup("1.3.6");
	evaluate(fx, 1);
	assert_int_equal(find(fx, "both", "criu versions")->status, CHECK_WARN);
	assert_int_equal(find(fx, "both", "runc versions")->status, CHECK_WARN);
	assert_runs(fx, 1, 1, 1, 1);
	/* A tool that cannot run is its own failure; no comparison line then. */
	free(fx->dst.criu_version);
	fx->dst.criu_version = NULL;
	fx->dst.criu_error = strdup("cannot run criu: No such file or directory");
	evaluate(fx, 1);
	assert_int_equal(find(fx, "destination", "criu")->status, CHECK_FAIL);
	for (size_t i = 0; i < fx->r.n; i++)
		assert_string_not_equal(fx->r.checks[i].name, "criu versions");
}

static void test_bundle_and_container(void **state)
{
	struct fixture *fx = *state;
	free(fx->src.root_path);
	fx->src.root_path = strdup("/shared/rootfs");
	evaluate(fx, 1);
	assert_int_equal(find(fx, "source", "bundle")->status, CHECK_FAIL);
	assert_non_null(strstr(find(fx, "source", "bundle")->detail, "--no-rootfs-sync"));
	fx->o.what.sync_rootfs = 0;
	evaluate(fx, 1);
	assert_int_equal(find(fx, "source", "bundle")->status, CHECK_OK);
	free(fx->dst.container_status);
	fx->dst.container_status = strdup("paused");
	free(fx->src.container_status);
	fx->src.container_status = NULL;
	fx->src.container_error = strdup("runc timed out");
	evaluate(fx, 1);
	assert_int_equal(find(fx, "destination", "container name")->status, CHECK_FAIL);
	assert_string_equal(find(fx, "source", "container")->detail,
			    "runc state c1: runc timed out");
	assert_runs(fx, 0, 0, 0, 0);
}

static void test_link_and_unreached_destination(void **state)
{
	struct fixture *fx = *state;
	fx->l.auth_on = 0;
	fx->l.control_detail = strdup("migrate-dst 0.1.0");
	evaluate(fx, 1);
	assert_int_equal(find(fx, "link", "control")->status, CHECK_WARN);
	assert_runs(fx, 1, 1, 1, 1);
	fx->l.control_ok = 0;
	fx->l.dst_detail = strdup("the destination was not reached");
	evaluate(fx, 0);
	assert_int_equal(find(fx, "link", "control")->status, CHECK_FAIL);
	assert_string_equal(find(fx, "destination", "facts")->detail,
			    "not known: the destination was not reached");
	assert_runs(fx, 0, 0, 0, 0);
	/* --direct: no ssh line, no remote rsync --version. */
	fx->l.direct = 1;
	fx->l.dst_rsync_ok = -1;
	evaluate(fx, 0);
	for (size_t i = 0; i < fx->r.n; i++) {
		assert_string_not_equal(fx->r.checks[i].name, "ssh");
		if (!strcmp(fx->r.checks[i].host, "destination"))
			assert_string_not_equal(fx->r.checks[i].name, "rsync");
	}
	fx->l.interrupted = 1;
	evaluate(fx, 0);
	assert_int_equal(find(fx, "source", "interrupted")->status, CHECK_FAIL);
}

static void test_table_and_json(void **state)
{
	struct fixture *fx = *state;
	fx->dst.features[FACTS_FEATURE_UFFD] = FACT_NO;
	fx->o.how.technique = TECH_HYBRID;
	evaluate(fx, 1);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	doctor_print_table(&fx->r, out);
	fclose(out);
	assert_non_null(strstr(buf, "destination  feature uffd-noncoop     FAIL   missing"));
	assert_non_null(
	    strstr(buf, "technique    hybrid                   FAIL   cannot run: destination "
			"feature uffd-noncoop (chosen)\n"));
	assert_non_null(strstr(buf, "techniques: cold yes, pre-copy yes, post-copy no, hybrid no; "
				    "hybrid CANNOT run here\n"));
	free(buf);
	cJSON *j = doctor_json(&fx->o, &fx->r, &fx->src, &fx->dst);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "ok")));
	assert_int_equal(cJSON_GetObjectItem(j, "exit_code")->valueint, 2);
	cJSON *t = cJSON_GetObjectItem(j, "techniques");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t, "cold")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(t, "post-copy")));
	cJSON *facts = cJSON_GetObjectItem(j, "facts");
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(facts, "destination")));
	cJSON_Delete(j);
	j = doctor_json(&fx->o, &fx->r, &fx->src, NULL);
	assert_true(
	    cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "facts"), "destination")));
	cJSON_Delete(j);
}

static void test_facts_json_round_trip(void **state)
{
	struct fixture *fx = *state;
	fx->src.hang = HANG_HANGS;
	fx->src.hang_with_fault = HANG_OK;
	fx->src.hang_detail = strdup("did not finish in 500 ms");
	fx->src.features[FACTS_FEATURE_UFFD] = FACT_UNKNOWN;
	fx->src.criu_fault_set = 1;
	cJSON *j = facts_to_json(&fx->src);
	char *txt = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	j = cJSON_Parse(txt);
	free(txt);
	struct host_facts f;
	struct mig_err *err = NULL;
	assert_int_equal(facts_from_json(j, &f, &err), 0);
	cJSON_Delete(j);
	assert_string_equal(f.runc_version, "1.1.15");
	assert_null(f.runc_error);
	assert_int_equal(f.criu_check, FACT_YES);
	assert_int_equal(f.features[FACTS_FEATURE_DIRTY], FACT_YES);
	assert_int_equal(f.features[FACTS_FEATURE_UFFD], FACT_UNKNOWN);
	assert_int_equal(f.free_bytes, 100LL << 30);
	assert_true(f.bundle_ok);
	assert_string_equal(f.bundle_dir, "/src/c1");
	assert_string_equal(f.container_status, "running");
	assert_int_equal(f.container_pid, 42);
	assert_int_equal(f.container_memory, 100LL << 20);
	assert_int_equal(f.pipe_max_size, CRIU_PIPE_MAX_NEEDED);
	assert_true(f.criu_fault_set);
	assert_int_equal(f.hang, HANG_HANGS);
	assert_int_equal(f.hang_with_fault, HANG_OK);
	assert_string_equal(f.hang_detail, "did not finish in 500 ms");
	facts_free(&f);
	/* Untrusted input: wrong types are unknowns, not crashes. */
	j = cJSON_Parse("{\"runc_version\":7,\"features\":[1],\"free_bytes\":\"lots\","
			"\"container_pid\":-5,\"hang_test\":\"maybe\",\"bundle_ok\":1}");
	assert_int_equal(facts_from_json(j, &f, &err), 0);
	cJSON_Delete(j);
	assert_null(f.runc_version);
	assert_int_equal(f.features[0], FACT_UNKNOWN);
	assert_int_equal(f.free_bytes, -1);
	assert_int_equal(f.container_pid, 0);
	assert_int_equal(f.hang, HANG_SKIPPED);
	assert_false(f.bundle_ok);
	facts_free(&f);
	j = cJSON_CreateArray();
	assert_int_equal(facts_from_json(j, &f, &err), -1);
	assert_non_null(strstr(mig_err_msg(err), "not a JSON object"));
	mig_err_free(&err);
	assert_int_equal(facts_from_json(NULL, &f, &err), -1);
	mig_err_free(&err);
	cJSON_Delete(j);
}

/* facts_parse_request on json; the name it found goes into name (o.name points into the
 * request, which is freed here). */
static int parse_req(const char *json, struct facts_opts *o, char name[64], struct mig_err **err)
{
	cJSON *j = cJSON_Parse(json);
	memset(o, 0, sizeof(*o));
	int r = facts_parse_request(j, o, err);
	snprintf(name, 64, "%s", o->name ? o->name : "");
	o->name = NULL;
	cJSON_Delete(j);
	return r;
}

static void test_request(void **state)
{
	(void)state;
	struct facts_opts o;
	struct mig_err *err = NULL;
	char name[64];
	cJSON *req = facts_request("c1", 2500);
	char *txt = cJSON_PrintUnformatted(req);
	assert_string_equal(txt,
			    "{\"v\":2,\"type\":\"doctor\",\"name\":\"c1\",\"hang_test_ms\":2500}");
	assert_int_equal(parse_req(txt, &o, name, &err), 0);
	assert_string_equal(name, "c1");
	assert_int_equal(o.hang_test_ms, 2500);
	free(txt);
	cJSON_Delete(req);
	assert_int_equal(parse_req("{\"name\":\"c1\"}", &o, name, &err), 0);
	assert_int_equal(o.hang_test_ms, HANG_TEST_MS);
	assert_int_equal(parse_req("{\"name\":\"c1\",\"hang_test_ms\":0}", &o, name, &err), 0);
	assert_int_equal(o.hang_test_ms, 0);
	assert_int_equal(parse_req("{\"name\":\"c1\",\"hang_test_ms\":3}", &o, name, &err), 0);
	assert_int_equal(o.hang_test_ms, HANG_TEST_MIN_MS);
	assert_int_equal(parse_req("{\"name\":\"c1\",\"hang_test_ms\":1e12}", &o, name, &err), 0);
	assert_int_equal(o.hang_test_ms, HANG_TEST_MAX_MS);
	const char *bad[] = {"{}", "{\"name\":\"../x\"}", "{\"name\":7}",
			     "{\"name\":\"c1\",\"hang_test_ms\":-1}",
			     "{\"name\":\"c1\",\"hang_test_ms\":\"10\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_req(bad[i], &o, name, &err), -1);
		assert_non_null(err);
		mig_err_free(&err);
	}
}

/* ---- the hang test, with tests/fake-criu ---- */

static char fake_criu[PATH_MAX];
static char dir[64];

static int hang_setup(void **state)
{
	(void)state;
	if (!realpath("tests/fake-criu", fake_criu))
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/test_doctor.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/criu", dir);
	mkdir(sub, 0700);
	snprintf(sub, sizeof(sub), "%s/tmp", dir);
	mkdir(sub, 0700);
	snprintf(sub, sizeof(sub), "%s/criu", dir);
	setenv("FAKE_CRIU_DIR", sub, 1);
	unsetenv("CRIU_FAULT");
	return 0;
}

static int hang_teardown(void **state)
{
	(void)state;
	struct mig_err *err = NULL;
	fs_clear_path(dir, &err);
	mig_err_free(&err);
	return 0;
}

static void touch(const char *name, const char *content)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/criu/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void untouch(const char *name)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/criu/%s", dir, name);
	unlink(p);
}

static int tmp_empty(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/tmp", dir);
	DIR *d = opendir(p);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return d && n == 0;
}

static void hang_run(struct host_facts *f, volatile sig_atomic_t *stop)
{
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	struct facts_opts o = {
	    .criu = fake_criu, .hang_test_ms = 600, .tmp_dir = tmp, .stop = stop};
	memset(f, 0, sizeof(*f));
	facts_hang_test(&o, f);
}

static void test_hang_test(void **state)
{
	(void)state;
	struct host_facts f;
	hang_run(&f, NULL);
	assert_int_equal(f.hang, HANG_OK);
	assert_int_equal(f.hang_with_fault, HANG_SKIPPED);
	assert_true(f.hang_ms >= 0);
	assert_true(tmp_empty());
	facts_free(&f);

	touch("hang-dump", "");
	long long t0 = proc_now_ms();
	hang_run(&f, NULL);
	assert_true(proc_now_ms() - t0 < 6000);
	assert_int_equal(f.hang, HANG_HANGS);
	assert_int_equal(f.hang_with_fault, HANG_OK);
	assert_non_null(strstr(f.hang_detail, "did not finish in 600 ms"));
	assert_non_null(strstr(f.hang_detail, "new_sp="));
	assert_true(tmp_empty());
	facts_free(&f);

	touch("hang-dump", "always");
	hang_run(&f, NULL);
	assert_int_equal(f.hang, HANG_HANGS);
	assert_int_equal(f.hang_with_fault, HANG_HANGS);
	assert_non_null(strstr(f.hang_detail, "; with CRIU_FAULT=130: criu dump did not finish"));
	facts_free(&f);

	/* Interrupted: stopped at once, nothing left behind. */
	volatile sig_atomic_t stop = 1;
	hang_run(&f, &stop);
	assert_int_equal(f.hang, HANG_SKIPPED);
	assert_string_equal(f.hang_detail, "interrupted");
	assert_true(tmp_empty());
	facts_free(&f);
	untouch("hang-dump");

	touch("fail-dump", "Can't dump this");
	hang_run(&f, NULL);
	assert_int_equal(f.hang, HANG_FAILED);
	assert_non_null(strstr(f.hang_detail, "exited with code 1: Can't dump this"));
	assert_non_null(strstr(f.hang_detail, "dump.log: (00.000200) Error (criu/cr-dump.c:1)"));
	facts_free(&f);
	untouch("fail-dump");

	/* A criu that cannot be run, a temp dir that cannot be made. */
	struct facts_opts o = {.criu = "/nonexistent/criu", .hang_test_ms = 600};
	memset(&f, 0, sizeof(f));
	facts_hang_test(&o, &f);
	assert_int_equal(f.hang, HANG_FAILED);
	assert_non_null(strstr(f.hang_detail, "cannot run /nonexistent/criu"));
	facts_free(&f);
	o.tmp_dir = "/nonexistent/tmp";
	memset(&f, 0, sizeof(f));
	facts_hang_test(&o, &f);
	assert_int_equal(f.hang, HANG_FAILED);
	assert_non_null(strstr(f.hang_detail, "cannot make a temp dir /nonexistent/tmp/"));
	facts_free(&f);
	/* hang_test_ms 0: nothing runs. */
	o.hang_test_ms = 0;
	memset(&f, 0, sizeof(f));
	facts_hang_test(&o, &f);
	assert_int_equal(f.hang, HANG_SKIPPED);
	assert_null(f.hang_detail);
}

/* The TCP test dump: its throwaway process (this test binary again, in its TCP test mode:
 * main below) holds a listening and a connected TCP socket in a network namespace of its
 * own; a CRIU that cannot dump them (CRIU 4.1.1 on 6.18) is named with its error. */
static void test_tcp_test(void **state)
{
	(void)state;
	if (getuid() != 0)
		skip(); /* a network namespace of its own needs root */
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	struct facts_opts o = {.criu = fake_criu, .hang_test_ms = 2000, .tmp_dir = tmp};
	struct host_facts f;
	memset(&f, 0, sizeof(f));
	facts_tcp_test(&o, &f);
	if (f.tcp != HANG_OK)
		fail_msg("%s", f.tcp_detail ? f.tcp_detail : "?");
	assert_true(tmp_empty());
	facts_free(&f);
	/* the dump had --tcp-established and CRIU_FAULT=130, and the process was gone after */
	char path[256], line[128];
	snprintf(path, sizeof(path), "%s/criu/tcp-dump-env.log", dir);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	assert_int_equal(strncmp(line, "CRIU_FAULT=130 ", 15), 0);
	int pid = atoi(line + 15);
	assert_true(pid > 0);
	for (int i = 0; i < 50 && kill(pid, 0) == 0; i++)
		usleep(20000);
	assert_int_equal(kill(pid, 0), -1);
	touch("fail-tcp-dump", "sockets: Can't get 1:16 opt: Operation not supported");
	memset(&f, 0, sizeof(f));
	facts_tcp_test(&o, &f);
	assert_int_equal(f.tcp, HANG_FAILED);
	assert_non_null(strstr(f.tcp_detail, "Can't get 1:16 opt: Operation not supported"));
	facts_free(&f);
	untouch("fail-tcp-dump");
	/* the verdict: a FAIL for a container with TCP sockets, a WARN for one without */
	struct plan p;
	memset(&p, 0, sizeof(p));
	p.what.container = "c1";
	struct host_facts src, dst;
	struct doctor_link l;
	memset(&l, 0, sizeof(l));
	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	src.criu_version = "4.1.1";
	src.tcp = HANG_FAILED;
	src.tcp_detail = "sockets: Can't get 1:16 opt: Operation not supported";
	src.container_tcp = 3;
	struct doctor_report r;
	doctor_evaluate(&p, &src, NULL, &l, &r);
	const struct doctor_check *c = NULL;
	for (size_t i = 0; i < r.n; i++)
		if (!strcmp(r.checks[i].name, "tcp dump"))
			c = &r.checks[i];
	assert_non_null(c);
	assert_int_equal(c->status, CHECK_FAIL);
	assert_non_null(strstr(c->detail, "criu 4.1.1 cannot dump TCP sockets here"));
	doctor_report_free(&r);
	src.container_tcp = 0;
	doctor_evaluate(&p, &src, NULL, &l, &r);
	for (size_t i = 0; i < r.n; i++)
		if (!strcmp(r.checks[i].name, "tcp dump"))
			assert_int_equal(r.checks[i].status, CHECK_WARN);
	doctor_report_free(&r);
}

static void test_tools_facts(void **state)
{
	(void)state;
	struct runc_ctx rc = {.runc = "/nonexistent/runc", .timeout_ms = 5000};
	struct facts_opts o = {.runc = &rc, .criu = fake_criu};
	struct host_facts f;
	memset(&f, 0, sizeof(f));
	touch("missing-mem_dirty_track", "");
	touch("fail-check", "Error (criu/cr-check.c:1): vdso broken");
	touch("version", "4.2.1");
	facts_gather_tools(&o, &f);
	assert_null(f.runc_version);
	assert_non_null(strstr(f.runc_error, "cannot run /nonexistent/runc"));
	assert_string_equal(f.criu_version, "4.2.1");
	assert_int_equal(f.criu_check, FACT_NO);
	assert_string_equal(f.criu_check_detail, "Error (criu/cr-check.c:1): vdso broken");
	assert_int_equal(f.features[FACTS_FEATURE_DIRTY], FACT_NO);
	assert_int_equal(f.features[FACTS_FEATURE_UFFD], FACT_YES);
	facts_free(&f);
	untouch("missing-mem_dirty_track");
	untouch("fail-check");
	untouch("version");
	/* No criu at all: everything about it unknown, with the reason. */
	o.criu = "/nonexistent/criu";
	memset(&f, 0, sizeof(f));
	facts_gather_tools(&o, &f);
	assert_null(f.criu_version);
	assert_non_null(f.criu_error);
	assert_int_equal(f.criu_check, FACT_UNKNOWN);
	assert_non_null(strstr(f.criu_check_detail, "cannot run /nonexistent/criu"));
	assert_int_equal(f.features[0], FACT_UNKNOWN);
	assert_int_equal(f.features[1], FACT_UNKNOWN);
	facts_free(&f);
}

static void test_container_memory(void **state)
{
	(void)state;
	/* Our own process stands in for a container's init: some memory, from somewhere. */
	assert_true(facts_container_memory(getpid()) > 0);
	assert_int_equal(facts_container_memory(INT_MAX), -1);
}

int main(void)
{
	/* The TCP test dump's throwaway process is this binary again (facts.h). */
	if (getenv(FACTS_TCP_CHILD_ENV))
		return facts_tcp_child();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_version_diff),
	    cmocka_unit_test_setup_teardown(test_all_good, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_features_per_host_and_technique, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pipe_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hang_verdicts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_versions_rule, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bundle_and_container, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_and_unreached_destination, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_and_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_facts_json_round_trip, setup, teardown),
	    cmocka_unit_test(test_request),
	    cmocka_unit_test_setup_teardown(test_hang_test, hang_setup, hang_teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_test, hang_setup, hang_teardown),
	    cmocka_unit_test_setup_teardown(test_tools_facts, hang_setup, hang_teardown),
	    cmocka_unit_test(test_container_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

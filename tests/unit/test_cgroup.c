/* runc < 1.2 on cgroup v2 (docs/notes-platform.md, "runc 1.1 on cgroup v2"): the cgroup runc
 * 1.1's cgroupfs driver gives a container, which the restore hands to CRIU as cgroup-root;
 * which runc versions need it; what a CRIU configuration line cannot carry; the restore's
 * CRIU configuration file (the operator's own, tcp-close, cgroup-root, in that order); and
 * the doctor's line for it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "cgroup.h"
#include "facts.h"
#include "fs.h"
#include "restore.h"
#include "source/doctor.h"

static void path_is(const char *cgpath, const char *name, const char *own, const char *want)
{
	char *got = cgroup_runc11_path(cgpath, name, own);
	assert_string_equal(got, want);
	free(got);
}

static void test_absolute_path_as_is(void **state)
{
	(void)state;
	path_is("/make-bundle/c1-86390425", "c1", "/user.slice/session-1.scope",
		"/make-bundle/c1-86390425");
	path_is("//a/./b//c/", "c1", "/", "/a/b/c");
	path_is("/a/../../b", "c1", "/", "/b");
}

static void test_relative_below_own_parent(void **state)
{
	(void)state;
	/* runc: the parent of its own cgroup (which has tasks in it) */
	path_is("mine/c1", "c1", "/system.slice/migrate-dst.service", "/system.slice/mine/c1");
	path_is("c1", "c1", "/", "/c1");
	path_is("../up", "c1", "/a/b/c", "/a/b/up"); /* runc's CleanPath: no climbing out */
}

static void test_unset_is_the_name(void **state)
{
	(void)state;
	path_is("", "c1", "/system.slice/migrate-dst.service", "/system.slice/c1");
	path_is(NULL, "web", "/", "/web");
}

static void test_which_runc_needs_it(void **state)
{
	(void)state;
	assert_int_equal(cgroup_runc_needs_root("1.1.15+ds1"), 1);
	assert_int_equal(cgroup_runc_needs_root("1.1.0"), 1);
	assert_int_equal(cgroup_runc_needs_root("1.0.0-rc93"), 1);
	assert_int_equal(cgroup_runc_needs_root("1.2.0"), 0);
	assert_int_equal(cgroup_runc_needs_root("1.3.6"), 0);
	assert_int_equal(cgroup_runc_needs_root("2.0"), 0);
	assert_int_equal(cgroup_runc_needs_root(NULL), 0);
	assert_int_equal(cgroup_runc_needs_root("unknown"), 0);
}

/* A cgroupsPath (the peer may have sent the bundle) never becomes two CRIU options. */
static void test_root_refuses_what_a_line_cannot_carry(void **state)
{
	(void)state;
	static const char *const bad[] = {"/x\naction-script /tmp/evil",
					  "/a b",
					  "/a\tb",
					  "/a#b",
					  "/a\"b",
					  "/a'b",
					  "/a\\b",
					  "/a\x7f"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *root = (char *)"unset";
		struct mig_err *e = NULL;
		assert_int_equal(cgroup_restore_root(bad[i], "c1", &root, &e), -1);
		assert_null(root);
		assert_non_null(strstr(mig_err_msg(e), "cannot be given to CRIU"));
		mig_err_free(&e);
	}
	char *root = NULL;
	struct mig_err *e = NULL;
	assert_int_equal(cgroup_restore_root("/make-bundle/c1-1234", "c1", &root, &e), 0);
	assert_string_equal(root, "/make-bundle/c1-1234");
	free(root);
}

/* The bundle gives its linux.cgroupsPath, or NULL when it has none. */
static void test_bundle_cgroups_path(void **state)
{
	(void)state;
	char base[] = "/tmp/test_cgroup.XXXXXX", p[256];
	assert_non_null(mkdtemp(base));
	static const char *const configs[] = {
	    "{\"root\":{\"path\":\"rootfs\"},\"linux\":{\"cgroupsPath\":\"/m/c1\"}}",
	    "{\"root\":{\"path\":\"rootfs\"},\"linux\":{}}"};
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/c%d", base, i);
		assert_int_equal(mkdir(p, 0700), 0);
		snprintf(p, sizeof(p), "%s/c%d/rootfs", base, i);
		assert_int_equal(mkdir(p, 0700), 0);
		snprintf(p, sizeof(p), "%s/c%d/config.json", base, i);
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		fputs(configs[i], f);
		fclose(f);
		char name[8];
		snprintf(name, sizeof(name), "c%d", i);
		struct bundle_info b;
		struct mig_err *e = NULL;
		assert_int_equal(bundle_load(base, name, &b, &e), 0);
		if (i == 0)
			assert_string_equal(b.cgroups_path, "/m/c1");
		else
			assert_null(b.cgroups_path);
		bundle_free(&b);
	}
	struct mig_err *e = NULL;
	assert_int_equal(fs_clear_path(base, &e), 0);
}

static char *read_all(const char *path)
{
	return fs_read_tail(path, 65536);
}

/* The restore's CRIU configuration: the operator's file whole, then ours. */
static void test_restore_config_keeps_the_operators(void **state)
{
	(void)state;
	char op[] = "/tmp/test_cgroup.op.XXXXXX";
	int fd = mkstemp(op);
	assert_true(fd >= 0);
	const char *mine = "log-file /var/log/criu-op.log\n";
	assert_int_equal(write(fd, mine, strlen(mine)), (ssize_t)strlen(mine));
	close(fd);
	setenv("CRIU_CONFIG_FILE", op, 1);
	struct criu_opts o = {.tcp_close = 1};
	char conf[PATH_MAX];
	struct mig_err *e = NULL;
	assert_int_equal(restore_criu_config(&o, "/make-bundle/c1-1", conf, sizeof(conf), &e), 0);
	assert_true(conf[0] != '\0');
	char *text = read_all(conf);
	assert_non_null(text);
	assert_string_equal(text, "log-file /var/log/criu-op.log\n\ntcp-close\ncgroup-root "
				  "/make-bundle/c1-1");
	free(text);
	unlink(conf);
	/* No option of ours: no file of ours (runc's CRIU reads the operator's itself). */
	struct criu_opts none = {0};
	assert_int_equal(restore_criu_config(&none, NULL, conf, sizeof(conf), &e), 0);
	assert_string_equal(conf, "");
	/* cgroup-root alone. */
	unsetenv("CRIU_CONFIG_FILE");
	assert_int_equal(restore_criu_config(&none, "/c1", conf, sizeof(conf), &e), 0);
	text = read_all(conf);
	assert_string_equal(text, "cgroup-root /c1");
	free(text);
	unlink(conf);
	unlink(op);
}

/* --check: a WARN for runc < 1.2 on cgroup v2 (handled), a FAIL when it cannot be handled,
 * OK with runc 1.2, nothing on cgroup v1. */
static const struct doctor_check *cgroup_check(const struct doctor_report *r, const char *host)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->checks[i].host, host) && !strcmp(r->checks[i].name, "cgroup v2"))
			return &r->checks[i];
	return NULL;
}

static void facts_for(struct host_facts *f, const char *runc, int v2, const char *root,
		      const char *error)
{
	memset(f, 0, sizeof(*f));
	f->runc_version = mig_xstrdup(runc);
	f->cgroup2 = v2;
	f->cgroup_root = root ? mig_xstrdup(root) : NULL;
	f->cgroup_root_error = error ? mig_xstrdup(error) : NULL;
}

static void test_doctor_says_it(void **state)
{
	(void)state;
	struct plan o;
	memset(&o, 0, sizeof(o));
	o.what.container = "c1";
	o.how.technique = TECH_COLD;
	struct doctor_link l;
	memset(&l, 0, sizeof(l));
	struct host_facts src, dst;
	struct doctor_report r;
	const struct doctor_check *c;

	facts_for(&src, "1.1.15", FACT_YES, "/make-bundle/c1-1", NULL);
	facts_for(&dst, "1.1.15", FACT_YES, NULL, "the cgroup of c1 cannot be given to CRIU");
	doctor_evaluate(&o, &src, &dst, &l, &r);
	c = cgroup_check(&r, "source");
	assert_non_null(c);
	assert_int_equal(c->status, CHECK_WARN);
	assert_non_null(strstr(c->detail, "cgroup-root /make-bundle/c1-1"));
	c = cgroup_check(&r, "destination");
	assert_non_null(c);
	assert_int_equal(c->status, CHECK_FAIL);
	assert_non_null(strstr(c->detail, "cannot be given to CRIU"));
	assert_int_equal(doctor_can_run(&r, TECH_COLD), 0);
	doctor_report_free(&r);
	facts_free(&src);
	facts_free(&dst);

	facts_for(&src, "1.3.6", FACT_YES, NULL, NULL);
	facts_for(&dst, "1.1.15", FACT_NO, NULL, NULL);
	doctor_evaluate(&o, &src, &dst, &l, &r);
	c = cgroup_check(&r, "source");
	assert_non_null(c);
	assert_int_equal(c->status, CHECK_OK);
	assert_null(cgroup_check(&r, "destination"));
	doctor_report_free(&r);
	facts_free(&src);
	facts_free(&dst);
}

/* The facts travel: a destination's cgroup facts reach the source's doctor. */
static void test_facts_round_trip(void **state)
{
	(void)state;
	struct host_facts f, g;
	facts_for(&f, "1.1.15", FACT_YES, "/c1", "why");
	cJSON *j = facts_to_json(&f);
	struct mig_err *e = NULL;
	assert_int_equal(facts_from_json(j, &g, &e), 0);
	assert_int_equal(g.cgroup2, FACT_YES);
	assert_string_equal(g.cgroup_root, "/c1");
	assert_string_equal(g.cgroup_root_error, "why");
	cJSON_Delete(j);
	facts_free(&f);
	facts_free(&g);
	/* an older peer without them: unknown, nothing said */
	cJSON *old = cJSON_CreateObject();
	assert_int_equal(facts_from_json(old, &g, &e), 0);
	assert_int_equal(g.cgroup2, FACT_UNKNOWN);
	assert_null(g.cgroup_root);
	cJSON_Delete(old);
	facts_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_absolute_path_as_is),
	    cmocka_unit_test(test_relative_below_own_parent),
	    cmocka_unit_test(test_unset_is_the_name),
	    cmocka_unit_test(test_which_runc_needs_it),
	    cmocka_unit_test(test_root_refuses_what_a_line_cannot_carry),
	    cmocka_unit_test(test_bundle_cgroups_path),
	    cmocka_unit_test(test_restore_config_keeps_the_operators),
	    cmocka_unit_test(test_doctor_says_it),
	    cmocka_unit_test(test_facts_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

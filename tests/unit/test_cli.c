/* Command-line parsing of both programs, including the seed's positional booleans. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "destination/cli.h"
#include "mig.h"
#include "source/cli.h"

static int parse_src(struct src_cli *o, struct mig_err **err, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	va_start(ap, err);
	argv[argc++] = "migrate-src";
	char *a;
	while ((a = va_arg(ap, char *)))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	FILE *devnull = fopen("/dev/null", "w");
	int rc = cli_parse_src(argc, argv, o, devnull, err);
	fclose(devnull);
	return rc;
}

static void test_defaults(void **state)
{
	(void)state;
	struct src_cli o;
	struct mig_err *err = NULL;
	assert_int_equal(parse_src(&o, &err, "c1", "10.0.0.2", NULL), CLI_OK);
	assert_string_equal(o.plan.what.container, "c1");
	assert_string_equal(o.plan.where.ssh.host, "10.0.0.2");
	assert_string_equal(o.plan.where.ssh.user, "root");
	assert_int_equal(o.plan.how.technique, TECH_COLD);
	assert_string_equal(o.plan.what.base_dir, "/runc/containers");
	assert_int_equal(o.plan.where.control_port, 18863);
	assert_int_equal(o.plan.where.ssh.port, 22);
	assert_int_equal(o.plan.where.direct, 0);
	assert_int_equal(o.plan.limits.step_s, DEFAULT_TIMEOUT_S);
}

static void test_seed_booleans(void **state)
{
	(void)state;
	static const struct {
		const char *pre, *lazy;
		enum technique t;
	} cases[] = {
	    {"False", "False", TECH_COLD},    {"True", "False", TECH_PRECOPY},
	    {"False", "True", TECH_POSTCOPY}, {"True", "True", TECH_HYBRID},
	    {"0", "1", TECH_POSTCOPY},	      {"yes", "no", TECH_PRECOPY},
	    {"TRUE", "true", TECH_HYBRID},    {"no", "No", TECH_COLD},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct src_cli o;
		struct mig_err *err = NULL;
		assert_int_equal(parse_src(&o, &err, "c1", "h", cases[i].pre, cases[i].lazy, NULL),
				 CLI_OK);
		assert_int_equal(o.plan.how.technique, cases[i].t);
	}
	struct src_cli o;
	struct mig_err *err = NULL;
	assert_int_equal(parse_src(&o, &err, "c1", "h", "True", NULL), CLI_OK);
	assert_int_equal(o.plan.how.technique, TECH_PRECOPY); /* LAZY omitted = False */
}

static void test_bad_booleans(void **state)
{
	(void)state;
	struct src_cli o;
	struct mig_err *err = NULL;
	assert_int_equal(parse_src(&o, &err, "c1", "h", "maybe", "False", NULL), CLI_USAGE);
	assert_non_null(strstr(mig_err_msg(err), "PRE must be True or False"));
	mig_err_free(&err);
	assert_int_equal(parse_src(&o, &err, "c1", "h", "True", "2", NULL), CLI_USAGE);
	assert_non_null(strstr(mig_err_msg(err), "LAZY"));
	mig_err_free(&err);
}

static void test_technique_option_and_conflict(void **state)
{
	(void)state;
	struct src_cli o;
	struct mig_err *err = NULL;
	assert_int_equal(parse_src(&o, &err, "-t", "post-copy", "c1", "h", NULL), CLI_OK);
	assert_int_equal(o.plan.how.technique, TECH_POSTCOPY);
	assert_int_equal(
	    parse_src(&o, &err, "--technique", "hybrid", "c1", "h", "True", "True", NULL), CLI_OK);
	assert_int_equal(o.plan.how.technique, TECH_HYBRID);
	assert_int_equal(parse_src(&o, &err, "-t", "cold", "c1", "h", "True", "False", NULL),
			 CLI_USAGE);
	assert_non_null(strstr(mig_err_msg(err), "PRE/LAZY select pre-copy"));
	mig_err_free(&err);
	assert_int_equal(parse_src(&o, &err, "-t", "warm", "c1", "h", NULL), CLI_USAGE);
	assert_non_null(strstr(mig_err_msg(err), "unknown technique 'warm'"));
	mig_err_free(&err);
}

static void test_options(void **state)
{
	(void)state;
	struct src_cli o;
	struct mig_err *err = NULL;
	assert_int_equal(parse_src(&o, &err, "-b", "/srv/b", "-p", "2000", "--ssh-port", "2222",
				   "--ssh-user", "mig", "-i", "/k", "--known-hosts", "/kh",
				   "--runc", "/bin/fake", "--runc-root", "/run/x", "--json",
				   "--direct", "--no-rootfs-sync", "--timeout", "7", "-v", "c.1",
				   "admin@host.example", NULL),
			 CLI_OK);
	assert_string_equal(o.plan.what.base_dir, "/srv/b");
	assert_int_equal(o.plan.where.control_port, 2000);
	assert_int_equal(o.plan.where.ssh.port, 2222);
	assert_string_equal(o.plan.where.ssh.user, "mig"); /* --ssh-user wins over user@ */
	assert_string_equal(o.plan.where.ssh.host, "host.example");
	assert_string_equal(o.plan.where.ssh.identity, "/k");
	assert_string_equal(o.plan.where.ssh.known_hosts, "/kh");
	assert_string_equal(o.plan.tools.runc.runc, "/bin/fake");
	assert_string_equal(o.plan.tools.runc.root, "/run/x");
	assert_true(o.plan.out.json && o.plan.where.direct && !o.plan.what.sync_rootfs);
	assert_int_equal(o.plan.limits.step_s, 7);
	assert_int_equal(o.plan.out.verbose, 1);
	assert_int_equal(parse_src(&o, &err, "c1", "admin@h", NULL), CLI_OK);
	assert_string_equal(o.plan.where.ssh.user, "admin");
	assert_string_equal(o.plan.where.ssh.host, "h");
}

static void test_usage_errors(void **state)
{
	(void)state;
	struct src_cli o;
	struct mig_err *err = NULL;
	static const char *const bad_ports[] = {"0", "65536", "-1", "12x", ""};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(parse_src(&o, &err, "-p", bad_ports[i], "c1", "h", NULL),
				 CLI_USAGE);
		mig_err_free(&err);
	}
	assert_int_equal(parse_src(&o, &err, "c1", NULL), CLI_USAGE);
	assert_non_null(strstr(mig_err_msg(err), "expected CONTAINER DEST"));
	mig_err_free(&err);
	assert_int_equal(parse_src(&o, &err, "c1", "h", "1", "1", "1", NULL), CLI_USAGE);
	mig_err_free(&err);
	assert_int_equal(parse_src(&o, &err, "--bogus", "c1", "h", NULL), CLI_USAGE);
	assert_non_null(strstr(mig_err_msg(err), "unknown option '--bogus'"));
	mig_err_free(&err);
	assert_int_equal(parse_src(&o, &err, "c1", "h", "-p", NULL), CLI_USAGE);
	mig_err_free(&err);
	assert_int_equal(parse_src(&o, &err, "../etc", "h", NULL), CLI_USAGE);
	assert_non_null(strstr(mig_err_msg(err), "bad container name"));
	mig_err_free(&err);
	assert_int_equal(parse_src(&o, &err, "c1", "@h", NULL), CLI_USAGE);
	mig_err_free(&err);
	assert_int_equal(parse_src(&o, &err, "--timeout", "0", "c1", "h", NULL), CLI_USAGE);
	mig_err_free(&err);
}

static void test_help_version(void **state)
{
	(void)state;
	struct src_cli o;
	struct mig_err *err = NULL;
	assert_int_equal(parse_src(&o, &err, "--help", NULL), CLI_EXIT);
	assert_int_equal(parse_src(&o, &err, "-V", NULL), CLI_EXIT);
	char buf[8192] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	cli_src_usage(f);
	fclose(f);
	assert_non_null(strstr(buf, "Exit codes:"));
	assert_non_null(strstr(buf, "  4  failed"));
}

static void test_valid_names(void **state)
{
	(void)state;
	assert_true(mig_valid_name("c1"));
	assert_true(mig_valid_name("A.b_c-9"));
	assert_false(mig_valid_name(""));
	assert_false(mig_valid_name(".hidden"));
	assert_false(mig_valid_name("-x"));
	assert_false(mig_valid_name("a/b"));
	assert_false(mig_valid_name(".."));
	assert_false(mig_valid_name("a b"));
	char longname[130];
	memset(longname, 'a', 129);
	longname[129] = '\0';
	assert_false(mig_valid_name(longname));
	longname[128] = '\0';
	assert_true(mig_valid_name(longname));
}

static void test_dst(void **state)
{
	(void)state;
	struct dst_config o;
	struct mig_err *err = NULL;
	char *argv1[] = {"migrate-dst", NULL};
	assert_int_equal(cli_parse_dst(1, argv1, &o, stdout, &err), CLI_OK);
	assert_string_equal(o.listen_addr, "127.0.0.1");
	assert_int_equal(o.port, 18863);
	assert_string_equal(o.base_dir, "/runc/containers");
	char *argv2[] = {"migrate-dst", "-l", "0.0.0.0",     "-p",  "0",      "-b",	"/b",
			 "--runc",	"r",  "--runc-root", "/rr", "--once", "--json", NULL};
	assert_int_equal(cli_parse_dst(13, argv2, &o, stdout, &err), CLI_OK);
	assert_string_equal(o.listen_addr, "0.0.0.0");
	assert_int_equal(o.port, 0);
	assert_true(o.once && o.json);
	assert_string_equal(o.runc.root, "/rr");
	char *argv3[] = {"migrate-dst", "extra", NULL};
	assert_int_equal(cli_parse_dst(2, argv3, &o, stdout, &err), CLI_USAGE);
	mig_err_free(&err);
}

static void test_check_options(void **state)
{
	(void)state;
	struct src_cli o;
	struct mig_err *err = NULL;
	assert_int_equal(parse_src(&o, &err, "c1", "host", NULL), CLI_OK);
	assert_false(o.check);
	assert_false(!o.plan.check.hang_test);
	assert_int_equal(
	    parse_src(&o, &err, "--check", "--no-hang-test", "c1", "host", "False", "True", NULL),
	    CLI_OK);
	assert_true(o.check);
	assert_true(!o.plan.check.hang_test);
	assert_int_equal(o.plan.how.technique, TECH_POSTCOPY);
	/* --check needs CONTAINER and DEST like a migration. */
	assert_int_equal(parse_src(&o, &err, "--check", "c1", NULL), CLI_USAGE);
	assert_non_null(strstr(mig_err_msg(err), "expected CONTAINER DEST"));
	mig_err_free(&err);
}

/* Users and hosts end up in ssh's and rsync's argv: one that starts with '-' would be an
 * option there ("-oProxyCommand=..."), one with white space or quotes would be split or
 * interpreted.  They are refused before anything runs. */
static void test_hostile_users_and_hosts(void **state)
{
	(void)state;
	struct src_cli o;
	struct mig_err *err = NULL;
	const char *bad_dest[] = {"-oProxyCommand=touch /tmp/x",
				  "root@-oProxyCommand=x",
				  "a b@host",
				  "host name",
				  "-h",
				  "root@host;reboot",
				  "ro'ot@host",
				  "host\t"};
	for (size_t i = 0; i < sizeof(bad_dest) / sizeof(bad_dest[0]); i++) {
		assert_int_equal(parse_src(&o, &err, "c1", bad_dest[i], NULL), CLI_USAGE);
		assert_non_null(err);
		mig_err_free(&err);
	}
	assert_int_equal(
	    parse_src(&o, &err, "--ssh-user", "root -oProxyCommand=x", "c1", "h", NULL), CLI_USAGE);
	assert_non_null(strstr(mig_err_msg(err), "bad SSH user"));
	mig_err_free(&err);
	assert_int_equal(parse_src(&o, &err, "--ssh-user", "-x", "c1", "h", NULL), CLI_USAGE);
	mig_err_free(&err);
	assert_int_equal(parse_src(&o, &err, "--back-host", "-oX", "c1", "h", NULL), CLI_USAGE);
	mig_err_free(&err);
	const char *good[] = {"10.0.0.2", "fe80::1%eth0", "host-1.example", "u_1.x@h"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(parse_src(&o, &err, "c1", good[i], NULL), CLI_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_seed_booleans),
	    cmocka_unit_test(test_bad_booleans),
	    cmocka_unit_test(test_technique_option_and_conflict),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_usage_errors),
	    cmocka_unit_test(test_help_version),
	    cmocka_unit_test(test_valid_names),
	    cmocka_unit_test(test_dst),
	    cmocka_unit_test(test_check_options),
	    cmocka_unit_test(test_hostile_users_and_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* migrate-src's command line (cli.h). */
#include "auth.h"
#include "cli.h"

#include "text.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "1048576", "512K", "16M", "1G" (powers of 1024). */
static int parse_size(const char *s, long long *out)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	long long mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1LL << 10;
	else if (*end == 'M' || *end == 'm')
		mult = 1LL << 20;
	else if (*end == 'G' || *end == 'g')
		mult = 1LL << 30;
	if (mult > 1)
		end++;
	if (*end || v > LLONG_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

void cli_src_usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: migrate-src [OPTIONS] CONTAINER [USER@]DEST [PRE [LAZY]]\n"
	    "Migrate the running runC container CONTAINER to the host DEST, where migrate-dst runs.\n"
	    "\n"
	    "PRE and LAZY are the original scripts' booleans (True/False, 1/0, yes/no):\n"
	    "  False False = cold, True False = pre-copy, False True = post-copy, True True = hybrid.\n"
	    "\n"
	    "Options:\n"
	    "  -t, --technique T      cold|pre-copy|post-copy|hybrid (default cold)\n"
	    "  -b, --base-dir DIR     bundles are DIR/CONTAINER (default %s)\n"
	    "      --socket PATH      migrate-dst's control socket on DEST, reached through SSH\n"
	    "                         (default %s)\n"
	    "  -p, --port PORT        use migrate-dst's TCP port instead (migrate-dst -p), through\n"
	    "                         SSH (default port %d)\n"
	    "      --direct           reach that TCP port over plain TCP, not through SSH\n"
	    "      --ssh-port PORT    SSH port of DEST (default 22)\n"
	    "      --ssh-user USER    SSH user on DEST (default root)\n"
	    "  -i, --identity FILE    SSH private key (default: agent and ~/.ssh/id_*)\n"
	    "      --known-hosts FILE known_hosts file for DEST's host key (default ~/.ssh/known_hosts)\n"
	    "      --runc PATH        runc binary (default runc)\n"
	    "      --runc-root DIR    runc state root (default: runc's own)\n"
	    "      --no-rootfs-sync   do not copy the bundle's rootfs (it is shared by both hosts)\n"
	    "      --pre-dumps N      pre-copy/hybrid: pre-dump rounds before the final one (default 1)\n"
	    "      --converge BYTES   stop the rounds early once one dumps less (K, M, G suffixes)\n"
	    "      --page-server-port PORT  post-copy/hybrid: the port of CRIU's page server, which\n"
	    "                         listens on 127.0.0.1 only; its pages go to DEST through\n"
	    "                         the SSH connection (default %d)\n"
	    "      --no-sysctl        post-copy/hybrid: refuse instead of raising fs.pipe-max-size\n"
	    "      --criu PATH        criu binary (default criu)\n"
	    "      --token-file FILE  a local copy of the destination's token (needed with\n"
	    "                         --direct; else it is read over SSH)\n"
	    "      --dst-token-file PATH  where DEST keeps its token (default %s)\n"
	    "      --insecure         accept a destination that authenticates nothing\n"
	    "                         (migrate-dst --insecure)\n"
	    "      --timeout SECS     limit for each runc/CRIU step (default %d)\n"
	    "      --transfer HOW     the image in the downtime: stream (through the control\n"
	    "                         channel, no extra round trips; default) or rsync\n"
	    "      --compress ALG     none, zlib or zstd (default zstd): rsync's compression; the\n"
	    "                         streamed image uses zstd unless none\n"
	    "      --sync-bundle      send the bundle (config.json, rootfs) if DEST lacks it\n"
	    "      --replace          DEST stops and removes a same-named container first\n"
	    "      --json             print the report as one JSON line on stdout\n"
	    "      --check            change nothing: check both hosts and say which techniques\n"
	    "                         can run (exit 0 when the chosen one can, else 2)\n"
	    "      --no-hang-test     --check without its test dump of a throwaway process\n"
	    "      --csv FILE         append one CSV row per migration (header once)\n"
	    "      --repeat N         migrate N times back and forth (DEST runs migrate-src too)\n"
	    "      --back-host HOST   how DEST reaches this host for the way back (default: our\n"
	    "                         address on the SSH connection)\n"
	    "      --back-opt OPT     an option for DEST's migrate-src on the way back (repeat)\n"
	    "      --back-cmd PATH    migrate-src on DEST (default: migrate-src in its PATH)\n"
	    "      --no-progress      no progress line for transfers (shown only on a terminal)\n"
	    "      --allow-old-rsync  use an rsync older than 3.2.4 here anyway (with -s)\n"
	    "CRIU options (named as runc names them; the destination applies the restore ones):\n"
	    "      --tcp-established  connected TCP sockets (the container's clients stay)\n"
	    "      --ext-unix-sk      external unix sockets\n"
	    "      --file-locks       file locks\n"
	    "      --shell-job        a container started from a shell (a session, a tty)\n"
	    "      --manage-cgroups-mode MODE   soft, full, strict or ignore\n"
	    "      --empty-ns network the network namespace is set up by someone else\n"
	    "      --tcp-skip-in-flight  dump: skip connections not yet accepted\n"
	    "      --link-remap       dump: files open but deleted, by linking them\n"
	    "      --tcp-close        restore: restore connected sockets closed\n"
	    "      --dst-netns PATH   the destination's network namespace (a bundle that joins\n"
	    "                         one by path, /var/run/netns/NAME, when the hosts name it\n"
	    "                         differently)\n"
	    "  -v, --verbose          debug output;  -q, --quiet  errors only\n"
	    "  -h, --help             this help;     -V, --version  version\n"
	    "\n"
	    "Exit codes:\n"
	    "  0  migrated: the container runs on DEST and is gone from this host\n"
	    "  1  usage error\n"
	    "  2  refused before the container was touched (it still runs here)\n"
	    "  3  failed after the checkpoint; the container was restored and runs here again\n"
	    "  4  failed and the container runs nowhere: the message says where its image is\n"
	    "\n"
	    "Set CRIU_FAULT=130 in the environment on hosts where CRIU's dump hangs (no hardware\n"
	    "breakpoints, as in some VMs); see docs/troubleshooting.md.\n",
	    DEFAULT_BASE_DIR, DEFAULT_SOCKET, DEFAULT_PORT, DEFAULT_PAGE_SERVER_PORT,
	    DEFAULT_TOKEN_FILE, DEFAULT_TIMEOUT_S);
}

enum {
	OPT_SSH_PORT = MIG_OPT_FIRST_OWN,
	OPT_DST_TOKEN_FILE,
	OPT_SSH_USER,
	OPT_KNOWN_HOSTS,
	OPT_DIRECT,
	OPT_NO_ROOTFS_SYNC,
	OPT_PRE_DUMPS,
	OPT_CONVERGE,
	OPT_PS_ADDR,
	OPT_PS_PORT,
	OPT_NO_SYSCTL,
	OPT_CHECK,
	OPT_NO_HANG_TEST,
	OPT_REPLACE,
	OPT_CSV,
	OPT_REPEAT,
	OPT_BACK_HOST,
	OPT_BACK_OPT,
	OPT_BACK_CMD,
	OPT_COMPRESS,
	OPT_SYNC_BUNDLE,
	OPT_NO_PROGRESS,
	OPT_TRANSFER,
	OPT_ALLOW_OLD_RSYNC,
	OPT_TCP_ESTABLISHED,
	OPT_EXT_UNIX_SK,
	OPT_FILE_LOCKS,
	OPT_SHELL_JOB,
	OPT_MANAGE_CGROUPS,
	OPT_EMPTY_NS,
	OPT_TCP_SKIP_IN_FLIGHT,
	OPT_LINK_REMAP,
	OPT_TCP_CLOSE,
	OPT_DST_NETNS,
};

/* Sets the technique from PRE and LAZY, and checks it against an explicit --technique. */
static int positional_technique(struct src_cli *o, int have_t, const char *pre, const char *lazy,
				struct mig_err **err)
{
	int p = 0, l = 0;
	if (mig_parse_bool(pre, &p) < 0)
		return mig_err_set(err, 0, "PRE must be True or False (or 1/0, yes/no), not '%s'",
				   pre);
	if (lazy && mig_parse_bool(lazy, &l) < 0)
		return mig_err_set(err, 0, "LAZY must be True or False (or 1/0, yes/no), not '%s'",
				   lazy);
	enum technique t = p ? (l ? TECH_HYBRID : TECH_PRECOPY) : (l ? TECH_POSTCOPY : TECH_COLD);
	if (have_t && t != o->plan.how.technique)
		return mig_err_set(err, 0, "PRE/LAZY select %s but --technique says %s",
				   technique_name(t), technique_name(o->plan.how.technique));
	o->plan.how.technique = t;
	return 0;
}

static int src_dest(struct src_cli *o, const char *dest, int have_user, struct mig_err **err)
{
	struct ssh_target *t = &o->plan.where.ssh;
	snprintf(o->dest_buf, sizeof(o->dest_buf), "%s", dest);
	char *at = strrchr(o->dest_buf, '@');
	t->host = o->dest_buf;
	if (at) {
		*at = '\0';
		if (!have_user)
			t->user = o->dest_buf;
		t->host = at + 1;
	}
	if (!*t->host || strlen(dest) >= sizeof(o->dest_buf))
		return mig_err_set(err, 0, "bad destination '%s'", dest);
	if (!*t->user)
		return mig_err_set(err, 0, "empty SSH user in '%s'", dest);
	/* Both end up in ssh's and rsync's argv: "-oProxyCommand=..." must not be an option. */
	if (!text_valid_host(t->host))
		return mig_err_set(
		    err, 0,
		    "bad destination host '%s' (a name or address: A-Z a-z 0-9 . _ : "
		    "%% -, not starting with '-')",
		    t->host);
	if (!text_valid_user(t->user))
		return mig_err_set(err, 0,
				   "bad SSH user '%s' (A-Z a-z 0-9 . _ -, not starting with '-')",
				   t->user);
	return 0;
}

static const struct option src_lopts[] = {
    {"technique", required_argument, NULL, 't'},
    {"base-dir", required_argument, NULL, 'b'},
    {"port", required_argument, NULL, 'p'},
    {"identity", required_argument, NULL, 'i'},
    {"ssh-port", required_argument, NULL, OPT_SSH_PORT},
    {"ssh-user", required_argument, NULL, OPT_SSH_USER},
    {"known-hosts", required_argument, NULL, OPT_KNOWN_HOSTS},
    {"direct", no_argument, NULL, OPT_DIRECT},
    {"dst-token-file", required_argument, NULL, OPT_DST_TOKEN_FILE},
    {"no-rootfs-sync", no_argument, NULL, OPT_NO_ROOTFS_SYNC},
    {"pre-dumps", required_argument, NULL, OPT_PRE_DUMPS},
    {"converge", required_argument, NULL, OPT_CONVERGE},
    {"page-server-addr", required_argument, NULL, OPT_PS_ADDR},
    {"page-server-port", required_argument, NULL, OPT_PS_PORT},
    {"no-sysctl", no_argument, NULL, OPT_NO_SYSCTL},
    {"check", no_argument, NULL, OPT_CHECK},
    {"no-hang-test", no_argument, NULL, OPT_NO_HANG_TEST},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"csv", required_argument, NULL, OPT_CSV},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"back-host", required_argument, NULL, OPT_BACK_HOST},
    {"back-opt", required_argument, NULL, OPT_BACK_OPT},
    {"back-cmd", required_argument, NULL, OPT_BACK_CMD},
    {"compress", required_argument, NULL, OPT_COMPRESS},
    {"sync-bundle", no_argument, NULL, OPT_SYNC_BUNDLE},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"transfer", required_argument, NULL, OPT_TRANSFER},
    {"allow-old-rsync", no_argument, NULL, OPT_ALLOW_OLD_RSYNC},
    {"tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED},
    {"ext-unix-sk", no_argument, NULL, OPT_EXT_UNIX_SK},
    {"file-locks", no_argument, NULL, OPT_FILE_LOCKS},
    {"shell-job", no_argument, NULL, OPT_SHELL_JOB},
    {"manage-cgroups-mode", required_argument, NULL, OPT_MANAGE_CGROUPS},
    {"empty-ns", required_argument, NULL, OPT_EMPTY_NS},
    {"tcp-skip-in-flight", no_argument, NULL, OPT_TCP_SKIP_IN_FLIGHT},
    {"link-remap", no_argument, NULL, OPT_LINK_REMAP},
    {"tcp-close", no_argument, NULL, OPT_TCP_CLOSE},
    {"dst-netns", required_argument, NULL, OPT_DST_NETNS},
    MIG_SHARED_LONG_OPTIONS,
    MIG_COMMON_LONG_OPTIONS,
};

static void src_defaults(struct src_cli *o)
{
	memset(o, 0, sizeof(*o));
	struct plan *p = &o->plan;
	p->what.base_dir = DEFAULT_BASE_DIR;
	p->what.sync_rootfs = 1;
	p->where.control_port = DEFAULT_PORT;
	p->where.socket = DEFAULT_SOCKET;
	p->where.dst_token_file = DEFAULT_TOKEN_FILE;
	p->where.ssh.port = 22;
	p->where.ssh.user = "root";
	p->how.pre_dumps = 1;
	p->how.page_server_port = DEFAULT_PAGE_SERVER_PORT;
	/* From docs/performance.md: at 20 Mbit/s zstd cut a 256 MiB image's transfer from 117 s
	 * to 75 s and a 150 KB idle one to 19 KB; on a fast link it costs little CPU. */
	p->how.compress = COMPRESS_ZSTD;
	p->tools.runc.runc = "runc";
	p->tools.criu = "criu";
	p->limits.step_s = DEFAULT_TIMEOUT_S;
	p->loop.repeat = 1;
	p->loop.back_cmd = "migrate-src";
	p->check.hang_test = 1;
}

/* Options that only keep their argument. */
static const char **string_option(struct plan *p, int c)
{
	switch (c) {
	case 'b':
		return &p->what.base_dir;
	case 'i':
		return &p->where.ssh.identity;
	case OPT_KNOWN_HOSTS:
		return &p->where.ssh.known_hosts;
	case MIG_OPT_TOKEN_FILE:
		return &p->where.token_file;
	case MIG_OPT_SOCKET:
		return &p->where.socket;
	case OPT_DST_TOKEN_FILE:
		return &p->where.dst_token_file;
	case MIG_OPT_RUNC:
		return &p->tools.runc.runc;
	case MIG_OPT_RUNC_ROOT:
		return &p->tools.runc.root;
	case MIG_OPT_CRIU:
		return &p->tools.criu;
	case OPT_CSV:
		return &p->out.csv;
	case OPT_BACK_HOST:
		return &p->loop.back_host;
	case OPT_BACK_CMD:
		return &p->loop.back_cmd;
	}
	return NULL;
}

/* Options without an argument: the flag they set, and to what. */
static int *flag_option(struct src_cli *o, int c, int *value)
{
	struct plan *p = &o->plan;
	*value = 1;
	switch (c) {
	case MIG_OPT_JSON:
		return &p->out.json;
	case OPT_DIRECT:
		return &p->where.direct;
	case MIG_OPT_INSECURE:
		return &p->where.insecure;
	case OPT_NO_SYSCTL:
		return &p->how.no_sysctl;
	case OPT_REPLACE:
		return &p->how.replace;
	case OPT_SYNC_BUNDLE:
		return &p->how.sync_bundle;
	case OPT_ALLOW_OLD_RSYNC:
		return &p->how.allow_old_rsync;
	case OPT_TCP_ESTABLISHED:
		return &p->how.criu.tcp_established;
	case OPT_EXT_UNIX_SK:
		return &p->how.criu.ext_unix_sk;
	case OPT_FILE_LOCKS:
		return &p->how.criu.file_locks;
	case OPT_SHELL_JOB:
		return &p->how.criu.shell_job;
	case OPT_TCP_SKIP_IN_FLIGHT:
		return &p->how.criu.tcp_skip_in_flight;
	case OPT_LINK_REMAP:
		return &p->how.criu.link_remap;
	case OPT_TCP_CLOSE:
		return &p->how.criu.tcp_close;
	case OPT_CHECK:
		return &o->check;
	case OPT_NO_PROGRESS:
		return &o->no_progress;
	case 'v':
		return &p->out.verbose;
	}
	*value = c == 'q' ? -1 : 0;
	switch (c) {
	case 'q':
		return &p->out.verbose;
	case OPT_NO_ROOTFS_SYNC:
		return &p->what.sync_rootfs;
	case OPT_NO_HANG_TEST:
		return &p->check.hang_test;
	}
	return NULL;
}

/* Options taking a number in a range. */
struct int_option {
	int c;
	int lo, hi;
	const char *what;
};

static const struct int_option int_options[] = {
    {'p', 1, 65535, "port"},
    {OPT_SSH_PORT, 1, 65535, "SSH port"},
    {OPT_PS_PORT, 1, 65535, "page server port"},
    {OPT_PRE_DUMPS, 1, MAX_PRE_DUMPS, "--pre-dumps"},
    {MIG_OPT_TIMEOUT, 1, 86400, "timeout (seconds)"},
    {OPT_REPEAT, 1, MAX_REPEAT, "--repeat"},
};

static int *int_target(struct plan *p, int c)
{
	switch (c) {
	case 'p':
		return &p->where.control_port;
	case OPT_SSH_PORT:
		return &p->where.ssh.port;
	case OPT_PS_PORT:
		return &p->how.page_server_port;
	case OPT_PRE_DUMPS:
		return &p->how.pre_dumps;
	case MIG_OPT_TIMEOUT:
		return &p->limits.step_s;
	}
	return &p->loop.repeat;
}

/* 0 when c was a numeric option (and its value good), 1 when it was none, -1 on a bad
 * value. */
static int int_option(struct plan *p, int c, const char *arg, struct mig_err **err)
{
	for (size_t i = 0; i < sizeof(int_options) / sizeof(int_options[0]); i++) {
		const struct int_option *io = &int_options[i];
		if (io->c != c)
			continue;
		if (mig_parse_int(arg, io->lo, io->hi, int_target(p, c)) < 0)
			return mig_err_set(err, 0, "bad %s '%s' (%d-%d)", io->what, arg, io->lo,
					   io->hi);
		p->where.use_port |= c == 'p';
		return 0;
	}
	return 1;
}

/* The options that need more than keeping a value; 0 when c was one, 1 when not, -1 on a
 * bad value. */
static int special_option(struct src_cli *o, int c, const char *arg, int *have_t, int *have_user,
			  struct mig_err **err)
{
	struct plan *p = &o->plan;
	switch (c) {
	case 't':
		if (technique_parse(arg, &p->how.technique) < 0)
			return mig_err_set(err, 0,
					   "unknown technique '%s' (cold, pre-copy, post-copy or "
					   "hybrid)",
					   arg);
		*have_t = 1;
		return 0;
	case OPT_SSH_USER:
		p->where.ssh.user = arg;
		*have_user = 1;
		return 0;
	case OPT_CONVERGE:
		if (parse_size(arg, &p->how.converge_bytes) < 0)
			return mig_err_set(err, 0, "bad --converge '%s' (bytes, or with K, M, G)",
					   arg);
		return 0;
	case OPT_BACK_OPT:
		if (p->loop.n_back_opt >= PLAN_MAX_BACK_OPT)
			return mig_err_set(err, 0, "more than %d --back-opt", PLAN_MAX_BACK_OPT);
		p->loop.back_opt[p->loop.n_back_opt++] = arg;
		return 0;
	case OPT_COMPRESS:
		if (compress_parse(arg, &p->how.compress) < 0)
			return mig_err_set(err, 0, "bad --compress '%s' (none, zlib or zstd)", arg);
		return 0;
	case OPT_MANAGE_CGROUPS:
		if (!criu_opts_valid_mode(arg))
			return mig_err_set(err, 0,
					   "bad --manage-cgroups-mode '%s' (soft, full, strict or "
					   "ignore)",
					   arg);
		p->how.criu.manage_cgroups_mode = arg;
		return 0;
	case OPT_EMPTY_NS:
		if (strcmp(arg, "network"))
			return mig_err_set(err, 0, "bad --empty-ns '%s' (only network)", arg);
		p->how.criu.empty_ns_network = 1;
		return 0;
	case OPT_DST_NETNS:
		if (!text_valid_abs_path(arg))
			return mig_err_set(err, 0,
					   "bad --dst-netns '%s' (an absolute path, such as "
					   "/var/run/netns/NAME)",
					   arg);
		p->how.dst_netns = arg;
		return 0;
	case OPT_PS_ADDR:
		return mig_err_set(err, 0,
				   "--page-server-addr is gone: CRIU's page server listens on "
				   "127.0.0.1 only and its pages reach the destination through the "
				   "SSH connection (docs/protocol.md, \"Pages\"); drop the option");
	case OPT_TRANSFER:
		if (strcmp(arg, "stream") && strcmp(arg, "rsync"))
			return mig_err_set(err, 0, "bad --transfer '%s' (stream or rsync)", arg);
		p->how.transfer_rsync = !strcmp(arg, "rsync");
		return 0;
	}
	return 1;
}

/* One option; 0 when it was one of ours, 1 when not, -1 on a bad value. */
static int src_option(struct src_cli *o, int c, const char *arg, int *have_t, int *have_user,
		      struct mig_err **err)
{
	const char **str = string_option(&o->plan, c);
	int value;
	int *flag = flag_option(o, c, &value);
	if (str) {
		*str = arg;
		return 0;
	}
	if (flag) {
		*flag = value;
		return 0;
	}
	int r = special_option(o, c, arg, have_t, have_user, err);
	return r == 1 ? int_option(&o->plan, c, arg, err) : r;
}

int cli_parse_src(int argc, char **argv, struct src_cli *o, FILE *out, struct mig_err **err)
{
	src_defaults(o);
	int have_t = 0, have_user = 0, c;
	optind = 0; /* GNU: re-initialise, so tests can parse several command lines */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:t:b:p:i:vqhV", src_lopts, NULL)) != -1) {
		int x = src_option(o, c, optarg, &have_t, &have_user, err);
		if (x < 0)
			return -1;
		if (x == 0)
			continue;
		if (c == 'h') {
			cli_src_usage(out);
			return CLI_EXIT;
		}
		if (c == 'V') {
			mig_print_version(out, "migrate-src");
			return CLI_EXIT;
		}
		return mig_cli_bad_option(c, argv, err);
	}
	int npos = argc - optind;
	if (npos < 2 || npos > 4)
		return mig_err_set(err, 0,
				   "expected CONTAINER DEST [PRE [LAZY]], got %d argument%s", npos,
				   npos == 1 ? "" : "s");
	struct plan *p = &o->plan;
	p->what.container = argv[optind];
	if (!mig_valid_name(p->what.container))
		return mig_err_set(err, 0, "bad container name '%s' (" MIG_NAME_RULE ")",
				   p->what.container);
	if (src_dest(o, argv[optind + 1], have_user, err) < 0)
		return -1;
	if (npos >= 3 && positional_technique(o, have_t, argv[optind + 2],
					      npos == 4 ? argv[optind + 3] : NULL, err) < 0)
		return -1;
	/* runc is given --criu only when it is not the default, as the seed ran it. */
	p->tools.runc.criu = strcmp(p->tools.criu, "criu") ? p->tools.criu : NULL;
	p->tools.runc.timeout_ms = p->limits.step_s * 1000;
	p->out.progress = !o->no_progress && p->out.verbose >= 0;
	/* Both become operands on DEST: the socket a channel's target, the token file cat's. */
	if (!text_valid_abs_path(p->where.socket) || !text_valid_abs_path(p->where.dst_token_file))
		return mig_err_set(err, 0,
				   "bad --socket or --dst-token-file (absolute paths of "
				   "[A-Za-z0-9._/+-])");
	p->where.use_port |= p->where.direct;
	if (p->loop.back_host && !text_valid_host(p->loop.back_host))
		return mig_err_set(err, 0, "bad --back-host '%s' (not starting with '-')",
				   p->loop.back_host);
	return CLI_OK;
}

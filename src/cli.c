#include "cli.h"

#include "auth.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const tech_names[] = {"cold", "pre-copy", "post-copy", "hybrid"};

const char *technique_name(enum technique t)
{
	return (unsigned)t < 4 ? tech_names[t] : "unknown";
}

int technique_parse(const char *s, enum technique *t)
{
	static const struct {
		const char *name;
		enum technique t;
	} names[] = {
	    {"cold", TECH_COLD},	  {"pre-copy", TECH_PRECOPY},  {"precopy", TECH_PRECOPY},
	    {"post-copy", TECH_POSTCOPY}, {"postcopy", TECH_POSTCOPY}, {"lazy", TECH_POSTCOPY},
	    {"hybrid", TECH_HYBRID},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i].name)) {
			*t = names[i].t;
			return 0;
		}
	}
	return -1;
}

int cli_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "1", "yes", "y", "on"};
	static const char *const no[] = {"false", "0", "no", "n", "off"};
	for (size_t i = 0; i < 5; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int cli_valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("_.-", c)))
			return 0;
	}
	return 1;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

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
	    "  -p, --port PORT        migrate-dst's control port (default %d)\n"
	    "      --direct           reach the control port over plain TCP, not through SSH\n"
	    "      --ssh-port PORT    SSH port of DEST (default 22)\n"
	    "      --ssh-user USER    SSH user on DEST (default root)\n"
	    "  -i, --identity FILE    SSH private key (default: agent and ~/.ssh/id_*)\n"
	    "      --known-hosts FILE known_hosts file for DEST's host key (default ~/.ssh/known_hosts)\n"
	    "      --runc PATH        runc binary (default runc)\n"
	    "      --runc-root DIR    runc state root (default: runc's own)\n"
	    "      --no-rootfs-sync   do not copy the bundle's rootfs (it is shared by both hosts)\n"
	    "      --pre-dumps N      pre-copy/hybrid: pre-dump rounds before the final one (default 1)\n"
	    "      --converge BYTES   stop the rounds early once one dumps less (K, M, G suffixes)\n"
	    "      --page-server-addr ADDR  post-copy/hybrid: where DEST reaches this host's page\n"
	    "                         server (default: this host's address towards DEST)\n"
	    "      --page-server-port PORT  page server port (default %d)\n"
	    "      --no-sysctl        post-copy/hybrid: refuse instead of raising fs.pipe-max-size\n"
	    "      --criu PATH        criu binary (default criu)\n"
	    "      --token-file FILE  the destination's token (with --direct; else read over SSH)\n"
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
	    DEFAULT_BASE_DIR, DEFAULT_PORT, DEFAULT_PAGE_SERVER_PORT, DEFAULT_TIMEOUT_S);
}

void cli_dst_usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: migrate-dst [OPTIONS]\n"
	    "Receive runC containers migrated by migrate-src and restore them with runc.\n"
	    "\n"
	    "Options:\n"
	    "  -l, --listen ADDR      address to listen on (default 127.0.0.1: migrate-src\n"
	    "                         reaches it through its SSH connection)\n"
	    "  -p, --port PORT        control port (default %d; 0 picks a free one)\n"
	    "  -b, --base-dir DIR     bundles are DIR/CONTAINER (default %s)\n"
	    "      --runc PATH        runc binary (default runc)\n"
	    "      --runc-root DIR    runc state root (default: runc's own)\n"
	    "      --criu PATH        criu binary (default criu)\n"
	    "      --token-file FILE  the shared secret every request must prove (default\n"
	    "                         %s; created, mode 0600, when missing)\n"
	    "      --insecure         no authentication: anyone who reaches the port runs runc\n"
	    "                         as root (only for isolated test networks)\n"
	    "      --timeout SECS     limit for each runc/CRIU step (default %d)\n"
	    "      --once             exit after one migration (exit 0 if it succeeded)\n"
	    "      --json             print each migration's report as one JSON line\n"
	    "  -v, --verbose          debug output;  -q, --quiet  errors only\n"
	    "  -h, --help             this help;     -V, --version  version\n",
	    DEFAULT_PORT, DEFAULT_BASE_DIR, DEFAULT_TOKEN_FILE, DEFAULT_TIMEOUT_S);
}

static void version(FILE *out, const char *prog)
{
	fprintf(out, "%s %s (git %s)\n", prog, MIG_VERSION, MIG_GIT_REV);
}

enum {
	OPT_SSH_PORT = 256,
	OPT_SSH_USER,
	OPT_KNOWN_HOSTS,
	OPT_RUNC,
	OPT_RUNC_ROOT,
	OPT_JSON,
	OPT_DIRECT,
	OPT_NO_ROOTFS_SYNC,
	OPT_PRE_DUMPS,
	OPT_CONVERGE,
	OPT_PS_ADDR,
	OPT_PS_PORT,
	OPT_NO_SYSCTL,
	OPT_CRIU,
	OPT_TOKEN_FILE,
	OPT_INSECURE,
	OPT_TIMEOUT,
	OPT_ONCE,
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
};

const char *compress_name(enum compress c)
{
	static const char *const names[] = {"none", "zlib", "zstd"};
	return (unsigned)c < 3 ? names[c] : "?";
}

int compress_parse(const char *s, enum compress *c)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, compress_name((enum compress)i))) {
			*c = (enum compress)i;
			return 0;
		}
	return -1;
}

/* The options for experiment loops and transfers (kept apart from the core ones). */
static int parse_src_extra(int c, const char *arg, struct src_opts *o, struct mig_err **err)
{
	switch (c) {
	case OPT_REPLACE:
		o->replace = 1;
		return 0;
	case OPT_CSV:
		o->csv = arg;
		return 0;
	case OPT_REPEAT:
		if (parse_int(arg, 1, MAX_REPEAT, &o->repeat) < 0)
			return mig_err_set(err, 0, "bad --repeat '%s' (1-%d)", arg, MAX_REPEAT);
		return 0;
	case OPT_BACK_HOST:
		o->back_host = arg;
		return 0;
	case OPT_BACK_CMD:
		o->back_cmd = arg;
		return 0;
	case OPT_BACK_OPT:
		if (o->n_back_opt >= MAX_BACK_OPT)
			return mig_err_set(err, 0, "more than %d --back-opt", MAX_BACK_OPT);
		o->back_opt[o->n_back_opt++] = arg;
		return 0;
	case OPT_COMPRESS:
		if (compress_parse(arg, &o->compress) < 0)
			return mig_err_set(err, 0, "bad --compress '%s' (none, zlib or zstd)", arg);
		return 0;
	case OPT_SYNC_BUNDLE:
		o->sync_bundle = 1;
		return 0;
	case OPT_NO_PROGRESS:
		o->no_progress = 1;
		return 0;
	case OPT_TRANSFER:
		if (strcmp(arg, "stream") && strcmp(arg, "rsync"))
			return mig_err_set(err, 0, "bad --transfer '%s' (stream or rsync)", arg);
		o->transfer_rsync = !strcmp(arg, "rsync");
		return 0;
	}
	return 1;
}

/* Sets the technique from PRE and LAZY, and checks it against an explicit --technique. */
static int positional_technique(struct src_opts *o, int have_t, const char *pre, const char *lazy,
				struct mig_err **err)
{
	int p = 0, l = 0;
	if (cli_parse_bool(pre, &p) < 0)
		return mig_err_set(err, 0, "PRE must be True or False (or 1/0, yes/no), not '%s'",
				   pre);
	if (lazy && cli_parse_bool(lazy, &l) < 0)
		return mig_err_set(err, 0, "LAZY must be True or False (or 1/0, yes/no), not '%s'",
				   lazy);
	enum technique t = p ? (l ? TECH_HYBRID : TECH_PRECOPY) : (l ? TECH_POSTCOPY : TECH_COLD);
	if (have_t && t != o->technique)
		return mig_err_set(err, 0, "PRE/LAZY select %s but --technique says %s",
				   technique_name(t), technique_name(o->technique));
	o->technique = t;
	return 0;
}

static int src_dest(struct src_opts *o, const char *dest, int have_user, struct mig_err **err)
{
	snprintf(o->dest_buf, sizeof(o->dest_buf), "%s", dest);
	char *at = strrchr(o->dest_buf, '@');
	o->dest_host = o->dest_buf;
	if (at) {
		*at = '\0';
		if (!have_user)
			o->ssh_user = o->dest_buf;
		o->dest_host = at + 1;
	}
	if (!*o->dest_host || strlen(dest) >= sizeof(o->dest_buf))
		return mig_err_set(err, 0, "bad destination '%s'", dest);
	if (!*o->ssh_user)
		return mig_err_set(err, 0, "empty SSH user in '%s'", dest);
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
    {"runc", required_argument, NULL, OPT_RUNC},
    {"runc-root", required_argument, NULL, OPT_RUNC_ROOT},
    {"json", no_argument, NULL, OPT_JSON},
    {"direct", no_argument, NULL, OPT_DIRECT},
    {"no-rootfs-sync", no_argument, NULL, OPT_NO_ROOTFS_SYNC},
    {"pre-dumps", required_argument, NULL, OPT_PRE_DUMPS},
    {"converge", required_argument, NULL, OPT_CONVERGE},
    {"page-server-addr", required_argument, NULL, OPT_PS_ADDR},
    {"page-server-port", required_argument, NULL, OPT_PS_PORT},
    {"no-sysctl", no_argument, NULL, OPT_NO_SYSCTL},
    {"criu", required_argument, NULL, OPT_CRIU},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
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
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void src_defaults(struct src_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->repeat = 1;
	o->back_cmd = "migrate-src";
	/* From docs/performance.md: at 20 Mbit/s zstd cut a 256 MiB image's transfer from 117 s
	 * to 75 s and a 150 KB idle one to 19 KB; on a fast link it costs little CPU. */
	o->compress = COMPRESS_ZSTD;
	o->base_dir = DEFAULT_BASE_DIR;
	o->port = DEFAULT_PORT;
	o->ssh_port = 22;
	o->ssh_user = "root";
	o->runc = "runc";
	o->timeout_s = DEFAULT_TIMEOUT_S;
	o->pre_dumps = 1;
	o->page_server_port = DEFAULT_PAGE_SERVER_PORT;
	o->criu = "criu";
}

/* The core options; 0 when c was one of them, 1 when not, -1 on a bad value. */
static int parse_src_core(int c, const char *arg, struct src_opts *o, int *have_t, int *have_user,
			  struct mig_err **err)
{
	switch (c) {
	case 't':
		if (technique_parse(arg, &o->technique) < 0)
			return mig_err_set(err, 0,
					   "unknown technique '%s' (cold, pre-copy, "
					   "post-copy or hybrid)",
					   arg);
		*have_t = 1;
		return 0;
	case 'b':
		o->base_dir = arg;
		return 0;
	case 'p':
		if (parse_int(arg, 1, 65535, &o->port) < 0)
			return mig_err_set(err, 0, "bad port '%s'", arg);
		return 0;
	case 'i':
		o->identity = arg;
		return 0;
	case OPT_SSH_PORT:
		if (parse_int(arg, 1, 65535, &o->ssh_port) < 0)
			return mig_err_set(err, 0, "bad SSH port '%s'", arg);
		return 0;
	case OPT_SSH_USER:
		o->ssh_user = arg;
		*have_user = 1;
		return 0;
	case OPT_KNOWN_HOSTS:
		o->known_hosts = arg;
		return 0;
	case OPT_RUNC:
		o->runc = arg;
		return 0;
	case OPT_RUNC_ROOT:
		o->runc_root = arg;
		return 0;
	case OPT_JSON:
		o->json = 1;
		return 0;
	case OPT_DIRECT:
		o->direct = 1;
		return 0;
	case OPT_NO_ROOTFS_SYNC:
		o->no_rootfs_sync = 1;
		return 0;
	case OPT_PRE_DUMPS:
		if (parse_int(arg, 1, MAX_PRE_DUMPS, &o->pre_dumps) < 0)
			return mig_err_set(err, 0, "bad --pre-dumps '%s' (1-%d)", arg,
					   MAX_PRE_DUMPS);
		return 0;
	case OPT_CONVERGE:
		if (parse_size(arg, &o->converge_bytes) < 0)
			return mig_err_set(err, 0, "bad --converge '%s' (bytes, or with K, M, G)",
					   arg);
		return 0;
	case OPT_PS_ADDR:
		o->page_server_addr = arg;
		return 0;
	case OPT_PS_PORT:
		if (parse_int(arg, 1, 65535, &o->page_server_port) < 0)
			return mig_err_set(err, 0, "bad page server port '%s'", arg);
		return 0;
	case OPT_NO_SYSCTL:
		o->no_sysctl = 1;
		return 0;
	case OPT_CRIU:
		o->criu = arg;
		return 0;
	case OPT_TOKEN_FILE:
		o->token_file = arg;
		return 0;
	case OPT_TIMEOUT:
		if (parse_int(arg, 1, 86400, &o->timeout_s) < 0)
			return mig_err_set(err, 0, "bad timeout '%s' (seconds, 1-86400)", arg);
		return 0;
	case OPT_CHECK:
		o->check = 1;
		return 0;
	case OPT_NO_HANG_TEST:
		o->no_hang_test = 1;
		return 0;
	case 'v':
		o->verbose = 1;
		return 0;
	case 'q':
		o->verbose = -1;
		return 0;
	}
	return 1;
}

int cli_parse_src(int argc, char **argv, struct src_opts *o, FILE *out, struct mig_err **err)
{
	src_defaults(o);
	int have_t = 0, have_user = 0, c;
	optind = 0; /* GNU: re-initialise, so tests can parse several command lines */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:t:b:p:i:vqhV", src_lopts, NULL)) != -1) {
		int x = parse_src_extra(c, optarg, o, err);
		if (x == 1)
			x = parse_src_core(c, optarg, o, &have_t, &have_user, err);
		if (x < 0)
			return -1;
		if (x == 0)
			continue;
		switch (c) {
		case 'h':
			cli_src_usage(out);
			return CLI_EXIT;
		case 'V':
			version(out, "migrate-src");
			return CLI_EXIT;
		case ':':
			return mig_err_set(err, 0, "option '%s' needs an argument",
					   argv[optind - 1]);
		default:
			return mig_err_set(err, 0, "unknown option '%s'", argv[optind - 1]);
		}
	}
	int npos = argc - optind;
	if (npos < 2 || npos > 4)
		return mig_err_set(err, 0,
				   "expected CONTAINER DEST [PRE [LAZY]], got %d argument%s", npos,
				   npos == 1 ? "" : "s");
	o->container = argv[optind];
	if (!cli_valid_name(o->container))
		return mig_err_set(err, 0,
				   "bad container name '%s' (1-128 of A-Z a-z 0-9 _ . -, starting "
				   "with a letter or digit)",
				   o->container);
	if (src_dest(o, argv[optind + 1], have_user, err) < 0)
		return -1;
	if (npos >= 3 && positional_technique(o, have_t, argv[optind + 2],
					      npos == 4 ? argv[optind + 3] : NULL, err) < 0)
		return -1;
	return CLI_OK;
}

int cli_parse_dst(int argc, char **argv, struct dst_opts *o, FILE *out, struct mig_err **err)
{
	static const struct option lopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"port", required_argument, NULL, 'p'},
	    {"base-dir", required_argument, NULL, 'b'},
	    {"runc", required_argument, NULL, OPT_RUNC},
	    {"runc-root", required_argument, NULL, OPT_RUNC_ROOT},
	    {"criu", required_argument, NULL, OPT_CRIU},
	    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
	    {"insecure", no_argument, NULL, OPT_INSECURE},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"once", no_argument, NULL, OPT_ONCE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->listen_addr = "127.0.0.1";
	o->port = DEFAULT_PORT;
	o->base_dir = DEFAULT_BASE_DIR;
	o->runc = "runc";
	o->criu = "criu";
	o->token_file = DEFAULT_TOKEN_FILE;
	o->timeout_s = DEFAULT_TIMEOUT_S;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:l:p:b:vqhV", lopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen_addr = optarg;
			break;
		case 'p':
			if (parse_int(optarg, 0, 65535, &o->port) < 0)
				return mig_err_set(err, 0, "bad port '%s'", optarg);
			break;
		case 'b':
			o->base_dir = optarg;
			break;
		case OPT_RUNC:
			o->runc = optarg;
			break;
		case OPT_RUNC_ROOT:
			o->runc_root = optarg;
			break;
		case OPT_CRIU:
			o->criu = optarg;
			break;
		case OPT_TOKEN_FILE:
			o->token_file = optarg;
			break;
		case OPT_INSECURE:
			o->insecure = 1;
			break;
		case OPT_TIMEOUT:
			if (parse_int(optarg, 1, 86400, &o->timeout_s) < 0)
				return mig_err_set(err, 0, "bad timeout '%s' (seconds, 1-86400)",
						   optarg);
			break;
		case OPT_ONCE:
			o->once = 1;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'q':
			o->verbose = -1;
			break;
		case 'h':
			cli_dst_usage(out);
			return CLI_EXIT;
		case 'V':
			version(out, "migrate-dst");
			return CLI_EXIT;
		case ':':
			return mig_err_set(err, 0, "option '%s' needs an argument",
					   argv[optind - 1]);
		default:
			return mig_err_set(err, 0, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return mig_err_set(err, 0, "unexpected argument '%s'", argv[optind]);
	return CLI_OK;
}

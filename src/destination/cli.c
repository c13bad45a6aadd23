/* migrate-dst's command line (cli.h). */
#include "cli.h"

#include <getopt.h>
#include <string.h>

#include "auth.h"
#include "mig.h"

void cli_dst_usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: migrate-dst [OPTIONS]\n"
	    "Receive runC containers migrated by migrate-src and restore them with runc.\n"
	    "\n"
	    "Options:\n"
	    "      --socket PATH      the control socket (default %s): root's only, reached\n"
	    "                         by migrate-src through its SSH connection\n"
	    "  -l, --listen ADDR      also listen on TCP at ADDR (default 127.0.0.1 with -p)\n"
	    "  -p, --port PORT        also listen on this TCP port (default %d with -l; 0 picks\n"
	    "                         a free one), for sources that use a TCP port\n"
	    "  -b, --base-dir DIR     bundles are DIR/CONTAINER (default %s)\n"
	    "      --runc PATH        runc binary (default runc)\n"
	    "      --runc-root DIR    runc state root (default: runc's own)\n"
	    "      --criu PATH        criu binary (default criu)\n"
	    "      --token-file FILE  the shared secret every request must prove (default\n"
	    "                         %s; created, mode 0600, when missing)\n"
	    "      --insecure         no authentication: anyone who reaches it runs runc\n"
	    "                         as root (only for isolated test networks)\n"
	    "      --timeout SECS     limit for each runc/CRIU step (default %d)\n"
	    "      --once             exit after one migration (exit 0 if it succeeded)\n"
	    "      --json             print each migration's report as one JSON line\n"
	    "  -v, --verbose          debug output;  -q, --quiet  errors only\n"
	    "  -h, --help             this help;     -V, --version  version\n",
	    DEFAULT_SOCKET, DEFAULT_PORT, DEFAULT_BASE_DIR, DEFAULT_TOKEN_FILE, DEFAULT_TIMEOUT_S);
}

enum {
	OPT_ONCE = MIG_OPT_FIRST_OWN,
};

int cli_parse_dst(int argc, char **argv, struct dst_config *o, FILE *out, struct mig_err **err)
{
	static const struct option lopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"port", required_argument, NULL, 'p'},
	    {"base-dir", required_argument, NULL, 'b'},
	    {"once", no_argument, NULL, OPT_ONCE},
	    MIG_SHARED_LONG_OPTIONS,
	    MIG_COMMON_LONG_OPTIONS,
	};
	memset(o, 0, sizeof(*o));
	o->listen_addr = "127.0.0.1";
	o->port = DEFAULT_PORT;
	o->socket = DEFAULT_SOCKET;
	o->base_dir = DEFAULT_BASE_DIR;
	o->runc.runc = "runc";
	o->criu = "criu";
	o->token_file = DEFAULT_TOKEN_FILE;
	o->step_s = DEFAULT_TIMEOUT_S;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:l:p:b:vqhV", lopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen_addr = optarg;
			o->tcp = 1;
			break;
		case 'p':
			if (mig_parse_int(optarg, 0, 65535, &o->port) < 0)
				return mig_err_set(err, 0, "bad port '%s'", optarg);
			o->tcp = 1;
			break;
		case MIG_OPT_SOCKET:
			o->socket = optarg;
			break;
		case 'b':
			o->base_dir = optarg;
			break;
		case MIG_OPT_RUNC:
			o->runc.runc = optarg;
			break;
		case MIG_OPT_RUNC_ROOT:
			o->runc.root = optarg;
			break;
		case MIG_OPT_CRIU:
			o->criu = optarg;
			break;
		case MIG_OPT_TOKEN_FILE:
			o->token_file = optarg;
			break;
		case MIG_OPT_INSECURE:
			o->insecure = 1;
			break;
		case MIG_OPT_TIMEOUT:
			if (mig_parse_int(optarg, 1, 86400, &o->step_s) < 0)
				return mig_err_set(err, 0, "bad timeout '%s' (seconds, 1-86400)",
						   optarg);
			break;
		case OPT_ONCE:
			o->once = 1;
			break;
		case MIG_OPT_JSON:
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
			mig_print_version(out, "migrate-dst");
			return CLI_EXIT;
		default:
			return mig_cli_bad_option(c, argv, err);
		}
	}
	if (optind < argc)
		return mig_err_set(err, 0, "unexpected argument '%s'", argv[optind]);
	o->runc.criu = strcmp(o->criu, "criu") ? o->criu : NULL;
	o->runc.timeout_ms = o->step_s * 1000;
	return CLI_OK;
}

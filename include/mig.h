/* What both programs agree on: exit codes, the techniques and their names, the
 * compression choices, the container-name rule, and the defaults both command lines share.
 * The names are part of the control protocol (the "technique" field) and of the reports. */
#ifndef MIG_MIG_H
#define MIG_MIG_H

#include <getopt.h>
#include <stdio.h>

#include "err.h"

#define DEFAULT_BASE_DIR "/runc/containers"
#define DEFAULT_PORT	 18863
/* migrate-dst's control socket: root's only (0600 in a 0700 directory). */
#define DEFAULT_SOCKET		 "/run/migrate-dst/control.sock"
#define DEFAULT_TIMEOUT_S	 300
#define DEFAULT_PAGE_SERVER_PORT 27 /* as in the seed */

/* Exit codes of migrate-src, documented in --help, the man page and README. */
enum exit_code {
	EXIT_MIGRATED = 0,
	EXIT_USAGE = 1,
	EXIT_REFUSED = 2,     /* refused before the container was touched */
	EXIT_ROLLED_BACK = 3, /* failed after the checkpoint; the container runs on the source */
	EXIT_NEEDS_HUMAN = 4, /* failed; the message says where the container and image are */
};

enum technique { TECH_COLD = 0, TECH_PRECOPY, TECH_POSTCOPY, TECH_HYBRID };
#define TECH_COUNT 4

/* Compression of what crosses the link (--compress): rsync's, and the streamed image's. */
enum compress { COMPRESS_NONE = 0, COMPRESS_ZLIB, COMPRESS_ZSTD };

/* "cold", "pre-copy", "post-copy", "hybrid"; "unknown" out of range. */
const char *technique_name(enum technique t);
/* Those names (case-insensitive), and "precopy", "postcopy", "lazy".  0 or -1. */
int technique_parse(const char *s, enum technique *t);
/* The technique leaves memory behind for the lazy-pages daemon (post-copy, hybrid). */
int technique_lazy(enum technique t);
/* The technique runs pre-dump rounds (pre-copy, hybrid). */
int technique_precopy(enum technique t);

const char *compress_name(enum compress c);
int compress_parse(const char *s, enum compress *c);

/* A container name is 1-128 of [A-Za-z0-9_.-], not starting with '.', '_' or '-': it is
 * a path component on both hosts and runc's container id, and it arrives from the peer. */
int mig_valid_name(const char *name);
#define MIG_NAME_RULE "1-128 of A-Z a-z 0-9 _ . -, starting with a letter or digit"
#define MIG_NAME_MAX  128

/* ---- command-line pieces both parsers use ---- */

/* What a parser returns: go on, exit 0 (help or version was printed), or a usage error. */
enum cli_rc { CLI_OK = 0, CLI_EXIT = 1, CLI_USAGE = -1 };

/* getopt_long values of the long options both programs take; each CLI numbers its own
 * from MIG_OPT_FIRST_OWN. */
enum {
	MIG_OPT_RUNC = 256,
	MIG_OPT_RUNC_ROOT,
	MIG_OPT_CRIU,
	MIG_OPT_TOKEN_FILE,
	MIG_OPT_TIMEOUT,
	MIG_OPT_JSON,
	MIG_OPT_SOCKET,
	MIG_OPT_INSECURE,
	MIG_OPT_FIRST_OWN,
};

/* The options that mean the same on both sides: where runc and CRIU are, the shared
 * token, the per-step deadline, the report's format, the control socket and --insecure (no
 * authentication: both sides must say so).  Clang-format cannot lay this out, so it is
 * left alone. */
// clang-format off
#define MIG_SHARED_LONG_OPTIONS                                          \
	{"runc", required_argument, NULL, MIG_OPT_RUNC},                 \
	{"runc-root", required_argument, NULL, MIG_OPT_RUNC_ROOT},       \
	{"criu", required_argument, NULL, MIG_OPT_CRIU},                 \
	{"token-file", required_argument, NULL, MIG_OPT_TOKEN_FILE},     \
	{"timeout", required_argument, NULL, MIG_OPT_TIMEOUT},           \
	{"json", no_argument, NULL, MIG_OPT_JSON},                       \
	{"socket", required_argument, NULL, MIG_OPT_SOCKET},             \
	{"insecure", no_argument, NULL, MIG_OPT_INSECURE}
// clang-format on

/* The long options both programs have (-v, -q, -h, -V) and the end of a getopt_long
 * table. */
#define MIG_COMMON_LONG_OPTIONS                                                    \
	{"verbose", no_argument, NULL, 'v'}, {"quiet", no_argument, NULL, 'q'},    \
	    {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, \
	{                                                                          \
		NULL, 0, NULL, 0                                                   \
	}

/* "PROG VERSION (git REV)". */
void mig_print_version(FILE *out, const char *prog);

/* A decimal integer in lo..hi, nothing else.  0 or -1. */
int mig_parse_int(const char *s, int lo, int hi, int *out);

/* The seed's positional booleans: True/False, 1/0, yes/no, y/n, on/off, any case. */
int mig_parse_bool(const char *s, int *out);

/* The error for getopt_long's ':' (missing argument) or '?' (unknown option) c. */
int mig_cli_bad_option(int c, char **argv, struct mig_err **err);

#endif

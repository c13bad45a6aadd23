/* Command lines of migrate-src and migrate-dst: parsing and validation, no side effects.
 * The parsers never exit: they return CLI_OK, CLI_EXIT (help or version was printed) or
 * CLI_USAGE with *err saying what is wrong; the mains turn that into exit code 1. */
#ifndef MIG_CLI_H
#define MIG_CLI_H

#include <stdio.h>

#include "err.h"

#define DEFAULT_BASE_DIR	 "/runc/containers"
#define DEFAULT_PORT		 18863
#define DEFAULT_TIMEOUT_S	 300
#define DEFAULT_PAGE_SERVER_PORT 27 /* as in the seed */
#define MAX_PRE_DUMPS		 64

enum cli_rc { CLI_OK = 0, CLI_EXIT = 1, CLI_USAGE = -1 };

enum technique { TECH_COLD = 0, TECH_PRECOPY, TECH_POSTCOPY, TECH_HYBRID };

/* rsync's compression of the transfers (--compress). */
enum compress { COMPRESS_NONE = 0, COMPRESS_ZLIB, COMPRESS_ZSTD };

#define MAX_REPEAT   1000
#define MAX_BACK_OPT 32

/* Exit codes, documented in --help and README. */
enum exit_code {
	EXIT_MIGRATED = 0,
	EXIT_USAGE = 1,
	EXIT_REFUSED = 2,     /* refused before the container was touched */
	EXIT_ROLLED_BACK = 3, /* failed after the checkpoint; the container runs on the source */
	EXIT_NEEDS_HUMAN =
	    4, /* failed; state needs a person (the message says where the image is) */
};

struct src_opts {
	const char *container;
	const char *dest_host; /* DEST without "user@" */
	const char *ssh_user;  /* from --ssh-user, or DEST's "user@" */
	enum technique technique;
	const char *base_dir;
	int port;
	int ssh_port;
	const char *identity;
	const char *known_hosts;
	const char *runc;
	const char *runc_root;
	int json;
	int direct;
	int no_rootfs_sync;
	int timeout_s;
	int pre_dumps;		      /* pre-copy rounds (default 1, the seed's behaviour) */
	long long converge_bytes;     /* stop the rounds once one dumps less (0: never) */
	const char *page_server_addr; /* NULL: the local address of the SSH/control connection */
	int page_server_port;
	int no_sysctl;		/* refuse instead of raising fs.pipe-max-size */
	const char *criu;	/* criu binary for feature checks; passed to runc with --criu */
	const char *token_file; /* NULL: read the destination's over SSH */
	int verbose;		/* -1 quiet, 0 normal, 1 debug */
	int check;		/* --check: report what would work (doctor.h), change nothing */
	int no_hang_test;	/* --check without the CRIU hang test */
	int replace;		/* the destination removes a same-named container first */
	const char *csv;	/* append one row per migration to this file */
	int repeat;		/* migrations back and forth (1: just one, there) */
	const char *back_host;	/* how DEST reaches this host for the way back */
	const char *back_cmd;	/* migrate-src on DEST (default "migrate-src", its PATH) */
	const char *back_opt[MAX_BACK_OPT + 1]; /* extra options for DEST's migrate-src */
	int n_back_opt;
	enum compress compress;
	int sync_bundle;    /* send config.json (and rootfs) when DEST lacks the bundle */
	int transfer_rsync; /* --transfer rsync: the image by rsync too (default: streamed
			     * through the control channel, stream.h) */
	int no_progress;    /* no progress line even on a terminal */
	char dest_buf[256];
};

struct dst_opts {
	const char *listen_addr;
	int port; /* 0: the kernel picks one, printed in the "listening on" line */
	const char *base_dir;
	const char *runc;
	const char *runc_root;
	const char *criu; /* criu binary (feature checks, lazy-pages daemon) */
	const char *token_file;
	int insecure; /* no authentication of requests */
	int once;
	int json;
	int timeout_s;
	int verbose;
};

const char *technique_name(enum technique t);
const char *compress_name(enum compress c);
int compress_parse(const char *s, enum compress *c);
/* Parses "cold", "pre-copy", "post-copy", "hybrid" (also "precopy", "postcopy"). */
int technique_parse(const char *s, enum technique *t);

/* Parses the seed's positional booleans: True/False, 1/0, yes/no, case-insensitive. */
int cli_parse_bool(const char *s, int *out);

/* A container name is 1-128 of [A-Za-z0-9_.-], not starting with '.', '_' or '-': it is used
 * as a path component on both hosts and as runc's container id. */
int cli_valid_name(const char *name);

int cli_parse_src(int argc, char **argv, struct src_opts *o, FILE *out, struct mig_err **err);
int cli_parse_dst(int argc, char **argv, struct dst_opts *o, FILE *out, struct mig_err **err);

void cli_src_usage(FILE *out);
void cli_dst_usage(FILE *out);

#endif

/* What migrate-dst is told to do: where to listen, where the bundles are, which tools to
 * run, the token, the limits and the output.  Its command line fills it (cli.h); the
 * server and the handlers know nothing of how it was spelled. */
#ifndef MIG_DST_CONFIG_H
#define MIG_DST_CONFIG_H

#include "runc.h"

struct dst_config {
	const char *socket; /* the control socket, always */
	int tcp;	    /* -l or -p: a TCP listener too */
	const char *listen_addr;
	int port; /* 0: the kernel picks one, printed in the "listening on" line */
	const char *base_dir;
	struct runc_ctx runc; /* runc binary, --root, --criu; timeout_ms = one step */
	const char *criu;     /* criu binary for our own criu calls */
	const char *token_file;
	int insecure; /* no authentication of requests */
	int once;     /* exit after the first connection that tried a restore */
	int json;
	int verbose;
	int step_s; /* --timeout: one runc/CRIU step (timeouts.h derives the rest) */
};

#endif

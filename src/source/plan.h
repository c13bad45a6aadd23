/* The plan of a migration: what the source-side library (session, techniques, loops, the
 * doctor) is told to do.  migrate-src's command line builds it (cli.h); nothing below the
 * main knows how it was spelled there. */
#ifndef MIG_PLAN_H
#define MIG_PLAN_H

#include "mig.h"
#include "runc.h"
#include "ssh.h"

#define PLAN_MAX_BACK_OPT 32

struct plan {
	/* what to migrate */
	struct {
		const char *container;
		const char *base_dir; /* the bundle is BASE/CONTAINER */
		int sync_rootfs;      /* the rootfs is not shared by both hosts */
	} what;
	/* where to */
	struct {
		struct ssh_target ssh; /* DEST, and how to log in there */
		/* The control channel: migrate-dst's Unix socket through SSH (default), its TCP
		 * port through SSH (use_port, -p), or that port over plain TCP (direct). */
		const char *socket;
		int control_port;
		int use_port;
		int direct;
		const char *token_file;	    /* a local copy of the token; NULL: read over SSH */
		const char *dst_token_file; /* where the token is on DEST (read over SSH) */
		int insecure;		    /* accept a destination that authenticates nothing */
	} where;
	/* how */
	struct {
		enum technique technique;
		int pre_dumps;		  /* pre-copy rounds (1: the seed's behaviour) */
		long long converge_bytes; /* stop the rounds once one dumps less (0: never) */
		int page_server_port;
		int no_sysctl; /* refuse instead of raising fs.pipe-max-size */
		enum compress compress;
		int transfer_rsync;  /* the image by rsync too (default: streamed, stream.h) */
		int sync_bundle;     /* send config.json (and rootfs) when DEST lacks the bundle */
		int replace;	     /* DEST removes a same-named container first */
		int allow_old_rsync; /* an rsync older than 3.2.4 is used anyway (with -s) */
		struct criu_opts criu; /* CRIU options for the dump and the restores */
		const char *dst_netns; /* the destination's netns path for a named-netns bundle */
	} how;
	/* the tools on this host */
	struct {
		struct runc_ctx runc; /* runc binary, --root, --criu; timeout_ms = one step */
		const char *criu;     /* criu binary for our own criu calls ("criu") */
	} tools;
	/* limits */
	struct {
		int step_s; /* --timeout: one runc/CRIU step (timeouts.h derives the rest) */
	} limits;
	/* what the person sees */
	struct {
		int json;
		int verbose;	 /* -1 quiet, 0 normal, 1 debug */
		int progress;	 /* a progress line for transfers */
		const char *csv; /* append one row per migration */
	} out;
	/* --repeat */
	struct {
		int repeat;	       /* migrations back and forth (1: just one, there) */
		const char *back_host; /* how DEST reaches this host (NULL: our address) */
		const char *back_cmd;  /* migrate-src on DEST */
		const char *back_opt[PLAN_MAX_BACK_OPT + 1];
		int n_back_opt;
	} loop;
	/* --check */
	struct {
		int hang_test; /* run the dump hang test */
	} check;
};

#endif

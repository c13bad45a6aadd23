/* Facts about one host that decide whether a migration can run there: runc and CRIU
 * versions, `criu check` and the features the techniques need, the bundle, runc's view of
 * the container, free space, the pipe size CRIU's page server needs, and whether a CRIU dump
 * hangs without CRIU_FAULT=130.
 *
 * They are gathered the same way on both hosts (migrate-src --check on the source, the
 * "doctor" request on the destination) and carried between them as JSON.  Gathering changes
 * nothing: it only reads, except for the hang test, which dumps a throwaway `sleep` it
 * started itself (--leave-running) into a temp dir it made, then kills that sleep by its PID
 * and removes the dir.  It takes no locks, so it neither waits for nor holds up a migration. */
#ifndef MIG_FACTS_H
#define MIG_FACTS_H

#include <signal.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "runc.h"

/* The CRIU features some technique needs (criu check --feature NAME). */
#define FACTS_N_FEATURES 2
extern const char *const facts_features[FACTS_N_FEATURES];
#define FACTS_FEATURE_DIRTY 0 /* "mem_dirty_track": pre-copy, hybrid (source) */
#define FACTS_FEATURE_UFFD  1 /* "uffd-noncoop": post-copy, hybrid (destination) */

enum facts_tri { FACT_UNKNOWN = -1, FACT_NO = 0, FACT_YES = 1 };

/* In the environment of the TCP test's throwaway process (a copy of the program itself):
 * the descriptor it reports readiness on.  Both mains call facts_tcp_child() first thing
 * when it is set. */
#define FACTS_TCP_CHILD_ENV "MIGRATE_TCP_TEST_FD"
/* ... and its lifetime in seconds: it ends by itself then, or when its parent dies. */
#define FACTS_TCP_LIFE_ENV "MIGRATE_TCP_TEST_LIFE_S"

/* The throwaway process of the TCP test dump: a network namespace of its own, lo up, a
 * listening socket and a connection to it (both ends), then a byte on the descriptor named
 * by FACTS_TCP_CHILD_ENV, then it waits to be killed (or for its lifetime, or its parent's
 * death).  Returns only on failure. */
int facts_tcp_child(void);

enum hang_result {
	HANG_SKIPPED = 0, /* not run */
	HANG_OK,	  /* the test dump finished */
	HANG_HANGS,	  /* it did not finish in time and was stopped */
	HANG_FAILED,	  /* it ended with an error */
};

struct facts_opts {
	const struct runc_ctx *runc;
	const char *criu;	     /* criu binary */
	const char *base_dir;	     /* bundles are BASE/NAME */
	const char *name;	     /* the container */
	int hang_test_ms;	     /* 0: no hang test */
	const char *proc_sys_dir;    /* NULL: "/proc/sys" */
	const char *tmp_dir;	     /* NULL: $TMPDIR or /tmp (the test dump's images) */
	volatile sig_atomic_t *stop; /* when set (by a signal), the hang test stops early */
};

struct host_facts {
	char *runc_version; /* NULL: unknown, runc_error says why */
	char *runc_error;
	char *criu_version;
	char *criu_error;
	int criu_check; /* enum facts_tri: `criu check` exited 0 */
	char *criu_check_detail;
	int features[FACTS_N_FEATURES]; /* enum facts_tri, per facts_features */
	char *base_dir;
	long long free_bytes; /* available to us in base_dir; -1 unknown */
	/* the bundle BASE/NAME */
	int bundle_ok; /* config.json readable and the rootfs a directory */
	char *bundle_dir;
	char *bundle_detail; /* why not ok */
	char *root_path;     /* root.path as written in config.json, NULL when unknown */
	/* cgroups (cgroup.h) */
	int cgroup2;		 /* enum facts_tri: /sys/fs/cgroup is cgroup v2 */
	char *cgroup_root;	 /* cgroup v2 and runc < 1.2: the cgroup-root a restore of the
				  * bundle gives CRIU (restore.h); NULL otherwise */
	char *cgroup_root_error; /* why it cannot be given, when it is needed */
	/* runc's view of NAME */
	char *container_status; /* runc_status_name(), NULL when runc could not say */
	char *container_error;
	int container_pid;
	long long container_memory; /* anonymous + shared memory bytes: about the image size */
	/* CRIU's lazy page server pipe (docs/notes-platform.md) */
	int cap_sys_resource;
	long pipe_max_size; /* -1 unknown */
	int pipe_max_writable;
	int criu_fault_set; /* CRIU_FAULT=130 in this process's environment */
	/* the hang test */
	int hang;	     /* enum hang_result of a dump without CRIU_FAULT */
	int hang_with_fault; /* when that hung: of a second dump with CRIU_FAULT=130 */
	char *hang_detail;
	long long hang_ms; /* how long the first test dump took */
	/* the TCP test dump: a throwaway process with a listening and a connected TCP socket,
	 * dumped with --tcp-established (and CRIU_FAULT=130: this one is about sockets) */
	int tcp;	  /* enum hang_result */
	char *tcp_detail; /* why not */
	long long tcp_ms;
	long long container_tcp; /* TCP sockets in the container's network namespace; -1 */
};

/* Gathers the facts of this host.  Never fails: what cannot be found out is unknown, with
 * the reason in the matching *_error / *_detail field.  Free with facts_free(). */
void facts_gather(const struct facts_opts *o, struct host_facts *f);
void facts_free(struct host_facts *f);

/* The runc/criu part of facts_gather() alone (no bundle, no hang test), for tests. */
void facts_gather_tools(const struct facts_opts *o, struct host_facts *f);

/* The hang test alone: fills f->hang, hang_with_fault, hang_detail, hang_ms. */
void facts_hang_test(const struct facts_opts *o, struct host_facts *f);

/* The TCP test dump alone: fills f->tcp, tcp_detail, tcp_ms. */
void facts_tcp_test(const struct facts_opts *o, struct host_facts *f);

/* TCP sockets (listening or not) in the network namespace of the task pid: -1 unknown. */
long long facts_tcp_sockets(int pid);

/* As JSON (every field, null for unknowns), and back.  facts_from_json() accepts any object
 * (missing or mistyped fields stay unknown): the destination's reply is data, not trusted. */
cJSON *facts_to_json(const struct host_facts *f);
int facts_from_json(const cJSON *j, struct host_facts *f, struct mig_err **err);

/* The "doctor" request for the container name, with the hang test's limit (0: none). */
cJSON *facts_request(const char *name, int hang_test_ms);

/* Reads a "doctor" request into o->name and o->hang_test_ms (absent: HANG_TEST_MS; 0: none;
 * else clamped to HANG_TEST_MIN_MS..HANG_TEST_MAX_MS; timeouts.h). */
int facts_parse_request(const cJSON *req, struct facts_opts *o, struct mig_err **err);

/* Anonymous + shared memory of the container whose init is pid: from its memory cgroup
 * (v1 or v2), else from the init's own /proc/PID/status.  -1 when unknown. */
long long facts_container_memory(int pid);

#endif

/* Post-copy's page tunnel on the source: the bytes between CRIU's page server (a loopback
 * socket only migrate-src is connected to) and the pages connection to migrate-dst (an SSH
 * channel of the session's one SSH connection, or TCP with --direct), where the destination
 * hands them to its `criu lazy-pages` (docs/protocol.md, "Pages").
 *
 * One thread on purpose: a libssh session must not be used by two threads, and the control
 * channel shares it.  So the tunnel is pumped inside every wait of the process's
 * connections (conn.c and ssh.c add tunnel_pollfds to what they wait for and call
 * tunnel_pump), and by tunnel_run when nothing else is waited for.  At most one tunnel
 * exists per process.
 *
 * How the page server's connection ends decides where the container lives on (CRIU's
 * cr-dump.c): a page server that got the daemon's goodbye (its close request) counts its
 * transfer as done and CRIU kills the source's tasks; one whose connection breaks (a
 * reset) fails and CRIU resumes them.  CRIU's daemon says its goodbye after a failure too
 * (uffd.c: cr_lazy_pages disconnects either way), so the tunnel never lets it through on
 * its own: it answers the goodbye itself (the daemon then ends, and the destination says
 * lazy_done), holds it, and hands it to the page server only when the owner ends the
 * tunnel without a break (tunnel_stop, after lazy_done ok).  Without a goodbye, and when
 * the tunnel itself fails, the tunnel stops moving and holds the page server's connection
 * as it is (the container stays frozen): the owner breaks it with tunnel_stop once the
 * destination's copy is surely gone (postcopy.c), never earlier. */
#ifndef MIG_TUNNEL_H
#define MIG_TUNNEL_H

#include <poll.h>

#include "conn.h"
#include "err.h"

#define TUNNEL_MAX_POLLFDS 2

struct tunnel_stats {
	long long to_remote; /* bytes from the page server to the destination (the pages) */
	long long to_local;  /* bytes from the destination (its requests) */
};

/* What the tunnel knows of the protocol it carries (NULL: nothing, a plain tunnel: the
 * destination's end of data is passed on as an end). */
struct tunnel_watch {
	/* Sees every byte the destination sends toward the page server, in order. */
	void (*observe)(void *ctx, const void *buf, size_t n);
	/* 1 once those bytes ended with the peer's goodbye (never when not watching). */
	int (*said_goodbye)(void *ctx);
	/* How many of the bytes seen may reach the page server now (not the goodbye, nor a
	 * record the watch cannot tell from one yet); every byte seen when not watching. */
	long long (*passable)(void *ctx);
	/* 0 when the watch does not know the protocol (an unknown version or command): then
	 * the destination's end is held for the owner to end or break (tunnel_stop), as a
	 * failure would be, without being one. */
	int (*watching)(void *ctx);
	void *ctx;
};

/* Starts the tunnel between local (a connected socket, taken over) and remote (borrowed:
 * it must outlive the tunnel); watch (borrowed too) may be NULL. */
int tunnel_start(int local, struct mig_conn *remote, const struct tunnel_watch *watch,
		 struct mig_err **err);

/* A tunnel exists (running, or ended with its error kept for tunnel_stop). */
int tunnel_active(void);

/* The descriptors a wait must also watch for the tunnel (none once it has ended), into p
 * (room for TUNNEL_MAX_POLLFDS); returns how many. */
int tunnel_pollfds(struct pollfd *p);

/* Moves what can be moved without waiting; returns 1 when something moved (the caller
 * should not sleep before trying again), 0 otherwise.  Safe to call at any time, also
 * from inside a remote's own wait (it does nothing then). */
int tunnel_pump(void);

/* Both directions have ended (each side closed its half), or the tunnel failed. */
int tunnel_done(void);

/* Pumps until tunnel_done() or the deadline (proc_now_ms(), -1: none); a stop request does
 * not end it (the pages are the container's memory).  0 when the tunnel ended cleanly,
 * -1 with *err for its failure (the tunnel keeps it too, for tunnel_stop) or MIG_TIMEOUT. */
int tunnel_run(long long deadline, struct mig_err **err);

/* remote is about to be closed: a tunnel using it fails ("the pages connection was
 * closed") and never touches it again. */
void tunnel_forget(const struct mig_conn *remote);

/* The destination's daemon said goodbye (the watch saw its close request), the tunnel's
 * answer went out, the daemon ended after it, and the page server had nothing more for it
 * (a daemon that failed may say its goodbye with requests outstanding: then 0). */
int tunnel_goodbye(void);

/* Ends the tunnel: *st gets the byte counts (st may be NULL), *err the tunnel's failure if
 * any (err may be NULL).  The page server's connection, if still open, is closed: with a
 * reset when brk is set (CRIU then resumes the container here, also after a goodbye: the
 * page server never saw it), else with an end, after handing the page server the daemon's
 * goodbye when it came (CRIU then ends the container here). */
void tunnel_stop(struct tunnel_stats *st, struct mig_err **err, int brk);

#endif

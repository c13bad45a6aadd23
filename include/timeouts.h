/* Every time limit of both programs, in one place, because they depend on each other.
 *
 * STEP is --timeout (default 300 s, the same default on both hosts): the limit of one
 * runc/CRIU step (checkpoint, restore).  Everything a migration waits for is derived from
 * it or is a short fixed limit for a request/reply that never runs a step.
 *
 * "Never two copies" rests on these relations (docs/protocol.md, "Never two copies"):
 *  1. The restore request carries the source's deadline D (deadline_ms: STEP +
 *     RESTORE_REPLY_MARGIN_MS, how long it waits for the reply).  The destination answers
 *     "restoring" the moment it reads the request (at t1), bounds its `runc restore` by
 *     t1 + D, and removes a copy that was not committed by t1 + D + COMMIT_GRACE_MS.
 *  2. The source waits for the reply until D after sending.  Without one it cuts the
 *     connection (a reset: no retransmission can deliver the request later) and restores
 *     its own copy only once the destination's bound has surely passed: ROLLBACK_MARGIN_MS
 *     after t_ack + D + COMMIT_GRACE_MS when "restoring" came at t_ack (t1 <= t_ack), or
 *     after t0 + RESTORING_WAIT_MS + D + COMMIT_GRACE_MS when it did not (the request was
 *     not read by then, and after the cut it can only be read with the hang-up behind it,
 *     which the destination checks before it restores).
 *  3. After an ok reply the source commits; without an answer to the commit it cannot
 *     know whether the destination kept its copy, so it does NOT restore its own (exit 4).
 *  4. What remains: a destination that reads the request, then stalls (SIGSTOP, swapping)
 *     until its runc restore has outlived the bounds of 2. while the network is also cut.
 *  5. Waits that run no step are short and fixed (SESSION_MS, CONTROL_REPLY_MS,
 *     FRAME_REST_MS, PREAUTH_MS): a dead peer before the freeze costs seconds, not STEP.
 *  6. Inside the downtime, every write that makes no progress for CONN_WRITE_STALL_MS fails
 *     (conn.h), the image's bytes may stall at most STREAM_STALL_MS (stream.c) and rsync's
 *     own I/O timeout is RSYNC_IO_TIMEOUT_S; any of them failing rolls back (2.).
 *  7. Post-copy: the page server (source), the lazy-pages daemon (destination) and the
 *     source's wait for `lazy_done` are all LAZY_FACTOR * STEP, so none of them gives up
 *     before the others while pages still flow.
 *  8. In the lazy phase both copies exist: the destination's runs, the source's is frozen
 *     behind its page server, and a reset of the page server's connection makes CRIU
 *     resume it (tunnel.h).  The source pings; a destination that hears nothing for the
 *     silence limit S removes its copy.  A source that hears nothing for S (or loses the
 *     connection) cuts the connection, waits S + ROLLBACK_MARGIN_MS more, and only then
 *     breaks the page server's connection: the destination, which heard the source last
 *     before the cut, removed its copy by then.  A source whose pages connection still
 *     moves while the control channel is gone (the handler died) lets the pages finish
 *     and exits 4. */
#ifndef MIG_TIMEOUTS_H
#define MIG_TIMEOUTS_H

/* ---- control channel ---- */
/* SSH connection, control channel, hello (no step runs behind them). */
#define SESSION_MS 30000
/* A request that runs no runc/CRIU step: check, commit, and their replies. */
#define CONTROL_REPLY_MS 30000
/* The restore reply may come this long after STEP (see 1.). */
#define RESTORE_REPLY_MARGIN_MS 10000
/* The largest restore deadline a destination accepts (a week: far above any STEP). */
#define RESTORE_DEADLINE_MAX_MS (7LL * 86400 * 1000)
/* "restoring" must come this long after the restore request (see 2.): the destination
 * reads it as soon as it has taken in what the socket buffers still held of the image. */
#define RESTORING_WAIT_MS 10000
/* A restored copy waits for the commit this long past the restore's deadline (see 1.). */
#define COMMIT_GRACE_MS 5000
/* The source restores its own copy this long after the destination's bound (see 2.):
 * the destination's `runc kill` of its copy must end within it. */
#define ROLLBACK_MARGIN_MS 5000
/* Once a frame has begun, the rest of it must follow within this (a slow sender is cut). */
#define FRAME_REST_MS 10000
/* An unauthenticated peer has this long from the accept to prove the token, in all. */
#define PREAUTH_MS 10000
/* An authenticated peer may be silent between requests for this many STEPs. */
#define IDLE_STEPS 2
/* A stall inside one streamed file's bytes. */
#define STREAM_STALL_MS 60000

/* ---- post-copy ---- */
/* Page server, lazy-pages daemon and the lazy_done wait: LAZY_FACTOR * STEP (see 6.). */
#define LAZY_FACTOR 4
/* The source opens its pages connection and proves the session within this of the "pages"
 * reply (before the freeze: no step runs). */
#define PAGES_HELLO_MS 10000
/* CRIU's page server (source) accepts migrate-src's connection within this: it is waiting
 * in accept() when it signals ready. */
#define PAGE_SERVER_ACCEPT_MS 5000
/* After lazy_done the page tunnel has only CRIU's goodbye left to carry. */
#define TUNNEL_DRAIN_MS 30000
/* CRIU's page server (source, loopback) answers the goodbye the tunnel hands it within
 * this; without an answer the tunnel ends its connection anyway. */
#define PAGE_SERVER_ANSWER_MS 5000
/* The lazy phase's signs of life (see 8.): the source pings every LAZY_HEARTBEAT_MS and the
 * destination answers; the silence limit is the source's --timeout / 10 within these bounds
 * (the destination takes the source's, from the "pages" request, within the request
 * bounds). */
#define LAZY_HEARTBEAT_MS	1000
#define LAZY_SILENCE_MIN_MS	5000
#define LAZY_SILENCE_MAX_MS	30000
#define LAZY_SILENCE_REQ_MIN_MS 2000
#define LAZY_SILENCE_REQ_MAX_MS 600000
/* The destination's lazy phase alternates between the daemon and the control channel in
 * slices of this. */
#define LAZY_POLL_MS 20
/* `criu lazy-pages` must open its socket within this. */
#define LAZY_SOCKET_WAIT_MS 10000

/* ---- external programs ---- */
/* runc state/version/pause/resume/kill/delete and criu --version: answered in ms. */
#define RUNC_QUERY_MS 30000
/* runc kill NAME KILL: how long to wait for the container to stop before going on. */
#define RUNC_KILL_WAIT_MS 5000
/* criu check (with or without --feature), nsenter + iptables. */
#define CRIU_CHECK_MS 30000
/* runc restore hands the console socket over during the restore: it is queued already. */
#define CONSOLE_TAKE_MS 5000
/* SIGTERM -> SIGKILL for a child we end (proc_kill, a timeout). */
#define KILL_GRACE_MS 2000
/* rsync gives up by itself after this many seconds without I/O (a dead link). */
#define RSYNC_IO_TIMEOUT_S 60
/* A whole rsync may take long on a slow link; RSYNC_IO_TIMEOUT_S ends a stalled one. */
#define XFER_MS (6 * 3600 * 1000)
/* The OpenSSH master must accept sessions within this; each `ssh -O check` within the
 * second. */
#define SSH_MASTER_READY_MS 30000
#define SSH_MASTER_CHECK_MS 5000
/* A small remote command over the SSH session (cat of the token, rsync --version). */
#define REMOTE_EXEC_MS 30000

/* ---- migrate-src --check ---- */
/* rsync's dry run walks the whole rootfs on both hosts. */
#define PROBE_MS 120000
/* The hang test's dump: how long before it counts as hung (default, and the range a
 * request may ask for). */
#define HANG_TEST_MS	 10000
#define HANG_TEST_MIN_MS 500
#define HANG_TEST_MAX_MS 60000
/* The hang test's throwaway process lives this much longer than its dump may take. */
#define HANG_SLEEP_EXTRA_S 30
#define HANG_KILL_GRACE_MS 1000
/* The destination's facts: up to two test dumps plus the gathering itself. */
#define DOCTOR_REPLY_MS(hang_ms) (2 * ((hang_ms) + 5000) + 2 * SESSION_MS)

/* ---- loops and the server ---- */
/* The way back of --repeat runs a whole migration on DEST under its own limits; this only
 * catches a remote side that never ends. */
#define BACK_EXTRA_MS (600 * 1000)
/* migrate-dst's handlers get this long after SIGTERM before the server stops waiting. */
#define HANDLER_STOP_GRACE_MS 5000

#endif

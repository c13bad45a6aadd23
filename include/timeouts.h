/* Every time limit of both programs, in one place, because they depend on each other.
 *
 * STEP is --timeout (default 300 s, the same default on both hosts): the limit of one
 * runc/CRIU step (checkpoint, restore).  Everything a migration waits for is derived from
 * it or is a short fixed limit for a request/reply that never runs a step.
 *
 * "Never two copies" rests on these relations (docs/design.md, "Rollback"):
 *  1. The source waits for the restore reply STEP + RESTORE_REPLY_MARGIN_MS.  The
 *     destination's restore is bounded by its own STEP; with equal --timeout on both hosts
 *     its answer (ok or not) comes first.  When the source gives up anyway (a larger
 *     --timeout on the destination, a stalled link), it hangs up BEFORE it restores its own
 *     copy, and the destination's handler, watching the connection (proc_opts.hangup_fd),
 *     stops `runc restore` and removes what it began.
 *  2. A restore that succeeded on the destination is kept only when the source's `commit`
 *     arrives within COMMIT_WAIT_MS; a hang-up or anything else removes it at once.  The
 *     source sends `commit` right after the reply and waits CONTROL_REPLY_MS for its answer;
 *     without one it cannot know whether the destination kept its copy, so it does NOT
 *     restore its own (exit 4).
 *  3. The window that remains: the source restores its own copy right after giving up (1.),
 *     while a destination that did not notice the hang-up (a partition: no FIN, no RST) only
 *     removes its copy COMMIT_WAIT_MS after its reply.  Both may run for up to
 *     COMMIT_WAIT_MS in that case.  docs/protocol.md states this window.
 *  4. Waits that run no step are short and fixed (SESSION_MS, CONTROL_REPLY_MS,
 *     FRAME_REST_MS): a dead peer before the freeze costs seconds, not STEP.
 *  5. Inside the downtime, the image's bytes may stall at most STREAM_STALL_MS (stream.c)
 *     and rsync's own I/O timeout is RSYNC_IO_TIMEOUT_S; either failing rolls back (1.).
 *  6. Post-copy: the page server (source), the lazy-pages daemon (destination) and the
 *     source's wait for `lazy_done` are all LAZY_FACTOR * STEP, so none of them gives up
 *     before the others while pages still flow. */
#ifndef MIG_TIMEOUTS_H
#define MIG_TIMEOUTS_H

/* ---- control channel ---- */
/* SSH connection, control channel, hello (no step runs behind them). */
#define SESSION_MS 30000
/* A request that runs no runc/CRIU step: check, commit, and their replies. */
#define CONTROL_REPLY_MS 30000
/* The restore reply may come this long after STEP (see 1.). */
#define RESTORE_REPLY_MARGIN_MS 10000
/* Once a frame has begun, the rest of it must follow within this (a slow sender is cut). */
#define FRAME_REST_MS 10000
/* An unauthenticated peer gets no more than this between frames (it cannot hold a slot). */
#define PREAUTH_IDLE_MS 10000
/* An authenticated peer may be silent between requests for this many STEPs. */
#define IDLE_STEPS 2
/* The destination keeps an unconfirmed restore this long (see 2. and 3.). */
#define COMMIT_WAIT_MS 30000
/* A stall inside one streamed file's bytes. */
#define STREAM_STALL_MS 60000

/* ---- post-copy ---- */
/* Page server, lazy-pages daemon and the lazy_done wait: LAZY_FACTOR * STEP (see 6.). */
#define LAZY_FACTOR 4
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

/* A byte stream to the peer: a TCP socket, or a libssh direct-tcpip channel (ssh.h).
 * The control protocol (proto.h) frames messages over it without knowing which. */
#ifndef MIG_CONN_H
#define MIG_CONN_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

struct mig_conn {
	/* Reads exactly n bytes within timeout_ms (<= 0: wait forever).  Returns 0, or -1 with
	 * *err set; a peer that closes before n bytes is an error ("connection closed"). */
	int (*read_full)(struct mig_conn *c, void *buf, size_t n, int timeout_ms,
			 struct mig_err **err);
	/* Writes all n bytes; a peer that takes none of them for write_stall_ms fails it
	 * (MIG_TIMEOUT): a destination that stops reading cannot hold a frozen container.
	 * Returns 0 or -1 with *err set. */
	int (*write_full)(struct mig_conn *c, const void *buf, size_t n, struct mig_err **err);
	/* 0 when the peer has closed its side (checked without waiting, data left unread),
	 * 1 otherwise: "is anybody still there before I ask for something irreversible?" */
	int (*alive)(struct mig_conn *c);
	/* Closes and frees the connection. */
	void (*close)(struct mig_conn *c);
	/* Without waiting, for the page tunnel (tunnel.h): up to n bytes that have arrived
	 * (0: none yet; -1 with *err, MIG_CLOSED at the peer's end of data), and up to n bytes
	 * the peer has room for (0: none now). */
	ssize_t (*read_some)(struct mig_conn *c, void *buf, size_t n, struct mig_err **err);
	ssize_t (*write_some)(struct mig_conn *c, const void *buf, size_t n, struct mig_err **err);
	/* Tells the peer no more data comes (its reads then end), keeping ours open. */
	void (*shut_write)(struct mig_conn *c);
	/* The descriptor whose readiness may mean progress, and the poll events for it. */
	int (*poll_fd)(const struct mig_conn *c, int want_read, int want_write, short *events);
	const char *peer;    /* "127.0.0.1:40000", for messages */
	int write_stall_ms;  /* 0: CONN_WRITE_STALL_MS */
	int uninterruptible; /* 1: waits do not end for a stop request (a commit in flight) */
};

/* Every wait of a conn, reading or writing, also ends (MIG_STOPPED) once stop_requested()
 * (stop.h), unless uninterruptible: SIGINT/SIGTERM are honoured inside the downtime. */
#define CONN_WRITE_STALL_MS 60000

/* c's write_stall_ms, or the default. */
int conn_write_stall_ms(const struct mig_conn *c);

/* MIG_STOPPED into *err when a stop was asked and c is interruptible; else 0. */
int conn_check_stop(const struct mig_conn *c, struct mig_err **err);

/* Wraps a connected socket; the connection owns fd (closed by close()). */
struct mig_conn *conn_from_fd(int fd, const char *peer);

/* Connects over TCP to host:port (numeric or name) within timeout_ms. */
struct mig_conn *conn_tcp_connect(const char *host, int port, int timeout_ms, struct mig_err **err);

/* Connects to the Unix socket at path within timeout_ms. */
struct mig_conn *conn_unix_connect(const char *path, int timeout_ms, struct mig_err **err);

/* The socket behind a conn made by conn_from_fd/conn_tcp_connect, or -1 for other kinds. */
int conn_fd(const struct mig_conn *c);

/* The numeric local address of a connected socket ("10.0.0.1"), into buf. */
int sock_local_addr(int fd, char *buf, size_t len, struct mig_err **err);

/* host followed by what fmt makes ("HOST:27", "HOST:/dir/"), with an IPv6 address in
 * brackets ("[fe80::1]:27") as rsync, CRIU and URLs want it.  Malloc'ed. */
char *conn_host_join(const char *host, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* This host's address on the route to host (numeric), into buf; sends nothing. */
int conn_local_addr_towards(const char *host, char *buf, size_t len, struct mig_err **err);

#endif

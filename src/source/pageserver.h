/* The source's side of CRIU's page server (post-copy, hybrid): it listens on 127.0.0.1
 * only (criu.h, criu_config_lines) and takes exactly one connection (criu/util.c,
 * run_tcp_server: accept once, then close the listener).  migrate-src takes that one
 * connection itself and relays it through the pages connection (tunnel.h); any local
 * process that connected first would be served the container's memory, so the connection
 * is proven to be the one CRIU accepted before anything moves. */
#ifndef MIG_PAGESERVER_H
#define MIG_PAGESERVER_H

#include "err.h"
#include "tunnel.h"

/* Connects to 127.0.0.1:port and waits (PAGE_SERVER_ACCEPT_MS) until the kernel shows our
 * connection accepted by the listener (its server side has a socket: a non-zero inode in
 * /proc/self/net/tcp).  Fails, naming the cause, when nothing listens there any more or the
 * listener took another connection.  *fd: the connected socket. */
int page_server_connect(int port, int *fd, struct mig_err **err);

/* What the tunnel watches of the lazy-pages daemon's requests (tunnel.h): CRIU's
 * page-server protocol (criu/page-xfer.c) sends them as fixed-size `struct
 * page_server_iov` records, GET for pages and CLOSE or FORCE_CLOSE as its goodbye.  The
 * record's size changed in CRIU 4.2 (nr_pages became 64 bits): 24 bytes before, 32 from 4.2
 * on where a u64 is 8-byte aligned (x86_64, arm64, armhf), 28 where it is not (i386).
 * A version this does not know turns the watch off (everything passes); a command other
 * than those three turns it off too, and it and what follows are held.  No goodbye is
 * ever seen then, and the daemon's end is held for postcopy.c to end (after lazy_done ok)
 * or break (docs/notes-lazy-pages.md, "The pages connection").
 *
 * The goodbye itself never reaches the page server on its own: CRIU's daemon sends it after
 * a failure too (uffd.c, cr_lazy_pages), and a page server that sees it counts its transfer
 * as done, so CRIU would kill the source's tasks while the destination removes its copy.
 * So the watch lets pass only the bytes of records it knows are GETs; a record whose
 * command has not come yet and the goodbye wait (ps_watch_passable), the tunnel answers the
 * goodbye itself, and the owner hands it over only after lazy_done ok (tunnel_stop). */
struct ps_watch {
	size_t rec;		/* the record's size; 0: not watching */
	unsigned char part[32]; /* the record being read */
	size_t have;
	int goodbye;	/* the last whole record was the goodbye, and nothing came after it */
	int spoiled;	/* not CRIU's protocol (an unknown command, bytes after the goodbye): it
			   and what follows are held */
	long long seen; /* bytes observed */
	long long pass; /* how many of them may reach the page server now */
};

/* The record's size for CRIU version ("4.2.1"), or 0 when this does not know it. */
size_t page_server_record_size(const char *criu_version);

/* A watch for records of that size (0: off), and the tunnel_watch for it. */
void ps_watch_init(struct ps_watch *w, size_t rec);
struct tunnel_watch ps_watch_tunnel(struct ps_watch *w);
void ps_watch_observe(void *w, const void *buf, size_t n);
int ps_watch_goodbye(void *w);
int ps_watch_watching(void *w);
long long ps_watch_passable(void *w);

/* The row of /proc/net/tcp for the connection from 127.0.0.1:from to 127.0.0.1:to: 1 and
 * its inode in *inode when found, 0 when not.  (For the tests.) */
int page_server_tcp_row(const char *line, unsigned from, unsigned to, unsigned long *inode);

#endif

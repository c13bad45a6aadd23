/* migrate-dst, post-copy: the pages connection (docs/protocol.md, "Pages").
 *
 * The source's "pages" request (before its freeze) gets a listener of this session's own
 * and a fresh nonce: a Unix socket beside the control socket when the session came through
 * it, else a TCP port on the address the control connection came to.  The source opens it
 * (through its SSH connection, or TCP with --direct) and proves the session
 * (auth_pages_proof); that descriptor is later handed as it is to `criu lazy-pages
 * --ps-socket`, so CRIU neither listens nor connects anywhere here and the tools never
 * handle a page on this side. */
#ifndef MIG_DST_PAGES_H
#define MIG_DST_PAGES_H

#include <cjson/cJSON.h>
#include <sys/un.h>

#include "auth.h"
#include "conn.h"
#include "err.h"

struct dst_pages {
	int listen_fd;						/* -1 when none */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* a Unix listener's file */
	char nonce[AUTH_HEX];
	int fd; /* the proven pages connection, -1 before */
};

void pages_init(struct dst_pages *p);

/* Makes the listener for a session whose control connection is ctl and whose control
 * socket is socket_path; puts "pages_socket" (a path) or "pages_port", and "nonce", into
 * rep. */
int pages_listen(struct dst_pages *p, const char *socket_path, struct mig_conn *ctl, cJSON *rep,
		 struct mig_err **err);

/* After the reply went out: accepts the source's connection and checks its "pages_hello"
 * (container name and proof: keys NULL when authentication is off) within PAGES_HELLO_MS;
 * up to PAGES_MAX_TRIES connections that fail it are answered and closed.  The listener is
 * closed (its file removed) either way. */
int pages_accept(struct dst_pages *p, const struct auth_keys *keys, const char *name,
		 struct mig_err **err);

/* Closes what p holds (the listener, its file, the connection if not handed over). */
void pages_free(struct dst_pages *p);

#endif

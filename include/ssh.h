/* The SSH session to the destination (libssh), and the control channel carried through it.
 *
 * The source opens one SSH connection before touching the container: it proves that
 * authentication works, and it carries the control protocol to migrate-dst's Unix socket
 * (direct-streamlocal) or loopback port (direct-tcpip), so nothing of migrate-dst's has to
 * be open to the network. */
#ifndef MIG_SSH_H
#define MIG_SSH_H

#include "conn.h"
#include "err.h"

/* Where and as whom to log in: the one description of the SSH connection that both our
 * libssh session and the OpenSSH commands rsync runs (transfer.h) are made from. */
struct ssh_target {
	const char *host; /* a name or an address; an IPv6 address without brackets */
	int port;
	const char *user;
	const char *identity;	 /* private key file, or NULL for the agent and ~/.ssh/id_* */
	const char *known_hosts; /* NULL: ~/.ssh/known_hosts */
};

struct mig_ssh;

/* Connects, verifies the host key against known_hosts (an unknown or changed key is an
 * error telling how to add it: never accepted silently) and authenticates with a key. */
struct mig_ssh *mig_ssh_connect(const struct ssh_target *t, int timeout_ms, struct mig_err **err);

/* Opens a direct-tcpip channel to host:port as seen from the destination. */
struct mig_conn *mig_ssh_forward(struct mig_ssh *s, const char *host, int port,
				 struct mig_err **err);

/* Opens a direct-streamlocal channel to the Unix socket path on the destination (sshd
 * connects to it as the SSH user). */
struct mig_conn *mig_ssh_forward_unix(struct mig_ssh *s, const char *path, struct mig_err **err);

/* Reads a small file on the destination (`cat -- PATH` in an exec channel) into buf, NUL
 * terminated.  Used for migrate-dst's token: root there can read it, so nobody has to copy
 * a secret by hand. */
int mig_ssh_read_file(struct mig_ssh *s, const char *path, char *buf, size_t len,
		      struct mig_err **err);

/* Runs cmd on the destination in an exec channel (by the SSH user's shell, as rsync's
 * server side is run), within timeout_ms.  Its stdout goes into out (at most len - 1 bytes,
 * NUL-terminated; the rest is dropped), the start of its stderr into errbuf, its exit status
 * into *status (-1 when none came).  Fails only when the command could not be run or read. */
int mig_ssh_exec(struct mig_ssh *s, const char *cmd, int timeout_ms, char *out, size_t len,
		 char *errbuf, size_t errlen, int *status, struct mig_err **err);

/* The socket of the SSH connection (to learn this host's address towards the peer). */
int mig_ssh_fd(struct mig_ssh *s);

/* Closes the session; every conn from mig_ssh_forward must be closed first. */
void mig_ssh_close(struct mig_ssh *s);

#endif

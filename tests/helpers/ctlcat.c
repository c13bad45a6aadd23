/* ctlcat: talks to migrate-dst by hand, for tests.
 *   ctlcat [--token FILE] HOST PORT JSON...   send each JSON text as one framed message, print
 *                     each reply; with --token, every message after a hello reply carrying a
 *                     nonce is signed as migrate-src signs it
 *   ctlcat HOST PORT --raw        send stdin's bytes unframed, then print what comes back
 * Replies are printed one per line (their JSON); a closed connection prints "<closed>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "proto.h"

static char token[AUTH_HEX], nonce[AUTH_HEX];
static unsigned long seq;

static int print_reply(struct mig_conn *c)
{
	struct mig_err *err = NULL;
	cJSON *rep = proto_recv(c, 10000, &err);
	const char *n = rep ? proto_get_str(rep, "nonce", 0, NULL) : NULL;
	if (n) {
		snprintf(nonce, sizeof(nonce), "%s", n);
		seq = 0;
	}
	if (!rep) {
		printf("<%s>\n", strstr(mig_err_msg(err), "closed") ? "closed" : mig_err_msg(err));
		mig_err_free(&err);
		return -1;
	}
	char *s = cJSON_PrintUnformatted(rep);
	printf("%s\n", s);
	free(s);
	cJSON_Delete(rep);
	return 0;
}

/* Sends text framed, signed when a token and a nonce are known. */
static int send_text(struct mig_conn *c, const char *text, struct mig_err **err)
{
	cJSON *msg = token[0] && nonce[0] ? cJSON_Parse(text) : NULL;
	char *signed_text = NULL;
	if (msg) {
		auth_sign(msg, token, nonce, ++seq);
		signed_text = cJSON_PrintUnformatted(msg);
		cJSON_Delete(msg);
		text = signed_text;
	}
	size_t n = strlen(text);
	unsigned char hdr[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
				(unsigned char)(n >> 8), (unsigned char)n};
	int r = c->write_full(c, hdr, 4, err) < 0 || c->write_full(c, text, n, err) < 0 ? -1 : 0;
	free(signed_text);
	return r;
}

int main(int argc, char **argv)
{
	struct mig_err *err = NULL;
	setvbuf(stdout, NULL, _IOLBF, 0); /* tests read the replies while it still runs */
	if (argc > 2 && !strcmp(argv[1], "--token")) {
		if (auth_read(argv[2], token, &err) < 0) {
			fprintf(stderr, "ctlcat: %s\n", mig_err_msg(err));
			return 1;
		}
		argv += 2;
		argc -= 2;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: ctlcat HOST PORT (--raw | JSON...)\n");
		return 1;
	}
	struct mig_conn *c = conn_tcp_connect(argv[1], atoi(argv[2]), 5000, &err);
	if (!c) {
		fprintf(stderr, "ctlcat: %s\n", mig_err_msg(err));
		return 1;
	}
	if (!strcmp(argv[3], "--raw")) {
		char buf[65536];
		size_t n = fread(buf, 1, sizeof(buf), stdin);
		if (c->write_full(c, buf, n, &err) < 0)
			fprintf(stderr, "ctlcat: %s\n", mig_err_msg(err));
		shutdown(conn_fd(c), SHUT_WR);
		print_reply(c);
		print_reply(c);
	} else {
		for (int i = 3; i < argc; i++) {
			if (send_text(c, argv[i], &err) < 0) {
				fprintf(stderr, "ctlcat: %s\n", mig_err_msg(err));
				break;
			}
			if (print_reply(c) < 0)
				break;
		}
	}
	mig_err_free(&err);
	c->close(c);
	return 0;
}

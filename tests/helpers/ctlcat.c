/* ctlcat: talks to migrate-dst by hand, for tests.
 *   ctlcat [--token FILE] (HOST PORT | --socket PATH) JSON...
 *       sends each JSON text as one framed message and prints each answer.  With --token
 *       it speaks migrate-src's authentication: a hello without "nonce" gets a fresh one,
 *       the hello reply's nonce keys the session, every later message is signed, and each
 *       answer's MAC is checked ("<bad mac: ...>" is printed after one that fails).  An
 *       answer of type "restoring" is printed and the next one read for the same request;
 *       a "file" message is followed by no read unless it is the last.
 *   ctlcat (HOST PORT | --socket PATH) --raw
 *       sends stdin's bytes unframed, then prints what comes back.
 * Answers are printed one per line (their JSON as received); a closed connection prints
 * "<closed>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "proto.h"

static char token[AUTH_HEX], cnonce[AUTH_HEX];
static struct auth_keys keys;
static int keyed;

static void check_mac(cJSON *rep)
{
	const char *sn = proto_get_str(rep, "nonce", 0, NULL);
	if (token[0] && !keyed && sn && strlen(sn) == AUTH_HEX - 1 && cnonce[0]) {
		auth_session_key(token, cnonce, sn, keys.key);
		keys.req_seq = 1;
		keys.rep_seq = 0;
		keyed = 1;
	}
	struct mig_err *e = NULL;
	if (keyed && auth_verify(&keys, AUTH_REPLY, rep, &e) < 0) {
		printf("<bad mac: %s>\n", mig_err_msg(e));
		mig_err_free(&e);
	}
}

/* Prints the next answer; 1 when it was "restoring" (another follows). */
static int print_reply(struct mig_conn *c)
{
	struct mig_err *err = NULL;
	cJSON *rep = proto_recv(c, 20000, &err);
	if (!rep) {
		printf("<%s>\n", strstr(mig_err_msg(err), "closed") ? "closed" : mig_err_msg(err));
		mig_err_free(&err);
		return -1;
	}
	char *s = cJSON_PrintUnformatted(rep);
	printf("%s\n", s);
	free(s);
	check_mac(rep);
	const char *type = proto_get_str(rep, "type", 0, NULL);
	int more = type && !strcmp(type, "restoring");
	cJSON_Delete(rep);
	return more;
}

/* Sends text framed: a hello gets our nonce, anything else is signed once keyed. */
static int send_text(struct mig_conn *c, const char *text, struct mig_err **err)
{
	cJSON *msg = token[0] ? cJSON_Parse(text) : NULL;
	char *out = NULL;
	if (msg) {
		const char *type = proto_get_str(msg, "type", 0, NULL);
		if (type && !strcmp(type, "hello") && !cJSON_GetObjectItem(msg, "nonce")) {
			auth_nonce(cnonce, err);
			cJSON_AddStringToObject(msg, "nonce", cnonce);
		} else if (keyed) {
			auth_sign(&keys, AUTH_REQUEST, msg);
		}
		out = cJSON_PrintUnformatted(msg);
		cJSON_Delete(msg);
		text = out;
	}
	size_t n = strlen(text);
	unsigned char hdr[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
				(unsigned char)(n >> 8), (unsigned char)n};
	int r = c->write_full(c, hdr, 4, err) < 0 || c->write_full(c, text, n, err) < 0 ? -1 : 0;
	free(out);
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
		fprintf(stderr, "usage: ctlcat [--token FILE] (HOST PORT | --socket PATH) "
				"(--raw | JSON...)\n");
		return 1;
	}
	struct mig_conn *c = !strcmp(argv[1], "--socket")
				 ? conn_unix_connect(argv[2], 5000, &err)
				 : conn_tcp_connect(argv[1], atoi(argv[2]), 5000, &err);
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
			/* a good file message has no answer: the next JSON follows at once (after
			 * the last one, whatever comes is printed: a refusal, or nothing) */
			cJSON *m = cJSON_Parse(argv[i]);
			const char *type = m ? proto_get_str(m, "type", 0, NULL) : NULL;
			int silent = type && !strcmp(type, "file") && i + 1 < argc;
			cJSON_Delete(m);
			int r = silent ? 0 : 1;
			while (r == 1)
				r = print_reply(c);
			if (r < 0)
				break;
		}
	}
	mig_err_free(&err);
	c->close(c);
	return 0;
}

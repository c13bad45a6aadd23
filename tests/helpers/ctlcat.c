/* ctlcat: talks to migrate-dst by hand, for tests.
 *   ctlcat HOST PORT JSON...      send each JSON text as one framed message, print each reply
 *   ctlcat HOST PORT --raw        send stdin's bytes unframed, then print what comes back
 * Replies are printed one per line (their JSON); a closed connection prints "<closed>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "proto.h"

static int print_reply(struct mig_conn *c)
{
	struct mig_err *err = NULL;
	cJSON *rep = proto_recv(c, 10000, &err);
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

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: ctlcat HOST PORT (--raw | JSON...)\n");
		return 1;
	}
	struct mig_err *err = NULL;
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
			size_t n = strlen(argv[i]);
			unsigned char hdr[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
						(unsigned char)(n >> 8), (unsigned char)n};
			if (c->write_full(c, hdr, 4, &err) < 0 ||
			    c->write_full(c, argv[i], n, &err) < 0) {
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

/* fakedst PORTFILE LOG HELLO_REPLY: a hostile stand-in for migrate-dst.  Listens on
 * 127.0.0.1 (a port of the kernel's choosing, written to PORTFILE), and for each connection
 * answers hello with HELLO_REPLY (one JSON object, sent as it is) and every other request
 * with ok; every message it receives is appended to LOG, one JSON line each, so a test can
 * tell what the source sent it.  Runs until killed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

static void serve(struct mig_conn *c, FILE *log, cJSON *hello)
{
	for (;;) {
		struct mig_err *e = NULL;
		cJSON *m = proto_recv(c, 30000, &e);
		if (!m) {
			mig_err_free(&e);
			return;
		}
		char *text = cJSON_PrintUnformatted(m);
		fprintf(log, "%s\n", text);
		fflush(log);
		free(text);
		const char *type = proto_get_str(m, "type", 0, NULL);
		cJSON *rep =
		    type && !strcmp(type, "hello") ? cJSON_Duplicate(hello, 1) : proto_reply(NULL);
		cJSON_Delete(m);
		if (proto_send(c, rep, &e) < 0) {
			mig_err_free(&e);
			cJSON_Delete(rep);
			return;
		}
		cJSON_Delete(rep);
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: fakedst PORTFILE LOG HELLO_REPLY\n");
		return 1;
	}
	cJSON *hello = cJSON_Parse(argv[3]);
	FILE *log = fopen(argv[2], "a");
	if (!hello || !log) {
		fprintf(stderr, "fakedst: bad reply JSON or log\n");
		return 1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		fprintf(stderr, "fakedst: %s\n", strerror(errno));
		return 1;
	}
	FILE *pf = fopen(argv[1], "w");
	if (!pf)
		return 1;
	fprintf(pf, "%d\n", ntohs(sa.sin_port));
	fclose(pf);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		struct mig_conn *conn = conn_from_fd(c, "source");
		serve(conn, log, hello);
		conn->close(conn);
	}
}

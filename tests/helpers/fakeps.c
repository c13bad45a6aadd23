/* fakeps: TCP listeners for the page tunnel's tests.
 *   fakeps serve PORT FILE
 *       a stand-in for CRIU's lazy page server (fake-runc runs it): listens on
 *       127.0.0.1:PORT, prints "listening", accepts ONE connection and closes the listener
 *       (as CRIU's run_tcp_server does), then answers CRIU 4.1 records as
 *       criu/page-xfer.c's page_server_serve does: each GET with FILE's bytes, the goodbye
 *       (CLOSE, FORCE_CLOSE) with a 4-byte 0, after which the peer must end cleanly.
 *       Exit 0 when the transfer "succeeded" by CRIU's rules, which include a peer that
 *       ends cleanly WITHOUT a goodbye (CRIU then kills the source's tasks); 1 when the
 *       connection broke (a reset: CRIU resumes them) or anything failed ("fakeps: ..." on
 *       stderr).  How it ended goes to stdout: "goodbye" or "end without goodbye".
 *   fakeps reset PORT
 *       connects to 127.0.0.1:PORT and closes with a reset (SO_LINGER 0).
 *   fakeps hold ADDR PORT
 *       listens on ADDR:PORT, prints "listening" and waits to be killed: a listener CRIU
 *       could not share its port with if it bound every address. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* CRIU 4.1's struct page_server_iov (u32 cmd, u32 nr_pages, u64 vaddr, u64 dst_id), as
 * tests/fake-criu sends it, and the commands it uses. */
#define REC		   24
#define PS_IOV_GET	   7
#define PS_IOV_CLOSE	   0x1023
#define PS_IOV_FORCE_CLOSE 0x1024

static int die(const char *what)
{
	fprintf(stderr, "fakeps: %s: %s\n", what, strerror(errno));
	return 1;
}

static int listen_on(const char *addr, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
		return -1;
	printf("listening\n");
	fflush(stdout);
	return fd;
}

static int send_file(int sk, const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return die(path);
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(sk, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w < 0)
				return die("send");
			off += w;
		}
	close(fd);
	return n < 0 ? die("read") : 0;
}

/* Reads one record; 1 with its command, 0 at a clean end, -1 when the connection broke. */
static int read_record(int sk, unsigned *cmd)
{
	unsigned char rec[REC];
	size_t got = 0;
	while (got < sizeof(rec)) {
		ssize_t n = recv(sk, rec + got, sizeof(rec) - got, 0);
		if (n == 0 && got == 0)
			return 0;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	uint32_t c;
	memcpy(&c, rec, sizeof(c));
	*cmd = c & 0xffff;
	return 1;
}

static int serve(int port, const char *path)
{
	int l = listen_on("127.0.0.1", port);
	if (l < 0)
		return die("listen");
	int sk = accept(l, NULL, NULL);
	if (sk < 0)
		return die("accept");
	close(l);
	unsigned cmd = 0;
	int r;
	while ((r = read_record(sk, &cmd)) == 1 && cmd == PS_IOV_GET)
		if (send_file(sk, path))
			return 1;
	if (r < 0) {
		fprintf(stderr, "fakeps: Can't read pagemap from socket: the connection broke\n");
		return 1;
	}
	if (r == 0) { /* as CRIU's page_server_serve: an end without goodbye is no error */
		printf("end without goodbye\n");
		return 0;
	}
	if (cmd != PS_IOV_CLOSE && cmd != PS_IOV_FORCE_CLOSE) {
		fprintf(stderr, "fakeps: Unknown command %u\n", cmd);
		return 1;
	}
	int32_t status = 0;
	if (send(sk, &status, sizeof(status), MSG_NOSIGNAL) != sizeof(status))
		return die("send");
	char c;
	ssize_t n = recv(sk, &c, 1, 0);
	if (n != 0) {
		fprintf(stderr, "fakeps: Unexpected data (or a reset) after the goodbye\n");
		return 1;
	}
	printf("goodbye\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]), argv[3]);
	if (argc == 3 && !strcmp(argv[1], "reset")) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_port = htons((uint16_t)atoi(argv[2]))};
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
			return die("reset");
		usleep(100000); /* accepted first: the reset must reach the accepted socket */
		close(fd);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "hold")) {
		if (listen_on(argv[2], atoi(argv[3])) < 0)
			return die("listen");
		for (;;)
			pause();
	}
	fprintf(stderr, "usage: fakeps serve PORT FILE | fakeps reset PORT | fakeps hold ADDR "
			"PORT\n");
	return 2;
}

/* The page tunnel (tunnel.h) between two socket pairs, and what it knows of CRIU's
 * page-server protocol (source/pageserver.h): bytes both ways intact; the daemon's goodbye
 * answered by the tunnel and handed to the page server only when the owner ends the tunnel
 * without a break; without it, and when the pages connection fails, the page server's
 * connection held until the owner ends or breaks it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"
#include "proc.h"
#include "source/pageserver.h"
#include "timeouts.h"
#include "tunnel.h"

#define REC 24 /* CRIU 4.1's record */

struct bed {
	int page_server; /* our end standing for CRIU's page server */
	int tunnel_end;	 /* the tunnel's end of that connection */
	int daemon;	 /* ... and for the destination's lazy-pages daemon */
	struct mig_conn *remote;
	struct ps_watch w;
	struct tunnel_watch tw;
};

/* TCP-like ends: the tunnel's local side must see resets, which AF_UNIX pairs cannot
 * carry, so the page server's side is a loopback TCP connection. */
static void tcp_pair(int fds[2])
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(0x7f000001);
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
	fds[1] = accept(l, NULL, NULL);
	assert_true(fds[1] >= 0);
	close(l);
}

/* rec: the watch's record size (0: not watching); bed_up: CRIU 4.1's. */
static void bed_up_rec(struct bed *b, size_t rec)
{
	int local[2], remote[2];
	tcp_pair(local);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, remote), 0);
	b->page_server = local[0];
	b->tunnel_end = local[1];
	b->daemon = remote[0];
	b->remote = conn_from_fd(remote[1], "pages");
	ps_watch_init(&b->w, rec);
	b->tw = ps_watch_tunnel(&b->w);
	struct mig_err *e = NULL;
	assert_int_equal(tunnel_start(local[1], b->remote, &b->tw, &e), 0);
}

static void bed_up(struct bed *b, int watch)
{
	bed_up_rec(b, watch ? REC : 0);
}

static void bed_down(struct bed *b)
{
	tunnel_stop(NULL, NULL, 0);
	b->remote->close(b->remote);
	if (b->page_server >= 0)
		close(b->page_server);
	if (b->daemon >= 0)
		close(b->daemon);
}

/* Pumps until fd has n bytes for us (or the tunnel ended, or ms passed), then reads
 * them. */
static ssize_t pump_read_ms(int fd, void *buf, size_t n, int ms)
{
	size_t got = 0;
	long long deadline = proc_now_ms() + ms;
	while (got < n && proc_now_ms() < deadline) {
		tunnel_pump();
		ssize_t r = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			return r < 0 ? -errno : (ssize_t)got;
		if (r > 0)
			got += (size_t)r;
		else
			poll(NULL, 0, 1);
	}
	return (ssize_t)got;
}

static ssize_t pump_read(int fd, void *buf, size_t n)
{
	return pump_read_ms(fd, buf, n, 5000);
}

/* fd's peer has neither ended nor reset the connection, and sent nothing we did not
 * read (pump_read_ms cannot tell an end from a quiet peer). */
static void assert_no_end(int fd)
{
	tunnel_pump();
	char c;
	errno = 0;
	assert_int_equal(recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* A stand-in for CRIU's page server after the daemon's goodbye, in a child on fd: reads
 * the goodbye record (whatever came before it first, extra bytes), answers it with a
 * 4-byte 0 after sending `extra` bytes of its own, and waits for the end, as
 * page_server_serve does (extra SIZE_MAX: it sends for ever instead).  Its exit: 0 for an
 * end, 1 for a reset, 2 for anything else. */
static pid_t page_server_child(struct bed *b, size_t rec, size_t extra)
{
	int fd = b->page_server;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	close(b->tunnel_end); /* the tunnel's end is the parent's only */
	close(b->daemon);
	unsigned char r[32];
	size_t got = 0;
	while (got < rec) {
		ssize_t n = recv(fd, r + got, rec - got, 0);
		if (n <= 0)
			_exit(2);
		got += (size_t)n;
	}
	uint32_t cmd;
	memcpy(&cmd, r, sizeof(cmd));
	if ((cmd & 0xffff) != 0x1024 && (cmd & 0xffff) != 0x1023)
		_exit(2);
	static char junk[100000];
	while (extra == SIZE_MAX)
		if (send(fd, junk, sizeof(junk), MSG_NOSIGNAL) <= 0)
			_exit(2);
	for (size_t off = 0; off < extra;) {
		ssize_t n = send(fd, junk + off, extra - off, MSG_NOSIGNAL);
		if (n <= 0)
			_exit(2);
		off += (size_t)n;
	}
	int32_t status = 0;
	if (send(fd, &status, sizeof(status), MSG_NOSIGNAL) != sizeof(status))
		_exit(2);
	char c;
	ssize_t n = recv(fd, &c, 1, 0);
	_exit(n == 0 ? 0 : n < 0 && errno == ECONNRESET ? 1 : 2);
}

static int child_exit(pid_t pid)
{
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void send_record(int fd, uint32_t cmd)
{
	unsigned char rec[REC] = {0};
	memcpy(rec, &cmd, sizeof(cmd));
	assert_int_equal(send(fd, rec, sizeof(rec), 0), REC);
}

/* The daemon gets the tunnel's answer to its goodbye: a 4-byte 0. */
static void assert_answered(struct bed *b)
{
	int32_t status = -1;
	assert_int_equal(pump_read(b->daemon, &status, sizeof(status)), sizeof(status));
	assert_int_equal(status, 0);
}

/* The owner breaks the tunnel (the page server then reads a reset); the bed goes. */
static void bed_break(struct bed *b)
{
	tunnel_stop(NULL, NULL, 1);
	char c;
	assert_int_equal(pump_read_ms(b->page_server, &c, 1, 1000), -ECONNRESET);
	b->remote->close(b->remote);
	if (b->page_server >= 0)
		close(b->page_server);
	if (b->daemon >= 0)
		close(b->daemon);
}

static void test_bytes_both_ways(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	send_record(b.daemon, 7); /* GET */
	unsigned char rec[REC];
	assert_int_equal(pump_read(b.page_server, rec, REC), REC);
	size_t n = 3 * 1024 * 1024; /* more than every buffer on the way */
	unsigned char *pages = malloc(n), *got = malloc(n);
	for (size_t i = 0; i < n; i++)
		pages[i] = (unsigned char)(i * 7 + 3);
	size_t sent = 0, recvd = 0;
	fcntl(b.page_server, F_SETFL, O_NONBLOCK);
	while (recvd < n) {
		if (sent < n) {
			ssize_t w = send(b.page_server, pages + sent, n - sent, MSG_DONTWAIT);
			if (w > 0)
				sent += (size_t)w;
		}
		tunnel_pump();
		ssize_t r = recv(b.daemon, got + recvd, n - recvd, MSG_DONTWAIT);
		if (r > 0)
			recvd += (size_t)r;
	}
	assert_memory_equal(pages, got, n);
	struct tunnel_stats st;
	tunnel_stop(&st, NULL, 0);
	assert_int_equal(st.to_remote, (long long)n);
	assert_int_equal(st.to_local, REC);
	free(pages);
	free(got);
	b.remote->close(b.remote);
	close(b.page_server);
	close(b.daemon);
}

/* The daemon's goodbye: the tunnel answers it, the page server does not see it until the
 * owner ends the tunnel (after lazy_done ok); then it gets the goodbye, answers it, and our
 * end follows (CRIU's page server then ends well and the source's tasks are killed: the
 * destination has them all). */
static void test_goodbye_answered_then_handed_over(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	send_record(b.daemon, 7);
	send_record(b.daemon, 0x1024); /* FORCE_CLOSE */
	unsigned char buf[REC];
	assert_int_equal(pump_read(b.page_server, buf, REC), REC);
	int32_t status = -1;
	assert_int_equal(pump_read(b.daemon, &status, sizeof(status)), sizeof(status));
	assert_int_equal(status, 0);	/* the tunnel's answer */
	assert_false(tunnel_goodbye()); /* the daemon has not ended yet */
	shutdown(b.daemon, SHUT_WR);
	struct mig_err *e = NULL;
	assert_int_equal(tunnel_run(proc_now_ms() + 5000, &e), 0);
	assert_true(tunnel_done());
	assert_true(tunnel_goodbye());
	assert_no_end(b.page_server); /* it has seen the GET only */
	pid_t ps = page_server_child(&b, REC, 0);
	close(b.page_server);
	b.page_server = -1;
	struct tunnel_stats st;
	tunnel_stop(&st, &e, 0);
	assert_null(e);
	assert_int_equal(st.to_remote, 0);   /* the answer is the tunnel's, not the page server's */
	assert_int_equal(child_exit(ps), 0); /* the goodbye, then an end */
	b.remote->close(b.remote);
	close(b.daemon);
}

/* A goodbye (in one piece with a GET) while the page server still answers: the daemon
 * failed with requests outstanding, so it is no goodbye the source may trust; handed over
 * anyway (lazy_done ok decides that), the page server's bytes are read to its end, and
 * our end is no reset. */
static void test_goodbye_with_bytes_outstanding(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	unsigned char two[2 * REC] = {7};
	uint32_t bye = 0x1024;
	memcpy(two + REC, &bye, sizeof(bye));
	assert_int_equal(send(b.daemon, two, sizeof(two), 0), (ssize_t)sizeof(two));
	unsigned char buf[REC];
	assert_int_equal(pump_read(b.page_server, buf, REC), REC);
	assert_int_equal(send(b.page_server, "pages...", 8, 0), 8); /* the GET's answer */
	assert_answered(&b);
	shutdown(b.daemon, SHUT_WR);
	struct mig_err *e = NULL;
	assert_int_equal(tunnel_run(proc_now_ms() + 5000, &e), 0);
	assert_false(tunnel_goodbye());
	pid_t ps = page_server_child(&b, REC, 70000);
	close(b.page_server);
	b.page_server = -1;
	tunnel_stop(NULL, &e, 0);
	assert_null(e);
	assert_int_equal(child_exit(ps), 0);
	b.remote->close(b.remote);
	close(b.daemon);
}

/* A page server that keeps sending after the goodbye: the hand-over ends at its deadline. */
static void test_hand_over_has_a_deadline(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	send_record(b.daemon, 0x1024);
	assert_answered(&b);
	pid_t ps = page_server_child(&b, REC, SIZE_MAX);
	close(b.page_server);
	b.page_server = -1;
	struct mig_err *e = NULL;
	long long t0 = proc_now_ms();
	tunnel_stop(NULL, &e, 0);
	assert_true(proc_now_ms() - t0 < PAGE_SERVER_ANSWER_MS + 2000);
	assert_non_null(e);
	assert_non_null(strstr(mig_err_msg(e), "did not end within"));
	mig_err_free(&e);
	assert_int_equal(child_exit(ps), 2); /* its sends failed once we had gone */
	b.remote->close(b.remote);
	close(b.daemon);
}

/* CRIU 4.2's 32-byte records: the same. */
static void test_goodbye_32_byte_records(void **state)
{
	(void)state;
	struct bed b;
	bed_up_rec(&b, 32);
	unsigned char get[32] = {7}, bye[32] = {0x24, 0x10};
	assert_int_equal(send(b.daemon, get, sizeof(get), 0), 32);
	assert_int_equal(send(b.daemon, bye, 20, 0), 20); /* 24 bytes would be 4.1's record */
	unsigned char buf[32];
	assert_int_equal(pump_read(b.page_server, buf, 32), 32);
	int32_t status = -1;
	assert_int_equal(pump_read_ms(b.daemon, &status, sizeof(status), 300), 0);
	assert_int_equal(send(b.daemon, bye + 20, 12, 0), 12);
	assert_int_equal(pump_read(b.daemon, &status, sizeof(status)), sizeof(status));
	assert_int_equal(status, 0);
	assert_no_end(b.page_server);
	bed_break(&b);
}

/* The goodbye in pieces, and a GET whose command comes in two: neither passes before its
 * command is known, the GET's bytes then do. */
static void test_goodbye_in_pieces(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	unsigned char get[REC] = {7}, bye[REC] = {0x23, 0x10};
	unsigned char buf[REC];
	assert_int_equal(send(b.daemon, get, 2, 0), 2);
	assert_int_equal(pump_read_ms(b.page_server, buf, 1, 200), 0);
	assert_no_end(b.page_server);
	assert_int_equal(send(b.daemon, get + 2, REC - 2, 0), REC - 2);
	assert_int_equal(pump_read(b.page_server, buf, REC), REC);
	assert_memory_equal(buf, get, REC);
	assert_int_equal(send(b.daemon, bye, 5, 0), 5);
	assert_int_equal(pump_read_ms(b.page_server, buf, 1, 200), 0);
	assert_false(tunnel_goodbye());
	assert_int_equal(send(b.daemon, bye + 5, REC - 5, 0), REC - 5);
	assert_answered(&b);
	assert_int_equal(pump_read_ms(b.page_server, buf, 1, 200), 0);
	assert_no_end(b.page_server);
	bed_break(&b);
}

/* Bytes after the goodbye: not CRIU's protocol; neither they nor the goodbye pass, and the
 * end is held for the owner, who breaks it. */
static void test_bytes_after_goodbye_hold(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	send_record(b.daemon, 0x1023);
	assert_answered(&b);
	send_record(b.daemon, 7);
	shutdown(b.daemon, SHUT_WR);
	unsigned char buf[REC];
	assert_int_equal(pump_read_ms(b.page_server, buf, 1, 300), 0);
	assert_no_end(b.page_server);
	assert_true(tunnel_done());
	assert_false(tunnel_goodbye());
	bed_break(&b);
}

/* More held bytes than the buffer holds: a failure, at once, not a busy wait. */
static void test_held_bytes_fill_the_buffer(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	send_record(b.daemon, 0x1024);
	assert_answered(&b);
	static char junk[400 * 1024];
	fcntl(b.daemon, F_SETFL, O_NONBLOCK);
	size_t sent = 0;
	struct mig_err *e = NULL;
	long long t0 = proc_now_ms();
	while (!tunnel_done() && proc_now_ms() - t0 < 5000) {
		ssize_t n = send(b.daemon, junk + sent, sizeof(junk) - sent, 0);
		if (n > 0)
			sent += (size_t)n;
		tunnel_pump();
	}
	assert_int_equal(tunnel_run(proc_now_ms() + 1000, &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "may not get"));
	mig_err_free(&e);
	assert_no_end(b.page_server);
	bed_break(&b);
}

/* A command the watch does not know: held, not passed (CRIU's page server would fail on it
 * and resume the container here while the destination's copy runs). */
static void test_unknown_command_held(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	send_record(b.daemon, 7);
	unsigned char buf[REC];
	assert_int_equal(pump_read(b.page_server, buf, REC), REC);
	send_record(b.daemon, 99);
	shutdown(b.daemon, SHUT_WR);
	struct mig_err *e = NULL;
	assert_int_equal(tunnel_run(proc_now_ms() + 5000, &e), 0); /* held, not failed */
	assert_no_end(b.page_server);
	assert_false(tunnel_goodbye());
	bed_break(&b);
}

/* Every close but a graceful end is a reset, also the kernel's when migrate-src dies. */
static void test_linger_zero(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	struct linger l = {0};
	socklen_t sl = sizeof(l);
	assert_int_equal(getsockopt(b.tunnel_end, SOL_SOCKET, SO_LINGER, &l, &sl), 0);
	assert_int_equal(l.l_onoff, 1);
	assert_int_equal(l.l_linger, 0);
	bed_down(&b);
}

/* An end without the goodbye (the daemon died): the page server's connection is held as
 * it is (CRIU must not resume the container before the destination's copy is gone), and
 * broken with a reset when the owner says so. */
static void test_end_without_goodbye_holds_then_resets(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	send_record(b.daemon, 7);
	unsigned char half[10] = {7}; /* a GET, cut short */
	assert_int_equal(send(b.daemon, half, sizeof(half), 0), 10);
	close(b.daemon);
	b.daemon = -1;
	unsigned char buf[64];
	assert_int_equal(pump_read(b.page_server, buf, REC), REC);
	/* the partial GET comes through; then nothing: no end, no reset */
	assert_int_equal(pump_read_ms(b.page_server, buf, sizeof(buf), 300), 10);
	assert_no_end(b.page_server);
	assert_true(tunnel_done());
	struct mig_err *e = NULL;
	assert_int_equal(tunnel_run(proc_now_ms() + 1000, &e), -1);
	assert_non_null(strstr(mig_err_msg(e), "went away before it had every page"));
	mig_err_free(&e);
	tunnel_stop(NULL, &e, 1);
	assert_non_null(e);
	mig_err_free(&e);
	assert_int_equal(pump_read_ms(b.page_server, buf, 1, 1000), -ECONNRESET);
	b.remote->close(b.remote);
	close(b.page_server);
}

/* The same, and the owner ends it without a break: an end. */
static void test_held_then_ended(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	close(b.daemon);
	b.daemon = -1;
	unsigned char buf[4];
	assert_int_equal(pump_read_ms(b.page_server, buf, 1, 300), 0);
	assert_no_end(b.page_server);
	tunnel_stop(NULL, NULL, 0);
	assert_int_equal(pump_read_ms(b.page_server, buf, 1, 1000), 0); /* EOF */
	b.remote->close(b.remote);
	close(b.page_server);
}

/* Not watching (a CRIU we do not know): the destination's end is held, neither an end nor
 * a failure, until the owner ends it (after lazy_done ok) or breaks it. */
static void test_unknown_protocol_holds_end(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 0);
	send_record(b.daemon, 7);
	shutdown(b.daemon, SHUT_WR);
	unsigned char buf[REC + 1];
	assert_int_equal(pump_read_ms(b.page_server, buf, sizeof(buf), 500), REC);
	assert_no_end(b.page_server);
	assert_true(tunnel_done());
	assert_false(tunnel_goodbye());
	struct mig_err *e = NULL;
	assert_int_equal(tunnel_run(proc_now_ms() + 1000, &e), 0);
	tunnel_stop(NULL, &e, 0);
	assert_null(e);
	assert_int_equal(pump_read_ms(b.page_server, buf, 1, 1000), 0); /* now the end */
	b.remote->close(b.remote);
	close(b.page_server);
	close(b.daemon);
}

/* The pages connection closed under the tunnel (session_close): held, then reset by the
 * owner. */
static void test_forget_holds_then_resets(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	send_record(b.daemon, 7);
	unsigned char buf[REC];
	assert_int_equal(pump_read(b.page_server, buf, REC), REC);
	tunnel_forget(b.remote);
	assert_true(tunnel_done());
	assert_int_equal(pump_read_ms(b.page_server, buf, 1, 300), 0);
	assert_no_end(b.page_server);
	struct mig_err *e = NULL;
	tunnel_stop(NULL, &e, 1);
	assert_non_null(e);
	assert_non_null(strstr(mig_err_msg(e), "pages connection was closed"));
	mig_err_free(&e);
	assert_int_equal(pump_read_ms(b.page_server, buf, 1, 1000), -ECONNRESET);
	b.remote->close(b.remote);
	close(b.page_server);
	close(b.daemon);
}

/* After the goodbye a break is a break: the page server never saw the goodbye (a daemon
 * that failed says it too), and CRIU resumes the container here. */
static void test_break_after_goodbye(void **state)
{
	(void)state;
	struct bed b;
	bed_up(&b, 1);
	send_record(b.daemon, 0x1024);
	assert_answered(&b);
	unsigned char buf[REC];
	assert_int_equal(pump_read_ms(b.page_server, buf, 1, 300), 0);
	assert_no_end(b.page_server);
	bed_break(&b);
}

static void test_record_sizes(void **state)
{
	(void)state;
	assert_int_equal(page_server_record_size("4.1.1"), 24);
	assert_int_equal(page_server_record_size("3.17"), 24);
	assert_int_equal(page_server_record_size("4.2.1"), 4 + (_Alignof(uint64_t) - 4) + 24);
	assert_int_equal(page_server_record_size("4.2"), page_server_record_size("4.10.0"));
	assert_int_equal(page_server_record_size("5.0"), 0);
	assert_int_equal(page_server_record_size("2.9"), 0);
	assert_int_equal(page_server_record_size("x"), 0);
	assert_int_equal(page_server_record_size(NULL), 0);
}

static void test_watch(void **state)
{
	(void)state;
	struct ps_watch w;
	unsigned char recs[3 * REC] = {0};
	uint32_t get = 7, bye = 0x1023 | 5u << 16; /* flags in the high bits */
	memcpy(recs, &get, 4);
	memcpy(recs + REC, &get, 4);
	memcpy(recs + 2 * REC, &bye, 4);
	ps_watch_init(&w, REC);
	assert_false(ps_watch_goodbye(&w));
	/* in odd pieces: a GET passes once its command is known, the goodbye never */
	ps_watch_observe(&w, recs, 3);
	assert_int_equal(ps_watch_passable(&w), 0);
	ps_watch_observe(&w, recs + 3, 2);
	assert_int_equal(ps_watch_passable(&w), 5);
	ps_watch_observe(&w, recs + 5, 2 * REC - 5 + 3);
	assert_int_equal(ps_watch_passable(&w), 2 * REC);
	assert_false(ps_watch_goodbye(&w));
	ps_watch_observe(&w, recs + 2 * REC + 3, REC - 3);
	assert_true(ps_watch_goodbye(&w));
	assert_int_equal(ps_watch_passable(&w), 2 * REC);
	/* anything after the goodbye: no longer a goodbye, and nothing more passes */
	ps_watch_observe(&w, recs, 1);
	assert_false(ps_watch_goodbye(&w));
	assert_false(ps_watch_watching(&w));
	assert_int_equal(ps_watch_passable(&w), 2 * REC);
	/* an unknown command turns the watch off and holds it */
	uint32_t odd = 99;
	unsigned char r[REC] = {0};
	memcpy(r, &odd, 4);
	ps_watch_init(&w, REC);
	ps_watch_observe(&w, r, REC);
	assert_int_equal(w.rec, 0);
	assert_int_equal(ps_watch_passable(&w), 0); /* held: it and what follows */
	ps_watch_observe(&w, r, REC);
	assert_int_equal(ps_watch_passable(&w), 0);
	/* a version not known: a plain tunnel, everything passes */
	ps_watch_init(&w, 0);
	ps_watch_observe(&w, r, REC);
	assert_int_equal(ps_watch_passable(&w), REC);
	assert_false(ps_watch_watching(&w));
	assert_false(ps_watch_goodbye(&w)); /* never, once not watching */
}

static void test_tcp_row(void **state)
{
	(void)state;
	unsigned long ino = 1;
	/* 127.0.0.1:27 <- 127.0.0.1:40000, not accepted yet (inode 0) */
	const char *queued = "   3: 0100007F:001B 0100007F:9C40 01 00000000:00000000 00:00000000 "
			     "00000000     0        0 0 1 0000000000000000 20 4 30 10 -1";
	assert_int_equal(page_server_tcp_row(queued, 40000, 27, &ino), 1);
	assert_int_equal(ino, 0);
	const char *accepted = "   4: 0100007F:001B 0100007F:9C40 01 00000000:00000000 "
			       "00:00000000 00000000     0        0 123456 1 0 20 4 30 10 -1";
	assert_int_equal(page_server_tcp_row(accepted, 40000, 27, &ino), 1);
	assert_int_equal(ino, 123456);
	/* the other direction, another port, another address, the header */
	assert_int_equal(page_server_tcp_row(accepted, 27, 40000, &ino), 0);
	assert_int_equal(page_server_tcp_row(accepted, 40001, 27, &ino), 0);
	const char *other = "   4: 0200007F:001B 0100007F:9C40 01 00000000:00000000 00:00000000 "
			    "00000000     0        0 9 1";
	assert_int_equal(page_server_tcp_row(other, 40000, 27, &ino), 0);
	assert_int_equal(
	    page_server_tcp_row("  sl  local_address rem_address   st tx_queue", 40000, 27, &ino),
	    0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bytes_both_ways),
	    cmocka_unit_test(test_goodbye_answered_then_handed_over),
	    cmocka_unit_test(test_goodbye_with_bytes_outstanding),
	    cmocka_unit_test(test_hand_over_has_a_deadline),
	    cmocka_unit_test(test_goodbye_32_byte_records),
	    cmocka_unit_test(test_goodbye_in_pieces),
	    cmocka_unit_test(test_bytes_after_goodbye_hold),
	    cmocka_unit_test(test_held_bytes_fill_the_buffer),
	    cmocka_unit_test(test_unknown_command_held),
	    cmocka_unit_test(test_linger_zero),
	    cmocka_unit_test(test_end_without_goodbye_holds_then_resets),
	    cmocka_unit_test(test_held_then_ended),
	    cmocka_unit_test(test_unknown_protocol_holds_end),
	    cmocka_unit_test(test_forget_holds_then_resets),
	    cmocka_unit_test(test_break_after_goodbye),
	    cmocka_unit_test(test_record_sizes),
	    cmocka_unit_test(test_watch),
	    cmocka_unit_test(test_tcp_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

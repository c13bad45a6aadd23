/* linkemu: a point-to-point link with a rate and a delay, for kernels without tc netem.
 *
 *   linkemu NETNS_A TAP_A NETNS_B TAP_B RATE_MBIT DELAY_US [LIMIT_PKTS]
 *
 * Creates the TAP device TAP_A inside the network namespace NETNS_A (a path such as
 * /run/netns/bench-src) and TAP_B inside NETNS_B, prints "ready", and then forwards every
 * Ethernet frame between them the way `tc qdisc add ... netem delay DELAY rate RATE limit
 * LIMIT` on both ends of a veth pair would: per direction, frames are serialised at
 * RATE_MBIT (frame length including the Ethernet header, as netem counts it), then held
 * DELAY_US, then delivered in order; a direction with LIMIT_PKTS (default 1000, netem's
 * default) frames waiting drops the next one.  The round trip is 2 x DELAY_US plus the
 * serialisation of the frames.
 *
 * The TAP devices have no offloads, so the kernel hands over frames of at most the MTU
 * (1500) and the rate applies to what would be on a wire.  Both devices disappear when
 * linkemu exits (SIGTERM, SIGINT).  The benchmark uses it only when the kernel lacks
 * CONFIG_NET_SCH_NETEM (this project's VMs do). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX 65536

struct frame {
	uint64_t due_ns;
	uint32_t len;
	unsigned char *data;
};

/* One direction: frames read from `in`, written to `out` when due. */
struct dir {
	int in, out;
	struct frame *q;
	size_t cap, head, n;
	uint64_t next_free_ns; /* when the "wire" has serialised everything queued so far */
	unsigned long long forwarded, dropped;
};

static volatile sig_atomic_t stop;
static double ns_per_byte;
static uint64_t delay_ns;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "linkemu: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A TAP device named name, created in the network namespace at netns_path. */
static int tap_in_netns(const char *netns_path, const char *name)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int ns = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || ns < 0)
		die(netns_path);
	if (setns(ns, CLONE_NEWNET) < 0)
		die("setns");
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("/dev/net/tun");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		die(name);
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		die("fcntl");
	if (setns(self, CLONE_NEWNET) < 0)
		die("setns back");
	close(ns);
	close(self);
	return fd;
}

static void dir_init(struct dir *d, int in, int out, size_t limit)
{
	memset(d, 0, sizeof(*d));
	d->in = in;
	d->out = out;
	d->cap = limit;
	d->q = calloc(limit, sizeof(*d->q));
	if (!d->q)
		die("calloc");
	for (size_t i = 0; i < limit; i++) {
		d->q[i].data = malloc(FRAME_MAX);
		if (!d->q[i].data)
			die("malloc");
	}
}

/* Reads every frame waiting on d->in and queues it (or drops it: queue full). */
static void dir_read(struct dir *d)
{
	static unsigned char scratch[FRAME_MAX];
	for (;;) {
		unsigned char *buf = d->n < d->cap ? d->q[(d->head + d->n) % d->cap].data : scratch;
		ssize_t len = read(d->in, buf, FRAME_MAX);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			die("read");
		}
		if (len == 0)
			return;
		if (buf == scratch) {
			d->dropped++;
			continue;
		}
		uint64_t t = now_ns();
		uint64_t start = d->next_free_ns > t ? d->next_free_ns : t;
		d->next_free_ns = start + (uint64_t)((double)len * ns_per_byte);
		struct frame *f = &d->q[(d->head + d->n) % d->cap];
		f->len = (uint32_t)len;
		f->due_ns = d->next_free_ns + delay_ns;
		d->n++;
	}
}

/* Writes the frames that are due; returns the due time of the next one (0: none). */
static uint64_t dir_write(struct dir *d)
{
	uint64_t t = now_ns();
	while (d->n) {
		struct frame *f = &d->q[d->head];
		if (f->due_ns > t)
			return f->due_ns;
		if (write(d->out, f->data, f->len) < 0 && errno != EAGAIN && errno != EIO &&
		    errno != EINTR)
			die("write");
		d->forwarded++;
		d->head = (d->head + 1) % d->cap;
		d->n--;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 7 || argc > 8) {
		fprintf(stderr, "usage: linkemu NETNS_A TAP_A NETNS_B TAP_B RATE_MBIT DELAY_US "
				"[LIMIT_PKTS]\n");
		return 2;
	}
	double mbit = atof(argv[5]);
	delay_ns = (uint64_t)atoll(argv[6]) * 1000ULL;
	size_t limit = argc == 8 ? (size_t)atol(argv[7]) : 1000;
	if (mbit <= 0 || limit == 0) {
		fprintf(stderr, "linkemu: RATE_MBIT and LIMIT_PKTS must be positive\n");
		return 2;
	}
	ns_per_byte = 8.0 * 1000.0 / mbit; /* 8 bits / (mbit * 1e6 bit/s) in ns */

	int a = tap_in_netns(argv[1], argv[2]);
	int b = tap_in_netns(argv[3], argv[4]);
	struct dir ab, ba;
	dir_init(&ab, a, b, limit);
	dir_init(&ba, b, a, limit);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("ready\n");
	fflush(stdout);

	while (!stop) {
		uint64_t n1 = dir_write(&ab), n2 = dir_write(&ba), next = 0;
		if (n1 && (!next || n1 < next))
			next = n1;
		if (n2 && (!next || n2 < next))
			next = n2;
		struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
		struct timespec ts, *tp = NULL;
		if (next) {
			uint64_t t = now_ns(), wait = next > t ? next - t : 0;
			ts.tv_sec = (time_t)(wait / 1000000000ULL);
			ts.tv_nsec = (long)(wait % 1000000000ULL);
			tp = &ts;
		}
		int r = ppoll(p, 2, tp, NULL);
		if (r < 0 && errno != EINTR)
			die("ppoll");
		if (r > 0) {
			if (p[0].revents & POLLIN)
				dir_read(&ab);
			if (p[1].revents & POLLIN)
				dir_read(&ba);
		}
	}
	fprintf(stderr,
		"linkemu: %s->%s %llu frames (%llu dropped), %s->%s %llu frames (%llu dropped)\n",
		argv[2], argv[4], ab.forwarded, ab.dropped, argv[4], argv[2], ba.forwarded,
		ba.dropped);
	return 0;
}

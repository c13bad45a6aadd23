/* memhog: the benchmark's memory workload.  Holds MIB MiB of anonymous memory and rewrites
 * PCT per cent of it every second, so that a checkpoint has MIB MiB of pages to move and a
 * pre-copy round always finds some of them dirty.
 *
 *   memhog MIB [PCT [FILL]]      PCT default 10, FILL default mixed
 *
 * FILL decides how well the memory compresses, which is what rsync's compression is
 * measured against:
 *   mixed   each 4 KiB page is half pseudo-random bytes, half log-like text (about 2:1
 *           with zlib; a stand-in for a real heap, which is neither all zeros nor noise)
 *   random  pseudo-random bytes only (does not compress: the worst case)
 *   zero    one repeated byte per page (compresses to almost nothing)
 *
 * When the memory is filled the first time it writes its PID to /ready (opened, written
 * and closed: the benchmark waits for it, and no file stays open that the destination's
 * copy of the rootfs would have to match).  Then it rewrites pages in 10 slices per
 * second, walking the whole area round-robin.  It never exits by itself.
 *
 * Built with gcc -static so it runs in the busybox bundle without any library. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE	  4096
#define SLICES_PS 10 /* rewrite slices per second */

enum fill { FILL_MIXED, FILL_RANDOM, FILL_ZERO };

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill_random(unsigned char *p, size_t len)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t v = xorshift();
		memcpy(p + i, &v, 8);
	}
}

/* Text that compresses like a log or a heap of small records: fixed words, varying numbers. */
static void fill_text(unsigned char *p, size_t len, uint64_t page_no, unsigned gen)
{
	static const char *const words[] = {"GET",  "PUT",    "status=ok", "status=retry",
					    "user", "sensor", "temp",	   "device"};
	size_t off = 0;
	while (off < len) {
		char line[96];
		uint64_t r = xorshift();
		int n = snprintf(line, sizeof(line), "%08llu %s %s id=%llu gen=%u v=%llu\n",
				 (unsigned long long)page_no, words[r & 7], words[(r >> 3) & 7],
				 (unsigned long long)((r >> 8) % 100000), gen,
				 (unsigned long long)((r >> 32) % 1000));
		if (n <= 0)
			break;
		size_t k = (size_t)n < len - off ? (size_t)n : len - off;
		memcpy(p + off, line, k);
		off += k;
	}
}

static void write_page(unsigned char *p, uint64_t page_no, unsigned gen, enum fill f)
{
	switch (f) {
	case FILL_ZERO:
		memset(p, (int)(gen & 0xff), PAGE);
		break;
	case FILL_RANDOM:
		fill_random(p, PAGE);
		break;
	case FILL_MIXED:
		fill_random(p, PAGE / 2);
		fill_text(p + PAGE / 2, PAGE / 2, page_no, gen);
		break;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: memhog MIB [PCT_PER_SECOND [mixed|random|zero]]\n");
	exit(2);
}

static void mark_ready(void)
{
	int fd = open("/ready", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return; /* a read-only rootfs: the benchmark then just waits a little */
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) < 0) {
		/* nothing to do: the benchmark times out and says so */
	}
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4)
		usage();
	char *end;
	long mib = strtol(argv[1], &end, 10);
	if (*end || mib <= 0 || mib > 65536)
		usage();
	double pct = 10;
	if (argc >= 3) {
		pct = strtod(argv[2], &end);
		if (*end || pct < 0 || pct > 100)
			usage();
	}
	enum fill f = FILL_MIXED;
	if (argc == 4) {
		if (!strcmp(argv[3], "random"))
			f = FILL_RANDOM;
		else if (!strcmp(argv[3], "zero"))
			f = FILL_ZERO;
		else if (strcmp(argv[3], "mixed"))
			usage();
	}
	size_t npages = (size_t)mib * (1024 * 1024 / PAGE);
	unsigned char *mem =
	    mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("memhog: mmap");
		return 1;
	}
	rng ^= (uint64_t)getpid() << 32;
	unsigned gen = 0;
	for (size_t i = 0; i < npages; i++)
		write_page(mem + i * PAGE, i, gen, f);
	mark_ready();

	/* Pages per slice; fractional parts carry over so that small PCTs still rewrite. */
	double per_slice = (double)npages * pct / 100.0 / SLICES_PS, carry = 0;
	size_t cursor = 0;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		carry += per_slice;
		size_t n = (size_t)carry;
		carry -= (double)n;
		for (size_t k = 0; k < n; k++) {
			if (cursor == 0)
				gen++;
			write_page(mem + cursor * PAGE, cursor, gen, f);
			cursor = (cursor + 1) % npages;
		}
		next.tv_nsec += 1000000000L / SLICES_PS;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		/* After a pause (a checkpoint, a slow restore) do not catch up on the missed
		 * slices in one burst: start counting again from now. */
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec + 1)
			next = now;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
}

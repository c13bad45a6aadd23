/* cpuwatch: the tools' OWN CPU time for one migration, without their children's.
 *
 *   cpuwatch [-n NETNS_PATH] [-d DSTPID] -o OUTFILE -- CMD ARGS...
 *
 * Runs CMD (migrate-src; in the network namespace NETNS_PATH with -n) and writes one line to
 * OUTFILE:
 *
 *   src_cpu_ms=N dst_cpu_ms=N dst_main_cpu_ms=N dst_handler_cpu_ms=N handlers=N
 *
 * Why not /usr/bin/time or getrusage(RUSAGE_CHILDREN): the rusage wait4() returns for a
 * child includes every descendant it waited for, i.e. runc, CRIU, rsync and ssh, which
 * dominate.  The tools' own cost is what /proc/PID/stat (utime, stime) and
 * /proc/PID/task/TID/schedstat (ns on the CPU) say about the process itself:
 *
 *  - migrate-src: CMD is waited for with WNOWAIT, so it stays a zombie while its final
 *    counters are read, then it is reaped.  Exact.
 *  - migrate-dst (-d DSTPID): the main process's own time before and after, plus every
 *    connection handler it forks (children of DSTPID), sampled every 10 ms while they live.
 *    migrate-dst reaps a handler at most 200 ms after it exits, so the last sample is
 *    usually taken from the zombie (exact); otherwise at most the last 10 ms are missed.
 *    After CMD exits the handlers are followed for up to 3 s more.
 *
 * Per process the CPU time is the larger of utime+stime (10 ms ticks, covers threads that
 * have exited) and the sum of its threads' schedstat run times (ns, live threads only).
 * Exit status: CMD's (128+signal if killed). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_HANDLERS 64

struct handler {
	pid_t pid;
	double ms;
	int gone;
};

static double ticks_ms;

/* Own CPU of PID in ms, or -1 when it is gone. */
static double proc_cpu_ms(pid_t pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after "pid (comm) ": state is field 3; utime 14, stime 15. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long long ut = 0, st = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	double stat_ms = (double)(ut + st) * ticks_ms;

	double sched_ms = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			char sp[300];
			snprintf(sp, sizeof(sp), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
			FILE *sf = fopen(sp, "r");
			unsigned long long ns = 0;
			if (sf) {
				if (fscanf(sf, "%llu", &ns) == 1)
					sched_ms += (double)ns / 1e6;
				fclose(sf);
			}
		}
		closedir(d);
	}
	return stat_ms > sched_ms ? stat_ms : sched_ms;
}

/* Parent PID of PID, or -1. */
static pid_t proc_ppid(const char *pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	int ppid;
	if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* Finds new children of dst (its connection handlers): a scan of /proc, done every 100 ms. */
static void discover_handlers(pid_t dst, struct handler *h, size_t *nh)
{
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || proc_ppid(e->d_name) != dst)
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		size_t i;
		for (i = 0; i < *nh && h[i].pid != pid; i++)
			;
		if (i == *nh && *nh < MAX_HANDLERS) {
			h[*nh].pid = pid;
			h[*nh].ms = 0;
			h[*nh].gone = 0;
			(*nh)++;
		}
	}
	closedir(d);
}

/* Updates the CPU time of the known handlers (every 10 ms); returns how many still exist.
 * A PID that is no longer dst's child was reaped (and maybe reused): it is not read again. */
static int sample_handlers(pid_t dst, struct handler *h, size_t nh)
{
	int alive = 0;
	for (size_t i = 0; i < nh; i++) {
		if (h[i].gone)
			continue;
		char pid[16];
		snprintf(pid, sizeof(pid), "%d", (int)h[i].pid);
		double ms = proc_ppid(pid) == dst ? proc_cpu_ms(h[i].pid) : -1;
		if (ms < 0) {
			h[i].gone = 1;
			continue;
		}
		alive++;
		if (ms > h[i].ms)
			h[i].ms = ms;
	}
	return alive;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void usage(void)
{
	fprintf(stderr, "usage: cpuwatch [-n NETNS_PATH] [-d DSTPID] -o OUTFILE -- CMD ARGS...\n");
	exit(125);
}

int main(int argc, char **argv)
{
	pid_t dst = 0;
	const char *out = NULL;
	int opt;
	const char *netns = NULL;
	while ((opt = getopt(argc, argv, "+d:n:o:")) != -1) {
		if (opt == 'n')
			netns = optarg;
		else if (opt == 'd')
			dst = (pid_t)atoi(optarg);
		else if (opt == 'o')
			out = optarg;
		else
			usage();
	}
	if (!out || optind >= argc)
		usage();
	ticks_ms = 1000.0 / (double)sysconf(_SC_CLK_TCK);

	double dst_before = dst > 0 ? proc_cpu_ms(dst) : 0;
	struct handler h[MAX_HANDLERS];
	size_t nh = 0;
	memset(h, 0, sizeof(h));

	pid_t child = fork();
	if (child < 0) {
		perror("cpuwatch: fork");
		return 125;
	}
	if (child == 0) {
		if (netns) {
			int fd = open(netns, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
				fprintf(stderr, "cpuwatch: %s: %s\n", netns, strerror(errno));
				_exit(126);
			}
			close(fd);
		}
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "cpuwatch: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	/* Ctrl-C reaches CMD through the terminal's process group; do not die before it. */
	signal(SIGINT, SIG_IGN);

	double src_ms = 0;
	unsigned tick = 0;
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, child, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == child) {
			src_ms = proc_cpu_ms(child); /* a zombie now: its final counters */
			break;
		}
		if (dst > 0) {
			if (tick++ % 10 == 0)
				discover_handlers(dst, h, &nh);
			sample_handlers(dst, h, nh);
		}
		sleep_ms(10);
	}
	int status = 0;
	waitpid(child, &status, 0);

	/* Post-copy: the handler may still be finishing; follow it a little longer. */
	if (dst > 0)
		discover_handlers(dst, h, &nh);
	for (int i = 0; dst > 0 && i < 300; i++) {
		if (sample_handlers(dst, h, nh) == 0)
			break;
		sleep_ms(10);
	}
	double dst_main = dst > 0 ? proc_cpu_ms(dst) - dst_before : 0, dst_handlers = 0;
	for (size_t i = 0; i < nh; i++)
		dst_handlers += h[i].ms;

	FILE *f = fopen(out, "w");
	if (!f) {
		perror(out);
	} else {
		fprintf(f,
			"src_cpu_ms=%.1f dst_cpu_ms=%.1f dst_main_cpu_ms=%.1f "
			"dst_handler_cpu_ms=%.1f handlers=%zu\n",
			src_ms, dst_main + dst_handlers, dst_main, dst_handlers, nh);
		fclose(f);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 125;
}

/* What a failure after the checkpoint does (technique.h): the container must end up running
 * on exactly one host, or the message must say where it and its image are. */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "criu.h"
#include "log.h"
#include "restore.h"
#include "technique.h"

/* After a checkpoint that failed or hung: CRIU was killed with the container frozen, or
 * CRIU gave up; bring the container back to running where runc still knows it.  What did
 * not work is a warning in the report; the status tells the outcome. */
static enum runc_status recover_source(struct migration *m, int killed)
{
	const struct runc_ctx *rc = &m->p->tools.runc;
	const char *name = m->p->what.container;
	struct mig_err *e = NULL;
	enum runc_status st = RUNC_UNKNOWN;
	int pid = 0, removed = 0;
	if (runc_state_pid(rc, name, &st, &pid, &e) == 0 && st == RUNC_PAUSED &&
	    runc_resume(rc, name, &e) == 0)
		runc_state_pid(rc, name, &st, &pid, &e);
	/* CRIU unlocks the network itself when it fails; not when we had to kill it. */
	if (!e && killed && pid > 0 && criu_unlock_network(pid, &removed, &e) == 0 && removed)
		log_info("removed the network lock the stopped CRIU left in %s", name);
	if (e) {
		report_warn(m->r, "recovering %s after the failed checkpoint: %s", name,
			    mig_err_msg(e));
		mig_err_free(&e);
	}
	return st;
}

/* Records the outcome: the exit code and the message, *cause freed. */
static int outcome(struct migration *m, int rc, char *msg, struct mig_err **cause)
{
	report_fail(m->r, rc, msg);
	free(msg);
	mig_err_free(cause);
	return rc;
}

/* The outcome once the container's state here is known: running again (exit 3), or not,
 * and then why_not (malloc'ed, taken) says where it and its image are (exit 4). */
static int settle(struct migration *m, enum runc_status st, const char *prefix,
		  struct mig_err **cause, char *why_not)
{
	int running = st == RUNC_RUNNING;
	char *msg =
	    mig_strdup_printf("%s%s; %s", prefix, mig_err_msg(*cause),
			      running ? "the container is running on this host again" : why_not);
	free(why_not);
	return outcome(m, running ? EXIT_ROLLED_BACK : EXIT_NEEDS_HUMAN, msg, cause);
}

int dump_failed(struct migration *m, struct mig_err **cause, int timed_out, const char *what)
{
	enum runc_status st = recover_source(m, timed_out);
	if (timed_out)
		mig_err_wrap(cause,
			     "%s did not finish in %d s and was stopped (if CRIU hangs after "
			     "'new_sp=' in dump.log, this host has no working hardware "
			     "breakpoints: run with CRIU_FAULT=130 in the environment)",
			     what, m->p->limits.step_s);
	else
		mig_err_wrap(cause, "%s", what);
	return settle(m, st, "", cause,
		      mig_strdup_printf("the container is %s on this host: check it with runc "
					"state %s",
					runc_status_name(st), m->p->what.container));
}

/* A lazy image holds no memory pages: they were to come from the page server.  Stopping it
 * is what CRIU undoes the dump on; the container then runs on. */
static int rollback_lazy(struct migration *m, struct mig_err **cause)
{
	postcopy_abort(m);
	enum runc_status st = recover_source(m, 1);
	return settle(m, st, "", cause,
		      mig_strdup_printf("the container is %s on this host and its lazy image (in "
					"%s) has no memory pages to restore from",
					runc_status_name(st), m->image));
}

int rollback(struct migration *m, struct mig_err **cause)
{
	if (mig_lazy(m))
		return rollback_lazy(m, cause);
	const char *name = m->p->what.container;
	log_info("restoring %s on this host from its own image", name);
	struct mig_err *e = NULL;
	/* The dump's options (a connection dumped must be restored as one), not tcp-close:
	 * it is the destination's choice for a container that moved. */
	struct criu_opts opts = m->p->how.criu;
	opts.tcp_close = 0;
	int r = restore_container(&m->p->tools.runc, name, &m->b, "image", "work", 0, &opts, &e);
	if (r == 0)
		return outcome(m, EXIT_ROLLED_BACK,
			       mig_strdup_printf("%s; the container was restored and runs on this "
						 "host again",
						 mig_err_msg(*cause)),
			       cause);
	char *msg = mig_strdup_printf("%s; restoring it on this host failed too (%s); its "
				      "checkpoint image is in %s",
				      mig_err_msg(*cause), mig_err_msg(e), m->image);
	mig_err_free(&e);
	return outcome(m, EXIT_NEEDS_HUMAN, msg, cause);
}

int unknown_outcome(struct migration *m, struct mig_err **cause)
{
	return outcome(m, EXIT_NEEDS_HUMAN,
		       mig_strdup_printf("%s: the container may or may not be running on %s; "
					 "check `runc list` there before doing anything; its "
					 "checkpoint image is in %s on this host",
					 mig_err_msg(*cause), m->p->where.ssh.host, m->image),
		       cause);
}

int lazy_failed(struct migration *m, struct mig_err **cause)
{
	/* When the page server fails, CRIU resumes the container here; the destination
	 * discards its copy. */
	enum runc_status st = recover_source(m, 0);
	return settle(m, st, "post-copy: ", cause,
		      mig_strdup_printf("the container is %s on this host and its memory did not "
					"all reach %s: check both hosts (runc list) and the CRIU "
					"logs in the bundle's work dir",
					runc_status_name(st), m->p->where.ssh.host));
}

/* A reset, not a close: the kernel drops what it has not delivered, so the restore request
 * cannot reach the destination later (after a partition heals), and the destination sees
 * the hang-up at once when the link works (timeouts.h, 2.). */
static void reset_on_close(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

void hang_up(struct migration *m)
{
	reset_on_close(m->sess.ctl ? conn_fd(m->sess.ctl) : -1);
	reset_on_close(m->sess.ssh ? mig_ssh_fd(m->sess.ssh) : -1);
	session_close(&m->sess);
}

void wait_until_safe(struct migration *m, long long safe_at)
{
	long long left = safe_at - proc_now_ms();
	if (left <= 0)
		return;
	log_info("waiting %lld s before restoring %s here: until then %s may still hold a copy it "
		 "will remove (docs/protocol.md, \"Never two copies\")",
		 (left + 999) / 1000, m->p->what.container, m->p->where.ssh.host);
	/* Not cut short by a signal: restoring earlier could make two copies. */
	while ((left = safe_at - proc_now_ms()) > 0)
		usleep(left > 200 ? 200000 : (useconds_t)left * 1000);
}

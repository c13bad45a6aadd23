/* Preflight: everything before the container is touched (technique.h).  A failure here is
 * a refusal: exit 2, the container runs on as before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "criu.h"
#include "fs.h"
#include "log.h"
#include "proto.h"
#include "technique.h"
#include "timeouts.h"

/* The parent of pid from /proc/PID/stat (its comm may hold spaces and parentheses: the
 * fields start after the last ')'), or -1. */
static int parent_of(int pid, char *comm, size_t len)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	int ppid = -1;
	if (!open || !close || close < open || sscanf(close + 1, " %*c %d", &ppid) != 1)
		return -1;
	snprintf(comm, len, "%.*s", (int)(close - open - 1), open + 1);
	return ppid;
}

/* 1 when pid descends from init (or is gone: nothing to lose), 0 when not; *comm: its name.
 * An ancestor that exits during the walk is read again from the start (its children are
 * reparented meanwhile): a few tries, not a false refusal. */
static int descends_from(int pid, int init, char *comm, size_t len)
{
	char c[64];
	int q = -1;
	for (int attempt = 0; attempt < 3; attempt++) {
		q = parent_of(pid, comm, len);
		if (q < 0)
			return 1;
		for (int depth = 0; q > 1 && q != init && depth < 4096; depth++)
			q = parent_of(q, c, sizeof(c));
		if (q != -1)
			break;
	}
	return q == init;
}

/* CRIU dumps the container's init and its descendants; a process that entered the
 * container's cgroup another way (runc exec -d) is dropped without an error (CRIU only
 * warns "Unexpected process N in the freezer cgroup"): refused before anything is
 * touched (docs/notes-real-services.md). */
static int check_process_tree(struct migration *m, struct mig_err **err)
{
	const struct runc_ctx *rc = &m->p->tools.runc;
	const char *name = m->p->what.container;
	enum runc_status st;
	int init = 0, *pids = NULL, r = 0;
	size_t n = 0;
	if (runc_state_pid(rc, name, &st, &init, err) < 0 || runc_ps(rc, name, &pids, &n, err) < 0)
		return mig_err_wrap(err, "source");
	m->init_pid = init;
	for (size_t i = 0; r == 0 && i < n; i++) {
		char comm[64] = "?";
		if (pids[i] == init || descends_from(pids[i], init, comm, sizeof(comm)))
			continue;
		r = mig_err_set(
		    err, 0,
		    "process %d (%s) in container %s is not a descendant of the "
		    "container's init (PID %d): it was started with runc exec, and CRIU "
		    "would drop it without an error; stop it, or start it from the "
		    "container's own processes",
		    pids[i], comm, name, init);
	}
	free(pids);
	return r;
}

/* The bundle, its lock, the rootfs inside it, and runc's word that the container runs. */
static int local_checks(struct migration *m, struct mig_err **err)
{
	const struct plan *p = m->p;
	const char *name = p->what.container;
	if (bundle_load(p->what.base_dir, name, &m->b, err) < 0 ||
	    (m->lock_fd = bundle_lock(&m->b, err)) < 0)
		return mig_err_wrap(err, "source");
	if (p->what.sync_rootfs && m->b.root_path[0] == '/')
		return mig_err_set(err, 0,
				   "the rootfs of %s is at '%s', outside the bundle: it cannot be "
				   "synced; use --no-rootfs-sync if both hosts share it",
				   name, m->b.root_path);
	/* rsync sends the rootfs as one directory of the bundle (no -R): "data/image" would
	 * land as DEST/NAME/image, in the tools' own directory, and the real one would go
	 * stale. */
	if (p->what.sync_rootfs && strchr(m->b.root_path, '/'))
		return mig_err_set(
		    err, 0,
		    "the rootfs of %s is at '%s', not one directory of the bundle: it "
		    "cannot be synced; make root.path a single name (as \"rootfs\") "
		    "or use --no-rootfs-sync if both hosts share it",
		    name, m->b.root_path);
	if (bundle_check_rootfs(&m->b, 0, err) < 0)
		return mig_err_wrap(err, "source");
	m->image = bundle_path(&m->b, "image");
	m->parent = bundle_path(&m->b, "parent");
	enum runc_status st;
	if (runc_state(&p->tools.runc, name, &st, err) < 0)
		return mig_err_wrap(err, "source");
	if (st != RUNC_RUNNING)
		return mig_err_set(err, 0,
				   "container %s is %s on this host (runc root %s), not running",
				   name, runc_status_name(st),
				   p->tools.runc.root ? p->tools.runc.root : RUNC_DEFAULT_ROOT);
	return check_process_tree(m, err);
}

/* --dst-netns only means something for a bundle that joins a namespace by path. */
static int check_netns(struct migration *m, struct mig_err **err)
{
	if (m->p->how.dst_netns && m->b.netns != NETNS_NAMED)
		return mig_err_set(err, 0,
				   "--dst-netns: the bundle of %s joins no network namespace by "
				   "path (its network namespace is %s)",
				   m->p->what.container, bundle_netns_name(m->b.netns));
	return 0;
}

/* What the technique needs on this host, checked before anything is frozen. */
static int check_source_features(struct migration *m, struct mig_err **err)
{
	const struct plan *p = m->p;
	if (mig_precopy(m)) {
		int ok = 0;
		if (criu_has_feature(p->tools.criu, "mem_dirty_track", &ok, err) < 0)
			return -1;
		if (!ok)
			return mig_err_set(
			    err, 0,
			    "%s needs memory dirty tracking, which this host lacks "
			    "(criu check --feature mem_dirty_track fails: kernel option "
			    "%s); use cold or post-copy",
			    technique_name(p->how.technique),
			    criu_feature_kernel_option("mem_dirty_track"));
	}
	if (mig_lazy(m)) {
		char *note = NULL;
		if (criu_pipe_size_prepare(p->how.no_sysctl, "/proc/sys", &note, err) < 0)
			return -1;
		if (note)
			log_info("%s", note);
		free(note);
	}
	return 0;
}

/* The dumps' runc: with a CRIU configuration file when an option has no runc flag. */
static int dump_config(struct migration *m, struct mig_err **err)
{
	const char *lines[CRIU_CONFIG_LINES];
	m->dump_runc = m->p->tools.runc;
	if (!criu_config_lines(&m->p->how.criu, 1, mig_lazy(m), lines))
		return 0;
	if (criu_config_write(lines, m->criu_config, sizeof(m->criu_config), err) < 0)
		return -1;
	m->dump_runc.criu_config = m->criu_config;
	return 0;
}

/* SSH (unless --direct), the control channel, hello and the token (session.h); then the
 * destination's check of its side. */
/* What the destination checks its bundle against before anything is frozen: the CRIU
 * options its restore must take, and the container's network namespace. */
void add_container_facts(const struct migration *m, cJSON *req)
{
	criu_opts_to_json(&m->p->how.criu, req);
	cJSON_AddStringToObject(req, "netns", bundle_netns_name(m->b.netns));
	if (m->p->how.dst_netns)
		cJSON_AddStringToObject(req, "dst_netns", m->p->how.dst_netns);
}

static int hello_and_check(struct migration *m, struct mig_err **err)
{
	const struct plan *p = m->p;
	struct ctl_session *cs = &m->sess;
	if (session_ssh(cs, err) < 0 || session_control(cs, err) < 0 || session_hello(cs, err) < 0)
		return -1;
	m->dst_bundle = mig_strdup_printf("%s/%s", cs->base_dir, p->what.container);
	log_debug("destination: migrate-dst %s, base dir %s",
		  cs->dst_version ? cs->dst_version : "?", cs->base_dir);
	cJSON *req = proto_msg("check");
	cJSON_AddStringToObject(req, "name", p->what.container);
	cJSON_AddStringToObject(req, "technique", technique_name(p->how.technique));
	if (p->how.replace)
		cJSON_AddBoolToObject(req, "replace", 1);
	if (p->how.sync_bundle)
		cJSON_AddBoolToObject(req, "sync_bundle", 1);
	add_container_facts(m, req);
	cJSON *rep = session_call(cs, req, CONTROL_REPLY_MS, err);
	cJSON_Delete(req);
	if (rep)
		proto_get_bool(rep, "send_bundle", &m->send_bundle, 0, NULL);
	cJSON_Delete(rep);
	return rep ? 0 : -1;
}

/* Taken before the first pass: whatever changes from then on differs from it, and an
 * unchanged rootfs needs no rsync in the downtime (freeze.c). */
int rootfs_digest(const struct migration *m, unsigned char out[32], struct mig_err **err)
{
	int fd = bundle_rootfs_fd(&m->b, err);
	if (fd < 0)
		return -1;
	int r = fs_tree_digest(fd, out, err);
	close(fd);
	return r < 0 ? mig_err_wrap(err, "the rootfs %s", m->b.rootfs) : 0;
}

static void take_rootfs_digest(struct migration *m)
{
	struct mig_err *e = NULL;
	m->have_digest = rootfs_digest(m, m->rootfs_digest, &e) == 0;
	if (!m->have_digest)
		report_warn(m->r, "%s: the final rootfs pass will run", mig_err_msg(e));
	mig_err_free(&e);
}

/* Before the freeze: a fresh, empty image dir, and a first rsync of the rootfs while the
 * container still runs (also proving that rsync and ssh work before anything is frozen). */
static int presync(struct migration *m, struct mig_err **err)
{
	const struct plan *p = m->p;
	if (bundle_clear_dir(&m->b, "image", err) < 0 || bundle_make_dir(&m->b, "image", err) < 0)
		return -1;
	const char *srcs[3];
	size_t n = xfer_sources(m, srcs);
	/* --sync-bundle, and the destination has none: its config goes with the first pass. */
	char *config = m->send_bundle ? bundle_path(&m->b, "config.json") : NULL;
	if (config) {
		log_info("sending the bundle of %s (config.json%s) to %s", p->what.container,
			 p->what.sync_rootfs ? " and rootfs" : "", p->where.ssh.host);
		srcs[n++] = config;
	}
	struct xfer_stats st;
	m->xfer.label = "pre-sync";
	if (!p->how.transfer_rsync && p->what.sync_rootfs)
		take_rootfs_digest(m);
	int r = xfer_rsync(&m->xfer, XFER_ROOTFS, srcs, n, m->dst_bundle, &st, err);
	free(config);
	if (r < 0)
		return mig_err_wrap(err, "first rootfs sync");
	m->r->sync_ms = st.elapsed_ms;
	m->r->sync_bytes = st.bytes_sent;
	return 0;
}

size_t xfer_sources(const struct migration *m, const char *srcs[3])
{
	size_t n = 0;
	if (m->p->what.sync_rootfs)
		srcs[n++] = m->b.rootfs;
	srcs[n++] = m->image;
	return n;
}

int preflight(struct migration *m, struct mig_err **err)
{
	if (local_checks(m, err) < 0 || check_source_features(m, err) < 0 ||
	    check_netns(m, err) < 0 || dump_config(m, err) < 0 ||
	    xfer_check_rsync(m->p->how.allow_old_rsync, err) < 0 || check_stop(err) < 0 ||
	    hello_and_check(m, err) < 0 || xfer_master_start(&m->xfer, &m->master, err) < 0 ||
	    (mig_lazy(m) && postcopy_prepare(m, err) < 0) || check_stop(err) < 0 ||
	    presync(m, err) < 0)
		return -1;
	return check_stop(err);
}

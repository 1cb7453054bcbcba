// SPDX-License-Identifier: BSD-2-Clause
/*
 * sup_ctl.c - xtsd's ctl socket: a unix stream socket (ctl.path, ctl.mode,
 * ctl.group), one request per connection (include/xts_ctl.h), peers
 * checked with SO_PEERCRED (root, or a member of ctl.group), and the
 * command table the requests dispatch on.  Reads of the shards' blocks
 * are lock-free; no command ever waits on a shard for long (conns:
 * at most CONNS_WAIT_MS per shard).
 */
#define _GNU_SOURCE /* struct ucred, accept4 */
#include <endian.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sup.h"
#include "xts_ctl.h"
#include "xts_proto.h"
#include "xts_reg.h"

#define IO_TIMEOUT_MS 2000
#define CONNS_WAIT_MS 500

int sup_ctl_open(struct sup *sp)
{
	const struct cfg *c = sp->cfg;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	sp->ctl_gid = (gid_t)-1;
	if (c->ctl_group[0]) {
		struct group *g = getgrnam(c->ctl_group);

		if (!g) {
			sup_err("ctl.group %s: no such group", c->ctl_group);
			return -ENOENT;
		}
		sp->ctl_gid = g->gr_gid;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", c->ctl_path);
	/* a socket left by a dead xtsd is replaced; any other file is not */
	if (lstat(c->ctl_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			sup_err("ctl.path %s exists and is not a socket", c->ctl_path);
			return -EEXIST;
		}
		unlink(c->ctl_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    chmod(c->ctl_path, c->ctl_mode) ||
	    (sp->ctl_gid != (gid_t)-1 && chown(c->ctl_path, 0, sp->ctl_gid)) || listen(fd, 16)) {
		int err = errno;

		sup_err("ctl socket %s: %s", c->ctl_path, strerror(err));
		if (fd >= 0)
			close(fd);
		return -err;
	}
	sp->ctl_fd = fd;
	return 0;
}

void sup_ctl_close(struct sup *sp)
{
	if (sp->ctl_fd < 0)
		return;
	close(sp->ctl_fd);
	sp->ctl_fd = -1;
}

/* ---- peers ---- */

static bool in_group(uid_t uid, gid_t pgid, gid_t want)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (pgid == want)
		return true;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) || !pwp)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

static int authorize(struct sup *sp, int fd, char *why, size_t len)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l)) {
		snprintf(why, len, "cannot read peer credentials: %s", strerror(errno));
		return -EACCES;
	}
	if (cr.uid == 0)
		return 0;
	if (sp->ctl_gid != (gid_t)-1 && in_group(cr.uid, cr.gid, sp->ctl_gid))
		return 0;
	if (sp->ctl_gid != (gid_t)-1)
		snprintf(why, len, "permission denied: uid %u is neither root nor in group %s",
			 (unsigned)cr.uid, sp->cfg->ctl_group);
	else
		snprintf(why, len, "permission denied: uid %u is not root (no ctl.group set)",
			 (unsigned)cr.uid);
	sup_warn("ctl: refused pid %d uid %u", (int)cr.pid, (unsigned)cr.uid);
	return -EACCES;
}

/* ---- commands ---- */

static const char *state_name(uint32_t st)
{
	static const char *const names[] = {
	    [XTS_SHARD_STOPPED] = "stopped",
	    [XTS_SHARD_STARTING] = "starting",
	    [XTS_SHARD_RUNNING] = "running",
	    [XTS_SHARD_DRAINING] = "draining",
	};

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

/* A shard's state as the operator sees it: xtsd's view until the shard
 * itself says it runs (its run.pid is the live pid). */
static uint32_t shard_state(struct sup *sp, unsigned q)
{
	struct xts_shm_shard *b = xts_shm_shard(sp->shm, q);

	if (!sp->slot[q].pid)
		return sp->slot[q].respawn_at_ms ? XTS_SHARD_STARTING : XTS_SHARD_STOPPED;
	if (__atomic_load_n(&b->run.pid, __ATOMIC_ACQUIRE) != sp->slot[q].pid)
		return XTS_SHARD_STARTING;
	return __atomic_load_n(&b->run.state, __ATOMIC_ACQUIRE);
}

static uint64_t now_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void shard_rec(struct sup *sp, unsigned q, struct ctl_buf *o)
{
	struct xts_shm_shard *b = xts_shm_shard(sp->shm, q);
	uint32_t st = shard_state(sp, q);
	bool live = st == XTS_SHARD_RUNNING || st == XTS_SHARD_DRAINING;
	uint64_t now = now_realtime_ns();

	ctl_rec_begin(o, "shard");
	ctl_rec_u64(o, "id", q);
	ctl_rec_i64(o, "pid", sp->slot[q].pid);
	ctl_rec_str(o, "state", state_name(st));
	ctl_rec_i64(o, "cpu", b->sup.cpu);
	ctl_rec_i64(o, "node", b->sup.node);
	ctl_rec_u64(o, "uptime_s",
		    sp->slot[q].pid && now > b->sup.started_ns
			? (now - b->sup.started_ns) / 1000000000ull
			: 0);
	ctl_rec_u64(o, "restarts", b->sup.restarts);
	ctl_rec_u64(o, "connections",
		    live ? __atomic_load_n(&b->cnt.conns_active, __ATOMIC_RELAXED) : 0);
	ctl_rec_u64(o, "epoch", live ? __atomic_load_n(&b->run.epoch, __ATOMIC_RELAXED) : 0);
	ctl_rec_u64(o, "max_conns", b->run.max_conns);
	ctl_rec_u64(o, "cfg_gen", __atomic_load_n(&b->run.cfg_gen, __ATOMIC_RELAXED));
	ctl_rec_u64(o, "drain", b->sup.drain);
}

static int cmd_status(struct sup *sp, int argc, char **argv, struct ctl_buf *o, char *err,
		      size_t len)
{
	(void)argc, (void)argv, (void)err, (void)len;
	ctl_rec_begin(o, "xtsd");
	ctl_rec_i64(o, "pid", getpid());
	ctl_rec_str(o, "config", sp->file);
	ctl_rec_u64(o, "generation", sp->gen);
	ctl_rec_str(o, "interface", sp->cfg->interface);
	ctl_rec_u64(o, "queues", sp->cfg->queues);
	ctl_rec_end(o);
	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		shard_rec(sp, q, o);
		ctl_rec_end(o);
	}
	return 0;
}

static const char *const counter_names[] = {
#define XTS_SHM_NAME(name, kind, src, help) #name,
    XTS_SHM_COUNTERS(XTS_SHM_NAME)
#undef XTS_SHM_NAME
};

static int cmd_stats(struct sup *sp, int argc, char **argv, struct ctl_buf *o, char *err,
		     size_t len)
{
	uint64_t total[XTS_SHM_NCOUNTERS];

	(void)argc, (void)argv, (void)err, (void)len;
	memset(total, 0, sizeof(total));
	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		const uint64_t *k = (const uint64_t *)&xts_shm_shard(sp->shm, q)->cnt;

		ctl_rec_begin(o, "shard");
		ctl_rec_u64(o, "id", q);
		ctl_rec_str(o, "state", state_name(shard_state(sp, q)));
		for (unsigned i = 0; i < XTS_SHM_NCOUNTERS; i++) {
			uint64_t v = __atomic_load_n(&k[i], __ATOMIC_RELAXED);

			ctl_rec_u64(o, counter_names[i], v);
			total[i] += v;
		}
		ctl_rec_end(o);
	}
	ctl_rec_begin(o, "total");
	for (unsigned i = 0; i < XTS_SHM_NCOUNTERS; i++)
		ctl_rec_u64(o, counter_names[i], total[i]);
	ctl_rec_end(o);
	return 0;
}

static void addr_str(const uint8_t raw[24], char *out, size_t len)
{
	struct xts_addr a;
	char ip[INET6_ADDRSTRLEN];

	memcpy(&a, raw, sizeof(a));
	if (le16toh(a.family) == AF_INET6 && inet_ntop(AF_INET6, a.addr, ip, sizeof(ip)))
		snprintf(out, len, "[%s]:%u", ip, le16toh(a.port));
	else if (le16toh(a.family) == AF_INET && inet_ntop(AF_INET, a.addr, ip, sizeof(ip)))
		snprintf(out, len, "%s:%u", ip, le16toh(a.port));
	else
		snprintf(out, len, "-");
}

static int cmd_conns(struct sup *sp, int argc, char **argv, struct ctl_buf *o, char *err,
		     size_t len)
{
	uint32_t req[CFG_MAX_QUEUES];
	long long deadline = sup_now_ms() + CONNS_WAIT_MS;

	(void)argc, (void)argv, (void)err, (void)len;
	/* ask every live shard at once, then collect */
	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		struct xts_shm_shard *b = xts_shm_shard(sp->shm, q);

		req[q] = __atomic_add_fetch(&b->sup.conns_req, 1, __ATOMIC_RELEASE);
	}
	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		struct xts_shm_shard *b = xts_shm_shard(sp->shm, q);
		struct xts_shm_conns *sn = xts_shm_conns(sp->shm, q);
		uint32_t st = shard_state(sp, q);
		bool ok = false;

		if (st == XTS_SHARD_RUNNING || st == XTS_SHARD_DRAINING) {
			while (!(ok = __atomic_load_n(&b->run.conns_ack, __ATOMIC_ACQUIRE) ==
				      req[q]) &&
			       sup_now_ms() < deadline)
				usleep(1000);
		}
		ctl_rec_begin(o, "shard");
		ctl_rec_u64(o, "id", q);
		ctl_rec_str(o, "state", state_name(st));
		ctl_rec_str(o, "answered", ok ? "yes" : "no");
		ctl_rec_u64(o, "total", ok ? sn->total : 0);
		ctl_rec_u64(o, "listed", ok ? sn->n : 0);
		ctl_rec_end(o);
		for (uint32_t i = 0; ok && i < sn->n && i < XTS_SHM_CONNS_MAX; i++) {
			const struct xts_shm_conn *c = &sn->c[i];
			char a[64];

			ctl_rec_begin(o, "conn");
			ctl_rec_u64(o, "shard", q);
			ctl_rec_u64(o, "id", c->id);
			ctl_rec_u64(o, "host_id", c->host_id);
			ctl_rec_str(o, "state", xts_conn_state_name(c->state));
			addr_str(c->local, a, sizeof(a));
			ctl_rec_str(o, "local", a);
			addr_str(c->peer, a, sizeof(a));
			ctl_rec_str(o, "peer", a);
			ctl_rec_u64(o, "buf_bytes", c->buf_bytes);
			ctl_rec_u64(o, "tx_credit", c->tx_credit);
			ctl_rec_end(o);
		}
	}
	return 0;
}

static int cmd_listeners(struct sup *sp, int argc, char **argv, struct ctl_buf *o, char *err,
			 size_t len)
{
	const struct xts_shm_hdr *h = sp->shm;
	const struct xts_reg *r;
	uint32_t i, n = 0;

	(void)argc, (void)argv, (void)err, (void)len;
	if (!h->reg_size) {
		ctl_rec_begin(o, "total");
		ctl_rec_u64(o, "size", 0);
		ctl_rec_u64(o, "listeners", 0);
		ctl_rec_end(o);
		return 0;
	}
	r = (const struct xts_reg *)((const char *)h + h->reg_off);
	/* Read without the registry lock: the supervisor must never wait on
	 * a shard (one may die holding it).  reg_read copies an entry under
	 * its seqlock; one that stays busy is skipped. */
	for (i = 0; i < r->nslots; i++) {
		struct reg_ent e;
		struct xts_addr a;
		char s[80], fl[40];

		if (reg_read(r, i, &e) || e.state != REG_LISTEN)
			continue;
		memset(&a, 0, sizeof(a));
		a.family = htole16(e.family);
		a.port = htole16(e.port);
		memcpy(a.addr, e.addr, sizeof(a.addr));
		addr_str((const uint8_t *)&a, s, sizeof(s));
		snprintf(fl, sizeof(fl), "%s%s%s", e.flags & REG_F_REUSEADDR ? "reuseaddr," : "",
			 e.flags & REG_F_REUSEPORT ? "reuseport," : "",
			 e.flags & REG_F_V6ONLY ? "v6only," : "");
		if (*fl)
			fl[strlen(fl) - 1] = 0;
		ctl_rec_begin(o, "listener");
		ctl_rec_u64(o, "queue", e.queue);
		ctl_rec_str(o, "local", s);
		ctl_rec_u64(o, "host_id", e.host_id);
		ctl_rec_u64(o, "backlog", e.backlog);
		ctl_rec_str(o, "flags", *fl ? fl : "-");
		ctl_rec_end(o);
		n++;
	}
	ctl_rec_begin(o, "total");
	ctl_rec_u64(o, "size", r->nslots);
	ctl_rec_u64(o, "listeners", n);
	ctl_rec_u64(o, "generation", r->generation);
	ctl_rec_u64(o, "repairs", r->repairs);
	ctl_rec_end(o);
	return 0;
}

static int cmd_reload(struct sup *sp, int argc, char **argv, struct ctl_buf *o, char *err,
		      size_t len)
{
	int rc;

	(void)argc, (void)argv;
	rc = sup_reload(sp, err, len);
	if (rc)
		return rc;
	ctl_rec_begin(o, "config");
	ctl_rec_str(o, "file", sp->file);
	ctl_rec_u64(o, "generation", sp->gen);
	ctl_rec_end(o);
	return 0;
}

static int parse_shards(struct sup *sp, const char *arg, unsigned *lo, unsigned *hi, char *err,
			size_t len)
{
	char *end;
	unsigned long v;

	if (!strcmp(arg, "all")) {
		*lo = 0;
		*hi = sp->cfg->queues - 1;
		return 0;
	}
	v = strtoul(arg, &end, 10);
	if (end == arg || *end || v >= sp->cfg->queues) {
		snprintf(err, len, "no shard \"%s\": want 0..%u or all", arg, sp->cfg->queues - 1);
		return -EINVAL;
	}
	*lo = *hi = (unsigned)v;
	return 0;
}

static int set_drain(struct sup *sp, const char *arg, uint32_t on, struct ctl_buf *o, char *err,
		     size_t len)
{
	unsigned lo, hi;
	int rc = parse_shards(sp, arg, &lo, &hi, err, len);

	if (rc)
		return rc;
	for (unsigned q = lo; q <= hi; q++) {
		__atomic_store_n(&xts_shm_shard(sp->shm, q)->sup.drain, on, __ATOMIC_RELEASE);
		sup_info("shard %u: %s requested", q, on ? "drain" : "undrain");
	}
	/* let the shards take it (a loop round), so status shows it */
	for (int i = 0; i < 100; i++) {
		bool all = true;

		for (unsigned q = lo; q <= hi; q++) {
			uint32_t st = shard_state(sp, q);

			if ((st == XTS_SHARD_RUNNING && on) || (st == XTS_SHARD_DRAINING && !on))
				all = false;
		}
		if (all)
			break;
		usleep(2000);
	}
	for (unsigned q = lo; q <= hi; q++) {
		shard_rec(sp, q, o);
		ctl_rec_end(o);
	}
	return 0;
}

static int cmd_drain(struct sup *sp, int argc, char **argv, struct ctl_buf *o, char *err,
		     size_t len)
{
	(void)argc;
	return set_drain(sp, argv[1], 1, o, err, len);
}

static int cmd_undrain(struct sup *sp, int argc, char **argv, struct ctl_buf *o, char *err,
		       size_t len)
{
	(void)argc;
	return set_drain(sp, argv[1], 0, o, err, len);
}

static int cmd_stop(struct sup *sp, int argc, char **argv, struct ctl_buf *o, char *err, size_t len)
{
	(void)argc, (void)argv, (void)err, (void)len;
	*sp->stop = 1;
	ctl_rec_begin(o, "xtsd");
	ctl_rec_i64(o, "pid", getpid());
	ctl_rec_str(o, "state", "stopping");
	ctl_rec_u64(o, "drain_ms", sp->cfg->drain_ms);
	ctl_rec_end(o);
	return 0;
}

enum ctl_cmd_id {
	CTL_STATUS,
	CTL_STATS,
	CTL_CONNS,
	CTL_LISTENERS,
	CTL_RELOAD,
	CTL_DRAIN,
	CTL_UNDRAIN,
	CTL_STOP,
	CTL_NCMDS
};

struct ctl_cmd {
	const char *name;
	int (*fn)(struct sup *sp, int argc, char **argv, struct ctl_buf *o, char *err, size_t len);
	int nargs; /* words after the command */
};

static const struct ctl_cmd cmds[CTL_NCMDS] = {
    [CTL_STATUS] = {"status", cmd_status, 0},	 [CTL_STATS] = {"stats", cmd_stats, 0},
    [CTL_CONNS] = {"conns", cmd_conns, 0},	 [CTL_LISTENERS] = {"listeners", cmd_listeners, 0},
    [CTL_RELOAD] = {"reload", cmd_reload, 0},	 [CTL_DRAIN] = {"drain", cmd_drain, 1},
    [CTL_UNDRAIN] = {"undrain", cmd_undrain, 1}, [CTL_STOP] = {"stop", cmd_stop, 0},
};

static int read_request(int fd, char *line, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t r = read(fd, line + n, cap - 1 - n);
		char *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EPROTO;
		n += (size_t)r;
		line[n] = 0;
		if ((nl = memchr(line, '\n', n))) {
			*nl = 0;
			return 0;
		}
	}
	return -E2BIG;
}

static void dispatch(struct sup *sp, int fd)
{
	static char line[XTS_CTL_LINE_MAX];
	struct ctl_buf body = {0}, resp = {0};
	char err[CFG_ERR_LEN + 64] = "", *argv[XTS_CTL_MAX_ARGS];
	const struct ctl_cmd *cmd = NULL;
	int rc, argc;

	/* read the request even from a peer we refuse: closing with unread
	 * bytes would reset the connection before it reads why */
	rc = read_request(fd, line, sizeof(line));
	if (rc)
		snprintf(err, sizeof(err), "bad request: %s", strerror(-rc));
	if (authorize(sp, fd, err, sizeof(err)))
		rc = -EACCES;
	if (rc)
		goto answer;
	argc = ctl_req_parse(line, argv, XTS_CTL_MAX_ARGS);
	if (argc < 0) {
		rc = argc;
		snprintf(err, sizeof(err), "bad request (protocol %s expected)", XTS_CTL_VERSION);
		goto answer;
	}
	for (unsigned i = 0; i < CTL_NCMDS; i++)
		if (!strcmp(cmds[i].name, argv[0]))
			cmd = &cmds[i];
	if (!cmd) {
		rc = -EINVAL;
		snprintf(err, sizeof(err), "unknown command \"%s\"", argv[0]);
		goto answer;
	}
	if (argc - 1 != cmd->nargs) {
		rc = -EINVAL;
		snprintf(err, sizeof(err), "%s takes %d argument%s", cmd->name, cmd->nargs,
			 cmd->nargs == 1 ? "" : "s");
		goto answer;
	}
	sup_dbg("ctl: %s", cmd->name);
	rc = cmd->fn(sp, argc, argv, &body, err, sizeof(err));
	if (!rc && body.err) {
		rc = body.err;
		snprintf(err, sizeof(err), "response too large: %s", strerror(-rc));
	}
answer:
	ctl_status_line(&resp, rc, err[0] ? err : strerror(-rc));
	if (!rc && body.len)
		ctl_buf_put(&resp, body.p, body.len);
	ctl_buf_put(&resp, "end\n", 4);
	if (!resp.err)
		ctl_write_all(fd, resp.p, resp.len);
	ctl_buf_free(&body);
	ctl_buf_free(&resp);
}

void sup_ctl_serve(struct sup *sp)
{
	struct timeval tv = {.tv_sec = IO_TIMEOUT_MS / 1000,
			     .tv_usec = (IO_TIMEOUT_MS % 1000) * 1000};
	int fd;

	/* a few at a time: the shards' restarts must not wait on clients */
	for (int i = 0; i < 8; i++) {
		fd = accept4(sp->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		/* a slow or silent client holds xtsd for at most the timeout */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		dispatch(sp, fd);
		close(fd);
	}
}

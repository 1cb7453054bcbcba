// SPDX-License-Identifier: BSD-2-Clause
/*
 * sup_cmd.c - the ctl commands: a table (Knot's ctl commands) of handlers
 * that take one args struct and write records (include/xts_ctl.h).  Reads
 * of the shards' blocks are lock-free.  A command that needs an answer
 * from the shards (conns, drain) asks, returns SUP_CMD_AGAIN and is called
 * again by the event loop until the shards answered or its wait is over:
 * it never sleeps on the loop that reaps and restarts shards.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sup.h"
#include "xts_proto.h"
#include "xts_reg.h"
#include "xts_version.h"

#define CONNS_WAIT_MS 500 /* conns: how long a shard gets to write its snapshot */
#define DRAIN_WAIT_MS 200 /* drain, undrain: how long until status shows it */

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

static bool live(uint32_t st)
{
	return st == XTS_SHARD_RUNNING || st == XTS_SHARD_DRAINING;
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
	uint32_t st = sup_shard_state(sp, q);
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
	/* the fork, in ms since the epoch: when the last restart happened */
	ctl_rec_u64(o, "started_ms", sp->slot[q].pid ? b->sup.started_ns / 1000000ull : 0);
	ctl_rec_u64(o, "restarts", b->sup.restarts);
	ctl_rec_u64(o, "connections",
		    live(st) ? __atomic_load_n(&b->cnt.conns_active, __ATOMIC_RELAXED) : 0);
	ctl_rec_u64(o, "epoch", live(st) ? __atomic_load_n(&b->run.epoch, __ATOMIC_RELAXED) : 0);
	ctl_rec_u64(o, "max_conns", b->run.max_conns);
	ctl_rec_u64(o, "cfg_gen", __atomic_load_n(&b->run.cfg_gen, __ATOMIC_RELAXED));
	ctl_rec_u64(o, "drain", b->sup.drain);
	/* the poll mode the shard runs (pollmode.c), and whether the kernel
	 * busy-polls its AF_XDP socket while it spins */
	ctl_rec_str(o, "poll",
		    live(st)
			? xts_poll_mode_name(__atomic_load_n(&b->run.poll_mode, __ATOMIC_RELAXED))
			: "-");
	ctl_rec_u64(o, "busy_poll",
		    live(st) && __atomic_load_n(&b->run.busy_poll, __ATOMIC_RELAXED));
	ctl_rec_end(o);
}

static void xtsd_rec(struct sup *sp, struct ctl_buf *o)
{
	ctl_rec_begin(o, "xtsd");
	ctl_rec_i64(o, "pid", getpid());
	ctl_rec_str(o, "version", XTS_VERSION);
	ctl_rec_str(o, "config", sp->file);
	ctl_rec_u64(o, "generation", sp->gen);
	ctl_rec_str(o, "interface", sp->cfg->interface);
	ctl_rec_u64(o, "queues", sp->cfg->queues);
	ctl_rec_u64(o, "reloads", sp->reloads_ok);
	ctl_rec_u64(o, "reloads_failed", sp->reloads_failed);
	ctl_rec_str(o, "last_reload",
		    !sp->last_reload_ms	     ? "none"
		    : sp->last_reload_failed ? "failed"
					     : "ok");
	ctl_rec_u64(o, "last_reload_ms", sp->last_reload_ms);
	ctl_rec_end(o);
}

static int cmd_status(struct sup_cmd_args *a)
{
	xtsd_rec(a->sp, a->out);
	for (unsigned q = 0; q < a->sp->cfg->queues; q++)
		shard_rec(a->sp, q, a->out);
	return 0;
}

static const char *const counter_names[] = {
#define XTS_SHM_NAME(name, kind, src, help) #name,
    XTS_SHM_COUNTERS(XTS_SHM_NAME)
#undef XTS_SHM_NAME
};

/* Per TLS profile and shard: one "tls" record each (xts_shm.h,
 * XTS_SHM_TLS_COUNTERS), after the rest. */
static void tls_recs(struct sup *sp, struct ctl_buf *o)
{
	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		const struct xts_shm_tls_stat *t = xts_shm_shard(sp->shm, q)->tls;

		for (unsigned i = 0; i < XTS_SHM_TLS_MAX; i++) {
			char name[XTS_SHM_TLS_NAME];

			memcpy(name, t[i].name, sizeof(name));
			name[sizeof(name) - 1] = 0;
			if (!name[0])
				break;
			ctl_rec_begin(o, "tls");
			ctl_rec_str(o, "profile", name);
			ctl_rec_u64(o, "shard", q);
#define TLS_REC(f, kind, help) ctl_rec_u64(o, #f, __atomic_load_n(&t[i].f, __ATOMIC_RELAXED));
			XTS_SHM_TLS_COUNTERS(TLS_REC)
#undef TLS_REC
			ctl_rec_end(o);
		}
	}
}

/* A listener slot's address as "ADDR:PORT" ("[ADDR]:PORT" for IPv6). */
static const char *lsn_addr(const struct xts_shm_lsn_stat *t, char *s, size_t len)
{
	struct xts_addr ad;

	memset(&ad, 0, sizeof(ad));
	ad.family = htole16(t->family);
	ad.port = htole16(t->port);
	memcpy(ad.addr, t->addr, sizeof(ad.addr));
	return xts_addr_fmt(&ad, s, len);
}

static void lsn_fields(struct ctl_buf *o, const struct xts_shm_lsn_stat *t)
{
#define LSN_REC(f, kind, help) ctl_rec_u64(o, #f, t->f);
	XTS_SHM_LSN_COUNTERS(LSN_REC)
#undef LSN_REC
}

/* Per listening address and shard (xts_shm.h, XTS_SHM_LSN_COUNTERS): one
 * "listener" record each, of the shards that live (a dead shard's block
 * holds its last publication until its successor's first). */
static void lsn_recs(struct sup *sp, struct ctl_buf *o)
{
	static struct xts_shm_lsn_stat t[XTS_SHM_LSN_MAX]; /* xtsd's one thread */

	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		if (!live(sup_shard_state(sp, q)))
			continue;
		xts_shm_lsn_read(xts_shm_shard(sp->shm, q), t, 100);
		for (unsigned i = 0; i < XTS_SHM_LSN_MAX; i++) {
			char s[XTS_ADDR_STRLEN];

			if (!t[i].family)
				continue;
			ctl_rec_begin(o, "listener");
			ctl_rec_u64(o, "shard", q);
			ctl_rec_str(o, "listener", lsn_addr(&t[i], s, sizeof(s)));
			lsn_fields(o, &t[i]);
			ctl_rec_end(o);
		}
	}
}

void sup_stats_recs(struct sup *sp, struct ctl_buf *o)
{
	uint64_t total[XTS_SHM_NCOUNTERS];

	memset(total, 0, sizeof(total));
	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		struct xts_shm_shard *b = xts_shm_shard(sp->shm, q);
		struct xts_shm_counters cnt;
		const uint64_t *k = (const uint64_t *)&cnt;

		ctl_rec_begin(o, "shard");
		ctl_rec_u64(o, "id", q);
		ctl_rec_str(o, "state", state_name(sup_shard_state(sp, q)));
		/* read first: the counters below are at least that recent */
		ctl_rec_u64(o, "published", __atomic_load_n(&b->run.published, __ATOMIC_ACQUIRE));
		/* one publication of the shard's, whole (its seqlock) */
		xts_shm_counters_read(b, &cnt, 100);
		ctl_rec_u64(o, "restarts", b->sup.restarts);
		ctl_rec_u64(o, "drain", b->sup.drain);
		ctl_rec_u64(o, "cfg_gen", __atomic_load_n(&b->run.cfg_gen, __ATOMIC_RELAXED));
		ctl_rec_u64(o, "started_ms", sp->slot[q].pid ? b->sup.started_ns / 1000000ull : 0);
		for (unsigned i = 0; i < XTS_SHM_NCOUNTERS; i++) {
			ctl_rec_u64(o, counter_names[i], k[i]);
			total[i] += k[i];
		}
		ctl_rec_end(o);
	}
	ctl_rec_begin(o, "total");
	for (unsigned i = 0; i < XTS_SHM_NCOUNTERS; i++)
		ctl_rec_u64(o, counter_names[i], total[i]);
	ctl_rec_end(o);
	/* last, so that records scripts read by position keep theirs */
	xtsd_rec(sp, o);
	tls_recs(sp, o);
	lsn_recs(sp, o);
}

static int cmd_stats(struct sup_cmd_args *a)
{
	sup_stats_recs(a->sp, a->out);
	return 0;
}

static void conn_recs(struct sup *sp, unsigned q, struct ctl_buf *o)
{
	struct xts_shm_conns *sn = xts_shm_conns(sp->shm, q);

	for (uint32_t i = 0; i < sn->n && i < XTS_SHM_CONNS_MAX; i++) {
		const struct xts_shm_conn *c = &sn->c[i];
		char s[XTS_ADDR_STRLEN];
		struct xts_addr ad;

		ctl_rec_begin(o, "conn");
		ctl_rec_u64(o, "shard", q);
		ctl_rec_u64(o, "id", c->id);
		ctl_rec_u64(o, "host_id", c->host_id);
		ctl_rec_str(o, "state", xts_conn_state_name(c->state));
		memcpy(&ad, c->local, sizeof(ad));
		ctl_rec_str(o, "local", xts_addr_fmt(&ad, s, sizeof(s)));
		memcpy(&ad, c->peer, sizeof(ad));
		ctl_rec_str(o, "peer", xts_addr_fmt(&ad, s, sizeof(s)));
		ctl_rec_u64(o, "buf_bytes", c->buf_bytes);
		ctl_rec_u64(o, "tx_credit", c->tx_credit);
		ctl_rec_end(o);
	}
}

static int parse_shards(struct sup_cmd_args *a, unsigned *lo, unsigned *hi);

static bool conns_answered(struct sup *sp, const uint32_t *req, unsigned q)
{
	return __atomic_load_n(&xts_shm_shard(sp->shm, q)->run.conns_ack, __ATOMIC_ACQUIRE) ==
	       req[q];
}

/* conns [SHARD [FROM]]: the shards' snapshots (all, or SHARD's), each a
 * page of at most XTS_SHM_CONNS_MAX connections from slot FROM (default
 * 1) on; a shard record's `next` is where its next page starts (0: none
 * left).  xtsctl pages through with one request a page, so neither xtsd
 * nor the snapshot area ever holds more than a page a shard. */
static int conns_args(struct sup_cmd_args *a, unsigned *lo, unsigned *hi, uint32_t *from)
{
	unsigned long v = 0;
	char *end;
	int rc;

	*from = 1;
	if (a->argc < 2) {
		*lo = 0;
		*hi = a->sp->cfg->queues - 1;
		return 0;
	}
	rc = parse_shards(a, lo, hi);
	if (rc || a->argc < 3)
		return rc;
	v = strtoul(a->argv[2], &end, 10);
	if (end == a->argv[2] || *end || a->argv[2][0] == '-' || v > UINT32_MAX) {
		snprintf(a->err, sizeof(a->err), "conns: bad slot \"%s\"", a->argv[2]);
		return -EINVAL;
	}
	*from = v ? (uint32_t)v : 1;
	return 0;
}

/* Ask the shards for a snapshot at once (their eventfds wake them), then
 * collect when all live ones answered or CONNS_WAIT_MS is over. */
static int cmd_conns(struct sup_cmd_args *a)
{
	struct sup *sp = a->sp;
	unsigned lo, hi;
	uint32_t from;
	bool all = true;
	int rc = conns_args(a, &lo, &hi, &from);

	if (rc)
		return rc;
	if (a->step == 0) {
		for (unsigned q = lo; q <= hi; q++) {
			struct xts_shm_shard *b = xts_shm_shard(sp->shm, q);

			__atomic_store_n(&b->sup.conns_from, from, __ATOMIC_RELAXED);
			a->req[q] = __atomic_add_fetch(&b->sup.conns_req, 1, __ATOMIC_RELEASE);
			sup_notify(sp, q);
		}
		a->step = 1;
		a->wait_until = a->now + CONNS_WAIT_MS;
	}
	for (unsigned q = lo; q <= hi; q++)
		if (live(sup_shard_state(sp, q)) && !conns_answered(sp, a->req, q))
			all = false;
	if (!all && a->now < a->wait_until)
		return SUP_CMD_AGAIN;
	for (unsigned q = lo; q <= hi; q++) {
		struct xts_shm_conns *sn = xts_shm_conns(sp->shm, q);
		uint32_t st = sup_shard_state(sp, q);
		bool ok = live(st) && conns_answered(sp, a->req, q);

		ctl_rec_begin(a->out, "shard");
		ctl_rec_u64(a->out, "id", q);
		ctl_rec_str(a->out, "state", state_name(st));
		ctl_rec_str(a->out, "answered", ok ? "yes" : "no");
		ctl_rec_u64(a->out, "total", ok ? sn->total : 0);
		ctl_rec_u64(a->out, "listed", ok ? sn->n : 0);
		ctl_rec_u64(a->out, "from", from);
		ctl_rec_u64(a->out, "next", ok ? sn->next : 0);
		ctl_rec_end(a->out);
		if (ok)
			conn_recs(sp, q, a->out);
	}
	return 0;
}

/* The counters of entry @e's address in its shard's slots (zeros: none,
 * every slot was in use, or the shard is not running). */
static const struct xts_shm_lsn_stat *lsn_find(struct xts_shm_lsn_stat (*lst)[XTS_SHM_LSN_MAX],
					       unsigned nq, const struct reg_ent *e)
{
	static const struct xts_shm_lsn_stat none;

	for (unsigned i = 0; lst && e->queue < nq && i < XTS_SHM_LSN_MAX; i++) {
		const struct xts_shm_lsn_stat *t = &lst[e->queue][i];

		if (t->family == e->family && t->port == e->port &&
		    !memcmp(t->addr, e->addr, sizeof(t->addr)))
			return t;
	}
	return &none;
}

static int cmd_listeners(struct sup_cmd_args *a)
{
	struct xts_shm_lsn_stat(*lst)[XTS_SHM_LSN_MAX];
	const struct xts_shm_hdr *h = a->sp->shm;
	struct ctl_buf *o = a->out;
	const struct xts_reg *r;
	uint32_t i, n = 0;

	if (!h->reg_size) {
		ctl_rec_begin(o, "total");
		ctl_rec_u64(o, "size", 0);
		ctl_rec_u64(o, "listeners", 0);
		ctl_rec_end(o);
		return 0;
	}
	r = (const struct xts_reg *)((const char *)h + h->reg_off);
	/* each live shard's listener counters, read once (one publication) */
	lst = calloc(a->sp->cfg->queues, sizeof(*lst));
	for (unsigned q = 0; lst && q < a->sp->cfg->queues; q++)
		if (live(sup_shard_state(a->sp, q)))
			xts_shm_lsn_read(xts_shm_shard(a->sp->shm, q), lst[q], 100);
	/* Read without the registry lock: the supervisor must never wait on
	 * a shard (one may die holding it).  reg_read copies an entry under
	 * its seqlock; one that stays busy is skipped. */
	for (i = 0; i < r->nslots; i++) {
		struct reg_ent e;
		struct xts_addr ad;
		char s[XTS_ADDR_STRLEN], fl[40];

		if (reg_read(r, i, &e) || e.state != REG_LISTEN)
			continue;
		memset(&ad, 0, sizeof(ad));
		ad.family = htole16(e.family);
		ad.port = htole16(e.port);
		memcpy(ad.addr, e.addr, sizeof(ad.addr));
		snprintf(fl, sizeof(fl), "%s%s%s%s", e.flags & REG_F_REUSEADDR ? "reuseaddr," : "",
			 e.flags & REG_F_REUSEPORT ? "reuseport," : "",
			 e.flags & REG_F_V6ONLY ? "v6only," : "",
			 /* closed by its host, kept for a sibling (shard/listen.c) */
			 e.flags & REG_F_LINGER ? "linger," : "");
		if (*fl)
			fl[strlen(fl) - 1] = 0;
		ctl_rec_begin(o, "listener");
		ctl_rec_u64(o, "queue", e.queue);
		ctl_rec_str(o, "local", xts_addr_fmt(&ad, s, sizeof(s)));
		ctl_rec_u64(o, "host_id", e.host_id);
		ctl_rec_u64(o, "backlog", e.backlog);
		ctl_rec_str(o, "flags", *fl ? fl : "-");
		lsn_fields(o, lsn_find(lst, a->sp->cfg->queues, &e));
		ctl_rec_end(o);
		n++;
	}
	free(lst);
	ctl_rec_begin(o, "total");
	ctl_rec_u64(o, "size", r->nslots);
	ctl_rec_u64(o, "listeners", n);
	ctl_rec_u64(o, "generation", r->generation);
	ctl_rec_u64(o, "repairs", r->repairs);
	ctl_rec_end(o);
	return 0;
}

static int cmd_reload(struct sup_cmd_args *a)
{
	int rc = sup_reload(a->sp, a->err, sizeof(a->err), a->out);

	if (rc)
		return rc;
	ctl_rec_begin(a->out, "config");
	ctl_rec_str(a->out, "file", a->sp->file);
	ctl_rec_u64(a->out, "generation", a->sp->gen);
	ctl_rec_end(a->out);
	return 0;
}

static int parse_shards(struct sup_cmd_args *a, unsigned *lo, unsigned *hi)
{
	const char *arg = a->argv[1];
	unsigned nq = a->sp->cfg->queues;
	unsigned long v;
	char *end;

	if (!strcmp(arg, "all")) {
		*lo = 0;
		*hi = nq - 1;
		return 0;
	}
	v = strtoul(arg, &end, 10);
	if (end == arg || *end || arg[0] == '-' || v >= nq) {
		snprintf(a->err, sizeof(a->err), "no shard \"%s\": want 0..%u or all", arg, nq - 1);
		return -EINVAL;
	}
	*lo = *hi = (unsigned)v;
	return 0;
}

/* drain / undrain: set the request, wake the shards, and answer once they
 * took it (so status shows it) or DRAIN_WAIT_MS is over. */
static int set_drain(struct sup_cmd_args *a, uint32_t on)
{
	struct sup *sp = a->sp;
	unsigned lo, hi;
	bool all = true;
	int rc = parse_shards(a, &lo, &hi);

	if (rc)
		return rc;
	if (a->step == 0) {
		for (unsigned q = lo; q <= hi; q++) {
			__atomic_store_n(&xts_shm_shard(sp->shm, q)->sup.drain, on,
					 __ATOMIC_RELEASE);
			sup_notify(sp, q);
			sup_info("shard %u: %s requested", q, on ? "drain" : "undrain");
		}
		a->step = 1;
		a->wait_until = a->now + DRAIN_WAIT_MS;
	}
	for (unsigned q = lo; q <= hi; q++) {
		uint32_t st = sup_shard_state(sp, q);

		if ((st == XTS_SHARD_RUNNING && on) || (st == XTS_SHARD_DRAINING && !on))
			all = false;
	}
	if (!all && a->now < a->wait_until)
		return SUP_CMD_AGAIN;
	for (unsigned q = lo; q <= hi; q++)
		shard_rec(sp, q, a->out);
	return 0;
}

static int cmd_drain(struct sup_cmd_args *a)
{
	return set_drain(a, 1);
}

static int cmd_undrain(struct sup_cmd_args *a)
{
	return set_drain(a, 0);
}

static int cmd_stop(struct sup_cmd_args *a)
{
	sup_stop(a->sp, a->now);
	ctl_rec_begin(a->out, "xtsd");
	ctl_rec_i64(a->out, "pid", getpid());
	ctl_rec_str(a->out, "state", "stopping");
	ctl_rec_u64(a->out, "drain_ms", a->sp->cfg->drain_ms);
	ctl_rec_end(a->out);
	return 0;
}

enum sup_cmd_id {
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

static const struct sup_cmd cmds[CTL_NCMDS] = {
    [CTL_STATUS] = {"status", cmd_status, 0},	 [CTL_STATS] = {"stats", cmd_stats, 0},
    [CTL_CONNS] = {"conns", cmd_conns, 0, 2},	 [CTL_LISTENERS] = {"listeners", cmd_listeners, 0},
    [CTL_RELOAD] = {"reload", cmd_reload, 0},	 [CTL_DRAIN] = {"drain", cmd_drain, 1},
    [CTL_UNDRAIN] = {"undrain", cmd_undrain, 1}, [CTL_STOP] = {"stop", cmd_stop, 0},
};

const struct sup_cmd *sup_cmd_find(const char *name)
{
	for (unsigned i = 0; i < CTL_NCMDS; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

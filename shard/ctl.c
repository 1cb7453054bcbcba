// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl.c - a shard's side of the control plane in shared memory
 * (include/xts_shm.h): it publishes its state and counters, picks up a
 * new config generation between loop rounds, drains and undrains on
 * xtsd's request, refuses connects its ACL or limits forbid, and writes a
 * connection-table snapshot when asked.  Nothing here blocks or allocates
 * on the data path: one relaxed load per round finds "nothing to do".
 */
#include <errno.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "shard_int.h"
#include "tls_ctx.h"
#include "ulp.h"

#define PUBLISH_NS (50 * 1000000ull) /* counters to shm: 20 times a second */

/* ctl.c's own state.  Two snapshot buffers: s->cfg points at the one in
 * force, a new generation is read into the other and only a consistent
 * copy is swapped in (a read the writer kept busy leaves the old one). */
struct shard_ctl {
	struct xts_shm_cfg snap[2];
	int rt_fd; /* NETLINK_ROUTE, for "is this address the DPU's own?" */
	__u32 rt_seq;
};

/* Take a new config generation: limits, timeouts, ACLs.  Established
 * connections are never touched: a lower limit refuses new connects only. */
static void cfg_apply(struct shard *s)
{
	struct xts_shm_cfg *c = &s->ctl->snap[s->cfg == &s->ctl->snap[0]];

	if (xts_shm_cfg_read(xts_shm_cfg(s->o.shm), c, 64))
		return; /* the writer is busy: next round */
	s->cfg = c;
	s->cfg_gen = c->gen;
	s->max_conns_now = c->max_conns < s->o.max_conns ? c->max_conns : s->o.max_conns;
	if (s->blk) {
		__atomic_store_n(&s->blk->run.cfg_gen, s->cfg_gen, __ATOMIC_RELEASE);
		s->blk->run.max_conns = s->max_conns_now;
	}
}

static void set_state(struct shard *s, __u32 st)
{
	if (s->blk)
		__atomic_store_n(&s->blk->run.state, st, __ATOMIC_RELEASE);
}

/* A shard run without xtsd (tests: o.shm NULL) applies what its
 * shard_opts say, as a snapshot of its own: no ACL, log level info. */
static void cfg_from_opts(struct shard *s)
{
	struct xts_shm_cfg *c = &s->ctl->snap[0];

	c->log_level = XTS_LOG_INFO;
	c->max_conns = s->o.max_conns;
	c->conn_buf = s->o.conn_buf;
	c->shard_buf = s->o.shard_buf;
	c->listeners = SHARD_LSN_MAX;
	c->connect_ms = s->o.connect_timeout_ms;
	c->idle_ms = s->o.idle_ms;
	c->dead_host_ms = s->o.dead_ms;
	c->linger_ms = XTS_CFG_DEF_LINGER_MS;
	c->handoff_ms = XTS_CFG_DEF_HANDOFF_MS;
	s->cfg = c;
}

int shard_ctl_init(struct shard *s)
{
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};

	s->max_conns_now = s->o.max_conns;
	s->ctl = calloc(1, sizeof(*s->ctl));
	if (!s->ctl)
		return -ENOMEM;
	s->ctl->rt_fd = -1;
	if (!s->o.shm) {
		cfg_from_opts(s);
	} else {
		s->blk = xts_shm_shard(s->o.shm, s->o.queue);
		s->ctl->rt_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
		if (s->ctl->rt_fd < 0)
			shard_log(s, XTS_LOG_WARNING,
				  "netlink: %s: only loopback counts as the DPU's own address "
				  "for the ACL",
				  strerror(errno));
		cfg_apply(s);
		if (!s->cfg)
			return -EAGAIN; /* xtsd kept the snapshot busy: a restart retries */
		s->blk->run.pid = getpid();
		s->blk->run.epoch = 0;
		s->blk->run.conns_ack = __atomic_load_n(&s->blk->sup.conns_req, __ATOMIC_ACQUIRE);
		s->conns_ack = s->blk->run.conns_ack;
		set_state(s, XTS_SHARD_RUNNING);
	}
	/* A shard that (re)starts tells the host at once: QRESET with epoch
	 * 0, to the broadcast MAC (no session yet), means "this queue's shard
	 * restarted" and fails the queue's sockets with ECONNRESET there,
	 * instead of the host finding out by its liveness probe seconds
	 * later. */
	xts_link__send(s->link, XTS_OP_QRESET, 0, 0, 0, 0, &e, sizeof(e));
	xts_link__flush(s->link, false);
	return 0;
}

void shard_ctl_fini(struct shard *s)
{
	set_state(s, XTS_SHARD_STOPPED);
	if (s->ctl && s->ctl->rt_fd >= 0)
		close(s->ctl->rt_fd);
	free(s->ctl);
	s->ctl = NULL;
	s->cfg = NULL;
}

/* Tell the host that this queue drains (err ESHUTDOWN) or no longer does
 * (err 0).  Sequenced: waits for room, never dropped. */
static int drain_notice(struct shard *s)
{
	struct xts_err e = {.err = (__s32)htole32(s->draining ? SHARD_DRAIN_ERRNO : 0)};
	__u32 txs, rxs, pa;

	if (!s->drain_notice || !xts_link__epoch(s->link))
		return 0;
	/* Not before the host has sent a sequenced frame in this session:
	 * until then our HELLO_ACK may still be in its rx batch, and a
	 * sequenced frame read in the same batch would be stale to it. */
	xts_link__seq_state(s->link, &txs, &rxs, &pa);
	if (!rxs)
		return 0;
	if (xts_link__send(s->link, XTS_OP_DRAINING, 0, XTS_ID_NONE, XTS_ID_NONE, 0, &e, sizeof(e)))
		return 0;
	s->drain_notice = false;
	return 1;
}

void shard_ctl_session(struct shard *s)
{
	if (s->blk)
		__atomic_store_n(&s->blk->run.epoch, xts_link__epoch(s->link), __ATOMIC_RELAXED);
	/* a host that attaches to a draining shard learns it at once */
	s->drain_notice = s->draining;
}

static void addr_bytes(int fd, bool peer, __u8 out[24])
{
	struct sockaddr_storage ss;
	struct xts_addr a;
	socklen_t l = sizeof(ss);

	memset(&a, 0, sizeof(a));
	if (fd >= 0 && (peer ? getpeername : getsockname)(fd, (struct sockaddr *)&ss, &l) == 0)
		xts_addr_from_sockaddr(&a, (struct sockaddr *)&ss, l);
	memcpy(out, &a, sizeof(a));
}

/* One page of the connection table: the connections from slot
 * sup.conns_from on, as many as the snapshot area holds, and where the
 * next page starts.  Asked for by an operator, rarely: one pass over the
 * table (bounded by its size) to count them all. */
static void conns_snapshot(struct shard *s)
{
	struct xts_shm_conns *sn = xts_shm_conns(s->o.shm, s->o.queue);
	__u32 from = __atomic_load_n(&s->blk->sup.conns_from, __ATOMIC_ACQUIRE);
	__u32 slot, n = 0, total = 0, next = 0;

	for (slot = 1; slot <= s->o.max_conns; slot++) {
		const struct conn *c = &s->conns[slot];
		struct xts_shm_conn *e;

		if (!c->id || c->state == CS_FREE)
			continue;
		total++;
		if (slot < from || next)
			continue;
		if (n == XTS_SHM_CONNS_MAX) {
			next = slot; /* the page is full: the next one starts here */
			continue;
		}
		e = &sn->c[n++];
		memset(e, 0, sizeof(*e));
		e->id = c->id;
		e->host_id = c->host_id;
		e->state = c->state;
		e->buf_bytes = c->buf_len;
		e->tx_credit = c->tx_credit;
		addr_bytes(c->fd, false, e->local);
		addr_bytes(c->fd, true, e->peer);
	}
	sn->n = n;
	sn->next = next;
	sn->total = total;
}

int shard_ctl_poll(struct shard *s)
{
	int work = 0;
	bool drain;
	__u32 req;

	if (!s->blk)
		return 0;
	if (xts_shm_cfg_gen(xts_shm_cfg(s->o.shm)) != s->cfg_gen) {
		cfg_apply(s);
		/* the generation's TLS contexts now, from the files xtsd just
		 * checked, not at the next handshake (which would pay for it) */
		if (s->tls)
			tls_store_sync(s);
	}
	drain = __atomic_load_n(&s->blk->sup.drain, __ATOMIC_ACQUIRE) != 0;
	if (drain != s->draining) {
		s->draining = drain;
		s->drain_notice = true;
		lsn_drain(s, drain);
		set_state(s, drain ? XTS_SHARD_DRAINING : XTS_SHARD_RUNNING);
		shard_log(s, XTS_LOG_INFO, "%s (%u connections)",
			  drain ? "draining" : "no longer draining", s->nconns);
		work++;
	}
	if (s->drain_notice)
		work += drain_notice(s);
	req = __atomic_load_n(&s->blk->sup.conns_req, __ATOMIC_ACQUIRE);
	if (req != s->conns_ack) {
		conns_snapshot(s);
		s->conns_ack = req;
		__atomic_store_n(&s->blk->run.conns_ack, req, __ATOMIC_RELEASE);
		work++;
	}
	return work;
}

/* The listener slots, whole (a freed one as zeros: its series go), inside
 * the counters' seqlock: xts_shm_lsn_read gets a slot's address and its
 * counters from one publication. */
static void lsn_publish(struct shard *s)
{
	const uint64_t *src = (const uint64_t *)s->lsn_st;
	uint64_t *dst = (uint64_t *)s->blk->lsn;

	_Static_assert(sizeof(s->lsn_st) == sizeof(s->blk->lsn), "one layout");
	for (size_t i = 0; i < sizeof(s->lsn_st) / (sizeof(uint64_t)); i++)
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
}

void shard_ctl_tick(struct shard *s)
{
	struct xts_shm_counters *k;
	struct xts_link_stats ls;
	struct {
		__u32 tx_seq, rx_seq, peer_ack;
	} seq;

	if (!s->blk)
		return;
	__atomic_store_n(&s->blk->run.heartbeat_ns, s->now_ns, __ATOMIC_RELAXED);
	if (s->now_ns < s->next_publish_ns)
		return;
	s->next_publish_ns = s->now_ns + PUBLISH_NS;
	xts_link__stats(s->link, &ls);
	s->st.tls_mem = tls_mem_bytes();
	xts_link__seq_state(s->link, &seq.tx_seq, &seq.rx_seq, &seq.peer_ack);
	k = &s->blk->cnt;
	xts_shm_counters_begin(s->blk);
	/* Single writer, under the counters' seqlock (xts_shm.h): a reader
	 * gets one publication whole.  Every counter of the list, from where
	 * its source column says the shard keeps it. */
#define PUT_SHARD(f)		__atomic_store_n(&k->f, (uint64_t)s->st.f, __ATOMIC_RELAXED);
#define PUT_LINK(f)		__atomic_store_n(&k->f, (uint64_t)ls.f, __ATOMIC_RELAXED);
#define PUT_SEQ(f)		__atomic_store_n(&k->f, (uint64_t)seq.f, __ATOMIC_RELAXED);
#define PUT(f, kind, src, help) PUT_##src(f)
	XTS_SHM_COUNTERS(PUT)
#undef PUT
#undef PUT_SEQ
#undef PUT_LINK
#undef PUT_SHARD
	for (unsigned i = 0; i < XTS_SHM_TLS_MAX && s->tls_st[i].name[0]; i++) {
		struct xts_shm_tls_stat *d = &s->blk->tls[i], *p = &s->tls_st[i];

		if (memcmp(d->name, p->name, sizeof(d->name)))
			memcpy(d->name, p->name, sizeof(d->name)); /* a slot named or renamed */
#define PUT_TLS(f, kind, help) __atomic_store_n(&d->f, p->f, __ATOMIC_RELAXED);
		XTS_SHM_TLS_COUNTERS(PUT_TLS)
#undef PUT_TLS
	}
	lsn_publish(s);
	xts_shm_counters_end(s->blk);
	/* after the counters: a reader that sees it move sees them too */
	__atomic_store_n(&s->blk->run.published, s->blk->run.published + 1, __ATOMIC_RELEASE);
	if (!xts_link__epoch(s->link))
		__atomic_store_n(&s->blk->run.epoch, 0, __ATOMIC_RELAXED);
}

/* Add one attribute to a netlink request of at most @cap bytes. */
static void nl_attr(struct nlmsghdr *nh, size_t cap, unsigned short type, const void *v, size_t len)
{
	struct rtattr *rta = (struct rtattr *)(void *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	if (NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len) > cap)
		return;
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), v, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len);
}

/*
 * Is (family, addr) an address of the DPU itself: one its routing table
 * calls local (its interface addresses, loopback, `ip route add local`)?
 * The kernel's own answer, one RTM_GETROUTE (answered before send()
 * returns), asked only when the ACL's verdict depends on it.  1 yes, 0 no
 * or unknown (no route at all: the connect fails on its own).
 */
static int dst_local(struct shard *s, uint8_t family, const uint8_t addr[16], __u32 scope)
{
	union {
		struct nlmsghdr nh;
		char b[NLMSG_SPACE(sizeof(struct rtmsg)) + RTA_SPACE(16) + RTA_SPACE(4)];
	} req;
	union {
		struct nlmsghdr nh;
		char b[4096];
	} ans;
	size_t alen = family == AF_INET ? 4 : 16;
	struct rtmsg *rt;
	__u32 seq;

	if (!s->ctl || s->ctl->rt_fd < 0 || (family != AF_INET && family != AF_INET6))
		return 0;
	memset(&req, 0, sizeof(req));
	seq = ++s->ctl->rt_seq;
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(*rt));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = seq;
	rt = NLMSG_DATA(&req.nh);
	rt->rtm_family = family;
	rt->rtm_dst_len = (unsigned char)(alen * 8);
	nl_attr(&req.nh, sizeof(req), RTA_DST, addr, alen);
	if (scope)
		nl_attr(&req.nh, sizeof(req), RTA_OIF, &scope, sizeof(scope));
	if (send(s->ctl->rt_fd, &req, req.nh.nlmsg_len, 0) < 0)
		return 0;
	/* stale answers (a seq we gave up on) are skipped, boundedly */
	for (int tries = 0; tries < 4; tries++) {
		ssize_t n = recv(s->ctl->rt_fd, &ans, sizeof(ans), MSG_DONTWAIT);
		struct nlmsghdr *nh = &ans.nh;

		if (n <= 0)
			return 0;
		for (; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_type != RTM_NEWROUTE)
				return 0; /* NLMSG_ERROR: no route */
			rt = NLMSG_DATA(nh);
			return rt->rtm_type == RTN_LOCAL;
		}
	}
	return 0;
}

bool shard_acl_ok(struct shard *s, uint8_t kind, const struct xts_addr *a)
{
	uint8_t family = (uint8_t)le16toh(a->family), addr[16];
	uint16_t port = le16toh(a->port), q = (uint16_t)s->o.queue;

	if (!s->o.shm)
		return true; /* no xtsd, no ACL */
	memcpy(addr, a->addr, sizeof(addr));
	xts_acl_norm(&family, addr, NULL);
	/* Allowed even were it the DPU's own address (or refused anyway):
	 * no need to ask the routing table. */
	if (xts_acl_allows(s->cfg, kind, q, family, addr, port, 1) ||
	    (xts_acl_allows(s->cfg, kind, q, family, addr, port, 0) &&
	     !dst_local(s, family, addr, le32toh(a->scope_id))))
		return true;
	s->st.conns_refused_acl++;
	return false;
}

int shard_admit(struct shard *s, const struct xts_msg *m)
{
	struct xts_connect req;

	if (m->src_id == XTS_ID_NONE)
		return 0; /* a protocol error: conn_on_connect counts it */
	if (s->draining) {
		s->st.conns_refused_drain++;
		return SHARD_DRAIN_ERRNO;
	}
	if (s->nconns >= s->max_conns_now ||
	    (s->cfg->shard_buf && s->st.buf_bytes >= s->cfg->shard_buf)) {
		s->st.conns_refused_limit++;
		return ENOBUFS;
	}
	memset(&req, 0, sizeof(req));
	memcpy(&req, m->payload, m->len < sizeof(req) ? m->len : sizeof(req));
	return shard_acl_ok(s, XTS_ACL_CONNECT, &req.dst) ? 0 : EACCES;
}

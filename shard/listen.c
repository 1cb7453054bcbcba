// SPDX-License-Identifier: BSD-2-Clause
/*
 * listen.c - a shard's listening sockets.
 *
 * LISTEN from the host: a kernel socket with SO_REUSEPORT (always, so the
 * kernel spreads connections across the shards of a reuseport group, and
 * SO_REUSEADDR, so TIME_WAIT never blocks a rebind), bound, checked
 * against the listener registry in shared memory (include/xts_reg.h; the
 * registry, not the kernel, decides conflicts across queues, since every
 * shard's socket sets SO_REUSEPORT), then listen(2) and into the epoll set.
 * LISTEN_RES tells the host the error or the bound address.
 *
 * Accepting: at most `backlog` connections are handed to the host and not
 * yet acknowledged (NEW_CONN_ACK comes when the host application accepts);
 * beyond that the shard stops accepting and the kernel backlog holds the
 * rest.  CLOSE of the listener, the end of the queue session and the
 * shard's exit close the kernel socket, reset the connections handed over
 * but not acknowledged, and remove the registry entry.
 *
 * Listener ids share the id space with connections: slots from the top of
 * the slot range down (the connection table is capped below them).
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <endian.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shard_int.h"
#include "ulp.h"
#include "xts_reg.h"

_Static_assert(XTS_SHM_LSN_MAX < 256, "struct lsn and struct conn keep a slot in a byte");

#define ACCEPT_BURST 64	  /* accepts per listener per loop round */
#define BACKLOG_MAX  4096 /* connections handed over, not yet acknowledged */

/* How often a listener its host closed with XTS_F_SHARED looks for a
 * sibling (another process of the host listening again: nginx's new
 * workers lease a queue and listen 0.1 - 1 s after the old ones close);
 * how long it waits is timeouts.handoff_ms, reloadable. */
#define LINGER_LOOK_MS 10

/* LS_LINGER: the host closed it, its kernel socket and the connections it
 * holds wait for a sibling (no more accepts, no host) */
enum lsn_state { LS_FREE = 0, LS_FAILED, LS_LISTEN, LS_LINGER };

struct lsn {
	struct shard_ev ev; /* epoll data.ptr: the listening socket */
	__u32 id, host_id;
	__u8 state;	 /* enum lsn_state */
	bool res_pend;	 /* LISTEN_RES owed */
	bool acceptable; /* edge-triggered: until accept() says EAGAIN */
	bool registered;
	__u8 lst;    /* its address's counters: slot in s->lsn_st + 1, 0 none */
	__u16 flags; /* XTS_LISTEN_*, to listen again after a drain */
	int fd;
	__s32 err;
	__u32 backlog, pending; /* pending: offered, or still in their TLS handshake */
	struct xts_addr local;
	struct xts_ulp *ulp;  /* pushed on every connection accepted; NULL none */
	__u32 reg_id;	      /* the host id its registry entry carries (linger: ours) */
	__u64 linger_from_ns; /* LS_LINGER since (its deadline: + handoff_ms) */
	/* accepted sockets a sibling's shard handed us, not offered yet */
	int *stash;
	__u32 nstash;
};

struct shard_lsn {
	struct xts_reg *reg; /* NULL: no registry (a shard run without xtsd) */
	struct lsn l[SHARD_LSN_MAX];
	__u16 gen[SHARD_LSN_MAX];
	__u32 n;       /* in use */
	__u32 nlisten; /* of them listening (LS_LISTEN): limits.listeners */
};

static __u32 lsn_slot(__u32 i)
{
	return XTS_ID_SLOT_MASK - i;
}

static struct lsn *lsn_lookup(struct shard *s, __u32 id)
{
	__u32 slot = xts_id_slot(id), i;
	struct lsn *l;

	if (!s->lsn || slot > XTS_ID_SLOT_MASK || XTS_ID_SLOT_MASK - slot >= SHARD_LSN_MAX)
		return NULL;
	i = XTS_ID_SLOT_MASK - slot;
	l = &s->lsn->l[i];
	return l->state != LS_FREE && l->id == id ? l : NULL;
}

int lsn_init(struct shard *s)
{
	struct xts_shm_hdr *h = s->o.shm;
	__u64 repairs;
	int n;

	s->hand_fd = -1;
	s->lsn = calloc(1, sizeof(*s->lsn));
	if (!s->lsn)
		return -ENOMEM;
	if (!h || !h->reg_size)
		return 0;
	s->lsn->reg = (struct xts_reg *)((char *)h + h->reg_off);
	if (reg_check(s->lsn->reg, h->reg_size)) {
		shard_log(s, XTS_LOG_ERROR, "listener registry: bad region");
		s->lsn->reg = NULL;
		return -EINVAL;
	}
	/* A shard that died left its queue's listeners behind: they went
	 * with its kernel sockets and its host session. */
	repairs = __atomic_load_n(&s->lsn->reg->repairs, __ATOMIC_RELAXED);
	n = reg_drop_queue(s->lsn->reg, (__u16)s->o.queue);
	if (__atomic_load_n(&s->lsn->reg->repairs, __ATOMIC_RELAXED) != repairs)
		shard_log(s, XTS_LOG_WARNING, "registry: repaired after a holder died");
	if (n > 0)
		shard_log(s, XTS_LOG_INFO, "registry: removed %d listener(s) of a previous shard",
			  n);
	if ((n = lsn_hand_init(s)))
		shard_log(s, XTS_LOG_WARNING,
			  "listener handoff channel: %s: a closing listener's connections are "
			  "reset, not handed to a sibling",
			  strerror(-n));
	return 0;
}

struct xts_reg *lsn_reg(struct shard *s)
{
	return s->lsn ? s->lsn->reg : NULL;
}

static void rst_close(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Kernel socket (the kernel moves its queue to a sibling's socket, if
 * any: tcp_migrate_req), reset of what was handed over and is still
 * here, registry entry. */
static void lsn_close(struct shard *s, struct lsn *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	free(l->ulp);
	l->ulp = NULL;
	conn_reset_accepted(s, l->id);
	while (l->nstash) {
		rst_close(l->stash[--l->nstash]);
		if (l->lst)
			s->lsn_st[l->lst - 1].drop_host_gone++;
	}
	free(l->stash);
	l->stash = NULL;
	if (l->registered && s->lsn->reg)
		reg_unbind(s->lsn->reg, (__u16)s->o.queue, l->reg_id);
	l->registered = false;
	if (l->lst)
		xts_lsn_slot_put(s->lsn_st, s->lsn_ref, l->lst - 1u);
	l->lst = 0;
	if (l->state == LS_LISTEN)
		s->lsn->nlisten--;
	l->state = LS_FREE;
	l->res_pend = false;
	s->lsn->n--;
}

/* The session's listeners (@linger too: the shard's end) */
static void lsn_close_every(struct shard *s, bool linger)
{
	__u32 i;

	if (!s->lsn)
		return;
	for (i = 0; i < SHARD_LSN_MAX && s->lsn->n; i++)
		if (s->lsn->l[i].state != LS_FREE && (linger || s->lsn->l[i].state != LS_LINGER))
			lsn_close(s, &s->lsn->l[i]);
}

static void lsn_host_close(struct shard *s, struct lsn *l, bool shared);

/* The end of the session: its listeners close as if the host had closed
 * them (what they hold goes to a sibling, if any); a lingering listener
 * is no longer its host's and waits on. */
void lsn_close_all(struct shard *s)
{
	for (__u32 i = 0; s->lsn && i < SHARD_LSN_MAX && s->lsn->n; i++)
		if (s->lsn->l[i].state == LS_LISTEN)
			lsn_host_close(s, &s->lsn->l[i], false);
	lsn_close_every(s, false);
}

void lsn_fini(struct shard *s)
{
	if (!s->lsn)
		return; /* lsn_init never ran */
	lsn_close_every(s, true);
	lsn_hand_fini(s);
	free(s->lsn);
	s->lsn = NULL;
}

static int lsn_register(struct shard *s, struct lsn *l, __u16 flags)
{
	struct xts_reg *r = s->lsn->reg;
	struct reg_req q;
	__u64 repairs;
	int err;

	if (!r)
		return 0;
	memset(&q, 0, sizeof(q));
	q.key.family = le16toh(l->local.family);
	q.key.port = le16toh(l->local.port);
	memcpy(q.key.addr, l->local.addr, sizeof(q.key.addr));
	q.queue = (__u16)s->o.queue;
	q.flags = flags;
	q.host_id = l->host_id;
	q.backlog = l->backlog;
	repairs = __atomic_load_n(&r->repairs, __ATOMIC_RELAXED);
	err = reg_bind(r, &q, NULL);
	if (__atomic_load_n(&r->repairs, __ATOMIC_RELAXED) != repairs)
		shard_log(s, XTS_LOG_WARNING, "registry: repaired after a holder died");
	if (err == -ENOSPC)
		err = -ENOBUFS; /* the listener limit */
	if (!err) {
		l->registered = true;
		l->reg_id = l->host_id;
	}
	return err;
}

/* The listener's epoll handler: connections wait in its accept queue. */
static void lsn_ev(struct shard *s, struct shard_ev *h, __u32 events)
{
	struct lsn *l = (struct lsn *)((char *)h - offsetof(struct lsn, ev));

	(void)s;
	(void)events;
	if (l->state == LS_LISTEN && l->fd >= 0)
		l->acceptable = true;
}

/* The kernel side of a listener: a bound SO_REUSEPORT socket.  With
 * @reg, the registry is consulted between bind (so port 0 is known) and
 * listen; without, the listener is already registered (undrain). */
static int lsn_socket(struct shard *s, struct lsn *l, const struct xts_addr *local, __u16 flags,
		      bool reg)
{
	struct sockaddr_storage ss;
	struct epoll_event ev;
	unsigned sl = sizeof(ss);
	socklen_t al = sizeof(ss);
	int one = 1, v6only = !!(flags & XTS_LISTEN_V6ONLY), err;

	if ((err = xts_addr_to_sockaddr(local, (struct sockaddr *)&ss, &sl)))
		return err;
	l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -errno;
	if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(l->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only))))
		return -errno;
	if (bind(l->fd, (struct sockaddr *)&ss, sl))
		return -errno;
	/* port 0: the kernel picked one; the registry and the host learn it */
	if (getsockname(l->fd, (struct sockaddr *)&ss, &al))
		return -errno;
	xts_addr_from_sockaddr(&l->local, (struct sockaddr *)&ss, al);
	if (reg && (err = lsn_register(s, l, flags)))
		return err;
	if (s->draining) {
		/* Registered (the host has its port and its verdict) but out
		 * of the reuseport group: listen(2) would join it and take
		 * connections a draining shard must leave to the others.
		 * Undrain listens (lsn_drain). */
		close(l->fd);
		l->fd = -1;
		return 0;
	}
	if (listen(l->fd, (int)l->backlog))
		return -errno;
	ev.events = EPOLLIN | EPOLLET;
	ev.data.ptr = &l->ev;
	l->ev.fn = lsn_ev;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, l->fd, &ev))
		return -errno;
	return 0;
}

static int lsn_open(struct shard *s, struct lsn *l, const struct xts_listen *req, __u16 flags)
{
	l->flags = flags;
	return lsn_socket(s, l, &req->local, flags, true);
}

/*
 * Drain: a draining shard leaves its reuseport groups by closing its kernel
 * listening sockets (connections still in their accept queues move to a
 * sibling's socket: xtsd sets net.ipv4.tcp_migrate_req), while the host's
 * listener and the registry entry stay, so that undrain reopens the same
 * (address, port).  Connections already accepted carry on.
 */
void lsn_drain(struct shard *s, bool drain)
{
	__u32 i;

	if (!s->lsn)
		return;
	for (i = 0; i < SHARD_LSN_MAX; i++) {
		struct lsn *l = &s->lsn->l[i];
		struct xts_addr local;
		int err;

		if (l->state != LS_LISTEN || drain == (l->fd < 0))
			continue;
		if (drain) {
			close(l->fd);
			l->fd = -1;
			l->acceptable = false;
			continue;
		}
		local = l->local;
		err = lsn_socket(s, l, &local, l->flags, false);
		if (err) {
			shard_log(s, XTS_LOG_ERROR, "undrain: listen again on port %u: %s",
				  le16toh(local.port), strerror(-err));
			if (l->fd >= 0)
				close(l->fd);
			l->fd = -1;
			continue;
		}
		l->acceptable = true;
	}
}

/* The counters of the listener's address (xts_shm.h, XTS_SHM_LSN_COUNTERS),
 * shared with the queue's other listeners there; none when every slot is
 * in use (counted). */
static void lsn_stat_slot(struct shard *s, struct lsn *l)
{
	int i = xts_lsn_slot_get(s->lsn_st, s->lsn_ref, XTS_SHM_LSN_MAX, le16toh(l->local.family),
				 l->local.addr, le16toh(l->local.port));

	if (i < 0)
		s->st.lsn_stats_full++;
	l->lst = i < 0 ? 0 : (__u8)(i + 1);
}

/* limits.listeners (reloadable; a lower limit refuses new listeners only),
 * within the table this shard has. */
static __u32 lsn_limit(const struct shard *s)
{
	return s->cfg->listeners < SHARD_LSN_MAX ? s->cfg->listeners : SHARD_LSN_MAX;
}

static void lsn_on_listen(struct shard *s, const struct xts_msg *m)
{
	struct xts_listen req;
	struct xts_ulp ulp;
	bool has_ulp;
	struct lsn *l = NULL;
	__u32 i, backlog;
	__u16 flags;
	int err;

	if (m->src_id == XTS_ID_NONE) {
		s->st.proto_errs++;
		return;
	}
	memcpy(&req, m->payload, sizeof(req));
	has_ulp = shard_msg_ulp(m, &ulp);
	for (i = 0; i < SHARD_LSN_MAX; i++) {
		if (s->lsn->l[i].state == LS_FREE) {
			l = &s->lsn->l[i];
			break;
		}
	}
	if (!l) {
		/* no slot to remember the answer in: the host times out */
		s->st.proto_errs++;
		return;
	}
	if (++s->lsn->gen[i] > XTS_ID_GEN_MAX)
		s->lsn->gen[i] = 1;
	memset(l, 0, sizeof(*l));
	l->id = xts_id_make(lsn_slot(i), s->lsn->gen[i]);
	l->host_id = m->src_id;
	l->fd = -1;
	s->lsn->n++;
	backlog = le32toh(req.backlog);
	l->backlog = backlog < 1 ? 1 : backlog > BACKLOG_MAX ? BACKLOG_MAX : backlog;
	flags = (__u16)(le32toh(req.flags) &
			(XTS_LISTEN_REUSEADDR | XTS_LISTEN_REUSEPORT | XTS_LISTEN_V6ONLY));
	/* the queue's listen ACL (xts.conf acl.listen / shards[].listen) */
	if (!shard_acl_ok(s, XTS_ACL_LISTEN, &req.local)) {
		err = -EACCES;
	} else if (has_ulp && (err = -ulp_listen_check(s, &ulp))) {
		/* err set: no such profile, no certificate, framing */
	} else if (has_ulp && !(l->ulp = malloc(sizeof(*l->ulp)))) {
		err = -ENOMEM; /* never a plain listener in place of a TLS one */
	} else if (s->lsn->nlisten >= lsn_limit(s)) {
		s->st.listens_refused_limit++;
		err = -SHARD_LSN_LIMIT_ERRNO;
	} else {
		if (l->ulp)
			*l->ulp = ulp;
		err = lsn_open(s, l, &req, flags);
	}
	l->res_pend = true;
	if (err) {
		free(l->ulp);
		l->ulp = NULL;
		shard_log(s, XTS_LOG_INFO, "listen (host socket %08x, port %u): %s", l->host_id,
			  le16toh(req.local.port), strerror(-err));
		if (l->registered)
			reg_unbind(s->lsn->reg, (__u16)s->o.queue, l->host_id);
		l->registered = false;
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		l->err = -err;
		l->state = LS_FAILED;
		return;
	}
	l->state = LS_LISTEN;
	s->lsn->nlisten++;
	lsn_stat_slot(s, l);
	/* connections may have queued before epoll saw us; none while parked */
	l->acceptable = l->fd >= 0;
}

/* ---- the drain of a listener its host closes (docs/design.md) ---- */

#define SIB_MAX 16

/* @c (offered to the host, not taken) to @sib's shard: true if it went.
 * Its bytes wait unread in its kernel socket, so it moves whole. */
static bool hand_conn(struct shard *s, struct conn *c, const struct reg_sib *sib,
		      const struct xts_addr *local)
{
	/* out of our epoll set first: our close() below would not take it
	 * out while the sibling's shard holds the socket too */
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	if (lsn_hand_send(s, sib, local, c->fd)) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
					 .data.ptr = &c->ev};

		epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev); /* reset with the rest */
		return false;
	}
	s->st.lsn_handed_off++;
	c->pend = 0;
	conn_release(s, c); /* closes our descriptor only: no FIN */
	return true;
}

/* What @l holds for its host goes to its siblings, in turn: the
 * connections offered and not taken (TLS ones, whose handshake state is
 * this shard's, stay and are reset) and those handed to us.  Then
 * lsn_close: its kernel socket's queue moves to a sibling's socket. */
static void lsn_hand_over(struct shard *s, struct lsn *l, const struct reg_sib *sib, int nsib)
{
	__u32 slot, moved = 0, k = 0;

	for (slot = 1; slot <= s->o.max_conns && s->nconns; slot++) {
		struct conn *c = &s->conns[slot];

		if (c->id && c->state == CS_ACCEPTED && c->lsn_id == l->id && !c->ulp &&
		    c->fd >= 0 && hand_conn(s, c, &sib[k++ % (__u32)nsib], &l->local))
			moved++;
	}
	while (l->nstash) {
		int fd = l->stash[l->nstash - 1];

		if (lsn_hand_send(s, &sib[k++ % (__u32)nsib], &l->local, fd))
			break; /* lsn_close resets the rest */
		close(fd);
		l->nstash--;
		moved++;
		s->st.lsn_handed_off++;
	}
	if (moved)
		shard_log(s, XTS_LOG_INFO,
			  "listener on port %u closed: %u connection(s) handed to %d sibling(s)",
			  le16toh(l->local.port), moved, nsib);
}

static struct reg_key lsn_key(const struct lsn *l)
{
	struct reg_key k = {.family = le16toh(l->local.family), .port = le16toh(l->local.port)};

	memcpy(k.addr, l->local.addr, sizeof(k.addr));
	return k;
}

/* Its siblings, and its registry entry gone (or kept, lingering: @linger
 * and none): how many siblings, 0 when the registry cannot say. */
static int lsn_unregister(struct shard *s, struct lsn *l, bool linger, struct reg_sib *sib)
{
	struct reg_key k = lsn_key(l);
	int nsib = 0;

	if (!l->registered || !s->lsn->reg || s->hand_fd < 0 ||
	    reg_close(s->lsn->reg, &k, (__u16)s->o.queue, l->reg_id, linger, l->id, sib, SIB_MAX,
		      &nsib))
		return -1;
	if (nsib || !linger)
		l->registered = false; /* gone */
	else
		l->reg_id = l->id;
	return nsib;
}

/* The host closed @l (CLOSE): to a sibling if there is one; else, when
 * the socket is still open in another process of the host (@shared),
 * kept until a sibling listens (at most timeouts.handoff_ms); else
 * closed, what it holds reset (counted: drop_host_gone). */
static void lsn_host_close(struct shard *s, struct lsn *l, bool shared)
{
	struct reg_sib sib[SIB_MAX];
	/* timeouts.handoff_ms 0: no wait, as if not shared */
	int nsib = lsn_unregister(s, l, shared && s->cfg->handoff_ms, sib);

	if (nsib > 0) {
		lsn_hand_over(s, l, sib, nsib);
	} else if (nsib == 0 && l->registered) { /* lingering */
		l->state = LS_LINGER;
		s->lsn->nlisten--;
		l->acceptable = false;
		l->linger_from_ns = shard_now_ns();
		shard_timer_at(s, ST_LSN, s->now_ns + LINGER_LOOK_MS * 1000000ull);
		shard_log(s, XTS_LOG_INFO,
			  "listener on port %u: closed, shared: waits for a sibling",
			  le16toh(l->local.port));
		return;
	}
	lsn_close(s, l);
}

/* ST_LSN: each lingering listener hands over once a sibling listens, or
 * gives up at its deadline. */
void lsn_timer(struct shard *s)
{
	bool again = false;

	for (__u32 i = 0; s->lsn && i < SHARD_LSN_MAX; i++) {
		struct lsn *l = &s->lsn->l[i];
		struct reg_sib sib[SIB_MAX];
		bool late;
		int nsib;

		if (l->state != LS_LINGER)
			continue;
		/* the deadline as the config says now: a reload moves it */
		late = s->now_ns >= l->linger_from_ns + s->cfg->handoff_ms * 1000000ull;
		nsib = lsn_unregister(s, l, !late, sib);
		if (nsib > 0) {
			shard_log(
			    s, XTS_LOG_INFO,
			    "listener on port %u: a sibling listens after %llu ms: handed over",
			    le16toh(l->local.port),
			    (unsigned long long)(shard_now_ns() - l->linger_from_ns) / 1000000ull);
			lsn_hand_over(s, l, sib, nsib);
			lsn_close(s, l);
		} else if (late || nsib < 0) {
			shard_log(s, XTS_LOG_INFO,
				  "listener on port %u: no sibling listened within %u ms: closed",
				  le16toh(l->local.port), s->cfg->handoff_ms);
			s->st.lsn_linger_reset++;
			lsn_close(s, l);
		} else {
			again = true;
		}
	}
	if (again)
		shard_timer_at(s, ST_LSN, s->now_ns + LINGER_LOOK_MS * 1000000ull);
}

int lsn_adopt(struct shard *s, __u32 host_id, const struct xts_addr *key, int fd)
{
	struct lsn *l = NULL;

	for (__u32 i = 0; s->lsn && i < SHARD_LSN_MAX; i++) {
		struct lsn *x = &s->lsn->l[i];

		if ((x->state == LS_LISTEN || x->state == LS_LINGER) && x->host_id == host_id &&
		    x->local.family == key->family && x->local.port == key->port &&
		    !memcmp(x->local.addr, key->addr, sizeof(key->addr)) &&
		    (!l || x->state == LS_LISTEN))
			l = x;
	}
	if (!l)
		return -ENOENT; /* closed meanwhile, with nowhere to go */
	if (!l->stash && !(l->stash = malloc(BACKLOG_MAX * sizeof(*l->stash))))
		return -ENOMEM;
	if (l->nstash == BACKLOG_MAX)
		return -ENOBUFS;
	l->stash[l->nstash++] = fd;
	s->st.lsn_handed_in++;
	return 0;
}

/* Offer an accepted (or handed-in) fd to the host as a new connection of
 * l, counted; on failure it is not ours and not counted as pending: the
 * caller closes it (a reset for one a client already waited on). */
static int lsn_offer(struct shard *s, struct lsn *l, int fd)
{
	l->pending++; /* a handshake that fails at once gives it back */
	if (l->lst)
		s->lsn_st[l->lst - 1].accepted++;
	if (!conn_on_accept(s, fd, l->id, l->host_id, l->ulp, l->lst))
		return 0;
	l->pending--;
	if (l->lst)
		s->lsn_st[l->lst - 1].drop_limit++;
	return -1;
}

/* Offer what siblings handed us, oldest first, within the backlog. */
static int lsn_unstash(struct shard *s, struct lsn *l)
{
	int work = 0;

	while (l->nstash && l->pending < l->backlog && s->nfree) {
		int fd = l->stash[0];

		memmove(l->stash, l->stash + 1, --l->nstash * sizeof(*l->stash));
		if (lsn_offer(s, l, fd))
			rst_close(fd);
		work++;
	}
	return work;
}

void lsn_unpend(struct shard *s, __u32 lsn_id)
{
	struct lsn *l = lsn_lookup(s, lsn_id);

	if (l && l->pending)
		l->pending--;
}

/* NEW_CONN_ACK: the host took (or refused) a connection we handed over. */
static void lsn_on_ack(struct shard *s, const struct xts_msg *m)
{
	struct conn *c = conn_lookup(s, m->dst_id);
	struct lsn *l;
	struct xts_err e;

	if (!c || c->state != CS_ACCEPTED) {
		s->st.stale_ids++;
		return;
	}
	l = lsn_lookup(s, c->lsn_id);
	if (l && l->pending)
		l->pending--;
	memcpy(&e, m->payload, sizeof(e));
	conn_accept_ack(s, c, m, (int)(__s32)le32toh((__u32)e.err));
}

int lsn_dispatch(struct shard *s, const struct xts_msg *m)
{
	struct lsn *l;

	switch (m->op) {
	case XTS_OP_LISTEN:
		lsn_on_listen(s, m);
		return 1;
	case XTS_OP_NEW_CONN_ACK:
		lsn_on_ack(s, m);
		return 1;
	default:
		break;
	}
	l = lsn_lookup(s, m->dst_id);
	if (!l)
		return 0;
	if (l->host_id != m->src_id && m->src_id != XTS_ID_NONE) {
		s->st.stale_ids++;
		return 1;
	}
	if (l->state == LS_LINGER) {
		s->st.stale_ids++; /* its host closed it already */
		return 1;
	}
	if (m->op == XTS_OP_CLOSE || m->op == XTS_OP_RESET) {
		__u32 host_id = l->host_id;

		lsn_host_close(s, l, m->op == XTS_OP_CLOSE && (m->flags & XTS_F_SHARED));
		/* The host waits for this (bounded) so that close() frees the
		 * port as on Linux; best effort: a full window costs it the
		 * wait, nothing else. */
		if (m->op == XTS_OP_CLOSE) {
			struct xts_err e = {0};

			xts_link__send(s->link, XTS_OP_CLOSED, 0, host_id, XTS_ID_NONE, 0, &e,
				       sizeof(e));
		}
	} else
		s->st.proto_errs++;
	return 1;
}

static int send_listen_res(struct shard *s, struct lsn *l)
{
	struct xts_conn_res r;

	memset(&r, 0, sizeof(r));
	r.err = (__s32)htole32((__u32)l->err);
	if (!l->err) /* a listener has no peer: the codec wants a real
		      * address in both, so peer repeats local */
		r.local = r.peer = l->local;
	return xts_link__send(s->link, XTS_OP_LISTEN_RES, 0, l->host_id,
			      l->err ? XTS_ID_NONE : l->id, 0, &r, sizeof(r));
}

static int lsn_accept(struct shard *s, struct lsn *l)
{
	int work = 0;

	while (l->fd >= 0 && l->acceptable && l->pending < l->backlog && work < ACCEPT_BURST) {
		int fd;

		if (!s->nfree)
			break; /* table full: the kernel backlog holds them */
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				l->acceptable = false;
			else if (errno != ECONNABORTED && errno != EINTR)
				break; /* EMFILE and the like: try again next round */
			continue;
		}
		if (lsn_offer(s, l, fd)) {
			close(fd);
			break;
		}
		work++;
	}
	return work;
}

int lsn_poll(struct shard *s)
{
	__u32 i, seen = 0;
	int work = 0;

	if (!s->lsn)
		return 0;
	for (i = 0; i < SHARD_LSN_MAX && seen < s->lsn->n; i++) {
		struct lsn *l = &s->lsn->l[i];

		if (l->state == LS_FREE)
			continue;
		seen++;
		if (l->res_pend) {
			if (send_listen_res(s, l))
				continue; /* queue full: next round */
			l->res_pend = false;
			work++;
			if (l->state == LS_FAILED) {
				l->state = LS_FREE;
				s->lsn->n--;
				continue;
			}
		}
		if (l->state == LS_LISTEN)
			work += lsn_unstash(s, l) + lsn_accept(s, l);
	}
	return work;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * link_mem.c - the in-memory transport of a queue link: two links joined
 * by two bounded rings, for tests that drive the shard, libxport or the
 * link itself without namespaces.  The session logic is link.c's, the same
 * code the AF_XDP transport runs under.
 *
 * It behaves as copy-mode AF_XDP does on a veth: a frame leaves at the
 * doorbell (kick), is copied into a frame the receiver posted for rx (its
 * "fill" stack) RX_HEADROOM + XTS_LINK_PAD bytes in, and waits on the receiver's bounded
 * rx ring; a full rx ring or an empty fill stack drops it and counts it
 * where the kernel would (xsk_rx_ring_full, xsk_fill_empty).  Each end's fd
 * is an eventfd, readable while frames wait on its rx ring.
 *
 * Threads: each link has one owner thread, as on AF_XDP, but the two ends
 * of a pair may be owned by two threads: everything one end's kick touches
 * on the other (its rx ring, fill stack, eventfd, rx counters) and the
 * pair itself is under the pair's mutex.
 *
 * Test hooks (xts_link__mem_*): frames an end sends can be held "on the
 * wire", where a test looks at them, changes, drops, reorders and then
 * releases them.  They exist only here; the AF_XDP data path has none.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "link_int.h"

struct mem_frame {
	void *data;
	__u32 len;
};

struct mem_end {
	struct mem_pair *pair;
	struct xts_link *l;
	int side;
	bool efd_on; /* the eventfd reads ready: rx_n > 0 */

	/* rx side: bounded ring of arrived frames, and free rx frames */
	struct link_desc *rx;
	__u32 rx_head, rx_n, peeked;
	__u64 *fill;
	__u32 fill_n;
	__u64 rx_dropped, rx_ring_full, fill_empty; /* as XDP_STATISTICS */

	/* tx side: queued until the kick (owner thread only) */
	struct link_desc *tx;
	__u32 tx_n;
	__u64 tx_dropped; /* no peer any more, or the held wire full */

	/* frames this end sent, held on the wire by a test */
	struct mem_frame *wire;
	__u32 wire_n;
	bool hold;
};

struct mem_pair {
	pthread_mutex_t mu;
	struct mem_end *end[2]; /* NULL once destroyed */
};

static struct mem_end *be(const struct xts_link *l)
{
	return l->be;
}

static struct mem_end *peer_of(const struct mem_end *e)
{
	return e->pair->end[!e->side];
}

static void efd_update(struct mem_end *e)
{
	__u64 v = 1;

	/* Level-triggered like an rx ring: one write when frames start to
	 * wait, one read when the last is taken. */
	if (e->rx_n && !e->efd_on)
		e->efd_on = write(e->l->fd, &v, sizeof(v)) == sizeof(v);
	else if (!e->rx_n && e->efd_on)
		e->efd_on = read(e->l->fd, &v, sizeof(v)) != sizeof(v);
}

/* Copy one frame onto @e's rx ring, as the kernel does in copy mode: a
 * frame larger than a chunk across as many fill frames as it takes, every
 * descriptor but the last marked "more" (XDP_PKT_CONTD), or dropped when
 * @e is no multi-buffer link (a socket bound without XDP_USE_SG).  Under
 * the pair's mutex.  false: dropped (and counted). */
static bool deliver(struct mem_end *e, const void *data, __u32 len)
{
	struct xts_link *l = e->l;
	__u32 room = l->frame_size - RX_HEADROOM - XTS_LINK_PAD;
	__u32 n = len ? (len + room - 1) / room : 1, i, k;

	if ((n > 1 && !l->mbuf) || len > l->own_max_frame) {
		e->rx_dropped++;
		return false;
	}
	if (l->ring_size - e->rx_n < n) {
		e->rx_ring_full++;
		return false;
	}
	if (e->fill_n < n) {
		e->fill_empty++;
		return false;
	}
	for (i = 0, k = 0; i < n; i++) {
		__u64 addr = e->fill[--e->fill_n] + RX_HEADROOM + XTS_LINK_PAD;
		__u32 c = len - k < room ? len - k : room;

		memcpy(link_data(l, addr), (const __u8 *)data + k, c);
		e->rx[(e->rx_head + e->rx_n++) % l->ring_size] =
		    (struct link_desc){addr, c, i + 1 < n};
		k += c;
	}
	efd_update(e);
	return true;
}

/* A frame @e sent reaches the wire: held, delivered or lost. */
static void wire_put(struct mem_end *e, const void *data, __u32 len)
{
	struct mem_end *p = peer_of(e);

	if (e->hold) {
		struct mem_frame *f = &e->wire[e->wire_n];

		if (e->wire_n == e->l->ring_size || !(f->data = malloc(len))) {
			e->tx_dropped++;
			return;
		}
		memcpy(f->data, data, len);
		f->len = len;
		e->wire_n++;
		return;
	}
	if (!p)
		e->tx_dropped++;
	else
		deliver(p, data, len);
}

static __u32 mem_rx_peek(struct xts_link *l, struct link_desc *d, __u32 max)
{
	struct mem_end *e = be(l);
	__u32 n, i;

	pthread_mutex_lock(&e->pair->mu);
	n = e->rx_n < max ? e->rx_n : max;
	for (i = 0; i < n; i++)
		d[i] = e->rx[(e->rx_head + i) % l->ring_size];
	e->peeked = n;
	pthread_mutex_unlock(&e->pair->mu);
	return n;
}

static void mem_rx_unpeek(struct xts_link *l, __u32 n)
{
	be(l)->peeked -= n;
}

static void mem_rx_release(struct xts_link *l, __u32 n)
{
	struct mem_end *e = be(l);
	__u32 i;

	pthread_mutex_lock(&e->pair->mu);
	for (i = 0; i < n; i++)
		if (l->held[i] != LINK_KEPT)
			e->fill[e->fill_n++] = l->held[i];
	e->rx_head = (e->rx_head + n) % l->ring_size;
	e->rx_n -= n;
	e->peeked = 0;
	efd_update(e);
	pthread_mutex_unlock(&e->pair->mu);
}

static void mem_fill_put(struct xts_link *l, __u64 addr)
{
	struct mem_end *e = be(l);

	pthread_mutex_lock(&e->pair->mu);
	e->fill[e->fill_n++] = addr;
	pthread_mutex_unlock(&e->pair->mu);
}

static bool mem_rx_ready(struct xts_link *l)
{
	struct mem_end *e = be(l);
	bool ready;

	pthread_mutex_lock(&e->pair->mu);
	ready = e->rx_n > e->peeked;
	pthread_mutex_unlock(&e->pair->mu);
	return ready;
}

static void mem_tx_put(struct xts_link *l, __u64 addr, __u32 len)
{
	struct mem_end *e = be(l);

	e->tx[e->tx_n++] = (struct link_desc){addr, len, false};
}

static int mem_kick(struct xts_link *l)
{
	struct mem_end *e = be(l);
	__u32 i;

	l->st.kicks++;
	pthread_mutex_lock(&e->pair->mu);
	for (i = 0; i < e->tx_n; i++)
		wire_put(e, link_data(l, e->tx[i].addr), e->tx[i].len);
	pthread_mutex_unlock(&e->pair->mu);
	/* Copied out, as copy mode does at sendto(): the frames are free. */
	for (i = 0; i < e->tx_n; i++)
		link_pool_put(l, e->tx[i].addr);
	e->tx_n = 0;
	l->unkicked = 0;
	return 0;
}

static void mem_reap(struct xts_link *l)
{
	(void)l; /* the kick gave the frames back already */
}

static void mem_stats(struct xts_link *l, struct xts_link_stats *st)
{
	struct mem_end *e = be(l);

	pthread_mutex_lock(&e->pair->mu);
	st->xsk_rx_dropped = e->rx_dropped;
	st->xsk_rx_ring_full = e->rx_ring_full;
	st->xsk_fill_empty = e->fill_empty;
	st->tx_dropped = e->tx_dropped;
	pthread_mutex_unlock(&e->pair->mu);
}

static void wire_free(struct mem_end *e)
{
	while (e->wire_n)
		free(e->wire[--e->wire_n].data);
}

static void end_free(struct mem_end *e)
{
	wire_free(e);
	free(e->wire);
	free(e->tx);
	free(e->fill);
	free(e->rx);
	free(e);
}

static void mem_destroy(struct xts_link *l)
{
	struct mem_end *e = be(l);
	struct mem_pair *p = e->pair;
	bool last;

	pthread_mutex_lock(&p->mu);
	p->end[e->side] = NULL;
	last = !p->end[!e->side];
	pthread_mutex_unlock(&p->mu);
	if (l->fd >= 0)
		close(l->fd);
	end_free(e);
	if (last) {
		pthread_mutex_destroy(&p->mu);
		free(p);
	}
}

static const struct link_ops mem_ops = {
    .rx_peek = mem_rx_peek,
    .rx_unpeek = mem_rx_unpeek,
    .rx_release = mem_rx_release,
    .fill_put = mem_fill_put,
    .rx_ready = mem_rx_ready,
    .tx_put = mem_tx_put,
    .kick = mem_kick,
    .reap = mem_reap,
    .stats = mem_stats,
    .destroy = mem_destroy,
};

static int end_create(struct xts_link **out, struct mem_pair *p, int side,
		      const struct xts_link_opts *o)
{
	static unsigned pairs; /* distinct MACs across pairs, too */
	unsigned id = __atomic_fetch_add(&pairs, 1, __ATOMIC_RELAXED);
	struct xts_link *l;
	struct mem_end *e;
	__u32 i;
	int err;

	err = link_alloc(&l, o, 0, o->mtu);
	if (err)
		return err;
	/* a wire past one chunk: multi-buffer frames, as over AF_XDP */
	if (o->mtu && (err = link_mbuf_on(l)) && err != -EMSGSIZE) {
		link_free(l);
		return err;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		link_free(l);
		return -ENOMEM;
	}
	l->be = e;
	e->pair = p;
	e->l = l;
	e->side = side;
	e->rx = calloc(l->ring_size, sizeof(*e->rx));
	e->fill = calloc(l->fill_frames, sizeof(*e->fill));
	e->tx = calloc(l->pool_cap, sizeof(*e->tx));
	e->wire = calloc(l->ring_size, sizeof(*e->wire));
	l->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!e->rx || !e->fill || !e->tx || !e->wire || l->fd < 0) {
		err = l->fd < 0 ? -errno : -ENOMEM;
		if (l->fd >= 0)
			close(l->fd);
		end_free(e);
		link_free(l);
		return err;
	}
	for (i = 0; i < l->fill_frames; i++)
		e->fill[e->fill_n++] = (__u64)(l->fill_frames - 1 - i) * l->frame_size;
	/* locally administered: 02:58:54 ("XT"), pair, side */
	memcpy(l->mac, (__u8[XTS_MAC_LEN]){0x02, 0x58, 0x54, (__u8)(id >> 8), (__u8)id, (__u8)side},
	       XTS_MAC_LEN);
	l->ops = &mem_ops;
	p->end[side] = e;
	*out = l;
	return 0;
}

int xts_link__create_pair(struct xts_link **a, struct xts_link **b,
			  const struct xts_link_opts *opts)
{
	struct xts_link_opts o;
	struct mem_pair *p;
	int err;

	if (!a || !b)
		return -EINVAL;
	err = link_opts(&o, opts);
	if (err)
		return err;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	err = end_create(a, p, 0, &o);
	if (err) {
		pthread_mutex_destroy(&p->mu);
		free(p);
		return err;
	}
	err = end_create(b, p, 1, &o);
	if (err) {
		xts_link__destroy(*a); /* the last end: frees the pair */
		*a = NULL;
		return err;
	}
	return 0;
}

/* ---- test hooks ---- */

static struct mem_end *mem_end(struct xts_link *l)
{
	return l && l->ops == &mem_ops ? l->be : NULL;
}

int xts_link__mem_hold(struct xts_link *l, bool hold)
{
	struct mem_end *e = mem_end(l);

	if (!e)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&e->pair->mu);
	e->hold = hold;
	pthread_mutex_unlock(&e->pair->mu);
	return 0;
}

int xts_link__mem_held(struct xts_link *l)
{
	struct mem_end *e = mem_end(l);

	return e ? (int)e->wire_n : -EOPNOTSUPP;
}

int xts_link__mem_frame(struct xts_link *l, unsigned i, void **data, size_t *len)
{
	struct mem_end *e = mem_end(l);

	if (!e)
		return -EOPNOTSUPP;
	if (i >= e->wire_n)
		return -ENOENT;
	*data = e->wire[i].data;
	*len = e->wire[i].len;
	return 0;
}

int xts_link__mem_drop(struct xts_link *l, unsigned i)
{
	struct mem_end *e = mem_end(l);

	if (!e)
		return -EOPNOTSUPP;
	if (i >= e->wire_n)
		return -ENOENT;
	free(e->wire[i].data);
	memmove(&e->wire[i], &e->wire[i + 1], (e->wire_n - i - 1) * sizeof(*e->wire));
	e->wire_n--;
	return 0;
}

int xts_link__mem_swap(struct xts_link *l, unsigned i, unsigned j)
{
	struct mem_end *e = mem_end(l);
	struct mem_frame t;

	if (!e)
		return -EOPNOTSUPP;
	if (i >= e->wire_n || j >= e->wire_n)
		return -ENOENT;
	t = e->wire[i];
	e->wire[i] = e->wire[j];
	e->wire[j] = t;
	return 0;
}

int xts_link__mem_release(struct xts_link *l, unsigned n)
{
	struct mem_end *e = mem_end(l);
	struct mem_end *p;
	unsigned i, got = 0;

	if (!e)
		return -EOPNOTSUPP;
	if (n > e->wire_n)
		n = e->wire_n;
	pthread_mutex_lock(&e->pair->mu);
	p = peer_of(e);
	for (i = 0; i < n; i++) {
		if (p && deliver(p, e->wire[i].data, e->wire[i].len))
			got++;
		else if (!p)
			e->tx_dropped++;
		free(e->wire[i].data);
	}
	memmove(e->wire, e->wire + n, (e->wire_n - n) * sizeof(*e->wire));
	e->wire_n -= n;
	pthread_mutex_unlock(&e->pair->mu);
	return (int)got;
}

int xts_link__mem_inject(struct xts_link *l, const void *frame, size_t len)
{
	struct mem_end *e = mem_end(l);
	bool ok;

	if (!e)
		return -EOPNOTSUPP;
	if (len > l->frame_size)
		return -EMSGSIZE;
	pthread_mutex_lock(&e->pair->mu);
	ok = deliver(e, frame, (__u32)len);
	pthread_mutex_unlock(&e->pair->mu);
	return ok ? 0 : -ENOBUFS;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * link_rx.c - the receive half of a queue session (link.c has the rest):
 * judging each frame (foreign, stale, forged, a sequence gap), bundles
 * taken apart, frames that span chunks put together, and the rx frames a
 * caller keeps (zero-copy receive) until it gives them back.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "link_int.h"

/* serial-number comparison: a after b */
static inline bool seq_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

static bool session_op(__u16 op)
{
	return op == XTS_OP_HELLO || op == XTS_OP_HELLO_ACK || op == XTS_OP_QRESET;
}

/*
 * In a session, every frame but HELLO/HELLO_ACK must come from the peer's
 * MAC: one from anywhere else cannot be the peer's, whatever it says, so
 * it is not acted on, not even with a QRESET (which would let any sender
 * on the wire end the session).  Spoofing the MAC is easy on a shared
 * wire; the epoch and the random sequence numbers are what a forger cannot
 * guess (docs/protocol.md, "Forged frames").
 */
static bool foreign(struct xts_link *l, const struct xts_msg *m)
{
	if (!l->epoch || m->op == XTS_OP_HELLO || m->op == XTS_OP_HELLO_ACK ||
	    !memcmp(m->src_mac, l->peer_mac, XTS_MAC_LEN))
		return false;
	l->st.rx_foreign++;
	return true;
}

static void seq_gap(struct xts_link *l)
{
	l->st.seq_gaps++;
	l->broken = true;
}

/*
 * A frame that does not parse, but whose header names it the next
 * sequenced frame of our session: the peer counted it and will never send
 * it again, so the session's sequence is broken now, not at the peer's
 * next frame (which may not come while it waits for an answer to this
 * one).  The session ends with a QRESET and every socket learns at once.
 */
static bool malformed_in_sequence(const struct xts_link *l, const __u8 *data, __u32 len)
{
	struct xts_hdr h;

	if (!l->epoch || len < XTS_PAYLOAD_OFF)
		return false;
	memcpy(&h, data + XTS_HDR_OFF, sizeof(h));
	return h.version == XTS_PROTO_VERSION && le32toh(h.epoch) == l->epoch &&
	       !(le16toh(h.flags) & XTS_F_NOSEQ) && le32toh(h.seq) == l->rx_seq &&
	       !memcmp(data + XTS_MAC_LEN, l->peer_mac, XTS_MAC_LEN);
}

/* What rx does with one parsed frame of no session op. */
enum rx_verdict { RX_DROP, RX_ABSORB, RX_DELIVER };

static enum rx_verdict rx_judge(struct xts_link *l, const struct xts_msg *m, __u32 len)
{
	if (!l->epoch || m->epoch != l->epoch) {
		/* A frame of another session: the peer must learn that
		 * session is gone.  One QRESET per batch. */
		l->st.rx_stale++;
		if (!(m->flags & XTS_F_NOSEQ) && m->epoch) {
			l->qreset_due = true;
			l->qreset_epoch = m->epoch;
			memcpy(l->qreset_mac, m->src_mac, XTS_MAC_LEN);
		}
		return RX_DROP;
	}
	if (!(m->flags & XTS_F_NOSEQ)) {
		if (l->broken)
			return RX_DROP;
		if (m->seq != l->rx_seq) {
			/* The peer never has more than our window unacked, so
			 * its seq is below rx_seq + window: one further on (or
			 * behind) was never the peer's.  Dropped, so a blind
			 * forger has to hit the window, not just any seq. */
			if (m->seq - l->rx_seq >= l->window) {
				l->st.rx_forged++;
				return RX_DROP;
			}
			/* Lost or reordered: the queue is not what the design
			 * needs.  Say so; do not guess. */
			seq_gap(l);
			return RX_DROP;
		}
		l->rx_seq++;
	}
	if (seq_after(m->ack, l->peer_ack) && !seq_after(m->ack, l->tx_seq))
		l->peer_ack = m->ack;
	l->st.rx_frames++;
	l->st.rx_bytes += len;
	return m->op == XTS_OP_ACK ? RX_ABSORB : RX_DELIVER;
}

/*
 * The bytes of the frame of descriptors @d[0..n) (each but the last with
 * more set): in place when it is one, copied together into a reassembly
 * slot when it spans chunks (the chunks go back to the fill side with the
 * batch).  NULL: a descriptor outside UMEM, or more bytes than any frame
 * we take.
 */
static void *rx_frame(struct xts_link *l, const struct link_desc *d, __u32 n, __u32 *len)
{
	__u32 i, tot = 0;
	__u8 *buf;

	for (i = 0; i < n; i++) {
		if (d[i].addr >= l->area_size || d[i].len > l->area_size - d[i].addr)
			return NULL;
		tot += d[i].len; /* n <= RX_BATCH_MAX descriptors of a chunk each */
	}
	*len = tot;
	if (n == 1)
		return link_data(l, d[0].addr);
	if (!l->rsm || tot > l->rsm_size)
		return NULL;
	buf = l->rsm + (size_t)l->rsm_used++ * l->rsm_size;
	for (i = 0, tot = 0; i < n; tot += d[i].len, i++)
		memcpy(buf + tot, link_data(l, d[i].addr), d[i].len);
	l->st.rx_mbuf++;
	return buf;
}

/* The messages of a frame: @bm[0] parsed, the bundle behind it (if any)
 * into @bm[1..).  How many in all, or -EBADMSG: a malformed message
 * anywhere makes the whole frame malformed. */
static int rx_bundle(const void *data, __u32 len, struct xts_msg *bm)
{
	int n = 1;

	while (bm[n - 1].flags & XTS_F_BUNDLE) {
		if (n == XTS_BUNDLE_MAX || xts_proto_parse_next(data, len, &bm[n - 1], &bm[n]))
			return -EBADMSG;
		n++;
	}
	return n;
}

/* What the batch does after a frame. */
enum rx_next {
	RX_NEXT,  /* taken: on to the next frame */
	RX_LAST,  /* taken, a session op: the batch ends after it */
	RX_AGAIN, /* not taken (no room, or a bundle delivered in part):
		   * the batch ends before it, the next call starts with it */
};

/*
 * One frame, its descriptors taken (@addr its first's): judged, and its
 * messages delivered into @m[0..room) or not.  A bundle goes whole or,
 * with @first (nothing delivered before it in this call) and more
 * messages than @room, in parts over several calls.  Returns messages
 * delivered.
 */
static int rx_one(struct xts_link *l, struct xts_msg *m, unsigned room, bool first, void *data,
		  __u32 len, __u64 addr, enum rx_next *next)
{
	struct xts_msg bm[XTS_BUNDLE_MAX];
	__u32 skip = 0;
	int n = 0, give;

	*next = RX_NEXT;
	if (!data || xts_proto_parse(data, len, &bm[0]) || (n = rx_bundle(data, len, bm)) < 0) {
		l->st.rx_malformed++;
		if (data && !l->broken && malformed_in_sequence(l, data, len))
			seq_gap(l);
		return 0;
	}
	if (l->part_skip && l->part_addr == addr) { /* the rest of a bundle, judged */
		skip = l->part_skip;
		l->part_skip = 0;
		if (l->part_epoch != l->epoch || skip >= (__u32)n)
			return 0; /* a session began since: not this one's */
	} else {
		if (foreign(l, &bm[0]))
			return 0;
		if (session_op(bm[0].op)) {
			l->st.rx_frames++;
			l->st.rx_bytes += len;
			m[0] = bm[0];
			*next = RX_LAST;
			return 1;
		}
		if ((unsigned)n > room && !first) {
			*next = RX_AGAIN;
			return 0;
		}
		if (rx_judge(l, &bm[0], len) != RX_DELIVER)
			return 0;
		l->st.rx_bundled += (__u64)n - 1;
	}
	give = n - (int)skip;
	if ((unsigned)give > room) {
		give = (int)room;
		l->part_addr = addr;
		l->part_skip = skip + (__u32)give;
		l->part_epoch = l->epoch;
		*next = RX_AGAIN;
	}
	memcpy(m, &bm[skip], (size_t)give * sizeof(*m));
	return give;
}

int xts_link__rx(struct xts_link *l, struct xts_msg *msgs, unsigned max)
{
	struct link_desc d[RX_BATCH_MAX];
	__u32 n, i, j, k, want, len = 0;
	enum rx_next next;
	unsigned out = 0;
	void *data;

	if (l->held_n)
		xts_link__rx_done(l);
	if (!max)
		return 0;
	if (max > RX_BATCH_MAX)
		max = RX_BATCH_MAX;
	/* A frame may take several descriptors: peek for a whole batch. */
	want = l->mbuf ? RX_BATCH_MAX : max;
	n = l->ops->rx_peek(l, d, want);
	if (!n)
		return 0; /* the common poll that finds nothing: nothing held */
	l->keep_next = 0;
	l->rsm_used = 0;
	for (i = 0; i < n && out < max; i = j + 1) {
		for (j = i; j < n && d[j].more; j++)
			;
		if (j == n && !(i == 0 && n == want))
			break; /* its last descriptor comes with the next peek */
		if (j == n)
			j = n - 1; /* longer than a batch: no frame of ours */
		if (j > i && l->rsm_used == LINK_RSM_MAX)
			break;
		for (k = i; k <= j; k++)
			l->held[k] = d[k].addr - d[k].addr % l->frame_size;
		if (d[j].more) {
			l->st.rx_malformed++;
			continue;
		}
		data = rx_frame(l, &d[i], j - i + 1, &len);
		out +=
		    (unsigned)rx_one(l, &msgs[out], max - out, !out, data, len, d[i].addr, &next);
		if (next == RX_AGAIN)
			break; /* i stays: this frame is the next call's first */
		/* The caller may start a session on a session op: frames
		 * behind it belong to that session, so they wait for the
		 * next call instead of being judged under the old epoch. */
		if (next == RX_LAST) {
			i = j + 1;
			break;
		}
	}
	if (i < n)
		l->ops->rx_unpeek(l, n - i);
	l->held_n = i;
	return (int)out;
}

void xts_link__rx_done(struct xts_link *l)
{
	if (!l->held_n)
		return;
	l->ops->rx_release(l, l->held_n);
	l->held_n = 0;
}

int xts_link__rx_keep(struct xts_link *l, const void *p, __u64 *token)
{
	size_t off = (size_t)((const __u8 *)p - (const __u8 *)l->area);
	__u64 base;
	__u32 i;

	/* A payload that starts a frame's messages is 64-byte aligned
	 * (XTS_LINK_PAD); one behind another in a bundle is not lent. */
	if ((const __u8 *)p < (const __u8 *)l->area || off >= l->area_size || off % 64)
		return -EINVAL;
	base = off - off % l->frame_size;
	if (l->lent >= l->lend_max)
		return -ENOBUFS;
	/* Callers keep frames in batch order: start where the last one was
	 * found, so a batch costs one pass, not one per frame kept. */
	for (i = 0; i < l->held_n; i++) {
		__u32 k = (l->keep_next + i) % l->held_n;

		if (l->held[k] != base)
			continue;
		l->held[k] = LINK_KEPT;
		l->keep_next = k + 1;
		l->lent++;
		*token = base;
		return 0;
	}
	return -EINVAL;
}

void xts_link__rx_return(struct xts_link *l, __u64 token)
{
	l->ops->fill_put(l, token);
	l->lent--;
}

__u32 xts_link__rx_lent(const struct xts_link *l)
{
	return l->lent;
}

__u32 xts_link__rx_lend_max(const struct xts_link *l)
{
	return l->lend_max;
}

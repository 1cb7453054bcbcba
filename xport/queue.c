// SPDX-License-Identifier: BSD-2-Clause
/*
 * queue.c - a struct xport's life: xport_open() (the AF_XDP link, then
 * xp_open_link(), which any link will do: unit tests give it an in-memory
 * one), xport_close_queue(), and the calls that run the queue from an
 * app's own event loop (xport_fd, xport_process, xport_flush).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xport_int.h"

#define CLOSE_QUEUE_MS 500 /* room for the frames xport_close_queue owes */
#define BUSY_RETRY_MS  20  /* a queue still held by its previous owner */

/* The caller's opts, defaults filled in: 0 or -EINVAL.  As libbpf's
 * OPTS_VALID: a caller built against an older header passes a shorter
 * struct (the rest is defaults); one built against a newer header may pass
 * a longer one only if every field we do not know is zero, since we
 * cannot honour what it asks there. */
static int opts_load(struct xport_opts *o, const struct xport_opts *in)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	if (in) {
		if (in->sz < sizeof(in->sz))
			return -EINVAL;
		for (i = sizeof(*o); i < in->sz; i++)
			if (((const uint8_t *)in)[i])
				return -EINVAL;
		memcpy(o, in, in->sz < sizeof(*o) ? in->sz : sizeof(*o));
	}
	o->sz = sizeof(*o);
	if (!o->rcvbuf)
		o->rcvbuf = XP_DEF_RCVBUF;
	if (o->hello_timeout_ms <= 0)
		o->hello_timeout_ms = XP_DEF_HELLO_MS;
	if (!o->max_sockets)
		o->max_sockets = XP_DEF_SOCKETS;
	if (o->rcvbuf > XP_MAX_RCVBUF || o->max_sockets > XTS_ID_SLOT_MASK + 1 ||
	    o->spin_us > XPORT_SPIN_US_MAX || (o->flags & ~(XPORT_OPT_BATCH | XPORT_OPT_DIRECT)))
		return -EINVAL;
	return 0;
}

static void xport_free(struct xport *xp)
{
	xp_sets_fini(xp); /* before the sockets its watches name */
	xp_socktab_fini(xp);
	free(xp);
}

int xp_open_link(struct xport **out, struct xts_link *link, const struct xport_opts *opts)
{
	struct xport_opts o;
	struct xport *xp;
	int err;

	err = opts_load(&o, opts);
	if (err) {
		xts_link__destroy(link);
		return err;
	}
	xp = calloc(1, sizeof(*xp));
	if (!xp) {
		xts_link__destroy(link);
		return -ENOMEM;
	}
	xp->link = link;
	xp->rcvbuf = o.rcvbuf;
	xp->sess.hello_ms = o.hello_timeout_ms;
	xp->batch = !!(o.flags & XPORT_OPT_BATCH);
	xp->spin_ns = (uint64_t)o.spin_us * 1000;
	err = xp_socktab_init(xp, o.max_sockets);
	if (err)
		goto out_free;
	xp_sess_start(xp);
	for (;;) {
		xp_run(xp);
		if (xp_up(xp))
			break;
		if (xp->sess.state == XSS_REFUSED) {
			err = -xp->sess.refuse_err;
			goto out_free;
		}
		if (xp->sess.state == XSS_FAILED) {
			err = -ETIMEDOUT;
			goto out_free;
		}
		xp_wait(xp, xp->sess.hello_deadline_ns);
	}
	xp->sess.err = 0;
	*out = xp;
	return 0;

out_free:
	xts_link__destroy(xp->link);
	/* then the lease: xportd ends what is left of the session */
	xp_lease_close(xp->lease);
	xport_free(xp);
	return err;
}

XPORT_API int xport_open(struct xport **out, const char *ifname, unsigned queue,
			 const struct xport_opts *opts)
{
	struct xport_opts o;
	struct xts_link_opts lo;
	struct xts_link *link;
	uint64_t dl;
	int err;

	if (!out || !ifname)
		return -EINVAL;
	err = opts_load(&o, opts);
	if (err)
		return err;
	/* through xportd unless told otherwise; directly (root) when no
	 * xportd serves this namespace at the default path (lease.c) */
	if (!(o.flags & XPORT_OPT_DIRECT) && (err = xp_open_leased(out, ifname, queue, &o)) <= 0)
		return err;
	if (queue == XPORT_QUEUE_ANY) {
		xp_set_error("any queue: only xportd can pick one");
		return -EINVAL;
	}
	memset(&lo, 0, sizeof(lo));
	lo.sz = sizeof(lo);
	lo.frames = o.frames; /* 0: the link's XTS_LINK_DEF_* */
	lo.ring_size = o.ring_size;
	lo.window = o.window;
	lo.xsks_map_fd = -1;
	lo.attach = true;
	/* The kernel releases an AF_XDP socket's hold on its queue from a
	 * work item: right after the queue's previous owner exited, bind()
	 * says EBUSY for a moment.  Retry within the attach timeout. */
	dl = xp_deadline_ms(o.hello_timeout_ms);
	while ((err = xts_link__create(&link, ifname, queue, &lo)) == -EBUSY && xp_now_ns() < dl)
		nanosleep(&(struct timespec){.tv_nsec = BUSY_RETRY_MS * 1000000L}, NULL);
	if (err)
		return err;
	err = xp_open_link(out, link, &o);
	if (!err)
		(*out)->queue = queue;
	return err;
}

XPORT_API unsigned xport_queue(const struct xport *xp)
{
	return xp ? xp->queue : XPORT_QUEUE_ANY;
}

/* Wait, until @dl, for the terminal frames owed (CLOSE, RESET of sockets
 * the app closed) to go.  0, or -ETIMEDOUT. */
static int owed_out(struct xport *xp, uint64_t dl)
{
	while (xp_up(xp) && xp_term_owed(xp)) {
		if (xp_wait(xp, dl))
			return -ETIMEDOUT;
		xp_run(xp);
	}
	return 0;
}

/*
 * The frames owed for sockets the app closed go first, so that the shard
 * has their CLOSEs before the end and lets those connections finish; then
 * the graceful end (QRESET err 0, session.c), which resets every socket
 * still open at once, connects in flight and listeners included, with no
 * frame per socket and nothing to wait for.  If even the QRESET cannot be
 * queued (no frame left: a sequenced RESET per socket could not go
 * either), the shard frees the session when the next HELLO's probe goes
 * unanswered or at its dead-host timeout, and under xportd, which sees
 * the session still published, at the lease's end.
 */
XPORT_API int xport_close_queue(struct xport *xp)
{
	uint64_t dl = xp_deadline_ms(CLOSE_QUEUE_MS);
	int tries, err = 0;

	if (!xp)
		return -EINVAL;
	xp_run(xp);
	if (xp_up(xp)) {
		err = owed_out(xp, dl);
		if (!xp_sess_end(xp) && xp->lease) /* epoch 0: xportd need not QRESET it */
			xp_lease_tick(xp, xp_now_ns());
	}
	/* Copy mode transmits in sendto(): push until nothing is left, so
	 * the last frames are on the wire before the socket goes. */
	for (tries = 0; tries < 8 && xts_link__flush(xp->link, false) > 0; tries++)
		;
	xts_link__destroy(xp->link);
	/* then the lease: xportd ends what is left of the session */
	xp_lease_close(xp->lease);
	xport_free(xp);
	return err;
}

XPORT_API int xport_fd(const struct xport *xp)
{
	if (!xp)
		return xp_fail(EINVAL);
	return xts_link__fd(xp->link);
}

XPORT_API int xport_flush(struct xport *xp)
{
	int err;

	if (!xp)
		return xp_fail(EINVAL);
	err = xts_link__flush(xp->link, false);
	return err < 0 ? xp_fail(-err) : 0;
}

XPORT_API int xport_process(struct xport *xp)
{
	int work, err;

	if (!xp)
		return xp_fail(EINVAL);
	work = xp_run(xp);
	/* called before the app sleeps too: return the credit owed */
	xp_lazy_run(xp);
	xts_link__flush(xp->link, false);
	if (xp->sess.err) {
		err = xp->sess.err;
		xp->sess.err = 0;
		return xp_fail(err);
	}
	return work;
}

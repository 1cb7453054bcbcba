// SPDX-License-Identifier: BSD-2-Clause
/*
 * poll.c - what a libxport caller waits on and reads: xp_wait() (the
 * sleep of every blocking call), xport_poll() over XTS sockets and OS
 * fds, and the queue's counters.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xport_int.h"

#define SLICE_MS      100 /* longest sleep between engine runs */
#define POLL_STACK    32
#define POLL_MAX      (1u << 20)
#define KICK_RETRY_NS 50000ull /* sleep at most this with frames unsent */
#define SPIN_SKIP_MAX 64       /* waits without a spin after spins that saw nothing */

/* what a spinning core tells the CPU (and a sibling hyperthread) */
#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

/* How long the next sleep may be, as a timespec for ppoll(2). */
static struct timespec slice(const struct xport *xp, uint64_t now, uint64_t deadline)
{
	uint64_t ns = SLICE_MS * 1000000ull;

	if (deadline != XP_FOREVER && deadline - now < ns)
		ns = deadline - now;
	if (!xp_up(xp)) {
		uint64_t h =
		    xp->sess.hello_next_ns > now ? xp->sess.hello_next_ns - now : 1000000ull;

		if (h < ns)
			ns = h;
	}
	/* Frames the device would not take yet (a full veth ring says
	 * EAGAIN): nothing wakes us when it drains, and the peer cannot
	 * answer frames it never got, so try again soon. */
	if (xts_link__unkicked(xp->link) && ns > KICK_RETRY_NS)
		ns = KICK_RETRY_NS;
	return (struct timespec){.tv_sec = (time_t)(ns / 1000000000ull),
				 .tv_nsec = (long)(ns % 1000000000ull)};
}

/*
 * opts.spin_us: watch the rx ring up to spin_ns (not past @deadline)
 * before sleeping; true when frames came.  A sleep and its wakeup cost
 * 15-35 us of CPU on a VM and the answer's latency, a spin its own time:
 * worth it only when answers come within it.  So it adapts: a spin that
 * saw nothing makes the next 1, 2, 4 ... SPIN_SKIP_MAX waits sleep at
 * once, and a spin that saw frames resets that.  OS fds of xport_poll()
 * are not watched while spinning: they wait at most spin_us longer.
 */
static bool spin_rx(struct xport *xp, uint64_t now, uint64_t deadline)
{
	uint64_t end = now + xp->spin_ns, t = now;
	bool hit = false;

	if (!xp->spin_ns)
		return false;
	if (xp->spin_skip) {
		xp->spin_skip--;
		return false;
	}
	if (deadline < end)
		end = deadline;
	while (!(hit = xts_link__rx_ready(xp->link)) && (t = xp_now_ns()) < end)
		cpu_relax();
	xp->c.spin_ns += t - now;
	if (hit) {
		xp->c.spins++;
		xp->spin_backoff = 0;
		return true;
	}
	xp->spin_backoff = xp->spin_backoff ? xp->spin_backoff * 2 : 1;
	if (xp->spin_backoff > SPIN_SKIP_MAX)
		xp->spin_backoff = SPIN_SKIP_MAX;
	xp->spin_skip = xp->spin_backoff;
	return false;
}

/* Sleep in ppoll(2) on @pfd (pfd[0] the AF_XDP socket) for at most a
 * slice, unless frames wait on the rx ring already (or come while we
 * spin, spin_rx): then 1 at once, no syscall.  What ppoll returned
 * otherwise. */
static int sleep_on(struct xport *xp, struct pollfd *pfd, nfds_t n, uint64_t now, uint64_t deadline)
{
	struct timespec ts;

	if (xts_link__rx_ready(xp->link) || spin_rx(xp, now, deadline))
		return 1;
	xp->c.sleeps++;
	ts = slice(xp, now, deadline);
	return ppoll(pfd, n, &ts, NULL);
}

int xp_sleep(struct xport *xp, uint64_t deadline)
{
	struct pollfd p = {.fd = xts_link__fd(xp->link), .events = POLLIN};
	uint64_t now;

	xp_presleep(xp);
	now = xp_now_ns();
	if (now >= deadline)
		return -ETIMEDOUT;
	if (sleep_on(xp, &p, 1, now, deadline) < 0 && errno == EINTR)
		return -EINTR;
	return 0;
}

int xp_wait(struct xport *xp, uint64_t deadline)
{
	/* EINTR: the caller runs the engine and checks again */
	return xp_sleep(xp, deadline) == -ETIMEDOUT ? -ETIMEDOUT : 0;
}

/* ---- poll ---- */

static int poll_xts(struct xport *xp, struct xport_pollfd *fds, unsigned nfds)
{
	int ready = 0;
	unsigned i;

	for (i = 0; i < nfds; i++) {
		struct xsock *s;
		short rev;

		if (fds[i].sd < 0)
			continue;
		s = xp_sock(xp, fds[i].sd);
		rev = s ? xp_sock_revents(xp, s) : POLLNVAL;
		/* POLLERR, POLLHUP, POLLNVAL whether asked for or not, as poll(2) */
		rev &= (short)(fds[i].events | POLLERR | POLLHUP | POLLNVAL);
		fds[i].revents = rev;
		if (rev)
			ready++;
	}
	return ready;
}

static int poll_os(struct pollfd *pfd, unsigned nos, struct xport_pollfd *fds, unsigned nfds)
{
	int ready = 0, r;
	unsigned i, k;

	r = poll(pfd, nos, 0);
	if (r < 0 && errno != EINTR)
		return -errno;
	for (i = 0, k = 0; i < nfds; i++) {
		if (fds[i].sd >= 0)
			continue;
		fds[i].revents = r < 0 ? 0 : pfd[k].revents; /* EINTR: none this round */
		k++;
		if (fds[i].revents)
			ready++;
	}
	return ready;
}

XPORT_API int xport_poll(struct xport *xp, struct xport_pollfd *fds, unsigned nfds, int timeout_ms)
{
	struct pollfd stack[POLL_STACK], *pfd = stack;
	uint64_t deadline, now;
	unsigned i, nos = 0;
	int ready, r, err = 0;

	if (!xp) {
		errno = EINVAL;
		return -1;
	}
	if (nfds > POLL_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (nfds && !fds) {
		errno = EFAULT;
		return -1;
	}
	for (i = 0; i < nfds; i++)
		if (fds[i].sd < 0)
			nos++;
	if (nos + 1 > POLL_STACK) {
		pfd = malloc((nos + 1) * sizeof(*pfd));
		if (!pfd) {
			errno = ENOMEM;
			return -1;
		}
	}
	/* pfd[0] is the AF_XDP socket; the app's OS fds follow. */
	pfd[0] = (struct pollfd){.fd = xts_link__fd(xp->link), .events = POLLIN};
	for (i = 0, nos = 0; i < nfds; i++) {
		if (fds[i].sd >= 0)
			continue;
		pfd[1 + nos++] = (struct pollfd){.fd = fds[i].fd, .events = fds[i].events};
	}
	deadline = xp_deadline_ms(timeout_ms);
	/* a turn of the app's loop ends here: its frames go out now */
	xts_link__flush(xp->link, false);
	for (;;) {
		xp_run(xp);
		ready = poll_xts(xp, fds, nfds);
		if (nos) {
			r = poll_os(pfd + 1, nos, fds, nfds);
			if (r < 0) {
				err = -r;
				break;
			}
			ready += r;
		}
		if (ready || !timeout_ms)
			break;
		xp_presleep(xp);
		now = xp_now_ns();
		if (now >= deadline)
			break;
		r = sleep_on(xp, pfd, nos + 1, now, deadline);
		if (r < 0 && errno == EINTR) {
			err = EINTR; /* like poll(2): a signal ends the wait */
			break;
		}
		if (r < 0) {
			err = errno;
			break;
		}
	}
	if (pfd != stack)
		free(pfd);
	if (err) {
		errno = err;
		return -1;
	}
	return ready;
}

/* ---- counters ---- */

XPORT_API int xport_stats(struct xport *xp, struct xport_stats *st, size_t sz)
{
	struct xts_link_stats ls;
	struct xport_stats out;
	__u32 txs, rxs, pa;

	if (!xp || !st) {
		errno = EINVAL;
		return -1;
	}
	xts_link__stats(xp->link, &ls);
	xts_link__seq_state(xp->link, &txs, &rxs, &pa);
	memset(&out, 0, sizeof(out));
	out.tx_frames = ls.tx_frames;
	out.tx_bytes = ls.tx_bytes;
	out.rx_frames = ls.rx_frames;
	out.rx_bytes = ls.rx_bytes;
	out.data_tx_bytes = xp->c.data_tx;
	out.data_rx_bytes = xp->c.data_rx;
	out.window_stalls = xp->c.window_stalls;
	out.credit_stalls = xp->c.credit_stalls;
	out.seq_gaps = ls.seq_gaps;
	out.resets = xp->c.resets;
	out.rx_malformed = ls.rx_malformed;
	out.rx_stale = ls.rx_stale + xp->c.stale;
	out.xsk_rx_dropped = ls.xsk_rx_dropped;
	out.xsk_rx_ring_full = ls.xsk_rx_ring_full;
	out.xsk_fill_empty = ls.xsk_fill_empty;
	out.xsk_rx_invalid = ls.xsk_rx_invalid;
	out.xsk_tx_invalid = ls.xsk_tx_invalid;
	out.epoch = xts_link__epoch(xp->link);
	out.draining = xp->sess.draining;
	out.restarts = (uint32_t)xp->c.restarts;
	out.tx_seq = txs;
	out.rx_seq = rxs;
	out.peer_ack = pa;
	out.sockets = xp->nused;
	out.kicks = ls.kicks;
	out.sleeps = xp->c.sleeps;
	out.acks_tx = ls.acks_sent;
	out.rx_foreign = ls.rx_foreign;
	out.rx_forged = ls.rx_forged;
	out.spins = xp->c.spins;
	out.spin_ns = xp->c.spin_ns;
	out.zc_rx_frames = xp->c.zc_rx_frames;
	out.zc_rx_copied = xp->c.zc_rx_copied;
	out.zc_rx_held = xts_link__rx_lent(xp->link);
	out.zc_tx_lent = xp->c.zc_tx_lent;
	out.zc_tx_frames = xp->c.zc_tx_frames;
	out.max_frame = xts_link__max_frame(xp->link);
	out.mbuf = (xts_link__caps(xp->link) & XTS_CAP_MBUF) != 0;
	out.mbuf_tx_frames = ls.tx_mbuf;
	out.mbuf_rx_frames = ls.rx_mbuf;
	out.tx_bundled = ls.tx_bundled;
	out.rx_bundled = ls.rx_bundled;
	memcpy(st, &out, sz < sizeof(out) ? sz : sizeof(out));
	return 0;
}

XPORT_API int xport_queue_draining(const struct xport *xp)
{
	return xp && xp->sess.draining;
}

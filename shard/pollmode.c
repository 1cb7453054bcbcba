// SPDX-License-Identifier: BSD-2-Clause
/*
 * pollmode.c - what a shard does when a round of its loop found no work
 * (xts.conf poll; docs/design.md, "Poll modes"):
 *
 *   sleep     epoll_wait until an event or the next deadline: no CPU
 *             while idle, and every frame that arrives pays a wakeup
 *   busy      the next round at once, forever: a core of its own
 *   adaptive  spin like busy for spin_us after the last work, then sleep
 *
 * While it spins, a shard also asks the kernel to busy-poll the AF_XDP
 * socket's NAPI context (SO_PREFER_BUSY_POLL, SO_BUSY_POLL,
 * SO_BUSY_POLL_BUDGET) and drives it with a non-blocking recvfrom(2) per
 * idle round, so frames from the host reach the rx ring in the shard's
 * own context instead of after a softirq or NAPI-thread wakeup.  Where
 * the socket refuses (an old kernel, the in-memory link of the tests) it
 * spins without it and says so once.  The mode comes with every config
 * generation (reloadable) and is published in shared memory (run.poll_mode,
 * run.busy_poll: xtsctl status).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "shard_int.h"

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif
/* SO_BUSY_POLL: only non-blocking calls busy-poll here (one NAPI pass
 * each), so the value only has to be non-zero to allow it */
#define KBUSY_US 50

/* Kernel busy polling on the AF_XDP socket on (@budget > 0) or off: true
 * when it is on afterwards. */
static bool kbusy_set(struct shard *s, __u32 budget)
{
	int fd = xts_link__fd(s->link), on = budget > 0, us = on ? KBUSY_US : 0, b = (int)budget;
	const char *what = "SO_PREFER_BUSY_POLL";

	if (budget == s->kbusy_budget)
		return budget > 0;
	if (setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &on, sizeof(on)) ||
	    (what = "SO_BUSY_POLL", setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us))) ||
	    (on && (what = "SO_BUSY_POLL_BUDGET",
		    setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &b, sizeof(b))))) {
		if (on && !s->kbusy_warned)
			shard_log(s, XTS_LOG_WARNING,
				  "kernel busy polling of the AF_XDP socket: setsockopt(%s): %s: "
				  "spinning without it",
				  what, strerror(errno));
		s->kbusy_warned = true;
		s->kbusy_budget = 0;
		return false;
	}
	s->kbusy_budget = budget;
	return on;
}

void shard_poll_apply(struct shard *s)
{
	struct xts_shm_poll p = {.mode = XTS_POLL_SLEEP};
	__u32 old = s->poll_mode;
	bool kbusy;

	if (s->cfg && s->o.queue < XTS_SHM_MAX_SHARDS)
		p = s->cfg->poll[s->o.queue];
	if (p.mode >= XTS_POLL_NMODES)
		p.mode = XTS_POLL_SLEEP;
	s->poll_mode = p.mode;
	s->spin_ns = p.mode == XTS_POLL_ADAPTIVE ? (__u64)p.spin_us * 1000 : 0;
	kbusy = kbusy_set(s, p.mode == XTS_POLL_SLEEP ? 0 : p.napi_budget);
	if (s->blk) {
		__atomic_store_n(&s->blk->run.poll_mode, s->poll_mode, __ATOMIC_RELAXED);
		__atomic_store_n(&s->blk->run.busy_poll, kbusy, __ATOMIC_RELAXED);
	}
	if (old != s->poll_mode || !s->poll_logged)
		shard_log(s, XTS_LOG_INFO, "poll mode %s (spin %u us, kernel busy poll %s)",
			  xts_poll_mode_name(s->poll_mode),
			  s->poll_mode == XTS_POLL_ADAPTIVE ? p.spin_us : 0, kbusy ? "on" : "off");
	s->poll_logged = true;
	s->last_work_ns = s->now_ns; /* adaptive: a new spin from now */
}

bool shard_poll_spin(struct shard *s, int work)
{
	if (work)
		s->last_work_ns = s->now_ns;
	if (s->poll_mode == XTS_POLL_SLEEP ||
	    (s->poll_mode == XTS_POLL_ADAPTIVE && s->now_ns - s->last_work_ns >= s->spin_ns))
		return false;
	/* One NAPI pass of the AF_XDP socket's queue, here and now: frames
	 * the host sent land on our rx ring for the next round.  Nothing to
	 * read from it (rx is the ring); errors show up on the ring too. */
	if (!work && s->kbusy_budget)
		(void)recvfrom(xts_link__fd(s->link), NULL, 0, MSG_DONTWAIT, NULL, NULL);
	return true;
}

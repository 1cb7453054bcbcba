// SPDX-License-Identifier: BSD-2-Clause
/*
 * ready.c - readiness sets: an epoll for XTS sockets (xport_watch,
 * xport_wait), so that a caller learns which sockets are ready in
 * O(ready) instead of scanning them all (xport_poll).
 *
 * A set holds watches: (socket, events, data), one socket in any number of
 * sets.  A watch is on its set's ready list when something happened to
 * its socket that it asked about; the engine puts it there (xp_ready_wake)
 * as it handles the frame that did it, and xport_wait() reads the list.
 * Whether a watch is ready is always decided from the socket's state
 * (xp_sock_revents, the same answer xport_poll gives), never remembered,
 * so a wake too many costs a check and never a false report, and the only
 * rule the engine must keep is: whatever may make a socket readable,
 * writable or done wakes it.
 *
 * epoll(7)'s semantics: a level-triggered watch stays on the list after
 * it is reported (at the tail, so busy sockets take turns) until a check
 * finds it not ready; EPOLLET takes it off, and only the next event puts
 * it back, so an edge is reported once per event and never lost (an event
 * while it is on the list is reported with it); EPOLLONESHOT disarms it
 * until XPORT_CTL_MOD.
 *
 * Writability has one event no frame brings: the queue window opening.  A
 * socket that found it shut (a send stalled, or a watch for EPOLLOUT saw
 * it) waits on the `win` list, woken when the engine finds room again.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "xport_int.h"

#define SET_IDX_BITS 12
#define SET_MAX	     (1u << SET_IDX_BITS) /* sets per queue */
#define SET_GEN_MAX  (INT32_MAX >> SET_IDX_BITS)
/* what a watch may ask for; EPOLLEXCLUSIVE is accepted on ADD and means
 * nothing more here: one thread owns a queue, so there is one waiter */
#define EV_IO                                                                                      \
	(EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND |   \
	 EPOLLMSG | EPOLLERR | EPOLLHUP | EPOLLRDHUP)
#define EV_ALWAYS (EPOLLERR | EPOLLHUP) /* reported whether asked for or not */

struct xp_watch {
	struct xp_watch *s_next;	  /* the socket's watches */
	struct xp_watch *a_prev, *a_next; /* the set's watches */
	struct xp_watch *r_prev, *r_next; /* the set's ready list, while ready */
	struct xp_set *set;
	uint32_t slot;	 /* the socket's */
	uint32_t events; /* asked for, with EPOLLET, EPOLLONESHOT */
	uint64_t data;
	bool ready;    /* on the ready list */
	bool disarmed; /* EPOLLONESHOT fired */
};

struct xp_set {
	int id;
	uint32_t nready;
	struct xp_watch all, rdy; /* list heads */
};

static void ring_init(struct xp_watch *h, bool rdy)
{
	if (rdy)
		h->r_prev = h->r_next = h;
	else
		h->a_prev = h->a_next = h;
}

static void rdy_add(struct xp_set *set, struct xp_watch *w)
{
	w->r_prev = set->rdy.r_prev;
	w->r_next = &set->rdy;
	set->rdy.r_prev->r_next = w;
	set->rdy.r_prev = w;
	w->ready = true;
	set->nready++;
}

static void rdy_del(struct xp_set *set, struct xp_watch *w)
{
	w->r_prev->r_next = w->r_next;
	w->r_next->r_prev = w->r_prev;
	w->r_prev = w->r_next = NULL;
	w->ready = false;
	set->nready--;
}

/* ---- the window waiters ---- */

static void win_add(struct xport *xp, struct xsock *s)
{
	xts_fifo_push(&xp->win, xp->socks, win_n, xp_slot_of(xp, s));
}

/* Writable but for the queue window: wait for it. */
static bool win_blocked(const struct xport *xp, const struct xsock *s)
{
	return s->state == XS_CONNECTED && !s->wr_shut && s->snd_credit && !xp_room(xp);
}

void xp_win_stalled(struct xport *xp, struct xsock *s)
{
	if (s->watch)
		win_add(xp, s);
}

void xp_win_open(struct xport *xp)
{
	while (!xts_fifo_empty(&xp->win)) {
		struct xsock *s = &xp->socks[xts_fifo_pop(&xp->win, xp->socks, win_n)];

		if (s->watch)
			xp_ready_wake_slow(xp, s);
	}
}

/* ---- waking ---- */

static uint32_t sock_events(struct xport *xp, struct xsock *s)
{
	return (uint32_t)(uint16_t)xp_sock_revents(xp, s);
}

/* Ready for @w now: the events to report, 0 if none. */
static uint32_t watch_check(struct xport *xp, struct xsock *s, const struct xp_watch *w,
			    uint32_t ev)
{
	uint32_t want = (w->events & EV_IO) | EV_ALWAYS;

	if ((w->events & EPOLLOUT) && !(ev & EPOLLOUT) && win_blocked(xp, s))
		win_add(xp, s);
	return ev & want;
}

void xp_ready_wake_slow(struct xport *xp, struct xsock *s)
{
	uint32_t ev = 0;
	bool have = false;
	struct xp_watch *w;

	for (w = s->watch; w; w = w->s_next) {
		if (w->ready || w->disarmed)
			continue;
		if (!have) { /* only when some watch may take it */
			ev = sock_events(xp, s);
			have = true;
		}
		if (watch_check(xp, s, w, ev))
			rdy_add(w->set, w);
	}
}

/* ---- sets ---- */

static struct xp_set *set_get(struct xport *xp, int id)
{
	uint32_t i = (uint32_t)id & (SET_MAX - 1);

	if (id < 0 || i >= xp->nsets || !xp->sets[i] || xp->sets[i]->id != id)
		return NULL;
	return xp->sets[i];
}

static struct xp_set *set_new(struct xport *xp, uint32_t i)
{
	struct xp_set *set = calloc(1, sizeof(*set));

	if (!set)
		return NULL;
	if (++xp->set_gen > SET_GEN_MAX)
		xp->set_gen = 1;
	set->id = i ? (int)(xp->set_gen << SET_IDX_BITS | i) : 0;
	ring_init(&set->all, false);
	ring_init(&set->rdy, true);
	xp->sets[i] = set;
	return set;
}

static int sets_grow(struct xport *xp)
{
	uint32_t cap = xp->nsets ? xp->nsets * 2 : 4;
	struct xp_set **n;

	if (xp->nsets >= SET_MAX)
		return -EMFILE;
	if (cap > SET_MAX)
		cap = SET_MAX;
	n = realloc(xp->sets, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	memset(n + xp->nsets, 0, (cap - xp->nsets) * sizeof(*n));
	xp->sets = n;
	xp->nsets = cap;
	return 0;
}

/* Set 0 is the queue's own, made on first use. */
static struct xp_set *set_of(struct xport *xp, int id)
{
	if (id == 0 && (!xp->nsets || !xp->sets[0])) {
		if (!xp->nsets && sets_grow(xp))
			return NULL;
		return set_new(xp, 0);
	}
	return set_get(xp, id);
}

static void watch_free(struct xport *xp, struct xp_watch *w)
{
	struct xsock *s = &xp->socks[w->slot];
	struct xp_watch **pp;

	for (pp = &s->watch; *pp != w; pp = &(*pp)->s_next)
		;
	*pp = w->s_next;
	if (w->ready)
		rdy_del(w->set, w);
	w->a_prev->a_next = w->a_next;
	w->a_next->a_prev = w->a_prev;
	free(w);
}

static void set_free(struct xport *xp, struct xp_set *set)
{
	while (set->all.a_next != &set->all)
		watch_free(xp, set->all.a_next);
	free(set);
}

void xp_sets_fini(struct xport *xp)
{
	uint32_t i;

	for (i = 0; i < xp->nsets; i++)
		if (xp->sets[i])
			set_free(xp, xp->sets[i]);
	free(xp->sets);
	xp->sets = NULL;
	xp->nsets = 0;
}

uint32_t xp_set_nready(struct xport *xp, int id)
{
	struct xp_set *set = set_get(xp, id);

	return set ? set->nready : 0;
}

void xp_watch_drop(struct xport *xp, struct xsock *s)
{
	while (s->watch)
		watch_free(xp, s->watch);
}

XPORT_API int xport_set_create(struct xport *xp)
{
	struct xp_set *set;
	uint32_t i;
	int err;

	if (!xp)
		return xp_fail(EINVAL);
	for (i = 1; i < xp->nsets && xp->sets[i]; i++)
		;
	if (i >= xp->nsets && (err = sets_grow(xp)))
		return xp_fail(-err);
	set = set_new(xp, i);
	return set ? set->id : xp_fail(ENOMEM);
}

XPORT_API int xport_set_close(struct xport *xp, int id)
{
	struct xp_set *set;

	if (!xp || id == 0)
		return xp_fail(EINVAL);
	set = set_get(xp, id);
	if (!set)
		return xp_fail(EBADF);
	xp->sets[(uint32_t)id & (SET_MAX - 1)] = NULL;
	set_free(xp, set);
	return 0;
}

static struct xp_watch *watch_find(struct xsock *s, const struct xp_set *set)
{
	struct xp_watch *w;

	for (w = s->watch; w && w->set != set; w = w->s_next)
		;
	return w;
}

static int watch_add(struct xport *xp, struct xp_set *set, struct xsock *s, uint32_t ev,
		     uint64_t data)
{
	struct xp_watch *w;

	if (watch_find(s, set))
		return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->set = set;
	w->slot = xp_slot_of(xp, s);
	w->events = ev;
	w->data = data;
	w->s_next = s->watch;
	s->watch = w;
	w->a_prev = set->all.a_prev;
	w->a_next = &set->all;
	set->all.a_prev->a_next = w;
	set->all.a_prev = w;
	return 0;
}

XPORT_API int xport_watch(struct xport *xp, int set_id, int op, int sd, uint32_t events,
			  uint64_t data)
{
	struct xsock *s = xp_sock(xp, sd);
	struct xp_set *set;
	struct xp_watch *w;
	int err;

	if (!xp)
		return xp_fail(EINVAL);
	set = set_of(xp, set_id);
	if (!set)
		return xp_fail(set_id ? EBADF : ENOMEM);
	if (!s)
		return xp_fail(EBADF);
	if (op != XPORT_CTL_DEL && (events & ~(EV_IO | EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE) ||
				    (op == XPORT_CTL_MOD && (events & EPOLLEXCLUSIVE))))
		return xp_fail(EINVAL);
	xp_run(xp);
	switch (op) {
	case XPORT_CTL_ADD:
		err = watch_add(xp, set, s, events, data);
		if (err)
			return xp_fail(-err);
		break;
	case XPORT_CTL_MOD:
		w = watch_find(s, set);
		if (!w)
			return xp_fail(ENOENT);
		w->events = events;
		w->data = data;
		w->disarmed = false;
		if (w->ready) /* checked afresh below, as epoll does */
			rdy_del(set, w);
		break;
	case XPORT_CTL_DEL:
		w = watch_find(s, set);
		if (!w)
			return xp_fail(ENOENT);
		watch_free(xp, w);
		return 0;
	default:
		return xp_fail(EINVAL);
	}
	xp_ready_wake_slow(xp, s); /* ready now: on the list now */
	return 0;
}

/* Report up to @max ready watches of @set, each at most once. */
static int harvest(struct xport *xp, struct xp_set *set, struct xport_event *ev, unsigned max)
{
	uint32_t pass = set->nready; /* a level watch put back is not seen twice */
	int n = 0;

	while (pass-- && (unsigned)n < max) {
		struct xp_watch *w = set->rdy.r_next;
		struct xsock *s = &xp->socks[w->slot];
		uint32_t got;

		rdy_del(set, w);
		got = watch_check(xp, s, w, sock_events(xp, s));
		if (!got)
			continue; /* no longer: the next event puts it back */
		ev[n].events = got;
		ev[n].sd = (int)s->id;
		ev[n].data = w->data;
		n++;
		if (w->events & EPOLLONESHOT)
			w->disarmed = true;
		else if (!(w->events & EPOLLET))
			rdy_add(set, w); /* level: again while it holds */
	}
	return n;
}

XPORT_API int xport_wait(struct xport *xp, int set_id, struct xport_event *ev, unsigned max,
			 int timeout_ms)
{
	struct xp_set *set;
	uint64_t deadline;
	int n, err;

	if (!xp || !max || max > XP_WAIT_MAX)
		return xp_fail(EINVAL);
	if (!ev)
		return xp_fail(EFAULT);
	set = set_of(xp, set_id);
	if (!set)
		return xp_fail(set_id ? EBADF : ENOMEM);
	deadline = xp_deadline_ms(timeout_ms);
	/* a turn of the app's loop ends here: its frames go out now */
	xts_link__flush(xp->link, false);
	for (;;) {
		xp_run(xp);
		n = harvest(xp, set, ev, max);
		if (n || !timeout_ms)
			return n;
		err = xp_sleep(xp, deadline);
		if (err == -ETIMEDOUT)
			return 0;
		if (err)
			return xp_fail(-err); /* EINTR, as epoll_wait */
	}
}

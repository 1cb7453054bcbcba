// SPDX-License-Identifier: BSD-2-Clause
/*
 * pl_poll.c - waiting on several fds: poll/ppoll/select/pselect over XTS
 * sockets and kernel fds at once, and epoll.
 *
 * poll: XTS entries are asked of libxport (xport_poll, not waiting), the
 * others of the kernel (poll, not waiting); then one kernel sleep on the
 * kernel fds, each queue's AF_XDP socket and this thread's eventfd, which
 * whoever runs the queue's engine writes when frames came in (pl_qunlock).
 *
 * epoll: the program's epoll fd stays a real kernel epoll (nestable,
 * pollable, shared by threads): kernel fds go straight in; XTS sockets go
 * into a libxport readiness set per queue (xport_watch), and the epoll
 * gets, tagged with a random cookie, each queue's AF_XDP socket and an
 * eventfd that the engine's runners write.  epoll_wait takes events from
 * both sides, the first side alternating so that neither starves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "preload.h"

#define STACK_FDS 64
#define XEV_BATCH 64

static int fail(int err)
{
	errno = err;
	return -1;
}

/* ---- poll ---- */

struct pq { /* one queue's share of a poll */
	struct pl_queue *q;
	struct pl_poke poke;
	unsigned n;
	struct xport_pollfd *x;
	nfds_t *at; /* which entry of the caller's each is */
};

static int xts_check(struct pq *pq, unsigned npq, struct pollfd *fds, bool first)
{
	int ready = 0;
	unsigned i, k;

	for (i = 0; i < npq; i++)
		for (k = 0; k < pq[i].n; k++)
			fds[pq[i].at[k]].revents = 0;
	for (i = 0; i < npq; i++) {
		pl_qlock(pq[i].q);
		if (first)
			pl_poke_add(pq[i].q, &pq[i].poke);
		xport_poll(pq[i].q->xp, pq[i].x, pq[i].n, 0);
		pl_qunlock(pq[i].q);
		for (k = 0; k < pq[i].n; k++) { /* a listener's members: one entry */
			short *rev = &fds[pq[i].at[k]].revents;

			ready += !*rev && pq[i].x[k].revents;
			*rev |= pq[i].x[k].revents;
		}
	}
	return ready;
}

struct plan {
	struct pq pq[PL_MAX_Q];
	unsigned npq;
	nfds_t nk, *kat;  /* kernel entries, and which of the caller's each is */
	struct pollfd *k; /* room behind them for the eventfd and queue fds */
	char *mem;
};

struct pmem { /* one libxport socket of the caller's entry @at */
	nfds_t at;
	unsigned pq;
	int sd;
};

/* The XTS socket of entry @i into pm[] (a listener: each member; a parked
 * one listens first).  Returns how many, or -1: POLLNVAL. */
static int plan_entry(struct plan *p, struct pollfd *e, nfds_t i, struct pl_sock *ps,
		      struct pmem *pm, int efd)
{
	struct pl_member m[1 + PL_MAX_Q];
	unsigned n, j, t;

	int u = pl_usable(e->fd, ps);

	if (u)
		return u < 0 ? -2 : -1;
	n = pl_members(ps, m);
	for (t = 0; t < n; t++) {
		for (j = 0; j < p->npq && p->pq[j].q != m[t].q; j++)
			;
		if (j == p->npq)
			p->pq[p->npq++] = (struct pq){.q = m[t].q, .poke = {.efd = efd}};
		p->pq[j].n++;
		pm[t] = (struct pmem){.at = i, .pq = j, .sd = m[t].sd};
	}
	return (int)n;
}

/* Split the caller's entries, each looked up once: kernel fds into k,
 * XTS sockets by queue (an inherited connection is POLLNVAL).  Returns
 * the entries ready already, or -1 (ENOMEM). */
static int plan(struct plan *p, struct pollfd *fds, nfds_t n, int efd)
{
	nfds_t i, nx = 0, nm = 0, cap = n * pl_nq(), *at;
	struct xport_pollfd *x;
	struct pmem *pm;
	int ready = 0, r;
	unsigned j;

	p->npq = 0;
	p->nk = 0;
	p->mem = malloc((n + PL_MAX_Q + 1) * (sizeof(*p->k) + sizeof(nfds_t)) +
			cap * (sizeof(*x) + sizeof(nfds_t) + sizeof(*pm)));
	if (!p->mem) {
		errno = ENOMEM;
		return -1;
	}
	p->kat = (nfds_t *)p->mem; /* the 8-byte arrays first: all aligned */
	pm = (struct pmem *)(p->kat + n + PL_MAX_Q + 1);
	at = (nfds_t *)(pm + cap);
	p->k = (struct pollfd *)(at + cap);
	x = (struct xport_pollfd *)(p->k + n + PL_MAX_Q + 1);
	for (i = 0; i < n; i++) {
		struct pl_sock *ps = pl_get(fds[i].fd);

		fds[i].revents = 0;
		/* -2: an inherited connection claimed from the parent: a kernel fd now */
		r = ps && ps->kind == PL_XTS ? plan_entry(p, &fds[i], i, ps, pm + nm, efd) : -2;
		if (r == -2) {
			p->kat[p->nk] = i;
			p->k[p->nk++] = fds[i];
			continue;
		}
		if (r < 0) {
			fds[i].revents = POLLNVAL;
			ready++;
			continue;
		}
		nm += (nfds_t)r;
	}
	for (j = 0; j < p->npq; j++) {
		p->pq[j].x = x + nx;
		p->pq[j].at = at + nx;
		nx += p->pq[j].n;
		p->pq[j].n = 0;
	}
	for (i = 0; i < nm; i++) {
		struct pq *q = &p->pq[pm[i].pq];

		q->at[q->n] = pm[i].at;
		q->x[q->n++] =
		    (struct xport_pollfd){.sd = pm[i].sd, .events = fds[pm[i].at].events};
	}
	return ready;
}

int pl_poll_mixed(struct pollfd *fds, nfds_t n, uint64_t dl, const sigset_t *mask)
{
	struct plan p;
	struct pq *pq = p.pq;
	struct pollfd *k;
	nfds_t i, nk;
	unsigned npq, j;
	int ready, r = 0, e = 0, efd = pl_thread_efd(), ms;
	bool first = true, armed = false;

	if (efd < 0)
		return -1;
	ready = plan(&p, fds, n, efd);
	if (ready < 0)
		return -1;
	k = p.k;
	nk = p.nk;
	npq = p.npq;
	for (;;) {
		/* the queues hear of this waiter (pokes) only in the last look
		 * before its first sleep: while it is busy their unlocks write
		 * no eventfd (its own first of all) */
		int got = xts_check(pq, npq, fds, armed && first);

		if (armed)
			first = false;
		if (nk) {
			r = REAL(poll)(k, nk, 0);
			if (r < 0) {
				e = errno;
				break;
			}
			for (i = 0; i < nk; i++) {
				fds[p.kat[i]].revents = k[i].revents;
				got += !!k[i].revents;
			}
		}
		ready += got;
		if (ready)
			break;
		ms = pl_remaining_ms(dl);
		if (!ms)
			break;
		if (!armed) { /* look again, heard, before sleeping */
			armed = true;
			pl_sleepers_add(1);
			continue;
		}
		if (pl_dirty) /* a blocking accept in a turn: its frames go first */
			pl_flush_dirty();
		if (ms < 0 || ms > PL_SLICE_MS)
			ms = PL_SLICE_MS;
		k[nk] = (struct pollfd){.fd = efd, .events = POLLIN};
		for (j = 0; j < npq; j++)
			k[nk + 1 + j] = (struct pollfd){.fd = pq[j].q->xfd, .events = POLLIN};
		r = REAL(ppoll)(
		    k, nk + 1 + npq,
		    &(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L},
		    mask);
		if (r < 0) {
			e = errno; /* EINTR, as poll(2) */
			break;
		}
		if (k[nk].revents)
			pl_efd_drain(efd);
	}
	for (j = 0; j < npq && !first; j++) {
		pl_qlock(pq[j].q);
		pl_poke_del(&pq[j].poke);
		pl_qunlock(pq[j].q);
	}
	if (armed)
		pl_sleepers_add(-1);
	free(p.mem);
	if (e)
		return fail(e);
	return ready;
}

/* The program's poll over XTS sockets: its calls until its next wait are
 * a turn (pl_turn; pl_turn_over ended the last one) */
static int poll_turn(struct pollfd *fds, nfds_t n, uint64_t dl, const sigset_t *mask)
{
	int r = pl_poll_mixed(fds, n, dl, mask);

	pl_turn_begin();
	return r;
}

static bool any_xts(const struct pollfd *fds, nfds_t n)
{
	nfds_t i;

	if (pl_depth)
		return false;
	for (i = 0; i < n; i++) {
		struct pl_sock *ps = pl_get(fds[i].fd);

		if (ps && ps->kind == PL_XTS)
			return true;
	}
	return false;
}

/* glibc declares poll's and ppoll's @fds write-only (access attribute), but
 * poll reads fd and events from it; GCC's unoptimised builds then call the
 * read in any_xts() a use of uninitialised memory.  It is not. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	pl_turn_over();
	if (!any_xts(fds, n))
		return REAL(poll)(fds, n, timeout);
	return poll_turn(fds, n, pl_deadline_ms(timeout), NULL);
}

static uint64_t ts_deadline(const struct timespec *ts)
{
	if (!ts)
		return UINT64_MAX;
	return pl_now_ns() + (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	pl_turn_over();
	if (!any_xts(fds, n))
		return REAL(ppoll)(fds, n, ts, mask);
	return poll_turn(fds, n, ts_deadline(ts), mask);
}
#pragma GCC diagnostic pop

extern void __chk_fail(void) __attribute__((noreturn));

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return poll(fds, n, timeout);
}

int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
		size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
		size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return ppoll(fds, n, ts, mask);
}

/* ---- select, as poll ---- */

#define SEL_IN	(POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define SEL_OUT (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)

static bool sel_any_xts(int nfds, fd_set *r, fd_set *w, fd_set *x)
{
	int fd;

	if (pl_depth || nfds > FD_SETSIZE)
		return false;
	for (fd = 0; fd < nfds; fd++) {
		struct pl_sock *ps = pl_get(fd);

		if (ps && ps->kind == PL_XTS &&
		    ((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (x && FD_ISSET(fd, x))))
			return true;
	}
	return false;
}

static int sel(int nfds, fd_set *r, fd_set *w, fd_set *x, uint64_t dl, const sigset_t *mask)
{
	struct pollfd p[FD_SETSIZE];
	nfds_t n = 0, i;
	int fd, got, cnt = 0;

	for (fd = 0; fd < nfds; fd++) {
		short ev = (short)((r && FD_ISSET(fd, r) ? POLLIN : 0) |
				   (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
				   (x && FD_ISSET(fd, x) ? POLLPRI : 0));

		if (ev)
			p[n++] = (struct pollfd){.fd = fd, .events = ev};
	}
	got = pl_poll_mixed(p, n, dl, mask);
	if (got < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (p[i].revents & POLLNVAL)
			return fail(EBADF);
	for (i = 0; i < n; i++) {
		fd = p[i].fd;
		if (r && FD_ISSET(fd, r) && !(p[i].revents & SEL_IN))
			FD_CLR(fd, r);
		if (w && FD_ISSET(fd, w) && !(p[i].revents & SEL_OUT))
			FD_CLR(fd, w);
		if (x && FD_ISSET(fd, x) && !(p[i].revents & POLLPRI))
			FD_CLR(fd, x);
		cnt += (r && FD_ISSET(fd, r)) + (w && FD_ISSET(fd, w)) + (x && FD_ISSET(fd, x));
	}
	return cnt;
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv)
{
	uint64_t dl, now;
	int ret;

	pl_turn_over();
	if (!sel_any_xts(nfds, r, w, x))
		return REAL(select)(nfds, r, w, x, tv);
	dl = tv ? pl_now_ns() + (uint64_t)tv->tv_sec * 1000000000ull +
		      (uint64_t)tv->tv_usec * 1000ull
		: UINT64_MAX;
	ret = sel(nfds, r, w, x, dl, NULL);
	pl_turn_begin();
	if (tv) { /* Linux leaves the time not slept */
		now = pl_now_ns();
		now = dl > now ? dl - now : 0;
		tv->tv_sec = (time_t)(now / 1000000000ull);
		tv->tv_usec = (suseconds_t)(now % 1000000000ull / 1000);
	}
	return ret;
}

int pselect(int nfds, fd_set *r, fd_set *w, fd_set *x, const struct timespec *ts,
	    const sigset_t *mask)
{
	int ret;

	pl_turn_over();
	if (!sel_any_xts(nfds, r, w, x))
		return REAL(pselect)(nfds, r, w, x, ts, mask);
	ret = sel(nfds, r, w, x, ts_deadline(ts), mask);
	pl_turn_begin();
	return ret;
}

/* ---- epoll ---- */

struct pl_ep {
	int epfd, efd;
	unsigned turn;
	int waiters;	   /* threads in its epoll_wait: the pokes' gate */
	int set[PL_MAX_Q]; /* the queue's readiness set, 0: none yet */
	struct pl_queue *q[PL_MAX_Q];
	struct pl_poke poke[PL_MAX_Q];
};

static struct pl_ep *_Atomic *ept;
static int ept_n;
static pthread_mutex_t ep_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t tag; /* our registrations in the program's epoll */

void pl_ep_init_tab(int n)
{
	void *m = mmap(NULL, (size_t)n * sizeof(*ept), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (getrandom(&tag, sizeof(tag), GRND_NONBLOCK) != sizeof(tag))
		tag = (uint64_t)pl_now_ns() * 0x9e3779b97f4a7c15ull;
	if (m == MAP_FAILED)
		return;
	ept = m;
	ept_n = n;
}

static struct pl_ep *ep_get(int epfd)
{
	if (!ept || epfd < 0 || epfd >= ept_n)
		return NULL;
	return atomic_load_explicit(&ept[epfd], memory_order_acquire);
}

static void poke(int efd)
{
	uint64_t one = 1;

	if (REAL(write)(efd, &one, sizeof(one)) < 0) { /* full: awake anyway */
	}
}

/* The shim's state for @epfd, made with its eventfd (which also checks
 * that epfd is an epoll).  Under ep_mu. */
static struct pl_ep *ep_make(int epfd, int *err)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
	struct pl_ep *ep = ep_get(epfd);

	if (ep)
		return ep;
	if (!ept || epfd < 0 || epfd >= ept_n) {
		*err = EBADF;
		return NULL;
	}
	ep = calloc(1, sizeof(*ep));
	if (!ep) {
		*err = ENOMEM;
		return NULL;
	}
	ep->epfd = epfd;
	ep->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ep->efd < 0 || REAL(epoll_ctl)(epfd, EPOLL_CTL_ADD, ep->efd, &ev)) {
		*err = errno;
		if (ep->efd >= 0)
			REAL(close)(ep->efd);
		free(ep);
		return NULL;
	}
	atomic_store_explicit(&ept[epfd], ep, memory_order_release);
	return ep;
}

/* Member @m into (or out of) @ep: its queue's set, made with the queue's
 * fd in the program's epoll on first use.  Under ep_mu. */
static int ep_member_ctl(struct pl_ep *ep, int op, const struct pl_member *m,
			 const struct epoll_event *ev)
{
	struct epoll_event qev = {.events = EPOLLIN, .data.u64 = tag ^ 1}; /* the queue's fd */
	struct pl_queue *q = m->q;
	int r, e;

	pl_qlock(q);
	if (!ep->set[q->idx]) {
		if (op != EPOLL_CTL_ADD) {
			pl_qunlock(q);
			return fail(ENOENT);
		}
		r = xport_set_create(q->xp);
		if (r < 0 || REAL(epoll_ctl)(ep->epfd, EPOLL_CTL_ADD, q->xfd, &qev)) {
			e = errno;
			if (r > 0)
				xport_set_close(q->xp, r);
			pl_qunlock(q);
			return fail(e);
		}
		ep->set[q->idx] = r;
		ep->q[q->idx] = q;
		ep->poke[q->idx].efd = ep->efd;
		ep->poke[q->idx].gate = &ep->waiters;
		pl_poke_add(q, &ep->poke[q->idx]);
	}
	r = xport_watch(q->xp, ep->set[q->idx], op, m->sd, ev ? ev->events : 0,
			ev ? ev->data.u64 : 0);
	e = errno;
	pl_qunlock(q);
	errno = e;
	return r;
}

/* XTS socket @ps into (or out of) the program's epoll: each of its
 * libxport sockets (a listener: one per queue, events for any of them
 * under the program's data).  Under ep_mu. */
static int ep_xts_ctl(int epfd, int op, int fd, struct pl_sock *ps, struct epoll_event *ev)
{
	struct pl_member m[1 + PL_MAX_Q];
	struct pl_ep *ep;
	unsigned n, i;
	int err = 0, r = 0, e = 0;

	if (epfd == fd)
		return fail(EINVAL);
	if (op != EPOLL_CTL_DEL && !ev)
		return fail(EFAULT);
	ep = op == EPOLL_CTL_ADD ? ep_make(epfd, &err) : ep_get(epfd);
	if (!ep)
		return fail(err ? err : ENOENT);
	n = pl_members(ps, m);
	for (i = 0; i < n; i++) {
		if (ep_member_ctl(ep, op, &m[i], ev) == 0)
			continue;
		e = errno;
		r = -1;
		if (op != EPOLL_CTL_DEL)
			break; /* DEL: every member out, whatever one says */
	}
	while (r && op == EPOLL_CTL_ADD && i-- > 0) /* all or nothing */
		ep_member_ctl(ep, EPOLL_CTL_DEL, &m[i], NULL);
	if (r == 0 && op != EPOLL_CTL_DEL)
		poke(ep->efd); /* ready now: a sleeping epoll_wait looks */
	errno = e;
	return r;
}

static void reg_note(struct pl_sock *ps, int epfd, int op, const struct epoll_event *ev)
{
	unsigned i;

	for (i = 0; i < ps->nreg && ps->reg[i].epfd != epfd; i++)
		;
	if (op == EPOLL_CTL_DEL) {
		if (i < ps->nreg)
			ps->reg[i] = ps->reg[--ps->nreg];
		return;
	}
	if (i == PL_MAX_REGS) {
		pl_log(PL_LOG_WARN,
		       "a socket in more than %d epoll sets before connect/listen: "
		       "the others will not hear of it once offloaded",
		       PL_MAX_REGS);
		return;
	}
	ps->reg[i] = (struct pl_reg){.epfd = epfd, .ev = *ev};
	if (i == ps->nreg)
		ps->nreg++;
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct pl_sock *ps;
	int r;

	if (pl_depth || !(ps = pl_get(fd)))
		return REAL(epoll_ctl)(epfd, op, fd, ev);
	if (ps->kind == PL_XTS && (op != EPOLL_CTL_DEL || ps->foreign) && (r = pl_usable(fd, ps)))
		return r < 0 ? REAL(epoll_ctl)(epfd, op, fd, ev) : fail(r);
	if (ps->kind == PL_PENDING) {
		/* the kernel's for now (an unconnected socket's POLLOUT|POLLHUP
		 * is the right answer); noted, to move at connect/listen */
		r = REAL(epoll_ctl)(epfd, op, fd, ev);
		if (r == 0) {
			pthread_mutex_lock(&pl_mu);
			if (ps->kind == PL_PENDING)
				reg_note(ps, epfd, op, ev);
			pthread_mutex_unlock(&pl_mu);
		}
		return r;
	}
	pthread_mutex_lock(&ep_mu);
	r = ep_xts_ctl(epfd, op, fd, ps, ev);
	pthread_mutex_unlock(&ep_mu);
	return r;
}

/* Under pl_mu, right after @ps became an XTS socket. */
void pl_ep_adopt(int fd, struct pl_sock *ps)
{
	unsigned i;

	pthread_mutex_lock(&ep_mu);
	for (i = 0; i < ps->nreg; i++) {
		struct pl_reg *g = &ps->reg[i];

		REAL(epoll_ctl)(g->epfd, EPOLL_CTL_DEL, fd, NULL);
		if (ep_xts_ctl(g->epfd, EPOLL_CTL_ADD, fd, ps, &g->ev))
			pl_log(PL_LOG_WARN,
			       "fd %d: its epoll registration on %d could not move: %s", fd,
			       g->epfd, strerror(errno));
	}
	ps->nreg = 0;
	pthread_mutex_unlock(&ep_mu);
}

void pl_ep_forget(int epfd)
{
	struct pl_ep *ep = ep_get(epfd);
	unsigned i;

	if (!ep)
		return;
	pthread_mutex_lock(&ep_mu);
	ep = ep_get(epfd);
	if (ep) {
		atomic_store_explicit(&ept[epfd], NULL, memory_order_release);
		for (i = 0; i < PL_MAX_Q; i++) {
			if (!ep->set[i])
				continue;
			pl_qlock(ep->q[i]);
			if (ep->q[i]->xp)
				xport_set_close(ep->q[i]->xp, ep->set[i]);
			pl_poke_del(&ep->poke[i]);
			pl_qunlock(ep->q[i]);
		}
		REAL(close)(ep->efd);
		free(ep);
	}
	pthread_mutex_unlock(&ep_mu);
}

void pl_ep_fork_child(void)
{
	int i;

	/* the parent's sets, on the parent's queues: forgotten here */
	for (i = 0; ept && i < ept_n; i++)
		if (ep_get(i))
			atomic_store_explicit(&ept[i], NULL, memory_order_relaxed);
	pthread_mutex_init(&ep_mu, NULL);
}

static int xts_collect(struct pl_ep *ep, struct epoll_event *out, int max)
{
	struct xport_event xev[XEV_BATCH];
	int n = 0, k, i;
	unsigned j;

	for (j = 0; j < PL_MAX_Q && n < max; j++) {
		struct pl_queue *q = ep->q[j];

		if (!ep->set[j])
			continue;
		pl_qlock(q);
		k = q->xp ? xport_wait(q->xp, ep->set[j], xev,
				       (unsigned)(max - n < XEV_BATCH ? max - n : XEV_BATCH), 0)
			  : 0;
		pl_qunlock(q);
		for (i = 0; i < k; i++) {
			out[n].events = xev[i].events;
			out[n++].data.u64 = xev[i].data;
		}
	}
	return n;
}

/* The kernel's events, without our tags; -1 on error.  Our eventfd,
 * when it was among them, is drained (it stays readable until then). */
static int kernel_collect(struct pl_ep *ep, struct epoll_event *out, int max, int ms,
			  const sigset_t *mask)
{
	int r = REAL(epoll_pwait)(ep->epfd, out, max, ms, mask), i, n = 0;

	if (r < 0)
		return -1;
	for (i = 0; i < r; i++) {
		if (out[i].data.u64 == tag)
			pl_efd_drain(ep->efd);
		else if (out[i].data.u64 != (tag ^ 1))
			out[n++] = out[i];
	}
	return n;
}

/* One look at both sides, the first alternating so neither starves: the
 * kernel's first every other turn, and after ours only when ours had
 * nothing (a syscall a turn saved while XTS sockets keep it busy). */
static int ep_look(struct pl_ep *ep, struct epoll_event *ev, int max)
{
	bool xts_first = !(ep->turn++ & 1);
	int n = xts_first ? xts_collect(ep, ev, max) : 0, m;

	if (!xts_first || !n) {
		m = kernel_collect(ep, ev + n, max - n, 0, NULL);
		if (m < 0)
			return -1;
		n += m;
	}
	if (!xts_first && n < max)
		n += xts_collect(ep, ev + n, max - n);
	/* more may be ready: a thread asleep in this epoll looks (Linux's
	 * ep_done_scan wakes one when events are left); no thread, no write */
	if (n == max && __atomic_load_n(&ep->waiters, __ATOMIC_SEQ_CST) > 0)
		poke(ep->efd);
	return n;
}

static int ep_wait(struct pl_ep *ep, struct epoll_event *ev, int max, uint64_t dl,
		   const sigset_t *mask)
{
	int n, m, ms;

	if (max <= 0)
		return fail(EINVAL);
	for (;;) {
		n = ep_look(ep, ev, max);
		if (n)
			return n;
		ms = pl_remaining_ms(dl);
		if (!ms)
			return 0;
		if (ms < 0 || ms > PL_SLICE_MS)
			ms = PL_SLICE_MS;
		/* about to sleep: counted as a waiter before the last look at
		 * the sets, which takes each queue's lock: a runner that finds
		 * frames after that look sees the count and writes the
		 * eventfd; one before it left them for the look.  Not counted
		 * while busy: the runners' unlocks then read nothing and write
		 * nothing (this thread's own first of all). */
		__atomic_add_fetch(&ep->waiters, 1, __ATOMIC_SEQ_CST);
		pl_sleepers_add(1);
		n = xts_collect(ep, ev, max);
		m = n ? 0 : kernel_collect(ep, ev, max, ms, mask);
		pl_sleepers_add(-1);
		__atomic_sub_fetch(&ep->waiters, 1, __ATOMIC_SEQ_CST);
		if (n)
			return n;
		if (m < 0)
			return -1; /* EINTR among others */
		if (m) {
			if (m < max)
				m += xts_collect(ep, ev + m, max - m);
			return m;
		}
	}
}

/* The program's epoll_wait: its calls until the next one are a turn
 * (pl_turn): what they queue goes at the next wait. */
static int ep_wait_turn(struct pl_ep *ep, struct epoll_event *ev, int max, uint64_t dl,
			const sigset_t *mask)
{
	int r;

	pl_turn_over();
	r = ep_wait(ep, ev, max, dl, mask);
	pl_turn_begin();
	return r;
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	struct pl_ep *ep = pl_depth ? NULL : ep_get(epfd);

	if (!ep) {
		pl_turn_over();
		return REAL(epoll_wait)(epfd, ev, max, timeout);
	}
	return ep_wait_turn(ep, ev, max, pl_deadline_ms(timeout), NULL);
}

int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
	struct pl_ep *ep = pl_depth ? NULL : ep_get(epfd);

	if (!ep) {
		pl_turn_over();
		return REAL(epoll_pwait)(epfd, ev, max, timeout, mask);
	}
	return ep_wait_turn(ep, ev, max, pl_deadline_ms(timeout), mask);
}

/* epoll_pwait2: epoll_pwait with a timespec (NULL: forever) */
int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *ts,
		 const sigset_t *mask)
{
	struct pl_ep *ep = pl_depth ? NULL : ep_get(epfd);

	if (!ep) {
		pl_turn_over();
		return REAL(epoll_pwait2)(epfd, ev, max, ts, mask);
	}
	return ep_wait_turn(ep, ev, max, ts_deadline(ts), mask);
}

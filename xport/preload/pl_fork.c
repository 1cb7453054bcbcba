// SPDX-License-Identifier: BSD-2-Clause
/*
 * pl_fork.c - connections across fork.  A connection lives on the queue of
 * the process that made it, and a child must never touch that queue; so a
 * child that uses a connection it inherited claims it from the parent over
 * a channel made at fork, and the parent relays it: the child's fd becomes
 * one end of a unix socketpair (dup3 over the number it knew), and a relay
 * thread in the parent moves bytes between the other end and the XTS
 * connection.  What the child never uses costs nothing but a hold: the
 * parent keeps the connection open while a child that may still claim it
 * lives (socat's fork option: the parent accepts, forks and closes; the
 * child serves), and never reads it for the child (redis' BGSAVE child
 * leaves its clients' sockets alone: the parent goes on serving them).
 * docs/design.md (xts-run, "fork") says what a program can tell.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "preload.h"

#define RELAY_BUF     (64 * 1024)
#define CLAIM_MS      5000
#define PAIR_SNDBUF   (4 << 20)
#define MAX_CHILD_H   4096 /* connections one fork holds for its child */
#define EXIT_FLUSH_MS 5000 /* at exit, for the bytes of children that ended */

struct msg {	     /* child -> parent */
	uint64_t id; /* the parent's struct pl_sock, as the child's copy names it */
	char op;     /* 'C' claim, 'D' drop (closed unclaimed) */
};

struct child {	/* a forked child that may claim what it inherited */
	int fd; /* our end of its channel */
	unsigned n;
	struct pl_sock **h; /* held for it; NULL once claimed or dropped */
	struct child *next;
};

struct relay {
	struct pl_sock *ps;
	int ufd;       /* our end of the pair whose other end the child holds */
	size_t nu, nx; /* bytes in to_u (for the child), to_x (for the peer) */
	bool x_eof, x_shut, u_eof, u_shut, u_hup;
	char *to_u, *to_x;
	struct relay *next;
};

static pthread_mutex_t fk_mu = PTHREAD_MUTEX_INITIALIZER;
static struct child *children;
static struct relay *relays;
static struct pl_poke pokes[PL_MAX_Q];
static int wake = -1; /* the relay thread's eventfd */
static bool relay_on;
static int sv[2] = {-1, -1}; /* the channel being made across a fork */
static int chan = -1;	     /* child: ours to the parent */
static pthread_mutex_t claim_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- the parent: holds ---- */

/* Under pl_mu: a hold of a child ends; the connection closes if the
 * program closed it too. */
static void unhold(struct pl_sock *ps)
{
	if (--ps->holds || ps->refs > 0)
		return;
	pl_qlock(ps->q);
	xport_close(ps->q->xp, ps->sd);
	ps->q->force = true;
	pl_qunlock(ps->q);
	free(ps);
}

static void child_gone(struct child *c)
{
	unsigned i;

	pthread_mutex_lock(&pl_mu);
	for (i = 0; i < c->n; i++)
		if (c->h[i])
			unhold(c->h[i]);
	pthread_mutex_unlock(&pl_mu);
	REAL(close)(c->fd);
	free(c->h);
	free(c);
}

/* ---- the parent: relaying ---- */

static void relay_end(struct relay *r)
{
	pthread_mutex_lock(&pl_mu);
	unhold(r->ps);
	pthread_mutex_unlock(&pl_mu);
	REAL(close)(r->ufd);
	free(r->to_u);
	free(r->to_x);
	free(r);
}

/* The XTS side of @r, under its queue's lock: what the peer sent into
 * to_u, to_x to the peer, the child's end of stream as ours. */
static int relay_xts(struct relay *r)
{
	struct pl_sock *ps = r->ps;
	int work = 0;
	ssize_t n;

	pl_qlock(ps->q);
	if (!r->x_eof && r->nu < RELAY_BUF) {
		n = xport_recv(ps->q->xp, ps->sd, r->to_u + r->nu, RELAY_BUF - r->nu, MSG_DONTWAIT);
		if (n > 0)
			r->nu += (size_t)n, work++;
		else if (n == 0 || errno != EAGAIN)
			r->x_eof = true, work++; /* an error ends the stream for the child */
	}
	if (r->nx) {
		n = xport_send(ps->q->xp, ps->sd, r->to_x, r->nx, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			memmove(r->to_x, r->to_x + n, r->nx - (size_t)n);
			r->nx -= (size_t)n, work++;
		} else if (n < 0 && errno != EAGAIN) {
			r->nx = 0, r->u_eof = true, work++; /* the peer is gone: drop it */
		}
	}
	if (r->u_eof && !r->nx && !r->x_shut) {
		xport_shutdown(ps->q->xp, ps->sd, SHUT_WR);
		r->x_shut = true, work++;
	}
	pl_qunlock(ps->q);
	return work;
}

/* The child's side of @r (@ev from poll).  Returns work done. */
static int relay_unix(struct relay *r, short ev)
{
	int work = 0;
	ssize_t n;

	if (r->nu) {
		n = send(r->ufd, r->to_u, r->nu, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			memmove(r->to_u, r->to_u + n, r->nu - (size_t)n);
			r->nu -= (size_t)n, work++;
		} else if (n < 0 && errno != EAGAIN) {
			r->nu = 0, r->u_hup = true; /* the child closed it */
		}
	}
	if (r->x_eof && !r->nu && !r->u_shut) {
		shutdown(r->ufd, SHUT_WR);
		r->u_shut = true, work++;
	}
	if (!r->u_eof && r->nx < RELAY_BUF && (ev & (POLLIN | POLLHUP | POLLERR))) {
		n = REAL(read)(r->ufd, r->to_x + r->nx, RELAY_BUF - r->nx);
		if (n > 0)
			r->nx += (size_t)n, work++;
		else if (n == 0 || errno != EAGAIN)
			r->u_eof = true, work++;
	}
	if (ev & (POLLHUP | POLLERR) && r->u_eof)
		r->u_hup = true; /* every copy of the child's end closed */
	return work;
}

static void claim_answer(struct child *c, const struct msg *m)
{
	char iob = 0, cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {&iob, 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct relay *r = NULL;
	int pair[2] = {-1, -1};
	unsigned i;

	for (i = 0; i < c->n && (uintptr_t)c->h[i] != (uintptr_t)m->id; i++)
		;
	if (i == c->n || !c->h[i]) {
		iob = EBADF;
	} else if (m->op == 'D') {
		pthread_mutex_lock(&pl_mu);
		unhold(c->h[i]);
		pthread_mutex_unlock(&pl_mu);
		c->h[i] = NULL;
		return; /* no answer */
	} else if (!(r = calloc(1, sizeof(*r))) || !(r->to_u = malloc(RELAY_BUF)) ||
		   !(r->to_x = malloc(RELAY_BUF)) ||
		   socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair)) {
		iob = errno ? (char)errno : ENOMEM;
	} else {
		int big = PAIR_SNDBUF;

		/* a kernel TCP socket takes megabytes before a write blocks; a
		 * program that writes its last bytes and then closes on a timer
		 * (socat -t) must find room as it would there */
		REAL(setsockopt)(pair[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		REAL(setsockopt)(pair[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		struct cmsghdr *cm;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pair[1], sizeof(int));
	}
	if (REAL(sendmsg)(c->fd, &mh, MSG_NOSIGNAL) < 0 || iob) {
		if (pair[0] >= 0)
			REAL(close)(pair[0]);
		if (r)
			free(r->to_u), free(r->to_x), free(r);
		if (pair[1] >= 0)
			REAL(close)(pair[1]);
		return; /* the hold stays: the child may try again, or go */
	}
	REAL(close)(pair[1]);
	r->ps = c->h[i];
	r->ufd = pair[0];
	c->h[i] = NULL; /* the relay holds it now */
	r->next = relays;
	relays = r;
	pl_log(PL_LOG_DEBUG, "a child claimed an inherited connection: relayed");
}

/* One message from child @c; false: it is gone */
static bool child_msg(struct child *c)
{
	struct msg m;
	ssize_t n = REAL(recv)(c->fd, &m, sizeof(m), MSG_DONTWAIT);

	if (n < 0 && errno == EAGAIN)
		return true;
	if (n != sizeof(m))
		return false;
	claim_answer(c, &m);
	return true;
}

#define MAX_PFD 1024

/* Everything to wait on: the wakeup, the channels, the relays' ends. */
static nfds_t relay_fds(struct pollfd *p, void **who)
{
	struct child *c;
	struct relay *r;
	nfds_t n = 0;

	p[n] = (struct pollfd){.fd = wake, .events = POLLIN};
	who[n++] = NULL;
	for (c = children; c && n < MAX_PFD; c = c->next) {
		p[n] = (struct pollfd){.fd = c->fd, .events = POLLIN};
		who[n++] = c;
	}
	for (r = relays; r && n < MAX_PFD; r = r->next) {
		p[n] = (struct pollfd){
		    .fd = r->ufd,
		    .events = (short)((r->nu ? POLLOUT : 0) | (r->nx < RELAY_BUF ? POLLIN : 0))};
		who[n++] = r;
	}
	return n;
}

static void *relay_main(void *arg)
{
	static struct pollfd p[MAX_PFD];
	static void *who[MAX_PFD];
	nfds_t n, i, nc;

	(void)arg;
	pl_depth = 1; /* everything it calls is the shim's own */
	for (;;) {
		struct child **cp;
		struct relay **rp;
		int work = 0;

		pthread_mutex_lock(&fk_mu);
		for (struct relay *r = relays; r; r = r->next)
			work += relay_xts(r) + relay_unix(r, 0);
		n = relay_fds(p, who);
		pthread_mutex_unlock(&fk_mu);
		if (REAL(poll)(p, n, work ? 0 : PL_SLICE_MS) < 0)
			continue;
		pl_efd_drain(wake);
		pthread_mutex_lock(&fk_mu);
		for (nc = 0, cp = &children; *cp; nc++) { /* pollfd order: the list's */
			struct child *c = *cp;

			for (i = 1; i < n && who[i] != c; i++)
				;
			if (i < n && p[i].revents && !child_msg(c)) {
				*cp = c->next;
				child_gone(c);
				continue;
			}
			cp = &c->next;
		}
		for (rp = &relays; *rp;) {
			struct relay *r = *rp;

			for (i = 1; i < n && who[i] != r; i++)
				;
			relay_unix(r, i < n ? p[i].revents : 0);
			relay_xts(r);
			if (r->u_hup && !r->nx) { /* the child's copies closed, its bytes sent */
				*rp = r->next;
				relay_end(r);
				continue;
			}
			rp = &r->next;
		}
		pthread_mutex_unlock(&fk_mu);
	}
	return NULL;
}

/* In fork's parent handler (every queue's lock held): the thread, and its
 * wakeup on every open queue of ours. */
static void relay_start(void)
{
	sigset_t all, old;
	pthread_t t;
	unsigned i;

	if (wake < 0)
		wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	for (i = 0; wake >= 0 && i < pl_nq(); i++) {
		struct pl_queue *q = pl_queue_peek(i);

		if (!q || pokes[i].next)
			continue;
		pokes[i].efd = wake;
		pl_poke_add(q, &pokes[i]);
	}
	if (relay_on)
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (wake >= 0 && pthread_create(&t, NULL, relay_main, NULL) == 0) {
		pthread_detach(t);
		relay_on = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* True once the child's side of @r has ended its stream: read to EOF, or
 * shut down or closed with bytes still to read. */
static bool relay_child_done(const struct relay *r)
{
	struct pollfd p = {.fd = r->ufd, .events = POLLRDHUP};

	return r->u_eof || (REAL(poll)(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)));
}

/* At exit (pl_fini, before the queues close): the relay thread dies with
 * this process, so what a child wrote before it ended its stream must be
 * on the XTS connection first, as a kernel socket's buffer outlives the
 * last process that wrote to it (a server that forks a child per
 * connection, waits for its children and exits: the last child's echo was
 * cut short).  The relay thread does the work; this waits for it, bounded
 * (EXIT_FLUSH_MS: a peer that does not read holds the credit).  A child
 * still writing loses its relay with the parent (docs/design.md). */
void pl_fork_fini(void)
{
	unsigned pending = 0;
	struct relay *r;
	int waited;

	if (!relay_on)
		return;
	for (waited = 0; waited <= EXIT_FLUSH_MS; waited += 5) {
		pthread_mutex_lock(&fk_mu);
		pending = 0;
		for (r = relays; r; r = r->next)
			pending += !r->x_shut && relay_child_done(r);
		pthread_mutex_unlock(&fk_mu);
		if (!pending)
			return;
		REAL(write)(wake, &(uint64_t){1}, 8);
		REAL(poll)(NULL, 0, 5);
	}
	pl_log(PL_LOG_WARN, "exit: %u connections of children not flushed in %d ms: bytes lost",
	       pending, EXIT_FLUSH_MS);
}

/* ---- fork ---- */

static bool holdable(const struct pl_sock *ps)
{
	return ps && ps->kind == PL_XTS && !ps->foreign && !ps->lsn && ps->q;
}

void pl_fork_prepare(int hi)
{
	int fd;

	pthread_mutex_lock(&fk_mu);
	for (fd = 0; fd < hi && !holdable(pl_get(fd)); fd++)
		;
	if (fd < hi && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		sv[0] = sv[1] = -1; /* the child's copies will be EBADF */
}

/* Every lock is held.  The child's channel, and a hold on each connection */
void pl_fork_parent(int hi)
{
	struct child *c = NULL;
	int fd;

	if (sv[0] >= 0) {
		REAL(close)(sv[1]);
		c = calloc(1, sizeof(*c));
		if (c)
			c->h = calloc(MAX_CHILD_H, sizeof(*c->h));
		if (!c || !c->h) {
			free(c);
			REAL(close)(sv[0]); /* the child's claims fail: EBADF */
			c = NULL;
		}
	}
	for (fd = 0; c && fd < hi && c->n < MAX_CHILD_H; fd++) {
		struct pl_sock *ps = pl_get(fd);
		unsigned i;

		if (!holdable(ps))
			continue;
		for (i = 0; i < c->n && c->h[i] != ps; i++)
			; /* dup: once */
		if (i == c->n) {
			c->h[c->n++] = ps;
			ps->holds++;
		}
	}
	if (c) {
		c->fd = sv[0];
		c->next = children;
		children = c;
		relay_start();
		if (wake >= 0)
			pl_efd_drain(wake), REAL(write)(wake, &(uint64_t){1}, 8);
	}
	sv[0] = sv[1] = -1;
	pthread_mutex_unlock(&fk_mu);
}

void pl_fork_child(void)
{
	struct child *c;
	struct relay *r;

	/* the parent's channels and relays are not ours */
	for (c = children; c; c = c->next)
		REAL(close)(c->fd);
	for (r = relays; r; r = r->next)
		REAL(close)(r->ufd);
	children = NULL;
	relays = NULL;
	relay_on = false;
	memset(pokes, 0, sizeof(pokes));
	if (wake >= 0)
		REAL(close)(wake);
	wake = -1;
	if (chan >= 0)
		REAL(close)(chan); /* a grandchild claims nothing of its grandparent's */
	chan = sv[1];
	if (sv[0] >= 0)
		REAL(close)(sv[0]);
	sv[0] = sv[1] = -1;
	pthread_mutex_init(&fk_mu, NULL);
	pthread_mutex_init(&claim_mu, NULL);
}

/* ---- the child ---- */

/* Ask the parent for the connection behind @ps: 0 and *nfd, or an errno */
static int claim_ask(const struct pl_sock *ps, int *nfd)
{
	struct msg m = {.id = (uint64_t)(uintptr_t)ps, .op = 'C'};
	char iob, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&iob, 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct pollfd p = {.fd = chan, .events = POLLIN};
	struct cmsghdr *cm;

	if (REAL(send)(chan, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m))
		return errno;
	if (REAL(poll)(&p, 1, CLAIM_MS) != 1)
		return ETIMEDOUT;
	if (REAL(recvmsg)(chan, &mh, MSG_CMSG_CLOEXEC) != 1)
		return EBADF;
	cm = CMSG_FIRSTHDR(&mh);
	if (iob || !cm || cm->cmsg_type != SCM_RIGHTS)
		return iob ? iob : EBADF;
	memcpy(nfd, CMSG_DATA(cm), sizeof(int));
	return 0;
}

int pl_claim(int fd, struct pl_sock *ps)
{
	int nfd = -1, err, i, fl, hi = pl_tab_hi();

	if (chan < 0)
		return EBADF;
	pthread_mutex_lock(&claim_mu);
	if (pl_get(fd) != ps) { /* another thread claimed it meanwhile */
		pthread_mutex_unlock(&claim_mu);
		return -1;
	}
	pl_depth++;
	err = claim_ask(ps, &nfd);
	pl_depth--;
	if (err) {
		pthread_mutex_unlock(&claim_mu);
		pl_log(PL_LOG_INFO, "fd %d: an XTS connection of the parent process: %s", fd,
		       strerror(err));
		return err;
	}
	/* the pair is made non-blocking (the relay's end must be): the
	 * child's end takes the program's mode */
	REAL(fcntl)(nfd, F_SETFL, ps->nonblock ? O_NONBLOCK : 0);
	pthread_mutex_lock(&pl_mu);
	for (i = 0; i < hi; i++) { /* every number naming it, dups too */
		if (pl_get(i) != ps)
			continue;
		fl = REAL(fcntl)(i, F_GETFD);
		REAL(dup3)(nfd, i, fl > 0 && (fl & FD_CLOEXEC) ? O_CLOEXEC : 0);
		pl_set(i, NULL);
	}
	pthread_mutex_unlock(&pl_mu);
	REAL(close)(nfd);
	pthread_mutex_unlock(&claim_mu);
	free(ps); /* the child's copy of the parent's */
	pl_log(PL_LOG_DEBUG, "fd %d: inherited connection claimed, relayed by the parent", fd);
	return -1;
}

/* The child closed its last copy of an inherited connection unclaimed */
void pl_claim_drop(const struct pl_sock *ps)
{
	struct msg m = {.id = (uint64_t)(uintptr_t)ps, .op = 'D'};

	if (chan >= 0 && REAL(send)(chan, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* the parent is gone or its channel full: its hold ends with us */
	}
}

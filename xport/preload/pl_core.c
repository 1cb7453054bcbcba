// SPDX-License-Identifier: BSD-2-Clause
/*
 * pl_core.c - the shim's state: libc's own functions, the fd table, the
 * queues (opened lazily, leased from xportd when one runs), waiting, the
 * progress thread, fork and exit.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"
#include "xport_int.h" /* the engine's sequence numbers, read without a syscall */
#include "xts_lease.h"

struct pl_real pl_real;
__thread int pl_depth __attribute__((tls_model("initial-exec")));
__thread bool pl_turn __attribute__((tls_model("initial-exec")));
__thread uint64_t pl_dirty __attribute__((tls_model("initial-exec")));
bool pl_batch = true;
int pl_sleepers;
int pl_log_level = PL_LOG_WARN;
pthread_mutex_t pl_mu = PTHREAD_MUTEX_INITIALIZER;
struct pl_rules pl_rules = {.dflt = PL_OFFLOAD};
int pl_fallback_fail;

static struct pl_sock *_Atomic *tab; /* fd -> socket */
static int tab_n;
static _Atomic int tab_hi; /* no entry at or past it: what fork walks */
static struct pl_queue qs[PL_MAX_Q];
static unsigned nq = 1;
static atomic_uint q_rr;
static __thread int t_q = -1; /* this thread's queue (round robin) */
static __thread int t_efd = -1;
static __thread unsigned t_efd_gen;
static unsigned fork_gen; /* a child's thread eventfds are its parent's */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t efd_key;
static bool progress_on;
static const char *ifname = "xh0";
/* xportd's socket and --queue as the program started with them: nginx
 * clears the environment of its workers, which lease their queues after
 * that */
static const char *xportd_path, *queue_env; /* copies: nginx's title overwrites the strings */

void pl_resolve(void)
{
#define R(f) pl_real.f = (__typeof__(pl_real.f))dlsym(RTLD_NEXT, #f)
	R(socket), R(connect), R(bind), R(listen), R(accept), R(accept4), R(close);
	R(shutdown), R(read), R(write), R(readv), R(writev), R(recv), R(send);
	R(recvfrom), R(sendto), R(recvmsg), R(sendmsg), R(fcntl), R(ioctl);
	R(getsockopt), R(setsockopt), R(getsockname), R(getpeername), R(poll);
	R(ppoll), R(select), R(pselect), R(epoll_ctl), R(epoll_wait), R(epoll_pwait);
	R(dup), R(dup2), R(dup3), R(close_range), R(closefrom), R(sendfile);
	R(recvmmsg), R(sendmmsg), R(splice), R(epoll_pwait2);
#undef R
}

void pl_log(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n, e = errno;

	if (level > pl_log_level)
		return;
	n = snprintf(buf, sizeof(buf), "xts-run[%d]: ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	pl_depth++;
	if (REAL(write)(2, buf, (size_t)n) < 0) { /* nothing better to do */
	}
	pl_depth--;
	errno = e;
}

/* ---- time ---- */

uint64_t pl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t pl_deadline_us(int64_t us)
{
	return us <= 0 ? UINT64_MAX : pl_now_ns() + (uint64_t)us * 1000ull;
}

uint64_t pl_deadline_ms(int ms)
{
	return ms < 0 ? UINT64_MAX : pl_now_ns() + (uint64_t)ms * 1000000ull;
}

int pl_remaining_ms(uint64_t dl)
{
	uint64_t now = pl_now_ns();

	if (dl == UINT64_MAX)
		return -1;
	if (dl <= now)
		return 0;
	return (int)((dl - now + 999999) / 1000000);
}

/* ---- the table ---- */

struct pl_sock *pl_get(int fd)
{
	if (!tab || fd < 0 || fd >= tab_n)
		return NULL;
	return atomic_load_explicit(&tab[fd], memory_order_acquire);
}

int pl_set(int fd, struct pl_sock *ps)
{
	int hi;

	if (!tab || fd < 0 || fd >= tab_n)
		return -EMFILE;
	hi = atomic_load_explicit(&tab_hi, memory_order_relaxed);

	atomic_store_explicit(&tab[fd], ps, memory_order_release);
	while (ps && fd >= hi && !atomic_compare_exchange_weak(&tab_hi, &hi, fd + 1))
		; /* socket() sets entries without pl_mu */
	return 0;
}

void pl_sock_unref(struct pl_sock *ps)
{
	if (--ps->refs > 0 || ps->holds) /* a child may still claim it: its hold ends it */
		return;
	if (ps->foreign)
		pl_claim_drop(ps); /* the parent's hold for us ends */
	if (ps->lsn) {
		pl_lsn_close(ps);
	} else if (ps->kind == PL_XTS && !ps->foreign) {
		pl_qlock(ps->q);
		xport_close(ps->q->xp, ps->sd);
		ps->q->force = true; /* other threads may wait on it */
		pl_qunlock(ps->q);
	}
	free(ps);
}

void pl_drop(int fd)
{
	struct pl_sock *ps = pl_get(fd);

	if (!ps)
		return;
	pl_set(fd, NULL);
	pl_sock_unref(ps);
}

/* ---- waiting ---- */

static void efd_free(void *p)
{
	(void)p;
	if (t_efd >= 0)
		REAL(close)(t_efd);
	t_efd = -1;
}

int pl_thread_efd(void)
{
	if (t_efd >= 0 && t_efd_gen == fork_gen)
		return t_efd;
	/* after fork the child's copy is the parent's eventfd: a new one
	 * (the old number stays the parent's business in the child) */
	t_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	t_efd_gen = fork_gen;
	if (t_efd >= 0)
		pthread_setspecific(efd_key, &t_efd);
	return t_efd;
}

void pl_efd_drain(int efd)
{
	uint64_t v;

	if (REAL(read)(efd, &v, sizeof(v)) < 0) { /* EAGAIN: nothing there */
	}
}

void pl_poke_add(struct pl_queue *q, struct pl_poke *p)
{
	p->next = q->pokes.next;
	p->prev = &q->pokes;
	q->pokes.next->prev = p;
	q->pokes.next = p;
}

void pl_poke_del(struct pl_poke *p)
{
	p->prev->next = p->next;
	p->next->prev = p->prev;
	p->next = p->prev = p;
}

void pl_qlock(struct pl_queue *q)
{
	pl_depth++;
	pthread_mutex_lock(&q->mu);
}

/* What the DPU has sent and acknowledged so far: it moves with every
 * frame that can make a socket ready.  Read from the engine, not with
 * xport_stats, which asks the AF_XDP socket for its counters (a
 * getsockopt per call). */
static uint64_t rx_gen(struct pl_queue *q)
{
	__u32 tx, rx, ack;

	xts_link__seq_state(q->xp->link, &tx, &rx, &ack);
	return (uint64_t)rx << 32 | ack;
}

/* Frames came in since we last looked (or a local change, force): wake
 * whoever waits on the queue's sockets; they look for themselves. */
static void notify(struct pl_queue *q)
{
	struct pl_poke *p;
	uint64_t one = 1, gen;

	for (p = q->pokes.next; p != &q->pokes; p = p->next)
		if (!p->gate || __atomic_load_n(p->gate, __ATOMIC_SEQ_CST) > 0)
			break;
	if (p == &q->pokes) /* nobody sleeps: nobody to wake */
		return;
	gen = rx_gen(q);
	if (gen == q->rx_seen && !q->force)
		return;
	q->rx_seen = gen;
	q->force = false;
	for (p = q->pokes.next; p != &q->pokes; p = p->next)
		if ((!p->gate || __atomic_load_n(p->gate, __ATOMIC_SEQ_CST) > 0) &&
		    REAL(write)(p->efd, &one, sizeof(one)) < 0) { /* full: it is awake */
		}
}

/* The doorbell: what is on the ring goes to the DPU.  q locked. */
static void q_flush(struct pl_queue *q)
{
	xport_flush(q->xp);
	q->deferred = false;
}

void pl_qunlock(struct pl_queue *q)
{
	if (q->xp) {
		if (!pl_turn) {
			/* the doorbell only for frames there (libxport's own run
			 * queued its ACK, if one was due): a call that sent
			 * nothing costs no flush */
			if (xts_link__unkicked(q->xp->link))
				q_flush(q);
			q->deferred = false;
		} else if (xts_link__unkicked(q->xp->link)) {
			q->deferred = true;
			pl_dirty |= 1ull << q->idx;
		}
		if (__atomic_load_n(&pl_sleepers, __ATOMIC_SEQ_CST))
			notify(q); /* else nobody to wake */
		q->runs++;
	}
	pthread_mutex_unlock(&q->mu);
	pl_depth--;
}

void pl_flush_dirty(void)
{
	uint64_t d = pl_dirty;

	pl_dirty = 0;
	pl_turn = false;
	while (d) {
		struct pl_queue *q = &qs[__builtin_ctzll(d)];

		d &= d - 1;
		pl_qlock(q); /* and its unlock rings the doorbell */
		pl_qunlock(q);
	}
}

int pl_qwait(struct pl_queue *q, uint64_t dl)
{
	struct pl_poke w = {.efd = pl_thread_efd()};
	struct pollfd pfd[2];
	int ms = pl_remaining_ms(dl), r, e;

	if (ms == 0)
		return -ETIMEDOUT;
	if (w.efd < 0)
		return -errno;
	if (ms < 0 || ms > PL_SLICE_MS)
		ms = PL_SLICE_MS; /* then the caller runs the engine and looks again */
	pfd[0] = (struct pollfd){.fd = w.efd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = q->xfd, .events = POLLIN};
	q_flush(q); /* what this thread (and the others) queued goes before it sleeps */
	pl_poke_add(q, &w);
	pl_sleepers_add(1);
	pthread_mutex_unlock(&q->mu); /* still pl_depth > 0 */
	if (pl_dirty)		      /* the turn's frames on other queues go too (no lock held) */
		pl_flush_dirty();
	r = REAL(poll)(pfd, 2, ms);
	e = errno;
	pthread_mutex_lock(&q->mu);
	pl_sleepers_add(-1);
	pl_poke_del(&w);
	if (r > 0 && pfd[0].revents)
		pl_efd_drain(w.efd);
	if (r < 0 && e == EINTR)
		return -EINTR;
	return 0;
}

/* ---- queues ---- */

static unsigned rx_queues(void)
{
	char path[128];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	d = opendir(path);
	if (!d)
		return 1;
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, "rx-", 3);
	closedir(d);
	return n ? n : 1;
}

/* xportd picks a queue; without one, any queue of ifname we can open
 * directly (root), starting at one that depends on pid and index so that
 * processes spread. */
static int queue_open(struct pl_queue *q)
{
	/* batched doorbell: the shim rings it (pl_qunlock, pl_turn) */
	struct xport_opts o = {.sz = sizeof(o), .flags = XPORT_OPT_BATCH, .xportd = xportd_path};
	const char *env = queue_env;
	unsigned i, n, first;
	int err;

	err = xport_open(&q->xp, ifname, XPORT_QUEUE_ANY, &o);
	if (err != -EINVAL) /* xportd answered (yes or no) */
		goto out;
	o.flags |= XPORT_OPT_DIRECT;
	n = env && *env ? 1 : rx_queues();
	first = env && *env ? (unsigned)atoi(env) + q->idx : (unsigned)getpid() + q->idx;
	for (i = 0; i < n; i++) {
		unsigned qn = env && *env ? first : (first + i) % n;

		err = xport_open(&q->xp, ifname, qn, &o);
		pl_log(PL_LOG_DEBUG, "queue %u of %s (direct): %s", qn, ifname,
		       err ? strerror(-err) : "open");
		if (err != -EBUSY)
			break;
	}
out:
	if (err) {
		const char *why = xport_last_error();

		q->xp = NULL;
		pl_log(PL_LOG_WARN, "no XTS queue on %s: %s%s%s", ifname, strerror(-err),
		       why ? ": " : "", why ? why : "");
		return err;
	}
	q->xfd = xport_fd(q->xp);
	/* a program this process execs must not hold our queue */
	REAL(fcntl)(q->xfd, F_SETFD, FD_CLOEXEC);
	pl_log(PL_LOG_INFO, "queue %u of %s open%s", xport_queue(q->xp), ifname,
	       o.flags & XPORT_OPT_DIRECT ? " (direct)" : " (xportd lease)");
	return 0;
}

/* Answers PINGs, returns credit, rings doorbells while the program sleeps
 * outside the shim: a queue nobody ran since its last look gets a turn,
 * 10 times a second (counting unlocks, not reading a clock at each),
 * never waiting for a lock an application thread holds; and a queue
 * whose frames a turn left (its thread sleeps elsewhere) its doorbell. */
static void *progress(void *arg)
{
	uint64_t seen[PL_MAX_Q] = {0};
	unsigned i;

	(void)arg;
	pl_depth = 1; /* everything it calls is the shim's own */
	for (;;) {
		REAL(poll)(NULL, 0, PL_SLICE_MS);
		for (i = 0; i < nq; i++) {
			struct pl_queue *q = &qs[i];

			if (!q->xp || pthread_mutex_trylock(&q->mu))
				continue;
			if (q->xp && q->runs == seen[i]) {
				xport_process(q->xp);
				notify(q);
			} else if (q->xp && q->deferred) {
				q_flush(q);
			}
			seen[i] = q->runs;
			pthread_mutex_unlock(&q->mu);
		}
	}
	return NULL;
}

static void progress_start(void)
{
	sigset_t all, old;
	pthread_t t;

	if (progress_on)
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the program's signals are not ours */
	if (pthread_create(&t, NULL, progress, NULL) == 0) {
		pthread_detach(t);
		progress_on = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

unsigned pl_nq(void)
{
	return nq;
}

struct pl_queue *pl_queue_at(unsigned idx, int *err)
{
	struct pl_queue *q = &qs[idx % nq];

	*err = 0;
	if (q->xp)
		return q;
	pl_depth++;
	pthread_mutex_lock(&open_mu);
	if (!q->xp && !q->open_err) {
		pthread_mutex_lock(&q->mu);
		q->open_err = queue_open(q);
		pthread_mutex_unlock(&q->mu);
		if (!q->open_err)
			progress_start();
	}
	*err = q->open_err;
	pthread_mutex_unlock(&open_mu);
	pl_depth--;
	return q->xp ? q : NULL;
}

struct pl_queue *pl_queue_peek(unsigned idx)
{
	return idx < nq && qs[idx].xp ? &qs[idx] : NULL;
}

int pl_tab_hi(void)
{
	return atomic_load_explicit(&tab_hi, memory_order_relaxed);
}

struct pl_queue *pl_queue_get(int *err)
{
	if (t_q < 0)
		t_q = (int)(atomic_fetch_add(&q_rr, 1) % nq);
	return pl_queue_at((unsigned)t_q, err);
}

/* ---- fork, exit ---- */

static void fork_prepare(void)
{
	unsigned i;

	pl_depth++;
	pl_fork_prepare(pl_tab_hi());
	pthread_mutex_lock(&open_mu);
	pthread_mutex_lock(&pl_mu);
	for (i = 0; i < nq; i++)
		pthread_mutex_lock(&qs[i].mu);
}

/* A listener the parent never accepted from nor waited on is parked: its
 * DPU listeners go (the children listen for themselves, pl_lsn.c), and
 * it listens again if the parent ever uses it; one it uses is shared with
 * the child now.  Every lock is held. */
static void fork_parent(void)
{
	int fd, hi = atomic_load_explicit(&tab_hi, memory_order_relaxed);
	unsigned i;

	for (fd = 0; fd < hi; fd++) {
		struct pl_sock *ps = pl_get(fd);

		if (ps && ps->lsn)
			pl_lsn_fork_parent(ps);
	}
	pl_fork_parent(hi);
	for (i = 0; i < nq; i++)
		pthread_mutex_unlock(&qs[i].mu);
	pthread_mutex_unlock(&pl_mu);
	pthread_mutex_unlock(&open_mu);
	pl_depth--;
}

/* The child shares the parent's queue rings (mapped from the same AF_XDP
 * socket): it must never touch them.  Its inherited XTS sockets are the
 * parent's (close() drops them here only), and it opens queues of its own
 * when it makes sockets of its own. */
static void fork_child(void)
{
	unsigned i;

	for (i = 0; i < nq; i++) {
		struct pl_queue *q = &qs[i];

		pthread_mutex_init(&q->mu, NULL);
		q->xp = NULL;
		q->xfd = -1;
		q->open_err = 0;
		q->pokes.next = q->pokes.prev = &q->pokes;
	}
	pthread_mutex_init(&pl_mu, NULL);
	pthread_mutex_init(&open_mu, NULL);
	fork_gen++;
	progress_on = false;
	pl_dirty = 0; /* the parent's turn, on the parent's queues */
	pl_sock_fork_child();
	pl_ep_fork_child();
	pl_fork_child();
	pl_depth--;
}

/* Connections are the parent's (foreign); listeners are parked, to
 * listen on the child's own queues when it first uses them. */
void pl_sock_fork_child(void)
{
	int fd, hi = atomic_load_explicit(&tab_hi, memory_order_relaxed);

	for (fd = 0; fd < hi; fd++) {
		struct pl_sock *ps = pl_get(fd);

		if (ps && ps->lsn)
			pl_lsn_fork_child(ps);
		else if (ps && ps->kind == PL_XTS)
			ps->foreign = true, ps->holds = 0; /* the parent's holds are its own */
	}
}

/* What the queue cost this process (XTS_RUN_LOG=info): xts-bench's
 * xtsrun path reads the doorbells from here */
static void log_costs(struct pl_queue *q)
{
	struct xport_stats st;

	if (pl_log_level < PL_LOG_INFO || xport_stats(q->xp, &st, sizeof(st)))
		return;
	pl_log(PL_LOG_INFO, "queue %u: %llu frames out, %llu in, %llu doorbells, %llu sleeps",
	       xport_queue(q->xp), (unsigned long long)st.tx_frames,
	       (unsigned long long)st.rx_frames, (unsigned long long)st.kicks,
	       (unsigned long long)st.sleeps);
}

/* Close what the program left open (a FIN after its last byte, as the
 * kernel would send), then end the queue session gracefully. */
static void __attribute__((destructor)) pl_fini(void)
{
	unsigned i;
	int fd, tries;

	if (!tab)
		return;
	pl_depth++;
	pl_fork_fini(); /* children's bytes the relay thread still moves */
	for (i = 0; i < nq; i++) {
		struct pl_queue *q = &qs[i];

		if (!q->xp)
			continue;
		/* another thread inside the shim at exit: leave its queue */
		for (tries = 0; tries < 20 && pthread_mutex_trylock(&q->mu); tries++)
			REAL(poll)(NULL, 0, 10);
		if (tries == 20)
			continue;
		for (fd = 0; fd < tab_hi; fd++) {
			struct pl_sock *ps = pl_get(fd);

			if (ps && ps->kind == PL_XTS && !ps->foreign && !ps->lsn && ps->q == q &&
			    ps->sd >= 0) {
				xport_close(q->xp, ps->sd);
				ps->sd = -1;
			} else if (ps && ps->lsn) {
				pl_lsn_exit(ps, q);
			}
		}
		log_costs(q);
		xport_close_queue(q->xp);
		q->xp = NULL; /* the lock stays held: nobody runs it again */
	}
}

static void __attribute__((constructor)) pl_init(void)
{
	const char *e;
	struct rlimit rl;
	char err[256];
	unsigned i;
	void *m;

	pl_resolve();
	e = getenv("XTS_RUN_LOG");
	if (e && *e)
		pl_log_level = !strcmp(e, "debug")   ? PL_LOG_DEBUG
			       : !strcmp(e, "info")  ? PL_LOG_INFO
			       : !strcmp(e, "quiet") ? PL_LOG_QUIET
						     : PL_LOG_WARN;
	e = getenv("XTS_RUN_IF");
	if (e && *e)
		ifname = strdup(e) ?: ifname;
	e = getenv(XTS_LEASE_ENV);
	if (e && *e)
		xportd_path = strdup(e);
	e = getenv("XTS_RUN_QUEUE");
	if (e && *e)
		queue_env = strdup(e);
	e = getenv("XTS_RUN_QUEUES");
	if (e && *e)
		nq = (unsigned)atoi(e);
	if (nq < 1 || nq > PL_MAX_Q)
		nq = 1;
	e = getenv("XTS_RUN_BATCH");
	pl_batch = !(e && !strcmp(e, "0"));
	e = getenv("XTS_RUN_FALLBACK");
	pl_fallback_fail = e && !strcmp(e, "fail");
	e = getenv("XTS_RUN_RULES");
	if (e && *e && pl_rules_load(&pl_rules, e, err, sizeof(err))) {
		/* xts-run checked the file: it changed since.  Nothing offloaded. */
		pl_log(PL_LOG_WARN, "%s; no socket offloaded", err);
		pl_rules.dflt = PL_KERNEL;
	}
	for (i = 0; i < PL_MAX_Q; i++) {
		pthread_mutex_init(&qs[i].mu, NULL);
		qs[i].idx = i;
		qs[i].xfd = -1;
		qs[i].pokes.next = qs[i].pokes.prev = &qs[i].pokes;
	}
	pthread_key_create(&efd_key, efd_free);
	if (getrlimit(RLIMIT_NOFILE, &rl))
		rl.rlim_max = 65536;
	if (rl.rlim_max > (1u << 20) || rl.rlim_max == RLIM_INFINITY)
		rl.rlim_max = 1u << 20;
	/* untouched pages of the table cost nothing */
	m = mmap(NULL, rl.rlim_max * sizeof(*tab), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		pl_log(PL_LOG_WARN, "no memory for the fd table; nothing offloaded");
		return;
	}
	tab_n = (int)rl.rlim_max;
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	pl_ep_init_tab((int)rl.rlim_max);
	tab = m;
	pl_log(PL_LOG_DEBUG, "loaded: %u queue(s) on %s, %u rule(s), default %s", nq, ifname,
	       pl_rules.n, pl_rules.dflt == PL_OFFLOAD ? "offload" : "kernel");
}

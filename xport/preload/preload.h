/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * preload.h - libxts-preload.so, the LD_PRELOAD shim behind xts-run: the
 * TCP sockets of an unmodified program become libxport sockets.
 *
 * Each XTS socket keeps a real kernel socket of the same domain and type
 * (its placeholder) under the fd number the program sees, so numbers never
 * collide and fstat, CLOEXEC, O_NONBLOCK's flag word and dup behave; the
 * table maps that fd to the XTS socket.  Every fd not in the table goes
 * straight to libc.  A socket is in the table from socket() on, undecided
 * ("pending": its placeholder is all there is, and it answers for it)
 * until connect() or listen() consults the rules: then it becomes an XTS
 * socket or leaves the table for good (a kernel socket like any other).
 *
 * Locks: pl_mu guards the table and pending sockets; each queue's mutex
 * guards its struct xport (libxport has no locks of its own).  Order:
 * pl_mu before a queue's, never the other way round.
 *
 * Every call into libxport, and every call we make to libc, runs with
 * pl_depth > 0, and every wrapper goes straight to libc when it is: so
 * libxport, libxdp and libbpf, which call socket(), poll(), close() of
 * their own, never come back in here (and a signal handler that interrupts
 * the shim cannot deadlock on a queue lock: see docs/design.md, xts-run).
 */
#ifndef XTS_PRELOAD_H
#define XTS_PRELOAD_H

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "xport.h"

#define PL_MAX_Q    64	/* queues per process (--queues) */
#define PL_MAX_OPTS 12	/* options set on a pending socket, replayed */
#define PL_MAX_REGS 4	/* epoll sets a pending socket was put in */
#define PL_SLICE_MS 100 /* longest kernel sleep between engine runs */

/* ---- libc, as it was before us ---- */
struct pl_real {
	int (*socket)(int, int, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*close)(int);
	int (*shutdown)(int, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*fcntl)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
		       const sigset_t *);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*close_range)(unsigned, unsigned, int);
	void (*closefrom)(int);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	int (*recvmmsg)(int, struct mmsghdr *, unsigned, int, struct timespec *);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned, int);
	ssize_t (*splice)(int, loff_t *, int, loff_t *, size_t, unsigned);
	int (*epoll_pwait2)(int, struct epoll_event *, int, const struct timespec *,
			    const sigset_t *);
};
extern struct pl_real pl_real;
void pl_resolve(void);
#define REAL(f) (pl_real.f ? pl_real.f : (pl_resolve(), pl_real.f))

/* > 0 while the shim is at work on this thread: wrappers pass through */
extern __thread int pl_depth __attribute__((tls_model("initial-exec")));

/* ---- logging: XTS_RUN_LOG=debug|info|warn|quiet ---- */
enum { PL_LOG_QUIET, PL_LOG_WARN, PL_LOG_INFO, PL_LOG_DEBUG };
extern int pl_log_level;
void pl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- rules (pl_rules.c; xts-run checks the file with the same code) ---- */
enum { PL_KERNEL = 0, PL_OFFLOAD = 1 };
enum { PL_ROLE_ANY = 0, PL_ROLE_CLIENT = 1, PL_ROLE_SERVER = 2 };

/* A `tls terminate|originate` rule's TLS: what the XTS socket gets pushed
 * (TCP_ULP "tls" and its SOL_XTS options) before its listen or connect.
 * Lives as long as the rules (the preload's: the process's). */
struct pl_tls {
	unsigned line;	  /* of the rule, for logs */
	char profile[16]; /* XTS_TLS_PROFILE */
	char name[256];	  /* originate: XTS_TLS_SERVER_NAME; "" none */
	uint8_t alpn[64]; /* XTS_TLS_ALPN, wire form */
	unsigned alpn_len;
};

struct pl_rule;
struct pl_rules {
	struct pl_rule *r;
	unsigned n;
	int dflt; /* PL_OFFLOAD unless `default kernel` */
};
/* 0, or -1 with "FILE:LINE: reason" in err */
int pl_rules_load(struct pl_rules *rs, const char *path, char *err, size_t errlen);
void pl_rules_free(struct pl_rules *rs);
/* PL_OFFLOAD or PL_KERNEL for @role and address @sa (destination of a
 * connect, local address of a listen); *why says which rule; *tls (when
 * @tls is not NULL) the TLS that rule pushes, or NULL */
int pl_rules_match(const struct pl_rules *rs, int role, const struct sockaddr *sa, socklen_t len,
		   const char **why, const struct pl_tls **tls);
/* Push @t on libxport socket @sd (before its connect or listen): 0, or
 * -1 with errno (pl_sock.c) */
int pl_tls_push(struct xport *xp, int sd, const struct pl_tls *t);

/* ---- queues (pl_core.c) ---- */

/* Something waiting for a queue's sockets: an eventfd that whoever runs
 * the queue's engine writes when frames came in (pl_qunlock). */
struct pl_poke {
	int efd;
	/* NULL: always; else only while *gate > 0 (an epoll's eventfd is
	 * written only while a thread sleeps in its epoll_wait: the
	 * program's own calls between two waits cost no write) */
	const int *gate;
	struct pl_poke *prev, *next;
};

struct pl_queue {
	pthread_mutex_t mu;
	struct xport *xp; /* NULL: not open (yet) in this process */
	int xfd;	  /* xport_fd */
	unsigned idx;
	int open_err; /* the last open failed with this (-errno); tried once */
	uint64_t rx_seen;
	uint64_t runs;	      /* unlocks: the progress thread runs a queue nobody did */
	bool force;	      /* poke the waiters at unlock whatever the counters say */
	bool deferred;	      /* frames left for the end of a thread's turn (pl_turn) */
	struct pl_poke pokes; /* list head */
};

struct pl_queue *pl_queue_get(int *err);
/* queue @idx of this process (--queues N: 0..N-1), opened if need be */
struct pl_queue *pl_queue_at(unsigned idx, int *err);
unsigned pl_nq(void);
struct pl_queue *pl_queue_peek(unsigned idx); /* NULL: not open */
int pl_tab_hi(void);			      /* no table entry at or past it */
void pl_qlock(struct pl_queue *q);
void pl_qunlock(struct pl_queue *q);

/* One doorbell per turn of the program's event loop (docs/design.md,
 * "Cost of the shim"): from the return of the shim's epoll_wait, poll or
 * select until this thread next waits, its calls leave their frames on
 * the queues' rings (pl_turn: it is in a turn; pl_dirty: the queues they
 * are on), as libxport's XPORT_OPT_BATCH does for a native program; the
 * next wait, blocking call, or read or wait on a kernel fd rings them
 * (pl_turn_over), and the progress thread within PL_SLICE_MS if the
 * thread sleeps elsewhere.  XTS_RUN_BATCH=0: a doorbell per call. */
extern __thread bool pl_turn __attribute__((tls_model("initial-exec")));
extern __thread uint64_t pl_dirty __attribute__((tls_model("initial-exec")));
extern bool pl_batch;
void pl_flush_dirty(void);
static inline void pl_turn_over(void)
{
	if (pl_depth) /* the shim's own call: its caller's turn goes on */
		return;
	if (pl_dirty)
		pl_flush_dirty();
	pl_turn = false;
}
static inline void pl_turn_begin(void)
{
	pl_turn = pl_batch;
}
/* With q locked: sleep (lock released) until the queue's engine saw
 * frames, or @deadline_ns (UINT64_MAX: none).  0 (check again), -EINTR,
 * -ETIMEDOUT. */
int pl_qwait(struct pl_queue *q, uint64_t deadline_ns);
void pl_poke_add(struct pl_queue *q, struct pl_poke *p);
/* Threads about to sleep on some queue (counted before their last look):
 * while there are none, an unlock looks at no poke */
extern int pl_sleepers;
static inline void pl_sleepers_add(int d)
{
	__atomic_add_fetch(&pl_sleepers, d, __ATOMIC_SEQ_CST);
}
void pl_poke_del(struct pl_poke *p);
int pl_thread_efd(void);
void pl_efd_drain(int efd);
uint64_t pl_now_ns(void);
uint64_t pl_deadline_us(int64_t us); /* us 0: forever */
uint64_t pl_deadline_ms(int ms);     /* ms < 0: forever */
int pl_remaining_ms(uint64_t deadline_ns);

/* ---- sockets (pl_core.c: the table) ---- */
enum { PL_PENDING = 1, PL_XTS };

struct pl_opt {
	int level, name;
	socklen_t len;
	unsigned char val[16];
};

struct pl_reg { /* an epoll set a pending socket is in (kernel) */
	int epfd;
	struct epoll_event ev;
};

struct pl_member { /* a libxport socket of an XTS socket, on its queue */
	struct pl_queue *q;
	int sd;
};

struct pl_sock {
	int refs;	/* fds naming it (dup) */
	uint8_t kind;	/* PL_PENDING, PL_XTS */
	bool foreign;	/* inherited over fork: the parent's (pl_fork.c) */
	unsigned holds; /* parent: children that may claim it (pl_fork.c) */
	bool nonblock;	/* O_NONBLOCK of the file description */
	int domain, type;
	struct pl_queue *q;		  /* PL_XTS */
	int sd;				  /* PL_XTS: the libxport socket */
	const struct pl_tls *tls;	  /* PL_XTS: a TLS rule's, pushed; NULL none */
	bool tls_said;			  /* its failure was logged */
	int64_t rcvtimeo_us, sndtimeo_us; /* 0: forever */
	/* a listener (pl_lsn.c): q/sd is its member on the first queue, xm
	 * the others (--queues N); parked (q NULL): no DPU listener in this
	 * process until it first accepts or waits on it (fork) */
	bool lsn, used;
	bool shared; /* open in another process too (forked): XTS_LSN_SHARED */
	int backlog;
	unsigned nxm, rr;
	struct pl_member *xm;
	/* pending: what the XTS socket must be given when it is made */
	bool bound, bound_local; /* bind() recorded; the placeholder bound too */
	struct sockaddr_storage baddr;
	socklen_t blen;
	unsigned nopt, nreg;
	struct pl_opt opt[PL_MAX_OPTS];
	struct pl_reg reg[PL_MAX_REGS];
};

extern pthread_mutex_t pl_mu;
extern struct pl_rules pl_rules;
extern int pl_fallback_fail; /* no queue: fail the call instead of kernel TCP */
struct pl_sock *pl_get(int fd);
int pl_set(int fd, struct pl_sock *ps); /* 0 or -EMFILE (fd past the table) */
/* Drop @fd's entry (under pl_mu); the last reference closes the XTS
 * socket.  The placeholder is the caller's to close. */
void pl_drop(int fd);
void pl_sock_unref(struct pl_sock *ps);

/* ---- listeners (pl_lsn.c) ---- */
/* listen() of an XTS socket: the DPU listens on every queue of ours */
int pl_lsn_listen(int fd, struct pl_sock *ps, int backlog);
/* A parked listener listens again (under pl_mu): 0 or -errno */
int pl_lsn_up(struct pl_sock *ps);
/* 0: @ps may be used here (a parked listener is listened again); -1: an
 * inherited connection, claimed: @fd is a kernel socket now (go to libc);
 * or an errno */
int pl_usable(int fd, struct pl_sock *ps);
int pl_lsn_accept(int fd, struct pl_sock *ps, struct sockaddr *a, socklen_t *alen, int flags);
/* every libxport socket of @ps into out[] (at most 1 + PL_MAX_Q): count */
unsigned pl_members(const struct pl_sock *ps, struct pl_member *out);
void pl_lsn_close(struct pl_sock *ps);
void pl_lsn_fork_parent(struct pl_sock *ps);
void pl_lsn_fork_child(struct pl_sock *ps);
/* at exit: close @ps's members on @q (its lock held) */
void pl_lsn_exit(struct pl_sock *ps, struct pl_queue *q);
/* the shim's record of an option (pending sockets, listeners) */
void pl_opt_note(struct pl_sock *ps, int level, int name, const void *val, socklen_t len);

/* ---- connections across fork (pl_fork.c) ---- */
void pl_fork_prepare(int hi);
void pl_fork_parent(int hi);
void pl_fork_child(void);
void pl_fork_fini(void);
/* child: the parent relays @ps from now on, @fd (and its dups) a unix
 * socket: -1 (go to libc); or an errno */
int pl_claim(int fd, struct pl_sock *ps);
void pl_claim_drop(const struct pl_sock *ps);

/* ---- the calls (pl_sock.c, pl_io.c, pl_poll.c) ---- */
int pl_poll_mixed(struct pollfd *fds, nfds_t n, uint64_t deadline_ns, const sigset_t *mask);
/* an XTS socket's registrations move from the kernel epolls to ours */
void pl_ep_adopt(int fd, struct pl_sock *ps);
void pl_ep_forget(int epfd);
void pl_ep_fork_child(void);
void pl_ep_init_tab(int n);
void pl_sock_fork_child(void);

#endif

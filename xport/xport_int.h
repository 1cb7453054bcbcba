/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xport_int.h - libxport internals: the socket, the queue session and the
 * queue object, shared by the files of one idea each: queue.c (open and
 * close), session.c (HELLO, liveness, loss), engine.c (the engine every
 * call runs, owed frames), conn.c (a connection's frames from the DPU),
 * socktab.c (the socket table), rbuf.c (receive rings), sock.c, listen.c
 * and opts.c (the socket calls), poll.c (waiting).
 *
 * Conventions: internal helpers return 0 or -errno; only the exported
 * xport_* calls set errno and return -1.  One struct xport is owned by one
 * thread, so nothing here locks.
 */
#ifndef XPORT_INT_H
#define XPORT_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "xport.h"
#include "link.h"
#include "fifo.h"

#define XP_DEF_RCVBUF	(256u * 1024)
#define XP_MAX_RCVBUF	(1u << 30)
#define XP_RBUF_MIN	1024u /* first receive ring of a connection */
#define XP_DEF_HELLO_MS 2000
#define XP_DEF_SOCKETS	16384
#define XP_KICK_BATCH	32 /* copy-mode sendto() sends at most this many frames */
#define XP_RX_BATCH	64
#define XP_SOCKOPT_MS	2000 /* a SOCKOPT answer from the DPU */
#define XP_FOREVER	UINT64_MAX
#define XP_ZC_SOCK_MAX	128 /* DATA frames one socket may hold for xport_recv_zc */
#define XP_ZC_TX_MAX	32  /* tx frames lent by xport_send_buf, per queue */

/* A DATA frame kept for xport_recv_zc: its unread payload, and the
 * link's token to give the frame back. */
struct xp_zseg {
	const uint8_t *p;
	uint32_t len;
	uint64_t token;
};

/* A socket's zero-copy state (zc.c), allocated on its first zero-copy
 * call: the kept frames come before the receive ring in stream order
 * (a frame is kept only while the ring is empty), and at most one tx
 * frame is lent. */
struct xp_zc {
	struct xp_zseg q[XP_ZC_SOCK_MAX]; /* ring of kept frames */
	uint32_t head, n;
	uint32_t bytes; /* unread in q */
	uint32_t lent;	/* bytes xport_recv_zc lent (from the stream's start) */
	bool rx_on;	/* xport_recv_zc was called: keep DATA frames */
	bool tx_lent;
	struct xts_txf txf; /* while tx_lent */
};

enum xs_state {
	XS_FREE = 0,
	XS_NEW,		/* not connected: fresh, or a failed connect reported */
	XS_CONNECTING,	/* CONNECT sent, CONNECT_RES awaited */
	XS_CONNECTED,	/* established: peer_id names the DPU connection */
	XS_DEAD,	/* connect failed or connection reset: so_error says why */
	XS_ZOMBIE,	/* closed by the app while connecting (or listening): its
			 * CONNECT_RES (LISTEN_RES) awaited so that the DPU
			 * socket can be reset (closed); no sd */
	XS_LISTEN_WAIT, /* LISTEN sent, LISTEN_RES awaited (listen.c) */
	XS_LISTEN,	/* listening: peer_id names the DPU listener */
	XS_CLOSING,	/* closed by the app; the terminal frame for its DPU
			 * socket (term) waits for room: no sd, the slot is
			 * freed once it is sent */
};

/* Options that travel to the DPU's socket, in the order CONNECT carries
 * them: those that must precede connect(2) (window scale, MSS) first. */
enum xs_opt {
	XO_RCVBUF,
	XO_SNDBUF,
	XO_MAXSEG,
	XO_NODELAY,
	XO_KEEPALIVE,
	XO_KEEPIDLE,
	XO_KEEPINTVL,
	XO_KEEPCNT,
	XO_CORK,
	XO_LINGER, /* value: l_linger when on, -1 off (the wire form) */
	XO_N
};

/* How an option is checked and reported locally (before the connection
 * exists, or after it is gone). */
enum xo_kind { XOK_BUF, XOK_BOOL, XOK_RANGE, XOK_MSS, XOK_LINGER };

struct xp_optdesc {
	int level, name;
	int def;      /* Linux's value on a fresh socket */
	uint8_t kind; /* enum xo_kind */
	int min, max; /* XOK_RANGE, XOK_MSS; XOK_BUF: min is the floor */
};
extern const struct xp_optdesc xp_opt_tab[XO_N]; /* sock.c */

/* Control frames a socket owes the DPU, sent when the queue has room. */
#define PS_OPTS	    0x01 /* options set while connecting (opt_dirty) */
#define PS_CREDIT   0x02 /* ungranted >= rcvbuf / 4 */
#define PS_SHUTDOWN 0x04 /* SHUT_WR */
#define PS_CONNECT  0x08 /* CONNECT to s->peer: no room when connect() ran */

/*
 * A terminal frame (CLOSE, RESET) a slot owes the DPU socket it held, kept
 * until the queue has room.  Losing one would leak the DPU's socket until
 * the session ends, so it is state of the slot, not a message in a ring:
 * a slot that owes one is not reused before it is sent (XS_CLOSING), and
 * nothing new leaves the slot before it, so a slot owes at most one and
 * the socket table bounds them all.
 */
struct xp_term {
	uint8_t op; /* XTS_OP_CLOSE, XTS_OP_RESET; 0: none */
	uint16_t flags;
	int32_t err;
	uint32_t peer; /* the DPU socket */
};

struct xsock {
	uint32_t id;	  /* slot + generation, the app's sd; 0 when free */
	uint32_t peer_id; /* the DPU's id while XS_CONNECTED */
	uint16_t gen;	  /* generation of the current/next owner */
	uint8_t state;	  /* enum xs_state */
	uint8_t pend;	  /* PS_* */
	uint8_t family;	  /* AF_INET or AF_INET6 */
	bool nonblock;
	bool was_connected;  /* reached XS_CONNECTED: EISCONN/EPIPE, not connect errors */
	bool res_unreported; /* connect() has not returned this connect's result */
	bool abandon;	     /* a CONNECT_RES (LISTEN_RES) to answer with RESET (CLOSE)
			      * is on its way: nothing new on this slot before it */
	bool peer_eof, rd_shut, wr_shut;
	bool fo_connect; /* TCP_FASTOPEN_CONNECT: connect() defers the CONNECT */
	bool fo_defer;	 /* connect() returned, its CONNECT waits for the first send */
	/* list links survive a slot's reuse (see pend_add) */
	struct xts_fifo_node pend_n, lazy_n, term_n, win_n;
	struct xp_term term; /* op 0: none owed */
	uint32_t free_next;  /* slot + 1 */
	int so_error;	     /* pending errno, SO_ERROR */
	uint64_t snd_credit; /* DATA bytes the DPU lets us send */
	uint64_t snd_out;    /* DATA bytes sent, their credit not yet back (XTS_OUTQ) */
	/* Receive ring, allocated on the first DATA with XP_RBUF_MIN bytes
	 * and doubled as unread bytes need, up to xp->rcvbuf: a connection
	 * that holds little costs a small heap block, not a page of a
	 * rcvbuf-sized mapping.
	 * rlen + rcv_avail + ungranted == rcvbuf at all times: the DPU can
	 * never send more than the ring may grow to. */
	uint8_t *rbuf;
	uint32_t rhead, rlen, rcap;
	uint32_t rcv_avail;		  /* bytes the DPU may still send us */
	uint32_t ungranted;		  /* bytes the app consumed, not yet granted back */
	int64_t rcvtimeo_us, sndtimeo_us; /* 0: forever, -1: do not wait */
	uint16_t opt_set, opt_dirty;	  /* bit per enum xs_opt */
	int optv[XO_N];
	/* wire form (little-endian); peer is the destination until the
	 * CONNECT_RES names the real one */
	struct xts_addr local, peer;
	uint64_t tx_bytes, rx_bytes; /* stream bytes, for xportd's socks (lease.c) */
	/* listening (listen.c) */
	bool bound;		/* bind() or listen() gave it a local address */
	uint8_t lflags;		/* XTS_LISTEN_*: SO_REUSEADDR, SO_REUSEPORT, V6ONLY */
	bool lshared;		/* XTS_LSN_SHARED: CLOSE says XTS_F_SHARED */
	struct xp_acq *acq;	/* accept queue of a listener */
	struct xp_watch *watch; /* readiness sets watching it (ready.c) */
	struct xp_ulp *ulp;	/* ULPs pushed (TLS) and what they became (ulp.c) */
	struct xp_zc *zc;	/* zero copy (zc.c); NULL: never used */
};

struct xp_counters {
	uint64_t data_tx, data_rx;
	uint64_t window_stalls, credit_stalls;
	uint64_t resets;       /* connections reset (DPU RESET, queue loss, protocol) */
	uint64_t stale;	       /* frames for unknown or stale socket ids */
	uint64_t stray_unsent; /* answers to frames naming no socket of ours, not
				* sent for want of room (see xp_stray_send) */
	uint64_t sessions;     /* queue sessions started */
	uint64_t qresets;      /* queue sessions lost */
	uint64_t restarts;     /* shard restarts announced (QRESET, epoch 0) */
	uint64_t sleeps;       /* poll(2) waits for the queue */
	uint64_t spins;	       /* waits a spin ended (opts.spin_us) */
	uint64_t spin_ns;      /* time spent spinning */
	uint64_t zc_rx_frames, zc_rx_copied, zc_tx_frames;
	uint32_t zc_tx_lent; /* sockets holding a tx frame (<= XP_ZC_TX_MAX) */
};

/*
 * The queue session (session.c): one object from the HELLO that starts it
 * to the QRESET, gap or silence that ends it.  Everything a session is
 * (epoch, nonce, the shard's MAC, liveness) lives here, apart from the
 * socket table, so that what becomes of the sockets when it ends is one
 * decision (sess_sockets_end) and a later version can resume a session
 * instead: today its end resets every socket, as the shard does.
 */
enum xp_sess_state {
	XSS_ATTACHING = 0, /* HELLO sent, HELLO_ACK for its nonce awaited */
	XSS_REFUSED,	   /* the shard answered without a session; still retrying */
	XSS_FAILED,	   /* no HELLO_ACK within hello_ms; still retrying */
	XSS_UP,		   /* HELLO_ACK for our nonce: epoch names the session */
	XSS_ENDED,	   /* we ended it (xport_close_queue): no HELLO any more */
};

#define XP_HELLO_KEEP 8

struct xp_session {
	uint8_t state;	/* enum xp_sess_state */
	bool draining;	/* the shard said DRAINING (ESHUTDOWN) in this session */
	int refuse_err; /* XSS_REFUSED: what xport_open reports */
	int err;	/* why the last session ended, reported once by xport_process */
	uint32_t epoch; /* the shard's, from HELLO_ACK; 0 while none */
	/* the nonces of this attach's HELLOs, the last XP_HELLO_KEEP: an
	 * answer to any of them is ours (session.c, on_hello_ack) */
	uint32_t nonce[XP_HELLO_KEEP];
	uint32_t nsent; /* HELLOs sent since xp_sess_start */
	uint32_t gen;	/* bumped when a session ends: ends the rx batch */
	uint32_t max_conns;
	uint64_t caps;		/* XTS_CAP_* the shard announced in HELLO_ACK */
	__u8 peer[XTS_MAC_LEN]; /* the shard's MAC, from HELLO_ACK */
	/* attach: HELLO every hello_ivl_ms (doubling), failed at the deadline */
	int hello_ms;
	uint32_t hello_ivl_ms;
	uint64_t hello_next_ns, hello_deadline_ns;
	/* liveness: a dead or restarted shard says nothing to an idle host */
	uint64_t last_rx_ns, ping_sent_ns;
	uint32_t live_ack; /* peer_ack last seen: acks prove the shard alive */
};

struct xp_lease;

struct xport {
	struct xts_link *link;
	struct xp_lease *lease; /* the queue is xportd's lease (lease.c); NULL: opened directly */
	unsigned queue;
	uint32_t rcvbuf;
	bool batch; /* XPORT_OPT_BATCH: one doorbell per event-loop turn */
	/* opts.spin_us (poll.c): spin this long on the rx ring before a
	 * sleep; after a spin that saw nothing, skip the next spin_skip */
	uint64_t spin_ns;
	uint32_t spin_skip, spin_backoff;

	struct xp_session sess;

	/* socket table (socktab.c) */
	struct xsock *socks;
	uint32_t nsocks, nused, hiwater;
	uint32_t free_head; /* slot + 1, LIFO */

	/* owed frames (engine.c) */
	struct xts_fifo pend; /* PS_* owed */
	struct xts_fifo lazy; /* credit to return before sleeping */
	struct xts_fifo term; /* terminal frames owed, sent first */
	struct xts_fifo win;  /* watched sockets waiting for the window */

	/* readiness sets (ready.c); set 0 made on first use */
	struct xp_set **sets;
	uint32_t nsets, set_gen;

	/* the one SOCKOPT being waited for */
	uint32_t so_req_next, so_req, so_id;
	bool so_done;
	int so_err;
	uint32_t so_vlen;
	uint8_t so_val[XTS_SOCKOPT_VALMAX];

	/* the socket whose CONNECT waits for its first bytes (conn.c), slot
	 * + 1; 0: none.  Any other call sends it as it is. */
	uint32_t fo_slot;

	struct xp_counters c;
};

static inline bool xp_up(const struct xport *xp)
{
	return xp->sess.state == XSS_UP;
}

/* ---- engine.c: the engine every call runs, owed frames ---- */
uint64_t xp_now_ns(void);
/* Absolute deadline for a socket timeout (0 forever, -1 already past). */
uint64_t xp_deadline_us(int64_t us);
uint64_t xp_deadline_ms(int ms);
/* Receive and dispatch, send owed frames, kick tx.  Returns work done. */
int xp_run(struct xport *xp);
/* Before sleeping: return lazy credit, ack all consumed frames, kick. */
void xp_presleep(struct xport *xp);
/* errno = @err, -1: how every libxport call fails */
static inline int xp_fail(int err)
{
	errno = err;
	return -1;
}
/* After a socket call queued frames: ring the doorbell, or in batch mode
 * leave them for the next turn unless a kernel batch waits. */
void xp_doorbell(struct xport *xp);
void xp_pend_add(struct xport *xp, struct xsock *s, uint8_t what);
/* @s owes the DPU socket @peer a terminal frame (CLOSE, RESET): sent now
 * when nothing is owed before it and there is room, else kept on the slot
 * (struct xp_term) and sent first when there is. */
void xp_term_owe(struct xport *xp, struct xsock *s, uint8_t op, uint16_t flags, uint32_t peer,
		 int err);
/* Terminal frames wait: no new DPU socket (CONNECT, LISTEN) may overtake
 * them, or a port closed here could still be taken when the new one
 * arrives. */
static inline bool xp_term_owed(const struct xport *xp)
{
	return !xts_fifo_empty(&xp->term);
}
/* An answer to a frame that names no socket of ours (a peer's mistake or
 * a listener's connections the shard resets itself): sent if there is
 * room, else counted. */
void xp_stray_send(struct xport *xp, uint8_t op, uint16_t flags, uint32_t dst, int err);
/* The owed lists are dropped with the session that owed them. */
void xp_owed_clear(struct xport *xp);
/* The app consumed (or we discarded) @n bytes: grant them back. */
void xp_credit(struct xport *xp, struct xsock *s, uint32_t n);
/* Credit owed to the DPU, before sleeping. */
void xp_lazy_run(struct xport *xp);
/* A sequenced frame for a connected socket, carrying the credit we owe:
 * 0 or -EAGAIN (no room). */
int xp_sock_send(struct xport *xp, struct xsock *s, enum xts_op op, const void *pl, size_t len);
uint32_t xp_next_req(struct xport *xp);
/* Send a socket's owed frames now: 0, or -EAGAIN (no room, rest kept). */
int xp_sock_flush_pend(struct xport *xp, struct xsock *s);
/* Sequenced frames we may send now (0 while no session). */
uint32_t xp_room(const struct xport *xp);

/* ---- session.c: the queue session ---- */
/* Send the first HELLO of a new session and start its clock. */
void xp_sess_start(struct xport *xp);
/* A session op (HELLO_ACK, QRESET, DRAINING, PING, PONG, HELLO): handled,
 * true; anything else, false. */
bool xp_sess_on_msg(struct xport *xp, const struct xts_msg *m);
/* After an engine run's rx: liveness probe, HELLO retries. */
void xp_sess_tick(struct xport *xp, int rx, uint64_t now);
/* The session ends here: every socket reset with @err, a new HELLO.
 * @send_qreset: tell the shard (a gap or silence seen here). */
void xp_sess_lost(struct xport *xp, int err, bool send_qreset);
/* The graceful end, the last thing xport_close_queue says: QRESET err 0
 * in the session's epoch.  0, or -errno if it could not be queued. */
int xp_sess_end(struct xport *xp);
/* Queue session usable, or the error a new operation gets without one. */
int xp_session_err(const struct xport *xp);

/* ---- socktab.c: the socket table ---- */
int xp_socktab_init(struct xport *xp, uint32_t nsocks);
void xp_socktab_fini(struct xport *xp);
struct xsock *xp_sock(struct xport *xp, int sd); /* the app's sockets */
/* The receiver's socket of a frame: zombies included (they await one).
 * Inline: once per frame received. */
static inline struct xsock *xp_sock_by_id(struct xport *xp, uint32_t id)
{
	uint32_t slot = xts_id_slot(id);
	struct xsock *s;

	if (id == XTS_ID_NONE || slot >= xp->nsocks)
		return NULL;
	s = &xp->socks[slot];
	return s->id == id && s->state != XS_FREE ? s : NULL;
}
struct xsock *xp_sock_alloc(struct xport *xp);
void xp_sock_free(struct xport *xp, struct xsock *s);
/* The app is done with @s: freed, or XS_CLOSING while it owes a terminal
 * frame. */
void xp_sock_release(struct xport *xp, struct xsock *s);
static inline uint32_t xp_slot_of(const struct xport *xp, const struct xsock *s)
{
	return (uint32_t)(s - xp->socks);
}

/* ---- rbuf.c: a connection's receive ring ---- */
/* Room for @need unread bytes (<= rcvbuf): 0 or -ENOBUFS. */
int xp_rbuf_grow(struct xport *xp, struct xsock *s, uint32_t need);
/* Append @n bytes; the caller made room.  Inline: once per DATA frame. */
static inline void xp_rbuf_put(struct xsock *s, const __u8 *p, uint32_t n)
{
	uint32_t cap = s->rcap, tail = s->rhead + s->rlen, first;

	if (tail >= cap)
		tail -= cap;
	first = cap - tail < n ? cap - tail : n;
	memcpy(s->rbuf + tail, p, first);
	memcpy(s->rbuf, p + first, n - first);
	s->rlen += n;
}
/* Copy up to @len buffered bytes to @dst (NULL: discard); consume them
 * unless peeking. */
uint32_t xp_rbuf_take(struct xsock *s, __u8 *dst, size_t len, bool consume);
/* Unread bytes: kept DATA frames (zc.c) and the ring. */
static inline uint32_t xp_unread(const struct xsock *s)
{
	return s->rlen + (s->zc ? s->zc->bytes : 0);
}
/* xp_rbuf_take over the kept frames, then the ring. */
uint32_t xp_rx_take(struct xport *xp, struct xsock *s, __u8 *dst, size_t len, bool consume);
/* Unread bytes and kept frames go (frames back to the link). */
void xp_sock_release_rx(struct xport *xp, struct xsock *s);

/* ---- zc.c: zero copy ---- */
/* A DATA payload of a zero-copy socket, in the rx batch: kept in its
 * frame (true) or left to the ring (false: not zero copy, the ring is
 * not empty, or a bound is reached). */
bool xp_zc_keep(struct xport *xp, struct xsock *s, const __u8 *p, uint32_t len);
/* Consume @n bytes of the kept frames (<= bytes): frames emptied go back. */
void xp_zc_consume(struct xport *xp, struct xsock *s, uint32_t n);
/* The slot is freed: a lent tx frame goes back, the state is freed
 * (kept frames went with xp_sock_release_rx). */
void xp_zc_free(struct xport *xp, struct xsock *s);

/* ---- conn.c: a connection's frames from the DPU ---- */
/* CONNECT_RES, DATA, CREDIT, SHUTDOWN, RESET, CLOSED, SOCKOPT_RES */
void xp_conn_on_msg(struct xport *xp, const struct xts_msg *m);
/* The connection is gone (DPU or queue): so_error = @err. */
void xp_conn_lost(struct xport *xp, struct xsock *s, int err);
/* Take the connection down from our side (RESET @err to the DPU). */
void xp_sock_abort(struct xport *xp, struct xsock *s, int err);

/* ---- ready.c: readiness sets ---- */
#define XP_WAIT_MAX (INT32_MAX / (int)sizeof(struct xport_event))
void xp_ready_wake_slow(struct xport *xp, struct xsock *s);
/* Something happened to @s that may have made it ready (bytes, credit,
 * EOF, an error, a connection to accept, a state change): the sets that
 * watch it learn of it.  A test and nothing more for a socket no set
 * watches, as on the hot path. */
static inline void xp_ready_wake(struct xport *xp, struct xsock *s)
{
	if (s->watch)
		xp_ready_wake_slow(xp, s);
}
/* A send found the queue window shut: wake @s when it opens. */
void xp_win_stalled(struct xport *xp, struct xsock *s);
/* The engine found room: wake the sockets waiting for it. */
void xp_win_open(struct xport *xp);
/* @s leaves every set (it is closed). */
void xp_watch_drop(struct xport *xp, struct xsock *s);
void xp_sets_fini(struct xport *xp);
/* Watches on a set's ready list (for tests). */
uint32_t xp_set_nready(struct xport *xp, int set);

/* ---- queue.c ---- */
/* libxport over a link it now owns (the AF_XDP one from xport_open, or
 * any other, e.g. an in-memory pair in unit tests): 0 or -errno; the link
 * is destroyed on failure. */
__attribute__((visibility("hidden"))) int xp_open_link(struct xport **out, struct xts_link *link,
						       const struct xport_opts *o);

/* ---- lease.c: a queue leased from xportd ---- */
struct xp_lease_req {
	const char *path; /* xportd's socket */
	bool named;	  /* by the caller (opts, environment), not the default */
	const char *ifname;
	unsigned queue; /* or XPORT_QUEUE_ANY */
	int wait_ms;
	uint32_t max_socks, window;
};
/* xport_open through xportd: 0, -errno, or 1 when no xportd serves this
 * namespace at a path the caller did not name (open it directly). */
int xp_open_leased(struct xport **out, const char *ifname, unsigned queue,
		   const struct xport_opts *o);
/* Between two rounds of the queue: the session, counters, snapshots, and
 * xportd's restarts. */
void xp_lease_tick(struct xport *xp, uint64_t now);
void xp_lease_close(struct xp_lease *ls);
/* The message xport_last_error() returns (this thread). */
void xp_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A lease record (xportd's answer) into its parts: 0 or -EPROTO. */
__attribute__((visibility("hidden"))) int xp_lease_geom(char *line, struct xts_link_adopt *a,
							uint64_t *id, uint64_t *shm_size,
							uint32_t *max_socks, char *ifname,
							size_t iflen);

/* ---- poll.c ---- */
/* Sleep on the link fd until frames arrive, a short slice ends or
 * @deadline; 0, or -ETIMEDOUT when the deadline has passed. */
int xp_wait(struct xport *xp, uint64_t deadline);
/* The same, but a signal ends it: 0, -ETIMEDOUT or -EINTR. */
int xp_sleep(struct xport *xp, uint64_t deadline);
/* ---- sock.c ---- */
/* CONNECT for a socket in XS_CONNECTING: 0 or -EAGAIN (no room). */
int xp_send_connect(struct xport *xp, struct xsock *s);
/* CONNECT with up to @len of the connection's first bytes in the same
 * frame (XTS_CONNECT_F_DATA): the bytes carried, or -EAGAIN (no room). */
ssize_t xp_send_connect_data(struct xport *xp, struct xsock *s, const void *data, size_t len);
/* TCP_FASTOPEN_CONNECT (conn.c): may connect() leave the CONNECT for the
 * first send?  Then xp_fo_defer() does; xp_fo_flush() sends a deferred
 * CONNECT as it is (every call but that send: xp_run); xp_fo_send() sends
 * it with the first bytes: bytes carried, or 0 when it could not. */
bool xp_fo_ok(const struct xport *xp, const struct xsock *s);
void xp_fo_defer(struct xport *xp, struct xsock *s);
void xp_fo_flush(struct xport *xp);
ssize_t xp_fo_send(struct xport *xp, struct xsock *s, const void *buf, size_t len);
short xp_sock_revents(struct xport *xp, struct xsock *s);
/* Take a socket's pending error (SO_ERROR), as sock_error() does. */
int xp_take_error(struct xsock *s);
/* Why a send cannot go on (pending error, EPIPE): -errno, 0 if it can. */
int xp_send_error(struct xsock *s);
/* Why a receive finds nothing to read: 0 (wait for more), 1 (EOF: return
 * 0) or -errno (so_error, ENOTCONN), in tcp_recvmsg's order. */
int xp_recv_nothing(struct xsock *s);

/* ---- listen.c ---- */
void xp_lsn_on_msg(struct xport *xp, const struct xts_msg *m); /* LISTEN_RES, NEW_CONN */
void xp_lsn_lost(struct xport *xp, struct xsock *s, int err);  /* session gone */
void xp_lsn_close(struct xport *xp, struct xsock *s);
void xp_lsn_free(struct xsock *s);
short xp_lsn_revents(const struct xsock *s);
/* listener options: 0 or -errno, 1 when not a listener option */
int xp_lsn_setsockopt(struct xsock *s, int level, int name, const void *val, socklen_t len);
int xp_lsn_getsockopt(const struct xsock *s, int level, int name, int *v);

/* ---- ulp.c ---- */
/* TCP_ULP and SOL_XTS options: 0 or -errno, 1 when not one of them */
int xp_ulp_setsockopt(struct xport *xp, struct xsock *s, int level, int name, const void *val,
		      socklen_t len);
int xp_ulp_getsockopt(const struct xsock *s, int level, int name, void *val, socklen_t *len);
/* before a CONNECT or LISTEN with ULPs: 0 or -errno */
int xp_ulp_check(struct xport *xp, const struct xsock *s);
/* the socket's struct xts_ulp into @dst: its size, 0 when none */
size_t xp_ulp_put(const struct xsock *s, void *dst);
/* what the ULPs became (a struct xts_ulp_info, wire form) */
void xp_ulp_info(struct xsock *s, const void *info);
void xp_ulp_on_res(struct xport *xp, const struct xts_msg *m); /* ULP_RES */
void xp_ulp_free(struct xsock *s);
void xp_ulp_inherit(struct xsock *s, const struct xsock *l); /* accepted from @l */
/* framing: a DATA frame of @len bytes came (@eor: it ends a message): 0 or
 * -errno (the connection fails) */
int xp_strp_on_data(struct xsock *s, uint32_t len, bool eor);
/* bytes a receive may take now: the ring's, or with framing what is left
 * of the first whole message (0 while none is whole) */
uint32_t xp_rx_avail(const struct xsock *s);
/* framing: @n bytes of the first message were taken; true when it ended */
bool xp_strp_taken(struct xsock *s, uint32_t n);
bool xp_sock_framed(const struct xsock *s);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/* shard_int.h - internals shared by the files of one shard: the loop
 * (shard.c), the queue session (session.c), the connection table
 * (conn.c, conn_out.c), the connection transports (conn_io.c) and the
 * listeners (listen.c). */
#ifndef XTS_SHARD_INT_H
#define XTS_SHARD_INT_H

#include <sys/types.h>
#include <sys/uio.h>

#include "fifo.h"
#include "shard.h"
#include "xts_shm.h"

/* CONNECT_RES errno while the shard drains (docs/operations.md) */
#define SHARD_DRAIN_ERRNO ESHUTDOWN
/* LISTEN_RES errno past limits.listeners: the one the registry gives when
 * it is full, and the connect limit's (docs/operations.md) */
#define SHARD_LSN_LIMIT_ERRNO ENOBUFS

struct shard;

/*
 * A typed epoll registration (Redis ae style): epoll_event.data.ptr points
 * at one of these, embedded in what it is for (a connection, a listener,
 * the link, the ctl eventfd), and the callback knows what to do with the
 * event; nothing is looked up by id.  Events of one epoll_wait batch are
 * handled before anything can free a connection slot (frees happen in the
 * frame and ctl paths), so a pointer in the batch never names a reused slot.
 */
struct shard_ev {
	void (*fn)(struct shard *s, struct shard_ev *h, __u32 events);
};

/*
 * Deadlines (ae's time events): the loop sleeps until the earliest armed
 * one instead of waking on a fixed tick.  A timer is a record, not an fd:
 * arming costs a store, never a syscall.  fn runs once when due (when_ns is
 * cleared first) and arms its timer again if it has more to do.
 */
enum shard_timer_id {
	ST_HEARTBEAT, /* run.heartbeat_ns and the counters in shared memory */
	ST_SESSION,   /* idle host ping, dead-host timeout, takeover probe */
	ST_CONNS,     /* connect timeouts and the closing deadline (linger) */
	ST_CTL,	      /* the control plane, when no ctl eventfd wakes us */
	ST_LSN,	      /* lingering listeners: a sibling yet? (listen.c) */
	ST_TX,	      /* frames held for the host (queue.coalesce_us): the doorbell */
	ST_NTIMERS
};

struct shard_timer {
	__u64 when_ns; /* 0: not armed */
	void (*fn)(struct shard *s);
};

/* CS_FREE, CS_CONNECTING, ...: XTS_CONN_STATES (xts_shm.h) says what each means */
enum conn_state {
#define CS_ENUM(name, str, what) CS_##name = XTS_CONN_##name,
	XTS_CONN_STATES(CS_ENUM)
#undef CS_ENUM
};

/* pending control frames, sent when the queue has room (never dropped) */
#define PEND_CONN_RES 0x01
#define PEND_EOF      0x02 /* SHUTDOWN to host: peer sent FIN */
#define PEND_RESET    0x04 /* RESET to host, then free */
#define PEND_CLOSED   0x08 /* CLOSED to host, then free */
#define PEND_CREDIT   0x10
#define PEND_SOCKOPT  0x20
#define PEND_NEW_CONN 0x40 /* NEW_CONN to host: an accepted connection */

/* listening sockets per shard (listen.c); their ids take the top slots */
#define SHARD_LSN_MAX 256
/* limits.tls_handshake_ms when the config says 0 (a shard without xtsd) */
#define SHARD_TLS_HS_MS 10000
/* A CONNECT that carried the first bytes: its CONNECT_RES waits at most
 * this long for the answer's first bytes, so that both reach the host in
 * one wakeup (conn.c, conn_connected) */
#define SHARD_RES_HOLD_NS 500000ull /* shard_opts.res_hold_us 0 */
/* CLOSED frames that may wait for a held CONNECT_RES, at most */
#define SHARD_LAZY_MAX 16

struct conn;

/*
 * The connection I/O seam: what lies between a connection's stream (the
 * bytes the host sends and receives, which credit counts) and its transport
 * (today a plain non-blocking kernel TCP socket; TLS records and message
 * framing plug in here).  Byte counts are always the host's plaintext.
 * Errors are -errno; -EAGAIN means "not now, an event will come".
 */
struct conn_io_ops {
	/* Stream bytes for the host into @buf (a UMEM frame, @len its room
	 * within credit): > 0 bytes, 0 at the peer's end of stream, -errno.
	 * A short read means nothing more is there now: the next bytes raise
	 * a new event (the shard does not call again just to hear EAGAIN). */
	ssize_t (*read)(struct conn *c, void *buf, size_t len);
	/* Take the host's bytes from @iov: bytes taken (a prefix, maybe
	 * short) or -errno; @more: more follows at once (MSG_MORE). */
	ssize_t (*writev)(struct conn *c, const struct iovec *iov, unsigned n, bool more);
	/* Push out what the transport holds itself (c->io_held): 0 when
	 * nothing is left, -EAGAIN, -errno.  A plain socket holds nothing. */
	int (*flush)(struct conn *c);
	/* The host's end of stream, after everything was taken and flushed. */
	int (*shutdown)(struct conn *c);
	/* A kernel event on the socket -> CIO_* (what may progress now). */
	unsigned (*events)(struct conn *c, __u32 epoll_events);
	/* Release the transport; @abort: RST instead of FIN. */
	void (*close)(struct conn *c, bool abort);
};
#define CIO_RD	0x1 /* read may return bytes (or the end) */
#define CIO_WR	0x2 /* writev/flush may take bytes */
#define CIO_HUP 0x4 /* the peer ended or failed: read on to the end */

extern const struct conn_io_ops conn_io_tcp; /* conn_io.c */

struct shard_sess;
struct conn_ulp;

struct conn {
	struct shard_ev ev; /* epoll data.ptr: events of c->fd */
	const struct conn_io_ops *io;
	struct conn_ulp *ulp;	 /* TLS and what it became (ulp.h), or NULL */
	struct shard_sess *sess; /* the queue session it belongs to; NULL: an
				  * orphan the host no longer knows */
	__u32 id;		 /* ours: slot + generation; 0 when free */
	__u32 host_id;		 /* the host's id for this connection */
	int fd;
	__u8 state;    /* enum conn_state */
	__u8 pend;     /* PEND_* */
	bool readable; /* edge-triggered: until recv() says EAGAIN */
	bool rdhup;    /* the peer's FIN or an error was signalled: read to the end */
	bool rd_eof;   /* kernel said EOF (or error): stop reading */
	bool wr_shut;  /* host asked SHUT_WR: after the buffer drains */
	bool io_held;  /* the transport holds bytes of its own to flush */
	bool in_dl;
	bool res_hold;	  /* connected; CONNECT_RES waits for the first bytes back */
	__u8 lst;	  /* accepted: its listener address's slot in s->lsn_st, + 1; 0 none */
	__s32 err;	  /* errno for CONNECT_RES / RESET */
	__u32 tx_credit;  /* bytes we may still send to the host */
	__u32 rx_allowed; /* bytes the host may still send us */
	__u32 grant;	  /* bytes taken by the kernel, not yet granted back */
	__u32 so_req;	  /* pending SOCKOPT answer */
	__u32 lsn_id;	  /* CS_ACCEPTED: our listener that accepted it */
	__s32 so_level, so_name, so_err;
	__u8 so_dir;
	/* CS_CONNECTING: the connect deadline; CS_CLOSING: when the host
	 * closed (the linger deadline is this + linger_ms, reloadable) */
	__u64 deadline_ns;
	/* host -> net bytes the kernel did not take yet */
	__u8 *buf;
	__u32 buf_off, buf_len;
	struct xts_fifo_node ready_node, ctl_node; /* on s->ready, s->owed */
	__u32 dl_prev, dl_next;			   /* on s->dl_head's list (slots, 0 = end) */
};

/*
 * The queue session with one host process: its identity (epoch, peer MAC,
 * window, frame size), its liveness, the connects it refused before a slot
 * existed, and, through conn.sess, its connections.  One object, so that a
 * later version can keep a session across a host restart and resume it.
 */
struct shard_sess {
	__u32 epoch; /* 0: no session */
	__u8 peer[XTS_MAC_LEN];
	__u32 peer_window, max_frame;
	__u64 started_ns, last_rx_ns, last_ping_ns;
	__u32 ping_outstanding;
	__u32 nconns; /* connections of this session in the table */
	/* CONNECTs refused before a slot existed (table full): answered from
	 * here when the queue has room; bounded, overflow is counted. */
	struct {
		__u32 host_id;
		__s32 err;
	} rej[256];
	__u32 rej_head, rej_n;
	/* a HELLO that came while this session lives (session.c) */
	struct sess_probe {
		bool on, pinged;
		__u64 cookie, until_ns;
		__u8 mac[XTS_MAC_LEN];
		struct xts_hello hello;
	} probe;
};

struct shard {
	struct shard_opts o;
	struct xts_link *link;
	bool own_link; /* created here (AF_XDP), else given by the caller */
	int ep;
	struct shard_ev link_ev, ctl_ev;
	bool ctl_watched;	/* xtsd's ctl eventfd is in the epoll set */
	struct shard_sess sess; /* the live session (epoch 0: none) */
	struct conn *conns;	/* slot 0 unused: 0 ends the lists */
	__u32 *free_slots;
	__u32 nfree;
	__u16 *gens;
	struct xts_fifo ready; /* data and credit for the host: round robin */
	struct xts_fifo owed;  /* connections owing the host control frames */
	__u32 dl_head;	       /* connecting and lingering connections (deadlines) */
	__u32 nconns;
	__u64 now_ns;
	/* CLOSED frames (answers to the host's CLOSE: nobody waits for them)
	 * queued since the last doorbell, and until when they may wait for
	 * a held CONNECT_RES to go with (conn_connected): a CLOSED rung on
	 * its own woke the host once more per connect + request + close */
	__u32 lazy_tx;
	__u64 lazy_until_ns;
	/* the last doorbell, and frames held since (queue.coalesce_us:
	 * interrupt moderation, shard_flush) */
	__u64 kick_ns;
	__u32 tx_last_id;   /* the connection of the last DATA to the host */
	__u64 tx_switch_ns; /* when DATA to the host last changed connection */
	__u32 kick_rx;	    /* the host's frames received by then (rx_seq) */
	bool no_pwait2;	    /* the kernel has no epoll_pwait2: sleeps in ms */
	struct shard_timer tm[ST_NTIMERS];
	struct shard_lsn *lsn; /* listening sockets (listen.c) */
	int hand_fd;	       /* connections handed between shards (lsn_hand.c); -1 none */
	struct shard_ev hand_ev;
	struct shard_tls *tls; /* TLS contexts of the profiles (tls_store.c) */
	struct shard_stats st;
	/* per TLS profile (ulp.c), published with st (ctl.c) */
	struct xts_shm_tls_stat tls_st[XTS_SHM_TLS_MAX];
	/* per listening address (listen.c), published with st (ctl.c);
	 * lsn_ref: the listeners and connections that use each slot */
	struct xts_shm_lsn_stat lsn_st[XTS_SHM_LSN_MAX];
	uint32_t lsn_ref[XTS_SHM_LSN_MAX];
	/* control plane (ctl.c) */
	struct xts_shm_shard *blk; /* our block in xtsd's region, or NULL */
	/* the config in force (without xtsd: one made from shard_opts);
	 * ctl.c swaps in whole generations */
	const struct xts_shm_cfg *cfg;
	struct shard_ctl *ctl; /* ctl.c's own */
	__u64 cfg_gen, next_publish_ns;
	__u32 conns_ack;
	__u32 max_conns_now; /* limit in force (<= o.max_conns, the table) */
	bool draining, drain_notice;
	/* poll mode (pollmode.c) */
	__u32 poll_mode;    /* enum xts_poll_mode */
	__u64 spin_ns;	    /* adaptive: spin this long after the last work */
	__u64 last_work_ns; /* the start of the last round that did work */
	__u32 kbusy_budget; /* kernel busy polling of the AF_XDP socket: on (> 0) */
	bool kbusy_warned, poll_logged;
};

/* The gauge of connections in @state (stats conns_in_<name>), NULL for
 * free slots, which are not counted. */
static inline __u64 *conn_state_gauge(struct shard_stats *st, unsigned state)
{
	switch (state) {
	case CS_CONNECTING:
		return &st->conns_in_connecting;
	case CS_OPEN:
		return &st->conns_in_open;
	case CS_CLOSING:
		return &st->conns_in_closing;
	case CS_ZOMBIE:
		return &st->conns_in_closed;
	case CS_ACCEPTED:
		return &st->conns_in_accepted;
	default:
		return NULL;
	}
}

/* Every change of a connection's state goes through here, so that the
 * per-state gauges are counts kept as states change, not a walk of the
 * table at each publication (65,536 slots, 20 times a second). */
static inline void conn_set_state(struct shard *s, struct conn *c, enum conn_state state)
{
	__u64 *g = conn_state_gauge(&s->st, c->state);

	if (g)
		(*g)--;
	c->state = state;
	g = conn_state_gauge(&s->st, state);
	if (g)
		(*g)++;
	if (state == CS_FREE && c->lst) { /* its listener's open gauge, and slot */
		s->lsn_st[c->lst - 1].open--;
		xts_lsn_slot_put(s->lsn_st, s->lsn_ref, c->lst - 1u);
		c->lst = 0;
	}
}

/* The counters of the listener address that accepted @c (NULL: none). */
static inline struct xts_shm_lsn_stat *conn_lst(struct shard *s, const struct conn *c)
{
	return c->lst ? &s->lsn_st[c->lst - 1] : NULL;
}
#define CONN_LST_ADD(s, c, f, n)                                                                   \
	do {                                                                                       \
		struct xts_shm_lsn_stat *t_ = conn_lst(s, c);                                      \
		if (t_)                                                                            \
			t_->f += (n);                                                              \
	} while (0)

__u64 shard_now_ns(void);
/* A log line of this shard ("shard Q: ..."), at an XTS_LOG_* level. */
void shard_log(struct shard *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Arm timer @t for @when_ns unless it is armed earlier already. */
void shard_timer_at(struct shard *s, enum shard_timer_id t, __u64 when_ns);

/* shard.c: the ULP block of a CONNECT or LISTEN (copied into @u), if any */
bool shard_msg_ulp(const struct xts_msg *m, struct xts_ulp *u);

/* session.c */
void sess_on_hello(struct shard *s, const struct xts_msg *m);
void sess_on_qreset(struct shard *s, const struct xts_msg *m);
void sess_on_pong(struct shard *s, const struct xts_msg *m);
/* the link saw a sequence gap: QRESET, then end the session */
void sess_broken(struct shard *s);
/* @graceful: the host's own end (QRESET err 0): closed connections finish
 * as orphans; else everything of the session is reset */
void sess_end(struct shard *s, const char *why, bool graceful);
/* answer a CONNECT refused before it had a slot (from a ring) */
void sess_reject(struct shard *s, __u32 host_id, int err);
int sess_run_rejects(struct shard *s);
void sess_timer(struct shard *s);

/* listen.c */
int lsn_init(struct shard *s);
void lsn_fini(struct shard *s);
void lsn_close_all(struct shard *s);
/* leave (drain) or rejoin the reuseport groups of this shard's listeners */
void lsn_drain(struct shard *s, bool drain);
/* a connection of listener @lsn_id that the host was never offered is
 * gone (its TLS handshake failed): room for the next one */
void lsn_unpend(struct shard *s, __u32 lsn_id);
/* LISTEN, NEW_CONN_ACK, and frames for a listener id: 1 if handled */
int lsn_dispatch(struct shard *s, const struct xts_msg *m);
int lsn_poll(struct shard *s);
void lsn_timer(struct shard *s);
/* the registry (NULL: a shard without xtsd) */
struct xts_reg *lsn_reg(struct shard *s);
/* a connection a sibling's shard handed to our listener of host id
 * @host_id on @key: 0 (ours now) or -errno (the caller resets it) */
int lsn_adopt(struct shard *s, __u32 host_id, const struct xts_addr *key, int fd);

/* lsn_hand.c: connections handed between the shards of a reuseport group */
int lsn_hand_init(struct shard *s);
void lsn_hand_fini(struct shard *s);
/* send accepted socket @fd to @sib's shard: 0 or -errno (@fd stays ours) */
struct reg_sib;
int lsn_hand_send(struct shard *s, const struct reg_sib *sib, const struct xts_addr *local, int fd);

/* conn.c: the table and what the host asks of a connection */
int conn_table_init(struct shard *s);
void conn_table_free(struct shard *s);
struct conn *conn_lookup(struct shard *s, __u32 id);
void conn_reset_all(struct shard *s);
/* the end of session @ss: reset its connections (@graceful: but for those
 * the host had closed, which finish as orphans) */
void conn_end_session(struct shard *s, const struct shard_sess *ss, bool graceful);
int conn_on_connect(struct shard *s, const struct xts_msg *m);
void conn_on_msg(struct shard *s, struct conn *c, const struct xts_msg *m);
/* DATA frames for @c, consecutive in one rx batch: one sendmsg(2). */
#define SHARD_DATA_RUN_MAX 64
void conn_on_data_run(struct shard *s, struct conn *c, const struct xts_msg *m, unsigned n);
void conn_timer(struct shard *s);
/* accepted kernel socket @fd of listener @lsn_id, with the listener's
 * ULPs @u (NULL: none) and its address's counters @lst (slot + 1, 0:
 * none): 0 or -ENOBUFS (the caller closes @fd) */
int conn_on_accept(struct shard *s, int fd, __u32 lsn_id, __u32 lsn_host_id,
		   const struct xts_ulp *u, __u8 lst);
/* NEW_CONN_ACK for c: err 0 the host took it, else reset it */
void conn_accept_ack(struct shard *s, struct conn *c, const struct xts_msg *m, int err);
/* reset the connections of a listener not yet acknowledged by the host */
void conn_reset_accepted(struct shard *s, __u32 lsn_id);
/* internal to the conn files */
void conn_fail(struct shard *s, struct conn *c, int err);
void conn_release(struct shard *s, struct conn *c);
void conn_close_fd(struct shard *s, struct conn *c, bool abort);
void conn_ctl_add(struct shard *s, struct conn *c, __u8 pend);
void conn_ready_add(struct shard *s, struct conn *c);
/* on the ready list it would be read: data, credit, nothing owed first */
static inline bool conn_ready_eligible(const struct conn *c)
{
	return c->state == CS_OPEN && c->readable && !c->rd_eof && c->tx_credit &&
	       !(c->pend & PEND_CONN_RES);
}
void conn_slot_maybe_free(struct shard *s, struct conn *c);
/* conn.c's helpers for conn_open.c: a fresh slot, the deadline list, the
 * TLS handshake's deadline and step */
struct conn *conn_alloc(struct shard *s);
void conn_dl_add(struct shard *s, struct conn *c, __u64 due);
void conn_hs_deadline(struct shard *s, struct conn *c);
void conn_hs_step(struct shard *s, struct conn *c);
int conn_apply_int_opt(int fd, int level, int name, int val);
bool conn_opt_allowed(int level, int name, bool set);

/* conn_io.c: the host's bytes on their way to the transport */
void conn_to_net(struct shard *s, struct conn *c, struct iovec *iov, unsigned n, bool more);
int conn_buf_keep(struct shard *s, struct conn *c, const __u8 *p, size_t rest);
/* the transport can take bytes: what waits in c->buf goes first */
void conn_flush_buf(struct shard *s, struct conn *c);

/* conn_out.c: frames to the host */
int conn_run_ctl(struct shard *s);
int conn_run_ready(struct shard *s);

/* pollmode.c: take the poll mode of the config in force (at open and
 * after every new generation); after a round that did @work, should the
 * next round come at once (spin) instead of a sleep? */
void shard_poll_apply(struct shard *s);
bool shard_poll_spin(struct shard *s, int work);

/* ctl.c */
int shard_ctl_init(struct shard *s);
void shard_ctl_fini(struct shard *s);
int shard_ctl_poll(struct shard *s);
void shard_ctl_tick(struct shard *s);
void shard_ctl_session(struct shard *s);
/* 0 to go on with a CONNECT, else the errno to refuse it with */
int shard_admit(struct shard *s, const struct xts_msg *m);
/* May this queue use @a for @kind (XTS_ACL_CONNECT, XTS_ACL_LISTEN) under
 * the config in force?  A refusal is counted (conns_refused_acl). */
bool shard_acl_ok(struct shard *s, uint8_t kind, const struct xts_addr *a);

#endif

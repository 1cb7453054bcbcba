/* SPDX-License-Identifier: BSD-2-Clause */
/* shard_int.h - internals shared by shard.c (loop, session) and conn.c. */
#ifndef XTS_SHARD_INT_H
#define XTS_SHARD_INT_H

#include "shard.h"
#include "xts_shm.h"

/* CONNECT_RES errno while the shard drains (docs/operations.md) */
#define SHARD_DRAIN_ERRNO ESHUTDOWN

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

struct conn {
	__u32 id;      /* ours: slot + generation; 0 when free */
	__u32 host_id; /* the host's id for this connection */
	int fd;
	__u8 state;    /* enum conn_state */
	__u8 pend;     /* PEND_* */
	bool readable; /* edge-triggered: until recv() says EAGAIN */
	bool rdhup;    /* the peer's FIN or an error was signalled: read to the end */
	bool rd_eof;   /* kernel said EOF (or error): stop reading */
	bool wr_shut;  /* host asked SHUT_WR: after the buffer drains */
	bool in_ready, in_ctl, in_connecting;
	__s32 err;	  /* errno for CONNECT_RES / RESET */
	__u32 tx_credit;  /* bytes we may still send to the host */
	__u32 rx_allowed; /* bytes the host may still send us */
	__u32 grant;	  /* bytes taken by the kernel, not yet granted back */
	__u32 so_req;	  /* pending SOCKOPT answer */
	__u32 lsn_id;	  /* CS_ACCEPTED: our listener that accepted it */
	__s32 so_level, so_name, so_err;
	__u8 so_dir;
	__u64 deadline_ns; /* connect timeout */
	/* host -> net bytes the kernel did not take yet */
	__u8 *buf;
	__u32 buf_off, buf_len;
	__u32 ready_next, ctl_next, connecting_next; /* slot lists, 0 = end */
};

struct shard {
	struct shard_opts o;
	struct xts_link *link;
	int ep;
	struct conn *conns; /* slot 0 unused: 0 ends the lists */
	__u32 *free_slots;
	__u32 nfree;
	__u16 *gens;
	__u32 ready_head, ready_tail;
	__u32 ctl_head, ctl_tail;
	__u32 connecting_head;
	__u32 nconns;
	__u64 now_ns, last_rx_ns, last_ping_ns, next_timer_ns;
	__u32 ping_outstanding;
	struct shard_lsn *lsn; /* listening sockets (listen.c) */
	/* CONNECTs refused before a slot existed (table full): answered from
	 * here when the queue has room; bounded, overflow is counted. */
	struct {
		__u32 host_id;
		__s32 err;
	} rej[256];
	__u32 rej_head, rej_n;
	struct shard_stats st;
	/* control plane (ctl.c) */
	struct xts_shm_shard *blk; /* our block in xtsd's region, or NULL */
	/* the config in force, NULL: no xtsd; ctl.c swaps in whole generations */
	const struct xts_shm_cfg *cfg;
	struct shard_ctl *ctl; /* ctl.c's own */
	__u64 cfg_gen, next_publish_ns;
	__u32 conns_ack;
	__u32 max_conns_now; /* limit in force (<= o.max_conns, the table) */
	bool draining, drain_notice;
};

__u64 shard_now_ns(void);
/* A log line of this shard ("shard Q: ..."), at an XTS_LOG_* level. */
void shard_log(struct shard *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* listen.c */
int lsn_init(struct shard *s);
void lsn_fini(struct shard *s);
void lsn_close_all(struct shard *s);
/* leave (drain) or rejoin the reuseport groups of this shard's listeners */
void lsn_drain(struct shard *s, bool drain);
/* LISTEN, NEW_CONN_ACK, and frames for a listener id: 1 if handled */
int lsn_dispatch(struct shard *s, const struct xts_msg *m);
/* an epoll event for a listener id: 1 if it was one */
int lsn_on_event(struct shard *s, __u32 id);
int lsn_poll(struct shard *s);

/* conn.c */
int conn_table_init(struct shard *s);
void conn_table_free(struct shard *s);
struct conn *conn_lookup(struct shard *s, __u32 id);
void conn_reset_all(struct shard *s);
int conn_on_connect(struct shard *s, const struct xts_msg *m);
void conn_on_msg(struct shard *s, struct conn *c, const struct xts_msg *m);
/* DATA frames for @c, consecutive in one rx batch: one sendmsg(2). */
#define SHARD_DATA_RUN_MAX 64
void conn_on_data_run(struct shard *s, struct conn *c, const struct xts_msg *m, unsigned n);
void conn_on_event(struct shard *s, struct conn *c, __u32 events);
int conn_run_ctl(struct shard *s);
int conn_run_ready(struct shard *s);
void conn_timers(struct shard *s);
/* accepted kernel socket @fd of listener @lsn_id: 0 or -ENOBUFS */
int conn_on_accept(struct shard *s, int fd, __u32 lsn_id, __u32 lsn_host_id);
/* NEW_CONN_ACK for c: err 0 the host took it, else reset it */
void conn_accept_ack(struct shard *s, struct conn *c, const struct xts_msg *m, int err);
/* reset the connections of a listener not yet acknowledged by the host */
void conn_reset_accepted(struct shard *s, __u32 lsn_id);

/* ctl.c */
int shard_ctl_init(struct shard *s);
void shard_ctl_fini(struct shard *s);
int shard_ctl_poll(struct shard *s);
void shard_ctl_tick(struct shard *s);
void shard_ctl_session(struct shard *s);
/* 0 to go on with a CONNECT, else the errno to refuse it with */
int shard_admit(struct shard *s, const struct xts_msg *m);
/* May this queue use @a for @kind (XTS_ACL_CONNECT, XTS_ACL_LISTEN) under
 * the config in force?  A refusal is counted (refused_acl). */
bool shard_acl_ok(struct shard *s, uint8_t kind, const struct xts_addr *a);

#endif

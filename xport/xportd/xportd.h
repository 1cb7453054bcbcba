/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xportd.h - the host's queue broker: internals shared by xportd.c (start,
 * the event loop, stop), xpd_cfg.c (xportd.conf), xpd_policy.c (who may
 * lease what: pure logic), xpd_queue.c (a queue's AF_XDP socket, UMEM and
 * shared area; the last QRESET), xpd_diag.c (sock_diag), xpd_srv.c (the
 * unix socket and its clients), xpd_cmd.c (lease, renew, status, socks)
 * and xpd_cli.c (`xportd status|socks`, the client side).
 *
 * One thread around one epoll: the signalfd, the listening socket, each
 * client and each lessee's pidfd are typed handlers (struct xpd_ev);
 * deadlines (requests, waits for a queue, snapshot waits, queues to look
 * at again) decide how long epoll_wait sleeps.  Nothing blocks on a
 * client.
 */
#ifndef XTS_XPORTD_H
#define XTS_XPORTD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfg_opt.h"
#include "xts_ctl.h"
#include "xts_lease.h"

#define XPD_MAX_QUEUES 256
#define XPD_MAX_RULES  64
#define XPD_MAX_GROUPS 64 /* supplementary groups of a peer we look at */
#define XPD_NEVER      INT64_MAX

/* ---- configuration (xpd_cfg.c) ---- */

enum xpd_who { XPD_WHO_USER = 1, XPD_WHO_GROUP = 2 };

/* One entry of `policy`: who, how many leases at once, which queues. */
struct xpd_rule {
	uint32_t line;	 /* in the file, for messages */
	uint8_t who;	 /* enum xpd_who */
	uint8_t reserve; /* its queues are for those it matches alone */
	uint8_t pad[2];
	uint32_t id;			    /* uid or gid */
	char name[32];			    /* as written (or the number) */
	uint32_t leases;		    /* at once, per uid */
	uint8_t queues[XPD_MAX_QUEUES / 8]; /* bitmap: may lease these */
};

struct xpd_cfg {
	char interface[32];
	uint32_t queues;
	char run_dir[256];
	uint32_t log_level; /* enum xts_log_level */
	char log_target[16];
	/* queue: what each lease gets */
	uint32_t frames, ring_size;
	/* the unix socket */
	char sock_path[108];
	uint32_t sock_mode;
	char sock_group[64];
	char metrics_listen[64]; /* GET /metrics here ("ADDR:PORT"); "": none */
	/* limits */
	uint32_t max_clients, max_sockets, request_ms, max_wait_ms;
	/* policy */
	uint32_t nrules;
	struct xpd_rule rule[XPD_MAX_RULES];
};

const struct cfg_opt *xpd_cfg_opts(size_t *n);
/* Load and validate FILE: 0, or -errno with "FILE:LINE: option: reason". */
int xpd_cfg_load(const char *file, struct xpd_cfg *out, char err[CFG_ERR_LEN]);

/* ---- policy (xpd_policy.c): pure, unit-tested ---- */

struct xpd_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	uint32_t ngroups;
	gid_t groups[XPD_MAX_GROUPS]; /* supplementary, as the process holds them */
};

/* What the policy sees of the queues now: who holds each. */
struct xpd_usage {
	uint32_t queues;
	int32_t holder_uid[XPD_MAX_QUEUES]; /* -1: free */
};

/* The rule that applies to @p (the first that matches), or NULL.  Root
 * needs none. */
const struct xpd_rule *xpd_policy_rule(const struct xpd_cfg *c, const struct xpd_peer *p);
/*
 * May @p lease now, and which queues could it have?  @want: a queue, or
 * -1 for any.  0 with @ok (a queue bitmap) filled: the queues it may
 * have (free or not); or -EACCES (no rule; a queue it may not have) or
 * -EDQUOT (it holds as many leases as its rule allows) with why.
 */
int xpd_policy_check(const struct xpd_cfg *c, const struct xpd_peer *p, const struct xpd_usage *u,
		     int want, uint8_t ok[XPD_MAX_QUEUES / 8], char *why, size_t whylen);
/* Does rule r match the peer? */
bool xpd_rule_match(const struct xpd_rule *r, const struct xpd_peer *p);

static inline bool xpd_bit(const uint8_t *m, unsigned q)
{
	return m[q / 8] & (1u << (q % 8));
}
static inline void xpd_bit_set(uint8_t *m, unsigned q)
{
	m[q / 8] |= (uint8_t)(1u << (q % 8));
}

/* ---- the daemon ---- */

struct xpd;
struct mhttp;

/* Why a request was refused (the metrics' reason label), from its errno. */
enum xpd_refusal {
	XPD_REF_POLICY,	 /* EACCES: no rule, or a queue it may not have */
	XPD_REF_QUOTA,	 /* EDQUOT: as many leases as its rule allows */
	XPD_REF_BUSY,	 /* EBUSY: no free queue in time */
	XPD_REF_TIMEOUT, /* ETIMEDOUT: the request did not come in time */
	XPD_REF_CLIENTS, /* limits.clients reached: refused on accept */
	XPD_REF_OTHER,	 /* bad requests, failed renews, ... */
	XPD_REF_N
};

struct xpd_ev {
	int fd;
	void (*fn)(struct xpd *d, struct xpd_ev *ev, uint32_t events);
};

/* A lease: one queue's socket, its UMEM and shared area, and who holds it. */
struct xpd_lease {
	uint64_t id;
	uint32_t queue;
	struct xpd_peer peer;
	char comm[16];
	uint64_t since_s; /* CLOCK_REALTIME */
	long long since_ms;
	bool renewed; /* handed over by a lessee of an earlier xportd */
	int xsk_fd, umem_fd, shm_fd;
	void *umem;
	uint64_t umem_size;
	uint32_t frames, frame_size, ring_size;
	bool sg; /* bound with XDP_USE_SG: multi-buffer frames (link.h) */
	struct xts_lease_shm *shm;
	uint64_t shm_size;
	uint32_t max_socks;
	struct xpd_ev pidfd;   /* readable when the lessee's process exits */
	struct xpd_client *cl; /* the connection that is the lease */
	uint32_t snap_req;     /* last socks snapshot asked */
	bool ended;	       /* over: freed after this turn of the loop */
	struct xpd_lease *next_dead;
};

enum xpd_qstate {
	XQ_FREE,
	XQ_LEASED,
	XQ_BUSY, /* bind said EBUSY: a socket xportd did not lease (a direct opener, a
		  * lessee of an earlier xportd yet to renew) or one still being
		  * released; looked at again at retry_ms */
};

struct xpd_queue {
	uint8_t st; /* enum xpd_qstate */
	struct xpd_lease *lease;
	long long retry_ms, busy_since_ms;
	unsigned backoff_ms;
	pid_t held_by; /* XQ_BUSY: the lessee of an earlier xportd, if known */
};

struct xpd {
	const char *file;
	struct xpd_cfg *cfg;
	int ifindex;
	unsigned long netns_ino; /* ours: /proc/self/ns/net */
	uint8_t mac[6];
	uint32_t mtu;
	int xsks_map_fd;
	bool attached;	 /* we attached the XDP program */
	bool mbuf_noted; /* said once why leases have no multi-buffer frames */
	int ep;
	struct xpd_ev sig;
	struct xpd_ev lsn; /* the listening socket */
	bool bound;	   /* the socket path is ours to remove */
	int lock_fd;
	gid_t sock_gid;
	struct xpd_client *clients; /* cfg->max_clients slots */
	struct xpd_lease *dead;	    /* ended this turn: freed after it (xpd_leases_reap) */
	uint64_t turn;		    /* turns of the event loop */
	struct xpd_queue q[XPD_MAX_QUEUES];
	bool stop;
	bool kick; /* queues changed: waiting requests look again */
	uint64_t client_seq;
	uint64_t ended_ids[64]; /* leases this xportd ended: never renewed */
	unsigned ended_n;
	uint64_t leases_granted, leases_ended, qresets_sent;
	uint64_t refused[XPD_REF_N]; /* requests answered with an error, by reason */
	/* GET /metrics (xpd_metrics.c), NULL: metrics.listen is "" */
	struct mhttp *metrics;
	struct xpd_ev metrics_ev;
};

long long xpd_now_ms(void); /* CLOCK_MONOTONIC */
int xpd_ev_add(struct xpd *d, struct xpd_ev *ev, uint32_t events);
int xpd_ev_mod(struct xpd *d, struct xpd_ev *ev, uint32_t events);
void xpd_ev_del(struct xpd *d, struct xpd_ev *ev);

/* log (xportd.c) */
void xpd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define xpd_err(...)  xpd_log(0, __VA_ARGS__)
#define xpd_warn(...) xpd_log(1, __VA_ARGS__)
#define xpd_info(...) xpd_log(2, __VA_ARGS__)
#define xpd_dbg(...)  xpd_log(3, __VA_ARGS__)
void xpd_log_init(const char *target, int level);

/* xpd_queue.c */
/* Set queue q up for a lease: 0, -EBUSY (the kernel says another socket
 * holds the queue), or -errno. */
int xpd_lease_open(struct xpd *d, uint32_t q, uint32_t max_socks, struct xpd_lease **out);
/* Take a lease a lessee hands back (renew): fds checked against the lease
 * record (xpd_record.c): the socket xportd bound to queue q for lease id,
 * the UMEM of its size, a shared area.
 * On success the lease owns the fds; on failure the caller closes them. */
int xpd_lease_adopt(struct xpd *d, uint32_t q, uint64_t id, const int fds[XTS_LEASE_NFDS],
		    struct xpd_lease **out, char *why, size_t whylen);
/* End a lease: the last QRESET in its session (if it had one), the
 * socket, the memory.  The queue becomes free. */
void xpd_lease_end(struct xpd *d, struct xpd_lease *ls, const char *why);
/* Free the leases that ended in this turn of the loop. */
void xpd_leases_reap(struct xpd *d);
/* The record that tells a lessee what it got. */
void xpd_lease_rec(const struct xpd *d, const struct xpd_lease *ls, struct ctl_buf *o);
/* Queues bound by sockets xportd does not know, at start (sock_diag):
 * marked XQ_BUSY. */
void xpd_queues_scan(struct xpd *d);

/* xpd_diag.c: the AF_XDP sockets of this network namespace */
struct xpd_xsk_info {
	uint32_t ino, ifindex, queue, uid;
	uint32_t ring_fill, ring_comp, ring_rx, ring_tx;
	uint64_t umem_size;
	uint32_t chunk_size;
};
/* Up to max sockets into out: how many, or -errno. */
int xpd_diag_xsks(struct xpd_xsk_info *out, int max);

/* xpd_metrics.c: GET /metrics on metrics.listen, on a thread of its own
 * (metrics_http.c); the loop only hands it the status records. */
int xpd_metrics_open(struct xpd *d); /* 0 (also when not configured) or -errno, logged */
void xpd_metrics_close(struct xpd *d);
void xpd_refused(struct xpd *d, int err); /* count an error answer (errno) */
const char *xpd_refusal_key(unsigned r);  /* "refused_policy", ... (enum xpd_refusal) */
/* xpd_show.c: the records of `xportd status` */
void xpd_status_recs(struct xpd *d, struct ctl_buf *o);

/* xpd_srv.c */
int xpd_srv_open(struct xpd *d);
void xpd_srv_close(struct xpd *d);
/* Deadlines and waiting requests: the next deadline. */
long long xpd_srv_run(struct xpd *d, long long now);
/* A queue became free (or may have): requests waiting for one try again. */
void xpd_srv_kick(struct xpd *d);

#endif

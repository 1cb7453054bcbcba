/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xts_shm.h - the one shared-memory layout of the XTS control plane.
 *
 * xtsd creates the region (memfd) before it forks the shards; every shard
 * inherits the mapping.  xtsctl never maps it: it asks xtsd over the ctl
 * socket.  Layout, from offset 0:
 *
 *   struct xts_shm_hdr       magic, version, size, offsets of the parts
 *   struct xts_shm_cfg       config snapshot under a seqlock (xtsd writes)
 *   struct xts_shm_shard[N]  one per shard, cache-line aligned
 *   conns snapshot areas     one per shard (xtsctl conns)
 *   registry                 listeners (xts_reg.h; xtsd sizes and formats it)
 *
 * Single writer per cache line: in struct xts_shm_shard the `sup` line is
 * written by xtsd only and the `run`/`cnt` lines by the shard only, so
 * readers never lock and writers never bounce each other's lines.  u64
 * counters are naturally aligned: a reader sees each one whole.
 * Fixed-width fields only; sizes and offsets are asserted below.
 */
#ifndef XTS_SHM_H
#define XTS_SHM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h> /* AF_INET, AF_INET6 */

#define XTS_SHM_MAGIC	   0x4d485358u /* "XSHM" */
#define XTS_SHM_VERSION	   11u
#define XTS_SHM_CACHELINE  64
#define XTS_SHM_MAX_SHARDS 256
#define XTS_SHM_ACL_MAX	   512	/* rules in all, both kinds */
#define XTS_SHM_CONNS_MAX  1024 /* connections one conns snapshot lists */

struct xts_shm_hdr {
	uint32_t magic;	     /* XTS_SHM_MAGIC */
	uint32_t version;    /* XTS_SHM_VERSION */
	uint64_t size;	     /* bytes of the whole region */
	uint64_t generation; /* config generation now published (= cfg.gen) */
	uint32_t nshards;
	uint32_t cfg_off, cfg_size;
	uint32_t shard_off, shard_size; /* size of one struct xts_shm_shard */
	uint32_t conns_off, conns_size; /* conns_size: one shard's area */
	uint32_t reg_off, reg_size;	/* listener registry (xts_reg.h), 0: none */
	uint8_t pad[4];
};
_Static_assert(sizeof(struct xts_shm_hdr) == 64, "xts_shm_hdr is one cache line");

/* ---- config snapshot ---- */

/* XTS_ACL_TLS: the TLS profiles a queue may use; the rule's addr holds
 * the profile's name (NUL-padded), family 0 stands for "*". */
enum xts_acl_kind { XTS_ACL_CONNECT = 1, XTS_ACL_LISTEN = 2, XTS_ACL_TLS = 3 };
#define XTS_ACL_ANY_QUEUE 0xffffu /* the default rules (acl { ... }) */

/* One rule: destination prefix and port range (connect), or port range
 * (listen: family 0, prefix 0). */
struct xts_shm_acl {
	uint8_t kind;	/* enum xts_acl_kind */
	uint8_t family; /* AF_INET, AF_INET6, or 0 = any address */
	uint8_t prefix; /* prefix length in bits */
	uint8_t pad;
	uint16_t queue; /* or XTS_ACL_ANY_QUEUE */
	uint16_t port_lo, port_hi;
	uint8_t addr[16]; /* network order, IPv4 in the first 4 bytes */
	uint8_t pad2[2];
};
_Static_assert(sizeof(struct xts_shm_acl) == 28, "xts_shm_acl size");

enum xts_log_level { XTS_LOG_ERROR = 0, XTS_LOG_WARNING, XTS_LOG_INFO, XTS_LOG_DEBUG };

/* xts.conf's default for timeouts.linger_ms, stated once: the option table
 * (supervisor/cfg.c) and a shard run without xtsd (shard/ctl.c) use it. */
#define XTS_CFG_DEF_LINGER_MS 60000
/* timeouts.handoff_ms's default, likewise */
#define XTS_CFG_DEF_HANDOFF_MS 5000

/*
 * TLS profiles (xts.conf `tls`): what a host names, by name, when it
 * pushes TLS on a socket.  Paths, never key material: each shard loads the
 * files itself when a generation that names them comes into force, so
 * that a reload rotates certificates (new contexts; established
 * connections keep the context they were made with).  The session ticket
 * keys are the exception: xtsd draws them (tkey below) so that every shard
 * decrypts every shard's tickets and a client resumes on any of them.
 */
#define XTS_SHM_TLS_MAX	 16 /* profiles */
#define XTS_SHM_TLS_SNI	 8  /* certificates chosen by server name, per profile */
#define XTS_SHM_TLS_NAME 16 /* = XTS_ULP_NAME_LEN */
#define XTS_SHM_PATH	 256
#define XTS_SHM_TKEYS	 2 /* ticket keys: the one in use, the one before */

struct xts_shm_tls_cert {
	char sni[128];		 /* "" the default certificate; else the server name it serves */
	char cert[XTS_SHM_PATH]; /* PEM chain, leaf first */
	char key[XTS_SHM_PATH];	 /* PEM private key */
};

struct xts_shm_tls_prof {
	char name[XTS_SHM_TLS_NAME];
	char ca[XTS_SHM_PATH];		 /* PEM bundle to verify the peer with; "": the system's */
	char ciphers[XTS_SHM_PATH];	 /* TLS 1.2 cipher list; "": OpenSSL's default */
	char ciphersuites[XTS_SHM_PATH]; /* TLS 1.3; "": OpenSSL's default */
	uint8_t alpn[64];		 /* wire form; accepted (terminate) or offered */
	uint16_t min_version, max_version; /* 0x0303 (1.2), 0x0304 (1.3) */
	uint32_t verify;      /* originate: 1 (default) the server's certificate must verify
			       * against ca for the server name (or address) asked for */
	uint32_t client_cert; /* terminate: 0 none, 1 optional, 2 required (verified) */
	uint32_t tickets;     /* 1: session tickets (resumption across shards) */
	uint32_t ticket_lifetime_s;
	uint32_t ncert; /* cert[0] is the default, cert[1..] by SNI */
	uint32_t bio;	/* XTS_TLS_BIO_*: how records reach the kernel socket */
	struct xts_shm_tls_cert cert[1 + XTS_SHM_TLS_SNI];
};

/*
 * A profile's `bio` (docs/design.md, "TLS on the shard"): "own" the
 * shard's BIO (records in user space, a sealed record the kernel did not
 * take held by the shard); "socket" OpenSSL's socket BIO with
 * SSL_OP_ENABLE_KTLS (the kernel takes the records where it has the "tls"
 * ULP, else OpenSSL seals them in user space); "auto" (the default) the
 * socket BIO exactly where /proc/sys/net/ipv4/tcp_available_ulp lists tls.
 */
#define XTS_TLS_BIO_AUTO   0
#define XTS_TLS_BIO_OWN	   1
#define XTS_TLS_BIO_SOCKET 2
#define XTS_TLS_BIO_NAMES                                                                          \
	{                                                                                          \
		"auto", "own", "socket", NULL                                                      \
	}

struct xts_shm_tls_tkey {
	uint8_t name[16];
	uint8_t aes[32];
	uint8_t hmac[32];
};

/*
 * A shard's poll mode (xts.conf poll.mode, per shard in `shards`;
 * docs/design.md, "Poll modes"): what its loop does when a round found
 * nothing to do.  X(NAME, "name"): the enum, the config's names, status.
 */
#define XTS_POLL_MODES(X)                                                                          \
	X(SLEEP, "sleep")	/* epoll_wait until an event or the next deadline */               \
	X(BUSY, "busy")		/* never sleep: the next round at once */                          \
	X(ADAPTIVE, "adaptive") /* spin spin_us after the last work, then sleep */
enum xts_poll_mode {
#define XTS_POLL_ENUM(name, str) XTS_POLL_##name,
	XTS_POLL_MODES(XTS_POLL_ENUM)
#undef XTS_POLL_ENUM
	    XTS_POLL_NMODES
};

static inline const char *xts_poll_mode_name(uint32_t mode)
{
	switch (mode) {
#define XTS_POLL_CASE(name, str)                                                                   \
	case XTS_POLL_##name:                                                                      \
		return str;
		XTS_POLL_MODES(XTS_POLL_CASE)
#undef XTS_POLL_CASE
	default:
		return "?";
	}
}

/* One shard's poll settings, in the config snapshot. */
struct xts_shm_poll {
	uint32_t mode;	      /* enum xts_poll_mode */
	uint32_t spin_us;     /* adaptive: spin this long after the last work */
	uint32_t napi_budget; /* SO_BUSY_POLL_BUDGET of the AF_XDP socket while
			       * spinning; 0: no kernel busy polling */
	uint32_t pad;
};

/* What a shard may change at run time; published by reload. */
struct xts_shm_cfg {
	uint32_t seq; /* seqlock: odd while xtsd writes */
	uint32_t log_level;
	uint64_t gen;	    /* config generation, 1 at start, +1 per reload */
	uint32_t max_conns; /* connections per queue */
	uint32_t conn_buf;  /* bytes buffered per connection */
	uint64_t shard_buf; /* bytes buffered per shard */
	uint32_t listeners; /* listeners per queue (listeners issue) */
	uint32_t connect_ms, idle_ms, dead_host_ms;
	uint32_t nacl;
	uint32_t linger_ms;	   /* a closed connection's unsent bytes: then RST */
	uint32_t tls_conns;	   /* TLS connections per shard (ENOBUFS past it) */
	uint32_t tls_handshakes;   /* TLS handshakes in flight per shard (ENOBUFS) */
	uint32_t tls_handshake_ms; /* a handshake not done by then fails (ETIMEDOUT) */
	uint32_t ntls;		   /* profiles in tls[] */
	uint32_t handoff_ms;	   /* a closed shared listener waits for a sibling */
	uint32_t coalesce_us;	   /* frames to the host wait this long after a doorbell */
	struct xts_shm_tls_tkey tkey[XTS_SHM_TKEYS]; /* tkey[0] encrypts new tickets */
	struct xts_shm_tls_prof tls[XTS_SHM_TLS_MAX];
	struct xts_shm_poll poll[XTS_SHM_MAX_SHARDS]; /* by queue */
	struct xts_shm_acl acl[XTS_SHM_ACL_MAX];
};
/* Everything before acl is copied whole; the ACL as far as nacl says. */
_Static_assert(offsetof(struct xts_shm_cfg, tkey) == 80, "xts_shm_cfg layout");

/* ---- per shard ---- */

enum xts_shard_state {
	XTS_SHARD_STOPPED = 0,
	XTS_SHARD_STARTING,
	XTS_SHARD_RUNNING,
	XTS_SHARD_DRAINING,
};

/* Written by xtsd only. */
struct xts_shm_sup {
	int32_t pid;
	int32_t cpu;  /* first CPU it is pinned to, -1: not pinned */
	int32_t node; /* NUMA node of its memory, -1: none chosen */
	uint32_t restarts;
	uint64_t started_ns; /* CLOCK_REALTIME of the last fork */
	uint32_t drain;	     /* 1: drain requested */
	uint32_t conns_req;  /* bumped to ask for a conns snapshot */
	uint32_t state;	     /* xtsd's view: STOPPED, STARTING (see run.state) */
	uint32_t conns_from; /* the conns snapshot asked for starts at this slot */
	uint8_t pad[24];
};
_Static_assert(sizeof(struct xts_shm_sup) == XTS_SHM_CACHELINE, "xts_shm_sup size");

/* Written by the shard only. */
struct xts_shm_run {
	uint32_t state;	       /* RUNNING or DRAINING while it lives */
	uint32_t epoch;	       /* current queue session epoch, 0: no host */
	uint64_t heartbeat_ns; /* CLOCK_MONOTONIC, refreshed every loop tick */
	uint64_t cfg_gen;      /* config generation in force */
	uint32_t conns_ack;    /* = sup.conns_req once the snapshot is written */
	int32_t pid;
	uint32_t max_conns; /* limit in force */
	uint32_t published; /* +1 each time the counters below were published */
	uint32_t poll_mode; /* enum xts_poll_mode in force */
	uint32_t busy_poll; /* 1: the kernel busy-polls the AF_XDP socket's NAPI
			     * while the shard spins (SO_PREFER_BUSY_POLL) */
	uint32_t cnt_seq;   /* seqlock over the counters: odd while the shard writes them */
	uint8_t pad[12];
};
_Static_assert(sizeof(struct xts_shm_run) == XTS_SHM_CACHELINE, "xts_shm_run size");

/*
 * Counters, written by the shard only (published 20 times a second):
 * X(name, kind, source, help), the one list that the shm block, the
 * shard's own struct shard_stats, its publishing, `xtsctl stats` and the
 * Prometheus output are all made from.
 *   kind    COUNTER (only grows) or GAUGE (a level now)
 *   source  where the shard keeps it: SHARD (its struct shard_stats,
 *           declared from this list), LINK (struct xts_link_stats, the
 *           queue link's own, same name) or SEQ (the link's sequence
 *           state: next seq to send, next expected, last acked by the
 *           host; the tests compare them with the host's)
 */
#define XTS_SHM_COUNTERS(X)                                                                        \
	X(tx_frames, COUNTER, LINK, "frames sent to the host")                                     \
	X(tx_bytes, COUNTER, LINK, "frame bytes sent to the host")                                 \
	X(rx_frames, COUNTER, LINK, "frames received from the host")                               \
	X(rx_bytes, COUNTER, LINK, "frame bytes received from the host")                           \
	X(data_to_net, COUNTER, SHARD, "stream bytes from the host sent to the network")           \
	X(data_to_host, COUNTER, SHARD, "stream bytes from the network sent to the host")          \
	X(conns_opened, COUNTER, SHARD, "connections opened")                                      \
	X(conns_failed, COUNTER, SHARD, "connects that failed or were refused")                    \
	X(conns_closed, COUNTER, SHARD, "connections closed")                                      \
	X(conns_active, GAUGE, SHARD, "connections open now")                                      \
	X(conns_in_connecting, GAUGE, SHARD, "connections now in state connecting")                \
	X(conns_in_open, GAUGE, SHARD, "connections now in state open")                            \
	X(conns_in_closing, GAUGE, SHARD, "connections now in state closing")                      \
	X(conns_in_closed, GAUGE, SHARD, "connections now in state closed")                        \
	X(conns_in_accepted, GAUGE, SHARD, "connections now in state accepted")                    \
	X(conns_refused_acl, COUNTER, SHARD, "connects refused by the ACL (EACCES)")               \
	X(conns_refused_limit, COUNTER, SHARD,                                                     \
	  "connects refused by the connection limit (ENOBUFS)")                                    \
	X(conns_refused_drain, COUNTER, SHARD, "connects refused while draining (ESHUTDOWN)")      \
	X(credit_stalls, COUNTER, SHARD, "times a readable connection had no host credit")         \
	X(window_stalls, COUNTER, LINK, "times the queue window was full")                         \
	X(frame_stalls, COUNTER, LINK, "times no UMEM frame was free")                             \
	X(buf_bytes, GAUGE, SHARD, "bytes buffered now on the way to the network")                 \
	X(stale_ids, COUNTER, SHARD, "frames for an unknown or stale socket id")                   \
	X(proto_errs, COUNTER, SHARD, "frames that broke the protocol")                            \
	X(rx_malformed, COUNTER, LINK, "frames that failed to parse")                              \
	X(rx_stale, COUNTER, LINK, "frames of another session")                                    \
	X(seq_gaps, COUNTER, LINK, "queue sequence gaps")                                          \
	X(rx_foreign, COUNTER, LINK, "in-session frames from a MAC not the host's, dropped")       \
	X(rx_forged, COUNTER, LINK, "frames with a seq outside the receive window, dropped")       \
	X(sessions, COUNTER, SHARD, "queue sessions started")                                      \
	X(session_resets, COUNTER, SHARD, "queue sessions ended")                                  \
	X(xsk_rx_dropped, COUNTER, LINK, "AF_XDP rx drops")                                        \
	X(xsk_rx_ring_full, COUNTER, LINK, "AF_XDP rx ring full")                                  \
	X(xsk_fill_empty, COUNTER, LINK, "AF_XDP fill ring empty")                                 \
	X(xsk_rx_invalid, COUNTER, LINK, "AF_XDP invalid rx descriptors")                          \
	X(xsk_tx_invalid, COUNTER, LINK, "AF_XDP invalid tx descriptors")                          \
	X(tx_seq, GAUGE, SEQ, "queue sequence number the shard sends next")                        \
	X(rx_seq, GAUGE, SEQ, "queue sequence number the shard expects next")                      \
	X(peer_ack, GAUGE, SEQ, "queue sequence number the host acknowledged last")                \
	X(linger_aborts, COUNTER, SHARD, "closed connections aborted at timeouts.linger_ms (RST)") \
	X(listens_refused_limit, COUNTER, SHARD, "listens refused by limits.listeners (ENOBUFS)")  \
	X(hellos_refused_busy, COUNTER, SHARD, "HELLOs refused: the live session's host answered") \
	X(takeovers, COUNTER, SHARD, "HELLOs that took over a session whose host did not answer")  \
	X(tls_conns, GAUGE, SHARD, "TLS connections now")                                          \
	X(tls_handshaking, GAUGE, SHARD, "TLS handshakes in flight now")                           \
	X(tls_hs_ok, COUNTER, SHARD, "TLS handshakes done")                                        \
	X(tls_hs_failed, COUNTER, SHARD,                                                           \
	  "TLS handshakes failed (verify, protocol, timeout, peer)")                               \
	X(tls_hs_verify, COUNTER, SHARD,                                                           \
	  "TLS handshakes failed: certificate verify (EKEYREJECTED)")                              \
	X(tls_resumed, COUNTER, SHARD, "TLS sessions resumed")                                     \
	X(tls_refused_limit, COUNTER, SHARD, "TLS connections refused by tls limits (ENOBUFS)")    \
	X(tls_reneg_refused, COUNTER, SHARD,                                                       \
	  "TLS 1.2 renegotiations refused (no_renegotiation alert sent)")                          \
	X(tls_mem, GAUGE, SHARD, "bytes OpenSSL holds now (contexts, connections)")                \
	X(tls_sockbio, COUNTER, SHARD,                                                             \
	  "TLS handshakes done over OpenSSL's socket BIO (bio socket, or auto with kTLS)")         \
	X(tls_ktls_tx, COUNTER, SHARD,                                                             \
	  "TLS connections whose records the kernel seals (kTLS send)")                            \
	X(tls_ktls_rx, COUNTER, SHARD,                                                             \
	  "TLS connections whose records the kernel opens (kTLS receive)")                         \
	X(tls_write_retries, COUNTER, SHARD,                                                       \
	  "SSL_write calls that met a full socket, retried later with the same bytes")             \
	X(strp_msgs_rx, COUNTER, SHARD, "framed messages delivered to the host")                   \
	X(strp_msgs_tx, COUNTER, SHARD, "framed messages the host sent")                           \
	X(strp_errors, COUNTER, SHARD, "framing errors (malformed, oversized, truncated)")         \
	X(lsn_stats_full, COUNTER, SHARD,                                                          \
	  "listeners counted in no listener series: all XTS_SHM_LSN_MAX slots were in use")        \
	X(lsn_handed_off, COUNTER, SHARD,                                                          \
	  "connections a closing listener held for its host, handed to a sibling listener")        \
	X(lsn_handed_in, COUNTER, SHARD,                                                           \
	  "connections a sibling's shard handed to a listener here")                               \
	X(lsn_linger_reset, COUNTER, SHARD,                                                        \
	  "listeners closed while shared that no sibling came for (what they held reset)")         \
	X(doorbells, COUNTER, SHARD, "doorbells rung to the host (AF_XDP tx kicks)")               \
	X(doorbells_held, COUNTER, SHARD,                                                          \
	  "rounds whose frames to the host waited for a later doorbell (queue.coalesce_us)")       \
	X(tx_bundled, COUNTER, LINK,                                                               \
	  "messages to the host that rode in another's frame (bundles)")                           \
	X(rx_bundled, COUNTER, LINK, "messages from the host that rode in another's frame")

/* kind, as a value: XTS_SHM_KIND(GAUGE) */
#define XTS_SHM_KIND_COUNTER 0
#define XTS_SHM_KIND_GAUGE   1
#define XTS_SHM_KIND(k)	     XTS_SHM_KIND_##k

struct xts_shm_counters {
#define XTS_SHM_FIELD(name, kind, src, help) uint64_t name;
	XTS_SHM_COUNTERS(XTS_SHM_FIELD)
#undef XTS_SHM_FIELD
};
#define XTS_SHM_NCOUNTERS (sizeof(struct xts_shm_counters) / sizeof(uint64_t))

/*
 * Per TLS profile, in each shard's block (tls[] below), X(name, kind, help)
 * as XTS_SHM_COUNTERS: the shard gives a profile a slot (its name, NUL-
 * ended; "" a free slot) the first time one of its connections counts
 * anything, and keeps it for its life; only when every slot is taken does
 * a name that is no longer configured give its slot (counters from 0) to
 * a new one.  The shard publishes them with the counters above (same
 * single writer, relaxed u64 stores, inside the counters' publication,
 * before run.published; a reader loads them relaxed, each whole, not
 * under the counters' seqlock: no snapshot across them).  Readers
 * (xtsctl stats: "tls" records, shard and profile; Prometheus) label each
 * by profile name and shard.  Only profiles of xts.conf get a slot: a name
 * a host makes up (ENOENT) counts nowhere here.
 */
#define XTS_SHM_TLS_COUNTERS(X)                                                                    \
	X(hs_ok, COUNTER, "TLS handshakes done")                                                   \
	X(hs_failed, COUNTER, "TLS handshakes failed (verify, protocol, timeout, peer)")           \
	X(hs_verify, COUNTER, "TLS handshakes failed: certificate verify (EKEYREJECTED)")          \
	X(resumed, COUNTER, "TLS sessions resumed")                                                \
	X(refused_limit, COUNTER, "TLS connections refused by tls limits (ENOBUFS)")               \
	X(refused_acl, COUNTER, "connects and listens refused: the queue may not use it (EACCES)") \
	X(bytes_to_host, COUNTER, "plaintext bytes from the network to the host")                  \
	X(bytes_to_net, COUNTER, "plaintext bytes from the host sealed for the network")

struct xts_shm_tls_stat {
	char name[XTS_SHM_TLS_NAME];
#define XTS_SHM_TLS_FIELD(n, kind, help) uint64_t n;
	XTS_SHM_TLS_COUNTERS(XTS_SHM_TLS_FIELD)
#undef XTS_SHM_TLS_FIELD
};

/*
 * Per listening address, in each shard's block (lsn[] below), X(name,
 * kind, help) as XTS_SHM_COUNTERS: the shard gives a slot to the local
 * (family, address, port) of a listener when it starts listening, and
 * the listeners of its queue on the same address share it.  A slot lives
 * while a listener on its address or a connection accepted by one does
 * (ref, the shard's own count): the series of a closed listener go when
 * its last connection does, and a slot taken again starts from 0.  When
 * every slot is in use, a new address is counted nowhere here but in the
 * shard's lsn_stats_full.  Published with the counters above, inside
 * their seqlock (xts_shm_lsn_read copies them whole: a slot's address
 * and its counters belong together).  Readers (xtsctl stats: "listener"
 * records; xtsctl listeners; Prometheus) label each by shard and
 * "ADDR:PORT" (IPv6 in brackets).
 */
#define XTS_SHM_LSN_MAX 64
#define XTS_SHM_LSN_COUNTERS(X)                                                                    \
	X(accepted, COUNTER, "connections accepted from the kernel")                               \
	X(offered, COUNTER, "connections offered to the host (after the handshake on TLS)")        \
	X(drop_limit, COUNTER, "connections dropped: the shard's connection or TLS limits (RST)")  \
	X(drop_handshake, COUNTER, "connections dropped: their TLS handshake failed")              \
	X(drop_refused, COUNTER,                                                                   \
	  "connections the host refused: its accept queue (backlog) full, or its listener "        \
	  "closing")                                                                               \
	X(drop_host_gone, COUNTER,                                                                 \
	  "connections dropped: the listener or the host's session ended before the host took "    \
	  "them")                                                                                  \
	X(open, GAUGE, "connections from it open now")                                             \
	X(bytes_to_host, COUNTER, "stream bytes from its connections to the host")                 \
	X(bytes_to_net, COUNTER, "stream bytes from the host to its connections")

struct xts_shm_lsn_stat {
	uint16_t family; /* AF_INET or AF_INET6; 0: a free slot */
	uint16_t port;	 /* host order */
	uint8_t addr[16];
	uint32_t pad;
#define XTS_SHM_LSN_FIELD(n, kind, help) uint64_t n;
	XTS_SHM_LSN_COUNTERS(XTS_SHM_LSN_FIELD)
#undef XTS_SHM_LSN_FIELD
};
_Static_assert(sizeof(struct xts_shm_lsn_stat) % 8 == 0, "xts_shm_lsn_stat: whole u64s");

struct xts_shm_shard {
	struct xts_shm_sup sup __attribute__((aligned(XTS_SHM_CACHELINE)));
	struct xts_shm_run run __attribute__((aligned(XTS_SHM_CACHELINE)));
	struct xts_shm_counters cnt __attribute__((aligned(XTS_SHM_CACHELINE)));
	struct xts_shm_tls_stat tls[XTS_SHM_TLS_MAX] __attribute__((aligned(XTS_SHM_CACHELINE)));
	struct xts_shm_lsn_stat lsn[XTS_SHM_LSN_MAX] __attribute__((aligned(XTS_SHM_CACHELINE)));
};
_Static_assert(offsetof(struct xts_shm_shard, sup) == 0, "sup line first");
_Static_assert(offsetof(struct xts_shm_shard, run) == 64, "run line second");
_Static_assert(offsetof(struct xts_shm_shard, cnt) == 128, "counters from the third line");
_Static_assert(sizeof(struct xts_shm_shard) % XTS_SHM_CACHELINE == 0, "whole cache lines");

/*
 * The counters' seqlock (run.cnt_seq), as the config's: the shard makes
 * it odd, stores the counters, makes it even; a reader that saw it odd or
 * moved copies again, so it gets one publication whole (a rate computed
 * from two scrapes never mixes two of them).  A shard killed mid-write
 * leaves it odd: its successor's first publish starts from the next even
 * value, and a reader gives up after @tries and takes the counters as
 * they stand (each u64 whole): -1 then, else 0.
 */
static inline void xts_shm_counters_begin(struct xts_shm_shard *b)
{
	uint32_t seq = __atomic_load_n(&b->run.cnt_seq, __ATOMIC_RELAXED);

	__atomic_store_n(&b->run.cnt_seq, (seq | 1u) + (seq & 1u ? 2u : 0u), __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void xts_shm_counters_end(struct xts_shm_shard *b)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&b->run.cnt_seq, b->run.cnt_seq + 1, __ATOMIC_RELAXED);
}

/* @n u64 words from @src to @dst, under the counters' seqlock of @b. */
static inline int xts_shm_seq_copy(const struct xts_shm_shard *b, const uint64_t *src,
				   uint64_t *dst, size_t n, unsigned tries)
{
	for (;;) {
		uint32_t s0 = __atomic_load_n(&b->run.cnt_seq, __ATOMIC_ACQUIRE);

		for (size_t i = 0; i < n; i++)
			dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (!(s0 & 1) && __atomic_load_n(&b->run.cnt_seq, __ATOMIC_RELAXED) == s0)
			return 0;
		if (!tries || !--tries)
			return -1;
	}
}

static inline int xts_shm_counters_read(const struct xts_shm_shard *b, struct xts_shm_counters *out,
					unsigned tries)
{
	return xts_shm_seq_copy(b, (const uint64_t *)&b->cnt, (uint64_t *)out, XTS_SHM_NCOUNTERS,
				tries);
}

/* The listener slots of one publication, whole (as xts_shm_counters_read):
 * 0, or -1 when the seqlock stayed odd or moving for @tries copies. */
static inline int xts_shm_lsn_read(const struct xts_shm_shard *b,
				   struct xts_shm_lsn_stat out[XTS_SHM_LSN_MAX], unsigned tries)
{
	return xts_shm_seq_copy(b, (const uint64_t *)b->lsn, (uint64_t *)out,
				sizeof(b->lsn) / (sizeof(uint64_t)), tries);
}

/*
 * The shard's side of the slots (listen.c): the slot of (family, addr,
 * port) in @t, @ref[i] its users (listeners and their connections).
 * Get: the slot with that address, else a free one (ref 0: counters from
 * 0); its index with one more user, or -1 when every slot is in use.
 * Put: one user fewer; the last frees the slot (its series go).
 */
static inline int xts_lsn_slot_get(struct xts_shm_lsn_stat *t, uint32_t *ref, unsigned n,
				   uint16_t family, const uint8_t addr[16], uint16_t port)
{
	int free_slot = -1;

	for (unsigned i = 0; i < n; i++) {
		if (!ref[i]) {
			if (free_slot < 0)
				free_slot = (int)i;
		} else if (t[i].family == family && t[i].port == port &&
			   !memcmp(t[i].addr, addr, sizeof(t[i].addr))) {
			ref[i]++;
			return (int)i;
		}
	}
	if (free_slot < 0)
		return -1;
	memset(&t[free_slot], 0, sizeof(t[free_slot]));
	t[free_slot].family = family;
	t[free_slot].port = port;
	memcpy(t[free_slot].addr, addr, sizeof(t[free_slot].addr));
	ref[free_slot] = 1;
	return free_slot;
}

static inline void xts_lsn_slot_put(struct xts_shm_lsn_stat *t, uint32_t *ref, unsigned i)
{
	if (ref[i] && !--ref[i])
		memset(&t[i], 0, sizeof(t[i]));
}

/* ---- conns snapshot (one area per shard, the shard writes it) ---- */

/* Connection states, X(NAME, "name", what); every state but free has its
 * gauge in the counters, conns_in_<name> (the shard keeps it with the
 * state, shard_int.h conn_set_state): the shard's enum conn_state
 * (CS_NAME), the snapshot's state byte and what xtsctl conns prints. */
#define XTS_CONN_STATES(X)                                                                         \
	X(FREE, "free", "slot unused")                                                             \
	X(CONNECTING, "connecting", "connect(2) in progress")                                      \
	X(OPEN, "open", "established")                                                             \
	X(CLOSING, "closing", "host closed: flush our buffer, then close(2)")                      \
	X(ZOMBIE, "closed", "kernel socket gone; control frames still to send")                    \
	X(ACCEPTED, "accepted", "accepted, handed to the host: NEW_CONN_ACK awaited")

enum xts_conn_state {
#define XTS_CONN_ENUM(name, str, what) XTS_CONN_##name,
	XTS_CONN_STATES(XTS_CONN_ENUM)
#undef XTS_CONN_ENUM
	    XTS_CONN_NSTATES
};

static inline const char *xts_conn_state_name(unsigned st)
{
	static const char *const names[] = {
#define XTS_CONN_NAME(name, str, what) str,
	    XTS_CONN_STATES(XTS_CONN_NAME)
#undef XTS_CONN_NAME
	};

	return st < XTS_CONN_NSTATES ? names[st] : "?";
}

struct xts_shm_conn {
	uint32_t id, host_id;
	uint8_t state; /* enum xts_conn_state */
	uint8_t pad[3];
	uint32_t buf_bytes; /* waiting for the kernel */
	uint32_t tx_credit; /* bytes the host lets the shard send */
	uint8_t local[24];  /* struct xts_addr, wire form */
	uint8_t peer[24];
	uint8_t pad2[4];
};
_Static_assert(sizeof(struct xts_shm_conn) == 72, "xts_shm_conn size");

/* One page of a shard's connections: those of the slots from sup.conns_from
 * on, at most XTS_SHM_CONNS_MAX; xtsd asks for the next page at `next`
 * until it is 0 (xtsctl conns lists any number, 72 KiB a shard here). */
struct xts_shm_conns {
	uint32_t total; /* connections the shard had */
	uint32_t n;	/* listed here (<= XTS_SHM_CONNS_MAX) */
	uint32_t next;	/* slot the next page starts at; 0: this was the last */
	uint8_t pad[52];
	struct xts_shm_conn c[XTS_SHM_CONNS_MAX];
};
_Static_assert(offsetof(struct xts_shm_conns, c) == 64, "xts_shm_conns layout");

/* Region size for @nshards shards. */
static inline uint64_t xts_shm_size(uint32_t nshards)
{
	uint64_t sz = sizeof(struct xts_shm_hdr);

	sz += (sizeof(struct xts_shm_cfg) + XTS_SHM_CACHELINE - 1) & ~(uint64_t)63;
	sz += (uint64_t)nshards * sizeof(struct xts_shm_shard);
	sz += (uint64_t)nshards * sizeof(struct xts_shm_conns);
	return sz;
}

/* Lay the parts out in a zeroed region of xts_shm_size(nshards) bytes. */
static inline void xts_shm_format(void *base, uint32_t nshards)
{
	struct xts_shm_hdr *h = (struct xts_shm_hdr *)base;
	uint32_t off = sizeof(*h);

	h->magic = XTS_SHM_MAGIC;
	h->version = XTS_SHM_VERSION;
	h->size = xts_shm_size(nshards);
	h->nshards = nshards;
	h->cfg_off = off;
	h->cfg_size = sizeof(struct xts_shm_cfg);
	off += (uint32_t)((sizeof(struct xts_shm_cfg) + XTS_SHM_CACHELINE - 1) & ~63u);
	h->shard_off = off;
	h->shard_size = sizeof(struct xts_shm_shard);
	off += nshards * (uint32_t)sizeof(struct xts_shm_shard);
	h->conns_off = off;
	h->conns_size = sizeof(struct xts_shm_conns);
	off += nshards * (uint32_t)sizeof(struct xts_shm_conns);
	h->reg_off = off;
	h->reg_size = 0; /* xtsd formats the registry here (supervisor/sup_reg.c) */
}

static inline struct xts_shm_cfg *xts_shm_cfg(void *base)
{
	return (struct xts_shm_cfg *)((char *)base + ((struct xts_shm_hdr *)base)->cfg_off);
}

static inline struct xts_shm_shard *xts_shm_shard(void *base, uint32_t i)
{
	struct xts_shm_hdr *h = (struct xts_shm_hdr *)base;

	return (struct xts_shm_shard *)((char *)base + h->shard_off + (uint64_t)i * h->shard_size);
}

static inline struct xts_shm_conns *xts_shm_conns(void *base, uint32_t i)
{
	struct xts_shm_hdr *h = (struct xts_shm_hdr *)base;

	return (struct xts_shm_conns *)((char *)base + h->conns_off + (uint64_t)i * h->conns_size);
}

/*
 * Config seqlock.  One writer (xtsd); readers (shards) copy the snapshot
 * between loop rounds.  The writer makes seq odd, writes, makes it even;
 * a reader that saw an odd seq, or a seq that changed under its copy,
 * tries again.  The fences order the plain data copies against the seq
 * accesses (as the kernel's seqcount does).
 */
static inline void xts_shm_cfg_publish(struct xts_shm_cfg *dst, const struct xts_shm_cfg *src)
{
	uint32_t seq = __atomic_load_n(&dst->seq, __ATOMIC_RELAXED);
	uint32_t nacl = src->nacl <= XTS_SHM_ACL_MAX ? src->nacl : XTS_SHM_ACL_MAX;

	__atomic_store_n(&dst->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy((char *)dst + sizeof(dst->seq), (const char *)src + sizeof(src->seq),
	       offsetof(struct xts_shm_cfg, acl) - sizeof(src->seq));
	dst->nacl = nacl;
	memcpy(dst->acl, src->acl, nacl * sizeof(src->acl[0]));
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&dst->seq, seq + 2, __ATOMIC_RELAXED);
}

/* The published generation, without copying (a shard's per-round check). */
static inline uint64_t xts_shm_cfg_gen(const struct xts_shm_cfg *c)
{
	return __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE);
}

/* Copy a consistent snapshot into *out: 0, or -1 when the writer kept
 * it busy for @tries attempts (the caller tries again next round). */
static inline int xts_shm_cfg_read(const struct xts_shm_cfg *src, struct xts_shm_cfg *out,
				   unsigned tries)
{
	while (tries--) {
		uint32_t s0 = __atomic_load_n(&src->seq, __ATOMIC_ACQUIRE), nacl;

		if (s0 & 1)
			continue;
		memcpy(out, src, offsetof(struct xts_shm_cfg, acl));
		nacl = out->nacl <= XTS_SHM_ACL_MAX ? out->nacl : XTS_SHM_ACL_MAX;
		memcpy(out->acl, src->acl, nacl * sizeof(src->acl[0]));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&src->seq, __ATOMIC_RELAXED) == s0) {
			out->nacl = nacl;
			out->seq = s0;
			return 0;
		}
	}
	return -1;
}

/*
 * ACL matching.  One normal form for addresses, used for every check
 * (connect, listen, a bind before connect) and for the rules themselves
 * (supervisor/cfg_acl.c): an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
 * the IPv4 address a.b.c.d, because that is where the kernel connects an
 * AF_INET6 socket given it.  So an IPv6 rule, [::]/0 included, never
 * matches an IPv4 destination in either spelling, and an IPv4 rule
 * matches both spellings.
 */
static inline void xts_acl_norm(uint8_t *family, uint8_t addr[16], uint8_t *prefix)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (*family != AF_INET6 || memcmp(addr, mapped, sizeof(mapped)) || (prefix && *prefix < 96))
		return;
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	*family = AF_INET;
	if (prefix)
		*prefix = (uint8_t)(*prefix - 96);
}

/* A destination that is the DPU itself whatever the routing table says:
 * loopback (127/8, ::1) and "this host" (0/8, ::), which Linux connects
 * to over loopback.  Normal form (xts_acl_norm) expected. */
static inline int xts_acl_loopback(uint8_t family, const uint8_t addr[16])
{
	static const uint8_t zero[16];

	if (family == AF_INET)
		return addr[0] == 127 || addr[0] == 0;
	return family == AF_INET6 && !memcmp(addr, zero, 15) && addr[15] <= 1;
}

static inline int xts_acl_match_one(const struct xts_shm_acl *r, uint8_t family,
				    const uint8_t *addr, uint16_t port)
{
	unsigned bits = r->prefix, i;

	if (r->kind == XTS_ACL_TLS) /* a profile's name, or "*" */
		return !r->family || !memcmp(r->addr, addr, sizeof(r->addr));
	if (port < r->port_lo || port > r->port_hi)
		return 0;
	if (r->kind == XTS_ACL_LISTEN || !r->family)
		return 1;
	if (r->family != family)
		return 0;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (addr[i] != r->addr[i])
			return 0;
	if (bits) {
		uint8_t mask = (uint8_t)(0xff00u >> bits);

		if ((addr[i] & mask) != (r->addr[i] & mask))
			return 0;
	}
	return 1;
}

/* Does rule @r name a destination on the DPU itself on purpose: the very
 * address (/32, /128), or a prefix inside 127/8?  "*", 0.0.0.0/0, [::]/0
 * and a subnet that happens to hold a DPU address do not. */
static inline int xts_acl_names_local(const struct xts_shm_acl *r, uint8_t family)
{
	if (r->family != family)
		return 0;
	return r->prefix == (family == AF_INET ? 32 : 128) ||
	       (family == AF_INET && r->addr[0] == 127 && r->prefix >= 8);
}

/*
 * ACL check for a connect (XTS_ACL_CONNECT) or a listen or bound source
 * port (XTS_ACL_LISTEN) of queue @queue, to or on (family, addr, port):
 * the queue's own rules of that kind if it has any, else the default
 * rules; no rule of either kind allows everything, except a connect to
 * the DPU itself, which only a rule naming it allows
 * (xts_acl_names_local): loopback and 0/8 here, and whatever the caller
 * knows to be the DPU's own (@local: the routing table's local routes,
 * its interface addresses).  1 allowed, 0 refused.  @addr: 16 bytes,
 * network order, IPv4 in the first 4.
 */
static inline int xts_acl_allows(const struct xts_shm_cfg *c, uint8_t kind, uint16_t queue,
				 uint8_t family, const uint8_t *addr, uint16_t port, int local)
{
	uint32_t i, n = c->nacl <= XTS_SHM_ACL_MAX ? c->nacl : XTS_SHM_ACL_MAX;
	int own = 0, any = 0;
	uint8_t a[16];

	memcpy(a, addr, sizeof(a));
	xts_acl_norm(&family, a, NULL);
	local = kind == XTS_ACL_CONNECT && (local || xts_acl_loopback(family, a));
	for (i = 0; i < n; i++)
		if (c->acl[i].kind == kind && c->acl[i].queue == queue)
			own = 1;
	for (i = 0; i < n; i++) {
		const struct xts_shm_acl *r = &c->acl[i];

		if (r->kind != kind || r->queue != (own ? queue : XTS_ACL_ANY_QUEUE))
			continue;
		any = 1;
		if (xts_acl_match_one(r, family, a, port) &&
		    (!local || xts_acl_names_local(r, family)))
			return 1;
	}
	return !any && !local;
}

#endif /* XTS_SHM_H */

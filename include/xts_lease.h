/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xts_lease.h - what crosses between xportd (the host's queue broker) and
 * a process that leases a queue from it (libxport): the lease wire and the
 * shared-memory area a lessee publishes its sockets in.  docs/operations.md
 * ("xportd") describes both in prose.
 *
 * The wire is the ctl wire (xts_ctl.h: "v1 COMMAND ARG...\n", then "ok" or
 * "error ERRNO MESSAGE", records, "end") over a unix stream socket, with
 * file descriptors passed by SCM_RIGHTS:
 *
 *   v1 lease queue=Q|any wait_ms=N sockets=N     -> ok + one `lease` record,
 *        and [xsk, umem, shm] fds with the response.  The connection stays
 *        open: it is the lease.  Closing it (or exiting) ends the lease.
 *   v1 renew queue=Q id=ID  with [xsk, umem, shm]  -> ok: a lessee of an
 *        xportd that died hands its lease to the new one (the connection
 *        then is the lease again).
 *   v1 status | v1 socks [pid=P]                -> records, then close.
 *
 * The area (a memfd of xts_lease_size(max_socks) bytes, sealed against
 * resizing) has one writer per part: xportd writes `hdr` before it hands
 * the area over and `snap.req` after; the lessee writes everything else.
 * Nothing in it is trusted by xportd for anything but display, and the
 * epoch and peer MAC it uses for the lessee's last QRESET (a wrong one
 * can only fail to end the lessee's own session).  Fixed-width fields,
 * sizes asserted.
 */
#ifndef XTS_LEASE_H
#define XTS_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "xts_proto.h" /* struct xts_addr, XTS_MAC_LEN */

#define XTS_LEASE_MAGIC	       0x4c535458u /* "XTSL" */
#define XTS_LEASE_VERSION      1u
#define XTS_LEASE_DEFAULT_PATH "/run/xts/xportd.sock"
#define XTS_LEASE_ENV	       "XPORTD_SOCKET" /* where libxport asks */
#define XTS_LEASE_NFDS	       3	       /* xsk, umem, shm */

struct xts_lease_hdr {
	uint32_t magic;	  /* XTS_LEASE_MAGIC */
	uint32_t version; /* XTS_LEASE_VERSION */
	uint64_t size;	  /* bytes of the area */
	uint64_t id;	  /* the lease's random identity (renew names it) */
	uint32_t queue;
	uint32_t max_socks; /* entries of socks[] */
	uint8_t pad[32];
};
_Static_assert(sizeof(struct xts_lease_hdr) == 64, "xts_lease_hdr is one cache line");

/* The lessee's queue, as it last published it (each field written whole:
 * a reader sees every field whole, fields of one moment not guaranteed). */
struct xts_lease_pub {
	uint32_t epoch;		       /* session epoch; 0: no session */
	uint32_t sockets;	       /* sockets open */
	uint8_t peer_mac[XTS_MAC_LEN]; /* the shard's */
	uint8_t pad[2];
	uint32_t sessions;	   /* queue sessions started */
	uint64_t data_tx, data_rx; /* stream bytes each way */
	uint64_t tx_frames, rx_frames;
	uint64_t resets;     /* connections reset */
	uint64_t updated_ns; /* CLOCK_MONOTONIC of the last publish */
	uint8_t pad2[56];
};
_Static_assert(sizeof(struct xts_lease_pub) == 128, "xts_lease_pub is two cache lines");

/* Socket table snapshots: xportd bumps req; the lessee, between two
 * rounds of its queue, writes socks[0..n) and then done = req (release
 * order), so a reader that sees done == req (acquire) reads a whole
 * snapshot, stable until it asks again. */
struct xts_lease_snap {
	uint32_t req; /* xportd */
	uint8_t pad0[60];
	uint32_t done; /* the lessee, from here on */
	uint32_t n;
	uint32_t truncated; /* more sockets than max_socks */
	uint32_t pad1;
	uint64_t taken_ns; /* CLOCK_MONOTONIC */
	uint8_t pad2[40];
};
_Static_assert(sizeof(struct xts_lease_snap) == 128, "xts_lease_snap is two cache lines");
_Static_assert(offsetof(struct xts_lease_snap, done) == 64, "snap.req has a line of its own");

#define XTS_LEASE_SOCK_STATES(X)                                                                   \
	X(NEW, "new")                                                                              \
	X(CONNECTING, "connecting")                                                                \
	X(ESTABLISHED, "established")                                                              \
	X(CLOSED, "closed")                                                                        \
	X(CLOSING, "closing")                                                                      \
	X(LISTEN, "listen")

enum xts_lease_sock_state {
#define X(n, s) XTS_LS_##n,
	XTS_LEASE_SOCK_STATES(X)
#undef X
	    XTS_LS_N
};

struct xts_lease_sock {
	uint32_t id;   /* the socket's sd in its xport */
	uint8_t state; /* enum xts_lease_sock_state */
	uint8_t pad[3];
	struct xts_addr local, peer;
	uint64_t tx_bytes, rx_bytes; /* stream bytes sent, received */
	uint64_t snd_credit;	     /* bytes the DPU lets it send now */
	uint32_t rcv_unread;	     /* received, not read by the app yet */
	uint32_t pad2;
	uint8_t pad3[40];
};
_Static_assert(sizeof(struct xts_lease_sock) == 128, "xts_lease_sock is two cache lines");

struct xts_lease_shm {
	struct xts_lease_hdr hdr;
	struct xts_lease_pub pub;
	struct xts_lease_snap snap;
	struct xts_lease_sock socks[];
};
_Static_assert(offsetof(struct xts_lease_shm, pub) == 64, "pub offset");
_Static_assert(offsetof(struct xts_lease_shm, snap) == 192, "snap offset");
_Static_assert(offsetof(struct xts_lease_shm, socks) == 320, "socks offset");

static inline uint64_t xts_lease_size(uint32_t max_socks)
{
	uint64_t n =
	    sizeof(struct xts_lease_shm) + (uint64_t)max_socks * sizeof(struct xts_lease_sock);

	return (n + 4095) & ~(uint64_t)4095;
}

static inline const char *xts_lease_state_name(unsigned st)
{
	static const char *const names[] = {
#define X(n, s) s,
	    XTS_LEASE_SOCK_STATES(X)
#undef X
	};

	return st < XTS_LS_N ? names[st] : "?";
}

#endif

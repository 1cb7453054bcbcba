/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xport.h - libxport, the host side of XTS: TCP sockets whose TCP runs on
 * the DPU.  One struct xport per host queue, owned by one thread: no locks
 * on the data path.  T threads -> T queues -> T shards.
 *
 * Sockets are small non-negative ints ("sd") local to their xport.  The
 * socket calls mirror POSIX: they return -1 and set errno, with the same
 * errno values Linux gives (EINPROGRESS, EAGAIN, ECONNREFUSED, ...).
 * xport_open() and xport_close_queue() follow the libxdp convention and
 * return 0 or -errno.
 */
#ifndef XPORT_H
#define XPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>   /* struct iovec for xport_recv_zc */
#include <sys/epoll.h> /* EPOLLIN ... for xport_watch */

#ifdef __cplusplus
extern "C" {
#endif

#ifndef XPORT_API
#define XPORT_API __attribute__((visibility("default")))
#endif

struct xport;

/* Options of xport_open(); NULL or zeroed fields take the defaults.  sz
 * lets the API grow: set it to sizeof(struct xport_opts).  As libbpf's
 * opts: a struct longer than this library knows is refused (EINVAL)
 * unless every field it does not know is zero. */
struct xport_opts {
	size_t sz;	      /* sizeof(struct xport_opts): lets the API grow */
	uint32_t frames;      /* UMEM frames (default 4096) */
	uint32_t ring_size;   /* AF_XDP ring entries (default 2048) */
	uint32_t window;      /* queue window in frames (default 128) */
	uint32_t rcvbuf;      /* per-socket receive buffer = credit (default 256 KiB) */
	int hello_timeout_ms; /* queue attach timeout (default 2000) */
	uint32_t max_sockets; /* socket table size (default 16384) */
	uint32_t flags;	      /* XPORT_OPT_* */
	/* The queue is leased from xportd, the host's queue broker, so the
	 * program needs no privileges (docs/operations.md, "xportd"). */
	const char *xportd; /* its socket; NULL: $XPORTD_SOCKET, else /run/xts/xportd.sock */
	int lease_wait_ms;  /* no free queue: wait this long, then EBUSY
			     * (0: hello_timeout_ms; < 0: do not wait) */
	/* Before a blocking call sleeps for the queue, watch its rx ring this
	 * many microseconds (0, the default: never; at most
	 * XPORT_SPIN_US_MAX).  Adaptive: a spin that sees nothing makes the
	 * next waits sleep at once (1, 2, 4 ... 64 of them), so a program
	 * whose answers come late pays little.  The CPU it spins is the
	 * program's own (getrusage shows it); xport_stats counts waits a spin
	 * ended (spins) and the time spun (spin_ns). */
	uint32_t spin_us;
};
#define XPORT_SPIN_US_MAX 1000

/* Open the queue ourselves (root: CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF),
 * never through xportd.  Without it xport_open asks xportd and opens
 * directly only when none answers at the default socket (no
 * $XPORTD_SOCKET, no opts.xportd). */
#define XPORT_OPT_DIRECT 0x2u

/* xport_open's queue: any free one (xportd picks; xport_queue() says). */
#define XPORT_QUEUE_ANY 0xffffffffu

/* Batched doorbell.  Without it every socket call that queues a frame
 * tells the kernel at once (a sendto(2) per call).  With it, calls leave
 * their frames on the ring and one doorbell per event-loop turn sends them
 * all: xport_poll(), xport_process(), xport_flush() and every call that
 * blocks ring it, and so does a full kernel batch (32 frames).  An app that
 * sleeps anywhere else (its own epoll on xport_fd()) must call
 * xport_process() or xport_flush() first, as it already must to return
 * credit. */
#define XPORT_OPT_BATCH 0x1u

/* Attach to queue @queue of @ifname (or XPORT_QUEUE_ANY): a lease from
 * xportd (or the AF_XDP socket, opened directly), HELLO handshake with
 * the shard serving that queue.  0 or -errno:
 *  -ETIMEDOUT        no shard answered within hello_timeout_ms;
 *  -EBUSY            no free queue within lease_wait_ms (xportd), or the
 *                    queue has a live owner: another process's AF_XDP
 *                    socket on it here (still there after hello_timeout_ms
 *                    of retries), or a live session on the shard (asked,
 *                    it answered).  Open another queue, or wait for the
 *                    owner to close it; a host that died without closing
 *                    holds nothing (the shard takes the queue back when it
 *                    does not answer);
 *  -EACCES           xportd's policy says no;
 *  -EDQUOT           as many leases as the policy allows;
 *  -EPROTONOSUPPORT  the shard speaks another protocol version;
 *  -EINVAL           bad opts (an unknown flag or non-zero tail field);
 *  -ENODEV and the like from the AF_XDP socket (no such interface).
 * The reason in words from xport_last_error(). */
XPORT_API int xport_open(struct xport **xp, const char *ifname, unsigned queue,
			 const struct xport_opts *opts);
/* The queue this xport runs on. */
XPORT_API unsigned xport_queue(const struct xport *xp);
/* Why this thread's last failed xport_open failed, in words (xportd's,
 * when it refused: who holds the queues, which rule says no), or NULL. */
XPORT_API const char *xport_last_error(void);
/* End the queue's session and free @xp, whatever the result.  Sockets
 * already closed finish as they would have (the shard delivers what it
 * holds for them, under its linger time); every socket still open is
 * reset (the shard closes their TCP); the queue is free for the next
 * xport_open at once.  0, or -errno: -EINVAL (@xp NULL), -ETIMEDOUT (the
 * frames owed for closed sockets did not all go within half a second, the
 * shard resets those connections). */
XPORT_API int xport_close_queue(struct xport *xp);

/* The AF_XDP socket fd: readable when frames wait.  Put it in your epoll
 * set and call xport_process() when it fires (and before sleeping). */
XPORT_API int xport_fd(const struct xport *xp);
/* Run the queue without blocking: receive, send acks and credits.
 * Returns the amount of work done (>= 0) or -1/errno when the queue
 * session was lost. */
XPORT_API int xport_process(struct xport *xp);
/* Ring the tx doorbell: every queued frame goes to the DPU now.  0, or
 * -1/errno. */
XPORT_API int xport_flush(struct xport *xp);

/* Sockets.  type: SOCK_STREAM, optionally | SOCK_NONBLOCK. */
XPORT_API int xport_socket(struct xport *xp, int domain, int type, int protocol);
/* With IPPROTO_TCP TCP_FASTOPEN_CONNECT set (as Linux's): connect()
 * returns 0 at once and the first send's bytes travel in the CONNECT
 * itself, one round trip less; a connect error comes from the next call.
 * Needs a shard that takes them (docs/protocol.md, "First bytes in the
 * CONNECT"); otherwise a plain connect. */
XPORT_API int xport_connect(struct xport *xp, int sd, const struct sockaddr *addr, socklen_t len);
/* Listening.  bind() records the address; listen() asks the DPU to listen
 * (each shard opens its own SO_REUSEPORT kernel socket) and returns the
 * DPU's verdict: EADDRINUSE when another socket of any queue listens on an
 * overlapping address and port, unless both set SO_REUSEPORT.
 * SO_REUSEADDR, SO_REUSEPORT and IPV6_V6ONLY are taken before listen().
 * accept4 flags: SOCK_NONBLOCK (SOCK_CLOEXEC accepted and ignored). */
XPORT_API int xport_bind(struct xport *xp, int sd, const struct sockaddr *addr, socklen_t len);
XPORT_API int xport_listen(struct xport *xp, int sd, int backlog);
/* A listener of a queue session that ended: accept returns the session's
 * error (ECONNRESET) once, then EINVAL; poll and xport_wait report it
 * (POLLHUP, POLLIN, POLLOUT) until it is closed, as Linux reports a
 * listener after shutdown(2): close it and listen anew. */
XPORT_API int xport_accept(struct xport *xp, int sd, struct sockaddr *addr, socklen_t *len);
XPORT_API int xport_accept4(struct xport *xp, int sd, struct sockaddr *addr, socklen_t *len,
			    int flags);
XPORT_API ssize_t xport_send(struct xport *xp, int sd, const void *buf, size_t len, int flags);
XPORT_API ssize_t xport_recv(struct xport *xp, int sd, void *buf, size_t len, int flags);
/* recv into msg_iov (msg_flags: MSG_EOR at a framed message's end, see
 * XTS_STRP); no address or control data.  More than one iovec: at most
 * the receive buffer's worth per call. */
XPORT_API ssize_t xport_recvmsg(struct xport *xp, int sd, struct msghdr *msg, int flags);
XPORT_API int xport_shutdown(struct xport *xp, int sd, int how);
XPORT_API int xport_close(struct xport *xp, int sd);
XPORT_API int xport_setsockopt(struct xport *xp, int sd, int level, int name, const void *val,
			       socklen_t len);
XPORT_API int xport_getsockopt(struct xport *xp, int sd, int level, int name, void *val,
			       socklen_t *len);
XPORT_API int xport_getpeername(struct xport *xp, int sd, struct sockaddr *addr, socklen_t *len);
XPORT_API int xport_getsockname(struct xport *xp, int sd, struct sockaddr *addr, socklen_t *len);
/* O_NONBLOCK on or off, as fcntl(F_SETFL) would. */
XPORT_API int xport_set_nonblock(struct xport *xp, int sd, int on);

/* Poll XTS sockets and, in the same wait, ordinary fds: an entry with
 * sd >= 0 names an XTS socket, one with sd < 0 the OS fd in .fd.
 * events/revents use POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP.
 * timeout_ms < 0 waits forever.  Returns entries ready, 0 on timeout,
 * -1/errno. */
struct xport_pollfd {
	int sd;
	int fd;
	short events;
	short revents;
};
XPORT_API int xport_poll(struct xport *xp, struct xport_pollfd *fds, unsigned nfds, int timeout_ms);

/*
 * Readiness sets: an epoll for XTS sockets.  A caller learns which
 * sockets are ready in time proportional to how many are, however many it
 * has (xport_poll looks at every entry it is given).
 *
 * A set is a list of watches (socket, events, data) and the ready list of
 * those with something to report; a socket may be in any number of sets,
 * with other events and data in each.  Set 0 is the queue's own and always
 * there; xport_set_create() makes more (one per emulated epoll instance of
 * an LD_PRELOAD shim, say).  Sets, sockets and waits belong to the queue's
 * thread, as everything else here.
 *
 * xport_watch(xp, set, op, sd, events, data): op XPORT_CTL_ADD (EEXIST if
 * watched already), XPORT_CTL_MOD (ENOENT if not), XPORT_CTL_DEL.  events:
 * EPOLLIN, EPOLLOUT, EPOLLRDHUP (and the other EPOLL*NORM/BAND bits, which
 * mean what they mean to poll), EPOLLERR and EPOLLHUP (always reported),
 * with EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE (ADD only; one thread owns a
 * queue, so it changes nothing).  A socket's watches end with its
 * xport_close().  ADD and MOD check the socket at once: ready now, it is
 * on the ready list now.
 *
 * xport_wait(xp, set, ev, max, timeout_ms): runs the queue and returns up
 * to @max events (each socket once), 0 when @timeout_ms passed (0: do not
 * wait, < 0: forever), or -1/errno: EINTR when a signal came, EBADF for an
 * unknown set, EINVAL for max 0.  What is reported is the socket's state
 * at that moment (the same bits xport_poll gives), masked by the events
 * asked for, as epoll_wait(2) does:
 *  - level-triggered (default): reported by every xport_wait while it
 *    holds; sockets ready at once take turns (round robin).
 *  - EPOLLET: reported once per event that may have made it ready (bytes,
 *    credit, EOF, an error, a connection to accept, the queue window
 *    opening for a socket that filled it), whether or not the caller has
 *    drained it; an event that comes before the report is reported with
 *    it.  No edge is lost: a caller that reads until EAGAIN and then waits
 *    hears of every byte that came after.
 *  - EPOLLONESHOT: after one report, silent until XPORT_CTL_MOD re-arms
 *    it.
 * Sleeping in your own epoll on xport_fd() instead works as with
 * xport_process(): call xport_wait(..., 0) when it fires and before you
 * sleep (a call of yours, say a shutdown(), can make a socket ready
 * without a frame arriving).
 */
#define XPORT_CTL_ADD 1 /* the values of EPOLL_CTL_ADD, _DEL, _MOD */
#define XPORT_CTL_DEL 2
#define XPORT_CTL_MOD 3

struct xport_event {
	uint32_t events; /* EPOLLIN, EPOLLOUT, ... that hold */
	int sd;		 /* the socket */
	uint64_t data;	 /* the caller's, from xport_watch() */
};

/* A new set: its id (> 0), or -1/errno (EMFILE: 4095 sets already). */
XPORT_API int xport_set_create(struct xport *xp);
/* Free a set and its watches (not set 0): 0 or -1/errno. */
XPORT_API int xport_set_close(struct xport *xp, int set);
XPORT_API int xport_watch(struct xport *xp, int set, int op, int sd, uint32_t events,
			  uint64_t data);
XPORT_API int xport_wait(struct xport *xp, int set, struct xport_event *ev, unsigned max,
			 int timeout_ms);

/* Counters of this queue. */
struct xport_stats {
	uint64_t tx_frames, tx_bytes, rx_frames, rx_bytes;
	uint64_t data_tx_bytes, data_rx_bytes; /* stream payload */
	uint64_t window_stalls, credit_stalls, seq_gaps, resets, rx_malformed, rx_stale;
	uint64_t xsk_rx_dropped, xsk_rx_ring_full, xsk_fill_empty, xsk_rx_invalid, xsk_tx_invalid;
	uint32_t epoch, tx_seq, rx_seq, peer_ack;
	uint32_t sockets;
	uint32_t draining; /* 1: the shard drains (see xport_queue_draining) */
	uint32_t restarts; /* shard restarts seen (QRESET with epoch 0) */
	/* the cost side: tx doorbells (sendto), sleeps in poll(2), pure ACKs */
	uint64_t kicks, sleeps, acks_tx;
	/* frames dropped as not the shard's (docs/protocol.md, "Forged
	 * frames"): in the session but from another MAC; the session's MAC
	 * but a sequence number outside the receive window */
	uint64_t rx_foreign, rx_forged;
	/* opts.spin_us: waits ended by frames seen while spinning (no
	 * sleep), and nanoseconds spent spinning in all */
	uint64_t spins, spin_ns;
	/* zero copy (see "Zero copy" below): DATA frames kept for
	 * xport_recv_zc; DATA frames a zero-copy socket had copied (the
	 * socket's or the queue's bound reached, and then until its buffer
	 * drained); frames held now; tx frames lent now; DATA sent from
	 * xport_send_buf */
	uint64_t zc_rx_frames, zc_rx_copied;
	uint32_t zc_rx_held, zc_tx_lent;
	uint64_t zc_tx_frames;
	/* multi-buffer frames (frames larger than one UMEM chunk): the
	 * largest frame of the session now (Ethernet header included),
	 * whether this queue takes them at all (1: bound with XDP_USE_SG;
	 * 0: off, XTS_MBUF=0, or the kernel, driver or MTU said no), and
	 * frames sent and received that spanned several chunks */
	uint32_t max_frame, mbuf;
	uint64_t mbuf_tx_frames, mbuf_rx_frames;
	/* bundles (several messages in one frame, when the shard takes
	 * them too): messages sent and received in another's frame */
	uint64_t tx_bundled, rx_bundled;
};
XPORT_API int xport_stats(struct xport *xp, struct xport_stats *st, size_t sz);

/* 1 while the queue's shard drains: it refuses new connects with
 * ESHUTDOWN (established connections carry on), so connect on another
 * queue; 0 otherwise.  Learned from the shard's DRAINING notice. */
XPORT_API int xport_queue_draining(const struct xport *xp);

/*
 * Zero copy.  A DATA frame arrives in a UMEM frame, which xport_recv
 * copies into the socket's receive buffer and from there into yours; a
 * send copies your bytes into a UMEM frame.  These calls lend you the UMEM
 * frames instead (on hardware with zero-copy AF_XDP, nothing copies the
 * payload at all; on veth the kernel still copies between the two UMEMs).
 * Payloads start 64-byte aligned in their frames (header/data split).
 *
 * Receive: xport_recv_zc fills iov[0..max) with spans (base, len) of the
 * socket's unread bytes, in stream order, without consuming them, and
 * returns how many spans it filled (>= 1), 0 at EOF, or -1/errno as
 * xport_recv would (EAGAIN, ENOTCONN, ECONNRESET, ...; EINVAL for max 0
 * or a flag other than MSG_DONTWAIT; ENOMEM; EOPNOTSUPP on a socket with
 * framing, whose messages xport_recvmsg delivers one by one).  Then
 * xport_recv_done(xp, sd, n) consumes the first n of those bytes: frames
 * wholly consumed go back to the queue and their bytes to the DPU as
 * credit.  The spans stay valid until their bytes are consumed, the socket
 * is closed (or disconnected with AF_UNSPEC) or the queue closed, and
 * nothing else moves them: the engine may run (any call) and more data
 * arrive meanwhile.  Another xport_recv_zc lends the same unread bytes
 * again, plus what came since.  xport_recv_done fails with EINVAL when n
 * is more than the bytes lent (a socket closed and its sd reused lends
 * nothing: a release after close never reaches another socket's frames)
 * and EBADF for a closed sd.  A copying xport_recv that would consume
 * bytes while some are lent fails with EBUSY (MSG_PEEK works); after a
 * recv_done of everything lent, the two mix freely.
 *
 * The first xport_recv_zc makes the socket keep its DATA frames: until
 * then, and whenever the socket holds 128 frames or the queue as many as
 * its fill ring can spare, DATA is copied into the socket's buffer as
 * before (stats: zc_rx_copied) and lent from there.  Held bytes count
 * against the receive buffer (rcvbuf) as unread bytes do: the DPU's
 * credit never lets it send more than you hold back.  Release in order,
 * and soon: what you hold is what the DPU may not send.
 *
 *   struct iovec v[16];
 *   int n = xport_recv_zc(xp, sd, v, 16, 0);
 *   ssize_t w = n > 0 ? writev(fd, v, n) : 0;
 *   if (w > 0) xport_recv_done(xp, sd, (size_t)w);
 *
 * Send: xport_send_buf lends one tx frame for the socket: *buf points at
 * its payload (64-byte aligned) and the return value is how many bytes
 * you may put there (>= 1, at most @want, the frame's payload and the
 * socket's send credit).  It waits for credit and window as xport_send
 * does (unless non-blocking or MSG_DONTWAIT: EAGAIN); errors as
 * xport_send (EPIPE, ECONNRESET, ...), or ENOBUFS when 32 sockets of the
 * queue (or half its window's worth) hold a tx frame already.  Asked
 * again before the commit, it lends the same frame.
 * xport_send_commit(xp, sd, len, flags) sends the first len bytes of it
 * as one DATA frame (MSG_MORE, and MSG_EOR on a framed socket, as
 * xport_send); returns len, 0 for len 0 (the frame goes back unsent), or
 * -1/errno: EMSGSIZE when len is more than was lent (the frame stays
 * lent), EINVAL when no frame is lent, EPIPE/ECONNRESET when the
 * connection ended meanwhile (the frame goes back).  A lent frame holds a
 * slot of the queue window; closing the socket takes it back: do not
 * touch *buf after that.
 *
 *   void *b;
 *   ssize_t cap = xport_send_buf(xp, sd, 65536, &b, 0);
 *   ssize_t r = cap > 0 ? read(fd, b, (size_t)cap) : -1;
 *   if (r >= 0) xport_send_commit(xp, sd, (size_t)r, 0);
 *
 * tests/integration/xts-zc.c is a whole program (stdin to a connection and
 * back to stdout, both ways zero copy).
 */
XPORT_API int xport_recv_zc(struct xport *xp, int sd, struct iovec *iov, unsigned max, int flags);
XPORT_API int xport_recv_done(struct xport *xp, int sd, size_t n);
XPORT_API ssize_t xport_send_buf(struct xport *xp, int sd, size_t want, void **buf, int flags);
XPORT_API ssize_t xport_send_commit(struct xport *xp, int sd, size_t len, int flags);

/*
 * ULPs on the DPU (docs/protocol.md, "ULPs"), as Linux pushes them: before
 * connect() or listen(),
 *   xport_setsockopt(xp, sd, SOL_TCP, TCP_ULP, "tls", 4);
 *   xport_setsockopt(xp, sd, SOL_XTS, XTS_TLS_PROFILE, "web", 4);
 * then, for a connect, XTS_TLS_SERVER_NAME (SNI and the name verified;
 * none: the address connected to is verified) and XTS_TLS_ALPN (wire form,
 * "\x08http/1.1"; none: the profile's).  The shard does the TLS; the
 * program reads and writes plaintext and never holds a key.  connect()
 * completes only once the handshake did: EKEYREJECTED when the server's
 * certificate does not verify, EPROTO for a protocol failure, ETIMEDOUT,
 * ENOENT for a profile the DPU does not have, EOPNOTSUPP from a shard
 * without TLS.  accept() on a TLS listener returns only connections whose
 * handshake succeeded.  getsockopt XTS_ULP_INFO says what TLS became and,
 * after a failure, why (`reason`).
 */
#ifndef SOL_TCP
#define SOL_TCP 6
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif
#define SOL_XTS		    0x5854 /* "XT": options of the DPU's ULPs */
#define XTS_TLS_PROFILE	    1	   /* char[], at most 15 bytes: a profile of xts.conf */
#define XTS_TLS_SERVER_NAME 2	   /* char[], at most 255 bytes */
#define XTS_TLS_ALPN	    3	   /* ALPN list in wire form, at most 63 bytes */
#define XTS_STRP	    4	   /* struct xport_strp: the framing ("strp" pushed) */
#define XTS_ULP_INFO	    16	   /* get: struct xport_ulp_info */
/* int, on a listening socket, any time: the socket is open in other
 * processes too (fork), so its close() here is not the socket's end:
 * connections the DPU holds for it wait (at most xts.conf's
 * timeouts.handoff_ms, 5 s by default) for a listener of
 * the same reuseport group to listen again, instead of being reset.  The
 * DPU hands a closing listener's connections to a sibling that listens
 * already whether or not this is set (docs/design.md, "The drain of a
 * listener"). */
#define XTS_LSN_SHARED 5
/* int, get, on a connection: bytes sent that the DPU has not yet taken,
 * i.e. not yet written into its own TCP socket (in DATA frames on their
 * way to the DPU, or in the shard's buffer for the connection), as
 * counted by the send credit the DPU has not yet given back.  What the
 * DPU's kernel has taken and the peer not yet acknowledged is not in it:
 * TCP_INFO (the DPU kernel's) has that.  0 before a connection is
 * established and after it is reset; EINVAL on a listener.  xts-run's
 * SIOCOUTQ and SIOCOUTQNSD add the DPU kernel's part to it. */
#define XTS_OUTQ 6

/*
 * Framing ("strp"): the DPU cuts the stream into messages and a receive
 * returns bytes of one message only; xport_recvmsg sets MSG_EOR in
 * msg_flags on the call that returns a message's last byte, so a buffer
 * shorter than the message reads it in parts, as KCM's SOCK_SEQPACKET
 * does.  The socket is readable (poll, xport_wait) only while a whole
 * message waits.  A message longer than `max` (at most, and by default,
 * the queue's receive buffer: a whole message must fit it) fails the
 * connection with EMSGSIZE, a malformed stream with EBADMSG, an end of
 * stream inside a message with EPIPE; XTS_ULP_INFO's reason says more.
 * On the way out the DPU checks the program's messages with the same
 * framing (HTTP_REQ's answers as HTTP_RESP, and the reverse): send with
 * MSG_EOR marks a message's end, and one that is not an end fails the
 * connection with EBADMSG.  Framing stacks on TLS (TLS below).
 */
#define XPORT_STRP_LEN	     1	 /* a length field: offset, width 1/2/4/8, adjust */
#define XPORT_STRP_LINE	     2	 /* up to \n (\r\n with XPORT_STRP_F_CRLF) */
#define XPORT_STRP_HTTP_REQ  3	 /* HTTP/1 requests (a server) */
#define XPORT_STRP_HTTP_RESP 4	 /* HTTP/1 responses (a client) */
#define XPORT_STRP_RESP	     5	 /* RESP (redis) values */
#define XPORT_STRP_F_BE	     0x1 /* LEN: the field is big-endian */
#define XPORT_STRP_F_CRLF    0x2 /* LINE: lines end with \r\n */
struct xport_strp {
	uint8_t kind;  /* XPORT_STRP_* */
	uint8_t width; /* LEN: 1, 2, 4 or 8 */
	uint8_t flags; /* XPORT_STRP_F_* */
	uint8_t reserved;
	uint32_t offset; /* LEN: where the field starts in the message */
	int32_t adjust;	 /* LEN: message bytes = field + adjust */
	uint32_t max;	 /* largest message; 0: the receive buffer */
};

#define XPORT_ULPI_RESUMED  0x1 /* the TLS session was resumed */
#define XPORT_ULPI_VERIFIED 0x2 /* the peer's certificate was verified */
struct xport_ulp_info {
	uint16_t version; /* 0x0303 TLS 1.2, 0x0304 TLS 1.3; 0 none (yet) */
	uint16_t flags;	  /* XPORT_ULPI_* */
	int32_t verify;	  /* X.509 verification result, 0 ok */
	int32_t err;	  /* the errno the ULP failed with, 0 none */
	char cipher[48];
	char alpn[32];	  /* the protocol agreed */
	char sni[128];	  /* asked for by the client (terminate) or sent */
	char reason[128]; /* why it failed, readable */
};

#ifdef __cplusplus
}
#endif
#endif /* XPORT_H */

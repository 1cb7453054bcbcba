// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-zc - the zero-copy API of libxport (include/xport.h, "Zero copy")
 * as a whole program: stdin to one XTS connection, the connection to
 * stdout, like xts-cat, with no copy of libxport's own either way.
 *
 *   xts-zc [-i IFNAME] [-q QUEUE] [-c] [-v] [-b BYTES] HOST PORT
 *
 * Up: xport_send_buf lends a tx frame and read(2) fills it in place from
 * stdin; xport_send_commit sends it.  Down: xport_recv_zc lends the
 * received frames and writev(2) takes them straight to stdout;
 * xport_recv_done gives them back.  -c does the same with xport_send and
 * xport_recv through a 64 KiB buffer (the copying calls), to compare.
 * -v prints, on exit, the bytes each way and the process's CPU time per
 * GB moved (user + system, getrusage): one line, "key=value" pairs.
 * Exit 0 once stdin's EOF went out and the peer's came back with every
 * byte written; 1 on an error, with one line on stderr; 2 on misuse.
 *
 * -b BYTES: no stdin or stdout: BYTES of a known pattern are written into
 * the frames in place (zero copy) or into the 64 KiB buffer (-c), and
 * what comes back is checked against it where it lies (the lent spans, or
 * the buffer): the same work for the program either way, so that the CPU
 * per GB it prints differs by libxport's copies alone.  A byte that comes
 * back wrong is an error (its offset said).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "xport.h"

#define PROG  "xts-zc"
#define CHUNK 65536
#define SPANS 64

static bool copy_mode;
static uint64_t bench_total, prod_pos; /* -b */
static char cbuf[CHUNK];
static uint64_t up_bytes, down_bytes;

static int fail(const char *what)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(errno));
	return -1;
}

/* The -b pattern: 8 bytes per 64-bit word k, little-endian. */
static inline uint64_t pat_word(uint64_t k)
{
	return (k * 0x9e3779b97f4a7c15ull) ^ (k >> 7);
}

static inline uint8_t pat_byte(uint64_t pos)
{
	return (uint8_t)(pat_word(pos >> 3) >> (8 * (pos & 7)));
}

static void pat_fill(uint64_t pos, uint8_t *d, size_t n)
{
	for (; n && (pos & 7); n--)
		*d++ = pat_byte(pos++);
	for (; n >= 8; n -= 8, d += 8, pos += 8) {
		uint64_t w = pat_word(pos >> 3);

		memcpy(d, &w, 8);
	}
	for (; n; n--)
		*d++ = pat_byte(pos++);
}

/* 0, or -1 (said) at the first byte that is not the pattern's. */
static int pat_check(uint64_t pos, const uint8_t *d, size_t n)
{
	size_t i = 0;

	for (; i < n && ((pos + i) & 7); i++)
		if (d[i] != pat_byte(pos + i))
			goto bad;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, d + i, 8);
		if (w != pat_word((pos + i) >> 3))
			break; /* find the byte below */
	}
	for (; i < n; i++)
		if (d[i] != pat_byte(pos + i))
			goto bad;
	return 0;
bad:
	fprintf(stderr, PROG ": byte %llu came back wrong\n", (unsigned long long)(pos + i));
	return -1;
}

/* The next bytes to send, into @d: from stdin, or the -b pattern. */
static ssize_t produce(void *d, size_t cap)
{
	size_t n;

	if (!bench_total)
		return read(0, d, cap);
	n = bench_total - prod_pos < cap ? (size_t)(bench_total - prod_pos) : cap;
	pat_fill(prod_pos, d, n);
	prod_pos += n;
	return (ssize_t)n;
}

/* Everything in @v[0..n) to stdout (blocking), or -1. */
static int write_all(struct iovec *v, int n)
{
	while (n > 0) {
		ssize_t w = writev(1, v, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return fail("write");
		}
		while (n > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* The connection to stdout until it would block: 1 at EOF, 0, or -1. */
static int down(struct xport *xp, int sd)
{
	struct iovec v[SPANS];

	for (;;) {
		size_t total = 0;
		int n, i;

		if (copy_mode) {
			ssize_t r = xport_recv(xp, sd, cbuf, sizeof(cbuf), MSG_DONTWAIT);

			n = r > 0 ? 1 : (int)r;
			v[0] = (struct iovec){.iov_base = cbuf, .iov_len = r > 0 ? (size_t)r : 0};
		} else {
			n = xport_recv_zc(xp, sd, v, SPANS, MSG_DONTWAIT);
		}
		if (n == 0)
			return 1;
		if (n < 0)
			return errno == EAGAIN ? 0 : fail("recv");
		for (i = 0; i < n; i++) {
			if (bench_total &&
			    pat_check(down_bytes + total, v[i].iov_base, v[i].iov_len))
				return -1;
			total += v[i].iov_len;
		}
		if (!bench_total && write_all(v, n))
			return -1;
		down_bytes += total;
		if (!copy_mode && xport_recv_done(xp, sd, total))
			return fail("recv_done");
	}
}

/* -c: the bytes read from stdin and not sent yet */
static char ubuf[CHUNK];
static size_t uoff, ulen;

/* Stdin to the connection while both can: 1 at stdin's EOF (sent), 2
 * when the connection takes no more now, 0 when stdin has none, -1. */
static int up(struct xport *xp, int sd)
{
	for (;;) {
		ssize_t cap, r;
		void *b;

		if (copy_mode) {
			if (ulen) {
				r = xport_send(xp, sd, ubuf + uoff, ulen, MSG_DONTWAIT);
				if (r < 0)
					return errno == EAGAIN ? 2 : fail("send");
				uoff += (size_t)r;
				ulen -= (size_t)r;
				up_bytes += (uint64_t)r;
				continue;
			}
			r = produce(ubuf, sizeof(ubuf));
			if (r > 0) {
				uoff = 0;
				ulen = (size_t)r;
				continue;
			}
		} else {
			cap = xport_send_buf(xp, sd, CHUNK, &b, MSG_DONTWAIT);
			if (cap < 0)
				return errno == EAGAIN ? 2 : fail("send_buf");
			r = produce(b, (size_t)cap); /* straight into the frame */
			if (r > 0) {
				if (xport_send_commit(xp, sd, (size_t)r, 0) != r)
					return fail("send_commit");
				up_bytes += (uint64_t)r;
				continue;
			}
			xport_send_commit(xp, sd, 0, 0); /* nothing read: back unsent */
		}
		if (r < 0)
			return errno == EAGAIN ? 0 : fail("read");
		if (xport_shutdown(xp, sd, SHUT_WR))
			return fail("shutdown");
		return 1;
	}
}

static int relay(struct xport *xp, int sd)
{
	bool in_eof = false, in_ready = bench_total > 0, peer_eof = false;
	int r;

	while (!in_eof || !peer_eof) {
		struct xport_pollfd p[2] = {
		    {.sd = sd,
		     .fd = -1,
		     .events = (short)((peer_eof ? 0 : POLLIN) | (in_ready ? POLLOUT : 0))},
		    {.sd = -1,
		     .fd = (!in_eof && !in_ready && !bench_total) ? 0 : -1,
		     .events = POLLIN},
		};

		if (xport_poll(xp, p, 2, -1) < 0 && errno != EINTR)
			return fail("poll");
		if (p[1].revents)
			in_ready = true;
		if (in_ready && (p[0].revents & (POLLOUT | POLLERR))) {
			r = up(xp, sd);
			if (r < 0)
				return -1;
			in_eof = r == 1;
			in_ready = r == 2; /* else until poll says stdin has more */
		}
		if (!peer_eof && (p[0].revents & (POLLIN | POLLERR | POLLHUP))) {
			r = down(xp, sd);
			if (r < 0)
				return -1;
			peer_eof = r == 1;
		}
	}
	return 0;
}

static int dial(struct xport *xp, const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	int sd, gai = getaddrinfo(host, port, &hints, &ai);

	if (gai) {
		fprintf(stderr, PROG ": %s: %s\n", host, gai_strerror(gai));
		return -1;
	}
	sd = xport_socket(xp, ai->ai_family, SOCK_STREAM, 0);
	if (sd < 0 || xport_connect(xp, sd, ai->ai_addr, ai->ai_addrlen)) {
		freeaddrinfo(ai);
		return fail("connect");
	}
	freeaddrinfo(ai);
	return sd;
}

/* CPU seconds of this process so far: user, and user + system */
static double cpu_s(double *user)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	return *user + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *ifname = "xh0";
	unsigned queue = 0;
	bool verbose = false;
	struct xport_opts o = {.sz = sizeof(o), .flags = XPORT_OPT_BATCH};
	struct xport *xp;
	double c0, u0, t0, gb;
	int c, sd, err, rc;

	while ((c = getopt(argc, argv, "i:q:cvb:")) != -1) {
		switch (c) {
		case 'i':
			ifname = optarg;
			break;
		case 'q':
			queue = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			copy_mode = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'b':
			bench_total = strtoull(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: " PROG
					" [-i IFNAME] [-q QUEUE] [-c] [-v] [-b BYTES] HOST PORT\n");
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr,
			"usage: " PROG " [-i IFNAME] [-q QUEUE] [-c] [-v] [-b BYTES] HOST PORT\n");
		return 2;
	}
	/* one doorbell per turn of the loop, in both modes (xport.h) */
	err = xport_open(&xp, ifname, queue, &o);
	if (err) {
		fprintf(stderr, PROG ": open %s queue %u: %s\n", ifname, queue, strerror(-err));
		return 1;
	}
	sd = dial(xp, argv[optind], argv[optind + 1]);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	c0 = cpu_s(&u0);
	t0 = wall_s();
	rc = sd < 0 || relay(xp, sd) ? 1 : 0;
	if (!rc && bench_total && down_bytes != bench_total) {
		fprintf(stderr, PROG ": %llu bytes came back of %llu\n",
			(unsigned long long)down_bytes, (unsigned long long)bench_total);
		rc = 1;
	}
	if (verbose) {
		struct xport_stats st;
		double u1, cpu = cpu_s(&u1) - c0, wall = wall_s() - t0;

		xport_stats(xp, &st, sizeof(st));
		gb = (double)(up_bytes + down_bytes) / 1e9;
		fprintf(
		    stderr,
		    "mode=%s up=%llu down=%llu wall_s=%.3f cpu_s=%.3f cpu_s_per_gb=%.3f "
		    "user_s_per_gb=%.3f "
		    "zc_rx_frames=%llu zc_rx_copied=%llu zc_tx_frames=%llu kicks=%llu sleeps=%llu "
		    "tx_frames=%llu rx_frames=%llu max_frame=%u mbuf=%u mbuf_tx=%llu mbuf_rx=%llu "
		    "xsk_rx_dropped=%llu\n",
		    copy_mode ? "copy" : "zc", (unsigned long long)up_bytes,
		    (unsigned long long)down_bytes, wall, cpu, gb > 0 ? cpu / gb : 0.0,
		    gb > 0 ? (u1 - u0) / gb : 0.0, (unsigned long long)st.zc_rx_frames,
		    (unsigned long long)st.zc_rx_copied, (unsigned long long)st.zc_tx_frames,
		    (unsigned long long)st.kicks, (unsigned long long)st.sleeps,
		    (unsigned long long)st.tx_frames, (unsigned long long)st.rx_frames,
		    st.max_frame, st.mbuf, (unsigned long long)st.mbuf_tx_frames,
		    (unsigned long long)st.mbuf_rx_frames, (unsigned long long)st.xsk_rx_dropped);
	}
	if (sd >= 0)
		xport_close(xp, sd);
	xport_close_queue(xp);
	return rc;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-strp-check - the host side of the framing ULP's tests
 * (test_ulp_strp.sh): a libxport program that pushes "strp" on its socket
 * and checks that every receive returns one message.
 *
 *   xts-strp-check [-q Q] [-b BUF] [-m MAX] [-T] MODE HOST PORT [ARG]
 *
 * Framing: a 4-byte big-endian length of the payload before it (LEN,
 * width 4, adjust +4); with -T TLS is pushed below it (profile "api",
 * server name net.xts.test).  -b reads with a BUF-byte buffer (parts,
 * MSG_EOR on the last), -m asks for that max message size.
 *
 *   echo N     receive N messages (payload: 4-byte BE index, then bytes
 *              idx*7+j), check each arrives whole in one receive with
 *              MSG_EOR (or in BUF-sized parts, MSG_EOR on the last only),
 *              and send each back with MSG_EOR.  "echo: N messages ok".
 *   poll       receive message 0, then poll 400 ms: not readable while
 *              only half of message 1 is there; then message 1, whole.
 *   expect ERR receive until the connection fails: ok when with ERR
 *              (EMSGSIZE, EPIPE, ...), printing the reason.
 *   badsend    send a message with MSG_EOR cut 3 bytes short: the next
 *              receive fails with EBADMSG.
 *   resp N     RESP to redis-server: N SETs pipelined in one send, each
 *              +OK its own message, then LRANGE of N elements: one message.
 *   serve N    listen on PORT with HTTP_REQ framing (HOST ignored), accept
 *              one connection, answer N requests, each received whole,
 *              with a response sent with MSG_EOR; then wait for the end.
 * Exit 0 on success, 1 with the reason on stderr.
 */
#define _GNU_SOURCE /* strerrorname_np */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xport.h"

#define PROG "xts-strp-check"

static struct xport *xp;
static size_t bufsz = 1 << 20;
static uint32_t max_msg;
static int use_tls;

static int __attribute__((format(printf, 1, 2))) bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void why(int sd)
{
	struct xport_ulp_info i;
	socklen_t l = sizeof(i);

	if (!xport_getsockopt(xp, sd, SOL_XTS, XTS_ULP_INFO, &i, &l) && i.reason[0])
		printf("reason: %s\n", i.reason);
}

static int push(int sd, const struct xport_strp *f)
{
	if (use_tls && (xport_setsockopt(xp, sd, SOL_TCP, TCP_ULP, "tls", 4) ||
			xport_setsockopt(xp, sd, SOL_XTS, XTS_TLS_PROFILE, "api", 4) ||
			xport_setsockopt(xp, sd, SOL_XTS, XTS_TLS_SERVER_NAME, "net.xts.test", 13)))
		return -1;
	if (xport_setsockopt(xp, sd, SOL_TCP, TCP_ULP, "strp", 5) ||
	    xport_setsockopt(xp, sd, SOL_XTS, XTS_STRP, f, sizeof(*f)))
		return -1;
	return 0;
}

static int xconnect(const char *host, unsigned port, const struct xport_strp *f)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int sd = xport_socket(xp, AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, host, &sin.sin_addr);
	if (sd < 0 || push(sd, f) || xport_connect(xp, sd, (struct sockaddr *)&sin, sizeof(sin))) {
		fprintf(stderr, PROG ": connect with framing: %s\n", strerrorname_np(errno));
		if (sd >= 0)
			why(sd);
		return -1;
	}
	return sd;
}

/* One message: its parts (bufsz at a time), MSG_EOR only on the last.
 * Its length, or -1 (errno set; EPROTO: the framing broke its promise). */
static ssize_t recv_msg(int sd, uint8_t *m, size_t cap)
{
	size_t got = 0;

	for (;;) {
		struct iovec iov = {.iov_base = m + got,
				    .iov_len = cap - got < bufsz ? cap - got : bufsz};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = xport_recvmsg(xp, sd, &mh, 0);

		if (n <= 0) {
			if (!n)
				errno = got ? EPROTO : 0;
			return -1;
		}
		got += (size_t)n;
		if (mh.msg_flags & MSG_EOR)
			return (ssize_t)got;
		if ((size_t)n != iov.iov_len) { /* short without EOR: two messages mixed? */
			errno = EPROTO;
			return -1;
		}
	}
}

static int check_msg(const uint8_t *m, size_t n, uint32_t idx)
{
	uint32_t len, i;

	if (n < 8)
		return bad("message %u: shorter than its header", idx);
	len = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
	i = (uint32_t)m[4] << 24 | (uint32_t)m[5] << 16 | (uint32_t)m[6] << 8 | m[7];
	if (len + 4 != n)
		return bad("message %u: not one whole message (%zu bytes)", idx, n);
	if (i != idx)
		return bad("message %u: out of order (%u)", idx, i);
	for (size_t j = 8; j < n; j++)
		if (m[j] != (uint8_t)(idx * 7 + j))
			return bad("message %u: wrong bytes", idx);
	return 0;
}

static int mode_echo(int sd, long n)
{
	uint8_t *m = malloc(1 << 20);

	for (long i = 0; i < n; i++) {
		ssize_t k = recv_msg(sd, m, 1 << 20);

		if (k < 0)
			return bad("echo: message %ld: receive failed: %s", i,
				   strerrorname_np(errno));
		if (check_msg(m, (size_t)k, (uint32_t)i))
			return 1;
		if (xport_send(xp, sd, m, (size_t)k, MSG_EOR) != k)
			return bad("echo: send %ld: %s", i, strerrorname_np(errno));
	}
	printf("echo: %ld messages ok\n", n);
	xport_shutdown(xp, sd, SHUT_WR);
	while (xport_recv(xp, sd, m, 1 << 20, 0) > 0)
		;
	free(m);
	return 0;
}

static int mode_poll(int sd)
{
	struct xport_pollfd p = {.sd = sd, .fd = -1, .events = POLLIN};
	uint8_t m[4096];
	ssize_t k = recv_msg(sd, m, sizeof(m));
	int r;

	if (k < 0 || check_msg(m, (size_t)k, 0))
		return bad("poll: message 0: %s", strerrorname_np(errno));
	r = xport_poll(xp, &p, 1, 400); /* half of message 1 is there by now */
	if (r != 0)
		return bad("poll: readable (%d) with half a message there", r);
	k = recv_msg(sd, m, sizeof(m));
	if (k < 0 || check_msg(m, (size_t)k, 1))
		return bad("poll: message 1: %s", strerrorname_np(errno));
	printf("poll: not readable on half a message, then the whole one\n");
	return 0;
}

static int mode_expect(int sd, const char *err)
{
	uint8_t *m = malloc(1 << 20);
	long msgs = 0;

	for (;;) {
		ssize_t k = recv_msg(sd, m, 1 << 20);

		if (k >= 0) {
			msgs++;
			continue;
		}
		if (!errno)
			return bad("expect %s: end of stream after %ld messages", err, msgs);
		k = strcmp(strerrorname_np(errno), err) != 0;
		printf("failed with %s after %ld whole messages\n", strerrorname_np(errno), msgs);
		why(sd);
		free(m);
		return (int)k;
	}
}

static int mode_badsend(int sd)
{
	uint8_t m[64] = {0, 0, 0, 40};
	char c;

	if (xport_send(xp, sd, m, 41, MSG_EOR) != 41) /* 44 bytes long, 41 sent */
		return bad("badsend: send: %s", strerrorname_np(errno));
	if (xport_recv(xp, sd, &c, 1, 0) >= 0 || errno != EBADMSG)
		return bad("badsend: the next receive said %s, not EBADMSG",
			   strerrorname_np(errno));
	printf("badsend: EBADMSG\n");
	why(sd);
	return 0;
}

static int mode_resp(int sd, long n)
{
	size_t cap = (size_t)n * 64 + 64, len = 0;
	char *q = calloc(1, cap), r[65536];

	if (!q)
		return bad("resp: no memory");
	for (long i = 0; i < n; i++)
		len += (size_t)sprintf(q + len, "*3\r\n$5\r\nRPUSH\r\n$3\r\nxts\r\n$%d\r\nv%ld\r\n",
				       snprintf(NULL, 0, "v%ld", i), i);
	if (xport_send(xp, sd, q, len, MSG_EOR) != (ssize_t)len)
		return bad("resp: send: %s", strerrorname_np(errno));
	for (long i = 0; i < n; i++) {
		ssize_t k = recv_msg(sd, (uint8_t *)r, sizeof(r) - 1);
		char want[32];

		if (k < 0)
			return bad("resp: reply %ld: %s", i, strerrorname_np(errno));
		r[k] = 0;
		snprintf(want, sizeof(want), ":%ld\r\n", i + 1);
		if (strcmp(r, want))
			return bad("resp: reply '%s' to RPUSH %ld", r, i);
	}
	len = (size_t)sprintf(q, "*4\r\n$6\r\nLRANGE\r\n$3\r\nxts\r\n$1\r\n0\r\n$2\r\n-1\r\n");
	if (xport_send(xp, sd, q, len, MSG_EOR) != (ssize_t)len)
		return bad("resp: send LRANGE: %s", strerrorname_np(errno));
	ssize_t k = recv_msg(sd, (uint8_t *)r, sizeof(r) - 1);
	if (k < 0)
		return bad("resp: LRANGE: %s", strerrorname_np(errno));
	r[k] = 0;
	if (strtol(r + 1, NULL, 10) != n || !strstr(r, "\r\nv0\r\n"))
		return bad("resp: LRANGE: '%.60s'", r);
	printf(
	    "resp: %ld RPUSH replies one per receive, LRANGE of %ld in one message (%zd bytes)\n",
	    n, n, k);
	free(q);
	return 0;
}

static int mode_serve(unsigned port, long n)
{
	struct xport_strp f = {.kind = XPORT_STRP_HTTP_REQ, .max = max_msg};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int l = xport_socket(xp, AF_INET, SOCK_STREAM, 0), sd;
	char *m = malloc(1 << 20), resp[128];

	if (l < 0 || push(l, &f) || xport_bind(xp, l, (struct sockaddr *)&sin, sizeof(sin)) ||
	    xport_listen(xp, l, 16))
		return bad("serve: listen: %s", strerrorname_np(errno));
	printf("serve: listening\n");
	fflush(stdout);
	sd = xport_accept(xp, l, NULL, NULL);
	if (sd < 0)
		return bad("serve: accept: %s", strerrorname_np(errno));
	for (long i = 0; i < n; i++) {
		ssize_t k = recv_msg(sd, (uint8_t *)m, (1 << 20) - 1);
		const char *end;
		char want[32];
		int rl;

		if (k < 0)
			return bad("serve: request %ld: %s", i, strerrorname_np(errno));
		m[k] = 0;
		snprintf(want, sizeof(want), "/%ld ", i);
		/* whole: a POST ends with its body's last bytes */
		end = strstr(m, "chunked") ? "body.\r\n0\r\n\r\n"
		      : strstr(m, "POST")  ? "body."
					   : "\r\n\r\n";
		if (!strstr(m, want) || (size_t)k < strlen(end) || strcmp(m + k - strlen(end), end))
			return bad("serve: request %ld not whole: '%.80s'", i, m);
		/* a body of exactly 20 bytes, as declared */
		rl = snprintf(resp, sizeof(resp),
			      "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n%-20.20s", want);
		if (xport_send(xp, sd, resp, (size_t)rl, MSG_EOR) != rl)
			return bad("serve: send %ld: %s", i, strerrorname_np(errno));
	}
	printf("serve: %ld requests, each whole in one receive\n", n);
	free(m);
	return mode_expect(sd, "EBADMSG");
}

int main(int argc, char **argv)
{
	struct xport_strp f = {
	    .kind = XPORT_STRP_LEN, .width = 4, .flags = XPORT_STRP_F_BE, .adjust = 4};
	const char *ifn = "xh0";
	unsigned q = 0;
	int o, sd;

	while ((o = getopt(argc, argv, "i:q:b:m:T")) != -1) {
		switch (o) {
		case 'i':
			ifn = optarg;
			break;
		case 'q':
			q = (unsigned)atoi(optarg);
			break;
		case 'b':
			bufsz = (size_t)atol(optarg);
			break;
		case 'm':
			max_msg = (uint32_t)atol(optarg);
			break;
		case 'T':
			use_tls = 1;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind < 3)
		return bad("usage: [-q Q] [-b BUF] [-m MAX] [-T] MODE HOST PORT [ARG]");
	f.max = max_msg;
	if ((o = xport_open(&xp, ifn, q, NULL)))
		return bad("xport_open: %s", strerror(-o));
	if (!strcmp(argv[optind], "serve"))
		return mode_serve((unsigned)atoi(argv[optind + 2]), atol(argv[optind + 3]));
	if (!strcmp(argv[optind], "resp"))
		f = (struct xport_strp){.kind = XPORT_STRP_RESP, .max = max_msg};
	sd = xconnect(argv[optind + 1], (unsigned)atoi(argv[optind + 2]), &f);
	if (sd < 0)
		return 1;
	if (!strcmp(argv[optind], "echo"))
		o = mode_echo(sd, atol(argv[optind + 3]));
	else if (!strcmp(argv[optind], "poll"))
		o = mode_poll(sd);
	else if (!strcmp(argv[optind], "expect"))
		o = mode_expect(sd, argv[optind + 3]);
	else if (!strcmp(argv[optind], "badsend"))
		o = mode_badsend(sd);
	else if (!strcmp(argv[optind], "resp"))
		o = mode_resp(sd, atol(argv[optind + 3]));
	else
		o = bad("unknown mode %s", argv[optind]);
	/* close and end the session (QRESET 0): the peer sees the FIN now,
	 * not after the DPU's dead-host timeout (30 s per case otherwise) */
	xport_close(xp, sd);
	xport_close_queue(xp);
	return o;
}

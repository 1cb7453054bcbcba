// SPDX-License-Identifier: BSD-2-Clause
/* test_pl_outq.c - SIOCOUTQ's DPU half from a TCP_INFO (xport/preload/
 * pl_outq.c), against the kernel's own SIOCOUTQ and SIOCOUTQNSD of the
 * same socket: a loopback connection whose reader does not read (bytes
 * unsent and unacknowledged), then read (0), then closed (the FIN's
 * acknowledgement counted by bytes_acked: still 0); and TCP_INFOs cut
 * short as an older kernel gives them. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <cmocka.h>

#include "pl_outq.h"

static int w, r; /* the writer, the reader */

static void pair(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), sz = 65536;

	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &al), 0);
	w = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(w >= 0);
	/* small buffers: the path fills after a few hundred KB */
	setsockopt(w, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	assert_int_equal(connect(w, (struct sockaddr *)&a, sizeof(a)), 0);
	r = accept(l, NULL, NULL);
	assert_true(r >= 0);
	setsockopt(r, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	close(l);
}

/* The helper's figures for @fd agree with the kernel's ioctls */
static void agree(int fd, const char *when)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	uint64_t unacked, notsent;
	int q, nsd;

	/* quiet loopback: nothing moves between the three calls */
	usleep(100000);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
	assert_int_equal(ioctl(fd, SIOCOUTQ, &q), 0);
	assert_int_equal(ioctl(fd, SIOCOUTQNSD, &nsd), 0);
	pl_outq_dpu(&ti, tl, &unacked, &notsent);
	print_message("%s: SIOCOUTQ %d, SIOCOUTQNSD %d; from TCP_INFO %llu, %llu\n", when, q, nsd,
		      (unsigned long long)unacked, (unsigned long long)notsent);
	assert_int_equal(unacked, (uint64_t)q);
	assert_int_equal(notsent, (uint64_t)nsd);
}

static void t_kernel(void **st)
{
	static char buf[1 << 16];
	size_t sent = 0, got = 0;
	ssize_t n;

	(void)st;
	pair();
	agree(w, "connected");
	fcntl(w, F_SETFL, O_NONBLOCK);
	while ((n = send(w, buf, sizeof(buf), 0)) > 0)
		sent += (size_t)n;
	assert_int_equal(errno, EAGAIN);
	agree(w, "full");
	while (got < sent / 2 && (n = recv(r, buf, sizeof(buf), 0)) > 0)
		got += (size_t)n;
	agree(w, "half read");
	while (got < sent && (n = recv(r, buf, sizeof(buf), 0)) > 0)
		got += (size_t)n;
	agree(w, "all read");
	shutdown(w, SHUT_WR);
	agree(w, "FIN acknowledged");
	close(w);
	close(r);
}

static void t_short(void **st)
{
	struct tcp_info ti;
	uint64_t unacked = 7, notsent = 7;

	(void)st;
	memset(&ti, 0, sizeof(ti));
	ti.tcpi_notsent_bytes = 1000;
	ti.tcpi_bytes_sent = 5000;
	ti.tcpi_bytes_retrans = 1000;
	ti.tcpi_bytes_acked = 1 + 3000; /* the SYN and 3,000 bytes */
	pl_outq_dpu(&ti, sizeof(ti), &unacked, &notsent);
	assert_int_equal(notsent, 1000);
	assert_int_equal(unacked, 1000 + 1000);
	/* a kernel without bytes_sent/bytes_retrans: notsent only */
	pl_outq_dpu(&ti, offsetof(struct tcp_info, tcpi_bytes_sent), &unacked, &notsent);
	assert_int_equal(notsent, 1000);
	assert_int_equal(unacked, 1000);
	/* without notsent either (glibc's struct, a local answer): 0 */
	pl_outq_dpu(&ti, offsetof(struct tcp_info, tcpi_notsent_bytes), &unacked, &notsent);
	assert_int_equal(notsent, 0);
	assert_int_equal(unacked, 0);
	pl_outq_dpu(&ti, 0, &unacked, &notsent);
	assert_int_equal(unacked, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_kernel),
	    cmocka_unit_test(t_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

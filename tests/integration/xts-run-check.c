// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-run-check - a plain sockets program (no libxport) that checks, when
 * run under xts-run, that an XTS socket answers as Linux's TCP does:
 *
 *   xts-run-check ECHO_ADDR ECHO_PORT CLOSED_PORT
 *
 * ECHO_PORT serves an echo, CLOSED_PORT nothing (the kernel answers RST).
 * Prints "ok: ..." per check, "FAIL: ..." and exits 1 on the first
 * difference.  The caller proves the sockets were offloaded (shard
 * counters); this program proves they behave.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

static struct sockaddr_in echo_sa, closed_sa;
static volatile sig_atomic_t pipes;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("FAIL: line %d: ", __LINE__);                                       \
			printf(__VA_ARGS__);                                                       \
			printf(" (errno %d %s)\n", errno, strerror(errno));                        \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static void on_pipe(int sig)
{
	(void)sig;
	pipes++;
}

static int tcp(int flags)
{
	int fd = socket(AF_INET, SOCK_STREAM | flags, 0);

	CHECK(fd >= 0, "socket");
	return fd;
}

static int connected(void)
{
	int fd = tcp(0);

	CHECK(connect(fd, (struct sockaddr *)&echo_sa, sizeof(echo_sa)) == 0, "blocking connect");
	return fd;
}

static void refused(void)
{
	struct pollfd p;
	socklen_t l = sizeof(int);
	int fd = tcp(SOCK_NONBLOCK), err = 0, r;

	r = connect(fd, (struct sockaddr *)&closed_sa, sizeof(closed_sa));
	CHECK(r == -1 && errno == EINPROGRESS, "non-blocking connect: -1/EINPROGRESS, got %d", r);
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	CHECK(poll(&p, 1, 5000) == 1, "poll after a refused connect");
	CHECK(p.revents & (POLLOUT | POLLERR), "revents 0x%x", p.revents);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0, "SO_ERROR");
	CHECK(err == ECONNREFUSED, "SO_ERROR %d, want ECONNREFUSED", err);
	l = sizeof(int);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err == 0,
	      "SO_ERROR is taken once");
	close(fd);
	fd = tcp(0);
	r = connect(fd, (struct sockaddr *)&closed_sa, sizeof(closed_sa));
	CHECK(r == -1 && errno == ECONNREFUSED, "blocking connect: ECONNREFUSED, got %d", r);
	close(fd);
	printf("ok: refused: EINPROGRESS, SO_ERROR ECONNREFUSED once; blocking ECONNREFUSED\n");
}

static void echo_once(int fd, const char *msg)
{
	char buf[256];
	size_t n = strlen(msg), got = 0;
	ssize_t r;

	CHECK(send(fd, msg, n, 0) == (ssize_t)n, "send");
	while (got < n) {
		r = recv(fd, buf + got, sizeof(buf) - got, 0);
		CHECK(r > 0, "recv echo");
		got += (size_t)r;
	}
	CHECK(got == n && !memcmp(buf, msg, n), "echo differs");
}

static void nonblocking(void)
{
	struct sockaddr_in peer;
	socklen_t l = sizeof(peer);
	char buf[64];
	int fd = connected(), v, fl;
	struct pollfd p = {.fd = fd, .events = POLLIN};

	fl = fcntl(fd, F_GETFL);
	CHECK(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0, "F_SETFL");
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "F_GETFL shows O_NONBLOCK");
	CHECK(recv(fd, buf, sizeof(buf), 0) == -1 && errno == EAGAIN, "empty recv: EAGAIN");
	CHECK(read(fd, buf, sizeof(buf)) == -1 && errno == EAGAIN, "empty read: EAGAIN");
	CHECK(send(fd, "abc", 3, 0) == 3, "send");
	CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN), "poll POLLIN");
	CHECK(ioctl(fd, FIONREAD, &v) == 0 && v == 3, "FIONREAD %d, want 3", v);
	CHECK(recv(fd, buf, sizeof(buf), MSG_PEEK) == 3, "MSG_PEEK");
	CHECK(recv(fd, buf, sizeof(buf), 0) == 3 && !memcmp(buf, "abc", 3), "recv after peek");
	CHECK(getpeername(fd, (struct sockaddr *)&peer, &l) == 0, "getpeername");
	CHECK(peer.sin_addr.s_addr == echo_sa.sin_addr.s_addr && peer.sin_port == echo_sa.sin_port,
	      "getpeername names the echo server");
	v = 0;
	CHECK(ioctl(fd, FIONBIO, &v) == 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK), "FIONBIO 0");
	echo_once(fd, "blocking again");
	v = 1;
	l = sizeof(v);
	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) == 0, "TCP_NODELAY");
	v = 0;
	CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l) == 0 && v == 1, "TCP_NODELAY back");
	l = sizeof(v);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) == 0 && v == SOCK_STREAM, "SO_TYPE");
	close(fd);
	printf("ok: non-blocking EAGAIN, poll, FIONREAD, MSG_PEEK, FIONBIO, names, options\n");
}

static void sigpipe(void)
{
	int fd = connected();
	char c = 'x';

	echo_once(fd, "before shutdown");
	CHECK(shutdown(fd, SHUT_WR) == 0, "shutdown");
	pipes = 0;
	CHECK(send(fd, &c, 1, MSG_NOSIGNAL) == -1 && errno == EPIPE, "send after SHUT_WR: EPIPE");
	CHECK(pipes == 0, "MSG_NOSIGNAL raised SIGPIPE");
	CHECK(send(fd, &c, 1, 0) == -1 && errno == EPIPE, "send: EPIPE");
	CHECK(pipes == 1, "send without MSG_NOSIGNAL: %d SIGPIPEs, want 1", (int)pipes);
	CHECK(write(fd, &c, 1) == -1 && errno == EPIPE, "write: EPIPE");
	CHECK(pipes == 2, "write: %d SIGPIPEs, want 2", (int)pipes);
	/* the echo server sends its FIN after ours: EOF */
	CHECK(recv(fd, &c, 1, 0) == 0, "EOF after the peer's FIN");
	close(fd);
	printf("ok: EPIPE with SIGPIPE, none with MSG_NOSIGNAL; EOF\n");
}

static void multiplex(void)
{
	struct epoll_event ev = {.events = EPOLLOUT}, out[4];
	int ep = epoll_create1(EPOLL_CLOEXEC), fd = tcp(SOCK_NONBLOCK), fd2, n;
	struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three", 5}};
	char buf[64];
	fd_set rd;
	struct timeval tv = {5, 0};

	CHECK(ep >= 0, "epoll_create1");
	/* registered before connect: must survive the offload */
	ev.data.u64 = 0x1234567890abcdefull;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl before connect");
	CHECK(connect(fd, (struct sockaddr *)&echo_sa, sizeof(echo_sa)) == -1 &&
		  errno == EINPROGRESS,
	      "non-blocking connect");
	n = epoll_wait(ep, out, 4, 5000);
	CHECK(n == 1 && out[0].data.u64 == ev.data.u64 && (out[0].events & EPOLLOUT),
	      "EPOLLOUT after connect: n %d", n);
	ev = (struct epoll_event){.events = EPOLLIN | EPOLLET, .data.u64 = 7};
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0, "EPOLL_CTL_MOD");
	CHECK(epoll_wait(ep, out, 4, 0) == 0, "nothing to read yet");
	CHECK(writev(fd, iov, 3) == 13, "writev");
	n = epoll_wait(ep, out, 4, 5000);
	CHECK(n == 1 && out[0].data.u64 == 7 && (out[0].events & EPOLLIN), "EPOLLIN: n %d", n);
	/* the echo may come in pieces: read what is there, then wait again */
	for (n = 0; n < 13;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - (size_t)n);

		if (r > 0) {
			n += (int)r;
			continue;
		}
		CHECK(r == -1 && errno == EAGAIN, "read");
		CHECK(epoll_wait(ep, out, 4, 5000) == 1, "EPOLLET: the next piece");
	}
	CHECK(!memcmp(buf, "one two three", 13), "writev echo");
	/* dup: the same socket under two numbers */
	fd2 = dup(fd);
	CHECK(fd2 >= 0, "dup");
	close(fd);
	CHECK(fcntl(fd2, F_SETFL, 0) == 0, "blocking");
	echo_once(fd2, "through the dup");
	FD_ZERO(&rd);
	FD_SET(fd2, &rd);
	CHECK(send(fd2, "s", 1, 0) == 1, "send");
	CHECK(select(fd2 + 1, &rd, NULL, NULL, &tv) == 1 && FD_ISSET(fd2, &rd), "select");
	CHECK(recv(fd2, buf, 1, 0) == 1, "recv");
	close(fd2);
	close(ep);
	printf("ok: epoll (registered before connect, EPOLLOUT, MOD, EPOLLET), writev, dup, "
	       "select\n");
}

/* recvmmsg/sendmmsg, epoll_pwait2, splice: each falls to the kernel's
 * unconnected placeholder (ENOTCONN, EINVAL) if the shim misses it */
static void batch(void)
{
	char a[3][4] = {"ab", "cd", "ef"}, r[3][8], buf[16];
	struct iovec siov[3], riov[3];
	struct mmsghdr m[3];
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 5}, out;
	struct timespec zero = {0, 0}, five = {5, 0};
	int fd = connected(), ep = epoll_create1(0), p[2], q[2], i, n, got = 0;

	for (i = 0; i < 3; i++) {
		siov[i] = (struct iovec){a[i], 2};
		m[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &siov[i], .msg_iovlen = 1}};
	}
	CHECK(sendmmsg(fd, m, 3, 0) == 3 && m[2].msg_len == 2, "sendmmsg");
	while (got < 6) {
		for (i = 0; i < 3; i++) {
			riov[i] = (struct iovec){r[i], sizeof(r[i])};
			m[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &riov[i], .msg_iovlen = 1}};
		}
		n = recvmmsg(fd, m, 3, MSG_WAITFORONE, NULL);
		CHECK(n >= 1, "recvmmsg %d", n);
		for (i = 0; i < n; i++) {
			CHECK(got + (int)m[i].msg_len <= 6, "recvmmsg: too much");
			memcpy(buf + got, r[i], m[i].msg_len);
			got += (int)m[i].msg_len;
		}
	}
	CHECK(!memcmp(buf, "abcdef", 6), "recvmmsg: %.6s", buf);
	CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl");
	CHECK(epoll_pwait2(ep, &out, 1, &zero, NULL) == 0, "epoll_pwait2: nothing yet");
	CHECK(send(fd, "x", 1, 0) == 1, "send");
	CHECK(epoll_pwait2(ep, &out, 1, &five, NULL) == 1 && out.data.u32 == 5, "epoll_pwait2");
	CHECK(recv(fd, buf, 1, 0) == 1 && buf[0] == 'x', "recv");
	CHECK(pipe(p) == 0 && pipe(q) == 0, "pipe");
	CHECK(write(p[1], "spliced", 7) == 7, "write to the pipe");
	CHECK(splice(p[0], NULL, fd, NULL, 7, 0) == 7, "splice pipe -> socket");
	for (got = 0; got < 7; got += n) {
		CHECK(splice(fd, NULL, q[1], NULL, 64, 0) > 0, "splice socket -> pipe");
		n = (int)read(q[0], buf + got, sizeof(buf) - (size_t)got);
		CHECK(n > 0, "read from the pipe");
	}
	CHECK(got == 7 && !memcmp(buf, "spliced", 7), "splice: %.7s", buf);
	close(p[0]), close(p[1]), close(q[0]), close(q[1]), close(ep), close(fd);
	printf("ok: sendmmsg/recvmmsg, epoll_pwait2, splice both ways\n");
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* SIOCOUTQ and SIOCOUTQNSD: bytes written that are not yet gone.  The
 * echo is not read until nothing more can be written (every buffer on
 * the way full, the last bytes certainly not taken): both are positive
 * and at most what was written; once the echo has all come back, they
 * fall to 0 (Linux: sent and acknowledged; xts-run: taken by the DPU) */
static void outq(void)
{
	static char buf[1 << 16];
	size_t sent = 0, got = 0;
	int fd = connected(), v = -1, nsd = -1, idle = 0, round;
	long t0;
	ssize_t r;

	CHECK(ioctl(fd, SIOCOUTQ, &v) == 0 && v == 0, "SIOCOUTQ %d before any write, want 0", v);
	memset(buf, 'q', sizeof(buf));
	/* Three refusals can also be a DPU that was slow to give credit back
	 * for 100 ms (a loaded 2-core CI machine, the ASan build): by the
	 * ioctl it has caught up and sent everything, so nothing is unsent.
	 * Linux's refusal is final (the window is shut); ours is final only
	 * when the ioctl still finds bytes unsent, else write on: a few
	 * rounds, each bounded */
	for (round = 0;; round++) {
		for (idle = 0; idle < 3 && sent < (512u << 20);) { /* 3 refusals 50 ms apart */
			r = send(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r > 0) {
				sent += (size_t)r;
				idle = 0;
				continue;
			}
			CHECK(r == -1 && errno == EAGAIN, "send MSG_DONTWAIT");
			idle++;
			usleep(50000);
		}
		CHECK(idle == 3, "%zu bytes written and the echo unread, never EAGAIN", sent);
		CHECK(ioctl(fd, SIOCOUTQ, &v) == 0 && ioctl(fd, SIOCOUTQNSD, &nsd) == 0,
		      "ioctl SIOCOUTQ/SIOCOUTQNSD");
		if (nsd > 0 || round == 10)
			break;
		printf("note: SIOCOUTQNSD 0 after 3 refusals with %zu bytes written (round %d): "
		       "the path was not full yet, writing on\n",
		       sent, round);
	}
	CHECK(v > 0 && (size_t)v <= sent, "SIOCOUTQ %d with the path full, want 1..%zu", v, sent);
	CHECK(nsd > 0 && (size_t)nsd <= sent, "SIOCOUTQNSD %d with the path full, want 1..%zu", nsd,
	      sent);
	printf("ok: SIOCOUTQ %d, SIOCOUTQNSD %d of %zu bytes written, the echo unread\n", v, nsd,
	       sent);
	while (got < sent) {
		r = recv(fd, buf, sizeof(buf), 0);
		CHECK(r > 0, "recv the echo: %zu of %zu", got, sent);
		got += (size_t)r;
	}
	for (t0 = now_ms(); now_ms() - t0 < 10000; usleep(10000))
		if (ioctl(fd, SIOCOUTQ, &v) == 0 && v == 0 && ioctl(fd, SIOCOUTQNSD, &nsd) == 0 &&
		    nsd == 0)
			break;
	CHECK(v == 0 && nsd == 0, "SIOCOUTQ %d, SIOCOUTQNSD %d after the whole echo, want 0", v,
	      nsd);
	printf("ok: SIOCOUTQ and SIOCOUTQNSD 0 after the whole echo (%ld ms after it)\n",
	       now_ms() - t0);
	close(fd);
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	if (argc != 4) {
		fprintf(stderr, "usage: xts-run-check ECHO_ADDR ECHO_PORT CLOSED_PORT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_pipe;
	sigaction(SIGPIPE, &sa, NULL);
	echo_sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	CHECK(inet_pton(AF_INET, argv[1], &echo_sa.sin_addr) == 1, "address");
	closed_sa = echo_sa;
	closed_sa.sin_port = htons(atoi(argv[3]));
	refused();
	nonblocking();
	sigpipe();
	multiplex();
	batch();
	outq();
	printf("PASS: xts-run-check\n");
	return 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * tls_client.c - `xts-bench tlsclient`: the HTTPS client of the TLS
 * workloads, in xts-net, OpenSSL on kernel TCP, one thread, the same for
 * every path (the paths differ in who the client reaches):
 *
 *   xts-bench tlsclient -w rr|hs -n NAME -a ADDR -p PORT [-c CONNS]
 *                       [-t SECONDS | -N COUNT] [-H HOST_PID] [-D TERMINATOR_PID]
 *                       [-Q FILE]
 *
 *   rr  CONNS connections (handshaken first), one GET outstanding on each,
 *       closed loop: HTTPS requests/s and their latency
 *   hs  CONNS at a time: connect, full TLS handshake (no resumption), one
 *       GET and its answer, close_notify, close: handshakes/s and the time
 *       from connect to the answer
 *
 * A quarter second of warm-up, then SECONDS measured.  The CPU that the
 * host server (HOST_PID) and the TLS terminator (TERMINATOR_PID: the
 * shard, HAProxy, or the host server itself) spent in that window, per
 * operation, from /proc/PID/task/N/schedstat (run time in ns of every
 * thread: what getrusage's user+system adds up to, without its 10 ms
 * ticks), and this client's own CPU (whether it was the bottleneck).
 * -Q: the XTS host server's queue counters (tlsserver -Q FILE, asked for
 * with SIGUSR1 at each end of the window while the load goes on): rx and
 * tx frames, doorbells, sleeps and pure ACKs per operation.
 * -N: exactly COUNT requests (rr, after the connections' handshakes) or
 * handshakes (hs), no warm-up, then "NAME.counted_ops COUNT": for counting
 * what the shard does per operation from outside (callgrind_control
 * around the run; docs/performance.md, "TLS").
 * The client does not verify the server's chain (SSL_VERIFY_NONE): on two
 * cores its CPU is scarce, and the handshake's own signature is checked
 * all the same; the server's work is what is measured.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include "bench.h"

#define MAXCONN 1024
#define MAXLAT	(1u << 20)

static const char req[] = "GET / HTTP/1.1\r\nHost: bench.xts.test\r\n\r\n";

/* CS_IDLE: rr, handshaken, until every connection is */
/* CS_DONE: -N, this connection's share is done */
enum { CS_CONNECTING, CS_HS, CS_IDLE, CS_SEND, CS_READ, CS_DONE };

struct cc {
	int fd, st;
	SSL *ssl;
	size_t got;
	uint64_t t0; /* request (rr) or connect (hs) sent */
};

struct tcl {
	bool hs;
	const char *name;
	struct sockaddr_in dst;
	SSL_CTX *ctx;
	int ep;
	bool measuring;
	uint64_t ops, nlat, count; /* count: -N, stop after that many */
	uint64_t issued;	   /* -N: connections (hs) or requests (rr) begun */
	uint64_t *lat;
	char proto[96];
};

/* Run time of every thread of @pid so far, in seconds, or (@sleeps) the
 * times its threads went to sleep (voluntary context switches); 0 when
 * gone. */
static double pid_stat(int pid, bool sleeps)
{
	char path[64];
	struct dirent *d;
	double s = 0;
	DIR *dir;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(dir = opendir(path)))
		return 0;
	while ((d = readdir(dir))) {
		unsigned long long ns;
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/%s", pid, d->d_name,
			 sleeps ? "status" : "schedstat");
		if (!(f = fopen(path, "r")))
			continue;
		if (!sleeps && fscanf(f, "%llu", &ns) == 1)
			s += (double)ns / 1e9;
		while (sleeps && fgets(path, sizeof(path), f))
			if (sscanf(path, "voluntary_ctxt_switches: %llu", &ns) == 1)
				s += (double)ns;
		fclose(f);
	}
	closedir(dir);
	return s;
}

/* How long @pid's main thread has waited runnable for a CPU so far
 * (schedstat's second field), in seconds; 0 when gone.  Divided by its
 * sleeps: how late a wakeup runs, which sets how many answers a wakeup
 * finds waiting. */
static double pid_runq_wait(int pid)
{
	unsigned long long run, wait = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	if (pid <= 0 || !(f = fopen(path, "r")))
		return 0;
	if (fscanf(f, "%llu %llu", &run, &wait) != 2)
		wait = 0;
	fclose(f);
	return (double)wait / 1e9;
}

/* Where @pid's main thread is: the CPU it last ran on (stat's field 39),
 * or (@migrations) how often the scheduler moved it so far; -1 gone.  A
 * host server left unpinned on two CPUs shares one with the shard or
 * with this client, and its sleeps per request follow which
 * (docs/performance.md, "TLS host CPU: one figure or two"). */
static long long pid_where(int pid, bool migrations)
{
	char path[64], line[1024], *p;
	long long v = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, migrations ? "sched" : "stat");
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (migrations) {
			if (!strncmp(line, "se.nr_migrations", 16) && (p = strchr(line, ':')))
				v = atoll(p + 1);
			continue;
		}
		p = strrchr(line, ')'); /* the name may hold spaces: fields after it */
		for (int field = 2; p && field < 39; field++)
			p = strchr(p + 1, ' ');
		if (p)
			v = atoll(p + 1);
		break;
	}
	fclose(f);
	return v;
}

static void arm(struct tcl *t, struct cc *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};

	if (epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &e))
		bench_die("epoll_ctl", errno);
}

static void start_conn(struct tcl *t, struct cc *c)
{
	int one = 1;
	struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		bench_die("socket", errno);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->st = CS_CONNECTING;
	c->got = 0;
	c->t0 = bench_now_ns();
	if (connect(c->fd, (struct sockaddr *)&t->dst, sizeof(t->dst)) && errno != EINPROGRESS)
		bench_die("connect", errno);
	if (!(c->ssl = SSL_new(t->ctx)) || !SSL_set_fd(c->ssl, c->fd))
		bench_die("SSL_new", ENOMEM);
	SSL_set_connect_state(c->ssl);
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &e))
		bench_die("epoll_ctl", errno);
}

static void end_conn(struct cc *c)
{
	SSL_shutdown(c->ssl); /* close_notify out; the answer is not awaited */
	SSL_free(c->ssl);
	close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

/* An SSL call that did not complete: wait for what it wants. */
static void ssl_wait(struct tcl *t, struct cc *c, int r, const char *what)
{
	int e = SSL_get_error(c->ssl, r);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		arm(t, c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
		return;
	}
	ERR_print_errors_fp(stderr);
	fprintf(stderr, "xts-bench tlsclient: %s: SSL error %d (%s)\n", what, e,
		r == 0 ? "connection closed" : strerror(errno));
	exit(1);
}

/* One answer complete: count it, and go on (rr) or start over (hs). */
static void answered(struct tcl *t, struct cc *c)
{
	uint64_t now = bench_now_ns();

	if (t->measuring) {
		t->ops++;
		if (t->nlat < MAXLAT)
			t->lat[t->nlat++] = now - c->t0;
	}
	if (!t->proto[0])
		snprintf(t->proto, sizeof(t->proto), "%s/%s", SSL_get_version(c->ssl),
			 SSL_get_cipher_name(c->ssl));
	/* -N: exactly COUNT begun, and every one of them ends before the
	 * client does (none left half done for the terminator to finish or
	 * not: the counts are differences of whole runs) */
	if (t->hs) {
		end_conn(c);
		c->st = CS_DONE;
		if (!t->count || t->issued < t->count) {
			t->issued++;
			start_conn(t, c);
		}
		return;
	}
	c->st = CS_SEND;
	c->got = 0;
	c->t0 = now;
}

/* Advance connection @c as far as it goes without waiting. */
static void step(struct tcl *t, struct cc *c)
{
	char buf[4096];
	int r, err = 0;
	socklen_t len = sizeof(err);

	for (;;) {
		switch (c->st) {
		case CS_CONNECTING:
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
				bench_die("connect", err ? err : errno);
			c->st = CS_HS;
			continue;
		case CS_HS:
			if ((r = SSL_do_handshake(c->ssl)) != 1)
				return ssl_wait(t, c, r, "handshake");
			c->st = t->hs ? CS_SEND : CS_IDLE;
			continue;
		case CS_IDLE: /* takes in the session ticket; no data comes */
			if ((r = SSL_read(c->ssl, buf, sizeof(buf))) > 0)
				bench_die("tlsclient: data before any request", EBADMSG);
			return ssl_wait(t, c, r, "read");
		case CS_DONE:
			return;
		case CS_SEND:
			if (!t->hs && t->count && t->issued >= t->count) {
				c->st = CS_DONE;
				arm(t, c, 0);
				return;
			}
			t->issued += !t->hs && t->measuring; /* rr: requests */
			if ((r = SSL_write(c->ssl, req, sizeof(req) - 1)) <= 0)
				return ssl_wait(t, c, r, "write");
			c->st = CS_READ;
			continue;
		case CS_READ:
			if ((r = SSL_read(c->ssl, buf, sizeof(buf))) <= 0)
				return ssl_wait(t, c, r, "read");
			c->got += (size_t)r;
			if (c->got > TLS_RESP_LEN)
				bench_die("tlsclient: more bytes than one answer", EBADMSG);
			if (c->got == TLS_RESP_LEN)
				answered(t, c);
			if (t->hs && (c->st == CS_CONNECTING || c->st == CS_DONE))
				return; /* a new connection, armed for its connect */
			continue;
		}
	}
}

static void run_until(struct tcl *t, uint64_t end)
{
	struct epoll_event ev[256];

	while (bench_now_ns() < end && (!t->count || t->ops < t->count)) {
		int k = epoll_wait(t->ep, ev, 256, 10);

		for (int i = 0; i < k; i++)
			step(t, ev[i].data.ptr);
	}
}

/* The host server's queue counters now (tlsserver -Q): SIGUSR1, then its
 * file, the load going on meanwhile (at most half a second).  0, or -1
 * (none: the figures are left out). */
static int host_q(struct tcl *t, int pid, const char *file, unsigned long long q[5])
{
	uint64_t end = bench_now_ns() + 500000000ull;
	FILE *f = NULL;
	int n = 0;

	unlink(file);
	if (pid <= 0 || kill(pid, SIGUSR1))
		return -1;
	while (!(f = fopen(file, "r")) && bench_now_ns() < end)
		run_until(t, bench_now_ns() + 1000000);
	if (f) {
		n = fscanf(f, "%llu %llu %llu %llu %llu", &q[0], &q[1], &q[2], &q[3], &q[4]);
		fclose(f);
	}
	return n == 5 ? 0 : -1;
}

static SSL_CTX *client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		bench_die("SSL_CTX_new", ENOMEM);
	/* full handshakes only: nothing kept to resume with */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
	return ctx;
}

static void report(const struct tcl *t, const char *what, double v)
{
	printf("%s.%s %.6g\n", t->name, what, v);
}

int bench_tlsclient_main(int argc, char **argv)
{
	struct tcl t = {.name = "x"};
	const char *addr = "198.18.0.1";
	int opt, port = 9443, hpid = 0, dpid = 0;
	unsigned nconn = 64, ready = 0;
	double secs = 3, h0, d0, c0, h1, d1, c1, n, hs0, hs1;
	long long hm0;
	double hw0, hw1;
	unsigned long long q0[5], q1[5];
	const char *qfile = NULL;
	bool qok;
	struct cc *cs;
	uint64_t t0;

	while ((opt = getopt(argc, argv, "w:n:a:p:c:t:N:H:D:Q:")) != -1) {
		switch (opt) {
		case 'w':
			t.hs = !strcmp(optarg, "hs");
			if (!t.hs && strcmp(optarg, "rr"))
				bench_die("tlsclient -w: rr or hs", EINVAL);
			break;
		case 'n':
			t.name = optarg;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			nconn = (unsigned)atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'N':
			t.count = strtoull(optarg, NULL, 10);
			break;
		case 'H':
			hpid = atoi(optarg);
			break;
		case 'D':
			dpid = atoi(optarg);
			break;
		case 'Q':
			qfile = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: xts-bench tlsclient -w rr|hs -n NAME -a ADDR -p PORT "
				"[-c CONNS] [-t SECONDS] [-H PID] [-D PID]\n");
			return 2;
		}
	}
	t.dst.sin_family = AF_INET;
	t.dst.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &t.dst.sin_addr) != 1 || !nconn || nconn > MAXCONN ||
	    secs <= 0)
		bench_die("tlsclient: arguments", EINVAL);
	t.ctx = client_ctx();
	t.lat = calloc(MAXLAT, sizeof(*t.lat));
	cs = calloc(nconn, sizeof(*cs));
	if ((t.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || !t.lat || !cs)
		bench_die("tlsclient setup", ENOMEM);
	for (unsigned i = 0; i < nconn; i++) {
		if (t.hs && t.count && t.issued == t.count) {
			cs[i].st = CS_DONE;
			cs[i].fd = -1;
			continue;
		}
		t.issued += t.hs;
		start_conn(&t, &cs[i]);
	}
	if (!t.hs) { /* rr: every connection handshaken before the first request */
		t0 = bench_now_ns() + 10 * 1000000000ull;
		while (ready < nconn && bench_now_ns() < t0) {
			run_until(&t, bench_now_ns() + 1000000);
			for (ready = 0; ready < nconn && cs[ready].st == CS_IDLE; ready++)
				;
		}
		if (ready < nconn)
			bench_die("tlsclient: connections not handshaken in 10 s", ETIMEDOUT);
		t.measuring = t.count; /* -N: the first requests are of the count */
		for (unsigned i = 0; i < nconn; i++) {
			cs[i].t0 = bench_now_ns();
			cs[i].st = CS_SEND;
			step(&t, &cs[i]);
		}
	}
	if (t.count) {
		t.measuring = true;
		run_until(&t, bench_now_ns() + 600 * 1000000000ull);
		printf("%s.counted_ops %llu\n", t.name, (unsigned long long)t.ops);
		return t.ops == t.count ? 0 : 1;
	}
	run_until(&t, bench_now_ns() + 250000000ull); /* warm-up */
	t.measuring = true;
	qok = qfile && !host_q(&t, hpid, qfile, q0);
	hs0 = pid_stat(hpid, true);
	hm0 = pid_where(hpid, true);
	hw0 = pid_runq_wait(hpid);
	h0 = pid_stat(hpid, false), d0 = pid_stat(dpid, false), c0 = bench_cpu_s();
	t0 = bench_now_ns();
	run_until(&t, t0 + (uint64_t)(secs * 1e9));
	h1 = pid_stat(hpid, false), d1 = pid_stat(dpid, false), c1 = bench_cpu_s();
	hs1 = pid_stat(hpid, true);
	hw1 = pid_runq_wait(hpid);
	secs = (double)(bench_now_ns() - t0) / 1e9;
	t.measuring = false;
	qok = qok && !host_q(&t, hpid, qfile, q1);
	if (!t.ops)
		bench_die("tlsclient: no answer in the window", ETIMEDOUT);
	n = (double)t.ops;
	report(&t, "ops_s", n / secs);
	if (hpid) {
		report(&t, "host_cpu_us_per_op", (h1 - h0) * 1e6 / n);
		report(&t, "host_sleeps_per_op", (hs1 - hs0) / n);
		report(&t, "host_last_cpu", (double)pid_where(hpid, false));
		report(&t, "host_migrations", (double)(pid_where(hpid, true) - hm0));
		if (hs1 > hs0)
			report(&t, "host_runq_wait_us_per_sleep", (hw1 - hw0) * 1e6 / (hs1 - hs0));
	}
	if (qok) { /* the queue's cost, from libxport's counters */
		static const char *const qn[5] = {"host_q_rx_frames_per_op",
						  "host_q_tx_frames_per_op", "host_q_kicks_per_op",
						  "host_q_sleeps_per_op", "host_q_acks_per_op"};

		for (int i = 0; i < 5; i++)
			report(&t, qn[i], (double)(q1[i] - q0[i]) / n);
	}
	if (dpid) {
		report(&t, "term_cpu_us_per_op", (d1 - d0) * 1e6 / n);
		/* what one terminator thread does with a whole CPU */
		if (d1 > d0)
			report(&t, "ops_per_term_cpu_s", n / (d1 - d0));
		report(&t, "term_cpu_busy", (d1 - d0) / secs);
	}
	report(&t, "client_cpu_us_per_op", (c1 - c0) * 1e6 / n);
	printf("%s.proto %s\n", t.name, t.proto);
	bench_print_lat(t.name, t.lat, t.nlat);
	for (unsigned i = 0; i < nconn; i++)
		if (cs[i].ssl)
			end_conn(&cs[i]);
	SSL_CTX_free(t.ctx);
	free(cs);
	free(t.lat);
	fflush(stdout);
	return 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * server.c - `xts-bench server [-a ADDR] [-p BASE] [-t THREADS]`: a small
 * epoll server, the same peer for every path.  Port BASE echoes, BASE+1
 * is a sink (closes on EOF), BASE+2 a source.  Level-triggered; a
 * connection whose echo the client does not read stops being read.
 * THREADS workers each own an SO_REUSEPORT listener set.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define SBUF   (64 * 1024)
#define NPORTS 3

struct sconn {
	int fd, kind;
	uint32_t off, len;
	char buf[SBUF];
};

struct srv {
	struct in_addr addr;
	int base;
};

static int listen_on(const struct srv *sv, int port)
{
	struct sockaddr_in sin = {
	    .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = sv->addr};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		bench_die("socket", errno);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 4096))
		bench_die("bind/listen", errno);
	return fd;
}

static void set_ev(int ep, struct sconn *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};

	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void drop(int ep, struct sconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* 0: keep, -1: gone */
static int on_conn(int ep, struct sconn *c, uint32_t ev)
{
	ssize_t n;

	if (c->kind == BP_SOURCE) {
		n = send(c->fd, c->buf, SBUF, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			n = recv(c->fd, c->buf, SBUF, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				return -1;
		}
		return 0;
	}
	if (c->kind == BP_SINK) {
		n = recv(c->fd, c->buf, SBUF, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return -1;
		return 0;
	}
	/* echo */
	if (c->len) {
		n = send(c->fd, c->buf + c->off, c->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->off += (uint32_t)n;
		c->len -= (uint32_t)n;
		if (c->len)
			return 0;
		set_ev(ep, c, EPOLLIN);
	}
	for (int i = 0; i < 4; i++) {
		n = recv(c->fd, c->buf, SBUF, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return -1;
		if (n < 0)
			return 0;
		c->off = 0;
		c->len = (uint32_t)n;
		n = send(c->fd, c->buf, c->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (n > 0) {
			c->off = (uint32_t)n;
			c->len -= (uint32_t)n;
		}
		if (c->len) {
			set_ev(ep, c, EPOLLOUT);
			return 0;
		}
		if ((uint32_t)n < SBUF)
			return 0;
	}
	return 0;
}

static void *worker(void *arg)
{
	const struct srv *sv = arg;
	struct epoll_event evs[256];
	int lfd[NPORTS], ep = epoll_create1(EPOLL_CLOEXEC), i, n, one = 1;

	if (ep < 0)
		bench_die("epoll_create1", errno);
	for (i = 0; i < NPORTS; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)i};

		lfd[i] = listen_on(sv, sv->base + i);
		epoll_ctl(ep, EPOLL_CTL_ADD, lfd[i], &e);
	}
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;

			if (d < NPORTS) {
				int fd;

				while ((fd = accept4(lfd[d], NULL, NULL,
						     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct sconn *c = malloc(sizeof(*c));
					struct epoll_event e = {.data.ptr = c};

					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					c->kind = (int)d;
					c->off = c->len = 0;
					memset(c->buf, 'x', d == BP_SOURCE ? SBUF : 0);
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					e.events = d == BP_SOURCE ? EPOLLIN | EPOLLOUT : EPOLLIN;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				}
				continue;
			}
			if (on_conn(ep, evs[i].data.ptr, evs[i].events))
				drop(ep, evs[i].data.ptr);
		}
	}
	return NULL;
}

int bench_server_main(int argc, char **argv)
{
	static struct srv sv = {.base = BENCH_PORT};
	const char *addr = "0.0.0.0";
	int opt, threads = 1, i;
	pthread_t t;

	while ((opt = getopt(argc, argv, "a:p:t:")) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			sv.base = atoi(optarg);
			break;
		case 't':
			threads = atoi(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: xts-bench server [-a ADDR] [-p BASE] [-t THREADS]\n");
			return 2;
		}
	}
	if (inet_pton(AF_INET, addr, &sv.addr) != 1)
		bench_die("address", EINVAL);
	for (i = 1; i < threads; i++)
		if (pthread_create(&t, NULL, worker, &sv))
			bench_die("pthread_create", EAGAIN);
	worker(&sv);
	return 0;
}

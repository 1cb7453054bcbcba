// SPDX-License-Identifier: BSD-2-Clause
/*
 * metrics_http.c - GET /metrics on a thread of its own (metrics_http.h):
 * one poll loop over the listening socket, the clients, a stop eventfd
 * and the daemon's "snapshot ready" eventfd.  Nothing here blocks: every
 * socket is non-blocking and every client has a deadline in each state.
 *
 *   READ  until the blank line that ends the headers (at most
 *         MHTTP_REQ_MAX bytes, MHTTP_REQUEST_MS from accept)
 *   WAIT  a good GET /metrics: for the daemon's snapshot (MHTTP_SNAP_MS)
 *   SEND  the response (MHTTP_SEND_MS), then close
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cfg_opt.h"
#include "metrics_http.h"

enum cstate { C_FREE, C_READ, C_WAIT, C_SEND };

struct client {
	int fd;
	enum cstate st;
	long long deadline;
	size_t len;
	char req[MHTTP_REQ_MAX];
	char *out;
	size_t out_len, out_off;
};

struct mhttp {
	struct mhttp_opts o;
	int lfd, req_efd, done_efd, stop_efd;
	pthread_t th;
	bool started;
	char where[64];
	pthread_mutex_t mu; /* guards snap, snap_len */
	char *snap;
	size_t snap_len;
	struct client c[MHTTP_CLIENTS];
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* One line of [p, end) without its CRLF (or LF): its length; *next after it. */
static size_t line_at(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t n;

	if (!nl) {
		*next = end;
		return (size_t)(end - p);
	}
	*next = nl + 1;
	n = (size_t)(nl - p);
	return n && p[n - 1] == '\r' ? n - 1 : n;
}

int mhttp_parse_request(const char *req, size_t len)
{
	const char *end = req + len, *p = req, *next, *sp1, *sp2;
	size_t n = line_at(p, end, &next), mlen;
	bool get;

	/* the request line: METHOD SP TARGET SP HTTP/1.x */
	sp1 = memchr(p, ' ', n);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(p + n - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || sp1 == p || sp1[1] != '/' || p + n - sp2 - 1 != 8 ||
	    (memcmp(sp2 + 1, "HTTP/1.0", 8) && memcmp(sp2 + 1, "HTTP/1.1", 8)))
		return 400;
	mlen = (size_t)(sp1 - p);
	for (size_t i = 0; i < mlen; i++)
		if (!tchar(p[i]))
			return 400;
	for (const char *t = sp1 + 1; t < sp2; t++)
		if ((unsigned char)*t <= ' ' || (unsigned char)*t >= 0x7f)
			return 400;
	get = mlen == 3 && !memcmp(p, "GET", 3);
	/* headers: NAME ":" VALUE, up to the empty line */
	for (p = next; p < end; p = next) {
		const char *colon;

		n = line_at(p, end, &next);
		if (!n)
			break;
		colon = memchr(p, ':', n);
		if (!colon || colon == p)
			return 400;
		for (const char *t = p; t < colon; t++)
			if (!tchar(*t))
				return 400;
		for (const char *t = colon + 1; t < p + n; t++)
			if ((unsigned char)*t < ' ' && *t != '\t')
				return 400;
	}
	if (!get)
		return 405;
	n = (size_t)(sp2 - sp1 - 1);
	if ((n == 8 || (n > 8 && sp1[9] == '?')) && !memcmp(sp1 + 1, "/metrics", 8))
		return 200;
	return 404;
}

/* The end of the headers in the first len bytes: a blank line. */
static bool complete(const char *req, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (req[i] == '\n' && (req[i + 1] == '\n' ||
				       (req[i + 1] == '\r' && i + 2 < len && req[i + 2] == '\n')))
			return true;
	return false;
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->st = C_FREE;
}

/* The statuses this server answers, with the body of the short ones. */
static const struct {
	int code;
	const char *reason, *body;
} statuses[] = {
    {200, "OK", ""},
    {400, "Bad Request", "bad request\n"},
    {404, "Not Found", "not found: the metrics are at /metrics\n"},
    {405, "Method Not Allowed", "only GET\n"},
    {431, "Request Header Fields Too Large", "request too large\n"},
    {503, "Service Unavailable", "the daemon did not hand its numbers over in time\n"},
};

/* A whole response (head and @body; NULL: the status's own short body). */
static void client_send(struct client *c, int code, const char *body, size_t blen, long long now)
{
	unsigned i = 0;
	char head[256];
	int hl;

	while (i + 1 < sizeof(statuses) / sizeof(statuses[0]) && statuses[i].code != code)
		i++;
	if (!body) {
		body = statuses[i].body;
		blen = strlen(body);
	}
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		      "Connection: close\r\n\r\n",
		      statuses[i].code, statuses[i].reason,
		      code == 200 ? "text/plain; version=0.0.4; charset=utf-8"
				  : "text/plain; charset=utf-8",
		      blen, code == 405 ? "Allow: GET\r\n" : "");
	c->out = malloc((size_t)hl + blen);
	if (!c->out) {
		client_close(c);
		return;
	}
	memcpy(c->out, head, (size_t)hl);
	memcpy(c->out + hl, body, blen);
	c->out_len = (size_t)hl + blen;
	c->out_off = 0;
	c->st = C_SEND;
	c->deadline = now + MHTTP_SEND_MS;
}

/* After a recv or send of n: false when there is nothing more to do now
 * (try later, or the client is gone and closed). */
static bool moved(struct client *c, ssize_t n)
{
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n <= 0)
		client_close(c);
	return n > 0;
}

static void on_read(struct mhttp *m, struct client *c, long long now)
{
	ssize_t n = recv(c->fd, c->req + c->len, sizeof(c->req) - c->len, MSG_DONTWAIT);
	uint64_t one = 1;
	int code;

	if (!moved(c, n))
		return;
	c->len += (size_t)n;
	if (!complete(c->req, c->len)) {
		if (c->len == sizeof(c->req))
			client_send(c, 431, NULL, 0, now);
		return;
	}
	code = mhttp_parse_request(c->req, c->len);
	if (code != 200) {
		client_send(c, code, NULL, 0, now);
		return;
	}
	c->st = C_WAIT;
	c->deadline = now + MHTTP_SNAP_MS;
	if (write(m->req_efd, &one, sizeof(one)) != sizeof(one))
		client_send(c, 503, NULL, 0, now);
}

static void on_write(struct client *c)
{
	ssize_t n =
	    send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (!moved(c, n))
		return;
	c->out_off += (size_t)n;
	if (c->out_off == c->out_len) {
		shutdown(c->fd, SHUT_WR);
		client_close(c);
	}
}

/* The snapshot (NUL-terminated, ours) split into lines for opts.render. */
static void render(struct mhttp *m, char *snap, size_t len, FILE *f)
{
	unsigned n = 0, cap = 0;
	char **line;

	for (size_t i = 0; i < len; i++)
		cap += snap[i] == '\n';
	line = calloc(cap + 1, sizeof(*line));
	if (!line)
		return;
	for (char *p = snap, *nl; n < cap && (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = 0;
		line[n++] = p;
	}
	m->o.render(m->o.arg, line, n, f);
	free(line);
}

/* The daemon published: render once, every waiting client gets it. */
static void on_snapshot(struct mhttp *m, long long now)
{
	char *snap = NULL, *body = NULL;
	size_t len = 0, blen = 0;
	uint64_t v;
	FILE *f;

	if (read(m->done_efd, &v, sizeof(v)) != sizeof(v))
		return;
	pthread_mutex_lock(&m->mu);
	if (m->snap && (snap = malloc(m->snap_len + 1))) {
		memcpy(snap, m->snap, m->snap_len + 1);
		len = m->snap_len;
	}
	pthread_mutex_unlock(&m->mu);
	f = snap ? open_memstream(&body, &blen) : NULL;
	if (f) {
		render(m, snap, len, f);
		if (fclose(f)) {
			free(body);
			body = NULL;
		}
	}
	for (unsigned i = 0; i < MHTTP_CLIENTS; i++)
		if (m->c[i].st == C_WAIT)
			client_send(&m->c[i], body ? 200 : 503, body, body ? blen : 0, now);
	free(body);
	free(snap);
}

static void on_accept(struct mhttp *m, long long now)
{
	for (;;) {
		int fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c = NULL;

		if (fd < 0)
			return;
		for (unsigned i = 0; i < MHTTP_CLIENTS && !c; i++)
			if (m->c[i].st == C_FREE)
				c = &m->c[i];
		if (!c) {
			/* full: say so in one try and close; never wait on it */
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
						   "Content-Length: 0\r\nConnection: close\r\n\r\n";

			if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				(void)0; /* it goes away either way */
			close(fd);
			continue;
		}
		c->fd = fd;
		c->st = C_READ;
		c->len = 0;
		c->deadline = now + MHTTP_REQUEST_MS;
	}
}

static void expire(struct mhttp *m, long long now)
{
	for (unsigned i = 0; i < MHTTP_CLIENTS; i++) {
		struct client *c = &m->c[i];

		if (c->st == C_FREE || now < c->deadline)
			continue;
		if (c->st == C_WAIT)
			client_send(c, 503, NULL, 0, now);
		else
			client_close(c); /* too slow to ask, or to take the answer */
	}
}

static void *serve(void *arg)
{
	struct mhttp *m = arg;
	struct pollfd pf[3 + MHTTP_CLIENTS];
	sigset_t all;

	/* signals are the daemon's loop's business (its signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		long long now = now_ms(), next = now + 60000;
		int timeout;

		pf[0] = (struct pollfd){.fd = m->stop_efd, .events = POLLIN};
		pf[1] = (struct pollfd){.fd = m->done_efd, .events = POLLIN};
		pf[2] = (struct pollfd){.fd = m->lfd, .events = POLLIN};
		for (unsigned i = 0; i < MHTTP_CLIENTS; i++) {
			struct client *c = &m->c[i];

			pf[3 + i].fd = c->st == C_READ || c->st == C_SEND ? c->fd : -1;
			pf[3 + i].events = c->st == C_READ ? POLLIN : POLLOUT;
			pf[3 + i].revents = 0;
			if (c->st != C_FREE && c->deadline < next)
				next = c->deadline;
		}
		timeout = next > now ? (int)(next - now) : 0;
		if (poll(pf, 3 + MHTTP_CLIENTS, timeout) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		now = now_ms();
		if (pf[1].revents)
			on_snapshot(m, now);
		for (unsigned i = 0; i < MHTTP_CLIENTS; i++) {
			struct client *c = &m->c[i];

			if (!pf[3 + i].revents || pf[3 + i].fd < 0)
				continue;
			if (c->st == C_READ)
				on_read(m, c, now);
			else if (c->st == C_SEND)
				on_write(c);
		}
		if (pf[2].revents)
			on_accept(m, now);
		expire(m, now);
	}
	return NULL;
}

static void fds_close(struct mhttp *m)
{
	int *fds[] = {&m->lfd, &m->req_efd, &m->done_efd, &m->stop_efd};

	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static int listen_on(struct mhttp *m, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned len;
	char host[INET6_ADDRSTRLEN];
	int one = 1;

	if (cfg_listen_parse(m->o.listen, &ss, &len)) {
		snprintf(err, errlen, "\"%s\": not ADDR:PORT", m->o.listen);
		return -EINVAL;
	}
	m->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0 || setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(m->lfd, (struct sockaddr *)&ss, len) || listen(m->lfd, 64) ||
	    getsockname(m->lfd, (struct sockaddr *)&ss, &(socklen_t){sizeof(ss)})) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", m->o.listen, strerror(e));
		return -e;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(m->where, sizeof(m->where), "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(m->where, sizeof(m->where), "%s:%u", host, ntohs(a->sin_port));
	}
	return 0;
}

int mhttp_start(struct mhttp **out, const struct mhttp_opts *o, char *err, size_t errlen)
{
	struct mhttp *m = calloc(1, sizeof(*m));
	int rc;

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->o = *o;
	m->lfd = m->req_efd = m->done_efd = m->stop_efd = -1;
	for (unsigned i = 0; i < MHTTP_CLIENTS; i++)
		m->c[i].fd = -1;
	pthread_mutex_init(&m->mu, NULL);
	rc = listen_on(m, err, errlen);
	if (!rc) {
		m->req_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		m->done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		m->stop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (m->req_efd < 0 || m->done_efd < 0 || m->stop_efd < 0) {
			rc = -errno;
			snprintf(err, errlen, "eventfd: %s", strerror(errno));
		}
	}
	if (!rc && (rc = -pthread_create(&m->th, NULL, serve, m)))
		snprintf(err, errlen, "pthread_create: %s", strerror(-rc));
	if (rc) {
		fds_close(m);
		pthread_mutex_destroy(&m->mu);
		free(m);
		return rc;
	}
	m->started = true;
	*out = m;
	return 0;
}

int mhttp_req_fd(const struct mhttp *m)
{
	return m->req_efd;
}

const char *mhttp_where(const struct mhttp *m)
{
	return m->where;
}

void mhttp_publish(struct mhttp *m, const char *snap, size_t len)
{
	uint64_t v = 1;
	char *copy = malloc(len + 1);

	if (read(m->req_efd, &v, sizeof(v)) != sizeof(v))
		v = 1; /* nobody asked: publish anyway */
	if (copy) {
		memcpy(copy, snap, len);
		copy[len] = 0;
	}
	pthread_mutex_lock(&m->mu);
	free(m->snap);
	m->snap = copy;
	m->snap_len = copy ? len : 0;
	pthread_mutex_unlock(&m->mu);
	v = 1;
	if (write(m->done_efd, &v, sizeof(v)) != sizeof(v))
		(void)0; /* the counter is full: the server has plenty to read */
}

void mhttp_stop(struct mhttp *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	if (m->started && write(m->stop_efd, &one, sizeof(one)) == sizeof(one))
		pthread_join(m->th, NULL);
	for (unsigned i = 0; i < MHTTP_CLIENTS; i++)
		client_close(&m->c[i]);
	fds_close(m);
	pthread_mutex_destroy(&m->mu);
	free(m->snap);
	free(m);
}

void mhttp_child_close(struct mhttp *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < MHTTP_CLIENTS; i++)
		if (m->c[i].fd >= 0)
			close(m->c[i].fd);
	close(m->lfd);
	close(m->req_efd);
	close(m->done_efd);
	close(m->stop_efd);
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-cat - netcat over XTS: one TCP connection made by the DPU, stdin to
 * the connection, the connection to stdout.
 *
 *   xts-cat [-i IFNAME] [-q QUEUE] [-w TIMEOUT_S] [-s ADDR] [-p PORT] HOST PORT
 *   xts-cat -l [-k] [-i IFNAME] [-q QUEUE] [-w TIMEOUT_S] PORT
 *
 * -l listens instead (on [::], which takes IPv4 too) and serves one
 * connection, or with -k one after another until killed.
 *
 * Single-threaded: one xport_poll() over the XTS socket, stdin and stdout
 * (both non-blocking, their flags restored on exit).  Each direction has a
 * 64 KiB buffer; the connection is read only while the stdout buffer has
 * room, so a slow stdout closes the TCP window instead of growing memory.
 * Exit 0 once stdin's EOF went out (SHUT_WR) and the peer's EOF came in
 * with every byte before it written; 1 on any error, with one line on
 * stderr; 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "xport.h"
#include "xts_proto.h" /* xts_addr_fmt, xts_alpn_wire */
#include "xts_version.h"

#define PROG	   "xts-cat"
#define BUF_SIZE   (64 * 1024)
#define DEF_IF	   "xh0"
#define MAX_WAIT_S 86400

static int saved_fl[2] = {-1, -1};

/* -T/-N/-A: TLS done by the DPU (a profile of its xts.conf) */
static struct {
	const char *profile, *name, *alpn;
} tls;

static void restore_fds(void)
{
	for (int fd = 0; fd < 2; fd++)
		if (saved_fl[fd] >= 0)
			fcntl(fd, F_SETFL, saved_fl[fd]);
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || (fl & O_NONBLOCK))
		return;
	/* the file description may be shared (a terminal): put it back */
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0)
		saved_fl[fd] = fl;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-i IFNAME] [-q QUEUE] [-w TIMEOUT_S] [-s ADDR] [-p PORT]\n"
		"               [-T PROFILE [-N NAME] [-A ALPN]] HOST PORT\n"
		"       " PROG " -l [-k] [-i IFNAME] [-q QUEUE] [-w TIMEOUT_S] PORT\n"
		"\n"
		"Connect to HOST PORT through XTS (the TCP connection runs on the DPU)\n"
		"and copy stdin to it and it to stdout, like nc.\n"
		"\n"
		"  -i, --interface IFNAME  host interface of the XTS queues (default " DEF_IF ")\n"
		"  -q, --queue QUEUE|any   queue to attach to (default: any free one that\n"
		"                          xportd picks; queue 0 without xportd)\n"
		"  -s, --source ADDR       connect from this address of the DPU (bind first)\n"
		"  -p, --source-port PORT  connect from this port\n"
		"  -w, --wait TIMEOUT_S    give up a connect, or a connection idle both\n"
		"                          ways, after TIMEOUT_S seconds (default: never)\n"
		"  -l, --listen            listen on PORT (IPv4 and IPv6) and serve one\n"
		"                          connection\n"
		"  -k, --keep-open         with -l: serve one connection after another\n"
		"  -T, --tls PROFILE       TLS on the DPU with this profile of its\n"
		"                          xts.conf: this program reads and writes\n"
		"                          plaintext (with -l: clients speak TLS)\n"
		"  -N, --server-name NAME  with -T: the server's name (SNI, and the name\n"
		"                          its certificate is verified for; default HOST\n"
		"                          when it is a name, else its address)\n"
		"  -A, --alpn P1,P2        with -T: ALPN protocols to offer (accept)\n"
		"  -h, --help              this text\n"
		"  -V, --version           print the version and exit\n"
		"\n"
		"HOST is a name or a numeric IPv4/IPv6 address.  Exit status: 0 when both\n"
		"directions ended cleanly, 1 on an error, 2 on a usage error.\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "1.2.3.4:80" / "[::1]:80": the one formatter every XTS program uses */
static void addr_str(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len)
{
	struct xts_addr a;

	if (xts_addr_from_sockaddr(&a, sa, salen))
		memset(&a, 0, sizeof(a)); /* "-" */
	xts_addr_fmt(&a, buf, len);
}

/* -T: push TLS on @sd before its connect or listen; @host the name
 * connected to (NULL: listening).  0, or -1 said. */
static int push_tls(struct xport *xp, int sd, const char *host)
{
	const char *name = tls.name;
	unsigned char alpn[64], tmp[16];
	size_t alen = 0;

	if (!tls.profile)
		return 0;
	/* a numeric HOST is verified as an address, not sent as SNI */
	if (!name && host && inet_pton(AF_INET, host, tmp) != 1 &&
	    inet_pton(AF_INET6, host, tmp) != 1)
		name = host;
	if (tls.alpn && !(alen = xts_alpn_wire(tls.alpn, alpn, sizeof(alpn) - 1))) {
		fprintf(stderr, PROG ": bad ALPN list: %s\n", tls.alpn);
		return -1;
	}
	if (xport_setsockopt(xp, sd, SOL_TCP, TCP_ULP, "tls", 4) ||
	    xport_setsockopt(xp, sd, SOL_XTS, XTS_TLS_PROFILE, tls.profile,
			     (socklen_t)strlen(tls.profile) + 1) ||
	    (name && xport_setsockopt(xp, sd, SOL_XTS, XTS_TLS_SERVER_NAME, name,
				      (socklen_t)strlen(name) + 1)) ||
	    (alen && xport_setsockopt(xp, sd, SOL_XTS, XTS_TLS_ALPN, alpn, (socklen_t)alen))) {
		fprintf(stderr, PROG ": TLS profile %s: %s\n", tls.profile, strerror(errno));
		return -1;
	}
	return 0;
}

/* What TLS became (ok; not with @fail_only), or why it failed: one line
 * on stderr. */
static void tls_report(struct xport *xp, int sd, const char *where, bool fail_only)
{
	struct xport_ulp_info i;
	socklen_t len = sizeof(i);

	if (!tls.profile || xport_getsockopt(xp, sd, SOL_XTS, XTS_ULP_INFO, &i, &len) ||
	    (fail_only && !i.err))
		return;
	if (i.err)
		fprintf(stderr, PROG ": TLS to %s: %s: %s\n", where, strerror(i.err), i.reason);
	else
		fprintf(stderr, PROG ": TLS 1.%d %s%s%s%s%s\n", i.version == 0x0304 ? 3 : 2,
			i.cipher, i.alpn[0] ? ", ALPN " : "", i.alpn,
			(i.flags & XPORT_ULPI_VERIFIED) ? ", verified" : "",
			(i.flags & XPORT_ULPI_RESUMED) ? ", resumed" : "");
}

/* Try each address in turn, as nc does.  Returns the connected socket,
 * or -1 after saying why the last attempt failed. */
/* -s/-p: bind @sd before its connect, as nc -s/-p does.  0, or -1 said. */
static int bind_source(struct xport *xp, int sd, int family, const char *src, unsigned long port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		len = sizeof(*a4);
		if (src && inet_pton(AF_INET, src, &a4->sin_addr) != 1)
			goto bad;
	} else {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		len = sizeof(*a6);
		if (src && inet_pton(AF_INET6, src, &a6->sin6_addr) != 1)
			goto bad;
	}
	if (xport_bind(xp, sd, (struct sockaddr *)&ss, len) == 0)
		return 0;
	fprintf(stderr, PROG ": bind %s port %lu: %s\n", src ? src : "*", port, strerror(errno));
	return -1;
bad:
	fprintf(stderr, PROG ": -s %s: not an %s address\n", src,
		family == AF_INET ? "IPv4" : "IPv6");
	return -1;
}

static int dial(struct xport *xp, const char *host, const char *port, unsigned long wait_s,
		const char *src, unsigned long src_port)
{
	struct addrinfo hints, *res, *ai;
	char where[XTS_ADDR_STRLEN] = "";
	int sd = -1, err = 0, gai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/* no AI_ADDRCONFIG: the DPU, not this host, needs the route */
	gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		fprintf(stderr, PROG ": %s port %s: %s\n", host, port,
			gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		addr_str(ai->ai_addr, ai->ai_addrlen, where, sizeof(where));
		sd = xport_socket(xp, ai->ai_family, SOCK_STREAM, 0);
		if (sd < 0) {
			err = errno;
			fprintf(stderr, PROG ": socket: %s\n", strerror(err));
			freeaddrinfo(res);
			return -1;
		}
		if (wait_s) {
			struct timeval tv = {.tv_sec = (time_t)wait_s};

			xport_setsockopt(xp, sd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		}
		if (((src || src_port) && bind_source(xp, sd, ai->ai_family, src, src_port)) ||
		    push_tls(xp, sd, host)) {
			xport_close(xp, sd);
			freeaddrinfo(res);
			return -1;
		}
		if (xport_connect(xp, sd, ai->ai_addr, ai->ai_addrlen) == 0) {
			tls_report(xp, sd, where, false);
			break;
		}
		/* a blocking connect past SO_SNDTIMEO: EINPROGRESS, as Linux */
		err = errno == EINPROGRESS ? ETIMEDOUT : errno;
		tls_report(xp, sd, where, true); /* why TLS failed, when it did */
		xport_close(xp, sd);
		sd = -1;
	}
	freeaddrinfo(res);
	if (sd < 0) {
		if (!err)
			err = EAFNOSUPPORT;
		fprintf(stderr, PROG ": connect %s: %s\n", where[0] ? where : host, strerror(err));
		return -1;
	}
	if (wait_s) { /* -w bounds the connect; the loop does its own idle timing */
		struct timeval tv = {0};

		xport_setsockopt(xp, sd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	xport_set_nonblock(xp, sd, 1);
	return sd;
}

/* -l: a listener on [::]:PORT (IPv4 too, as Linux without V6ONLY). */
static int listen_on(struct xport *xp, const char *port_s)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	unsigned long port;
	int one = 1, ls;

	if (parse_uint(port_s, 65535, &port)) {
		fprintf(stderr, PROG ": bad port: %s\n", port_s);
		return -1;
	}
	a.sin6_port = htons((uint16_t)port);
	ls = xport_socket(xp, AF_INET6, SOCK_STREAM, 0);
	if (ls < 0 || xport_setsockopt(xp, ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    push_tls(xp, ls, NULL) || xport_bind(xp, ls, (struct sockaddr *)&a, sizeof(a)) ||
	    xport_listen(xp, ls, 16)) {
		fprintf(stderr, PROG ": listen on port %lu: %s\n", port, strerror(errno));
		return -1;
	}
	return ls;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct buf {
	char data[BUF_SIZE];
	size_t off, len;
};

/* Free room at the tail, compacting when the head has moved. */
static size_t buf_room(struct buf *b)
{
	if (!b->len)
		b->off = 0;
	else if (b->off && b->off + b->len == BUF_SIZE) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	return BUF_SIZE - b->off - b->len;
}

static struct buf up, down; /* stdin -> connection, connection -> stdout */

static int relay(struct xport *xp, int sd, unsigned long wait_s)
{
	bool in_eof = false, eof_sent = false, peer_eof = false;
	uint64_t idle_since = now_ms();

	for (;;) {
		struct xport_pollfd p[3];
		short sev = 0;
		int n, timeout = -1;
		ssize_t r;

		if (eof_sent && peer_eof && !down.len)
			return 0;
		/* stdin read, connection write */
		if (!in_eof && !up.len && buf_room(&up))
			p[1] = (struct xport_pollfd){.sd = -1, .fd = 0, .events = POLLIN};
		else
			p[1] = (struct xport_pollfd){.sd = -1, .fd = -1};
		if (up.len)
			sev |= POLLOUT;
		if (!peer_eof && buf_room(&down))
			sev |= POLLIN; /* backpressure: read only what stdout can take */
		/* An entry we want nothing from is left out: POLLHUP or POLLERR
		 * are reported unasked and would spin the loop. */
		if (sev)
			p[0] = (struct xport_pollfd){.sd = sd, .fd = -1, .events = sev};
		else
			p[0] = (struct xport_pollfd){.sd = -1, .fd = -1};
		if (down.len)
			p[2] = (struct xport_pollfd){.sd = -1, .fd = 1, .events = POLLOUT};
		else
			p[2] = (struct xport_pollfd){.sd = -1, .fd = -1};

		if (wait_s) {
			uint64_t end = idle_since + wait_s * 1000u, now = now_ms();

			if (now >= end) {
				fprintf(stderr, PROG ": idle for %lus: %s\n", wait_s,
					strerror(ETIMEDOUT));
				return 1;
			}
			timeout = (int)(end - now);
		}
		n = xport_poll(xp, p, 3, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
			return 1;
		}
		if (!n)
			continue;
		idle_since = now_ms();

		if (p[1].revents) {
			r = read(0, up.data, BUF_SIZE);
			if (r > 0) {
				up.off = 0;
				up.len = (size_t)r;
			} else if (r == 0) {
				in_eof = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, PROG ": read stdin: %s\n", strerror(errno));
				return 1;
			}
		}
		if (up.len && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
			r = xport_send(xp, sd, up.data + up.off, up.len, MSG_NOSIGNAL);
			if (r > 0) {
				up.off += (size_t)r;
				up.len -= (size_t)r;
			} else if (errno != EAGAIN) {
				fprintf(stderr, PROG ": send: %s\n", strerror(errno));
				return 1;
			}
		}
		if (in_eof && !up.len && !eof_sent) {
			if (xport_shutdown(xp, sd, SHUT_WR)) {
				fprintf(stderr, PROG ": shutdown: %s\n", strerror(errno));
				return 1;
			}
			eof_sent = true;
		}
		/* only when asked for: a zero-length recv would look like EOF */
		if ((sev & POLLIN) && (p[0].revents & (POLLIN | POLLERR | POLLHUP | POLLRDHUP))) {
			size_t room = buf_room(&down);

			r = xport_recv(xp, sd, down.data + down.off + down.len, room, 0);
			if (r > 0) {
				down.len += (size_t)r;
			} else if (r == 0) {
				peer_eof = true;
			} else if (errno != EAGAIN) {
				fprintf(stderr, PROG ": recv: %s\n", strerror(errno));
				tls_report(xp, sd, "the peer", true);
				return 1;
			}
		}
		if (down.len && p[2].revents) {
			r = write(1, down.data + down.off, down.len);
			if (r > 0) {
				down.off += (size_t)r;
				down.len -= (size_t)r;
			} else if (r < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, PROG ": write stdout: %s\n", strerror(errno));
				return 1;
			}
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"interface", required_argument, NULL, 'i'},
	    {"queue", required_argument, NULL, 'q'},
	    {"wait", required_argument, NULL, 'w'},
	    {"source", required_argument, NULL, 's'},
	    {"source-port", required_argument, NULL, 'p'},
	    {"listen", no_argument, NULL, 'l'},
	    {"keep-open", no_argument, NULL, 'k'},
	    {"tls", required_argument, NULL, 'T'},
	    {"server-name", required_argument, NULL, 'N'},
	    {"alpn", required_argument, NULL, 'A'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *ifname = DEF_IF;
	unsigned long queue = XPORT_QUEUE_ANY, wait_s = 0, src_port = 0;
	const char *src = NULL;
	struct xport *xp;
	int c, err, sd, rc, ls = -1;
	bool listen_mode = false, keep = false, queue_given = false;
	char qname[16];

	while ((c = getopt_long(argc, argv, "i:q:w:s:p:lkT:N:A:hV", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			src = optarg;
			break;
		case 'p':
			if (parse_uint(optarg, 65535, &src_port) || !src_port) {
				fprintf(stderr, PROG ": bad source port: %s\n", optarg);
				return 2;
			}
			break;
		case 'l':
			listen_mode = true;
			break;
		case 'k':
			keep = true;
			break;
		case 'T':
			tls.profile = optarg;
			break;
		case 'N':
			tls.name = optarg;
			break;
		case 'A':
			tls.alpn = optarg;
			break;
		case 'i':
			ifname = optarg;
			break;
		case 'q':
			queue_given = true;
			if (!strcmp(optarg, "any"))
				queue = XPORT_QUEUE_ANY;
			else if (parse_uint(optarg, UINT_MAX - 1, &queue)) {
				fprintf(stderr, PROG ": bad queue: %s\n", optarg);
				return 2;
			}
			break;
		case 'w':
			if (parse_uint(optarg, MAX_WAIT_S, &wait_s) || !wait_s) {
				fprintf(stderr, PROG ": bad timeout (1..%d seconds): %s\n",
					MAX_WAIT_S, optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(PROG " %s\n", XTS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != (listen_mode ? 1 : 2) || (keep && !listen_mode) ||
	    (listen_mode && (src || src_port)) || ((tls.name || tls.alpn) && !tls.profile)) {
		usage(stderr);
		return 2;
	}
	/* a closed stdout is an error we report, not a silent SIGPIPE */
	signal(SIGPIPE, SIG_IGN);

	err = xport_open(&xp, ifname, (unsigned)queue, NULL);
	if (err == -EINVAL && !queue_given) {
		/* no xportd to pick a queue: open queue 0 directly (root) */
		queue = 0;
		err = xport_open(&xp, ifname, (unsigned)queue, NULL);
	}
	if (err) {
		snprintf(qname, sizeof(qname), "%lu", queue);
		fprintf(stderr, PROG ": open %s queue %s: %s%s%s\n", ifname,
			queue == XPORT_QUEUE_ANY ? "any" : qname, strerror(-err),
			xport_last_error() ? ": " : "",
			xport_last_error() ? xport_last_error() : "");
		return 1;
	}
	if (listen_mode) {
		ls = listen_on(xp, argv[optind]);
		if (ls < 0) {
			xport_close_queue(xp);
			return 1;
		}
	}
	atexit(restore_fds);
	do {
		if (listen_mode) {
			sd = xport_accept(xp, ls, NULL, NULL);
			if (sd < 0)
				fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
			else
				xport_set_nonblock(xp, sd, 1);
		} else {
			sd = dial(xp, argv[optind], argv[optind + 1], wait_s, src, src_port);
		}
		if (sd < 0) {
			rc = 1;
			break;
		}
		set_nonblock(0);
		set_nonblock(1);
		up.len = down.len = 0;
		rc = relay(xp, sd, wait_s);
		xport_close(xp, sd);
	} while (keep);
	if (ls >= 0)
		xport_close(xp, ls);
	err = xport_close_queue(xp);
	if (err)
		fprintf(stderr, "xts-cat: closing the queue: %s\n", strerror(-err));
	return rc;
}

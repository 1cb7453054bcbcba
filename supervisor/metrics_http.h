/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics_http.h - the small HTTP server behind GET /metrics, for xtsd
 * and xportd alike (metrics_http.c).
 *
 * It runs on a thread of its own with its own poll loop, so that a slow
 * or hostile scraper never runs on the daemon's loop: every client has a
 * whole-request deadline, a request is at most MHTTP_REQ_MAX bytes, at
 * most MHTTP_CLIENTS are served at once (the next one gets 503 and the
 * door), and each response closes its connection (HTTP/1.0 style).
 *
 * The data stays the daemon's: on a good GET /metrics the server asks
 * the daemon's loop for a snapshot (mhttp_req_fd() turns readable); the
 * loop copies what it has into a text (records: include/xts_ctl.h) and
 * hands it over with mhttp_publish(), which costs the loop a copy and no
 * I/O.  The server then renders the exposition from that text on its own
 * thread (opts.render) and sends it.  Every client waiting at that moment
 * shares the snapshot.  A loop that does not answer within
 * MHTTP_SNAP_MS gets its scrapers a 503: a wedged daemon shows as a
 * failed scrape, never as stale numbers.
 */
#ifndef XTS_METRICS_HTTP_H
#define XTS_METRICS_HTTP_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#define MHTTP_REQ_MAX	 8192  /* bytes of request line and headers */
#define MHTTP_CLIENTS	 8     /* served at once */
#define MHTTP_REQUEST_MS 2000  /* to send the whole request */
#define MHTTP_SNAP_MS	 1000  /* for the daemon's loop to hand a snapshot over */
#define MHTTP_SEND_MS	 10000 /* to take the whole response */

struct mhttp;

struct mhttp_opts {
	const char *listen; /* "ADDR:PORT", IPv6 as "[ADDR]:PORT" (cfg_listen_parse) */
	/* On the server's thread: the exposition of the text the daemon
	 * published (a private copy, split into its @n lines) into @f. */
	void (*render)(void *arg, char **line, unsigned n, FILE *f);
	void *arg;
};

/* The status a request (request line and headers, up to the blank line)
 * gets: 200 (GET /metrics), 404 (another path), 405 (not GET) or 400. */
int mhttp_parse_request(const char *req, size_t len);

/* Bind and listen (now, so that the caller can say why it failed), then
 * start the thread: 0 or -errno with the reason in @err. */
int mhttp_start(struct mhttp **out, const struct mhttp_opts *o, char *err, size_t errlen);
/* Readable (an eventfd) when the server wants a snapshot: the daemon's
 * loop answers with mhttp_publish(). */
int mhttp_req_fd(const struct mhttp *m);
/* The snapshot (copied; the eventfd is read here). */
void mhttp_publish(struct mhttp *m, const char *snap, size_t len);
/* The address it listens on, as "ADDR:PORT" (port 0 resolved). */
const char *mhttp_where(const struct mhttp *m);
/* Stop the thread, close everything, free. */
void mhttp_stop(struct mhttp *m);
/* In a forked child: close the server's fds, leave the parent's thread
 * and memory alone. */
void mhttp_child_close(struct mhttp *m);

#endif

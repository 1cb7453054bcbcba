// SPDX-License-Identifier: BSD-2-Clause
/*
 * sup_metrics.c - xtsd's GET /metrics (xts.conf metrics.listen).
 *
 * The HTTP side runs on its own thread (metrics_http.c): a slow or silent
 * scraper never touches this loop.  When a scrape wants numbers, the
 * server's eventfd wakes this loop, which writes the very records `xtsctl
 * stats` gets (sup_stats_recs: shared memory and xtsd's own state, read
 * here where that state lives) and hands the text over; the server's
 * thread turns them into the exposition with the formatter xtsctl uses
 * (ctl_prom.c).  So both show the same series from the same records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "ctl_prom.h"
#include "metrics_http.h"
#include "sup.h"

/* On the server's thread: the records (lines of a private copy). */
static void render(void *arg, char **line, unsigned n, FILE *f)
{
	(void)arg;
	ctl_prom_write(f, line, n);
}

/* On xtsd's loop: the server asked for a snapshot. */
static void on_request(struct sup *sp, struct sup_ev *ev, uint32_t events)
{
	struct ctl_buf b = {0};

	(void)ev;
	(void)events;
	sup_stats_recs(sp, &b);
	mhttp_publish(sp->metrics, b.err ? "" : b.p, b.err ? 0 : b.len);
	ctl_buf_free(&b);
}

int sup_metrics_open(struct sup *sp)
{
	struct mhttp_opts o = {.listen = sp->cfg->metrics_listen, .render = render};
	char err[256];
	int rc;

	if (!*o.listen)
		return 0;
	rc = mhttp_start(&sp->metrics, &o, err, sizeof(err));
	if (rc) {
		sup_err("metrics.listen: %s", err);
		return rc;
	}
	sp->metrics_ev.fd = mhttp_req_fd(sp->metrics);
	sp->metrics_ev.fn = on_request;
	if (sup_ev_add(sp, &sp->metrics_ev, EPOLLIN)) {
		rc = -errno;
		sup_err("metrics: epoll: %s", strerror(errno));
		return rc;
	}
	sup_info("metrics on http://%s/metrics", mhttp_where(sp->metrics));
	return 0;
}

void sup_metrics_close(struct sup *sp)
{
	mhttp_stop(sp->metrics);
	sp->metrics = NULL;
}

void sup_metrics_child(struct sup *sp)
{
	mhttp_child_close(sp->metrics);
}

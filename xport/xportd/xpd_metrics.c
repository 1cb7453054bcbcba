// SPDX-License-Identifier: BSD-2-Clause
/*
 * xpd_metrics.c - xportd's GET /metrics (xportd.conf metrics.listen).
 *
 * The same HTTP server as xtsd's (supervisor/metrics_http.c), on a thread
 * of its own: a slow or silent scraper never touches xportd's loop.  On a
 * scrape the loop writes the records of `xportd status` (the leases,
 * their lessees and counters, the refusals) and hands them over; the
 * server's thread turns them into the exposition here (render), with the
 * pieces of ctl_prom.c.  docs/operations.md lists the series.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "ctl_prom.h"
#include "metrics_http.h"
#include "xportd.h"

static const char *const refusal_keys[XPD_REF_N] = {
    [XPD_REF_POLICY] = "refused_policy",   [XPD_REF_QUOTA] = "refused_quota",
    [XPD_REF_BUSY] = "refused_busy",	   [XPD_REF_TIMEOUT] = "refused_timeout",
    [XPD_REF_CLIENTS] = "refused_clients", [XPD_REF_OTHER] = "refused_other",
};

const char *xpd_refusal_key(unsigned r)
{
	return r < XPD_REF_N ? refusal_keys[r] : "refused_other";
}

void xpd_refused(struct xpd *d, int err)
{
	d->refused[err == EACCES      ? XPD_REF_POLICY
		   : err == EDQUOT    ? XPD_REF_QUOTA
		   : err == EBUSY     ? XPD_REF_BUSY
		   : err == ETIMEDOUT ? XPD_REF_TIMEOUT
				      : XPD_REF_OTHER]++;
}

#define num ctl_prom_num

/* One sample per leased queue: NAME{queue="Q"} VALUE of @key. */
static void per_lease(FILE *f, const struct ctl_rec *rec, unsigned n, const char *name,
		      const char *key)
{
	ctl_prom_samples(f, rec, n, "queue", "queue", name, key);
}

static void daemon_series(FILE *f, const struct ctl_rec *x)
{
	static const struct {
		const char *name, *key, *help;
	} totals[] = {
	    {"xportd_leases_granted_total", "granted", "leases granted (renews not counted)"},
	    {"xportd_leases_ended_total", "ended", "leases ended (lessee gone, or closed)"},
	    {"xportd_qresets_sent_total", "qresets",
	     "queue sessions xportd ended for a lessee that died (the last QRESET)"},
	};
	const char *v;

	ctl_prom_build_info(f, "xportd_build_info", "the version of the xportd that answered", x);
	if (!x)
		return;
	for (unsigned i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
		ctl_prom_family(f, totals[i].name, "counter", totals[i].help);
		if ((v = num(x, totals[i].key)))
			fprintf(f, "%s %s\n", totals[i].name, v);
	}
	ctl_prom_family(f, "xportd_requests_refused_total", "counter",
			"requests answered with an error, by reason (policy EACCES, quota "
			"EDQUOT, busy EBUSY, timeout, clients: limits.clients, other)");
	for (unsigned i = 0; i < XPD_REF_N; i++)
		if ((v = num(x, refusal_keys[i])))
			fprintf(f, "xportd_requests_refused_total{reason=\"%s\"} %s\n",
				refusal_keys[i] + strlen("refused_"), v);
}

static void queue_series(FILE *f, const struct ctl_rec *rec, unsigned n)
{
	static const char *const states[] = {"free", "leased", "busy"};
	unsigned count[3] = {0};

	for (unsigned i = 0; i < n; i++)
		for (unsigned s = 0; s < 3; s++)
			count[s] += !strcmp(rec[i].type, "queue") &&
				    !strcmp(ctl_rec_get(&rec[i], "state") ?: "", states[s]);
	ctl_prom_family(f, "xportd_queues", "gauge",
			"queues by state: free, leased, busy (held by a socket xportd did not "
			"lease)");
	for (unsigned s = 0; s < 3; s++)
		fprintf(f, "xportd_queues{state=\"%s\"} %u\n", states[s], count[s]);
	ctl_prom_family(f, "xportd_lease_info", "gauge",
			"1 for each leased queue, with its lessee (uid, pid, command)");
	for (unsigned i = 0; i < n; i++) {
		const char *q = num(&rec[i], "id"), *uid = num(&rec[i], "uid"),
			   *pid = num(&rec[i], "pid");

		if (strcmp(rec[i].type, "queue") || !q || !uid || !pid)
			continue;
		fprintf(f, "xportd_lease_info{queue=\"%s\",uid=\"%s\",pid=\"%s\",comm=\"", q, uid,
			pid);
		ctl_prom_label(f, ctl_rec_get(&rec[i], "comm") ?: "");
		fputs("\"} 1\n", f);
	}
	ctl_prom_family(f, "xportd_lease_start_time_seconds", "gauge",
			"when the lease began, seconds since the epoch");
	per_lease(f, rec, n, "xportd_lease_start_time_seconds", "since");
	ctl_prom_family(f, "xportd_lease_sockets", "gauge", "sockets the lessee has open");
	per_lease(f, rec, n, "xportd_lease_sockets", "sockets");
	ctl_prom_family(f, "xportd_lease_sent_bytes_total", "counter",
			"stream bytes the lessee sent (as it publishes them)");
	per_lease(f, rec, n, "xportd_lease_sent_bytes_total", "data_tx");
	ctl_prom_family(f, "xportd_lease_received_bytes_total", "counter",
			"stream bytes the lessee received (as it publishes them)");
	per_lease(f, rec, n, "xportd_lease_received_bytes_total", "data_rx");
}

/* Leases held per uid: the policy's `leases` limit is per uid. */
static void uid_series(FILE *f, const struct ctl_rec *rec, unsigned n)
{
	ctl_prom_family(f, "xportd_leases_by_uid", "gauge", "leases each uid holds now");
	for (unsigned i = 0; i < n; i++) {
		const char *uid = num(&rec[i], "uid");
		unsigned held = 0;
		bool first = true;

		if (strcmp(rec[i].type, "queue") || !uid)
			continue;
		for (unsigned j = 0; j < n; j++) {
			const char *u = num(&rec[j], "uid");

			if (strcmp(rec[j].type, "queue") || !u || strcmp(u, uid))
				continue;
			first &= j >= i;
			held++;
		}
		if (first)
			fprintf(f, "xportd_leases_by_uid{uid=\"%s\"} %u\n", uid, held);
	}
}

/* On the server's thread: the records (lines of a private copy). */
static void render(void *arg, char **line, unsigned nlines, FILE *f)
{
	const struct ctl_rec *x = NULL;
	struct ctl_rec *rec = calloc(nlines + 1, sizeof(*rec));
	unsigned n = 0;

	(void)arg;
	if (!rec)
		return;
	for (unsigned i = 0; i < nlines; i++)
		if (!ctl_rec_parse(line[i], &rec[n]))
			n++;
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(rec[i].type, "xportd"))
			x = &rec[i];
	daemon_series(f, x);
	queue_series(f, rec, n);
	uid_series(f, rec, n);
	free(rec);
}

/* On xportd's loop: the server asked for a snapshot. */
static void on_request(struct xpd *d, struct xpd_ev *ev, uint32_t events)
{
	struct ctl_buf b = {0};

	(void)ev;
	(void)events;
	xpd_status_recs(d, &b);
	mhttp_publish(d->metrics, b.err ? "" : b.p, b.err ? 0 : b.len);
	ctl_buf_free(&b);
}

int xpd_metrics_open(struct xpd *d)
{
	struct mhttp_opts o = {.listen = d->cfg->metrics_listen, .render = render};
	char err[256];
	int rc;

	if (!*o.listen)
		return 0;
	rc = mhttp_start(&d->metrics, &o, err, sizeof(err));
	if (rc) {
		xpd_err("metrics.listen: %s", err);
		return rc;
	}
	d->metrics_ev.fd = mhttp_req_fd(d->metrics);
	d->metrics_ev.fn = on_request;
	if (xpd_ev_add(d, &d->metrics_ev, EPOLLIN)) {
		rc = -errno;
		xpd_err("metrics: epoll: %s", strerror(errno));
		return rc;
	}
	xpd_info("metrics on http://%s/metrics", mhttp_where(d->metrics));
	return 0;
}

void xpd_metrics_close(struct xpd *d)
{
	mhttp_stop(d->metrics);
	d->metrics = NULL;
}

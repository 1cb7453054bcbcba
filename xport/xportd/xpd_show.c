// SPDX-License-Identifier: BSD-2-Clause
/*
 * xpd_show.c - `status` and `socks`: the leases, and every socket of
 * every lessee, from the areas the lessees publish in (xts_lease.h).
 *
 * Counters are read as they stand (each written whole by its lessee).  The
 * socket table is a snapshot: xportd asks (snap.req), the lessee writes it
 * between two rounds of its queue and says so (snap.done), and socks waits
 * at most SNAP_WAIT_MS for all of them, parked, never blocking.  A lessee
 * that did not answer (it sleeps outside libxport, or it is stuck) is
 * listed with answered=no and the last snapshot it took, if any.  Nothing
 * read from an area is trusted: counts are bounded by the area's size,
 * states and addresses checked before they are printed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "xpd_srv.h"
#include "xts_version.h"

#define SNAP_WAIT_MS 300

static const char *qstate_name(uint8_t st)
{
	return st == XQ_LEASED ? "leased" : st == XQ_BUSY ? "busy" : "free";
}

static uint64_t ld64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static uint32_t ld32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void lease_fields(const struct xpd_lease *ls, struct ctl_buf *o)
{
	const struct xts_lease_pub *p = &ls->shm->pub;

	ctl_rec_i64(o, "pid", ls->peer.pid);
	ctl_rec_u64(o, "uid", ls->peer.uid);
	ctl_rec_str(o, "comm", ls->comm);
	ctl_rec_u64(o, "since", ls->since_s);
	ctl_rec_u64(o, "sockets", ld32(&p->sockets));
	ctl_rec_u64(o, "data_tx", ld64(&p->data_tx));
	ctl_rec_u64(o, "data_rx", ld64(&p->data_rx));
	ctl_rec_u64(o, "epoch", ld32(&p->epoch));
	ctl_rec_u64(o, "renewed", ls->renewed);
}

void xpd_status_recs(struct xpd *d, struct ctl_buf *o)
{
	uint32_t leased = 0;

	for (uint32_t q = 0; q < d->cfg->queues; q++)
		leased += d->q[q].st == XQ_LEASED;
	ctl_rec_begin(o, "xportd");
	ctl_rec_i64(o, "pid", getpid());
	ctl_rec_str(o, "interface", d->cfg->interface);
	ctl_rec_u64(o, "queues", d->cfg->queues);
	ctl_rec_u64(o, "leases", leased);
	ctl_rec_u64(o, "granted", d->leases_granted);
	ctl_rec_u64(o, "ended", d->leases_ended);
	ctl_rec_u64(o, "qresets", d->qresets_sent);
	ctl_rec_str(o, "socket", d->cfg->sock_path);
	ctl_rec_str(o, "version", XTS_VERSION);
	for (unsigned i = 0; i < XPD_REF_N; i++)
		ctl_rec_u64(o, xpd_refusal_key(i), d->refused[i]);
	ctl_rec_end(o);
	for (uint32_t q = 0; q < d->cfg->queues; q++) {
		ctl_rec_begin(o, "queue");
		ctl_rec_u64(o, "id", q);
		ctl_rec_str(o, "state", qstate_name(d->q[q].st));
		if (d->q[q].st == XQ_LEASED)
			lease_fields(d->q[q].lease, o);
		ctl_rec_end(o);
	}
}

static bool wanted(const struct xpd_client *cl, const struct xpd_lease *ls)
{
	return !cl->pid_filter || ls->peer.pid == cl->pid_filter;
}

static bool answered(const struct xpd_lease *ls)
{
	/* the latest request, or a later one (serial order) */
	return (int32_t)(__atomic_load_n(&ls->shm->snap.done, __ATOMIC_ACQUIRE) - ls->snap_req) >=
	       0;
}

bool xpd_show_ready(const struct xpd *d, const struct xpd_client *cl)
{
	for (uint32_t q = 0; q < d->cfg->queues; q++) {
		const struct xpd_lease *ls = d->q[q].lease;

		if (d->q[q].st == XQ_LEASED && wanted(cl, ls) && !answered(ls))
			return false;
	}
	return true;
}

static void sock_rec(const struct xpd_lease *ls, const struct xts_lease_sock *e, struct ctl_buf *o)
{
	struct xts_addr a;
	char buf[64];

	ctl_rec_begin(o, "sock");
	ctl_rec_u64(o, "queue", ls->queue);
	ctl_rec_i64(o, "pid", ls->peer.pid);
	ctl_rec_u64(o, "id", e->id);
	ctl_rec_str(o, "state", xts_lease_state_name(e->state));
	memcpy(&a, &e->local, sizeof(a));
	ctl_rec_str(o, "local", xts_addr_fmt(&a, buf, sizeof(buf)));
	memcpy(&a, &e->peer, sizeof(a));
	ctl_rec_str(o, "remote", xts_addr_fmt(&a, buf, sizeof(buf)));
	ctl_rec_u64(o, "tx_bytes", e->tx_bytes);
	ctl_rec_u64(o, "rx_bytes", e->rx_bytes);
	ctl_rec_u64(o, "credit", e->snd_credit);
	ctl_rec_u64(o, "unread", e->rcv_unread);
	ctl_rec_end(o);
}

static void socks_body(struct xpd *d, const struct xpd_client *cl, struct ctl_buf *o)
{
	for (uint32_t q = 0; q < d->cfg->queues; q++) {
		const struct xpd_lease *ls = d->q[q].lease;
		const struct xts_lease_snap *sn;
		uint32_t n;

		if (d->q[q].st != XQ_LEASED || !wanted(cl, ls))
			continue;
		sn = &ls->shm->snap;
		n = ld32(&sn->n);
		if (n > ls->max_socks)
			n = ls->max_socks;
		ctl_rec_begin(o, "lease");
		ctl_rec_u64(o, "queue", q);
		lease_fields(ls, o);
		ctl_rec_str(o, "answered", answered(ls) ? "yes" : "no");
		ctl_rec_u64(o, "listed", n);
		ctl_rec_u64(o, "truncated", ld32(&sn->truncated) != 0);
		ctl_rec_end(o);
		for (uint32_t i = 0; i < n && !o->err; i++)
			sock_rec(ls, &ls->shm->socks[i], o);
	}
}

void xpd_cmd_show_done(struct xpd *d, struct xpd_client *cl)
{
	struct ctl_buf body = {0};

	socks_body(d, cl, &body);
	xpd_client_answer(d, cl, body.err, body.err ? "response too large" : NULL, &body);
	ctl_buf_free(&body);
}

int xpd_cmd_show(struct xpd *d, struct xpd_client *cl, int argc, char **argv, char *why,
		 size_t whylen)
{
	struct ctl_buf body = {0};
	unsigned long pid;

	if (!strcmp(argv[0], "status")) {
		xpd_status_recs(d, &body);
		xpd_client_answer(d, cl, body.err, NULL, &body);
		ctl_buf_free(&body);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "pid=", 4) ||
		    cfg_digits(argv[i] + 4, strlen(argv[i] + 4), 10, 0x7fffffff, &pid)) {
			snprintf(why, whylen, "socks: bad argument \"%s\"", argv[i]);
			return -EINVAL;
		}
		cl->pid_filter = (int32_t)pid;
	}
	for (uint32_t q = 0; q < d->cfg->queues; q++) {
		struct xpd_lease *ls = d->q[q].lease;

		if (d->q[q].st != XQ_LEASED || !wanted(cl, ls))
			continue;
		ls->snap_req = __atomic_add_fetch(&ls->shm->snap.req, 1, __ATOMIC_RELEASE);
	}
	if (xpd_show_ready(d, cl)) {
		xpd_cmd_show_done(d, cl);
		return 0;
	}
	cl->st = CL_SNAP;
	cl->deadline = xpd_now_ms() + SNAP_WAIT_MS;
	xpd_ev_mod(d, &cl->ev, 0); /* hang-ups only */
	return 0;
}

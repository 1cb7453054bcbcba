// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl_conns.c - `xtsctl conns`: every connection of every shard (or of
 * --shard N), filtered by --state, --addr and --port, with no cap.
 *
 * A shard's snapshot area holds one page (XTS_SHM_CONNS_MAX connections):
 * xtsctl asks xtsd for `conns SHARD FROM` one page at a time, FROM taken
 * from the previous page's `next`, and prints each page as it comes.
 * Memory stays one page on both sides however many connections there
 * are.  Like `ss`, the listing is not one instant: a connection opened
 * behind the page being read shows in no page, one closed after its page
 * was read still shows; each page is consistent on its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_fmt.h"
#include "xts_ctl.h"
#include "xts_shm.h"
#include "xtsctl.h"

struct conns_run {
	const struct cli *o;
	struct tbl t;
	unsigned long long shown;
	bool first_json;
};

/* "1.2.3.4:80" or "[::1]:80": does its host part equal want?  Its port? */
static bool addr_is(const char *a, const char *want)
{
	const char *colon = strrchr(a, ':');
	size_t n = colon ? (size_t)(colon - a) : strlen(a);

	if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
		a++;
		n -= 2;
	}
	return strlen(want) == n && !strncmp(a, want, n);
}

static long port_of(const char *a)
{
	const char *colon = strrchr(a, ':');

	return colon ? strtol(colon + 1, NULL, 10) : -1;
}

static bool keep(const struct cli *o, const struct ctl_rec *c)
{
	const char *l = rec_get(c, "local"), *p = rec_get(c, "peer");

	if (o->state && strcmp(rec_get(c, "state"), o->state))
		return false;
	if (o->addr && !addr_is(l, o->addr) && !addr_is(p, o->addr))
		return false;
	if (o->port >= 0 && port_of(l) != o->port && port_of(p) != o->port)
		return false;
	return true;
}

static void conn_out(struct conns_run *cr, const struct ctl_rec *c)
{
	char b[FMT_LEN];

	cr->shown++;
	if (cr->o->fmt == FMT_JSON) {
		printf("%s", cr->first_json ? "" : ", ");
		cr->first_json = false;
		ctl_rec_json(c);
		return;
	}
	tbl_cell(&cr->t, rec_get(c, "shard"));
	tbl_cell(&cr->t, rec_get(c, "id"));
	tbl_cell(&cr->t, rec_get(c, "host_id"));
	tbl_cell(&cr->t, rec_get(c, "state"));
	tbl_cell(&cr->t, rec_get(c, "local"));
	tbl_cell(&cr->t, rec_get(c, "peer"));
	tbl_cell(&cr->t, fmt_bytes(strtoull(rec_get(c, "buf_bytes"), NULL, 10), b));
	tbl_cell(&cr->t, fmt_bytes(strtoull(rec_get(c, "tx_credit"), NULL, 10), b));
}

struct shard_sum {
	char state[16];
	bool answered;
	unsigned long long total, listed, shown;
};

/* One shard, page by page: 0, or 1 when a request failed. */
static int one_shard(struct conns_run *cr, unsigned q, struct shard_sum *sum)
{
	unsigned long long from = 1, next;
	char qs[12], fs[24], *argv[3] = {"conns", qs, fs};
	unsigned long long shown0 = cr->shown;

	snprintf(qs, sizeof(qs), "%u", q);
	memset(sum, 0, sizeof(*sum));
	sum->answered = true;
	do {
		struct ctl_reply r;
		struct ctl_rec rec;

		next = 0;
		snprintf(fs, sizeof(fs), "%llu", from);
		if (xtsctl_call(cr->o, 3, argv, &r)) {
			ctl_reply_free(&r);
			return 1;
		}
		for (unsigned i = 0; ctl_reply_next(&r, &i, &rec);) {
			if (!strcmp(rec.type, "shard")) {
				snprintf(sum->state, sizeof(sum->state), "%s",
					 rec_get(&rec, "state"));
				sum->answered &= !strcmp(rec_get(&rec, "answered"), "yes");
				sum->total = strtoull(rec_get(&rec, "total"), NULL, 10);
				sum->listed += strtoull(rec_get(&rec, "listed"), NULL, 10);
				next = strtoull(rec_get(&rec, "next"), NULL, 10);
			} else if (!strcmp(rec.type, "conn") && keep(cr->o, &rec)) {
				conn_out(cr, &rec);
			}
		}
		ctl_reply_free(&r);
		if (cr->o->fmt == FMT_TEXT && cr->t.nrows)
			tbl_flush(&cr->t, stdout); /* a page at a time */
		/* slots only grow from page to page: this ends */
		if (next <= from)
			next = 0;
		from = next;
	} while (next);
	sum->shown = cr->shown - shown0;
	return 0;
}

/* How many shards xtsd runs (its status record): 0 on failure. */
static unsigned nshards(const struct cli *o)
{
	char *argv[1] = {"status"};
	struct ctl_reply r;
	struct ctl_rec rec;
	unsigned n = 0;

	if (!xtsctl_call(o, 1, argv, &r))
		for (unsigned i = 0; ctl_reply_next(&r, &i, &rec);)
			if (!strcmp(rec.type, "xtsd"))
				n = (unsigned)strtoul(rec_get(&rec, "queues"), NULL, 10);
	ctl_reply_free(&r);
	return n;
}

int run_conns(const struct cli *o)
{
	static const char *const cols[] = {">SHARD", ">ID",  ">HOST_ID",  "STATE",
					   "LOCAL",  "PEER", ">BUFFERED", ">CREDIT"};
	static struct shard_sum sum[XTS_SHM_MAX_SHARDS];
	struct conns_run cr = {.o = o, .first_json = true};
	unsigned lo = 0, hi, n = nshards(o);
	int rc = 0;

	if (!n)
		return 1;
	hi = n - 1;
	if (o->shard) {
		char *end;
		unsigned long v = strtoul(o->shard, &end, 10);

		if (end == o->shard || *end || v >= n) {
			fprintf(stderr, PROG ": conns: no shard \"%s\" (0..%u)\n", o->shard, n - 1);
			return 1;
		}
		lo = hi = (unsigned)v;
	}
	tbl_init(&cr.t, 8, cols);
	if (o->fmt == FMT_JSON)
		printf("{\"conns\": [");
	for (unsigned q = lo; q <= hi && !rc; q++)
		rc = one_shard(&cr, q, &sum[q]);
	if (o->fmt == FMT_JSON) {
		printf("], \"shards\": [");
		for (unsigned q = lo; q <= hi && !rc; q++)
			printf("%s{\"id\": %u, \"state\": \"%s\", \"answered\": \"%s\", \"total\": "
			       "%llu, "
			       "\"listed\": %llu, \"shown\": %llu}",
			       q > lo ? ", " : "", q, sum[q].state, sum[q].answered ? "yes" : "no",
			       sum[q].total, sum[q].listed, sum[q].shown);
		printf("]}\n");
	} else if (!rc) {
		for (unsigned q = lo; q <= hi; q++)
			printf("shard %u (%s): %llu connections%s, %llu shown\n", q, sum[q].state,
			       sum[q].total, sum[q].answered ? "" : ", did not answer",
			       sum[q].shown);
	}
	tbl_free(&cr.t);
	return rc;
}

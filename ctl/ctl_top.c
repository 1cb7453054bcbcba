// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl_top.c - `xtsctl top`: every --interval seconds (default 1), the
 * shards' rates per second from two looks at their counters: frames to
 * and from the host (pps), stream bytes to the network and to the host
 * (B/s), connections opened and credit stalls (/s), and the connections
 * open now.  --count N stops after N samples (0, the default: until
 * interrupted).  On a terminal each sample replaces the last; otherwise
 * (a pipe, a file) samples follow each other.  --json: one JSON object a
 * sample, a line each, with the exact rates.
 *
 * The interval is measured (CLOCK_MONOTONIC between the two answers), not
 * assumed; shards publish their counters 20 times a second, so a rate
 * may be off by up to 50 ms worth of traffic in one sample, never in sum.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_fmt.h"
#include "xts_shm.h"
#include "xtsctl.h"

/* the counters top turns into rates, and their unit */
static const struct {
	const char *name, *head, *unit; /* unit NULL: bytes/s */
} rate_of[] = {
    {"conns_opened", ">OPENED", "/s"},	     {"rx_frames", ">FROM HOST", "pps"},
    {"tx_frames", ">TO HOST", "pps"},	     {"data_to_net", ">DATA TO NET", NULL},
    {"data_to_host", ">DATA TO HOST", NULL}, {"credit_stalls", ">STALLS", "/s"},
};
#define NRATES (sizeof(rate_of) / sizeof(rate_of[0]))

struct sample {
	unsigned n; /* shards */
	char state[XTS_SHM_MAX_SHARDS][12];
	unsigned long long active[XTS_SHM_MAX_SHARDS];
	unsigned long long v[XTS_SHM_MAX_SHARDS][NRATES];
	double t;
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int take(const struct cli *o, struct sample *s)
{
	char *argv[1] = {"stats"};
	struct ctl_reply r;
	struct ctl_rec rec;
	int rc = xtsctl_call(o, 1, argv, &r);

	s->t = mono_s();
	s->n = 0;
	for (unsigned i = 0; !rc && ctl_reply_next(&r, &i, &rec);) {
		unsigned q = s->n;

		if (strcmp(rec.type, "shard") || q == XTS_SHM_MAX_SHARDS)
			continue;
		snprintf(s->state[q], sizeof(s->state[q]), "%s", rec_get(&rec, "state"));
		s->active[q] = strtoull(rec_get(&rec, "conns_active"), NULL, 10);
		for (unsigned k = 0; k < NRATES; k++)
			s->v[q][k] = strtoull(rec_get(&rec, rate_of[k].name), NULL, 10);
		s->n++;
	}
	ctl_reply_free(&r);
	return rc;
}

/* per second; a counter that went back (a restarted shard) counts from 0 */
static double rate(unsigned long long a, unsigned long long b, double dt)
{
	return (double)(b >= a ? b - a : b) / dt;
}

static void cells(struct tbl *t, const char *id, const char *state, unsigned long long active,
		  const double *r)
{
	char b[FMT_LEN];

	tbl_cell(t, id);
	tbl_cell(t, state);
	snprintf(b, sizeof(b), "%llu", active);
	tbl_cell(t, b);
	for (unsigned k = 0; k < NRATES; k++)
		tbl_cell(t, rate_of[k].unit ? fmt_rate(r[k], rate_of[k].unit, b)
					    : fmt_byte_rate(r[k], b));
}

static void stamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* the logs' format: ISO 8601, UTC, milliseconds */
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ts.tv_nsec / 1000000));
}

static void show(const struct cli *o, const struct sample *a, const struct sample *b, unsigned nr,
		 bool tty)
{
	const char *cols[3 + NRATES] = {">SHARD", "STATE", ">CONNS"};
	double dt = b->t - a->t, r[NRATES], tot[NRATES] = {0};
	unsigned long long act = 0;
	unsigned n = a->n < b->n ? a->n : b->n;
	char ts[40], id[12];
	struct tbl t;

	stamp(ts, sizeof(ts));
	if (o->fmt == FMT_JSON) {
		printf("{\"time\": \"%s\", \"sample\": %u, \"interval_s\": %.6f, \"shards\": [", ts,
		       nr, dt);
		for (unsigned q = 0; q < n; q++) {
			printf("%s{\"id\": %u, \"state\": \"%s\", \"conns_active\": %llu",
			       q ? ", " : "", q, b->state[q], b->active[q]);
			for (unsigned k = 0; k < NRATES; k++) {
				r[k] = rate(a->v[q][k], b->v[q][k], dt);
				tot[k] += r[k];
				printf(", \"%s_per_s\": %.3f", rate_of[k].name, r[k]);
			}
			act += b->active[q];
			printf("}");
		}
		printf("], \"total\": {\"conns_active\": %llu", act);
		for (unsigned k = 0; k < NRATES; k++)
			printf(", \"%s_per_s\": %.3f", rate_of[k].name, tot[k]);
		printf("}}\n");
		fflush(stdout);
		return;
	}
	for (unsigned k = 0; k < NRATES; k++)
		cols[3 + k] = rate_of[k].head;
	tbl_init(&t, 3 + NRATES, cols);
	for (unsigned q = 0; q < n; q++) {
		for (unsigned k = 0; k < NRATES; k++) {
			r[k] = rate(a->v[q][k], b->v[q][k], dt);
			tot[k] += r[k];
		}
		act += b->active[q];
		snprintf(id, sizeof(id), "%u", q);
		cells(&t, id, b->state[q], b->active[q], r);
	}
	cells(&t, "total", "", act, tot);
	if (tty)
		printf("\033[H\033[J"); /* as top(1): the new sample replaces the last */
	if (o->count)
		printf("xtsctl top: %s, rates over the last %.2f s (sample %u of %ld)\n", ts, dt,
		       nr, o->count);
	else
		printf("xtsctl top: %s, rates over the last %.2f s (sample %u)\n", ts, dt, nr);
	tbl_flush(&t, stdout);
	tbl_free(&t);
	if (!tty)
		printf("\n");
	fflush(stdout);
}

int run_top(const struct cli *o)
{
	static struct sample s[2];
	bool tty = o->fmt == FMT_TEXT && isatty(STDOUT_FILENO);
	unsigned cur = 0;

	if (take(o, &s[cur]))
		return 1;
	for (long i = 1; !o->count || i <= o->count; i++) {
		struct timespec d = {
		    .tv_sec = (time_t)o->interval_s,
		    .tv_nsec = (long)((o->interval_s - (double)(time_t)o->interval_s) * 1e9)};

		nanosleep(&d, NULL);
		if (take(o, &s[!cur]))
			return 1;
		show(o, &s[cur], &s[!cur], (unsigned)i, tty);
		cur = !cur;
	}
	return 0;
}

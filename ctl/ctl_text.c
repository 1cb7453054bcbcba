// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl_text.c - xtsctl's answers as text for people: tables with a header
 * row and aligned columns, values with units (ctl_fmt.h).  Scripts use
 * --json, or --shard N for one shard's "key value" lines.
 */
#define _GNU_SOURCE /* pidfd_open via syscall */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ctl_fmt.h"
#include "xts_shm.h"
#include "xtsctl.h"

static unsigned long long num(const struct ctl_rec *rec, const char *k)
{
	return strtoull(rec_get(rec, k), NULL, 10);
}

void text_generic(struct ctl_reply *r)
{
	struct ctl_rec rec;

	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		printf("%s", rec.type);
		for (unsigned k = 0; k < rec.n; k++)
			printf(" %s=%s", rec.key[k], rec.val[k]);
		printf("\n");
	}
}

/* SHARD PID STATE CPU NODE UPTIME RESTARTS CONNECTIONS EPOCH: one word a
 * cell (lib.sh's shard_get reads columns by header name). */
void text_status(struct ctl_reply *r)
{
	static const char *const cols[] = {">SHARD",  ">PID",	   "STATE",	   ">CPU", ">NODE",
					   ">UPTIME", ">RESTARTS", ">CONNECTIONS", "EPOCH"};
	struct tbl t;
	struct ctl_rec rec;
	char b[FMT_LEN];

	tbl_init(&t, 9, cols);
	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		if (!strcmp(rec.type, "xtsd")) {
			printf("xtsd %s pid %s, %s, config generation %s, %s queues on %s\n",
			       rec_get(&rec, "version"), rec_get(&rec, "pid"),
			       rec_get(&rec, "config"), rec_get(&rec, "generation"),
			       rec_get(&rec, "queues"), rec_get(&rec, "interface"));
			continue;
		}
		if (strcmp(rec.type, "shard"))
			continue;
		tbl_cell(&t, rec_get(&rec, "id"));
		tbl_cell(&t, num(&rec, "pid") ? rec_get(&rec, "pid") : "-");
		tbl_cell(&t, rec_get(&rec, "state"));
		tbl_cell(&t, fmt_place(rec_get(&rec, "cpu")));
		tbl_cell(&t, fmt_place(rec_get(&rec, "node")));
		tbl_cell(&t, num(&rec, "pid") ? fmt_dur(num(&rec, "uptime_s"), b) : "-");
		tbl_cell(&t, rec_get(&rec, "restarts"));
		tbl_cell(&t, rec_get(&rec, "connections"));
		tbl_cell(&t, fmt_epoch(num(&rec, "epoch"), b));
	}
	if (t.nrows)
		tbl_flush(&t, stdout);
	tbl_free(&t);
}

bool counter_is_bytes(const char *name)
{
	size_t n = strlen(name);

	return !strncmp(name, "data_to_", 8) || (n >= 5 && !strcmp(name + n - 5, "bytes"));
}

/* The TLS profiles' counters (stats' "tls" records, parsed by
 * text_stats: a record is parsed in place, once), one row a profile and
 * shard, after the shards' table; nothing when there is none. */
static void text_tls(const struct ctl_rec *tls, unsigned ntls)
{
	static const char *const names[] = {
#define TLS_NAME(n, kind, help) #n,
	    XTS_SHM_TLS_COUNTERS(TLS_NAME)
#undef TLS_NAME
	};
	static const char *const cols[] = {"TLS PROFILE", ">SHARD",   ">HS_OK",	    ">HS_FAILED",
					   ">HS_VERIFY",  ">RESUMED", ">REF_LIMIT", ">REF_ACL",
					   ">TO HOST",	  ">TO NET"};
	struct tbl t;

	_Static_assert(sizeof(names) / sizeof(names[0]) + 2 == sizeof(cols) / sizeof(cols[0]),
		       "a column per TLS counter");
	tbl_init(&t, sizeof(cols) / sizeof(cols[0]), cols);
	for (unsigned i = 0; i < ntls; i++) {
		const struct ctl_rec *rec = &tls[i];
		char b[FMT_LEN];

		tbl_cell(&t, rec_get(rec, "profile"));
		tbl_cell(&t, rec_get(rec, "shard"));
		for (unsigned k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			tbl_cell(&t, !strncmp(names[k], "bytes_", 6)
					 ? fmt_bytes(num(rec, names[k]), b)
					 : rec_get(rec, names[k]));
	}
	if (t.nrows) {
		printf("\n");
		tbl_flush(&t, stdout);
	}
	tbl_free(&t);
}

/* One row a counter, one column a shard and the total: bytes in IEC
 * units, the rest exact; past STATS_COLS shards, several tables one under
 * the other (tbl_wrap), the total in the last. */
#define STATS_COLS 14

void text_stats(struct ctl_reply *r)
{
	static const char *const names[] = {"state",
#define XTS_SHM_NAME(n, kind, src, help) #n,
					    XTS_SHM_COUNTERS(XTS_SHM_NAME)
#undef XTS_SHM_NAME
	};
	const unsigned nrows = sizeof(names) / sizeof(names[0]);
	unsigned ncol = 0, total = 0, ntls = 0, i;
	bool oom;
	struct ctl_rec *rec = calloc(r->nlines + 1, sizeof(*rec)), x;
	struct ctl_rec *tls = calloc(r->nlines + 1, sizeof(*tls));
	char **heads = calloc(r->nlines + 1, sizeof(*heads)), **cells = NULL;

	/* records are parsed in place: each shard's line once, kept; the
	 * total is the last column */
	for (i = 0; rec && heads && tls && ctl_reply_next(r, &i, &x);) {
		if (!strcmp(x.type, "shard"))
			rec[ncol++] = x;
		else if (!strcmp(x.type, "tls"))
			tls[ntls++] = x;
		else if (!strcmp(x.type, "total") && !total) {
			rec[r->nlines] = x;
			total = 1;
		}
	}
	if (total)
		rec[ncol++] = rec[r->nlines];
	if (rec && heads && tls)
		cells = calloc((size_t)nrows * ncol + 1, sizeof(*cells));
	oom = !cells;
	for (unsigned c = 0; cells && c < ncol; c++) {
		bool tot = !strcmp(rec[c].type, "total");
		char h[32];

		snprintf(h, sizeof(h), tot ? ">TOTAL" : ">SHARD %s", rec_get(&rec[c], "id"));
		oom |= !(heads[c] = strdup(h));
		cells[c] = strdup(tot ? "" : rec_get(&rec[c], "state"));
		for (unsigned k = 1; k < nrows; k++) {
			char b[FMT_LEN];

			cells[(size_t)k * ncol + c] =
			    strdup(counter_is_bytes(names[k]) ? fmt_bytes(num(&rec[c], names[k]), b)
							      : rec_get(&rec[c], names[k]));
		}
	}
	if (oom || tbl_wrap(stdout, "COUNTER", (const char *const *)heads, ncol, names, nrows,
			    (const char *const *)cells, STATS_COLS))
		fprintf(stderr, PROG ": stats: out of memory\n");
	for (size_t k = 0; cells && k < (size_t)nrows * ncol; k++)
		free(cells[k]);
	for (unsigned c = 0; heads && c < ncol; c++)
		free(heads[c]);
	free(cells);
	free(heads);
	free(rec);
	text_tls(tls, ntls);
	free(tls);
}

void text_listeners(struct ctl_reply *r)
{
	static const char *const cols[] = {">QUEUE",	"LOCAL", ">HOST_ID", ">BACKLOG", "FLAGS",
					   ">ACCEPTED", ">OPEN", ">DROPPED", ">TO HOST", ">TO NET"};
	struct ctl_rec rec;
	struct tbl t;

	tbl_init(&t, sizeof(cols) / sizeof(cols[0]), cols);
	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		if (!strcmp(rec.type, "listener")) {
			char b[FMT_LEN];

			tbl_cell(&t, rec_get(&rec, "queue"));
			tbl_cell(&t, rec_get(&rec, "local"));
			tbl_cell(&t, rec_get(&rec, "host_id"));
			tbl_cell(&t, rec_get(&rec, "backlog"));
			tbl_cell(&t, rec_get(&rec, "flags"));
			tbl_cell(&t, rec_get(&rec, "accepted"));
			tbl_cell(&t, rec_get(&rec, "open"));
			snprintf(b, sizeof(b), "%llu",
				 num(&rec, "drop_limit") + num(&rec, "drop_handshake") +
				     num(&rec, "drop_refused") + num(&rec, "drop_host_gone"));
			tbl_cell(&t, b);
			tbl_cell(&t, fmt_bytes(num(&rec, "bytes_to_host"), b));
			tbl_cell(&t, fmt_bytes(num(&rec, "bytes_to_net"), b));
		} else if (!strcmp(rec.type, "total")) {
			if (t.nrows)
				tbl_flush(&t, stdout);
			printf("%s listeners, %s slots, %s repairs of a dead holder's update\n",
			       rec_get(&rec, "listeners"), rec_get(&rec, "size"),
			       rec_get(&rec, "repairs"));
		}
	}
	tbl_free(&t);
}

/* What changed: OPTION OLD NEW APPLIES, under the generation now in force. */
void text_reload(struct ctl_reply *r)
{
	static const char *const cols[] = {"OPTION", "OLD", "NEW", "APPLIES TO"};
	struct ctl_rec rec;
	struct tbl t;

	tbl_init(&t, 4, cols);
	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		if (!strcmp(rec.type, "change")) {
			tbl_cell(&t, rec_get(&rec, "option"));
			tbl_cell(&t, rec_get(&rec, "old"));
			tbl_cell(&t, rec_get(&rec, "new"));
			tbl_cell(&t, rec_get(&rec, "applies"));
		} else if (!strcmp(rec.type, "config")) {
			printf("configuration generation %s in force (%s): ",
			       rec_get(&rec, "generation"), rec_get(&rec, "file"));
		}
	}
	if (t.nrows) {
		printf("%u change%s\n", t.nrows, t.nrows == 1 ? "" : "s");
		tbl_flush(&t, stdout);
	} else {
		printf("no option changed\n");
	}
	tbl_free(&t);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Until xtsd's process is gone: a pidfd (no pid reuse race once open)
 * polled for its exit.  0 gone, 1 still there at the timeout. */
static int wait_gone(int pid, double timeout_s)
{
	double t0 = now_s(), left;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (fd < 0) {
		if (errno == ESRCH) {
			printf("xtsd (pid %d) is gone (%.1f s)\n", pid, 0.0);
			return 0;
		}
		fprintf(stderr, PROG ": stop --wait: pidfd_open(%d): %s\n", pid, strerror(errno));
		return 1;
	}
	while ((left = timeout_s - (now_s() - t0)) > 0) {
		int n = poll(&p, 1, (int)(left * 1000) + 1);

		if (n > 0)
			break;
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, PROG ": stop --wait: poll: %s\n", strerror(errno));
			close(fd);
			return 1;
		}
	}
	close(fd);
	if (!p.revents) {
		fprintf(stderr, PROG ": stop --wait: xtsd (pid %d) still runs after %.1f s\n", pid,
			timeout_s);
		return 1;
	}
	printf("xtsd (pid %d) is gone (%.1f s)\n", pid, now_s() - t0);
	return 0;
}

int text_stop(const struct cli *o, struct ctl_reply *r)
{
	struct ctl_rec rec;
	unsigned long long drain_ms = 0;

	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);)
		if (!strcmp(rec.type, "xtsd")) {
			drain_ms = num(&rec, "drain_ms");
			if (o->fmt == FMT_TEXT)
				printf("xtsd (pid %s) stops: it drains for at most %s ms\n",
				       rec_get(&rec, "pid"), rec_get(&rec, "drain_ms"));
		}
	if (!o->wait)
		return 0;
	if (r->peer_pid <= 0) {
		fprintf(stderr, PROG ": stop --wait: cannot tell xtsd's pid here\n");
		return 1;
	}
	/* the drain, the shards' stop (SIGKILL after 5 s), a margin */
	return wait_gone(r->peer_pid,
			 o->timeout_s >= 0 ? o->timeout_s : (double)drain_ms / 1000 + 10);
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl_prom.c - xtsd's `stats` records in the Prometheus text exposition
 * format (0.0.4): the one formatter behind `xtsctl stats --prometheus`
 * and xtsd's GET /metrics (ctl_prom.h).  The counters come from the one
 * list, XTS_SHM_COUNTERS (include/xts_shm.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_prom.h"
#include "xts_ctl.h"
#include "xts_shm.h"

static const struct {
	const char *name, *help;
	bool gauge;
} counters[] = {
#define XTS_SHM_DESC(n, kind, src, h) {#n, h, XTS_SHM_KIND(kind) == XTS_SHM_KIND_GAUGE},
    XTS_SHM_COUNTERS(XTS_SHM_DESC)
#undef XTS_SHM_DESC
};

/* The records, each parsed on its own copy. */
struct recs {
	unsigned n;
	char **copy;
	struct ctl_rec *rec;
};

static int recs_parse(struct recs *rs, char *const *line, unsigned n)
{
	rs->n = 0;
	rs->copy = calloc(n ? n : 1, sizeof(*rs->copy));
	rs->rec = calloc(n ? n : 1, sizeof(*rs->rec));
	if (!rs->copy || !rs->rec)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		char *c = strdup(line[i]);

		if (!c)
			return -1;
		if (ctl_rec_parse(c, &rs->rec[rs->n])) {
			free(c);
			continue;
		}
		rs->copy[rs->n++] = c;
	}
	return 0;
}

static void recs_free(struct recs *rs)
{
	for (unsigned i = 0; i < rs->n; i++)
		free(rs->copy[i]);
	free(rs->copy);
	free(rs->rec);
}

static const char *get(const struct ctl_rec *rec, const char *k)
{
	const char *v = ctl_rec_get(rec, k);

	return v ? v : "-";
}

void ctl_prom_write(FILE *f, char *const *line, unsigned n)
{
	const char *version = "unknown";
	struct recs rs;

	if (recs_parse(&rs, line, n)) {
		recs_free(&rs);
		fprintf(f, "# out of memory\n");
		return;
	}
	for (unsigned i = 0; i < rs.n; i++)
		if (!strcmp(rs.rec[i].type, "xtsd") && ctl_rec_get(&rs.rec[i], "version"))
			version = ctl_rec_get(&rs.rec[i], "version");
	/* the running xtsd's version, as Prometheus exporters do it */
	fprintf(f,
		"# HELP xts_build_info the version of the xtsd that answered\n"
		"# TYPE xts_build_info gauge\n"
		"xts_build_info{version=\"%s\"} 1\n",
		version);
	for (unsigned c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		bool g = counters[c].gauge;

		fprintf(f, "# HELP xts_shard_%s%s %s\n", counters[c].name, g ? "" : "_total",
			counters[c].help);
		fprintf(f, "# TYPE xts_shard_%s%s %s\n", counters[c].name, g ? "" : "_total",
			g ? "gauge" : "counter");
		for (unsigned i = 0; i < rs.n; i++) {
			const char *v = ctl_rec_get(&rs.rec[i], counters[c].name);

			if (strcmp(rs.rec[i].type, "shard") || !v)
				continue;
			fprintf(f, "xts_shard_%s%s{shard=\"%s\"} %s\n", counters[c].name,
				g ? "" : "_total", get(&rs.rec[i], "id"), v);
		}
	}
	fprintf(f, "# HELP xts_shard_up 1 when the shard runs (or drains), else 0\n"
		   "# TYPE xts_shard_up gauge\n");
	for (unsigned i = 0; i < rs.n; i++) {
		const char *st = get(&rs.rec[i], "state");

		if (strcmp(rs.rec[i].type, "shard"))
			continue;
		fprintf(f, "xts_shard_up{shard=\"%s\"} %d\n", get(&rs.rec[i], "id"),
			!strcmp(st, "running") || !strcmp(st, "draining"));
	}
	recs_free(&rs);
}

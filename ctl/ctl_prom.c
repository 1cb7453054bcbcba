// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl_prom.c - xtsd's `stats` records in the Prometheus text exposition
 * format (0.0.4): the one formatter behind `xtsctl stats --prometheus`
 * and xtsd's GET /metrics (ctl_prom.h).  The shard counters come from the
 * one list, XTS_SHM_COUNTERS (include/xts_shm.h); the rest from the
 * shard records' state fields and xtsd's record.  docs/operations.md
 * ("Metrics over HTTP") lists every series.
 *
 * Names carry their base unit as Prometheus asks (_bytes, _seconds) and
 * counters end in _total; a counter of the list whose name says no unit
 * but counts bytes gets it here (units[] below).
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

/* counters of the list that count bytes without saying so in their name */
static const char *const bytes_unnamed[] = {"data_to_net", "data_to_host", NULL};

static bool listed(const char *const *names, const char *v)
{
	for (unsigned i = 0; names[i]; i++)
		if (!strcmp(names[i], v))
			return true;
	return false;
}

/* the shard states, as the stats records name them (sup_cmd.c) */
static const char *const states[] = {"stopped", "starting", "running", "draining", NULL};

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

const char *ctl_prom_num(const struct ctl_rec *r, const char *k)
{
	const char *v = ctl_rec_get(r, k);

	return v && ctl_is_number(v) ? v : NULL;
}

void ctl_prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format wants it: \\, \" and \n escaped. */
void ctl_prom_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

void ctl_prom_build_info(FILE *f, const char *name, const char *help, const struct ctl_rec *r)
{
	const char *v = r ? ctl_rec_get(r, "version") : NULL;

	ctl_prom_family(f, name, "gauge", help);
	fprintf(f, "%s{version=\"", name);
	ctl_prom_label(f, v ? v : "unknown");
	fputs("\"} 1\n", f);
}

void ctl_prom_samples(FILE *f, const struct ctl_rec *rec, unsigned n, const char *type,
		      const char *label, const char *name, const char *key)
{
	for (unsigned i = 0; i < n; i++) {
		const char *id = ctl_prom_num(&rec[i], "id"), *v = ctl_prom_num(&rec[i], key);

		if (!strcmp(rec[i].type, type) && id && v)
			fprintf(f, "%s{%s=\"%s\"} %s\n", name, label, id, v);
	}
}

/* One sample per shard record that has @key: NAME{shard="ID"} VALUE. */
static void per_shard(FILE *f, const struct recs *rs, const char *name, const char *key)
{
	ctl_prom_samples(f, rs->rec, rs->n, "shard", "shard", name, key);
}

/* Connections by state: one family with a state label, from the
 * conns_in_<state> gauges of the list (which are not repeated alone). */
#define CONNS_IN "conns_in_"

static void conns_by_state(FILE *f, const struct recs *rs)
{
	ctl_prom_family(f, "xts_shard_connections", "gauge",
			"connections now, by state (docs/operations.md: what each state means)");
	for (unsigned st = 1; st < XTS_CONN_NSTATES; st++) { /* 0 is free: not counted */
		char key[64];

		snprintf(key, sizeof(key), CONNS_IN "%s", xts_conn_state_name(st));
		for (unsigned i = 0; i < rs->n; i++) {
			const char *id = ctl_prom_num(&rs->rec[i], "id"),
				   *v = ctl_prom_num(&rs->rec[i], key);

			if (!strcmp(rs->rec[i].type, "shard") && id && v)
				fprintf(f, "xts_shard_connections{shard=\"%s\",state=\"%s\"} %s\n",
					id, xts_conn_state_name(st), v);
		}
	}
}

/* The TLS profiles' counters (the "tls" records, one per profile and
 * shard; XTS_SHM_TLS_COUNTERS): xts_tls_<counter>_total{shard,profile},
 * bytes_* as xts_tls_<rest>_bytes_total; and the handshakes by result
 * (ok, failed_verify, failed_other: they add up to every handshake). */
static const struct {
	const char *name, *help;
} tls_counters[] = {
#define XTS_TLS_DESC(n, kind, h) {#n, h},
    XTS_SHM_TLS_COUNTERS(XTS_TLS_DESC)
#undef XTS_TLS_DESC
};

static void tls_sample(FILE *f, const char *name, const struct ctl_rec *r, const char *extra,
		       unsigned long long v)
{
	const char *prof = ctl_rec_get(r, "profile");

	fprintf(f, "%s{shard=\"%s\",profile=\"", name, ctl_prom_num(r, "shard"));
	ctl_prom_label(f, prof ? prof : "");
	fprintf(f, "\"%s} %llu\n", extra, v);
}

static bool tls_rec(const struct ctl_rec *r)
{
	return !strcmp(r->type, "tls") && ctl_prom_num(r, "shard") && ctl_rec_get(r, "profile");
}

static void tls_profiles(FILE *f, const struct recs *rs)
{
	for (unsigned c = 0; c < sizeof(tls_counters) / sizeof(tls_counters[0]); c++) {
		const char *n = tls_counters[c].name;
		char name[96];

		if (!strncmp(n, "bytes_", 6))
			snprintf(name, sizeof(name), "xts_tls_%s_bytes_total", n + 6);
		else
			snprintf(name, sizeof(name), "xts_tls_%s_total", n);
		ctl_prom_family(f, name, "counter", tls_counters[c].help);
		for (unsigned i = 0; i < rs->n; i++) {
			const char *v = ctl_prom_num(&rs->rec[i], n);

			if (tls_rec(&rs->rec[i]) && v)
				tls_sample(f, name, &rs->rec[i], "", strtoull(v, NULL, 10));
		}
	}
	ctl_prom_family(f, "xts_tls_handshakes_total", "counter",
			"TLS handshakes by result: ok, failed_verify (the peer's certificate), "
			"failed_other (protocol, timeout, the peer went away)");
	for (unsigned i = 0; i < rs->n; i++) {
		const struct ctl_rec *r = &rs->rec[i];
		const char *ok = ctl_prom_num(r, "hs_ok"), *bad = ctl_prom_num(r, "hs_failed"),
			   *ver = ctl_prom_num(r, "hs_verify");
		unsigned long long b, v;

		if (!tls_rec(r) || !ok || !bad || !ver)
			continue;
		b = strtoull(bad, NULL, 10);
		v = strtoull(ver, NULL, 10);
		tls_sample(f, "xts_tls_handshakes_total", r, ",result=\"ok\"",
			   strtoull(ok, NULL, 10));
		tls_sample(f, "xts_tls_handshakes_total", r, ",result=\"failed_verify\"", v);
		tls_sample(f, "xts_tls_handshakes_total", r, ",result=\"failed_other\"",
			   b > v ? b - v : 0);
	}
}

/* The listening addresses' counters (the "listener" records, one per
 * address and shard; XTS_SHM_LSN_COUNTERS), labelled shard and
 * listener="ADDR:PORT": xts_listener_connections_<counter>_total, the
 * drop_* ones as one family with a reason label, open as the gauge
 * xts_listener_connections, bytes_* as xts_listener_<rest>_bytes_total. */
static const struct {
	const char *name, *help;
	bool gauge;
} lsn_counters[] = {
#define XTS_LSN_DESC(n, kind, h) {#n, h, XTS_SHM_KIND(kind) == XTS_SHM_KIND_GAUGE},
    XTS_SHM_LSN_COUNTERS(XTS_LSN_DESC)
#undef XTS_LSN_DESC
};
#define LSN_DROP "drop_"

static void lsn_samples(FILE *f, const struct recs *rs, const char *name, const char *key,
			const char *reason)
{
	for (unsigned i = 0; i < rs->n; i++) {
		const struct ctl_rec *r = &rs->rec[i];
		const char *q = ctl_prom_num(r, "shard"), *a = ctl_rec_get(r, "listener"),
			   *v = ctl_prom_num(r, key);

		if (strcmp(r->type, "listener") || !q || !a || !v)
			continue;
		fprintf(f, "%s{shard=\"%s\",listener=\"", name, q);
		ctl_prom_label(f, a);
		fputc('"', f);
		if (reason)
			fprintf(f, ",reason=\"%s\"", reason);
		fprintf(f, "} %s\n", v);
	}
}

static void listeners(FILE *f, const struct recs *rs)
{
	bool drops = false;

	for (unsigned c = 0; c < sizeof(lsn_counters) / sizeof(lsn_counters[0]); c++) {
		const char *n = lsn_counters[c].name;
		char name[96];

		if (!strncmp(n, LSN_DROP, strlen(LSN_DROP))) {
			if (!drops)
				ctl_prom_family(
				    f, "xts_listener_connections_dropped_total", "counter",
				    "connections accepted and then dropped or refused, by "
				    "reason: limit (the shard's connection or TLS limits), "
				    "handshake (TLS), refused (by the host: its backlog full "
				    "or its listener closing), host_gone (the listener or the "
				    "host's session ended first)");
			drops = true;
			lsn_samples(f, rs, "xts_listener_connections_dropped_total", n,
				    n + strlen(LSN_DROP));
			continue;
		}
		if (!strcmp(n, "open"))
			snprintf(name, sizeof(name), "xts_listener_connections");
		else if (!strncmp(n, "bytes_", 6))
			snprintf(name, sizeof(name), "xts_listener_%s_bytes_total", n + 6);
		else
			snprintf(name, sizeof(name), "xts_listener_connections_%s%s", n,
				 lsn_counters[c].gauge ? "" : "_total");
		ctl_prom_family(f, name, lsn_counters[c].gauge ? "gauge" : "counter",
				lsn_counters[c].help);
		lsn_samples(f, rs, name, n, NULL);
	}
}

static void shard_counters(FILE *f, const struct recs *rs)
{
	for (unsigned c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		bool bytes = listed(bytes_unnamed, counters[c].name);
		char name[96];

		if (!strncmp(counters[c].name, CONNS_IN, strlen(CONNS_IN)))
			continue; /* conns_by_state */

		snprintf(name, sizeof(name), "xts_shard_%s%s%s", counters[c].name,
			 bytes ? "_bytes" : "", counters[c].gauge ? "" : "_total");
		ctl_prom_family(f, name, counters[c].gauge ? "gauge" : "counter", counters[c].help);
		per_shard(f, rs, name, counters[c].name);
	}
}

static void shard_states(FILE *f, const struct recs *rs)
{
	ctl_prom_family(f, "xts_shard_up", "gauge", "1 when the shard runs (or drains), else 0");
	for (unsigned i = 0; i < rs->n; i++) {
		const char *id = ctl_prom_num(&rs->rec[i], "id"),
			   *st = ctl_rec_get(&rs->rec[i], "state");

		if (!strcmp(rs->rec[i].type, "shard") && id && st)
			fprintf(f, "xts_shard_up{shard=\"%s\"} %d\n", id,
				!strcmp(st, "running") || !strcmp(st, "draining"));
	}
	ctl_prom_family(f, "xts_shard_state", "gauge",
			"1 for the state the shard is in (stopped, starting, running, draining)");
	for (unsigned i = 0; i < rs->n; i++) {
		const char *id = ctl_prom_num(&rs->rec[i], "id"),
			   *st = ctl_rec_get(&rs->rec[i], "state");

		if (strcmp(rs->rec[i].type, "shard") || !id || !st)
			continue;
		for (unsigned s = 0; states[s]; s++)
			fprintf(f, "xts_shard_state{shard=\"%s\",state=\"%s\"} %d\n", id, states[s],
				!strcmp(st, states[s]));
	}
	ctl_prom_family(f, "xts_shard_restarts_total", "counter",
			"times xtsd restarted the shard (it died, or hung)");
	per_shard(f, rs, "xts_shard_restarts_total", "restarts");
	ctl_prom_family(f, "xts_shard_drain_requested", "gauge",
			"1 while a drain is asked of the shard (xtsctl drain, stop)");
	per_shard(f, rs, "xts_shard_drain_requested", "drain");
	ctl_prom_family(f, "xts_shard_config_generation", "gauge",
			"the configuration generation the shard applies");
	per_shard(f, rs, "xts_shard_config_generation", "cfg_gen");
	ctl_prom_family(
	    f, "xts_shard_start_time_seconds", "gauge",
	    "when the shard was last started, seconds since the epoch (0: not running)");
	for (unsigned i = 0; i < rs->n; i++) {
		const char *id = ctl_prom_num(&rs->rec[i], "id"),
			   *v = ctl_prom_num(&rs->rec[i], "started_ms");

		if (!strcmp(rs->rec[i].type, "shard") && id && v) {
			unsigned long long ms = strtoull(v, NULL, 10);

			fprintf(f, "xts_shard_start_time_seconds{shard=\"%s\"} %llu.%03llu\n", id,
				ms / 1000, ms % 1000);
		}
	}
}

static void xtsd_series(FILE *f, const struct ctl_rec *x)
{
	const char *v, *last = x ? ctl_rec_get(x, "last_reload") : NULL;
	unsigned long long ms;

	ctl_prom_build_info(f, "xts_build_info", "the version of the xtsd that answered", x);
	if (!x)
		return;
	ctl_prom_family(f, "xts_config_generation", "gauge",
			"the configuration generation in force: 1 at start, +1 per good reload");
	if ((v = ctl_prom_num(x, "generation")))
		fprintf(f, "xts_config_generation %s\n", v);
	ctl_prom_family(f, "xts_config_reloads_total", "counter",
			"reloads (xtsctl reload, SIGHUP) by result; a failed one changed nothing");
	if ((v = ctl_prom_num(x, "reloads")))
		fprintf(f, "xts_config_reloads_total{result=\"ok\"} %s\n", v);
	if ((v = ctl_prom_num(x, "reloads_failed")))
		fprintf(f, "xts_config_reloads_total{result=\"failed\"} %s\n", v);
	ctl_prom_family(f, "xts_config_last_reload_successful", "gauge",
			"0 when the last reload failed (the old configuration stays), else 1");
	if (last)
		fprintf(f, "xts_config_last_reload_successful %d\n", strcmp(last, "failed") != 0);
	ctl_prom_family(f, "xts_config_last_reload_timestamp_seconds", "gauge",
			"when the last reload was tried, seconds since the epoch (0: none yet)");
	if ((v = ctl_prom_num(x, "last_reload_ms"))) {
		ms = strtoull(v, NULL, 10);
		fprintf(f, "xts_config_last_reload_timestamp_seconds %llu.%03llu\n", ms / 1000,
			ms % 1000);
	}
}

void ctl_prom_write(FILE *f, char *const *line, unsigned n)
{
	const struct ctl_rec *x = NULL;
	struct recs rs;

	if (recs_parse(&rs, line, n)) {
		recs_free(&rs);
		fprintf(f, "# out of memory\n");
		return;
	}
	for (unsigned i = 0; i < rs.n; i++)
		if (!strcmp(rs.rec[i].type, "xtsd"))
			x = &rs.rec[i];
	xtsd_series(f, x);
	shard_states(f, &rs);
	shard_counters(f, &rs);
	conns_by_state(f, &rs);
	tls_profiles(f, &rs);
	listeners(f, &rs);
	recs_free(&rs);
}

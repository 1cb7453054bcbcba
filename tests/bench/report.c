// SPDX-License-Identifier: BSD-2-Clause
/*
 * report.c - `xts-bench report RESULTS [--json FILE] [--svg FILE]`: the
 * "name value" lines of one run -> a table (stdout) of every figure per
 * path (xts: libxport's API; xtsrun: the kernel-API client under xts-run;
 * kernel; haproxy) with the ratios XTS/kernel, XTS/HAProxy, XTS/ceiling
 * and xtsrun/XTS; the JSON
 * (every figure and the targets array); and an SVG with the latency CDF
 * and the throughput against connections.  Only measured values appear:
 * a figure that is missing stays "-" (null in the JSON) and a target
 * that needs it is not met.  Exit 0, or 3 when a target is not met and
 * --strict was given.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* Every "name value" line of the results: a whole run has over 1,300
 * (a fixed 1,024 dropped the last ones silently: the TLS handshakes of
 * HAProxy and the instruction counts read as missing). */
static struct kv {
	char key[96];
	char val[512];
} * kv;
static int nkv, kv_cap;

static const char *get_s(const char *key)
{
	for (int i = nkv - 1; i >= 0; i--)
		if (!strcmp(kv[i].key, key))
			return kv[i].val;
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of every value recorded for @key (--repeat runs it N times). */
static double get_key(const char *key)
{
	double v[64];
	int n = 0;

	for (int i = 0; i < nkv && n < 64; i++) {
		char *end;

		if (strcmp(kv[i].key, key))
			continue;
		v[n] = strtod(kv[i].val, &end);
		if (end != kv[i].val)
			n++;
	}
	if (!n)
		return NAN;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double get(const char *path, const char *fig)
{
	char k[128];

	snprintf(k, sizeof(k), "%s.%s", path, fig);
	return get_key(k);
}

static void load(const char *file)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(file, "r");

	if (!f)
		bench_die(file, errno);
	/* getline: a latency CDF's line is longer than any fixed buffer, and
	 * a line cut in two would read as two */
	while (getline(&line, &cap, f) >= 0) {
		char *sp = strchr(line, ' ');

		if (!sp || line[0] == '#')
			continue;
		*sp = 0;
		sp[1 + strcspn(sp + 1, "\n")] = 0;
		if (strlen(line) >= sizeof(kv->key) || strlen(sp + 1) >= sizeof(kv->val))
			continue; /* the CDFs: the SVG's, not the table's */
		if (nkv == kv_cap) {
			int ncap = kv_cap ? 2 * kv_cap : 1024;
			struct kv *n = realloc(kv, (size_t)ncap * sizeof(*kv));

			if (!n)
				bench_die("results", ENOMEM);
			kv = n;
			kv_cap = ncap;
		}
		strcpy(kv[nkv].key, line);
		strcpy(kv[nkv].val, sp + 1);
		nkv++;
	}
	free(line);
	fclose(f);
}

static const char *const paths[] = {"xts", "kernel", "haproxy"};

/* rows of the table: figure, label, the ceiling's figure (if any) */
static const struct row {
	const char *fig, *label, *ceil;
} rows[] = {
    {"pp64.ops_s", "ping-pong 64 B, round trips/s", "raw.pp64.ops_s"},
    {"pp64.p50_us", "ping-pong 64 B, p50 us", "raw.pp64.p50_us"},
    {"pp64.p99_us", "ping-pong 64 B, p99 us", "raw.pp64.p99_us"},
    {"pp64.p999_us", "ping-pong 64 B, p99.9 us", "raw.pp64.p999_us"},
    {"pp1k.ops_s", "ping-pong 1 KiB, round trips/s", "raw.pp1k.ops_s"},
    {"pp1k.p50_us", "ping-pong 1 KiB, p50 us", "raw.pp1k.p50_us"},
    {"pp1k.p99_us", "ping-pong 1 KiB, p99 us", NULL},
    {"pp1k.p999_us", "ping-pong 1 KiB, p99.9 us", NULL},
    {"pp16k.ops_s", "ping-pong 16 KiB, round trips/s", NULL},
    {"pp16k.p50_us", "ping-pong 16 KiB, p50 us", NULL},
    {"pp16k.p99_us", "ping-pong 16 KiB, p99 us", NULL},
    {"pp16k.p999_us", "ping-pong 16 KiB, p99.9 us", NULL},
    {"rr64.ops_s", "64 B req/resp, 64 conns, req/s", NULL},
    {"rr1024.ops_s", "64 B req/resp, 1024 conns, req/s", NULL},
    {"bulk1.gbps", "bulk, 1 conn, Gbit/s", NULL},
    {"bulkq.gbps", "bulk, 1 conn per queue, Gbit/s", NULL},
    {"msgs.ops_s", "64 B messages one way, 1 queue, msgs/s", "raw.msgs.ops_s"},
    {"connrate.ops_s", "connect+request+close, per s", NULL},
    {"connfo.ops_s", "the same, TCP_FASTOPEN_CONNECT, per s", NULL},
    {"rr64.cpu_us_per_op", "host CPU us/req, full rate (64 conns)", NULL},
    {"cpufix.ops_s", "fixed rate (64 conns), req/s done", NULL},
    {"cpufix.cpu_us_per_op", "host CPU us/req, fixed rate (64 conns)", NULL},
    {"cpufix1.cpu_us_per_op", "host CPU us/req, 5k/s ping-pong (1 conn)", NULL},
    {"pp64.cpu_us_per_op", "host CPU us/req, ping-pong 64 B", "raw.pp64.cpu_us_per_op"},
    {"msgs.cpu_us_per_op", "host CPU us/msg, 64 B one way", "raw.msgs.cpu_us_per_op"},
    {"bulk1.cpu_s_per_gb", "host CPU s/GB, bulk 1 conn", NULL},
    {"bulk1zc.gbps", "bulk, 1 conn, zero-copy send, Gbit/s", NULL},
    {"bulk1zc.cpu_s_per_gb", "host CPU s/GB, bulk zero-copy send", NULL},
    {"ipp64.instr_per_op", "host instructions/req, ping-pong 64 B", NULL},
    {"iconn.instr_per_op", "host instr./connect+request+close", NULL},
    {"iconnfo.instr_per_op", "host instr./the same, fast open", NULL},
    {"irr64.instr_per_op", "host instructions/req, 64 conns", NULL},
};

/* The TLS workloads (tls_client.c): HTTPS from xts-net to a host server;
 * "kernel" is the host doing TLS itself over kernel TCP, "haproxy" HAProxy
 * doing it on the DPU.  term: the TLS terminator (shard 0, the host's
 * server, HAProxy's one thread). */
static const struct row tls_rows[] = {
    {"tls-rr64.ops_s", "HTTPS req/s, 64 conns", NULL},
    {"tls-rr64.p50_us", "HTTPS req, 64 conns, p50 us", NULL},
    {"tls-rr64.p99_us", "HTTPS req, 64 conns, p99 us", NULL},
    {"tls-rr64.host_cpu_us_per_op", "host CPU us/HTTPS req", NULL},
    {"tls-rr64.host_sleeps_per_op", "host sleeps/HTTPS req", NULL},
    {"tls-rr64.host_q_kicks_per_op", "host doorbells/HTTPS req", NULL},
    {"tls-rr64.host_q_rx_frames_per_op", "host frames in/HTTPS req", NULL},
    {"tls-rr64.host_runq_wait_us_per_sleep", "host runq wait us/wakeup", NULL},
    {"tls-rr64.host_last_cpu", "host server's CPU (last)", NULL},
    {"tls-rr64.term_cpu_us_per_op", "terminator CPU us/HTTPS req", NULL},
    {"tls-rr64.client_cpu_us_per_op", "client CPU us/HTTPS req", NULL},
    {"tls-hs.ops_s", "handshakes/s (conn+hs+req+close)", NULL},
    {"tls-hs.ops_per_term_cpu_s", "handshakes per terminator CPU-s", NULL},
    {"tls-hs.term_cpu_busy", "terminator CPU busy (0..1)", NULL},
    {"tls-hs.term_cpu_us_per_op", "terminator CPU us/handshake", NULL},
    {"tls-hs.host_cpu_us_per_op", "host CPU us/handshake", NULL},
    {"tls-hs.client_cpu_us_per_op", "client CPU us/handshake", NULL},
    {"tls-hs.p50_us", "connect to answer, p50 us", NULL},
};

static const struct target {
	const char *name, *fig, *base; /* base: "kernel", "haproxy", "xts" or a full key */
	double goal;
	bool le;	  /* ratio <= goal (else >=) */
	const char *path; /* whose figure is measured: NULL "xts" */
} targets[] = {
    /* the performance issue's targets, each a ratio in one run */
    {"p50_latency_vs_kernel", "pp64.p50_us", "kernel", 1.1, true, NULL},
    {"p50_latency_vs_haproxy", "pp64.p50_us", "haproxy", 0.7, true, NULL},
    {"host_cpu_per_req_full_rate_vs_kernel", "rr64.cpu_us_per_op", "kernel", 0.3, true, NULL},
    {"host_cpu_per_req_5k_pingpong_vs_kernel", "cpufix1.cpu_us_per_op", "kernel", 0.5, true, NULL},
    {"host_cpu_per_req_fixed_rate_vs_kernel", "cpufix.cpu_us_per_op", "kernel", 0.25, true, NULL},
    {"bulk1_gbps_vs_kernel", "bulk1.gbps", "kernel", 0.8, false, NULL},
    {"host_cpu_per_gb_bulk_vs_kernel", "bulk1.cpu_s_per_gb", "kernel", 0.5, true, NULL},
    {"host_cpu_per_gb_bulk_zc_vs_kernel", "bulk1zc.cpu_s_per_gb", "kernel.bulk1.cpu_s_per_gb", 0.3,
     true, NULL},
    {"connect_request_close_vs_kernel", "connrate.ops_s", "kernel", 1.0, false, NULL},
    /* the same with TCP_FASTOPEN_CONNECT on both paths (XTS: the CONNECT
     * carries the request) */
    {"connect_fastopen_request_close_vs_kernel", "connfo.ops_s", "kernel", 1.0, false, NULL},
    {"msgs_s_one_queue_vs_raw_af_xdp", "msgs.ops_s", "raw.msgs.ops_s", 0.7, false, NULL},
    /* earlier: the request/response rate against HAProxy */
    {"rr64_req_s_vs_haproxy", "rr64.ops_s", "haproxy", 1.5, false, NULL},
    /* TLS (issue 13): against the host doing TLS over kernel TCP, and
     * handshakes one shard does with a CPU against one HAProxy thread */
    {"tls_host_cpu_per_req_vs_host_tls", "tls-rr64.host_cpu_us_per_op", "kernel", 0.1, true, NULL},
    {"tls_handshakes_per_shard_vs_haproxy_thread", "tls-hs.ops_per_term_cpu_s", "haproxy", 1.0,
     false, NULL},
    /* xts-run (issue 12): the kernel-API client under the shim against
     * the same workload on libxport's own API and on kernel TCP */
    {"xtsrun_host_cpu_per_req_full_rate_vs_xts", "rr64.cpu_us_per_op", "xts", 1.25, true, "xtsrun"},
    {"xtsrun_host_cpu_per_req_full_rate_vs_kernel", "rr64.cpu_us_per_op", "kernel", 0.4, true,
     "xtsrun"},
};
#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

static double target_base(const struct target *t)
{
	if (strchr(t->base, '.'))
		return get_key(t->base);
	return get(t->base, t->fig);
}

static void cell(char *out, size_t n, double v)
{
	if (isnan(v))
		snprintf(out, n, "-");
	else if (fabs(v) >= 1000)
		snprintf(out, n, "%.0f", v);
	else
		snprintf(out, n, "%.3g", v);
}

static void rows_out(const struct row *rw, size_t nrows, bool xtsrun)
{
	static const char *hdr[] = {"xts",	"kernel",   "haproxy", "ceiling",   "xts/kern",
				    "xts/hapx", "xts/ceil", "xtsrun",  "xtsrun/xts"};
	size_t ncol = xtsrun ? 9 : 7;

	printf("%-40s", "figure");
	for (size_t i = 0; i < ncol; i++)
		printf(" %10s", hdr[i]);
	printf("\n");
	for (size_t r = 0; r < nrows; r++) {
		double v[4], x;
		char c[32];

		for (int p = 0; p < 3; p++)
			v[p] = get(paths[p], rw[r].fig);
		v[3] = rw[r].ceil ? get_key(rw[r].ceil) : NAN;
		x = v[0];
		printf("%-40s", rw[r].label);
		for (int p = 0; p < 4; p++) {
			cell(c, sizeof(c), v[p]);
			printf(" %10s", c);
		}
		for (int p = 1; p < 4; p++) {
			cell(c, sizeof(c), x / v[p]);
			printf(" %10s", c);
		}
		if (xtsrun) {
			double u = get("xtsrun", rw[r].fig);

			cell(c, sizeof(c), u);
			printf(" %10s", c);
			cell(c, sizeof(c), u / x);
			printf(" %10s", c);
		}
		printf("\n");
	}
}

static void table(void)
{
	const char *m;
	bool tls = false;

	if ((m = get_s("meta.machine")))
		printf("# machine: %s\n", m);
	if ((m = get_s("meta.load")))
		printf("# load before the run: %s\n", m);
	if ((m = get_s("meta.instr_method")))
		printf("# instructions counted by: %s%s\n", m,
		       strncmp(m, "perf", 4) ? " (user space only, not the kernel's)"
					     : " (user and kernel)");
	rows_out(rows, sizeof(rows) / sizeof(rows[0]), true);
	for (int p = 0; p < 3 && !tls; p++)
		tls = !isnan(get(paths[p], "tls-rr64.ops_s")) ||
		      !isnan(get(paths[p], "tls-hs.ops_s"));
	if (!tls)
		return;
	printf("\nTLS: xts = the shard terminates, the host in plaintext; kernel = the host "
	       "does TLS over kernel TCP;\nhaproxy = HAProxy (1 thread) terminates on the DPU; "
	       "protocol %s\n",
	       (m = get_s("xts.tls-rr64.proto")) ? m : "-");
	if ((m = get_s("meta.tls_placement")))
		printf("# placement: %s\n", m);
	rows_out(tls_rows, sizeof(tls_rows) / sizeof(tls_rows[0]), false);
}

/* The --poll runs: shard 0 in each poll mode (MODE[+spinUS]), XTS only;
 * "sleep" is the xts path of the table above. */
static void poll_table(void)
{
	static const struct {
		const char *fig, *label;
	} cols[] = {
	    {"pp64.p50_us", "pp64 p50"},	   {"pp64.p99_us", "pp64 p99"},
	    {"pp64.ops_s", "pp64 rt/s"},	   {"pp64.cpu_us_per_op", "pp64 cpu"},
	    {"cpufix1.cpu_us_per_op", "5k/s cpu"}, {"rr64.ops_s", "rr64 req/s"},
	    {"rr64.cpu_us_per_op", "rr64 cpu"},	   {"ipp64.instr_per_op", "instr/req"},
	};
	const char *m = get_s("meta.poll_modes");
	char list[sizeof(kv->val)], *tok, *save, path[96], c[32];

	if (!m || !*m)
		return;
	printf("\nshard 0's poll mode (host CPU us per request; instructions of the host per "
	       "request)\n%-18s",
	       "mode");
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		printf(" %10s", cols[i].label);
	printf("\n");
	snprintf(list, sizeof(list), "%s", m);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		snprintf(path, sizeof(path), "xts@%s", tok);
		printf("%-18s", tok);
		for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
			cell(c, sizeof(c), get(path, cols[i].fig));
			printf(" %10s", c);
		}
		printf("\n");
	}
	printf("# placement: %s\n", (m = get_s("meta.poll_placement")) ? m : "nothing pinned");
}

static void jnum(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "null");
	else
		fprintf(f, "%.6g", v);
}

static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static int targets_out(FILE *json)
{
	int unmet = 0;

	printf("\n%-40s %10s %10s %8s %8s  %s\n", "target", "xts", "baseline", "ratio", "goal",
	       "met");
	if (json)
		fprintf(json, "  \"targets\": [\n");
	for (size_t i = 0; i < NTARGETS; i++) {
		const struct target *t = &targets[i];
		const char *path = t->path ? t->path : "xts";
		double x = get(path, t->fig), b = target_base(t), r = x / b;
		bool met = !isnan(r) && !isinf(r) && (t->le ? r <= t->goal : r >= t->goal);

		unmet += !met;
		printf("%-40s %10.4g %10.4g %8.3f %6s%.2f  %s\n", t->name, x, b, r,
		       t->le ? "<=" : ">=", t->goal, met ? "yes" : "NO");
		if (!json)
			continue;
		fprintf(json, "    {\"name\": ");
		jstr(json, t->name);
		fprintf(json, ", \"figure\": ");
		jstr(json, t->fig);
		fprintf(json, ", \"path\": ");
		jstr(json, path);
		fprintf(json, ", \"baseline_path\": ");
		jstr(json, t->base);
		fprintf(json, ", \"xts\": ");
		jnum(json, x);
		fprintf(json, ", \"baseline\": ");
		jnum(json, b);
		fprintf(json, ", \"ratio\": ");
		jnum(json, r);
		fprintf(json, ", \"goal\": \"%s %.2f\", \"met\": %s}%s\n",
			t->le ? "<=" : ">=", t->goal, met ? "true" : "false",
			i + 1 < NTARGETS ? "," : "");
	}
	if (json)
		fprintf(json, "  ]\n");
	return unmet;
}

static int json_out(const char *file)
{
	FILE *f = fopen(file, "w");
	bool first = true;
	int unmet;

	if (!f)
		bench_die(file, errno);
	fprintf(f, "{\n  \"meta\": {");
	for (int i = 0; i < nkv; i++) {
		if (strncmp(kv[i].key, "meta.", 5))
			continue;
		fprintf(f, "%s\n    ", first ? "" : ",");
		jstr(f, kv[i].key + 5);
		fprintf(f, ": ");
		jstr(f, kv[i].val);
		first = false;
	}
	fprintf(f, "\n  },\n  \"figures\": {");
	first = true;
	for (int i = 0; i < nkv; i++) {
		char *end;
		double d;

		bool seen = false;

		if (!strncmp(kv[i].key, "meta.", 5) || strstr(kv[i].key, ".cdf"))
			continue;
		for (int j = 0; j < i && !seen; j++)
			seen = !strcmp(kv[j].key, kv[i].key);
		if (seen)
			continue; /* one figure per name: the median of its runs */
		d = strtod(kv[i].val, &end);
		if (end != kv[i].val)
			d = get_key(kv[i].key);
		fprintf(f, "%s\n    ", first ? "" : ",");
		jstr(f, kv[i].key);
		fprintf(f, ": ");
		if (end == kv[i].val)
			jstr(f, kv[i].val);
		else
			jnum(f, d);
		first = false;
	}
	fprintf(f, "\n  },\n");
	unmet = targets_out(f);
	fprintf(f, "}\n");
	fclose(f);
	return unmet;
}

/* ---- SVG: latency CDF (left), req/s against connections (right) ---- */

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#7f7f7f"};
static const char *const series[] = {"xts", "kernel", "haproxy", "raw"};

static int cdf_points(int s, double *q, double *us, int max)
{
	char k[64], buf[512], *tok, *save;
	const char *v;
	int n = 0;

	snprintf(k, sizeof(k), "%s.pp64.cdf", series[s]);
	if (!(v = get_s(k)))
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
		if (sscanf(tok, "%lf:%lf", &q[n], &us[n]) == 2)
			n++;
	return n;
}

static void svg_out(const char *file)
{
	const double W = 460, H = 360, L = 70, T = 40, PW = 360, PH = 260;
	static const char *const rrfig[] = {"pp64.ops_s", "rr64.ops_s", "rr1024.ops_s"};
	static const double nconn[] = {1, 64, 1024};
	double q[32], us[32], xmax = 1, ymax = 1;
	FILE *f = fopen(file, "w");
	int s, i, n;

	if (!f)
		bench_die(file, errno);
	for (s = 0; s < 4; s++) {
		n = cdf_points(s, q, us, 32);
		for (i = 0; i < n; i++)
			if (q[i] <= 0.99 && us[i] > xmax)
				xmax = us[i];
		for (i = 0; i < 3; i++) {
			double v = get(series[s], rrfig[i]);

			if (!isnan(v) && v > ymax)
				ymax = v;
		}
	}
	xmax *= 1.1;
	ymax *= 1.1;
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"font-family=\"sans-serif\" font-size=\"12\">\n",
		2 * W, H);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	for (int p = 0; p < 2; p++) {
		double ox = p * W + L;

		fprintf(f, "<text x=\"%.0f\" y=\"20\" font-size=\"14\">%s</text>\n", ox,
			p ? "64 B requests/s against connections"
			  : "ping-pong 64 B: latency CDF (to p99)");
		fprintf(f,
			"<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
			"fill=\"none\" stroke=\"black\"/>\n",
			ox, T, PW, PH);
		for (i = 0; i <= 4; i++) {
			double gy = T + PH - PH * i / 4.0;

			fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.3g</text>\n",
				ox - 4, gy + 4, p ? ymax * i / 4.0 : i / 4.0);
			fprintf(f,
				"<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%.3g</text>\n",
				ox + PW * i / 4.0, T + PH + 16,
				p ? pow(1024.0, i / 4.0) : xmax * i / 4.0);
		}
		fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
			ox + PW / 2, T + PH + 34, p ? "connections (log)" : "round-trip time, us");
	}
	for (s = 0; s < 4; s++) {
		n = cdf_points(s, q, us, 32);
		if (n) {
			fprintf(
			    f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
			    colors[s]);
			for (i = 0; i < n && q[i] <= 0.99; i++)
				fprintf(f, "%.1f,%.1f ", L + PW * fmin(us[i] / xmax, 1.0),
					T + PH - PH * q[i]);
			fprintf(f, "\"/>\n");
		}
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
			colors[s]);
		for (i = 0; i < 3; i++) {
			double v = get(series[s], rrfig[i]);

			if (!isnan(v))
				fprintf(f, "%.1f,%.1f ", W + L + PW * log(nconn[i]) / log(1024.0),
					T + PH - PH * v / ymax);
		}
		fprintf(f, "\"/>\n");
		fprintf(f,
			"<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			"<text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
			L + 10 + 90 * s, H - 22.0, colors[s], L + 26 + 90 * s, H - 12.0,
			s == 3 ? "raw AF_XDP" : series[s]);
	}
	fprintf(f, "</svg>\n");
	fclose(f);
}

int bench_report_main(int argc, char **argv)
{
	const char *json = NULL, *svg = NULL, *in = NULL;
	bool strict = false;
	int unmet;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else if (!strcmp(argv[i], "--svg") && i + 1 < argc)
			svg = argv[++i];
		else if (!strcmp(argv[i], "--strict"))
			strict = true;
		else
			in = argv[i];
	}
	if (!in) {
		fprintf(stderr,
			"usage: xts-bench report RESULTS [--json F] [--svg F] [--strict]\n");
		return 2;
	}
	load(in);
	table();
	poll_table();
	unmet = json ? json_out(json) : targets_out(NULL);
	if (svg)
		svg_out(svg);
	return strict && unmet ? 3 : 0;
}

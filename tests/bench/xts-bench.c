// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-bench - XTS side by side with kernel TCP and a user-space TCP proxy.
 *
 *   xts-bench [--smoke] [--json FILE] [--svg FILE] [--out DIR] ...
 *                             the whole run: topology, xtsd, server,
 *                             HAProxy, every workload on every path
 *                             (executes tests/bench/run-bench)
 *   xts-bench server ...      the epoll server (in xts-net)
 *   xts-bench client ...      one workload on one path (in xts-host)
 *   xts-bench raw ...         raw AF_XDP ceiling, both ends
 *   xts-bench tlsserver ...   the host's HTTPS server of the TLS
 *                             workloads (XTS with TLS pushed, OpenSSL
 *                             on kernel TCP, or plaintext behind HAProxy)
 *   xts-bench tlsclient ...   their HTTPS client (in xts-net)
 *   xts-bench report ...      results file -> table, JSON, SVG
 *   xts-bench instr           how this machine counts instructions:
 *                             "perf" or "callgrind (why not perf)"
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double bench_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void bench_die(const char *what, int err)
{
	fprintf(stderr, "xts-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

double bench_quantile_us(const uint64_t *sorted, size_t n, double q)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(q * (double)(n - 1) + 0.5);
	if (i >= n)
		i = n - 1;
	return (double)sorted[i] / 1000.0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void bench_print_lat(const char *prefix, uint64_t *samples, size_t n)
{
	static const double cdf_q[] = {0.01, 0.05, 0.1, 0.2,  0.3,  0.4,   0.5,	 0.6,
				       0.7,  0.8,  0.9, 0.95, 0.99, 0.995, 0.999};
	size_t i;

	qsort(samples, n, sizeof(*samples), cmp_u64);
	printf("%s.p50_us %.2f\n", prefix, bench_quantile_us(samples, n, 0.5));
	printf("%s.p99_us %.2f\n", prefix, bench_quantile_us(samples, n, 0.99));
	printf("%s.p999_us %.2f\n", prefix, bench_quantile_us(samples, n, 0.999));
	printf("%s.cdf ", prefix);
	for (i = 0; i < sizeof(cdf_q) / sizeof(cdf_q[0]); i++)
		printf("%s%g:%.2f", i ? "," : "", cdf_q[i],
		       bench_quantile_us(samples, n, cdf_q[i]));
	printf("\n");
}

static int run_driver(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char **av = calloc((size_t)argc + 2, sizeof(*av));
	char *slash;
	int i;

	if (n <= 0 || !av)
		bench_die("readlink /proc/self/exe", errno);
	self[n] = 0;
	slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	setenv("XTS_BIN", self, 0);
	setenv("XTS_SRC", XTS_SRC_DIR, 0);
	av[0] = (char *)"bash";
	av[1] = (char *)XTS_SRC_DIR "/tests/bench/run-bench";
	for (i = 1; i < argc; i++)
		av[i + 1] = argv[i];
	execv("/bin/bash", av);
	bench_die("exec run-bench", errno);
}

int main(int argc, char **argv)
{
	if (argc >= 2) {
		if (!strcmp(argv[1], "server"))
			return bench_server_main(argc - 1, argv + 1);
		if (!strcmp(argv[1], "client"))
			return bench_client_main(argc - 1, argv + 1);
		if (!strcmp(argv[1], "raw"))
			return bench_raw_main(argc - 1, argv + 1);
		if (!strcmp(argv[1], "tlsserver"))
			return bench_tlsserver_main(argc - 1, argv + 1);
		if (!strcmp(argv[1], "tlsclient"))
			return bench_tlsclient_main(argc - 1, argv + 1);
		if (!strcmp(argv[1], "report"))
			return bench_report_main(argc - 1, argv + 1);
		if (!strcmp(argv[1], "instr"))
			return bench_instr_main(argc - 1, argv + 1);
		if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
			printf("usage: xts-bench [--smoke] [--json FILE] [--svg FILE] [--out DIR]\n"
			       "       xts-bench "
			       "server|client|raw|report|instr|tlsserver|tlsclient ... (see "
			       "--help of "
			       "each)\n");
			return 0;
		}
	}
	return run_driver(argc, argv);
}

// SPDX-License-Identifier: BSD-2-Clause
/* test_metrics.c - the pure parts of GET /metrics: the request parser of
 * supervisor/metrics_http.c, the listen address of the option engine
 * (cfg_listen_parse), the counters' seqlock (xts_shm.h) under a real
 * concurrent writer (the counters and the listener slots), the listener
 * slots' life (xts_lsn_slot_get/put), and the formatter (ctl/ctl_prom.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <cmocka.h>

#include "cfg_opt.h"
#include "ctl_prom.h"
#include "metrics_http.h"
#include "xts_shm.h"

static int parse(const char *s)
{
	return mhttp_parse_request(s, strlen(s));
}

static void t_request(void **st)
{
	(void)st;
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: a:1\r\nAccept: */*\r\n\r\n"), 200);
	assert_int_equal(parse("GET /metrics HTTP/1.0\n\n"), 200);
	assert_int_equal(parse("GET /metrics?name[]=x HTTP/1.1\r\n\r\n"), 200);
	assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(parse("GET /metrics/ HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(parse("GET /metricsx HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(parse("POST /metrics HTTP/1.1\r\n\r\n"), 405);
	assert_int_equal(parse("get /metrics HTTP/1.1\r\n\r\n"),
			 405);				      /* methods are case-sensitive */
	assert_int_equal(parse("GET /metrics\r\n\r\n"), 400); /* HTTP/0.9 */
	assert_int_equal(parse("GET /metrics HTTP/2.0\r\n\r\n"), 400);
	assert_int_equal(parse("GET metrics HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse("GET  /metrics HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse("G(T /metrics HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse("GET /met\x01rics HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nno colon\r\n\r\n"), 400);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n"), 400);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nA B: c\r\n\r\n"), 400);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nA: b\x01\r\n\r\n"), 400);
	assert_int_equal(parse("\r\n\r\n"), 400);
	assert_int_equal(parse(""), 400);
}

static void t_listen(void **st)
{
	struct sockaddr_storage ss;
	unsigned len;
	char buf[64];

	(void)st;
	assert_int_equal(cfg_listen_parse("127.0.0.1:9464", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9464);
	assert_int_equal(cfg_listen_parse("[::1]:65535", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, buf, sizeof(buf));
	assert_string_equal(buf, "::1");
	assert_int_equal(cfg_listen_parse("0.0.0.0:1", &ss, &len), 0);
	static const char *const bad[] = {
	    "",
	    "127.0.0.1",
	    "127.0.0.1:",
	    "127.0.0.1:0",
	    "127.0.0.1:65536",
	    ":9464",
	    "localhost:80",
	    "::1:9464",
	    "[::1]",
	    "[::1]:x",
	    "1.2.3:9",
	    "[1.2.3.4]:9",
	    "127.0.0.1:+80",
	    "127.0.0.1:99999999999999",
	    NULL,
	};
	for (unsigned i = 0; bad[i]; i++)
		if (!cfg_listen_parse(bad[i], &ss, &len))
			fail_msg("\"%s\" accepted", bad[i]);
}

/* ---- the counters' seqlock: a writer that sets every counter to the
 * same value each round; every read must see one round whole ---- */

static struct xts_shm_shard blk;
static volatile int stop;
static int write_lsn; /* the writer sets the listener slots too */
static uint64_t spin;

static void *writer(void *arg)
{
	uint64_t *k = (uint64_t *)&blk.cnt, *l = (uint64_t *)blk.lsn;

	(void)arg;
	for (uint64_t v = 1; !stop; v++) {
		xts_shm_counters_begin(&blk);
		for (size_t i = 0; i < XTS_SHM_NCOUNTERS; i++)
			__atomic_store_n(&k[i], v, __ATOMIC_RELAXED);
		for (size_t i = 0; write_lsn && i < sizeof(blk.lsn) / (sizeof(uint64_t)); i++)
			__atomic_store_n(&l[i], v, __ATOMIC_RELAXED);
		xts_shm_counters_end(&blk);
		/* as long outside as inside: readers find it even half the time */
		for (size_t i = 0; write_lsn && i < sizeof(blk.lsn) / (sizeof(uint64_t)); i++)
			__atomic_store_n(&spin, v, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void t_counters_seqlock(void **st)
{
	struct xts_shm_counters c;
	const uint64_t *k = (const uint64_t *)&c;
	unsigned whole = 0, torn_reads = 0;
	pthread_t th;

	(void)st;
	/* a predecessor killed mid-write left the seq odd: the next writer
	 * starts from the next odd value, and the reader still works */
	blk.run.cnt_seq = 7;
	stop = 0;
	assert_int_equal(pthread_create(&th, NULL, writer, NULL), 0);
	/* bounded in count and in time: on a loaded 2-core machine a read
	 * may retry for long while the writer holds the only other core */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned r = 0; r < 200000; r++) {
		if ((r & 1023) == 0 && r) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec - t0.tv_sec >= 3)
				break;
		}
		if (xts_shm_counters_read(&blk, &c, 1000)) {
			torn_reads++;
			continue;
		}
		for (size_t i = 1; i < XTS_SHM_NCOUNTERS; i++)
			if (k[i] != k[0])
				fail_msg("read %u: counter %zu = %llu, counter 0 = %llu", r, i,
					 (unsigned long long)k[i], (unsigned long long)k[0]);
		whole++;
	}
	stop = 1;
	pthread_join(th, NULL);
	assert_true(whole > 1000);
	assert_int_equal(blk.run.cnt_seq & 1, 0);
	/* a dead writer (seq odd for good): -1 after the tries, values as they stand */
	blk.run.cnt_seq |= 1;
	assert_int_equal(xts_shm_counters_read(&blk, &c, 10), -1);
	print_message("%u whole reads, %u gave up\n", whole, torn_reads);
}

/* The listener slots under the same writer: every word of one read is of
 * one publication (a slot's address never pairs with another's counters). */
static void t_lsn_seqlock(void **st)
{
	static struct xts_shm_lsn_stat t[XTS_SHM_LSN_MAX];
	const uint64_t *w = (const uint64_t *)t;
	struct timespec t0, now;
	unsigned whole = 0;
	pthread_t th;

	(void)st;
	blk.run.cnt_seq = 0;
	stop = 0;
	write_lsn = 1;
	assert_int_equal(pthread_create(&th, NULL, writer, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned r = 0; r < 20000; r++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= 2 && whole > 100)
			break; /* bounded in time too, as the counters' test */
		if (xts_shm_lsn_read(&blk, t, 1000))
			continue;
		for (size_t i = 1; i < sizeof(t) / (sizeof(uint64_t)); i++)
			if (w[i] != w[0])
				fail_msg("read %u: word %zu = %llu, word 0 = %llu", r, i,
					 (unsigned long long)w[i], (unsigned long long)w[0]);
		whole++;
	}
	stop = 1;
	pthread_join(th, NULL);
	write_lsn = 0;
	assert_true(whole > 100);
	print_message("%u whole reads of the listener slots\n", whole);
}

/* A slot per address: shared while in use, freed (zeros) by its last
 * user, taken again from 0; none (-1) when all are in use. */
static void t_lsn_slots(void **st)
{
	static struct xts_shm_lsn_stat t[XTS_SHM_LSN_MAX];
	static uint32_t ref[XTS_SHM_LSN_MAX];
	uint8_t a[16] = {127, 0, 0, 1}, b[16] = {0};
	int i, j;

	(void)st;
	i = xts_lsn_slot_get(t, ref, XTS_SHM_LSN_MAX, AF_INET, a, 80);
	assert_int_equal(i, 0);
	assert_int_equal(t[0].family, AF_INET);
	assert_int_equal(t[0].port, 80);
	t[0].accepted = 5;
	/* the same address (another listener, or a connection): the same slot */
	assert_int_equal(xts_lsn_slot_get(t, ref, XTS_SHM_LSN_MAX, AF_INET, a, 80), 0);
	assert_int_equal(ref[0], 2);
	/* another port, another family: slots of their own */
	assert_int_equal(xts_lsn_slot_get(t, ref, XTS_SHM_LSN_MAX, AF_INET, a, 81), 1);
	assert_int_equal(xts_lsn_slot_get(t, ref, XTS_SHM_LSN_MAX, AF_INET6, a, 80), 2);
	xts_lsn_slot_put(t, ref, 0);
	assert_int_equal(t[0].accepted, 5); /* one user left: kept */
	xts_lsn_slot_put(t, ref, 0);
	assert_int_equal(t[0].family, 0); /* gone: readers skip it */
	assert_int_equal(t[0].accepted, 0);
	xts_lsn_slot_put(t, ref, 0); /* one put too many changes nothing */
	assert_int_equal(ref[0], 0);
	/* taken again by a new address, from 0 */
	b[15] = 1;
	assert_int_equal(xts_lsn_slot_get(t, ref, XTS_SHM_LSN_MAX, AF_INET6, b, 443), 0);
	assert_int_equal(t[0].accepted, 0);
	/* fill the rest: then a new address gets none, a known one its slot */
	for (j = 3; j < XTS_SHM_LSN_MAX; j++)
		assert_int_equal(
		    xts_lsn_slot_get(t, ref, XTS_SHM_LSN_MAX, AF_INET, a, (uint16_t)(1000 + j)), j);
	assert_int_equal(xts_lsn_slot_get(t, ref, XTS_SHM_LSN_MAX, AF_INET, a, 9), -1);
	assert_int_equal(xts_lsn_slot_get(t, ref, XTS_SHM_LSN_MAX, AF_INET, a, 81), 1);
	xts_lsn_slot_put(t, ref, 5);
	assert_int_equal(xts_lsn_slot_get(t, ref, XTS_SHM_LSN_MAX, AF_INET, a, 9), 5);
}

/* The listener records: labelled shard and listener (IPv6 in brackets, as
 * xtsd writes it), drop reasons as one family, open as a gauge, bytes in
 * their unit. */
static void t_prom_listeners(void **st)
{
	char r0[] = /* as xtsd writes it: the brackets escaped */
	    "listener shard=1 listener=%5Bfd00::1%5D:8443 accepted=4 offered=3 drop_limit=1 "
	    "drop_handshake=0 drop_refused=2 drop_host_gone=5 open=1 bytes_to_host=25 "
	    "bytes_to_net=7";
	char r1[] = "listener shard=0 listener=198.18.0.1:80 accepted=9 offered=9 drop_limit=0 "
		    "drop_handshake=0 drop_refused=0 drop_host_gone=0 open=0 bytes_to_host=0 "
		    "bytes_to_net=0";
	char r2[] = "listener listener=10.0.0.1:1 accepted=77"; /* no shard: no sample */
	char *line[] = {r0, r1, r2};
	char *out = NULL, *p;
	size_t len = 0;
	unsigned n = 0;
	FILE *f = open_memstream(&out, &len);

	(void)st;
	assert_non_null(f);
	ctl_prom_write(f, line, 3);
	fclose(f);
	static const char *const want[] = {
	    "# TYPE xts_listener_connections_accepted_total counter\n",
	    "xts_listener_connections_accepted_total{shard=\"1\",listener=\"[fd00::1]:8443\"} 4\n",
	    "xts_listener_connections_accepted_total{shard=\"0\",listener=\"198.18.0.1:80\"} 9\n",
	    "xts_listener_connections_offered_total{shard=\"1\",listener=\"[fd00::1]:8443\"} 3\n",
	    "# TYPE xts_listener_connections_dropped_total counter\n",
	    "xts_listener_connections_dropped_total{shard=\"1\",listener=\"[fd00::1]:8443\","
	    "reason=\"limit\"} 1\n",
	    "xts_listener_connections_dropped_total{shard=\"1\",listener=\"[fd00::1]:8443\","
	    "reason=\"refused\"} 2\n",
	    "xts_listener_connections_dropped_total{shard=\"1\",listener=\"[fd00::1]:8443\","
	    "reason=\"host_gone\"} 5\n",
	    "# TYPE xts_listener_connections gauge\n",
	    "xts_listener_connections{shard=\"1\",listener=\"[fd00::1]:8443\"} 1\n",
	    "xts_listener_to_host_bytes_total{shard=\"1\",listener=\"[fd00::1]:8443\"} 25\n",
	    "xts_listener_to_net_bytes_total{shard=\"1\",listener=\"[fd00::1]:8443\"} 7\n",
	    NULL,
	};
	for (unsigned i = 0; want[i]; i++)
		if (!strstr(out, want[i]))
			fail_msg("no \"%s\" in:\n%s", want[i], out);
	assert_null(strstr(out, "10.0.0.1"));
	for (p = out; (p = strstr(p, "# TYPE xts_listener_connections_dropped_total ")); p++)
		n++;
	assert_int_equal(n, 1); /* one family, every reason in it */
	free(out);
}

static void t_prom(void **st)
{
	char rec0[] = "xtsd pid=1 version=1.2%22x generation=3 reloads=2 reloads_failed=1 "
		      "last_reload=failed last_reload_ms=1700000000123";
	char rec1[] = "shard id=0 state=running restarts=4 drain=0 cfg_gen=3 started_ms=1500 "
		      "data_to_net=100 conns_active=2";
	char rec2[] = "shard id=1 state=starting restarts=0 drain=1 cfg_gen=2 started_ms=0";
	char rec3[] = "total data_to_net=100";
	char *line[] = {rec0, rec1, rec2, rec3};
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)st;
	assert_non_null(f);
	ctl_prom_write(f, line, 4);
	fclose(f);
	static const char *const want[] = {
	    "xts_build_info{version=\"1.2\\\"x\"} 1\n",
	    "xts_config_generation 3\n",
	    "xts_config_reloads_total{result=\"ok\"} 2\n",
	    "xts_config_reloads_total{result=\"failed\"} 1\n",
	    "xts_config_last_reload_successful 0\n",
	    "xts_config_last_reload_timestamp_seconds 1700000000.123\n",
	    "xts_shard_up{shard=\"0\"} 1\n",
	    "xts_shard_up{shard=\"1\"} 0\n",
	    "xts_shard_state{shard=\"1\",state=\"starting\"} 1\n",
	    "xts_shard_state{shard=\"1\",state=\"running\"} 0\n",
	    "xts_shard_restarts_total{shard=\"0\"} 4\n",
	    "xts_shard_drain_requested{shard=\"1\"} 1\n",
	    "xts_shard_config_generation{shard=\"1\"} 2\n",
	    "xts_shard_start_time_seconds{shard=\"0\"} 1.500\n",
	    "# TYPE xts_shard_data_to_net_bytes_total counter\n",
	    "xts_shard_data_to_net_bytes_total{shard=\"0\"} 100\n",
	    "# TYPE xts_shard_conns_active gauge\n",
	    "xts_shard_conns_active{shard=\"0\"} 2\n",
	    NULL,
	};
	for (unsigned i = 0; want[i]; i++)
		if (!strstr(out, want[i]))
			fail_msg("no \"%s\" in:\n%s", want[i], out);
	/* a shard that lacks a counter has no sample of it; the total record none */
	assert_null(strstr(out, "data_to_net_bytes_total{shard=\"1\"}"));
	assert_null(strstr(out, "shard=\"-\""));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_request),	  cmocka_unit_test(t_listen),
	    cmocka_unit_test(t_counters_seqlock), cmocka_unit_test(t_prom),
	    cmocka_unit_test(t_lsn_seqlock),	  cmocka_unit_test(t_lsn_slots),
	    cmocka_unit_test(t_prom_listeners),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

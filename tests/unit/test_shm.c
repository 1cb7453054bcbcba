// SPDX-License-Identifier: BSD-2-Clause
/* test_shm.c - the shared-memory layout (include/xts_shm.h): offsets,
 * cache-line separation of writers, the config seqlock under a real
 * concurrent writer, and the ctl wire encoding (ctl/ctl_proto.c). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xts_ctl.h"
#include "xts_shm.h"

static void t_layout(void **st)
{
	uint32_t n = 4;
	void *base = aligned_alloc(4096, (xts_shm_size(n) + 4095) & ~4095ull);
	struct xts_shm_hdr *h = base;

	(void)st;
	assert_non_null(base);
	memset(base, 0, xts_shm_size(n));
	xts_shm_format(base, n);
	assert_int_equal(h->magic, XTS_SHM_MAGIC);
	assert_int_equal(h->version, XTS_SHM_VERSION);
	assert_int_equal(h->size, xts_shm_size(n));
	assert_int_equal(h->reg_size, 0);
	assert_int_equal(h->reg_off, h->size);
	/* every shard block and snapshot area on its own cache lines */
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal((uintptr_t)xts_shm_shard(base, i) % XTS_SHM_CACHELINE, 0);
		assert_int_equal((uintptr_t)&xts_shm_shard(base, i)->cnt % XTS_SHM_CACHELINE, 0);
		assert_int_equal((uintptr_t)xts_shm_conns(base, i) % XTS_SHM_CACHELINE, 0);
		assert_true((char *)(xts_shm_conns(base, i) + 1) <= (char *)base + h->size);
	}
	assert_true((char *)(xts_shm_cfg(base) + 1) <= (char *)xts_shm_shard(base, 0));
	free(base);
}

/* The writer publishes configs whose fields all equal their generation;
 * a reader must never see a mix. */
static struct xts_shm_cfg shared;
static volatile int done;

static void *writer(void *arg)
{
	static struct xts_shm_cfg next;

	(void)arg;
	for (uint32_t g = 1; g <= 20000; g++) {
		next.gen = g;
		next.max_conns = next.conn_buf = next.connect_ms = next.idle_ms = g;
		next.nacl = 4;
		for (int i = 0; i < 4; i++)
			next.acl[i].port_lo = next.acl[i].port_hi = (uint16_t)g;
		xts_shm_cfg_publish(&shared, &next);
	}
	done = 1;
	return NULL;
}

static void t_seqlock(void **st)
{
	static struct xts_shm_cfg snap;
	pthread_t t;
	unsigned reads = 0, busy = 0;
	uint64_t last = 0;

	(void)st;
	assert_int_equal(pthread_create(&t, NULL, writer, NULL), 0);
	while (!done) {
		if (xts_shm_cfg_read(&shared, &snap, 4)) {
			busy++;
			continue;
		}
		reads++;
		assert_int_equal(snap.seq & 1, 0);
		assert_true(snap.gen >= last); /* never backwards */
		last = snap.gen;
		if (!snap.gen)
			continue;
		assert_int_equal(snap.max_conns, snap.gen);
		assert_int_equal(snap.conn_buf, snap.gen);
		assert_int_equal(snap.idle_ms, snap.gen);
		for (int i = 0; i < 4; i++)
			assert_int_equal(snap.acl[i].port_hi, (uint16_t)snap.gen);
	}
	pthread_join(t, NULL);
	assert_int_equal(xts_shm_cfg_read(&shared, &snap, 1), 0);
	assert_int_equal(snap.gen, 20000);
	assert_int_equal(xts_shm_cfg_gen(&shared), 20000);
	print_message("  %u consistent reads, %u retried\n", reads, busy);
}

static void t_ctl_wire(void **st)
{
	struct ctl_buf b = {0};
	struct ctl_rec r;
	char *argv[XTS_CTL_MAX_ARGS], *in[] = {"drain", "all"};
	char line[256];
	int argc;

	(void)st;
	ctl_rec_begin(&b, "shard");
	ctl_rec_u64(&b, "id", 3);
	ctl_rec_str(&b, "note", "two words=and %\nnewline");
	ctl_rec_str(&b, "empty", "");
	ctl_rec_i64(&b, "cpu", -1);
	ctl_rec_end(&b);
	assert_int_equal(b.err, 0);
	assert_null(strchr(b.p, '\n') + 1 == b.p + b.len ? NULL : "one line");
	b.p[b.len - 1] = 0;
	assert_int_equal(ctl_rec_parse(b.p, &r), 0);
	assert_string_equal(r.type, "shard");
	assert_int_equal(r.n, 4);
	assert_string_equal(ctl_rec_get(&r, "id"), "3");
	assert_string_equal(ctl_rec_get(&r, "note"), "two words=and %\nnewline");
	assert_string_equal(ctl_rec_get(&r, "empty"), "");
	assert_true(ctl_is_number(ctl_rec_get(&r, "cpu")));
	assert_false(ctl_is_number("0660"));
	assert_false(ctl_is_number("1.5"));
	ctl_buf_free(&b);

	ctl_req_build(&b, 2, in);
	assert_string_equal(b.p, "v1 drain all\n");
	snprintf(line, sizeof(line), "%s", b.p);
	line[strlen(line) - 1] = 0;
	argc = ctl_req_parse(line, argv, XTS_CTL_MAX_ARGS);
	assert_int_equal(argc, 2);
	assert_string_equal(argv[1], "all");
	ctl_buf_free(&b);
	snprintf(line, sizeof(line), "v2 status");
	assert_int_equal(ctl_req_parse(line, argv, XTS_CTL_MAX_ARGS), -EPROTO);
	snprintf(line, sizeof(line), "v1 a b c d e f g h i");
	assert_int_equal(ctl_req_parse(line, argv, XTS_CTL_MAX_ARGS), -E2BIG);
	snprintf(line, sizeof(line), "v1 st%%0");
	assert_int_equal(ctl_req_parse(line, argv, XTS_CTL_MAX_ARGS), -EPROTO);
	ctl_status_line(&b, -EACCES, "permission denied: uid 5");
	assert_string_equal(b.p, "error 13 permission%20denied:%20uid%205\n");
	ctl_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_layout),
	    cmocka_unit_test(t_seqlock),
	    cmocka_unit_test(t_ctl_wire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_reg.c - the listener registry (shard/registry.c): Linux's bind
 * conflict rules, reuseport groups, wildcard and v4/v6 overlap, removal,
 * a full table, the robust-mutex repair after a holder is killed in the
 * middle of an update, and the per-entry seqlock that lock-free readers
 * (xtsctl listeners) rely on, against a concurrent writer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "xts_reg.h"

#define NSLOTS 8

static struct xts_reg *new_reg(uint32_t n)
{
	/* MAP_SHARED: the kill test forks a child that locks it */
	struct xts_reg *r =
	    mmap(NULL, reg_size(n), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(r != MAP_FAILED);
	assert_int_equal(reg_format(r, n), 0);
	assert_int_equal(reg_check(r, reg_size(n)), 0);
	return r;
}

static void free_reg(struct xts_reg *r)
{
	munmap(r, r->size);
}

static struct reg_req req(const char *addr, uint16_t port, uint16_t queue, uint32_t id,
			  uint16_t flags)
{
	struct reg_req q;

	memset(&q, 0, sizeof(q));
	if (strchr(addr, ':')) {
		q.key.family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, q.key.addr), 1);
	} else {
		q.key.family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, q.key.addr), 1);
	}
	q.key.port = port;
	q.queue = queue;
	q.host_id = id;
	q.flags = flags;
	q.backlog = 128;
	return q;
}

static int bind_(struct xts_reg *r, const char *addr, uint16_t port, uint16_t queue, uint32_t id,
		 uint16_t flags)
{
	struct reg_req q = req(addr, port, queue, id, flags);

	return reg_bind(r, &q, NULL);
}

static void test_conflicts(void **st)
{
	struct xts_reg *r = new_reg(NSLOTS);

	(void)st;
	assert_int_equal(bind_(r, "198.18.0.1", 80, 0, 1, 0), 0);
	/* same address and port from another queue, and from the same queue */
	assert_int_equal(bind_(r, "198.18.0.1", 80, 1, 2, 0), -EADDRINUSE);
	assert_int_equal(bind_(r, "198.18.0.1", 80, 0, 3, 0), -EADDRINUSE);
	/* SO_REUSEADDR does not let two listeners share a port (Linux) */
	assert_int_equal(bind_(r, "198.18.0.1", 80, 1, 2, REG_F_REUSEADDR), -EADDRINUSE);
	/* only one side with SO_REUSEPORT: still a conflict */
	assert_int_equal(bind_(r, "198.18.0.1", 80, 1, 2, REG_F_REUSEPORT), -EADDRINUSE);
	/* another port, another address: fine */
	assert_int_equal(bind_(r, "198.18.0.1", 81, 1, 2, 0), 0);
	assert_int_equal(bind_(r, "198.18.0.9", 80, 1, 4, 0), 0);
	/* the same socket twice */
	assert_int_equal(bind_(r, "198.18.0.1", 82, 1, 2, 0), -EINVAL);
	/* port 0 is the shard's business (the kernel picks), never ours */
	assert_int_equal(bind_(r, "198.18.0.1", 0, 1, 5, 0), -EINVAL);
	free_reg(r);
}

static void test_wildcard(void **st)
{
	struct xts_reg *r = new_reg(NSLOTS);

	(void)st;
	assert_int_equal(bind_(r, "198.18.0.1", 80, 0, 1, 0), 0);
	/* 0.0.0.0 overlaps every IPv4 address, both ways */
	assert_int_equal(bind_(r, "0.0.0.0", 80, 1, 2, 0), -EADDRINUSE);
	assert_int_equal(bind_(r, "0.0.0.0", 90, 1, 2, 0), 0);
	assert_int_equal(bind_(r, "198.18.0.7", 90, 2, 3, 0), -EADDRINUSE);
	/* [::] without IPV6_V6ONLY takes IPv4 too */
	assert_int_equal(bind_(r, "::", 80, 2, 3, 0), -EADDRINUSE);
	assert_int_equal(bind_(r, "::", 90, 2, 3, 0), -EADDRINUSE);
	/* with IPV6_V6ONLY it does not */
	assert_int_equal(bind_(r, "::", 80, 2, 3, REG_F_V6ONLY), 0);
	/* and a v6 address is not a v4 one */
	assert_int_equal(bind_(r, "fd00:78:74::1", 90, 2, 4, 0), 0);
	/* but [::] overlaps it */
	assert_int_equal(bind_(r, "::", 90, 3, 5, REG_F_V6ONLY), -EADDRINUSE);
	/* v4-mapped addresses are IPv4 */
	assert_int_equal(bind_(r, "::ffff:198.18.0.1", 80, 3, 6, 0), -EADDRINUSE);
	free_reg(r);
}

static void test_overlap(void **st)
{
	struct reg_req a = req("0.0.0.0", 80, 0, 1, 0), b = req("::", 80, 0, 2, 0);
	struct reg_req c = req("fd00::1", 80, 0, 3, 0), d = req("198.18.0.1", 80, 0, 4, 0);

	(void)st;
	assert_true(reg_overlap(&a.key, 0, &b.key, 0));
	assert_true(reg_overlap(&b.key, 0, &a.key, 0));
	assert_false(reg_overlap(&a.key, 0, &b.key, 1));
	assert_false(reg_overlap(&b.key, 1, &a.key, 0));
	assert_false(reg_overlap(&c.key, 0, &d.key, 0));
	assert_true(reg_overlap(&b.key, 0, &c.key, 0));
	assert_true(reg_overlap(&b.key, 1, &c.key, 0));
	d.key.port = 81;
	assert_false(reg_overlap(&a.key, 0, &d.key, 0));
}

static void test_reuseport(void **st)
{
	struct xts_reg *r = new_reg(NSLOTS);
	struct reg_req k = req("0.0.0.0", 8080, 0, 0, 0);
	uint32_t rp;
	int q;

	(void)st;
	for (q = 0; q < 4; q++)
		assert_int_equal(bind_(r, "0.0.0.0", 8080, (uint16_t)q, 10 + (uint32_t)q,
				       REG_F_REUSEPORT | REG_F_REUSEADDR),
				 0);
	assert_int_equal(reg_group(r, &k.key, &rp), 4);
	assert_int_equal(rp, 4);
	/* two sockets of one queue in the group: allowed, as on Linux */
	assert_int_equal(bind_(r, "0.0.0.0", 8080, 0, 20, REG_F_REUSEPORT), 0);
	/* a member without SO_REUSEPORT cannot join */
	assert_int_equal(bind_(r, "0.0.0.0", 8080, 3, 30, 0), -EADDRINUSE);
	assert_int_equal(bind_(r, "198.18.0.1", 8080, 3, 30, 0), -EADDRINUSE);
	/* a specific address with SO_REUSEPORT overlapping the group: allowed */
	assert_int_equal(bind_(r, "198.18.0.1", 8080, 3, 30, REG_F_REUSEPORT), 0);
	assert_int_equal(reg_group(r, &k.key, &rp), 5);
	/* a member leaves, the group stays */
	assert_int_equal(reg_unbind(r, 1, 11), 0);
	assert_int_equal(reg_group(r, &k.key, &rp), 4);
	free_reg(r);
}

static void test_removal(void **st)
{
	struct xts_reg *r = new_reg(NSLOTS);

	(void)st;
	assert_int_equal(bind_(r, "0.0.0.0", 80, 0, 1, 0), 0);
	assert_int_equal(bind_(r, "0.0.0.0", 80, 1, 2, 0), -EADDRINUSE);
	/* the listener closes: the port is free at once */
	assert_int_equal(reg_unbind(r, 0, 1), 0);
	assert_int_equal(reg_unbind(r, 0, 1), -ENOENT);
	assert_int_equal(r->nused, 0);
	assert_int_equal(bind_(r, "0.0.0.0", 80, 1, 2, 0), 0);
	/* a queue's session ends: all of its listeners go */
	assert_int_equal(bind_(r, "0.0.0.0", 81, 2, 3, 0), 0);
	assert_int_equal(bind_(r, "0.0.0.0", 82, 2, 4, 0), 0);
	assert_int_equal(reg_drop_queue(r, 2), 2);
	assert_int_equal(r->nused, 1);
	assert_int_equal(bind_(r, "0.0.0.0", 81, 3, 5, 0), 0);
	free_reg(r);
}

static void test_full(void **st)
{
	struct xts_reg *r = new_reg(4);
	uint32_t i;

	(void)st;
	for (i = 0; i < 4; i++)
		assert_int_equal(bind_(r, "0.0.0.0", (uint16_t)(100 + i), 0, 1 + i, 0), 0);
	assert_int_equal(bind_(r, "0.0.0.0", 200, 0, 9, 0), -ENOSPC);
	/* a conflict is still reported as such when full */
	assert_int_equal(bind_(r, "0.0.0.0", 100, 1, 9, 0), -EADDRINUSE);
	assert_int_equal(reg_unbind(r, 0, 2), 0);
	assert_int_equal(bind_(r, "0.0.0.0", 200, 0, 9, 0), 0);
	free_reg(r);
}

/* A holder killed in the middle of an update (a shard SIGKILLed with the
 * lock held): journal written, entry half-written, gen odd. */
static void test_robust_repair(void **st)
{
	struct xts_reg *r = new_reg(NSLOTS);
	struct reg_ent e;
	int p[2], status;
	uint32_t slot = 1, gen;
	pid_t pid;
	char c;

	(void)st;
	assert_int_equal(bind_(r, "0.0.0.0", 80, 0, 1, 0), 0);
	gen = r->ent[slot].gen;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct reg_ent *w;

		if (reg_lock(r))
			_exit(1);
		w = reg_ent_begin(r, slot);
		w->state = REG_LISTEN;
		w->family = AF_INET;
		w->port = 443;		    /* half of it: no queue, no host id */
		(void)!write(p[1], "x", 1); /* tell the parent, then wait for SIGKILL */
		for (;;)
			pause();
	}
	assert_int_equal(read(p[0], &c, 1), 1); /* the child holds the lock now */
	assert_int_equal(r->j.valid, 1);
	assert_int_equal(r->j.slot, slot);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	/* until someone repairs it, a lock-free reader sees the entry busy,
	 * never the half-written one */
	assert_int_equal(reg_read(r, slot, &e), -EAGAIN);
	assert_int_equal(reg_read(r, 0, &e), 0);
	assert_int_equal(e.port, 80);
	/* the next holder repairs: the half-written entry is rolled back */
	assert_int_equal(reg_lock(r), 0);
	assert_int_equal(r->repairs, 1);
	assert_int_equal(r->j.valid, 0);
	assert_int_equal(r->nused, 1);
	reg_unlock(r);
	assert_int_equal(reg_read(r, slot, &e), 0);
	assert_int_equal(e.state, REG_FREE);
	assert_int_equal(e.port, 0);
	assert_true(e.gen != gen && !(e.gen & 1));
	/* and the table works: the port the dead one wanted is free, the
	 * old entry is still there, the lock is usable again */
	assert_int_equal(bind_(r, "0.0.0.0", 443, 1, 8, 0), 0);
	assert_int_equal(bind_(r, "0.0.0.0", 80, 1, 9, 0), -EADDRINUSE);
	assert_int_equal(reg_unbind(r, 0, 1), 0);
	assert_int_equal(bind_(r, "0.0.0.0", 80, 1, 9, 0), 0);
	assert_int_equal(r->nused, 2);
	close(p[0]);
	close(p[1]);
	free_reg(r);
}

/* The seqlock, step by step: busy from begin to commit, then the new
 * contents with gen 2 further on. */
static void test_seqlock_steps(void **st)
{
	struct xts_reg *r = new_reg(NSLOTS);
	struct reg_ent e, *w;
	uint32_t gen;

	(void)st;
	assert_int_equal(bind_(r, "10.0.0.1", 80, 3, 5, 0), 0);
	assert_int_equal(reg_read(r, 0, &e), 0);
	assert_int_equal(e.state, REG_LISTEN);
	assert_int_equal(e.port, 80);
	assert_int_equal(e.host_id, 5);
	gen = e.gen;
	assert_false(gen & 1);
	assert_int_equal(reg_lock(r), 0);
	w = reg_ent_begin(r, 0);
	assert_int_equal(reg_read(r, 0, &e), -EAGAIN);
	w->port = 81;
	assert_int_equal(reg_read(r, 0, &e), -EAGAIN);
	w->host_id = 6;
	reg_ent_commit(r, 0);
	reg_unlock(r);
	assert_int_equal(reg_read(r, 0, &e), 0);
	assert_int_equal(e.port, 81);
	assert_int_equal(e.host_id, 6);
	assert_int_equal(e.gen, gen + 2);
	assert_int_equal(reg_read(r, NSLOTS, &e), -EINVAL);
	free_reg(r);
}

/* A writer binding and unbinding one slot as fast as it can while a
 * lock-free reader copies it: every entry the reader accepts must be
 * whole, one binding's fields, never a mix (each field is derived from
 * the host id).  Bounded by count and time. */
#define RACE_OPS     2000000
#define RACE_SECONDS 2.0

struct race {
	struct xts_reg *r;
	volatile int stop;
	unsigned long reads, whole, busy, torn;
};

static int whole(const struct reg_ent *e)
{
	uint8_t b = (uint8_t)e->host_id;

	for (unsigned i = 0; i < sizeof(e->addr); i++)
		if (e->addr[i] != b)
			return 0;
	return e->family == AF_INET && e->port == 1 + e->host_id % 60000 &&
	       e->backlog == ~e->host_id && e->queue == (uint16_t)e->host_id &&
	       e->flags == (e->host_id & 1 ? REG_F_REUSEPORT : 0);
}

static void *race_reader(void *arg)
{
	struct race *x = arg;

	while (!x->stop) {
		struct reg_ent e;
		int rc = reg_read(x->r, 0, &e);

		x->reads++;
		if (rc) {
			x->busy++;
		} else if (e.state == REG_LISTEN) {
			x->whole += whole(&e);
			x->torn += !whole(&e);
		} else if (e.state != REG_FREE || e.port || e.host_id) {
			x->torn++;
		}
	}
	return NULL;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_seqlock_race(void **st)
{
	struct race x = {.r = new_reg(1)};
	double t0 = mono_s();
	pthread_t th;
	uint32_t k;

	(void)st;
	assert_int_equal(pthread_create(&th, NULL, race_reader, &x), 0);
	for (k = 1; k <= RACE_OPS && mono_s() - t0 < RACE_SECONDS; k++) {
		struct reg_req q;

		memset(&q, 0, sizeof(q));
		q.key.family = AF_INET;
		q.key.port = (uint16_t)(1 + k % 60000);
		memset(q.key.addr, (uint8_t)k, sizeof(q.key.addr));
		q.queue = (uint16_t)k;
		q.host_id = k;
		q.backlog = ~k;
		q.flags = k & 1 ? REG_F_REUSEPORT : 0;
		assert_int_equal(reg_bind(x.r, &q, NULL), 0);
		assert_int_equal(reg_unbind(x.r, (uint16_t)k, k), 0);
	}
	x.stop = 1;
	pthread_join(th, NULL);
	print_message("%u updates, %lu reads: %lu whole entries, %lu busy, %lu torn\n", 2 * k,
		      x.reads, x.whole, x.busy, x.torn);
	assert_int_equal(x.torn, 0);
	assert_true(x.whole > 0); /* the reader did see entries */
	free_reg(x.r);
}

/* A holder killed outside any update: nothing to roll back, lock usable. */
static void test_robust_idle_holder(void **st)
{
	struct xts_reg *r = new_reg(NSLOTS);
	int p[2], status;
	pid_t pid;
	char c;

	(void)st;
	assert_int_equal(bind_(r, "0.0.0.0", 80, 0, 1, 0), 0);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		reg_lock(r);
		(void)!write(p[1], "x", 1);
		for (;;)
			pause();
	}
	assert_int_equal(read(p[0], &c, 1), 1);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(bind_(r, "0.0.0.0", 81, 1, 2, 0), 0);
	assert_int_equal(r->repairs, 1);
	assert_int_equal(r->nused, 2);
	close(p[0]);
	close(p[1]);
	free_reg(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conflicts),	  cmocka_unit_test(test_wildcard),
	    cmocka_unit_test(test_overlap),	  cmocka_unit_test(test_reuseport),
	    cmocka_unit_test(test_removal),	  cmocka_unit_test(test_full),
	    cmocka_unit_test(test_robust_repair), cmocka_unit_test(test_robust_idle_holder),
	    cmocka_unit_test(test_seqlock_steps), cmocka_unit_test(test_seqlock_race),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_reg.c - the listener registry (shard/registry.c): Linux's bind
 * conflict rules, reuseport groups, wildcard and v4/v6 overlap, removal,
 * a full table, and the robust-mutex repair after a holder is killed in
 * the middle of an update.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
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

/* The child's hook: the update is half done when it is killed. */
static void die_mid_update(void *arg, const struct reg_req *q)
{
	int fd = *(int *)arg;

	(void)q;
	(void)!write(fd, "x", 1); /* tell the parent, then wait for SIGKILL */
	for (;;)
		pause();
}

static void test_robust_repair(void **st)
{
	struct xts_reg *r = new_reg(NSLOTS);
	struct reg_req q = req("0.0.0.0", 443, 2, 7, 0);
	int p[2], status;
	pid_t pid;
	char c;

	(void)st;
	assert_int_equal(bind_(r, "0.0.0.0", 80, 0, 1, 0), 0);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		q.mid_update = die_mid_update;
		q.arg = &p[1];
		reg_bind(r, &q, NULL);
		_exit(1); /* not reached */
	}
	assert_int_equal(read(p[0], &c, 1), 1); /* the child holds the lock now */
	/* mid-update: journal written, entry half-written */
	assert_int_equal(r->j.valid, 1);
	assert_int_equal(r->ent[r->j.slot].state, REG_BINDING);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	/* the next holder repairs: the half-written entry is rolled back */
	assert_int_equal(reg_lock(r), 0);
	assert_int_equal(r->repairs, 1);
	assert_int_equal(r->j.valid, 0);
	assert_int_equal(r->nused, 1);
	reg_unlock(r);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

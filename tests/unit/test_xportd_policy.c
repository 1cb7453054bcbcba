// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_xportd_policy.c - xportd's policy (xport/xportd/xpd_policy.c), rule
 * by rule, over configurations loaded the way xportd loads them
 * (xpd_cfg_load on a file), so the rules tested are the rules written.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "xportd.h"

static struct xpd_cfg c;
static char why[512];
static uint8_t ok[XPD_MAX_QUEUES / 8];

static void load(const char *text)
{
	char path[] = "/tmp/test_xportd_policy.XXXXXX", err[CFG_ERR_LEN];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	if (xpd_cfg_load(path, &c, err))
		fail_msg("config does not load: %s", err);
	unlink(path);
}

static struct xpd_peer peer(uid_t uid, gid_t gid, unsigned n, ...)
{
	struct xpd_peer p = {.pid = 1000, .uid = uid, .gid = gid, .ngroups = n};
	va_list ap;

	va_start(ap, n);
	for (unsigned i = 0; i < n; i++)
		p.groups[i] = va_arg(ap, gid_t);
	va_end(ap);
	return p;
}

static struct xpd_usage usage(void)
{
	struct xpd_usage u = {.queues = c.queues};

	for (unsigned q = 0; q < XPD_MAX_QUEUES; q++)
		u.holder_uid[q] = -1;
	return u;
}

static int check(const struct xpd_peer *p, const struct xpd_usage *u, int want)
{
	why[0] = 0;
	return xpd_policy_check(&c, p, u, want, ok, why, sizeof(why));
}

static unsigned count_ok(void)
{
	unsigned n = 0;

	for (unsigned q = 0; q < XPD_MAX_QUEUES; q++)
		n += xpd_bit(ok, q);
	return n;
}

/* No rules: root only, any queue; everybody else EACCES with why. */
static void t_no_rules(void **st)
{
	struct xpd_peer root = peer(0, 0, 0), user = peer(1000, 1000, 1, 1000);
	struct xpd_usage u;

	(void)st;
	load("queues = 4;\n");
	u = usage();
	assert_int_equal(check(&root, &u, -1), 0);
	assert_int_equal(count_ok(), 4);
	assert_int_equal(check(&root, &u, 3), 0);
	assert_true(xpd_bit(ok, 3) && count_ok() == 1);
	assert_int_equal(check(&user, &u, -1), -EACCES);
	assert_non_null(strstr(why, "uid 1000 may not lease queues: no rule"));
	assert_non_null(strstr(why, "(groups 1000)"));
	/* a queue past the configured ones: EINVAL, for root too */
	assert_int_equal(check(&root, &u, 4), -EINVAL);
	assert_non_null(strstr(why, "queue 4 does not exist: xportd leases queues 0-3"));
}

/* A group rule matches the primary group or a supplementary one the
 * process holds; the first matching rule applies. */
static void t_group_and_first_match(void **st)
{
	struct xpd_peer sup = peer(65534, 65534, 2, 65534, 4242);
	struct xpd_peer prim = peer(500, 4242, 0);
	struct xpd_peer both = peer(77, 4242, 0);
	struct xpd_peer none = peer(65534, 65534, 1, 65534);
	struct xpd_usage u;
	const struct xpd_rule *r;

	(void)st;
	load("queues = 8;\n"
	     "policy = ( { user = 77; leases = 1; queues = [ 7 ]; },\n"
	     "           { group = 4242; leases = 2; queues = [ 1, 2 ]; } );\n");
	u = usage();
	assert_int_equal(check(&sup, &u, -1), 0);
	assert_true(xpd_bit(ok, 1) && xpd_bit(ok, 2) && count_ok() == 2);
	assert_int_equal(check(&prim, &u, 2), 0);
	/* uid 77 is in the group too, but its user rule comes first */
	r = xpd_policy_rule(&c, &both);
	assert_non_null(r);
	assert_int_equal(r->line, 2);
	assert_int_equal(check(&both, &u, 1), -EACCES);
	assert_non_null(strstr(why, "queue 1 is not among the queues uid 77 may lease (rule at "
				    "line 2, user 77)"));
	assert_int_equal(check(&both, &u, 7), 0);
	/* the same uid without the group: refused */
	assert_int_equal(check(&none, &u, -1), -EACCES);
	assert_non_null(strstr(why, "(groups 65534)"));
}

/* leases counts the leases of the uid, whichever queue: past it EDQUOT. */
static void t_lease_count(void **st)
{
	struct xpd_peer p = peer(1000, 4242, 0), other = peer(1001, 4242, 0);
	struct xpd_usage u;

	(void)st;
	load("queues = 4;\npolicy = ( { group = 4242; leases = 2; } );\n");
	u = usage();
	u.holder_uid[0] = 1000;
	assert_int_equal(check(&p, &u, -1), 0);
	u.holder_uid[3] = 1000;
	assert_int_equal(check(&p, &u, -1), -EDQUOT);
	assert_non_null(
	    strstr(why, "uid 1000 holds 2 leases, the most its rule allows (line 2, group 4242)"));
	assert_int_equal(check(&p, &u, 1), -EDQUOT);
	/* per uid: another member of the group still may */
	assert_int_equal(check(&other, &u, -1), 0);
	/* root has no rule here and no count */
	u.holder_uid[1] = 0;
	u.holder_uid[2] = 0;
	assert_int_equal(check(&(struct xpd_peer){.uid = 0}, &u, 0), 0);
}

/* reserve: the rule's queues are for those it matches; root may name
 * one but is not given one as "any"; an "any" with every allowed queue
 * reserved says so. */
static void t_reserve(void **st)
{
	struct xpd_peer bench = peer(300, 300, 0), web = peer(400, 33, 0), root = peer(0, 0, 0);
	struct xpd_usage u;

	(void)st;
	load("queues = 4;\n"
	     "policy = ( { user = 300; leases = 2; queues = [ 2, 3 ]; reserve = true; },\n"
	     "           { group = 33; leases = 4; } );\n");
	u = usage();
	assert_int_equal(check(&bench, &u, 3), 0);
	assert_int_equal(check(&web, &u, 3), -EACCES);
	assert_non_null(strstr(why, "queue 3 is reserved for user 300 (rule at line 2)"));
	assert_int_equal(check(&web, &u, -1), 0);
	assert_true(xpd_bit(ok, 0) && xpd_bit(ok, 1) && count_ok() == 2);
	assert_int_equal(check(&root, &u, 2), 0);
	assert_int_equal(check(&root, &u, -1), 0);
	assert_true(!xpd_bit(ok, 2) && !xpd_bit(ok, 3) && count_ok() == 2);

	load("queues = 4;\n"
	     "policy = ( { user = 300; queues = [ 2, 3 ]; reserve = true; },\n"
	     "           { group = 33; queues = [ 3 ]; } );\n");
	u = usage();
	assert_int_equal(check(&web, &u, -1), -EACCES);
	assert_non_null(strstr(why, "every queue its rule allows is reserved for others"));
}

/* Configuration errors of the policy are FILE:LINE errors (xpd_cfg_load). */
static void t_cfg_errors(void **st)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"queues = 2;\npolicy = ( { leases = 2; } );\n",
	     ":2: policy.[0]: needs one of user or group"},
	    {"queues = 2;\npolicy = ( { group = 10; queues = [ 1, 2 ]; } );\n",
	     ":2: policy.[0].queues[1]: 2 out of range"},
	    {"queues = 2;\npolicy = ( { group = 10; reserve = true; } );\n",
	     ":2: policy.[0].reserve: reserves the queues it names"},
	    {"queues = 2;\npolicy = ( { group = 10; leases = 0; } );\n", ":2: policy.[0].leases"},
	};
	char path[] = "/tmp/test_xportd_policy.XXXXXX", err[CFG_ERR_LEN];
	int fd = mkstemp(path);

	(void)st;
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs(cases[i].text, f);
		fclose(f);
		err[0] = 0;
		assert_int_not_equal(xpd_cfg_load(path, &c, err), 0);
		if (!strstr(err, cases[i].want) || strncmp(err, path, strlen(path)))
			fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].want);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_no_rules),    cmocka_unit_test(t_group_and_first_match),
	    cmocka_unit_test(t_lease_count), cmocka_unit_test(t_reserve),
	    cmocka_unit_test(t_cfg_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

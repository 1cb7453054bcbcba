// SPDX-License-Identifier: BSD-2-Clause
/* test_cfg.c - xts.conf parsing and validation (supervisor/cfg.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "cfg.h"

static char path[64];
static struct cfg c;
static char err[CFG_ERR_LEN];

static int load(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_cfg.%d.conf", getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	memset(&c, 0, sizeof(c));
	return cfg_load(path, &c, err);
}

/* err must be "PATH:LINE: OPTION: ..." */
static void expect_err(const char *text, int line, const char *opt, const char *why)
{
	char want[256];

	assert_int_equal(load(text), -EINVAL);
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, opt);
	if (strncmp(err, want, strlen(want)) || !strstr(err, why))
		fail_msg("error \"%s\", want \"%s...%s\"", err, want, why);
}

static void t_defaults(void **st)
{
	(void)st;
	assert_int_equal(load(""), 0);
	assert_string_equal(c.interface, "xd0");
	assert_int_equal(c.queues, 4);
	assert_int_equal(c.max_conns, 65536);
	assert_int_equal(c.ctl_mode, 0660);
	assert_string_equal(c.ctl_path, "/run/xts/ctl.sock");
	assert_int_equal(c.shard[0].node, CFG_NODE_AUTO);
	assert_int_equal(c.nacl, 0);
	assert_int_equal(c.hang_ms, 5000);
}

static void t_valid(void **st)
{
	(void)st;
	assert_int_equal(
	    load("interface = \"eth1\";\nqueues = 2;\n"
		 "log_level = \"debug\"; log_target = \"syslog\";\n"
		 "limits = { max_conns = 100; conn_buf = 65536; shard_buf = 1048576;"
		 " listeners = 8; };\n"
		 "ctl = { path = \"/tmp/x.sock\"; mode = \"0600\"; group = \"adm\"; };\n"
		 "acl = { connect = [ \"10.0.0.0/8:80-90\", \"[fd00::]/64:443\" ];"
		 " listen = [ \"8080\" ]; };\n"
		 "shards = ( { queue = 1; cpus = [ 0, 1 ]; node = 0;"
		 " connect = [ \"192.0.2.1\" ]; listen = [ \"1-1024\" ]; },"
		 " { queue = 0; node = \"auto\"; } );\n"),
	    0);
	assert_string_equal(c.interface, "eth1");
	assert_int_equal(c.max_conns, 100);
	assert_int_equal(c.shard_buf, 1048576);
	assert_int_equal(c.ctl_mode, 0600);
	assert_int_equal(c.shard[1].ncpus, 2);
	assert_int_equal(c.shard[1].cpus[1], 1);
	assert_int_equal(c.shard[1].node, 0);
	assert_int_equal(c.shard[0].node, CFG_NODE_AUTO);
	assert_int_equal(c.nacl, 5);
	assert_int_equal(c.acl[0].family, AF_INET);
	assert_int_equal(c.acl[0].prefix, 8);
	assert_int_equal(c.acl[0].port_lo, 80);
	assert_int_equal(c.acl[0].port_hi, 90);
	assert_int_equal(c.acl[1].family, AF_INET6);
	assert_int_equal(c.acl[1].prefix, 64);
	assert_int_equal(c.acl[3].queue, 1);
	assert_int_equal(c.acl[3].prefix, 32);
}

static void t_syntax(void **st)
{
	(void)st;
	assert_int_equal(load("queues = 2;\nlimits = { max_conns = ; };\n"), -EINVAL);
	snprintf(path + strlen(path), 1, "%s", "");
	assert_non_null(strstr(err, ":2: syntax error"));
}

static void t_unknown(void **st)
{
	(void)st;
	expect_err("queues = 2;\n\nlimits = {\n  max_conn = 5;\n};\n", 4, "limits.max_conn",
		   "unknown option");
	expect_err("bogus = 1;\n", 1, "bogus", "unknown option");
	expect_err("shards = ( { queue = 0; cpu = [1]; } );\n", 1, "shards.[0].cpu",
		   "unknown option");
}

static void t_range(void **st)
{
	(void)st;
	expect_err("queues = 0;\n", 1, "queues", "out of range");
	expect_err("\nlimits = { max_conns = 2000000; };\n", 2, "limits.max_conns", "out of range");
	expect_err("queue = { ring_size = 1000; };\n", 1, "queue.ring_size", "power of two");
	expect_err("queues = 2;\nshards = ( { queue = 2; } );\n", 2, "shards.[0].queue",
		   "out of range");
	expect_err("log_level = \"loud\";\n", 1, "log_level", "must be");
	expect_err("ctl = { mode = \"999\"; };\n", 1, "ctl.mode", "octal");
	expect_err("queues = \"four\";\n", 1, "queues", "integer");
	expect_err("timeouts = {\n hang_ms = -1;\n};\n", 2, "timeouts.hang_ms", "out of range");
}

static void t_bad_cidr(void **st)
{
	(void)st;
	expect_err("acl = {\n connect = [ \"10.0.0.0/33\" ];\n};\n", 2, "acl.connect[0]",
		   "prefix length");
	expect_err("acl = { connect = [ \"*\", \"10.0.0.300\" ]; };\n", 1, "acl.connect[1]",
		   "want ADDR");
	expect_err("acl = { connect = [ \"10.0.0.1:90-80\" ]; };\n", 1, "acl.connect[0]",
		   "port range");
	expect_err("acl = { listen = [ \"http\" ]; };\n", 1, "acl.listen[0]", "PORT");
	expect_err("shards = ( { queue = 0; connect = [ \"[fd00::/64\" ]; } );\n", 1,
		   "shards.[0].connect[0]", "want ADDR");
}

static void t_acl_match(void **st)
{
	static struct xts_shm_cfg snap;
	uint8_t a4[16] = {198, 18, 0, 2}, b4[16] = {198, 18, 1, 2};
	uint8_t a6[16] = {0xfd, 0, 0, 0x78, 0, 0x74};

	(void)st;
	assert_int_equal(load("acl = { connect = [ \"198.18.0.0/24:7\", \"[fd00:78::]/32\" ]; };\n"
			      "shards = ( { queue = 1; connect = [ \"198.18.1.0/24\" ]; } );\n"),
			 0);
	cfg_to_shm(&c, 1, &snap);
	assert_true(xts_acl_allows(&snap, XTS_ACL_CONNECT, 0, AF_INET, a4, 7));
	assert_false(xts_acl_allows(&snap, XTS_ACL_CONNECT, 0, AF_INET, a4, 8));
	assert_false(xts_acl_allows(&snap, XTS_ACL_CONNECT, 0, AF_INET, b4, 7));
	assert_true(xts_acl_allows(&snap, XTS_ACL_CONNECT, 0, AF_INET6, a6, 9));
	/* queue 1 has its own rules: the default ones do not apply */
	assert_false(xts_acl_allows(&snap, XTS_ACL_CONNECT, 1, AF_INET, a4, 7));
	assert_true(xts_acl_allows(&snap, XTS_ACL_CONNECT, 1, AF_INET, b4, 1234));
	/* no listen rules at all: everything allowed */
	assert_true(xts_acl_allows(&snap, XTS_ACL_LISTEN, 0, 0, a4, 80));
}

static void t_reloadable(void **st)
{
	static struct cfg a, b;

	(void)st;
	assert_int_equal(load("limits = { max_conns = 100; };\n"), 0);
	a = c;
	assert_int_equal(load("limits = { max_conns = 50; };\n"), 0);
	b = c;
	assert_int_equal(cfg_reloadable(&a, &b, 100, err), 0);
	assert_int_equal(cfg_reloadable(&b, &a, 100, err), 0); /* back up to the table */
	assert_int_equal(cfg_reloadable(&b, &a, 60, err), -EINVAL);
	assert_non_null(strstr(err, "limits.max_conns"));
	b.queues = 3;
	assert_int_equal(cfg_reloadable(&a, &b, 100, err), -EINVAL);
	assert_non_null(strstr(err, "queues"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_defaults),  cmocka_unit_test(t_valid),
	    cmocka_unit_test(t_syntax),	   cmocka_unit_test(t_unknown),
	    cmocka_unit_test(t_range),	   cmocka_unit_test(t_bad_cidr),
	    cmocka_unit_test(t_acl_match), cmocka_unit_test(t_reloadable),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	unlink(path);
	return rc;
}

// SPDX-License-Identifier: BSD-2-Clause
/* test_cfg.c - xts.conf parsing and validation (supervisor/cfg.c). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
	assert_int_equal(c.queues, 8);
	assert_int_equal(c.run.max_conns, 65536);
	assert_int_equal(c.ctl_mode, 0660);
	assert_string_equal(c.ctl_path, "/run/xts/ctl.sock");
	assert_int_equal(c.shard[0].node, CFG_NODE_AUTO);
	assert_int_equal(c.run.nacl, 0);
	assert_int_equal(c.hang_ms, 5000);
	assert_int_equal(c.run.handoff_ms, XTS_CFG_DEF_HANDOFF_MS);
	assert_int_equal(XTS_CFG_DEF_HANDOFF_MS, 5000);
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
	assert_int_equal(c.run.max_conns, 100);
	assert_int_equal(c.run.shard_buf, 1048576);
	assert_int_equal(c.ctl_mode, 0600);
	assert_int_equal(c.shard[1].ncpus, 2);
	assert_int_equal(c.shard[1].cpus[1], 1);
	assert_int_equal(c.shard[1].node, 0);
	assert_int_equal(c.shard[0].node, CFG_NODE_AUTO);
	assert_int_equal(c.run.nacl, 5);
	assert_int_equal(c.run.acl[0].family, AF_INET);
	assert_int_equal(c.run.acl[0].prefix, 8);
	assert_int_equal(c.run.acl[0].port_lo, 80);
	assert_int_equal(c.run.acl[0].port_hi, 90);
	assert_int_equal(c.run.acl[1].family, AF_INET6);
	assert_int_equal(c.run.acl[1].prefix, 64);
	assert_int_equal(c.run.acl[3].queue, 1);
	assert_int_equal(c.run.acl[3].prefix, 32);
}

static void t_syntax(void **st)
{
	char want[128];

	(void)st;
	assert_int_equal(load("queues = 2;\nlimits = { max_conns = ; };\n"), -EINVAL);
	/* the whole prefix, file name included, not just somewhere in err */
	snprintf(want, sizeof(want), "%s:2: syntax error", path);
	if (strncmp(err, want, strlen(want)))
		fail_msg("error \"%s\", want \"%s...\"", err, want);
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
	expect_err("timeouts = {\n\n handoff_ms = 600001;\n};\n", 3, "timeouts.handoff_ms",
		   "600001 out of range [0, 600000]");
	expect_err("timeouts = { handoff_ms = \"5s\"; };\n", 1, "timeouts.handoff_ms", "integer");
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

#define ALLOWS(kind, q, fam, addr, port, local)                                                    \
	xts_acl_allows(&snap, kind, q, fam, addr, port, local)

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
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET, a4, 7, 0));
	assert_false(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET, a4, 8, 0));
	assert_false(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET, b4, 7, 0));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET6, a6, 9, 0));
	/* queue 1 has its own rules: the default ones do not apply */
	assert_false(ALLOWS(XTS_ACL_CONNECT, 1, AF_INET, a4, 7, 0));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 1, AF_INET, b4, 1234, 0));
	/* no listen rules at all: everything allowed */
	assert_true(ALLOWS(XTS_ACL_LISTEN, 0, 0, a4, 80, 0));
}

/* acl.tls: profile names per queue, "*" any; none: any; a bad name is
 * FILE:LINE with the option's path. */
/* two profiles that only originate: no files to make */
#define PROFS "tls = ( { name = \"web\"; }, { name = \"api\"; } );\n"

static void t_acl_tls(void **st)
{
	static struct xts_shm_cfg snap;
	uint8_t web[16] = "web", api[16] = "api", webx[16] = "webx";

	(void)st;
	assert_int_equal(load("acl = { tls = [ \"web\" ]; };\n"
			      "shards = ( { queue = 1; tls = [ \"*\" ]; } );\n" PROFS),
			 0);
	cfg_to_shm(&c, 2, &snap);
	assert_true(ALLOWS(XTS_ACL_TLS, 0, 0, web, 0, 0));
	assert_false(ALLOWS(XTS_ACL_TLS, 0, 0, api, 0, 0));
	assert_false(ALLOWS(XTS_ACL_TLS, 0, 0, webx, 0, 0)); /* whole names */
	assert_true(ALLOWS(XTS_ACL_TLS, 1, 0, api, 0, 0));
	assert_int_equal(load("queues = 1;\n"), 0);
	cfg_to_shm(&c, 1, &snap);
	assert_true(ALLOWS(XTS_ACL_TLS, 0, 0, api, 0, 0));
	expect_err("acl = { tls = [ \"a-name-far-too-long\" ]; };\n", 1, "acl.tls[0]",
		   "TLS profile's name");
	/* names only profiles of the file (before or after the rules): a
	 * typo would refuse every push of the profile meant, seen only when a
	 * host tries */
	expect_err("acl = { tls = [ \"web\", \"wbe\" ]; };\n" PROFS, 1, "acl.tls[1]",
		   "unknown profile \"wbe\"");
	expect_err("queues = 2;\n" PROFS "shards = ( { queue = 0; tls = [ \"api\" ]; },\n"
		   "  { queue = 1;\n    tls = [ \"*\", \"x\" ]; } );\n",
		   5, "shards.[1].tls[1]", "unknown profile \"x\"");
	expect_err("acl = { tls = [ \"web\" ]; };\n", 1, "acl.tls[0]", "unknown profile \"web\"");
	assert_int_equal(load("shards = ( { queue = 0; tls = [ \"web\" ]; } );\n" PROFS), 0);
}

/* ::ffff:a.b.c.d is a.b.c.d: an IPv6 rule never lets an IPv4 destination
 * through in its mapped spelling (the bypass: [::]/0:8007 opened
 * ::ffff:198.18.0.2 port 8007, and ::ffff:127.0.0.1 the DPU's loopback). */
static void t_acl_mapped(void **st)
{
	static struct xts_shm_cfg snap;
	uint8_t v4[16] = {198, 18, 0, 2}, m4[16] = {[10] = 0xff, 0xff, 198, 18, 0, 2};
	uint8_t mlo[16] = {[10] = 0xff, 0xff, 127, 0, 0, 1}, lo[16] = {127, 0, 0, 1};
	uint8_t v6[16] = {0xfd, 0, 0, 0x78, 0, 0x74, [15] = 2}, m9[16] = {[10] = 0xff, 0xff, 10};

	(void)st;
	assert_int_equal(load("acl = { connect = [ \"198.18.0.2:7\", \"[::]/0:8007\","
			      " \"[::ffff:10.0.0.0]/104\" ]; };\n"),
			 0);
	/* the mapped rule became the IPv4 rule 10.0.0.0/8 */
	assert_int_equal(c.run.acl[2].family, AF_INET);
	assert_int_equal(c.run.acl[2].prefix, 8);
	assert_int_equal(c.run.acl[2].addr[0], 10);
	cfg_to_shm(&c, 1, &snap);
	assert_false(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET, v4, 8007, 0));
	assert_false(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET6, m4, 8007, 0));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET6, m4, 7, 0));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET6, v6, 8007, 0));
	assert_false(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET, lo, 8007, 0));
	assert_false(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET6, mlo, 8007, 0));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET6, m9, 1, 0));
	/* the normal form leaves what is not mapped alone */
	{
		uint8_t f = AF_INET6, a[16] = {[10] = 0xff, 0xfe, 1, 2, 3, 4}, p = 128;

		xts_acl_norm(&f, a, &p);
		assert_int_equal(f, AF_INET6);
		assert_int_equal(p, 128);
		a[11] = 0xff;
		p = 95;
		xts_acl_norm(&f, a, &p);
		assert_int_equal(f, AF_INET6);
		p = 120;
		xts_acl_norm(&f, a, &p);
		assert_int_equal(f, AF_INET);
		assert_int_equal(p, 24);
		assert_memory_equal(a, "\1\2\3\4\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	}
}

/* The DPU itself (loopback, 0/8, ::, ::1, their mapped forms, and what
 * the caller knows is local) is refused unless a rule names it: with no
 * rules at all too, and through "*" or a subnet holding the address. */
static void t_acl_local(void **st)
{
	static struct xts_shm_cfg snap;
	static const uint8_t locals[][17] = {
	    {AF_INET, 127, 0, 0, 1},
	    {AF_INET, 127, 1, 2, 3},
	    {AF_INET, 0, 0, 0, 0},
	    {AF_INET6, [16] = 0},
	    {AF_INET6, [16] = 1},
	    {AF_INET6, [11] = 0xff, 0xff, 127, 0, 0, 1},
	    {AF_INET6, [11] = 0xff, 0xff, 0, 0, 0, 0},
	};
	uint8_t dpu[16] = {198, 18, 0, 1}, net[16] = {198, 18, 0, 2};

	(void)st;
	assert_int_equal(load(""), 0); /* no rules */
	cfg_to_shm(&c, 1, &snap);
	for (unsigned i = 0; i < sizeof(locals) / sizeof(locals[0]); i++)
		assert_false(ALLOWS(XTS_ACL_CONNECT, 0, locals[i][0], locals[i] + 1, 7, 0));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET, net, 7, 0));
	assert_false(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET, dpu, 7, 1));
	assert_true(ALLOWS(XTS_ACL_LISTEN, 0, AF_INET, locals[0] + 1, 7, 1)); /* ports only */
	assert_int_equal(load("acl = { connect = [ \"*\", \"0.0.0.0/0\", \"[::]/0\","
			      " \"198.18.0.0/24\" ]; };\n"),
			 0);
	cfg_to_shm(&c, 1, &snap);
	for (unsigned i = 0; i < sizeof(locals) / sizeof(locals[0]); i++)
		assert_false(ALLOWS(XTS_ACL_CONNECT, 0, locals[i][0], locals[i] + 1, 7, 0));
	assert_false(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET, dpu, 7, 1));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET, dpu, 7, 0));
	/* rules that name them: 127/8 inside, the very address */
	assert_int_equal(load("acl = { connect = [ \"127.0.0.0/8:7\", \"198.18.0.1:22\","
			      " \"[::1]:7\", \"0.0.0.0/32:9\" ]; };\n"),
			 0);
	cfg_to_shm(&c, 1, &snap);
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, locals[0][0], locals[0] + 1, 7, 0));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, locals[1][0], locals[1] + 1, 7, 0));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, locals[5][0], locals[5] + 1, 7, 0));
	assert_false(ALLOWS(XTS_ACL_CONNECT, 0, locals[0][0], locals[0] + 1, 8, 0));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, locals[4][0], locals[4] + 1, 7, 0));
	assert_false(ALLOWS(XTS_ACL_CONNECT, 0, locals[3][0], locals[3] + 1, 7, 0));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, locals[2][0], locals[2] + 1, 9, 0));
	assert_true(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET, dpu, 22, 1));
	assert_false(ALLOWS(XTS_ACL_CONNECT, 0, AF_INET, dpu, 7, 1));
}

static void t_reloadable(void **st)
{
	static struct cfg a, b;

	(void)st;
	assert_int_equal(load("limits = { max_conns = 100; listeners = 8; };\n"), 0);
	a = c;
	assert_int_equal(load("limits = { max_conns = 50; listeners = 4; };\n"), 0);
	b = c;
	assert_int_equal(cfg_reloadable(&a, &b, err), 0); /* down */
	assert_int_equal(cfg_reloadable(&a, &a, err), 0); /* back up to the start */
	assert_int_equal(cfg_reloadable(&b, &a, err), -EINVAL);
	assert_non_null(strstr(err, "limits.max_conns: 100 is above 50"));
	b.run.max_conns = 100;
	assert_int_equal(cfg_reloadable(&b, &a, err), -EINVAL);
	assert_non_null(strstr(err, "limits.listeners: 8 is above 4"));
	b = a;
	b.queues = 3;
	assert_int_equal(cfg_reloadable(&a, &b, err), -EINVAL);
	assert_non_null(strstr(err, "queues: changed; that needs a restart"));
	b = a;
	b.ctl_mode = 0600;
	assert_int_equal(cfg_reloadable(&a, &b, err), -EINVAL);
	assert_non_null(strstr(err, "ctl.mode: changed"));
	b = a;
	b.shard[3].ncpus = 1;
	assert_int_equal(cfg_reloadable(&a, &b, err), -EINVAL);
	assert_non_null(strstr(err, "shards: changed"));
	/* reloadable ones, whatever they become */
	b = a;
	b.run.shard_buf *= 2;
	b.run.log_level = XTS_LOG_DEBUG;
	b.hang_ms = 1;
	b.run.nacl = 1;
	assert_int_equal(cfg_reloadable(&a, &b, err), 0);
}

/* What the shards apply reaches their snapshot, limits.listeners too
 * (reload accepted it and nothing applied it). */
static void t_snapshot(void **st)
{
	static struct xts_shm_cfg snap;

	(void)st;
	assert_int_equal(load("log_level = \"debug\";\n"
			      "limits = { max_conns = 99; conn_buf = 8192; shard_buf = 5368709120;"
			      " listeners = 7; };\n"
			      "timeouts = { connect_ms = 11; idle_ms = 12; dead_host_ms = 13;"
			      " linger_ms = 14; handoff_ms = 15; };\n"
			      "acl = { listen = [ \"80\" ]; };\n"),
			 0);
	memset(&snap, 0xff, sizeof(snap));
	cfg_to_shm(&c, 5, &snap);
	assert_int_equal(snap.gen, 5);
	assert_int_equal(snap.seq, 0);
	assert_int_equal(snap.log_level, XTS_LOG_DEBUG);
	assert_int_equal(snap.max_conns, 99);
	assert_int_equal(snap.conn_buf, 8192);
	assert_int_equal(snap.shard_buf, 5368709120ull);
	assert_int_equal(snap.listeners, 7);
	assert_int_equal(snap.connect_ms, 11);
	assert_int_equal(snap.idle_ms, 12);
	assert_int_equal(snap.dead_host_ms, 13);
	assert_int_equal(snap.linger_ms, 14);
	assert_int_equal(snap.handoff_ms, 15);
	assert_int_equal(snap.nacl, 1);
	assert_int_equal(snap.acl[0].port_lo, 80);
}

/* Poll modes: the poll group gives every shard's, a shards entry its own
 * (poll, spin_us), all into the snapshot (reloadable: a reload changes
 * them); bad names and ranges fail with FILE:LINE. */
static void t_poll(void **st)
{
	static struct cfg a;
	static struct xts_shm_cfg snap;

	(void)st;
	assert_int_equal(load(""), 0);
	for (unsigned q = 0; q < CFG_MAX_QUEUES; q++) {
		assert_int_equal(c.run.poll[q].mode, XTS_POLL_SLEEP);
		assert_int_equal(c.run.poll[q].spin_us, 50);
		assert_int_equal(c.run.poll[q].napi_budget, 64);
	}
	a = c;
	assert_int_equal(load("queues = 4;\n"
			      "poll = { mode = \"adaptive\"; spin_us = 20; napi_budget = 8; };\n"
			      "shards = ( { queue = 1; poll = \"busy\"; },\n"
			      "           { queue = 2; poll = \"sleep\"; spin_us = 7; } );\n"),
			 0);
	cfg_to_shm(&c, 2, &snap);
	assert_int_equal(snap.poll[0].mode, XTS_POLL_ADAPTIVE);
	assert_int_equal(snap.poll[0].spin_us, 20);
	assert_int_equal(snap.poll[0].napi_budget, 8);
	assert_int_equal(snap.poll[1].mode, XTS_POLL_BUSY);
	assert_int_equal(snap.poll[1].spin_us, 20);
	assert_int_equal(snap.poll[2].mode, XTS_POLL_SLEEP);
	assert_int_equal(snap.poll[2].spin_us, 7);
	assert_int_equal(snap.poll[3].mode, XTS_POLL_ADAPTIVE);
	assert_string_equal(xts_poll_mode_name(snap.poll[1].mode), "busy");
	/* reload may change any of it (queues aside, which it may not) */
	c.queues = a.queues;
	assert_int_equal(cfg_reloadable(&a, &c, err), 0);
	expect_err("poll = { mode = \"spin\"; };\n", 1, "poll.mode",
		   "\"spin\": must be sleep, busy or adaptive");
	expect_err("poll = {\n spin_us = 1000001; };\n", 2, "poll.spin_us",
		   "1000001 out of range [0, 1000000]");
	expect_err("poll = { napi_budget = 65536; };\n", 1, "poll.napi_budget", "out of range");
	expect_err("queues = 2;\nshards = ( { queue = 1;\n poll = \"fast\"; } );\n", 3,
		   "shards.[0].poll", "\"fast\": must be sleep, busy or adaptive");
	expect_err("queues = 2;\nshards = ( { queue = 1; poll = 1; } );\n", 2, "shards.[0].poll",
		   "must be a string");
	expect_err("queues = 2;\nshards = ( { queue = 0; spin_us = -1; } );\n", 2,
		   "shards.[0].spin_us", "out of range");
}

/* Anything but a regular file is refused before libconfig sees it:
 * libconfig's scanner exit()s on a directory and blocks on a FIFO. */
static void t_not_regular(void **st)
{
	char dir[96], fifo[96], lnk[96], want[160];
	const char *const files[] = {dir, fifo, lnk};

	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/test_cfg.%d.dir", getpid());
	snprintf(fifo, sizeof(fifo), "/tmp/test_cfg.%d.fifo", getpid());
	snprintf(lnk, sizeof(lnk), "/tmp/test_cfg.%d.zero", getpid());
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(symlink("/dev/zero", lnk), 0);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_not_equal(cfg_load(files[i], &c, err), 0);
		snprintf(want, sizeof(want), "%s: not a regular file", files[i]);
		assert_string_equal(err, want);
	}
	rmdir(dir);
	unlink(fifo);
	unlink(lnk);
}

/* A file past CFG_MAX_BYTES (a sparse one: the size alone says so), and
 * one exactly at the bound (comments: loads). */
static void t_huge(void **st)
{
	char want[160];
	FILE *f;
	int fd;

	(void)st;
	load("");
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8ll << 30), 0);
	close(fd);
	assert_int_equal(cfg_load(path, &c, err), -EFBIG);
	snprintf(want, sizeof(want), "%s: larger than %u bytes", path, CFG_MAX_BYTES);
	assert_memory_equal(err, want, strlen(want));
	f = fopen(path, "w");
	assert_non_null(f);
	for (unsigned n = 0; n < CFG_MAX_BYTES; n += 64)
		fprintf(f, "#%62s\n", "");
	fclose(f);
	assert_int_equal(cfg_load(path, &c, err), 0);
	f = fopen(path, "a");
	fputs("\n", f);
	fclose(f);
	assert_int_equal(cfg_load(path, &c, err), -EFBIG);
}

/* libconfig 1.5 reads an unsuffixed literal past 32 bits with atoi:
 * 5368709120 would be 1 GiB and 4294967297 would be 1. */
static void t_wide_ints(void **st)
{
	(void)st;
	assert_int_equal(load("limits = { shard_buf = 5368709120; };\n"), 0);
	assert_int_equal(c.run.shard_buf, 5368709120ull);
	assert_int_equal(load("limits = { shard_buf = 0x140000000; };\n"), 0);
	assert_int_equal(c.run.shard_buf, 5368709120ull);
	assert_int_equal(load("limits = { shard_buf = 0x80000000; conn_buf = 0x10000; };\n"), 0);
	assert_int_equal(c.run.shard_buf, 0x80000000ull);
	assert_int_equal(c.run.conn_buf, 0x10000);
	assert_int_equal(load("limits = { shard_buf = 5368709120L; };\n"), 0);
	assert_int_equal(c.run.shard_buf, 5368709120ull);
	/* in a list, next to 32-bit ones, after a comment and a string */
	assert_int_equal(load("# 4294967297\nlog_level = \"debug\"; // 0x100000001\n"
			      "limits = { shard_buf = 2147483648; max_conns = 2147483647"
			      " /* 99999999999999999999 */; };\n"
			      "shards = ( { queue = 1; cpus = [ 1, 2 ]; } );\n"),
			 -EINVAL);
	assert_non_null(strstr(err, ":3: limits.max_conns: 2147483647 out of range"));
	expect_err("queues = 4294967297;\n", 1, "queues", "4294967297 out of range [1, 256]");
	expect_err("\nqueues = 0x100000001;\n", 2, "queues", "4294967297 out of range");
	expect_err("timeouts = { hang_ms = -3000000000; };\n", 1, "timeouts.hang_ms",
		   "-3000000000 out of range");
	expect_err("limits = { shard_buf = 5368709120000; };\n", 1, "limits.shard_buf",
		   "5368709120000 out of range [1048576, 1099511627776]");
	expect_err("limits = {\n shard_buf = 99999999999999999999;\n};\n", 2, "limits.shard_buf",
		   "out of range [1048576, 1099511627776]");
	expect_err("limits = { shard_buf = 0x1ffffffffffffffff; };\n", 1, "limits.shard_buf",
		   "out of range");
	expect_err("queues = 2;\nshards = ( { queue = 4294967296; } );\n", 2, "shards.[0].queue",
		   "4294967296 out of range [0, 1]");
	expect_err("shards = ( { queue = 0; cpus = ( 0, 4294967297 ); } );\n", 1,
		   "shards.[0].cpus[1]", "4294967297 out of range");
	expect_err("limits = { max_conns = 1.5; };\n", 1, "limits.max_conns", "must be an integer");
	expect_err("limits = { max_conns = .12345678901; };\n", 1, "limits.max_conns",
		   "must be an integer");
	expect_err("limits = { max_conns = 12345678901e-5; };\n", 1, "limits.max_conns",
		   "must be an integer");
}

static void t_text(void **st)
{
	(void)st;
	expect_err("queues = 2;\n@include \"/tmp\"\n", 2, "syntax error", "@include");
	assert_int_equal(load("queues = 2; # @include \"/tmp\"\nrun_dir = \"/x@y\";\n"), 0);
	assert_string_equal(c.run_dir, "/x@y");
	assert_int_equal(c.queues, 2);
	/* a NUL would end libconfig's text early: the rest silently ignored */
	snprintf(path, sizeof(path), "/tmp/test_cfg.%d.conf", getpid());
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fwrite("queues = 2;\n\0queues = 3;\n", 1, 25, f);
		fclose(f);
	}
	assert_int_equal(cfg_load(path, &c, err), -EINVAL);
	assert_non_null(strstr(err, ":2: syntax error: a NUL byte"));
}

static void t_dup_shard(void **st)
{
	(void)st;
	expect_err("shards = (\n { queue = 1; cpus = [ 1 ]; },\n { queue = 0; },\n"
		   " { queue = 1; cpus = [ 2 ]; connect = [ \"10.0.0.1\" ]; }\n);\n",
		   4, "shards.[2].queue", "queue 1 has an entry already (line 2)");
}

/* strtol took signs and spaces: "+0660", "198.18.0.2: 7" */
static void t_strict(void **st)
{
	static const char *const modes[] = {"+0660", " 660", "0660 ", "0x1ff",
					    "06600", "-0",   "",      "0800"};
	static const char *const rules[] = {"198.18.0.2: 7", "198.18.0.2:+7", "198.18.0.2:7 ",
					    "198.18.0.2:-7", "10.0.0.0/ 8",   "10.0.0.0/+8",
					    "10.0.0.0/8 ",   "[::1]: 7",      "10.0.0.1:7-+8",
					    " 10.0.0.1",     "10.0.0.1:0x10", "10.0.0.1:65536"};
	static const char *const lrules[] = {" 80", "+80", "80-+90", "80 ", "80-", "-80"};
	char text[128];

	(void)st;
	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(text, sizeof(text), "ctl = { mode = \"%s\"; };\n", modes[i]);
		expect_err(text, 1, "ctl.mode", "must be an octal mode string");
	}
	for (unsigned i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		snprintf(text, sizeof(text), "acl = { connect = [ \"%s\" ]; };\n", rules[i]);
		expect_err(text, 1, "acl.connect[0]", rules[i]);
	}
	for (unsigned i = 0; i < sizeof(lrules) / sizeof(lrules[0]); i++) {
		snprintf(text, sizeof(text), "acl = { listen = [ \"%s\" ]; };\n", lrules[i]);
		expect_err(text, 1, "acl.listen[0]", "want PORT");
	}
	assert_int_equal(load("ctl = { mode = \"600\"; };\n"
			      "acl = { connect = [ \"10.0.0.0/8:007-8\" ]; };\n"),
			 0);
	assert_int_equal(c.ctl_mode, 0600);
	assert_int_equal(c.run.acl[0].port_lo, 7);
}

/* The table is the one source: its defaults are what conf/xts.conf shows,
 * and conf/xts.conf documents every option in it. */
static void t_table(void **st)
{
	static struct cfg def, conf;
	const struct cfg_opt *o;
	char *text, *grp;
	size_t n;
	FILE *f;
	long len;

	(void)st;
	assert_int_equal(load(""), 0);
	def = c;
	assert_int_equal(cfg_load(XTS_SRC_DIR "/conf/xts.conf", &conf, err), 0);
	f = fopen(XTS_SRC_DIR "/conf/xts.conf", "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	o = cfg_opts(&n);
	assert_true(n > 20);
	for (size_t i = 0; i < n; i++, o++) {
		const char *dot = strchr(o->name, '.');
		char want[96];

		if (!o->help || !*o->help)
			fail_msg("%s: no help line", o->name);
		if (o->size && memcmp((char *)&def + o->off, (char *)&conf + o->off, o->size))
			fail_msg("%s: conf/xts.conf does not show the default", o->name);
		/* "\nNAME = " at the top, "\n  NAME = " inside "\nGROUP = {" */
		if (!dot) {
			snprintf(want, sizeof(want), "\n%s = ", o->name);
			if (!strstr(text, want))
				fail_msg("%s: not in conf/xts.conf", o->name);
			continue;
		}
		snprintf(want, sizeof(want), "\n%.*s = {\n", (int)(dot - o->name), o->name);
		grp = strstr(text, want);
		if (!grp)
			fail_msg("%s: its group is not in conf/xts.conf", o->name);
		snprintf(want, sizeof(want), "\n  %s = ", dot + 1);
		{
			char *in = strstr(grp, want), *end = strstr(grp, "\n};");

			if (!in || !end || in > end)
				fail_msg("%s: not in conf/xts.conf", o->name);
		}
	}
	assert_int_equal(conf.run.nacl, 0);
	free(text);
}

/* TLS profiles: paths and settings into the snapshot, the files checked
 * by building the contexts (a key that does not match its certificate,
 * a missing file: FILE:LINE and OpenSSL's reason), names unique. */
static void t_tls(void **st)
{
	char dir[] = "/tmp/test_cfg_tls.XXXXXX", text[2048], cmd[600];
	const struct xts_shm_tls_prof *p;

	(void)st;
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && for n in a b; do openssl req -x509 -newkey ec -pkeyopt "
		 "ec_paramgen_curve:prime256v1 -nodes -keyout $n.key -out $n.pem -days 1 "
		 "-subj /CN=$n >/dev/null 2>&1 || exit 1; done",
		 dir);
	assert_int_equal(system(cmd), 0);
	snprintf(text, sizeof(text),
		 "tls = ( { name = \"web\"; cert = \"%s/a.pem\"; key = \"%s/a.key\";\n"
		 "          alpn = [ \"h2\", \"http/1.1\" ]; min_version = \"1.3\";\n"
		 "          sni = ( { name = \"*.b.example\"; cert = \"%s/b.pem\"; key = "
		 "\"%s/b.key\"; } ); },\n"
		 "        { name = \"api\"; ca = \"%s/a.pem\"; } );\n",
		 dir, dir, dir, dir, dir);
	assert_int_equal(load(text), 0);
	assert_int_equal(c.run.ntls, 2);
	p = &c.run.tls[0];
	assert_string_equal(p->name, "web");
	assert_int_equal(p->ncert, 2);
	assert_string_equal(p->cert[1].sni, "*.b.example");
	assert_memory_equal(p->alpn, "\x02h2\x08http/1.1\0", 13);
	assert_int_equal(p->min_version, 0x0304);
	assert_int_equal(p->max_version, 0x0304);
	assert_int_equal(c.run.tls[1].verify, 1); /* on unless told */
	assert_int_equal(c.run.tls[1].ncert, 0);
	assert_int_equal(c.run.tls[0].bio, XTS_TLS_BIO_AUTO);
	assert_int_equal(load("tls = ( { name = \"x\"; bio = \"socket\"; },\n"
			      "        { name = \"y\"; bio = \"own\"; } );\n"),
			 0);
	assert_int_equal(c.run.tls[0].bio, XTS_TLS_BIO_SOCKET);
	assert_int_equal(c.run.tls[1].bio, XTS_TLS_BIO_OWN);
	/* a key that is not the certificate's */
	snprintf(text, sizeof(text),
		 "\ntls = ( { name = \"web\"; cert = \"%s/a.pem\"; key = \"%s/b.key\"; } );\n", dir,
		 dir);
	expect_err(text, 2, "tls.[0]", "mismatch");
	snprintf(text, sizeof(text),
		 "tls = ( { name = \"web\"; cert = \"%s/none.pem\"; key = \"%s/a.key\"; } );\n",
		 dir, dir);
	expect_err(text, 1, "tls.[0]", "none.pem");
	expect_err("tls = ( { name = \"x\"; colour = \"red\"; } );\n", 1, "tls.[0].colour",
		   "unknown option");
	expect_err("tls = ( { name = \"x\"; max_version = \"1.1\"; } );\n", 1,
		   "tls.[0].max_version", "1.2 or 1.3");
	expect_err("tls = ( { name = \"x\"; }, { name = \"x\"; } );\n", 1, "tls", "twice");
	/* bio: how records reach the socket (auto unless told) */
	expect_err("tls = ( { name = \"x\";\n  bio = \"kernel\"; } );\n", 2, "tls.[0].bio",
		   "auto, own or socket");
	expect_err("tls = ( { name = \"x\"; bio = 2; } );\n", 1, "tls.[0].bio", "string");
	expect_err("tls = ( { name = \"x\"; bio = \"\"; } );\n", 1, "tls.[0].bio", "auto, own");
	expect_err("tls = ( { name = \"x\"; min_version = 2; } );\n", 1, "tls.[0].min_version",
		   "string");
	expect_err("tls = ( { name = \"x\"; cert = \"/x\"; } );\n", 1, "tls.[0]", "cert and key");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_tls),	     cmocka_unit_test(t_defaults),
	    cmocka_unit_test(t_valid),	     cmocka_unit_test(t_syntax),
	    cmocka_unit_test(t_unknown),     cmocka_unit_test(t_range),
	    cmocka_unit_test(t_bad_cidr),    cmocka_unit_test(t_acl_match),
	    cmocka_unit_test(t_acl_tls),     cmocka_unit_test(t_reloadable),
	    cmocka_unit_test(t_not_regular), cmocka_unit_test(t_huge),
	    cmocka_unit_test(t_wide_ints),   cmocka_unit_test(t_text),
	    cmocka_unit_test(t_dup_shard),   cmocka_unit_test(t_strict),
	    cmocka_unit_test(t_table),	     cmocka_unit_test(t_acl_mapped),
	    cmocka_unit_test(t_acl_local),   cmocka_unit_test(t_snapshot),
	    cmocka_unit_test(t_poll),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	unlink(path);
	return rc;
}

// SPDX-License-Identifier: BSD-2-Clause
/* test_pl_rules.c - xts-run's rules file (xport/preload/pl_rules.c): the
 * grammar, first match wins, what a tls rule pushes, and each mistake
 * named FILE:LINE: reason. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "preload.h"

/* pl_rules.c logs through this (the shim's is pl_core.c's) */
int pl_log_level;
void pl_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static char path[64];
static struct pl_rules rs;
static char err[512];

static int load(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_pl_rules.%d", getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	err[0] = 0;
	return pl_rules_load(&rs, path, err, sizeof(err));
}

/* err must be "PATH:LINE: ...WHY..." */
static void expect_err(const char *text, int line, const char *why)
{
	char want[128];

	if (load(text) != -1)
		fail_msg("accepted: \"%s\"", text);
	snprintf(want, sizeof(want), "%s:%d: ", path, line);
	if (strncmp(err, want, strlen(want)) || !strstr(err, why))
		fail_msg("error \"%s\", want \"%s...%s\"", err, want, why);
	assert_null(rs.r); /* nothing kept of a bad file */
}

static struct sockaddr_storage ss;
static socklen_t sslen;

static const struct sockaddr *addr(const char *ip, unsigned port)
{
	struct sockaddr_in *s4 = (void *)&ss;
	struct sockaddr_in6 *s6 = (void *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sslen = sizeof(*s4);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sslen = sizeof(*s6);
	}
	return (const struct sockaddr *)&ss;
}

static int match(int role, const char *ip, unsigned port, const struct pl_tls **tls)
{
	const struct sockaddr *sa = addr(ip, port); /* sets sslen */
	const char *why;

	return pl_rules_match(&rs, role, sa, sslen, &why, tls);
}

static void t_plain_rules(void **st)
{
	const struct pl_tls *tls = (void *)1;

	(void)st;
	assert_int_equal(load("# c\nkernel client 198.18.0.2:8000\noffload client 198.18.0.0/24\n"
			      "kernel *:53\noffload server [fd00::]/64:80,1000-2000\n"
			      "default kernel\n"),
			 0);
	assert_int_equal(rs.n, 4);
	assert_int_equal(match(PL_ROLE_CLIENT, "198.18.0.2", 8000, &tls), PL_KERNEL);
	assert_null(tls);
	assert_int_equal(match(PL_ROLE_CLIENT, "198.18.0.2", 8001, &tls), PL_OFFLOAD);
	assert_null(tls);
	assert_int_equal(match(PL_ROLE_CLIENT, "198.18.0.9", 53, NULL), PL_OFFLOAD);
	assert_int_equal(match(PL_ROLE_SERVER, "0.0.0.0", 53, NULL), PL_KERNEL);
	assert_int_equal(match(PL_ROLE_SERVER, "fd00::1", 1500, NULL), PL_OFFLOAD);
	assert_int_equal(match(PL_ROLE_SERVER, "fd00::1", 2001, NULL), PL_KERNEL); /* default */
	assert_int_equal(match(PL_ROLE_CLIENT, "::ffff:198.18.0.7", 9, NULL), PL_OFFLOAD);
	assert_int_equal(match(PL_ROLE_CLIENT, "127.0.0.1", 9, NULL), PL_KERNEL); /* loopback */
	pl_rules_free(&rs);
}

static void t_tls_rules(void **st)
{
	static const uint8_t wire[] = "\x02h2\x08http/1.1";
	const struct pl_tls *tls;

	(void)st;
	assert_int_equal(load("kernel client 198.18.0.2:9999\n"
			      "tls terminate *:443,8443 profile web\n"
			      "tls originate 198.18.0.2:8443 profile api name net.xts.test "
			      "alpn h2,http/1.1\n"
			      "\ttls originate [fd00::2]:443   alpn http/1.1 profile api6 # c\n"
			      "offload *\n"),
			 0);
	/* terminate: listeners on those ports, any address */
	assert_int_equal(match(PL_ROLE_SERVER, "0.0.0.0", 8443, &tls), PL_OFFLOAD);
	assert_non_null(tls);
	assert_string_equal(tls->profile, "web");
	assert_string_equal(tls->name, "");
	assert_int_equal(tls->alpn_len, 0);
	assert_int_equal(tls->line, 2);
	/* not a connect to 443, not a listener on another port */
	assert_int_equal(match(PL_ROLE_CLIENT, "198.18.0.9", 443, &tls), PL_OFFLOAD);
	assert_null(tls);
	assert_int_equal(match(PL_ROLE_SERVER, "0.0.0.0", 80, &tls), PL_OFFLOAD);
	assert_null(tls);
	/* originate: that destination only */
	assert_int_equal(match(PL_ROLE_CLIENT, "198.18.0.2", 8443, &tls), PL_OFFLOAD);
	assert_non_null(tls);
	assert_string_equal(tls->profile, "api");
	assert_string_equal(tls->name, "net.xts.test");
	assert_int_equal(tls->alpn_len, sizeof(wire) - 1);
	assert_memory_equal(tls->alpn, wire, sizeof(wire) - 1);
	assert_int_equal(tls->line, 3);
	assert_int_equal(match(PL_ROLE_CLIENT, "198.18.0.3", 8443, &tls), PL_OFFLOAD);
	assert_null(tls);
	assert_int_equal(match(PL_ROLE_SERVER, "198.18.0.2", 8443, &tls), PL_OFFLOAD);
	assert_non_null(tls); /* the terminate rule's, not originate's */
	assert_string_equal(tls->profile, "web");
	assert_int_equal(match(PL_ROLE_CLIENT, "fd00::2", 443, &tls), PL_OFFLOAD);
	assert_non_null(tls);
	assert_string_equal(tls->profile, "api6");
	assert_int_equal(tls->alpn_len, 9);
	/* the kernel rule first: no TLS there */
	assert_int_equal(match(PL_ROLE_CLIENT, "198.18.0.2", 9999, &tls), PL_KERNEL);
	assert_null(tls);
	pl_rules_free(&rs);
}

/* @head, then @fill up to @n bytes in all, then a newline */
static const char *padded(const char *head, char fill, size_t n)
{
	static char buf[800];

	assert_true(n + 2 <= sizeof(buf));
	memset(buf, fill, n);
	memcpy(buf, head, strlen(head));
	buf[n] = '\n';
	buf[n + 1] = 0;
	return buf;
}

static void t_tls_errors(void **st)
{
	(void)st;
	expect_err("offload *\ntls originate 198.18.0.2:8443\n", 2, "a profile is needed");
	expect_err("tls terminate *:443 profile web name x\n", 1, "name is originate's");
	expect_err("tls proxy *:443 profile web\n", 1, "terminate (listeners) or originate");
	expect_err("tls terminate *:443 profile sixteen-bytes-xx\n", 1, "at most 15 bytes");
	expect_err("tls terminate *:443 profile web profile web2\n", 1, "profile given twice");
	expect_err("tls originate *:443 profile api alpn h2 alpn h3\n", 1, "alpn given twice");
	expect_err("tls originate *:443 profile api alpn h2,,h3\n", 1, "alpn:");
	/* 63 bytes of ALPN in wire form fit, 64 do not */
	assert_int_equal(load(padded("tls originate *:443 profile api alpn a,", 'b', 99)), 0);
	pl_rules_free(&rs);
	expect_err(padded("tls originate *:443 profile api alpn a,", 'b', 100), 1,
		   "63 bytes at most");
	expect_err("tls originate *:443 profile api sni x\n", 1, "sni: unknown option");
	expect_err("tls originate *:443 profile api name\n", 1, "name: its value is missing");
	expect_err("tls originate *:443:x profile api\n", 1, "bad port list");
	expect_err("tls terminate\n", 1, "expected tls terminate|originate");
	expect_err("tls originate 127.0.0.1:443 profile api\n", 1, "loopback");
	expect_err("tls originate [::1]:443 profile api\n", 1, "loopback");
	expect_err(padded("tls originate *:1 profile a name ", 'n', 33 + 256), 1,
		   "at most 255 bytes");
	expect_err("offload *\nkernel x\n", 2, "bad IPv4 address");
	expect_err(padded("offload *", ' ', 600), 1, "line longer than");
	expect_err("offload client * * *\n", 1, "expected: ACTION");
}

static void t_tls_shadowed(void **st)
{
	(void)st;
	expect_err("kernel client 198.18.0.0/24\n#\ntls originate 198.18.0.2:8443 profile api\n", 3,
		   "the rule of line 1 matches all it would first");
	expect_err("offload server *:1-1000\ntls terminate 198.18.0.1:443 profile web\n", 2,
		   "line 1 matches all");
	expect_err("tls terminate *:443 profile a\ntls terminate *:443 profile b\n", 2,
		   "line 1 matches all");
	/* partial overlaps are fine: each applies where it matches first */
	assert_int_equal(load("kernel server *:80\nkernel client 198.18.0.2:443\n"
			      "kernel client 198.18.1.0/24:8443\n"
			      "tls originate 198.18.0.0/16:443,8443 profile api\n"
			      "tls terminate *:443 profile web\n"),
			 0);
	assert_int_equal(match(PL_ROLE_CLIENT, "198.18.0.2", 443, NULL), PL_KERNEL);
	assert_int_equal(match(PL_ROLE_CLIENT, "198.18.1.2", 8443, NULL), PL_KERNEL);
	assert_int_equal(match(PL_ROLE_CLIENT, "198.18.2.2", 8443, NULL), PL_OFFLOAD);
	pl_rules_free(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_plain_rules),
	    cmocka_unit_test(t_tls_rules),
	    cmocka_unit_test(t_tls_errors),
	    cmocka_unit_test(t_tls_shadowed),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);

	unlink(path);
	return r;
}

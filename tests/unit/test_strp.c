// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_strp.c - the framing parsers (shard/strp_parse.c): where each kind
 * ends a message, what it refuses and why, and that no segmentation of the
 * stream (byte by byte, every fixed size, random cuts) moves a boundary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strp_parse.h"

#define MAXB 64

struct run {
	size_t ends[MAXB]; /* stream offsets just past each message */
	unsigned n;
	int err; /* 0, or the error */
	const char *why;
};

/* Feed @s in pieces of @piece bytes (0: random 1..17, seeded @seed). */
static struct run feed(const struct xts_strp *spec, uint64_t max, const void *s, size_t len,
		       size_t piece, unsigned seed)
{
	struct strp_parser p;
	struct run r = {0};
	size_t off = 0;

	strp_init(&p, spec, max);
	srand(seed);
	while (off < len) {
		size_t n = piece ? piece : 1 + (size_t)(rand() % 17), at = 0;

		if (n > len - off)
			n = len - off;
		while (at < n) {
			bool end;
			ssize_t k = strp_feed(&p, (const uint8_t *)s + off + at, n - at, &end);

			if (k < 0) {
				r.err = (int)-k;
				r.why = p.why;
				return r;
			}
			assert_true(k > 0 && (size_t)k <= n - at);
			at += (size_t)k;
			if (end) {
				assert_true(r.n < MAXB);
				r.ends[r.n++] = off + at;
			} else {
				assert_int_equal(at, n); /* not ended: the whole piece taken */
			}
		}
		off += n;
	}
	r.err = -strp_eof(&p);
	r.why = p.why;
	return r;
}

/* Every segmentation gives the boundaries @want (n of them) and @err. */
static void check(const struct xts_strp *spec, uint64_t max, const char *s, size_t len,
		  const size_t *want, unsigned n, int err)
{
	static const size_t pieces[] = {0, 1, 2, 3, 5, 7, 13, 64, 1000, SIZE_MAX};

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		size_t piece = pieces[i] == SIZE_MAX ? len : pieces[i];

		for (unsigned seed = 1; seed <= (piece ? 1u : 20u); seed++) {
			struct run r = feed(spec, max, s, len, piece, seed);

			assert_int_equal(r.err, err);
			if (err && err != EPIPE)
				continue; /* boundaries before the error: checked below */
			assert_int_equal(r.n, n);
			for (unsigned k = 0; k < n; k++)
				assert_int_equal(r.ends[k], want[k]);
		}
	}
}

#define S(lit) lit, sizeof(lit) - 1
#define W(...)                                                                                     \
	((const size_t[]){__VA_ARGS__}), sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t)
#define NONE NULL, 0

static const struct xts_strp line_lf = {.kind = XTS_STRP_LINE};
static const struct xts_strp line_crlf = {.kind = XTS_STRP_LINE, .flags = XTS_STRP_F_CRLF};
static const struct xts_strp req = {.kind = XTS_STRP_HTTP_REQ};
static const struct xts_strp resp = {.kind = XTS_STRP_HTTP_RESP};
static const struct xts_strp redis = {.kind = XTS_STRP_RESP};

static void test_line(void **state)
{
	(void)state;
	check(&line_lf, 100, S("a\nbb\n\nccc\n"), W(2, 5, 6, 10), 0);
	/* \r\n kind: a \n alone stays inside the line, even cut between */
	check(&line_crlf, 100, S("a\nb\r\nc\r\r\n"), W(5, 9), 0);
	check(&line_lf, 100, S("abc"), NONE, EPIPE); /* ended inside a line */
	check(&line_lf, 4, S("abcde\n"), NONE, EMSGSIZE);
	check(&line_lf, 4, S("abc\n"), W(4), 0); /* exactly max */
}

static void test_len(void **state)
{
	struct xts_strp be4 = {.kind = XTS_STRP_LEN,
			       .width = 4,
			       .flags = XTS_STRP_F_BE,
			       .adjust = 4}; /* the field counts the body */
	struct xts_strp le2 = {.kind = XTS_STRP_LEN, .width = 2, .offset = 2}; /* counts all */
	struct xts_strp u8 = {.kind = XTS_STRP_LEN, .width = 1, .adjust = 1};
	struct xts_strp w8 = {
	    .kind = XTS_STRP_LEN, .width = 8, .flags = XTS_STRP_F_BE, .adjust = 8};
	struct xts_strp neg = {.kind = XTS_STRP_LEN, .width = 1, .adjust = -2};

	(void)state;
	check(&be4, 100, S("\0\0\0\3abc\0\0\0\0\0\0\0\1x"), W(7, 11, 16), 0);
	check(&le2, 100, S("ab\6\0cdAB\4\0"), W(6, 10), 0);
	check(&u8, 300, S("\0\2hi\xff"), W(1, 4), EPIPE); /* 256 bytes announced */
	check(&w8, 1000, S("\0\0\0\0\0\0\0\2ok"), W(10), 0);
	/* a length that cannot be: shorter than its header, past max */
	check(&le2, 100, S("ab\3\0c"), NONE, EBADMSG);
	check(&w8, 1000, S("\xff\xff\xff\xff\xff\xff\xff\xff"), NONE, EMSGSIZE);
	check(&be4, 100, S("\0\0\0\x61"), NONE, EMSGSIZE); /* 97 + 4 > 100 */
	check(&be4, 101, S("\0\0\0\x61"), NONE, EPIPE);	   /* fits: waits for the body */
	check(&neg, 100, S("\1"), NONE, EBADMSG);	   /* 1 - 2 < 0 */
	check(&neg, 100, S("\3"), W(1), 0);		   /* 3 - 2 = the field alone */
}

static void test_http_request(void **state)
{
	(void)state;
	check(&req, 1000,
	      S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"
		"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
		"PUT / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
		"3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrail: x\r\n\r\n"
		"HEAD / HTTP/1.0\r\n\r\n"),
	      W(27, 69, 166, 185), 0);
	/* smuggling: both lengths, two lengths, a space before the colon,
	 * folding, a request TE that does not end in chunked */
	check(&req, 1000,
	      S("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"), NONE,
	      EBADMSG);
	check(&req, 1000, S("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
	      NONE, EBADMSG);
	check(&req, 1000, S("POST / HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc"), NONE, EBADMSG);
	check(&req, 1000, S("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"), NONE, EBADMSG);
	check(&req, 1000, S("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), NONE, EBADMSG);
	check(&req, 1000, S("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"), NONE, EBADMSG);
	check(&req, 1000, S("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), NONE, EBADMSG);
	check(&req, 1000, S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), NONE,
	      EBADMSG);
	check(&req, 1000, S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n"),
	      NONE, EBADMSG);
	/* the same Content-Length twice is one */
	check(&req, 1000, S("POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length:1 \r\n\r\nx"),
	      W(58), 0);
	check(&req, 60, S("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n"), NONE, EMSGSIZE);
	check(&req, 1000, S("GET / HTTP/1.1\r\nHost: a\r\n"), NONE, EPIPE);
}

static void test_http_response(void **state)
{
	struct strp_parser p;
	bool end;
	static const char head_answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";

	(void)state;
	check(&resp, 1000,
	      S("HTTP/1.1 100 Continue\r\n\r\n"
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"
		"HTTP/1.1 304 Not Modified\r\n\r\n"
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
		"HTTP/1.0 200 OK\r\n\r\nuntil the end"),
	      W(25, 65, 111, 140, 199) /* the last ends with the stream */, 0);
	check(&resp, 1000, S("HTTP/1.1 2000 OK\r\n\r\n"), NONE, EBADMSG);
	check(&resp, 1000, S("SSH-2.0-x\r\n\r\n"), NONE, EBADMSG);
	/* an answer to HEAD has no body, whatever its Content-Length says;
	 * the next answer (to GET) has one */
	strp_init(&p, &resp, 1000);
	assert_int_equal(strp_http_req(&p, true), 0);
	assert_int_equal(strp_http_req(&p, false), 0);
	assert_int_equal(strp_feed(&p, (const uint8_t *)head_answer, sizeof(head_answer) - 1, &end),
			 sizeof(head_answer) - 1);
	assert_true(end);
	assert_int_equal(strp_feed(&p, (const uint8_t *)head_answer, sizeof(head_answer) - 1, &end),
			 sizeof(head_answer) - 1);
	assert_false(end);
	assert_int_equal(strp_feed(&p, (const uint8_t *)"12345", 5, &end), 5);
	assert_true(end);
	for (int i = 0; i < STRP_HEADS_MAX; i++)
		assert_int_equal(strp_http_req(&p, false), 0);
	assert_int_equal(strp_http_req(&p, false), -ENOBUFS);
}

static void test_resp(void **state)
{
	char deep[4 * (STRP_RESP_DEPTH + 1)];
	size_t n = 0;

	(void)state;
	check(&redis, 1000,
	      S("+OK\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n:12\r\n"
		"*2\r\n*1\r\n:1\r\n$0\r\n\r\n%1\r\n+k\r\n+v\r\n*0\r\nPING\r\n"
		"|1\r\n+a\r\n+b\r\n:3\r\n"),
	      W(5, 16, 21, 37, 55, 67, 71, 77, 93), 0);
	check(&redis, 1000, S("+OK\r\n?x\r\n"), W(5, 9), 0);   /* inline after a value */
	check(&redis, 1000, S("*2\r\n?x\r\n"), NONE, EBADMSG); /* no type inside an array */
	check(&redis, 1000, S("$2\r\nabc\r\n"), NONE, EBADMSG);
	check(&redis, 1000, S("$x\r\n"), NONE, EBADMSG);
	check(&redis, 1000, S("*-2\r\n"), NONE, EBADMSG);
	check(&redis, 10, S("$100\r\n"), NONE, EMSGSIZE);
	check(&redis, 1000, S("*3\r\n:1\r\n"), NONE, EPIPE);
	for (int i = 0; i <= STRP_RESP_DEPTH; i++) {
		memcpy(deep + n, "*1\r\n", 4);
		n += 4;
	}
	check(&redis, 1000, deep, n, NONE, EBADMSG);
}

/* Long lines: only the first bytes are kept, yet the boundary is exact
 * and a Content-Length past what is kept is refused, not misread. */
static void test_long_lines(void **state)
{
	static char buf[STRP_LINE_MAX + 64];
	size_t n;

	(void)state;
	n = (size_t)snprintf(buf, sizeof(buf), "GET /");
	memset(buf + n, 'a', 4000);
	n += 4000;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, " HTTP/1.1\r\nX: y\r\n\r\n");
	check(&req, 10000, buf, n, W(n), 0);
	n = (size_t)snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nContent-Length: %0150d5\r\n\r\n",
			     0);
	check(&req, 10000, buf, n, NONE, EBADMSG);
	memset(buf, 'x', STRP_LINE_MAX + 1);
	buf[STRP_LINE_MAX + 1] = '\n';
	check(&redis, 1u << 20, buf, STRP_LINE_MAX + 2, NONE, EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line),	 cmocka_unit_test(test_len),
	    cmocka_unit_test(test_http_request), cmocka_unit_test(test_http_response),
	    cmocka_unit_test(test_resp),	 cmocka_unit_test(test_long_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * strp_parse.c - the framing parsers (strp_parse.h).  Each kind is a small
 * state machine that takes as many bytes as it can at a time: a body or a
 * bulk string is skipped in one step (memchr and a subtraction), lines are
 * scanned with memchr and only their first STRP_LINE_KEEP bytes are kept,
 * which is all a head line, a chunk size or a RESP header needs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strp_parse.h"

enum {
	/* HTTP */
	H_START = 0, /* the request or status line */
	H_HEADER,
	H_BODY,	       /* Content-Length bytes (skip) */
	H_CHUNK_SIZE,  /* a chunk-size line */
	H_CHUNK_DATA,  /* its bytes (skip) */
	H_CHUNK_CRLF,  /* the empty line after them */
	H_TRAILER,     /* trailer lines up to an empty one */
	H_UNTIL_CLOSE, /* a response read to the end of stream */
	/* RESP */
	R_TYPE = 0, /* a value's first byte */
	R_LINE,	    /* the rest of its line */
	R_BULK,	    /* bulk bytes (skip) */
	R_BULK_CR,  /* the \r\n after them */
	R_BULK_LF,
	R_INLINE, /* an inline command: a line */
};

static ssize_t bad(struct strp_parser *p, int err, const char *why)
{
	p->why = why;
	return -err;
}

void strp_init(struct strp_parser *p, const struct xts_strp *spec, uint64_t max)
{
	memset(p, 0, sizeof(*p));
	p->kind = spec->kind;
	p->width = spec->width;
	p->flags = spec->flags;
	p->offset = spec->offset;
	p->adjust = spec->adjust;
	p->max = max;
}

/* The message ended: ready for the next one (HTTP_RESP keeps its queue
 * of requests, HTTP_REQ the method of the one that ended). */
static void next_message(struct strp_parser *p)
{
	p->len = p->skip = 0;
	p->state = 0;
	p->nfield = 0;
	p->line_len = 0;
	p->cr = false;
	p->chunked = p->have_cl = p->te = false;
	p->cl = 0;
	p->status = 0;
	p->depth = 0;
}

/* ---- lines ---- */

/*
 * Read a line: take bytes up to and including \n.  Returns bytes taken;
 * *done when the line is whole (p->line holds its first bytes, NUL-ended,
 * without \r\n; p->line_len its full length).  -EBADMSG past LINE_MAX.
 */
static ssize_t line_take(struct strp_parser *p, const uint8_t *d, size_t n, bool *done)
{
	const uint8_t *nl = memchr(d, '\n', n), *z;
	size_t k = nl ? (size_t)(nl - d) + 1 : n, keep, at_max, at_line, at_nul;

	/*
	 * What is wrong is judged at the first byte that is: the byte past
	 * max, a NUL (it would cut what strlen sees of the line: a header read
	 * one way here and another way by the host), the byte past LINE_MAX.
	 * So the verdict does not depend on where the stream was cut.
	 */
	at_max = k > p->max - p->len ? (size_t)(p->max - p->len) : SIZE_MAX;
	at_line = k > STRP_LINE_MAX - p->line_len ? STRP_LINE_MAX - p->line_len : SIZE_MAX;
	z = memchr(d, 0, k);
	at_nul = z ? (size_t)(z - d) : SIZE_MAX;
	if (at_max != SIZE_MAX && at_max <= at_nul && at_max <= at_line)
		return bad(p, EMSGSIZE, "message longer than its max");
	if (at_nul != SIZE_MAX && at_nul <= at_line)
		return bad(p, EBADMSG, "NUL byte in a line");
	if (at_line != SIZE_MAX)
		return bad(p, EBADMSG, "line longer than 65536 bytes");
	*done = nl != NULL;
	if (p->line_len < STRP_LINE_KEEP - 1) {
		keep = STRP_LINE_KEEP - 1 - p->line_len;
		if (keep > k)
			keep = k;
		memcpy(p->line + p->line_len, d, keep);
	}
	p->line_len += (uint32_t)k;
	if (*done) {
		uint32_t l = p->line_len < STRP_LINE_KEEP - 1 ? p->line_len : STRP_LINE_KEEP - 1;

		p->line[l] = 0;
		/* the kept part ends with the \n when the line is short */
		if (l && p->line[l - 1] == '\n')
			p->line[--l] = 0;
		if (l && p->line[l - 1] == '\r')
			p->line[--l] = 0;
	}
	return (ssize_t)k;
}

/* The line just read was empty (\r\n or \n alone). */
static bool line_empty(const struct strp_parser *p)
{
	return p->line_len <= 2 && !p->line[0];
}

/* A non-negative decimal number of at most 18 digits: 0 or -1. */
static int dec(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (!n || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

/* ---- LINE ---- */

static ssize_t feed_line(struct strp_parser *p, const uint8_t *d, size_t n, bool *end)
{
	size_t i = 0;

	for (;;) {
		const uint8_t *nl = memchr(d + i, '\n', n - i);

		if (!nl) {
			p->cr = n && d[n - 1] == '\r';
			return (ssize_t)n;
		}
		i = (size_t)(nl - d) + 1;
		/* \r\n kind: a \n alone is part of the line */
		if (!(p->flags & XTS_STRP_F_CRLF) || (i >= 2 ? d[i - 2] == '\r' : p->cr)) {
			*end = true;
			return (ssize_t)i;
		}
		p->cr = false;
	}
}

/* ---- LEN ---- */

static ssize_t len_header(struct strp_parser *p, const uint8_t *d, size_t n, bool *end)
{
	uint64_t hdr = (uint64_t)p->offset + p->width, k = hdr - p->len, v = 0, total;

	if (k > n)
		k = n;
	if (p->len + k > p->max) /* before the field says anything: cut anywhere, same verdict */
		return bad(p, EMSGSIZE, "message longer than its max");
	for (uint64_t i = 0; i < k; i++)
		if (p->len + i >= p->offset)
			p->field[p->nfield++] = d[i];
	if (p->len + k < hdr)
		return (ssize_t)k; /* the caller adds k to len */
	for (unsigned i = 0; i < p->width; i++)
		v |= (uint64_t)p->field[(p->flags & XTS_STRP_F_BE) ? p->width - 1 - i : i]
		     << (8 * i);
	if (p->adjust < 0 && v < (uint64_t)-p->adjust)
		return bad(p, EBADMSG, "length field below -adjust");
	total = v + (uint64_t)p->adjust;
	if (p->adjust > 0 && total < v)
		return bad(p, EMSGSIZE, "message longer than its max");
	if (total < hdr)
		return bad(p, EBADMSG, "length field says less than its own header");
	if (total > p->max)
		return bad(p, EMSGSIZE, "message longer than its max");
	p->skip = total - hdr;
	*end = !p->skip;
	return (ssize_t)k;
}

static ssize_t feed_len(struct strp_parser *p, const uint8_t *d, size_t n, bool *end)
{
	if (p->len < (uint64_t)p->offset + p->width)
		return len_header(p, d, n, end);
	return -EAGAIN; /* the body: the caller skips */
}

/* ---- HTTP/1 ---- */

static bool header_is(const char *line, const char *name, const char **val)
{
	size_t l = strlen(name);

	if (strncasecmp(line, name, l) || line[l] != ':')
		return false;
	for (*val = line + l + 1; **val == ' ' || **val == '\t'; (*val)++)
		;
	return true;
}

/* The value's length without trailing blanks. */
static size_t trimmed(const char *v)
{
	size_t l = strlen(v);

	while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
		l--;
	return l;
}

static ssize_t http_start(struct strp_parser *p)
{
	const char *sp = strchr(p->line, ' ');

	if (!p->line[0] && p->line_len <= 2)
		return 0; /* an empty line before a request: tolerated */
	if (p->kind == XTS_STRP_HTTP_REQ) {
		if (!sp || sp == p->line)
			return bad(p, EBADMSG, "not an HTTP request line");
		p->is_head = sp - p->line == 4 && !strncmp(p->line, "HEAD", 4);
	} else {
		uint64_t st;

		if (strncmp(p->line, "HTTP/1.", 7) || !sp || dec(sp + 1, 3, &st) ||
		    (sp[4] && sp[4] != ' '))
			return bad(p, EBADMSG, "not an HTTP/1 status line");
		p->status = (int)st;
	}
	p->state = H_HEADER;
	return 0;
}

static ssize_t http_header(struct strp_parser *p)
{
	bool whole = p->line_len <= STRP_LINE_KEEP - 1; /* all of it in p->line */
	const char *v, *colon = strchr(p->line, ':');
	uint64_t cl;

	if (p->line[0] == ' ' || p->line[0] == '\t')
		return bad(p, EBADMSG, "obsolete line folding in a header");
	/* "Content-Length : 5" is no header to us and one to a lenient host:
	 * refused, as RFC 9112 says */
	if ((!colon && whole) || colon == p->line ||
	    (colon && (colon[-1] == ' ' || colon[-1] == '\t')))
		return bad(p, EBADMSG, "malformed header line");
	if ((header_is(p->line, "content-length", &v) ||
	     header_is(p->line, "transfer-encoding", &v)) &&
	    !whole)
		return bad(p, EBADMSG, "Content-Length or Transfer-Encoding line too long");
	if (header_is(p->line, "content-length", &v)) {
		if (dec(v, trimmed(v), &cl))
			return bad(p, EBADMSG, "bad Content-Length");
		if (p->have_cl && cl != p->cl)
			return bad(p, EBADMSG, "two different Content-Lengths");
		p->have_cl = true;
		p->cl = cl;
	} else if (header_is(p->line, "transfer-encoding", &v)) {
		size_t l = trimmed(v);

		p->te = true;
		p->chunked = l >= 7 && !strncasecmp(v + l - 7, "chunked", 7);
	}
	return 0;
}

/* The head ended: what body follows.  1 when the message ends here. */
static ssize_t http_head_end(struct strp_parser *p)
{
	bool req = p->kind == XTS_STRP_HTTP_REQ, head = false;

	if (p->have_cl && p->te)
		return bad(p, EBADMSG, "both Content-Length and Transfer-Encoding");
	if (req && p->te && !p->chunked)
		return bad(p, EBADMSG, "a request's Transfer-Encoding must end in chunked");
	if (!req) {
		if (p->status >= 100 && p->status < 200)
			return 1; /* an interim answer: the request still awaits its own */
		if (p->nheads) {
			head = p->heads & 1;
			p->heads >>= 1;
			p->nheads--;
		}
		if (head || p->status == 204 || p->status == 304)
			return 1;
	}
	if (p->chunked) {
		p->state = H_CHUNK_SIZE;
		return 0;
	}
	if (p->have_cl) {
		if (p->cl > p->max || p->len + p->cl > p->max)
			return bad(p, EMSGSIZE, "message longer than its max");
		p->skip = p->cl;
		p->state = H_BODY;
		return p->cl ? 0 : 1;
	}
	if (req)
		return 1;
	p->state = H_UNTIL_CLOSE;
	return 0;
}

static ssize_t http_chunk_size(struct strp_parser *p)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; p->line[i] && p->line[i] != ';' && p->line[i] != ' '; i++) {
		char ch = p->line[i];
		int d = ch >= '0' && ch <= '9'	 ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
						 : -1;

		if (d < 0 || i >= 15)
			return bad(p, EBADMSG, "bad chunk size");
		v = v * 16 + (uint64_t)d;
	}
	if (!i)
		return bad(p, EBADMSG, "bad chunk size");
	if (!v) {
		p->state = H_TRAILER;
		return 0;
	}
	if (v > p->max || p->len + v > p->max)
		return bad(p, EMSGSIZE, "message longer than its max");
	p->skip = v;
	p->state = H_CHUNK_DATA;
	return 0;
}

/* A whole line of the head or of the chunked framing. */
static ssize_t http_line(struct strp_parser *p)
{
	switch (p->state) {
	case H_START:
		return http_start(p);
	case H_HEADER:
		return line_empty(p) ? http_head_end(p) : http_header(p);
	case H_CHUNK_SIZE:
		return http_chunk_size(p);
	case H_CHUNK_CRLF:
		if (!line_empty(p))
			return bad(p, EBADMSG, "chunk data longer than its size");
		p->state = H_CHUNK_SIZE;
		return 0;
	default: /* H_TRAILER */
		return line_empty(p) ? 1 : 0;
	}
}

static ssize_t feed_http(struct strp_parser *p, const uint8_t *d, size_t n, bool *end)
{
	bool done;
	ssize_t k, r;

	if (p->state == H_UNTIL_CLOSE)
		return (ssize_t)n;
	if (p->state == H_BODY || p->state == H_CHUNK_DATA)
		return -EAGAIN; /* skip */
	k = line_take(p, d, n, &done);
	if (k < 0 || !done)
		return k;
	r = http_line(p);
	p->line_len = 0;
	if (r < 0)
		return r;
	*end = r == 1;
	return k;
}

/* ---- RESP ---- */

/* A value is whole: the aggregates it completes are too.  1 when the
 * outermost one (the message) is. */
static int resp_done(struct strp_parser *p)
{
	while (p->depth) {
		if (--p->due[p->depth - 1] > 0)
			break;
		p->depth--;
	}
	p->state = R_TYPE;
	return !p->depth;
}

static ssize_t resp_push(struct strp_parser *p, int64_t n)
{
	if (n <= 0)
		return resp_done(p);
	if (p->depth == STRP_RESP_DEPTH)
		return bad(p, EBADMSG, "RESP nested deeper than 32");
	p->due[p->depth++] = n;
	p->state = R_TYPE;
	return 0;
}

/* The header line of a value whose type byte is p->line[0]. */
static ssize_t resp_line(struct strp_parser *p)
{
	const char *num = p->line + 1;
	bool neg = *num == '-';
	uint64_t v = 0;
	char t = p->line[0];

	if (!strchr("$!=*~>%|", t))
		return resp_done(p); /* + - : _ , # ( : the line is the value */
	if (neg && !strcmp(num, "-1"))
		return resp_done(p); /* a null */
	if (dec(num, strlen(num), &v) || v > (1ull << 40))
		return bad(p, EBADMSG, "bad RESP length");
	switch (t) {
	case '$':
	case '!':
	case '=':
		if (v + 2 > p->max || p->len + v + 2 > p->max)
			return bad(p, EMSGSIZE, "message longer than its max");
		p->skip = v;
		p->state = R_BULK;
		return 0;
	case '%':
		return resp_push(p, (int64_t)v * 2);
	case '|': /* attributes, then the value they describe */
		return resp_push(p, (int64_t)v * 2 + 1);
	default: /* * ~ > */
		return resp_push(p, (int64_t)v);
	}
}

static ssize_t feed_resp(struct strp_parser *p, const uint8_t *d, size_t n, bool *end)
{
	bool done;
	ssize_t k, r;

	switch (p->state) {
	case R_TYPE: {
		bool typed = d[0] && strchr("+-:$*_,#(!=%~>|", d[0]);

		if (!typed && p->len)
			return bad(p, EBADMSG, "not a RESP type");
		p->state = typed ? R_LINE : R_INLINE; /* an inline command: a line */
		p->line_len = 0;
		return 0;
	}
	case R_BULK:
		return -EAGAIN; /* skip */
	case R_BULK_CR:
	case R_BULK_LF:
		if (d[0] != (p->state == R_BULK_CR ? '\r' : '\n'))
			return bad(p, EBADMSG, "bulk string longer than its length");
		if (p->state == R_BULK_CR) {
			p->state = R_BULK_LF;
			return 1;
		}
		*end = resp_done(p);
		return 1;
	default:
		break;
	}
	k = line_take(p, d, n, &done);
	if (k < 0 || !done)
		return k;
	r = p->state == R_INLINE ? resp_done(p) : resp_line(p);
	p->line_len = 0;
	if (r < 0)
		return r;
	*end = r == 1;
	return k;
}

/* ---- the driver ---- */

/* A skip (a body, a bulk string) ran out: what comes after it. */
static void skip_over(struct strp_parser *p, bool *end)
{
	switch (p->kind) {
	case XTS_STRP_LEN:
		*end = true;
		break;
	case XTS_STRP_RESP:
		p->state = R_BULK_CR;
		break;
	default: /* HTTP */
		if (p->state == H_CHUNK_DATA)
			p->state = H_CHUNK_CRLF;
		else
			*end = true;
		break;
	}
}

static ssize_t step(struct strp_parser *p, const uint8_t *d, size_t n, bool *end)
{
	switch (p->kind) {
	case XTS_STRP_LEN:
		return feed_len(p, d, n, end);
	case XTS_STRP_LINE:
		return feed_line(p, d, n, end);
	case XTS_STRP_HTTP_REQ:
	case XTS_STRP_HTTP_RESP:
		return feed_http(p, d, n, end);
	case XTS_STRP_RESP:
		return feed_resp(p, d, n, end);
	default:
		return bad(p, EINVAL, "unknown framing");
	}
}

ssize_t strp_feed(struct strp_parser *p, const uint8_t *d, size_t n, bool *end)
{
	size_t used = 0;

	*end = false;
	while (used < n && !*end) {
		ssize_t k;

		if (p->skip) {
			k = (ssize_t)(p->skip < n - used ? p->skip : n - used);
			p->skip -= (uint64_t)k;
			if (!p->skip)
				skip_over(p, end);
		} else {
			k = step(p, d + used, n - used, end);
			if (k == -EAGAIN) { /* a skip of 0 bytes ended */
				skip_over(p, end);
				continue;
			}
			if (k < 0)
				return k;
		}
		used += (size_t)k;
		p->len += (uint64_t)k;
		if (p->len > p->max)
			return bad(p, EMSGSIZE, "message longer than its max");
	}
	if (*end)
		next_message(p);
	return (ssize_t)used;
}

int strp_eof(struct strp_parser *p)
{
	if (!p->len)
		return 0;
	if (p->kind == XTS_STRP_HTTP_RESP && p->state == H_UNTIL_CLOSE) {
		next_message(p);
		return 0;
	}
	p->why = "the stream ended inside a message";
	return -EPIPE;
}

int strp_http_req(struct strp_parser *p, bool head)
{
	if (p->nheads >= STRP_HEADS_MAX)
		return -ENOBUFS;
	p->heads |= (uint64_t)head << p->nheads++;
	return 0;
}

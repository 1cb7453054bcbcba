/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * strp_parse.h - message framing parsers (the "strp" ULP): pure functions
 * over a byte stream, no I/O, no allocation, bounded state, so that they
 * can be fuzzed alone (tests/fuzz/fuzz_strp.c) and unit-tested with any
 * segmentation.
 *
 * strp_feed() is given the stream in pieces of any size and says how many
 * bytes of each piece belong to the message in progress and whether the
 * message ends there; the rest of the piece is the next message's, fed
 * again by the caller.  Where a piece is cut never changes where a message
 * ends (the fuzzer checks exactly that).
 *
 * Kinds (struct xts_strp, include/xts_proto.h):
 *   LEN        a length field at `offset`, `width` 1/2/4/8 bytes, little-
 *              or big-endian; the message is field + `adjust` bytes long
 *   LINE       up to and including \n (or \r\n with XTS_STRP_F_CRLF)
 *   HTTP_REQ   an HTTP/1 request: head, then a body by Content-Length or
 *              chunked; none without either; both: refused (smuggling)
 *   HTTP_RESP  an HTTP/1 response: no body for 1xx, 204, 304 and answers
 *              to HEAD (the caller feeds the requests with strp_http_req);
 *              Content-Length, chunked, or else up to the end of stream
 *   RESP       a RESP2/RESP3 (redis) value, aggregates included; a first
 *              byte that is no RESP type is an inline command (a line)
 * Every message is at most `max` bytes: past that, -EMSGSIZE.
 */
#ifndef XTS_STRP_PARSE_H
#define XTS_STRP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "xts_proto.h"

#define STRP_LINE_KEEP	128   /* bytes of a line kept to read it */
#define STRP_LINE_MAX	65536 /* longest line of a head, a chunk size, RESP */
#define STRP_RESP_DEPTH 32    /* RESP aggregates nested at most this deep */
#define STRP_HEADS_MAX	64    /* HTTP_RESP: requests awaiting their answer */

struct strp_parser {
	/* what to parse */
	uint8_t kind, width, flags;
	uint32_t offset;
	int64_t adjust;
	uint64_t max;
	/* the message in progress */
	uint64_t len;  /* bytes so far */
	uint64_t skip; /* bytes to take without looking (a body, a bulk string) */
	uint32_t state;
	uint8_t field[8], nfield; /* LEN: the length field's bytes so far */
	/* the line being read (LINE, HTTP, RESP) */
	uint32_t line_len;
	bool cr;
	char line[STRP_LINE_KEEP];
	/* HTTP */
	bool chunked, have_cl, te, is_head;
	uint64_t cl;
	int status;
	uint64_t heads; /* HTTP_RESP: bit i set: the i-th request awaiting is HEAD */
	uint32_t nheads;
	/* RESP: elements still due at each aggregate level */
	uint32_t depth;
	int64_t due[STRP_RESP_DEPTH];
	const char *why; /* after an error: why, for the host */
};

/* Set up for @spec; messages of at most @max bytes. */
void strp_init(struct strp_parser *p, const struct xts_strp *spec, uint64_t max);

/*
 * Feed @n bytes of the stream: returns how many of them belong to the
 * message in progress (1..n when n > 0), with *end set when the message
 * ends at the last of them (the parser is then ready for the next one);
 * or -EBADMSG (malformed) / -EMSGSIZE (past max), with p->why, after which
 * the parser is unusable.
 */
ssize_t strp_feed(struct strp_parser *p, const uint8_t *d, size_t n, bool *end);

/* The stream ended: 0 if that ends the message in progress cleanly (none
 * in progress, or an HTTP response read to the end of stream), else
 * -EPIPE with p->why. */
int strp_eof(struct strp_parser *p);

/* HTTP_RESP: a request went out (@head: it was HEAD).  0, or -ENOBUFS
 * when STRP_HEADS_MAX requests await their answer already. */
int strp_http_req(struct strp_parser *p, bool head);

/* HTTP_REQ parser only: the method of the request that just ended. */
static inline bool strp_req_was_head(const struct strp_parser *p)
{
	return p->is_head;
}

#endif

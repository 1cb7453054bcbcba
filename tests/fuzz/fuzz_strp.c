// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_strp.c - libFuzzer harness for the framing parsers
 * (shard/strp_parse.c), which read bytes a remote peer chose.
 *
 * The input's first 8 bytes pick the kind and its parameters, the next
 * byte a segmentation seed; the rest is the stream.  The oracle: the
 * stream fed whole and fed in the pieces the seed cuts must give the same
 * message boundaries and the same verdict (a parser that kept state wrong
 * across a cut would move a boundary), every feed takes 1..n bytes, a
 * message never passes max, and ASan/UBSan watch every read.
 *
 *   cmake -B build-fuzz -S . -DCMAKE_C_COMPILER=clang -DXTS_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_strp
 *   build-fuzz/bin/fuzz_strp -max_total_time=600 -dict=tests/fuzz/strp.dict corpus-strp
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "strp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXB 4096

struct run {
	uint32_t ends[MAXB];
	unsigned n;
	int err;
};

static void feed(struct strp_parser *p, const uint8_t *s, size_t len, uint32_t seed, struct run *r)
{
	size_t off = 0, since = 0;

	r->n = 0;
	r->err = 0;
	while (off < len) {
		size_t n = len - off;
		bool end;
		ssize_t k;

		if (seed) { /* a cheap LCG: pieces of 1..16 bytes */
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 16;
			if (n > len - off)
				n = len - off;
		}
		for (size_t at = 0; at < n; at += (size_t)k) {
			k = strp_feed(p, s + off + at, n - at, &end);
			if (k < 0) {
				CHECK(k == -EBADMSG || k == -EMSGSIZE);
				CHECK(p->why != NULL);
				r->err = (int)-k;
				return;
			}
			CHECK(k >= 1 && (size_t)k <= n - at);
			since += (size_t)k;
			CHECK(since <= p->max);
			if (end) {
				if (r->n < MAXB)
					r->ends[r->n++] = (uint32_t)(off + at + (size_t)k);
				since = 0;
			} else {
				CHECK((size_t)k == n - at);
			}
		}
		off += n;
	}
	r->err = -strp_eof(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, cut;
	struct strp_parser p;
	struct xts_strp spec = {0};

	if (size < 9)
		return 0;
	spec.kind = (uint8_t)(1 + data[0] % (XTS_STRP_KIND_MAX - 1));
	spec.width = (uint8_t)(1u << (data[1] & 3));
	spec.flags = data[1] >> 2 & XTS_STRP_F_ALL;
	spec.offset = data[2] & 15;
	spec.adjust = (int8_t)data[3];
	uint64_t max = 1 + ((uint64_t)data[4] << 8 | data[5]) * 16;

	strp_init(&p, &spec, max);
	if (spec.kind == XTS_STRP_HTTP_RESP)
		for (int i = 0; i < 8; i++)
			if (data[6] >> i & 1)
				strp_http_req(&p, data[7] >> i & 1);
	struct strp_parser q = p;

	feed(&p, data + 9, size - 9, 0, &whole);
	feed(&q, data + 9, size - 9, data[8] | 1u, &cut);
	CHECK(whole.err == cut.err);
	CHECK(whole.n == cut.n);
	CHECK(!memcmp(whole.ends, cut.ends, whole.n * sizeof(whole.ends[0])));
	return 0;
}

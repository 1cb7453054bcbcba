/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * raw_frame.h - a queue frame built by hand, for the unit tests that play
 * a wrong or hostile sender (test_link*.c, test_xport*.c).  Include after
 * cmocka.h.
 */
#ifndef XTS_RAW_FRAME_H
#define XTS_RAW_FRAME_H

#include <endian.h>
#include <string.h>

#include "xts_proto.h"

/* A frame as a correct sender would not necessarily send it: header by
 * the codec (from @src to @dst), then epoch, seq and ack as given. */
static inline size_t raw_frame_mac(__u8 *f, const __u8 *src, const __u8 *dst, enum xts_op op,
				   __u32 epoch, __u32 seq, __u32 ack)
{
	size_t len = xts_proto_min_len(op);
	struct xts_hdr *h = (struct xts_hdr *)(f + XTS_HDR_OFF);
	int tot;

	memset(f + XTS_PAYLOAD_OFF, 0, len);
	if (op == XTS_OP_DATA)
		f[XTS_PAYLOAD_OFF] = 'r';
	tot = xts_proto_hdr_put(f, 2048, dst, src, op, 0, 1, 2, 0, len);
	assert_true(tot > 0);
	h->epoch = htole32(epoch);
	h->seq = htole32(seq);
	h->ack = htole32(ack);
	return (size_t)tot;
}

#endif

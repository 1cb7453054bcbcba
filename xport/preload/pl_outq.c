// SPDX-License-Identifier: BSD-2-Clause
/*
 * SIOCOUTQ and SIOCOUTQNSD of an XTS socket: what the program wrote that
 * is not yet gone, in two parts.  libxport counts what the DPU has not
 * taken yet (XTS_OUTQ: the send credit not back); the DPU's kernel socket
 * holds the rest, which its TCP_INFO tells: unsent (tcpi_notsent_bytes)
 * and sent but not yet acknowledged.  Its own file because it needs
 * <linux/tcp.h>'s whole struct tcp_info, which glibc's <netinet/tcp.h>
 * (the rest of the shim's) cuts short and clashes with.
 */
#include <stddef.h>
#include <string.h>
#include <linux/tcp.h>

#include "pl_outq.h"

/* The DPU socket's bytes not yet acknowledged and not yet sent, from a
 * TCP_INFO of @len bytes.  bytes_sent counts retransmissions too, and
 * bytes_acked counts the SYN (and the FIN) as Linux's snd_una does:
 * sent once - (acked - SYN) is snd_nxt - snd_una, and SIOCOUTQ is
 * write_seq - snd_una = that + notsent.  An older kernel's TCP_INFO
 * without the byte counters: only notsent (and 0 before it). */
#define HAS(f) (offsetof(struct tcp_info, f) + sizeof(((struct tcp_info *)0)->f))

void pl_outq_dpu(const void *ti, size_t len, uint64_t *unacked, uint64_t *notsent)
{
	struct tcp_info t;
	uint64_t once;

	memset(&t, 0, sizeof(t));
	memcpy(&t, ti, len < sizeof(t) ? len : sizeof(t));
	*notsent = *unacked = 0;
	if (len < HAS(tcpi_notsent_bytes))
		return;
	*notsent = *unacked = t.tcpi_notsent_bytes;
	if (len < HAS(tcpi_bytes_retrans))
		return;
	once = t.tcpi_bytes_sent - t.tcpi_bytes_retrans;
	if (t.tcpi_bytes_acked && once + 1 > t.tcpi_bytes_acked) /* after the FIN's ack: 0 */
		*unacked += once + 1 - t.tcpi_bytes_acked;
}

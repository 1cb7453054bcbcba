// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xts_xdp.bpf.c - the XTS XDP program, the same on both ends of the queue
 * link (host xh0 and DPU xd0).
 *
 * Frames with the XTS EtherType go to the AF_XDP socket bound to the rx
 * queue they arrived on: host queue q is served by shard q, and a frame the
 * host sends on queue q arrives on DPU rx queue q.  Every other frame is
 * ordinary traffic that shares the link (IP on 198.18.1.0/24, ARP, ND) and
 * is passed to the kernel untouched.
 *
 * Loaded with frags support (BPF_F_XDP_HAS_FRAGS, loader.c): a frame of
 * several buffers (AF_XDP multi-buffer, docs/protocol.md) reaches it whole;
 * it reads only the Ethernet header, which is in the first buffer, and on
 * veth it lets the link's MTU go past one page.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xts_xdp.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XTS_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

/*
 * Per-CPU so that the fast path never needs an atomic: every rx queue is
 * served by one NAPI context at a time, but a queue may move between CPUs,
 * so user space sums all CPUs (xts_xdp__read_stats()).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XTS_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, struct xts_xdp_stats);
} stats_map SEC(".maps");

SEC("xdp")
int xts_xdp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	__u32 queue = ctx->rx_queue_index;
	struct xts_xdp_stats *st;
	long ret;

	/*
	 * NULL for queues >= XTS_XDP_MAX_QUEUES: such frames are still
	 * handled, only not counted.
	 */
	st = bpf_map_lookup_elem(&stats_map, &queue);

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(XTS_ETHERTYPE)) {
		if (st)
			st->passed++;
		return XDP_PASS;
	}

	/*
	 * An XTS frame must never reach the kernel stack: it would only be
	 * dropped there, later and more expensively.  Without a socket on
	 * this queue (the shard is restarting, or the host process has not
	 * attached yet) the frame is lost; the sender's queue credits and
	 * HELLO retries recover from that.
	 */
	if (!bpf_map_lookup_elem(&xsks_map, &queue)) {
		if (st)
			st->no_socket++;
		return XDP_DROP;
	}

	/*
	 * Flags 0: a failed lookup returns XDP_ABORTED, which we turn into a
	 * counted drop.  A full rx ring of the socket is only seen after we
	 * return (xdp_do_redirect()); it shows in the socket's own
	 * XDP_STATISTICS (rx_dropped, rx_ring_full), not here.
	 */
	ret = bpf_redirect_map(&xsks_map, queue, 0);
	if (ret != XDP_REDIRECT) {
		if (st)
			st->redirect_err++;
		return XDP_DROP;
	}
	if (st) {
		st->xts_frames++;
		st->xts_bytes += bpf_xdp_get_buff_len(ctx); /* every fragment */
	}
	return XDP_REDIRECT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

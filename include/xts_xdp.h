/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xts_xdp.h - constants and map layouts shared between the XDP program
 * (bpf/xts_xdp.bpf.c) and the user space that loads it.  Includes only
 * linux/types.h so that the BPF target can use it.
 */
#ifndef XTS_XDP_H
#define XTS_XDP_H

#include <linux/types.h>

#define XTS_ETHERTYPE 0x88B5 /* IEEE 802 local experimental EtherType 1 */

#define XTS_XDP_MAX_QUEUES 256 /* xsks_map and stats_map entries */
#define XTS_XDP_PROG_NAME  "xts_xdp"
#define XTS_XDP_XSKMAP	   "xsks_map"
#define XTS_XDP_STATSMAP   "stats_map"

/* Per rx queue, per CPU (BPF_MAP_TYPE_PERCPU_ARRAY, key = rx queue). */
struct xts_xdp_stats {
	__u64 xts_frames; /* XTS frames redirected to the queue's socket */
	__u64 xts_bytes;
	__u64 no_socket;    /* XTS frames dropped: no AF_XDP socket on queue */
	__u64 redirect_err; /* bpf_redirect_map failed */
	__u64 passed;	    /* other frames, passed to the kernel */
};

#endif /* XTS_XDP_H */

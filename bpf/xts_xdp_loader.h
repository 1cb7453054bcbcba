/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xts_xdp_loader.h - load, find and detach the XTS XDP program
 * (xts_xdp.bpf.c, embedded as a bpftool skeleton).  Used by xtsd on the DPU
 * side and by libxport on the host side.  Programs are attached with libbpf
 * in native (driver) mode; no bpffs pinning is needed: the maps of an
 * attached program are found through the program's info (see docs/design.md).
 *
 * All functions return 0 or -errno.
 */
#ifndef XTS_XDP_LOADER_H
#define XTS_XDP_LOADER_H

#include <stdbool.h>
#include "xts_xdp.h"

struct xts_xdp_maps {
	int xsks_map_fd;  /* XSKMAP, key = rx queue */
	int stats_map_fd; /* PERCPU_ARRAY of struct xts_xdp_stats */
	__u32 prog_id;
};

/* Attach xts_xdp to @ifindex if it is not attached there yet; if it is
 * (by us or by another process), reuse it.  Another XDP program on the
 * interface gives -EBUSY.  Fills @maps with fresh fds the caller closes
 * with xts_xdp__maps_close(). */
int xts_xdp__attach(int ifindex, struct xts_xdp_maps *maps);

/* Find the attached xts_xdp program on @ifindex: -ENOENT if there is none,
 * -EBUSY if another program is attached. */
int xts_xdp__find(int ifindex, struct xts_xdp_maps *maps);

/* Detach xts_xdp from @ifindex if it is attached (only ours). */
int xts_xdp__detach(int ifindex);

/* Sum one queue's per-CPU counters. */
int xts_xdp__read_stats(const struct xts_xdp_maps *maps, __u32 queue, struct xts_xdp_stats *out);

void xts_xdp__maps_close(struct xts_xdp_maps *maps);

#endif

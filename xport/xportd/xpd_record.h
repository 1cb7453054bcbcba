/* SPDX-License-Identifier: BSD-2-Clause */
/* xpd_record.h - the lease records in run_dir (xpd_record.c). */
#ifndef XTS_XPD_RECORD_H
#define XTS_XPD_RECORD_H

#include "xportd.h"

struct xpd_record {
	uint64_t id, ino, since_s, umem_size;
	pid_t pid;
	uid_t uid;
	uint32_t frames, frame_size, ring_size;
	char comm[16];
};

/* run_dir/lease-Q for a lease just granted (or renewed): 0 or -errno. */
int xpd_record_write(const struct xpd *d, const struct xpd_lease *ls);
void xpd_record_drop(const struct xpd *d, uint32_t q);
/* 0, -ENOENT (none), -EINVAL (not a record). */
int xpd_record_read(const struct xpd *d, uint32_t q, struct xpd_record *r);
/* At start: queues of live records busy until renewed, dead ones gone. */
void xpd_records_scan(struct xpd *d);

#endif

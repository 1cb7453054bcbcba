/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * shard.h - one DPU shard: one AF_XDP queue, its queue session with the
 * host, its connection table and the kernel TCP sockets behind it.
 */
#ifndef XTS_SHARD_H
#define XTS_SHARD_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "link.h"
#include "xts_shm.h"

struct shard_opts {
	const char *ifname;
	__u32 queue;
	int xsks_map_fd;	     /* XSKMAP of the attached program (inherited) */
	__u32 frames, ring_size;     /* UMEM frames, ring entries (0: defaults) */
	__u32 window;		     /* queue window in frames */
	__u32 max_conns;	     /* connection table size */
	__u32 conn_buf;		     /* host->net bytes buffered per connection
				      * = the send credit granted to the host */
	__u64 shard_buf;	     /* bound on all conn buffers of the shard */
	__u32 connect_timeout_ms;    /* when the host gives none; 0 = kernel's */
	__u32 idle_ms;		     /* ping a silent host after this */
	__u32 dead_ms;		     /* end its session after this; 0 = never */
	__u32 res_hold_us;	     /* hold of a fast-open CONNECT_RES (0: 500 us) */
	void *shm;		     /* xtsd's control region (xts_shm.h), or NULL */
	int ctl_efd;		     /* xtsd's eventfd, written after a control-plane
				      * change (reload, drain, conns request); -1: none */
	volatile sig_atomic_t *stop; /* set by the signal handler */
	/* where log lines go (xtsd: its leveled stderr/syslog log); NULL:
	 * stderr.  The level filter is the shard's (the config snapshot's
	 * log_level), so a reload changes it. */
	void (*log)(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
};

/* The counters the shard keeps itself: those of XTS_SHM_COUNTERS whose
 * source is SHARD (the link keeps the others), published by ctl.c. */
#define SHARD_STAT_SHARD(name) __u64 name;
#define SHARD_STAT_LINK(name)
#define SHARD_STAT_SEQ(name)
#define SHARD_STAT(name, kind, src, help) SHARD_STAT_##src(name)
struct shard_stats {
	XTS_SHM_COUNTERS(SHARD_STAT)
};

struct shard;

/*
 * A shard driven by its caller (tests, fuzzers): shard_open() sets it up
 * over @link (taken over, destroyed by shard_close(), also when open
 * fails) or, with @link NULL, over a new AF_XDP link on opts->ifname and
 * opts->queue.  opts->shm NULL: no xtsd, a config of its own from these
 * opts (the rest xts.conf's defaults) and no ACL.  opts->stop is not used.
 * 0 or -errno.
 */
int shard_open(struct shard **out, const struct shard_opts *opts, struct xts_link *link);
/* One loop round; when it found nothing to do, sleep until an event or the
 * shard's next deadline, at most @timeout_ms (0: never sleep, < 0: no
 * bound but the deadlines).  Returns the work done (0: none). */
int shard_poll(struct shard *s, int timeout_ms);
void shard_close(struct shard *s);

/* shard_open() (AF_XDP), rounds until *opts->stop, shard_close().
 * 0 or -errno (setup failure). */
int shard_run(const struct shard_opts *opts);

#endif

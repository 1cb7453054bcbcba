/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sup_sd.h - xtsd under a service manager (Type=notify, sd_notify.h):
 * READY=1 once every shard runs, RELOADING=1 and READY=1 around a
 * reload, STOPPING=1 when a stop starts.  Without NOTIFY_SOCKET each is a
 * no-op and sup_sd_run() never asks for a wake-up.
 */
#ifndef XTS_SUP_SD_H
#define XTS_SUP_SD_H

#include <stdint.h>

struct sup;

/* Until READY=1 is sent: are all shards running?  The next look (ms,
 * CLOCK_MONOTONIC), or SUP_NEVER. */
long long sup_sd_run(struct sup *sp, long long now);
void sup_sd_reloading(void);
/* After a reload: why it was refused, or NULL (generation gen in force). */
void sup_sd_reloaded(uint64_t gen, const char *refused);
/* A stop starts; the shards get drain_ms, then 5 s (once; later calls
 * do nothing). */
void sup_sd_stopping(uint32_t drain_ms);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cfg.h - xts.conf, parsed and validated in one place (cfg.c, the only
 * user of libconfig) into an immutable struct cfg.
 */
#ifndef XTS_CFG_H
#define XTS_CFG_H

#include <stdint.h>

#define CFG_MAX_QUEUES 256
#define CFG_ERR_LEN    512

struct cfg {
	char interface[32];
	uint32_t queues;
	char run_dir[256];
	char log_level[16];
	/* queue */
	uint32_t window, frames, ring_size;
	/* limits */
	uint32_t max_conns, conn_buf;
	/* timeouts */
	uint32_t connect_ms, idle_ms, dead_host_ms;
};

/* Load and validate FILE into *out.  On error returns -EINVAL (or -errno
 * for I/O) and writes "FILE:LINE: option: reason" into err. */
int cfg_load(const char *file, struct cfg *out, char err[CFG_ERR_LEN]);

#endif

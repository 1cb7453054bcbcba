/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cfg.h - xts.conf, parsed and validated in one place (cfg.c, the only
 * user of libconfig) into an immutable struct cfg.
 */
#ifndef XTS_CFG_H
#define XTS_CFG_H

#include <stdint.h>

#include "xts_shm.h"

#define CFG_MAX_QUEUES XTS_SHM_MAX_SHARDS
#define CFG_MAX_CPUS   64 /* CPUs one shard may be pinned to */
#define CFG_ERR_LEN    512
#define CFG_NODE_AUTO  -1

struct cfg_shard {
	uint32_t ncpus;
	uint16_t cpus[CFG_MAX_CPUS]; /* none: not pinned */
	int32_t node;		     /* NUMA node, CFG_NODE_AUTO: the CPUs' node */
};

struct cfg {
	char interface[32];
	uint32_t queues;
	char run_dir[256];
	char log_level[16];
	char log_target[16]; /* "stderr" or "syslog" */
	/* queue */
	uint32_t window, frames, ring_size;
	/* limits */
	uint32_t max_conns, conn_buf, listeners;
	uint64_t shard_buf;
	/* timeouts */
	uint32_t connect_ms, idle_ms, dead_host_ms, drain_ms, hang_ms, linger_ms;
	/* ctl */
	char ctl_path[108]; /* sun_path; default run_dir/ctl.sock */
	char ctl_mode_s[8];
	char ctl_group[64]; /* "": the socket keeps root's group */
	uint32_t ctl_mode;
	/* shards and ACLs (rules of all queues, XTS_ACL_ANY_QUEUE: default) */
	struct cfg_shard shard[CFG_MAX_QUEUES];
	uint32_t nacl;
	struct xts_shm_acl acl[XTS_SHM_ACL_MAX];
};

/* Load and validate FILE into *out.  On error returns -EINVAL (or -errno
 * for I/O) and writes "FILE:LINE: option: reason" into err. */
int cfg_load(const char *file, struct cfg *out, char err[CFG_ERR_LEN]);

/* Parse one ACL rule: "ADDR[/LEN][:PORT[-PORT]]" (IPv6 in [] when a port
 * follows; "*" any address) for connect, "PORT[-PORT]" for listen.
 * 0 or -EINVAL with the reason in why. */
int cfg_acl_parse(const char *s, uint8_t kind, struct xts_shm_acl *r, char *why, size_t whylen);

/* log_level name -> enum xts_log_level, -1 if unknown */
int cfg_log_level(const char *name);

/* Copy what shards apply at run time into a snapshot (seq untouched). */
void cfg_to_shm(const struct cfg *c, uint64_t gen, struct xts_shm_cfg *out);

/* Reload check: 0 if @next can replace @cur without a restart, else
 * -EINVAL and the first option that needs one, with why, in err.
 * @table_conns: the connection table size the shards started with. */
int cfg_reloadable(const struct cfg *cur, const struct cfg *next, uint32_t table_conns,
		   char err[CFG_ERR_LEN]);

#endif

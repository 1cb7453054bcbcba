/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cfg.h - xts.conf, parsed and validated in one place (cfg.c, on the
 * option-table engine of cfg_opt.c that xportd.conf shares) into an
 * immutable struct cfg.
 *
 * Every option is one row of one table (cfg_opts()): its name, type,
 * range, default, whether reload may change it, and a line of help.  The
 * parser, the defaults, the reload check and the shards' snapshot are all
 * derived from that table.  The options that shards apply at run time
 * live in struct cfg's `run` member, which is the shared-memory snapshot
 * itself (struct xts_shm_cfg): publishing a generation copies it whole.
 */
#ifndef XTS_CFG_H
#define XTS_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "cfg_opt.h"
#include "xts_shm.h"

#define CFG_MAX_QUEUES XTS_SHM_MAX_SHARDS
#define CFG_MAX_CPUS   64 /* CPUs one shard may be pinned to */
#define CFG_NODE_AUTO  -1

struct cfg_shard {
	uint32_t ncpus;
	uint16_t cpus[CFG_MAX_CPUS]; /* none: not pinned */
	int32_t node;		     /* NUMA node, CFG_NODE_AUTO: the CPUs' node */
};

#define CFG_SUM_LEN 32 /* SHA-256 */

struct cfg {
	char interface[32];
	uint32_t queues;
	char run_dir[256];
	char log_target[16]; /* "stderr" or "syslog" */
	/* queue */
	uint32_t window, frames, ring_size;
	/* timeouts that xtsd itself applies */
	uint32_t drain_ms, hang_ms;
	/* ctl */
	char ctl_path[108]; /* sun_path; default run_dir/ctl.sock */
	uint32_t ctl_mode;
	char ctl_group[64]; /* "": the socket keeps root's group */
	/* poll: every shard's defaults (run.poll[q] holds each shard's, with
	 * its shards entry's poll and spin_us) */
	uint32_t poll_mode, poll_spin_us, poll_napi_budget;
	char metrics_listen[64]; /* GET /metrics here ("ADDR:PORT"); "": none */
	/* placement (the ACL rules of shards entries are in run.acl) */
	struct cfg_shard shard[CFG_MAX_QUEUES];
	/* What the shards apply at run time: log level, limits, timeouts and
	 * the ACL rules of all queues (XTS_ACL_ANY_QUEUE: the defaults).  seq
	 * and gen are not the parser's (cfg_to_shm sets gen). */
	struct xts_shm_cfg run;
	/* Not the parser's: the SHA-256 of each TLS profile's files as xtsd
	 * loaded them (sup_cfg_sums, sup_diff.c), so that a reload can tell
	 * a certificate or key whose content changed under the same path. */
	struct cfg_tls_sum {
		uint8_t ca[CFG_SUM_LEN];
		uint8_t cert[1 + XTS_SHM_TLS_SNI][CFG_SUM_LEN];
		uint8_t key[1 + XTS_SHM_TLS_SNI][CFG_SUM_LEN];
	} tls_sum[XTS_SHM_TLS_MAX];
};

/* ---- the option table (struct cfg_opt: cfg_opt.h) ---- */

/* The table, in the order of conf/xts.conf; *n rows. */
const struct cfg_opt *cfg_opts(size_t *n);

/* ---- loading ---- */

/* Load and validate FILE into *out.  On error returns -EINVAL (or -errno
 * for I/O) and writes "FILE:LINE: option: reason" (or "FILE: reason" for
 * the file as a whole) into err. */
int cfg_load(const char *file, struct cfg *out, char err[CFG_ERR_LEN]);

/* Parse one ACL rule: "ADDR[/LEN][:PORT[-PORT]]" (IPv6 in [] when a port
 * follows; "*" any address) for connect, "PORT[-PORT]" for listen.
 * 0 or -EINVAL with the reason in why. */
int cfg_acl_parse(const char *s, uint8_t kind, struct xts_shm_acl *r, char *why, size_t whylen);

/* cfg_tls.c: the `tls` list of profiles into run->tls (each profile's
 * files checked by building its contexts): 0 or cfg_fail(). */
int cfg_tls_list(struct cfg_ld *ld, config_setting_t *s, const char *path, struct xts_shm_cfg *run);
/* cfg_tls.c: an ACL list of TLS profiles (@s at @path) names only "*" and
 * profiles of run->tls: 0 or cfg_fail() ("unknown profile"). */
int cfg_tls_acl_names(struct cfg_ld *ld, config_setting_t *s, const char *path,
		      const struct xts_shm_cfg *run);

/* The snapshot shards apply (c->run with generation gen). */
void cfg_to_shm(const struct cfg *c, uint64_t gen, struct xts_shm_cfg *out);

/* Reload check: 0 if @next can replace the configuration in force without
 * a restart, else -EINVAL and the first option that needs one, with why,
 * in err.  @start: the configuration xtsd started with (restart-only
 * options never differ from it; CFG_RELOAD_DOWN options are bounded by
 * it). */
int cfg_reloadable(const struct cfg *start, const struct cfg *next, char err[CFG_ERR_LEN]);

#endif

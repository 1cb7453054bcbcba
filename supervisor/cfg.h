/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cfg.h - xts.conf, parsed and validated in one place (cfg.c, the only
 * user of libconfig) into an immutable struct cfg.
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

#include "xts_shm.h"

#define CFG_MAX_QUEUES XTS_SHM_MAX_SHARDS
#define CFG_MAX_CPUS   64 /* CPUs one shard may be pinned to */
#define CFG_ERR_LEN    512
#define CFG_NODE_AUTO  -1
#define CFG_MAX_BYTES  (1u << 20) /* a bigger file is not a configuration */

struct cfg_shard {
	uint32_t ncpus;
	uint16_t cpus[CFG_MAX_CPUS]; /* none: not pinned */
	int32_t node;		     /* NUMA node, CFG_NODE_AUTO: the CPUs' node */
};

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
	/* placement (the ACL rules of shards entries are in run.acl) */
	struct cfg_shard shard[CFG_MAX_QUEUES];
	/* What the shards apply at run time: log level, limits, timeouts and
	 * the ACL rules of all queues (XTS_ACL_ANY_QUEUE: the defaults).  seq
	 * and gen are not the parser's (cfg_to_shm sets gen). */
	struct xts_shm_cfg run;
};

/* ---- the option table ---- */

enum cfg_type {
	CFG_T_U32,    /* integer in [min, max] */
	CFG_T_U64,    /* integer in [min, max], 64 bits */
	CFG_T_STR,    /* string of at most size-1 bytes; names: the values allowed */
	CFG_T_ENUM,   /* one of names, stored as its index (uint32_t) */
	CFG_T_MODE,   /* an octal file mode string, "0000".."0777" (uint32_t) */
	CFG_T_GROUP,  /* a group { ... } of the options named "group.*" */
	CFG_T_ACL,    /* a list of ACL rule strings (cfg_acl_parse) */
	CFG_T_SHARDS, /* the list of per-shard groups */
};

enum cfg_reload {
	CFG_RESTART,	 /* reload refuses a change: it needs a restart of xtsd */
	CFG_RELOAD,	 /* reload applies it */
	CFG_RELOAD_DOWN, /* reload may lower it, or raise it back to the start value
			  * (it sized a table when xtsd started) */
};

struct cfg_opt {
	const char *name; /* "name" or "group.name" */
	enum cfg_type type;
	enum cfg_reload reload;
	size_t off, size;	  /* the value in struct cfg (0, 0: none of its own) */
	long long min, max, def;  /* integers */
	const char *sdef;	  /* strings, enums, modes: the default as written */
	const char *const *names; /* CFG_T_ENUM, CFG_T_STR: the values allowed (NULL-ended) */
	const char *help;	  /* one line */
};

/* The table, in the order of conf/xts.conf; *n rows. */
const struct cfg_opt *cfg_opts(size_t *n);

/* ---- loading ---- */

/* Load and validate FILE into *out.  On error returns -EINVAL (or -errno
 * for I/O) and writes "FILE:LINE: option: reason" (or "FILE: reason" for
 * the file as a whole) into err. */
int cfg_load(const char *file, struct cfg *out, char err[CFG_ERR_LEN]);

/* cfg_text.c: FILE's text as libconfig may safely read it: a regular file
 * of at most CFG_MAX_BYTES, no @include, no NUL, integers past 32 bits
 * suffixed so that libconfig 1.5 does not truncate them.  0 (*text
 * malloc'ed) or -errno with "FILE[:LINE]: reason" in err. */
int cfg_text(const char *file, char **text, char err[CFG_ERR_LEN]);

/* Parse one ACL rule: "ADDR[/LEN][:PORT[-PORT]]" (IPv6 in [] when a port
 * follows; "*" any address) for connect, "PORT[-PORT]" for listen.
 * 0 or -EINVAL with the reason in why. */
int cfg_acl_parse(const char *s, uint8_t kind, struct xts_shm_acl *r, char *why, size_t whylen);

/* n bytes of s as an unsigned number in @base, digits only (no sign, no
 * space, no prefix), at most @max: 0, -EINVAL or -ERANGE. */
int cfg_digits(const char *s, size_t n, unsigned base, unsigned long max, unsigned long *v);

/* The snapshot shards apply (c->run with generation gen). */
void cfg_to_shm(const struct cfg *c, uint64_t gen, struct xts_shm_cfg *out);

/* Reload check: 0 if @next can replace the configuration in force without
 * a restart, else -EINVAL and the first option that needs one, with why,
 * in err.  @start: the configuration xtsd started with (restart-only
 * options never differ from it; CFG_RELOAD_DOWN options are bounded by
 * it). */
int cfg_reloadable(const struct cfg *start, const struct cfg *next, char err[CFG_ERR_LEN]);

#endif

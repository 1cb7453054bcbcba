// SPDX-License-Identifier: BSD-2-Clause
/*
 * cfg.c - xts.conf (libconfig) -> struct cfg.  Table-driven: every option
 * is one row of opts[] with its type, range, default, reloadability and
 * help, so unknown options, wrong types and out-of-range values are all
 * caught the same way, with file:line and the option's full path, and the
 * reload check and the shards' snapshot follow from the same rows.  Lists
 * (ACL rules, shards) have their own small walkers that report the same
 * way ("shards.[1].cpus").  The walk itself is the option-table engine
 * (cfg_opt.c), which xportd.conf shares; the file's bytes reach libconfig
 * only through cfg_text() (cfg_text.c), which keeps libconfig's traps away.
 */
#define _GNU_SOURCE /* CPU_SETSIZE */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libconfig.h>

#include "cfg.h"
#include "link.h" /* XTS_LINK_DEF_*: the queue defaults, stated once */

static const char *const log_levels[] = {
    [XTS_LOG_ERROR] = "error",
    [XTS_LOG_WARNING] = "warning",
    [XTS_LOG_INFO] = "info",
    [XTS_LOG_DEBUG] = "debug",
    NULL,
};
static const char *const log_targets[] = {"stderr", "syslog", NULL};
static const char *const poll_modes[] = {
#define POLL_NAME(name, str) [XTS_POLL_##name] = str,
    XTS_POLL_MODES(POLL_NAME)
#undef POLL_NAME
	NULL,
};

#define F(f)   offsetof(struct cfg, f), sizeof(((struct cfg *)0)->f)
#define RUN(f) F(run.f)
#define U32(name, field, reload, lo, hi, d, help)                                                  \
	{                                                                                          \
		name, CFG_T_U32, reload, field, lo, hi, d, NULL, NULL, help                        \
	}
#define U64(name, field, reload, lo, hi, d, help)                                                  \
	{                                                                                          \
		name, CFG_T_U64, reload, field, lo, hi, d, NULL, NULL, help                        \
	}
#define STR(name, field, d, names, help)                                                           \
	{                                                                                          \
		name, CFG_T_STR, CFG_RESTART, field, 0, 0, 0, d, names, help                       \
	}
#define GROUP(name, help)                                                                          \
	{                                                                                          \
		name, CFG_T_GROUP, CFG_RELOAD, 0, 0, 0, 0, 0, NULL, NULL, help                     \
	}
#define ACL(name, kind, help)                                                                      \
	{                                                                                          \
		name, CFG_T_ACL, CFG_RELOAD, 0, 0, kind, 0, 0, NULL, NULL, help                    \
	}
#define MS_MAX(h) ((h)*3600 * 1000)

static const struct cfg_opt opts[] = {
    STR("interface", F(interface), "xd0", NULL, "DPU interface whose queues the shards serve"),
    U32("queues", F(queues), CFG_RESTART, 1, CFG_MAX_QUEUES, 8,
	"number of queues, hence shards: shard q serves queue q"),
    STR("run_dir", F(run_dir), "/run/xts", NULL, "runtime files (the default ctl socket)"),
    {"log_level", CFG_T_ENUM, CFG_RELOAD, RUN(log_level), 0, 0, 0, "info", log_levels,
     "error, warning, info or debug"},
    STR("log_target", F(log_target), "stderr", log_targets, "stderr or syslog (facility daemon)"),
    GROUP("queue", "the AF_XDP queues"),
    U32("queue.window", F(window), CFG_RESTART, 2, 1024, XTS_LINK_DEF_WINDOW,
	"frames the host may send a shard unacknowledged"),
    U32("queue.frames", F(frames), CFG_RESTART, 256, 1 << 20, XTS_LINK_DEF_FRAMES,
	"UMEM frames per queue (4 KiB each), half rx, half tx"),
    U32("queue.ring_size", F(ring_size), CFG_RESTART, 64, 1 << 16, XTS_LINK_DEF_RING,
	"AF_XDP ring entries, a power of two"),
    U32("queue.coalesce_us", RUN(coalesce_us), CFG_RELOAD, 0, 100000, 0,
	"frames to the host wait up to this long after a doorbell while they stream "
	"(interrupt moderation: fewer host wakeups, more latency; 0: off)"),
    GROUP("limits", "per-queue and per-shard limits"),
    U32("limits.max_conns", RUN(max_conns), CFG_RELOAD_DOWN, 1, (1 << 20) - 1, 65536,
	"connections per queue (ENOBUFS past it)"),
    U32("limits.conn_buf", RUN(conn_buf), CFG_RESTART, 4096, 64 << 20, 256 * 1024,
	"bytes a shard buffers per connection: a host socket's send credit"),
    U64("limits.shard_buf", RUN(shard_buf), CFG_RELOAD, 1 << 20, 1ll << 40, 1ll << 30,
	"bytes a shard buffers over all its connections (ENOBUFS past it)"),
    U32("limits.listeners", RUN(listeners), CFG_RELOAD_DOWN, 0, 65536, 64,
	"listening sockets per queue"),
    U32("limits.tls_conns", RUN(tls_conns), CFG_RELOAD, 0, 1 << 20, 65536,
	"TLS connections per shard (ENOBUFS past it; 0: no limit)"),
    U32("limits.tls_handshakes", RUN(tls_handshakes), CFG_RELOAD, 0, 1 << 20, 1024,
	"TLS handshakes in flight per shard (ENOBUFS past it; 0: no limit)"),
    GROUP("timeouts", "timeouts in milliseconds"),
    U32("timeouts.connect_ms", RUN(connect_ms), CFG_RELOAD, 0, MS_MAX(1), 0,
	"connect timeout when the host sets none (0: the kernel's)"),
    U32("timeouts.idle_ms", RUN(idle_ms), CFG_RELOAD, 0, MS_MAX(1), 5000,
	"ping a host whose queue has been silent this long (0: never)"),
    U32("timeouts.dead_host_ms", RUN(dead_host_ms), CFG_RELOAD, 0, MS_MAX(24), 60000,
	"end the session of a host silent this long (0: never)"),
    U32("timeouts.drain_ms", F(drain_ms), CFG_RELOAD, 0, MS_MAX(1), 3000,
	"longest drain before the shards stop (0: stop at once)"),
    U32("timeouts.hang_ms", F(hang_ms), CFG_RELOAD, 0, MS_MAX(1), 5000,
	"kill and restart a shard whose loop stood still this long (0: never)"),
    U32("timeouts.linger_ms", RUN(linger_ms), CFG_RELOAD, 0, MS_MAX(1), XTS_CFG_DEF_LINGER_MS,
	"a closed connection's unsent bytes get this long, then RST"),
    U32("timeouts.tls_handshake_ms", RUN(tls_handshake_ms), CFG_RELOAD, 100, MS_MAX(1), 10000,
	"a TLS handshake not done this long fails (ETIMEDOUT)"),
    U32("timeouts.handoff_ms", RUN(handoff_ms), CFG_RELOAD, 0, 600000, XTS_CFG_DEF_HANDOFF_MS,
	"a listener closed while open in another process waits this long for a sibling"),
    GROUP("ctl", "the ctl socket (xtsctl)"),
    STR("ctl.path", F(ctl_path), "", NULL, "the ctl socket (\"\": run_dir/ctl.sock)"),
    {"ctl.mode", CFG_T_MODE, CFG_RESTART, F(ctl_mode), 0, 0777, 0660, "0660", NULL,
     "its mode, an octal string"},
    STR("ctl.group", F(ctl_group), "", NULL, "its group (\"\": root only)"),
    GROUP("poll", "what a shard does when a round found no work (per shard: shards)"),
    {"poll.mode", CFG_T_ENUM, CFG_RELOAD, F(poll_mode), 0, 0, 0, "sleep", poll_modes,
     "sleep, busy (never sleep) or adaptive (spin spin_us after the last work)"},
    U32("poll.spin_us", F(poll_spin_us), CFG_RELOAD, 0, 1000000, 50,
	"adaptive: how long a shard spins after its last work before it sleeps"),
    U32("poll.napi_budget", F(poll_napi_budget), CFG_RELOAD, 0, 65535, 64,
	"while spinning, the kernel busy-polls the AF_XDP socket's NAPI with this "
	"budget (0: not)"),
    GROUP("metrics", "Prometheus metrics over HTTP"),
    {"metrics.listen", CFG_T_LISTEN, CFG_RESTART, F(metrics_listen), 0, 0, 0, "", NULL,
     "serve GET /metrics on this \"ADDR:PORT\" (\"\": not at all)"},
    GROUP("acl", "access control, the defaults of every queue"),
    ACL("acl.connect", XTS_ACL_CONNECT, "destinations a queue may connect to"),
    ACL("acl.listen", XTS_ACL_LISTEN, "ports a queue may listen on (and bind to)"),
    ACL("acl.tls", XTS_ACL_TLS, "TLS profiles a queue may push (\"*\": any)"),
    {"shards", CFG_T_SHARDS, CFG_RESTART, F(shard), 0, 0, 0, NULL, NULL,
     "per-shard placement (restart) and ACL rules (reloadable)"},
    {"tls", CFG_T_CUSTOM, CFG_RELOAD, 0, 0, 0, 0, 0, NULL, NULL,
     "TLS profiles by name (cfg_tls.c); reload rotates certificates"},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

const struct cfg_opt *cfg_opts(size_t *n)
{
	*n = NOPTS;
	return opts;
}

/* The configuration a load fills (the engine's scratch copy). */
static struct cfg *C(struct cfg_ld *ld)
{
	return ld->base;
}

/* A list or array of rule strings, for queue @queue. */
static int acl_list(struct cfg_ld *ld, config_setting_t *s, uint8_t kind, uint16_t queue,
		    const char *path)
{
	struct xts_shm_cfg *run = &C(ld)->run;
	char why[160], epath[160];
	int n, i;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(ld, s, path, "must be a list of strings [ \"...\", ... ]");
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);

		snprintf(epath, sizeof(epath), "%s[%d]", path, i);
		if (!v)
			return cfg_fail(ld, e ? e : s, epath, "must be a string");
		if (run->nacl == XTS_SHM_ACL_MAX)
			return cfg_fail(ld, e, epath, "more than %d ACL rules in all",
					XTS_SHM_ACL_MAX);
		if (cfg_acl_parse(v, kind, &run->acl[run->nacl], why, sizeof(why)))
			return cfg_fail(ld, e, epath, "%s", why);
		run->acl[run->nacl++].queue = queue;
	}
	return 0;
}

static int shard_cpus(struct cfg_ld *ld, config_setting_t *s, const char *path,
		      struct cfg_shard *sh)
{
	long long v;
	int n, i;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(ld, s, path, "must be a list of CPU numbers [ 1, 2 ]");
	n = config_setting_length(s);
	if (n > CFG_MAX_CPUS)
		return cfg_fail(ld, s, path, "at most %d CPUs", CFG_MAX_CPUS);
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char epath[128];

		snprintf(epath, sizeof(epath), "%s[%d]", path, i);
		if (cfg_int_in(ld, e, epath, 0, CPU_SETSIZE - 1, &v))
			return -EINVAL;
		sh->cpus[sh->ncpus++] = (uint16_t)v;
	}
	return 0;
}

/* shards.[idx].poll and .spin_us: this shard's poll mode, over the
 * defaults of the poll group (reloadable: they live in the snapshot). */
static int shard_poll_opts(struct cfg_ld *ld, config_setting_t *g, int idx, struct xts_shm_poll *p)
{
	config_setting_t *s;
	const char *str;
	char path[96], list[96];
	long long v;
	int m;

	snprintf(path, sizeof(path), "shards.[%d].poll", idx);
	if ((s = config_setting_get_member(g, "poll"))) {
		if (!(str = config_setting_get_string(s)))
			return cfg_fail(ld, s, path, "must be a string");
		if ((m = cfg_pick(poll_modes, str)) < 0)
			return cfg_fail(ld, s, path, "\"%s\": must be %s", str,
					cfg_one_of(poll_modes, list, sizeof(list)));
		p->mode = (uint32_t)m;
	}
	snprintf(path, sizeof(path), "shards.[%d].spin_us", idx);
	if ((s = config_setting_get_member(g, "spin_us"))) {
		if (cfg_int_in(ld, s, path, 0, 1000000, &v))
			return -EINVAL;
		p->spin_us = (uint32_t)v;
	}
	return 0;
}

/* shards.[idx]: placement into c->shard[queue], rules into run.acl.
 * first_line[q]: the line of queue q's entry, 0 before one was seen. */
static int shard_entry(struct cfg_ld *ld, config_setting_t *g, int idx, unsigned *first_line)
{
	static const char *const keys[] = {"queue", "cpus", "node",    "connect", "listen",
					   "tls",   "poll", "spin_us", NULL};
	struct cfg_shard sh = {.node = CFG_NODE_AUTO};
	config_setting_t *s;
	char path[96];
	long long q, v;
	int i, n;

	snprintf(path, sizeof(path), "shards.[%d]", idx);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return cfg_fail(ld, g, path, "must be a group { queue = N; ... }");
	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, (unsigned)i);
		snprintf(path, sizeof(path), "shards.[%d].%s", idx, config_setting_name(s));
		if (cfg_pick(keys, config_setting_name(s)) < 0)
			return cfg_fail(ld, s, path, "unknown option");
	}
	snprintf(path, sizeof(path), "shards.[%d].queue", idx);
	if (!(s = config_setting_get_member(g, "queue")))
		return cfg_fail(ld, g, path, "missing");
	if (cfg_int_in(ld, s, path, 0, C(ld)->queues - 1, &q))
		return -EINVAL;
	/* one entry per queue: a second would silently win (cpus) or add up
	 * (rules), neither of which the operator can see */
	if (first_line[q])
		return cfg_fail(ld, s, path, "queue %lld has an entry already (line %u)", q,
				first_line[q]);
	first_line[q] = config_setting_source_line(s);
	snprintf(path, sizeof(path), "shards.[%d].cpus", idx);
	if ((s = config_setting_get_member(g, "cpus")) && shard_cpus(ld, s, path, &sh))
		return -EINVAL;
	snprintf(path, sizeof(path), "shards.[%d].node", idx);
	if ((s = config_setting_get_member(g, "node"))) {
		const char *str = config_setting_get_string(s);

		if (!str) {
			if (cfg_int_in(ld, s, path, 0, 1023, &v))
				return -EINVAL;
			sh.node = (int32_t)v;
		} else if (strcmp(str, "auto")) {
			return cfg_fail(ld, s, path, "must be a node number or \"auto\"");
		}
	}
	if (shard_poll_opts(ld, g, idx, &C(ld)->run.poll[q]))
		return -EINVAL;
	snprintf(path, sizeof(path), "shards.[%d].connect", idx);
	if ((s = config_setting_get_member(g, "connect")) &&
	    acl_list(ld, s, XTS_ACL_CONNECT, (uint16_t)q, path))
		return -EINVAL;
	snprintf(path, sizeof(path), "shards.[%d].listen", idx);
	if ((s = config_setting_get_member(g, "listen")) &&
	    acl_list(ld, s, XTS_ACL_LISTEN, (uint16_t)q, path))
		return -EINVAL;
	snprintf(path, sizeof(path), "shards.[%d].tls", idx);
	if ((s = config_setting_get_member(g, "tls")) &&
	    (acl_list(ld, s, XTS_ACL_TLS, (uint16_t)q, path) ||
	     cfg_tls_acl_names(ld, s, path, &C(ld)->run)))
		return -EINVAL;
	C(ld)->shard[q] = sh;
	return 0;
}

/* The options of xts.conf's own types: ACL lists and the shards. */
static int special(struct cfg_ld *ld, const struct cfg_opt *o, config_setting_t *s,
		   const char *path)
{
	if (o->type == CFG_T_ACL)
		return acl_list(ld, s, (uint8_t)o->min, XTS_ACL_ANY_QUEUE, path);
	if (o->type == CFG_T_CUSTOM && !strcmp(o->name, "tls"))
		return cfg_tls_list(ld, s, path, &C(ld)->run);
	if (o->type != CFG_T_SHARDS)
		return cfg_fail(ld, s, path, "not handled");
	/* after the walk: needs `queues`, wherever it is in the file */
	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(ld, s, path, "must be a list ( { queue = 0; ... }, ... )");
	return 0;
}

static void init(void *base)
{
	struct cfg *c = base;

	for (unsigned q = 0; q < CFG_MAX_QUEUES; q++)
		c->shard[q].node = CFG_NODE_AUTO;
}

/* cross-option rules, and the shards (they need `queues`) */
static int check(struct cfg_ld *ld)
{
	unsigned first_line[CFG_MAX_QUEUES];
	struct cfg *c = C(ld);
	config_setting_t *s;

	if (c->ring_size & (c->ring_size - 1))
		return cfg_fail(ld, cfg_where(ld, "queue.ring_size"), "queue.ring_size",
				"must be a power of two");
	if (c->window > c->ring_size / 2 || c->window > c->frames / 4)
		return cfg_fail(ld, cfg_where(ld, "queue.window"), "queue.window",
				"must be at most ring_size/2 and frames/4");
	if (c->run.shard_buf < c->run.conn_buf)
		return cfg_fail(ld, cfg_where(ld, "limits.shard_buf"), "limits.shard_buf",
				"must be at least limits.conn_buf");
	if (!c->ctl_path[0] && snprintf(c->ctl_path, sizeof(c->ctl_path), "%s/ctl.sock",
					c->run_dir) >= (int)sizeof(c->ctl_path))
		return cfg_fail(ld, cfg_where(ld, "run_dir"), "run_dir",
				"too long for the default ctl.path (run_dir/ctl.sock)");
	if (c->ctl_path[0] != '/')
		return cfg_fail(ld, cfg_where(ld, "ctl.path"), "ctl.path", "must be absolute");
	for (unsigned q = 0; q < CFG_MAX_QUEUES; q++) /* shards entries may override */
		c->run.poll[q] = (struct xts_shm_poll){.mode = c->poll_mode,
						       .spin_us = c->poll_spin_us,
						       .napi_budget = c->poll_napi_budget};
	/* the walk parsed acl.tls and the profiles, in either order */
	if ((s = config_lookup(ld->lc, "acl.tls")) && cfg_tls_acl_names(ld, s, "acl.tls", &c->run))
		return -EINVAL;
	if ((s = config_lookup(ld->lc, "shards"))) {
		int n = config_setting_length(s), rc;

		memset(first_line, 0, sizeof(first_line));
		for (int i = 0; i < n; i++)
			if ((rc = shard_entry(ld, config_setting_get_elem(s, (unsigned)i), i,
					      first_line)))
				return rc;
	}
	return 0;
}

int cfg_load(const char *file, struct cfg *out, char err[CFG_ERR_LEN])
{
	struct cfg_ld ld = {
	    .file = file,
	    .err = err,
	    .base = out,
	    .opts = opts,
	    .nopts = NOPTS,
	    .init = init,
	    .special = special,
	    .check = check,
	};

	return cfg_opt_load(&ld, sizeof(*out));
}

void cfg_to_shm(const struct cfg *c, uint64_t gen, struct xts_shm_cfg *out)
{
	*out = c->run;
	out->seq = 0;
	out->gen = gen;
}

/* An integer option's value at p (its place in some struct cfg). */
static unsigned long long uint_at(const struct cfg_opt *o, const char *p)
{
	uint64_t v64;
	uint32_t v32;

	if (o->type == CFG_T_U64) {
		memcpy(&v64, p, sizeof(v64));
		return v64;
	}
	memcpy(&v32, p, sizeof(v32));
	return v32;
}

int cfg_reloadable(const struct cfg *start, const struct cfg *next, char err[CFG_ERR_LEN])
{
	err[0] = 0;
	for (size_t i = 0; i < NOPTS; i++) {
		const struct cfg_opt *o = &opts[i];
		const char *a = (const char *)start + o->off, *b = (const char *)next + o->off;

		if (!o->size || o->reload == CFG_RELOAD)
			continue;
		if (o->reload == CFG_RESTART && memcmp(a, b, o->size)) {
			snprintf(err, CFG_ERR_LEN, "%s: changed; that needs a restart of xtsd",
				 o->name);
			return -EINVAL;
		}
		if (o->reload != CFG_RELOAD_DOWN)
			continue;
		if (uint_at(o, b) > uint_at(o, a)) {
			snprintf(err, CFG_ERR_LEN,
				 "%s: %llu is above %llu, the value xtsd started with (it sized a "
				 "table); raising it needs a restart of xtsd",
				 o->name, uint_at(o, b), uint_at(o, a));
			return -EINVAL;
		}
	}
	return 0;
}

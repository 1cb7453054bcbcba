// SPDX-License-Identifier: BSD-2-Clause
/*
 * xpd_cfg.c - xportd.conf -> struct xpd_cfg, on the option-table engine
 * xts.conf uses (cfg_opt.c): the same syntax, the same checks (one regular
 * file, no @include, 64-bit integers read whole, unknown options, types
 * and ranges) and the same "FILE:LINE: option: reason" errors.  The
 * policy is a list of rules with a small walker of its own, like xts.conf's
 * shards.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link.h" /* XTS_LINK_DEF_*: the queue defaults, stated once */
#include "xportd.h"

static const char *const log_levels[] = {"error", "warning", "info", "debug", NULL};
static const char *const log_targets[] = {"stderr", "syslog", NULL};

#define F(f) offsetof(struct xpd_cfg, f), sizeof(((struct xpd_cfg *)0)->f)
#define U32(name, field, lo, hi, d, help)                                                          \
	{                                                                                          \
		name, CFG_T_U32, CFG_RESTART, field, lo, hi, d, NULL, NULL, help                   \
	}
#define STR(name, field, d, names, help)                                                           \
	{                                                                                          \
		name, CFG_T_STR, CFG_RESTART, field, 0, 0, 0, d, names, help                       \
	}
#define GROUP(name, help)                                                                          \
	{                                                                                          \
		name, CFG_T_GROUP, CFG_RESTART, 0, 0, 0, 0, 0, NULL, NULL, help                    \
	}

static const struct cfg_opt opts[] = {
    STR("interface", F(interface), "xh0", NULL, "host interface whose queues xportd leases"),
    U32("queues", F(queues), 1, XPD_MAX_QUEUES, 8, "queues leased: 0 .. queues-1"),
    STR("run_dir", F(run_dir), "/run/xts", NULL, "runtime files (the default socket)"),
    {"log_level", CFG_T_ENUM, CFG_RESTART, F(log_level), 0, 0, 0, "info", log_levels,
     "error, warning, info or debug"},
    STR("log_target", F(log_target), "stderr", log_targets, "stderr or syslog (facility daemon)"),
    GROUP("queue", "what each lease gets"),
    U32("queue.frames", F(frames), 256, 1 << 20, XTS_LINK_DEF_FRAMES,
	"UMEM frames per lease (4 KiB each), half rx, half tx"),
    U32("queue.ring_size", F(ring_size), 64, 1 << 16, XTS_LINK_DEF_RING,
	"AF_XDP ring entries, a power of two"),
    GROUP("socket", "the unix socket programs ask for leases on"),
    STR("socket.path", F(sock_path), "", NULL, "the socket (\"\": run_dir/xportd.sock)"),
    {"socket.mode", CFG_T_MODE, CFG_RESTART, F(sock_mode), 0, 0777, 0666, "0666", NULL,
     "its mode, an octal string (the policy decides who may lease)"},
    STR("socket.group", F(sock_group), "", NULL, "its group (\"\": root's)"),
    GROUP("metrics", "Prometheus metrics over HTTP"),
    {"metrics.listen", CFG_T_LISTEN, CFG_RESTART, F(metrics_listen), 0, 0, 0, "", NULL,
     "serve GET /metrics on this \"ADDR:PORT\" (\"\": not at all)"},
    GROUP("limits", "bounds on clients"),
    U32("limits.clients", F(max_clients), 4, 4096, 256, "connections at once, leases included"),
    U32("limits.sockets", F(max_sockets), 16, 1 << 20, 16384,
	"sockets a lessee may publish (sizes its shared area)"),
    U32("limits.request_ms", F(request_ms), 100, 60000, 2000,
	"a client has this long to send its whole request"),
    U32("limits.max_wait_ms", F(max_wait_ms), 0, 3600 * 1000, 60000,
	"the longest a lease request may wait for a free queue"),
    {"policy", CFG_T_CUSTOM, CFG_RESTART, 0, 0, 0, 0, 0, NULL, NULL,
     "who may lease: rules of user or group, leases, queues, reserve"},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

const struct cfg_opt *xpd_cfg_opts(size_t *n)
{
	*n = NOPTS;
	return opts;
}

static struct xpd_cfg *C(struct cfg_ld *ld)
{
	return ld->base;
}

static int special(struct cfg_ld *ld, const struct cfg_opt *o, config_setting_t *s,
		   const char *path)
{
	(void)o;
	/* the rules after the walk: they need `queues` */
	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(ld, s, path, "must be a list ( { group = \"xts\"; ... }, ... )");
	return 0;
}

/* user = "name" | uid, group = "name" | gid */
static int rule_who(struct cfg_ld *ld, config_setting_t *s, const char *path, bool user,
		    struct xpd_rule *r)
{
	const char *name = config_setting_get_string(s);
	char buf[4096];
	long long v;

	r->who = user ? XPD_WHO_USER : XPD_WHO_GROUP;
	if (!name) {
		if (cfg_int_in(ld, s, path, 0, 0xfffffffell, &v))
			return -EINVAL;
		r->id = (uint32_t)v;
		snprintf(r->name, sizeof(r->name), "%lld", v);
		return 0;
	}
	if (!*name || strlen(name) >= sizeof(r->name))
		return cfg_fail(ld, s, path, "length must be 1..%zu", sizeof(r->name) - 1);
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (user) {
		struct passwd pw, *pp = NULL;

		if (getpwnam_r(name, &pw, buf, sizeof(buf), &pp) || !pp)
			return cfg_fail(ld, s, path, "no such user \"%s\"", name);
		r->id = pp->pw_uid;
	} else {
		struct group gr, *gp = NULL;

		if (getgrnam_r(name, &gr, buf, sizeof(buf), &gp) || !gp)
			return cfg_fail(ld, s, path, "no such group \"%s\"", name);
		r->id = gp->gr_gid;
	}
	return 0;
}

static int rule_queues(struct cfg_ld *ld, config_setting_t *s, const char *path, struct xpd_rule *r)
{
	long long v;
	int n, i;

	memset(r->queues, 0, sizeof(r->queues));
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(ld, s, path, "must be a list of queue numbers [ 6, 7 ]");
	n = config_setting_length(s);
	if (!n)
		return cfg_fail(ld, s, path, "empty: leave it out for every queue");
	for (i = 0; i < n; i++) {
		char epath[128];

		snprintf(epath, sizeof(epath), "%s[%d]", path, i);
		if (cfg_int_in(ld, config_setting_get_elem(s, (unsigned)i), epath, 0,
			       C(ld)->queues - 1, &v))
			return -EINVAL;
		xpd_bit_set(r->queues, (unsigned)v);
	}
	return 0;
}

static int rule_entry(struct cfg_ld *ld, config_setting_t *g, int idx)
{
	static const char *const keys[] = {"user", "group", "leases", "queues", "reserve", NULL};
	struct xpd_rule *r = &C(ld)->rule[C(ld)->nrules];
	config_setting_t *s, *u, *gr;
	char path[96];
	long long v;

	snprintf(path, sizeof(path), "policy.[%d]", idx);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return cfg_fail(ld, g, path, "must be a group { group = \"xts\"; ... }");
	if (C(ld)->nrules == XPD_MAX_RULES)
		return cfg_fail(ld, g, path, "more than %d rules", XPD_MAX_RULES);
	for (int i = 0; i < config_setting_length(g); i++) {
		s = config_setting_get_elem(g, (unsigned)i);
		snprintf(path, sizeof(path), "policy.[%d].%s", idx, config_setting_name(s));
		if (cfg_pick(keys, config_setting_name(s)) < 0)
			return cfg_fail(ld, s, path, "unknown option");
	}
	memset(r, 0, sizeof(*r));
	r->line = config_setting_source_line(g);
	u = config_setting_get_member(g, "user");
	gr = config_setting_get_member(g, "group");
	snprintf(path, sizeof(path), "policy.[%d]", idx);
	if (!u == !gr)
		return cfg_fail(ld, g, path, "needs one of user or group");
	snprintf(path, sizeof(path), "policy.[%d].%s", idx, u ? "user" : "group");
	if (rule_who(ld, u ? u : gr, path, u != NULL, r))
		return -EINVAL;
	r->leases = 4;
	snprintf(path, sizeof(path), "policy.[%d].leases", idx);
	if ((s = config_setting_get_member(g, "leases"))) {
		if (cfg_int_in(ld, s, path, 1, XPD_MAX_QUEUES, &v))
			return -EINVAL;
		r->leases = (uint32_t)v;
	}
	memset(r->queues, 0xff, sizeof(r->queues));
	snprintf(path, sizeof(path), "policy.[%d].queues", idx);
	if ((s = config_setting_get_member(g, "queues")) && rule_queues(ld, s, path, r))
		return -EINVAL;
	snprintf(path, sizeof(path), "policy.[%d].reserve", idx);
	if ((s = config_setting_get_member(g, "reserve"))) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return cfg_fail(ld, s, path, "must be true or false");
		r->reserve = (uint8_t)config_setting_get_bool(s);
		if (r->reserve && !config_setting_get_member(g, "queues"))
			return cfg_fail(ld, s, path, "reserves the queues it names: name them");
	}
	C(ld)->nrules++;
	return 0;
}

static int check(struct cfg_ld *ld)
{
	struct xpd_cfg *c = C(ld);
	config_setting_t *s;

	if (c->ring_size & (c->ring_size - 1))
		return cfg_fail(ld, cfg_where(ld, "queue.ring_size"), "queue.ring_size",
				"must be a power of two");
	if (c->frames / 2 > c->ring_size)
		return cfg_fail(ld, cfg_where(ld, "queue.frames"), "queue.frames",
				"at most 2 * ring_size (each half must fit its ring)");
	if (!c->sock_path[0] && snprintf(c->sock_path, sizeof(c->sock_path), "%s/xportd.sock",
					 c->run_dir) >= (int)sizeof(c->sock_path))
		return cfg_fail(ld, cfg_where(ld, "run_dir"), "run_dir",
				"too long for the default socket.path (run_dir/xportd.sock)");
	if (c->sock_path[0] != '/')
		return cfg_fail(ld, cfg_where(ld, "socket.path"), "socket.path",
				"must be absolute");
	if ((s = config_lookup(ld->lc, "policy")))
		for (int i = 0; i < config_setting_length(s); i++)
			if (rule_entry(ld, config_setting_get_elem(s, (unsigned)i), i))
				return -EINVAL;
	return 0;
}

int xpd_cfg_load(const char *file, struct xpd_cfg *out, char err[CFG_ERR_LEN])
{
	struct cfg_ld ld = {
	    .file = file,
	    .err = err,
	    .base = out,
	    .opts = opts,
	    .nopts = NOPTS,
	    .special = special,
	    .check = check,
	};

	return cfg_opt_load(&ld, sizeof(*out));
}

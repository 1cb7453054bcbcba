// SPDX-License-Identifier: BSD-2-Clause
/*
 * cfg.c - xts.conf (libconfig) -> struct cfg.  Table-driven: every option
 * has a type, a range and a default here, so unknown options, wrong types
 * and out-of-range values are all caught the same way, with file:line and
 * the option's full path.  Lists (ACL rules, shards) have their own small
 * walkers that report the same way ("shards.[1].cpus").
 */
#define _GNU_SOURCE /* CPU_SETSIZE */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libconfig.h>

#include "cfg.h"

enum opt_type { OT_INT, OT_INT64, OT_STR, OT_GROUP, OT_ACL, OT_SHARDS };

struct opt {
	const char *path; /* "group.name" or "name" */
	enum opt_type type;
	size_t off;  /* in struct cfg */
	size_t size; /* OT_STR: buffer size */
	long long min, max, def;
	const char *sdef;
};

#define INT(p, f, lo, hi, d)                                                                       \
	{                                                                                          \
		p, OT_INT, offsetof(struct cfg, f), 0, lo, hi, d, NULL                             \
	}
#define INT64(p, f, lo, hi, d)                                                                     \
	{                                                                                          \
		p, OT_INT64, offsetof(struct cfg, f), 0, lo, hi, d, NULL                           \
	}
#define STR(p, f, d)                                                                               \
	{                                                                                          \
		p, OT_STR, offsetof(struct cfg, f), sizeof(((struct cfg *)0)->f), 0, 0, 0, d       \
	}
#define GROUP(p)                                                                                   \
	{                                                                                          \
		p, OT_GROUP, 0, 0, 0, 0, 0, NULL                                                   \
	}
#define ACL(p, kind)                                                                               \
	{                                                                                          \
		p, OT_ACL, 0, 0, kind, 0, 0, NULL                                                  \
	}

static const struct opt opts[] = {
    STR("interface", interface, "xd0"),
    INT("queues", queues, 1, CFG_MAX_QUEUES, 4),
    STR("run_dir", run_dir, "/run/xts"),
    STR("log_level", log_level, "info"),
    STR("log_target", log_target, "stderr"),
    GROUP("queue"),
    INT("queue.window", window, 2, 1024, 128),
    INT("queue.frames", frames, 256, 1 << 20, 4096),
    INT("queue.ring_size", ring_size, 64, 1 << 16, 2048),
    GROUP("limits"),
    INT("limits.max_conns", max_conns, 1, (1 << 20) - 1, 65536),
    INT("limits.conn_buf", conn_buf, 4096, 64 << 20, 256 * 1024),
    INT64("limits.shard_buf", shard_buf, 1 << 20, 1ll << 40, 1ll << 30),
    INT("limits.listeners", listeners, 0, 65536, 64),
    GROUP("timeouts"),
    INT("timeouts.connect_ms", connect_ms, 0, 3600 * 1000, 0),
    INT("timeouts.idle_ms", idle_ms, 0, 3600 * 1000, 5000),
    INT("timeouts.dead_host_ms", dead_host_ms, 0, 24 * 3600 * 1000, 60000),
    INT("timeouts.drain_ms", drain_ms, 0, 3600 * 1000, 3000),
    INT("timeouts.hang_ms", hang_ms, 0, 3600 * 1000, 5000),
    INT("timeouts.linger_ms", linger_ms, 0, 3600 * 1000, 60000),
    GROUP("ctl"),
    STR("ctl.path", ctl_path, ""), /* "": run_dir/ctl.sock */
    STR("ctl.mode", ctl_mode_s, "0660"),
    STR("ctl.group", ctl_group, ""),
    GROUP("acl"),
    ACL("acl.connect", XTS_ACL_CONNECT),
    ACL("acl.listen", XTS_ACL_LISTEN),
    {"shards", OT_SHARDS, 0, 0, 0, 0, 0, NULL},
};

static const struct opt *find_opt(const char *path)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (!strcmp(opts[i].path, path))
			return &opts[i];
	return NULL;
}

static int fail(char err[CFG_ERR_LEN], const char *file, config_setting_t *s, const char *path,
		const char *why)
{
	snprintf(err, CFG_ERR_LEN, "%s:%u: %s: %s", file, s ? config_setting_source_line(s) : 0,
		 path, why);
	return -EINVAL;
}

static int get_int(config_setting_t *s, long long *v)
{
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		*v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		*v = config_setting_get_int64(s);
	else
		return -1;
	return 0;
}

static int parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	char *end;
	long a, b;

	errno = 0;
	a = strtol(s, &end, 10);
	if (end == s || errno || a < 0 || a > 65535)
		return -1;
	b = a;
	if (*end == '-') {
		const char *p = end + 1;

		b = strtol(p, &end, 10);
		if (end == p || errno || b < a || b > 65535)
			return -1;
	}
	if (*end)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

int cfg_acl_parse(const char *s, uint8_t kind, struct xts_shm_acl *r, char *why, size_t whylen)
{
	char addr[64], *slash;
	const char *ports = NULL, *p;
	size_t alen;
	long plen;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->queue = XTS_ACL_ANY_QUEUE;
	r->port_hi = 65535;
	if (kind == XTS_ACL_LISTEN) {
		if (parse_port_range(s, &r->port_lo, &r->port_hi)) {
			snprintf(why, whylen, "\"%s\": want PORT or PORT-PORT (0..65535)", s);
			return -EINVAL;
		}
		return 0;
	}
	/* split ADDR[/LEN] from :PORTS */
	if (*s == '[') {
		p = strchr(s, ']');
		if (!p)
			goto bad;
		alen = (size_t)(p - s - 1);
		if (alen >= sizeof(addr))
			goto bad;
		memcpy(addr, s + 1, alen);
		addr[alen] = 0;
		p++;
		if (*p == '/') { /* [ADDR]/LEN */
			const char *q = strchr(p, ':');
			size_t l = q ? (size_t)(q - p) : strlen(p);

			if (alen + l >= sizeof(addr))
				goto bad;
			memcpy(addr + alen, p, l);
			addr[alen + l] = 0;
			p += l;
		}
		if (*p == ':')
			ports = p + 1;
		else if (*p)
			goto bad;
	} else {
		const char *c = strchr(s, ':');

		if (c && strchr(c + 1, ':')) { /* bare IPv6: no port */
			c = NULL;
		}
		alen = c ? (size_t)(c - s) : strlen(s);
		if (alen >= sizeof(addr))
			goto bad;
		memcpy(addr, s, alen);
		addr[alen] = 0;
		if (c)
			ports = c + 1;
	}
	if (ports && parse_port_range(ports, &r->port_lo, &r->port_hi)) {
		snprintf(why, whylen, "\"%s\": bad port range \"%s\" (0..65535, LO-HI)", s, ports);
		return -EINVAL;
	}
	if (!strcmp(addr, "*"))
		return 0; /* any address */
	slash = strchr(addr, '/');
	if (slash)
		*slash++ = 0;
	if (inet_pton(AF_INET, addr, r->addr) == 1) {
		r->family = AF_INET;
		plen = 32;
	} else if (inet_pton(AF_INET6, addr, r->addr) == 1) {
		r->family = AF_INET6;
		plen = 128;
	} else {
		goto bad;
	}
	if (slash) {
		char *end;
		long l = strtol(slash, &end, 10);

		if (end == slash || *end || l < 0 || l > plen) {
			snprintf(why, whylen, "\"%s\": prefix length must be 0..%ld", s, plen);
			return -EINVAL;
		}
		plen = l;
	}
	r->prefix = (uint8_t)plen;
	return 0;
bad:
	snprintf(why, whylen,
		 "\"%s\": want ADDR[/LEN][:PORT[-PORT]], IPv6 as [ADDR]/LEN:PORT, or *[:PORTS]", s);
	return -EINVAL;
}

/* A list or array of rule strings, for queue @queue. */
static int acl_list(struct cfg *c, config_setting_t *s, uint8_t kind, uint16_t queue,
		    const char *file, const char *path, char err[CFG_ERR_LEN])
{
	int n, i;
	char why[160], epath[160];

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(err, file, s, path, "must be a list of strings [ \"...\", ... ]");
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);

		snprintf(epath, sizeof(epath), "%s[%d]", path, i);
		if (!v)
			return fail(err, file, e ? e : s, epath, "must be a string");
		if (c->nacl == XTS_SHM_ACL_MAX) {
			snprintf(why, sizeof(why), "more than %d ACL rules in all",
				 XTS_SHM_ACL_MAX);
			return fail(err, file, e, epath, why);
		}
		if (cfg_acl_parse(v, kind, &c->acl[c->nacl], why, sizeof(why)))
			return fail(err, file, e, epath, why);
		c->acl[c->nacl++].queue = queue;
	}
	return 0;
}

static int shard_entry(struct cfg *c, config_setting_t *g, int idx, const char *file,
		       char err[CFG_ERR_LEN])
{
	config_setting_t *s;
	struct cfg_shard sh;
	char path[96], why[128];
	long long q = -1, v;
	int n, i;

	snprintf(path, sizeof(path), "shards.[%d]", idx);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return fail(err, file, g, path, "must be a group { queue = N; ... }");
	/* every key must be known */
	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		const char *name = config_setting_name(config_setting_get_elem(g, (unsigned)i));

		if (strcmp(name, "queue") && strcmp(name, "cpus") && strcmp(name, "node") &&
		    strcmp(name, "connect") && strcmp(name, "listen")) {
			snprintf(path, sizeof(path), "shards.[%d].%s", idx, name);
			return fail(err, file, config_setting_get_elem(g, (unsigned)i), path,
				    "unknown option");
		}
	}
	s = config_setting_get_member(g, "queue");
	snprintf(path, sizeof(path), "shards.[%d].queue", idx);
	if (!s)
		return fail(err, file, g, path, "missing");
	if (get_int(s, &q))
		return fail(err, file, s, path, "must be an integer");
	if (q < 0 || q >= c->queues) {
		snprintf(why, sizeof(why), "%lld out of range [0, %u] (queues = %u)", q,
			 c->queues - 1, c->queues);
		return fail(err, file, s, path, why);
	}
	memset(&sh, 0, sizeof(sh));
	sh.node = CFG_NODE_AUTO;
	if ((s = config_setting_get_member(g, "cpus"))) {
		snprintf(path, sizeof(path), "shards.[%d].cpus", idx);
		if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
		    config_setting_type(s) != CONFIG_TYPE_LIST)
			return fail(err, file, s, path, "must be a list of CPU numbers [ 1, 2 ]");
		n = config_setting_length(s);
		if (n > CFG_MAX_CPUS) {
			snprintf(why, sizeof(why), "at most %d CPUs", CFG_MAX_CPUS);
			return fail(err, file, s, path, why);
		}
		for (i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

			if (get_int(e, &v))
				return fail(err, file, e, path, "CPU numbers are integers");
			if (v < 0 || v >= CPU_SETSIZE) {
				snprintf(why, sizeof(why), "CPU %lld out of range [0, %d]", v,
					 CPU_SETSIZE - 1);
				return fail(err, file, e, path, why);
			}
			sh.cpus[sh.ncpus++] = (uint16_t)v;
		}
	}
	if ((s = config_setting_get_member(g, "node"))) {
		const char *str = config_setting_get_string(s);

		snprintf(path, sizeof(path), "shards.[%d].node", idx);
		if (str && !strcmp(str, "auto")) {
			sh.node = CFG_NODE_AUTO;
		} else if (!get_int(s, &v)) {
			if (v < 0 || v > 1023) {
				snprintf(why, sizeof(why), "%lld out of range [0, 1023]", v);
				return fail(err, file, s, path, why);
			}
			sh.node = (int32_t)v;
		} else {
			return fail(err, file, s, path, "must be a node number or \"auto\"");
		}
	}
	if ((s = config_setting_get_member(g, "connect"))) {
		snprintf(path, sizeof(path), "shards.[%d].connect", idx);
		if ((i = acl_list(c, s, XTS_ACL_CONNECT, (uint16_t)q, file, path, err)))
			return i;
	}
	if ((s = config_setting_get_member(g, "listen"))) {
		snprintf(path, sizeof(path), "shards.[%d].listen", idx);
		if ((i = acl_list(c, s, XTS_ACL_LISTEN, (uint16_t)q, file, path, err)))
			return i;
	}
	c->shard[q] = sh;
	return 0;
}

static int apply(struct cfg *c, const struct opt *o, config_setting_t *s, const char *file,
		 const char *path, char err[CFG_ERR_LEN])
{
	char why[128];

	switch (o->type) {
	case OT_GROUP:
		if (config_setting_type(s) != CONFIG_TYPE_GROUP)
			return fail(err, file, s, path, "must be a group { ... }");
		return 0;
	case OT_INT:
	case OT_INT64: {
		long long v;

		if (get_int(s, &v))
			return fail(err, file, s, path, "must be an integer");
		if (v < o->min || v > o->max) {
			snprintf(why, sizeof(why), "%lld out of range [%lld, %lld]", v, o->min,
				 o->max);
			return fail(err, file, s, path, why);
		}
		if (o->type == OT_INT)
			*(uint32_t *)((char *)c + o->off) = (uint32_t)v;
		else
			*(uint64_t *)((char *)c + o->off) = (uint64_t)v;
		return 0;
	}
	case OT_STR: {
		const char *v = config_setting_get_string(s);

		if (config_setting_type(s) != CONFIG_TYPE_STRING || !v)
			return fail(err, file, s, path, "must be a string");
		if (strlen(v) >= o->size || (!*v && o->sdef && *o->sdef)) {
			snprintf(why, sizeof(why), "length must be 1..%zu", o->size - 1);
			return fail(err, file, s, path, why);
		}
		strcpy((char *)c + o->off, v);
		return 0;
	}
	case OT_ACL:
		return acl_list(c, s, (uint8_t)o->min, XTS_ACL_ANY_QUEUE, file, path, err);
	case OT_SHARDS:
		/* after the walk: needs `queues`, wherever it is in the file */
		if (config_setting_type(s) != CONFIG_TYPE_LIST)
			return fail(err, file, s, path,
				    "must be a list ( { queue = 0; ... }, ... )");
		return 0;
	}
	return 0;
}

/* Walk a group: every setting must be a known option. */
static int walk(struct cfg *c, config_setting_t *grp, const char *prefix, const char *file,
		char err[CFG_ERR_LEN])
{
	int n = config_setting_length(grp), err_;

	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct opt *o;
		char path[128];

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
			 name ? name : "?");
		o = find_opt(path);
		if (!o)
			return fail(err, file, s, path, "unknown option");
		err_ = apply(c, o, s, file, path, err);
		if (err_)
			return err_;
		if (o->type == OT_GROUP && (err_ = walk(c, s, path, file, err)))
			return err_;
	}
	return 0;
}

static void defaults(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const struct opt *o = &opts[i];

		if (o->type == OT_INT)
			*(uint32_t *)((char *)c + o->off) = (uint32_t)o->def;
		else if (o->type == OT_INT64)
			*(uint64_t *)((char *)c + o->off) = (uint64_t)o->def;
		else if (o->type == OT_STR)
			snprintf((char *)c + o->off, o->size, "%s", o->sdef);
	}
	for (unsigned q = 0; q < CFG_MAX_QUEUES; q++)
		c->shard[q].node = CFG_NODE_AUTO;
}

int cfg_log_level(const char *name)
{
	static const char *const names[] = {
	    [XTS_LOG_ERROR] = "error",
	    [XTS_LOG_WARNING] = "warning",
	    [XTS_LOG_INFO] = "info",
	    [XTS_LOG_DEBUG] = "debug",
	};

	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

static config_setting_t *where(config_t *lc, const char *path)
{
	config_setting_t *s = config_lookup(lc, path);

	return s ? s : config_root_setting(lc);
}

/* cross-option rules */
static int check(struct cfg *c, config_t *lc, const char *file, char err[CFG_ERR_LEN])
{
	config_setting_t *s;
	char *end;
	long mode;

	if (c->ring_size & (c->ring_size - 1))
		return fail(err, file, where(lc, "queue.ring_size"), "queue.ring_size",
			    "must be a power of two");
	if (c->window > c->ring_size / 2 || c->window > c->frames / 4)
		return fail(err, file, where(lc, "queue.window"), "queue.window",
			    "must be at most ring_size/2 and frames/4");
	if (cfg_log_level(c->log_level) < 0)
		return fail(err, file, where(lc, "log_level"), "log_level",
			    "must be error, warning, info or debug");
	if (strcmp(c->log_target, "stderr") && strcmp(c->log_target, "syslog"))
		return fail(err, file, where(lc, "log_target"), "log_target",
			    "must be stderr or syslog");
	if (c->shard_buf < c->conn_buf)
		return fail(err, file, where(lc, "limits.shard_buf"), "limits.shard_buf",
			    "must be at least limits.conn_buf");
	mode = strtol(c->ctl_mode_s, &end, 8);
	if (end == c->ctl_mode_s || *end || mode < 0 || mode > 0777)
		return fail(err, file, where(lc, "ctl.mode"), "ctl.mode",
			    "must be an octal mode string, \"0000\"..\"0777\"");
	c->ctl_mode = (uint32_t)mode;
	if (!c->ctl_path[0] && snprintf(c->ctl_path, sizeof(c->ctl_path), "%s/ctl.sock",
					c->run_dir) >= (int)sizeof(c->ctl_path))
		return fail(err, file, where(lc, "run_dir"), "run_dir",
			    "too long for the default ctl.path (run_dir/ctl.sock)");
	if (c->ctl_path[0] != '/')
		return fail(err, file, where(lc, "ctl.path"), "ctl.path", "must be absolute");
	if ((s = config_lookup(lc, "shards"))) {
		int n = config_setting_length(s), rc;

		for (int i = 0; i < n; i++)
			if ((rc = shard_entry(c, config_setting_get_elem(s, (unsigned)i), i, file,
					      err)))
				return rc;
	}
	return 0;
}

int cfg_load(const char *file, struct cfg *out, char err[CFG_ERR_LEN])
{
	config_t lc;
	struct cfg *c;
	FILE *f;
	int rc;

	err[0] = 0;
	c = malloc(sizeof(*c));
	if (!c) {
		snprintf(err, CFG_ERR_LEN, "%s: out of memory", file);
		return -ENOMEM;
	}
	f = fopen(file, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, CFG_ERR_LEN, "%s: %s", file, strerror(errno));
		free(c);
		return rc;
	}
	defaults(c);
	config_init(&lc);
	if (!config_read(&lc, f)) {
		snprintf(err, CFG_ERR_LEN, "%s:%d: syntax error: %s", file, config_error_line(&lc),
			 config_error_text(&lc));
		rc = -EINVAL;
		goto out;
	}
	rc = walk(c, config_root_setting(&lc), "", file, err);
	if (!rc)
		rc = check(c, &lc, file, err);
	if (!rc)
		*out = *c;
out:
	config_destroy(&lc);
	fclose(f);
	free(c);
	return rc;
}

void cfg_to_shm(const struct cfg *c, uint64_t gen, struct xts_shm_cfg *out)
{
	int lvl = cfg_log_level(c->log_level);

	out->gen = gen;
	out->log_level = lvl < 0 ? XTS_LOG_INFO : (uint32_t)lvl;
	out->max_conns = c->max_conns;
	out->conn_buf = c->conn_buf;
	out->shard_buf = c->shard_buf;
	out->listeners = c->listeners;
	out->connect_ms = c->connect_ms;
	out->idle_ms = c->idle_ms;
	out->dead_host_ms = c->dead_host_ms;
	out->linger_ms = c->linger_ms;
	out->nacl = c->nacl;
	memcpy(out->acl, c->acl, c->nacl * sizeof(c->acl[0]));
}

int cfg_reloadable(const struct cfg *cur, const struct cfg *next, uint32_t table_conns,
		   char err[CFG_ERR_LEN])
{
#define SAME(f, name)                                                                              \
	do {                                                                                       \
		if (memcmp(&cur->f, &next->f, sizeof(cur->f))) {                                   \
			snprintf(err, CFG_ERR_LEN, "%s: changed; that needs a restart of xtsd",    \
				 name);                                                            \
			return -EINVAL;                                                            \
		}                                                                                  \
	} while (0)
	err[0] = 0;
	SAME(interface, "interface");
	SAME(queues, "queues");
	SAME(run_dir, "run_dir");
	SAME(log_target, "log_target");
	SAME(window, "queue.window");
	SAME(frames, "queue.frames");
	SAME(ring_size, "queue.ring_size");
	SAME(conn_buf, "limits.conn_buf");
	SAME(ctl_path, "ctl.path");
	SAME(ctl_mode, "ctl.mode");
	SAME(ctl_group, "ctl.group");
	SAME(shard, "shards (cpus, node)");
#undef SAME
	if (next->max_conns > table_conns) {
		snprintf(err, CFG_ERR_LEN,
			 "limits.max_conns: %u is above %u, the table size the shards started "
			 "with; raising it needs a restart of xtsd",
			 next->max_conns, table_conns);
		return -EINVAL;
	}
	return 0;
}

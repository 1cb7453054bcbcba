// SPDX-License-Identifier: BSD-2-Clause
/*
 * cfg.c - xts.conf (libconfig) -> struct cfg.  Table-driven: every option
 * has a type, a range and a default here, so unknown options, wrong types
 * and out-of-range values are all caught the same way, with file:line and
 * the option's full path.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <libconfig.h>

#include "cfg.h"

enum opt_type { OT_INT, OT_STR, OT_GROUP };

struct opt {
	const char *path; /* "group.name" or "name" */
	enum opt_type type;
	size_t off;	  /* in struct cfg */
	size_t size;	  /* OT_STR: buffer size */
	long long min, max, def;
	const char *sdef;
};

#define INT(p, f, lo, hi, d) {p, OT_INT, offsetof(struct cfg, f), 0, lo, hi, d, NULL}
#define STR(p, f, d)	     {p, OT_STR, offsetof(struct cfg, f), sizeof(((struct cfg *)0)->f), 0, 0, 0, d}
#define GROUP(p)	     {p, OT_GROUP, 0, 0, 0, 0, 0, NULL}

static const struct opt opts[] = {
	STR("interface", interface, "xd0"),
	INT("queues", queues, 1, CFG_MAX_QUEUES, 4),
	STR("run_dir", run_dir, "/run/xts"),
	STR("log_level", log_level, "info"),
	GROUP("queue"),
	INT("queue.window", window, 2, 1024, 128),
	INT("queue.frames", frames, 256, 1 << 20, 4096),
	INT("queue.ring_size", ring_size, 64, 1 << 16, 2048),
	GROUP("limits"),
	INT("limits.max_conns", max_conns, 1, (1 << 20) - 1, 65536),
	INT("limits.conn_buf", conn_buf, 4096, 64 << 20, 256 * 1024),
	GROUP("timeouts"),
	INT("timeouts.connect_ms", connect_ms, 0, 3600 * 1000, 0),
	INT("timeouts.idle_ms", idle_ms, 0, 3600 * 1000, 5000),
	INT("timeouts.dead_host_ms", dead_host_ms, 0, 24 * 3600 * 1000, 60000),
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
	snprintf(err, CFG_ERR_LEN, "%s:%u: %s: %s", file, config_setting_source_line(s), path,
		 why);
	return -EINVAL;
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
	case OT_INT: {
		long long v;

		if (config_setting_type(s) == CONFIG_TYPE_INT)
			v = config_setting_get_int(s);
		else if (config_setting_type(s) == CONFIG_TYPE_INT64)
			v = config_setting_get_int64(s);
		else
			return fail(err, file, s, path, "must be an integer");
		if (v < o->min || v > o->max) {
			snprintf(why, sizeof(why), "%lld out of range [%lld, %lld]", v, o->min,
				 o->max);
			return fail(err, file, s, path, why);
		}
		*(uint32_t *)((char *)c + o->off) = (uint32_t)v;
		return 0;
	}
	case OT_STR: {
		const char *v = config_setting_get_string(s);

		if (config_setting_type(s) != CONFIG_TYPE_STRING || !v)
			return fail(err, file, s, path, "must be a string");
		if (!*v || strlen(v) >= o->size) {
			snprintf(why, sizeof(why), "length must be 1..%zu", o->size - 1);
			return fail(err, file, s, path, why);
		}
		strcpy((char *)c + o->off, v);
		return 0;
	}
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
		else if (o->type == OT_STR)
			snprintf((char *)c + o->off, o->size, "%s", o->sdef);
	}
}

int cfg_load(const char *file, struct cfg *out, char err[CFG_ERR_LEN])
{
	config_t lc;
	struct cfg c;
	FILE *f;
	int rc;

	err[0] = 0;
	f = fopen(file, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, CFG_ERR_LEN, "%s: %s", file, strerror(errno));
		return rc;
	}
	defaults(&c);
	config_init(&lc);
	if (!config_read(&lc, f)) {
		snprintf(err, CFG_ERR_LEN, "%s:%d: syntax error: %s", file,
			 config_error_line(&lc), config_error_text(&lc));
		rc = -EINVAL;
		goto out;
	}
	rc = walk(&c, config_root_setting(&lc), "", file, err);
	if (rc)
		goto out;
	/* cross-option rules */
	if (c.ring_size & (c.ring_size - 1)) {
		config_setting_t *s = config_lookup(&lc, "queue.ring_size");

		rc = fail(err, file, s ? s : config_root_setting(&lc), "queue.ring_size",
			  "must be a power of two");
		goto out;
	}
	if (c.window > c.ring_size / 2 || c.window > c.frames / 4) {
		config_setting_t *s = config_lookup(&lc, "queue.window");

		rc = fail(err, file, s ? s : config_root_setting(&lc), "queue.window",
			  "must be at most ring_size/2 and frames/4");
		goto out;
	}
	if (strcmp(c.log_level, "error") && strcmp(c.log_level, "warning") &&
	    strcmp(c.log_level, "info") && strcmp(c.log_level, "debug")) {
		rc = fail(err, file, config_lookup(&lc, "log_level"), "log_level",
			  "must be error, warning, info or debug");
		goto out;
	}
	*out = c;
out:
	config_destroy(&lc);
	fclose(f);
	return rc;
}

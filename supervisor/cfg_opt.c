// SPDX-License-Identifier: BSD-2-Clause
/*
 * cfg_opt.c - the option-table engine (cfg_opt.h): one walk over a
 * libconfig file against a table of options, so unknown options, wrong
 * types and out-of-range values are caught the same way in every XTS
 * configuration file, with file:line and the option's full path.  The
 * file's bytes reach libconfig only through cfg_text() (cfg_text.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cfg_opt.h"

int cfg_listen_parse(const char *s, struct sockaddr_storage *ss, unsigned *len)
{
	const char *colon = strrchr(s, ':');
	unsigned long port;
	char host[INET6_ADDRSTRLEN];
	size_t hl = colon ? (size_t)(colon - s) : 0;
	bool v6 = hl >= 2 && s[0] == '[' && s[hl - 1] == ']';

	if (!colon || cfg_digits(colon + 1, strlen(colon + 1), 10, 65535, &port) || !port ||
	    hl - 2 * v6 >= sizeof(host))
		return -EINVAL;
	memcpy(host, s + v6, hl - 2 * v6);
	host[hl - 2 * v6] = 0;
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	*len = sizeof(struct sockaddr_in);
	return inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1 ? 0 : -EINVAL;
}

int cfg_fail(struct cfg_ld *ld, config_setting_t *s, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(ld->err, CFG_ERR_LEN, "%s:%u: %s: ", ld->file,
		     s ? config_setting_source_line(s) : 0, path);
	if (n < 0 || n >= CFG_ERR_LEN)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, CFG_ERR_LEN - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cfg_digits(const char *s, size_t n, unsigned base, unsigned long max, unsigned long *v)
{
	unsigned long x = 0;

	if (!n || n > 12)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (s[i] < '0' || d >= base)
			return -EINVAL;
		x = x * base + d;
	}
	if (x > max)
		return -ERANGE;
	*v = x;
	return 0;
}

static const struct cfg_opt *find_opt(const struct cfg_ld *ld, const char *path)
{
	for (size_t i = 0; i < ld->nopts; i++)
		if (!strcmp(ld->opts[i].name, path))
			return &ld->opts[i];
	return NULL;
}

/* A float of integral value past 64 bits is what cfg_text() makes of an
 * integer literal too big for libconfig: out of range, not a type error. */
int cfg_int_in(struct cfg_ld *ld, config_setting_t *s, const char *path, long long lo, long long hi,
	       long long *v)
{
	double d;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		*v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		*v = config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_FLOAT:
		d = config_setting_get_float(s);
		if (d >= 0x1p63 || d < -0x1p63)
			return cfg_fail(ld, s, path, "%.17g out of range [%lld, %lld]", d, lo, hi);
		/* fall through */
	default:
		return cfg_fail(ld, s, path, "must be an integer");
	}
	if (*v < lo || *v > hi)
		return cfg_fail(ld, s, path, "%lld out of range [%lld, %lld]", *v, lo, hi);
	return 0;
}

int cfg_pick(const char *const *names, const char *v)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], v))
			return i;
	return -1;
}

const char *cfg_one_of(const char *const *names, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; names[i] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      i ? names[i + 1] ? ", " : " or " : "", names[i]);
	return buf;
}

static int apply_str(struct cfg_ld *ld, const struct cfg_opt *o, config_setting_t *s,
		     const char *path)
{
	const char *v = config_setting_get_string(s);
	char *dst = (char *)ld->base + o->off;
	char list[96];
	unsigned long mode;
	struct sockaddr_storage ss;
	unsigned sslen;
	int i;

	if (config_setting_type(s) != CONFIG_TYPE_STRING || !v)
		return cfg_fail(ld, s, path, "must be a string");
	switch (o->type) {
	case CFG_T_LISTEN:
		if (*v && cfg_listen_parse(v, &ss, &sslen))
			return cfg_fail(ld, s, path,
					"\"%s\": must be \"ADDR:PORT\" (numeric, IPv6 in [], "
					"port 1..65535) or \"\" (none)",
					v);
		break;
	case CFG_T_ENUM:
		if ((i = cfg_pick(o->names, v)) < 0)
			return cfg_fail(ld, s, path, "\"%s\": must be %s", v,
					cfg_one_of(o->names, list, sizeof(list)));
		*(uint32_t *)(void *)dst = (uint32_t)i;
		return 0;
	case CFG_T_MODE:
		if (cfg_digits(v, strlen(v), 8, (unsigned long)o->max, &mode) || strlen(v) > 4)
			return cfg_fail(ld, s, path,
					"\"%s\": must be an octal mode string, \"0000\"..\"0777\"",
					v);
		*(uint32_t *)(void *)dst = (uint32_t)mode;
		return 0;
	default:
		break;
	}
	if (strlen(v) >= o->size || (!*v && *o->sdef))
		return cfg_fail(ld, s, path, "length must be %d..%zu", !!*o->sdef, o->size - 1);
	if (o->names && cfg_pick(o->names, v) < 0)
		return cfg_fail(ld, s, path, "\"%s\": must be %s", v,
				cfg_one_of(o->names, list, sizeof(list)));
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int apply(struct cfg_ld *ld, const struct cfg_opt *o, config_setting_t *s, const char *path)
{
	long long v;

	switch (o->type) {
	case CFG_T_GROUP:
		if (config_setting_type(s) != CONFIG_TYPE_GROUP)
			return cfg_fail(ld, s, path, "must be a group { ... }");
		return 0;
	case CFG_T_U32:
	case CFG_T_U64:
		if (cfg_int_in(ld, s, path, o->min, o->max, &v))
			return -EINVAL;
		if (o->type == CFG_T_U32)
			*(uint32_t *)(void *)((char *)ld->base + o->off) = (uint32_t)v;
		else
			*(uint64_t *)(void *)((char *)ld->base + o->off) = (uint64_t)v;
		return 0;
	case CFG_T_STR:
	case CFG_T_ENUM:
	case CFG_T_MODE:
	case CFG_T_LISTEN:
		return apply_str(ld, o, s, path);
	default:
		return ld->special ? ld->special(ld, o, s, path)
				   : cfg_fail(ld, s, path, "not handled");
	}
}

/* Walk a group: every setting must be a known option. */
static int walk(struct cfg_ld *ld, config_setting_t *grp, const char *prefix)
{
	int n = config_setting_length(grp), err;

	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct cfg_opt *o;
		char path[128];

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
			 name ? name : "?");
		o = find_opt(ld, path);
		if (!o)
			return cfg_fail(ld, s, path, "unknown option");
		if ((err = apply(ld, o, s, path)))
			return err;
		if (o->type == CFG_T_GROUP && (err = walk(ld, s, path)))
			return err;
	}
	return 0;
}

void cfg_opt_defaults(const struct cfg_opt *opts, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++) {
		const struct cfg_opt *o = &opts[i];
		char *dst = (char *)base + o->off;

		if (o->type == CFG_T_U32 || o->type == CFG_T_MODE)
			*(uint32_t *)(void *)dst = (uint32_t)o->def;
		else if (o->type == CFG_T_U64)
			*(uint64_t *)(void *)dst = (uint64_t)o->def;
		else if (o->type == CFG_T_ENUM)
			*(uint32_t *)(void *)dst = (uint32_t)cfg_pick(o->names, o->sdef);
		else if (o->type == CFG_T_STR || o->type == CFG_T_LISTEN)
			snprintf(dst, o->size, "%s", o->sdef);
	}
}

config_setting_t *cfg_where(struct cfg_ld *ld, const char *path)
{
	config_setting_t *s = config_lookup(ld->lc, path);

	return s ? s : config_root_setting(ld->lc);
}

int cfg_opt_load(struct cfg_ld *ld, size_t size)
{
	void *out = ld->base;
	char *text = NULL;
	config_t lc;
	int rc;

	ld->err[0] = 0;
	rc = cfg_text(ld->file, &text, ld->err);
	if (rc)
		return rc;
	/* parsed into a scratch copy: the caller's struct changes only when
	 * the whole file is good */
	ld->base = calloc(1, size);
	if (!ld->base) {
		free(text);
		ld->base = out;
		snprintf(ld->err, CFG_ERR_LEN, "%s: out of memory", ld->file);
		return -ENOMEM;
	}
	cfg_opt_defaults(ld->opts, ld->nopts, ld->base);
	if (ld->init)
		ld->init(ld->base);
	config_init(&lc);
	ld->lc = &lc;
	if (!config_read_string(&lc, text)) {
		snprintf(ld->err, CFG_ERR_LEN, "%s:%d: syntax error: %s", ld->file,
			 config_error_line(&lc), config_error_text(&lc));
		rc = -EINVAL;
	}
	if (!rc)
		rc = walk(ld, config_root_setting(&lc), "");
	if (!rc && ld->check)
		rc = ld->check(ld);
	if (!rc)
		memcpy(out, ld->base, size);
	config_destroy(&lc);
	ld->lc = NULL;
	free(ld->base);
	ld->base = out;
	free(text);
	return rc;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * cfg_tls.c - xts.conf's `tls` list: TLS profiles by name
 * (struct xts_shm_tls_prof in the shards' snapshot).
 *
 *   tls = ( { name = "web"; cert = "/etc/xts/web.pem"; key = "/etc/xts/web.key";
 *             alpn = [ "http/1.1" ];
 *             sni = ( { name = "api.example"; cert = "..."; key = "..."; } ); },
 *           { name = "api"; ca = "/etc/xts/ca.pem"; verify = true; } );
 *
 * Paths, never key material: the snapshot carries the paths and each
 * shard loads the files when the generation comes into force.  The files
 * are checked here, once, by building every context the profile makes
 * (tls_prof_check, the shards' own builder): `xtsd -t` and a reload refuse
 * a profile whose certificate, key or CA does not load, or whose key does
 * not match, with FILE:LINE and OpenSSL's reason.  The ACL's profile names
 * (acl.tls, shards' tls) must be profiles of the same file
 * (cfg_tls_acl_names): a typo there would refuse every push of the
 * profile meant, seen only when a host tries.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libconfig.h>

#include "cfg.h"
#include "tls_ctx.h"

static const char *const prof_keys[] = {
    "name",	   "cert",    "key",	      "ca",   "verify",	 "client_cert",	      "min_version",
    "max_version", "ciphers", "ciphersuites", "alpn", "tickets", "ticket_lifetime_s", "sni",
    "bio",	   NULL,
};
static const char *const versions[] = {"1.2", "1.3", NULL};
static const char *const client_certs[] = {"none", "optional", "require", NULL};
static const char *const bios[] = XTS_TLS_BIO_NAMES;

/* A string member @key of @g into @dst (@size with its NUL): 0 (absent:
 * left as it is), or cfg_fail. */
static int str_member(struct cfg_ld *ld, config_setting_t *g, const char *key, const char *path,
		      char *dst, size_t size)
{
	config_setting_t *s = config_setting_get_member(g, key);
	char p[160];
	const char *v;

	if (!s)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	v = config_setting_get_string(s);
	if (!v)
		return cfg_fail(ld, s, p, "must be a string");
	if (strlen(v) >= size)
		return cfg_fail(ld, s, p, "longer than %zu bytes", size - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int bool_member(struct cfg_ld *ld, config_setting_t *g, const char *key, const char *path,
		       uint32_t *dst)
{
	config_setting_t *s = config_setting_get_member(g, key);
	char p[160];

	if (!s)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return cfg_fail(ld, s, p, "must be true or false");
	*dst = (uint32_t)config_setting_get_bool(s);
	return 0;
}

static int pick_member(struct cfg_ld *ld, config_setting_t *g, const char *key, const char *path,
		       const char *const *names, int *idx)
{
	char v[16] = "", p[160], one[64];

	if (!config_setting_get_member(g, key))
		return 0;
	/* not a string (min_version = 2 was taken as absent) or too long */
	if (str_member(ld, g, key, path, v, sizeof(v)))
		return -EINVAL;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	*idx = cfg_pick(names, v);
	if (*idx < 0)
		return cfg_fail(ld, config_setting_get_member(g, key), p, "must be %s",
				cfg_one_of(names, one, sizeof(one)));
	return 0;
}

/* alpn = [ "h2", "http/1.1" ] into wire form. */
static int alpn_member(struct cfg_ld *ld, config_setting_t *g, const char *path, uint8_t *dst,
		       size_t size)
{
	config_setting_t *s = config_setting_get_member(g, "alpn");
	size_t off = 0;
	char p[160];

	if (!s)
		return 0;
	snprintf(p, sizeof(p), "%s.alpn", path);
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(ld, s, p, "must be a list of protocol names [ \"http/1.1\" ]");
	for (int i = 0; i < config_setting_length(s); i++) {
		const char *v = config_setting_get_string_elem(s, i);
		size_t n = v ? strlen(v) : 0;

		if (!n || n > 255)
			return cfg_fail(ld, s, p, "[%d]: a name of 1..255 bytes", i);
		if (off + 1 + n > size - 1) /* a zero after the list */
			return cfg_fail(ld, s, p, "longer than %zu bytes in wire form", size - 1);
		dst[off++] = (uint8_t)n;
		memcpy(dst + off, v, n);
		off += n;
	}
	return 0;
}

/* sni = ( { name = "..."; cert = "..."; key = "..."; }, ... ) */
static int sni_member(struct cfg_ld *ld, config_setting_t *g, const char *path,
		      struct xts_shm_tls_prof *p)
{
	config_setting_t *s = config_setting_get_member(g, "sni");
	char ep[160];

	if (!s)
		return 0;
	snprintf(ep, sizeof(ep), "%s.sni", path);
	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(ld, s, ep,
				"must be a list ( { name = ...; cert = ...; key = ...; } )");
	if (!p->ncert)
		return cfg_fail(ld, s, ep, "needs the profile's own cert and key (the default)");
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct xts_shm_tls_cert *c = &p->cert[p->ncert];

		snprintf(ep, sizeof(ep), "%s.sni.[%d]", path, i);
		if (p->ncert == 1 + XTS_SHM_TLS_SNI)
			return cfg_fail(ld, e, ep, "at most %d certificates by name",
					XTS_SHM_TLS_SNI);
		if (str_member(ld, e, "name", ep, c->sni, sizeof(c->sni)) ||
		    str_member(ld, e, "cert", ep, c->cert, sizeof(c->cert)) ||
		    str_member(ld, e, "key", ep, c->key, sizeof(c->key)))
			return -EINVAL;
		if (!c->sni[0] || !c->cert[0] || !c->key[0])
			return cfg_fail(ld, e, ep, "needs name, cert and key");
		p->ncert++;
	}
	return 0;
}

static int unknown_keys(struct cfg_ld *ld, config_setting_t *g, const char *path)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		char p[160];

		snprintf(p, sizeof(p), "%s.%s", path, config_setting_name(s));
		if (cfg_pick(prof_keys, config_setting_name(s)) < 0)
			return cfg_fail(ld, s, p, "unknown option");
	}
	return 0;
}

/* tls.[i]: one profile into @p (zeroed by the caller). */
static int profile(struct cfg_ld *ld, config_setting_t *g, int i, struct xts_shm_tls_prof *p)
{
	struct xts_shm_tls_cert *def = &p->cert[0];
	int lo = 0, hi = 1, cc = 0, bio = XTS_TLS_BIO_AUTO;
	config_setting_t *s;
	char path[64], why[256];
	long long v;

	snprintf(path, sizeof(path), "tls.[%d]", i);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return cfg_fail(ld, g, path, "must be a group { name = \"...\"; ... }");
	p->verify = 1; /* originate verifies unless told not to */
	p->tickets = 1;
	if (unknown_keys(ld, g, path) ||
	    str_member(ld, g, "name", path, p->name, sizeof(p->name)) ||
	    str_member(ld, g, "cert", path, def->cert, sizeof(def->cert)) ||
	    str_member(ld, g, "key", path, def->key, sizeof(def->key)) ||
	    str_member(ld, g, "ca", path, p->ca, sizeof(p->ca)) ||
	    str_member(ld, g, "ciphers", path, p->ciphers, sizeof(p->ciphers)) ||
	    str_member(ld, g, "ciphersuites", path, p->ciphersuites, sizeof(p->ciphersuites)) ||
	    bool_member(ld, g, "verify", path, &p->verify) ||
	    bool_member(ld, g, "tickets", path, &p->tickets) ||
	    pick_member(ld, g, "min_version", path, versions, &lo) ||
	    pick_member(ld, g, "max_version", path, versions, &hi) ||
	    pick_member(ld, g, "client_cert", path, client_certs, &cc) ||
	    pick_member(ld, g, "bio", path, bios, &bio) ||
	    alpn_member(ld, g, path, p->alpn, sizeof(p->alpn)))
		return -EINVAL;
	if (!p->name[0])
		return cfg_fail(ld, g, path, "needs a name");
	if (!def->cert[0] != !def->key[0])
		return cfg_fail(ld, g, path, "cert and key go together");
	p->ncert = def->cert[0] ? 1 : 0;
	if (sni_member(ld, g, path, p))
		return -EINVAL;
	if ((s = config_setting_get_member(g, "ticket_lifetime_s"))) {
		char tp[96];

		snprintf(tp, sizeof(tp), "%s.ticket_lifetime_s", path);
		if (cfg_int_in(ld, s, tp, 60, 7 * 86400, &v))
			return -EINVAL;
		p->ticket_lifetime_s = (uint32_t)v;
	}
	if (lo > hi)
		return cfg_fail(ld, g, path, "min_version is above max_version");
	p->min_version = (uint16_t)(TLS_VER_12 + lo);
	p->max_version = (uint16_t)(TLS_VER_12 + hi);
	p->client_cert = (uint32_t)cc;
	p->bio = (uint32_t)bio;
	if (tls_prof_check(p, why, sizeof(why)))
		return cfg_fail(ld, g, path, "%s", why);
	return 0;
}

int cfg_tls_list(struct cfg_ld *ld, config_setting_t *s, const char *path, struct xts_shm_cfg *run)
{
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(ld, s, path, "must be a list ( { name = \"...\"; ... }, ... )");
	n = config_setting_length(s);
	if (n > XTS_SHM_TLS_MAX)
		return cfg_fail(ld, s, path, "at most %d profiles", XTS_SHM_TLS_MAX);
	for (int i = 0; i < n; i++) {
		struct xts_shm_tls_prof *p = &run->tls[i];

		memset(p, 0, sizeof(*p));
		if (profile(ld, config_setting_get_elem(s, (unsigned)i), i, p))
			return -EINVAL;
		for (int k = 0; k < i; k++)
			if (!strcmp(run->tls[k].name, p->name))
				return cfg_fail(ld, config_setting_get_elem(s, (unsigned)i), path,
						"[%d]: profile \"%s\" is defined twice", i,
						p->name);
	}
	run->ntls = (uint32_t)n;
	return 0;
}

/* @s (acl.tls or shards.[i].tls, at @path, every element a string: the
 * ACL parser saw them) names only "*" and profiles of @run. */
int cfg_tls_acl_names(struct cfg_ld *ld, config_setting_t *s, const char *path,
		      const struct xts_shm_cfg *run)
{
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);
		char ep[160];
		uint32_t k;

		if (!v || !strcmp(v, "*"))
			continue;
		for (k = 0; k < run->ntls && strcmp(run->tls[k].name, v); k++)
			;
		snprintf(ep, sizeof(ep), "%s[%d]", path, i);
		if (k == run->ntls)
			return cfg_fail(ld, e, ep, "unknown profile \"%s\" (not in tls)", v);
	}
	return 0;
}

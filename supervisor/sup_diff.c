// SPDX-License-Identifier: BSD-2-Clause
/*
 * sup_diff.c - what a reload changed: the options of the table (cfg.c)
 * whose values differ between the generation in force and the new one,
 * and for each where it applies (every shard, one shard, or xtsd itself).
 * `xtsctl reload` prints it and the log keeps it.
 *
 * Scalar options compare their bytes in struct cfg (the loader starts
 * from zeroed memory, so padding and string tails compare equal).  ACL
 * rules compare as ordered lists per kind and queue: the defaults (acl.*)
 * apply to every shard, a `shards` entry's rules to its shard.  TLS
 * profiles compare by name and content.  Restart-only options never
 * differ here: cfg_reloadable() refused such a file before this runs.
 */
#include <stdio.h>
#include <string.h>

#include "sup.h"

/* An option's value as text. */
static const char *opt_val(const struct cfg_opt *o, const struct cfg *c, char *buf, size_t len)
{
	const char *p = (const char *)c + o->off;
	uint64_t v64;
	uint32_t v;

	switch (o->type) {
	case CFG_T_U32:
		memcpy(&v, p, sizeof(v));
		snprintf(buf, len, "%u", v);
		break;
	case CFG_T_U64:
		memcpy(&v64, p, sizeof(v64));
		snprintf(buf, len, "%llu", (unsigned long long)v64);
		break;
	case CFG_T_ENUM:
		memcpy(&v, p, sizeof(v));
		snprintf(buf, len, "%s", o->names ? o->names[v] : "?");
		break;
	case CFG_T_MODE:
		memcpy(&v, p, sizeof(v));
		snprintf(buf, len, "0%03o", v);
		break;
	default:
		snprintf(buf, len, "%.*s", (int)o->size, p);
		break;
	}
	return buf;
}

static void change(struct ctl_buf *out, const char *opt, const char *oldv, const char *newv,
		   const char *where)
{
	sup_info("reload: %s: %s -> %s (%s)", opt, oldv, newv, where);
	if (!out)
		return;
	ctl_rec_begin(out, "change");
	ctl_rec_str(out, "option", opt);
	ctl_rec_str(out, "old", oldv);
	ctl_rec_str(out, "new", newv);
	ctl_rec_str(out, "applies", where);
	ctl_rec_end(out);
}

/* Rules of one kind and queue, in order: the same in both? *n_old and
 * *n_new get their counts. */
static bool acl_same(const struct xts_shm_cfg *a, const struct xts_shm_cfg *b, uint8_t kind,
		     uint16_t queue, unsigned *n_old, unsigned *n_new)
{
	unsigned i = 0, j = 0;
	bool same = true;

	*n_old = *n_new = 0;
	for (;;) {
		while (i < a->nacl && (a->acl[i].kind != kind || a->acl[i].queue != queue))
			i++;
		while (j < b->nacl && (b->acl[j].kind != kind || b->acl[j].queue != queue))
			j++;
		if (i == a->nacl || j == b->nacl)
			break;
		same &= !memcmp(&a->acl[i++], &b->acl[j++], sizeof(a->acl[0]));
		(*n_old)++;
		(*n_new)++;
	}
	for (; i < a->nacl; i++)
		*n_old += a->acl[i].kind == kind && a->acl[i].queue == queue;
	for (; j < b->nacl; j++)
		*n_new += b->acl[j].kind == kind && b->acl[j].queue == queue;
	return same && *n_old == *n_new;
}

static unsigned acl_diff(const struct cfg *a, const struct cfg *b, struct ctl_buf *out)
{
	static const struct {
		uint8_t kind;
		const char *name;
	} kinds[] = {
	    {XTS_ACL_CONNECT, "connect"}, {XTS_ACL_LISTEN, "listen"}, {XTS_ACL_TLS, "tls"}};
	char opt[48], o[24], n[24], where[24];
	unsigned changes = 0, no, nn;

	for (unsigned k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (!acl_same(&a->run, &b->run, kinds[k].kind, XTS_ACL_ANY_QUEUE, &no, &nn)) {
			snprintf(opt, sizeof(opt), "acl.%s", kinds[k].name);
			snprintf(o, sizeof(o), "%u rules", no);
			snprintf(n, sizeof(n), "%u rules", nn);
			change(out, opt, o, n, "all shards");
			changes++;
		}
		for (unsigned q = 0; q < b->queues; q++) {
			if (acl_same(&a->run, &b->run, kinds[k].kind, (uint16_t)q, &no, &nn))
				continue;
			snprintf(opt, sizeof(opt), "shards[queue %u].%s", q, kinds[k].name);
			snprintf(o, sizeof(o), "%u rules", no);
			snprintf(n, sizeof(n), "%u rules", nn);
			snprintf(where, sizeof(where), "shard %u", q);
			change(out, opt, o, n, where);
			changes++;
		}
	}
	return changes;
}

static unsigned tls_diff(const struct cfg *a, const struct cfg *b, struct ctl_buf *out)
{
	char o[24], n[24];

	if (a->run.ntls == b->run.ntls &&
	    !memcmp(a->run.tls, b->run.tls, a->run.ntls * sizeof(a->run.tls[0])))
		return 0;
	snprintf(o, sizeof(o), "%u profiles", a->run.ntls);
	snprintf(n, sizeof(n), "%u profiles", b->run.ntls);
	change(out, "tls", o, n, "all shards");
	return 1;
}

unsigned sup_cfg_diff(const struct cfg *a, const struct cfg *b, struct ctl_buf *out)
{
	const size_t run_lo = offsetof(struct cfg, run), run_hi = run_lo + sizeof(a->run);
	unsigned changes = 0;
	size_t n;
	const struct cfg_opt *opts = cfg_opts(&n);

	for (size_t i = 0; i < n; i++) {
		const struct cfg_opt *o = &opts[i];
		char ov[300], nv[300];

		if (o->type > CFG_T_MODE || !o->size ||
		    !memcmp((const char *)a + o->off, (const char *)b + o->off, o->size))
			continue;
		/* the shards apply what is in the snapshot (cfg.run); xtsd the rest */
		change(out, o->name, opt_val(o, a, ov, sizeof(ov)), opt_val(o, b, nv, sizeof(nv)),
		       o->off >= run_lo && o->off < run_hi ? "all shards" : "xtsd");
		changes++;
	}
	changes += acl_diff(a, b, out);
	changes += tls_diff(a, b, out);
	return changes;
}

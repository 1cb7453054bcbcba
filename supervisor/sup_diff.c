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
 * profiles compare by name and content, and each certificate, key and CA
 * file by the SHA-256 of its content when it was loaded (the shards read
 * the files again at every generation, so a file replaced under the same
 * path is a change a reload applies).  Restart-only options never
 * differ here: cfg_reloadable() refused such a file before this runs.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "sup.h"

#define SUM_MAX_BYTES (16u << 20) /* a PEM file past this is not one */

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

/* SHA-256 of @path's content into @sum: 0, or -errno with @sum zeroed
 * (read in pieces: a file past SUM_MAX_BYTES is -EFBIG, not memory). */
static int file_sum(const char *path, uint8_t sum[CFG_SUM_LEN])
{
	EVP_MD_CTX *md = NULL;
	unsigned char buf[16384];
	unsigned len = CFG_SUM_LEN;
	size_t n, total = 0;
	FILE *f;
	int err = 0;

	memset(sum, 0, CFG_SUM_LEN);
	if (!path[0])
		return 0;
	if (!(f = fopen(path, "rbe")))
		return -errno;
	if (!(md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		err = -ENOMEM;
	while (!err && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		total += n;
		if (total > SUM_MAX_BYTES)
			err = -EFBIG;
		else if (!EVP_DigestUpdate(md, buf, n))
			err = -EIO;
	}
	if (!err && ferror(f))
		err = -EIO;
	if (!err && !EVP_DigestFinal_ex(md, sum, &len))
		err = -EIO;
	if (err)
		memset(sum, 0, CFG_SUM_LEN);
	EVP_MD_CTX_free(md);
	fclose(f);
	return err;
}

void sup_cfg_sums(struct cfg *c)
{
	memset(c->tls_sum, 0, sizeof(c->tls_sum));
	for (unsigned i = 0; i < c->run.ntls && i < XTS_SHM_TLS_MAX; i++) {
		const struct xts_shm_tls_prof *p = &c->run.tls[i];
		struct cfg_tls_sum *s = &c->tls_sum[i];
		int err = file_sum(p->ca, s->ca);

		for (unsigned j = 0; j < p->ncert && j < 1 + XTS_SHM_TLS_SNI; j++) {
			err = err ? err : file_sum(p->cert[j].cert, s->cert[j]);
			err = err ? err : file_sum(p->cert[j].key, s->key[j]);
		}
		if (err)
			sup_warn("tls profile %s: a file could not be read for its digest: %s",
				 p->name, strerror(-err));
	}
}

static const char *sum_text(const uint8_t sum[CFG_SUM_LEN], char *buf, size_t len)
{
	static const uint8_t zero[CFG_SUM_LEN];

	if (!memcmp(sum, zero, CFG_SUM_LEN))
		snprintf(buf, len, "unreadable");
	else /* 48 bits: enough to tell files apart in a table */
		snprintf(buf, len, "sha256:%02x%02x%02x%02x%02x%02x", sum[0], sum[1], sum[2],
			 sum[3], sum[4], sum[5]);
	return buf;
}

/* One file of profile @name: same path, other content? */
static unsigned file_diff(const char *name, const char *sni, const char *what, const char *pa,
			  const char *pb, const uint8_t *sa, const uint8_t *sb, struct ctl_buf *out)
{
	char opt[200], o[32], n[32];

	if (!pb[0] || strcmp(pa, pb) || !memcmp(sa, sb, CFG_SUM_LEN))
		return 0; /* none, a new path (the profile line says), or the same */
	if (sni)
		snprintf(opt, sizeof(opt), "tls.%s.sni[%s].%s", name, sni, what);
	else
		snprintf(opt, sizeof(opt), "tls.%s.%s", name, what);
	change(out, opt, sum_text(sa, o, sizeof(o)), sum_text(sb, n, sizeof(n)), "all shards");
	return 1;
}

/* The files of each profile in both generations (by name, and by server
 * name for the SNI certificates), by content. */
static unsigned tls_files_diff(const struct cfg *a, const struct cfg *b, struct ctl_buf *out)
{
	unsigned changes = 0;

	for (unsigned i = 0; i < b->run.ntls && i < XTS_SHM_TLS_MAX; i++) {
		const struct xts_shm_tls_prof *pb = &b->run.tls[i], *pa = NULL;
		const struct cfg_tls_sum *sb = &b->tls_sum[i], *sa = NULL;

		for (unsigned k = 0; k < a->run.ntls && k < XTS_SHM_TLS_MAX && !pa; k++)
			if (!strcmp(a->run.tls[k].name, pb->name)) {
				pa = &a->run.tls[k];
				sa = &a->tls_sum[k];
			}
		if (!pa)
			continue;
		changes += file_diff(pb->name, NULL, "ca", pa->ca, pb->ca, sa->ca, sb->ca, out);
		for (unsigned j = 0; j < pb->ncert && j < 1 + XTS_SHM_TLS_SNI; j++) {
			const char *sni = j ? pb->cert[j].sni : NULL;

			for (unsigned k = 0; k < pa->ncert && k < 1 + XTS_SHM_TLS_SNI; k++) {
				if (!j != !k || (j && strcmp(pa->cert[k].sni, sni)))
					continue;
				changes +=
				    file_diff(pb->name, sni, "cert", pa->cert[k].cert,
					      pb->cert[j].cert, sa->cert[k], sb->cert[j], out);
				changes += file_diff(pb->name, sni, "key", pa->cert[k].key,
						     pb->cert[j].key, sa->key[k], sb->key[j], out);
			}
		}
	}
	return changes;
}

static unsigned tls_diff(const struct cfg *a, const struct cfg *b, struct ctl_buf *out)
{
	unsigned changes = tls_files_diff(a, b, out);
	char o[24], n[24];

	if (a->run.ntls == b->run.ntls &&
	    !memcmp(a->run.tls, b->run.tls, a->run.ntls * sizeof(a->run.tls[0])))
		return changes;
	snprintf(o, sizeof(o), "%u profiles", a->run.ntls);
	snprintf(n, sizeof(n), "%u profiles", b->run.ntls);
	change(out, "tls", o, n, "all shards");
	return changes + 1;
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

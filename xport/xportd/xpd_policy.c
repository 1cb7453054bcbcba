// SPDX-License-Identifier: BSD-2-Clause
/*
 * xpd_policy.c - who may lease which queue: pure logic over the
 * configuration, the peer's credentials (SO_PEERCRED and the groups the
 * process holds, SO_PEERGROUPS) and who holds each queue now; no I/O, so
 * tests/unit/test_xportd_policy.c drives every rule.
 *
 * - The first rule that matches the peer (its user, or a group it holds)
 *   applies: it says how many leases that uid may hold at once and which
 *   queues it may have.  No rule: refused, unless the peer is root.
 * - A rule with `reserve` keeps its queues for the peers it matches: any
 *   other peer, root included, is refused them by name and never given
 *   one as "any" (root may still name one: an operator's deliberate act).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xportd.h"

bool xpd_rule_match(const struct xpd_rule *r, const struct xpd_peer *p)
{
	if (r->who == XPD_WHO_USER)
		return p->uid == r->id;
	if (p->gid == r->id)
		return true;
	for (uint32_t i = 0; i < p->ngroups && i < XPD_MAX_GROUPS; i++)
		if (p->groups[i] == r->id)
			return true;
	return false;
}

const struct xpd_rule *xpd_policy_rule(const struct xpd_cfg *c, const struct xpd_peer *p)
{
	for (uint32_t i = 0; i < c->nrules; i++)
		if (xpd_rule_match(&c->rule[i], p))
			return &c->rule[i];
	return NULL;
}

/* The reserving rule of queue q the peer does not match, or NULL. */
static const struct xpd_rule *reserved_from(const struct xpd_cfg *c, const struct xpd_peer *p,
					    unsigned q)
{
	for (uint32_t i = 0; i < c->nrules; i++) {
		const struct xpd_rule *r = &c->rule[i];

		if (r->reserve && xpd_bit(r->queues, q) && !xpd_rule_match(r, p))
			return r;
	}
	return NULL;
}

static void groups_str(const struct xpd_peer *p, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "%u", (unsigned)p->gid);

	for (uint32_t i = 0; i < p->ngroups && i < XPD_MAX_GROUPS && n < len; i++)
		if (p->groups[i] != p->gid)
			n += (size_t)snprintf(buf + n, len - n, ",%u", (unsigned)p->groups[i]);
}

static const char *who_str(const struct xpd_rule *r)
{
	return r->who == XPD_WHO_USER ? "user" : "group";
}

int xpd_policy_check(const struct xpd_cfg *c, const struct xpd_peer *p, const struct xpd_usage *u,
		     int want, uint8_t ok[XPD_MAX_QUEUES / 8], char *why, size_t whylen)
{
	const struct xpd_rule *r = xpd_policy_rule(c, p), *res;
	uint32_t held = 0, q;
	char groups[256];

	memset(ok, 0, XPD_MAX_QUEUES / 8);
	if (want >= (int)c->queues) {
		snprintf(why, whylen, "queue %d does not exist: xportd leases queues 0-%u", want,
			 c->queues - 1);
		return -EINVAL;
	}
	if (!r && p->uid != 0) {
		groups_str(p, groups, sizeof(groups));
		snprintf(why, whylen,
			 "uid %u may not lease queues: no rule of xportd's policy names it or "
			 "a group it holds (groups %s)",
			 (unsigned)p->uid, groups);
		return -EACCES;
	}
	for (q = 0; q < u->queues; q++)
		held += u->holder_uid[q] >= 0 && (uid_t)u->holder_uid[q] == p->uid;
	if (r && held >= r->leases) {
		snprintf(why, whylen,
			 "uid %u holds %u lease%s, the most its rule allows (line %u, %s %s)",
			 (unsigned)p->uid, held, held == 1 ? "" : "s", r->line, who_str(r),
			 r->name);
		return -EDQUOT;
	}
	if (want >= 0) {
		if (r && !xpd_bit(r->queues, (unsigned)want)) {
			snprintf(why, whylen,
				 "queue %d is not among the queues uid %u may lease (rule at line "
				 "%u, %s %s)",
				 want, (unsigned)p->uid, r->line, who_str(r), r->name);
			return -EACCES;
		}
		res = reserved_from(c, p, (unsigned)want);
		if (res && p->uid != 0) {
			snprintf(why, whylen, "queue %d is reserved for %s %s (rule at line %u)",
				 want, who_str(res), res->name, res->line);
			return -EACCES;
		}
		xpd_bit_set(ok, (unsigned)want);
		return 0;
	}
	for (q = 0; q < c->queues; q++)
		if ((!r || xpd_bit(r->queues, q)) && !reserved_from(c, p, q))
			xpd_bit_set(ok, q);
	for (q = 0; q < c->queues && !xpd_bit(ok, q); q++)
		;
	if (q == c->queues) {
		snprintf(why, whylen,
			 "no queue uid %u may lease: every queue its rule allows is "
			 "reserved for others",
			 (unsigned)p->uid);
		return -EACCES;
	}
	return 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * registry.c - the shared-memory listener registry (include/xts_reg.h).
 *
 * Pure logic over a mapped region: no sockets, no logging, so the unit
 * test drives it directly (tests/unit/test_reg.c).  Conflicts follow
 * Linux's rules for listening TCP sockets (inet_csk_bind_conflict):
 * two sockets on one port whose addresses overlap conflict unless both
 * set SO_REUSEPORT; SO_REUSEADDR does not let two listeners share a port.
 * Rebinding a port at once after its listener closed needs nothing here
 * (a closed listener's entry is gone); the shards' kernel sockets set
 * SO_REUSEADDR so connections in TIME_WAIT do not block it either.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "xts_reg.h"

uint64_t reg_size(uint32_t nslots)
{
	return sizeof(struct xts_reg) + (uint64_t)nslots * sizeof(struct reg_ent);
}

int reg_format(struct xts_reg *r, uint32_t nslots)
{
	pthread_mutexattr_t a;
	int err;

	if (!nslots)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->magic = XTS_REG_MAGIC;
	r->version = XTS_REG_VERSION;
	r->size = reg_size(nslots);
	r->nslots = nslots;
	if ((err = pthread_mutexattr_init(&a)))
		return -err;
	err = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!err)
		err = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!err)
		err = pthread_mutex_init(&r->lock, &a);
	pthread_mutexattr_destroy(&a);
	return -err;
}

int reg_check(const struct xts_reg *r, uint64_t size)
{
	if (!r || r->magic != XTS_REG_MAGIC || r->version != XTS_REG_VERSION || r->size > size ||
	    reg_size(r->nslots) != r->size)
		return -EINVAL;
	return 0;
}

/* Count the used slots again: the one derived field a repair must fix. */
static void recount(struct xts_reg *r)
{
	uint32_t i, n = 0;

	for (i = 0; i < r->nslots; i++)
		n += r->ent[i].state != REG_FREE;
	r->nused = n;
}

/* Everything of an entry but its gen, which only the seqlock steps write. */
#define ENT_BODY offsetof(struct reg_ent, gen)
_Static_assert(offsetof(struct reg_ent, gen) + sizeof(uint32_t) == sizeof(struct reg_ent),
	       "gen is the last field of reg_ent");

/* Seqlock, writer side: gen odd before any field changes, even (and 2
 * further on) after they all did.  The fences order the plain field
 * stores against the gen stores on weakly ordered CPUs (smp_wmb). */
static void ent_busy(struct reg_ent *e)
{
	__atomic_store_n(&e->gen, __atomic_load_n(&e->gen, __ATOMIC_RELAXED) | 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void ent_done(struct reg_ent *e)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->gen, (__atomic_load_n(&e->gen, __ATOMIC_RELAXED) | 1) + 1,
			 __ATOMIC_RELAXED);
}

int reg_read(const struct xts_reg *r, uint32_t slot, struct reg_ent *out)
{
	const struct reg_ent *e;

	if (slot >= r->nslots)
		return -EINVAL;
	e = &r->ent[slot];
	/* a writer holds an entry for a few stores: a short spin is plenty */
	for (unsigned tries = 0; tries < 1000; tries++) {
		uint32_t g0 = __atomic_load_n(&e->gen, __ATOMIC_ACQUIRE);

		if (g0 & 1)
			continue;
		memcpy(out, e, ENT_BODY);
		__atomic_thread_fence(__ATOMIC_ACQUIRE); /* the copy before the recheck */
		if (__atomic_load_n(&e->gen, __ATOMIC_RELAXED) == g0) {
			out->gen = g0;
			return 0;
		}
	}
	return -EAGAIN;
}

struct reg_ent *reg_ent_begin(struct xts_reg *r, uint32_t slot)
{
	struct reg_ent *e = &r->ent[slot];

	/* the journal first: a repair must find the entry as it was */
	r->j.slot = slot;
	memcpy(&r->j.old, e, sizeof(*e));
	__atomic_store_n(&r->j.valid, 1, __ATOMIC_RELEASE);
	ent_busy(e);
	return e;
}

void reg_ent_commit(struct xts_reg *r, uint32_t slot)
{
	ent_done(&r->ent[slot]);
	r->generation++;
	recount(r);
	__atomic_store_n(&r->j.valid, 0, __ATOMIC_RELEASE);
}

int reg_lock(struct xts_reg *r)
{
	int err = pthread_mutex_lock(&r->lock);

	if (err == EOWNERDEAD) {
		/* The holder died.  If it was changing an entry, put the entry
		 * back as it was (the change never happened), through the
		 * seqlock like any change: readers never see it half done. */
		if (__atomic_load_n(&r->j.valid, __ATOMIC_ACQUIRE) && r->j.slot < r->nslots) {
			struct reg_ent *e = &r->ent[r->j.slot];

			ent_busy(e);
			memcpy(e, &r->j.old, ENT_BODY);
			ent_done(e);
			r->generation++;
		}
		r->j.valid = 0;
		recount(r);
		r->repairs++;
		err = pthread_mutex_consistent(&r->lock);
	}
	return -err;
}

void reg_unlock(struct xts_reg *r)
{
	pthread_mutex_unlock(&r->lock);
}

static int is_any(const struct reg_key *k)
{
	static const uint8_t zero[16];

	return !memcmp(k->addr, zero, k->family == AF_INET ? 4 : 16);
}

static int is_v4mapped(const uint8_t a[16])
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return !memcmp(a, pfx, sizeof(pfx));
}

/* An IPv4 key against an IPv6 one (ipv6_rcv_saddr_equal's v4 half). */
static int overlap_46(const struct reg_key *v4, const struct reg_key *v6, int v6only)
{
	if (is_any(v6))
		return !v6only; /* [::] takes IPv4 unless IPV6_V6ONLY */
	if (v6only || !is_v4mapped(v6->addr))
		return 0;
	return is_any(v4) || !memcmp(v4->addr, v6->addr + 12, 4) ||
	       !memcmp(v6->addr + 12, "\0\0\0\0", 4);
}

int reg_overlap(const struct reg_key *a, int v6only_a, const struct reg_key *b, int v6only_b)
{
	if (a->port != b->port)
		return 0;
	if (a->family == b->family)
		return is_any(a) || is_any(b) ||
		       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
	if (a->family == AF_INET)
		return overlap_46(a, b, v6only_b);
	return overlap_46(b, a, v6only_a);
}

static void key_of(const struct reg_ent *e, struct reg_key *k)
{
	k->family = e->family;
	k->port = e->port;
	memcpy(k->addr, e->addr, sizeof(k->addr));
}

static int key_ok(const struct reg_key *k)
{
	return (k->family == AF_INET || k->family == AF_INET6) && k->port;
}

int reg_bind(struct xts_reg *r, const struct reg_req *req, uint32_t *slot_out)
{
	uint32_t i, free_slot = UINT32_MAX;
	struct reg_ent *e;
	int err;

	if (!key_ok(&req->key) || !req->host_id)
		return -EINVAL;
	if ((err = reg_lock(r)))
		return err;
	for (i = 0; i < r->nslots; i++) {
		struct reg_key k;

		e = &r->ent[i];
		if (e->state == REG_FREE) {
			if (free_slot == UINT32_MAX)
				free_slot = i;
			continue;
		}
		if (e->queue == req->queue && e->host_id == req->host_id) {
			err = -EINVAL; /* this socket listens already */
			goto out;
		}
		key_of(e, &k);
		if (!reg_overlap(&req->key, req->flags & REG_F_V6ONLY, &k, e->flags & REG_F_V6ONLY))
			continue;
		if ((req->flags & REG_F_REUSEPORT) && (e->flags & REG_F_REUSEPORT))
			continue; /* a reuseport group: the kernel spreads connections */
		err = -EADDRINUSE;
		goto out;
	}
	if (free_slot == UINT32_MAX) {
		err = -ENOSPC;
		goto out;
	}
	e = reg_ent_begin(r, free_slot);
	e->state = REG_LISTEN;
	e->family = req->key.family;
	e->port = req->key.port;
	memcpy(e->addr, req->key.addr, sizeof(e->addr));
	e->queue = req->queue;
	e->flags = req->flags;
	e->host_id = req->host_id;
	e->backlog = req->backlog;
	reg_ent_commit(r, free_slot);
	if (slot_out)
		*slot_out = free_slot;
out:
	reg_unlock(r);
	return err;
}

static void clear_slot(struct xts_reg *r, uint32_t i)
{
	memset(reg_ent_begin(r, i), 0, ENT_BODY);
	reg_ent_commit(r, i);
}

int reg_unbind(struct xts_reg *r, uint16_t queue, uint32_t host_id)
{
	uint32_t i;
	int err;

	if ((err = reg_lock(r)))
		return err;
	err = -ENOENT;
	for (i = 0; i < r->nslots; i++) {
		struct reg_ent *e = &r->ent[i];

		if (e->state != REG_FREE && e->queue == queue && e->host_id == host_id) {
			clear_slot(r, i);
			err = 0;
			break;
		}
	}
	reg_unlock(r);
	return err;
}

int reg_close(struct xts_reg *r, const struct reg_key *key, uint16_t queue, uint32_t host_id,
	      bool linger, uint32_t linger_id, struct reg_sib *sib, int max, int *nsib)
{
	int err, self = -1;

	*nsib = 0;
	if ((err = reg_lock(r)))
		return err;
	for (uint32_t i = 0; i < r->nslots; i++) {
		const struct reg_ent *e = &r->ent[i];

		if (e->state == REG_FREE)
			continue;
		if (e->queue == queue && e->host_id == host_id)
			self = (int)i;
		else if (e->family == key->family && e->port == key->port &&
			 !memcmp(e->addr, key->addr, sizeof(e->addr)) &&
			 (e->flags & REG_F_REUSEPORT) && !(e->flags & REG_F_LINGER) && *nsib < max)
			sib[(*nsib)++] = (struct reg_sib){.queue = e->queue, .host_id = e->host_id};
	}
	if (self < 0) {
		err = -ENOENT;
	} else if (*nsib || !linger) {
		clear_slot(r, (uint32_t)self);
	} else {
		struct reg_ent *e = reg_ent_begin(r, (uint32_t)self);

		e->host_id = linger_id;
		e->flags |= REG_F_LINGER;
		reg_ent_commit(r, (uint32_t)self);
	}
	reg_unlock(r);
	return err;
}

int reg_drop_queue(struct xts_reg *r, uint16_t queue)
{
	uint32_t i;
	int err, n = 0;

	if ((err = reg_lock(r)))
		return err;
	for (i = 0; i < r->nslots; i++) {
		if (r->ent[i].state != REG_FREE && r->ent[i].queue == queue) {
			clear_slot(r, i);
			n++;
		}
	}
	reg_unlock(r);
	return n;
}

int reg_group(struct xts_reg *r, const struct reg_key *key, uint32_t *reuseport)
{
	uint32_t i, rp = 0;
	int err, n = 0;

	if ((err = reg_lock(r)))
		return err;
	for (i = 0; i < r->nslots; i++) {
		const struct reg_ent *e = &r->ent[i];

		if (e->state != REG_LISTEN || e->family != key->family || e->port != key->port ||
		    memcmp(e->addr, key->addr, sizeof(e->addr)))
			continue;
		n++;
		rp += !!(e->flags & REG_F_REUSEPORT);
	}
	reg_unlock(r);
	if (reuseport)
		*reuseport = rp;
	return n;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xts_reg.h - the listener registry: which (family, address, port) the
 * host queues listen on, in shared memory.
 *
 * xtsd creates the region before it forks (supervisor/sup_reg.c) and every
 * shard maps it.  A fixed table of entries, one per listening host socket
 * (queue, host socket id); entries with the same key form a group, and
 * those that set SO_REUSEPORT a reuseport group.  shard/registry.c is the
 * only code that reads or writes it.
 *
 * One process-shared, robust mutex guards the table for writers.  Before
 * it changes an entry the holder writes an intent record (the journal:
 * slot and the entry's old contents); a shard killed mid-update leaves the
 * mutex EOWNERDEAD and the journal valid, and the next holder rolls the
 * entry back, clears the journal and marks the mutex consistent.  So a
 * dead shard never wedges the others and never leaves a half-written entry.
 *
 * Readers that must never wait on a shard (xtsd's `xtsctl listeners`) do
 * not take the lock: each entry is its own seqlock.  Its gen is odd while
 * a writer changes it and moves by 2 per change; reg_read() copies an
 * entry only between two equal, even readings, with the barriers a weakly
 * ordered CPU needs (the kernel's seqcount pattern), so it never returns a
 * torn entry.  An entry a dead writer left odd reads as busy until the
 * next holder's repair.
 *
 * Fixed-width fields; sizes are asserted.
 */
#ifndef XTS_REG_H
#define XTS_REG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define XTS_REG_MAGIC	0x47455258u /* "XREG" */
#define XTS_REG_VERSION 1u

/* entry flags (the wire's XTS_LISTEN_* values) */
#define REG_F_REUSEADDR 0x1
#define REG_F_REUSEPORT 0x2
#define REG_F_V6ONLY	0x4
/* not the wire's: a listener its host closed, kept by its shard until a
 * sibling listens (shard/listen.c, "linger"); never a sibling itself */
#define REG_F_LINGER 0x8000

enum reg_state { REG_FREE = 0, REG_LISTEN = 2 };

struct reg_key {
	uint16_t family;  /* AF_INET or AF_INET6 */
	uint16_t port;	  /* host order */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
};

struct reg_ent {
	uint32_t state; /* enum reg_state */
	uint16_t family, port;
	uint8_t addr[16];
	uint16_t queue;
	uint16_t flags;	  /* REG_F_* */
	uint32_t host_id; /* the host's listening socket */
	uint32_t backlog;
	uint32_t gen; /* seqlock: odd while it changes, +2 per change */
};
_Static_assert(sizeof(struct reg_ent) == 40, "reg_ent size");

/* Intent record: the entry at slot before the change in progress. */
struct reg_journal {
	uint32_t valid; /* 1 while an update is in progress */
	uint32_t slot;
	struct reg_ent old;
};

struct xts_reg {
	uint32_t magic, version;
	uint64_t size;	     /* bytes of the region */
	uint64_t generation; /* +1 per change */
	uint32_t nslots, nused;
	uint64_t repairs; /* times a dead holder's update was rolled back */
	pthread_mutex_t lock __attribute__((aligned(64)));
	struct reg_journal j;
	struct reg_ent ent[] __attribute__((aligned(8)));
};

/* A bind request. */
struct reg_req {
	struct reg_key key;
	uint16_t queue;
	uint16_t flags; /* REG_F_* */
	uint32_t host_id;
	uint32_t backlog;
};

/* Region size for @nslots entries. */
uint64_t reg_size(uint32_t nslots);
/* Format a zeroed region of reg_size(nslots) bytes: 0 or -errno. */
int reg_format(struct xts_reg *r, uint32_t nslots);
/* Check a mapped region (magic, version, size): 0 or -EINVAL. */
int reg_check(const struct xts_reg *r, uint64_t size);

/*
 * Take a listener slot for req: 0 (slot in *slot_out), -EADDRINUSE (an
 * overlapping entry of another socket on the port, unless both set
 * SO_REUSEPORT), -ENOSPC (table full), -EINVAL, or a lock error.
 */
int reg_bind(struct xts_reg *r, const struct reg_req *req, uint32_t *slot_out);
/* Remove the entry of (queue, host_id): 0 or -ENOENT. */
int reg_unbind(struct xts_reg *r, uint16_t queue, uint32_t host_id);
/* A sibling of a closing listener: its entry's queue and host socket. */
struct reg_sib {
	uint16_t queue;
	uint32_t host_id;
};
/*
 * The host closed listener (queue, host_id) on @key, in one critical
 * section (two listeners of a group closing at once must not each hand
 * their connections to the other): its siblings, the entries on exactly
 * @key with SO_REUSEPORT that are not lingering, at most @max into @sib
 * and their number in *nsib; then the entry goes, unless there is no
 * sibling and @linger: then it stays, re-keyed to @linger_id and marked
 * REG_F_LINGER (a lingering entry is nobody's sibling).  0, -ENOENT (no
 * such entry), or a lock error.
 */
int reg_close(struct xts_reg *r, const struct reg_key *key, uint16_t queue, uint32_t host_id,
	      bool linger, uint32_t linger_id, struct reg_sib *sib, int max, int *nsib);
/* Remove every entry of a queue (its session ended, its shard restarted):
 * the number removed, or a lock error. */
int reg_drop_queue(struct xts_reg *r, uint16_t queue);
/* Entries that listen on exactly @key (its group); *reuseport set to how
 * many of them set SO_REUSEPORT.  For tests and ctl. */
int reg_group(struct xts_reg *r, const struct reg_key *key, uint32_t *reuseport);
/* Do two keys overlap (same port, addresses that can take the same
 * connection)?  @v6only_a/_b: IPV6_V6ONLY of each side. */
int reg_overlap(const struct reg_key *a, int v6only_a, const struct reg_key *b, int v6only_b);

/* A consistent copy of entry @slot, without the lock: 0, or -EAGAIN while
 * writers kept it changing (or a dead writer left it half-written and no
 * one has repaired it yet), -EINVAL for a slot out of range. */
int reg_read(const struct xts_reg *r, uint32_t slot, struct reg_ent *out);

/* The lock, with repair of a dead holder's update: 0 or -errno. */
int reg_lock(struct xts_reg *r);
void reg_unlock(struct xts_reg *r);

/*
 * How every change of an entry is made, lock held: reg_ent_begin()
 * journals entry @slot and makes its gen odd (readers now see it busy),
 * the caller writes its fields (not gen), reg_ent_commit() makes gen even
 * again and clears the journal.  A holder that dies in between leaves both
 * for the next reg_lock() to roll back.  reg_bind and reg_unbind use them;
 * so do the tests that kill a holder in the middle of an update.
 */
struct reg_ent *reg_ent_begin(struct xts_reg *r, uint32_t slot);
void reg_ent_commit(struct xts_reg *r, uint32_t slot);

#endif /* XTS_REG_H */

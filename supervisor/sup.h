/* SPDX-License-Identifier: BSD-2-Clause */
/* sup.h - xtsd internals shared by xtsd.c (processes), sup_ctl.c (the ctl
 * socket and its commands) and sup_log.c. */
#ifndef XTS_SUP_H
#define XTS_SUP_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cfg.h"
#include "xts_shm.h"

/* One slot per shard (nginx's process table). */
struct sup_slot {
	pid_t pid;
	unsigned backoff_ms;
	long long respawn_at_ms; /* 0: running or none due */
	long long started_ms;
	uint64_t hb;	 /* the shard's heartbeat when last seen to move */
	long long hb_ms; /* when that was (0: not watching) */
	bool hb_armed;	 /* it moved since this pid started: judge it */
};

struct sup {
	const char *file;     /* xts.conf */
	struct cfg *cfg;      /* in force */
	uint32_t table_conns; /* connection table size the shards started with */
	uint64_t gen;	      /* config generation published */
	void *shm;
	size_t shm_size;
	int map_fd;
	int ctl_fd;
	gid_t ctl_gid; /* (gid_t)-1: root only */
	struct sup_slot slot[CFG_MAX_QUEUES];
	volatile sig_atomic_t *stop; /* set: drain, then stop */
	long long drain_deadline_ms;
	/* the configuration xtsd started with: bounds what reload may raise */
	const struct cfg *start;
};

long long sup_now_ms(void);

/* sup_log.c */
void sup_log_init(const char *target);
void sup_log_level(int level);
void sup_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define sup_err(...)  sup_log(XTS_LOG_ERROR, __VA_ARGS__)
#define sup_warn(...) sup_log(XTS_LOG_WARNING, __VA_ARGS__)
#define sup_info(...) sup_log(XTS_LOG_INFO, __VA_ARGS__)
#define sup_dbg(...)  sup_log(XTS_LOG_DEBUG, __VA_ARGS__)

/* sup_reg.c: the listener registry's area after the control plane */
uint64_t sup_reg_bytes(const struct cfg *c);
int sup_reg_format(void *shm, const struct cfg *c);

/* sup_ctl.c */
int sup_ctl_open(struct sup *sp);
void sup_ctl_close(struct sup *sp); /* the fd only: the path stays */
/* Serve one pending client, if any (the listening fd is non-blocking). */
void sup_ctl_serve(struct sup *sp);
/* reload: 0, or -errno with the reason in err */
int sup_reload(struct sup *sp, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sup.h - xtsd internals: xtsd.c (start, the event loop, stop), sup_proc.c
 * (the shard slot table: fork, reap, restart, hang watchdog), sup_ctl.c
 * (the ctl socket and its clients), sup_cmd.c (the ctl commands) and
 * sup_log.c.
 *
 * xtsd is one thread around one epoll: a signalfd, the listening ctl
 * socket and each ctl client are typed handlers (struct sup_ev); timers
 * (restarts due, the hang watchdog, the drain deadline, ctl deadlines)
 * are computed from the slot table and the clients, and epoll_wait sleeps
 * until the nearest one.  Nothing on this loop blocks on a client.
 */
#ifndef XTS_SUP_H
#define XTS_SUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfg.h"
#include "xts_ctl.h"
#include "xts_shm.h"

#define SUP_NEVER INT64_MAX /* a deadline that never comes */

struct sup;

/* An fd in xtsd's epoll and the function that handles its events. */
struct sup_ev {
	int fd;
	void (*fn)(struct sup *sp, struct sup_ev *ev, uint32_t events);
};

/* One slot per shard (nginx's process table). */
struct sup_slot {
	pid_t pid;		 /* 0: not running (reaped, or never forked) */
	int efd;		 /* eventfd: "look at the control plane" (shard_opts.ctl_efd) */
	unsigned backoff_ms;	 /* delay before the next restart */
	long long respawn_at_ms; /* 0: none due */
	long long started_ms;	 /* when it was forked */
	/* hang watchdog (sup_proc.c) */
	uint64_t hb;	       /* heartbeat when last seen to move (0: not yet) */
	uint64_t hb_cpu_ns;    /* the shard's CPU time then */
	long long hb_check_ms; /* next look */
	bool killed;	       /* SIGKILLed as hung: the reaper takes it from here */
};

struct sup_ctl_client;
struct mhttp;

struct sup {
	const char *file; /* xts.conf */
	struct cfg *cfg;  /* in force */
	/* the configuration xtsd started with: bounds what reload may raise */
	const struct cfg *start;
	uint32_t table_conns; /* connection table size the shards started with */
	uint64_t gen;	      /* config generation published */
	void *shm;
	size_t shm_size;
	int map_fd;
	int ifindex;
	bool attached;	/* the XDP program is ours to detach */
	bool ctl_bound; /* the ctl socket's path is ours to remove */
	int lock_fd;	/* run_dir/xtsd.pid, flock()ed while xtsd runs */
	int iface_fd;	/* bound to the interface's abstract name while xtsd runs */
	int ep;		/* the event loop's epoll */
	struct sup_ev sig;
	struct sup_ev ctl; /* the listening ctl socket (fd -1: none) */
	gid_t ctl_gid;	   /* (gid_t)-1: root only */
	struct sup_ctl_client *clients;
	struct sup_slot slot[CFG_MAX_QUEUES];
	/* stopping: drain (SIGTERM, xtsctl stop) until drain_deadline_ms or
	 * no connection is left, then stop; SIGINT stops at once */
	bool stop_asked, draining, stop_now;
	long long drain_deadline_ms;
	/* reloads (xtsctl reload, SIGHUP), for status and the metrics */
	uint64_t reloads_ok, reloads_failed;
	uint64_t last_reload_ms; /* CLOCK_REALTIME, 0: none yet */
	bool last_reload_failed;
	/* GET /metrics (sup_metrics.c), NULL: metrics.listen is "" */
	struct mhttp *metrics;
	struct sup_ev metrics_ev;
};

long long sup_now_ms(void); /* CLOCK_MONOTONIC */

/* xtsd.c */
/* Re-read the configuration and publish it (xtsctl reload, SIGHUP): 0, or
 * -errno with the reason in err; logged either way. */
/* diff: "change" records of what the new generation changed (NULL: the
 * log only) */
int sup_reload(struct sup *sp, char *err, size_t errlen, struct ctl_buf *diff);
/* sup_diff.c: the options that differ, as records into out (NULL: none)
 * and log lines: how many */
unsigned sup_cfg_diff(const struct cfg *a, const struct cfg *b, struct ctl_buf *out);
/* The SHA-256 of c's TLS files (c->tls_sum), taken right after the load:
 * a file that cannot be read (or is past 16 MiB) gets zeros, "unreadable"
 * in the diff. */
void sup_cfg_sums(struct cfg *c);
/* Drain, then stop (SIGTERM, xtsctl stop). */
void sup_stop(struct sup *sp, long long now);
int sup_ev_add(struct sup *sp, struct sup_ev *ev, uint32_t events);
/* In a forked shard: xtsd's signal set-up undone (fatal handlers, mask). */
void sup_child_signals(void);
int sup_ev_mod(struct sup *sp, struct sup_ev *ev, uint32_t events);

/* sup_proc.c: the shards */
int sup_slots_init(struct sup *sp);			/* eventfds; 0 or -errno */
void sup_spawn(struct sup *sp, unsigned q);		/* fork shard q */
void sup_reap(struct sup *sp, long long now);		/* SIGCHLD: our slots' pids only */
long long sup_procs_run(struct sup *sp, long long now); /* due restarts, watchdog: next deadline */
void sup_stop_shards(struct sup *sp);
void sup_notify(struct sup *sp, unsigned q); /* wake shard q (its eventfd) */
unsigned sup_active_conns(struct sup *sp);
/* A shard's state as the operator sees it (XTS_SHARD_*). */
uint32_t sup_shard_state(struct sup *sp, unsigned q);

/* sup_title.c: a shard's title in ps (xtsd: shard 2 (queue 2)) */
void sup_title_init(int argc, char **argv);
void sup_title_set(const char *comm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* sup_log.c */
void sup_log_init(const char *target);
void sup_log_started(void); /* up: syslog lines no longer also on stderr */
void sup_log_level(int level);
void sup_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define sup_err(...)  sup_log(XTS_LOG_ERROR, __VA_ARGS__)
#define sup_warn(...) sup_log(XTS_LOG_WARNING, __VA_ARGS__)
#define sup_info(...) sup_log(XTS_LOG_INFO, __VA_ARGS__)
#define sup_dbg(...)  sup_log(XTS_LOG_DEBUG, __VA_ARGS__)

/* sup_reg.c: the listener registry's area after the control plane */
uint64_t sup_reg_bytes(const struct cfg *c);
int sup_reg_format(void *shm, const struct cfg *c);

/* sup_ctl.c: the ctl socket */
int sup_ctl_open(struct sup *sp); /* listen, in the epoll */
/* Close the listening socket and every client: the fds only (a forked
 * shard drops them; the path stays for xtsd to remove). */
void sup_ctl_close(struct sup *sp);
long long sup_ctl_run(struct sup *sp, long long now); /* deadlines, waits: next deadline */

/* sup_cmd.c: the commands behind the ctl socket (Knot's ctl commands: a
 * table, one args struct). */
#define SUP_CMD_AGAIN 1 /* not done: call again (by args->wait_until at the latest) */

struct sup_cmd_args {
	struct sup *sp;
	int argc;
	char **argv;	     /* argv[0] is the command */
	struct ctl_buf *out; /* the records of the answer */
	char err[CFG_ERR_LEN + 64];
	long long now;
	/* a command that waits on the shards keeps its state here */
	int step;
	long long wait_until;
	uint32_t req[CFG_MAX_QUEUES];
};

struct sup_cmd {
	const char *name;
	int (*fn)(struct sup_cmd_args *a); /* 0, -errno (why in err), SUP_CMD_AGAIN */
	int nargs;			   /* words after the command */
	int maxargs;			   /* at most (0: nargs exactly) */
};

const struct sup_cmd *sup_cmd_find(const char *name);
/* The records of `stats` (each shard's counters and state, the total,
 * xtsd's own record): what xtsctl stats and GET /metrics both show. */
void sup_stats_recs(struct sup *sp, struct ctl_buf *o);

/* sup_metrics.c: GET /metrics on metrics.listen, served by a thread of
 * its own; this loop only hands it the records when asked. */
int sup_metrics_open(struct sup *sp); /* 0 (also when not configured) or -errno, logged */
void sup_metrics_close(struct sup *sp);
void sup_metrics_child(struct sup *sp); /* in a forked shard: its fds closed */

#endif

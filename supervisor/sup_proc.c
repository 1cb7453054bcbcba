// SPDX-License-Identifier: BSD-2-Clause
/*
 * sup_proc.c - the shards as processes: one slot per shard (nginx's
 * process table), fork with placement, reaping (our slots' pids only),
 * restarts with exponential backoff, the hang watchdog, and the stop.
 *
 * Restarts: a shard that dies is forked again after backoff_ms (50 ms,
 * doubling to 5 s while it keeps dying; one that ran for
 * BACKOFF_RESET_MS before it died starts again from 50 ms).  The new
 * shard starts a new epoch and says so with a QRESET, so only its queue's
 * host sockets see ECONNRESET.
 */
#define _GNU_SOURCE /* CPU_SET */
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shard.h"
#include "sup.h"

#define BACKOFF_MIN_MS	 50
#define BACKOFF_MAX_MS	 5000
#define BACKOFF_RESET_MS 10000 /* up this long: the next restart is quick again */
#define STOP_WAIT_MS	 5000  /* SIGTERM, then SIGKILL after this */

long long sup_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long long min_ll(long long a, long long b)
{
	return a < b ? a : b;
}

int sup_slots_init(struct sup *sp)
{
	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		struct sup_slot *sl = &sp->slot[q];

		sl->backoff_ms = BACKOFF_MIN_MS;
		/* made once, before any fork: a restarted shard gets the same */
		sl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (sl->efd < 0)
			return -errno;
	}
	return 0;
}

void sup_notify(struct sup *sp, unsigned q)
{
	uint64_t one = 1;

	/* a full counter (EAGAIN) has a wake-up pending already */
	if (sp->slot[q].efd >= 0 && write(sp->slot[q].efd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		sup_dbg("shard %u: eventfd: %s", q, strerror(errno));
}

/* Where shard q runs: first CPU (or -1) and memory node (or -1). */
static void placement(const struct cfg *c, unsigned q, int *cpu, int *node)
{
	const struct cfg_shard *sh = &c->shard[q];

	*cpu = sh->ncpus ? sh->cpus[0] : -1;
	*node = -1;
	if (numa_available() < 0)
		return; /* no NUMA support: nothing to place */
	if (sh->node != CFG_NODE_AUTO)
		*node = sh->node;
	else if (*cpu >= 0)
		*node = numa_node_of_cpu(*cpu); /* -1 if the CPU does not exist */
}

/* In the child, before the shard allocates anything: the UMEM, rings and
 * connection table then come from the shard's node. */
static void place_self(const struct cfg *c, unsigned q, int node)
{
	const struct cfg_shard *sh = &c->shard[q];

	if (sh->ncpus) {
		cpu_set_t set;

		CPU_ZERO(&set);
		for (unsigned i = 0; i < sh->ncpus; i++)
			CPU_SET(sh->cpus[i], &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			sup_warn("shard %u: sched_setaffinity: %s (running unpinned)", q,
				 strerror(errno));
	}
	if (node >= 0 && numa_available() >= 0) {
		if (node > numa_max_node())
			sup_warn("shard %u: NUMA node %d does not exist (max %d)", q, node,
				 numa_max_node());
		else
			numa_set_preferred(node); /* falls back to other nodes when full */
	}
}

static volatile sig_atomic_t shard_stop; /* the child's: set by SIGTERM */

static void on_shard_term(int sig)
{
	(void)sig;
	shard_stop = 1;
}

/* The forked child: xtsd's fds and signal set-up are not the shard's. */
static void child_setup(struct sup *sp, unsigned q, pid_t parent)
{
	struct sigaction sa;
	sigset_t none;

	sup_child_signals();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_shard_term;
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* die with xtsd; if it is gone already, nobody will stop us */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
		_exit(1);
	sup_ctl_close(sp);
	sup_metrics_child(sp);
	close(sp->sig.fd);
	close(sp->ep);
	close(sp->lock_fd); /* the locks stay with xtsd's own fds */
	close(sp->iface_fd);
	for (unsigned i = 0; i < sp->cfg->queues; i++)
		if (i != q && sp->slot[i].efd >= 0)
			close(sp->slot[i].efd);
}

static void shard_main(struct sup *sp, unsigned q, int node)
{
	const struct cfg *c = sp->cfg;
	struct shard_opts so;
	char comm[16];

	place_self(c, q, node);
	snprintf(comm, sizeof(comm), "xtsd-shard%u", q);
	sup_title_set(comm, "xtsd: shard %u (queue %u)", q, q);
	memset(&so, 0, sizeof(so));
	so.ifname = c->interface;
	so.queue = q;
	so.xsks_map_fd = sp->map_fd;
	so.frames = c->frames;
	so.ring_size = c->ring_size;
	so.window = c->window;
	so.max_conns = sp->table_conns;
	so.conn_buf = c->run.conn_buf;
	so.shm = sp->shm;
	so.ctl_efd = sp->slot[q].efd;
	shard_stop = 0;
	so.stop = &shard_stop;
	so.log = sup_log;
	_exit(shard_run(&so) ? 1 : 0);
}

void sup_spawn(struct sup *sp, unsigned q)
{
	struct xts_shm_shard *blk = xts_shm_shard(sp->shm, q);
	struct sup_slot *sl = &sp->slot[q];
	pid_t parent = getpid(), pid;
	int cpu, node;

	placement(sp->cfg, q, &cpu, &node);
	blk->sup.cpu = cpu;
	blk->sup.node = node;
	blk->sup.state = XTS_SHARD_STARTING;
	sl->started_ms = sup_now_ms();
	sl->hb = 0;
	sl->hb_check_ms = 0;
	sl->killed = false;
	pid = fork();
	if (pid < 0) {
		sup_err("fork shard %u: %s; trying again in %u ms", q, strerror(errno),
			sl->backoff_ms);
		sl->respawn_at_ms = sl->started_ms + sl->backoff_ms;
		return;
	}
	if (pid == 0) {
		child_setup(sp, q, parent);
		shard_main(sp, q, node); /* does not return */
	}
	sl->pid = pid;
	blk->sup.pid = pid;
	blk->sup.started_ns = realtime_ns();
}

static void slot_stopped(struct sup *sp, unsigned q)
{
	struct xts_shm_shard *blk = xts_shm_shard(sp->shm, q);

	sp->slot[q].pid = 0;
	blk->sup.pid = 0;
	blk->sup.state = XTS_SHARD_STOPPED;
}

/*
 * Only our slots' pids, each by its pid: a waitpid(-1) would also take a
 * child that is not a shard's, and signalling a pid after it was reaped
 * may hit an unrelated process that got the number since.
 */
void sup_reap(struct sup *sp, long long now)
{
	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		struct sup_slot *sl = &sp->slot[q];
		pid_t pid = sl->pid;
		int status;

		if (pid <= 0 || waitpid(pid, &status, WNOHANG) != pid)
			continue;
		slot_stopped(sp, q);
		if (sp->stop_asked)
			continue;
		if (now - sl->started_ms >= BACKOFF_RESET_MS)
			sl->backoff_ms = BACKOFF_MIN_MS; /* it ran well: a fresh start */
		sup_warn("shard %u (pid %d) %s %d; restart in %u ms", q, pid,
			 WIFSIGNALED(status) ? "killed by signal" : "exited",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
			 sl->backoff_ms);
		sl->respawn_at_ms = now + sl->backoff_ms;
		sl->backoff_ms =
		    sl->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : sl->backoff_ms * 2;
	}
}

/* Read a small /proc file of task pid into buf: its length, or 0. */
static size_t proc_read(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[48];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n > 0 ? (size_t)n : 0;
}

/* The CPU time task pid has had, in ns (the first field of schedstat). */
static uint64_t cpu_ns(pid_t pid)
{
	unsigned long long on_cpu;
	char buf[128];

	return proc_read(pid, "schedstat", buf, sizeof(buf)) && sscanf(buf, "%llu", &on_cpu) == 1
		   ? on_cpu
		   : 0;
}

/* Task pid's state letter (R: on a CPU or waiting for one; S, D, T...),
 * or '?' when /proc does not say. */
static char proc_state(pid_t pid)
{
	char buf[512], *p;

	/* "pid (comm) S ...": the comm may hold anything, so after its ')' */
	if (!proc_read(pid, "stat", buf, sizeof(buf)) || !(p = strrchr(buf, ')')) || p[1] != ' ' ||
	    !p[2])
		return '?';
	return p[2];
}

/*
 * The hang watchdog, for one running shard: when to look again.
 *
 * A shard refreshes run.heartbeat_ns (CLOCK_MONOTONIC) well inside
 * timeouts.hang_ms while it runs.  Hung: the heartbeat is older than
 * hang_ms and the shard did not spend that time waiting for a CPU.  A
 * stopped shard (state T), one asleep on a lock that never comes (S, D)
 * or one spinning (R, and on a CPU: its CPU time grew by at least an
 * eighth of the stall) is hung; one that is runnable but hardly got a CPU
 * since its last beat (a real-time task hogs its CPU, the machine is
 * overloaded) is late, not stuck, and killing it would only reset its
 * connections: it is looked at again later.  The kernel's run delay
 * (/proc/PID/schedstat) would say the same only once the wait is over.
 * The CPU time is sampled when the heartbeat is seen to move (every
 * hang_ms / 4 at most), so CPU time used just before that look counts as
 * spinning: the error is on the side of killing.
 */
static long long watch(struct sup *sp, unsigned q, long long now)
{
	struct sup_slot *sl = &sp->slot[q];
	struct xts_shm_shard *b = xts_shm_shard(sp->shm, q);
	uint64_t hang_ns = (uint64_t)sp->cfg->hang_ms * 1000000ull, hb, now_ns, stalled, ran;
	char state, wchan[64];
	long long step = sp->cfg->hang_ms / 4 ? sp->cfg->hang_ms / 4 : 1;

	if (!hang_ns || sl->killed)
		return SUP_NEVER;
	if (now < sl->hb_check_ms)
		return sl->hb_check_ms;
	sl->hb_check_ms = now + step;
	hb = __atomic_load_n(&b->run.heartbeat_ns, __ATOMIC_RELAXED);
	/* what a dead predecessor left is not this shard's beat */
	if (__atomic_load_n(&b->run.pid, __ATOMIC_ACQUIRE) != sl->pid ||
	    hb < (uint64_t)sl->started_ms * 1000000ull)
		return sl->hb_check_ms;
	if (hb != sl->hb) {
		sl->hb = hb;
		sl->hb_cpu_ns = cpu_ns(sl->pid);
	}
	now_ns = mono_ns();
	stalled = now_ns > hb ? now_ns - hb : 0;
	if (stalled < hang_ns) {
		sl->hb_check_ms =
		    now + min_ll(step, (long long)((hang_ns - stalled) / 1000000) + 1);
		return sl->hb_check_ms;
	}
	ran = cpu_ns(sl->pid) - sl->hb_cpu_ns;
	state = proc_state(sl->pid);
	if (state == 'R' && ran < stalled / 8) {
		sup_dbg("shard %u (pid %d): no heartbeat for %llu ms, but waiting for a CPU", q,
			sl->pid, (unsigned long long)(stalled / 1000000));
		return sl->hb_check_ms;
	}
	/* where it sleeps, for whoever reads why it was killed */
	if (!proc_read(sl->pid, "wchan", wchan, sizeof(wchan)) || !strcmp(wchan, "0"))
		snprintf(wchan, sizeof(wchan), "-");
	sup_warn("shard %u (pid %d) hung: no heartbeat for %llu ms (%llu ms on a CPU, state %c, "
		 "in %s); killing it",
		 q, sl->pid, (unsigned long long)(stalled / 1000000),
		 (unsigned long long)(ran / 1000000), state, wchan);
	kill(sl->pid, SIGKILL); /* not reaped yet: still our child */
	sl->killed = true;
	return SUP_NEVER;
}

long long sup_procs_run(struct sup *sp, long long now)
{
	long long next = SUP_NEVER;

	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		struct sup_slot *sl = &sp->slot[q];

		if (!sl->pid && sl->respawn_at_ms && !sp->stop_asked && now >= sl->respawn_at_ms) {
			sl->respawn_at_ms = 0;
			xts_shm_shard(sp->shm, q)->sup.restarts++;
			sup_spawn(sp, q);
			if (sl->pid > 0)
				sup_info("shard %u restarted (pid %d, restart %u)", q, sl->pid,
					 xts_shm_shard(sp->shm, q)->sup.restarts);
		}
		if (!sl->pid && sl->respawn_at_ms && !sp->stop_asked)
			next = min_ll(next, sl->respawn_at_ms);
		if (sl->pid > 0)
			next = min_ll(next, watch(sp, q, now));
	}
	return next;
}

void sup_stop_shards(struct sup *sp)
{
	long long deadline = sup_now_ms() + STOP_WAIT_MS;
	unsigned nq = sp->cfg->queues;
	bool any;

	for (unsigned q = 0; q < nq; q++)
		if (sp->slot[q].pid > 0)
			kill(sp->slot[q].pid, SIGTERM);
	do {
		any = false;
		for (unsigned q = 0; q < nq; q++) {
			pid_t pid = sp->slot[q].pid;
			pid_t r = pid > 0 ? waitpid(pid, NULL, WNOHANG) : 0;

			if (pid > 0 && (r == pid || (r < 0 && errno == ECHILD)))
				slot_stopped(sp, q); /* reaped: never signalled again */
			else if (pid > 0)
				any = true;
		}
		if (any)
			usleep(10 * 1000);
	} while (any && sup_now_ms() < deadline);
	for (unsigned q = 0; q < nq; q++) {
		pid_t pid = sp->slot[q].pid;

		if (pid <= 0)
			continue;
		sup_warn("shard %u (pid %d) did not stop within %d ms: SIGKILL", q, pid,
			 STOP_WAIT_MS);
		kill(pid, SIGKILL); /* not reaped: still ours */
		waitpid(pid, NULL, 0);
		slot_stopped(sp, q);
	}
}

unsigned sup_active_conns(struct sup *sp)
{
	unsigned n = 0;

	for (unsigned q = 0; q < sp->cfg->queues; q++)
		if (sp->slot[q].pid > 0)
			n += (unsigned)__atomic_load_n(&xts_shm_shard(sp->shm, q)->cnt.conns_active,
						       __ATOMIC_RELAXED);
	return n;
}

/* xtsd's view until the shard itself says it runs (its run.pid is the
 * live pid). */
uint32_t sup_shard_state(struct sup *sp, unsigned q)
{
	struct xts_shm_shard *b = xts_shm_shard(sp->shm, q);

	if (!sp->slot[q].pid)
		return sp->slot[q].respawn_at_ms ? XTS_SHARD_STARTING : XTS_SHARD_STOPPED;
	if (__atomic_load_n(&b->run.pid, __ATOMIC_ACQUIRE) != sp->slot[q].pid)
		return XTS_SHARD_STARTING;
	return __atomic_load_n(&b->run.state, __ATOMIC_ACQUIRE);
}

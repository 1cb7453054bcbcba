// SPDX-License-Identifier: BSD-2-Clause
/*
 * xtsd - the XTS supervisor on the DPU.
 *
 * Reads xts.conf, creates the shared-memory control plane (xts_shm.h),
 * attaches the XDP program to the interface, forks one shard per queue
 * (pinned to its CPUs, its memory on its NUMA node), restarts a shard that
 * dies (with backoff; the new shard starts a new epoch and says so with a
 * QRESET, so only that queue's host sockets see ECONNRESET) and serves the
 * ctl socket (sup_ctl.c).  SIGTERM (or `xtsctl stop`): drain every shard
 * for at most timeouts.drain_ms, stop the shards, detach the program,
 * exit.  SIGINT: the same without the drain.
 * Signal handlers only set flags (nginx-style); the main loop does the work.
 */
#define _GNU_SOURCE /* memfd_create, CPU_SET */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <numa.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shard.h"
#include "sup.h"
#include "xts_xdp_loader.h"

#define EXIT_CONFIG    2
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 5000

static volatile sig_atomic_t stop_flag, drain_flag, child_flag;

static void on_term(int sig)
{
	(void)sig;
	drain_flag = 1; /* drain first; the main loop stops after */
}

static void on_int(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_child(int sig)
{
	(void)sig;
	child_flag = 1;
}

long long sup_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xtsd [-c FILE] [-t] [-h]\n"
		   "  -c, --config FILE  configuration (default /etc/xts/xts.conf)\n"
		   "  -t, --test         check the configuration and exit\n"
		   "  -h, --help         this text\n");
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

static pid_t spawn_shard(struct sup *sp, unsigned q)
{
	struct xts_shm_shard *blk = xts_shm_shard(sp->shm, q);
	const struct cfg *c = sp->cfg;
	struct shard_opts so;
	int cpu, node;
	pid_t pid;

	placement(c, q, &cpu, &node);
	blk->sup.cpu = cpu;
	blk->sup.node = node;
	blk->sup.state = XTS_SHARD_STARTING;
	pid = fork();
	if (pid) {
		if (pid > 0) {
			blk->sup.pid = pid;
			blk->sup.started_ns = realtime_ns();
		}
		return pid; /* parent, or -1 */
	}
	/* child: default signals, die with the supervisor */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGINT, SIG_IGN); /* the supervisor decides; SIGTERM stops us */
	{
		struct sigaction sa = {.sa_handler = on_int};

		sigaction(SIGTERM, &sa, NULL);
	}
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sup_ctl_close(sp);
	place_self(c, q, node);
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
	stop_flag = 0;
	so.stop = &stop_flag;
	so.log = sup_log;
	_exit(shard_run(&so) ? 1 : 0);
}

static int shm_create(struct sup *sp)
{
	struct xts_shm_cfg *snap;
	int fd;

	sp->shm_size = xts_shm_size(sp->cfg->queues) + sup_reg_bytes(sp->cfg);
	fd = memfd_create("xts-ctl", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)sp->shm_size)) {
		close(fd);
		return -errno;
	}
	/* MAP_SHARED before fork: every shard inherits this very mapping */
	sp->shm = mmap(NULL, sp->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (sp->shm == MAP_FAILED)
		return -errno;
	xts_shm_format(sp->shm, sp->cfg->queues);
	if (sup_reg_format(sp->shm, sp->cfg))
		return -EINVAL;
	snap = calloc(1, sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	sp->gen = 1;
	cfg_to_shm(sp->cfg, sp->gen, snap);
	xts_shm_cfg_publish(xts_shm_cfg(sp->shm), snap);
	((struct xts_shm_hdr *)sp->shm)->generation = sp->gen;
	free(snap);
	return 0;
}

int sup_reload(struct sup *sp, char *err, size_t errlen)
{
	struct xts_shm_cfg *snap;
	char why[CFG_ERR_LEN];
	struct cfg *next;
	int rc;

	next = malloc(sizeof(*next));
	snap = calloc(1, sizeof(*snap));
	if (!next || !snap) {
		free(next);
		free(snap);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = cfg_load(sp->file, next, why);
	if (!rc)
		rc = cfg_reloadable(sp->start, next, why);
	if (rc) {
		snprintf(err, errlen, "%s", why);
		sup_warn("reload refused, configuration generation %llu stays: %s",
			 (unsigned long long)sp->gen, why);
		free(next);
		free(snap);
		return rc;
	}
	/* a whole new generation, published at once; shards take it between
	 * loop rounds (seqlock), connections stay as they are */
	*sp->cfg = *next;
	sp->gen++;
	cfg_to_shm(sp->cfg, sp->gen, snap);
	xts_shm_cfg_publish(xts_shm_cfg(sp->shm), snap);
	__atomic_store_n(&((struct xts_shm_hdr *)sp->shm)->generation, sp->gen, __ATOMIC_RELEASE);
	sup_log_level((int)sp->cfg->run.log_level);
	sup_info("configuration generation %llu in force (%s)", (unsigned long long)sp->gen,
		 sp->file);
	free(next);
	free(snap);
	return 0;
}

static unsigned active_conns(struct sup *sp)
{
	unsigned n = 0;

	for (unsigned q = 0; q < sp->cfg->queues; q++)
		if (sp->slot[q].pid > 0)
			n += (unsigned)__atomic_load_n(&xts_shm_shard(sp->shm, q)->cnt.conns_active,
						       __ATOMIC_RELAXED);
	return n;
}

static void reap(struct sup *sp, long long now)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned q = 0; q < sp->cfg->queues; q++) {
			struct sup_slot *sl = &sp->slot[q];
			struct xts_shm_shard *blk = xts_shm_shard(sp->shm, q);

			if (sl->pid != pid)
				continue;
			sl->pid = 0;
			blk->sup.pid = 0;
			blk->sup.state = XTS_SHARD_STOPPED;
			if (stop_flag)
				continue;
			sup_warn("shard %u (pid %d) %s %d; restart in %u ms", q, pid,
				 WIFSIGNALED(status) ? "killed by signal" : "exited",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
				 sl->backoff_ms);
			sl->respawn_at_ms = now + sl->backoff_ms;
			sl->backoff_ms *= 2;
			if (sl->backoff_ms > BACKOFF_MAX_MS)
				sl->backoff_ms = BACKOFF_MAX_MS;
		}
	}
}

/*
 * A shard's loop refreshes its heartbeat every turn (at least every
 * 10 ms).  One that stands still for timeouts.hang_ms is stuck (a loop
 * that never ends, a lock that never comes, SIGSTOP): kill it, and the
 * reaper restarts it as it would a crashed one, with a new epoch that
 * tells its hosts at once.
 */
static void watch_hangs(struct sup *sp, long long now)
{
	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		struct sup_slot *sl = &sp->slot[q];
		uint64_t hb;

		if (sl->pid <= 0) {
			sl->hb_ms = 0;
			sl->hb_armed = false;
			continue;
		}
		hb =
		    __atomic_load_n(&xts_shm_shard(sp->shm, q)->run.heartbeat_ns, __ATOMIC_RELAXED);
		if (!sl->hb_ms || hb != sl->hb) {
			/* the first look takes what a dead predecessor left;
			 * only a heartbeat that moved since is this shard's */
			sl->hb_armed = sl->hb_ms != 0;
			sl->hb = hb;
			sl->hb_ms = now;
			continue;
		}
		if (!sp->cfg->hang_ms || !sl->hb_armed || now - sl->hb_ms < sp->cfg->hang_ms)
			continue;
		sup_warn("shard %u (pid %d) hung: no heartbeat for %lld ms; killing it", q, sl->pid,
			 now - sl->hb_ms);
		kill(sl->pid, SIGKILL);
		sl->hb_ms = 0; /* once: the reaper takes it from here */
		sl->hb_armed = false;
	}
}

static void stop_shards(struct sup *sp)
{
	unsigned nq = sp->cfg->queues;

	for (unsigned q = 0; q < nq; q++)
		if (sp->slot[q].pid > 0)
			kill(sp->slot[q].pid, SIGTERM);
	for (int i = 0; i < 250; i++) {
		bool any = false;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		for (unsigned q = 0; q < nq; q++)
			if (sp->slot[q].pid > 0 && kill(sp->slot[q].pid, 0) == 0)
				any = true;
		if (!any)
			break;
		usleep(20 * 1000);
	}
	for (unsigned q = 0; q < nq; q++)
		if (sp->slot[q].pid > 0 && kill(sp->slot[q].pid, SIGKILL) == 0)
			waitpid(sp->slot[q].pid, NULL, 0);
}

/* A drained shard closes its reuseport listening sockets; with
 * tcp_migrate_req the kernel moves the connections queued on them to a
 * sibling's socket instead of resetting them.  Per network namespace;
 * best effort (older kernels lack it): say so and go on. */
static void migrate_requests(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_migrate_req", "w");
	int ok = f && fputs("1\n", f) >= 0;

	if (f && fclose(f))
		ok = 0;
	if (!ok)
		sup_warn("net.ipv4.tcp_migrate_req: %s: a drained shard's queued connections "
			 "will be reset",
			 strerror(errno));
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"test", no_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static struct sup sp; /* the slot table is large: not on the stack */
	static struct cfg cur, start;
	const char *file = "/etc/xts/xts.conf";
	char err[CFG_ERR_LEN];
	struct xts_xdp_maps maps;
	struct sigaction sa;
	int opt, ifindex, rc;
	bool test = false, draining = false;

	while ((opt = getopt_long(argc, argv, "c:th", lopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_CONFIG;
		}
	}
	rc = cfg_load(file, &cur, err);
	if (rc) {
		fprintf(stderr, "xtsd: %s\n", err);
		return EXIT_CONFIG;
	}
	if (test) {
		printf("xtsd: %s: configuration OK (%s, %u queues)\n", file, cur.interface,
		       cur.queues);
		return 0;
	}
	sp.file = file;
	sp.cfg = &cur;
	start = cur;
	sp.start = &start;
	sp.table_conns = cur.run.max_conns;
	sp.ctl_fd = -1;
	sp.stop = &drain_flag; /* xtsctl stop: as SIGTERM */
	sup_log_init(cur.log_target);
	sup_log_level((int)cur.run.log_level);

	ifindex = (int)if_nametoindex(cur.interface);
	if (!ifindex) {
		sup_err("interface %s: %s", cur.interface, strerror(errno));
		return 1;
	}
	if (mkdir(cur.run_dir, 0755) && errno != EEXIST) {
		sup_err("run_dir %s: %s", cur.run_dir, strerror(errno));
		return 1;
	}
	rc = shm_create(&sp);
	if (rc) {
		sup_err("shared memory (%zu bytes): %s", sp.shm_size, strerror(-rc));
		return 1;
	}
	rc = sup_ctl_open(&sp);
	if (rc)
		return 1; /* said why */
	rc = xts_xdp__attach(ifindex, &maps);
	if (rc) {
		sup_err("attach XDP program to %s: %s", cur.interface, strerror(-rc));
		sup_ctl_close(&sp);
		return 1;
	}
	sp.map_fd = maps.xsks_map_fd;
	migrate_requests();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_int;
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (unsigned q = 0; q < cur.queues; q++) {
		sp.slot[q].backoff_ms = BACKOFF_MIN_MS;
		sp.slot[q].started_ms = sup_now_ms();
		sp.slot[q].pid = spawn_shard(&sp, q);
		if (sp.slot[q].pid < 0)
			sup_err("fork shard %u: %s", q, strerror(errno));
	}
	sup_info("%u shards on %s (pid %d, numa %s, ctl %s)", cur.queues, cur.interface, getpid(),
		 numa_available() < 0 ? "unavailable" : "available", cur.ctl_path);

	while (!stop_flag) {
		long long now = sup_now_ms();
		struct pollfd pfd = {.fd = sp.ctl_fd, .events = POLLIN};

		reap(&sp, now);
		child_flag = 0;
		for (unsigned q = 0; q < cur.queues; q++) {
			struct sup_slot *sl = &sp.slot[q];

			if (sl->pid || !sl->respawn_at_ms || now < sl->respawn_at_ms)
				continue;
			sl->respawn_at_ms = 0;
			xts_shm_shard(sp.shm, q)->sup.restarts++;
			sl->started_ms = now;
			sl->pid = spawn_shard(&sp, q);
			if (sl->pid > 0)
				sup_info("shard %u restarted (pid %d, restart %u)", q, sl->pid,
					 xts_shm_shard(sp.shm, q)->sup.restarts);
		}
		watch_hangs(&sp, now);
		/* a shard that stays up 10 s earns its backoff back */
		for (unsigned q = 0; q < cur.queues; q++)
			if (sp.slot[q].pid > 0 && now - sp.slot[q].started_ms > 10000)
				sp.slot[q].backoff_ms = BACKOFF_MIN_MS;
		if (drain_flag && !draining) {
			draining = true;
			sp.drain_deadline_ms = now + cur.drain_ms;
			for (unsigned q = 0; q < cur.queues; q++)
				__atomic_store_n(&xts_shm_shard(sp.shm, q)->sup.drain, 1,
						 __ATOMIC_RELEASE);
			sup_info("draining before stop (%u connections, at most %u ms)",
				 active_conns(&sp), cur.drain_ms);
		}
		if (draining) {
			unsigned left = active_conns(&sp);

			if (!left || now >= sp.drain_deadline_ms) {
				if (left)
					sup_warn("drain timeout: %u connections left", left);
				stop_flag = 1;
				break;
			}
		}
		if (poll(&pfd, sp.ctl_fd >= 0 ? 1 : 0, 20) > 0)
			sup_ctl_serve(&sp);
	}

	sup_info("stopping");
	stop_shards(&sp);
	sup_ctl_close(&sp);
	unlink(cur.ctl_path); /* the supervisor's, never a forked shard's job */
	xts_xdp__detach(ifindex);
	xts_xdp__maps_close(&maps);
	munmap(sp.shm, sp.shm_size);
	return 0;
}

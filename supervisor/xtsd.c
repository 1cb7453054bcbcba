// SPDX-License-Identifier: BSD-2-Clause
/*
 * xtsd - the XTS supervisor on the DPU.
 *
 * Reads xts.conf, takes run_dir's lock (one xtsd per run_dir), creates the
 * shared-memory control plane (xts_shm.h), attaches the XDP program to the
 * interface, forks one shard per queue (sup_proc.c), restarts a shard that
 * dies or hangs, and serves the ctl socket (sup_ctl.c, sup_cmd.c).
 *
 * One thread, one epoll (sup.h): signals arrive on a signalfd, and the
 * loop sleeps until the nearest of its deadlines (a restart due, the hang
 * watchdog, the drain, a ctl client), never on a tick.
 *   SIGTERM, xtsctl stop: drain every shard for at most timeouts.drain_ms,
 *                         then stop the shards, detach, remove the socket
 *   SIGINT:               the same without the drain
 *   SIGQUIT:              as SIGTERM (nginx's graceful stop)
 *   SIGHUP, xtsctl reload: re-read xts.conf (a bad one changes nothing)
 *   SIGSEGV and friends:  detach and remove the socket, then die as before
 *   SIGUSR1, SIGALRM, ...: logged and ignored (their default would kill
 *                         xtsd and leave the program and socket behind)
 */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <numa.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sup.h"
#include "sup_sd.h"
#include "tls_ctx.h"
#include "xts_version.h"
#include "xts_xdp_loader.h"

#define EXIT_CONFIG   2
#define DRAIN_POLL_MS 50 /* the shards publish their counters 20 times a second */

static long long min_ll(long long a, long long b)
{
	return a < b ? a : b;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xtsd [-c FILE] [-t] [-h] [--version]\n"
		   "  -c, --config FILE  configuration (default /etc/xts/xts.conf)\n"
		   "  -t, --test         check the configuration and exit\n"
		   "  -h, --help         this text\n"
		   "  -V, --version      print the version and exit\n");
}

int sup_ev_add(struct sup *sp, struct sup_ev *ev, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = ev};

	return epoll_ctl(sp->ep, EPOLL_CTL_ADD, ev->fd, &e);
}

int sup_ev_mod(struct sup *sp, struct sup_ev *ev, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = ev};

	return epoll_ctl(sp->ep, EPOLL_CTL_MOD, ev->fd, &e);
}

/* ---- signals ---- */

/* Faults (and their kin a limit or a sandbox sends): xtsd cleans up, then
 * dies of them as it would have. */
static const int fatal_sigs[] = {SIGSEGV, SIGBUS, SIGFPE,  SIGILL,
				 SIGABRT, SIGSYS, SIGTRAP, SIGXCPU};
/* Signals whose default action would end xtsd without its clean-up (and
 * leave the XDP program and ctl socket behind) but that mean nothing to
 * it: taken on the signalfd and logged.  SIGQUIT stops (nginx's graceful
 * stop); the real-time signals are added in signals_init(). */
static const int ignored_sigs[] = {
    SIGUSR1,   SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGPOLL, SIGPWR,
#ifdef SIGSTKFLT
    SIGSTKFLT,
#endif
};
#define NFATAL (sizeof(fatal_sigs) / sizeof(fatal_sigs[0]))
static struct sigaction fatal_old[NFATAL]; /* what was there before (ASan's) */

/* What a crashing xtsd takes down (set once everything is up). */
static struct {
	volatile sig_atomic_t armed;
	int ifindex;
	char ctl_path[sizeof(((struct cfg *)0)->ctl_path)];
} crash;

/*
 * xtsd itself crashed.  Its shards follow (PDEATHSIG); the XDP program
 * and the ctl socket would stay behind, pointing at a dead process, until
 * an operator or the next xtsd cleaned them up.  unlink() is
 * async-signal-safe; the detach is a netlink exchange through libbpf,
 * best effort from a dying process.  Then the old action (the default, or
 * a sanitizer's report) takes over: a fault repeats when the handler
 * returns, a signal that was sent is sent again.
 */
static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (crash.armed) {
		crash.armed = 0;
		unlink(crash.ctl_path);
		xts_xdp__detach(crash.ifindex);
	}
	for (unsigned i = 0; i < NFATAL; i++)
		if (fatal_sigs[i] == sig)
			sigaction(sig, &fatal_old[i], NULL);
	/* a fault repeats on return and meets the old action; anything
	 * else (sent by kill or abort, a trap, a limit, seccomp) does not */
	if (si->si_code <= 0 || (sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE && sig != SIGILL))
		raise(sig);
}

void sup_child_signals(void)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, dfl = {.sa_handler = SIG_DFL};

	for (unsigned i = 0; i < NFATAL; i++)
		sigaction(fatal_sigs[i], &fatal_old[i], NULL);
	/* xtsd decides (a terminal sends these to the whole group); SIGTERM
	 * stops a shard */
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGQUIT, &ign, NULL);
	sigaction(SIGHUP, &ign, NULL);
	sigaction(SIGCHLD, &dfl, NULL);
}

void sup_stop(struct sup *sp, long long now)
{
	if (sp->stop_asked)
		return;
	sp->stop_asked = true; /* no more restarts */
	sp->draining = true;
	sp->drain_deadline_ms = now + sp->cfg->drain_ms;
	sup_sd_stopping(sp->cfg->drain_ms);
	for (unsigned q = 0; q < sp->cfg->queues; q++) {
		__atomic_store_n(&xts_shm_shard(sp->shm, q)->sup.drain, 1, __ATOMIC_RELEASE);
		sup_notify(sp, q);
	}
	sup_info("draining before stop (%u connections, at most %u ms)", sup_active_conns(sp),
		 sp->cfg->drain_ms);
}

static void on_signal(struct sup *sp, struct sup_ev *ev, uint32_t events)
{
	struct signalfd_siginfo si;
	char err[CFG_ERR_LEN + 64];

	(void)events;
	while (read(ev->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			sup_reap(sp, sup_now_ms());
			break;
		case SIGTERM:
		case SIGQUIT:
			sup_stop(sp, sup_now_ms());
			break;
		case SIGINT:
			sp->stop_asked = sp->stop_now = true;
			sup_sd_stopping(0);
			break;
		case SIGHUP:
			sup_info("SIGHUP: reloading %s", sp->file);
			sup_reload(sp, err, sizeof(err), NULL); /* logs either way */
			break;
		default:
			sup_warn("signal %u (%s) ignored", si.ssi_signo,
				 strsignal((int)si.ssi_signo));
			break;
		}
	}
}

static int signals_init(struct sup *sp)
{
	struct sigaction sa = {.sa_sigaction = on_fatal, .sa_flags = SA_SIGINFO};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	for (unsigned i = 0; i < sizeof(ignored_sigs) / sizeof(ignored_sigs[0]); i++)
		sigaddset(&set, ignored_sigs[i]);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigaddset(&set, s);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	/* a log file past RLIMIT_FSIZE: its writes fail (EFBIG), xtsd lives */
	signal(SIGXFSZ, SIG_IGN);
	sp->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	sp->sig.fn = on_signal;
	if (sp->sig.fd < 0 || sup_ev_add(sp, &sp->sig, EPOLLIN))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	for (unsigned i = 0; i < NFATAL; i++)
		sigaction(fatal_sigs[i], &sa, &fatal_old[i]);
	return 0;
}

/* ---- configuration ---- */

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
	if (sp->shm == MAP_FAILED) {
		sp->shm = NULL;
		return -errno;
	}
	xts_shm_format(sp->shm, sp->cfg->queues);
	if (sup_reg_format(sp->shm, sp->cfg))
		return -EINVAL;
	snap = calloc(1, sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	sp->gen = 1;
	/* TLS session ticket keys, the same for every shard (a client resumes
	 * on whichever shard reuseport gives it), for xtsd's lifetime */
	if (getrandom(sp->cfg->run.tkey, sizeof(sp->cfg->run.tkey), 0) !=
	    (ssize_t)sizeof(sp->cfg->run.tkey)) {
		free(snap);
		return -EIO;
	}
	cfg_to_shm(sp->cfg, sp->gen, snap);
	xts_shm_cfg_publish(xts_shm_cfg(sp->shm), snap);
	((struct xts_shm_hdr *)sp->shm)->generation = sp->gen;
	free(snap);
	return 0;
}

static uint64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int reload(struct sup *sp, char *err, size_t errlen, struct ctl_buf *diff)
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
	if (!rc)
		sup_cfg_sums(next);
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
	memcpy(next->run.tkey, sp->cfg->run.tkey, sizeof(next->run.tkey)); /* tickets resume */
	if (!sup_cfg_diff(sp->cfg, next, diff))
		sup_info("reload: no option changed");
	*sp->cfg = *next;
	sp->gen++;
	cfg_to_shm(sp->cfg, sp->gen, snap);
	xts_shm_cfg_publish(xts_shm_cfg(sp->shm), snap);
	__atomic_store_n(&((struct xts_shm_hdr *)sp->shm)->generation, sp->gen, __ATOMIC_RELEASE);
	for (unsigned q = 0; q < sp->cfg->queues; q++)
		sup_notify(sp, q);
	sup_log_level((int)sp->cfg->run.log_level);
	sup_info("configuration generation %llu in force (%s)", (unsigned long long)sp->gen,
		 sp->file);
	free(next);
	free(snap);
	return 0;
}

/* The service manager hears of it (RELOADING=1, then READY=1). */
int sup_reload(struct sup *sp, char *err, size_t errlen, struct ctl_buf *diff)
{
	int rc;

	sup_sd_reloading();
	rc = reload(sp, err, errlen, diff);
	sup_sd_reloaded(sp->gen, rc ? err : NULL);
	/* for status and the metrics */
	sp->last_reload_ms = realtime_ms();
	sp->last_reload_failed = rc != 0;
	if (rc)
		sp->reloads_failed++;
	else
		sp->reloads_ok++;
	return rc;
}

/* ---- start and stop ---- */

/*
 * One xtsd per run_dir: an flock() on run_dir/xtsd.pid, taken before
 * anything else is touched.  A second xtsd with the same configuration
 * would otherwise replace the first one's ctl socket, fight over the
 * queues (its shards restarting forever on EBUSY) and, when it stopped,
 * detach the first one's XDP program.  The kernel drops the lock when
 * xtsd dies, however it dies, so a stale file never blocks a restart (a
 * connect() probe of the ctl socket would race between two starting
 * xtsds and says nothing about a wedged one).  The file is left in place
 * at exit: unlinking a lock file races with the next locker.
 */
static int take_lock(struct sup *sp)
{
	char path[sizeof(sp->cfg->run_dir) + 16], pid[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/xtsd.pid", sp->cfg->run_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		sup_err("%s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno;

		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		if (err == EWOULDBLOCK)
			sup_err("another xtsd (pid %s) runs with run_dir %s: not starting "
				"(it holds %s)",
				*pid ? pid : "?", sp->cfg->run_dir, path);
		else
			sup_err("flock %s: %s", path, strerror(err));
		close(fd);
		return -EEXIST;
	}
	if (ftruncate(fd, 0) || dprintf(fd, "%d\n", (int)getpid()) < 0)
		sup_warn("%s: %s", path, strerror(errno));
	sp->lock_fd = fd;
	return 0;
}

/*
 * One xtsd per interface, too: a second xtsd with another run_dir on the
 * same interface would take over the first one's XDP program (an attach
 * reuses the one it finds: that is how a restarted xtsd recovers), its
 * shards would restart forever on queues already bound, and its stop
 * would detach the first one's program.  The lock is an abstract unix
 * socket named after the ifindex: abstract names belong to the network
 * namespace, as interfaces do (two xtsds in two namespaces never meet),
 * and the kernel frees the name the moment xtsd dies, however it dies.
 */
static int take_iface(struct sup *sp)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	/* sun_path[0] = 0: abstract */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			  (size_t)snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
					   "xtsd/ifindex/%d", sp->ifindex));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		sup_err("interface lock: socket: %s", strerror(errno));
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&sun, len)) {
		int err = errno;

		if (err == EADDRINUSE)
			sup_err("another xtsd serves interface %s (ifindex %d) in this network "
				"namespace: not starting",
				sp->cfg->interface, sp->ifindex);
		else
			sup_err("interface lock: bind: %s", strerror(err));
		close(fd);
		return -EEXIST;
	}
	sp->iface_fd = fd;
	return 0;
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

static int start_up(struct sup *sp, struct xts_xdp_maps *maps)
{
	const struct cfg *c = sp->cfg;
	int rc;

	if (mkdir(c->run_dir, 0755) && errno != EEXIST) {
		sup_err("run_dir %s: %s", c->run_dir, strerror(errno));
		return -errno;
	}
	rc = take_lock(sp);
	if (rc)
		return rc;
	sp->ifindex = (int)if_nametoindex(c->interface);
	if (!sp->ifindex) {
		sup_err("interface %s: %s", c->interface, strerror(errno));
		return -ENODEV;
	}
	rc = take_iface(sp);
	if (rc)
		return rc;
	rc = shm_create(sp);
	if (rc) {
		sup_err("shared memory (%zu bytes): %s", sp->shm_size, strerror(-rc));
		return rc;
	}
	sp->ep = epoll_create1(EPOLL_CLOEXEC);
	rc = sp->ep < 0 ? -errno : signals_init(sp);
	if (!rc)
		rc = sup_slots_init(sp);
	if (rc) {
		sup_err("epoll, signalfd, eventfd: %s", strerror(-rc));
		return rc;
	}
	rc = sup_ctl_open(sp);
	if (rc)
		return rc; /* said why */
	sp->ctl_bound = true;
	rc = sup_metrics_open(sp);
	if (rc)
		return rc; /* said why */
	rc = xts_xdp__attach(sp->ifindex, maps);
	if (rc) {
		sup_err("attach XDP program to %s: %s", c->interface, strerror(-rc));
		return rc;
	}
	sp->attached = true;
	sp->map_fd = maps->xsks_map_fd;
	crash.ifindex = sp->ifindex;
	snprintf(crash.ctl_path, sizeof(crash.ctl_path), "%s", c->ctl_path);
	crash.armed = 1;
	migrate_requests();
	for (unsigned q = 0; q < c->queues; q++)
		sup_spawn(sp, q);
	sup_info("%u shards on %s (pid %d, version %s, numa %s, ctl %s)", c->queues, c->interface,
		 getpid(), XTS_VERSION, numa_available() < 0 ? "unavailable" : "available",
		 c->ctl_path);
	sup_log_started();
	return 0;
}

/* Undo what start_up() did, as far as it got. */
static void finish(struct sup *sp, struct xts_xdp_maps *maps)
{
	crash.armed = 0;
	sup_stop_shards(sp);
	sup_ctl_close(sp);
	sup_metrics_close(sp);
	if (sp->ctl_bound)
		unlink(sp->cfg->ctl_path); /* the supervisor's, never a forked shard's job */
	if (sp->attached)
		xts_xdp__detach(sp->ifindex);
	xts_xdp__maps_close(maps);
	if (sp->shm)
		munmap(sp->shm, sp->shm_size);
	if (sp->lock_fd >= 0 && ftruncate(sp->lock_fd, 0))
		sup_warn("%s/xtsd.pid: %s", sp->cfg->run_dir, strerror(errno));
}

/* While stopping: drained (or out of time)?  The next look, or now. */
static long long drain_run(struct sup *sp, long long now)
{
	unsigned left;

	if (!sp->draining || sp->stop_now)
		return SUP_NEVER;
	left = sup_active_conns(sp);
	if (left && now < sp->drain_deadline_ms)
		return min_ll(now + DRAIN_POLL_MS, sp->drain_deadline_ms);
	if (left)
		sup_warn("drain timeout: %u connections left", left);
	sp->stop_now = true;
	return now;
}

static void run(struct sup *sp)
{
	struct epoll_event evs[32];
	long long now = sup_now_ms();

	for (;;) {
		long long next = sup_procs_run(sp, now);
		int n, timeout;

		next = min_ll(next, sup_ctl_run(sp, now));
		next = min_ll(next, drain_run(sp, now));
		next = min_ll(next, sup_sd_run(sp, now));
		if (sp->stop_now)
			return;
		timeout = next == SUP_NEVER ? -1
			  : next <= now	    ? 0
					    : (int)min_ll(next - now, INT_MAX);
		n = epoll_wait(sp->ep, evs, sizeof(evs) / sizeof(evs[0]), timeout);
		if (n < 0 && errno != EINTR) {
			sup_err("epoll_wait: %s", strerror(errno));
			return;
		}
		now = sup_now_ms();
		for (int i = 0; i < n; i++) {
			struct sup_ev *ev = evs[i].data.ptr;

			ev->fn(sp, ev, evs[i].events);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"test", no_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	static struct sup sp; /* the slot table is large: not on the stack */
	static struct cfg cur, first;
	struct xts_xdp_maps maps = {.xsks_map_fd = -1, .stats_map_fd = -1};
	const char *file = "/etc/xts/xts.conf";
	char err[CFG_ERR_LEN];
	int opt, rc;
	bool test = false;

	sup_title_init(argc, argv); /* first: it moves argv's strings */
	/* before OpenSSL's first allocation (profiles are checked at load):
	 * the shards' tls_mem gauge counts what it holds */
	if (tls_mem_account())
		fprintf(stderr,
			"xtsd: OpenSSL allocated before xtsd counted it: tls_mem stays 0\n");
	while ((opt = getopt_long(argc, argv, "c:thV", lopts, NULL)) != -1) {
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
		case 'V':
			printf("xtsd %s\n", XTS_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xtsd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return EXIT_CONFIG;
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
	sup_cfg_sums(&cur);
	sp.file = file;
	sp.cfg = &cur;
	first = cur;
	sp.start = &first;
	sp.table_conns = cur.run.max_conns;
	sp.map_fd = sp.lock_fd = sp.iface_fd = sp.ep = sp.sig.fd = sp.ctl.fd = -1;
	for (unsigned q = 0; q < CFG_MAX_QUEUES; q++)
		sp.slot[q].efd = -1;
	sup_log_init(cur.log_target);
	sup_log_level((int)cur.run.log_level);
	rc = start_up(&sp, &maps);
	if (!rc) {
		run(&sp);
		sup_info("stopping");
	}
	finish(&sp, &maps);
	return rc ? 1 : 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * xportd - the host's queue broker (docs/operations.md, "xportd").
 *
 *   xportd [-c FILE]                 run (in the foreground)
 *   xportd -t [-c FILE]              check FILE, exit 0 or 2
 *   xportd [-c FILE | -s SOCKET] status|socks [--pid P] [--json]
 *
 * It owns the host interface's XDP program and every queue's AF_XDP
 * socket, and leases queues to unprivileged programs over a unix socket
 * (xts_lease.h).  It never detaches the program while a lease lives, and
 * a stop (SIGTERM, SIGINT) leaves live leases running: their lessees hand
 * them to the next xportd (renew), as after a crash.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "sd_notify.h"
#include "xpd_record.h"
#include "xportd.h"
#include "xpd_cli.h"
#include "xts_log.h"
#include "xts_version.h"
#include "xts_xdp_loader.h"

#define DEFAULT_CONF "/etc/xts/xportd.conf"

void xpd_log_init(const char *target, int level)
{
	xts_log_level(level);
	xts_log_open("xportd", !strcmp(target, "syslog"), false);
}

void xpd_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xts_vlog(level, fmt, ap);
	va_end(ap);
}

long long xpd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int xpd_ev_add(struct xpd *d, struct xpd_ev *ev, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = ev};

	return epoll_ctl(d->ep, EPOLL_CTL_ADD, ev->fd, &e) ? -errno : 0;
}

int xpd_ev_mod(struct xpd *d, struct xpd_ev *ev, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = ev};

	return epoll_ctl(d->ep, EPOLL_CTL_MOD, ev->fd, &e) ? -errno : 0;
}

void xpd_ev_del(struct xpd *d, struct xpd_ev *ev)
{
	epoll_ctl(d->ep, EPOLL_CTL_DEL, ev->fd, NULL);
}

static void on_signal(struct xpd *d, struct xpd_ev *ev, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(ev->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			d->stop = true;
}

/* One xportd per run_dir: a second one would fight over the socket. */
static int lock_run_dir(struct xpd *d)
{
	char path[300];

	mkdir(d->cfg->run_dir, 0755);
	snprintf(path, sizeof(path), "%s/xportd.pid", d->cfg->run_dir);
	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (d->lock_fd < 0) {
		xpd_err("%s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB)) {
		xpd_err("%s: another xportd runs with this run_dir", path);
		return -EEXIST;
	}
	if (ftruncate(d->lock_fd, 0) == 0)
		dprintf(d->lock_fd, "%d\n", (int)getpid());
	return 0;
}

static int setup(struct xpd *d)
{
	struct xts_xdp_maps maps;
	struct stat st;
	sigset_t mask;
	int err;

	d->lsn.fd = d->sig.fd = d->lock_fd = d->xsks_map_fd = -1;
	if ((err = lock_run_dir(d)))
		return err;
	if (!stat("/proc/self/ns/net", &st))
		d->netns_ino = (unsigned long)st.st_ino;
	d->ifindex = (int)if_nametoindex(d->cfg->interface);
	if (!d->ifindex || xts_link__if_info(d->cfg->interface, d->mac, &d->mtu)) {
		xpd_err("interface %s: %s", d->cfg->interface, strerror(errno));
		return -ENODEV;
	}
	err = xts_xdp__attach(d->ifindex, &maps);
	if (err) {
		xpd_err("XDP program on %s: %s", d->cfg->interface, strerror(-err));
		return err;
	}
	d->xsks_map_fd = maps.xsks_map_fd;
	maps.xsks_map_fd = -1;
	xts_xdp__maps_close(&maps);
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d->sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->sig.fn = on_signal;
	if (d->ep < 0 || d->sig.fd < 0 || xpd_ev_add(d, &d->sig, EPOLLIN))
		return -errno;
	xpd_records_scan(d);
	xpd_queues_scan(d);
	err = xpd_srv_open(d);
	return err ? err : xpd_metrics_open(d);
}

static void teardown(struct xpd *d)
{
	uint32_t live = 0;

	/* live leases stay: their lessees keep working and renew with the
	 * next xportd; our copies of their sockets simply close */
	for (uint32_t q = 0; q < d->cfg->queues; q++)
		live += d->q[q].st == XQ_LEASED;
	xpd_srv_close(d);
	xpd_metrics_close(d);
	if (!live && d->ifindex > 0 && xts_xdp__detach(d->ifindex) == 0)
		xpd_info("XDP program detached from %s", d->cfg->interface);
	else if (live)
		xpd_info("%u lease%s live: the XDP program stays on %s", live, live == 1 ? "" : "s",
			 d->cfg->interface);
	if (d->xsks_map_fd >= 0)
		close(d->xsks_map_fd);
	if (d->sig.fd >= 0)
		close(d->sig.fd);
	if (d->ep >= 0)
		close(d->ep);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
}

/* The service manager (Type=notify): logged if it fails, never fatal. */
#define notify(...)                                                                                \
	do {                                                                                       \
		int rc_ = xts_sd_notify(__VA_ARGS__);                                              \
		if (rc_ < 0)                                                                       \
			xpd_warn("sd_notify: %s", strerror(-rc_));                                 \
	} while (0)

static int run(const char *file, struct xpd_cfg *cfg)
{
	static struct xpd d;
	struct epoll_event evs[32];

	d.file = file;
	d.cfg = cfg;
	d.ep = -1;
	xpd_log_init(cfg->log_target, (int)cfg->log_level);
	if (setup(&d)) {
		teardown(&d);
		return 1;
	}
	xpd_info("%s: %u queues on %s, socket %s", XTS_VERSION, cfg->queues, cfg->interface,
		 cfg->sock_path);
	/* the socket listens: a lessee started after us is served */
	notify("READY=1\nSTATUS=%u queues on %s, socket %s", cfg->queues, cfg->interface,
	       cfg->sock_path);
	while (!d.stop) {
		long long now = xpd_now_ms(), next = xpd_srv_run(&d, now);
		int tmo = next == XPD_NEVER ? -1 : next <= now ? 0 : (int)(next - now);
		int n = epoll_wait(d.ep, evs, 32, tmo);

		/* a lease or client slot that ends in this batch is not
		 * freed or reused before the batch is over: a later event of
		 * the batch may name it (xpd_leases_reap, client_slot) */
		d.turn++;
		for (int i = 0; i < n; i++) {
			struct xpd_ev *ev = evs[i].data.ptr;

			ev->fn(&d, ev, evs[i].events);
		}
		xpd_leases_reap(&d);
	}
	xpd_info("stopping");
	notify("STOPPING=1");
	xpd_leases_reap(&d);
	teardown(&d);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xportd [-c FILE]            run the queue broker (foreground)\n"
		   "       xportd -t [-c FILE]         check FILE: exit 0, or 2 with the reason\n"
		   "       xportd [-c FILE | -s SOCKET] status [--json]\n"
		   "       xportd [-c FILE | -s SOCKET] socks [--pid P] [--json]\n"
		   "       xportd --version\n"
		   "  -c FILE     configuration (default " DEFAULT_CONF ")\n"
		   "  -s SOCKET   xportd's socket for status/socks (default: FILE's socket.path,\n"
		   "              else $" XTS_LEASE_ENV ", else " XTS_LEASE_DEFAULT_PATH ")\n");
}

int main(int argc, char **argv)
{
	static struct xpd_cfg cfg;
	const char *file = NULL, *sock = NULL;
	char err[CFG_ERR_LEN];
	bool check = false;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			file = argv[++i];
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "-t"))
			check = true;
		else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version"))
			return printf("xportd %s\n", XTS_VERSION) < 0;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage(stdout), 0;
		else
			return usage(stderr), 2;
	}
	if (i < argc) /* a command: the client side */
		return xpd_cli(file, sock, argc - i, argv + i);
	if (!file)
		file = DEFAULT_CONF;
	if (xpd_cfg_load(file, &cfg, err)) {
		fprintf(stderr, "xportd: %s\n", err);
		return 2;
	}
	if (check) {
		printf("xportd: %s: ok\n", file);
		return 0;
	}
	return run(file, &cfg);
}

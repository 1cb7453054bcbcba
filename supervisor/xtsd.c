// SPDX-License-Identifier: BSD-2-Clause
/*
 * xtsd - the XTS supervisor on the DPU.
 *
 * Reads xts.conf, attaches the XDP program to the interface, forks one shard
 * per queue and restarts a shard that dies (with backoff; the new shard
 * starts a new epoch, so only that queue's host sockets see ECONNRESET).
 * SIGTERM/SIGINT: stop the shards, detach the program, exit.
 * Signal handlers only set flags (nginx-style); the main loop does the work.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "shard.h"
#include "xts_xdp_loader.h"

#define EXIT_CONFIG 2
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 5000

struct slot {
	pid_t pid;
	unsigned restarts;
	unsigned backoff_ms;
	long long respawn_at_ms; /* 0: running or none due */
	long long started_ms;
};

static volatile sig_atomic_t stop_flag, child_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_child(int sig)
{
	(void)sig;
	child_flag = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xtsd [-c FILE] [-t] [-h]\n"
		   "  -c, --config FILE  configuration (default /etc/xts/xts.conf)\n"
		   "  -t, --test         check the configuration and exit\n"
		   "  -h, --help         this text\n");
}

static pid_t spawn_shard(const struct cfg *c, unsigned q, int map_fd)
{
	static char stats_path[300];
	struct shard_opts so;
	pid_t pid = fork();

	if (pid)
		return pid; /* parent, or -1 */
	/* child: default signals, die with the supervisor */
	signal(SIGCHLD, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	snprintf(stats_path, sizeof(stats_path), "%s/shard-%u.stats", c->run_dir, q);
	memset(&so, 0, sizeof(so));
	so.ifname = c->interface;
	so.queue = q;
	so.xsks_map_fd = map_fd;
	so.frames = c->frames;
	so.ring_size = c->ring_size;
	so.window = c->window;
	so.max_conns = c->max_conns;
	so.conn_buf = c->conn_buf;
	so.connect_timeout_ms = c->connect_ms;
	so.idle_ms = c->idle_ms;
	so.dead_ms = c->dead_host_ms;
	so.stats_path = stats_path;
	so.stop = &stop_flag;
	_exit(shard_run(&so) ? 1 : 0);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"test", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *file = "/etc/xts/xts.conf";
	char err[CFG_ERR_LEN];
	struct xts_xdp_maps maps;
	struct slot slots[CFG_MAX_QUEUES];
	struct sigaction sa;
	struct cfg c;
	int opt, ifindex, rc;
	bool test = false;

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
	rc = cfg_load(file, &c, err);
	if (rc) {
		fprintf(stderr, "xtsd: %s\n", err);
		return EXIT_CONFIG;
	}
	if (test) {
		printf("xtsd: %s: configuration OK (%s, %u queues)\n", file, c.interface, c.queues);
		return 0;
	}
	ifindex = (int)if_nametoindex(c.interface);
	if (!ifindex) {
		fprintf(stderr, "xtsd: interface %s: %s\n", c.interface, strerror(errno));
		return 1;
	}
	if (mkdir(c.run_dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "xtsd: run_dir %s: %s\n", c.run_dir, strerror(errno));
		return 1;
	}
	rc = xts_xdp__attach(ifindex, &maps);
	if (rc) {
		fprintf(stderr, "xtsd: attach XDP program to %s: %s\n", c.interface, strerror(-rc));
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(slots, 0, sizeof(slots));
	for (unsigned q = 0; q < c.queues; q++) {
		slots[q].pid = spawn_shard(&c, q, maps.xsks_map_fd);
		slots[q].backoff_ms = BACKOFF_MIN_MS;
		slots[q].started_ms = now_ms();
		if (slots[q].pid < 0)
			fprintf(stderr, "xtsd: fork shard %u: %s\n", q, strerror(errno));
	}
	fprintf(stderr, "xtsd: %u shards on %s (pid %d)\n", c.queues, c.interface, getpid());

	while (!stop_flag) {
		long long now = now_ms();
		int status;
		pid_t pid;

		/* reap, and schedule restarts with backoff */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (unsigned q = 0; q < c.queues; q++) {
				if (slots[q].pid != pid)
					continue;
				slots[q].pid = 0;
				fprintf(stderr, "xtsd: shard %u (pid %d) %s %d; restart in %u ms\n", q,
					pid, WIFSIGNALED(status) ? "killed by signal" : "exited",
					WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
					slots[q].backoff_ms);
				slots[q].respawn_at_ms = now + slots[q].backoff_ms;
				slots[q].backoff_ms *= 2;
				if (slots[q].backoff_ms > BACKOFF_MAX_MS)
					slots[q].backoff_ms = BACKOFF_MAX_MS;
			}
		}
		child_flag = 0;
		for (unsigned q = 0; q < c.queues; q++) {
			if (slots[q].pid || !slots[q].respawn_at_ms || now < slots[q].respawn_at_ms)
				continue;
			slots[q].respawn_at_ms = 0;
			slots[q].restarts++;
			slots[q].started_ms = now;
			slots[q].pid = spawn_shard(&c, q, maps.xsks_map_fd);
		}
		/* a shard that stays up 10 s earns its backoff back */
		for (unsigned q = 0; q < c.queues; q++)
			if (slots[q].pid > 0 && now - slots[q].started_ms > 10000)
				slots[q].backoff_ms = BACKOFF_MIN_MS;
		usleep(20 * 1000);
	}

	fprintf(stderr, "xtsd: stopping\n");
	for (unsigned q = 0; q < c.queues; q++)
		if (slots[q].pid > 0)
			kill(slots[q].pid, SIGTERM);
	for (int i = 0; i < 250; i++) {
		bool any = false;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		for (unsigned q = 0; q < c.queues; q++)
			if (slots[q].pid > 0 && kill(slots[q].pid, 0) == 0)
				any = true;
		if (!any)
			break;
		usleep(20 * 1000);
	}
	for (unsigned q = 0; q < c.queues; q++)
		if (slots[q].pid > 0 && kill(slots[q].pid, SIGKILL) == 0)
			waitpid(slots[q].pid, NULL, 0);
	xts_xdp__detach(ifindex);
	xts_xdp__maps_close(&maps);
	return 0;
}

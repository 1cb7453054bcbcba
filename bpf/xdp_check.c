// SPDX-License-Identifier: BSD-2-Clause
/*
 * xdp_check.c - xts-xdp-check: attach the XTS XDP program to an interface
 * (or reuse the one attached), print its id and counters, or detach it.
 * Used by the integration tests and handy for an operator; run it inside
 * the namespace that holds the interface (ip netns exec xts-dpu ...).
 *
 * Output, one record a line, for scripts:
 *	prog_id 42
 *	queue 0 xts_frames 0 xts_bytes 0 no_socket 0 redirect_err 0 passed 7
 *	total xts_frames 0 xts_bytes 0 no_socket 0 redirect_err 0 passed 19
 * "total" sums every queue: which rx queue a frame lands on depends on the
 * sender's tx queue choice, so tests count on the total.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xts_xdp_loader.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: xts-xdp-check [--find] [--queue Q] IFNAME\n"
		   "       xts-xdp-check --detach IFNAME\n"
		   "  (default)   attach xts_xdp to IFNAME unless attached, print id and counters\n"
		   "  --find      do not attach; fail if xts_xdp is not attached\n"
		   "  --queue Q   print rx queue Q besides the total (default 0)\n"
		   "  --detach    detach xts_xdp from IFNAME (only ours)\n");
}

static void print_stats(const char *label, const struct xts_xdp_stats *st)
{
	printf("%s xts_frames %" PRIu64 " xts_bytes %" PRIu64 " no_socket %" PRIu64
	       " redirect_err %" PRIu64 " passed %" PRIu64 "\n",
	       label, (uint64_t)st->xts_frames, (uint64_t)st->xts_bytes, (uint64_t)st->no_socket,
	       (uint64_t)st->redirect_err, (uint64_t)st->passed);
}

static int report(const struct xts_xdp_maps *maps, __u32 queue)
{
	struct xts_xdp_stats st, total;
	char label[32];
	__u32 q;
	int err;

	memset(&total, 0, sizeof(total));
	printf("prog_id %u\n", maps->prog_id);
	for (q = 0; q < XTS_XDP_MAX_QUEUES; q++) {
		err = xts_xdp__read_stats(maps, q, &st);
		if (err) {
			fprintf(stderr, "xts-xdp-check: read_stats(queue %u): %s\n", q,
				strerror(-err));
			return err;
		}
		if (q == queue) {
			snprintf(label, sizeof(label), "queue %u", q);
			print_stats(label, &st);
		}
		total.xts_frames += st.xts_frames;
		total.xts_bytes += st.xts_bytes;
		total.no_socket += st.no_socket;
		total.redirect_err += st.redirect_err;
		total.passed += st.passed;
	}
	print_stats("total", &total);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"detach", no_argument, NULL, 'd'},
	    {"find", no_argument, NULL, 'f'},
	    {"queue", required_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct xts_xdp_maps maps;
	bool detach = false, find = false;
	unsigned long queue = 0;
	unsigned int ifindex;
	const char *ifname;
	char *end;
	int c, err;

	while ((c = getopt_long(argc, argv, "dfq:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			detach = true;
			break;
		case 'f':
			find = true;
			break;
		case 'q':
			errno = 0;
			queue = strtoul(optarg, &end, 0);
			if (errno || *end || end == optarg || queue >= XTS_XDP_MAX_QUEUES) {
				fprintf(stderr, "xts-xdp-check: bad queue '%s' (0..%u)\n", optarg,
					XTS_XDP_MAX_QUEUES - 1);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || (detach && find)) {
		usage(stderr);
		return 2;
	}
	ifname = argv[optind];
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "xts-xdp-check: %s: %s\n", ifname, strerror(errno));
		return 1;
	}

	if (detach) {
		err = xts_xdp__detach(ifindex);
		if (err) {
			fprintf(stderr, "xts-xdp-check: detach(%s): %s\n", ifname, strerror(-err));
			return 1;
		}
		return 0;
	}

	err = find ? xts_xdp__find(ifindex, &maps) : xts_xdp__attach(ifindex, &maps);
	if (err) {
		fprintf(stderr, "xts-xdp-check: %s(%s): %s\n", find ? "find" : "attach", ifname,
			strerror(-err));
		return 1;
	}
	err = report(&maps, queue);
	xts_xdp__maps_close(&maps);
	return err ? 1 : 0;
}

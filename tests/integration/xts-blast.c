// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-blast - a sustained blast of small messages through one queue, then
 * a check that nothing was lost on the way: no AF_XDP rx drops or ring
 * overruns on either side, and the two ends' queue sequence counters agree.
 *
 *   xts-blast [-i IF] [-q Q] [-n MSGS] [-m BYTES] -S STATS_CMD HOST PORT
 *
 * The server echoes (socat ... EXEC:cat); every message is one xport_send,
 * so one DATA frame per message on the way out.  STATS_CMD prints the
 * shard's counters as "KEY VALUE" lines (xtsctl stats --shard Q).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stats_cmd.h"
#include "xport.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "xts-blast: %s: %s\n", what, strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	const char *ifname = "xh0", *stats = NULL;
	unsigned queue = 0, msgs = 200000, size = 64;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct xport_stats hs;
	struct xport *xp;
	char buf[65536], msg[1024];
	unsigned long long sent = 0, got = 0, total;
	double t0, t1;
	int opt, sd, err, bad = 0;

	while ((opt = getopt(argc, argv, "i:q:n:m:S:")) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'q':
			queue = (unsigned)atoi(optarg);
			break;
		case 'n':
			msgs = (unsigned)atoi(optarg);
			break;
		case 'm':
			size = (unsigned)atoi(optarg);
			break;
		case 'S':
			stats = optarg;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 2 || !stats || !size || size > sizeof(msg)) {
		fprintf(stderr, "usage: xts-blast [-i IF] [-q Q] [-n MSGS] [-m BYTES] -S STATS_CMD "
				"HOST PORT\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[optind], &sin.sin_addr) != 1)
		return die("address", EINVAL);
	sin.sin_port = htons((unsigned short)atoi(argv[optind + 1]));
	err = xport_open(&xp, ifname, queue, NULL);
	if (err)
		return die("xport_open", -err);
	sd = xport_socket(xp, AF_INET, SOCK_STREAM, 0);
	if (sd < 0 || xport_connect(xp, sd, (struct sockaddr *)&sin, sizeof(sin)))
		return die("connect", errno);
	xport_set_nonblock(xp, sd, 1);
	for (unsigned i = 0; i < size; i++)
		msg[i] = (char)('a' + i % 26);
	total = (unsigned long long)msgs * size;
	t0 = now_s();
	/* Keep sending while draining the echo; bounded by 120 s. */
	while ((sent < total || got < total) && now_s() - t0 < 120) {
		struct xport_pollfd p = {.sd = sd, .events = POLLIN};
		ssize_t n;

		if (sent < total) {
			p.events |= POLLOUT;
			/* a partial send (credit ran short) resumes mid-message,
			 * so the stream stays the repeating pattern */
			unsigned off = (unsigned)(sent % size);

			n = xport_send(xp, sd, msg + off, size - off, 0);
			if (n > 0)
				sent += (unsigned long long)n;
			else if (n < 0 && errno != EAGAIN)
				return die("send", errno);
		}
		while ((n = xport_recv(xp, sd, buf, sizeof(buf), 0)) > 0) {
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] !=
				    (char)('a' + (got + (unsigned long long)i) % size % 26))
					bad++;
			got += (unsigned long long)n;
		}
		if (n == 0)
			break;
		if (n < 0 && errno != EAGAIN)
			return die("recv", errno);
		if (sent >= total || n < 0)
			xport_poll(xp, &p, 1, sent >= total ? 100 : 0);
	}
	t1 = now_s();
	if (got != total || bad) {
		fprintf(stderr, "xts-blast: echoed %llu of %llu bytes, %d wrong\n", got, total,
			bad);
		return 1;
	}
	/* Quiet for a moment: acks settle and the shard publishes its counters. */
	for (int i = 0; i < 15; i++) {
		struct xport_pollfd p = {.sd = sd, .events = POLLIN};

		xport_poll(xp, &p, 1, 100);
	}
	xport_stats(xp, &hs, sizeof(hs));
	{
		long long d_tx = stats_cmd_get(stats, "tx_seq"),
			  d_rx = stats_cmd_get(stats, "rx_seq");
		long long d_drop = stats_cmd_get(stats, "xsk_rx_dropped");
		long long d_full = stats_cmd_get(stats, "xsk_rx_ring_full");
		long long d_gaps = stats_cmd_get(stats, "seq_gaps");

		printf("xts-blast: %u messages of %u B echoed in %.2f s (%.0f msg/s each way)\n",
		       msgs, size, t1 - t0, msgs / (t1 - t0));
		printf(
		    "host: tx_seq %u rx_seq %u peer_ack %u xsk_rx_dropped %llu rx_ring_full %llu "
		    "seq_gaps %llu\n",
		    hs.tx_seq, hs.rx_seq, hs.peer_ack, (unsigned long long)hs.xsk_rx_dropped,
		    (unsigned long long)hs.xsk_rx_ring_full, (unsigned long long)hs.seq_gaps);
		printf("dpu:  tx_seq %lld rx_seq %lld xsk_rx_dropped %lld rx_ring_full %lld "
		       "seq_gaps %lld\n",
		       d_tx, d_rx, d_drop, d_full, d_gaps);
		if (d_tx < 0 || d_rx != (long long)hs.tx_seq || d_tx != (long long)hs.rx_seq) {
			fprintf(stderr, "xts-blast: sequence counters disagree\n");
			return 1;
		}
		if (hs.xsk_rx_dropped || hs.xsk_rx_ring_full || d_drop || d_full || d_gaps ||
		    hs.seq_gaps) {
			fprintf(stderr, "xts-blast: frames were dropped\n");
			return 1;
		}
	}
	xport_close(xp, sd);
	err = xport_close_queue(xp);
	if (err)
		return die("xport_close_queue", -err);
	return 0;
}

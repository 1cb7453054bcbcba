// SPDX-License-Identifier: BSD-2-Clause
/*
 * raw.c - the ceiling: XTS frames over the same veth queue with nothing
 * above the link (xts_link, the code both ends of XTS share: UMEM, rings,
 * window and acks), no TCP, no proxy.
 *
 *   xts-bench raw echo   [-i xd0] [-q Q]      DPU side: echo or consume
 *   xts-bench raw client [-i xh0] [-q Q] -w pingpong|blast [-s SIZE]
 *                        [-t SECONDS] -n NAME
 *
 * A HELLO/HELLO_ACK pair starts a session (epoch fixed), so that each
 * client run begins at sequence 0 on both ends.  DATA with dst_id 1 is
 * echoed, dst_id 2 only consumed (and acked).
 */
#include <errno.h>
#include <endian.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "link.h"

#define EPOCH	    0x5eed
#define BATCH	    64
#define MAX_SAMPLES (4u << 20)

static struct xts_link *open_link(const char *ifname, unsigned q)
{
	struct xts_link_opts o = {.sz = sizeof(o), .xsks_map_fd = -1, .attach = true};
	struct xts_link *l;
	int err;

	for (int i = 0; i < 100; i++) { /* EBUSY while a previous owner goes */
		err = xts_link__create(&l, ifname, q, &o);
		if (err != -EBUSY)
			break;
		usleep(20000);
	}
	if (err)
		bench_die("xts_link__create", -err);
	return l;
}

static void wait_rx(struct xts_link *l, int ms)
{
	struct pollfd p = {.fd = xts_link__fd(l), .events = POLLIN};

	/* acks at half the window, as XTS itself does: no ack per sleep */
	xts_link__flush(l, false);
	poll(&p, 1, ms);
}

static void hello_payload(struct xts_link *l, struct xts_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->min_version = h->max_version = htole16(XTS_PROTO_VERSION);
	h->window = htole32(xts_link__window(l));
	h->max_frame = htole32(xts_link__max_frame(l));
}

static int raw_echo(const char *ifname, unsigned q)
{
	struct xts_link *l = open_link(ifname, q);
	struct xts_msg m[BATCH];
	struct xts_hello h;

	for (;;) {
		int n = xts_link__rx(l, m, BATCH);

		for (int i = 0; i < n; i++) {
			if (m[i].op == XTS_OP_HELLO) {
				memcpy(&h, m[i].payload, sizeof(h));
				xts_link__session(l, EPOCH, le32toh(h.window), le32toh(h.max_frame),
						  m[i].src_mac);
				hello_payload(l, &h);
				xts_link__send(l, XTS_OP_HELLO_ACK, 0, 0, 0, 0, &h, sizeof(h));
			} else if (m[i].op == XTS_OP_DATA && m[i].dst_id == 1) {
				while (xts_link__send(l, XTS_OP_DATA, 0, 1, 0, 0, m[i].payload,
						      m[i].len) == -EAGAIN)
					xts_link__flush(l, true); /* window: ping-pong never */
			}
		}
		xts_link__rx_done(l);
		if (n)
			xts_link__flush(l, false);
		else
			wait_rx(l, 10);
	}
	return 0;
}

static void hello(struct xts_link *l)
{
	struct xts_msg m[BATCH];
	struct xts_hello h;
	uint64_t dl = bench_now_ns() + 3000000000ull;

	while (bench_now_ns() < dl) {
		hello_payload(l, &h);
		xts_link__send(l, XTS_OP_HELLO, 0, 0, 0, 0, &h, sizeof(h));
		xts_link__flush(l, false);
		for (int t = 0; t < 10; t++) {
			int n = xts_link__rx(l, m, BATCH);

			for (int i = 0; i < n; i++) {
				if (m[i].op != XTS_OP_HELLO_ACK)
					continue;
				memcpy(&h, m[i].payload, sizeof(h));
				xts_link__session(l, EPOCH, le32toh(h.window), le32toh(h.max_frame),
						  m[i].src_mac);
				xts_link__rx_done(l);
				return;
			}
			xts_link__rx_done(l);
			wait_rx(l, 10);
		}
	}
	bench_die("raw: no HELLO_ACK from `xts-bench raw echo`", ETIMEDOUT);
}

static int raw_client(const char *ifname, unsigned q, const char *wl, unsigned size, double secs,
		      const char *name)
{
	struct xts_link *l = open_link(ifname, q);
	struct xts_msg m[BATCH];
	uint64_t t0, t, end, ops = 0;
	char buf[4096];
	double cpu0;

	if (size > 3000)
		size = 3000;
	memset(buf, 'w', sizeof(buf));
	hello(l);
	cpu0 = bench_cpu_s();
	t0 = bench_now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	if (!strcmp(wl, "pingpong")) {
		uint64_t *lat = calloc(MAX_SAMPLES, sizeof(*lat));

		for (t = t0; t < end; ops++) {
			uint64_t s = t;
			bool got = false;

			if (xts_link__send(l, XTS_OP_DATA, 0, 1, 0, 0, buf, size))
				bench_die("raw send", EAGAIN);
			xts_link__flush(l, false);
			while (!got) {
				int n = xts_link__rx(l, m, BATCH);

				for (int i = 0; i < n; i++)
					got |= m[i].op == XTS_OP_DATA;
				xts_link__rx_done(l);
				if (!got) {
					if (xts_link__broken(l))
						bench_die("raw: sequence gap", EPROTO);
					wait_rx(l, 100);
				}
			}
			t = bench_now_ns();
			if (ops < MAX_SAMPLES)
				lat[ops] = t - s;
		}
		printf("%s.ops_s %.6g\n", name, (double)ops / ((double)(t - t0) / 1e9));
		printf("%s.cpu_us_per_op %.6g\n", name, (bench_cpu_s() - cpu0) * 1e6 / (double)ops);
		bench_print_lat(name, lat, ops < MAX_SAMPLES ? ops : MAX_SAMPLES);
		free(lat);
	} else {
		__u32 txs, rxs, pa;

		for (t = t0; t < end;) {
			while (xts_link__tx_room(l) &&
			       !xts_link__send(l, XTS_OP_DATA, 0, 2, 0, 0, buf, size))
				ops++;
			xts_link__flush(l, false);
			if (!xts_link__rx(l, m, BATCH) && !xts_link__tx_room(l))
				wait_rx(l, 100);
			xts_link__rx_done(l);
			t = bench_now_ns();
		}
		/* counted once the peer has consumed every frame */
		do {
			xts_link__rx(l, m, BATCH);
			xts_link__rx_done(l);
			xts_link__seq_state(l, &txs, &rxs, &pa);
			if (pa != txs)
				wait_rx(l, 10);
		} while (pa != txs && bench_now_ns() < end + 2000000000ull);
		t = bench_now_ns();
		printf("%s.ops_s %.6g\n", name, (double)ops / ((double)(t - t0) / 1e9));
		printf("%s.cpu_us_per_op %.6g\n", name, (bench_cpu_s() - cpu0) * 1e6 / (double)ops);
	}
	xts_link__flush(l, false);
	xts_link__destroy(l);
	return 0;
}

int bench_raw_main(int argc, char **argv)
{
	const char *ifname = NULL, *wl = "pingpong", *name = "raw";
	unsigned q = 0, size = 64;
	double secs = 3;
	int opt;

	if (argc < 2) {
		fprintf(stderr, "usage: xts-bench raw echo|client ...\n");
		return 2;
	}
	optind = 2;
	while ((opt = getopt(argc, argv, "i:q:w:s:t:n:")) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'q':
			q = (unsigned)atoi(optarg);
			break;
		case 'w':
			wl = optarg;
			break;
		case 's':
			size = (unsigned)atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'n':
			name = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!strcmp(argv[1], "echo"))
		return raw_echo(ifname ? ifname : "xd0", q);
	if (!strcmp(argv[1], "client"))
		return raw_client(ifname ? ifname : "xh0", q, wl, size, secs, name);
	fprintf(stderr, "xts-bench raw: echo or client\n");
	return 2;
}

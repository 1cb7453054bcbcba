// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_link_hello.c - protocol 2's HELLO exchange as libxport lives it,
 * over the in-memory pair: libxport (xp_open_link, the real engine) on
 * link "a", a scripted shard on link "b" in a thread of its own.  A
 * version 2 HELLO_ACK starts a session whose first sequenced frame carries
 * the host ISN it named; a refusal in version 1's layout is
 * EPROTONOSUPPORT at once (not a timeout), HELLO_ACK's err is the errno
 * xport_open returns; an answer to another nonce is no answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "link_harness.h"
#include "xport_int.h"

#define SHARD_EPOCH 0x0badcafeu
#define HOST_ISN    0xfffffff0u /* wraps within the test */
#define DPU_ISN	    0x13572468u

enum answer { ANSWER_V2, ANSWER_V1_REFUSAL, ANSWER_EBUSY, ANSWER_WRONG_NONCE };

struct shard {
	struct xts_link *l;
	enum answer how;
	int hellos;	 /* HELLOs seen */
	int hello_bad;	 /* HELLOs not in version 1's frame with versions 2..2 */
	__u32 first_seq; /* of the host's first sequenced frame */
	bool got_seq;
	int stop;
};

static void answer(struct shard *sh, const struct xts_msg *m)
{
	struct xts_hello h;
	struct xts_hello_ack a = {0};
	size_t len = sizeof(a);
	__u32 epoch = 0;

	memcpy(&h, m->payload, sizeof(h));
	sh->hellos++;
	if (m->version != 1 || m->len != sizeof(h) || le16toh(h.min_version) != 2 ||
	    le16toh(h.max_version) != 2)
		sh->hello_bad++;
	a.min_version = a.max_version = htole16(XTS_PROTO_VERSION);
	a.window = htole32(xts_link__window(sh->l));
	a.max_frame = htole32(xts_link__max_frame(sh->l));
	a.nonce = sh->how == ANSWER_WRONG_NONCE ? h.nonce ^ 1 : h.nonce;
	switch (sh->how) {
	case ANSWER_V2:
		a.host_isn = htole32(HOST_ISN);
		a.dpu_isn = htole32(DPU_ISN);
		xts_link__session(sh->l, SHARD_EPOCH, le32toh(h.window), le32toh(h.max_frame),
				  m->src_mac);
		xts_link__isn(sh->l, DPU_ISN, HOST_ISN);
		epoch = SHARD_EPOCH;
		break;
	case ANSWER_V1_REFUSAL:
		/* what a version 1 shard with a live session says to us: its
		 * versions, in its layout, stamped with its live epoch */
		a.min_version = a.max_version = htole16(1);
		len = sizeof(struct xts_hello);
		epoch = SHARD_EPOCH;
		break;
	case ANSWER_EBUSY:
		a.err = (__s32)htole32(EBUSY);
		break;
	case ANSWER_WRONG_NONCE:
		break;
	}
	assert_int_equal(xts_link__send_to(sh->l, m->src_mac, epoch, XTS_OP_HELLO_ACK, &a, len), 0);
	xts_link__flush(sh->l, false);
}

static void *shard_run(void *arg)
{
	struct shard *sh = arg;
	struct xts_msg m[BATCH];

	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = {.fd = xts_link__fd(sh->l), .events = POLLIN};
		int n = xts_link__rx(sh->l, m, BATCH);

		for (int i = 0; i < n; i++) {
			if (m[i].op == XTS_OP_HELLO)
				answer(sh, &m[i]);
			else if (!(m[i].flags & XTS_F_NOSEQ) && !sh->got_seq) {
				sh->first_seq = m[i].seq;
				__atomic_store_n(&sh->got_seq, true, __ATOMIC_RELEASE);
			}
		}
		xts_link__rx_done(sh->l);
		xts_link__flush(sh->l, false);
		if (!n)
			poll(&p, 1, 10);
	}
	return NULL;
}

/* libxport opens over link a while the scripted shard answers on b. */
static int open_against(enum answer how, struct shard *sh, pthread_t *t, struct xport **xp,
			int hello_ms)
{
	struct xts_link *a;
	struct xport_opts o = {.sz = sizeof(o), .hello_timeout_ms = hello_ms};

	memset(sh, 0, sizeof(*sh));
	sh->how = how;
	assert_int_equal(xts_link__create_pair(&a, &sh->l, &small), 0);
	assert_int_equal(pthread_create(t, NULL, shard_run, sh), 0);
	return xp_open_link(xp, a, &o); /* takes a, whatever happens */
}

static void shard_stop(struct shard *sh, pthread_t t)
{
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	xts_link__destroy(sh->l);
}

static void test_v2_session_isn(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7)};
	struct xport *xp = NULL;
	struct shard sh;
	pthread_t t;
	int sd;

	(void)state;
	assert_int_equal(open_against(ANSWER_V2, &sh, &t, &xp, 2000), 0);
	assert_int_equal(xts_link__epoch(xp->link), SHARD_EPOCH);
	/* the first sequenced frame (a CONNECT) carries the host ISN */
	sin.sin_addr.s_addr = htonl(0xc6120002);
	sd = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(sd >= 0);
	assert_int_equal(xport_connect(xp, sd, (struct sockaddr *)&sin, sizeof(sin)), -1);
	assert_int_equal(errno, EINPROGRESS);
	for (int i = 0; i < 200 && !__atomic_load_n(&sh.got_seq, __ATOMIC_ACQUIRE); i++)
		poll(NULL, 0, 10);
	assert_true(sh.got_seq);
	assert_int_equal(sh.first_seq, HOST_ISN);
	assert_int_equal(sh.hello_bad, 0);
	xport_close_queue(xp);
	shard_stop(&sh, t);
}

static void test_v1_refusal(void **state)
{
	struct xport *xp = NULL;
	struct shard sh;
	pthread_t t;

	(void)state;
	/* a 10 s attach timeout: a refusal must not wait for it */
	assert_int_equal(open_against(ANSWER_V1_REFUSAL, &sh, &t, &xp, 10000), -EPROTONOSUPPORT);
	assert_int_equal(sh.hellos, 1);
	assert_int_equal(sh.hello_bad, 0);
	shard_stop(&sh, t);
}

static void test_err_ebusy(void **state)
{
	struct xport *xp = NULL;
	struct shard sh;
	pthread_t t;

	(void)state;
	assert_int_equal(open_against(ANSWER_EBUSY, &sh, &t, &xp, 10000), -EBUSY);
	assert_int_equal(sh.hellos, 1);
	shard_stop(&sh, t);
}

static void test_wrong_nonce_no_answer(void **state)
{
	struct xport *xp = NULL;
	struct shard sh;
	pthread_t t;

	(void)state;
	assert_int_equal(open_against(ANSWER_WRONG_NONCE, &sh, &t, &xp, 300), -ETIMEDOUT);
	assert_true(sh.hellos >= 1);
	shard_stop(&sh, t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v2_session_isn),
	    cmocka_unit_test(test_v1_refusal),
	    cmocka_unit_test(test_err_ebusy),
	    cmocka_unit_test(test_wrong_nonce_no_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

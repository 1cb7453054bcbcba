// SPDX-License-Identifier: BSD-2-Clause
/*
 * lease.c - libxport's side of xportd (xts_lease.h): a queue leased from
 * the host's broker instead of opened with privileges of our own.
 *
 * xport_open() asks xportd for a queue (a given one or any, waiting up to
 * lease_wait_ms), receives the bound AF_XDP socket, its UMEM memfd and a
 * shared area by SCM_RIGHTS, and runs the same link over them
 * (xts_link__adopt).  The connection to xportd stays open: it is the
 * lease, and closing it (xport_close_queue, or exiting) gives the queue
 * back; xportd then ends the session with the shard at once.
 *
 * From then on, between two rounds of the queue (xp_lease_tick), the
 * lessee publishes in the shared area what xportd's status and socks show:
 * its session (the epoch and the shard's MAC: xportd's last QRESET needs
 * them), its counters, and, when xportd asks, a snapshot of its socket
 * table.  It also watches the connection: if xportd died, it connects to
 * the next one and hands the lease over (renew), fds and all, so a
 * restarted xportd knows every live lease again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "xport_int.h"
#include "xts_ctl.h"
#include "xts_lease.h"

#define PUB_NS	 (20 * 1000000ull)  /* counters: at most 50 times a second */
#define CHECK_NS (100 * 1000000ull) /* the connection to xportd: 10 times a second */
#define RESP_MAX 4096

enum { LS_OK, LS_LOST, LS_RENEWING, LS_REFUSED };

struct xp_lease {
	int fd; /* the lease: our connection to xportd (-1: lost) */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int umem_fd, shm_fd; /* kept for a renew; the socket is the link's */
	struct xts_lease_shm *shm;
	size_t shm_size;
	uint32_t max_socks, queue, published_epoch;
	uint64_t id;
	uint8_t st;
	uint64_t next_pub_ns, next_check_ns;
	char resp[RESP_MAX]; /* a renew's answer, as it arrives */
	size_t rlen;
};

static __thread char last_error[512];

XPORT_API const char *xport_last_error(void)
{
	return last_error[0] ? last_error : NULL;
}

void xp_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

/* ---- asking ---- */

/* Connect to xportd: the fd, or -errno. */
static int lease_connect(const char *path, int flags)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Bytes (and fds, at most XTS_LEASE_NFDS) until the answer's "end". */
static int read_answer(int fd, char *buf, size_t cap, int fds[XTS_LEASE_NFDS], int *nfds)
{
	size_t len = 0;

	while (len < 4 || memcmp(buf + len - 4, "end\n", 4)) {
		char cbuf[CMSG_SPACE(sizeof(int) * XTS_LEASE_NFDS)];
		struct iovec iov = {.iov_base = buf + len, .iov_len = cap - 1 - len};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		ssize_t n;

		if (len == cap - 1)
			return -EPROTO;
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? (errno == EAGAIN ? -ETIMEDOUT : -errno) : -ECONNRESET;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t k, m = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (k = 0; cm->cmsg_type == SCM_RIGHTS && k < m; k++) {
				int f;

				memcpy(&f, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
				if (*nfds < XTS_LEASE_NFDS)
					fds[(*nfds)++] = f;
				else
					close(f);
			}
		}
		len += (size_t)n;
	}
	buf[len] = 0;
	return 0;
}

/* "ok\n" + records, or "error N MSG\n": 0, or -N with MSG kept. */
static int answer_status(char *buf, char **records)
{
	char *nl = strchr(buf, '\n'), *sp;
	int err;

	if (!nl)
		return -EPROTO;
	*nl = 0;
	*records = nl + 1;
	if (!strcmp(buf, "ok"))
		return 0;
	if (strncmp(buf, "error ", 6))
		return -EPROTO;
	err = atoi(buf + 6);
	sp = strchr(buf + 6, ' ');
	if (sp && !ctl_unescape(sp + 1))
		xp_set_error("xportd: %s", sp + 1);
	return err > 0 && err < 4096 ? -err : -EPROTO;
}

/* ---- the lease record ---- */

struct geom {
	struct xts_link_adopt a;
	uint64_t id, shm_size;
	uint32_t max_socks;
	char ifname[32];
};

static int rec_u64(const struct ctl_rec *r, const char *k, uint64_t max, uint64_t *v)
{
	const char *s = ctl_rec_get(r, k);
	char *end;

	if (!s || !ctl_is_number(s) || *s == '-')
		return -EPROTO;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end || *v > max ? -EPROTO : 0;
}

int xp_lease_geom(char *line, struct xts_link_adopt *a, uint64_t *id, uint64_t *shm_size,
		  uint32_t *max_socks, char *ifname, size_t iflen)
{
	struct ctl_rec r;
	uint64_t v[9];
	const char *mac, *ifn;
	static const char *const keys[] = {"queue",	"frames",    "frame_size",
					   "ring_size", "umem_size", "shm_size",
					   "max_socks", "mtu",	     "id"};
	static const uint64_t max[] = {255,	   1u << 20, 1u << 16, 1u << 16,  1ull << 40,
				       1ull << 36, 1u << 24, 65535,    UINT64_MAX};
	unsigned m[6];

	if (ctl_rec_parse(line, &r) || strcmp(r.type, "lease"))
		return -EPROTO;
	for (int i = 0; i < 9; i++)
		if (rec_u64(&r, keys[i], max[i], &v[i]))
			return -EPROTO;
	mac = ctl_rec_get(&r, "mac");
	ifn = ctl_rec_get(&r, "ifname");
	if (!mac || !ifn || strlen(ifn) >= iflen ||
	    sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -EPROTO;
	memset(a, 0, sizeof(*a));
	a->sz = sizeof(*a);
	a->queue = (uint32_t)v[0];
	a->frames = (uint32_t)v[1];
	a->frame_size = (uint32_t)v[2];
	a->ring_size = (uint32_t)v[3];
	a->umem_size = v[4];
	a->mtu = (uint32_t)v[7];
	for (int i = 0; i < 6; i++)
		a->mac[i] = (uint8_t)m[i];
	*shm_size = v[5];
	*max_socks = (uint32_t)v[6];
	*id = v[8];
	/* an xportd before multi-buffer frames says nothing: bound without */
	if (ctl_rec_get(&r, "sg") && rec_u64(&r, "sg", 1, &v[0]))
		return -EPROTO;
	a->sg = ctl_rec_get(&r, "sg") && v[0];
	snprintf(ifname, iflen, "%s", ifn);
	if (a->umem_size < (uint64_t)a->frames * a->frame_size ||
	    *shm_size < xts_lease_size(*max_socks))
		return -EPROTO;
	return 0;
}

/* ---- the lease ---- */

static void lease_free(struct xp_lease *ls)
{
	if (ls->shm)
		munmap(ls->shm, ls->shm_size);
	if (ls->umem_fd >= 0)
		close(ls->umem_fd);
	if (ls->shm_fd >= 0)
		close(ls->shm_fd);
	if (ls->fd >= 0)
		close(ls->fd);
	free(ls);
}

/* The link over what xportd sent, the shared area mapped. */
static int lease_build(struct xp_lease *ls, char *rec, const char *ifname, uint32_t window,
		       const int fds[XTS_LEASE_NFDS], struct xts_link **link)
{
	struct xts_link_adopt a;
	char ifn[32];
	int err;

	rec[strcspn(rec, "\n")] = 0; /* the one record; "end" follows */
	err = xp_lease_geom(rec, &a, &ls->id, &ls->shm_size, &ls->max_socks, ifn, sizeof(ifn));
	if (err) {
		xp_set_error("xportd's lease record does not parse");
		return err;
	}
	if (strcmp(ifn, ifname)) {
		xp_set_error("xportd leases queues of %s, not %s", ifn, ifname);
		return -ENODEV;
	}
	ls->shm = mmap(NULL, ls->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0);
	if (ls->shm == MAP_FAILED) {
		ls->shm = NULL;
		return -errno;
	}
	if (ls->shm->hdr.magic != XTS_LEASE_MAGIC || ls->shm->hdr.version != XTS_LEASE_VERSION)
		return -EPROTO;
	ls->queue = a.queue;
	a.xsk_fd = fds[0];
	a.umem_fd = fds[1];
	a.window = window;
	return xts_link__adopt(link, &a);
}

/* A request as the ctl wire has it (ctl_req_build: "v1", then each word
 * percent-encoded, '=' included) from plain words separated by spaces. */
static void wire_req(char *buf, size_t len, char *words)
{
	char *argv[XTS_CTL_MAX_ARGS], *save = NULL, *w;
	struct ctl_buf b = {0};
	int argc = 0;

	for (w = strtok_r(words, " ", &save); w && argc < XTS_CTL_MAX_ARGS;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	ctl_req_build(&b, argc, argv);
	snprintf(buf, len, "%s", b.err || !b.p ? "" : b.p);
	ctl_buf_free(&b);
}

/* The lease request; @netns: ours, so that an xportd of another network
 * namespace (met only at the default path) says so and we fall back. */
static void lease_req(char *buf, size_t len, unsigned queue, int wait_ms, uint32_t socks,
		      bool netns)
{
	char words[200];
	struct stat st;
	int n;

	if (queue == XPORT_QUEUE_ANY)
		n = snprintf(words, sizeof(words), "lease queue=any");
	else
		n = snprintf(words, sizeof(words), "lease queue=%u", queue);
	n += snprintf(words + n, sizeof(words) - (size_t)n, " wait_ms=%d sockets=%u",
		      wait_ms < 0 ? 0 : wait_ms, socks);
	if (netns && !stat("/proc/self/ns/net", &st))
		snprintf(words + n, sizeof(words) - (size_t)n, " netns=%llu",
			 (unsigned long long)st.st_ino);
	wire_req(buf, len, words);
}

static int xp_lease_open(const struct xp_lease_req *rq, struct xts_link **link,
			 struct xp_lease **out)
{
	struct timeval tv = {.tv_sec = (rq->wait_ms > 0 ? rq->wait_ms : 0) / 1000 + 10};
	int fds[XTS_LEASE_NFDS], nfds = 0, err, i;
	char req[256], *recs = NULL;
	struct xp_lease *ls;

	last_error[0] = 0;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	ls->umem_fd = ls->shm_fd = -1;
	snprintf(ls->path, sizeof(ls->path), "%s", rq->path);
	ls->fd = lease_connect(rq->path, 0);
	if (ls->fd < 0) {
		err = ls->fd;
		xp_set_error("xportd at %s: %s", rq->path, strerror(-err));
		ls->fd = -1;
		goto out;
	}
	/* xportd answers within the wait it was given: this only bounds a
	 * stuck one */
	setsockopt(ls->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	lease_req(req, sizeof(req), rq->queue, rq->wait_ms, rq->max_socks, !rq->named);
	if (send(ls->fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		err = -errno;
		goto out;
	}
	err = read_answer(ls->fd, ls->resp, sizeof(ls->resp), fds, &nfds);
	if (!err)
		err = answer_status(ls->resp, &recs);
	if (!err && nfds != XTS_LEASE_NFDS) {
		xp_set_error("xportd sent %d fds with the lease, %d expected", nfds,
			     XTS_LEASE_NFDS);
		err = -EPROTO;
	}
	if (!err)
		err = lease_build(ls, recs, rq->ifname, rq->window, fds, link);
	if (!err) { /* the socket is the link's now; the rest ours */
		ls->umem_fd = fds[1];
		ls->shm_fd = fds[2];
		*out = ls;
		return 0;
	}
	for (i = 0; i < nfds; i++)
		close(fds[i]);
out:
	if (err && !last_error[0])
		xp_set_error("lease from xportd at %s: %s", rq->path, strerror(-err));
	lease_free(ls);
	return err;
}

void xp_lease_close(struct xp_lease *ls)
{
	if (ls)
		lease_free(ls);
}

int xp_open_leased(struct xport **out, const char *ifname, unsigned queue,
		   const struct xport_opts *o)
{
	const char *env = getenv(XTS_LEASE_ENV);
	struct xp_lease_req rq = {
	    .path = o->xportd	  ? o->xportd
		    : env && *env ? env
				  : XTS_LEASE_DEFAULT_PATH,
	    .named = o->xportd || (env && *env),
	    .ifname = ifname,
	    .queue = queue,
	    .wait_ms = o->lease_wait_ms ? o->lease_wait_ms : o->hello_timeout_ms,
	    .max_socks = o->max_sockets,
	    .window = o->window,
	};
	struct xts_link *link = NULL;
	struct xp_lease *ls = NULL;
	int err;

	err = xp_lease_open(&rq, &link, &ls);
	if (err == -ENOENT || err == -ECONNREFUSED || err == -ENXIO)
		return rq.named ? err : 1; /* no xportd here: the caller opens directly */
	if (err)
		return err;
	err = xp_open_link(out, link, o);
	if (err) {
		xp_set_error("leased queue %u of %s: %s%s", ls->queue, ifname, strerror(-err),
			     err == -ETIMEDOUT ? " (no shard answered: is xtsd running?)" : "");
		xp_lease_close(ls);
		return err;
	}
	(*out)->lease = ls;
	(*out)->queue = ls->queue;
	xp_lease_tick(*out, xp_now_ns());
	return 0;
}

/* ---- between two rounds of the queue ---- */

static uint8_t lease_state(const struct xsock *s)
{
	switch (s->state) {
	case XS_CONNECTING:
		return XTS_LS_CONNECTING;
	case XS_CONNECTED:
		return XTS_LS_ESTABLISHED;
	case XS_DEAD:
		return XTS_LS_CLOSED;
	case XS_ZOMBIE:
	case XS_CLOSING:
		return XTS_LS_CLOSING;
	case XS_LISTEN_WAIT:
	case XS_LISTEN:
		return XTS_LS_LISTEN;
	default:
		return XTS_LS_NEW;
	}
}

/* xportd asked for our socket table (snap.req): written whole, then
 * snap.done says which request it answers. */
static void snapshot(struct xport *xp, struct xp_lease *ls, uint32_t req, uint64_t now)
{
	struct xts_lease_snap *sn = &ls->shm->snap;
	uint32_t n = 0, truncated = 0;

	for (uint32_t i = 0; i < xp->hiwater; i++) {
		const struct xsock *s = &xp->socks[i];
		struct xts_lease_sock *e;

		if (s->state == XS_FREE)
			continue;
		if (n == ls->max_socks) {
			truncated = 1;
			break;
		}
		e = &ls->shm->socks[n++];
		memset(e, 0, sizeof(*e));
		e->id = s->id;
		e->state = lease_state(s);
		e->local = s->local;
		e->peer = s->peer;
		e->tx_bytes = s->tx_bytes;
		e->rx_bytes = s->rx_bytes;
		e->snd_credit = s->snd_credit;
		e->rcv_unread = xp_unread(s);
	}
	sn->n = n;
	sn->truncated = truncated;
	sn->taken_ns = now;
	__atomic_store_n(&sn->done, req, __ATOMIC_RELEASE);
}

static void publish(struct xport *xp, struct xp_lease *ls, uint64_t now)
{
	struct xts_lease_pub *p = &ls->shm->pub;

	__atomic_store_n(&p->sockets, xp->nused, __ATOMIC_RELAXED);
	__atomic_store_n(&p->sessions, (uint32_t)xp->c.sessions, __ATOMIC_RELAXED);
	__atomic_store_n(&p->data_tx, xp->c.data_tx, __ATOMIC_RELAXED);
	__atomic_store_n(&p->data_rx, xp->c.data_rx, __ATOMIC_RELAXED);
	__atomic_store_n(&p->resets, xp->c.resets, __ATOMIC_RELAXED);
	__atomic_store_n(&p->updated_ns, now, __ATOMIC_RELAXED);
}

/* Hand the lease to a (new) xportd: the socket, the UMEM and the area go
 * with the request, so it holds its own copies again. */
static void renew_send(struct xport *xp, struct xp_lease *ls)
{
	int fds[XTS_LEASE_NFDS] = {xts_link__fd(xp->link), ls->umem_fd, ls->shm_fd};
	char req[128], words[96], cbuf[CMSG_SPACE(sizeof(fds))];
	struct iovec iov = {.iov_base = req};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int fd = lease_connect(ls->path, SOCK_NONBLOCK);

	if (fd < 0)
		return; /* no xportd yet: next check */
	snprintf(words, sizeof(words), "renew queue=%u id=%llu", ls->queue,
		 (unsigned long long)ls->id);
	wire_req(req, sizeof(req), words);
	iov.iov_len = strlen(req);
	memset(cbuf, 0, sizeof(cbuf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)iov.iov_len) {
		close(fd);
		return;
	}
	ls->fd = fd;
	ls->rlen = 0;
	ls->st = LS_RENEWING;
}

/* The renew's answer, as it comes (never waiting for it). */
static void renew_read(struct xp_lease *ls)
{
	char *recs;
	ssize_t n =
	    recv(ls->fd, ls->resp + ls->rlen, sizeof(ls->resp) - 1 - ls->rlen, MSG_DONTWAIT);
	int err;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		ls->rlen += (size_t)n;
		ls->resp[ls->rlen] = 0;
		if (ls->rlen < 4 || memcmp(ls->resp + ls->rlen - 4, "end\n", 4)) {
			if (ls->rlen < sizeof(ls->resp) - 1)
				return;
		}
	}
	err = n > 0 ? answer_status(ls->resp, &recs) : -ECONNRESET;
	if (!err) {
		ls->st = LS_OK;
		return;
	}
	close(ls->fd);
	ls->fd = -1;
	/* refused for good (the lease was ended, or another holds the
	 * queue): keep the queue, stop asking; else ask the next xportd */
	ls->st = err == -EPERM || err == -EEXIST || err == -EINVAL ? LS_REFUSED : LS_LOST;
}

/* Is xportd still there?  Its death is our connection's hang-up. */
static void watch(struct xport *xp, struct xp_lease *ls)
{
	struct pollfd p = {.fd = ls->fd, .events = POLLIN | POLLRDHUP};
	char junk[256];

	switch (ls->st) {
	case LS_OK:
		if (poll(&p, 1, 0) <= 0 || !p.revents)
			return;
		if (!(p.revents & (POLLHUP | POLLRDHUP | POLLERR)) &&
		    recv(ls->fd, junk, sizeof(junk), MSG_DONTWAIT) != 0)
			return; /* xportd says nothing on a lease: not a hang-up */
		close(ls->fd);
		ls->fd = -1;
		ls->st = LS_LOST;
		/* try the next xportd at once */
		renew_send(xp, ls);
		return;
	case LS_LOST:
		renew_send(xp, ls);
		return;
	case LS_RENEWING:
		renew_read(ls);
		return;
	default:
		return;
	}
}

void xp_lease_tick(struct xport *xp, uint64_t now)
{
	struct xp_lease *ls = xp->lease;
	struct xts_lease_pub *p = &ls->shm->pub;
	uint32_t epoch = xp_up(xp) ? xp->sess.epoch : 0;
	uint32_t req = __atomic_load_n(&ls->shm->snap.req, __ATOMIC_ACQUIRE);

	/* the session, at once: xportd's last QRESET on our behalf needs its
	 * epoch and the shard's MAC (the MAC first: epoch says it is there) */
	if (epoch != ls->published_epoch) {
		memcpy(p->peer_mac, xp->sess.peer, XTS_MAC_LEN);
		__atomic_store_n(&p->epoch, epoch, __ATOMIC_RELEASE);
		ls->published_epoch = epoch;
	}
	if (req != __atomic_load_n(&ls->shm->snap.done, __ATOMIC_RELAXED)) {
		publish(xp, ls, now);
		snapshot(xp, ls, req, now);
	}
	if (now >= ls->next_pub_ns) {
		publish(xp, ls, now);
		ls->next_pub_ns = now + PUB_NS;
	}
	if (now >= ls->next_check_ns) {
		watch(xp, ls);
		ls->next_check_ns = now + CHECK_NS;
	}
}

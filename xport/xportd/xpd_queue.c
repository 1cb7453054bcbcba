// SPDX-License-Identifier: BSD-2-Clause
/*
 * xpd_queue.c - one queue's lease: the AF_XDP socket, its UMEM and the
 * lessee's shared area, made here with the privileges a lessee lacks, and
 * the end of it.
 *
 * The UMEM is a memfd, so the lessee maps the very pages xportd
 * registered (XDP_UMEM_REG pins them against xportd's limits, not the
 * lessee's RLIMIT_MEMLOCK), sealed so that no lessee can shrink it under
 * xportd's mapping.  It holds one frame more than the lessee's link uses:
 * the last one is xportd's, for the QRESET it sends in the lessee's
 * session when the lessee dies, so the shard frees its connections at
 * once instead of after timeouts.dead_host_ms.  xportd keeps its own copy
 * of the socket for that, and never touches the rings while the lessee
 * lives.
 */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_xdp.h>
#include <bpf/bpf.h>

#include "link.h"
#include "xpd_record.h"
#include "xportd.h"

#define SEALS	 (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define MAX_XSKS 1024

static uint64_t rand64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	return v;
}

/* A memfd of @size bytes that nobody can resize, mapped shared. */
static int sealed_memfd(const char *name, uint64_t size, int *fd, void **map)
{
	*fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*fd < 0)
		return -errno;
	if (ftruncate(*fd, (off_t)size) || fcntl(*fd, F_ADD_SEALS, SEALS))
		return -errno;
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (*map == MAP_FAILED) {
		*map = NULL;
		return -errno;
	}
	return 0;
}

/* Everything a lease holds but its struct. */
static void lease_release(struct xpd_lease *ls)
{
	if (ls->xsk_fd >= 0)
		close(ls->xsk_fd);
	if (ls->umem_fd >= 0)
		close(ls->umem_fd);
	if (ls->shm_fd >= 0)
		close(ls->shm_fd);
	if (ls->umem)
		munmap(ls->umem, ls->umem_size);
	if (ls->shm)
		munmap(ls->shm, ls->shm_size);
	if (ls->pidfd.fd >= 0)
		close(ls->pidfd.fd);
	ls->xsk_fd = ls->umem_fd = ls->shm_fd = ls->pidfd.fd = -1;
	ls->umem = NULL;
	ls->shm = NULL;
}

static void lease_free(struct xpd_lease *ls)
{
	lease_release(ls);
	free(ls);
}

void xpd_leases_reap(struct xpd *d)
{
	while (d->dead) {
		struct xpd_lease *ls = d->dead;

		d->dead = ls->next_dead;
		free(ls);
	}
}

static struct xpd_lease *lease_new(uint32_t q)
{
	struct xpd_lease *ls = calloc(1, sizeof(*ls));

	if (!ls)
		return NULL;
	ls->queue = q;
	ls->xsk_fd = ls->umem_fd = ls->shm_fd = ls->pidfd.fd = -1;
	return ls;
}

/* Debian 12's uapi headers predate AF_XDP multi-buffer (Linux 6.6). */
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif

/* Why the lease's socket is bound without XDP_USE_SG: "" when the MTU
 * fits a chunk (nothing to say), a reason for the log, NULL: bind with
 * it. */
static const char *mbuf_note(const struct xpd *d, const struct xpd_lease *ls)
{
	if (!d->mtu || d->mtu + XTS_ETH_HLEN <= ls->frame_size - 256 - XTS_LINK_PAD)
		return "";
	if (xts_link__env_off(XTS_LINK_MBUF_ENV))
		return XTS_LINK_MBUF_ENV "=0";
	return NULL;
}

/* UMEM registered, rings sized, bound in copy mode on (interface, q). */
static int xsk_setup(struct xpd *d, struct xpd_lease *ls)
{
	struct xdp_umem_reg mr = {
	    .addr = (uintptr_t)ls->umem,
	    .len = ls->umem_size,
	    .chunk_size = ls->frame_size,
	    .headroom = XTS_LINK_PAD, /* the lessee's payloads 64-byte aligned (link.h) */
	};
	struct sockaddr_xdp sx = {
	    .sxdp_family = AF_XDP,
	    .sxdp_ifindex = (__u32)d->ifindex,
	    .sxdp_queue_id = ls->queue,
	    /* veth has no zero-copy AF_XDP; no need_wakeup: the lessee's
	     * sendto() is its doorbell (docs/design.md, "Copy mode") */
	    .sxdp_flags = XDP_COPY,
	};
	int n = (int)ls->ring_size;
	const char *note = mbuf_note(d, ls);

	ls->xsk_fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (ls->xsk_fd < 0)
		return -errno;
	if (setsockopt(ls->xsk_fd, SOL_XDP, XDP_UMEM_REG, &mr, sizeof(mr)) ||
	    setsockopt(ls->xsk_fd, SOL_XDP, XDP_UMEM_FILL_RING, &n, sizeof(n)) ||
	    setsockopt(ls->xsk_fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &n, sizeof(n)) ||
	    setsockopt(ls->xsk_fd, SOL_XDP, XDP_RX_RING, &n, sizeof(n)) ||
	    setsockopt(ls->xsk_fd, SOL_XDP, XDP_TX_RING, &n, sizeof(n)))
		return -errno;
	/* Multi-buffer frames as the lessee's own link would bind them
	 * (link_xdp.c): with XDP_USE_SG where the MTU passes a chunk, and
	 * without it when the kernel or driver refuses the flag. */
	ls->sg = !note;
	if (ls->sg) {
		sx.sxdp_flags = XDP_COPY | XDP_USE_SG;
		if (!bind(ls->xsk_fd, (struct sockaddr *)&sx, sizeof(sx)))
			goto bound;
		if (errno != EINVAL && errno != EOPNOTSUPP)
			return -errno;
		note = errno == EINVAL ? "bind(XDP_USE_SG): Invalid argument (kernel before 6.6?)"
				       : "bind(XDP_USE_SG): not supported by the driver";
		ls->sg = false;
		sx.sxdp_flags = XDP_COPY;
	}
	if (bind(ls->xsk_fd, (struct sockaddr *)&sx, sizeof(sx)))
		return -errno;
bound:
	if (note && *note && !d->mbuf_noted) { /* once per xportd */
		xpd_info("multi-buffer frames off: %s", note);
		d->mbuf_noted = true;
	}
	if (bpf_map_update_elem(d->xsks_map_fd, &ls->queue, &ls->xsk_fd, 0))
		return -errno;
	return 0;
}

int xpd_lease_open(struct xpd *d, uint32_t q, uint32_t max_socks, struct xpd_lease **out)
{
	struct xpd_lease *ls = lease_new(q);
	void *shm = NULL;
	int err;

	if (!ls)
		return -ENOMEM;
	ls->frames = d->cfg->frames;
	ls->frame_size = XTS_LINK_DEF_FRAME_SIZE;
	ls->ring_size = d->cfg->ring_size;
	ls->umem_size = (uint64_t)(ls->frames + 1) * ls->frame_size; /* +1: ours */
	ls->max_socks = max_socks;
	ls->shm_size = xts_lease_size(max_socks);
	err = sealed_memfd("xts-umem", ls->umem_size, &ls->umem_fd, &ls->umem);
	if (!err)
		err = xsk_setup(d, ls);
	if (!err)
		err = sealed_memfd("xts-lease", ls->shm_size, &ls->shm_fd, &shm);
	if (err) {
		lease_free(ls);
		return err;
	}
	ls->shm = shm;
	ls->id = rand64();
	ls->shm->hdr.magic = XTS_LEASE_MAGIC;
	ls->shm->hdr.version = XTS_LEASE_VERSION;
	ls->shm->hdr.size = ls->shm_size;
	ls->shm->hdr.id = ls->id;
	ls->shm->hdr.queue = q;
	ls->shm->hdr.max_socks = max_socks;
	*out = ls;
	return 0;
}

/* A memfd we made: a regular file, sealed against resizing, of @size
 * bytes (0: any), mapped shared. */
static int take_memfd(int fd, uint64_t size, void **map, uint64_t *len, const char *what, char *why,
		      size_t whylen)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || seals < 0 || (seals & SEALS) != SEALS) {
		snprintf(why, whylen, "the %s fd is not the sealed memfd xportd made", what);
		return -EINVAL;
	}
	if ((size && (uint64_t)st.st_size != size) || st.st_size <= 0) {
		snprintf(why, whylen, "the %s fd has %lld bytes, %llu expected", what,
			 (long long)st.st_size, (unsigned long long)size);
		return -EINVAL;
	}
	*len = (uint64_t)st.st_size;
	*map = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED) {
		*map = NULL;
		snprintf(why, whylen, "mmap of the %s fd: %s", what, strerror(errno));
		return -errno;
	}
	return 0;
}

/* The socket behind fd is the one the lease record of queue q names
 * (xpd_record.c): its id and the inode xportd bound; the kernel's
 * sock_diag, where there is one, must agree on the queue. */
static int xsk_verify(struct xpd *d, int fd, uint32_t q, uint64_t id, struct xpd_record *r,
		      char *why, size_t whylen)
{
	static struct xpd_xsk_info all[MAX_XSKS];
	struct stat st;
	int dom = 0, n;
	socklen_t l = sizeof(dom);

	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) || dom != AF_XDP) {
		snprintf(why, whylen, "the first fd is not an AF_XDP socket");
		return -EINVAL;
	}
	if (xpd_record_read(d, q, r)) {
		snprintf(why, whylen, "no lease of queue %u is on record in %s", q,
			 d->cfg->run_dir);
		return -EPERM;
	}
	if (r->id != id || r->ino != (uint64_t)st.st_ino) {
		snprintf(why, whylen, "that is not the lease of queue %u on record", q);
		return -EPERM;
	}
	n = xpd_diag_xsks(all, MAX_XSKS);
	for (int i = 0; i < n; i++)
		if (all[i].ino == st.st_ino &&
		    (all[i].ifindex != (uint32_t)d->ifindex || all[i].queue != q)) {
			snprintf(why, whylen, "the socket is not bound to %s queue %u",
				 d->cfg->interface, q);
			return -EPERM;
		}
	return 0;
}

int xpd_lease_adopt(struct xpd *d, uint32_t q, uint64_t id, const int fds[XTS_LEASE_NFDS],
		    struct xpd_lease **out, char *why, size_t whylen)
{
	struct xpd_lease *ls = lease_new(q);
	struct xpd_record r;
	void *shm = NULL;
	int err;

	if (!ls)
		return -ENOMEM;
	err = xsk_verify(d, fds[0], q, id, &r, why, whylen);
	if (!err)
		err =
		    take_memfd(fds[1], r.umem_size, &ls->umem, &ls->umem_size, "UMEM", why, whylen);
	if (!err)
		err = take_memfd(fds[2], 0, &shm, &ls->shm_size, "shared area", why, whylen);
	if (!err && (ls->shm_size < sizeof(struct xts_lease_shm) || !r.frame_size ||
		     r.umem_size != (uint64_t)(r.frames + 1) * r.frame_size)) {
		snprintf(why, whylen, "the shared area or the record does not fit");
		err = -EINVAL;
	}
	if (err) {
		if (shm)
			munmap(shm, ls->shm_size);
		lease_free(ls); /* fds are still the caller's: none set in ls */
		return err;
	}
	ls->shm = shm;
	ls->xsk_fd = fds[0], ls->umem_fd = fds[1], ls->shm_fd = fds[2];
	ls->frames = r.frames;
	ls->frame_size = r.frame_size;
	ls->ring_size = r.ring_size;
	/* what the area holds, not what it says it holds */
	ls->max_socks = (uint32_t)((ls->shm_size - sizeof(struct xts_lease_shm)) /
				   sizeof(struct xts_lease_sock));
	ls->id = id;
	ls->since_s = r.since_s;
	ls->renewed = true;
	*out = ls;
	return 0;
}

/* The last QRESET of a dead lessee's session, from our frame of its UMEM:
 * the shard ends the session and frees its connections now. */
static void last_qreset(struct xpd *d, struct xpd_lease *ls)
{
	uint8_t frame[XTS_PAYLOAD_OFF + sizeof(struct xts_err)];
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};
	uint8_t peer[XTS_MAC_LEN];
	struct xts_hdr *h = (struct xts_hdr *)(frame + XTS_HDR_OFF);
	uint32_t epoch = __atomic_load_n(&ls->shm->pub.epoch, __ATOMIC_ACQUIRE);
	int len, err;

	if (!epoch) /* no session, or the lessee ended it itself */
		return;
	memcpy(peer, ls->shm->pub.peer_mac, XTS_MAC_LEN);
	len = xts_proto_hdr_put(frame, sizeof(frame), peer, d->mac, XTS_OP_QRESET, 0, 0, 0, 0,
				sizeof(e));
	if (len < 0)
		return;
	h->epoch = htole32(epoch);
	memcpy(frame + XTS_PAYLOAD_OFF, &e, sizeof(e));
	err = xts_link__send_orphan(ls->xsk_fd, ls->umem, ls->umem_size, ls->ring_size,
				    (uint64_t)ls->frames * ls->frame_size, frame, (uint32_t)len);
	if (err)
		xpd_warn("queue %u: QRESET for pid %d's session failed: %s", ls->queue,
			 (int)ls->peer.pid, strerror(-err));
	else
		d->qresets_sent++;
}

void xpd_lease_end(struct xpd *d, struct xpd_lease *ls, const char *why)
{
	struct xpd_queue *xq = &d->q[ls->queue];
	long long t0 = xpd_now_ms();
	struct timespec rt, c0, c1;

	/* CPU time too: on a loaded machine the wall time is mostly waiting
	 * for a CPU, which says nothing about the work done here */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	last_qreset(d, ls);
	if (ls->pidfd.fd >= 0)
		xpd_ev_del(d, &ls->pidfd);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	/* the wall clock too: tests measure from a kill to here */
	clock_gettime(CLOCK_REALTIME, &rt);
	xpd_info("queue %u: lease of pid %d (uid %u, %s) ended: %s; held %lld ms, QRESET in %lld "
		 "ms (%lld us on CPU), free at %lld%06ld",
		 ls->queue, (int)ls->peer.pid, (unsigned)ls->peer.uid, ls->comm, why,
		 t0 - ls->since_ms, xpd_now_ms() - t0,
		 (long long)(c1.tv_sec - c0.tv_sec) * 1000000 + (c1.tv_nsec - c0.tv_nsec) / 1000,
		 (long long)rt.tv_sec, rt.tv_nsec / 1000);
	d->ended_ids[d->ended_n++ % 64] = ls->id;
	xpd_record_drop(d, ls->queue);
	/* Freed after this turn of the loop: an event of this same batch
	 * (its pidfd's, say) may still point at it. */
	lease_release(ls);
	ls->ended = true;
	ls->next_dead = d->dead;
	d->dead = ls;
	/* Our copy was the socket's last: the kernel releases the queue (from
	 * a work item, so a bind right now may still say EBUSY: retried) */
	xq->st = XQ_FREE;
	xq->lease = NULL;
	d->leases_ended++;
	xpd_srv_kick(d);
}

static void mac_str(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

void xpd_lease_rec(const struct xpd *d, const struct xpd_lease *ls, struct ctl_buf *o)
{
	char mac[24];

	mac_str(d->mac, mac, sizeof(mac));
	ctl_rec_begin(o, "lease");
	ctl_rec_u64(o, "queue", ls->queue);
	ctl_rec_u64(o, "id", ls->id);
	ctl_rec_str(o, "ifname", d->cfg->interface);
	ctl_rec_u64(o, "frames", ls->frames);
	ctl_rec_u64(o, "frame_size", ls->frame_size);
	ctl_rec_u64(o, "ring_size", ls->ring_size);
	ctl_rec_u64(o, "umem_size", ls->umem_size);
	ctl_rec_u64(o, "shm_size", ls->shm_size);
	ctl_rec_u64(o, "max_socks", ls->max_socks);
	ctl_rec_u64(o, "mtu", d->mtu);
	ctl_rec_u64(o, "sg", ls->sg);
	ctl_rec_str(o, "mac", mac);
	ctl_rec_end(o);
}

void xpd_queues_scan(struct xpd *d)
{
	static struct xpd_xsk_info all[MAX_XSKS];
	int n = xpd_diag_xsks(all, MAX_XSKS);
	long long now = xpd_now_ms();

	if (n < 0) { /* no CONFIG_XDP_SOCKETS_DIAG: bind will say */
		xpd_dbg("sock_diag: %s: queues held by others show up at bind", strerror(-n));
		return;
	}
	for (int i = 0; i < n; i++) {
		struct xpd_queue *xq;

		if (all[i].ifindex != (uint32_t)d->ifindex || all[i].queue >= d->cfg->queues)
			continue;
		xq = &d->q[all[i].queue];
		if (xq->st != XQ_FREE)
			continue;
		xq->st = XQ_BUSY;
		xq->busy_since_ms = now;
		xq->backoff_ms = 1000;
		xq->retry_ms = now + xq->backoff_ms;
		xpd_info(
		    "queue %u: held by a socket xportd did not lease (inode %u, uid %u): a "
		    "lessee of an earlier xportd, until it renews, or a program that opened it "
		    "directly",
		    all[i].queue, all[i].ino, all[i].uid);
	}
}

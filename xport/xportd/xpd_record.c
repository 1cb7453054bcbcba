// SPDX-License-Identifier: BSD-2-Clause
/*
 * xpd_record.c - a record of every live lease in run_dir (lease-Q, root's,
 * written before the lessee gets its answer, removed when the lease ends),
 * so that an xportd that died and was started again knows what its
 * predecessor granted:
 *
 * - a renew is believed only for the lease the record names: its random
 *   id, and the inode of the very socket xportd bound (the kernel keeps an
 *   AF_XDP socket's binding for life, so that inode is the queue); a
 *   lessee cannot write run_dir, so it cannot claim a queue it was not
 *   given.  (sock_diag would say a socket's queue too, but kernels built
 *   without CONFIG_XDP_SOCKETS_DIAG, like this project's test machine,
 *   have none.)
 * - at start, the queues of records whose process lives are busy until
 *   it renews; records of dead processes are removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xpd_record.h"

static void rec_path(const struct xpd *d, uint32_t q, char *buf, size_t len)
{
	snprintf(buf, len, "%s/lease-%u", d->cfg->run_dir, q);
}

int xpd_record_write(const struct xpd *d, const struct xpd_lease *ls)
{
	char path[300], tmp[310];
	struct stat st;
	FILE *f;

	if (fstat(ls->xsk_fd, &st))
		return -errno;
	rec_path(d, ls->queue, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%llu %llu %d %u %llu %u %u %u %llu %s\n", (unsigned long long)ls->id,
		(unsigned long long)st.st_ino, (int)ls->peer.pid, (unsigned)ls->peer.uid,
		(unsigned long long)ls->since_s, ls->frames, ls->frame_size, ls->ring_size,
		(unsigned long long)ls->umem_size, ls->comm[0] ? ls->comm : "?");
	if (fclose(f) || rename(tmp, path)) {
		unlink(tmp);
		return -errno;
	}
	return 0;
}

void xpd_record_drop(const struct xpd *d, uint32_t q)
{
	char path[300];

	rec_path(d, q, path, sizeof(path));
	unlink(path);
}

int xpd_record_read(const struct xpd *d, uint32_t q, struct xpd_record *r)
{
	unsigned long long id, ino, since, umem;
	char path[300];
	int pid, n;
	FILE *f;

	rec_path(d, q, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	memset(r, 0, sizeof(*r));
	n = fscanf(f, "%llu %llu %d %u %llu %u %u %u %llu %15s", &id, &ino, &pid, &r->uid, &since,
		   &r->frames, &r->frame_size, &r->ring_size, &umem, r->comm);
	fclose(f);
	if (n != 10)
		return -EINVAL;
	r->id = id;
	r->ino = ino;
	r->pid = pid;
	r->since_s = since;
	r->umem_size = umem;
	return 0;
}

void xpd_records_scan(struct xpd *d)
{
	long long now = xpd_now_ms();

	for (uint32_t q = 0; q < d->cfg->queues; q++) {
		struct xpd_record r;
		struct xpd_queue *xq = &d->q[q];

		if (xpd_record_read(d, q, &r))
			continue;
		if (r.pid <= 0 || (kill(r.pid, 0) && errno == ESRCH)) {
			xpd_record_drop(d, q);
			continue;
		}
		xq->st = XQ_BUSY;
		xq->busy_since_ms = now;
		xq->backoff_ms = 1000;
		xq->retry_ms = now + xq->backoff_ms;
		xq->held_by = r.pid;
		xpd_info("queue %u: leased by an earlier xportd to pid %d (uid %u, %s): busy until "
			 "it renews",
			 q, (int)r.pid, r.uid, r.comm);
	}
}

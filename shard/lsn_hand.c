// SPDX-License-Identifier: BSD-2-Clause
/*
 * lsn_hand.c - the drain of a listener: accepted connections handed from
 * one shard to another (docs/design.md, "The drain of a listener").
 *
 * A connection the shard accepted for a listener and offered to the host
 * (NEW_CONN) is not read until the host takes it, so its kernel socket
 * holds everything the client sent: it can move to another shard whole.
 * When the host closes a listener that has a sibling (another entry of
 * the listener registry on the same address and port, SO_REUSEPORT, on
 * any queue), its shard sends each such socket (SCM_RIGHTS) to the
 * sibling's shard, which offers it to its own host as if it had accepted
 * it.  The channel: one datagram socket per shard in the abstract
 * namespace of the DPU's network namespace, "xts-lsn-<xtsd pid>-<queue>",
 * bound when the shard starts.  A datagram counts only from a sender of
 * our own uid (SO_PASSCRED: the kernel's credentials, not the sender's
 * word), only with one descriptor, and only for a listener of ours on the
 * address it names; anything else is dropped (and the descriptor closed).
 */
#define _GNU_SOURCE /* struct ucred */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shard_int.h"
#include "xts_reg.h"

#define HAND_MAGIC   0x444e4148u /* "HAND" */
#define HAND_VERSION 1u
#define HAND_BURST   64 /* datagrams per event */

struct hand_msg {
	__u32 magic, version;
	__u32 host_id;	     /* the receiving shard's host listener */
	struct xts_addr key; /* the address both listen on */
};

static socklen_t hand_name(struct sockaddr_un *sa, __u32 queue)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* sun_path[0] = 0: the abstract namespace (no file, gone with us) */
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "xts-lsn-%d-%u", (int)getppid(),
		     queue);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static void hand_recv_one(struct shard *s, const struct hand_msg *m, int fd)
{
	int err = lsn_adopt(s, le32toh(m->host_id), &m->key, fd);

	if (err) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		shard_log(s, XTS_LOG_INFO, "a connection handed over for listener %08x: %s (reset)",
			  le32toh(m->host_id), strerror(-err));
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
}

/* The channel is readable: handed connections, each with its message. */
static void hand_ev(struct shard *s, struct shard_ev *h, __u32 events)
{
	(void)h;
	(void)events;
	for (int i = 0; i < HAND_BURST; i++) {
		union {
			char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
			struct cmsghdr align;
		} u;
		struct hand_msg m;
		struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = u.buf,
				    .msg_controllen = sizeof(u.buf)};
		struct ucred cred = {.uid = (uid_t)-1};
		int fd = -1, nfds = 0;
		ssize_t n = recvmsg(s->hand_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0)
			return; /* EAGAIN: all taken */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
				if (nfds >= 1)
					memcpy(&fd, CMSG_DATA(c), sizeof(fd));
				for (int k = 1; k < nfds; k++) { /* never more than one */
					int x;

					memcpy(&x, CMSG_DATA(c) + k * sizeof(int), sizeof(x));
					close(x);
				}
			} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			}
		}
		if (n != (ssize_t)sizeof(m) || (mh.msg_flags & MSG_CTRUNC) || nfds != 1 ||
		    cred.uid != geteuid() || le32toh(m.magic) != HAND_MAGIC ||
		    le32toh(m.version) != HAND_VERSION) {
			s->st.proto_errs++;
			if (fd >= 0)
				close(fd);
			continue;
		}
		hand_recv_one(s, &m, fd);
	}
}

int lsn_hand_init(struct shard *s)
{
	struct sockaddr_un sa;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->hand_ev};
	socklen_t len = hand_name(&sa, s->o.queue);
	int one = 1;

	s->hand_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->hand_fd < 0)
		return -errno;
	s->hand_ev.fn = hand_ev;
	if (setsockopt(s->hand_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    bind(s->hand_fd, (struct sockaddr *)&sa, len) ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->hand_fd, &ev)) {
		int err = -errno;

		close(s->hand_fd);
		s->hand_fd = -1;
		return err;
	}
	return 0;
}

void lsn_hand_fini(struct shard *s)
{
	if (s->hand_fd >= 0)
		close(s->hand_fd); /* what is queued for us closes with it */
	s->hand_fd = -1;
}

int lsn_hand_send(struct shard *s, const struct reg_sib *sib, const struct xts_addr *local, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct hand_msg m = {.magic = htole32(HAND_MAGIC),
			     .version = htole32(HAND_VERSION),
			     .host_id = htole32(sib->host_id),
			     .key = *local};
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct sockaddr_un sa;
	struct msghdr mh = {.msg_name = &sa,
			    .msg_namelen = hand_name(&sa, sib->queue),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	/* never waits: a sibling whose channel is full costs this
	 * connection (reset, counted), not the shard's loop */
	if (sendmsg(s->hand_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		return -errno;
	return 0;
}

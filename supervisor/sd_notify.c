// SPDX-License-Identifier: BSD-2-Clause
/*
 * sd_notify.c - the sd_notify(3) datagram protocol (sd_notify.h).
 *
 * Why not libsystemd: the protocol is a documented, stable interface
 * (systemd's "NOTIFY_SOCKET" in sd_notify(3) and its own reference
 * implementation for daemons that do not link it), the daemons need four
 * messages of it, and libsystemd would be one more run-time dependency
 * for a DPU image that may not run systemd at all.  Not supported: the
 * vsock: addresses of systemd 253+ (a VM's manager on the host), which
 * nothing here needs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sd_notify.h"

uint64_t xts_sd_monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* NOTIFY_SOCKET as a sockaddr: 0, or -errno (unset: -ENOENT). */
static int notify_addr(struct sockaddr_un *sa, socklen_t *len)
{
	const char *e = getenv("NOTIFY_SOCKET");
	size_t n;

	if (!e || !*e)
		return -ENOENT;
	n = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || n < 2 || n >= sizeof(sa->sun_path))
		return -EAFNOSUPPORT; /* vsock:, relative paths: not ours */
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, e, n);
	if (e[0] == '@')
		sa->sun_path[0] = 0; /* abstract namespace: no NUL at the end */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
	return 0;
}

int xts_sd_notify(const char *fmt, ...)
{
	struct sockaddr_un sa;
	char msg[1024];
	socklen_t alen;
	va_list ap;
	ssize_t sent;
	int fd, n, err;

	err = notify_addr(&sa, &alen);
	if (err)
		return err == -ENOENT ? 0 : err;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EMSGSIZE;
	/* a socket per message: a handful of messages in a daemon's life,
	 * and no descriptor for a forked shard to inherit */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sa, alen);
	err = sent < 0 ? -errno : sent != n ? -EMSGSIZE : 1;
	close(fd);
	return err;
}

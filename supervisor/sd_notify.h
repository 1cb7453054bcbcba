/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sd_notify.h - tell a service manager (systemd, Type=notify) how a
 * daemon is doing: xtsd and xportd.  The documented datagram protocol of
 * sd_notify(3), written out (about 40 lines) rather than linking
 * libsystemd for one sendmsg(): NOTIFY_SOCKET names a unix datagram
 * socket (a path, or "@name" in the abstract namespace), each message is
 * one datagram of newline-separated KEY=VALUE lines.
 */
#ifndef XTS_SD_NOTIFY_H
#define XTS_SD_NOTIFY_H

#include <stdint.h>

/* Send one message (printf-style, lines joined by '\n').  1 sent, 0 no
 * NOTIFY_SOCKET (not under a service manager: nothing to do), or -errno
 * (the caller may log it; a daemon runs on either way). */
int xts_sd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC in microseconds: the MONOTONIC_USEC= of RELOADING=1. */
uint64_t xts_sd_monotonic_usec(void);

#endif

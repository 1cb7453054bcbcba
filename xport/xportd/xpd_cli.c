// SPDX-License-Identifier: BSD-2-Clause
/*
 * xpd_cli.c - `xportd status` and `xportd socks [--pid P]`: one request to
 * the running xportd (the ctl wire, ctl_client.c), rendered as text or,
 * with --json, as {"TYPEs": [...]}.  Any user may ask: the answer is what
 * `ss` would show anyone, which processes have which sockets offloaded.
 *
 * The same binary as the daemon, not an xportctl: two commands, the same
 * configuration file names the socket, and one name to remember.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_client.h"
#include "xpd_cli.h"
#include "xportd.h"

#define REPLY_TIMEOUT_S 10

static const char *get(const struct ctl_rec *r, const char *k)
{
	const char *v = ctl_rec_get(r, k);

	return v ? v : "-";
}

static const char *hms(const char *epoch_s, char *buf, size_t len)
{
	time_t t = (time_t)strtoll(epoch_s, NULL, 10);
	struct tm tm;

	if (!t || !localtime_r(&t, &tm))
		return "-";
	strftime(buf, len, "%H:%M:%S", &tm);
	return buf;
}

static void text_status(struct ctl_reply *r)
{
	struct ctl_rec rec;
	char t[16];

	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		if (!strcmp(rec.type, "xportd")) {
			printf("xportd pid %s on %s: %s queues, %s leased (granted %s, ended %s, "
			       "QRESETs sent %s), socket %s\n",
			       get(&rec, "pid"), get(&rec, "interface"), get(&rec, "queues"),
			       get(&rec, "leases"), get(&rec, "granted"), get(&rec, "ended"),
			       get(&rec, "qresets"), get(&rec, "socket"));
			printf("%-5s %-7s %-8s %-6s %-15s %-8s %-7s %-14s %s\n", "QUEUE", "STATE",
			       "PID", "UID", "COMMAND", "SINCE", "SOCKETS", "TX_BYTES", "RX_BYTES");
			continue;
		}
		if (strcmp(rec.type, "queue"))
			continue;
		if (strcmp(get(&rec, "state"), "leased")) {
			printf("%-5s %s\n", get(&rec, "id"), get(&rec, "state"));
			continue;
		}
		printf("%-5s %-7s %-8s %-6s %-15s %-8s %-7s %-14s %s%s\n", get(&rec, "id"),
		       get(&rec, "state"), get(&rec, "pid"), get(&rec, "uid"), get(&rec, "comm"),
		       hms(get(&rec, "since"), t, sizeof(t)), get(&rec, "sockets"),
		       get(&rec, "data_tx"), get(&rec, "data_rx"),
		       strcmp(get(&rec, "renewed"), "1") ? "" : "  (renewed)");
	}
}

static void text_socks(struct ctl_reply *r)
{
	struct ctl_rec rec;
	char t[16];

	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		if (!strcmp(rec.type, "lease")) {
			printf("queue %s: pid %s (uid %s, %s) since %s, %s sockets, %s bytes out, "
			       "%s in%s\n",
			       get(&rec, "queue"), get(&rec, "pid"), get(&rec, "uid"),
			       get(&rec, "comm"), hms(get(&rec, "since"), t, sizeof(t)),
			       get(&rec, "sockets"), get(&rec, "data_tx"), get(&rec, "data_rx"),
			       strcmp(get(&rec, "answered"), "yes")
				   ? " (did not answer: its last table)"
				   : "");
			printf("  %-8s %-11s %-24s %-24s %-12s %-12s %-8s %s\n", "SOCKET", "STATE",
			       "LOCAL", "REMOTE", "TX_BYTES", "RX_BYTES", "CREDIT", "UNREAD");
			continue;
		}
		if (!strcmp(rec.type, "sock"))
			printf("  %-8s %-11s %-24s %-24s %-12s %-12s %-8s %s\n", get(&rec, "id"),
			       get(&rec, "state"), get(&rec, "local"), get(&rec, "remote"),
			       get(&rec, "tx_bytes"), get(&rec, "rx_bytes"), get(&rec, "credit"),
			       get(&rec, "unread"));
	}
}

/* The socket: -s, else the configuration's, else $XPORTD_SOCKET, else the
 * default. */
static int sock_path(const char *conf, const char *sock, char *buf, size_t len)
{
	static struct xpd_cfg c;
	char err[CFG_ERR_LEN];
	const char *env = getenv(XTS_LEASE_ENV);

	if (sock) {
		snprintf(buf, len, "%s", sock);
	} else if (conf) {
		if (xpd_cfg_load(conf, &c, err)) {
			fprintf(stderr, "xportd: %s\n", err);
			return 2;
		}
		snprintf(buf, len, "%s", c.sock_path);
	} else {
		snprintf(buf, len, "%s", env && *env ? env : XTS_LEASE_DEFAULT_PATH);
	}
	return 0;
}

int xpd_cli(const char *conf, const char *sock, int argc, char **argv)
{
	char path[256], pidarg[32], *req[3] = {argv[0], NULL, NULL};
	struct ctl_reply r;
	bool json = false, socks = !strcmp(argv[0], "socks");
	int nreq = 1, rc;

	if (!socks && strcmp(argv[0], "status")) {
		fprintf(stderr, "xportd: unknown command \"%s\" (status or socks)\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (socks && !strcmp(argv[i], "--pid") && i + 1 < argc) {
			snprintf(pidarg, sizeof(pidarg), "pid=%s", argv[++i]);
			req[nreq++] = pidarg;
		} else {
			fprintf(stderr, "xportd: %s: bad argument \"%s\"\n", argv[0], argv[i]);
			return 2;
		}
	}
	if ((rc = sock_path(conf, sock, path, sizeof(path))))
		return rc;
	rc = ctl_call("xportd", "xportd", path, nreq, req, REPLY_TIMEOUT_S, &r) ? 1 : 0;
	if (!rc && r.err) {
		fprintf(stderr, "xportd: %s: %s\n", argv[0], r.errmsg);
		rc = 1;
	} else if (!rc && json) {
		ctl_reply_json(&r);
	} else if (!rc) {
		(socks ? text_socks : text_status)(&r);
	}
	ctl_reply_free(&r);
	return rc;
}

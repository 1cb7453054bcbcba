// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl_client.c - the client side of the ctl wire (xts_ctl.h), shared by
 * xtsctl (xtsd's socket) and `xportd status|socks` (xportd's): one request
 * on a fresh connection, the whole answer read (bounded in size and time),
 * split into lines, its status line read; records one at a time; the
 * answer as JSON.
 */
#define _GNU_SOURCE /* struct ucred */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_client.h"

static int split_reply(const char *prog, const char *server, const char *path, struct ctl_reply *r);

/* The server's pid as our pid namespace numbers it: stop --wait waits for
 * it (0 when the kernel cannot say). */
static int peer_pid(int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) ? 0 : uc.pid;
}

int ctl_call(const char *prog, const char *server, const char *path, int argc, char **argv,
	     int timeout_s, struct ctl_reply *r)
{
	struct timeval tv = {.tv_sec = timeout_s};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ctl_buf req = {0}, resp = {0};
	char chunk[65536];
	int fd, rc;

	memset(r, 0, sizeof(*r));
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "%s: %s: socket path too long\n", prog, path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		rc = -errno;
		fprintf(stderr, "%s: connect %s: %s%s%s%s\n", prog, path, strerror(errno),
			errno == EACCES ? " (not allowed to talk to " : "",
			errno == EACCES ? server : "", errno == EACCES ? ")" : "");
		if (errno == ENOENT || errno == ECONNREFUSED)
			fprintf(stderr, "%s: is %s running?\n", prog, server);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	r->peer_pid = peer_pid(fd);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ctl_req_build(&req, argc, argv);
	rc = req.err ? req.err : ctl_write_all(fd, req.p, req.len);
	ctl_buf_free(&req);
	/* xtsd may answer and close before taking the whole request (a
	 * refusal): what it said is still there to read */
	if (rc == -EPIPE || rc == -ECONNRESET)
		rc = 0;
	shutdown(fd, SHUT_WR);
	while (!rc) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		/* a reset after the whole answer is the end of it */
		if (n < 0 && errno == ECONNRESET && resp.len >= 4 &&
		    !memcmp(resp.p + resp.len - 4, "end\n", 4))
			break;
		if (n < 0) {
			rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		if (!n)
			break;
		ctl_buf_put(&resp, chunk, (size_t)n);
		rc = resp.err;
	}
	close(fd);
	if (rc) {
		fprintf(stderr, "%s: %s: %s%s%s\n", prog, path, strerror(-rc),
			rc == -ETIMEDOUT ? " (no answer in time from " : "",
			rc == -ETIMEDOUT ? server : "");
		ctl_buf_free(&resp);
		return rc;
	}
	r->buf = resp.p;
	return split_reply(prog, server, path, r);
}

/* The answer in r->buf as lines, its status line read. */
static int split_reply(const char *prog, const char *server, const char *path, struct ctl_reply *r)
{
	for (char *p = r->buf, *nl; p && *p; p = nl + 1) {
		char **nlp;

		nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = 0;
		nlp = realloc(r->line, (r->nlines + 1) * sizeof(*r->line));
		if (!nlp)
			return -ENOMEM;
		r->line = nlp;
		r->line[r->nlines++] = p;
	}
	if (!r->nlines || strcmp(r->line[r->nlines - 1], "end")) {
		fprintf(stderr, "%s: %s: truncated answer from %s\n", prog, path, server);
		return -EPROTO;
	}
	if (!strncmp(r->line[0], "error ", 6)) {
		char *sp = strchr(r->line[0] + 6, ' ');

		r->err = atoi(r->line[0] + 6);
		if (r->err <= 0)
			r->err = EIO;
		r->errmsg = sp ? sp + 1 : (char *)"";
		ctl_unescape(r->errmsg);
	} else if (strcmp(r->line[0], "ok")) {
		fprintf(stderr, "%s: %s: bad answer from %s\n", prog, path, server);
		return -EPROTO;
	}
	r->nlines--; /* drop "end" */
	return 0;
}

/* Records (lines 1..) parsed in place, one at a time. */
bool ctl_reply_next(struct ctl_reply *r, unsigned *i, struct ctl_rec *rec)
{
	while (++*i < r->nlines)
		if (!ctl_rec_parse(r->line[*i], rec))
			return true;
	return false;
}

/* ---- JSON: {"TYPEs": [ {k: v, ...}, ... ], ...} in record order ---- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

void ctl_rec_json(const struct ctl_rec *rec)
{
	printf("{");
	for (unsigned k = 0; k < rec->n; k++) {
		printf("%s", k ? ", " : "");
		json_str(rec->key[k]);
		printf(": ");
		if (ctl_is_number(rec->val[k]))
			printf("%s", rec->val[k]);
		else
			json_str(rec->val[k]);
	}
	printf("}");
}

void ctl_reply_json(struct ctl_reply *r)
{
	/* group records by type, keeping first-seen order of the types */
	const char *types[32];
	unsigned ntypes = 0, i;
	struct ctl_rec rec;
	char **copy = calloc(r->nlines + 1, sizeof(*copy));

	if (!copy)
		exit(1);
	for (i = 1; i <= r->nlines && i < r->nlines + 1; i++)
		copy[i] = r->line[i] ? strdup(r->line[i]) : NULL;
	for (i = 0; ctl_reply_next(r, &i, &rec);) {
		bool seen = false;

		for (unsigned t = 0; t < ntypes; t++)
			seen |= !strcmp(types[t], rec.type);
		if (!seen && ntypes < 32)
			types[ntypes++] = rec.type;
	}
	printf("{");
	for (unsigned t = 0; t < ntypes; t++) {
		bool first = true;
		char key[64];

		snprintf(key, sizeof(key), "%ss", types[t]);
		printf("%s", t ? ", " : "");
		json_str(key);
		printf(": [");
		for (i = 1; i < r->nlines; i++) {
			char *line = strdup(copy[i]);

			if (!line || ctl_rec_parse(line, &rec) || strcmp(rec.type, types[t])) {
				free(line);
				continue;
			}
			printf("%s", first ? "" : ", ");
			first = false;
			ctl_rec_json(&rec);
			free(line);
		}
		printf("]");
	}
	printf("}\n");
	for (i = 0; i <= r->nlines; i++)
		free(copy[i]);
	free(copy);
}

void ctl_reply_free(struct ctl_reply *r)
{
	free(r->line);
	free(r->buf);
	r->line = NULL;
	r->buf = NULL;
	r->nlines = 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * sup_ctl.c - xtsd's ctl socket: a unix stream socket (ctl.path,
 * ctl.mode, ctl.group), one request per connection (include/xts_ctl.h).
 *
 * Served on xtsd's event loop without ever blocking it (Knot serves its
 * ctl off the server loop; here the loop is the server, so the clients are
 * non-blocking state machines instead):
 *   - a peer is authorized on accept (SO_PEERCRED: root, or a process
 *     with ctl.group among its groups, SO_PEERGROUPS); one that is not
 *     gets its "error 13" line at once and is closed before it can send a
 *     byte more;
 *   - at most CTL_MAX_CLIENTS at a time (one more gets "error 16" and is
 *     closed), each with a fixed request buffer (XTS_CTL_LINE_MAX);
 *   - a whole-request deadline: the request line must be complete within
 *     CTL_REQ_MS of the accept, the answer taken within CTL_RESP_MS, or
 *     the client is dropped (a client dripping a byte a second gets no
 *     more than one deadline, and delays nobody);
 *   - a command that waits for the shards (conns, drain) is called again
 *     from the loop; it never sleeps.
 */
#define _GNU_SOURCE /* struct ucred, accept4 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sup.h"
#include "xts_ctl.h"

#define CTL_MAX_CLIENTS 16
#define CTL_REQ_MS	2000 /* accept to a complete request line */
#define CTL_RESP_MS	5000 /* answer ready to answer taken */
#define CTL_WAIT_TICK	2    /* ms between looks while a command waits on shards */
#define CTL_ACCEPT_MAX	16   /* accepts per wake: the loop has other work */

enum cl_state { CL_FREE, CL_READ, CL_RUN, CL_WRITE };

struct sup_ctl_client {
	struct sup_ev ev; /* first: the epoll handler finds the client from it */
	enum cl_state st;
	long long deadline;
	size_t in_len;
	char in[XTS_CTL_LINE_MAX];
	char *argv[XTS_CTL_MAX_ARGS];
	const struct sup_cmd *cmd;
	struct sup_cmd_args args;
	struct ctl_buf body, resp;
	size_t off; /* of resp written */
};

static struct sup_ctl_client clients[CTL_MAX_CLIENTS];

static void on_accept(struct sup *sp, struct sup_ev *ev, uint32_t events);

int sup_ctl_open(struct sup *sp)
{
	const struct cfg *c = sp->cfg;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	sp->clients = clients;
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++)
		clients[i].ev.fd = -1;
	sp->ctl_gid = (gid_t)-1;
	if (c->ctl_group[0]) {
		struct group *g = getgrnam(c->ctl_group);

		if (!g) {
			sup_err("ctl.group %s: no such group", c->ctl_group);
			return -ENOENT;
		}
		sp->ctl_gid = g->gr_gid;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", c->ctl_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket left by a dead xtsd is replaced; one that answers belongs
	 * to a live xtsd (with another run_dir: its lock is not ours), and
	 * any other file is not ours to remove. */
	if (lstat(c->ctl_path, &st) == 0) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool alive = S_ISSOCK(st.st_mode) && probe >= 0 &&
			     !connect(probe, (struct sockaddr *)&sun, sizeof(sun));

		if (probe >= 0)
			close(probe);
		if (!S_ISSOCK(st.st_mode) || alive) {
			sup_err("ctl.path %s %s", c->ctl_path,
				alive ? "is served by another xtsd" : "exists and is not a socket");
			close(fd);
			return -EEXIST;
		}
		unlink(c->ctl_path);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || chmod(c->ctl_path, c->ctl_mode) ||
	    (sp->ctl_gid != (gid_t)-1 && chown(c->ctl_path, 0, sp->ctl_gid)) || listen(fd, 64)) {
		int err = errno;

		sup_err("ctl socket %s: %s", c->ctl_path, strerror(err));
		close(fd);
		return -err;
	}
	sp->ctl.fd = fd;
	sp->ctl.fn = on_accept;
	if (sup_ev_add(sp, &sp->ctl, EPOLLIN)) {
		int err = errno;

		sup_err("ctl socket: epoll: %s", strerror(err));
		close(fd);
		sp->ctl.fd = -1;
		return -err;
	}
	return 0;
}

/* Close a client's socket.  What it sent and we did not read is read away
 * first (a bounded amount): closing over unread bytes turns into a reset
 * on its side, which may reach it before our answer does. */
static void drain_close(int fd)
{
	char junk[4096];

	for (int i = 0; i < 4 && read(fd, junk, sizeof(junk)) > 0; i++)
		;
	close(fd); /* also leaves the epoll */
}

static void client_free(struct sup_ctl_client *cl)
{
	if (cl->ev.fd >= 0)
		drain_close(cl->ev.fd);
	cl->ev.fd = -1;
	ctl_buf_free(&cl->body);
	ctl_buf_free(&cl->resp);
	cl->st = CL_FREE;
}

void sup_ctl_close(struct sup *sp)
{
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++)
		if (clients[i].st != CL_FREE)
			client_free(&clients[i]);
	if (sp->ctl.fd >= 0)
		close(sp->ctl.fd);
	sp->ctl.fd = -1;
}

/* ---- peers ---- */

/*
 * Does the peer process have group want (SO_PEERGROUPS: its groups when it
 * connected)?  The kernel's own answer, the one it gave when it checked
 * the socket file's group permission, and no NSS lookup (getpwuid,
 * getgrouplist) on xtsd's loop: with LDAP or sssd behind NSS that could
 * block for seconds per connection, and it described the user's groups in
 * the database, not the process's (one started with --clear-groups, or
 * given the group by sg(1)).
 */
static bool peer_in_group(int fd, const struct ucred *cr, gid_t want)
{
	gid_t small[64], *g = small;
	socklen_t len = sizeof(small);
	bool in = cr->gid == want;

	if (in)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len)) {
		/* ERANGE: len says how much it takes (at most NGROUPS_MAX) */
		if (errno != ERANGE || !(g = malloc(len)))
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len))
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(gid_t) && !in; i++)
		in = g[i] == want;
	if (g != small)
		free(g);
	return in;
}

/* 0: the peer may talk to us; -EACCES with the reason in why. */
static int authorize(struct sup *sp, int fd, char *why, size_t len)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l)) {
		snprintf(why, len, "cannot read peer credentials: %s", strerror(errno));
		return -EACCES;
	}
	if (cr.uid == 0)
		return 0;
	/* no ctl.group: root only */
	if (sp->ctl_gid != (gid_t)-1 && peer_in_group(fd, &cr, sp->ctl_gid))
		return 0;
	if (sp->ctl_gid != (gid_t)-1)
		snprintf(why, len, "permission denied: uid %u is neither root nor in group %s",
			 (unsigned)cr.uid, sp->cfg->ctl_group);
	else
		snprintf(why, len, "permission denied: uid %u is not root (no ctl.group set)",
			 (unsigned)cr.uid);
	sup_warn("ctl: refused pid %d uid %u", (int)cr.pid, (unsigned)cr.uid);
	return -EACCES;
}

/* Answer a peer we will not serve and close it: one short line fits in a
 * fresh socket's buffer, so this never blocks. */
static void refuse(int fd, int err, const char *why)
{
	struct ctl_buf b = {0};

	ctl_status_line(&b, err, why);
	ctl_buf_put(&b, "end\n", 4);
	if (!b.err && send(fd, b.p, b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		sup_dbg("ctl: refusing a client: %s", strerror(errno));
	ctl_buf_free(&b);
	drain_close(fd);
}

/* ---- a client's request and answer ---- */

static void on_client(struct sup *sp, struct sup_ev *ev, uint32_t events);

static void client_answer(struct sup *sp, struct sup_ctl_client *cl, int rc, long long now)
{
	const char *err = cl->args.err[0] ? cl->args.err : strerror(rc < 0 ? -rc : rc);

	if (!rc && cl->body.err) {
		rc = cl->body.err;
		snprintf(cl->args.err, sizeof(cl->args.err), "response too large: %s",
			 strerror(-rc));
		err = cl->args.err;
	}
	ctl_status_line(&cl->resp, rc, err);
	if (!rc && cl->body.len)
		ctl_buf_put(&cl->resp, cl->body.p, cl->body.len);
	ctl_buf_put(&cl->resp, "end\n", 4);
	ctl_buf_free(&cl->body);
	if (cl->resp.err) {
		client_free(cl);
		return;
	}
	cl->st = CL_WRITE;
	cl->off = 0;
	cl->deadline = now + CTL_RESP_MS;
	/* most answers fit the socket buffer: try at once */
	on_client(sp, &cl->ev, EPOLLOUT);
}

static int client_parse(struct sup_ctl_client *cl)
{
	struct sup_cmd_args *a = &cl->args;
	int argc = ctl_req_parse(cl->in, cl->argv, XTS_CTL_MAX_ARGS);

	if (argc == -E2BIG) {
		snprintf(a->err, sizeof(a->err), "bad request: more than %d words",
			 XTS_CTL_MAX_ARGS);
		return argc;
	}
	if (argc < 0) {
		snprintf(a->err, sizeof(a->err), "bad request (protocol %s expected)",
			 XTS_CTL_VERSION);
		return argc;
	}
	cl->cmd = sup_cmd_find(cl->argv[0]);
	if (!cl->cmd) {
		snprintf(a->err, sizeof(a->err), "unknown command \"%s\"", cl->argv[0]);
		return -EINVAL;
	}
	if (argc - 1 < cl->cmd->nargs ||
	    argc - 1 > (cl->cmd->maxargs ? cl->cmd->maxargs : cl->cmd->nargs)) {
		if (cl->cmd->maxargs)
			snprintf(a->err, sizeof(a->err), "%s takes %d to %d arguments",
				 cl->cmd->name, cl->cmd->nargs, cl->cmd->maxargs);
		else
			snprintf(a->err, sizeof(a->err), "%s takes %d argument%s", cl->cmd->name,
				 cl->cmd->nargs, cl->cmd->nargs == 1 ? "" : "s");
		return -EINVAL;
	}
	a->argc = argc;
	a->argv = cl->argv;
	return 0;
}

/* Run (or run again) the client's command; answer when it is done. */
static void client_run(struct sup *sp, struct sup_ctl_client *cl, long long now)
{
	int rc;

	cl->args.now = now;
	rc = cl->cmd->fn(&cl->args);
	if (rc == SUP_CMD_AGAIN) {
		if (cl->st != CL_RUN) {
			cl->st = CL_RUN;
			sup_ev_mod(sp, &cl->ev, 0); /* hang-ups only, while it runs */
		}
		return;
	}
	client_answer(sp, cl, rc, now);
}

/* A complete request line (or a broken request: rc) is in. */
static void client_request(struct sup *sp, struct sup_ctl_client *cl, int rc, long long now)
{
	memset(&cl->args, 0, sizeof(cl->args));
	cl->args.sp = sp;
	cl->args.out = &cl->body;
	if (rc)
		snprintf(cl->args.err, sizeof(cl->args.err), "bad request: %s",
			 rc == -E2BIG ? "line too long" : "no request line");
	else
		rc = client_parse(cl);
	if (rc) {
		client_answer(sp, cl, rc, now);
		return;
	}
	sup_dbg("ctl: %s", cl->cmd->name);
	cl->deadline = now + CTL_RESP_MS; /* the command bounds its own waits */
	client_run(sp, cl, now);
}

static void client_read(struct sup *sp, struct sup_ctl_client *cl)
{
	/* a bounded number of reads per wake: a fast sender waits its turn */
	for (int i = 0; i < 4; i++) {
		ssize_t n = read(cl->ev.fd, cl->in + cl->in_len, sizeof(cl->in) - 1 - cl->in_len);
		char *nl;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			client_free(cl);
			return;
		}
		if (n == 0) { /* the peer is done sending, without a request line */
			client_request(sp, cl, -EPROTO, sup_now_ms());
			return;
		}
		cl->in_len += (size_t)n;
		cl->in[cl->in_len] = 0;
		nl = memchr(cl->in, '\n', cl->in_len);
		if (nl) {
			*nl = 0;
			client_request(sp, cl, 0, sup_now_ms());
			return;
		}
		if (cl->in_len == sizeof(cl->in) - 1) {
			client_request(sp, cl, -E2BIG, sup_now_ms());
			return;
		}
	}
}

static void client_write(struct sup *sp, struct sup_ctl_client *cl)
{
	while (cl->off < cl->resp.len) {
		ssize_t n = send(cl->ev.fd, cl->resp.p + cl->off, cl->resp.len - cl->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			sup_ev_mod(sp, &cl->ev, EPOLLOUT);
			return;
		}
		if (n < 0)
			break; /* the peer went away: nothing more to say */
		cl->off += (size_t)n;
	}
	client_free(cl);
}

static void on_client(struct sup *sp, struct sup_ev *ev, uint32_t events)
{
	struct sup_ctl_client *cl = (struct sup_ctl_client *)ev;

	switch (cl->st) {
	case CL_READ:
		client_read(sp, cl);
		break;
	case CL_RUN: /* only a hang-up or an error wakes it */
		if (events & (EPOLLHUP | EPOLLERR))
			client_free(cl);
		break;
	case CL_WRITE:
		client_write(sp, cl);
		break;
	case CL_FREE:
		break;
	}
}

static struct sup_ctl_client *client_slot(void)
{
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++)
		if (clients[i].st == CL_FREE)
			return &clients[i];
	return NULL;
}

static void on_accept(struct sup *sp, struct sup_ev *ev, uint32_t events)
{
	(void)events;
	for (int i = 0; i < CTL_ACCEPT_MAX; i++) {
		int fd = accept4(ev->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct sup_ctl_client *cl;
		char why[256];

		if (fd < 0)
			return; /* EAGAIN: no more; anything else: next wake */
		if (authorize(sp, fd, why, sizeof(why))) {
			refuse(fd, EACCES, why);
			continue;
		}
		cl = client_slot();
		if (!cl) {
			sup_warn("ctl: %d clients already: refusing one more", CTL_MAX_CLIENTS);
			refuse(fd, EBUSY, "too many ctl clients at once: try again");
			continue;
		}
		memset(cl, 0, sizeof(*cl));
		cl->ev.fd = fd;
		cl->ev.fn = on_client;
		cl->st = CL_READ;
		cl->deadline = sup_now_ms() + CTL_REQ_MS;
		if (sup_ev_add(sp, &cl->ev, EPOLLIN)) {
			sup_warn("ctl: epoll: %s", strerror(errno));
			client_free(cl);
		}
	}
}

long long sup_ctl_run(struct sup *sp, long long now)
{
	long long next = SUP_NEVER;

	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct sup_ctl_client *cl = &clients[i];

		if (cl->st == CL_FREE)
			continue;
		if (now >= cl->deadline) {
			sup_warn("ctl: a client %s in time: dropped",
				 cl->st == CL_READ ? "did not send its request"
						   : "did not take its answer");
			if (cl->st == CL_READ)
				refuse(cl->ev.fd, ETIMEDOUT, "request not complete in time");
			else
				close(cl->ev.fd);
			cl->ev.fd = -1;
			client_free(cl);
			continue;
		}
		if (cl->st == CL_RUN)
			client_run(sp, cl, now);
		if (cl->st == CL_RUN)
			next = next < now + CTL_WAIT_TICK ? next : now + CTL_WAIT_TICK;
		if (cl->st != CL_FREE && cl->deadline < next)
			next = cl->deadline;
	}
	return next;
}

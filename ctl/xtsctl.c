// SPDX-License-Identifier: BSD-2-Clause
/*
 * xtsctl - the XTS operator CLI: one request to xtsd over the ctl socket
 * (include/xts_ctl.h), the answer rendered as text, JSON or, for stats,
 * the Prometheus text format.
 *
 *   xtsctl [-s SOCKET | -c XTS.CONF] COMMAND [ARG] [--json] [--help]
 *
 * Exit 0 on success; 1 with one line on stderr when xtsd refused or
 * failed the request (or could not be reached); 2 on a usage error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "ctl_client.h"
#include "ctl_prom.h"
#include "xts_ctl.h"
#include "xts_version.h"

#define PROG "xtsctl"
/* xtsd answers within its own bounds (2 s for a request, 0.5 s for a
 * shard's snapshot); this one only keeps a wedged xtsd from hanging us */
#define REPLY_TIMEOUT_S 30

enum fmt { FMT_TEXT, FMT_JSON, FMT_PROM };

struct cmd {
	const char *name;
	const char *args; /* usage of its argument, or NULL */
	const char *help;
	bool prom; /* takes --prometheus */
	void (*text)(struct ctl_reply *r);
};

static void text_status(struct ctl_reply *r);
static void text_stats(struct ctl_reply *r);
static void text_conns(struct ctl_reply *r);
static void text_listeners(struct ctl_reply *r);
static void text_generic(struct ctl_reply *r);

static const struct cmd cmds[] = {
    {"status", NULL, "each shard: state, pid, CPU, node, uptime, restarts, connections", false,
     text_status},
    {"stats", NULL, "counters per shard and in total (--prometheus: text exposition format)", true,
     text_stats},
    {"conns", NULL, "the connection table of every shard", false, text_conns},
    {"listeners", NULL, "the listener registry", false, text_listeners},
    {"reload", NULL, "re-read xts.conf and apply it; a bad file changes nothing", false,
     text_generic},
    {"drain", "SHARD|all", "refuse new connects, let established connections finish", false,
     text_status},
    {"undrain", "SHARD|all", "accept new connects again", false, text_status},
    {"stop", NULL, "drain (at most timeouts.drain_ms), stop the shards, exit", false, text_generic},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [-s SOCKET | -c XTS.CONF] COMMAND [ARG] [--json] [--help]\n"
		   "       " PROG " --version\n"
		   "  -s SOCKET    xtsd's ctl socket (default " XTS_CTL_DEFAULT_PATH ")\n"
		   "  -c FILE      take the socket path from this xts.conf (ctl.path)\n"
		   "  --shard N    print only shard N's record, a \"key value\" line a field\n"
		   "  -V           print the version and exit\n"
		   "commands:\n");
	for (unsigned i = 0; i < NCMDS; i++)
		fprintf(f, "  %-10s %-10s %s\n", cmds[i].name, cmds[i].args ? cmds[i].args : "",
			cmds[i].help);
	fprintf(f, "every command takes --json and --help; exit 0 ok, 1 failed, 2 usage\n");
}

static void cmd_usage(const struct cmd *c, FILE *f)
{
	fprintf(f, "usage: " PROG " %s%s%s [--json]%s\n  %s\n", c->name, c->args ? " " : "",
		c->args ? c->args : "", c->prom ? " [--prometheus]" : "", c->help);
}

static const char *get(const struct ctl_rec *rec, const char *k)
{
	const char *v = ctl_rec_get(rec, k);

	return v ? v : "-";
}

/* ---- text ---- */

static void text_generic(struct ctl_reply *r)
{
	struct ctl_rec rec;

	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		printf("%s", rec.type);
		for (unsigned k = 0; k < rec.n; k++)
			printf(" %s=%s", rec.key[k], rec.val[k]);
		printf("\n");
	}
}

static void text_status(struct ctl_reply *r)
{
	struct ctl_rec rec;
	bool head = false;

	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		if (!strcmp(rec.type, "xtsd")) {
			printf("xtsd %s pid %s, %s, config generation %s, %s queues on %s\n",
			       get(&rec, "version"), get(&rec, "pid"), get(&rec, "config"),
			       get(&rec, "generation"), get(&rec, "queues"),
			       get(&rec, "interface"));
			continue;
		}
		if (strcmp(rec.type, "shard"))
			continue;
		if (!head) {
			printf("%-5s %-8s %-9s %-4s %-4s %-8s %-8s %-11s %s\n", "SHARD", "PID",
			       "STATE", "CPU", "NODE", "UPTIME", "RESTARTS", "CONNECTIONS",
			       "EPOCH");
			head = true;
		}
		printf("%-5s %-8s %-9s %-4s %-4s %-8s %-8s %-11s %08llx\n", get(&rec, "id"),
		       get(&rec, "pid"), get(&rec, "state"), get(&rec, "cpu"), get(&rec, "node"),
		       get(&rec, "uptime_s"), get(&rec, "restarts"), get(&rec, "connections"),
		       strtoull(get(&rec, "epoch"), NULL, 10));
	}
}

static void text_stats(struct ctl_reply *r)
{
	struct ctl_rec rec;

	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		if (!strcmp(rec.type, "shard"))
			printf("shard %s (%s)\n", get(&rec, "id"), get(&rec, "state"));
		else if (!strcmp(rec.type, "total"))
			printf("total\n");
		else if (!strcmp(rec.type, "tls"))
			printf("tls profile %s, shard %s\n", get(&rec, "profile"),
			       get(&rec, "shard"));
		else
			continue; /* the xtsd record: status shows it */
		for (unsigned k = 0; k < rec.n; k++)
			if (strcmp(rec.key[k], "id") && strcmp(rec.key[k], "state") &&
			    strcmp(rec.key[k], "profile") && strcmp(rec.key[k], "shard"))
				printf("  %-22s %s\n", rec.key[k], rec.val[k]);
	}
}

static void text_conns(struct ctl_reply *r)
{
	struct ctl_rec rec;

	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		if (!strcmp(rec.type, "shard")) {
			printf("shard %s (%s): %s connections%s\n", get(&rec, "id"),
			       get(&rec, "state"), get(&rec, "total"),
			       strcmp(get(&rec, "answered"), "yes") ? ", did not answer"
			       : strcmp(get(&rec, "total"), get(&rec, "listed"))
				   ? " (first ones listed)"
				   : "");
			continue;
		}
		printf("  %-10s %-10s %-10s %-45s %-45s buf %s\n", get(&rec, "id"),
		       get(&rec, "host_id"), get(&rec, "state"), get(&rec, "local"),
		       get(&rec, "peer"), get(&rec, "buf_bytes"));
	}
}

/* --shard N: that shard's record, one "key value" line per field (for
 * scripts: `xtsctl stats --shard 1 | awk '$1 == "tx_seq"'`). */
static int out_shard(struct ctl_reply *r, const char *id)
{
	struct ctl_rec rec;
	int found = 0;

	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		if (strcmp(rec.type, "shard") || strcmp(get(&rec, "id"), id))
			continue;
		for (unsigned k = 0; k < rec.n; k++)
			printf("%s %s\n", rec.key[k], rec.val[k]);
		found = 1;
	}
	if (!found)
		fprintf(stderr, PROG ": no shard %s in the answer\n", id);
	return found ? 0 : 1;
}

static void text_listeners(struct ctl_reply *r)
{
	struct ctl_rec rec;

	printf("%-6s %-45s %-10s %-8s %s\n", "queue", "local", "host_id", "backlog", "flags");
	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		if (!strcmp(rec.type, "listener"))
			printf("%-6s %-45s %-10s %-8s %s\n", get(&rec, "queue"), get(&rec, "local"),
			       get(&rec, "host_id"), get(&rec, "backlog"), get(&rec, "flags"));
		else if (!strcmp(rec.type, "total"))
			printf("%s listeners, %s slots, %s repairs of a dead holder's update\n",
			       get(&rec, "listeners"), get(&rec, "size"), get(&rec, "repairs"));
	}
}

struct cli {
	const char *sock, *conf, *shard;
	char *args[XTS_CTL_MAX_ARGS];
	int nargs;
	const struct cmd *cmd;
	enum fmt fmt;
};

/* The command line into *o: -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct cli *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if ((!strcmp(a, "-s") || !strcmp(a, "--socket")) && i + 1 < argc) {
			o->sock = argv[++i];
		} else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) {
			o->conf = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			if (o->cmd)
				cmd_usage(o->cmd, stdout);
			else
				usage(stdout);
			return 0;
		} else if (!strcmp(a, "--shard") && i + 1 < argc) {
			o->shard = argv[++i];
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf(PROG " %s\n", XTS_VERSION);
			return 0;
		} else if (!strcmp(a, "--json") || !strcmp(a, "--prometheus")) {
			enum fmt f = a[2] == 'j' ? FMT_JSON : FMT_PROM;

			if (o->fmt != FMT_TEXT && o->fmt != f) {
				fprintf(stderr,
					PROG ": --json and --prometheus: pick one output\n");
				return 2;
			}
			o->fmt = f;
		} else if (a[0] == '-' && a[1]) {
			bool known = !strcmp(a, "-s") || !strcmp(a, "--socket") ||
				     !strcmp(a, "-c") || !strcmp(a, "--config") ||
				     !strcmp(a, "--shard");

			fprintf(stderr, PROG ": %s: %s\n", a,
				known ? "needs an argument" : "unknown option");
			goto bad;
		} else if (!o->cmd) {
			for (unsigned c = 0; c < NCMDS; c++)
				if (!strcmp(cmds[c].name, a))
					o->cmd = &cmds[c];
			if (!o->cmd) {
				fprintf(stderr, PROG ": unknown command \"%s\"\n", a);
				goto bad;
			}
			o->args[o->nargs++] = argv[i];
		} else if (o->nargs < XTS_CTL_MAX_ARGS) {
			o->args[o->nargs++] = argv[i];
		} else {
			goto bad;
		}
	}
	if (!o->cmd) {
		fprintf(stderr, PROG ": no command\n");
		goto bad;
	}
	if (o->nargs - 1 != (o->cmd->args ? 1 : 0) || (o->fmt == FMT_PROM && !o->cmd->prom) ||
	    (o->shard && o->fmt != FMT_TEXT)) {
		cmd_usage(o->cmd, stderr);
		return 2;
	}
	return -1;
bad:
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct cli o = {.sock = XTS_CTL_DEFAULT_PATH, .fmt = FMT_TEXT};
	struct ctl_reply r;
	int rc = parse_args(argc, argv, &o);

	if (rc >= 0)
		return rc;
	if (o.conf) {
		static struct cfg c;
		char err[CFG_ERR_LEN];

		if (cfg_load(o.conf, &c, err)) {
			fprintf(stderr, PROG ": %s\n", err);
			return 2;
		}
		o.sock = c.ctl_path;
	}
	rc = ctl_call(PROG, "xtsd", o.sock, o.nargs, o.args, REPLY_TIMEOUT_S, &r) ? 1 : 0;
	if (!rc && r.err) {
		fprintf(stderr, PROG ": %s: %s\n", o.cmd->name, r.errmsg);
		rc = 1;
	} else if (!rc && o.shard) {
		rc = out_shard(&r, o.shard);
	} else if (!rc && o.fmt == FMT_JSON) {
		ctl_reply_json(&r);
	} else if (!rc && o.fmt == FMT_PROM) {
		ctl_prom_write(stdout, r.line + 1, r.nlines ? r.nlines - 1 : 0);
	} else if (!rc) {
		o.cmd->text(&r);
	}
	ctl_reply_free(&r);
	return rc;
}

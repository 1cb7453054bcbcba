// SPDX-License-Identifier: BSD-2-Clause
/*
 * xtsctl - the XTS operator CLI: requests to xtsd over the ctl socket
 * (include/xts_ctl.h), the answer rendered as text for people (tables,
 * units: ctl_text.c), JSON for scripts or, for stats, the Prometheus text
 * format.  conns pages through the shards (ctl_conns.c), top samples the
 * counters into rates (ctl_top.c).
 *
 *   xtsctl [-s SOCKET | -c XTS.CONF] COMMAND [ARG] [OPTIONS] [--json] [--help]
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
#include "xtsctl.h"

/* xtsd answers within its own bounds (2 s for a request, 0.5 s for a
 * shard's snapshot); this one only keeps a wedged xtsd from hanging us */
#define REPLY_TIMEOUT_S 30

enum {
	OPT_PROM = 1,	/* takes --prometheus */
	OPT_CONNS = 2,	/* --shard N is a filter; --state, --addr, --port */
	OPT_TOP = 4,	/* --interval, --count */
	OPT_STOP = 8,	/* --wait, --timeout */
	OPT_SHARD = 16, /* --shard N: one shard's record as "key value" lines */
};

struct cmd {
	const char *name;
	const char *args; /* usage of its argument, or NULL */
	const char *help;
	unsigned opts;
	void (*text)(struct ctl_reply *r); /* NULL: run below */
	int (*run)(const struct cli *o);
};

static const struct cmd cmds[] = {
    {"status", NULL, "each shard: state, pid, CPU, node, uptime, restarts, connections", OPT_SHARD,
     text_status, NULL},
    {"stats", NULL, "counters per shard and in total (--prometheus: text exposition format)",
     OPT_PROM | OPT_SHARD, text_stats, NULL},
    {"top", NULL, "rates per second, every --interval S (1) for --count N samples (0: on)", OPT_TOP,
     NULL, run_top},
    {"conns", NULL, "connections of every shard, all of them (--shard, --state, --addr, --port)",
     OPT_CONNS, NULL, run_conns},
    {"listeners", NULL, "the listener registry", 0, text_listeners, NULL},
    {"reload", NULL, "re-read xts.conf, apply it, print what changed; a bad file changes nothing",
     0, text_reload, NULL},
    {"drain", "SHARD|all", "refuse new connects, let established connections finish", 0,
     text_status, NULL},
    {"undrain", "SHARD|all", "accept new connects again", 0, text_status, NULL},
    {"stop", NULL, "drain (at most timeouts.drain_ms), stop the shards, exit (--wait: until gone)",
     OPT_STOP, NULL, NULL},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [-s SOCKET | -c XTS.CONF] COMMAND [ARG] [OPTIONS] [--json]\n"
		   "       " PROG " --version\n"
		   "  -s SOCKET        xtsd's ctl socket (default " XTS_CTL_DEFAULT_PATH ")\n"
		   "  -c FILE          take the socket path from this xts.conf (ctl.path)\n"
		   "  --shard N        status, stats: shard N's record as \"key value\" lines\n"
		   "                   (stats: N may be all, total or tls); conns: shard N only\n"
		   "  --state S        conns: in state S (open, closing, connecting, ...)\n"
		   "  --addr A         conns: local or peer address A (1.2.3.4, ::1)\n"
		   "  --port P         conns: local or peer port P\n"
		   "  --interval S     top: seconds between samples (default 1)\n"
		   "  --count N        top: stop after N samples (default 0: never)\n"
		   "  --wait           stop: return once xtsd is gone (exit 1: still there)\n"
		   "  --timeout S      stop --wait: at most S seconds (default drain_ms + 10 s)\n"
		   "  -V               print the version and exit\n"
		   "commands:\n");
	for (unsigned i = 0; i < NCMDS; i++)
		fprintf(f, "  %-10s %-10s %s\n", cmds[i].name, cmds[i].args ? cmds[i].args : "",
			cmds[i].help);
	fprintf(f, "every command takes --json and --help; exit 0 ok, 1 failed, 2 usage\n");
}

static void cmd_usage(const struct cmd *c, FILE *f)
{
	fprintf(f, "usage: " PROG " %s%s%s [--json]%s%s%s%s%s\n  %s\n", c->name, c->args ? " " : "",
		c->args ? c->args : "", c->opts & OPT_PROM ? " [--prometheus]" : "",
		c->opts & OPT_SHARD ? " [--shard N]" : "",
		c->opts & OPT_CONNS ? " [--shard N] [--state S] [--addr A] [--port P]" : "",
		c->opts & OPT_TOP ? " [--interval S] [--count N]" : "",
		c->opts & OPT_STOP ? " [--wait [--timeout S]]" : "", c->help);
}

const char *rec_get(const struct ctl_rec *rec, const char *k)
{
	const char *v = ctl_rec_get(rec, k);

	return v ? v : "-";
}

int xtsctl_call(const struct cli *o, int argc, char **argv, struct ctl_reply *r)
{
	if (ctl_call(PROG, "xtsd", o->sock, argc, argv, REPLY_TIMEOUT_S, r))
		return 1;
	if (r->err) {
		fprintf(stderr, PROG ": %s: %s\n", argv[0], r->errmsg);
		return 1;
	}
	return 0;
}

/* --shard N: that shard's record, one "key value" line per field (for
 * scripts: `xtsctl stats --shard 1 | awk '$1 == "tx_seq"'`).  all: every
 * shard's, each starting with its "id" line; total: the total record;
 * tls: the TLS profiles' records, each starting with "profile P", then
 * "shard N"; listeners: the listening addresses', each from "shard N". */
static int out_shard(struct ctl_reply *r, const char *id)
{
	bool all = !strcmp(id, "all");
	const char *type = !strcmp(id, "total")	      ? "total"
			   : !strcmp(id, "tls")	      ? "tls"
			   : !strcmp(id, "listeners") ? "listener"
						      : "shard";
	bool list = !strcmp(type, "tls") || !strcmp(type, "listener");
	struct ctl_rec rec;
	int found = 0;

	for (unsigned i = 0; ctl_reply_next(r, &i, &rec);) {
		if (strcmp(rec.type, type) ||
		    (!strcmp(type, "shard") && !all && strcmp(rec_get(&rec, "id"), id)))
			continue;
		for (unsigned k = 0; k < rec.n; k++)
			printf("%s %s\n", rec.key[k], rec.val[k]);
		found = 1;
	}
	/* no TLS profile or listener at all is an empty list, not an error */
	if (!found && !list)
		fprintf(stderr, PROG ": no shard %s in the answer\n", id);
	return found || list ? 0 : 1;
}

/* A number option's value: 0, or 2 (usage) with why. */
static int num_arg(const char *opt, const char *v, double lo, double hi, double *out)
{
	char *end;

	*out = strtod(v, &end);
	if (end == v || *end || !(*out >= lo && *out <= hi)) {
		fprintf(stderr, PROG ": %s %s: want a number in [%g, %g]\n", opt, v, lo, hi);
		return 2;
	}
	return 0;
}

/* One option of the command line (argv[*i], its value argv[*i + 1]): 0,
 * 1 not one of these, 2 a bad value. */
static int parse_opt(int argc, char **argv, int *i, struct cli *o)
{
	static const char *const with_value[] = {"--shard",    "--state", "--addr",    "--port",
						 "--interval", "--count", "--timeout", NULL};
	const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	double d;
	unsigned k;

	if (!strcmp(a, "--wait")) {
		o->wait = true;
		return 0;
	}
	for (k = 0; with_value[k] && strcmp(a, with_value[k]); k++)
		;
	if (!with_value[k])
		return 1;
	if (!v) {
		fprintf(stderr, PROG ": %s: needs an argument\n", a);
		return 2;
	}
	++*i;
	switch (k) {
	case 0:
		o->shard = v;
		return 0;
	case 1:
		o->state = v;
		return 0;
	case 2:
		o->addr = v;
		return 0;
	case 3:
		if (num_arg(a, v, 0, 65535, &d))
			return 2;
		o->port = (long)d;
		return 0;
	case 4:
		return num_arg(a, v, 0.05, 3600, &o->interval_s);
	case 5:
		if (num_arg(a, v, 0, 1e9, &d))
			return 2;
		o->count = (long)d;
		return 0;
	default:
		return num_arg(a, v, 0, 86400, &o->timeout_s);
	}
}

/* The options given fit the command?  0, or 2 with its usage. */
static int check_opts(const struct cli *o)
{
	unsigned f = o->cmd->opts;
	bool bad = (o->fmt == FMT_PROM && !(f & OPT_PROM)) ||
		   (o->shard && !(f & (OPT_SHARD | OPT_CONNS))) ||
		   (o->shard && (f & OPT_SHARD) && o->fmt != FMT_TEXT) ||
		   ((o->state || o->addr || o->port >= 0) && !(f & OPT_CONNS)) ||
		   ((o->interval_s >= 0 || o->count >= 0) && !(f & OPT_TOP)) ||
		   ((o->wait || o->timeout_s >= 0) && !(f & OPT_STOP)) ||
		   (o->timeout_s >= 0 && !o->wait);

	if (o->nargs - 1 != (o->cmd->args ? 1 : 0) || bad) {
		cmd_usage(o->cmd, stderr);
		return 2;
	}
	return 0;
}

/* The command line into *o: -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct cli *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc;

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
		} else if (a[0] == '-' && a[1] && (rc = parse_opt(argc, argv, &i, o)) != 1) {
			if (rc)
				return 2;
		} else if (a[0] == '-' && a[1]) {
			bool known = !strcmp(a, "-s") || !strcmp(a, "--socket") ||
				     !strcmp(a, "-c") || !strcmp(a, "--config");

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
	return check_opts(o) ? 2 : -1;
bad:
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct cli o = {.sock = XTS_CTL_DEFAULT_PATH,
			.fmt = FMT_TEXT,
			.port = -1,
			.interval_s = -1,
			.count = -1,
			.timeout_s = -1};
	struct ctl_reply r;
	int rc = parse_args(argc, argv, &o);

	if (rc >= 0)
		return rc;
	if (o.interval_s < 0)
		o.interval_s = 1;
	if (o.count < 0)
		o.count = 0;
	if (o.conf) {
		static struct cfg c;
		char err[CFG_ERR_LEN];

		if (cfg_load(o.conf, &c, err)) {
			fprintf(stderr, PROG ": %s\n", err);
			return 2;
		}
		o.sock = c.ctl_path;
	}
	if (o.cmd->run)
		return o.cmd->run(&o);
	rc = xtsctl_call(&o, o.nargs, o.args, &r);
	if (!rc && o.shard)
		rc = out_shard(&r, o.shard);
	else if (!rc && o.fmt == FMT_JSON)
		ctl_reply_json(&r);
	else if (!rc && o.fmt == FMT_PROM)
		ctl_prom_write(stdout, r.line + 1, r.nlines ? r.nlines - 1 : 0);
	else if (!rc && o.cmd->text)
		o.cmd->text(&r);
	if (!rc && o.cmd->opts & OPT_STOP)
		rc = text_stop(&o, &r); /* its text, and --wait */
	ctl_reply_free(&r);
	return rc;
}

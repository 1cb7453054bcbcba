// SPDX-License-Identifier: BSD-2-Clause
/*
 * optdoc - writes the option section of xts.conf(5) and xportd.conf(5)
 * from the one option table of each file (supervisor/cfg.c cfg_opts(),
 * xport/xportd/xpd_cfg.c xpd_cfg_opts()), so the pages cannot drift from
 * what the parsers accept: a new row is on the page at the next build.
 *
 *   optdoc xts|xportd TEMPLATE OUT   the page: TEMPLATE with its line
 *                                    ".\" xts-optdoc: the options go here"
 *                                    replaced by one
 *                                    entry per option
 *   optdoc xts|xportd --names        the option names, one a line (the
 *                                    man check diffs them against the page)
 *
 * Build-time only; not installed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "xportd.h"

#define MARKER ".\\\" xts-optdoc: the options go here"

/* s as roff text: backslash and minus escaped, a leading dot or quote
 * defused (it would start a request). */
static void roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

static void values(FILE *f, const struct cfg_opt *o)
{
	switch (o->type) {
	case CFG_T_U32:
	case CFG_T_U64:
		fprintf(f, "An integer, %lld to %lld; default %lld.\n", o->min, o->max, o->def);
		break;
	case CFG_T_ENUM:
	case CFG_T_STR:
		fputs(o->names ? "One of " : "A string", f);
		for (int i = 0; o->names && o->names[i]; i++) {
			fputs(i ? (o->names[i + 1] ? ", " : " or ") : "", f);
			fputs("\\(lq", f);
			roff(f, o->names[i]);
			fputs("\\(rq", f);
		}
		fputs("; default \\(lq", f);
		roff(f, o->sdef ? o->sdef : "");
		fputs("\\(rq.\n", f);
		break;
	case CFG_T_MODE:
		fputs("An octal file mode as a string, \\(lq0000\\(rq to \\(lq0777\\(rq; default "
		      "\\(lq",
		      f);
		roff(f, o->sdef);
		fputs("\\(rq.\n", f);
		break;
	case CFG_T_LISTEN:
		fputs("An address and port to listen on, \\(lq127.0.0.1:9464\\(rq or "
		      "\\(lq[::1]:9464\\(rq (numbers, not names), or \\(lq\\(rq for none; default "
		      "\\(lq",
		      f);
		roff(f, o->sdef);
		fputs("\\(rq.\n", f);
		break;
	case CFG_T_GROUP:
		fprintf(f, "A group: %s = { ... };\n", o->name);
		break;
	default: /* lists: the page says more in a section of its own */
		fputs("A list; see below.\n", f);
		break;
	}
}

static void entry(FILE *f, const struct cfg_opt *o, bool reload)
{
	static const char *const how[] = {
	    [CFG_RESTART] = "Changing it needs a restart.",
	    [CFG_RELOAD] = "A reload applies it.",
	    [CFG_RELOAD_DOWN] = "A reload may lower it, or raise it back to the value the daemon "
				"started with; above that it needs a restart (it sized a table).",
	};

	fputs(".TP\n.B ", f);
	roff(f, o->name);
	fputc('\n', f);
	/* the table's help is a phrase; on the page it starts a sentence */
	if (o->help[0] >= 'a' && o->help[0] <= 'z')
		fputc(o->help[0] - 'a' + 'A', f);
	roff(f, o->help + (o->help[0] >= 'a' && o->help[0] <= 'z'));
	fputs(".\n", f);
	values(f, o);
	if (reload && o->type != CFG_T_GROUP)
		fprintf(f, "%s\n", how[o->reload]);
}

static int page(const struct cfg_opt *o, size_t n, bool reload, const char *in, const char *out)
{
	FILE *t = fopen(in, "r"), *f = NULL;
	char line[4096];
	int found = 0;

	if (!t) {
		fprintf(stderr, "optdoc: %s: %s\n", in, strerror(errno));
		return 1;
	}
	f = fopen(out, "w");
	if (!f) {
		fprintf(stderr, "optdoc: %s: %s\n", out, strerror(errno));
		fclose(t);
		return 1;
	}
	while (fgets(line, sizeof(line), t)) {
		if (strncmp(line, MARKER, strlen(MARKER))) {
			fputs(line, f);
			continue;
		}
		found++;
		for (size_t i = 0; i < n; i++)
			entry(f, &o[i], reload);
	}
	fclose(t);
	if (fclose(f) || found != 1) {
		fprintf(stderr, "optdoc: %s: %s\n", in,
			found == 1 ? strerror(errno) : "needs exactly one line " MARKER);
		remove(out);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct cfg_opt *o;
	bool reload;
	size_t n;

	if (argc < 3 || (strcmp(argv[1], "xts") && strcmp(argv[1], "xportd"))) {
		fprintf(stderr, "usage: optdoc xts|xportd TEMPLATE OUT | --names\n");
		return 2;
	}
	reload = !strcmp(argv[1], "xts"); /* every xportd option needs a restart */
	o = reload ? cfg_opts(&n) : xpd_cfg_opts(&n);
	if (!strcmp(argv[2], "--names")) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", o[i].name);
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: optdoc xts|xportd TEMPLATE OUT | --names\n");
		return 2;
	}
	return page(o, n, reload, argv[2], argv[3]);
}

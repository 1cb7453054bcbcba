// SPDX-License-Identifier: BSD-2-Clause
/* ctl_fmt.c - units and aligned tables for xtsctl's human output (ctl_fmt.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_fmt.h"

const char *fmt_bytes(uint64_t v, char buf[FMT_LEN])
{
	static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double d = (double)v;
	unsigned u = 0;

	if (v < 1024) {
		snprintf(buf, FMT_LEN, "%u B", (unsigned)v);
		return buf;
	}
	for (d /= 1024; d >= 1024 && u < 5; u++)
		d /= 1024;
	/* 1023.95 KiB would print as "1024.0 KiB": go up instead */
	if (d >= 1023.95 && u < 5) {
		d /= 1024;
		u++;
	}
	snprintf(buf, FMT_LEN, "%.1f %s", d, unit[u]);
	return buf;
}

const char *fmt_byte_rate(double per_s, char buf[FMT_LEN])
{
	size_t n;

	fmt_bytes(per_s < 0 ? 0 : (uint64_t)(per_s + 0.5), buf);
	n = strlen(buf);
	snprintf(buf + n, FMT_LEN - n, "/s");
	return buf;
}

const char *fmt_rate(double per_s, const char *unit, char buf[FMT_LEN])
{
	/* "/s" reads "k/s"; "pps" reads "kpps" */
	const char *sep = unit[0] == '/' ? "" : " ";

	if (per_s < 0)
		per_s = 0;
	if (per_s < 999.5)
		snprintf(buf, FMT_LEN, "%.0f%s%s", per_s, sep, unit);
	else if (per_s < 999.95e3)
		snprintf(buf, FMT_LEN, "%.1f%sk%s", per_s / 1e3, sep, unit);
	else if (per_s < 999.95e6)
		snprintf(buf, FMT_LEN, "%.1f%sM%s", per_s / 1e6, sep, unit);
	else
		snprintf(buf, FMT_LEN, "%.1f%sG%s", per_s / 1e9, sep, unit);
	return buf;
}

const char *fmt_dur(uint64_t s, char buf[FMT_LEN])
{
	if (s < 60)
		snprintf(buf, FMT_LEN, "%us", (unsigned)s);
	else if (s < 3600)
		snprintf(buf, FMT_LEN, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
	else if (s < 86400)
		snprintf(buf, FMT_LEN, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s / 60 % 60));
	else
		snprintf(buf, FMT_LEN, "%llud%02uh", (unsigned long long)(s / 86400),
			 (unsigned)(s / 3600 % 24));
	return buf;
}

const char *fmt_epoch(uint64_t e, char buf[FMT_LEN])
{
	snprintf(buf, FMT_LEN, "%08llx", (unsigned long long)e);
	return buf;
}

const char *fmt_place(const char *v)
{
	return !v || !*v || v[0] == '-' ? "-" : v;
}

int tbl_wrap(FILE *f, const char *head0, const char *const *heads, unsigned ncols,
	     const char *const *names, unsigned nrows, const char *const *cells, unsigned per)
{
	const char *cols[TBL_MAXCOL];
	int err = 0;

	if (!per || per > TBL_MAXCOL - 1)
		per = TBL_MAXCOL - 1;
	cols[0] = head0;
	for (unsigned c0 = 0; c0 < ncols || !c0; c0 += per) {
		unsigned n = ncols - c0 < per ? ncols - c0 : per;
		struct tbl t;

		for (unsigned k = 0; k < n; k++)
			cols[1 + k] = heads[c0 + k];
		tbl_init(&t, 1 + n, cols);
		for (unsigned r = 0; r < nrows; r++) {
			tbl_cell(&t, names[r]);
			for (unsigned k = 0; k < n; k++)
				tbl_cell(&t, cells[(size_t)r * ncols + c0 + k]);
		}
		if (c0)
			fputc('\n', f);
		tbl_flush(&t, f);
		err = t.err ? -ENOMEM : err;
		tbl_free(&t);
	}
	return err;
}

void tbl_init(struct tbl *t, unsigned ncol, const char *const *cols)
{
	memset(t, 0, sizeof(*t));
	t->ncol = ncol > TBL_MAXCOL ? TBL_MAXCOL : ncol;
	for (unsigned c = 0; c < t->ncol; c++) {
		t->right[c] = cols[c][0] == '>';
		t->head[c] = cols[c] + t->right[c];
		t->w[c] = (unsigned)strlen(t->head[c]);
	}
}

void tbl_cell(struct tbl *t, const char *s)
{
	unsigned n;
	char *d;

	if (t->col == 0 && t->nrows == t->cap) {
		unsigned cap = t->cap ? t->cap * 2 : 64;
		char **nc = realloc(t->cell, (size_t)cap * t->ncol * sizeof(*nc));

		if (!nc) {
			t->err = true;
			return;
		}
		t->cell = nc;
		t->cap = cap;
	}
	if (t->err)
		return;
	d = strdup(s ? s : "-");
	if (!d) {
		t->err = true;
		d = NULL;
	}
	t->cell[t->nrows * t->ncol + t->col] = d;
	n = d ? (unsigned)strlen(d) : 0;
	if (n > t->w[t->col])
		t->w[t->col] = n;
	if (++t->col == t->ncol) {
		t->col = 0;
		t->nrows++;
	}
}

static void row(const struct tbl *t, FILE *f, const char *const *cells)
{
	for (unsigned c = 0; c < t->ncol; c++) {
		bool last = c + 1 == t->ncol;

		if (t->right[c])
			fprintf(f, "%*s", (int)t->w[c], cells[c] ? cells[c] : "");
		else if (last) /* no trailing blanks */
			fputs(cells[c] ? cells[c] : "", f);
		else
			fprintf(f, "%-*s", (int)t->w[c], cells[c] ? cells[c] : "");
		fputs(last ? "\n" : "  ", f);
	}
}

void tbl_flush(struct tbl *t, FILE *f)
{
	if (!t->head_done) {
		row(t, f, t->head);
		t->head_done = true;
	}
	for (unsigned r = 0; r < t->nrows; r++)
		row(t, f, (const char *const *)&t->cell[r * t->ncol]);
	for (unsigned i = 0; i < t->nrows * t->ncol; i++)
		free(t->cell[i]);
	t->nrows = 0;
}

void tbl_free(struct tbl *t)
{
	for (unsigned i = 0; i < t->nrows * t->ncol + t->col; i++)
		free(t->cell[i]);
	free(t->cell);
	t->cell = NULL;
	t->nrows = t->cap = t->col = 0;
}

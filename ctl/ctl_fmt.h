/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctl_fmt.h - xtsctl's human output (ctl_fmt.c): numbers with units and
 * tables with a header row and aligned columns.  Pure: the unit test
 * (tests/unit/test_ctl_fmt.c) drives it.
 *
 * Units: bytes in IEC units (512 B, 12.3 MiB), byte rates per second
 * (12.3 MiB/s), packet and event rates in SI (830/s, 1.2 Mpps), durations
 * as the two largest units (45s, 12m03s, 3h12m, 2d03h), session epochs
 * as 8 hex digits (as the logs print them).
 */
#ifndef XTS_CTL_FMT_H
#define XTS_CTL_FMT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define FMT_LEN 32 /* room for any one value below */

const char *fmt_bytes(uint64_t v, char buf[FMT_LEN]);
const char *fmt_byte_rate(double per_s, char buf[FMT_LEN]);
/* unit: "pps", "/s" */
const char *fmt_rate(double per_s, const char *unit, char buf[FMT_LEN]);
const char *fmt_dur(uint64_t s, char buf[FMT_LEN]);
const char *fmt_epoch(uint64_t e, char buf[FMT_LEN]);
/* A CPU or NUMA node number, "-" for -1 (not pinned, none chosen). */
const char *fmt_place(const char *v);

/* A table: rows of cells kept until tbl_flush() prints them under the
 * header, each column as wide as its widest cell so far.  Widths only
 * grow, so a table flushed page by page (conns) stays aligned from one
 * page to the next as long as no later cell is wider. */
#define TBL_MAXCOL 16

struct tbl {
	unsigned ncol;
	const char *head[TBL_MAXCOL];
	bool right[TBL_MAXCOL]; /* right-aligned (numbers) */
	unsigned w[TBL_MAXCOL];
	char **cell; /* nrows * ncol strings */
	unsigned nrows, cap;
	unsigned col; /* next cell of the row being filled */
	bool head_done, err;
};

/* cols: "NAME" left-aligned, ">NAME" right-aligned. */
void tbl_init(struct tbl *t, unsigned ncol, const char *const *cols);
void tbl_cell(struct tbl *t, const char *s); /* the next cell, rows fill left to right */
void tbl_flush(struct tbl *t, FILE *f);	     /* header (first time) and rows so far */
void tbl_free(struct tbl *t);

/*
 * A table wider than a screen (stats: one column a shard): a first column
 * of row names (@head0; names[nrows]) and @ncols value columns (heads,
 * cells[r * ncols + c]), printed as several tables one under the other,
 * a blank line between, each with the row names and at most @per value
 * columns (at most TBL_MAXCOL - 1).  -ENOMEM, or 0.
 */
int tbl_wrap(FILE *f, const char *head0, const char *const *heads, unsigned ncols,
	     const char *const *names, unsigned nrows, const char *const *cells, unsigned per);

#endif

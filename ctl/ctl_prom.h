/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctl_prom.h - the Prometheus text exposition format (0.0.4) of xtsd's
 * `stats` records: the one formatter behind `xtsctl stats --prometheus`
 * and xtsd's GET /metrics.  Both hand it the same records (include/
 * xts_ctl.h): xtsctl those xtsd answered, xtsd those it builds itself.
 */
#ifndef XTS_CTL_PROM_H
#define XTS_CTL_PROM_H

#include <stdio.h>

#include "xts_ctl.h"

/* Write the exposition of the records @line[0..n) (record lines, without
 * the status line; each is parsed on a copy) to @f. */
void ctl_prom_write(FILE *f, char *const *line, unsigned n);

/* The pieces, for another daemon's exposition (xportd): a family's HELP
 * and TYPE lines; a label value escaped as the format wants (\\, \", \n). */
void ctl_prom_family(FILE *f, const char *name, const char *type, const char *help);
void ctl_prom_label(FILE *f, const char *v);
/* NAME{version="V"} 1, V the record's "version" (r NULL: "unknown"),
 * as Prometheus exporters give their build. */
void ctl_prom_build_info(FILE *f, const char *name, const char *help, const struct ctl_rec *r);
/* One sample per record of @type that has a number at @key:
 * NAME{LABEL="ID"} VALUE, ID the record's "id". */
void ctl_prom_samples(FILE *f, const struct ctl_rec *rec, unsigned n, const char *type,
		      const char *label, const char *name, const char *key);
/* The number a record holds at @k; NULL: none, or not a number. */
const char *ctl_prom_num(const struct ctl_rec *r, const char *k);

#endif

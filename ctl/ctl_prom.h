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

/* Write the exposition of the records @line[0..n) (record lines, without
 * the status line; each is parsed on a copy) to @f. */
void ctl_prom_write(FILE *f, char *const *line, unsigned n);

#endif

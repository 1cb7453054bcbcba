/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bench.h - xts-bench internals: the server (server.c), the client
 * workloads over XTS and kernel TCP (client.c), the raw AF_XDP ceiling
 * (raw.c) and the report (report.c).
 *
 * Every measuring subcommand prints its figures to stdout as
 * "name value" lines (value a number or a string); the driver
 * (run-bench) collects them into one file and `xts-bench report` turns
 * that file into the table, the JSON and the SVG.
 */
#ifndef XTS_BENCH_H
#define XTS_BENCH_H

#include <stdint.h>
#include <stdio.h>

/* ports of `xts-bench server`: base + these */
#define BP_ECHO	   0 /* echo everything back */
#define BP_SINK	   1 /* discard; close on EOF */
#define BP_SOURCE  2 /* send without end */
#define BENCH_PORT 9000

uint64_t bench_now_ns(void);
/* user+system CPU seconds of this process so far */
double bench_cpu_s(void);
void bench_die(const char *what, int err) __attribute__((noreturn));
/* quantile q (0..1) of sorted nanosecond samples, in microseconds */
double bench_quantile_us(const uint64_t *sorted, size_t n, double q);
/* Print "prefix.pNN" figures and a CDF string of @n samples (sorted in place). */
void bench_print_lat(const char *prefix, uint64_t *samples, size_t n);

/* instr.c: a disabled PMU instruction counter of this process (user and
 * kernel), or -errno where there is none; bench_counted() runs fn(arg)
 * with it counting (pfd < 0: just runs it) and returns the count.
 * callgrind collects inside bench_counted only (run-bench). */
int bench_instr_open(void);
uint64_t bench_counted(int pfd, void (*fn)(void *), void *arg);

/* tls_server.c: the answer to every request of the TLS workloads */
extern const char tls_resp[];
#define TLS_RESP_LEN (39 + 64) /* sizeof(tls_resp) - 1: header, 64-byte body */

int bench_server_main(int argc, char **argv);
int bench_client_main(int argc, char **argv);
int bench_raw_main(int argc, char **argv);
int bench_report_main(int argc, char **argv);
int bench_instr_main(int argc, char **argv);
int bench_tlsserver_main(int argc, char **argv);
int bench_tlsclient_main(int argc, char **argv);

#endif

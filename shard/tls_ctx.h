/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tls_ctx.h - TLS profiles (xts.conf `tls`, struct xts_shm_tls_prof) made
 * into OpenSSL contexts.  One builder for the shard, which makes a context
 * set per configuration generation, and for xtsd, which checks a profile
 * (every file loads, each key matches its certificate) before a
 * configuration is taken, so that `xtsd -t` and reload refuse a bad one
 * with its reason.
 */
#ifndef XTS_TLS_CTX_H
#define XTS_TLS_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "xts_shm.h"

/* TLS versions as xts.conf and the profile write them */
#define TLS_VER_12 0x0303
#define TLS_VER_13 0x0304

/*
 * A context for profile @p: @server (terminate) with certificate @cert
 * (0 the default, 1.. the SNI ones), or a client (originate).  Versions,
 * ciphers, CA, verification, no renegotiation, no 0-RTT, buffers released
 * while idle.  0 with *out set, or -errno with the reason in @why.
 */
int tls_ctx_build(const struct xts_shm_tls_prof *p, bool server, unsigned cert, SSL_CTX **out,
		  char *why, size_t whylen);

/* xtsd's check: every context of @p builds.  0 or -errno with @why. */
int tls_prof_check(const struct xts_shm_tls_prof *p, char *why, size_t whylen);

/* OpenSSL's allocations counted (bytes it holds: tls_mem_bytes), for the
 * tls_mem gauge.  Only before OpenSSL's first allocation in the process
 * (xtsd calls it first thing; its forked shards inherit it): 0, or
 * -EBUSY too late (the gauge stays 0). */
int tls_mem_account(void);
uint64_t tls_mem_bytes(void);

/* The last OpenSSL error as text ("" none), and the queue emptied. */
const char *tls_err_text(char *buf, size_t len);

#endif

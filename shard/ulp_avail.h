/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ulp_avail.h - which TCP ULPs the kernel offers, and so how a shard
 * carries TLS records (xts.conf tls.[i].bio; docs/design.md, "TLS on the
 * shard").  Pure functions over the text of
 * /proc/sys/net/ipv4/tcp_available_ulp (a space-separated list of names,
 * "mptcp tls\n"), no I/O beyond reading that file, so that hostile or odd
 * content (NULs, no newline, a name cut short, "tlsx") is unit-tested.
 */
#ifndef XTS_SHARD_ULP_AVAIL_H
#define XTS_SHARD_ULP_AVAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ULP_AVAIL_PATH "/proc/sys/net/ipv4/tcp_available_ulp"

/* Does the list @text (@len bytes, not necessarily NUL-ended) name @name
 * as a whole word?  Words end at a space, tab, newline or NUL; a NUL also
 * ends the list (nothing after it counts). */
bool ulp_list_has(const char *text, size_t len, const char *name);

/* The list as the kernel gives it, at most @size - 1 bytes, NUL-ended,
 * its trailing newline dropped: 0, or -errno (no such file: an old or
 * ULP-less kernel, which offers none). */
int ulp_list_read(const char *path, char *buf, size_t size);

/* A profile's bio setting (XTS_TLS_BIO_*, include/xts_shm.h) made into
 * what its connections use: true OpenSSL's socket BIO (kTLS where the
 * kernel takes the records), false the shard's own BIO.  "auto" is the
 * socket BIO exactly where the kernel offers the "tls" ULP (@ktls). */
bool tls_bio_socket(uint32_t setting, bool ktls);

#endif

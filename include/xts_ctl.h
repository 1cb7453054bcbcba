/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xts_ctl.h - the ctl wire: requests and responses between xtsctl (or any
 * client) and xtsd over the ctl socket (a unix stream socket).
 * docs/operations.md describes it in prose.
 *
 * One request per connection, text lines, each at most XTS_CTL_LINE_MAX
 * bytes.  A word is percent-encoded: bytes other than [A-Za-z0-9._:/,@+-]
 * travel as %XX, so words never hold spaces, '=' or newlines.
 *
 *   request:   "v1 COMMAND [ARG ...]\n"
 *   response:  "ok\n" | "error ERRNO MESSAGE\n"
 *              then records:  "TYPE KEY=VALUE KEY=VALUE ...\n"
 *              then "end\n"; xtsd closes the connection.
 *
 * A value that is a decimal integer is a number; anything else a string.
 */
#ifndef XTS_CTL_H
#define XTS_CTL_H

#include <stddef.h>
#include <stdint.h>

#define XTS_CTL_VERSION	     "v1"
#define XTS_CTL_LINE_MAX     8192
#define XTS_CTL_MAX_ARGS     8
#define XTS_CTL_REC_MAX_KV   128 /* a stats shard record has 54, and grows with the counters */
#define XTS_CTL_RESP_MAX     (16u << 20) /* bound on a whole response */
#define XTS_CTL_DEFAULT_PATH "/run/xts/ctl.sock"

/* A growing response buffer; err set once an allocation failed. */
struct ctl_buf {
	char *p;
	size_t len, cap;
	int err;
};

void ctl_buf_free(struct ctl_buf *b);
void ctl_buf_put(struct ctl_buf *b, const char *s, size_t n);
/* one encoded word */
void ctl_buf_word(struct ctl_buf *b, const char *w);

/* Records: begin, fields, end (the newline). */
void ctl_rec_begin(struct ctl_buf *b, const char *type);
void ctl_rec_str(struct ctl_buf *b, const char *key, const char *val);
void ctl_rec_u64(struct ctl_buf *b, const char *key, uint64_t v);
void ctl_rec_i64(struct ctl_buf *b, const char *key, int64_t v);
void ctl_rec_end(struct ctl_buf *b);

/* A request line: "v1" + argv; a response status line. */
void ctl_req_build(struct ctl_buf *b, int argc, char *const argv[]);
void ctl_status_line(struct ctl_buf *b, int err, const char *msg);

/* Decode a %XX-encoded word in place: 0 or -EINVAL. */
int ctl_unescape(char *w);

/* Split a request line (no newline) in place: argc (>= 1) with argv
 * decoded, or -EPROTO (bad version, empty), -E2BIG (too many words). */
int ctl_req_parse(char *line, char *argv[], int max);

/* A parsed record, pointing into its line. */
struct ctl_rec {
	char *type;
	unsigned n;
	char *key[XTS_CTL_REC_MAX_KV];
	char *val[XTS_CTL_REC_MAX_KV];
};
/* Parse a record line in place: 0 or -EINVAL. */
int ctl_rec_parse(char *line, struct ctl_rec *r);
/* The value of key in r, or NULL. */
const char *ctl_rec_get(const struct ctl_rec *r, const char *key);
/* Is this value a number on the wire (-?[0-9]+)? */
int ctl_is_number(const char *v);

/* Write all of buf to a blocking socket (EINTR retried; no SIGPIPE: a peer
 * that closed is -EPIPE): 0 or -errno. */
int ctl_write_all(int fd, const char *p, size_t n);

#endif

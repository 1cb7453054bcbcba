// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl_proto.c - the ctl wire (include/xts_ctl.h): encoding of requests,
 * status lines and records, and their parsers.  Shared by xtsd (server)
 * and xtsctl (client); no I/O policy here beyond ctl_write_all.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "xts_ctl.h"

void ctl_buf_free(struct ctl_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void ctl_buf_put(struct ctl_buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > XTS_CTL_RESP_MAX || !(p = realloc(b->p, cap))) {
			b->err = cap > XTS_CTL_RESP_MAX ? -E2BIG : -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static int plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("._:/,@+-", c) != NULL;
}

void ctl_buf_word(struct ctl_buf *b, const char *w)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)w;

	if (!*s) { /* the empty word travels as %00-free "%" marker: "%" alone */
		ctl_buf_put(b, "%", 1);
		return;
	}
	for (; *s; s++) {
		if (*s && plain(*s)) {
			ctl_buf_put(b, (const char *)s, 1);
		} else {
			char e[3] = {'%', hex[*s >> 4], hex[*s & 15]};

			ctl_buf_put(b, e, 3);
		}
	}
}

void ctl_rec_begin(struct ctl_buf *b, const char *type)
{
	ctl_buf_word(b, type);
}

void ctl_rec_str(struct ctl_buf *b, const char *key, const char *val)
{
	ctl_buf_put(b, " ", 1);
	ctl_buf_word(b, key);
	ctl_buf_put(b, "=", 1);
	ctl_buf_word(b, val);
}

void ctl_rec_u64(struct ctl_buf *b, const char *key, uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRIu64, v);
	ctl_rec_str(b, key, s);
}

void ctl_rec_i64(struct ctl_buf *b, const char *key, int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	ctl_rec_str(b, key, s);
}

void ctl_rec_end(struct ctl_buf *b)
{
	ctl_buf_put(b, "\n", 1);
}

void ctl_req_build(struct ctl_buf *b, int argc, char *const argv[])
{
	ctl_buf_put(b, XTS_CTL_VERSION, strlen(XTS_CTL_VERSION));
	for (int i = 0; i < argc; i++) {
		ctl_buf_put(b, " ", 1);
		ctl_buf_word(b, argv[i]);
	}
	ctl_buf_put(b, "\n", 1);
}

void ctl_status_line(struct ctl_buf *b, int err, const char *msg)
{
	char n[32];

	if (!err) {
		ctl_buf_put(b, "ok\n", 3);
		return;
	}
	snprintf(n, sizeof(n), "error %d ", err < 0 ? -err : err);
	ctl_buf_put(b, n, strlen(n));
	ctl_buf_word(b, msg);
	ctl_buf_put(b, "\n", 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int ctl_unescape(char *w)
{
	char *o = w;

	if (w[0] == '%' && !w[1]) { /* the empty word */
		w[0] = 0;
		return 0;
	}
	while (*w) {
		if (*w == '%') {
			int h = hexval(w[1]), l = h < 0 ? -1 : hexval(w[2]);

			if (h < 0 || l < 0 || (!h && !l))
				return -EINVAL;
			*o++ = (char)(h << 4 | l);
			w += 3;
		} else if (plain((unsigned char)*w)) {
			*o++ = *w++;
		} else {
			return -EINVAL;
		}
	}
	*o = 0;
	return 0;
}

int ctl_req_parse(char *line, char *argv[], int max)
{
	char *save = NULL, *w;
	int argc = 0;

	w = strtok_r(line, " ", &save);
	if (!w || strcmp(w, XTS_CTL_VERSION))
		return -EPROTO;
	while ((w = strtok_r(NULL, " ", &save))) {
		if (argc == max)
			return -E2BIG;
		if (ctl_unescape(w))
			return -EPROTO;
		argv[argc++] = w;
	}
	return argc ? argc : -EPROTO;
}

int ctl_rec_parse(char *line, struct ctl_rec *r)
{
	char *save = NULL, *w;

	memset(r, 0, sizeof(*r));
	w = strtok_r(line, " ", &save);
	if (!w || ctl_unescape(w))
		return -EINVAL;
	r->type = w;
	while ((w = strtok_r(NULL, " ", &save))) {
		char *eq = strchr(w, '=');

		if (!eq || r->n == XTS_CTL_REC_MAX_KV)
			return -EINVAL;
		*eq = 0;
		if (ctl_unescape(w) || ctl_unescape(eq + 1))
			return -EINVAL;
		r->key[r->n] = w;
		r->val[r->n++] = eq + 1;
	}
	return 0;
}

const char *ctl_rec_get(const struct ctl_rec *r, const char *key)
{
	for (unsigned i = 0; i < r->n; i++)
		if (!strcmp(r->key[i], key))
			return r->val[i];
	return NULL;
}

int ctl_is_number(const char *v)
{
	if (*v == '-')
		v++;
	if (!*v || (v[0] == '0' && v[1]))
		return 0;
	for (; *v; v++)
		if (*v < '0' || *v > '9')
			return 0;
	return 1;
}

int ctl_write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

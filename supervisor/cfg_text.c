// SPDX-License-Identifier: BSD-2-Clause
/*
 * cfg_text.c - xts.conf's bytes, before libconfig sees them.
 *
 * libconfig 1.5 (Debian 12) has three traps that cfg.c must not walk into:
 * - it reads through stdio, so a FIFO given as the file blocks the reader
 *   for ever, and a directory makes its flex scanner call exit() ("input
 *   in flex scanner failed"): xtsd would die on a reload;
 * - it follows `@include "PATH"` to any path, with the same results;
 * - it reads an unsuffixed integer past 32 bits with atoi(): 5368709120
 *   silently becomes 1073741824, 4294967297 becomes 1, and a hex literal
 *   above 0x7fffffff turns negative.
 * So the file is opened once (O_NONBLOCK: a FIFO cannot block the open),
 * the open fd is checked with fstat (no window between a check and the
 * open), at most CFG_MAX_BYTES are read, and the text is rewritten in
 * memory before libconfig parses it: `@` (an include) and NUL bytes are
 * refused, and an integer literal outside 32 bits gets the `L` suffix, so
 * libconfig reads the 64-bit value that was written.  One past 64 bits
 * becomes a float literal, which cfg.c's range check refuses by name.
 * Newlines are kept, so libconfig's line numbers stay the file's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_opt.h"

struct scan {
	const char *in;
	size_t len, i;
	char *out;
	size_t n;
	unsigned line;
};

static void put(struct scan *sc, const char *p, size_t n)
{
	memcpy(sc->out + sc->n, p, n);
	sc->n += n;
}

/* Copy through the end of the current line (a comment). */
static void copy_line(struct scan *sc)
{
	size_t j = sc->i;

	while (j < sc->len && sc->in[j] != '\n')
		j++;
	put(sc, sc->in + sc->i, j - sc->i);
	sc->i = j;
}

/* Copy a "string" or a block comment through its end (or the text's). */
static void copy_until(struct scan *sc, const char *end, size_t skip)
{
	size_t j = sc->i + skip, elen = strlen(end);

	while (j < sc->len) {
		if (sc->in[j] == '\\' && end[0] == '"' && j + 1 < sc->len) {
			sc->line += sc->in[j + 1] == '\n';
			j += 2;
			continue;
		}
		if (j + elen <= sc->len && !memcmp(sc->in + j, end, elen)) {
			j += elen;
			break;
		}
		sc->line += sc->in[j] == '\n';
		j++;
	}
	put(sc, sc->in + sc->i, j - sc->i);
	sc->i = j;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

static int is_name(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '*' || c == '-';
}

/* Copy from sc->i through what is left of a float or a glued-on word
 * ("1.5e-3", "10L", "7x"), starting the scan at @j. */
static void copy_word(struct scan *sc, size_t j)
{
	while (j < sc->len &&
	       (is_name(sc->in[j]) || sc->in[j] == '.' ||
		((sc->in[j] == '+' || sc->in[j] == '-') && (sc->in[j - 1] | 0x20) == 'e')))
		j++;
	put(sc, sc->in + sc->i, j - sc->i);
	sc->i = j;
}

/*
 * An integer literal at sc->i (sign, decimal or 0x hex), without a suffix:
 * its magnitude decides.  Within 32 bits it is copied as it is; within 64
 * bits it gets `L`; past 64 bits it is written as a float (decimal: ".0"
 * appended; hex: its value in %.17g), which no integer option accepts.
 * Anything else that starts with a digit (a float, a suffixed literal,
 * garbage) is copied for libconfig to judge.
 */
static void number(struct scan *sc)
{
	size_t j = sc->i, start = sc->i;
	int neg = 0, hex = 0, over = 0;
	uint64_t mag = 0;
	long double big = 0;

	if (sc->in[j] == '-' || sc->in[j] == '+')
		neg = sc->in[j++] == '-';
	if (j + 2 < sc->len && sc->in[j] == '0' && (sc->in[j + 1] | 0x20) == 'x' &&
	    hexval(sc->in[j + 2]) >= 0)
		hex = 1, j += 2;
	for (; j < sc->len; j++) {
		int d = hex					 ? hexval(sc->in[j])
			: (sc->in[j] >= '0' && sc->in[j] <= '9') ? sc->in[j] - '0'
								 : -1;
		unsigned base = hex ? 16 : 10;

		if (d < 0)
			break;
		big = big * base + d;
		if (mag > (UINT64_MAX - (unsigned)d) / base)
			over = 1;
		else
			mag = mag * base + (unsigned)d;
	}
	/* a float, a suffix, a name glued on: not ours to rewrite */
	if (j < sc->len && (sc->in[j] == '.' || is_name(sc->in[j]) || (neg && hex))) {
		copy_word(sc, j);
		return;
	}
	put(sc, sc->in + start, j - start);
	sc->i = j;
	if (!over && mag <= (neg ? 0x80000000ull : 0x7fffffffull))
		return; /* libconfig reads 32 bits right */
	if (!over && mag <= (neg ? 0x8000000000000000ull : 0x7fffffffffffffffull)) {
		put(sc, "L", 1);
		return;
	}
	if (!hex) {
		put(sc, ".0", 2);
	} else {
		char f[40];
		int n;

		sc->n -= j - start;
		n = snprintf(f, sizeof(f), "%.17Lg", neg ? -big : big);
		put(sc, f, (size_t)n);
	}
}

static int scan(struct scan *sc, const char *file, char err[CFG_ERR_LEN])
{
	while (sc->i < sc->len) {
		char c = sc->in[sc->i], nx = sc->i + 1 < sc->len ? sc->in[sc->i + 1] : 0;

		if (c == '\0') {
			snprintf(err, CFG_ERR_LEN,
				 "%s:%u: syntax error: a NUL byte (not a text file)", file,
				 sc->line);
			return -EINVAL;
		}
		if (c == '@') {
			snprintf(err, CFG_ERR_LEN,
				 "%s:%u: syntax error: @include (or any @ directive) is not "
				 "supported: one file holds the whole configuration",
				 file, sc->line);
			return -EINVAL;
		}
		if (c == '"') {
			copy_until(sc, "\"", 1);
		} else if (c == '#' || (c == '/' && nx == '/')) {
			copy_line(sc);
		} else if (c == '/' && nx == '*') {
			copy_until(sc, "*/", 2);
		} else if (c == '.' && nx >= '0' && nx <= '9') {
			copy_word(sc, sc->i + 1); /* ".5": a float, not an integer */
		} else if ((c >= '0' && c <= '9') ||
			   ((c == '-' || c == '+') && nx >= '0' && nx <= '9')) {
			number(sc);
		} else if (is_name(c)) {
			size_t j = sc->i;

			while (j < sc->len && is_name(sc->in[j]))
				j++;
			put(sc, sc->in + sc->i, j - sc->i);
			sc->i = j;
		} else {
			sc->line += c == '\n';
			put(sc, &c, 1);
			sc->i++;
		}
	}
	sc->out[sc->n] = 0;
	return 0;
}

/* The whole file, NUL-terminated, from one open fd that fstat calls a
 * regular file of at most CFG_MAX_BYTES. */
static int slurp(const char *file, char **buf, size_t *len, char err[CFG_ERR_LEN])
{
	struct stat st;
	size_t n = 0;
	char *b = NULL;
	int fd, rc = 0;

	fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, CFG_ERR_LEN, "%s: %s", file, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st)) {
		rc = -errno;
		snprintf(err, CFG_ERR_LEN, "%s: fstat: %s", file, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, CFG_ERR_LEN, "%s: not a regular file", file);
		goto out;
	}
	/* one byte more than allowed: a file that grows past the bound */
	if (st.st_size <= CFG_MAX_BYTES && !(b = malloc(CFG_MAX_BYTES + 2))) {
		rc = -ENOMEM;
		snprintf(err, CFG_ERR_LEN, "%s: out of memory", file);
		goto out;
	}
	while (b && n <= CFG_MAX_BYTES) {
		ssize_t r = read(fd, b + n, CFG_MAX_BYTES + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(err, CFG_ERR_LEN, "%s: read: %s", file, strerror(errno));
			goto out;
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	if (!b || n > CFG_MAX_BYTES) {
		rc = -EFBIG;
		snprintf(err, CFG_ERR_LEN, "%s: larger than %u bytes: not a configuration file",
			 file, CFG_MAX_BYTES);
		goto out;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

int cfg_text(const char *file, char **text, char err[CFG_ERR_LEN])
{
	struct scan sc = {.line = 1};
	char *raw = NULL;
	int rc;

	rc = slurp(file, &raw, &sc.len, err);
	if (rc)
		return rc;
	sc.in = raw;
	/* growth is bounded: a literal gains 1 or 2 bytes only from 10 bytes
	 * up, and a hex one past 64 bits (19 bytes or more) at most 6 */
	sc.out = malloc(sc.len + sc.len / 2 + 64);
	if (!sc.out) {
		free(raw);
		snprintf(err, CFG_ERR_LEN, "%s: out of memory", file);
		return -ENOMEM;
	}
	rc = scan(&sc, file, err);
	free(raw);
	if (rc) {
		free(sc.out);
		return rc;
	}
	*text = sc.out;
	return 0;
}

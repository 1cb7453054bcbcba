// SPDX-License-Identifier: BSD-2-Clause
/*
 * ulp_avail.c - the kernel's TCP ULPs and the TLS BIO they decide
 * (ulp_avail.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ulp_avail.h"
#include "xts_shm.h"

static bool is_sep(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

bool ulp_list_has(const char *text, size_t len, const char *name)
{
	size_t nlen = strlen(name), i = 0;

	if (!nlen)
		return false;
	while (i < len && text[i]) {
		size_t w = i;

		while (w < len && text[w] && !is_sep(text[w]))
			w++;
		if (w - i == nlen && !memcmp(text + i, name, nlen))
			return true;
		i = w;
		while (i < len && text[i] && is_sep(text[i]))
			i++;
	}
	return false;
}

int ulp_list_read(const char *path, char *buf, size_t size)
{
	size_t got = 0;
	int fd, err = 0;

	if (!size)
		return -EINVAL;
	buf[0] = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got + 1 < size) {
		ssize_t n = read(fd, buf + got, size - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = -errno;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = 0;
	while (got && is_sep(buf[got - 1]))
		buf[--got] = 0;
	return err;
}

bool tls_bio_socket(uint32_t setting, bool ktls)
{
	switch (setting) {
	case XTS_TLS_BIO_OWN:
		return false;
	case XTS_TLS_BIO_SOCKET:
		return true;
	default: /* auto */
		return ktls;
	}
}

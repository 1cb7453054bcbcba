// SPDX-License-Identifier: BSD-2-Clause
/*
 * cfg_acl.c - one ACL rule string -> struct xts_shm_acl, strictly: every
 * number is plain decimal digits (no sign, no space, no base prefix that
 * strtol would take), every address is what inet_pton takes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cfg.h"

/* "PORT" or "PORT-PORT", LO <= HI */
static int port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	const char *dash = strchr(s, '-');
	size_t n = dash ? (size_t)(dash - s) : strlen(s);
	unsigned long a, b;

	if (cfg_digits(s, n, 10, 65535, &a))
		return -EINVAL;
	b = a;
	if (dash && cfg_digits(dash + 1, strlen(dash + 1), 10, 65535, &b))
		return -EINVAL;
	if (b < a)
		return -EINVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

/* Split "ADDR[/LEN][:PORTS]" or "[ADDR]/LEN:PORTS" into addr ("ADDR[/LEN]")
 * and the ports part (NULL: none).  0 or -EINVAL. */
static int split(const char *s, char *addr, size_t alen_max, const char **ports)
{
	const char *p;
	size_t alen;

	*ports = NULL;
	if (*s == '[') {
		const char *q;
		size_t l;

		p = strchr(s, ']');
		if (!p || (size_t)(p - s - 1) >= alen_max)
			return -EINVAL;
		alen = (size_t)(p - s - 1);
		memcpy(addr, s + 1, alen);
		p++;
		/* [ADDR]/LEN */
		q = *p == '/' ? strchr(p, ':') : p;
		l = q ? (size_t)(q - p) : strlen(p);
		if (alen + l >= alen_max)
			return -EINVAL;
		memcpy(addr + alen, p, l);
		addr[alen + l] = 0;
		p += l;
		if (*p == ':')
			*ports = p + 1;
		else if (*p)
			return -EINVAL;
		return 0;
	}
	p = strchr(s, ':');
	if (p && strchr(p + 1, ':'))
		p = NULL; /* a bare IPv6 address: no port */
	alen = p ? (size_t)(p - s) : strlen(s);
	if (alen >= alen_max)
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = 0;
	if (p)
		*ports = p + 1;
	return 0;
}

int cfg_acl_parse(const char *s, uint8_t kind, struct xts_shm_acl *r, char *why, size_t whylen)
{
	char addr[64], *slash;
	const char *ports;
	unsigned long plen;
	unsigned full;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->queue = XTS_ACL_ANY_QUEUE;
	r->port_hi = 65535;
	if (kind == XTS_ACL_TLS) { /* a profile's name (family 1), or "*" (0) */
		if (!*s || strlen(s) >= XTS_SHM_TLS_NAME) {
			snprintf(why, whylen,
				 "\"%s\": want a TLS profile's name (1..%d bytes) or \"*\"", s,
				 XTS_SHM_TLS_NAME - 1);
			return -EINVAL;
		}
		if (strcmp(s, "*")) {
			r->family = 1;
			memcpy(r->addr, s, strlen(s));
		}
		return 0;
	}
	if (kind == XTS_ACL_LISTEN) {
		if (port_range(s, &r->port_lo, &r->port_hi)) {
			snprintf(why, whylen, "\"%s\": want PORT or PORT-PORT (0..65535)", s);
			return -EINVAL;
		}
		return 0;
	}
	if (split(s, addr, sizeof(addr), &ports))
		goto bad;
	if (ports && port_range(ports, &r->port_lo, &r->port_hi)) {
		snprintf(why, whylen, "\"%s\": bad port range \"%s\" (0..65535, LO-HI)", s, ports);
		return -EINVAL;
	}
	if (!strcmp(addr, "*"))
		return 0; /* any address */
	slash = strchr(addr, '/');
	if (slash)
		*slash++ = 0;
	if (inet_pton(AF_INET, addr, r->addr) == 1)
		r->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, r->addr) == 1)
		r->family = AF_INET6;
	else
		goto bad;
	full = r->family == AF_INET ? 32 : 128;
	plen = full;
	if (slash && cfg_digits(slash, strlen(slash), 10, full, &plen)) {
		snprintf(why, whylen, "\"%s\": prefix length must be 0..%u", s, full);
		return -EINVAL;
	}
	r->prefix = (uint8_t)plen;
	/* [::ffff:a.b.c.d]/N, N >= 96, is the IPv4 rule a.b.c.d/(N-96): the
	 * form destinations are matched in */
	xts_acl_norm(&r->family, r->addr, &r->prefix);
	return 0;
bad:
	snprintf(why, whylen,
		 "\"%s\": want ADDR[/LEN][:PORT[-PORT]], IPv6 as [ADDR]/LEN:PORT, or *[:PORTS]", s);
	return -EINVAL;
}

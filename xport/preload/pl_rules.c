// SPDX-License-Identifier: BSD-2-Clause
/*
 * pl_rules.c - which sockets xts-run offloads.  A small file, one rule a
 * line, first match wins ('#' starts a comment):
 *
 *   offload client 198.18.0.0/24        connects to that network
 *   offload server *:80,443             listeners on those local ports
 *   kernel *:53                         both roles, any address, port 53
 *   kernel client [fd00:78:74::]/64:1-1023
 *   default kernel                      what no rule matches (else offload)
 *
 *   tls terminate *:443 profile web     listeners: TLS on the DPU
 *   tls originate 198.18.0.2:8443 profile api name api.example alpn h2,http/1.1
 *
 * ACTION [ROLE] ADDR[/LEN][:PORTS]: ADDR is `*`, an IPv4 address or an
 * IPv6 one in brackets; PORTS `*` or a comma list of ports and ranges.
 * A client rule matches the destination of connect(), a server rule the
 * local address of listen().  Loopback is always the kernel's (nothing
 * on the DPU can reach this host's loopback), whatever the rules say.
 *
 * A tls rule is an offload rule (terminate: a server one, originate: a
 * client one) that also pushes TLS with a profile of the DPU's xts.conf
 * onto the XTS socket, so the program speaks plaintext while its peers
 * speak TLS to the DPU.  It only applies where it matches first: one that
 * an earlier rule would always win over is refused, as a mistake.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"
#include "xts_proto.h" /* xts_alpn_wire */

#define RULE_PORTS 16

struct pl_rule {
	uint8_t action, role;
	uint8_t family; /* 0: any address */
	uint8_t plen;
	uint8_t addr[16];
	unsigned nports; /* 0: any port */
	struct {
		uint16_t lo, hi;
	} port[RULE_PORTS];
	unsigned line;
	bool has_tls;
	struct pl_tls tls;
};

static int parse_ports(struct pl_rule *r, char *s)
{
	char *tok, *save = NULL, *end;

	if (!strcmp(s, "*"))
		return 0;
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long lo, hi;

		if (r->nports == RULE_PORTS)
			return -1;
		lo = strtoul(tok, &end, 10);
		hi = lo;
		if (*end == '-')
			hi = strtoul(end + 1, &end, 10);
		if (*end || end == tok || lo > 65535 || hi > 65535 || lo > hi)
			return -1;
		r->port[r->nports].lo = (uint16_t)lo;
		r->port[r->nports++].hi = (uint16_t)hi;
	}
	return r->nports ? 0 : -1;
}

/* ADDR[/LEN][:PORTS] */
static const char *parse_spec(struct pl_rule *r, char *s)
{
	char *ports = NULL, *len, *addr = s;
	unsigned long l;

	if (*s == '[') {
		char *close = strchr(s, ']');

		if (!close)
			return "missing ']' after an IPv6 address";
		*close = 0;
		addr = s + 1;
		s = close + 1;
		if (*s == '/') {
			len = s + 1;
			s = strchr(len, ':');
			if (s)
				*s++ = 0;
			l = strtoul(len, &len, 10);
			if (*len || l > 128)
				return "bad prefix length";
			r->plen = (uint8_t)l;
		} else {
			r->plen = 128;
			if (*s == ':')
				s++;
			else if (*s)
				return "junk after ']'";
			else
				s = NULL;
		}
		ports = s;
		if (inet_pton(AF_INET6, addr, r->addr) != 1)
			return "bad IPv6 address";
		r->family = AF_INET6;
	} else {
		ports = strchr(s, ':');
		if (ports)
			*ports++ = 0;
		len = strchr(s, '/');
		if (len)
			*len++ = 0;
		if (!strcmp(s, "*")) {
			if (len)
				return "'*' takes no prefix length";
		} else {
			if (inet_pton(AF_INET, s, r->addr) != 1)
				return "bad IPv4 address (IPv6 goes in brackets)";
			r->family = AF_INET;
			r->plen = 32;
			if (len) {
				l = strtoul(len, &len, 10);
				if (*len || l > 32)
					return "bad prefix length";
				r->plen = (uint8_t)l;
			}
		}
	}
	if (ports && parse_ports(r, ports))
		return "bad port list (N, N-M, comma separated, or *)";
	return NULL;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;

	if (memcmp(a, b, full))
		return false;
	return !rest || ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* Every socket @b matches, @a matches too (ranges one by one: a port
 * list that covers @b only in union is not seen, and is allowed). */
static bool covers(const struct pl_rule *a, const struct pl_rule *b)
{
	unsigned i, j;

	if (a->role && a->role != b->role)
		return false;
	if (a->family &&
	    (a->family != b->family || a->plen > b->plen || !prefix_eq(a->addr, b->addr, a->plen)))
		return false;
	if (!a->nports)
		return true;
	if (!b->nports)
		return false;
	for (i = 0; i < b->nports; i++) {
		for (j = 0; j < a->nports; j++)
			if (b->port[i].lo >= a->port[j].lo && b->port[i].hi <= a->port[j].hi)
				break;
		if (j == a->nports)
			return false;
	}
	return true;
}

/* OPTION VALUE pairs after a tls rule's address */
static const char *parse_tls_opts(struct pl_rule *r, char **w, unsigned n)
{
	static __thread char buf[96];
	struct pl_tls *t = &r->tls;
	unsigned i;

	for (i = 0; i < n; i += 2) {
		const char *k = w[i], *v = i + 1 < n ? w[i + 1] : NULL;

		if (strcmp(k, "profile") && strcmp(k, "name") && strcmp(k, "alpn")) {
			snprintf(
			    buf, sizeof(buf),
			    "tls: %.24s: unknown option (profile NAME, name SERVER, alpn LIST)", k);
			return buf;
		}
		if (!v) {
			snprintf(buf, sizeof(buf), "tls: %s: its value is missing", k);
			return buf;
		}
		if (!strcmp(k, "profile")) {
			if (t->profile[0])
				return "tls: profile given twice";
			if (strlen(v) >= sizeof(t->profile))
				return "tls: profile: a name of at most 15 bytes";
			strcpy(t->profile, v);
		} else if (!strcmp(k, "name")) {
			if (r->role != PL_ROLE_CLIENT)
				return "tls terminate: name is originate's (the server's name)";
			if (t->name[0])
				return "tls: name given twice";
			if (strlen(v) >= sizeof(t->name))
				return "tls: name: at most 255 bytes";
			strcpy(t->name, v);
		} else {
			if (t->alpn_len)
				return "tls: alpn given twice";
			t->alpn_len = (unsigned)xts_alpn_wire(v, t->alpn, sizeof(t->alpn) - 1);
			if (!t->alpn_len)
				return "tls: alpn: protocol names of 1..255 bytes, comma "
				       "separated, "
				       "63 bytes at most in wire form";
		}
	}
	if (!t->profile[0])
		return "tls: a profile is needed (profile NAME, a profile of xts.conf)";
	return NULL;
}

/* tls terminate|originate ADDR[/LEN][:PORTS] profile NAME [name SERVER]
 * [alpn LIST] */
static const char *parse_tls(const struct pl_rules *rs, struct pl_rule *r, char **w, unsigned n)
{
	static __thread char buf[96];
	const char *why;
	unsigned i;

	if (n < 3)
		return "tls: expected tls terminate|originate ADDR[/LEN][:PORTS] profile NAME";
	if (!strcmp(w[1], "terminate"))
		r->role = PL_ROLE_SERVER;
	else if (!strcmp(w[1], "originate"))
		r->role = PL_ROLE_CLIENT;
	else
		return "tls: terminate (listeners) or originate (connects)";
	r->action = PL_OFFLOAD;
	r->has_tls = true;
	r->tls.line = r->line;
	why = parse_spec(r, w[2]);
	if (why)
		return why;
	why = parse_tls_opts(r, w + 3, n - 3);
	if (why)
		return why;
	if ((r->family == AF_INET && r->plen >= 8 && r->addr[0] == 127) ||
	    (r->family == AF_INET6 && r->plen == 128 && !memcmp(r->addr, &in6addr_loopback, 16)))
		return "tls: loopback is always the kernel's: the rule would never apply";
	for (i = 0; i < rs->n; i++)
		if (covers(&rs->r[i], r)) {
			snprintf(
			    buf, sizeof(buf),
			    "tls: never applies: the rule of line %u matches all it would first",
			    rs->r[i].line);
			return buf;
		}
	return NULL;
}

static const char *parse_line(struct pl_rules *rs, char *line, unsigned ln)
{
	char *w[10], *save = NULL, *h;
	struct pl_rule r;
	const char *why;
	unsigned n = 0;
	void *nr;

	h = strchr(line, '#');
	if (h)
		*h = 0;
	for (h = strtok_r(line, " \t\r\n", &save); h; h = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == 10)
			return "too many words";
		w[n++] = h;
	}
	if (!n)
		return NULL;
	if (!strcmp(w[0], "default")) {
		if (n != 2 || (strcmp(w[1], "kernel") && strcmp(w[1], "offload")))
			return "default: kernel or offload";
		rs->dflt = !strcmp(w[1], "offload") ? PL_OFFLOAD : PL_KERNEL;
		return NULL;
	}
	memset(&r, 0, sizeof(r));
	r.line = ln;
	if (!strcmp(w[0], "tls")) {
		why = parse_tls(rs, &r, w, n);
	} else {
		if (!strcmp(w[0], "offload"))
			r.action = PL_OFFLOAD;
		else if (strcmp(w[0], "kernel"))
			return "unknown action (offload, kernel, tls, default)";
		if (n == 3) {
			if (!strcmp(w[1], "client"))
				r.role = PL_ROLE_CLIENT;
			else if (!strcmp(w[1], "server"))
				r.role = PL_ROLE_SERVER;
			else
				return "unknown role (client, server)";
		} else if (n != 2) { /* and more than 3 */
			return "expected: ACTION [client|server] ADDR[/LEN][:PORTS]";
		}
		why = parse_spec(&r, w[n - 1]);
	}
	if (why)
		return why;
	nr = realloc(rs->r, (rs->n + 1) * sizeof(r));
	if (!nr)
		return "out of memory";
	rs->r = nr;
	rs->r[rs->n++] = r;
	return NULL;
}

int pl_rules_load(struct pl_rules *rs, const char *path, char *err, size_t errlen)
{
	char line[512];
	unsigned ln = 0;
	const char *why;
	FILE *f;

	rs->r = NULL;
	rs->n = 0;
	rs->dflt = PL_OFFLOAD;
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		ln++;
		why = !strchr(line, '\n') && !feof(f) ? "line longer than 510 bytes"
						      : parse_line(rs, line, ln);
		if (why) {
			snprintf(err, errlen, "%s:%u: %s", path, ln, why);
			fclose(f);
			pl_rules_free(rs);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

void pl_rules_free(struct pl_rules *rs)
{
	free(rs->r);
	rs->r = NULL;
	rs->n = 0;
}

static bool rule_hits(const struct pl_rule *r, int role, int fam, const uint8_t *ip, uint16_t port)
{
	unsigned i;

	if (r->role && r->role != role)
		return false;
	if (r->family && (r->family != fam || !prefix_eq(r->addr, ip, r->plen)))
		return false;
	if (!r->nports)
		return true;
	for (i = 0; i < r->nports; i++)
		if (port >= r->port[i].lo && port <= r->port[i].hi)
			return true;
	return false;
}

int pl_rules_match(const struct pl_rules *rs, int role, const struct sockaddr *sa, socklen_t len,
		   const char **why, const struct pl_tls **tls)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static __thread char buf[64];
	const uint8_t *ip;
	uint16_t port;
	unsigned i;
	int fam;

	if (tls)
		*tls = NULL;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const void *)sa;

		fam = AF_INET;
		ip = (const uint8_t *)&s4->sin_addr;
		port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		fam = AF_INET6;
		ip = s6->sin6_addr.s6_addr;
		port = ntohs(s6->sin6_port);
		if (!memcmp(ip, mapped, 12)) { /* ::ffff:a.b.c.d is IPv4 */
			fam = AF_INET;
			ip += 12;
		}
		if (fam == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) {
			*why = "loopback";
			return PL_KERNEL;
		}
	} else {
		*why = "not an IP address";
		return PL_KERNEL;
	}
	if (fam == AF_INET && ip[0] == 127) {
		*why = "loopback";
		return PL_KERNEL;
	}
	for (i = 0; i < rs->n; i++)
		if (rule_hits(&rs->r[i], role, fam, ip, port)) {
			snprintf(buf, sizeof(buf), "rule of line %u", rs->r[i].line);
			*why = buf;
			if (tls && rs->r[i].has_tls)
				*tls = &rs->r[i].tls;
			return rs->r[i].action;
		}
	*why = "default";
	return rs->dflt;
}

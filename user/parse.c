// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* parse.c - CIDRs, ports, protocols, errno names; strict and explained. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egress.h"
#include "parse.h"

#define fail(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

void mask_addr(uint8_t *addr, unsigned int bits, unsigned int plen)
{
	for (unsigned int i = 0; i < bits / 8; i++) {
		if (plen >= (i + 1) * 8)
			continue;
		addr[i] &= plen > i * 8 ? (uint8_t)(0xff << (8 - (plen - i * 8))) : 0;
	}
}

int parse_cidr(const char *s, struct cidr *out, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8], abuf[CIDR_STR_LEN];
	unsigned int bits;
	const char *slash;
	uint32_t plen;
	struct cidr c = {};

	if (!s || !*s)
		fail("invalid CIDR '': empty");
	if (strlen(s) >= sizeof(buf))
		fail("invalid CIDR '%.64s': too long", s);
	strcpy(buf, s);
	slash = strchr(s, '/');
	if (slash)
		buf[slash - s] = '\0';

	if (strchr(buf, ':')) {
		if (inet_pton(AF_INET6, buf, c.addr) != 1)
			fail("invalid CIDR '%s': '%s' is not an IPv6 address", s, buf);
		c.family = EGRESS_FAM_V6;
		bits = 128;
	} else {
		if (inet_pton(AF_INET, buf, c.addr) != 1)
			fail("invalid CIDR '%s': '%s' is not an IPv4 address", s, buf);
		c.family = EGRESS_FAM_V4;
		bits = 32;
	}
	if (slash) {
		if (parse_u32(slash + 1, 0, bits, &plen))
			fail("invalid CIDR '%s': prefix length must be 0 to %u", s, bits);
	} else {
		plen = bits;
	}
	c.plen = plen;

	if (c.family == EGRESS_FAM_V6 && plen >= 96 && !memcmp(c.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		/* v4-mapped destinations are decided as IPv4: so must the rule be */
		struct cidr v4 = { .family = EGRESS_FAM_V4, .plen = plen - 96 };

		memcpy(v4.addr, c.addr + 12, 4);
		mask_addr(v4.addr, 32, v4.plen);
		format_cidr(&v4, abuf, sizeof(abuf));
		fail("invalid CIDR '%s': IPv4-mapped addresses are decided as IPv4 (write %s)", s, abuf);
	}

	struct cidr m = c;
	mask_addr(m.addr, bits, plen);
	if (memcmp(m.addr, c.addr, sizeof(c.addr))) {
		format_cidr(&m, abuf, sizeof(abuf));
		fail("invalid CIDR '%s': host bits set (did you mean %s?)", s, abuf);
	}
	*out = c;
	return 0;
}

int parse_ports(const char *s, uint16_t *lo, uint16_t *hi, char *err, size_t errlen)
{
	char buf[16];
	uint32_t a, b;
	char *dash;

	if (!s || !*s || strlen(s) >= sizeof(buf))
		fail("invalid port '%.32s': expected N or N-M with 1 <= N <= M <= 65535", s ? s : "");
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (parse_u32(buf, 1, 65535, &a) || (dash && parse_u32(dash + 1, 1, 65535, &b)))
		fail("invalid port '%s': expected N or N-M with 1 <= N <= M <= 65535", s);
	if (!dash)
		b = a;
	if (a > b)
		fail("invalid port range '%s': %u is greater than %u", s, a, b);
	*lo = a;
	*hi = b;
	return 0;
}

int parse_proto(const char *s, uint8_t *proto, char *err, size_t errlen)
{
	if (s && !strcmp(s, "tcp"))
		*proto = IPPROTO_TCP;
	else if (s && !strcmp(s, "udp"))
		*proto = IPPROTO_UDP;
	else if (s && !strcmp(s, "any"))
		*proto = 0;
	else
		fail("invalid protocol '%s': expected tcp, udp or any", s ? s : "");
	return 0;
}

int parse_action(const char *s, uint8_t *action, char *err, size_t errlen)
{
	if (s && !strcmp(s, "allow"))
		*action = EGRESS_ALLOW;
	else if (s && !strcmp(s, "deny"))
		*action = EGRESS_DENY;
	else
		fail("invalid verdict '%s': expected allow or deny", s ? s : "");
	return 0;
}

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "EPERM", EPERM },
	{ "EACCES", EACCES },
	{ "ECONNREFUSED", ECONNREFUSED },
	{ "ENETUNREACH", ENETUNREACH },
	{ "EHOSTUNREACH", EHOSTUNREACH },
	{ "ECONNRESET", ECONNRESET },
	{ "ETIMEDOUT", ETIMEDOUT },
	{ "EADDRNOTAVAIL", EADDRNOTAVAIL },
	{ "ENETDOWN", ENETDOWN },
};

int parse_errno(const char *s, uint16_t *out, char *err, size_t errlen)
{
	for (size_t i = 0; s && i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		if (!strcmp(s, errnos[i].name)) {
			*out = errnos[i].value;
			return 0;
		}
	}
	fail("invalid errno '%s': expected one of EPERM, EACCES, ECONNREFUSED, ENETUNREACH, "
	     "EHOSTUNREACH, ECONNRESET, ETIMEDOUT, EADDRNOTAVAIL, ENETDOWN", s ? s : "");
}

const char *errno_name(int e)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].value == e)
			return errnos[i].name;
	return NULL;
}

int parse_policy_name(const char *s, char *err, size_t errlen)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= EGRESS_NAME_MAX)
		fail("invalid policy name '%s': 1 to %d characters", s ? s : "", EGRESS_NAME_MAX - 1);
	if (!isalnum((unsigned char)s[0]))
		fail("invalid policy name '%s': must start with a letter or digit", s);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			fail("invalid policy name '%s': only letters, digits, '-', '_' and '.'", s);
	return 0;
}

void format_addr(uint8_t family, const uint8_t *addr, char *buf, size_t len)
{
	if (!inet_ntop(family == EGRESS_FAM_V4 ? AF_INET : AF_INET6, addr, buf, len))
		snprintf(buf, len, "?");
}

void format_cidr(const struct cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	format_addr(c->family, c->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, c->plen);
}

void format_ports(uint16_t lo, uint16_t hi, char *buf, size_t len)
{
	if (lo == hi)
		snprintf(buf, len, "%u", lo);
	else
		snprintf(buf, len, "%u-%u", lo, hi);
}

const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case 0: return "any";
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	default: return NULL;
	}
}

const char *ip_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	case IPPROTO_UDPLITE: return "udplite";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_RAW: return "raw";
	default: return NULL;
	}
}

bool cidr_contains(const struct cidr *outer, const struct cidr *inner)
{
	uint8_t m[16];

	if (outer->family != inner->family || outer->plen > inner->plen)
		return false;
	memcpy(m, inner->addr, sizeof(m));
	mask_addr(m, 128, outer->plen);
	return !memcmp(m, outer->addr, sizeof(m));
}

static const char *const hint_names[] = { "dst", "dport", "proto", "policy", "comm", "pid" };

int parse_hint(const char *s, char *err, size_t errlen)
{
	if (strlen(s) >= EGRESS_HINT_MAX)
		fail("invalid hint: longer than %d characters", EGRESS_HINT_MAX - 1);
	for (const char *p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		bool known = false;

		for (size_t i = 0; end && i < sizeof(hint_names) / sizeof(hint_names[0]); i++)
			known |= (size_t)(end - p - 1) == strlen(hint_names[i]) &&
				 !strncmp(p + 1, hint_names[i], end - p - 1);
		if (!known)
			fail("invalid hint: unknown placeholder '%.*s' (known: " HINT_FIELDS ")",
			     end ? (int)(end - p + 1) : (int)strlen(p), p);
	}
	for (const char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r')
			fail("invalid hint: one line only");
	return 0;
}

void hint_fill(const char *tmpl, const char *(*lookup)(const char *name, void *ctx), void *ctx,
	       char *out, size_t len)
{
	size_t n = 0;

	if (!len)
		return;
	for (const char *p = tmpl; *p && n + 1 < len; p++) {
		const char *end = *p == '{' ? strchr(p, '}') : NULL, *val = NULL;
		char name[16];

		if (end && (size_t)(end - p - 1) < sizeof(name)) {
			memcpy(name, p + 1, end - p - 1);
			name[end - p - 1] = '\0';
			val = lookup(name, ctx);
		}
		if (val) {
			n += snprintf(out + n, len - n, "%s", val);
			if (n >= len)
				n = len - 1;
			p = end;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

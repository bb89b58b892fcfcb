/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* parse.h - parsing of the words operators type: CIDRs, ports, protocols. */
#ifndef EGRESS_PARSE_H
#define EGRESS_PARSE_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ERRBUF_LEN 256

struct cidr {
	uint8_t family;		/* EGRESS_FAM_V4 / EGRESS_FAM_V6 */
	uint8_t plen;
	uint8_t addr[16];	/* v4 in addr[0..3], network order */
};

/*
 * Each parser returns 0 or -EINVAL with a one-line reason in err (which
 * names the offending input).
 */
int parse_cidr(const char *s, struct cidr *out, char *err, size_t errlen);
int parse_ports(const char *s, uint16_t *lo, uint16_t *hi, char *err, size_t errlen);
int parse_proto(const char *s, uint8_t *proto, char *err, size_t errlen);
int parse_action(const char *s, uint8_t *action, char *err, size_t errlen);
int parse_errno(const char *s, uint16_t *err_out, char *err, size_t errlen);
int parse_policy_name(const char *s, char *err, size_t errlen);
int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* A hint template: shorter than EGRESS_HINT_MAX, placeholders among HINT_FIELDS. */
int parse_hint(const char *s, char *err, size_t errlen);
#define HINT_FIELDS "{dst}, {dport}, {proto}, {policy}, {comm}, {pid}"
/*
 * Fills a hint template; lookup(name) gives a placeholder's value (name
 * without braces), NULL leaves the placeholder as it is.
 */
void hint_fill(const char *tmpl, const char *(*lookup)(const char *name, void *ctx), void *ctx,
	       char *out, size_t len);

/* Formatting: buffers of at least these sizes. */
#define CIDR_STR_LEN 64
#define PORTS_STR_LEN 16
void format_cidr(const struct cidr *c, char *buf, size_t len);
void format_addr(uint8_t family, const uint8_t *addr, char *buf, size_t len);
void format_ports(uint16_t lo, uint16_t hi, char *buf, size_t len);
const char *proto_name(uint8_t proto);	/* rule protocols: "tcp", "udp", "any" or NULL */
const char *ip_proto_name(uint8_t proto);	/* packet protocols: "tcp", "icmp", ... or NULL */
const char *errno_name(int e);		/* "EPERM", ... or NULL */

/* addr masked to plen bits (in place). */
void mask_addr(uint8_t *addr, unsigned int bits, unsigned int plen);
/*
 * Family, then address (as memcmp orders it), then prefix length: <0, 0
 * or >0.  Inline, and the address as two big-endian words: sorting and
 * merging 100,000 rules calls it millions of times.
 */
static inline int cidr_cmp(const struct cidr *a, const struct cidr *b)
{
	uint64_t x[2], y[2];

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	memcpy(x, a->addr, sizeof(x));
	memcpy(y, b->addr, sizeof(y));
	for (int i = 0; i < 2; i++)
		if (x[i] != y[i])
			return be64toh(x[i]) < be64toh(y[i]) ? -1 : 1;
	return (int)a->plen - (int)b->plen;
}
bool cidr_contains(const struct cidr *outer, const struct cidr *inner);

#endif

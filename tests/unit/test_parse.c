// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* test_parse.c - user/parse.c: CIDRs, ports, protocols, errnos, names. */
#include "helpers.h"

static const uint8_t zero16[16];

/* parse_cidr must succeed and give family, plen and the formatted form. */
static void cidr_ok(const char *s, uint8_t family, uint8_t plen, const char *formatted)
{
	char err[ERRBUF_LEN] = "", buf[CIDR_STR_LEN];
	struct cidr c;

	memset(&c, 0xaa, sizeof(c));
	if (parse_cidr(s, &c, err, sizeof(err)))
		fail_msg("parse_cidr(\"%s\") rejected: %s", s, err);
	assert_int_equal(c.family, family);
	assert_int_equal(c.plen, plen);
	if (family == EGRESS_FAM_V4)	/* the unused bytes are zero (keys are memcmp'd) */
		assert_memory_equal(c.addr + 4, zero16, 12);
	format_cidr(&c, buf, sizeof(buf));
	assert_string_equal(buf, formatted);
}

/* parse_cidr must fail with -EINVAL, leave *out alone and name the input. */
static void cidr_bad(const char *s, const char *msg_part)
{
	char err[ERRBUF_LEN] = "";
	struct cidr c, before;

	memset(&c, 0x5a, sizeof(c));
	before = c;
	assert_int_equal(parse_cidr(s, &c, err, sizeof(err)), -EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
	assert_true(err[0] != '\0');
	if (*s)
		assert_contains(err, s);
	if (msg_part)
		assert_contains(err, msg_part);
}

static void test_parse_cidr_v4_with_prefix(void **state)
{
	cidr_ok("10.0.0.0/8", EGRESS_FAM_V4, 8, "10.0.0.0/8");
	cidr_ok("192.168.1.0/24", EGRESS_FAM_V4, 24, "192.168.1.0/24");
	cidr_ok("0.0.0.0/0", EGRESS_FAM_V4, 0, "0.0.0.0/0");
	cidr_ok("1.2.3.4/32", EGRESS_FAM_V4, 32, "1.2.3.4/32");
	cidr_ok("10.8.0.0/13", EGRESS_FAM_V4, 13, "10.8.0.0/13");
	cidr_ok("255.255.255.255/32", EGRESS_FAM_V4, 32, "255.255.255.255/32");
}

static void test_parse_cidr_v4_without_prefix_is_host(void **state)
{
	char err[ERRBUF_LEN];
	struct cidr c;

	cidr_ok("1.2.3.4", EGRESS_FAM_V4, 32, "1.2.3.4/32");
	cidr_ok("0.0.0.0", EGRESS_FAM_V4, 32, "0.0.0.0/32");
	assert_int_equal(parse_cidr("10.1.2.3", &c, err, sizeof(err)), 0);
	assert_int_equal(c.addr[0], 10);
	assert_int_equal(c.addr[1], 1);
	assert_int_equal(c.addr[2], 2);
	assert_int_equal(c.addr[3], 3);
}

static void test_parse_cidr_v6_with_and_without_prefix(void **state)
{
	cidr_ok("2001:db8::/32", EGRESS_FAM_V6, 32, "2001:db8::/32");
	cidr_ok("::/0", EGRESS_FAM_V6, 0, "::/0");
	cidr_ok("fe80::/10", EGRESS_FAM_V6, 10, "fe80::/10");
	cidr_ok("2001:db8::1", EGRESS_FAM_V6, 128, "2001:db8::1/128");
	cidr_ok("::1", EGRESS_FAM_V6, 128, "::1/128");
	cidr_ok("2001:db8::1/128", EGRESS_FAM_V6, 128, "2001:db8::1/128");
	cidr_ok("2001:db8:0:0:8000::/65", EGRESS_FAM_V6, 65, "2001:db8:0:0:8000::/65");
	/* a v4-mapped CIDR is refused: the kernel decides such destinations as IPv4 */
	cidr_bad("::ffff:10.0.0.1", "10.0.0.1/32");
	cidr_bad("::ffff:10.0.0.0/104", "10.0.0.0/8");
	/* ::/0 and ::/96 contain the v4-mapped range but are ordinary IPv6 CIDRs */
	cidr_ok("::/96", EGRESS_FAM_V6, 96, "::/96");
}

static void test_parse_cidr_leading_zero_prefix_accepted(void **state)
{
	/* parse_u32 takes leading zeros: /08 is /8 */
	cidr_ok("10.0.0.0/08", EGRESS_FAM_V4, 8, "10.0.0.0/8");
	cidr_ok("2001:db8::/032", EGRESS_FAM_V6, 32, "2001:db8::/32");
}

static void test_parse_cidr_rejects_bad_octet(void **state)
{
	cidr_bad("10.0.0.256/8", "not an IPv4 address");
	cidr_bad("10.0.0.256", "not an IPv4 address");
	cidr_bad("1.2.3/24", NULL);
	cidr_bad("1.2.3.4.5", NULL);
}

static void test_parse_cidr_rejects_prefix_out_of_range(void **state)
{
	cidr_bad("10.0.0.0/33", "0 to 32");
	cidr_bad("fe80::/129", "0 to 128");
	cidr_bad("10.0.0.0/99999999999999999999999", "0 to 32");
}

static void test_parse_cidr_rejects_garbage(void **state)
{
	cidr_bad("abc", NULL);
	cidr_bad("abc/8", NULL);
	cidr_bad("/8", NULL);
	cidr_bad("fe80::zz/64", "not an IPv6 address");
	cidr_bad(" 10.0.0.0/8", NULL);
	cidr_bad("10.0.0.0/8 ", NULL);
	cidr_bad("10.0.0.0/8/8", NULL);
	cidr_bad("10.0.0.0/x", NULL);
	cidr_bad("10.0.0.0/+8", NULL);
	cidr_bad("10.0.0.0/ 8", NULL);
}

static void test_parse_cidr_rejects_empty_and_null(void **state)
{
	char err[ERRBUF_LEN] = "";
	struct cidr c;

	cidr_bad("", "empty");
	assert_int_equal(parse_cidr(NULL, &c, err, sizeof(err)), -EINVAL);
}

static void test_parse_cidr_rejects_missing_or_negative_prefix(void **state)
{
	cidr_bad("1.2.3.4/", NULL);
	cidr_bad("1.2.3.4/-1", NULL);
	cidr_bad("::/", NULL);
	cidr_bad("::/-0", NULL);
}

static void test_parse_cidr_rejects_too_long(void **state)
{
	char s[200];

	memset(s, '1', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	{
		char err[ERRBUF_LEN] = "";
		struct cidr c;

		assert_int_equal(parse_cidr(s, &c, err, sizeof(err)), -EINVAL);
		assert_contains(err, "too long");
	}
}

static void test_parse_cidr_host_bits_v4_suggests_network(void **state)
{
	cidr_bad("10.1.2.3/8", "10.0.0.0/8");
	cidr_bad("192.168.1.1/24", "192.168.1.0/24");
	cidr_bad("10.15.0.0/13", "10.8.0.0/13");
	cidr_bad("1.2.3.4/0", "0.0.0.0/0");
	cidr_bad("1.2.3.5/31", "1.2.3.4/31");
}

static void test_parse_cidr_host_bits_v6_suggests_network(void **state)
{
	cidr_bad("2001:db8::1/32", "2001:db8::/32");
	cidr_bad("fe80::1/10", "fe80::/10");
	cidr_bad("2001:db8:0:0:ffff::/65", "2001:db8:0:0:8000::/65");
	cidr_bad("::1/0", "::/0");
}

static void test_parse_cidr_error_names_input(void **state)
{
	char err[ERRBUF_LEN] = "";
	struct cidr c;

	assert_int_equal(parse_cidr("10.0.0.0/33", &c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "'10.0.0.0/33'");
	assert_int_equal(parse_cidr("10.1.2.3/8", &c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "'10.1.2.3/8'");
	assert_contains(err, "host bits");
}

static void ports_ok(const char *s, uint16_t lo, uint16_t hi)
{
	char err[ERRBUF_LEN] = "";
	uint16_t a = 1234, b = 4321;

	if (parse_ports(s, &a, &b, err, sizeof(err)))
		fail_msg("parse_ports(\"%s\") rejected: %s", s, err);
	assert_int_equal(a, lo);
	assert_int_equal(b, hi);
}

static void ports_bad(const char *s)
{
	char err[ERRBUF_LEN] = "";
	uint16_t a = 1234, b = 4321;

	if (parse_ports(s, &a, &b, err, sizeof(err)) != -EINVAL)
		fail_msg("parse_ports(\"%s\") accepted: %u-%u", s, a, b);
	assert_int_equal(a, 1234);
	assert_int_equal(b, 4321);
	if (*s)
		assert_contains(err, s);
}

static void test_parse_ports_accepts_single_and_range(void **state)
{
	ports_ok("80", 80, 80);
	ports_ok("1", 1, 1);
	ports_ok("65535", 65535, 65535);
	ports_ok("1-65535", 1, 65535);
	ports_ok("1000-2000", 1000, 2000);
	ports_ok("443-443", 443, 443);
	ports_ok("080", 80, 80);
}

static void test_parse_ports_rejects_out_of_range(void **state)
{
	ports_bad("0");
	ports_bad("65536");
	ports_bad("0-80");
	ports_bad("80-65536");
	ports_bad("99999999999");
}

static void test_parse_ports_rejects_reversed_range(void **state)
{
	char err[ERRBUF_LEN] = "";
	uint16_t a, b;

	ports_bad("80-20");
	assert_int_equal(parse_ports("80-20", &a, &b, err, sizeof(err)), -EINVAL);
	assert_contains(err, "80-20");
}

static void test_parse_ports_rejects_garbage(void **state)
{
	char err[ERRBUF_LEN] = "";
	uint16_t a, b;

	ports_bad("80,81");
	ports_bad("-1");
	ports_bad("a");
	ports_bad("");
	ports_bad("80-");
	ports_bad("-80");
	ports_bad("80--90");
	ports_bad("80-90-100");
	ports_bad(" 80");
	ports_bad("80 ");
	ports_bad("+80");
	ports_bad("1-2-3-4-5-6-7-8-9");
	assert_int_equal(parse_ports(NULL, &a, &b, err, sizeof(err)), -EINVAL);
}

static void test_parse_proto_names(void **state)
{
	char err[ERRBUF_LEN] = "";
	uint8_t p = 99;

	assert_int_equal(parse_proto("tcp", &p, err, sizeof(err)), 0);
	assert_int_equal(p, IPPROTO_TCP);
	assert_int_equal(parse_proto("udp", &p, err, sizeof(err)), 0);
	assert_int_equal(p, IPPROTO_UDP);
	assert_int_equal(parse_proto("any", &p, err, sizeof(err)), 0);
	assert_int_equal(p, 0);
}

static void test_parse_proto_rejects_others(void **state)
{
	const char *bad[] = { "icmp", "TCP", "Udp", "", "6", "tcp ", "sctp" };
	char err[ERRBUF_LEN];
	uint8_t p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = 99;
		err[0] = '\0';
		assert_int_equal(parse_proto(bad[i], &p, err, sizeof(err)), -EINVAL);
		assert_int_equal(p, 99);
		if (*bad[i])
			assert_contains(err, bad[i]);
	}
	assert_int_equal(parse_proto(NULL, &p, err, sizeof(err)), -EINVAL);
}

static void test_proto_name_round_trip(void **state)
{
	const char *names[] = { "tcp", "udp", "any" };
	char err[ERRBUF_LEN];
	uint8_t p;

	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(parse_proto(names[i], &p, err, sizeof(err)), 0);
		assert_string_equal(proto_name(p), names[i]);
	}
	assert_null(proto_name(1));
	assert_null(proto_name(132));
}

static void test_parse_action(void **state)
{
	char err[ERRBUF_LEN] = "";
	uint8_t a = 99;

	assert_int_equal(parse_action("allow", &a, err, sizeof(err)), 0);
	assert_int_equal(a, EGRESS_ALLOW);
	assert_int_equal(parse_action("deny", &a, err, sizeof(err)), 0);
	assert_int_equal(a, EGRESS_DENY);
	a = 99;
	assert_int_equal(parse_action("Allow", &a, err, sizeof(err)), -EINVAL);
	assert_contains(err, "Allow");
	assert_int_equal(parse_action("", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse_action("reject", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(a, 99);
}

static void test_parse_errno_names(void **state)
{
	static const struct { const char *name; int value; } ok[] = {
		{ "EPERM", EPERM }, { "EACCES", EACCES }, { "ECONNREFUSED", ECONNREFUSED },
		{ "ENETUNREACH", ENETUNREACH }, { "EHOSTUNREACH", EHOSTUNREACH },
		{ "ECONNRESET", ECONNRESET }, { "ETIMEDOUT", ETIMEDOUT },
		{ "EADDRNOTAVAIL", EADDRNOTAVAIL }, { "ENETDOWN", ENETDOWN },
	};
	char err[ERRBUF_LEN] = "";
	uint16_t e;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		e = 0;
		assert_int_equal(parse_errno(ok[i].name, &e, err, sizeof(err)), 0);
		assert_int_equal(e, ok[i].value);
		assert_string_equal(errno_name(ok[i].value), ok[i].name);
	}
	/* an entry keeps the errno in a byte (egress.h): no name maps above 255 */
	for (int v = 256; v < 65536; v++)
		assert_null(errno_name(v));
}

static void test_parse_errno_rejects_unknown(void **state)
{
	const char *bad[] = { "eperm", "ENOENT", "", "1", "EPERM " };
	char err[ERRBUF_LEN];
	uint16_t e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = 77;
		err[0] = '\0';
		assert_int_equal(parse_errno(bad[i], &e, err, sizeof(err)), -EINVAL);
		assert_int_equal(e, 77);
		assert_contains(err, "ECONNREFUSED");	/* lists the valid names */
		if (*bad[i])
			assert_contains(err, bad[i]);
	}
	assert_int_equal(parse_errno(NULL, &e, err, sizeof(err)), -EINVAL);
	assert_null(errno_name(0));
	assert_null(errno_name(ENOENT));
}

static void test_parse_policy_name_length_limits(void **state)
{
	char err[ERRBUF_LEN] = "", name[64];

	memset(name, 'a', sizeof(name));
	name[EGRESS_NAME_MAX - 1] = '\0';	/* 31 characters */
	assert_int_equal(strlen(name), 31);
	assert_int_equal(parse_policy_name(name, err, sizeof(err)), 0);
	name[EGRESS_NAME_MAX - 1] = 'a';
	name[EGRESS_NAME_MAX] = '\0';		/* 32 characters */
	assert_int_equal(strlen(name), 32);
	assert_int_equal(parse_policy_name(name, err, sizeof(err)), -EINVAL);
	assert_contains(err, "1 to 31");
	assert_int_equal(parse_policy_name("a", err, sizeof(err)), 0);
	assert_int_equal(parse_policy_name("", err, sizeof(err)), -EINVAL);
	assert_int_equal(parse_policy_name(NULL, err, sizeof(err)), -EINVAL);
}

static void test_parse_policy_name_characters(void **state)
{
	const char *ok[] = { "default", "web-1", "a_b", "v1.2", "0abc", "A.B-C_D" };
	const char *bad[] = { "-web", "_web", ".web", "a b", "a/b", "a:b", "a\tb", "\xc3\xa9t\xc3\xa9",
			      "web!", "a=b" };
	char err[ERRBUF_LEN];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (parse_policy_name(ok[i], err, sizeof(err)))
			fail_msg("'%s' rejected: %s", ok[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse_policy_name(bad[i], err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_contains(err, bad[i]);
	}
}

static void test_parse_u32_bounds(void **state)
{
	uint32_t v = 7;

	assert_int_equal(parse_u32("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u32("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_u32("4294967295", 0, 4294967295u, &v), 0);
	assert_int_equal(v, 4294967295u);
	v = 7;
	assert_int_equal(parse_u32("11", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u32("4", 5, 10, &v), -EINVAL);
	assert_int_equal(parse_u32("", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u32("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u32(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u32("1x", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u32("4294967296", 0, 4294967295u, &v), -EINVAL);
	assert_int_equal(parse_u32(NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void test_format_cidr_round_trip(void **state)
{
	const char *in[] = {
		"0.0.0.0/0", "10.0.0.0/8", "10.8.0.0/13", "1.2.3.4/32", "255.255.255.254/31",
		"::/0", "2001:db8::/32", "fe80::/10", "2001:db8::1/128",
		"2001:db8:0:0:8000::/65", "ff00::/8",
	};
	char buf[CIDR_STR_LEN], err[ERRBUF_LEN];
	struct cidr a, b;

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		a = cidr_of(in[i]);
		format_cidr(&a, buf, sizeof(buf));
		if (parse_cidr(buf, &b, err, sizeof(err)))
			fail_msg("'%s' formatted as '%s', which does not parse: %s", in[i], buf, err);
		assert_int_equal(cidr_cmp(&a, &b), 0);
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

static void test_format_ports_round_trip(void **state)
{
	static const uint16_t pairs[][2] = {
		{ 1, 1 }, { 80, 80 }, { 65535, 65535 }, { 1, 65535 }, { 1000, 2000 }, { 79, 80 },
	};
	char buf[PORTS_STR_LEN], err[ERRBUF_LEN];
	uint16_t lo, hi;

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		format_ports(pairs[i][0], pairs[i][1], buf, sizeof(buf));
		if (parse_ports(buf, &lo, &hi, err, sizeof(err)))
			fail_msg("%u-%u formatted as '%s' does not parse: %s", pairs[i][0],
				 pairs[i][1], buf, err);
		assert_int_equal(lo, pairs[i][0]);
		assert_int_equal(hi, pairs[i][1]);
	}
	format_ports(80, 80, buf, sizeof(buf));
	assert_string_equal(buf, "80");
	format_ports(1, 65535, buf, sizeof(buf));
	assert_string_equal(buf, "1-65535");
	format_ports(0, 65535, buf, sizeof(buf));
	assert_string_equal(buf, "0-65535");
}

static void test_format_addr(void **state)
{
	uint8_t a4[16] = { 192, 0, 2, 1 }, a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	char buf[64];

	format_addr(EGRESS_FAM_V4, a4, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1");
	format_addr(EGRESS_FAM_V6, a6, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1");
}

static void test_mask_addr_edges(void **state)
{
	uint8_t a[16];

	/* /0 clears everything */
	memset(a, 0xff, 16);
	mask_addr(a, 128, 0);
	assert_memory_equal(a, zero16, 16);
	/* /32 of 32 bits keeps everything */
	memset(a, 0xff, 16);
	mask_addr(a, 32, 32);
	for (int i = 0; i < 4; i++)
		assert_int_equal(a[i], 0xff);
	/* 32 bits: bytes past the 4th are untouched */
	memset(a, 0xff, 16);
	mask_addr(a, 32, 8);
	assert_int_equal(a[0], 0xff);
	assert_int_equal(a[1], 0);
	assert_int_equal(a[3], 0);
	assert_int_equal(a[4], 0xff);
	/* /128 keeps everything */
	memset(a, 0xff, 16);
	mask_addr(a, 128, 128);
	for (int i = 0; i < 16; i++)
		assert_int_equal(a[i], 0xff);
	/* /13: 8 bits + 5 bits */
	memset(a, 0xff, 16);
	mask_addr(a, 32, 13);
	assert_int_equal(a[0], 0xff);
	assert_int_equal(a[1], 0xf8);
	assert_int_equal(a[2], 0);
	assert_int_equal(a[3], 0);
	/* /65: 8 bytes + 1 bit */
	memset(a, 0xff, 16);
	mask_addr(a, 128, 65);
	for (int i = 0; i < 8; i++)
		assert_int_equal(a[i], 0xff);
	assert_int_equal(a[8], 0x80);
	for (int i = 9; i < 16; i++)
		assert_int_equal(a[i], 0);
	/* every prefix length: the number of bits left is the prefix length */
	for (unsigned int plen = 0; plen <= 128; plen++) {
		unsigned int ones = 0;

		memset(a, 0xff, 16);
		mask_addr(a, 128, plen);
		for (int i = 0; i < 16; i++)
			ones += __builtin_popcount(a[i]);
		assert_int_equal(ones, plen);
	}
}

static void test_cidr_contains_edges(void **state)
{
	struct cidr all4 = cidr_of("0.0.0.0/0"), all6 = cidr_of("::/0");
	struct cidr n8 = cidr_of("10.0.0.0/8"), n13 = cidr_of("10.8.0.0/13");

	assert_true(cidr_contains(&all4, &n8));
	assert_true(cidr_contains(&all4, &all4));
	assert_true(cidr_contains(&all4, &(struct cidr){ .family = EGRESS_FAM_V4, .plen = 32,
							  .addr = { 255, 255, 255, 255 } }));
	/* families never contain each other */
	assert_false(cidr_contains(&all6, &n8));
	assert_false(cidr_contains(&all4, &(struct cidr){ .family = EGRESS_FAM_V6, .plen = 128 }));
	assert_true(cidr_contains(&all6, &(struct cidr){ .family = EGRESS_FAM_V6, .plen = 128 }));
	/* a CIDR contains itself, not its container */
	assert_true(cidr_contains(&n8, &n8));
	assert_false(cidr_contains(&n13, &n8));
	assert_true(cidr_contains(&n8, &n13));
	/* /32 */
	struct cidr h4 = cidr_of("1.2.3.4"), h4b = cidr_of("1.2.3.5");

	assert_true(cidr_contains(&h4, &h4));
	assert_false(cidr_contains(&h4, &h4b));
	assert_false(cidr_contains(&h4, &n8));
	/* /13 boundaries: 10.8.0.0 - 10.15.255.255 */
	struct cidr in_lo = cidr_of("10.8.0.0"), in_hi = cidr_of("10.15.255.255");
	struct cidr out_lo = cidr_of("10.7.255.255"), out_hi = cidr_of("10.16.0.0");

	assert_true(cidr_contains(&n13, &in_lo));
	assert_true(cidr_contains(&n13, &in_hi));
	assert_false(cidr_contains(&n13, &out_lo));
	assert_false(cidr_contains(&n13, &out_hi));
	/* /128 */
	struct cidr h = cidr_of("2001:db8::1"), h2 = cidr_of("2001:db8::2");

	assert_true(cidr_contains(&h, &h));
	assert_false(cidr_contains(&h, &h2));
	/* /65 boundaries */
	struct cidr n65 = cidr_of("2001:db8::/65");

	struct cidr in65 = cidr_of("2001:db8::7fff:ffff:ffff:ffff"), out65 = cidr_of("2001:db8:0:0:8000::");

	assert_true(cidr_contains(&n65, &in65));
	assert_false(cidr_contains(&n65, &out65));
	assert_true(cidr_contains(&all6, &n65));
}

static void test_cidr_cmp_orders_containers_first(void **state)
{
	struct cidr a = cidr_of("10.0.0.0/8"), b = cidr_of("10.0.0.0/16"), c = cidr_of("10.1.0.0/16");
	struct cidr v6 = cidr_of("::/0");

	assert_true(cidr_cmp(&a, &b) < 0);
	assert_true(cidr_cmp(&b, &c) < 0);
	assert_true(cidr_cmp(&a, &c) < 0);
	assert_true(cidr_cmp(&c, &a) > 0);
	assert_int_equal(cidr_cmp(&a, &a), 0);
	assert_true(cidr_cmp(&a, &v6) < 0);	/* v4 before v6 */
}

/*
 * cidr_cmp's order is memcmp's over the address (then the prefix length):
 * random pairs that differ in any byte, in none, or only in the prefix.
 */
static void test_cidr_cmp_is_memcmp_order(void **state)
{
	uint64_t s = 0x243f6a8885a308d3ULL;
	unsigned long differ = 0;

	for (int it = 0; it < 200000; it++) {
		struct cidr a = {}, b;
		int want, got;

		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		a.family = s & 1 ? EGRESS_FAM_V6 : EGRESS_FAM_V4;
		a.plen = (s >> 8) % 129;
		for (int i = 0; i < 16; i++)
			a.addr[i] = (uint8_t)(s >> (i % 8 * 8)) ^ (uint8_t)i;
		b = a;
		switch ((s >> 20) % 4) {
		case 0: {	/* the same up to a byte, anything after it */
			unsigned int k = (s >> 24) % 16;
			uint64_t t = s * 0x9e3779b97f4a7c15ULL;

			b.addr[k] += 1 + (s >> 32) % 255;
			for (unsigned int i = k + 1; i < 16; i++, t >>= 4)
				b.addr[i] = (uint8_t)(t * 37 + i);
			break;
		}
		case 1:		/* the prefix only */
			b.plen = (s >> 40) % 129;
			break;
		case 2:		/* the family */
			b.family = a.family == EGRESS_FAM_V4 ? EGRESS_FAM_V6 : EGRESS_FAM_V4;
			break;
		default:	/* equal */
			break;
		}
		want = a.family != b.family ? (a.family < b.family ? -1 : 1) :
		       memcmp(a.addr, b.addr, 16) ? memcmp(a.addr, b.addr, 16) : a.plen - b.plen;
		got = cidr_cmp(&a, &b);
		if ((want < 0) != (got < 0) || (want > 0) != (got > 0))
			fail_msg("cidr_cmp %d, memcmp order %d (iteration %d)", got, want, it);
		differ += got != 0;
	}
	assert_true(differ > 100000);
}

static void test_parse_hint_placeholders(void **state)
{
	const char *ok[] = { "", "no placeholders", "{dst}", "{dst}:{dport} {proto} {policy} {comm} {pid}",
			     "closing } alone", "it's \"quoted\"", "{dst}{dst}" };
	const char *bad[] = { "{nope}", "{dst} {DST}", "{", "x {dst", "{}", "{ dst}", "{{dst}}" };
	char err[ERRBUF_LEN];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (parse_hint(ok[i], err, sizeof(err)))
			fail_msg("hint \"%s\" rejected: %s", ok[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse_hint(bad[i], err, sizeof(err)) != -EINVAL)
			fail_msg("hint \"%s\" accepted", bad[i]);
		assert_contains(err, "placeholder");
	}
	assert_int_equal(parse_hint("{nope}", err, sizeof(err)), -EINVAL);
	assert_contains(err, "'{nope}'");
}

static void test_parse_hint_one_line_and_length(void **state)
{
	char err[ERRBUF_LEN], h[EGRESS_HINT_MAX + 1];

	assert_int_equal(parse_hint("a\nb", err, sizeof(err)), -EINVAL);
	assert_contains(err, "one line");
	assert_int_equal(parse_hint("a\rb", err, sizeof(err)), -EINVAL);
	memset(h, 'x', sizeof(h));
	h[EGRESS_HINT_MAX - 1] = '\0';		/* EGRESS_HINT_MAX - 1 characters */
	assert_int_equal(parse_hint(h, err, sizeof(err)), 0);
	h[EGRESS_HINT_MAX - 1] = 'x';
	h[EGRESS_HINT_MAX] = '\0';
	assert_int_equal(parse_hint(h, err, sizeof(err)), -EINVAL);
	assert_contains(err, "longer");
}

static const char *hint_lookup(const char *name, void *ctx)
{
	if (!strcmp(name, "dst"))
		return "10.0.0.1";
	if (!strcmp(name, "dport"))
		return "443";
	if (!strcmp(name, "comm"))
		return (const char *)ctx;
	return NULL;
}

static void test_hint_fill(void **state)
{
	char out[64];

	hint_fill("to {dst}:{dport} by {comm}", hint_lookup, "curl", out, sizeof(out));
	assert_string_equal(out, "to 10.0.0.1:443 by curl");
	hint_fill("{proto} {unknown} {dst", hint_lookup, "x", out, sizeof(out));
	assert_string_equal(out, "{proto} {unknown} {dst");
	hint_fill("{aaaaaaaaaaaaaaaaaaaaaaaa} {dst}", hint_lookup, "x", out, sizeof(out));
	assert_string_equal(out, "{aaaaaaaaaaaaaaaaaaaaaaaa} 10.0.0.1");
	hint_fill("", hint_lookup, "x", out, sizeof(out));
	assert_string_equal(out, "");
	/* truncation: always terminated, never past len */
	for (size_t len = 1; len <= 24; len++) {
		char small[32];

		memset(small, '#', sizeof(small));
		hint_fill("at {dst}:{dport} by {comm}", hint_lookup, "a-long-command-name", small, len);
		assert_int_equal(strlen(small), len - 1);
		assert_int_equal(small[len], '#');
		assert_memory_equal(small, "at 10.0.0.1:443 by a-long-command-name", len - 1);
	}
	out[0] = '#';
	hint_fill("x", hint_lookup, "x", out, 0);	/* no room at all: untouched */
	assert_int_equal(out[0], '#');
}

const struct CMUnitTest parse_tests[] = {
	cmocka_unit_test(test_parse_cidr_v4_with_prefix),
	cmocka_unit_test(test_parse_cidr_v4_without_prefix_is_host),
	cmocka_unit_test(test_parse_cidr_v6_with_and_without_prefix),
	cmocka_unit_test(test_parse_cidr_leading_zero_prefix_accepted),
	cmocka_unit_test(test_parse_cidr_rejects_bad_octet),
	cmocka_unit_test(test_parse_cidr_rejects_prefix_out_of_range),
	cmocka_unit_test(test_parse_cidr_rejects_garbage),
	cmocka_unit_test(test_parse_cidr_rejects_empty_and_null),
	cmocka_unit_test(test_parse_cidr_rejects_missing_or_negative_prefix),
	cmocka_unit_test(test_parse_cidr_rejects_too_long),
	cmocka_unit_test(test_parse_cidr_host_bits_v4_suggests_network),
	cmocka_unit_test(test_parse_cidr_host_bits_v6_suggests_network),
	cmocka_unit_test(test_parse_cidr_error_names_input),
	cmocka_unit_test(test_parse_ports_accepts_single_and_range),
	cmocka_unit_test(test_parse_ports_rejects_out_of_range),
	cmocka_unit_test(test_parse_ports_rejects_reversed_range),
	cmocka_unit_test(test_parse_ports_rejects_garbage),
	cmocka_unit_test(test_parse_proto_names),
	cmocka_unit_test(test_parse_proto_rejects_others),
	cmocka_unit_test(test_proto_name_round_trip),
	cmocka_unit_test(test_parse_action),
	cmocka_unit_test(test_parse_errno_names),
	cmocka_unit_test(test_parse_errno_rejects_unknown),
	cmocka_unit_test(test_parse_policy_name_length_limits),
	cmocka_unit_test(test_parse_policy_name_characters),
	cmocka_unit_test(test_parse_u32_bounds),
	cmocka_unit_test(test_format_cidr_round_trip),
	cmocka_unit_test(test_format_ports_round_trip),
	cmocka_unit_test(test_format_addr),
	cmocka_unit_test(test_mask_addr_edges),
	cmocka_unit_test(test_cidr_contains_edges),
	cmocka_unit_test(test_cidr_cmp_orders_containers_first),
	cmocka_unit_test(test_cidr_cmp_is_memcmp_order),
	cmocka_unit_test(test_parse_hint_placeholders),
	cmocka_unit_test(test_parse_hint_one_line_and_length),
	cmocka_unit_test(test_hint_fill),
};
UNIT_GROUP(parse)

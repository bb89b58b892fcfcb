// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_policy.c - user/policy.c: the compiled trie entries must decide
 * exactly as the reference semantics (policy_decide_slow): the longest
 * matching prefix among the rules whose protocol and port match, deny
 * before allow at equal prefix, the default when nothing matches.
 */
#include "helpers.h"

#define ALL 0, 65535	/* every port */

static void free_both(struct policy *p, struct compiled *c)
{
	policy_free(p);
	compiled_free(c);
}

static bool slot_is_full(const struct egress_slot *s)
{
	return s->proto == 0 && s->port_lo == 0 && s->port_hi == 65535;
}

static const struct centry *find_entry(const struct compiled *c, const char *cidr)
{
	struct cidr want = cidr_of(cidr), k;

	for (size_t i = 0; i < c->n; i++) {
		cidr_from_lpm_key(&k, &c->e[i].key);
		if (!cidr_cmp(&k, &want))
			return &c->e[i];
	}
	return NULL;
}

/* ---- hand-picked decisions ------------------------------------------ */

static void test_decide_empty_policy_default_deny(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", DENY);
	pol_compile(&p, &c);
	assert_int_equal(c.n, 2);	/* the two /0 roots */
	expect_verdict(&p, &c, "1.2.3.4", TCP, 80, DENY);
	expect_verdict(&p, &c, "2001:db8::1", UDP, 53, DENY);
	free_both(&p, &c);
}

static void test_decide_empty_policy_default_allow(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", ALLOW);
	pol_compile(&p, &c);
	assert_int_equal(c.n, 2);
	expect_verdict(&p, &c, "1.2.3.4", TCP, 80, ALLOW);
	expect_verdict(&p, &c, "0.0.0.0", UDP, 0, ALLOW);
	expect_verdict(&p, &c, "2001:db8::1", UDP, 53, ALLOW);
	expect_verdict(&p, &c, "::", TCP, 65535, ALLOW);
	free_both(&p, &c);
}

static void test_decide_host_allow_inside_subnet_deny(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", ALLOW);
	pol_add(&p, "10.0.0.0/24", DENY, ANYP, ALL);
	pol_add(&p, "10.0.0.5/32", ALLOW, ANYP, ALL);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "10.0.0.5", TCP, 443, ALLOW);
	expect_verdict(&p, &c, "10.0.0.4", TCP, 443, DENY);
	expect_verdict(&p, &c, "10.0.0.6", UDP, 53, DENY);
	expect_verdict(&p, &c, "10.0.0.0", TCP, 1, DENY);
	expect_verdict(&p, &c, "10.0.0.255", TCP, 1, DENY);
	expect_verdict(&p, &c, "10.0.1.0", TCP, 1, ALLOW);
	expect_verdict(&p, &c, "9.255.255.255", TCP, 1, ALLOW);
	free_both(&p, &c);
}

static void test_decide_host_deny_inside_subnet_allow(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", DENY);
	pol_add(&p, "10.0.0.5/32", DENY, ANYP, ALL);	/* added before its container */
	pol_add(&p, "10.0.0.0/24", ALLOW, ANYP, ALL);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "10.0.0.5", TCP, 443, DENY);
	expect_verdict(&p, &c, "10.0.0.4", TCP, 443, ALLOW);
	expect_verdict(&p, &c, "10.0.0.6", UDP, 53, ALLOW);
	expect_verdict(&p, &c, "10.0.1.5", TCP, 443, DENY);
	free_both(&p, &c);
}

static void test_decide_equal_prefix_deny_beats_allow(void **state)
{
	/* both insertion orders */
	for (int order = 0; order < 2; order++) {
		struct policy p;
		struct compiled c;

		pol_init(&p, "t", ALLOW);
		if (order == 0) {
			pol_add(&p, "10.0.0.0/8", ALLOW, TCP, ALL);
			pol_add(&p, "10.0.0.0/8", DENY, ANYP, 80, 80);
		} else {
			pol_add(&p, "10.0.0.0/8", DENY, ANYP, 80, 80);
			pol_add(&p, "10.0.0.0/8", ALLOW, TCP, ALL);
		}
		pol_compile(&p, &c);
		expect_verdict(&p, &c, "10.9.9.9", TCP, 80, DENY);
		expect_verdict(&p, &c, "10.9.9.9", TCP, 81, ALLOW);
		expect_verdict(&p, &c, "10.9.9.9", UDP, 80, DENY);
		expect_verdict(&p, &c, "10.9.9.9", UDP, 81, ALLOW);	/* default */
		free_both(&p, &c);
	}
}

static void test_decide_slow_reference_ignores_rule_order(void **state)
{
	/* policy_decide_slow on rules as appended, allow before deny */
	struct policy p;
	struct cidr d = cidr_of("10.1.1.1");

	pol_init(&p, "t", ALLOW);
	pol_add(&p, "10.0.0.0/8", ALLOW, ANYP, ALL);
	pol_add(&p, "10.0.0.0/8", DENY, TCP, ALL);
	pol_add(&p, "10.1.0.0/16", ALLOW, UDP, 53, 53);
	pol_add(&p, "0.0.0.0/0", DENY, ANYP, ALL);
	assert_int_equal(policy_decide_slow(&p, &d, TCP, 80), DENY);
	assert_int_equal(policy_decide_slow(&p, &d, UDP, 80), ALLOW);
	assert_int_equal(policy_decide_slow(&p, &d, UDP, 53), ALLOW);
	d = cidr_of("11.1.1.1");
	assert_int_equal(policy_decide_slow(&p, &d, UDP, 53), DENY);
	d = cidr_of("2001:db8::1");
	assert_int_equal(policy_decide_slow(&p, &d, UDP, 53), ALLOW);
	policy_free(&p);
}

static void test_decide_equal_prefix_full_allow_and_specific_deny(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", DENY);
	pol_add(&p, "192.168.0.0/16", ALLOW, ANYP, ALL);
	pol_add(&p, "192.168.0.0/16", DENY, UDP, 53, 53);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "192.168.3.4", UDP, 53, DENY);
	expect_verdict(&p, &c, "192.168.3.4", TCP, 53, ALLOW);
	expect_verdict(&p, &c, "192.168.3.4", UDP, 54, ALLOW);
	free_both(&p, &c);
}

static void test_decide_equal_prefix_full_deny_and_specific_allow(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", ALLOW);
	pol_add(&p, "192.168.0.0/16", ALLOW, TCP, 443, 443);
	pol_add(&p, "192.168.0.0/16", DENY, ANYP, ALL);
	pol_compile(&p, &c);
	/* the allow is dead: the full deny at the same prefix wins */
	expect_verdict(&p, &c, "192.168.3.4", TCP, 443, DENY);
	expect_verdict(&p, &c, "192.168.3.4", UDP, 443, DENY);
	expect_verdict(&p, &c, "192.169.3.4", UDP, 443, ALLOW);
	free_both(&p, &c);
}

static void test_decide_overlapping_port_ranges_equal_prefix(void **state)
{
	for (int dflt = 0; dflt < 2; dflt++) {
		struct policy p;
		struct compiled c;

		pol_init(&p, "t", dflt ? ALLOW : DENY);
		pol_add(&p, "10.0.0.0/8", ALLOW, ANYP, 1, 1000);
		pol_add(&p, "10.0.0.0/8", DENY, ANYP, 500, 2000);
		pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 1500, 3000);
		pol_compile(&p, &c);
		expect_verdict(&p, &c, "10.1.1.1", TCP, 0, dflt);
		expect_verdict(&p, &c, "10.1.1.1", TCP, 1, ALLOW);
		expect_verdict(&p, &c, "10.1.1.1", TCP, 499, ALLOW);
		expect_verdict(&p, &c, "10.1.1.1", TCP, 500, DENY);
		expect_verdict(&p, &c, "10.1.1.1", UDP, 1000, DENY);
		expect_verdict(&p, &c, "10.1.1.1", TCP, 1001, DENY);
		expect_verdict(&p, &c, "10.1.1.1", TCP, 1500, DENY);
		expect_verdict(&p, &c, "10.1.1.1", TCP, 2000, DENY);
		expect_verdict(&p, &c, "10.1.1.1", TCP, 2001, ALLOW);
		expect_verdict(&p, &c, "10.1.1.1", TCP, 3000, ALLOW);
		expect_verdict(&p, &c, "10.1.1.1", UDP, 2001, dflt);
		expect_verdict(&p, &c, "10.1.1.1", TCP, 3001, dflt);
		expect_verdict(&p, &c, "10.1.1.1", TCP, 65535, dflt);
		free_both(&p, &c);
	}
}

static void test_decide_proto_specific_rules(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", DENY);
	pol_add(&p, "0.0.0.0/0", ALLOW, TCP, ALL);
	pol_add(&p, "8.8.8.8/32", ALLOW, UDP, 53, 53);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "1.1.1.1", TCP, 80, ALLOW);
	expect_verdict(&p, &c, "1.1.1.1", UDP, 53, DENY);
	expect_verdict(&p, &c, "8.8.8.8", UDP, 53, ALLOW);
	expect_verdict(&p, &c, "8.8.8.8", UDP, 54, DENY);
	expect_verdict(&p, &c, "8.8.8.8", TCP, 53, ALLOW);	/* falls back to 0/0 tcp */
	expect_verdict(&p, &c, "8.8.8.8", IPPROTO_ICMP, 0, DENY);
	free_both(&p, &c);
}

static void test_decide_host_tcp_rule_falls_back_to_container_for_udp(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", ALLOW);
	pol_add(&p, "10.0.0.0/8", DENY, ANYP, ALL);
	pol_add(&p, "10.1.2.3/32", ALLOW, TCP, ALL);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "10.1.2.3", TCP, 22, ALLOW);
	expect_verdict(&p, &c, "10.1.2.3", UDP, 22, DENY);	/* the /8, not the default */
	expect_verdict(&p, &c, "10.1.2.4", TCP, 22, DENY);
	expect_verdict(&p, &c, "11.1.2.3", UDP, 22, ALLOW);
	free_both(&p, &c);
}

static void test_decide_host_port_rule_falls_back_through_two_levels(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", DENY);
	pol_add(&p, "10.0.0.0/8", ALLOW, UDP, ALL);
	pol_add(&p, "10.1.0.0/16", DENY, TCP, 1, 1023);
	pol_add(&p, "10.1.2.3/32", ALLOW, TCP, 22, 22);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "10.1.2.3", TCP, 22, ALLOW);
	expect_verdict(&p, &c, "10.1.2.3", TCP, 23, DENY);	/* /16 */
	expect_verdict(&p, &c, "10.1.2.3", TCP, 1024, DENY);	/* default */
	expect_verdict(&p, &c, "10.1.2.3", UDP, 22, ALLOW);	/* /8 */
	expect_verdict(&p, &c, "10.2.0.1", UDP, 22, ALLOW);
	expect_verdict(&p, &c, "10.2.0.1", TCP, 22, DENY);
	free_both(&p, &c);
}

static void test_decide_zero_prefix_rules(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", ALLOW);
	pol_add(&p, "0.0.0.0/0", DENY, ANYP, ALL);
	pol_add(&p, "0.0.0.0/0", ALLOW, ANYP, 443, 443);	/* dead: equal-prefix full deny */
	pol_add(&p, "1.1.1.1/32", ALLOW, ANYP, ALL);
	pol_compile(&p, &c);
	assert_int_equal(c.n, 3);
	expect_verdict(&p, &c, "8.8.8.8", TCP, 443, DENY);
	expect_verdict(&p, &c, "255.255.255.255", UDP, 1, DENY);
	expect_verdict(&p, &c, "1.1.1.1", UDP, 1, ALLOW);
	expect_verdict(&p, &c, "2001:db8::1", TCP, 443, ALLOW);	/* v6: default */
	free_both(&p, &c);

	pol_init(&p, "t", DENY);
	pol_add(&p, "0.0.0.0/0", ALLOW, ANYP, 443, 443);
	pol_add(&p, "::/0", ALLOW, UDP, 53, 53);
	pol_compile(&p, &c);
	assert_int_equal(c.n, 2);
	expect_verdict(&p, &c, "8.8.8.8", TCP, 443, ALLOW);
	expect_verdict(&p, &c, "8.8.8.8", TCP, 444, DENY);
	expect_verdict(&p, &c, "8.8.8.8", UDP, 53, DENY);
	expect_verdict(&p, &c, "2001:db8::1", UDP, 53, ALLOW);
	expect_verdict(&p, &c, "2001:db8::1", TCP, 443, DENY);
	free_both(&p, &c);
}

static void test_decide_v6_zero_allow_does_not_affect_v4(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", DENY);
	pol_add(&p, "::/0", ALLOW, ANYP, ALL);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "2001:db8::1", TCP, 80, ALLOW);
	expect_verdict(&p, &c, "::1", UDP, 53, ALLOW);
	expect_verdict(&p, &c, "1.2.3.4", TCP, 80, DENY);
	expect_verdict(&p, &c, "0.0.0.0", TCP, 80, DENY);
	expect_verdict(&p, &c, "255.255.255.255", UDP, 53, DENY);
	free_both(&p, &c);
}

static void test_decide_v4_zero_deny_does_not_affect_v6(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", ALLOW);
	pol_add(&p, "0.0.0.0/0", DENY, ANYP, ALL);
	pol_add(&p, "10.0.0.0/8", ALLOW, ANYP, ALL);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "1.2.3.4", TCP, 80, DENY);
	expect_verdict(&p, &c, "10.2.3.4", TCP, 80, ALLOW);
	expect_verdict(&p, &c, "2001:db8::1", TCP, 80, ALLOW);
	free_both(&p, &c);
}

static void test_decide_v6_nested(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", DENY);
	pol_add(&p, "2001:db8::/32", ALLOW, ANYP, ALL);
	pol_add(&p, "2001:db8::/65", DENY, TCP, ALL);
	pol_add(&p, "2001:db8::42/128", ALLOW, TCP, 443, 443);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "2001:db8::42", TCP, 443, ALLOW);
	expect_verdict(&p, &c, "2001:db8::42", TCP, 80, DENY);
	expect_verdict(&p, &c, "2001:db8::42", UDP, 80, ALLOW);
	expect_verdict(&p, &c, "2001:db8::7fff:ffff:ffff:ffff", TCP, 80, DENY);
	expect_verdict(&p, &c, "2001:db8:0:0:8000::", TCP, 80, ALLOW);
	expect_verdict(&p, &c, "2001:db9::", TCP, 80, DENY);
	free_both(&p, &c);
}

static void test_decide_sibling_cidrs_do_not_inherit(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", DENY);
	pol_add(&p, "10.0.0.0/8", ALLOW, ANYP, ALL);
	pol_add(&p, "10.0.0.0/16", DENY, TCP, ALL);
	pol_add(&p, "10.0.0.0/24", ALLOW, TCP, 80, 80);
	pol_add(&p, "10.1.0.0/16", DENY, UDP, ALL);
	pol_add(&p, "10.1.128.0/17", ALLOW, UDP, 53, 53);
	pol_add(&p, "10.0.1.0/24", ALLOW, UDP, ALL);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "10.0.0.1", TCP, 80, ALLOW);
	expect_verdict(&p, &c, "10.0.0.1", TCP, 81, DENY);
	expect_verdict(&p, &c, "10.0.0.1", UDP, 81, ALLOW);
	expect_verdict(&p, &c, "10.0.1.1", TCP, 80, DENY);
	expect_verdict(&p, &c, "10.0.1.1", UDP, 80, ALLOW);
	expect_verdict(&p, &c, "10.1.0.1", UDP, 53, DENY);
	expect_verdict(&p, &c, "10.1.128.1", UDP, 53, ALLOW);
	expect_verdict(&p, &c, "10.1.128.1", UDP, 54, DENY);
	expect_verdict(&p, &c, "10.1.128.1", TCP, 54, ALLOW);
	expect_verdict(&p, &c, "10.2.0.1", TCP, 80, ALLOW);
	expect_verdict(&p, &c, "11.0.0.1", TCP, 80, DENY);
	free_both(&p, &c);
}

static void test_decide_port_1_65535_is_not_every_port(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", DENY);
	pol_add(&p, "10.0.0.0/8", ALLOW, ANYP, 1, 65535);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "10.0.0.1", TCP, 1, ALLOW);
	expect_verdict(&p, &c, "10.0.0.1", TCP, 65535, ALLOW);
	expect_verdict(&p, &c, "10.0.0.1", UDP, 0, DENY);
	free_both(&p, &c);
}

static void test_decide_deep_chain_alternating(void **state)
{
	struct policy p;
	struct compiled c;

	pol_init(&p, "t", ALLOW);
	pol_add(&p, "10.0.0.0/8", DENY, ANYP, ALL);
	pol_add(&p, "10.1.0.0/16", ALLOW, ANYP, ALL);
	pol_add(&p, "10.1.2.0/24", DENY, ANYP, ALL);
	pol_add(&p, "10.1.2.0/28", ALLOW, ANYP, ALL);
	pol_add(&p, "10.1.2.3/32", DENY, ANYP, ALL);
	pol_compile(&p, &c);
	expect_verdict(&p, &c, "10.1.2.3", TCP, 1, DENY);
	expect_verdict(&p, &c, "10.1.2.2", TCP, 1, ALLOW);
	expect_verdict(&p, &c, "10.1.2.15", TCP, 1, ALLOW);
	expect_verdict(&p, &c, "10.1.2.16", TCP, 1, DENY);
	expect_verdict(&p, &c, "10.1.3.16", TCP, 1, ALLOW);
	expect_verdict(&p, &c, "10.2.3.16", TCP, 1, DENY);
	expect_verdict(&p, &c, "11.2.3.16", TCP, 1, ALLOW);
	free_both(&p, &c);
}

/* ---- compiled entries ----------------------------------------------- */

static void test_compile_has_both_roots_with_default_slot(void **state)
{
	struct policy p;
	struct compiled c;
	const struct centry *r4, *r6;

	pol_init(&p, "t", ALLOW);
	p.err = ECONNREFUSED;
	pol_add(&p, "10.0.0.0/8", DENY, TCP, 22, 22);
	pol_compile(&p, &c);
	assert_int_equal(c.n, 3);
	r4 = find_entry(&c, "0.0.0.0/0");
	r6 = find_entry(&c, "::/0");
	assert_non_null(r4);
	assert_non_null(r6);
	for (int i = 0; i < 2; i++) {
		const struct entry_val *e = i ? &r6->val : &r4->val;

		assert_int_equal(e->nslots, 1);
		assert_true(slot_is_full(&e->slot[0]));
		assert_int_equal(e->slot[0].action, ALLOW);
		assert_true(e->slot[0].flags & EGRESS_SLOT_DEFAULT);
		assert_int_equal(e->dflt, ALLOW);
		assert_int_equal(e->err, ECONNREFUSED);
	}
	assert_int_equal(r4->key.prefixlen, EGRESS_KEY_HDR_BITS);
	assert_int_equal(r4->key.family, EGRESS_FAM_V4);
	assert_int_equal(r6->key.family, EGRESS_FAM_V6);
	free_both(&p, &c);
}

static void test_compile_entry_slot_order(void **state)
{
	struct policy p;
	struct compiled c;
	const struct centry *e;

	pol_init(&p, "t", DENY);
	pol_add(&p, "10.0.0.0/8", ALLOW, TCP, ALL);
	pol_add(&p, "10.1.0.0/16", ALLOW, UDP, 53, 53);
	pol_add(&p, "10.1.0.0/16", DENY, TCP, 22, 22);
	pol_compile(&p, &c);
	e = find_entry(&c, "10.1.0.0/16");
	assert_non_null(e);
	assert_int_equal(e->key.prefixlen, EGRESS_KEY_HDR_BITS + 16);
	/* own deny, own allow, inherited /8, default */
	assert_int_equal(e->val.nslots, 4);
	assert_int_equal(e->val.slot[0].action, DENY);
	assert_int_equal(e->val.slot[0].plen, 16);
	assert_int_equal(e->val.slot[0].port_lo, 22);
	assert_int_equal(e->val.slot[1].action, ALLOW);
	assert_int_equal(e->val.slot[1].plen, 16);
	assert_int_equal(e->val.slot[1].proto, UDP);
	assert_int_equal(e->val.slot[2].plen, 8);
	assert_int_equal(e->val.slot[2].proto, TCP);
	assert_int_equal(e->val.slot[3].plen, 0);
	assert_true(e->val.slot[3].flags & EGRESS_SLOT_DEFAULT);
	/* sorted by key */
	for (size_t i = 1; i < c.n; i++)
		assert_true(memcmp(&c.e[i - 1].key, &c.e[i].key, sizeof(c.e[i].key)) < 0);
	free_both(&p, &c);
}

static void test_compile_full_own_rule_stops_inheritance(void **state)
{
	struct policy p;
	struct compiled c;
	const struct centry *e;

	pol_init(&p, "t", DENY);
	pol_add(&p, "10.0.0.0/8", DENY, TCP, 22, 22);
	pol_add(&p, "10.1.0.0/16", ALLOW, ANYP, ALL);
	pol_compile(&p, &c);
	e = find_entry(&c, "10.1.0.0/16");
	assert_non_null(e);
	assert_int_equal(e->val.nslots, 1);
	assert_true(slot_is_full(&e->val.slot[0]));
	assert_int_equal(e->val.slot[0].action, ALLOW);
	assert_int_equal(e->val.slot[0].flags, 0);
	free_both(&p, &c);
}

/* A few hand policies, used by the invariant tests below. */
static void build_sample(struct policy *p, int which)
{
	switch (which) {
	case 0:
		pol_init(p, "s0", DENY);
		pol_add(p, "10.0.0.0/8", ALLOW, TCP, ALL);
		pol_add(p, "10.1.0.0/16", DENY, UDP, 53, 53);
		pol_add(p, "10.1.2.3/32", ALLOW, ANYP, 443, 443);
		pol_add(p, "::/0", ALLOW, TCP, 80, 80);
		pol_add(p, "2001:db8::/32", DENY, ANYP, ALL);
		break;
	case 1:
		pol_init(p, "s1", ALLOW);
		p->err = EHOSTUNREACH;
		pol_add(p, "0.0.0.0/0", DENY, UDP, ALL);
		pol_add(p, "192.168.0.0/16", ALLOW, ANYP, ALL);
		pol_add(p, "192.168.1.0/24", DENY, TCP, 1, 1024);
		break;
	case 2:	/* a full deny and a specific allow on the same CIDR */
		pol_init(p, "s2", ALLOW);
		pol_add(p, "10.0.0.0/8", DENY, ANYP, ALL);
		pol_add(p, "10.0.0.0/8", ALLOW, TCP, 80, 80);
		break;
	default:	/* the same, on the v6 root */
		pol_init(p, "s3", DENY);
		pol_add(p, "::/0", DENY, ANYP, ALL);
		pol_add(p, "::/0", ALLOW, UDP, 53, 53);
		break;
	}
}
#define NSAMPLES 4

/* Every entry has a slot that matches everything: no lookup falls off. */
static void check_entries_have_full_slot(const struct compiled *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct entry_val *e = &c->e[i].val;
		bool full = false;

		assert_true(e->nslots >= 1 && e->nslots <= EGRESS_SLOTS);
		for (size_t s = 0; s < e->nslots; s++)
			full |= slot_is_full(&e->slot[s]);
		if (!full) {
			struct cidr k;
			char buf[CIDR_STR_LEN];

			cidr_from_lpm_key(&k, &c->e[i].key);
			format_cidr(&k, buf, sizeof(buf));
			fail_msg("entry %s has no slot matching everything", buf);
		}
	}
}

/*
 * egress.h: an entry's slots end with a rule that matches everything.
 * false, with the offending entry in msg, if one does not.
 */
static bool entries_end_with_full_slot(const struct compiled *c, char *msg, size_t len)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct entry_val *e = &c->e[i].val;
		struct cidr k;
		char buf[CIDR_STR_LEN];
		int full = -1;

		cidr_from_lpm_key(&k, &c->e[i].key);
		format_cidr(&k, buf, sizeof(buf));
		if (e->nslots < 1 || e->nslots > EGRESS_SLOTS) {
			snprintf(msg, len, "entry %s: %u slots", buf, e->nslots);
			return false;
		}
		for (int s = 0; s < e->nslots && full < 0; s++)
			if (slot_is_full(&e->slot[s]))
				full = s;
		if (full < 0) {
			snprintf(msg, len, "entry %s: no slot matches everything", buf);
			return false;
		}
		/* past the first full slot only the CIDR's own (dead, kept for export) rules */
		for (int s = full + 1; s < e->nslots; s++) {
			if (e->slot[s].plen != k.plen || (e->slot[s].flags & EGRESS_SLOT_DEFAULT)) {
				snprintf(msg, len, "entry %s: slot %d inherited after the full slot %d",
					 buf, s, full);
				return false;
			}
		}
	}
	return true;
}

/* Slots come in decision order: prefix lengths never grow, deny before allow. */
static void check_entries_slot_order(const struct compiled *c, const struct policy *p)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct entry_val *e = &c->e[i].val;
		struct cidr k;

		cidr_from_lpm_key(&k, &c->e[i].key);
		assert_int_equal(e->dflt, p->dflt);
		assert_int_equal(e->err, p->err);
		for (size_t s = 0; s < e->nslots; s++) {
			assert_true(e->slot[s].plen <= k.plen);
			if (s == 0)
				continue;
			assert_true(e->slot[s].plen <= e->slot[s - 1].plen);
			if (e->slot[s].plen == e->slot[s - 1].plen && !(e->slot[s].flags & EGRESS_SLOT_DEFAULT))
				assert_true(e->slot[s].action >= e->slot[s - 1].action);
		}
	}
}

static void test_compiled_every_entry_has_full_slot(void **state)
{
	for (int i = 0; i < NSAMPLES; i++) {
		struct policy p;
		struct compiled c;

		build_sample(&p, i);
		pol_compile(&p, &c);
		check_entries_have_full_slot(&c);
		check_entries_slot_order(&c, &p);
		free_both(&p, &c);
	}
}

static void test_compiled_every_entry_ends_with_full_slot(void **state)
{
	char msg[256], all[1024] = "";
	bool ok = true;

	for (int i = 0; i < NSAMPLES; i++) {
		struct policy p;
		struct compiled c;

		build_sample(&p, i);
		pol_compile(&p, &c);
		if (!entries_end_with_full_slot(&c, msg, sizeof(msg))) {
			ok = false;
			snprintf(all + strlen(all), sizeof(all) - strlen(all), "\n#   policy %s: %s",
				 p.name, msg);
		}
		free_both(&p, &c);
	}
	if (!ok)
		fail_msg("%s", all);
}

/* ---- decompile ------------------------------------------------------ */

static void round_trip(struct policy *p)
{
	struct compiled c, c2;
	struct policy back;
	char err[ERRBUF_LEN];

	pol_compile(p, &c);
	pol_init(&back, p->name, !p->dflt);
	back.err = 12345;
	assert_int_equal(policy_decompile(&back, &c), 0);
	assert_same_policy(p, &back);
	/* and compiling what came back gives the same entries */
	assert_int_equal(policy_compile(&back, &c2, err, sizeof(err)), 0);
	assert_int_equal(compiled_diff(&c, &c2), 0);
	policy_free(&back);
	compiled_free(&c);
	compiled_free(&c2);
}

static void test_decompile_round_trip_samples(void **state)
{
	for (int i = 0; i < NSAMPLES; i++) {
		struct policy p;

		build_sample(&p, i);
		round_trip(&p);
		policy_free(&p);
	}
}

static void test_decompile_round_trip_default_and_errno(void **state)
{
	const uint16_t errs[] = { 0, EPERM, ECONNREFUSED, ENETDOWN };

	for (int d = 0; d < 2; d++) {
		for (size_t e = 0; e < sizeof(errs) / sizeof(errs[0]); e++) {
			struct policy p;

			pol_init(&p, "t", d ? ALLOW : DENY);
			p.err = errs[e];
			round_trip(&p);	/* no rules */
			pol_add(&p, "::/0", ALLOW, TCP, 80, 80);
			pol_add(&p, "0.0.0.0/0", DENY, UDP, ALL);
			round_trip(&p);
			policy_free(&p);
		}
	}
}

static void test_decompile_reuses_a_policy_with_rules(void **state)
{
	struct policy p, back;
	struct compiled c;

	build_sample(&p, 0);
	pol_compile(&p, &c);
	build_sample(&back, 1);		/* stale rules that must go */
	assert_int_equal(policy_decompile(&back, &c), 0);
	assert_same_policy(&p, &back);
	policy_free(&back);
	free_both(&p, &c);
}

/* ---- normalize, set, remove ----------------------------------------- */

static void test_normalize_merges_duplicates(void **state)
{
	struct policy p;
	char err[ERRBUF_LEN] = "";

	pol_init(&p, "t", DENY);
	pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 80, 80);
	pol_add(&p, "::/0", DENY, ANYP, ALL);
	pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 80, 80);
	pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 80, 81);	/* another match */
	pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 80, 80);
	pol_add(&p, "::/0", DENY, ANYP, ALL);
	assert_int_equal(policy_normalize(&p, NULL, err, sizeof(err)), 0);
	assert_int_equal(p.nrules, 3);
	/* canonical order: v4 before v6 */
	assert_int_equal(p.rules[0].cidr.family, EGRESS_FAM_V4);
	assert_int_equal(p.rules[2].cidr.family, EGRESS_FAM_V6);
	/* idempotent */
	assert_int_equal(policy_normalize(&p, NULL, err, sizeof(err)), 0);
	assert_int_equal(p.nrules, 3);
	policy_free(&p);
}

static void test_normalize_conflict_is_eexist(void **state)
{
	struct policy p;
	char err[ERRBUF_LEN] = "";

	pol_init(&p, "web", DENY);
	pol_add(&p, "10.1.0.0/16", ALLOW, TCP, 80, 80);
	pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 80, 80);
	pol_add(&p, "10.1.0.0/16", DENY, TCP, 80, 80);
	assert_int_equal(policy_normalize(&p, NULL, err, sizeof(err)), -EEXIST);
	assert_contains(err, "10.1.0.0/16");
	assert_contains(err, "web");
	policy_free(&p);
}

static void test_normalize_same_cidr_different_ports_no_conflict(void **state)
{
	struct policy p;
	char err[ERRBUF_LEN] = "";

	pol_init(&p, "t", DENY);
	pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 80, 80);
	pol_add(&p, "10.0.0.0/8", DENY, UDP, 80, 80);
	pol_add(&p, "10.0.0.0/8", DENY, TCP, 80, 81);
	pol_add(&p, "10.0.0.0/8", DENY, ANYP, ALL);
	assert_int_equal(policy_normalize(&p, NULL, err, sizeof(err)), 0);
	assert_int_equal(p.nrules, 4);
	/* deny first; among denies the full rule last */
	assert_int_equal(p.rules[0].action, DENY);
	assert_int_equal(p.rules[2].action, DENY);
	assert_true(rule_is_full(&p.rules[2]));
	assert_int_equal(p.rules[3].action, ALLOW);
	policy_free(&p);
}

static void test_normalize_order_independent(void **state)
{
	struct policy a, b;
	char err[ERRBUF_LEN];
	struct rule rs[] = {
		mkrule("10.0.0.0/8", ALLOW, TCP, ALL), mkrule("10.0.0.0/16", DENY, ANYP, ALL),
		mkrule("10.0.0.0/8", DENY, UDP, 53, 53), mkrule("::/0", ALLOW, ANYP, 443, 443),
		mkrule("2001:db8::/32", DENY, TCP, ALL), mkrule("9.0.0.0/8", ALLOW, ANYP, ALL),
		mkrule("10.0.0.0/8", ALLOW, ANYP, 1, 100),
	};
	size_t n = sizeof(rs) / sizeof(rs[0]);

	pol_init(&a, "t", DENY);
	pol_init(&b, "t", DENY);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(policy_append_rule(&a, &rs[i]), 0);
		assert_int_equal(policy_append_rule(&b, &rs[n - 1 - i]), 0);
	}
	assert_int_equal(policy_normalize(&a, NULL, err, sizeof(err)), 0);
	assert_int_equal(policy_normalize(&b, NULL, err, sizeof(err)), 0);
	assert_same_policy(&a, &b);
	policy_free(&a);
	policy_free(&b);
}

static void test_set_and_remove_rule(void **state)
{
	struct policy p;
	struct rule r = mkrule("10.0.0.0/8", ALLOW, TCP, 80, 80);
	struct rule other = mkrule("10.0.0.0/8", ALLOW, TCP, 81, 81);

	pol_init(&p, "t", DENY);
	assert_int_equal(policy_set_rule(&p, &r), 1);
	assert_int_equal(policy_set_rule(&p, &r), 0);	/* equal */
	r.action = DENY;
	assert_int_equal(policy_set_rule(&p, &r), 1);	/* action changed */
	assert_int_equal(p.nrules, 1);
	assert_int_equal(p.rules[0].action, DENY);
	assert_int_equal(policy_set_rule(&p, &other), 1);
	assert_int_equal(p.nrules, 2);
	assert_int_equal(policy_remove_rule(&p, &r), 0);
	assert_int_equal(p.nrules, 1);
	assert_true(rule_same_match(&p.rules[0], &other));
	assert_int_equal(policy_remove_rule(&p, &r), -ENOENT);
	r.action = ALLOW;	/* the action does not matter to remove */
	other.action = DENY;
	assert_int_equal(policy_remove_rule(&p, &other), 0);
	assert_int_equal(p.nrules, 0);
	policy_free(&p);
}

static void test_policy_copy_is_deep(void **state)
{
	struct policy p, q;

	build_sample(&p, 0);
	assert_int_equal(policy_copy(&q, &p), 0);
	assert_ptr_not_equal(q.rules, p.rules);
	assert_int_equal(q.nrules, p.nrules);
	q.rules[0].action = !q.rules[0].action;
	assert_int_not_equal(q.rules[0].action, p.rules[0].action);
	policy_free(&q);
	policy_free(&p);
}

static void test_lpm_key_round_trip(void **state)
{
	const char *in[] = { "0.0.0.0/0", "10.8.0.0/13", "1.2.3.4/32", "::/0", "2001:db8::/65",
			     "2001:db8::1/128" };

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct cidr c = cidr_of(in[i]), back;
		struct egress_lpm_key k;

		memset(&k, 0xee, sizeof(k));
		lpm_key_from_cidr(&k, &c);
		assert_int_equal(k.prefixlen, EGRESS_KEY_HDR_BITS + c.plen);
		assert_int_equal(k.family, c.family);
		cidr_from_lpm_key(&back, &k);
		assert_memory_equal(&back, &c, sizeof(c));
	}
}

/* ---- slot limit ----------------------------------------------------- */

static void test_compile_e2big_own_rules(void **state)
{
	struct policy p;
	struct compiled c;
	char err[ERRBUF_LEN] = "";

	/* 15 port rules + the default: 16 slots, fits */
	pol_init(&p, "big", DENY);
	for (int i = 0; i < EGRESS_SLOTS - 1; i++)
		pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 100 + i, 100 + i);
	pol_compile(&p, &c);
	assert_int_equal(find_entry(&c, "10.0.0.0/8")->val.nslots, EGRESS_SLOTS);
	compiled_free(&c);
	/* one more: 17 */
	pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 99, 99);
	memset(&c, 0x11, sizeof(c));
	assert_int_equal(policy_compile(&p, &c, err, sizeof(err)), -E2BIG);
	assert_contains(err, "10.0.0.0/8");
	assert_contains(err, "big");
	assert_int_equal(c.n, 0);
	assert_null(c.e);
	/* 16 with one matching everything: no default slot needed */
	policy_free(&p);
	pol_init(&p, "big", DENY);
	for (int i = 0; i < EGRESS_SLOTS - 1; i++)
		pol_add(&p, "2001:db8::/32", ALLOW, UDP, 100 + i, 100 + i);
	pol_add(&p, "2001:db8::/32", DENY, ANYP, ALL);
	pol_compile(&p, &c);
	assert_int_equal(find_entry(&c, "2001:db8::/32")->val.nslots, EGRESS_SLOTS);
	compiled_free(&c);
	pol_add(&p, "2001:db8::/32", DENY, TCP, 1, 1);
	assert_int_equal(policy_compile(&p, &c, err, sizeof(err)), -E2BIG);
	assert_contains(err, "2001:db8::/32");
	policy_free(&p);
}

static void test_compile_e2big_names_inheriting_cidr(void **state)
{
	struct policy p;
	struct compiled c;
	char err[ERRBUF_LEN] = "";

	pol_init(&p, "nest", ALLOW);
	for (int i = 0; i < 10; i++)
		pol_add(&p, "10.0.0.0/8", DENY, TCP, 1000 + i, 1000 + i);
	for (int i = 0; i < 5; i++)
		pol_add(&p, "10.1.0.0/16", ALLOW, TCP, 2000 + i, 2000 + i);
	pol_compile(&p, &c);	/* 5 + 10 + default = 16 */
	compiled_free(&c);
	pol_add(&p, "10.1.0.0/16", ALLOW, TCP, 3000, 3000);
	assert_int_equal(policy_compile(&p, &c, err, sizeof(err)), -E2BIG);
	assert_contains(err, "10.1.0.0/16");
	assert_null(strstr(err, "10.0.0.0/8"));
	/* a full rule on the /16 cuts the inheritance: fits again */
	pol_add(&p, "10.1.0.0/16", ALLOW, ANYP, ALL);
	pol_compile(&p, &c);
	assert_int_equal(find_entry(&c, "10.1.0.0/16")->val.nslots, 7);
	compiled_free(&c);
	/* a v4 /0 with many rules does not count against v6 */
	policy_free(&p);
	pol_init(&p, "fam", ALLOW);
	for (int i = 0; i < EGRESS_SLOTS - 1; i++)
		pol_add(&p, "0.0.0.0/0", DENY, UDP, 1 + i, 1 + i);
	pol_add(&p, "::/0", DENY, UDP, 9, 9);
	pol_add(&p, "2001:db8::/32", DENY, UDP, 9, 9);
	pol_compile(&p, &c);
	compiled_free(&c);
	pol_add(&p, "10.0.0.0/8", DENY, UDP, 9, 9);	/* 1 + 15 + default */
	assert_int_equal(policy_compile(&p, &c, err, sizeof(err)), -E2BIG);
	assert_contains(err, "10.0.0.0/8");
	policy_free(&p);
}

/* ---- diff ------------------------------------------------------------ */

static void diff_of(struct policy *a, struct policy *b, size_t want)
{
	struct compiled ca, cb;

	pol_compile(a, &ca);
	pol_compile(b, &cb);
	assert_int_equal(compiled_diff(&ca, &cb), want);
	assert_int_equal(compiled_diff(&cb, &ca), want);
	compiled_free(&ca);
	compiled_free(&cb);
}

static void test_diff_identical_is_zero(void **state)
{
	for (int i = 0; i < NSAMPLES; i++) {
		struct policy a, b;

		build_sample(&a, i);
		build_sample(&b, i);
		diff_of(&a, &b, 0);
		policy_free(&a);
		policy_free(&b);
	}
}

static void test_diff_add_leaf_host_is_one(void **state)
{
	struct policy a, b;

	/* the first host below a CIDR also marks that CIDR's entry (hosts below) */
	build_sample(&a, 0);
	build_sample(&b, 0);
	pol_add(&b, "10.200.0.1/32", DENY, ANYP, ALL);
	diff_of(&a, &b, 2);
	policy_free(&b);
	build_sample(&b, 0);
	pol_add(&b, "2001:db8::99/128", ALLOW, TCP, 22, 22);
	diff_of(&a, &b, 2);
	policy_free(&b);
	/* a host next to another host below the same CIDR: one entry */
	build_sample(&b, 0);
	pol_add(&b, "10.1.2.4/32", DENY, ANYP, ALL);
	diff_of(&a, &b, 1);
	policy_free(&b);
	/* a new rule on an existing leaf changes that one entry */
	build_sample(&b, 0);
	pol_add(&b, "10.1.2.3/32", DENY, UDP, 9, 9);
	diff_of(&a, &b, 1);
	policy_free(&a);
	policy_free(&b);
}

static void test_diff_change_cascades_to_contained(void **state)
{
	struct policy a, b;

	/* sample 0: v4 root, 10/8, 10.1/16, 10.1.2.3/32, v6 root, 2001:db8::/32 */
	build_sample(&a, 0);
	build_sample(&b, 0);
	pol_add(&b, "10.0.0.0/8", DENY, UDP, 7, 7);
	diff_of(&a, &b, 3);	/* the /8, and the /16 and /32 that inherit it */
	policy_free(&b);
	/* a full rule in between stops the cascade */
	pol_add(&a, "10.1.0.0/16", ALLOW, ANYP, ALL);
	build_sample(&b, 0);
	pol_add(&b, "10.1.0.0/16", ALLOW, ANYP, ALL);
	pol_add(&b, "10.0.0.0/8", DENY, UDP, 7, 7);
	diff_of(&a, &b, 1);
	policy_free(&a);
	policy_free(&b);
	/* the default is policy-wide: in every entry (egress_entry.dflt) */
	build_sample(&a, 0);
	build_sample(&b, 0);
	b.dflt = !a.dflt;
	diff_of(&a, &b, 6);
	policy_free(&b);
	/* the errno is in every entry */
	build_sample(&b, 0);
	b.err = ETIMEDOUT;
	diff_of(&a, &b, 6);
	policy_free(&b);
	/* and so are the policy's flags */
	build_sample(&b, 0);
	b.flags = EGRESS_POL_PING;
	diff_of(&a, &b, 6);
	policy_free(&a);
	policy_free(&b);
}

static void test_diff_counts_removed_and_added_keys(void **state)
{
	struct policy a, b;

	pol_init(&a, "t", DENY);
	pol_init(&b, "t", DENY);
	pol_add(&a, "1.1.1.1/32", ALLOW, ANYP, ALL);
	pol_add(&a, "2.2.2.2/32", ALLOW, ANYP, ALL);
	pol_add(&b, "3.3.3.3/32", ALLOW, ANYP, ALL);
	diff_of(&a, &b, 3);	/* two deleted, one put */
	policy_free(&a);
	policy_free(&b);
}

/* ---- randomized: compiled entries against the reference -------------- */

struct genctx {
	struct rng r;
	uint8_t base[2][3][16];	/* [v6][i] */
};

static const uint16_t port_pool[][2] = {
	{ 80, 80 }, { 443, 443 }, { 53, 53 }, { 1, 1024 }, { 1000, 2000 }, { 80, 443 },
	{ 1, 65535 }, { 500, 600 }, { 22, 22 }, { 1024, 65535 }, { 65535, 65535 }, { 1, 1 },
};
static const uint16_t dport_pool[] = {
	0, 1, 2, 21, 22, 23, 52, 53, 54, 79, 80, 81, 442, 443, 444, 499, 500, 600, 601, 999, 1000,
	1023, 1024, 1025, 1999, 2000, 2001, 65534, 65535,
};
static const uint8_t dproto_pool[] = { TCP, TCP, TCP, UDP, UDP, UDP, ANYP, IPPROTO_ICMP };
static const uint16_t errno_pool[] = { 0, 0, EPERM, ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT };
static const uint8_t plen4_pool[] = { 0, 1, 7, 8, 9, 12, 13, 16, 20, 24, 25, 28, 31, 32 };
static const uint8_t plen6_pool[] = { 0, 1, 8, 16, 32, 48, 63, 64, 65, 96, 112, 120, 127, 128 };

static void rand_bytes(struct rng *r, uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] = rng_next(r) >> 56;
}

static void gen_bases(struct genctx *g)
{
	for (int f = 0; f < 2; f++) {
		rand_bytes(&g->r, g->base[f][0], 16);
		memcpy(g->base[f][1], g->base[f][0], 16);
		rand_bytes(&g->r, g->base[f][1] + (f ? 8 : 2), f ? 8 : 2);	/* shares a prefix */
		rand_bytes(&g->r, g->base[f][2], 16);
		if (!f) {
			for (int i = 0; i < 3; i++)
				memset(g->base[f][i] + 4, 0, 12);
		}
	}
}

/* Randomizes the bits of a from bit `from` to the end. */
static void randomize_from(struct rng *r, uint8_t *a, unsigned int bits, unsigned int from)
{
	uint8_t rnd[16], keep[16];

	rand_bytes(r, rnd, 16);
	memcpy(keep, a, 16);
	mask_addr(keep, bits, from);
	/* bits >= from come from rnd */
	for (unsigned int i = 0; i < bits / 8; i++) {
		uint8_t keepmask;

		if (from >= (i + 1) * 8)
			keepmask = 0xff;
		else if (from <= i * 8)
			keepmask = 0;
		else
			keepmask = (uint8_t)(0xff << (8 - (from - i * 8)));
		a[i] = (keep[i] & keepmask) | (rnd[i] & ~keepmask);
	}
}

static void gen_cidr(struct genctx *g, struct cidr *c)
{
	int v6 = rng_below(&g->r, 5) < 2;
	unsigned int bits = v6 ? 128 : 32;

	memset(c, 0, sizeof(*c));
	c->family = v6 ? EGRESS_FAM_V6 : EGRESS_FAM_V4;
	if (rng_below(&g->r, 2))
		c->plen = v6 ? plen6_pool[rng_below(&g->r, sizeof(plen6_pool))]
			     : plen4_pool[rng_below(&g->r, sizeof(plen4_pool))];
	else
		c->plen = rng_below(&g->r, bits + 1);
	memcpy(c->addr, g->base[v6][rng_below(&g->r, 3)], 16);
	if (rng_below(&g->r, 2))	/* wander off the base somewhere */
		randomize_from(&g->r, c->addr, bits, rng_below(&g->r, bits + 1));
	mask_addr(c->addr, bits, c->plen);
}

static void gen_rule(struct genctx *g, struct rule *r)
{
	memset(r, 0, sizeof(*r));
	gen_cidr(g, &r->cidr);
	r->action = rng_below(&g->r, 2) ? ALLOW : DENY;
	switch (rng_below(&g->r, 4)) {
	case 0:
	case 1:
		r->proto = 0;
		break;
	case 2:
		r->proto = TCP;
		break;
	default:
		r->proto = UDP;
		break;
	}
	switch (rng_below(&g->r, 5)) {
	case 0:
	case 1:
		r->port_lo = 0;
		r->port_hi = 65535;
		break;
	case 2: {
		uint16_t lo = 1 + rng_below(&g->r, 2000);

		r->port_lo = lo;
		r->port_hi = lo + rng_below(&g->r, 100);
		break;
	}
	default: {
		const uint16_t *pp = port_pool[rng_below(&g->r, sizeof(port_pool) / sizeof(port_pool[0]))];

		r->port_lo = pp[0];
		r->port_hi = pp[1];
	}
	}
}

/*
 * A random policy (normalized); false if it does not compile (E2BIG).
 * One in five is dense: many port rules on few CIDRs, near the slot limit.
 */
static bool gen_policy(struct genctx *g, struct policy *p, struct compiled *c, char *err, size_t errlen)
{
	bool dense = rng_below(&g->r, 5) == 0;
	unsigned int n = dense ? 10 + rng_below(&g->r, 30) : 1 + rng_below(&g->r, 24);
	struct cidr few[4];
	int ret;

	gen_bases(g);
	for (int i = 0; i < 4; i++)
		gen_cidr(g, &few[i]);
	pol_init(p, "rnd", rng_below(&g->r, 2) ? ALLOW : DENY);
	p->err = errno_pool[rng_below(&g->r, sizeof(errno_pool) / sizeof(errno_pool[0]))];
	p->flags = rng_below(&g->r, 2) ? EGRESS_POL_PING : 0;
	for (unsigned int i = 0; i < n; i++) {
		struct rule r;

		gen_rule(g, &r);
		if (dense) {
			r.cidr = few[rng_below(&g->r, 4)];
			if (rule_is_full(&r) && rng_below(&g->r, 4))
				r.port_lo = r.port_hi = 1 + rng_below(&g->r, 3000);
		}
		assert_true(policy_set_rule(p, &r) >= 0);
		/* sometimes a sibling rule on the same CIDR */
		if (rng_below(&g->r, 3) == 0) {
			struct rule s;

			gen_rule(g, &s);
			s.cidr = r.cidr;
			assert_true(policy_set_rule(p, &s) >= 0);
		}
	}
	ret = policy_normalize(p, NULL, err, errlen);
	if (ret)
		fail_msg("policy_normalize after policy_set_rule: %d: %s", ret, err);
	ret = policy_compile(p, c, err, errlen);
	if (ret == -E2BIG) {
		assert_contains(err, "more than");
		assert_int_equal(c->n, 0);
		return false;
	}
	if (ret)
		fail_msg("policy_compile: %d: %s", ret, err);
	return true;
}

static void gen_dest(struct genctx *g, const struct policy *p, struct cidr *d)
{
	unsigned int k = rng_below(&g->r, 20);

	memset(d, 0, sizeof(*d));
	if (k < 15 && p->nrules) {
		const struct rule *r = &p->rules[rng_below(&g->r, p->nrules)];
		unsigned int bits = r->cidr.family == EGRESS_FAM_V4 ? 32 : 128;

		*d = r->cidr;
		d->plen = bits;
		switch (rng_below(&g->r, 4)) {
		case 0:		/* the network address */
			break;
		case 1:		/* the last address */
			for (unsigned int b = r->cidr.plen; b < bits; b++)
				d->addr[b / 8] |= 0x80 >> (b % 8);
			break;
		default:	/* anywhere inside */
			randomize_from(&g->r, d->addr, bits, r->cidr.plen);
			break;
		}
		if (k >= 12 && r->cidr.plen > 0) {	/* just outside */
			unsigned int b = r->cidr.plen - 1;

			d->addr[b / 8] ^= 0x80 >> (b % 8);
		}
	} else {
		int v6 = rng_below(&g->r, 2);
		unsigned int bits = v6 ? 128 : 32;

		d->family = v6 ? EGRESS_FAM_V6 : EGRESS_FAM_V4;
		d->plen = bits;
		memcpy(d->addr, g->base[v6][rng_below(&g->r, 3)], 16);
		randomize_from(&g->r, d->addr, bits, rng_below(&g->r, bits + 1));
	}
}

#define RANDOM_POLICIES 1500
#define DESTS_PER_POLICY 120

/*
 * Every entry as the kernel gets it (entry_split) and back (entry_join):
 * the same value; at most EGRESS_INLINE slots in the entry, the rest in a
 * list keyed by the entry's own prefix; a list entry without its list (or
 * with another generation's) joins to an error, never to slots.
 */
static void check_split_round_trip(const struct compiled *c, unsigned long *nlists)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct centry *ce = &c->e[i];
		struct egress_entry e;
		struct egress_list l;
		struct entry_val back;
		bool has = entry_split(&ce->key, &ce->val, &e, &l);

		assert_int_equal(has, ce->val.nslots > EGRESS_INLINE);
		assert_int_equal(!!(e.ent_flags & EGRESS_ENT_LIST), has);
		assert_int_equal(e.ent_flags & EGRESS_ENT_HOSTS, ce->val.ent_flags & EGRESS_ENT_HOSTS);
		assert_int_equal(e.dflt, ce->val.dflt);
		assert_int_equal(e.pol_flags, ce->val.pol_flags);
		assert_int_equal(e.err, ce->val.err);
		if (has) {
			*nlists += 1;
			assert_int_equal(e.plen, ce->key.prefixlen - EGRESS_KEY_HDR_BITS);
			assert_int_equal(l.nslots, ce->val.nslots);
			assert_int_equal(entry_join(&e, NULL, &back), -ENOENT);
			l.gen++;
			assert_int_equal(entry_join(&e, &l, &back), -ENOENT);
			l.gen--;
		}
		assert_int_equal(entry_join(&e, has ? &l : NULL, &back), 0);
		assert_memory_equal(&back, &ce->val, sizeof(back));
	}
}

static void test_random_policies_compiled_matches_reference(void **state)
{
	struct genctx g = { .r = { 0x9e3779b97f4a7c15ULL } };
	unsigned long checks = 0, compiled = 0, skipped = 0, allows = 0, nlists = 0;
	char err[ERRBUF_LEN];

	for (int i = 0; i < RANDOM_POLICIES; i++) {
		struct policy p, shuf;
		struct compiled c, cshuf;

		if (!gen_policy(&g, &p, &c, err, sizeof(err))) {
			skipped++;
			policy_free(&p);
			continue;
		}
		compiled++;
		check_entries_have_full_slot(&c);
		check_entries_slot_order(&c, &p);
		check_split_round_trip(&c, &nlists);
		/* the rules in any order: the same reference verdicts, the same entries */
		assert_int_equal(policy_copy(&shuf, &p), 0);
		for (size_t k = shuf.nrules; k > 1; k--) {
			size_t r = rng_below(&g.r, k);
			struct rule t = shuf.rules[k - 1];

			shuf.rules[k - 1] = shuf.rules[r];
			shuf.rules[r] = t;
		}
		assert_int_equal(policy_compile(&shuf, &cshuf, err, sizeof(err)), 0);
		assert_int_equal(compiled_diff(&c, &cshuf), 0);
		compiled_free(&cshuf);
		for (int j = 0; j < DESTS_PER_POLICY; j++) {
			struct cidr d;
			uint8_t proto = dproto_pool[rng_below(&g.r, sizeof(dproto_pool))];
			uint16_t port = rng_below(&g.r, 4) ? dport_pool[rng_below(&g.r, sizeof(dport_pool) / sizeof(dport_pool[0]))]
							  : (uint16_t)rng_below(&g.r, 65536);
			int slow, fast;

			gen_dest(&g, &p, &d);
			slow = policy_decide_slow(&p, &d, proto, port);
			fast = compiled_decide(&c, &d, proto, port);
			if (slow != fast) {
				char dbuf[CIDR_STR_LEN], rbuf[128];

				format_cidr(&d, dbuf, sizeof(dbuf));
				print_error("policy #%d, default %s:\n", i, p.dflt ? "allow" : "deny");
				for (size_t k = 0; k < p.nrules; k++) {
					rule_str(&p.rules[k], rbuf, sizeof(rbuf));
					print_error("  %s\n", rbuf);
				}
				fail_msg("%s proto %u port %u: policy_decide_slow %d, compiled_decide %d",
					 dbuf, proto, port, slow, fast);
			}
			assert_int_equal(policy_decide_slow(&shuf, &d, proto, port), slow);
			allows += slow == ALLOW;
			checks++;
		}
		policy_free(&shuf);
		free_both(&p, &c);
	}
	print_message("# %lu policies compiled, %lu skipped (E2BIG), %lu checks, %lu allowed, "
		      "%lu entries with a list\n", compiled, skipped, checks, allows, nlists);
	assert_true(nlists > 1000);	/* the generator does reach the lists */
	assert_true(compiled >= RANDOM_POLICIES * 8 / 10);
	assert_true(skipped > 0);	/* the generator does reach the slot limit */
	assert_true(checks >= 100000);
	/* both verdicts are well represented */
	assert_true(allows > checks / 10 && allows < checks * 9 / 10);
}

/*
 * The kernel's form that apply compiles into (policy_compile_kform): in
 * policy_compile_unsorted's order, each compiled entry split into the trie
 * or the host table (its key as the table keys it), its list after the
 * others with list_key; joined back, every entry is the compiled one.  A
 * policy that does not compile leaves nothing.
 */
static void test_random_policies_kform_matches_compiled(void **state)
{
	struct genctx g = { .r = { 0x6b666f726d5eedULL } };
	unsigned long entries = 0, hosts = 0, lists = 0, refused = 0;
	char err[ERRBUF_LEN];

	for (int i = 0; i < RANDOM_POLICIES; i++) {
		struct policy p;
		struct compiled c, u;
		struct kform k;
		size_t it = 0, ih = 0, il = 0;
		int ret;

		if (!gen_policy(&g, &p, &c, err, sizeof(err))) {
			memset(&k, 0x5a, sizeof(k));
			assert_int_equal(policy_compile_kform(&p, &k, err, sizeof(err)), -E2BIG);
			assert_contains(err, "more than");
			assert_true(!k.tkey && !k.hkey && !k.lkey && !k.nt && !k.nh && !k.nl);
			refused++;
			policy_free(&p);
			continue;
		}
		ret = policy_compile_unsorted(&p, &u, err, sizeof(err));
		assert_int_equal(ret, 0);
		assert_int_equal(policy_compile_kform(&p, &k, err, sizeof(err)), 0);
		for (size_t e = 0; e < u.n; e++) {
			const struct centry *ce = &u.e[e];
			const struct egress_entry *ke;
			const struct egress_list *kl = NULL;
			struct entry_val back;

			if (key_is_host(&ce->key)) {
				struct egress_host_key hk;

				assert_true(ih < k.nh);
				host_key(&hk, &ce->key);
				assert_memory_equal(&k.hkey[ih], &hk, sizeof(hk));
				ke = &k.hent[ih++];
				hosts++;
			} else {
				assert_true(it < k.nt);
				assert_memory_equal(&k.tkey[it], &ce->key, sizeof(ce->key));
				ke = &k.tent[it++];
			}
			if (ke->ent_flags & EGRESS_ENT_LIST) {
				struct egress_lpm_key lk = list_key(&ce->key);

				assert_true(il < k.nl);
				assert_memory_equal(&k.lkey[il], &lk, sizeof(lk));
				kl = &k.lval[il++];
				lists++;
			}
			assert_int_equal(entry_join(ke, kl, &back), 0);
			assert_memory_equal(&back, &ce->val, sizeof(back));
			entries++;
		}
		assert_int_equal(it, k.nt);
		assert_int_equal(ih, k.nh);
		assert_int_equal(il, k.nl);
		kform_free(&k);
		compiled_free(&u);
		compiled_free(&c);
		policy_free(&p);
	}
	/* the generator reaches every part */
	assert_true(entries > 10000 && hosts > 100 && lists > 10 && refused > 0);
}

static void test_random_policies_decompile_round_trip(void **state)
{
	struct genctx g = { .r = { 0x1234567887654321ULL } };
	char err[ERRBUF_LEN];
	unsigned long done = 0;

	for (int i = 0; i < 500; i++) {
		struct policy p, back;
		struct compiled c, c2;

		if (!gen_policy(&g, &p, &c, err, sizeof(err))) {
			policy_free(&p);
			continue;
		}
		pol_init(&back, "rnd", !p.dflt);
		assert_int_equal(policy_decompile(&back, &c), 0);
		assert_same_policy(&p, &back);
		assert_int_equal(policy_compile(&back, &c2, err, sizeof(err)), 0);
		assert_int_equal(compiled_diff(&c, &c2), 0);
		/* one entry per distinct CIDR other than /0, plus the two roots */
		{
			size_t distinct = 0;

			for (size_t k = 0; k < p.nrules; k++)
				if (p.rules[k].cidr.plen &&
				    (k == 0 || cidr_cmp(&p.rules[k - 1].cidr, &p.rules[k].cidr)))
					distinct++;
			assert_non_null(find_entry(&c, "0.0.0.0/0"));
			assert_non_null(find_entry(&c, "::/0"));
			assert_int_equal(c.n, distinct + 2);
		}
		policy_free(&back);
		compiled_free(&c2);
		free_both(&p, &c);
		done++;
	}
	assert_true(done >= 400);
}

static void test_random_policies_diff_after_one_change(void **state)
{
	struct genctx g = { .r = { 0xdeadbeefcafef00dULL } };
	char err[ERRBUF_LEN];

	for (int i = 0; i < 300; i++) {
		struct policy p, q;
		struct compiled c, c2;
		struct rule r;

		if (!gen_policy(&g, &p, &c, err, sizeof(err))) {
			policy_free(&p);
			continue;
		}
		assert_int_equal(compiled_diff(&c, &c), 0);
		assert_int_equal(policy_copy(&q, &p), 0);
		gen_rule(&g, &r);
		if (policy_set_rule(&q, &r) == 1 &&
		    policy_compile(&q, &c2, err, sizeof(err)) == 0) {
			size_t d = compiled_diff(&c, &c2);

			assert_true(d >= 1);
			assert_int_equal(compiled_diff(&c2, &c), d);
			assert_true(d <= c.n + c2.n);
			compiled_free(&c2);
		}
		policy_free(&q);
		free_both(&p, &c);
	}
}

static void shuffle(struct genctx *g, struct rule *r, size_t n)
{
	for (size_t i = n ? n - 1 : 0; i > 0; i--) {
		size_t j = rng_below(&g->r, i + 1);
		struct rule t = r[i];

		r[i] = r[j];
		r[j] = t;
	}
}

static void test_normalize_large_matches_canonical_sort(void **state)
{
	struct genctx g = { .r = { 0x0dd5eedULL } };
	char err[ERRBUF_LEN];

	for (int round = 0; round < 20; round++) {
		struct policy p, q;

		gen_bases(&g);
		pol_init(&p, "big", DENY);
		for (int i = 0; i < 400; i++) {
			struct rule r;

			gen_rule(&g, &r);
			assert_true(policy_set_rule(&p, &r) >= 0);	/* one rule per match */
		}
		/* shuffled, with exact duplicates */
		for (size_t i = 0; i < 50; i++)
			assert_int_equal(policy_append_rule(&p, &p.rules[rng_below(&g.r, p.nrules)]), 0);
		shuffle(&g, p.rules, p.nrules);
		assert_int_equal(policy_normalize(&p, NULL, err, sizeof(err)), 0);
		/* the same rules shuffled again, through policy_sort's comparison alone */
		assert_int_equal(policy_copy(&q, &p), 0);
		shuffle(&g, q.rules, q.nrules);
		policy_sort(&q);
		assert_true(p.nrules >= 300);
		for (size_t i = 0; i < p.nrules; i++)
			assert_memory_equal(&p.rules[i], &q.rules[i], sizeof(p.rules[i]));
		for (size_t i = 1; i < p.nrules; i++)
			assert_false(rule_same_match(&p.rules[i - 1], &p.rules[i]));
		policy_free(&q);
		policy_free(&p);
	}
}

/* ---- incremental plans (policy_plan_edit) against a full recompile ---- */

static void set_gen(struct compiled *c, uint32_t gen)
{
	for (size_t i = 0; i < c->n; i++)
		c->e[i].val.gen = gen;
}

static void apply_plan(struct compiled *c, const struct compiled *put, const struct compiled *del)
{
	for (size_t d = 0; d < del->n; d++) {
		size_t i = 0;

		while (i < c->n && memcmp(&c->e[i].key, &del->e[d].key, sizeof(c->e[i].key)))
			i++;
		assert_true(i < c->n);	/* a deleted key existed */
		c->e[i] = c->e[--c->n];
	}
	for (size_t u = 0; u < put->n; u++) {
		size_t i = 0;

		while (i < c->n && memcmp(&c->e[i].key, &put->e[u].key, sizeof(c->e[i].key)))
			i++;
		if (i < c->n)
			c->e[i].val = put->e[u].val;
		else
			assert_int_equal(compiled_push(c, &put->e[u].key, &put->e[u].val), 0);
	}
	compiled_sort(c);
}

/*
 * The plan writes exactly the entries that differ (nothing else), and c
 * (the old policy's entries) with it applied is c2 (the new policy's).
 */
static void assert_plan_is_recompile(struct compiled *c, const struct compiled *c2,
				     const struct compiled *put, const struct compiled *del)
{
	assert_int_equal(put->n + del->n, compiled_diff(c, c2));
	apply_plan(c, put, del);
	assert_int_equal(c->n, c2->n);
	for (size_t e = 0; e < c->n; e++) {
		assert_memory_equal(&c->e[e].key, &c2->e[e].key, sizeof(c->e[e].key));
		assert_memory_equal(&c->e[e].val, &c2->e[e].val, sizeof(c->e[e].val));
	}
}

/* A rule edit likely to interact: an existing CIDR, one of its containers, or a fresh one. */
static void gen_edit(struct genctx *g, const struct policy *p, struct rule *r, bool *remove)
{
	unsigned int k = rng_below(&g->r, 10);

	gen_rule(g, r);
	*remove = false;
	if (!p->nrules || k < 2)
		return;
	if (k < 5) {		/* remove or flip an existing rule */
		*r = p->rules[rng_below(&g->r, p->nrules)];
		*remove = rng_below(&g->r, 2);
		if (!*remove)
			r->action = !r->action;
		return;
	}
	r->cidr = p->rules[rng_below(&g->r, p->nrules)].cidr;
	if (k < 8 && r->cidr.plen) {	/* a container of it */
		r->cidr.plen = rng_below(&g->r, r->cidr.plen);
		mask_addr(r->cidr.addr, 128, r->cidr.plen);
	}
}

static void test_random_edits_plan_matches_recompile(void **state)
{
	struct genctx g = { .r = { 0x5eed0fed17ab1e5ULL } };
	char err[ERRBUF_LEN];
	int planned = 0, refused = 0, touched = 0;

	for (int i = 0; i < 3000; i++) {
		struct compiled c, c2, put, del;
		struct policy p, q;
		struct rule r;
		bool remove;
		int ret;

		if (!gen_policy(&g, &p, &c, err, sizeof(err))) {
			policy_free(&p);
			continue;
		}
		assert_int_equal(policy_copy(&q, &p), 0);
		gen_edit(&g, &p, &r, &remove);
		if (remove ? policy_remove_rule(&q, &r) : policy_set_rule(&q, &r) != 1) {
			policy_free(&q);
			free_both(&p, &c);
			continue;
		}
		policy_sort(&q);
		ret = policy_plan_edit(&p, &q, &r.cidr, 7, &put, &del, err, sizeof(err));
		if (policy_compile(&q, &c2, err, sizeof(err))) {
			assert_int_equal(ret, -E2BIG);	/* refused as a recompile refuses */
			refused++;
		} else {
			assert_int_equal(ret, 0);
			set_gen(&c, 7);
			set_gen(&c2, 7);
			assert_plan_is_recompile(&c, &c2, &put, &del);
			touched += put.n + del.n;
			planned++;
			compiled_free(&put);
			compiled_free(&del);
			compiled_free(&c2);
		}
		policy_free(&q);
		free_both(&p, &c);
	}
	assert_true(planned > 1000);
	assert_true(refused > 0);
	assert_true(touched > planned);	/* edits that cascade were among them */
}

/*
 * The same against a policy store read in place: some rules marked
 * removed (RULE_DEAD) where they stood, and a removal planned with the
 * rule named `gone` instead of taken out (user/store.c's removal in
 * place).  The plan must be the one of the policy without them.
 */
static void test_random_edits_with_removed_rules(void **state)
{
	struct genctx g = { .r = { 0xdeadf1e1d5ULL } };
	char err[ERRBUF_LEN];
	int planned = 0, marked = 0, gone = 0;

	for (int i = 0; i < 3000; i++) {
		struct compiled full, c, c2, put, del;
		struct policy view, clean, q, qv;
		struct rule r;
		bool remove;
		int ret;

		if (!gen_policy(&g, &view, &full, err, sizeof(err))) {
			policy_free(&view);
			continue;
		}
		compiled_free(&full);
		for (size_t k = 0; k < view.nrules; k++)
			if (rng_below(&g.r, 3) == 0) {
				view.rules[k].action = RULE_DEAD;
				view.ndead++;
			}
		marked += view.ndead;
		assert_int_equal(policy_copy(&clean, &view), 0);
		assert_int_equal(clean.nrules, policy_live(&view));
		if (policy_compile(&clean, &c, err, sizeof(err))) {
			policy_free(&clean);	/* fewer rules, more slots at one CIDR: E2BIG */
			policy_free(&view);
			continue;
		}
		/* a compile of the view itself is refused: removed rules never reach the kernel */
		if (view.ndead)
			assert_int_equal(policy_compile(&view, &c2, err, sizeof(err)), -EINVAL);
		gen_edit(&g, &clean, &r, &remove);
		assert_int_equal(policy_copy(&q, &clean), 0);
		if (remove ? policy_remove_rule(&q, &r) : policy_set_rule(&q, &r) != 1) {
			policy_free(&q);
			policy_free(&clean);
			free_both(&view, &c);
			continue;
		}
		policy_sort(&q);
		qv = q;
		if (remove) {
			/* the store's way: the view, its rule named gone */
			qv = view;
			qv.gone = NULL;
			for (size_t k = 0; k < view.nrules; k++)
				if (rule_live(&view, &view.rules[k]) && rule_same_match(&view.rules[k], &r))
					qv.gone = &view.rules[k];
			assert_non_null(qv.gone);
			gone++;
		}
		ret = policy_plan_edit(&view, &qv, &r.cidr, 7, &put, &del, err, sizeof(err));
		if (policy_compile(&q, &c2, err, sizeof(err))) {
			assert_int_equal(ret, -E2BIG);
		} else {
			assert_int_equal(ret, 0);
			set_gen(&c, 7);
			set_gen(&c2, 7);
			assert_plan_is_recompile(&c, &c2, &put, &del);
			planned++;
			compiled_free(&put);
			compiled_free(&del);
			compiled_free(&c2);
		}
		policy_free(&q);
		policy_free(&clean);
		free_both(&view, &c);
	}
	assert_true(planned > 1000);
	assert_true(marked > 1000);
	assert_true(gone > 300);
}

/*
 * A CIDR whose only rule was removed in place is no container: a host
 * inside it has the next CIDR up as its longest container, which keeps
 * its hosts flag when another host below it goes.
 */
static void test_plan_removed_container(void **state)
{
	struct compiled c, c2, put, del;
	struct policy view, clean, q, qv;
	struct rule r = mkrule("10.2.0.1", ALLOW, ANYP, 0, 65535);
	char err[ERRBUF_LEN];

	pol_init(&view, "t", DENY);
	pol_add(&view, "10.0.0.0/8", ALLOW, TCP, 443, 443);
	pol_add(&view, "10.1.0.0/16", ALLOW, ANYP, 0, 65535);
	pol_add(&view, "10.1.2.3", ALLOW, UDP, 53, 53);
	pol_add(&view, "10.2.0.1", ALLOW, ANYP, 0, 65535);
	policy_sort(&view);
	assert_int_equal(view.rules[1].cidr.plen, 16);
	view.rules[1].action = RULE_DEAD;	/* the /16, removed in place */
	view.ndead = 1;
	assert_int_equal(policy_copy(&clean, &view), 0);
	assert_int_equal(clean.nrules, 3);
	pol_compile(&clean, &c);
	assert_int_equal(policy_copy(&q, &clean), 0);
	assert_int_equal(policy_remove_rule(&q, &r), 0);
	policy_sort(&q);
	pol_compile(&q, &c2);
	/* removed in place too: the view, the host named gone */
	qv = view;
	qv.gone = &view.rules[3];
	assert_true(rule_same_match(qv.gone, &r));
	assert_int_equal(policy_plan_edit(&view, &qv, &r.cidr, 0, &put, &del, err, sizeof(err)), 0);
	assert_plan_is_recompile(&c, &c2, &put, &del);
	compiled_free(&put);
	compiled_free(&del);
	compiled_free(&c2);
	policy_free(&q);
	policy_free(&clean);
	free_both(&view, &c);
}

static void test_plan_host_edit_touches_one_entry(void **state)
{
	struct compiled c, put, del;
	struct policy p, q;
	struct rule r = mkrule("10.1.2.3", DENY, UDP, 0, 65535);
	char err[ERRBUF_LEN];

	pol_init(&p, "t", ALLOW);
	pol_add(&p, "10.0.0.0/8", DENY, ANYP, 0, 65535);
	pol_add(&p, "10.1.2.4", ALLOW, ANYP, 0, 65535);
	pol_add(&p, "10.1.0.0/16", ALLOW, TCP, 80, 80);
	pol_compile(&p, &c);
	assert_int_equal(policy_copy(&q, &p), 0);
	assert_int_equal(policy_set_rule(&q, &r), 1);
	policy_sort(&q);
	assert_int_equal(policy_plan_edit(&p, &q, &r.cidr, 0, &put, &del, err, sizeof(err)), 0);
	/* the host's own entry; its container already holds hosts */
	assert_int_equal(put.n, 1);
	assert_int_equal(del.n, 0);
	compiled_free(&put);
	compiled_free(&del);
	/* removing the /16 moves its host (a full rule: nothing inherited) under the /8: the /16 goes, the /8 gets the hosts flag */
	policy_free(&q);
	assert_int_equal(policy_copy(&q, &p), 0);
	r = mkrule("10.1.0.0/16", ALLOW, TCP, 80, 80);
	assert_int_equal(policy_remove_rule(&q, &r), 0);
	policy_sort(&q);
	assert_int_equal(policy_plan_edit(&p, &q, &r.cidr, 0, &put, &del, err, sizeof(err)), 0);
	assert_int_equal(del.n, 1);
	assert_int_equal(put.n, 1);
	assert_true(put.e[0].val.ent_flags & EGRESS_ENT_HOSTS);
	compiled_free(&put);
	compiled_free(&del);
	policy_free(&q);
	free_both(&p, &c);
}

/*
 * Hit counter ids (user/hits.h): each rule's id rides in every slot that
 * carries the rule, the default's in the default slot; they come back
 * from a decompile; a changed action takes the new rule's id.
 */
static void test_compile_carries_hit_ids(void **state)
{
	struct policy p, back = {};
	struct compiled c;
	const struct centry *e;
	struct rule r;

	(void)state;
	pol_init(&p, "t", DENY);
	p.dflt_id = 7;
	pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 443, 443);
	pol_add(&p, "10.1.0.0/16", DENY, 0, 0, 65535);
	p.rules[0].id = 100;
	p.rules[1].id = (1u << EGRESS_HITS_ID_BITS) - 1;	/* the largest id fits */
	pol_compile(&p, &c);
	e = find_entry(&c, "10.1.0.0/16");
	assert_non_null(e);
	assert_int_equal(e->val.nslots, 1);	/* a full own rule: nothing inherited */
	assert_int_equal(e->val.slot[0].id, (1u << EGRESS_HITS_ID_BITS) - 1);
	e = find_entry(&c, "10.0.0.0/8");
	assert_non_null(e);
	assert_int_equal(e->val.slot[0].id, 100);
	assert_int_equal(e->val.slot[0].proto, TCP);
	assert_int_equal(e->val.slot[0].action, ALLOW);
	assert_int_equal(e->val.slot[0].plen, 8);
	assert_true(e->val.slot[1].flags & EGRESS_SLOT_DEFAULT);
	assert_int_equal(e->val.slot[1].id, 7);
	assert_int_equal(sizeof(struct egress_slot), 8);
	assert_int_equal(sizeof(struct egress_entry), 24);	/* issue 12, goal 7: the kernel entry */
	assert_int_equal(sizeof(struct egress_list), 8 + EGRESS_SLOTS * 8);
	assert_int_equal(policy_decompile(&back, &c), 0);
	assert_int_equal(back.dflt_id, 7);
	assert_int_equal(back.nrules, 2);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(back.rules[i].id, back.rules[i].cidr.plen == 8 ? 100 :
				 (1u << EGRESS_HITS_ID_BITS) - 1);
	r = p.rules[1];
	r.action = ALLOW;
	r.id = 5;
	assert_int_equal(policy_set_rule(&p, &r), 1);
	assert_int_equal(p.rules[1].id, 5);
	policy_free(&back);
	free_both(&p, &c);
}

const struct CMUnitTest policy_tests[] = {
	cmocka_unit_test(test_compile_carries_hit_ids),
	cmocka_unit_test(test_decide_empty_policy_default_deny),
	cmocka_unit_test(test_decide_empty_policy_default_allow),
	cmocka_unit_test(test_decide_host_allow_inside_subnet_deny),
	cmocka_unit_test(test_decide_host_deny_inside_subnet_allow),
	cmocka_unit_test(test_decide_equal_prefix_deny_beats_allow),
	cmocka_unit_test(test_decide_slow_reference_ignores_rule_order),
	cmocka_unit_test(test_decide_equal_prefix_full_allow_and_specific_deny),
	cmocka_unit_test(test_decide_equal_prefix_full_deny_and_specific_allow),
	cmocka_unit_test(test_decide_overlapping_port_ranges_equal_prefix),
	cmocka_unit_test(test_decide_proto_specific_rules),
	cmocka_unit_test(test_decide_host_tcp_rule_falls_back_to_container_for_udp),
	cmocka_unit_test(test_decide_host_port_rule_falls_back_through_two_levels),
	cmocka_unit_test(test_decide_zero_prefix_rules),
	cmocka_unit_test(test_decide_v6_zero_allow_does_not_affect_v4),
	cmocka_unit_test(test_decide_v4_zero_deny_does_not_affect_v6),
	cmocka_unit_test(test_decide_v6_nested),
	cmocka_unit_test(test_decide_sibling_cidrs_do_not_inherit),
	cmocka_unit_test(test_decide_port_1_65535_is_not_every_port),
	cmocka_unit_test(test_decide_deep_chain_alternating),
	cmocka_unit_test(test_compile_has_both_roots_with_default_slot),
	cmocka_unit_test(test_compile_entry_slot_order),
	cmocka_unit_test(test_compile_full_own_rule_stops_inheritance),
	cmocka_unit_test(test_compiled_every_entry_has_full_slot),
	cmocka_unit_test(test_compiled_every_entry_ends_with_full_slot),
	cmocka_unit_test(test_decompile_round_trip_samples),
	cmocka_unit_test(test_decompile_round_trip_default_and_errno),
	cmocka_unit_test(test_decompile_reuses_a_policy_with_rules),
	cmocka_unit_test(test_normalize_merges_duplicates),
	cmocka_unit_test(test_normalize_conflict_is_eexist),
	cmocka_unit_test(test_normalize_same_cidr_different_ports_no_conflict),
	cmocka_unit_test(test_normalize_order_independent),
	cmocka_unit_test(test_set_and_remove_rule),
	cmocka_unit_test(test_policy_copy_is_deep),
	cmocka_unit_test(test_lpm_key_round_trip),
	cmocka_unit_test(test_compile_e2big_own_rules),
	cmocka_unit_test(test_compile_e2big_names_inheriting_cidr),
	cmocka_unit_test(test_diff_identical_is_zero),
	cmocka_unit_test(test_diff_add_leaf_host_is_one),
	cmocka_unit_test(test_diff_change_cascades_to_contained),
	cmocka_unit_test(test_diff_counts_removed_and_added_keys),
	cmocka_unit_test(test_random_policies_compiled_matches_reference),
	cmocka_unit_test(test_random_policies_kform_matches_compiled),
	cmocka_unit_test(test_random_policies_decompile_round_trip),
	cmocka_unit_test(test_random_policies_diff_after_one_change),
	cmocka_unit_test(test_normalize_large_matches_canonical_sort),
	cmocka_unit_test(test_random_edits_plan_matches_recompile),
	cmocka_unit_test(test_random_edits_with_removed_rules),
	cmocka_unit_test(test_plan_removed_container),
	cmocka_unit_test(test_plan_host_edit_touches_one_entry),
};
UNIT_GROUP(policy)

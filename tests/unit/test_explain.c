// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_explain.c - user/explain.c: the address mapping, the deciding rule
 * and the reason of one policy, the combination of nested bindings (the
 * errno that wins, audit), the text, the JSON and --batch lines; and, over
 * random policies, that explain's verdict is the compiled entries' and the
 * reference's, and that its deciding rule gives that verdict.
 */
#include "helpers.h"
#include "explain.h"

#define ALL 0, 65535

static struct explain_dest dest_of(const char *s)
{
	char err[ERRBUF_LEN] = "";
	struct explain_dest d;

	if (explain_parse_dest(s, &d, err, sizeof(err)))
		fail_msg("explain_parse_dest(\"%s\"): %s", s, err);
	return d;
}

static void assert_addr(const struct cidr *c, const char *want)
{
	char buf[CIDR_STR_LEN];

	format_addr(c->family, c->addr, buf, sizeof(buf));
	assert_string_equal(buf, want);
	assert_int_equal(c->plen, c->family == EGRESS_FAM_V4 ? 32 : 128);
}

/* explain_print's text (free it) */
static char *answer_text(const struct explain_ctx *x, const struct explain_answer *a)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	explain_print(f, x, a);
	fclose(f);
	return text;
}

/* ---- destinations ------------------------------------------------------- */

static void test_dest_plain_addresses_decided_as_given(void **state)
{
	struct explain_dest d = dest_of("192.0.2.10");

	assert_int_equal(d.naddr, 1);
	assert_addr(&d.addr[0], "192.0.2.10");
	assert_null(d.mapping);
	d = dest_of("2001:db8::1");
	assert_addr(&d.addr[0], "2001:db8::1");
	assert_null(d.mapping);
	d = dest_of("127.0.0.1");
	assert_null(d.mapping);
}

static void test_dest_loopback_and_mapped(void **state)
{
	struct explain_dest d = dest_of("0.0.0.0");

	assert_int_equal(d.naddr, 1);
	assert_addr(&d.addr[0], "127.0.0.1");
	assert_contains(d.mapping, "127.0.0.1");
	d = dest_of("::");
	assert_addr(&d.addr[0], "::1");
	assert_contains(d.mapping, "::1");
	d = dest_of("::ffff:10.1.2.3");
	assert_int_equal(d.addr[0].family, EGRESS_FAM_V4);
	assert_addr(&d.addr[0], "10.1.2.3");
	assert_contains(d.mapping, "v4-mapped");
	d = dest_of("::ffff:0.0.0.0");
	assert_addr(&d.addr[0], "127.0.0.1");
	assert_addr(&d.given, "::ffff:0.0.0.0");
	/* only ::ffff:0:0/96 is v4-mapped */
	d = dest_of("::fffe:10.1.2.3");
	assert_int_equal(d.addr[0].family, EGRESS_FAM_V6);
	assert_null(d.mapping);
}

/* as bpf/egress.bpf.c dest_embedded: decided as itself and as the IPv4 it embeds */
static void test_dest_embedded_ipv4(void **state)
{
	struct explain_dest d = dest_of("::169.254.169.254");

	assert_int_equal(d.naddr, 2);
	assert_addr(&d.addr[0], "::169.254.169.254");
	assert_addr(&d.addr[1], "169.254.169.254");
	d = dest_of("64:ff9b::a9fe:a9fe");
	assert_int_equal(d.naddr, 2);
	assert_addr(&d.addr[1], "169.254.169.254");
	d = dest_of("2002:a9fe:a9fe::1");
	assert_int_equal(d.naddr, 2);
	assert_addr(&d.addr[1], "169.254.169.254");
	/* an embedded 0.0.0.0 goes where the kernel's dest_v4 sends it */
	d = dest_of("2002::");
	assert_int_equal(d.naddr, 2);
	assert_addr(&d.addr[1], "127.0.0.1");
	/* ::1 and :: are loopback, not IPv4-compatible */
	d = dest_of("::1");
	assert_int_equal(d.naddr, 1);
	d = dest_of("::");
	assert_int_equal(d.naddr, 1);
}

static void test_dest_bad_input_names_it(void **state)
{
	const char *bad[] = { "10.0.0.0/8", "example.com", "", "1.2.3", "::ffff:1.2.3.4.5",
			      "2001:db8::1%lo", "0x7f000001" };
	char err[ERRBUF_LEN];
	struct explain_dest d;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(explain_parse_dest(bad[i], &d, err, sizeof(err)), -EINVAL);
		assert_contains(err, "invalid destination");
		assert_contains(err, bad[i]);
		assert_null(strchr(err, '\n'));
	}
	assert_int_equal(explain_parse_dest(NULL, &d, err, sizeof(err)), -EINVAL);
}

static void test_parse_case(void **state)
{
	char err[ERRBUF_LEN];
	uint8_t proto;
	int port;

	assert_int_equal(explain_parse_case(NULL, NULL, &proto, &port, err, sizeof(err)), 0);
	assert_int_equal(proto, TCP);
	assert_int_equal(port, -1);
	assert_int_equal(explain_parse_case("udp", "53", &proto, &port, err, sizeof(err)), 0);
	assert_int_equal(proto, UDP);
	assert_int_equal(port, 53);
	assert_int_equal(explain_parse_case("any", NULL, &proto, &port, err, sizeof(err)), -EINVAL);
	assert_contains(err, "'any'");
	assert_int_equal(explain_parse_case("icmp", NULL, &proto, &port, err, sizeof(err)), -EINVAL);
	assert_int_equal(explain_parse_case(NULL, "70000", &proto, &port, err, sizeof(err)), -EINVAL);
	assert_contains(err, "70000");
	assert_int_equal(explain_parse_case(NULL, "80-90", &proto, &port, err, sizeof(err)), -EINVAL);
	assert_int_equal(explain_parse_case(NULL, "-1", &proto, &port, err, sizeof(err)), -EINVAL);
}

/* ---- one policy ---------------------------------------------------------- */

struct one {
	struct policy p;
	struct compiled c;
	struct explain_decision d;
};

static void decide(struct one *o, const char *addr, uint8_t proto, uint16_t port)
{
	struct cidr a = cidr_of(addr);

	explain_decision_free(&o->d);
	assert_int_equal(explain_decide(&o->p, &o->c, &a, proto, port, &o->d), 0);
	assert_false(o->d.mismatch);
}

static void one_free(struct one *o)
{
	explain_decision_free(&o->d);
	policy_free(&o->p);
	compiled_free(&o->c);
}

static enum explain_mark mark_of(const struct explain_decision *d, const char *rule)
{
	char txt[128];

	for (size_t i = 0; i < d->nlines; i++) {
		explain_rule_text(&d->lines[i].rule, txt, sizeof(txt));
		if (!strcmp(txt, rule))
			return d->lines[i].mark;
	}
	fail_msg("rule '%s' not among the lines", rule);
	return EXPLAIN_DECIDES;
}

static void test_decide_longest_prefix(void **state)
{
	struct one o = {};

	pol_init(&o.p, "t", DENY);
	pol_add(&o.p, "10.0.0.0/8", DENY, ANYP, ALL);
	pol_add(&o.p, "10.1.0.0/16", ALLOW, TCP, ALL);
	pol_add(&o.p, "192.0.2.0/24", DENY, ANYP, ALL);
	pol_compile(&o.p, &o.c);
	decide(&o, "10.1.2.3", TCP, 80);
	assert_int_equal(o.d.verdict, ALLOW);
	assert_int_equal(o.d.why, EXPLAIN_LONGEST);
	assert_int_equal(o.d.rule.cidr.plen, 16);
	assert_false(o.d.longer_skipped);
	assert_int_equal(o.d.nlines, 2);	/* 192.0.2.0/24 does not hold it */
	assert_int_equal(o.d.lines[0].mark, EXPLAIN_DECIDES);	/* longer first */
	assert_int_equal(mark_of(&o.d, "deny 10.0.0.0/8"), EXPLAIN_SHORTER);
	one_free(&o);
}

static void test_decide_deny_beats_allow_at_equal_prefix(void **state)
{
	struct one o = {};

	pol_init(&o.p, "t", ALLOW);
	pol_add(&o.p, "10.1.0.0/16", ALLOW, ANYP, ALL);
	pol_add(&o.p, "10.1.0.0/16", ALLOW, TCP, ALL);
	pol_add(&o.p, "10.1.0.0/16", DENY, ANYP, 20, 25);
	pol_compile(&o.p, &o.c);
	decide(&o, "10.1.2.3", TCP, 22);
	assert_int_equal(o.d.verdict, DENY);
	assert_int_equal(o.d.why, EXPLAIN_DENY_BEATS_ALLOW);
	assert_int_equal(mark_of(&o.d, "deny 10.1.0.0/16 any 20-25"), EXPLAIN_DECIDES);
	assert_int_equal(mark_of(&o.d, "allow 10.1.0.0/16"), EXPLAIN_LOSES);
	assert_int_equal(mark_of(&o.d, "allow 10.1.0.0/16 tcp"), EXPLAIN_LOSES);
	/* outside the ports, two allows match: the specific one comes first */
	decide(&o, "10.1.2.3", TCP, 80);
	assert_int_equal(o.d.verdict, ALLOW);
	assert_int_equal(o.d.why, EXPLAIN_LONGEST);
	assert_int_equal(mark_of(&o.d, "deny 10.1.0.0/16 any 20-25"), EXPLAIN_PORT);
	assert_int_equal(mark_of(&o.d, "allow 10.1.0.0/16 tcp"), EXPLAIN_DECIDES);
	assert_int_equal(mark_of(&o.d, "allow 10.1.0.0/16"), EXPLAIN_ALSO);
	one_free(&o);
}

static void test_decide_longer_rule_protocol_or_port_differs(void **state)
{
	struct explain_ctx x = {};
	struct explain_answer a;
	struct explain_dest dst;
	struct one o = {};
	char *text;

	pol_init(&o.p, "t", DENY);
	pol_add(&o.p, "10.0.0.0/8", ALLOW, ANYP, ALL);
	pol_add(&o.p, "10.1.2.0/24", DENY, UDP, ALL);
	pol_add(&o.p, "10.1.2.3/32", DENY, TCP, 443, 443);
	pol_compile(&o.p, &o.c);
	decide(&o, "10.1.2.3", TCP, 80);
	assert_int_equal(o.d.verdict, ALLOW);
	assert_int_equal(o.d.why, EXPLAIN_LONGEST);
	assert_true(o.d.longer_skipped);
	assert_int_equal(mark_of(&o.d, "deny 10.1.2.3/32 tcp 443"), EXPLAIN_PORT);
	assert_int_equal(mark_of(&o.d, "deny 10.1.2.0/24 udp"), EXPLAIN_PROTO);
	assert_int_equal(mark_of(&o.d, "allow 10.0.0.0/8"), EXPLAIN_DECIDES);
	/* the reason names the first longer rule that was skipped */
	assert_int_equal(explain_ctx_add_policy(&x, &o.p, NULL, 0), 0);
	assert_int_equal(explain_ctx_add_binding(&x, "/cg", 0), 0);
	dst = dest_of("10.1.2.3");
	assert_int_equal(explain_run(&x, &dst, TCP, 80, &a), 0);
	text = answer_text(&x, &a);
	assert_contains(text, "the longest matching prefix, /8; deny 10.1.2.3/32 tcp 443 is longer, "
			      "but its port does not match");
	assert_contains(text, "verdict: allow\n");
	free(text);
	explain_answer_free(&a);
	explain_ctx_free(&x);
	one_free(&o);
}

static void test_decide_default(void **state)
{
	struct one o = {};

	pol_init(&o.p, "t", DENY);
	pol_add(&o.p, "10.0.0.0/8", ALLOW, UDP, 53, 53);
	pol_add(&o.p, "2001:db8::/32", ALLOW, ANYP, ALL);
	pol_compile(&o.p, &o.c);
	decide(&o, "10.1.2.3", TCP, 53);
	assert_int_equal(o.d.verdict, DENY);
	assert_int_equal(o.d.why, EXPLAIN_DEFAULT);
	assert_true(o.d.longer_skipped);
	assert_int_equal(o.d.nlines, 1);
	assert_int_equal(o.d.lines[0].mark, EXPLAIN_PROTO);
	/* IPv6 rules say nothing about IPv4 */
	decide(&o, "192.0.2.1", UDP, 53);
	assert_int_equal(o.d.why, EXPLAIN_DEFAULT);
	assert_int_equal(o.d.nlines, 0);
	assert_false(o.d.longer_skipped);
	one_free(&o);
}

/* ---- bindings ------------------------------------------------------------ */

/* leaf: deny 10/8 with leaf_err; outer: deny 10/8 with outer_err; */
static void two_levels(struct explain_ctx *x, uint16_t leaf_err, uint16_t outer_err)
{
	struct policy p;

	memset(x, 0, sizeof(*x));
	pol_init(&p, "leaf", ALLOW);
	p.err = leaf_err;
	pol_add(&p, "10.0.0.0/8", DENY, ANYP, ALL);
	assert_int_equal(explain_ctx_add_policy(x, &p, NULL, 0), 0);
	policy_free(&p);
	pol_init(&p, "outer", ALLOW);
	p.err = outer_err;
	pol_add(&p, "10.0.0.0/8", DENY, ANYP, ALL);
	pol_add(&p, "10.9.0.0/16", ALLOW, ANYP, ALL);
	assert_int_equal(explain_ctx_add_policy(x, &p, NULL, 0), 1);
	policy_free(&p);
	assert_int_equal(explain_ctx_add_binding(x, "/cg/a/b", 0), 0);
	assert_int_equal(explain_ctx_add_binding(x, "/cg/a", 1), 0);
}

static void run(const struct explain_ctx *x, const char *dst, struct explain_answer *a)
{
	struct explain_dest d = dest_of(dst);

	assert_int_equal(explain_run(x, &d, TCP, 80, a), 0);
}

static void test_combine_errno_as_the_kernel_sets_it(void **state)
{
	const struct { uint16_t leaf, outer; int want, from; } cases[] = {
		{ 0, 0, EPERM, 0 },			/* the first denial */
		{ 0, EACCES, EACCES, 1 },		/* the outer one sets its errno */
		{ EACCES, 0, EACCES, 0 },		/* an EPERM denial keeps it */
		{ EACCES, ENETUNREACH, ENETUNREACH, 1 },	/* the last one set wins */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct explain_answer a;
		struct explain_ctx x;

		two_levels(&x, cases[i].leaf, cases[i].outer);
		run(&x, "10.1.2.3", &a);
		assert_int_equal(a.nsteps, 2);
		assert_int_equal(a.verdict, DENY);
		assert_int_equal(a.err, cases[i].want);
		assert_int_equal(a.err_step, cases[i].from);
		explain_answer_free(&a);
		/* only the leaf denies */
		run(&x, "10.9.0.1", &a);
		assert_int_equal(a.verdict, DENY);
		assert_int_equal(a.err, cases[i].leaf ? cases[i].leaf : EPERM);
		assert_int_equal(a.err_step, 0);
		explain_answer_free(&a);
		run(&x, "192.0.2.1", &a);
		assert_int_equal(a.verdict, ALLOW);
		assert_int_equal(a.err, 0);
		assert_int_equal(a.err_step, -1);
		explain_answer_free(&a);
		explain_ctx_free(&x);
	}
}

static void test_combine_audit_never_denies(void **state)
{
	struct explain_answer a;
	struct explain_ctx x;
	json_t *j;

	two_levels(&x, EACCES, 0);
	x.pols[0].audit = true;	/* issue 11 item 1 sets this from the policy's mode */
	run(&x, "10.9.0.1", &a);
	assert_int_equal(a.steps[0].d.verdict, DENY);
	assert_int_equal(a.verdict, ALLOW);
	j = explain_json(&x, &a);
	assert_string_equal(json_string_value(json_object_get(j, "verdict")), "allow");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(j, "policies"), 0), "verdict")), "audit");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(j, "policies"), 0), "mode")), "audit");
	json_decref(j);
	explain_answer_free(&a);
	/* the enforcing outer policy still denies, with its own errno */
	run(&x, "10.1.0.1", &a);
	assert_int_equal(a.verdict, DENY);
	assert_int_equal(a.err, EPERM);
	assert_int_equal(a.err_step, 1);
	explain_answer_free(&a);
	explain_ctx_free(&x);
}

static void test_unconfigured_binding_fails_closed(void **state)
{
	struct explain_answer a;
	struct explain_ctx x = {};
	char *text;

	assert_int_equal(explain_ctx_add_binding(&x, "/cg", -1), 0);
	run(&x, "192.0.2.1", &a);
	assert_int_equal(a.verdict, DENY);
	assert_int_equal(a.err, EPERM);
	assert_int_equal(a.steps[0].d.why, EXPLAIN_UNCONFIGURED);
	text = answer_text(&x, &a);
	assert_contains(text, "fails closed");
	free(text);
	explain_answer_free(&a);
	explain_ctx_free(&x);
}

/* ---- output -------------------------------------------------------------- */

static void test_rule_text(void **state)
{
	const struct { struct rule r; const char *want; } cases[] = {
		{ mkrule("10.0.0.0/8", ALLOW, ANYP, ALL), "allow 10.0.0.0/8" },
		{ mkrule("10.0.0.0/8", ALLOW, TCP, ALL), "allow 10.0.0.0/8 tcp" },
		{ mkrule("10.0.0.0/8", DENY, TCP, 443, 443), "deny 10.0.0.0/8 tcp 443" },
		{ mkrule("::/0", DENY, ANYP, 53, 53), "deny ::/0 any 53" },
		{ mkrule("2001:db8::/32", ALLOW, UDP, 1000, 2000), "allow 2001:db8::/32 udp 1000-2000" },
	};
	char buf[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		explain_rule_text(&cases[i].r, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

static void test_json_fields(void **state)
{
	struct explain_answer a;
	struct explain_ctx x;
	json_t *j, *p, *r;

	two_levels(&x, 0, EACCES);
	run(&x, "::ffff:10.1.2.3", &a);
	j = explain_json(&x, &a);
	assert_string_equal(json_string_value(json_object_get(j, "destination")), "::ffff:10.1.2.3");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "decided_as"), 0)),
			    "10.1.2.3");
	assert_true(json_is_string(json_object_get(j, "mapping")));
	assert_string_equal(json_string_value(json_object_get(j, "proto")), "tcp");
	assert_int_equal(json_integer_value(json_object_get(j, "port")), 80);
	assert_string_equal(json_string_value(json_object_get(j, "verdict")), "deny");
	assert_string_equal(json_string_value(json_object_get(j, "errno")), "EACCES");
	p = json_array_get(json_object_get(j, "policies"), 1);
	assert_string_equal(json_string_value(json_object_get(p, "cgroup")), "/cg/a");
	assert_string_equal(json_string_value(json_object_get(p, "policy")), "outer");
	assert_string_equal(json_string_value(json_object_get(p, "mode")), "enforce");
	assert_string_equal(json_string_value(json_object_get(p, "address")), "10.1.2.3");
	assert_string_equal(json_string_value(json_object_get(p, "verdict")), "deny");
	assert_string_equal(json_string_value(json_object_get(p, "errno")), "EACCES");
	assert_string_equal(json_string_value(json_object_get(p, "why")), "longest-prefix");
	assert_true(json_is_null(json_object_get(p, "default")));
	r = json_object_get(p, "rule");
	assert_string_equal(json_string_value(json_object_get(r, "rule")), "deny 10.0.0.0/8");
	assert_string_equal(json_string_value(json_object_get(r, "cidr")), "10.0.0.0/8");
	assert_true(json_is_null(json_object_get(r, "proto")));
	assert_true(json_is_null(json_object_get(r, "port")));
	r = json_array_get(json_object_get(p, "rules"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "result")), "decides");
	json_decref(j);
	explain_answer_free(&a);
	explain_ctx_free(&x);
}

static void test_batch_lines(void **state)
{
	struct explain_ctx x;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	two_levels(&x, 0, 0);
	f = open_memstream(&out, &len);
	assert_int_equal(explain_batch_line(f, &x, "\n", 1), 0);
	assert_int_equal(explain_batch_line(f, &x, "  # a comment\n", 2), 0);
	assert_int_equal(explain_batch_line(f, &x, "10.1.2.3 udp 53\n", 3), 0);
	assert_int_equal(explain_batch_line(f, &x, "10.1.2.3 icmp\n", 4), -EINVAL);
	assert_int_equal(explain_batch_line(f, &x, "10.1.2.3 tcp 1 2\n", 5), -EINVAL);
	assert_int_equal(explain_batch_line(f, &x, "192.0.2.1\n", 6), 0);
	fclose(f);
	assert_contains(out, "\"proto\":\"udp\",\"port\":53");
	assert_contains(out, "\"verdict\":\"deny\",\"errno\":\"EPERM\",\"line\":3}\n");
	assert_contains(out, "{\"line\":4,\"error\":\"invalid protocol 'icmp': expected tcp or udp\"}\n");
	assert_contains(out, "{\"line\":5,\"error\":");
	assert_contains(out, "\"port\":null");
	assert_contains(out, "\"verdict\":\"allow\",\"errno\":null,\"line\":6}\n");
	/* one line each: 3, 4, 5, 6 */
	{
		int lines = 0;

		for (size_t i = 0; i < len; i++)
			lines += out[i] == '\n';
		assert_int_equal(lines, 4);
	}
	free(out);
	explain_ctx_free(&x);
}

/* ---- randomized: explain against the compiled entries and the reference --- */

static void random_cidr(struct rng *r, struct cidr *c, bool v6)
{
	static const char *const bases4[] = { "10.1.2.3", "10.1.200.9", "192.0.2.10", "127.0.0.1" };
	static const char *const bases6[] = { "2001:db8::1", "2001:db8:1::9", "::1", "fd00::5" };
	static const uint8_t plens4[] = { 0, 8, 16, 20, 24, 30, 32 };
	static const uint8_t plens6[] = { 0, 32, 48, 64, 120, 128 };

	*c = cidr_of(v6 ? bases6[rng_below(r, 4)] : bases4[rng_below(r, 4)]);
	c->plen = v6 ? plens6[rng_below(r, 6)] : plens4[rng_below(r, 7)];
	mask_addr(c->addr, v6 ? 128 : 32, c->plen);
}

static void test_random_explain_agrees_with_compiled_and_reference(void **state)
{
	static const uint16_t ports[] = { 22, 53, 80, 443 };
	struct rng r = { 0x5eed1e55ULL };
	size_t cases = 0;

	for (int it = 0; it < 400; it++) {
		struct one o = {};
		uint32_t n = rng_below(&r, 12);
		char err[ERRBUF_LEN];

		pol_init(&o.p, "r", rng_below(&r, 2) ? ALLOW : DENY);
		for (uint32_t i = 0; i < n; i++) {
			struct rule ru = {};
			uint16_t port = ports[rng_below(&r, 4)];

			random_cidr(&r, &ru.cidr, rng_below(&r, 3) == 0);
			ru.action = rng_below(&r, 2) ? ALLOW : DENY;
			ru.proto = (uint8_t[]){ ANYP, ANYP, TCP, UDP }[rng_below(&r, 4)];
			ru.port_lo = rng_below(&r, 2) ? 0 : port;
			ru.port_hi = ru.port_lo ? port + rng_below(&r, 2) * 100 : 65535;
			/* one action per match: the last one given wins */
			policy_set_rule(&o.p, &ru);
		}
		if (policy_normalize(&o.p, NULL, err, sizeof(err)) ||
		    policy_compile(&o.p, &o.c, err, sizeof(err))) {
			one_free(&o);
			continue;
		}
		for (int k = 0; k < 40; k++) {
			struct cidr a;
			uint8_t proto = rng_below(&r, 2) ? TCP : UDP;
			uint16_t port = rng_below(&r, 3) ? ports[rng_below(&r, 4)] + rng_below(&r, 2)
							 : (uint16_t)rng_below(&r, 65536);
			int slow;

			random_cidr(&r, &a, rng_below(&r, 3) == 0);
			/* a host in it */
			for (unsigned int b = a.plen; b < (a.family == EGRESS_FAM_V4 ? 32u : 128u); b++)
				if (rng_below(&r, 2))
					a.addr[b / 8] |= 0x80 >> (b % 8);
			a.plen = a.family == EGRESS_FAM_V4 ? 32 : 128;
			explain_decision_free(&o.d);
			assert_int_equal(explain_decide(&o.p, &o.c, &a, proto, port, &o.d), 0);
			slow = policy_decide_slow(&o.p, &a, proto, port);
			assert_false(o.d.mismatch);
			assert_int_equal(o.d.verdict, slow);
			assert_int_equal(o.d.verdict, compiled_decide(&o.c, &a, proto, port));
			if (o.d.why == EXPLAIN_DEFAULT) {
				assert_int_equal(o.d.verdict, o.p.dflt);
			} else {
				size_t decides = 0;

				assert_int_equal(o.d.verdict, o.d.rule.action);
				for (size_t i = 0; i < o.d.nlines; i++)
					decides += o.d.lines[i].mark == EXPLAIN_DECIDES;
				assert_int_equal(decides, 1);
			}
			for (size_t i = 1; i < o.d.nlines; i++)
				assert_true(o.d.lines[i - 1].rule.cidr.plen >= o.d.lines[i].rule.cidr.plen);
			cases++;
		}
		one_free(&o);
	}
	assert_true(cases > 10000);
}

const struct CMUnitTest explain_tests[] = {
	cmocka_unit_test(test_dest_plain_addresses_decided_as_given),
	cmocka_unit_test(test_dest_loopback_and_mapped),
	cmocka_unit_test(test_dest_embedded_ipv4),
	cmocka_unit_test(test_dest_bad_input_names_it),
	cmocka_unit_test(test_parse_case),
	cmocka_unit_test(test_decide_longest_prefix),
	cmocka_unit_test(test_decide_deny_beats_allow_at_equal_prefix),
	cmocka_unit_test(test_decide_longer_rule_protocol_or_port_differs),
	cmocka_unit_test(test_decide_default),
	cmocka_unit_test(test_combine_errno_as_the_kernel_sets_it),
	cmocka_unit_test(test_combine_audit_never_denies),
	cmocka_unit_test(test_unconfigured_binding_fails_closed),
	cmocka_unit_test(test_rule_text),
	cmocka_unit_test(test_json_fields),
	cmocka_unit_test(test_batch_lines),
	cmocka_unit_test(test_random_explain_agrees_with_compiled_and_reference),
};
UNIT_GROUP(explain)

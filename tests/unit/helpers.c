// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* helpers.c - shared helpers of the unit tests (see helpers.h). */
#include "helpers.h"

struct cidr cidr_of(const char *s)
{
	char err[ERRBUF_LEN] = "";
	struct cidr c;

	if (parse_cidr(s, &c, err, sizeof(err)))
		fail_msg("test setup: parse_cidr(\"%s\") failed: %s", s, err);
	return c;
}

struct rule mkrule(const char *cidr, uint8_t action, uint8_t proto, uint16_t lo, uint16_t hi)
{
	struct rule r;

	memset(&r, 0, sizeof(r));
	r.cidr = cidr_of(cidr);
	r.action = action;
	r.proto = proto;
	r.port_lo = lo;
	r.port_hi = hi;
	return r;
}

void pol_init(struct policy *p, const char *name, uint8_t dflt)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->dflt = dflt;
}

void pol_add(struct policy *p, const char *cidr, uint8_t action, uint8_t proto, uint16_t lo,
	     uint16_t hi)
{
	struct rule r = mkrule(cidr, action, proto, lo, hi);

	assert_int_equal(policy_append_rule(p, &r), 0);
}

void pol_compile(struct policy *p, struct compiled *c)
{
	char err[ERRBUF_LEN] = "";
	int ret;

	ret = policy_normalize(p, NULL, err, sizeof(err));
	if (ret)
		fail_msg("policy_normalize: %d: %s", ret, err);
	ret = policy_compile(p, c, err, sizeof(err));
	if (ret)
		fail_msg("policy_compile: %d: %s", ret, err);
}

static const char *verdict_name(int v)
{
	return v == ALLOW ? "allow" : v == DENY ? "deny" : "?";
}

void expect_verdict_at(const struct policy *p, const struct compiled *c, const char *dst,
		       uint8_t proto, uint16_t port, int want, const char *file, int line)
{
	struct cidr d = cidr_of(dst);
	int slow = policy_decide_slow(p, &d, proto, port);
	int fast = compiled_decide(c, &d, proto, port);

	if (slow != want || fast != want)
		fail_msg("%s:%d: %s proto %u port %u: expected %s, policy_decide_slow %s, "
			 "compiled_decide %s", file, line, dst, proto, port, verdict_name(want),
			 verdict_name(slow), verdict_name(fast));
}

void rule_str(const struct rule *r, char *buf, size_t len)
{
	char c[CIDR_STR_LEN], ports[PORTS_STR_LEN];
	const char *pn = proto_name(r->proto);

	format_cidr(&r->cidr, c, sizeof(c));
	format_ports(r->port_lo, r->port_hi, ports, sizeof(ports));
	snprintf(buf, len, "%s %s proto %s ports %s", verdict_name(r->action), c,
		 pn ? pn : "?", ports);
}

void assert_same_policy(const struct policy *a, const struct policy *b)
{
	char ra[128], rb[128];

	assert_int_equal(a->dflt, b->dflt);
	assert_int_equal(a->err, b->err);
	assert_int_equal(a->flags, b->flags);
	for (size_t i = 0; i < a->nrules && i < b->nrules; i++) {
		const struct rule *x = &a->rules[i], *y = &b->rules[i];

		if (!rule_same_match(x, y) || x->action != y->action) {
			rule_str(x, ra, sizeof(ra));
			rule_str(y, rb, sizeof(rb));
			fail_msg("rule %zu differs: '%s' vs '%s'", i, ra, rb);
		}
	}
	assert_int_equal(a->nrules, b->nrules);
}

uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)((rng_next(r) >> 32) % n);
}

void assert_contains_at(const char *s, const char *sub, const char *file, int line)
{
	if (!s || !strstr(s, sub))
		fail_msg("%s:%d: expected \"%s\" to contain \"%s\"", file, line, s ? s : "(null)", sub);
}

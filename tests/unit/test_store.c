// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_store.c - the policy store's edit plan (user/store.c,
 * store_edit_plan): pure, so checked here against a reference, the edit
 * made on the whole policy and the policy sorted again.  The plan's rules
 * are what the store writes, its counts what egress_policy_info keeps
 * (policy list, status and metrics read them).
 */
#include "helpers.h"
#include "state.h"

/* allow and deny rules of p, counted */
static void recount(const struct policy *p, int *nallow, int *ndeny)
{
	*nallow = *ndeny = 0;
	for (size_t i = 0; i < p->nrules; i++)
		*(p->rules[i].action == ALLOW ? nallow : ndeny) += 1;
}

/* p as the store holds it: normalised, in policy_sort order */
static void store_order(struct policy *p)
{
	char err[ERRBUF_LEN];

	assert_int_equal(policy_normalize(p, NULL, err, sizeof(err)), 0);
	policy_sort(p);
}

/*
 * The plan's new version, as a policy (p's settings): its live rules (the
 * marked ones it carries over counted and dropped), still in store order.
 */
static void planned(const struct policy *p, const struct store_edit *e, struct policy *out)
{
	struct policy v = *p;
	size_t dead = 0;

	v.gone = NULL;
	v.rules = calloc(e->size + 1, sizeof(*v.rules));
	assert_non_null(v.rules);
	v.nrules = v.cap = e->size;
	store_edit_rules(p, e, v.rules);
	for (size_t i = 0; i < v.nrules; i++) {
		dead += v.rules[i].action == RULE_DEAD;
		if (i)
			assert_true(cidr_cmp(&v.rules[i - 1].cidr, &v.rules[i].cidr) <= 0);
	}
	assert_int_equal(dead, e->ndead);
	assert_int_equal(e->size, e->n + e->ndead);
	v.ndead = dead;
	assert_int_equal(policy_copy(out, &v), 0);
	free(v.rules);
}

static struct policy sample(void)
{
	struct policy p;

	pol_init(&p, "s", DENY);
	pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 443, 443);
	pol_add(&p, "10.1.0.0/16", DENY, ANYP, 0, 65535);
	pol_add(&p, "10.1.2.3", ALLOW, UDP, 53, 53);
	pol_add(&p, "192.0.2.0/24", ALLOW, TCP, 80, 80);
	pol_add(&p, "2001:db8::/32", ALLOW, ANYP, 0, 65535);
	store_order(&p);
	return p;
}

static void test_plan_add(void **state)
{
	struct policy p = sample(), q, want;
	struct rule r = mkrule("10.1.0.0/16", ALLOW, TCP, 22, 22);
	struct store_edit e;

	assert_int_equal(store_edit_plan(&p, &r, false, 100, &e), 0);
	assert_int_equal(e.kind, EDIT_CHANGE);
	assert_true(e.at == SIZE_MAX);
	assert_int_equal(e.n, p.nrules + 1);
	assert_int_equal(e.hi - e.lo, 1);	/* the /16's one rule; the others stay */
	assert_int_equal(e.dallow, 1);
	assert_int_equal(e.ddeny, 0);
	planned(&p, &e, &q);
	assert_int_equal(policy_copy(&want, &p), 0);
	assert_int_equal(policy_set_rule(&want, &r), 1);
	policy_sort(&want);
	assert_same_policy(&q, &want);
	store_edit_free(&e);
	policy_free(&q);
	policy_free(&want);
	policy_free(&p);
}

static void test_plan_flip_and_remove(void **state)
{
	struct policy p = sample(), q;
	struct rule r = mkrule("10.1.0.0/16", ALLOW, ANYP, 0, 65535);
	struct store_edit e;

	/* deny -> allow: same number of rules, the counts move */
	assert_int_equal(store_edit_plan(&p, &r, false, 100, &e), 0);
	assert_int_equal(e.kind, EDIT_CHANGE);
	assert_true(e.at != SIZE_MAX);
	assert_int_equal(e.n, p.nrules);
	assert_int_equal(e.dallow, 1);
	assert_int_equal(e.ddeny, -1);
	planned(&p, &e, &q);
	assert_int_equal(q.rules[e.at].action, ALLOW);
	store_edit_free(&e);
	policy_free(&q);

	/* remove: whatever the action asked, the rule with that match goes */
	assert_int_equal(store_edit_plan(&p, &r, true, 100, &e), 0);
	assert_int_equal(e.kind, EDIT_CHANGE);
	assert_int_equal(e.n, p.nrules - 1);
	assert_int_equal(e.dallow, 0);
	assert_int_equal(e.ddeny, -1);
	store_edit_free(&e);
	policy_free(&p);
}

static void test_plan_nothing_to_write(void **state)
{
	struct policy p = sample();
	struct rule same = mkrule("192.0.2.0/24", ALLOW, TCP, 80, 80);
	struct rule missing = mkrule("192.0.2.0/24", ALLOW, UDP, 80, 80);
	struct rule fresh = mkrule("198.51.100.0/24", DENY, ANYP, 0, 65535);
	struct store_edit e;

	assert_int_equal(store_edit_plan(&p, &same, false, 100, &e), 0);
	assert_int_equal(e.kind, EDIT_SAME);
	store_edit_free(&e);
	assert_int_equal(store_edit_plan(&p, &missing, true, 100, &e), 0);
	assert_int_equal(e.kind, EDIT_ABSENT);
	store_edit_free(&e);
	/* full: one more rule than --max-rules allows; a change in place still fits */
	assert_int_equal(store_edit_plan(&p, &fresh, false, p.nrules, &e), 0);
	assert_int_equal(e.kind, EDIT_FULL);
	assert_int_equal(e.n, p.nrules + 1);
	store_edit_free(&e);
	same.action = DENY;
	assert_int_equal(store_edit_plan(&p, &same, false, p.nrules, &e), 0);
	assert_int_equal(e.kind, EDIT_CHANGE);
	store_edit_free(&e);
	policy_free(&p);
}

static void test_plan_in_place_bound(void **state)
{
	assert_true(store_edit_in_place(0, 0));
	assert_true(store_edit_in_place(STORE_EDIT_IN_PLACE_MAX - 1, 1));
	assert_false(store_edit_in_place(STORE_EDIT_IN_PLACE_MAX, 1));
}

/* a rule from a small pool, so that edits meet existing rules and their CIDRs */
static struct rule pool_rule(struct rng *g)
{
	static const char *const cidrs[] = { "0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24",
					     "10.1.2.3", "10.1.2.4", "192.0.2.0/24", "::/0",
					     "2001:db8::/32", "2001:db8::1" };
	static const uint8_t protos[] = { ANYP, TCP, UDP };
	static const uint16_t ports[][2] = { { 0, 65535 }, { 80, 80 }, { 443, 443 }, { 1000, 2000 } };
	unsigned int pi = rng_below(g, 4);

	return mkrule(cidrs[rng_below(g, 10)], rng_below(g, 2) ? ALLOW : DENY, protos[rng_below(g, 3)],
		      ports[pi][0], ports[pi][1]);
}

/* Random policies and edits: the plan's rules and counts are the whole-policy edit's. */
static void test_plan_random_matches_whole_edit(void **state)
{
	struct rng g = { 0x570e0ed17ULL };
	int kinds[4] = {};

	for (int it = 0; it < 4000; it++) {
		struct policy p, ref, q;
		struct store_edit e;
		struct rule r;
		char err[ERRBUF_LEN];
		unsigned int n = rng_below(&g, 12);
		bool remove;
		int set = 0, a0, d0, a1, d1;

		pol_init(&p, "r", rng_below(&g, 2) ? ALLOW : DENY);
		for (unsigned int i = 0; i < n; i++) {
			r = pool_rule(&g);
			assert_int_equal(policy_append_rule(&p, &r), 0);
		}
		if (policy_normalize(&p, NULL, err, sizeof(err))) {
			policy_free(&p);	/* allow and deny for one match: a file refuses it */
			continue;
		}
		policy_sort(&p);
		r = pool_rule(&g);
		remove = rng_below(&g, 3) == 0;
		assert_int_equal(policy_copy(&ref, &p), 0);
		if (remove)
			set = policy_remove_rule(&ref, &r);
		else
			set = policy_set_rule(&ref, &r);
		policy_sort(&ref);

		assert_int_equal(store_edit_plan(&p, &r, remove, 1000, &e), 0);
		kinds[e.kind]++;
		if (remove && set == -ENOENT) {
			assert_int_equal(e.kind, EDIT_ABSENT);
		} else if (!remove && set == 0) {
			assert_int_equal(e.kind, EDIT_SAME);
		} else {
			assert_int_equal(e.kind, EDIT_CHANGE);
			assert_int_equal(e.n, ref.nrules);
			planned(&p, &e, &q);
			assert_same_policy(&q, &ref);
			recount(&p, &a0, &d0);
			recount(&ref, &a1, &d1);
			assert_int_equal(a0 + e.dallow, a1);
			assert_int_equal(d0 + e.ddeny, d1);
			/* only [lo, hi) changed: the rules around it are op's own */
			for (size_t i = 0; i < e.lo; i++)
				assert_memory_equal(&q.rules[i], &p.rules[i], sizeof(q.rules[i]));
			policy_free(&q);
		}
		store_edit_free(&e);
		policy_free(&ref);
		policy_free(&p);
	}
	assert_true(kinds[EDIT_CHANGE] > 1000);
	assert_true(kinds[EDIT_SAME] > 10);
	assert_true(kinds[EDIT_ABSENT] > 10);
}

/*
 * A store read in place with rules removed in place (RULE_DEAD): the plan
 * is the one of the policy without them, and a version written whole
 * (store_edit_rules) drops them.
 */
static void test_plan_random_with_removed_rules(void **state)
{
	struct rng g = { 0x7e3b0dead5ULL };
	int changes = 0, marked = 0, carried = 0;

	for (int it = 0; it < 4000; it++) {
		struct policy view, clean, ref, q;
		struct store_edit e;
		struct rule r;
		char err[ERRBUF_LEN];
		unsigned int n = 1 + rng_below(&g, 40);
		unsigned int share = 2 + rng_below(&g, 12);	/* one rule in `share` marked */
		bool remove;
		int set;

		pol_init(&view, "r", DENY);
		for (unsigned int i = 0; i < n; i++) {
			r = pool_rule(&g);
			assert_int_equal(policy_append_rule(&view, &r), 0);
		}
		if (policy_normalize(&view, NULL, err, sizeof(err))) {
			policy_free(&view);
			continue;
		}
		policy_sort(&view);
		for (size_t i = 0; i < view.nrules; i++)
			if (rng_below(&g, share) == 0) {
				view.rules[i].action = RULE_DEAD;
				view.ndead++;
			}
		marked += view.ndead;
		assert_int_equal(policy_copy(&clean, &view), 0);
		r = pool_rule(&g);
		remove = rng_below(&g, 3) == 0;
		assert_int_equal(policy_copy(&ref, &clean), 0);
		set = remove ? policy_remove_rule(&ref, &r) : policy_set_rule(&ref, &r);
		policy_sort(&ref);
		assert_int_equal(store_edit_plan(&view, &r, remove, 1000, &e), 0);
		if (remove && set == -ENOENT) {
			assert_int_equal(e.kind, EDIT_ABSENT);	/* a removed rule is not there */
		} else if (!remove && set == 0) {
			assert_int_equal(e.kind, EDIT_SAME);
		} else {
			assert_int_equal(e.kind, EDIT_CHANGE);
			assert_int_equal(e.n, ref.nrules);
			planned(&view, &e, &q);
			assert_same_policy(&q, &ref);
			carried += e.ndead > 0;
			if (remove) {
				/* in place: the view with the rule named gone is ref too */
				struct policy gv = view, g2;

				assert_true(e.at < view.nrules);
				assert_true(rule_live(&view, &view.rules[e.at]));
				gv.gone = &view.rules[e.at];
				assert_int_equal(policy_live(&gv), ref.nrules);
				assert_int_equal(policy_copy(&g2, &gv), 0);
				assert_same_policy(&g2, &ref);
				policy_free(&g2);
			}
			policy_free(&q);
			changes++;
		}
		store_edit_free(&e);
		policy_free(&ref);
		policy_free(&clean);
		policy_free(&view);
	}
	assert_true(changes > 1000);
	assert_true(marked > 2000);
	assert_true(carried > 100);	/* versions that kept a few marked rules */
}

const struct CMUnitTest store_tests[] = {
	cmocka_unit_test(test_plan_add),
	cmocka_unit_test(test_plan_flip_and_remove),
	cmocka_unit_test(test_plan_nothing_to_write),
	cmocka_unit_test(test_plan_in_place_bound),
	cmocka_unit_test(test_plan_random_matches_whole_edit),
	cmocka_unit_test(test_plan_random_with_removed_rules),
};
UNIT_GROUP(store)

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* test_advise.c - user/advise.c: durations, default names, matching, the policy file. */
#include <arpa/inet.h>

#include "helpers.h"
#include "advise.h"

/* A record: "tcp 192.0.2.1 443" style destination, from cgroup cg bound at bound. */
static struct seen_rec rec(uint64_t cg, uint64_t bound, uint32_t policy, uint8_t hook,
			   const char *addr, uint8_t proto, uint16_t port, const char *comm,
			   uint64_t count)
{
	struct seen_rec r;

	memset(&r, 0, sizeof(r));
	r.key.cgroup_id = cg;
	r.key.bound_cgroup_id = bound;
	r.key.policy = policy;
	r.key.hook = hook;
	r.key.proto = proto;
	r.key.port = port;
	if (addr && strchr(addr, ':')) {
		r.key.family = EGRESS_FAM_V6;
		assert_int_equal(inet_pton(AF_INET6, addr, r.key.addr), 1);
	} else {
		r.key.family = EGRESS_FAM_V4;
		if (addr)
			assert_int_equal(inet_pton(AF_INET, addr, r.key.addr), 1);
	}
	memcpy(r.key.comm, comm, strlen(comm) < 16 ? strlen(comm) : 16);
	r.val.count = count;
	r.val.first_ns = 1;
	r.val.last_ns = 1000;
	return r;
}

static const char *names(uint32_t id, void *ctx)
{
	return id == 1 ? "free" : id == 2 ? "cand" : NULL;
}

/* advise_print into a string (free it). */
static char *print(const struct seen_rec *v, size_t n, const char *name, const struct policy *base,
		   int want_rules)
{
	struct advise_out o = { .name = name, .header = NULL, .base = base, .policy_name = names };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(advise_print(f, v, n, &o), want_rules);
	fclose(f);
	return buf;
}

#define HEAD "# the allow rules that would have permitted what was denied or audited, one per\n" \
	     "# destination, protocol and port; review them, then 'egressctl apply -f FILE'\n"

static void test_advise_duration(void **state)
{
	char err[ERRBUF_LEN];
	uint64_t ns;

	assert_int_equal(advise_duration("30s", &ns, err, sizeof(err)), 0);
	assert_true(ns == 30ULL * 1000000000);
	assert_int_equal(advise_duration("10m", &ns, err, sizeof(err)), 0);
	assert_true(ns == 600ULL * 1000000000);
	assert_int_equal(advise_duration("2h", &ns, err, sizeof(err)), 0);
	assert_true(ns == 7200ULL * 1000000000);
	assert_int_equal(advise_duration("1d", &ns, err, sizeof(err)), 0);
	assert_true(ns == 86400ULL * 1000000000);
	assert_int_equal(advise_duration("36500d", &ns, err, sizeof(err)), 0);
	static const char *const bad[] = { "", "s", "10", "0s", "-1m", "1.5h", "5x", "1w", "36501d",
					   "99999999999d", "1 s", "1s ", "s1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(advise_duration(bad[i], &ns, err, sizeof(err)), -EINVAL);
		assert_contains(err, "invalid duration");
		assert_contains(err, bad[i]);
	}
}

static void test_advise_default_name(void **state)
{
	char buf[EGRESS_NAME_MAX], err[ERRBUF_LEN];
	static const char *const cases[][2] = {
		{ "/sys/fs/cgroup/tiers/free/sb1", "sb1" },
		{ "/sys/fs/cgroup/system.slice/docker-0a1b.scope", "docker-0a1b.scope" },
		{ "/sys/fs/cgroup/_x y", "x-y" },
		{ "/sys/fs/cgroup/...", "advised" },
		{ "/", "advised" },
		{ "/sys/fs/cgroup/a-very-long-cgroup-name-that-goes-on-and-on", "a-very-long-cgroup-name-that-go" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		advise_default_name(cases[i][0], buf);
		assert_string_equal(buf, cases[i][1]);
		assert_int_equal(parse_policy_name(buf, err, sizeof(err)), 0);
	}
}

static void test_advise_match(void **state)
{
	const uint64_t ids[] = { 10, 11, 20 };	/* sorted */
	struct seen_rec r = rec(11, 5, 1, EGRESS_HOOK_CONNECT4, "192.0.2.1", TCP, 80, "x", 1);

	assert_true(advise_match(&r, ids, 3, 0));
	assert_true(advise_match(&r, ids, 3, 1000));	/* last seen at 1000 */
	assert_false(advise_match(&r, ids, 3, 1001));
	r.key.cgroup_id = 99;	/* another cgroup's process, on a socket of a bound cgroup here */
	assert_false(advise_match(&r, ids, 3, 0));
	r.key.bound_cgroup_id = 20;
	assert_true(advise_match(&r, ids, 3, 0));
}

/* Merged per destination, protocol and port; sorted; names distinct and sorted. */
static void test_advise_print_merges_and_sorts(void **state)
{
	struct seen_rec v[] = {
		rec(11, 10, 1, EGRESS_HOOK_SENDMSG6, "2001:db8::1", UDP, 53, "dig", 2),
		rec(11, 10, 1, EGRESS_HOOK_CONNECT4, "192.0.2.1", TCP, 443, "python3", 5),
		rec(12, 10, 1, EGRESS_HOOK_CONNECT4, "192.0.2.1", TCP, 443, "curl", 3),
		rec(11, 10, 1, EGRESS_HOOK_EGRESS, "192.0.2.1", TCP, 443, "python3", 1),
		rec(11, 10, 1, EGRESS_HOOK_CONNECT4, "192.0.2.1", TCP, 80, "python3", 1),
		rec(11, 10, 1, EGRESS_HOOK_SENDMSG4, "192.0.2.1", UDP, 443, "python3", 4),
		rec(11, 10, 1, EGRESS_HOOK_CONNECT4, "10.0.0.1", TCP, 443, "python3", 1),
	};
	char *out = print(v, 7, "sb1", NULL, 5);

	assert_string_equal(out, HEAD
		"policy add sb1 --default deny\n"
		"# 1 denied (policy free): python3\n"
		"allow 10.0.0.1/32 --proto tcp --port 443 --policy sb1\n"
		"# 1 denied (policy free): python3\n"
		"allow 192.0.2.1/32 --proto tcp --port 80 --policy sb1\n"
		"# 9 denied (policy free): curl, python3\n"
		"allow 192.0.2.1/32 --proto tcp --port 443 --policy sb1\n"
		"# 4 denied (policy free): python3\n"
		"allow 192.0.2.1/32 --proto udp --port 443 --policy sb1\n"
		"# 2 denied (policy free): dig\n"
		"allow 2001:db8::1/128 --proto udp --port 53 --policy sb1\n");
	free(out);
}

/*
 * Nested bindings: one connect denied by the tier's policy and by the
 * candidate below it is one decision, counted once; audited apart.
 */
static void test_advise_print_nested_counts_once(void **state)
{
	struct seen_rec v[] = {
		rec(12, 10, 1, EGRESS_HOOK_CONNECT4, "192.0.2.1", TCP, 443, "curl", 3),
		rec(12, 12, 2, EGRESS_HOOK_CONNECT4, "192.0.2.1", TCP, 443, "curl", 3),
		rec(12, 12, 2, EGRESS_HOOK_CONNECT4, "192.0.2.2", TCP, 443, "curl", 2),
		rec(12, 12, 2, EGRESS_HOOK_CONNECT4, "192.0.2.3", TCP, 443, "curl", 2),
		rec(12, 13, 7, EGRESS_HOOK_CONNECT4, "192.0.2.3", TCP, 443, "curl", 1),
	};
	char *out;

	v[2].key.verdict = EGRESS_VERDICT_AUDIT;
	out = print(v, 5, "cand", NULL, 3);
	assert_string_equal(out, HEAD
		"policy add cand --default deny\n"
		"# 3 denied (policy free, cand): curl\n"
		"allow 192.0.2.1/32 --proto tcp --port 443 --policy cand\n"
		"# 2 audited (policy cand): curl\n"
		"allow 192.0.2.2/32 --proto tcp --port 443 --policy cand\n"
		"# 2 denied (policy cand, #7): curl\n"
		"allow 192.0.2.3/32 --proto tcp --port 443 --policy cand\n");
	free(out);
}

/* No destination, port 0, protocols a rule cannot name, hostile process names. */
static void test_advise_print_skips_and_sanitises(void **state)
{
	struct seen_rec v[] = {
		rec(11, 10, 1, EGRESS_HOOK_SOCK_CREATE, NULL, 136, 0, "py", 2),
		rec(11, 10, 1, EGRESS_HOOK_SETSOCKOPT, "::", 0, 0, "py", 1),
		rec(11, 10, 1, EGRESS_HOOK_CONNECT4, "192.0.2.9", TCP, 0, "py", 1),
		rec(11, 10, 1, EGRESS_HOOK_EGRESS, "192.0.2.8", 1, 0, "ping", 6),
		rec(11, 10, 1, EGRESS_HOOK_CONNECT4, "192.0.2.7", TCP, 22, "\nallow ::/0 x", 1),
		rec(11, 10, 1, EGRESS_HOOK_CONNECT4, "192.0.2.7", TCP, 22, "", 1),
	};
	struct policy_file pf;
	char err[ERRBUF_LEN];
	char *out = print(v, 6, "sb", NULL, 2);

	assert_string_equal(out, HEAD
		"policy add sb --default deny\n"
		"# 2 denied (policy free): ?, ?allow ::/0 x\n"
		"allow 192.0.2.7/32 --proto tcp --port 22 --policy sb\n"
		"# 6 denied (policy free): ping; icmp: a rule names tcp, udp or any protocol, so this one "
		"allows every protocol and port\n"
		"allow 192.0.2.8/32 --policy sb\n"
		"# not advised (a rule cannot name port 0): 192.0.2.9 tcp port 0, 1 denied (policy free): py\n"
		"# not advised (no destination): sock_create of an ipv4 udplite socket, 2 denied (policy free): py\n"
		"# not advised (no destination): setsockopt, an ipv6 routing header, 1 denied (policy free): py\n");
	/* and apply takes it */
	assert_int_equal(policy_file_parse(out, &pf, err, sizeof(err)), 0);
	assert_int_equal(pf.n, 1);
	assert_int_equal(pf.pol[0].nrules, 2);
	policy_file_free(&pf);
	free(out);
}

/* An existing policy keeps its settings and rules; a rule it has already is not repeated. */
static void test_advise_print_existing_policy(void **state)
{
	struct seen_rec v[] = {
		rec(11, 10, 2, EGRESS_HOOK_CONNECT4, "192.0.2.1", TCP, 443, "curl", 3),
		rec(11, 10, 2, EGRESS_HOOK_CONNECT4, "192.0.2.2", TCP, 443, "curl", 1),
	};
	struct policy base;
	struct policy_file pf;
	char err[ERRBUF_LEN];
	char *out;

	pol_init(&base, "cand", DENY);
	base.err = ECONNREFUSED;
	pol_add(&base, "192.0.2.2/32", DENY, TCP, 443, 443);
	pol_add(&base, "198.51.100.0/24", ALLOW, ANYP, 0, 65535);
	out = print(v, 2, "cand", &base, 1);
	assert_string_equal(out, HEAD
		"# policy cand exists: its settings and rules are kept, the advised rules added\n"
		"policy add cand --default deny --errno ECONNREFUSED\n"
		"deny 192.0.2.2/32 --proto tcp --port 443 --policy cand\n"
		"allow 198.51.100.0/24 --policy cand\n"
		"# 3 denied (policy cand): curl\n"
		"allow 192.0.2.1/32 --proto tcp --port 443 --policy cand\n"
		"# 1 denied (policy cand): curl; not advised: a deny rule of cand (remove it to allow this)\n");
	assert_int_equal(policy_file_parse(out, &pf, err, sizeof(err)), 0);
	assert_int_equal(pf.pol[0].nrules, 3);
	policy_file_free(&pf);
	policy_free(&base);
	free(out);
}

static void test_advise_print_nothing(void **state)
{
	char *out = print(NULL, 0, "sb", NULL, 0);

	assert_string_equal(out, HEAD "policy add sb --default deny\n# nothing was denied\n");
	free(out);
}

const struct CMUnitTest advise_tests[] = {
	cmocka_unit_test(test_advise_duration),
	cmocka_unit_test(test_advise_default_name),
	cmocka_unit_test(test_advise_match),
	cmocka_unit_test(test_advise_print_merges_and_sorts),
	cmocka_unit_test(test_advise_print_nested_counts_once),
	cmocka_unit_test(test_advise_print_skips_and_sanitises),
	cmocka_unit_test(test_advise_print_existing_policy),
	cmocka_unit_test(test_advise_print_nothing),
};
UNIT_GROUP(advise)

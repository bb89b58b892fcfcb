// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_events.c - user/events.c (an event as JSON, as a text line, its hint,
 * and the escaping of the strings a sandbox controls: its comm and its
 * cgroups' names) and user/follow.c's bounds (the backlog, the per-follower
 * queue, the cgroup filter), through follow.h's API on a socket in a
 * temporary directory.
 *
 * event_json() reads a policy's name and hint with bpf_map_lookup_elem();
 * the unit tests are linked with --wrap=bpf_map_lookup_elem, and the wrapper
 * answers for FAKE_INFO_FD from fake_info (any other fd goes to libbpf).
 * The cgroup paths come from event_ctx's cache, filled in by the test.
 */
#define _GNU_SOURCE
#include "helpers.h"
#include "events.h"
#include "follow.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FAKE_INFO_FD (-4242)
#define FAKE_POLICY_ID 7

static struct egress_policy_info fake_info;

int __real_bpf_map_lookup_elem(int fd, const void *key, void *value);

int __wrap_bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	if (fd != FAKE_INFO_FD)
		return __real_bpf_map_lookup_elem(fd, key, value);
	if (*(const uint32_t *)key != FAKE_POLICY_ID || !fake_info.name[0]) {
		errno = ENOENT;
		return -ENOENT;
	}
	memcpy(value, &fake_info, sizeof(fake_info));
	return 0;
}

static struct egress_state fake_st;

/* A context whose clock offset is 0 and which knows cgroup id 555. */
static void ctx_init(struct event_ctx *ctx)
{
	memset(&fake_st, 0, sizeof(fake_st));
	fake_st.map_fd[M_INFO] = FAKE_INFO_FD;
	event_ctx_init(ctx, &fake_st);
	ctx->boot_to_real_ns = 0;
	ctx->cg_cache[0].id = 555;
	snprintf(ctx->cg_cache[0].path, sizeof(ctx->cg_cache[0].path), "/sandbox/a");
	ctx->cg_next = 1;
}

static void info_set(const char *name, const char *hint)
{
	memset(&fake_info, 0, sizeof(fake_info));
	snprintf(fake_info.name, sizeof(fake_info.name), "%s", name);
	snprintf(fake_info.hint, sizeof(fake_info.hint), "%s", hint);
}

/* A denied connect4 of "curl" (pid 10, tgid 11, uid 1000) to 192.0.2.20:443/tcp. */
static struct egress_event ev4(void)
{
	struct egress_event e;

	memset(&e, 0, sizeof(e));
	e.ts_boot_ns = 1700000000123456789ULL;	/* 2023-11-14T22:13:20.123456789Z */
	e.cgroup_id = 555;
	e.bound_cgroup_id = 554;
	e.pid = 10;
	e.tgid = 11;
	e.uid = 1000;
	e.policy = 0;
	e.err = EPERM;
	e.suppressed = 3;
	e.dport = 443;
	e.hook = EGRESS_HOOK_CONNECT4;
	e.family = EGRESS_FAM_V4;
	e.proto = IPPROTO_TCP;
	e.rule_plen = EGRESS_RULE_DEFAULT;
	e.rule_port_hi = 65535;
	e.addr[0] = 192, e.addr[1] = 0, e.addr[2] = 2, e.addr[3] = 20;
	memcpy(e.comm, "curl", 5);
	return e;
}

/* ctx_init, the policy "free" (FAKE_POLICY_ID) with hint, and ev4() under it */
static struct egress_event ev_free(struct event_ctx *ctx, const char *hint)
{
	struct egress_event e = ev4();

	ctx_init(ctx);
	info_set("free", hint);
	e.policy = FAKE_POLICY_ID;
	return e;
}

static const char *sget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_string(v))
		fail_msg("event JSON: \"%s\" is not a string", k);
	return json_string_value(v);
}

static long long iget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		fail_msg("event JSON: \"%s\" is not an integer", k);
	return json_integer_value(v);
}

/* event_print of ev in fmt, as a malloc'd string */
static char *printed(json_t *ev, enum log_format fmt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	event_print(ev, fmt, f);
	fclose(f);
	return buf;
}

/* s is exactly one line: one '\n', at its end */
static void one_line(const char *s)
{
	const char *nl = strchr(s, '\n');

	if (!nl || nl[1])
		fail_msg("not exactly one line: \"%s\"", s);
}

static json_t *event_of(struct event_ctx *ctx, const struct egress_event *e)
{
	json_t *j = event_json(ctx, e);

	if (!j)
		fail_msg("event_json refused the event (a string was not valid UTF-8?)");
	return j;
}

/* ------------------------------------------------------------ the JSON */

/* The exact bytes of an event's JSON line: field names, order and values. */
static void test_event_json_bytes(void **state)
{
	struct event_ctx ctx;
	struct egress_event e = ev_free(&ctx, "");
	json_t *j;
	char *s;

	j = event_of(&ctx, &e);
	s = printed(j, LOG_JSON);
	assert_string_equal(s,
		"{\"ts\":\"2023-11-14T22:13:20.123456789Z\",\"cgroup\":\"/sandbox/a\","
		"\"cgroup_id\":555,\"bound_cgroup_id\":554,\"pid\":10,\"tgid\":11,\"comm\":\"curl\","
		"\"uid\":1000,\"hook\":\"connect4\",\"family\":\"ipv4\",\"proto\":\"tcp\","
		"\"dst\":\"192.0.2.20\",\"dport\":443,\"policy\":\"free\",\"rule\":\"default\","
		"\"errno\":\"EPERM\",\"errno_value\":1,\"suppressed\":3,"
		"\"hint\":\"Connection to 192.0.2.20:443 (tcp) was blocked by the platform firewall "
		"(policy free).\",\"verdict\":\"deny\"}\n");
	free(s);
	json_decref(j);
}

/* No policy id, or one the info map does not know: "(none)". */
static void test_event_json_no_policy(void **state)
{
	struct event_ctx ctx;
	struct egress_event e = ev4();
	json_t *j;

	ctx_init(&ctx);
	info_set("free", "");
	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "policy"), "(none)");
	json_decref(j);
	e.policy = FAKE_POLICY_ID + 1;
	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "policy"), "(none)");
	assert_contains(sget(j, "hint"), "(policy (none))");
	json_decref(j);
}

/* The deciding rule: CIDR (masked), protocol and ports as an operator wrote them. */
static void test_event_json_rule(void **state)
{
	static const struct {
		uint8_t plen, proto;
		uint16_t lo, hi;
		const char *want;
	} cases[] = {
		{ 24, IPPROTO_TCP, 443, 443, "10.1.2.0/24 tcp port 443" },
		{ 24, IPPROTO_UDP, 1000, 2000, "10.1.2.0/24 udp port 1000-2000" },
		{ 32, 0, 0, 65535, "10.1.2.3/32" },
		{ 0, 0, 0, 65535, "0.0.0.0/0" },
		{ EGRESS_RULE_DEFAULT, 0, 0, 65535, "default" },
		{ EGRESS_RULE_SOCKET, 0, 0, 65535, "socket type" },
		{ EGRESS_RULE_SOCKOPT, 0, 0, 65535, "IP_OPTIONS (source route)" },
		{ EGRESS_RULE_BROKEN, 0, 0, 65535, "broken policy maps" },
	};
	struct event_ctx ctx;

	ctx_init(&ctx);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct egress_event e = ev4();
		json_t *j;

		e.addr[0] = 10, e.addr[1] = 1, e.addr[2] = 2, e.addr[3] = 3;
		e.rule_plen = cases[i].plen;
		e.rule_proto = cases[i].proto;
		e.rule_port_lo = cases[i].lo;
		e.rule_port_hi = cases[i].hi;
		j = event_of(&ctx, &e);
		if (strcmp(sget(j, "rule"), cases[i].want))
			fail_msg("rule %u: \"%s\", expected \"%s\"", cases[i].plen, sget(j, "rule"),
				 cases[i].want);
		json_decref(j);
	}
}

/* IPv6: family from the event, brackets in the text line. */
static void test_event_v6(void **state)
{
	static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct event_ctx ctx;
	struct egress_event e = ev4();
	json_t *j;
	char *s;

	ctx_init(&ctx);
	e.family = EGRESS_FAM_V6;
	e.hook = EGRESS_HOOK_SENDMSG6;
	e.proto = IPPROTO_UDP;
	e.dport = 53;
	memcpy(e.addr, a6, 16);
	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "family"), "ipv6");
	assert_string_equal(sget(j, "hook"), "sendmsg6");
	assert_string_equal(sget(j, "dst"), "2001:db8::1");
	assert_string_equal(sget(j, "hint"),
			    "Connection to 2001:db8::1:53 (udp) was blocked by the platform firewall "
			    "(policy (none)).");
	s = printed(j, LOG_TEXT);
	one_line(s);
	assert_contains(s, " DENY sendmsg6 udp [2001:db8::1]:53 ");
	free(s);
	json_decref(j);

	/* the setsockopt hook names the IPv6 option: rule as before, detail the option itself */
	e.hook = EGRESS_HOOK_SETSOCKOPT;
	e.rule_plen = EGRESS_RULE_SOCKOPT;
	e.detail.sockopt.level = 41;	/* SOL_IPV6 */
	e.detail.sockopt.optname = 6;	/* IPV6_2292PKTOPTIONS */
	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "rule"), "IPV6_RTHDR (routing header)");
	assert_string_equal(sget(j, "detail"), "IPV6_2292PKTOPTIONS");
	assert_string_equal(sget(j, "dst"), "");
	s = printed(j, LOG_TEXT);
	one_line(s);
	assert_contains(s, " detail=IPV6_2292PKTOPTIONS\n");
	free(s);
	json_decref(j);
	e.detail.sockopt.optname = 99;	/* not one egress refuses today: its numbers */
	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "detail"), "level 41 optname 99");
	json_decref(j);
}

/* Hooks without a destination, revocation, unknown numbers. */
static void test_event_hooks(void **state)
{
	struct event_ctx ctx;
	struct egress_event e = ev4();
	json_t *j;

	ctx_init(&ctx);
	info_set("free", "Use the proxy, {comm}.");	/* not for these hooks */
	e.policy = FAKE_POLICY_ID;

	e.hook = EGRESS_HOOK_SOCK_CREATE;
	e.proto = IPPROTO_RAW;
	e.rule_plen = EGRESS_RULE_SOCKET;
	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "hook"), "sock_create");
	assert_string_equal(sget(j, "dst"), "");
	assert_string_equal(sget(j, "rule"), "socket type");
	assert_string_equal(sget(j, "hint"),
			    "A raw socket was refused by the platform firewall (policy free).");
	json_decref(j);

	e = ev4();
	e.policy = FAKE_POLICY_ID;
	e.hook = EGRESS_HOOK_SETSOCKOPT;
	e.rule_plen = EGRESS_RULE_SOCKOPT;
	e.detail.sockopt.level = 0;	/* SOL_IP */
	e.detail.sockopt.optname = 4;	/* IP_OPTIONS */
	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "rule"), "IP_OPTIONS (source route)");
	assert_string_equal(sget(j, "detail"), "IP_OPTIONS");
	assert_string_equal(sget(j, "hint"),
			    "Source routing was refused by the platform firewall (policy free).");
	json_decref(j);

	e = ev4();
	e.policy = FAKE_POLICY_ID;
	e.hook = EGRESS_HOOK_REVOKE;
	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "hook"), "revoke");
	assert_string_equal(sget(j, "errno"), "ECONNABORTED");	/* what the process sees */
	assert_int_equal(iget(j, "errno_value"), EPERM);
	assert_string_equal(sget(j, "hint"),
			    "Connection to 192.0.2.20:443 (tcp) was cut by the platform firewall after "
			    "a policy change (policy free).");
	json_decref(j);

	/* numbers without a name: the protocol's number, "?" for the errno */
	e = ev4();
	e.hook = EGRESS_HOOK_MAX - 1;
	e.proto = 200;
	e.err = 4000;
	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "hook"), "unknown");
	assert_string_equal(sget(j, "proto"), "200");
	assert_string_equal(sget(j, "errno"), "?");
	assert_int_equal(iget(j, "errno_value"), 4000);
	json_decref(j);
}

/* ------------------------------------------------------------ the hint */

/*
 * Audit mode: the event says "verdict":"audit" (and a deny "deny"), the
 * text line AUDIT, and the hint format prints nothing: nothing was blocked.
 */
static void test_event_audit_verdict(void **state)
{
	struct event_ctx ctx;
	struct egress_event e = ev_free(&ctx, "");
	json_t *j;
	char *s;

	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "verdict"), "deny");
	json_decref(j);
	e.verdict = EGRESS_VERDICT_AUDIT;
	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "verdict"), "audit");
	s = printed(j, LOG_TEXT);
	assert_contains(s, "Z AUDIT connect4 tcp 192.0.2.20:443 policy=free ");
	one_line(s);
	free(s);
	s = printed(j, LOG_HINT);
	assert_true(s == NULL || s[0] == '\0');
	free(s);
	json_decref(j);
}

/* A policy's own template: every placeholder filled, unknown ones kept. */
static void test_event_hint_fill(void **state)
{
	struct event_ctx ctx;
	struct egress_event e = ev_free(&ctx, "{comm}[{pid}] to {dst}:{dport}/{proto} ({policy}) {nope} {dst");
	json_t *j;
	char *s;

	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "hint"), "curl[11] to 192.0.2.20:443/tcp (free) {nope} {dst");
	s = printed(j, LOG_HINT);
	assert_string_equal(s, "curl[11] to 192.0.2.20:443/tcp (free) {nope} {dst\n");
	free(s);
	json_decref(j);
}

/* A long comm in a long template: cut, never overflowing, still one line. */
static void test_event_hint_long(void **state)
{
	struct event_ctx ctx;
	struct egress_event e = ev4();
	char tmpl[EGRESS_HINT_MAX];
	json_t *j;

	ctx_init(&ctx);
	memset(tmpl, 0, sizeof(tmpl));
	for (size_t n = 0; n + 6 < sizeof(tmpl) - 1; n += 6)
		memcpy(tmpl + n, "{comm}", 6);
	info_set("free", tmpl);
	memset(e.comm, 0x01, sizeof(e.comm));	/* 16 control bytes: 64 escaped */
	e.policy = FAKE_POLICY_ID;
	j = event_of(&ctx, &e);
	assert_true(strlen(sget(j, "hint")) > EGRESS_HINT_MAX);
	assert_null(strchr(sget(j, "hint"), '\n'));
	assert_null(strchr(sget(j, "hint"), 0x01));
	json_decref(j);
}

/* ------------------------------------------------------- untrusted strings */

static void untrusted_is(const char *in, size_t inlen, size_t outlen, const char *want)
{
	char out[256];

	memset(out, 'Z', sizeof(out));
	untrusted_str(in, inlen, out, outlen);
	if (strcmp(out, want))
		fail_msg("untrusted_str(\"%s\", %zu, out, %zu): \"%s\", expected \"%s\"", in, inlen,
			 outlen, out, want);
	assert_true(strlen(out) < outlen);
}

static void test_untrusted_str(void **state)
{
	/* kept as is */
	untrusted_is("python3", 16, 64, "python3");
	untrusted_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d", 64, 64,
		     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d");
	/* control characters, DEL, the backslash itself */
	untrusted_is("a\nb\rc\td\x1b[31m", 64, 64, "a\\x0ab\\x0dc\\x09d\\x1b[31m");
	untrusted_is("del\x7f", 64, 64, "del\\x7f");
	untrusted_is("a\\x0ab", 64, 64, "a\\\\x0ab");
	/* invalid UTF-8: stray continuation, overlong, surrogate, too high, cut */
	untrusted_is("\x80\xff", 64, 64, "\\x80\\xff");
	untrusted_is("\xc0\xaf", 64, 64, "\\xc0\\xaf");
	untrusted_is("\xe0\x80\xaf", 64, 64, "\\xe0\\x80\\xaf");
	untrusted_is("\xed\xa0\x80", 64, 64, "\\xed\\xa0\\x80");
	untrusted_is("\xf4\x90\x80\x80", 64, 64, "\\xf4\\x90\\x80\\x80");
	untrusted_is("ab\xe2\x82", 64, 64, "ab\\xe2\\x82");
	/* C1 controls (U+0080..U+009F) are escaped, U+00A0 is kept */
	untrusted_is("\xc2\x85|\xc2\xa0", 64, 64, "\\xc2\\x85|\xc2\xa0");
	/* inlen bounds an unterminated input (a 16-byte comm) */
	untrusted_is("0123456789abcdefGARBAGE", 16, 64, "0123456789abcdef");
	/* outlen: cut between characters, never inside an escape or a sequence */
	untrusted_is("abc\ndef", 64, 5, "abc");
	untrusted_is("abc\ndef", 64, 8, "abc\\x0a");
	untrusted_is("\xc3\xa9\xc3\xa9", 64, 4, "\xc3\xa9");
	untrusted_is("abc", 64, 1, "");
}

/* The worst case fits in 4 * inlen + 1, as events.h promises. */
static void test_untrusted_str_worst_case(void **state)
{
	char in[16], out[4 * sizeof(in) + 1];

	memset(in, 0xff, sizeof(in));
	untrusted_str(in, sizeof(in), out, sizeof(out));
	assert_int_equal(strlen(out), 4 * sizeof(in));
	memset(in, '\\', sizeof(in));
	untrusted_str(in, sizeof(in), out, sizeof(out));
	assert_int_equal(strlen(out), 2 * sizeof(in));
}

/*
 * A comm and a cgroup name that try to forge a log line, break the JSON or
 * hide in the terminal: escaped in the JSON, the text line and the hint.
 */
static void test_event_untrusted_names(void **state)
{
	static const char evil_cg[] = "/sandbox/x\n2026-01-01T00:00:00Z DENY connect4 tcp 1.2.3.4:1"
				      " policy=pro\xff\x1b]0;title\x07\\";
	struct event_ctx ctx;
	struct egress_event e = ev_free(&ctx, "{comm} was blocked");
	json_t *j;
	char *s;

	e.cgroup_id = 556;
	ctx.cg_cache[1].id = 556;
	snprintf(ctx.cg_cache[1].path, sizeof(ctx.cg_cache[1].path), "%s", evil_cg);
	memcpy(e.comm, "x\n\xff\x1b[2J\\yzzzzzzzzz", 16);	/* 16 bytes, no NUL */
	j = event_of(&ctx, &e);
	assert_string_equal(sget(j, "comm"), "x\\x0a\\xff\\x1b[2J\\\\yzzzzzzz");
	assert_string_equal(sget(j, "cgroup"),
			    "/sandbox/x\\x0a2026-01-01T00:00:00Z DENY connect4 tcp 1.2.3.4:1"
			    " policy=pro\\xff\\x1b]0;title\\x07\\\\");
	assert_string_equal(sget(j, "hint"), "x\\x0a\\xff\\x1b[2J\\\\yzzzzzzz was blocked");

	s = printed(j, LOG_JSON);
	one_line(s);
	free(s);
	s = printed(j, LOG_TEXT);
	one_line(s);
	assert_null(strchr(s, 0x1b));
	assert_contains(s, " comm=x\\x0a\\xff\\x1b[2J\\\\yzzzzzzz pid=10 ");
	assert_contains(s, " cgroup=/sandbox/x\\x0a2026-01-01T00:00:00Z DENY connect4 ");
	free(s);
	s = printed(j, LOG_HINT);
	one_line(s);
	free(s);
	json_decref(j);
}

/* ------------------------------------------------------------ text lines */

static void test_event_text(void **state)
{
	struct event_ctx ctx;
	struct egress_event e = ev_free(&ctx, "");
	json_t *j;
	char *s;

	e.rule_plen = 32;
	e.rule_proto = IPPROTO_TCP;
	e.rule_port_lo = e.rule_port_hi = 443;
	j = event_of(&ctx, &e);
	s = printed(j, LOG_TEXT);
	assert_string_equal(s, "2023-11-14T22:13:20.123456789Z DENY connect4 tcp 192.0.2.20:443 "
			       "policy=free rule=\"192.0.2.20/32 tcp port 443\" errno=EPERM comm=curl "
			       "pid=10 tgid=11 uid=1000 cgroup=/sandbox/a suppressed=3\n");
	free(s);

	/* a cgroup removed before the event was read: its id */
	json_object_set_new(j, "cgroup", json_string(""));
	s = printed(j, LOG_TEXT);
	assert_contains(s, " cgroup=id:555 suppressed=3\n");
	free(s);
	json_decref(j);

	/* fields missing from a (foreign) object: "?" and 0, never a crash */
	j = json_object();
	s = printed(j, LOG_TEXT);
	one_line(s);
	assert_contains(s, "? DENY ? ? ?:0 policy=? ");
	free(s);
	json_decref(j);
}

/* event_print of a JSON line read back prints what event_write prints from the fields */
static void same_both_ways(struct event_ctx *ctx, const struct egress_event *e)
{
	static const enum log_format fmts[] = { LOG_JSON, LOG_TEXT, LOG_HINT };
	struct event_fields f;

	event_fields(ctx, e, &f);
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		char *line = event_fields_line(&f), *direct = NULL, *back;
		size_t len = 0;
		FILE *m = open_memstream(&direct, &len);
		json_t *j;

		assert_non_null(line);
		event_write(&f, fmts[i], line, m);
		fclose(m);
		j = json_loads(line, 0, NULL);
		assert_non_null(j);
		back = printed(j, fmts[i]);
		assert_string_equal(direct, back);
		if (!(fmts[i] == LOG_HINT && e->verdict == EGRESS_VERDICT_AUDIT))
			one_line(direct);	/* an audit has no hint to show */
		free(direct);
		free(back);
		free(line);
		json_decref(j);
	}
}

/* egressd writes text from the event's fields; egressctl events from its JSON line: the same bytes */
static void test_event_write_fields(void **state)
{
	static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct event_ctx ctx;
	struct egress_event e = ev_free(&ctx, "");
	struct event_fields f;
	char *s = NULL;
	size_t len = 0;
	FILE *m;

	same_both_ways(&ctx, &e);
	e.verdict = EGRESS_VERDICT_AUDIT;
	same_both_ways(&ctx, &e);
	e.family = EGRESS_FAM_V6;
	e.hook = EGRESS_HOOK_CONNECT6;
	memcpy(e.addr, a6, 16);
	same_both_ways(&ctx, &e);
	e.hook = EGRESS_HOOK_SOCK_CREATE;	/* no address: no brackets, v6 or not */
	same_both_ways(&ctx, &e);
	e.cgroup_id = 999;			/* removed: by id */
	same_both_ways(&ctx, &e);

	/* brackets come from the family, not from a ':' in the address */
	e = ev_free(&ctx, "");
	event_fields(&ctx, &e, &f);
	assert_false(f.v6);
	f.v6 = true;
	m = open_memstream(&s, &len);
	event_write(&f, LOG_TEXT, NULL, m);
	fclose(m);
	assert_contains(s, " tcp [192.0.2.20]:443 ");
	free(s);
}

static void test_event_names(void **state)
{
	enum log_format f;

	assert_int_equal(parse_log_format("json", &f), 0);
	assert_int_equal(f, LOG_JSON);
	assert_int_equal(parse_log_format("text", &f), 0);
	assert_int_equal(f, LOG_TEXT);
	assert_int_equal(parse_log_format("hint", &f), 0);
	assert_int_equal(f, LOG_HINT);
	assert_int_not_equal(parse_log_format("JSON", &f), 0);
	assert_int_not_equal(parse_log_format("", &f), 0);
	assert_string_equal(hook_name(EGRESS_HOOK_CONNECT4), "connect4");
	assert_string_equal(hook_name(EGRESS_HOOK_INGRESS), "ingress");
	assert_string_equal(hook_name(EGRESS_HOOK_REVOKE), "revoke");
	assert_string_equal(hook_name(EGRESS_HOOK_MAX), "unknown");
	assert_string_equal(hook_name(~0u), "unknown");
}

/* ------------------------------------------------------------ followers */

struct fan {
	char dir[64], path[100];
	int epfd;
	struct followers *f;
};

static void fan_open(struct fan *fan)
{
	int ret;

	if (geteuid() != 0) {
		if (getenv("CI") && !strcmp(getenv("CI"), "true"))
			fail_msg("followers: egressd serves root peers only; run the unit tests as root");
		skip();
	}
	snprintf(fan->dir, sizeof(fan->dir), "/tmp/egress-unit.XXXXXX");
	assert_non_null(mkdtemp(fan->dir));
	snprintf(fan->path, sizeof(fan->path), "%s/run/events.sock", fan->dir);
	fan->epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(fan->epfd >= 0);
	ret = followers_open(&fan->f, fan->path, fan->epfd);
	if (ret)
		fail_msg("followers_open(%s): %s", fan->path, strerror(-ret));
}

static void fan_close(struct fan *fan)
{
	char run[160];

	followers_close(fan->f);
	close(fan->epfd);
	unlink(fan->path);
	snprintf(run, sizeof(run), "%s/run", fan->dir);
	rmdir(run);
	rmdir(fan->dir);
}

/* what egressd's loop does: every ready epoll event to followers_handle */
static void fan_pump(struct fan *fan)
{
	struct epoll_event evs[16];
	int n;

	while ((n = epoll_wait(fan->epfd, evs, 16, 0)) > 0)
		for (int i = 0; i < n; i++)
			followers_handle(fan->f, evs[i].data.ptr, evs[i].events);
}

/* a follower that sent its request; the server has taken it */
static int follower(struct fan *fan, const char *request)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fan->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fan_pump(fan);	/* accepted */
	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	fan_pump(fan);	/* request read, backlog queued */
	return fd;
}

/* appends what fd has now (without waiting) to buf; 1 on EOF */
static int drain(int fd, char **buf, size_t *len)
{
	char tmp[65536];
	ssize_t n;

	while ((n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT)) > 0) {
		*buf = realloc(*buf, *len + n + 1);
		assert_non_null(*buf);
		memcpy(*buf + *len, tmp, n);
		*len += n;
		(*buf)[*len] = '\0';
	}
	return n == 0;
}

static size_t count_lines(const char *s, const char *prefix)
{
	size_t n = 0;

	for (const char *p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, strlen(prefix)))
			n++;
	return n;
}

/*
 * The backlog: a late follower gets the last FOLLOW_BACKLOG events of its
 * cgroup and its descendants (never of a cgroup that only shares a
 * prefix), then {"end":true}, then the connection closes.
 */
static void test_follow_backlog(void **state)
{
	struct fan fan;
	char line[64], *buf = NULL;
	size_t len = 0;
	int fd, eof = 0;

	fan_open(&fan);
	for (int i = 0; i < FOLLOW_BACKLOG + 10; i++) {
		snprintf(line, sizeof(line), "{\"n\":%d}", i);
		followers_publish(fan.f, line, i % 2 ? "/a/b" : "/ab");
	}
	followers_publish(fan.f, "{\"n\":\"root\"}", "/a");
	fd = follower(&fan, "{\"cgroup\": \"/a/\", \"follow\": false}\n");
	for (int tries = 0; tries < 1000 && !eof; tries++) {
		eof = drain(fd, &buf, &len);
		fan_pump(&fan);
	}
	assert_true(eof);
	assert_non_null(buf);
	/* 1035 published, the backlog holds 1024: 0..10 are gone; the odd ones of
	 * 11..1033 (512) are under /a, and "root" (1) */
	assert_int_equal(count_lines(buf, "{\"n\":"), 513);
	assert_null(strstr(buf, "{\"n\":9}\n"));	/* pushed out */
	assert_non_null(strstr(buf, "{\"n\":11}\n"));	/* the oldest kept of /a/b */
	assert_null(strstr(buf, "{\"n\":12}\n"));	/* /ab is not under /a */
	assert_non_null(strstr(buf, "{\"n\":1033}\n{\"n\":\"root\"}\n{\"end\":true}\n"));
	assert_int_equal(count_lines(buf, "{\"end\":true}"), 1);
	close(fd);
	free(buf);
	fan_close(&fan);
}

/*
 * A follower that does not read: its queue stops at FOLLOW_QUEUE (plus
 * what the kernel buffers), the rest is counted lost, and the count
 * arrives as {"lost":N} before the next event, once it reads again.
 */
static void test_follow_queue_bound(void **state)
{
	enum { N = 4000, LINE = 1000 };
	struct fan fan;
	char line[LINE + 1], *buf = NULL;
	size_t len = 0, delivered, lost = 0, kernel = 0;
	const char *p;
	int fd;
	FILE *f;

	fan_open(&fan);
	fd = follower(&fan, "{\"cgroup\": \"\", \"follow\": true}\n");
	drain(fd, &buf, &len);
	assert_string_equal(buf, "{\"live\":true}\n");
	free(buf);
	buf = NULL;
	len = 0;

	memset(line, 'x', LINE);
	line[LINE] = '\0';
	memcpy(line, "{\"x\":\"", 6);
	memcpy(line + LINE - 2, "\"}", 2);
	for (int i = 0; i < N; i++)	/* the follower reads nothing meanwhile */
		followers_publish(fan.f, line, "/a");
	for (int tries = 0; tries < 1000; tries++) {
		drain(fd, &buf, &len);
		fan_pump(&fan);
	}
	delivered = count_lines(buf, "{\"x\":");
	assert_int_equal(count_lines(buf, "{\"lost\":"), 0);	/* not yet: nothing new fitted */
	f = fopen("/proc/sys/net/core/wmem_default", "r");
	if (f) {
		if (fscanf(f, "%zu", &kernel) != 1)
			kernel = 0;
		fclose(f);
	}
	if (delivered * (LINE + 1) > FOLLOW_QUEUE + 2 * kernel + LINE)
		fail_msg("%zu lines of %d bytes delivered: more than the queue (%d) and the socket (%zu) hold",
			 delivered, LINE + 1, FOLLOW_QUEUE, 2 * kernel);
	assert_true(delivered < N);

	followers_publish(fan.f, "{\"x\":\"after\"}", "/a");
	for (int tries = 0; tries < 100; tries++) {
		drain(fd, &buf, &len);
		fan_pump(&fan);
	}
	p = strstr(buf, "{\"lost\":");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "{\"lost\":%zu}\n", &lost), 1);
	assert_int_equal(delivered + lost, N);
	assert_non_null(strstr(p, "}\n{\"x\":\"after\"}\n"));
	assert_int_equal(count_lines(buf, "{\"lost\":"), 1);
	close(fd);
	free(buf);
	fan_close(&fan);
}

const struct CMUnitTest events_tests[] = {
	cmocka_unit_test(test_event_json_bytes),
	cmocka_unit_test(test_event_audit_verdict),
	cmocka_unit_test(test_event_json_no_policy),
	cmocka_unit_test(test_event_json_rule),
	cmocka_unit_test(test_event_v6),
	cmocka_unit_test(test_event_hooks),
	cmocka_unit_test(test_event_hint_fill),
	cmocka_unit_test(test_event_hint_long),
	cmocka_unit_test(test_untrusted_str),
	cmocka_unit_test(test_untrusted_str_worst_case),
	cmocka_unit_test(test_event_untrusted_names),
	cmocka_unit_test(test_event_text),
	cmocka_unit_test(test_event_write_fields),
	cmocka_unit_test(test_event_names),
	cmocka_unit_test(test_follow_backlog),
	cmocka_unit_test(test_follow_queue_bound),
};
UNIT_GROUP(events)

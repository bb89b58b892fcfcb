// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* test_cmdline.c - user/cmdline.c: words, options, commands, policy files. */
#include "helpers.h"

/* ---- split_words ----------------------------------------------------- */

/* Splits line and compares with the expected words (NULL-terminated list). */
static void words_are(const char *line, const char *const *want)
{
	char err[ERRBUF_LEN] = "", **argv = NULL;
	int argc = -1, n = 0;

	if (split_words(line, &argv, &argc, err, sizeof(err)))
		fail_msg("split_words(\"%s\") failed: %s", line, err);
	while (want[n])
		n++;
	for (int i = 0; i < argc && i < n; i++)
		if (strcmp(argv[i], want[i]))
			fail_msg("split_words(\"%s\"): word %d is \"%s\", expected \"%s\"", line, i,
				 argv[i], want[i]);
	if (argc != n)
		fail_msg("split_words(\"%s\"): %d words, expected %d", line, argc, n);
	assert_null(argv[argc]);
	free(argv);
}
#define WORDS(line, ...) words_are(line, (const char *const[]){ __VA_ARGS__, NULL })
#define NO_WORDS(line) words_are(line, (const char *const[]){ NULL })

static void test_split_words_blanks(void **state)
{
	WORDS("allow 10.0.0.0/8", "allow", "10.0.0.0/8");
	WORDS("  allow \t 10.0.0.0/8\t--proto   tcp  ", "allow", "10.0.0.0/8", "--proto", "tcp");
	WORDS("a\r\n", "a");
	WORDS("x", "x");
	NO_WORDS("");
	NO_WORDS("    ");
	NO_WORDS("\t \r\n");
}

static void test_split_words_comments(void **state)
{
	NO_WORDS("# a comment");
	NO_WORDS("   # indented comment with 'quote");
	NO_WORDS("#");
	WORDS("allow 1.2.3.4 # trailing comment", "allow", "1.2.3.4");
	WORDS("allow 1.2.3.4 #trailing", "allow", "1.2.3.4");
	/* '#' inside a word is not a comment */
	WORDS("a#b c", "a#b", "c");
	WORDS("'#' x", "#", "x");
	WORDS("\"#\"", "#");
	WORDS("\\#x y", "#x", "y");
}

static void test_split_words_quotes(void **state)
{
	WORDS("'a b' \"c d\"", "a b", "c d");
	WORDS("e'f g'h", "ef gh");
	WORDS("'a'\"b\"c", "abc");
	WORDS("'' \"\"", "", "");
	WORDS("x '' y", "x", "", "y");
	WORDS("'  '", "  ");
	WORDS("\"it's\" 'say \"hi\"'", "it's", "say \"hi\"");
}

static void test_split_words_escapes(void **state)
{
	WORDS("a\\ b", "a b");
	WORDS("\"a\\\"b\"", "a\"b");		/* "a\"b" */
	WORDS("\"a\\\\b\"", "a\\b");		/* "a\\b" */
	WORDS("'a\\b'", "a\\b");		/* no escapes in '...' */
	WORDS("'a\\'", "a\\");
	WORDS("\\'x", "'x");
	WORDS("abc\\", "abc\\");		/* a trailing backslash stays */
	WORDS("\\\\", "\\");
}

static void test_split_words_unterminated_quote(void **state)
{
	const char *bad[] = { "allow \"10.0.0.0/8", "'abc", "a 'b c", "\"", "x \"a\\\"" };
	char err[ERRBUF_LEN], **argv;
	int argc;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		argv = (char **)0x1;
		if (split_words(bad[i], &argv, &argc, err, sizeof(err)) != -EINVAL)
			fail_msg("split_words(\"%s\") accepted", bad[i]);
		assert_contains(err, "unterminated");
		assert_ptr_equal(argv, (char **)0x1);	/* untouched, nothing to free */
	}
}

static void test_split_words_many_words_fit(void **state)
{
	/* worst cases for the single allocation: as many words as possible */
	static const char *units[] = { "a ", "'' ", "\"\" ", "\\a " };
	char err[ERRBUF_LEN], **argv, line[4001];

	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		for (int trailing = 0; trailing < 2; trailing++) {
			size_t ul = strlen(units[u]), n = 0, len = 0;
			int argc;

			while (len + ul < sizeof(line) - 1) {
				memcpy(line + len, units[u], ul);
				len += ul;
				n++;
			}
			if (!trailing)
				len--;	/* no blank after the last word */
			line[len] = '\0';
			assert_int_equal(split_words(line, &argv, &argc, err, sizeof(err)), 0);
			assert_int_equal(argc, n);
			assert_null(argv[argc]);
			for (int i = 0; i < argc; i++)
				assert_true(strlen(argv[i]) <= 1);
			free(argv);
		}
	}
}

/*
 * split_words_n reads the first len bytes only: the same words as
 * split_words on a copy cut there, for random lines of quotes, escapes,
 * blanks and comments, at every cut (policy files are split in place).
 */
static void test_split_words_n_stops_at_len(void **state)
{
	static const char alphabet[] = "ab \t'\"\\#\n";
	char line[32], cut[32], err[ERRBUF_LEN], err2[ERRBUF_LEN], **a, **b;
	unsigned int seed = 12;

	for (int round = 0; round < 3000; round++) {
		size_t n = rand_r(&seed) % (sizeof(line) - 1);

		for (size_t i = 0; i < n; i++)
			line[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		line[n] = '\0';
		for (size_t len = 0; len <= n; len++) {
			int na = -1, nb = -1, ra, rb;

			memcpy(cut, line, len);
			cut[len] = '\0';
			ra = split_words_n(line, len, &a, &na, err, sizeof(err));
			rb = split_words(cut, &b, &nb, err2, sizeof(err2));
			if (ra != rb)
				fail_msg("\"%s\" cut at %zu: split_words_n %d, split_words %d", line, len, ra, rb);
			if (ra)
				continue;
			assert_int_equal(na, nb);
			for (int i = 0; i < na; i++)
				if (strcmp(a[i], b[i]))
					fail_msg("\"%s\" cut at %zu: word %d \"%s\", not \"%s\"", line, len, i, a[i], b[i]);
			assert_null(a[na]);
			free(a);
			free(b);
		}
	}
}

/* ---- options and commands ----------------------------------------------- */

/* A line split into words for the command parsers; free with free(). */
static char **argv_of(const char *line, int *argc)
{
	char err[ERRBUF_LEN], **argv;

	if (split_words(line, &argv, argc, err, sizeof(err)))
		fail_msg("test setup: split_words(\"%s\"): %s", line, err);
	return argv;
}

static int rule_parse(const char *line, struct rule_cmd *rc, char *err, size_t errlen)
{
	int argc, ret;
	char **argv = argv_of(line, &argc);

	err[0] = '\0';
	ret = rule_cmd_parse(argc, argv, rc, err, errlen);
	/* rc->policy points into argv: copy what tests look at */
	if (!ret && rc->policy) {
		static char pol[EGRESS_NAME_MAX + 1];

		snprintf(pol, sizeof(pol), "%s", rc->policy);
		rc->policy = pol;
	}
	free(argv);
	return ret;
}

static void rule_bad(const char *line, const char *msg_part)
{
	struct rule_cmd rc;
	char err[ERRBUF_LEN];

	if (rule_parse(line, &rc, err, sizeof(err)) != -EINVAL)
		fail_msg("rule_cmd_parse(\"%s\") accepted", line);
	assert_contains(err, msg_part);
}

static void test_rule_cmd_defaults(void **state)
{
	struct rule_cmd rc;
	char err[ERRBUF_LEN];

	assert_int_equal(rule_parse("10.0.0.0/8", &rc, err, sizeof(err)), 0);
	assert_int_equal(rc.rule.cidr.family, EGRESS_FAM_V4);
	assert_int_equal(rc.rule.cidr.plen, 8);
	assert_int_equal(rc.rule.proto, 0);
	assert_int_equal(rc.rule.port_lo, 0);
	assert_int_equal(rc.rule.port_hi, 65535);
	assert_true(rule_is_full(&rc.rule));
	assert_null(rc.policy);
}

static void test_rule_cmd_options_space_separated(void **state)
{
	struct rule_cmd rc;
	char err[ERRBUF_LEN];

	assert_int_equal(rule_parse("10.0.0.0/8 --proto tcp --port 80 --policy web", &rc, err,
				    sizeof(err)), 0);
	assert_int_equal(rc.rule.proto, TCP);
	assert_int_equal(rc.rule.port_lo, 80);
	assert_int_equal(rc.rule.port_hi, 80);
	assert_string_equal(rc.policy, "web");
	assert_false(rule_is_full(&rc.rule));
}

static void test_rule_cmd_options_with_equals_before_cidr(void **state)
{
	struct rule_cmd rc;
	char err[ERRBUF_LEN];

	assert_int_equal(rule_parse("--proto=udp --port=53-54 --policy=dns 2001:db8::/32", &rc, err,
				    sizeof(err)), 0);
	assert_int_equal(rc.rule.cidr.family, EGRESS_FAM_V6);
	assert_int_equal(rc.rule.cidr.plen, 32);
	assert_int_equal(rc.rule.proto, UDP);
	assert_int_equal(rc.rule.port_lo, 53);
	assert_int_equal(rc.rule.port_hi, 54);
	assert_string_equal(rc.policy, "dns");
	/* "--" ends the options */
	assert_int_equal(rule_parse("--proto any -- 1.2.3.4", &rc, err, sizeof(err)), 0);
	assert_int_equal(rc.rule.cidr.plen, 32);
	assert_int_equal(rc.rule.proto, 0);
}

static void test_rule_cmd_unknown_option(void **state)
{
	rule_bad("10.0.0.0/8 --foo bar", "--foo");
	rule_bad("10.0.0.0/8 --pro tcp", "--pro");		/* no prefix matching */
	rule_bad("10.0.0.0/8 --protocol=tcp", "--protocol=tcp");
	rule_bad("10.0.0.0/8 -p tcp", "-p");
	rule_bad("10.0.0.0/8 ---proto tcp", "---proto");
}

static void test_rule_cmd_missing_value(void **state)
{
	rule_bad("10.0.0.0/8 --port", "--port");
	rule_bad("10.0.0.0/8 --proto", "needs a value");
	rule_bad("10.0.0.0/8 --policy", "--policy");
}

static void test_rule_cmd_missing_cidr(void **state)
{
	rule_bad("", "missing CIDR");
	rule_bad("--proto tcp --port 80", "missing CIDR");
	rule_bad("--", "missing CIDR");
}

static void test_rule_cmd_too_many_positionals(void **state)
{
	rule_bad("10.0.0.0/8 10.0.0.1", "'10.0.0.1'");
	rule_bad("10.0.0.0/8 --proto tcp extra", "'extra'");
	rule_bad("10.0.0.0/8 -- -x", "'-x'");
}

static void test_rule_cmd_bad_values(void **state)
{
	rule_bad("10.0.0.0/33", "10.0.0.0/33");
	rule_bad("10.1.0.0/8", "10.0.0.0/8");
	rule_bad("10.0.0.0/8 --proto icmp", "icmp");
	rule_bad("10.0.0.0/8 --proto=", "protocol");
	rule_bad("10.0.0.0/8 --port 0", "'0'");
	rule_bad("10.0.0.0/8 --port 80-20", "80-20");
	rule_bad("10.0.0.0/8 --port=", "port");
	rule_bad("10.0.0.0/8 --policy 'bad name'", "bad name");
	rule_bad("10.0.0.0/8 --policy=", "policy name");
	rule_bad("10.0.0.0/8 --policy aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1 to 31");
}

static int padd_parse(const char *line, struct policy_cmd *pc, char *name, char *err, size_t errlen)
{
	int argc, ret;
	char **argv = argv_of(line, &argc);

	err[0] = '\0';
	ret = policy_add_parse(argc, argv, pc, err, errlen);
	if (!ret)
		snprintf(name, EGRESS_NAME_MAX, "%s", pc->name);
	pc->name = NULL;
	free(argv);
	return ret;
}

static void test_policy_add_parse_plain(void **state)
{
	struct policy_cmd pc;
	char err[ERRBUF_LEN], name[EGRESS_NAME_MAX];

	assert_int_equal(padd_parse("web", &pc, name, err, sizeof(err)), 0);
	assert_string_equal(name, "web");
	assert_false(pc.has_dflt);
	assert_false(pc.has_err);
}

static void test_policy_add_parse_options(void **state)
{
	struct policy_cmd pc;
	char err[ERRBUF_LEN], name[EGRESS_NAME_MAX];

	assert_int_equal(padd_parse("web --default allow --errno ECONNREFUSED", &pc, name, err,
				    sizeof(err)), 0);
	assert_string_equal(name, "web");
	assert_true(pc.has_dflt);
	assert_int_equal(pc.dflt, ALLOW);
	assert_true(pc.has_err);
	assert_int_equal(pc.err, ECONNREFUSED);
	assert_int_equal(padd_parse("--default=deny db.1", &pc, name, err, sizeof(err)), 0);
	assert_string_equal(name, "db.1");
	assert_true(pc.has_dflt);
	assert_int_equal(pc.dflt, DENY);
	assert_false(pc.has_err);
}

static void test_policy_add_parse_errno_eperm_is_zero(void **state)
{
	struct policy_cmd pc;
	char err[ERRBUF_LEN], name[EGRESS_NAME_MAX];

	assert_int_equal(padd_parse("web --errno EPERM", &pc, name, err, sizeof(err)), 0);
	assert_true(pc.has_err);
	assert_int_equal(pc.err, 0);	/* 0 = EPERM, one spelling */
}

static void test_policy_add_parse_hint(void **state)
{
	struct policy_cmd pc;
	char err[ERRBUF_LEN], name[EGRESS_NAME_MAX];
	int argc;
	char **argv = argv_of("web --hint 'blocked {dst}:{dport} ({proto}) by {policy}: {comm}[{pid}]'",
			      &argc);

	assert_int_equal(policy_add_parse(argc, argv, &pc, err, sizeof(err)), 0);
	assert_string_equal(pc.hint, "blocked {dst}:{dport} ({proto}) by {policy}: {comm}[{pid}]");
	free(argv);
	assert_int_equal(padd_parse("web", &pc, name, err, sizeof(err)), 0);
	assert_null(pc.hint);
	assert_int_equal(padd_parse("web --hint {nope}", &pc, name, err, sizeof(err)), -EINVAL);
	assert_contains(err, "{nope}");
	assert_int_equal(padd_parse("web --hint", &pc, name, err, sizeof(err)), -EINVAL);
	assert_contains(err, "--hint");
}

static void test_policy_add_parse_ping(void **state)
{
	struct policy_cmd pc;
	char err[ERRBUF_LEN], name[EGRESS_NAME_MAX];

	assert_int_equal(padd_parse("web", &pc, name, err, sizeof(err)), 0);
	assert_false(pc.has_ping);
	assert_int_equal(padd_parse("web --ping allow", &pc, name, err, sizeof(err)), 0);
	assert_true(pc.has_ping);
	assert_true(pc.ping);
	assert_int_equal(padd_parse("web --ping=deny", &pc, name, err, sizeof(err)), 0);
	assert_true(pc.has_ping);
	assert_false(pc.ping);
	assert_int_equal(padd_parse("web --ping yes", &pc, name, err, sizeof(err)), -EINVAL);
	assert_contains(err, "yes");
	assert_contains(err, "--ping");
}

static void test_policy_add_parse_mode(void **state)
{
	struct policy_cmd pc;
	char err[ERRBUF_LEN], name[EGRESS_NAME_MAX];

	assert_int_equal(padd_parse("web", &pc, name, err, sizeof(err)), 0);
	assert_false(pc.has_mode);
	assert_int_equal(padd_parse("web --mode audit", &pc, name, err, sizeof(err)), 0);
	assert_true(pc.has_mode);
	assert_true(pc.audit);
	assert_int_equal(padd_parse("web --mode=enforce", &pc, name, err, sizeof(err)), 0);
	assert_true(pc.has_mode);
	assert_false(pc.audit);
	assert_int_equal(padd_parse("web --mode foo", &pc, name, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "invalid --mode 'foo': expected enforce or audit");
	assert_int_equal(padd_parse("web --mode Audit", &pc, name, err, sizeof(err)), -EINVAL);
	assert_int_equal(padd_parse("web --mode", &pc, name, err, sizeof(err)), -EINVAL);
	assert_contains(err, "--mode");
}

static void test_policy_add_parse_errors(void **state)
{
	static const struct { const char *line, *msg; } bad[] = {
		{ "", "missing policy name" },
		{ "--default allow", "missing policy name" },
		{ "a/b", "a/b" },
		{ "web --default maybe", "maybe" },
		{ "web --errno EFOO", "EFOO" },
		{ "web extra", "'extra'" },
		{ "web --default", "--default" },
		{ "web --proto tcp", "--proto" },
	};
	struct policy_cmd pc;
	char err[ERRBUF_LEN], name[EGRESS_NAME_MAX];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (padd_parse(bad[i].line, &pc, name, err, sizeof(err)) != -EINVAL)
			fail_msg("policy add \"%s\" accepted", bad[i].line);
		assert_contains(err, bad[i].msg);
	}
}

/* ---- policy files ---------------------------------------------------- */

static struct policy *file_find(struct policy_file *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->pol[i].name, name))
			return &f->pol[i];
	return NULL;
}

static void file_ok(const char *text, struct policy_file *f)
{
	char err[ERRBUF_LEN] = "";
	int ret = policy_file_parse(text, f, err, sizeof(err));

	if (ret)
		fail_msg("policy_file_parse failed: %d: %s", ret, err);
}

static void file_bad(const char *text, int want_ret, const char *prefix, const char *msg_part)
{
	struct policy_file f;
	char err[ERRBUF_LEN] = "";
	int ret;

	memset(&f, 0x33, sizeof(f));
	ret = policy_file_parse(text, &f, err, sizeof(err));
	if (ret != want_ret)
		fail_msg("policy_file_parse returned %d (%s), expected %d", ret, err, want_ret);
	if (prefix && strncmp(err, prefix, strlen(prefix)))
		fail_msg("error \"%s\" does not start with \"%s\"", err, prefix);
	if (msg_part)
		assert_contains(err, msg_part);
	/* freed on error */
	assert_int_equal(f.n, 0);
	assert_null(f.pol);
	assert_null(f.declared);
}

static void test_policy_file_comments_blanks_and_default(void **state)
{
	const char *text =
		"# egress policy\n"
		"\n"
		"   \t\n"
		"policy add web --default allow --errno ECONNREFUSED   # the web tier\n"
		"allow 10.0.0.0/8 --proto tcp --port 443 --policy web\r\n"
		"deny 10.1.0.0/16 --policy web\n"
		"# rules of the policy 'default' name it too\n"
		"allow 127.0.0.53/32 --port 53 --policy default\n"
		"allow 127.0.0.53/32 --port 53 --policy default\n"	/* duplicate: merged */
		"deny ::/0 --policy default";				/* no final newline */
	struct policy_file f;
	struct policy *web, *def;

	file_ok(text, &f);
	assert_int_equal(f.n, 2);
	web = file_find(&f, "web");
	def = file_find(&f, "default");
	assert_non_null(web);
	assert_non_null(def);
	assert_true(f.declared[web - f.pol]);
	assert_false(f.declared[def - f.pol]);
	assert_int_equal(web->dflt, ALLOW);
	assert_int_equal(web->err, ECONNREFUSED);
	assert_int_equal(web->nrules, 2);
	assert_int_equal(def->dflt, DENY);
	assert_int_equal(def->err, 0);
	assert_int_equal(def->nrules, 2);
	/* normalized: deny before allow on equal CIDR, v4 before v6 */
	assert_int_equal(def->rules[0].cidr.family, EGRESS_FAM_V4);
	assert_int_equal(def->rules[0].action, ALLOW);
	assert_int_equal(def->rules[0].port_lo, 53);
	assert_int_equal(def->rules[1].cidr.family, EGRESS_FAM_V6);
	assert_int_equal(def->rules[1].action, DENY);
	policy_file_free(&f);
	assert_int_equal(f.n, 0);
}

static void test_policy_file_empty_and_comment_only(void **state)
{
	struct policy_file f;

	file_ok("", &f);
	assert_int_equal(f.n, 0);
	policy_file_free(&f);
	file_ok("# nothing\n\n   # at all\n", &f);
	assert_int_equal(f.n, 0);
	policy_file_free(&f);
}

static void test_policy_file_policy_add_after_its_rules(void **state)
{
	struct policy_file f;
	struct policy *p;

	file_ok("allow 1.1.1.1 --policy late\n"
		"policy add late --default allow --errno ENETDOWN\n"
		"deny 2.2.2.2 --policy late\n", &f);
	assert_int_equal(f.n, 1);
	p = &f.pol[0];
	assert_string_equal(p->name, "late");
	assert_true(f.declared[0]);
	assert_int_equal(p->dflt, ALLOW);
	assert_int_equal(p->err, ENETDOWN);
	assert_int_equal(p->nrules, 2);
	policy_file_free(&f);
}

static void test_policy_file_policy_added_twice(void **state)
{
	file_bad("policy add web\n"
		 "allow 1.2.3.4 --policy web\n"
		 "\n"
		 "policy add web --default allow\n", -EINVAL, "4: ", "'web'");
	file_bad("# x\npolicy add default\npolicy add default\n", -EINVAL, "3: ", "twice");
}

static void test_policy_file_refuses_other_commands(void **state)
{
	file_bad("policy add web\n"
		 "attach /sys/fs/cgroup/web --policy web\n", -EINVAL, "2: ", "'attach ");
	file_bad("\n\n\nremove 10.0.0.0/8\n", -EINVAL, "4: ", "remove");
	file_bad("policy remove web\n", -EINVAL, "1: ", "policy remove");
	file_bad("policy\n", -EINVAL, "1: ", "'policy'");
	file_bad("Allow 10.0.0.0/8\n", -EINVAL, "1: ", "Allow");
}

static void test_policy_file_bad_cidr_reports_line_7(void **state)
{
	file_bad("# 1\n"
		 "policy add web\n"
		 "allow 10.0.0.0/8 --policy web\n"
		 "\n"
		 "# 5\n"
		 "deny 10.2.0.0/16 --policy web\n"
		 "allow 10.1.2.3/8 --policy web\n"
		 "allow 10.0.0.1 --policy web\n", -EINVAL, "7: ", "10.0.0.0/8");
	/* the last line, without a newline */
	file_bad("allow 1.1.1.1 --policy a\nallow 300.1.1.1 --policy a", -EINVAL, "2: ", "300.1.1.1");
}

static void test_policy_file_other_line_errors(void **state)
{
	file_bad("allow 1.1.1.1 --policy a\nallow \"1.1.1.1\n", -EINVAL, "2: ", "unterminated");
	file_bad("allow\n", -EINVAL, "1: ", "missing CIDR");
	file_bad("policy add\n", -EINVAL, "1: ", "missing policy name");
	file_bad("allow 1.1.1.1 --policy 'a b'\n", -EINVAL, "1: ", "a b");
	file_bad("\r\n\r\ndeny 1.1.1.1 --port 0 --policy a\r\n", -EINVAL, "3: ", "'0'");
	file_bad("policy add x --errno EFOO\n", -EINVAL, "1: ", "EFOO");
}

/* issue 14: "--port 80 --port 443" was accepted and the last one won */
static void test_rule_cmd_repeated_options_refused(void **state)
{
	rule_bad("169.254.169.254/32 --port 80 --port 443", "'--port' is given twice");
	rule_bad("10.0.0.0/8 --proto tcp --proto=udp", "'--proto' is given twice");
	rule_bad("10.0.0.0/8 --policy=a --policy b", "'--policy' is given twice");
	rule_bad("--port=1 10.0.0.0/8 --port=1", "twice");
}

static void test_policy_add_repeated_options_refused(void **state)
{
	struct policy_cmd pc;
	char err[ERRBUF_LEN];
	int argc;
	char **argv = argv_of("web --default allow --default deny", &argc);

	assert_int_equal(policy_add_parse(argc, argv, &pc, err, sizeof(err)), -EINVAL);
	assert_contains(err, "'--default' is given twice");
	free(argv);
	argv = argv_of("web --hint a --errno EPERM --hint=b", &argc);
	assert_int_equal(policy_add_parse(argc, argv, &pc, err, sizeof(err)), -EINVAL);
	assert_contains(err, "'--hint' is given twice");
	free(argv);
}

/* issue 14: a rule line without --policy silently replaced 'default' */
static void test_policy_file_rule_without_policy_refused(void **state)
{
	file_bad("policy add lab\n"
		 "allow 127.0.0.2/32 --proto tcp --port 3128\n", -EINVAL, "2: ", "without --policy");
	file_bad("# x\n\ndeny 10.0.0.0/8\n", -EINVAL, "3: ", "--policy default");
	file_bad("policy add a\ndeny 169.254.169.254/32 --port 80 --port 443 --policy a\n", -EINVAL,
		 "2: ", "'--port' is given twice");
}

static void test_policy_file_records_first_line(void **state)
{
	struct policy_file f;

	file_ok("# c\n"
		"allow 1.1.1.1 --policy late\n"
		"policy add early\n"
		"policy add late\n"
		"deny 2.2.2.2 --policy early\n", &f);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.line[file_find(&f, "late") - f.pol], 2);
	assert_int_equal(f.line[file_find(&f, "early") - f.pol], 3);
	policy_file_free(&f);
	assert_null(f.line);
}

/* policy_narrows: what attach warns about under a bound ancestor (issue 14) */
static void test_policy_narrows_tiers(void **state)
{
	struct policy_file f;
	struct policy *free_, *pro, *lab, *wide;
	struct cidr dst;
	uint8_t proto;
	uint16_t port;
	char s[CIDR_STR_LEN];

	file_ok("policy add free --default deny\n"
		"allow 192.0.2.10/32 --proto tcp --port 3128 --policy free\n"
		"policy add pro --default allow\n"
		"deny 192.0.2.254/32 --policy pro\n"
		"policy add lab --default deny\n"
		"allow 10.0.0.0/8 --proto tcp --port 443 --policy lab\n"
		"policy add wide --default deny\n"
		"allow 10.0.0.0/8 --policy wide\n"
		"deny 10.1.2.0/24 --policy wide\n", &f);
	free_ = file_find(&f, "free");
	pro = file_find(&f, "pro");
	lab = file_find(&f, "lab");
	wide = file_find(&f, "wide");
	/* pro under free: free still denies what pro allows */
	assert_int_equal(policy_narrows(free_, pro, &dst, &proto, &port), 1);
	assert_int_equal(policy_decide_slow(pro, &dst, proto, port), ALLOW);
	assert_int_equal(policy_decide_slow(free_, &dst, proto, port), DENY);
	/* free under pro narrows: nothing to warn about */
	assert_int_equal(policy_narrows(pro, free_, &dst, &proto, &port), 0);
	assert_int_equal(policy_narrows(free_, free_, &dst, &proto, &port), 0);
	/* the hole in the middle is found, with the inner rule's protocol and port */
	assert_int_equal(policy_narrows(wide, lab, &dst, &proto, &port), 1);
	format_cidr(&dst, s, sizeof(s));
	assert_string_equal(s, "10.1.2.0/32");
	assert_int_equal(proto, TCP);
	assert_int_equal(port, 443);
	assert_int_equal(policy_narrows(lab, wide, &dst, &proto, &port), 1);
	assert_int_equal(policy_decide_slow(wide, &dst, proto, port), ALLOW);
	assert_int_equal(policy_decide_slow(lab, &dst, proto, port), DENY);
	policy_file_free(&f);
}

static void test_policy_file_conflict_rejected(void **state)
{
	file_bad("policy add web\n"
		 "allow 10.0.0.0/8 --proto tcp --policy web\n"
		 "deny 10.0.0.0/8 --proto tcp --policy web\n", -EEXIST, NULL, "10.0.0.0/8");
}

/* cmdline.h: policy_file_parse's errors are "LINE: reason". */
static void test_policy_file_conflict_error_names_line(void **state)
{
	struct policy_file f;
	char err[ERRBUF_LEN] = "";
	const char *text = "policy add web\n"
			   "allow 10.0.0.0/8 --proto tcp --policy web\n"
			   "deny 10.0.0.0/8 --proto tcp --policy web\n";
	int ret = policy_file_parse(text, &f, err, sizeof(err));

	assert_int_not_equal(ret, 0);
	if (!(err[0] >= '1' && err[0] <= '9' && strchr(err, ':') &&
	      strspn(err, "0123456789") == (size_t)(strchr(err, ':') - err)))
		fail_msg("error \"%s\" does not start with \"LINE: \"", err);
}

/*
 * A file of head, nfill lines of fill (with their number), then tail: its
 * parse refuses a conflict, and names it as want says.
 */
static void expect_conflict(const char *head, int nfill, const char *fill, const char *tail,
			    const char *want)
{
	char *text = NULL, err[ERRBUF_LEN];
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	struct policy_file f;

	assert_non_null(m);
	fputs(head, m);
	for (int i = 0; i < nfill; i++)
		fprintf(m, fill, i);
	fputs(tail, m);
	assert_int_equal(fclose(m), 0);
	assert_int_equal(policy_file_parse(text, &f, err, sizeof(err)), -EEXIST);
	assert_contains(err, want);
	free(text);
}

/* The conflict's line comes from the rule itself: duplicates, other policies and >64 rules between. */
static void test_policy_file_conflict_exact_line(void **state)
{
	expect_conflict("policy add web\n"					/* 1 */
			"# the tcp rules of 10/8\n"				/* 2 */
			"allow 10.0.0.0/8 --proto tcp --policy web\n"		/* 3 */
			"\n"							/* 4 */
			"allow 10.0.0.0/8 --proto tcp --policy web\n"		/* 5: same, kept once */
			"deny 10.0.0.0/8 --proto tcp --policy other\n"		/* 6: another policy */
			"deny 10.0.0.0/8 --proto udp --policy web\n",		/* 7: another match */
			100, "allow 192.0.2.%d --policy web\n",		/* 8-107 */
			"deny 10.0.0.0/8 --proto tcp --policy web\n"		/* 108: the conflict */
			"deny 10.0.0.0/8 --proto tcp --policy web\n",		/* 109 */
			"108: policy 'web': both allow and deny for 10.0.0.0/8");
}

/*
 * The line is found by reading the file again: the first action in file
 * order decides which rule contradicts, whatever order sorting left them
 * in (deny sorts first), with same-action duplicates of both before it.
 * Policy 'other' conflicts too, but 'web' is first in the file.
 */
static void test_policy_file_conflict_first_action(void **state)
{
	expect_conflict("policy add web\n"				/* 1 */
			"allow 10.0.0.0/8 --policy web\n"		/* 2: the first action: allow */
			"allow 10.0.0.0/8 --policy other\n"		/* 3 */
			"allow 10.0.0.0/8 --policy web\n",		/* 4: a duplicate */
			80, "deny 192.0.2.%d --policy web\n",		/* 5-84 */
			"deny 10.0.0.0/8 --policy other\n"		/* 85: another policy */
			"deny 10.0.0.0/8 --policy web\n"		/* 86: the conflict */
			"allow 10.0.0.0/8 --policy web\n"		/* 87 */
			"deny 10.0.0.0/8 --policy web\n",		/* 88 */
			"86: policy 'web': both allow and deny for 10.0.0.0/8");
}

/*
 * One buffer holds every line's words: a long line after short ones, and
 * short ones after it, keep their words (the hint of 3,000 characters, the
 * rules after it).
 */
static void test_policy_file_line_lengths(void **state)
{
	char *text = NULL, err[ERRBUF_LEN], hint[3001];
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	struct policy_file f;

	for (size_t i = 0; i < sizeof(hint) - 1; i++)
		hint[i] = 'a' + i % 26;
	hint[sizeof(hint) - 1] = '\0';
	hint[EGRESS_HINT_MAX - 1] = '\0';	/* the longest hint a policy keeps */
	assert_non_null(m);
	fprintf(m, "allow 10.0.0.0/8 --policy p\n"
		   "policy add p --default allow --hint '%s'\n"
		   "deny 10.1.0.0/16 --proto tcp --port 443 --policy p\n"
		   "   \t  deny 2001:db8::/32 --policy p   # a comment\n", hint);
	assert_int_equal(fclose(m), 0);
	assert_int_equal(policy_file_parse(text, &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.pol[0].hint, hint);
	assert_int_equal(f.pol[0].dflt, EGRESS_ALLOW);
	assert_int_equal(f.pol[0].nrules, 3);
	assert_int_equal(f.pol[0].rules[0].cidr.plen, 8);
	assert_int_equal(f.pol[0].rules[1].port_lo, 443);
	assert_int_equal(f.pol[0].rules[1].proto, IPPROTO_TCP);
	assert_int_equal(f.pol[0].rules[2].cidr.family, EGRESS_FAM_V6);
	policy_file_free(&f);
	free(text);
}

/* policy_export of every policy of a file, into a string (free it). */
static char *export_file(const struct policy_file *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	for (size_t i = 0; i < f->n; i++)
		policy_export(m, &f->pol[i]);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static void test_policy_file_hint_export_round_trip(void **state)
{
	static const char *hints[] = {
		"plain",
		"it's",
		"''",
		"a \\ b",
		"\"double\" and 'single' and \\' mixed",
		"# not a comment {dst}",
		"  leading and trailing blanks  ",
		"tab\there",
		"{comm} {pid} {policy} {proto} {dport} {dst}",
	};
	char long_hint[EGRESS_HINT_MAX];

	memset(long_hint, '\'', sizeof(long_hint) - 1);	/* the longest, all quotes */
	long_hint[sizeof(long_hint) - 1] = '\0';
	for (size_t i = 0; i <= sizeof(hints) / sizeof(hints[0]); i++) {
		const char *h = i < sizeof(hints) / sizeof(hints[0]) ? hints[i] : long_hint;
		struct policy p, *q;
		struct policy_file f, g;
		char *out1 = NULL, *out2;
		size_t len;
		FILE *m;

		pol_init(&p, "h", DENY);
		snprintf(p.hint, sizeof(p.hint), "%s", h);
		pol_add(&p, "10.0.0.0/8", ALLOW, TCP, 443, 443);
		m = open_memstream(&out1, &len);
		policy_export(m, &p);
		fclose(m);
		file_ok(out1, &f);
		q = file_find(&f, "h");
		assert_non_null(q);
		if (strcmp(q->hint, h))
			fail_msg("hint \"%s\" exported as %s came back as \"%s\"", h, out1, q->hint);
		out2 = export_file(&f);
		assert_string_equal(out1, out2);
		file_ok(out2, &g);
		assert_string_equal(file_find(&g, "h")->hint, h);
		free(out1);
		free(out2);
		policy_file_free(&f);
		policy_file_free(&g);
		policy_free(&p);
	}
}

static void test_policy_file_ping_export_round_trip(void **state)
{
	struct policy_file f, g;
	struct compiled c;
	struct policy back;
	char err[ERRBUF_LEN], *out1, *out2;

	file_ok("policy add a --ping allow\n"
		"policy add b --ping deny\n"
		"policy add c\n"
		"allow 10.0.0.0/8 --policy a\n", &f);
	assert_int_equal(file_find(&f, "a")->flags & EGRESS_POL_PING, EGRESS_POL_PING);
	assert_int_equal(file_find(&f, "b")->flags & EGRESS_POL_PING, 0);
	assert_int_equal(file_find(&f, "c")->flags & EGRESS_POL_PING, 0);
	out1 = export_file(&f);
	assert_non_null(strstr(out1, "policy add a --default deny --ping allow\n"));
	assert_non_null(strstr(out1, "policy add b --default deny\n"));
	file_ok(out1, &g);
	out2 = export_file(&g);
	assert_string_equal(out1, out2);
	/* the flag is policy-wide: in every compiled entry, and back */
	assert_int_equal(policy_compile(file_find(&f, "a"), &c, err, sizeof(err)), 0);
	for (size_t i = 0; i < c.n; i++)
		assert_int_equal(c.e[i].val.pol_flags & EGRESS_POL_PING, EGRESS_POL_PING);
	pol_init(&back, "a", DENY);
	assert_int_equal(policy_decompile(&back, &c), 0);
	assert_same_policy(file_find(&f, "a"), &back);
	policy_free(&back);
	compiled_free(&c);
	free(out1);
	free(out2);
	policy_file_free(&f);
	policy_file_free(&g);
}

/*
 * Audit mode: a policy file's 'policy add --mode audit' sets the flag,
 * export writes it back (only for audit: an enforcing policy exports as it
 * always did), the flag is in every compiled entry (the kernel reads it
 * from the deciding entry) and decompiles back.
 */
static void test_policy_file_mode_export_round_trip(void **state)
{
	struct policy_file f, g;
	struct compiled c;
	struct policy back;
	char err[ERRBUF_LEN], *out1, *out2;

	file_ok("policy add a --mode audit --ping allow\n"
		"policy add b --mode enforce\n"
		"policy add c\n"
		"allow 10.0.0.0/8 --policy a\n"
		"deny 192.0.2.1 --policy a\n"
		"allow 2001:db8::/32 --proto tcp --port 443 --policy a\n", &f);
	assert_int_equal(file_find(&f, "a")->flags, EGRESS_POL_AUDIT | EGRESS_POL_PING);
	assert_int_equal(file_find(&f, "b")->flags & EGRESS_POL_AUDIT, 0);
	assert_int_equal(file_find(&f, "c")->flags & EGRESS_POL_AUDIT, 0);
	out1 = export_file(&f);
	assert_non_null(strstr(out1, "policy add a --default deny --ping allow --mode audit\n"));
	assert_non_null(strstr(out1, "policy add b --default deny\n"));
	assert_non_null(strstr(out1, "policy add c --default deny\n"));
	file_ok(out1, &g);
	out2 = export_file(&g);
	assert_string_equal(out1, out2);
	assert_int_equal(policy_compile(file_find(&f, "a"), &c, err, sizeof(err)), 0);
	assert_true(c.n > 2);
	for (size_t i = 0; i < c.n; i++)
		assert_int_equal(c.e[i].val.pol_flags, EGRESS_POL_AUDIT | EGRESS_POL_PING);
	pol_init(&back, "a", DENY);
	assert_int_equal(policy_decompile(&back, &c), 0);
	assert_same_policy(file_find(&f, "a"), &back);
	policy_free(&back);
	compiled_free(&c);
	/* enforce: no flag in any entry */
	assert_int_equal(policy_compile(file_find(&f, "b"), &c, err, sizeof(err)), 0);
	for (size_t i = 0; i < c.n; i++)
		assert_int_equal(c.e[i].val.pol_flags & EGRESS_POL_AUDIT, 0);
	compiled_free(&c);
	free(out1);
	free(out2);
	policy_file_free(&f);
	policy_file_free(&g);
}

static void test_policy_export_golden(void **state)
{
	struct policy_file f;
	char *out;

	file_ok("allow ::/0 --port 53 --policy web\n"
		"allow 10.1.0.0/16 --proto tcp --port 443 --policy web\n"
		"policy add web --default allow --errno ECONNREFUSED\n"
		"deny 10.0.0.0/8 --policy web\n"
		"allow 10.1.0.0/16 --proto udp --port 1-65535 --policy web\n"
		"deny 2001:db8::1 --policy default\n", &f);
	out = export_file(&f);
	assert_string_equal(out,
		"policy add web --default allow --errno ECONNREFUSED\n"
		"deny 10.0.0.0/8 --policy web\n"
		"allow 10.1.0.0/16 --proto tcp --port 443 --policy web\n"
		"allow 10.1.0.0/16 --proto udp --port 1-65535 --policy web\n"
		"allow ::/0 --port 53 --policy web\n"
		"policy add default --default deny\n"
		"deny 2001:db8::1/128 --policy default\n");
	free(out);
	policy_file_free(&f);
}

static void test_policy_export_reparse_is_byte_identical(void **state)
{
	const char *text =
		"# two policies, rules in no particular order, duplicates, comments\n"
		"policy add api --default deny --errno EHOSTUNREACH --hint \"it's {dst}:{dport} \\\"x\\\" # no comment\"\n"
		"allow 192.168.0.0/16 --proto tcp --port 443 --policy api\n"
		"deny 192.168.13.0/24 --policy api   # a bad subnet\n"
		"allow 192.168.13.7 --proto tcp --port 8000-8080 --policy api\n"
		"allow 'fd00::/8' --proto udp --policy api\n"
		"deny fd00:1::/32 --port 53 --policy api\n"
		"allow 0.0.0.0/0 --proto tcp --port 80 --policy api\n"
		"allow 192.168.0.0/16 --proto tcp --port 443 --policy api\n"
		"deny 192.168.0.0/16 --proto udp --policy api\n"
		"\n"
		"policy add open --default allow --errno EPERM\n"
		"deny 169.254.169.254 --policy open\n"
		"deny ::/0 --proto udp --port 1-1024 --policy open\n"
		"allow 127.0.0.53/32 --port 53 --policy default\n";
	struct policy_file f, g, h;
	char *out1, *out2, *out3;

	file_ok(text, &f);
	assert_int_equal(f.n, 3);
	out1 = export_file(&f);
	file_ok(out1, &g);
	out2 = export_file(&g);
	assert_string_equal(out1, out2);
	file_ok(out2, &h);
	out3 = export_file(&h);
	assert_string_equal(out2, out3);
	/* and the policies themselves are equal */
	for (size_t i = 0; i < f.n; i++) {
		assert_string_equal(f.pol[i].name, g.pol[i].name);
		assert_same_policy(&f.pol[i], &g.pol[i]);
	}
	/* --errno EPERM is the kernel's own errno: one spelling, none */
	assert_non_null(strstr(out1, "policy add open --default allow\n"));
	assert_int_equal(file_find(&f, "open")->err, 0);
	assert_non_null(strstr(out1, "policy add api --default deny --errno EHOSTUNREACH --hint "));
	assert_string_equal(file_find(&f, "api")->hint, "it's {dst}:{dport} \"x\" # no comment");
	assert_string_equal(file_find(&g, "api")->hint, "it's {dst}:{dport} \"x\" # no comment");
	assert_non_null(strstr(out1, "policy add default --default deny\n"));
	free(out1);
	free(out2);
	free(out3);
	policy_file_free(&f);
	policy_file_free(&g);
	policy_file_free(&h);
}

static void test_policy_export_of_compiled_round_trip(void **state)
{
	/* file -> compile -> decompile -> export gives the file's export */
	struct policy_file f;
	struct compiled c;
	struct policy back;
	char err[ERRBUF_LEN], *a = NULL, *b = NULL;
	size_t la, lb;
	FILE *m;

	file_ok("policy add x --default allow --errno ETIMEDOUT --\n"
		"deny 10.0.0.0/8 --proto udp --policy x\n"
		"allow 10.0.0.0/8 --proto udp --port 53 --policy x\n"
		"deny 10.0.0.0/8 --proto udp --port 54-60 --policy x\n"
		"allow 10.4.0.0/14 --policy x\n"
		"deny 2001:db8::/32 --proto tcp --policy x\n", &f);
	assert_int_equal(policy_compile(&f.pol[0], &c, err, sizeof(err)), 0);
	pol_init(&back, "x", DENY);
	assert_int_equal(policy_decompile(&back, &c), 0);
	m = open_memstream(&a, &la);
	policy_export(m, &f.pol[0]);
	fclose(m);
	m = open_memstream(&b, &lb);
	policy_export(m, &back);
	fclose(m);
	assert_string_equal(a, b);
	free(a);
	free(b);
	policy_free(&back);
	compiled_free(&c);
	policy_file_free(&f);
}

/* ---- a big file -------------------------------------------------------- */

#define BIG_RULES 10000

static char *big_file_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	fprintf(m, "# generated: %d rules\n", BIG_RULES);
	fprintf(m, "policy add big --default deny --errno ECONNREFUSED\n");
	fprintf(m, "deny 10.0.0.0/8 --policy big\n");
	fprintf(m, "allow 0.0.0.0/0 --proto tcp --port 443 --policy big\n");
	for (int i = 0; i < BIG_RULES - 2; i++) {
		int a = (i >> 8) & 0xff, b = i & 0xff;

		switch (i % 5) {
		case 0:
			fprintf(m, "deny 10.%d.%d.0/24 --proto udp --policy big\n", a, b);
			break;
		case 1:
		case 2:
			fprintf(m, "allow 10.%d.%d.%d/32 --proto tcp --port %d --policy big\n", a, b,
				1 + i % 5, 1 + i % 1000);
			break;
		case 3:
			fprintf(m, "allow 2001:db8:%x::/48 --port %d-%d --policy default\n", i, 1000 + i % 50,
				2000 + i % 50);
			break;
		default:
			fprintf(m, "\n# comment %d\n'allow' \"10.%d.%d.128/25\" --policy=big\n", i, a, b);
			break;
		}
	}
	assert_int_equal(fclose(m), 0);
	return buf;
}

static void test_policy_file_10000_rules_parse_and_compile(void **state)
{
	struct policy_file f, g;
	struct compiled c;
	char err[ERRBUF_LEN] = "", *text = big_file_text(), *out1, *out2;
	struct policy *big, *def;
	size_t total;
	static const char *dsts[] = { "10.0.1.1", "10.0.1.2", "10.0.5.200", "10.0.5.3", "10.3.3.3",
				      "11.0.0.1", "2001:db8:3::1", "2001:db8:ffff::1", "10.0.0.200",
				      "10.0.0.1", "10.0.0.7" };
	static const uint8_t protos[] = { TCP, UDP };
	static const uint16_t ports[] = { 1, 2, 3, 443, 1000, 1003, 1500, 2003, 2049 };

	file_ok(text, &f);
	assert_int_equal(f.n, 2);
	big = file_find(&f, "big");
	def = file_find(&f, "default");
	assert_non_null(big);
	assert_non_null(def);
	total = big->nrules + def->nrules;
	assert_int_equal(total, BIG_RULES);
	{
		size_t v6 = 0;

		for (int i = 0; i < BIG_RULES - 2; i++)
			v6 += i % 5 == 3;
		assert_int_equal(def->nrules, v6);
	}
	for (size_t i = 0; i < f.n; i++) {
		struct policy *p = &f.pol[i];

		if (policy_compile(p, &c, err, sizeof(err)))
			fail_msg("compile '%s': %s", p->name, err);
		assert_true(c.n >= 2 && c.n <= p->nrules + 2);
		for (size_t d = 0; d < sizeof(dsts) / sizeof(dsts[0]); d++) {
			struct cidr dst = cidr_of(dsts[d]);

			for (size_t k = 0; k < sizeof(protos); k++)
				for (size_t q = 0; q < sizeof(ports) / sizeof(ports[0]); q++)
					assert_int_equal(compiled_decide(&c, &dst, protos[k], ports[q]),
							 policy_decide_slow(p, &dst, protos[k], ports[q]));
		}
		compiled_free(&c);
	}
	/* spot checks in 'big' */
	{
		struct policy *p = big;

		assert_int_equal(p->dflt, DENY);
		assert_int_equal(p->err, ECONNREFUSED);
		assert_int_equal(policy_compile(p, &c, err, sizeof(err)), 0);
		/* i = 1: 10.0.1.2/32 tcp port 2 */
		expect_verdict(p, &c, "10.0.1.2", TCP, 2, ALLOW);
		expect_verdict(p, &c, "10.0.1.2", TCP, 3, DENY);
		expect_verdict(p, &c, "10.0.1.2", TCP, 443, DENY);	/* the /8 beats the /0 */
		expect_verdict(p, &c, "11.0.1.2", TCP, 443, ALLOW);
		/* i = 5: deny 10.0.5.0/24 udp; i = 4: allow 10.0.4.128/25 */
		expect_verdict(p, &c, "10.0.5.9", UDP, 53, DENY);
		expect_verdict(p, &c, "10.0.4.129", UDP, 53, ALLOW);
		expect_verdict(p, &c, "10.0.4.127", UDP, 53, DENY);
		compiled_free(&c);
	}
	/* the export is stable on a big file too */
	out1 = export_file(&f);
	file_ok(out1, &g);
	out2 = export_file(&g);
	assert_string_equal(out1, out2);
	free(out1);
	free(out2);
	policy_file_free(&g);
	policy_file_free(&f);
	free(text);
}

const struct CMUnitTest cmdline_tests[] = {
	cmocka_unit_test(test_split_words_blanks),
	cmocka_unit_test(test_split_words_comments),
	cmocka_unit_test(test_split_words_quotes),
	cmocka_unit_test(test_split_words_escapes),
	cmocka_unit_test(test_split_words_unterminated_quote),
	cmocka_unit_test(test_split_words_many_words_fit),
	cmocka_unit_test(test_split_words_n_stops_at_len),
	cmocka_unit_test(test_rule_cmd_defaults),
	cmocka_unit_test(test_rule_cmd_options_space_separated),
	cmocka_unit_test(test_rule_cmd_options_with_equals_before_cidr),
	cmocka_unit_test(test_rule_cmd_unknown_option),
	cmocka_unit_test(test_rule_cmd_missing_value),
	cmocka_unit_test(test_rule_cmd_missing_cidr),
	cmocka_unit_test(test_rule_cmd_too_many_positionals),
	cmocka_unit_test(test_rule_cmd_bad_values),
	cmocka_unit_test(test_policy_add_parse_plain),
	cmocka_unit_test(test_policy_add_parse_options),
	cmocka_unit_test(test_policy_add_parse_errno_eperm_is_zero),
	cmocka_unit_test(test_policy_add_parse_hint),
	cmocka_unit_test(test_policy_add_parse_ping),
	cmocka_unit_test(test_policy_file_ping_export_round_trip),
	cmocka_unit_test(test_policy_add_parse_mode),
	cmocka_unit_test(test_policy_file_mode_export_round_trip),
	cmocka_unit_test(test_policy_add_parse_errors),
	cmocka_unit_test(test_policy_file_hint_export_round_trip),
	cmocka_unit_test(test_policy_file_comments_blanks_and_default),
	cmocka_unit_test(test_policy_file_empty_and_comment_only),
	cmocka_unit_test(test_policy_file_policy_add_after_its_rules),
	cmocka_unit_test(test_policy_file_policy_added_twice),
	cmocka_unit_test(test_policy_file_refuses_other_commands),
	cmocka_unit_test(test_policy_file_bad_cidr_reports_line_7),
	cmocka_unit_test(test_policy_file_other_line_errors),
	cmocka_unit_test(test_rule_cmd_repeated_options_refused),
	cmocka_unit_test(test_policy_add_repeated_options_refused),
	cmocka_unit_test(test_policy_file_rule_without_policy_refused),
	cmocka_unit_test(test_policy_file_records_first_line),
	cmocka_unit_test(test_policy_narrows_tiers),
	cmocka_unit_test(test_policy_file_conflict_rejected),
	cmocka_unit_test(test_policy_file_conflict_error_names_line),
	cmocka_unit_test(test_policy_file_conflict_exact_line),
	cmocka_unit_test(test_policy_file_conflict_first_action),
	cmocka_unit_test(test_policy_file_line_lengths),
	cmocka_unit_test(test_policy_export_golden),
	cmocka_unit_test(test_policy_export_reparse_is_byte_identical),
	cmocka_unit_test(test_policy_export_of_compiled_round_trip),
	cmocka_unit_test(test_policy_file_10000_rules_parse_and_compile),
};
UNIT_GROUP(cmdline)

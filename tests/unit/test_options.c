// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_options.c - options.c: the typed option tables of egressd, egressctl
 * and policy-file lines.  Types and ranges, repeats, unknown options with
 * "did you mean", positionals (run's CMD stops the options), --help, and
 * the usage text, all from one table.
 */
#include "helpers.h"
#include "options.h"

static char **words(const char *line, int *argc)
{
	char err[ERRBUF_LEN], **argv;

	if (split_words(line, &argv, argc, err, sizeof(err)))
		fail_msg("test setup: split_words(\"%s\"): %s", line, err);
	return argv;
}

/* A command with one option of every type. */
struct cmd {
	const char *where, *policy;
	bool json, help;
	uint32_t rules, ring;
	int format;
	struct opt_duration since;
	struct opt_rest rest;
};
static const char *const formats[] = { "json", "text", "hint", NULL };
static const struct opt_spec cmd_spec[] = {
	OPTION_POS(struct cmd, where, "DIR", "a directory"),
	OPTION_STR(struct cmd, policy, "policy", "NAME", "the policy", .def = "default"),
	OPTION_FLAG(struct cmd, json, "json", "as JSON"),
	OPTION_U32(struct cmd, rules, "max-rules", "N", 1, 1000, "rules per policy", .def = "100"),
	OPTION_U32(struct cmd, ring, "ringbuf-size", "BYTES", 4096, 1U << 30, "a power of 2",
		   .def = "4096", .flags = OPT_POW2),
	OPTION_ENUM(struct cmd, format, "format", "F", formats, "json, text or hint", .def = "json"),
	OPTION_DURATION(struct cmd, since, "since", "DURATION", "the last DURATION"),
	OPTION_FLAG(struct cmd, help, "help", "this help", .short_name = 'h'),
	OPTION_END,
};

/* The values point into the words: they live until the next call. */
static int parse(const struct opt_spec *spec, const char *line, void *out, unsigned int flags, char *err)
{
	static char **argv;
	int argc;

	free(argv);
	argv = words(line, &argc);
	err[0] = '\0';
	return opts_parse(spec, argc, argv, out, flags, err, ERRBUF_LEN);
}

static void test_defaults_and_types(void **state)
{
	struct cmd c = {};
	char err[ERRBUF_LEN];

	assert_int_equal(parse(cmd_spec, "", &c, 0, err), 0);
	assert_string_equal(c.policy, "default");
	assert_int_equal(c.rules, 100);
	assert_int_equal(c.ring, 4096);
	assert_int_equal(c.format, 0);
	assert_false(c.json);
	assert_null(c.where);
	assert_null(c.since.text);

	memset(&c, 0, sizeof(c));
	assert_int_equal(parse(cmd_spec, "/x --policy free --json --max-rules=1000 --ringbuf-size 8192 "
			       "--format hint --since 2h", &c, 0, err), 0);
	assert_string_equal(c.where, "/x");
	assert_string_equal(c.policy, "free");
	assert_true(c.json);
	assert_int_equal(c.rules, 1000);
	assert_int_equal(c.ring, 8192);
	assert_int_equal(c.format, 2);
	assert_string_equal(c.since.text, "2h");
	assert_true(c.since.ns == 7200ULL * 1000000000ULL);
	/* options before and after positionals, "--name=value" and "--name value" alike */
	memset(&c, 0, sizeof(c));
	assert_int_equal(parse(cmd_spec, "--json /y --policy=p", &c, 0, err), 0);
	assert_string_equal(c.where, "/y");
	assert_string_equal(c.policy, "p");
}

static void test_ranges_and_values(void **state)
{
	struct cmd c = {};
	char err[ERRBUF_LEN];

	assert_int_equal(parse(cmd_spec, "--max-rules 0", &c, 0, err), -EDOM);
	assert_string_equal(err, "invalid --max-rules '0': 1 to 1000");
	assert_int_equal(parse(cmd_spec, "--max-rules 1001", &c, 0, err), -EDOM);
	assert_int_equal(parse(cmd_spec, "--max-rules 12x", &c, 0, err), -EDOM);
	assert_int_equal(parse(cmd_spec, "--max-rules -1", &c, 0, err), -EDOM);
	assert_int_equal(parse(cmd_spec, "--ringbuf-size 5000", &c, 0, err), -EDOM);
	assert_string_equal(err, "invalid --ringbuf-size '5000': a power of 2, 4096 to 1073741824");
	assert_int_equal(parse(cmd_spec, "--ringbuf-size 2048", &c, 0, err), -EDOM);
	assert_int_equal(parse(cmd_spec, "--format xml", &c, 0, err), -EDOM);
	assert_string_equal(err, "invalid --format 'xml': expected json, text or hint");
	assert_int_equal(parse(cmd_spec, "--since 5x", &c, 0, err), -EDOM);
	assert_string_equal(err, "--since: invalid duration '5x': a positive number and a unit, like "
			    "30s, 10m, 2h or 1d");
	assert_int_equal(parse(cmd_spec, "--since 0s", &c, 0, err), -EDOM);
	assert_int_equal(parse(cmd_spec, "--json=yes", &c, 0, err), -EINVAL);
	assert_string_equal(err, "option '--json' takes no value");
	assert_int_equal(parse(cmd_spec, "--policy", &c, 0, err), -EINVAL);
	assert_string_equal(err, "option '--policy' needs a value");
	/* the next word is an option of the table: the value is missing */
	assert_int_equal(parse(cmd_spec, "--policy --json", &c, 0, err), -EINVAL);
	assert_string_equal(err, "option '--policy' needs a value");
	/* an empty value is a value (the command decides) */
	memset(&c, 0, sizeof(c));
	assert_int_equal(parse(cmd_spec, "--policy=", &c, 0, err), 0);
	assert_string_equal(c.policy, "");
}

static void test_repeated_refused(void **state)
{
	struct cmd c = {};
	char err[ERRBUF_LEN];

	assert_int_equal(parse(cmd_spec, "--json --json", &c, 0, err), -EINVAL);
	assert_string_equal(err, "option '--json' is given twice (give it once)");
	assert_int_equal(parse(cmd_spec, "--policy a --policy=b", &c, 0, err), -EINVAL);
	assert_contains(err, "'--policy' is given twice");
	/* a default is not "given" */
	assert_int_equal(parse(cmd_spec, "--max-rules 5", &c, 0, err), 0);
	/* egressd: a later one wins, as with getopt_long */
	memset(&c, 0, sizeof(c));
	assert_int_equal(parse(cmd_spec, "--policy a --max-rules 5 --policy=b --max-rules 7", &c,
			       OPTS_LAST_WINS, err), 0);
	assert_string_equal(c.policy, "b");
	assert_int_equal(c.rules, 7);
	/* and is still checked */
	assert_int_equal(parse(cmd_spec, "--max-rules 5 --max-rules 0", &c, OPTS_LAST_WINS, err), -EDOM);
}

static void test_unknown_with_suggestion(void **state)
{
	struct cmd c = {};
	char err[ERRBUF_LEN];

	assert_int_equal(parse(cmd_spec, "--polcy x", &c, 0, err), -EINVAL);
	assert_string_equal(err, "unknown option '--polcy' (did you mean '--policy'?)");
	assert_int_equal(parse(cmd_spec, "--jsno", &c, 0, err), -EINVAL);
	assert_string_equal(err, "unknown option '--jsno' (did you mean '--json'?)");
	assert_int_equal(parse(cmd_spec, "--max-r=5", &c, 0, err), -EINVAL);
	assert_string_equal(err, "unknown option '--max-r=5' (did you mean '--max-rules'?)");
	assert_int_equal(parse(cmd_spec, "--zzzzzz", &c, 0, err), -EINVAL);
	assert_string_equal(err, "unknown option '--zzzzzz'");
	assert_int_equal(parse(cmd_spec, "-x", &c, 0, err), -EINVAL);
	assert_string_equal(err, "unknown option '-x'");
	/* whole names only, unless the caller allows unique prefixes (egressd) */
	memset(&c, 0, sizeof(c));
	assert_int_equal(parse(cmd_spec, "--max-r 5", &c, OPTS_PREFIX, err), 0);
	assert_int_equal(c.rules, 5);
	assert_int_equal(parse(cmd_spec, "--js", &c, OPTS_PREFIX, err), 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(parse(cmd_spec, "--r 8192", &c, OPTS_PREFIX, err), 0);
	assert_int_equal(c.ring, 8192);
	{	/* a prefix of two names names neither */
		struct two {
			uint32_t a, b;
		} t = {};
		static const struct opt_spec two_spec[] = {
			OPTION_U32(struct two, a, "max-rules", "N", 0, 9, "a"),
			OPTION_U32(struct two, b, "max-seen", "N", 0, 9, "b"),
			OPTION_END,
		};

		assert_int_equal(parse(two_spec, "--max 5", &t, OPTS_PREFIX, err), -EINVAL);
		assert_int_equal(parse(two_spec, "--max-s 5", &t, OPTS_PREFIX, err), 0);
		assert_int_equal(t.b, 5);
	}
	assert_string_equal(opts_closest("atach", (const char *const[]){ "attach", "detach" }, 2), "attach");
	assert_null(opts_closest("zzz", (const char *const[]){ "attach", "detach" }, 2));
}

static void test_positionals(void **state)
{
	struct cmd c = {};
	char err[ERRBUF_LEN];

	assert_int_equal(parse(cmd_spec, "/a /b", &c, 0, err), -EINVAL);
	assert_string_equal(err, "unexpected argument '/b'");
	/* "-" is a positional, "--" ends the options */
	memset(&c, 0, sizeof(c));
	assert_int_equal(parse(cmd_spec, "-", &c, 0, err), 0);
	assert_string_equal(c.where, "-");
	memset(&c, 0, sizeof(c));
	assert_int_equal(parse(cmd_spec, "-- --json", &c, 0, err), 0);
	assert_string_equal(c.where, "--json");
	assert_false(c.json);
}

/* run: the first positional (CMD) ends the options; what follows it is CMD's */
struct run {
	const char *policy, *parent;
	bool json;
	struct opt_rest cmd;
};
static const struct opt_spec run_spec[] = {
	OPTION_STR(struct run, policy, "policy", "NAME", "the policy"),
	OPTION_STR(struct run, parent, "cgroup-parent", "DIR", "where"),
	OPTION_FLAG(struct run, json, "json", "json"),
	OPTION_POS(struct run, cmd, "[--] CMD [ARG...]", NULL, .flags = OPT_REST | OPT_STOP),
	OPTION_END,
};

static void test_rest_stops_at_command(void **state)
{
	char err[ERRBUF_LEN], **argv;
	struct run r = {};
	int argc;

	/* issue 16: 'run --policy free CMD ARGS --policy=pro' ran CMD under pro */
	argv = words("--policy free python3 x.py --policy=pro", &argc);
	assert_int_equal(opts_parse(run_spec, argc, argv, &r, 0, err, sizeof(err)), 0);
	assert_string_equal(r.policy, "free");
	assert_int_equal(r.cmd.n, 3);
	assert_string_equal(r.cmd.v[0], "python3");
	assert_string_equal(r.cmd.v[1], "x.py");
	assert_string_equal(r.cmd.v[2], "--policy=pro");
	assert_null(r.cmd.v[3]);
	free(argv);

	/* CMD's own options stay CMD's; '--' still works */
	memset(&r, 0, sizeof(r));
	argv = words("--cgroup-parent /x -- ls --json -l", &argc);
	assert_int_equal(opts_parse(run_spec, argc, argv, &r, 0, err, sizeof(err)), 0);
	assert_string_equal(r.parent, "/x");
	assert_false(r.json);
	assert_int_equal(r.cmd.n, 3);
	assert_string_equal(r.cmd.v[1], "--json");
	free(argv);
	memset(&r, 0, sizeof(r));
	argv = words("ls --help", &argc);
	assert_int_equal(opts_parse(run_spec, argc, argv, &r, 0, err, sizeof(err)), 0);
	assert_int_equal(r.cmd.n, 2);
	free(argv);

	/* before CMD, a second --policy is refused */
	memset(&r, 0, sizeof(r));
	argv = words("--policy free --policy=pro python3", &argc);
	assert_int_equal(opts_parse(run_spec, argc, argv, &r, 0, err, sizeof(err)), -EINVAL);
	assert_contains(err, "'--policy' is given twice");
	free(argv);
	/* no CMD: n is 0 (the command says what is missing) */
	memset(&r, 0, sizeof(r));
	argv = words("--policy free", &argc);
	assert_int_equal(opts_parse(run_spec, argc, argv, &r, 0, err, sizeof(err)), 0);
	assert_int_equal(r.cmd.n, 0);
	free(argv);
}

static void test_help_wins(void **state)
{
	struct cmd c = {};
	struct run r = {};
	char err[ERRBUF_LEN];

	assert_int_equal(parse(cmd_spec, "--help", &c, 0, err), OPTS_HELP);
	assert_int_equal(parse(cmd_spec, "-h", &c, 0, err), OPTS_HELP);
	assert_int_equal(parse(cmd_spec, "/a /b --help", &c, 0, err), OPTS_HELP);
	assert_int_equal(parse(cmd_spec, "--bogus --help", &c, 0, err), OPTS_HELP);
	assert_int_equal(parse(cmd_spec, "--max-rules 0 --help", &c, 0, err), OPTS_HELP);
	/* after "--" it is a positional */
	assert_int_equal(parse(cmd_spec, "--bogus -- --help", &c, 0, err), -EINVAL);
	/* run: a --help after CMD is CMD's, even after an error before it */
	{
		struct runh {
			bool help;
			struct opt_rest cmd;
		} rh = {};
		static const struct opt_spec runh_spec[] = {
			OPTION_FLAG(struct runh, help, "help", "this help"),
			OPTION_POS(struct runh, cmd, "CMD", NULL, .flags = OPT_REST | OPT_STOP),
			OPTION_END,
		};

		assert_int_equal(parse(runh_spec, "--bogus sh --help", &rh, 0, err), -EINVAL);
		assert_int_equal(parse(runh_spec, "--bogus --help sh", &rh, 0, err), OPTS_HELP);
		memset(&rh, 0, sizeof(rh));
		assert_int_equal(parse(runh_spec, "sh --help", &rh, 0, err), 0);
		assert_false(rh.help);
		assert_int_equal(rh.cmd.n, 2);
	}
	/* a table without "help" (policy-file lines): an unknown option */
	assert_int_equal(parse(run_spec, "--help", &r, 0, err), -EINVAL);
	assert_string_equal(err, "unknown option '--help'");
}

static char *usage_of(const struct opt_spec *spec, bool synopsis, const char *cmd, bool common)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (synopsis)
		opts_synopsis(f, cmd, spec, common);
	else
		opts_usage(f, spec);
	fclose(f);
	return buf;
}

struct cmn {
	const char *name, *pin;
	bool help;
};
static const struct opt_spec cmn_spec[] = {
	OPTION_POS(struct cmn, name, "NAME", NULL),
	OPTION_STR(struct cmn, name, "file", "FILE", "the file", .short_name = 'f', .flags = OPT_REQUIRED),
	OPTION_STR(struct cmn, pin, "pin-dir", "DIR", "pins", .flags = OPT_COMMON),
	OPTION_FLAG(struct cmn, help, "help", "this help", .flags = OPT_COMMON),
	OPTION_STR(struct cmn, pin, "secret", "S", "never shown", .flags = OPT_HIDDEN),
	OPTION_END,
};

static void test_usage_from_table(void **state)
{
	char *u = usage_of(cmd_spec, false, NULL, false);

	assert_string_equal(u,
		"  DIR                  a directory\n"
		"  --policy NAME        the policy (default: default)\n"
		"  --json               as JSON\n"
		"  --max-rules N        rules per policy (default: 100)\n"
		"  --ringbuf-size BYTES a power of 2 (default: 4096)\n"
		"  --format F           json, text or hint (default: json)\n"
		"  --since DURATION     the last DURATION\n"
		"  -h, --help           this help\n");
	free(u);
	u = usage_of(cmd_spec, true, "cmd", false);
	assert_string_equal(u, "cmd DIR [--policy NAME] [--json] [--max-rules N] [--ringbuf-size BYTES] "
			    "[--format json|text|hint] [--since DURATION]");
	free(u);
	/* continuation lines align; a long name gets two spaces; a default that does not fit wraps */
	{
		struct w {
			const char *a;
			uint32_t b;
		};
		static const struct opt_spec w_spec[] = {
			OPTION_STR(struct w, a, "metrics-cgroup-limit", "N", "first line\nsecond line"),
			OPTION_U32(struct w, b, "b", "N", 0, 9,
				   "a help line long enough that its default goes on a line of its own",
				   .def = "5"),
			OPTION_END,
		};

		u = usage_of(w_spec, false, NULL, false);
		assert_string_equal(u,
			"  --metrics-cgroup-limit N  first line\n"
			"                       second line\n"
			"  --b N                a help line long enough that its default goes on a line of its own\n"
			"                       (default: 5)\n");
		free(u);
	}
	/* required options bare, short names in the synopsis; common ones on demand; hidden never */
	u = usage_of(cmn_spec, true, "apply", false);
	assert_string_equal(u, "apply NAME -f FILE");
	free(u);
	u = usage_of(cmn_spec, true, "apply", true);
	assert_string_equal(u, "apply NAME -f FILE [--pin-dir DIR]");
	free(u);
	u = usage_of(cmn_spec, false, NULL, false);
	assert_string_equal(u,
		"  -f, --file FILE      the file\n"
		"  --pin-dir DIR        pins\n"
		"  --help               this help\n");
	free(u);
	u = usage_of(run_spec, true, "run", false);
	assert_string_equal(u, "run [--policy NAME] [--cgroup-parent DIR] [--json] [--] CMD [ARG...]");
	free(u);
}

/* cmdline.c's words, included in a command's table and alone (policy-file lines). */
static void test_included_tables(void **state)
{
	struct outer {
		struct rule_words w;
		const char *pin;
	} o = {};
	static const struct opt_spec outer_spec[] = {
		OPTION_INCLUDE(struct outer, w, rule_words_spec),
		OPTION_STR(struct outer, pin, "pin-dir", "DIR", "pins"),
		OPTION_END,
	};
	struct policy_words pw = POLICY_WORDS_INIT;
	char err[ERRBUF_LEN];

	assert_int_equal(parse(outer_spec, "10.0.0.0/8 --pin-dir /p --port 80 --policy free", &o, 0, err), 0);
	assert_string_equal(o.w.cidr, "10.0.0.0/8");
	assert_string_equal(o.w.port, "80");
	assert_string_equal(o.w.policy, "free");
	assert_string_equal(o.pin, "/p");
	assert_null(o.w.proto);
	/* a policy file's words: no --pin-dir there */
	memset(&o, 0, sizeof(o));
	assert_int_equal(parse(rule_words_spec, "10.0.0.0/8 --pin-dir /p", &o.w, 0, err), -EINVAL);
	assert_string_equal(err, "unknown option '--pin-dir'");
	/* enums: -1 until given */
	assert_int_equal(parse(policy_words_spec, "web", &pw, 0, err), 0);
	assert_int_equal(pw.ping, -1);
	assert_int_equal(pw.mode, -1);
	assert_int_equal(parse(policy_words_spec, "web --mode audit --ping deny", &pw, 0, err), 0);
	assert_int_equal(pw.mode, POLICY_MODE_AUDIT);
	assert_int_equal(pw.ping, POLICY_PING_DENY);
}

const struct CMUnitTest options_tests[] = {
	cmocka_unit_test(test_defaults_and_types),
	cmocka_unit_test(test_ranges_and_values),
	cmocka_unit_test(test_repeated_refused),
	cmocka_unit_test(test_unknown_with_suggestion),
	cmocka_unit_test(test_positionals),
	cmocka_unit_test(test_rest_stops_at_command),
	cmocka_unit_test(test_help_wins),
	cmocka_unit_test(test_usage_from_table),
	cmocka_unit_test(test_included_tables),
};

UNIT_GROUP(options)

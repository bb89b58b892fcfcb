// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * options.c - typed option tables: parsing, validation and usage text (see
 * options.h).
 *
 * Not getopt_long: it takes any unique prefix of a long name and cannot be
 * told not to (a policy file's words, and egressctl's, are whole names),
 * it keeps its state in globals, and a repeated option, a value out of its
 * range or a "did you mean" would all be done around it anyway.
 */
#include <errno.h>
#include <string.h>

#include "options.h"
#include "parse.h"

#define OPTS_MAX 48		/* entries of one table, includes flattened */

#define fail(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

struct flat {
	const struct opt_spec *s;
	size_t off;		/* from the start of the command's struct */
};

static size_t flatten(const struct opt_spec *spec, size_t base, struct flat *v, size_t n)
{
	for (; spec && spec->type != OPT_END && n < OPTS_MAX; spec++) {
		if (spec->type == OPT_INCLUDE) {
			n = flatten(spec->sub, base + spec->off, v, n);
			continue;
		}
		v[n].s = spec;
		v[n++].off = base + spec->off;
	}
	return n;
}

/* Edit distance, for "did you mean": insertions, deletions, substitutions, transpositions. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[32][32];

	if (la >= 31 || lb >= 31)
		return 64;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *opts_closest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bestd = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, names[i]);

		if (*word && !strncmp(names[i], word, strlen(word)) && strlen(word) >= 2)
			d = d < 1 ? d : 1;
		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	return best;
}

int parse_duration(const char *s, uint64_t *ns, char *err, size_t errlen)
{
	static const struct { char unit; uint64_t sec; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	size_t n = s ? strlen(s) : 0;
	char num[16];
	uint32_t v;

	if (n >= 2 && n < sizeof(num)) {
		memcpy(num, s, n - 1);
		num[n - 1] = '\0';
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			/* at most 100 years: nanoseconds stay far from overflow */
			if (s[n - 1] == units[i].unit && !parse_u32(num, 1, 3650000, &v) &&
			    v * units[i].sec <= 36500ULL * 86400) {
				*ns = v * units[i].sec * 1000000000ULL;
				return 0;
			}
		}
	}
	fail("invalid duration '%.32s': a positive number and a unit, like 30s, 10m, 2h or 1d", s ? s : "");
}

/* "a, b or c" */
static void choices_str(const char *const *c, const char *sep, const char *last, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; c[i] && o < len; i++)
		o += snprintf(buf + o, len - o, "%s%s", i == 0 ? "" : c[i + 1] ? sep : last, c[i]);
}

/* A value that is not one the option takes: -EDOM (the line names the option and the fix). */
#define bad_value(...) do { snprintf(err, errlen, __VA_ARGS__); return -EDOM; } while (0)

static int set_value(const struct flat *f, const char *val, void *out, char *err, size_t errlen)
{
	const struct opt_spec *s = f->s;
	char *dst = (char *)out + f->off;

	switch (s->type) {
	case OPT_FLAG:
		*(bool *)dst = true;
		return 0;
	case OPT_STR:
	case OPT_POS:
		*(const char **)dst = val;
		return 0;
	case OPT_U32: {
		uint32_t v;

		if (parse_u32(val, s->min, s->max, &v) || ((s->flags & OPT_POW2) && (v & (v - 1))))
			bad_value("invalid --%s '%s': %s%u to %u", s->name, val,
			     s->flags & OPT_POW2 ? "a power of 2, " : "", s->min, s->max);
		*(uint32_t *)dst = v;
		return 0;
	}
	case OPT_ENUM:
		for (int i = 0; s->choices[i]; i++) {
			if (!strcmp(val, s->choices[i])) {
				*(int *)dst = i;
				return 0;
			}
		}
		{
			char c[256];

			choices_str(s->choices, ", ", " or ", c, sizeof(c));
			bad_value("invalid --%s '%s': expected %s", s->name, val, c);
		}
	case OPT_DURATION: {
		struct opt_duration *d = (struct opt_duration *)dst;
		char why[256];

		if (parse_duration(val, &d->ns, why, sizeof(why)))
			bad_value("--%s: %s", s->name, why);
		d->text = val;
		return 0;
	}
	default:
		fail("option '--%s': no such type", s->name);
	}
}

static const struct flat *find_long(const struct flat *v, size_t n, const char *name, size_t len,
				    unsigned int flags)
{
	const struct flat *hit = NULL;
	int hits = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i].s->type != OPT_POS && strlen(v[i].s->name) == len &&
		    !strncmp(name, v[i].s->name, len))
			return &v[i];
	if (!(flags & OPTS_PREFIX) || !len)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (v[i].s->type != OPT_POS && !strncmp(name, v[i].s->name, len)) {
			hit = &v[i];
			hits++;
		}
	}
	return hits == 1 ? hit : NULL;
}

static const struct flat *find_short(const struct flat *v, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].s->type != OPT_POS && v[i].s->short_name == c)
			return &v[i];
	/* -h: --help, wherever a table has one */
	return c == 'h' ? find_long(v, n, "help", 4, 0) : NULL;
}

static bool is_help(const struct flat *f)
{
	return f && f->s->type == OPT_FLAG && !strcmp(f->s->name, "help");
}

/* After an error: a --help further on still wins (not one of run's CMD, after stop). */
static bool help_later(const struct flat *v, size_t n, int argc, char **argv, int from, bool stop)
{
	for (int i = from; i < argc && strcmp(argv[i], "--") && !(stop && argv[i][0] != '-'); i++)
		if (!strcmp(argv[i], "--help") || (!strcmp(argv[i], "-h") && find_short(v, n, 'h')))
			return is_help(find_long(v, n, "help", 4, 0));
	return false;
}

static int unknown(const struct flat *v, size_t n, const char *a, char *err, size_t errlen)
{
	const char *names[OPTS_MAX], *near;
	const char *name = a + strspn(a, "-");
	size_t nn = 0;
	char word[64];

	for (size_t i = 0; i < n; i++)
		if (v[i].s->type != OPT_POS && !(v[i].s->flags & OPT_HIDDEN))
			names[nn++] = v[i].s->name;
	snprintf(word, sizeof(word), "%.*s", (int)strcspn(name, "="), name);
	near = a[0] == '-' && a[1] == '-' ? opts_closest(word, names, nn) : NULL;
	if (near)
		fail("unknown option '%s' (did you mean '--%s'?)", a, near);
	fail("unknown option '%s'", a);
}

static int parse_one(const struct flat *v, size_t n, bool *seen, int argc, char **argv, int *i,
		     void *out, unsigned int flags, char *err, size_t errlen)
{
	const char *a = argv[*i], *eq = NULL, *val;
	const struct flat *f;

	if (a[1] != '-') {
		f = a[2] ? NULL : find_short(v, n, a[1]);
	} else {
		eq = strchr(a, '=');
		f = find_long(v, n, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2), flags);
	}
	if (!f)
		return unknown(v, n, a, err, errlen);
	if (seen[f - v] && !(flags & OPTS_LAST_WINS))
		fail("option '--%s' is given twice (give it once)", f->s->name);
	seen[f - v] = true;
	if (f->s->type == OPT_FLAG) {
		if (eq)
			fail("option '--%s' takes no value", f->s->name);
		return set_value(f, NULL, out, err, errlen);
	}
	if (eq) {
		val = eq + 1;
	} else {
		/* "--port --policy x": the value is missing, not "--policy" */
		bool missing = *i + 1 == argc || (!strncmp(argv[*i + 1], "--", 2) &&
			find_long(v, n, argv[*i + 1] + 2, strcspn(argv[*i + 1] + 2, "="), 0));

		if (missing && a[1] != '-')
			fail("-%c needs a %s: %s", a[1], f->s->arg, f->s->help ? f->s->help : "a value");
		if (missing)
			fail("option '--%s' needs a value", f->s->name);
		val = argv[++*i];
	}
	return set_value(f, val, out, err, errlen);
}

int opts_parse(const struct opt_spec *spec, int argc, char **argv, void *out, unsigned int flags,
	       char *err, size_t errlen)
{
	struct flat v[OPTS_MAX];
	size_t n = flatten(spec, 0, v, 0), p = 0;
	bool seen[OPTS_MAX] = {}, only_pos = false, stop = false;
	int npos = 0, ret = 0;

	for (size_t k = 0; k < n; k++) {
		stop |= (v[k].s->flags & OPT_STOP) != 0;
		if (v[k].s->def && set_value(&v[k], v[k].s->def, out, err, errlen))
			return -EDOM;	/* a table's own default: a bug the unit tests catch */
	}
	for (int i = 0; i < argc && !ret; i++) {
		const char *a = argv[i];

		if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
			argv[npos++] = argv[i];	/* positionals to the front, in order */
			/* CMD's own options are CMD's: nothing after it is ours */
			only_pos |= stop;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = true;
			continue;
		}
		ret = parse_one(v, n, seen, argc, argv, &i, out, flags, err, errlen);
		if (ret && help_later(v, n, argc, argv, i + 1, stop))
			return OPTS_HELP;
	}
	for (size_t k = 0; k < n; k++)
		if (seen[k] && is_help(&v[k]))
			return OPTS_HELP;
	if (ret)
		return ret;
	if (npos < argc)
		argv[npos] = NULL;
	for (size_t k = 0; k < n; k++) {
		struct opt_rest *r;

		if (v[k].s->type != OPT_POS)
			continue;
		if (!(v[k].s->flags & OPT_REST)) {
			if (p < (size_t)npos)
				*(const char **)((char *)out + v[k].off) = argv[p++];
			continue;
		}
		r = (struct opt_rest *)((char *)out + v[k].off);
		r->v = argv + p;
		r->n = npos - p;
		p = npos;
	}
	if (p < (size_t)npos)
		fail("unexpected argument '%s'", argv[p]);
	return 0;
}

/* "--port N|N-M", "-f, --file FILE", "CIDR"; in a synopsis "-f FILE", "--format json|text" */
static void left_col(const struct opt_spec *s, bool synopsis, char *buf, size_t len)
{
	char c[128];
	const char *sp;

	if (s->type == OPT_POS) {
		snprintf(buf, len, "%s", s->name);
		return;
	}
	if (synopsis && s->type == OPT_ENUM)
		choices_str(s->choices, "|", "|", c, sizeof(c));
	else
		snprintf(c, sizeof(c), "%s", s->arg ? s->arg : "");
	sp = c[0] ? " " : "";
	if (synopsis && s->short_name)
		snprintf(buf, len, "-%c%s%s", s->short_name, sp, c);
	else if (s->short_name)
		snprintf(buf, len, "-%c, --%s%s%s", s->short_name, s->name, sp, c);
	else
		snprintf(buf, len, "--%s%s%s", s->name, sp, c);
}

void opts_synopsis(FILE *f, const char *cmd, const struct opt_spec *spec, bool common)
{
	struct flat v[OPTS_MAX];
	size_t n = flatten(spec, 0, v, 0);

	fputs(cmd, f);
	for (size_t i = 0; i < n; i++) {
		const struct opt_spec *s = v[i].s;
		char col[192];
		bool bare = s->type == OPT_POS ? !(s->flags & OPT_OPTIONAL) : (s->flags & OPT_REQUIRED);

		if ((s->flags & OPT_HIDDEN) || ((s->flags & OPT_COMMON) && !common) ||
		    (s->type == OPT_FLAG && !strcmp(s->name, "help")))
			continue;
		left_col(s, true, col, sizeof(col));
		fprintf(f, bare ? " %s" : " [%s]", col);
	}
}

#define HELP_COL 23	/* "  " + 20 + " " */
#define HELP_WIDTH 92	/* a default goes on a line of its own past this */

void opts_usage(FILE *f, const struct opt_spec *spec)
{
	struct flat v[OPTS_MAX];
	size_t n = flatten(spec, 0, v, 0);

	for (size_t i = 0; i < n; i++) {
		const struct opt_spec *s = v[i].s;
		const char *last;
		char col[192];

		if (!s->help || (s->flags & OPT_HIDDEN))
			continue;
		left_col(s, false, col, sizeof(col));
		fprintf(f, strlen(col) > 20 ? "  %s  " : "  %-20s ", col);
		for (const char *h = s->help; *h; h++) {
			if (*h == '\n')
				fprintf(f, "\n%*s", HELP_COL, "");
			else
				fputc(*h, f);
		}
		last = strrchr(s->help, '\n');
		last = last ? last + 1 : s->help;
		if (s->def) {
			bool wrap = HELP_COL + strlen(last) + strlen(s->def) + 12 > HELP_WIDTH;

			fprintf(f, "%s%*s(default: %s)", wrap ? "\n" : " ", wrap ? HELP_COL : 0, "", s->def);
		}
		fputc('\n', f);
	}
}

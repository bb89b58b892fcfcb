/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * options.h - typed option tables, for egressd, egressctl's commands and
 * the lines of policy files (cmdline.c).  A command declares its options as
 * data (name, type, range, default, help); parsing, validation and the usage
 * text all come from that table.  Included by user/ code and the unit tests.
 *
 * The values go into the command's own struct, at each entry's offset:
 *   OPT_FLAG      bool             "--name"
 *   OPT_STR       const char *     "--name VALUE", "--name=VALUE"
 *   OPT_U32       uint32_t         a decimal number, min to max (OPT_POW2: a power of 2)
 *   OPT_ENUM      int              the index of one of choices[]
 *   OPT_DURATION  struct opt_duration  30s, 10m, 2h or 1d, and its nanoseconds
 *   OPT_POS       const char *     a positional argument, in table order
 *                 struct opt_rest  with OPT_REST: every positional left
 * An option given twice, an unknown option (with the nearest name as "did
 * you mean") and a positional too many are errors.
 */
#ifndef EGRESS_OPTIONS_H
#define EGRESS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opt_type { OPT_END, OPT_FLAG, OPT_STR, OPT_U32, OPT_ENUM, OPT_DURATION, OPT_POS, OPT_INCLUDE };

/* opt_spec.flags */
#define OPT_POW2	0x01	/* OPT_U32: a power of 2 */
#define OPT_REQUIRED	0x02	/* written without [] in the synopsis (the command checks) */
#define OPT_OPTIONAL	0x04	/* OPT_POS: written in [] in the synopsis */
#define OPT_REST	0x08	/* OPT_POS: every positional from here on (struct opt_rest) */
#define OPT_STOP	0x10	/* OPT_POS with OPT_REST: the first positional ends the options */
#define OPT_COMMON	0x20	/* every command's (--pin-dir, --help): in a synopsis on demand */
#define OPT_HIDDEN	0x40	/* neither in the synopsis nor in the option list */

struct opt_spec {
	enum opt_type type;
	const char *name;		/* "pin-dir" for --pin-dir; OPT_POS: "CIDR" */
	char short_name;		/* 'f' for -f, or 0 */
	size_t off;			/* where the value goes */
	const char *arg;		/* the value in the option list: "DIR", "N" */
	const char *help;		/* one line; '\n' continues it; NULL: not listed */
	const char *def;		/* the default, as a command line gives it: set first, listed */
	uint32_t min, max;		/* OPT_U32 */
	const char *const *choices;	/* OPT_ENUM: NULL-terminated */
	const struct opt_spec *sub;	/* OPT_INCLUDE: its entries, at off + their offsets */
	unsigned int flags;
};

struct opt_duration {
	const char *text;	/* as given */
	uint64_t ns;
};

struct opt_rest {
	char **v;		/* NULL-terminated, in argv */
	int n;
};

#define OPT_ENTRY(T, f, ...) { .off = offsetof(T, f), __VA_ARGS__ }
#define OPTION_FLAG(T, f, nm, hl, ...) OPT_ENTRY(T, f, .type = OPT_FLAG, .name = nm, .help = hl, __VA_ARGS__)
#define OPTION_STR(T, f, nm, ar, hl, ...) OPT_ENTRY(T, f, .type = OPT_STR, .name = nm, .arg = ar, .help = hl, __VA_ARGS__)
#define OPTION_U32(T, f, nm, ar, lo, hi, hl, ...) \
	OPT_ENTRY(T, f, .type = OPT_U32, .name = nm, .arg = ar, .min = lo, .max = hi, .help = hl, __VA_ARGS__)
#define OPTION_ENUM(T, f, nm, ar, ch, hl, ...) \
	OPT_ENTRY(T, f, .type = OPT_ENUM, .name = nm, .arg = ar, .choices = ch, .help = hl, __VA_ARGS__)
#define OPTION_DURATION(T, f, nm, ar, hl, ...) \
	OPT_ENTRY(T, f, .type = OPT_DURATION, .name = nm, .arg = ar, .help = hl, __VA_ARGS__)
#define OPTION_POS(T, f, nm, hl, ...) OPT_ENTRY(T, f, .type = OPT_POS, .name = nm, .help = hl, __VA_ARGS__)
#define OPTION_INCLUDE(T, f, tbl) OPT_ENTRY(T, f, .type = OPT_INCLUDE, .sub = tbl)
#define OPTION_END { .type = OPT_END }

/* opts_parse's flags */
#define OPTS_PREFIX	0x01	/* a unique prefix names an option (egressd, as getopt_long did) */
#define OPTS_LAST_WINS	0x02	/* an option given again replaces the value (egressd, as getopt_long did) */

enum { OPTS_OK = 0, OPTS_HELP = 1 };

/*
 * Parses argv (argv[0] is the first argument, not the program) into out by
 * spec: the defaults first, then the options and positionals.  An option
 * given twice is refused unless OPTS_LAST_WINS.  argv is
 * reordered: positionals move to its front.  "--" ends the options.  An
 * option named "help" given (or "-h") returns OPTS_HELP before any error.
 * Fields of options not given keep their value.  Errors return one line in
 * err: -EINVAL for the words ("unknown option '--polcy' (did you mean
 * '--policy'?)", "option '--port' is given twice (give it once)"), -EDOM
 * for a value the option does not take ("invalid --max-rules '0': 1 to
 * 10000000").
 */
int opts_parse(const struct opt_spec *spec, int argc, char **argv, void *out, unsigned int flags,
	       char *err, size_t errlen);

/*
 * The command's synopsis, "allow CIDR [--proto tcp|udp|any] [--port N|N-M]
 * [--policy NAME]", with common: and the OPT_COMMON options (--help never).
 */
void opts_synopsis(FILE *f, const char *cmd, const struct opt_spec *spec, bool common);
/*
 * The option list, one entry a line: "  --port N|N-M         help (default: X)",
 * continuation lines aligned under the help.
 */
void opts_usage(FILE *f, const struct opt_spec *spec);

/* The name nearest to word (a prefix, or at most 2 edits), or NULL: "did you mean". */
const char *opts_closest(const char *word, const char *const *names, size_t n);

/* "30s", "10m", "2h", "1d": nanoseconds, at most 100 years. */
int parse_duration(const char *s, uint64_t *ns, char *err, size_t errlen);

#endif

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * egressctl - edits egress's policies and bindings live, through the pinned
 * maps (egressd need not run).  Writers serialise on the pin directory's
 * lock; a policy change reaches the kernel whole (see state_policy_store).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include <sys/socket.h>
#include <sys/un.h>

#include "advise.h"
#include "cgroup.h"
#include "cmdline.h"
#include "events.h"
#include "follow.h"
#include "oci.h"
#include "policyset.h"
#include "revoke.h"
#include "state.h"

#ifndef EGRESS_VERSION
#define EGRESS_VERSION "dev"
#endif

static const char *cmd_name = "egressctl";

static int die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "egressctl: %s: ", cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

/* Options every command takes. */
struct common {
	const char *pin_dir;
	bool help;
};
#define COMMON_OPTS(c) { "pin-dir", true, &(c).pin_dir, NULL }, { "help", false, NULL, &(c).help }

/*
 * Each command's help: usage, one line of what it does, every option with
 * its default, and where it helps the file format and an example.  The
 * top-level help lists the usage lines.
 */
struct cmd_help {
	const char *key, *usage, *what, *opts, *more;
};
#define PIN_HELP "  --pin-dir DIR        the pin directory (default: $EGRESS_PIN_DIR, else " EGRESS_DEFAULT_PIN_DIR ")\n"
#define RULE_OPTS \
	"  CIDR                 an IPv4 or IPv6 network without host bits: 192.0.2.10/32, 10.0.0.0/8,\n" \
	"                       2001:db8::/32 (an address alone is /32 or /128)\n" \
	"  --proto tcp|udp|any  the protocol (default: any)\n" \
	"  --port N|N-M         a port or a range, 1-65535 (default: any port)\n" \
	"  --policy NAME        the policy (default: default)\n"
#define POLICY_OPTS \
	"  --default allow|deny the verdict when no rule matches (default: deny on add, unchanged on set)\n" \
	"  --errno NAME         the error of denials (default: EPERM on add, unchanged on set): EPERM,\n" \
	"                       EACCES, ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ECONNRESET,\n" \
	"                       ETIMEDOUT, EADDRNOTAVAIL, ENETDOWN\n" \
	"  --hint TEMPLATE      the message for the sandbox's user (default: none on add, events carry\n" \
	"                       a generic hint; unchanged on set), with {dst} {dport} {proto} {policy}\n" \
	"                       {comm} {pid}\n" \
	"  --ping allow|deny    ICMP ping sockets under a deny-default policy (default: deny on add,\n" \
	"                       unchanged on set)\n" \
	"  --mode enforce|audit (default: enforce on add, unchanged on set) audit never denies: what\n" \
	"                       the policy would deny is allowed, counted and logged with verdict\n" \
	"                       audit; a switch to enforce resets established connections it denies\n"
static const struct cmd_help helps[] = {
	{ "allow", "allow CIDR [--proto tcp|udp|any] [--port N|N-M] [--policy NAME]",
	  "Adds an allow rule; a rule with the same CIDR, protocol and ports changes its action.",
	  RULE_OPTS, "example: egressctl allow 192.0.2.10/32 --proto tcp --port 3128 --policy free\n" },
	{ "deny", "deny CIDR [--proto tcp|udp|any] [--port N|N-M] [--policy NAME]",
	  "Adds a deny rule; a rule with the same CIDR, protocol and ports changes its action.",
	  RULE_OPTS, "example: egressctl deny 169.254.169.254/32 --policy pro\n" },
	{ "remove", "remove CIDR [--proto tcp|udp|any] [--port N|N-M] [--policy NAME]",
	  "Removes the rule with exactly that CIDR, protocol and ports, whatever its action.",
	  RULE_OPTS, NULL },
	{ "list", "list [--policy NAME] [--json]",
	  "Prints a policy's rules (columns ACTION CIDR PROTO PORT POLICY).",
	  "  --policy NAME        the policy (default: default)\n"
	  "  --json               a JSON array of {action, cidr, proto, port, policy}\n", NULL },
	{ "policy add", "policy add NAME [--default allow|deny] [--errno NAME] [--hint TEMPLATE] [--ping allow|deny] [--mode enforce|audit]",
	  "Creates an empty policy.", POLICY_OPTS,
	  "example: egressctl policy add free --default deny --hint 'Use the proxy to reach {dst}.'\n" },
	{ "policy set", "policy set NAME [--default allow|deny] [--errno NAME] [--hint TEMPLATE] [--ping allow|deny] [--mode enforce|audit]",
	  "Changes a policy's settings; its rules stay.", POLICY_OPTS, NULL },
	{ "policy delete", "policy delete NAME",
	  "Deletes a policy; refused while a cgroup is bound to it, and for 'default'.", "", NULL },
	{ "policy list", "policy list [--json]",
	  "Prints every policy (by name): NAME DEFAULT ERRNO RULES BOUND MODE.",
	  "  --json               a JSON array of {name, default, errno, rules, bound, hint, mode}\n", NULL },
	{ "attach", "attach DIR [--policy NAME] [--keep-established]",
	  "Binds a cgroup v2 directory and everything below it to a policy.\n\n"
	  "A bound one switches atomically.  Bound ancestors keep deciding too: a connection must pass\n"
	  "every policy on the path, so attach warns when one of them denies what NAME allows.\n"
	  "Established TCP connections the policies now deny are reset before attach returns.",
	  "  DIR                  a cgroup v2 directory\n"
	  "  --policy NAME        the policy (default: default)\n"
	  "  --keep-established   leave established connections as they are, for this change\n"
	  "                       (default: reset those the policies now deny)\n",
	  "example: egressctl attach /sys/fs/cgroup/tiers/free --policy free\n" },
	{ "detach", "detach DIR", "Unbinds a cgroup v2 directory.", "  DIR                  a bound cgroup v2 directory\n", NULL },
	{ "move", "move PID... --to DIR | move --cgroup SRC --to DIR",
	  "Moves processes into another cgroup: how a sandbox changes tier (free -> pro).\n\n"
	  "Refused unless DIR is enforced (as 'check' says).  Sockets the processes made before the\n"
	  "move stay decided where they were made.",
	  "  PID...               the processes to move (each with all its threads)\n"
	  "  --cgroup SRC         every process of the cgroup SRC, frozen while they move (default:\n"
	  "                       none, give PIDs)\n"
	  "  --to DIR             the cgroup v2 directory to move them to (required)\n",
	  "example: egressctl move --cgroup /sys/fs/cgroup/tiers/free/sb1 --to /sys/fs/cgroup/tiers/pro/sb1\n" },
	{ "check", "check DIR",
	  "Verifies that DIR is enforced; exit 1 unless it is.\n\n"
	  "Every egress program must be in force on DIR, and DIR or an ancestor bound to an existing\n"
	  "policy.  Prints every binding on the path and the policy in force (free \u2227 pro: both decide).",
	  "  DIR                  a cgroup v2 directory\n", NULL },
	{ "explain", "explain (--cgroup DIR | --policy NAME) DST [--proto tcp|udp] [--port N] [--json] [--batch]",
	  "Says what the kernel decides for a destination, and why: exit 0 allowed, 1 denied, 2 no answer.\n\n"
	  "For each bound cgroup from DIR up to the root: its policy, mode, the deciding rule or the\n"
	  "default, and the reason; then the verdict and errno.  0.0.0.0, :: and ::ffff:a.b.c.d are\n"
	  "decided as the kernel decides them: 127.0.0.1, ::1, a.b.c.d.",
	  "  DST                  an IPv4 or IPv6 address, without a prefix\n"
	  "  --cgroup DIR         every policy bound on DIR's path (required, or --policy)\n"
	  "  --policy NAME        one policy alone (required, or --cgroup)\n"
	  "  --proto tcp|udp      the protocol (default: tcp)\n"
	  "  --port N             the port (default: a port that no port rule names)\n"
	  "  --json               one JSON object\n"
	  "  --batch              no DST: lines 'DST [tcp|udp] [PORT]' on stdin, one JSON line each\n",
	  "example: egressctl explain --cgroup /sys/fs/cgroup/tiers/free/sb1 169.254.169.254 --port 80\n" },
	{ "oci-hook", "oci-hook [poststop] [--policy NAME] [--strict]",
	  "The OCI runtime hook: binds a container's cgroup before its process runs.\n\n"
	  "Reads the OCI state JSON on stdin.  createRuntime (the default) binds the container's cgroup\n"
	  "and verifies it as 'check' does; poststop removes what createRuntime made.",
	  "  --policy NAME        the policy (default: the annotation egress.policy)\n"
	  "  --strict             refuse configs that defeat egress (default: warn)\n", NULL },
	{ "gc", "gc", "Removes the bindings and per-cgroup state of deleted cgroups (egressd does this every 10 s).", "", NULL },
	{ "run", "run [--policy NAME] [--cgroup-parent DIR] [--] CMD [ARG...]",
	  "Runs CMD in a fresh cgroup, bound to a policy before CMD's first instruction.\n\n"
	  "Waits, removes the cgroup, exits with CMD's status (128+N if killed by signal N).  Options\n"
	  "end at CMD: what follows it is CMD's.",
	  "  --policy NAME        the policy (default: default)\n"
	  "  --cgroup-parent DIR  where the cgroup is made (default: <cgroup2 mount>/egress-run)\n",
	  "example: egressctl run --policy free -- python3 sandbox.py\n" },
	{ "apply", "apply -f FILE",
	  "Replaces every policy the file names with exactly what it says, each atomically.\n\n"
	  "Checks the whole file first and changes nothing when anything is wrong.",
	  "  -f, --file FILE      the policy file, - for standard input (required)\n",
	  "file format: egressctl's command lines without 'egressctl', one a line, # comments, words\n"
	  "quoted as in a shell: 'policy add' lines and 'allow'/'deny' lines, every rule with --policy:\n"
	  "  policy add free --default deny\n"
	  "  allow 192.0.2.10/32 --proto tcp --port 3128 --policy free\n" },
	{ "export", "export [--policy NAME]",
	  "Prints the policies as a file 'apply' accepts (export, apply, export prints the same bytes).",
	  "  --policy NAME        only this policy (default: all)\n", NULL },
	{ "status", "status [--json]",
	  "Prints egress's state: programs, policies, counters, bindings; exit 1 when not loaded.\n\n"
	  "Policies by name, with rule counts and counters; bindings as a tree, with the policy in\n"
	  "force on each.",
	  "  --json               the same as JSON\n", NULL },
	{ "events", "events [--follow] [--cgroup DIR] [--format json|text|hint] [--socket PATH]",
	  "Prints denial events from egressd: the recent ones, and with --follow every new one.",
	  "  --follow             keep printing new events until interrupted (default: recent ones, then exit)\n"
	  "  --cgroup DIR         only DIR and its descendants (default: all)\n"
	  "  --format F           json, text, or hint: the policy's hint for the user (default: json)\n"
	  "  --socket PATH        egressd's socket (default: $EGRESS_EVENTS_SOCKET, else " EGRESS_DEFAULT_EVENTS_SOCKET ")\n",
	  NULL },
	{ "advise", "advise --cgroup DIR [--since DURATION] [--name NAME]",
	  "Prints a policy file with the allow rules that would have permitted what DIR was denied.\n\n"
	  "One rule per distinct destination, protocol and port that the processes of DIR and below\n"
	  "were denied (or audited), with the count and the process names as comments; the kernel\n"
	  "records them before the event rate limit (egressd --max-seen), egressd need not run.",
	  "  --cgroup DIR         a cgroup v2 directory; DIR, an ancestor or a descendant must be\n"
	  "                       bound (required)\n"
	  "  --since DURATION     only destinations seen in the last DURATION: 30s, 10m, 2h, 1d\n"
	  "                       (default: all that were recorded)\n"
	  "  --name NAME          the policy the file writes; an existing one keeps its settings and\n"
	  "                       rules (default: from DIR's name)\n",
	  "example: egressctl advise --cgroup /sys/fs/cgroup/sb1 --since 1h --name sb1 > sb1.policy\n" },
	{ "unload", "unload", "Detaches every link and removes every pin: enforcement stops.", "", NULL },
	{ "help", "help", "Prints this overview.", "", NULL },
};
#define NHELPS (sizeof(helps) / sizeof(helps[0]))

/* The help of the command being run: cmd_name, or "policy add" and the like. */
static const char *help_key;

static void print_help(const char *key, const char *usage)
{
	for (size_t i = 0; i < NHELPS; i++) {
		if (strcmp(helps[i].key, key))
			continue;
		printf("usage: egressctl %s [--pin-dir DIR]\n%s\n\noptions:\n%s" PIN_HELP
		       "  --help               this help\n", helps[i].usage, helps[i].what, helps[i].opts);
		if (helps[i].more)
			printf("\n%s", helps[i].more);
		return;
	}
	printf("usage: egressctl %s\n", usage);
}

static int parse_flags(int argc, char **argv, const struct opt *opts, char **pos, int maxpos,
		       int *npos, const struct common *c, const char *usage, unsigned int flags)
{
	char err[ERRBUF_LEN];

	if (opts_parse_flags(argc, argv, opts, pos, maxpos, npos, flags, err, sizeof(err)))
		return die(2, "%s (see 'egressctl %s --help')", err, help_key ? help_key : cmd_name);
	if (c->help) {
		print_help(help_key ? help_key : cmd_name, usage);
		exit(0);
	}
	return 0;
}

static int parse(int argc, char **argv, const struct opt *opts, char **pos, int maxpos, int *npos,
		 const struct common *c, const char *usage)
{
	return parse_flags(argc, argv, opts, pos, maxpos, npos, c, usage, 0);
}

static int open_state(struct egress_state *st, const struct common *c, int flags)
{
	char err[ERRBUF_LEN];

	if (state_open(st, state_pin_dir(c->pin_dir), flags, err, sizeof(err)))
		return die(1, "%s", err);
	return 0;
}

static void print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s)
		puts(s);
	free(s);
	json_decref(o);
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

/* The name nearest to word (a prefix, or at most 2 edits), or NULL. */
static const char *closest(const char *word, const char *const *names, size_t n)
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

/* ---- rules -------------------------------------------------------------- */

#define RULE_USAGE(verb) verb " CIDR [--proto tcp|udp] [--port N|N-M] [--policy NAME] [--pin-dir DIR]"

/*
 * Takes --pin-dir and --help out of argv for the commands whose words are
 * parsed by cmdline.c (shared with policy files).  Returns the rest (free
 * it), NULL with a message on failure.
 */
static char **common_only(int argc, char **argv, struct common *c, const char *usage, int *nrest)
{
	char **rest = calloc(argc + 1, sizeof(*rest));

	*nrest = 0;
	if (!rest) {
		die(1, "out of memory");
		return NULL;
	}
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			print_help(help_key ? help_key : cmd_name, usage);
			exit(0);
		}
		if (!strcmp(argv[i], "--pin-dir") && i + 1 == argc) {
			free(rest);
			die(2, "option '--pin-dir' needs a value");
			*nrest = -1;
			return NULL;
		}
		if (!strcmp(argv[i], "--pin-dir") || !strncmp(argv[i], "--pin-dir=", 10)) {
			if (c->pin_dir) {
				free(rest);
				die(2, "option '--pin-dir' is given twice (give it once)");
				*nrest = -1;
				return NULL;
			}
			c->pin_dir = argv[i][9] == '=' ? argv[i] + 10 : argv[++i];
		} else {
			rest[(*nrest)++] = argv[i];
		}
	}
	return rest;
}

static int rule_command(int argc, char **argv, int verb, const char *usage)
{
	struct egress_state st;
	struct common c = {};
	char err[ERRBUF_LEN], **rest;
	struct rule_cmd rc;
	const char *name;
	uint32_t id;
	int ret, nrest;

	rest = common_only(argc, argv, &c, usage, &nrest);
	if (!rest)
		return nrest < 0 ? 2 : 1;
	ret = rule_cmd_parse(nrest, rest, &rc, err, sizeof(err));
	free(rest);
	if (ret)
		return die(2, "%s (see 'egressctl %s --help')", err, cmd_name);
	rc.rule.action = verb == 'a' ? EGRESS_ALLOW : EGRESS_DENY;
	name = rc.policy ? rc.policy : "default";

	if (open_state(&st, &c, STATE_LOCK))
		return 1;
	ret = state_policy_find(&st, name, &id, err, sizeof(err));
	if (ret)
		goto out;
	/* the store reads and writes only what the rule touches */
	ret = state_policy_edit(&st, id, &rc.rule, verb == 'r', err, sizeof(err));
	if (!ret && verb != 'a') {
		/* an allow only turns denials into allows: it never narrows */
		struct revoke_scope sc = { .policies = &id, .npolicies = 1 };

		ret = revoke_after_change(&st, &sc, NULL, err, sizeof(err));
	}
out:
	state_close(&st);
	return ret ? die(1, "%s", err) : 0;
}

static int do_allow(int argc, char **argv)
{
	return rule_command(argc, argv, 'a', RULE_USAGE("allow"));
}

static int do_deny(int argc, char **argv)
{
	return rule_command(argc, argv, 'd', RULE_USAGE("deny"));
}

static int do_remove(int argc, char **argv)
{
	return rule_command(argc, argv, 'r', RULE_USAGE("remove"));
}

static json_t *rule_json(const struct rule *r)
{
	char cs[CIDR_STR_LEN], ps[PORTS_STR_LEN];
	bool any_port = r->port_lo == 0 && r->port_hi == 65535;

	format_cidr(&r->cidr, cs, sizeof(cs));
	format_ports(r->port_lo, r->port_hi, ps, sizeof(ps));
	return json_pack("{s:s, s:s, s:o, s:o}", "action", r->action == EGRESS_ALLOW ? "allow" : "deny",
			 "cidr", cs, "proto", r->proto ? json_string(proto_name(r->proto)) : json_null(),
			 "port", any_port ? json_null() : json_string(ps));
}

static int do_list(int argc, char **argv)
{
	const char *usage = "list [--policy NAME] [--json] [--pin-dir DIR]";
	const char *name = "default";
	struct common c = {};
	bool json = false;
	const struct opt opts[] = { COMMON_OPTS(c), { "policy", true, &name, NULL },
				    { "json", false, NULL, &json }, { 0 } };
	struct egress_state st;
	char err[ERRBUF_LEN];
	struct policy p;
	uint32_t id;
	int npos, ret;

	if (parse(argc, argv, opts, NULL, 0, &npos, &c, usage))
		return 2;
	if (open_state(&st, &c, 0))
		return 1;
	ret = state_policy_find(&st, name, &id, err, sizeof(err));
	if (!ret) {
		ret = state_policy_load(&st, id, &p);
		if (ret)
			snprintf(err, sizeof(err), "cannot read policy '%s': %s", name, strerror(-ret));
	}
	state_close(&st);
	if (ret)
		return die(1, "%s", err);
	if (json) {
		json_t *a = json_array();

		for (size_t i = 0; i < p.nrules; i++) {
			json_t *r = rule_json(&p.rules[i]);

			json_object_set_new(r, "policy", json_string(p.name));
			json_array_append_new(a, r);
		}
		print_json(a);
	} else {
		printf("%-6s %-43s %-5s %-11s %s\n", "ACTION", "CIDR", "PROTO", "PORT", "POLICY");
		for (size_t i = 0; i < p.nrules; i++) {
			const struct rule *r = &p.rules[i];
			char cs[CIDR_STR_LEN], ps[PORTS_STR_LEN];

			format_cidr(&r->cidr, cs, sizeof(cs));
			format_ports(r->port_lo, r->port_hi, ps, sizeof(ps));
			printf("%-6s %-43s %-5s %-11s %s\n", r->action == EGRESS_ALLOW ? "allow" : "deny", cs,
			       r->proto ? proto_name(r->proto) : "any",
			       r->port_lo == 0 && r->port_hi == 65535 ? "any" : ps, p.name);
		}
		printf("(policy %s: %zu rule%s, default %s)\n", p.name, p.nrules, p.nrules == 1 ? "" : "s",
		       p.dflt == EGRESS_ALLOW ? "allow" : "deny");
	}
	policy_free(&p);
	return 0;
}

/* ---- policies ----------------------------------------------------------- */

static int ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct policy_ref *)a)->name, ((const struct policy_ref *)b)->name);
}


static int count_bound(struct egress_state *st, uint32_t id)
{
	struct binding_ref *b;
	size_t n;
	int cnt = 0;

	if (state_bindings(st, &b, &n))
		return 0;
	for (size_t i = 0; i < n; i++)
		cnt += b[i].policy == id;
	free(b);
	return cnt;
}

static const char *policy_mode(const struct policy *p)
{
	return p->flags & EGRESS_POL_AUDIT ? "audit" : "enforce";
}

static int policy_add_or_set(int argc, char **argv, bool add)
{
	const char *usage = add ? "policy add NAME [--default allow|deny] [--errno NAME] [--hint TEMPLATE] [--ping allow|deny] [--mode enforce|audit] [--pin-dir DIR]"
				: "policy set NAME [--default allow|deny] [--errno NAME] [--hint TEMPLATE] [--ping allow|deny] [--mode enforce|audit] [--pin-dir DIR]";
	struct common c = {};
	char err[ERRBUF_LEN], **rest;
	struct egress_state st;
	struct policy_cmd pc;
	struct policy p = {};
	uint32_t id = 0;
	int nrest, ret;
	bool narrows;

	/* one parser for the command line and policy files */
	rest = common_only(argc, argv, &c, usage, &nrest);
	if (!rest)
		return nrest < 0 ? 2 : 1;
	ret = policy_add_parse(nrest, rest, &pc, err, sizeof(err));
	if (ret) {
		free(rest);
		return die(2, "%s (see 'egressctl policy %s --help')", err, add ? "add" : "set");
	}
	if (open_state(&st, &c, STATE_LOCK)) {
		free(rest);
		return 1;
	}
	ret = state_policy_id(&st, pc.name, &id);
	if (add && ret == 0) {
		snprintf(err, sizeof(err), "policy '%s' exists (change it with 'policy set')", pc.name);
		ret = -EEXIST;
		goto out;
	}
	if (!add) {
		if (ret) {
			snprintf(err, sizeof(err), "unknown policy '%s'", pc.name);
			goto out;
		}
		ret = state_policy_load(&st, id, &p);
		if (ret) {
			snprintf(err, sizeof(err), "cannot read policy '%s': %s", pc.name, strerror(-ret));
			goto out;
		}
	} else {
		id = 0;
		snprintf(p.name, sizeof(p.name), "%s", pc.name);
		p.dflt = EGRESS_DENY;
	}
	if (pc.has_dflt)
		p.dflt = pc.dflt;
	if (pc.has_err)
		p.err = pc.err;
	if (pc.hint)
		snprintf(p.hint, sizeof(p.hint), "%s", pc.hint);
	if (pc.has_ping)
		p.flags = pc.ping ? p.flags | EGRESS_POL_PING : p.flags & ~EGRESS_POL_PING;
	/* audit -> enforce narrows: established connections are decided again */
	narrows = !add && pc.has_mode && !pc.audit && (p.flags & EGRESS_POL_AUDIT);
	if (pc.has_mode)
		p.flags = pc.audit ? p.flags | EGRESS_POL_AUDIT : p.flags & ~EGRESS_POL_AUDIT;
	ret = state_policy_store(&st, &id, &p, 0, err, sizeof(err));
	if (!ret && !add && ((pc.has_dflt && pc.dflt == EGRESS_DENY) || narrows)) {
		struct revoke_scope sc = { .policies = &id, .npolicies = 1 };

		ret = revoke_after_change(&st, &sc, NULL, err, sizeof(err));
	}
out:
	policy_free(&p);
	state_close(&st);
	free(rest);
	return ret ? die(1, "%s", err) : 0;
}

static int policy_delete(int argc, char **argv)
{
	const char *usage = "policy delete NAME [--pin-dir DIR]";
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { 0 } };
	struct egress_state st;
	char err[ERRBUF_LEN], *pos[1];
	uint32_t id;
	int npos, ret, bound;

	if (parse(argc, argv, opts, pos, 1, &npos, &c, usage))
		return 2;
	if (npos != 1)
		return die(2, "missing policy name; usage: egressctl %s", usage);
	if (!strcmp(pos[0], "default"))
		return die(1, "policy 'default' cannot be deleted (empty it with 'apply')");
	if (open_state(&st, &c, STATE_LOCK))
		return 1;
	ret = state_policy_find(&st, pos[0], &id, err, sizeof(err));
	if (!ret && (bound = count_bound(&st, id))) {
		struct binding_ref *b = NULL;
		size_t nb = 0, o, shown = 0;

		o = snprintf(err, sizeof(err), "policy '%s' is bound to %d cgroup%s (detach %s first):",
			     pos[0], bound, bound == 1 ? "" : "s", bound == 1 ? "it" : "them");
		state_bindings(&st, &b, &nb);
		for (size_t j = 0; j < nb && o < sizeof(err); j++) {
			char path[PATH_MAX];

			if (b[j].policy != id)
				continue;
			if (cg_path(b[j].cgroup_id, path, sizeof(path)))
				snprintf(path, sizeof(path), "(removed cgroup %llu)",
					 (unsigned long long)b[j].cgroup_id);
			if (shown == 3 || o + strlen(path) + 24 > sizeof(err)) {
				snprintf(err + o, sizeof(err) - o, " and %zu more", bound - shown);
				break;
			}
			o += snprintf(err + o, sizeof(err) - o, "%s %s", shown ? "," : "", path);
			shown++;
		}
		free(b);
		ret = -EBUSY;
	}
	if (!ret) {
		ret = state_policy_delete(&st, id);
		if (ret)
			snprintf(err, sizeof(err), "cannot delete policy '%s': %s", pos[0], strerror(-ret));
	}
	state_close(&st);
	return ret ? die(1, "%s", err) : 0;
}

static int policy_list(int argc, char **argv)
{
	const char *usage = "policy list [--json] [--pin-dir DIR]";
	struct common c = {};
	bool json = false;
	const struct opt opts[] = { COMMON_OPTS(c), { "json", false, NULL, &json }, { 0 } };
	struct egress_state st;
	struct policy_ref *v;
	json_t *a = json_array();
	size_t n;
	int npos;

	if (parse(argc, argv, opts, NULL, 0, &npos, &c, usage))
		return 2;
	if (open_state(&st, &c, 0))
		return 1;
	if (state_policies(&st, &v, &n)) {
		state_close(&st);
		return die(1, "cannot read policies");
	}
	/* by name, as status and export */
	qsort(v, n, sizeof(*v), ref_cmp);
	if (!json)
		printf("%-20s %-7s %-13s %7s %5s %s\n", "NAME", "DEFAULT", "ERRNO", "RULES", "BOUND", "MODE");
	for (size_t i = 0; i < n; i++) {
		struct policy p;
		const char *en;

		if (state_policy_summary(&st, v[i].id, &p))
			continue;
		en = p.err ? errno_name(p.err) : "EPERM";
		if (json)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I, s:i, s:s, s:s}", "name", p.name,
					      "default", p.dflt == EGRESS_ALLOW ? "allow" : "deny",
					      "errno", en ? en : "?", "rules", (json_int_t)p.nrules,
					      "bound", count_bound(&st, v[i].id), "hint", p.hint,
					      "mode", policy_mode(&p)));
		else
			printf("%-20s %-7s %-13s %7zu %5d %s\n", p.name,
			       p.dflt == EGRESS_ALLOW ? "allow" : "deny", en ? en : "?", p.nrules,
			       count_bound(&st, v[i].id), policy_mode(&p));
		policy_free(&p);
	}
	free(v);
	state_close(&st);
	if (json)
		print_json(a);
	else
		json_decref(a);
	return 0;
}

static int do_policy(int argc, char **argv)
{
	const char *usage = "policy add|set|delete|list ...";
	static const char *const subs[] = { "add", "set", "delete", "list" };

	if (argc < 1)
		return die(2, "missing subcommand (add, set, delete or list); usage: egressctl %s", usage);
	if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
		printf("usage: egressctl policy add|set|delete|list ... [--pin-dir DIR]\n"
		       "Creates, changes, deletes and lists policies.\n\n");
		for (size_t i = 0; i < NHELPS; i++)
			if (!strncmp(helps[i].key, "policy ", 7))
				printf("  egressctl %s\n", helps[i].usage);
		printf("\n'egressctl policy SUBCOMMAND --help' for one of them.\n");
		return 0;
	}
	for (size_t i = 0; i < NHELPS; i++)
		if (!strncmp(helps[i].key, "policy ", 7) && !strcmp(helps[i].key + 7, argv[0]))
			help_key = helps[i].key;
	if (!strcmp(argv[0], "add"))
		return policy_add_or_set(argc - 1, argv + 1, true);
	if (!strcmp(argv[0], "set"))
		return policy_add_or_set(argc - 1, argv + 1, false);
	if (!strcmp(argv[0], "delete"))
		return policy_delete(argc - 1, argv + 1);
	if (!strcmp(argv[0], "list"))
		return policy_list(argc - 1, argv + 1);
	{
		const char *near = closest(argv[0], subs, 4);

		if (near)
			return die(2, "unknown subcommand '%s' (did you mean '%s'?); usage: egressctl %s",
				   argv[0], near, usage);
	}
	return die(2, "unknown subcommand '%s'; usage: egressctl %s", argv[0], usage);
}

/* ---- bindings on a path -------------------------------------------------- */

struct path_bind {
	char dir[PATH_MAX];
	uint32_t policy;		/* 0: bound, but to no existing policy */
	char name[EGRESS_NAME_MAX];
};

/*
 * The bound cgroups from path up to the cgroup2 mount, outermost first:
 * every one of them decides a socket made in path.  Their number (0: none),
 * or -errno.
 */
static int path_bindings(struct egress_state *st, const char *path, struct path_bind **out)
{
	char mnt[PATH_MAX], dir[PATH_MAX], err[ERRBUF_LEN], links[PATH_MAX + 32];
	struct path_bind *v = NULL;
	int n = 0;

	*out = NULL;
	if (!realpath(path, dir))
		return -errno;
	if (cg2_mount(mnt, sizeof(mnt)))
		return -ENOENT;
	while (dir[0]) {
		struct egress_policy_info info;
		struct egress_binding b;
		uint64_t id;
		int fd;

		if (cg_open(dir, &fd, &id, err, sizeof(err)))
			break;
		close(fd);
		state_pin_path(st, links, sizeof(links), "links/%llu", (unsigned long long)id);
		if (!access(links, F_OK)) {
			struct path_bind *nv = realloc(v, (n + 1) * sizeof(*v));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			memset(&v[n], 0, sizeof(v[n]));
			snprintf(v[n].dir, sizeof(v[n].dir), "%s", dir);
			if (!state_binding_policy(st, id, &b.policy) && b.policy &&
			    !state_policy_info(st, b.policy, &info)) {
				v[n].policy = b.policy;
				snprintf(v[n].name, sizeof(v[n].name), "%.*s", EGRESS_NAME_MAX - 1, info.name);
			}
			n++;
		}
		if (!strcmp(dir, mnt) || !strrchr(dir, '/'))
			break;
		*strrchr(dir, '/') = '\0';
	}
	for (int i = 0; i < n / 2; i++) {
		struct path_bind t = v[i];

		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
	*out = v;
	return n;
}

/* "free ∧ pro": the policies in force, outermost first (each must allow). */
#define EFFECTIVE_LEN 512
static const char *effective_str(const struct path_bind *pb, int n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && o < len; i++)
		o += snprintf(buf + o, len - o, "%s%s", i ? " \u2227 " : "",
			      pb[i].policy ? pb[i].name : "(no policy)");
	return buf;
}

static int check_enforced(struct egress_state *st, const char *path, int cg_fd, FILE *out);

/* ---- bindings ----------------------------------------------------------- */

/*
 * A cgroup bound below a bound ancestor is decided by both: the child can
 * only narrow.  Warn (one line on stderr) when an ancestor denies what the
 * new policy allows, with an example and the way that works.
 */
static void warn_ancestors(struct egress_state *st, const char *dir, uint32_t id)
{
	char eff[EFFECTIVE_LEN], real[PATH_MAX];
	struct path_bind *pb;
	struct policy inner;
	int n = path_bindings(st, dir, &pb);

	if (n <= 1 || !realpath(dir, real) || state_policy_load(st, id, &inner)) {
		free(pb);
		return;
	}
	for (int i = 0; i < n; i++) {
		char ds[CIDR_STR_LEN], ex[CIDR_STR_LEN + EGRESS_NAME_MAX + 96] = "";
		struct policy outer;
		struct cidr dst;
		uint8_t proto;
		uint16_t port;
		int r;

		if (!strcmp(pb[i].dir, real) || !pb[i].policy || pb[i].policy == id ||
		    state_policy_load(st, pb[i].policy, &outer))
			continue;
		r = policy_narrows(&outer, &inner, &dst, &proto, &port);
		policy_free(&outer);
		if (r == 0)
			continue;
		if (r == 1) {
			format_addr(dst.family, dst.addr, ds, sizeof(ds));
			if (port)
				snprintf(ex, sizeof(ex), ": it denies %s %s port %u, which '%s' allows", ds,
					 ip_proto_name(proto) ? ip_proto_name(proto) : "?", port, inner.name);
			else
				snprintf(ex, sizeof(ex), ": it denies %s %s, which '%s' allows", ds,
					 ip_proto_name(proto) ? ip_proto_name(proto) : "?", inner.name);
		}
		fprintf(stderr, "egressctl: attach: warning: the ancestor %s is bound to '%s', which still "
			"decides%s%s; in force on %s: %s. To change a sandbox's tier, move its processes "
			"('egressctl move --cgroup %s --to DIR' under the other tier)\n",
			pb[i].dir, pb[i].name, ex, r == 1 ? "" : " (it may deny what this policy allows)",
			real, effective_str(pb, n, eff, sizeof(eff)), real);
		break;
	}
	policy_free(&inner);
	free(pb);
}

static int do_attach(int argc, char **argv)
{
	const char *usage = "attach DIR [--policy NAME] [--keep-established] [--pin-dir DIR]";
	const char *name = "default";
	struct common c = {};
	bool keep = false;
	const struct opt opts[] = { COMMON_OPTS(c), { "policy", true, &name, NULL },
				    { "keep-established", false, NULL, &keep }, { 0 } };
	struct egress_state st;
	char err[ERRBUF_LEN], *pos[1];
	struct revoke_scope sc = {};
	uint32_t id;
	int npos, ret, fd;

	if (parse(argc, argv, opts, pos, 1, &npos, &c, usage))
		return 2;
	if (npos != 1)
		return die(2, "missing cgroup directory; usage: egressctl %s", usage);
	if (parse_policy_name(name, err, sizeof(err)))
		return die(2, "%s", err);
	if (open_state(&st, &c, STATE_LOCK))
		return 1;
	ret = state_policy_find(&st, name, &id, err, sizeof(err));
	if (!ret)
		ret = state_bind(&st, pos[0], id, err, sizeof(err));
	if (!ret)
		warn_ancestors(&st, pos[0], id);
	if (!ret && !keep && !cg_open(pos[0], &fd, &sc.cgroup_id, err, sizeof(err))) {
		close(fd);
		ret = revoke_after_change(&st, &sc, NULL, err, sizeof(err));
	}
	state_close(&st);
	return ret ? die(1, "%s", err) : 0;
}

static int do_detach(int argc, char **argv)
{
	const char *usage = "detach DIR [--pin-dir DIR]";
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { 0 } };
	struct egress_state st;
	char err[ERRBUF_LEN], *pos[1];
	int npos, ret;

	if (parse(argc, argv, opts, pos, 1, &npos, &c, usage))
		return 2;
	if (npos != 1)
		return die(2, "missing cgroup directory; usage: egressctl %s", usage);
	if (open_state(&st, &c, STATE_LOCK))
		return 1;
	ret = state_unbind(&st, pos[0], err, sizeof(err));
	state_close(&st);
	return ret ? die(1, "%s", err) : 0;
}

/* Writes pid into the cgroup dir_fd's cgroup.procs: 0, or -errno. */
static int move_pid(int procs_fd, long pid)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld", pid);

	return write(procs_fd, buf, len) == len ? 0 : -errno;
}

/* The pids in a cgroup's cgroup.procs (free *out); how many, or -errno. */
static int read_procs(const char *dir, long **out)
{
	char path[PATH_MAX + 32];
	long *v = NULL, pid;
	int n = 0;
	FILE *f;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fscanf(f, "%ld", &pid) == 1) {
		long *nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv)
			break;
		v = nv;
		v[n++] = pid;
	}
	fclose(f);
	*out = v;
	return n;
}

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[PATH_MAX + 32];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * move: the supported way to change a sandbox's tier under tier cgroups.
 * A child cgroup can only narrow its bound ancestors, so an upgrade moves
 * the sandbox's processes into the other tier's subtree.  The target must
 * be enforced (fail closed: never move a sandbox out of enforcement).
 */
static int do_move(int argc, char **argv)
{
	const char *usage = "move PID... --to DIR | move --cgroup SRC --to DIR [--pin-dir DIR]";
	const char *to = NULL, *src = NULL;
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { "to", true, &to, NULL },
				    { "cgroup", true, &src, NULL }, { 0 } };
	char err[ERRBUF_LEN], **pos = calloc(argc + 1, sizeof(char *)), *report = NULL;
	char procs[PATH_MAX + 32], rsrc[PATH_MAX], rto[PATH_MAX], eff[EFFECTIVE_LEN];
	struct egress_state st;
	struct path_bind *pb = NULL;
	size_t rlen = 0;
	uint64_t cgid;
	int npos, ret = 0, to_fd, pfd, moved = 0, missing, nb;
	FILE *m;

	if (!pos)
		return die(1, "out of memory");
	if (parse(argc, argv, opts, pos, argc, &npos, &c, usage)) {
		free(pos);
		return 2;
	}
	if (!to || (!src && !npos) || (src && npos)) {
		free(pos);
		return die(2, "%s; usage: egressctl %s", !to ? "missing --to DIR" :
			   src ? "give PIDs or --cgroup SRC, not both" : "missing PID or --cgroup SRC", usage);
	}
	for (int i = 0; i < npos; i++) {
		uint32_t pid;

		if (parse_u32(pos[i], 1, 4194304, &pid)) {
			ret = die(2, "invalid PID '%s': a process id, 1 to 4194304", pos[i]);
			free(pos);
			return ret;
		}
	}
	if (cg_open(to, &to_fd, &cgid, err, sizeof(err))) {
		free(pos);
		return die(1, "%s", err);
	}
	if (src && (cg_open(src, &pfd, &cgid, err, sizeof(err)) || (close(pfd), 0))) {
		close(to_fd);
		free(pos);
		return die(1, "%s", err);
	}
	if (src && realpath(src, rsrc) && realpath(to, rto) && !strcmp(rsrc, rto)) {
		close(to_fd);
		free(pos);
		return die(2, "--cgroup and --to are the same cgroup (%s)", rto);
	}
	if (open_state(&st, &c, 0)) {
		close(to_fd);
		free(pos);
		return 1;
	}
	/* fail closed: the target must be enforced, as 'check' says */
	m = open_memstream(&report, &rlen);
	missing = m ? check_enforced(&st, to, to_fd, m) : 1;
	if (m)
		fclose(m);
	close(to_fd);
	if (missing) {
		if (report)
			report[strcspn(report, "\n")] = '\0';
		ret = die(1, "refused: %s is not enforced (%s); bind it or an ancestor first", to,
			  report ? report : "?");
		goto out;
	}
	nb = path_bindings(&st, to, &pb);
	effective_str(pb, nb > 0 ? nb : 0, eff, sizeof(eff));
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", to);
	pfd = open(procs, O_WRONLY | O_CLOEXEC);
	if (pfd < 0) {
		ret = die(1, "cannot open %s: %s", procs, strerror(errno));
		goto out;
	}
	if (!src) {
		for (int i = 0; i < npos && !ret; i++) {
			int r = move_pid(pfd, atol(pos[i]));

			if (r)
				ret = die(1, "cannot move process %s to %s: %s", pos[i], to, strerror(-r));
			else
				moved++;
		}
	} else {
		/* freeze SRC so that nothing forks behind our back; moving thaws */
		bool frozen = !write_file(src, "cgroup.freeze", "1");

		for (int i = 0; frozen && i < 500 && !cg_event(src, "frozen"); i++)
			usleep(10000);
		for (int round = 0; round < 100 && !ret; round++) {
			long *pids;
			int n = read_procs(src, &pids);

			if (n < 0)
				ret = die(1, "cannot read %s/cgroup.procs: %s", src, strerror(-n));
			for (int i = 0; i < n && !ret; i++) {
				int r = move_pid(pfd, pids[i]);

				if (r == -ESRCH)
					continue;	/* it exited */
				if (r)
					ret = die(1, "cannot move process %ld from %s to %s: %s", pids[i], src,
						  to, strerror(-r));
				else
					moved++;
			}
			free(pids);
			if (n <= 0)
				break;
		}
		if (frozen)
			write_file(src, "cgroup.freeze", "0");
		if (!ret && cg_event(src, "populated"))
			ret = die(1, "%s still holds processes (in child cgroups?): move them with "
				  "'egressctl move --cgroup CHILD --to DIR'", src);
	}
	close(pfd);
	if (!ret)
		printf("moved %d process%s%s%s to %s: in force there: %s\n", moved, moved == 1 ? "" : "es",
		       src ? " from " : "", src ? src : "", to, eff);
out:
	free(report);
	free(pb);
	free(pos);
	state_close(&st);
	return ret;
}

static pid_t run_child;

static void forward_signal(int sig)
{
	if (run_child > 0)
		kill(run_child, sig);
}

/*
 * The parent of run's cgroups: the default <cgroup2>/egress-run is made
 * when missing; a --cgroup-parent must exist.
 */
static int mkdir_cgroup_parent(const char *path, bool create, char *err, size_t errlen)
{
	uint64_t id;
	int fd;

	if (create && mkdir(path, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create cgroup %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!create && access(path, F_OK)) {
		snprintf(err, errlen, "--cgroup-parent %s: %s (create it first, as root)", path, strerror(errno));
		return -errno;
	}
	if (cg_open(path, &fd, &id, err, errlen))
		return -EINVAL;
	close(fd);
	return 0;
}

/*
 * A parent whose cgroup.procs (or an ancestor's) someone other than root
 * can write is delegated: a process of that user could move CMD out of its
 * bound cgroup.  Refused.
 */
static int parent_not_delegated(const char *parent, char *err, size_t errlen)
{
	char dir[PATH_MAX], mnt[PATH_MAX], f[PATH_MAX + 16];

	if (!realpath(parent, dir) || cg2_mount(mnt, sizeof(mnt))) {
		snprintf(err, errlen, "--cgroup-parent %s: %s", parent, strerror(errno ?: ENOENT));
		return -ENOENT;
	}
	for (;;) {
		struct stat sb;

		snprintf(f, sizeof(f), "%s/cgroup.procs", dir);
		if (stat(f, &sb))
			break;
		if (sb.st_uid != 0 || (sb.st_mode & (S_IWGRP | S_IWOTH))) {
			snprintf(err, errlen, "--cgroup-parent %s: %s is writable by uid %u: a process of that "
				 "user could move CMD out of its cgroup; use a parent only root can write",
				 parent, f, (unsigned)(sb.st_uid ? sb.st_uid : sb.st_gid));
			return -EPERM;
		}
		if (!strcmp(dir, mnt) || !strrchr(dir, '/') || strrchr(dir, '/') == dir)
			break;
		*strrchr(dir, '/') = '\0';
	}
	return 0;
}

/* --name: one cgroup directory name, [A-Za-z0-9_-][A-Za-z0-9._-]*, at most 64 */
static bool run_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (!len || len > 64 || n[0] == '.' || strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
						       "0123456789._-") != len)
		return false;
	return true;
}

struct contain_ctx {
	char (*bpf)[PATH_MAX], (*cg2)[PATH_MAX];
	size_t nbpf, ncg2, cap;
	int bad;		/* the check after: a bpffs, or a writable cgroup2, still there */
};

static int contain_collect(void *ctx, const struct mount_ent *m)
{
	struct contain_ctx *c = ctx;
	bool bpf = !strcmp(m->fstype, "bpf"), cg2 = !strcmp(m->fstype, "cgroup2");

	if (!bpf && !cg2)
		return 0;
	if (c->nbpf + c->ncg2 >= c->cap)
		return -E2BIG;
	snprintf(bpf ? c->bpf[c->nbpf++] : c->cg2[c->ncg2++], PATH_MAX, "%s", m->mnt);
	return 0;
}

static int contain_check(void *ctx, const struct mount_ent *m)
{
	struct contain_ctx *c = ctx;

	if (!strcmp(m->fstype, "bpf") ||
	    (!strcmp(m->fstype, "cgroup2") && strncmp(m->opts, "ro,", 3) && strcmp(m->opts, "ro")))
		c->bad++;
	return 0;
}

/*
 * In run's child, once it is in its bound cgroup and before CMD: a mount
 * namespace of its own (private: nothing propagates back), where no bpffs
 * is mounted (the pins are out of reach) and every cgroup2 mount is
 * replaced by a read-only one of a new cgroup namespace rooted at this
 * cgroup.  Root without CAP_SYS_ADMIN can then neither leave the cgroup
 * nor open the pinned links and maps.  Checked afterwards; any doubt is
 * an error (fail closed).
 */
static int contain(char *err, size_t errlen)
{
	static char bpf[64][PATH_MAX], cg2[64][PATH_MAX];
	struct contain_ctx c = { .bpf = bpf, .cg2 = cg2, .cap = 64 };
	const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (unshare(CLONE_NEWNS | CLONE_NEWCGROUP)) {
		snprintf(err, errlen, "cannot make a mount and cgroup namespace: %s", strerror(errno));
		return -errno;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		snprintf(err, errlen, "cannot make mounts private: %s", strerror(errno));
		return -errno;
	}
	if (mountinfo_each(contain_collect, &c)) {
		snprintf(err, errlen, "cannot read the mounts (or too many bpffs and cgroup2 mounts)");
		return -E2BIG;
	}
	/* the latest (deepest) first; what cannot be unmounted is covered */
	for (size_t i = c.nbpf; i-- > 0;)
		if (umount2(bpf[i], MNT_DETACH) && mount("none", bpf[i], "tmpfs", ro, "size=4k,mode=0")) {
			snprintf(err, errlen, "cannot hide the bpffs at %.4095s: %s", bpf[i], strerror(errno));
			return -errno;
		}
	for (size_t i = 0; i < c.ncg2; i++) {
		/*
		 * The same superblock cannot be mounted on itself, and it is
		 * shared and rw: unmount, mount, then make the mount read-only.
		 * What cannot be unmounted is made read-only where it is.
		 */
		if (!umount2(cg2[i], MNT_DETACH) && mount("cgroup2", cg2[i], "cgroup2", ro & ~MS_RDONLY, NULL)) {
			snprintf(err, errlen, "cannot mount cgroup2 at %.4095s: %s", cg2[i], strerror(errno));
			return -errno;
		}
		if (mount(NULL, cg2[i], NULL, MS_REMOUNT | MS_BIND | ro, NULL)) {
			snprintf(err, errlen, "cannot mount a read-only cgroup2 at %.4095s: %s", cg2[i], strerror(errno));
			return -errno;
		}
	}
	if (mountinfo_each(contain_check, &c) || c.bad) {
		snprintf(err, errlen, "a bpffs or a writable cgroup2 is still mounted");
		return -EPERM;
	}
	return 0;
}

static int do_run(int argc, char **argv)
{
	const char *usage = "run [--policy NAME] [--cgroup-parent DIR] [--name NAME] [--verbose] [--pin-dir DIR] [--] CMD [ARG...]";
	const char *name = NULL, *parent = NULL, *cgname = NULL;
	struct common c = {};
	bool verbose = false;
	const struct opt opts[] = { COMMON_OPTS(c), { "policy", true, &name, NULL },
				    { "cgroup-parent", true, &parent, NULL }, { "name", true, &cgname, NULL },
				    { "verbose", false, NULL, &verbose }, { 0 } };
	char err[2 * PATH_MAX + ERRBUF_LEN], mnt[PATH_MAX], def_parent[PATH_MAX + 16], cgdir[PATH_MAX + 80];
	char owner[96], inherited[PATH_MAX + EGRESS_NAME_MAX + 2] = "";
	char **pos = calloc(argc + 1, sizeof(char *));
	struct sigaction sa = { .sa_handler = forward_signal };
	struct egress_state st;
	bool bound = false;
	uint64_t cgid = 0;
	int npos, ret, status = 0, fd;
	uint32_t id = 0;
	pid_t pid;

	if (!pos)
		return die(1, "out of memory");
	/* options end at CMD: what follows it is CMD's (a second --policy there is CMD's too) */
	if (parse_flags(argc, argv, opts, pos, argc, &npos, &c, usage, OPTS_STOP_AT_POS))
		return 2;
	if (npos < 1)
		return die(2, "missing command; usage: egressctl %s", usage);
	if (name && parse_policy_name(name, err, sizeof(err)))
		return die(2, "%s", err);
	if (cgname && !run_name_ok(cgname))
		return die(2, "invalid --name '%s': one cgroup name of letters, digits, '.', '_' and '-' "
			   "(at most 64, not starting with '.')", cgname);
	if (!parent) {
		if (cg2_mount(mnt, sizeof(mnt)))
			return die(1, "no cgroup2 file system is mounted");
		snprintf(def_parent, sizeof(def_parent), "%s/egress-run", mnt);
	}
	if (open_state(&st, &c, STATE_LOCK))
		return 1;
	ret = mkdir_cgroup_parent(parent ?: def_parent, !parent, err, sizeof(err));
	if (!ret)
		ret = parent_not_delegated(parent ?: def_parent, err, sizeof(err));
	if (!ret && !name) {
		/* no --policy beneath a bound tier: the tier decides, nothing is added */
		if (state_bound_at(&st, parent ?: def_parent, inherited, sizeof(inherited)))
			name = "default";
	}
	if (!ret && name)
		ret = state_policy_find(&st, name, &id, err, sizeof(err));
	if (ret) {
		state_close(&st);
		return die(1, "%s", err);
	}
	if (cgname)
		snprintf(cgdir, sizeof(cgdir), "%s/%s", parent ?: def_parent, cgname);
	else
		snprintf(cgdir, sizeof(cgdir), "%s/run-%d", parent ?: def_parent, getpid());
	if (mkdir(cgdir, 0755)) {
		ret = errno;
		state_close(&st);
		return die(1, "cannot create cgroup %s: %s%s", cgdir, strerror(ret),
			   ret == EEXIST ? " (choose another --name)" : "");
	}
	if (realpath(cgdir, def_parent))
		snprintf(cgdir, sizeof(cgdir), "%s", def_parent);
	ret = name ? state_bind(&st, cgdir, id, err, sizeof(err)) : 0;
	bound = name && !ret;
	if (!ret)
		ret = cg_open(cgdir, &fd, &cgid, err, sizeof(err));
	if (!ret) {
		close(fd);
		snprintf(owner, sizeof(owner), "run %d %llu", getpid(), state_proc_start(getpid()));
		if (bound)
			state_binding_owner(&st, cgid, owner);
	}
	if (ret) {
		if (bound)
			state_unbind_id(&st, cgid);
		rmdir(cgdir);
		state_close(&st);
		return die(1, "%s", err);
	}
	/* release the writers' lock while the command runs */
	close(st.dir_fd);
	st.dir_fd = -1;
	if (verbose) {
		if (name)
			fprintf(stderr, "egressctl: run: cgroup %s, bound to policy %s\n", cgdir, name);
		else
			fprintf(stderr, "egressctl: run: cgroup %s, under the binding %s\n", cgdir,
				inherited);
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	pid = fork();
	if (pid == 0) {
		char procs[PATH_MAX + 96];
		int pfd;

		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		/* join the bound cgroup, then become CMD: enforced from its first instruction */
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgdir);
		pfd = open(procs, O_WRONLY | O_CLOEXEC);
		if (pfd < 0 || write(pfd, "0", 1) != 1) {
			fprintf(stderr, "egressctl: run: cannot join %s: %s\n", cgdir, strerror(errno));
			_exit(126);
		}
		close(pfd);
		if (contain(err, sizeof(err))) {
			fprintf(stderr, "egressctl: run: cannot contain the command: %s\n", err);
			_exit(126);
		}
		setenv("EGRESS_CGROUP", cgdir, 1);
		execvp(pos[0], pos);
		fprintf(stderr, "egressctl: run: cannot execute %s: %s\n", pos[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (pid < 0) {
		ret = -errno;
		snprintf(err, sizeof(err), "cannot fork: %s", strerror(errno));
	} else {
		run_child = pid;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	/* the command is gone: kill what it left behind, unbind, remove */
	if (state_lock(st.pin_dir, &st.dir_fd, err, sizeof(err)) == 0) {
		cg_destroy(cgdir);
		if (bound)
			state_unbind_id(&st, cgid);
	}
	cg_destroy(cgdir);
	state_close(&st);
	free(pos);
	if (ret)
		return die(1, "%s", err);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* ---- files -------------------------------------------------------------- */

static int do_apply(int argc, char **argv)
{
	const char *usage = "apply -f FILE [--pin-dir DIR]";
	const char *file = NULL;
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { "file", true, &file, NULL }, { 0 } };
	char err[ERRBUF_LEN], **args = calloc(argc + 1, sizeof(char *));
	struct egress_state st;
	struct policy_file pf;
	char *text;
	int npos, ret = 0, nargs = 0;

	if (!args)
		return die(1, "out of memory");
	/* -f is the one short option egressctl has: "-f FILE", as --file */
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-f")) {
			if (i + 1 == argc) {
				free(args);
				return die(2, "-f needs a FILE: the policy file to apply, or - for standard "
					   "input (usage: egressctl %s)", usage);
			}
			args[nargs++] = "--file";
			args[nargs++] = argv[++i];
		} else {
			args[nargs++] = argv[i];
		}
	}
	ret = parse(nargs, args, opts, NULL, 0, &npos, &c, usage);
	free(args);
	if (ret)
		return 2;
	if (!file)
		return die(2, "missing -f FILE: the policy file to apply, or - for standard input "
			   "(usage: egressctl %s)", usage);
	if (strcmp(file, "-")) {
		struct stat sb;

		if (stat(file, &sb))
			return die(1, "cannot read %s: %s", file, strerror(errno));
		if (S_ISDIR(sb.st_mode))
			return die(1, "%s is a directory: -f takes a policy file (see 'egressctl apply --help')",
				   file);
	}
	text = read_text(file, 64 << 20, NULL);
	if (!text)
		return die(1, "cannot read %s: %s", file, strerror(errno));
	ret = policy_file_parse(text, &pf, err, sizeof(err));
	free(text);
	if (ret)
		return die(1, "%s:%s", file, err);
	if (open_state(&st, &c, STATE_LOCK)) {
		policy_file_free(&pf);
		return 1;
	}
	/* a policy the file only names in rules must exist: say where */
	for (size_t i = 0; i < pf.n; i++) {
		uint32_t id;

		if (pf.declared[i] || !state_policy_id(&st, pf.pol[i].name, &id))
			continue;
		ret = die(1, "%s:%d: unknown policy '%s' (add a line 'policy add %s' to the file, or "
			  "create it with 'egressctl policy add %s')", file, pf.line[i], pf.pol[i].name,
			  pf.pol[i].name, pf.pol[i].name);
		policy_file_free(&pf);
		state_close(&st);
		return ret;
	}
	ret = state_apply(&st, &pf, err, sizeof(err));
	if (ret) {
		ret = die(1, "%s: %s", file, err);
	} else {
		uint32_t *ids = calloc(pf.n + 1, sizeof(*ids));
		struct revoke_scope sc = { .policies = ids };

		for (size_t i = 0; ids && i < pf.n; i++)
			if (!state_policy_id(&st, pf.pol[i].name, &ids[sc.npolicies]))
				sc.npolicies++;
		if (!ids || revoke_after_change(&st, &sc, NULL, err, sizeof(err)))
			ret = die(1, "%s", ids ? err : "out of memory");
		free(ids);
	}
	policy_file_free(&pf);
	state_close(&st);
	return ret;
}

static int do_export(int argc, char **argv)
{
	const char *usage = "export [--policy NAME] [--pin-dir DIR]";
	const char *name = NULL;
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { "policy", true, &name, NULL }, { 0 } };
	struct egress_state st;
	struct policy_ref *v;
	char err[ERRBUF_LEN];
	size_t n;
	int npos, ret = 0;

	if (parse(argc, argv, opts, NULL, 0, &npos, &c, usage))
		return 2;
	if (open_state(&st, &c, 0))
		return 1;
	if (name) {
		uint32_t id;

		ret = state_policy_find(&st, name, &id, err, sizeof(err));
		if (ret) {
			state_close(&st);
			return die(1, "%s", err);
		}
	}
	if (state_policies(&st, &v, &n)) {
		state_close(&st);
		return die(1, "cannot read policies");
	}
	qsort(v, n, sizeof(*v), ref_cmp);
	printf("# egress policies, for 'egressctl apply -f'\n");
	for (size_t i = 0; i < n; i++) {
		struct policy p;

		if (name && strcmp(name, v[i].name))
			continue;
		ret = state_policy_load(&st, v[i].id, &p);
		if (ret) {
			ret = die(1, "cannot read policy '%s': %s", v[i].name, strerror(-ret));
			break;
		}
		policy_export(stdout, &p);
		policy_free(&p);
	}
	free(v);
	state_close(&st);
	return ret;
}

/* ---- status ------------------------------------------------------------- */

/*
 * egressd's state, as published in PIN_DIR/egressd (see follow.h): the JSON
 * object of 'status --json', and with out, status's first line.
 */
static json_t *egressd_status(const char *pin_dir, FILE *out)
{
	struct egressd_info info;
	int running = presence_read(pin_dir, &info);
	long long up;

	if (running != 1) {
		if (out)
			fprintf(out, "egressd: not running (pin directory %s)\n", pin_dir);
		return json_pack("{s:b}", "running", 0);
	}
	up = (long long)time(NULL) - (long long)info.started;
	if (up < 0)
		up = 0;
	if (out)
		fprintf(out, "egressd: running, pid %u, up %lldd %02lld:%02lld:%02lld, events socket %s, "
			"metrics %s\n", info.pid, up / 86400, up / 3600 % 24, up / 60 % 60, up % 60,
			info.events_socket, info.metrics_addr);
	return json_pack("{s:b, s:i, s:I, s:I, s:s, s:s}", "running", 1, "pid", (int)info.pid,
			 "started", (json_int_t)info.started, "uptime_s", (json_int_t)up,
			 "events_socket", info.events_socket, "metrics_addr", info.metrics_addr);
}

static int bind_path_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "cgroup")),
		      json_string_value(json_object_get(*(json_t *const *)b, "cgroup")));
}

/*
 * The bindings, sorted by path (a tree: a cgroup follows its ancestors),
 * each with "effective": the policies of its bound ancestors and its own,
 * outermost first, every one of which decides.
 */
static json_t *status_bindings(const struct binding_ref *b, size_t nb, const struct policy_ref *v,
			       size_t n)
{
	json_t **o = calloc(nb + 1, sizeof(*o)), *binds = json_array();
	char path[PATH_MAX], safe[PATH_MAX * 4 + 1];

	for (size_t j = 0; o && j < nb; j++) {
		const char *pname = "";

		for (size_t i = 0; i < n; i++)
			if (v[i].id == b[j].policy)
				pname = v[i].name;
		if (cg_path(b[j].cgroup_id, path, sizeof(path)))
			path[0] = '\0';
		/* a sandbox's cgroup name: valid UTF-8 for jansson (events.h) */
		untrusted_str(path, sizeof(path), safe, sizeof(safe));
		o[j] = json_pack("{s:s, s:I, s:s}", "cgroup", safe, "cgroup_id",
				 (json_int_t)b[j].cgroup_id, "policy", pname);
	}
	if (o)
		qsort(o, nb, sizeof(*o), bind_path_cmp);
	for (size_t j = 0; o && j < nb; j++) {
		const char *cg = json_string_value(json_object_get(o[j], "cgroup"));
		json_t *eff = json_array();

		for (size_t k = 0; *cg && k < j; k++) {
			const char *up = json_string_value(json_object_get(o[k], "cgroup"));
			size_t ul = strlen(up);

			if (*up && !strncmp(cg, up, ul) && cg[ul] == '/')
				json_array_append(eff, json_object_get(o[k], "policy"));
		}
		json_array_append(eff, json_object_get(o[j], "policy"));
		json_object_set_new(o[j], "effective", eff);
		json_array_append_new(binds, o[j]);
	}
	free(o);
	return binds;
}

static int do_status(int argc, char **argv)
{
	const char *usage = "status [--json] [--pin-dir DIR]";
	struct common c = {};
	bool json = false;
	const struct opt opts[] = { COMMON_OPTS(c), { "json", false, NULL, &json }, { 0 } };
	json_t *o, *progs, *pols, *binds, *daemon, *lost;
	struct egress_state st;
	struct binding_ref *b = NULL;
	struct policy_ref *v = NULL;
	char err[ERRBUF_LEN], path[PATH_MAX];
	size_t n = 0, nb = 0;
	int npos;

	if (parse(argc, argv, opts, NULL, 0, &npos, &c, usage))
		return 2;
	daemon = egressd_status(state_pin_dir(c.pin_dir), json ? NULL : stdout);
	if (state_open(&st, state_pin_dir(c.pin_dir), 0, err, sizeof(err))) {
		if (json)
			print_json(json_pack("{s:b, s:s, s:s, s:o}", "loaded", 0, "pin_dir",
					     state_pin_dir(c.pin_dir), "error", err, "egressd", daemon));
		else
			fprintf(stderr, "egressctl: status: %s\n", err);
		if (!json)
			json_decref(daemon);
		return 1;
	}
	progs = json_object();
	for (int h = 0; h < EGRESS_NHOOKS; h++) {
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);
		int fd;

		state_pin_path(&st, path, sizeof(path), "progs/%s", egress_hooks[h].name);
		fd = bpf_obj_get(path);
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			json_object_set_new(progs, egress_hooks[h].name, json_integer(info.id));
		else
			json_object_set_new(progs, egress_hooks[h].name, json_null());
		if (fd >= 0)
			close(fd);
	}
	pols = json_array();
	state_policies(&st, &v, &n);
	qsort(v, n, sizeof(*v), ref_cmp);
	state_bindings(&st, &b, &nb);
	for (size_t i = 0; i < n; i++) {
		struct egress_counter sum = {}, one;
		json_t *hooks = json_object();
		struct policy p;
		int bound = 0;

		if (state_policy_summary(&st, v[i].id, &p))
			continue;
		for (int h = 0; h < EGRESS_NHOOKS; h++) {
			state_policy_counters(&st, v[i].id, h, &one);
			sum.allowed += one.allowed;
			sum.denied += one.denied;
			sum.suppressed += one.suppressed;
			sum.dropped += one.dropped;
			sum.audited += one.audited;
			json_object_set_new(hooks, egress_hooks[h].name,
					    json_pack("{s:I, s:I, s:I}", "allowed", (json_int_t)one.allowed,
						      "denied", (json_int_t)one.denied,
						      "audited", (json_int_t)one.audited));
		}
		for (size_t j = 0; j < nb; j++)
			bound += b[j].policy == v[i].id;
		json_array_append_new(pols, json_pack("{s:s, s:i, s:s, s:s, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:o}",
			"name", p.name, "id", (int)v[i].id,
			"default", p.dflt == EGRESS_ALLOW ? "allow" : "deny", "mode", policy_mode(&p),
			"rules", (json_int_t)p.nrules, "bound", bound,
			"allowed", (json_int_t)sum.allowed, "denied", (json_int_t)sum.denied,
			"audited", (json_int_t)sum.audited,
			"events_suppressed", (json_int_t)sum.suppressed,
			"events_dropped", (json_int_t)sum.dropped, "hooks", hooks));
		policy_free(&p);
	}
	binds = status_bindings(b, nb, v, n);
	{
		/* a killed 'egressctl run' left it; and bound cgroups that were
		 * removed (one made again at the path is not bound) */
		struct lost_ref *l = NULL;
		size_t nl = 0, j;
		json_t *e;

		json_array_foreach(binds, j, e)
			json_object_set_new(e, "orphan", json_boolean(state_binding_orphan(&st,
				json_integer_value(json_object_get(e, "cgroup_id")))));
		lost = json_array();
		state_lost(&st, &l, &nl);
		for (j = 0; j < nl; j++)
			json_array_append_new(lost, json_pack("{s:s, s:I, s:s, s:b}", "cgroup", l[j].path,
				"cgroup_id", (json_int_t)l[j].cgroup_id, "policy", l[j].policy,
				"recreated", l[j].recreated));
		free(l);
	}
	o = json_pack("{s:b, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I}", "loaded", 1,
		      "pin_dir", st.pin_dir, "version", EGRESS_VERSION, "egressd", daemon, "programs", progs,
		      "policies", pols, "bindings", binds, "lost_bindings", lost,
		      "ringbuf_drops", (json_int_t)state_stat(&st, EGRESS_STAT_RB_DROPS),
		      "events_delivered", (json_int_t)state_stat(&st, EGRESS_STAT_DELIVERED),
		      "events_suppressed", (json_int_t)state_stat(&st, EGRESS_STAT_SUPPRESSED),
		      "unconfigured_denials", (json_int_t)state_stat(&st, EGRESS_STAT_UNCONFIGURED));
	json_object_set_new(o, "policy_set", policyset_status(&st) ?: json_null());
	if (json) {
		print_json(o);
	} else {
		size_t i;
		json_t *e;
		const char *k;

		printf("egress %s: loaded, pins in %s\nprograms:", EGRESS_VERSION, st.pin_dir);
		json_object_foreach(progs, k, e)
			printf(" %s=%lld", k, (long long)json_integer_value(e));
		printf("\npolicies:\n");
		json_array_foreach(pols, i, e)
			printf("  %-20s default %-5s mode %-7s rules %-7lld bound %-5lld allowed %-10lld "
			       "denied %-10lld audited %lld\n",
			       json_string_value(json_object_get(e, "name")),
			       json_string_value(json_object_get(e, "default")),
			       json_string_value(json_object_get(e, "mode")),
			       json_integer_value(json_object_get(e, "rules")),
			       json_integer_value(json_object_get(e, "bound")),
			       json_integer_value(json_object_get(e, "allowed")),
			       json_integer_value(json_object_get(e, "denied")),
			       json_integer_value(json_object_get(e, "audited")));
		printf("bindings (cgroup -> its policy; below a bound cgroup, every policy on the path decides):\n");
		json_array_foreach(binds, i, e) {
			json_t *eff = json_object_get(e, "effective"), *x;
			const char *cg = json_string_value(json_object_get(e, "cgroup"));
			size_t k, depth = json_array_size(eff);

			printf("%*s%s -> %s", (int)(2 * (depth ? depth : 1)), "", *cg ? cg : "(removed)",
			       json_string_value(json_object_get(e, "policy")));
			if (depth > 1) {
				printf("   (in force:");
				json_array_foreach(eff, k, x)
					printf("%s %s", k ? " \u2227" : "", json_string_value(x));
				printf(")");
			}
			if (json_is_true(json_object_get(e, "orphan")))
				printf("   (orphaned: its 'egressctl run' was killed; gc removes it once empty)");
			printf("\n");
		}
		json_array_foreach(lost, i, e)
			printf("  LOST %s -> %s: the bound cgroup was removed%s\n",
			       json_string_value(json_object_get(e, "cgroup")),
			       json_string_value(json_object_get(e, "policy")),
			       json_is_true(json_object_get(e, "recreated")) ?
			       "; the one there now is NOT bound (attach it, or detach to forget)" : "");
		printf("events: delivered %llu, suppressed by rate limit %llu, dropped (ring buffer full) %llu\n",
		       (unsigned long long)state_stat(&st, EGRESS_STAT_DELIVERED),
		       (unsigned long long)state_stat(&st, EGRESS_STAT_SUPPRESSED),
		       (unsigned long long)state_stat(&st, EGRESS_STAT_RB_DROPS));
		json_decref(o);
	}
	free(v);
	free(b);
	state_close(&st);
	return 0;
}

struct unload_report {
	struct policy_ref *v;
	size_t n;
	int cgroups, links;
};

static void unload_detached(const struct binding_ref *b, int links, void *ctx)
{
	struct unload_report *r = ctx;
	char path[PATH_MAX], safe[PATH_MAX * 4 + 1];
	const char *pol = "(none)";

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].id == b->policy)
			pol = r->v[i].name;
	if (cg_path(b->cgroup_id, path, sizeof(path)))
		snprintf(safe, sizeof(safe), "removed cgroup id:%llu", (unsigned long long)b->cgroup_id);
	else
		untrusted_str(path, sizeof(path), safe, sizeof(safe));
	printf("detached %s (policy %s): %d links\n", safe, pol, links);
	r->cgroups++;
	r->links += links;
}

static int do_unload(int argc, char **argv)
{
	const char *usage = "unload [--pin-dir DIR]";
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { 0 } };
	struct unload_report r = {};
	struct egressd_info info;
	struct egress_state st;
	char err[ERRBUF_LEN], dir[PATH_MAX];
	bool running;
	int npos, ret;

	if (parse(argc, argv, opts, NULL, 0, &npos, &c, usage))
		return 2;
	if (open_state(&st, &c, STATE_LOCK))
		return 1;
	snprintf(dir, sizeof(dir), "%s", st.pin_dir);
	running = presence_read(dir, &info) == 1;	/* before its record goes with the pins */
	state_policies(&st, &r.v, &r.n);
	ret = state_unload(&st, unload_detached, &r, err, sizeof(err));
	state_close(&st);
	free(r.v);
	if (ret)
		return die(1, "%s", err);
	printf("unloaded: detached %d links of %d cgroups and removed every pin in %s; "
	       "nothing is enforced now\n", r.links, r.cgroups, dir);
	if (running)
		fprintf(stderr, "egressctl: unload: egressd (pid %u) still runs and reports that nothing "
			"is enforced; stop it, or restart it to load egress again\n", info.pid);
	return 0;
}

/* ---- check, gc ---------------------------------------------------------- */

static int prog_info_of(struct egress_state *st, int hook, struct bpf_prog_info *info)
{
	uint32_t len = sizeof(*info);
	char path[PATH_MAX];
	int fd, ret;

	memset(info, 0, sizeof(*info));
	state_pin_path(st, path, sizeof(path), "progs/%s", egress_hooks[hook].name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	ret = bpf_obj_get_info_by_fd(fd, info, &len);
	close(fd);
	return ret;
}

/*
 * Whether the program with this id is egress's for the hook: the pinned
 * one, or one of the same name and type (while an egressd restart moves
 * the links to its new programs, the pins and the links differ briefly).
 */
static bool is_ours(uint32_t id, const struct bpf_prog_info *want)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	bool same;
	int fd;

	if (id == want->id)
		return true;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	same = !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == want->type &&
	       !strncmp(info.name, want->name, sizeof(info.name));
	close(fd);
	return same;
}

/*
 * Whether DIR is enforced: every egress program is in DIR's effective
 * program list (BPF_PROG_QUERY), and DIR or an ancestor is bound to a
 * policy that exists.  What is missing goes to out, one line each; the
 * return is how many things are missing (0: enforced).
 */
static int check_enforced(struct egress_state *st, const char *path, int cg_fd, FILE *out)
{
	struct path_bind *pb = NULL;
	int missing = 0, nb;

	for (int h = 0; h < EGRESS_NHOOKS; h++) {
		uint32_t ids[64], cnt = 64, flags = 0;
		struct bpf_prog_info want;
		bool found = false;

		if (prog_info_of(st, h, &want)) {
			fprintf(out, "%s: %s: egress program not loaded\n", path, egress_hooks[h].name);
			missing++;
			continue;
		}
		if (bpf_prog_query(cg_fd, egress_hooks[h].type, BPF_F_QUERY_EFFECTIVE, &flags, ids, &cnt))
			cnt = 0;
		for (uint32_t i = 0; i < cnt && !found; i++)
			found = is_ours(ids[i], &want);
		if (!found) {
			fprintf(out, "%s: %s: no egress program in force\n", path, egress_hooks[h].name);
			missing++;
		}
	}
	/* every bound cgroup on the way up: each decides, all must allow */
	nb = path_bindings(st, path, &pb);
	for (int i = 0; i < nb; i++) {
		if (!pb[i].policy) {
			fprintf(out, "%s: bound at %s, but to no existing policy\n", path, pb[i].dir);
			missing++;
		}
	}
	if (nb <= 0 && !missing) {
		fprintf(out, "%s: neither it nor an ancestor is bound to a policy\n", path);
		missing++;
	}
	if (!missing && nb == 1) {
		fprintf(out, "%s: enforced: policy %s (bound at %s), %d programs in force\n", path,
			pb[0].name, pb[0].dir, EGRESS_NHOOKS);
	} else if (!missing) {
		char eff[EFFECTIVE_LEN];

		fprintf(out, "%s: enforced: policy %s (every one decides:", path,
			effective_str(pb, nb, eff, sizeof(eff)));
		for (int i = 0; i < nb; i++)
			fprintf(out, "%s %s bound at %s", i ? "," : "", pb[i].name, pb[i].dir);
		fprintf(out, "), %d programs in force\n", EGRESS_NHOOKS);
	}
	free(pb);
	return missing;
}

static int do_check(int argc, char **argv)
{
	const char *usage = "check DIR [--pin-dir DIR]";
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { 0 } };
	char err[ERRBUF_LEN], *pos[1];
	struct egress_state st;
	int npos, cg_fd, missing;
	uint64_t cgid;

	if (parse(argc, argv, opts, pos, 1, &npos, &c, usage))
		return 2;
	if (npos != 1)
		return die(2, "missing cgroup directory; usage: egressctl %s", usage);
	if (cg_open(pos[0], &cg_fd, &cgid, err, sizeof(err)))
		return die(1, "%s", err);
	if (open_state(&st, &c, 0)) {
		close(cg_fd);
		return 1;
	}
	missing = check_enforced(&st, pos[0], cg_fd, stdout);
	close(cg_fd);
	state_close(&st);
	return missing ? 1 : 0;
}

static int do_gc(int argc, char **argv)
{
	const char *usage = "gc [--pin-dir DIR]";
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { 0 } };
	struct egress_state st;
	int npos, n;

	if (parse(argc, argv, opts, NULL, 0, &npos, &c, usage))
		return 2;
	if (open_state(&st, &c, STATE_LOCK))
		return 1;
	n = state_gc(&st);
	state_close(&st);
	printf("removed the bindings of %d deleted cgroup%s\n", n, n == 1 ? "" : "s");
	return 0;
}

/* ---- OCI runtime hook -------------------------------------------------- */

/*
 * No network namespace of its own, or a path to the runtime's (the host's)
 * one.  A path that cannot be compared counts as the host's: fail closed.
 */
static bool host_netns(const struct oci_config *cfg)
{
	struct stat a, b;

	if (cfg->own_netns)
		return false;
	if (!cfg->netns_path[0])
		return true;
	if (stat(cfg->netns_path, &a) || stat("/proc/self/ns/net", &b))
		return true;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* p is dir or below it */
static bool path_under(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return true;
	return !strncmp(p, dir, n) && (p[n] == '/' || p[n] == '\0');
}

struct below {
	const char *src;
	bool bpf, cg2;
};

static int mount_below(void *ctx, const struct mount_ent *m)
{
	struct below *b = ctx;

	if (path_under(m->mnt, b->src)) {
		b->bpf |= !strcmp(m->fstype, "bpf");
		b->cg2 |= !strcmp(m->fstype, "cgroup2");
	}
	return 0;
}

static void add_why(char *why, size_t len, const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(why);

	snprintf(why + n, len - n, "%s", n ? ", " : "");
	n = strlen(why);
	snprintf(why + n, len - n, fmt, a, b);
}

/*
 * What in the config's mounts reaches egress's pins or lets the container
 * leave its cgroup: the host's bpffs (a bind mount of it, or of a tree
 * holding it; read-only does not help, BPF_OBJ_GET only reads), a
 * writable cgroup2 bind mount of the host's tree, a writable cgroup2
 * without a cgroup namespace, or no mount namespace at all.
 */
static void mounts_risk(const struct oci_config *cfg, char *why, size_t len)
{
	if (!cfg->own_mountns)
		add_why(why, len, "%s%sthe host's mounts (no mount namespace: its bpffs and cgroup2)", "", "");
	for (size_t i = 0; i < cfg->nmounts; i++) {
		const struct oci_mount *m = &cfg->mounts[i];
		char real[PATH_MAX];
		struct statfs sfs;

		if (m->bind) {
			struct below b = { .src = real };

			if (!realpath(m->source, real) || statfs(real, &sfs))
				continue;	/* the runtime cannot mount it either */
			if (m->rbind)
				mountinfo_each(mount_below, &b);
			if (sfs.f_type == BPF_FS_MAGIC || b.bpf)
				add_why(why, len, "the host's bpffs (%s at %s)", m->source, m->destination);
			if ((sfs.f_type == CGROUP2_SUPER_MAGIC && !m->ro) || (b.cg2 && !m->rro))
				add_why(why, len, "a writable cgroup2 of the host (%s at %s)", m->source,
					m->destination);
		} else if ((!strcmp(m->type, "cgroup") || !strcmp(m->type, "cgroup2")) && !m->ro &&
			   !cfg->own_cgroupns) {
			add_why(why, len, "a writable cgroup2 without a cgroup namespace (at %s)%s",
				m->destination, "");
		}
	}
}

/* FNV-1a of the bundle path: two runtimes may use the same id */
static void oci_key(struct egress_oci_key *key, const struct oci_state *os)
{
	memset(key, 0, sizeof(*key));
	snprintf(key->id, sizeof(key->id), "%s", os->id);
	key->bundle_hash = 0xcbf29ce484222325ULL;
	for (const char *b = os->bundle; *b; b++)
		key->bundle_hash = (key->bundle_hash ^ (unsigned char)*b) * 0x100000001b3ULL;
}

/*
 * poststop: undo what createRuntime made for this container, and only
 * that: the record names the cgroup, the binding there must be the one the
 * hook made for this container (its owner), and the cgroup must have no
 * process left (else another container lives there: its binding stays).
 */
static int oci_poststop(struct egress_state *st, const struct egress_oci_key *key, const char *owner)
{
	char path[PATH_MAX], have[128];
	uint64_t cgid;

	if (state_oci_get(st, key, &cgid))
		return 0;
	state_binding_meta(st, cgid, NULL, 0, have, sizeof(have));
	if (!strcmp(have, owner)) {
		if (!cg_path(cgid, path, sizeof(path)) && cg_populated(path))
			fprintf(stderr, "egressctl: oci-hook: warning: container %s: cgroup %s still has "
				"processes; its binding stays (gc removes it with the cgroup)\n", key->id, path);
		else
			state_unbind_id(st, cgid);
	}
	state_oci_del(st, key);
	return 0;
}

/*
 * createRuntime (default): bind the container's cgroup to its policy and
 * verify enforcement before its process runs; any failure exits non-zero,
 * so the runtime does not start the container.  The hook binds only the
 * container's own cgroup: one that is not bound yet and holds nothing but
 * the container's process.  poststop: undo that.
 */
static int do_oci_hook(int argc, char **argv)
{
	const char *usage = "oci-hook [poststop] [--policy NAME] [--strict] [--pin-dir DIR]  (OCI state JSON on stdin)";
	const char *policy = NULL;
	struct common c = {};
	bool strict = false;
	const struct opt opts[] = { COMMON_OPTS(c), { "policy", true, &policy, NULL },
				    { "strict", false, NULL, &strict }, { 0 } };
	char err[ERRBUF_LEN], *pos[1], *json = NULL, *cfgjson = NULL, cgdir[PATH_MAX];
	char owner[OCI_ID_MAX + 32], why[1024] = "";
	struct egress_oci_key key = {};
	struct egress_state st = { .dir_fd = -1 };
	struct oci_config cfg = {};
	struct oci_state os;
	bool poststop, bound = false;
	uint64_t cgid, old;
	uint32_t id;
	size_t len;
	int npos, ret = 1, cg_fd = -1;

	state_init(&st);
	if (parse(argc, argv, opts, pos, 1, &npos, &c, usage))
		return 2;
	poststop = npos == 1 && !strcmp(pos[0], "poststop");
	if (npos == 1 && !poststop)
		return die(2, "unknown stage '%s' (createRuntime is the default; or poststop)", pos[0]);
	if (policy && parse_policy_name(policy, err, sizeof(err)))
		return die(2, "%s", err);
	json = read_text("-", 1 << 20, &len);
	if (!json)
		return die(1, "cannot read the OCI state on stdin: %s", strerror(errno));
	if (oci_state_parse(json, len, !poststop, &os, err, sizeof(err))) {
		ret = die(1, "%s", err);
		goto cleanup;
	}
	oci_key(&key, &os);
	snprintf(owner, sizeof(owner), "oci %s %016llx", os.id, (unsigned long long)key.bundle_hash);

	if (poststop) {
		if (open_state(&st, &c, STATE_LOCK))
			goto cleanup;
		ret = oci_poststop(&st, &key, owner);
		goto cleanup;
	}

	/* the bundle's config: annotations, capabilities, namespaces, mounts */
	if (os.bundle[0]) {
		char path[sizeof(os.bundle) + 16];

		snprintf(path, sizeof(path), "%s/config.json", os.bundle);
		cfgjson = read_text(path, 16 << 20, &len);
		if (!cfgjson) {
			ret = die(1, "container %s: cannot read %s: %s", os.id, path, strerror(errno));
			goto cleanup;
		}
		if (oci_config_parse(cfgjson, len, &cfg, err, sizeof(err))) {
			ret = die(1, "container %s: %s", os.id, err);
			goto cleanup;
		}
	}
	if (!policy)
		policy = os.policy[0] ? os.policy : cfg.policy[0] ? cfg.policy : NULL;
	if (!policy) {
		ret = die(1, "container %s: no policy (pass --policy or set the annotation %s)", os.id,
			  OCI_ANNOTATION);
		goto cleanup;
	}
	if (cfg.risky_caps[0])
		add_why(why, sizeof(why), "%s%s", cfg.risky_caps, "");
	if (host_netns(&cfg))
		add_why(why, sizeof(why), "%s%s", "the host's network namespace", "");
	if (os.bundle[0])
		mounts_risk(&cfg, why, sizeof(why));
	if (why[0]) {
		if (strict) {
			ret = die(1, "container %s: refused (--strict): its config defeats egress: %s",
				  os.id, why);
			goto cleanup;
		}
		fprintf(stderr, "egressctl: oci-hook: warning: container %s: its config weakens egress: %s\n",
			os.id, why);
	}
	if (cg_of_pid(os.pid, cgdir, sizeof(cgdir), err, sizeof(err)) ||
	    cg_open(cgdir, &cg_fd, &cgid, err, sizeof(err))) {
		ret = die(1, "container %s: %s", os.id, err);
		goto cleanup;
	}
	if (open_state(&st, &c, STATE_LOCK))
		goto cleanup;
	/* only the container's own cgroup, bound by nobody else */
	{
		char at[PATH_MAX + EGRESS_NAME_MAX + 2], have[128] = "", links[PATH_MAX];

		state_pin_path(&st, links, sizeof(links), "links/%llu", (unsigned long long)cgid);
		if (!access(links, F_OK)) {
			state_binding_meta(&st, cgid, at, sizeof(at), have, sizeof(have));
			if (strcmp(have, owner)) {
				ret = die(1, "container %s: cgroup %s is already bound (%s%s%s); the hook binds "
					  "only a container's own, unbound cgroup", os.id, cgdir,
					  at[0] ? "policy " : "", at[0] ? at : "", have[0] ? ", by another" : "");
				goto cleanup;
			}
		}
		if (cg_own(cgdir, os.pid, err, sizeof(err))) {
			ret = die(1, "container %s: %s", os.id, err);
			goto cleanup;
		}
		if (!state_oci_get(&st, &key, &old) && old != cgid &&
		    cg_path(old, at, sizeof(at)) != -ENOENT) {
			ret = die(1, "container %s: this id and bundle already have a binding, on cgroup %s",
				  os.id, at);
			goto cleanup;
		}
	}
	if (state_policy_find(&st, policy, &id, err, sizeof(err)) ||
	    state_bind(&st, cgdir, id, err, sizeof(err))) {
		ret = die(1, "container %s: %s", os.id, err);
		goto cleanup;
	}
	bound = true;
	state_binding_owner(&st, cgid, owner);
	if (state_oci_put(&st, &key, cgid)) {
		ret = die(1, "container %s: cannot record the binding: %s", os.id, strerror(errno));
		goto cleanup;
	}
	/* verify, as 'egressctl check' does, before the container's process runs */
	{
		char *report = NULL;
		size_t rlen = 0;
		FILE *m = open_memstream(&report, &rlen);
		int missing = m ? check_enforced(&st, cgdir, cg_fd, m) : 1;

		if (m)
			fclose(m);
		if (missing) {
			if (report)
				report[strcspn(report, "\n")] = '\0';
			ret = die(1, "container %s: not enforced: %s", os.id, report ? report : "?");
			free(report);
			goto cleanup;
		}
		free(report);
	}
	bound = false;	/* keep it */
	ret = 0;
cleanup:
	if (bound && ret) {
		/* fail closed: the container will not start; leave nothing half-done */
		state_unbind_id(&st, cgid);
		state_oci_del(&st, &key);
	}
	if (cg_fd >= 0)
		close(cg_fd);
	state_close(&st);
	oci_config_free(&cfg);
	free(json);
	free(cfgjson);
	return ret;
}

/* ---- events ------------------------------------------------------------- */

static volatile sig_atomic_t events_stop;

static void on_stop(int sig)
{
	events_stop = 1;
}

static int do_events(int argc, char **argv)
{
	const char *usage = "events [--follow] [--cgroup DIR] [--format json|text|hint] [--socket PATH]";
	const char *cgroup = NULL, *format = "json", *sock = NULL;
	struct common c = {};
	bool follow = false;
	const struct opt opts[] = { COMMON_OPTS(c), { "follow", false, NULL, &follow },
				    { "cgroup", true, &cgroup, NULL }, { "format", true, &format, NULL },
				    { "socket", true, &sock, NULL }, { 0 } };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sigaction act = { .sa_handler = on_stop };
	char real[PATH_MAX] = "", err[ERRBUF_LEN], safe[PATH_MAX * 4 + 1];
	enum log_format fmt;
	json_t *req;
	char *line = NULL, *reqs;
	size_t cap = 0;
	int npos, fd, ret = 0;
	FILE *in;

	if (parse(argc, argv, opts, NULL, 0, &npos, &c, usage))
		return 2;
	if (parse_log_format(format, &fmt))
		return die(2, "invalid --format '%s': json, text or hint", format);
	if (cgroup) {
		uint64_t id;
		int cfd;

		if (cg_open(cgroup, &cfd, &id, err, sizeof(err)))
			return die(1, "%s", err);
		close(cfd);
		if (!realpath(cgroup, real))
			return die(1, "cgroup '%s': %s", cgroup, strerror(errno));
	}
	sock = events_socket_path(sock);
	if (strlen(sock) >= sizeof(sa.sun_path))
		return die(2, "socket path too long: %s", sock);
	strcpy(sa.sun_path, sock);
	/* egressd shows cgroup paths made safe (events.h): match them so */
	untrusted_str(real, sizeof(real), safe, sizeof(safe));
	req = json_pack("{s:s, s:b}", "cgroup", safe, "follow", follow);
	reqs = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!reqs)
		return die(1, "cannot make the request: %s", strerror(ENOMEM));
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * With --follow, a stream that egressd closes (it stopped or restarts)
	 * is opened again as soon as egressd is back, and stderr says so.
	 */
	for (bool again = false, live = false; !events_stop; again |= live) {
		bool ended = false;

		live = false;

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			if (!again) {
				free(reqs);
				return die(1, e == EACCES || e == EPERM ?
					   "permission denied on egressd's socket %s: run as root, or as a user "
					   "the socket's mode lets in (%s)" :
					   "egressd is not running or not reachable (%s: %s)", sock, strerror(e));
			}
			nanosleep(&(struct timespec){ .tv_nsec = 500000000 }, NULL);
			continue;
		}
		if (dprintf(fd, "%s\n", reqs) < 0) {
			ret = die(1, "cannot talk to egressd: %s", strerror(errno));
			close(fd);
			break;
		}
		in = fdopen(fd, "r");
		if (!in) {
			close(fd);
			ret = die(1, "%s", strerror(errno));
			break;
		}
		while (!events_stop && getline(&line, &cap, in) > 0) {
			json_t *ev = json_loads(line, 0, NULL);

			if (!ev)
				continue;
			if (json_object_get(ev, "lost")) {
				fprintf(stderr, "egressctl: events: %lld events lost (this reader was too slow)\n",
					(long long)json_integer_value(json_object_get(ev, "lost")));
			} else if (json_object_get(ev, "error")) {
				ret = die(1, "egressd: %s", json_string_value(json_object_get(ev, "error")));
			} else if (json_object_get(ev, "end")) {
				json_decref(ev);
				ended = true;
				break;
			} else if (json_object_get(ev, "live")) {
				live = true;
				fprintf(stderr, "egressctl: events: %s egressd on %s, following\n",
					again ? "reconnected to" : "connected to", sock);
			} else {
				event_print(ev, fmt, stdout);
			}
			json_decref(ev);
		}
		fclose(in);
		if (ret || ended || events_stop)
			break;
		if (!follow || (!live && !again)) {
			ret = die(1, "egressd closed the event stream (it stopped, or refused this reader)");
			break;
		}
		if (live)
			fprintf(stderr, "egressctl: events: egressd closed the stream (stopped or "
				"restarting); reconnecting when it is back\n");
		else	/* an egressd on its way out: try again */
			nanosleep(&(struct timespec){ .tv_nsec = 500000000 }, NULL);
	}
	free(line);
	free(reqs);
	return ret;
}

/* ---- advise ------------------------------------------------------------- */

static uint64_t *subtree_ids;
static size_t subtree_n, subtree_cap;

static int subtree_add(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	if (type != FTW_D)
		return 0;
	if (subtree_n == subtree_cap) {
		size_t cap = subtree_cap ? 2 * subtree_cap : 256;
		uint64_t *nv = realloc(subtree_ids, cap * sizeof(*nv));

		if (!nv)
			return -1;
		subtree_ids = nv;
		subtree_cap = cap;
	}
	subtree_ids[subtree_n++] = sb->st_ino;	/* a cgroup2 directory's inode is its id */
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static const char *policy_ref_name(uint32_t id, void *ctx)
{
	const struct { struct policy_ref *v; size_t n; } *refs = ctx;

	for (size_t i = 0; i < refs->n; i++)
		if (refs->v[i].id == id)
			return refs->v[i].name;
	return NULL;
}

static int do_advise(int argc, char **argv)
{
	const char *usage = "advise --cgroup DIR [--since DURATION] [--name NAME]";
	const char *cgroup = NULL, *since = NULL, *name = NULL;
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { "cgroup", true, &cgroup, NULL },
				    { "since", true, &since, NULL }, { "name", true, &name, NULL }, { 0 } };
	char real[PATH_MAX], err[ERRBUF_LEN], defname[EGRESS_NAME_MAX], header[PATH_MAX + 128];
	struct { struct policy_ref *v; size_t n; } refs = {};
	struct seen_rec *recs = NULL;
	struct path_bind *pb = NULL;
	struct policy base;
	struct egress_state st;
	uint64_t since_ns = 0, from = 0, id;
	bool have_base = false;
	uint32_t pol;
	size_t n = 0, m = 0;
	int npos, fd, ret;

	if (parse(argc, argv, opts, NULL, 0, &npos, &c, usage))
		return 2;
	if (!cgroup)
		return die(2, "--cgroup DIR is required (see 'egressctl advise --help')");
	if (since && advise_duration(since, &since_ns, err, sizeof(err)))
		return die(2, "--since: %s", err);
	if (name && parse_policy_name(name, err, sizeof(err)))
		return die(2, "--name: %s", err);
	if (cg_open(cgroup, &fd, &id, err, sizeof(err)))
		return die(2, "%s", err);
	close(fd);
	if (!realpath(cgroup, real))
		return die(2, "cgroup '%s': %s", cgroup, strerror(errno));
	if (!name) {
		advise_default_name(real, defname);
		name = defname;
	}
	if (open_state(&st, &c, 0))
		return 1;
	subtree_n = 0;
	if (nftw(real, subtree_add, 32, FTW_PHYS | FTW_MOUNT)) {
		ret = die(1, "cannot walk the cgroups below '%s': %s", real, strerror(errno));
		goto cleanup;
	}
	qsort(subtree_ids, subtree_n, sizeof(*subtree_ids), u64_cmp);
	/* bound: DIR, an ancestor, or a cgroup below DIR */
	ret = path_bindings(&st, real, &pb);
	free(pb);
	if (ret == 0) {
		struct binding_ref *b = NULL;
		size_t nb = 0;

		if (!state_bindings(&st, &b, &nb))
			for (size_t i = 0; i < nb && !ret; i++)
				ret = !!bsearch(&b[i].cgroup_id, subtree_ids, subtree_n, sizeof(*subtree_ids),
						u64_cmp);
		free(b);
	}
	if (ret <= 0) {
		ret = ret < 0 ? die(1, "cannot read the bindings of '%s': %s", real, strerror(-ret)) :
		      die(1, "cgroup '%s' is not bound: nothing on its path or below it is bound to a policy, "
			  "so nothing there is denied (bind a candidate first: egressctl attach DIR --policy NAME)",
			  real);
		goto cleanup;
	}
	ret = state_seen(&st, &recs, &n);
	if (ret) {
		ret = die(1, ret == -ENOENT ? "egress_seen is missing: the pins in %s were made by an older "
			  "egressd (restart egressd to record denied destinations)" :
			  "cannot read the denied destinations in %s: %s", st.pin_dir, strerror(-ret));
		goto cleanup;
	}
	if (since_ns) {
		struct timespec ts;

		clock_gettime(CLOCK_BOOTTIME, &ts);	/* the clock of bpf_ktime_get_boot_ns() */
		from = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
		from = from > since_ns ? from - since_ns : 1;
	}
	for (size_t i = 0; i < n; i++)
		if (advise_match(&recs[i], subtree_ids, subtree_n, from))
			recs[m++] = recs[i];
	if (state_policies(&st, &refs.v, &refs.n)) {
		ret = die(1, "cannot read policies");
		goto cleanup;
	}
	if (!state_policy_id(&st, name, &pol)) {
		ret = state_policy_load(&st, pol, &base);
		if (ret) {
			ret = die(1, "cannot read policy '%s': %s", name, strerror(-ret));
			goto cleanup;
		}
		have_base = true;
	}
	snprintf(header, sizeof(header), "egressctl advise --cgroup %s%s%s --name %s", real,
		 since ? " --since " : "", since ? since : "", name);
	ret = advise_print(stdout, recs, m, &(struct advise_out){
		.name = name, .header = header, .base = have_base ? &base : NULL,
		.policy_name = policy_ref_name, .ctx = &refs });
	ret = ret < 0 ? die(1, "%s", strerror(-ret)) : 0;
cleanup:
	if (have_base)
		policy_free(&base);
	free(refs.v);
	free(recs);
	state_close(&st);
	return ret;
}

/* ---- explain ------------------------------------------------------------ */

#include "explain.h"

#define EXPLAIN_USAGE "explain (--cgroup DIR | --policy NAME) DST [--proto tcp|udp] [--port N] [--json]"

/*
 * Exit 0: allowed, 1: denied, 2: no answer (bad usage, bad destination,
 * unknown policy, DIR not a cgroup or not bound anywhere on its path,
 * egress not loaded).  --batch: 2 if a line was bad, else 0.
 */
static int do_explain(int argc, char **argv)
{
	const char *usage = EXPLAIN_USAGE " [--batch]";
	const char *cgroup = NULL, *policy = NULL, *proto_s = NULL, *port_s = NULL;
	bool json = false, batch = false;
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { "cgroup", true, &cgroup, NULL },
				    { "policy", true, &policy, NULL }, { "proto", true, &proto_s, NULL },
				    { "port", true, &port_s, NULL }, { "json", false, NULL, &json },
				    { "batch", false, NULL, &batch }, { 0 } };
	char err[ERRBUF_LEN], *pos[1], *line = NULL;
	struct explain_answer a;
	struct egress_state st;
	struct explain_dest d;
	struct explain_ctx x;
	unsigned long lineno = 0;
	int npos, port, ret;
	size_t cap = 0;
	uint8_t proto;

	if (parse(argc, argv, opts, pos, 1, &npos, &c, usage))
		return 2;
	if (!cgroup == !policy)
		return die(2, "give one of --cgroup DIR and --policy NAME; usage: egressctl %s", EXPLAIN_USAGE);
	if (batch && (npos || proto_s || port_s))
		return die(2, "--batch reads 'DST [tcp|udp] [PORT]' lines from stdin: no DST, --proto "
			   "or --port on the command line");
	if (!batch && npos != 1)
		return die(2, "missing destination; usage: egressctl %s", EXPLAIN_USAGE);
	if (!batch && (explain_parse_dest(pos[0], &d, err, sizeof(err)) ||
		       explain_parse_case(proto_s, port_s, &proto, &port, err, sizeof(err))))
		return die(2, "%s", err);
	if (state_open(&st, state_pin_dir(c.pin_dir), 0, err, sizeof(err)))
		return die(2, "%s", err);
	ret = cgroup ? explain_load_cgroup(&st, cgroup, &x, err, sizeof(err))
		     : explain_load_policy(&st, policy, &x, err, sizeof(err));
	state_close(&st);
	if (ret)
		return die(2, "%s", ret == -ENOMEM ? strerror(ENOMEM) : err);
	if (batch) {
		setvbuf(stdout, NULL, _IOLBF, 0);	/* a driver reads each answer as it comes */
		while (getline(&line, &cap, stdin) > 0) {
			int r = explain_batch_line(stdout, &x, line, ++lineno);

			if (r == -EINVAL)
				ret = 2;
			else if (r)
				return die(2, "line %lu: %s", lineno, strerror(-r));
		}
		free(line);
		explain_ctx_free(&x);
		return ret;
	}
	if (explain_run(&x, &d, proto, port, &a))
		return die(2, "%s", strerror(ENOMEM));
	if (json)
		print_json(explain_json(&x, &a));
	else
		explain_print(stdout, &x, &a);
	ret = a.verdict == EGRESS_ALLOW ? 0 : 1;
	explain_answer_free(&a);
	explain_ctx_free(&x);
	return ret;
}

/* ---- main --------------------------------------------------------------- */

static int do_help(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "allow", do_allow, "allow CIDR [--proto P] [--port N|N-M] [--policy NAME]" },
	{ "deny", do_deny, "deny CIDR [--proto P] [--port N|N-M] [--policy NAME]" },
	{ "remove", do_remove, "remove CIDR [--proto P] [--port N|N-M] [--policy NAME]" },
	{ "list", do_list, "list [--policy NAME] [--json]" },
	{ "policy", do_policy, "policy add|set NAME [--default allow|deny] [--errno E] [--hint T]; delete NAME; list" },
	{ "attach", do_attach, "attach DIR [--policy NAME] [--keep-established]" },
	{ "detach", do_detach, "detach DIR" },
	{ "move", do_move, "move PID... --to DIR | move --cgroup SRC --to DIR" },
	{ "check", do_check, "check DIR                 (exit 1 unless DIR is fully enforced)" },
	{ "explain", do_explain, EXPLAIN_USAGE "  (exit 0 allowed, 1 denied)" },
	{ "oci-hook", do_oci_hook, "oci-hook [poststop] [--policy NAME] [--strict]  (OCI runtime hook)" },
	{ "gc", do_gc, "gc                        (drop the bindings of deleted cgroups)" },
	{ "run", do_run, "run [--policy NAME] [--cgroup-parent DIR] -- CMD [ARG...]" },
	{ "apply", do_apply, "apply -f FILE" },
	{ "export", do_export, "export [--policy NAME]" },
	{ "status", do_status, "status [--json]" },
	{ "events", do_events, "events [--follow] [--cgroup DIR] [--format json|text|hint] [--socket PATH]" },
	{ "advise", do_advise, "advise --cgroup DIR [--since DURATION] [--name NAME]" },
	{ "unload", do_unload, "unload" },
	{ "help", do_help, "help" },
};

static int do_help(int argc, char **argv)
{
	printf("usage: egressctl COMMAND [ARGS] [--pin-dir DIR] [--help]\n"
	       "       egressctl --help | --version\n"
	       "Edits egress's policies and bindings live, through the pinned maps (egressd need not run).\n\n"
	       "commands:\n");
	for (size_t i = 0; i < NHELPS; i++)
		printf("  %s\n      %.*s\n", helps[i].usage, (int)strcspn(helps[i].what, "\n"), helps[i].what);
	printf("\noptions of every command:\n" PIN_HELP
	       "  --help               the command's options, their defaults and an example\n"
	       "options of egressctl itself:\n"
	       "  --help, -h           this overview\n"
	       "  --version            the version\n"
	       "\nexit status: 0 done, 1 failed, 2 bad usage.  'egressctl COMMAND --help' for one command.\n");
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(libbpf_quiet);
	if (argc < 2)
		return do_help(0, NULL), 2;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return do_help(0, NULL);
	if (!strcmp(argv[1], "--version")) {
		printf("egressctl %s\n", EGRESS_VERSION);
		return 0;
	}
	/* whole names only: a prefix could one day mean another command */
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			cmd_name = commands[i].name;
			return commands[i].fn(argc - 2, argv + 2);
		}
	}
	{
		const char *names[sizeof(commands) / sizeof(commands[0])], *near;

		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			names[i] = commands[i].name;
		near = closest(argv[1], names, sizeof(commands) / sizeof(commands[0]));
		if (near)
			fprintf(stderr, "egressctl: unknown command '%s' (did you mean %s? see 'egressctl help')\n",
				argv[1], near);
		else
			fprintf(stderr, "egressctl: unknown command '%s' (see 'egressctl help')\n", argv[1]);
	}
	return 2;
}

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
#include "hits.h"
#include "oci.h"
#include "options.h"
#include "policyset.h"
#include "revoke.h"
#include "state.h"

#ifndef EGRESS_VERSION
#define EGRESS_VERSION "dev"
#endif

static const char *cmd_name = "egressctl";

/* Prints "egressctl: CMD: ..." on stderr and returns code, for "return errorf(1, ...)". */
static int errorf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int errorf(int code, const char *fmt, ...)
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

/*
 * Options every command takes: each command's struct of options has these
 * as c, and its table ends with COMMON_SPEC.
 */
struct common {
	const char *pin_dir;
	bool help;
};
#define PIN_DIR_HELP "the pin directory (default: $EGRESS_PIN_DIR, else " EGRESS_DEFAULT_PIN_DIR ")"
#define COMMON_OPTS(T)                                                                         \
	OPTION_STR(T, c.pin_dir, "pin-dir", "DIR", PIN_DIR_HELP, .flags = OPT_COMMON),           \
	OPTION_FLAG(T, c.help, "help", "this help", .flags = OPT_COMMON)
#define COMMON_SPEC(T) COMMON_OPTS(T), OPTION_END

/*
 * A command: its options (from which its synopsis and option list come,
 * unless synopsis says otherwise), one line of what it does, and where it
 * helps the file format and an example.  The top-level help lists them.
 */
struct command {
	const char *name;			/* "allow", "policy add" */
	int (*fn)(int argc, char **argv);
	const struct opt_spec *spec;
	const char *synopsis;			/* NULL: from spec */
	const char *what, *more;
};
static const struct command commands[];
static const size_t ncommands;

/* The command being run: "allow", "policy add" and the like. */
static const struct command *current;

static const struct command *command_named(const char *name)
{
	for (size_t i = 0; i < ncommands; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/*
 * "attach DIR [--policy NAME] [--keep-established]", with common and
 * "[--pin-dir DIR]": as in the usage of the command's help and errors.
 */
static const char *synopsis(const struct command *cmd, bool common, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");

	if (!f)
		return cmd->name;
	if (cmd->synopsis)
		fprintf(f, "%s%s", cmd->synopsis, common ? " [--pin-dir DIR]" : "");
	else
		opts_synopsis(f, cmd->name, cmd->spec, common);
	fclose(f);
	return buf;
}
#define SYNOPSIS_LEN 1024
/* The current command's usage, for error lines. */
#define USAGE() synopsis(current, true, (char[SYNOPSIS_LEN]){ 0 }, SYNOPSIS_LEN)

static void print_help(const struct command *cmd)
{
	char syn[SYNOPSIS_LEN];

	printf("usage: egressctl %s\n%s\n\noptions:\n", synopsis(cmd, true, syn, sizeof(syn)), cmd->what);
	opts_usage(stdout, cmd->spec);
	if (cmd->more)
		printf("\n%s", cmd->more);
}

/*
 * Parses the current command's options by its table into out.  0, or the
 * exit status: after --help 0 (printed, exits), bad usage 2 (one line).
 */
static int parse_opts(int argc, char **argv, void *out)
{
	char err[ERRBUF_LEN];
	int ret = opts_parse(current->spec, argc, argv, out, 0, err, sizeof(err));

	if (ret == OPTS_HELP) {
		print_help(current);
		exit(0);
	}
	if (ret == -EDOM)	/* the line names the option and what it takes */
		return errorf(2, "%s", err);
	if (ret)
		return errorf(2, "%s (see 'egressctl %s --help')", err, current->name);
	return 0;
}

static int open_state(struct egress_state *st, const struct common *c, int flags)
{
	char err[ERRBUF_LEN];

	if (state_open(st, state_pin_dir(c->pin_dir), flags, err, sizeof(err)))
		return errorf(1, "%s", err);
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

/* ---- rules -------------------------------------------------------------- */

/* The words are cmdline.c's, shared with policy files; --pin-dir and --help are ours. */
struct rule_opts {
	struct rule_words w;
	struct common c;
};
static const struct opt_spec rule_spec[] = {
	OPTION_INCLUDE(struct rule_opts, w, rule_words_spec),
	COMMON_SPEC(struct rule_opts),
};

enum rule_verb { RULE_ALLOW, RULE_DENY, RULE_REMOVE };

static int rule_command(int argc, char **argv, enum rule_verb verb)
{
	struct rule_opts o = {};
	struct egress_state st;
	char err[ERRBUF_LEN];
	struct rule_cmd rc;
	const char *name;
	uint32_t id;
	int ret;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (rule_cmd_check(&o.w, &rc, err, sizeof(err)))
		return errorf(2, "%s (see 'egressctl %s --help')", err, cmd_name);
	rc.rule.action = verb == RULE_ALLOW ? EGRESS_ALLOW : EGRESS_DENY;
	name = rc.policy ? rc.policy : "default";

	if (open_state(&st, &o.c, STATE_LOCK))
		return 1;
	ret = state_policy_find(&st, name, &id, err, sizeof(err));
	if (ret)
		goto out;
	/* the store reads and writes only what the rule touches */
	ret = state_policy_edit(&st, id, &rc.rule, verb == RULE_REMOVE, err, sizeof(err));
	if (!ret && verb != RULE_ALLOW) {
		/* an allow only turns denials into allows: it never narrows */
		struct revoke_scope sc = { .policies = &id, .npolicies = 1 };

		ret = revoke_after_change(&st, &sc, NULL, err, sizeof(err));
	}
out:
	state_close(&st);
	return ret ? errorf(1, "%s", err) : 0;
}

static int do_allow(int argc, char **argv)
{
	return rule_command(argc, argv, RULE_ALLOW);
}

static int do_deny(int argc, char **argv)
{
	return rule_command(argc, argv, RULE_DENY);
}

static int do_remove(int argc, char **argv)
{
	return rule_command(argc, argv, RULE_REMOVE);
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

static json_t *hits_json(struct egress_hits h)
{
	return json_pack("{s:I, s:I, s:I}", "allowed", (json_int_t)h.allowed, "denied",
			 (json_int_t)h.denied, "audited", (json_int_t)h.audited);
}

/* list --counters: every rule, then the default, with its decisions (hits.h). */
static void list_counters(const struct policy *p, const struct egress_hits *hits, uint32_t nhits,
			  bool json)
{
	struct egress_hits d = hits_of(hits, nhits, p->dflt_id);
	const char *dflt = p->dflt == EGRESS_ALLOW ? "allow" : "deny";

	if (json) {
		json_t *a = json_array();

		for (size_t i = 0; i < p->nrules; i++) {
			json_t *r = rule_json(&p->rules[i]);

			json_object_set_new(r, "policy", json_string(p->name));
			json_object_set_new(r, "default", json_false());
			json_object_set_new(r, "hits", hits_json(hits_of(hits, nhits, p->rules[i].id)));
			json_array_append_new(a, r);
		}
		json_array_append_new(a, json_pack("{s:s, s:n, s:n, s:n, s:s, s:b, s:o}", "action", dflt,
						   "cidr", "proto", "port", "policy", p->name,
						   "default", 1, "hits", hits_json(d)));
		print_json(a);
		return;
	}
	printf("%-6s %-43s %-5s %-11s %-12s %12s %12s %12s\n", "ACTION", "CIDR", "PROTO", "PORT",
	       "POLICY", "ALLOWED", "DENIED", "AUDITED");
	for (size_t i = 0; i <= p->nrules; i++) {
		const struct rule *r = i < p->nrules ? &p->rules[i] : NULL;
		struct egress_hits h = r ? hits_of(hits, nhits, r->id) : d;
		char cs[CIDR_STR_LEN] = "(default)", ps[PORTS_STR_LEN] = "any";

		if (r) {
			format_cidr(&r->cidr, cs, sizeof(cs));
			if (r->port_lo != 0 || r->port_hi != 65535)
				format_ports(r->port_lo, r->port_hi, ps, sizeof(ps));
		}
		printf("%-6s %-43s %-5s %-11s %-12s %12llu %12llu %12llu\n",
		       r ? (r->action == EGRESS_ALLOW ? "allow" : "deny") : dflt, cs,
		       r && r->proto ? proto_name(r->proto) : "any", ps, p->name,
		       (unsigned long long)h.allowed, (unsigned long long)h.denied,
		       (unsigned long long)h.audited);
	}
}

struct list_opts {
	const char *policy;
	bool json;
	bool counters;
	struct common c;
};
static const struct opt_spec list_spec[] = {
	/* no table default: --counters must tell whether --policy was given */
	OPTION_STR(struct list_opts, policy, "policy", "NAME", "the policy (default: default)"),
	OPTION_FLAG(struct list_opts, json, "json", "a JSON array of {action, cidr, proto, port, policy}"),
	OPTION_FLAG(struct list_opts, counters, "counters",
		    "with --policy: each rule's and the default's decisions (columns\n"
		    "ALLOWED DENIED AUDITED; JSON: hits {allowed, denied, audited}, the\n"
		    "default last with \"default\": true)"),
	COMMON_SPEC(struct list_opts),
};

static int do_list(int argc, char **argv)
{
	struct list_opts o = {};
	struct egress_hits *hits = NULL;
	uint32_t nhits = 0;
	const char *name;
	struct egress_state st;
	char err[ERRBUF_LEN];
	struct policy p;
	uint32_t id;
	int ret;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (o.counters && !o.policy)
		return errorf(2, "--counters needs --policy NAME: the counters of one policy "
			      "(see 'egressctl list --help')");
	name = o.policy ? o.policy : "default";
	if (open_state(&st, &o.c, 0))
		return 1;
	ret = state_policy_find(&st, name, &id, err, sizeof(err));
	if (ret && o.counters) {
		state_close(&st);
		return errorf(2, "%s (see 'egressctl policy list')", err);
	}
	if (!ret) {
		ret = state_policy_load(&st, id, &p);
		if (ret)
			snprintf(err, sizeof(err), "cannot read policy '%s': %s", name, strerror(-ret));
	}
	if (!ret && o.counters && (ret = hits_read(&st, &hits, &nhits)))
		snprintf(err, sizeof(err), "cannot read the hit counters: %s", strerror(-ret));
	state_close(&st);
	if (ret)
		return errorf(1, "%s", err);
	if (o.counters) {
		list_counters(&p, hits, nhits, o.json);
		free(hits);
		policy_free(&p);
		return 0;
	}
	if (o.json) {
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


static int count_in(const struct binding_ref *b, size_t n, uint32_t id)
{
	int cnt = 0;

	for (size_t i = 0; i < n; i++)
		cnt += b[i].policy == id;
	return cnt;
}

static int count_bound(struct egress_state *st, uint32_t id)
{
	struct binding_ref *b;
	size_t n;
	int cnt;

	if (state_bindings(st, &b, &n))
		return 0;
	cnt = count_in(b, n, id);
	free(b);
	return cnt;
}

static const char *policy_mode(const struct policy *p)
{
	return p->flags & EGRESS_POL_AUDIT ? "audit" : "enforce";
}

struct policy_opts {
	struct policy_words w;
	struct common c;
};
/* The words are cmdline.c's, shared with policy files; --pin-dir and --help are ours. */
static const struct opt_spec policy_add_spec[] = {
	OPTION_INCLUDE(struct policy_opts, w, policy_words_spec),
	COMMON_SPEC(struct policy_opts),
};

static int policy_add_or_set(int argc, char **argv, bool add)
{
	struct policy_opts o = { .w = POLICY_WORDS_INIT };
	char err[ERRBUF_LEN];
	struct egress_state st;
	struct policy_cmd pc;
	struct policy p = {};
	uint32_t id = 0;
	int ret;
	bool narrows;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (policy_add_check(&o.w, &pc, err, sizeof(err)))
		return errorf(2, "%s (see 'egressctl policy %s --help')", err, add ? "add" : "set");
	if (open_state(&st, &o.c, STATE_LOCK))
		return 1;
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
	return ret ? errorf(1, "%s", err) : 0;
}

struct name_opts {
	const char *name;
	struct common c;
};
static const struct opt_spec policy_delete_spec[] = {
	OPTION_POS(struct name_opts, name, "NAME", NULL),
	COMMON_SPEC(struct name_opts),
};

static int policy_add(int argc, char **argv)
{
	return policy_add_or_set(argc, argv, true);
}

static int policy_set(int argc, char **argv)
{
	return policy_add_or_set(argc, argv, false);
}

static int policy_delete(int argc, char **argv)
{
	struct name_opts opts = {};
	struct egress_state st;
	char err[ERRBUF_LEN];
	uint32_t id;
	int ret, bound;

	if (parse_opts(argc, argv, &opts))
		return 2;
	if (!opts.name)
		return errorf(2, "missing policy name; usage: egressctl %s", USAGE());
	if (!strcmp(opts.name, "default"))
		return errorf(1, "policy 'default' cannot be deleted (empty it with 'apply')");
	if (open_state(&st, &opts.c, STATE_LOCK))
		return 1;
	ret = state_policy_find(&st, opts.name, &id, err, sizeof(err));
	if (!ret && (bound = count_bound(&st, id))) {
		struct binding_ref *b = NULL;
		size_t nb = 0, o, shown = 0;

		o = snprintf(err, sizeof(err), "policy '%s' is bound to %d cgroup%s (detach %s first):",
			     opts.name, bound, bound == 1 ? "" : "s", bound == 1 ? "it" : "them");
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
			snprintf(err, sizeof(err), "cannot delete policy '%s': %s", opts.name, strerror(-ret));
	}
	state_close(&st);
	return ret ? errorf(1, "%s", err) : 0;
}

struct json_opts {
	bool json;
	struct common c;
};
static const struct opt_spec policy_list_spec[] = {
	OPTION_FLAG(struct json_opts, json, "json", "a JSON array of {name, default, errno, rules, bound, hint, mode}"),
	COMMON_SPEC(struct json_opts),
};

static int policy_list(int argc, char **argv)
{
	struct json_opts o = {};
	struct egress_state st;
	struct policy_ref *v;
	struct binding_ref *b = NULL;
	json_t *a = json_array();
	size_t n, nb = 0;
	bool json;

	if (parse_opts(argc, argv, &o))
		return 2;
	json = o.json;
	if (open_state(&st, &o.c, 0))
		return 1;
	if (state_policies(&st, &v, &n)) {
		state_close(&st);
		return errorf(1, "cannot read policies");
	}
	/* read once: each binding's liveness is a path lookup */
	if (state_bindings(&st, &b, &nb))
		nb = 0;
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
					      "bound", count_in(b, nb, v[i].id), "hint", p.hint,
					      "mode", policy_mode(&p)));
		else
			printf("%-20s %-7s %-13s %7zu %5d %s\n", p.name,
			       p.dflt == EGRESS_ALLOW ? "allow" : "deny", en ? en : "?", p.nrules,
			       count_in(b, nb, v[i].id), policy_mode(&p));
		policy_free(&p);
	}
	free(b);
	free(v);
	state_close(&st);
	if (json)
		print_json(a);
	else
		json_decref(a);
	return 0;
}

static const char *const policy_subs[] = { "add", "set", "delete", "list" };

static int do_policy(int argc, char **argv)
{
	const char *usage = "policy add|set|delete|list ...";
	static int (*const fns[])(int argc, char **argv) = {
		policy_add, policy_set, policy_delete, policy_list,
	};
	char key[32], syn[1024];
	const char *near;

	if (argc < 1)
		return errorf(2, "missing subcommand (add, set, delete or list); usage: egressctl %s", usage);
	if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
		printf("usage: egressctl policy add|set|delete|list ... [--pin-dir DIR]\n"
		       "Creates, changes, deletes and lists policies.\n\n");
		for (size_t i = 0; i < ncommands; i++)
			if (!strncmp(commands[i].name, "policy ", 7))
				printf("  egressctl %s\n", synopsis(&commands[i], false, syn, sizeof(syn)));
		printf("\n'egressctl policy SUBCOMMAND --help' for one of them.\n");
		return 0;
	}
	for (size_t i = 0; i < sizeof(policy_subs) / sizeof(policy_subs[0]); i++) {
		if (strcmp(argv[0], policy_subs[i]))
			continue;
		snprintf(key, sizeof(key), "policy %s", policy_subs[i]);
		current = command_named(key);
		return fns[i](argc - 1, argv + 1);
	}
	near = opts_closest(argv[0], policy_subs, 4);
	if (near)
		return errorf(2, "unknown subcommand '%s' (did you mean '%s'?); usage: egressctl %s",
			      argv[0], near, usage);
	return errorf(2, "unknown subcommand '%s'; usage: egressctl %s", argv[0], usage);
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

/* Whether path is enforced, as 'check' says; if not, why (the first thing missing). */
static bool enforced(struct egress_state *st, const char *path, int cg_fd, char *why, size_t len)
{
	char *report = NULL;
	size_t rlen = 0;
	FILE *m = open_memstream(&report, &rlen);
	int missing = m ? check_enforced(st, path, cg_fd, m) : 1;

	if (m)
		fclose(m);
	snprintf(why, len, "%.*s", report ? (int)strcspn(report, "\n") : 1, report ? report : "?");
	free(report);
	return !missing;
}

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

struct attach_opts {
	const char *dir, *policy;
	bool keep;
	struct common c;
};
static const struct opt_spec attach_spec[] = {
	OPTION_POS(struct attach_opts, dir, "DIR", "a cgroup v2 directory"),
	OPTION_STR(struct attach_opts, policy, "policy", "NAME", "the policy", .def = "default"),
	OPTION_FLAG(struct attach_opts, keep, "keep-established",
		    "leave established connections as they are, for this change\n"
		    "(default: reset those the policies now deny)"),
	COMMON_SPEC(struct attach_opts),
};

static int do_attach(int argc, char **argv)
{
	struct attach_opts o = {};
	struct egress_state st;
	char err[ERRBUF_LEN];
	struct revoke_scope sc = {};
	uint32_t id;
	int ret, fd;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (!o.dir)
		return errorf(2, "missing cgroup directory; usage: egressctl %s", USAGE());
	if (parse_policy_name(o.policy, err, sizeof(err)))
		return errorf(2, "%s", err);
	if (open_state(&st, &o.c, STATE_LOCK))
		return 1;
	ret = state_policy_find(&st, o.policy, &id, err, sizeof(err));
	if (!ret)
		ret = state_bind(&st, o.dir, id, err, sizeof(err));
	if (!ret)
		warn_ancestors(&st, o.dir, id);
	if (!ret && !o.keep && !cg_open(o.dir, &fd, &sc.cgroup_id, err, sizeof(err))) {
		close(fd);
		ret = revoke_after_change(&st, &sc, NULL, err, sizeof(err));
	}
	state_close(&st);
	return ret ? errorf(1, "%s", err) : 0;
}

/* detach DIR, check DIR */
struct dir_opts {
	const char *dir;
	struct common c;
};
static const struct opt_spec detach_spec[] = {
	OPTION_POS(struct dir_opts, dir, "DIR", "a bound cgroup v2 directory"),
	COMMON_SPEC(struct dir_opts),
};

static int do_detach(int argc, char **argv)
{
	struct dir_opts o = {};
	struct egress_state st;
	char err[ERRBUF_LEN];
	int ret;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (!o.dir)
		return errorf(2, "missing cgroup directory; usage: egressctl %s", USAGE());
	if (open_state(&st, &o.c, STATE_LOCK))
		return 1;
	ret = state_unbind(&st, o.dir, err, sizeof(err));
	state_close(&st);
	return ret ? errorf(1, "%s", err) : 0;
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
 * Moves every process of src into the cgroup whose cgroup.procs is pfd,
 * with src frozen so that nothing forks behind our back (moving thaws).
 * 0, or 1 with an error line; *moved counts them.
 */
static int move_cgroup(int pfd, const char *src, const char *to, int *moved)
{
	bool frozen = !write_file(src, "cgroup.freeze", "1");
	int ret = 0;

	for (int i = 0; frozen && i < 500 && !cg_event(src, "frozen"); i++)
		usleep(10000);
	for (int round = 0; round < 100 && !ret; round++) {
		long *pids;
		int n = read_procs(src, &pids);

		if (n < 0)
			ret = errorf(1, "cannot read %s/cgroup.procs: %s", src, strerror(-n));
		for (int i = 0; i < n && !ret; i++) {
			int r = move_pid(pfd, pids[i]);

			if (r == -ESRCH)
				continue;	/* it exited */
			if (r)
				ret = errorf(1, "cannot move process %ld from %s to %s: %s", pids[i], src,
					     to, strerror(-r));
			else
				(*moved)++;
		}
		free(pids);
		if (n <= 0)
			break;
	}
	if (frozen)
		write_file(src, "cgroup.freeze", "0");
	if (!ret && cg_event(src, "populated"))
		ret = errorf(1, "%s still holds processes (in child cgroups?): move them with "
			     "'egressctl move --cgroup CHILD --to DIR'", src);
	return ret;
}

/*
 * move: the supported way to change a sandbox's tier under tier cgroups.
 * A child cgroup can only narrow its bound ancestors, so an upgrade moves
 * the sandbox's processes into the other tier's subtree.  The target must
 * be enforced (fail closed: never move a sandbox out of enforcement).
 */
struct move_opts {
	struct opt_rest pids;
	const char *src, *to;
	struct common c;
};
static const struct opt_spec move_spec[] = {
	OPTION_POS(struct move_opts, pids, "PID...", "the processes to move (each with all its threads)",
		   .flags = OPT_REST),
	OPTION_STR(struct move_opts, src, "cgroup", "SRC",
		   "every process of the cgroup SRC, frozen while they move (default:\n"
		   "none, give PIDs)"),
	OPTION_STR(struct move_opts, to, "to", "DIR", "the cgroup v2 directory to move them to (required)"),
	COMMON_SPEC(struct move_opts),
};

static int do_move(int argc, char **argv)
{
	struct move_opts o = {};
	const char *to, *src;
	char err[ERRBUF_LEN], **pos, why[PATH_MAX + 128];
	char procs[PATH_MAX + 32], rsrc[PATH_MAX], rto[PATH_MAX], eff[EFFECTIVE_LEN];
	struct egress_state st;
	struct path_bind *pb = NULL;
	uint64_t cgid;
	int npos, ret = 0, to_fd, pfd, moved = 0, missing, nb;

	if (parse_opts(argc, argv, &o))
		return 2;
	to = o.to;
	src = o.src;
	pos = o.pids.v;
	npos = o.pids.n;
	if (!to || (!src && !npos) || (src && npos))
		return errorf(2, "%s; usage: egressctl %s", !to ? "missing --to DIR" :
			      src ? "give PIDs or --cgroup SRC, not both" : "missing PID or --cgroup SRC",
			      USAGE());
	for (int i = 0; i < npos; i++) {
		uint32_t pid;

		if (parse_u32(pos[i], 1, 4194304, &pid))
			return errorf(2, "invalid PID '%s': a process id, 1 to 4194304", pos[i]);
	}
	if (cg_open(to, &to_fd, &cgid, err, sizeof(err)))
		return errorf(1, "%s", err);
	if (src && (cg_open(src, &pfd, &cgid, err, sizeof(err)) || (close(pfd), 0))) {
		close(to_fd);
		return errorf(1, "%s", err);
	}
	if (src && realpath(src, rsrc) && realpath(to, rto) && !strcmp(rsrc, rto)) {
		close(to_fd);
		return errorf(2, "--cgroup and --to are the same cgroup (%s)", rto);
	}
	if (open_state(&st, &o.c, 0)) {
		close(to_fd);
		return 1;
	}
	/* fail closed: the target must be enforced, as 'check' says */
	missing = !enforced(&st, to, to_fd, why, sizeof(why));
	close(to_fd);
	if (missing) {
		ret = errorf(1, "refused: %s is not enforced (%s); bind it or an ancestor first", to, why);
		goto out;
	}
	nb = path_bindings(&st, to, &pb);
	effective_str(pb, nb > 0 ? nb : 0, eff, sizeof(eff));
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", to);
	pfd = open(procs, O_WRONLY | O_CLOEXEC);
	if (pfd < 0) {
		ret = errorf(1, "cannot open %s: %s", procs, strerror(errno));
		goto out;
	}
	if (!src) {
		for (int i = 0; i < npos && !ret; i++) {
			int r = move_pid(pfd, atol(pos[i]));

			if (r)
				ret = errorf(1, "cannot move process %s to %s: %s", pos[i], to, strerror(-r));
			else
				moved++;
		}
	} else {
		ret = move_cgroup(pfd, src, to, &moved);
	}
	close(pfd);
	if (!ret)
		printf("moved %d process%s%s%s to %s: in force there: %s\n", moved, moved == 1 ? "" : "es",
		       src ? " from " : "", src ? src : "", to, eff);
out:
	free(pb);
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

struct run_opts {
	const char *policy, *parent, *name;
	bool verbose;
	struct opt_rest cmd;
	struct common c;
};
static const struct opt_spec run_spec[] = {
	OPTION_STR(struct run_opts, policy, "policy", "NAME", "the policy (default: default)"),
	OPTION_STR(struct run_opts, parent, "cgroup-parent", "DIR",
		   "where the cgroup is made (default: <cgroup2 mount>/egress-run)"),
	OPTION_STR(struct run_opts, name, "name", "NAME", "the cgroup's name (default: run-PID)"),
	OPTION_FLAG(struct run_opts, verbose, "verbose", "one line on stderr naming the cgroup"),
	/* options end at CMD: what follows it is CMD's (a second --policy there is CMD's too) */
	COMMON_OPTS(struct run_opts),
	OPTION_POS(struct run_opts, cmd, "[--] CMD [ARG...]", NULL, .flags = OPT_REST | OPT_STOP),
	OPTION_END,
};

/* What run made before CMD: its cgroup, and the binding there. */
struct run_cgroup {
	char dir[PATH_MAX + 80];
	char inherited[PATH_MAX + EGRESS_NAME_MAX + 2];	/* no --policy: the binding that decides */
	uint64_t id;
	bool bound;
};

/*
 * Makes CMD's cgroup below the parent (o->parent, else <cgroup2>/egress-run)
 * and binds it to o->policy; without --policy beneath a bound tier nothing
 * (the tier decides), elsewhere to 'default'.  0, or -errno with err.
 */
static int run_cgroup_make(struct egress_state *st, const struct run_opts *o, struct run_cgroup *rc,
			   char *err, size_t errlen)
{
	char mnt[PATH_MAX], def_parent[PATH_MAX + 16], owner[96];
	const char *parent = o->parent, *name = o->policy;
	uint32_t id = 0;
	int ret, fd;

	if (!parent) {
		if (cg2_mount(mnt, sizeof(mnt))) {
			snprintf(err, errlen, "no cgroup2 file system is mounted");
			return -ENOENT;
		}
		snprintf(def_parent, sizeof(def_parent), "%s/egress-run", mnt);
		parent = def_parent;
	}
	ret = mkdir_cgroup_parent(parent, !o->parent, err, errlen);
	if (!ret)
		ret = parent_not_delegated(parent, err, errlen);
	/* no --policy beneath a bound tier: the tier decides, nothing is added */
	if (!ret && !name && state_bound_at(st, parent, rc->inherited, sizeof(rc->inherited)))
		name = "default";
	if (!ret && name)
		ret = state_policy_find(st, name, &id, err, errlen);
	if (ret)
		return ret;
	if (o->name)
		snprintf(rc->dir, sizeof(rc->dir), "%s/%s", parent, o->name);
	else
		snprintf(rc->dir, sizeof(rc->dir), "%s/run-%d", parent, getpid());
	if (mkdir(rc->dir, 0755)) {
		ret = -errno;
		snprintf(err, errlen, "cannot create cgroup %s: %s%s", rc->dir, strerror(-ret),
			 ret == -EEXIST ? " (choose another --name)" : "");
		return ret;
	}
	if (realpath(rc->dir, mnt))
		snprintf(rc->dir, sizeof(rc->dir), "%s", mnt);
	ret = name ? state_bind(st, rc->dir, id, err, errlen) : 0;
	rc->bound = name && !ret;
	if (!ret)
		ret = cg_open(rc->dir, &fd, &rc->id, err, errlen);
	if (!ret) {
		close(fd);
		snprintf(owner, sizeof(owner), "run %d %llu", getpid(), state_proc_start(getpid()));
		if (rc->bound)
			state_binding_owner(st, rc->id, owner);
	}
	if (ret) {
		if (rc->bound)
			state_unbind_id(st, rc->id);
		rmdir(rc->dir);
	}
	return ret;
}

/* In the child: join the bound cgroup, then become CMD, enforced from its first instruction. */
static void run_exec(const char *cgdir, char **cmd)
{
	char procs[PATH_MAX + 96], err[2 * PATH_MAX + ERRBUF_LEN];
	int pfd;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
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
	execvp(cmd[0], cmd);
	fprintf(stderr, "egressctl: run: cannot execute %s: %s\n", cmd[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

static int do_run(int argc, char **argv)
{
	struct run_opts o = {};
	char err[2 * PATH_MAX + ERRBUF_LEN];
	struct sigaction sa = { .sa_handler = forward_signal };
	struct run_cgroup rc = {};
	struct egress_state st;
	int ret, status = 0;
	pid_t pid;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (o.cmd.n < 1)
		return errorf(2, "missing command; usage: egressctl %s", USAGE());
	if (o.policy && parse_policy_name(o.policy, err, sizeof(err)))
		return errorf(2, "%s", err);
	if (o.name && !run_name_ok(o.name))
		return errorf(2, "invalid --name '%s': one cgroup name of letters, digits, '.', '_' and '-' "
			      "(at most 64, not starting with '.')", o.name);
	if (!o.parent && cg2_mount(err, sizeof(err)))
		return errorf(1, "no cgroup2 file system is mounted");
	if (open_state(&st, &o.c, STATE_LOCK))
		return 1;
	ret = run_cgroup_make(&st, &o, &rc, err, sizeof(err));
	if (ret) {
		state_close(&st);
		return errorf(1, "%s", err);
	}
	/* release the writers' lock while the command runs */
	close(st.dir_fd);
	st.dir_fd = -1;
	if (o.verbose) {
		if (rc.bound)
			fprintf(stderr, "egressctl: run: cgroup %s, bound to policy %s\n", rc.dir,
				o.policy ? o.policy : "default");
		else
			fprintf(stderr, "egressctl: run: cgroup %s, under the binding %s\n", rc.dir,
				rc.inherited);
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	pid = fork();
	if (pid == 0)
		run_exec(rc.dir, o.cmd.v);
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
		cg_destroy(rc.dir);
		if (rc.bound)
			state_unbind_id(&st, rc.id);
	}
	cg_destroy(rc.dir);
	state_close(&st);
	if (ret)
		return errorf(1, "%s", err);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* ---- files -------------------------------------------------------------- */

struct apply_opts {
	const char *file;
	struct common c;
};
static const struct opt_spec apply_spec[] = {
	OPTION_STR(struct apply_opts, file, "file", "FILE", "the policy file, - for standard input (required)",
		   .short_name = 'f', .flags = OPT_REQUIRED),
	COMMON_SPEC(struct apply_opts),
};

static int do_apply(int argc, char **argv)
{
	struct apply_opts o = {};
	const char *file;
	char err[ERRBUF_LEN];
	struct egress_state st;
	struct policy_file pf;
	char *text;
	int ret = 0;

	if (parse_opts(argc, argv, &o))
		return 2;
	file = o.file;
	if (!file)
		return errorf(2, "missing -f FILE: the policy file to apply, or - for standard input "
			      "(usage: egressctl %s)", USAGE());
	if (strcmp(file, "-")) {
		struct stat sb;

		if (stat(file, &sb))
			return errorf(1, "cannot read %s: %s", file, strerror(errno));
		if (S_ISDIR(sb.st_mode))
			return errorf(1, "%s is a directory: -f takes a policy file (see 'egressctl apply --help')",
				      file);
	}
	text = read_text(file, 64 << 20, NULL);
	if (!text)
		return errorf(1, "cannot read %s: %s", file, strerror(errno));
	ret = policy_file_parse(text, &pf, err, sizeof(err));
	free(text);
	if (ret)
		return errorf(1, "%s:%s", file, err);
	if (open_state(&st, &o.c, STATE_LOCK)) {
		policy_file_free(&pf);
		return 1;
	}
	/* a policy the file only names in rules must exist: say where */
	for (size_t i = 0; i < pf.n; i++) {
		uint32_t id;

		if (pf.declared[i] || !state_policy_id(&st, pf.pol[i].name, &id))
			continue;
		ret = errorf(1, "%s:%d: unknown policy '%s' (add a line 'policy add %s' to the file, or "
			     "create it with 'egressctl policy add %s')", file, pf.line[i], pf.pol[i].name,
			     pf.pol[i].name, pf.pol[i].name);
		policy_file_free(&pf);
		state_close(&st);
		return ret;
	}
	ret = state_apply(&st, &pf, err, sizeof(err));
	if (ret) {
		ret = errorf(1, "%s: %s", file, err);
	} else {
		uint32_t *ids = calloc(pf.n + 1, sizeof(*ids));
		struct revoke_scope sc = { .policies = ids };

		for (size_t i = 0; ids && i < pf.n; i++)
			if (!state_policy_id(&st, pf.pol[i].name, &ids[sc.npolicies]))
				sc.npolicies++;
		if (!ids || revoke_after_change(&st, &sc, NULL, err, sizeof(err)))
			ret = errorf(1, "%s", ids ? err : "out of memory");
		free(ids);
	}
	policy_file_free(&pf);
	state_close(&st);
	return ret;
}

struct export_opts {
	const char *policy;
	struct common c;
};
static const struct opt_spec export_spec[] = {
	OPTION_STR(struct export_opts, policy, "policy", "NAME", "only this policy (default: all)"),
	COMMON_SPEC(struct export_opts),
};

static int do_export(int argc, char **argv)
{
	struct export_opts o = {};
	const char *name;
	struct egress_state st;
	struct policy_ref *v;
	char err[ERRBUF_LEN];
	size_t n;
	int ret = 0;

	if (parse_opts(argc, argv, &o))
		return 2;
	name = o.policy;
	if (open_state(&st, &o.c, 0))
		return 1;
	if (name) {
		uint32_t id;

		ret = state_policy_find(&st, name, &id, err, sizeof(err));
		if (ret) {
			state_close(&st);
			return errorf(1, "%s", err);
		}
	}
	if (state_policies(&st, &v, &n)) {
		state_close(&st);
		return errorf(1, "cannot read policies");
	}
	qsort(v, n, sizeof(*v), ref_cmp);
	printf("# egress policies, for 'egressctl apply -f'\n");
	for (size_t i = 0; i < n; i++) {
		struct policy p;

		if (name && strcmp(name, v[i].name))
			continue;
		ret = state_policy_load(&st, v[i].id, &p);
		if (ret) {
			ret = errorf(1, "cannot read policy '%s': %s", v[i].name, strerror(-ret));
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

		/* each ancestor path, outermost first, looked up in the sorted bindings */
		snprintf(path, sizeof(path), "%s", cg);
		for (char *s = strchr(path + 1, '/'); *cg && s; s = strchr(s + 1, '/')) {
			json_t *key, **up;

			*s = '\0';
			key = json_pack("{s:s}", "cgroup", path);
			up = key ? bsearch(&key, o, j, sizeof(*o), bind_path_cmp) : NULL;
			json_decref(key);
			*s = '/';
			if (up)
				json_array_append(eff, json_object_get(*up, "policy"));
		}
		json_array_append(eff, json_object_get(o[j], "policy"));
		json_object_set_new(o[j], "effective", eff);
		json_array_append_new(binds, o[j]);
	}
	free(o);
	return binds;
}

/*
 * The programs' ids by hook name (null: not pinned), and in *verified the
 * instructions the verifier processed to load each (its limit is
 * 1,000,000: how close a program is to being refused).
 */
static json_t *status_programs(struct egress_state *st, json_t **verified)
{
	json_t *progs = json_object();

	*verified = json_object();
	for (int h = 0; h < EGRESS_NHOOKS; h++) {
		struct bpf_prog_info info;

		if (!state_prog_info(st, h, &info)) {
			json_object_set_new(progs, egress_hooks[h].name, json_integer(info.id));
			json_object_set_new(*verified, egress_hooks[h].name, json_integer(info.verified_insns));
		} else {
			json_object_set_new(progs, egress_hooks[h].name, json_null());
			json_object_set_new(*verified, egress_hooks[h].name, json_null());
		}
	}
	return progs;
}

/*
 * Marks the bindings a killed 'egressctl run' left ("orphan"), and returns
 * the bound cgroups that were removed (one made again at the path is not
 * bound).
 */
static json_t *status_lost(struct egress_state *st, json_t *binds)
{
	struct lost_ref *l = NULL;
	size_t nl = 0, j;
	json_t *e, *lost;

	json_array_foreach(binds, j, e)
		json_object_set_new(e, "orphan", json_boolean(state_binding_orphan(st,
			json_integer_value(json_object_get(e, "cgroup_id")))));
	lost = json_array();
	state_lost(st, &l, &nl);
	for (j = 0; j < nl; j++)
		json_array_append_new(lost, json_pack("{s:s, s:I, s:s, s:b}", "cgroup", l[j].path,
			"cgroup_id", (json_int_t)l[j].cgroup_id, "policy", l[j].policy,
			"recreated", l[j].recreated));
	free(l);
	return lost;
}

#define JSTR(o, k) json_string_value(json_object_get(o, k))
#define JINT(o, k) json_integer_value(json_object_get(o, k))

/* status's text: what 'status --json' says (o), for a reader. */
static void status_print(json_t *o)
{
	json_t *progs = json_object_get(o, "programs"), *e;
	size_t i;
	const char *k;

	printf("egress %s: loaded, pins in %s\nprograms:", EGRESS_VERSION, JSTR(o, "pin_dir"));
	json_object_foreach(progs, k, e)
		printf(" %s=%lld", k, (long long)json_integer_value(e));
	printf("\npolicies:\n");
	json_array_foreach(json_object_get(o, "policies"), i, e)
		printf("  %-20s default %-5s mode %-7s rules %-7lld bound %-5lld allowed %-10lld "
		       "denied %-10lld audited %lld\n", JSTR(e, "name"), JSTR(e, "default"), JSTR(e, "mode"),
		       JINT(e, "rules"), JINT(e, "bound"), JINT(e, "allowed"), JINT(e, "denied"),
		       JINT(e, "audited"));
	printf("bindings (cgroup -> its policy; below a bound cgroup, every policy on the path decides):\n");
	json_array_foreach(json_object_get(o, "bindings"), i, e) {
		json_t *eff = json_object_get(e, "effective"), *x;
		const char *cg = JSTR(e, "cgroup");
		size_t k, depth = json_array_size(eff);

		printf("%*s%s -> %s", (int)(2 * (depth ? depth : 1)), "", *cg ? cg : "(removed)",
		       JSTR(e, "policy"));
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
	json_array_foreach(json_object_get(o, "lost_bindings"), i, e)
		printf("  LOST %s -> %s: the bound cgroup was removed%s\n", JSTR(e, "cgroup"),
		       JSTR(e, "policy"), json_is_true(json_object_get(e, "recreated")) ?
		       "; the one there now is NOT bound (attach it, or detach to forget)" : "");
	printf("events: delivered %llu, suppressed by rate limit %llu, dropped (ring buffer full) %llu\n",
	       (unsigned long long)JINT(o, "events_delivered"), (unsigned long long)JINT(o, "events_suppressed"),
	       (unsigned long long)JINT(o, "ringbuf_drops"));
	if (JINT(o, "broken_denials"))
		printf("BROKEN: %llu denials (or audits) because a policy's maps had no entry or slot list "
		       "for the destination (tampered or corrupt maps): apply the policies again\n",
		       (unsigned long long)JINT(o, "broken_denials"));
}

static const struct opt_spec status_spec[] = {
	OPTION_FLAG(struct json_opts, json, "json", "the same as JSON"),
	COMMON_SPEC(struct json_opts),
};

static int do_status(int argc, char **argv)
{
	struct json_opts opts = {};
	json_t *o, *progs, *pols, *binds, *daemon, *lost, *verified;
	struct egress_state st;
	struct binding_ref *b = NULL;
	struct policy_ref *v = NULL;
	char err[ERRBUF_LEN];
	size_t n = 0, nb = 0;
	bool json;

	if (parse_opts(argc, argv, &opts))
		return 2;
	json = opts.json;
	daemon = egressd_status(state_pin_dir(opts.c.pin_dir), json ? NULL : stdout);
	if (state_open(&st, state_pin_dir(opts.c.pin_dir), 0, err, sizeof(err))) {
		if (json)
			print_json(json_pack("{s:b, s:s, s:s, s:o}", "loaded", 0, "pin_dir",
					     state_pin_dir(opts.c.pin_dir), "error", err, "egressd", daemon));
		else
			fprintf(stderr, "egressctl: status: %s\n", err);
		if (!json)
			json_decref(daemon);
		return 1;
	}
	progs = status_programs(&st, &verified);
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
	lost = status_lost(&st, binds);
	o = json_pack("{s:b, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I}", "loaded", 1,
		      "pin_dir", st.pin_dir, "version", EGRESS_VERSION, "egressd", daemon, "programs", progs,
		      "policies", pols, "bindings", binds, "lost_bindings", lost,
		      "ringbuf_drops", (json_int_t)state_stat(&st, EGRESS_STAT_RB_DROPS),
		      "events_delivered", (json_int_t)state_stat(&st, EGRESS_STAT_DELIVERED),
		      "events_suppressed", (json_int_t)state_stat(&st, EGRESS_STAT_SUPPRESSED),
		      "unconfigured_denials", (json_int_t)state_stat(&st, EGRESS_STAT_UNCONFIGURED),
		      "broken_denials", (json_int_t)state_stat(&st, EGRESS_STAT_BROKEN));
	json_object_set_new(o, "verified_insns", verified);
	json_object_set_new(o, "policy_set", policyset_status(&st) ?: json_null());
	if (json) {
		print_json(o);
	} else {
		status_print(o);
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

/* gc, unload: --pin-dir and --help alone */
struct common_opts {
	struct common c;
};
static const struct opt_spec common_spec[] = {
	COMMON_SPEC(struct common_opts),
};

static int do_unload(int argc, char **argv)
{
	struct common_opts o = {};
	struct unload_report r = {};
	struct egressd_info info;
	struct egress_state st;
	char err[ERRBUF_LEN], dir[PATH_MAX];
	bool running;
	int ret;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (open_state(&st, &o.c, STATE_LOCK))
		return 1;
	snprintf(dir, sizeof(dir), "%s", st.pin_dir);
	running = presence_read(dir, &info) == 1;	/* before its record goes with the pins */
	state_policies(&st, &r.v, &r.n);
	ret = state_unload(&st, unload_detached, &r, err, sizeof(err));
	state_close(&st);
	free(r.v);
	if (ret)
		return errorf(1, "%s", err);
	printf("unloaded: detached %d links of %d cgroups and removed every pin in %s; "
	       "nothing is enforced now\n", r.links, r.cgroups, dir);
	if (running)
		fprintf(stderr, "egressctl: unload: egressd (pid %u) still runs and reports that nothing "
			"is enforced; stop it, or restart it to load egress again\n", info.pid);
	return 0;
}

/* ---- check, gc ---------------------------------------------------------- */

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

		if (state_prog_info(st, h, &want)) {
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

static const struct opt_spec check_spec[] = {
	OPTION_POS(struct dir_opts, dir, "DIR", "a cgroup v2 directory"),
	COMMON_SPEC(struct dir_opts),
};

static int do_check(int argc, char **argv)
{
	struct dir_opts o = {};
	char err[ERRBUF_LEN];
	struct egress_state st;
	int cg_fd, missing;
	uint64_t cgid;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (!o.dir)
		return errorf(2, "missing cgroup directory; usage: egressctl %s", USAGE());
	if (cg_open(o.dir, &cg_fd, &cgid, err, sizeof(err)))
		return errorf(1, "%s", err);
	if (open_state(&st, &o.c, 0)) {
		close(cg_fd);
		return 1;
	}
	missing = check_enforced(&st, o.dir, cg_fd, stdout);
	close(cg_fd);
	state_close(&st);
	return missing ? 1 : 0;
}

static int do_gc(int argc, char **argv)
{
	struct common_opts o = {};
	struct egress_state st;
	int n;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (open_state(&st, &o.c, STATE_LOCK))
		return 1;
	n = state_gc(&st);
	state_close(&st);
	printf("removed the bindings of %d deleted cgroup%s\n", n, n == 1 ? "" : "s");
	return 0;
}

/* ---- OCI runtime hook -------------------------------------------------- */

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

/* The OCI state on stdin (poststop: without a pid).  0, or 1 with an error line. */
static int oci_read_state(struct oci_state *os, bool poststop)
{
	char err[ERRBUF_LEN], *json;
	size_t len;
	int ret = 0;

	json = read_text("-", 1 << 20, &len);
	if (!json)
		return errorf(1, "cannot read the OCI state on stdin: %s", strerror(errno));
	if (oci_state_parse(json, len, !poststop, os, err, sizeof(err)))
		ret = errorf(1, "%s", err);
	free(json);
	return ret;
}

/* The bundle's config: annotations, capabilities, namespaces, mounts.  0, or 1 with an error line. */
static int oci_load_config(const struct oci_state *os, struct oci_config *cfg, char **text)
{
	char err[ERRBUF_LEN], path[sizeof(os->bundle) + 16];
	size_t len;

	snprintf(path, sizeof(path), "%s/config.json", os->bundle);
	*text = read_text(path, 16 << 20, &len);
	if (!*text)
		return errorf(1, "container %s: cannot read %s: %s", os->id, path, strerror(errno));
	if (oci_config_parse(*text, len, cfg, err, sizeof(err)))
		return errorf(1, "container %s: %s", os->id, err);
	return 0;
}

/*
 * What in the container's config defeats egress: refused with --strict
 * (1, with an error line), else a warning (0).
 */
static int oci_check_risks(const struct oci_state *os, const struct oci_config *cfg, bool strict)
{
	char why[1024] = "";

	if (cfg->risky_caps[0])
		add_why(why, sizeof(why), "%s%s", cfg->risky_caps, "");
	if (oci_host_netns(cfg))
		add_why(why, sizeof(why), "%s%s", "the host's network namespace", "");
	if (os->bundle[0])
		mounts_risk(cfg, why, sizeof(why));
	if (!why[0])
		return 0;
	if (strict)
		return errorf(1, "container %s: refused (--strict): its config defeats egress: %s", os->id, why);
	fprintf(stderr, "egressctl: oci-hook: warning: container %s: its config weakens egress: %s\n",
		os->id, why);
	return 0;
}

/* cgid is bound already, and not by this container's hook: 1 with an error line, else 0. */
static int oci_bound_by_another(struct egress_state *st, const struct oci_state *os, const char *cgdir,
				uint64_t cgid, const char *owner)
{
	char at[PATH_MAX + EGRESS_NAME_MAX + 2], have[128] = "", links[PATH_MAX];

	state_pin_path(st, links, sizeof(links), "links/%llu", (unsigned long long)cgid);
	if (access(links, F_OK))
		return 0;
	state_binding_meta(st, cgid, at, sizeof(at), have, sizeof(have));
	if (!strcmp(have, owner))
		return 0;
	return errorf(1, "container %s: cgroup %s is already bound (%s%s%s); the hook binds only a "
		      "container's own, unbound cgroup", os->id, cgdir, at[0] ? "policy " : "",
		      at[0] ? at : "", have[0] ? ", by another" : "");
}

struct oci_hook_opts {
	const char *stage, *policy;
	bool strict;
	struct common c;
};
static const struct opt_spec oci_hook_spec[] = {
	OPTION_POS(struct oci_hook_opts, stage, "poststop", NULL, .flags = OPT_OPTIONAL),
	OPTION_STR(struct oci_hook_opts, policy, "policy", "NAME", "the policy (default: the annotation egress.policy)"),
	OPTION_FLAG(struct oci_hook_opts, strict, "strict", "refuse configs that defeat egress (default: warn)"),
	COMMON_SPEC(struct oci_hook_opts),
};

/*
 * createRuntime (default): bind the container's cgroup to its policy and
 * verify enforcement before its process runs; any failure exits non-zero,
 * so the runtime does not start the container.  The hook binds only the
 * container's own cgroup: one that is not bound yet and holds nothing but
 * the container's process.  poststop: undo that.
 */
/* Only the container's own cgroup, bound by nobody else; 1 (said) when not. */
static int oci_check_owner(struct egress_state *st, const struct oci_state *os,
			   const struct egress_oci_key *key, const char *cgdir, uint64_t cgid,
			   const char *owner)
{
	char at[PATH_MAX + EGRESS_NAME_MAX + 2], err[ERRBUF_LEN];
	uint64_t old;

	if (oci_bound_by_another(st, os, cgdir, cgid, owner))
		return 1;
	if (cg_own(cgdir, os->pid, err, sizeof(err)))
		return errorf(1, "container %s: %s", os->id, err);
	if (!state_oci_get(st, key, &old) && old != cgid && cg_path(old, at, sizeof(at)) != -ENOENT)
		return errorf(1, "container %s: this id and bundle already have a binding, on cgroup %s",
			      os->id, at);
	return 0;
}

static int do_oci_hook(int argc, char **argv)
{
	struct oci_hook_opts o = {};
	const char *policy;
	char err[ERRBUF_LEN], *cfgjson = NULL, cgdir[PATH_MAX], why[PATH_MAX + 128];
	char owner[OCI_ID_MAX + 32];
	struct egress_oci_key key = {};
	struct egress_state st = { .dir_fd = -1 };
	struct oci_config cfg = {};
	struct oci_state os;
	bool poststop, bound = false;
	uint64_t cgid;
	uint32_t id;
	int ret = 1, cg_fd = -1;

	state_init(&st);
	if (parse_opts(argc, argv, &o))
		return 2;
	policy = o.policy;
	poststop = o.stage && !strcmp(o.stage, "poststop");
	if (o.stage && !poststop)
		return errorf(2, "unknown stage '%s' (createRuntime is the default; or poststop)", o.stage);
	if (policy && parse_policy_name(policy, err, sizeof(err)))
		return errorf(2, "%s", err);
	if (oci_read_state(&os, poststop))
		return 1;
	oci_key(&key, &os);
	snprintf(owner, sizeof(owner), "oci %s %016llx", os.id, (unsigned long long)key.bundle_hash);

	if (poststop) {
		if (open_state(&st, &o.c, STATE_LOCK))
			goto cleanup;
		ret = oci_poststop(&st, &key, owner);
		goto cleanup;
	}

	if (os.bundle[0] && (ret = oci_load_config(&os, &cfg, &cfgjson)))
		goto cleanup;
	ret = 1;
	if (!policy)
		policy = os.policy[0] ? os.policy : cfg.policy[0] ? cfg.policy : NULL;
	if (!policy) {
		ret = errorf(1, "container %s: no policy (pass --policy or set the annotation %s)", os.id,
			     OCI_ANNOTATION);
		goto cleanup;
	}
	if (oci_check_risks(&os, &cfg, o.strict))
		goto cleanup;
	if (cg_of_pid(os.pid, cgdir, sizeof(cgdir), err, sizeof(err)) ||
	    cg_open(cgdir, &cg_fd, &cgid, err, sizeof(err))) {
		ret = errorf(1, "container %s: %s", os.id, err);
		goto cleanup;
	}
	if (open_state(&st, &o.c, STATE_LOCK))
		goto cleanup;
	if (oci_check_owner(&st, &os, &key, cgdir, cgid, owner))
		goto cleanup;
	if (state_policy_find(&st, policy, &id, err, sizeof(err)) ||
	    state_bind(&st, cgdir, id, err, sizeof(err))) {
		ret = errorf(1, "container %s: %s", os.id, err);
		goto cleanup;
	}
	bound = true;
	state_binding_owner(&st, cgid, owner);
	if (state_oci_put(&st, &key, cgid)) {
		ret = errorf(1, "container %s: cannot record the binding: %s", os.id, strerror(errno));
		goto cleanup;
	}
	/* verify, as 'egressctl check' does, before the container's process runs */
	if (!enforced(&st, cgdir, cg_fd, why, sizeof(why))) {
		ret = errorf(1, "container %s: not enforced: %s", os.id, why);
		goto cleanup;
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
	free(cfgjson);
	return ret;
}

/* ---- events ------------------------------------------------------------- */

static volatile sig_atomic_t events_stop;

static void on_stop(int sig)
{
	events_stop = 1;
}

static const char *const log_formats[] = { "json", "text", "hint", NULL };	/* enum log_format */

struct events_opts {
	bool follow;
	const char *cgroup;
	int format;
	const char *socket;
	struct common c;
};
static const struct opt_spec events_spec[] = {
	OPTION_FLAG(struct events_opts, follow, "follow",
		    "keep printing new events until interrupted (default: recent ones, then exit)"),
	OPTION_STR(struct events_opts, cgroup, "cgroup", "DIR", "only DIR and its descendants (default: all)"),
	OPTION_ENUM(struct events_opts, format, "format", "F", log_formats,
		    "json, text, or hint: the policy's hint for the user", .def = "json"),
	OPTION_STR(struct events_opts, socket, "socket", "PATH",
		   "egressd's socket (default: $EGRESS_EVENTS_SOCKET, else " EGRESS_DEFAULT_EVENTS_SOCKET ")"),
	COMMON_SPEC(struct events_opts),
};

static void events_print(json_t *ev, void *ctx)
{
	event_print(ev, *(enum log_format *)ctx, stdout);
}

static int do_events(int argc, char **argv)
{
	struct events_opts o = {};
	struct sigaction act = { .sa_handler = on_stop };
	char real[PATH_MAX] = "", err[ERRBUF_LEN], safe[PATH_MAX * 4 + 1];
	enum log_format fmt;
	int ret;

	if (parse_opts(argc, argv, &o))
		return 2;
	fmt = o.format;
	if (o.cgroup) {
		uint64_t id;
		int cfd;

		if (cg_open(o.cgroup, &cfd, &id, err, sizeof(err)))
			return errorf(1, "%s", err);
		close(cfd);
		if (!realpath(o.cgroup, real))
			return errorf(1, "cgroup '%s': %s", o.cgroup, strerror(errno));
	}
	/* egressd shows cgroup paths made safe (events.h): match them so */
	untrusted_str(real, sizeof(real), safe, sizeof(safe));
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	ret = events_read(&(struct events_reader){
		.sock = events_socket_path(o.socket), .cgroup = safe, .follow = o.follow,
		.stop = &events_stop, .on_event = events_print, .ctx = &fmt, .notes = stderr,
		.prefix = "egressctl: events: " }, err, sizeof(err));
	if (ret)
		return errorf(ret == -ENAMETOOLONG ? 2 : 1, "%s", err);
	return 0;
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

struct advise_opts {
	const char *cgroup;
	struct opt_duration since;
	const char *name;
	struct common c;
};
static const struct opt_spec advise_spec[] = {
	OPTION_STR(struct advise_opts, cgroup, "cgroup", "DIR",
		   "a cgroup v2 directory; DIR, an ancestor or a descendant must be\n"
		   "bound (required)", .flags = OPT_REQUIRED),
	OPTION_DURATION(struct advise_opts, since, "since", "DURATION",
			"only destinations seen in the last DURATION: 30s, 10m, 2h, 1d\n"
			"(default: all that were recorded)"),
	OPTION_STR(struct advise_opts, name, "name", "NAME",
		   "the policy the file writes; an existing one keeps its settings and\n"
		   "rules (default: from DIR's name)"),
	COMMON_SPEC(struct advise_opts),
};

/*
 * The cgroups of real and below (subtree_ids, sorted), of which real, an
 * ancestor or one below must be bound.  0, or 1 with an error line.
 */
static int advise_scope(struct egress_state *st, const char *real)
{
	struct path_bind *pb = NULL;
	int ret;

	subtree_n = 0;
	if (nftw(real, subtree_add, 32, FTW_PHYS | FTW_MOUNT))
		return errorf(1, "cannot walk the cgroups below '%s': %s", real, strerror(errno));
	qsort(subtree_ids, subtree_n, sizeof(*subtree_ids), u64_cmp);
	/* bound: DIR, an ancestor, or a cgroup below DIR */
	ret = path_bindings(st, real, &pb);
	free(pb);
	if (ret == 0) {
		struct binding_ref *b = NULL;
		size_t nb = 0;

		if (!state_bindings(st, &b, &nb))
			for (size_t i = 0; i < nb && !ret; i++)
				ret = !!bsearch(&b[i].cgroup_id, subtree_ids, subtree_n, sizeof(*subtree_ids),
						u64_cmp);
		free(b);
	}
	if (ret < 0)
		return errorf(1, "cannot read the bindings of '%s': %s", real, strerror(-ret));
	if (ret == 0)
		return errorf(1, "cgroup '%s' is not bound: nothing on its path or below it is bound to a "
			      "policy, so nothing there is denied (bind a candidate first: egressctl attach "
			      "DIR --policy NAME)", real);
	return 0;
}

static int do_advise(int argc, char **argv)
{
	struct advise_opts o = {};
	const char *cgroup, *since, *name;
	char real[PATH_MAX], err[ERRBUF_LEN], defname[EGRESS_NAME_MAX], header[PATH_MAX + 128];
	struct { struct policy_ref *v; size_t n; } refs = {};
	struct seen_rec *recs = NULL;
	struct policy base;
	struct egress_state st;
	uint64_t since_ns, from = 0, id;
	bool have_base = false;
	uint32_t pol;
	size_t n = 0, m = 0;
	int fd, ret;

	if (parse_opts(argc, argv, &o))
		return 2;
	cgroup = o.cgroup;
	since = o.since.text;
	since_ns = o.since.ns;
	name = o.name;
	if (!cgroup)
		return errorf(2, "--cgroup DIR is required (see 'egressctl advise --help')");
	if (name && parse_policy_name(name, err, sizeof(err)))
		return errorf(2, "--name: %s", err);
	if (cg_open(cgroup, &fd, &id, err, sizeof(err)))
		return errorf(2, "%s", err);
	close(fd);
	if (!realpath(cgroup, real))
		return errorf(2, "cgroup '%s': %s", cgroup, strerror(errno));
	if (!name) {
		advise_default_name(real, defname);
		name = defname;
	}
	if (open_state(&st, &o.c, 0))
		return 1;
	ret = advise_scope(&st, real);
	if (ret)
		goto cleanup;
	ret = state_seen(&st, &recs, &n);
	if (ret) {
		ret = errorf(1, ret == -ENOENT ? "egress_seen is missing: the pins in %s were made by an older "
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
		ret = errorf(1, "cannot read policies");
		goto cleanup;
	}
	if (!state_policy_id(&st, name, &pol)) {
		ret = state_policy_load(&st, pol, &base);
		if (ret) {
			ret = errorf(1, "cannot read policy '%s': %s", name, strerror(-ret));
			goto cleanup;
		}
		have_base = true;
	}
	snprintf(header, sizeof(header), "egressctl advise --cgroup %s%s%s --name %s", real,
		 since ? " --since " : "", since ? since : "", name);
	ret = advise_print(stdout, recs, m, &(struct advise_out){
		.name = name, .header = header, .base = have_base ? &base : NULL,
		.policy_name = policy_ref_name, .ctx = &refs });
	ret = ret < 0 ? errorf(1, "%s", strerror(-ret)) : 0;
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

struct explain_opts {
	const char *dst, *cgroup, *policy, *proto, *port;
	bool json, batch;
	struct common c;
};
static const struct opt_spec explain_spec[] = {
	OPTION_POS(struct explain_opts, dst, "DST", "an IPv4 or IPv6 address, without a prefix"),
	OPTION_STR(struct explain_opts, cgroup, "cgroup", "DIR", "every policy bound on DIR's path (required, or --policy)"),
	OPTION_STR(struct explain_opts, policy, "policy", "NAME", "one policy alone (required, or --cgroup)"),
	OPTION_STR(struct explain_opts, proto, "proto", "tcp|udp", "the protocol (default: tcp)"),
	OPTION_STR(struct explain_opts, port, "port", "N", "the port (default: a port that no port rule names)"),
	OPTION_FLAG(struct explain_opts, json, "json", "one JSON object"),
	OPTION_FLAG(struct explain_opts, batch, "batch", "no DST: lines 'DST [tcp|udp] [PORT]' on stdin, one JSON line each"),
	COMMON_SPEC(struct explain_opts),
};

/*
 * Exit 0: allowed, 1: denied, 2: no answer (bad usage, bad destination,
 * unknown policy, DIR not a cgroup or not bound anywhere on its path,
 * egress not loaded).  --batch: 2 if a line was bad, else 0.
 */
static int do_explain(int argc, char **argv)
{
	struct explain_opts o = {};
	const char *cgroup, *policy, *proto_s, *port_s;
	bool json, batch;
	char err[ERRBUF_LEN], *line = NULL;
	struct explain_answer a;
	struct egress_state st;
	struct explain_dest d;
	struct explain_ctx x;
	unsigned long lineno = 0;
	int npos, port, ret;
	size_t cap = 0;
	uint8_t proto;

	if (parse_opts(argc, argv, &o))
		return 2;
	cgroup = o.cgroup;
	policy = o.policy;
	proto_s = o.proto;
	port_s = o.port;
	json = o.json;
	batch = o.batch;
	npos = !!o.dst;
	if (!cgroup == !policy)
		return errorf(2, "give one of --cgroup DIR and --policy NAME; usage: egressctl %s", EXPLAIN_USAGE);
	if (batch && (npos || proto_s || port_s))
		return errorf(2, "--batch reads 'DST [tcp|udp] [PORT]' lines from stdin: no DST, --proto "
			      "or --port on the command line");
	if (!batch && npos != 1)
		return errorf(2, "missing destination; usage: egressctl %s", EXPLAIN_USAGE);
	if (!batch && (explain_parse_dest(o.dst, &d, err, sizeof(err)) ||
		       explain_parse_case(proto_s, port_s, &proto, &port, err, sizeof(err))))
		return errorf(2, "%s", err);
	if (state_open(&st, state_pin_dir(o.c.pin_dir), 0, err, sizeof(err)))
		return errorf(2, "%s", err);
	ret = cgroup ? explain_load_cgroup(&st, cgroup, &x, err, sizeof(err))
		     : explain_load_policy(&st, policy, &x, err, sizeof(err));
	state_close(&st);
	if (ret)
		return errorf(2, "%s", ret == -ENOMEM ? strerror(ENOMEM) : err);
	if (batch) {
		setvbuf(stdout, NULL, _IOLBF, 0);	/* a driver reads each answer as it comes */
		while (getline(&line, &cap, stdin) > 0) {
			int r = explain_batch_line(stdout, &x, line, ++lineno);

			if (r == -EINVAL)
				ret = 2;
			else if (r)
				return errorf(2, "line %lu: %s", lineno, strerror(-r));
		}
		free(line);
		explain_ctx_free(&x);
		return ret;
	}
	if (explain_run(&x, &d, proto, port, &a))
		return errorf(2, "%s", strerror(ENOMEM));
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

static const struct opt_spec help_spec[] = { OPTION_END };

static const struct command commands[] = {
	{ "allow", do_allow, rule_spec, NULL,
	  "Adds an allow rule; a rule with the same CIDR, protocol and ports changes its action.",
	  "example: egressctl allow 192.0.2.10/32 --proto tcp --port 3128 --policy free\n" },
	{ "deny", do_deny, rule_spec, NULL,
	  "Adds a deny rule; a rule with the same CIDR, protocol and ports changes its action.",
	  "example: egressctl deny 169.254.169.254/32 --policy pro\n" },
	{ "remove", do_remove, rule_spec, NULL,
	  "Removes the rule with exactly that CIDR, protocol and ports, whatever its action.", NULL },
	{ "list", do_list, list_spec, NULL, "Prints a policy's rules (columns ACTION CIDR PROTO PORT POLICY).",
	  NULL },
	{ "policy add", policy_add, policy_add_spec, NULL, "Creates an empty policy.",
	  "example: egressctl policy add free --default deny --hint 'Use the proxy to reach {dst}.'\n" },
	{ "policy set", policy_set, policy_add_spec, NULL, "Changes a policy's settings; its rules stay.", NULL },
	{ "policy delete", policy_delete, policy_delete_spec, NULL,
	  "Deletes a policy; refused while a cgroup is bound to it, and for 'default'.", NULL },
	{ "policy list", policy_list, policy_list_spec, NULL,
	  "Prints every policy (by name): NAME DEFAULT ERRNO RULES BOUND MODE.", NULL },
	{ "attach", do_attach, attach_spec, NULL,
	  "Binds a cgroup v2 directory and everything below it to a policy.\n\n"
	  "A bound one switches atomically.  Bound ancestors keep deciding too: a connection must pass\n"
	  "every policy on the path, so attach warns when one of them denies what NAME allows.\n"
	  "Established TCP connections the policies now deny are reset before attach returns.",
	  "example: egressctl attach /sys/fs/cgroup/tiers/free --policy free\n" },
	{ "detach", do_detach, detach_spec, NULL, "Unbinds a cgroup v2 directory.", NULL },
	{ "move", do_move, move_spec, "move PID... --to DIR | move --cgroup SRC --to DIR",
	  "Moves processes into another cgroup: how a sandbox changes tier (free -> pro).\n\n"
	  "Refused unless DIR is enforced (as 'check' says).  Sockets the processes made before the\n"
	  "move stay decided where they were made.",
	  "example: egressctl move --cgroup /sys/fs/cgroup/tiers/free/sb1 --to /sys/fs/cgroup/tiers/pro/sb1\n" },
	{ "check", do_check, check_spec, NULL,
	  "Verifies that DIR is enforced; exit 1 unless it is.\n\n"
	  "Every egress program must be in force on DIR, and DIR or an ancestor bound to an existing\n"
	  "policy.  Prints every binding on the path and the policy in force (free \u2227 pro: both decide).",
	  NULL },
	{ "explain", do_explain, explain_spec, EXPLAIN_USAGE " [--batch]",
	  "Says what the kernel decides for a destination, and why: exit 0 allowed, 1 denied, 2 no answer.\n\n"
	  "For each bound cgroup from DIR up to the root: its policy, mode, the deciding rule or the\n"
	  "default, and the reason; then the verdict and errno.  0.0.0.0, :: and ::ffff:a.b.c.d are\n"
	  "decided as the kernel decides them: 127.0.0.1, ::1, a.b.c.d.",
	  "example: egressctl explain --cgroup /sys/fs/cgroup/tiers/free/sb1 169.254.169.254 --port 80\n" },
	{ "oci-hook", do_oci_hook, oci_hook_spec, NULL,
	  "The OCI runtime hook: binds a container's cgroup before its process runs.\n\n"
	  "Reads the OCI state JSON on stdin.  createRuntime (the default) binds the container's cgroup\n"
	  "and verifies it as 'check' does; poststop removes what createRuntime made.", NULL },
	{ "gc", do_gc, common_spec, NULL,
	  "Removes the bindings and per-cgroup state of deleted cgroups (egressd does this too, every 10 s by default).", NULL },
	{ "run", do_run, run_spec, NULL,
	  "Runs CMD in a fresh cgroup, bound to a policy before CMD's first instruction.\n\n"
	  "Waits, removes the cgroup, exits with CMD's status (128+N if killed by signal N).  Options\n"
	  "end at CMD: what follows it is CMD's.",
	  "example: egressctl run --policy free -- python3 sandbox.py\n" },
	{ "apply", do_apply, apply_spec, NULL,
	  "Replaces every policy the file names with exactly what it says, each atomically.\n\n"
	  "Checks the whole file first and changes nothing when anything is wrong.",
	  "file format: egressctl's command lines without 'egressctl', one a line, # comments, words\n"
	  "quoted as in a shell: 'policy add' lines and 'allow'/'deny' lines, every rule with --policy:\n"
	  "  policy add free --default deny\n"
	  "  allow 192.0.2.10/32 --proto tcp --port 3128 --policy free\n" },
	{ "export", do_export, export_spec, NULL,
	  "Prints the policies as a file 'apply' accepts (export, apply, export prints the same bytes).", NULL },
	{ "status", do_status, status_spec, NULL,
	  "Prints egress's state: programs, policies, counters, bindings; exit 1 when not loaded.\n\n"
	  "Policies by name, with rule counts and counters; bindings as a tree, with the policy in\n"
	  "force on each.", NULL },
	{ "events", do_events, events_spec, NULL,
	  "Prints denial events from egressd: the recent ones, and with --follow every new one.", NULL },
	{ "advise", do_advise, advise_spec, NULL,
	  "Prints a policy file with the allow rules that would have permitted what DIR was denied.\n\n"
	  "One rule per distinct destination, protocol and port that the processes of DIR and below\n"
	  "were denied (or audited), with the count and the process names as comments; the kernel\n"
	  "records them before the event rate limit (egressd --max-seen), egressd need not run.",
	  "example: egressctl advise --cgroup /sys/fs/cgroup/sb1 --since 1h --name sb1 > sb1.policy\n" },
	{ "unload", do_unload, common_spec, NULL, "Detaches every link and removes every pin: enforcement stops.",
	  NULL },
	{ "help", do_help, help_spec, NULL, "Prints this overview.", NULL },
};
static const size_t ncommands = sizeof(commands) / sizeof(commands[0]);

/* egressctl's own options, and every command's, for the overview */
struct top_opts {
	struct common c;
	bool help, version;
};
static const struct opt_spec every_spec[] = {
	OPTION_STR(struct top_opts, c.pin_dir, "pin-dir", "DIR", PIN_DIR_HELP),
	OPTION_FLAG(struct top_opts, c.help, "help", "the command's options, their defaults and an example"),
	OPTION_END,
};
static const struct opt_spec top_spec[] = {
	OPTION_FLAG(struct top_opts, help, "help", "this overview", .short_name = 'h'),
	OPTION_FLAG(struct top_opts, version, "version", "the version"),
	OPTION_END,
};

static int do_help(int argc, char **argv)
{
	char syn[1024];

	printf("usage: egressctl COMMAND [ARGS] [--pin-dir DIR] [--help]\n"
	       "       egressctl --help | --version\n"
	       "Edits egress's policies and bindings live, through the pinned maps (egressd need not run).\n\n"
	       "commands:\n");
	for (size_t i = 0; i < ncommands; i++)
		printf("  %s\n      %.*s\n", synopsis(&commands[i], false, syn, sizeof(syn)),
		       (int)strcspn(commands[i].what, "\n"), commands[i].what);
	printf("\noptions of every command:\n");
	opts_usage(stdout, every_spec);
	printf("options of egressctl itself:\n");
	opts_usage(stdout, top_spec);
	printf("\nexit status: 0 done, 1 failed, 2 bad usage.  'egressctl COMMAND --help' for one command.\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *names[sizeof(commands) / sizeof(commands[0])], *near;
	size_t n = 0;

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
	for (size_t i = 0; i < ncommands; i++) {
		if (!strncmp(commands[i].name, "policy ", 7)) {	/* do_policy's */
			if (!strcmp(commands[i].name, "policy add"))
				names[n++] = "policy";
			continue;
		}
		if (!strcmp(argv[1], commands[i].name)) {
			cmd_name = commands[i].name;
			current = &commands[i];
			return commands[i].fn(argc - 2, argv + 2);
		}
		names[n++] = commands[i].name;
	}
	if (!strcmp(argv[1], "policy")) {
		cmd_name = "policy";
		return do_policy(argc - 2, argv + 2);
	}
	near = opts_closest(argv[1], names, n);
	if (near)
		fprintf(stderr, "egressctl: unknown command '%s' (did you mean %s? see 'egressctl help')\n",
			argv[1], near);
	else
		fprintf(stderr, "egressctl: unknown command '%s' (see 'egressctl help')\n", argv[1]);
	return 2;
}

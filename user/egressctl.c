// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * egressctl - edits egress's policies and bindings live, through the pinned
 * maps (egressd need not run).  Writers serialise on the pin directory's
 * lock; a policy change reaches the kernel whole (see state_policy_store).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include <sys/socket.h>
#include <sys/un.h>

#include "cgroup.h"
#include "cmdline.h"
#include "events.h"
#include "follow.h"
#include "oci.h"
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

static int parse(int argc, char **argv, const struct opt *opts, char **pos, int maxpos, int *npos,
		 const struct common *c, const char *usage)
{
	char err[ERRBUF_LEN];

	if (opts_parse(argc, argv, opts, pos, maxpos, npos, err, sizeof(err)))
		return die(2, "%s (see 'egressctl %s --help')", err, cmd_name);
	if (c->help) {
		printf("usage: egressctl %s\n", usage);
		exit(0);
	}
	return 0;
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
			printf("usage: egressctl %s\n", usage);
			exit(0);
		}
		if (!strcmp(argv[i], "--pin-dir") && i + 1 < argc)
			c->pin_dir = argv[++i];
		else if (!strncmp(argv[i], "--pin-dir=", 10))
			c->pin_dir = argv[i] + 10;
		else
			rest[(*nrest)++] = argv[i];
	}
	return rest;
}

static int rule_command(int argc, char **argv, int verb, const char *usage)
{
	struct egress_state st;
	struct common c = {};
	char err[ERRBUF_LEN], **rest;
	struct rule_cmd rc;
	struct policy p;
	const char *name;
	uint32_t id;
	int ret, nrest;

	rest = common_only(argc, argv, &c, usage, &nrest);
	if (!rest)
		return 1;
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
	ret = state_policy_load(&st, id, &p);
	if (ret) {
		snprintf(err, sizeof(err), "cannot read policy '%s': %s", name, strerror(-ret));
		goto out;
	}
	if (verb == 'r') {
		ret = policy_remove_rule(&p, &rc.rule);
		if (ret) {
			char cs[CIDR_STR_LEN];

			format_cidr(&rc.rule.cidr, cs, sizeof(cs));
			snprintf(err, sizeof(err), "policy '%s' has no rule for %s with that protocol "
				 "and port", name, cs);
		}
	} else {
		ret = policy_set_rule(&p, &rc.rule);
		ret = ret < 0 ? ret : 0;
		if (ret)
			snprintf(err, sizeof(err), "%s", strerror(-ret));
	}
	if (!ret)
		ret = state_policy_store(&st, &id, &p, 0, err, sizeof(err));
	if (!ret && verb != 'a') {
		/* an allow only turns denials into allows: it never narrows */
		struct revoke_scope sc = { .policies = &id, .npolicies = 1 };

		ret = revoke_after_change(&st, &sc, NULL, err, sizeof(err));
	}
	policy_free(&p);
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

		for (size_t i = 0; i < p.nrules; i++)
			json_array_append_new(a, rule_json(&p.rules[i]));
		print_json(a);
	} else {
		for (size_t i = 0; i < p.nrules; i++) {
			const struct rule *r = &p.rules[i];
			char cs[CIDR_STR_LEN], ps[PORTS_STR_LEN];

			format_cidr(&r->cidr, cs, sizeof(cs));
			format_ports(r->port_lo, r->port_hi, ps, sizeof(ps));
			printf("%-5s %-43s %-4s %s\n", r->action == EGRESS_ALLOW ? "allow" : "deny", cs,
			       r->proto ? proto_name(r->proto) : "any",
			       r->port_lo == 0 && r->port_hi == 65535 ? "any" : ps);
		}
	}
	policy_free(&p);
	return 0;
}

/* ---- policies ----------------------------------------------------------- */

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

static int policy_add_or_set(int argc, char **argv, bool add)
{
	const char *usage = add ? "policy add NAME [--default allow|deny] [--errno NAME] [--hint TEMPLATE] [--ping allow|deny] [--pin-dir DIR]"
				: "policy set NAME [--default allow|deny] [--errno NAME] [--hint TEMPLATE] [--ping allow|deny] [--pin-dir DIR]";
	struct common c = {};
	char err[ERRBUF_LEN], **rest;
	struct egress_state st;
	struct policy_cmd pc;
	struct policy p = {};
	uint32_t id = 0;
	int nrest, ret;

	/* one parser for the command line and policy files */
	rest = common_only(argc, argv, &c, usage, &nrest);
	if (!rest)
		return 1;
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
	ret = state_policy_store(&st, &id, &p, 0, err, sizeof(err));
	if (!ret && !add && pc.has_dflt && pc.dflt == EGRESS_DENY) {
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
		snprintf(err, sizeof(err), "policy '%s' is bound to %d cgroup%s (detach %s first)", pos[0],
			 bound, bound == 1 ? "" : "s", bound == 1 ? "it" : "them");
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
	for (size_t i = 0; i < n; i++) {
		struct policy p;
		const char *en;

		if (state_policy_load(&st, v[i].id, &p))
			continue;
		en = p.err ? errno_name(p.err) : "EPERM";
		if (json)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I, s:i, s:s}", "name", p.name,
					      "default", p.dflt == EGRESS_ALLOW ? "allow" : "deny",
					      "errno", en ? en : "?", "rules", (json_int_t)p.nrules,
					      "bound", count_bound(&st, v[i].id), "hint", p.hint));
		else
			printf("%-20s default %-5s errno %-13s rules %-7zu bound %d\n", p.name,
			       p.dflt == EGRESS_ALLOW ? "allow" : "deny", en ? en : "?", p.nrules,
			       count_bound(&st, v[i].id));
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

	if (argc < 1)
		return die(2, "missing subcommand; usage: egressctl %s", usage);
	if (!strcmp(argv[0], "add"))
		return policy_add_or_set(argc - 1, argv + 1, true);
	if (!strcmp(argv[0], "set"))
		return policy_add_or_set(argc - 1, argv + 1, false);
	if (!strcmp(argv[0], "delete"))
		return policy_delete(argc - 1, argv + 1);
	if (!strcmp(argv[0], "list"))
		return policy_list(argc - 1, argv + 1);
	if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
		printf("usage: egressctl %s\n", usage);
		return 0;
	}
	return die(2, "unknown subcommand '%s'; usage: egressctl %s", argv[0], usage);
}

/* ---- bindings ----------------------------------------------------------- */

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

static pid_t run_child;

static void forward_signal(int sig)
{
	if (run_child > 0)
		kill(run_child, sig);
}

static int mkdir_cgroup_parent(const char *path, char *err, size_t errlen)
{
	uint64_t id;
	int fd;

	if (mkdir(path, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create cgroup %s: %s", path, strerror(errno));
		return -errno;
	}
	if (cg_open(path, &fd, &id, err, errlen))
		return -EINVAL;
	close(fd);
	return 0;
}

static int do_run(int argc, char **argv)
{
	const char *usage = "run [--policy NAME] [--cgroup-parent DIR] [--pin-dir DIR] -- CMD [ARG...]";
	const char *name = "default", *parent = NULL;
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { "policy", true, &name, NULL },
				    { "cgroup-parent", true, &parent, NULL }, { 0 } };
	char err[ERRBUF_LEN], mnt[PATH_MAX], def_parent[PATH_MAX + 16], cgdir[PATH_MAX + 32];
	char **pos = calloc(argc + 1, sizeof(char *));
	struct sigaction sa = { .sa_handler = forward_signal };
	struct egress_state st;
	uint64_t cgid;
	int npos, ret, status = 0, fd;
	uint32_t id;
	pid_t pid;

	if (!pos)
		return die(1, "out of memory");
	if (parse(argc, argv, opts, pos, argc, &npos, &c, usage))
		return 2;
	if (npos < 1)
		return die(2, "missing command; usage: egressctl %s", usage);
	if (parse_policy_name(name, err, sizeof(err)))
		return die(2, "%s", err);
	if (!parent) {
		if (cg2_mount(mnt, sizeof(mnt)))
			return die(1, "no cgroup2 file system is mounted");
		snprintf(def_parent, sizeof(def_parent), "%s/egress-run", mnt);
		parent = def_parent;
	}
	if (open_state(&st, &c, STATE_LOCK))
		return 1;
	ret = state_policy_find(&st, name, &id, err, sizeof(err));
	if (!ret)
		ret = mkdir_cgroup_parent(parent, err, sizeof(err));
	if (ret) {
		state_close(&st);
		return die(1, "%s", err);
	}
	snprintf(cgdir, sizeof(cgdir), "%s/run-%d", parent, getpid());
	if (mkdir(cgdir, 0755)) {
		state_close(&st);
		return die(1, "cannot create cgroup %s: %s", cgdir, strerror(errno));
	}
	ret = state_bind(&st, cgdir, id, err, sizeof(err));
	if (ret) {
		rmdir(cgdir);
		state_close(&st);
		return die(1, "%s", err);
	}
	ret = cg_open(cgdir, &fd, &cgid, err, sizeof(err));
	if (!ret)
		close(fd);
	/* release the writers' lock while the command runs */
	close(st.dir_fd);
	st.dir_fd = -1;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	pid = fork();
	if (pid == 0) {
		char procs[PATH_MAX + 64];
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
	/* -f is the one short option egressctl has */
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-f") && i + 1 < argc)
			file = argv[++i];
		else
			args[nargs++] = argv[i];
	}
	ret = parse(nargs, args, opts, NULL, 0, &npos, &c, usage);
	free(args);
	if (ret)
		return 2;
	if (!file)
		return die(2, "missing -f FILE; usage: egressctl %s", usage);
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

static int ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct policy_ref *)a)->name, ((const struct policy_ref *)b)->name);
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

static int do_status(int argc, char **argv)
{
	const char *usage = "status [--json] [--pin-dir DIR]";
	struct common c = {};
	bool json = false;
	const struct opt opts[] = { COMMON_OPTS(c), { "json", false, NULL, &json }, { 0 } };
	json_t *o, *progs, *pols, *binds;
	struct egress_state st;
	struct binding_ref *b = NULL;
	struct policy_ref *v = NULL;
	char err[ERRBUF_LEN], path[PATH_MAX];
	size_t n = 0, nb = 0;
	int npos;

	if (parse(argc, argv, opts, NULL, 0, &npos, &c, usage))
		return 2;
	if (state_open(&st, state_pin_dir(c.pin_dir), 0, err, sizeof(err))) {
		if (json)
			print_json(json_pack("{s:b, s:s, s:s}", "loaded", 0, "pin_dir",
					     state_pin_dir(c.pin_dir), "error", err));
		else
			fprintf(stderr, "egressctl: status: %s\n", err);
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

		if (state_policy_load(&st, v[i].id, &p))
			continue;
		for (int h = 0; h < EGRESS_NHOOKS; h++) {
			state_policy_counters(&st, v[i].id, h, &one);
			sum.allowed += one.allowed;
			sum.denied += one.denied;
			sum.suppressed += one.suppressed;
			sum.dropped += one.dropped;
			json_object_set_new(hooks, egress_hooks[h].name,
					    json_pack("{s:I, s:I}", "allowed", (json_int_t)one.allowed,
						      "denied", (json_int_t)one.denied));
		}
		for (size_t j = 0; j < nb; j++)
			bound += b[j].policy == v[i].id;
		json_array_append_new(pols, json_pack("{s:s, s:i, s:s, s:I, s:i, s:I, s:I, s:I, s:I, s:o}",
			"name", p.name, "id", (int)v[i].id,
			"default", p.dflt == EGRESS_ALLOW ? "allow" : "deny",
			"rules", (json_int_t)p.nrules, "bound", bound,
			"allowed", (json_int_t)sum.allowed, "denied", (json_int_t)sum.denied,
			"events_suppressed", (json_int_t)sum.suppressed,
			"events_dropped", (json_int_t)sum.dropped, "hooks", hooks));
		policy_free(&p);
	}
	binds = json_array();
	for (size_t j = 0; j < nb; j++) {
		const char *pname = "";

		for (size_t i = 0; i < n; i++)
			if (v[i].id == b[j].policy)
				pname = v[i].name;
		if (cg_path(b[j].cgroup_id, path, sizeof(path)))
			path[0] = '\0';
		json_array_append_new(binds, json_pack("{s:s, s:I, s:s}", "cgroup", path,
			"cgroup_id", (json_int_t)b[j].cgroup_id, "policy", pname));
	}
	o = json_pack("{s:b, s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I}", "loaded", 1,
		      "pin_dir", st.pin_dir, "version", EGRESS_VERSION, "programs", progs,
		      "policies", pols, "bindings", binds,
		      "ringbuf_drops", (json_int_t)state_stat(&st, EGRESS_STAT_RB_DROPS),
		      "events_delivered", (json_int_t)state_stat(&st, EGRESS_STAT_DELIVERED),
		      "events_suppressed", (json_int_t)state_stat(&st, EGRESS_STAT_SUPPRESSED),
		      "unconfigured_denials", (json_int_t)state_stat(&st, EGRESS_STAT_UNCONFIGURED));
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
			printf("  %-20s default %-5s rules %-7lld bound %-5lld allowed %-10lld denied %lld\n",
			       json_string_value(json_object_get(e, "name")),
			       json_string_value(json_object_get(e, "default")),
			       json_integer_value(json_object_get(e, "rules")),
			       json_integer_value(json_object_get(e, "bound")),
			       json_integer_value(json_object_get(e, "allowed")),
			       json_integer_value(json_object_get(e, "denied")));
		printf("bindings:\n");
		json_array_foreach(binds, i, e)
			printf("  %s -> %s\n", *json_string_value(json_object_get(e, "cgroup")) ?
			       json_string_value(json_object_get(e, "cgroup")) : "(removed)",
			       json_string_value(json_object_get(e, "policy")));
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

static int do_unload(int argc, char **argv)
{
	const char *usage = "unload [--pin-dir DIR]";
	struct common c = {};
	const struct opt opts[] = { COMMON_OPTS(c), { 0 } };
	struct egress_state st;
	char err[ERRBUF_LEN];
	int npos, ret;

	if (parse(argc, argv, opts, NULL, 0, &npos, &c, usage))
		return 2;
	if (open_state(&st, &c, STATE_LOCK))
		return 1;
	ret = state_unload(&st, err, sizeof(err));
	state_close(&st);
	return ret ? die(1, "%s", err) : 0;
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
	char err[ERRBUF_LEN], mnt[PATH_MAX], dir[PATH_MAX], bound_at[PATH_MAX] = "";
	char bound_policy[EGRESS_NAME_MAX] = "";
	int missing = 0;

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
	/* the nearest bound cgroup on the way up, with a policy that exists */
	if (!realpath(path, dir) || cg2_mount(mnt, sizeof(mnt)))
		dir[0] = '\0';
	while (dir[0] && !bound_policy[0]) {
		struct egress_policy_info info;
		struct egress_binding b;
		char links[PATH_MAX + 32];
		uint64_t id;
		int fd;

		if (cg_open(dir, &fd, &id, err, sizeof(err)))
			break;
		close(fd);
		state_pin_path(st, links, sizeof(links), "links/%llu", (unsigned long long)id);
		if (!access(links, F_OK)) {
			if (bpf_map_lookup_elem(st->map_fd[M_BINDING], &id, &b) || !b.policy ||
			    bpf_map_lookup_elem(st->map_fd[M_INFO], &b.policy, &info)) {
				fprintf(out, "%s: bound at %s, but to no existing policy\n", path, dir);
				missing++;
				break;
			}
			snprintf(bound_at, sizeof(bound_at), "%s", dir);
			snprintf(bound_policy, sizeof(bound_policy), "%.*s", EGRESS_NAME_MAX - 1, info.name);
		}
		if (!strcmp(dir, mnt) || !strrchr(dir, '/'))
			break;
		*strrchr(dir, '/') = '\0';
	}
	if (!bound_policy[0] && !missing) {
		fprintf(out, "%s: neither it nor an ancestor is bound to a policy\n", path);
		missing++;
	}
	if (!missing)
		fprintf(out, "%s: enforced: policy %s (bound at %s), %d programs in force\n", path,
			bound_policy, bound_at, EGRESS_NHOOKS);
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

/* The cgroup v2 directory of a process, from /proc/PID/cgroup ("0::/path"). */
static int proc_cgroup(int pid, char *out, size_t len, char *err, size_t errlen)
{
	char path[64], line[PATH_MAX], mnt[PATH_MAX];
	int ret = -ENOENT;
	FILE *f;

	if (cg2_mount(mnt, sizeof(mnt))) {
		snprintf(err, errlen, "no cgroup2 file system is mounted");
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "container process %d: %s", pid, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (snprintf(out, len, "%s%s", mnt, strcmp(line + 3, "/") ? line + 3 : "") < (int)len)
			ret = 0;
		break;
	}
	fclose(f);
	if (ret)
		snprintf(err, errlen, "container process %d has no cgroup v2 directory", pid);
	return ret;
}

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

/*
 * createRuntime (default): bind the container's cgroup to its policy and
 * verify enforcement before its process runs; any failure exits non-zero,
 * so the runtime does not start the container.  poststop: undo that.
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
	struct egress_oci_key key = {};
	struct egress_state st = { .dir_fd = -1 };
	struct oci_config cfg = {};
	struct oci_state os;
	bool poststop, bound = false;
	uint64_t cgid;
	uint32_t id;
	size_t len;
	int npos, ret = 1, cg_fd = -1;

	for (int i = 0; i < M_N; i++)
		st.map_fd[i] = -1;
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
	snprintf(key.id, sizeof(key.id), "%s", os.id);
	/* FNV-1a of the bundle path: two runtimes may use the same id */
	key.bundle_hash = 0xcbf29ce484222325ULL;
	for (const char *b = os.bundle; *b; b++)
		key.bundle_hash = (key.bundle_hash ^ (unsigned char)*b) * 0x100000001b3ULL;

	if (poststop) {
		if (open_state(&st, &c, STATE_LOCK))
			goto cleanup;
		if (!bpf_map_lookup_elem(st.map_fd[M_OCI], &key, &cgid)) {
			state_unbind_id(&st, cgid);
			bpf_map_delete_elem(st.map_fd[M_OCI], &key);
		}
		ret = 0;
		goto cleanup;
	}

	/* the bundle's config: annotations, capabilities, namespaces */
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
	if (cfg.risky_caps[0] || host_netns(&cfg)) {
		char why[256];

		snprintf(why, sizeof(why), "%s%s%s", cfg.risky_caps,
			 cfg.risky_caps[0] && host_netns(&cfg) ? ", " : "",
			 host_netns(&cfg) ? "the host's network namespace" : "");
		if (strict) {
			ret = die(1, "container %s: refused (--strict): its config defeats egress: %s",
				  os.id, why);
			goto cleanup;
		}
		fprintf(stderr, "egressctl: oci-hook: warning: container %s: its config weakens egress: %s\n",
			os.id, why);
	}
	if (proc_cgroup(os.pid, cgdir, sizeof(cgdir), err, sizeof(err)) ||
	    cg_open(cgdir, &cg_fd, &cgid, err, sizeof(err))) {
		ret = die(1, "container %s: %s", os.id, err);
		goto cleanup;
	}
	if (open_state(&st, &c, STATE_LOCK))
		goto cleanup;
	if (state_policy_find(&st, policy, &id, err, sizeof(err)) ||
	    state_bind(&st, cgdir, id, err, sizeof(err))) {
		ret = die(1, "container %s: %s", os.id, err);
		goto cleanup;
	}
	bound = true;
	if (bpf_map_update_elem(st.map_fd[M_OCI], &key, &cgid, BPF_ANY)) {
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
		bpf_map_delete_elem(st.map_fd[M_OCI], &key);
	}
	if (cg_fd >= 0)
		close(cg_fd);
	state_close(&st);
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
	char real[PATH_MAX] = "", err[ERRBUF_LEN];
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
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return die(1, "egressd is not running or not reachable (%s: %s)", sock, strerror(errno));
	req = json_pack("{s:s, s:b}", "cgroup", real, "follow", follow);
	reqs = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!reqs || dprintf(fd, "%s\n", reqs) < 0) {
		free(reqs);
		close(fd);
		return die(1, "cannot talk to egressd: %s", strerror(errno));
	}
	free(reqs);
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	in = fdopen(fd, "r");
	if (!in)
		return die(1, "%s", strerror(errno));
	bool ended = false;

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
		} else if (!json_object_get(ev, "live")) {
			event_print(ev, fmt, stdout);
		}
		json_decref(ev);
	}
	free(line);
	fclose(in);
	if (!ret && !ended && !events_stop)
		ret = die(1, "egressd closed the event stream (it stopped, or refused this reader)");
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
	{ "attach", do_attach, "attach DIR [--policy NAME]" },
	{ "detach", do_detach, "detach DIR" },
	{ "check", do_check, "check DIR                 (exit 1 unless DIR is fully enforced)" },
	{ "oci-hook", do_oci_hook, "oci-hook [poststop] [--policy NAME] [--strict]  (OCI runtime hook)" },
	{ "gc", do_gc, "gc                        (drop the bindings of deleted cgroups)" },
	{ "run", do_run, "run [--policy NAME] [--cgroup-parent DIR] -- CMD [ARG...]" },
	{ "apply", do_apply, "apply -f FILE" },
	{ "export", do_export, "export [--policy NAME]" },
	{ "status", do_status, "status [--json]" },
	{ "events", do_events, "events [--follow] [--cgroup DIR] [--format json|text|hint] [--socket PATH]" },
	{ "unload", do_unload, "unload" },
	{ "help", do_help, "help" },
};

static int do_help(int argc, char **argv)
{
	printf("Usage: egressctl COMMAND [ARGS] [--pin-dir DIR]\n"
	       "Edits egress policies and bindings (pins in $EGRESS_PIN_DIR or " EGRESS_DEFAULT_PIN_DIR ").\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %s\n", commands[i].summary);
	printf("\n'egressctl COMMAND --help' for one command.\n");
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
	fprintf(stderr, "egressctl: unknown command '%s' (see 'egressctl help')\n", argv[1]);
	return 2;
}

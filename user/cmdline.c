// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cmdline.c - options, rule and policy commands, policy files. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

#define fail(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

const struct opt_spec rule_words_spec[] = {
	OPTION_POS(struct rule_words, cidr, "CIDR",
		   "an IPv4 or IPv6 network without host bits: 192.0.2.10/32, 10.0.0.0/8,\n"
		   "2001:db8::/32 (an address alone is /32 or /128)"),
	OPTION_STR(struct rule_words, proto, "proto", "tcp|udp|any", "the protocol (default: any)"),
	OPTION_STR(struct rule_words, port, "port", "N|N-M", "a port or a range, 1-65535 (default: any port)"),
	OPTION_STR(struct rule_words, policy, "policy", "NAME", "the policy (default: default)"),
	OPTION_END,
};

int rule_cmd_check(const struct rule_words *w, struct rule_cmd *out, char *err, size_t errlen)
{
	int ret;

	memset(out, 0, sizeof(*out));
	if (!w->cidr)
		fail("missing CIDR");
	ret = parse_cidr(w->cidr, &out->rule.cidr, err, errlen);
	if (!ret && w->proto)
		ret = parse_proto(w->proto, &out->rule.proto, err, errlen);
	out->rule.port_lo = 0;
	out->rule.port_hi = 65535;
	if (!ret && w->port)
		ret = parse_ports(w->port, &out->rule.port_lo, &out->rule.port_hi, err, errlen);
	if (!ret && w->policy)
		ret = parse_policy_name(w->policy, err, errlen);
	out->policy = w->policy;
	return ret;
}

int rule_cmd_parse(int argc, char **argv, struct rule_cmd *out, char *err, size_t errlen)
{
	struct rule_words w = {};

	memset(out, 0, sizeof(*out));
	if (opts_parse(rule_words_spec, argc, argv, &w, 0, err, errlen))
		return -EINVAL;	/* no "help" in the table: --help is an unknown option here */
	return rule_cmd_check(&w, out, err, errlen);
}

static const char *const ping_words[] = { "allow", "deny", NULL };
static const char *const mode_words[] = { "enforce", "audit", NULL };

const struct opt_spec policy_words_spec[] = {
	OPTION_POS(struct policy_words, name, "NAME", NULL),
	OPTION_STR(struct policy_words, dflt, "default", "allow|deny",
		   "the verdict when no rule matches (default: deny on add, unchanged on set)"),
	OPTION_STR(struct policy_words, errname, "errno", "NAME",
		   "the error of denials (default: EPERM on add, unchanged on set): EPERM,\n"
		   "EACCES, ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ECONNRESET,\n"
		   "ETIMEDOUT, EADDRNOTAVAIL, ENETDOWN"),
	OPTION_STR(struct policy_words, hint, "hint", "TEMPLATE",
		   "the message for the sandbox's user (default: none on add, events carry\n"
		   "a generic hint; unchanged on set), with {dst} {dport} {proto} {policy}\n"
		   "{comm} {pid}"),
	OPTION_ENUM(struct policy_words, ping, "ping", "allow|deny", ping_words,
		    "ICMP ping sockets under a deny-default policy (default: deny on add,\n"
		    "unchanged on set)"),
	OPTION_ENUM(struct policy_words, mode, "mode", "enforce|audit", mode_words,
		    "(default: enforce on add, unchanged on set) audit never denies: what\n"
		    "the policy would deny is allowed, counted and logged with verdict\n"
		    "audit; a switch to enforce resets established connections it denies"),
	OPTION_END,
};

int policy_add_check(const struct policy_words *w, struct policy_cmd *out, char *err, size_t errlen)
{
	int ret;

	memset(out, 0, sizeof(*out));
	if (!w->name)
		fail("missing policy name");
	ret = parse_policy_name(w->name, err, errlen);
	if (ret)
		return ret;
	out->name = w->name;
	if (w->dflt) {
		ret = parse_action(w->dflt, &out->dflt, err, errlen);
		out->has_dflt = true;
	}
	if (!ret && w->errname) {
		ret = parse_errno(w->errname, &out->err, err, errlen);
		out->has_err = true;
		if (out->err == EPERM)
			out->err = 0;	/* the kernel's own: one spelling */
	}
	if (!ret && w->hint) {
		ret = parse_hint(w->hint, err, errlen);
		out->hint = w->hint;
	}
	out->has_ping = w->ping >= 0;
	out->ping = w->ping == POLICY_PING_ALLOW;
	out->has_mode = w->mode >= 0;
	out->audit = w->mode == POLICY_MODE_AUDIT;
	return ret;
}

int policy_add_parse(int argc, char **argv, struct policy_cmd *out, char *err, size_t errlen)
{
	struct policy_words w = POLICY_WORDS_INIT;

	memset(out, 0, sizeof(*out));
	if (opts_parse(policy_words_spec, argc, argv, &w, 0, err, errlen))
		return -EINVAL;
	return policy_add_check(&w, out, err, errlen);
}

/* Characters split_words_n handles one at a time; a plain one (0) is copied in a run. */
static const unsigned char word_special[256] = {
	['\0'] = 1, [' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1, ['\''] = 1, ['"'] = 1, ['\\'] = 1,
};

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int split_words_into(const char *line, size_t len, char ***bufp, size_t *cap, int *argc_out,
		     char *err, size_t errlen)
{
	const char *p = line, *end;
	size_t nwords = 0, need;
	char **argv, *buf, *w;

	len = strnlen(line, len);	/* a NUL ends the text */
	end = line + len;
	/* words <= len/2+1; the text itself fits in len+1 bytes per word set */
	need = (len / 2 + 2) * sizeof(char *) + len + 1;
	if (need > *cap) {
		argv = realloc(*bufp, need);
		if (!argv)
			return -ENOMEM;
		*bufp = argv;
		*cap = need;
	}
	argv = *bufp;
	buf = (char *)(argv + len / 2 + 2);
	w = buf;
	for (;;) {
		char quote = 0;

		while (p < end && blank(*p))
			p++;
		if (p == end || *p == '#')
			break;
		argv[nwords] = w;
		for (; p < end; p++) {
			if (!quote) {
				while (p < end && !word_special[(unsigned char)*p])
					*w++ = *p++;
				if (p == end)
					break;
			}
			if (quote) {
				if (*p == quote)
					quote = 0;
				else if (quote == '"' && *p == '\\' && p + 1 < end)
					*w++ = *++p;
				else
					*w++ = *p;
			} else if (*p == '\'' || *p == '"') {
				quote = *p;
			} else if (*p == '\\' && p + 1 < end) {
				*w++ = *++p;
			} else if (blank(*p)) {
				break;
			} else {
				*w++ = *p;	/* a backslash at the end */
			}
		}
		if (quote)
			fail("unterminated %c quote", quote);
		*w++ = '\0';
		nwords++;
	}
	argv[nwords] = NULL;
	*argc_out = nwords;
	return 0;
}

int split_words_n(const char *line, size_t len, char ***argv_out, int *argc_out, char *err,
		  size_t errlen)
{
	char **argv = NULL;
	size_t cap = 0;
	int ret = split_words_into(line, len, &argv, &cap, argc_out, err, errlen);

	if (ret)
		free(argv);
	else
		*argv_out = argv;
	return ret;
}

int split_words(const char *line, char ***argv_out, int *argc_out, char *err, size_t errlen)
{
	return split_words_n(line, strlen(line), argv_out, argc_out, err, errlen);
}

char *read_text(const char *path, size_t limit, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	size_t n = 0, cap = 4096;
	char *buf = NULL;
	int e = 0;

	if (!f)
		return NULL;
	for (;;) {
		char *nb = realloc(buf, cap + 1);

		if (!nb) {
			e = ENOMEM;
			break;
		}
		buf = nb;
		n += fread(buf + n, 1, cap - n, f);
		if (ferror(f)) {
			e = EIO;
			break;
		}
		if (n < cap)
			break;	/* end of file */
		if (cap > limit) {
			e = EFBIG;
			break;
		}
		cap *= 2;
	}
	if (f != stdin)
		fclose(f);
	if (e || n > limit) {
		free(buf);
		errno = e ? e : EFBIG;
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static struct policy *file_policy(struct policy_file *f, const char *name, int lineno)
{
	struct policy *np;
	bool *nd;
	int *nl;

	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->pol[i].name, name))
			return &f->pol[i];
	np = realloc(f->pol, (f->n + 1) * sizeof(*np));
	if (!np)
		return NULL;
	f->pol = np;
	nd = realloc(f->declared, (f->n + 1) * sizeof(*nd));
	if (!nd)
		return NULL;
	f->declared = nd;
	nl = realloc(f->line, (f->n + 1) * sizeof(*nl));
	if (!nl)
		return NULL;
	f->line = nl;
	f->line[f->n] = lineno;
	memset(&f->pol[f->n], 0, sizeof(*np));
	snprintf(f->pol[f->n].name, EGRESS_NAME_MAX, "%s", name);
	f->pol[f->n].dflt = EGRESS_DENY;
	f->declared[f->n] = false;
	return &f->pol[f->n++];
}

/*
 * A rule line ("allow ..." or "deny ..."): its rule and policy into *rc
 * (1), or 0 when the line is something else; a bad rule fails.
 */
static int file_rule(int argc, char **argv, struct rule_cmd *rc, char *err, size_t errlen)
{
	int ret;

	if (strcmp(argv[0], "allow") && strcmp(argv[0], "deny"))
		return 0;
	ret = rule_cmd_parse(argc - 1, argv + 1, rc, err, errlen);
	if (ret)
		return ret;
	rc->rule.action = !strcmp(argv[0], "allow") ? EGRESS_ALLOW : EGRESS_DENY;
	return 1;
}

static int file_line(struct policy_file *f, int argc, char **argv, int lineno, char *err,
		     size_t errlen)
{
	struct rule_cmd rc;
	struct policy *p;
	int ret;

	ret = file_rule(argc, argv, &rc, err, errlen);
	if (ret < 0)
		return ret;
	if (ret) {
		/* a file changes only the policies it names: no implicit 'default' */
		if (!rc.policy)
			fail("'%s' without --policy: in a policy file every rule names its policy "
			     "(add '--policy NAME'; for the default policy '--policy default')", argv[0]);
		p = file_policy(f, rc.policy, lineno);
		return p ? policy_append_rule(p, &rc.rule) : -ENOMEM;
	}
	if (!strcmp(argv[0], "policy") && argc > 1 && !strcmp(argv[1], "add")) {
		struct policy_cmd pc;

		ret = policy_add_parse(argc - 2, argv + 2, &pc, err, errlen);
		if (ret)
			return ret;
		p = file_policy(f, pc.name, lineno);
		if (!p)
			return -ENOMEM;
		if (f->declared[p - f->pol])
			fail("policy '%s' is added twice", pc.name);
		f->declared[p - f->pol] = true;
		p->dflt = pc.has_dflt ? pc.dflt : EGRESS_DENY;
		p->err = pc.has_err ? pc.err : 0;
		snprintf(p->hint, sizeof(p->hint), "%s", pc.hint ? pc.hint : "");
		p->flags = pc.has_ping && pc.ping ? EGRESS_POL_PING : 0;
		if (pc.has_mode && pc.audit)
			p->flags |= EGRESS_POL_AUDIT;
		return 0;
	}
	fail("'%s%s%s' cannot stand in a policy file (only 'policy add', 'allow' and 'deny')",
	     argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
}

/* Calls line() with each line's words until it returns non-zero (or a line cannot be split). */
static int file_lines(const char *text, int (*line_fn)(int argc, char **argv, int lineno, void *ctx,
						       char *err, size_t errlen),
		      void *ctx, char *err, size_t errlen)
{
	const char *line = text;
	char msg[ERRBUF_LEN], **argv = NULL;
	size_t cap = 0;
	int lineno = 0, ret = 0;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		int argc;

		lineno++;
		/* one buffer for every line's words */
		ret = split_words_into(line, len, &argv, &cap, &argc, msg, sizeof(msg));
		if (!ret && argc)
			ret = line_fn(argc, argv, lineno, ctx, msg, sizeof(msg));
		if (ret) {
			if (ret > 0)
				ret = 0;	/* stop, found */
			else
				snprintf(err, errlen, "%d: %s", lineno, ret == -ENOMEM ? "out of memory" : msg);
			break;
		}
		line += len + (nl ? 1 : 0);
	}
	free(argv);
	return ret;
}

static int parse_line(int argc, char **argv, int lineno, void *ctx, char *err, size_t errlen)
{
	return file_line(ctx, argc, argv, lineno, err, errlen);
}

/*
 * The line whose rule contradicts an earlier one with the same match, found
 * by reading the file again (only when normalising found a conflict: no
 * file order is kept for it).
 */
struct conflict_walk {
	const char *policy;
	const struct rule *r;
	int first_action, line, last;
};

static int conflict_line(int argc, char **argv, int lineno, void *ctx, char *err, size_t errlen)
{
	struct conflict_walk *w = ctx;
	struct rule_cmd rc;

	if (file_rule(argc, argv, &rc, err, errlen) != 1 || !rc.policy ||
	    strcmp(rc.policy, w->policy) || !rule_same_match(&rc.rule, w->r))
		return 0;
	w->last = lineno;
	if (w->first_action < 0)
		w->first_action = rc.rule.action;
	else if (rc.rule.action != w->first_action)
		return w->line = lineno, 1;
	return 0;
}

int policy_file_parse(const char *text, struct policy_file *f, char *err, size_t errlen)
{
	char msg[ERRBUF_LEN];
	int ret;

	memset(f, 0, sizeof(*f));
	ret = file_lines(text, parse_line, f, err, errlen);
	for (size_t i = 0; !ret && i < f->n; i++) {
		struct rule conflict;

		ret = policy_normalize(&f->pol[i], &conflict, msg, sizeof(msg));
		if (ret == -EEXIST) {
			struct conflict_walk w = { .policy = f->pol[i].name, .r = &conflict,
						   .first_action = -1 };
			char e2[ERRBUF_LEN];

			if (file_lines(text, conflict_line, &w, e2, sizeof(e2)) < 0)
				snprintf(err, errlen, "out of memory");	/* the line is not known */
			else
				snprintf(err, errlen, "%d: %s", w.line ? w.line : w.last, msg);
		} else if (ret) {
			snprintf(err, errlen, "%s", msg);
		}
	}
	if (ret)
		policy_file_free(f);
	return ret;
}

void policy_file_free(struct policy_file *f)
{
	for (size_t i = 0; i < f->n; i++)
		policy_free(&f->pol[i]);
	free(f->pol);
	free(f->declared);
	free(f->line);
	memset(f, 0, sizeof(*f));
}

void policy_export(FILE *out, const struct policy *p)
{
	fprintf(out, "policy add %s --default %s", p->name, p->dflt == EGRESS_ALLOW ? "allow" : "deny");
	if (p->err && errno_name(p->err))
		fprintf(out, " --errno %s", errno_name(p->err));
	if (p->flags & EGRESS_POL_PING)
		fputs(" --ping allow", out);
	/* enforce is the default and not written: an enforcing policy exports as before */
	if (p->flags & EGRESS_POL_AUDIT)
		fputs(" --mode audit", out);
	if (p->hint[0]) {
		/* single quotes; a quote inside closes, escapes and reopens */
		fputs(" --hint '", out);
		for (const char *h = p->hint; *h; h++)
			fputs(*h == '\'' ? "'\\''" : (char[]){ *h, 0 }, out);
		fputc('\'', out);
	}
	fputc('\n', out);
	for (size_t i = 0; i < p->nrules; i++)
		rule_export(out, &p->rules[i], p->name);
}

void rule_export(FILE *out, const struct rule *r, const char *policy)
{
	char c[CIDR_STR_LEN], ports[PORTS_STR_LEN];

	format_cidr(&r->cidr, c, sizeof(c));
	fprintf(out, "%s %s", r->action == EGRESS_ALLOW ? "allow" : "deny", c);
	if (r->proto)
		fprintf(out, " --proto %s", proto_name(r->proto));
	if (r->port_lo != 0 || r->port_hi != 65535) {
		format_ports(r->port_lo, r->port_hi, ports, sizeof(ports));
		fprintf(out, " --port %s", ports);
	}
	fprintf(out, " --policy %s\n", policy);
}

/*
 * The points where a decision can change: a CIDR's first address and the
 * address after its last.  Since CIDRs nest or are disjoint, every range
 * of addresses that two policies decide alike starts at one of them.
 */
static int add_addr(struct cidr **v, size_t *n, size_t *cap, const struct cidr *c, bool after)
{
	struct cidr a = *c;
	unsigned int bits = a.family == EGRESS_FAM_V4 ? 32 : 128;

	if (after) {
		int i;

		for (unsigned int b = a.plen; b < bits; b++)
			a.addr[b / 8] |= 0x80 >> (b % 8);
		for (i = bits / 8 - 1; i >= 0 && ++a.addr[i] == 0; i--)
			;
		if (i < 0)
			return 0;	/* past the end of the family */
	}
	a.plen = bits;
	if (*n == *cap) {
		struct cidr *nv = realloc(*v, (*cap = *cap ? *cap * 2 : 64) * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
	}
	(*v)[(*n)++] = a;
	return 0;
}

static int add_port(uint32_t *v, size_t *n, uint32_t p)
{
	if (p > 65535)
		return 0;
	for (size_t i = 0; i < *n; i++)
		if (v[i] == p)
			return 0;
	v[(*n)++] = p;
	return 0;
}

int policy_narrows(const struct policy *outer, const struct policy *inner, struct cidr *dst,
		   uint8_t *proto, uint16_t *port)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };
	const struct policy *both[2] = { outer, inner };
	size_t na = 0, acap = 0, np = 0, nrules = outer->nrules + inner->nrules;
	struct cidr *addrs = NULL, root = {};
	uint32_t *ports = malloc((2 * nrules + 2) * sizeof(*ports));
	int ret = 0;

	if (!ports)
		return -ENOMEM;
	root.family = EGRESS_FAM_V4;
	ret = add_addr(&addrs, &na, &acap, &root, false);
	root.family = EGRESS_FAM_V6;
	if (!ret)
		ret = add_addr(&addrs, &na, &acap, &root, false);
	add_port(ports, &np, 0);
	add_port(ports, &np, 1);
	for (int k = 0; k < 2 && !ret; k++) {
		for (size_t i = 0; i < both[k]->nrules && !ret; i++) {
			const struct rule *r = &both[k]->rules[i];

			ret = add_addr(&addrs, &na, &acap, &r->cidr, false);
			if (!ret)
				ret = add_addr(&addrs, &na, &acap, &r->cidr, true);
			add_port(ports, &np, r->port_lo);
			add_port(ports, &np, (uint32_t)r->port_hi + 1);
		}
	}
	/* every case costs a walk over both policies' rules */
	if (!ret && (double)na * np * 3 * (nrules + 1) > 5e7)
		ret = -E2BIG;
	for (size_t a = 0; !ret && a < na; a++)
		for (size_t q = 0; !ret && q < np; q++)
			for (size_t k = 0; !ret && k < sizeof(protos); k++) {
				uint16_t pt = protos[k] == IPPROTO_ICMP ? 0 : ports[q];

				if (protos[k] == IPPROTO_ICMP ? q != 0 : pt == 0)
					continue;	/* ICMP: no ports; TCP, UDP: 1-65535 */
				if (policy_decide_slow(inner, &addrs[a], protos[k], pt) == EGRESS_ALLOW &&
				    policy_decide_slow(outer, &addrs[a], protos[k], pt) == EGRESS_DENY) {
					*dst = addrs[a];
					*proto = protos[k];
					*port = pt;
					ret = 1;
				}
			}
	free(addrs);
	free(ports);
	return ret;
}

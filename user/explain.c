// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * explain.c - what the kernel decides for one destination, and why.
 *
 * The verdict of a policy is the one its compiled entries give
 * (compiled_decide walks them as bpf/egress.bpf.c walks the trie); the
 * reason is read from the source rules.  Bindings combine as the kernel
 * runs the programs of a cgroup's path (see explain_combine).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "cmdline.h"
#include "explain.h"
#include "state.h"

/* ---- destinations -------------------------------------------------------- */

static void host_v4(struct cidr *c, const uint8_t *a4)
{
	memset(c, 0, sizeof(*c));
	c->family = EGRESS_FAM_V4;
	c->plen = 32;
	memcpy(c->addr, a4, 4);
}

/*
 * bpf/egress.bpf.c dest_embedded: IPv4-compatible ::a.b.c.d, NAT64
 * 64:ff9b::a.b.c.d and 6to4 2002:AABB:CCDD::/48 are decided as
 * themselves and as the IPv4 address they embed.
 */
static void explain_map_embedded(struct explain_dest *d)
{
	static const uint8_t zero[12], nat64[12] = { 0x00, 0x64, 0xff, 0x9b }, lo4[4] = { 127, 0, 0, 1 };
	const uint8_t *x = d->addr[0].addr, *v4 = NULL;

	if (d->addr[0].family != EGRESS_FAM_V6)
		return;
	if (!memcmp(x, zero, 12) && (x[12] | x[13] | x[14] || x[15] > 1))
		v4 = x + 12;
	else if (!memcmp(x, nat64, 12))
		v4 = x + 12;
	else if (x[0] == 0x20 && x[1] == 0x02)
		v4 = x + 2;
	if (!v4)
		return;
	/* the kernel decides the embedded address as dest_v4 does: 0.0.0.0 as 127.0.0.1 */
	if (!(v4[0] | v4[1] | v4[2] | v4[3]))
		v4 = lo4;
	host_v4(&d->addr[1], v4);
	d->naddr = 2;
	d->mapping = "an IPv6 address that embeds an IPv4 address (IPv4-compatible, NAT64 64:ff9b::/96, "
		     "6to4 2002::/16) is decided as itself and as that IPv4 address: both must allow";
}

void explain_map_dest(struct explain_dest *d)
{
	static const uint8_t zero[16], mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t lo4[4] = { 127, 0, 0, 1 };
	const struct cidr *g = &d->given;
	struct cidr *a = &d->addr[0];

	*a = *g;
	d->naddr = 1;
	d->mapping = NULL;
	if (g->family == EGRESS_FAM_V6 && !memcmp(g->addr, mapped, 12)) {
		host_v4(a, g->addr + 12);
		d->mapping = "a v4-mapped address is decided as the IPv4 address it holds";
	}
	if (a->family == EGRESS_FAM_V4 && !memcmp(a->addr, zero, 4)) {
		host_v4(a, lo4);
		d->mapping = "0.0.0.0 goes to the local host: it is decided as 127.0.0.1";
	} else if (a->family == EGRESS_FAM_V6 && !memcmp(a->addr, zero, 16)) {
		a->addr[15] = 1;
		d->mapping = ":: goes to the local host: it is decided as ::1";
	}
	explain_map_embedded(d);
}

int explain_parse_dest(const char *s, struct explain_dest *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	if (!s || strlen(s) >= sizeof(d->text)) {
		snprintf(err, errlen, "invalid destination '%.64s': expected an IPv4 or IPv6 address",
			 s ? s : "");
		return -EINVAL;
	}
	snprintf(d->text, sizeof(d->text), "%s", s);
	if (inet_pton(AF_INET, s, d->given.addr) == 1) {
		d->given.family = EGRESS_FAM_V4;
		d->given.plen = 32;
	} else if (inet_pton(AF_INET6, s, d->given.addr) == 1) {
		d->given.family = EGRESS_FAM_V6;
		d->given.plen = 128;
	} else {
		snprintf(err, errlen, "invalid destination '%s': expected one IPv4 or IPv6 address "
			 "(no prefix, no name), e.g. 192.0.2.10 or 2001:db8::1", s);
		return -EINVAL;
	}
	explain_map_dest(d);
	return 0;
}

/* ---- one policy ------------------------------------------------------------ */

int explain_decide(const struct policy *p, const struct compiled *c, const struct cidr *addr,
		   uint8_t proto, uint16_t port, struct explain_decision *out)
{
	const struct explain_line *dec = NULL;
	int best = -1;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	out->addr = *addr;
	for (size_t i = 0; i < p->nrules; i++)
		n += cidr_contains(&p->rules[i].cidr, addr);
	out->lines = calloc(n ? n : 1, sizeof(*out->lines));
	if (!out->lines)
		return -ENOMEM;
	/*
	 * The CIDRs that hold addr nest, and in canonical order a container
	 * comes before what it contains, each CIDR's rules in decision order:
	 * taking the CIDRs from the last, the lines are in decision order.
	 */
	for (size_t end = p->nrules; end > 0;) {
		size_t first = end - 1;

		while (first > 0 && !cidr_cmp(&p->rules[first - 1].cidr, &p->rules[end - 1].cidr))
			first--;
		for (size_t i = first; i < end && cidr_contains(&p->rules[i].cidr, addr); i++) {
			const struct rule *r = &p->rules[i];

			out->lines[out->nlines].rule = *r;
			/* SHORTER for now means "matches"; sorted out below */
			out->lines[out->nlines].mark = r->proto && r->proto != proto ? EXPLAIN_PROTO
						     : port < r->port_lo || port > r->port_hi ? EXPLAIN_PORT
						     : EXPLAIN_SHORTER;
			out->nlines++;
		}
		end = first;
	}
	/* the first matching line in decision order decides: longest, deny first */
	for (size_t i = 0; i < out->nlines && !dec; i++) {
		if (out->lines[i].mark == EXPLAIN_SHORTER) {
			dec = &out->lines[i];
			best = dec->rule.cidr.plen;
		}
	}
	out->why = dec ? EXPLAIN_LONGEST : EXPLAIN_DEFAULT;
	for (size_t i = 0; i < out->nlines; i++) {
		struct explain_line *l = &out->lines[i];

		if (l->mark != EXPLAIN_SHORTER) {
			out->longer_skipped |= (int)l->rule.cidr.plen > best;
			continue;
		}
		if (l == dec) {
			l->mark = EXPLAIN_DECIDES;
		} else if (l->rule.cidr.plen == best) {
			l->mark = l->rule.action == dec->rule.action ? EXPLAIN_ALSO : EXPLAIN_LOSES;
			if (l->mark == EXPLAIN_LOSES)
				out->why = EXPLAIN_DENY_BEATS_ALLOW;
		}
	}
	if (dec)
		out->rule = dec->rule;
	out->verdict = compiled_decide(c, addr, proto, port);
	out->mismatch = out->verdict != (dec ? dec->rule.action : p->dflt);
	return 0;
}

void explain_decision_free(struct explain_decision *d)
{
	free(d->lines);
	d->lines = NULL;
	d->nlines = 0;
}

/* ---- the policies and bindings -------------------------------------------- */

void explain_ctx_free(struct explain_ctx *x)
{
	for (size_t i = 0; i < x->npols; i++) {
		policy_free(&x->pols[i].pol);
		compiled_free(&x->pols[i].comp);
	}
	free(x->pols);
	free(x->b);
	memset(x, 0, sizeof(*x));
}

int explain_ctx_add_policy(struct explain_ctx *x, const struct policy *p, char *err, size_t errlen)
{
	struct explain_policy *np = realloc(x->pols, (x->npols + 1) * sizeof(*np));
	struct explain_policy *e;
	int ret;

	if (!np)
		return -ENOMEM;
	x->pols = np;
	e = &x->pols[x->npols];
	memset(e, 0, sizeof(*e));
	ret = policy_copy(&e->pol, p);
	if (ret)
		return ret;
	policy_sort(&e->pol);	/* explain_decide reads the rules in canonical order */
	e->audit = (p->flags & EGRESS_POL_AUDIT) != 0;
	/* the same compiler made the entries the kernel holds */
	ret = policy_compile(&e->pol, &e->comp, err, errlen);
	if (ret) {
		policy_free(&e->pol);
		return ret;
	}
	return (int)x->npols++;
}

int explain_ctx_add_binding(struct explain_ctx *x, const char *cgroup, int pol)
{
	struct explain_binding *nb = realloc(x->b, (x->nb + 1) * sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	x->b = nb;
	memset(&x->b[x->nb], 0, sizeof(x->b[x->nb]));
	snprintf(x->b[x->nb].cgroup, sizeof(x->b[x->nb].cgroup), "%s", cgroup);
	x->b[x->nb].pol = pol;
	if (pol >= 0)
		x->b[x->nb].policy_id = x->pols[pol].id;
	x->nb++;
	return 0;
}

/* The index of policy id in x, loading it first; -1 if it does not exist. */
static int ctx_policy(struct egress_state *st, struct explain_ctx *x, uint32_t id, char *err,
		      size_t errlen)
{
	struct policy p;
	int ret;

	for (size_t i = 0; i < x->npols; i++)
		if (x->pols[i].id == id)
			return (int)i;
	if (!id || state_policy_load(st, id, &p))
		return -1;
	ret = explain_ctx_add_policy(x, &p, err, errlen);
	policy_free(&p);
	if (ret >= 0)
		x->pols[ret].id = id;
	return ret;
}

int explain_load_policy(struct egress_state *st, const char *name, struct explain_ctx *x,
			char *err, size_t errlen)
{
	uint32_t id;
	int ret, pol;

	memset(x, 0, sizeof(*x));
	ret = state_policy_find(st, name, &id, err, errlen);
	if (ret)
		return ret;
	pol = ctx_policy(st, x, id, err, errlen);
	if (pol < 0) {
		if (pol == -1)
			snprintf(err, errlen, "cannot read policy '%s'", name);
		return pol == -1 ? -ENOENT : pol;
	}
	ret = explain_ctx_add_binding(x, "", pol);
	if (ret)
		explain_ctx_free(x);
	return ret;
}

int explain_load_cgroup(struct egress_state *st, const char *dir, struct explain_ctx *x,
			char *err, size_t errlen)
{
	char mnt[PATH_MAX], path[PATH_MAX], links[PATH_MAX + 32];
	uint64_t id;
	int fd, ret;

	memset(x, 0, sizeof(*x));
	ret = cg_open(dir, &fd, &id, err, errlen);
	if (ret)
		return -EINVAL;
	close(fd);
	if (!realpath(dir, path) || cg2_mount(mnt, sizeof(mnt))) {
		snprintf(err, errlen, "cgroup '%s': cannot resolve its path", dir);
		return -EINVAL;
	}
	for (;;) {
		char e2[ERRBUF_LEN];

		if (cg_open(path, &fd, &id, e2, sizeof(e2)))
			break;
		close(fd);
		state_pin_path(st, links, sizeof(links), "links/%llu", (unsigned long long)id);
		if (!access(links, F_OK)) {
			struct egress_binding b = {};
			int pol;

			/* no storage yet, or policy 0: the programs deny everything */
			if (state_binding_policy(st, id, &b.policy))
				b.policy = 0;
			pol = ctx_policy(st, x, b.policy, err, errlen);
			if (pol < -1) {
				explain_ctx_free(x);
				return pol;
			}
			ret = explain_ctx_add_binding(x, path, pol);
			if (ret) {
				explain_ctx_free(x);
				return ret;
			}
			x->b[x->nb - 1].cgroup_id = id;
			x->b[x->nb - 1].policy_id = b.policy;
		}
		if (!strcmp(path, mnt) || !strrchr(path, '/') || strrchr(path, '/') == path)
			break;
		*strrchr(path, '/') = '\0';
	}
	if (!x->nb) {
		snprintf(err, errlen, "cgroup '%s': neither it nor an ancestor is bound to a policy, "
			 "egress does not filter it (bind one with 'egressctl attach')", dir);
		explain_ctx_free(x);
		return -ENOENT;
	}
	return 0;
}

/* ---- the answer ------------------------------------------------------------ */

/*
 * The kernel runs the programs of DIR's own binding first, then those of
 * its ancestors, all of them (bpf_prog_run_array_cg): the first denial
 * makes the call fail with EPERM, and a denial with another errno sets
 * that errno (bpf_set_retval), so the last one set wins.  A policy in
 * audit mode never denies.
 */
void explain_combine(const struct explain_ctx *x, struct explain_answer *a)
{
	a->verdict = EGRESS_ALLOW;
	a->err = 0;
	a->err_step = -1;
	for (size_t i = 0; i < a->nsteps; i++) {
		const struct explain_step *s = &a->steps[i];
		const struct explain_binding *b = &x->b[s->binding];

		if (s->d.verdict == EGRESS_ALLOW || (b->pol >= 0 && x->pols[b->pol].audit))
			continue;
		if (a->verdict == EGRESS_ALLOW) {
			a->verdict = EGRESS_DENY;
			a->err = EPERM;
			a->err_step = (int)i;
		}
		if (s->err != EPERM && s->err != a->err) {
			a->err = s->err;
			a->err_step = (int)i;
		}
	}
}

int explain_run(const struct explain_ctx *x, const struct explain_dest *d, uint8_t proto, int port,
		struct explain_answer *a)
{
	int ret;

	memset(a, 0, sizeof(*a));
	a->dest = *d;
	a->proto = proto;
	a->port = port;
	a->steps = calloc(x->nb * d->naddr, sizeof(*a->steps));
	if (!a->steps)
		return -ENOMEM;
	for (size_t i = 0; i < x->nb; i++) {
		const struct explain_binding *b = &x->b[i];

		for (size_t k = 0; k < d->naddr; k++) {
			struct explain_step *s = &a->steps[a->nsteps];

			s->binding = i;
			s->err = EPERM;
			if (b->pol < 0) {
				s->d.addr = d->addr[k];
				s->d.verdict = EGRESS_DENY;
				s->d.why = EXPLAIN_UNCONFIGURED;
			} else {
				const struct explain_policy *p = &x->pols[b->pol];

				ret = explain_decide(&p->pol, &p->comp, &d->addr[k], proto,
						     port < 0 ? 0 : (uint16_t)port, &s->d);
				if (ret) {
					explain_answer_free(a);
					return ret;
				}
				if (p->pol.err)
					s->err = p->pol.err;
			}
			a->nsteps++;
		}
	}
	explain_combine(x, a);
	return 0;
}

void explain_answer_free(struct explain_answer *a)
{
	for (size_t i = 0; i < a->nsteps; i++)
		explain_decision_free(&a->steps[i].d);
	free(a->steps);
	a->steps = NULL;
	a->nsteps = 0;
}

/* ---- output ---------------------------------------------------------------- */

void explain_rule_text(const struct rule *r, char *buf, size_t len)
{
	char cs[CIDR_STR_LEN], ps[PORTS_STR_LEN] = "";
	bool any_port = r->port_lo == 0 && r->port_hi == 65535;

	format_cidr(&r->cidr, cs, sizeof(cs));
	if (!any_port)
		format_ports(r->port_lo, r->port_hi, ps, sizeof(ps));
	snprintf(buf, len, "%s %s%s%s%s%s", r->action == EGRESS_ALLOW ? "allow" : "deny", cs,
		 r->proto || !any_port ? " " : "", r->proto || !any_port ? proto_name(r->proto) : "",
		 any_port ? "" : " ", ps);
}

static const char *action_word(uint8_t a)
{
	return a == EGRESS_ALLOW ? "allow" : "deny";
}

static const char *const mark_code[] = {
	[EXPLAIN_DECIDES] = "decides", [EXPLAIN_ALSO] = "also-matches",
	[EXPLAIN_LOSES] = "deny-beats-allow", [EXPLAIN_SHORTER] = "shorter-prefix",
	[EXPLAIN_PROTO] = "protocol-differs", [EXPLAIN_PORT] = "port-differs",
};

static const char *const why_code[] = {
	[EXPLAIN_LONGEST] = "longest-prefix", [EXPLAIN_DENY_BEATS_ALLOW] = "deny-beats-allow",
	[EXPLAIN_DEFAULT] = "default", [EXPLAIN_UNCONFIGURED] = "unconfigured",
};

static const char *errno_word(int e)
{
	const char *n = errno_name(e);

	return n ? n : "EPERM";
}

/* One sentence: why this policy decides as it does. */
static void reason_text(const struct explain_ctx *x, const struct explain_step *s, char *buf,
			size_t len)
{
	const struct explain_decision *d = &s->d;
	const struct explain_binding *b = &x->b[s->binding];
	char more[256] = "";
	size_t nskip = 0, first = 0;

	for (size_t i = 0; d->longer_skipped && i < d->nlines; i++) {
		const struct explain_line *l = &d->lines[i];

		if ((l->mark == EXPLAIN_PROTO || l->mark == EXPLAIN_PORT) &&
		    (d->why == EXPLAIN_DEFAULT || l->rule.cidr.plen > d->rule.cidr.plen) && !nskip++)
			first = i;
	}
	if (nskip) {
		char txt[128];

		explain_rule_text(&d->lines[first].rule, txt, sizeof(txt));
		snprintf(more, sizeof(more), "; %s %s, but its %s does not match%s", txt,
			 d->why == EXPLAIN_DEFAULT ? "holds the address" : "is longer",
			 d->lines[first].mark == EXPLAIN_PROTO ? "protocol" : "port",
			 nskip > 1 ? " (nor do the other such rules listed)" : "");
	}
	switch (d->why) {
	case EXPLAIN_LONGEST:
		snprintf(buf, len, "the longest matching prefix, /%u%s", d->rule.cidr.plen, more);
		break;
	case EXPLAIN_DENY_BEATS_ALLOW:
		snprintf(buf, len, "deny beats allow at equal prefix, /%u%s", d->rule.cidr.plen, more);
		break;
	case EXPLAIN_DEFAULT:
		snprintf(buf, len, "no rule matches: the policy's default%s", more);
		break;
	case EXPLAIN_UNCONFIGURED:
		if (b->policy_id)
			snprintf(buf, len, "bound to policy id %u, which does not exist: fails closed",
				 b->policy_id);
		else
			snprintf(buf, len, "attached but bound to no policy yet: fails closed");
		break;
	}
	if (d->mismatch && len > strlen(buf) + 1)
		snprintf(buf + strlen(buf), len - strlen(buf),
			 " (the compiled entries decide %s although the rules say otherwise: a bug)",
			 action_word(d->verdict));
}

/* The rule fields of 'list --json', with the rule as written: where per-rule hits will go. */
static json_t *explain_rule_json(const struct rule *r)
{
	char cs[CIDR_STR_LEN], ps[PORTS_STR_LEN], txt[128];
	bool any_port = r->port_lo == 0 && r->port_hi == 65535;

	format_cidr(&r->cidr, cs, sizeof(cs));
	format_ports(r->port_lo, r->port_hi, ps, sizeof(ps));
	explain_rule_text(r, txt, sizeof(txt));
	return json_pack("{s:s, s:s, s:s, s:o, s:o}", "rule", txt, "action", action_word(r->action),
			 "cidr", cs, "proto", r->proto ? json_string(proto_name(r->proto)) : json_null(),
			 "port", any_port ? json_null() : json_string(ps));
}

static const char *step_verdict(const struct explain_ctx *x, const struct explain_step *s)
{
	const struct explain_binding *b = &x->b[s->binding];

	if (s->d.verdict == EGRESS_ALLOW)
		return "allow";
	return b->pol >= 0 && x->pols[b->pol].audit ? "audit" : "deny";
}

static const char *policy_name(const struct explain_ctx *x, const struct explain_binding *b)
{
	return b->pol >= 0 ? x->pols[b->pol].pol.name : NULL;
}

json_t *explain_json(const struct explain_ctx *x, const struct explain_answer *a)
{
	json_t *o = json_object(), *decided = json_array(), *steps = json_array();
	char buf[CIDR_STR_LEN], reason[512];

	json_object_set_new(o, "destination", json_string(a->dest.text));
	for (size_t k = 0; k < a->dest.naddr; k++) {
		format_addr(a->dest.addr[k].family, a->dest.addr[k].addr, buf, sizeof(buf));
		json_array_append_new(decided, json_string(buf));
	}
	json_object_set_new(o, "decided_as", decided);
	json_object_set_new(o, "mapping", a->dest.mapping ? json_string(a->dest.mapping) : json_null());
	json_object_set_new(o, "proto", json_string(proto_name(a->proto)));
	json_object_set_new(o, "port", a->port < 0 ? json_null() : json_integer(a->port));
	for (size_t i = 0; i < a->nsteps; i++) {
		const struct explain_step *s = &a->steps[i];
		const struct explain_binding *b = &x->b[s->binding];
		const char *pname = policy_name(x, b);
		json_t *j = json_object(), *rules = json_array();

		json_object_set_new(j, "cgroup", b->cgroup[0] ? json_string(b->cgroup) : json_null());
		json_object_set_new(j, "cgroup_id", b->cgroup[0] ? json_integer((json_int_t)b->cgroup_id)
								 : json_null());
		json_object_set_new(j, "policy", pname ? json_string(pname) : json_null());
		json_object_set_new(j, "mode", json_string(b->pol >= 0 && x->pols[b->pol].audit ?
							   "audit" : "enforce"));
		format_addr(s->d.addr.family, s->d.addr.addr, buf, sizeof(buf));
		json_object_set_new(j, "address", json_string(buf));
		json_object_set_new(j, "verdict", json_string(step_verdict(x, s)));
		json_object_set_new(j, "errno", s->d.verdict == EGRESS_ALLOW ? json_null()
						: json_string(errno_word(s->err)));
		json_object_set_new(j, "rule", s->d.why == EXPLAIN_LONGEST ||
						       s->d.why == EXPLAIN_DENY_BEATS_ALLOW
					       ? explain_rule_json(&s->d.rule) : json_null());
		json_object_set_new(j, "default", s->d.why == EXPLAIN_DEFAULT ?
					  json_string(action_word(x->pols[b->pol].pol.dflt)) : json_null());
		json_object_set_new(j, "why", json_string(why_code[s->d.why]));
		reason_text(x, s, reason, sizeof(reason));
		json_object_set_new(j, "reason", json_string(reason));
		for (size_t r = 0; r < s->d.nlines; r++) {
			json_t *rj = explain_rule_json(&s->d.lines[r].rule);

			json_object_set_new(rj, "result", json_string(mark_code[s->d.lines[r].mark]));
			json_array_append_new(rules, rj);
		}
		json_object_set_new(j, "rules", rules);
		json_array_append_new(steps, j);
	}
	json_object_set_new(o, "policies", steps);
	json_object_set_new(o, "verdict", json_string(action_word(a->verdict)));
	json_object_set_new(o, "errno", a->verdict == EGRESS_ALLOW ? json_null()
					: json_string(errno_word(a->err)));
	return o;
}

static const char *const mark_text[] = {
	[EXPLAIN_DECIDES] = "decides",
	[EXPLAIN_ALSO] = "matches too, same verdict",
	[EXPLAIN_LOSES] = "matches, but deny beats allow at equal prefix",
	[EXPLAIN_SHORTER] = "matches, but a longer prefix decides",
	[EXPLAIN_PROTO] = "protocol does not match",
	[EXPLAIN_PORT] = "port does not match",
};

void explain_print(FILE *f, const struct explain_ctx *x, const struct explain_answer *a)
{
	char buf[CIDR_STR_LEN], txt[128], reason[512];

	fprintf(f, "%s %s port ", a->dest.text, proto_name(a->proto));
	if (a->port < 0)
		fprintf(f, "not given (decided as a port that no port rule names; give --port)\n");
	else
		fprintf(f, "%d\n", a->port);
	if (a->dest.mapping)
		fprintf(f, "  %s\n", a->dest.mapping);
	for (size_t i = 0; i < a->nsteps; i++) {
		const struct explain_step *s = &a->steps[i];
		const struct explain_binding *b = &x->b[s->binding];
		const char *pname = policy_name(x, b);

		if (b->cgroup[0])
			fprintf(f, "%s: ", b->cgroup);
		fprintf(f, "policy %s (%s)", pname ? pname : "(none)",
			b->pol >= 0 && x->pols[b->pol].audit ? "audit" : "enforce");
		if (a->dest.naddr > 1) {
			format_addr(s->d.addr.family, s->d.addr.addr, buf, sizeof(buf));
			fprintf(f, " for %s", buf);
		}
		fprintf(f, ": %s", step_verdict(x, s));
		if (s->d.verdict != EGRESS_ALLOW)
			fprintf(f, " (%s)", errno_word(s->err));
		reason_text(x, s, reason, sizeof(reason));
		fprintf(f, "\n  because: %s\n", reason);
		for (size_t r = 0; r < s->d.nlines; r++) {
			explain_rule_text(&s->d.lines[r].rule, txt, sizeof(txt));
			fprintf(f, "    %-44s %s\n", txt, mark_text[s->d.lines[r].mark]);
		}
		if (b->pol >= 0) {
			snprintf(txt, sizeof(txt), "default %s", action_word(x->pols[b->pol].pol.dflt));
			fprintf(f, "    %-44s %s\n", txt, s->d.why == EXPLAIN_DEFAULT ? "decides" : "not reached");
		}
	}
	fprintf(f, "verdict: %s", action_word(a->verdict));
	if (a->verdict != EGRESS_ALLOW) {
		const struct explain_binding *b = &x->b[a->steps[a->err_step].binding];
		const char *pname = policy_name(x, b);

		fprintf(f, ", errno %s (from policy %s%s%s)", errno_word(a->err), pname ? pname : "(none)",
			b->cgroup[0] ? " at " : "", b->cgroup);
	}
	fputc('\n', f);
}

/* ---- --batch -------------------------------------------------------------- */

static void print_line(FILE *f, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (s)
		fprintf(f, "%s\n", s);
	free(s);
	json_decref(o);
}

int explain_parse_case(const char *proto_s, const char *port_s, uint8_t *proto, int *port,
		       char *err, size_t errlen)
{
	uint32_t v;

	*proto = IPPROTO_TCP;
	*port = -1;
	if (proto_s && (parse_proto(proto_s, proto, err, errlen) || !*proto)) {
		snprintf(err, errlen, "invalid protocol '%s': expected tcp or udp", proto_s);
		return -EINVAL;
	}
	if (port_s) {
		if (parse_u32(port_s, 0, 65535, &v)) {
			snprintf(err, errlen, "invalid port '%s': expected one port, 0-65535", port_s);
			return -EINVAL;
		}
		*port = (int)v;
	}
	return 0;
}

int explain_batch_line(FILE *f, const struct explain_ctx *x, const char *line, unsigned long lineno)
{
	char err[ERRBUF_LEN], **w = NULL;
	struct explain_answer a;
	json_t *o;
	struct explain_dest d;
	uint8_t proto;
	int n = 0, port, ret;

	ret = split_words(line, &w, &n, err, sizeof(err));
	if (!ret && n == 0) {
		free(w);
		return 0;	/* a blank line or a comment */
	}
	if (!ret && n > 3) {
		snprintf(err, sizeof(err), "expected 'DST [tcp|udp] [PORT]', got %d words", n);
		ret = -EINVAL;
	}
	if (!ret)
		ret = explain_parse_dest(w[0], &d, err, sizeof(err));
	if (!ret)
		ret = explain_parse_case(n >= 2 ? w[1] : NULL, n == 3 ? w[2] : NULL, &proto, &port,
					 err, sizeof(err));
	free(w);
	if (ret) {
		print_line(f, json_pack("{s:I, s:s}", "line", (json_int_t)lineno, "error", err));
		return -EINVAL;
	}
	ret = explain_run(x, &d, proto, port, &a);
	if (ret)
		return ret;
	o = explain_json(x, &a);
	json_object_set_new(o, "line", json_integer((json_int_t)lineno));
	print_line(f, o);
	explain_answer_free(&a);
	return 0;
}

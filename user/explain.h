/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * explain.h - what the kernel decides for one destination, and why
 * (egressctl explain).  Included by egressctl.c and tests/unit/.
 *
 * The verdict of each policy comes from its compiled trie entries (the
 * form the kernel walks, compiled_decide); the reason comes from the
 * source rules: the deciding rule (or the default), and every rule whose
 * CIDR holds the destination with what became of it.  The bound cgroups
 * on the path are combined as the kernel runs their programs: DIR's own
 * first, then its ancestors; every enforcing policy must allow, and the
 * errno is the last non-EPERM one set on the way up.
 *
 * Room for later items of issue 11: a policy's mode (audit never denies,
 * see explain_combine) and per-rule hit counters (a "hits" object beside
 * each rule of the JSON, see explain_rule_json).
 */
#ifndef EGRESS_EXPLAIN_H
#define EGRESS_EXPLAIN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "policy.h"

struct egress_state;

/* Addresses the kernel decides for one destination (each must be allowed). */
#define EXPLAIN_ADDRS 2

struct explain_dest {
	char text[64];			/* as given */
	struct cidr given;		/* a host: /32 or /128 */
	struct cidr addr[EXPLAIN_ADDRS];	/* as decided */
	size_t naddr;
	const char *mapping;		/* why addr differs from given; NULL if it does not */
};

/*
 * DST as typed: an IPv4 or IPv6 address (no prefix), mapped as the
 * kernel maps it.  -EINVAL with one line in err.
 */
int explain_parse_dest(const char *s, struct explain_dest *d, char *err, size_t errlen);
/*
 * The one place that says which addresses the kernel decides for
 * d->given (bpf/egress.bpf.c dest_v4/dest_v6): 0.0.0.0 -> 127.0.0.1,
 * :: -> ::1, ::ffff:a.b.c.d -> a.b.c.d.  Fills addr, naddr and mapping.
 * An address the kernel decides twice (by itself and by an IPv4 address
 * it embeds) gets naddr 2: explain_run asks every policy about both, and
 * any denial denies.
 */
void explain_map_dest(struct explain_dest *d);

/* What became of one rule whose CIDR holds the destination. */
enum explain_mark {
	EXPLAIN_DECIDES,	/* the deciding rule */
	EXPLAIN_ALSO,		/* matches too, same prefix and verdict; the decider comes first */
	EXPLAIN_LOSES,		/* an allow at the deciding prefix: deny beats allow */
	EXPLAIN_SHORTER,	/* matches, but a longer prefix decides */
	EXPLAIN_PROTO,		/* its protocol does not match */
	EXPLAIN_PORT,		/* its port does not match */
};

enum explain_why {
	EXPLAIN_LONGEST,	/* the longest matching prefix */
	EXPLAIN_DENY_BEATS_ALLOW,	/* deny beats allow at equal prefix */
	EXPLAIN_DEFAULT,	/* no rule matches: the policy's default */
	EXPLAIN_UNCONFIGURED,	/* bound to no (existing) policy: fails closed */
};

struct explain_line {
	struct rule rule;
	enum explain_mark mark;
};

/* One policy's decision for one address. */
struct explain_decision {
	struct cidr addr;
	uint8_t verdict;	/* enum egress_action, as the compiled entries give it */
	enum explain_why why;
	struct rule rule;	/* the deciding rule, unless why is DEFAULT or UNCONFIGURED */
	bool longer_skipped;	/* a longer rule holds the address, but not the protocol or port */
	bool mismatch;		/* the source rules say otherwise (a bug; the verdict is the kernel's) */
	struct explain_line *lines;	/* rules whose CIDR holds addr, in decision order */
	size_t nlines;
};

/* Decides addr with one policy (p the rules in canonical order, policy_sort; c its compilation). */
int explain_decide(const struct policy *p, const struct compiled *c, const struct cidr *addr,
		   uint8_t proto, uint16_t port, struct explain_decision *out);
void explain_decision_free(struct explain_decision *d);

/* A policy as the kernel has it: its rules, and compiled as stored. */
struct explain_policy {
	uint32_t id;
	bool audit;		/* mode audit (issue 11 item 1): never denies */
	struct policy pol;
	struct compiled comp;
};

/* A bound cgroup on the path, or (--policy) the policy alone. */
struct explain_binding {
	char cgroup[PATH_MAX];	/* "" with --policy */
	uint64_t cgroup_id;
	uint32_t policy_id;	/* 0: attached, not configured */
	int pol;		/* index in explain_ctx.pols, -1: no such policy (fails closed) */
};

struct explain_ctx {
	struct explain_binding *b;	/* DIR's own first, then its ancestors: the kernel's order */
	size_t nb;
	struct explain_policy *pols;
	size_t npols;
};

/*
 * The bound cgroups from DIR up to the cgroup2 root, with their policies.
 * -EINVAL: DIR is not a cgroup; -ENOENT: nothing on the path is bound.
 * One line in err either way.
 */
int explain_load_cgroup(struct egress_state *st, const char *dir, struct explain_ctx *x,
			char *err, size_t errlen);
/* One policy alone.  -ENOENT: no such policy. */
int explain_load_policy(struct egress_state *st, const char *name, struct explain_ctx *x,
			char *err, size_t errlen);
/* A context from policies in memory (tests): bindings name them by index. */
int explain_ctx_add_policy(struct explain_ctx *x, const struct policy *p, char *err, size_t errlen);
int explain_ctx_add_binding(struct explain_ctx *x, const char *cgroup, int pol);
void explain_ctx_free(struct explain_ctx *x);

/* One step of the answer: a binding's decision for one address. */
struct explain_step {
	size_t binding;
	struct explain_decision d;
	int err;		/* errno a denial of this binding sets (EPERM if none) */
};

struct explain_answer {
	struct explain_dest dest;
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	int port;		/* -1: not given (decided as port 0, which no port rule names) */
	struct explain_step *steps;
	size_t nsteps;
	uint8_t verdict;	/* combined */
	int err;		/* errno returned when denied, else 0 */
	int err_step;		/* the step whose denial sets err, -1 if allowed */
};

int explain_run(const struct explain_ctx *x, const struct explain_dest *d, uint8_t proto, int port,
		struct explain_answer *a);
/* The combination of a->steps (kernel order): verdict, err and err_step. */
void explain_combine(const struct explain_ctx *x, struct explain_answer *a);
void explain_answer_free(struct explain_answer *a);

/* "allow 10.0.0.0/8 tcp 443", "deny 10.0.0.0/8", "deny ::/0 any 53" */
void explain_rule_text(const struct rule *r, char *buf, size_t len);
json_t *explain_json(const struct explain_ctx *x, const struct explain_answer *a);
void explain_print(FILE *f, const struct explain_ctx *x, const struct explain_answer *a);

/* --proto and --port (NULL: not given; tcp, no port).  -EINVAL with one line in err. */
int explain_parse_case(const char *proto_s, const char *port_s, uint8_t *proto, int *port,
		       char *err, size_t errlen);
/*
 * One "DST [tcp|udp] [PORT]" line of --batch: the answer as one JSON
 * line on f ({"line":N,"error":"..."} for a bad line).  0, or -EINVAL for a
 * bad line.
 */
int explain_batch_line(FILE *f, const struct explain_ctx *x, const char *line, unsigned long lineno);

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * policy.h - a policy in memory, and its compilation into the entries of
 * the policy's LPM trie (and back).  Pure code: no BPF, unit-tested.
 */
#ifndef EGRESS_POLICY_H
#define EGRESS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "egress.h"
#include "parse.h"

struct rule {
	struct cidr cidr;
	uint8_t proto;		/* 0 = any */
	uint8_t action;		/* enum egress_action */
	uint16_t port_lo;	/* 0-65535 = any port */
	uint16_t port_hi;
	uint32_t id;		/* hit counter id (user/hits.c), kept by the store; 0: none yet */
};

struct policy {
	char name[EGRESS_NAME_MAX];
	uint8_t dflt;		/* default verdict */
	uint16_t err;		/* errno of denials; 0 = EPERM */
	uint8_t flags;		/* EGRESS_POL_* */
	char hint[EGRESS_HINT_MAX];	/* "" = none */
	uint32_t dflt_id;	/* the default's hit counter id (user/hits.c); 0: none yet */
	struct rule *rules;
	size_t nrules, cap;
	/*
	 * A policy store read in place (user/store.c) may hold removed rules,
	 * marked RULE_DEAD where they stood, until its next version is written
	 * whole: ndead counts them.  gone: one more rule of rules that an edit
	 * plans as removed before the store marks it.  Only the edit plan
	 * (store_edit_plan, policy_plan_edit) and policy_copy read such views;
	 * every other policy has neither (rule_live()).
	 */
	size_t ndead;
	const struct rule *gone;
};

#define RULE_DEAD 0xff	/* struct rule's action: removed, in a store read in place */

static inline bool rule_live(const struct policy *p, const struct rule *r)
{
	return r->action != RULE_DEAD && r != p->gone;
}

/* p's rules that are not removed (rule_live) */
static inline size_t policy_live(const struct policy *p)
{
	return p->nrules - p->ndead - (p->gone != NULL);
}

/*
 * A compiled entry's value as user space holds it: every slot that
 * applies.  The kernel gets an egress_entry, and an egress_list when there
 * are more than EGRESS_INLINE slots (entry_split).
 */
struct entry_val {
	uint8_t nslots;
	uint8_t ent_flags;	/* EGRESS_ENT_HOSTS (EGRESS_ENT_LIST is entry_split's) */
	uint8_t err;
	uint8_t dflt;
	uint8_t pol_flags;
	uint8_t pad[3];
	uint32_t gen;
	struct egress_slot slot[EGRESS_SLOTS];
};

struct centry {
	struct egress_lpm_key key;
	struct entry_val val;
};

/* The kernel's entry for (k, v); true when it needs its list, *l. */
bool entry_split(const struct egress_lpm_key *k, const struct entry_val *v, struct egress_entry *e,
		 struct egress_list *l);
/* v from a kernel entry and its list (NULL: none; -ENOENT when e needs one). */
int entry_join(const struct egress_entry *e, const struct egress_list *l, struct entry_val *v);

/* A policy's trie entries, sorted by key. */
struct compiled {
	struct centry *e;
	size_t n, cap;
};

/* A /32 or /128 key: its entry goes to the host table. */
bool key_is_host(const struct egress_lpm_key *k);
/* The host table's key for k. */
void host_key(struct egress_host_key *hk, const struct egress_lpm_key *k);
/* The list table's key of k's entry: k with its address masked as the programs mask it. */
struct egress_lpm_key list_key(const struct egress_lpm_key *k);

/*
 * A compiled policy in the kernel's own form, what a swap puts into fresh
 * maps (user/store.c) with no conversion: the trie's keys and entries, the
 * host table's, and the lists of the entries that have one (keyed by
 * list_key).  48 bytes an entry where a struct centry takes 164: apply
 * compiles 100,000 rules into this.  Entries and lists name generation 0
 * until the swap stamps its own.
 */
struct kform {
	struct egress_lpm_key *tkey;
	struct egress_entry *tent;
	struct egress_host_key *hkey;
	struct egress_entry *hent;
	struct egress_lpm_key *lkey;
	struct egress_list *lval;
	size_t nt, nh, nl, tcap, hcap, lcap;
};
/* policy_compile_unsorted's entries, in its order, split as entry_split splits them. */
int policy_compile_kform(const struct policy *p, struct kform *out, char *err, size_t errlen);
/* The same from compiled entries (any order, kept). */
int kform_from_compiled(const struct compiled *c, struct kform *out);
void kform_free(struct kform *k);

bool rule_is_full(const struct rule *r);
bool cidr_is_host(const struct cidr *c);	/* /32 or /128 */
/* Same match (cidr, proto, ports), whatever the action. */
bool rule_same_match(const struct rule *a, const struct rule *b);
/* qsort order of rules by match (cidr, proto, ports), then action: equal = the same rule. */
int match_cmp(const void *a, const void *b);
/* qsort order of policy_sort (canonical: CIDR, deny first, proto, ports): equal = the same rule. */
int rule_cmp(const void *a, const void *b);
/* p's rules are in policy_sort's order (one pass). */
bool policy_is_sorted(const struct policy *p);
/* Adds r, or changes the action of the rule with the same match. 1 if changed, 0 if equal. */
int policy_set_rule(struct policy *p, const struct rule *r);
/* Removes the rule with r's match: 0, or -ENOENT. */
int policy_remove_rule(struct policy *p, const struct rule *r);
/* Appends r without looking for duplicates; policy_normalize afterwards. */
int policy_append_rule(struct policy *p, const struct rule *r);
/*
 * Merges duplicate rules and sorts into canonical order (family, address,
 * prefix, deny first, proto, ports).  Two rules with the same match and
 * different actions: -EEXIST, with the conflict described in err.  p owns
 * its rules: a large policy's array is replaced by the sorted one.
 */
int policy_normalize(struct policy *p, struct rule *conflict, char *err, size_t errlen);
void policy_sort(struct policy *p);
void policy_free(struct policy *p);
int policy_copy(struct policy *dst, const struct policy *src);

/* The trie entries of p (with the two /0 roots).  -E2BIG with a reason in err. */
int policy_compile(const struct policy *p, struct compiled *out, char *err, size_t errlen);
/* The same entries in rule order (a swap fills fresh maps: no need to sort 100k entries). */
int policy_compile_unsorted(const struct policy *p, struct compiled *out, char *err, size_t errlen);
/* The rules, default and errno back from a policy's entries (any order). */
int policy_decompile(struct policy *p, const struct compiled *c);
int compiled_push(struct compiled *c, const struct egress_lpm_key *key, const struct entry_val *val);
void compiled_sort(struct compiled *c);
void compiled_free(struct compiled *c);
/* Number of keys to put or delete to turn a into b (both sorted). */
size_t compiled_diff(const struct compiled *a, const struct compiled *b);

/* The verdict p gives, computed from the rules alone (the reference for tests). */
int policy_decide_slow(const struct policy *p, const struct cidr *dst, uint8_t proto, uint16_t port);
/* The verdict the kernel gives: the same walk as the BPF program, over compiled entries. */
int compiled_decide(const struct compiled *c, const struct cidr *dst, uint8_t proto, uint16_t port);

/*
 * Incremental plans: rules kept sorted in policy_sort order.  [lo, hi) are
 * the rules at c (exact) or at and inside c: contiguous in that order.
 */
void rules_range(const struct rule *r, size_t n, const struct cidr *c, bool exact,
		 size_t *lo, size_t *hi);
/*
 * What a change of the rules at one CIDR does to the compiled entries.
 * oldp and newp: the same settings, sorted rules that differ only at `at`.
 * put: the entries (trie and host) to write, del: those to delete, both
 * sorted, each entry's gen set to gen.  Applying them to policy_compile(oldp)
 * gives policy_compile(newp) (tests/unit/test_policy.c checks it), and they
 * are exactly the entries that differ: `at`'s own, those of the CIDRs inside
 * it and its parent's when the parent's hosts flag moves.  -E2BIG as
 * policy_compile, with the reason in err.
 */
int policy_plan_edit(const struct policy *oldp, const struct policy *newp, const struct cidr *at,
		     uint32_t gen, struct compiled *put, struct compiled *del, char *err, size_t errlen);

void lpm_key_from_cidr(struct egress_lpm_key *k, const struct cidr *c);
void cidr_from_lpm_key(struct cidr *c, const struct egress_lpm_key *k);

#endif

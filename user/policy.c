// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * policy.c - compiles a policy's rules into trie entries.
 *
 * The kernel does one LPM lookup per decision.  The entry it finds (the
 * longest CIDR that holds the destination) carries every rule that can
 * apply to that destination: its own rules, then those of each CIDR that
 * contains it, in decision order.  Only rules of containing CIDRs can
 * contain the destination too, so nothing else is needed.  Inheritance
 * stops at a rule that matches every protocol and port, and the chain
 * always ends with such a rule (at worst the policy default).
 */
#define _GNU_SOURCE	/* qsort_r */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

bool cidr_is_host(const struct cidr *c)
{
	return c->plen == (c->family == EGRESS_FAM_V4 ? 32 : 128);
}

bool rule_is_full(const struct rule *r)
{
	return r->proto == 0 && r->port_lo == 0 && r->port_hi == 65535;
}

bool rule_same_match(const struct rule *a, const struct rule *b)
{
	return !cidr_cmp(&a->cidr, &b->cidr) && a->proto == b->proto &&
	       a->port_lo == b->port_lo && a->port_hi == b->port_hi;
}

/* The capacity an array of cap grows to for need: doubled from 16. */
static size_t grown_cap(size_t cap, size_t need)
{
	size_t ncap = cap ? cap : 16;

	while (ncap < need)
		ncap *= 2;
	return ncap;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = grown_cap(*cap, need);
	void *np;

	if (need <= *cap)
		return 0;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

int policy_set_rule(struct policy *p, const struct rule *r)
{
	int err;

	for (size_t i = 0; i < p->nrules; i++) {
		if (rule_same_match(&p->rules[i], r)) {
			if (p->rules[i].action == r->action)
				return 0;
			p->rules[i].action = r->action;
			p->rules[i].id = r->id;	/* another rule: its own counts */
			return 1;
		}
	}
	err = grow((void **)&p->rules, &p->cap, p->nrules + 1, sizeof(*r));
	if (err)
		return err;
	p->rules[p->nrules++] = *r;
	return 1;
}

int policy_append_rule(struct policy *p, const struct rule *r)
{
	int err = grow((void **)&p->rules, &p->cap, p->nrules + 1, sizeof(*r));

	if (err)
		return err;
	p->rules[p->nrules++] = *r;
	return 0;
}

int policy_remove_rule(struct policy *p, const struct rule *r)
{
	for (size_t i = 0; i < p->nrules; i++) {
		if (rule_same_match(&p->rules[i], r)) {
			p->rules[i] = p->rules[--p->nrules];
			return 0;
		}
	}
	return -ENOENT;
}

/* Decision order inside one CIDR: deny first, specific before full. */
int rule_cmp(const void *a_, const void *b_)
{
	const struct rule *a = a_, *b = b_;
	int r = cidr_cmp(&a->cidr, &b->cidr);

	if (r)
		return r;
	if (a->action != b->action)
		return a->action == EGRESS_DENY ? -1 : 1;
	if (rule_is_full(a) != rule_is_full(b))
		return rule_is_full(a) ? 1 : -1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	return a->port_hi < b->port_hi ? -1 : a->port_hi > b->port_hi;
}

int match_cmp(const void *a_, const void *b_)
{
	const struct rule *a = a_, *b = b_;
	int r = cidr_cmp(&a->cidr, &b->cidr);

	if (r)
		return r;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	if (a->port_hi != b->port_hi)
		return a->port_hi < b->port_hi ? -1 : 1;
	return (int)a->action - (int)b->action;
}

/*
 * Sorts rules in match order through 64-bit keys that agree with it (the
 * family, then the address's first bytes; for IPv4 the whole address, the
 * prefix and the protocol): a radix sort on the keys, the full comparison
 * only among equal keys.  A 100,000-rule file sorts in a few ms, not tens.
 */
struct sortkey {
	uint64_t k;
	size_t i;
};

static int sortkey_cmp(const void *a_, const void *b_, void *rules)
{
	const struct sortkey *a = a_, *b = b_;

	if (a->k != b->k)
		return a->k < b->k ? -1 : 1;
	return match_cmp((const struct rule *)rules + a->i, (const struct rule *)rules + b->i);
}

static int sort_match_order(struct policy *pol)
{
	struct rule *r = pol->rules;
	size_t n = pol->nrules;
	struct sortkey *k = malloc(n * sizeof(*k));
	struct rule *out = malloc(n * sizeof(*out));

	if (!k || !out) {
		free(k);
		free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct cidr *c = &r[i].cidr;
		uint64_t v = (uint64_t)c->family << 56;

		if (c->family == EGRESS_FAM_V4)
			v |= (uint64_t)c->addr[0] << 48 | (uint64_t)c->addr[1] << 40 | (uint64_t)c->addr[2] << 32 |
			     (uint64_t)c->addr[3] << 24 | (uint64_t)c->plen << 16 | (uint64_t)r[i].proto << 8;
		else
			for (int b = 0; b < 7; b++)
				v |= (uint64_t)c->addr[b] << (48 - 8 * b);
		k[i].k = v;
		k[i].i = i;
	}
	/* LSD radix sort on the keys, a byte a pass (constant bytes skipped), then ties by match_cmp */
	{
		struct sortkey *tmp = malloc(n * sizeof(*tmp)), *src = k, *dst = tmp;

		if (!tmp) {
			free(k);
			free(out);
			return -ENOMEM;
		}
		for (unsigned int shift = 0; shift < 64; shift += 8) {
			size_t cnt[256] = {}, pos = 0;
			bool constant = false;

			for (size_t i = 0; i < n; i++)
				cnt[(src[i].k >> shift) & 0xff]++;
			for (int b = 0; b < 256; b++)
				constant |= cnt[b] == n;
			if (constant)
				continue;
			for (int b = 0; b < 256; b++) {
				size_t c = cnt[b];

				cnt[b] = pos;
				pos += c;
			}
			for (size_t i = 0; i < n; i++)
				dst[cnt[(src[i].k >> shift) & 0xff]++] = src[i];
			dst = src;
			src = src == k ? tmp : k;
		}
		if (src != k)
			memcpy(k, src, n * sizeof(*k));
		free(tmp);
	}
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && k[j].k == k[i].k; j++)
			;
		if (j - i > 1)
			qsort_r(k + i, j - i, sizeof(*k), sortkey_cmp, r);
	}
	/* the rules in their new order replace the old array (no copy back) */
	for (size_t i = 0; i < n; i++)
		out[i] = r[k[i].i];
	free(k);
	free(r);
	pol->rules = out;
	pol->cap = n;
	return 0;
}

int policy_normalize(struct policy *p, struct rule *conflict, char *err, size_t errlen)
{
	size_t n = 0;

	if (p->nrules > 64) {
		int ret = sort_match_order(p);

		if (ret) {
			snprintf(err, errlen, "out of memory");
			return ret;
		}
	} else if (p->nrules) {
		qsort(p->rules, p->nrules, sizeof(*p->rules), match_cmp);
	}
	for (size_t i = 0; i < p->nrules; i++) {
		if (n && rule_same_match(&p->rules[n - 1], &p->rules[i])) {
			char buf[CIDR_STR_LEN];

			if (p->rules[n - 1].action == p->rules[i].action)
				continue;
			if (conflict)
				*conflict = p->rules[i];
			format_cidr(&p->rules[i].cidr, buf, sizeof(buf));
			snprintf(err, errlen, "policy '%s': both allow and deny for %s with the same "
				 "protocol and port", p->name, buf);
			return -EEXIST;
		}
		p->rules[n++] = p->rules[i];
	}
	p->nrules = n;
	/* match order groups each CIDR's rules, in CIDR order: sort within groups */
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && !cidr_cmp(&p->rules[i].cidr, &p->rules[j].cidr); j++)
			;
		if (j - i > 1)
			qsort(p->rules + i, j - i, sizeof(*p->rules), rule_cmp);
	}
	return 0;
}

bool policy_is_sorted(const struct policy *p)
{
	for (size_t i = 1; i < p->nrules; i++)
		if (rule_cmp(&p->rules[i - 1], &p->rules[i]) > 0)
			return false;
	return true;
}

void policy_sort(struct policy *p)
{
	/* most callers hand over sorted rules (files are normalized): one pass */
	if (!policy_is_sorted(p))
		qsort(p->rules, p->nrules, sizeof(*p->rules), rule_cmp);
}

void policy_free(struct policy *p)
{
	free(p->rules);
	p->rules = NULL;
	p->nrules = p->cap = 0;
}

/* A copy of src's live rules (rule_live): a removed one is not copied. */
int policy_copy(struct policy *dst, const struct policy *src)
{
	*dst = *src;
	dst->rules = NULL;
	dst->cap = dst->nrules = dst->ndead = 0;
	dst->gone = NULL;
	if (!src->nrules)
		return 0;
	dst->rules = malloc(src->nrules * sizeof(*src->rules));
	if (!dst->rules)
		return -ENOMEM;
	dst->cap = src->nrules;
	if (!src->ndead && !src->gone) {
		memcpy(dst->rules, src->rules, src->nrules * sizeof(*src->rules));
		dst->nrules = src->nrules;
		return 0;
	}
	for (size_t i = 0; i < src->nrules; i++)
		if (rule_live(src, &src->rules[i]))
			dst->rules[dst->nrules++] = src->rules[i];
	return 0;
}

void lpm_key_from_cidr(struct egress_lpm_key *k, const struct cidr *c)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = EGRESS_KEY_HDR_BITS + c->plen;
	k->family = c->family;
	memcpy(k->addr, c->addr, sizeof(k->addr));
}

void cidr_from_lpm_key(struct cidr *c, const struct egress_lpm_key *k)
{
	memset(c, 0, sizeof(*c));
	c->family = k->family;
	c->plen = k->prefixlen - EGRESS_KEY_HDR_BITS;
	memcpy(c->addr, k->addr, c->family == EGRESS_FAM_V4 ? 4 : 16);
}

static struct egress_slot slot_of(const struct rule *r)
{
	return (struct egress_slot){
		.port_lo = r->port_lo, .port_hi = r->port_hi, .proto = r->proto,
		.action = r->action, .plen = r->cidr.plen, .id = r->id,
	};
}

int compiled_push(struct compiled *c, const struct egress_lpm_key *key, const struct entry_val *val)
{
	int err = grow((void **)&c->e, &c->cap, c->n + 1, sizeof(*c->e));

	if (err)
		return err;
	c->e[c->n].key = *key;
	c->e[c->n].val = *val;
	c->n++;
	return 0;
}

bool key_is_host(const struct egress_lpm_key *k)
{
	return k->prefixlen - EGRESS_KEY_HDR_BITS == (k->family == EGRESS_FAM_V4 ? 32u : 128u);
}

void host_key(struct egress_host_key *hk, const struct egress_lpm_key *k)
{
	memset(hk, 0, sizeof(*hk));
	hk->family = k->family;
	memcpy(hk->addr, k->addr, sizeof(hk->addr));
}

/*
 * The key of the list of k's entry: k, its address masked to the prefix
 * as the programs mask a destination (a rule's CIDR has no host bits:
 * this only makes sure).
 */
struct egress_lpm_key list_key(const struct egress_lpm_key *k)
{
	struct egress_lpm_key lk = *k;

	mask_addr(lk.addr, k->family == EGRESS_FAM_V4 ? 32 : 128, k->prefixlen - EGRESS_KEY_HDR_BITS);
	if (k->family == EGRESS_FAM_V4)
		memset(lk.addr + 4, 0, sizeof(lk.addr) - 4);
	return lk;
}

void kform_free(struct kform *k)
{
	free(k->tkey);
	free(k->tent);
	free(k->hkey);
	free(k->hent);
	free(k->lkey);
	free(k->lval);
	memset(k, 0, sizeof(*k));
}

/* Room for one more in a pair of arrays (keys and values) of *cap. */
static int grow2(void **a, void **b, size_t *cap, size_t need, size_t asz, size_t bsz)
{
	size_t ncap = grown_cap(*cap, need);
	void *na, *nb;

	if (need <= *cap)
		return 0;
	na = realloc(*a, ncap * asz);
	if (!na)
		return -ENOMEM;
	*a = na;
	nb = realloc(*b, ncap * bsz);
	if (!nb)
		return -ENOMEM;
	*b = nb;
	*cap = ncap;
	return 0;
}

/* (key, v) split into k: *at its index in the trie's or the host table's arrays. */
static int kform_push(struct kform *k, const struct egress_lpm_key *key, const struct entry_val *v,
		      size_t *at)
{
	bool host = key_is_host(key);
	struct egress_entry *e;
	struct egress_list l;
	int ret;

	if (host) {
		ret = grow2((void **)&k->hkey, (void **)&k->hent, &k->hcap, k->nh + 1, sizeof(*k->hkey),
			    sizeof(*k->hent));
		if (ret)
			return ret;
		host_key(&k->hkey[k->nh], key);
		e = &k->hent[k->nh];
		*at = k->nh++;
	} else {
		ret = grow2((void **)&k->tkey, (void **)&k->tent, &k->tcap, k->nt + 1, sizeof(*k->tkey),
			    sizeof(*k->tent));
		if (ret)
			return ret;
		k->tkey[k->nt] = *key;
		e = &k->tent[k->nt];
		*at = k->nt++;
	}
	if (!entry_split(key, v, e, &l))
		return 0;
	ret = grow2((void **)&k->lkey, (void **)&k->lval, &k->lcap, k->nl + 1, sizeof(*k->lkey),
		    sizeof(*k->lval));
	if (ret)
		return ret;
	k->lkey[k->nl] = list_key(key);
	k->lval[k->nl++] = l;
	return 0;
}

int kform_from_compiled(const struct compiled *c, struct kform *out)
{
	size_t at;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; !ret && i < c->n; i++)
		ret = kform_push(out, &c->e[i].key, &c->e[i].val, &at);
	if (ret)
		kform_free(out);
	return ret;
}

bool entry_split(const struct egress_lpm_key *k, const struct entry_val *v, struct egress_entry *e,
		 struct egress_list *l)
{
	memset(e, 0, sizeof(*e));
	e->nslots = v->nslots;
	e->ent_flags = v->ent_flags & ~EGRESS_ENT_LIST;
	e->err = v->err;
	e->dflt = v->dflt;
	e->pol_flags = v->pol_flags;
	e->gen = v->gen;
	if (v->nslots <= EGRESS_INLINE) {
		memcpy(e->slot, v->slot, v->nslots * sizeof(e->slot[0]));
		return false;
	}
	e->ent_flags |= EGRESS_ENT_LIST;
	e->plen = k->prefixlen - EGRESS_KEY_HDR_BITS;
	memset(l, 0, sizeof(*l));
	l->gen = v->gen;
	l->nslots = v->nslots < EGRESS_SLOTS ? v->nslots : EGRESS_SLOTS;
	memcpy(l->slot, v->slot, l->nslots * sizeof(l->slot[0]));
	return true;
}

int entry_join(const struct egress_entry *e, const struct egress_list *l, struct entry_val *v)
{
	memset(v, 0, sizeof(*v));
	v->ent_flags = e->ent_flags & ~EGRESS_ENT_LIST;
	v->err = e->err;
	v->dflt = e->dflt;
	v->pol_flags = e->pol_flags;
	v->gen = e->gen;
	if (!(e->ent_flags & EGRESS_ENT_LIST)) {
		v->nslots = e->nslots < EGRESS_INLINE ? e->nslots : EGRESS_INLINE;
		memcpy(v->slot, e->slot, v->nslots * sizeof(v->slot[0]));
		return 0;
	}
	if (!l || l->gen != e->gen)
		return -ENOENT;
	v->nslots = l->nslots < EGRESS_SLOTS ? l->nslots : EGRESS_SLOTS;
	memcpy(v->slot, l->slot, v->nslots * sizeof(v->slot[0]));
	return 0;
}

/*
 * Where compile() puts its entries: compiled entries (out), or the
 * kernel's form (kf).  *at: the entry's index, for emit_hosts().
 */
struct sink {
	struct compiled *out;
	struct kform *kf;
};

static int emit(struct sink *s, const struct cidr *cidr, const struct entry_val *e, size_t *at)
{
	struct egress_lpm_key k;

	lpm_key_from_cidr(&k, cidr);
	if (s->kf)
		return kform_push(s->kf, &k, e, at);
	*at = s->out->n;
	return compiled_push(s->out, &k, e);
}

/* The entry at (never a host: a host contains nothing) has host entries below it. */
static void emit_hosts(struct sink *s, size_t at)
{
	if (s->kf)
		s->kf->tent[at].ent_flags |= EGRESS_ENT_HOSTS;
	else
		s->out->e[at].val.ent_flags |= EGRESS_ENT_HOSTS;
}

/*
 * Entry for one CIDR: own rules [first, last), then the parent's slots
 * unless an own rule matches everything.
 */
static int build_entry(const struct policy *p, const struct rule *own, size_t nown,
		       const struct entry_val *parent, struct entry_val *e,
		       const struct cidr *cidr, char *err, size_t errlen)
{
	bool full = false;
	size_t n = 0;

	memset(e, 0, sizeof(*e));
	e->err = p->err;
	e->dflt = p->dflt;
	e->pol_flags = p->flags;
	for (size_t i = 0; i < nown; i++) {
		if (n == EGRESS_SLOTS)
			goto too_many;
		e->slot[n++] = slot_of(&own[i]);
		full |= rule_is_full(&own[i]);
	}
	if (!full) {
		for (size_t i = 0; i < parent->nslots; i++) {
			if (n == EGRESS_SLOTS)
				goto too_many;
			e->slot[n++] = parent->slot[i];
		}
	}
	e->nslots = n;
	return 0;
too_many: {
	char buf[CIDR_STR_LEN];

	format_cidr(cidr, buf, sizeof(buf));
	snprintf(err, errlen, "policy '%s': more than %d rules apply to %s (its own and those of "
		 "the CIDRs that contain it); merge port rules or add a rule that matches every port",
		 p->name, EGRESS_SLOTS, buf);
	return -E2BIG;
	}
}

static int compile(const struct policy *src, struct sink *out, bool sorted, char *err, size_t errlen);

int policy_compile(const struct policy *src, struct compiled *out, char *err, size_t errlen)
{
	struct sink s = { .out = out };

	return compile(src, &s, true, err, errlen);
}

int policy_compile_unsorted(const struct policy *src, struct compiled *out, char *err, size_t errlen)
{
	struct sink s = { .out = out };

	return compile(src, &s, false, err, errlen);
}

int policy_compile_kform(const struct policy *src, struct kform *out, char *err, size_t errlen)
{
	struct sink s = { .kf = out };

	return compile(src, &s, false, err, errlen);
}

static int compile(const struct policy *src, struct sink *out, bool sorted, char *err, size_t errlen)
{
	struct { struct cidr cidr; struct entry_val e; size_t at; } *stack = NULL;
	struct entry_val dflt_entry = {};
	struct policy p = {};
	size_t depth = 0;
	bool own;
	int ret;

	if (src->ndead || src->gone) {
		/* a store read in place: policy_copy drops its removed rules first */
		snprintf(err, errlen, "policy '%s': removed rules in a compile (a bug)", src->name);
		return -EINVAL;
	}

	if (out->kf)
		memset(out->kf, 0, sizeof(*out->kf));
	else
		memset(out->out, 0, sizeof(*out->out));
	/* sorted rules (a parsed file's, a store's) are read where they are: no copy */
	own = !policy_is_sorted(src);
	if (own) {
		ret = policy_copy(&p, src);
		if (ret)
			return ret;
		policy_sort(&p);
	} else {
		p = *src;	/* read only */
	}
	/* at most one entry per rule, and the two roots: no regrowth */
	if (out->kf) {
		size_t hosts = 0;

		for (size_t i = 0; i < p.nrules; i++)
			hosts += cidr_is_host(&p.rules[i].cidr);
		ret = grow2((void **)&out->kf->tkey, (void **)&out->kf->tent, &out->kf->tcap,
			    p.nrules - hosts + 2, sizeof(*out->kf->tkey), sizeof(*out->kf->tent)) ?:
		      grow2((void **)&out->kf->hkey, (void **)&out->kf->hent, &out->kf->hcap, hosts,
			    sizeof(*out->kf->hkey), sizeof(*out->kf->hent));
	} else {
		ret = grow((void **)&out->out->e, &out->out->cap, p.nrules + 2, sizeof(*out->out->e));
	}
	if (ret)
		goto cleanup;
	/* a CIDR nests at most 129 deep (one per prefix length) */
	stack = calloc(130, sizeof(*stack));
	if (!stack) {
		ret = -ENOMEM;
		goto cleanup;
	}
	dflt_entry.nslots = 1;
	dflt_entry.slot[0] = (struct egress_slot){
		.port_lo = 0, .port_hi = 65535, .action = p.dflt, .flags = EGRESS_SLOT_DEFAULT,
		.id = p.dflt_id,
	};

	for (int fam = EGRESS_FAM_V4; fam <= EGRESS_FAM_V6; fam += EGRESS_FAM_V6 - EGRESS_FAM_V4) {
		struct cidr root = { .family = fam, .plen = 0 };
		size_t i = 0, first;

		depth = 0;
		/* skip to this family's rules */
		while (i < p.nrules && p.rules[i].cidr.family != fam)
			i++;
		/* the root: own /0 rules, then the default */
		first = i;
		while (i < p.nrules && p.rules[i].cidr.family == fam && p.rules[i].cidr.plen == 0)
			i++;
		stack[0].cidr = root;
		ret = build_entry(&p, i > first ? p.rules + first : NULL, i - first, &dflt_entry,
				  &stack[0].e, &root, err, errlen);
		if (ret)
			goto cleanup;
		ret = emit(out, &root, &stack[0].e, &stack[0].at);
		if (ret)
			goto cleanup;
		depth = 1;

		while (i < p.nrules && p.rules[i].cidr.family == fam) {
			const struct cidr *c = &p.rules[i].cidr;

			first = i;
			while (i < p.nrules && !cidr_cmp(&p.rules[i].cidr, c))
				i++;
			/* sorted order puts every container before what it contains */
			while (depth > 1 && !cidr_contains(&stack[depth - 1].cidr, c))
				depth--;
			stack[depth].cidr = *c;
			ret = build_entry(&p, p.rules + first, i - first, &stack[depth - 1].e,
					  &stack[depth].e, c, err, errlen);
			if (ret)
				goto cleanup;
			/* a host's entry goes to the hash: its container says so */
			if (cidr_is_host(c))
				emit_hosts(out, stack[depth - 1].at);
			ret = emit(out, c, &stack[depth].e, &stack[depth].at);
			if (ret)
				goto cleanup;
			depth++;
		}
	}
	if (sorted && out->out)
		compiled_sort(out->out);
	ret = 0;
cleanup:
	if (ret && out->kf)
		kform_free(out->kf);
	else if (ret)
		compiled_free(out->out);
	free(stack);
	if (own)
		policy_free(&p);
	return ret;
}

int policy_decompile(struct policy *p, const struct compiled *cp)
{
	int ret;

	p->nrules = 0;
	for (size_t i = 0; i < cp->n; i++) {
		const struct entry_val *v = &cp->e[i].val;
		struct cidr c;

		cidr_from_lpm_key(&c, &cp->e[i].key);
		if (c.plen == 0 && c.family == EGRESS_FAM_V4) {
			p->dflt = v->dflt;
			p->err = v->err;
			p->flags = v->pol_flags;
			p->dflt_id = v->nslots ? v->slot[v->nslots - 1].id : 0;	/* the root ends in the default */
		}
		for (size_t s = 0; s < v->nslots && s < EGRESS_SLOTS; s++) {
			const struct egress_slot *sl = &v->slot[s];
			struct rule r = {
				.cidr = c, .proto = sl->proto, .action = sl->action,
				.port_lo = sl->port_lo, .port_hi = sl->port_hi, .id = sl->id,
			};

			if ((sl->flags & EGRESS_SLOT_DEFAULT) || sl->plen != c.plen)
				continue;	/* inherited */
			ret = policy_append_rule(p, &r);
			if (ret < 0)
				return ret;
		}
	}
	policy_sort(p);
	return 0;
}

void compiled_free(struct compiled *c)
{
	free(c->e);
	memset(c, 0, sizeof(*c));
}

static int centry_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct centry *)a)->key, &((const struct centry *)b)->key,
		      sizeof(struct egress_lpm_key));
}

void compiled_sort(struct compiled *c)
{
	size_t i = 1;

	while (i < c->n && centry_cmp(&c->e[i - 1], &c->e[i]) <= 0)
		i++;
	if (i < c->n)
		qsort(c->e, c->n, sizeof(*c->e), centry_cmp);
}

size_t compiled_diff(const struct compiled *a, const struct compiled *b)
{
	size_t i = 0, j = 0, d = 0;

	while (i < a->n || j < b->n) {
		int r = i == a->n ? 1 : j == b->n ? -1 : centry_cmp(&a->e[i], &b->e[j]);

		if (r < 0) {
			d++;
			i++;
		} else if (r > 0) {
			d++;
			j++;
		} else {
			d += memcmp(&a->e[i].val, &b->e[j].val, sizeof(a->e[i].val)) != 0;
			i++;
			j++;
		}
	}
	return d;
}

static bool slot_matches(const struct egress_slot *s, uint8_t proto, uint16_t port)
{
	return (!s->proto || s->proto == proto) && port >= s->port_lo && port <= s->port_hi;
}

int policy_decide_slow(const struct policy *p, const struct cidr *dst, uint8_t proto, uint16_t port)
{
	int best_plen = -1, verdict = p->dflt;

	for (size_t i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];
		struct egress_slot s = slot_of(r);

		if (!cidr_contains(&r->cidr, dst) || !slot_matches(&s, proto, port))
			continue;
		if (r->cidr.plen > best_plen) {
			best_plen = r->cidr.plen;
			verdict = r->action;
		} else if (r->cidr.plen == best_plen && r->action == EGRESS_DENY) {
			verdict = EGRESS_DENY;
		}
	}
	return verdict;
}

int compiled_decide(const struct compiled *c, const struct cidr *dst, uint8_t proto, uint16_t port)
{
	const struct entry_val *e = NULL;
	int best = -1;

	/* as the kernel: the longest entry of the trie, which holds no hosts */
	for (size_t i = 0; i < c->n; i++) {
		struct cidr k;

		cidr_from_lpm_key(&k, &c->e[i].key);
		if (!cidr_is_host(&k) && cidr_contains(&k, dst) && k.plen > best) {
			best = k.plen;
			e = &c->e[i].val;
		}
	}
	if (!e)
		return EGRESS_DENY;
	/* then, if it says so, the host entry of exactly that address */
	for (size_t i = 0; (e->ent_flags & EGRESS_ENT_HOSTS) && i < c->n; i++) {
		struct cidr k;

		cidr_from_lpm_key(&k, &c->e[i].key);
		if (cidr_is_host(&k) && cidr_is_host(dst) && !cidr_cmp(&k, dst)) {
			e = &c->e[i].val;
			break;
		}
	}
	for (size_t i = 0; i < e->nslots && i < EGRESS_SLOTS; i++)
		if (slot_matches(&e->slot[i], proto, port))
			return e->slot[i].action;
	return EGRESS_DENY;
}

/* ---- incremental plans ------------------------------------------------ */

_Static_assert(sizeof(struct rule) == 28, "struct rule is the policy store's record (store.c)");

/* The first rule (policy_sort order) whose CIDR is not below c. */
static size_t lower_bound(const struct rule *r, size_t n, const struct cidr *c)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cidr_cmp(&r[mid].cidr, c) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void rules_range(const struct rule *r, size_t n, const struct cidr *c, bool exact,
		 size_t *lo, size_t *hi)
{
	size_t i = lower_bound(r, n, c);

	*lo = i;
	/* contained CIDRs sort right after c, contiguously: containers first */
	if (exact)
		while (i < n && !cidr_cmp(&r[i].cidr, c))
			i++;
	else if (i < n && cidr_contains(c, &r[i].cidr)) {
		/* the first rule past c's last address, by binary search */
		size_t l = i, h = n;

		while (l < h) {
			size_t mid = l + (h - l) / 2;

			if (cidr_contains(c, &r[mid].cidr))
				l = mid + 1;
			else
				h = mid;
		}
		i = l;
	}
	*hi = i;
}

static struct cidr cidr_masked(const struct cidr *c, unsigned int plen)
{
	struct cidr m = *c;

	m.plen = plen;
	mask_addr(m.addr, 128, plen);
	return m;
}

/*
 * The entries of p at or below `at`, and the longest entry above it (its
 * parent, which holds hosts that may move), compiled from the rules that
 * can reach them: those of the CIDRs containing `at` and those inside it.
 */
static int plan_region(const struct policy *p, const struct cidr *at, struct compiled *out,
		       struct centry *parent, bool *has_parent, char *err, size_t errlen)
{
	struct policy s = *p;
	struct compiled c;
	size_t lo, hi;
	int best = -1, ret = 0;

	s.rules = NULL;
	s.nrules = s.cap = s.ndead = 0;
	s.gone = NULL;
	memset(out, 0, sizeof(*out));
	for (unsigned int q = 0; q < at->plen && !ret; q++) {
		struct cidr a = cidr_masked(at, q);

		rules_range(p->rules, p->nrules, &a, true, &lo, &hi);
		for (size_t i = lo; i < hi && !ret; i++)
			if (rule_live(p, &p->rules[i]))
				ret = policy_append_rule(&s, &p->rules[i]);
	}
	rules_range(p->rules, p->nrules, at, false, &lo, &hi);
	for (size_t i = lo; i < hi && !ret; i++)
		if (rule_live(p, &p->rules[i]))
			ret = policy_append_rule(&s, &p->rules[i]);
	ret = ret ?: policy_compile(&s, &c, err, errlen);
	policy_free(&s);
	if (ret)
		return ret;
	*has_parent = false;
	for (size_t i = 0; i < c.n && !ret; i++) {
		struct cidr k;

		cidr_from_lpm_key(&k, &c.e[i].key);
		if (cidr_contains(at, &k)) {
			ret = compiled_push(out, &c.e[i].key, &c.e[i].val);
		} else if (cidr_contains(&k, at) && k.plen > best) {
			best = k.plen;
			*parent = c.e[i];
			*has_parent = true;
		}
	}
	compiled_free(&c);
	if (ret)
		compiled_free(out);
	return ret;
}

/* Whether a host rule outside `at` has the CIDR `par` as its longest container. */
static bool direct_host_outside(const struct policy *p, const struct cidr *par, const struct cidr *at)
{
	size_t lo, hi, alo, ahi, i;

	rules_range(p->rules, p->nrules, par, false, &lo, &hi);
	rules_range(p->rules, p->nrules, at, false, &alo, &ahi);
	i = lo;
	while (i < hi) {
		const struct cidr *c = &p->rules[i].cidr;
		size_t l, h;

		if (i == alo && alo < ahi) {
			i = ahi;
			continue;
		}
		/*
		 * par's own rules, and removed ones: a CIDR whose rules are all
		 * removed is no container, its contents are walked on
		 */
		if (!cidr_cmp(c, par) || !rule_live(p, &p->rules[i])) {
			i++;
			continue;
		}
		if (cidr_is_host(c))
			return true;
		rules_range(p->rules, p->nrules, c, false, &l, &h);	/* its own hosts */
		i = h > i ? h : i + 1;
	}
	return false;
}

static int centry_cmp(const void *a, const void *b);

int policy_plan_edit(const struct policy *oldp, const struct policy *newp, const struct cidr *at,
		     uint32_t gen, struct compiled *put, struct compiled *del, char *err, size_t errlen)
{
	struct compiled a = {}, b = {};
	struct centry pa, pb;
	bool hpa = false, hpb = false;
	size_t i = 0, j = 0;
	int ret;

	memset(put, 0, sizeof(*put));
	memset(del, 0, sizeof(*del));
	ret = plan_region(oldp, at, &a, &pa, &hpa, err, errlen);
	ret = ret ?: plan_region(newp, at, &b, &pb, &hpb, err, errlen);
	if (ret)
		goto cleanup;
	if (hpa && hpb) {
		/* the parent's slots do not depend on `at`; its hosts flag may */
		if ((pa.val.ent_flags ^ pb.val.ent_flags) & EGRESS_ENT_HOSTS) {
			struct cidr par;

			cidr_from_lpm_key(&par, &pa.key);
			if (direct_host_outside(newp, &par, at)) {
				pa.val.ent_flags |= EGRESS_ENT_HOSTS;
				pb.val.ent_flags |= EGRESS_ENT_HOSTS;
			}
		}
		ret = compiled_push(&a, &pa.key, &pa.val) ?: compiled_push(&b, &pb.key, &pb.val);
		if (ret)
			goto cleanup;
	}
	for (size_t k = 0; k < a.n; k++)
		a.e[k].val.gen = gen;
	for (size_t k = 0; k < b.n; k++)
		b.e[k].val.gen = gen;
	compiled_sort(&a);
	compiled_sort(&b);
	while (!ret && (i < a.n || j < b.n)) {
		int r = i == a.n ? 1 : j == b.n ? -1 : centry_cmp(&a.e[i], &b.e[j]);

		if (r < 0) {
			ret = compiled_push(del, &a.e[i].key, &a.e[i].val);
			i++;
		} else if (r > 0 || memcmp(&a.e[i].val, &b.e[j].val, sizeof(b.e[j].val))) {
			ret = compiled_push(put, &b.e[j].key, &b.e[j].val);
			i += r == 0;
			j++;
		} else {
			i++;
			j++;
		}
	}
cleanup:
	compiled_free(&a);
	compiled_free(&b);
	if (ret) {
		compiled_free(put);
		compiled_free(del);
	}
	return ret;
}

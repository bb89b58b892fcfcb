/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * hits.h - per-rule hit counters: the ids of rules (and of each policy's
 * default) in egress_rule_hits, and reading them.  Part of the state layer
 * (it opens maps/egress_rule_hits); included by state.c, egressctl and
 * metrics.c.
 *
 * Ids come from one pool shared by all policies, as large as the map
 * (egressd sizes it: max-rules + max-policies + 1, at most
 * EGRESS_HITS_MAX).  The policy store keeps each rule's id (struct
 * rule.id) and the default's (struct policy.dflt_id): an id is taken when
 * a rule is added, kept while the same rule (same match and action) stays,
 * and free again once no store holds it.  Its counters are zeroed when it
 * is taken, before any trie entry names it.  When the pool is empty a rule
 * gets id 0: decided as always, not counted.
 */
#ifndef EGRESS_HITS_H
#define EGRESS_HITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "egress.h"
#include "policy.h"

struct egress_state;

/* The free ids of one writer's change (built from every store). */
struct hits_pool {
	uint8_t *used;		/* [size] */
	uint32_t size;		/* egress_rule_hits max_entries (0: no map, nothing counted) */
	uint32_t next;		/* where the search for a free id starts */
	uint32_t nfree;		/* ids 1..size-1 no store holds and none taken */
	int fd;
	int ncpus;
	uint32_t *fresh;	/* ids taken, counters not yet zeroed */
	size_t nfresh, cap;
};

int hits_pool_open(struct egress_state *st, struct hits_pool *hp);
void hits_pool_close(struct hits_pool *hp);
/*
 * Gives p's rules and default their ids: those of the same rules (match
 * and action) in the stored version of policy `id` (0: a new policy), a
 * fresh one for the others, zeroed.  p's order is not changed.
 */
int hits_assign(struct egress_state *st, struct hits_pool *hp, uint32_t id, struct policy *p);
/* One fresh id, zeroed (0: none free). */
uint32_t hits_take_one(struct egress_state *st);

/* The sums over CPUs of every counter: (*out)[id], *n ids.  -ENOENT: no map. */
int hits_read(struct egress_state *st, struct egress_hits **out, uint32_t *n);
/* The hits of id in a hits_read() result (zeros when out of range). */
struct egress_hits hits_of(const struct egress_hits *h, uint32_t n, uint32_t id);

/* egress_rule_hits_total: the busiest rules (and defaults) of all policies. */
struct hits_row {
	char policy[EGRESS_NAME_MAX];
	char rule[96];		/* explain_rule_text ("allow 10.0.0.0/8 tcp 443"), or "default" */
	struct egress_hits h;
	uint64_t total;
};
/* At most limit rows, busiest first; only rules with at least one decision. */
int hits_top(struct egress_state *st, unsigned int limit, struct hits_row **out, size_t *n);
/* egressd --metrics-rule-limit (default 200). */
extern unsigned int hits_metrics_limit;

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * policy.bpf.h - the policy maps and the policy lookup, BPF side only.
 * Included by bpf/egress.bpf.c (which decides new connections, datagrams
 * and packets) and bpf/revoke.bpf.c (which decides established
 * connections again after a policy change, on egressd's pinned maps,
 * reused by fd): one definition of the maps both use and one lookup, so
 * that both always decide alike.  Needs vmlinux.h, bpf_helpers.h,
 * bpf_endian.h and egress.h first.
 */
#ifndef EGRESS_POLICY_BPF_H
#define EGRESS_POLICY_BPF_H

#include "dest.bpf.h"

/*
 * A policy's rules; the loader sizes max_entries (--max-rules).  Sizes, not
 * types: clang leaves types seen only inside __array() as forward
 * declarations, which libbpf cannot size.
 */
struct policy_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 100002);
	__uint(key_size, sizeof(struct egress_lpm_key));
	__uint(value_size, sizeof(struct egress_entry));
};

/* A policy generation's host entries; state.c sizes each one. */
struct hosts_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__uint(key_size, sizeof(struct egress_host_key));
	__uint(value_size, sizeof(struct egress_entry));
};

/* A policy generation's slot lists (egress.h, struct egress_list); state.c sizes each one. */
struct lists_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 64);
	__uint(key_size, sizeof(struct egress_lpm_key));
	__uint(value_size, sizeof(struct egress_list));
};

/* EGRESS_HOSTS_SLOT(policy, generation) -> list table; sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2 * 257);
	__type(key, __u32);
	__array(values, struct lists_table);
} egress_lists SEC(".maps");

/* EGRESS_HOSTS_SLOT(policy, generation) -> host table; sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2 * 257);
	__type(key, __u32);
	__array(values, struct hosts_table);
} egress_hosts SEC(".maps");

/* policy id -> its trie.  Swapping an inner map replaces a policy atomically. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 257);
	__type(key, __u32);
	__array(values, struct policy_trie);
} egress_policies SEC(".maps");

/* [policy * EGRESS_HOOK_MAX + hook] */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 257 * EGRESS_HOOK_MAX);
	__type(key, __u32);
	__type(value, struct egress_counter);
} egress_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EGRESS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} egress_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} egress_events SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&egress_stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);	/* softirq may nest */
}

static __always_inline struct egress_counter *counter(__u32 policy, enum egress_hook hook)
{
	__u32 idx = policy * EGRESS_HOOK_MAX + hook;

	return bpf_map_lookup_elem(&egress_counters, &idx);
}

/* The trie of a bound policy; NULL for policy 0 (bound, not configured) or a missing one. */
static __always_inline void *policy_trie_of(__u32 policy)
{
	if (!policy)
		return NULL;
	return bpf_map_lookup_elem(&egress_policies, &policy);
}

/*
 * The entry that decides d in a policy's trie: the longest matching CIDR,
 * or the host entry of d's own address when that CIDR holds hosts of the
 * same generation.  NULL: no entry (every trie has /0 roots, so a miss is
 * corruption): the caller denies.
 */
static __always_inline struct egress_entry *policy_entry(void *trie, __u32 policy,
							 const struct dest *d)
{
	struct egress_entry *e = bpf_map_lookup_elem(trie, &d->key);

	if (e && (e->ent_flags & EGRESS_ENT_HOSTS)) {
		__u32 slot = EGRESS_HOSTS_SLOT(policy, e->gen);
		struct egress_host_key hk = { .family = d->key.family };
		struct egress_entry *h;
		void *hosts;

		__builtin_memcpy(hk.addr, d->key.addr, sizeof(hk.addr));
		hosts = bpf_map_lookup_elem(&egress_hosts, &slot);
		h = hosts ? bpf_map_lookup_elem(hosts, &hk) : NULL;
		if (h && h->gen == e->gen)
			e = h;
	}
	return e;
}

/* The first of n slots whose protocol and port range match d (any_port: any range). */
static __always_inline const struct egress_slot *slot_scan(const struct egress_slot *slot, __u32 n,
							   __u32 max, const struct dest *d,
							   bool any_port)
{
	__u32 i;

	for (i = 0; i < max; i++) {
		const struct egress_slot *s = &slot[i];

		if (i >= n)
			break;
		if (s->proto && s->proto != d->proto)
			continue;
		if (!any_port && (d->port < s->port_lo || d->port > s->port_hi))
			continue;
		return s;
	}
	return NULL;
}

/*
 * The slot of an entry with EGRESS_ENT_LIST that decides d, from its list
 * (found by the entry's CIDR: d's address masked to its prefix); NULL if
 * the list of its generation is missing.  Out of line: most entries have
 * no list, and the programs stay small.
 */
static __noinline const struct egress_slot *list_slot(__u32 policy, const struct egress_entry *e,
						      const struct dest *d, bool any_port)
{
	__u32 slot = EGRESS_HOSTS_SLOT(policy, e->gen), plen = e->plen, w[4], i;
	struct egress_lpm_key k = { .family = d->key.family };
	const struct egress_list *l;
	void *lists;

	if (plen > 128)
		return NULL;
	k.prefixlen = EGRESS_KEY_HDR_BITS + plen;
	__builtin_memcpy(w, d->key.addr, sizeof(w));
	/* the address masked to the entry's prefix, a 32-bit word at a time */
	for (i = 0; i < 4; i++) {
		if (plen >= 32 * (i + 1))
			continue;
		if (plen <= 32 * i)
			w[i] = 0;
		else
			w[i] &= bpf_htonl(~0u << (32 * (i + 1) - plen));
	}
	__builtin_memcpy(k.addr, w, sizeof(w));
	lists = bpf_map_lookup_elem(&egress_lists, &slot);
	l = lists ? bpf_map_lookup_elem(lists, &k) : NULL;
	if (!l || l->gen != e->gen)
		return NULL;
	return slot_scan(l->slot, l->nslots, EGRESS_SLOTS, d, any_port);
}

/*
 * The slot of e that decides d: the first whose protocol and port range
 * match.  any_port: the port is unknown (a non-first IP fragment), any
 * range matches.  The list ends in a full rule, so NULL means a corrupt
 * entry (or a missing list): the caller denies.
 */
static __always_inline const struct egress_slot *entry_slot(__u32 policy, const struct egress_entry *e,
							    const struct dest *d, bool any_port)
{
	if (!(e->ent_flags & EGRESS_ENT_LIST))
		return slot_scan(e->slot, e->nslots, EGRESS_INLINE, d, any_port);
	return list_slot(policy, e, d, any_port);
}

/*
 * A zeroed event on the ring buffer, its time set, or NULL: the loss is
 * counted (c's dropped, if any, and EGRESS_STAT_RB_DROPS).
 */
static __always_inline struct egress_event *event_reserve(struct egress_counter *c)
{
	struct egress_event *e = bpf_ringbuf_reserve(&egress_events, sizeof(*e), 0);

	if (!e) {
		if (c)
			__sync_fetch_and_add(&c->dropped, 1);
		stat_inc(EGRESS_STAT_RB_DROPS);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	return e;
}

/*
 * An event's destination and rule: d as decided, the deciding slot, or
 * reason (an EGRESS_RULE_*) when none (rule NULL or the policy's default).
 */
static __always_inline void event_dest(struct egress_event *e, const struct dest *d,
				       const struct egress_slot *rule, __u8 reason)
{
	e->dport = d->port;
	e->family = d->key.family;
	e->proto = d->proto;
	__builtin_memcpy(e->addr, d->key.addr, sizeof(e->addr));
	if (rule && !(rule->flags & EGRESS_SLOT_DEFAULT)) {
		e->rule_plen = rule->plen;
		e->rule_proto = rule->proto;
		e->rule_port_lo = rule->port_lo;
		e->rule_port_hi = rule->port_hi;
	} else {
		e->rule_plen = reason;
	}
}

#endif /* EGRESS_POLICY_BPF_H */

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

/*
 * The slot of e that decides d: the first whose protocol and port range
 * match.  any_port: the port is unknown (a non-first IP fragment), any
 * range matches.  The list ends in a full rule, so NULL means a corrupt
 * entry: the caller denies.
 */
static __always_inline const struct egress_slot *entry_slot(const struct egress_entry *e,
							    const struct dest *d, bool any_port)
{
	__u32 i;

	for (i = 0; i < EGRESS_SLOTS; i++) {
		const struct egress_slot *s = &e->slot[i];

		if (i >= e->nslots)
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

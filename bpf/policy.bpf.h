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

/* A destination to decide: the trie key, its port and protocol. */
struct dest {
	struct egress_lpm_key key;
	__u32 v4;	/* the IPv4 address an IPv6 key embeds (network order) */
	__u16 port;
	__u8 proto;
	__u8 embeds;	/* v4 is set: decide it too */
};

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

/* The destination as the kernel will really use it. */
static __always_inline void dest_v4(struct dest *d, __u32 ip)
{
	if (ip == 0)	/* INADDR_ANY goes to the local host */
		ip = bpf_htonl(0x7f000001);
	d->key.prefixlen = EGRESS_KEY_HDR_BITS + 32;
	d->key.family = EGRESS_FAM_V4;
	__builtin_memcpy(d->key.addr, &ip, 4);
}

/*
 * IPv6 destinations that embed an IPv4 address are decided as that
 * address too: IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::a.b.c.d (RFC
 * 6052) and 6to4 2002:AABB:CCDD::/48.  A NAT64 gateway or 6to4 relay
 * forwards them to the IPv4 host.
 */
static __always_inline void dest_embedded(struct dest *d, __u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	__u32 h0 = bpf_ntohl(w0);

	if (w0 == 0 && w1 == 0 && w2 == 0 && bpf_ntohl(w3) > 1) {
		d->v4 = w3;
		d->embeds = 1;
	} else if (w0 == bpf_htonl(0x0064ff9b) && w1 == 0 && w2 == 0) {
		d->v4 = w3;
		d->embeds = 1;
	} else if ((h0 >> 16) == 0x2002) {
		d->v4 = bpf_htonl((h0 << 16) | (bpf_ntohl(w1) >> 16));
		d->embeds = 1;
	}
}

/* ::ffff:a.b.c.d is a.b.c.d, :: is ::1; an embedded IPv4 address is noted. */
static __always_inline void dest_v6(struct dest *d, __u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff)) {
		dest_v4(d, w3);
		return;
	}
	if ((w0 | w1 | w2 | w3) == 0)	/* :: goes to ::1 */
		w3 = bpf_htonl(1);
	dest_embedded(d, w0, w1, w2, w3);
	d->key.prefixlen = EGRESS_KEY_HDR_BITS + 128;
	d->key.family = EGRESS_FAM_V6;
	__builtin_memcpy(d->key.addr, &w0, 4);
	__builtin_memcpy(d->key.addr + 4, &w1, 4);
	__builtin_memcpy(d->key.addr + 8, &w2, 4);
	__builtin_memcpy(d->key.addr + 12, &w3, 4);
}

/* The IPv4 destination d embeds (d->embeds), same port and protocol. */
static __always_inline void dest_embedded_v4(struct dest *d4, const struct dest *d)
{
	dest_v4(d4, d->v4);
	d4->port = d->port;
	d4->proto = d->proto;
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

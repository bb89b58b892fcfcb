// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * revoke.bpf.c - revoking established connections after a policy change.
 *
 * An iter/tcp program, run by user/revoke.c once per network namespace
 * that holds a process of an affected cgroup.  For each TCP socket of an
 * affected cgroup (revoke_cgroups: cgroup id -> the policies bound on its
 * path, filled by user space) it decides the peer under every one of those
 * policies, as bpf/egress.bpf.c does for a new connection, and destroys the
 * socket (bpf_sock_destroy: RST to the peer, ECONNABORTED to the process)
 * if any of them denies.  Each cut connection is one event with hook
 * EGRESS_HOOK_REVOKE on egressd's ring buffer.
 *
 * egress_policies, egress_hosts, egress_events, egress_counters and
 * egress_stats are egressd's pinned maps, reused by fd before load: the
 * definitions below only have to type them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "egress.h"
#include "revoke.h"

#define AF_INET_	2
#define AF_INET6_	10
#define ECONNABORTED_	103
/* include/net/tcp_states.h */
#define TCP_ESTABLISHED_ 1
#define TCP_SYN_SENT_	2
#define TCP_CLOSE_	7
#define TCP_LISTEN_	10

char LICENSE[] SEC("license") = "Dual BSD/GPL";

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

struct policy_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 100002);
	__uint(key_size, sizeof(struct egress_lpm_key));
	__uint(value_size, sizeof(struct egress_entry));
};

struct hosts_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__uint(key_size, sizeof(struct egress_host_key));
	__uint(value_size, sizeof(struct egress_entry));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2 * 257);
	__type(key, __u32);
	__array(values, struct hosts_table);
} egress_hosts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 257);
	__type(key, __u32);
	__array(values, struct policy_trie);
} egress_policies SEC(".maps");

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

/* This pass's affected cgroups; user/revoke.c sizes and fills it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct revoke_path);
} revoke_cgroups SEC(".maps");

/* What the pass did, read back by user space. */
__u64 checked = 0;	/* sockets of affected cgroups decided */
__u64 revoked = 0;	/* destroyed */
__u64 failed = 0;	/* bpf_sock_destroy refused */

struct dest {
	struct egress_lpm_key key;
	__u16 port;
	__u8 proto;
};

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&egress_stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/*
 * The peer as the kernel decided it at connect: v4-mapped IPv6 is IPv4.
 * Duplicates egress.bpf.c's dest_v4/dest_v6 minus the any-address cases
 * (a connected socket has a real peer).  An IPv6 peer that embeds an IPv4
 * address (IPv4-compatible, NAT64 64:ff9b::/96, 6to4 2002::/16: egress.bpf.c
 * dest_embedded) also yields that address in *d4: both must be allowed.
 */
static __always_inline bool peer_dest(struct sock_common *skc, struct dest *d, struct dest *d4)
{
	__u32 w[4], v4 = 0, h0;
	bool embeds = false;

	d->port = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	if (BPF_CORE_READ(skc, skc_family) == AF_INET_) {
		__u32 ip = BPF_CORE_READ(skc, skc_daddr);

		d->key.prefixlen = EGRESS_KEY_HDR_BITS + 32;
		d->key.family = EGRESS_FAM_V4;
		__builtin_memcpy(d->key.addr, &ip, 4);
		return false;
	}
	BPF_CORE_READ_INTO(&w, skc, skc_v6_daddr.in6_u.u6_addr32);
	if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff)) {
		d->key.prefixlen = EGRESS_KEY_HDR_BITS + 32;
		d->key.family = EGRESS_FAM_V4;
		__builtin_memcpy(d->key.addr, &w[3], 4);
		return false;
	}
	d->key.prefixlen = EGRESS_KEY_HDR_BITS + 128;
	d->key.family = EGRESS_FAM_V6;
	__builtin_memcpy(d->key.addr, w, 16);
	h0 = bpf_ntohl(w[0]);
	if ((w[0] == 0 && w[1] == 0 && w[2] == 0 && bpf_ntohl(w[3]) > 1) ||
	    (w[0] == bpf_htonl(0x0064ff9b) && w[1] == 0 && w[2] == 0)) {
		v4 = w[3];
		embeds = true;
	} else if ((h0 >> 16) == 0x2002) {
		v4 = bpf_htonl((h0 << 16) | (bpf_ntohl(w[1]) >> 16));
		embeds = true;
	}
	if (!embeds)
		return false;
	if (v4 == 0)	/* as dest_v4: 0.0.0.0 goes to the local host */
		v4 = bpf_htonl(0x7f000001);
	d4->key.prefixlen = EGRESS_KEY_HDR_BITS + 32;
	d4->key.family = EGRESS_FAM_V4;
	__builtin_memcpy(d4->key.addr, &v4, 4);
	d4->port = d->port;
	return true;
}

/*
 * One policy's verdict for d: the first matching slot of the longest
 * matching entry, host tables first.  The same decision as verdict() in
 * bpf/egress.bpf.c, duplicated on purpose while that file is being
 * changed by other work (a shared bpf/decide.bpf.h is the next step):
 * any change to the lookup there must be made here too.  A global
 * function, so the verifier checks it once, not once per bound level;
 * *rule gets the deciding slot (zeroed: the default or no entry).
 */
__noinline int policy_allows(__u32 policy, const struct dest *d, struct egress_slot *rule)
{
	struct egress_entry *e;
	void *trie;
	__u32 i;

	if (!d || !rule)
		return 0;
	__builtin_memset(rule, 0, sizeof(*rule));
	rule->flags = EGRESS_SLOT_DEFAULT;
	if (!policy)
		return 0;	/* bound, not configured: denies everything */
	trie = bpf_map_lookup_elem(&egress_policies, &policy);
	if (!trie)
		return 0;
	e = bpf_map_lookup_elem(trie, &d->key);
	if (!e)
		return 0;
	if (e->flags & EGRESS_POL_AUDIT)
		return 1;	/* audit mode never denies: nothing to cut (policy-wide flag) */
	if (e->eflags & EGRESS_ENT_HOSTS) {
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
	for (i = 0; i < EGRESS_SLOTS; i++) {
		const struct egress_slot *s = &e->slot[i];

		if (i >= e->nslots)
			break;
		if (s->proto && s->proto != d->proto)
			continue;
		if (d->port < s->port_lo || d->port > s->port_hi)
			continue;
		*rule = *s;
		return s->action == EGRESS_ALLOW;
	}
	return 0;
}

/* The cut connection, counted as a denial of its policy under hook revoke. */
static __always_inline void emit(const struct dest *d, __u64 cgid, __u64 bound, __u32 policy,
				 const struct egress_slot *rule, __u32 uid)
{
	__u32 idx = policy * EGRESS_HOOK_MAX + EGRESS_HOOK_REVOKE;
	struct egress_counter *c = bpf_map_lookup_elem(&egress_counters, &idx);
	struct egress_event *e;

	if (c)
		__sync_fetch_and_add(&c->denied, 1);
	e = bpf_ringbuf_reserve(&egress_events, sizeof(*e), 0);
	if (!e) {
		if (c)
			__sync_fetch_and_add(&c->dropped, 1);
		stat_inc(EGRESS_STAT_RB_DROPS);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = cgid;
	e->bound_cgroup_id = bound;
	e->uid = uid;		/* the socket's owner; no process is current here */
	e->policy = policy;
	e->err = ECONNABORTED_;
	e->dport = d->port;
	e->hook = EGRESS_HOOK_REVOKE;
	e->family = d->key.family;
	e->proto = d->proto;
	__builtin_memcpy(e->addr, d->key.addr, sizeof(e->addr));
	if (!(rule->flags & EGRESS_SLOT_DEFAULT)) {
		e->rule_plen = rule->plen;
		e->rule_proto = rule->proto;
		e->rule_port_lo = rule->port_lo;
		e->rule_port_hi = rule->port_hi;
	} else {
		e->rule_plen = EGRESS_RULE_DEFAULT;
	}
	bpf_ringbuf_submit(e, 0);
}

SEC("iter/tcp")
int revoke_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct egress_slot rule;
	struct revoke_path *p;
	struct tcp_sock *tp;
	struct dest d = {}, d4 = {};
	bool embeds;
	struct sock *sk;
	__u64 cgid;
	__u32 i;
	int state;

	if (!skc)
		return 0;
	/* full sockets only: time-wait sockets carry no data, requests are not sockets yet */
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	sk = (struct sock *)tp;
	state = BPF_CORE_READ(skc, skc_state);
	if (state == TCP_LISTEN_ || state == TCP_CLOSE_)
		return 0;
	cgid = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	p = bpf_map_lookup_elem(&revoke_cgroups, &cgid);
	if (!p)
		return 0;
	embeds = peer_dest(skc, &d, &d4);
	d.proto = IPPROTO_TCP;
	d4.proto = IPPROTO_TCP;
	__sync_fetch_and_add(&checked, 1);
	for (i = 0; i < REVOKE_DEPTH; i++) {
		const struct dest *denied = &d;

		if (i >= p->n)
			break;
		if (policy_allows(p->policy[i], &d, &rule)) {
			if (!embeds || policy_allows(p->policy[i], &d4, &rule))
				continue;
			denied = &d4;	/* the event names what denied, as egress.bpf.c's */
		}
		/* every bound level must allow: the first that denies decides */
		if (bpf_sock_destroy(skc)) {
			__sync_fetch_and_add(&failed, 1);
			return 0;
		}
		__sync_fetch_and_add(&revoked, 1);
		emit(denied, cgid, p->bound[i], p->policy[i], &rule, ctx->uid);
		return 0;
	}
	return 0;
}

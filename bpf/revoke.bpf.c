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
 * egress_stats are egressd's pinned maps, reused by fd before load; they
 * and the lookup are bpf/policy.bpf.h's, shared with bpf/egress.bpf.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "consts.h"
#include "egress.h"
#include "policy.bpf.h"
#include "revoke.h"


char LICENSE[] SEC("license") = "Dual BSD/GPL";

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

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

/*
 * The peer as the kernel decided it at connect, as egress.bpf.c's connect
 * program reads a destination (dest_v4, dest_v6): v4-mapped IPv6 is IPv4,
 * and an IPv6 peer that embeds an IPv4 address (IPv4-compatible, NAT64
 * 64:ff9b::/96, 6to4 2002::/16) also yields that address in *d4: both
 * must be allowed.
 */
static __always_inline bool peer_dest(struct sock_common *skc, struct dest *d, struct dest *d4)
{
	__u32 w[4];

	if (BPF_CORE_READ(skc, skc_family) == AF_INET) {
		dest_v4(d, BPF_CORE_READ(skc, skc_daddr));
	} else {
		BPF_CORE_READ_INTO(&w, skc, skc_v6_daddr.in6_u.u6_addr32);
		dest_v6(d, w[0], w[1], w[2], w[3]);
	}
	d->port = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	d->proto = IPPROTO_TCP;
	if (!d->embeds)
		return false;
	dest_embedded_v4(d4, d);
	return true;
}

/*
 * One policy's verdict for d: policy.bpf.h's lookup, as egress.bpf.c's
 * verdict().  A global function, so the verifier checks it once, not once
 * per bound level; *rule gets the deciding slot (zeroed: the default or
 * no entry).
 */
__noinline int policy_allows(__u32 policy, const struct dest *d, struct egress_slot *rule)
{
	const struct egress_slot *s;
	struct egress_entry *e;
	void *trie;

	if (!d || !rule)
		return 0;
	__builtin_memset(rule, 0, sizeof(*rule));
	rule->flags = EGRESS_SLOT_DEFAULT;
	trie = policy_trie_of(policy);
	if (!trie)
		return 0;	/* bound, not configured: denies everything */
	e = policy_entry(trie, policy, d);
	if (!e)
		return 0;
	if (e->pol_flags & EGRESS_POL_AUDIT)
		return 1;	/* audit mode never denies: nothing to cut (policy-wide flag) */
	s = entry_slot(policy, e, d, false);
	if (!s)
		return 0;
	*rule = *s;
	return s->action == EGRESS_ALLOW;
}

/* The cut connection, counted as a denial of its policy under hook revoke. */
static __always_inline void emit(const struct dest *d, __u64 cgid, __u64 bound, __u32 policy,
				 const struct egress_slot *rule, __u32 uid)
{
	struct egress_counter *c = counter(policy, EGRESS_HOOK_REVOKE);
	struct egress_event *e;

	if (c)
		__sync_fetch_and_add(&c->denied, 1);
	e = event_reserve(c);
	if (!e)
		return;
	e->cgroup_id = cgid;
	e->bound_cgroup_id = bound;
	e->uid = uid;		/* the socket's owner; no process is current here */
	e->policy = policy;
	e->err = ECONNABORTED;
	e->hook = EGRESS_HOOK_REVOKE;
	event_dest(e, d, rule, EGRESS_RULE_DEFAULT);
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
	if (state == TCP_LISTEN || state == TCP_CLOSE)
		return 0;
	cgid = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	p = bpf_map_lookup_elem(&revoke_cgroups, &cgid);
	if (!p)
		return 0;
	embeds = peer_dest(skc, &d, &d4);
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

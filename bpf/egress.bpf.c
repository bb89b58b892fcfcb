// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * egress.bpf.c - the enforcing programs of egress.
 *
 * Each program is a thin entry point over decide(): it finds the policy the
 * attachment's cgroup is bound to (cgroup storage), looks the destination up
 * in that policy's LPM trie, and returns the verdict of the first matching
 * rule slot.  Every bound cgroup on a socket's path runs its own copy of the
 * program (links are always multi), so the verdicts of all of them must
 * allow: a child narrows its parent's policy, never widens it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "egress.h"

#define EPERM		1
#define IPPROTO_MPTCP_	262

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Event rate limit per cgroup, set by egressd before load; cost 0 = unlimited. */
const volatile __u64 rate_cost_ns = 10 * 1000 * 1000;	/* 1 s / events per second */
const volatile __u64 rate_burst_ns = 200 * 10 * 1000 * 1000;	/* burst * cost */

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

/* policy id -> its trie.  Swapping an inner map replaces a policy atomically. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 257);
	__type(key, __u32);
	__array(values, struct policy_trie);
} egress_policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 257);
	__type(key, __u32);
	__type(value, struct egress_policy_info);
} egress_policy_info SEC(".maps");

/* Shared by all attach types of a cgroup (u64 key). */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, __u64);
	__type(value, struct egress_binding);
} egress_binding SEC(".maps");

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
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct egress_config);
} egress_config SEC(".maps");

/* Sized by the loader; egressd removes the entries of removed cgroups. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct egress_rate);
} egress_rate SEC(".maps");

/* Used when egress_rate is full: one bucket for all such cgroups. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct egress_rate);
} egress_rate_shared SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct egress_cg_key);
	__type(value, __u64);
} egress_cg_denied SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} egress_events SEC(".maps");

struct dest {
	struct egress_lpm_key key;
	__u16 port;
	__u8 proto;
};

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&egress_stats, &idx);

	if (v)
		(*v)++;
}

static __always_inline struct egress_counter *counter(__u32 policy, enum egress_hook hook)
{
	__u32 idx = policy * EGRESS_HOOK_MAX + hook;

	return bpf_map_lookup_elem(&egress_counters, &idx);
}

static __always_inline void count_cgroup(__u64 cgid, __u32 policy)
{
	struct egress_cg_key k = { .cgroup_id = cgid, .policy = policy };
	__u64 *v = bpf_map_lookup_elem(&egress_cg_denied, &k), one = 1;

	if (v)
		__sync_fetch_and_add(v, 1);
	else if (bpf_map_update_elem(&egress_cg_denied, &k, &one, BPF_NOEXIST) == -17 /* EEXIST */ &&
		 (v = bpf_map_lookup_elem(&egress_cg_denied, &k)))
		__sync_fetch_and_add(v, 1);
}

/* The cgroup's token bucket: true if an event may be sent (*pending: suppressed before it). */
static __always_inline bool rate_take(__u64 cgid, __u64 *pending)
{
	struct egress_rate *r, init = {};
	__u64 now = bpf_ktime_get_ns(), credit;
	__u32 zero = 0;
	bool ok;

	if (!rate_cost_ns) {
		*pending = 0;
		return true;
	}
	r = bpf_map_lookup_elem(&egress_rate, &cgid);
	if (!r) {
		init.credit_ns = rate_burst_ns;
		init.last_ns = now;
		bpf_map_update_elem(&egress_rate, &cgid, &init, BPF_NOEXIST);
		r = bpf_map_lookup_elem(&egress_rate, &cgid);
	}
	if (!r) {
		stat_inc(EGRESS_STAT_CG_FULL);
		r = bpf_map_lookup_elem(&egress_rate_shared, &zero);
		if (!r)
			return false;
	}
	bpf_spin_lock(&r->lock);
	credit = r->credit_ns + (now > r->last_ns ? now - r->last_ns : 0);
	if (credit > rate_burst_ns)
		credit = rate_burst_ns;
	r->last_ns = now;
	ok = credit >= rate_cost_ns;
	if (ok) {
		credit -= rate_cost_ns;
		*pending = r->pending;
		r->pending = 0;
	} else {
		r->pending++;
	}
	r->credit_ns = credit;
	bpf_spin_unlock(&r->lock);
	return ok;
}

/*
 * A denial: counted per policy and hook and per cgroup, then an event if
 * the cgroup's rate limit and the ring buffer allow.  Exactly one of
 * delivered, suppressed and dropped happens to each denial.
 */
static __always_inline void deny(const struct dest *d, const struct egress_binding *b,
				 enum egress_hook hook, const struct egress_slot *rule, __s32 err)
{
	struct egress_counter *c = counter(b->policy, hook);
	__u64 cgid = bpf_get_current_cgroup_id(), pending, id;
	struct egress_event *e;

	if (c)
		__sync_fetch_and_add(&c->denied, 1);
	count_cgroup(cgid, b->policy);
	if (!rate_take(cgid, &pending)) {
		if (c)
			__sync_fetch_and_add(&c->suppressed, 1);
		stat_inc(EGRESS_STAT_SUPPRESSED);
		return;
	}
	e = bpf_ringbuf_reserve(&egress_events, sizeof(*e), 0);
	if (!e) {
		if (c)
			__sync_fetch_and_add(&c->dropped, 1);
		stat_inc(EGRESS_STAT_RB_DROPS);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	id = bpf_get_current_pid_tgid();
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = cgid;
	e->bound_cgroup_id = b->cgroup_id;
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->policy = b->policy;
	e->err = err;
	e->suppressed = pending > 0xffffffff ? 0xffffffff : pending;
	e->dport = d->port;
	e->hook = hook;
	e->family = d->key.family;
	e->proto = d->proto;
	__builtin_memcpy(e->addr, d->key.addr, sizeof(e->addr));
	if (rule && !(rule->flags & EGRESS_SLOT_DEFAULT)) {
		e->rule_plen = rule->plen;
		e->rule_proto = rule->proto;
		e->rule_port_lo = rule->port_lo;
		e->rule_port_hi = rule->port_hi;
	} else {
		e->rule_plen = EGRESS_RULE_DEFAULT;
	}
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
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

static __always_inline void dest_v6(struct dest *d, struct bpf_sock_addr *ctx)
{
	__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1];
	__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];

	if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff)) {
		dest_v4(d, w3);	/* ::ffff:a.b.c.d is a.b.c.d */
		return;
	}
	if ((w0 | w1 | w2 | w3) == 0)	/* :: goes to ::1 */
		w3 = bpf_htonl(1);
	d->key.prefixlen = EGRESS_KEY_HDR_BITS + 128;
	d->key.family = EGRESS_FAM_V6;
	__builtin_memcpy(d->key.addr, &w0, 4);
	__builtin_memcpy(d->key.addr + 4, &w1, 4);
	__builtin_memcpy(d->key.addr + 8, &w2, 4);
	__builtin_memcpy(d->key.addr + 12, &w3, 4);
}

static __always_inline int decide(struct bpf_sock_addr *ctx, enum egress_hook hook, bool v6)
{
	const struct egress_slot *rule = NULL;
	struct egress_binding *b;
	struct egress_entry *e;
	struct dest d = {};
	__u32 policy, proto, i;
	void *trie;
	int allow = 0;

	b = bpf_get_local_storage(&egress_binding, 0);
	policy = b->policy;

	if (v6)
		dest_v6(&d, ctx);
	else
		dest_v4(&d, ctx->user_ip4);
	d.port = bpf_ntohs((__u16)ctx->user_port);
	proto = ctx->protocol;
	if (proto == IPPROTO_MPTCP_)
		proto = IPPROTO_TCP;
	d.proto = proto;

	trie = policy ? bpf_map_lookup_elem(&egress_policies, &policy) : NULL;
	if (!trie) {
		/* attached but not (or no longer) bound to a policy: fail closed */
		stat_inc(EGRESS_STAT_UNCONFIGURED);
		goto deny;
	}
	e = bpf_map_lookup_elem(trie, &d.key);
	if (!e)
		goto deny;	/* every trie has /0 roots: a miss is corruption */

	for (i = 0; i < EGRESS_SLOTS; i++) {
		const struct egress_slot *s = &e->slot[i];

		if (i >= e->nslots)
			break;
		if (s->proto && s->proto != proto)
			continue;
		if (d.port < s->port_lo || d.port > s->port_hi)
			continue;
		rule = s;
		allow = s->action == EGRESS_ALLOW;
		break;
	}
	if (allow) {
		struct egress_counter *c = counter(policy, hook);

		if (c)
			c->allowed++;	/* per-CPU: no other writer */
		return 1;
	}
	if (e->err && e->err != EPERM) {
		bpf_set_retval(-(int)e->err);
		deny(&d, b, hook, rule, e->err);
	} else {
		deny(&d, b, hook, rule, EPERM);
	}
	return 0;
deny:
	deny(&d, b, hook, NULL, EPERM);
	return 0;
}

SEC("cgroup/connect4")
int egress_connect4(struct bpf_sock_addr *ctx)
{
	return decide(ctx, EGRESS_HOOK_CONNECT4, false);
}

SEC("cgroup/connect6")
int egress_connect6(struct bpf_sock_addr *ctx)
{
	return decide(ctx, EGRESS_HOOK_CONNECT6, true);
}

/*
 * A sendmsg with no address (user_family 0) reaches here only on a
 * connected socket that also passed control messages: its destination is
 * the connected one, which the connect program already decided.
 */
SEC("cgroup/sendmsg4")
int egress_sendmsg4(struct bpf_sock_addr *ctx)
{
	if (ctx->user_family == 0)
		return 1;
	return decide(ctx, EGRESS_HOOK_SENDMSG4, false);
}

SEC("cgroup/sendmsg6")
int egress_sendmsg6(struct bpf_sock_addr *ctx)
{
	if (ctx->user_family == 0)
		return 1;
	return decide(ctx, EGRESS_HOOK_SENDMSG6, true);
}

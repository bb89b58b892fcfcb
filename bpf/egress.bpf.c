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
#include "consts.h"
#include "egress.h"
#include "policy.bpf.h"
#include "hits.bpf.h"
#include "packet.bpf.h"


char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The entry points, with their section names, from the hook table (include/egress_hooks.h). */
#define HOOK_PROG_(N, num, name, type, prog, sec, ctx) SEC(sec) int prog(ctx *);
EGRESS_HOOK_TABLE(HOOK_PROG_)
#undef HOOK_PROG_

/* Event rate limit per bound cgroup, set by egressd before load; cost 0 = unlimited. */
const volatile __u64 rate_cost_ns = 10 * 1000 * 1000;	/* 1 s / events per second */
const volatile __u64 rate_burst_ns = 200 * 10 * 1000 * 1000;	/* burst * cost */
/* Per-rule hit counters; false only for make bench's arm without them (EGRESS_NO_RULE_HITS). */
const volatile bool count_rule_hits = true;

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

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct egress_config);
} egress_config SEC(".maps");

/*
 * Keyed by the bound cgroup (the sandbox), never by the task's cgroup: a
 * sandbox has one budget, whatever it creates below.  Sized by the loader;
 * egressd removes the entries of removed cgroups.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct egress_rate);
} egress_rate SEC(".maps");

/* Used when egress_rate is full (more bound cgroups than it holds). */
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

/* First fragments allowed, per bound cgroup (see egress.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct egress_frag_key);
	__type(value, __u8);
} egress_frags SEC(".maps");

/* container id -> cgroup id, for the OCI poststop hook; no program reads it */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct egress_oci_key);
	__type(value, __u64);
} egress_oci SEC(".maps");

/* Distinct denied destinations per cgroup, for egressctl advise; sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct egress_seen_key);
	__type(value, struct egress_seen);
} egress_seen SEC(".maps");

/* The policy epoch, bumped by user/state.c after every change (egress.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} egress_epoch SEC(".maps");

/* sendmsg's last allowed UDP datagram per bound level, per CPU (egress.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct egress_cache);
} egress_cache SEC(".maps");


/*
 * A packet one bound cgroup's backstop (or ingress program) denied:
 * programs of enclosing bound cgroups run after it on the same packet and
 * count it without a second event.  The packet is dropped, so nobody else
 * sees the mark.
 */
#define EGRESS_SKB_DENIED	0x65677265	/* "egre" */

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
 * A denial (or an audited decision) as the deciding program saw it: what
 * egress_denial() needs, copied, so that it is one self-contained argument.
 */
struct denial {
	struct dest d;
	struct egress_slot rule;	/* the deciding slot; flags EGRESS_SLOT_DEFAULT: none */
	__u64 cgid;			/* the task's (the socket's) cgroup, for the event */
	__u64 bound_cgroup_id;
	__u32 policy;
	__s32 err;
	__u8 hook;
	__u8 reason;			/* rule_plen when no CIDR rule decided */
	__u8 emit;
	__u8 audit;
	__u32 detail;			/* the event's detail (egress.h) */
};

/*
 * Records the destination of a denial (or an audited decision) in
 * egress_seen, before any rate limit: one entry per cgroup, binding,
 * destination, process name and verdict, counted.
 */
static __always_inline void seen_record(const struct denial *x)
{
	struct egress_seen_key k = {};
	struct egress_seen *v, init = {};
	__u64 now = bpf_ktime_get_boot_ns();

	k.bound_cgroup_id = x->bound_cgroup_id;
	k.cgroup_id = x->cgid;
	k.policy = x->policy;
	k.port = x->d.port;
	k.family = x->d.key.family;
	k.proto = x->d.proto;
	k.hook = x->hook;
	k.verdict = x->audit ? EGRESS_VERDICT_AUDIT : EGRESS_VERDICT_DENY;
	__builtin_memcpy(k.addr, x->d.key.addr, sizeof(k.addr));
	bpf_get_current_comm(k.comm, sizeof(k.comm));
	v = bpf_map_lookup_elem(&egress_seen, &k);
	if (!v) {
		init.first_ns = now;
		bpf_map_update_elem(&egress_seen, &k, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&egress_seen, &k);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->count, 1);
	v->last_ns = now;
}

/*
 * A denial (or an audited decision), counted: per policy and hook, per
 * bound cgroup, and its destination in egress_seen.  audit: counted as
 * audited, not denied, nor per bound cgroup.  Returns the policy and
 * hook's counters, for denial_emit().
 */
static __always_inline struct egress_counter *denial_count(const struct denial *x)
{
	struct egress_counter *c = counter(x->policy, x->hook);

	seen_record(x);
	if (c && x->audit)
		__sync_fetch_and_add(&c->audited, 1);
	else if (c)
		__sync_fetch_and_add(&c->denied, 1);
	if (!x->audit)
		count_cgroup(x->bound_cgroup_id, x->policy);
	return c;
}

/*
 * A counted denial's event, if the bound cgroup's rate limit and the ring
 * buffer allow.  Exactly one of delivered, suppressed, dropped and nested
 * happens to each denial: emit is false when an inner bound cgroup's
 * program already denied the same attempt (and emitted its event).
 * rule_plen is the deciding slot's prefix, or an EGRESS_RULE_* reason.
 * An audited decision is sent with verdict audit; err is the errno
 * enforce mode would return.
 */
static __always_inline void denial_emit(const struct denial *x, struct egress_counter *c)
{
	struct egress_event *e;
	__u64 pending, id;

	if (!x->emit) {
		stat_inc(EGRESS_STAT_NESTED);
		return;
	}
	if (!rate_take(x->bound_cgroup_id, &pending)) {
		if (c)
			__sync_fetch_and_add(&c->suppressed, 1);
		stat_inc(EGRESS_STAT_SUPPRESSED);
		return;
	}
	e = event_reserve(c);
	if (!e)
		return;
	id = bpf_get_current_pid_tgid();
	e->cgroup_id = x->cgid;
	e->bound_cgroup_id = x->bound_cgroup_id;
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->policy = x->policy;
	e->err = x->err;
	e->suppressed = pending > 0xffffffff ? 0xffffffff : pending;
	e->hook = x->hook;
	event_dest(e, &x->d, &x->rule, x->reason);
	e->detail.raw = x->detail;
	e->verdict = x->audit ? EGRESS_VERDICT_AUDIT : EGRESS_VERDICT_DENY;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

/*
 * A denial: counted, then emitted.  audit: the policy is in audit mode,
 * the caller allows.  An audit level leaves no trace for the levels after
 * it (no retval, no skb mark): an outer enforcing level still sends its
 * deny event.
 *
 * A global function: the verifier checks it once, not once per deciding
 * path and mode of every program (audit doubled those paths).
 */
__noinline int egress_denial(const struct denial *x)
{
	if (!x)
		return 0;
	denial_emit(x, denial_count(x));
	return 0;
}

/*
 * The entry points' side of egress_denial(): rule NULL, no deciding slot
 * (reason says why); detail, the event's (0: none).
 */
static __always_inline void deny(const struct dest *d, const struct egress_binding *b,
				 enum egress_hook hook, const struct egress_slot *rule, __u8 reason,
				 __u32 detail, __s32 err, __u64 cgid, bool emit, bool audit)
{
	struct denial x;

	__builtin_memset(&x, 0, sizeof(x));
	x.d = *d;
	if (rule)
		x.rule = *rule;
	else
		x.rule.flags = EGRESS_SLOT_DEFAULT;
	x.cgid = cgid;
	x.bound_cgroup_id = b->cgroup_id;
	x.policy = b->policy;
	x.err = err;
	x.detail = detail;
	x.hook = hook;
	x.reason = reason;
	x.emit = emit;
	x.audit = audit;
	egress_denial(&x);
}

/* What a program returns for a denial: audit mode allows. */
static __always_inline int deny_verdict(bool audit)
{
	return audit ? VERDICT_ALLOW : VERDICT_DENY;
}

/* MPTCP is decided as TCP, UDP-Lite as UDP: rules name tcp or udp. */
static __always_inline __u8 rule_proto(__u32 proto)
{
	if (proto == IPPROTO_MPTCP)
		return IPPROTO_TCP;
	if (proto == IPPROTO_UDPLITE)
		return IPPROTO_UDP;
	return proto;
}

static __always_inline void *policy_trie(const struct egress_binding *b)
{
	return policy_trie_of(b->policy);
}

static __always_inline void rule_hit(const struct egress_entry *e, const struct egress_slot *s)
{
	struct egress_hits *h;
	__u32 id = s->id;

	if (!count_rule_hits)
		return;
	h = bpf_map_lookup_elem(&egress_rule_hits, &id);
	if (!h)
		return;
	if (s->action == EGRESS_ALLOW)
		h->allowed++;
	else if (e->pol_flags & EGRESS_POL_AUDIT)
		h->audited++;
	else
		h->denied++;
}

/*
 * An allowed decision taken from the decision cache: its rule counts as a
 * lookup's would.  (Not folded into rule_hit() through a shared lookup
 * helper: clang then emits ~20 more instructions in every program.)
 */
static __always_inline void rule_hit_cached(__u32 id)
{
	struct egress_hits *h;

	if (!count_rule_hits)
		return;
	h = bpf_map_lookup_elem(&egress_rule_hits, &id);
	if (h)
		h->allowed++;
}

/*
 * The policy's verdict for d: the first matching slot of the longest
 * matching entry.  any_port: the port is unknown (a non-first IP
 * fragment), any port range matches.  NULL *entry: fail closed.  A
 * policy whose maps cannot decide d (no entry: every trie has /0 roots;
 * no slot: a slot list missing or of another generation) denies, counted,
 * and *reason (the event's, EGRESS_RULE_DEFAULT until then) says so.
 */
static __always_inline bool verdict(void *trie, __u32 policy, const struct dest *d, bool any_port,
				    const struct egress_slot **rule, struct egress_entry **entry,
				    __u8 *reason)
{
	const struct egress_slot *s = NULL;
	struct egress_entry *e;

	*rule = NULL;
	*entry = NULL;
	if (!trie) {
		/* attached but not (or no longer) bound to a policy: fail closed */
		stat_inc(EGRESS_STAT_UNCONFIGURED);
		return false;
	}
	e = policy_entry(trie, policy, d);
	if (e)
		s = entry_slot(policy, e, d, any_port);
	*entry = e;
	if (!e || !s) {
		stat_inc(EGRESS_STAT_BROKEN);
		*reason = EGRESS_RULE_BROKEN;
		return false;
	}
	*rule = s;
	rule_hit(e, s);
	return s->action == EGRESS_ALLOW;
}

/*
 * The verdict for d and, when its IPv6 address embeds an IPv4 one, for
 * that IPv4 address too: both must allow.  When the IPv4 verdict denies, d
 * becomes the IPv4 destination, so that the event names what denied.
 */
static __always_inline bool verdict_all(void *trie, __u32 policy, struct dest *d, bool any_port,
					const struct egress_slot **rule, struct egress_entry **entry,
					__u8 *reason)
{
	struct dest d4 = {};

	if (!verdict(trie, policy, d, any_port, rule, entry, reason))
		return false;
	if (!d->embeds)
		return true;
	dest_embedded_v4(&d4, d);
	if (verdict(trie, policy, &d4, any_port, rule, entry, reason))
		return true;
	*d = d4;
	return false;
}

static __always_inline __s32 deny_errno(const struct egress_entry *e)
{
	return e && e->err ? e->err : EPERM;
}

static __always_inline __u64 *epoch_ptr(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&egress_epoch, &zero);
}

static __always_inline struct egress_cache_slot *cache_slot(const struct egress_binding *b)
{
	__u32 zero = 0;
	struct egress_cache *c = bpf_map_lookup_elem(&egress_cache, &zero);

	return c ? &c->slot[b->cgroup_id & (EGRESS_CACHE_SLOTS - 1)] : NULL;
}

/*
 * sendmsg allowed a UDP datagram to d, or connect a TCP connection, under
 * epoch, by the rule whose hit id is rule_id: the same hooks of this level
 * may take the decision for d from the slot, and this level's backstop may
 * skip its lookup for the datagram of this socket (cookie), or for the SYN
 * of a plain TCP socket (cookie 0: connect keeps none, cached()).
 * seq is odd while the slot is written: a reader that preempted or
 * interrupted the write on this CPU misses.  The writer claims the slot
 * by a compare-and-swap from the even value it read: a writer preempted
 * between its read and its claim (a preemptible kernel) finds seq moved
 * on and gives up, so seq only ever grows and a reader never meets a
 * value it saw before over other contents.
 */
static __always_inline void cache_put(const struct egress_binding *b, const struct dest *d,
				      __u64 epoch, __u64 cookie, __u32 rule_id)
{
	struct egress_cache_slot *s = cache_slot(b);
	__u64 seq;

	if (!s)
		return;
	seq = *(volatile __u64 *)&s->seq;
	if ((seq & 1) || __sync_val_compare_and_swap(&s->seq, seq, seq + 1) != seq)
		return;
	s->epoch = epoch;
	s->bound_cgroup_id = b->cgroup_id;
	s->cookie = cookie;
	s->policy = b->policy;
	s->port = d->port;
	s->family = d->key.family;
	s->proto = d->proto;
	__builtin_memcpy(s->addr, d->key.addr, 16);
	s->rule_id = rule_id;
	asm volatile("" ::: "memory");
	*(volatile __u64 *)&s->seq = seq + 2;
}

/*
 * This level allowed d (protocol, port) under epoch: the slot says so, and
 * was not being written when read.  Without rule_id (the backstop), only
 * for the socket of cookie (0: a TCP slot, for the plain TCP socket the
 * backstop checked).  With it (connect, sendmsg: the decision does not
 * depend on the socket), for any socket: *rule_id is the deciding rule's
 * hit id and *same_sock whether the slot holds this cookie.
 */
static __always_inline bool cache_hit(const struct egress_binding *b, const struct dest *d,
				      __u64 epoch, __u64 cookie, __u32 *rule_id, bool *same_sock)
{
	struct egress_cache_slot *s = cache_slot(b);
	__u32 a[4], w[4], id;
	__u64 seq, sc;

	if (!s)
		return false;
	seq = s->seq;
	if (seq & 1)
		return false;
	asm volatile("" ::: "memory");
	if (s->bound_cgroup_id != b->cgroup_id || s->policy != b->policy || s->epoch != epoch ||
	    s->port != d->port || s->family != d->key.family || s->proto != d->proto)
		return false;
	sc = s->cookie;
	if (!rule_id && sc != cookie)
		return false;
	__builtin_memcpy(a, s->addr, 16);
	__builtin_memcpy(w, d->key.addr, 16);
	if (a[0] != w[0] || a[1] != w[1] || a[2] != w[2] || a[3] != w[3])
		return false;
	id = s->rule_id;
	asm volatile("" ::: "memory");
	if (s->seq != seq)
		return false;
	if (rule_id)
		*rule_id = id;
	if (same_sock)
		*same_sock = sc == cookie;
	return true;
}

/*
 * connect and sendmsg: the destination the caller gave.  An earlier
 * program (an inner bound cgroup's) that denied left a negative retval:
 * this one counts its own denial but emits no second event.
 */
static __always_inline int decide(struct bpf_sock_addr *ctx, enum egress_hook hook, bool v6)
{
	const struct egress_slot *rule;
	struct egress_binding *b;
	struct egress_entry *e;
	__u64 *ep = NULL, epoch = 0, cookie = 0;
	struct dest d = {};
	bool first, hit, audit, send, same_sock = false;
	__u8 reason = EGRESS_RULE_DEFAULT;
	__u32 rule_id = 0;
	__s32 err;

	b = bpf_get_local_storage(&egress_binding, 0);
	if (v6)
		dest_v6(&d, ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]);
	else
		dest_v4(&d, ctx->user_ip4);
	d.port = bpf_ntohs((__u16)ctx->user_port);
	d.proto = rule_proto(ctx->protocol);
	/*
	 * A plain UDP datagram's decision, or a plain TCP socket's connect, is
	 * cached, under the epoch read before the lookup: the backstop skips
	 * the datagram's lookup (its socket's: the cookie) or the SYN's (any
	 * plain TCP socket's of this level: a connect's slot keeps no cookie,
	 * so a connect from the slot writes nothing).  An odd epoch: a writer
	 * is changing a policy (or was killed doing so), nothing is taken from
	 * the cache or put in it until it is even again; slots only ever hold
	 * even epochs.
	 */
	send = hook == EGRESS_HOOK_SENDMSG4 || hook == EGRESS_HOOK_SENDMSG6;
	if (send ? ctx->type == SOCK_DGRAM && ctx->protocol == IPPROTO_UDP
		 : ctx->type == SOCK_STREAM && ctx->protocol == IPPROTO_TCP) {
		ep = epoch_ptr();
		if (ep) {
			epoch = *(volatile __u64 *)ep;
			if (epoch & 1)
				ep = NULL;	/* no cookie needed: nothing cached */
			else if (send)
				cookie = bpf_get_socket_cookie(ctx);
		}
	}

	/*
	 * This level allowed the same destination just before (any socket,
	 * the same epoch): decided already, its rule counted again.  Not for
	 * an IPv6 address that embeds an IPv4 one: that decision is two
	 * lookups, each counting its own rule.
	 */
	hit = ep && !d.embeds && cache_hit(b, &d, epoch, cookie, &rule_id, &same_sock);
	if (hit)
		rule_hit_cached(rule_id);
	if (hit || verdict_all(policy_trie(b), b->policy, &d, false, &rule, &e, &reason)) {
		struct egress_counter *c = counter(b->policy, hook);

		if (c)
			c->allowed++;	/* per-CPU, and sock_addr programs do not nest */
		/*
		 * for the backstop: this socket's datagram, or the SYN of any
		 * plain TCP socket (a TCP decision taken from the slot leaves it
		 * as it is: same_sock, both cookies 0)
		 */
		if (ep && !(hit && same_sock))
			cache_put(b, &d, epoch, cookie, hit ? rule_id : rule ? rule->id : 0);
		return VERDICT_ALLOW;
	}
	first = bpf_get_retval() >= 0;
	err = deny_errno(e);
	audit = e && (e->pol_flags & EGRESS_POL_AUDIT);
	if (err != EPERM && !audit)
		bpf_set_retval(-err);	/* the outermost non-EPERM errno wins (README) */
	deny(&d, b, hook, rule, reason, 0, err, bpf_get_current_cgroup_id(), first, audit);
	return deny_verdict(audit);
}

int egress_connect4(struct bpf_sock_addr *ctx)
{
	return decide(ctx, EGRESS_HOOK_CONNECT4, false);
}

int egress_connect6(struct bpf_sock_addr *ctx)
{
	return decide(ctx, EGRESS_HOOK_CONNECT6, true);
}

/*
 * A sendmsg with no msg_name at all reaches here only on a connected
 * socket that also passed control messages (a source route): the kernel
 * hands the program a zeroed address, user_family 0 and port 0.  Its
 * destination is the connected peer; the backstop decides the first hop.
 * A msg_name with sin_family AF_UNSPEC is something else: udp_sendmsg
 * sends to its address as AF_INET (port 0 is refused before this
 * program), so it is decided here like any other.  (udpv6_sendmsg turns
 * an AF_UNSPEC msg_name into no msg_name, before this program.)
 */
static __always_inline bool no_msg_name(struct bpf_sock_addr *ctx)
{
	return ctx->user_family == 0 && ctx->user_port == 0;
}

int egress_sendmsg4(struct bpf_sock_addr *ctx)
{
	if (no_msg_name(ctx))
		return VERDICT_ALLOW;
	return decide(ctx, EGRESS_HOOK_SENDMSG4, false);
}

int egress_sendmsg6(struct bpf_sock_addr *ctx)
{
	if (no_msg_name(ctx))
		return VERDICT_ALLOW;
	return decide(ctx, EGRESS_HOOK_SENDMSG6, true);
}

/* The policy's root entry: its default verdict and flags. */
static __always_inline struct egress_entry *policy_root(void *trie)
{
	struct egress_lpm_key k = { .prefixlen = EGRESS_KEY_HDR_BITS, .family = EGRESS_FAM_V4 };

	return trie ? bpf_map_lookup_elem(trie, &k) : NULL;
}

/*
 * Audit mode, from the deciding entry (policy-wide flags), or when none
 * decided (a later fragment, a packet that cannot be parsed) from the
 * policy's root: only denials pay that lookup.  No policy: enforce.
 */
static __always_inline bool audit_mode(void *trie, const struct egress_entry *e)
{
	if (!e)
		e = policy_root(trie);
	return e && (e->pol_flags & EGRESS_POL_AUDIT);
}


/*
 * Under a deny-default policy only TCP, UDP and MPTCP sockets (and ICMP
 * ping sockets if the policy says so) can be created: raw, UDP-Lite, SCTP
 * and the rest have no connect or sendmsg hook that could decide them.
 */
int egress_sock_create(struct bpf_sock *sk)
{
	struct egress_binding *b = bpf_get_local_storage(&egress_binding, 0);
	struct egress_entry *root = policy_root(policy_trie(b));
	__u32 type = sk->type, proto = sk->protocol, family = sk->family;
	struct dest d = {};
	bool audit;

	if (root && root->dflt == EGRESS_ALLOW)
		return VERDICT_ALLOW;	/* the backstop still decides every packet */
	if (root) {
		if (type == SOCK_STREAM && (proto == IPPROTO_TCP || proto == IPPROTO_MPTCP))
			return VERDICT_ALLOW;
		if (type == SOCK_DGRAM && proto == IPPROTO_UDP)
			return VERDICT_ALLOW;
		if (type == SOCK_DGRAM && (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) &&
		    (root->pol_flags & EGRESS_POL_PING))
			return VERDICT_ALLOW;
	}
	d.key.family = family == AF_INET6 ? EGRESS_FAM_V6 : EGRESS_FAM_V4;
	d.proto = proto;
	audit = root && (root->pol_flags & EGRESS_POL_AUDIT);
	deny(&d, b, EGRESS_HOOK_SOCK_CREATE, NULL, EGRESS_RULE_SOCKET, 0, EPERM,
	     bpf_get_current_cgroup_id(), bpf_get_retval() >= 0, audit);
	return deny_verdict(audit);
}

#define IPOPT_MAX_LEN		40

/* An IPv4 option list with loose or strict source routing. */
/* Scratch space for the option list (too large for indexed stack reads). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[64]);
} egress_scratch SEC(".maps");

/*
 * Options are type-length-value except END and NOOP.  Every position is
 * visited in order and only the one where the next option starts counts:
 * a walk with fixed indices, which the verifier follows easily.
 */
static __always_inline bool has_source_route(struct bpf_sockopt *ctx)
{
	__u8 *p = ctx->optval, *end = ctx->optval_end, *opt;
	__u32 next = 0, zero = 0, i;

	opt = bpf_map_lookup_elem(&egress_scratch, &zero);
	if (!opt)
		return true;	/* cannot look: refuse */
	for (i = 0; i < 64; i++)
		opt[i] = IPOPT_END;
	for (i = 0; i < IPOPT_MAX_LEN; i++) {
		if (p + i + 1 > end)
			break;
		opt[i] = p[i];
	}
	for (i = 0; i < IPOPT_MAX_LEN; i++) {
		__u8 type = opt[i];

		if (i != next)
			continue;
		if (type == IPOPT_END)
			return false;
		if (type == IPOPT_LSRR || type == IPOPT_SSRR)
			return true;
		if (type == IPOPT_NOOP) {
			next = i + 1;
			continue;
		}
		if (opt[i + 1] < 2)
			return false;	/* malformed: the kernel refuses it */
		next = i + opt[i + 1];
	}
	return false;
}

/* The event's detail.sockopt (egress.h): level, then optname, in memory order. */
static __always_inline __u32 sockopt_detail(__u16 level, __u16 optname)
{
	union { struct { __u16 level, optname; } o; __u32 raw; } u = { .o = { level, optname } };

	return u.raw;
}

/*
 * Source routing sends a packet first to an address the connect and
 * sendmsg programs never saw: IPv6 routing headers (type 4 segment routing
 * is open to unprivileged users) and IPv4 LSRR/SSRR options are refused.
 */
int egress_setsockopt(struct bpf_sockopt *ctx)
{
	struct egress_binding *b;
	bool refuse = false, audit;
	struct dest d = {};

	if (ctx->level == SOL_IPV6)
		refuse = ctx->optname == IPV6_RTHDR || ctx->optname == IPV6_2292RTHDR ||
			 ctx->optname == IPV6_2292PKTOPTIONS;
	else if (ctx->level == SOL_IP && ctx->optname == IP_OPTIONS)
		refuse = has_source_route(ctx);
	if (!refuse)
		return VERDICT_ALLOW;
	b = bpf_get_local_storage(&egress_binding, 0);
	d.key.family = ctx->level == SOL_IPV6 ? EGRESS_FAM_V6 : EGRESS_FAM_V4;
	audit = audit_mode(policy_trie(b), NULL);
	deny(&d, b, EGRESS_HOOK_SETSOCKOPT, NULL, EGRESS_RULE_SOCKOPT,
	     sockopt_detail(ctx->level, ctx->optname), EPERM, bpf_get_current_cgroup_id(),
	     bpf_get_retval() >= 0, audit);
	return deny_verdict(audit);
}

/* The key of a fragment's datagram at this bound level, in egress_frags (p->frag only). */
static __always_inline void frag_key(struct egress_frag_key *k, const struct egress_binding *b,
				     const struct pkt *p)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->bound_cgroup_id = b->cgroup_id;
	k->family = p->dst.key.family;
	k->id = p->frag_id;
	__builtin_memcpy(k->src, p->src.key.addr, 16);
	__builtin_memcpy(k->dst, p->dst.key.addr, 16);
	/*
	 * The header the fragment header names, the same in the first and the
	 * later fragments: an IPv6 first fragment's walk goes on past it (a
	 * destination options header) to the real protocol, a later one's
	 * cannot.
	 */
	k->proto = p->frag_proto;
}

/* A later fragment (no ports): this level allowed its datagram's first fragment. */
static __always_inline bool frag_seen(const struct egress_binding *b, const struct pkt *p)
{
	struct egress_frag_key k;

	frag_key(&k, b, p);
	return bpf_map_lookup_elem(&egress_frags, &k) != NULL;	/* never seen: deny */
}

/*
 * The TCP fast path: a packet of an established (or closing) full TCP
 * stream socket to exactly the socket's connected peer.  That peer was
 * decided before the connection existed: an outgoing one's by the connect
 * program of every bound level, an accepted one's client by the ingress
 * program at its SYN (egress_ingress).  A raw socket is SOCK_RAW, so it is
 * never here whatever its protocol; SYN_SENT is not established, so a SYN
 * (and a Fast Open SYN's data) is still looked up, which also decides a
 * connect that raced the attach; a packet sent elsewhere (a source route's
 * first hop) has another destination and is looked up; a non-TCP-looking
 * packet or a fragment is looked up.  A policy change cuts the connections
 * it now denies (user/revoke.c), unless --keep-established keeps them.
 */
static __always_inline bool tcp_connected_peer(struct __sk_buff *skb, const struct pkt *p)
{
	struct bpf_sock *sk = skb->sk;
	__u32 state, a[4], w[4];

	if (!sk || p->frag || p->dst.proto != IPPROTO_TCP)
		return false;
	/* the state is a sock_common field: a SYN needs no bpf_sk_fullsock() */
	state = sk->state;
	if (state == BPF_TCP_LISTEN || state == BPF_TCP_SYN_SENT || state == BPF_TCP_SYN_RECV ||
	    state == BPF_TCP_CLOSE)
		return false;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->type != SOCK_STREAM || sk->protocol != IPPROTO_TCP)
		return false;
	if ((__u16)sk->dst_port != bpf_htons(p->dst.port))
		return false;
	if (p->dst.key.family == EGRESS_FAM_V4) {
		__u32 ip;

		__builtin_memcpy(&ip, p->dst.key.addr, 4);
		return sk->dst_ip4 == ip;
	}
	if (sk->family != AF_INET6)
		return false;
	/* one field read at a time: the verifier refuses arithmetic on a sock pointer */
	a[0] = sk->dst_ip6[0];
	asm volatile("" ::: "memory");
	a[1] = sk->dst_ip6[1];
	asm volatile("" ::: "memory");
	a[2] = sk->dst_ip6[2];
	asm volatile("" ::: "memory");
	a[3] = sk->dst_ip6[3];
	__builtin_memcpy(w, p->dst.key.addr, 16);
	return a[0] == w[0] && a[1] == w[1] && a[2] == w[2] && a[3] == w[3];
}

/*
 * The decision cache in the backstop: a UDP datagram (IP protocol 17:
 * never UDP-Lite, raw or ping, whose sockets never write the cache) of the
 * socket whose sendmsg this level's program allowed, or a TCP packet (the
 * SYN, a Fast Open SYN's data, a retransmitted SYN) of a full TCP stream
 * socket (never a raw one) to a destination and port a connect of this
 * level allowed, under the epoch of that decision.  That decision is the
 * lookup's for the packet's own key (level, policy, epoch, destination,
 * port, TCP), whichever socket's connect made it: the socket need not be
 * the same (and the connect, whose cache hit for another socket writes
 * nothing, takes no socket cookie).  The destination compared is the
 * packet's own: a routing header or source route (from a control message
 * or an option set where no setsockopt program ran) makes it another one,
 * looked up; a packet with IPv4 options or IPv6 extension headers is
 * always looked up.
 */
static __always_inline bool cached(struct __sk_buff *skb, const struct egress_binding *b,
				   const struct pkt *p)
{
	__u64 *ep, cookie = 0;

	if (p->frag || p->opts)
		return false;
	if (p->dst.proto == IPPROTO_TCP) {
		struct bpf_sock *sk = skb->sk;

		if (!sk)
			return false;
		sk = bpf_sk_fullsock(sk);
		if (!sk || sk->type != SOCK_STREAM || sk->protocol != IPPROTO_TCP)
			return false;
	} else if (p->dst.proto == IPPROTO_UDP) {
		cookie = bpf_get_socket_cookie(skb);
	} else {
		return false;
	}
	ep = epoch_ptr();
	return ep && cache_hit(b, &p->dst, *(volatile __u64 *)ep, cookie, NULL, NULL);
}

/* A packet a cgroup_skb program allowed, counted (softirq may nest). */
static __always_inline int skb_allow(const struct egress_binding *b, enum egress_hook hook)
{
	struct egress_counter *c = counter(b->policy, hook);

	if (c)
		__sync_fetch_and_add(&c->allowed, 1);
	return VERDICT_ALLOW;
}

/*
 * A packet a cgroup_skb program denied (d as decided): counted, its event
 * emitted unless an inner bound level's program already denied it (the
 * mark), the packet marked and dropped; audit: allowed, unmarked.
 */
static __always_inline int skb_deny(struct __sk_buff *skb, const struct egress_binding *b,
				    enum egress_hook hook, const struct dest *d,
				    const struct egress_slot *rule, __u8 reason, bool audit)
{
	bool emit = skb->mark != EGRESS_SKB_DENIED;

	/* no &skb->mark kept between the read and the write: the verifier refuses a moved ctx pointer */
	asm volatile("" : "+r"(skb));
	if (!audit)
		skb->mark = EGRESS_SKB_DENIED;	/* dropped: nobody else sees it */
	deny(d, b, hook, rule, reason, 0, EPERM, bpf_skb_cgroup_id(skb), emit, audit);
	return deny_verdict(audit);
}

/*
 * The backstop: every packet that leaves a socket of a bound cgroup is
 * decided again by its real destination, protocol and port.  It catches
 * what bypasses connect and sendmsg (raw sockets of a root sandbox, even
 * connect()ed ones, ping sockets, routing headers and source routes, the
 * replies of accepted connections) and costs one trie lookup a packet,
 * except for an established TCP connection's packets to its own peer
 * (tcp_connected_peer), and a UDP datagram or a TCP SYN this level's
 * sendmsg or connect program just allowed (cached).  A later fragment (no
 * ports) passes only if this bound cgroup allowed its first fragment.
 */
int egress_skb(struct __sk_buff *skb)
{
	struct egress_binding *b = bpf_get_local_storage(&egress_binding, 0);
	const struct egress_slot *rule = NULL;
	struct egress_entry *e = NULL;
	struct egress_frag_key fk;
	__u8 reason = EGRESS_RULE_DEFAULT;
	struct pkt p = {};
	bool ip, ok, fast, audit, first_frag;
	__u8 one = 1;

	/* the source only for a fragment's key: a destination decides what leaves */
	ok = packet(skb, &p, &ip, false);
	if (!ip)
		return VERDICT_ALLOW;
	/* a first fragment's key, before verdict_all() makes p.dst an address it embeds */
	first_frag = ok && p.frag && !p.later_frag;
	if (first_frag)
		frag_key(&fk, b, &p);
	/* before UDP-Lite becomes UDP; an established connection's packets first */
	fast = ok && (tcp_connected_peer(skb, &p) || cached(skb, b, &p));
	p.dst.proto = rule_proto(p.dst.proto);
	if (fast)
		;	/* decided already: no lookup, not a fragment */
	else if (ok && p.later_frag)
		ok = frag_seen(b, &p);
	else if (ok)
		ok = verdict_all(policy_trie(b), b->policy, &p.dst, false, &rule, &e, &reason);
	audit = !ok && audit_mode(policy_trie(b), e);
	/* a first fragment allowed (or allowed on, audited): its later fragments pass this level */
	if ((ok || audit) && first_frag)
		bpf_map_update_elem(&egress_frags, &fk, &one, BPF_ANY);
	if (ok)
		return skb_allow(b, EGRESS_HOOK_EGRESS);
	return skb_deny(skb, b, EGRESS_HOOK_EGRESS, &p.dst, rule, reason, audit);
}

/*
 * Inbound connections: every packet that arrives for a TCP listener of a
 * bound cgroup (the SYN, a Fast Open SYN's data, the ACK that completes a
 * handshake, with or without SYN cookies) is decided by its source address
 * and port, as the destination the connection's replies would go to.  A
 * denied client's SYN is dropped before the kernel answers it: no SYN-ACK,
 * neither a SYN cookie's (which has no socket, so the backstop never sees
 * it) nor a Fast Open child's.  Packets for other sockets pass at once;
 * what the sandbox sends is the backstop's.  A listener's packet that
 * cannot be parsed is dropped.
 */
int egress_ingress(struct __sk_buff *skb)
{
	struct egress_binding *b;
	const struct egress_slot *rule = NULL;
	struct egress_entry *e = NULL;
	struct bpf_sock *sk = skb->sk;
	__u8 reason = EGRESS_RULE_DEFAULT;
	struct pkt p = {};
	bool ip, ok;

	/*
	 * Only a full socket listens (a request or timewait socket has its own
	 * state); the state is a sock_common field, read without
	 * bpf_sk_fullsock(): every packet a sandbox's client sockets receive
	 * leaves here.
	 */
	if (!sk || sk->state != BPF_TCP_LISTEN)
		return VERDICT_ALLOW;
	ok = packet(skb, &p, &ip, true);	/* decided by its source */
	if (!ip)
		return VERDICT_ALLOW;
	b = bpf_get_local_storage(&egress_binding, 0);
	p.src.proto = IPPROTO_TCP;
	if (ok && verdict_all(policy_trie(b), b->policy, &p.src, false, &rule, &e, &reason))
		return skb_allow(b, EGRESS_HOOK_INGRESS);
	return skb_deny(skb, b, EGRESS_HOOK_INGRESS, &p.src, rule, reason, audit_mode(policy_trie(b), e));
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * egress.h - the ABI shared by the kernel side (bpf/egress.bpf.c) and the
 * user side (user/).  Included by both; only fixed-width types.
 *
 * Bump EGRESS_ABI_VERSION whenever a struct below or a pinned map's layout
 * changes: egressd refuses to take over pins of another ABI.
 */
#ifndef EGRESS_H
#define EGRESS_H

#ifndef __bpf__
#include <linux/types.h>
#include <linux/bpf.h>	/* struct bpf_spin_lock */
#endif

#define EGRESS_ABI_VERSION	8

#define EGRESS_NAME_MAX		32	/* policy name, NUL included */
#define EGRESS_SLOTS		16	/* rule slots that can apply to one CIDR */
#define EGRESS_INLINE		2	/* of them in the entry itself (egress_entry) */
#define EGRESS_FAM_V4		4	/* egress_lpm_key.family */
#define EGRESS_FAM_V6		6
/* key prefixlen = EGRESS_KEY_HDR_BITS + CIDR prefix length */
#define EGRESS_KEY_HDR_BITS	32

#include "egress_hooks.h"

/*
 * Hooks, in counters and events: the attached ones from egress_hooks.h's
 * table, then the others.  Values are ABI: never renumber.
 */
enum egress_hook {
#define EGRESS_HOOK_ENUM_(N, num, name, type, prog, sec, ctx) EGRESS_HOOK_##N = num,
	EGRESS_HOOK_TABLE(EGRESS_HOOK_ENUM_)
#undef EGRESS_HOOK_ENUM_
	EGRESS_HOOK_REVOKE = 8,		/* an established connection cut by a policy change (user/revoke.c) */
	EGRESS_HOOK_MAX = 16,	/* room for later hooks; counters are sized by it */
};

enum egress_action {
	EGRESS_DENY = 0,
	EGRESS_ALLOW = 1,
};

/* Global statistics (per-CPU array, summed by user space). */
enum egress_stat {
	EGRESS_STAT_RB_DROPS = 0,	/* ring buffer full: event lost */
	EGRESS_STAT_UNCONFIGURED = 1,	/* denied: attachment without a valid policy */
	EGRESS_STAT_SUPPRESSED = 2,	/* event not sent: the cgroup's rate limit */
	EGRESS_STAT_DELIVERED = 3,	/* events read by egressd (written by egressd, CPU 0) */
	EGRESS_STAT_CG_FULL = 4,	/* per-cgroup tables full: shared bucket used */
	EGRESS_STAT_NESTED = 5,		/* denials (or audits) an inner bound cgroup already denied: no event */
	EGRESS_STAT_BROKEN = 6,		/* denied (or audited): a policy's maps had no entry or slot list for it */
	EGRESS_STAT_MAX = 8,
};

/*
 * Every denial (and every audited decision) is exactly one of: an event
 * delivered, an event suppressed by the bound cgroup's rate limit, an event
 * dropped because the ring buffer was full, or (nested bindings) no event
 * because an inner bound cgroup's program already denied the same attempt
 * and emitted its event.  So for any period, summed over policies and hooks:
 * denied + audited = delivered + suppressed + dropped + nested.
 * (revoke counts its cuts as denials of hook revoke, see user/revoke.c.)
 */

/*
 * One policy is one LPM trie (an inner map of egress_policies).  Its keys
 * are a family word followed by the address; v4 addresses fill addr[0..3].
 */
struct egress_lpm_key {
	__u32 prefixlen;
	__u32 family;		/* EGRESS_FAM_V4 or EGRESS_FAM_V6 */
	__u8 addr[16];
};

/*
 * A slot is one rule as it applies to an address: the trie entry of a CIDR
 * holds its own rules followed by the rules it inherits from the CIDRs
 * that contain it, in decision order (longer prefix first, deny before
 * allow).  The list holds a rule that matches everything (a full own rule
 * or the policy's default), so a scan always ends in a match; own rules
 * after a full one are kept (for export) but never reached.  The first
 * matching slot decides.
 */
#define EGRESS_SLOT_DEFAULT	0x01	/* the policy's default verdict */

#define EGRESS_POL_PING		0x01	/* ICMP ping sockets may be created */
#define EGRESS_POL_AUDIT	0x02	/* audit mode: what would be denied is allowed, counted, logged */

/*
 * 8 bytes: proto, action and flags are narrowed so that the rule's hit
 * counter id fits beside them (README "Per-rule hit counters").  Bit-fields of one __u32: clang (BPF) and gcc
 * lay them out alike on little-endian targets.
 */
#define EGRESS_HITS_ID_BITS	17
#define EGRESS_HITS_MAX		(1u << EGRESS_HITS_ID_BITS)	/* ids 1..MAX-1; 0: not counted */

struct egress_slot {
	__u16 port_lo;		/* host order, inclusive */
	__u16 port_hi;
	__u32 plen : 8;		/* the rule's CIDR prefix length */
	__u32 proto : 5;	/* 0 = any, IPPROTO_TCP (6), IPPROTO_UDP (17) */
	__u32 action : 1;	/* enum egress_action */
	__u32 flags : 1;	/* EGRESS_SLOT_* */
	__u32 id : EGRESS_HITS_ID_BITS;	/* the rule's egress_rule_hits index; 0: none */
};

#define EGRESS_ENT_HOSTS	0x01	/* host entries below: look in egress_hosts */
#define EGRESS_ENT_LIST		0x02	/* more than EGRESS_INLINE slots: in egress_lists */

/*
 * A trie or host entry: 24 bytes, so that a rule costs the kernel about
 * what nftables' set element does (issue 12, goal 7).  Up to EGRESS_INLINE
 * slots are in the entry; an entry with more has EGRESS_ENT_LIST, and all
 * its slots are in its list (below), found by the entry's own CIDR.  The
 * policy-wide fields are in every entry, so that one lookup decides.
 */
struct egress_entry {
	__u8 nslots;
	__u8 ent_flags;		/* EGRESS_ENT_*: this entry's own */
	__u8 err;		/* errno of a denial (policy-wide), 0 = EPERM; all of parse.c's are < 256 */
	__u8 dflt : 1;		/* the policy's default verdict (policy-wide) */
	__u8 pol_flags : 7;	/* EGRESS_POL_*: the policy's, the same in every entry */
	__u32 gen;		/* generation of the policy's host entries and lists (policy-wide) */
	union {
		struct egress_slot slot[EGRESS_INLINE];	/* without EGRESS_ENT_LIST */
		__u32 plen;	/* EGRESS_ENT_LIST: the entry's CIDR prefix length (its list's key);
				 * nslots is then the list's count, the list's own decides */
	};
};

/*
 * The slots of an entry with EGRESS_ENT_LIST, in a hash of its own
 * (egress_lists, an array of maps slotted as egress_hosts) keyed by the
 * entry's CIDR as a trie key (address masked to the prefix).  A list is
 * written before the entry that names it and is never deleted while its
 * table is live: an entry that stops naming it leaves it unreachable (an
 * entry names a list only once it is written), and the next generation's
 * table starts empty.  Changing a list is one update of one element.
 */
struct egress_list {
	__u32 gen;		/* the entry's: a list counts only with the same one */
	__u32 nslots;
	struct egress_slot slot[EGRESS_SLOTS];
};

/*
 * Host entries (/32, /128) do not live in the trie, which a dense block of
 * hosts would make deep, but in a hash of their own (egress_hosts, an
 * array of maps: slot policy * 2 + (generation & 1)).  The trie entry that
 * holds a host (its longest containing CIDR) has EGRESS_ENT_HOSTS and
 * names the generation; a host entry counts only if it has the same one.
 * A policy swapped in whole brings a new generation of the other parity,
 * whose table fills the slot the live trie does not use: an old trie never
 * meets new hosts or the reverse.
 */
#define EGRESS_HOSTS_SLOT(policy, gen) ((policy) * 2 + ((gen) & 1))

struct egress_host_key {
	__u32 family;
	__u8 addr[16];
};

/* Per-policy metadata, user space only (egress_policy_info hash). */
#define EGRESS_HINT_MAX 512

struct egress_policy_info {
	char name[EGRESS_NAME_MAX];
	__u32 flags;
	__u32 nallow;		/* rule counts, kept by the writer */
	__u32 ndeny;
	__u32 pad;
	char hint[EGRESS_HINT_MAX];	/* template shown to the sandbox's user */
};

/*
 * Per-attachment cgroup storage: which policy the cgroup that the program
 * is attached to is bound to.  policy 0 means "attached, not configured
 * yet" and denies everything (fail closed).
 */
struct egress_binding {
	__u32 policy;
	__u32 pad;
	__u64 cgroup_id;
};

/*
 * egress_rule_hits[id] (per CPU): the decisions of one rule, or of one
 * policy's default, each time a lookup selected it (README "Per-rule hit
 * counters").  Ids come from one pool shared by all policies (user/hits.c).
 */
struct egress_hits {
	__u64 allowed;
	__u64 denied;
	__u64 audited;		/* audit mode: the rule (or default) would have denied */
};

struct egress_counter {
	__u64 allowed;
	__u64 denied;
	__u64 suppressed;	/* denials whose event the rate limit suppressed */
	__u64 dropped;		/* denials whose event the full ring buffer lost */
	__u64 audited;		/* audit mode: decisions that would have denied (allowed) */
};

/* Denials per (bound cgroup, policy): egress_cg_denied. */
struct egress_cg_key {
	__u64 cgroup_id;
	__u32 policy;
	__u32 pad;
};

/* Event token bucket of one bound cgroup (egress_rate), in nanoseconds of credit. */
struct egress_rate {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 credit_ns;
	__u64 last_ns;
	__u64 pending;		/* suppressed since the cgroup's last event */
};

/*
 * egress_frags (LRU): the first fragment of an IPv4 or IPv6 datagram that
 * a bound cgroup's backstop allowed; its later fragments (no ports) pass
 * only if their first fragment did.
 */
struct egress_frag_key {
	__u64 bound_cgroup_id;
	__u32 family;
	__u32 id;
	__u8 src[16];
	__u8 dst[16];
	__u8 proto;		/* the protocol the IP or fragment header names (before ext headers) */
	__u8 pad[7];
};

/* egress_oci: which cgroup an OCI hook bound for a container (user space only). */
#define EGRESS_OCI_ID_MAX 128
struct egress_oci_key {
	char id[EGRESS_OCI_ID_MAX];
	__u64 bundle_hash;	/* ids are unique per runtime, bundles tell them apart */
};

/* egress_config[0]: set once by egressd when the pins are created. */
struct egress_config {
	__u32 abi;
	__u32 max_policies;
	__u32 max_rules;	/* per policy */
	__u32 ringbuf_bytes;
	__u32 max_cgroups;	/* per-cgroup tables: rate buckets, denial counts */
	__u32 pad;
};

/* egress_event.rule_plen, when no CIDR rule decided */
#define EGRESS_RULE_DEFAULT	0xff	/* the policy's default verdict */
#define EGRESS_RULE_SOCKET	0xfe	/* a socket type the policy refuses */
#define EGRESS_RULE_SOCKOPT	0xfd	/* a socket option egress refuses (which: detail.sockopt) */
#define EGRESS_RULE_BROKEN	0xfc	/* the policy's maps could not decide (no entry, a slot list missing) */

struct egress_event {
	__u64 ts_boot_ns;	/* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;	/* the calling task's cgroup */
	__u64 bound_cgroup_id;	/* the cgroup whose binding denied */
	__u32 pid;		/* thread id */
	__u32 tgid;		/* process id */
	__u32 uid;
	__u32 policy;
	__s32 err;		/* errno returned to the caller (positive) */
	__u32 suppressed;	/* events of this cgroup dropped by the rate limit before this one */
	__u16 dport;		/* host order */
	__u8 hook;		/* enum egress_hook */
	__u8 family;		/* EGRESS_FAM_V4 / EGRESS_FAM_V6, as decided */
	__u8 proto;
	__u8 rule_plen;		/* prefix length of the deciding rule, or EGRESS_RULE_DEFAULT */
	__u8 rule_proto;
	__u8 verdict;		/* enum egress_verdict: deny, or audit (allowed, would have denied) */
	__u16 rule_port_lo;
	__u16 rule_port_hi;
	union {
		struct {
			__u16 level;	/* SOL_IP (0) or SOL_IPV6 (41) */
			__u16 optname;	/* IP_OPTIONS, IPV6_RTHDR, IPV6_2292RTHDR, IPV6_2292PKTOPTIONS */
		} sockopt;		/* hook setsockopt: the option refused */
		__u32 raw;		/* 0: no detail (every other hook) */
	} detail;
	__u8 addr[16];		/* destination as decided; v4 in addr[0..3] */
	char comm[16];
};

/*
 * egress_seen: the distinct destinations each cgroup was denied (or, in
 * audit mode, would have been), recorded before the event rate limit so
 * that 'egressctl advise' sees what the log lost.  An LRU hash sized by
 * egressd --max-seen: the least recently seen entries make room.
 */
enum egress_verdict {
	EGRESS_VERDICT_DENY = 0,	/* enforced: the caller got an error */
	EGRESS_VERDICT_AUDIT = 1,	/* audit mode: allowed, would have been denied */
};

struct egress_seen_key {
	__u64 bound_cgroup_id;	/* the cgroup whose binding decided */
	__u64 cgroup_id;	/* the calling task's (the socket's, on the backstop) */
	__u32 policy;
	__u16 port;		/* host order; 0: none */
	__u8 family;		/* EGRESS_FAM_V4 / EGRESS_FAM_V6 */
	__u8 proto;
	__u8 hook;		/* enum egress_hook; sock_create and setsockopt: no address */
	__u8 verdict;		/* enum egress_verdict */
	__u8 pad[6];
	__u8 addr[16];		/* destination as decided; v4 in addr[0..3] */
	char comm[16];		/* the process name (attacker-chosen: sanitise before printing) */
};

struct egress_seen {
	__u64 count;
	__u64 first_ns;		/* bpf_ktime_get_boot_ns() */
	__u64 last_ns;
};

/*
 * The policy epoch (egress_epoch, one u64): user/pins.c bumps it after
 * every policy or binding change, once the change is in the maps.  A
 * cached decision (below) counts only under the epoch it was made in.
 * Odd while a writer changes a policy's maps (epoch_begin, before the
 * first update): the programs neither take a decision from the cache nor
 * put one there, so a writer killed between its change and its bump
 * leaves no cached decision of the old rules in use; the next even value
 * (epoch_bump, after the change, or the repair of what a killed writer
 * left) is past every epoch a slot holds.
 */

/*
 * The decision cache (egress_cache, per CPU): the last allowed unconnected
 * UDP datagram (written by sendmsg4/6) or TCP connect (written by
 * connect4/6) of each bound level.  Read by the same hooks of the same
 * level, which take a decision for the same protocol, destination and
 * port under the same epoch from it (any socket: the decision depends on
 * nothing else), and by the backstop of the same level, which skips its
 * lookup for a UDP datagram of the same socket as well, and for the SYN of
 * any full TCP stream socket (never a raw one).  Slot: bound cgroup id %
 * EGRESS_CACHE_SLOTS.  seq is odd while a slot is written (a program
 * preempted on the same CPU).  rule_id: the deciding rule's hit counter
 * id, counted again on every decision taken from the slot.
 */
#define EGRESS_CACHE_SLOTS 4

struct egress_cache_slot {
	__u64 seq;
	__u64 epoch;
	__u64 bound_cgroup_id;
	__u64 cookie;		/* sendmsg: the socket's (bpf_get_socket_cookie); connect: 0 */
	__u32 policy;
	__u16 port;		/* host order */
	__u8 family;		/* EGRESS_FAM_V4 / EGRESS_FAM_V6 */
	__u8 proto;		/* IPPROTO_UDP (sendmsg) or IPPROTO_TCP (connect) */
	__u8 addr[16];		/* as decided; v4 in addr[0..3] */
	__u32 rule_id;		/* the deciding slot's id (egress_rule_hits) */
	__u32 pad;
};

struct egress_cache {
	struct egress_cache_slot slot[EGRESS_CACHE_SLOTS];
};

#endif /* EGRESS_H */

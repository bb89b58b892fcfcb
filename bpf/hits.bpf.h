/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * hits.bpf.h - the per-rule hit counters' map, BPF side only: one
 * definition for bpf/egress.bpf.c, which counts, and bpf/hits_zero.bpf.c,
 * which zeroes a change's fresh ids (on egressd's pinned map, reused by
 * fd).  Needs vmlinux.h, bpf_helpers.h and egress.h first.
 */
#ifndef EGRESS_HITS_BPF_H
#define EGRESS_HITS_BPF_H

/*
 * Per-rule hit counters (README "Per-rule hit counters"): the deciding
 * slot's id indexes egress_rule_hits, sized by the loader; id 0 (a rule
 * the pool had no id for) counts into an entry nobody reads.  Counted at
 * every lookup of egress.bpf.c's programs, not by revoke's re-checks.  Plain
 * increments of per-CPU values, as egress_counters' allowed in decide().
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct egress_hits);
} egress_rule_hits SEC(".maps");

#endif /* EGRESS_HITS_BPF_H */

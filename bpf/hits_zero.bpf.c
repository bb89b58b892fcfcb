// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * hits_zero.bpf.c - zeroes the per-rule hit counters of the ids a writer
 * takes (user/hits.c), on every CPU, in one BPF_PROG_TEST_RUN.
 *
 * A BPF_PROG_TYPE_SYSCALL program: its context names the ids in user
 * memory; it copies them a chunk at a time and clears each id's per-CPU
 * values through bpf_map_lookup_percpu_elem.  100,000 ids take ~1.3 ms
 * (and its load ~7 ms), where BPF_MAP_UPDATE_BATCH of zeroed per-CPU
 * values takes ~16 ms (each element copied from user space CPU by CPU).
 * egressctl loads it for a large change only (65,536 ids or more), on
 * egressd's pinned egress_rule_hits (reused by fd), and falls back to the
 * batch update if it cannot.  Never attached.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "egress.h"
#include "hits.bpf.h"	/* egressd's pinned map, reused by fd: sized to it by libbpf */
#include "hits_zero.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Possible CPUs, set by the loader (the per-CPU values to clear). */
const volatile __u32 ncpus = 1;

#define CHUNK	64	/* ids copied at a time: the chunk lives on the stack */

struct walk {
	struct hits_zero_args *a;
	__u32 failed;	/* an id out of the map: the chunk is not counted done */
	__u32 id[CHUNK];
};

/*
 * One id's counters, on every CPU (the loader runs this only where the
 * possible CPUs are 0 to ncpus - 1, so the numbers are the CPUs).
 */
static long zero_one(__u32 i, struct walk *w)
{
	__u32 id, cpu;

	if (i >= CHUNK)
		return 1;
	id = w->id[i];
	for (cpu = 0; cpu < ncpus && cpu < HITS_ZERO_MAX_CPUS; cpu++) {
		struct egress_hits *h = bpf_map_lookup_percpu_elem(&egress_rule_hits, &id, cpu);

		if (!h) {
			w->failed = 1;
			return 1;
		}
		__builtin_memset(h, 0, sizeof(*h));
	}
	return 0;
}

/* Chunk k of the ids: copied in, each zeroed; a->done counts what is done. */
static long zero_chunk(__u32 k, struct walk *w)
{
	__u32 base = k * CHUNK, n;
	__u64 bytes;

	if (base >= w->a->n)
		return 1;
	n = w->a->n - base;
	if (n > CHUNK)
		n = CHUNK;
	bytes = (__u64)n * sizeof(__u32);
	asm volatile("" : "+r"(bytes));	/* the bound below stays for the verifier */
	if (bytes > sizeof(w->id) ||
	    bpf_copy_from_user(w->id, bytes, (void *)(w->a->ids + (__u64)base * sizeof(__u32))))
		return 1;	/* stop: done says how far it got */
	bpf_loop(n, zero_one, w, 0);
	if (w->failed)
		return 1;	/* stop: this chunk is the batch update's */
	w->a->done = base + n;
	return 0;
}

SEC("syscall")
int hits_zero(struct hits_zero_args *a)
{
	struct walk w;

	w.a = a;
	w.failed = 0;
	a->done = 0;
	if (ncpus > HITS_ZERO_MAX_CPUS)
		return 0;	/* done 0: the caller zeroes them itself */
	bpf_loop((a->n + CHUNK - 1) / CHUNK, zero_chunk, &w, 0);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * hits_zero.h - the context of bpf/hits_zero.bpf.c, shared with its loader
 * in user/hits.c: the ids whose counters it zeroes.
 */
#ifndef EGRESS_HITS_ZERO_H
#define EGRESS_HITS_ZERO_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define HITS_ZERO_MAX_CPUS	8192	/* more possible CPUs: the batch update instead */

struct hits_zero_args {
	__u64 ids;	/* user address of n __u32 ids */
	__u32 n;
	__u32 done;	/* out: the ids zeroed, from the first */
};

#endif

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_parser.bpf.c - the backstop's packet parser (bpf/packet.bpf.h)
 * alone, for tests/parser.c: run with BPF_PROG_TEST_RUN on crafted
 * packets, it writes what it parsed to parser_out and allows.  Test only:
 * neither shipped nor loaded by egressd.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "egress.h"

/* tests/parser.c runs its table twice: reading in place, and through bpf_skb_load_bytes only */
const volatile bool direct = true;
/* ... and once more asking for the destination only, as the backstop does */
const volatile bool want_src = true;
#define PACKET_DIRECT direct
#include "packet.bpf.h"
#include "test_parser.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct parser_out);
} parser_out SEC(".maps");

SEC("cgroup_skb/egress")
int test_parser(struct __sk_buff *skb)
{
	struct parser_out *o;
	struct pkt p = {};
	__u32 zero = 0, runs;
	bool ip, ok;

	o = bpf_map_lookup_elem(&parser_out, &zero);
	if (!o)
		return VERDICT_DENY;
	ok = packet(skb, &p, &ip, want_src);
	runs = o->runs + 1;
	__builtin_memset(o, 0, sizeof(*o));
	o->runs = runs;
	o->ip = ip;
	o->ok = ok;
	o->frag = p.frag;
	o->later_frag = p.later_frag;
	o->family = p.dst.key.family;
	o->proto = p.dst.proto;
	o->frag_proto = p.frag_proto;
	o->dport = p.dst.port;
	o->sport = p.src.port;
	o->frag_id = p.frag_id;
	__builtin_memcpy(o->dst, p.dst.key.addr, 16);
	__builtin_memcpy(o->src, p.src.key.addr, 16);
	return VERDICT_ALLOW;
}

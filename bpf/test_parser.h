/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_parser.h - what bpf/test_parser.bpf.c (test only, never loaded by
 * egressd) reports to tests/parser.c about one packet it parsed with
 * bpf/packet.bpf.h: the value of its one-entry array parser_out.
 */
#ifndef EGRESS_TEST_PARSER_H
#define EGRESS_TEST_PARSER_H

#ifndef __bpf__
#include <linux/types.h>
#endif

struct parser_out {
	__u32 runs;		/* packets parsed since load */
	__u8 ip;		/* IPv4 or IPv6 (skb->protocol) */
	__u8 ok;		/* decidable: false is a denial (fail closed) */
	__u8 frag;		/* a fragment */
	__u8 later_frag;	/* not the first fragment: no ports */
	__u32 family;		/* EGRESS_FAM_V4 / EGRESS_FAM_V6, of the destination */
	__u8 proto;		/* as the packet carries it (UDP-Lite is 136 here) */
	__u8 frag_proto;	/* a fragment: the protocol its fragment key names */
	__u16 dport;		/* host order */
	__u16 sport;
	__u16 pad2;
	__u32 frag_id;
	__u8 dst[16];		/* v4 in dst[0..3] */
	__u8 src[16];
};

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * packet.bpf.h - the packet parser of the cgroup_skb programs: a packet's
 * destination and source (address, protocol, ports) as the network will
 * use them, or false when it cannot be decided (fail closed).  Included by
 * bpf/egress.bpf.c (the backstop and the ingress program) and by
 * bpf/test_parser.bpf.c (the parser alone, run on crafted packets by
 * tests/parser.c with BPF_PROG_TEST_RUN).  Needs consts.h and egress.h
 * first.
 */
#ifndef EGRESS_PACKET_BPF_H
#define EGRESS_PACKET_BPF_H

#include "dest.bpf.h"

/*
 * A packet a cgroup_skb program parsed.  dst and src carry the ports
 * (dport, sport) and the protocol; a later fragment has no ports.
 */
struct pkt {
	struct dest dst;
	struct dest src;
	__u32 frag_id;
	__u8 frag;		/* a fragment, the first or a later one */
	__u8 later_frag;	/* not the first fragment: no ports */
	__u8 opts;		/* IPv4 options or IPv6 extension headers (a source route?) */
	__u8 frag_proto;	/* the header after the fragment header: the same in every fragment */
};

/*
 * Reads in place: the linear part of the skb (skb->data, at the network
 * header for cgroup_skb programs, to skb->data_end) when it holds the
 * bytes, as it does for the headers of what a local socket sends; else
 * bpf_skb_load_bytes, which also reaches paged data.  A helper call less
 * per header.  bpf/test_parser.bpf.c runs its cases both ways (define
 * PACKET_DIRECT to an expression before including this file).
 */
#ifndef PACKET_DIRECT
#define PACKET_DIRECT 1
#endif

/*
 * len bytes (a multiple of 4) at off into to (4-byte aligned): false when
 * the packet does not have them.  Copied as 32-bit words: a byte copy
 * (what memcpy from a packet pointer of unknown alignment compiles to)
 * costs more than the helper for an IPv6 header.  The headers start at
 * 4-byte boundaries of the network header; the kernels egress runs on
 * (x86-64, arm64) load unaligned words anyway, and the verifier checks
 * alignment only where the architecture cannot.
 */
static __always_inline bool pkt_read(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;

	off &= 0xffff;	/* bounded for the verifier; a longer chain failed before */
	if (PACKET_DIRECT && data + off + len <= end) {
		const __u32 *src = data + off;
		__u32 *dst = to;

		for (__u32 i = 0; i < len / 4; i++)
			dst[i] = src[i];
		return true;
	}
	return !bpf_skb_load_bytes(skb, off, to, len);
}

/*
 * IPv6 extension headers the backstop walks.  A chain longer than this is
 * not exhausted: the packet is denied (fail closed), never decided by a
 * protocol and port it does not carry.
 */
#define IPV6_EXT_MAX	16

static __always_inline bool has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP;
}

static __always_inline bool ipv6_ext(__u8 next)
{
	return next == NEXTHDR_HOP || next == NEXTHDR_ROUTING || next == NEXTHDR_DEST ||
	       next == NEXTHDR_FRAGMENT || next == NEXTHDR_AUTH;
}

/*
 * The L4 ports at off.  A protocol with ports whose header is not there (a
 * truncated packet, a tiny first fragment) is not decided by a port it
 * might have: false, denied.
 */
static __always_inline bool packet_l4(struct __sk_buff *skb, __u32 off, struct pkt *p)
{
	__u8 proto = p->dst.proto;
	union {
		__u32 word;
		__u16 port[2];	/* source, destination */
	} l4;

	p->src.proto = proto;
	if (p->later_frag || !has_ports(proto))
		return true;
	if (!pkt_read(skb, off, &l4, sizeof(l4)))
		return false;
	p->src.port = bpf_ntohs(l4.port[0]);
	p->dst.port = bpf_ntohs(l4.port[1]);
	return true;
}

/* An IPv4 packet; false if it cannot be read.  src: see packet(). */
static __always_inline bool packet_v4(struct __sk_buff *skb, struct pkt *p, const bool src)
{
	struct iphdr ip;
	__u16 frag;

	if (!pkt_read(skb, 0, &ip, sizeof(ip)) || ip.ihl < 5)
		return false;
	dest_v4(&p->dst, ip.daddr);
	p->dst.proto = ip.protocol;
	p->opts = ip.ihl > 5;
	frag = bpf_ntohs(ip.frag_off);
	if (frag & (IP_MF | IP_OFFSET)) {
		p->frag = 1;
		p->frag_id = ip.id;
		p->frag_proto = ip.protocol;
		p->later_frag = (frag & IP_OFFSET) != 0;
	}
	if (src || p->frag)
		dest_v4(&p->src, ip.saddr);
	return packet_l4(skb, ip.ihl * 4, p);
}

/* The furthest an extension header walk can end: the fixed header and 16 of 2,048 bytes. */
#define V6_WALK_MAX	(40 + IPV6_EXT_MAX * 2048)

/* Where an IPv6 extension header walk ends: the header after the chain, at off. */
struct v6_walk {
	__u32 off;
	__u8 next;
};

/*
 * The extension headers from w (up to IPV6_EXT_MAX, AH included): the
 * fragment header's fields into *p, w moved past the chain; false when a
 * header cannot be read or the chain goes on (fail closed).
 *
 * A global function, called only when the fixed header names an extension
 * header (never for a plain TCP or UDP packet): the verifier checks the
 * walk once, and its caller goes on from one state instead of one per way
 * through the walk (which had brought the backstop within 2% of the
 * verifier's limit of 1,000,000 instructions).
 */
__noinline int egress_v6_ext(struct __sk_buff *skb, struct pkt *p, struct v6_walk *w)
{
	__u32 off, i;
	__u8 next;

	if (!skb || !p || !w)
		return 0;
	off = w->off;
	next = w->next;
	for (i = 0; i < IPV6_EXT_MAX; i++) {
		__u8 h[8];

		if (!ipv6_ext(next) || p->later_frag)
			break;
		p->opts = 1;
		if (bpf_skb_load_bytes(skb, off & 0xffff, h, next == NEXTHDR_FRAGMENT ? 8 : 2))
			return 0;
		if (next == NEXTHDR_FRAGMENT) {
			p->frag = 1;
			p->frag_proto = h[0];
			__builtin_memcpy(&p->frag_id, h + 4, 4);
			p->later_frag = (h[2] << 5 | h[3] >> 3) != 0;
			off += 8;
		} else if (next == NEXTHDR_AUTH) {
			off += (h[1] + 2) * 4;
		} else {
			off += (h[1] + 1) * 8;
		}
		next = h[0];
	}
	if (ipv6_ext(next) && !p->later_frag)
		return 0;	/* the chain goes on: fail closed */
	w->off = off;
	w->next = next;
	return 1;
}

/*
 * An IPv6 packet: its addresses as they are in the header (the next hop's),
 * through its extension headers (egress_v6_ext).  src: see packet().
 */
static __always_inline bool packet_v6(struct __sk_buff *skb, struct pkt *p, const bool src)
{
	struct v6_walk w = { .off = sizeof(struct ipv6hdr) };
	struct ipv6hdr ip;
	__u32 a[4];

	if (!pkt_read(skb, 0, &ip, sizeof(ip)))
		return false;
	__builtin_memcpy(a, &ip.daddr, 16);
	dest_v6(&p->dst, a[0], a[1], a[2], a[3]);
	if (src) {	/* before the walk: a packet it refuses is still named by its source */
		__builtin_memcpy(a, &ip.saddr, 16);
		dest_v6(&p->src, a[0], a[1], a[2], a[3]);
	}
	w.next = ip.nexthdr;
	if (ipv6_ext(w.next) && !egress_v6_ext(skb, p, &w))
		return false;
	/*
	 * The walk ends at most 40 + 16 * 2048 bytes in: a bound the verifier
	 * needs for the port read (the walk's result is unknown to it here).
	 */
	if (w.off > V6_WALK_MAX)
		return false;
	if (!src && p->frag) {
		__builtin_memcpy(a, &ip.saddr, 16);
		dest_v6(&p->src, a[0], a[1], a[2], a[3]);
	}
	p->dst.proto = w.next;
	return packet_l4(skb, w.off, p);
}

/*
 * src: the source address is wanted (the ingress program decides by it).
 * Without it, p->src has its address only for a fragment (the fragment
 * key names it); its port and protocol are always set.  A constant at
 * each caller: the backstop spends nothing on a source it never reads.
 */
static __always_inline bool packet(struct __sk_buff *skb, struct pkt *p, bool *ip, const bool src)
{
	*ip = true;
	if (skb->protocol == bpf_htons(ETH_P_IP))
		return packet_v4(skb, p, src);
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return packet_v6(skb, p, src);
	*ip = false;	/* not IP: not ours to decide */
	return false;
}

#endif /* EGRESS_PACKET_BPF_H */

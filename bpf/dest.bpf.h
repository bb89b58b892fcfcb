/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * dest.bpf.h - a destination to decide (struct dest) and how an address
 * becomes one, as the kernel will really use it.  No maps.  Included by
 * bpf/policy.bpf.h and bpf/packet.bpf.h.  Needs vmlinux.h, bpf_endian.h
 * and egress.h first.
 */
#ifndef EGRESS_DEST_BPF_H
#define EGRESS_DEST_BPF_H

/* A destination to decide: the trie key, its port and protocol. */
struct dest {
	struct egress_lpm_key key;
	__u32 v4;	/* the IPv4 address an IPv6 key embeds (network order) */
	__u16 port;
	__u8 proto;
	__u8 embeds;	/* v4 is set: decide it too */
};

/* The destination as the kernel will really use it. */
static __always_inline void dest_v4(struct dest *d, __u32 ip)
{
	if (ip == 0)	/* INADDR_ANY goes to the local host */
		ip = bpf_htonl(0x7f000001);
	d->key.prefixlen = EGRESS_KEY_HDR_BITS + 32;
	d->key.family = EGRESS_FAM_V4;
	__builtin_memcpy(d->key.addr, &ip, 4);
}

/*
 * IPv6 destinations that embed an IPv4 address are decided as that
 * address too: IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::a.b.c.d (RFC
 * 6052) and 6to4 2002:AABB:CCDD::/48.  A NAT64 gateway or 6to4 relay
 * forwards them to the IPv4 host.
 */
static __always_inline void dest_embedded(struct dest *d, __u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	__u32 h0 = bpf_ntohl(w0);

	if (w0 == 0 && w1 == 0 && w2 == 0 && bpf_ntohl(w3) > 1) {
		d->v4 = w3;
		d->embeds = 1;
	} else if (w0 == bpf_htonl(0x0064ff9b) && w1 == 0 && w2 == 0) {
		d->v4 = w3;
		d->embeds = 1;
	} else if ((h0 >> 16) == 0x2002) {
		d->v4 = bpf_htonl((h0 << 16) | (bpf_ntohl(w1) >> 16));
		d->embeds = 1;
	}
}

/* ::ffff:a.b.c.d is a.b.c.d, :: is ::1; an embedded IPv4 address is noted. */
static __always_inline void dest_v6(struct dest *d, __u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff)) {
		dest_v4(d, w3);
		return;
	}
	if ((w0 | w1 | w2 | w3) == 0)	/* :: goes to ::1 */
		w3 = bpf_htonl(1);
	dest_embedded(d, w0, w1, w2, w3);
	d->key.prefixlen = EGRESS_KEY_HDR_BITS + 128;
	d->key.family = EGRESS_FAM_V6;
	__builtin_memcpy(d->key.addr, &w0, 4);
	__builtin_memcpy(d->key.addr + 4, &w1, 4);
	__builtin_memcpy(d->key.addr + 8, &w2, 4);
	__builtin_memcpy(d->key.addr + 12, &w3, 4);
}

/* The IPv4 destination d embeds (d->embeds), same port and protocol. */
static __always_inline void dest_embedded_v4(struct dest *d4, const struct dest *d)
{
	dest_v4(d4, d->v4);
	d4->port = d->port;
	d4->proto = d->proto;
}

#endif /* EGRESS_DEST_BPF_H */

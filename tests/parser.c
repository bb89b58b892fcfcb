// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * parser.c - the backstop's packet parser (bpf/packet.bpf.h) on crafted
 * packets: loads bpf/test_parser.bpf.c (the parser alone), runs it with
 * BPF_PROG_TEST_RUN on each case of a table and checks what it parsed:
 * the destination's family, address, protocol and port, the fragment
 * flags, or a denial (the parser's false: the backstop fails closed).
 * Every case with ports is also cut at every header boundary after the
 * fixed IP header (and one byte into and before the end of each header,
 * and between the ports): each cut must be denied.
 * Prints "PASS: parser/NAME" or "FAIL: parser/NAME: why" per check; exit 1
 * if any failed.  Root (it loads a program).  Run by
 * tests/integration/49-parser.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egress.h"
#include "test_parser.h"
#include "test_parser.skel.h"

#define P_HOP		0
#define P_ICMP		1
#define P_TCP		6
#define P_UDP		17
#define P_ROUTING	43
#define P_FRAGMENT	44
#define P_AH		51
#define P_ICMPV6	58
#define P_NONE		59
#define P_DEST		60
#define P_SCTP		132
#define P_UDPLITE	136

#define MAXHDR 40

/* A packet being built: bytes after the Ethernet header, and where each header starts. */
struct pb {
	uint8_t b[2048];
	size_t n;
	size_t hdr[MAXHDR], hdr_end[MAXHDR];
	int nhdr;
	size_t l4;		/* where the L4 header starts; 0: none */
};

static void *put(struct pb *p, size_t n)
{
	void *at = p->b + p->n;

	p->hdr[p->nhdr] = p->n;
	p->n += n;
	p->hdr_end[p->nhdr++] = p->n;
	return at;
}

static void addr(int af, const char *s, void *out)
{
	if (inet_pton(af, s, out) != 1) {
		fprintf(stderr, "parser: bad address %s\n", s);
		exit(2);
	}
}

/* IPv4 header with ihl words (options NOP-filled, then opts copied), frag = flags|offset. */
static void ip4(struct pb *p, uint8_t proto, const char *dst, int ihl, uint16_t frag,
		const uint8_t *opts, size_t nopts)
{
	uint8_t *h = put(p, 20);

	if (ihl > 5)
		put(p, (ihl - 5) * 4);	/* the options: a header of their own, for the cuts */
	memset(h, 1 /* IPOPT_NOOP */, ihl * 4);
	h[0] = 0x40 | (ihl & 0xf);
	h[1] = 0;
	h[8] = 64;
	h[9] = proto;
	h[4] = 0x12, h[5] = 0x34;	/* id */
	h[6] = frag >> 8, h[7] = frag & 0xff;
	addr(AF_INET, "10.0.0.1", h + 12);
	addr(AF_INET, dst, h + 16);
	if (opts)
		memcpy(h + 20, opts, nopts);
}

static void ip6(struct pb *p, uint8_t next, const char *dst)
{
	uint8_t *h = put(p, 40);

	memset(h, 0, 40);
	h[0] = 0x60;
	h[6] = next;
	h[7] = 64;
	addr(AF_INET6, "2001:db8::1", h + 8);
	addr(AF_INET6, dst, h + 24);
}

/* A hop-by-hop, routing or destination options header of (len8 + 1) * 8 bytes. */
static void ext(struct pb *p, uint8_t next, uint8_t len8)
{
	uint8_t *h = put(p, (len8 + 1) * 8);

	memset(h, 0, (len8 + 1) * 8);
	h[0] = next;
	h[1] = len8;
	h[2] = 1, h[3] = 0;	/* PadN, then zeros: well-formed options */
}

/* AH: (len + 2) * 4 bytes. */
static void ah(struct pb *p, uint8_t next, uint8_t len)
{
	uint8_t *h = put(p, (len + 2) * 4);

	memset(h, 0, (len + 2) * 4);
	h[0] = next;
	h[1] = len;
}

static void frag6(struct pb *p, uint8_t next, uint16_t offset8, bool more)
{
	uint8_t *h = put(p, 8);
	uint16_t v = offset8 << 3 | (more ? 1 : 0);

	memset(h, 0, 8);
	h[0] = next;
	h[2] = v >> 8, h[3] = v & 0xff;
	h[4] = 0xde, h[5] = 0xad, h[6] = 0xbe, h[7] = 0xef;
}

/* An L4 header with ports (8 bytes: ports and the rest zero) and a payload. */
static void l4(struct pb *p, uint16_t sport, uint16_t dport, size_t payload)
{
	uint8_t *h;

	p->l4 = p->n;
	h = put(p, 8 + payload);
	memset(h, 0, 8 + payload);
	h[0] = sport >> 8, h[1] = sport & 0xff;
	h[2] = dport >> 8, h[3] = dport & 0xff;
}

static void bytes(struct pb *p, size_t n)
{
	memset(put(p, n), 0xab, n);
}

/* What a case expects; deny: the parser's false. */
struct want {
	bool deny;
	bool not_ip;
	int family;		/* 4 or 6 */
	const char *dst;
	uint8_t proto;
	uint16_t dport;
	bool frag, later;
	uint8_t frag_proto;	/* a fragment's key protocol; 0: proto */
};

struct tcase {
	const char *name;
	void (*build)(struct pb *p);
	struct want w;
	bool cuts;		/* also cut at every header boundary: each denied */
	uint16_t ethertype;	/* 0: from the first header */
};

/* ---- the packets */
#define V4D "192.0.2.1"
#define V6D "2001:db8::2"
static void v4_udp(struct pb *p) { ip4(p, P_UDP, V4D, 5, 0, NULL, 0); l4(p, 1234, 53, 4); }
static void v4_tcp(struct pb *p) { ip4(p, P_TCP, V4D, 5, 0, NULL, 0); l4(p, 1234, 443, 12); }
static void v4_icmp(struct pb *p) { ip4(p, P_ICMP, V4D, 5, 0, NULL, 0); bytes(p, 8); }
static void v4_udplite(struct pb *p) { ip4(p, P_UDPLITE, V4D, 5, 0, NULL, 0); l4(p, 1, 5353, 0); }
static void v4_sctp(struct pb *p) { ip4(p, P_SCTP, V4D, 5, 0, NULL, 0); l4(p, 1, 9899, 4); }
static void v4_any(struct pb *p) { ip4(p, P_UDP, "0.0.0.0", 5, 0, NULL, 0); l4(p, 1, 53, 0); }
static void v4_lsrr(struct pb *p)
{
	/* NOP, LSRR (len 11, pointer 4, two hops), END: the header's daddr is the first hop */
	static const uint8_t o[] = { 1, 0x83, 11, 4, 198, 51, 100, 1, 198, 51, 100, 2, 0 };

	ip4(p, P_UDP, V4D, 5 + 4, 0, o, sizeof(o));
	l4(p, 1234, 53, 0);
}
static void v4_opts40(struct pb *p) { ip4(p, P_TCP, V4D, 15, 0, NULL, 0); l4(p, 1234, 8443, 0); }
static void v4_ihl4(struct pb *p) { ip4(p, P_UDP, V4D, 4, 0, NULL, 0); l4(p, 1, 53, 0); }
static void v4_first_frag(struct pb *p) { ip4(p, P_UDP, V4D, 5, 0x2000, NULL, 0); l4(p, 1234, 53, 32); }
static void v4_first_frag_opts(struct pb *p)
{
	ip4(p, P_UDP, V4D, 7, 0x2000, NULL, 0);
	l4(p, 1234, 53, 16);
}
static void v4_later_frag(struct pb *p) { ip4(p, P_UDP, V4D, 5, 0x2000 | 185, NULL, 0); bytes(p, 64); }
static void v4_last_frag(struct pb *p) { ip4(p, P_UDP, V4D, 5, 185, NULL, 0); bytes(p, 16); }
static void v4_later_frag_empty(struct pb *p) { ip4(p, P_TCP, V4D, 5, 0x2000 | 1, NULL, 0); }
static void v4_tiny_first_frag(struct pb *p) { ip4(p, P_TCP, V4D, 5, 0x2000, NULL, 0); bytes(p, 3); }

static void v6_udp(struct pb *p) { ip6(p, P_UDP, V6D); l4(p, 1234, 53, 4); }
static void v6_icmp(struct pb *p) { ip6(p, P_ICMPV6, V6D); bytes(p, 8); }
static void v6_none(struct pb *p) { ip6(p, P_NONE, V6D); }
static void v6_mapped(struct pb *p) { ip6(p, P_UDP, "::ffff:192.0.2.1"); l4(p, 1, 53, 0); }
static void v6_hop_tcp(struct pb *p) { ip6(p, P_HOP, V6D); ext(p, P_TCP, 0); l4(p, 1234, 443, 12); }
static void v6_srh(struct pb *p) { ip6(p, P_ROUTING, V6D); ext(p, P_UDP, 2); l4(p, 1234, 53, 0); }
static void v6_dest_rt_dest(struct pb *p)
{
	ip6(p, P_DEST, V6D);
	ext(p, P_ROUTING, 0);
	ext(p, P_DEST, 2);
	ext(p, P_UDP, 1);
	l4(p, 1234, 5353, 0);
}
static void v6_ah(struct pb *p) { ip6(p, P_AH, V6D); ah(p, P_TCP, 4); l4(p, 1234, 443, 0); }
static void v6_hop_ah_dest(struct pb *p)
{
	ip6(p, P_HOP, V6D);
	ext(p, P_AH, 0);
	ah(p, P_DEST, 1);
	ext(p, P_UDP, 0);
	l4(p, 1234, 123, 0);
}
/* n destination options headers, then UDP */
static void chain(struct pb *p, int n)
{
	ip6(p, n ? P_DEST : P_UDP, V6D);
	for (int i = 0; i < n; i++)
		ext(p, i == n - 1 ? P_UDP : P_DEST, 0);
	l4(p, 1234, 53, 0);
}
static void v6_chain15(struct pb *p) { chain(p, 15); }
static void v6_chain16(struct pb *p) { chain(p, 16); }	/* IPV6_EXT_MAX: the walk's limit */
static void v6_chain17(struct pb *p) { chain(p, 17); }
static void v6_chain40(struct pb *p) { chain(p, 40 - 2); }
static void v6_first_frag(struct pb *p) { ip6(p, P_FRAGMENT, V6D); frag6(p, P_UDP, 0, true); l4(p, 1234, 53, 32); }
static void v6_later_frag(struct pb *p) { ip6(p, P_FRAGMENT, V6D); frag6(p, P_UDP, 100, true); bytes(p, 64); }
static void v6_last_frag(struct pb *p) { ip6(p, P_FRAGMENT, V6D); frag6(p, P_TCP, 7, false); bytes(p, 3); }
static void v6_hop_first_frag(struct pb *p)
{
	ip6(p, P_HOP, V6D);
	ext(p, P_FRAGMENT, 0);
	frag6(p, P_DEST, 0, true);
	ext(p, P_UDP, 0);
	l4(p, 1234, 53, 0);
}
/* the later fragment of v6_hop_first_frag's datagram: the destination options are behind */
static void v6_hop_later_frag(struct pb *p)
{
	ip6(p, P_HOP, V6D);
	ext(p, P_FRAGMENT, 0);
	frag6(p, P_DEST, 3, false);
	bytes(p, 24);
}
/* 15 headers, then a later fragment (the 16th): walked to it, no ports needed */
static void v6_deep_later_frag(struct pb *p)
{
	ip6(p, P_DEST, V6D);
	for (int i = 0; i < 15; i++)
		ext(p, i == 14 ? P_FRAGMENT : P_DEST, 0);
	frag6(p, P_UDP, 9, true);
	bytes(p, 16);
}
/* a first fragment whose chain goes on past the walk */
static void v6_deep_first_frag(struct pb *p)
{
	ip6(p, P_FRAGMENT, V6D);
	frag6(p, P_DEST, 0, true);
	for (int i = 0; i < 16; i++)
		ext(p, i == 15 ? P_UDP : P_DEST, 0);
	l4(p, 1234, 53, 0);
}
static void v6_tiny_first_frag(struct pb *p) { ip6(p, P_FRAGMENT, V6D); frag6(p, P_UDP, 0, true); bytes(p, 2); }
static void arp(struct pb *p) { bytes(p, 28); }

#define OK4(d, pr, port) { .family = 4, .dst = d, .proto = pr, .dport = port }
#define OK6(d, pr, port) { .family = 6, .dst = d, .proto = pr, .dport = port }
#define DENY { .deny = true }

static const struct tcase cases[] = {
	{ "v4/udp", v4_udp, OK4(V4D, P_UDP, 53), true },
	{ "v4/tcp", v4_tcp, OK4(V4D, P_TCP, 443), true },
	{ "v4/icmp-no-ports", v4_icmp, OK4(V4D, P_ICMP, 0), false },
	{ "v4/udplite-ports", v4_udplite, OK4(V4D, P_UDPLITE, 5353), true },
	{ "v4/sctp-ports", v4_sctp, OK4(V4D, P_SCTP, 9899), true },
	{ "v4/any-address-is-loopback", v4_any, OK4("127.0.0.1", P_UDP, 53), false },
	{ "v4/options-lsrr-header-daddr", v4_lsrr, OK4(V4D, P_UDP, 53), true },
	{ "v4/options-40-bytes", v4_opts40, OK4(V4D, P_TCP, 8443), true },
	{ "v4/ihl-below-5", v4_ihl4, DENY, false },
	{ "v4/first-fragment", v4_first_frag, { .family = 4, .dst = V4D, .proto = P_UDP, .dport = 53, .frag = true }, true },
	{ "v4/first-fragment-options", v4_first_frag_opts, { .family = 4, .dst = V4D, .proto = P_UDP, .dport = 53, .frag = true }, true },
	{ "v4/later-fragment", v4_later_frag, { .family = 4, .dst = V4D, .proto = P_UDP, .frag = true, .later = true }, false },
	{ "v4/last-fragment", v4_last_frag, { .family = 4, .dst = V4D, .proto = P_UDP, .frag = true, .later = true }, false },
	{ "v4/later-fragment-no-payload", v4_later_frag_empty, { .family = 4, .dst = V4D, .proto = P_TCP, .frag = true, .later = true }, false },
	{ "v4/tiny-first-fragment", v4_tiny_first_frag, DENY, false },
	{ "v6/udp", v6_udp, OK6(V6D, P_UDP, 53), true },
	{ "v6/icmpv6-no-ports", v6_icmp, OK6(V6D, P_ICMPV6, 0), false },
	{ "v6/no-next-header", v6_none, OK6(V6D, P_NONE, 0), false },
	{ "v6/v4-mapped-is-ipv4", v6_mapped, OK4(V4D, P_UDP, 53), true },
	{ "v6/hop-by-hop", v6_hop_tcp, OK6(V6D, P_TCP, 443), true },
	{ "v6/routing-header-header-daddr", v6_srh, OK6(V6D, P_UDP, 53), true },
	{ "v6/dest-routing-dest", v6_dest_rt_dest, OK6(V6D, P_UDP, 5353), true },
	{ "v6/ah", v6_ah, OK6(V6D, P_TCP, 443), true },
	{ "v6/hop-dest-ah-dest", v6_hop_ah_dest, OK6(V6D, P_UDP, 123), true },
	{ "v6/chain-15", v6_chain15, OK6(V6D, P_UDP, 53), false },
	{ "v6/chain-16-the-walk-limit", v6_chain16, OK6(V6D, P_UDP, 53), true },
	{ "v6/chain-17-beyond-the-limit", v6_chain17, DENY, false },
	{ "v6/chain-38", v6_chain40, DENY, false },
	{ "v6/first-fragment", v6_first_frag, { .family = 6, .dst = V6D, .proto = P_UDP, .dport = 53, .frag = true }, true },
	{ "v6/later-fragment", v6_later_frag, { .family = 6, .dst = V6D, .proto = P_UDP, .frag = true, .later = true }, false },
	{ "v6/last-fragment", v6_last_frag, { .family = 6, .dst = V6D, .proto = P_TCP, .frag = true, .later = true }, false },
	/* both fragments of one datagram: the same fragment key (protocol 60) */
	{ "v6/hop-first-fragment-dest", v6_hop_first_frag, { .family = 6, .dst = V6D, .proto = P_UDP, .dport = 53, .frag = true, .frag_proto = P_DEST }, true },
	{ "v6/hop-later-fragment-dest", v6_hop_later_frag, { .family = 6, .dst = V6D, .proto = P_DEST, .frag = true, .later = true, .frag_proto = P_DEST }, false },
	{ "v6/later-fragment-16th-header", v6_deep_later_frag, { .family = 6, .dst = V6D, .proto = P_UDP, .frag = true, .later = true }, false },
	{ "v6/first-fragment-chain-beyond-the-limit", v6_deep_first_frag, DENY, false },
	{ "v6/tiny-first-fragment", v6_tiny_first_frag, DENY, false },
	{ "not-ip/arp", arp, { .not_ip = true }, false, 0x0806 },
};

static int failed, passed;

static const char *mode = "";	/* "" reading in place, "load-bytes/" through the helper only */

static void report(const char *name, const char *sub, const char *why)
{
	if (why) {
		printf("FAIL: parser/%s%s%s: %s\n", mode, name, sub, why);
		failed++;
	} else {
		printf("PASS: parser/%s%s%s\n", mode, name, sub);
		passed++;
	}
}

/* Runs the parser on p's first len bytes; *o what it parsed. */
static int run(int prog_fd, int out_fd, const struct pb *p, size_t len, uint16_t ethertype,
	       struct parser_out *o)
{
	uint8_t frame[sizeof(p->b) + 14] = {};
	uint32_t zero = 0, runs;
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int ret;

	if (bpf_map_lookup_elem(out_fd, &zero, o))
		return -errno;
	runs = o->runs;
	memset(frame, 0x02, 12);	/* locally administered MACs */
	frame[12] = ethertype >> 8, frame[13] = ethertype & 0xff;
	memcpy(frame + 14, p->b, len);
	opts.data_in = frame;
	opts.data_size_in = 14 + len;
	ret = bpf_prog_test_run_opts(prog_fd, &opts);
	if (ret)
		return ret;
	if (bpf_map_lookup_elem(out_fd, &zero, o))
		return -errno;
	if (o->runs != runs + 1)
		return -ESRCH;	/* the program did not run to the end */
	return opts.retval == 1 ? 0 : -EPROTO;
}

/* The parser asked for the source (the ingress program) or not (the backstop: only a fragment's). */
static bool src_wanted;

static const char *check(const struct parser_out *o, const struct want *w, int ipver, char *buf,
			 size_t len)
{
	uint8_t a[16] = {};
	char got[64];

	if (w->not_ip)
		return o->ip ? "parsed as IP" : NULL;
	if (!o->ip)
		return "not parsed as IP";
	if (w->deny)
		return o->ok ? "parsed, want a denial (fail closed)" : NULL;
	if (!o->ok)
		return "denied, want parsed";
	addr(w->family == 4 ? AF_INET : AF_INET6, w->dst, a);
	inet_ntop(o->family == EGRESS_FAM_V4 ? AF_INET : AF_INET6, o->dst, got, sizeof(got));
	if (o->family != (w->family == 4 ? EGRESS_FAM_V4 : EGRESS_FAM_V6) ||
	    memcmp(o->dst, a, w->family == 4 ? 4 : 16) || o->proto != w->proto ||
	    o->dport != w->dport || o->frag != w->frag || o->later_frag != w->later ||
	    (w->frag && o->frag_proto != (w->frag_proto ? w->frag_proto : w->proto))) {
		snprintf(buf, len, "got family %u dst %s proto %u dport %u frag %u later %u key "
			 "proto %u, want family %d dst %s proto %u dport %u frag %d later %d", o->family,
			 got, o->proto, o->dport, o->frag, o->later_frag, o->frag_proto, w->family,
			 w->dst, w->proto, w->dport, w->frag, w->later);
		return buf;
	}
	/* every case's packet comes from 10.0.0.1 or 2001:db8::1 */
	memset(a, 0, sizeof(a));
	if (src_wanted || o->frag)
		addr(ipver == 4 ? AF_INET : AF_INET6, ipver == 4 ? "10.0.0.1" : "2001:db8::1", a);
	if (memcmp(o->src, a, sizeof(a))) {
		inet_ntop(ipver == 4 ? AF_INET : AF_INET6, o->src, got, sizeof(got));
		snprintf(buf, len, "source %s, want %s", got,
			 src_wanted || o->frag ? (ipver == 4 ? "10.0.0.1" : "2001:db8::1") : "none (zero)");
		return buf;
	}
	return NULL;
}

/*
 * The whole table on the parser built with direct (packet.bpf.h's
 * PACKET_DIRECT): reading the linear part in place where it holds the
 * bytes, or bpf_skb_load_bytes only, the path of paged data.
 */
static int run_table(bool direct, bool want_src)
{
	struct test_parser *skel;
	int prog_fd, out_fd;

	mode = !direct ? "load-bytes/" : want_src ? "" : "no-source/";
	src_wanted = want_src;
	skel = test_parser__open();
	if (skel) {
		skel->rodata->direct = direct;
		skel->rodata->want_src = want_src;
		if (test_parser__load(skel)) {
			test_parser__destroy(skel);
			skel = NULL;
		}
	}
	if (!skel) {
		report("load", "", strerror(errno));
		return -1;
	}
	prog_fd = bpf_program__fd(skel->progs.test_parser);
	out_fd = bpf_map__fd(skel->maps.parser_out);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		struct parser_out o;
		struct pb p = {};
		char why[256], sub[32];
		uint16_t et;
		int ret;

		c->build(&p);
		et = c->ethertype ? c->ethertype : (p.b[0] >> 4) == 6 ? 0x86dd : 0x0800;
		ret = run(prog_fd, out_fd, &p, p.n, et, &o);
		if (ret) {
			snprintf(why, sizeof(why), "test run: %s", strerror(-ret));
			report(c->name, "", why);
			continue;
		}
		report(c->name, "", check(&o, &c->w, p.b[0] >> 4, why, sizeof(why)));
		if (!c->cuts)
			continue;
		/*
		 * Cut at each header's start, one byte in, one byte before its end,
		 * and inside the ports.  Not inside the fixed IP header (the first):
		 * BPF_PROG_TEST_RUN refuses such a packet (EINVAL), as the stack
		 * refuses to send one (raw_send_hdrinc, rawv6_send_hdrinc).
		 */
		size_t cut[4 * MAXHDR + 4];
		int ncut = 0, bad = 0;

		for (int h = 1; h < p.nhdr; h++) {
			if (p.hdr[h] >= p.l4 + 4)
				break;
			cut[ncut++] = p.hdr[h];
			cut[ncut++] = p.hdr[h] + 1;
			if (p.hdr_end[h] - 1 < p.l4 + 4)
				cut[ncut++] = p.hdr_end[h] - 1;
		}
		cut[ncut++] = p.l4 + 2;
		for (int k = 0; k < ncut; k++) {
			const struct want deny = { .deny = true };

			ret = run(prog_fd, out_fd, &p, cut[k], et, &o);
			snprintf(sub, sizeof(sub), "/cut-at-%zu", cut[k]);
			if (ret) {
				snprintf(why, sizeof(why), "test run: %s", strerror(-ret));
				report(c->name, sub, why);
				bad++;
			} else if (check(&o, &deny, p.b[0] >> 4, why, sizeof(why))) {
				report(c->name, sub, why);
				bad++;
			}
		}
		/* one line for the cuts that passed, so that a case is not hundreds of lines */
		snprintf(sub, sizeof(sub), "/%d-cuts-denied", ncut - bad);
		if (!bad)
			report(c->name, sub, NULL);
	}
	test_parser__destroy(skel);
	return 0;
}

int main(void)
{
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	run_table(true, true);
	run_table(false, true);
	run_table(true, false);
	printf("# parser: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * consts.h - the UAPI constants vmlinux.h lacks (macros in the kernel's
 * headers, not types or enums, so BTF does not carry them), and the
 * programs' verdicts.  BPF side only: included by the programs in bpf/ after
 * vmlinux.h.  Constants vmlinux.h has as enums (IPPROTO_*, SOCK_*,
 * BPF_TCP_*, TCP_*) are used from it.
 */
#ifndef EGRESS_CONSTS_H
#define EGRESS_CONSTS_H

/* What a cgroup program returns (the kernel's 0/1): cilium's SYS_REJECT/SYS_PROCEED. */
#define VERDICT_DENY	0	/* refused: EPERM, or the errno set by bpf_set_retval() */
#define VERDICT_ALLOW	1

/* errno */
#define EPERM		1
#define ECONNABORTED	103

/* socket families, levels and options */
#define AF_INET			2
#define AF_INET6		10
#define IPPROTO_ICMPV6		58
#define SOL_IP			0
#define SOL_IPV6		41
#define IP_OPTIONS		4
#define IPV6_2292RTHDR		5
#define IPV6_2292PKTOPTIONS	6
#define IPV6_RTHDR		57

/* IPv4 options */
#define IPOPT_END	0
#define IPOPT_NOOP	1
#define IPOPT_LSRR	0x83
#define IPOPT_SSRR	0x89

/* packets */
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IP_MF		0x2000
#define IP_OFFSET	0x1fff
#define NEXTHDR_HOP	0
#define NEXTHDR_ROUTING	43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH	51
#define NEXTHDR_DEST	60

#endif /* EGRESS_CONSTS_H */

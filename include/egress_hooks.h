/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * egress_hooks.h - the one table of the hooks egress attaches to a bound
 * cgroup.  Included by include/egress.h, so by both sides:
 *   - egress.h:          enum egress_hook (the numbers are ABI: never renumber)
 *   - bpf/egress.bpf.c:  each program's declaration, with its SEC() name
 *   - user/state.c:      egress_hooks[], pin names and attach types
 *   - user/egressd.c:    hook_prog(), the skeleton's program of a hook
 *   - tests/unit/test_hooks.c: the built object agrees (section, attach type)
 * Adding a hook is one row here and its program in bpf/egress.bpf.c.
 *
 * X(NAME, number, pin name, attach type, program, SEC name, context type)
 */
#ifndef EGRESS_HOOKS_H
#define EGRESS_HOOKS_H

#define EGRESS_HOOK_TABLE(X)								\
	X(CONNECT4, 0, connect4, BPF_CGROUP_INET4_CONNECT, egress_connect4,		\
	  "cgroup/connect4", struct bpf_sock_addr)					\
	X(CONNECT6, 1, connect6, BPF_CGROUP_INET6_CONNECT, egress_connect6,		\
	  "cgroup/connect6", struct bpf_sock_addr)					\
	X(SENDMSG4, 2, sendmsg4, BPF_CGROUP_UDP4_SENDMSG, egress_sendmsg4,		\
	  "cgroup/sendmsg4", struct bpf_sock_addr)					\
	X(SENDMSG6, 3, sendmsg6, BPF_CGROUP_UDP6_SENDMSG, egress_sendmsg6,		\
	  "cgroup/sendmsg6", struct bpf_sock_addr)					\
	/* socket types a deny-default policy refuses */				\
	X(SOCK_CREATE, 4, sock_create, BPF_CGROUP_INET_SOCK_CREATE, egress_sock_create,	\
	  "cgroup/sock_create", struct bpf_sock)					\
	/* source routing */								\
	X(SETSOCKOPT, 5, setsockopt, BPF_CGROUP_SETSOCKOPT, egress_setsockopt,		\
	  "cgroup/setsockopt", struct bpf_sockopt)					\
	/* cgroup_skb backstop: every packet */						\
	X(EGRESS, 6, egress, BPF_CGROUP_INET_EGRESS, egress_skb,			\
	  "cgroup_skb/egress", struct __sk_buff)					\
	/* TCP SYNs of inbound connections */						\
	X(INGRESS, 7, ingress, BPF_CGROUP_INET_INGRESS, egress_ingress,		\
	  "cgroup_skb/ingress", struct __sk_buff)

/* Programs attached to each bound cgroup: the table's rows. */
#define EGRESS_HOOK_ONE_(N, num, name, type, prog, sec, ctx) + 1
#define EGRESS_NHOOKS (0 EGRESS_HOOK_TABLE(EGRESS_HOOK_ONE_))

#endif /* EGRESS_HOOKS_H */

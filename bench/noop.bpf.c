// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* noop.bpf.c - the floor: programs on every hook egress uses that allow everything and do
 * nothing else, to split egress's cost into the kernel's hook overhead and
 * egress's own program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4") int noop_connect4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/connect6") int noop_connect6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg4") int noop_sendmsg4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg6") int noop_sendmsg6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sock_create") int noop_sock_create(struct bpf_sock *sk) { return 1; }
SEC("cgroup/setsockopt") int noop_setsockopt(struct bpf_sockopt *ctx) { return 1; }
SEC("cgroup_skb/egress") int noop_egress(struct __sk_buff *skb) { return 1; }
SEC("cgroup_skb/ingress") int noop_ingress(struct __sk_buff *skb) { return 1; }

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* noop.bpf.c - the floor: sock_addr programs that allow everything and do
 * nothing else, to split egress's cost into the kernel's hook overhead and
 * egress's own program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4") int noop_connect4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/connect6") int noop_connect6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg4") int noop_sendmsg4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg6") int noop_sendmsg6(struct bpf_sock_addr *ctx) { return 1; }

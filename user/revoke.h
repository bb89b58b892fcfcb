/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * revoke.h - revoking established connections after a policy change.
 * Included by bpf/revoke.bpf.c (the map value below) and by user space
 * (the API).  The kernel side walks TCP sockets (iter/tcp) and destroys
 * those of affected cgroups whose peer the policies on their path now deny.
 */
#ifndef EGRESS_REVOKE_H
#define EGRESS_REVOKE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define REVOKE_DEPTH 8	/* bound cgroups on one path that are decided */

/* revoke_cgroups value: the bindings on a cgroup's path, outermost first. */
struct revoke_path {
	__u32 n;
	__u32 pad;
	__u32 policy[REVOKE_DEPTH];
	__u64 bound[REVOKE_DEPTH];	/* the bound cgroup of policy[i] */
};

#ifndef __bpf__
#include <stddef.h>
#include <stdint.h>

struct egress_state;

/* What changed: the cgroups bound to these policies, and/or one cgroup's binding. */
struct revoke_scope {
	const uint32_t *policies;
	size_t npolicies;
	uint64_t cgroup_id;	/* 0: none */
};

struct revoke_stats {
	unsigned int cgroups;	/* affected cgroups (bound or below a bound one) */
	unsigned int netns;	/* network namespaces walked */
	unsigned long long checked;	/* their TCP sockets decided */
	unsigned long long revoked;	/* destroyed */
};

/*
 * After a change that can narrow a policy (a rule edit, apply, attach to
 * another policy, a mode or default change, a directory or etcd update):
 * resets every established TCP connection of an affected cgroup whose peer
 * the policies bound on its path now deny, in the caller's network
 * namespace and in each one that holds a process of an affected cgroup.
 * Connections still allowed are untouched.  Call with the state locked,
 * after the change reached the kernel.  Returns 0 or -errno (one line in
 * err); stats may be NULL.
 */
int revoke_after_change(struct egress_state *st, const struct revoke_scope *scope,
			struct revoke_stats *stats, char *err, size_t errlen);

#endif /* __bpf__ */
#endif

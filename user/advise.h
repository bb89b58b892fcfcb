/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * advise.h - 'egressctl advise': the allow rules that would have permitted
 * what a cgroup subtree was denied (or audited), from the destinations the
 * kernel recorded in egress_seen.  Pure code (no BPF): included by
 * egressctl.c and the unit tests.
 */
#ifndef EGRESS_ADVISE_H
#define EGRESS_ADVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "egress.h"
#include "policy.h"

/* One entry of egress_seen. */
struct seen_rec {
	struct egress_seen_key key;
	struct egress_seen val;
};

/* "30s", "10m", "2h", "1d" in nanoseconds; -EINVAL with a reason naming the input. */
int advise_duration(const char *s, uint64_t *ns, char *err, size_t errlen);

/*
 * A policy name from a cgroup directory's basename: characters a name may
 * not have become '-', leading ones that are not letters or digits are
 * dropped, at most EGRESS_NAME_MAX - 1 characters; "advised" if nothing is
 * left.  buf has EGRESS_NAME_MAX bytes.
 */
void advise_default_name(const char *dir, char *buf);

/*
 * Which records count: those of a cgroup in ids (sorted: the cgroup and
 * its descendants), by the calling task's cgroup or the bound one, last
 * seen at or after since_boot_ns (boot-time clock; 0: all).
 */
bool advise_match(const struct seen_rec *r, const uint64_t *ids, size_t nids, uint64_t since_boot_ns);

struct advise_out {
	const char *name;	/* the policy the file writes */
	const char *header;	/* the first comment line (what was asked), or NULL */
	const struct policy *base;	/* NAME as it exists (its settings and rules are kept), or NULL */
	/* the name of a policy id, for the comments; NULL: "#id" */
	const char *(*policy_name)(uint32_t id, void *ctx);
	void *ctx;
};

/*
 * Prints a policy file 'egressctl apply -f' accepts: 'policy add NAME'
 * (with base's settings and rules when it exists, else --default deny),
 * then one allow rule per distinct destination, protocol and port of recs
 * (already matched), in canonical order, each after a comment with its
 * count (denied, audited) and process names.  A denial seen by several
 * bound cgroups of one path counts once.  Records with no destination
 * (sock_create, setsockopt) are comments only.  Returns the number of
 * advised rules.
 */
int advise_print(FILE *out, const struct seen_rec *recs, size_t n, const struct advise_out *o);

#endif

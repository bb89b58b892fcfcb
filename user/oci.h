/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * oci.h - what 'egressctl oci-hook' reads from an OCI runtime: the state
 * JSON on stdin and the bundle's config.json (jansson; pure, fuzzed).
 */
#ifndef EGRESS_OCI_H
#define EGRESS_OCI_H

#include <stdbool.h>
#include <stddef.h>

#include "egress.h"

#define OCI_ID_MAX EGRESS_OCI_ID_MAX
#define OCI_ANNOTATION "egress.policy"

struct oci_state {
	char id[OCI_ID_MAX];
	int pid;		/* 0 if absent (poststop) */
	char bundle[4096];
	char policy[EGRESS_NAME_MAX];	/* the annotation, "" if none */
};

struct oci_config {
	char policy[EGRESS_NAME_MAX];	/* the annotation, "" if none */
	bool own_netns;			/* a new network namespace */
	char netns_path[4096];		/* "network" with a path: joins that one */
	char risky_caps[128];		/* the capabilities that defeat egress, "" if none */
};

int oci_state_parse(const char *json, size_t len, bool need_pid, struct oci_state *out,
		    char *err, size_t errlen);
int oci_config_parse(const char *json, size_t len, struct oci_config *out, char *err, size_t errlen);

#endif

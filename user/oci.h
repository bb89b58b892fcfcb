/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * oci.h - what 'egressctl oci-hook' reads from an OCI runtime: the state
 * JSON on stdin and the bundle's config.json (jansson; the parsers are pure
 * and fuzzed), and what the hook derives from them.
 *
 * Keys are read as the runtime reads them.  runc (Go's encoding/json)
 * matches a struct's keys case-insensitively (and folds K, ſ, ı, İ to
 * ASCII) with the last match winning; a key that differs from the one
 * read here only in that way is refused, and so are duplicate keys, so
 * that both readers see the same single value.
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

/* One entry of "mounts" (strings owned by the config; "" when absent). */
struct oci_mount {
	const char *destination, *type, *source;
	bool bind;		/* type "bind", or option "bind"/"rbind" */
	bool rbind;		/* option "rbind": the mounts below the source too */
	bool ro;		/* option "ro": the top mount read-only */
	bool rro;		/* option "rro": read-only recursively */
};

struct oci_config {
	char policy[EGRESS_NAME_MAX];	/* the annotation, "" if none */
	bool own_netns;			/* a new network namespace */
	char netns_path[4096];		/* "network" with a path: joins that one */
	bool own_mountns;		/* "mount" namespace (new or joined) */
	bool own_cgroupns;		/* "cgroup" namespace */
	char risky_caps[128];		/* the capabilities that defeat egress, "" if none */
	struct oci_mount *mounts;
	size_t nmounts;
	void *json;			/* keeps the mounts' strings; oci_config_free */
};

int oci_state_parse(const char *json, size_t len, bool need_pid, struct oci_state *out,
		    char *err, size_t errlen);
int oci_config_parse(const char *json, size_t len, struct oci_config *out, char *err, size_t errlen);
void oci_config_free(struct oci_config *cfg);
/*
 * Whether key is what Go's encoding/json matches to the field canon: equal
 * after folding ASCII case and K (U+212A), ſ (U+017F), ı (U+0131) and
 * İ (U+0130) to their ASCII letters.
 */
bool oci_key_folds_to(const char *key, const char *canon);

/*
 * No network namespace of its own, or a path to the runtime's (the host's)
 * one.  A path that cannot be compared counts as the host's: fail closed.
 */
bool oci_host_netns(const struct oci_config *cfg);
/* The key of egress_oci: the id and an FNV-1a of the bundle path (two runtimes may use one id). */
void oci_key(struct egress_oci_key *key, const struct oci_state *os);

#endif

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: the OCI state (stdin of the hook) and a bundle's
 * config.json.  Invariants: an accepted state has an id and a pid; an
 * accepted config has no top-level key that runc would read as one of the
 * fields the hook reads, spelled otherwise (runc's case-insensitive keys).
 */
#include <stdint.h>
#include <string.h>
#include <jansson.h>

#include "oci.h"

static const char *const top[] = { "process", "linux", "mounts", "annotations" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_state st;
	struct oci_config cfg;
	char err[256];

	if (oci_state_parse((const char *)data, size, true, &st, err, sizeof(err)) == 0 &&
	    (st.pid <= 0 || !st.id[0] || strlen(st.id) >= OCI_ID_MAX))
		__builtin_trap();
	if (oci_config_parse((const char *)data, size, &cfg, err, sizeof(err)) == 0) {
		json_t *root = cfg.json, *v;
		const char *k;

		json_object_foreach(root, k, v)
			for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
				if (strcmp(k, top[i]) && oci_key_folds_to(k, top[i]))
					__builtin_trap();
		for (size_t i = 0; i < cfg.nmounts; i++)
			if (!cfg.mounts[i].destination || !cfg.mounts[i].type || !cfg.mounts[i].source)
				__builtin_trap();
		oci_config_free(&cfg);
	} else if (!err[0] || strchr(err, '\n')) {
		__builtin_trap();	/* a refusal is one line */
	}
	return 0;
}

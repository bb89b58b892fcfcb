// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: the OCI state (stdin of the hook) and a bundle's config.json. */
#include <stdint.h>
#include <string.h>

#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_state st;
	struct oci_config cfg;
	char err[256];

	if (oci_state_parse((const char *)data, size, true, &st, err, sizeof(err)) == 0 &&
	    (st.pid <= 0 || !st.id[0] || strlen(st.id) >= OCI_ID_MAX))
		__builtin_trap();
	oci_config_parse((const char *)data, size, &cfg, err, sizeof(err));
	return 0;
}

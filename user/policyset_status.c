// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * policyset_status.c - the pinned status of the policy set in force, as
 * egressd's policy-set source (policyset.c) writes it.  Apart from
 * policyset.c so that egressctl, which only reads it, does not link the
 * sources' libraries (libcurl for etcd, libcrypto for the digest): every
 * command's process start pays for each library it loads.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "policyset.h"
#include "state.h"

json_t *policyset_status(struct egress_state *st)
{
	char *buf = calloc(1, PS_STATUS_BYTES), path[PATH_MAX];
	json_t *o = NULL;

	state_pin_path(st, path, sizeof(path), "policy_set");
	if (buf && !state_record_read(path, buf)) {
		buf[PS_STATUS_BYTES - 1] = '\0';
		if (buf[0])
			o = json_loads(buf, 0, NULL);
	}
	free(buf);
	return o;
}

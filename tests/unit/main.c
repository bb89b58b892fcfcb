// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * main.c - the only main() of build/tests/unit_tests: runs every test file
 * as its own cmocka group (UNIT_GROUP in helpers.h), through cmocka's public
 * API.  With CMOCKA_MESSAGE_OUTPUT=TAP each group prints its plan and one
 * "ok"/"not ok" line per test; tests/run.sh counts those lines.
 */
#include "helpers.h"

int main(void)
{
	int (*const groups[])(void) = {
		parse_group, policy_group, cmdline_group, oci_group,
		advise_group, explain_group, events_group, store_group, options_group, hooks_group,
	};
	int failed = 0;

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		failed += groups[i]();
	return failed ? 1 : 0;
}

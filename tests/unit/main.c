// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * main.c - the only main() of build/tests/unit_tests: runs every test
 * table (parse, policy, cmdline) as one cmocka group, so the TAP output
 * has one plan and one "ok"/"not ok" line per test.
 */
#include "helpers.h"

int main(void)
{
	const struct { const struct CMUnitTest *t; size_t n; } tables[] = {
		{ parse_tests, parse_tests_count },
		{ policy_tests, policy_tests_count },
		{ cmdline_tests, cmdline_tests_count },
		{ advise_tests, advise_tests_count },
		{ explain_tests, explain_tests_count },
	};
	struct CMUnitTest *all;
	size_t n = 0, k = 0;
	int ret;

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		n += tables[i].n;
	all = calloc(n, sizeof(*all));
	if (!all)
		return 1;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (size_t j = 0; j < tables[i].n; j++)
			all[k++] = tables[i].t[j];
	ret = _cmocka_run_group_tests("egress_unit", all, n, NULL, NULL);
	free(all);
	return ret;
}

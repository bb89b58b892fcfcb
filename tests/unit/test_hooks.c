// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_hooks.c - the hook table (include/egress_hooks.h) and what is built
 * from it agree: each row's program is in the built object (egress.skel.h:
 * a missing one does not compile), in the row's section, with the row's
 * attach type; the object has no program the table lacks; user/state.c's
 * egress_hooks[] names and attach types are the row's.  The object is only
 * opened, never loaded: no privilege needed.
 */
#include "helpers.h"
#include "state.h"
#include "egress.skel.h"

static void hooks_match_object(void **unused)
{
	struct egress *skel = egress__open();
	struct bpf_program *p;
	int n = 0;

	assert_non_null(skel);
#define CHECK_ROW_(N, num, pin, atype, prog, sec, ctx)					\
	do {										\
		assert_int_equal(EGRESS_HOOK_##N, num);					\
		assert_string_equal(bpf_program__section_name(skel->progs.prog), sec);	\
		assert_int_equal(bpf_program__expected_attach_type(skel->progs.prog), atype); \
		assert_string_equal(egress_hooks[EGRESS_HOOK_##N].name, #pin);		\
		assert_int_equal(egress_hooks[EGRESS_HOOK_##N].type, atype);		\
	} while (0);
	EGRESS_HOOK_TABLE(CHECK_ROW_)
#undef CHECK_ROW_
	bpf_object__for_each_program(p, skel->obj)
		n++;
	assert_int_equal(n, EGRESS_NHOOKS);	/* every program has its row */
	assert_true(EGRESS_NHOOKS <= EGRESS_HOOK_REVOKE);	/* revoke is not attached */
	egress__destroy(skel);
}

static void hook_numbers_are_abi(void **unused)
{
	/* the numbers in counters, events and egress_seen: never renumber */
	assert_int_equal(EGRESS_HOOK_CONNECT4, 0);
	assert_int_equal(EGRESS_HOOK_CONNECT6, 1);
	assert_int_equal(EGRESS_HOOK_SENDMSG4, 2);
	assert_int_equal(EGRESS_HOOK_SENDMSG6, 3);
	assert_int_equal(EGRESS_HOOK_SOCK_CREATE, 4);
	assert_int_equal(EGRESS_HOOK_SETSOCKOPT, 5);
	assert_int_equal(EGRESS_HOOK_EGRESS, 6);
	assert_int_equal(EGRESS_HOOK_INGRESS, 7);
	assert_int_equal(EGRESS_HOOK_REVOKE, 8);
	assert_int_equal(EGRESS_HOOK_MAX, 16);
	assert_int_equal(EGRESS_NHOOKS, 8);
}

static const struct CMUnitTest hooks_tests[] = {
	cmocka_unit_test(hooks_match_object),
	cmocka_unit_test(hook_numbers_are_abi),
};

UNIT_GROUP(hooks)

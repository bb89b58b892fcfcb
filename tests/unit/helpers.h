/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * helpers.h - shared by the cmocka unit tests in tests/unit/.
 *
 * Exactly one file (main.c) defines main(); every other test file exports
 * its table of tests through the declarations below.
 */
#ifndef EGRESS_TEST_HELPERS_H
#define EGRESS_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egress.h"
#include "parse.h"
#include "policy.h"
#include "cmdline.h"

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define ANYP 0
#define ALLOW EGRESS_ALLOW
#define DENY EGRESS_DENY

/*
 * One cmocka group per file: the file's table X_tests[] and, after it,
 * UNIT_GROUP(X), which defines X_group() to run the table through cmocka's
 * public cmocka_run_group_tests_name().  main.c runs every group.
 */
#define UNIT_GROUP(x)                                                       \
	int x##_group(void)                                                 \
	{                                                                   \
		return cmocka_run_group_tests_name(#x, x##_tests, NULL, NULL); \
	}

int parse_group(void);
int policy_group(void);
int cmdline_group(void);
int oci_group(void);
int advise_group(void);
int explain_group(void);
int events_group(void);
int store_group(void);
int hooks_group(void);
int options_group(void);

/* A CIDR (or a plain address: /32, /128) that must parse. */
struct cidr cidr_of(const char *s);
/* A rule; lo/hi 0-65535 = any port. */
struct rule mkrule(const char *cidr, uint8_t action, uint8_t proto, uint16_t lo, uint16_t hi);
/* An empty policy. */
void pol_init(struct policy *p, const char *name, uint8_t dflt);
/* policy_append_rule, asserted. */
void pol_add(struct policy *p, const char *cidr, uint8_t action, uint8_t proto, uint16_t lo,
	     uint16_t hi);
/* policy_normalize + policy_compile, both asserted to succeed. */
void pol_compile(struct policy *p, struct compiled *c);

/*
 * Asserts that the reference semantics and the compiled entries both give
 * `want` for (dst, proto, port); the message names the case.
 */
#define expect_verdict(p, c, dst, proto, port, want) \
	expect_verdict_at(p, c, dst, proto, port, want, __FILE__, __LINE__)
void expect_verdict_at(const struct policy *p, const struct compiled *c, const char *dst,
		       uint8_t proto, uint16_t port, int want, const char *file, int line);

/* "allow 10.0.0.0/8 tcp 80-443" */
void rule_str(const struct rule *r, char *buf, size_t len);
/* Asserts two policies have the same default, errno and rules (in order). */
void assert_same_policy(const struct policy *a, const struct policy *b);

/* A small deterministic PRNG (xorshift64*). */
struct rng {
	uint64_t s;
};
uint64_t rng_next(struct rng *r);
uint32_t rng_below(struct rng *r, uint32_t n);	/* 0 .. n-1 */

/* Does s contain sub?  (for error messages) */
#define assert_contains(s, sub) assert_contains_at(s, sub, __FILE__, __LINE__)
void assert_contains_at(const char *s, const char *sub, const char *file, int line);

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cmdline.h - the words of egressctl's commands, parsed once for the
 * command line and for policy files (whose lines are those commands).
 */
#ifndef EGRESS_CMDLINE_H
#define EGRESS_CMDLINE_H

#include <stdbool.h>
#include <stdio.h>

#include "options.h"
#include "policy.h"

/* "allow|deny|remove CIDR [--proto P] [--port N|N-M] [--policy NAME]" */
struct rule_cmd {
	struct rule rule;
	const char *policy;	/* NULL: "default" */
};
int rule_cmd_parse(int argc, char **argv, struct rule_cmd *out, char *err, size_t errlen);
/* The words as given (the option table rule_words_spec), then checked. */
struct rule_words {
	const char *cidr, *proto, *port, *policy;
};
extern const struct opt_spec rule_words_spec[];
int rule_cmd_check(const struct rule_words *w, struct rule_cmd *out, char *err, size_t errlen);

/*
 * "policy add NAME [--default allow|deny] [--errno NAME] [--hint T] [--ping allow|deny]
 * [--mode enforce|audit]" (argv[0] = NAME)
 */
struct policy_cmd {
	const char *name;
	bool has_dflt, has_err;
	uint8_t dflt;
	uint16_t err;
	const char *hint;	/* NULL: not given */
	bool has_ping;
	bool ping;		/* ICMP ping sockets allowed */
	bool has_mode;
	bool audit;		/* --mode audit (else enforce) */
};
int policy_add_parse(int argc, char **argv, struct policy_cmd *out, char *err, size_t errlen);
/* The words as given (policy_words_spec; ping and mode -1 when not given), then checked. */
struct policy_words {
	const char *name, *dflt, *errname, *hint;
	int ping, mode;		/* POLICY_PING_*, POLICY_MODE_* */
};
enum { POLICY_PING_ALLOW, POLICY_PING_DENY };
enum { POLICY_MODE_ENFORCE, POLICY_MODE_AUDIT };
#define POLICY_WORDS_INIT { .ping = -1, .mode = -1 }
extern const struct opt_spec policy_words_spec[];
int policy_add_check(const struct policy_words *w, struct policy_cmd *out, char *err, size_t errlen);

/*
 * Splits one line into words: blanks separate, '...' and "..." quote,
 * backslash escapes in "..." and outside quotes, '#' outside a word starts
 * a comment.  *argv is one allocation (free it); -EINVAL with a reason.
 */
int split_words(const char *line, char ***argv, int *argc, char *err, size_t errlen);
/* The same for the first len bytes of line (or up to a NUL before them). */
int split_words_n(const char *line, size_t len, char ***argv, int *argc, char *err, size_t errlen);
/* split_words_n into *buf, grown as needed (*cap bytes) and kept for the next line: argv is *buf. */
int split_words_into(const char *line, size_t len, char ***buf, size_t *cap, int *argc, char *err,
		     size_t errlen);

/*
 * The whole of a file ("-": standard input), NUL-terminated, at most limit
 * bytes.  NULL with errno set (EFBIG when it is larger).
 */
char *read_text(const char *path, size_t limit, size_t *len);

/* A policy file: the policies it names, each wholly described. */
struct policy_file {
	struct policy *pol;
	bool *declared;		/* the file has "policy add" for it */
	int *line;		/* the first line that names it */
	size_t n;
};
/*
 * Errors are "LINE: reason" (the caller prefixes the file name).  Every
 * rule line names its policy (--policy): a file never edits 'default' by
 * omission.
 */
int policy_file_parse(const char *text, struct policy_file *out, char *err, size_t errlen);
void policy_file_free(struct policy_file *f);
/* The lines that recreate p (canonical order, stable). */
void policy_export(FILE *f, const struct policy *p);
/* One rule as a line of a policy file (of the policy named policy). */
void rule_export(FILE *f, const struct rule *r, const char *policy);

/*
 * Whether outer denies a destination that inner allows: a cgroup bound to
 * inner below one bound to outer is decided by both, so it cannot reach
 * it.  1 with an example (dst a host address, proto, port; port 0 for
 * ICMP and other protocols), 0 when inner allows nothing outer denies,
 * -E2BIG when the policies are too large to compare here.
 */
int policy_narrows(const struct policy *outer, const struct policy *inner, struct cidr *dst,
		   uint8_t *proto, uint16_t *port);

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * events.h - denial events as JSON objects, log lines and hints.  egressd
 * formats each ring-buffer event once (event_fields), serialises it once
 * (one JSON line for its log and its followers) and writes text and hints
 * from the fields; egressctl events reads the followers' JSON lines back.
 */
#ifndef EGRESS_EVENTS_H
#define EGRESS_EVENTS_H

#include <limits.h>
#include <stdio.h>
#include <jansson.h>

#include "state.h"

enum log_format { LOG_JSON, LOG_TEXT, LOG_HINT };

/* Shown when a policy has no hint of its own. */
#define DEFAULT_HINT "Connection to {dst}:{dport} ({proto}) was blocked by the platform firewall " \
		     "(policy {policy})."

struct event_ctx {
	struct egress_state *st;
	long long boot_to_real_ns;	/* CLOCK_REALTIME - CLOCK_BOOTTIME */
	struct {
		unsigned long long id;
		char path[PATH_MAX];
	} cg_cache[64];
	unsigned int cg_next;
};

void event_ctx_init(struct event_ctx *ctx, struct egress_state *st);
/* Re-reads the clock offset (the wall clock may be stepped). */
void event_ctx_clock(struct event_ctx *ctx);
const char *hook_name(unsigned int hook);
int parse_log_format(const char *s, enum log_format *out);

/*
 * Copies a string an untrusted process controls (a comm, a cgroup name) so
 * that it is safe everywhere it goes: valid UTF-8 (jansson refuses
 * anything else), no control characters (a newline would forge a log line).
 * Invalid bytes and control characters become \xHH, a backslash \\;
 * valid UTF-8 is kept.  in is NUL-terminated or inlen bytes long, whichever
 * ends first.  out is always terminated; 4 * inlen + 1 bytes always suffice.
 */
void untrusted_str(const char *in, size_t inlen, char *out, size_t outlen);

/* An event's fields, formatted as they are printed (one JSON key each). */
struct event_fields {
	char ts[64];
	char cgroup[PATH_MAX * 4 + 1];	/* through untrusted_str; "" once removed */
	long long cgroup_id, bound_cgroup_id, pid, tgid, uid, dport, errno_value, suppressed;
	char comm[16 * 4 + 1];
	char hook[16];
	bool v6;			/* the event's family: IPv6 */
	char proto[16], dst[64], policy[EGRESS_NAME_MAX], rule[96], errname[24];
	char hint[EGRESS_HINT_MAX + 256];
	bool audit;			/* verdict audit, else deny */
	char detail[48];		/* setsockopt: the option refused; "" none (no JSON field) */
};
/* Formats e: its policy's name and hint, cgroup path, rule, hint filled in. */
void event_fields(struct event_ctx *ctx, const struct egress_event *e, struct event_fields *f);
/* The fields as a JSON object (a new reference), and as one compact line (malloc'd). */
json_t *event_fields_json(const struct event_fields *f);
char *event_fields_line(const struct event_fields *f);
/* event_fields as a JSON object (a new reference). */
json_t *event_json(struct event_ctx *ctx, const struct egress_event *e);
/* One line for people (fmt text or hint), or line itself (json: event_fields_line). */
void event_write(const struct event_fields *f, enum log_format fmt, const char *line, FILE *out);
/* The same from an event's JSON object (a follower's line, read back). */
void event_print(json_t *ev, enum log_format fmt, FILE *out);

#endif

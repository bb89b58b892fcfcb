/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * events.h - denial events as JSON objects, log lines and hints.  egressd
 * turns each ring-buffer event into one JSON object; the log line, the
 * followers' lines and egressctl's text and hint formats all derive from it.
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

/* The event as a JSON object (a new reference), hint filled in. */
json_t *event_json(struct event_ctx *ctx, const struct egress_event *e);
/* One line for people, from an event's JSON object. */
void event_print(json_t *ev, enum log_format fmt, FILE *out);

#endif

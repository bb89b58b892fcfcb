/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* events.h - denial events as log lines (JSON or text). */
#ifndef EGRESS_EVENTS_H
#define EGRESS_EVENTS_H

#include <stdio.h>

#include "state.h"

enum log_format { LOG_JSON, LOG_TEXT };

struct event_ctx {
	struct egress_state *st;
	long long boot_to_real_ns;	/* CLOCK_REALTIME - CLOCK_BOOTTIME */
	struct {
		unsigned long long id;
		char path[256];
	} cg_cache[64];
	unsigned int cg_next;
};

void event_ctx_init(struct event_ctx *ctx, struct egress_state *st);
/* Re-reads the clock offset (the wall clock may be stepped). */
void event_ctx_clock(struct event_ctx *ctx);
const char *hook_name(unsigned int hook);
void event_print(struct event_ctx *ctx, const struct egress_event *e, enum log_format fmt, FILE *out);

#endif

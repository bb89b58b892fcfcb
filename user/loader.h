/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * loader.h - egressd's load of bpf/egress.bpf.c into the pin directory
 * (included by egressd.c): fresh pins, or the take-over of those an earlier
 * egressd left.  Part of the state layer (state.h).
 */
#ifndef EGRESS_LOADER_H
#define EGRESS_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "state.h"

/* The sizes and rate limits of fresh pins (pinned ones keep theirs). */
struct loader_opts {
	const char *pin_dir;
	uint32_t max_rules, max_policies, ringbuf_bytes, max_cgroups, max_seen;
	uint32_t event_rate, event_burst;	/* the programs' own: new ones take effect */
};

struct egress;
struct loader {
	struct egress *skel;
	bool fresh;	/* the pins were created, not taken over */
	int updated;	/* pinned links switched to the programs just loaded */
};

/*
 * Loads the programs; the caller holds the writers' lock.  Fresh pins are
 * created with o's sizes; pinned ones are taken over when their ABI is
 * this build's (their maps reused as they are, refused otherwise).  Then,
 * in that order: st is opened, fill(st, fresh, ctx) writes the policies,
 * the programs are pinned, every pinned link is switched to them (a
 * binding lacking a hook gets it) and gc runs.  Logs what fails; -errno.
 */
int loader_take_over(struct loader *ld, const struct loader_opts *o, struct egress_state *st,
		     int (*fill)(struct egress_state *st, bool fresh, void *ctx), void *ctx);
/* Frees the loaded object (the pins stay). */
void loader_close(struct loader *ld);

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* metrics.h - Prometheus metrics of egressd (libmicrohttpd). */
#ifndef EGRESS_METRICS_H
#define EGRESS_METRICS_H

#include <stdio.h>

#include "state.h"

struct metrics;

/* Serves GET /metrics and /healthz on HOST:PORT in a thread of its own. */
int metrics_start(struct metrics **m, const char *addr, struct egress_state *st,
		  unsigned int cgroup_limit, char *err, size_t errlen);
void metrics_stop(struct metrics *m);
/* /healthz answers 503 "not enforcing: PROBLEM" until PROBLEM is NULL again. */
void metrics_set_health(struct metrics *m, const char *problem);
/* The Prometheus text exposition (also used by tests through egressd). */
void metrics_write(FILE *out, struct egress_state *st, unsigned int cgroup_limit);

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * etcd.h - the policy set from etcd v3 (its JSON gateway, libcurl): one key
 * per policy under a prefix.  A thread lists, then watches from the listed
 * revision, and publishes each new state of the prefix as a whole; the
 * main thread takes it (etcd_take) and applies it.  Included by policyset.c.
 */
#ifndef EGRESS_ETCD_H
#define EGRESS_ETCD_H

#include <stddef.h>

struct etcd;
struct ps_texts;
struct policyset_opts;

/* Checks the options; notify_fd (an eventfd) is written to at each new state. */
int etcd_open(struct etcd **e, const struct policyset_opts *o, int notify_fd, char *err,
	      size_t errlen);
/* Starts the watching thread (members down: it retries with backoff). */
int etcd_start(struct etcd *e);
/* 1 and the prefix's keys and values in t if a new state came since the last take, else 0. */
int etcd_take(struct etcd *e, struct ps_texts *t);
/* Lists again (SIGHUP), and publishes the result even if unchanged. */
void etcd_resync(struct etcd *e);
void etcd_close(struct etcd *e);

#endif

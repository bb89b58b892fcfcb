/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * policyset.h - egressd's policy set: every policy of one source (a
 * directory, etcd), applied as one transaction, and its status pinned in
 * <pin dir>/policy_set for egressctl and the metrics.  Included by
 * egressd.c, etcd.c, egressctl.c and metrics.c.
 *
 * A set owns exactly the policies it names: a policy that leaves the set
 * is deleted, unless cgroups are bound to it (then it is retained until
 * they are gone).  Policies made by hand with egressctl are never touched,
 * unless the set names them (then the set takes them over).
 */
#ifndef EGRESS_POLICYSET_H
#define EGRESS_POLICYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "state.h"

/* One line on stderr, "egressd: ..." (etcd.c logs through it too). */
void ps_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The texts of a source: a file name or an etcd key, and its policy text. */
struct ps_text {
	char *name;
	char *text;
};
struct ps_texts {
	struct ps_text *v;
	size_t n;
};
int ps_texts_add(struct ps_texts *t, const char *name, const char *text, size_t len);
int ps_texts_copy(struct ps_texts *dst, const struct ps_texts *src);
void ps_texts_free(struct ps_texts *t);

struct policyset_opts {
	const char *file;	/* --policy-file: not a set (egressd applies it, before the set) */
	const char *dir;	/* --policy-dir */
	const char *etcd;	/* --etcd URL[,URL...] */
	const char *etcd_prefix, *etcd_cacert, *etcd_cert, *etcd_key;
};

/* --policy-dir or --etcd, not both; --etcd needs --etcd-prefix; a client cert needs its key. */
int policyset_opts_check(const struct policyset_opts *o, char *err, size_t errlen);

struct policyset;
/* No source (all NULL): *ps = NULL, and every call below is a no-op. */
int policyset_open(struct policyset **ps, const struct policyset_opts *o, struct egress_state *st,
		   char *err, size_t errlen);
/* Reads and applies the source once (a directory), or starts the watch (etcd). */
int policyset_start(struct policyset *ps);
/* The descriptor to poll for changes, -1 if none. */
int policyset_fd(const struct policyset *ps);
/* The epoll timeout: max_ms, or less when a change waits to be read. */
int policyset_timeout(const struct policyset *ps, int max_ms);
/* The descriptor is readable. */
void policyset_handle(struct policyset *ps);
/* Each round of the main loop: reads a settled change, drops retained policies no longer bound. */
void policyset_tick(struct policyset *ps);
/* SIGHUP: read the source again and apply it even if unchanged. */
void policyset_reload(struct policyset *ps);
void policyset_close(struct policyset *ps);

/*
 * Applies texts as the whole set of source (one transaction).  0, or an
 * error in err ("NAME:LINE: reason") and nothing changed.  Exposed for etcd.c
 * callers and tests through egressd.
 */
int policyset_apply(struct policyset *ps, struct ps_texts *t, bool force, char *err, size_t errlen);

/*
 * The pinned status of the set in force: {source, digest,
 * applied_timestamp, errors_total, last_error, policies, retained}; NULL
 * when no set was ever applied there.
 */
json_t *policyset_status(struct egress_state *st);
#define PS_STATUS_BYTES 65536	/* its pinned value: JSON, NUL-padded */

#endif

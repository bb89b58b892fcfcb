/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * state.h - egress's pinned state, shared by egressd and egressctl: the
 * state layer, the only code that touches a map file descriptor.
 *   pins.c      the pin directory, its lock, opening the pinned maps
 *   store.c     the policy store: policies, tries, host tables, the
 *               pinned source rules, the journal, the edit plan
 *   bindings.c  bind, unbind, owners, lost bindings, OCI records, gc, unload
 *   counters.c  counters, statistics, the denied destinations seen
 *   loader.c    egressd's load and take-over of the pins (loader.h)
 *
 * Pin directory layout:
 *   maps/<map name>         every map of bpf/egress.bpf.c
 *   progs/<hook>            the programs, for egressctl to attach
 *   links/<cgroup id>/<hook> one bpf_link per bound cgroup and hook
 *   store/<id>              a policy's rules, the source of truth (store.c)
 *   journal                 the policy store's journal (store.c)
 *   egressd/                the running egressd's lock and info (follow.h)
 * Writers serialise with flock() on the pin directory.
 */
#ifndef EGRESS_STATE_H
#define EGRESS_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <bpf/bpf.h>

#include "egress.h"
#include "policy.h"

#define EGRESS_DEFAULT_PIN_DIR "/sys/fs/bpf/egress"

struct hook_desc {
	const char *name;	/* pin name, and "hook" in events */
	enum bpf_attach_type type;
};
extern const struct hook_desc egress_hooks[EGRESS_NHOOKS];

enum state_map {
	M_POLICIES, M_INFO, M_BINDING, M_COUNTERS, M_STATS, M_CONFIG, M_EVENTS,
	M_RATE, M_RATE_SHARED, M_CG_DENIED, M_OCI, M_HOSTS, M_SEEN, M_EPOCH, M_LISTS, M_N,
};
extern const char *const state_map_names[M_N];

struct egress_state {
	char pin_dir[PATH_MAX];
	int dir_fd;
	int map_fd[M_N];
	struct egress_config cfg;
	int ncpus;
};

#define STATE_LOCK 1	/* take the writer lock */

/* A state with nothing open (state_open fills it; state_close accepts it). */
void state_init(struct egress_state *st);
/* The pin dir from --pin-dir, else EGRESS_PIN_DIR, else the default. */
const char *state_pin_dir(const char *opt);
int state_lock(const char *pin_dir, int *dir_fd, char *err, size_t errlen);
/* Opens the pinned maps.  -ENOENT: egress is not loaded there. */
int state_open(struct egress_state *st, const char *pin_dir, int flags, char *err, size_t errlen);
void state_close(struct egress_state *st);
void state_pin_path(const struct egress_state *st, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The pinned program of a hook (egress_hooks[] index): its info; -errno when not pinned. */
struct bpf_prog_info;
int state_prog_info(struct egress_state *st, int hook, struct bpf_prog_info *info);
/* A pinned map below the pin dir (e.g. "journal"): its fd and info; -errno when absent. */
struct bpf_map_info;
int state_pinned_map(const struct egress_state *st, const char *rel, struct bpf_map_info *info);
/*
 * What is missing for enforcement, in buf ("" if nothing): a program pin
 * gone, or a map pin gone or no longer the map st opened.
 */
void state_pins_problem(struct egress_state *st, char *buf, size_t len);
/*
 * Element 0 of the one-element array map pinned at path: a record
 * (egress_config, egressd's info, the policy set's status).  -errno.
 */
int state_record_read(const char *path, void *val);
/* Pins a new record of size bytes at path, whole (a fresh map renamed over the old one). */
int state_record_write(const char *path, const char *name, const void *val, size_t size);
/* Another BPF object's map (before its load) becomes st's pinned map m (revoke.c). */
struct bpf_map;
int state_reuse_map(struct egress_state *st, struct bpf_map *map, enum state_map m);
/* The event ring buffer (egress_events), each event handed to fn. */
struct ring_buffer;
struct ring_buffer *state_events_open(struct egress_state *st,
				      int (*fn)(void *ctx, void *data, size_t len), void *ctx);

/* Policies */
struct policy_ref {
	uint32_t id;
	char name[EGRESS_NAME_MAX];
};
int state_policies(struct egress_state *st, struct policy_ref **out, size_t *n);
int state_policy_id(struct egress_state *st, const char *name, uint32_t *id);
/* "unknown policy 'x'" in err when missing */
int state_policy_find(struct egress_state *st, const char *name, uint32_t *id, char *err, size_t errlen);
int state_policy_load(struct egress_state *st, uint32_t id, struct policy *p);
/* each(ctx, id) for the hit counter id of every stored rule of policy id and of its default. */
int state_policy_ids(struct egress_state *st, uint32_t id, void (*each)(void *ctx, uint32_t hit_id),
		     void *ctx);
/*
 * A policy's settings, name, hint and rule count (nrules; p->rules stays
 * NULL): from egress_policy_info and the store's header, no rule read.
 */
int state_policy_summary(struct egress_state *st, uint32_t id, struct policy *p);
/* A policy's egress_policy_info (name, hint, rule counts); -ENOENT if none. */
int state_policy_info(struct egress_state *st, uint32_t id, struct egress_policy_info *info);
/*
 * Makes the kernel decide with p, atomically: a change that touches one
 * trie entry is made in place, anything larger builds a new trie and swaps
 * it in.  *id == 0 creates the policy and sets *id.
 */
#define STORE_SWAP 1	/* always build a new trie (apply: no read-back to compare) */
int state_policy_store(struct egress_state *st, uint32_t *id, const struct policy *p,
		       int flags, char *err, size_t errlen);
/*
 * One rule edit (allow/deny: set r, remove: drop the rule with r's match)
 * from the policy store: only the rules at and around r's CIDR are read,
 * only the entries the edit changes are written, each atomically (a larger
 * change is swapped in whole).  -ENOENT (remove of a missing rule), -E2BIG
 * (full, or too many rules for one address) with the reason in err.
 */
int state_policy_edit(struct egress_state *st, uint32_t id, const struct rule *r, bool remove,
		      char *err, size_t errlen);
/*
 * The plan of one rule edit, pure (no map, no store): on op's sorted rules,
 * where r's CIDR's rules are, which one has r's match, the rules there
 * after the edit and how egress_policy_info's counts move.  kind says when
 * there is nothing to write.  -ENOMEM.  policy_plan_edit then gives the
 * entries to write; store_edit_in_place whether they go in place (else the
 * new version is swapped in whole).
 */
enum store_edit_kind {
	EDIT_CHANGE,	/* e->n rules after it; store_edit_rules writes e->size records */
	EDIT_SAME,	/* the rule is already so */
	EDIT_ABSENT,	/* remove of a rule that is not there */
	EDIT_FULL,	/* e->n rules would pass max_rules */
};
struct store_edit {
	enum store_edit_kind kind;
	size_t lo, hi;		/* op's rules at r's CIDR: [lo, hi) */
	size_t at;		/* the one with r's match, SIZE_MAX if none */
	size_t n;		/* rules after the edit */
	/*
	 * The new version's records: op's rules marked removed are carried
	 * over (as ndead of them) unless there are more than one in
	 * STORE_COMPACT_SHARE of the rules, or op names one gone: then they
	 * are dropped (size == n).
	 */
	size_t size, ndead;
	struct policy grp;	/* the rules at r's CIDR after it, sorted */
	int dallow, ddeny;	/* change of the allow and deny counts */
};
#define STORE_COMPACT_SHARE 8
#define STORE_EDIT_IN_PLACE_MAX 1024	/* entries; larger edits are swapped in whole */
int store_edit_plan(const struct policy *op, const struct rule *r, bool remove, uint32_t max_rules,
		    struct store_edit *e);
/* The new version: op's rules with [lo, hi) replaced by grp (e->size records into out). */
void store_edit_rules(const struct policy *op, const struct store_edit *e, struct rule *out);
bool store_edit_in_place(size_t nput, size_t ndel);
void store_edit_free(struct store_edit *e);
int state_policy_delete(struct egress_state *st, uint32_t id);
/*
 * Finishes what a writer killed during a store left (PIN_DIR/journal): the
 * policy info of the generation in force.  state_open does it, a reader
 * only when no writer holds the lock; every store and state_gc too.
 */
int state_repair(struct egress_state *st);
/* The same for a caller that holds the writers' lock (egressd's sweep): the epoch settled too. */
int state_repair_locked(struct egress_state *st);
/*
 * Applies a parsed policy file: checks every policy first (known or added
 * by the file, size, compilation) and changes nothing if one fails, then
 * replaces each, atomically.  A policy the file names only in rules keeps
 * its settings (default, errno, flags, hint).
 */
struct policy_file;
int state_apply(struct egress_state *st, struct policy_file *pf, char *err, size_t errlen);
int state_policy_counters(struct egress_state *st, uint32_t id, int hook, struct egress_counter *out);
uint64_t state_stat(struct egress_state *st, enum egress_stat s);
/* Adds to a statistic that user space keeps (EGRESS_STAT_DELIVERED). */
int state_stat_add(struct egress_state *st, enum egress_stat s, uint64_t n);

/*
 * What a scrape shows, each map read once (counters.c): the policies with
 * their info and per-hook counters, the statistics, lost bindings and the
 * per-cgroup denials.  metrics.c writes it; a new counter is a field here,
 * filled in state_snapshot, and a family in metrics.c.
 */
struct policy_counts {
	uint32_t id;
	char name[EGRESS_NAME_MAX];
	bool has_info;		/* info read (the policy was not deleted meanwhile) */
	struct egress_policy_info info;
	struct egress_counter hook[EGRESS_NHOOKS];
	int bound;		/* live cgroups bound to it */
};
struct cg_denied_row {
	struct egress_cg_key key;
	uint64_t denied;
};
struct lost_ref;
struct state_snapshot {
	struct policy_counts *pol;	/* in egress_policy_info's order */
	size_t npol;
	uint64_t stat[EGRESS_STAT_MAX];
	struct lost_ref *lost;
	size_t nlost;
	struct cg_denied_row *cg;	/* most denials first */
	size_t ncg;
};
int state_snapshot(struct egress_state *st, struct state_snapshot *s);
void state_snapshot_free(struct state_snapshot *s);
/* The name of policy id in s: "(none)" for 0, "?" if unknown. */
const char *snapshot_policy_name(const struct state_snapshot *s, uint32_t id);

/* Bindings */
struct binding_ref {
	uint64_t cgroup_id;
	uint32_t policy;
};
/* The bindings of cgroups that exist (removed ones wait for state_gc). */
int state_bindings(struct egress_state *st, struct binding_ref **out, size_t *n);
/* Every pinned binding, removed cgroups' too (cheap: no path lookups). */
int state_bindings_all(struct egress_state *st, struct binding_ref **out, size_t *n);
/* The binding of one cgroup, as state_bindings_all would list it: 0, or -ENOENT if not bound. */
int state_binding_of(struct egress_state *st, uint64_t cgid, struct binding_ref *out);
int state_bind(struct egress_state *st, const char *cgdir, uint32_t policy, char *err, size_t errlen);
int state_unbind(struct egress_state *st, const char *cgdir, char *err, size_t errlen);
int state_unbind_id(struct egress_state *st, uint64_t cgid);
/* The nearest bound cgroup at or above dir: 0 and "POLICY PATH" in at; -ENOENT if none. */
int state_bound_at(struct egress_state *st, const char *dir, char *at, size_t len);
/*
 * What a binding records beside its links: bound "POLICY PATH" (at bind
 * time), owner "run PID START" (egressctl run) or "oci ID" (the OCI hook),
 * "" for bindings made by attach.  Buffers get "" when absent.
 */
int state_binding_meta(struct egress_state *st, uint64_t cgid, char *bound, size_t blen,
		       char *owner, size_t olen);
int state_binding_owner(struct egress_state *st, uint64_t cgid, const char *owner);
/* The policy a bound cgroup's storage names (0: none yet); -ENOENT: no storage. */
int state_binding_policy(struct egress_state *st, uint64_t cgid, uint32_t *policy);
/*
 * The OCI hook's records (egress_oci): a container (id, bundle) and the
 * cgroup its createRuntime bound.  -errno on failure, errno kept.
 */
int state_oci_get(struct egress_state *st, const struct egress_oci_key *key, uint64_t *cgid);
int state_oci_put(struct egress_state *st, const struct egress_oci_key *key, uint64_t cgid);
int state_oci_del(struct egress_state *st, const struct egress_oci_key *key);
/* An 'egressctl run' binding whose runner is gone (killed): its owner's process ended. */
bool state_binding_orphan(struct egress_state *st, uint64_t cgid);
/* A process's start time (/proc/PID/stat), 0 if there is no such process. */
unsigned long long state_proc_start(int pid);
/*
 * Lost bindings: a cgroup bound by attach was removed.  Until state_gc
 * collects the binding it is listed as it is (recreated if a directory is
 * at the path again); a binding collected while a cgroup exists again at
 * its path is kept in lost/ until the path is bound again, detached, or
 * gone.
 */
struct lost_ref {
	uint64_t cgroup_id;
	char policy[EGRESS_NAME_MAX];
	char path[PATH_MAX];
	bool recreated;		/* a directory exists at path again: it is not bound */
};
int state_lost(struct egress_state *st, struct lost_ref **out, size_t *n);
/*
 * Unpins links whose cgroup is gone and drops per-cgroup entries
 * (rate buckets, denial counts, OCI records) of removed cgroups; removes
 * the cgroup of an 'egressctl run' whose runner was killed once it is
 * empty; remembers removed attach bindings as lost.  Returns how many
 * bindings were cleaned.
 */
int state_gc(struct egress_state *st);
/*
 * Detaches every link and removes every pin; detached (may be NULL) is
 * told each binding it detached, with its number of links.
 */
typedef void (*state_unload_cb)(const struct binding_ref *b, int links, void *ctx);
int state_unload(struct egress_state *st, state_unload_cb detached, void *ctx, char *err,
		 size_t errlen);

/*
 * Every entry of egress_seen (the distinct destinations denied per cgroup;
 * see advise.h), unsorted.  -ENOENT: the pins predate egress_seen (an
 * older egressd made them).
 */
struct seen_rec;
int state_seen(struct egress_state *st, struct seen_rec **out, size_t *n);

#endif

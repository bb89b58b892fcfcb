/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * state_priv.h - what the state modules share among themselves; included
 * only by pins.c, store.c, bindings.c and counters.c (everyone else
 * includes state.h, and never touches a map fd).
 */
#ifndef EGRESS_STATE_PRIV_H
#define EGRESS_STATE_PRIV_H

#include "state.h"

#define BATCH 4096	/* entries a batch syscall carries */

/* pins.c */
/*
 * Hands every entry of a map to fn, BATCH at a time.  token_size is the
 * size of a batch position: a key for generic batches (the trie), a bucket
 * number for a hash.  -EOPNOTSUPP if the first batch finds no support.
 */
int map_read_batched(int fd, size_t key_size, size_t val_size, size_t token_size,
		     int (*fn)(void *ctx, const void *k, const void *v), void *ctx);
/* The id of the map behind a fd (0 if none). */
uint32_t map_id_of(int fd);
/* Before a policy's maps change: no decision cached or taken from the cache (odd epoch). */
int epoch_begin(struct egress_state *st);
/* After a policy or binding change: the programs' cached decisions no longer count. */
int epoch_bump(struct egress_state *st);
/* Caller holds the lock: an odd epoch a killed writer left is ended. */
int epoch_settle(struct egress_state *st);

/* store.c */
/* Finishes or drops what a killed writer left.  Caller holds the lock. */
int journal_repair_locked(struct egress_state *st);
/* Host and list tables of deleted policies, or in the slot no trie names (a killed writer's). */
void tables_gc(struct egress_state *st);

#endif

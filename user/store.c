// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* store.c - the policy store: policies, their tries and host tables, the pinned source rules, the journal. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "cmdline.h"
#include "hits.h"
#include "state_priv.h"

/* ---- policies ---------------------------------------------------------- */

int state_policies(struct egress_state *st, struct policy_ref **out, size_t *n)
{
	struct policy_ref *v = NULL;
	uint32_t key, *prev = NULL;
	size_t cnt = 0;

	while (!bpf_map_get_next_key(st->map_fd[M_INFO], prev, &key)) {
		struct egress_policy_info info;
		struct policy_ref *nv;

		prev = &key;
		if (bpf_map_lookup_elem(st->map_fd[M_INFO], &key, &info))
			continue;
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		v[cnt].id = key;
		memcpy(v[cnt].name, info.name, EGRESS_NAME_MAX);
		v[cnt].name[EGRESS_NAME_MAX - 1] = '\0';
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int state_policy_id(struct egress_state *st, const char *name, uint32_t *id)
{
	struct policy_ref *v;
	size_t n;
	int ret = state_policies(st, &v, &n);

	if (ret)
		return ret;
	ret = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(v[i].name, name)) {
			*id = v[i].id;
			ret = 0;
			break;
		}
	}
	free(v);
	return ret;
}

int state_policy_find(struct egress_state *st, const char *name, uint32_t *id, char *err, size_t errlen)
{
	int ret = state_policy_id(st, name, id);

	if (ret == -ENOENT)
		snprintf(err, errlen, "unknown policy '%s' (see 'egressctl policy list')", name);
	else if (ret)
		snprintf(err, errlen, "cannot read policies: %s", strerror(-ret));
	return ret;
}

static int inner_fd(struct egress_state *st, uint32_t id)
{
	uint32_t map_id;

	int fd;

	if (bpf_map_lookup_elem(st->map_fd[M_POLICIES], &id, &map_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(map_id);
	return fd < 0 ? -errno : fd;
}

/* The maps of one policy generation: its trie, host table and list table (-1: none). */
struct gen_maps {
	int trie, hosts, lists;
};

/* Reading a generation's entries back: c gets them whole, lists joined. */
struct read_ctx {
	struct compiled *c;
	uint32_t gen;		/* host tables: a stale entry is skipped */
	int lists;		/* the generation's list table, -1 if none */
};

/*
 * One kernel entry into r->c, its list joined.  A list that is missing
 * (or of another generation) fails the read with -EIO: the programs deny
 * under that entry, and rules read back without it would lose the
 * entry's own (a writer swaps the policy in whole instead).
 */
static int push_kernel(struct read_ctx *r, const struct egress_lpm_key *k, const struct egress_entry *e)
{
	struct egress_lpm_key lk;
	struct egress_list l;
	struct entry_val v;
	bool has = false;

	if ((e->ent_flags & EGRESS_ENT_LIST) && r->lists >= 0) {
		lk = list_key(k);
		has = !bpf_map_lookup_elem(r->lists, &lk, &l);
	}

	if (entry_join(e, has ? &l : NULL, &v))
		return -EIO;
	return compiled_push(r->c, k, &v);
}

static int push_entry(void *ctx, const void *k, const void *v)
{
	return push_kernel(ctx, k, v);
}

/* All entries of a trie (unsorted): batched, one at a time without batch support. */
static int trie_read(int fd, struct read_ctx *r)
{
	struct egress_lpm_key key, *prev = NULL;
	struct egress_entry val;
	int ret;

	ret = map_read_batched(fd, sizeof(key), sizeof(val), sizeof(key), push_entry, r);
	if (ret != -EOPNOTSUPP)
		return ret;
	while (!bpf_map_get_next_key(fd, prev, &key)) {
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue;
		ret = push_kernel(r, &key, &val);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Writes one entry into a generation's maps: its list first (an entry
 * names its list only once the list is there), then the entry.  No table
 * for it: -ENOENT (a swap makes one).
 */
static int entry_put(const struct gen_maps *m, const struct centry *ce)
{
	bool host = key_is_host(&ce->key);
	int fd = host ? m->hosts : m->trie;
	struct egress_host_key hk;
	struct egress_entry e;
	struct egress_list l;

	if (entry_split(&ce->key, &ce->val, &e, &l)) {
		struct egress_lpm_key lk = list_key(&ce->key);

		if (m->lists < 0)
			return -ENOENT;
		if (bpf_map_update_elem(m->lists, &lk, &l, BPF_ANY))
			return -errno;
	}
	if (fd < 0)
		return -ENOENT;
	host_key(&hk, &ce->key);
	return bpf_map_update_elem(fd, host ? (void *)&hk : (void *)&ce->key, &e, BPF_ANY) ? -errno : 0;
}

/*
 * Deletes one entry.  Its list (if any) stays: nothing names it, a later
 * entry for the same CIDR rewrites it before naming it, and the next
 * generation's table starts empty.  Deleting it would race a program
 * that read the entry just before.
 */
static int entry_del(const struct gen_maps *m, const struct egress_lpm_key *k)
{
	bool host = key_is_host(k);
	int fd = host ? m->hosts : m->trie;
	struct egress_host_key hk;

	if (fd < 0)
		return -ENOENT;
	host_key(&hk, k);
	if (bpf_map_delete_elem(fd, host ? (void *)&hk : (void *)k) && errno != ENOENT)
		return -errno;
	return 0;
}

/* Puts n keys and values into a fresh map, BATCH at a time. */
static int fill_batched(int fd, const void *keys, const void *vals, size_t n, size_t ksz, size_t vsz)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);	/* elem_flags: BPF_F_LOCK only */

	for (size_t i = 0; i < n; i += BATCH) {
		uint32_t cnt = n - i < BATCH ? n - i : BATCH;

		if (bpf_map_update_batch(fd, (const char *)keys + i * ksz, (const char *)vals + i * vsz,
					 &cnt, &opts))
			return -errno;
	}
	return 0;
}

/*
 * Fills the fresh maps of a generation with a policy in the kernel's
 * form, straight from its arrays: the list table (lfd) first, the host
 * table (hfd), the trie (tfd).  Nothing names these maps yet: the order
 * does not matter to a reader.  k's entries and lists name gen already.
 */
static int fill_fresh(int tfd, int hfd, int lfd, const struct kform *k)
{
	int ret = 0;

	if (k->nl)
		ret = fill_batched(lfd, k->lkey, k->lval, k->nl, sizeof(*k->lkey), sizeof(*k->lval));
	if (!ret && k->nh)
		ret = fill_batched(hfd, k->hkey, k->hent, k->nh, sizeof(*k->hkey), sizeof(*k->hent));
	return ret ?: fill_batched(tfd, k->tkey, k->tent, k->nt, sizeof(*k->tkey), sizeof(*k->tent));
}

/* ---- host entries (egress_hosts) ------------------------------------- */

/*
 * The host table (which = M_HOSTS) or list table (M_LISTS) in a
 * generation's slot (it may hold another generation's entries).
 */
static int slot_fd(struct egress_state *st, int which, uint32_t policy, uint32_t gen)
{
	uint32_t slot = EGRESS_HOSTS_SLOT(policy, gen), map_id;
	int fd;

	if (bpf_map_lookup_elem(st->map_fd[which], &slot, &map_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(map_id);
	return fd < 0 ? -errno : fd;
}

static int push_host(void *ctx, const void *k, const void *v)
{
	const struct egress_host_key *hk = k;
	const struct egress_entry *e = v;
	struct read_ctx *r = ctx;
	struct egress_lpm_key key = { .family = hk->family };

	if (e->gen != r->gen)
		return 0;	/* a stale table's entry */
	key.prefixlen = EGRESS_KEY_HDR_BITS + (key.family == EGRESS_FAM_V4 ? 32 : 128);
	memcpy(key.addr, hk->addr, sizeof(key.addr));
	return push_kernel(r, &key, e);
}

/* Adds a host table's entries of generation r->gen to r->c. */
static int hosts_read(int fd, struct read_ctx *r)
{
	return map_read_batched(fd, sizeof(struct egress_host_key), sizeof(struct egress_entry),
				sizeof(uint32_t), push_host, r);
}

/* The generation a policy's trie names (its roots carry it), 0 if none. */
static uint32_t trie_gen(int fd)
{
	struct egress_lpm_key root = { .prefixlen = EGRESS_KEY_HDR_BITS, .family = EGRESS_FAM_V4 };
	struct egress_entry e;

	return fd >= 0 && !bpf_map_lookup_elem(fd, &root, &e) ? e.gen : 0;
}

/* Every entry of a policy: its trie's and its current host table's, lists joined. */
static int policy_read(struct egress_state *st, uint32_t id, int fd, struct compiled *c)
{
	uint32_t gen = trie_gen(fd);
	int hfd = slot_fd(st, M_HOSTS, id, gen), ret;
	struct read_ctx r = { .c = c, .gen = gen, .lists = slot_fd(st, M_LISTS, id, gen) };

	memset(c, 0, sizeof(*c));
	ret = trie_read(fd, &r);
	if (!ret && hfd >= 0)
		ret = hosts_read(hfd, &r);
	if (hfd >= 0)
		close(hfd);
	if (r.lists >= 0)
		close(r.lists);
	if (ret) {
		compiled_free(c);
		return ret;
	}
	compiled_sort(c);
	return 0;
}

/* A generation's maps of policy id: its trie (fd) and the tables of gen (-1: none). */
static struct gen_maps gen_maps_open(struct egress_state *st, uint32_t id, int fd, uint32_t gen)
{
	return (struct gen_maps){ .trie = fd, .hosts = slot_fd(st, M_HOSTS, id, gen),
				  .lists = slot_fd(st, M_LISTS, id, gen) };
}

/* Closes the tables (not the trie, the caller's). */
static void gen_maps_close(struct gen_maps *m)
{
	if (m->hosts >= 0)
		close(m->hosts);
	if (m->lists >= 0)
		close(m->lists);
	m->hosts = m->lists = -1;
}

/*
 * Registering a generation's host table in egress_hosts (or its list
 * table in egress_lists, the same way).  The kernel waits
 * for running programs after every update of an array of maps from user
 * space (a grace period, 10-15 ms on a small VM), there to make sure no
 * program still uses the table the update replaced.  Nothing does: the
 * slot belongs to the new generation's parity, which the live trie does
 * not use (its entries name the live generation), so what it held is
 * garbage.  So the update runs on its own thread: the caller fills the
 * table and the trie meanwhile (the table may be filled after it is
 * registered: no trie names it yet), waits only until the slot names the
 * table (the update's first step, which takes microseconds), swaps the
 * trie in, and joins the thread after that: its grace period runs beside
 * the swap's own.  fd < 0: clear the slot if it holds an old table
 * (nothing waits for that).
 */
struct table_reg {
	pthread_t thread;
	bool started;
	int map_fd, fd, ret;
	uint32_t slot, map_id;	/* map_id: the table's */
	struct timespec t0;	/* the thread's start */
};

static void *table_reg_run(void *arg)
{
	struct table_reg *r = arg;
	/* a delete that finds nothing fails at once: the kernel waits only after a change */
	if (r->fd >= 0)
		r->ret = bpf_map_update_elem(r->map_fd, &r->slot, &r->fd, BPF_ANY) ? -errno : 0;
	else
		r->ret = bpf_map_delete_elem(r->map_fd, &r->slot) && errno != ENOENT ? -errno : 0;
	return NULL;
}

static void table_reg_start(struct egress_state *st, int which, uint32_t policy, uint32_t gen, int fd,
			    struct table_reg *r)
{
	*r = (struct table_reg){ .map_fd = st->map_fd[which], .fd = fd,
				 .slot = EGRESS_HOSTS_SLOT(policy, gen),
				 .map_id = fd >= 0 ? map_id_of(fd) : 0 };
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	r->started = !pthread_create(&r->thread, NULL, table_reg_run, r);
	if (!r->started)
		table_reg_run(r);	/* no thread: the same, in line */
}

static void table_reg_join(struct table_reg *r)
{
	if (r->started)
		pthread_join(r->thread, NULL);
	r->started = false;
}

/*
 * 0 once the slot names the table: checked once, at least 1 ms after the
 * thread started (its update swaps the slot within microseconds, then
 * waits); not yet, the thread is joined (the whole grace period).  One
 * check, never a loop: a writer's system calls stay the same from run to
 * run (tests/integration/61-policy-info-faults.sh kills it at one of them).
 * Clearing (fd < 0) needs no wait: no trie names that slot.
 */
static int table_reg_visible(struct table_reg *r)
{
	struct timespec now, wait;
	uint32_t map_id;
	long ns;

	if (r->fd < 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (now.tv_sec - r->t0.tv_sec) * 1000000000L + (now.tv_nsec - r->t0.tv_nsec);
	if (ns < 1000000L) {
		wait = (struct timespec){ .tv_nsec = 1000000L - ns };
		nanosleep(&wait, NULL);
	}
	if (!bpf_map_lookup_elem(r->map_fd, &r->slot, &map_id) && map_id == r->map_id)
		return 0;
	table_reg_join(r);
	return r->ret;
}

/*
 * A new, empty host table (which = M_HOSTS) or list table (M_LISTS) for
 * a policy generation's c: room for the entries there are and as many
 * again added in place; more makes the next change a swap.
 */
/* A fresh host (which = M_HOSTS) or list table (M_LISTS) for n entries. */
static int table_create(struct egress_state *st, int which, size_t n)
{
	LIBBPF_OPTS(bpf_map_create_opts, mopts, .map_flags = BPF_F_NO_PREALLOC);
	size_t size = 2 * n + 64;
	int fd;

	if (size > st->cfg.max_rules + 2)
		size = st->cfg.max_rules + 2;
	if (which == M_HOSTS)
		fd = bpf_map_create(BPF_MAP_TYPE_HASH, "egress_hosts", sizeof(struct egress_host_key),
				    sizeof(struct egress_entry), size, &mopts);
	else
		fd = bpf_map_create(BPF_MAP_TYPE_HASH, "egress_lists", sizeof(struct egress_lpm_key),
				    sizeof(struct egress_list), size, &mopts);
	return fd < 0 ? -errno : fd;
}

/* Drops the host and list tables of a policy, but keep_gen's (0: both). */
static int tables_drop(struct egress_state *st, uint32_t policy, uint32_t keep_gen)
{
	static const int which[] = { M_HOSTS, M_LISTS };
	int ret = 0;

	for (uint32_t parity = 0; parity < 2; parity++) {
		uint32_t slot = EGRESS_HOSTS_SLOT(policy, parity);

		if (keep_gen && (keep_gen & 1) == parity)
			continue;
		for (size_t w = 0; w < 2; w++)
			if (bpf_map_delete_elem(st->map_fd[which[w]], &slot) && errno != ENOENT)
				ret = -errno;
	}
	return ret;
}

/* A new generation: never 0, of the other parity than the live one. */
static uint32_t fresh_gen(uint32_t old)
{
	uint32_t gen;

	do {
		if (getrandom(&gen, sizeof(gen), 0) != sizeof(gen))
			gen = old + 1;
		gen = (gen & ~1u) | (~old & 1u);
	} while (!gen);
	return gen;
}

/* ---- the policy store (PIN_DIR/store/<id>) ----------------------------- */

/*
 * The source of truth of a policy's rules: a pinned, mmap-able array map
 * per policy.  Element 0 is a header (settings, count, the transaction
 * that wrote it), then the rules in policy_sort order, one struct rule
 * (24 bytes) each: binary searches find the rules at and inside a CIDR and
 * those of its containers without reading the rest.  A version is written
 * whole into a fresh map, pinned as store/<id>-new (staged) and renamed
 * over store/<id> once the kernel enforces it: readers open either version
 * whole.  The journal names the staged version (see below).
 */
#define STORE_MAGIC 0x53524745u	/* "EGRS" */

struct store_head {
	uint32_t magic;
	uint32_t n;		/* rules */
	uint64_t txn;		/* the store that wrote this version */
	uint16_t err;
	uint8_t dflt;
	uint8_t flags;
	uint32_t dflt_id;	/* the default's hit counter id (hits.h) */
	uint32_t ndead;		/* rules marked RULE_DEAD in place (a removal), not yet dropped */
} __attribute__((packed, aligned(4)));	/* 28 bytes, as a rule (txn stays at offset 8) */
_Static_assert(sizeof(struct store_head) == sizeof(struct rule), "header is element 0");

struct store_view {
	int fd;
	void *mem;
	size_t len;
	struct store_head *head;
	struct rule *rules;	/* head + 1 */
};

static void store_path(struct egress_state *st, uint32_t id, bool staged, char *buf, size_t len)
{
	state_pin_path(st, buf, len, "store/%u%s", id, staged ? "-new" : "");
}

static void store_close(struct store_view *v)
{
	if (v->mem && v->mem != MAP_FAILED)
		munmap(v->mem, v->len);
	if (v->fd >= 0)
		close(v->fd);
	memset(v, 0, sizeof(*v));
	v->fd = -1;
}

/* Maps a store's array; checks the header unless it is a fresh one. */
static int store_map(int fd, bool rw, bool fresh, struct store_view *v)
{
	struct bpf_map_info info = {};
	uint32_t ilen = sizeof(info);
	size_t page = sysconf(_SC_PAGESIZE);

	v->fd = fd;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	if (info.type != BPF_MAP_TYPE_ARRAY || info.value_size != sizeof(struct rule) ||
	    !(info.map_flags & BPF_F_MMAPABLE) || !info.max_entries)
		return -EPROTO;
	v->len = ((size_t)info.max_entries * sizeof(struct rule) + page - 1) / page * page;
	v->mem = mmap(NULL, v->len, rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	if (v->mem == MAP_FAILED) {
		v->mem = NULL;
		return -errno;
	}
	v->head = v->mem;
	v->rules = (struct rule *)v->mem + 1;
	if (!fresh && (v->head->magic != STORE_MAGIC || v->head->n >= info.max_entries ||
		    v->head->ndead > v->head->n))
		return -EPROTO;
	return 0;
}

/* Opens a policy's store (or its staged version).  -ENOENT: none. */
static int store_open_mode(struct egress_state *st, uint32_t id, bool staged, bool rw,
			   struct store_view *v)
{
	char path[PATH_MAX];
	int fd, ret;

	memset(v, 0, sizeof(*v));
	v->fd = -1;
	store_path(st, id, staged, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	ret = store_map(fd, rw, false, v);
	if (ret)
		store_close(v);
	return ret;
}

static int store_open(struct egress_state *st, uint32_t id, bool staged, struct store_view *v)
{
	return store_open_mode(st, id, staged, false, v);
}

/* A fresh store of n rules (unpinned, writable). */
static int store_create(size_t n, const struct policy *p, uint64_t txn, struct store_view *v)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd, ret;

	memset(v, 0, sizeof(*v));
	v->fd = -1;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "egress_store", sizeof(uint32_t), sizeof(struct rule),
			    n + 1, &opts);
	if (fd < 0)
		return -errno;
	ret = store_map(fd, true, true, v);
	if (ret) {
		store_close(v);
		return ret;
	}
	*v->head = (struct store_head){
		.magic = STORE_MAGIC, .n = n, .txn = txn, .err = p->err, .dflt = p->dflt,
		.flags = p->flags, .dflt_id = p->dflt_id,
	};
	return 0;
}

/* Pins a written store as the policy's staged version. */
static int store_stage(struct egress_state *st, uint32_t id, int fd)
{
	char path[PATH_MAX];

	state_pin_path(st, path, sizeof(path), "store");
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	store_path(st, id, true, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return bpf_obj_pin(fd, path) ? -errno : 0;
}

/* The staged version becomes the policy's rules (rename: atomic for readers). */
static int store_commit(struct egress_state *st, uint32_t id)
{
	char from[PATH_MAX], to[PATH_MAX];

	store_path(st, id, true, from, sizeof(from));
	store_path(st, id, false, to, sizeof(to));
	return rename(from, to) ? -errno : 0;
}

static void store_unlink(struct egress_state *st, uint32_t id, bool staged)
{
	char path[PATH_MAX];

	store_path(st, id, staged, path, sizeof(path));
	unlink(path);
}

/* Writes p's rules (sorted) into a fresh store and stages it. */
static int store_write(struct egress_state *st, uint32_t id, const struct policy *p, uint64_t txn)
{
	struct store_view v;
	struct policy view = {};
	int ret = store_create(p->nrules, p, txn, &v);

	if (ret)
		return ret;
	if (p->nrules)
		memcpy(v.rules, p->rules, p->nrules * sizeof(*p->rules));
	view.rules = v.rules;
	view.nrules = p->nrules;
	policy_sort(&view);
	ret = store_stage(st, id, v.fd);
	store_close(&v);
	return ret;
}

/* The policy as its store holds it: settings and rules (a copy). */
static int store_load(struct store_view *v, struct policy *p)
{
	p->dflt = v->head->dflt;
	p->err = v->head->err;
	p->flags = v->head->flags;
	p->dflt_id = v->head->dflt_id;
	p->nrules = 0;
	if (!v->head->n)
		return 0;
	if (p->cap < v->head->n) {
		struct rule *nr = realloc(p->rules, v->head->n * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		p->rules = nr;
		p->cap = v->head->n;
	}
	/*
	 * Copied, then the rules marked removed dropped from the copy: a
	 * removal in place may mark one while this reads (not ndead, which
	 * the writer counts after the mark), so the copy is what is filtered.
	 */
	memcpy(p->rules, v->rules, v->head->n * sizeof(*p->rules));
	for (size_t i = 0; i < v->head->n; i++)
		if (p->rules[i].action != RULE_DEAD)
			p->rules[p->nrules++] = p->rules[i];
	return 0;
}

/*
 * Removes rule `at` of a store in place: marked RULE_DEAD, one byte, what a
 * reader sees at once or not at all (readers skip it), counted in ndead.
 * The next version written whole drops it.  Again on a rule marked already:
 * nothing (a killed writer's, done again).
 */
static void store_mark_dead(struct store_view *v, size_t at)
{
	if (v->rules[at].action == RULE_DEAD)
		return;
	__atomic_store_n(&v->rules[at].action, RULE_DEAD, __ATOMIC_RELEASE);
	v->head->ndead++;
}

/* A removal in place, or the store written whole: marked rules at most as many as live ones. */
static bool store_remove_in_place(const struct policy *op)
{
	return op->ndead + 2 <= policy_live(op);
}

static uint64_t fresh_txn(void)
{
	uint64_t t = 0;

	if (getrandom(&t, sizeof(t), 0) != sizeof(t))
		t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	return t | 1;
}

int state_policy_info(struct egress_state *st, uint32_t id, struct egress_policy_info *info)
{
	return bpf_map_lookup_elem(st->map_fd[M_INFO], &id, info) ? -errno : 0;
}

int state_policy_summary(struct egress_state *st, uint32_t id, struct policy *p)
{
	struct egress_policy_info info;
	struct store_view v;
	int ret;

	memset(p, 0, sizeof(*p));
	ret = state_policy_info(st, id, &info);
	if (ret)
		return ret;
	ret = store_open(st, id, false, &v);
	if (ret == -ENOENT)
		return state_policy_load(st, id, p);	/* pins an older egress made: no store */
	if (ret)
		return ret;
	snprintf(p->name, sizeof(p->name), "%.*s", EGRESS_NAME_MAX - 1, info.name);
	snprintf(p->hint, sizeof(p->hint), "%.*s", EGRESS_HINT_MAX - 1, info.hint);
	p->dflt = v.head->dflt;
	p->err = v.head->err;
	p->flags = v.head->flags;
	p->nrules = (size_t)info.nallow + info.ndeny;
	store_close(&v);
	return 0;
}

int state_policy_load(struct egress_state *st, uint32_t id, struct policy *p)
{
	struct egress_policy_info info;
	struct store_view v;
	struct compiled c;
	int fd, ret;

	memset(p, 0, sizeof(*p));
	if (bpf_map_lookup_elem(st->map_fd[M_INFO], &id, &info))
		return -errno;
	snprintf(p->name, sizeof(p->name), "%.*s", EGRESS_NAME_MAX - 1, info.name);
	snprintf(p->hint, sizeof(p->hint), "%.*s", EGRESS_HINT_MAX - 1, info.hint);
	ret = store_open(st, id, false, &v);
	if (ret != -ENOENT) {
		ret = ret ?: store_load(&v, p);
		store_close(&v);
		return ret;
	}
	/* pins an older egress made: no store yet, the rules are only in the trie */
	fd = inner_fd(st, id);
	if (fd < 0)
		return fd;
	ret = policy_read(st, id, fd, &c);
	close(fd);
	if (ret)
		return ret;
	ret = policy_decompile(p, &c);
	compiled_free(&c);
	return ret;
}

int state_policy_ids(struct egress_state *st, uint32_t id, void (*each)(void *ctx, uint32_t hit_id),
		     void *ctx)
{
	struct store_view v;
	struct policy p = {};
	int ret = store_open(st, id, false, &v);

	if (ret == -ENOENT)
		ret = state_policy_load(st, id, &p);	/* pins an older egress made: no store */
	else if (!ret) {
		/* the store read in place, no copy of its rules */
		p.dflt_id = v.head->dflt_id;
		p.rules = v.rules;
		p.nrules = v.head->n;
	}
	if (ret)
		return ret;
	each(ctx, p.dflt_id);
	for (size_t i = 0; i < p.nrules; i++)
		if (p.rules[i].action != RULE_DEAD)	/* a removed rule's id is free */
			each(ctx, p.rules[i].id);
	if (v.fd >= 0)
		store_close(&v);
	else
		policy_free(&p);
	return 0;
}

static int trie_create(struct egress_state *st)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "egress_rules", sizeof(struct egress_lpm_key),
				sizeof(struct egress_entry), st->cfg.max_rules + 2, &opts);

	return fd < 0 ? -errno : fd;
}

/*
 * Applies the difference between two sorted compilations of a policy:
 * host entries in egress_hosts (generation gen), the others in its trie.
 */
static int policy_apply_diff(const struct gen_maps *m, const struct compiled *a, const struct compiled *b)
{
	size_t i = 0, j = 0;
	int r, ret;

	while (i < a->n || j < b->n) {
		r = i == a->n ? 1 : j == b->n ? -1 : memcmp(&a->e[i].key, &b->e[j].key, sizeof(a->e[i].key));
		if (r < 0) {
			ret = entry_del(m, &a->e[i].key);
			if (ret)
				return ret;
			i++;
		} else if (r > 0 || memcmp(&a->e[i].val, &b->e[j].val, sizeof(b->e[j].val))) {
			ret = entry_put(m, &b->e[j]);	/* no table yet: -ENOENT, a swap makes one */
			if (ret)
				return ret;
			if (r == 0)
				i++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	return 0;
}

static void zero_counters(struct egress_state *st, uint32_t id)
{
	struct egress_counter *zero = calloc(st->ncpus, sizeof(*zero));

	if (!zero)
		return;
	for (uint32_t h = 0; h < EGRESS_HOOK_MAX; h++) {
		uint32_t idx = id * EGRESS_HOOK_MAX + h;

		bpf_map_update_elem(st->map_fd[M_COUNTERS], &idx, zero, BPF_ANY);
	}
	free(zero);
}

static int free_policy_id(struct egress_state *st, uint32_t *id)
{
	for (uint32_t i = 1; i <= st->cfg.max_policies; i++) {
		struct egress_policy_info info;
		uint32_t map_id;

		if (bpf_map_lookup_elem(st->map_fd[M_INFO], &i, &info) &&
		    bpf_map_lookup_elem(st->map_fd[M_POLICIES], &i, &map_id)) {
			*id = i;
			return 0;
		}
	}
	return -ENOSPC;
}

/*
 * The policy-store journal: PIN_DIR/journal, a one-entry array map made
 * from user space.  A store stages the new rules (store/<id>-new), writes
 * the journal (active) before the kernel sees the change, commits the
 * staged rules and writes egress_policy_info after, then clears it.  When a
 * writer dies in between, the next writer (or a reader that can take the
 * lock) finishes or drops the change:
 *  - a swap (JOURNAL_SWAP) is in force when egress_policies names the trie
 *    the journal names (map ids are never reused): then the staged rules and the info are
 *    committed, else the staged rules are dropped (the old ones are still
 *    what the kernel enforces);
 *  - an in-place edit (JOURNAL_EDIT) may have written some of its entries:
 *    it is rolled forward, the staged rules compiled and swapped in whole
 *    unless the entries are already theirs, then committed;
 *  - a removal in place (JOURNAL_REMOVE) stages nothing: the journal names
 *    the store version (txn) and the rule it marks (at); the mark is made
 *    again (store_mark_dead does nothing twice) and the store rolled
 *    forward like an edit's.
 * Either way the store and the kernel agree again, on a whole version.
 */
enum { JOURNAL_SWAP = 0, JOURNAL_EDIT = 1, JOURNAL_REMOVE = 2 };

struct state_journal {
	uint32_t active;
	uint32_t id;		/* the policy */
	uint64_t trie_id;	/* the map id of the trie a swap puts in force */
	struct egress_policy_info info;
	uint64_t txn;		/* the staged store's; JOURNAL_REMOVE: the store's */
	uint32_t mode;		/* JOURNAL_* */
	uint32_t at;		/* JOURNAL_REMOVE: the rule marked removed */
};


/* The journal map; one of an older layout is replaced when creating (never while active). */
static int journal_fd(struct egress_state *st, bool create)
{
	struct bpf_map_info info;
	char path[PATH_MAX];
	int fd;

	state_pin_path(st, path, sizeof(path), "journal");
	fd = state_pinned_map(st, "journal", &info);
	if (fd >= 0 && info.value_size != sizeof(struct state_journal)) {
		close(fd);
		if (!create)
			return -ENOENT;
		unlink(path);
		fd = -ENOENT;
	}
	if (fd >= 0 || fd != -ENOENT || !create)
		return fd;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "egress_journal", sizeof(uint32_t),
			    sizeof(struct state_journal), 1, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int journal_write(struct egress_state *st, const struct state_journal *j)
{
	uint32_t zero = 0;
	int fd = journal_fd(st, true), ret = 0;

	if (fd < 0)
		return fd;
	if (bpf_map_update_elem(fd, &zero, j, BPF_ANY))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Puts a compiled policy in force whole: a new generation's host table
 * and trie that nobody sees yet, then the trie swapped in.  The swap waits
 * for running programs (the kernel does so for map-in-map updates), so
 * from then on the old generation's host table is garbage: the next
 * generation of the policy replaces it, gc drops it earlier (egressd every
 * 10 s by default, --gc-interval), and nothing looks at it (its entries name the old generation).
 * Dropping it here would cost the writer one more grace period.  A killed
 * writer leaves a table no trie names: gc.  j (if given) is written, with
 * the new trie's map id, just before the swap.
 */
static int swap_in(struct egress_state *st, uint32_t id, struct kform *want, uint32_t old_gen,
		   struct state_journal *j)
{
	uint32_t gen = fresh_gen(old_gen);
	struct table_reg reg, lreg;
	int fd, hfd = -1, lfd = -1, ret = 0;

	/* the new generation's: every entry and list names it */
	for (size_t i = 0; i < want->nt; i++)
		want->tent[i].gen = gen;
	for (size_t i = 0; i < want->nh; i++)
		want->hent[i].gen = gen;
	for (size_t i = 0; i < want->nl; i++)
		want->lval[i].gen = gen;
	fd = trie_create(st);
	if (fd < 0)
		return fd;
	if (want->nh) {
		hfd = table_create(st, M_HOSTS, want->nh);
		ret = hfd < 0 ? hfd : 0;
	}
	if (!ret && want->nl) {
		lfd = table_create(st, M_LISTS, want->nl);
		ret = lfd < 0 ? lfd : 0;
	}
	if (ret) {
		close(fd);
		if (hfd >= 0)
			close(hfd);
		return ret;
	}
	/* the tables (or none) into the new generation's slots, while they are filled */
	table_reg_start(st, M_HOSTS, id, gen, hfd, &reg);
	table_reg_start(st, M_LISTS, id, gen, lfd, &lreg);
	ret = fill_fresh(fd, hfd, lfd, want);
	ret = ret ?: table_reg_visible(&reg);
	ret = ret ?: table_reg_visible(&lreg);
	if (!ret && j) {
		j->trie_id = map_id_of(fd);
		ret = journal_write(st, j);
	}
	if (!ret && bpf_map_update_elem(st->map_fd[M_POLICIES], &id, &fd, BPF_ANY))
		ret = -errno;
	/*
	 * Joined after the swap: the registrations' grace periods run beside
	 * the swap's.  Their results were known before the swap (the slots
	 * named the tables, or ret is an error); a failed clear leaves
	 * garbage (gc).
	 */
	table_reg_join(&reg);
	table_reg_join(&lreg);
	close(fd);
	if (hfd >= 0)
		close(hfd);
	if (lfd >= 0)
		close(lfd);
	if (ret)
		tables_drop(st, id, old_gen);	/* the new tables, if made */
	return ret;
}

/* A compiled policy swapped in whole: in the kernel's form first. */
static int swap_in_compiled(struct egress_state *st, uint32_t id, const struct compiled *c,
			    uint32_t old_gen, struct state_journal *j)
{
	struct kform k;
	int ret = kform_from_compiled(c, &k);

	ret = ret ?: swap_in(st, id, &k, old_gen, j);
	kform_free(&k);
	return ret;
}

/* Rolls an in-place edit forward: the kernel gets the staged (or marked) rules whole. */
static int journal_roll_forward(struct egress_state *st, uint32_t id, struct store_view *staged)
{
	struct policy p = {};
	struct compiled want, now = {};
	char err[256];
	int fd = inner_fd(st, id), ret;
	uint32_t gen = trie_gen(fd);

	ret = store_load(staged, &p) ?: policy_compile(&p, &want, err, sizeof(err));
	policy_free(&p);
	if (ret)
		goto out;
	for (size_t i = 0; i < want.n; i++)
		want.e[i].val.gen = gen;
	compiled_sort(&want);
	if (fd < 0 || policy_read(st, id, fd, &now) || compiled_diff(&now, &want))
		ret = swap_in_compiled(st, id, &want, gen, NULL);
	compiled_free(&now);
	compiled_free(&want);
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * A removal in place killed: the rule marked (again) when the store is
 * still the version the journal names, ndead counted afresh, and the
 * kernel given the store's rules whole unless it has them.  *commit: the
 * removal happened (the journal's info is the policy's).
 */
static int journal_remove_forward(struct egress_state *st, const struct state_journal *j, bool *commit)
{
	struct store_view v;
	int ret = store_open_mode(st, j->id, false, true, &v);

	*commit = false;
	if (ret)
		return ret == -ENOENT ? 0 : ret;	/* the policy is gone: nothing to finish */
	if (v.head->txn == j->txn && j->at < v.head->n) {
		store_mark_dead(&v, j->at);
		*commit = true;
	}
	v.head->ndead = 0;
	for (size_t i = 0; i < v.head->n; i++)
		v.head->ndead += v.rules[i].action == RULE_DEAD;
	ret = journal_roll_forward(st, j->id, &v);
	store_close(&v);
	if (ret)
		*commit = false;
	return ret;
}

int journal_repair_locked(struct egress_state *st)
{
	struct store_view staged, cur;
	struct state_journal j;
	bool commit = false;
	uint32_t zero = 0;
	int fd = journal_fd(st, false), ret = 0;

	if (fd < 0)
		return fd == -ENOENT ? epoch_settle(st) : fd;
	if (bpf_map_lookup_elem(fd, &zero, &j) || !j.active)
		goto done;
	ret = epoch_begin(st);	/* a roll forward changes the maps */
	if (ret)
		goto done;
	if (j.mode == JOURNAL_REMOVE) {
		ret = journal_remove_forward(st, &j, &commit);
	} else if (!store_open(st, j.id, true, &staged) && staged.head->txn == j.txn) {
		if (j.mode == JOURNAL_EDIT) {
			ret = journal_roll_forward(st, j.id, &staged);
			commit = !ret;
		} else {
			int tfd = inner_fd(st, j.id);

			commit = j.trie_id && map_id_of(tfd) == j.trie_id;
			if (tfd >= 0)
				close(tfd);
		}
		store_close(&staged);
		if (commit)
			ret = ret ?: store_commit(st, j.id);
		else if (!ret)
			store_unlink(st, j.id, true);
	} else {
		store_close(&staged);
		/* nothing staged: committed already, or never staged (nothing changed) */
		if (!store_open(st, j.id, false, &cur))
			commit = cur.head->txn == j.txn;
		store_close(&cur);
	}
	if (!ret && commit && bpf_map_update_elem(st->map_fd[M_INFO], &j.id, &j.info, BPF_ANY))
		ret = -errno;
	ret = ret ?: epoch_bump(st);	/* the killed writer's change may be in force */
	if (!ret) {
		j.active = 0;
		if (bpf_map_update_elem(fd, &zero, &j, BPF_ANY))
			ret = -errno;
	}
done:
	close(fd);
	/* no writer at work (the lock): an epoch left odd by one killed before its journal ends */
	return ret ?: epoch_settle(st);
}

int state_repair_locked(struct egress_state *st)
{
	return journal_repair_locked(st);
}

int state_repair(struct egress_state *st)
{
	struct state_journal j;
	uint32_t zero = 0;
	int fd, lfd, ret;

	if (st->dir_fd >= 0)	/* our own lock */
		return journal_repair_locked(st);
	fd = journal_fd(st, false);
	if (fd < 0)
		return 0;
	ret = bpf_map_lookup_elem(fd, &zero, &j);
	close(fd);
	if (ret || !j.active)
		return 0;
	/* a reader repairs when no writer is at work: the lock, not waiting */
	lfd = open(st->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lfd < 0)
		return -errno;
	ret = flock(lfd, LOCK_EX | LOCK_NB) ? 0 : journal_repair_locked(st);
	close(lfd);
	return ret;
}

static void info_of(const struct policy *p, struct egress_policy_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", p->name);
	snprintf(info->hint, sizeof(info->hint), "%s", p->hint);
	for (size_t i = 0; i < p->nrules; i++) {
		if (p->rules[i].action == EGRESS_ALLOW)
			info->nallow++;
		else
			info->ndeny++;
	}
}

static int full_error(const struct egress_state *st, const char *name, size_t n, char *err, size_t errlen)
{
	snprintf(err, errlen, "policy '%s' is full: %zu rules, at most %u (egressd --max-rules)",
		 name, n, st->cfg.max_rules);
	return -E2BIG;
}

/*
 * The store's end: the staged rules committed (none for a removal in
 * place, marked already), the info written, the journal closed.
 */
static int store_finish(struct egress_state *st, uint32_t id, struct state_journal *j)
{
	int ret = j->mode == JOURNAL_REMOVE ? 0 : store_commit(st, id);

	if (!ret && bpf_map_update_elem(st->map_fd[M_INFO], &id, &j->info, BPF_ANY))
		ret = -errno;
	ret = ret ?: epoch_bump(st);	/* decisions cached before the change no longer count */
	if (ret)
		return ret;	/* the journal stays active: the next writer finishes */
	j->active = 0;
	journal_write(st, j);
	return 0;
}

/*
 * state_policy_store with p's compilation done: compiled entries (want)
 * or, for a swap only (STORE_SWAP: apply), the kernel's form (kf).  The
 * one given is consumed.
 */
static int policy_store_compiled(struct egress_state *st, uint32_t *id, const struct policy *p,
				 struct compiled *want, struct kform *kf, int flags, char *err,
				 size_t errlen)
{
	struct compiled now = {};
	struct state_journal j = { .active = 1, .txn = fresh_txn() };
	bool created = false, journaled = false;
	uint32_t gen = 0;
	int fd = -1, ret;

	info_of(p, &j.info);
	if (*id) {
		fd = inner_fd(st, *id);
		gen = trie_gen(fd);
	} else {
		ret = free_policy_id(st, id);
		if (ret) {
			snprintf(err, errlen, "cannot add policy '%s': all %u policies are in use "
				 "(egressd --max-policies)", p->name, st->cfg.max_policies);
			goto cleanup;
		}
		created = true;
		zero_counters(st, *id);
	}
	j.id = *id;
	/* odd epoch from here to store_finish: nothing cached while the maps change */
	ret = store_write(st, *id, p, j.txn) ?: epoch_begin(st);
	if (ret)
		goto fail;
	/* what the kernel has, unless unreadable (a list missing): then swapped in whole */
	if (want && fd >= 0 && !(flags & STORE_SWAP) && !policy_read(st, *id, fd, &now)) {
		for (size_t i = 0; i < want->n; i++)
			want->e[i].val.gen = gen;
		compiled_sort(want);	/* no-op when sorted */
		if (compiled_diff(&now, want) <= 1) {
			/* one entry (its list first, if it has one): atomic per address */
			struct gen_maps m = gen_maps_open(st, *id, fd, gen);

			j.mode = JOURNAL_EDIT;
			ret = journal_write(st, &j);
			if (ret) {
				gen_maps_close(&m);
				goto fail;
			}
			journaled = true;
			ret = policy_apply_diff(&m, &now, want);
			gen_maps_close(&m);
			if (!ret)
				goto done;
			/*
			 * No room (or no table) for a host or list in place, or an
			 * update refused after the list was written: the swap puts
			 * the whole policy in.
			 */
		}
	}
	ret = kf ? swap_in(st, *id, kf, gen, &j) : swap_in_compiled(st, *id, want, gen, &j);
	if (ret)
		goto fail;
done:
	ret = store_finish(st, *id, &j);
	if (ret)
		goto fail;
	goto cleanup;
fail:
	/*
	 * The staged rules stay when the journal names them: a swap that may
	 * be in force, or an edit that may have written part of its entries
	 * (the next writer rolls it forward).
	 */
	if (!j.trie_id && !journaled)
		store_unlink(st, *id, true);
	if (created)
		*id = 0;
	snprintf(err, errlen, "cannot store policy '%s': %s", p->name, strerror(-ret));
cleanup:
	if (fd >= 0)
		close(fd);
	compiled_free(&now);
	if (want)
		compiled_free(want);
	if (kf)
		kform_free(kf);
	return ret;
}

int state_policy_store(struct egress_state *st, uint32_t *id, const struct policy *p,
		       int flags, char *err, size_t errlen)
{
	struct compiled want;
	struct hits_pool hp;
	struct policy q;
	int ret;

	journal_repair_locked(st);	/* a killed writer's change, finished or dropped */
	if (p->nrules > st->cfg.max_rules)
		return full_error(st, p->name, p->nrules, err, errlen);
	/* the hit counter ids of the stored version's rules stay (hits.h) */
	ret = policy_copy(&q, p) ?: hits_pool_open(st, &hp);
	if (ret)
		goto out;
	ret = hits_assign(st, &hp, *id, &q);
	hits_pool_close(&hp);
	ret = ret ?: policy_compile(&q, &want, err, errlen);
	ret = ret ?: policy_store_compiled(st, id, &q, &want, NULL, flags, err, errlen);
out:
	policy_free(&q);
	return ret;
}

/* ---- the edit plan (pure: tests/unit/test_store.c) ----------------------- */

int store_edit_plan(const struct policy *op, const struct rule *r, bool remove, uint32_t max_rules,
		    struct store_edit *e)
{
	int ret = 0;

	memset(e, 0, sizeof(*e));
	e->at = SIZE_MAX;
	rules_range(op->rules, op->nrules, &r->cidr, true, &e->lo, &e->hi);
	for (size_t i = e->lo; i < e->hi; i++)
		if (rule_live(op, &op->rules[i]) && rule_same_match(&op->rules[i], r))
			e->at = i;
	if (remove && e->at == SIZE_MAX) {
		e->kind = EDIT_ABSENT;
		return 0;
	}
	if (!remove && e->at != SIZE_MAX && op->rules[e->at].action == r->action) {
		e->kind = EDIT_SAME;
		return 0;
	}
	e->n = policy_live(op) + (remove ? -1 : e->at == SIZE_MAX);
	e->size = e->n;
	if (!op->gone && op->ndead && op->ndead <= policy_live(op) / STORE_COMPACT_SHARE) {
		/* a few marked rules stay: the version is copied in runs as long as the store */
		size_t dead_here = 0;

		for (size_t i = e->lo; i < e->hi; i++)
			dead_here += !rule_live(op, &op->rules[i]);
		e->ndead = op->ndead - dead_here;
		e->size = e->n + e->ndead;
	}
	if (e->n > max_rules) {
		e->kind = EDIT_FULL;
		return 0;
	}
	/* the rules at r's CIDR, changed and sorted; the others stay as they are */
	for (size_t i = e->lo; i < e->hi && !ret; i++)
		if (rule_live(op, &op->rules[i]))
			ret = policy_append_rule(&e->grp, &op->rules[i]);
	if (!ret)
		ret = remove ? policy_remove_rule(&e->grp, r) : policy_set_rule(&e->grp, r);
	if (ret < 0) {
		store_edit_free(e);
		return ret;
	}
	policy_sort(&e->grp);
	if (e->at != SIZE_MAX)
		*(op->rules[e->at].action == EGRESS_ALLOW ? &e->dallow : &e->ddeny) -= 1;
	if (!remove)
		*(r->action == EGRESS_ALLOW ? &e->dallow : &e->ddeny) += 1;
	e->kind = EDIT_CHANGE;
	return 0;
}

/* op's live rules of [from, to) into out, a run of live ones at a time; how many */
static size_t live_rules(const struct policy *op, size_t from, size_t to, struct rule *out)
{
	size_t n = 0, i = from, j;

	while (i < to) {
		j = i;
		if (op->ndead || op->gone)
			while (j < to && rule_live(op, &op->rules[j]))
				j++;
		else
			j = to;
		memcpy(out + n, op->rules + i, (j - i) * sizeof(*out));
		n += j - i;
		i = j + 1;	/* past the removed one */
	}
	return n;
}

void store_edit_rules(const struct policy *op, const struct store_edit *e, struct rule *out)
{
	size_t n;

	if (e->ndead) {
		/* the marked rules outside r's CIDR kept as they are */
		memcpy(out, op->rules, e->lo * sizeof(*out));
		n = e->lo;
	} else {
		n = live_rules(op, 0, e->lo, out);
	}
	if (e->grp.nrules)
		memcpy(out + n, e->grp.rules, e->grp.nrules * sizeof(*out));
	n += e->grp.nrules;
	if (e->ndead)
		memcpy(out + n, op->rules + e->hi, (op->nrules - e->hi) * sizeof(*out));
	else
		live_rules(op, e->hi, op->nrules, out + n);
}

bool store_edit_in_place(size_t nput, size_t ndel)
{
	return nput + ndel <= STORE_EDIT_IN_PLACE_MAX;
}

void store_edit_free(struct store_edit *e)
{
	policy_free(&e->grp);
}

static int put_order(const void *a_, const void *b_)
{
	const struct centry *a = a_, *b = b_;
	bool ha = key_is_host(&a->key), hb = key_is_host(&b->key);

	if (ha != hb)
		return ha ? -1 : 1;	/* host entries first: unseen until their container says so */
	return a->key.prefixlen > b->key.prefixlen ? -1 : a->key.prefixlen < b->key.prefixlen;
}

/*
 * Writes a plan, each entry atomically, in an order where every address
 * moves from its old verdict to its new one once: host entries (a new one
 * counts only once its container names hosts), trie entries deepest first
 * (a new CIDR before its parent drops the hosts flag), then deletions:
 * trie entries (the parent already names the hosts they held), hosts.
 * An entry with a list writes the list first (entry_put), and a deleted
 * entry leaves its list (entry_del).
 */
static int plan_apply(const struct gen_maps *m, struct compiled *put, const struct compiled *del)
{
	int ret;

	/* a table the plan needs and the generation lacks: -ENOENT before anything is written */
	for (size_t i = 0; i < put->n; i++)
		if ((key_is_host(&put->e[i].key) && m->hosts < 0) ||
		    (put->e[i].val.nslots > EGRESS_INLINE && m->lists < 0))
			return -ENOENT;
	if (put->n)
		qsort(put->e, put->n, sizeof(*put->e), put_order);
	for (size_t i = 0; i < put->n; i++) {
		ret = entry_put(m, &put->e[i]);	/* no table yet: -ENOENT, a swap makes one */
		if (ret)
			return ret;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < del->n; i++) {
			if (key_is_host(&del->e[i].key) != (pass == 1))
				continue;
			ret = entry_del(m, &del->e[i].key);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int state_policy_edit(struct egress_state *st, uint32_t id, const struct rule *r, bool remove,
		      char *err, size_t errlen)
{
	struct state_journal j = { .active = 1, .id = id, .mode = JOURNAL_EDIT, .txn = fresh_txn() };
	struct store_view old = { .fd = -1 }, nv = { .fd = -1 };
	struct compiled put = {}, del = {}, want = {};
	struct store_edit e = {};
	struct policy op = {}, np, clean = {};
	char cs[CIDR_STR_LEN];
	struct gen_maps m = { .trie = -1, .hosts = -1, .lists = -1 };
	int fd = -1, ret;
	bool in_place;
	uint32_t gen;

	journal_repair_locked(st);
	if (bpf_map_lookup_elem(st->map_fd[M_INFO], &id, &j.info)) {
		ret = -errno;
		snprintf(err, errlen, "cannot read policy %u: %s", id, strerror(-ret));
		return ret;
	}
	snprintf(op.name, sizeof(op.name), "%.*s", EGRESS_NAME_MAX - 1, j.info.name);
	/* writable: a removal marks its rule in place */
	ret = store_open_mode(st, id, false, remove, &old);
	if (!ret && old.head->n - old.head->ndead != (uint64_t)j.info.nallow + j.info.ndeny) {
		/*
		 * The header's count of marked rules disagrees with the info
		 * (which the journal keeps equal to the rules): the edit's sizes
		 * would be wrong, so the policy is written whole again, as read
		 * (readers skip marks by the mark, not the count).
		 */
		store_close(&old);
		ret = -ENOENT;
	}
	if (ret == -ENOENT) {
		/* pins an older egress made, or a miscounted store: the whole policy, once; it gets a store */
		struct policy p;

		ret = state_policy_load(st, id, &p);
		if (ret) {
			/* a list missing, say: its programs deny there; nothing is written from a partial read */
			policy_free(&p);
			snprintf(err, errlen, "cannot read policy '%s' back from the kernel: %s (apply it again "
				 "with 'egressctl apply -f')", op.name, strerror(-ret));
			return ret;
		}
		ret = remove ? policy_remove_rule(&p, r) : policy_set_rule(&p, r);
		ret = ret < 0 ? ret : state_policy_store(st, &id, &p, 0, err, errlen);
		policy_free(&p);
		if (ret == -ENOENT)
			goto absent;
		return ret;
	}
	if (ret)
		goto fail;
	op.dflt = old.head->dflt;
	op.err = old.head->err;
	op.flags = old.head->flags;
	op.dflt_id = old.head->dflt_id;
	op.rules = old.rules;
	op.nrules = old.head->n;
	op.ndead = old.head->ndead;
	if (!remove) {
		struct rule added = *r;

		added.id = hits_take_one(st);	/* a new rule (or action): counts from 0 */
		ret = store_edit_plan(&op, &added, remove, st->cfg.max_rules, &e);
	} else {
		ret = store_edit_plan(&op, r, remove, st->cfg.max_rules, &e);
	}
	if (ret < 0)
		goto fail;
	if (e.kind == EDIT_ABSENT)
		goto absent;
	if (e.kind == EDIT_SAME)
		goto cleanup;	/* already so */
	if (e.kind == EDIT_FULL) {
		ret = full_error(st, op.name, e.n, err, errlen);
		goto cleanup;
	}
	np = op;
	in_place = remove && store_remove_in_place(&op);
	if (in_place) {
		/* the rule marked removed where it stands, after the kernel has the change */
		np.gone = &op.rules[e.at];
		j.mode = JOURNAL_REMOVE;
		j.txn = old.head->txn;
		j.at = e.at;
	} else {
		/* a new version written whole (dropping the rules marked removed) */
		ret = store_create(e.size, &op, j.txn, &nv);
		if (ret)
			goto fail;
		store_edit_rules(&op, &e, nv.rules);
		nv.head->ndead = e.ndead;
		np.rules = nv.rules;
		np.nrules = e.size;
		np.ndead = e.ndead;
	}

	fd = inner_fd(st, id);
	if (fd < 0) {
		ret = fd;
		goto fail;
	}
	gen = trie_gen(fd);
	ret = policy_plan_edit(&op, &np, &r->cidr, gen, &put, &del, err, errlen);
	if (ret)
		goto cleanup;	/* more than EGRESS_SLOTS apply somewhere: err says where */
	/* the info's counts, kept by the writer */
	j.info.nallow += e.dallow;
	j.info.ndeny += e.ddeny;

	ret = (in_place ? 0 : store_stage(st, id, nv.fd)) ?: epoch_begin(st) ?: journal_write(st, &j);
	if (ret)
		goto fail;
	ret = -E2BIG;
	if (store_edit_in_place(put.n, del.n)) {
		m = gen_maps_open(st, id, fd, gen);
		ret = plan_apply(&m, &put, &del);
	}
	if (ret) {
		/* big, or no room for a host in place: the new version swapped in whole */
		ret = policy_copy(&clean, &np) ?: policy_compile(&clean, &want, err, errlen) ?:
		      swap_in_compiled(st, id, &want, gen, NULL);
		if (ret)
			goto fail;	/* the journal stays: the next writer rolls forward */
	}
	if (in_place)
		store_mark_dead(&old, e.at);
	ret = store_finish(st, id, &j);
	if (ret)
		goto fail;
	goto cleanup;
absent:
	format_cidr(&r->cidr, cs, sizeof(cs));
	snprintf(err, errlen, "policy '%s' has no rule for %s with that protocol and port", op.name, cs);
	ret = -ENOENT;
	goto cleanup;
fail:
	snprintf(err, errlen, "cannot store policy '%s': %s", op.name, strerror(-ret));
cleanup:
	if (fd >= 0)
		close(fd);
	gen_maps_close(&m);
	store_close(&old);
	store_close(&nv);
	policy_free(&clean);
	store_edit_free(&e);
	compiled_free(&put);
	compiled_free(&del);
	compiled_free(&want);
	return ret;
}

int state_apply(struct egress_state *st, struct policy_file *pf, char *err, size_t errlen)
{
	uint32_t *ids = calloc(pf->n + 1, sizeof(*ids));
	struct kform *cc = calloc(pf->n + 1, sizeof(*cc));
	struct hits_pool hp;
	int ret = 0;

	if (!ids || !cc) {
		free(ids);
		free(cc);
		return -ENOMEM;
	}
	journal_repair_locked(st);
	ret = hits_pool_open(st, &hp);
	for (size_t i = 0; !ret && i < pf->n; i++) {
		struct policy *p = &pf->pol[i];

		if (state_policy_id(st, p->name, &ids[i]) == 0) {
			struct policy cur;

			/* its settings: the summary, no rule read */
			if (!pf->declared[i] && !state_policy_summary(st, ids[i], &cur)) {
				p->dflt = cur.dflt;
				p->err = cur.err;
				p->flags = cur.flags;
				memcpy(p->hint, cur.hint, sizeof(p->hint));
				policy_free(&cur);
			}
		} else if (!pf->declared[i]) {
			snprintf(err, errlen, "unknown policy '%s' (the file has no 'policy add %s')",
				 p->name, p->name);
			ret = -ENOENT;
			break;
		}
		if (p->nrules > st->cfg.max_rules) {
			ret = full_error(st, p->name, p->nrules, err, errlen);
			break;
		}
		/* the hit counter ids of unchanged rules stay (hits.h) */
		ret = hits_assign(st, &hp, ids[i], p);
		/* compiled once: what validation made is what gets stored (a swap needs no order) */
		ret = ret ?: policy_compile_kform(p, &cc[i], err, errlen);
	}
	hits_pool_close(&hp);
	/* everything checked: now each policy is replaced whole */
	for (size_t i = 0; !ret && i < pf->n; i++)
		ret = policy_store_compiled(st, &ids[i], &pf->pol[i], NULL, &cc[i], STORE_SWAP, err,
					    errlen);
	for (size_t i = 0; i < pf->n; i++)
		kform_free(&cc[i]);
	free(cc);
	free(ids);
	return ret;
}

int state_policy_delete(struct egress_state *st, uint32_t id)
{
	int ret;

	if (bpf_map_delete_elem(st->map_fd[M_INFO], &id) && errno != ENOENT)
		return -errno;
	ret = epoch_begin(st);
	if (ret)
		return ret;
	if (bpf_map_delete_elem(st->map_fd[M_POLICIES], &id) && errno != ENOENT)
		return -errno;
	store_unlink(st, id, false);
	store_unlink(st, id, true);
	return epoch_bump(st) ?: tables_drop(st, id, 0);
}

void tables_gc(struct egress_state *st)
{
	for (uint32_t id = 1; id <= st->cfg.max_policies; id++) {
		int fd = inner_fd(st, id);
		uint32_t gen = trie_gen(fd);

		if (fd >= 0)
			close(fd);
		tables_drop(st, id, gen);
	}
}

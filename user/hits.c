// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * hits.c - per-rule hit counters (see hits.h and README "Per-rule hit
 * counters"): the id pool, and egress_rule_hits read back.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "explain.h"
#include "hits.h"
#include "hits_zero.h"
#include "hits_zero.skel.h"
#include "parse.h"
#include "state.h"

unsigned int hits_metrics_limit = 200;

static int hits_fd(struct egress_state *st, uint32_t *size)
{
	struct bpf_map_info info;
	int fd = state_pinned_map(st, "maps/egress_rule_hits", &info);

	if (fd < 0)
		return fd;
	if (info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.value_size != sizeof(struct egress_hits)) {
		close(fd);
		return -EPROTO;
	}
	*size = info.max_entries < EGRESS_HITS_MAX ? info.max_entries : EGRESS_HITS_MAX;
	return fd;
}

static void mark(void *ctx, uint32_t id)
{
	struct hits_pool *hp = ctx;

	if (id && id < hp->size && !hp->used[id]) {
		hp->used[id] = 1;
		hp->nfree--;
	}
}

int hits_pool_open(struct egress_state *st, struct hits_pool *hp)
{
	struct policy_ref *v = NULL;
	size_t n = 0;
	int ret;

	memset(hp, 0, sizeof(*hp));
	hp->fd = -1;
	hp->ncpus = st->ncpus;
	hp->next = 1;
	hp->fd = hits_fd(st, &hp->size);
	if (hp->fd < 0) {
		hp->size = 0;	/* no counters: every id is 0 */
		return 0;
	}
	hp->nfree = hp->size ? hp->size - 1 : 0;
	hp->used = calloc(hp->size, 1);
	if (!hp->used) {
		hits_pool_close(hp);
		return -ENOMEM;
	}
	/* every id a store holds is in use (a writer holds the lock: no store moves) */
	ret = state_policies(st, &v, &n);
	for (size_t i = 0; !ret && i < n; i++)
		state_policy_ids(st, v[i].id, mark, hp);	/* as before: an unreadable one marks nothing */
	free(v);
	if (ret)
		hits_pool_close(hp);
	return ret;
}

/*
 * From this many fresh ids, bpf/hits_zero.bpf.c zeroes them: its load
 * (~7 ms, libbpf's feature probes of a process's first object included)
 * costs what the batch update spends on ~45,000 ids (~160 ns an id, every
 * CPU's value copied from user space), and it takes ~13 ns an id.
 */
#define HITS_ZERO_PROG_MIN	65536

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

/*
 * The possible CPUs are 0 to ncpus - 1: the program names CPUs by number,
 * and a gap in the mask ("0-3,8-11") would make it skip some and touch
 * others that cannot exist.
 */
static bool cpus_dense(int ncpus)
{
	char buf[64], want[32];
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok || ncpus < 1)
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	if (ncpus == 1)
		snprintf(want, sizeof(want), "0");
	else
		snprintf(want, sizeof(want), "0-%d", ncpus - 1);
	return !strcmp(buf, want);
}

/*
 * The fresh ids zeroed by bpf/hits_zero.bpf.c on the pinned map: how many,
 * from the first (0 when it cannot be loaded or run, as on a kernel without
 * BPF_PROG_TYPE_SYSCALL: the batch update does the rest, silently).
 */
static size_t zero_by_prog(struct hits_pool *hp)
{
	struct hits_zero_args a = { .ids = (uintptr_t)hp->fresh, .n = hp->nfresh };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a, .ctx_size_in = sizeof(a));
	libbpf_print_fn_t was;
	struct hits_zero *skel;
	size_t done = 0;

	if (!cpus_dense(hp->ncpus))
		return 0;
	was = libbpf_set_print(quiet);
	skel = hits_zero__open();
	if (skel) {
		skel->rodata->ncpus = hp->ncpus;
		if (!bpf_map__reuse_fd(skel->maps.egress_rule_hits, hp->fd) && !hits_zero__load(skel) &&
		    !bpf_prog_test_run_opts(bpf_program__fd(skel->progs.hits_zero), &opts) &&
		    a.done <= hp->nfresh)
			done = a.done;
		hits_zero__destroy(skel);
	}
	libbpf_set_print(was);
	return done;
}

/* Zeroes the counters of the ids taken so far (per-CPU values): the program, or in batches. */
static int pool_flush(struct hits_pool *hp)
{
	size_t chunk = 1024, done = 0;
	void *zero;
	int ret = 0;

	if (!hp->nfresh || hp->fd < 0)
		return 0;
	if (hp->nfresh >= HITS_ZERO_PROG_MIN)
		done = zero_by_prog(hp);
	if (done == hp->nfresh) {
		hp->nfresh = 0;
		return 0;
	}
	zero = calloc(chunk * hp->ncpus, sizeof(struct egress_hits));
	if (!zero)
		return -ENOMEM;
	while (done < hp->nfresh) {
		uint32_t cnt = hp->nfresh - done > chunk ? chunk : hp->nfresh - done;
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		if (bpf_map_update_batch(hp->fd, hp->fresh + done, zero, &cnt, &opts)) {
			ret = -errno;
			break;
		}
		done += cnt;
	}
	free(zero);
	hp->nfresh = 0;
	return ret;
}

void hits_pool_close(struct hits_pool *hp)
{
	pool_flush(hp);
	if (hp->fd >= 0)
		close(hp->fd);
	free(hp->used);
	free(hp->fresh);
	memset(hp, 0, sizeof(*hp));
	hp->fd = -1;
}

static uint32_t pool_take(struct hits_pool *hp)
{
	/* full: not counted (no scan per rule: an apply of 100,000 rules into a full pool stays fast) */
	for (uint32_t k = 0; hp->nfree && k + 1 < hp->size; k++) {
		uint32_t id = hp->next + k;

		if (id >= hp->size)
			id -= hp->size - 1;	/* ids 1 .. size-1 */
		if (hp->used[id])
			continue;
		if (hp->nfresh == hp->cap) {
			size_t nc = hp->cap ? hp->cap * 2 : 64;
			uint32_t *nf = realloc(hp->fresh, nc * sizeof(*nf));

			if (!nf)
				return 0;
			hp->fresh = nf;
			hp->cap = nc;
		}
		hp->used[id] = 1;
		hp->nfree--;
		hp->fresh[hp->nfresh++] = id;
		hp->next = id + 1 < hp->size ? id + 1 : 1;
		return id;
	}
	return 0;
}

int hits_assign(struct egress_state *st, struct hits_pool *hp, uint32_t id, struct policy *p)
{
	struct policy old = {};
	bool have_old = id && !state_policy_load(st, id, &old);
	/* both in policy_sort's order (a parsed file's, a store's): walked side by side */
	bool merge = have_old && policy_is_sorted(&old) && policy_is_sorted(p);
	size_t j = 0;

	if (have_old && !merge && old.nrules > 1)
		qsort(old.rules, old.nrules, sizeof(*old.rules), match_cmp);
	p->dflt_id = have_old && old.dflt_id ? old.dflt_id : pool_take(hp);
	for (size_t i = 0; i < p->nrules; i++) {
		struct rule *r = &p->rules[i];
		const struct rule *o = NULL;

		if (merge) {
			while (j < old.nrules && rule_cmp(&old.rules[j], r) < 0)
				j++;
			o = j < old.nrules && !rule_cmp(&old.rules[j], r) ? &old.rules[j] : NULL;
		} else if (have_old && old.nrules) {
			o = bsearch(r, old.rules, old.nrules, sizeof(*r), match_cmp);
		}
		r->id = o && o->id ? o->id : pool_take(hp);
	}
	if (have_old)
		policy_free(&old);
	return pool_flush(hp);
}

uint32_t hits_take_one(struct egress_state *st)
{
	struct hits_pool hp;
	uint32_t id;

	if (hits_pool_open(st, &hp))
		return 0;
	id = pool_take(&hp);
	if (pool_flush(&hp))
		id = 0;	/* stale counts: better none */
	hits_pool_close(&hp);
	return id;
}

int hits_read(struct egress_state *st, struct egress_hits **out, uint32_t *n)
{
	uint32_t size, chunk = 4096, in = 0, outb = 0, cnt;
	struct egress_hits *sum, *vals;
	uint32_t *keys;
	bool first = true;
	int fd = hits_fd(st, &size), ret = 0;

	*out = NULL;
	*n = 0;
	if (fd < 0)
		return fd;
	sum = calloc(size, sizeof(*sum));
	keys = calloc(chunk, sizeof(*keys));
	vals = calloc((size_t)chunk * st->ncpus, sizeof(*vals));
	if (!sum || !keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		int err;

		cnt = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &outb, keys, vals, &cnt, &opts);
		if (err && errno != ENOENT) {
			ret = -errno;
			goto out;
		}
		for (uint32_t i = 0; i < cnt; i++) {
			struct egress_hits *s;

			if (keys[i] >= size)
				continue;
			s = &sum[keys[i]];
			for (int c = 0; c < st->ncpus; c++) {
				const struct egress_hits *v = &vals[(size_t)i * st->ncpus + c];

				s->allowed += v->allowed;
				s->denied += v->denied;
				s->audited += v->audited;
			}
		}
		if (err)
			break;	/* ENOENT: that was the last batch */
		in = outb;
		first = false;
	}
	*out = sum;
	*n = size;
	sum = NULL;
out:
	free(sum);
	free(keys);
	free(vals);
	close(fd);
	return ret;
}

struct egress_hits hits_of(const struct egress_hits *h, uint32_t n, uint32_t id)
{
	struct egress_hits zero = {};

	return h && id && id < n ? h[id] : zero;
}

static int row_cmp(const void *a_, const void *b_)
{
	const struct hits_row *a = a_, *b = b_;
	int r;

	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	r = strcmp(a->policy, b->policy);
	return r ? r : strcmp(a->rule, b->rule);
}

static int row_push(struct hits_row **v, size_t *n, size_t *cap, const char *policy,
		    const char *rule, struct egress_hits h)
{
	uint64_t total = h.allowed + h.denied + h.audited;

	if (!total)
		return 0;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct hits_row *nv = realloc(*v, nc * sizeof(**v));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	snprintf((*v)[*n].policy, sizeof((*v)[*n].policy), "%s", policy);
	snprintf((*v)[*n].rule, sizeof((*v)[*n].rule), "%s", rule);
	(*v)[*n].h = h;
	(*v)[*n].total = total;
	(*n)++;
	return 0;
}

int hits_top(struct egress_state *st, unsigned int limit, struct hits_row **out, size_t *nout)
{
	struct egress_hits *h = NULL;
	struct policy_ref *v = NULL;
	struct hits_row *rows = NULL;
	size_t n = 0, nrows = 0, cap = 0;
	uint32_t nh = 0;
	int ret;

	*out = NULL;
	*nout = 0;
	ret = hits_read(st, &h, &nh);
	if (ret)
		return ret;
	ret = state_policies(st, &v, &n);
	for (size_t i = 0; !ret && i < n; i++) {
		struct policy p;
		char text[96];

		if (state_policy_load(st, v[i].id, &p))
			continue;
		ret = row_push(&rows, &nrows, &cap, v[i].name, "default", hits_of(h, nh, p.dflt_id));
		for (size_t r = 0; !ret && r < p.nrules; r++) {
			explain_rule_text(&p.rules[r], text, sizeof(text));
			ret = row_push(&rows, &nrows, &cap, v[i].name, text, hits_of(h, nh, p.rules[r].id));
		}
		policy_free(&p);
	}
	free(v);
	free(h);
	if (ret) {
		free(rows);
		return ret;
	}
	if (nrows > 1)
		qsort(rows, nrows, sizeof(*rows), row_cmp);
	*out = rows;
	*nout = nrows < limit ? nrows : limit;
	return 0;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* counters.c - what the programs count: per-policy counters, statistics, the denied destinations seen. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "advise.h"
#include "state_priv.h"

int state_policy_counters(struct egress_state *st, uint32_t id, int hook, struct egress_counter *out)
{
	struct egress_counter *v = calloc(st->ncpus, sizeof(*v));
	uint32_t idx = id * EGRESS_HOOK_MAX + hook;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(st->map_fd[M_COUNTERS], &idx, v)) {
		ret = -errno;
	} else {
		for (int c = 0; c < st->ncpus; c++) {
			out->allowed += v[c].allowed;
			out->denied += v[c].denied;
			out->suppressed += v[c].suppressed;
			out->dropped += v[c].dropped;
			out->audited += v[c].audited;
		}
	}
	free(v);
	return ret;
}

uint64_t state_stat(struct egress_state *st, enum egress_stat s)
{
	uint64_t *v = calloc(st->ncpus, sizeof(*v)), sum = 0;
	uint32_t idx = s;

	if (v && !bpf_map_lookup_elem(st->map_fd[M_STATS], &idx, v))
		for (int c = 0; c < st->ncpus; c++)
			sum += v[c];
	free(v);
	return sum;
}

int state_stat_add(struct egress_state *st, enum egress_stat s, uint64_t n)
{
	uint64_t *v = calloc(st->ncpus, sizeof(*v));
	uint32_t idx = s;
	int ret = 0;

	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(st->map_fd[M_STATS], &idx, v) == 0) {
		v[0] += n;
		if (bpf_map_update_elem(st->map_fd[M_STATS], &idx, v, BPF_ANY))
			ret = -errno;
	} else {
		ret = -errno;
	}
	free(v);
	return ret;
}

/* ---- distinct denied destinations (egressctl advise) -------------------- */

struct seen_vec {
	struct seen_rec *v;
	size_t n, cap;
};

static int push_seen(void *ctx, const void *k, const void *val)
{
	struct seen_vec *s = ctx;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		struct seen_rec *nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = cap;
	}
	memcpy(&s->v[s->n].key, k, sizeof(s->v[s->n].key));
	memcpy(&s->v[s->n].val, val, sizeof(s->v[s->n].val));
	s->n++;
	return 0;
}

int state_seen(struct egress_state *st, struct seen_rec **out, size_t *n)
{
	struct seen_vec s = {};
	struct egress_seen_key key, *prev = NULL;
	struct egress_seen val;
	int fd = st->map_fd[M_SEEN], ret;

	*out = NULL;
	*n = 0;
	if (fd < 0)
		return -ENOENT;
	/* a hash's batch position is a bucket number */
	ret = map_read_batched(fd, sizeof(key), sizeof(val), sizeof(uint32_t), push_seen, &s);
	if (ret == -EOPNOTSUPP) {
		s.n = 0;
		ret = 0;
		while (!ret && !bpf_map_get_next_key(fd, prev, &key)) {
			prev = &key;
			if (!bpf_map_lookup_elem(fd, &key, &val))
				ret = push_seen(&s, &key, &val);
		}
	}
	if (ret) {
		free(s.v);
		return ret;
	}
	*out = s.v;
	*n = s.n;
	return 0;
}


/* ---- a scrape's snapshot (metrics.c) ------------------------------------- */

static int cg_row_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct cg_denied_row *)a)->denied, y = ((const struct cg_denied_row *)b)->denied;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* egress_cg_denied, most denials first */
static void cg_denied_read(struct egress_state *st, struct state_snapshot *s)
{
	struct egress_cg_key key, *prev = NULL;
	size_t cap = 0;

	while (!bpf_map_get_next_key(st->map_fd[M_CG_DENIED], prev, &key)) {
		uint64_t d;

		prev = &key;
		if (bpf_map_lookup_elem(st->map_fd[M_CG_DENIED], &key, &d))
			continue;
		if (s->ncg == cap) {
			struct cg_denied_row *nr = realloc(s->cg, (cap = cap ? cap * 2 : 256) * sizeof(*nr));

			if (!nr)
				break;
			s->cg = nr;
		}
		s->cg[s->ncg++] = (struct cg_denied_row){ .key = key, .denied = d };
	}
	if (s->ncg)
		qsort(s->cg, s->ncg, sizeof(*s->cg), cg_row_cmp);
}

int state_snapshot(struct egress_state *st, struct state_snapshot *s)
{
	struct binding_ref *b = NULL;
	struct policy_ref *v = NULL;
	size_t n = 0, nb = 0;

	memset(s, 0, sizeof(*s));
	state_policies(st, &v, &n);
	state_bindings(st, &b, &nb);
	s->pol = calloc(n + 1, sizeof(*s->pol));
	if (!s->pol) {
		free(v);
		free(b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct policy_counts *p = &s->pol[i];

		p->id = v[i].id;
		memcpy(p->name, v[i].name, sizeof(p->name));
		for (int h = 0; h < EGRESS_NHOOKS; h++)
			state_policy_counters(st, p->id, h, &p->hook[h]);
		p->has_info = !state_policy_info(st, p->id, &p->info);
		for (size_t j = 0; j < nb; j++)
			p->bound += b[j].policy == p->id;
	}
	s->npol = n;
	free(v);
	free(b);
	for (int i = 0; i < EGRESS_STAT_MAX; i++)
		s->stat[i] = state_stat(st, i);
	state_lost(st, &s->lost, &s->nlost);
	cg_denied_read(st, s);
	return 0;
}

void state_snapshot_free(struct state_snapshot *s)
{
	free(s->pol);
	free(s->lost);
	free(s->cg);
	memset(s, 0, sizeof(*s));
}

const char *snapshot_policy_name(const struct state_snapshot *s, uint32_t id)
{
	for (size_t i = 0; i < s->npol; i++)
		if (s->pol[i].id == id)
			return s->pol[i].name;
	return id ? "?" : "(none)";
}

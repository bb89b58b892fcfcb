// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * floor.c - the kernel floor of an apply (issue 12, goal 5): the time to
 * put a policy's trie and host entries into fresh maps, with nothing else.
 *
 *   floor PIN_DIR POLICY ROUNDS
 *
 * Reads the entries egress put in force for POLICY (its trie, and the host
 * and list tables its generation names; untimed), then ROUNDS times:
 * creates a fresh LPM trie, host hash and list hash (when the policy has
 * lists) shaped as egress makes them (same key/value sizes, flags and
 * max_entries), inserts every entry in batches of 4096
 * (BPF_MAP_UPDATE_BATCH: the trie through the kernel's generic batch, the
 * hash natively), closes them.  Prints one line per round: "floor<TAB>µs".
 * The maps are never pinned or attached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "egress.h"

#define BATCH 4096

struct ents {
	void *k, *v;
	size_t n, cap, ksz, vsz;
};

static int push(struct ents *e, const void *k, const void *v)
{
	if (e->n == e->cap) {
		size_t nc = e->cap ? 2 * e->cap : 1024;
		void *nk = realloc(e->k, nc * e->ksz), *nv;

		if (!nk)
			return -ENOMEM;
		e->k = nk;
		nv = realloc(e->v, nc * e->vsz);
		if (!nv)
			return -ENOMEM;
		e->v = nv;
		e->cap = nc;
	}
	memcpy((char *)e->k + e->n * e->ksz, k, e->ksz);
	memcpy((char *)e->v + e->n * e->vsz, v, e->vsz);
	e->n++;
	return 0;
}

/* Every entry of a map, by get_next_key (untimed). */
static int dump(int fd, struct ents *e)
{
	char key[64], prev[64], val[sizeof(struct egress_list)];
	void *pk = NULL;

	while (!bpf_map_get_next_key(fd, pk, key)) {
		memcpy(prev, key, e->ksz);
		pk = prev;
		if (!bpf_map_lookup_elem(fd, key, val) && push(e, key, val))
			return -ENOMEM;
	}
	return 0;
}

static int fill(int fd, const struct ents *e)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	for (size_t i = 0; i < e->n; i += BATCH) {
		uint32_t n = e->n - i < BATCH ? e->n - i : BATCH;

		if (bpf_map_update_batch(fd, (char *)e->k + i * e->ksz,
					 (char *)e->v + i * e->vsz, &n, &opts))
			return -errno;
	}
	return 0;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	struct ents trie = { .ksz = sizeof(struct egress_lpm_key), .vsz = sizeof(struct egress_entry) };
	struct ents hosts = { .ksz = sizeof(struct egress_host_key), .vsz = sizeof(struct egress_entry) };
	struct ents lists = { .ksz = sizeof(struct egress_lpm_key), .vsz = sizeof(struct egress_list) };
	struct egress_lpm_key root = { .prefixlen = EGRESS_KEY_HDR_BITS, .family = EGRESS_FAM_V4 };
	struct egress_policy_info info;
	struct egress_config cfg;
	struct egress_entry re;
	char path[4096];
	uint32_t key, *prev = NULL, id = 0, zero = 0, map_id, slot;
	int info_fd, pol_fd, hosts_fd, lists_fd, cfg_fd, tfd, hfd, lfd, rounds;

	if (argc != 4) {
		fprintf(stderr, "usage: floor PIN_DIR POLICY ROUNDS\n");
		return 2;
	}
	rounds = atoi(argv[3]);
	snprintf(path, sizeof(path), "%s/maps/egress_policy_info", argv[1]);
	info_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/maps/egress_policies", argv[1]);
	pol_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/maps/egress_hosts", argv[1]);
	hosts_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/maps/egress_lists", argv[1]);
	lists_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/maps/egress_config", argv[1]);
	cfg_fd = bpf_obj_get(path);
	if (info_fd < 0 || pol_fd < 0 || hosts_fd < 0 || lists_fd < 0 || cfg_fd < 0 ||
	    bpf_map_lookup_elem(cfg_fd, &zero, &cfg)) {
		fprintf(stderr, "floor: cannot open the pins in %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (!bpf_map_get_next_key(info_fd, prev, &key)) {
		prev = &key;
		if (!bpf_map_lookup_elem(info_fd, &key, &info) && !strcmp(info.name, argv[2]))
			id = key;
	}
	if (!id || bpf_map_lookup_elem(pol_fd, &id, &map_id) || (tfd = bpf_map_get_fd_by_id(map_id)) < 0) {
		fprintf(stderr, "floor: no policy '%s'\n", argv[2]);
		return 1;
	}
	if (dump(tfd, &trie) || bpf_map_lookup_elem(tfd, &root, &re))
		return 1;
	slot = EGRESS_HOSTS_SLOT(id, re.gen);
	if (!bpf_map_lookup_elem(hosts_fd, &slot, &map_id) && (hfd = bpf_map_get_fd_by_id(map_id)) >= 0 &&
	    dump(hfd, &hosts))
		return 1;
	if (!bpf_map_lookup_elem(lists_fd, &slot, &map_id) && (lfd = bpf_map_get_fd_by_id(map_id)) >= 0 &&
	    dump(lfd, &lists))
		return 1;
	fprintf(stderr, "floor: policy '%s': %zu trie entries, %zu host entries, %zu lists\n", argv[2],
		trie.n, hosts.n, lists.n);

	for (int r = 0; r < rounds; r++) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
		double t0 = now_us();
		int t = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "floor_trie", trie.ksz, trie.vsz,
				       cfg.max_rules + 2, &o);
		int h = -1, l = -1;

		if (t < 0 || fill(t, &trie))
			return 1;
		if (hosts.n) {
			size_t size = 2 * hosts.n + 64;

			if (size > cfg.max_rules + 2)
				size = cfg.max_rules + 2;
			h = bpf_map_create(BPF_MAP_TYPE_HASH, "floor_hosts", hosts.ksz, hosts.vsz,
					   size, &o);
			if (h < 0 || fill(h, &hosts))
				return 1;
		}
		if (lists.n) {
			size_t size = 2 * lists.n + 64;

			if (size > cfg.max_rules + 2)
				size = cfg.max_rules + 2;
			l = bpf_map_create(BPF_MAP_TYPE_HASH, "floor_lists", lists.ksz, lists.vsz, size, &o);
			if (l < 0 || fill(l, &lists))
				return 1;
		}
		printf("floor\t%.0f\n", now_us() - t0);
		close(t);
		if (h >= 0)
			close(h);
		if (l >= 0)
			close(l);
	}
	return 0;
}

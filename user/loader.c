// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * loader.c - egressd's load of the programs into the pin directory: the
 * maps sized and pinned (or the pinned ones reused), the policies filled
 * in before anything attaches, the programs pinned and every pinned link
 * switched to them with bpf_link_update (no moment without enforcement).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "cmdline.h"
#include "egress.skel.h"
#include "hits.h"
#include "loader.h"
#include "policyset.h"
#include "state_priv.h"

#define logf_ ps_logf	/* "egressd: ..." on stderr (policyset.c) */

static struct bpf_program *hook_prog(struct egress *skel, int hook)
{
	switch (hook) {
#define HOOK_PROG_(N, num, name, type, prog, sec, ctx) case EGRESS_HOOK_##N: return skel->progs.prog;
	EGRESS_HOOK_TABLE(HOOK_PROG_)	/* include/egress_hooks.h */
#undef HOOK_PROG_
	}
	return NULL;
}

/* Takes the sizes of pinned maps, so that they can be reused as they are. */
static int read_pinned_config(const char *pin_dir, struct egress_config *cfg)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/maps/egress_config", pin_dir);
	return state_record_read(path, cfg);
}

/* egress_seen keeps the size it was pinned with; a new one gets --max-seen. */
static uint32_t seen_entries(const struct loader_opts *o)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/egress_seen", o->pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return o->max_seen;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || !info.max_entries)
		info.max_entries = o->max_seen;
	close(fd);
	if (info.max_entries != o->max_seen)
		logf_("keeping the size of the pinned egress_seen (max-seen %u); 'egressctl unload' "
		      "to change it", info.max_entries);
	return info.max_entries;
}

static int size_maps(struct egress *skel, const struct egress_config *cfg, const struct loader_opts *o)
{
	int ret = 0;

	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_policies, cfg->max_policies + 1);
	/* the inner template is not used for lookups: store.c creates each
	 * policy's trie with max_rules + 2 entries */
	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_policy_info, cfg->max_policies + 1);
	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_counters,
					      (cfg->max_policies + 1) * EGRESS_HOOK_MAX);
	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_events, cfg->ringbuf_bytes);
	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_rate, cfg->max_cgroups);
	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_cg_denied, cfg->max_cgroups);
	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_oci, cfg->max_cgroups);
	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_hosts, 2 * (cfg->max_policies + 1));
	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_lists, 2 * (cfg->max_policies + 1));
	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_seen, seen_entries(o));
	/* the hit counter id pool (user/hits.h): a full policy's rules and every default */
	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_rule_hits,
					      cfg->max_rules + cfg->max_policies + 1 < EGRESS_HITS_MAX ?
					      cfg->max_rules + cfg->max_policies + 1 : EGRESS_HITS_MAX);
	skel->rodata->count_rule_hits = !getenv("EGRESS_NO_RULE_HITS");	/* make bench only */
	/* the rate limit is the program's own: new flags take effect with the new programs */
	if (o->event_rate) {
		skel->rodata->rate_cost_ns = 1000000000ULL / o->event_rate;
		skel->rodata->rate_burst_ns = skel->rodata->rate_cost_ns * o->event_burst;
	} else {
		skel->rodata->rate_cost_ns = 0;
	}
	return ret;
}

static int pin_maps(struct egress *skel, const char *pin_dir)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int ret;

	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/maps/%s", pin_dir, bpf_map__name(map));
		ret = bpf_map__set_pin_path(map, path);
		if (ret)
			return ret;
	}
	return 0;
}

/* Pins the new programs over the old ones (rename is atomic on bpffs). */
static int pin_progs(struct egress *skel, const char *pin_dir)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int ret;

	snprintf(path, sizeof(path), "%s/progs", pin_dir);
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	for (int h = 0; h < EGRESS_NHOOKS; h++) {
		snprintf(path, sizeof(path), "%s/progs/%s", pin_dir, egress_hooks[h].name);
		snprintf(tmp, sizeof(tmp), "%s_new", path);	/* bpffs reserves dots */
		unlink(tmp);
		ret = bpf_program__pin(hook_prog(skel, h), tmp);
		if (ret)
			return ret;
		if (rename(tmp, path))
			return -errno;
	}
	return 0;
}

/*
 * Every pinned link runs the programs just loaded: replaced in place.  A
 * binding made by an older build that lacks a hook gets it attached.
 */
static int update_links(struct egress *skel, struct egress_state *st, int *updated)
{
	struct binding_ref *v;
	char path[PATH_MAX], err[ERRBUF_LEN];
	size_t n;
	int ret;

	*updated = 0;
	ret = state_bindings(st, &v, &n);
	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++) {
		bool missing = false;

		for (int h = 0; h < EGRESS_NHOOKS; h++) {
			int fd;

			state_pin_path(st, path, sizeof(path), "links/%llu/%s",
				       (unsigned long long)v[i].cgroup_id, egress_hooks[h].name);
			fd = bpf_obj_get(path);
			if (fd < 0) {
				missing = true;
				continue;
			}
			if (bpf_link_update(fd, bpf_program__fd(hook_prog(skel, h)), NULL)) {
				/* a link of a removed cgroup cannot be updated: gc takes it */
				if (errno != ENOLINK) {
					ret = -errno;
					logf_("cannot update link %s: %s", path, strerror(errno));
				}
			} else {
				(*updated)++;
			}
			close(fd);
		}
		if (missing && v[i].policy && !cg_path(v[i].cgroup_id, path, sizeof(path))) {
			if (state_bind(st, path, v[i].policy, err, sizeof(err)))
				logf_("cannot complete the binding of %s: %s", path, err);
			else
				logf_("attached the hooks %s lacked", path);
		}
	}
	free(v);
	return ret;
}

int loader_take_over(struct loader *ld, const struct loader_opts *o, struct egress_state *st,
		     int (*fill)(struct egress_state *st, bool fresh, void *ctx), void *ctx)
{
	struct egress_config cfg = {};
	char err[ERRBUF_LEN];
	int ret;

	memset(ld, 0, sizeof(*ld));
	state_init(st);
	ld->fresh = read_pinned_config(o->pin_dir, &cfg) != 0;
	if (ld->fresh) {
		cfg = (struct egress_config){
			.abi = EGRESS_ABI_VERSION, .max_policies = o->max_policies,
			.max_rules = o->max_rules, .ringbuf_bytes = o->ringbuf_bytes,
			.max_cgroups = o->max_cgroups,
		};
	} else {
		if (cfg.abi != EGRESS_ABI_VERSION) {
			logf_("the state pinned in %s has ABI %u and this egressd speaks %u: refusing to "
			      "take it over (migrate it, or 'egressctl unload' to start afresh)",
			      o->pin_dir, cfg.abi, EGRESS_ABI_VERSION);
			ret = -EPROTO;
			goto fail;
		}
		if (cfg.max_rules != o->max_rules || cfg.max_policies != o->max_policies ||
		    cfg.ringbuf_bytes != o->ringbuf_bytes || cfg.max_cgroups != o->max_cgroups)
			logf_("keeping the sizes of the pinned state (max-rules %u, max-policies %u, "
			      "ringbuf %u, max-cgroups %u); 'egressctl unload' to change them",
			      cfg.max_rules, cfg.max_policies, cfg.ringbuf_bytes, cfg.max_cgroups);
	}

	ld->skel = egress__open();
	if (!ld->skel) {
		ret = -errno;
		logf_("cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	ret = size_maps(ld->skel, &cfg, o);
	if (!ret) {
		char maps[PATH_MAX];

		snprintf(maps, sizeof(maps), "%s/maps", o->pin_dir);
		if (mkdir(maps, 0700) && errno != EEXIST)
			ret = -errno;
	}
	ret = ret ?: pin_maps(ld->skel, o->pin_dir);
	if (ret) {
		logf_("cannot prepare maps: %s", strerror(-ret));
		goto fail;
	}
	/* load: creates and pins the maps, or reuses the pinned ones */
	ret = egress__load(ld->skel);
	if (ret) {
		logf_("cannot load the BPF programs: %s%s", strerror(-ret),
		      ld->fresh ? "" : " (if a pinned map's layout differs, migrate it or 'egressctl unload')");
		goto fail;
	}
	if (ld->fresh) {
		uint32_t zero = 0;

		ret = bpf_map__update_elem(ld->skel->maps.egress_config, &zero, sizeof(zero), &cfg,
					   sizeof(cfg), BPF_ANY);
		if (ret) {
			logf_("cannot write the configuration: %s", strerror(-ret));
			goto fail;
		}
	}

	/* fill maps before anything attaches: the policies first */
	ret = state_open(st, o->pin_dir, 0, err, sizeof(err));
	if (ret) {
		logf_("%s", err);
		goto fail;
	}
	ret = fill(st, ld->fresh, ctx);
	if (ret)
		goto fail;

	ret = pin_progs(ld->skel, o->pin_dir);
	if (ret) {
		logf_("cannot pin programs: %s", strerror(-ret));
		goto fail;
	}
	ret = update_links(ld->skel, st, &ld->updated);
	if (ret)
		goto fail;
	state_gc(st);
	return 0;
fail:
	state_close(st);
	loader_close(ld);
	return ret;
}

void loader_close(struct loader *ld)
{
	egress__destroy(ld->skel);
	ld->skel = NULL;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* bindings.c - binding cgroups to policies: links, their records, lost bindings, gc, unload. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "cmdline.h"
#include "state_priv.h"

/* ---- bindings ---------------------------------------------------------- */

/* The cgroup ids named by the entries of a pin subdirectory (links/, lost/). */
static int pin_ids(struct egress_state *st, const char *sub, uint64_t **out, size_t *n)
{
	char path[PATH_MAX];
	uint64_t *v = NULL;
	struct dirent *de;
	size_t cnt = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	state_pin_path(st, path, sizeof(path), "%s", sub);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		uint64_t *nv, id;
		char *end;

		id = strtoull(de->d_name, &end, 10);
		if (de->d_name[0] == '.' || *end)
			continue;
		if (!(cnt & (cnt - 1))) {	/* 0, 1, 2, 4, ...: doubled */
			nv = realloc(v, (cnt ? 2 * cnt : 1) * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[cnt++] = id;
	}
	closedir(d);
	*out = v;
	*n = cnt;
	return 0;
}

/* A pinned binding (links/<cgid>) with its policy from the cgroup's storage. */
static void binding_ref_of(struct egress_state *st, uint64_t cgid, struct binding_ref *out)
{
	struct egress_binding b = {};

	if (bpf_map_lookup_elem(st->map_fd[M_BINDING], &cgid, &b))
		b.policy = 0;	/* no live attachment (yet) */
	out->cgroup_id = cgid;
	out->policy = b.policy;
}

static int bindings(struct egress_state *st, bool live_only, struct binding_ref **out, size_t *n)
{
	struct binding_ref *v;
	uint64_t *ids;
	size_t cnt = 0, nids;
	int ret = pin_ids(st, "links", &ids, &nids);

	*out = NULL;
	*n = 0;
	if (ret)
		return ret;
	v = calloc(nids + 1, sizeof(*v));
	if (!v) {
		free(ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nids; i++) {
		if (live_only && cg_alive(ids[i]) == -ENOENT)
			continue;	/* removed: gc takes its pins */
		binding_ref_of(st, ids[i], &v[cnt++]);
	}
	free(ids);
	*out = v;
	*n = cnt;
	return 0;
}

int state_bindings(struct egress_state *st, struct binding_ref **out, size_t *n)
{
	return bindings(st, true, out, n);
}

int state_binding_of(struct egress_state *st, uint64_t cgid, struct binding_ref *out)
{
	char p[PATH_MAX];
	struct stat sb;

	state_pin_path(st, p, sizeof(p), "links/%llu", (unsigned long long)cgid);
	if (stat(p, &sb))
		return errno == ENOENT ? -ENOENT : -errno;
	binding_ref_of(st, cgid, out);
	return 0;
}

/*
 * The cgroup's storage outlives its links (the kernel frees it with the
 * cgroup): cleared on unbind and before a new binding's first link, so
 * that it reads 0 (deny) until the new policy is written.
 */
static void binding_clear(struct egress_state *st, uint64_t cgid)
{
	struct egress_binding b = { .cgroup_id = cgid };

	bpf_map_update_elem(st->map_fd[M_BINDING], &cgid, &b, BPF_EXIST);
}

static int link_dir(struct egress_state *st, uint64_t cgid, char *buf, size_t len)
{
	state_pin_path(st, buf, len, "links/%llu", (unsigned long long)cgid);
	return 0;
}

/*
 * Beside the links of a binding, two symlinks (bpffs holds no files):
 *   bound -> "POLICY PATH"   what was bound where, still known once the
 *                            cgroup is gone (see state_gc)
 *   owner -> "run PID START" or "oci ID"   who made it, for one lifetime
 * and lost/<cgroup id> -> "POLICY PATH" for a bound path whose cgroup was
 * removed (a tier deleted: a cgroup re-created there is not bound).
 */
static const char *const meta_names[] = { "bound", "owner" };

static int put_link(const char *path, const char *target)
{
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return symlink(target, path) ? -errno : 0;
}

static int get_link(const char *path, char *buf, size_t len)
{
	ssize_t n = readlink(path, buf, len - 1);

	if (n < 0) {
		buf[0] = '\0';
		return -errno;
	}
	buf[n] = '\0';
	return 0;
}

int state_binding_meta(struct egress_state *st, uint64_t cgid, char *bound, size_t blen,
		       char *owner, size_t olen)
{
	char path[PATH_MAX];
	int ret = 0;

	if (bound) {
		state_pin_path(st, path, sizeof(path), "links/%llu/bound", (unsigned long long)cgid);
		ret = get_link(path, bound, blen);
	}
	if (owner) {
		state_pin_path(st, path, sizeof(path), "links/%llu/owner", (unsigned long long)cgid);
		get_link(path, owner, olen);
	}
	return ret;
}

int state_binding_owner(struct egress_state *st, uint64_t cgid, const char *owner)
{
	char path[PATH_MAX];

	state_pin_path(st, path, sizeof(path), "links/%llu/owner", (unsigned long long)cgid);
	return put_link(path, owner);
}

int state_binding_policy(struct egress_state *st, uint64_t cgid, uint32_t *policy)
{
	struct egress_binding b = {};

	if (bpf_map_lookup_elem(st->map_fd[M_BINDING], &cgid, &b))
		return -errno;
	*policy = b.policy;
	return 0;
}

int state_oci_get(struct egress_state *st, const struct egress_oci_key *key, uint64_t *cgid)
{
	return bpf_map_lookup_elem(st->map_fd[M_OCI], key, cgid) ? -errno : 0;
}

int state_oci_put(struct egress_state *st, const struct egress_oci_key *key, uint64_t cgid)
{
	return bpf_map_update_elem(st->map_fd[M_OCI], key, &cgid, BPF_ANY) ? -errno : 0;
}

int state_oci_del(struct egress_state *st, const struct egress_oci_key *key)
{
	return bpf_map_delete_elem(st->map_fd[M_OCI], key) ? -errno : 0;
}

/* the start time (clock ticks after boot) of a process, 0 if there is none */
unsigned long long state_proc_start(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after "(comm)": state is field 3, starttime field 22 */
	if (!p || sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
			 &start) != 1)
		return 0;
	return start;
}

bool state_binding_orphan(struct egress_state *st, uint64_t cgid)
{
	char owner[128];
	unsigned long long start;
	int pid;

	state_binding_meta(st, cgid, NULL, 0, owner, sizeof(owner));
	if (sscanf(owner, "run %d %llu", &pid, &start) != 2)
		return false;
	return state_proc_start(pid) != start;
}

/* a directory at path (a cgroup made again where a bound one was) */
static bool dir_exists(const char *path)
{
	struct stat sb;

	return !stat(path, &sb) && S_ISDIR(sb.st_mode);
}

/*
 * "POLICY PATH" of an attach binding (no owner) whose cgroup is gone (not
 * yet collected), or of a lost/ entry; -ENOENT for anything else.
 */
static int lost_target(struct egress_state *st, const char *sub, uint64_t id, char *target, size_t len)
{
	char f[PATH_MAX], owner[128];

	if (!strcmp(sub, "lost")) {
		state_pin_path(st, f, sizeof(f), "lost/%llu", (unsigned long long)id);
		return get_link(f, target, len) || !strchr(target, ' ') ? -ENOENT : 0;
	}
	if (state_binding_meta(st, id, target, len, owner, sizeof(owner)) || owner[0] ||
	    !strchr(target, ' ') || cg_path(id, f, sizeof(f)) != -ENOENT)
		return -ENOENT;
	return 0;
}

int state_lost(struct egress_state *st, struct lost_ref **out, size_t *n)
{
	static const char *const subs[] = { "links", "lost" };
	char target[PATH_MAX + EGRESS_NAME_MAX + 2];
	struct lost_ref *v = NULL, *nv;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	for (size_t k = 0; k < 2; k++) {
		uint64_t *ids;
		size_t nids;
		int ret = pin_ids(st, subs[k], &ids, &nids);

		if (ret) {
			free(v);
			return ret;
		}
		nv = realloc(v, (cnt + nids + 1) * sizeof(*v));
		if (!nv) {
			free(ids);
			free(v);
			return -ENOMEM;
		}
		v = nv;
		for (size_t i = 0; i < nids; i++) {
			char *sp;

			if (lost_target(st, subs[k], ids[i], target, sizeof(target)))
				continue;
			sp = strchr(target, ' ');
			*sp = '\0';
			v[cnt].cgroup_id = ids[i];
			snprintf(v[cnt].policy, sizeof(v[cnt].policy), "%.*s", EGRESS_NAME_MAX - 1, target);
			snprintf(v[cnt].path, sizeof(v[cnt].path), "%s", sp + 1);
			v[cnt].recreated = dir_exists(v[cnt].path);
			cnt++;
		}
		free(ids);
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* Forgets the lost/ entries of path (it is bound again, or detached). */
static int lost_forget(struct egress_state *st, const char *path)
{
	char f[PATH_MAX], target[PATH_MAX + EGRESS_NAME_MAX + 2];
	uint64_t *ids;
	size_t nids;
	int n = 0;

	if (pin_ids(st, "lost", &ids, &nids))
		return 0;
	for (size_t i = 0; i < nids; i++) {
		const char *p;

		if (lost_target(st, "lost", ids[i], target, sizeof(target)))
			continue;
		p = strchr(target, ' ') + 1;
		if (!strcmp(p, path)) {
			state_pin_path(st, f, sizeof(f), "lost/%llu", (unsigned long long)ids[i]);
			n += !unlink(f);
		}
	}
	free(ids);
	return n;
}

int state_bound_at(struct egress_state *st, const char *dir, char *at, size_t len)
{
	char d[PATH_MAX], mnt[PATH_MAX], err[ERRBUF_LEN], links[PATH_MAX];

	if (!realpath(dir, d) || cg2_mount(mnt, sizeof(mnt)))
		return -ENOENT;
	for (;;) {
		uint64_t id;
		int fd;

		if (cg_open(d, &fd, &id, err, sizeof(err)))
			return -ENOENT;
		close(fd);
		state_pin_path(st, links, sizeof(links), "links/%llu", (unsigned long long)id);
		if (!access(links, F_OK)) {
			char bound[PATH_MAX + EGRESS_NAME_MAX + 2];

			if (state_binding_meta(st, id, bound, sizeof(bound), NULL, 0))
				snprintf(bound, sizeof(bound), "? %s", d);
			snprintf(at, len, "%s", bound);
			return 0;
		}
		if (!strcmp(d, mnt) || !strrchr(d, '/') || strrchr(d, '/') == d)
			return -ENOENT;
		*strrchr(d, '/') = '\0';
	}
}

int state_unbind_id(struct egress_state *st, uint64_t cgid)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	int ret = 0;

	link_dir(st, cgid, dir, sizeof(dir));
	for (int h = 0; h < EGRESS_NHOOKS; h++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, egress_hooks[h].name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno != ENOENT)
				ret = -errno;
			continue;
		}
		/* detach now, whoever else holds the link */
		bpf_link_detach(fd);
		close(fd);
		if (unlink(path) && errno != ENOENT)
			ret = -errno;
	}
	for (size_t i = 0; i < sizeof(meta_names) / sizeof(meta_names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, meta_names[i]);
		if (unlink(path) && errno != ENOENT)
			ret = -errno;
	}
	if (rmdir(dir) && errno != ENOENT)
		ret = -errno;
	binding_clear(st, cgid);
	return ret;
}

/* Attaches hook h's program to the cgroup and pins the link in DIR. */
static int bind_link(struct egress_state *st, int h, int cg_fd, const char *cgdir, const char *dir,
		     char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	int prog_fd, link_fd, ret;

	state_pin_path(st, path, sizeof(path), "progs/%s", egress_hooks[h].name);
	prog_fd = bpf_obj_get(path);
	if (prog_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "egress programs are not loaded (%s: %s)", path, strerror(errno));
		return ret;
	}
	link_fd = bpf_link_create(prog_fd, cg_fd, egress_hooks[h].type, NULL);
	close(prog_fd);
	if (link_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot attach %s to %s: %s", egress_hooks[h].name, cgdir,
			 strerror(errno));
		return ret;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, egress_hooks[h].name);
	ret = bpf_obj_pin(link_fd, path) ? -errno : 0;
	if (ret) {
		bpf_link_detach(link_fd);
		snprintf(err, errlen, "cannot pin %s: %s", path, strerror(-ret));
	}
	close(link_fd);
	return ret;
}

/* What is bound, by path: for state_gc and status once the cgroup goes. */
static void bind_record(struct egress_state *st, const char *dir, const char *cgdir, uint32_t policy)
{
	struct egress_policy_info info = {};
	char real[PATH_MAX], target[PATH_MAX + EGRESS_NAME_MAX + 2], path[PATH_MAX + 16];

	if (!realpath(cgdir, real))
		snprintf(real, sizeof(real), "%s", cgdir);
	bpf_map_lookup_elem(st->map_fd[M_INFO], &policy, &info);
	snprintf(target, sizeof(target), "%.*s %s", EGRESS_NAME_MAX - 1,
		 info.name[0] ? info.name : "?", real);
	snprintf(path, sizeof(path), "%s/bound", dir);
	put_link(path, target);
	lost_forget(st, real);
}

int state_bind(struct egress_state *st, const char *cgdir, uint32_t policy, char *err, size_t errlen)
{
	struct egress_binding b = { .policy = policy };
	char dir[PATH_MAX], path[PATH_MAX + 16];
	bool created[EGRESS_NHOOKS] = {};
	int cg_fd = -1, ret;
	uint64_t cgid;

	ret = cg_open(cgdir, &cg_fd, &cgid, err, errlen);
	if (ret)
		return ret;
	b.cgroup_id = cgid;
	state_pin_path(st, path, sizeof(path), "links");
	if (mkdir(path, 0700) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		goto cleanup;
	}
	link_dir(st, cgid, dir, sizeof(dir));
	if (!mkdir(dir, 0700)) {
		binding_clear(st, cgid);	/* a new binding: no old policy id */
	} else if (errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		goto cleanup;
	}
	for (int h = 0; h < EGRESS_NHOOKS; h++) {
		snprintf(path, sizeof(path), "%s/%s", dir, egress_hooks[h].name);
		if (!access(path, F_OK))
			continue;	/* already attached for this hook */
		ret = bind_link(st, h, cg_fd, cgdir, dir, err, errlen);
		if (ret)
			goto rollback;
		created[h] = true;
		/* the storage exists from the first attachment on: bind it at once */
		if (bpf_map_update_elem(st->map_fd[M_BINDING], &cgid, &b, BPF_EXIST)) {
			ret = -errno;
			snprintf(err, errlen, "cannot bind %s: %s", cgdir, strerror(errno));
			goto rollback;
		}
	}
	/* a rebinding (or a bind that found every link) sets the policy here */
	if (bpf_map_update_elem(st->map_fd[M_BINDING], &cgid, &b, BPF_EXIST) ||
	    epoch_bump(st)) {
		ret = -errno;
		snprintf(err, errlen, "cannot bind %s: %s", cgdir, strerror(errno));
		goto rollback;
	}
	bind_record(st, dir, cgdir, policy);
	ret = 0;
	goto cleanup;
rollback:
	for (int h = 0; h < EGRESS_NHOOKS; h++) {
		int fd;

		if (!created[h])
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, egress_hooks[h].name);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
		}
		unlink(path);
	}
	rmdir(dir);	/* only if empty: a pre-existing binding stays */
cleanup:
	if (cg_fd >= 0)
		close(cg_fd);
	return ret;
}

int state_unbind(struct egress_state *st, const char *cgdir, char *err, size_t errlen)
{
	char dir[PATH_MAX], real[PATH_MAX];
	uint64_t cgid;
	int fd, ret, forgot;

	/* a lost binding of this path (its cgroup removed): detach forgets it */
	forgot = lost_forget(st, cgdir);
	if (realpath(cgdir, real) && strcmp(real, cgdir))
		forgot += lost_forget(st, real);
	ret = cg_open(cgdir, &fd, &cgid, err, errlen);
	if (ret)
		return forgot ? 0 : ret;
	close(fd);
	link_dir(st, cgid, dir, sizeof(dir));
	if (access(dir, F_OK)) {
		if (forgot)
			return 0;
		snprintf(err, errlen, "%s is not bound to a policy", cgdir);
		return -ENOENT;
	}
	ret = state_unbind_id(st, cgid);
	if (ret)
		snprintf(err, errlen, "cannot detach %s: %s", cgdir, strerror(-ret));
	return ret;
}

/* A link whose cgroup was removed reports cgroup id 0. */
static bool link_defunct(const char *path)
{
	struct bpf_link_info info = {};
	uint32_t len = sizeof(info);
	bool dead = false;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return errno == ENOENT;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		dead = info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id == 0;
	close(fd);
	return dead;
}

/* Deletes the entries of a map keyed by (a struct starting with) a cgroup id
 * whose cgroup no longer exists. */
static void gc_cgroup_keys(int fd, size_t key_size)
{
	unsigned char key[32], next[32], *prev = NULL;
	char path[PATH_MAX];
	uint64_t last_id = 0;
	bool last_alive = true;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		uint64_t id;

		memcpy(&id, next, sizeof(id));
		if (id != last_id) {
			last_id = id;
			last_alive = cg_path(id, path, sizeof(path)) != -ENOENT;
		}
		if (!last_alive && !bpf_map_delete_elem(fd, next)) {
			/* deleted: restart from the previous key (or the start) */
			continue;
		}
		memcpy(key, next, key_size);
		prev = key;
	}
}


/*
 * A binding made by hand (attach: no owner) whose cgroup is gone: keep
 * "POLICY PATH" in lost/, so that status and metrics say that the path is
 * not bound any more, whether it stays gone or a cgroup is made there again
 * later (a tier deleted and re-created).  At most EGRESS_LOST_MAX are kept:
 * the oldest (lowest cgroup id) makes room, so removed cgroups cost bounded
 * state.
 */
#define EGRESS_LOST_MAX 256

static void gc_lost(struct egress_state *st, uint64_t cgid)
{
	char bound[PATH_MAX + EGRESS_NAME_MAX + 2], owner[128], path[PATH_MAX];
	uint64_t *ids;
	size_t nids;

	if (state_binding_meta(st, cgid, bound, sizeof(bound), owner, sizeof(owner)) || owner[0] ||
	    !strchr(bound, ' '))
		return;
	state_pin_path(st, path, sizeof(path), "lost");
	if (mkdir(path, 0700) && errno != EEXIST)
		return;
	/* a path is listed once: its newest binding */
	lost_forget(st, strchr(bound, ' ') + 1);
	if (!pin_ids(st, "lost", &ids, &nids)) {
		while (nids >= EGRESS_LOST_MAX) {
			size_t oldest = 0;

			for (size_t i = 1; i < nids; i++)
				if (ids[i] < ids[oldest])
					oldest = i;
			state_pin_path(st, path, sizeof(path), "lost/%llu", (unsigned long long)ids[oldest]);
			unlink(path);
			ids[oldest] = ids[--nids];
		}
		free(ids);
	}
	state_pin_path(st, path, sizeof(path), "lost/%llu", (unsigned long long)cgid);
	put_link(path, bound);
}

/* egress_oci records of containers whose cgroup is gone (no poststop ran) */
static void gc_oci(struct egress_state *st)
{
	struct egress_oci_key key, next, *prev = NULL;
	char path[PATH_MAX];
	uint64_t cgid;
	int fd = st->map_fd[M_OCI];

	if (fd < 0)
		return;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (!bpf_map_lookup_elem(fd, &next, &cgid) && cg_path(cgid, path, sizeof(path)) == -ENOENT &&
		    !bpf_map_delete_elem(fd, &next))
			continue;	/* deleted: go on from the previous key */
		key = next;
		prev = &key;
	}
}

int state_gc(struct egress_state *st)
{
	struct binding_ref *v;
	char path[PATH_MAX];
	size_t n;
	int cleaned = 0;

	journal_repair_locked(st);	/* the caller holds the lock */
	if (bindings(st, false, &v, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		bool dead = true;

		for (int h = 0; h < EGRESS_NHOOKS && dead; h++) {
			state_pin_path(st, path, sizeof(path), "links/%llu/%s",
				       (unsigned long long)v[i].cgroup_id, egress_hooks[h].name);
			dead = link_defunct(path);
		}
		if (!dead && state_binding_orphan(st, v[i].cgroup_id) &&
		    !cg_path(v[i].cgroup_id, path, sizeof(path)) && !cg_populated(path) && !rmdir(path))
			dead = true;	/* an 'egressctl run' killed: its cgroup, once empty */
		if (dead)
			gc_lost(st, v[i].cgroup_id);
		if (dead && !state_unbind_id(st, v[i].cgroup_id))
			cleaned++;
	}
	free(v);
	gc_oci(st);
	gc_cgroup_keys(st->map_fd[M_RATE], sizeof(uint64_t));
	gc_cgroup_keys(st->map_fd[M_CG_DENIED], sizeof(struct egress_cg_key));
	tables_gc(st);
	return cleaned;
}

static int rm_tree(const char *path)
{
	struct dirent *de;
	int ret = 0;
	DIR *d = opendir(path);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char sub[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (!lstat(sub, &st) && S_ISDIR(st.st_mode))
			ret = rm_tree(sub) ?: ret;
		else if (unlink(sub))
			ret = -errno;
	}
	closedir(d);
	if (rmdir(path))
		ret = -errno;
	return ret;
}

int state_unload(struct egress_state *st, state_unload_cb detached, void *ctx, char *err,
		 size_t errlen)
{
	struct binding_ref *v;
	size_t n;
	int ret;

	ret = bindings(st, false, &v, &n);
	if (ret) {
		snprintf(err, errlen, "cannot list bindings: %s", strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < n; i++) {
		char dir[PATH_MAX], path[PATH_MAX + 16];
		int links = 0;

		link_dir(st, v[i].cgroup_id, dir, sizeof(dir));
		for (int h = 0; h < EGRESS_NHOOKS; h++) {
			struct stat sb;

			snprintf(path, sizeof(path), "%s/%s", dir, egress_hooks[h].name);
			links += !stat(path, &sb);
		}
		state_unbind_id(st, v[i].cgroup_id);
		if (detached)
			detached(&v[i], links, ctx);
	}
	free(v);
	/* close our map fds first; the directory lock stays until state_close */
	for (int i = 0; i < M_N; i++) {
		if (st->map_fd[i] >= 0)
			close(st->map_fd[i]);
		st->map_fd[i] = -1;
	}
	ret = rm_tree(st->pin_dir);
	if (ret)
		snprintf(err, errlen, "cannot remove %s: %s", st->pin_dir, strerror(-ret));
	return ret;
}

/* Every pinned binding, those of removed cgroups too: no path lookup per cgroup (cheap). */
int state_bindings_all(struct egress_state *st, struct binding_ref **out, size_t *n)
{
	return bindings(st, false, out, n);
}

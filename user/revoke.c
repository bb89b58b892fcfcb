// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * revoke.c - revoking established connections after a policy change.
 *
 * The loader of bpf/revoke.bpf.c.  A pass:
 *   1. finds the affected bound cgroups (bound to a changed policy, or the
 *      one whose binding changed) and walks each one's subtree: every
 *      cgroup below gets the list of policies bound on its path (the AND
 *      of nested bindings), and every process found there names a
 *      network namespace;
 *   2. loads the iterator on egressd's pinned policy, host, counter and
 *      event maps (reused by fd), fills revoke_cgroups, attaches it;
 *   3. reads the iterator once in its own network namespace and once in
 *      each other namespace found (setns there, create the iterator fd,
 *      setns back: the TCP iterator walks the namespace that created it).
 * Sockets of affected cgroups in a namespace where none of their processes
 * lives (the process exited or moved, the socket was passed on), and those
 * of affected cgroups without any process left, are not seen; the README's
 * policy semantics say so.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "revoke.h"
#include "state.h"
#include "revoke.skel.h"

struct cg_ent {
	uint64_t id;
	struct revoke_path path;
};

struct ns_ent {
	dev_t dev;
	ino_t ino;
	int fd;
};

struct walk {
	struct egress_state *st;
	const struct binding_ref *b;	/* sorted by cgroup id, unless by_id */
	size_t nb;
	bool by_id;			/* b not read: bound() asks for each cgroup */
	struct binding_ref one;		/* bound()'s answer when asked one by one */
	struct cg_ent *cg;
	size_t ncg, cgcap;
	uint64_t *seen;			/* the ids of cg, open addressing (ids are never 0) */
	size_t seencap;
	char mnt[PATH_MAX];		/* the cgroup2 mount, read once ("" until then) */
	struct ns_ent *ns;
	size_t nns, nscap;
	char *err;
	size_t errlen;
};

static int ref_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct binding_ref *)a)->cgroup_id, y = ((const struct binding_ref *)b)->cgroup_id;

	return x < y ? -1 : x > y;
}

/*
 * The binding of cgroup id, if any.  A pass over a policy's bindings has
 * them all, sorted; a pass for one cgroup (attach, move) asks for the few
 * cgroups it walks, so that its cost does not grow with the node's other
 * bindings.
 */
static const struct binding_ref *bound(struct walk *w, uint64_t id)
{
	struct binding_ref key = { .cgroup_id = id };

	if (w->by_id)
		return state_binding_of(w->st, id, &w->one) ? NULL : &w->one;
	return w->nb ? bsearch(&key, w->b, w->nb, sizeof(*w->b), ref_cmp) : NULL;
}

static size_t seen_slot(const struct walk *w, uint64_t id)
{
	size_t i = (id * 0x9e3779b97f4a7c15ull) >> 32;

	for (i &= w->seencap - 1; w->seen[i] && w->seen[i] != id; i = (i + 1) & (w->seencap - 1))
		;
	return i;
}

static bool walked(const struct walk *w, uint64_t id)
{
	return w->seencap && w->seen[seen_slot(w, id)] == id;
}

/* Records id as walked (the set stays at most half full). */
static int seen_add(struct walk *w, uint64_t id)
{
	if (2 * (w->ncg + 1) > w->seencap) {
		size_t cap = w->seencap ? 2 * w->seencap : 64;
		uint64_t *old = w->seen;
		size_t ocap = w->seencap;

		w->seen = calloc(cap, sizeof(*w->seen));
		if (!w->seen) {
			w->seen = old;
			return -ENOMEM;
		}
		w->seencap = cap;
		for (size_t i = 0; i < ocap; i++)
			if (old[i])
				w->seen[seen_slot(w, old[i])] = old[i];
		free(old);
	}
	w->seen[seen_slot(w, id)] = id;
	return 0;
}

/* Adds the binding of cgroup id (if any) to the path; fails past REVOKE_DEPTH. */
static int path_add(struct walk *w, struct revoke_path *p, uint64_t id, const char *dir)
{
	const struct binding_ref *b = bound(w, id);

	if (!b)
		return 0;
	if (p->n >= REVOKE_DEPTH) {
		snprintf(w->err, w->errlen, "more than %d bound cgroups on the path of %s", REVOKE_DEPTH,
			 dir);
		return -E2BIG;
	}
	p->policy[p->n] = b->policy;
	p->bound[p->n] = id;
	p->n++;
	return 0;
}

/* The network namespace of every process of the cgroup at dir (fd open: no pid reuse race). */
static int add_netns(struct walk *w, const char *dir)
{
	char path[PATH_MAX + 16], line[32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;	/* removed meanwhile */
	while (fgets(line, sizeof(line), f)) {
		struct stat st;
		size_t i;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/ns/net", atoi(line));
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;	/* exited */
		if (fstat(fd, &st)) {
			close(fd);
			continue;
		}
		for (i = 0; i < w->nns; i++)
			if (w->ns[i].dev == st.st_dev && w->ns[i].ino == st.st_ino)
				break;
		if (i < w->nns) {
			close(fd);
			continue;
		}
		if (w->nns == w->nscap) {
			size_t cap = w->nscap ? 2 * w->nscap : 8;
			struct ns_ent *v = realloc(w->ns, cap * sizeof(*v));

			if (!v) {
				close(fd);
				fclose(f);
				return -ENOMEM;
			}
			w->ns = v;
			w->nscap = cap;
		}
		w->ns[w->nns++] = (struct ns_ent){ .dev = st.st_dev, .ino = st.st_ino, .fd = fd };
	}
	fclose(f);
	return 0;
}

/* The cgroup at dir and everything below it, with the bindings above dir in *above. */
static int walk_tree(struct walk *w, const char *dir, const struct revoke_path *above)
{
	struct revoke_path p = *above;
	struct dirent *de;
	struct stat st;
	int ret;
	DIR *d;

	if (stat(dir, &st))
		return errno == ENOENT ? 0 : -errno;
	if (walked(w, st.st_ino))
		return 0;
	ret = path_add(w, &p, st.st_ino, dir);
	if (ret)
		return ret;
	if (w->ncg == w->cgcap) {
		size_t cap = w->cgcap ? 2 * w->cgcap : 16;
		struct cg_ent *v = realloc(w->cg, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->cg = v;
		w->cgcap = cap;
	}
	ret = seen_add(w, st.st_ino);
	if (ret)
		return ret;
	w->cg[w->ncg++] = (struct cg_ent){ .id = st.st_ino, .path = p };
	ret = add_netns(w, dir);
	if (ret)
		return ret;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char sub[PATH_MAX];

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= (int)sizeof(sub))
			continue;
		ret = walk_tree(w, sub, &p);
		if (ret)
			break;
	}
	closedir(d);
	return ret;
}

/* A bound cgroup's subtree, with the bindings of its ancestors. */
static int walk_bound(struct walk *w, uint64_t id)
{
	char path[PATH_MAX], *mnt = w->mnt;
	struct revoke_path above = {};
	size_t mlen;
	int ret;

	if (walked(w, id))
		return 0;	/* below another affected cgroup: done already */
	ret = cg_path(id, path, sizeof(path));
	if (ret)
		return ret == -ENOENT ? 0 : ret;	/* removed meanwhile */
	if (!mnt[0]) {
		ret = cg2_mount(mnt, sizeof(w->mnt));
		if (ret)
			return ret;
	}
	mlen = strlen(mnt);
	/* the ancestors, from the root of the hierarchy down to the parent */
	for (char *s = path + mlen; s; s = strchr(s + 1, '/')) {
		struct stat st;
		char c = *s;

		*s = '\0';
		ret = stat(s == path + mlen ? mnt : path, &st) ? -errno : 0;
		*s = c;
		if (ret)
			return ret == -ENOENT ? 0 : ret;
		if (!c)
			break;	/* path itself: walk_tree adds it */
		ret = path_add(w, &above, st.st_ino, path);
		if (ret)
			return ret;
	}
	return walk_tree(w, path, &above);
}

static bool in_scope(const struct revoke_scope *sc, const struct binding_ref *b)
{
	if (sc->cgroup_id && b->cgroup_id == sc->cgroup_id)
		return true;
	for (size_t i = 0; i < sc->npolicies; i++)
		if (sc->policies[i] == b->policy)
			return true;
	return false;
}

/* Reads an iterator fd to its end (the program prints nothing) and closes it. */
static int drain(int fd)
{
	char buf[256];
	int ret = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * The iterator in another namespace: the fd is made there (the TCP
 * iterator walks the namespace of the process that creates it), read here.
 * -EIO: could not come back; the caller must stop.
 */
static int run_iter_in(struct bpf_link *link, int ns_fd, int self_fd, char *err, size_t errlen)
{
	int fd, e;

	if (setns(ns_fd, CLONE_NEWNET))
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	e = errno;
	if (setns(self_fd, CLONE_NEWNET)) {
		snprintf(err, errlen, "cannot return to this process's network namespace: %s",
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	errno = e;
	return drain(fd);
}

int revoke_after_change(struct egress_state *st, const struct revoke_scope *sc,
			struct revoke_stats *stats, char *err, size_t errlen)
{
	struct walk w = { .st = st, .by_id = !sc->npolicies, .err = err, .errlen = errlen };
	struct binding_ref *b = NULL;
	struct bpf_link *link = NULL;
	struct revoke *skel = NULL;
	struct stat self_st;
	int self_fd = -1, ret = 0;
	size_t nb = 0;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (sc->npolicies) {
		/* a removed cgroup's binding matches no live cgroup: no need to sort them out */
		ret = state_bindings_all(st, &b, &nb);
		if (ret) {
			snprintf(err, errlen, "cannot read the bindings: %s", strerror(-ret));
			return ret;
		}
		if (nb)
			qsort(b, nb, sizeof(*b), ref_cmp);
		w.b = b;
		w.nb = nb;
		for (size_t i = 0; i < nb && !ret; i++)
			if (in_scope(sc, &b[i]))
				ret = walk_bound(&w, b[i].cgroup_id);
	}
	/* one cgroup's binding (its own, or none left: nothing to walk) */
	if (!ret && sc->cgroup_id && bound(&w, sc->cgroup_id))
		ret = walk_bound(&w, sc->cgroup_id);
	if (ret) {
		if (ret != -E2BIG)
			snprintf(err, errlen, "cannot walk the affected cgroups: %s", strerror(-ret));
		goto cleanup;
	}
	/*
	 * Sockets are found through the processes of the affected cgroups
	 * (their namespaces): with none (nothing bound is affected, or a
	 * fresh cgroup bound before its first process) nothing is loaded.
	 */
	if (!w.ncg || !w.nns)
		goto cleanup;

	skel = revoke__open();
	if (!skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the revoke program: %s", strerror(errno));
		goto cleanup;
	}
	ret = state_reuse_map(st, skel->maps.egress_policies, M_POLICIES);
	ret = ret ?: state_reuse_map(st, skel->maps.egress_hosts, M_HOSTS);
	ret = ret ?: state_reuse_map(st, skel->maps.egress_lists, M_LISTS);
	ret = ret ?: state_reuse_map(st, skel->maps.egress_counters, M_COUNTERS);
	ret = ret ?: state_reuse_map(st, skel->maps.egress_stats, M_STATS);
	ret = ret ?: state_reuse_map(st, skel->maps.egress_events, M_EVENTS);
	ret = ret ?: bpf_map__set_max_entries(skel->maps.revoke_cgroups, w.ncg);
	ret = ret ?: revoke__load(skel);
	if (ret) {
		snprintf(err, errlen, "cannot load the revoke program: %s", strerror(-ret));
		goto cleanup;
	}
	for (size_t i = 0; i < w.ncg; i++) {
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.revoke_cgroups), &w.cg[i].id,
					&w.cg[i].path, BPF_ANY)) {
			ret = -errno;
			snprintf(err, errlen, "cannot fill revoke_cgroups: %s", strerror(errno));
			goto cleanup;
		}
	}
	link = bpf_program__attach_iter(skel->progs.revoke_tcp, NULL);
	if (!link) {
		ret = -errno;
		snprintf(err, errlen, "cannot attach the TCP socket iterator: %s", strerror(errno));
		goto cleanup;
	}

	self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_fd < 0 || fstat(self_fd, &self_st)) {
		ret = -errno;
		snprintf(err, errlen, "cannot open this process's network namespace: %s", strerror(errno));
		goto cleanup;
	}
	ret = drain(bpf_iter_create(bpf_link__fd(link)));
	if (ret) {
		snprintf(err, errlen, "cannot walk the TCP sockets: %s", strerror(-ret));
		goto cleanup;
	}
	if (stats)
		stats->netns = 1;
	for (size_t i = 0; i < w.nns; i++) {
		if (w.ns[i].dev == self_st.st_dev && w.ns[i].ino == self_st.st_ino)
			continue;
		ret = run_iter_in(link, w.ns[i].fd, self_fd, err, errlen);
		if (ret == -EIO)
			goto cleanup;
		if (ret) {
			snprintf(err, errlen, "cannot walk the TCP sockets of network namespace %lu: %s",
				 (unsigned long)w.ns[i].ino, strerror(-ret));
			goto cleanup;
		}
		if (stats)
			stats->netns++;
	}
	if (skel->bss->failed) {
		ret = -EIO;
		snprintf(err, errlen, "%llu connections could not be reset",
			 (unsigned long long)skel->bss->failed);
	}
	if (stats) {
		stats->checked = skel->bss->checked;
		stats->revoked = skel->bss->revoked;
	}
cleanup:
	if (ret) {
		char why[512];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "the change is in force, but established connections were not "
			 "revoked: %s", why);
	}
	if (stats)
		stats->cgroups = w.ncg;
	bpf_link__destroy(link);
	revoke__destroy(skel);
	if (self_fd >= 0)
		close(self_fd);
	for (size_t i = 0; i < w.nns; i++)
		close(w.ns[i].fd);
	free(w.ns);
	free(w.cg);
	free(w.seen);
	free(b);
	return ret;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* cgroup.h - finding the cgroup2 mount, cgroup ids and paths. */
#ifndef EGRESS_CGROUP_H
#define EGRESS_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The cgroup2 mount point, from /proc/self/mountinfo.  -ENOENT if none. */
int cg2_mount(char *buf, size_t len);
/*
 * Opens a cgroup v2 directory (O_CLOEXEC), with its id.  Errors: one line
 * in err naming the path: it does not exist, or is not a cgroup2 directory.
 */
int cg_open(const char *path, int *fd, uint64_t *id, char *err, size_t errlen);
/* The path of a live cgroup from its id; -ENOENT once it is gone (the mount: opened once). */
int cg_path(uint64_t id, char *buf, size_t len);
/* 0 if the cgroup whose id is id exists, -ENOENT if it was removed, or -errno. */
int cg_alive(uint64_t id);
/* Kills what is left in a cgroup and removes it (bounded wait). */
int cg_destroy(const char *path);
/*
 * The cgroup v2 directory of process pid, as this process sees it: the
 * path from /proc/PID/cgroup (relative to our cgroup namespace) under a
 * cgroup2 mount whose root (mountinfo) holds it, confirmed by pid being in
 * its cgroup.procs.  Fails closed (one line in err) when no mount shows it,
 * or the process is outside our cgroup namespace.
 */
int cg_of_pid(int pid, char *out, size_t len, char *err, size_t errlen);
/* pid is listed in dir's cgroup.procs */
bool cg_has_pid(const char *dir, int pid);
/* dir holds no process but pid and no child cgroup; -EBUSY with a reason otherwise */
int cg_own(const char *dir, int pid, char *err, size_t errlen);
/* One line of /proc/self/mountinfo, unescaped (valid during the callback). */
struct mount_ent {
	const char *root, *mnt, *opts, *fstype;
};
/* Calls fn for every mount of this mount namespace until it returns non-zero (returned). */
int mountinfo_each(int (*fn)(void *ctx, const struct mount_ent *m), void *ctx);
/* Whether dir's cgroup.events has the line "key 1" (false if unreadable). */
bool cg_event(const char *dir, const char *key);
/* cgroup.events says populated (true when it cannot be read but exists) */
bool cg_populated(const char *dir);

#endif

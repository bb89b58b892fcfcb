/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* cgroup.h - finding the cgroup2 mount, cgroup ids and paths. */
#ifndef EGRESS_CGROUP_H
#define EGRESS_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* The cgroup2 mount point, from /proc/self/mountinfo.  -ENOENT if none. */
int cg2_mount(char *buf, size_t len);
/*
 * Opens a cgroup v2 directory (O_CLOEXEC), with its id.  Errors: one line
 * in err naming the path: it does not exist, or is not a cgroup2 directory.
 */
int cg_open(const char *path, int *fd, uint64_t *id, char *err, size_t errlen);
/* The path of a live cgroup from its id; -ENOENT once it is gone. */
int cg_path(uint64_t id, char *buf, size_t len);
/* Kills what is left in a cgroup and removes it (bounded wait). */
int cg_destroy(const char *path);

#endif

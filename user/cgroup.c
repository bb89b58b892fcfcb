// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cgroup.c - cgroup v2 helpers. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroup.h"

#define FILEID_KERNFS 0xfe

int cg2_mount(char *buf, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts... - fstype source superopts */
		char *sep = strstr(line, " - "), *save, *mnt = NULL, *tok;
		int i = 0;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			if (++i == 5)
				mnt = tok;
		if (mnt && strlen(mnt) < len) {
			strcpy(buf, mnt);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

int cg_open(const char *path, int *fdp, uint64_t *id, char *err, size_t errlen)
{
	struct statfs sfs;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "cgroup '%s': %s", path,
			 e == ENOTDIR ? "not a directory" : strerror(e));
		return -e;
	}
	if (fstatfs(fd, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC || fstat(fd, &st)) {
		snprintf(err, errlen, "'%s' is not a cgroup v2 directory", path);
		close(fd);
		return -EINVAL;
	}
	*fdp = fd;
	*id = st.st_ino;
	return 0;
}

/*
 * The cgroup2 mount, opened once per process (mountinfo is read once, not
 * for every path): shared by threads, kept until exit.
 */
static int cg2_mount_fd(void)
{
	static int cached = -1;
	char mnt[PATH_MAX];
	int fd = __atomic_load_n(&cached, __ATOMIC_ACQUIRE), expect = -1;

	if (fd >= 0)
		return fd;
	if (cg2_mount(mnt, sizeof(mnt)))
		return -ENOENT;
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!__atomic_compare_exchange_n(&cached, &expect, fd, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		close(fd);	/* another thread was first */
		fd = expect;
	}
	return fd;
}

/* An open fd of the cgroup whose id is id, or -errno (-ENOENT: removed). */
static int cg_open_id(uint64_t id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS } };
	int mfd = cg2_mount_fd(), fd;

	if (mfd < 0)
		return mfd;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd >= 0 ? fd : errno == ESTALE ? -ENOENT : -errno;
}

int cg_alive(uint64_t id)
{
	int fd = cg_open_id(id);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int cg_path(uint64_t id, char *buf, size_t len)
{
	char link[64];
	int fd = cg_open_id(id), e;
	ssize_t n;

	if (fd < 0)
		return fd;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	e = errno;
	if (n >= 0)
		buf[n] = '\0';
	close(fd);
	return n < 0 ? -e : 0;
}

int cg_destroy(const char *path)
{
	char f[PATH_MAX];
	int fd;

	snprintf(f, sizeof(f), "%s/cgroup.kill", path);
	fd = open(f, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) {
			/* fall through to rmdir; it reports what is left */
		}
		close(fd);
	}
	for (int i = 0; i < 200; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (!rmdir(path) || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		nanosleep(&ts, NULL);
	}
	return -EBUSY;
}

int mountinfo_each(int (*fn)(void *ctx, const struct mount_ent *m), void *ctx);

/* mountinfo's octal escapes (\040 for a blank) undone, in place */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && isdigit((unsigned char)s[2]) &&
		    isdigit((unsigned char)s[3])) {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* a path with a ".." component: outside the reader's cgroup namespace */
static bool outside(const char *p)
{
	return !strcmp(p, "..") || !strncmp(p, "../", 3) || strstr(p, "/../") ||
	       (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/.."));
}

/* dir's cgroup.procs: whether pid is in it, and one process that is not pid (0: none) */
static int procs_scan(const char *dir, int pid, bool *has, int *other)
{
	char path[PATH_MAX + 16], line[32];
	FILE *f;

	*has = false;
	*other = 0;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (atoi(line) == pid)
			*has = true;
		else if (!*other)
			*other = atoi(line);
	}
	fclose(f);
	return 0;
}

bool cg_has_pid(const char *dir, int pid)
{
	bool has;
	int other;

	return !procs_scan(dir, pid, &has, &other) && has;
}

struct pid_find {
	int pid;
	const char *rel;
	char *out;
	size_t len;
};

static int pid_find_one(void *ctx, const struct mount_ent *m)
{
	struct pid_find *pf = ctx;
	const char *rel = pf->rel;
	size_t rl;

	if (strcmp(m->fstype, "cgroup2") || outside(m->root + (*m->root == '/')))
		return 0;	/* not cgroup2, or its root lies above our namespace: unknown */
	rl = strcmp(m->root, "/") ? strlen(m->root) : 0;
	if (strncmp(rel, m->root, rl) || (rel[rl] != '/' && rel[rl] != '\0'))
		return 0;
	if (snprintf(pf->out, pf->len, "%s%s", m->mnt, !strcmp(rel + rl, "/") ? "" : rel + rl) >= (int)pf->len)
		return 0;
	return cg_has_pid(pf->out, pf->pid) ? 1 : 0;
}

int cg_of_pid(int pid, char *out, size_t len, char *err, size_t errlen)
{
	char path[64], rel[PATH_MAX] = "", line[4096];
	bool have = false;
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "container process %d: %s", pid, strerror(errno));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(rel, sizeof(rel), "%s", line + 3);
		have = true;
		break;
	}
	fclose(f);
	if (!have || rel[0] != '/') {
		snprintf(err, errlen, "container process %d has no cgroup v2 directory", pid);
		return -ENOENT;
	}
	if (outside(rel + 1)) {
		snprintf(err, errlen, "container process %d is in %s, outside this cgroup namespace: "
			 "run the hook in the runtime's cgroup namespace", pid, rel);
		return -ENOENT;
	}
	/* every cgroup2 mount whose root holds it; the one that lists pid is it */
	{
		struct pid_find pf = { .pid = pid, .rel = rel, .out = out, .len = len };

		ret = mountinfo_each(pid_find_one, &pf) == 1 ? 0 : -ENOENT;
	}
	if (ret)
		snprintf(err, errlen, "cannot find container process %d's cgroup (%s in this cgroup namespace) "
			 "through a cgroup2 mount here: run the hook in the runtime's cgroup and mount "
			 "namespaces", pid, rel);
	return ret;
}

int cg_own(const char *dir, int pid, char *err, size_t errlen)
{
	struct dirent *de;
	bool has;
	int other, ret;
	DIR *d;

	ret = procs_scan(dir, pid, &has, &other);
	if (ret) {
		snprintf(err, errlen, "%s/cgroup.procs: %s", dir, strerror(-ret));
		return ret;
	}
	if (other) {
		snprintf(err, errlen, "cgroup %s is not the container's own: process %d is in it too", dir, other);
		return -EBUSY;
	}
	d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(err, errlen, "cgroup %s is not the container's own: it has child cgroups (%s)",
				 dir, de->d_name);
			closedir(d);
			return -EBUSY;
		}
	}
	closedir(d);
	return 0;
}

bool cg_event(const char *dir, const char *key)
{
	char path[PATH_MAX + 32], line[64];
	bool on = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ' ')
			on = atoi(line + strlen(key) + 1) == 1;
	fclose(f);
	return on;
}

bool cg_populated(const char *dir)
{
	char path[PATH_MAX + 32];

	/* a cgroup whose events cannot be read counts as in use */
	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	if (access(path, R_OK))
		return errno != ENOENT;
	return cg_event(dir, "populated");
}

int mountinfo_each(int (*fn)(void *ctx, const struct mount_ent *m), void *ctx)
{
	char line[8192];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = 0;

	if (!f)
		return -errno;
	while (!ret && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *sep = strstr(line, " - "), *save, *tok, *root = NULL, *mnt = NULL, *opts = NULL;
		struct mount_ent m;
		int i = 0;

		if (!sep)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (++i == 4)
				root = tok;
			else if (i == 5)
				mnt = tok;
			else if (i == 6)
				opts = tok;
		}
		m.fstype = strtok_r(sep + 3, " ", &save);
		if (!root || !mnt || !opts || !m.fstype)
			continue;
		unescape(root);
		unescape(mnt);
		m.root = root;
		m.mnt = mnt;
		m.opts = opts;
		ret = fn(ctx, &m);
	}
	fclose(f);
	return ret;
}

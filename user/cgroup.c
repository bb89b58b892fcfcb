// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cgroup.c - cgroup v2 helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int cg_path(uint64_t id, char *buf, size_t len)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS } };
	char mnt[PATH_MAX], link[64];
	int mfd, fd, ret = 0;
	ssize_t n;

	if (cg2_mount(mnt, sizeof(mnt)))
		return -ENOENT;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = errno == ESTALE ? -ENOENT : -errno;
		goto cleanup;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	if (n < 0)
		ret = -errno;
	else
		buf[n] = '\0';
	close(fd);
cleanup:
	close(mfd);
	return ret;
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

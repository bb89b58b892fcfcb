// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* pins.c - the pin directory: its lock, opening the pinned maps, the helpers every state module shares. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "state_priv.h"

const struct hook_desc egress_hooks[EGRESS_NHOOKS] = {
#define HOOK_DESC_(N, num, name, type, prog, sec, ctx) [EGRESS_HOOK_##N] = { #name, type },
	EGRESS_HOOK_TABLE(HOOK_DESC_)	/* include/egress_hooks.h */
#undef HOOK_DESC_
};

const char *const state_map_names[M_N] = {
	[M_POLICIES] = "egress_policies",
	[M_INFO] = "egress_policy_info",
	[M_BINDING] = "egress_binding",
	[M_COUNTERS] = "egress_counters",
	[M_STATS] = "egress_stats",
	[M_CONFIG] = "egress_config",
	[M_EVENTS] = "egress_events",
	[M_RATE] = "egress_rate",
	[M_RATE_SHARED] = "egress_rate_shared",
	[M_CG_DENIED] = "egress_cg_denied",
	[M_OCI] = "egress_oci",
	[M_HOSTS] = "egress_hosts",
	[M_SEEN] = "egress_seen",
	[M_EPOCH] = "egress_epoch",
	[M_LISTS] = "egress_lists",
};

void state_init(struct egress_state *st)
{
	memset(st, 0, sizeof(*st));
	st->dir_fd = -1;
	for (int i = 0; i < M_N; i++)
		st->map_fd[i] = -1;
}

const char *state_pin_dir(const char *opt)
{
	const char *env = getenv("EGRESS_PIN_DIR");

	if (opt && *opt)
		return opt;
	if (env && *env)
		return env;
	return EGRESS_DEFAULT_PIN_DIR;
}

void state_pin_path(const struct egress_state *st, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, len, "%s/", st->pin_dir);

	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

int state_lock(const char *pin_dir, int *dir_fd, char *err, size_t errlen)
{
	int fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		if (e == ENOENT)
			snprintf(err, errlen, "egress is not loaded: no pin directory %s (start egressd)", pin_dir);
		else
			snprintf(err, errlen, "cannot open pin directory %s: %s", pin_dir, strerror(e));
		return -e;
	}
	if (flock(fd, LOCK_EX) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot lock %s: %s", pin_dir, strerror(e));
		close(fd);
		return -e;
	}
	*dir_fd = fd;
	return 0;
}

int state_open(struct egress_state *st, const char *pin_dir, int flags, char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint32_t zero = 0;
	int ret;

	state_init(st);
	snprintf(st->pin_dir, sizeof(st->pin_dir), "%s", pin_dir);
	if (geteuid() != 0) {
		snprintf(err, errlen, "permission denied: egress state in %s is root's (run as root)", pin_dir);
		return -EPERM;
	}
	if (flags & STATE_LOCK) {
		ret = state_lock(pin_dir, &st->dir_fd, err, errlen);
		if (ret)
			return ret;
	}
	for (int i = 0; i < M_N; i++) {
		state_pin_path(st, path, sizeof(path), "maps/%s", state_map_names[i]);
		st->map_fd[i] = bpf_obj_get(path);
		if (st->map_fd[i] < 0 && i == M_SEEN && errno == ENOENT)
			continue;	/* pinned by an older egressd: state_seen() says so */
		if (st->map_fd[i] < 0 && i == M_EPOCH && errno == ENOENT)
			continue;	/* an older egressd's programs cache nothing */
		if (st->map_fd[i] < 0 && i == M_LISTS && errno == ENOENT)
			continue;	/* pins of ABI 7 or older: the ABI check below says so */
		if (st->map_fd[i] < 0) {
			ret = -errno;
			if (ret == -ENOENT)
				snprintf(err, errlen, "egress is not loaded: %s is missing (start egressd)", path);
			else
				snprintf(err, errlen, "cannot open %s: %s", path, strerror(-ret));
			goto cleanup;
		}
	}
	ret = bpf_map_lookup_elem(st->map_fd[M_CONFIG], &zero, &st->cfg);
	if (ret || st->cfg.abi != EGRESS_ABI_VERSION) {
		snprintf(err, errlen, "pinned egress state in %s has ABI %u, this build speaks %u",
			 pin_dir, st->cfg.abi, EGRESS_ABI_VERSION);
		ret = -EPROTO;
		goto cleanup;
	}
	if (st->map_fd[M_LISTS] < 0) {
		state_pin_path(st, path, sizeof(path), "maps/%s", state_map_names[M_LISTS]);
		snprintf(err, errlen, "egress is not loaded: %s is missing (start egressd)", path);
		ret = -ENOENT;
		goto cleanup;
	}
	st->ncpus = libbpf_num_possible_cpus();
	if (st->ncpus < 1) {
		snprintf(err, errlen, "cannot count CPUs");
		ret = -EINVAL;
		goto cleanup;
	}
	state_repair(st);	/* what a killed writer left */
	return 0;
cleanup:
	state_close(st);
	return ret;
}

void state_close(struct egress_state *st)
{
	for (int i = 0; i < M_N; i++)
		if (st->map_fd[i] >= 0)
			close(st->map_fd[i]);
	if (st->dir_fd >= 0)
		close(st->dir_fd);	/* releases the lock */
	for (int i = 0; i < M_N; i++)
		st->map_fd[i] = -1;
	st->dir_fd = -1;
}

void state_pins_problem(struct egress_state *st, char *buf, size_t len)
{
	char path[PATH_MAX];
	struct stat sb;

	for (int h = 0; h < EGRESS_NHOOKS; h++) {
		state_pin_path(st, path, sizeof(path), "progs/%s", egress_hooks[h].name);
		if (stat(path, &sb)) {
			snprintf(buf, len, "program pin %s is gone (egressctl unload?)", path);
			return;
		}
	}
	for (int i = 0; i < M_N; i++) {
		uint32_t pinned, ours = map_id_of(st->map_fd[i]);
		int fd;

		state_pin_path(st, path, sizeof(path), "maps/%s", state_map_names[i]);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			snprintf(buf, len, "map pin %s is gone (egressctl unload?)", path);
			return;
		}
		pinned = map_id_of(fd);
		if (pinned && ours && pinned != ours) {
			snprintf(buf, len, "map pin %s is not the map this egressd serves", path);
			close(fd);
			return;
		}
		close(fd);
	}
	buf[0] = '\0';
}

int state_record_read(const char *path, void *val)
{
	uint32_t zero = 0;
	int fd = bpf_obj_get(path), ret = 0;

	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, val))
		ret = -errno;
	close(fd);
	return ret;
}

int state_record_write(const char *path, const char *name, const void *val, size_t size)
{
	char tmp[PATH_MAX + 8];
	uint32_t zero = 0;
	int fd, ret = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(uint32_t), size, 1, NULL);
	if (fd < 0)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s_new", path);	/* bpffs reserves dots */
	unlink(tmp);
	if (bpf_map_update_elem(fd, &zero, val, BPF_ANY) || bpf_obj_pin(fd, tmp) || rename(tmp, path))
		ret = -errno;
	close(fd);
	return ret;
}

int state_reuse_map(struct egress_state *st, struct bpf_map *map, enum state_map m)
{
	return bpf_map__reuse_fd(map, st->map_fd[m]);
}

struct ring_buffer *state_events_open(struct egress_state *st,
				      int (*fn)(void *ctx, void *data, size_t len), void *ctx)
{
	return ring_buffer__new(st->map_fd[M_EVENTS], fn, ctx, NULL);
}

/* ---- shared by the state modules (state_priv.h) ------------------------ */

int map_read_batched(int fd, size_t key_size, size_t val_size, size_t token_size,
		     int (*fn)(void *ctx, const void *k, const void *v), void *ctx)
{
	char *keys = malloc(BATCH * key_size), *vals = malloc(BATCH * val_size);
	char *in = calloc(1, token_size), *out = calloc(1, token_size);
	bool first = true;
	int ret = 0;

	while (keys && vals && in && out) {
		uint32_t n = BATCH;
		int r = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys, vals, &n, NULL);

		if (r && errno != ENOENT) {
			ret = first && !n ? -EOPNOTSUPP : -errno;
			break;
		}
		for (uint32_t i = 0; i < n && !ret; i++)
			ret = fn(ctx, keys + i * key_size, vals + i * val_size);
		if (ret || r)	/* ENOENT: that was the last batch */
			break;
		memcpy(in, out, token_size);
		first = false;
	}
	if (!keys || !vals || !in || !out)
		ret = -ENOMEM;
	free(keys);
	free(vals);
	free(in);
	free(out);
	return ret;
}

uint32_t map_id_of(int fd)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id : 0;
}

/*
 * egress_epoch (egress.h): odd while a writer changes a policy's maps,
 * even otherwise.  Moves it to the next value of the parity odd; unless
 * always, only if it has the other parity now.  Writers hold the lock, so
 * read-modify-write is enough.
 */
static int epoch_next(struct egress_state *st, bool odd, bool always)
{
	uint32_t zero = 0;
	uint64_t v = 0;

	if (st->map_fd[M_EPOCH] < 0)
		return 0;
	if (bpf_map_lookup_elem(st->map_fd[M_EPOCH], &zero, &v))
		return -errno;
	if (!always && (v & 1) == odd)
		return 0;	/* already so */
	v += ((v + 1) & 1) == odd ? 1 : 2;
	return bpf_map_update_elem(st->map_fd[M_EPOCH], &zero, &v, BPF_ANY) ? -errno : 0;
}

/*
 * Before a policy's maps change: the programs stop using and filling the
 * decision cache (an odd epoch) until epoch_bump.  A writer killed after
 * this leaves it odd: decisions are looked up until the repair.
 */
int epoch_begin(struct egress_state *st)
{
	return epoch_next(st, true, false);
}

/*
 * After a policy or binding change is in the maps: the decisions the
 * programs cached before it no longer count.  The next even value.
 */
int epoch_bump(struct egress_state *st)
{
	return epoch_next(st, false, true);
}

/* Under the lock, no writer at work: an epoch a killed writer left odd is ended. */
int epoch_settle(struct egress_state *st)
{
	return epoch_next(st, false, false);
}

int state_prog_info(struct egress_state *st, int hook, struct bpf_prog_info *info)
{
	uint32_t len = sizeof(*info);
	char path[PATH_MAX];
	int fd, ret;

	memset(info, 0, sizeof(*info));
	state_pin_path(st, path, sizeof(path), "progs/%s", egress_hooks[hook].name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	ret = bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
	close(fd);
	return ret;
}

int state_pinned_map(const struct egress_state *st, const char *rel, struct bpf_map_info *info)
{
	uint32_t len = sizeof(*info);
	char path[PATH_MAX];
	int fd;

	memset(info, 0, sizeof(*info));
	state_pin_path(st, path, sizeof(path), "%s", rel);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, info, &len)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

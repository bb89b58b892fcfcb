// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * egressd - loads egress's programs, pins them with their maps under the
 * pin directory, fills the default policy, takes over the links of an
 * earlier egressd with bpf_link_update (no moment without enforcement),
 * and streams denial events to stdout until SIGINT or SIGTERM.  What it
 * pinned stays in force after it exits.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>
#include <systemd/sd-daemon.h>

#include "cgroup.h"
#include "cmdline.h"
#include "egress.skel.h"
#include "events.h"
#include "follow.h"
#include "metrics.h"
#include "policyset.h"
#include "state.h"

extern const char egress_default_policy[];

static volatile sig_atomic_t stop;
static volatile sig_atomic_t reload;	/* SIGHUP: re-read the policy source */
static bool verbose;

static struct {
	const char *pin_dir;
	const char *policy_file;
	uint32_t max_rules;
	uint32_t max_policies;
	uint32_t ringbuf_bytes;
	uint32_t max_cgroups;
	uint32_t max_seen;
	uint32_t event_rate;
	uint32_t event_burst;
	const char *metrics_addr;
	uint32_t metrics_cgroup_limit;
	const char *events_socket;
	enum log_format log_format;
	struct policyset_opts src;	/* --policy-dir, --etcd (policyset.c) */
} opt = {
	.max_rules = 100000,
	.max_policies = 256,
	.ringbuf_bytes = 1 << 22,
	.max_cgroups = 65536,
	.max_seen = 65536,
	.event_rate = 100,
	.event_burst = 200,
	.metrics_addr = "127.0.0.1:9464",
	.metrics_cgroup_limit = 100,
	.log_format = LOG_JSON,
};

#define logf_ ps_logf	/* "egressd: ..." on stderr (policyset.c) */

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void on_signal(int sig)
{
	stop = 1;
}

static void on_hup(int sig)
{
	reload = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: egressd [OPTIONS]\n"
"Loads egress, pins its state under the pin directory and streams denial events.\n"
"\n"
"  --pin-dir DIR        pin directory (default $EGRESS_PIN_DIR or " EGRESS_DEFAULT_PIN_DIR ")\n"
"  --policy-file FILE   apply FILE at start (default: the embedded default policy,\n"
"                       applied only when the pins are created)\n"
"  --policy-dir DIR     the policy set: every DIR/*.policy, applied as one transaction\n"
"                       at start and at each change (inotify, ConfigMap volumes too)\n"
"  --etcd URL[,URL...]  the policy set from etcd v3: one key per policy under\n"
"  --etcd-prefix PREFIX PREFIX (etcdctl put PREFIXNAME \"$(cat NAME.policy)\")\n"
"  --etcd-cacert FILE   CA of the etcd servers (https URLs)\n"
"  --etcd-cert FILE     client certificate, with --etcd-key FILE its key\n"
"                       SIGHUP reads the policy file, directory or etcd again\n"
"  --max-rules N        rules per policy (default 100000)\n"
"  --max-policies N     number of policies (default 256)\n"
"  --ringbuf-size BYTES event ring buffer, a power of 2 (default 4194304)\n"
"  --max-cgroups N      cgroups tracked for event rate limits and denial counts\n"
"                       (default 65536)\n"
"  --max-seen N         distinct denied destinations kept for 'egressctl advise'\n"
"                       (default 65536)\n"
"  --event-rate N       denial events per second per bound cgroup, 0 = no limit (default 100)\n"
"  --event-burst N      burst of the per-bound-cgroup rate limit (default 200)\n"
"  --metrics-addr A     HOST:PORT of the Prometheus endpoint, or none\n"
"                       (default 127.0.0.1:9464)\n"
"  --metrics-cgroup-limit N  cgroups in egress_cgroup_denied_total (default 100)\n"
"  --events-socket PATH socket of 'egressctl events' (default $EGRESS_EVENTS_SOCKET\n"
"                       or " EGRESS_DEFAULT_EVENTS_SOCKET ")\n"
"  --log-format F       json (default) or text\n"
"  -v, --verbose        libbpf debug output\n"
"  -h, --help           this help\n"
"  --version            the version, then exit\n"
"SIGHUP re-applies --policy-file; READY=1 goes to $NOTIFY_SOCKET (systemd) once ready.\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "policy-file", required_argument, NULL, 'f' },
		{ "max-rules", required_argument, NULL, 'r' },
		{ "max-policies", required_argument, NULL, 'P' },
		{ "ringbuf-size", required_argument, NULL, 'b' },
		{ "log-format", required_argument, NULL, 'l' },
		{ "max-cgroups", required_argument, NULL, 'C' },
		{ "max-seen", required_argument, NULL, 'S' },
		{ "event-rate", required_argument, NULL, 'R' },
		{ "event-burst", required_argument, NULL, 'B' },
		{ "metrics-addr", required_argument, NULL, 'm' },
		{ "metrics-cgroup-limit", required_argument, NULL, 'M' },
		{ "events-socket", required_argument, NULL, 's' },
		{ "policy-dir", required_argument, NULL, 'D' },
		{ "etcd", required_argument, NULL, 'E' },
		{ "etcd-prefix", required_argument, NULL, 'X' },
		{ "etcd-cacert", required_argument, NULL, 'A' },
		{ "etcd-cert", required_argument, NULL, 'c' },
		{ "etcd-key", required_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			opt.pin_dir = optarg;
			break;
		case 'f':
			opt.policy_file = optarg;
			break;
		case 'r':
			if (parse_u32(optarg, 1, 10000000, &opt.max_rules)) {
				logf_("invalid --max-rules '%s': 1 to 10000000", optarg);
				return -EINVAL;
			}
			break;
		case 'P':
			if (parse_u32(optarg, 1, 65535, &opt.max_policies)) {
				logf_("invalid --max-policies '%s': 1 to 65535", optarg);
				return -EINVAL;
			}
			break;
		case 'b':
			if (parse_u32(optarg, 4096, 1U << 30, &opt.ringbuf_bytes) ||
			    (opt.ringbuf_bytes & (opt.ringbuf_bytes - 1))) {
				logf_("invalid --ringbuf-size '%s': a power of 2, 4096 to 1073741824", optarg);
				return -EINVAL;
			}
			break;
		case 'l':
			if (parse_log_format(optarg, &opt.log_format) || opt.log_format == LOG_HINT) {
				logf_("invalid --log-format '%s': json or text", optarg);
				return -EINVAL;
			}
			break;
		case 'C':
			if (parse_u32(optarg, 1, 1U << 24, &opt.max_cgroups)) {
				logf_("invalid --max-cgroups '%s': 1 to 16777216", optarg);
				return -EINVAL;
			}
			break;
		case 'S':
			if (parse_u32(optarg, 1, 1U << 24, &opt.max_seen)) {
				logf_("invalid --max-seen '%s': 1 to 16777216", optarg);
				return -EINVAL;
			}
			break;
		case 'R':
			if (parse_u32(optarg, 0, 1000000000, &opt.event_rate)) {
				logf_("invalid --event-rate '%s': 0 to 1000000000", optarg);
				return -EINVAL;
			}
			break;
		case 'B':
			if (parse_u32(optarg, 1, 1000000000, &opt.event_burst)) {
				logf_("invalid --event-burst '%s': 1 to 1000000000", optarg);
				return -EINVAL;
			}
			break;
		case 'V':
			printf("egressd %s\n", EGRESS_VERSION);
			exit(0);
		case 'm':
			opt.metrics_addr = optarg;
			break;
		case 'M':
			if (parse_u32(optarg, 0, 1000000, &opt.metrics_cgroup_limit)) {
				logf_("invalid --metrics-cgroup-limit '%s': 0 to 1000000", optarg);
				return -EINVAL;
			}
			break;
		case 's':
			opt.events_socket = optarg;
			break;
		case 'D': opt.src.dir = optarg; break;
		case 'E': opt.src.etcd = optarg; break;
		case 'X': opt.src.etcd_prefix = optarg; break;
		case 'A': opt.src.etcd_cacert = optarg; break;
		case 'c': opt.src.etcd_cert = optarg; break;
		case 'k': opt.src.etcd_key = optarg; break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		logf_("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	opt.src.file = opt.policy_file;
	{
		char err[ERRBUF_LEN];

		if (policyset_opts_check(&opt.src, err, sizeof(err))) {
			logf_("%s", err);
			return -EINVAL;
		}
	}
	opt.pin_dir = state_pin_dir(opt.pin_dir);
	opt.events_socket = events_socket_path(opt.events_socket);
	return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The pin directory must live on bpffs: mount one on its parent if needed. */
static int ensure_bpffs(const char *pin_dir)
{
	char parent[PATH_MAX];
	struct statfs sfs;
	int ret;

	snprintf(parent, sizeof(parent), "%s", pin_dir);
	dirname(parent);
	ret = mkdir_p(parent, 0755);
	if (ret) {
		logf_("cannot create %s: %s", parent, strerror(-ret));
		return ret;
	}
	if (statfs(parent, &sfs)) {
		logf_("cannot stat %s: %s", parent, strerror(errno));
		return -errno;
	}
	if (sfs.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", parent, "bpf", 0, "mode=0700")) {
			ret = -errno;
			logf_("%s is not on bpffs and mounting bpffs there failed: %s", parent,
			      strerror(-ret));
			return ret;
		}
		logf_("mounted bpffs on %s", parent);
	}
	if (mkdir(pin_dir, 0700) && errno != EEXIST) {
		ret = -errno;
		logf_("cannot create %s: %s", pin_dir, strerror(-ret));
		return ret;
	}
	chmod(pin_dir, 0700);
	return 0;
}

static struct bpf_program *hook_prog(struct egress *skel, int hook)
{
	switch (hook) {
	case EGRESS_HOOK_CONNECT4: return skel->progs.egress_connect4;
	case EGRESS_HOOK_CONNECT6: return skel->progs.egress_connect6;
	case EGRESS_HOOK_SENDMSG4: return skel->progs.egress_sendmsg4;
	case EGRESS_HOOK_SENDMSG6: return skel->progs.egress_sendmsg6;
	case EGRESS_HOOK_SOCK_CREATE: return skel->progs.egress_sock_create;
	case EGRESS_HOOK_SETSOCKOPT: return skel->progs.egress_setsockopt;
	case EGRESS_HOOK_EGRESS: return skel->progs.egress_skb;
	case EGRESS_HOOK_INGRESS: return skel->progs.egress_ingress;
	}
	return NULL;
}

/* Takes the sizes of pinned maps, so that they can be reused as they are. */
static int read_pinned_config(const char *pin_dir, struct egress_config *cfg)
{
	char path[PATH_MAX];
	uint32_t zero = 0;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/maps/egress_config", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, cfg))
		ret = -errno;
	close(fd);
	return ret;
}

/* egress_seen keeps the size it was pinned with; a new one gets --max-seen. */
static uint32_t seen_entries(void)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/egress_seen", opt.pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return opt.max_seen;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || !info.max_entries)
		info.max_entries = opt.max_seen;
	close(fd);
	if (info.max_entries != opt.max_seen)
		logf_("keeping the size of the pinned egress_seen (max-seen %u); 'egressctl unload' "
		      "to change it", info.max_entries);
	return info.max_entries;
}

static int size_maps(struct egress *skel, const struct egress_config *cfg)
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
	ret = ret ?: bpf_map__set_max_entries(skel->maps.egress_seen, seen_entries());
	/* the rate limit is the program's own: new flags take effect with the new programs */
	if (opt.event_rate) {
		skel->rodata->rate_cost_ns = 1000000000ULL / opt.event_rate;
		skel->rodata->rate_burst_ns = skel->rodata->rate_cost_ns * opt.event_burst;
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

/* Applies a policy file: each policy it names is replaced atomically. */
static int apply_text(struct egress_state *st, const char *text, const char *what)
{
	struct policy_file pf;
	char err[ERRBUF_LEN];
	int ret;

	ret = policy_file_parse(text, &pf, err, sizeof(err));
	if (ret) {
		logf_("%s:%s", what, err);
		return ret;
	}
	ret = state_apply(st, &pf, err, sizeof(err));
	if (ret)
		logf_("%s: %s", what, err);
	for (size_t i = 0; !ret && i < pf.n; i++)
		logf_("policy '%s': %zu rules, default %s", pf.pol[i].name, pf.pol[i].nrules,
		      pf.pol[i].dflt == EGRESS_ALLOW ? "allow" : "deny");
	policy_file_free(&pf);
	return ret;
}

/*
 * SIGHUP (systemd's ExecReload): applies --policy-file again, under the
 * writers' lock.  A file that does not parse or apply changes nothing: the
 * policies in force stay, egressd keeps running.  Without --policy-file
 * there is nothing to re-read.
 */
static int reload_policy_source(struct egress_state *st)
{
	char err[ERRBUF_LEN], *text;
	int fd = -1, ret;

	if (!opt.policy_file) {
		logf_("reload: no --policy-file, nothing to re-read");
		return 0;
	}
	text = read_text(opt.policy_file, 64 << 20, NULL);
	if (!text) {
		ret = -errno;
		logf_("reload: cannot read policy file %s: %s; the policies in force stay",
		      opt.policy_file, strerror(errno));
		return ret;
	}
	ret = state_lock(opt.pin_dir, &fd, err, sizeof(err));
	if (ret)
		logf_("reload: %s", err);
	else
		ret = apply_text(st, text, opt.policy_file);
	logf_("reload of %s: %s", opt.policy_file, ret ? "failed, the policies in force stay" : "applied");
	if (fd >= 0)
		close(fd);
	free(text);
	return ret;
}

/*
 * What is missing for enforcement, or NULL: the pinned programs and maps
 * (the maps must still be the ones this egressd opened).  1 when another
 * egressd holds the pin directory now: this one must go.
 */
static int enforcement_problem(struct egress_state *st, int presence_fd, char *buf, size_t len)
{
	if (!presence_held(opt.pin_dir, presence_fd)) {
		struct egressd_info info;

		if (presence_read(opt.pin_dir, &info) == 1) {
			snprintf(buf, len, "another egressd (pid %u) holds %s now", info.pid, opt.pin_dir);
			return 1;
		}
	}
	state_pins_problem(st, buf, len);
	return 0;
}

struct loop {
	struct event_ctx ectx;
	struct followers *followers;
	uint64_t delivered;	/* not yet added to EGRESS_STAT_DELIVERED */
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct loop *l = ctx;
	json_t *ev;
	char *line;

	if (len < sizeof(struct egress_event))
		return 0;
	l->delivered++;
	ev = event_json(&l->ectx, data);
	if (!ev)
		return 0;
	event_print(ev, opt.log_format, stdout);
	line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line)
		followers_publish(l->followers, line, json_string_value(json_object_get(ev, "cgroup")));
	free(line);
	json_decref(ev);
	return 0;
}

int main(int argc, char **argv)
{
	struct egress_config cfg = {};
	struct egress_state st = { .dir_fd = -1 };
	struct ring_buffer *rb = NULL;
	struct egress *skel = NULL;
	struct metrics *metrics = NULL;
	struct policyset *pset = NULL;
	struct loop loop = {};
	int epfd = -1;
	char err[ERRBUF_LEN];
	char *policy_text = NULL;
	int lock_fd = -1, ret, updated = 0;
	bool fresh;
	time_t last_gc = 0, last_check = 0;
	int presence_fd = -1;
	char problem[PATH_MAX + 128] = "";

	state_init(&st);
	ret = parse_args(argc, argv);
	if (ret)
		return 2;
	if (geteuid() != 0) {
		logf_("must run as root (it loads BPF programs and pins them)");
		return 1;
	}
	libbpf_set_print(libbpf_print);
	/* one descriptor per follower: as many as the hard limit allows */
	{
		struct rlimit rl;

		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_hup);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (opt.policy_file) {
		policy_text = read_text(opt.policy_file, 64 << 20, NULL);
		if (!policy_text) {
			logf_("cannot read policy file %s: %s", opt.policy_file, strerror(errno));
			return 1;
		}
	}

	ret = ensure_bpffs(opt.pin_dir);
	if (ret)
		goto cleanup;
	{	/* one egressd per pin directory */
		struct egressd_info info = { .pid = getpid(), .started = time(NULL) };
		uint32_t holder;

		ret = presence_lock(opt.pin_dir, &presence_fd, &holder);
		if (ret == -EBUSY) {
			fprintf(stderr, "egressd already running (pid %u)\n", holder);
			goto cleanup;
		}
		snprintf(info.events_socket, sizeof(info.events_socket), "%s", opt.events_socket);
		snprintf(info.metrics_addr, sizeof(info.metrics_addr), "%s", opt.metrics_addr);
		ret = ret ?: presence_publish(opt.pin_dir, &info);
		if (ret) {
			logf_("cannot take %s/" PRESENCE_DIR ": %s", opt.pin_dir, strerror(-ret));
			goto cleanup;
		}
	}
	ret = state_lock(opt.pin_dir, &lock_fd, err, sizeof(err));
	if (ret) {
		logf_("%s", err);
		goto cleanup;
	}

	fresh = read_pinned_config(opt.pin_dir, &cfg) != 0;
	if (fresh) {
		cfg = (struct egress_config){
			.abi = EGRESS_ABI_VERSION, .max_policies = opt.max_policies,
			.max_rules = opt.max_rules, .ringbuf_bytes = opt.ringbuf_bytes,
			.max_cgroups = opt.max_cgroups,
		};
	} else {
		if (cfg.abi != EGRESS_ABI_VERSION) {
			logf_("the state pinned in %s has ABI %u and this egressd speaks %u: refusing to "
			      "take it over (migrate it, or 'egressctl unload' to start afresh)",
			      opt.pin_dir, cfg.abi, EGRESS_ABI_VERSION);
			ret = -EPROTO;
			goto cleanup;
		}
		if (cfg.max_rules != opt.max_rules || cfg.max_policies != opt.max_policies ||
		    cfg.ringbuf_bytes != opt.ringbuf_bytes || cfg.max_cgroups != opt.max_cgroups)
			logf_("keeping the sizes of the pinned state (max-rules %u, max-policies %u, "
			      "ringbuf %u, max-cgroups %u); 'egressctl unload' to change them",
			      cfg.max_rules, cfg.max_policies, cfg.ringbuf_bytes, cfg.max_cgroups);
	}

	skel = egress__open();
	if (!skel) {
		ret = -errno;
		logf_("cannot open the BPF object: %s", strerror(errno));
		goto cleanup;
	}
	ret = size_maps(skel, &cfg);
	if (!ret) {
		char maps[PATH_MAX];

		snprintf(maps, sizeof(maps), "%s/maps", opt.pin_dir);
		if (mkdir(maps, 0700) && errno != EEXIST)
			ret = -errno;
	}
	ret = ret ?: pin_maps(skel, opt.pin_dir);
	if (ret) {
		logf_("cannot prepare maps: %s", strerror(-ret));
		goto cleanup;
	}
	/* load: creates and pins the maps, or reuses the pinned ones */
	ret = egress__load(skel);
	if (ret) {
		logf_("cannot load the BPF programs: %s%s", strerror(-ret),
		      fresh ? "" : " (if a pinned map's layout differs, migrate it or 'egressctl unload')");
		goto cleanup;
	}
	if (fresh) {
		uint32_t zero = 0;

		ret = bpf_map__update_elem(skel->maps.egress_config, &zero, sizeof(zero), &cfg,
					   sizeof(cfg), BPF_ANY);
		if (ret) {
			logf_("cannot write the configuration: %s", strerror(-ret));
			goto cleanup;
		}
	}

	/* fill maps before anything attaches: the policies first */
	ret = state_open(&st, opt.pin_dir, 0, err, sizeof(err));
	if (ret) {
		logf_("%s", err);
		goto cleanup;
	}
	if (policy_text) {
		ret = apply_text(&st, policy_text, opt.policy_file);
	} else if (fresh || state_policy_id(&st, "default", &(uint32_t){ 0 })) {
		ret = apply_text(&st, egress_default_policy, "embedded default policy");
	}
	if (ret)
		goto cleanup;

	ret = pin_progs(skel, opt.pin_dir);
	if (ret) {
		logf_("cannot pin programs: %s", strerror(-ret));
		goto cleanup;
	}
	ret = update_links(skel, &st, &updated);
	if (ret)
		goto cleanup;
	state_gc(&st);
	close(lock_fd);
	lock_fd = -1;

	event_ctx_init(&loop.ectx, &st);
	rb = state_events_open(&st, on_event, &loop);
	if (!rb) {
		ret = -errno;
		logf_("cannot open the event ring buffer: %s", strerror(errno));
		goto cleanup;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb),
				  &(struct epoll_event){ .events = EPOLLIN, .data.ptr = rb })) {
		ret = -errno;
		logf_("epoll: %s", strerror(errno));
		goto cleanup;
	}
	ret = followers_open(&loop.followers, opt.events_socket, epfd);
	if (ret == -EADDRINUSE) {
		logf_("the event socket %s is served by another egressd: choose another --events-socket",
		      opt.events_socket);
		goto cleanup;
	} else if (ret) {
		logf_("cannot open the event socket %s: %s", opt.events_socket, strerror(-ret));
		goto cleanup;
	}
	ret = policyset_open(&pset, &opt.src, &st, err, sizeof(err));
	if (!ret && policyset_fd(pset) >= 0 &&
	    epoll_ctl(epfd, EPOLL_CTL_ADD, policyset_fd(pset),
		      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = pset }))
		ret = -errno;
	if (ret) {
		logf_("%s", err);
		goto cleanup;
	}
	ret = policyset_start(pset);
	if (ret)
		goto cleanup;
	if (strcmp(opt.metrics_addr, "none")) {
		ret = metrics_start(&metrics, opt.metrics_addr, &st, opt.metrics_cgroup_limit, err,
				    sizeof(err));
		if (ret) {
			logf_("%s", err);
			goto cleanup;
		}
	}
	logf_("ready: pins in %s (%s), %d links updated, events on %s, metrics on %s", opt.pin_dir,
	      fresh ? "created" : "taken over", updated, opt.events_socket, opt.metrics_addr);
	/* systemd Type=notify: no-op without $NOTIFY_SOCKET */
	sd_notifyf(0, "READY=1\nSTATUS=enforcing, pins in %s", opt.pin_dir);

	while (!stop) {
		struct epoll_event evs[16];
		int n = epoll_wait(epfd, evs, 16, policyset_timeout(pset, 200));

		if (n < 0 && errno != EINTR) {
			ret = -errno;
			logf_("epoll: %s", strerror(errno));
			goto cleanup;
		}
		if (reload) {
			reload = 0;
			sd_notify(0, "RELOADING=1");
			if (opt.policy_file || !pset)
				reload_policy_source(&st);
			policyset_reload(pset);	/* --policy-dir, --etcd: after the file */
			sd_notify(0, "READY=1");
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == rb)
				continue;	/* consumed below, every round */
			if (evs[i].data.ptr == pset) {
				policyset_handle(pset);
				continue;
			}
			followers_handle(loop.followers, evs[i].data.ptr, evs[i].events);
		}
		ret = ring_buffer__consume(rb);
		if (ret < 0 && ret != -EINTR) {
			logf_("reading events: %s", strerror(-ret));
			goto cleanup;
		}
		policyset_tick(pset);
		if (loop.delivered && !state_stat_add(&st, EGRESS_STAT_DELIVERED, loop.delivered))
			loop.delivered = 0;
		if (time(NULL) != last_check) {	/* still enforcing? */
			char now[sizeof(problem)];

			last_check = time(NULL);
			if (enforcement_problem(&st, presence_fd, now, sizeof(now))) {
				logf_("%s: exiting", now);
				ret = -EBUSY;
				goto cleanup;
			}
			if (strcmp(now, problem)) {
				if (now[0])
					logf_("not enforcing: %s", now);
				else
					logf_("enforcing again: pins in %s", opt.pin_dir);
				metrics_set_health(metrics, now[0] ? now : NULL);
				snprintf(problem, sizeof(problem), "%s", now);
			}
		}
		if (time(NULL) - last_gc >= 10) {
			int fd;

			last_gc = time(NULL);
			event_ctx_clock(&loop.ectx);
			/* the writers' lock, without waiting for a long apply */
			fd = open(opt.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0 && !flock(fd, LOCK_EX | LOCK_NB))
				state_gc(&st);
			if (fd >= 0)
				close(fd);
		}
	}
	ret = 0;
	sd_notify(0, "STOPPING=1");
	logf_("stopping; enforcement stays pinned in %s", opt.pin_dir);
cleanup:
	metrics_stop(metrics);
	if (rb) {
		ring_buffer__consume(rb);	/* what is there now is not lost */
		if (loop.delivered)
			state_stat_add(&st, EGRESS_STAT_DELIVERED, loop.delivered);
	}
	policyset_close(pset);
	followers_close(loop.followers);
	if (epfd >= 0)
		close(epfd);
	ring_buffer__free(rb);
	state_close(&st);
	egress__destroy(skel);
	if (lock_fd >= 0)
		close(lock_fd);
	presence_release(opt.pin_dir, presence_fd);
	free(policy_text);
	return ret ? 1 : 0;
}

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
#include "events.h"
#include "follow.h"
#include "loader.h"
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

/* The policies before anything attaches: --policy-file, else the embedded default once. */
static int fill_policies(struct egress_state *st, bool fresh, void *policy_text)
{
	if (policy_text)
		return apply_text(st, policy_text, opt.policy_file);
	if (fresh || state_policy_id(st, "default", &(uint32_t){ 0 }))
		return apply_text(st, egress_default_policy, "embedded default policy");
	return 0;
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
	struct event_fields f;
	char *line;

	if (len < sizeof(struct egress_event))
		return 0;
	l->delivered++;
	event_fields(&l->ectx, data, &f);
	line = event_fields_line(&f);	/* serialised once: the log's line and the followers' */
	if (!line)
		return 0;
	event_write(&f, opt.log_format, line, stdout);
	followers_publish(l->followers, line, f.cgroup);
	free(line);
	return 0;
}

int main(int argc, char **argv)
{
	struct egress_state st = { .dir_fd = -1 };
	struct ring_buffer *rb = NULL;
	struct loader ld = {};
	struct metrics *metrics = NULL;
	struct policyset *pset = NULL;
	struct loop loop = {};
	int epfd = -1;
	char err[ERRBUF_LEN];
	char *policy_text = NULL;
	int lock_fd = -1, ret;
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

	ret = loader_take_over(&ld, &(struct loader_opts){
		.pin_dir = opt.pin_dir, .max_rules = opt.max_rules, .max_policies = opt.max_policies,
		.ringbuf_bytes = opt.ringbuf_bytes, .max_cgroups = opt.max_cgroups,
		.max_seen = opt.max_seen, .event_rate = opt.event_rate, .event_burst = opt.event_burst,
	}, &st, fill_policies, policy_text);
	if (ret)
		goto cleanup;
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
	      ld.fresh ? "created" : "taken over", ld.updated, opt.events_socket, opt.metrics_addr);
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
	loader_close(&ld);
	if (lock_fd >= 0)
		close(lock_fd);
	presence_release(opt.pin_dir, presence_fd);
	free(policy_text);
	return ret ? 1 : 0;
}

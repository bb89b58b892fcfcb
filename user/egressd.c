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
#include "hits.h"
#include "loader.h"
#include "metrics.h"
#include "options.h"
#include "policyset.h"
#include "state.h"

extern const char egress_default_policy[];

static volatile sig_atomic_t stop;
static volatile sig_atomic_t reload;	/* SIGHUP: re-read the policy source */
/* The options: defaults, ranges and help in egressd_spec below. */
static struct egressd_opts {
	const char *pin_dir;
	const char *policy_file;
	uint32_t max_rules;
	uint32_t max_policies;
	uint32_t ringbuf_bytes;
	uint32_t max_cgroups;
	uint32_t max_seen;
	uint32_t event_rate;
	uint32_t event_burst;
	uint32_t gc_interval;		/* seconds, 0: never */
	const char *metrics_addr;
	uint32_t metrics_cgroup_limit;
	uint32_t metrics_rule_limit;	/* hits.h: hits_metrics_limit */
	const char *events_socket;
	int log_format;			/* enum log_format */
	struct policyset_opts src;	/* --policy-dir, --etcd (policyset.c) */
	bool verbose, help, version;
} opt;

#define logf_ ps_logf	/* "egressd: ..." on stderr (policyset.c) */

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !opt.verbose)
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

static const char *const log_formats[] = { "json", "text", NULL };	/* enum log_format */

#define T struct egressd_opts
static const struct opt_spec egressd_spec[] = {
	OPTION_STR(T, pin_dir, "pin-dir", "DIR",
		   "pin directory (default: $EGRESS_PIN_DIR or " EGRESS_DEFAULT_PIN_DIR ")"),
	OPTION_STR(T, policy_file, "policy-file", "FILE",
		   "apply FILE at start (default: the embedded default policy,\n"
		   "applied only when the pins are created)"),
	OPTION_STR(T, src.dir, "policy-dir", "DIR",
		   "the policy set: every DIR/*.policy, applied as one transaction\n"
		   "at start and at each change (inotify, ConfigMap volumes too)"),
	OPTION_STR(T, src.etcd, "etcd", "URL[,URL...]",
		   "the policy set from etcd v3: one key per policy under --etcd-prefix"),
	OPTION_STR(T, src.etcd_prefix, "etcd-prefix", "PREFIX",
		   "the keys' prefix (etcdctl put PREFIXNAME \"$(cat NAME.policy)\")"),
	OPTION_STR(T, src.etcd_cacert, "etcd-cacert", "FILE", "CA of the etcd servers (https URLs)"),
	OPTION_STR(T, src.etcd_cert, "etcd-cert", "FILE", "client certificate, with --etcd-key FILE its key"),
	OPTION_STR(T, src.etcd_key, "etcd-key", "FILE", "the client certificate's key"),
	OPTION_U32(T, max_rules, "max-rules", "N", 1, 10000000, "rules per policy", .def = "100000"),
	OPTION_U32(T, max_policies, "max-policies", "N", 1, 65535, "number of policies", .def = "256"),
	OPTION_U32(T, ringbuf_bytes, "ringbuf-size", "BYTES", 4096, 1U << 30, "event ring buffer, a power of 2",
		   .def = "4194304", .flags = OPT_POW2),
	OPTION_U32(T, max_cgroups, "max-cgroups", "N", 1, 1U << 24,
		   "cgroups tracked for event rate limits and denial counts", .def = "65536"),
	OPTION_U32(T, max_seen, "max-seen", "N", 1, 1U << 24,
		   "distinct denied destinations kept for 'egressctl advise'", .def = "65536"),
	OPTION_U32(T, event_rate, "event-rate", "N", 0, 1000000000,
		   "denial events per second per bound cgroup, 0 = no limit", .def = "100"),
	OPTION_U32(T, event_burst, "event-burst", "N", 1, 1000000000,
		   "burst of the per-bound-cgroup rate limit", .def = "200"),
	OPTION_U32(T, gc_interval, "gc-interval", "SECS", 0, 86400,
		   "how often gc runs ('egressctl gc'), 0 = never", .def = "10"),
	OPTION_STR(T, metrics_addr, "metrics-addr", "A", "HOST:PORT of the Prometheus endpoint, or none",
		   .def = "127.0.0.1:9464"),
	OPTION_U32(T, metrics_cgroup_limit, "metrics-cgroup-limit", "N", 0, 1000000,
		   "cgroups in egress_cgroup_denied_total", .def = "100"),
	OPTION_U32(T, metrics_rule_limit, "metrics-rule-limit", "N", 0, 1000000,
		   "rules in egress_rule_hits_total, the busiest", .def = "200"),
	OPTION_STR(T, events_socket, "events-socket", "PATH",
		   "socket of 'egressctl events' (default: $EGRESS_EVENTS_SOCKET\n"
		   "or " EGRESS_DEFAULT_EVENTS_SOCKET ")"),
	OPTION_ENUM(T, log_format, "log-format", "F", log_formats, "json or text", .def = "json"),
	OPTION_FLAG(T, verbose, "verbose", "libbpf debug output", .short_name = 'v'),
	OPTION_FLAG(T, help, "help", "this help", .short_name = 'h'),
	OPTION_FLAG(T, version, "version", "the version, then exit"),
	OPTION_END,
};
#undef T

static void usage(FILE *f)
{
	fprintf(f, "Usage: egressd [OPTIONS]\n"
		"Loads egress, pins its state under the pin directory and streams denial events.\n\n");
	opts_usage(f, egressd_spec);
	fprintf(f, "SIGHUP reads the policy file, directory or etcd again; READY=1 goes to $NOTIFY_SOCKET\n"
		"(systemd) once ready.\n");
}

/* 0, or the exit status: 0 after --help or --version, 2 for bad usage (one line). */
static int parse_args(int argc, char **argv)
{
	char err[ERRBUF_LEN];
	int ret;

	/*
	 * As getopt_long did: a unique prefix names an option, and a later one
	 * wins (a unit's or a DaemonSet's arguments, then an override).
	 */
	ret = opts_parse(egressd_spec, argc - 1, argv + 1, &opt, OPTS_PREFIX | OPTS_LAST_WINS, err,
			 sizeof(err));
	if (ret == OPTS_HELP) {
		usage(stdout);
		exit(0);
	}
	if (ret == -EDOM) {
		logf_("%s", err);
		return 2;
	}
	if (ret) {
		logf_("%s (see 'egressd --help')", err);
		return 2;
	}
	if (opt.version) {
		printf("egressd %s\n", EGRESS_VERSION);
		exit(0);
	}
	hits_metrics_limit = opt.metrics_rule_limit;
	opt.src.file = opt.policy_file;
	if (policyset_opts_check(&opt.src, err, sizeof(err))) {
		logf_("%s", err);
		return 2;
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

/* The ring buffer callback's: how events are shown, and who follows them. */
struct event_sink {
	struct event_ctx ectx;
	struct followers *followers;
	uint64_t delivered;	/* not yet added to EGRESS_STAT_DELIVERED */
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct event_sink *l = ctx;
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

/* One descriptor per follower: as many as the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* One egressd per pin directory: takes PIN_DIR/egressd and publishes what status shows. */
static int take_presence(int *presence_fd)
{
	struct egressd_info info = { .pid = getpid(), .started = time(NULL) };
	uint32_t holder;
	int ret;

	ret = presence_lock(opt.pin_dir, presence_fd, &holder);
	if (ret == -EBUSY) {
		fprintf(stderr, "egressd already running (pid %u)\n", holder);
		return ret;
	}
	snprintf(info.events_socket, sizeof(info.events_socket), "%s", opt.events_socket);
	snprintf(info.metrics_addr, sizeof(info.metrics_addr), "%s", opt.metrics_addr);
	ret = ret ?: presence_publish(opt.pin_dir, &info);
	if (ret)
		logf_("cannot take %s/" PRESENCE_DIR ": %s", opt.pin_dir, strerror(-ret));
	return ret;
}

/* What egressd serves once enforcing: events, followers, the policy set, metrics. */
struct serve {
	struct egress_state *st;
	struct ring_buffer *rb;
	int epfd;
	struct event_sink sink;
	struct policyset *pset;
	struct metrics *metrics;
	int presence_fd;
};

static int serve_open(struct serve *sv)
{
	char err[ERRBUF_LEN];
	int ret;

	event_ctx_init(&sv->sink.ectx, sv->st);
	sv->rb = state_events_open(sv->st, on_event, &sv->sink);
	if (!sv->rb) {
		ret = -errno;
		logf_("cannot open the event ring buffer: %s", strerror(-ret));
		return ret;
	}
	sv->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sv->epfd < 0 || epoll_ctl(sv->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(sv->rb),
				      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = sv->rb })) {
		ret = -errno;
		logf_("epoll: %s", strerror(errno));
		return ret;
	}
	ret = followers_open(&sv->sink.followers, opt.events_socket, sv->epfd);
	if (ret == -EADDRINUSE) {
		logf_("the event socket %s is served by another egressd: choose another --events-socket",
		      opt.events_socket);
		return ret;
	} else if (ret) {
		logf_("cannot open the event socket %s: %s", opt.events_socket, strerror(-ret));
		return ret;
	}
	ret = policyset_open(&sv->pset, &opt.src, sv->st, err, sizeof(err));
	if (!ret && policyset_fd(sv->pset) >= 0 &&
	    epoll_ctl(sv->epfd, EPOLL_CTL_ADD, policyset_fd(sv->pset),
		      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = sv->pset }))
		ret = -errno;
	if (ret) {
		logf_("%s", err);
		return ret;
	}
	ret = policyset_start(sv->pset);
	if (ret)
		return ret;
	if (strcmp(opt.metrics_addr, "none")) {
		ret = metrics_start(&sv->metrics, opt.metrics_addr, sv->st, opt.metrics_cgroup_limit, err,
				    sizeof(err));
		if (ret)
			logf_("%s", err);
	}
	return ret;
}

/* Once a second: still enforcing?  Says when that changes; -EBUSY when egressd must exit. */
static int check_enforcing(struct serve *sv, char *problem, size_t len)
{
	char now[PATH_MAX + 128];

	if (enforcement_problem(sv->st, sv->presence_fd, now, sizeof(now))) {
		logf_("%s: exiting", now);
		return -EBUSY;
	}
	if (strcmp(now, problem)) {
		if (now[0])
			logf_("not enforcing: %s", now);
		else
			logf_("enforcing again: pins in %s", opt.pin_dir);
		metrics_set_health(sv->metrics, now[0] ? now : NULL);
		snprintf(problem, len, "%s", now);
	}
	return 0;
}

/*
 * The sweep, under the writers' lock, without waiting for a long apply:
 * every 10 s what a killed writer left (its journal finished or dropped,
 * an odd epoch settled), and every --gc-interval seconds the gc (which
 * does that too).
 */
static void sweep(struct serve *sv, bool gc)
{
	int fd;

	fd = open(opt.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && !flock(fd, LOCK_EX | LOCK_NB)) {
		if (gc)
			state_gc(sv->st);
		else
			state_repair_locked(sv->st);
	}
	if (fd >= 0)
		close(fd);
}

/* Until SIGINT or SIGTERM (0), or an error (-errno). */
static int serve_loop(struct serve *sv)
{
	time_t last_gc = 0, last_check = 0, last_sweep = 0;
	char problem[PATH_MAX + 128] = "";
	int ret;

	while (!stop) {
		struct epoll_event evs[16];
		bool gc;
		int n = epoll_wait(sv->epfd, evs, 16, policyset_timeout(sv->pset, 200));

		if (n < 0 && errno != EINTR) {
			ret = -errno;
			logf_("epoll: %s", strerror(-ret));
			return ret;
		}
		if (reload) {
			reload = 0;
			sd_notify(0, "RELOADING=1");
			if (opt.policy_file || !sv->pset)
				reload_policy_source(sv->st);
			policyset_reload(sv->pset);	/* --policy-dir, --etcd: after the file */
			sd_notify(0, "READY=1");
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == sv->rb)
				continue;	/* consumed below, every round */
			if (evs[i].data.ptr == sv->pset) {
				policyset_handle(sv->pset);
				continue;
			}
			followers_handle(sv->sink.followers, evs[i].data.ptr, evs[i].events);
		}
		ret = ring_buffer__consume(sv->rb);
		if (ret < 0 && ret != -EINTR) {
			logf_("reading events: %s", strerror(-ret));
			return ret;
		}
		policyset_tick(sv->pset);
		if (sv->sink.delivered && !state_stat_add(sv->st, EGRESS_STAT_DELIVERED, sv->sink.delivered))
			sv->sink.delivered = 0;
		if (time(NULL) != last_check) {
			last_check = time(NULL);
			ret = check_enforcing(sv, problem, sizeof(problem));
			if (ret)
				return ret;
		}
		gc = opt.gc_interval && time(NULL) - last_gc >= opt.gc_interval;
		if (gc || time(NULL) - last_sweep >= 10) {
			if (time(NULL) - last_sweep >= 10)
				event_ctx_clock(&sv->sink.ectx);
			last_sweep = time(NULL);
			if (gc)
				last_gc = last_sweep;
			sweep(sv, gc);
		}
	}
	return 0;
}

static void serve_close(struct serve *sv)
{
	metrics_stop(sv->metrics);
	if (sv->rb) {
		ring_buffer__consume(sv->rb);	/* what is there now is not lost */
		if (sv->sink.delivered)
			state_stat_add(sv->st, EGRESS_STAT_DELIVERED, sv->sink.delivered);
	}
	policyset_close(sv->pset);
	followers_close(sv->sink.followers);
	if (sv->epfd >= 0)
		close(sv->epfd);
	ring_buffer__free(sv->rb);
}

int main(int argc, char **argv)
{
	struct egress_state st = { .dir_fd = -1 };
	struct loader ld = {};
	struct serve sv = { .st = &st, .epfd = -1, .presence_fd = -1 };
	char err[ERRBUF_LEN];
	char *policy_text = NULL;
	int lock_fd = -1, ret;

	state_init(&st);
	ret = parse_args(argc, argv);
	if (ret)
		return 2;
	if (geteuid() != 0) {
		logf_("must run as root (it loads BPF programs and pins them)");
		return 1;
	}
	libbpf_set_print(libbpf_print);
	raise_nofile();
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
	ret = take_presence(&sv.presence_fd);
	if (ret)
		goto cleanup;
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

	ret = serve_open(&sv);
	if (ret)
		goto cleanup;
	logf_("ready: pins in %s (%s), %d links updated, events on %s, metrics on %s", opt.pin_dir,
	      ld.fresh ? "created" : "taken over", ld.updated, opt.events_socket, opt.metrics_addr);
	/* systemd Type=notify: no-op without $NOTIFY_SOCKET */
	sd_notifyf(0, "READY=1\nSTATUS=enforcing, pins in %s", opt.pin_dir);

	ret = serve_loop(&sv);
	if (ret)
		goto cleanup;
	ret = 0;
	sd_notify(0, "STOPPING=1");
	logf_("stopping; enforcement stays pinned in %s", opt.pin_dir);
cleanup:
	serve_close(&sv);
	state_close(&st);
	loader_close(&ld);
	if (lock_fd >= 0)
		close(lock_fd);
	presence_release(opt.pin_dir, sv.presence_fd);
	free(policy_text);
	return ret ? 1 : 0;
}

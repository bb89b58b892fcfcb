// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * egbench.c - the measuring half of `make bench` (bench/run.sh drives it).
 *
 *   egbench overhead  KIND [options] --arm SPEC...   interleaved syscall timings
 *                     and BPF run-time stats per arm, one TSV line per round and arm
 *   egbench bindmany  PINDIR PARENT COUNT POLICYID   makes COUNT cgroups and binds
 *                     them exactly as state_bind() does (links pinned per hook,
 *                     binding storage written), prints per-bind times
 *   egbench visible   [options]                      rule change -> next syscall
 *   egbench flood     [options]                      denial flood vs allowed loop
 *   egbench count     FILE                           counts stdin lines into FILE
 *
 * Every loop is bounded.  KIND is udp4, udp6, tcp4 or tcp6.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egress.h"

#define MAX_ARMS 32

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("egbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void join_cgroup(const char *cg)
{
	char p[4096];
	int fd;

	snprintf(p, sizeof(p), "%s/cgroup.procs", cg);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		die("cannot join %s: %s", cg, strerror(errno));
	close(fd);
}

static void enter_netns(const char *path)
{
	int fd;

	if (!path || !*path)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		die("cannot enter netns %s: %s", path, strerror(errno));
	close(fd);
}

/* ---- destinations ------------------------------------------------------ */

struct kind {
	bool v6, tcp;
	const char *hook;
};

static struct kind parse_kind(const char *s)
{
	if (!strcmp(s, "udp4"))
		return (struct kind){ false, false, "sendmsg4" };
	if (!strcmp(s, "udp6"))
		return (struct kind){ true, false, "sendmsg6" };
	if (!strcmp(s, "tcp4"))
		return (struct kind){ false, true, "connect4" };
	if (!strcmp(s, "tcp6"))
		return (struct kind){ true, true, "connect6" };
	die("unknown kind %s", s);
}

static socklen_t mkaddr(const struct kind *k, const char *ip, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (k->v6) {
		struct sockaddr_in6 *a = (void *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, ip, &a->sin6_addr) != 1)
			die("bad address %s", ip);
		return sizeof(*a);
	} else {
		struct sockaddr_in *a = (void *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, ip, &a->sin_addr) != 1)
			die("bad address %s", ip);
		return sizeof(*a);
	}
}

/* ---- BPF run-time stats -------------------------------------------------- */

static int prog_fd_of(const char *pins, const char *hook)
{
	char p[4096];
	int fd;

	snprintf(p, sizeof(p), "%s/progs/%s", pins, hook);
	fd = bpf_obj_get(p);
	if (fd < 0)
		die("cannot open %s: %s", p, strerror(errno));
	return fd;
}

static void prog_stats(int fd, uint64_t *ns, uint64_t *cnt)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die("bpf_obj_get_info_by_fd: %s", strerror(errno));
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
}

static int pinned_progs(const char *pins, char names[][32], int *fds, int max);

/* ---- overhead ------------------------------------------------------------ */

struct arm {
	char name[64];
	char cg[1024];
	char dst[64];
	char state[32];
	char pins[1024];	/* egress pin dir, for run-time stats; empty: none */
	int udp_fd;		/* UDP: the arm's socket, created in its cgroup */
	int prog_fd;		/* the hook's program */
	int nall, all_fd[16];	/* every program of the instance */
};

struct state_cmd {
	char name[32];
	char cmd[4096];
};

static struct arm arms[MAX_ARMS];
static int narms;
static struct state_cmd states[8];
static int nstates;
static char cur_state[32] = "";

/* true when a state command ran (the caller then warms the arm up again) */
static bool set_state(const char *s)
{
	if (!*s || !strcmp(s, "-") || !strcmp(s, cur_state))
		return false;
	for (int i = 0; i < nstates; i++) {
		if (!strcmp(states[i].name, s)) {
			int rc = system(states[i].cmd);

			if (rc != 0)
				die("state command for %s failed (%d): %s", s, rc, states[i].cmd);
			snprintf(cur_state, sizeof(cur_state), "%s", s);
			return true;
		}
	}
	die("unknown state %s", s);
	return false;
}

/* name=..,cg=..,dst=..,state=..,pins=.. */
static void parse_arm(char *spec)
{
	struct arm *a = &arms[narms];
	char *save, *tok;

	if (narms >= MAX_ARMS)
		die("too many arms");
	memset(a, 0, sizeof(*a));
	a->udp_fd = a->prog_fd = -1;
	for (tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			die("bad arm field %s", tok);
		*eq++ = '\0';
		if (!strcmp(tok, "name"))
			snprintf(a->name, sizeof(a->name), "%s", eq);
		else if (!strcmp(tok, "cg"))
			snprintf(a->cg, sizeof(a->cg), "%s", eq);
		else if (!strcmp(tok, "dst"))
			snprintf(a->dst, sizeof(a->dst), "%s", eq);
		else if (!strcmp(tok, "state"))
			snprintf(a->state, sizeof(a->state), "%s", eq);
		else if (!strcmp(tok, "pins"))
			snprintf(a->pins, sizeof(a->pins), "%s", eq);
		else
			die("bad arm field %s", tok);
	}
	if (!*a->name || !*a->cg || !*a->dst)
		die("arm needs name, cg and dst");
	narms++;
}

struct result {
	double ns_op;
	double prog_ns;		/* the hook's program, per call */
	double all_ns;		/* every program of the instance, per operation */
	uint64_t ok, eperm, other;
};

static int rx_fd = -1, listen_fd = -1;

static void drain_udp(void)
{
	char buf[64];

	for (int i = 0; i < 1000000; i++)
		if (recv(rx_fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			break;
}

/* K unconnected sendto calls on the arm's socket; returns total ns */
static uint64_t run_udp(struct arm *a, const struct kind *k, int port, int iters, struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t sl = mkaddr(k, a->dst, port, &ss);
	char payload[16] = "egress-bench";
	uint64_t t0, t1;
	int eperm = 0, other = 0, ok = 0;

	t0 = now_ns();
	for (int i = 0; i < iters; i++) {
		if (sendto(a->udp_fd, payload, sizeof(payload), 0, (struct sockaddr *)&ss, sl) >= 0)
			ok++;
		else if (errno == EPERM)
			eperm++;
		else
			other++;
	}
	t1 = now_ns();
	r->ok += ok;
	r->eperm += eperm;
	r->other += other;
	drain_udp();
	return t1 - t0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * K connects, each on a fresh socket closed with SO_LINGER 0; only
 * connect() is timed, each alone.  Returns K times the median connect: a
 * connect that an interrupt or a preemption stretched by tens of
 * microseconds moves a mean of a few hundred by more than egress costs,
 * and the median not at all.
 */
static uint64_t run_tcp(struct arm *a, const struct kind *k, int port, int iters, struct result *r,
			const char *home)
{
	struct sockaddr_storage ss;
	socklen_t sl = mkaddr(k, a->dst, port, &ss);
	struct linger lg = { 1, 0 };
	uint64_t total, *took = calloc(iters, sizeof(*took));

	if (!took)
		die("out of memory");

	join_cgroup(a->cg);
	for (int i = 0; i < iters; i++) {
		int s = socket(k->v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		uint64_t t0, t1;
		int rc;

		if (s < 0)
			die("socket: %s", strerror(errno));
		setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		t0 = now_ns();
		rc = connect(s, (struct sockaddr *)&ss, sl);
		t1 = now_ns();
		took[i] = t1 - t0;
		if (rc == 0) {
			int c;

			r->ok++;
			close(s);
			c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0)
				close(c);
			continue;
		}
		if (errno == EPERM)
			r->eperm++;
		else
			r->other++;
		close(s);
	}
	join_cgroup(home);
	qsort(took, iters, sizeof(*took), u64_cmp);
	total = (uint64_t)iters * (iters % 2 ? took[iters / 2] : (took[iters / 2 - 1] + took[iters / 2]) / 2);
	free(took);
	return total;
}

static int cmd_overhead(int argc, char **argv)
{
	const char *kind_s = NULL, *netns = NULL, *home = NULL, *rxaddr = NULL;
	int rounds = 11, iters = 2000, siters = 1000, port = 40000;
	struct kind k;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			die("option %s needs a value", o);
		if (!strcmp(o, "--kind"))
			kind_s = v;
		else if (!strcmp(o, "--netns"))
			netns = v;
		else if (!strcmp(o, "--home"))
			home = v;
		else if (!strcmp(o, "--rx"))
			rxaddr = v;
		else if (!strcmp(o, "--port"))
			port = atoi(v);
		else if (!strcmp(o, "--rounds"))
			rounds = atoi(v);
		else if (!strcmp(o, "--iters"))
			iters = atoi(v);
		else if (!strcmp(o, "--stats-iters"))
			siters = atoi(v);
		else if (!strcmp(o, "--arm"))
			parse_arm(strdup(v));
		else if (!strcmp(o, "--state")) {
			const char *eq = strchr(v, '=');

			if (!eq || nstates >= 8)
				die("bad --state %s", v);
			snprintf(states[nstates].name, sizeof(states[nstates].name), "%.*s", (int)(eq - v), v);
			snprintf(states[nstates].cmd, sizeof(states[nstates].cmd), "%s", eq + 1);
			nstates++;
		} else
			die("unknown option %s", o);
		i++;
	}
	if (!kind_s || !home || !rxaddr || !narms)
		die("overhead needs --kind, --home, --rx and arms");
	k = parse_kind(kind_s);
	enter_netns(netns);
	join_cgroup(home);

	/* the receiving end lives in the unbound home cgroup */
	{
		struct sockaddr_storage ss;
		socklen_t sl = mkaddr(&k, rxaddr, port, &ss);
		int one = 1, big = 32 << 20;
		int fd = socket(k.v6 ? AF_INET6 : AF_INET, (k.tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);

		if (fd < 0)
			die("socket: %s", strerror(errno));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!k.tcp)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
		if (bind(fd, (struct sockaddr *)&ss, sl))
			die("bind %s:%d: %s", rxaddr, port, strerror(errno));
		if (k.tcp) {
			if (listen(fd, 4096))
				die("listen: %s", strerror(errno));
			listen_fd = fd;
		} else {
			rx_fd = fd;
		}
	}
	for (int i = 0; i < narms; i++) {
		struct arm *a = &arms[i];

		if (*a->pins) {
			char names[16][32];

			a->prog_fd = prog_fd_of(a->pins, k.hook);
			a->nall = pinned_progs(a->pins, names, a->all_fd, 16);
		}
		if (!k.tcp) {
			join_cgroup(a->cg);
			a->udp_fd = socket(k.v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (a->udp_fd < 0)
				die("socket: %s", strerror(errno));
			join_cgroup(home);
		}
	}

	/* warm-up: one short pass over every arm */
	for (int i = 0; i < narms; i++) {
		struct result r = {};

		set_state(arms[i].state);
		if (k.tcp)
			run_tcp(&arms[i], &k, port, iters / 10 + 1, &r, home);
		else
			run_udp(&arms[i], &k, port, iters / 10 + 1, &r);
	}

	for (int round = 0; round < rounds; round++) {
		struct result res[MAX_ARMS] = {};
		int order[MAX_ARMS], n = 0;

		/*
		 * Arms grouped by state (a state switch costs a command), the groups in
		 * alternating order, arms rotated inside a group from round to round.
		 */
		for (int pass = 0; pass < 2; pass++) {
			for (int gi = 0; gi < narms; gi++) {
				int g = (round & 1) ? narms - 1 - gi : gi;
				bool seen = false;

				for (int j = 0; j < g; j++)
					if (!strcmp(arms[j].state, arms[g].state))
						seen = true;
				if (seen || pass)
					continue;
				/* first arm of a new state group: all of the group, rotated */
				int members[MAX_ARMS], m = 0;

				for (int j = 0; j < narms; j++)
					if (!strcmp(arms[j].state, arms[g].state))
						members[m++] = j;
				for (int j = 0; j < m; j++)
					order[n++] = members[(j + round) % m];
			}
		}
		for (int oi = 0; oi < n; oi++) {
			struct arm *a = &arms[order[oi]];
			struct result *r = &res[order[oi]];
			uint64_t t;

			/*
			 * A state command (a process, attach/detach) leaves cold caches and
			 * a CPU clocked for another load behind: an untimed pass first.
			 */
			if (set_state(a->state)) {
				struct result w = {};

				if (k.tcp)
					run_tcp(a, &k, port, iters / 10 + 1, &w, home);
				else
					run_udp(a, &k, port, iters / 10 + 1, &w);
			}
			t = k.tcp ? run_tcp(a, &k, port, iters, r, home) : run_udp(a, &k, port, iters, r);
			r->ns_op = (double)t / iters;
			r->prog_ns = -1;
			r->all_ns = -1;
		}
		/* BPF run-time stats, on only for this pass (a refcounted fd) */
		{
			int sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);

			if (sfd < 0)
				die("bpf_enable_stats: %s", strerror(errno));
			for (int oi = 0; oi < n; oi++) {
				struct arm *a = &arms[order[oi]];
				struct result *r = &res[order[oi]], dummy = {};
				uint64_t ns0, c0, ns1, c1, all0 = 0, all1 = 0, x, y;

				if (a->prog_fd < 0)
					continue;
				set_state(a->state);
				for (int j = 0; j < a->nall; j++) {
					prog_stats(a->all_fd[j], &x, &y);
					all0 += x;
				}
				prog_stats(a->prog_fd, &ns0, &c0);
				if (k.tcp)
					run_tcp(a, &k, port, siters, &dummy, home);
				else
					run_udp(a, &k, port, siters, &dummy);
				prog_stats(a->prog_fd, &ns1, &c1);
				for (int j = 0; j < a->nall; j++) {
					prog_stats(a->all_fd[j], &x, &y);
					all1 += x;
				}
				r->prog_ns = c1 > c0 ? (double)(ns1 - ns0) / (c1 - c0) : -1;
				r->all_ns = (double)(all1 - all0) / siters;
			}
			close(sfd);
		}
		for (int i = 0; i < narms; i++)
			printf("%s\t%d\t%s\t%.2f\t%.2f\t%.2f\t%llu\t%llu\t%llu\n", kind_s, round, arms[i].name,
			       res[i].ns_op, res[i].prog_ns, res[i].all_ns, (unsigned long long)res[i].ok,
			       (unsigned long long)res[i].eperm, (unsigned long long)res[i].other);
		fflush(stdout);
	}
	set_state(arms[0].state);
	return 0;
}

/* ---- bindmany ------------------------------------------------------------ */

static const struct {
	const char *name;
	enum bpf_attach_type type;
} hooks[] = {
	{ "connect4", BPF_CGROUP_INET4_CONNECT },
	{ "connect6", BPF_CGROUP_INET6_CONNECT },
	{ "sendmsg4", BPF_CGROUP_UDP4_SENDMSG },
	{ "sendmsg6", BPF_CGROUP_UDP6_SENDMSG },
	{ "sock_create", BPF_CGROUP_INET_SOCK_CREATE },
	{ "setsockopt", BPF_CGROUP_SETSOCKOPT },
	{ "egress", BPF_CGROUP_INET_EGRESS },
	{ "ingress", BPF_CGROUP_INET_INGRESS },
};
#define NHOOKS (int)(sizeof(hooks) / sizeof(hooks[0]))

/* the programs pinned in PINS/progs: names and fds */
static int pinned_progs(const char *pins, char names[][32], int *fds, int max)
{
	char p[4096];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/progs", pins);
	d = opendir(p);
	if (!d)
		die("cannot open %s: %s", p, strerror(errno));
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(names[n], 32, "%s", de->d_name);
		fds[n] = prog_fd_of(pins, de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static int cmd_bindmany(int argc, char **argv)
{
	const char *pins, *parent;
	int count, prog[16], htype[16], nprog, bind_fd;
	char pnames[16][32];
	uint32_t policy;
	char p[4096];
	uint64_t t_all = now_ns();

	if (argc != 5)
		die("usage: bindmany PINDIR PARENT COUNT POLICYID");
	pins = argv[1];
	parent = argv[2];
	count = atoi(argv[3]);
	policy = strtoul(argv[4], NULL, 10);
	nprog = pinned_progs(pins, pnames, prog, 16);
	for (int i = 0; i < nprog; i++) {
		htype[i] = -1;
		for (int h = 0; h < NHOOKS; h++)
			if (!strcmp(hooks[h].name, pnames[i]))
				htype[i] = hooks[h].type;
		if (htype[i] < 0)
			die("bindmany: unknown program %s (update bench/egbench.c)", pnames[i]);
	}
	snprintf(p, sizeof(p), "%s/maps/egress_binding", pins);
	bind_fd = bpf_obj_get(p);
	if (bind_fd < 0)
		die("cannot open %s: %s", p, strerror(errno));
	snprintf(p, sizeof(p), "%s/links", pins);
	mkdir(p, 0700);
	for (int i = 0; i < count; i++) {
		struct egress_binding b = { .policy = policy };
		char cg[4096], dir[4096];
		struct stat st;
		uint64_t t0 = now_ns();
		int cfd;

		snprintf(cg, sizeof(cg), "%s/c%05d", parent, i);
		if (mkdir(cg, 0755) && errno != EEXIST)
			die("mkdir %s: %s", cg, strerror(errno));
		cfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cfd < 0 || fstat(cfd, &st))
			die("open %s: %s", cg, strerror(errno));
		b.cgroup_id = st.st_ino;
		snprintf(dir, sizeof(dir), "%s/links/%llu", pins, (unsigned long long)st.st_ino);
		if (mkdir(dir, 0700) && errno != EEXIST)
			die("mkdir %s: %s", dir, strerror(errno));
		for (int h = 0; h < nprog; h++) {
			int l = bpf_link_create(prog[h], cfd, htype[h], NULL);

			if (l < 0)
				die("bpf_link_create %s: %s", cg, strerror(errno));
			snprintf(p, sizeof(p), "%s/%s", dir, pnames[h]);
			if (bpf_obj_pin(l, p))
				die("pin %s: %s", p, strerror(errno));
			close(l);
			if (h == 0 && bpf_map_update_elem(bind_fd, &b.cgroup_id, &b, BPF_EXIST))
				die("binding %s: %s", cg, strerror(errno));
		}
		close(cfd);
		printf("bind\t%d\t%.1f\n", i, (now_ns() - t0) / 1000.0);
	}
	fprintf(stderr, "egbench: bound %d cgroups in %.2f s\n", count, (now_ns() - t_all) / 1e9);
	return 0;
}

/* ---- visible: rule change -> next syscall ---------------------------------- */

static uint64_t run_cmd(const char *cmd, int *status)
{
	uint64_t t0 = now_ns();
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, status, 0);
	return now_ns() - t0;
}

/*
 * For each of REPS rounds and each (label, add, del) pair: run ADD (fork/exec),
 * then at once sendto on a socket of the bound cgroup until the verdict is the
 * new one (bounded); print the command's wall time and the time from its
 * return to the first sendto that saw the change; then the same for DEL.
 */
static int cmd_visible(int argc, char **argv)
{
	const char *netns = NULL, *home = NULL, *dst = NULL;
	const char *labels[4], *adds[4], *dels[4], *cgs[4];
	int npairs = 0, reps = 10, port = 40001;
	struct kind k = parse_kind("udp4");

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];

		if (!strcmp(o, "--netns"))
			netns = v;
		else if (!strcmp(o, "--home"))
			home = v;
		else if (!strcmp(o, "--dst"))
			dst = v;
		else if (!strcmp(o, "--reps"))
			reps = atoi(v);
		else if (!strcmp(o, "--pair") && npairs < 4) {
			/* label|cgroup|add-cmd|del-cmd */
			char *s = strdup(v), *save;

			labels[npairs] = strtok_r(s, "|", &save);
			cgs[npairs] = strtok_r(NULL, "|", &save);
			adds[npairs] = strtok_r(NULL, "|", &save);
			dels[npairs] = strtok_r(NULL, "|", &save);
			if (!dels[npairs])
				die("bad --pair");
			npairs++;
		} else
			die("unknown option %s", o);
	}
	if (!home || !dst || !npairs)
		die("visible needs --home, --dst and --pair");
	enter_netns(netns);
	int fds[4];
	struct sockaddr_storage ss;
	socklen_t sl = mkaddr(&k, dst, port, &ss);
	char payload[8] = "x";

	for (int p = 0; p < npairs; p++) {
		join_cgroup(cgs[p]);
		fds[p] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		join_cgroup(home);
	}
	for (int r = 0; r < reps; r++) {
		for (int pi = 0; pi < npairs; pi++) {
			int p = (r & 1) ? npairs - 1 - pi : pi;

			for (int dir = 0; dir < 2; dir++) {
				const char *cmd = dir ? dels[p] : adds[p];
				bool want_denied = !dir;
				int st = 0, tries = 0;
				uint64_t wall = run_cmd(cmd, &st), t_ret = now_ns(), t_seen = 0;

				if (!WIFEXITED(st) || WEXITSTATUS(st))
					die("command failed: %s", cmd);
				for (tries = 0; tries < 2000000; tries++) {
					uint64_t t = now_ns();
					int rc = sendto(fds[p], payload, 1, 0, (struct sockaddr *)&ss, sl);
					bool denied = rc < 0 && errno == EPERM;

					if (denied == want_denied) {
						t_seen = t;
						break;
					}
				}
				printf("visible\t%s\t%d\t%s\t%.1f\t%.3f\t%d\n", labels[p], r, dir ? "remove" : "add",
				       wall / 1000.0, t_seen ? ((double)t_seen - (double)t_ret) / 1000.0 : -1.0,
				       tries);
				fflush(stdout);
			}
		}
	}
	return 0;
}

/* ---- flood ------------------------------------------------------------------ */

static void proc_cpu_mem(pid_t pid, uint64_t *ticks, uint64_t *rss_kb, uint64_t *hwm_kb)
{
	char p[64], buf[4096];
	FILE *f;

	*ticks = *rss_kb = *hwm_kb = 0;
	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	f = fopen(p, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f)) {
			char *s = strrchr(buf, ')');
			unsigned long ut = 0, stt = 0;

			/* fields after ") ": state(3) ... utime(14) stime(15) */
			if (s && sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) == 2)
				*ticks = ut + stt;
		}
		fclose(f);
	}
	snprintf(p, sizeof(p), "/proc/%d/status", pid);
	f = fopen(p, "re");
	if (f) {
		while (fgets(buf, sizeof(buf), f)) {
			unsigned long long v;

			if (sscanf(buf, "VmRSS: %llu", &v) == 1)
				*rss_kb = v;
			if (sscanf(buf, "VmHWM: %llu", &v) == 1)
				*hwm_kb = v;
		}
		fclose(f);
	}
}

static uint64_t read_count(const char *file)
{
	unsigned long long v = 0;
	FILE *f = fopen(file, "re");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/*
 * One arm: sendto in a loop for SECONDS on a socket of CG to DST; prints the
 * calls, EPERMs, rate, and what the watched egressd did meanwhile (CPU ticks,
 * RSS) and the lines counted from its stdout (after a settle of up to 2 s).
 */
static int cmd_flood(int argc, char **argv)
{
	const char *netns = NULL, *home = NULL, *cg = NULL, *dst = NULL, *label = "flood";
	const char *countfile = NULL;
	double seconds = 1.0;
	pid_t watch = 0;
	int port = 40002;
	struct kind k = parse_kind("udp4");

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];

		if (!strcmp(o, "--netns"))
			netns = v;
		else if (!strcmp(o, "--home"))
			home = v;
		else if (!strcmp(o, "--cg"))
			cg = v;
		else if (!strcmp(o, "--dst"))
			dst = v;
		else if (!strcmp(o, "--label"))
			label = v;
		else if (!strcmp(o, "--seconds"))
			seconds = atof(v);
		else if (!strcmp(o, "--watch"))
			watch = atoi(v);
		else if (!strcmp(o, "--count-file"))
			countfile = v;
		else if (!strcmp(o, "--port"))
			port = atoi(v);
		else
			die("unknown option %s", o);
	}
	if (!home || !cg || !dst)
		die("flood needs --home, --cg, --dst");
	enter_netns(netns);
	struct sockaddr_storage ss;
	socklen_t sl = mkaddr(&k, dst, port, &ss);
	char payload[16] = "flood";
	uint64_t calls = 0, eperm = 0, other = 0, t0, t1, tend;
	uint64_t cpu0 = 0, cpu1 = 0, rss0 = 0, rss1 = 0, hwm0 = 0, hwm1 = 0, ev0 = 0, ev1 = 0;
	long hz = sysconf(_SC_CLK_TCK);
	int fd;

	join_cgroup(home);
	{
		/* a receiver (default buffer: it fills, then the kernel drops) */
		int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

		setsockopt(rx, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(rx, (struct sockaddr *)&ss, sl) && errno != EADDRINUSE)
			die("bind receiver: %s", strerror(errno));
	}
	join_cgroup(cg);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	join_cgroup(home);
	if (watch)
		proc_cpu_mem(watch, &cpu0, &rss0, &hwm0);
	if (countfile)
		ev0 = read_count(countfile);
	t0 = now_ns();
	tend = t0 + (uint64_t)(seconds * 1e9);
	for (;;) {
		for (int i = 0; i < 256; i++) {
			if (sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&ss, sl) >= 0)
				;
			else if (errno == EPERM)
				eperm++;
			else
				other++;
		}
		calls += 256;
		if (now_ns() >= tend)
			break;
	}
	t1 = now_ns();
	/* let egressd drain what the ring buffer holds: until the count stops moving */
	if (countfile) {
		uint64_t last = read_count(countfile);

		for (int i = 0; i < 20; i++) {
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			uint64_t c;

			nanosleep(&ts, NULL);
			c = read_count(countfile);
			if (c == last && i >= 2)
				break;
			last = c;
		}
		ev1 = last;
	}
	if (watch)
		proc_cpu_mem(watch, &cpu1, &rss1, &hwm1);
	double secs = (t1 - t0) / 1e9, window = (now_ns() - t0) / 1e9;
	/* egressd CPU: seconds used over the flood and its drain, / that window */
	printf("flood\t%s\t%llu\t%llu\t%llu\t%.4f\t%.0f\t%.4f\t%.3f\t%llu\t%llu\t%llu\t%llu\n", label,
	       (unsigned long long)calls, (unsigned long long)eperm, (unsigned long long)other, secs,
	       calls / secs, watch ? (double)(cpu1 - cpu0) / hz / window : -1.0, window,
	       (unsigned long long)(ev1 - ev0), (unsigned long long)rss0, (unsigned long long)rss1,
	       (unsigned long long)hwm1);
	return 0;
}

/* ---- count ------------------------------------------------------------------- */

static void count_write(const char *file, uint64_t n)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%llu\n", (unsigned long long)n);
	fclose(f);
	rename(tmp, file);
}

static int cmd_count(int argc, char **argv)
{
	static char buf[1 << 16];
	uint64_t n = 0, written = 0, last_write = 0;

	if (argc != 2)
		die("usage: count FILE");
	count_write(argv[1], 0);
	for (;;) {
		struct pollfd pfd = { .fd = 0, .events = POLLIN };
		int pr = poll(&pfd, 1, 20);
		uint64_t t = now_ns();

		if (pr > 0) {
			ssize_t r = read(0, buf, sizeof(buf));

			if (r <= 0)
				break;
			for (char *p = buf; (p = memchr(p, '\n', buf + r - p)); p++)
				n++;
		}
		if (n != written && (pr == 0 || t - last_write > 20 * 1000 * 1000)) {
			count_write(argv[1], n);
			written = n;
			last_write = t;
		}
	}
	count_write(argv[1], n);
	return 0;
}

/*
 * attachnoop OBJ CGROUP PINDIR: loads noop.bpf.o, links its four programs to
 * CGROUP and pins programs (PINDIR/progs/<hook>, for the stats) and links
 * (PINDIR/links/<hook>) so that they outlive this process.
 */
static int cmd_attachnoop(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	char p[4096];
	int cfd;

	if (argc != 4)
		die("usage: attachnoop OBJ CGROUP PINDIR");
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj))
		die("cannot load %s", argv[1]);
	cfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		die("open %s: %s", argv[2], strerror(errno));
	snprintf(p, sizeof(p), "%s/progs", argv[3]);
	mkdir(argv[3], 0700);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/links", argv[3]);
	mkdir(p, 0700);
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog) + 5;	/* "noop_" */
		int h, l;

		for (h = 0; h < NHOOKS; h++)
			if (!strcmp(hooks[h].name, name))
				break;
		if (h == NHOOKS)
			die("unknown program %s", bpf_program__name(prog));
		l = bpf_link_create(bpf_program__fd(prog), cfd, hooks[h].type, NULL);
		if (l < 0)
			die("link %s: %s", name, strerror(errno));
		snprintf(p, sizeof(p), "%s/links/%s", argv[3], name);
		if (bpf_obj_pin(l, p))
			die("pin %s: %s", p, strerror(errno));
		snprintf(p, sizeof(p), "%s/progs/%s", argv[3], name);
		if (bpf_obj_pin(bpf_program__fd(prog), p))
			die("pin %s: %s", p, strerror(errno));
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: egbench overhead|bindmany|visible|flood|count ...");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "overhead"))
		return cmd_overhead(argc - 1, argv + 1);
	if (!strcmp(argv[1], "bindmany"))
		return cmd_bindmany(argc - 1, argv + 1);
	if (!strcmp(argv[1], "visible"))
		return cmd_visible(argc - 1, argv + 1);
	if (!strcmp(argv[1], "flood"))
		return cmd_flood(argc - 1, argv + 1);
	if (!strcmp(argv[1], "attachnoop"))
		return cmd_attachnoop(argc - 1, argv + 1);
	if (!strcmp(argv[1], "count"))
		return cmd_count(argc - 1, argv + 1);
	die("unknown command %s", argv[1]);
}

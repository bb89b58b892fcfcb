// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * metrics.c - the Prometheus text format, computed at each scrape from the
 * pinned maps (so counters survive egressd restarts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <microhttpd.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "events.h"
#include "hits.h"
#include "metrics.h"
#include "policyset.h"

#ifndef EGRESS_VERSION
#define EGRESS_VERSION "dev"
#endif

/*
 * Slowloris: a client that opens connections and never finishes a request
 * must not lock scrapers out.  MHD's own limit refuses newcomers when full,
 * so egress keeps its own, lower one: when more than METRICS_CONNS
 * connections are open, the oldest is shut down (a scraper sends its
 * request at once, so it is never the oldest for long).  Every callback runs
 * in MHD's one epoll thread: the list needs no lock, and a listed socket is
 * open.  Idle connections also time out after METRICS_IDLE_S seconds.
 */
#define METRICS_CONNS 64
#define METRICS_IDLE_S 5

struct conn {
	struct conn *next, *prev;
	int fd;
};

struct metrics {
	struct MHD_Daemon *d;
	struct egress_state *st;
	unsigned int cgroup_limit;
	struct conn *newest, *oldest;
	unsigned int nconns;
	pthread_mutex_t lock;	/* health */
	char problem[256];	/* why /healthz fails, "" when healthy */
};

static void conn_unlink(struct metrics *m, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		m->newest = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		m->oldest = c->prev;
	c->next = c->prev = NULL;
	m->nconns--;
}

static void on_conn(void *cls, struct MHD_Connection *conn, void **ctx,
		    enum MHD_ConnectionNotificationCode code)
{
	struct metrics *m = cls;
	struct conn *c = *ctx;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (c && (c->prev || c->next || m->newest == c))
			conn_unlink(m, c);
		free(c);
		*ctx = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	c = calloc(1, sizeof(*c));
	if (!c || !ci)
		return;	/* untracked: MHD's own limit and timeout still hold */
	c->fd = ci->connect_fd;
	*ctx = c;
	c->next = m->newest;
	if (m->newest)
		m->newest->prev = c;
	else
		m->oldest = c;
	m->newest = c;
	m->nconns++;
	while (m->nconns > METRICS_CONNS) {
		struct conn *old = m->oldest;

		conn_unlink(m, old);	/* MHD closes it on its next read */
		shutdown(old->fd, SHUT_RDWR);
	}
}

void metrics_set_health(struct metrics *m, const char *problem)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	snprintf(m->problem, sizeof(m->problem), "%s", problem ? problem : "");
	pthread_mutex_unlock(&m->lock);
}

/*
 * A label value, escaped as the exposition format wants.  Cgroup names are
 * the sandbox's: first made valid UTF-8 without control characters (as in
 * events), so that one name cannot make the whole exposition invalid.
 */
static void label(FILE *out, const char *s)
{
	char safe[PATH_MAX * 4 + 1];

	untrusted_str(s, PATH_MAX, safe, sizeof(safe));
	fputc('"', out);
	for (const char *p = safe; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(out, "\\%c", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The policy set in force (policyset.c pins its status). */
static void policy_set_metrics(FILE *out, struct egress_state *st)
{
	json_t *o = policyset_status(st), *e;
	const char *src;
	size_t i;

	if (!o)
		return;
	src = json_string_value(json_object_get(o, "source")) ?: "";
	family(out, "egress_policy_set_info", "gauge", "The policy set in force: its source and digest.");
	if (json_is_string(json_object_get(o, "digest"))) {
		fputs("egress_policy_set_info{source=", out);
		label(out, src);
		fputs(",digest=", out);
		label(out, json_string_value(json_object_get(o, "digest")));
		fputs("} 1\n", out);
	}
	family(out, "egress_policy_set_applied_timestamp_seconds", "gauge",
	       "When the policy set in force was applied (Unix time).");
	if (json_is_number(json_object_get(o, "applied_timestamp"))) {
		fputs("egress_policy_set_applied_timestamp_seconds{source=", out);
		label(out, src);
		fprintf(out, "} %.3f\n", json_number_value(json_object_get(o, "applied_timestamp")));
	}
	family(out, "egress_policy_set_errors_total", "counter",
	       "Policy sets refused (a bad file or value): the last good set stayed in force.");
	fputs("egress_policy_set_errors_total{source=", out);
	label(out, src);
	fprintf(out, "} %lld\n", (long long)json_integer_value(json_object_get(o, "errors_total")));
	family(out, "egress_policy_set_retained", "gauge",
	       "Policies that left the set but stay because cgroups are bound to them.");
	json_array_foreach(json_object_get(o, "retained"), i, e) {
		fputs("egress_policy_set_retained{source=", out);
		label(out, src);
		fputs(",policy=", out);
		label(out, json_string_value(e) ?: "");
		fputs("} 1\n", out);
	}
	json_decref(o);
}

/*
 * One scrape: the snapshot (each map read once) and where it goes.  Each
 * metric family is one function below, written in the order of families[].
 */
struct scrape {
	FILE *out;
	struct egress_state *st;
	const struct state_snapshot *s;
	unsigned int cgroup_limit;
};

/* NAME{policy="P"<rest>} VALUE */
static void policy_series(FILE *out, const char *name, const char *policy, const char *rest,
			  unsigned long long value)
{
	fprintf(out, "%s{policy=", name);
	label(out, policy);
	fprintf(out, "%s} %llu\n", rest, value);
}

/* egress_denied_total, egress_allowed_total, egress_audited_total: by policy and hook */
static void fam_decisions(const struct scrape *sc)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} fams[] = {
		{ "egress_denied_total", "Connections and datagrams denied, by policy and hook.",
		  offsetof(struct egress_counter, denied) },
		{ "egress_allowed_total", "Connections and datagrams allowed, by policy and hook.",
		  offsetof(struct egress_counter, allowed) },
		{ "egress_audited_total",
		  "Decisions an audit-mode policy would have denied (allowed), by policy and hook.",
		  offsetof(struct egress_counter, audited) },
	};

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		family(sc->out, fams[f].name, "counter", fams[f].help);
		for (size_t i = 0; i < sc->s->npol; i++) {
			const struct policy_counts *p = &sc->s->pol[i];

			for (int h = 0; h < EGRESS_NHOOKS; h++) {
				char rest[64];
				uint64_t v;

				memcpy(&v, (const char *)&p->hook[h] + fams[f].off, sizeof(v));
				snprintf(rest, sizeof(rest), ",hook=\"%s\"", egress_hooks[h].name);
				policy_series(sc->out, fams[f].name, p->name, rest, v);
			}
		}
	}
}

static void fam_events(const struct scrape *sc)
{
	family(sc->out, "egress_events_dropped_total", "counter",
	       "Denial events lost because the ring buffer was full.");
	fprintf(sc->out, "egress_events_dropped_total %llu\n",
		(unsigned long long)sc->s->stat[EGRESS_STAT_RB_DROPS]);
	family(sc->out, "egress_broken_denials_total", "counter",
	       "Denials (audits, in audit mode) because a policy's maps had no entry or slot list for "
	       "the destination (tampered or corrupt maps: apply the policies again).");
	fprintf(sc->out, "egress_broken_denials_total %llu\n",
		(unsigned long long)sc->s->stat[EGRESS_STAT_BROKEN]);
	family(sc->out, "egress_events_delivered_total", "counter", "Denial events read by egressd.");
	fprintf(sc->out, "egress_events_delivered_total %llu\n",
		(unsigned long long)sc->s->stat[EGRESS_STAT_DELIVERED]);
	family(sc->out, "egress_events_suppressed_total", "counter",
	       "Denial events not sent because of the per-cgroup rate limit, by policy.");
	for (size_t i = 0; i < sc->s->npol; i++) {
		const struct policy_counts *p = &sc->s->pol[i];
		unsigned long long sup = 0;

		for (int h = 0; h < EGRESS_NHOOKS; h++)
			sup += p->hook[h].suppressed;
		policy_series(sc->out, "egress_events_suppressed_total", p->name, "", sup);
	}
}

static void fam_rules(const struct scrape *sc)
{
	family(sc->out, "egress_rules", "gauge", "Rules, by policy and action.");
	for (size_t i = 0; i < sc->s->npol; i++) {
		const struct policy_counts *p = &sc->s->pol[i];

		if (!p->has_info)
			continue;
		policy_series(sc->out, "egress_rules", p->name, ",action=\"allow\"", p->info.nallow);
		policy_series(sc->out, "egress_rules", p->name, ",action=\"deny\"", p->info.ndeny);
	}
}

/* egress_rule_hits_total: the busiest --metrics-rule-limit rules (hits.c) */
static void fam_rule_hits(const struct scrape *sc)
{
	static const char *const verdicts[] = { "allowed", "denied", "audited" };
	struct hits_row *hr = NULL;
	size_t nh = 0;

	family(sc->out, "egress_rule_hits_total", "counter",
	       "Decisions of a rule (as written, or default), by verdict, for the busiest rules.");
	hits_top(sc->st, hits_metrics_limit, &hr, &nh);
	for (size_t i = 0; i < nh; i++) {
		uint64_t vals[] = { hr[i].h.allowed, hr[i].h.denied, hr[i].h.audited };

		for (int k = 0; k < 3; k++) {
			fputs("egress_rule_hits_total{policy=", sc->out);
			label(sc->out, hr[i].policy);
			fputs(",rule=", sc->out);
			label(sc->out, hr[i].rule);
			fprintf(sc->out, ",verdict=\"%s\"} %llu\n", verdicts[k], (unsigned long long)vals[k]);
		}
	}
	free(hr);
}

static void fam_bound(const struct scrape *sc)
{
	family(sc->out, "egress_bound_cgroups", "gauge", "Cgroups bound to each policy.");
	for (size_t i = 0; i < sc->s->npol; i++)
		policy_series(sc->out, "egress_bound_cgroups", sc->s->pol[i].name, "",
			      (unsigned long long)sc->s->pol[i].bound);
}

static void fam_lost(const struct scrape *sc)
{
	family(sc->out, "egress_bindings_lost", "gauge",
	       "Bound cgroups that were removed, by path; recreated=\"true\": the cgroup there now is not bound.");
	for (size_t i = 0; i < sc->s->nlost; i++) {
		const struct lost_ref *l = &sc->s->lost[i];

		fputs("egress_bindings_lost{policy=", sc->out);
		label(sc->out, l->policy);
		fputs(",cgroup=", sc->out);
		label(sc->out, l->path);
		fprintf(sc->out, ",recreated=\"%s\"} 1\n", l->recreated ? "true" : "false");
	}
}

static void fam_policy_set(const struct scrape *sc)
{
	policy_set_metrics(sc->out, sc->st);
}

static void fam_build_info(const struct scrape *sc)
{
	struct utsname un;

	family(sc->out, "egress_build_info", "gauge", "egress version, kernel and libbpf.");
	uname(&un);
	fprintf(sc->out, "egress_build_info{version=");
	label(sc->out, EGRESS_VERSION);
	fprintf(sc->out, ",kernel=");
	label(sc->out, un.release);
	fprintf(sc->out, ",libbpf=");
	label(sc->out, libbpf_version_string());
	fprintf(sc->out, "} 1\n");
}

/* the cgroups with the most denials, at most cgroup_limit of them */
static void fam_cgroup_denied(const struct scrape *sc)
{
	family(sc->out, "egress_cgroup_denied_total", "counter",
	       "Denials by cgroup and policy, for the cgroups with the most denials.");
	for (size_t i = 0, shown = 0; i < sc->s->ncg && shown < sc->cgroup_limit; i++) {
		const struct cg_denied_row *r = &sc->s->cg[i];
		char path[PATH_MAX];

		if (cg_path(r->key.cgroup_id, path, sizeof(path)))
			continue;	/* removed: its series disappears */
		fputs("egress_cgroup_denied_total{cgroup=", sc->out);
		label(sc->out, path);
		fputs(",policy=", sc->out);
		label(sc->out, snapshot_policy_name(sc->s, r->key.policy));
		fprintf(sc->out, "} %llu\n", (unsigned long long)r->denied);
		shown++;
	}
}

/* The families, in the order of the exposition. */
static void (*const families[])(const struct scrape *sc) = {
	fam_decisions, fam_events, fam_rules, fam_rule_hits, fam_bound, fam_lost, fam_policy_set, fam_build_info,
	fam_cgroup_denied,
};

void metrics_write(FILE *out, struct egress_state *st, unsigned int cgroup_limit)
{
	struct state_snapshot s;
	struct scrape sc = { .out = out, .st = st, .s = &s, .cgroup_limit = cgroup_limit };

	state_snapshot(st, &s);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		families[i](&sc);
	state_snapshot_free(&s);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, const char *type,
			     char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **req_cls)
{
	struct metrics *m = cls;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", strdup("GET only\n"), 9);
	if (!strcmp(url, "/healthz")) {
		char *msg = NULL;
		int len;

		pthread_mutex_lock(&m->lock);
		len = m->problem[0] ? asprintf(&msg, "not enforcing: %s\n", m->problem)
				    : asprintf(&msg, "ok\n");
		pthread_mutex_unlock(&m->lock);
		if (len < 0)
			return MHD_NO;
		return reply(conn, *msg == 'o' ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
			     "text/plain", msg, len);
	}
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", strdup("not found\n"), 10);
	f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	metrics_write(f, m->st, m->cgroup_limit);
	fclose(f);
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

int metrics_start(struct metrics **out, const char *addr, struct egress_state *st,
		  unsigned int cgroup_limit, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	char host[256];
	const char *colon = strrchr(addr, ':'), *h = host;
	struct addrinfo *ai = NULL;
	struct metrics *m;
	/* epoll: egressd's descriptors (followers) may pass FD_SETSIZE */
	unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	int ret;

	if (!colon || colon == addr || !colon[1] || (size_t)(colon - addr) >= sizeof(host)) {
		snprintf(err, errlen, "invalid --metrics-addr '%s': expected HOST:PORT or none", addr);
		return -EINVAL;
	}
	memcpy(host, addr, colon - addr);
	host[colon - addr] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		h = host + 1;
	}
	ret = getaddrinfo(h, colon + 1, &hints, &ai);
	if (ret) {
		snprintf(err, errlen, "invalid --metrics-addr '%s': %s", addr, gai_strerror(ret));
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		freeaddrinfo(ai);
		return -ENOMEM;
	}
	m->st = st;
	m->cgroup_limit = cgroup_limit;
	pthread_mutex_init(&m->lock, NULL);
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, m,
				MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				/* room for the ones shut down, until MHD reaps them */
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)(4 * METRICS_CONNS),
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_IDLE_S,
				MHD_OPTION_NOTIFY_CONNECTION, on_conn, m,
				MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!m->d) {
		snprintf(err, errlen, "cannot serve metrics on %s (address in use?)", addr);
		free(m);
		return -EADDRINUSE;
	}
	*out = m;
	return 0;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

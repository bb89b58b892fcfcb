// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* events.c - turns ring-buffer events into log lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "cgroup.h"
#include "events.h"
#include "parse.h"

static long long ns_of(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void event_ctx_clock(struct event_ctx *ctx)
{
	ctx->boot_to_real_ns = ns_of(CLOCK_REALTIME) - ns_of(CLOCK_BOOTTIME);
}

void event_ctx_init(struct event_ctx *ctx, struct egress_state *st)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->st = st;
	event_ctx_clock(ctx);
}

const char *hook_name(unsigned int hook)
{
	return hook < EGRESS_NHOOKS ? egress_hooks[hook].name : "unknown";
}

static const char *cgroup_of(struct event_ctx *ctx, unsigned long long id)
{
	unsigned int n = sizeof(ctx->cg_cache) / sizeof(ctx->cg_cache[0]), slot;

	for (unsigned int i = 0; i < n; i++)
		if (ctx->cg_cache[i].id == id)
			return ctx->cg_cache[i].path;
	slot = ctx->cg_next++ % n;
	ctx->cg_cache[slot].id = id;
	if (cg_path(id, ctx->cg_cache[slot].path, sizeof(ctx->cg_cache[slot].path)))
		ctx->cg_cache[slot].path[0] = '\0';	/* gone already */
	return ctx->cg_cache[slot].path;
}

static void rfc3339(long long ns, char *buf, size_t len)
{
	time_t s = ns / 1000000000LL;
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09lldZ", ns % 1000000000LL);
}

static void policy_name(struct event_ctx *ctx, unsigned int id, char *buf, size_t len)
{
	struct egress_policy_info info;

	if (!id || bpf_map_lookup_elem(ctx->st->map_fd[M_INFO], &id, &info))
		snprintf(buf, len, "%s", id ? "?" : "(none)");
	else
		snprintf(buf, len, "%.*s", EGRESS_NAME_MAX - 1, info.name);
}

/* The rule that decided, as "CIDR[ proto][ port]", or "default". */
static void rule_str(const struct egress_event *e, char *buf, size_t len)
{
	struct cidr c = { .family = e->family, .plen = e->rule_plen };
	char cs[CIDR_STR_LEN], ps[PORTS_STR_LEN];
	int n;

	if (e->rule_plen == EGRESS_RULE_DEFAULT) {
		snprintf(buf, len, "default");
		return;
	}
	memcpy(c.addr, e->addr, sizeof(c.addr));
	mask_addr(c.addr, e->family == EGRESS_FAM_V4 ? 32 : 128, c.plen);
	format_cidr(&c, cs, sizeof(cs));
	n = snprintf(buf, len, "%s", cs);
	if (e->rule_proto && proto_name(e->rule_proto))
		n += snprintf(buf + n, len - n, " %s", proto_name(e->rule_proto));
	if (e->rule_port_lo != 0 || e->rule_port_hi != 65535) {
		format_ports(e->rule_port_lo, e->rule_port_hi, ps, sizeof(ps));
		snprintf(buf + n, len - n, " port %s", ps);
	}
}

void event_print(struct event_ctx *ctx, const struct egress_event *e, enum log_format fmt, FILE *out)
{
	char ts[64], dst[64], pol[EGRESS_NAME_MAX], rule[96], comm[17], protobuf[8];
	const char *proto = proto_name(e->proto), *errname = errno_name(e->err);
	const char *cg = cgroup_of(ctx, e->cgroup_id);

	rfc3339(e->ts_boot_ns + ctx->boot_to_real_ns, ts, sizeof(ts));
	format_addr(e->family, e->addr, dst, sizeof(dst));
	policy_name(ctx, e->policy, pol, sizeof(pol));
	rule_str(e, rule, sizeof(rule));
	memcpy(comm, e->comm, 16);
	comm[16] = '\0';
	if (!proto || !e->proto) {
		snprintf(protobuf, sizeof(protobuf), "%u", e->proto);
		proto = protobuf;
	}

	if (fmt == LOG_TEXT) {
		fprintf(out, "%s DENY %s %s %s:%u policy=%s rule=\"%s\" errno=%s comm=%s pid=%u tgid=%u "
			"uid=%u cgroup=%s suppressed=%u\n", ts, hook_name(e->hook), proto, dst, e->dport,
			pol, rule, errname ? errname : "?", comm, e->pid, e->tgid, e->uid,
			*cg ? cg : "?", e->suppressed);
	} else {
		json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:s, s:i, s:s, s:s, s:s, s:s, "
				      "s:i, s:s, s:s, s:s, s:i, s:i}",
				      "ts", ts, "cgroup", cg, "cgroup_id", (json_int_t)e->cgroup_id,
				      "bound_cgroup_id", (json_int_t)e->bound_cgroup_id,
				      "pid", (int)e->pid, "tgid", (int)e->tgid, "comm", comm,
				      "uid", (int)e->uid, "hook", hook_name(e->hook),
				      "family", e->family == EGRESS_FAM_V4 ? "ipv4" : "ipv6",
				      "proto", proto, "dst", dst, "dport", (int)e->dport,
				      "policy", pol, "rule", rule, "errno", errname ? errname : "?",
				      "errno_value", (int)e->err, "suppressed", (int)e->suppressed);

		if (o) {
			char *s = json_dumps(o, JSON_COMPACT);

			if (s) {
				fprintf(out, "%s\n", s);
				free(s);
			}
			json_decref(o);
		}
	}
	fflush(out);
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* events.c - turns ring-buffer events into JSON objects and lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	if (hook == EGRESS_HOOK_REVOKE)
		return "revoke";	/* not an attached hook: user/revoke.c cuts connections */
	return hook < EGRESS_NHOOKS ? egress_hooks[hook].name : "unknown";
}

int parse_log_format(const char *s, enum log_format *out)
{
	if (!strcmp(s, "json"))
		*out = LOG_JSON;
	else if (!strcmp(s, "text"))
		*out = LOG_TEXT;
	else if (!strcmp(s, "hint"))
		*out = LOG_HINT;
	else
		return -1;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned int c = s[0], need, cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		need = 2, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < need + 1)
		return 0;
	for (unsigned int i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

void untrusted_str(const char *in, size_t inlen, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, n = strnlen(in, inlen);

	if (!outlen)
		return;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_len(s + i, n - i), el;
		char esc[8];

		if (l == 1 && s[i] >= 0x20 && s[i] != 0x7f && s[i] != '\\') {
			esc[0] = s[i];
			el = 1;
		} else if (l == 1 && s[i] == '\\') {
			memcpy(esc, "\\\\", 2);
			el = 2;
		} else if (l > 1 && !(l == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)) {
			memcpy(esc, s + i, l);	/* valid, and not a C1 control */
			el = l;
		} else {
			l = 1;
			el = snprintf(esc, sizeof(esc), "\\x%02x", s[i]);
		}
		if (o + el >= outlen)
			break;
		memcpy(out + o, esc, el);
		o += el;
		i += l;
	}
	out[o] = '\0';
}

static const char *cgroup_of(struct event_ctx *ctx, unsigned long long id)
{
	unsigned int n = sizeof(ctx->cg_cache) / sizeof(ctx->cg_cache[0]), slot;

	for (unsigned int i = 0; i < n; i++)
		if (ctx->cg_cache[i].id == id && ctx->cg_cache[i].path[0])
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

/* The rule that decided, as "CIDR[ proto][ port N]", or "default". */
static void rule_str(const struct egress_event *e, char *buf, size_t len)
{
	struct cidr c = { .family = e->family, .plen = e->rule_plen };
	char cs[CIDR_STR_LEN], ps[PORTS_STR_LEN];
	int n;

	if (e->rule_plen == EGRESS_RULE_DEFAULT) {
		snprintf(buf, len, "default");
		return;
	}
	if (e->rule_plen == EGRESS_RULE_SOCKET) {
		snprintf(buf, len, "socket type");
		return;
	}
	if (e->rule_plen == EGRESS_RULE_SOCKOPT) {
		snprintf(buf, len, "%s", e->family == EGRESS_FAM_V6 ? "IPV6_RTHDR (routing header)"
								  : "IP_OPTIONS (source route)");
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

struct hint_vals {
	const char *dst, *proto, *policy, *comm;
	char dport[8], pid[16];
};

static const char *hint_lookup(const char *name, void *ctx)
{
	struct hint_vals *v = ctx;

	if (!strcmp(name, "dst"))
		return v->dst;
	if (!strcmp(name, "dport"))
		return v->dport;
	if (!strcmp(name, "proto"))
		return v->proto;
	if (!strcmp(name, "policy"))
		return v->policy;
	if (!strcmp(name, "comm"))
		return v->comm;
	if (!strcmp(name, "pid"))
		return v->pid;
	return NULL;
}

json_t *event_json(struct event_ctx *ctx, const struct egress_event *e)
{
	char ts[64], dst[64], rule[96], comm[16 * 4 + 1], protobuf[8], hint[EGRESS_HINT_MAX + 256];
	char cgroup[PATH_MAX * 4 + 1];
	const char *proto = ip_proto_name(e->proto), *errname = errno_name(e->err), *pol = "(none)";
	const char *tmpl = DEFAULT_HINT;
	struct egress_policy_info info = {};
	struct hint_vals hv;

	rfc3339(e->ts_boot_ns + ctx->boot_to_real_ns, ts, sizeof(ts));
	format_addr(e->family, e->addr, dst, sizeof(dst));
	if (e->policy && !state_policy_info(ctx->st, e->policy, &info)) {
		info.name[EGRESS_NAME_MAX - 1] = '\0';
		info.hint[EGRESS_HINT_MAX - 1] = '\0';
		pol = info.name;
	}
	rule_str(e, rule, sizeof(rule));
	/* what the sandbox controls: its comm and its cgroups' names */
	untrusted_str(e->comm, sizeof(e->comm), comm, sizeof(comm));
	untrusted_str(cgroup_of(ctx, e->cgroup_id), PATH_MAX, cgroup, sizeof(cgroup));
	if (!proto) {
		snprintf(protobuf, sizeof(protobuf), "%u", e->proto);
		proto = protobuf;
	}
	if (e->hook == EGRESS_HOOK_SOCK_CREATE) {
		dst[0] = '\0';
		tmpl = "A {proto} socket was refused by the platform firewall (policy {policy}).";
	} else if (e->hook == EGRESS_HOOK_SETSOCKOPT) {
		dst[0] = '\0';
		tmpl = "Source routing was refused by the platform firewall (policy {policy}).";
	} else if (e->hook == EGRESS_HOOK_REVOKE) {
		errname = "ECONNABORTED";	/* what the process sees; not a policy errno */
		tmpl = "Connection to {dst}:{dport} ({proto}) was cut by the platform firewall after a "
		       "policy change (policy {policy}).";
	} else if (info.hint[0]) {
		tmpl = info.hint;
	}
	hv = (struct hint_vals){ .dst = dst, .proto = proto, .policy = pol, .comm = comm };
	snprintf(hv.dport, sizeof(hv.dport), "%u", e->dport);
	snprintf(hv.pid, sizeof(hv.pid), "%u", e->tgid);
	hint_fill(tmpl, hint_lookup, &hv, hint, sizeof(hint));

	return json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:s, s:i, s:s, s:s, s:s, s:s, "
			 "s:i, s:s, s:s, s:s, s:i, s:i, s:s, s:s}",
			 "ts", ts, "cgroup", cgroup,
			 "cgroup_id", (json_int_t)e->cgroup_id,
			 "bound_cgroup_id", (json_int_t)e->bound_cgroup_id,
			 "pid", (int)e->pid, "tgid", (int)e->tgid, "comm", comm,
			 "uid", (int)e->uid, "hook", hook_name(e->hook),
			 "family", e->family == EGRESS_FAM_V4 ? "ipv4" : "ipv6",
			 "proto", proto, "dst", dst, "dport", (int)e->dport,
			 "policy", pol, "rule", rule, "errno", errname ? errname : "?",
			 "errno_value", (int)e->err, "suppressed", (int)e->suppressed, "hint", hint,
			 "verdict", e->verdict == EGRESS_VERDICT_AUDIT ? "audit" : "deny");
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "?";
}

static long long num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

void event_print(json_t *ev, enum log_format fmt, FILE *out)
{
	if (fmt == LOG_JSON) {
		char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);

		if (s)
			fprintf(out, "%s\n", s);
		free(s);
	} else if (fmt == LOG_HINT) {
		/* audit: nothing was blocked, nothing to tell the sandbox's user */
		if (strcmp(str(ev, "verdict"), "audit"))
			fprintf(out, "%s\n", str(ev, "hint"));
	} else {
		const char *dst = str(ev, "dst");
		bool v6 = strchr(dst, ':') != NULL;
		char cg[PATH_MAX * 4 + 32];

		/* a removed cgroup by its id; paths came through untrusted_str */
		if (*str(ev, "cgroup"))
			snprintf(cg, sizeof(cg), "%s", str(ev, "cgroup"));
		else
			snprintf(cg, sizeof(cg), "id:%lld", num(ev, "cgroup_id"));

		fprintf(out, "%s %s %s %s %s%s%s:%lld policy=%s rule=\"%s\" errno=%s comm=%s pid=%lld "
			"tgid=%lld uid=%lld cgroup=%s suppressed=%lld\n", str(ev, "ts"),
			strcmp(str(ev, "verdict"), "audit") ? "DENY" : "AUDIT", str(ev, "hook"),
			str(ev, "proto"), v6 ? "[" : "", dst, v6 ? "]" : "", num(ev, "dport"),
			str(ev, "policy"), str(ev, "rule"), str(ev, "errno"), str(ev, "comm"),
			num(ev, "pid"), num(ev, "tgid"), num(ev, "uid"), cg, num(ev, "suppressed"));
	}
	fflush(out);
}

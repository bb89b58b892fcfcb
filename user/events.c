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
	if (e->rule_plen == EGRESS_RULE_BROKEN) {
		snprintf(buf, len, "broken policy maps");
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

/*
 * The event's detail: the option a setsockopt denial refused, by name
 * ("IPV6_RTHDR"), or its numbers when egress does not know it; "" for
 * every other hook.
 */
static void detail_str(const struct egress_event *e, char *buf, size_t len)
{
	unsigned int level = e->detail.sockopt.level, opt = e->detail.sockopt.optname;
	const char *name = NULL;

	buf[0] = '\0';
	if (e->hook != EGRESS_HOOK_SETSOCKOPT)
		return;
	if (level == 0 && opt == 4)
		name = "IP_OPTIONS";
	else if (level == 41 && opt == 57)
		name = "IPV6_RTHDR";
	else if (level == 41 && opt == 5)
		name = "IPV6_2292RTHDR";
	else if (level == 41 && opt == 6)
		name = "IPV6_2292PKTOPTIONS";
	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "level %u optname %u", level, opt);
}

void event_fields(struct event_ctx *ctx, const struct egress_event *e, struct event_fields *f)
{
	const char *proto = ip_proto_name(e->proto), *errname = errno_name(e->err), *pol = "(none)";
	const char *tmpl = DEFAULT_HINT;
	struct egress_policy_info info = {};
	struct hint_vals hv;

	memset(f, 0, sizeof(*f));
	rfc3339(e->ts_boot_ns + ctx->boot_to_real_ns, f->ts, sizeof(f->ts));
	format_addr(e->family, e->addr, f->dst, sizeof(f->dst));
	if (e->policy && !state_policy_info(ctx->st, e->policy, &info)) {
		info.name[EGRESS_NAME_MAX - 1] = '\0';
		info.hint[EGRESS_HINT_MAX - 1] = '\0';
		pol = info.name;
	}
	snprintf(f->policy, sizeof(f->policy), "%s", pol);
	rule_str(e, f->rule, sizeof(f->rule));
	/* what the sandbox controls: its comm and its cgroups' names */
	untrusted_str(e->comm, sizeof(e->comm), f->comm, sizeof(f->comm));
	untrusted_str(cgroup_of(ctx, e->cgroup_id), PATH_MAX, f->cgroup, sizeof(f->cgroup));
	if (proto)
		snprintf(f->proto, sizeof(f->proto), "%s", proto);
	else
		snprintf(f->proto, sizeof(f->proto), "%u", e->proto);
	if (e->hook == EGRESS_HOOK_SOCK_CREATE) {
		f->dst[0] = '\0';
		tmpl = "A {proto} socket was refused by the platform firewall (policy {policy}).";
	} else if (e->hook == EGRESS_HOOK_SETSOCKOPT) {
		f->dst[0] = '\0';
		tmpl = "Source routing was refused by the platform firewall (policy {policy}).";
	} else if (e->hook == EGRESS_HOOK_REVOKE) {
		errname = "ECONNABORTED";	/* what the process sees; not a policy errno */
		tmpl = "Connection to {dst}:{dport} ({proto}) was cut by the platform firewall after a "
		       "policy change (policy {policy}).";
	} else if (info.hint[0]) {
		tmpl = info.hint;
	}
	snprintf(f->errname, sizeof(f->errname), "%s", errname ? errname : "?");
	snprintf(f->hook, sizeof(f->hook), "%s", hook_name(e->hook));
	hv = (struct hint_vals){ .dst = f->dst, .proto = f->proto, .policy = f->policy, .comm = f->comm };
	snprintf(hv.dport, sizeof(hv.dport), "%u", e->dport);
	snprintf(hv.pid, sizeof(hv.pid), "%u", e->tgid);
	hint_fill(tmpl, hint_lookup, &hv, f->hint, sizeof(f->hint));
	f->cgroup_id = e->cgroup_id;
	f->bound_cgroup_id = e->bound_cgroup_id;
	f->pid = e->pid;
	f->tgid = e->tgid;
	f->uid = e->uid;
	f->v6 = e->family != EGRESS_FAM_V4;
	f->dport = e->dport;
	f->errno_value = e->err;
	f->suppressed = e->suppressed;
	f->audit = e->verdict == EGRESS_VERDICT_AUDIT;
	detail_str(e, f->detail, sizeof(f->detail));
}

json_t *event_fields_json(const struct event_fields *f)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:s, s:i, s:s, s:s, s:s, s:s, "
			 "s:i, s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s*}",
			 "ts", f->ts, "cgroup", f->cgroup,
			 "cgroup_id", (json_int_t)f->cgroup_id,
			 "bound_cgroup_id", (json_int_t)f->bound_cgroup_id,
			 "pid", (int)f->pid, "tgid", (int)f->tgid, "comm", f->comm,
			 "uid", (int)f->uid, "hook", f->hook, "family", f->v6 ? "ipv6" : "ipv4",
			 "proto", f->proto, "dst", f->dst, "dport", (int)f->dport,
			 "policy", f->policy, "rule", f->rule, "errno", f->errname,
			 "errno_value", (int)f->errno_value, "suppressed", (int)f->suppressed,
			 "hint", f->hint, "verdict", f->audit ? "audit" : "deny",
			 "detail", f->detail[0] ? f->detail : NULL);
}

char *event_fields_line(const struct event_fields *f)
{
	json_t *j = event_fields_json(f);
	char *line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(j);
	return line;
}

json_t *event_json(struct event_ctx *ctx, const struct egress_event *e)
{
	struct event_fields f;

	event_fields(ctx, e, &f);
	return event_fields_json(&f);
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

/* A follower's line back into fields (egressctl events): what is missing reads "?" or 0. */
static void fields_of_json(json_t *ev, struct event_fields *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->ts, sizeof(f->ts), "%s", str(ev, "ts"));
	snprintf(f->cgroup, sizeof(f->cgroup), "%s", str(ev, "cgroup"));
	f->cgroup_id = num(ev, "cgroup_id");
	f->bound_cgroup_id = num(ev, "bound_cgroup_id");
	f->pid = num(ev, "pid");
	f->tgid = num(ev, "tgid");
	snprintf(f->comm, sizeof(f->comm), "%s", str(ev, "comm"));
	f->uid = num(ev, "uid");
	snprintf(f->hook, sizeof(f->hook), "%s", str(ev, "hook"));
	f->v6 = !strcmp(str(ev, "family"), "ipv6");
	snprintf(f->proto, sizeof(f->proto), "%s", str(ev, "proto"));
	snprintf(f->dst, sizeof(f->dst), "%s", str(ev, "dst"));
	f->dport = num(ev, "dport");
	snprintf(f->policy, sizeof(f->policy), "%s", str(ev, "policy"));
	snprintf(f->rule, sizeof(f->rule), "%s", str(ev, "rule"));
	snprintf(f->errname, sizeof(f->errname), "%s", str(ev, "errno"));
	f->errno_value = num(ev, "errno_value");
	f->suppressed = num(ev, "suppressed");
	snprintf(f->hint, sizeof(f->hint), "%s", str(ev, "hint"));
	f->audit = !strcmp(str(ev, "verdict"), "audit");
	if (json_object_get(ev, "detail"))
		snprintf(f->detail, sizeof(f->detail), "%s", str(ev, "detail"));
}

void event_write(const struct event_fields *f, enum log_format fmt, const char *line, FILE *out)
{
	if (fmt == LOG_JSON) {
		if (line)
			fprintf(out, "%s\n", line);
	} else if (fmt == LOG_HINT) {
		/* audit: nothing was blocked, nothing to tell the sandbox's user */
		if (!f->audit)
			fprintf(out, "%s\n", f->hint);
	} else {
		bool v6 = f->v6 && f->dst[0];	/* brackets around an address, not around nothing */
		char cg[PATH_MAX * 4 + 32];

		/* a removed cgroup by its id; paths came through untrusted_str */
		if (f->cgroup[0])
			snprintf(cg, sizeof(cg), "%s", f->cgroup);
		else
			snprintf(cg, sizeof(cg), "id:%lld", f->cgroup_id);

		fprintf(out, "%s %s %s %s %s%s%s:%lld policy=%s rule=\"%s\" errno=%s comm=%s pid=%lld "
			"tgid=%lld uid=%lld cgroup=%s suppressed=%lld%s%s\n", f->ts,
			f->audit ? "AUDIT" : "DENY", f->hook, f->proto, v6 ? "[" : "", f->dst,
			v6 ? "]" : "", f->dport, f->policy, f->rule, f->errname, f->comm, f->pid, f->tgid,
			f->uid, cg, f->suppressed, f->detail[0] ? " detail=" : "", f->detail);
	}
	fflush(out);
}

void event_print(json_t *ev, enum log_format fmt, FILE *out)
{
	struct event_fields f;
	char *line = NULL;

	if (fmt == LOG_JSON)
		line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	else
		fields_of_json(ev, &f);
	event_write(&f, fmt, line, out);
	free(line);
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* advise.c - the policy file of 'egressctl advise' (see advise.h). */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "advise.h"
#include "cmdline.h"
#include "options.h"
#include "parse.h"

int advise_duration(const char *s, uint64_t *ns, char *err, size_t errlen)
{
	return parse_duration(s, ns, err, errlen);
}

void advise_default_name(const char *dir, char *buf)
{
	const char *base = dir ? strrchr(dir, '/') : NULL;
	size_t o = 0;

	base = base ? base + 1 : (dir ? dir : "");
	for (; *base && o < EGRESS_NAME_MAX - 1; base++) {
		unsigned char c = *base;

		if (!o && !isalnum(c))
			continue;
		buf[o++] = isalnum(c) || strchr("-_.", c) ? (char)c : '-';
	}
	buf[o] = '\0';
	if (!o)
		snprintf(buf, EGRESS_NAME_MAX, "advised");
}

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

bool advise_match(const struct seen_rec *r, const uint64_t *ids, size_t nids, uint64_t since_boot_ns)
{
	if (since_boot_ns && r->val.last_ns < since_boot_ns)
		return false;
	return bsearch(&r->key.cgroup_id, ids, nids, sizeof(*ids), id_cmp) ||
	       bsearch(&r->key.bound_cgroup_id, ids, nids, sizeof(*ids), id_cmp);
}

/* A record as a rule would see it. */
struct item {
	bool noaddr;		/* sock_create, setsockopt: nothing to allow */
	uint8_t family;
	uint8_t addr[16];
	uint8_t proto;		/* tcp, udp, or the packet's protocol when a rule cannot name it */
	uint16_t port;
	char comm[16];		/* printable */
	const struct seen_rec *r;
};

static bool rule_proto_ok(uint8_t p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP;
}

/* Rule key, then the origin (task cgroup, process, verdict, hook), then the count, largest first. */
static int item_cmp(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	const struct egress_seen_key *ka = &a->r->key, *kb = &b->r->key;
	int c;

	if (a->noaddr != b->noaddr)
		return a->noaddr - b->noaddr;
	if (a->noaddr && ka->hook != kb->hook)
		return ka->hook - kb->hook;
	if (a->family != b->family)
		return a->family - b->family;
	c = memcmp(a->addr, b->addr, 16);
	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto - b->proto;
	if (a->port != b->port)
		return a->port - b->port;
	if (ka->cgroup_id != kb->cgroup_id)
		return ka->cgroup_id < kb->cgroup_id ? -1 : 1;
	c = strcmp(a->comm, b->comm);
	if (c)
		return c;
	if (ka->verdict != kb->verdict)
		return ka->verdict - kb->verdict;
	if (ka->hook != kb->hook)
		return ka->hook - kb->hook;
	if (a->r->val.count != b->r->val.count)
		return a->r->val.count > b->r->val.count ? -1 : 1;
	if (ka->bound_cgroup_id != kb->bound_cgroup_id)
		return ka->bound_cgroup_id < kb->bound_cgroup_id ? -1 : 1;
	return (ka->policy > kb->policy) - (ka->policy < kb->policy);
}

static bool same_dest(const struct item *a, const struct item *b)
{
	if (a->noaddr != b->noaddr)
		return false;
	if (a->noaddr)
		return a->r->key.hook == b->r->key.hook && a->family == b->family && a->proto == b->proto;
	return a->family == b->family && !memcmp(a->addr, b->addr, 16) && a->proto == b->proto &&
	       a->port == b->port;
}

/* The same decision seen by another bound cgroup of the path: counted once. */
static bool same_origin(const struct item *a, const struct item *b)
{
	return a->r->key.cgroup_id == b->r->key.cgroup_id && !strcmp(a->comm, b->comm) &&
	       a->r->key.verdict == b->r->key.verdict && a->r->key.hook == b->r->key.hook;
}

static void item_init(struct item *it, const struct seen_rec *r)
{
	const struct egress_seen_key *k = &r->key;
	size_t i;

	memset(it, 0, sizeof(*it));
	it->r = r;
	it->noaddr = k->hook == EGRESS_HOOK_SOCK_CREATE || k->hook == EGRESS_HOOK_SETSOCKOPT;
	it->family = k->family;
	it->proto = k->proto;
	if (!it->noaddr) {
		memcpy(it->addr, k->addr, 16);
		if (k->family == EGRESS_FAM_V4)
			memset(it->addr + 4, 0, 12);
		if (rule_proto_ok(k->proto))
			it->port = k->port;
	}
	/* the process picks its name: only printable ASCII reaches the file */
	for (i = 0; i < sizeof(it->comm) - 1 && k->comm[i]; i++)
		it->comm[i] = k->comm[i] >= 0x20 && k->comm[i] < 0x7f ? k->comm[i] : '?';
	if (!i)
		it->comm[i++] = '?';
	it->comm[i] = '\0';
}

#define NAMES_SHOWN 8
#define POLICIES_SHOWN 8

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* "12 denied, 3 audited (policy free): curl, python3" for the items [from, to). */
static void describe(FILE *out, const struct item *v, size_t from, size_t to, const struct advise_out *o)
{
	const char **names = calloc(to - from, sizeof(*names));
	uint32_t *pols = calloc(to - from, sizeof(*pols));
	uint64_t cnt[2] = { 0, 0 };
	size_t nnames = 0, npols = 0, k;

	for (size_t i = from; i < to; i++) {
		const struct item *it = &v[i];

		/* an origin's largest count comes first: the rest are the same decisions */
		if (i == from || !same_origin(&v[i - 1], it))
			cnt[it->r->key.verdict == EGRESS_VERDICT_AUDIT] += it->r->val.count;
		if (names)
			names[nnames++] = it->comm;
		if (pols)
			pols[npols++] = it->r->key.policy;
	}
	if (cnt[0])
		fprintf(out, "%llu denied", (unsigned long long)cnt[0]);
	if (cnt[1])
		fprintf(out, "%s%llu audited", cnt[0] ? ", " : "", (unsigned long long)cnt[1]);
	fprintf(out, " (policy ");
	qsort(pols, npols, sizeof(*pols), u32_cmp);
	k = 0;
	for (size_t i = 0; i < npols; i++) {
		const char *pn;

		if (i && pols[i] == pols[i - 1])
			continue;
		if (k++ == POLICIES_SHOWN) {
			fputs(", ...", out);
			break;
		}
		pn = o->policy_name ? o->policy_name(pols[i], o->ctx) : NULL;
		if (pn)
			fprintf(out, "%s%s", k > 1 ? ", " : "", pn);
		else
			fprintf(out, "%s#%u", k > 1 ? ", " : "", pols[i]);
	}
	fputs("): ", out);
	qsort(names, nnames, sizeof(*names), str_cmp);
	k = 0;
	for (size_t i = 0; i < nnames; i++) {
		if (i && !strcmp(names[i], names[i - 1]))
			continue;
		if (k < NAMES_SHOWN)
			fprintf(out, "%s%s", k ? ", " : "", names[i]);
		k++;
	}
	if (k > NAMES_SHOWN)
		fprintf(out, " and %zu more", k - NAMES_SHOWN);
	free(names);
	free(pols);
}

static const char *proto_str(uint8_t proto, char *buf, size_t len)
{
	const char *n = ip_proto_name(proto);

	if (n)
		return n;
	snprintf(buf, len, "protocol %u", proto);
	return buf;
}

static const struct rule *base_rule(const struct policy *base, const struct rule *r)
{
	for (size_t i = 0; base && i < base->nrules; i++)
		if (rule_same_match(&base->rules[i], r))
			return &base->rules[i];
	return NULL;
}

int advise_print(FILE *out, const struct seen_rec *recs, size_t n, const struct advise_out *o)
{
	struct item *v = calloc(n ? n : 1, sizeof(*v));
	char buf[32], addr[64];
	int nrules = 0;
	size_t i, j;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		item_init(&v[i], &recs[i]);
	qsort(v, n, sizeof(*v), item_cmp);

	if (o->header)
		fprintf(out, "# %s\n", o->header);
	fprintf(out, "# the allow rules that would have permitted what was denied or audited, one per\n"
		     "# destination, protocol and port; review them, then 'egressctl apply -f FILE'\n");
	if (o->base) {
		fprintf(out, "# policy %s exists: its settings and rules are kept, the advised rules added\n",
			o->name);
		policy_export(out, o->base);
	} else {
		fprintf(out, "policy add %s --default deny\n", o->name);
	}
	if (!n)
		fprintf(out, "# nothing was denied\n");
	for (i = 0; i < n; i = j) {
		const struct item *it = &v[i];
		struct rule r = { .action = EGRESS_ALLOW, .port_lo = 0, .port_hi = 65535 };
		const struct rule *have;

		for (j = i + 1; j < n && same_dest(&v[i], &v[j]); j++)
			;
		if (it->noaddr) {
			if (it->r->key.hook == EGRESS_HOOK_SOCK_CREATE)
				fprintf(out, "# not advised (no destination): sock_create of an %s %s socket, ",
					it->family == EGRESS_FAM_V6 ? "ipv6" : "ipv4",
					proto_str(it->proto, buf, sizeof(buf)));
			else
				fprintf(out, "# not advised (no destination): setsockopt, %s, ",
					it->family == EGRESS_FAM_V6 ? "an ipv6 routing header" :
					"an ipv4 source route");
			describe(out, v, i, j, o);
			fputc('\n', out);
			continue;
		}
		format_addr(it->family, it->addr, addr, sizeof(addr));
		if (rule_proto_ok(it->proto) && !it->port) {
			fprintf(out, "# not advised (a rule cannot name port 0): %s %s port 0, ", addr,
				proto_str(it->proto, buf, sizeof(buf)));
			describe(out, v, i, j, o);
			fputc('\n', out);
			continue;
		}
		r.cidr.family = it->family;
		r.cidr.plen = it->family == EGRESS_FAM_V4 ? 32 : 128;
		memcpy(r.cidr.addr, it->addr, 16);
		if (rule_proto_ok(it->proto)) {
			r.proto = it->proto;
			r.port_lo = r.port_hi = it->port;
		}
		fputs("# ", out);
		describe(out, v, i, j, o);
		if (!rule_proto_ok(it->proto))
			fprintf(out, "; %s: a rule names tcp, udp or any protocol, so this one allows every "
				"protocol and port", proto_str(it->proto, buf, sizeof(buf)));
		have = base_rule(o->base, &r);
		if (have) {
			if (have->action == EGRESS_ALLOW)
				fprintf(out, "; %s allows it already (another binding on the path denied it)\n",
					o->name);
			else
				fprintf(out, "; not advised: a deny rule of %s (remove it to allow this)\n",
					o->name);
			continue;
		}
		fputc('\n', out);
		rule_export(out, &r, o->name);
		nrules++;
	}
	free(v);
	return nrules;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * policyset.c - a policy set from one source, applied as one transaction.
 *
 * Every text of the source is parsed (the `apply -f` format) and every
 * policy checked by state_apply before anything changes; a set with one
 * error is refused whole and the last good set stays in force.  Which
 * policies the set owns, its digest and its counts live in a pinned array
 * map of one JSON value (<pin dir>/policy_set), so that they survive
 * egressd restarts and egressctl and the metrics read them.
 *
 * A directory is watched with inotify on the directory itself: edits,
 * renames, new and removed files, and the kubelet's ConfigMap layout (the
 * files are symlinks into ..data, swapped with one rename) all show up as
 * events on it; after a short settling time the whole set is read again.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <bpf/bpf.h>

#include "cmdline.h"
#include "etcd.h"
#include "policyset.h"
#include "revoke.h"

#define PS_SETTLE_MS 50		/* quiet time after a directory event */
#define PS_TEXT_LIMIT (64 << 20)
#define PS_ERRLEN (2 * PATH_MAX + ERRBUF_LEN)

enum ps_kind { PS_DIR, PS_ETCD };

struct policyset {
	struct egress_state *st;
	enum ps_kind kind;
	char source[PATH_MAX + 8];	/* "dir:PATH", "etcd:PREFIX" */
	char path[PATH_MAX];
	int fd;			/* inotify (directory) or eventfd (etcd) */
	bool pending;		/* a directory change waits to settle */
	struct timespec due;
	unsigned char raw[32];	/* hash of the texts last tried */
	bool have_raw;
	time_t last_reap;
	struct etcd *etcd;
};

void ps_logf(const char *fmt, ...)
{
	va_list ap;

	fputs("egressd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
#define logf_ ps_logf

/* ---- texts ---------------------------------------------------------------- */

int ps_texts_add(struct ps_texts *t, const char *name, const char *text, size_t len)
{
	struct ps_text *nv = realloc(t->v, (t->n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	t->v = nv;
	nv[t->n].name = strdup(name);
	nv[t->n].text = strndup(text, len);
	if (!nv[t->n].name || !nv[t->n].text) {
		free(nv[t->n].name);
		free(nv[t->n].text);
		return -ENOMEM;
	}
	t->n++;
	return 0;
}

int ps_texts_copy(struct ps_texts *dst, const struct ps_texts *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++) {
		if (ps_texts_add(dst, src->v[i].name, src->v[i].text, strlen(src->v[i].text))) {
			ps_texts_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

void ps_texts_free(struct ps_texts *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].text);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static int text_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ps_text *)a)->name, ((const struct ps_text *)b)->name);
}

/* ---- the pinned status (read by policyset_status.c) -------------------------- */

static int status_write(struct egress_state *st, json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT), *buf = calloc(1, PS_STATUS_BYTES), path[PATH_MAX];
	int ret = -ENOMEM;

	if (!text || !buf)
		goto out;
	ret = -E2BIG;
	if (strlen(text) >= PS_STATUS_BYTES)
		goto out;
	strcpy(buf, text);
	state_pin_path(st, path, sizeof(path), "policy_set");
	ret = state_record_write(path, "egress_pset", buf, PS_STATUS_BYTES);
out:
	if (ret)
		logf_("cannot record the policy set's status: %s", strerror(-ret));
	free(text);
	free(buf);
	return ret;
}

static bool json_has(json_t *arr, const char *s)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
		if (json_is_string(e) && !strcmp(json_string_value(e), s))
			return true;
	return false;
}

/* The status to update: the pinned one, or a new one for ps's source. */
static json_t *status_base(struct policyset *ps)
{
	json_t *o = policyset_status(ps->st);

	if (!o)
		o = json_pack("{s:s, s:n, s:n, s:I, s:n, s:[], s:[]}", "source", ps->source,
			      "digest", "applied_timestamp", "errors_total", (json_int_t)0,
			      "last_error", "policies", "retained");
	if (!json_is_array(json_object_get(o, "policies")))
		json_object_set_new(o, "policies", json_array());
	if (!json_is_array(json_object_get(o, "retained")))
		json_object_set_new(o, "retained", json_array());
	return o;
}

static double now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void refuse(struct policyset *ps, const char *why)
{
	json_t *o;
	int lock = -1;
	char err[PS_ERRLEN];

	logf_("policy set from %s refused, the last good set stays in force: %s", ps->source, why);
	if (state_lock(ps->st->pin_dir, &lock, err, sizeof(err)))
		return;
	o = status_base(ps);
	json_object_set_new(o, "source", json_string(ps->source));
	json_object_set_new(o, "errors_total",
			    json_integer(json_integer_value(json_object_get(o, "errors_total")) + 1));
	json_object_set_new(o, "last_error", json_string(why));
	status_write(ps->st, o);
	json_decref(o);
	close(lock);
}

/* ---- applying a set ----------------------------------------------------------- */

static void sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

static void raw_hash(const struct ps_texts *t, unsigned char out[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (size_t i = 0; i < t->n; i++) {
		EVP_DigestUpdate(c, t->v[i].name, strlen(t->v[i].name) + 1);
		EVP_DigestUpdate(c, t->v[i].text, strlen(t->v[i].text) + 1);
	}
	EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
}

static int pol_ptr_cmp(const void *a, const void *b)
{
	return strcmp((*(struct policy *const *)a)->name, (*(struct policy *const *)b)->name);
}

/* The digest of the applied set: its canonical export, in name order. */
static void set_digest(struct policy_file *all, char hex[65])
{
	struct policy **v = calloc(all->n + 1, sizeof(*v));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (size_t i = 0; v && i < all->n; i++)
		v[i] = &all->pol[i];
	if (v)
		qsort(v, all->n, sizeof(*v), pol_ptr_cmp);
	for (size_t i = 0; f && v && i < all->n; i++)
		policy_export(f, v[i]);
	if (f)
		fclose(f);
	sha256_hex(buf ? buf : "", buf ? len : 0, hex);
	free(buf);
	free(v);
}

/* Every text parsed into one policy file; a policy named by two texts is an error. */
static int parse_all(struct ps_texts *t, struct policy_file *all, char *err, size_t errlen)
{
	size_t *from = NULL;
	int ret = 0;

	memset(all, 0, sizeof(*all));
	for (size_t i = 0; !ret && i < t->n; i++) {
		struct policy_file pf;
		char msg[ERRBUF_LEN];
		struct policy *np;
		bool *nd;
		size_t *nf;

		ret = policy_file_parse(t->v[i].text, &pf, msg, sizeof(msg));
		if (ret) {
			snprintf(err, errlen, "%s:%s", t->v[i].name, msg);
			break;
		}
		for (size_t j = 0; !ret && j < pf.n; j++) {
			for (size_t k = 0; k < all->n; k++) {
				if (strcmp(all->pol[k].name, pf.pol[j].name))
					continue;
				snprintf(err, errlen, "%s: policy '%s' is also in %s: one text per policy",
					 t->v[i].name, pf.pol[j].name, t->v[from[k]].name);
				ret = -EEXIST;
				break;
			}
		}
		np = ret ? NULL : realloc(all->pol, (all->n + pf.n + 1) * sizeof(*np));
		if (np)
			all->pol = np;
		nd = np ? realloc(all->declared, (all->n + pf.n + 1) * sizeof(*nd)) : NULL;
		if (nd)
			all->declared = nd;
		nf = nd ? realloc(from, (all->n + pf.n + 1) * sizeof(*nf)) : NULL;
		if (nf)
			from = nf;
		if (!ret && !nf) {
			snprintf(err, errlen, "out of memory");
			ret = -ENOMEM;
		}
		if (ret) {
			policy_file_free(&pf);
			break;
		}
		for (size_t j = 0; j < pf.n; j++) {
			all->pol[all->n] = pf.pol[j];	/* moved: pf keeps no rules */
			all->declared[all->n] = pf.declared[j];
			from[all->n++] = i;
		}
		free(pf.pol);
		free(pf.declared);
	}
	free(from);
	if (ret)
		policy_file_free(all);
	return ret;
}

static bool is_bound(struct binding_ref *b, size_t nb, uint32_t id)
{
	for (size_t i = 0; i < nb; i++)
		if (b[i].policy == id)
			return true;
	return false;
}

/*
 * Policies the set owned and no longer names: deleted, or retained while
 * cgroups are bound to them.  With only_retained, the ones already retained.
 */
static void drop_unowned(struct policyset *ps, json_t *o, json_t *prev, bool quiet)
{
	json_t *policies = json_object_get(o, "policies"), *retained = json_array(), *e;
	struct binding_ref *b = NULL;
	size_t nb = 0, i;

	state_bindings(ps->st, &b, &nb);
	json_array_foreach(prev, i, e) {
		const char *name = json_string_value(e);
		uint32_t id;

		if (!name || json_has(policies, name) || json_has(retained, name))
			continue;
		if (state_policy_id(ps->st, name, &id))
			continue;	/* deleted by hand */
		if (is_bound(b, nb, id)) {
			json_array_append_new(retained, json_string(name));
			if (!quiet)
				logf_("policy '%s' left the set from %s but cgroups are bound to it: "
				      "retained until they are gone", name, ps->source);
		} else if (state_policy_delete(ps->st, id)) {
			json_array_append_new(retained, json_string(name));
			logf_("cannot delete policy '%s': retained", name);
		} else {
			logf_("policy '%s' left the set from %s: deleted", name, ps->source);
		}
	}
	free(b);
	json_object_set_new(o, "retained", retained);
}

/*
 * Established connections the new set denies are cut, as after every
 * narrowing egressctl change: the TCP fast path of the backstop trusts an
 * established connection's peer.  The set is applied either way; a failed
 * pass is logged.
 */
static void revoke_set(struct policyset *ps, const struct policy_file *all)
{
	struct revoke_scope sc = { 0 };
	uint32_t *ids = calloc(all->n ? all->n : 1, sizeof(*ids));
	char why[PS_ERRLEN];

	if (!ids) {
		logf_("policy set from %s: cannot revoke established connections: out of memory",
		      ps->source);
		return;
	}
	for (size_t i = 0; i < all->n; i++)
		if (!state_policy_id(ps->st, all->pol[i].name, &ids[sc.npolicies]))
			sc.npolicies++;
	sc.policies = ids;
	if (sc.npolicies && revoke_after_change(ps->st, &sc, NULL, why, sizeof(why)))
		logf_("policy set from %s: cannot revoke established connections: %s",
		      ps->source, why);
	free(ids);
}

int policyset_apply(struct policyset *ps, struct ps_texts *t, bool force, char *err, size_t errlen)
{
	struct policy_file all;
	struct policy_ref *refs = NULL;
	unsigned char raw[32];
	char digest[65], why[PS_ERRLEN];
	json_t *o = NULL, *prev = NULL, *names;
	size_t nrefs = 0, fresh = 0;
	int lock = -1, ret;

	qsort(t->v, t->n, sizeof(*t->v), text_cmp);
	raw_hash(t, raw);
	if (!force && ps->have_raw && !memcmp(raw, ps->raw, sizeof(raw)))
		return 0;	/* the same texts: nothing to do */
	memcpy(ps->raw, raw, sizeof(raw));
	ps->have_raw = true;

	ret = parse_all(t, &all, why, sizeof(why));
	if (ret) {
		refuse(ps, why);
		snprintf(err, errlen, "%s", why);
		return ret;
	}
	ret = state_lock(ps->st->pin_dir, &lock, why, sizeof(why));
	if (ret)
		goto out;
	/* room for the new policies before anything changes */
	ret = state_policies(ps->st, &refs, &nrefs);
	for (size_t i = 0; !ret && i < all.n; i++)
		fresh += state_policy_id(ps->st, all.pol[i].name, &(uint32_t){ 0 }) != 0;
	if (!ret && nrefs + fresh > ps->st->cfg.max_policies) {
		snprintf(why, sizeof(why), "the set needs %zu more policies and only %zu are free "
			 "(egressd --max-policies %u)", fresh,
			 ps->st->cfg.max_policies - nrefs, ps->st->cfg.max_policies);
		ret = -ENOSPC;
	}
	ret = ret ?: state_apply(ps->st, &all, why, sizeof(why));
	if (ret)
		goto out;
	revoke_set(ps, &all);
	set_digest(&all, digest);
	o = status_base(ps);
	prev = json_array();
	json_array_extend(prev, json_object_get(o, "policies"));
	json_array_extend(prev, json_object_get(o, "retained"));
	names = json_array();
	for (size_t i = 0; i < all.n; i++)
		json_array_append_new(names, json_string(all.pol[i].name));
	json_object_set_new(o, "policies", names);
	drop_unowned(ps, o, prev, false);
	json_object_set_new(o, "source", json_string(ps->source));
	json_object_set_new(o, "digest", json_string(digest));
	json_object_set_new(o, "applied_timestamp", json_real(now_real()));
	json_object_set_new(o, "last_error", json_null());
	status_write(ps->st, o);
	logf_("policy set from %s applied: %zu policies from %zu texts, digest %.12s, %zu retained",
	      ps->source, all.n, t->n, digest, json_array_size(json_object_get(o, "retained")));
out:
	if (lock >= 0)
		close(lock);
	policy_file_free(&all);
	free(refs);
	json_decref(o);
	json_decref(prev);
	if (ret) {
		refuse(ps, why);
		snprintf(err, errlen, "%s", why);
	}
	return ret;
}

/* ---- sources ------------------------------------------------------------------ */

static bool is_policy_name(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && len > 7 && !strcmp(n + len - 7, ".policy");
}

/*
 * Every *.policy of the directory.  In a ConfigMap volume (DIR/..data
 * exists) they are read from ..data, the kubelet's atomic snapshot, so that
 * a set is never a mix of the old and new versions while the visible
 * symlinks are updated; errors name the visible paths.
 */
static int read_dir(struct policyset *ps, struct ps_texts *t, char *err, size_t errlen)
{
	char from[PATH_MAX + 8];
	struct stat sb;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	snprintf(from, sizeof(from), "%s/..data", ps->path);
	if (stat(from, &sb) || !S_ISDIR(sb.st_mode))
		snprintf(from, sizeof(from), "%s", ps->path);
	d = opendir(from);
	memset(t, 0, sizeof(*t));
	if (!d) {
		snprintf(err, errlen, "cannot read policy directory %s: %s", ps->path, strerror(errno));
		return -errno;
	}
	while (!ret && (de = readdir(d))) {
		char path[PATH_MAX + NAME_MAX + 16];
		size_t len;
		char *text;

		if (!is_policy_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", from, de->d_name);
		if (stat(path, &sb)) {
			if (errno == ENOENT)
				continue;	/* gone (or a link whose target went): not in the set */
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			ret = -errno;
			break;
		}
		if (!S_ISREG(sb.st_mode))
			continue;
		text = read_text(path, PS_TEXT_LIMIT, &len);
		if (!text) {
			if (errno == ENOENT)
				continue;
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			ret = -errno;
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", ps->path, de->d_name);
		ret = ps_texts_add(t, path, text, len);
		free(text);
	}
	closedir(d);
	if (ret)
		ps_texts_free(t);
	return ret;
}

static void apply_dir(struct policyset *ps, bool force)
{
	struct ps_texts t;
	char err[PS_ERRLEN];

	if (read_dir(ps, &t, err, sizeof(err))) {
		refuse(ps, err);
		return;
	}
	policyset_apply(ps, &t, force, err, sizeof(err));
	ps_texts_free(&t);
}

static void apply_etcd(struct policyset *ps)
{
	struct ps_texts t;
	char err[PS_ERRLEN];

	if (etcd_take(ps->etcd, &t) > 0) {
		policyset_apply(ps, &t, false, err, sizeof(err));
		ps_texts_free(&t);
	}
}

int policyset_opts_check(const struct policyset_opts *o, char *err, size_t errlen)
{
	bool tls = o->etcd_cacert || o->etcd_cert || o->etcd_key;

	if (o->dir && o->etcd) {
		snprintf(err, errlen, "--policy-dir and --etcd are exclusive: give one source of the policy set");
		return -EINVAL;
	}
	if (o->etcd && (!o->etcd_prefix || !o->etcd_prefix[0])) {
		snprintf(err, errlen, "--etcd needs --etcd-prefix PREFIX (for example /egress/policies/)");
		return -EINVAL;
	}
	if (!o->etcd && (o->etcd_prefix || tls)) {
		snprintf(err, errlen, "--etcd-prefix, --etcd-cacert, --etcd-cert and --etcd-key need --etcd URL");
		return -EINVAL;
	}
	if (!o->etcd_cert != !o->etcd_key) {
		snprintf(err, errlen, "--etcd-cert and --etcd-key go together (the client certificate and its key)");
		return -EINVAL;
	}
	if (o->etcd) {
		char *urls = strdup(o->etcd), *save = NULL;
		int ret = 0;

		if (!urls)
			return -ENOMEM;
		for (char *u = strtok_r(urls, ",", &save); !ret && u; u = strtok_r(NULL, ",", &save)) {
			if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
				snprintf(err, errlen, "invalid --etcd URL '%s': http://HOST:PORT or https://HOST:PORT", u);
				ret = -EINVAL;
			}
		}
		if (!ret && !strchr(o->etcd, ':')) {
			snprintf(err, errlen, "invalid --etcd '%s': URL[,URL...]", o->etcd);
			ret = -EINVAL;
		}
		free(urls);
		return ret;
	}
	return 0;
}

int policyset_open(struct policyset **out, const struct policyset_opts *o, struct egress_state *st,
		   char *err, size_t errlen)
{
	struct policyset *ps;
	int ret = 0;

	*out = NULL;
	if (!o->dir && !o->etcd)
		return 0;	/* --policy-file: egressd applies it (at start and on SIGHUP) */
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->st = st;
	ps->fd = -1;
	if (o->dir) {
		ps->kind = PS_DIR;
		if (!realpath(o->dir, ps->path)) {
			ret = -errno;
			snprintf(err, errlen, "invalid --policy-dir '%s': %s", o->dir, strerror(errno));
			goto fail;
		}
		snprintf(ps->source, sizeof(ps->source), "dir:%s", ps->path);
		ps->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ps->fd < 0 || inotify_add_watch(ps->fd, ps->path, IN_MOVED_TO | IN_MOVED_FROM |
						    IN_CREATE | IN_DELETE | IN_CLOSE_WRITE |
						    IN_ATTRIB | IN_ONLYDIR) < 0) {
			ret = -errno;
			snprintf(err, errlen, "cannot watch --policy-dir %s: %s", ps->path, strerror(errno));
			goto fail;
		}
	} else if (o->etcd) {
		ps->kind = PS_ETCD;
		snprintf(ps->source, sizeof(ps->source), "etcd:%s", o->etcd_prefix);
		ps->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (ps->fd < 0) {
			ret = -errno;
			snprintf(err, errlen, "eventfd: %s", strerror(errno));
			goto fail;
		}
		ret = etcd_open(&ps->etcd, o, ps->fd, err, errlen);
		if (ret)
			goto fail;
	}
	*out = ps;
	return 0;
fail:
	policyset_close(ps);
	return ret;
}

int policyset_start(struct policyset *ps)
{
	if (!ps)
		return 0;
	if (ps->kind == PS_DIR)
		apply_dir(ps, true);
	else if (ps->kind == PS_ETCD)
		return etcd_start(ps->etcd);
	return 0;
}

int policyset_fd(const struct policyset *ps)
{
	return ps ? ps->fd : -1;
}

static long ms_until(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
}

int policyset_timeout(const struct policyset *ps, int max_ms)
{
	long ms;

	if (!ps || !ps->pending)
		return max_ms;
	ms = ms_until(&ps->due);
	return ms < 0 ? 0 : ms < max_ms ? (int)ms + 1 : max_ms;
}

void policyset_handle(struct policyset *ps)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	uint64_t v;

	if (!ps)
		return;
	if (ps->kind == PS_ETCD) {
		if (read(ps->fd, &v, sizeof(v)) == sizeof(v))
			apply_etcd(ps);
		return;
	}
	while (read(ps->fd, buf, sizeof(buf)) > 0)
		;	/* what changed does not matter: the whole set is read again */
	ps->pending = true;
	clock_gettime(CLOCK_MONOTONIC, &ps->due);
	ps->due.tv_nsec += PS_SETTLE_MS * 1000000L;
	if (ps->due.tv_nsec >= 1000000000L) {
		ps->due.tv_sec++;
		ps->due.tv_nsec -= 1000000000L;
	}
}

/* Retained policies whose cgroups are gone are deleted now. */
static void reap(struct policyset *ps)
{
	json_t *o, *prev;
	char err[PS_ERRLEN];
	int lock;

	o = policyset_status(ps->st);
	if (!o || !json_array_size(json_object_get(o, "retained")) ||
	    strcmp(json_string_value(json_object_get(o, "source")) ?: "", ps->source)) {
		json_decref(o);
		return;
	}
	json_decref(o);
	if (state_lock(ps->st->pin_dir, &lock, err, sizeof(err)))
		return;
	o = status_base(ps);
	prev = json_deep_copy(json_object_get(o, "retained"));
	drop_unowned(ps, o, prev, true);
	if (!json_equal(prev, json_object_get(o, "retained")))
		status_write(ps->st, o);
	json_decref(prev);
	json_decref(o);
	close(lock);
}

void policyset_tick(struct policyset *ps)
{
	if (!ps)
		return;
	if (ps->pending && ms_until(&ps->due) <= 0) {
		ps->pending = false;
		apply_dir(ps, false);
	}
	if (time(NULL) - ps->last_reap >= 5) {
		ps->last_reap = time(NULL);
		reap(ps);
	}
}

void policyset_reload(struct policyset *ps)
{
	if (!ps)
		return;
	logf_("SIGHUP: reading the policies from %s again", ps->source);
	ps->have_raw = false;	/* applied even if unchanged */
	if (ps->kind == PS_DIR)
		apply_dir(ps, true);
	else
		etcd_resync(ps->etcd);
}

void policyset_close(struct policyset *ps)
{
	if (!ps)
		return;
	etcd_close(ps->etcd);
	if (ps->fd >= 0)
		close(ps->fd);
	free(ps);
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * etcd.c - the policy set from etcd v3 through its JSON gateway (libcurl,
 * jansson): POST /v3/kv/range lists the prefix, POST /v3/watch streams its
 * changes from the listed revision + 1, one JSON object per line.  Keys and
 * values are base64.
 *
 * One thread does the talking and keeps the prefix's keys and values; after
 * each list and each watch message that carries events it publishes a copy
 * and writes to the main thread's eventfd.  The main thread applies it
 * (state is not thread-safe).  A member that fails gives way to the next
 * endpoint; when every member fails the thread retries with backoff (at
 * most 2 s); a watch cancelled by compaction, or a SIGHUP, lists again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "etcd.h"
#include "policyset.h"

#define ETCD_BODY_LIMIT (256 << 20)
#define ETCD_BACKOFF_MAX_MS 2000

enum { W_ERROR = -1, W_RELIST = 1, W_STOP = 2 };

struct etcd {
	char **urls;
	size_t nurls, cur;
	char *prefix, *key_b64, *end_b64;
	const char *cacert, *cert, *key;
	int notify_fd;
	pthread_t th;
	bool started;
	atomic_int stop, resync;
	pthread_mutex_t mu;
	struct ps_texts snap;	/* under mu */
	bool fresh;		/* under mu */
	/* the thread's own */
	struct ps_texts kv;
	long long rev;
	bool created;		/* the watch was accepted */
	char *line;		/* the watch's partial line */
	size_t linelen;
	int wret;
};

/* egressd's log line, "egressd: etcd: ..." */
#define logf_(fmt, ...) ps_logf("etcd: " fmt, ##__VA_ARGS__)

/* ---- base64 (OpenSSL) ----------------------------------------------------- */

static char *b64_enc(const void *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, in, len);
	return out;
}

/* NUL-terminated, *len without the NUL; NULL if not base64. */
static char *b64_dec(const char *in, size_t *len)
{
	size_t n = strlen(in);
	char *out;
	int r;

	if (n % 4)
		return NULL;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return NULL;
	r = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)in, n);
	if (r < 0) {
		free(out);
		return NULL;
	}
	for (size_t i = n; i > 0 && in[i - 1] == '='; i--)
		r--;
	out[r] = '\0';
	*len = r;
	return out;
}

/* ---- the keys and values ---------------------------------------------------- */

static struct ps_text *kv_find(struct ps_texts *t, const char *k)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, k))
			return &t->v[i];
	return NULL;
}

static int kv_put(struct ps_texts *t, const char *k, const char *v, size_t len)
{
	struct ps_text *e = kv_find(t, k);
	char *nv;

	if (!e)
		return ps_texts_add(t, k, v, len);
	nv = strndup(v, len);
	if (!nv)
		return -ENOMEM;
	free(e->text);
	e->text = nv;
	return 0;
}

static void kv_del(struct ps_texts *t, const char *k)
{
	struct ps_text *e = kv_find(t, k);

	if (!e)
		return;
	free(e->name);
	free(e->text);
	*e = t->v[--t->n];
}

static void publish(struct etcd *e)
{
	struct ps_texts copy;
	uint64_t one = 1;

	if (ps_texts_copy(&copy, &e->kv))
		return;
	pthread_mutex_lock(&e->mu);
	ps_texts_free(&e->snap);
	e->snap = copy;
	e->fresh = true;
	pthread_mutex_unlock(&e->mu);
	if (write(e->notify_fd, &one, sizeof(one)) < 0)
		logf_("cannot wake the main loop: %s", strerror(errno));
}

/* A kv object of the gateway: key and value decoded.  put: value wanted. */
static int kv_apply(struct etcd *e, json_t *kv, bool del)
{
	const char *kb = json_string_value(json_object_get(kv, "key"));
	const char *vb = json_string_value(json_object_get(kv, "value"));
	char *k, *v = NULL;
	size_t klen, vlen = 0;
	int ret = 0;

	if (!kb || !(k = b64_dec(kb, &klen)))
		return -EINVAL;
	if (del) {
		kv_del(&e->kv, k);
	} else {
		v = b64_dec(vb ? vb : "", &vlen);	/* an empty value has no "value" */
		ret = v ? kv_put(&e->kv, k, v, vlen) : -EINVAL;
	}
	free(k);
	free(v);
	return ret;
}

/* ---- HTTP ----------------------------------------------------------------- */

struct body {
	char *buf;
	size_t len;
};

static size_t body_write(char *p, size_t sz, size_t nm, void *ud)
{
	struct body *b = ud;
	size_t n = sz * nm;
	char *nb;

	if (b->len + n > ETCD_BODY_LIMIT || !(nb = realloc(b->buf, b->len + n + 1)))
		return 0;
	memcpy(nb + b->len, p, n);
	b->buf = nb;
	b->len += n;
	b->buf[b->len] = '\0';
	return n;
}

static int progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct etcd *e = ud;

	return atomic_load(&e->stop) || atomic_load(&e->resync);
}

static CURL *easy(struct etcd *e, const char *url, const char *path, const char *post,
		  struct curl_slist **hdrs)
{
	CURL *c = curl_easy_init();
	char full[2048];

	if (!c)
		return NULL;
	snprintf(full, sizeof(full), "%s%s", url, path);
	*hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, post);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, e);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (e->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, e->cacert);
	if (e->cert)
		curl_easy_setopt(c, CURLOPT_SSLCERT, e->cert);
	if (e->key)
		curl_easy_setopt(c, CURLOPT_SSLKEY, e->key);
	return c;
}

static int http_status(CURL *c, CURLcode rc, const char *url, char *err, size_t errlen)
{
	long code = 0;

	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(rc));
		return -EIO;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		snprintf(err, errlen, "%s: HTTP %ld", url, code);
		return -EIO;
	}
	return 0;
}

static long long json_ll(json_t *v)
{
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static json_t *header_rev(json_t *o)
{
	return json_object_get(json_object_get(o, "header"), "revision");
}

/* Lists the prefix: e->kv and e->rev. */
static int list(struct etcd *e, const char *url, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	struct body b = {};
	char post[4096];
	json_t *o = NULL, *kvs, *kv;
	CURL *c;
	size_t i;
	int ret;

	snprintf(post, sizeof(post), "{\"key\":\"%s\",\"range_end\":\"%s\"}", e->key_b64, e->end_b64);
	c = easy(e, url, "/v3/kv/range", post, &hdrs);
	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	ret = http_status(c, curl_easy_perform(c), url, err, errlen);
	if (!ret && (!b.buf || !(o = json_loads(b.buf, 0, NULL)) ||
		     json_ll(header_rev(o)) <= 0)) {
		snprintf(err, errlen, "%s: not an etcd range response: %.200s", url, b.buf ? b.buf : "");
		ret = -EPROTO;
	}
	if (!ret) {
		struct ps_texts old = e->kv;

		memset(&e->kv, 0, sizeof(e->kv));
		kvs = json_object_get(o, "kvs");
		json_array_foreach(kvs, i, kv) {
			if (kv_apply(e, kv, false)) {
				snprintf(err, errlen, "%s: a key or value that is not base64", url);
				ret = -EPROTO;
				break;
			}
		}
		if (ret) {
			ps_texts_free(&e->kv);
			e->kv = old;
		} else {
			ps_texts_free(&old);
			e->rev = json_ll(header_rev(o));
		}
	}
	json_decref(o);
	free(b.buf);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return ret;
}

/* One message of the watch stream. */
static int watch_msg(struct etcd *e, const char *line)
{
	json_t *o = json_loads(line, 0, NULL), *r, *evs, *ev;
	int changed = 0, ret = 0;
	size_t i;

	if (!o)
		return 0;	/* not JSON: ignored */
	r = json_object_get(o, "result");
	if (!r) {
		logf_("watch error: %.300s", line);
		json_decref(o);
		return W_ERROR;
	}
	if (json_is_true(json_object_get(r, "created")))
		e->created = true;
	if (json_is_true(json_object_get(r, "canceled"))) {
		long long k = json_ll(json_object_get(r, "compact_revision"));

		if (k > 0)
			logf_("watch cancelled: revision %lld is compacted (now %lld): listing again",
			      e->rev + 1, k);
		else
			logf_("watch cancelled: %.300s", line);
		json_decref(o);
		return k > 0 ? W_RELIST : W_ERROR;
	}
	evs = json_object_get(r, "events");
	json_array_foreach(evs, i, ev) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		bool del = type && !strcmp(type, "DELETE");

		if (kv_apply(e, json_object_get(ev, "kv"), del))
			logf_("an event with a key or value that is not base64: ignored");
		changed = 1;
	}
	if (json_ll(header_rev(r)) > e->rev)
		e->rev = json_ll(header_rev(r));
	if (changed)
		publish(e);
	json_decref(o);
	return ret;
}

static size_t watch_write(char *p, size_t sz, size_t nm, void *ud)
{
	struct etcd *e = ud;
	size_t n = sz * nm;
	char *nl, *nb;

	if (e->linelen + n > ETCD_BODY_LIMIT || !(nb = realloc(e->line, e->linelen + n + 1)))
		return 0;
	e->line = nb;
	memcpy(e->line + e->linelen, p, n);
	e->linelen += n;
	e->line[e->linelen] = '\0';
	while ((nl = memchr(e->line, '\n', e->linelen))) {
		size_t used = nl - e->line + 1;
		int r;

		*nl = '\0';
		r = watch_msg(e, e->line);
		memmove(e->line, e->line + used, e->linelen - used + 1);
		e->linelen -= used;
		if (r) {
			e->wret = r;
			return 0;	/* ends the transfer */
		}
	}
	return n;
}

/* Watches from e->rev + 1 until an error, a cancel, a resync or stop. */
static int watch(struct etcd *e, const char *url, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	char post[4096];
	CURLcode rc;
	CURL *c;

	snprintf(post, sizeof(post),
		 "{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\",\"start_revision\":\"%lld\"}}",
		 e->key_b64, e->end_b64, e->rev + 1);
	c = easy(e, url, "/v3/watch", post, &hdrs);
	if (!c)
		return W_ERROR;
	e->linelen = 0;
	e->wret = 0;
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, e);
	rc = curl_easy_perform(c);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (atomic_load(&e->stop))
		return W_STOP;
	if (atomic_exchange(&e->resync, 0))
		return W_RELIST;
	if (e->wret)
		return e->wret;
	snprintf(err, errlen, "%s: watch ended: %s", url,
		 rc == CURLE_OK ? "the server closed it" : curl_easy_strerror(rc));
	return W_ERROR;
}

static void nap(struct etcd *e, int ms)
{
	for (int i = 0; i < ms / 20 && !atomic_load(&e->stop) && !atomic_load(&e->resync); i++)
		usleep(20000);
}

/* A failed attempt: the next endpoint; after a round of failures, a backoff. */
static void failed(struct etcd *e, const char *err, size_t *fails, int *backoff, bool *down)
{
	if (!*down)
		logf_("%s; trying the other endpoints", err);
	e->cur = (e->cur + 1) % e->nurls;
	if (++*fails % e->nurls)
		return;
	if (!*down)
		logf_("every endpoint is down; retrying with backoff (the pinned policies stay in force)");
	*down = true;
	nap(e, *backoff);
	*backoff = *backoff * 2 > ETCD_BACKOFF_MAX_MS ? ETCD_BACKOFF_MAX_MS : *backoff * 2;
}

/*
 * List, then watch from the listed revision + 1.  A watch that ends with an
 * error resumes from the last revision seen on the next endpoint (its
 * events are replayed); a watch cancelled because that revision is
 * compacted, or a SIGHUP, lists again.
 */
static void *run(void *arg)
{
	struct etcd *e = arg;
	char err[512] = "";
	int backoff = 100;
	size_t fails = 0;
	bool down = false, listed = false;

	while (!atomic_load(&e->stop)) {
		const char *url = e->urls[e->cur];
		int r;

		if (!listed) {
			atomic_store(&e->resync, 0);
			if (list(e, url, err, sizeof(err))) {
				failed(e, err, &fails, &backoff, &down);
				continue;
			}
			logf_("listed %s at revision %lld: %zu keys", url, e->rev, e->kv.n);
			listed = true;
			publish(e);
		}
		e->created = false;
		r = watch(e, url, err, sizeof(err));
		if (e->created) {
			if (down)
				logf_("watching %s again from revision %lld", url, e->rev + 1);
			down = false;
			fails = 0;
			backoff = 100;
		}
		if (r == W_RELIST)
			listed = false;
		else if (r == W_ERROR)
			failed(e, err[0] ? err : "watch failed", &fails, &backoff, &down);
	}
	return NULL;
}

/* ---- the interface ------------------------------------------------------------- */

int etcd_open(struct etcd **out, const struct policyset_opts *o, int notify_fd, char *err,
	      size_t errlen)
{
	struct etcd *e = calloc(1, sizeof(*e));
	char *urls = NULL, *save = NULL, *end;
	size_t plen;

	*out = NULL;
	if (!e || !(urls = strdup(o->etcd)))
		goto nomem;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "cannot initialise libcurl");
		free(urls);
		free(e);
		return -EIO;
	}
	pthread_mutex_init(&e->mu, NULL);
	e->notify_fd = notify_fd;
	e->cacert = o->etcd_cacert;
	e->cert = o->etcd_cert;
	e->key = o->etcd_key;
	for (char *u = strtok_r(urls, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
		char **nv = realloc(e->urls, (e->nurls + 1) * sizeof(*nv));

		if (!nv)
			goto nomem;
		e->urls = nv;
		while (strlen(u) > 1 && u[strlen(u) - 1] == '/')
			u[strlen(u) - 1] = '\0';
		if (!(e->urls[e->nurls] = strdup(u)))
			goto nomem;
		e->nurls++;
	}
	free(urls);
	urls = NULL;
	/* the range of the prefix: the prefix with its last byte + 1 */
	plen = strlen(o->etcd_prefix);
	e->prefix = strdup(o->etcd_prefix);
	end = strdup(o->etcd_prefix);
	if (!e->prefix || !end)
		goto nomem;
	while (plen && (unsigned char)end[plen - 1] == 0xff)
		plen--;
	if (plen)
		end[plen - 1]++;
	e->key_b64 = b64_enc(e->prefix, strlen(e->prefix));
	e->end_b64 = plen ? b64_enc(end, plen) : strdup("AA==");
	free(end);
	if (!e->key_b64 || !e->end_b64)
		goto nomem;
	*out = e;
	return 0;
nomem:
	free(urls);
	etcd_close(e);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

int etcd_start(struct etcd *e)
{
	int ret;

	if (!e)
		return 0;
	ret = -pthread_create(&e->th, NULL, run, e);
	if (ret)
		logf_("cannot start the watching thread: %s", strerror(-ret));
	else
		e->started = true;
	return ret;
}

int etcd_take(struct etcd *e, struct ps_texts *t)
{
	int ret = 0;

	pthread_mutex_lock(&e->mu);
	if (e->fresh) {
		*t = e->snap;
		memset(&e->snap, 0, sizeof(e->snap));
		e->fresh = false;
		ret = 1;
	}
	pthread_mutex_unlock(&e->mu);
	return ret;
}

void etcd_resync(struct etcd *e)
{
	if (e)
		atomic_store(&e->resync, 1);
}

void etcd_close(struct etcd *e)
{
	if (!e)
		return;
	atomic_store(&e->stop, 1);
	if (e->started)
		pthread_join(e->th, NULL);
	for (size_t i = 0; i < e->nurls; i++)
		free(e->urls[i]);
	free(e->urls);
	free(e->prefix);
	free(e->key_b64);
	free(e->end_b64);
	free(e->line);
	ps_texts_free(&e->kv);
	ps_texts_free(&e->snap);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

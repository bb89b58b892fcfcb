// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* oci.c - parsing the OCI runtime's state and the bundle's config. */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <jansson.h>

#include "oci.h"
#include "parse.h"

#define fail(...) do { snprintf(err, errlen, __VA_ARGS__); ret = -EINVAL; goto out; } while (0)

bool oci_key_folds_to(const char *key, const char *canon)
{
	/* the non-ASCII runes whose Go fold (ToUpper(ToLower(r))) is an ASCII letter */
	static const struct { const char *utf8; char ascii; } special[] = {
		{ "\xe2\x84\xaa", 'k' },	/* U+212A KELVIN SIGN */
		{ "\xc5\xbf", 's' },		/* U+017F LATIN SMALL LETTER LONG S */
		{ "\xc4\xb1", 'i' },		/* U+0131 LATIN SMALL LETTER DOTLESS I */
		{ "\xc4\xb0", 'i' },		/* U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE */
	};
	const unsigned char *k = (const unsigned char *)key;

	for (; *canon; canon++) {
		char c = 0;

		if (*k < 0x80) {
			c = (char)tolower(*k);
			k += *k ? 1 : 0;
		} else {
			for (size_t i = 0; i < sizeof(special) / sizeof(special[0]) && !c; i++) {
				size_t n = strlen(special[i].utf8);

				if (!strncmp((const char *)k, special[i].utf8, n)) {
					c = special[i].ascii;
					k += n;
				}
			}
		}
		if (!c || c != tolower((unsigned char)*canon))
			return false;
	}
	return !*k;
}

/* s for a one-line message: control characters as '?', at most 64 bytes */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len && i < 64; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

/*
 * obj's member canon (NULL if obj is not an object or has none), read as
 * the runtime reads it: a key that it would also take for canon, spelled
 * otherwise, is an error.
 */
static int field(json_t *obj, const char *canon, const char *where, json_t **out, char *err,
		 size_t errlen)
{
	const char *k;
	json_t *v;

	*out = NULL;
	if (!json_is_object(obj))
		return 0;
	json_object_foreach(obj, k, v) {
		char buf[72];

		if (strcmp(k, canon) && oci_key_folds_to(k, canon)) {
			snprintf(err, errlen, "%s: key '%s' differs from '%s' only in case, and the runtime "
				 "reads it as '%s': spell it '%s'", where, printable(k, buf, sizeof(buf)),
				 canon, canon, canon);
			return -EINVAL;
		}
	}
	*out = json_object_get(obj, canon);
	return 0;
}

/* field() down a path of keys: "process", "capabilities", NULL */
static int path_get(json_t *root, const char *where, json_t **out, char *err, size_t errlen, ...)
{
	va_list ap;
	const char *k;
	json_t *v = root;
	int ret = 0;

	va_start(ap, errlen);
	while (v && (k = va_arg(ap, const char *))) {
		ret = field(v, k, where, &v, err, errlen);
		if (ret)
			break;
	}
	va_end(ap);
	*out = ret ? NULL : v;
	return ret;
}

static int copy_policy(json_t *root, const char *where, char *dst, char *err, size_t errlen)
{
	char why[ERRBUF_LEN];
	json_t *a;
	const char *v;
	int ret = field(root, "annotations", where, &a, err, errlen);

	dst[0] = '\0';
	if (ret)
		return ret;
	v = json_string_value(json_object_get(a, OCI_ANNOTATION));
	if (!v)
		return 0;
	if (parse_policy_name(v, why, sizeof(why))) {
		snprintf(err, errlen, "annotation %s: %s", OCI_ANNOTATION, why);
		return -EINVAL;
	}
	snprintf(dst, EGRESS_NAME_MAX, "%s", v);
	return 0;
}

int oci_state_parse(const char *json, size_t len, bool need_pid, struct oci_state *out,
		    char *err, size_t errlen)
{
	const char *where = "OCI state";
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr), *v;
	const char *id, *bundle;
	char buf[72];
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!root)
		fail("OCI state is not JSON: %s (line %d)", printable(jerr.text, buf, sizeof(buf)), jerr.line);
	if (!json_is_object(root))
		fail("OCI state is not a JSON object");
	if ((ret = field(root, "id", where, &v, err, errlen)))
		goto out;
	id = json_string_value(v);
	if (!id || !*id || strlen(id) >= OCI_ID_MAX)
		fail("OCI state: 'id' missing, empty or longer than %d", OCI_ID_MAX - 1);
	snprintf(out->id, sizeof(out->id), "%s", id);
	if ((ret = field(root, "pid", where, &v, err, errlen)))
		goto out;
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0x3fffffff))
		fail("OCI state: 'pid' is not a process id");
	out->pid = v ? json_integer_value(v) : 0;
	if (need_pid && out->pid <= 0)
		fail("OCI state: no 'pid' (is this hook installed as createRuntime?)");
	if ((ret = field(root, "bundle", where, &v, err, errlen)))
		goto out;
	bundle = json_string_value(v);
	if (bundle && strlen(bundle) >= sizeof(out->bundle))
		fail("OCI state: 'bundle' too long");
	snprintf(out->bundle, sizeof(out->bundle), "%s", bundle ? bundle : "");
	ret = copy_policy(root, where, out->policy, err, errlen);
out:
	json_decref(root);
	return ret;
}

static const char *const risky[] = { "CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_BPF" };

/* "CAP_NET_RAW", "cap_net_raw" and "NET_RAW" all name CAP_NET_RAW (for some runtime) */
static bool cap_is(const char *c, const char *cap)
{
	return !strcasecmp(c, cap) || !strcasecmp(c, cap + 4);
}

static int caps_parse(json_t *root, struct oci_config *out, char *err, size_t errlen)
{
	static const char *const sets[] = { "bounding", "effective", "permitted", "inheritable", "ambient" };
	bool seen[sizeof(risky) / sizeof(risky[0])] = {};
	json_t *caps, *set, *el;
	size_t i;
	int ret = path_get(root, "config.json", &caps, err, errlen, "process", "capabilities", NULL);

	for (size_t s = 0; !ret && caps && s < sizeof(sets) / sizeof(sets[0]); s++) {
		ret = field(caps, sets[s], "config.json", &set, err, errlen);
		json_array_foreach(ret ? NULL : set, i, el) {
			const char *c = json_string_value(el);

			for (size_t r = 0; c && r < sizeof(risky) / sizeof(risky[0]); r++)
				seen[r] |= cap_is(c, risky[r]);
		}
	}
	for (size_t r = 0; r < sizeof(risky) / sizeof(risky[0]); r++) {
		if (!seen[r])
			continue;
		if (out->risky_caps[0])
			strncat(out->risky_caps, " ", sizeof(out->risky_caps) - strlen(out->risky_caps) - 1);
		strncat(out->risky_caps, risky[r], sizeof(out->risky_caps) - strlen(out->risky_caps) - 1);
	}
	return ret;
}

static int namespaces_parse(json_t *root, struct oci_config *out, char *err, size_t errlen)
{
	json_t *ns, *el, *v;
	size_t i;
	int ret = path_get(root, "config.json", &ns, err, errlen, "linux", "namespaces", NULL);

	json_array_foreach(ret ? NULL : ns, i, el) {
		const char *type, *path;

		if ((ret = field(el, "type", "config.json", &v, err, errlen)))
			break;
		type = json_string_value(v);
		if ((ret = field(el, "path", "config.json", &v, err, errlen)))
			break;
		path = json_string_value(v);
		if (!type)
			continue;
		if (!strcmp(type, "network")) {
			if (path && *path)
				snprintf(out->netns_path, sizeof(out->netns_path), "%s", path);
			else
				out->own_netns = true;
		}
		out->own_mountns |= !strcmp(type, "mount");
		out->own_cgroupns |= !strcmp(type, "cgroup");
	}
	return ret;
}

static int mounts_parse(json_t *root, struct oci_config *out, char *err, size_t errlen)
{
	json_t *mounts, *el, *v, *opt;
	size_t i, j;
	int ret = field(root, "mounts", "config.json", &mounts, err, errlen);

	if (ret || !json_array_size(mounts))
		return ret;
	out->mounts = calloc(json_array_size(mounts), sizeof(*out->mounts));
	if (!out->mounts) {
		snprintf(err, errlen, "config.json: out of memory");
		return -ENOMEM;
	}
	json_array_foreach(mounts, i, el) {
		struct oci_mount *m = &out->mounts[out->nmounts];
		const char **s[] = { &m->destination, &m->type, &m->source };
		const char *keys[] = { "destination", "type", "source" };

		if (!json_is_object(el))
			continue;
		for (size_t k = 0; k < 3; k++) {
			if ((ret = field(el, keys[k], "config.json", &v, err, errlen)))
				return ret;
			*s[k] = json_string_value(v) ?: "";
		}
		if ((ret = field(el, "options", "config.json", &v, err, errlen)))
			return ret;
		m->bind = !strcmp(m->type, "bind");
		json_array_foreach(v, j, opt) {
			const char *o = json_string_value(opt);

			if (!o)
				continue;
			m->bind |= !strcmp(o, "bind") || !strcmp(o, "rbind");
			m->rbind |= !strcmp(o, "rbind");
			m->ro |= !strcmp(o, "ro");
			m->rro |= !strcmp(o, "rro");
		}
		m->ro |= m->rro;
		out->nmounts++;
	}
	return 0;
}

int oci_config_parse(const char *json, size_t len, struct oci_config *out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	char buf[72];
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!root)
		fail("config.json is not JSON: %s (line %d)", printable(jerr.text, buf, sizeof(buf)), jerr.line);
	if (!json_is_object(root))
		fail("config.json is not a JSON object");
	ret = copy_policy(root, "config.json", out->policy, err, errlen);
	if (!ret)
		ret = caps_parse(root, out, err, errlen);
	if (!ret)
		ret = namespaces_parse(root, out, err, errlen);
	if (!ret)
		ret = mounts_parse(root, out, err, errlen);
out:
	if (ret) {
		json_decref(root);
		free(out->mounts);
		out->mounts = NULL;
		out->nmounts = 0;
	} else {
		out->json = root;
	}
	return ret;
}

void oci_config_free(struct oci_config *cfg)
{
	free(cfg->mounts);
	cfg->mounts = NULL;
	cfg->nmounts = 0;
	json_decref(cfg->json);
	cfg->json = NULL;
}

/*
 * No network namespace of its own, or a path to the runtime's (the host's)
 * one.  A path that cannot be compared counts as the host's: fail closed.
 */
bool oci_host_netns(const struct oci_config *cfg)
{
	struct stat a, b;

	if (cfg->own_netns)
		return false;
	if (!cfg->netns_path[0])
		return true;
	if (stat(cfg->netns_path, &a) || stat("/proc/self/ns/net", &b))
		return true;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* FNV-1a of the bundle path: two runtimes may use the same id */
void oci_key(struct egress_oci_key *key, const struct oci_state *os)
{
	memset(key, 0, sizeof(*key));
	snprintf(key->id, sizeof(key->id), "%s", os->id);
	key->bundle_hash = 0xcbf29ce484222325ULL;
	for (const char *b = os->bundle; *b; b++)
		key->bundle_hash = (key->bundle_hash ^ (unsigned char)*b) * 0x100000001b3ULL;
}

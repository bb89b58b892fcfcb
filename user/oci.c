// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* oci.c - parsing the OCI runtime's state and the bundle's config. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "oci.h"
#include "parse.h"

#define fail(...) do { snprintf(err, errlen, __VA_ARGS__); ret = -EINVAL; goto out; } while (0)

static const char *annotation(json_t *root)
{
	json_t *a = json_object_get(root, "annotations");

	return a ? json_string_value(json_object_get(a, OCI_ANNOTATION)) : NULL;
}

static int copy_policy(const char *v, char *dst, char *err, size_t errlen)
{
	char why[ERRBUF_LEN];

	if (!v) {
		dst[0] = '\0';
		return 0;
	}
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
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr), *v;
	const char *id, *bundle;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!root)
		fail("OCI state is not JSON: %s (line %d)", jerr.text, jerr.line);
	if (!json_is_object(root))
		fail("OCI state is not a JSON object");
	id = json_string_value(json_object_get(root, "id"));
	if (!id || !*id || strlen(id) >= OCI_ID_MAX)
		fail("OCI state: 'id' missing, empty or longer than %d", OCI_ID_MAX - 1);
	snprintf(out->id, sizeof(out->id), "%s", id);
	v = json_object_get(root, "pid");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0x3fffffff))
		fail("OCI state: 'pid' is not a process id");
	out->pid = v ? json_integer_value(v) : 0;
	if (need_pid && out->pid <= 0)
		fail("OCI state: no 'pid' (is this hook installed as createRuntime?)");
	bundle = json_string_value(json_object_get(root, "bundle"));
	if (bundle && strlen(bundle) >= sizeof(out->bundle))
		fail("OCI state: 'bundle' too long");
	snprintf(out->bundle, sizeof(out->bundle), "%s", bundle ? bundle : "");
	ret = copy_policy(annotation(root), out->policy, err, errlen);
out:
	json_decref(root);
	return ret;
}

static const char *const risky[] = { "CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_BPF" };

int oci_config_parse(const char *json, size_t len, struct oci_config *out, char *err, size_t errlen)
{
	static const char *const sets[] = { "bounding", "effective", "permitted", "inheritable", "ambient" };
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr), *caps, *ns, *el;
	bool seen[sizeof(risky) / sizeof(risky[0])] = {};
	size_t i;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!root)
		fail("config.json is not JSON: %s (line %d)", jerr.text, jerr.line);
	if (!json_is_object(root))
		fail("config.json is not a JSON object");
	ret = copy_policy(annotation(root), out->policy, err, errlen);
	if (ret)
		goto out;
	caps = json_object_get(json_object_get(root, "process"), "capabilities");
	for (size_t s = 0; caps && s < sizeof(sets) / sizeof(sets[0]); s++) {
		json_array_foreach(json_object_get(caps, sets[s]), i, el) {
			const char *c = json_string_value(el);

			for (size_t r = 0; c && r < sizeof(risky) / sizeof(risky[0]); r++)
				seen[r] |= !strcmp(c, risky[r]);
		}
	}
	for (size_t r = 0; r < sizeof(risky) / sizeof(risky[0]); r++) {
		if (!seen[r])
			continue;
		if (out->risky_caps[0])
			strncat(out->risky_caps, " ", sizeof(out->risky_caps) - strlen(out->risky_caps) - 1);
		strncat(out->risky_caps, risky[r], sizeof(out->risky_caps) - strlen(out->risky_caps) - 1);
	}
	ns = json_object_get(json_object_get(root, "linux"), "namespaces");
	json_array_foreach(ns, i, el) {
		const char *type = json_string_value(json_object_get(el, "type"));

		if (type && !strcmp(type, "network")) {
			const char *path = json_string_value(json_object_get(el, "path"));

			if (path && *path)
				snprintf(out->netns_path, sizeof(out->netns_path), "%s", path);
			else
				out->own_netns = true;
		}
	}
out:
	json_decref(root);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* test_oci.c - user/oci.c: the OCI state and config.json, read as runc reads them. */
#include "helpers.h"
#include "oci.h"

static int cfg_parse(const char *json, struct oci_config *cfg, char *err, size_t errlen)
{
	return oci_config_parse(json, strlen(json), cfg, err, errlen);
}

/* json parses, and its risky capabilities are exactly want */
static void caps_are(const char *json, const char *want)
{
	struct oci_config cfg;
	char err[ERRBUF_LEN] = "";

	if (cfg_parse(json, &cfg, err, sizeof(err)))
		fail_msg("%s: refused: %s", json, err);
	if (strcmp(cfg.risky_caps, want))
		fail_msg("%s: risky caps '%s', expected '%s'", json, cfg.risky_caps, want);
	oci_config_free(&cfg);
}

/* json is refused with a message containing sub (one line) */
static void refused(const char *json, const char *sub)
{
	struct oci_config cfg;
	char err[ERRBUF_LEN] = "";

	if (!cfg_parse(json, &cfg, err, sizeof(err))) {
		oci_config_free(&cfg);
		fail_msg("%s: accepted, expected a refusal naming '%s'", json, sub);
	}
	assert_contains(err, sub);
	assert_null(strchr(err, '\n'));
}

static void test_oci_key_fold(void **state)
{
	assert_true(oci_key_folds_to("capabilities", "capabilities"));
	assert_true(oci_key_folds_to("Capabilities", "capabilities"));
	assert_true(oci_key_folds_to("CAPABILITIES", "capabilities"));
	/* Go folds the long s, the Kelvin sign and the Turkish i's to ASCII */
	assert_true(oci_key_folds_to("capabilitie\xc5\xbf", "capabilities"));
	assert_true(oci_key_folds_to("\xe2\x84\xaa" "ey", "key"));
	assert_true(oci_key_folds_to("capab\xc4\xb1lities", "capabilities"));
	assert_true(oci_key_folds_to("capab\xc4\xb0lities", "capabilities"));
	assert_false(oci_key_folds_to("capabilitie", "capabilities"));
	assert_false(oci_key_folds_to("capabilitiess", "capabilities"));
	assert_false(oci_key_folds_to("capabilit\xc3\xa9s", "capabilities"));
	assert_false(oci_key_folds_to("", "path"));
	assert_false(oci_key_folds_to("pat", "path"));
}

static void test_oci_caps_any_set(void **state)
{
	caps_are("{\"process\":{\"capabilities\":{\"bounding\":[\"CAP_NET_RAW\"]}}}", "CAP_NET_RAW");
	caps_are("{\"process\":{\"capabilities\":{\"ambient\":[\"CAP_BPF\"],\"inheritable\":[\"CAP_SYS_ADMIN\"]}}}",
		 "CAP_SYS_ADMIN CAP_BPF");
	caps_are("{\"process\":{\"capabilities\":{\"effective\":[\"cap_net_admin\"]}}}", "CAP_NET_ADMIN");
	caps_are("{\"process\":{\"capabilities\":{\"effective\":[\"CAP_CHOWN\"]}}}", "");
	caps_are("{}", "");
}

/* issue 16 item 1: runc reads these keys; --strict must not be blind to them */
static void test_oci_case_variants_refused(void **state)
{
	refused("{\"process\":{\"Capabilities\":{\"bounding\":[\"CAP_NET_RAW\"]}}}", "'Capabilities'");
	refused("{\"Process\":{\"capabilities\":{\"bounding\":[\"CAP_NET_RAW\"]}}}", "'Process'");
	refused("{\"process\":{\"capabilities\":{\"Bounding\":[\"CAP_NET_RAW\"]}}}", "'Bounding'");
	refused("{\"process\":{\"capabilities\":{\"bounding\":[],\"EFFECTIVE\":[\"CAP_NET_RAW\"]}}}",
		"'EFFECTIVE'");
	refused("{\"process\":{\"capabilitie\xc5\xbf\":{\"bounding\":[\"CAP_NET_RAW\"]}}}", "capabilities");
	refused("{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"Path\":\"/proc/1/ns/net\"}]}}", "'Path'");
	refused("{\"linux\":{\"namespaces\":[{\"Type\":\"network\"}]}}", "'Type'");
	refused("{\"Linux\":{\"namespaces\":[]}}", "'Linux'");
	refused("{\"linux\":{\"Namespaces\":[]}}", "'Namespaces'");
	refused("{\"Annotations\":{\"egress.policy\":\"pro\"}}", "'Annotations'");
	refused("{\"Mounts\":[]}", "'Mounts'");
	refused("{\"mounts\":[{\"destination\":\"/x\",\"Source\":\"/sys/fs/bpf\",\"type\":\"bind\"}]}", "'Source'");
	refused("{\"mounts\":[{\"destination\":\"/x\",\"Options\":[\"rbind\"]}]}", "'Options'");
	/* the message is one line, whatever the key holds */
	refused("{\"process\":{\"Capabilities\\n\":1,\"CAPABILITIES\":{}}}", "'CAPABILITIES'");
	/* jansson quotes the input in its errors: still one line */
	refused("{\"a\":\"\\u2\n\n\n12a\"}", "not JSON");
	/* duplicates: Go takes the last, jansson the first: refused */
	refused("{\"process\":{\"capabilities\":{\"bounding\":[]},\"capabilities\":{\"bounding\":[\"CAP_NET_RAW\"]}}}",
		"duplicate");
	/* a key that only looks alike is not the field: accepted, ignored */
	caps_are("{\"process\":{\"capabilitiez\":{\"bounding\":[\"CAP_NET_RAW\"]}}}", "");
}

static void test_oci_namespaces(void **state)
{
	struct oci_config cfg;
	char err[ERRBUF_LEN] = "";

	assert_int_equal(cfg_parse("{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/run/netns/x\"},"
				   "{\"type\":\"mount\"},{\"type\":\"cgroup\"}]}}", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.netns_path, "/run/netns/x");
	assert_false(cfg.own_netns);
	assert_true(cfg.own_mountns);
	assert_true(cfg.own_cgroupns);
	oci_config_free(&cfg);
	assert_int_equal(cfg_parse("{\"linux\":{\"namespaces\":[{\"type\":\"network\"}]}}", &cfg, err,
				   sizeof(err)), 0);
	assert_true(cfg.own_netns);
	assert_false(cfg.own_mountns);
	assert_false(cfg.own_cgroupns);
	oci_config_free(&cfg);
}

static void test_oci_mounts(void **state)
{
	struct oci_config cfg;
	char err[ERRBUF_LEN] = "";

	assert_int_equal(cfg_parse("{\"mounts\":["
		"{\"destination\":\"/b\",\"type\":\"bind\",\"source\":\"/sys/fs/bpf\"},"
		"{\"destination\":\"/s\",\"type\":\"none\",\"source\":\"/sys\",\"options\":[\"rbind\",\"ro\"]},"
		"{\"destination\":\"/c\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"rro\"]},"
		"{\"destination\":\"/p\",\"type\":\"proc\"},"
		"\"junk\"]}", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.nmounts, 4);
	assert_string_equal(cfg.mounts[0].source, "/sys/fs/bpf");
	assert_true(cfg.mounts[0].bind);
	assert_false(cfg.mounts[0].rbind);
	assert_false(cfg.mounts[0].ro);
	assert_true(cfg.mounts[1].bind && cfg.mounts[1].rbind && cfg.mounts[1].ro && !cfg.mounts[1].rro);
	assert_true(!cfg.mounts[2].bind && cfg.mounts[2].ro && cfg.mounts[2].rro);
	assert_string_equal(cfg.mounts[2].type, "cgroup");
	assert_string_equal(cfg.mounts[3].source, "");
	oci_config_free(&cfg);
}

static void test_oci_state(void **state)
{
	struct oci_state st;
	char err[ERRBUF_LEN] = "";
	const char *ok = "{\"id\":\"c1\",\"pid\":42,\"bundle\":\"/b\",\"annotations\":{\"egress.policy\":\"free\"}}";

	assert_int_equal(oci_state_parse(ok, strlen(ok), true, &st, err, sizeof(err)), 0);
	assert_string_equal(st.id, "c1");
	assert_int_equal(st.pid, 42);
	assert_string_equal(st.policy, "free");
	ok = "{\"id\":\"c1\",\"Pid\":42}";
	assert_int_not_equal(oci_state_parse(ok, strlen(ok), false, &st, err, sizeof(err)), 0);
	assert_contains(err, "'Pid'");
	ok = "{\"id\":\"c1\",\"pid\":42,\"Bundle\":\"/elsewhere\"}";
	assert_int_not_equal(oci_state_parse(ok, strlen(ok), true, &st, err, sizeof(err)), 0);
	assert_contains(err, "'Bundle'");
}

const struct CMUnitTest oci_tests[] = {
	cmocka_unit_test(test_oci_key_fold),
	cmocka_unit_test(test_oci_caps_any_set),
	cmocka_unit_test(test_oci_case_variants_refused),
	cmocka_unit_test(test_oci_namespaces),
	cmocka_unit_test(test_oci_mounts),
	cmocka_unit_test(test_oci_state),
};
UNIT_GROUP(oci)

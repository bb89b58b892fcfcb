#!/bin/bash
# 95-fleet-manifests.sh - deploy/: the Kubernetes manifests parse as YAML
# and hold what matters (privileged egressd, host bpffs with bidirectional
# propagation, the cgroup2 mount, /run/egress, the policy ConfigMap at the
# --policy-dir path, /healthz probes on the metrics port, the init step
# installing egressctl where the hooks look, RuntimeClasses naming the
# containerd handlers, Prometheus keeping the DaemonSet's pods); every
# egressd and egressctl argument they use is accepted by the binaries; and
# the DaemonSet's egressd command line, with this test's paths, runs: it
# applies the ConfigMap's policies and answers /healthz.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../fleet-lib.sh"
setup
/usr/bin/python3 -c 'import yaml, tomllib' 2>/dev/null || skip_all "python3-yaml (and Python >= 3.11) needed"
D=$ROOT/deploy

CMDIR=$T/cmsrc /usr/bin/python3 - "$D" >"$T/checks" 2>&1 <<'EOF'
import glob, json, os, sys, tomllib, yaml

d = sys.argv[1]
def ok(name, cond, why=""):
    print(("PASS " + name) if cond else ("FAIL " + name + " " + why))

docs = {}
for f in sorted(glob.glob(d + "/kubernetes/*.yaml")):
    try:
        for doc in yaml.safe_load_all(open(f)):
            if doc and "kind" in doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
        ok("yaml/" + os.path.basename(f), True)
    except Exception as e:
        ok("yaml/" + os.path.basename(f), False, str(e))

ds = docs[("DaemonSet", "egressd")]
spec = ds["spec"]["template"]["spec"]
c = [x for x in spec["containers"] if x["name"] == "egressd"][0]
args = c["args"]
opt = {args[i]: args[i + 1] for i in range(0, len(args) - 1) if args[i].startswith("--") and not args[i + 1].startswith("--")}
vols = {v["name"]: v for v in spec["volumes"]}
mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
ok("ds/privileged", c.get("securityContext", {}).get("privileged") is True)
ok("ds/selector-matches", ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items())
m = mounts.get("/sys/fs/bpf")
ok("ds/host-bpffs", m and vols[m["name"]]["hostPath"]["path"] == "/sys/fs/bpf" and m.get("mountPropagation") == "Bidirectional")
ok("ds/pin-dir-on-host-bpffs", opt.get("--pin-dir", "").startswith("/sys/fs/bpf/"))
m = mounts.get("/sys/fs/cgroup")
ok("ds/cgroup2", m and vols[m["name"]]["hostPath"]["path"] == "/sys/fs/cgroup")
m = mounts.get("/run/egress")
ok("ds/run-egress", m and vols[m["name"]]["hostPath"]["path"] == "/run/egress" and opt.get("--events-socket", "").startswith("/run/egress/"))
m = mounts.get(opt.get("--policy-dir"))
ok("ds/policy-dir-is-configmap", m and vols[m["name"]].get("configMap", {}).get("name") == "egress-policies" and "subPath" not in m,
   "a subPath mount never updates")
port = opt.get("--metrics-addr", "").rsplit(":", 1)
cports = {p["name"]: p["containerPort"] for p in c["ports"]}
ok("ds/metrics-port", port[0] == "0.0.0.0" and cports.get("metrics") == int(port[1]))
for probe in ("livenessProbe", "readinessProbe"):
    h = c.get(probe, {}).get("httpGet", {})
    ok("ds/" + probe, h.get("path") == "/healthz" and (h.get("port") == "metrics" or h.get("port") == int(port[1])))
init = spec["initContainers"][0]
imounts = {m["mountPath"]: vols[m["name"]]["hostPath"]["path"] for m in init["volumeMounts"]}
ok("ds/init-installs-egressctl", imounts.get("/host/usr/local/sbin") == "/usr/local/sbin" and
   imounts.get("/host/opt/egress") == "/opt/egress" and init["command"][-2:] == ["/opt/egress/install.sh", "/host"])
ok("ds/default-runtime", "runtimeClassName" not in spec, "egressd must not depend on the runtime it enables")

hooks = []
for f in sorted(glob.glob(d + "/containerd/*.json")):
    s = json.load(open(f))
    for stage, hs in s["hooks"].items():
        hooks += [(os.path.basename(f) + ":" + stage, h) for h in hs]
for f in sorted(glob.glob(d + "/hooks.d/*.json")):
    s = json.load(open(f))
    hooks.append((os.path.basename(f), s["hook"]))
for name, h in hooks:
    ok("hook-path/" + name, h["path"] == "/usr/local/sbin/egressctl")
    print("EGRESSCTL " + json.dumps(h["args"][1:]))
cfg = tomllib.load(open(d + "/containerd/config.toml", "rb"))
rts = cfg["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
for tier in ("free", "pro"):
    rc = docs.get(("RuntimeClass", "egress-" + tier))
    ok("runtimeclass/" + tier, rc and rc["handler"] in rts)
    r = rts.get("egress-" + tier, {})
    spec_file = os.path.join(d, "containerd", os.path.basename(r.get("base_runtime_spec", "")))
    ok("containerd/" + tier + "-spec", r.get("runtime_type") == "io.containerd.runc.v2" and os.path.exists(spec_file) and
       json.load(open(spec_file))["hooks"]["createRuntime"][0]["args"][-3:] == ["--policy", tier, "--strict"])
cm = docs[("ConfigMap", "egress-policies")]
os.makedirs(os.environ.get("CMDIR", "/nonexistent"), exist_ok=True)
for k, v in cm["data"].items():
    ok("configmap/" + k + "-name", k.endswith(".policy"))
    open(os.path.join(os.environ["CMDIR"], k), "w").write(v)
prom = yaml.safe_load(open(d + "/kubernetes/prometheus-scrape.yaml"))
job = prom["scrape_configs"][0]
keeps = {tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"}
ok("prometheus/keeps-egressd", keeps.get(("__meta_kubernetes_pod_label_app_kubernetes_io_name",)) ==
   ds["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"])
ok("prometheus/keeps-metrics-port", keeps.get(("__meta_kubernetes_pod_container_port_name",)) == "metrics")
print("EGRESSD " + json.dumps(args))
EOF
[ -s "$T/checks" ] || die "the manifest checker printed nothing"
while read -r word name why; do
	case $word in
	PASS) pass "$name" ;;
	FAIL) fail "$name" "$why" ;;
	esac
done <"$T/checks"
grep -v '^\(PASS\|FAIL\|EGRESSD\|EGRESSCTL\) ' "$T/checks" | grep . && fail checker "$(cat "$T/checks")"

# every argument the binaries are given: parsed by them (--help after them
# exits 0 only if everything before it was accepted)
mapfile -t ds_args < <(grep '^EGRESSD ' "$T/checks" | cut -d' ' -f2- | jq -r '.[]')
check args/egressd-daemonset "$EGRESSD" "${ds_args[@]}" --help
n=0
while read -r line; do
	n=$((n + 1))
	mapfile -t a < <(jq -r '.[]' <<<"$line")
	check "args/egressctl-hook-$n" "$EGRESSCTL" "${a[@]}" --help
done < <(grep '^EGRESSCTL ' "$T/checks" | cut -d' ' -f2-)
check_eq args/hooks-checked 6 "$n"

# the DaemonSet's command line, run here: its paths mapped to the test's
CM=$T/cm
mkdir -p "$CM"
cm_update "$CM" "$T/cmsrc" || die "configmap layout"
run_args=()
for a in "${ds_args[@]}"; do
	case $a in
	/sys/fs/bpf/egress) a=$PIN ;;
	/etc/egress/policies) a=$CM ;;
	0.0.0.0:9464) a=127.0.0.1:29409 ;;
	/run/egress/events.sock) a=$T/events.sock ;;
	/*) die "unmapped path $a in the DaemonSet's args" ;;
	esac
	run_args+=("$a")
done
"$EGRESSD" "${run_args[@]}" >/dev/null 2>"$T/ds.err" &
EGRESSD_PID=$!
BG_PIDS+=($!)
check run/ready wait_until "$TO" grep -q '^{.*ready\|^egressd: ready' "$T/ds.err"
check run/healthz wait_until 10 curl -sf --max-time 2 http://127.0.0.1:29409/healthz
check run/configmap-applied wait_until 10 sh -c "'$EGRESSCTL' status --pin-dir '$PIN' --json | jq -e '.policy_set.policies == [\"free\",\"pro\"] and .policy_set.errors_total == 0'"
check run/metrics-policy-set sh -c "curl -s http://127.0.0.1:29409/metrics | grep -q '^egress_policy_set_info{source=\"dir:$CM\"'"
finish

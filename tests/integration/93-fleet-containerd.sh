#!/bin/bash
# 93-fleet-containerd.sh - containerd 1.6 (Debian's, driven with ctr) with
# the free tier's runtime spec, deploy/containerd/egress-free.json, as
# shipped but for the paths this test owns (rootfs, process, cgroup, netns,
# the egressctl copy, the pin dir through the hook's environment).  The
# container's first instruction is the connect: the proxy is reachable and
# a direct connect gets EPERM.  With egress not loaded the hook fails, ctr
# fails, and no container, task or process is left.  containerd runs with
# its own root, state and socket under the test's temp dir (CRI off).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../e2e-lib.sh"
source "$(dirname "$0")/../fleet-lib.sh"
setup 192.0.2.10 192.0.2.20
e2e_setup runc
for t in containerd ctr containerd-shim-runc-v2; do
	command -v "$t" >/dev/null || skip_all "$t not installed (sh scripts/deps.sh test)"
done

C=$T/containerd
NSP=egress-test-$RUNTAG-$$
mkdir -p "$C"
cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd.ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
EOF
containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
BG_PIDS+=($!)
ctrx() { timeout "$TO" ctr --address "$C/containerd.sock" --namespace "$NSP" "$@"; }
wait_until 20 ctrx version || die "containerd did not start: $(tail -5 "$C/containerd.log")"

# containers first, then containerd (lib.sh's cleanup kills it)
ctr_cleanup() {
	local id
	for id in $(ctrx tasks ls -q 2>/dev/null); do
		ctrx tasks kill -s KILL "$id" >/dev/null 2>&1
		ctrx tasks rm -f "$id" >/dev/null 2>&1
	done
	for id in $(ctrx containers ls -q 2>/dev/null); do
		ctrx containers rm "$id" >/dev/null 2>&1
	done
	ctrx namespaces rm "$NSP" >/dev/null 2>&1
	rm -rf "/run/containerd/runc/${NSP:?}"	# the shim's runc root for our namespace
}
trap 'rc=$?; ctr_cleanup; (exit $rc); _e2e_exit' EXIT

make_rootfs "$T/rootfs" || die "rootfs"
start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
# free: the proxy 192.0.2.10 tcp 3128 only
ectl_ok setup apply -f "$ROOT/tests/fixtures/free.policy" || die "apply tests/fixtures/free.policy"
listen proxy tcp 192.0.2.10 3128
listen web tcp 192.0.2.20 80
mkcg ctr

SPEC_SRC=$ROOT/deploy/containerd/egress-free.json
check spec/shipped-hook jq -e '.hooks.createRuntime[0].args == ["egressctl","oci-hook","--policy","free","--strict"] and
	.hooks.poststop[0].args == ["egressctl","oci-hook","poststop"] and
	(.process.capabilities | [.[]] | flatten | index("CAP_NET_RAW") == null)' "$SPEC_SRC"

# spec ID PIN-DIR CMD...: the shipped spec, with this test's paths
spec() {
	local id=$1 pin=$2
	shift 2
	jq --arg root "$T/rootfs" --arg cg "${CGROOT#"$CG2"}/ctr/$id" --arg ns "/run/netns/$NS" \
		--arg ectl "$EGRESSCTL_ANYONE" --arg pin "$pin" --argjson args "$(printf '%s\n' "$@" | jq -R . | jq -s .)" '
		.root = {path: $root, readonly: true}
		| .process.args = $args | .process.terminal = false
		| .process.user = {uid: 65534, gid: 65534}
		| .linux.cgroupsPath = $cg
		| .linux.namespaces = [.linux.namespaces[] | if .type == "network" then .path = $ns else . end]
		| .hooks[][] |= (.path = $ectl | .env = ["EGRESS_PIN_DIR=" + $pin])' "$SPEC_SRC" >"$T/spec.$id.json"
}

# ---- enforced from the first instruction
spec direct "$PIN" /e2e/probe tcp 192.0.2.20 80
out=$(ctrx run --rm --config "$T/spec.direct.json" direct 2>"$T/direct.err")
check_eq first-instruction/direct-connect-eperm EPERM "$out"
spec proxy "$PIN" /e2e/probe tcp 192.0.2.10 3128
out=$(ctrx run --rm --config "$T/spec.proxy.json" proxy 2>"$T/proxy.err")
check_eq first-instruction/proxy-reachable ok "$out"
check_eq first-instruction/proxy-got-it 1 "$(count proxy)"
check_eq first-instruction/web-never-reached 0 "$(count web)"
check_eq poststop/binding-removed "" "$(ectl status --json | jq -r '.bindings[] | select(.cgroup | test("/ctr/"))| .cgroup')"

# a long-running one: bound while it runs, as egressctl check sees it
spec long "$PIN" /bin/sleep 30
ctrx run -d --config "$T/spec.long.json" long >/dev/null 2>"$T/long.err" || fail long/started "$(cat "$T/long.err")"
check long/checked ectl check "$CGROOT/ctr/long"
ctrx tasks kill -s KILL long >/dev/null 2>&1
wait_until 10 sh -c "! ctr --address '$C/containerd.sock' --namespace '$NSP' tasks ls -q | grep -qx long"
ctrx tasks rm long >/dev/null 2>&1
ctrx containers rm long >/dev/null 2>&1

# ---- egress not loaded: the hook fails, nothing is left
spec unloaded "$T/bpffs/not-loaded" /e2e/probe tcp 192.0.2.20 80
if ctrx run --rm --config "$T/spec.unloaded.json" unloaded >"$T/unloaded.out" 2>"$T/unloaded.err"; then
	fail unloaded/ctr-fails "ctr run succeeded: $(cat "$T/unloaded.out")"
else
	pass unloaded/ctr-fails
fi
check unloaded/error-running-hook grep -q "error running hook" "$T/unloaded.err"
check unloaded/hook-says-why grep -q "egress is not loaded" "$T/unloaded.err"
check_eq unloaded/no-container "" "$(ctrx containers ls -q)"
check_eq unloaded/no-task "" "$(ctrx tasks ls -q)"
check_eq unloaded/no-process "" "$(cat "$CGROOT/ctr/unloaded/cgroup.procs" 2>/dev/null)"
check_eq unloaded/never-connected 0 "$(count web)"
finish

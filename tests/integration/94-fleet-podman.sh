#!/bin/bash
# 94-fleet-podman.sh - podman 4.3 (Debian's, with runc) and the shipped
# hooks.d files (deploy/hooks.d/): a container with the annotation
# egress.policy is bound before its first instruction and enforced; one
# without it is untouched; a failing hook (an unknown policy) keeps it from
# starting (exit 126, nothing left).  The containers have no network
# (--network none): what tells bound from unbound is the errno of a
# connect on the container's own loopback (EPERM: denied by the policy;
# ECONNREFUSED: allowed, nobody listening).  podman keeps its storage,
# run dir and temp dir under the test's temp dir.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../e2e-lib.sh"
source "$(dirname "$0")/../fleet-lib.sh"
setup
e2e_setup runc
command -v podman >/dev/null || skip_all "podman not installed (sh scripts/deps.sh test)"

PD=$T/podman
mkdir -p "$PD/hooks.d" "$PD/tmp"
CGP=${CGROOT#"$CG2"}/podman
mkcg podman
podmanx() {
	timeout 60 podman --root "$PD/root" --runroot "$PD/run" --tmpdir "$PD/tmp" --storage-driver vfs \
		--runtime runc --cgroup-manager cgroupfs --events-backend file "$@"
}
pod_run() {
	podmanx run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
		--hooks-dir "$PD/hooks.d" --cgroup-parent "$CGP" --user 65534:65534 "$@"
}
podman_parent_mark
pod_cleanup() {
	podmanx rm -af >/dev/null 2>&1
	podman_parent_clean
}
trap 'rc=$?; pod_cleanup; (exit $rc); _e2e_exit' EXIT

# the shipped files, with this test's egressctl copy and pin dir
for f in "$ROOT"/deploy/hooks.d/*.json; do
	jq --arg ectl "$EGRESSCTL_ANYONE" --arg pin "$PIN" \
		'.hook.path = $ectl | .hook.env = ["EGRESS_PIN_DIR=" + $pin]' "$f" >"$PD/hooks.d/$(basename "$f")" ||
		die "hooks.d $f"
done
check hooks.d/shipped-match jq -e '.when.annotations["^egress\\.policy$"] == ".+" and .stages == ["createRuntime"] and
	.hook.args == ["egressctl","oci-hook","--strict"]' "$ROOT/deploy/hooks.d/egress.json"
make_rootfs "$T/rootfs" || die "rootfs"

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
# free as shipped: the proxy 127.0.0.1 tcp 3128 (and DNS 127.0.0.53)
ectl_ok setup apply -f "$ROOT/maps/free.policy" || die "apply maps/free.policy"

# ---- annotation present: bound from the first instruction
out=$(pod_run --annotation egress.policy=free --rootfs "$T/rootfs" /e2e/probe tcp 127.0.0.1 80 2>"$T/p1.err")
check_eq annotated/direct-eperm EPERM "$out"
out=$(pod_run --annotation egress.policy=free --rootfs "$T/rootfs" /e2e/probe tcp 127.0.0.1 3128 2>"$T/p2.err")
check_eq annotated/proxy-port-allowed ECONNREFUSED "$out"
check_eq annotated/poststop-unbound "" "$(ectl status --json | jq -r '.bindings[] | select(.cgroup | test("/podman/")) | .cgroup')"

# ---- annotation absent: untouched
out=$(pod_run --rootfs "$T/rootfs" /e2e/probe tcp 127.0.0.1 80 2>"$T/p3.err")
check_eq absent/untouched ECONNREFUSED "$out"
check_eq absent/no-binding "" "$(ectl status --json | jq -r '.bindings[] | select(.cgroup | test("/podman/")) | .cgroup')"

# ---- a failing hook: not started
pod_run --annotation egress.policy=nosuch --rootfs "$T/rootfs" /bin/sh -c 'echo started' >"$T/p4.out" 2>"$T/p4.err"
rc=$?
check_eq failing/exit-126 126 "$rc"
check_eq failing/never-ran "" "$(cat "$T/p4.out")"
check failing/hook-says-why grep -q "unknown policy 'nosuch'" "$T/p4.err"
check_eq failing/nothing-left "" "$(podmanx ps -aq)"
finish

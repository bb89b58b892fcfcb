#!/bin/bash
# 96-fleet-image.sh - `make image`: an OCI image of egressd and egressctl
# built by podman with no base image (FROM scratch: the binaries, the
# libraries ldd finds, busybox for the init step), in podman storage of the
# test's own.  podman runs it (egressd --help, egressctl help), and its
# install.sh puts an egressctl on a "host" directory that runs there
# through the libraries it brought.
source "$(dirname "$0")/../lib.sh"
setup
command -v podman >/dev/null || skip_all "podman not installed (sh scripts/deps.sh test)"
PD=$T/podman
mkdir -p "$PD/tmp" "$T/host"
PODMAN="podman --root $PD/root --runroot $PD/run --tmpdir $PD/tmp --storage-driver vfs --runtime runc --cgroup-manager cgroupfs --events-backend file"
IMAGE=localhost/egress-test:$RUNTAG
podman_parent_mark
trap 'rc=$?; $PODMAN rm -af >/dev/null 2>&1; $PODMAN rmi -af >/dev/null 2>&1; podman_parent_clean; (exit $rc); cleanup' EXIT
run() { timeout 120 $PODMAN run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "$@"; }

if timeout 300 make -C "$ROOT" --no-print-directory image PODMAN="$PODMAN" IMAGE="$IMAGE" >"$T/make.out" 2>&1; then
	pass make-image
else
	fail make-image "$(tail -20 "$T/make.out")"
fi
check make-image-ran-it grep -q '^Usage: egressd' "$T/make.out"
inspect=$(timeout 60 $PODMAN image inspect "$IMAGE" 2>&1)
check_json image/one-layer-no-base '.[0].RootFS.Layers | length == 1' "$inspect"
check_json image/entrypoint '.[0].Config.Entrypoint == ["/usr/sbin/egressd"]' "$inspect"
out=$(run "$IMAGE" --help 2>&1)
check image/egressd-runs grep -q -- '--policy-dir DIR' <<<"$out"
out=$(run --entrypoint /usr/sbin/egressctl "$IMAGE" help 2>&1)
check image/egressctl-runs grep -q 'oci-hook' <<<"$out"
run -v "$T/host:/host" --entrypoint /bin/sh "$IMAGE" /opt/egress/install.sh /host >"$T/install.out" 2>&1 ||
	fail install/runs "$(cat "$T/install.out")"
check install/wrapper grep -q '^exec /opt/egress/lib/ld-linux-x86-64.so.2 --library-path /opt/egress/lib --argv0 egressctl /opt/egress/bin/egressctl "\$@"$' "$T/host/usr/local/sbin/egressctl"
check install/wrapper-executable test -x "$T/host/usr/local/sbin/egressctl"
out=$("$T/host/opt/egress/lib/ld-linux-x86-64.so.2" --library-path "$T/host/opt/egress/lib" \
	"$T/host/opt/egress/bin/egressctl" oci-hook --policy free --strict --help 2>&1)
check install/egressctl-runs-from-its-libs grep -q 'usage: egressctl oci-hook' <<<"$out"
finish

#!/usr/bin/env bash
# bench/fleet.sh - `make bench`, the fleet part: how long a policy change
# takes to be in force.  (1) etcd: from `etcdctl put` to in force on all 3
# egressd nodes (a 3-member etcd cluster on loopback, ports 23790-23795);
# (2) directory: from the kubelet's ..data swap (tests/fleet-lib.sh
# cm_update) to in force.  "In force" is what the kernel decides: a UDP
# connect() from a bound cgroup (bench/fleet-latency.py).  p50 and p99 over
# FLEET_CHANGES (default 60) changes each.  Writes bench/FLEET.md.
# Isolation: its own temp dir, bpffs mount, pin dirs, cgroup subtree and
# netns, all removed on exit.
set -u
set -o pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${FLEET_CHANGES:-60}
EGRESSD=$ROOT/build/egressd
EGRESSCTL=$ROOT/build/egressctl
TAG=$$
T=$(mktemp -d /tmp/egress-fleet-bench.XXXXXX) || exit 1
CG2=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)
CGR=$CG2/egress-fleet-bench.$TAG
NS=egress-fleet-bench-$TAG
PIDS=()
log() { echo "[fleet-bench] $*" >&2; }
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for p in "$T"/bpffs/*; do [ -d "$p" ] && timeout 30 "$EGRESSCTL" unload --pin-dir "$p" >/dev/null 2>&1; done
	[ -d "$CGR" ] && { echo 1 >"$CGR/cgroup.kill"; sleep 0.2; find "$CGR" -depth -type d -exec rmdir {} + 2>/dev/null; }
	ip netns del "$NS" 2>/dev/null
	umount "$T/bpffs" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
for t in etcd etcdctl python3; do command -v "$t" >/dev/null || { log "needs $t (sh scripts/deps.sh test)"; exit 1; }; done
source "$ROOT/tests/fleet-lib.sh"

mkdir -p "$T/bpffs" "$CGR" && mount -t bpf bpf "$T/bpffs" || exit 1
ip netns add "$NS" && ip -n "$NS" link set lo up && ip -n "$NS" addr add 192.0.2.20/32 dev lo || exit 1
policy() {	# policy allow|deny: the free policy with 192.0.2.20:80 allowed or not
	printf 'policy add free --default deny\nallow 192.0.2.10/32 --proto tcp --port 3128 --policy free\n'
	[ "$1" = allow ] && printf 'allow 192.0.2.20/32 --port 80 --policy free\n'
	return 0
}
node() {	# node NAME ARGS...: an egressd, its cgroup bound to free once free exists
	"$EGRESSD" --pin-dir "$T/bpffs/$1" --events-socket "$T/$1.sock" --metrics-addr none "${@:2}" \
		>/dev/null 2>"$T/$1.err" &
	PIDS+=($!)
	mkdir -p "$CGR/$1"
	for _ in $(seq 100); do
		"$EGRESSCTL" attach "$CGR/$1" --pin-dir "$T/bpffs/$1" --policy free >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	log "node $1 never got policy free: $(tail -3 "$T/$1.err")"; exit 1
}
stats() {	# stats FILE: "p50 p99" in ms
	sort -n "$1" | awk '{v[NR]=$1} END {i50=int(NR*0.50+0.5); i99=int(NR*0.99+0.5); if (i99<1) i99=1; printf "%.0f %.0f", v[i50], v[i99]}'
}

# ---- etcd: 3 members, 3 nodes
export ETCDCTL_API=3
URLS=http://127.0.0.1:23790,http://127.0.0.1:23791,http://127.0.0.1:23792
cluster=a=http://127.0.0.1:23793,b=http://127.0.0.1:23794,c=http://127.0.0.1:23795
for i in 0 1 2; do
	m=$(echo a b c | cut -d' ' -f$((i + 1)))
	etcd --name "$m" --data-dir "$T/$m.etcd" --listen-client-urls "http://127.0.0.1:$((23790 + i))" \
		--advertise-client-urls "http://127.0.0.1:$((23790 + i))" \
		--listen-peer-urls "http://127.0.0.1:$((23793 + i))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((23793 + i))" \
		--initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "bench-$TAG" \
		>"$T/$m.log" 2>&1 &
	PIDS+=($!)
done
for _ in $(seq 100); do etcdctl --endpoints "$URLS" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
etcdctl --endpoints "$URLS" put /egress/policies/free "$(policy deny)" >/dev/null || { log "etcd not up"; exit 1; }
for n in 1 2 3; do node "etcd$n" --etcd "$URLS" --etcd-prefix /egress/policies/; done
declare -f policy >"$T/policy.sh"
cat >"$T/put" <<EOS
#!/bin/bash
source "$T/policy.sh"
# etcd listens in the host's netns, the prober runs in the bench's
exec nsenter --net=/proc/$$/ns/net etcdctl --endpoints "$URLS" put /egress/policies/free "\$(policy "\$1")" >/dev/null
EOS
chmod +x "$T/put"
log "etcd: $N changes, 3 nodes"
nsenter --net="/run/netns/$NS" python3 "$ROOT/bench/fleet-latency.py" "$T/put" "$N" \
	"$CGR/etcd1" "$CGR/etcd2" "$CGR/etcd3" >"$T/etcd.ms" || { log "etcd trials failed"; exit 1; }

# ---- directory: the kubelet's swap
mkdir -p "$T/cm" "$T/src"
policy deny >"$T/src/free.policy"
cm_update "$T/cm" "$T/src" || exit 1
node dir --policy-dir "$T/cm"
cat >"$T/swap" <<EOS
#!/bin/bash
source "$T/policy.sh"
source "$ROOT/tests/fleet-lib.sh"
CM_SEQ=\$RANDOM\$RANDOM
policy "\$1" >"$T/src/free.policy"
cm_update "$T/cm" "$T/src"
EOS
chmod +x "$T/swap"
log "directory: $N swaps"
nsenter --net="/run/netns/$NS" python3 "$ROOT/bench/fleet-latency.py" "$T/swap" "$N" "$CGR/dir" \
	>"$T/dir.ms" || { log "directory trials failed"; exit 1; }

read -r e50 e99 <<<"$(stats "$T/etcd.ms")"
read -r d50 d99 <<<"$(stats "$T/dir.ms")"
{
	echo "# Fleet: policy change to in force"
	echo
	echo "\`make bench\` (bench/fleet.sh), $(date -u +%Y-%m-%d), $(nproc) CPUs shared with other work."
	echo "In force = a connect() from a bound cgroup gets the new verdict. $N changes each, alternating."
	echo
	echo "| change | in force on | p50 | p99 | goal p99 |"
	echo "| --- | --- | --- | --- | --- |"
	echo "| \`etcdctl put\` (3-member etcd) | all 3 nodes | ${e50} ms | ${e99} ms | ≤ 1000 ms |"
	echo "| ConfigMap \`..data\` swap (kubelet's steps) | the node | ${d50} ms | ${d99} ms | ≤ 1000 ms |"
	echo
	echo "The etcd figure includes etcdctl's own start and the raft commit; the directory figure"
	echo "includes the 50 ms settling time egressd waits after the last inotify event. A real"
	echo "ConfigMap change first waits for the kubelet's sync (60-90 s), which is not egress's."
} >"$ROOT/bench/FLEET.md"
cat "$ROOT/bench/FLEET.md"

#!/bin/bash
# 80-run.sh - `egressctl run`: CMD runs in a fresh cgroup under
# --cgroup-parent, bound to the policy from its first instruction; egressctl
# exits with CMD's status (128+N for a signal, 127 for a missing command);
# the cgroup (and anything CMD left running in it) is gone afterwards, and
# so is its binding.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
ectl_ok setup policy add free --default deny || die "policy add"
ectl_ok setup allow 192.0.2.10/32 --proto tcp --port 3128 --policy free || die "allow"
mkcg runs
RUNS=$CGROOT/runs
listen proxy tcp 192.0.2.10 3128
listen web tcp 192.0.2.20 80

# erun ARGS... -- CMD...: egressctl run in the netns, bounded
erun() {
	timeout "$TO" nsenter --net="/run/netns/$NS" "$EGRESSCTL" run --pin-dir "$PIN" "$@"
}
no_run_cgroups() { [ -z "$(find "$RUNS" -mindepth 1 -type d)" ]; }

check_out probe/denied-from-first-instruction EPERM \
	erun --policy free --cgroup-parent "$RUNS" -- "${NOBODY[@]}" "$PROBE" tcp 192.0.2.20 80
check_rc probe/denied-exit-status 1 \
	erun --policy free --cgroup-parent "$RUNS" -- "$PROBE" udp 192.0.2.20 53
check_out probe/allowed ok \
	erun --policy free --cgroup-parent "$RUNS" -- "${NOBODY[@]}" "$PROBE" tcp 192.0.2.10 3128
check_out probe/container-root-denied EPERM \
	erun --policy free --cgroup-parent "$RUNS" -- "${CONTAINER_ROOT[@]}" "$PROBE" tcp 2001:db8::20 80
check_out probe/default-policy-when-none-given EPERM \
	erun --cgroup-parent "$RUNS" -- "$PROBE" tcp 192.0.2.20 80
check probe/no-cgroup-left no_run_cgroups

check_rc status/exit-0 0 erun --policy free --cgroup-parent "$RUNS" -- true
check_rc status/exit-7 7 erun --policy free --cgroup-parent "$RUNS" -- sh -c 'exit 7'
check_rc status/signal-137 137 erun --policy free --cgroup-parent "$RUNS" -- sh -c 'kill -9 $$'
check_rc status/not-found-127 127 erun --policy free --cgroup-parent "$RUNS" -- /nonexistent/command
check status/no-cgroup-left no_run_cgroups
check_out stdio/passed-through hello sh -c "echo hello | timeout $TO '$EGRESSCTL' run --pin-dir '$PIN' --cgroup-parent '$RUNS' -- cat"

# while it runs: in a fresh cgroup under the parent, bound to the policy
inside=$(erun --policy free --cgroup-parent "$RUNS" -- sh -c \
	"cat /proc/self/cgroup; '$EGRESSCTL' status --json --pin-dir '$PIN'" 2>&1)
cgline=$(printf '%s\n' "$inside" | grep '^0::' | head -1)
cgpath=$CG2${cgline#0::}
case $cgpath in
"$RUNS"/?*) pass inside/fresh-cgroup-under-parent ;;
*) fail inside/fresh-cgroup-under-parent "CMD ran in '${cgline#0::}', not under $RUNS" ;;
esac
json=$(printf '%s\n' "$inside" | sed -n '/^{/,$p')
check_json inside/bound-to-policy \
	"[.bindings[] | select(.cgroup == \"$cgpath\" and .policy == \"free\")] | length == 1" "$json"
check inside/cgroup-removed-after test ! -e "$cgpath"
out=$(ectl status --json 2>&1)
check_json inside/binding-gone-after \
	"[.bindings[] | select(.cgroup|startswith(\"$RUNS\"))] | length == 0" "$out"

# what CMD leaves running is killed, and the cgroup still removed
check_rc leftover/exit-status 3 erun --policy free --cgroup-parent "$RUNS" -- sh -c 'sleep 1000 & echo $! > '"$T/bg.pid"'; exit 3'
# dead: gone, or a zombie waiting for an init that reaps lazily
dead() { ! grep -qv '^[^ ]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
check leftover/background-killed dead "$(cat "$T/bg.pid")"
check leftover/no-cgroup-left no_run_cgroups

# refused: unknown policy; nothing created
check_bad refused/unknown-policy erun --policy nosuch --cgroup-parent "$RUNS" -- true
check refused/no-cgroup-left no_run_cgroups

wait_count proxy 1 >/dev/null
check_eq arrivals/proxy 1 "$(count proxy)"
check_eq arrivals/web-none 0 "$(count web)"

finish

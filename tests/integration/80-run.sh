#!/bin/bash
# 80-run.sh - `egressctl run`: CMD runs in a fresh cgroup under
# --cgroup-parent, bound to the policy from its first instruction; egressctl
# exits with CMD's status (128+N for a signal, 127 for a missing command);
# the cgroup (and anything CMD left running in it) is gone afterwards, and
# so is its binding.  --name names the cgroup, EGRESS_CGROUP tells CMD,
# --verbose tells the caller; a --cgroup-parent must exist and only root
# may write it; without --policy beneath a bound tier nothing is added.
# CMD is contained: as root with Docker's capabilities it can neither leave
# its cgroup, nor detach the pinned links, nor rewrite egress_binding (it
# sees no bpffs and a read-only cgroup2 rooted at its own cgroup).  A
# killed `run` leaves an orphan that status marks and gc removes once empty.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
# free: the proxy 192.0.2.10 tcp 3128 only
ectl_ok setup apply -f "$ROOT/tests/fixtures/free.policy" || die "apply tests/fixtures/free.policy"
mkcg runs
RUNS=$CGROOT/runs
listen proxy tcp 192.0.2.10 3128
listen web tcp 192.0.2.20 80

# erun ARGS... -- CMD...: egressctl run in the netns, bounded
erun() {
	timeout "$TO" nsenter --net="/run/netns/$NS" "$EGRESSCTL" run --pin-dir "$PIN" "$@"
}
release() { timeout "$TO" sh -c 'echo go > "$1"' sh "$1"; }
ectl_grep() { ectl status | grep -q "$1"; }
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

# while it runs: in a fresh cgroup under the parent (EGRESS_CGROUP names
# it), bound to the policy; checked from outside (CMD sees no pins)
erun --policy free --cgroup-parent "$RUNS" -- sh -c \
	"echo \$EGRESS_CGROUP > '$T/inside.cg'; read x < '$T/inside.go'" &
inside_pid=$!
mkfifo "$T/inside.go"
wait_until "$TO" test -s "$T/inside.cg"
cgpath=$(cat "$T/inside.cg" 2>/dev/null)
case $cgpath in
"$RUNS"/run-[0-9]*) pass inside/fresh-cgroup-under-parent ;;
*) fail inside/fresh-cgroup-under-parent "EGRESS_CGROUP is '$cgpath', not $RUNS/run-PID" ;;
esac
check_json inside/bound-to-policy \
	"[.bindings[] | select(.cgroup == \"$cgpath\" and .policy == \"free\")] | length == 1" "$(ectl status --json 2>&1)"
check inside/enforced ectl check "$cgpath"
release "$T/inside.go"
wait_pid "$inside_pid"
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

# ---- --name, --verbose, --cgroup-parent (issue 14 item 9)
check_out name/egress-cgroup "$RUNS/box1" \
	erun --policy free --cgroup-parent "$RUNS" --name box1 -- sh -c 'echo $EGRESS_CGROUP'
erun --policy free --cgroup-parent "$RUNS" --verbose -- true 2>"$T/verbose.err" >/dev/null
if [ "$(wc -l <"$T/verbose.err")" = 1 ] && grep -Eq "cgroup $RUNS/run-[0-9]+, bound to policy free" "$T/verbose.err"; then
	pass verbose/one-line-names-cgroup
else
	fail verbose/one-line-names-cgroup "stderr: $(cat "$T/verbose.err")"
fi
check_out verbose/quiet-without "" sh -c "timeout $TO nsenter --net=/run/netns/$NS '$EGRESSCTL' run --pin-dir '$PIN' --policy free --cgroup-parent '$RUNS' -- true 2>&1"
erun --policy free --cgroup-parent "$RUNS" --name taken -- sh -c "echo x > '$T/taken.up'; read x < '$T/taken.go'" &
taken_pid=$!
mkfifo "$T/taken.go"
wait_until "$TO" test -s "$T/taken.up"
check_bad name/taken-refused erun --policy free --cgroup-parent "$RUNS" --name taken -- true
release "$T/taken.go"
wait_pid "$taken_pid"
check_rc name/invalid-exit-2 2 erun --policy free --cgroup-parent "$RUNS" --name ../escape -- true
check name/invalid-nothing-made test ! -e "$CGROOT/escape"
check_bad parent/missing-refused erun --policy free --cgroup-parent "$RUNS/nosuch" -- true
check parent/missing-not-created test ! -e "$RUNS/nosuch"
check name/no-cgroup-left no_run_cgroups

# ---- a parent CMD's user could write is refused (issue 16 item 5)
mkcg delegated
chown 65534 "$CGROOT/delegated" "$CGROOT/delegated/cgroup.procs"
check_bad parent/delegated-refused erun --policy free --cgroup-parent "$CGROOT/delegated" -- true
check parent/delegated-nothing-made test -z "$(find "$CGROOT/delegated" -mindepth 1 -type d)"

# ---- no --policy beneath a bound tier: the tier decides, nothing added (issue 14 item 6)
mkcg tier
ectl_ok tier attach "$CGROOT/tier" --policy free || die "attach tier"
check_out inherit/tier-decides ok erun --cgroup-parent "$CGROOT/tier" -- "$PROBE" tcp 192.0.2.10 3128
check_out inherit/still-denied EPERM erun --cgroup-parent "$CGROOT/tier" -- "$PROBE" tcp 192.0.2.20 80
out=$(erun --cgroup-parent "$CGROOT/tier" --verbose -- true 2>&1)
case $out in
*"under the binding free $CGROOT/tier"*) pass inherit/verbose-says-tier ;;
*) fail inherit/verbose-says-tier "$out" ;;
esac
# with --policy the run binds its own cgroup (narrowing under the tier)
check_out inherit/explicit-policy-binds EPERM \
	erun --policy default --cgroup-parent "$CGROOT/tier" -- "$PROBE" tcp 192.0.2.10 3128

# ---- root without CAP_SYS_ADMIN cannot leave or detach (issue 15 item 5)
ectl_ok setup policy add open --default allow || die "policy add open"
OPEN_ID=$(ectl status --json | jq '.policies[] | select(.name == "open") | .id')
# each attack, then the probe: the attack's outcome is what the probe shows
LEAVE='echo $$ > '"$CG2"'/cgroup.procs; echo $$ > /sys/fs/cgroup/unified/cgroup.procs; exec "$@"'
DETACH='for l in '"$PIN"'/links/*/*; do bpftool -n link detach pinned "$l"; done; exec "$@"'
# the run's own cgroup id, from inside, whatever it sees
REBIND='cg='"$CG2"'$(sed -n "s/^0:://p" /proc/self/cgroup); id=$(stat -c %i "$cg");
k=$(printf "%016x" "$id" | sed "s/../& /g" | awk "{for(i=8;i>=1;i--) printf \"%s \", \$i}");
v=$(printf "%08x" '"$OPEN_ID"' | sed "s/../& /g" | awk "{for(i=4;i>=1;i--) printf \"%s \", \$i}");
bpftool -n map update pinned '"$PIN"'/maps/egress_binding key hex $k value hex $v 00 00 00 00 $k;
exec "$@"'
for a in LEAVE DETACH REBIND; do
	lc=$(echo "$a" | tr A-Z a-z)
	check_out "container-root/$lc-denied" EPERM \
		erun --policy free --cgroup-parent "$RUNS" -- "${CONTAINER_ROOT[@]}" sh -c "${!a}" sh "$PROBE" tcp 192.0.2.20 80
	check_out "container-root/$lc-denied-ipv6" EPERM \
		erun --policy free --cgroup-parent "$RUNS" -- "${CONTAINER_ROOT[@]}" sh -c "${!a}" sh "$PROBE" tcp 2001:db8::20 80
done
# what it sees: its own cgroup as the root, read-only; no bpffs
out=$(erun --policy free --cgroup-parent "$RUNS" -- "${CONTAINER_ROOT[@]}" sh -c \
	'grep "^0::" /proc/self/cgroup; awk "\$9 == \"bpf\" || \$9 == \"cgroup2\" {print \$9, substr(\$6, 1, 2)}" /proc/self/mountinfo; ls '"$PIN"' 2>&1 | head -1' 2>&1)
check_eq container-root/view "0::/
cgroup2 ro
ls: cannot access '$PIN': No such file or directory" "$out"
check container-root/links-intact test "$(find "$PIN/links" -mindepth 1 -maxdepth 1 | wc -l)" -ge 1
check container-root/no-cgroup-left no_run_cgroups

# ---- a killed `run`: its cgroup and binding stay (enforced), marked
# orphaned in status, and gc removes both once the cgroup is empty (issue 16 item 9)
nsenter --net="/run/netns/$NS" "$EGRESSCTL" run --pin-dir "$PIN" --policy free --cgroup-parent "$RUNS" \
	--name orphan -- sh -c "echo up > '$T/orphan.up'; while :; do '$PROBE' tcp 192.0.2.20 80 > '$T/orphan.p'; mv '$T/orphan.p' '$T/orphan.probe'; sleep 0.2; done" &
orphan_run=$!
disown "$orphan_run"	# its SIGKILL below is no news for this shell
BG_PIDS+=("$orphan_run")
wait_until "$TO" test -s "$T/orphan.up"
kill -KILL "$orphan_run"
{ wait_pid "$orphan_run"; } >/dev/null 2>&1
out=$(ectl status --json 2>&1)
check_json orphan/status-marks \
	"[.bindings[] | select(.cgroup == \"$RUNS/orphan\" and .policy == \"free\" and .orphan == true)] | length == 1" "$out"
check_json orphan/others-not-marked "[.bindings[] | select(.orphan == true)] | length == 1" "$out"
check orphan/text-says ectl_grep orphaned
ectl gc >/dev/null 2>&1
check orphan/kept-while-running test -d "$RUNS/orphan"
sleep 0.5
check_eq orphan/still-enforced EPERM "$(cat "$T/orphan.probe")"
echo 1 > "$RUNS/orphan/cgroup.kill"
wait_until "$TO" grep -q '^populated 0' "$RUNS/orphan/cgroup.events"
ectl gc >/dev/null 2>&1
check orphan/gc-removes-cgroup test ! -e "$RUNS/orphan"
check_json orphan/gc-removes-binding "[.bindings[] | select(.orphan == true)] | length == 0" "$(ectl status --json 2>&1)"

wait_count proxy 1 >/dev/null
check_eq arrivals/proxy 2 "$(count proxy)"
check_eq arrivals/web-none 0 "$(count web)"

finish

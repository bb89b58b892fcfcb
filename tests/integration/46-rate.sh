#!/bin/bash
# 46-rate.sh - the event rate limit is one budget per bound cgroup (issue 15
# item 8): a sandbox that spreads its denials over many child cgroups gets
# at most burst + rate * t events, not burst per child; another sandbox
# still gets its own events; the per-cgroup denial counts are keyed by the
# bound cgroup, so child cgroups cannot fill the table.  Every denial is
# counted: denied = delivered + suppressed (+ dropped).
source "$(dirname "$0")/../lib.sh"
setup
command -v python3 >/dev/null || die "python3 not installed"

RATE=10 BURST=20 NCHILD=60 PER=10
start_egressd --event-rate $RATE --event-burst $BURST || die "egressd not ready: $(cat "$EGRESSD_ERR")"
ectl_ok setup policy add free --default deny || die "policy add free"
mkcg sbx other
ectl_ok setup attach "$CGROOT/sbx" --policy free || die "attach sbx"
ectl_ok setup attach "$CGROOT/other" --policy free || die "attach other"
for ((i = 0; i < NCHILD; i++)); do
	mkcg "sbx/c$i"
done
SBX_ID=$(stat -c %i "$CGROOT/sbx")
OTHER_ID=$(stat -c %i "$CGROOT/other")

# one process walks through the children, PER denied connects in each
cat >"$T/flood.py" <<'PY'
import os, socket, sys, time
base, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = time.monotonic()
denied = 0
for i in range(n):
    with open("%s/c%d/cgroup.procs" % (base, i), "w") as f:
        f.write(str(os.getpid()))
    for _ in range(per):
        s = socket.socket()
        try:
            s.connect(("192.0.2.20", 80))
        except PermissionError:
            denied += 1
        s.close()
print(denied, time.monotonic() - t0)
PY
out=$(run_as - root python3 "$T/flood.py" "$CGROOT/sbx" $NCHILD $PER)
read -r denied secs <<<"$out"
check_eq flood/all-denied $((NCHILD * PER)) "$denied"
# the other sandbox's one denial right after the flood
expect other/denied EPERM "$CGROOT/other" nobody tcp 192.0.2.20 81
sleep 1
delivered=$(events_matching ".bound_cgroup_id == $SBX_ID" | grep -c .)
limit=$(awk -v b=$BURST -v r=$RATE -v t="${secs:-0}" 'BEGIN { printf "%d", b + r * (t + 1) }')
if [ "$delivered" -ge "$BURST" ] && [ "$delivered" -le "$limit" ]; then
	pass flood/one-budget-for-the-sandbox
else
	fail flood/one-budget-for-the-sandbox "$delivered events for $denied denials in ${secs}s over $NCHILD child cgroups; expected $BURST..$limit"
fi
check_eq other/own-budget 1 "$(events_matching ".bound_cgroup_id == $OTHER_ID" | grep -c .)"
st=$(ectl status --json 2>&1)
check_json counters/denied-counted ".policies[] | select(.name == \"free\") | .denied == $((NCHILD * PER + 1))" "$st"
check_json counters/denied-is-delivered-plus-suppressed \
	".policies[] | select(.name == \"free\") | .denied == $((delivered + 1)) + .events_suppressed + .events_dropped" "$st"
# egress_cg_denied: one key per bound cgroup, not one per child
keys=$(bpftool map dump pinned "$PIN/maps/egress_cg_denied" -j 2>/dev/null | jq 'length')
check_eq counters/cg-denied-keyed-by-bound-cgroup 2 "${keys:-unreadable}"
finish

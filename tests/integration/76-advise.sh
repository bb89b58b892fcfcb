#!/bin/bash
# 76-advise.sh - egressctl advise: a sandbox under a deny policy tries
# several destinations (tcp and udp, v4, v6 and v4-mapped) many times while
# the event rate limit drops most events from the log; advise lists every
# distinct destination with its exact count and process names (the kernel
# records them before the rate limit), counts a denial that two nested
# bindings saw once, skips what has no destination, filters by subtree and
# --since, and works without egressd.  Its output applies (apply -f) and,
# bound to the cgroup, allows exactly those destinations and nothing else.
# Bad input: one line, exit 2; an unbound cgroup or no egress: exit 1.
# Pins of an older egressd without the map: one line, exit 1, until a restart.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd --event-rate 1 --event-burst 1 || die "egressd not ready: $(cat "$EGRESSD_ERR")"

ectl_ok setup policy add sbx --default deny || die "policy add sbx"
ectl_ok setup policy add inner --default deny || die "policy add inner"
mkcg sb/child sb/nest else other
ectl_ok setup attach "$CGROOT/sb" --policy sbx || die "attach sb"
ectl_ok setup attach "$CGROOT/sb/nest" --policy inner || die "attach nest"
ectl_ok setup attach "$CGROOT/else" --policy sbx || die "attach else"

listen t10 tcp 192.0.2.10 80
listen u20 udp 192.0.2.20 53
listen t6 tcp 2001:db8::10 443
listen u6 udp 2001:db8::20 5353
listen u30 udp 192.0.2.30 53
listen t30 tcp 192.0.2.30 80

# body ARGS...: advise's rules and comments, without the 3 header lines and 'policy add'
body() { ectl advise "$@" | sed 1,3d | grep -v '^policy add'; }
# only LINES...: advise's lines matching the pattern
only() { local pat=$1; shift; ectl advise "$@" | grep -- "$pat"; }

# a second process name: the same probe as "probe2"
cp "$PROBE" "$T/probe2" || die "cp probe"

# loop NAME CGROUP WANT MODE ADDR PORT N [PROBE]: N attempts from CGROUP, all WANT
loop() {
	local n=$1 cg=$2 want=$3 mode=$4 addr=$5 port=$6 cnt=$7 probe=${8:-$PROBE} out
	out=$(run_as "$CGROOT/$cg" nobody "$probe" loop "$mode" "$addr" "$port" "$cnt" 2>&1)
	check_eq "$n" "$want=$cnt" "$out"
}

loop denied/sb-tcp4 sb EPERM tcp 192.0.2.10 80 7
loop denied/child-tcp4-probe2 sb/child EPERM tcp 192.0.2.10 80 2 "$T/probe2"
loop denied/sb-tcp-v4mapped sb EPERM tcp ::ffff:192.0.2.10 80 1
loop denied/sb-udp4 sb EPERM udp 192.0.2.20 53 5
loop denied/child-tcp6 sb/child EPERM tcp 2001:db8::10 443 3
loop denied/child-udp6 sb/child EPERM udp 2001:db8::20 5353 4
loop denied/nest-udp4 sb/nest EPERM udp 192.0.2.30 53 3
loop denied/else-tcp4 else EPERM tcp 192.0.2.30 80 6
expect denied/sb-udplite-socket EPERM "$CGROOT/sb" nobody udplite 192.0.2.20 53

# the rate limit (1/s, burst 1) dropped most of the 32 denials from the log
sleep 0.5
logged=$(events_matching ".cgroup | startswith(\"$CGROOT/sb\")" | wc -l)
if [ "$logged" -lt 10 ]; then
	pass log/rate-limited-away
else
	fail log/rate-limited-away "expected most events suppressed, $logged logged"
fi

# egressd is not needed: advise reads the pinned map
stop_egressd
check_eq egressd-stopped 0 "$EGRESSD_RC"

# ids of the two policies decide the order in which they are named
want=$(cat <<EOF
# egressctl advise --cgroup $CGROOT/sb --name adv
# the allow rules that would have permitted what was denied or audited, one per
# destination, protocol and port; review them, then 'egressctl apply -f FILE'
policy add adv --default deny
# 10 denied (policy sbx): probe, probe2
allow 192.0.2.10/32 --proto tcp --port 80 --policy adv
# 5 denied (policy sbx): probe
allow 192.0.2.20/32 --proto udp --port 53 --policy adv
# 3 denied (policy sbx, inner): probe
allow 192.0.2.30/32 --proto udp --port 53 --policy adv
# 3 denied (policy sbx): probe
allow 2001:db8::10/128 --proto tcp --port 443 --policy adv
# 4 denied (policy sbx): probe
allow 2001:db8::20/128 --proto udp --port 5353 --policy adv
# not advised (no destination): sock_create of an ipv4 udplite socket, 1 denied (policy sbx): probe
EOF
)
check_out output/exact "$want" ectl advise --cgroup "$CGROOT/sb" --name adv
ectl advise --cgroup "$CGROOT/sb" --name adv >"$T/adv.policy" 2>"$T/adv.err"
check_eq output/exit-0 0 $?
check_out output/deterministic "$(cat "$T/adv.policy")" ectl advise --cgroup "$CGROOT/sb" --name adv

# subtrees: the child alone; the other bound cgroup alone
check_out subtree/child "$(printf '%s\n' \
	"# 2 denied (policy sbx): probe2" \
	"allow 192.0.2.10/32 --proto tcp --port 80 --policy adv" \
	"# 3 denied (policy sbx): probe" \
	"allow 2001:db8::10/128 --proto tcp --port 443 --policy adv" \
	"# 4 denied (policy sbx): probe" \
	"allow 2001:db8::20/128 --proto udp --port 5353 --policy adv")" \
	body --cgroup "$CGROOT/sb/child" --name adv
check_out subtree/other-bound-cgroup "allow 192.0.2.30/32 --proto tcp --port 80 --policy else" \
	only '^allow' --cgroup "$CGROOT/else"
# an unbound parent of bound cgroups: everything below it
check_out subtree/unbound-parent-of-bound 6 sh -c "$(printf '%q ' "$EGRESSCTL" advise --pin-dir "$PIN" --cgroup "$CGROOT") | grep -c '^allow'"
# --name: the default comes from DIR's name
check_out name/default-from-dir "policy add child --default deny" \
	only '^policy' --cgroup "$CGROOT/sb/child"
# an existing policy keeps its settings and rules, the advised ones are added
ectl_ok setup allow 198.51.100.1/32 --proto tcp --port 8080 --policy sbx || die "allow sbx"
check_out name/existing-policy-kept "$(printf '%s\n' "policy add sbx --default deny" \
	"allow 198.51.100.1/32 --proto tcp --port 8080 --policy sbx" \
	"allow 192.0.2.30/32 --proto tcp --port 80 --policy sbx")" \
	only '^[^#]' --cgroup "$CGROOT/else" --name sbx

# apply it, bind it: exactly those destinations pass, nothing else
check apply/accepts-output ectl apply -f "$T/adv.policy"
check apply/bind ectl attach "$CGROOT/sb" --policy adv
ectl detach "$CGROOT/sb/nest" >/dev/null 2>&1
before=$(count t10)
expect allowed/tcp4 ok "$CGROOT/sb" nobody tcp 192.0.2.10 80
expect allowed/tcp4-child ok "$CGROOT/sb/child" nobody tcp 192.0.2.10 80
expect allowed/udp4 ok "$CGROOT/sb" nobody udp 192.0.2.20 53
expect allowed/tcp6 ok "$CGROOT/sb/child" nobody tcp 2001:db8::10 443
expect allowed/udp6 ok "$CGROOT/sb" nobody udp 2001:db8::20 5353
expect allowed/udp4-nest ok "$CGROOT/sb/nest" nobody udp 192.0.2.30 53
wait_count u20 1 && wait_count u6 1 && wait_count u30 1 && wait_count t6 1
check_eq allowed/arrived "2 1 1 1 1" "$(($(count t10) - before)) $(count u20) $(count u6) $(count u30) $(count t6)"
expect else/tcp4-other-host EPERM "$CGROOT/sb" nobody tcp 192.0.2.30 80
expect else/udp-same-host-other-proto EPERM "$CGROOT/sb" nobody udp 192.0.2.10 80
expect else/tcp-other-port EPERM "$CGROOT/sb" nobody tcp 192.0.2.10 81
expect else/tcp6-other-host EPERM "$CGROOT/sb" nobody tcp 2001:db8::20 443
expect else/udplite-socket EPERM "$CGROOT/sb" nobody udplite 192.0.2.20 53
check_eq else/nothing-arrived 0 "$(count t30)"

# --since: only what was seen in the window
sleep 4
loop denied/late sb EPERM tcp 192.0.2.20 8080 2
check_out since/window "$(printf '%s\n' "# 2 denied (policy adv): probe" \
	"allow 192.0.2.20/32 --proto tcp --port 8080 --policy late")" \
	body --cgroup "$CGROOT/sb" --since 3s --name late
# the 5 first destinations and the 5 denied after apply
check_out since/all-with-1d 10 sh -c "$(printf '%q ' "$EGRESSCTL" advise --pin-dir "$PIN" --cgroup "$CGROOT/sb" --since 1d) | grep -c '^allow'"

# bad input: one line, exit 2, nothing on stdout, state unchanged
check_bad bad/unknown-dir ectl advise --cgroup "$CGROOT/nope"
check_rc bad/unknown-dir-exit-2 2 ectl advise --cgroup "$CGROOT/nope"
check_bad bad/not-a-cgroup ectl advise --cgroup "$T"
check_bad bad/no-cgroup ectl advise
check_rc bad/no-cgroup-exit-2 2 ectl advise
for d in 5x 0s -1m 1.5h s 10 99999999d; do
	check_bad "bad/duration-$d" ectl advise --cgroup "$CGROOT/sb" --since "$d"
	check_rc "bad/duration-$d-exit-2" 2 ectl advise --cgroup "$CGROOT/sb" --since "$d"
done
check_bad bad/name ectl advise --cgroup "$CGROOT/sb" --name 'bad name'
check_rc bad/name-exit-2 2 ectl advise --cgroup "$CGROOT/sb" --name -x
out=$(ectl advise --cgroup "$CGROOT/sb" --since 5x 2>&1)
check_eq bad/duration-message "egressctl: advise: --since: invalid duration '5x': a positive number and a unit, like 30s, 10m, 2h or 1d" "$out"
# an unbound cgroup: exit 1, one line naming it
check_bad unbound/refused ectl advise --cgroup "$CGROOT/other"
check_rc unbound/exit-1 1 ectl advise --cgroup "$CGROOT/other"
out=$(ectl advise --cgroup "$CGROOT/other" 2>&1)
case $out in
*"$CGROOT/other' is not bound"*) pass unbound/message ;;
*) fail unbound/message "got: $out" ;;
esac
# egress not loaded there
out=$(timeout "$TO" "$EGRESSCTL" advise --pin-dir "$T/none" --cgroup "$CGROOT/sb" 2>&1)
rc=$?
check_eq not-loaded/exit-1 1 "$rc"
case $out in
"egressctl: advise: egress is not loaded"*) pass not-loaded/message ;;
*) fail not-loaded/message "got: $out" ;;
esac
check_rc egressd/max-seen-0-refused 2 "$EGRESSD" --pin-dir "$T/none" --max-seen 0

# pins of an older egressd (no egress_seen): advise says so, the rest works; a
# restart of egressd adds the map and the new programs record into it
rm -f "$PIN/maps/egress_seen"
check_rc older-pins/advise-exit-1 1 ectl advise --cgroup "$CGROOT/sb"
out=$(ectl advise --cgroup "$CGROOT/sb" 2>&1)
case $out in
*"egress_seen is missing"*"restart egressd"*) pass older-pins/message ;;
*) fail older-pins/message "got: $out" ;;
esac
check older-pins/status-works ectl status
check older-pins/export-works ectl export
start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
loop denied/after-restart sb EPERM tcp 192.0.2.20 9090 3
check_out older-pins/recorded-after-restart "$(printf '%s\n' "# 3 denied (policy adv): probe" \
	"allow 192.0.2.20/32 --proto tcp --port 9090 --policy new")" body --cgroup "$CGROOT/sb" --name new

# --max-seen bounds the map: the least recently seen destinations make room
stop_egressd
check unload ectl unload
start_egressd --max-seen 16 || die "egressd --max-seen 16 not ready: $(cat "$EGRESSD_ERR")"
ectl_ok setup policy add small --default deny || die "policy add small"
ectl_ok setup attach "$CGROOT/sb" --policy small || die "attach small"
check_out max-seen/sized "16" sh -c "bpftool map show pinned '$PIN/maps/egress_seen' | grep -o 'max_entries [0-9]*' | cut -d' ' -f2"
for port in $(seq 1001 1040); do
	run_as "$CGROOT/sb" nobody "$PROBE" tcp 192.0.2.10 "$port" >/dev/null 2>&1
done
n=$(ectl advise --cgroup "$CGROOT/sb" | grep -c '^allow')
if [ "$n" -ge 1 ] && [ "$n" -le 16 ]; then
	pass max-seen/bounded
else
	fail max-seen/bounded "expected 1 to 16 rules, got $n"
fi
check_out max-seen/newest-kept "allow 192.0.2.10/32 --proto tcp --port 1040 --policy sb" only 'port 1040 ' --cgroup "$CGROOT/sb"
# a restart keeps the pinned size, and says so
stop_egressd
start_egressd --max-seen 32 || die "egressd restart not ready: $(cat "$EGRESSD_ERR")"
check max-seen/restart-says-kept grep -q 'keeping the size of the pinned egress_seen (max-seen 16)' "$EGRESSD_ERR"

finish

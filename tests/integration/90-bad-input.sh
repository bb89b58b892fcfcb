#!/bin/bash
# 90-bad-input.sh - every bad input is refused the same way: exactly one
# line on stderr, nothing on stdout, a non-zero exit (not a crash), and the
# state unchanged (`export` of all policies byte-identical before and
# after).  Invalid CIDRs, host bits (with the corrected CIDR suggested),
# bad ports, unknown protocol, unknown policy, paths that are not cgroup2
# directories, nothing loaded, no privilege, unknown command or option.
# Enforcement is unchanged at the end.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
mkcg app unbound
# free: the proxy 192.0.2.10 tcp 3128 only
ectl_ok setup apply -f "$ROOT/tests/fixtures/free.policy" || die "apply tests/fixtures/free.policy"
ectl_ok setup attach "$CGROOT/app" --policy free || die "attach"
listen proxy tcp 192.0.2.10 3128
listen web tcp 192.0.2.20 80
ectl export >"$T/export.before" 2>&1

for verb in allow deny remove; do
	for c in 10.0.0.256/8 10.0.0.0/33 fe80::/129 abc "" 10.0.0.0/ /8 10.0.0.0/-1 1.2.3.4.5/32 2001:db8:::1/128; do
		check_bad "$verb/cidr-'$c'" ectl "$verb" "$c" --policy free
	done
done
check_bad allow/missing-cidr ectl allow --policy free

# host bits set: refused, and the message suggests the network
check_bad allow/host-bits-v4 ectl allow 10.1.2.3/8 --policy free
check allow/host-bits-v4-suggests grep -q '10\.0\.0\.0/8' "$T/bad.err"
check_bad deny/host-bits-v6 ectl deny 2001:db8::1/32 --policy free
check deny/host-bits-v6-suggests grep -q '2001:db8::/32' "$T/bad.err"

for p in 0 65536 80-20 80,81 -1 abc 1-65536 ""; do
	check_bad "allow/port-'$p'" ectl allow 192.0.2.0/24 --proto tcp --port "$p" --policy free
done
for p in icmp TCPX ""; do
	check_bad "allow/proto-'$p'" ectl allow 192.0.2.0/24 --proto "$p" --policy free
done

check_bad unknown-policy/allow ectl allow 192.0.2.0/24 --policy nosuch
check_bad unknown-policy/deny ectl deny 192.0.2.0/24 --policy nosuch
check_bad unknown-policy/remove ectl remove 192.0.2.0/24 --policy nosuch
check_bad unknown-policy/list ectl list --policy nosuch
check_bad unknown-policy/export ectl export --policy nosuch
check_bad unknown-policy/attach ectl attach "$CGROOT/unbound" --policy nosuch
check_bad unknown-policy/delete ectl policy delete nosuch
check_bad unknown-policy/run ectl run --policy nosuch --cgroup-parent "$CGROOT/unbound" -- true

check_bad policy/delete-while-bound ectl policy delete free
check_bad policy/bad-default ectl policy add p2 --default maybe
check_bad policy/bad-errno ectl policy add p3 --errno EFOOBAR
check_bad policy/name-too-long ectl policy add "$(printf 'n%.0s' {1..40})"

check_bad path/not-cgroup2 ectl attach "$T" --policy free
check_bad path/tmp ectl attach /tmp --policy free
check_bad path/missing ectl attach "$CGROOT/no-such-dir" --policy free
check_bad path/file-in-cgroupfs ectl attach "$CGROOT/app/cgroup.procs" --policy free
check_bad path/detach-missing ectl detach "$CGROOT/no-such-dir"
check_bad path/detach-not-cgroup2 ectl detach "$T"
check_bad path/run-parent-not-cgroup2 ectl run --policy free --cgroup-parent "$T" -- true

NONE=$T/bpffs/none
for cmd in "list" "allow 192.0.2.0/24" "export" "attach $CGROOT/unbound" "detach $CGROOT/app" "policy list"; do
	# shellcheck disable=SC2086
	check_bad "nothing-loaded/${cmd%% *}" timeout "$TO" "$EGRESSCTL" $cmd --pin-dir "$NONE"
done
# status reports "not loaded" (its output is the report) and fails
check_not nothing-loaded/status-fails "$EGRESSCTL" status --pin-dir "$NONE"
out=$(timeout "$TO" "$EGRESSCTL" status --json --pin-dir "$NONE" 2>/dev/null)
check_json nothing-loaded/status-json-not-loaded '.loaded == false' "$out"

for cmd in "list" "allow 0.0.0.0/0 --policy free" "export" "detach $CGROOT/app" "unload" "policy add x"; do
	# shellcheck disable=SC2086
	check_bad "no-privilege/${cmd%% *}" timeout "$TO" "${NOBODY[@]}" "$EGRESSCTL_ANYONE" $cmd --pin-dir "$PIN"
done
check_bad cli/unknown-command ectl frobnicate
check_bad cli/unknown-option ectl list --frobnicate
check_bad cli/extra-argument ectl allow 192.0.2.0/24 192.0.3.0/24
check_bad cli/missing-option-value ectl allow 192.0.2.0/24 --port

# after all that: the same state, the same enforcement
ectl export >"$T/export.after" 2>&1
check state/export-unchanged cmp "$T/export.before" "$T/export.after"
check pins/still-there test -e "$PIN"
expect enforcement/allowed ok "$CGROOT/app" nobody tcp 192.0.2.10 3128
expect enforcement/denied EPERM "$CGROOT/app" nobody tcp 192.0.2.20 80
expect enforcement/unbound-untouched ok "$CGROOT/unbound" nobody tcp 192.0.2.20 80

finish

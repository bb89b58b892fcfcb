#!/bin/bash
# 60-daemon.sh - enforcement does not depend on egressd running: the policy
# holds after `kill -9` of egressd; egressctl works with egressd stopped;
# a restarted egressd takes the pins over (ready, still enforcing, rules
# made meanwhile kept, counters not reset, events streamed again); SIGTERM
# exits 0 leaving enforcement pinned; --policy-file sets the first start's
# default policy; egressd mounts bpffs itself when the pin dir's parent is
# not on bpffs.
source "$(dirname "$0")/../lib.sh"
setup

listen proxy tcp 192.0.2.10 3128
listen web tcp 192.0.2.20 80

cat >"$T/first.policy" <<'EOF'
# the first start's default policy
policy add default --default deny
allow 192.0.2.10/32 --proto tcp --port 3128 --policy default
EOF
start_egressd --policy-file "$T/first.policy" || die "egressd not ready: $(cat "$EGRESSD_ERR")"

out=$(ectl list --json 2>&1)
check_json policy-file/rule-loaded \
	'length == 1 and .[0].cidr == "192.0.2.10/32" and .[0].action == "allow"' "$out"
mkcg app
ectl_ok setup attach "$CGROOT/app" || die "attach (default policy)"
a() { expect "$1" "$2" "$CGROOT/app" nobody "${@:3}"; }
a policy-file/allowed ok tcp 192.0.2.10 3128
a policy-file/default-deny EPERM tcp 192.0.2.20 80

denied_counter() {
	ectl status --json 2>/dev/null |
		jq -r '.policies[] | select(.name == "default") | .denied'
}
d1=$(denied_counter)
check counters/denied-counted test "${d1:-0}" -ge 1

# kill -9: the pins keep enforcing
stop_egressd KILL
check_eq kill9/egressd-died 137 "$EGRESSD_RC"
check kill9/pins-remain test -e "$PIN"
a kill9/still-denied EPERM tcp 192.0.2.20 80
a kill9/still-allowed ok tcp 192.0.2.10 3128
expect kill9/container-still-denied EPERM "$CGROOT/app" container udp 192.0.2.20 53

# egressctl with egressd stopped
check stopped/allow ectl allow 192.0.2.20/32 --proto tcp --port 80
a stopped/allow-effective ok tcp 192.0.2.20 80
check stopped/remove ectl remove 192.0.2.20/32 --proto tcp --port 80
a stopped/remove-effective EPERM tcp 192.0.2.20 80
check stopped/deny ectl deny 192.0.2.10/32
a stopped/deny-effective EPERM tcp 192.0.2.10 3128
check stopped/remove-deny ectl remove 192.0.2.10/32
a stopped/remove-deny-effective ok tcp 192.0.2.10 3128
out=$(ectl list --json 2>&1)
check_json stopped/removed '[.[] | select(.cidr == "192.0.2.20/32")] | length == 0' "$out"
check stopped/allow-again ectl allow 192.0.2.20/32 --proto tcp --port 80
a stopped/allow-again-effective ok tcp 192.0.2.20 80
check stopped/policy-add ectl policy add later --default deny
out=$(ectl list --json 2>&1)
check_json stopped/list '[.[] | select(.cidr == "192.0.2.20/32")] | length == 1' "$out"
check stopped/status ectl status --json
d2=$(denied_counter)

# restart: takes over the pins
if start_egressd; then
	pass restart/ready
else
	fail restart/ready "egressd not ready after restart: $(cat "$EGRESSD_ERR")"
fi
a restart/still-denied EPERM tcp 192.0.2.10 80
a restart/still-allowed ok tcp 192.0.2.10 3128
a restart/rule-made-while-stopped-kept ok tcp 192.0.2.20 80
out=$(ectl policy list 2>&1)
check restart/policy-made-while-stopped-kept grep -qw later <<<"$out"
out=$(ectl list --json 2>&1)
check_json restart/policy-file-not-reapplied '[.[] | select(.cidr == "192.0.2.20/32")] | length == 1' "$out"
d3=$(denied_counter)
if [ -n "$d2" ] && [ -n "$d3" ] && [ "$d3" -ge "$d2" ] && [ "$d2" -ge "$d1" ] && [ "$d3" -gt 0 ]; then
	pass restart/counters-not-reset
else
	fail restart/counters-not-reset "denied counter of default: start $d1, stopped $d2, after restart $d3"
fi
out=$(ectl status --json 2>&1)
check_json restart/status-binding-kept \
	"[.bindings[] | select((.cgroup|tostring|endswith(\"$(basename "$CGROOT")/app\")) and .policy == \"default\")] | length == 1" "$out"
n_before=$(events_matching '.dst == "192.0.2.10" and .dport == 80' | wc -l)
a restart/event-after-restart EPERM tcp 192.0.2.10 80
if wait_until 10 sh -c "[ \$(jq -c 'select(.dst == \"192.0.2.10\" and .dport == 80)' '$T/egressd.out' 2>/dev/null | wc -l) -gt $n_before ]"; then
	pass restart/events-streamed
else
	fail restart/events-streamed "no event for the denial after restart: $(tail -3 "$T/egressd.out")"
fi

# SIGTERM: clean exit, still enforcing
stop_egressd TERM
check_eq sigterm/exit-0 0 "$EGRESSD_RC"
a sigterm/still-denied EPERM tcp 192.0.2.10 80
a sigterm/still-allowed ok tcp 192.0.2.10 3128

# SIGINT as well
start_egressd || fail sigint/ready "egressd not ready: $(cat "$EGRESSD_ERR")"
stop_egressd INT
check_eq sigint/exit-0 0 "$EGRESSD_RC"
a sigint/still-denied EPERM tcp 192.0.2.10 80

# A pin dir whose parent is not on bpffs: egressd mounts bpffs there.
mkdir -p "$T/plain"
egressd_private_args
"$EGRESSD" --pin-dir "$T/plain/egress" "${EGRESSD_PRIVATE[@]}" >"$T/plain.out" 2>"$T/plain.err" &
PLAIN_PID=$!
BG_PIDS+=("$PLAIN_PID")
if wait_until "$TO" grep -q '^egressd: ready' "$T/plain.err"; then
	pass automount/ready
	check_eq automount/bpffs-mounted bpf "$(awk -v d="$T/plain" '$2 == d {print $3}' /proc/mounts | tail -1)"
	check automount/pinned test -e "$T/plain/egress"
	kill -TERM "$PLAIN_PID"
	wait_pid "$PLAIN_PID"
	check_eq automount/sigterm-exit-0 0 "$?"
	check automount/unload timeout "$TO" "$EGRESSCTL" unload --pin-dir "$T/plain/egress"
else
	fail automount/ready "egressd --pin-dir $T/plain/egress not ready: $(cat "$T/plain.err")"
fi

finish

#!/bin/bash
# 65-events.sh - denial events on egressd's stdout: one JSON object per line,
# with the hook, the destination as decided (v4-mapped shown as IPv4), the
# port, protocol, policy, errno, and the process (pid, comm, uid, cgroup)
# of known denied probes; allowed traffic makes no event.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

mkcg app refuse
# free: the proxy 192.0.2.10 tcp 3128 only
ectl_ok setup apply -f "$ROOT/tests/fixtures/free.policy" || die "apply tests/fixtures/free.policy"
ectl_ok setup policy add refuse --default deny --errno ECONNREFUSED || die "policy add"
ectl_ok setup attach "$CGROOT/app" --policy free || die "attach"
ectl_ok setup attach "$CGROOT/refuse" --policy refuse || die "attach"
listen proxy tcp 192.0.2.10 3128

# denied_event NAME CGROUP MODE ADDR PORT WANT_WORD JQ_CHECKS: run one probe
# as nobody in the background (its pid is the probe's: sh, nsenter and
# setpriv all exec), then wait for its event and check it.
denied_event() {
	local n=$1 cg=$2 mode=$3 addr=$4 port=$5 want=$6 checks=$7 pid word ev
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" nsenter --net="/run/netns/$NS" "${NOBODY[@]}" "$PROBE" "$mode" "$addr" "$port" \
		>"$T/ev.${n//\//_}.out" 2>&1 &
	pid=$!
	wait_pid "$pid"
	word=$(cat "$T/ev.${n//\//_}.out")
	if [ "$word" != "$want" ]; then
		fail "$n" "probe $mode $addr $port: expected $want, got '$word'"
		return
	fi
	if ! wait_until 10 sh -c "jq -c 'select(.tgid == $pid)' '$T/egressd.out' 2>/dev/null | grep -q ."; then
		fail "$n" "no event with tgid $pid on egressd's stdout: $(tail -2 "$T/egressd.out")"
		return
	fi
	ev=$(jq -c "select(.tgid == $pid)" "$T/egressd.out" | head -1)
	check_json "$n" "$checks and .pid == $pid and .comm == \"probe\" and .uid == 65534" "$ev"
}

CGN=$(basename "$CGROOT")
app=".policy == \"free\" and .errno == \"EPERM\" and (.cgroup|endswith(\"$CGN/app\"))"
denied_event event/tcp4 "$CGROOT/app" tcp 192.0.2.20 80 EPERM \
	"$app and .hook == \"connect4\" and .dst == \"192.0.2.20\" and .dport == 80 and .proto == \"tcp\""
denied_event event/tcp6 "$CGROOT/app" tcp 2001:db8::20 443 EPERM \
	"$app and .hook == \"connect6\" and .dst == \"2001:db8::20\" and .dport == 443 and .proto == \"tcp\""
denied_event event/tcp-mapped-decided-as-v4 "$CGROOT/app" tcp ::ffff:192.0.2.30 8080 EPERM \
	"$app and .hook == \"connect6\" and .dst == \"192.0.2.30\" and .dport == 8080"
denied_event event/udp4 "$CGROOT/app" udp 192.0.2.20 53 EPERM \
	"$app and .hook == \"sendmsg4\" and .dst == \"192.0.2.20\" and .dport == 53 and .proto == \"udp\""
denied_event event/udp6 "$CGROOT/app" udp 2001:db8::30 5353 EPERM \
	"$app and .hook == \"sendmsg6\" and .dst == \"2001:db8::30\" and .dport == 5353 and .proto == \"udp\""
denied_event event/udp-connected4 "$CGROOT/app" udp-connected 192.0.2.20 123 EPERM \
	"$app and .hook == \"connect4\" and .dst == \"192.0.2.20\" and .dport == 123 and .proto == \"udp\""
denied_event event/udp4on6 "$CGROOT/app" udp4on6 192.0.2.20 54 EPERM \
	"$app and .hook == \"sendmsg4\" and .dst == \"192.0.2.20\" and .dport == 54"
denied_event event/proxy-wrong-port "$CGROOT/app" tcp 192.0.2.10 3129 EPERM \
	"$app and .dst == \"192.0.2.10\" and .dport == 3129"
denied_event event/any-address-decided-as-loopback "$CGROOT/app" tcp 0.0.0.0 81 EPERM \
	"$app and .dst == \"127.0.0.1\" and .dport == 81"
denied_event event/errno-policy "$CGROOT/refuse" tcp 192.0.2.20 80 ECONNREFUSED \
	".policy == \"refuse\" and .errno == \"ECONNREFUSED\" and .dst == \"192.0.2.20\" and (.cgroup|endswith(\"$CGN/refuse\"))"

# allowed traffic makes no event
expect allowed/proxy ok "$CGROOT/app" nobody tcp 192.0.2.10 3128
# (a denial after it, to know the allowed one had time to show up)
denied_event event/after-allowed "$CGROOT/app" tcp 192.0.2.20 82 EPERM ".dport == 82"
check_eq allowed/no-event 0 "$(events_matching '.dst == "192.0.2.10" and .dport == 3128' | wc -l)"

# every line of stdout is one JSON object
lines=$(wc -l <"$T/egressd.out")
objs=$(jq -c 'select(type == "object")' "$T/egressd.out" 2>/dev/null | wc -l)
if [ "$lines" -ge 10 ] && [ "$lines" = "$objs" ]; then
	pass stdout/json-lines
else
	fail stdout/json-lines "$lines lines, $objs JSON objects: $(head -c 300 "$T/egressd.out")"
fi

finish

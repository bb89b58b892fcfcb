#!/bin/bash
# 66-events-hints.sh - denial events, hints and followers (issue 3).
#
# - Every field of a denial event, for known probes (pid, tgid, comm, uid of
#   the probe, its cgroup and cgroup ids, hook, family, proto, dst as decided,
#   dport, policy, the CIDR rule that decided or "default", errno,
#   suppressed, the filled hint), in egressd's JSON log and its text log.
# - `egressctl events --follow --cgroup DIR --format hint` prints the policy's
#   hint template filled in, for DIR and its descendants only (never a
#   sibling's, not even one whose name starts with DIR's); `policy set
#   --hint` changes later hints (quotes and backslashes verbatim; unknown
#   placeholders and multi-line hints refused); several followers at once
#   (up to 200) all get every event; json and text formats; without
#   --follow the recent events.
# - A stuck follower (egressctl writing into a fifo nobody reads, and a raw
#   client that stops reading) slows neither egressd (no ring-buffer drop,
#   its log complete) nor the other followers (every event): when it reads
#   again it is told exactly how many it lost.
# - `egressctl events` without egressd (socket gone, or stale) says so and
#   exits 1; a non-root user cannot connect (EACCES).
# - Flood: 200,000 denied connects from one cgroup under the default rate
#   limit (100/s, burst 200): 200,000 EPERMs, the denied counter rises by
#   exactly 200,000, delivered + suppressed + dropped = denied, the log stays
#   small, egressd's RSS stays bounded, the events' suppressed fields add up
#   to the suppressed counter.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../prom-lib.sh"
setup
# the same egressd for every start, whatever is rebuilt meanwhile
cp "$EGRESSD" "$T/egressd" || die "cannot copy $EGRESSD"
EGRESSD=$T/egressd
for t in python3 curl ss mkfifo; do
	command -v "$t" >/dev/null 2>&1 || die "tool '$t' not installed"
done
# a python3 that uid 65534 can run (not one under root's home)
PY_ANY=/usr/bin/python3
[ -x "$PY_ANY" ] || die "$PY_ANY missing (Debian package python3)"

SOCK=$T/events.sock
HINT1='Connection to {dst}:{dport} ({proto}) was blocked: {policy} {comm} {pid}.'
HINT2='NEW {policy}: {dst} port {dport} by {comm}'

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

mkcg app app/child app2 other burst flood
# free (hint HINT1): allow 192.0.2.10 tcp 3128, deny 192.0.2.20 tcp 80,
# 192.0.2.0/24 udp, 2001:db8::/32 port 443; flood: no rules
ectl_ok setup apply -f "$ROOT/tests/fixtures/hints.policy" || die "apply tests/fixtures/hints.policy"
[ "$(ectl policy list --json | jq -r '.[] | select(.name == "free") | .hint')" = "$HINT1" ] ||
	die "tests/fixtures/hints.policy: the hint of free is not HINT1"
for c in app app2 other burst; do
	ectl_ok setup attach "$CGROOT/$c" --policy free || die "attach $c"
done
ectl_ok setup attach "$CGROOT/flood" --policy flood || die "attach flood"

# deny_probe CGROUP WHO MODE ADDR PORT: one probe in CGROUP, in the netns, as
# WHO (nobody|container); PROBE_PID is its pid (sh, nsenter and setpriv
# exec), PROBE_WORD what it printed.  Not in $(...).
NPROBE=0
deny_probe() {
	local cg=$1 who=$2 pre out
	shift 2
	NPROBE=$((NPROBE + 1))
	out=$T/probe.$NPROBE.out
	case $who in
	nobody) pre=("${NOBODY[@]}") ;;
	container) pre=("${CONTAINER_ROOT[@]}") ;;
	esac
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
		nsenter --net="/run/netns/$NS" "${pre[@]}" "$PROBE" "$@" >"$out" 2>&1 &
	PROBE_PID=$!
	wait_pid "$PROBE_PID"
	PROBE_WORD=$(cat "$out")
}

# event_of PID [FILE]: the event (JSON) of that tgid in egressd's log, waiting
# (bounded) for it.
_has_tgid() { jq -c "select(.tgid? == $1)" "$2" 2>/dev/null | grep -q .; }
event_of() {
	local f=${2:-$T/egressd.out}
	wait_until 10 _has_tgid "$1" "$f" || return 1
	jq -c "select(.tgid? == $1)" "$f" 2>/dev/null | head -1
}

cgid() { stat -c %i "$1"; }
APP_ID=$(cgid "$CGROOT/app")

# ------------------------------------------------------------ JSON events

FIELDS='["ts","cgroup","cgroup_id","bound_cgroup_id","pid","tgid","comm","uid","hook","family","proto","dst","dport","policy","rule","errno","errno_value","suppressed","hint"]'
# json_event NAME CGROUP WHO WANT_UID MODE ADDR PORT JQ: a denied probe, its
# event found by the probe's pid, every field checked (JQ: the decision).
declare -A PID_OF
json_event() {
	local n=$1 cg=$2 who=$3 uid=$4 ev now ts id bid
	shift 4
	local mode=$1 addr=$2 port=$3 decision=$4
	deny_probe "$cg" "$who" "$mode" "$addr" "$port"
	PID_OF[$n]=$PROBE_PID
	if [ "$PROBE_WORD" != EPERM ]; then
		fail "json/$n" "probe $mode $addr $port: expected EPERM, got '$PROBE_WORD'"
		return
	fi
	if ! ev=$(event_of "$PROBE_PID"); then
		fail "json/$n" "no event with tgid $PROBE_PID: $(tail -c 600 "$T/egressd.out")"
		return
	fi
	id=$(cgid "$cg")
	bid=$id
	[ "$cg" = "$CGROOT/app/child" ] && bid=$APP_ID
	now=$(date +%s)
	check_json "json/$n/all-fields" "type == \"object\" and ($FIELDS - keys) == []" "$ev"
	check_json "json/$n/ts" '.ts | type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z$")' "$ev"
	ts=$(printf '%s' "$ev" | jq -r '.ts | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601' 2>/dev/null)
	if [ -n "$ts" ] && [ $((now - ts)) -le 30 ] && [ $((ts - now)) -le 2 ]; then
		pass "json/$n/ts-now"
	else
		fail "json/$n/ts-now" "event time '$ts' is not now ($now): $ev"
	fi
	check_json "json/$n/process" ".pid == $PROBE_PID and .tgid == $PROBE_PID and .comm == \"probe\" and .uid == $uid" "$ev"
	check_json "json/$n/cgroup" ".cgroup == \"$cg\" and .cgroup_id == $id and .bound_cgroup_id == $bid" "$ev"
	check_json "json/$n/decision" "$decision" "$ev"
	check_json "json/$n/errno-suppressed" '.errno == "EPERM" and .errno_value == 1 and .suppressed == 0' "$ev"
}

fill1() { # DST DPORT PROTO PID: HINT1 filled in for policy free, comm probe
	printf 'Connection to %s:%s (%s) was blocked: free probe %s.' "$1" "$2" "$3" "$4"
}

json_event tcp4-cidr-rule "$CGROOT/app" nobody 65534 tcp 192.0.2.20 80 \
	'.hook == "connect4" and .family == "ipv4" and .proto == "tcp" and .dst == "192.0.2.20" and .dport == 80 and .policy == "free" and .rule == "192.0.2.20/32 tcp port 80"'
check_json json/tcp4-cidr-rule/hint ".hint == \"$(fill1 192.0.2.20 80 tcp "${PID_OF[tcp4-cidr-rule]}")\"" \
	"$(event_of "${PID_OF[tcp4-cidr-rule]}")"
json_event tcp4-default "$CGROOT/app" nobody 65534 tcp 192.0.2.30 8080 \
	'.hook == "connect4" and .family == "ipv4" and .proto == "tcp" and .dst == "192.0.2.30" and .dport == 8080 and .rule == "default"'
json_event mapped-as-v4 "$CGROOT/app" nobody 65534 tcp ::ffff:192.0.2.30 443 \
	'.hook == "connect6" and .family == "ipv4" and .proto == "tcp" and .dst == "192.0.2.30" and .dport == 443 and .rule == "default"'
json_event udp4-cidr-rule "$CGROOT/app" nobody 65534 udp 192.0.2.30 53 \
	'.hook == "sendmsg4" and .family == "ipv4" and .proto == "udp" and .dst == "192.0.2.30" and .dport == 53 and .rule == "192.0.2.0/24 udp"'
json_event tcp6-cidr-rule "$CGROOT/app" nobody 65534 tcp 2001:db8::20 443 \
	'.hook == "connect6" and .family == "ipv6" and .proto == "tcp" and .dst == "2001:db8::20" and .dport == 443 and .rule == "2001:db8::/32 port 443"'
json_event udp6-default "$CGROOT/app/child" nobody 65534 udp 2001:db8::30 5353 \
	'.hook == "sendmsg6" and .family == "ipv6" and .proto == "udp" and .dst == "2001:db8::30" and .dport == 5353 and .rule == "default"'
json_event container-root-uid0 "$CGROOT/app" container 0 tcp 192.0.2.20 81 \
	'.hook == "connect4" and .dst == "192.0.2.20" and .dport == 81 and .rule == "default"'
# (the other cgroup's first event: the backlog that tells when its follower is live)
deny_probe "$CGROOT/other" nobody tcp 192.0.2.20 8001
OTHER0=$PROBE_PID
event_of "$OTHER0" >/dev/null || fail json/other "no event for the other cgroup's probe"

APP_PIDS=("${PID_OF[tcp4-cidr-rule]}" "${PID_OF[tcp4-default]}" "${PID_OF[mapped-as-v4]}"
	"${PID_OF[udp4-cidr-rule]}" "${PID_OF[tcp6-cidr-rule]}" "${PID_OF[udp6-default]}"
	"${PID_OF[container-root-uid0]}")
# the hints of those seven, in order
APP_HINTS=$(
	fill1 192.0.2.20 80 tcp "${APP_PIDS[0]}"; echo
	fill1 192.0.2.30 8080 tcp "${APP_PIDS[1]}"; echo
	fill1 192.0.2.30 443 tcp "${APP_PIDS[2]}"; echo
	fill1 192.0.2.30 53 udp "${APP_PIDS[3]}"; echo
	fill1 2001:db8::20 443 tcp "${APP_PIDS[4]}"; echo
	fill1 2001:db8::30 5353 udp "${APP_PIDS[5]}"; echo
	fill1 192.0.2.20 81 tcp "${APP_PIDS[6]}"; echo
)

# ------------------------------------------------------------ followers and hints

# follower NAME ARGS...: `egressctl events --follow ARGS` in the background,
# stdout to $T/f.NAME.out, stderr to $T/f.NAME.err; pid in FPID[NAME].
declare -A FPID
follower() {
	local n=$1
	shift
	"$EGRESSCTL" events --follow --socket "$SOCK" "$@" >"$T/f.$n.out" 2>"$T/f.$n.err" &
	FPID[$n]=$!
	BG_PIDS+=($!)
}
_lines_ge() { [ "$(grep -c "${3:-.}" "$1" 2>/dev/null)" -ge "$2" ]; }

follower hint1 --cgroup "$CGROOT/app" --format hint
follower hint2 --cgroup "$CGROOT/app/" --format hint	# a trailing slash is the same cgroup
follower json --cgroup "$CGROOT/app" --format json
follower text --cgroup "$CGROOT/app" --format text
follower other --cgroup "$CGROOT/other" --format hint
follower all --format json
# live: each has received the recent events of its cgroup (the backlog)
for f in hint1 hint2 json text; do
	wait_until 10 _lines_ge "$T/f.$f.out" 7 ||
		fail "follow/$f/backlog" "not 7 lines: $(cat "$T/f.$f.out" "$T/f.$f.err")"
done
wait_until 10 _lines_ge "$T/f.other.out" 1 || fail follow/other/backlog "nothing: $(cat "$T/f.other.err")"
wait_until 10 _lines_ge "$T/f.all.out" 8 || fail follow/all/backlog "not 8 lines: $(cat "$T/f.all.err")"
check_eq follow/backlog-hints "$APP_HINTS" "$(cat "$T/f.hint1.out")"

# new denials: other cgroups first (a sibling whose name starts with "app",
# the other one), then the followed cgroup's descendant, then the cgroup
deny_probe "$CGROOT/app2" nobody tcp 192.0.2.20 8002
APP2=$PROBE_PID
deny_probe "$CGROOT/other" nobody udp 192.0.2.20 8003
OTHER1=$PROBE_PID
deny_probe "$CGROOT/app/child" nobody tcp 2001:db8::20 8004
CHILD1=$PROBE_PID
deny_probe "$CGROOT/app" nobody tcp 192.0.2.30 8005
APP1=$PROBE_PID
NEW_HINTS=$(
	fill1 2001:db8::20 8004 tcp "$CHILD1"; echo
	fill1 192.0.2.30 8005 tcp "$APP1"; echo
)
for f in hint1 hint2 json text; do
	wait_until 10 _lines_ge "$T/f.$f.out" 9 || fail "follow/$f/live" "not 9 lines: $(tail -3 "$T/f.$f.out")"
done
wait_until 10 _lines_ge "$T/f.other.out" 2 || fail follow/other/live "not 2 lines: $(cat "$T/f.other.out")"
wait_until 10 _lines_ge "$T/f.all.out" 12 || fail follow/all/live "not 12 lines: $(tail -3 "$T/f.all.out")"
check_eq follow/hint-lines "$APP_HINTS
$NEW_HINTS" "$(cat "$T/f.hint1.out")"
check_eq follow/second-follower-same-lines "$(cat "$T/f.hint1.out")" "$(cat "$T/f.hint2.out")"
check_eq follow/json-follower-same-events "${APP_PIDS[*]} $CHILD1 $APP1" \
	"$(jq -r '.tgid' "$T/f.json.out" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
check_eq follow/json-follower-cgroups "$CGROOT/app $CGROOT/app $CGROOT/app $CGROOT/app $CGROOT/app $CGROOT/app/child $CGROOT/app $CGROOT/app/child $CGROOT/app" \
	"$(jq -r '.cgroup' "$T/f.json.out" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
check_json follow/json-follower-full-event "($FIELDS - keys) == [] and .tgid == $APP1 and .dst == \"192.0.2.30\" and .dport == 8005 and .hint == \"$(fill1 192.0.2.30 8005 tcp "$APP1")\"" \
	"$(tail -1 "$T/f.json.out")"
# the other cgroups' ports, as a port (":8002 ", "dport":8002), not inside a timestamp
foreign='(:|"dport":)(8001|8002|8003)([^0-9]|$)'
if grep -qE "$foreign" "$T/f.hint1.out" "$T/f.json.out" "$T/f.text.out"; then
	fail follow/no-foreign-events "another cgroup's denial reached an app follower: $(grep -hE "$foreign" "$T"/f.{hint1,json,text}.out)"
else
	pass follow/no-foreign-events
fi
check_eq follow/other-cgroup-only "$(fill1 192.0.2.20 8001 tcp "$OTHER0")
$(fill1 192.0.2.20 8003 udp "$OTHER1")" "$(cat "$T/f.other.out")"
check_eq follow/unfiltered-gets-all "${APP_PIDS[*]} $OTHER0 $APP2 $OTHER1 $CHILD1 $APP1" \
	"$(jq -r '.tgid' "$T/f.all.out" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
# text: one line with the essentials
line=$(grep -- "pid=$APP1 " "$T/f.text.out")
case $line in
*"DENY connect4 tcp 192.0.2.30:8005 "*"policy=free"*'rule="default"'*"errno=EPERM"*"comm=probe"*"pid=$APP1 "*"uid=65534"*"cgroup=$CGROOT/app "*)
	pass follow/text-line ;;
*) fail follow/text-line "unexpected: '$line'" ;;
esac
line=$(grep -- "pid=$CHILD1 " "$T/f.text.out")
case $line in
*"DENY connect6 tcp [2001:db8::20]:8004 "*"policy=free"*'rule="default"'*"cgroup=$CGROOT/app/child "*)
	pass follow/text-line-v6 ;;
*) fail follow/text-line-v6 "unexpected: '$line'" ;;
esac
check_eq follow/text-one-line-per-event 9 "$(wc -l <"$T/f.text.out")"

# policy set --hint: later hints change, earlier lines stay
ectl_ok hint/set policy set free --hint "$HINT2" || true
deny_probe "$CGROOT/app" nobody tcp 192.0.2.20 8006
APP3=$PROBE_PID
wait_until 10 _lines_ge "$T/f.hint1.out" 10 || fail hint/set-applies "no 10th line: $(tail -2 "$T/f.hint1.out")"
check_eq hint/set-applies "$APP_HINTS
$NEW_HINTS
NEW free: 192.0.2.20 port 8006 by probe" "$(cat "$T/f.hint1.out")"
out=$(ectl policy list --json 2>&1)
check_json hint/listed ".[] | select(.name == \"free\") | .hint == \"$HINT2\"" "$out"
# the json follower's hint field carries the same text
check_json hint/json-field ".tgid == $APP3 and .hint == \"NEW free: 192.0.2.20 port 8006 by probe\"" \
	"$(tail -1 "$T/f.json.out")"

# without --follow: the recent events of the cgroup, then exit 0
check_out events/no-follow-recent "$APP_HINTS
$NEW_HINTS
NEW free: 192.0.2.20 port 8006 by probe" \
	"$EGRESSCTL" events --cgroup "$CGROOT/app" --format hint --socket "$SOCK"
check_out events/env-socket "${APP_PIDS[*]} $CHILD1 $APP1 $APP3" \
	sh -c "EGRESS_EVENTS_SOCKET='$SOCK' '$EGRESSCTL' events --cgroup '$CGROOT/app' | jq -r .tgid | tr '\n' ' ' | sed 's/ \$//'"

# a hint with quotes, backslashes and percent signs: verbatim in hint lines,
# escaped in JSON; unknown placeholders and multi-line hints are refused
HINT3='Say "no" to {dst} \o/ 100% {proto}'
ectl_ok hint/set-quoted policy set free --hint "$HINT3" || true
deny_probe "$CGROOT/app" nobody udp 192.0.2.20 8007
APP4=$PROBE_PID
wait_until 10 _lines_ge "$T/f.hint1.out" 11 || fail hint/quoted "no 11th line: $(tail -2 "$T/f.hint1.out")"
check_eq hint/quoted-verbatim 'Say "no" to 192.0.2.20 \o/ 100% udp' "$(tail -1 "$T/f.hint1.out")"
wait_until 10 _lines_ge "$T/f.json.out" 11
check_json hint/quoted-json ".tgid == $APP4 and .hint == \"Say \\\"no\\\" to 192.0.2.20 \\\\o/ 100% udp\"" "$(tail -1 "$T/f.json.out")"
check_bad hint/unknown-placeholder-refused ectl policy set free --hint 'to {dst} by {user}'
check_bad hint/multi-line-refused ectl policy set free --hint $'line one {dst}\nline two'

# any number of followers at once (one per sandbox on a busy node): 200
# raw clients, each live (it got {"live":true}), all get the next event
NMANY=200
cat >"$T/many.py" <<'EOF'
import json, select, socket, sys, time
path, cg, n, ready, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
socks, bufs, errors = [], {}, []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)	# blocking, as egressctl's: waits for room in the backlog
        s.sendall((json.dumps({"cgroup": cg, "follow": True}) + "\n").encode())
    except OSError as e:
        try:
            s.settimeout(1)
            e = s.recv(4096).decode(errors="replace").strip() or e
        except OSError:
            pass
        errors.append("refused: %s" % e)
        s.close()
        continue
    s.settimeout(10)
    socks.append(s)
    bufs[s] = b""
def pump(want):
    end = time.time() + 15
    while socks and time.time() < end and not all(want in bufs[s] for s in socks):
        r, _, _ = select.select(socks, [], [], 0.2)
        for s in r:
            try:
                d = s.recv(65536)
            except OSError as e:
                d = b""
                bufs[s] += str(e).encode()
            if not d:
                socks.remove(s)
                errors.append("closed: " + bufs[s][-120:].decode(errors="replace").strip())
            bufs[s] += d
pump(b'{"live":true}')
live = sum(b'{"live":true}' in b for b in bufs.values())
open(ready, "w").write("%d\n" % live)
want = ('"dport":%s,' % port).encode()
pump(want)
got = sum(want in b for b in bufs.values())
print("live=%d got=%d" % (live, got) + (" (%d failed: %s)" % (len(errors), "; ".join(sorted(set(errors)))) if errors else ""))
EOF
python3 "$T/many.py" "$SOCK" "$CGROOT/app" "$NMANY" "$T/many.ready" 8100 >"$T/many.out" 2>&1 &
MANY=$!
BG_PIDS+=("$MANY")
wait_until 20 test -s "$T/many.ready"
deny_probe "$CGROOT/app" nobody tcp 192.0.2.20 8100
wait_pid "$MANY" >/dev/null 2>&1
check_eq follow/many-followers "live=$NMANY got=$NMANY" "$(cat "$T/many.out")"

# only root: the socket is 0600, a non-root user gets EACCES
check_eq access/socket-mode "600 root" "$(stat -c '%a %U' "$SOCK" 2>&1)"
out=$(as_nobody "$EGRESSCTL_ANYONE" events --socket "$SOCK" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && printf '%s' "$out" | grep -q 'Permission denied'; then
	pass access/nobody-egressctl-refused
else
	fail access/nobody-egressctl-refused "exit $rc: $out"
fi
check_out access/nobody-connect-eacces EACCES as_nobody "$PY_ANY" -c '
import errno, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$SOCK"
# a non-root process that gets past the file mode (CAP_DAC_OVERRIDE) is
# still refused by its credentials: no event reaches it
out=$(timeout "$TO" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+dac_override \
	--ambient-caps=+dac_override -- "$PY_ANY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
data = b""
try:
    s.sendall(b"{\"cgroup\": \"\", \"follow\": false}\n")
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except (socket.timeout, BrokenPipeError, ConnectionResetError):
    pass
print("bytes=%d" % len(data))' "$SOCK" 2>&1)
check_eq access/non-root-peer-gets-nothing "bytes=0" "$out"

# ------------------------------------------------------------ egressd stops

stop_egressd TERM
check_eq stop/egressd-exit-0 0 "$EGRESSD_RC"
_gone() { ! kill -0 "$1" 2>/dev/null; }
# followers say they are connected, and wait for egressd's return (issue 14)
for f in hint1 json all; do
	check "follow/$f-says-connected" grep -q '^egressctl: events: connected to egressd on ' "$T/f.$f.err"
	if wait_until 10 grep -q 'egressd closed the stream .*reconnecting' "$T/f.$f.err" &&
		kill -0 "${FPID[$f]}" 2>/dev/null; then
		pass "stop/follower-$f-waits-for-egressd"
	else
		fail "stop/follower-$f-waits-for-egressd" "$(kill -0 "${FPID[$f]}" 2>/dev/null || echo exited;
			cat "$T/f.$f.err")"
	fi
done
out=$("$EGRESSCTL" events --socket "$SOCK" 2>&1 >/dev/null)
rc=$?
check_eq no-egressd/exit-1 1 "$rc"
check no-egressd/says-so sh -c "printf '%s' '$out' | grep -qi 'egressd is not running'"
check_eq no-egressd/one-line 1 "$(printf '%s\n' "$out" | wc -l)"
out=$("$EGRESSCTL" events --follow --cgroup "$CGROOT/app" --format hint --socket "$SOCK" 2>&1 >/dev/null)
rc=$?
check_eq no-egressd/follow-exit-1 1 "$rc"
check no-egressd/follow-says-so sh -c "printf '%s' '$out' | grep -qi 'egressd is not running'"

# ------------------------------------------------------------ text log

mv "$T/egressd.out" "$T/egressd.json-1.out"
start_egressd --log-format text || die "egressd (text) not ready: $(cat "$EGRESSD_ERR")"
deny_probe "$CGROOT/app" nobody tcp 192.0.2.20 80
TP1=$PROBE_PID
deny_probe "$CGROOT/app/child" nobody udp 2001:db8::30 5353
TP2=$PROBE_PID
deny_probe "$CGROOT/app" nobody tcp ::ffff:192.0.2.30 443
TP3=$PROBE_PID
_has_pid() { grep -q -- " pid=$1 " "$T/egressd.out"; }
wait_until 10 _has_pid "$TP3" || fail textlog/events "no line for pid $TP3: $(cat "$T/egressd.out")"
TSRE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z '
text_line() { # NAME PID REGEX
	local l
	l=$(grep -- " pid=$2 " "$T/egressd.out")
	if [ "$(printf '%s\n' "$l" | grep -c .)" = 1 ] && printf '%s' "$l" | grep -Eq "$TSRE" &&
		printf '%s' "$l" | grep -Eq -- "$3"; then
		pass "textlog/$1"
	else
		fail "textlog/$1" "line '$l' does not match '$3'"
	fi
}
# the followers are back, and get the restarted egressd's events
for f in hint1 json all; do
	if wait_until 10 grep -q '^egressctl: events: reconnected to egressd' "$T/f.$f.err"; then
		pass "restart/follower-$f-reconnected"
	else
		fail "restart/follower-$f-reconnected" "$(cat "$T/f.$f.err")"
	fi
done
_all_has() { jq -r '.tgid' "$T/f.all.out" 2>/dev/null | grep -qx "$1"; }
wait_until 10 _all_has "$TP3"
check_eq restart/follower-gets-new-events "$TP1 $TP2 $TP3" \
	"$(jq -r "select(.tgid == $TP1 or .tgid == $TP2 or .tgid == $TP3) | .tgid" "$T/f.all.out" | tr '\n' ' ' | sed 's/ $//')"
for f in hint1 json all; do
	kill -TERM "${FPID[$f]}" 2>/dev/null
	if wait_until 10 _gone "${FPID[$f]}"; then
		pass "stop/follower-$f-ends-on-sigterm"
	else
		fail "stop/follower-$f-ends-on-sigterm" "still running"
	fi
done
text_line tcp4 "$TP1" "DENY connect4 tcp 192\.0\.2\.20:80 policy=free rule=\"192\.0\.2\.20/32 tcp port 80\" errno=EPERM comm=probe pid=$TP1 tgid=$TP1 uid=65534 cgroup=$CGROOT/app suppressed=0$"
text_line udp6-child "$TP2" "DENY sendmsg6 udp \[2001:db8::30\]:5353 policy=free rule=\"default\" errno=EPERM comm=probe pid=$TP2 tgid=$TP2 uid=65534 cgroup=$CGROOT/app/child suppressed=0$"
text_line mapped-as-v4 "$TP3" "DENY connect6 tcp 192\.0\.2\.30:443 policy=free rule=\"default\" errno=EPERM comm=probe pid=$TP3 tgid=$TP3 uid=65534 cgroup=$CGROOT/app suppressed=0$"
check_eq textlog/no-json 0 "$(grep -c '^{' "$T/egressd.out")"
# a stale socket (egressd killed): still "not running", exit 1
stop_egressd KILL
check no-egressd/stale-socket-present test -S "$SOCK"
out=$("$EGRESSCTL" events --socket "$SOCK" 2>&1 >/dev/null)
rc=$?
check_eq no-egressd/stale-exit-1 1 "$rc"
check no-egressd/stale-says-so sh -c "printf '%s' '$out' | grep -qi 'egressd is not running'"
mv "$T/egressd.out" "$T/egressd.text.out"

# ------------------------------------------------------------ stuck followers

# no rate limit here, so that events come faster than the stuck ones read
start_egressd --event-rate 0 || die "egressd (rate 0) not ready: $(cat "$EGRESSD_ERR")"
deny_probe "$CGROOT/burst" nobody tcp 192.0.2.20 9000	# the backlog: tells when a follower is live
B0=$PROBE_PID
event_of "$B0" >/dev/null || fail stuck/first "no event for pid $B0"

follower good --cgroup "$CGROOT/burst" --format json
wait_until 10 _lines_ge "$T/f.good.out" 1 || fail stuck/good-live "no backlog line: $(cat "$T/f.good.err")"

# stuck 1: egressctl writing into a fifo whose reader waits for $T/go
mkfifo "$T/fifo" || die mkfifo
(
	i=0
	while [ ! -e "$T/go" ] && [ $i -lt 900 ]; do sleep 0.05; i=$((i + 1)); done
	exec cat
) <"$T/fifo" >"$T/s1.out" &
BG_PIDS+=($!)
"$EGRESSCTL" events --follow --cgroup "$CGROOT/burst" --socket "$SOCK" >"$T/fifo" 2>"$T/s1.err" &
S1=$!
BG_PIDS+=("$S1")
fifo_bytes() {
	python3 -c '
import fcntl, os, struct, sys, termios
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
print(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])' "$T/fifo"
}
_fifo_nonempty() { [ "$(fifo_bytes)" -gt 0 ]; }
wait_until 10 _fifo_nonempty || fail stuck/fifo-live "egressctl wrote nothing into the fifo: $(cat "$T/s1.err")"

# stuck 2: a raw client that reads the backlog, then nothing until $T/go
cat >"$T/raw.py" <<'EOF'
import json, os, socket, sys, time
path, cg, ready, go, out, final = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(path)
s.sendall((json.dumps({"cgroup": cg, "follow": True}) + "\n").encode())
buf = b""
while b"\n" not in buf:
    d = s.recv(4096)
    if not d:
        sys.exit("closed")
    buf += d
open(ready, "w").close()
end = time.time() + 45
while not os.path.exists(go) and time.time() < end:
    time.sleep(0.05)
want = ('"dport":%s,' % final).encode()
with open(out, "wb") as f:
    while want not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    buf = buf[:buf.rindex(b"\n") + 1]	# complete lines only
    f.write(buf)
EOF
FINAL=9100
python3 "$T/raw.py" "$SOCK" "$CGROOT/burst" "$T/raw.ready" "$T/go" "$T/s2.out" "$FINAL" 2>"$T/s2.err" &
S2=$!
BG_PIDS+=("$S2")
wait_until 10 test -e "$T/raw.ready" || fail stuck/raw-live "raw client not live: $(cat "$T/s2.err")"

drops0=$(ectl status --json 2>/dev/null | jq -r .ringbuf_drops)
# 2000 denials in 10 batches of 200; before each batch the good follower has
# every earlier one (a reader that keeps up loses nothing), the stuck ones
# never read meanwhile
NB=10
BATCH=200
sent=1
t0=$(date +%s%N)
for ((b = 0; b < NB; b++)); do
	out=$(in_cgroup "$CGROOT/burst" nsenter --net="/run/netns/$NS" "${NOBODY[@]}" timeout "$TO" \
		"$PROBE" loop tcp 192.0.2.20 $((9001 + b)) $BATCH 2>&1)
	[ "$out" = "EPERM=$BATCH" ] || fail "stuck/batch-$b" "probe loop: $out"
	sent=$((sent + BATCH))
	wait_until 10 _lines_ge "$T/f.good.out" "$sent" || break
done
t1=$(date +%s%N)
wait_until 10 _lines_ge "$T/f.good.out" "$sent"
check_eq stuck/good-follower-got-every-event "$sent" "$(grep -c . "$T/f.good.out")"
check_eq stuck/good-follower-not-told-lost "" "$(grep -v 'connected to egressd' "$T/f.good.err")"
_log_has() { [ "$(jq -c "select(.cgroup? == \"$CGROOT/burst\")" "$T/egressd.out" 2>/dev/null | wc -l)" -ge "$1" ]; }
wait_until 10 _log_has "$sent"
check_eq stuck/egressd-logged-every-event "$sent" \
	"$(jq -c "select(.cgroup? == \"$CGROOT/burst\")" "$T/egressd.out" 2>/dev/null | wc -l)"
check_eq stuck/no-ringbuf-drops "$drops0" "$(ectl status --json 2>/dev/null | jq -r .ringbuf_drops)"
ms=$(((t1 - t0) / 1000000))
if [ "$ms" -lt 15000 ]; then
	pass stuck/egressd-kept-pace
else
	fail stuck/egressd-kept-pace "2000 events took ${ms} ms to reach the good follower"
fi
check stuck/still-stuck kill -0 "$S1"
check stuck/raw-still-stuck kill -0 "$S2"

# they read again; new events (until both have one) tell them what they lost
touch "$T/go"
_s1_final() { grep -q "\"dport\":$1," "$T/s1.out"; }
_s2_done() { ! kill -0 "$S2" 2>/dev/null; }
FINAL_PIDS=()
for ((i = 0; i < 20; i++)); do
	deny_probe "$CGROOT/burst" nobody tcp 192.0.2.20 "$FINAL"
	FINAL_PIDS+=("$PROBE_PID")
	sent=$((sent + 1))
	sleep 0.3
	_s1_final "$FINAL" && _s2_done && break
done
# one last event, that all three must get as it is
deny_probe "$CGROOT/burst" nobody tcp 192.0.2.20 9200
sent=$((sent + 1))
wait_until 10 _s1_final 9200 || fail stuck/s1-resumed "no event after resuming: $(tail -c 300 "$T/s1.out"; cat "$T/s1.err")"
wait_until 10 _lines_ge "$T/f.good.out" "$sent"
check_eq stuck/good-follower-got-every-event-after "$sent" "$(grep -c . "$T/f.good.out")"
kill -TERM "$S1" 2>/dev/null
wait_pid "$S1" >/dev/null 2>&1
wait_pid "$S2" >/dev/null 2>&1
# egressctl: its stderr says how many; events it printed + lost = all
lost1=$(sed -n 's/.* \([0-9][0-9]*\) events lost.*/\1/p' "$T/s1.err" | awk '{s += $1} END {print s + 0}')
got1=$(jq -c "select(.cgroup? == \"$CGROOT/burst\")" "$T/s1.out" 2>/dev/null | wc -l)
if grep -q 'events lost' "$T/s1.err" && [ "$lost1" -gt 0 ]; then
	pass stuck/egressctl-told-lost
else
	fail stuck/egressctl-told-lost "stderr: $(cat "$T/s1.err")"
fi
check_eq stuck/egressctl-received-plus-lost-is-all "$sent" "$((got1 + lost1))"
# the raw client: {"lost": N} lines; events + N = all (it stopped after the
# first final event, before the last one)
got2=$(jq -c 'select(.tgid?)' "$T/s2.out" 2>/dev/null | wc -l)
lost2=$(jq -r 'select(.lost?) | .lost' "$T/s2.out" 2>/dev/null | awk '{s += $1} END {print s + 0}')
if [ "$lost2" -gt 0 ]; then
	pass stuck/raw-told-lost
else
	fail stuck/raw-told-lost "no {\"lost\":N}: $(jq -c 'select(.tgid? | not)' "$T/s2.out" | head -5)"
fi
# the events sent up to its last one: the backlog one, the batches, and
# the final ones up to the last it received
echo "# stuck followers: egressctl got $got1 and lost $lost1, the raw client got $got2 and lost $lost2, of $sent"
lastpid2=$(jq -c 'select(.tgid?)' "$T/s2.out" 2>/dev/null | tail -1 | jq -r .tgid)
idx=-1
for ((i = 0; i < ${#FINAL_PIDS[@]}; i++)); do
	[ "${FINAL_PIDS[$i]}" = "$lastpid2" ] && idx=$i
done
if [ "$idx" -ge 0 ]; then
	check_eq stuck/raw-received-plus-lost-is-all "$((1 + NB * BATCH + idx + 1))" "$((got2 + lost2))"
else
	fail stuck/raw-received-plus-lost-is-all "its last event (tgid $lastpid2) is not a final one (${FINAL_PIDS[*]}): $(jq -c 'select(.tgid? | not)' "$T/s2.out"; jq -c 'select(.tgid?) | [.tgid, .dport]' "$T/s2.out" | tail -3)"
fi
stop_egressd TERM
mv "$T/egressd.out" "$T/egressd.stuck.out"

# ------------------------------------------------------------ flood

MPORT=$(free_port) || die "no free port"
start_egressd --metrics-addr "127.0.0.1:$MPORT" || die "egressd (default rate) not ready: $(cat "$EGRESSD_ERR")"
st() { ectl status --json 2>/dev/null; }
flood_denied() { st | jq -r '[.policies[] | select(.name == "flood") | .denied] | add // 0'; }
total_denied() { st | jq -r '[.policies[].denied] | add // 0'; }
# the identity, once egressd has read everything: delivered + suppressed + dropped = denied
_drained() {
	local s
	s=$(st) || return 1
	[ "$(printf '%s' "$s" | jq -r '.events_delivered + .events_suppressed + .ringbuf_drops')" = \
		"$(printf '%s' "$s" | jq -r '[.policies[].denied] | add')" ]
}
wait_until 10 _drained || fail flood/identity-before "$(st | jq -c '{events_delivered, events_suppressed, ringbuf_drops, d: [.policies[].denied]}')"
S0=$(st)
D0=$(printf '%s' "$S0" | jq -r '[.policies[] | select(.name == "flood") | .denied] | add // 0')
SUP0=$(printf '%s' "$S0" | jq -r '[.policies[] | select(.name == "flood") | .events_suppressed] | add // 0')
DEL0=$(printf '%s' "$S0" | jq -r .events_delivered)
DROP0=$(printf '%s' "$S0" | jq -r .ringbuf_drops)
SUPALL0=$(printf '%s' "$S0" | jq -r .events_suppressed)
scrape "$MPORT" /metrics "$T/m0" || fail flood/scrape-before "$(cat "$T/curl.err")"
MD0=$(pval "$T/m0" egress_denied_total policy=flood)
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$EGRESSD_PID/status"; }
RSS0=$(rss)
L0=$(wc -l <"$T/egressd.out")

# two processes at once, 100,000 denied connects each
t0=$(date +%s%N)
in_cgroup "$CGROOT/flood" nsenter --net="/run/netns/$NS" "${NOBODY[@]}" timeout 60 \
	"$PROBE" loop tcp 192.0.2.20 443 100000 >"$T/flood.1" 2>&1 &
F1=$!
in_cgroup "$CGROOT/flood" nsenter --net="/run/netns/$NS" "${NOBODY[@]}" timeout 60 \
	"$PROBE" loop tcp 2001:db8::20 443 100000 >"$T/flood.2" 2>&1 &
F2=$!
BG_PIDS+=("$F1" "$F2")
wait "$F1"
wait "$F2"
t1=$(date +%s%N)
secs=$(((t1 - t0 + 999999999) / 1000000000))
check_eq flood/process-1-sees-eperm "EPERM=100000" "$(cat "$T/flood.1")"
check_eq flood/process-2-sees-eperm "EPERM=100000" "$(cat "$T/flood.2")"
wait_until 10 _drained
ST1=$(st)
check_eq flood/denied-exactly-200000 200000 "$(($(printf '%s' "$ST1" | jq -r '[.policies[] | select(.name == "flood") | .denied] | add') - D0))"
scrape "$MPORT" /metrics "$T/m1" || fail flood/scrape-after "$(cat "$T/curl.err")"
check_eq flood/metrics-denied-exactly-200000 200000 "$(($(pval "$T/m1" egress_denied_total policy=flood) - MD0))"
check_eq flood/metrics-by-hook "100000 100000" \
	"$(($(pval "$T/m1" egress_denied_total policy=flood hook=connect4) - $(pval "$T/m0" egress_denied_total policy=flood hook=connect4))) $(($(pval "$T/m1" egress_denied_total policy=flood hook=connect6) - $(pval "$T/m0" egress_denied_total policy=flood hook=connect6)))"
DEL1=$(printf '%s' "$ST1" | jq -r .events_delivered)
DROP1=$(printf '%s' "$ST1" | jq -r .ringbuf_drops)
SUPALL1=$(printf '%s' "$ST1" | jq -r .events_suppressed)
SUP1=$(printf '%s' "$ST1" | jq -r '[.policies[] | select(.name == "flood") | .events_suppressed] | add')
dd=$((DEL1 - DEL0)) ds=$((SUPALL1 - SUPALL0)) dr=$((DROP1 - DROP0))
check_eq flood/delivered+suppressed+dropped=denied 200000 "$((dd + ds + dr))"
check_eq flood/policy-suppressed=global-suppressed "$ds" "$((SUP1 - SUP0))"
# the same identity in the metrics
check_eq flood/metrics-identity "$(pval "$T/m1" egress_denied_total)" \
	"$(($(pval "$T/m1" egress_events_delivered_total) + $(pval "$T/m1" egress_events_suppressed_total) + $(pval "$T/m1" egress_events_dropped_total)))"
check_eq flood/metrics-suppressed "$ds" "$(($(pval "$T/m1" egress_events_suppressed_total policy=flood) - $(pval "$T/m0" egress_events_suppressed_total policy=flood)))"
# the log: one line per delivered event, about burst + rate x seconds
_flood_lines() { tail -n +$((L0 + 1)) "$T/egressd.out" | jq -c "select(.cgroup? == \"$CGROOT/flood\")" 2>/dev/null; }
wait_until 10 sh -c "[ \$(tail -n +$((L0 + 1)) '$T/egressd.out' | wc -l) -ge $dd ]"
lines=$(_flood_lines | wc -l)
check_eq flood/log-line-per-delivered-event "$dd" "$lines"
max=$((200 + 100 * secs + 50))
if [ "$lines" -ge 200 ] && [ "$lines" -le "$max" ]; then
	pass flood/log-small
else
	fail flood/log-small "$lines lines for 200000 denials in ${secs}s (expected 200..$max)"
fi
check_eq flood/all-lines-json "$(tail -n +$((L0 + 1)) "$T/egressd.out" | wc -l)" "$lines"
RSS1=$(rss)
echo "# flood: ${secs}s, delivered $dd, suppressed $ds, dropped $dr, log lines $lines, VmRSS $RSS0 -> $RSS1 kB"
if [ -n "$RSS0" ] && [ -n "$RSS1" ] && [ $((RSS1 - RSS0)) -le 20480 ]; then
	pass flood/rss-bounded
else
	fail flood/rss-bounded "VmRSS $RSS0 kB -> $RSS1 kB"
fi
sumsup=$(_flood_lines | jq -s 'map(.suppressed) | add // 0')
if [ "$sumsup" -le "$ds" ]; then
	pass flood/suppressed-fields-within-total
else
	fail flood/suppressed-fields-within-total "events say $sumsup suppressed, the counter $ds"
fi
# after a pause the cgroup's next event carries what was still pending:
# then the fields add up exactly (when no event was dropped, which would
# take its count with it)
sleep 0.1
deny_probe "$CGROOT/flood" nobody tcp 192.0.2.20 444
LASTP=$PROBE_PID
if ev=$(event_of "$LASTP"); then
	check_json flood/next-event-carries-pending ".suppressed > 0 and .dport == 444" "$ev"
	wait_until 10 _drained
	ST2=$(st)
	ds=$(($(printf '%s' "$ST2" | jq -r .events_suppressed) - SUPALL0))
	sumsup=$(_flood_lines | jq -s 'map(.suppressed) | add // 0')
	if [ "$dr" -eq 0 ]; then
		check_eq flood/suppressed-fields-add-up "$ds" "$sumsup"
	else
		echo "# note: $dr events dropped (ring buffer full): their pending counts are lost with them"
		pass flood/suppressed-fields-add-up
	fi
else
	fail flood/next-event-carries-pending "no event for pid $LASTP"
fi
check_eq flood/egressd-alive 0 "$(kill -0 "$EGRESSD_PID" 2>/dev/null; echo $?)"

finish

#!/bin/bash
# 64-one-egressd.sh - egressd as an operator relies on it (issue 14 items 2,
# 3 and 12, issue 16 item 6):
# - one egressd per pin directory: a second one (same options, with
#   --metrics-addr none, with another events socket) exits non-zero with
#   exactly "egressd already running (pid N)" and leaves the first one's
#   socket, metrics and health alone; an egressd of another pin directory
#   never removes a live events socket it did not create;
# - `status` opens with egressd's state (running, pid, uptime, events
#   socket, metrics address), `status --json` has it as "egressd"; after
#   kill -9 it says not running, and a new egressd starts;
# - slowloris: 400 idle half-sent HTTP requests, then a real scrape of
#   /metrics and /healthz still gets through;
# - health: a removed program pin, or `egressctl unload`, makes /healthz
#   answer 503 and egressd log that nothing is enforced; `unload` says what
#   it detached.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../prom-lib.sh"
setup
command -v curl >/dev/null || die "curl not installed"
command -v python3 >/dev/null || die "python3 not installed"

MPORT=$(free_port) || die "no free port"
SOCK=$T/events.sock
start_egressd --metrics-addr "127.0.0.1:$MPORT" || die "egressd not ready: $(cat "$EGRESSD_ERR")"
P1=$EGRESSD_PID
mkcg app
ectl_ok setup attach "$CGROOT/app" --policy default || die attach

# ------------------------------------------------------------ status

out=$(ectl status 2>&1)
case $(printf '%s\n' "$out" | head -1) in
"egressd: running, pid $P1, up 0d 00:00:"[0-9][0-9]", events socket $SOCK, metrics 127.0.0.1:$MPORT")
	pass status/opens-with-egressd ;;
*) fail status/opens-with-egressd "$(printf '%s\n' "$out" | head -2)" ;;
esac
check_json status/json-egressd ".egressd.running == true and .egressd.pid == $P1 and .egressd.uptime_s >= 0 and .egressd.uptime_s < 600 and .egressd.events_socket == \"$SOCK\" and .egressd.metrics_addr == \"127.0.0.1:$MPORT\" and .egressd.started > 0" \
	"$(ectl status --json 2>&1)"

# ------------------------------------------------------------ a second egressd

second() { # NAME ARGS...: a second egressd on the same pin dir is refused
	local n=$1 rc
	shift
	timeout "$TO" "$EGRESSD" --pin-dir "$PIN" "$@" >"$T/second.out" 2>"$T/second.err"
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(cat "$T/second.err")" = "egressd already running (pid $P1)" ]; then
		pass "second/$n/refused"
	else
		fail "second/$n/refused" "exit $rc: $(cat "$T/second.err")"
	fi
	check "second/$n/socket-kept" test -S "$SOCK"
	check "second/$n/events-still-served" timeout "$TO" "$EGRESSCTL" events --socket "$SOCK"
	check_eq "second/$n/healthz-still-ok" 200 "$(http_code "$MPORT" /healthz)"
	check "second/$n/first-alive" kill -0 "$P1"
}
second same-options --events-socket "$SOCK" --metrics-addr "127.0.0.1:$MPORT"
second metrics-none --events-socket "$SOCK" --metrics-addr none
second other-socket --events-socket "$T/other.sock" --metrics-addr none
check second/other-socket-not-made test ! -e "$T/other.sock"
# another pin directory, the same events socket: refused, the socket kept
timeout "$TO" "$EGRESSD" --pin-dir "$T/bpffs/other" --events-socket "$SOCK" --metrics-addr none \
	>"$T/other.out" 2>"$T/other.err"
rc=$?
timeout "$TO" "$EGRESSCTL" unload --pin-dir "$T/bpffs/other" >/dev/null 2>&1
if [ $rc -ne 0 ] && grep -q "event socket $SOCK is served by another egressd" "$T/other.err"; then
	pass other-pin-dir/refused
else
	fail other-pin-dir/refused "exit $rc: $(cat "$T/other.err")"
fi
check other-pin-dir/socket-kept test -S "$SOCK"
check other-pin-dir/events-still-served timeout "$TO" "$EGRESSCTL" events --socket "$SOCK"

# ------------------------------------------------------------ slowloris

cat >"$T/loris.py" <<'EOF'
import os, socket, sys, time
port, n, ready, done = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
socks = []
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
        socks.append(s)
    except OSError:
        pass  # refused or reset: the server defends itself

open(ready, "w").close()
t = time.time()
while not os.path.exists(done) and time.time() - t < 60:
    time.sleep(0.1)
EOF
python3 "$T/loris.py" "$MPORT" 400 "$T/loris.ready" "$T/loris.done" >"$T/loris.out" 2>&1 &
LORIS=$!
BG_PIDS+=("$LORIS")
wait_until 20 test -e "$T/loris.ready" || fail slowloris/setup "$(cat "$T/loris.out")"
for i in 1 2 3; do
	check_eq "slowloris/scrape-$i" 200 "$(http_code "$MPORT" /metrics)"
done
check_eq slowloris/healthz 200 "$(http_code "$MPORT" /healthz)"
touch "$T/loris.done"
wait_pid "$LORIS" >/dev/null

# ------------------------------------------------------------ health

_healthz() { [ "$(http_code "$MPORT" /healthz)" = "$1" ]; }
mv "$PIN/progs/connect4" "$T/connect4.saved" 2>/dev/null || rm -f "$PIN/progs/connect4"
if wait_until 5 _healthz 503; then
	pass health/pin-removed-healthz-503
else
	fail health/pin-removed-healthz-503 "$(http_code "$MPORT" /healthz)"
fi
check health/pin-removed-logged grep -q "^egressd: not enforcing: program pin $PIN/progs/connect4 is gone" "$EGRESSD_ERR"
body=$(curl -s --max-time 5 "http://127.0.0.1:$MPORT/healthz")
case $body in "not enforcing: program pin $PIN/progs/connect4 is gone"*) pass health/healthz-says-why ;;
*) fail health/healthz-says-why "'$body'" ;; esac
# a restart pins the programs again: healthy
stop_egressd TERM
start_egressd --metrics-addr "127.0.0.1:$MPORT" || die "egressd (restart) not ready: $(cat "$EGRESSD_ERR")"
P1=$EGRESSD_PID
check_eq health/after-restart-healthz-200 200 "$(http_code "$MPORT" /healthz)"

out=$(ectl unload 2>"$T/unload.err")
rc=$?
check_eq unload/exit-0 0 "$rc"
check unload/names-detached-cgroup grep -qxF "detached $CGROOT/app (policy default): 8 links" <<<"$out"
check unload/summary grep -qxF "unloaded: detached 8 links of 1 cgroups and removed every pin in $PIN; nothing is enforced now" <<<"$out"
check unload/warns-egressd-runs grep -q "egressd (pid $P1) still runs" "$T/unload.err"
if wait_until 5 _healthz 503; then
	pass health/unloaded-healthz-503
else
	fail health/unloaded-healthz-503 "$(http_code "$MPORT" /healthz)"
fi
check health/unloaded-logged grep -q "^egressd: not enforcing: .* is gone (egressctl unload?)" "$EGRESSD_ERR"
stop_egressd TERM

# ------------------------------------------------------------ kill -9

start_egressd --metrics-addr "127.0.0.1:$MPORT" || die "egressd (3) not ready: $(cat "$EGRESSD_ERR")"
stop_egressd KILL
out=$(ectl status 2>&1)
check_eq status/killed-not-running "egressd: not running (pin directory $PIN)" "$(printf '%s\n' "$out" | head -1)"
check_json status/killed-json '.egressd.running == false' "$(ectl status --json 2>&1)"
if start_egressd --metrics-addr "127.0.0.1:$MPORT"; then
	pass kill9/new-egressd-starts
else
	fail kill9/new-egressd-starts "$(cat "$EGRESSD_ERR")"
fi
check_json kill9/status-new-pid ".egressd.running == true and .egressd.pid == $EGRESSD_PID" "$(ectl status --json 2>&1)"

finish

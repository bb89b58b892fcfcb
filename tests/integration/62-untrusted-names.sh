#!/bin/bash
# 62-untrusted-names.sh - what a sandbox names cannot hide its attempts or
# forge output (issue 15 items 6 and 7, issue 14 item 12):
# - a process whose comm is invalid UTF-8, or holds a newline or an escape
#   sequence (prctl PR_SET_NAME): its denial is printed all the same, one
#   line, the comm escaped (\xHH), in egressd's JSON log, its text log
#   (no forged line), the followers' lines and the hint;
# - a cgroup named with invalid UTF-8 (bad\xff) or a newline: its events
#   are printed with the name escaped, a follower of that cgroup gets them,
#   and the metrics exposition stays valid UTF-8: `promtool check metrics`
#   passes and a real Prometheus keeps the target up; `status --json`
#   lists its binding, escaped;
# - a text event of a cgroup removed before egressd read it shows its id.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../prom-lib.sh"
setup
for t in curl python3 promtool prometheus iconv; do
	command -v "$t" >/dev/null 2>&1 || die "tool '$t' not installed"
done

MPORT=$(free_port) || die "no free port"
PPORT=$(free_port) || die "no free port"
start_egressd --event-rate 0 --metrics-addr "127.0.0.1:$MPORT" ||
	die "egressd not ready: $(cat "$EGRESSD_ERR")"
SOCK=$T/events.sock
ectl_ok setup policy add free --default deny --hint 'blocked {comm} to {dst}' || die "policy add"
BAD=$CGROOT/$'bad\xff'
CTL=$CGROOT/$'ctl\t\x1b[2J'	# the kernel refuses a newline in a cgroup name
mkdir "$CGROOT/app" "$BAD" "$CTL" || die "mkdir"
for cg in "$CGROOT/app" "$BAD" "$CTL"; do
	ectl_ok setup attach "$cg" --policy free || die "attach"
done

# named CGROUP HEX-COMM PORT: a python as nobody in CGROUP whose comm is the
# bytes HEX-COMM connects to 192.0.2.20:PORT; prints its errno word and pid
cat >"$T/named.py" <<'EOF'
import ctypes, errno, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(15, ctypes.c_char_p(bytes.fromhex(sys.argv[1])), 0, 0, 0):  # PR_SET_NAME
    sys.exit("prctl: %s" % os.strerror(ctypes.get_errno()))
s = socket.socket()
try:
    s.connect(("192.0.2.20", int(sys.argv[2])))
    print("ok", os.getpid())
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno), os.getpid())
EOF
chmod 644 "$T/named.py"
named() {
	run_as "$1" nobody /usr/bin/python3 "$T/named.py" "$2" "$3"
}
event_of() { # PID: egressd's JSON line for it (waits)
	[ -n "$1" ] || { echo '"no pid"'; return; }
	wait_until 10 sh -c "jq -c 'select(.tgid == $1)' '$T/egressd.out' 2>/dev/null | grep -q ."
	jq -c "select(.tgid == $1)" "$T/egressd.out" 2>/dev/null | head -1
}

# ------------------------------------------------------------ comm

# check_ev NAME JQ EVENT: check_json, and an event that never came fails
check_ev() {
	if [ -z "$3" ]; then
		fail "$1" "no event printed"
	else
		check_json "$@"
	fi
}
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
read -r w P1 < <(named "$CGROOT/app" "$(hex $'ev\xffil\x1b[31m')" 81)
check_eq comm/invalid-utf8-denied EPERM "$w"
ev=$(event_of "$P1")
check_ev comm/invalid-utf8-printed-escaped '.comm == "ev\\xffil\\x1b[31m" and .hint == "blocked ev\\xffil\\x1b[31m to 192.0.2.20"' "$ev"
read -r w P2 < <(named "$CGROOT/app" "$(hex $'a\nDENY forged')" 82)
check_eq comm/newline-denied EPERM "$w"
ev=$(event_of "$P2")
check_ev comm/newline-printed-escaped '.comm == "a\\x0aDENY forged"' "$ev"
lines=$(wc -l <"$T/egressd.out")
objs=$(jq -c 'select(type == "object")' "$T/egressd.out" 2>/dev/null | wc -l)
check_eq comm/every-line-one-json-object "$lines" "$objs"
check comm/log-valid-utf8 iconv -f UTF-8 -t UTF-8 -o /dev/null "$T/egressd.out"
# delivered = printed: nothing counted delivered was left out of the log
_printed_all() {
	[ "$(ectl status --json 2>/dev/null | jq .events_delivered)" = "$(wc -l <"$T/egressd.out")" ]
}
if wait_until 10 _printed_all; then
	pass comm/delivered-equals-printed
else
	fail comm/delivered-equals-printed "delivered $(ectl status --json | jq .events_delivered), printed $(wc -l <"$T/egressd.out")"
fi
out=$(timeout "$TO" "$EGRESSCTL" events --socket "$SOCK" --cgroup "$CGROOT/app" --format hint 2>&1)
check_eq comm/hints-one-line-each "blocked ev\\xffil\\x1b[31m to 192.0.2.20
blocked a\\x0aDENY forged to 192.0.2.20" "$out"
out=$(timeout "$TO" "$EGRESSCTL" events --socket "$SOCK" --cgroup "$CGROOT/app" --format text 2>&1)
check_eq comm/text-follower-two-lines 2 "$(printf '%s\n' "$out" | wc -l)"
check comm/text-follower-escaped grep -qF 'comm=a\x0aDENY forged pid=' <<<"$out"

# ------------------------------------------------------------ cgroup names

read -r w P3 < <(named "$BAD" "$(hex probe)" 83)
check_eq cgroup/bad-utf8-denied EPERM "$w"
ev=$(event_of "$P3")
check_ev cgroup/bad-utf8-printed-escaped ".cgroup == \"$CGROOT/bad\\\\xff\"" "$ev"
read -r w P4 < <(named "$CTL" "$(hex probe)" 84)
ev=$(event_of "$P4")
check_ev cgroup/control-chars-printed-escaped ".cgroup == \"$CGROOT/ctl\\\\x09\\\\x1b[2J\"" "$ev"
check_json status/bad-names-in-bindings "any(.bindings[]; .cgroup == \"$CGROOT/bad\\\\xff\") and any(.bindings[]; .cgroup == \"$CGROOT/ctl\\\\x09\\\\x1b[2J\")" \
	"$(ectl status --json 2>&1)"
out=$(timeout "$TO" "$EGRESSCTL" events --socket "$SOCK" --cgroup "$BAD" 2>&1)
check_ev cgroup/follower-of-bad-name-gets-it ".tgid == $P3" "$out"

scrape "$MPORT" /metrics "$T/m1" || die "scrape: $(cat "$T/curl.err")"
check metrics/valid-utf8 iconv -f UTF-8 -t UTF-8 -o /dev/null "$T/m1"
if timeout "$TO" promtool check metrics <"$T/m1" >"$T/promtool.out" 2>&1; then
	pass metrics/promtool-check
else
	fail metrics/promtool-check "$(cat "$T/promtool.out")"
fi
check_eq metrics/bad-name-series 1 "$(pcount "$T/m1" egress_cgroup_denied_total cgroup="$CGROOT/bad\\xff")"
check_eq metrics/control-chars-series 1 "$(pcount "$T/m1" egress_cgroup_denied_total cgroup="$CGROOT/ctl\\x09\\x1b[2J")"
check_eq metrics/no-raw-control-chars 0 "$(grep -c $'[\t\x1b]' "$T/m1")"
prom_start "$PPORT" "127.0.0.1:$MPORT" || die "prometheus not ready on $PPORT: $(tail -5 "$T/prom/log")"
_prom_is() { [ "$(prom_query "$1")" = "$2" ]; }
if wait_until 20 _prom_is 'up{job="egress"}' 1 && wait_until 20 _prom_is 'count(egress_cgroup_denied_total)' 3; then
	pass prometheus/target-up-with-bad-names
else
	fail prometheus/target-up-with-bad-names "up = '$(prom_query 'up{job="egress"}')', series $(prom_query 'count(egress_cgroup_denied_total)'): $(tail -3 "$T/prom/log")"
fi
sleep 2
check_eq prometheus/target-stays-up 1 "$(prom_query 'min_over_time(up{job="egress"}[1m])')"

# ------------------------------------------------------------ text log

stop_egressd TERM
mv "$T/egressd.out" "$T/egressd.json.out"
start_egressd --event-rate 0 --log-format text || die "egressd (text) not ready: $(cat "$EGRESSD_ERR")"
read -r w P5 < <(named "$CGROOT/app" "$(hex $'a\nDENY forged')" 85)
_has() { grep -q -- " pid=$1 " "$T/egressd.out"; }
wait_until 10 _has "$P5"
check_eq text/one-line-for-newline-comm 1 "$(grep -c -- "pid=$P5 " "$T/egressd.out")"
check_eq text/no-forged-line 0 "$(grep -c '^DENY forged' "$T/egressd.out")"
check text/comm-escaped grep -qF "comm=a\\x0aDENY forged pid=$P5 " "$T/egressd.out"
read -r w P6 < <(named "$CTL" "$(hex probe)" 86)
wait_until 10 _has "$P6"
check text/cgroup-escaped grep -qF "cgroup=$CGROOT/ctl\\x09\\x1b[2J " "$T/egressd.out"
check_eq text/no-raw-control-chars 0 "$(grep -c $'[\t\x1b]' "$T/egressd.out")"

# a cgroup removed before egressd reads its event: its id, not "?"
mkdir "$CGROOT/app/gone" || die "mkdir gone"
GONE_ID=$(stat -c %i "$CGROOT/app/gone")
kill -STOP "$EGRESSD_PID"
read -r w P7 < <(named "$CGROOT/app/gone" "$(hex probe)" 87)
wait_until 5 rmdir "$CGROOT/app/gone" || fail text/rmdir "cannot remove $CGROOT/app/gone"
kill -CONT "$EGRESSD_PID"
wait_until 10 _has "$P7"
check text/removed-cgroup-shows-id grep -qE -- "pid=$P7 .* cgroup=id:$GONE_ID suppressed=" "$T/egressd.out"

finish

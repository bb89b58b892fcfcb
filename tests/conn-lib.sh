# shellcheck shell=bash
# tests/conn-lib.sh - sourced after tests/lib.sh's setup by the scripts that
# hold long-lived connections (82-revoke.sh, 48-cache.sh): echo servers and
# holders from tests/revoke-conn.py, in the test's netns.

PY=/usr/bin/python3
[ -x "$PY" ] || die "$PY missing (Debian package python3)"
CONN=$T/revoke-conn.py
cp "$ROOT/tests/revoke-conn.py" "$CONN" || die "cannot copy revoke-conn.py"

# serve NAME tcp|udp ADDR PORT: an echo server in the netns, no cgroup of ours
serve() {
	local n=$1
	nsenter --net="/run/netns/$NS" "$PY" "$CONN" serve "$2" "$3" "$4" \
		>"$T/serve.$n.out" 2>"$T/serve.$n.err" &
	BG_PIDS+=($!)
	wait_until 10 grep -qx listening "$T/serve.$n.out" ||
		die "server $n did not start: $(cat "$T/serve.$n.err")"
}

# hold NAME CGROUP tcp|udp ADDR PORT: a connection held by a process of CGROUP
# (relative to $CGROOT); it waits for $T/go.NAME.
hold() {
	local n=$1
	in_cgroup "$CGROOT/$2" nsenter --net="/run/netns/$NS" "$PY" "$CONN" hold "$3" "$4" "$5" "$T/go.$n" \
		>"$T/hold.$n.out" 2>"$T/hold.$n.err" &
	BG_PIDS+=($!)
	eval "HOLD_PID_${n//[^a-zA-Z0-9]/_}=$!"
	wait_until 10 grep -q . "$T/hold.$n.out" ||
		die "holder $n did not connect: $(cat "$T/hold.$n.err")"
	[ "$(cat "$T/hold.$n.out")" = connected ] ||
		die "holder $n: $(cat "$T/hold.$n.out" "$T/hold.$n.err")"
}

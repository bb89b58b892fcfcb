#!/bin/bash
# 48-cache.sh - what the backstop skips, and what stays looked up.
#
# The TCP fast path: the packets of an established TCP connection to its
# own peer are not looked up again; the connection was decided at connect
# (or, accepted, at its SYN), and a policy change cuts the connections it
# now denies.  Here: an egressd --policy-dir update cuts an established
# connection the new set denies (and keeps an allowed one), as egressctl's
# changes do (82-revoke.sh).  Raw sockets connect()ed to a denied peer are
# 45-bypass.sh's raw-connected-*.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../fleet-lib.sh"
setup

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

# hold NAME CGROUP tcp|udp ADDR PORT: a connection held by a process of
# CGROUP (relative to $CGROOT); its next round trip waits for $T/go.NAME.
hold() {
	local n=$1
	in_cgroup "$CGROOT/$2" nsenter --net="/run/netns/$NS" "$PY" "$CONN" hold "$3" "$4" "$5" "$T/go.$n" \
		>"$T/hold.$n.out" 2>"$T/hold.$n.err" &
	BG_PIDS+=($!)
	wait_until 10 grep -q . "$T/hold.$n.out" ||
		die "holder $n did not connect: $(cat "$T/hold.$n.err")"
	[ "$(cat "$T/hold.$n.out")" = connected ] ||
		die "holder $n: $(cat "$T/hold.$n.out" "$T/hold.$n.err")"
}

# result NAME: holder NAME's second round trip, done now.
result() {
	touch "$T/go.$1"
	wait_until 10 sh -c "[ \$(wc -l < '$T/hold.$1.out') -ge 2 ]"
	sed -n 2p "$T/hold.$1.out"
}

serve web tcp 192.0.2.20 443
serve web6 tcp 2001:db8::20 443
serve other tcp 192.0.2.30 443

P=$T/policies
mkdir "$P"
cat >"$P/pro.policy" <<'EOF'
policy add pro --default allow
deny 169.254.169.254/32 --policy pro
EOF
start_egressd --policy-dir "$P" || die "egressd not ready: $(cat "$EGRESSD_ERR")"
mkcg sb
check setup/policy-from-dir wait_until 10 sh -c "'$EGRESSCTL' policy list --pin-dir '$PIN' | grep -qw pro"
ectl_ok setup attach "$CGROOT/sb" --policy pro || die "attach pro"

# ---- tcp-fast: an egressd policy-set update cuts what it now denies
hold dir-web sb tcp 192.0.2.20 443
hold dir-web6 sb tcp 2001:db8::20 443
hold dir-other sb tcp 192.0.2.30 443
cat >>"$P/pro.policy" <<'EOF'
deny 192.0.2.20/32 --policy pro
deny 2001:db8::20/128 --policy pro
EOF
expect_soon tcp-fast/dir-update-applied EPERM "$CGROOT/sb" 192.0.2.20 443
r=$(result dir-web)
case $r in
ECONNABORTED | ECONNRESET | EPIPE) pass tcp-fast/dir-update-cuts-v4 ;;
*) fail tcp-fast/dir-update-cuts-v4 "the held connection to 192.0.2.20:443 got '$r' after the set denied it $(cat "$T/hold.dir-web.err")" ;;
esac
r=$(result dir-web6)
case $r in
ECONNABORTED | ECONNRESET | EPIPE) pass tcp-fast/dir-update-cuts-v6 ;;
*) fail tcp-fast/dir-update-cuts-v6 "the held connection to [2001:db8::20]:443 got '$r' $(cat "$T/hold.dir-web6.err")" ;;
esac
check_eq tcp-fast/dir-update-keeps-allowed ok "$(result dir-other)"
check tcp-fast/revoke-event wait_until 10 sh -c "jq -c 'select(.hook == \"revoke\" and .dst == \"192.0.2.20\")' '$T/egressd.out' | grep -q ."

finish

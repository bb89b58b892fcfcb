#!/bin/bash
# 46-inbound.sh - inbound connections to a listener in a bound cgroup
# (issue 15 item 3).  A listener (uid 65534) in a bound cgroup must not
# serve a client its policy denies: the client's SYN is decided by its
# source address and port (where the replies would go) and dropped before
# the kernel answers, so the client gets no connection and no data.  With
# SYN cookies forced (the SYN-ACK has no socket: no cgroup egress program
# sees it) and with TCP Fast Open without cookies (the SYN carries data
# and the SYN-ACK belongs to the child socket), IPv4 and IPv6.  An allowed
# client and a listener in an unbound cgroup are served (positive
# controls).  The proof is the listener's and the client's own word.
source "$(dirname "$0")/../lib.sh"


setup
use_bypass

L4=192.0.2.10 L6=2001:db8::10	# the listener's address
D4=192.0.2.20 D6=2001:db8::20	# a client the policies deny
A4=192.0.2.30 A6=2001:db8::30	# a client the pro-like policy allows

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
# free: the proxy 127.0.0.1 tcp 3128; pro: all but D4/D6
ectl_ok setup apply -f "$ROOT/tests/fixtures/inbound.policy" || die "apply tests/fixtures/inbound.policy"
mkcg free pro open
ectl_ok setup attach "$CGROOT/free" --policy free || die "attach free"
ectl_ok setup attach "$CGROOT/pro" --policy pro || die "attach pro"

PORT=8000
# serve NAME CG ADDR SRC [tfo]: a listener as uid 65534 in CG on ADDR, one
# client from SRC; sets SERVER (the listener's word) and CLIENT.
serve() {
	local n=${1//\//.} cg=$2 addr=$3 src=$4 out
	PORT=$((PORT + 1))
	out=$T/serve.$n
	BYPASS_TAG=$n run_as "$cg" nobody "$BYPASS" serve "$addr" "$PORT" >"$out" 2>&1 &
	local pid=$!
	if ! wait_until 10 grep -qx listening "$out"; then
		SERVER="listener did not start: $(cat "$out")"
		CLIENT=-
		kill "$pid" 2>/dev/null
		return
	fi
	CLIENT=$(BYPASS_TAG=$n run_as - root "$BYPASS" client-from "$src" "$addr" "$PORT" ${5:+"$5"} 2>&1)
	wait_pid "$pid" >/dev/null 2>&1
	SERVER=$(grep -vx listening "$out" | tr '\n' ' ' | sed 's/ $//')
}

# refused NAME CG ADDR SRC [tfo]: no handshake for the client, nothing accepted
refused() {
	serve "$@"
	if [ "$CLIENT" = ETIMEDOUT ] && [ "${SERVER#accepted}" = "$SERVER" ]; then
		pass "$1"
	else
		fail "$1" "client from $4 to $3 said '$CLIENT', listener said '$SERVER'"
	fi
}

# served NAME CG ADDR SRC [tfo]: the client gets the listener's answer
served() {
	serve "$@"
	if [ "$CLIENT" = data ] && [ "${SERVER#accepted:}" != "$SERVER" ]; then
		pass "$1"
	else
		fail "$1" "client from $4 to $3 said '$CLIENT', listener said '$SERVER'"
	fi
}

# ---- SYN cookies for every SYN (the SYN-ACK has no socket)
in_ns sysctl -qw net.ipv4.tcp_syncookies=2 || die "tcp_syncookies"
in_ns sysctl -qw net.ipv4.tcp_fastopen=0 || die "tcp_fastopen"
served cookies/open-v4-control "$CGROOT/open" "$L4" "$D4"
served cookies/open-v6-control "$CGROOT/open" "$L6" "$D6"
refused cookies/free-v4 "$CGROOT/free" "$L4" "$D4"
refused cookies/free-v6 "$CGROOT/free" "$L6" "$D6"
refused cookies/pro-v4-denied-client "$CGROOT/pro" "$L4" "$D4"
refused cookies/pro-v6-denied-client "$CGROOT/pro" "$L6" "$D6"
served cookies/pro-v4-allowed-client "$CGROOT/pro" "$L4" "$A4"
served cookies/pro-v6-allowed-client "$CGROOT/pro" "$L6" "$A6"

# ---- TCP Fast Open, no cookie needed (server 0x200|0x2, client 0x1|0x4)
in_ns sysctl -qw net.ipv4.tcp_syncookies=1 || die "tcp_syncookies"
in_ns sysctl -qw net.ipv4.tcp_fastopen=$((0x207)) || die "tcp_fastopen"
served tfo/open-v4-control "$CGROOT/open" "$L4" "$D4" tfo
served tfo/open-v6-control "$CGROOT/open" "$L6" "$D6" tfo
refused tfo/free-v4 "$CGROOT/free" "$L4" "$D4" tfo
refused tfo/free-v6 "$CGROOT/free" "$L6" "$D6" tfo
refused tfo/pro-v4-denied-client "$CGROOT/pro" "$L4" "$D4" tfo
refused tfo/pro-v6-denied-client "$CGROOT/pro" "$L6" "$D6" tfo
served tfo/pro-v4-allowed-client "$CGROOT/pro" "$L4" "$A4" tfo
served tfo/pro-v6-allowed-client "$CGROOT/pro" "$L6" "$A6" tfo

# ---- an ordinary handshake (no cookies, no Fast Open)
in_ns sysctl -qw net.ipv4.tcp_syncookies=0 || die "tcp_syncookies"
in_ns sysctl -qw net.ipv4.tcp_fastopen=0 || die "tcp_fastopen"
refused plain/free-v4 "$CGROOT/free" "$L4" "$D4"
refused plain/pro-v6-denied-client "$CGROOT/pro" "$L6" "$D6"
served plain/pro-v4-allowed-client "$CGROOT/pro" "$L4" "$A4"

# one event per refused SYN, hook "ingress", naming the client
wait_until 5 sh -c "jq -c 'select(.hook == \"ingress\")' '$T/egressd.out' | grep -q ." 
ev=$(events_matching ".hook == \"ingress\" and .dst == \"$D4\"" | head -1)
check_json events/ingress-names-client '.policy == "free" or .policy == "pro"' "${ev:-null}"

finish

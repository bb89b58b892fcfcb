#!/bin/bash
# 10-free-tier.sh - the product's reason to exist: a "free tier" cgroup whose
# policy allows only the proxy (192.0.2.10 / 2001:db8::10, tcp 3128) and a
# DNS resolver (192.0.2.30 / 2001:db8::30, udp 53).  A process in the bound
# cgroup, unprivileged and as container root (Docker's default caps),
# reaches them over every path and gets EPERM for everything else, over
# every path the kernel offers: TCP connect v4/v6/v4-mapped, TCP Fast Open
# (sendto MSG_FASTOPEN and TCP_FASTOPEN_CONNECT), UDP sendto v4/v6/v4-mapped,
# connected UDP, sendmmsg, an AF_INET address through an AF_INET6 socket.
# Listeners prove where packets really went: denied ones never arrive.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

# free: the proxy 192.0.2.10 / 2001:db8::10 tcp 3128, DNS 192.0.2.30 / 2001:db8::30 udp 53
ectl_ok policy apply -f "$ROOT/tests/fixtures/free-dns.policy" || die "apply tests/fixtures/free-dns.policy"
mkcg app other

declare -A EXP	# listener -> connections / datagrams it must see
listen proxy4 tcp 192.0.2.10 3128
listen proxy6 tcp 2001:db8::10 3128
listen web4 tcp 192.0.2.20 80
listen web6 tcp 2001:db8::20 80
listen alt4 tcp 192.0.2.10 8080		# the proxy's address, another port
listen alt6 tcp 2001:db8::10 8080
listen lo4 tcp 127.0.0.1 80
listen lo6 tcp ::1 80
listen dns4 udp 192.0.2.30 53
listen dns6 udp 2001:db8::30 53
listen udp4 udp 192.0.2.20 53
listen udp6 udp 2001:db8::20 53
listen pudp4 udp 192.0.2.10 3128	# the proxy's address and port, over UDP
listen pudp6 udp 2001:db8::10 3128

listen lite4 udplite 192.0.2.20 53

# TCP Fast Open as client and server in the netns, so that TFO to a
# destination that has been reached before carries data in its SYN.
in_ns sysctl -qw net.ipv4.tcp_fastopen=3 || die "cannot enable TCP Fast Open in the netns"

# Baseline: before the binding the same probes work (so the EPERMs below
# are the product's doing, not the test network's).
expect baseline/tcp4 ok "$CGROOT/app" nobody tcp 192.0.2.20 80
expect baseline/tcp6 ok "$CGROOT/app" nobody tcp 2001:db8::20 80
expect baseline/udp4 ok "$CGROOT/app" nobody udp 192.0.2.20 53
expect baseline/tfo4 ok "$CGROOT/app" nobody tfo 192.0.2.20 80
expect baseline/tfo6 ok "$CGROOT/app" nobody tfo 2001:db8::20 80
expect baseline/tfo-proxy ok "$CGROOT/app" nobody tfo 192.0.2.10 3128
check baseline/tfo-cookie-cached sh -c "ip -n '$NS' tcp_metrics show 192.0.2.20 | grep -q fo_cookie"
expect baseline/raw-udp4 ok "$CGROOT/app" container raw-udp 192.0.2.20 53
expect baseline/udplite4 ok "$CGROOT/app" nobody udplite 192.0.2.20 53
EXP[web4]=2 EXP[web6]=2 EXP[proxy4]=1
BASE_UDP4=2

# A process already in the cgroup before the binding is governed too.
in_cgroup "$CGROOT/app" nsenter --net="/run/netns/$NS" sh -c '
	i=0; while [ ! -e "$1/go" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
	shift; exec "$@"' sh "$T" "${NOBODY[@]}" "$PROBE" tcp 192.0.2.20 80 >"$T/early.out" &
EARLY=$!
BG_PIDS+=("$EARLY")

ectl_ok attach attach "$CGROOT/app" --policy free || die "attach"

touch "$T/go"
wait "$EARLY"
check_eq running-process-governed EPERM "$(cat "$T/early.out" 2>/dev/null)"

# ok_to LISTENER N NAME WHO MODE ADDR PORT: allowed, and N arrivals expected
ok_to() {
	local l=$1 n=$2
	shift 2
	EXP[$l]=$((${EXP[$l]:-0} + n))
	expect "$1" ok "$CGROOT/app" "${@:2}"
}
denied() {
	expect "$1" EPERM "$CGROOT/app" "${@:2}"
}

for who in nobody container; do
	# the proxy, over every TCP path
	ok_to proxy4 1 "$who/tcp4-proxy" "$who" tcp 192.0.2.10 3128
	ok_to proxy6 1 "$who/tcp6-proxy" "$who" tcp 2001:db8::10 3128
	ok_to proxy4 1 "$who/tcp-mapped-proxy" "$who" tcp ::ffff:192.0.2.10 3128
	ok_to proxy4 1 "$who/tfo4-proxy" "$who" tfo 192.0.2.10 3128
	ok_to proxy6 1 "$who/tfo6-proxy" "$who" tfo 2001:db8::10 3128
	ok_to proxy4 1 "$who/tfo-connect4-proxy" "$who" tfo-connect 192.0.2.10 3128
	ok_to proxy6 1 "$who/tfo-connect6-proxy" "$who" tfo-connect 2001:db8::10 3128
	ok_to proxy4 1 "$who/tfo-connect-mapped-proxy" "$who" tfo-connect ::ffff:192.0.2.10 3128
	ok_to proxy4 1 "$who/mptcp4-proxy" "$who" mptcp 192.0.2.10 3128
	ok_to proxy6 1 "$who/mptcp6-proxy" "$who" mptcp 2001:db8::10 3128
	# DNS, over every UDP path
	ok_to dns4 1 "$who/udp4-dns" "$who" udp 192.0.2.30 53
	ok_to dns6 1 "$who/udp6-dns" "$who" udp 2001:db8::30 53
	ok_to dns4 1 "$who/udp-mapped-dns" "$who" udp ::ffff:192.0.2.30 53
	ok_to dns4 1 "$who/udp-connected4-dns" "$who" udp-connected 192.0.2.30 53
	ok_to dns6 1 "$who/udp-connected6-dns" "$who" udp-connected 2001:db8::30 53
	ok_to dns4 2 "$who/sendmmsg4-dns" "$who" sendmmsg 192.0.2.30 53
	ok_to dns6 2 "$who/sendmmsg6-dns" "$who" sendmmsg 2001:db8::30 53
	ok_to dns4 1 "$who/udp4on6-dns" "$who" udp4on6 192.0.2.30 53
	ok_to dns4 1 "$who/pktinfo4-dns" "$who" pktinfo 192.0.2.30 53
	ok_to dns6 1 "$who/pktinfo6-dns" "$who" pktinfo 2001:db8::30 53
	ok_to dns4 1 "$who/pktinfo-mapped-dns" "$who" pktinfo ::ffff:192.0.2.30 53

	# everything else: TCP
	denied "$who/tcp4-other" "$who" tcp 192.0.2.20 80
	denied "$who/tcp6-other" "$who" tcp 2001:db8::20 80
	denied "$who/tcp-mapped-other" "$who" tcp ::ffff:192.0.2.20 80
	denied "$who/tcp4-proxy-other-port" "$who" tcp 192.0.2.10 8080
	denied "$who/tcp6-proxy-other-port" "$who" tcp 2001:db8::10 8080
	denied "$who/tcp-mapped-proxy-other-port" "$who" tcp ::ffff:192.0.2.10 8080
	denied "$who/tcp4-loopback" "$who" tcp 127.0.0.1 80
	denied "$who/tcp6-loopback" "$who" tcp ::1 80
	denied "$who/tfo4-other" "$who" tfo 192.0.2.20 80
	denied "$who/tfo6-other" "$who" tfo 2001:db8::20 80
	denied "$who/tfo-mapped-other" "$who" tfo ::ffff:192.0.2.20 80
	denied "$who/tfo-connect4-other" "$who" tfo-connect 192.0.2.20 80
	denied "$who/tfo-connect6-other" "$who" tfo-connect 2001:db8::20 80
	denied "$who/tfo-connect-mapped-other" "$who" tfo-connect ::ffff:192.0.2.20 80
	denied "$who/mptcp4-other" "$who" mptcp 192.0.2.20 80
	denied "$who/mptcp6-other" "$who" mptcp 2001:db8::20 80
	# UDP
	denied "$who/udp4-other" "$who" udp 192.0.2.20 53
	denied "$who/udp6-other" "$who" udp 2001:db8::20 53
	denied "$who/udp-mapped-other" "$who" udp ::ffff:192.0.2.20 53
	denied "$who/udp-connected4-other" "$who" udp-connected 192.0.2.20 53
	denied "$who/udp-connected6-other" "$who" udp-connected 2001:db8::20 53
	denied "$who/udp-connected-mapped-other" "$who" udp-connected ::ffff:192.0.2.20 53
	denied "$who/sendmmsg4-other" "$who" sendmmsg 192.0.2.20 53
	denied "$who/sendmmsg6-other" "$who" sendmmsg 2001:db8::20 53
	denied "$who/sendmmsg-mapped-other" "$who" sendmmsg ::ffff:192.0.2.20 53
	denied "$who/udp4on6-other" "$who" udp4on6 192.0.2.20 53
	denied "$who/pktinfo4-other" "$who" pktinfo 192.0.2.20 53
	denied "$who/udplite4-other" "$who" udplite 192.0.2.20 53
	denied "$who/udplite6-other" "$who" udplite 2001:db8::20 53
	# the proxy's address and port, but UDP: the rule is TCP only
	denied "$who/udp4-proxy-wrong-proto" "$who" udp 192.0.2.10 3128
	denied "$who/udp6-proxy-wrong-proto" "$who" udp 2001:db8::10 3128
	denied "$who/udp-mapped-proxy-wrong-proto" "$who" udp ::ffff:192.0.2.10 3128
	denied "$who/udp4on6-proxy-wrong-proto" "$who" udp4on6 192.0.2.10 3128
done

# Container root has CAP_NET_RAW (Docker grants it): a UDP datagram built
# by hand and sent through a raw socket must not get out either.
denied container/raw-socket-udp4-other container raw-udp 192.0.2.20 53

# root with all capabilities is no exception either
denied root/tcp4-other root tcp 192.0.2.20 80
denied root/udp6-other root udp 2001:db8::20 53

# An unbound sibling is untouched.
expect unbound-sibling/tcp4 ok "$CGROOT/other" nobody tcp 192.0.2.20 80
expect unbound-sibling/udp6 ok "$CGROOT/other" nobody udp 2001:db8::20 53
EXP[web4]=$((${EXP[web4]} + 1))
BASE_UDP6=1

# Where the packets went.  TCP: every allowed connect arrived, no denied one.
for l in proxy4 proxy6 web4 web6 alt4 alt6 lo4 lo6; do
	want=${EXP[$l]:-0}
	wait_count "$l" "$want" >/dev/null
	check_eq "arrivals/$l" "$want" "$(count "$l")"
done
# UDP-Lite: nothing but the baseline datagram
if PROBE_PAYLOAD=marker-lite probe_as - root udplite 192.0.2.20 53 >/dev/null &&
	wait_count lite4 1 ' marker-lite$'; then
	sleep 0.2
	check_eq arrivals/udplite4 1 "$(count lite4 ' probe$')"
else
	fail arrivals/udplite4 "marker datagram never arrived"
fi
# UDP: after a marker datagram arrived, count the probes' datagrams.
for l in dns4:192.0.2.30:53 dns6:2001:db8::30:53 udp4:192.0.2.20:53 udp6:2001:db8::20:53 \
	pudp4:192.0.2.10:3128 pudp6:2001:db8::10:3128; do
	n=${l%%:*} rest=${l#*:}
	port=${rest##*:} addr=${rest%:*}
	want=${EXP[$n]:-0}
	[ "$n" = udp4 ] && want=$BASE_UDP4
	[ "$n" = udp6 ] && want=$BASE_UDP6
	if marker "$n" "$addr" "$port"; then
		check_eq "arrivals/$n" "$want" "$(count "$n" ' probe$')"
	else
		fail "arrivals/$n" "marker datagram never arrived at $addr $port"
	fi
done

finish

#!/bin/bash
# 35-errno.sh - a policy's --errno: its denials fail with that errno instead
# of EPERM, on every hook (TCP connect v4/v6/v4-mapped, TFO, UDP sendto,
# connected UDP, sendmmsg); the denied destination has a live listener, so
# the errno can only come from the policy, and nothing arrives there.
# Another policy keeps EPERM (the errno is per policy).
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

mkcg refuse unreach plain
ectl_ok setup policy add refuse --default deny --errno ECONNREFUSED || die "policy add refuse"
ectl_ok setup allow 192.0.2.10/32 --proto tcp --port 3128 --policy refuse || die "allow"
ectl_ok setup policy add unreach --default allow --errno ENETUNREACH || die "policy add unreach"
ectl_ok setup deny 192.0.2.20/32 --policy unreach || die "deny"
ectl_ok setup deny 2001:db8::20/128 --policy unreach || die "deny"
ectl_ok setup policy add plain --default deny || die "policy add plain"
ectl_ok setup attach "$CGROOT/refuse" --policy refuse || die "attach"
ectl_ok setup attach "$CGROOT/unreach" --policy unreach || die "attach"
ectl_ok setup attach "$CGROOT/plain" --policy plain || die "attach"

listen proxy tcp 192.0.2.10 3128
listen web4 tcp 192.0.2.20 80
listen web6 tcp 2001:db8::20 80
listen udp4 udp 192.0.2.20 53
listen udp6 udp 2001:db8::20 53

r() { expect "refuse/$1" "$2" "$CGROOT/refuse" nobody "${@:3}"; }
r allowed ok tcp 192.0.2.10 3128
r tcp4 ECONNREFUSED tcp 192.0.2.20 80
r tcp6 ECONNREFUSED tcp 2001:db8::20 80
r tcp-mapped ECONNREFUSED tcp ::ffff:192.0.2.20 80
r tfo4 ECONNREFUSED tfo 192.0.2.20 80
r tfo-connect6 ECONNREFUSED tfo-connect 2001:db8::20 80
r udp4 ECONNREFUSED udp 192.0.2.20 53
r udp6 ECONNREFUSED udp 2001:db8::20 53
r udp-mapped ECONNREFUSED udp ::ffff:192.0.2.20 53
r udp-connected4 ECONNREFUSED udp-connected 192.0.2.20 53
r sendmmsg6 ECONNREFUSED sendmmsg 2001:db8::20 53
r udp4on6 ECONNREFUSED udp4on6 192.0.2.20 53
expect refuse/container-tcp4 ECONNREFUSED "$CGROOT/refuse" container tcp 192.0.2.20 80
expect refuse/container-udp6 ECONNREFUSED "$CGROOT/refuse" container udp 2001:db8::20 53

u() { expect "unreach/$1" "$2" "$CGROOT/unreach" nobody "${@:3}"; }
u tcp4 ENETUNREACH tcp 192.0.2.20 80
u tcp6 ENETUNREACH tcp 2001:db8::20 80
u udp4 ENETUNREACH udp 192.0.2.20 53
u default-allow ok tcp 192.0.2.10 3128

expect plain/still-eperm EPERM "$CGROOT/plain" nobody tcp 192.0.2.20 80
expect plain/still-eperm-udp EPERM "$CGROOT/plain" nobody udp 192.0.2.20 53

wait_count proxy 2 >/dev/null
check_eq arrivals/proxy 2 "$(count proxy)"
check_eq arrivals/web4-none 0 "$(count web4)"
check_eq arrivals/web6-none 0 "$(count web6)"
for l in udp4:192.0.2.20 udp6:2001:db8::20; do
	n=${l%%:*} a=${l#*:}
	if marker "$n" "$a" 53; then
		check_eq "arrivals/$n-none" 0 "$(count "$n" ' probe$')"
	else
		fail "arrivals/$n-none" "marker never arrived"
	fi
done

finish

#!/bin/bash
# 30-any-address.sh - an allow-by-default policy with deny rules, and the
# addresses the kernel rewrites: a connect/sendto to 0.0.0.0 goes to
# 127.0.0.1 and one to :: goes to ::1, so they are decided as those (on
# every hook, also as ::ffff:0.0.0.0 and ::ffff:127.0.0.1).  Checked both
# ways: denying loopback denies the any-address, and allowing only loopback
# lets the any-address through (it really arrives at the loopback listener).
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

mkcg open lo-only
ectl_ok setup policy add open --default allow || die "policy add open"
ectl_ok setup deny 127.0.0.1/32 --policy open || die "deny"
ectl_ok setup deny ::1/128 --policy open || die "deny"
ectl_ok setup deny 192.0.2.20/32 --policy open || die "deny"
ectl_ok setup policy add lo-only --default deny || die "policy add lo-only"
ectl_ok setup allow 127.0.0.1/32 --proto tcp --port 80 --policy lo-only || die "allow"
ectl_ok setup allow ::1/128 --proto tcp --port 80 --policy lo-only || die "allow"
ectl_ok setup allow 127.0.0.1/32 --proto udp --port 53 --policy lo-only || die "allow"
ectl_ok setup allow ::1/128 --proto udp --port 53 --policy lo-only || die "allow"

listen lo4 tcp 127.0.0.1 80
listen lo6 tcp ::1 80
listen lo4b tcp 127.0.0.2 80
listen web4 tcp 192.0.2.10 80
listen web4b tcp 192.0.2.20 80
listen ulo4 udp 127.0.0.1 53
listen ulo6 udp ::1 53

# Baseline: in this netns the any-addresses really reach the loopback
# listeners (unbound cgroup).
expect baseline/tcp-0.0.0.0-reaches-127.0.0.1 ok "$CGROOT/open" nobody tcp 0.0.0.0 80
expect baseline/tcp-::-reaches-::1 ok "$CGROOT/open" nobody tcp :: 80
expect baseline/udp-0.0.0.0 ok "$CGROOT/open" nobody udp 0.0.0.0 53
expect baseline/udp-:: ok "$CGROOT/open" nobody udp :: 53
wait_count lo4 1 >/dev/null
wait_count lo6 1 >/dev/null
check_eq baseline/arrived-at-127.0.0.1 1 "$(count lo4)"
check_eq baseline/arrived-at-::1 1 "$(count lo6)"

ectl_ok setup attach "$CGROOT/open" --policy open || die "attach open"
ectl_ok setup attach "$CGROOT/lo-only" --policy lo-only || die "attach lo-only"

o() { expect "open/$1" "$2" "$CGROOT/open" nobody "${@:3}"; }
o tcp-127.0.0.1 EPERM tcp 127.0.0.1 80
o tcp-0.0.0.0 EPERM tcp 0.0.0.0 80
o tcp-mapped-127.0.0.1 EPERM tcp ::ffff:127.0.0.1 80
o tcp-mapped-0.0.0.0 EPERM tcp ::ffff:0.0.0.0 80
o tcp-::1 EPERM tcp ::1 80
o tcp-:: EPERM tcp :: 80
o tfo-0.0.0.0 EPERM tfo 0.0.0.0 80
o tfo-:: EPERM tfo :: 80
o tfo-connect-0.0.0.0 EPERM tfo-connect 0.0.0.0 80
o udp-0.0.0.0 EPERM udp 0.0.0.0 53
o udp-:: EPERM udp :: 53
o udp-mapped-0.0.0.0 EPERM udp ::ffff:0.0.0.0 53
o udp-connected-0.0.0.0 EPERM udp-connected 0.0.0.0 53
o udp-connected-:: EPERM udp-connected :: 53
o sendmmsg-0.0.0.0 EPERM sendmmsg 0.0.0.0 53
o sendmmsg-:: EPERM sendmmsg :: 53
o udp4on6-0.0.0.0 EPERM udp4on6 0.0.0.0 53
o deny-rule EPERM tcp 192.0.2.20 80
o default-allow-127.0.0.2 ok tcp 127.0.0.2 80
o default-allow-192.0.2.10 ok tcp 192.0.2.10 80
o default-allow-mapped ok tcp ::ffff:192.0.2.10 80

l() { expect "lo-only/$1" "$2" "$CGROOT/lo-only" nobody "${@:3}"; }
l tcp-0.0.0.0 ok tcp 0.0.0.0 80
l tcp-mapped-0.0.0.0 ok tcp ::ffff:0.0.0.0 80
l tcp-:: ok tcp :: 80
l tcp-127.0.0.1 ok tcp 127.0.0.1 80
l tcp-::1 ok tcp ::1 80
l udp-0.0.0.0 ok udp 0.0.0.0 53
l udp-:: ok udp :: 53
l tcp-127.0.0.2 EPERM tcp 127.0.0.2 80
l tcp-0.0.0.0-other-port EPERM tcp 0.0.0.0 81
l udp-0.0.0.0-other-port EPERM udp 0.0.0.0 54

# Arrivals: the baseline, then only what lo-only allowed (0.0.0.0,
# ::ffff:0.0.0.0, 127.0.0.1 to lo4; ::, ::1 to lo6).
wait_count lo4 4 >/dev/null
wait_count lo6 3 >/dev/null
check_eq arrivals/127.0.0.1 4 "$(count lo4)"
check_eq arrivals/::1 3 "$(count lo6)"
check_eq arrivals/127.0.0.2 1 "$(count lo4b)"
check_eq arrivals/192.0.2.20-denied 0 "$(count web4b)"
if marker ulo4 127.0.0.1 53; then
	check_eq arrivals/udp-127.0.0.1 2 "$(count ulo4 ' probe$')"
else
	fail arrivals/udp-127.0.0.1 "marker never arrived"
fi
if marker ulo6 ::1 53; then
	check_eq arrivals/udp-::1 2 "$(count ulo6 ' probe$')"
else
	fail arrivals/udp-::1 "marker never arrived"
fi

finish

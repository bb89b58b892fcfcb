#!/bin/bash
# 46-embedded.sh - IPv6 addresses that embed an IPv4 address (issue 16 item
# 8) are decided as that IPv4 address too: IPv4-compatible ::a.b.c.d, NAT64
# 64:ff9b::a.b.c.d and 6to4 2002:AABB:CCDD::/48, on connect, sendmsg and
# the backstop (raw sockets).  A policy that denies 169.254.169.254 (the
# shipped maps/pro.policy, loaded here as a fixture, with the embedded
# forms removed from it so that only the kernel's rule can stop them)
# denies them all; a 6to4 address of an allowed IPv4 host stays allowed.
# The shipped maps/free.policy and maps/pro.policy load and do what they
# say.  Every destination has a live listener, so a refusal can only be
# egress's.
source "$(dirname "$0")/../lib.sh"


MD4=169.254.169.254
COMPAT=::a9fe:a9fe		# ::169.254.169.254
NAT64=64:ff9b::a9fe:a9fe	# 64:ff9b::169.254.169.254
SIX2FOUR=2002:a9fe:a9fe::1	# 6to4 of 169.254.169.254
EC2V6=fd00:ec2::254
OK4=192.0.2.30 OK6=2001:db8::30
OK6TO4=2002:c000:21e::1		# 6to4 of 192.0.2.30: allowed

setup 127.0.0.53 "$MD4" "$OK4" "$OK6" "$COMPAT" "$NAT64" "$SIX2FOUR" "$EC2V6" "$OK6TO4"
use_bypass

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
check apply/free-policy-file ectl apply -f "$ROOT/maps/free.policy"
check apply/pro-policy-file ectl apply -f "$ROOT/maps/pro.policy"
# pro-bare: the shipped pro policy without its explicit embedded forms
grep -v -e '::a9fe:a9fe' -e '2002:a9fe' "$ROOT/maps/pro.policy" | sed 's/\bpro\b/bare/g' >"$T/bare.policy"
check apply/bare-policy ectl apply -f "$T/bare.policy"
mkcg free pro bare open
ectl_ok setup attach "$CGROOT/free" --policy free || die "attach free"
ectl_ok setup attach "$CGROOT/pro" --policy pro || die "attach pro"
ectl_ok setup attach "$CGROOT/bare" --policy bare || die "attach bare"

for a in "$MD4" "$COMPAT" "$NAT64" "$SIX2FOUR" "$EC2V6" "$OK4" "$OK6" "$OK6TO4"; do
	listen "t-$a" tcp "$a" 80
	listen "u-$a" udp "$a" 53
done
listen proxy tcp 127.0.0.1 3128
listen dns udp 127.0.0.53 53

# positive control: from an unbound cgroup every address answers
for a in "$MD4" "$COMPAT" "$NAT64" "$SIX2FOUR" "$EC2V6"; do
	expect "open/tcp-$a" ok "$CGROOT/open" nobody tcp "$a" 80
done

for pol in pro bare; do
	cg=$CGROOT/$pol
	for a in "$MD4" "$COMPAT" "$NAT64" "$SIX2FOUR" "$EC2V6"; do
		expect "$pol/tcp-$a-denied" EPERM "$cg" nobody tcp "$a" 80
		expect "$pol/udp-$a-denied" EPERM "$cg" nobody udp "$a" 53
		expect "$pol/udp-connected-$a-denied" EPERM "$cg" nobody udp-connected "$a" 53
	done
	for a in "$OK4" "$OK6" "$OK6TO4"; do
		expect "$pol/tcp-$a-allowed" ok "$cg" nobody tcp "$a" 80
	done
	# the backstop: raw sockets (container root) to the embedded forms
	for a in "$COMPAT" "$NAT64" "$SIX2FOUR"; do
		run_as "$cg" container "$BYPASS" raw-udp "$a" 53 >/dev/null 2>&1
	done
done

# the free tier: the proxy and DNS only, IPv4 only
expect free/proxy-allowed ok "$CGROOT/free" nobody tcp 127.0.0.1 3128
expect free/dns-allowed ok "$CGROOT/free" nobody udp 127.0.0.53 53
expect free/proxy-compat-denied EPERM "$CGROOT/free" nobody tcp ::127.0.0.1 3128
expect free/other-denied EPERM "$CGROOT/free" nobody tcp "$OK4" 80
expect free/6to4-denied EPERM "$CGROOT/free" nobody tcp "$OK6TO4" 80

# nothing arrived at the metadata forms from the bound cgroups (the
# unbound cgroup's 5 connections did); the marker closes the window
for a in "$MD4" "$COMPAT" "$NAT64" "$SIX2FOUR" "$EC2V6"; do
	if marker "u-$a" "$a" 53; then
		check_eq "arrivals/udp-$a" 1 "$(count "u-$a")"
	else
		fail "arrivals/udp-$a" "marker never arrived"
	fi
	check_eq "arrivals/tcp-$a" 1 "$(count "t-$a")"
done

# the event names the IPv4 address that denied
ev=$(events_matching ".dst == \"$MD4\" and .policy == \"bare\"" | head -1)
check_json events/embedded-decided-as-ipv4 '.family == "ipv4"' "${ev:-null}"

finish

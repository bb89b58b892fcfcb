#!/bin/bash
# 20-precedence.sh - how rules decide: the longest matching prefix among the
# rules whose proto/port also match; at equal prefix deny beats allow (in
# either insertion order); no match -> the policy's default.  Port ranges
# are inclusive at both ends; proto rules match only their protocol.
# Each policy is bound to its own cgroup; probes run unprivileged.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

# policy NAME DEFAULT RULE...: create a policy, bind it to $CGROOT/NAME
policy() {
	local name=$1 dflt=$2 r
	shift 2
	ectl_ok "setup-$name" policy add "$name" --default "$dflt" || die "policy add $name"
	for r in "$@"; do
		# shellcheck disable=SC2086
		ectl_ok "setup-$name" $r --policy "$name" || die "$name: $r"
	done
	mkcg "$name"
	ectl_ok "setup-$name" attach "$CGROOT/$name" --policy "$name" || die "attach $name"
}

# A /32 allow inside a /24 deny (default allow), and the same in IPv6.
policy hole allow \
	"deny 192.0.2.0/24" "allow 192.0.2.10/32" \
	"deny 2001:db8::/64" "allow 2001:db8::10/128"
# A /32 deny inside a /24 allow (default deny), and the same in IPv6.
policy plug deny \
	"allow 192.0.2.0/24" "deny 192.0.2.20/32" \
	"allow 2001:db8::/64" "deny 2001:db8::20/128"
# Equal prefixes: deny beats allow, whichever was added first, even when
# the allow is the more specific by proto/port.
policy equal allow \
	"allow 192.0.2.20/32 --proto tcp --port 80" "deny 192.0.2.20/32" \
	"deny 192.0.2.30/32" "allow 192.0.2.30/32 --proto tcp --port 80" \
	"allow 2001:db8::20/128 --proto tcp" "deny 2001:db8::20/128 --port 80"
# Port ranges (inclusive) and any-proto port rules.
policy ports deny \
	"allow 192.0.2.10/32 --proto tcp --port 8000-8100" \
	"allow 192.0.2.10/32 --port 80" \
	"allow 2001:db8::10/128 --proto tcp --port 443"
# Proto rules.
policy proto deny \
	"allow 192.0.2.30/32 --proto udp" \
	"allow 2001:db8::30/128 --proto tcp"
# A longer prefix whose proto/port does not match does not decide.
policy mismatch deny \
	"allow 192.0.2.0/24 --port 80" \
	"deny 192.0.2.10/32 --proto udp"
policy mismatch2 allow \
	"deny 192.0.2.0/24 --proto tcp --port 80" \
	"allow 192.0.2.10/32 --proto udp"
# Families are separate: 0.0.0.0/0 is all of IPv4 (v4-mapped included),
# ::/0 all of IPv6 -- but not v4-mapped, which is decided as IPv4.
policy fam4 allow "deny 0.0.0.0/0"
policy fam6 allow "deny ::/0"
# Protocol families: MPTCP is TCP, UDP-Lite is UDP, for proto rules.
policy variants allow \
	"deny 192.0.2.20/32 --proto tcp" \
	"deny 192.0.2.30/32 --proto udp"

for a in 192.0.2.10 192.0.2.20 192.0.2.30 2001:db8::10 2001:db8::20 2001:db8::30; do
	listen "t80-$a" tcp "$a" 80
	listen "u80-$a" udp "$a" 80
done
for p in 7999 8000 8050 8100 8101; do
	listen "t$p" tcp 192.0.2.10 "$p"
done
listen t80-lo tcp 127.0.0.1 80
listen l53 udplite 192.0.2.30 53
listen l53-10 udplite 192.0.2.10 53
listen t443-v6 tcp 2001:db8::10 443
listen t444-v6 tcp 2001:db8::10 444
listen u53 udp 192.0.2.30 53
listen t53-v6 tcp 2001:db8::30 53
listen u53-v6 udp 2001:db8::30 53

e() { expect "$1" "$2" "$CGROOT/${1%%/*}" nobody "${@:3}"; }

e hole/v4-allow-inside-deny ok tcp 192.0.2.10 80
e hole/v4-rest-of-deny EPERM tcp 192.0.2.20 80
e hole/v4-mapped-allow-inside-deny ok tcp ::ffff:192.0.2.10 80
e hole/v4-mapped-rest-of-deny EPERM tcp ::ffff:192.0.2.20 80
e hole/v6-allow-inside-deny ok tcp 2001:db8::10 80
e hole/v6-rest-of-deny EPERM tcp 2001:db8::20 80
e hole/udp-v4-allow-inside-deny ok udp 192.0.2.10 80
e hole/udp-v4-rest-of-deny EPERM udp 192.0.2.30 80
e hole/outside-default-allow ok tcp 127.0.0.1 80

e plug/v4-deny-inside-allow EPERM tcp 192.0.2.20 80
e plug/v4-rest-of-allow ok tcp 192.0.2.10 80
e plug/v4-rest-of-allow-2 ok tcp 192.0.2.30 80
e plug/v6-deny-inside-allow EPERM tcp 2001:db8::20 80
e plug/v6-rest-of-allow ok tcp 2001:db8::10 80
e plug/udp-v6-deny-inside-allow EPERM udp 2001:db8::20 80
e plug/udp-v6-rest-of-allow ok udp 2001:db8::30 80
e plug/outside-default-deny EPERM tcp 127.0.0.1 80

e equal/allow-then-deny EPERM tcp 192.0.2.20 80
e equal/deny-then-allow EPERM tcp 192.0.2.30 80
e equal/v6-deny-beats-allow EPERM tcp 2001:db8::20 80
e equal/unrelated-default-allow ok tcp 192.0.2.10 80

e ports/range-low-end ok tcp 192.0.2.10 8000
e ports/range-middle ok tcp 192.0.2.10 8050
e ports/range-high-end ok tcp 192.0.2.10 8100
e ports/below-range EPERM tcp 192.0.2.10 7999
e ports/above-range EPERM tcp 192.0.2.10 8101
e ports/any-proto-port-tcp ok tcp 192.0.2.10 80
e ports/any-proto-port-udp ok udp 192.0.2.10 80
e ports/range-is-tcp-only EPERM udp 192.0.2.10 8050
e ports/other-address EPERM tcp 192.0.2.20 80
e ports/v6-port ok tcp 2001:db8::10 443
e ports/v6-other-port EPERM tcp 2001:db8::10 444

e proto/udp-rule-udp ok udp 192.0.2.30 53
e proto/udp-rule-tcp EPERM tcp 192.0.2.30 80
e proto/udp-rule-sendmmsg ok sendmmsg 192.0.2.30 53
e proto/tcp-rule-tcp ok tcp 2001:db8::30 53
e proto/tcp-rule-udp EPERM udp 2001:db8::30 53
e proto/tcp-rule-udp-connected EPERM udp-connected 2001:db8::30 53

e mismatch/longer-udp-deny-ignored-for-tcp ok tcp 192.0.2.10 80
e mismatch/longer-udp-deny-applies-to-udp EPERM udp 192.0.2.10 80
e mismatch/shorter-port-allow ok tcp 192.0.2.20 80
e mismatch/shorter-port-allow-other-port EPERM tcp 192.0.2.10 8000
e mismatch2/longer-udp-allow-ignored-for-tcp EPERM tcp 192.0.2.10 80
e mismatch2/longer-udp-allow-applies-to-udp ok udp 192.0.2.10 80
e mismatch2/shorter-deny-other-port-default ok tcp 192.0.2.10 8000

e fam4/v4-denied EPERM tcp 192.0.2.10 80
e fam4/v4-mapped-denied EPERM tcp ::ffff:192.0.2.10 80
e fam4/v4-udp-denied EPERM udp 192.0.2.10 80
e fam4/v6-untouched ok tcp 2001:db8::10 80
e fam4/v6-udp-untouched ok udp 2001:db8::10 80
e fam6/v6-denied EPERM tcp 2001:db8::10 80
e fam6/v6-udp-denied EPERM udp 2001:db8::10 80
e fam6/v4-untouched ok tcp 192.0.2.10 80
e fam6/v4-mapped-is-v4 ok tcp ::ffff:192.0.2.10 80
e fam6/v4-mapped-udp-is-v4 ok udp ::ffff:192.0.2.10 80

e variants/mptcp-is-tcp EPERM mptcp 192.0.2.20 80
e variants/mptcp6-mapped-is-tcp EPERM mptcp ::ffff:192.0.2.20 80
e variants/mptcp-other-address ok mptcp 192.0.2.10 80
e variants/udplite-is-udp EPERM udplite 192.0.2.30 53
e variants/udplite-other-address ok udplite 192.0.2.10 53
e variants/udp-denied EPERM udp 192.0.2.30 53
if PROBE_PAYLOAD=marker-lite probe_as - root udplite 192.0.2.30 53 >/dev/null &&
	wait_count l53 1 ' marker-lite$'; then
	sleep 0.2
	check_eq variants/udplite-nothing-arrived 0 "$(count l53 ' probe$')"
else
	fail variants/udplite-nothing-arrived "marker datagram never arrived"
fi

finish

#!/bin/bash
# 40-nested.sh - cgroup hierarchy: a bound cgroup's policy governs all its
# descendants, including ones created after the binding; with nested bound
# cgroups every policy must allow (a child narrows its parent, never widens
# it); an unbound sibling is untouched; detaching the child leaves the
# parent's policy in force and clears the child's storage.  One attempt
# under nested bindings gives one event (connect, sock_create, backstop).
source "$(dirname "$0")/../lib.sh"

command -v bpftool >/dev/null || { echo "FAIL: nested/setup: bpftool not installed"; exit 1; }

setup
use_bypass

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

# outer: TCP to 192.0.2.0/24 and udp 192.0.2.30:53
ectl_ok setup policy add outer --default deny || die "policy add outer"
ectl_ok setup allow 192.0.2.0/24 --proto tcp --policy outer || die "allow"
ectl_ok setup allow 192.0.2.30/32 --proto udp --port 53 --policy outer || die "allow"
# inner: only 192.0.2.10, but tries to widen to IPv6 and udp everywhere
ectl_ok setup policy add inner --default deny || die "policy add inner"
ectl_ok setup allow 192.0.2.10/32 --policy inner || die "allow"
ectl_ok setup allow 2001:db8::/64 --policy inner || die "allow"
ectl_ok setup allow 192.0.2.0/24 --proto udp --policy inner || die "allow"
ectl_ok setup allow 192.0.2.30/32 --proto udp --port 53 --policy inner || die "allow"
# wide: allow everything (a child bound to it must not escape outer)
ectl_ok setup policy add wide --default allow || die "policy add wide"

mkcg parent sibling
ectl_ok setup attach "$CGROOT/parent" --policy outer || die "attach outer"
# created after the binding
mkcg parent/late parent/late/deeper parent/narrow parent/narrow/leaf parent/widen

listen t10 tcp 192.0.2.10 80
listen t20 tcp 192.0.2.20 80
listen t6 tcp 2001:db8::10 80
listen u20 udp 192.0.2.20 53
listen u30 udp 192.0.2.30 53

p() { expect "$1" "$2" "$CGROOT/$3" nobody "${@:4}"; }

p parent/tcp4-allowed ok parent tcp 192.0.2.20 80
p parent/tcp6-denied EPERM parent tcp 2001:db8::10 80
p parent/udp-denied EPERM parent udp 192.0.2.20 53
p late-child/tcp4-allowed ok parent/late tcp 192.0.2.20 80
p late-child/tcp6-denied EPERM parent/late tcp 2001:db8::10 80
p late-grandchild/tcp6-denied EPERM parent/late/deeper tcp 2001:db8::10 80
p late-grandchild/udp-denied EPERM parent/late/deeper udp 192.0.2.20 53
p late-grandchild/tcp4-allowed ok parent/late/deeper tcp 192.0.2.10 80

ectl_ok setup attach "$CGROOT/parent/narrow" --policy inner || die "attach inner"
ectl_ok setup attach "$CGROOT/parent/widen" --policy wide || die "attach wide"

p narrow/both-allow ok parent/narrow tcp 192.0.2.10 80
p narrow/child-narrows EPERM parent/narrow tcp 192.0.2.20 80
p narrow/child-cannot-widen-v6 EPERM parent/narrow tcp 2001:db8::10 80
p narrow/child-cannot-widen-udp EPERM parent/narrow udp 192.0.2.20 53
p narrow/both-allow-udp ok parent/narrow udp 192.0.2.30 53
p narrow-leaf/child-narrows EPERM parent/narrow/leaf tcp 192.0.2.20 80
p narrow-leaf/both-allow ok parent/narrow/leaf tcp 192.0.2.10 80
p narrow-leaf/cannot-widen EPERM parent/narrow/leaf tcp 2001:db8::10 80
p widen/cannot-widen-v6 EPERM parent/widen tcp 2001:db8::10 80
p widen/cannot-widen-udp EPERM parent/widen udp 192.0.2.20 53
p widen/parent-allows ok parent/widen tcp 192.0.2.20 80
p parent/unaffected-by-child ok parent tcp 192.0.2.20 80

p sibling/tcp6-untouched ok sibling tcp 2001:db8::10 80
p sibling/udp-untouched ok sibling udp 192.0.2.20 53
p sibling/tcp4-untouched ok sibling tcp 192.0.2.20 80

# One attempt, one event (issue 14 item 6): the first bound cgroup whose
# program denies (the innermost: its programs run first) emits the event;
# the enclosing ones count their denial without a second event.
cgid() { stat -c %i "$1"; }
NARROW_ID=$(cgid "$CGROOT/parent/narrow")
evcount() { events_matching "$1" | grep -c .; }
p narrow/both-deny EPERM parent/narrow tcp 198.51.100.7 4711
run_as "$CGROOT/parent/narrow" container "$BYPASS" raw-udp 198.51.100.7 4712 >/dev/null 2>&1
ectl_ok setup policy add pout --default allow || die "policy add pout"
ectl_ok setup deny 192.0.2.20/32 --policy pout || die "deny"
ectl_ok setup policy add pin --default allow || die "policy add pin"
ectl_ok setup deny 192.0.2.20/32 --policy pin || die "deny"
mkcg pout/pin
ectl_ok setup attach "$CGROOT/pout" --policy pout || die "attach pout"
ectl_ok setup attach "$CGROOT/pout/pin" --policy pin || die "attach pin"
PIN_ID=$(cgid "$CGROOT/pout/pin")
run_as "$CGROOT/pout/pin" container "$BYPASS" raw-udp 192.0.2.20 4713 >/dev/null 2>&1
wait_until 5 sh -c "jq -c 'select(.dport == 4713)' '$T/egressd.out' | grep -q ."
sleep 0.5	# a second event, if any, has arrived by now
check_eq one-event/connect 1 "$(evcount '.dport == 4711')"
check_eq one-event/connect-by-inner "$NARROW_ID" "$(events_matching '.dport == 4711' | jq -r .bound_cgroup_id | head -1)"
check_eq one-event/sock-create 1 "$(evcount ".hook == \"sock_create\" and .bound_cgroup_id == $NARROW_ID")"
check_eq one-event/sock-create-none-from-outer 0 "$(evcount ".hook == \"sock_create\" and .bound_cgroup_id != $NARROW_ID")"
check_eq one-event/backstop 1 "$(evcount '.dport == 4713')"
check_eq one-event/backstop-by-inner "$PIN_ID" "$(events_matching '.dport == 4713' | jq -r .bound_cgroup_id | head -1)"
# both levels counted their denial
st=$(ectl status --json 2>&1)
check_json counted/outer-connect4 '.policies[] | select(.name == "outer") | .hooks.connect4.denied >= 1' "$st"
check_json counted/inner-connect4 '.policies[] | select(.name == "inner") | .hooks.connect4.denied >= 1' "$st"
check_json counted/pout-egress '.policies[] | select(.name == "pout") | .hooks.egress.denied == 1' "$st"
check_json counted/pin-egress '.policies[] | select(.name == "pin") | .hooks.egress.denied == 1' "$st"
nested=$(bpftool map lookup pinned "$PIN/maps/egress_stats" key 5 0 0 0 -j 2>/dev/null |
	jq '[.formatted.values[].value] | add' 2>/dev/null)
check_eq counted/nested-stat 3 "${nested:-unreadable}"

# Detaching the child: the parent's policy still governs it.
ectl_ok setup detach "$CGROOT/parent/narrow" || die "detach narrow"
# its cgroup storage (which outlives the links) reads policy 0 again, so a
# new attach starts from "not configured" (deny), not from the old policy
binding_policy() {
	local k
	k=$(printf '%016x' "$1" | sed 's/../& /g' | awk '{for (i = NF; i >= 1; i--) printf "0x%s ", $i}')
	# shellcheck disable=SC2086
	bpftool map lookup pinned "$PIN/maps/egress_binding" key $k -j 2>/dev/null | jq -r '.formatted.value.policy // .value.policy // empty'
}
check_eq detach/storage-cleared 0 "$(binding_policy "$NARROW_ID")"
p narrow-detached/parent-allows ok parent/narrow tcp 192.0.2.20 80
p narrow-detached/parent-still-denies EPERM parent/narrow tcp 2001:db8::10 80

# status shows the nested bindings
st=$(ectl status --json 2>&1)
check_json status/parent-binding \
	"[.bindings[] | select((.cgroup|tostring|endswith(\"$(basename "$CGROOT")/parent\")) and .policy == \"outer\")] | length == 1" "$st"
check_json status/widen-binding \
	"[.bindings[] | select((.cgroup|tostring|endswith(\"$(basename "$CGROOT")/parent/widen\")) and .policy == \"wide\")] | length == 1" "$st"
check_json status/detached-gone \
	"[.bindings[] | select(.cgroup|tostring|endswith(\"/parent/narrow\"))] | length == 0" "$st"

# What arrived: t20 got parent, late, widen, parent-unaffected, sibling,
# narrow-detached (6); t6 got only the sibling's (1).
wait_count t20 6 >/dev/null
check_eq arrivals/192.0.2.20 6 "$(count t20)"
check_eq arrivals/2001:db8::10 1 "$(count t6)"
if marker u20 192.0.2.20 53; then
	check_eq arrivals/udp-192.0.2.20 1 "$(count u20 ' probe$')"
else
	fail arrivals/udp-192.0.2.20 "marker never arrived"
fi

finish

#!/bin/bash
# 50-live-rules.sh - rule and policy management on a live binding: an
# `allow` is effective for the very next connect, `remove` too (whatever
# the removed rule's action); `list --json` shows what was added; policies
# can be added, listed, deleted (not while bound); a bound cgroup can be
# moved to another policy with detach + attach; EGRESS_PIN_DIR works in
# place of --pin-dir.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

mkcg app
ectl_ok setup policy add live --default deny || die "policy add live"
ectl_ok setup attach "$CGROOT/app" --policy live || die "attach"
listen web4 tcp 192.0.2.20 80
listen web6 tcp 2001:db8::20 80
listen u4 udp 192.0.2.20 53

a() { expect "$1" "$2" "$CGROOT/app" nobody "${@:3}"; }

a before-allow EPERM tcp 192.0.2.20 80
check allow-rule ectl allow 192.0.2.20/32 --proto tcp --port 80 --policy live
a after-allow ok tcp 192.0.2.20 80
a after-allow-v4-mapped ok tcp ::ffff:192.0.2.20 80
a after-allow-other-port EPERM tcp 192.0.2.20 81
a after-allow-udp-still-denied EPERM udp 192.0.2.20 80

out=$(ectl list --policy live --json 2>&1)
check_json list/json-array 'type == "array" and length == 1' "$out"
check_json list/rule-fields \
	'.[0].action == "allow" and .[0].cidr == "192.0.2.20/32" and .[0].proto == "tcp" and (.[0].port|tostring) == "80"' "$out"

check remove-rule ectl remove 192.0.2.20/32 --proto tcp --port 80 --policy live
a after-remove EPERM tcp 192.0.2.20 80
out=$(ectl list --policy live --json 2>&1)
check_json list/empty-after-remove 'type == "array" and length == 0' "$out"

# remove takes the rule with exactly that cidr/proto/port, whatever its action
check allow-any ectl allow 2001:db8::/64 --policy live
check deny-host ectl deny 2001:db8::20/128 --proto tcp --policy live
a deny-inside-allow EPERM tcp 2001:db8::20 80
check remove-deny ectl remove 2001:db8::20/128 --proto tcp --policy live
a deny-removed ok tcp 2001:db8::20 80
out=$(ectl list --policy live --json 2>&1)
check_json list/any-proto-any-port \
	'length == 1 and .[0].action == "allow" and .[0].cidr == "2001:db8::/64" and (.[0].proto == null or .[0].proto == "any") and (.[0].port == null or .[0].port == "any")' "$out"
check_not remove-needs-exact-match ectl remove 2001:db8::/64 --proto tcp --policy live
a inexact-remove-kept-rule ok tcp 2001:db8::20 80
check remove-any ectl remove 2001:db8::/64 --policy live
a any-removed EPERM tcp 2001:db8::20 80

# a rule is identified by cidr/proto/port: after allow, a deny of the same
# key either replaces it or is refused (one stderr line); either way there
# is one rule for the key, and enforcement follows its action
check same-key-allow ectl allow 192.0.2.20/32 --proto tcp --port 80 --policy live
ectl deny 192.0.2.20/32 --proto tcp --port 80 --policy live >/dev/null 2>"$T/samekey.err"
rc=$?
out=$(ectl list --policy live --json 2>&1)
check_json list/same-key-one-rule "length == 1 and .[0].action == \"$([ $rc = 0 ] && echo deny || echo allow)\"" "$out"
if [ $rc != 0 ]; then
	check_eq same-key-refusal-one-line 1 "$(grep -c . "$T/samekey.err")"
	a same-key-allow-kept ok tcp 192.0.2.20 80
else
	a same-key-deny-effective EPERM tcp 192.0.2.20 80
fi
check same-key-remove ectl remove 192.0.2.20/32 --proto tcp --port 80 --policy live
out=$(ectl list --policy live --json 2>&1)
check_json list/same-key-removed 'length == 0' "$out"

# the default policy exists and is what rules go to without --policy
out=$(ectl policy list 2>&1)
check policy-list-has-default grep -qw default <<<"$out"
check policy-list-has-live grep -qw live <<<"$out"
check allow-without-policy ectl allow 198.51.100.0/24 --proto udp --port 53
out=$(ectl list --json 2>&1)
check_json list/default-policy-got-rule '[.[] | select(.cidr == "198.51.100.0/24")] | length == 1' "$out"
out=$(ectl list --policy live --json 2>&1)
check_json list/live-policy-did-not '[.[] | select(.cidr == "198.51.100.0/24")] | length == 0' "$out"

# policies: add, refuse to delete while bound, move the cgroup, delete
check policy-add ectl policy add other --default allow
check_not policy-delete-bound-refused ectl policy delete live
a still-enforced-after-refused-delete EPERM tcp 192.0.2.20 80
check detach ectl detach "$CGROOT/app"
a detached-unrestricted ok tcp 192.0.2.20 80
check attach-other ectl attach "$CGROOT/app" --policy other
a other-default-allow ok udp 192.0.2.20 53
check deny-in-other ectl deny 192.0.2.0/24 --policy other
a other-deny-live EPERM udp 192.0.2.20 53
check policy-delete-unbound ectl policy delete live
out=$(ectl policy list 2>&1)
check policy-list-without-deleted sh -c '! grep -qw live' <<<"$out"

# attaching a bound cgroup again moves it to the other policy
mkcg re
check rebind/attach-1 ectl attach "$CGROOT/re" --policy other
check rebind/attach-2 ectl attach "$CGROOT/re" --policy default
expect rebind/second-policy-governs EPERM "$CGROOT/re" nobody tcp 192.0.2.20 80
out=$(ectl status --json 2>&1)
check_json rebind/one-binding \
	"[.bindings[] | select(.cgroup == \"$CGROOT/re\")] | map(.policy) == [\"default\"]" "$out"
check rebind/detach ectl detach "$CGROOT/re"
expect rebind/detached ok "$CGROOT/re" nobody tcp 192.0.2.20 80
check_not rebind/detach-unbound-refused ectl detach "$CGROOT/re"

# a bound cgroup that is removed: its binding goes away with it
mkcg gone
check gone/policy-add ectl policy add doomed --default deny
check gone/attach ectl attach "$CGROOT/gone" --policy doomed
gone_id=$(ectl status --json 2>/dev/null | jq -r ".bindings[] | select(.cgroup == \"$CGROOT/gone\") | .cgroup_id")
check gone/rmdir rmdir "$CGROOT/gone"
out=$(ectl status --json 2>&1)
check_json gone/binding-not-listed \
	"[.bindings[] | select(.policy == \"doomed\" or .cgroup == \"\" or (.cgroup_id|tostring) == \"$gone_id\")] | length == 0" "$out"
check gone/policy-deletable ectl policy delete doomed

# EGRESS_PIN_DIR instead of --pin-dir
check env-pin-dir env EGRESS_PIN_DIR="$PIN" timeout "$TO" "$EGRESSCTL" allow 192.0.2.20/32 --port 53 --policy other
a env-pin-dir-effective ok udp 192.0.2.20 53

wait_count web4 4 >/dev/null
check_eq arrivals/web4 4 "$(count web4)"
if marker u4 192.0.2.20 53; then
	check_eq arrivals/udp 2 "$(count u4 ' probe$')"
else
	fail arrivals/udp "marker never arrived"
fi

finish

#!/bin/bash
# 70-apply.sh - policy files: `apply -f` of a generated 10,000-rule file,
# then a probe decided by one rule in its middle; export -> apply -> export
# is byte-stable (one policy and all of them); apply replaces each policy
# it names wholly (rules gone from the file are gone) and leaves the others
# alone; a file with a bad line changes nothing.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
mkcg app
listen proxy tcp 192.0.2.10 3128
listen web tcp 192.0.2.20 80

# 9,999 rules that never match the test's traffic (documentation and
# benchmarking ranges; no packet is ever sent to them), and in the middle
# the one that lets the proxy through.
awk 'BEGIN {
	print "# generated: 10,000 rules"
	print "policy add big --default deny"
	for (i = 0; i < 9999; i++) {
		if (i == 5000)
			print "allow 192.0.2.10/32 --proto tcp --port 3128 --policy big"
		a = int(i / 256); b = i % 256
		if (i % 3 == 0)
			printf "allow 198.18.%d.%d/32 --proto tcp --port %d --policy big\n", a, b, 1024 + i
		else if (i % 3 == 1)
			printf "deny 198.19.%d.%d/32 --port %d-%d --policy big\n", a, b, 2000 + a, 3000 + b
		else
			printf "allow 2001:db8:%x::/48 --proto udp --policy big\n", i
	}
}' >"$T/big.policy"
check_eq generated/lines 10000 "$(grep -c '^[ad]' "$T/big.policy")"

if TO=300 ectl apply -f "$T/big.policy" >"$T/apply.out" 2>&1; then
	pass apply/10000-rules
else
	fail apply/10000-rules "$(cat "$T/apply.out")"
fi
out=$(TO=60 ectl list --policy big --json 2>&1)
check_json list/10000-rules 'length == 10000' "$out"
check_json list/middle-rule \
	'[.[] | select(.cidr == "192.0.2.10/32" and .action == "allow" and .proto == "tcp" and (.port|tostring) == "3128")] | length == 1' "$out"

ectl_ok setup attach "$CGROOT/app" --policy big || die "attach big"
expect probe/decided-by-middle-rule ok "$CGROOT/app" nobody tcp 192.0.2.10 3128
expect probe/v4-mapped-decided-by-middle-rule ok "$CGROOT/app" nobody tcp ::ffff:192.0.2.10 3128
expect probe/other-port-default-deny EPERM "$CGROOT/app" nobody tcp 192.0.2.10 3129
expect probe/other-address-default-deny EPERM "$CGROOT/app" nobody tcp 192.0.2.20 80

# export -> apply -> export, byte for byte
TO=60 ectl export --policy big >"$T/e1" 2>"$T/e1.err" || fail export/big "$(cat "$T/e1.err")"
check_eq export/big-has-10000-rules 10000 "$(grep -c '^[ad]' "$T/e1")"
TO=300 ectl apply -f "$T/e1" >/dev/null 2>"$T/a2.err" || fail export/reapply "$(cat "$T/a2.err")"
TO=60 ectl export --policy big >"$T/e2" 2>/dev/null
check export/big-stable cmp "$T/e1" "$T/e2"

ectl_ok setup policy add extra --default allow --errno ECONNREFUSED || die "policy add extra"
ectl_ok setup deny 2001:db8::/32 --proto udp --port 53-60 --policy extra || die "deny"
ectl_ok setup allow 192.0.2.0/24 --policy default || die "allow"
TO=60 ectl export >"$T/all1" 2>/dev/null
TO=300 ectl apply -f "$T/all1" >/dev/null 2>"$T/a3.err" || fail export/reapply-all "$(cat "$T/a3.err")"
TO=60 ectl export >"$T/all2" 2>/dev/null
check export/all-stable cmp "$T/all1" "$T/all2"
check export/all-has-three-policies sh -c "grep -q '^policy add big ' '$T/all2' && grep -q '^policy add extra ' '$T/all2' && grep -q '^policy add default ' '$T/all2'"
check export/errno-kept grep -q '^policy add extra .*ECONNREFUSED' "$T/all2"
out=$(ectl status --json 2>&1)
check_json export/binding-survives-reapply \
	"[.bindings[] | select((.cgroup|endswith(\"$(basename "$CGROOT")/app\")) and .policy == \"big\")] | length == 1" "$out"
expect probe/after-reapply ok "$CGROOT/app" nobody tcp 192.0.2.10 3128

# apply replaces the named policy wholly, leaves the others alone
TO=60 ectl export --policy default >"$T/default1" 2>/dev/null
cat >"$T/small.policy" <<'EOF'
# big becomes small
policy add big --default deny
allow 192.0.2.20/32 --proto tcp --port 80 --policy big
EOF
check apply/replace ectl apply -f "$T/small.policy"
out=$(ectl list --policy big --json 2>&1)
check_json apply/replaced-rules 'length == 1 and .[0].cidr == "192.0.2.20/32"' "$out"
expect apply/new-rule-enforced ok "$CGROOT/app" nobody tcp 192.0.2.20 80
expect apply/old-rule-gone EPERM "$CGROOT/app" nobody tcp 192.0.2.10 3128
TO=60 ectl export --policy default >"$T/default2" 2>/dev/null
check apply/other-policy-untouched cmp "$T/default1" "$T/default2"

# a bad line anywhere: nothing applied
cat >"$T/bad.policy" <<'EOF'
policy add big --default allow
allow 192.0.2.10/32 --proto tcp --port 3128 --policy big
deny 10.0.0.256/8 --policy big
EOF
check_bad apply/bad-line-changes-nothing ectl apply -f "$T/bad.policy"
expect apply/bad-file-not-applied EPERM "$CGROOT/app" nobody tcp 192.0.2.10 3128
check_bad apply/missing-file ectl apply -f "$T/no-such.policy"

finish

#!/bin/bash
# 75-limits.sh - egressd --max-rules / --max-policies: a rule or policy
# beyond the limit is refused like any bad input (one stderr line, non-zero,
# state unchanged), by `allow`, `policy add` and `apply` (which applies
# nothing then), and what is already there keeps being enforced.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd --max-rules 3 --max-policies 3 || die "egressd not ready: $(cat "$EGRESSD_ERR")"
mkcg app
listen web tcp 192.0.2.20 80

check policy/add-2nd ectl policy add a --default deny
check policy/add-3rd ectl policy add b --default allow
check_bad policy/4th-refused ectl policy add c --default deny
check rules/1 ectl allow 192.0.2.0/24 --proto tcp --policy a
check rules/2 ectl deny 192.0.2.10/32 --policy a
check rules/3 ectl allow 2001:db8::/64 --policy a
check_bad rules/4th-refused ectl allow 192.0.2.20/32 --policy a
check_bad rules/4th-refused-deny ectl deny 2001:db8::20/128 --proto udp --policy a
check rules/replacing-same-key-fits ectl deny 192.0.2.10/32 --policy a
check rules/other-policy-has-room ectl deny 192.0.2.20/32 --policy b

cat >"$T/over.policy" <<'EOF'
policy add a --default allow
deny 192.0.2.0/24 --policy a
deny 192.0.2.20/32 --policy a
deny 192.0.2.30/32 --policy a
deny 192.0.2.40/32 --policy a
EOF
check_bad apply/over-limit-refused ectl apply -f "$T/over.policy"
out=$(ectl list --policy a --json 2>&1)
check_json apply/nothing-applied 'length == 3 and ([.[] | select(.cidr == "192.0.2.40/32")] | length == 0)' "$out"
cat >"$T/two-new.policy" <<'EOF'
policy add x --default deny
policy add y --default deny
EOF
check_bad apply/too-many-policies-refused ectl apply -f "$T/two-new.policy"

ectl_ok setup attach "$CGROOT/app" --policy a || die "attach"
expect enforced/allowed ok "$CGROOT/app" nobody tcp 192.0.2.20 80
expect enforced/denied EPERM "$CGROOT/app" nobody tcp 192.0.2.10 80

finish

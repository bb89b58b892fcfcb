#!/bin/bash
# 77-rule-hits.sh - per-rule hit counters (issue 11 item 2).
#
# - Connects and sendtos from a bound cgroup hit specific rules and the
#   default: `list --policy NAME --counters` (text and --json) shows exactly
#   the decisions made, per verdict (allowed, denied, audited in audit mode).
#   What counts (README "Per-rule hit counters"): every lookup that selects a
#   rule: connect and sendmsg, and the backstop when it looks up (a packet
#   the connect or sendmsg program let through without caching its decision,
#   as an audited one), and a decision connect or sendmsg took from the
#   decision cache (the same level, epoch and destination allowed just
#   before: each datagram of a burst on one socket counts), never what the
#   backstop skips (the SYN of a connect and a UDP datagram the program
#   allowed, an established connection's packets).
#   Probes run on one CPU, so that no datagram misses the per-CPU cache.
# - A rule keeps its counts while other rules are added and removed, across
#   `apply` of the same file and an egressd restart, and `apply` of a file
#   with rules added around them; a removed rule's counts are gone (added
#   again, it starts at 0); a rule whose action changes starts at 0.
# - egress_rule_hits_total{policy,rule,verdict}: the rule as written or
#   `default`, only the --metrics-rule-limit busiest; promtool accepts it.
# - A large change (65,536 fresh ids or more) zeroes their counters with
#   bpf/hits_zero.bpf.c: every id of a second instance's pool dirtied by
#   hand, a 66,000-rule policy's rules still start at 0.
# - Bad input: one line, exit 2.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../prom-lib.sh"
setup
cp "$EGRESSD" "$T/egressd" || die "cannot copy $EGRESSD"
EGRESSD=$T/egressd
for t in curl promtool; do
	command -v "$t" >/dev/null 2>&1 || die "tool '$t' not installed (scripts/deps.sh test)"
done

MPORT=$(free_port) || die "no free port"
start_egressd --metrics-addr "127.0.0.1:$MPORT" --metrics-rule-limit 2 ||
	die "egressd not ready: $(cat "$EGRESSD_ERR")"

P4=192.0.2.10	# tcp 3128 allowed
D4=192.0.2.20	# denied
U4=192.0.2.30	# udp 53 allowed
ectl_ok setup policy add hp --default deny || die "policy add hp"
ectl_ok setup allow "$P4/32" --proto tcp --port 3128 --policy hp || die "allow proxy"
ectl_ok setup allow "$U4/32" --proto udp --port 53 --policy hp || die "allow dns"
ectl_ok setup deny "$D4/32" --policy hp || die "deny direct"
ectl_ok setup policy add au --default deny --mode audit || die "policy add au"
ectl_ok setup allow "$P4/32" --proto tcp --port 3128 --policy au || die "allow proxy au"
mkcg hp au
ectl_ok setup attach "$CGROOT/hp" --policy hp || die "attach hp"
ectl_ok setup attach "$CGROOT/au" --policy au || die "attach au"
listen proxy tcp "$P4" 3128

# try N CG MODE ADDR PORT WANT: N attempts from CG (on CPU 0), each must print WANT
try() {
	local n=$1 cg=$2 want=$6 i out
	for ((i = 0; i < n; i++)); do
		out=$(run_as "$CGROOT/$cg" root taskset -c 0 "$PROBE" "$3" "$4" "$5" 2>&1)
		[ "$out" = "$want" ] || { fail "attempt/$cg-$3-$4-$5" "expected $want, got '$out'"; return; }
	done
	pass "attempt/$cg-$3-$4-$5-x$n"
}
try 8 hp tcp "$P4" 3128 ok		# connect (its SYN: the cached decision): 1 allowed each
try 3 hp udp "$U4" 53 ok		# sendmsg (the backstop uses its cache): 1 allowed each
try 1 hp tcp "$D4" 80 EPERM		# connect: 1 denied
try 7 hp udp 198.51.100.7 9 EPERM	# the default: 1 denied each
try 2 au udp "$D4" 53 ok		# audit: sendmsg and the backstop, 2 audited each
try 1 au tcp "$P4" 3128 ok		# connect: 1 allowed
try 1 au tcp "$D4" 80 ECONNREFUSED	# audit: connect and its SYN (not cached), 2 audited

# hits POLICY CIDR|default: the rule's (or default's) hits as "allowed denied audited"
hits() {
	ectl list --policy "$1" --counters --json |
		jq -r --arg c "$2" '.[] | select(if $c == "default" then .default else .cidr == $c end) |
			"\(.hits.allowed) \(.hits.denied) \(.hits.audited)"'
}
counts_are() {	# counts_are CHECK-PREFIX: the counts the attempts above made
	check_eq "$1/allow-tcp" "8 0 0" "$(hits hp "$P4/32")"
	check_eq "$1/allow-udp" "3 0 0" "$(hits hp "$U4/32")"
	check_eq "$1/deny" "0 1 0" "$(hits hp "$D4/32")"
	check_eq "$1/default" "0 7 0" "$(hits hp default)"
	check_eq "$1/audit-default" "0 0 6" "$(hits au default)"
	check_eq "$1/audit-allow" "1 0 0" "$(hits au "$P4/32")"
}
counts_are counts

out=$(ectl list --policy hp --counters --json)
check_json json/shape '(. | length) == 4 and (.[:3] | all(.default == false and .policy == "hp" and (.hits | keys) == ["allowed","audited","denied"])) and (.[3] | .default == true and .action == "deny" and .cidr == null and .hits == {"allowed":0,"denied":7,"audited":0})' "$out"
out=$(ectl list --policy hp --counters)
check text/header grep -qE '^ACTION +CIDR +PROTO +PORT +POLICY +ALLOWED +DENIED +AUDITED$' <<<"$out"
check text/rule grep -qE "^allow +$P4/32 +tcp +3128 +hp +8 +0 +0$" <<<"$out"
check text/default grep -qE '^deny +\(default\) +any +any +hp +0 +7 +0$' <<<"$out"
out=$(ectl list --policy hp)
check_not text/no-counters-without-flag grep -q ALLOWED <<<"$out"

# ---------------------------------------------------------------- metrics
scrape "$MPORT" || die "scrape failed"
check metrics/promtool sh -c "promtool check metrics < '$T/scrape'"
check_eq metrics/limited-to-2 6 "$(pcount "$T/scrape" egress_rule_hits_total)"
check_eq metrics/default 7 "$(pval "$T/scrape" egress_rule_hits_total policy=hp rule=default verdict=denied)"
check_eq metrics/rule-as-written 8 \
	"$(pval "$T/scrape" egress_rule_hits_total policy=hp "rule=allow $P4/32 tcp 3128" verdict=allowed)"
check_eq metrics/less-busy-absent 0 "$(pcount "$T/scrape" egress_rule_hits_total "rule=allow $U4/32 udp 53")"

# ---------------------------------------------------------------- counts stay
ectl_ok edit allow 203.0.113.0/24 --policy hp || die "allow other"
ectl_ok edit allow 192.0.2.0/24 --proto udp --policy hp || die "allow other (container)"
ectl_ok edit remove 203.0.113.0/24 --policy hp || die "remove other"
counts_are after-other-edits
ectl_ok edit remove 192.0.2.0/24 --proto udp --policy hp || die "remove other"
ectl export > "$T/all.policy" || die "export"
ectl_ok apply apply -f "$T/all.policy" || die "apply"
counts_are after-apply
stop_egressd
start_egressd --metrics-addr "127.0.0.1:$MPORT" ||
	die "egressd not ready again: $(cat "$EGRESSD_ERR")"
counts_are after-restart
scrape "$MPORT" || die "scrape failed"
check_eq metrics/default-limit-all-rules 3 \
	"$(pval "$T/scrape" egress_rule_hits_total policy=hp "rule=allow $U4/32 udp 53")"
check_eq metrics/audited 6 "$(pval "$T/scrape" egress_rule_hits_total policy=au rule=default verdict=audited)"
check metrics/promtool-again sh -c "promtool check metrics < '$T/scrape'"

# apply keeps the ids of the rules it keeps (found walking the file's rules
# and the stored ones side by side, both in order): rules added before,
# between and after them, a rule whose action changes starts at 0
cat >"$T/hp-more.policy" <<EOF
policy add hp --default deny
allow 10.0.0.0/8 --policy hp
allow 192.0.2.0/24 --proto udp --policy hp
allow $P4/32 --proto tcp --port 3128 --policy hp
allow 192.0.2.15/32 --policy hp
allow $D4/32 --policy hp
allow $U4/32 --proto udp --port 53 --policy hp
allow 198.18.0.0/15 --policy hp
EOF
ectl_ok apply apply -f "$T/hp-more.policy" || die "apply more"
check_eq apply-merge/kept-tcp "8 0 0" "$(hits hp "$P4/32")"
check_eq apply-merge/kept-udp "3 0 0" "$(hits hp "$U4/32")"
check_eq apply-merge/kept-default "0 7 0" "$(hits hp default)"
check_eq apply-merge/action-changed-at-0 "0 0 0" "$(hits hp "$D4/32")"
check_eq apply-merge/added-at-0 "0 0 0|0 0 0|0 0 0|0 0 0" \
	"$(hits hp 10.0.0.0/8)|$(hits hp 192.0.2.0/24)|$(hits hp 192.0.2.15/32)|$(hits hp 198.18.0.0/15)"
grep -v -e '10\.0\.0\.0/8' -e '192\.0\.2\.0/24' -e '192\.0\.2\.15/' -e '198\.18\.' "$T/hp-more.policy" |
	sed "s|^allow $D4/32|deny $D4/32|" >"$T/hp-back.policy"
ectl_ok apply apply -f "$T/hp-back.policy" || die "apply back"
check_eq apply-merge/back-kept "8 0 0|3 0 0|0 7 0" "$(hits hp "$P4/32")|$(hits hp "$U4/32")|$(hits hp default)"
check_eq apply-merge/back-rules "192.0.2.10/32 allow|192.0.2.20/32 deny|192.0.2.30/32 allow" \
	"$(ectl list --policy hp --json | jq -r '[.[] | select(.default != true) | "\(.cidr) \(.action)"] | join("|")')"

# still counting after all that
try 1 hp udp "$U4" 53 ok
check_eq counts/still-counting "4 0 0" "$(hits hp "$U4/32")"

# one socket, 20 datagrams to the same destination: the first is looked up,
# the others are decided from sendmsg's cache (the same level, epoch and
# destination): each counts its rule, as each connect of a burst does
out=$(run_as "$CGROOT/hp" root taskset -c 0 /usr/bin/python3 "$ROOT/tests/cache-udp.py" burst "$U4" 53 20 2>&1)
check_eq cached/burst-sent "ok=20" "$out"
check_eq cached/each-datagram-counts "24 0 0" "$(hits hp "$U4/32")"
out=$(run_as "$CGROOT/hp" root taskset -c 0 "$PROBE" loop tcp "$P4" 3128 20 2>&1)
check_eq cached/connects-made "ok=20" "$out"
check_eq cached/each-connect-counts "28 0 0" "$(hits hp "$P4/32")"

# a removed rule's counts are gone; added again it starts at 0
ectl_ok edit remove "$D4/32" --policy hp || die "remove deny"
check_eq removed/gone "" "$(hits hp "$D4/32")"
ectl_ok edit deny "$D4/32" --policy hp || die "deny again"
check_eq removed/re-added-at-0 "0 0 0" "$(hits hp "$D4/32")"
try 1 hp tcp "$D4" 80 EPERM
check_eq removed/re-added-counts "0 1 0" "$(hits hp "$D4/32")"
# another action is another rule: it starts at 0
ectl_ok edit allow "$U4/32" --proto udp --port 53 --policy hp || die "same allow"
check_eq same-rule-again "24 0 0" "$(hits hp "$U4/32")"
ectl_ok edit deny "$U4/32" --proto udp --port 53 --policy hp || die "action change"
check_eq action-change-at-0 "0 0 0" "$(hits hp "$U4/32")"
# a removed policy's ids go back to the pool: a new policy's counts start at 0
ectl_ok edit detach "$CGROOT/au" || die "detach au"
ectl_ok edit policy delete au || die "policy delete au"
ectl_ok edit policy add au2 --default deny || die "policy add au2"
ectl_ok edit allow "$P4/32" --proto tcp --port 3128 --policy au2 || die "allow au2"
check_eq new-policy-at-0 "0 0 0 0 0 0" "$(echo $(hits au2 default) $(hits au2 "$P4/32"))"

# ---------------------------------------------------------------- a large change
# A change that takes 65,536 fresh ids or more zeroes their counters with
# bpf/hits_zero.bpf.c (one BPF_PROG_TEST_RUN) instead of batch updates.  A
# second instance, every id of its pool dirtied by hand first: the rules of
# a new 66,000-rule policy all start at 0 (its default too), and so does the
# rule of a one-rule edit after it (the batch update).
BIG=$T/bpffs/big
"$EGRESSD" --pin-dir "$BIG" --max-rules 70000 --max-policies 4 --metrics-addr none \
	--events-socket "$T/big.sock" --gc-interval 0 >/dev/null 2>"$T/big.err" &
BG_PIDS+=($!)
wait_until "$TO" grep -q '^egressd: ready' "$T/big.err" || die "second egressd not ready: $(cat "$T/big.err")"
bigctl() { timeout "$TO" "$EGRESSCTL" "$@" --pin-dir "$BIG"; }
size=$(bpftool -j map show pinned "$BIG/maps/egress_rule_hits" | jq .max_entries)
check big/pool-size test "$size" -gt 66002
for ((id = 1; id < size; id++)); do
	printf 'map update pinned %s key %d %d %d 0 value 7 0 0 0 0 0 0 0 7 0 0 0 0 0 0 0 7 0 0 0 0 0 0 0\n' \
		"$BIG/maps/egress_rule_hits" $((id & 255)) $((id >> 8 & 255)) $((id >> 16))
done >"$T/dirty.batch"
check big/dirtied bpftool batch file "$T/dirty.batch"
dirty_id=$((size - 1))
check_eq big/dirty-on-every-cpu "$(nproc)" "$(bpftool -j map lookup pinned "$BIG/maps/egress_rule_hits" \
	key $((dirty_id & 255)) $((dirty_id >> 8 & 255)) $((dirty_id >> 16)) 0 | jq '[.formatted.values[] | select(.value.allowed == 7)] | length')"
{
	echo "policy add big --default deny"
	for ((i = 0; i < 66000; i++)); do echo "allow 10.$((i >> 16)).$((i >> 8 & 255)).$((i & 255))/32 --policy big"; done
} >"$T/big.policy"
check big/apply strace -f -qq -e trace=bpf -o "$T/big.st" "$EGRESSCTL" apply -f "$T/big.policy" --pin-dir "$BIG"
check big/zeroed-by-the-program grep -q BPF_PROG_TEST_RUN "$T/big.st"
bigctl list --policy big --counters --json >"$T/big.json" 2>"$T/big.err2"
check_eq big/rows 66001 "$(jq length "$T/big.json")"
check_eq big/all-at-0 0 "$(jq '[.[] | select(.hits.allowed + .hits.denied + .hits.audited > 0)] | length' "$T/big.json")"
check big/small-edit bigctl allow 10.99.0.1/32 --policy big
check_eq big/small-edit-at-0 "0 0 0" "$(bigctl list --policy big --counters --json |
	jq -r '.[] | select(.cidr == "10.99.0.1/32") | "\(.hits.allowed) \(.hits.denied) \(.hits.audited)"')"

# ---------------------------------------------------------------- bad input
check_bad bad/counters-without-policy ectl list --counters
check_rc bad/counters-without-policy-exit-2 2 ectl list --counters
check_bad bad/counters-unknown-policy ectl list --counters --policy nosuch
check_rc bad/counters-unknown-policy-exit-2 2 ectl list --counters --policy nosuch
check_bad bad/rule-limit-abc timeout "$TO" "$EGRESSD" --pin-dir "$T/none" --metrics-rule-limit abc
check_rc bad/rule-limit-abc-exit-2 2 "$EGRESSD" --pin-dir "$T/none" --metrics-rule-limit abc

finish

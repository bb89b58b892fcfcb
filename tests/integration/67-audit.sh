#!/bin/bash
# 67-audit.sh - audit mode (issue 11 item 1).  A policy in audit mode never
# denies: on every hook (connect4/6, sendmsg4/6, sock_create of a raw
# socket, setsockopt IPV6_RTHDR, the backstop, the ingress program) what it
# would deny goes through (the listener gets it), is counted
# (status "audited", egress_audited_total{policy,hook}) and logged with
# "verdict":"audit"; enforced denials say "verdict":"deny"; `events
# --format hint` skips audit events.  Nested: a candidate audit policy on a
# child of an enforcing sandbox never weakens the parent (it still denies,
# with its own deny event), and an audit parent of an enforcing child adds
# no event.  The mode is in export, apply, policy list and status; a switch
# to enforce denies at once and cuts an established connection.  Bad input:
# one line, exit 2, state unchanged.  An IPv6 datagram's later fragment to a
# NAT64 address whose IPv4 address an audit policy denies is not audited a
# second time.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../prom-lib.sh"


# the defaults, and a NAT64 address that embeds the denied 192.0.2.20
setup 192.0.2.10 192.0.2.20 192.0.2.30 2001:db8::10 2001:db8::20 2001:db8::30 64:ff9b::c000:214
use_bypass
PY=/usr/bin/python3
CONN=$T/revoke-conn.py
cp "$ROOT/tests/revoke-conn.py" "$CONN" || die "cannot copy revoke-conn.py"

P4=192.0.2.10		# the proxy: every policy allows tcp 3128
D4=192.0.2.20 D6=2001:db8::20	# a direct host: denied (or audited)
MPORT=$(free_port)
start_egressd --metrics-addr "127.0.0.1:$MPORT" || die "egressd not ready: $(cat "$EGRESSD_ERR")"

# cand: the candidate, audit mode.  enf: the same rules, enforcing.
ectl_ok setup policy add cand --default deny --mode audit || die "policy add cand"
ectl_ok setup allow "$P4/32" --proto tcp --port 3128 --policy cand || die "allow proxy cand"
ectl_ok setup policy add enf --default deny --errno ECONNREFUSED || die "policy add enf"
ectl_ok setup allow "$P4/32" --proto tcp --port 3128 --policy enf || die "allow proxy enf"
ectl_ok setup policy add open --default allow || die "policy add open"
mkcg aud sbx sbx/cand opn opn/enf
ectl_ok setup attach "$CGROOT/aud" --policy cand || die "attach aud"
ectl_ok setup attach "$CGROOT/sbx" --policy enf || die "attach sbx"
ectl_ok setup attach "$CGROOT/sbx/cand" --policy cand || die "attach sbx/cand"
ectl_ok setup attach "$CGROOT/opn" --policy cand || die "attach opn"
ectl_ok setup attach "$CGROOT/opn/enf" --policy enf || die "attach opn/enf"

listen proxy tcp "$P4" 3128
listen t4 tcp "$D4" 80
listen t6 tcp "$D6" 80
listen u4 udp "$D4" 53
listen u6 udp "$D6" 53

# ev CHECK JQ: an event (egressd's log) for which JQ holds appears (bounded)
_has_ev() { [ -n "$(events_matching "$1" | head -1)" ]; }
ev() {
	if wait_until 5 _has_ev "$2"; then
		pass "$1"
	else
		fail "$1" "no event with $2 in: $(tail -5 "$T/egressd.out")"
	fi
}
AUD=".bound_cgroup_id == $(stat -c %i "$CGROOT/aud") and .verdict == \"audit\" and .policy == \"cand\""

# ---- every hook, audit mode: allowed, and an audit event
expect hook/connect4-allowed ok "$CGROOT/aud" nobody tcp "$D4" 80
expect hook/connect6-allowed ok "$CGROOT/aud" nobody tcp "$D6" 80
expect hook/sendmsg4-allowed ok "$CGROOT/aud" nobody udp "$D4" 53
expect hook/sendmsg6-allowed ok "$CGROOT/aud" nobody udp "$D6" 53
wait_count t4 1 && pass hook/connect4-listener-got-it || fail hook/connect4-listener-got-it "$(count t4)"
wait_count t6 1 && pass hook/connect6-listener-got-it || fail hook/connect6-listener-got-it "$(count t6)"
wait_count u4 1 && pass hook/sendmsg4-listener-got-it || fail hook/sendmsg4-listener-got-it "$(count u4)"
wait_count u6 1 && pass hook/sendmsg6-listener-got-it || fail hook/sendmsg6-listener-got-it "$(count u6)"
ev event/connect4-audit "$AUD and .hook == \"connect4\" and .dst == \"$D4\" and .dport == 80"
ev event/connect6-audit "$AUD and .hook == \"connect6\" and .dst == \"$D6\""
ev event/sendmsg4-audit "$AUD and .hook == \"sendmsg4\" and .dst == \"$D4\" and .dport == 53"
ev event/sendmsg6-audit "$AUD and .hook == \"sendmsg6\" and .dst == \"$D6\""

# a raw socket as container root: sock_create refuses it under enforce; its
# hand-built UDP packet is the backstop's
n0=$(count u4)
w=$(run_as "$CGROOT/aud" container "$BYPASS" raw-udp "$D4" 53 2>&1)
check_eq hook/raw-socket-created-and-sent ok "$w"
wait_count u4 $((n0 + 1)) && pass hook/backstop-raw-arrived || fail hook/backstop-raw-arrived "$(count u4)"
ev event/sock_create-audit "$AUD and .hook == \"sock_create\""
ev event/backstop-audit "$AUD and .hook == \"egress\" and .dst == \"$D4\" and .dport == 53"

# an IPv6 datagram in two fragments to a NAT64 address that embeds a
# denied IPv4 one, under a default-allow audit policy: audited once, at its
# first fragment (the IPv6 address allowed, the IPv4 one it embeds denied:
# the event names the IPv4 address); the later one passes on its first's
# key, built before the decision named the IPv4 address: no second audit
NAT=64:ff9b::c000:214
ectl_ok setup policy add audallow --default allow --mode audit || die "policy add audallow"
ectl_ok setup deny "$D4/32" --policy audallow || die "deny audallow"
mkcg audallow
ectl_ok setup attach "$CGROOT/audallow" --policy audallow || die "attach audallow"
w=$(run_as "$CGROOT/audallow" container "$BYPASS" frag6 both "$NAT" 54 2>&1)
check_eq hook/frag6-nat64-sent ok "$w"
AA=".bound_cgroup_id == $(stat -c %i "$CGROOT/audallow") and .verdict == \"audit\""
ev event/frag6-nat64-first-audited "$AA and .hook == \"egress\" and .dst == \"$D4\" and .dport == 54"
sleep 0.5
check_eq event/frag6-nat64-one-audit 1 "$(events_matching "$AA" | grep -c .)"

# setsockopt(IPV6_RTHDR): refused under enforce, allowed and audited here
w=$(run_as "$CGROOT/aud" nobody "$BYPASS" srh udp "$D6" "$D6" 53 2>&1)
check_eq hook/setsockopt-rthdr-allowed ok "$w"
ev event/setsockopt-audit "$AUD and .hook == \"setsockopt\""
# the refused option is the event's detail; rule keeps its value
ev event/setsockopt-detail-names-option "$AUD and .hook == \"setsockopt\" and .detail == \"IPV6_RTHDR\" and .rule == \"IPV6_RTHDR (routing header)\""
ev event/connect-has-no-detail "$AUD and .hook == \"connect4\" and (has(\"detail\") | not)"

# ingress: a client the policy denies reaches a listener of the cgroup
out=$T/serve.aud
BYPASS_TAG=aud run_as "$CGROOT/aud" nobody "$BYPASS" serve "$D4" 8101 >"$out" 2>&1 &
spid=$!
if wait_until 10 grep -qx listening "$out"; then
	client=$(BYPASS_TAG=aud run_as - root "$BYPASS" client-from 192.0.2.30 "$D4" 8101 2>&1)
	wait_pid "$spid" >/dev/null 2>&1
	check hook/ingress-accepted grep -q '^accepted' "$out"
	check_eq hook/ingress-client-got-data data "$client"
else
	kill "$spid" 2>/dev/null
	fail hook/ingress-accepted "listener did not start: $(cat "$out")"
fi
ev event/ingress-audit "$AUD and .hook == \"ingress\" and .dst == \"192.0.2.30\""

# the errno an enforcing level would return is not set by an audit level
ev event/audit-errno-is-what-enforce-would-say "$AUD and .hook == \"connect4\" and .errno == \"EPERM\""

# ---- counters, metrics, hint format
st=$(ectl status --json)
check_json status/audited-counted '.policies[] | select(.name == "cand") |
	.audited >= 8 and .denied == 0 and .hooks.connect4.audited >= 1 and .hooks.sock_create.audited >= 1 and
	.hooks.setsockopt.audited >= 1 and .hooks.egress.audited >= 1 and .hooks.ingress.audited >= 1' "$st"
scrape "$MPORT" /metrics "$T/m1" || die "scrape: $(cat "$T/curl.err")"
for h in connect4 connect6 sendmsg4 sendmsg6 sock_create setsockopt egress ingress; do
	v=$(pval "$T/m1" egress_audited_total policy=cand hook=$h)
	if [ -n "$v" ] && [ "$v" -ge 1 ]; then
		pass "metrics/audited-$h"
	else
		fail "metrics/audited-$h" "egress_audited_total{policy=cand,hook=$h} = '$v'"
	fi
done
check_eq metrics/audit-not-denied 0 "$(pval "$T/m1" egress_denied_total policy=cand)"
check metrics/help-line grep -q '^# HELP egress_audited_total ' "$T/m1"

# an enforced denial next to it: verdict deny, a hint; audit: no hint
expect enforce/denied ECONNREFUSED "$CGROOT/sbx" nobody tcp "$D4" 81
ev event/deny-has-verdict-deny ".policy == \"enf\" and .verdict == \"deny\" and .dport == 81"
SOCK=$T/events.sock
out=$(timeout "$TO" "$EGRESSCTL" events --socket "$SOCK" --cgroup "$CGROOT/aud" --format hint 2>&1)
check_eq hint/audit-events-skipped "" "$out"
out=$(timeout "$TO" "$EGRESSCTL" events --socket "$SOCK" --cgroup "$CGROOT/aud" --format text 2>&1)
check text/audit-says-AUDIT grep -q " AUDIT connect4 tcp $D4:80 policy=cand" <<<"$out"
out=$(timeout "$TO" "$EGRESSCTL" events --socket "$SOCK" --cgroup "$CGROOT/sbx" --format hint 2>&1)
check hint/deny-has-hint grep -q "$D4" <<<"$out"

# ---- nested: a candidate audit policy below an enforcing sandbox
SUB=$(stat -c %i "$CGROOT/sbx/cand") SBX=$(stat -c %i "$CGROOT/sbx")
n0=$(count t4)
expect nested/parent-still-denies ECONNREFUSED "$CGROOT/sbx/cand" nobody tcp "$D4" 82
ev nested/child-audit-event ".bound_cgroup_id == $SUB and .verdict == \"audit\" and .dport == 82"
ev nested/parent-deny-event-not-suppressed ".bound_cgroup_id == $SBX and .verdict == \"deny\" and .dport == 82"
expect nested/proxy-allowed ok "$CGROOT/sbx/cand" nobody tcp "$P4" 3128
w=$(run_as "$CGROOT/sbx/cand" container "$BYPASS" raw-udp "$D4" 53 2>&1)
check_eq nested/raw-socket-parent-denies EPERM "$w"
marker u4 "$D4" 53 || true
check_eq nested/nothing-arrived-from-child "$n0" "$(count t4)"
# an audit parent above an enforcing child: the child's deny event only
OPN=$(stat -c %i "$CGROOT/opn")
expect nested/enforcing-child-denies ECONNREFUSED "$CGROOT/opn/enf" nobody tcp "$D4" 83
ev nested/child-deny-event ".policy == \"enf\" and .verdict == \"deny\" and .dport == 83"
sleep 0.5
check_eq nested/no-audit-event-after-a-deny 0 \
	"$(events_matching ".bound_cgroup_id == $OPN and .dport == 83" | wc -l)"

# ---- advise and explain see the mode
out=$(ectl advise --cgroup "$CGROOT/aud" --name cand2)
check advise/audited-counted grep -Eq "^# [0-9]+ audited \(policy cand\)" <<<"$out"
check advise/rule-for-audited grep -qx "allow $D4/32 --proto tcp --port 80 --policy cand2" <<<"$out"
check_rc explain/audit-level-allows 0 ectl explain --cgroup "$CGROOT/aud" "$D4" --proto tcp --port 80
check_json explain/mode-audit '.verdict == "allow" and (.policies[0].mode == "audit") and
	(.policies[0].verdict == "audit")' "$(ectl explain --cgroup "$CGROOT/aud" "$D4" --proto tcp --port 80 --json)"
check_rc explain/nested-parent-denies 1 ectl explain --cgroup "$CGROOT/sbx/cand" "$D4" --proto tcp --port 80

# ---- the mode in export, policy list, status, apply
ectl export --policy cand >"$T/cand.policy" 2>"$T/export.err" || fail export/cand "$(cat "$T/export.err")"
check export/audit-mode grep -qx "policy add cand --default deny --mode audit" "$T/cand.policy"
check_eq export/enforce-unchanged "policy add enf --default deny --errno ECONNREFUSED" \
	"$(ectl export --policy enf | grep -v "^#" | head -1)"
out=$(ectl policy list)
check_eq policy-list/header "NAME DEFAULT ERRNO RULES BOUND MODE" "$(head -1 <<<"$out" | tr -s ' ')"
check policy-list/text-audit grep -Eq '^cand .* audit$' <<<"$out"
check policy-list/text-enforce grep -Eq '^enf .* enforce$' <<<"$out"
check_json policy-list/json '(map(select(.name == "cand"))[0].mode == "audit") and
	(map(select(.name == "enf"))[0].mode == "enforce")' "$(ectl policy list --json)"
check_json status/mode '.policies | (map(select(.name == "cand"))[0].mode == "audit") and
	(map(select(.name == "enf"))[0].mode == "enforce")' "$(ectl status --json)"
check status/text-mode grep -Eq '^  cand +default deny +mode audit ' <<<"$(ectl status)"
# apply: a file sets the mode, and a file without --mode is enforce
printf 'policy add fromfile --default deny --mode audit\nallow 10.0.0.0/8 --policy fromfile\n' >"$T/ff.policy"
ectl_ok apply/audit apply -f "$T/ff.policy"
check_json apply/audit-mode 'map(select(.name == "fromfile"))[0].mode == "audit"' "$(ectl policy list --json)"
ectl export --policy fromfile >"$T/ff.out"
check_eq apply/round-trip "$(cat "$T/ff.policy")" "$(grep -v "^#" "$T/ff.out")"
printf 'policy add fromfile --default deny\nallow 10.0.0.0/8 --policy fromfile\n' >"$T/ff2.policy"
ectl_ok apply/enforce apply -f "$T/ff2.policy"
check_json apply/enforce-mode 'map(select(.name == "fromfile"))[0].mode == "enforce"' "$(ectl policy list --json)"

# ---- bad input: one line, exit 2, nothing changed
check_bad bad/mode-foo ectl policy set cand --mode foo
check_rc bad/mode-foo-exit-2 2 ectl policy set cand --mode foo
check bad/mode-foo-names-fix sh -c "$(printf '%q ' "$EGRESSCTL") policy set --pin-dir $PIN cand --mode foo 2>&1 |
	grep -q \"invalid --mode 'foo': expected enforce or audit\""
check_bad bad/mode-missing-value ectl policy add x --mode
printf 'policy add y --mode Audit\n' >"$T/bad.policy"
check_bad bad/mode-in-file ectl apply -f "$T/bad.policy"
check_json bad/still-audit 'map(select(.name == "cand"))[0].mode == "audit"' "$(ectl policy list --json)"

# ---- switch to enforce: denies at once, cuts an established connection
nsenter --net="/run/netns/$NS" "$PY" "$CONN" serve tcp "$D4" 443 >"$T/serve.d.out" 2>"$T/serve.d.err" &
BG_PIDS+=($!)
wait_until 10 grep -qx listening "$T/serve.d.out" || die "server did not start: $(cat "$T/serve.d.err")"
# hold NAME: a connection to D4:443 held by a process of aud; it waits for $T/go.NAME
hold() {
	in_cgroup "$CGROOT/aud" nsenter --net="/run/netns/$NS" "$PY" "$CONN" hold tcp "$D4" 443 "$T/go.$1" \
		>"$T/hold.$1.out" 2>"$T/hold.$1.err" &
	BG_PIDS+=($!)
	wait_until 10 grep -q . "$T/hold.$1.out" || die "holder $1 did not connect: $(cat "$T/hold.$1.err")"
	check_eq "switch/$1-connected-under-audit" connected "$(head -1 "$T/hold.$1.out")"
}
hold k
hold d
# a narrowing edit of a policy still in audit mode cuts nothing (revoke sees the mode too)
ectl_ok switch/deny-rule-under-audit deny 10.9.9.9/32 --policy cand
touch "$T/go.k"
wait_until 10 sh -c "[ \$(wc -l < '$T/hold.k.out') -ge 2 ]"
check_eq switch/audit-edit-keeps-connection ok "$(sed -n 2p "$T/hold.k.out")"
ectl_ok switch/enforce policy set cand --mode enforce
touch "$T/go.d"
wait_until 10 sh -c "[ \$(wc -l < '$T/hold.d.out') -ge 2 ]"
r=$(sed -n 2p "$T/hold.d.out")
case $r in
ECONNABORTED | ECONNRESET | EPIPE) pass switch/established-cut ;;
*) fail switch/established-cut "expected ECONNABORTED, ECONNRESET or EPIPE, got '$r' $(cat "$T/hold.d.err")" ;;
esac
expect switch/now-denied EPERM "$CGROOT/aud" nobody tcp "$D4" 80
expect switch/proxy-still-allowed ok "$CGROOT/aud" nobody tcp "$P4" 3128
w=$(run_as "$CGROOT/aud" container "$BYPASS" raw-udp "$D4" 53 2>&1)
check_eq switch/raw-socket-refused EPERM "$w"
check_json switch/mode-enforce 'map(select(.name == "cand"))[0].mode == "enforce"' "$(ectl policy list --json)"
ectl_ok switch/back-to-audit policy set cand --mode audit
expect switch/audit-again ok "$CGROOT/aud" nobody tcp "$D4" 80

finish

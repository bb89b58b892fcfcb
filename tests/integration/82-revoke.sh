#!/bin/bash
# 82-revoke.sh - a policy change applies to connections that already exist.
#
# Long-lived connections (tests/revoke-conn.py: one round trip, then one
# more when told) are held by processes of bound cgroups, in the test's
# netns (so egressctl must walk that netns's sockets, not only its own),
# to echo servers outside the test's cgroups.  After each change, the
# holders do their next round trip at once, i.e. within the same second
# the command returned:
#   - a pro -> free downgrade (attach to another policy): TCP to a direct
#     host (IPv4 and IPv6) is cut (ECONNABORTED/ECONNRESET/EPIPE), TCP to
#     the proxy still works; a connected UDP socket's next send to the
#     now-denied peer fails with EPERM;
#   - --keep-established keeps the connection (and the change applies to
#     new ones);
#   - a widening (free -> pro) cuts nothing;
#   - a deny rule edit, an apply and `policy set --default deny` cut what
#     they newly deny;
#   - a rule removed from a 100,000-rule policy cuts the connection it
#     allowed, in the bound cgroup and in a nested bound child (the AND of
#     both bindings), and nothing in an unrelated cgroup;
#   - each cut connection is one event with "hook":"revoke"; kept ones none.
#   - attach below an ancestor whose policy narrowed (--keep-established):
#     the ancestor's policy cuts what it denies; with 120 other bindings on
#     the node, the attach makes fewer than 40 map lookups.
source "$(dirname "$0")/../lib.sh"
setup
source "$(dirname "$0")/../conn-lib.sh"

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

# free: only the proxy (192.0.2.10 tcp 3128).  pro: everything but the metadata address.
ectl_ok setup apply -f "$ROOT/tests/fixtures/free.policy" || die "apply tests/fixtures/free.policy"
ectl_ok setup policy add pro --default allow || die "policy add pro"
ectl_ok setup deny 169.254.169.254/32 --policy pro || die "deny metadata"
ectl_ok setup policy add pro2 --default allow || die "policy add pro2"

serve proxy tcp 192.0.2.10 3128
serve direct tcp 192.0.2.20 443
serve direct6 tcp 2001:db8::20 443
serve other tcp 192.0.2.30 443
serve dns udp 192.0.2.20 53

# go NAME...: each holder does its next round trip now.
go() {
	local n
	for n in "$@"; do
		touch "$T/go.$n"
	done
}

# result NAME: the word of holder NAME's second round trip.
result() {
	local n=$1
	wait_until 10 sh -c "[ \$(wc -l < '$T/hold.$n.out') -ge 2 ]"
	sed -n 2p "$T/hold.$n.out"
}

# was_cut CHECK HOLDER: the held connection was reset.
was_cut() {
	local r
	r=$(result "$2")
	case $r in
	ECONNABORTED | ECONNRESET | EPIPE) pass "$1" ;;
	*) fail "$1" "expected ECONNABORTED, ECONNRESET or EPIPE on the next write or read, got '$r' $(cat "$T/hold.$2.err")" ;;
	esac
}

# was_kept CHECK HOLDER: the held connection still works.
was_kept() {
	check_eq "$1" ok "$(result "$2")"
}

revokes() { events_matching '.hook == "revoke"' | wc -l; }

# ---- a pro -> free downgrade: direct hosts cut, the proxy kept, UDP EPERM
mkcg sb1 sb1/kid
ectl_ok setup attach "$CGROOT/sb1" --policy pro || die "attach pro"
hold down-direct sb1 tcp 192.0.2.20 443
hold down-direct6 sb1/kid tcp 2001:db8::20 443
hold down-proxy sb1 tcp 192.0.2.10 3128
hold down-udp sb1 udp 192.0.2.20 53
t0=$(date +%s%N)
ectl_ok setup attach "$CGROOT/sb1" --policy free || fail downgrade/attach "attach free"
ms_revoke=$((($(date +%s%N) - t0) / 1000000))
go down-direct down-direct6 down-proxy down-udp
was_cut downgrade/tcp4-direct-cut down-direct
was_cut downgrade/tcp6-direct-in-child-cut down-direct6
was_kept downgrade/proxy-kept down-proxy
check_eq downgrade/connected-udp-send-EPERM EPERM "$(result down-udp)"

CGN=$(basename "$CGROOT")
wait_until 10 sh -c "[ \$(jq -c 'select(.hook == \"revoke\")' '$T/egressd.out' | wc -l) -ge 2 ]"
ev=$(events_matching '.hook == "revoke" and .dst == "192.0.2.20"' | head -1)
check_json events/revoke-tcp4 ".policy == \"free\" and .dport == 443 and .proto == \"tcp\" and
	.family == \"ipv4\" and .errno == \"ECONNABORTED\" and .rule == \"default\" and
	(.cgroup | endswith(\"$CGN/sb1\")) and .uid == 0" "$ev"
ev=$(events_matching '.hook == "revoke" and .dst == "2001:db8::20"' | head -1)
check_json events/revoke-tcp6-child ".policy == \"free\" and .dport == 443 and .family == \"ipv6\" and
	(.cgroup | endswith(\"$CGN/sb1/kid\"))" "$ev"
check_eq events/none-for-the-proxy 0 "$(events_matching '.hook == "revoke" and .dst == "192.0.2.10"' | wc -l)"
check_eq events/one-per-cut-connection 2 "$(revokes)"

# ---- --keep-established: today's behaviour for one change
mkcg sb3
ectl_ok setup attach "$CGROOT/sb3" --policy pro || die "attach pro"
hold keep-direct sb3 tcp 192.0.2.20 443
t0=$(date +%s%N)
ectl_ok keep/attach attach "$CGROOT/sb3" --policy free --keep-established
echo "# attach: $ms_revoke ms with the revoke pass (2 netns), $((($(date +%s%N) - t0) / 1000000)) ms with --keep-established"
go keep-direct
was_kept keep/direct-kept keep-direct
expect keep/new-connections-denied EPERM "$CGROOT/sb3" root tcp 192.0.2.20 443

check_bad keep/flag-takes-no-value ectl attach "$CGROOT/sb3" --policy pro --keep-established=yes
check_eq keep/bad-flag-left-the-binding free "$(ectl status --json | jq -r --arg d "$CGROOT/sb3" '.bindings[] | select(.cgroup == $d) | .policy')"

# ---- a widening (free -> pro) cuts nothing
mkcg sb2
ectl_ok setup attach "$CGROOT/sb2" --policy free || die "attach free"
hold widen-proxy sb2 tcp 192.0.2.10 3128
n0=$(revokes)
ectl_ok widen/attach attach "$CGROOT/sb2" --policy pro
go widen-proxy
was_kept widen/proxy-kept widen-proxy
check_eq widen/no-revoke-events "$n0" "$(revokes)"

# ---- rule edits: a deny cuts what it denies, nothing else
mkcg sb4
ectl_ok setup attach "$CGROOT/sb4" --policy pro2 || die "attach pro2"
hold deny-other sb4 tcp 192.0.2.30 443
hold deny-direct sb4 tcp 192.0.2.20 443
ectl_ok rule/deny deny 192.0.2.30/32 --proto tcp --policy pro2
go deny-other deny-direct
was_cut rule/deny-cuts-the-denied-peer deny-other
was_kept rule/deny-keeps-the-others deny-direct
# an IPv6 peer that embeds a now-denied IPv4 address (NAT64 64:ff9b::/96)
# is cut too: decided as both, as a new connect() is (issue 16 item 8)
ip -n "$NS" -6 addr add 64:ff9b::c000:21e/128 dev lo nodad || die "add the NAT64 address"
serve nat64 tcp 64:ff9b::c000:21e 443
ectl_ok setup policy add pro3 --default allow || die "policy add pro3"
mkcg sb4n
ectl_ok setup attach "$CGROOT/sb4n" --policy pro3 || die "attach pro3"
hold nat64 sb4n tcp 64:ff9b::c000:21e 443
hold nat64-direct sb4n tcp 192.0.2.20 443
ectl_ok rule/deny-embedded deny 192.0.2.30/32 --policy pro3
go nat64 nat64-direct
was_cut rule/deny-cuts-a-nat64-peer-that-embeds-it nat64
was_kept rule/deny-embedded-keeps-the-others nat64-direct
# apply: the file's policy narrows what a held connection reaches
hold apply-direct sb4 tcp 192.0.2.20 443
printf 'policy add pro2 --default allow\ndeny 192.0.2.0/24 --policy pro2\n' >"$T/narrow.policy"
ectl_ok apply/apply apply -f "$T/narrow.policy"
go apply-direct
was_cut apply/cuts-the-newly-denied apply-direct

# policy set --default deny: the default narrows
mkcg sb6
ectl_ok setup policy add open --default allow || die "policy add open"
ectl_ok setup allow 192.0.2.10/32 --proto tcp --port 3128 --policy open || die "allow proxy"
ectl_ok setup attach "$CGROOT/sb6" --policy open || die "attach open"
hold default-direct sb6 tcp 192.0.2.20 443
hold default-proxy sb6 tcp 192.0.2.10 3128
ectl_ok default/set policy set open --default deny
go default-direct default-proxy
was_cut default/deny-default-cuts default-direct
was_kept default/deny-default-keeps-allowed default-proxy

# ---- a rule removed with 100,000 rules present, also under a nested binding
python3 "$ROOT/bench/genpolicy.py" --name big --family 4 --size 99998 --mix realistic \
	--allow 192.0.2.20 --out "$T/big.policy" >/dev/null || die "genpolicy"
# the filler has "allow 192.0.0.0/8": without the /32, 192.0.2.0/24 denies
printf 'deny 192.0.2.0/24 --policy big\nallow 192.0.2.10/32 --proto tcp --port 3128 --policy big\n' \
	>>"$T/big.policy"
ectl_ok big/apply apply -f "$T/big.policy" || die "apply 100k"
check_eq big/rules 100000 "$(ectl export 2>/dev/null | grep -c -- '--policy big$')"
mkcg sb5 sb5/inner
ectl_ok setup attach "$CGROOT/sb5" --policy big || die "attach big"
ectl_ok setup attach "$CGROOT/sb5/inner" --policy pro || die "attach pro"
hold big-direct sb5 tcp 192.0.2.20 443
hold big-proxy sb5 tcp 192.0.2.10 3128
hold big-inner-direct sb5/inner tcp 192.0.2.20 443
hold big-inner-proxy sb5/inner tcp 192.0.2.10 3128
hold big-unrelated sb2 tcp 192.0.2.20 443
n0=$(revokes)
t0=$(date +%s%N)
ectl_ok big/remove remove 192.0.2.20/32 --policy big
ms=$((($(date +%s%N) - t0) / 1000000))
go big-direct big-proxy big-inner-direct big-inner-proxy big-unrelated
was_cut big/remove-cuts big-direct
was_kept big/proxy-kept big-proxy
was_cut big/nested-child-cut-by-parents-policy big-inner-direct
was_kept big/nested-child-proxy-kept big-inner-proxy
was_kept big/unrelated-cgroup-kept big-unrelated
expect big/new-connections-denied EPERM "$CGROOT/sb5" root tcp 192.0.2.20 443
echo "# remove with 100,000 rules and revoke took $ms ms (egressctl, process start included)"
wait_until 10 sh -c "[ \$(jq -c 'select(.hook == \"revoke\")' '$T/egressd.out' | wc -l) -ge $((n0 + 2)) ]"
check_eq big/two-revoke-events $((n0 + 2)) "$(revokes)"
ev=$(events_matching ".hook == \"revoke\" and (.cgroup | endswith(\"$CGN/sb5/inner\"))" | head -1)
check_json big/event-names-the-parents-policy '.policy == "big" and .rule == "192.0.2.0/24"' "$ev"

# ---- attach under an ancestor whose policy narrowed with --keep-established:
# the attach's revoke pass decides by every binding on the path (the
# ancestor's found by its id, not from a list of all bindings), and the
# number of binding lookups does not grow with the node's other bindings
ectl_ok setup policy add wide --default allow || die "policy add wide"
mkcg sb7 sb7/c
for i in $(seq 120); do mkcg "sib/s$i"; done
for i in $(seq 120); do ectl attach "$CGROOT/sib/s$i" --policy wide >/dev/null 2>&1 || die "attach sib/s$i"; done
ectl_ok setup attach "$CGROOT/sb7" --policy pro || die "attach pro"
hold anc-direct sb7/c tcp 192.0.2.20 443
hold anc-proxy sb7/c tcp 192.0.2.10 3128
ectl_ok ancestor/narrow-kept attach "$CGROOT/sb7" --policy free --keep-established
if command -v strace >/dev/null; then
	timeout "$TO" strace -f -qq -e trace=bpf -o "$T/attach.trace" \
		"$EGRESSCTL" attach --pin-dir "$PIN" "$CGROOT/sb7/c" --policy wide >/dev/null 2>"$T/attach.err" ||
		fail ancestor/attach "egressctl attach failed: $(cat "$T/attach.err")"
	n=$(grep -c 'BPF_MAP_LOOKUP_ELEM' "$T/attach.trace")
	if [ "$n" -lt 40 ]; then
		pass ancestor/lookups-independent-of-other-bindings
	else
		fail ancestor/lookups-independent-of-other-bindings "$n map lookups for one attach with 120 other bindings"
	fi
else
	fail ancestor/strace "strace is missing (scripts/deps.sh test installs it)"
	ectl_ok ancestor/attach attach "$CGROOT/sb7/c" --policy wide
fi
go anc-direct anc-proxy
was_cut ancestor/cut-by-the-ancestors-policy anc-direct
was_kept ancestor/proxy-kept anc-proxy

finish

#!/bin/bash
# 61-policy-info-faults.sh - a writer killed (SIGKILL, injected by strace at
# an exact system call) between the policy swap and the egress_policy_info
# write, or just before the swap, leaves the policy info (rule counts, hint)
# consistent with the rules in force once anything opens the state again
# (issue 15 item 10), for `apply` (a new generation swapped in), for a rule
# added in place, and for a new policy.  The same as 47-faults.sh does for
# the rules, at the one moment its timed kills almost never hit.
source "$(dirname "$0")/../lib.sh"
setup
for t in strace bpftool jq; do
	command -v "$t" >/dev/null 2>&1 || die "tool '$t' not installed"
done
start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

cat >"$T/old.policy" <<'EOF'
policy add small --default deny --hint 'old hint {dst}'
allow 192.0.2.10/32 --proto tcp --port 3128 --policy small
EOF
cat >"$T/new.policy" <<'EOF'
policy add small --default deny --hint 'new hint {dst}'
allow 192.0.2.10/32 --proto tcp --port 3128 --policy small
allow 192.0.2.0/24 --proto udp --port 53 --policy small
deny 192.0.2.20/32 --policy small
deny 192.0.2.21/32 --policy small
EOF
reset_old() { ectl apply -f "$T/old.policy" >/dev/null 2>&1; }

# info NAME: "nallow ndeny hint" of a policy, as stored in egress_policy_info
info() {
	bpftool -j map dump pinned "$PIN/maps/egress_policy_info" 2>/dev/null |
		jq -r --arg n "$1" '.[] | .formatted.value | select(.name == $n) | "\(.nallow) \(.ndeny) \(.hint)"'
}
# rules NAME: "nallow ndeny hint" from the rules in force (export)
rules() {
	ectl export --policy "$1" >"$T/export" 2>/dev/null
	printf '%s %s %s\n' "$(grep -c '^allow' "$T/export")" "$(grep -c '^deny' "$T/export")" \
		"$(sed -n "s/^policy add $1 .*--hint '\([^']*\)'.*/\1/p" "$T/export")"
}

# kill_at and bpf_call_at (tests/lib.sh): egressctl killed at an exact bpf() call.
RESET=reset_old
ARGS_BEFORE_PIN=1	# the command's words: --pin-dir goes after them

# ------------------------------------------------------------ apply: swap

reset_old
check_eq setup/old "1 0 old hint {dst}" "$(rules small)"
ectl apply -f "$T/new.policy" >/dev/null 2>&1
check_eq setup/new "2 2 new hint {dst}" "$(rules small)"

for off in 0 1; do
	# 0: killed just before the swap (old in force); 1: just after it
	kill_at "swap-$off" "BPF_MAP_UPDATE_ELEM, {map_fd=POLICIES," "$off" apply -f "$T/new.policy" || continue
	check_eq "swap-$off/killed" 137 "$KILL_RC"
	r=$(rules small)
	case $off in 0) want="1 0 old hint {dst}" ;; 1) want="2 2 new hint {dst}" ;; esac
	check_eq "swap-$off/rules-in-force" "$want" "$r"
	check_eq "swap-$off/info-matches-rules" "$r" "$(info small)"
done

# ------------------------------------------------------------ one rule, in place

reset_old
# killed at the info write, the rule's entry in force
kill_at inplace "BPF_MAP_UPDATE_ELEM, {map_fd=INFO," 0 deny 192.0.2.30/32 --policy small
check_eq inplace/killed 137 "$KILL_RC"
r=$(rules small)
check_eq inplace/rule-in-force "1 1 old hint {dst}" "$r"
check_eq inplace/info-matches-rules "$r" "$(info small)"

# ------------------------------------------------------------ one rule removed in place
# A removal marks its rule in the store where it stands (no new version):
# the journal names the store and the rule, and the repair marks it again.
cat >"$T/rm.policy" <<'EOF'
policy add small --default deny --hint 'new hint {dst}'
allow 192.0.2.10/32 --proto tcp --port 3128 --policy small
allow 192.0.2.0/24 --proto udp --port 53 --policy small
deny 192.0.2.20/32 --policy small
deny 192.0.2.30/32 --policy small
EOF
reset_new() { ectl apply -f "$T/rm.policy" >/dev/null 2>&1; }
RESET=reset_new
mkcg rmapp
ectl_ok rm/attach attach "$CGROOT/rmapp" --policy small || die attach
reset_new
expect rm/setup-denied EPERM "$CGROOT/rmapp" nobody udp 192.0.2.20 53
for off in 0 1; do
	# 0: killed before the rule's host entry is deleted; 1: just after
	kill_at "rm-$off" "BPF_MAP_DELETE_ELEM" "$off" remove 192.0.2.20/32 --policy small || continue
	check_eq "rm-$off/killed" 137 "$KILL_RC"
	r=$(rules small)
	check_eq "rm-$off/rules" "2 1 new hint {dst}" "$r"
	check_eq "rm-$off/info-matches-rules" "$r" "$(info small)"
	expect "rm-$off/in-force" ok "$CGROOT/rmapp" nobody udp 192.0.2.20 53
	expect "rm-$off/other-deny-stays" EPERM "$CGROOT/rmapp" nobody udp 192.0.2.30 53
done
# a second removal on the marked store, then the rule back (a version written whole)
ectl_ok rm/second remove 192.0.2.30/32 --policy small
r=$(rules small)
check_eq rm/second-rules "2 0 new hint {dst}" "$r"
check_eq rm/second-info "$r" "$(info small)"
expect rm/second-in-force ok "$CGROOT/rmapp" nobody udp 192.0.2.30 53
check_eq rm/removed-twice-absent 1 "$(ectl remove 192.0.2.30/32 --policy small >/dev/null 2>&1; echo $?)"
ectl_ok rm/back deny 192.0.2.20/32 --policy small
r=$(rules small)
check_eq rm/back-rules "2 1 new hint {dst}" "$r"
check_eq rm/back-info "$r" "$(info small)"
check_eq rm/back-listed "deny 192.0.2.20/32" "$(ectl list --policy small --json | jq -r '.[] | select(.cidr == "192.0.2.20/32" or .cidr == "192.0.2.30/32") | "\(.action) \(.cidr)"' | tr '\n' ' ' | sed 's/ $//')"
expect rm/back-in-force EPERM "$CGROOT/rmapp" nobody udp 192.0.2.20 53
expect rm/back-other-stays-removed ok "$CGROOT/rmapp" nobody udp 192.0.2.30 53
# a header that miscounts its marked rules (ndead raised to the record count) is
# not trusted for the edit's sizes: the store is written whole again, as read
ectl_ok rm/mark remove 192.0.2.10/32 --proto tcp --port 3128 --policy small
sid=$(bpftool -j map dump pinned "$PIN/maps/egress_policy_info" |
	jq -r '.[] | select(.formatted.value.name == "small") | .formatted.key')
hdr=($(bpftool -j map lookup pinned "$PIN/store/$sid" key 0 0 0 0 | jq -r '.value[]'))
check_eq rm/header-read 28 "${#hdr[@]}"
check_eq rm/header-one-mark "0x01 0x00 0x00 0x00" "${hdr[*]:24:4}"
hdr=("${hdr[@]:0:24}" "${hdr[@]:4:4}")	# ndead = n
bpftool map update pinned "$PIN/store/$sid" key 0 0 0 0 value "${hdr[@]}" ||
	fail rm/header-write "bpftool map update failed"
ectl_ok rm/miscounted-edit deny 192.0.2.40/32 --policy small
r=$(rules small)
check_eq rm/miscounted-rules "1 2 new hint {dst}" "$r"
check_eq rm/miscounted-info "$r" "$(info small)"
check_not rm/miscounted-removed-stays-removed grep -q "192.0.2.10/32" "$T/export"
expect rm/miscounted-deny-in-force EPERM "$CGROOT/rmapp" nobody udp 192.0.2.20 53
expect rm/miscounted-allow-in-force ok "$CGROOT/rmapp" nobody udp 192.0.2.30 53
RESET=reset_old
reset_old

# ------------------------------------------------------------ a new policy

reset_fresh() { ectl policy delete fresh >/dev/null 2>&1; }
RESET=reset_fresh ARGS_BEFORE_PIN=2
kill_at new-policy "BPF_MAP_UPDATE_ELEM, {map_fd=POLICIES," 1 policy add fresh --default deny --hint 'fresh hint'
check_eq new-policy/killed 137 "$KILL_RC"
check new-policy/listed grep -qw fresh <<<"$(ectl policy list 2>&1)"
check_eq new-policy/info "0 0 fresh hint" "$(info fresh)"
check new-policy/usable ectl allow 192.0.2.40/32 --policy fresh

# egressd serves the repaired info: its hint in events
mkcg app
ectl_ok setup attach "$CGROOT/app" --policy small || die attach
expect events/denied EPERM "$CGROOT/app" nobody tcp 192.0.2.20 80
_hint() { events_matching '.dst == "192.0.2.20" and .dport == 80' | grep -q .; }
wait_until 10 _hint
check_eq events/hint-of-rules-in-force "old hint 192.0.2.20" \
	"$(events_matching '.dst == "192.0.2.20" and .dport == 80' | jq -r .hint | tail -1)"

finish

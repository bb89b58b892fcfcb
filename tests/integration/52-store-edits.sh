#!/bin/bash
# 52-store-edits.sh - rule edits on a 100,000-rule policy (issue 12, goal 4):
# `egressctl allow|deny|remove` reads the policy's rules from its store
# (PIN_DIR/store/<id>), never the trie back, and writes only the trie and
# host entries the rule changes, in place: the policy's trie stays the same
# map (no generation swap), the command makes no batch read and a handful
# of element updates, and the next connect is decided by the new rule.  A
# subnet edit changes the subnet's entry and the entries of the hosts
# inside it that inherit from it, and nothing else.  A removal writes no
# new version of the store: its rule is marked where it stands.  Export is
# the store.
source "$(dirname "$0")/../lib.sh"
setup 192.0.2.20 192.0.2.21 192.0.2.30
command -v strace >/dev/null || die "strace not installed"
command -v bpftool >/dev/null || die "bpftool not installed"

start_egressd --max-rules 100010 || die "egressd not ready: $(cat "$EGRESSD_ERR")"
mkcg app

# 100,000 rules: a /24 for tcp 80, a host inside it with only a port-81
# rule (it inherits the /24's), 99,998 fillers in 10.0.0.0/8
awk 'BEGIN {
	print "policy add big --default deny"
	print "allow 192.0.2.0/24 --proto tcp --port 80 --policy big"
	print "allow 192.0.2.21/32 --proto tcp --port 81 --policy big"
	for (i = 0; i < 99998; i++)
		printf "allow 10.%d.%d.%d/32 --proto tcp --port 443 --policy big\n", int(i / 65536), int(i / 256) % 256, i % 256
}' >"$T/big.policy"
ectl apply -f "$T/big.policy" >/dev/null 2>"$T/apply.err" || die "apply: $(cat "$T/apply.err")"
ectl_ok setup attach "$CGROOT/app" --policy big || die attach
check_eq store/one-per-policy 2 "$(ls "$PIN/store" | grep -cx '[0-9]*')"
listen h20 tcp 192.0.2.20 80
listen h21 tcp 192.0.2.21 80
listen h30 tcp 192.0.2.30 80

a() { expect "$1" "$2" "$CGROOT/app" nobody "${@:3}"; }
trie_id() { bpftool -j map dump pinned "$PIN/maps/egress_policies" | jq -r '[.[] | .formatted.value // .value] | map(tostring) | join(",")'; }

# edit CMD...: runs egressctl CMD under strace; sets UPDATES (element
# updates and deletes of the policy's trie, host table and list table: the
# maps opened by id, fds followed through the trace as they are reused;
# an entry with more than two slots writes its list, then itself), BATCH (batch
# reads) and SWAPPED (the policies' tries changed)
edit() {
	local before after
	before=$(trie_id)
	strace -f -qq -e trace=bpf,close -o "$T/trace" "$EGRESSCTL" "$1" --pin-dir "$PIN" "${@:2}" >/dev/null 2>"$T/edit.err"
	EDIT_RC=$?
	after=$(trie_id)
	# ORDER: those writes in order, L for a list table's, E for the others
	# (a list table: the fd opened by id right after a successful lookup in
	# the pinned egress_lists)
	read -r UPDATES ORDER < <(awk '
		/BPF_OBJ_GET/ && /maps\/egress_lists"/ { lo = $NF; next }
		/BPF_MAP_LOOKUP_ELEM/ { nextlist = 0; if (match($0, /map_fd=[0-9]+/) && substr($0, RSTART + 7, RLENGTH - 7) == lo && $NF == "0") nextlist = 1; next }
		/BPF_MAP_GET_FD_BY_ID/ { inner[$NF] = 1; islist[$NF] = nextlist; nextlist = 0; next }
		/BPF_OBJ_GET|BPF_MAP_CREATE/ { delete inner[$NF]; delete islist[$NF]; next }
		/BPF_MAP_(UPDATE|DELETE)_ELEM/ { if (match($0, /map_fd=[0-9]+/)) { fd = substr($0, RSTART + 7, RLENGTH - 7); if (fd in inner) { n++; order = order (islist[fd] ? "L" : "E") } } }
		END { print n + 0, (order == "" ? "-" : order) }' "$T/trace")
	BATCH=$(grep -c 'LOOKUP_BATCH' "$T/trace")
	SWAPPED=no
	[ "$before" = "$after" ] || SWAPPED=yes
}
ectl export --policy big >"$T/before.export"

# a host: its own entry (the /24 already names hosts: 192.0.2.21), with
# three slots (its deny, the /24's allow, the default): its list and itself
a host/before ok tcp 192.0.2.30 80
edit deny 192.0.2.30/32 --proto tcp --port 80 --policy big
check_eq host-deny/rc 0 "$EDIT_RC"
check_eq host-deny/entries-written 2 "$UPDATES"
check_eq host-deny/list-before-entry LE "$ORDER"
check_eq host-deny/no-read-back 0 "$BATCH"
check_eq host-deny/no-swap no "$SWAPPED"
a host-deny/enforced EPERM tcp 192.0.2.30 80
a host-deny/neighbour-unchanged ok tcp 192.0.2.20 80
# list and status count rules from egress_policy_info, which each edit keeps
counts() {
	check_json "$1/list-rules" ".[] | select(.name == \"big\") | .rules == $2" "$(ectl policy list --json 2>&1)"
	check_json "$1/status-rules" ".policies[] | select(.name == \"big\") | .rules == $2" "$(ectl status --json 2>&1)"
}
counts host-deny 100001

# a subnet: the /24's entry and the two hosts inside it that inherit from
# it (three slots each: two lists)
edit deny 192.0.2.0/24 --proto tcp --port 80 --policy big
check_eq subnet-deny/rc 0 "$EDIT_RC"
check_eq subnet-deny/entries-written 5 "$UPDATES"
check_eq subnet-deny/lists-before-entries LELEE "$ORDER"	# the hosts' (list, entry), then the /24
check_eq subnet-deny/no-read-back 0 "$BATCH"
check_eq subnet-deny/no-swap no "$SWAPPED"
a subnet-deny/enforced EPERM tcp 192.0.2.20 80
a subnet-deny/inheriting-host EPERM tcp 192.0.2.21 80
a subnet-deny/host EPERM tcp 192.0.2.30 80

edit remove 192.0.2.30/32 --proto tcp --port 80 --policy big
check_eq host-remove/rc 0 "$EDIT_RC"
check_eq host-remove/entries-written 1 "$UPDATES"
check_eq host-remove/no-swap no "$SWAPPED"
# marked removed in the store where it stands: no new version of 100,000 rules written
check_eq host-remove/store-marked-in-place 0 "$(grep -c 'BPF_MAP_CREATE' "$T/trace")"
counts host-remove 100000

edit allow 192.0.2.0/24 --proto tcp --port 80 --policy big
check_eq back/rc 0 "$EDIT_RC"
check_eq back/entries-written 3 "$UPDATES"	# the /24, and 192.0.2.21's list and entry
check_eq back/list-before-entry LEE "$ORDER"
a back/enforced ok tcp 192.0.2.20 80
a back/inheriting-host ok tcp 192.0.2.21 80
a back/removed-host ok tcp 192.0.2.30 80

# the store is the source: export is what it was, byte for byte
ectl export --policy big >"$T/after.export"
check export/unchanged-after-round-trip cmp "$T/before.export" "$T/after.export"
check_eq export/100k-rules 100000 "$(grep -c '^allow\|^deny' "$T/after.export")"
counts back 100000

# a missing rule: one line, nothing changed
edit remove 192.0.2.99/32 --policy big
check_eq missing/rc 1 "$EDIT_RC"
check_eq missing/one-line 1 "$(wc -l <"$T/edit.err")"
check missing/names-rule grep -q "no rule for 192.0.2.99/32" "$T/edit.err"
check_eq missing/nothing-written 0 "$UPDATES"

finish

#!/bin/bash
# 53-host-tables.sh - a policy's host tables across generations (issue 12,
# goal 5): `apply` registers the new generation's host table from a thread
# while it fills the trie, so the writer's own thread makes one update of an
# array of maps (the trie swap) and waits one grace period, not three; the
# old generation's table is left in its slot for gc (or the next
# generation), never consulted; a generation without hosts clears the stale
# table from its slot; and decisions follow the rules in force throughout:
# after each apply, after gc, after an in-place host edit into a slot that
# held a stale table.
source "$(dirname "$0")/../lib.sh"
setup 192.0.2.20 192.0.2.21 192.0.2.30
for t in strace bpftool jq; do
	command -v "$t" >/dev/null 2>&1 || die "tool '$t' not installed"
done
# no periodic gc: the checks of what gc leaves and drops are not raced by it
start_egressd --gc-interval 0 || die "egressd not ready: $(cat "$EGRESSD_ERR")"
mkcg app
listen h20 tcp 192.0.2.20 80
listen h21 tcp 192.0.2.21 80
listen h30 tcp 192.0.2.30 80
a() { expect "$1" "$2" "$CGROOT/app" nobody tcp "$3" 80; }

pol() {	# pol NAME RULE...: a policy file of p with these rule lines
	local f=$T/$1.policy
	shift
	echo "policy add p --default deny" >"$f"
	printf '%s --policy p\n' "$@" >>"$f"
}
pol A "allow 192.0.2.0/24 --proto tcp --port 80" "allow 192.0.2.20/32 --proto tcp --port 80" "deny 192.0.2.21/32"
pol B "allow 192.0.2.0/24 --proto tcp --port 80" "deny 192.0.2.20/32" "allow 192.0.2.21/32 --proto tcp --port 80"
pol C "allow 192.0.2.0/24 --proto tcp --port 80"

# slot numbers of egress_hosts (bpftool prints key bytes as hex strings)
HEX='def hex: ltrimstr("0x") | explode | reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end)); def slot: .key | map(hex) | .[0] + 256 * .[1];'
# the slots of egress_hosts that hold a table for policy p (slot = id * 2 + parity)
pid_of() { ectl status --json | jq -r '.policies[] | select(.name == "p") | .id'; }
slots() {
	local id
	id=$(pid_of)
	bpftool -j map dump pinned "$PIN/maps/egress_hosts" |
		jq -r --argjson id "${id:-0}" "$HEX"' [.[] | slot | select(. == 2 * $id or . == 2 * $id + 1)] | sort | map(tostring) | join(",")'
}

ectl apply -f "$T/A.policy" >/dev/null 2>"$T/err" || die "apply A: $(cat "$T/err")"
ectl_ok setup attach "$CGROOT/app" --policy p || die attach
a A/subnet ok 192.0.2.30
a A/host-allowed ok 192.0.2.20
a A/host-denied EPERM 192.0.2.21
A_SLOTS=$(slots)
check_eq A/one-table 1 "$(tr ',' '\n' <<<"$A_SLOTS" | grep -c .)"

# B replaces A: the writer's own thread swaps the trie and nothing else in
# egress_policies or egress_hosts; the new table is registered by another
# thread of the same process
strace -f -qq -e trace=bpf -o "$T/trace" "$EGRESSCTL" apply --pin-dir "$PIN" -f "$T/B.policy" >/dev/null 2>"$T/err" ||
	fail B/apply "$(cat "$T/err")"
fd_of() { grep -o "BPF_OBJ_GET, {pathname=\"[^\"]*/maps/$1\".*= [0-9]*\$" "$T/trace" | head -1 | awk '{print $NF}'; }
PFD=$(fd_of egress_policies)
HFD=$(fd_of egress_hosts)
MAIN=$(head -1 "$T/trace" | awk '{print $1}')
mim() {	# mim WHO: updates and deletes of egress_policies/egress_hosts by the main thread (main) or others
	awk -v m="$MAIN" -v who="$1" -v p="$PFD" -v h="$HFD" '
		(who == "main") != ($1 == m) { next }
		/BPF_MAP_(UPDATE|DELETE)_ELEM, \{map_fd=/ {
			match($0, /map_fd=[0-9]+/); fd = substr($0, RSTART + 7, RLENGTH - 7)
			if (fd == p) print "policies"; else if (fd == h) print "hosts"
		}' "$T/trace" | sort | uniq -c | awk '{printf "%s%s:%s", sep, $2, $1; sep = " "}'
}
check_eq B/main-thread-swaps-only "policies:1" "$(mim main)"
check_eq B/other-thread-registers-table "hosts:1" "$(mim other)"
a B/subnet ok 192.0.2.30
a B/host-now-denied EPERM 192.0.2.20
a B/host-now-allowed ok 192.0.2.21
B_SLOTS=$(slots)
check_eq B/old-table-left-for-gc 2 "$(tr ',' '\n' <<<"$B_SLOTS" | grep -c .)"

ectl gc >/dev/null 2>"$T/err" || fail B/gc "$(cat "$T/err")"
G_SLOTS=$(slots)
check_eq B/gc-drops-old-table 1 "$(tr ',' '\n' <<<"$G_SLOTS" | grep -c .)"
check_not B/gc-keeps-live-table test "$G_SLOTS" = "$A_SLOTS"
a B-gc/subnet ok 192.0.2.30
a B-gc/host-denied EPERM 192.0.2.20
a B-gc/host-allowed ok 192.0.2.21

# A again (A's parity, whose slot gc emptied; B's table is stale now), then
# C, without hosts, in B's parity: C clears B's stale table from its slot,
# and A's stale one is left for gc
ectl apply -f "$T/A.policy" >/dev/null 2>"$T/err" || fail A2/apply "$(cat "$T/err")"
check_eq A2/new-and-stale 2 "$(tr ',' '\n' <<<"$(slots)" | grep -c .)"
ectl apply -f "$T/C.policy" >/dev/null 2>"$T/err" || fail C/apply "$(cat "$T/err")"
C_SLOTS=$(slots)
check_eq C/own-slot-cleared 1 "$(tr ',' '\n' <<<"$C_SLOTS" | grep -c .)"
a C/host20 ok 192.0.2.20
a C/host21 ok 192.0.2.21
a C/host30 ok 192.0.2.30

# a host added: C's generation has no table (the one left is A's, stale,
# in the other slot): the edit makes a generation, whose table replaces it
ectl deny 192.0.2.30/32 --policy p >/dev/null 2>"$T/err" || fail D/deny "$(cat "$T/err")"
a D/host30-denied EPERM 192.0.2.30
a D/host20 ok 192.0.2.20
a D/host21 ok 192.0.2.21
# and one more in place, into D's own table
ectl deny 192.0.2.21/32 --policy p >/dev/null 2>"$T/err" || fail E/deny "$(cat "$T/err")"
a E/host21-denied EPERM 192.0.2.21
a E/host20 ok 192.0.2.20
ectl gc >/dev/null 2>&1
check_eq E/one-table-after-gc 1 "$(tr ',' '\n' <<<"$(slots)" | grep -c .)"
a E-gc/host30-denied EPERM 192.0.2.30
a E-gc/host21-denied EPERM 192.0.2.21
a E-gc/host20 ok 192.0.2.20

# egressd's own gc (--gc-interval): with egressd stopped an apply leaves
# the stale table, and an egressd that runs gc every second drops it
stop_egressd
ectl apply -f "$T/A.policy" >/dev/null 2>"$T/err" || fail F/apply "$(cat "$T/err")"
check_eq F/stale-left-without-egressd 2 "$(tr ',' '\n' <<<"$(slots)" | grep -c .)"
start_egressd --gc-interval 1 || die "egressd not ready: $(cat "$EGRESSD_ERR")"
one_table() { [ "$(tr ',' '\n' <<<"$(slots)" | grep -c .)" = 1 ]; }
check F/egressd-gc-drops-stale wait_until 10 one_table
a F/subnet ok 192.0.2.30
a F/host-allowed ok 192.0.2.20
a F/host-denied EPERM 192.0.2.21

ID=$(pid_of)
ectl_ok teardown detach "$CGROOT/app"
ectl policy delete p >/dev/null 2>"$T/err" || fail delete "$(cat "$T/err")"
check_eq delete/no-tables 0 "$(bpftool -j map dump pinned "$PIN/maps/egress_hosts" |
	jq --argjson id "$ID" "$HEX"' [.[] | slot | select(. == 2 * $id or . == 2 * $id + 1)] | length')"
finish

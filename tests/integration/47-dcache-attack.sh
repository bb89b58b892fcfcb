#!/bin/bash
# 47-dcache-attack.sh - the decision cache under attack: what a process of a
# bound cgroup must not get out through a decision connect or sendmsg take
# from their level's slot (any socket, the same destination, port,
# protocol, policy, level and epoch).  Every sender is pinned to CPU 0 (the
# cache is per CPU); a fresh socket each attempt.
#
#   - key: an allowed destination in the slot never decides another
#     address with the same port (IPv4; IPv6 differing only in the last
#     word), nor an IPv6 address whose first four bytes are the cached IPv4
#     address (c000:20a:: after 192.0.2.10: the slot's 16 address bytes are
#     the same, only the family differs), TCP and UDP;
#   - nested levels whose bound cgroups share a slot (cgroup id modulo
#     EGRESS_CACHE_SLOTS) and bind different policies: neither level takes
#     the other's decision, in either order;
#   - a writer killed between its change and its epoch bump (SIGKILL
#     injected by strace at an exact bpf() call, as 61-policy-info-faults.sh
#     does; egressd stopped, so that its 10 s sweep does not repair it
#     first): an apply killed just after its swap, a rule edit killed
#     between its entries and the info write.  The new rules are in force
#     (a lookup denies), so a decision from the cache must not allow either:
#     new TCP connections and UDP datagrams to the now denied destination
#     are EPERM and never arrive.  Before the fix (the epoch odd from the
#     writer's first change to its bump, nothing cached or taken from the
#     cache meanwhile) they were allowed from the slot until the next
#     repair, as long as the sandbox kept its slot warm.  Once repaired, the
#     epoch is even and the cache is used again.
#   - a writer held after its epoch went odd (strace delays it) while the
#     sandbox connects, then killed after its swap: that connect was not
#     cached, so the new rule denies the next one.
#   - egressd with --gc-interval 0 still settles an epoch a killed apply
#     left odd (its 10 s sweep), with no egressctl run meanwhile.
source "$(dirname "$0")/../lib.sh"
setup 192.0.2.10 192.0.2.20 192.0.2.30 2001:db8::10 2001:db8::20 2001:db8::30 c000:20a::
for t in strace bpftool jq taskset stat; do
	command -v "$t" >/dev/null 2>&1 || die "tool '$t' not installed"
done
start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

# pr CGROUP MODE ADDR PORT: one probe in CGROUP (relative to $CGROOT) on CPU 0
pr() { run_as "$CGROOT/$1" root taskset -c 0 "$PROBE" "${@:2}" 2>&1; }
# pr1: the same on CPU 1 (its slot holds nothing of CPU 0's): a lookup
pr1() { run_as "$CGROOT/$1" root taskset -c 1 "$PROBE" "${@:2}" 2>&1; }
NCPU=$(nproc)
slot_has() {
	bpftool map dump pinned "$PIN/maps/egress_cache" -j 2>/dev/null |
		jq -e --argjson p "$1" --argjson t "$2" '[.. | objects | select(.port? == $p and .proto? == $t)] | length > 0' >/dev/null
}
epoch() { bpftool map dump pinned "$PIN/maps/egress_epoch" -j 2>/dev/null | jq -r '.[0].formatted.value // .[0].value'; }

# ---- the key: address and family
ectl_ok setup policy add kk --default allow || die "policy kk"
ectl_ok setup deny 192.0.2.20/32 --proto tcp --port 5410 --policy kk || die "deny 5410"
ectl_ok setup deny c000:20a::/128 --proto tcp --port 5411 --policy kk || die "deny 5411"
ectl_ok setup deny 2001:db8::20/128 --proto tcp --port 5412 --policy kk || die "deny 5412"
ectl_ok setup deny 192.0.2.20/32 --proto udp --port 5413 --policy kk || die "deny 5413"
mkcg kk
ectl_ok setup attach "$CGROOT/kk" --policy kk || die "attach kk"
listen a10 tcp 192.0.2.10 5410
listen a20 tcp 192.0.2.20 5410
listen f10 tcp 192.0.2.10 5411
listen f6 tcp c000:20a:: 5411
listen s10 tcp 2001:db8::10 5412
listen s20 tcp 2001:db8::20 5412
listen u10 udp 192.0.2.10 5413
listen u20 udp 192.0.2.20 5413

check_eq key/addr-cached ok "$(pr kk tcp 192.0.2.10 5410)"
check key/addr-slot-written slot_has 5410 6
check_eq key/another-addr-same-port-EPERM EPERM "$(pr kk tcp 192.0.2.20 5410)"
check_eq key/family-cached ok "$(pr kk tcp 192.0.2.10 5411)"
check_eq key/v6-same-bytes-as-cached-v4-EPERM EPERM "$(pr kk tcp c000:20a:: 5411)"
check_eq key/v6-cached ok "$(pr kk tcp 2001:db8::10 5412)"
check_eq key/v6-last-word-differs-EPERM EPERM "$(pr kk tcp 2001:db8::20 5412)"
check_eq key/udp-cached ok "$(pr kk udp 192.0.2.10 5413)"
check key/udp-slot-written slot_has 5413 17
check_eq key/udp-another-addr-EPERM EPERM "$(pr kk udp 192.0.2.20 5413)"
marker u10 192.0.2.10 5413 || die "marker u10"
for l in a20 f6 s20 u20; do
	check_eq "key/$l-got-nothing" 0 "$(count $l)"
done
check_eq key/udp-allowed-arrived 1 "$(count u10 ' probe$')"

# ---- nested levels sharing a slot, different policies
ectl_ok setup policy add po --default allow || die "policy po"
ectl_ok setup policy add pi --default allow || die "policy pi"
ectl_ok setup deny 192.0.2.10/32 --proto tcp --port 5420 --policy po || die "deny po"
ectl_ok setup deny 192.0.2.10/32 --proto tcp --port 5421 --policy pi || die "deny pi"
mkcg no
oid=$(stat -c %i "$CGROOT/no")
kid=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
	mkcg "no/c$i"
	if [ $(($(stat -c %i "$CGROOT/no/c$i") % 4)) = $((oid % 4)) ]; then
		kid=no/c$i
		break
	fi
done
[ -n "$kid" ] || die "no child cgroup of $CGROOT/no shares its cache slot (ids modulo 4)"
pass nested/slot-shared
ectl_ok setup attach "$CGROOT/no" --policy po || die "attach po"
ectl_ok setup attach "$CGROOT/$kid" --policy pi || die "attach pi"
listen n20 tcp 192.0.2.10 5420
listen n21 tcp 192.0.2.10 5421
# the inner level allows (and caches), the outer one denies
check_eq nested/outer-denies-EPERM EPERM "$(pr "$kid" tcp 192.0.2.10 5420)"
check_eq nested/outer-denies-again-EPERM EPERM "$(pr "$kid" tcp 192.0.2.10 5420)"
# the inner level denies, the outer one allows (and caches)
check_eq nested/inner-denies-EPERM EPERM "$(pr "$kid" tcp 192.0.2.10 5421)"
check_eq nested/inner-denies-again-EPERM EPERM "$(pr "$kid" tcp 192.0.2.10 5421)"
sleep 0.3
check_eq nested/outer-denied-got-nothing 0 "$(count n20)"
check_eq nested/inner-denied-got-nothing 0 "$(count n21)"

# ---- a writer killed between its change and its epoch bump
ectl_ok setup policy add kw --default allow || die "policy kw"
mkcg kw
ectl_ok setup attach "$CGROOT/kw" --policy kw || die "attach kw"
listen w30 tcp 192.0.2.10 5430
listen w31 udp 192.0.2.10 5431
listen w32 tcp 192.0.2.10 5432
# no sweep from here on: only this script's egressctl calls repair
stop_egressd
check_eq killed/egressd-stopped 0 "$EGRESSD_RC"

# kill_at and bpf_call_at (tests/lib.sh): egressctl killed at an exact bpf() call.

# an apply killed just after its swap (a new generation in force), TCP
cat >"$T/allow.policy" <<'EOF'
policy add kw --default allow
deny 192.0.2.30/32 --policy kw
EOF
cat >"$T/deny.policy" <<'EOF'
policy add kw --default allow
deny 192.0.2.30/32 --policy kw
deny 192.0.2.10/32 --proto tcp --port 5430 --policy kw
EOF
WARM=""
reset_swap() {
	ectl apply -f "$T/allow.policy" >/dev/null 2>&1
	WARM+=$(pr kw tcp 192.0.2.10 5430)
	slot_has 5430 6 && WARM+=+
}
RESET=reset_swap
if kill_at killed-swap "BPF_MAP_UPDATE_ELEM, {map_fd=POLICIES," 1 apply -f "$T/deny.policy"; then
	check_eq killed-swap/killed 137 "$KILL_RC"
	check_eq killed-swap/slot-warm-before "ok+ok+" "$WARM"
	check_eq killed-swap/new-connect-EPERM EPERM "$(pr kw tcp 192.0.2.10 5430)"
	check_eq killed-swap/new-connect-again-EPERM EPERM "$(pr kw tcp 192.0.2.10 5430)"
	[ "$NCPU" -ge 2 ] && check_eq killed-swap/rule-in-force-lookup-EPERM EPERM "$(pr1 kw tcp 192.0.2.10 5430)"
	sleep 0.3
	check_eq killed-swap/only-warm-connections-arrived 2 "$(count w30)"
fi

# a rule edit killed at its info write (its entries in force), UDP
WARM=""
reset_edit() {
	ectl remove 192.0.2.0/28 --proto udp --port 5431 --policy kw >/dev/null 2>&1
	WARM+=$(pr kw udp 192.0.2.10 5431)
	slot_has 5431 17 && WARM+=+
}
RESET=reset_edit
if kill_at killed-edit "BPF_MAP_UPDATE_ELEM, {map_fd=INFO," 0 deny 192.0.2.0/28 --proto udp --port 5431 --policy kw; then
	check_eq killed-edit/killed 137 "$KILL_RC"
	check_eq killed-edit/slot-warm-before "ok+ok+" "$WARM"
	check_eq killed-edit/new-socket-sendto-EPERM EPERM "$(pr kw udp 192.0.2.10 5431)"
	check_eq killed-edit/new-socket-sendto-again-EPERM EPERM "$(pr kw udp 192.0.2.10 5431)"
	[ "$NCPU" -ge 2 ] && check_eq killed-edit/rule-in-force-lookup-EPERM EPERM "$(pr1 kw udp 192.0.2.10 5431)"
	marker w31 192.0.2.10 5431 || die "marker w31"
	check_eq killed-edit/only-warm-datagrams-arrived 2 "$(count w31 ' probe$')"
fi

# repaired (a reader takes the lock): the epoch even again, the cache in use, the rules kept
ectl policy list >/dev/null 2>&1
check_eq repaired/epoch-even 0 "$(($(epoch) % 2))"
check_eq repaired/tcp-still-EPERM EPERM "$(pr kw tcp 192.0.2.10 5430)"
check_eq repaired/udp-still-EPERM EPERM "$(pr kw udp 192.0.2.10 5431)"
check_eq repaired/allowed-ok ok "$(pr kw tcp 192.0.2.10 5432)"
check repaired/cache-used-again slot_has 5432 6

# a decision made while a writer is at work (the epoch odd) is not cached:
# the writer held (strace delays its thread creation, after the epoch went
# odd, before its swap), the sandbox connects meanwhile (the old rules
# allow), then the writer swaps in a deny and is killed before its bump.
# A slot written under the odd epoch would still match it afterwards.
cat >"$T/deny2.policy" <<'EOF2'
policy add kw --default allow
deny 192.0.2.30/32 --policy kw
deny 192.0.2.10/32 --proto tcp --port 5433 --policy kw
EOF2
listen w33 tcp 192.0.2.10 5433
ectl apply -f "$T/allow.policy" >/dev/null 2>&1
k=$(bpf_call_at "BPF_MAP_UPDATE_ELEM, {map_fd=POLICIES," apply -f "$T/deny2.policy")
if [ -z "$k" ]; then
	fail held-writer/trace "no swap in the trace: $(head -c 600 "$T/trace")"
else
	ectl apply -f "$T/allow.policy" >/dev/null 2>&1
	strace -f -qq -e trace=bpf,clone3 -e inject=clone3:delay_enter=1500000:when=1 \
		-e inject=bpf:signal=KILL:when=$((k + 1)) -o /dev/null \
		"$EGRESSCTL" apply --pin-dir "$PIN" -f "$T/deny2.policy" >/dev/null 2>&1 &
	wpid=$!
	wait_until 5 sh -c "[ \$((\$(bpftool map dump pinned '$PIN/maps/egress_epoch' -j | jq -r '.[0].formatted.value // .[0].value') % 2)) = 1 ]" ||
		fail held-writer/epoch-odd "the epoch did not go odd while the writer was held"
	check_eq held-writer/old-rules-allow-meanwhile ok "$(pr kw tcp 192.0.2.10 5433)"
	if slot_has 5433 6; then
		fail held-writer/nothing-cached-meanwhile "a decision was cached under the odd epoch"
	else
		pass held-writer/nothing-cached-meanwhile
	fi
	wait "$wpid" 2>/dev/null
	check_eq held-writer/killed-after-swap 137 "$?"
	check_eq held-writer/epoch-still-odd 1 "$(($(epoch) % 2))"
	check_eq held-writer/new-connect-EPERM EPERM "$(pr kw tcp 192.0.2.10 5433)"
	sleep 0.3
	check_eq held-writer/only-the-first-arrived 1 "$(count w33)"
fi

# ---- egressd's sweep repairs a killed writer every 10 s, even with its gc
# off (--gc-interval 0): an apply killed after its swap leaves the epoch
# odd, and no egressctl runs until egressd has settled it
start_egressd --gc-interval 0 || die "egressd not ready: $(cat "$EGRESSD_ERR")"
reset_sweep() { ectl apply -f "$T/allow.policy" >/dev/null 2>&1; }
RESET=reset_sweep
if kill_at sweep "BPF_MAP_UPDATE_ELEM, {map_fd=POLICIES," 1 apply -f "$T/deny.policy"; then
	check_eq sweep/killed 137 "$KILL_RC"
	epoch_even() { [ $(($(epoch) % 2)) = 0 ]; }
	check sweep/epoch-settled-by-egressd wait_until 25 epoch_even
	check_eq sweep/new-rules-in-force EPERM "$(pr kw tcp 192.0.2.10 5430)"
fi

finish

#!/bin/bash
# 85-status-unload.sh - `status --json` reports what a user relies on: loaded,
# the bindings (cgroup path and policy), per-policy rule counts and
# allowed/denied counters (also per hook), ring buffer drops, each
# program's verified instructions (at most half the verifier's limit); `unload`
# removes every program, link and pin: connections work again, nothing is
# attached to the cgroup any more, and egressctl then says nothing is
# loaded.
source "$(dirname "$0")/../lib.sh"
setup
command -v strace >/dev/null || die "strace not installed"

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
mkcg app app/child other
ectl_ok setup policy add st --default deny || die "policy add"
ectl_ok setup allow 192.0.2.10/32 --proto tcp --port 3128 --policy st || die "allow"
ectl_ok setup allow 2001:db8::10/128 --proto tcp --port 3128 --policy st || die "allow"
ectl_ok setup deny 192.0.2.0/24 --proto udp --policy st || die "deny"
ectl_ok setup attach "$CGROOT/app" --policy st || die "attach"
listen proxy tcp 192.0.2.10 3128
listen proxy6 tcp 2001:db8::10 3128
listen web tcp 192.0.2.20 80
listen u udp 192.0.2.20 53

expect traffic/allowed-1 ok "$CGROOT/app" nobody tcp 192.0.2.10 3128
expect traffic/allowed-2 ok "$CGROOT/app/child" nobody tcp 192.0.2.10 3128
expect traffic/denied-1 EPERM "$CGROOT/app" nobody tcp 192.0.2.20 80
expect traffic/denied-2 EPERM "$CGROOT/app" nobody tcp 192.0.2.20 80
expect traffic/denied-3 EPERM "$CGROOT/app/child" nobody tcp 2001:db8::20 80
expect traffic/denied-4 EPERM "$CGROOT/app" nobody udp 192.0.2.20 53
expect traffic/unbound ok "$CGROOT/other" nobody tcp 192.0.2.20 80

out=$(ectl status --json 2>&1)
check_json status/loaded '.loaded == true' "$out"
check_json status/binding \
	"[.bindings[] | select(.cgroup == \"$CGROOT/app\" and .policy == \"st\")] | length == 1" "$out"
check_json status/only-bound-cgroups-listed \
	"[.bindings[] | select(.cgroup|startswith(\"$CGROOT\"))] | length == 1" "$out"
check_json status/rule-count '.policies[] | select(.name == "st") | .rules == 3' "$out"
# (the total may also count what other hooks allowed, e.g. packets)
check_json status/allowed-counter '.policies[] | select(.name == "st") | .allowed >= 2' "$out"
check_json status/denied-counter '.policies[] | select(.name == "st") | .denied == 4' "$out"
check_json status/per-hook-counters \
	'.policies[] | select(.name == "st") | .hooks.connect4.allowed == 2 and .hooks.connect4.denied == 2 and .hooks.connect6.denied == 1 and .hooks.sendmsg4.denied == 1' "$out"
check_json status/default-policy-untouched '.policies[] | select(.name == "default") | .allowed == 0 and .denied == 0' "$out"
check_json status/ringbuf-drops '.ringbuf_drops == 0' "$out"
# every program loaded with at most half the verifier's 1,000,000
# instructions: a change (or a compiler) that doubles the verifier's work
# fails here, not in egressd's load on someone's node
check_json status/verified-insns-every-hook '[.verified_insns[] | select(. > 0)] | length == 8' "$out"
check_json status/verified-insns-headroom '[.verified_insns[] | select(. > 500000)] | length == 0' "$out"
txt=$(ectl status 2>&1)
check status/text-shows-binding grep -qF "$CGROOT/app" <<<"$txt"

# the cgroup2 mount is found once per process, not once per binding: status
# with nine bindings reads /proc/self/mountinfo a fixed number of times
mkcg b1 b2 b3 b4 b5 b6 b7 b8
for b in b1 b2 b3 b4 b5 b6 b7 b8; do
	ectl_ok setup/attach-$b attach "$CGROOT/$b" --policy st || die "attach $b"
done
strace -f -qq -e trace=openat,open -o "$T/status.trace" "$EGRESSCTL" status --pin-dir "$PIN" >/dev/null 2>&1
reads=$(grep -c '/proc/self/mountinfo' "$T/status.trace")
check status/mountinfo-read-once test "$reads" -ge 1 -a "$reads" -le 2

# bpftool agrees something is attached to the cgroup
if command -v bpftool >/dev/null; then
	check attached/bpftool-sees-programs sh -c "bpftool cgroup show '$CGROOT/app' | grep -q connect4"
fi

# unload (egressd stopped first, as an operator would)
stop_egressd TERM
check_eq unload/egressd-exit-0 0 "$EGRESSD_RC"
expect unload/still-enforced-before EPERM "$CGROOT/app" nobody tcp 192.0.2.20 80
check unload/ok ectl unload
if [ ! -e "$PIN" ] || [ -z "$(ls -A "$PIN")" ]; then
	pass unload/no-pins
else
	fail unload/no-pins "left in $PIN: $(ls -A "$PIN" | tr '\n' ' ')"
fi
expect unload/tcp4-works-again ok "$CGROOT/app" nobody tcp 192.0.2.20 80
expect unload/tcp6-works-again ok "$CGROOT/app/child" nobody tcp 2001:db8::10 3128
expect unload/udp-works-again ok "$CGROOT/app" nobody udp 192.0.2.20 53
if command -v bpftool >/dev/null; then
	check unload/bpftool-nothing-attached sh -c "! bpftool cgroup show '$CGROOT/app' | grep -q ."
fi
if marker u 192.0.2.20 53; then
	check_eq unload/udp-arrived 1 "$(count u ' probe$')"
else
	fail unload/udp-arrived "marker never arrived"
fi
check_bad unload/then-nothing-loaded ectl list

# unload while egressd runs: enforcement still goes away
start_egressd || die "egressd not ready (second start): $(cat "$EGRESSD_ERR")"
ectl_ok setup attach "$CGROOT/app" || die "attach default"
expect unload-live/enforced EPERM "$CGROOT/app" nobody tcp 192.0.2.20 80
check unload-live/ok ectl unload
expect unload-live/works-again ok "$CGROOT/app" nobody tcp 192.0.2.20 80
if [ ! -e "$PIN" ] || [ -z "$(ls -A "$PIN")" ]; then
	pass unload-live/no-pins
else
	fail unload-live/no-pins "left in $PIN: $(ls -A "$PIN" | tr '\n' ' ')"
fi

finish

#!/bin/bash
# 72-operator.sh - what a new operator hit (issue 14 items 1, 4, 5, 10, 11,
# 12): the free -> pro upgrade under bound tier cgroups (attach below a
# bound tier warns and check/status say what is in force, "free ∧ pro";
# `egressctl move` moves the sandbox's processes into the pro tier, refused
# into an unenforced cgroup); policy-file and command-line traps (a rule
# line without --policy, repeated options); messages; help texts; output
# headers and order.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
# free: the proxy 192.0.2.10 tcp 3128 only
ectl_ok setup apply -f "$ROOT/tests/fixtures/free.policy" || die "apply tests/fixtures/free.policy"
ectl_ok setup policy add pro --default allow || die "policy add pro"
ectl_ok setup deny 192.0.2.30/32 --policy pro || die "deny metadata"
mkcg tiers/free/sb1 tiers/pro loose
FREE=$CGROOT/tiers/free
PRO=$CGROOT/tiers/pro
ectl_ok setup attach "$FREE" --policy free || die "attach free tier"
ectl_ok setup attach "$PRO" --policy pro || die "attach pro tier"
listen web tcp 192.0.2.20 80

# ---- 1. the upgrade under tier cgroups
# a sandbox: a shell in free/sb1 that runs the probe each time it reads a line
mkfifo "$T/sb.in"
sh -c 'echo $$ > "$1/cgroup.procs"; exec nsenter --net="/run/netns/$2" sh -c "
	while read -r what; do \"\$0\" tcp 192.0.2.20 80 > \"\$1.\$what\" 2>&1; done" "$3" "$4"' \
	sh "$FREE/sb1" "$NS" "$PROBE" "$T/sb.out" <>"$T/sb.in" &
SB_PID=$!
BG_PIDS+=("$SB_PID")
sb_try() {	# sb_try TAG: the sandbox connects once; prints what the probe said
	echo "$1" >"$T/sb.in"
	wait_until "$TO" test -s "$T/sb.out.$1"
	cat "$T/sb.out.$1"
}
check_eq upgrade/free-denied EPERM "$(sb_try 1)"

# the old advice: attach the sandbox's own cgroup to pro.  It binds, exit 0,
# but says on stderr that the free tier still decides; check and status
# say what is in force.
ectl attach "$FREE/sb1" --policy pro >"$T/attach.out" 2>"$T/attach.err"
check_eq upgrade/attach-under-free-exit-0 0 $?
check upgrade/attach-warns-ancestor-decides grep -q "warning: the ancestor $FREE is bound to 'free', which still decides" "$T/attach.err"
check upgrade/attach-warns-with-example grep -q "it denies .* which 'pro' allows" "$T/attach.err"
check upgrade/attach-points-to-move grep -q "egressctl move --cgroup $FREE/sb1" "$T/attach.err"
check_eq upgrade/attach-warning-one-line 1 "$(wc -l <"$T/attach.err")"
out=$(ectl check "$FREE/sb1" 2>&1)
check upgrade/check-says-free-and-pro grep -q "enforced: policy free ∧ pro (every one decides: free bound at $FREE, pro bound at $FREE/sb1)" <<<"$out"
# a bound sibling whose name extends the tier's sorts between the tier and
# its child: it is not an ancestor of either
mkdir -p "$FREE-x" || die "mkdir $FREE-x"
ectl_ok setup attach "$FREE-x" --policy pro
out=$(ectl status --json 2>&1)
check_json upgrade/status-json-sibling-not-ancestor \
	"[.bindings[] | select(.cgroup == \"$FREE-x\" and .effective == [\"pro\"])] | length == 1" "$out"
check_json upgrade/status-json-effective \
	"[.bindings[] | select(.cgroup == \"$FREE/sb1\" and .policy == \"pro\" and .effective == [\"free\", \"pro\"])] | length == 1" "$out"
check_json upgrade/status-json-tier-effective \
	"[.bindings[] | select(.cgroup == \"$FREE\" and .effective == [\"free\"])] | length == 1" "$out"
check upgrade/detach-sibling ectl detach "$FREE-x"
out=$(ectl status 2>&1)
check upgrade/status-tree-nested grep -qF "    $FREE/sb1 -> pro   (in force: free ∧ pro)" <<<"$out"
check upgrade/status-tree-top grep -qxF "  $FREE -> free" <<<"$out"
# and that is the truth: still denied
check_eq upgrade/attach-did-not-upgrade EPERM "$(sb_try 2)"
check upgrade/detach-again ectl detach "$FREE/sb1"

# no warning where the child narrows (free below pro)
mkcg tiers/pro/narrow
ectl attach "$PRO/narrow" --policy free >/dev/null 2>"$T/attach2.err"
check_eq upgrade/narrowing-attach-no-warning "" "$(cat "$T/attach2.err")"
ectl_ok cleanup detach "$PRO/narrow"

# move: refused into a cgroup that is not enforced; nothing moved
check_bad move/refused-unenforced ectl move --cgroup "$FREE/sb1" --to "$CGROOT/loose"
check move/refusal-says-not-enforced grep -q "not enforced" "$T/bad.err"
check_eq move/still-in-free "$SB_PID" "$(cat "$FREE/sb1/cgroup.procs")"
check_rc move/no-target-exit-2 2 ectl move --cgroup "$FREE/sb1"
check_rc move/both-pids-and-cgroup-exit-2 2 ectl move 1 --cgroup "$FREE/sb1" --to "$PRO"

# the upgrade: move the sandbox's processes into the pro tier
mkcg tiers/pro/sb1
out=$(ectl move --cgroup "$FREE/sb1" --to "$PRO/sb1" 2>&1)
check_eq move/exit-0 0 $?
check move/says-what-is-in-force grep -q "moved 1 process from $FREE/sb1 to $PRO/sb1: in force there: pro" <<<"$out"
check_eq move/process-in-pro "$SB_PID" "$(cat "$PRO/sb1/cgroup.procs")"
check_eq move/free-cgroup-empty "" "$(cat "$FREE/sb1/cgroup.procs")"
check_eq move/not-frozen "0" "$(cat "$FREE/sb1/cgroup.freeze")"
check_eq upgrade/after-move-allowed ok "$(sb_try 3)"
# and back by PID (a downgrade): denied again
check move/by-pid ectl move "$SB_PID" --to "$FREE/sb1"
check_eq upgrade/after-move-back-denied EPERM "$(sb_try 4)"
check_eq upgrade/arrived-only-while-pro 1 "$(count web)"

# ---- 4, 5. policy-file and command-line traps
ectl export >"$T/export.before"
printf 'policy add lab\nallow 127.0.0.2/32 --proto tcp --port 3128\n' >"$T/lab.policy"
check_bad file/rule-without-policy-refused ectl apply -f "$T/lab.policy"
check file/rule-without-policy-names-line grep -q "lab.policy:2: 'allow' without --policy" "$T/bad.err"
check_eq file/default-untouched "$(cat "$T/export.before")" "$(ectl export)"
printf 'policy add lab\n\ndeny 169.254.169.254/32 --port 80 --port 443 --policy lab\n' >"$T/rep.policy"
check_bad file/repeated-option-refused ectl apply -f "$T/rep.policy"
check file/repeated-option-names-line grep -q "rep.policy:3: option '--port' is given twice" "$T/bad.err"
check_bad cli/repeated-port ectl deny 169.254.169.254/32 --port 80 --port 443 --policy free
check_rc cli/repeated-port-exit-2 2 ectl deny 169.254.169.254/32 --port 80 --port 443 --policy free
check_bad cli/repeated-policy-attach ectl attach "$CGROOT/loose" --policy free --policy=pro
check_rc cli/repeated-flag-exit-2 2 ectl status --json --json
check_rc cli/repeated-pin-dir-exit-2 2 ectl allow 10.0.0.0/8 --policy free --pin-dir "$PIN"

# ---- 11. messages
check_bad msg/apply-f-without-file ectl apply -f
check msg/apply-f-without-file-says grep -q -- "-f needs a FILE" "$T/bad.err"
check_rc msg/apply-f-without-file-exit-2 2 ectl apply -f
check_bad msg/apply-directory ectl apply -f "$T"
check msg/apply-directory-says grep -q "$T is a directory" "$T/bad.err"
printf '# x\npolicy add lab2\nallow 192.0.2.1/32 --policy nosuch\n' >"$T/unknown.policy"
check_bad msg/unknown-policy-in-file ectl apply -f "$T/unknown.policy"
check msg/unknown-policy-names-file-and-line grep -q "unknown.policy:3: unknown policy 'nosuch'" "$T/bad.err"
check_bad msg/delete-bound-policy ectl policy delete free
check msg/delete-bound-names-cgroup grep -qF "bound to 1 cgroup (detach it first): $FREE" "$T/bad.err"
chmod 700 "$T/events.sock" 2>/dev/null
out=$(as_nobody "$EGRESSCTL_ANYONE" events --socket "$T/events.sock" 2>&1)
check msg/events-permission grep -q "permission denied on egressd's socket" <<<"$out"

# ---- 12. output
out=$(ectl list --policy free 2>&1)
check_eq list/header "ACTION CIDR PROTO PORT POLICY" "$(head -1 <<<"$out" | tr -s ' ')"
check_eq list/names-policy "allow 192.0.2.10/32 tcp 3128 free" "$(sed -n 2p <<<"$out" | tr -s ' ')"
out=$(ectl list --policy free --json 2>&1)
check_json list/json-policy '.[0].policy == "free" and .[0].cidr == "192.0.2.10/32"' "$out"
out=$(ectl policy list 2>&1)
check_eq policy-list/header "NAME DEFAULT ERRNO RULES BOUND MODE" "$(head -1 <<<"$out" | tr -s ' ')"
check_eq policy-list/order-as-status \
	"$(ectl status --json | jq -r '.policies[].name' | tr '\n' ' ')" \
	"$(tail -n +2 <<<"$out" | awk '{printf "%s ", $1}')"
check_eq policy-list/json-order-as-status \
	"$(ectl status --json | jq -c '[.policies[].name]')" "$(ectl policy list --json | jq -c '[.[].name]')"

# ---- 10. help
out=$(ectl help 2>&1)
for w in "policy list [--json]" "--ping allow|deny" "--version" "move PID" "events [--follow]" \
	"oci-hook" "gc" "unload" "--pin-dir DIR" "--proto tcp|udp|any"; do
	check "help/top-lists-'$w'" grep -qF -- "$w" <<<"$out"
done
for c in allow deny remove list attach detach move check oci-hook gc run apply export status events \
	unload "policy add" "policy set" "policy delete" "policy list"; do
	# shellcheck disable=SC2086
	h=$(timeout "$TO" "$EGRESSCTL" $c --help 2>&1)
	rc=$?
	n=${c// /-}
	check_eq "help/$n/exit-0" 0 "$rc"
	check "help/$n/usage" grep -q "^usage: egressctl $c" <<<"$h"
	check "help/$n/one-line-description" test -n "$(sed -n 2p <<<"$h")"
	check "help/$n/pin-dir-default" grep -q -- "--pin-dir DIR .*(default: " <<<"$h"
	# every option that takes a value names its default (or that it is required)
	bad=$(grep -E '^  (-f, )?--[a-z-]+ [A-Z|a-z]' <<<"$h" | grep -v -e 'default' -e 'required' |
		grep -v -E '^ +\(' || true)
	check_eq "help/$n/option-defaults" "" "$bad"
done
check help/apply-file-format grep -q "file format" <<<"$(ectl apply --help)"
check help/apply-example grep -q "allow 192.0.2.10/32 --proto tcp --port 3128 --policy free" <<<"$(ectl apply --help)"
check help/proto-help-matches-error grep -q -- "--proto tcp|udp|any" <<<"$(ectl allow --help)"
ectl allow 10.0.0.0/8 --proto icmp --policy free 2>"$T/proto.err"
check help/proto-error-matches-help grep -q "expected tcp, udp or any" "$T/proto.err"
check_out version/egressctl "egressctl " sh -c "'$EGRESSCTL' --version | cut -c1-10"
check_out version/egressd "egressd " sh -c "'$EGRESSD' --version | cut -c1-8"
timeout "$TO" "$EGRESSCTL" atach "$FREE" 2>"$T/unk.err"
check_eq help/unknown-command-exit-2 2 $?
check help/unknown-command-did-you-mean grep -q "did you mean attach?" "$T/unk.err"
timeout "$TO" "$EGRESSCTL" policy lsit 2>"$T/unk.err"
check help/unknown-subcommand-did-you-mean grep -q "did you mean 'list'?" "$T/unk.err"

# options come from one typed table per command (user/options.c), in both binaries: an unknown
# option names the nearest one, a value out of range is one line naming the range, exit 2
ectl list --polcy free 2>"$T/opt.err"
check_eq options/unknown-option-exit-2 2 $?
check_eq options/unknown-option-did-you-mean \
	"egressctl: list: unknown option '--polcy' (did you mean '--policy'?) (see 'egressctl list --help')" \
	"$(cat "$T/opt.err")"
ectl events --format xml 2>"$T/opt.err"
check_eq options/enum-exit-2 2 $?
check_eq options/enum-names-choices "egressctl: events: invalid --format 'xml': expected json, text or hint" \
	"$(cat "$T/opt.err")"
timeout "$TO" "$EGRESSD" --ringbuf-size 5000 2>"$T/opt.err"
check_eq options/egressd-range-exit-2 2 $?
check_eq options/egressd-range-one-line "egressd: invalid --ringbuf-size '5000': a power of 2, 4096 to 1073741824" \
	"$(cat "$T/opt.err")"
timeout "$TO" "$EGRESSD" --metrics-adr none 2>"$T/opt.err"
check_eq options/egressd-unknown-exit-2 2 $?
check_eq options/egressd-unknown-one-line \
	"egressd: unknown option '--metrics-adr' (did you mean '--metrics-addr'?) (see 'egressd --help')" \
	"$(cat "$T/opt.err")"
# the defaults egressd --help shows are the table's, which egressd uses
check options/egressd-help-default grep -q -- "--max-rules N        rules per policy (default: 100000)" \
	<<<"$("$EGRESSD" --help)"

finish

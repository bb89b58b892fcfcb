#!/bin/bash
# 47-faults.sh - egress under faults (issue 4):
#  - atomicity: `kill -9` of `egressctl apply` of a 100,000-rule policy, and
#    of allow/deny/remove/policy set on it, at several moments: afterwards
#    the policy exports byte for byte as wholly old or wholly new, and
#    enforcement matches that version;
#  - while apply swaps two versions in a loop, a prober in the bound cgroup
#    never sees a verdict that belongs to neither version.  Sound design:
#    both versions allow C (192.0.2.21, inside an allowed /24) and deny D
#    (192.0.2.20, a /32 deny inside it), so every single connect has one
#    right answer whatever version is in force; a partly built or empty
#    trie would allow D (the /24 without its /32) or deny C (no /24);
#  - egressd restart: programs replaced through bpf_link_update (new ids),
#    `egressctl check` passes throughout, D never allowed meanwhile;
#  - pins of another ABI: egressd refuses with a clear message and changes
#    nothing; egressctl on pins of ABI 7 (no egress_lists yet) names the
#    ABI, not the missing pin;
#  - dead cgroups: create/bind/remove cycles, then `egressctl gc`: links,
#    maps (egress_rate, egress_cg_denied, egress_binding) and the pin
#    directory are back where they started;
#  - abuse: a million denied sends from inside do not grow egressd's RSS,
#    and the counters are exact.
source "$(dirname "$0")/../lib.sh"
setup 192.0.2.10 192.0.2.11 192.0.2.20 192.0.2.21

A=192.0.2.10 B=192.0.2.11	# tcp 81: old allows A, new allows B
C=192.0.2.21 D=192.0.2.20	# tcp 80: both allow C, both deny D
command -v bpftool >/dev/null || die "bpftool not installed"

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
ectl_ok policy policy add small --default deny || die "policy add small"
mkcg app dead abuse

# ------------------------------------------------------------ the versions
# 100,000 rules each: 3 that matter, 99,997 fillers
gen() {	# gen ALLOWED_81 FILLER_NET
	awk -v a="$1" -v f="$2" 'BEGIN {
		print "policy add big --default deny"
		print "allow 192.0.2.0/24 --proto tcp --port 80 --policy big"
		print "deny 192.0.2.20/32 --policy big"
		printf "allow %s/32 --proto tcp --port 81 --policy big\n", a
		for (i = 0; i < 99997; i++)
			printf "allow %d.%d.%d.%d/32 --proto tcp --port 443 --policy big\n", f, int(i / 65536), int(i / 256) % 256, i % 256
	}'
}
gen "$A" 10 >"$T/old.policy"
gen "$B" 11 >"$T/new.policy"
ectl apply -f "$T/new.policy" >/dev/null 2>"$T/apply.err" || die "apply new: $(cat "$T/apply.err")"
ectl export --policy big >"$T/new.export" || die "export new"
ectl apply -f "$T/old.policy" >/dev/null 2>"$T/apply.err" || die "apply old: $(cat "$T/apply.err")"
ectl export --policy big >"$T/old.export" || die "export old"
check_eq versions/100k-rules 100000 "$(grep -c '^allow\|^deny' "$T/old.export")"
cmp -s "$T/old.export" "$T/new.export" && die "old and new export the same"
ectl_ok attach attach "$CGROOT/app" --policy big || die "attach app"

listen A tcp "$A" 81
listen B tcp "$B" 81
listen C tcp "$C" 80
listen D tcp "$D" 80

pr() { probe_as "$CGROOT/app" nobody tcp "$@" 2>/dev/null; }

# which DESC: "old" / "new" / "neither" for the exported policy, and
# whether enforcement matches it.  Sets WHICH and ENF.
which_version() {
	ectl export --policy big >"$T/now.export" 2>"$T/now.err"
	if cmp -s "$T/now.export" "$T/old.export"; then
		WHICH=old
	elif cmp -s "$T/now.export" "$T/new.export"; then
		WHICH=new
	else
		WHICH="neither ($(wc -l <"$T/now.export") lines; $(head -c 300 "$T/now.err"))"
	fi
	ENF="$(pr "$A" 81) $(pr "$B" 81) $(pr "$C" 80) $(pr "$D" 80)"
}
ENF_old="ok EPERM ok EPERM"
ENF_new="EPERM ok ok EPERM"

# wait_gone PID: kill -9 leaves a zombie until waited for
killwait() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

reset_old() {
	ectl apply -f "$T/old.policy" >/dev/null 2>&1 && cmp -s <(ectl export --policy big) "$T/old.export"
}

# ------------------------------------------------------------ apply, kill -9
t0=$(date +%s%N)
reset_old || die "cannot apply the old version"
echo "# apply of the 100,000-rule file (unchanged) takes $((($(date +%s%N) - t0) / 1000000)) ms here (export included)"
seen_old=0 seen_new=0
for d in 0.01 0.05 0.1 0.2 0.$((RANDOM % 300 + 100)) 0.0$((RANDOM % 90 + 10)) 0.$((RANDOM % 90 + 10)); do
	reset_old || { fail "apply-kill9/$d" "cannot reset to the old version"; continue; }
	"$EGRESSCTL" apply --pin-dir "$PIN" -f "$T/new.policy" >/dev/null 2>&1 &
	pid=$!
	sleep "$d"
	killwait "$pid"
	which_version
	case $WHICH in
	old) seen_old=$((seen_old + 1)); check_eq "apply-kill9/after-${d}s/enforcement-old" "$ENF_old" "$ENF" ;;
	new) seen_new=$((seen_new + 1)); check_eq "apply-kill9/after-${d}s/enforcement-new" "$ENF_new" "$ENF" ;;
	*) fail "apply-kill9/after-${d}s" "policy is $WHICH; enforcement A B C D: $ENF" ;;
	esac
done
echo "# apply killed: $seen_old times wholly old, $seen_new times wholly new"

# ------------------------------------------------------------ other updates, kill -9
# OP: the words of one egressctl command on policy big; the policy after it
# ran to completion is its "new" version.
# (the policy is full: allow/deny change the action of an existing rule)
declare -a OPS=(
	"allow 192.0.2.20/32 --policy big"
	"deny 192.0.2.0/24 --proto tcp --port 80 --policy big"
	"remove 192.0.2.0/24 --proto tcp --port 80 --policy big"
	"policy set big --default allow"
)
for op in "${OPS[@]}"; do
	name=${op%% --policy*}
	name=${name// /-}
	name=${name//\//_}
	reset_old || { fail "kill9/$name" "cannot reset"; continue; }
	# shellcheck disable=SC2086
	if [ "${op%% *}" = policy ]; then
		set -- policy ${op#policy }
		ectl policy "$2" "${@:3}" >/dev/null 2>"$T/op.err"
	else
		set -- $op
		ectl "$@" >/dev/null 2>"$T/op.err"
	fi || { fail "kill9/$name" "the command itself fails: $(cat "$T/op.err")"; continue; }
	ectl export --policy big >"$T/op.export"
	cmp -s "$T/op.export" "$T/old.export" && { fail "kill9/$name" "the command changes nothing"; continue; }
	# how long the command takes, to kill it at moments spread over its run
	reset_old || { fail "kill9/$name" "cannot reset"; continue; }
	t0=$(date +%s%N)
	if [ "$1" = policy ]; then
		"$EGRESSCTL" policy "$2" --pin-dir "$PIN" "${@:3}" >/dev/null 2>&1
	else
		"$EGRESSCTL" "$1" --pin-dir "$PIN" "${@:2}" >/dev/null 2>&1
	fi
	ms=$((($(date +%s%N) - t0) / 1000000))
	bad=""
	outcomes=""
	delays=""
	for pct in 1 $((RANDOM % 30 + 5)) $((RANDOM % 30 + 35)) $((RANDOM % 30 + 65)) $((RANDOM % 15 + 90)); do
		delays="$delays $(awk -v m="$ms" -v p="$pct" 'BEGIN {printf "%.3f", m * p / 100000}')"
	done
	for d in $delays; do
		reset_old || { bad="$bad cannot reset;"; continue; }
		if [ "$1" = policy ]; then
			"$EGRESSCTL" policy "$2" --pin-dir "$PIN" "${@:3}" >/dev/null 2>&1 &
		else
			"$EGRESSCTL" "$1" --pin-dir "$PIN" "${@:2}" >/dev/null 2>&1 &
		fi
		pid=$!
		sleep "$d"
		killwait "$pid"
		ectl export --policy big >"$T/now.export" 2>&1
		if cmp -s "$T/now.export" "$T/old.export"; then
			outcomes="$outcomes $d:old"
			e=$(pr "$C" 80)/$(pr "$D" 80)/$(pr "$A" 81)
			[ "$e" = ok/EPERM/ok ] || bad="$bad after ${d}s old export but enforcement C/D/A $e;"
		elif cmp -s "$T/now.export" "$T/op.export"; then
			outcomes="$outcomes $d:new"
		else
			bad="$bad after ${d}s neither version ($(diff "$T/old.export" "$T/now.export" | head -5 | tr '\n' ' '));"
		fi
	done
	if [ -z "$bad" ]; then
		pass "kill9/$name"
	else
		fail "kill9/$name" "$bad"
	fi
	echo "# kill -9 of egressctl $op (runs ${ms} ms):$outcomes"
done
reset_old || die "cannot reset to the old version"

# ------------------------------------------------------------ concurrent prober
# apply swaps old <-> new for a while; C must always be allowed, D denied
touch "$T/swapping"
(
	i=0
	while [ -e "$T/swapping" ] && [ $i -lt 16 ]; do
		f=$T/old.policy
		[ $((i % 2)) = 0 ] && f=$T/new.policy
		"$EGRESSCTL" apply --pin-dir "$PIN" -f "$f" >/dev/null 2>>"$T/swap.err" || echo "apply failed" >>"$T/swap.err"
		i=$((i + 1))
	done
	echo "$i" >"$T/swaps"
	rm -f "$T/swapping"
) &
SWAPPER=$!
BG_PIDS+=("$SWAPPER")
prober() {	# prober ADDR OUTFILE: probe loops while the swapper runs (bounded)
	local n=0
	while [ -e "$T/swapping" ] && [ $n -lt 200 ]; do
		probe_as "$CGROOT/app" nobody loop tcp "$1" 80 200 >>"$2" 2>&1
		n=$((n + 1))
	done
}
prober "$C" "$T/probe.C" &
PC=$!
prober "$D" "$T/probe.D" &
PD=$!
BG_PIDS+=("$PC" "$PD")
for ((i = 0; i < 600 && ${#SWAPPER} > 0; i++)); do
	kill -0 "$SWAPPER" 2>/dev/null || break
	sleep 0.1
done
rm -f "$T/swapping"
wait_pid "$SWAPPER"
wait_pid "$PC"
wait_pid "$PD"
swaps=$(cat "$T/swaps" 2>/dev/null || echo 0)
[ "$swaps" -ge 4 ] && [ ! -s "$T/swap.err" ] && pass concurrent/swapper-ran ||
	fail concurrent/swapper-ran "swaps: $swaps, errors: $(head -c 300 "$T/swap.err" 2>/dev/null)"
c_bad=$(grep -v '^ok=[0-9]*$' "$T/probe.C" | head -3)
d_bad=$(grep -v '^EPERM=[0-9]*$' "$T/probe.D" | head -3)
nC=$(awk -F= '{s += $2} END {print s + 0}' "$T/probe.C")
nD=$(awk -F= '{s += $2} END {print s + 0}' "$T/probe.D")
echo "# $swaps swaps; $nC connects to C, $nD to D during them"
if [ -z "$c_bad" ] && [ "$nC" -gt 0 ]; then
	pass concurrent/allowed-in-both-never-denied
else
	fail concurrent/allowed-in-both-never-denied "connects to $C:80 (allowed by both versions): $c_bad (total $nC)"
fi
if [ -z "$d_bad" ] && [ "$nD" -gt 0 ]; then
	pass concurrent/denied-in-both-never-allowed
else
	fail concurrent/denied-in-both-never-allowed "connects to $D:80 (denied by both versions): $d_bad (total $nD)"
fi
reset_old || die "cannot reset to the old version"

# ------------------------------------------------------------ egressd restart
prog_ids() {
	local f
	for f in "$PIN"/progs/*; do
		printf '%s=%s ' "$(basename "$f")" "$(bpftool prog show pinned "$f" -j 2>/dev/null | jq -r .id)"
	done
}
ids_before=$(prog_ids)
touch "$T/restarting"
(
	n=0 bad=0
	while [ -e "$T/restarting" ] && [ $n -lt 2000 ]; do
		if ! "$EGRESSCTL" check --pin-dir "$PIN" "$CGROOT/app" >"$T/check.out" 2>&1; then
			bad=$((bad + 1))
			[ $bad -le 3 ] && cat "$T/check.out" >>"$T/check.bad"
		fi
		n=$((n + 1))
	done
	echo "$n $bad" >"$T/checks"
) &
CHK=$!
BG_PIDS+=("$CHK")
(
	n=0
	while [ -e "$T/restarting" ] && [ $n -lt 200 ]; do
		probe_as "$CGROOT/app" nobody loop tcp "$D" 80 100 >>"$T/restart.D" 2>&1
		n=$((n + 1))
	done
) &
PRD=$!
BG_PIDS+=("$PRD")
sleep 0.5
stop_egressd
[ "$EGRESSD_RC" = 0 ] || fail restart/stop "egressd exit $EGRESSD_RC"
sleep 0.3
start_egressd || fail restart/start "egressd not ready: $(cat "$EGRESSD_ERR")"
sleep 0.5
rm -f "$T/restarting"
wait_pid "$CHK"
wait_pid "$PRD"
ids_after=$(prog_ids)
same=""
for kv in $ids_before; do
	case " $ids_after " in *" $kv "*) same="$same $kv" ;; esac
done
if [ -z "$same" ] && [ -n "$ids_after" ] && ! printf '%s' "$ids_after" | grep -q '=null'; then
	pass restart/programs-replaced
else
	fail restart/programs-replaced "before: $ids_before after: $ids_after (unchanged:$same)"
fi
grep -q 'links updated' "$EGRESSD_ERR" && echo "# $(grep 'ready' "$EGRESSD_ERR")"
read -r nchk badchk <"$T/checks"
if [ "${nchk:-0}" -gt 0 ] && [ "${badchk:-1}" = 0 ]; then
	pass restart/check-passes-throughout
else
	fail restart/check-passes-throughout "$badchk of $nchk 'egressctl check' runs failed during the restart: $(head -c 600 "$T/check.bad" 2>/dev/null)"
fi
d_bad=$(grep -v '^EPERM=[0-9]*$' "$T/restart.D" | head -3)
nD=$(awk -F= '{s += $2} END {print s + 0}' "$T/restart.D")
if [ -z "$d_bad" ] && [ "$nD" -gt 0 ]; then
	pass restart/denied-never-allowed
else
	fail restart/denied-never-allowed "connects to $D:80 during the restart: $d_bad (total $nD)"
fi
check_out restart/policy-kept "$(cat "$T/old.export")" ectl export --policy big
check restart/app-enforced ectl check "$CGROOT/app"

# ------------------------------------------------------------ another ABI
CFG=$PIN/maps/egress_config
cfg_hex() { bpftool map lookup pinned "$CFG" key 0 0 0 0 -j 2>/dev/null | jq -r '.value | join(" ")'; }
orig=$(cfg_hex)
if [ -z "$orig" ]; then
	fail abi/read-config "cannot read $CFG with bpftool"
else
	stop_egressd
	export_before=$(ectl export)
	links_before=$(find "$PIN" | sort)
	ids_before=$(prog_ids)
	# shellcheck disable=SC2086
	set -- $orig
	shift 4
	bpftool map update pinned "$CFG" key 0 0 0 0 value 0x39 0x05 0 0 "$@" ||
		fail abi/write-config "bpftool map update failed"
	timeout "$TO" "$EGRESSD" --pin-dir "$PIN" "${EGRESSD_PRIVATE[@]}" >"$T/abi.out" 2>"$T/abi.err"
	rc=$?
	if [ $rc != 0 ] && [ $rc != 124 ] && grep -qi 'abi' "$T/abi.err"; then
		pass abi/refused-with-message
	else
		fail abi/refused-with-message "exit $rc: $(cat "$T/abi.err")"
	fi
	echo "# egressd on pins of another ABI: $(head -c 300 "$T/abi.err" | tr '\n' ' ')"
	check_eq abi/config-not-reset "0x39 0x05 0x00 0x00 $*" "$(cfg_hex)"
	check_eq abi/programs-unchanged "$ids_before" "$(prog_ids)"
	check_eq abi/pins-unchanged "$links_before" "$(find "$PIN" | sort)"
	# egressctl on pins of ABI 7, which had no egress_lists: it names the
	# ABI, not the pin it cannot find
	mv "$PIN/maps/egress_lists" "$PIN/maps/egress_lists_aside" 2>"$T/mv.err" || fail abi/move-lists "cannot move the pin: $(cat "$T/mv.err")"
	bpftool map update pinned "$CFG" key 0 0 0 0 value 0x07 0 0 0 "$@" || fail abi/write-config-7 "bpftool map update failed"
	rc=0
	ectl policy list >"$T/abi7.out" 2>"$T/abi7.err" || rc=$?
	check_eq abi/egressctl-abi7-fails yes "$([ "$rc" != 0 ] && echo yes || echo "no (exit 0)")"
	check abi/egressctl-abi7-names-abi grep -q "has ABI 7, this build speaks" "$T/abi7.err"
	mv "$PIN/maps/egress_lists_aside" "$PIN/maps/egress_lists" || die "cannot put the egress_lists pin back"
	# the ABI itself must be restored before anything reads the pins
	bpftool map update pinned "$CFG" key 0 0 0 0 value $orig || die "cannot restore egress_config"
	check_eq abi/policies-unchanged "$export_before" "$(ectl export)"
	check abi/still-enforced ectl check "$CGROOT/app"
	check_eq abi/still-denied EPERM "$(pr "$D" 80)"
	start_egressd || die "egressd does not start again: $(cat "$EGRESSD_ERR")"
fi

# ------------------------------------------------------------ dead cgroups
map_entries() { bpftool map dump pinned "$PIN/maps/$1" -j 2>/dev/null | jq 'length'; }
state_now() {
	printf 'links=%s rate=%s cg_denied=%s binding=%s\n' "$(find "$PIN/links" -mindepth 1 -maxdepth 1 | wc -l)" \
		"$(map_entries egress_rate)" "$(map_entries egress_cg_denied)" "$(map_entries egress_binding)"
	find "$PIN" -path "$PIN/lost" -prune -o -print | sort
}
# removed bound cgroups are listed in lost/ (status: lost_bindings), at most 256
lost_count() { find "$PIN/lost" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
ectl gc >/dev/null
base=$(state_now)
CYCLES=${DEAD_CYCLES:-10000}
LIMIT_S=${DEAD_LIMIT_S:-600}	# a bound on the loop, not a speed goal
start=$SECONDS
n=0 attach_fail=0
while [ $n -lt "$CYCLES" ] && [ $((SECONDS - start)) -lt "$LIMIT_S" ]; do
	cg=$CGROOT/dead/c$n
	mkdir "$cg" || { attach_fail=$((attach_fail + 1)); break; }
	"$EGRESSCTL" attach --pin-dir "$PIN" "$cg" --policy small >/dev/null 2>&1 || attach_fail=$((attach_fail + 1))
	# every 100th cgroup also gets per-cgroup state (a rate bucket, a denial count)
	[ $((n % 100)) = 0 ] && probe_as "$cg" root tcp "$D" 80 >/dev/null 2>&1
	rmdir "$cg" 2>/dev/null || { sleep 0.05; rmdir "$cg"; }
	n=$((n + 1))
done
took=$((SECONDS - start))
echo "# dead cgroups: $n create/bind/remove cycles in ${took}s (asked for $CYCLES)"
check_eq dead/all-cycles-ran "$CYCLES" "$n"
check_eq dead/attach-never-failed 0 "$attach_fail"
mid=$(state_now | head -1)
echo "# before gc: $mid"
gc_out=$(ectl gc 2>&1)
first=$(state_now | head -1)
echo "# gc: $gc_out; right after: $first (base: $(printf '%s' "$base" | head -1))"
# a removed cgroup is released asynchronously: gc again (bounded) until it settles
for ((i = 0; i < 30; i++)); do
	[ "$(state_now)" = "$base" ] && break
	sleep 0.5
	ectl gc >/dev/null 2>&1
done
now=$(state_now)
check_eq dead/counts-back-to-start "$(printf '%s' "$base" | head -1)" "$(printf '%s' "$now" | head -1)"
if [ "$now" = "$base" ]; then
	pass dead/pin-dir-back-to-start
else
	fail dead/pin-dir-back-to-start "$(diff <(printf '%s\n' "$base") <(printf '%s\n' "$now") | head -10)"
fi
[ "$first" = "$(printf '%s' "$base" | head -1)" ] ||
	echo "# note: one gc right after the cycles left: $first; it took $i more gc rounds"
lost_n=$(lost_count)
if [ "$lost_n" -ge 1 ] && [ "$lost_n" -le 256 ]; then
	pass dead/lost-listed-and-bounded
else
	fail dead/lost-listed-and-bounded "lost/ holds $lost_n entries after $n removed bindings (want 1..256)"
fi
check dead/app-still-enforced ectl check "$CGROOT/app"

# ------------------------------------------------------------ abuse
ectl_ok attach attach "$CGROOT/abuse" --policy small || die "attach abuse"
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$EGRESSD_PID/status" 2>/dev/null; }
denied_of() {	# denied_of HOOK: the small policy's denied counter of HOOK ("total" = all)
	ectl status --json | jq -r --arg h "$1" '.policies[] | select(.name == "small") |
		if $h == "total" then .denied else .hooks[$h].denied end'
}
ABUSE=${ABUSE_N:-1000000}
rss0=$(rss)
s0=$(denied_of sendmsg4) t0=$(denied_of total)
start=$SECONDS
got=0 other=""
peak=$rss0
for ((i = 0; i < ABUSE / 100000; i++)); do
	out=$(timeout 120 sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CGROOT/abuse" \
		nsenter --net="/run/netns/$NS" "${NOBODY[@]}" "$PROBE" loop udp "$D" 53 100000)
	case $out in
	EPERM=100000) got=$((got + 100000)) ;;
	*) other="$other [$out]" ;;
	esac
	r=$(rss)
	[ "${r:-0}" -gt "$peak" ] && peak=$r
done
took=$((SECONDS - start))
sleep 1
rss1=$(rss)
s1=$(denied_of sendmsg4) t1=$(denied_of total)
echo "# abuse: $got denied sends in ${took}s; egressd RSS ${rss0} kB -> peak ${peak} kB -> ${rss1} kB"
check_eq abuse/every-send-denied "$ABUSE" "$got${other:+ (other: $other)}"
check_eq abuse/sendmsg4-counter-exact "$ABUSE" "$((s1 - s0))"
check_eq abuse/denied-counter-exact "$ABUSE" "$((t1 - t0))"
if [ -n "$rss0" ] && [ -n "$rss1" ] && [ $((peak - rss0)) -lt 16384 ]; then
	pass abuse/egressd-rss-bounded
else
	fail abuse/egressd-rss-bounded "RSS ${rss0} kB -> peak ${peak} kB (limit +16 MB)"
fi
kill -0 "$EGRESSD_PID" 2>/dev/null && pass abuse/egressd-alive || fail abuse/egressd-alive "egressd died"

finish

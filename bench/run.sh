#!/usr/bin/env bash
# bench/run.sh - `make bench`: egress's overhead, scale and update latency,
# each figure against a baseline measured in the same run (arms interleaved,
# pinned to one CPU, median of per-round ratios).  Writes bench/RESULTS.md
# (+ bench/results.png when matplotlib is there) and prints the table.
#
# Isolation: its own bpffs mount and pin dirs, its own cgroup subtree
# <cgroup2>/egress-bench.<pid>, its own netns egress-bench-<pid> (all
# traffic on that netns' loopback, its own nft table there), all removed on
# exit, failed or not.  BENCH_QUICK=1: fewer rounds (a smoke run).
set -u
set -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
B=$ROOT/build/bench
EGRESSD=$ROOT/build/egressd
EGRESSCTL=$ROOT/build/egressctl
QUICK=${BENCH_QUICK:-0}
TAG=$$
START=$(date +%s.%N)
T=""
CG2=""
CGR=""
NS=egress-bench-$TAG
NSP=/run/netns/$NS
PIDS=()
INSTANCES=()
STATS_BEFORE=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || echo '?')

log() { printf '[bench %5.1fs] %s\n' "$(echo "$(date +%s.%N) - $START" | bc)" "$*" >&2; }
fatal() { log "FAILED: $*"; exit 1; }

cleanup() {
	local rc=$? p i
	trap - EXIT INT TERM
	log "cleanup"
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null
	done
	if [ -e "$NSP" ]; then
		nsenter --net="$NSP" nft delete table inet egress_bench 2>/dev/null
		ip netns del "$NS" 2>/dev/null
	fi
	for p in "${INSTANCES[@]}"; do
		[ -d "$p" ] && timeout 60 "$EGRESSCTL" unload --pin-dir "$p" >/dev/null 2>&1
	done
	if [ -n "$CGR" ] && [ -d "$CGR" ]; then
		# kill whatever is left in our cgroups, then remove them bottom-up
		find "$CGR" -name cgroup.kill 2>/dev/null | while read -r k; do echo 1 > "$k" 2>/dev/null; done
		for i in 1 2 3 4 5; do
			find "$CGR" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$CGR" ] || break
			sleep 0.2
		done
		[ -d "$CGR" ] && log "WARNING: could not remove $CGR"
	fi
	if [ -n "$T" ]; then
		rm -rf "$B/raw"; cp -r "$OUT" "$B/raw" 2>/dev/null
		mountpoint -q "$T/bpf" && umount "$T/bpf"
		rm -rf "$T"
	fi
	if [ "$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null)" != "$STATS_BEFORE" ]; then
		log "WARNING: kernel.bpf_stats_enabled is $(cat /proc/sys/kernel/bpf_stats_enabled), was $STATS_BEFORE"
	fi
	log "done (exit $rc)"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- setup
[ "$(id -u)" = 0 ] || fatal "needs root"
for t in bpftool ip nsenter taskset bc python3; do
	command -v $t >/dev/null || fatal "$t is missing"
done
if ! command -v nft >/dev/null; then
	log "installing nftables (apt)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables >/dev/null 2>&1 || log "nftables not installable: nft arms skipped"
fi
HAVE_NFT=0; command -v nft >/dev/null && HAVE_NFT=1
# bench/results.png, the chart RESULTS.md shows, is drawn from this run's figures
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
	log "installing python3-matplotlib (apt) for bench/results.png"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-matplotlib \
		>/dev/null 2>&1 || log "python3-matplotlib not installable: bench/results.png stays an earlier run's"
fi
mkdir -p "$B"
cc -O2 -Wall -Wno-format-truncation -Iinclude -o "$B/egbench" bench/egbench.c -lbpf || fatal "cannot build bench/egbench.c"
cc -O2 -Wall -Iinclude -o "$B/floor" bench/floor.c -lbpf || fatal "cannot build bench/floor.c"
clang -O2 -g -target bpf -Ibuild -c bench/noop.bpf.c -o "$B/noop.bpf.o" || fatal "cannot build bench/noop.bpf.c"

T=$(mktemp -d /tmp/egress-bench.XXXXXX)
OUT=$T/out
mkdir -p "$OUT" "$T/bpf"
mount -t bpf bpf "$T/bpf" || fatal "cannot mount bpffs"
CG2=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)
[ -n "$CG2" ] || fatal "no cgroup2 mount"
CGR=$CG2/egress-bench.$TAG
mkdir "$CGR" || fatal "cannot create $CGR"
for d in home sib e4-1 e4-1k-r e4-1k-d e4-100k-r e4-100k-d e6-1 e6-1k-r e6-1k-d e6-100k-r e6-100k-d \
	nft noop sib2 flood one one/x one/flood many c4-1 c4-1k-r h4-1 h4-1k-r d4-1k-r; do
	mkdir "$CGR/$d" || fatal "mkdir $CGR/$d"
done
ip netns add "$NS" || fatal "cannot create netns"
ip -n "$NS" link set lo up
ip -n "$NS" -6 addr add 2001:db8::1/64 dev lo nodad
HOME_CG=$CGR/home
CPU_BENCH=1
CPU_DAEMON=0
[ "$(nproc)" -ge 2 ] || { CPU_BENCH=0; CPU_DAEMON=0; }
BENCH=(taskset -c $CPU_BENCH "$B/egbench")

if [ "$QUICK" = 1 ]; then R=5; RT=4; RV=3; RF=1; RB=5; RA=2; RE=3; else R=31; RT=15; RV=6; RF=3; RB=15; RA=5; RE=15; fi

# ---------------------------------------------------------------- the host
{
	echo "## bpftool cgroup tree $CG2 (before the baseline)"
	bpftool cgroup tree "$CG2" 2>&1
	echo "## programs effective on the baseline cgroup $HOME_CG"
	bpftool cgroup show "$HOME_CG" effective 2>&1
	echo "## nft ruleset in the benchmark's netns"
	nsenter --net="$NSP" nft list ruleset 2>&1
} > "$OUT/host.txt"
log "host: $(grep -cE '^[0-9]+ ' "$OUT/host.txt") cgroup attachments on the host (see RESULTS.md)"

# ---------------------------------------------------------------- egressd instances
DHELP=$("$EGRESSD" --help 2>&1)
# start_egressd NAME [extra options]: pins in $T/bpf/NAME, stdout counted into $OUT/NAME.count
start_egressd() {
	local name=$1 pins=$T/bpf/$1 i
	shift
	local extra=()
	grep -q -- --metrics-addr <<<"$DHELP" && extra+=(--metrics-addr none)
	grep -q -- --events-socket <<<"$DHELP" && extra+=(--events-socket "$T/$name.sock")
	mkfifo "$T/$name.fifo"
	taskset -c $CPU_DAEMON "$B/egbench" count "$OUT/$name.count" < "$T/$name.fifo" &
	PIDS+=($!)
	INSTANCES+=("$pins")
	taskset -c $CPU_DAEMON "$EGRESSD" --pin-dir "$pins" "${extra[@]}" "$@" > "$T/$name.fifo" 2> "$OUT/$name.err" &
	PIDS+=($!)
	eval "PID_$name=$!"
	for i in $(seq 100); do grep -q 'ready' "$OUT/$name.err" && return 0; sleep 0.05; done
	cat "$OUT/$name.err" >&2
	fatal "egressd $name did not get ready"
}
ctl() { "$EGRESSCTL" "$@"; }
# main: room for one rule more than the largest policy (the update scenario adds one)
start_egressd main --max-rules 100001
PM=$T/bpf/main
RATE_LIMIT=0
grep -q -- --event-rate <<<"$DHELP" && RATE_LIMIT=1
if [ $RATE_LIMIT = 1 ]; then start_egressd one --event-rate 0; else start_egressd one; fi
start_egressd many
P1=$T/bpf/one
PN=$T/bpf/many
log "egressd main/one/many: pids $PID_main $PID_one $PID_many (rate limit support: $RATE_LIMIT)"

# ---------------------------------------------------------------- policies
G=$T/pol
mkdir -p "$G"
gen() { python3 bench/genpolicy.py "$@" >/dev/null || fatal "genpolicy $*"; }
for fam in 4 6; do
	if [ $fam = 4 ]; then A=127.0.0.1; D=127.0.0.2; else A=2001:db8::1; D=2001:db8::2; fi
	gen --name p$fam-1 --family $fam --size 1 --mix realistic --allow $A --out "$G/p$fam-1.txt" --nft "$G/s$fam-1.nft"
	for sz in 1k:1000 100k:100000; do
		for mix in r:realistic d:dense; do
			gen --name p$fam-${sz%%:*}-${mix%%:*} --family $fam --size ${sz##*:} --mix ${mix##*:} \
				--allow $A --deny $D --out "$G/p$fam-${sz%%:*}-${mix%%:*}.txt" \
				--nft "$G/s$fam-${sz%%:*}-${mix%%:*}.nft"
		done
	done
done
# the apply scenario: a fresh 100k policy, and two different 100k contents replacing each other
gen --name apl --family 4 --size 100000 --mix realistic --allow 127.0.0.1 --deny 127.0.0.2 --seed 11 --out "$G/apl-a.txt"
gen --name apl --family 4 --size 100000 --mix realistic --allow 127.0.0.1 --deny 127.0.0.2 --seed 12 --out "$G/apl-b.txt"
gen --name apl1 --family 4 --size 1 --mix realistic --allow 127.0.0.1 --out "$G/apl1.txt"
log "policy files generated"

# ---------------------------------------------------------------- 1. unbound cgroups
# home is never bound; sib (a sibling) is bound/unbound between arms, and
# sib2 gets no-op programs on the same hooks (the kernel's own cost of
# having programs attached somewhere: its static keys).
ctl apply -f "$G/p4-1.txt" --pin-dir "$PM" || fatal "apply p4-1"
log "unbound cgroups: $R rounds"
NOOP_SIB=$T/bpf/noop-sib
EG_OFF="$EGRESSCTL detach $CGR/sib --pin-dir $PM >/dev/null 2>&1"
"${BENCH[@]}" overhead --kind udp4 --netns "$NSP" --home "$HOME_CG" --rx 127.0.0.1 --rounds $R \
	--iters 4000 --stats-iters 10 \
	--state "off=$EG_OFF; rm -rf $NOOP_SIB; true" \
	--state "noop=$EG_OFF; rm -rf $NOOP_SIB; $B/egbench attachnoop $B/noop.bpf.o $CGR/sib2 $NOOP_SIB" \
	--state "on=rm -rf $NOOP_SIB; $EGRESSCTL attach $CGR/sib --policy p4-1 --pin-dir $PM" \
	--arm "name=unbound-nowhere,cg=$HOME_CG,dst=127.0.0.1,state=off" \
	--arm "name=unbound-noop-elsewhere,cg=$HOME_CG,dst=127.0.0.1,state=noop" \
	--arm "name=unbound-elsewhere,cg=$HOME_CG,dst=127.0.0.1,state=on,pins=$PM" \
	> "$OUT/unbound.tsv" || fatal "unbound scenario"
rm -rf "$NOOP_SIB"
ctl attach "$CGR/sib" --policy p4-1 --pin-dir "$PM" >/dev/null 2>&1

# ---------------------------------------------------------------- 2. policies, bindings
: > "$OUT/apply-initial.tsv"
for f in "$G"/p[46]-*.txt; do
	n=$(basename "$f" .txt)
	[ "$n" = p4-1 ] && continue
	t0=$(date +%s%N)
	ctl apply -f "$f" --pin-dir "$PM" || fatal "apply $n"
	echo -e "$n\t$(( ($(date +%s%N) - t0) / 1000 ))" >> "$OUT/apply-initial.tsv"
done
for n in 4-1 4-1k-r 4-1k-d 4-100k-r 4-100k-d 6-1 6-1k-r 6-1k-d 6-100k-r 6-100k-d; do
	ctl attach "$CGR/e$n" --policy p$n --pin-dir "$PM" || fatal "attach e$n"
done
ctl attach "$CGR/flood" --policy p4-1k-r --pin-dir "$PM" || fatal "attach flood"
"$B/egbench" attachnoop "$B/noop.bpf.o" "$CGR/noop" "$T/bpf/noop" || fatal "attach the no-op programs"
log "10 policies applied ($(awk '{s+=$2} END {printf "%.2f", s/1e6}' "$OUT/apply-initial.tsv") s), arms bound"

# ---------------------------------------------------------------- 3. per-call overhead and scale
nftpath() { local p=${1#/sys/fs/cgroup}; p=${p#/}; echo "$p"; }
NFT_CG=$(nftpath "$CGR/nft")
NFT_LEVEL=$(( $(tr -cd / <<<"${CGR#"$CG2"}/nft" | wc -c) ))
if [ $HAVE_NFT = 1 ]; then
	{
		echo "table inet egress_bench {"
		for f in "$G"/s*.nft; do
			n=$(basename "$f" .nft); n=${n//-/_}
			if [[ $n == s4* ]]; then ty=ipv4_addr; else ty=ipv6_addr; fi
			if [[ $n == *_d ]]; then fl=""; else fl="flags interval; auto-merge;"; fi
			echo "  set $n { type $ty; $fl elements = {"
			cat "$f"
			echo "  } }"
		done
		echo "}"
	} > "$T/sets.nft"
	t0=$(date +%s%N)
	nsenter --net="$NSP" nft -f "$T/sets.nft" || fatal "nft sets"
	echo -e "nft-sets\t$(( ($(date +%s%N) - t0) / 1000 ))" >> "$OUT/apply-initial.tsv"
	for f in "$G"/s*.nft; do
		n=$(basename "$f" .nft); n=${n//-/_}
		fam=4; ip=ip; [[ $n == s6* ]] && { fam=6; ip=ip6; }
		cat > "$T/on-$n.nft" <<-EOF
		add chain inet egress_bench out { type filter hook output priority 0; policy accept; }
		flush chain inet egress_bench out
		add rule inet egress_bench out socket cgroupv2 level $NFT_LEVEL "$NFT_CG" $ip daddr != @$n drop
		EOF
		nsenter --net="$NSP" nft list set inet egress_bench "$n" | tr ',' '\n' | grep -cE '[0-9a-f][.:][0-9a-f]' \
			| sed "s/^/$n\t/" >> "$OUT/nft-set-sizes.tsv"
	done
	log "nft sets loaded (cgroup \"$NFT_CG\" level $NFT_LEVEL)"
fi
NFT_OFF="off=nft 'flush chain inet egress_bench out; delete chain inet egress_bench out' 2>/dev/null; true"
nft_on() { echo "$1=nft -f $T/on-$1.nft"; }

# overhead KIND FILE ROUNDS ITERS SITERS ARGS...
overhead() {
	local kind=$1 file=$2 rounds=$3 iters=$4 siters=$5 rx=127.0.0.1
	shift 5
	[[ $kind == *6 ]] && rx=2001:db8::1
	log "overhead $kind: $rounds rounds of $# arms/2"
	"${BENCH[@]}" overhead --kind "$kind" --netns "$NSP" --home "$HOME_CG" --rx $rx --rounds "$rounds" \
		--iters "$iters" --stats-iters "$siters" "$@" > "$OUT/$file.tsv" || fatal "overhead $kind"
}
arms_for() {	# arms_for FAM: baseline + egress arms (nft state off)
	local f=$1 a=127.0.0.1 d=127.0.0.2
	[ "$f" = 6 ] && { a=2001:db8::1; d=2001:db8::2; }
	echo "--arm name=none,cg=$HOME_CG,dst=$a,state=off"
	echo "--arm name=noop-prog,cg=$CGR/noop,dst=$a,state=off,pins=$T/bpf/noop"
	for n in 1 1k-r 1k-d 100k-r 100k-d; do
		echo "--arm name=egress-$n,cg=$CGR/e$f-$n,dst=$a,state=off,pins=$PM"
	done
	echo "--arm name=egress-deny-1,cg=$CGR/e$f-1,dst=$d,state=off,pins=$PM"
	echo "--arm name=egress-deny-1k-r,cg=$CGR/e$f-1k-r,dst=$d,state=off,pins=$PM"
	echo "--arm name=egress-deny-100k-d,cg=$CGR/e$f-100k-d,dst=$d,state=off,pins=$PM"
}
nft_arms_for() {	# nft arms, one state (chain + rule) per set
	local f=$1 a=127.0.0.1 d=127.0.0.2 n
	[ "$f" = 6 ] && { a=2001:db8::1; d=2001:db8::2; }
	[ $HAVE_NFT = 1 ] || return 0
	echo "--state"; echo "$NFT_OFF"
	for n in 1 1k_r 100k_r 100k_d; do
		echo "--state"; nft_on "s${f}_$n"
		echo "--arm"; echo "name=nft-$n,cg=$CGR/nft,dst=$a,state=s${f}_$n"
	done
	echo "--arm"; echo "name=none-nft-loaded,cg=$HOME_CG,dst=$a,state=s${f}_1k_r"
	[ "$2" = udp ] && { echo "--arm"; echo "name=nft-deny-1k-r,cg=$CGR/nft,dst=$d,state=s${f}_1k_r"; }
}
for kind in udp4 udp6 tcp4 tcp6; do
	f=${kind: -1}
	mapfile -t A < <(arms_for $f | tr ' ' '\n')
	mapfile -t NA < <(nft_arms_for $f "${kind:0:3}")
	[ $HAVE_NFT = 1 ] || A=("${A[@]}" --state "off=true")
	if [[ $kind == udp* ]]; then
		overhead $kind $kind $R 3000 1000 "${A[@]}" "${NA[@]}"
	else
		# denied TCP connects never leave nft's drop (the SYN is retransmitted): no nft deny arm
		overhead $kind $kind $RT 250 100 "${A[@]}" "${NA[@]}"
	fi
done

# ---------------------------------------------------------------- 3b. per-rule hit counters
# Two fresh instances with the same policies, one whose programs count and one whose programs
# do not (EGRESS_NO_RULE_HITS: the count_rule_hits constant off), arms interleaved: the BPF run
# time per call with and without counting, same run, same map state (rate buckets, egress_seen).
# A third, counting like the first (hits2), measures the noise between two equal instances (A/A).
start_egressd hits
start_egressd hits2
EGRESS_NO_RULE_HITS=1 start_egressd nohits
PC=$T/bpf/hits
PH=$T/bpf/nohits
PD=$T/bpf/hits2
ctl apply -f "$G/p4-1k-r.txt" --pin-dir "$PD" || fatal "apply p4-1k-r ($PD)"
ctl attach "$CGR/d4-1k-r" --policy p4-1k-r --pin-dir "$PD" || fatal "attach d4-1k-r"
for n in 4-1 4-1k-r; do
	for i in c:$PC h:$PH; do
		ctl apply -f "$G/p$n.txt" --pin-dir "${i#*:}" || fatal "apply p$n (${i#*:})"
		ctl attach "$CGR/${i%%:*}$n" --policy p$n --pin-dir "${i#*:}" || fatal "attach ${i%%:*}$n"
	done
done
overhead udp4 rule-hits $R 3000 1000 --state "off=true" \
	--arm "name=none,cg=$HOME_CG,dst=127.0.0.1,state=off" \
	--arm "name=hits-1,cg=$CGR/c4-1,dst=127.0.0.1,state=off,pins=$PC" \
	--arm "name=nohits-1,cg=$CGR/h4-1,dst=127.0.0.1,state=off,pins=$PH" \
	--arm "name=hits-1k-r,cg=$CGR/c4-1k-r,dst=127.0.0.1,state=off,pins=$PC" \
	--arm "name=nohits-1k-r,cg=$CGR/h4-1k-r,dst=127.0.0.1,state=off,pins=$PH" \
	--arm "name=hits-deny-1k-r,cg=$CGR/c4-1k-r,dst=127.0.0.2,state=off,pins=$PC" \
	--arm "name=nohits-deny-1k-r,cg=$CGR/h4-1k-r,dst=127.0.0.2,state=off,pins=$PH" \
	--arm "name=hits2-1k-r,cg=$CGR/d4-1k-r,dst=127.0.0.1,state=off,pins=$PD" \
	--arm "name=hits2-deny-1k-r,cg=$CGR/d4-1k-r,dst=127.0.0.2,state=off,pins=$PD"

# ---------------------------------------------------------------- 4. 1 versus 10,000 bound cgroups
for inst in "$P1" "$PN"; do ctl apply -f "$G/p4-1.txt" --pin-dir "$inst" || fatal "apply p4-1 ($inst)"; done
ctl attach "$CGR/one/x" --policy p4-1 --pin-dir "$P1" || fatal "attach one/x"
ctl attach "$CGR/one/flood" --policy p4-1 --pin-dir "$P1" || fatal "attach one/flood"
PID_MANY_POLICY=$(ctl status --json --pin-dir "$PN" | python3 -c 'import json,sys; print([p["id"] for p in json.load(sys.stdin)["policies"] if p["name"]=="p4-1"][0])')
[ -n "$PID_MANY_POLICY" ] || fatal "no policy id"
# a second look at the host (before the 10,000 cgroups: bpftool walks every cgroup)
{ echo "## bpftool cgroup tree $CG2 (after the per-call phases; the benchmark's own lines removed)"
  bpftool cgroup tree "$CG2" 2>&1 | awk -v t="egress-bench.$TAG" '/^\// {skip = index($0, t) > 0} !skip'; } > "$OUT/host-end.txt"
NMANY=10000
log "binding $NMANY cgroups (instance 'many')"
taskset -c $CPU_BENCH "$B/egbench" bindmany "$PN" "$CGR/many" $NMANY "$PID_MANY_POLICY" > "$OUT/bindmany.tsv" 2> "$OUT/bindmany.err" \
	|| fatal "bindmany: $(cat "$OUT/bindmany.err")"
log "$(cat "$OUT/bindmany.err")"
MANY_CPU0=$(awk '{print $14+$15}' /proc/$PID_many/stat)
overhead udp4 bound1-vs-10k $R 3000 1000 \
	--state "off=true" \
	--arm "name=none,cg=$HOME_CG,dst=127.0.0.1,state=off" \
	--arm "name=one-bound,cg=$CGR/one/x,dst=127.0.0.1,state=off,pins=$P1" \
	--arm "name=10k-bound,cg=$CGR/many/c05000,dst=127.0.0.1,state=off,pins=$PN"

# ---------------------------------------------------------------- 5. control plane: bind, apply
: > "$OUT/cmds.tsv"
# timecmd LABEL ROUND SETUP TIMED TEARDOWN
# TIMED is run directly (no shell), timed with $EPOCHREALTIME (no fork)
timecmd() {
	local t0 t1
	[ -n "$3" ] && { bash -c "$3" >/dev/null 2>&1; }
	t0=${EPOCHREALTIME/./}
	$4 > /dev/null 2> "$T/timecmd.err" || fatal "$1: $4: $(cat "$T/timecmd.err")"
	t1=${EPOCHREALTIME/./}
	[ -n "$5" ] && { bash -c "$5" >/dev/null 2>&1; }
	echo -e "$1\t$2\t$(( t1 - t0 ))" >> "$OUT/cmds.tsv"
}
log "bind latency: $RB rounds"
for r in $(seq $RB); do
	timecmd ctl-noop $r "" "taskset -c $CPU_BENCH $EGRESSCTL policy list --pin-dir $P1" ""
	for inst in one many; do
		[ $((r % 2)) = 0 ] && { [ $inst = one ] && inst=many || inst=one; }
		pins=$P1; [ $inst = many ] && pins=$PN
		timecmd "attach-$inst" $r "mkdir -p $CGR/$inst/n$r" \
			"taskset -c $CPU_BENCH $EGRESSCTL attach $CGR/$inst/n$r --policy p4-1 --pin-dir $pins" \
			"$EGRESSCTL detach $CGR/$inst/n$r --pin-dir $pins; rmdir $CGR/$inst/n$r"
	done
done
MANY_CPU1=$(awk '{print $14+$15}' /proc/$PID_many/stat)
log "apply latency: $RA rounds"
for r in $(seq $RA); do
	timecmd apply-1 $r "" "taskset -c $CPU_BENCH $EGRESSCTL apply -f $G/apl1.txt --pin-dir $PM" \
		"$EGRESSCTL policy delete apl1 --pin-dir $PM"
	timecmd apply-100k-new $r "" "taskset -c $CPU_BENCH $EGRESSCTL apply -f $G/apl-a.txt --pin-dir $PM" ""
	# the kernel floor of that apply: the same entries into fresh maps, batched (bench/floor.c)
	taskset -c $CPU_BENCH "$B/floor" "$PM" apl 1 2>/dev/null | sed "s/^floor\t/floor-100k\t$r\t/" >> "$OUT/cmds.tsv" \
		|| fatal "floor"
	"$EGRESSCTL" policy delete apl --pin-dir "$PM" >/dev/null 2>&1
	timecmd apply-1-again $r "$EGRESSCTL apply -f $G/apl1.txt --pin-dir $PM" \
		"taskset -c $CPU_BENCH $EGRESSCTL apply -f $G/apl1.txt --pin-dir $PM" \
		"$EGRESSCTL policy delete apl1 --pin-dir $PM"
	timecmd apply-100k-replace $r "$EGRESSCTL apply -f $G/apl-a.txt --pin-dir $PM" \
		"taskset -c $CPU_BENCH $EGRESSCTL apply -f $G/apl-b.txt --pin-dir $PM" \
		"$EGRESSCTL policy delete apl --pin-dir $PM"
done

# ---------------------------------------------------------------- 5b. one rule edit, 1 vs 100,000 rules
log "rule edit latency: $RE rounds"
for r in $(seq $RE); do
	pols="p4-1 p4-100k-r"
	[ $((r % 2)) = 0 ] && pols="p4-100k-r p4-1"
	for pol in $pols; do
		n=1; [ $pol = p4-1 ] || n=100k
		timecmd "edit-deny-$n" $r "" \
			"taskset -c $CPU_BENCH $EGRESSCTL deny 127.0.0.9/32 --proto udp --policy $pol --pin-dir $PM" ""
		timecmd "edit-remove-$n" $r "" \
			"taskset -c $CPU_BENCH $EGRESSCTL remove 127.0.0.9/32 --proto udp --policy $pol --pin-dir $PM" ""
	done
done

# ---------------------------------------------------------------- 6. rule change -> next syscall
log "rule visibility: $RV rounds"
vis_pair() {	# label cgroup policy
	echo "--pair"
	echo "$1|$2|taskset -c $CPU_BENCH $EGRESSCTL deny 127.0.0.1/32 --proto udp --policy $3 --pin-dir $PM|taskset -c $CPU_BENCH $EGRESSCTL remove 127.0.0.1/32 --proto udp --policy $3 --pin-dir $PM"
}
mapfile -t VP < <(vis_pair 1-rule "$CGR/e4-1" p4-1; vis_pair 100k-r "$CGR/e4-100k-r" p4-100k-r; vis_pair 100k-d "$CGR/e4-100k-d" p4-100k-d)
"${BENCH[@]}" visible --netns "$NSP" --home "$HOME_CG" --dst 127.0.0.1 --reps $RV "${VP[@]}" \
	> "$OUT/visible.tsv" || fatal "visible"

# ---------------------------------------------------------------- 7. denial flood
log "denial flood: $RF rounds"
: > "$OUT/flood.tsv"
for r in $(seq $RF); do
	"${BENCH[@]}" flood --netns "$NSP" --home "$HOME_CG" --cg "$HOME_CG" --dst 127.0.0.1 --seconds 0.5 \
		--label allowed-unbound >> "$OUT/flood.tsv" || fatal flood
	ctl status --json --pin-dir "$PM" > "$OUT/flood-main-$r-before.json"
	"${BENCH[@]}" flood --netns "$NSP" --home "$HOME_CG" --cg "$CGR/flood" --dst 127.0.0.2 --seconds 1 \
		--label "main" --watch "$PID_main" --count-file "$OUT/main.count" >> "$OUT/flood.tsv" || fatal flood
	ctl status --json --pin-dir "$PM" > "$OUT/flood-main-$r-after.json"
	ctl status --json --pin-dir "$P1" > "$OUT/flood-one-$r-before.json"
	"${BENCH[@]}" flood --netns "$NSP" --home "$HOME_CG" --cg "$CGR/one/flood" --dst 127.0.0.2 --seconds 1 \
		--label "one" --watch "$PID_one" --count-file "$OUT/one.count" >> "$OUT/flood.tsv" || fatal flood
	ctl status --json --pin-dir "$P1" > "$OUT/flood-one-$r-after.json"
done
idle0=$(awk '{print $14+$15}' /proc/$PID_main/stat); sleep 1; idle1=$(awk '{print $14+$15}' /proc/$PID_main/stat)
echo -e "idle-main\t$idle0\t$idle1\t$(getconf CLK_TCK)" > "$OUT/idle.tsv"
echo -e "many-bind-window\t$MANY_CPU0\t$MANY_CPU1\t$(getconf CLK_TCK)" >> "$OUT/idle.tsv"

# ---------------------------------------------------------------- 8. map memory
ctl policy list --json --pin-dir "$PM" > "$OUT/policies.json"
bpftool map dump pinned "$PM/maps/egress_policies" -j > "$OUT/outer.json" 2>/dev/null
bpftool map show -j > "$OUT/maps.json" 2>/dev/null

# ---------------------------------------------------------------- 8b. memory per rule, egress and nft
# egress: bpftool's bytes_memlock of every map a policy owns (trie, host
# tables, list tables, store).  nft: the kernel objects a set adds, as /proc/slabinfo
# sees them (bytes of active objects per cache): a set loaded alone into its
# own table, the caches that grew and shrank back when the table went,
# median of 3 load/delete cycles (other tenants' allocations cancel out).
: > "$OUT/mem.tsv"
ctl status --json --pin-dir "$PM" > "$OUT/mem-status.json"
bpftool -j map dump pinned "$PM/maps/egress_hosts" > "$OUT/hosts-outer.json" 2>/dev/null
bpftool -j map dump pinned "$PM/maps/egress_lists" > "$OUT/lists-outer.json" 2>/dev/null || echo "[]" > "$OUT/lists-outer.json"
for n in p4-1 p4-1k-r p4-100k-r p4-100k-d p6-1k-r p6-100k-r; do
	id=$(python3 -c 'import json,sys; print([p["id"] for p in json.load(open(sys.argv[1]))["policies"] if p["name"]==sys.argv[2]][0])' "$OUT/mem-status.json" $n)
	st=$(bpftool -j map show pinned "$PM/store/$id" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("bytes_memlock", 0))' 2>/dev/null || echo 0)
	echo -e "store\t$n\t$id\t$st" >> "$OUT/mem.tsv"
done
slab() { awk 'NR > 2 {print $1, $2 * $4}' /proc/slabinfo | LC_ALL=C sort; }
if [ $HAVE_NFT = 1 ]; then
	for f in s4-1k-r s4-100k-r s4-100k-d s6-1k-r s6-100k-r; do
		ty=ipv4_addr; [[ $f == s6* ]] && ty=ipv6_addr
		fl="flags interval; auto-merge;"; [[ $f == *-d ]] && fl=""
		{ echo "table inet egress_mem {"; echo "  set m { type $ty; $fl elements = {"; cat "$G/$f.nft"; echo "  } }"; echo "}"; } > "$T/mem.nft"
		for i in 1 2 3; do
			slab > "$T/slab0"
			nsenter --net="$NSP" nft -f "$T/mem.nft" || fatal "nft mem $f"
			slab > "$T/slab1"
			nsenter --net="$NSP" nft delete table inet egress_mem
			slab > "$T/slab2"
			b=$(LC_ALL=C join "$T/slab0" "$T/slab1" | LC_ALL=C join - "$T/slab2" | awk '{up = $3 - $2; down = $3 - $4; if (up > 0 && down > 0.8 * up) s += up} END {print s + 0}')
			echo -e "nft\t$f\t$i\t$b" >> "$OUT/mem.tsv"
		done
	done
fi

# ---------------------------------------------------------------- report
END=$(date +%s.%N)
{
	echo "elapsed	$(echo "$END - $START" | bc)"
	echo "kernel	$(uname -r)"
	echo "machine	$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "hypervisor	$(systemd-detect-virt 2>/dev/null || grep -m1 -o hypervisor /proc/cpuinfo || echo none)"
	echo "commit	$(git describe --always --dirty 2>/dev/null || echo unknown)"
	echo "nft	$(nft --version 2>/dev/null || echo none)"
	echo "stats_sysctl	$STATS_BEFORE"
	echo "quick	$QUICK"
	echo "rate_limit	$RATE_LIMIT"
	echo "cg2	$CG2"
	echo "nft_cg	$NFT_CG level $NFT_LEVEL"
	echo "rounds	$R $RT $RV $RF $RB $RA"
} > "$OUT/meta.tsv"
python3 bench/report.py "$OUT" bench/RESULTS.md || fatal "report"
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
	/usr/bin/python3 bench/chart.py "$OUT" bench/results.png || log "no chart"
else
	log "no matplotlib: bench/results.png is an earlier run's"
fi
log "results in bench/RESULTS.md"

# shellcheck shell=bash
# tests/lib.sh - sourced by every tests/integration/*.sh.
#
# Every check prints exactly one line, "PASS: NAME" or "FAIL: NAME: WHY".
# A script sources this file, calls `setup` (root, tools, temp dir, bpffs,
# cgroup subtree, netns), does its checks, and ends with `finish`.
# Cleanup runs on every exit (trap EXIT): it kills what the test started,
# unloads egress from the test's pin dir, kills and removes the test's
# cgroups, unmounts its bpffs, deletes its netns and its temp dir.
#
# Environment: EGRESSD, EGRESSCTL, PROBE (paths; default build/...), CI.

set -u
set -o pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LIB_DIR/.." && pwd)

_abs() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$PWD/$1" ;;
	esac
}
EGRESSD=$(_abs "${EGRESSD:-$ROOT/build/egressd}")
EGRESSCTL=$(_abs "${EGRESSCTL:-$ROOT/build/egressctl}")
PROBE=$(_abs "${PROBE:-$ROOT/build/tests/probe}")

# names of everything a test creates carry the run's tag (run.sh's pid)
RUNTAG=${EGRESS_TEST_RUN:-$$}
TEST=$(basename "${0%.sh}")
TEST=${TEST#[0-9][0-9]-}
PASSES=0
FAILS=0
T=""			# temp dir
PIN=""			# pin dir on the test's own bpffs
CG2=""			# cgroup2 mount point
CGROOT=""		# the test's cgroup subtree
NS=""			# the test's netns
BG_PIDS=()		# processes to kill at exit
EGRESSD_PID=""
EGRESSD_STARTS=0
EGRESSCTL_ANYONE=""	# a copy of egressctl that uid 65534 can execute
TO=20			# bound of every step that can hang

NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
# root inside a container with Docker's default capability set
# shellcheck disable=SC2054
CONTAINER_ROOT=(setpriv --bounding-set=-all,+chown,+dac_override,+fsetid,+fowner,+mknod,+net_raw,+setgid,+setuid,+setfcap,+setpcap,+net_bind_service,+sys_chroot,+kill,+audit_write --inh-caps=-all --)

# ---------------------------------------------------------------- reporting

_oneline() { tr '\n\t' '  ' | sed 's/  */ /g; s/ $//' | cut -c1-1500; }

pass() {
	echo "PASS: $TEST/$1"
	PASSES=$((PASSES + 1))
}

# fail NAME WHY...
fail() {
	local n=$1
	shift
	echo "FAIL: $TEST/$n: $(printf '%s' "$*" | _oneline)"
	FAILS=$((FAILS + 1))
}

# A script that cannot run here: FAIL in CI, SKIP (no check counted) outside.
skip_all() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $TEST/setup: $* (CI=true: skipping is not allowed)"
		FAILS=$((FAILS + 1))
		exit 1
	fi
	echo "SKIP: $TEST: $*"
	exit 0
}

# A broken environment or a setup step that failed: always a FAIL.
die() {
	echo "FAIL: $TEST/setup: $(printf '%s' "$*" | _oneline)"
	FAILS=$((FAILS + 1))
	exit 1
}

finish() {
	if [ "$FAILS" -gt 0 ]; then
		exit 1
	fi
	exit 0
}

# ---------------------------------------------------------------- assertions

# _run CMD...: a shell function as is (its steps are bounded), anything else
# under timeout.
_run() {
	if [ "$(type -t "$1")" = function ]; then
		"$@"
	else
		timeout "$TO" "$@"
	fi
}

# check NAME CMD...: CMD (bounded) exits 0.
check() {
	local n=$1 out rc
	shift
	out=$(_run "$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "$n"
	else
		fail "$n" "exit $rc from: $* -- $out"
	fi
}

# check_not NAME CMD...: CMD (bounded) exits non-zero (not by timeout).
check_not() {
	local n=$1 out rc
	shift
	out=$(_run "$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then
		pass "$n"
	else
		fail "$n" "expected failure, got exit $rc from: $* -- $out"
	fi
}

# check_out NAME EXPECTED CMD...: CMD's stdout (bounded) is exactly EXPECTED.
check_out() {
	local n=$1 want=$2 out rc
	shift 2
	out=$(_run "$@" 2>"$T/stderr.last")
	rc=$?
	if [ "$out" = "$want" ]; then
		pass "$n"
	else
		fail "$n" "expected '$want', got '$out' (exit $rc) from: $* -- stderr: $(cat "$T/stderr.last")"
	fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected '$2', got '$3'"
	fi
}

# check_rc NAME RC CMD...: CMD (bounded) exits with status RC.
check_rc() {
	local n=$1 want=$2 out rc
	shift 2
	out=$(_run "$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ]; then
		pass "$n"
	else
		fail "$n" "expected exit $want, got $rc from: $* -- $out"
	fi
}

# check_json NAME JQ_EXPR JSON: jq -e EXPR is true on JSON.
check_json() {
	local n=$1 expr=$2 json=$3
	if printf '%s' "$json" | jq -e "$expr" >/dev/null 2>&1; then
		pass "$n"
	else
		fail "$n" "jq '$expr' not true on: $(printf '%s' "$json" | jq -c . 2>/dev/null || printf '%s' "$json")"
	fi
}

# check_bad NAME CMD...: a refused input: non-zero exit (not a timeout or a
# crash), exactly one non-empty line on stderr, nothing on stdout, and the
# exported state (all policies) unchanged.
check_bad() {
	local n=$1 rc before after lines
	shift
	before=$(ectl_raw export 2>&1)
	_run "$@" >"$T/bad.out" 2>"$T/bad.err"
	rc=$?
	after=$(ectl_raw export 2>&1)
	lines=$(wc -l <"$T/bad.err")
	# a last line without newline still counts as a line
	if [ -s "$T/bad.err" ] && [ -n "$(tail -c1 "$T/bad.err")" ]; then
		lines=$((lines + 1))
	fi
	if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $rc -ge 128 ]; then
		fail "$n" "expected a refusal (exit 1..127), got exit $rc from: $* -- stderr: $(cat "$T/bad.err")"
	elif [ "$lines" -ne 1 ] || ! grep -q '[^[:space:]]' "$T/bad.err"; then
		fail "$n" "expected one line on stderr, got $lines: $(cat "$T/bad.err")"
	elif [ -s "$T/bad.out" ]; then
		fail "$n" "expected nothing on stdout, got: $(cat "$T/bad.out")"
	elif [ "$before" != "$after" ]; then
		fail "$n" "state changed (export differs) after: $*"
	else
		pass "$n"
	fi
}

# wait_until SECONDS CMD...: poll CMD until it succeeds; 1 if it never does.
wait_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- wrappers

# in_cgroup DIR CMD...: run CMD as a member of cgroup DIR.
in_cgroup() {
	local dir=$1
	shift
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$dir" "$@"
}

# in_ns CMD...: run CMD in the test's netns (keeps /sys, cgroup2 and bpffs).
in_ns() {
	nsenter --net="/run/netns/$NS" "$@"
}

as_nobody() { timeout "$TO" "${NOBODY[@]}" "$@"; }
as_container_root() { timeout "$TO" "${CONTAINER_ROOT[@]}" "$@"; }

# run_as CGROUP WHO CMD...: CMD in the netns, as WHO (root|nobody|container)
# in CGROUP ("-" = the test's own, unbound cgroup).
run_as() {
	local cg=$1 who=$2 pre=()
	shift 2
	case $who in
	root) pre=() ;;
	nobody) pre=("${NOBODY[@]}") ;;
	container) pre=("${CONTAINER_ROOT[@]}") ;;
	*) echo "run_as: bad WHO $who" >&2; return 2 ;;
	esac
	if [ "$cg" = - ]; then
		timeout "$TO" nsenter --net="/run/netns/$NS" "${pre[@]}" "$@"
	else
		timeout "$TO" sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
			nsenter --net="/run/netns/$NS" "${pre[@]}" "$@"
	fi
}

# probe_as CGROUP WHO MODE ADDR PORT: one probe, run_as; prints the probe's word.
probe_as() {
	local cg=$1 who=$2
	shift 2
	run_as "$cg" "$who" "$PROBE" "$@"
}

# expect NAME WORD CGROUP WHO MODE ADDR PORT: the probe prints WORD.
expect() {
	local n=$1 want=$2 out
	shift 2
	out=$(probe_as "$@" 2>"$T/stderr.last")
	if [ "$out" = "$want" ]; then
		pass "$n"
	else
		fail "$n" "probe $3 $4 $5 (as $2) expected $want, got '$out' $(cat "$T/stderr.last")"
	fi
}

# ectl ARGS...: egressctl on the test's pin dir, bounded.  --pin-dir goes
# after the command word(s) ("policy add", "allow", ...), before any "--".
ectl() {
	if [ "${1:-}" = policy ] && [ $# -ge 2 ]; then
		timeout "$TO" "$EGRESSCTL" policy "$2" --pin-dir "$PIN" "${@:3}"
	elif [ $# -ge 1 ]; then
		timeout "$TO" "$EGRESSCTL" "$1" --pin-dir "$PIN" "${@:2}"
	else
		timeout "$TO" "$EGRESSCTL" --pin-dir "$PIN"
	fi
}
ectl_raw() { ectl "$@"; }

# ectl_ok NAME ARGS...: a setup step through egressctl that must work.
ectl_ok() {
	local n=$1 out
	shift
	if out=$(ectl "$@" 2>&1); then
		return 0
	fi
	fail "$n" "egressctl $* failed: $out"
	return 1
}

# ---------------------------------------------------------------- setup

cg2_mount() {
	awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo
}

require_tools() {
	local t
	for t in ip nsenter setpriv timeout jq mount umount awk; do
		command -v "$t" >/dev/null 2>&1 || die "tool '$t' not installed"
	done
	for t in "$EGRESSD" "$EGRESSCTL" "$PROBE"; do
		[ -x "$t" ] || die "$t missing (build first: make)"
	done
}

# setup [NETNS-ADDRS...]: everything a test needs.  Default netns addresses:
# 192.0.2.10 .20 .30 and 2001:db8::10 ::20 ::30 on the netns's lo.
setup() {
	trap cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	trap 'exit 129' HUP
	if [ "$(id -u)" != 0 ]; then
		skip_all "needs root (BPF, cgroups, netns, mounts)"
	fi
	require_tools
	T=$(mktemp -d "/tmp/egress-test.$RUNTAG.XXXXXX") || die "mktemp"
	chmod 755 "$T"
	# copies that uid 65534 can execute wherever the tree is checked out
	cp "$PROBE" "$T/probe" && chmod 755 "$T/probe" || die "cannot copy $PROBE"
	PROBE=$T/probe
	cp "$EGRESSCTL" "$T/egressctl" && chmod 755 "$T/egressctl" || die "cannot copy $EGRESSCTL"
	EGRESSCTL_ANYONE=$T/egressctl
	setup_bpffs
	setup_cgroup
	setup_netns "$@"
}

setup_bpffs() {
	mkdir -p "$T/bpffs"
	mount -t bpf bpf "$T/bpffs" 2>"$T/mount.err" ||
		skip_all "cannot mount bpffs: $(cat "$T/mount.err")"
	PIN=$T/bpffs/egress
}

setup_cgroup() {
	CG2=$(cg2_mount)
	[ -n "$CG2" ] || skip_all "no cgroup2 mount in /proc/self/mountinfo"
	CGROOT=$CG2/egress-test.$RUNTAG.$$.$TEST
	mkdir "$CGROOT" 2>"$T/mkdir.err" || skip_all "cannot create a cgroup: $(cat "$T/mkdir.err")"
	[ -e "$CGROOT/cgroup.kill" ] || skip_all "kernel has no cgroup.kill (needs >= 5.14)"
}

# mkcg REL...: create $CGROOT/REL (and parents) for each REL.  Not in $(...).
mkcg() {
	local r
	for r in "$@"; do
		mkdir -p "$CGROOT/$r" || die "mkdir cgroup $CGROOT/$r"
	done
}

setup_netns() {
	local a addrs=("$@")
	[ ${#addrs[@]} -gt 0 ] || addrs=(192.0.2.10 192.0.2.20 192.0.2.30 2001:db8::10 2001:db8::20 2001:db8::30)
	NS=egt${RUNTAG}n$$
	ip netns add "$NS" 2>"$T/netns.err" || { NS=""; skip_all "cannot create a netns: $(cat "$T/netns.err")"; }
	ip -n "$NS" link set lo up || die "netns lo up"
	for a in "${addrs[@]}"; do
		case $a in
		*:*) ip -n "$NS" -6 addr add "$a/128" dev lo nodad || die "add $a" ;;
		*) ip -n "$NS" addr add "$a/32" dev lo || die "add $a" ;;
		esac
	done
}

# listen NAME tcp|udp ADDR PORT: a counting listener in the netns, outside
# the test's cgroups.  Its lines go to $T/count.NAME.
listen() {
	local n=$1 proto=$2 addr=$3 port=$4
	nsenter --net="/run/netns/$NS" "$PROBE" listen "$proto" "$addr" "$port" "$T/count.$n" \
		>"$T/listen.$n.out" 2>"$T/listen.$n.err" &
	BG_PIDS+=($!)
	wait_until 10 grep -qx listening "$T/listen.$n.out" ||
		die "listener $n ($proto $addr $port) did not start: $(cat "$T/listen.$n.out" "$T/listen.$n.err")"
}

# count NAME [PATTERN]: lines at listener NAME (matching PATTERN).
count() {
	local f=$T/count.$1
	[ -e "$f" ] || { echo 0; return; }
	if [ $# -ge 2 ]; then
		grep -c -- "$2" "$f"
	else
		grep -c . "$f"
	fi
}

_count_ge() { [ "$(count "$1" "$3")" -ge "$2" ]; }

# wait_count NAME N [PATTERN]: wait (bounded) until listener NAME has >= N lines.
wait_count() {
	wait_until 10 _count_ge "$1" "$2" "${3:-.}"
}

# marker NAME ADDR PORT: send an unrestricted UDP datagram with a unique
# payload to a listener and wait until it arrived; anything sent earlier
# had its chance to arrive too.  1 if the marker never arrives.
MARKS=0
marker() {
	local n=$1 m
	MARKS=$((MARKS + 1))
	m=marker$MARKS
	PROBE_PAYLOAD=$m probe_as - root udp "$2" "$3" >/dev/null
	wait_count "$n" 1 " $m\$" || return 1
	sleep 0.2
}

# EGRESSD_PRIVATE: the options that keep an egressd from touching anything
# global (its events socket, its metrics port), for the egressd options
# this build has.
EGRESSD_PRIVATE=()
egressd_private_args() {
	local help
	[ -n "${EGRESSD_PRIVATE_DONE:-}" ] && return
	EGRESSD_PRIVATE_DONE=1
	help=$(timeout "$TO" "$EGRESSD" --help 2>&1)
	case $help in *--events-socket*) EGRESSD_PRIVATE+=(--events-socket "$T/events.sock") ;; esac
	case $help in *--metrics-addr*) EGRESSD_PRIVATE+=(--metrics-addr none) ;; esac
}

# start_egressd [ARGS...]: egressd on the test's pin dir, in the background;
# stdout (events) appended to $T/egressd.out, stderr to $T/egressd.err.N.
# Waits (bounded) for "egressd: ready".
start_egressd() {
	EGRESSD_STARTS=$((EGRESSD_STARTS + 1))
	EGRESSD_ERR=$T/egressd.err.$EGRESSD_STARTS
	egressd_private_args
	"$EGRESSD" --pin-dir "$PIN" "${EGRESSD_PRIVATE[@]}" "$@" >>"$T/egressd.out" 2>"$EGRESSD_ERR" &
	EGRESSD_PID=$!
	BG_PIDS+=("$EGRESSD_PID")
	if ! wait_until "$TO" grep -q '^egressd: ready' "$EGRESSD_ERR"; then
		return 1
	fi
}

# stop_egressd [SIGNAL]: signal egressd (TERM by default) and wait
# (bounded); its exit status goes to EGRESSD_RC ("hung" if it had to be
# killed).  Not in $(...): only this shell can wait for egressd.
EGRESSD_RC=""
stop_egressd() {
	local sig=${1:-TERM}
	EGRESSD_RC=none
	[ -n "$EGRESSD_PID" ] || return 1
	kill -"$sig" "$EGRESSD_PID" 2>/dev/null
	wait_pid "$EGRESSD_PID" 2>/dev/null
	EGRESSD_RC=$?
	[ "$EGRESSD_RC" = 124 ] && EGRESSD_RC=hung
	EGRESSD_PID=""
}

# wait_pid PID: wait (bounded) for a background PID; its exit status, or
# 124 after killing it if it did not exit in time.
wait_pid() {
	local pid=$1 i
	for ((i = 0; i < TO * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}

# events_matching JQ_FILTER: egressd's stdout lines (JSON) matching the filter.
events_matching() {
	[ -e "$T/egressd.out" ] || return 0
	jq -c "select($1)" "$T/egressd.out" 2>/dev/null
}

# ---------------------------------------------------------------- cleanup

cleanup() {
	local rc=$? pid i d m
	set +e
	trap - TERM INT HUP
	# 1. every process the test started (listeners, egressd)
	for pid in "${BG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for ((i = 0; i < 50; i++)); do
		local alive=0
		for pid in "${BG_PIDS[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for pid in "${BG_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	# 2. the pins (programs, links, maps)
	if [ -n "$PIN" ] && [ -x "$EGRESSCTL" ]; then
		timeout "$TO" "$EGRESSCTL" unload --pin-dir "$PIN" >/dev/null 2>&1
	fi
	# 3. processes left in the test's cgroups, then the cgroups, deepest first
	if [ -n "$CGROOT" ] && [ -d "$CGROOT" ]; then
		echo 1 >"$CGROOT/cgroup.kill" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			grep -q '^populated 0' "$CGROOT/cgroup.events" 2>/dev/null && break
			sleep 0.1
		done
		find "$CGROOT" -depth -type d 2>/dev/null | while read -r d; do
			rmdir "$d" 2>/dev/null || { sleep 0.2; rmdir "$d" 2>/dev/null; }
		done
		[ -d "$CGROOT" ] && echo "warning: $CGROOT left behind" >&2
	fi
	# 4. every mount under the temp dir (ours, or one egressd made), deepest first
	if [ -n "$T" ]; then
		for ((i = 0; i < 5; i++)); do
			m=$(awk -v t="$T/" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r)
			[ -z "$m" ] && break
			for d in $m; do
				umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null
			done
		done
	fi
	# 5. the netns
	if [ -n "$NS" ]; then
		ip netns del "$NS" 2>/dev/null
	fi
	# 6. the temp dir (never through a mount that is still there)
	if [ -n "$T" ] && [ -d "$T" ] && ! awk -v t="$T/" 'index($2, t) == 1 {f=1} END {exit !f}' /proc/mounts; then
		rm -rf "$T"
	fi
	exit $rc
}

# podman's cgroupfs manager puts conmon under <cgroup2>/libpod_parent.  A test
# that runs podman calls podman_parent_mark before its first podman command and
# podman_parent_clean at exit: the cgroup is removed again when this test made
# it (and it is empty), and left alone when it was there before.
PODMAN_PARENT=""
podman_parent_mark() {
	PODMAN_PARENT=$CG2/libpod_parent
	[ -d "$PODMAN_PARENT" ] && PODMAN_PARENT=""
	return 0
}
podman_parent_clean() {
	[ -n "$PODMAN_PARENT" ] && [ -d "$PODMAN_PARENT" ] &&
		find "$PODMAN_PARENT" -depth -type d -exec rmdir {} + 2>/dev/null
	return 0
}

# ---------------------------------------------------------------- egressctl killed at a bpf() call
# bpf_call_at PATTERN CMD...: runs egressctl CMD once under strace (its
# first $ARGS_BEFORE_PIN words, default 1, before --pin-dir) and prints the
# index of the main thread's first bpf() call that matches PATTERN (POLICIES
# and INFO stand for the map fds of egress_policies and egress_policy_info);
# nothing if there is none.  The index is what strace's "inject ... when="
# counts: it counts each thread's calls on its own, so only the main
# thread's (its pid is the first line's), one line a call (not the
# "<... resumed>" halves of calls another thread cut).
traced_map_fd() {	# NAME: the fd $T/trace's process opened the pinned map NAME as
	grep -o "BPF_OBJ_GET, {pathname=\"[^\"]*/maps/$1\".*= [0-9]*\$" "$T/trace" | head -1 | awk '{print $NF}'
}
bpf_call_at() {
	local pat=$1 nb=${ARGS_BEFORE_PIN:-1} pfd ifd
	shift
	strace -f -qq -e trace=bpf -o "$T/trace" "$EGRESSCTL" "${@:1:$nb}" --pin-dir "$PIN" "${@:$((nb + 1))}" >/dev/null 2>&1
	pfd=$(traced_map_fd egress_policies)
	ifd=$(traced_map_fd egress_policy_info)
	[ -n "$pfd" ] && [ -n "$ifd" ] || return 0
	pat=${pat//POLICIES/$pfd}
	pat=${pat//INFO/$ifd}
	awk 'NR == 1 {main = $1} $1 == main && !/resumed>/' "$T/trace" | grep -n -- "$pat" | head -1 | cut -d: -f1
}

# kill_at NAME PATTERN OFFSET CMD...: finds the call (bpf_call_at) after
# $RESET, then runs CMD again after $RESET with SIGKILL injected OFFSET
# bpf() calls of the main thread after it (0: that call, before it runs;
# 1: the next one); KILL_RC is its exit status.  1 (and a failed check
# NAME/trace) if the call is not in the trace.
kill_at() {
	local n=$1 pat=$2 off=$3 nb=${ARGS_BEFORE_PIN:-1} k
	shift 3
	$RESET
	k=$(bpf_call_at "$pat" "$@")
	if [ -z "$k" ]; then
		fail "$n/trace" "no '$pat' in the trace: $(head -c 600 "$T/trace")"
		return 1
	fi
	$RESET
	strace -f -qq -e trace=bpf -e inject=bpf:signal=KILL:when=$((k + off)) -o /dev/null \
		"$EGRESSCTL" "${@:1:$nb}" --pin-dir "$PIN" "${@:$((nb + 1))}" >/dev/null 2>&1 &
	wait $! 2>/dev/null
	KILL_RC=$?
}


# The prober's second entry (tests/bypass.c, a tagged payload) copied into $T,
# where the uids the tests run as can execute it: sets BYPASS.  After setup.
use_bypass() {
	local bin
	bin=$(_abs "${BYPASS:-$ROOT/build/tests/bypass}")
	[ -x "$bin" ] || die "$bin missing (make build/tests/bypass)"
	cp "$bin" "$T/bypass" && chmod 755 "$T/bypass" || die "cannot copy $bin"
	BYPASS=$T/bypass
}

#!/bin/bash
# tests/run.sh [FILTER] - run egress's unit and integration tests.
#
#   EGRESSD    egressd binary        (default build/egressd)
#   EGRESSCTL  egressctl binary      (default build/egressctl)
#   PROBE      test probe binary     (default build/tests/probe)
#   UNIT       cmocka unit tests     (default build/tests/unit_tests)
#   CI=true    a test that would skip (no root, no kernel support) fails
#
# Runs the unit tests (TAP output: one check per "ok"/"not ok" line; a
# missing binary is one failure), then every tests/integration/*.sh in
# sorted order, each in its own bash.  With FILTER, only the integration
# scripts whose file name contains FILTER run (and the unit tests only if
# FILTER is "unit").  Every check prints "PASS: name" or "FAIL: name: why";
# a script that exits non-zero without a FAIL line is one failure.
# The last line is "N passed, N failed"; the exit status is non-zero if
# anything failed.
set -u

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$TESTS_DIR/.." && pwd)

abs() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$PWD/$1" ;;
	esac
}
# relative paths are taken from the current directory (make runs us from
# the top of the tree), the defaults from the tree itself
EGRESSD=$(abs "${EGRESSD:-$ROOT/build/egressd}")
EGRESSCTL=$(abs "${EGRESSCTL:-$ROOT/build/egressctl}")
PROBE=$(abs "${PROBE:-$ROOT/build/tests/probe}")
UNIT=$(abs "${UNIT:-$ROOT/build/tests/unit_tests}")
export EGRESSD EGRESSCTL PROBE UNIT
# everything the tests create is named with this tag (see tests/lib.sh)
EGRESS_TEST_RUN=$$
export EGRESS_TEST_RUN

FILTER=${1:-}
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-900}
passed=0
failed=0
out=$(mktemp /tmp/egress-run.XXXXXX) || exit 1
trap 'rm -f "$out"' EXIT

# What this run's tests left behind if their cleanup failed.
leftovers() {
	local cg2 tag=$EGRESS_TEST_RUN
	cg2=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)
	[ -n "$cg2" ] && find "$cg2" -maxdepth 1 -name "egress-test.$tag.*" -type d 2>/dev/null
	ip netns list 2>/dev/null | awk -v p="egt${tag}n" 'index($1, p) == 1 {print "netns " $1}'
	awk -v p="/tmp/egress-test.$tag." 'index($2, p) == 1 {print "mount " $2}' /proc/mounts
	ls -d "/tmp/egress-test.$tag."* 2>/dev/null
	pgrep -af "/tmp/egress-test\\.$tag\\." 2>/dev/null | sed 's/^/process /'
}

# ---- unit tests
if [ -z "$FILTER" ] || [ "$FILTER" = unit ]; then
	if [ -x "$UNIT" ]; then
		CMOCKA_MESSAGE_OUTPUT=TAP timeout "$SCRIPT_TIMEOUT" "$UNIT" >"$out" 2>&1
		rc=$?
		cat "$out"
		p=$(grep -Ec '^[[:space:]]*ok[[:space:]]' "$out")
		f=$(grep -Ec '^[[:space:]]*not ok[[:space:]]' "$out")
		passed=$((passed + p))
		failed=$((failed + f))
		if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "FAIL: unit: $UNIT exited $rc without a failing test"
			failed=$((failed + 1))
		fi
		if [ $rc -eq 0 ] && [ "$p" -eq 0 ]; then
			echo "FAIL: unit: $UNIT ran no test"
			failed=$((failed + 1))
		fi
	else
		echo "FAIL: unit: $UNIT missing (build it: make)"
		failed=$((failed + 1))
	fi
fi

# ---- fuzz smoke: every libFuzzer target builds and survives FUZZ_SECONDS
# (default 5) on its seed corpus; 'make fuzz' runs them longer
if [ -z "$FILTER" ] || [ "$FILTER" = fuzz ]; then
	fuzz_log=$(mktemp /tmp/egress-fuzz.XXXXXX)
	if make -C "$ROOT" --no-print-directory fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-5}" >"$fuzz_log" 2>&1; then
		echo "PASS: fuzz: $(grep -c '^fuzz ' "$fuzz_log") targets, $(grep -o 'executed_units: [0-9]*' "$fuzz_log" | tr '\n' ' ')"
		passed=$((passed + 1))
	else
		echo "FAIL: fuzz: $(grep -E 'ERROR|SUMMARY|error' "$fuzz_log" | head -3 | tr '\n' ' ')"
		failed=$((failed + 1))
	fi
	rm -f "$fuzz_log"
fi

# ---- integration tests
ran=0
for script in "$TESTS_DIR"/integration/*.sh; do
	[ -e "$script" ] || continue
	name=$(basename "$script")
	case $name in
	*"$FILTER"*) ;;
	*) continue ;;
	esac
	ran=$((ran + 1))
	echo "# $name"
	timeout --kill-after=30 "$SCRIPT_TIMEOUT" bash "$script" </dev/null 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	p=$(grep -c '^PASS: ' "$out")
	f=$(grep -c '^FAIL: ' "$out")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: ${name%.sh}: exited $rc without a FAIL line"
		failed=$((failed + 1))
	fi
done
if [ -n "$FILTER" ] && [ "$FILTER" != unit ] && [ "$FILTER" != fuzz ] && [ $ran -eq 0 ]; then
	echo "FAIL: run: no integration script matches '$FILTER'"
	failed=$((failed + 1))
fi

# ---- nothing left behind
new=$(leftovers)
if [ -n "$new" ]; then
	echo "FAIL: run: tests left behind: $(printf '%s' "$new" | tr '\n' ' ')"
	failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

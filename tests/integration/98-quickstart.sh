#!/bin/bash
# 98-quickstart.sh - the README's quick start runs as written (issue 14 item
# 7): the ```sh block after "With egressd running" is extracted from
# README.md and run verbatim by bash, in the tree's directory, as a second
# shell would, with no egressctl on PATH, against an egressd of the test's
# own: its pin dir (EGRESS_PIN_DIR), events socket (EGRESS_EVENTS_SOCKET),
# its metrics on 127.0.0.1:9464 of the test's netns (the block runs in that
# netns: 1.1.1.1 is unreachable there, whatever egress decides), and a
# cgroup namespace whose cgroup2 mount is the test's subtree (egress-run/
# is made there).  Every command of the block must finish (none blocks),
# and it must show what the README says: the PermissionError, the hint,
# the default policy in status, a non-zero egress_denied_total.
source "$(dirname "$0")/../lib.sh"
setup

awk '/^With egressd running/ {f = 1} f && /^```sh$/ {b = 1; next} b && /^```$/ {exit} b {print}' \
	"$ROOT/README.md" >"$T/block.sh"
check block/extracted test -s "$T/block.sh"
check block/no-follow-before-curl sh -c "! sed 's/#.*//' '$T/block.sh' | grep -q -- '--follow'"

nsenter --net="/run/netns/$NS" "$EGRESSD" --pin-dir "$PIN" --events-socket "$T/events.sock" \
	--metrics-addr 127.0.0.1:9464 >>"$T/egressd.out" 2>"$T/egressd.err" &
EGRESSD_PID=$!
BG_PIDS+=("$EGRESSD_PID")
wait_until "$TO" grep -q '^egressd: ready' "$T/egressd.err" || die "egressd not ready: $(cat "$T/egressd.err")"
command -v curl >/dev/null || skip_all "curl not installed"

mkcg qs
# the second shell: in the test's cgroup subtree (its own cgroup namespace,
# the cgroup2 mount remounted to show it), its netns, the tree's directory,
# a PATH without egressctl
(
	cd "$ROOT" || exit 1
	echo "$BASHPID" >"$CGROOT/qs/cgroup.procs" || exit 1
	exec env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
		EGRESS_PIN_DIR="$PIN" EGRESS_EVENTS_SOCKET="$T/events.sock" \
		timeout 60 nsenter --net="/run/netns/$NS" unshare --cgroup --mount --propagation private \
		sh -c 'umount "$1" && mount -t cgroup2 cgroup2 "$1" && exec bash "$2"' sh "$CG2" "$T/block.sh"
) >"$T/block.out" 2>&1
rc=$?
cat "$T/block.out" | sed 's/^/# block: /'
check_eq run/finished-not-timed-out yes "$([ $rc != 124 ] && echo yes || echo no)"
check run/permission-error grep -q "PermissionError: \[Errno 1\] Operation not permitted" "$T/block.out"
check run/hint-shown grep -q "1\.1\.1\.1:443" "$T/block.out"
check run/status-shows-default grep -qE "^  default +default deny|^  default " "$T/block.out"
check run/metrics-count-denial grep -qE '^egress_denied_total\{.*policy="default".*\} [1-9]' "$T/block.out"
check run/no-command-not-found sh -c "! grep -q 'command not found' '$T/block.out'"
check run/egress-run-in-test-subtree test -d "$CGROOT/qs/egress-run"

finish

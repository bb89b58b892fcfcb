#!/bin/bash
# 81-run-args.sh - `egressctl run` reads its own options only before CMD
# (issue 16 item 4): `run --policy free CMD ARGS --policy=pro` runs CMD under
# free with "--policy=pro" as CMD's argument, whether or not a wrapper wrote
# "--"; CMD's own --help and --cgroup-parent are CMD's; a second --policy
# (or any repeated option) before CMD is refused with exit 2 and one line,
# and nothing runs.
source "$(dirname "$0")/../lib.sh"
setup

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
ectl_ok setup policy add free --default deny || die "policy add free"
ectl_ok setup policy add pro --default allow || die "policy add pro"
mkcg runs
RUNS=$CGROOT/runs
listen web tcp 192.0.2.20 80

erun() {
	timeout "$TO" nsenter --net="/run/netns/$NS" "$EGRESSCTL" run --pin-dir "$PIN" "$@"
}

# CMD prints the probe's verdict, then its own arguments
out=$(erun --policy free --cgroup-parent "$RUNS" sh -c '"$0" tcp 192.0.2.20 80; echo "args: $*"' \
	"$PROBE" --policy=pro 2>&1)
check_eq after-cmd/policy-is-cmds-argument "EPERM
args: --policy=pro" "$out"
out=$(erun --policy free --cgroup-parent "$RUNS" -- sh -c '"$0" tcp 192.0.2.20 80; echo "args: $*"' \
	"$PROBE" --policy pro 2>&1)
check_eq after-dashdash/policy-is-cmds-argument "EPERM
args: --policy pro" "$out"
# CMD's --help and --cgroup-parent are CMD's, not run's
out=$(erun --policy free --cgroup-parent "$RUNS" sh -c 'echo "$*"' sh --cgroup-parent /nonexistent --help 2>&1)
check_eq cmd-options-stay-cmds "--cgroup-parent /nonexistent --help" "$out"
# nothing arrived from the free runs
check_eq nothing-arrived 0 "$(count web)"

# a second --policy before CMD: refused, exit 2, one line, nothing ran
check_bad twice/policy ectl run --policy free --policy=pro --cgroup-parent "$RUNS" -- touch "$T/ran"
check_rc twice/policy-exit-2 2 ectl run --policy free --policy=pro --cgroup-parent "$RUNS" -- touch "$T/ran"
check twice/policy-names-option grep -q "'--policy' is given twice" "$T/bad.err"
check_bad twice/cgroup-parent ectl run --cgroup-parent "$RUNS" --cgroup-parent="$RUNS" -- touch "$T/ran"
check twice/nothing-ran test ! -e "$T/ran"
check twice/no-cgroup-left test -z "$(find "$RUNS" -mindepth 1 -type d)"

finish

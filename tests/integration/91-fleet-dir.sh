#!/bin/bash
# 91-fleet-dir.sh - egressd --policy-dir: the policy set from a directory.
# A ConfigMap volume updated with the kubelet's exact ..data swap (new
# file, changed file, removed file, a bad file that refuses the whole
# set), then a plain directory across a restart (edit in place, sed -i,
# rename out and back, a bound policy leaving the set, SIGHUP, a policy
# made by hand).  Every step is asserted on what the kernel enforces (real
# connects from bound cgroups), then on status and metrics.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../fleet-lib.sh"
setup

command -v curl >/dev/null || die "curl not installed"
M=http://127.0.0.1:29400
CM=$T/configmap
SRC=$T/src
mkdir -p "$CM" "$SRC"

listen proxy tcp 192.0.2.10 3128
listen web tcp 192.0.2.20 80
listen meta tcp 192.0.2.30 80

cat >"$SRC/free.policy" <<'EOF'
# free tier: the proxy only
policy add free --default deny
allow 192.0.2.10/32 --proto tcp --port 3128 --policy free
EOF
cat >"$SRC/pro.policy" <<'EOF'
# pro tier: everything but the metadata endpoint (192.0.2.30 here)
policy add pro --default allow
deny 192.0.2.30/32 --policy pro
EOF
cat >"$SRC/gone.policy" <<'EOF'
policy add gone --default deny
EOF
cm_update "$CM" "$SRC" || die "configmap layout"

start_egressd --policy-dir "$CM" --metrics-addr 127.0.0.1:29400 ||
	die "egressd not ready: $(cat "$EGRESSD_ERR")"
mkcg free pro
ectl_ok setup attach "$CGROOT/free" --policy free || die "attach free"
ectl_ok setup attach "$CGROOT/pro" --policy pro || die "attach pro"
ectl_ok setup policy add manual --default deny || die "policy add manual"

# ---- at start
expect start/free-proxy ok "$CGROOT/free" nobody tcp 192.0.2.10 3128
expect start/free-direct EPERM "$CGROOT/free" nobody tcp 192.0.2.20 80
expect start/pro-direct ok "$CGROOT/pro" nobody tcp 192.0.2.20 80
expect start/pro-metadata EPERM "$CGROOT/pro" nobody tcp 192.0.2.30 80
ps1=$(pset "$PIN")
check_json start/status-policy-set \
	".source == \"dir:$CM\" and (.digest|length) == 64 and (.policies|sort) == [\"free\",\"gone\",\"pro\"] and .retained == [] and .errors_total == 0" "$ps1"
d1=$(printf '%s' "$ps1" | jq -r .digest)
check_eq start/metric-info 1 "$(metric $M "egress_policy_set_info{source=\"dir:$CM\",digest=\"$d1\"}")"
check_eq start/metric-errors 0 "$(metric $M "egress_policy_set_errors_total{source=\"dir:$CM\"}")"
ts=$(metric $M "egress_policy_set_applied_timestamp_seconds{source=\"dir:$CM\"}")
check start/metric-applied-timestamp awk -v t="$ts" -v now="$(date +%s)" 'BEGIN { exit !(t > now - 60 && t <= now + 1) }'

# ---- the kubelet's swap: a changed file, a new one, a removed one (unbound)
cat >>"$SRC/free.policy" <<'EOF'
allow 192.0.2.20/32 --proto tcp --port 80 --policy free
EOF
printf 'policy add extra --default allow\n' >"$SRC/extra.policy"
rm "$SRC/gone.policy"
n0=$(grep -c "policy set from dir:$CM applied" "$EGRESSD_ERR")
cm_update "$CM" "$SRC" || die "configmap swap"
expect_soon swap/changed-file-enforced ok "$CGROOT/free" 192.0.2.20 80
expect swap/free-proxy-still ok "$CGROOT/free" nobody tcp 192.0.2.10 3128
check swap/status-after wait_until 10 sh -c "'$EGRESSCTL' status --pin-dir '$PIN' --json | jq -e '.policy_set | .policies == [\"extra\",\"free\",\"pro\"] and .retained == []'"
sleep 0.5
# read from ..data: one snapshot, never a mix of old and new files
check_eq swap/one-apply-per-swap $((n0 + 1)) "$(grep -c "policy set from dir:$CM applied" "$EGRESSD_ERR")"
out=$(ectl policy list 2>&1)
check_not swap/removed-policy-deleted grep -qw gone <<<"$out"
check swap/hand-made-policy-kept grep -qw manual <<<"$out"
check swap/old-timestamp-dir-gone test "$(find "$CM" -maxdepth 1 -name '..2*' | wc -l)" = 1
check swap/logged grep -q "left the set from dir:$CM: deleted" "$EGRESSD_ERR"

# ---- a bad file: the whole set is refused (the good change beside it too)
d2=$(pset "$PIN" | jq -r .digest)
cp "$SRC/free.policy" "$T/free.good"
printf 'policy add free --default deny\nallow 192.0.2.10/33 --policy free\n' >"$SRC/free.policy"
sed -i 's/^deny 192.0.2.30/deny 192.0.2.20/' "$SRC/pro.policy"	# good, but in a bad set
cm_update "$CM" "$SRC" || die "configmap swap"
check bad/logged-with-file-and-line wait_until 10 grep -q "refused.*$CM/free.policy:2: " "$EGRESSD_ERR"
expect bad/last-good-free ok "$CGROOT/free" nobody tcp 192.0.2.20 80
expect bad/last-good-pro-direct ok "$CGROOT/pro" nobody tcp 192.0.2.20 80
expect bad/last-good-pro-metadata EPERM "$CGROOT/pro" nobody tcp 192.0.2.30 80
check_json bad/status ".digest == \"$d2\" and .errors_total == 1 and (.last_error|test(\"free.policy:2: \"))" "$(pset "$PIN")"
check_eq bad/metric-errors 1 "$(metric $M "egress_policy_set_errors_total{source=\"dir:$CM\"}")"
check_eq bad/metric-digest-unchanged 1 "$(metric $M "egress_policy_set_info{source=\"dir:$CM\",digest=\"$d2\"}")"
cp "$T/free.good" "$SRC/free.policy"
cm_update "$CM" "$SRC" || die "configmap swap"
expect_soon bad/fixed-set-applied EPERM "$CGROOT/pro" 192.0.2.20 80
check bad/fixed-status wait_until 10 sh -c "'$EGRESSCTL' status --pin-dir '$PIN' --json | jq -e '.policy_set | .last_error == null and .errors_total == 1'"

# ---- a plain directory, across a restart: ownership is pinned
stop_egressd
P=$T/plain
mkdir "$P"
cp "$T/free.good" "$P/free.policy"
cp "$SRC/pro.policy" "$P/pro.policy"
start_egressd --policy-dir "$P" --metrics-addr 127.0.0.1:29400 ||
	die "egressd not ready: $(cat "$EGRESSD_ERR")"
out=$(ectl policy list 2>&1)
check_not restart/owned-policy-deleted grep -qw extra <<<"$out"
check restart/hand-made-policy-kept grep -qw manual <<<"$out"
check_json restart/source ".source == \"dir:$P\" and .policies == [\"free\",\"pro\"]" "$(pset "$PIN")"

# an edit in place (IN_CLOSE_WRITE)
echo 'deny 192.0.2.20/32 --proto tcp --port 80 --policy free' >"$P/free.policy.tmp"
grep -v '192.0.2.20' "$P/free.policy" >>"$P/free.policy.tmp"
cat "$P/free.policy.tmp" >"$P/free.policy"
rm "$P/free.policy.tmp"
expect_soon plain/edit-in-place EPERM "$CGROOT/free" 192.0.2.20 80
# sed -i (a new file renamed over the old: IN_MOVED_TO)
sed -i 's/^deny 192.0.2.20/allow 192.0.2.20/' "$P/free.policy"
expect_soon plain/sed-i ok "$CGROOT/free" 192.0.2.20 80

# a bound policy leaves the set: retained and still enforced
mv "$P/pro.policy" "$P/pro.policy.off"
check retained/logged wait_until 10 grep -q "policy 'pro' left the set.*bound to it: retained" "$EGRESSD_ERR"
expect retained/still-enforced EPERM "$CGROOT/pro" nobody tcp 192.0.2.20 80
expect retained/still-allows ok "$CGROOT/pro" nobody tcp 192.0.2.10 3128
check_json retained/status '.policies == ["free"] and .retained == ["pro"]' "$(pset "$PIN")"
check_eq retained/metric 1 "$(metric $M "egress_policy_set_retained{source=\"dir:$P\",policy=\"pro\"}")"
check retained/in-policy-list grep -qw pro <<<"$(ectl policy list 2>&1)"
# its last cgroup goes: the policy goes (egressd looks every few seconds)
ectl_ok retained/detach detach "$CGROOT/pro" || die "detach pro"
check retained/deleted-when-unbound wait_until 15 sh -c "! '$EGRESSCTL' policy list --pin-dir '$PIN' | grep -qw pro"
check retained/status-after wait_until 10 sh -c "'$EGRESSCTL' status --pin-dir '$PIN' --json | jq -e '.policy_set.retained == []'"
# renamed back: the set names it again
mv "$P/pro.policy.off" "$P/pro.policy"
check rename-back/policy-back wait_until 10 sh -c "'$EGRESSCTL' policy list --pin-dir '$PIN' | grep -qw pro"
ectl_ok rename-back/attach attach "$CGROOT/pro" --policy pro || die "attach pro"
expect rename-back/enforced EPERM "$CGROOT/pro" nobody tcp 192.0.2.20 80

# a file that is not *.policy is not in the set; two files naming one policy refuse the set
echo 'policy add ignored --default deny' >"$P/README.txt"
printf 'policy add free --default allow\n' >"$P/dup.policy"
check dup/refused wait_until 10 grep -Eq "($P/free.policy: policy 'free' is also in $P/dup.policy|$P/dup.policy: policy 'free' is also in $P/free.policy)" "$EGRESSD_ERR"
expect dup/last-good-kept EPERM "$CGROOT/free" nobody tcp 192.0.2.30 80
rm "$P/dup.policy"
check_not dup/txt-ignored grep -qw ignored <<<"$(ectl policy list 2>&1)"

# SIGHUP: read again and applied even though nothing changed
before=$(pset "$PIN" | jq .applied_timestamp)
sleep 0.1
kill -HUP "$EGRESSD_PID"
check sighup/logged wait_until 10 grep -q "SIGHUP: reading the policies from dir:$P again" "$EGRESSD_ERR"
check sighup/applied-again wait_until 10 sh -c "[ \"\$('$EGRESSCTL' status --pin-dir '$PIN' --json | jq '.policy_set.applied_timestamp > $before')\" = true ]"
check sighup/still-running kill -0 "$EGRESSD_PID"

# a bad set at start: egressd starts, enforces what is pinned, counts the error
stop_egressd
printf 'allow nonsense --policy free\n' >"$P/free.policy"
start_egressd --policy-dir "$P" --metrics-addr 127.0.0.1:29400 ||
	fail start-bad/egressd-starts "$(cat "$EGRESSD_ERR")"
expect start-bad/pinned-set-enforced ok "$CGROOT/free" nobody tcp 192.0.2.20 80
check_json start-bad/status '.errors_total >= 2 and (.last_error|test("free.policy:1: "))' "$(pset "$PIN")"

# bad usage
check_rc usage/two-sets 2 "$EGRESSD" --pin-dir "$PIN" --policy-dir "$P" --etcd http://127.0.0.1:23799 --etcd-prefix /x/
check_rc usage/missing-dir 1 "$EGRESSD" --pin-dir "$T/bpffs/other" --metrics-addr none \
	--events-socket "$T/other.sock" --policy-dir "$T/nonexistent"
finish

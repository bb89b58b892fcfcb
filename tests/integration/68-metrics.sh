#!/bin/bash
# 68-metrics.sh - egressd's Prometheus endpoint (issue 3).
#
# - GET /metrics on --metrics-addr passes `promtool check metrics`; /healthz
#   is 200; every other path is 404.
# - Every family of the contract, with its type: egress_denied_total and
#   egress_allowed_total {policy,hook} exactly what the test caused,
#   egress_rules{policy,action} and egress_bound_cgroups{policy} what it
#   configured, egress_build_info{version,kernel,libbpf} 1, the event
#   counters (delivered + suppressed + dropped = denied), and
#   egress_cgroup_denied_total{cgroup,policy} for the --metrics-cgroup-limit
#   cgroups with the most denials only; a removed cgroup's series goes.
# - A real Prometheus server (own config, TSDB and port) scrapes egressd:
#   sum(egress_denied_total) is exactly the number of denials the test caused.
# - Counters survive an egressd restart (exact values, denials made while it
#   was down included; Prometheus sees no counter reset).
# - --metrics-addr none serves nothing; a bad or busy address is refused.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../prom-lib.sh"
setup
# the same egressd for every start, whatever is rebuilt meanwhile
cp "$EGRESSD" "$T/egressd" || die "cannot copy $EGRESSD"
EGRESSD=$T/egressd
for t in curl ss python3 bpftool; do
	command -v "$t" >/dev/null 2>&1 || die "tool '$t' not installed"
done
for t in promtool prometheus; do
	command -v "$t" >/dev/null 2>&1 || skip_all "'$t' not installed (Debian package prometheus)"
done

MPORT=$(free_port) || die "no free port"
PPORT=$(free_port) || die "no free port"
LIMIT=2
start_egressd --metrics-addr "127.0.0.1:$MPORT" --metrics-cgroup-limit "$LIMIT" ||
	die "egressd not ready: $(cat "$EGRESSD_ERR")"
check ready-line-names-address grep -q "metrics on 127.0.0.1:$MPORT" "$EGRESSD_ERR"

# ------------------------------------------------------------ HTTP

check_eq http/metrics-200 200 "$(http_code "$MPORT" /metrics)"
check_eq http/healthz-200 200 "$(http_code "$MPORT" /healthz)"
for p in / /metric /metrics/ /metrics/x /metricsx /healthz/x /api/v1/query /favicon.ico; do
	check_eq "http/404$p" 404 "$(http_code "$MPORT" "$p")"
done
ctype=$(curl -s -o /dev/null -w '%{content_type}' --max-time 5 "http://127.0.0.1:$MPORT/metrics")
case $ctype in
text/plain*version=0.0.4*) pass http/content-type ;;
*) fail http/content-type "'$ctype'" ;;
esac
check_eq http/listens-on-loopback-only "127.0.0.1:$MPORT" \
	"$(ss -Hltnp 2>/dev/null | grep "pid=$EGRESSD_PID," | awk '{print $4}' | tr '\n' ' ' | sed 's/ $//')"

# ------------------------------------------------------------ what the test configures and causes

mkcg a b c d e
# free: allow 192.0.2.10 tcp 3128 and 192.0.2.30 udp 53, deny 192.0.2.20 tcp 80;
# pro: deny 169.254.169.254 and 2001:db8::99 tcp 25
ectl_ok setup apply -f "$ROOT/tests/fixtures/metrics.policy" || die "apply tests/fixtures/metrics.policy"
for c in a b c; do
	ectl_ok setup attach "$CGROOT/$c" --policy free || die "attach $c"
done
ectl_ok setup attach "$CGROOT/d" --policy pro || die "attach d"
listen proxy tcp 192.0.2.10 3128
listen web tcp 192.0.2.20 8080

DENIED=0	# every denial this test causes
# probes CGROUP WANT_WORD MODE ADDR PORT N: N attempts as nobody, all WANT_WORD
probes() {
	local cg=$1 want=$2 mode=$3 addr=$4 port=$5 n=$6 out
	out=$(in_cgroup "$CGROOT/$cg" nsenter --net="/run/netns/$NS" "${NOBODY[@]}" timeout "$TO" \
		"$PROBE" loop "$mode" "$addr" "$port" "$n" 2>&1)
	if [ "$out" != "$want=$n" ]; then
		fail "probes/$cg-$mode-$addr-$port" "expected $want=$n, got '$out'"
		return 1
	fi
	[ "$want" = EPERM ] && DENIED=$((DENIED + n))
	return 0
}
probes a EPERM tcp 192.0.2.20 80 5
probes a EPERM tcp 2001:db8::20 443 1
probes b EPERM tcp 192.0.2.20 81 3
probes c EPERM udp 192.0.2.20 53 1
probes d EPERM tcp 169.254.169.254 80 1
probes d EPERM udp 169.254.169.254 53 1
probes a ok tcp 192.0.2.10 3128 2
probes d ok tcp 192.0.2.20 8080 1
wait_count proxy 2
wait_count web 1

scrape "$MPORT" /metrics "$T/m1" || die "scrape: $(cat "$T/curl.err")"
# promtool: the exposition format and Prometheus's naming rules
if timeout "$TO" promtool check metrics <"$T/m1" >"$T/promtool.out" 2>&1; then
	pass promtool/check-metrics
else
	fail promtool/check-metrics "$(cat "$T/promtool.out")"
fi
check_eq promtool/no-lint-findings "" "$(cat "$T/promtool.out")"

# every family, with HELP and TYPE
for ft in egress_denied_total:counter egress_allowed_total:counter egress_events_dropped_total:counter \
	egress_events_delivered_total:counter egress_events_suppressed_total:counter \
	egress_cgroup_denied_total:counter egress_rules:gauge egress_bound_cgroups:gauge \
	egress_build_info:gauge; do
	f=${ft%%:*} ty=${ft#*:}
	if grep -qx "# TYPE $f $ty" "$T/m1" && grep -q "^# HELP $f " "$T/m1"; then
		pass "family/$f"
	else
		fail "family/$f" "no '# TYPE $f $ty' or HELP: $(grep -- "$f" "$T/m1" | head -3)"
	fi
done
# the label sets are exactly the contract's
labels_are() { # NAME JQ-KEYS
	local got
	got=$(plabels "$T/m1" "$1" | jq -c 'del(.__value__) | keys' | sort -u | tr '\n' ' ' | sed 's/ $//')
	check_eq "labels/$1" "$2" "$got"
}
labels_are egress_denied_total '["hook","policy"]'
labels_are egress_allowed_total '["hook","policy"]'
labels_are egress_events_suppressed_total '["policy"]'
labels_are egress_rules '["action","policy"]'
labels_are egress_bound_cgroups '["policy"]'
labels_are egress_build_info '["kernel","libbpf","version"]'
labels_are egress_cgroup_denied_total '["cgroup","policy"]'
check_eq labels/events-dropped-no-labels "[]" "$(plabels "$T/m1" egress_events_dropped_total | jq -c 'del(.__value__) | keys')"
check_eq labels/events-delivered-no-labels "[]" "$(plabels "$T/m1" egress_events_delivered_total | jq -c 'del(.__value__) | keys')"
check_eq labels/policies "default free pro" \
	"$(plabels "$T/m1" egress_denied_total | jq -r .policy | sort -u | tr '\n' ' ' | sed 's/ $//')"
for h in connect4 connect6 sendmsg4 sendmsg6; do
	check_eq "labels/hook-$h" 3 "$(pcount "$T/m1" egress_denied_total hook=$h)"
done

# exact counters
m() { pval "$T/m1" "$@"; }
check_eq counters/denied-free-connect4 8 "$(m egress_denied_total policy=free hook=connect4)"
check_eq counters/denied-free-connect6 1 "$(m egress_denied_total policy=free hook=connect6)"
check_eq counters/denied-free-sendmsg4 1 "$(m egress_denied_total policy=free hook=sendmsg4)"
check_eq counters/denied-free-total 10 "$(m egress_denied_total policy=free)"
check_eq counters/denied-pro-connect4 1 "$(m egress_denied_total policy=pro hook=connect4)"
check_eq counters/denied-pro-sendmsg4 1 "$(m egress_denied_total policy=pro hook=sendmsg4)"
check_eq counters/denied-pro-total 2 "$(m egress_denied_total policy=pro)"
check_eq counters/denied-default 0 "$(m egress_denied_total policy=default)"
check_eq counters/denied-sum "$DENIED" "$(m egress_denied_total)"
check_eq counters/allowed-free-connect4 2 "$(m egress_allowed_total policy=free hook=connect4)"
check_eq counters/allowed-pro-connect4 1 "$(m egress_allowed_total policy=pro hook=connect4)"
check_eq counters/allowed-free-sendmsg4 0 "$(m egress_allowed_total policy=free hook=sendmsg4)"
check_eq counters/allowed-default 0 "$(m egress_allowed_total policy=default)"
# events: delivered + suppressed + dropped = denied, once egressd read them
_identity() {
	scrape "$MPORT" /metrics "$T/mi" || return 1
	[ "$(pval "$T/mi" egress_denied_total)" = \
		"$(($(pval "$T/mi" egress_events_delivered_total) + $(pval "$T/mi" egress_events_suppressed_total) + $(pval "$T/mi" egress_events_dropped_total)))" ]
}
if wait_until 10 _identity; then
	pass counters/events-identity
else
	fail counters/events-identity "$(grep -E '^egress_(events|denied)' "$T/mi")"
fi
check_eq counters/events-delivered "$DENIED" "$(pval "$T/mi" egress_events_delivered_total)"
check_eq counters/events-suppressed 0 "$(pval "$T/mi" egress_events_suppressed_total)"
check_eq counters/events-dropped 0 "$(pval "$T/mi" egress_events_dropped_total)"
check_eq counters/suppressed-per-policy 3 "$(pcount "$T/mi" egress_events_suppressed_total)"

# gauges: what was configured
nallow=$(ectl list --policy default --json 2>/dev/null | jq '[.[] | select(.action == "allow")] | length')
ndeny=$(ectl list --policy default --json 2>/dev/null | jq '[.[] | select(.action == "deny")] | length')
check_eq rules/free "2 1" "$(m egress_rules policy=free action=allow) $(m egress_rules policy=free action=deny)"
check_eq rules/pro "0 2" "$(m egress_rules policy=pro action=allow) $(m egress_rules policy=pro action=deny)"
check_eq rules/default "$nallow $ndeny" "$(m egress_rules policy=default action=allow) $(m egress_rules policy=default action=deny)"
check_eq rules/series 6 "$(pcount "$T/m1" egress_rules)"
check_eq bound/free 3 "$(m egress_bound_cgroups policy=free)"
check_eq bound/pro 1 "$(m egress_bound_cgroups policy=pro)"
check_eq bound/default 0 "$(m egress_bound_cgroups policy=default)"
check_eq build-info/one-series 1 "$(pcount "$T/m1" egress_build_info)"
check_json build-info/labels "(.__value__ == 1) and (.kernel == \"$(uname -r)\") and (.version | length > 0) and (.libbpf | test(\"^v?[0-9]+\\\\.[0-9]+\"))" \
	"$(plabels "$T/m1" egress_build_info)"

# cgroups: the top LIMIT by denials (a 6, b 3; not d 2, c 1)
check_eq cgroups/limit "$LIMIT" "$(pcount "$T/m1" egress_cgroup_denied_total)"
check_eq cgroups/top-a 6 "$(m egress_cgroup_denied_total cgroup="$CGROOT/a" policy=free)"
check_eq cgroups/top-b 3 "$(m egress_cgroup_denied_total cgroup="$CGROOT/b" policy=free)"
check_eq cgroups/not-c 0 "$(pcount "$T/m1" egress_cgroup_denied_total cgroup="$CGROOT/c")"
check_eq cgroups/not-d 0 "$(pcount "$T/m1" egress_cgroup_denied_total cgroup="$CGROOT/d")"

# ------------------------------------------------------------ a real Prometheus

pgrep -x prometheus >/dev/null 2>&1 && echo "# note: another prometheus runs on this machine; this test uses its own"
prom_start "$PPORT" "127.0.0.1:$MPORT" || die "prometheus not ready on $PPORT: $(tail -5 "$T/prom/log")"
_prom_is() { [ "$(prom_query "$1")" = "$2" ]; }
if wait_until 20 _prom_is 'up{job="egress"}' 1; then
	pass prometheus/target-up
else
	fail prometheus/target-up "up = '$(prom_query 'up{job="egress"}')': $(tail -3 "$T/prom/log")"
fi
if wait_until 20 _prom_is 'sum(egress_denied_total)' "$DENIED"; then
	pass prometheus/sum-denied-exact
else
	fail prometheus/sum-denied-exact "expected $DENIED, got '$(prom_query 'sum(egress_denied_total)')'"
fi
check_eq prometheus/free-connect4 8 "$(prom_query 'sum(egress_denied_total{policy="free",hook="connect4"})')"
check_eq prometheus/build-info 1 "$(prom_query 'egress_build_info')"
check_eq prometheus/cgroup-series "$LIMIT" "$(prom_query 'count(egress_cgroup_denied_total)')"

# more denials: Prometheus follows, exactly
probes c EPERM tcp 192.0.2.20 82 4	# c: 5, now above b
probes b EPERM udp 2001:db8::20 53 7	# b: 10
if wait_until 20 _prom_is 'sum(egress_denied_total)' "$DENIED"; then
	pass prometheus/sum-denied-follows
else
	fail prometheus/sum-denied-follows "expected $DENIED, got '$(prom_query 'sum(egress_denied_total)')'"
fi
scrape "$MPORT" /metrics "$T/m2" || fail scrape/m2 "$(cat "$T/curl.err")"
check_eq cgroups/top-changes "$CGROOT/b=10 $CGROOT/a=6" \
	"$(plabels "$T/m2" egress_cgroup_denied_total | jq -r '"\(.cgroup)=\(.__value__|floor)"' | sort -t= -k2 -rn | tr '\n' ' ' | sed 's/ $//')"

# a removed cgroup's series disappears (a: 6 -> c: 5 takes its place)
A_ID=$(stat -c %i "$CGROOT/a")
rmdir "$CGROOT/a" || fail cgroups/rmdir "cannot remove $CGROOT/a"
scrape "$MPORT" /metrics "$T/m3" || fail scrape/m3 "$(cat "$T/curl.err")"
check_eq cgroups/removed-disappears 0 "$(pcount "$T/m3" egress_cgroup_denied_total cgroup="$CGROOT/a")"
check_eq cgroups/next-takes-its-place "$CGROOT/b=10 $CGROOT/c=5" \
	"$(plabels "$T/m3" egress_cgroup_denied_total | jq -r '"\(.cgroup)=\(.__value__|floor)"' | sort -t= -k2 -rn | tr '\n' ' ' | sed 's/ $//')"
# its denials still count in the policy's totals
check_eq cgroups/removed-still-in-totals "$DENIED" "$(pval "$T/m3" egress_denied_total)"
_bound_free() { scrape "$MPORT" /metrics "$T/mb" && [ "$(pval "$T/mb" egress_bound_cgroups policy=free)" = 2 ]; }
if wait_until 15 _bound_free; then
	pass bound/removed-cgroup-not-counted
else
	fail bound/removed-cgroup-not-counted "egress_bound_cgroups{policy=\"free\"} = $(pval "$T/mb" egress_bound_cgroups policy=free) after rmdir"
fi
ectl_ok bound/detach detach "$CGROOT/d"
scrape "$MPORT" /metrics "$T/m4"
check_eq bound/detached "0 2" "$(pval "$T/m4" egress_bound_cgroups policy=pro) $(pval "$T/m4" egress_rules policy=pro action=deny)"
ectl_ok rules/add allow 203.0.113.0/24 --policy pro
ectl_ok rules/add-deny deny 203.0.113.7/32 --proto udp --policy pro
scrape "$MPORT" /metrics "$T/m4"
check_eq rules/live "1 3" "$(pval "$T/m4" egress_rules policy=pro action=allow) $(pval "$T/m4" egress_rules policy=pro action=deny)"
ectl_ok rules/remove remove 169.254.169.254/32 --policy pro
scrape "$MPORT" /metrics "$T/m4"
check_eq rules/live-remove "1 2" "$(pval "$T/m4" egress_rules policy=pro action=allow) $(pval "$T/m4" egress_rules policy=pro action=deny)"
ectl_ok bound/attach attach "$CGROOT/d" --policy pro

# the kernel-side table forgets the removed cgroup too (egressd's periodic
# sweep), so that it stays bounded on a node where sandboxes come and go
cg_keys() { # the cgroup ids in egress_cg_denied, one a line
	bpftool -j map dump pinned "$PIN/maps/egress_cg_denied" 2>/dev/null |
		jq -r '.[] | (.formatted.key.cgroup_id // empty)'
}
_forgotten() { ! cg_keys | grep -qx "$A_ID"; }
if cg_keys | grep -qx "$(stat -c %i "$CGROOT/b")"; then
	if wait_until 15 _forgotten; then
		pass cgroups/removed-swept-from-map
	else
		fail cgroups/removed-swept-from-map "cgroup id $A_ID still in egress_cg_denied: $(cg_keys | tr '\n' ' ')"
	fi
else
	fail cgroups/removed-swept-from-map "cannot read egress_cg_denied with bpftool: $(bpftool -j map dump pinned "$PIN/maps/egress_cg_denied" 2>&1 | head -c 300)"
fi

# ------------------------------------------------------------ restart

wait_until 10 _identity
scrape "$MPORT" /metrics "$T/before" || fail restart/scrape-before "$(cat "$T/curl.err")"
stop_egressd TERM
check_eq restart/stopped "000" "$(http_code "$MPORT" /metrics)"
# denials while egressd is down: enforced and counted all the same
probes b EPERM tcp 192.0.2.20 83 2
start_egressd --metrics-addr "127.0.0.1:$MPORT" --metrics-cgroup-limit "$LIMIT" ||
	die "egressd (restart) not ready: $(cat "$EGRESSD_ERR")"
scrape "$MPORT" /metrics "$T/after" || fail restart/scrape-after "$(cat "$T/curl.err")"
# every counter series: after >= before; all denied/allowed of the connect
# and sendmsg hooks exactly as before, but free/connect4 (+2)
python3 - "$T/before" "$T/after" >"$T/restart.diff" <<'EOF'
import re, sys
def load(p):
    d = {}
    for l in open(p):
        if l.startswith("#") or not l.strip():
            continue
        k, v = l.rsplit(" ", 1)
        d[k] = float(v)
    return d
b, a = load(sys.argv[1]), load(sys.argv[2])
for k, v in b.items():
    name = k.split("{")[0]
    if not name.endswith("_total"):
        continue
    if name == "egress_cgroup_denied_total":
        continue  # which series show is a top-N
    if k not in a:
        print("missing after restart:", k)
    elif a[k] < v:
        print("went down:", k, v, "->", a[k])
    elif name in ("egress_denied_total", "egress_allowed_total") and re.search(r'hook="(connect|sendmsg)[46]"', k):
        want = v + (2 if name == "egress_denied_total" and 'policy="free"' in k and 'hook="connect4"' in k else 0)
        if a[k] != want:
            print("not exact:", k, v, "->", a[k], "expected", want)
EOF
check_eq restart/counters-kept "" "$(cat "$T/restart.diff")"
check_eq restart/free-connect4 $((8 + 4 + 2)) "$(pval "$T/after" egress_denied_total policy=free hook=connect4)"
check_eq restart/sum "$DENIED" "$(pval "$T/after" egress_denied_total)"
check_eq restart/cgroup-b $((10 + 2)) "$(pval "$T/after" egress_cgroup_denied_total cgroup="$CGROOT/b")"
check_eq restart/gauges "2 1" "$(pval "$T/after" egress_bound_cgroups policy=free) $(pval "$T/after" egress_bound_cgroups policy=pro)"
if wait_until 20 _identity; then
	pass restart/events-identity
else
	fail restart/events-identity "$(grep -E '^egress_(events|denied)' "$T/mi")"
fi
if wait_until 20 _prom_is 'sum(egress_denied_total)' "$DENIED"; then
	pass prometheus/sum-denied-after-restart
else
	fail prometheus/sum-denied-after-restart "expected $DENIED, got '$(prom_query 'sum(egress_denied_total)')'"
fi
check_eq prometheus/no-counter-reset 0 "$(prom_query 'sum(resets(egress_denied_total[10m]))')"

# ------------------------------------------------------------ addresses

stop_egressd TERM
start_egressd --metrics-addr none || die "egressd (metrics none) not ready: $(cat "$EGRESSD_ERR")"
check_eq none/nothing-on-port "000" "$(http_code "$MPORT" /metrics)"
check_eq none/no-listening-socket "" "$(ss -Hltnp 2>/dev/null | grep "pid=$EGRESSD_PID,")"
check none/ready-says-none grep -q 'metrics on none' "$EGRESSD_ERR"
stop_egressd TERM
# a busy address (Prometheus's) or a bad one: refused, not run without metrics
for bad in "127.0.0.1:$PPORT" "127.0.0.1" "127.0.0.1:notaport"; do
	timeout "$TO" "$EGRESSD" --pin-dir "$PIN" "${EGRESSD_PRIVATE[@]}" --metrics-addr "$bad" \
		>"$T/bad.out" 2>"$T/bad.err"
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && ! grep -q '^egressd: ready' "$T/bad.err" &&
		grep -q -- 'metrics' "$T/bad.err"; then
		pass "bad-addr/$bad"
	else
		fail "bad-addr/$bad" "exit $rc: $(cat "$T/bad.err")"
	fi
done

finish

#!/bin/bash
# 69-monitoring.sh - the alert rules and the Grafana dashboard (issue 13).
#
# - deploy/prometheus/egress-alerts.yml passes `promtool check rules`; its
#   unit tests (egress-alerts.test.yml) pass `promtool test rules`, and they
#   cover every alert of the file both firing and not firing.
# - A real Prometheus (tests/prom-lib.sh) scrapes a real egressd with a bound
#   cgroup that made denials, and loads the alert rules: every rule is
#   healthy there, and EgressdDown/EgressNotEnforcing stay quiet.
# - Every query of deploy/grafana/egress-dashboard.json (panels and template
#   variables; $instance = .*, $__rate_interval = 30s) is run against that
#   Prometheus and returns series, the policy-set ones (egress_policy_set_*)
#   included: egressd runs with a --policy-dir.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../prom-lib.sh"

RULES=$ROOT/deploy/prometheus/egress-alerts.yml
RTEST=$ROOT/deploy/prometheus/egress-alerts.test.yml
DASH=$ROOT/deploy/grafana/egress-dashboard.json

for t in promtool prometheus; do
	command -v "$t" >/dev/null 2>&1 || skip_all "'$t' not installed (Debian package prometheus)"
done
python3 -c 'import yaml' 2>/dev/null || skip_all "python3-yaml not installed (sh scripts/deps.sh test)"
setup
for t in curl ss python3; do
	command -v "$t" >/dev/null 2>&1 || die "tool '$t' not installed"
done

# ------------------------------------------------------------ alert rules

check rules/promtool-check promtool check rules "$RULES"
check rules/promtool-test sh -c "cd '$(dirname "$RTEST")' && promtool test rules '$(basename "$RTEST")'"
# every alert: one eval where it fires, one where it does not
python3 - "$RULES" "$RTEST" >"$T/coverage" <<'EOF'
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
tests = yaml.safe_load(open(sys.argv[2]))
alerts = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
firing, quiet = set(), set()
for t in tests["tests"]:
    for a in t.get("alert_rule_test", []):
        (firing if a.get("exp_alerts") else quiet).add(a["alertname"])
for a in alerts:
    print(a, "firing" if a in firing else "-", "quiet" if a in quiet else "-")
EOF
nalerts=0
while read -r a f q; do
	nalerts=$((nalerts + 1))
	check_eq "rules/$a-tested-firing" firing "$f"
	check_eq "rules/$a-tested-quiet" quiet "$q"
done <"$T/coverage"
check rules/seven-alerts test "$nalerts" -ge 7

# ------------------------------------------------------------ a real Prometheus

MPORT=$(free_port) || die "no free port"
PPORT=$(free_port) || die "no free port"
# a policy set, so that the policy-set families the dashboard and the alerts use exist
mkdir -p "$T/policies" || die "mkdir policies"
printf 'policy add fleet --default deny\nallow 192.0.2.10/32 --proto tcp --port 3128 --policy fleet\n' >"$T/policies/fleet.policy"
start_egressd --metrics-addr "127.0.0.1:$MPORT" --policy-dir "$T/policies" || die "egressd not ready: $(cat "$EGRESSD_ERR")"
mkcg sb
ectl_ok bind attach "$CGROOT/sb" --policy default || die "attach failed"
run_as "$CGROOT/sb" root "$PROBE" loop tcp 192.0.2.30 5432 50 >/dev/null
PROM_RULES=$RULES prom_start "$PPORT" "127.0.0.1:$MPORT" || die "prometheus did not start: $(tail -5 "$T/prom/log")"
# a second burst once Prometheus scrapes, so that rates see it
wait_until 20 sh -c "curl -sf -G 'http://127.0.0.1:$PPORT/api/v1/query' --data-urlencode 'query=up{job=\"egress\"} == 1' | grep -q '\"value\"'" ||
	die "prometheus never scraped egressd"
run_as "$CGROOT/sb" root "$PROBE" loop tcp 192.0.2.30 5432 50 >/dev/null
sleep 3
run_as "$CGROOT/sb" root "$PROBE" loop tcp 192.0.2.30 5432 50 >/dev/null
sleep 3

query() {	# query EXPR: the result's series, one JSON object a line
	curl -sS --max-time 5 -G "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
		jq -c 'if .status == "success" then .data.result[] else error(.error) end' 2>&1
}

# the rules as Prometheus loaded them
rules_json=$(curl -sS --max-time 5 "http://127.0.0.1:$PPORT/api/v1/rules")
check_json prom/rules-loaded '[.data.groups[].rules[]] | length >= 6' "$rules_json"
check_json prom/rules-healthy '[.data.groups[].rules[] | select(.health != "ok")] | length == 0' "$rules_json"
wait_until 10 sh -c "curl -sf http://127.0.0.1:$PPORT/api/v1/rules | jq -e '[.data.groups[].rules[] | select(.lastEvaluation != \"0001-01-01T00:00:00Z\")] | length >= 6' >/dev/null"
alerts_json=$(curl -sS --max-time 5 "http://127.0.0.1:$PPORT/api/v1/alerts")
check_json prom/egressd-up-no-down-alert '[.data.alerts[] | select(.labels.alertname == "EgressdDown")] | length == 0' "$alerts_json"
check_json prom/enforcing-no-alert '[.data.alerts[] | select(.labels.alertname == "EgressNotEnforcing")] | length == 0' "$alerts_json"

# ------------------------------------------------------------ dashboard queries

check dashboard/json jq -e '.panels | length > 0' "$DASH"
scrape "$MPORT" || die "no metrics on $MPORT"
python3 - "$DASH" >"$T/queries" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))
for p in panels(d["panels"]):
    for t in p.get("targets", []):
        print("panel\t%s/%s\t%s" % (p["title"], t.get("refId", "?"), t["expr"]))
for v in d.get("templating", {}).get("list", []):
    q = v.get("query")
    if isinstance(q, dict):
        q = q.get("query")
    if v.get("type") == "query" and q:
        print("var\t%s\t%s" % (v["name"], q))
EOF
nq=0
while IFS=$'\t' read -r kind name expr; do
	nq=$((nq + 1))
	n="dashboard/$(printf '%s' "$name" | tr ' /' '-_')"
	if [ "$kind" = var ]; then
		# Grafana's label_values(SELECTOR, LABEL): the label's values on those series
		if [[ $expr =~ ^label_values\((.*),\ *([a-z_]+)\)$ ]]; then
			out=$(curl -sS --max-time 5 -G "http://127.0.0.1:$PPORT/api/v1/label/${BASH_REMATCH[2]}/values" \
				--data-urlencode "match[]=${BASH_REMATCH[1]}" | jq -c '.data[]' 2>&1)
		else
			out=$(query "$expr")
		fi
	else
		e=${expr//'$__rate_interval'/30s}
		e=${e//'$instance'/.*}
		out=$(query "$e")
	fi
	if [ -n "$out" ] && ! printf '%s' "$out" | grep -q '^jq: error'; then
		pass "$n"
	else
		fail "$n" "no series for: $expr ($out)"
	fi
done <"$T/queries"
check dashboard/queries-found test "$nq" -ge 10
finish

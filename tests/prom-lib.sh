# shellcheck shell=bash
# tests/prom-lib.sh - Prometheus helpers for the integration scripts that
# check egressd's metrics.  Sourced after tests/lib.sh (uses T, TO, BG_PIDS,
# die, wait_until).
#
#   free_port                  a free TCP port on 127.0.0.1 (20000-32767,
#                              below the ephemeral range), never the same
#                              twice in one script
#   scrape PORT [PATH] [FILE]  GET http://127.0.0.1:PORT/PATH (default
#                              /metrics) into FILE (default $T/scrape),
#                              bounded; 0 on HTTP 200
#   http_code PORT PATH        the HTTP status of GET PATH ("000": no answer)
#   pval FILE NAME [L=V...]    the sum of the values of the NAME series in
#                              the exposition FILE whose labels include every
#                              L=V (label order does not matter); empty if
#                              there is none
#   pcount FILE NAME [L=V...]  how many such series
#   plabels FILE NAME          each NAME series's labels as one JSON object a
#                              line, with its value under "__value__"
#   prom_start PORT TARGET...  a real Prometheus server on 127.0.0.1:PORT
#                              (own config, scrape_interval 1s, own TSDB dir
#                              under $T), scraping each TARGET (HOST:PORT);
#                              waits (bounded) until it is ready; with
#                              PROM_RULES=FILE it also evaluates those rules
#   prom_query EXPR            the value of an instant query's first sample
#                              (empty if none)

PROM_PORTS_TAKEN=" "

free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
		case $PROM_PORTS_TAKEN in *" $p "*) continue ;; esac
		if [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]; then
			PROM_PORTS_TAKEN="$PROM_PORTS_TAKEN$p "
			echo "$p"
			return 0
		fi
	done
	return 1
}

scrape() {
	local port=$1 path=${2:-/metrics} file=${3:-$T/scrape} code
	code=$(curl -sS -o "$file" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port$path" 2>"$T/curl.err")
	[ "$code" = 200 ]
}

http_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1$2" 2>/dev/null
}

# the exposition-format parser behind pval, pcount and plabels
_prom_py() {
	python3 - "$@" <<'EOF'
import json, re, sys

mode, path, name = sys.argv[1:4]
want = dict(a.split("=", 1) for a in sys.argv[4:])
lab = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')
total, count, rows = 0.0, 0, []
for line in open(path, encoding="utf-8"):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
    if not m or m.group(1) != name:
        continue
    labels, body = {}, m.group(3) or ""
    pos = 0
    while pos < len(body):
        lm = lab.match(body, pos)
        if not lm:
            break
        labels[lm.group(1)] = re.sub(r'\\(.)', lambda x: {"n": "\n"}.get(x.group(1), x.group(1)), lm.group(2))
        pos = lm.end()
    if any(labels.get(k) != v for k, v in want.items()):
        continue
    v = float(m.group(4))
    total += v
    count += 1
    labels["__value__"] = v
    rows.append(labels)
if mode == "val":
    if count:
        print(int(total) if total == int(total) else total)
elif mode == "count":
    print(count)
else:
    for r in rows:
        print(json.dumps(r, sort_keys=True))
EOF
}

pval() { _prom_py val "$@"; }
pcount() { _prom_py count "$@"; }
plabels() { _prom_py labels "$@"; }

PROM_PORT=""
PROM_PID=""
prom_start() {
	local port=$1 t
	shift
	command -v prometheus >/dev/null 2>&1 || return 1
	PROM_PORT=$port
	mkdir -p "$T/prom/data" || return 1
	{
		echo "global:"
		echo "  scrape_interval: 1s"
		echo "  scrape_timeout: 1s"
		echo "  evaluation_interval: 1s"
		if [ -n "${PROM_RULES:-}" ]; then
			echo "rule_files:"
			echo "  - '$PROM_RULES'"
		fi
		echo "scrape_configs:"
		echo "  - job_name: egress"
		echo "    static_configs:"
		echo "      - targets:"
		for t in "$@"; do
			echo "          - '$t'"
		done
	} >"$T/prom/prometheus.yml"
	prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
		--web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=1h \
		>"$T/prom/log" 2>&1 &
	PROM_PID=$!
	BG_PIDS+=("$PROM_PID")
	wait_until 30 sh -c "curl -sf --max-time 2 http://127.0.0.1:$port/-/ready >/dev/null"
}

prom_query() {
	curl -sS --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=$1" 2>/dev/null |
		jq -r 'if .status == "success" and (.data.result | length) > 0
		       then .data.result[0].value[1] else empty end' 2>/dev/null
}

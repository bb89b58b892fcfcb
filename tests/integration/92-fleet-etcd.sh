#!/bin/bash
# 92-fleet-etcd.sh - egressd --etcd: the policy set from etcd v3.  A real
# 3-member etcd cluster on loopback (TLS with client certificates made
# here with openssl) and 3 egressd "nodes" (each its own pin dir, cgroup
# subtree, events socket and metrics port).  A put reaches all three; one
# member killed: still converges; all members stopped: the nodes keep
# enforcing, a node restarted meanwhile starts and enforces what is pinned,
# and all catch up when etcd returns; compaction past a node's revision:
# it lists again; a bad value: refused on every node, last good enforced,
# error metric up; egressd killed during a put: converges on restart.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../fleet-lib.sh"
setup

for t in etcd etcdctl openssl curl; do
	command -v "$t" >/dev/null || skip_all "$t not installed (sh scripts/deps.sh test)"
done
export ETCDCTL_API=3
E=$T/etcd
mkdir -p "$E"
CLIENT_PORTS=(23790 23791 23792)
PEER_PORTS=(23793 23794 23795)
MEMBERS=(a b c)
URLS=https://127.0.0.1:23790,https://127.0.0.1:23791,https://127.0.0.1:23792
PREFIX=/egress/policies/
declare -A ETCD_PID NODE_PID

# ---- certificates: a CA, the servers' (IP 127.0.0.1), the nodes' client cert
(
	cd "$E" || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=egress-test-ca -keyout ca.key -out ca.pem
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=etcd \
		-keyout server.key -out server.csr
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile server.ext -out server.pem
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=egressd \
		-keyout client.key -out client.csr
	printf 'extendedKeyUsage=clientAuth\n' >client.ext
	openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile client.ext -out client.pem
) >"$T/openssl.log" 2>&1 || die "openssl: $(cat "$T/openssl.log")"
TLS=(--cacert "$E/ca.pem" --cert "$E/client.pem" --key "$E/client.key")

cluster=""
for i in 0 1 2; do
	cluster+="${cluster:+,}${MEMBERS[$i]}=http://127.0.0.1:${PEER_PORTS[$i]}"
done

# etcd_up I: start member I (its data dir kept across restarts)
etcd_up() {
	local i=$1 m=${MEMBERS[$1]}
	etcd --name "$m" --data-dir "$E/$m.data" \
		--listen-client-urls "https://127.0.0.1:${CLIENT_PORTS[$i]}" \
		--advertise-client-urls "https://127.0.0.1:${CLIENT_PORTS[$i]}" \
		--listen-peer-urls "http://127.0.0.1:${PEER_PORTS[$i]}" \
		--initial-advertise-peer-urls "http://127.0.0.1:${PEER_PORTS[$i]}" \
		--initial-cluster "$cluster" --initial-cluster-state new \
		--initial-cluster-token "egress-test-$RUNTAG" \
		--cert-file "$E/server.pem" --key-file "$E/server.key" \
		--client-cert-auth --trusted-ca-file "$E/ca.pem" \
		>>"$E/$m.log" 2>&1 &
	ETCD_PID[$i]=$!
	BG_PIDS+=($!)
}
etcd_down() {
	local i=$1 sig=${2:-TERM}
	kill -"$sig" "${ETCD_PID[$i]}" 2>/dev/null
	wait_pid "${ETCD_PID[$i]}" >/dev/null 2>&1
}
ectlx() { timeout "$TO" etcdctl --endpoints "$URLS" "${TLS[@]}" --dial-timeout 2s --command-timeout 5s "$@"; }
healthy() {
	timeout 5 etcdctl --endpoints "$URLS" "${TLS[@]}" --dial-timeout 1s --command-timeout 2s \
		endpoint health >/dev/null 2>&1
}
# put KEY VALUE: retried while the cluster elects a leader
put_once() { ectlx put "$PREFIX$1" "$2" >/dev/null 2>&1; }
put() { wait_until 20 put_once "$@"; }

# ---- the nodes
FLEET_PINS=()
fleet_cleanup() {
	local p
	for p in "${FLEET_PINS[@]}"; do
		timeout "$TO" "$EGRESSCTL" unload --pin-dir "$p" >/dev/null 2>&1
	done
}
trap 'rc=$?; fleet_cleanup; (exit $rc); cleanup' EXIT

node_pin() { echo "$T/bpffs/node$1"; }
# node_up N: egressd of node N (1..3), waits for ready
node_up() {
	local n=$1
	"$EGRESSD" --pin-dir "$(node_pin "$n")" --events-socket "$T/node$n.sock" \
		--metrics-addr "127.0.0.1:$((29400 + n))" --etcd "${NODE_URLS[$n]}" --etcd-prefix "$PREFIX" \
		--etcd-cacert "$E/ca.pem" --etcd-cert "$E/client.pem" --etcd-key "$E/client.key" \
		>/dev/null 2>>"$T/node$n.err" &
	NODE_PID[$n]=$!
	BG_PIDS+=($!)
	wait_until "$TO" sh -c "grep -c '^egressd: ready' '$T/node$n.err' | grep -qx '$2'"
}
node_ectl() { local n=$1; shift; timeout "$TO" "$EGRESSCTL" "$1" --pin-dir "$(node_pin "$n")" "${@:2}"; }
node_digest() { node_ectl "$1" status --json | jq -r '.policy_set.digest // empty'; }
# the nodes list the members in different orders
NODE_URLS=([1]=$URLS
	[2]=https://127.0.0.1:23791,https://127.0.0.1:23792,https://127.0.0.1:23790
	[3]=https://127.0.0.1:23792,https://127.0.0.1:23790,https://127.0.0.1:23791)

listen proxy tcp 192.0.2.10 3128
listen web tcp 192.0.2.20 80
listen meta tcp 192.0.2.30 80

FREE='policy add free --default deny
allow 192.0.2.10/32 --proto tcp --port 3128 --policy free'
PRO='policy add pro --default allow
deny 192.0.2.30/32 --policy pro'

for i in 0 1 2; do etcd_up "$i"; done
wait_until 30 healthy || die "etcd cluster not healthy: $(tail -5 "$E/a.log")"
check tls/client-cert-required sh -c "! curl -s --max-time 5 --cacert '$E/ca.pem' -X POST \
	https://127.0.0.1:23790/v3/kv/range -d '{\"key\":\"L2VncmVzcw==\"}' | grep -q header"
put free "$FREE" || die "etcdctl put"
put pro "$PRO" || die "etcdctl put"

for n in 1 2 3; do
	FLEET_PINS+=("$(node_pin "$n")")
	node_up "$n" 1 || die "node $n not ready: $(cat "$T/node$n.err")"
	mkcg "node$n/free" "node$n/pro"
	check "start/node$n-listed" wait_until 15 sh -c "'$EGRESSCTL' status --pin-dir '$(node_pin "$n")' --json | jq -e '.policy_set.policies == [\"free\",\"pro\"]'"
	node_ectl "$n" attach "$CGROOT/node$n/free" --policy free >/dev/null || die "node $n attach free"
	node_ectl "$n" attach "$CGROOT/node$n/pro" --policy pro >/dev/null || die "node $n attach pro"
done

# all_nodes NAME WORD CG-LEAF ADDR PORT: every node's cgroup comes to WORD
all_nodes() {
	local name=$1 word=$2 leaf=$3 n
	for n in 1 2 3; do
		expect_soon "$name/node$n" "$word" "$CGROOT/node$n/$leaf" "$4" "$5"
	done
}
same_digest() {
	local d1 d2 d3
	d1=$(node_digest 1) d2=$(node_digest 2) d3=$(node_digest 3)
	[ -n "$d1" ] && [ "$d1" = "$d2" ] && [ "$d2" = "$d3" ]
}

all_nodes start/free-proxy ok free 192.0.2.10 3128
all_nodes start/free-direct EPERM free 192.0.2.20 80
all_nodes start/pro-metadata EPERM pro 192.0.2.30 80
check start/same-digest same_digest
d=$(node_digest 1)
for n in 1 2 3; do
	check_eq "start/metric-node$n" 1 \
		"$(metric "http://127.0.0.1:$((29400 + n))" "egress_policy_set_info{source=\"etcd:$PREFIX\",digest=\"$d\"}")"
done

# ---- a put reaches all three
put free "$FREE
allow 192.0.2.20/32 --proto tcp --port 80 --policy free" || fail put/etcdctl "put failed"
all_nodes put/reaches-all ok free 192.0.2.20 80
check put/same-digest wait_until 10 same_digest

# ---- one member killed: still converges
etcd_down 0 KILL
put free "$FREE" || fail member-down/etcdctl "put failed with one member down"
all_nodes member-down/converges EPERM free 192.0.2.20 80
etcd_up 0
wait_until 30 healthy || die "member a did not come back"

# ---- all members stopped: enforcement stays; a node started meanwhile enforces its pins
for i in 0 1 2; do etcd_down "$i"; done
kill -TERM "${NODE_PID[3]}"
wait_pid "${NODE_PID[3]}" >/dev/null 2>&1
node_up 3 2 || fail all-down/node-starts "node 3 did not start with etcd down: $(tail -5 "$T/node3.err")"
check all-down/node-logs-down wait_until 15 grep -q "every endpoint is down" "$T/node3.err"
all_nodes all-down/still-enforced EPERM free 192.0.2.20 80
all_nodes all-down/proxy-still-allowed ok free 192.0.2.10 3128
for n in 1 2; do check "all-down/node$n-running" kill -0 "${NODE_PID[$n]}"; done
for i in 0 1 2; do etcd_up "$i"; done
wait_until 30 healthy || die "etcd did not come back: $(tail -5 "$E/a.log")"
put pro "$PRO
deny 192.0.2.20/32 --proto tcp --port 80 --policy pro" || fail all-down/etcdctl "put failed"
all_nodes all-down/catch-up EPERM pro 192.0.2.20 80
check all-down/same-digest wait_until 10 same_digest

# ---- compaction past a node's revision: it lists again.  Node 1 is stopped
# while the member it watches dies; meanwhile the keys change and the
# history is compacted; resumed, its watch from its old revision is
# cancelled and it lists again.
# watched_member N: the index of the member node N's watch is connected to
watched_member() {
	local port i
	port=$(ss -tnpH state established 2>/dev/null | grep "pid=${NODE_PID[$1]}," |
		awk '{print $4}' | grep -oE ':2379[0-2]$' | tr -d : | head -1)
	for i in 0 1 2; do
		[ "${CLIENT_PORTS[$i]}" = "$port" ] && echo "$i"
	done
}
w=$(watched_member 1)
[ -n "$w" ] || die "node 1 has no connection to etcd: $(ss -tnpH | grep "pid=${NODE_PID[1]},")"
kill -STOP "${NODE_PID[1]}"
etcd_down "$w" KILL
put pro "$PRO" || fail compact/etcdctl "put failed"
put extra 'policy add extra --default deny' || fail compact/etcdctl "put failed"
rev=$(ectlx get "${PREFIX}pro" -w json | jq -r .header.revision)
ectlx compact "$rev" --physical >/dev/null || fail compact/etcdctl "compact failed"
kill -CONT "${NODE_PID[1]}"
check compact/listed-again wait_until 20 grep -q "is compacted.*listing again" "$T/node1.err"
expect_soon compact/node1-converges ok "$CGROOT/node1/pro" 192.0.2.20 80
check compact/node1-has-new-key wait_until 10 sh -c "'$EGRESSCTL' policy list --pin-dir '$(node_pin 1)' | grep -qw extra"
etcd_up "$w"
wait_until 30 healthy || die "member a did not come back"
check compact/same-digest wait_until 10 same_digest

# ---- a bad value: refused on every node, the last good set stays, counted
good=$(node_digest 1)
put free 'policy add free --default deny
allow 192.0.2.10/33 --policy free' || fail bad/etcdctl "put failed"
for n in 1 2 3; do
	check "bad/node$n-refused" wait_until 15 grep -q "refused.*${PREFIX}free:2: " "$T/node$n.err"
	check_eq "bad/node$n-error-metric" 1 \
		"$(metric "http://127.0.0.1:$((29400 + n))" "egress_policy_set_errors_total{source=\"etcd:$PREFIX\"}")"
	check_eq "bad/node$n-digest-kept" "$good" "$(node_digest "$n")"
done
all_nodes bad/last-good-enforced EPERM free 192.0.2.20 80
all_nodes bad/last-good-proxy ok free 192.0.2.10 3128

# ---- egressd killed during a put: converges on restart
kill -KILL "${NODE_PID[2]}" &
put free "$FREE
allow 192.0.2.30/32 --proto tcp --port 80 --policy free" || fail killed/etcdctl "put failed"
wait_pid "${NODE_PID[2]}" >/dev/null 2>&1
put free "$FREE
allow 192.0.2.30/32 --proto tcp --port 80 --policy free
# and one more change while node 2 is down" || fail killed/etcdctl "put failed"
node_up 2 2 || fail killed/restart "$(tail -5 "$T/node2.err")"
all_nodes killed/converges ok free 192.0.2.30 80
check killed/same-digest wait_until 10 same_digest

# a key deleted: its policy leaves the set on every node
ectlx del "${PREFIX}extra" >/dev/null || fail delete/etcdctl "del failed"
for n in 1 2 3; do
	check "delete/node$n" wait_until 15 sh -c "! '$EGRESSCTL' policy list --pin-dir '$(node_pin "$n")' | grep -qw extra"
done

# bad usage
check_rc usage/etcd-without-prefix 2 "$EGRESSD" --pin-dir "$PIN" --etcd "$URLS"
check_rc usage/cert-without-key 2 "$EGRESSD" --pin-dir "$PIN" --etcd "$URLS" --etcd-prefix /x/ --etcd-cert "$E/client.pem"
check_rc usage/bad-url 2 "$EGRESSD" --pin-dir "$PIN" --etcd 127.0.0.1:23790 --etcd-prefix /x/
finish

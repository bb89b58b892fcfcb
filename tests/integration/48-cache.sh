#!/bin/bash
# 48-cache.sh - what the backstop skips, and what stays looked up.
#
# The TCP fast path: the packets of an established TCP connection to its
# own peer are not looked up again; the connection was decided at connect
# (or, accepted, at its SYN), and a policy change cuts the connections it
# now denies.  Here: an egressd --policy-dir update cuts an established
# connection the new set denies (and keeps an allowed one), as egressctl's
# changes do (82-revoke.sh).  Raw sockets connect()ed to a denied peer are
# 45-bypass.sh's raw-connected-*.
#
# The UDP cache: sendmsg records the last allowed datagram per bound level
# (per CPU, with the policy epoch), and that level's backstop skips its
# lookup for a packet of the same socket to the same destination.  A
# connected UDP socket's send() has no sendmsg program, so only the
# backstop decides it; after a sendto() to its peer the cache holds that
# peer.  Every sender is pinned to one CPU (the cache is per CPU):
#   - stale generation: a deny after the sendto() -> send() is EPERM and
#     the datagram never arrives; the same for the socket's next sendto()
#     (sendmsg skips its own lookup for its socket's last destination),
#     IPv4 and IPv6;
#   - nested levels: the outer binding's change alone does the same for a
#     socket of the inner bound cgroup; with both allowing, datagrams arrive;
#   - a control-message source route (IP_RETOPTS LSRR) to the cached
#     destination: the packet goes first to the denied hop, is looked up
#     and dropped (EPERM, an egress event naming the hop).
#
# The TCP SYN cache: connect records the connection it allowed in the same
# slots, and that level's backstop skips the SYN's lookup.
#
# Decisions from the cache: connect and sendmsg take an allowed decision
# for the same destination, port and protocol from their level's slot,
# whatever the socket; never across an epoch, port, protocol, policy or
# level (the last section).  Here:
#   - the slot holds the connect (protocol TCP, port);
#   - stale generation: an unanswered connect (a dummy device swallows the
#     SYN) whose SYN left, then a deny (the socket out of reach of the
#     revoke pass): every retransmitted SYN is looked up and dropped (an
#     egress event, the device sends nothing more), IPv4 and IPv6;
#   - a different destination: a source route set where no setsockopt
#     program runs (the 32-bit entry) sends the SYN first to a denied hop
#     while connect decided an allowed final address: looked up, dropped
#     (an egress event naming the hop, the hop's server gets nothing).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../fleet-lib.sh"
setup
source "$(dirname "$0")/../conn-lib.sh"

# result NAME: holder NAME's second round trip, done now.
result() {
	touch "$T/go.$1"
	wait_until 10 sh -c "[ \$(wc -l < '$T/hold.$1.out') -ge 2 ]"
	sed -n 2p "$T/hold.$1.out"
}

serve web tcp 192.0.2.20 443
serve web6 tcp 2001:db8::20 443
serve other tcp 192.0.2.30 443

P=$T/policies
mkdir "$P"
cat >"$P/pro.policy" <<'EOF'
policy add pro --default allow
deny 169.254.169.254/32 --policy pro
EOF
start_egressd --policy-dir "$P" || die "egressd not ready: $(cat "$EGRESSD_ERR")"
mkcg sb
check setup/policy-from-dir wait_until 10 sh -c "'$EGRESSCTL' policy list --pin-dir '$PIN' | grep -qw pro"
ectl_ok setup attach "$CGROOT/sb" --policy pro || die "attach pro"

# ---- tcp-fast: an egressd policy-set update cuts what it now denies
hold dir-web sb tcp 192.0.2.20 443
hold dir-web6 sb tcp 2001:db8::20 443
hold dir-other sb tcp 192.0.2.30 443
cat >>"$P/pro.policy" <<'EOF'
deny 192.0.2.20/32 --policy pro
deny 2001:db8::20/128 --policy pro
EOF
expect_soon tcp-fast/dir-update-applied EPERM "$CGROOT/sb" 192.0.2.20 443
# the revoke pass runs right after the set is in the maps: its events say it ran
check tcp-fast/revoke-events wait_until 10 sh -c "[ \$(jq -c 'select(.hook == \"revoke\")' '$T/egressd.out' | wc -l) -ge 2 ]"
r=$(result dir-web)
case $r in
ECONNABORTED | ECONNRESET | EPIPE) pass tcp-fast/dir-update-cuts-v4 ;;
*) fail tcp-fast/dir-update-cuts-v4 "the held connection to 192.0.2.20:443 got '$r' after the set denied it $(cat "$T/hold.dir-web.err")" ;;
esac
r=$(result dir-web6)
case $r in
ECONNABORTED | ECONNRESET | EPIPE) pass tcp-fast/dir-update-cuts-v6 ;;
*) fail tcp-fast/dir-update-cuts-v6 "the held connection to [2001:db8::20]:443 got '$r' $(cat "$T/hold.dir-web6.err")" ;;
esac
check_eq tcp-fast/dir-update-keeps-allowed ok "$(result dir-other)"
check tcp-fast/revoke-event-v4 sh -c "jq -c 'select(.hook == \"revoke\" and .dst == \"192.0.2.20\")' '$T/egressd.out' | grep -q ."

# ---- the UDP cache
UDP=$T/cache-udp.py
cp "$ROOT/tests/cache-udp.py" "$UDP" || die "cannot copy cache-udp.py"
listen u1 udp 192.0.2.10 5301
listen u2 udp 192.0.2.10 5302
listen u3 udp 192.0.2.10 5303
listen hop udp 192.0.2.30 5304

# usend NAME CGROUP ARGS...: cache-udp.py in CGROUP (relative to $CGROOT), on CPU 0, in the netns
usend() {
	local n=$1 cg=$2
	shift 2
	in_cgroup "$CGROOT/$cg" taskset -c 0 nsenter --net="/run/netns/$NS" "$PY" "$UDP" "$@" \
		>"$T/udp.$n.out" 2>"$T/udp.$n.err" &
	BG_PIDS+=($!)
	wait_until 10 grep -q . "$T/udp.$n.out" || die "sender $n: $(cat "$T/udp.$n.err")"
}
# uword NAME LINE: the sender's word number LINE
uword() {
	wait_until 10 sh -c "[ \$(wc -l < '$T/udp.$1.out') -ge $2 ]"
	sed -n "${2}p" "$T/udp.$1.out"
}

ectl_ok setup policy add up --default allow || die "policy up"
ectl_ok setup policy add outer --default allow || die "policy outer"
ectl_ok setup policy add inner --default allow || die "policy inner"
mkcg u un un/kid
ectl_ok setup attach "$CGROOT/u" --policy up || die "attach up"
ectl_ok setup attach "$CGROOT/un" --policy outer || die "attach outer"
ectl_ok setup attach "$CGROOT/un/kid" --policy inner || die "attach inner"

# stale generation
usend stale u connected 192.0.2.10 5301 "$T/go.stale"
check_eq udp-cache/stale-first-sent ok "$(uword stale 1)"
wait_count u1 1 || true
check udp-cache/slot-written sh -c "bpftool map dump pinned '$PIN/maps/egress_cache' | grep -q '\"port\": 5301'"
ectl_ok udp-cache/deny deny 192.0.2.10/32 --proto udp --port 5301 --policy up
touch "$T/go.stale"
check_eq udp-cache/stale-generation-send-EPERM EPERM "$(uword stale 2)"
sleep 0.3
check_eq udp-cache/stale-generation-not-delivered 1 "$(count u1)"

# stale generation, sendmsg's side: the same socket's next sendto() to the now denied address
listen u4 udp 192.0.2.10 5305
listen u6 udp 2001:db8::10 5306
# (one after the other: a level has one slot per CPU, the last datagram's)
for v in 4 6; do
	if [ $v = 4 ]; then a=192.0.2.10 pfx=32 port=5305 l=u4; else a=2001:db8::10 pfx=128 port=5306 l=u6; fi
	usend stale-s$v u sendto $a $port "$T/go.stale-s$v"
	check_eq udp-cache/stale-sendto$v-first-sent ok "$(uword stale-s$v 1)"
	ectl_ok udp-cache/deny-sendto$v deny $a/$pfx --proto udp --port $port --policy up
	touch "$T/go.stale-s$v"
	check_eq udp-cache/stale-generation-sendto$v-EPERM EPERM "$(uword stale-s$v 2)"
	sleep 0.3
	check_eq udp-cache/stale-generation-sendto$v-not-delivered 1 "$(count $l)"
done

# nested levels: both allow, then the outer level alone denies
usend nest un/kid connected 192.0.2.10 5302 "$T/go.nest"
check_eq udp-cache/nested-first-sent ok "$(uword nest 1)"
ectl_ok udp-cache/deny-outer deny 192.0.2.10/32 --proto udp --port 5302 --policy outer
touch "$T/go.nest"
check_eq udp-cache/nested-outer-change-send-EPERM EPERM "$(uword nest 2)"
sleep 0.3
check_eq udp-cache/nested-outer-change-not-delivered 1 "$(count u2)"
usend both un/kid connected 192.0.2.10 5303 "$T/go.both"
touch "$T/go.both"
check_eq udp-cache/nested-both-allow-second-sent ok "$(uword both 2)"
check udp-cache/nested-both-allow-delivered wait_count u3 2

# a source route from a control message, to the cached destination
ectl_ok udp-cache/deny-hop deny 192.0.2.30/32 --policy up
usend lsrr u lsrr 192.0.2.10 192.0.2.30 5304
check_eq udp-cache/lsrr-first-sent ok "$(uword lsrr 1)"
check_eq udp-cache/lsrr-cmsg-to-cached-dst-EPERM EPERM "$(uword lsrr 2)"
check udp-cache/lsrr-looked-up-event wait_until 10 sh -c "jq -c 'select(.hook == \"egress\" and .dst == \"192.0.2.30\")' '$T/egressd.out' | grep -q ."
sleep 0.3
check_eq udp-cache/lsrr-hop-got-nothing 0 "$(count hop)"

# ---- the TCP SYN cache
n6=1
ectl_ok setup policy add tp --default allow || die "policy tp"
mkcg t
ectl_ok setup attach "$CGROOT/t" --policy tp || die "attach tp"
# a veth pair: frames to 198.51.100.2 / 2001:db8:5::2 (static neighbours, a
# MAC nobody has) leave v0, arrive on v1 and are never answered; a sniffer
# on v1 counts the SYNs to port 7
ip -n "$NS" link add v0 type veth peer name v1 || die "veth pair"
ip -n "$NS" link set v0 up && ip -n "$NS" link set v1 up || die "veth up"
ip -n "$NS" addr add 198.51.100.1/24 dev v0 || die "veth v4 address"
ip -n "$NS" -6 addr add 2001:db8:5::1/64 dev v0 nodad || die "veth v6 address"
ip -n "$NS" neigh add 198.51.100.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent || die "v4 neighbour"
ip -n "$NS" -6 neigh add 2001:db8:5::2 lladdr 02:00:00:00:00:02 dev v0 nud permanent || die "v6 neighbour"
nsenter --net="/run/netns/$NS" "$PY" "$UDP" syn-count v1 7 "$T/count.syn" >"$T/syncount.out" 2>"$T/syncount.err" &
BG_PIDS+=($!)
wait_until 10 grep -qx sniffing "$T/syncount.out" || die "SYN sniffer: $(cat "$T/syncount.err")"
tx() { count syn; }

for v in 4 6; do
	if [ $v = 4 ]; then a=198.51.100.2 pfx=32; else a=2001:db8:5::2 pfx=128; fi
	in_cgroup "$CGROOT/t" taskset -c 0 nsenter --net="/run/netns/$NS" "$PY" "$UDP" syn $a 7 "$T/go.syn$v" \
		"/proc/$$/ns/net" >"$T/udp.syn$v.out" 2>"$T/udp.syn$v.err" &
	BG_PIDS+=($!)
	check_eq tcp-syn/connect$v-sent sent "$(uword syn$v 1)"
	check tcp-syn/syn$v-left wait_until 5 sh -c "[ \$(grep -c . '$T/count.syn' 2>/dev/null) -ge $n6 ]"
	check tcp-syn/slot$v-written sh -c "bpftool map dump pinned '$PIN/maps/egress_cache' -j |
		jq -e '[.. | objects | select(.port? == 7 and .proto? == 6)] | length > 0' >/dev/null"
	ectl_ok tcp-syn/deny$v deny $a/$pfx --proto tcp --port 7 --policy tp
	n0=$(tx)
	touch "$T/go.syn$v"
	check_eq tcp-syn/stale-generation$v-socket-kept syn-sent "$(uword syn$v 2)"
	check_eq tcp-syn/stale-generation$v-retransmits-dropped "$n0" "$(tx)"
	n6=$(($(tx) + 1))
	check tcp-syn/stale-generation$v-looked-up-event wait_until 10 sh -c \
		"jq -c 'select(.hook == \"egress\" and .dst == \"$a\" and .dport == 7 and .proto == \"tcp\")' '$T/egressd.out' | grep -q ."
done

# a different destination: the SYN's first hop, not the address connect decided
ectl_ok tcp-syn/deny-hop deny 192.0.2.30/32 --policy tp
ectl_ok tcp-syn/deny-hop6 deny 2001:db8::30/128 --policy tp
if [ "$(uname -m)" = x86_64 ]; then
	BYPASS=$(_abs "${BYPASS:-$ROOT/build/tests/bypass}")
	listen hopt tcp 192.0.2.30 5310
	w=$(in_cgroup "$CGROOT/t" taskset -c 0 nsenter --net="/run/netns/$NS" timeout "$TO" "$BYPASS" compat-lsrr tcp 192.0.2.20 192.0.2.30 5310 2>&1)
	case $w in
	setsockopt:*) fail tcp-syn/compat-lsrr-set "the option was not set: $w" ;;
	*) pass tcp-syn/compat-lsrr-set ;;
	esac
	check tcp-syn/lsrr-first-hop-looked-up wait_until 10 sh -c \
		"jq -c 'select(.hook == \"egress\" and .dst == \"192.0.2.30\" and .proto == \"tcp\")' '$T/egressd.out' | grep -q ."
	sleep 0.3
	check_eq tcp-syn/lsrr-hop-got-nothing 0 "$(count hopt)"
	w=$(in_cgroup "$CGROOT/t" taskset -c 0 nsenter --net="/run/netns/$NS" timeout "$TO" "$BYPASS" compat-srh tcp 2001:db8::20 2001:db8::30 5310 2>&1)
	case $w in
	setsockopt:*) fail tcp-syn/compat-srh-set "the option was not set: $w" ;;
	*) pass tcp-syn/compat-srh-set ;;
	esac
	check tcp-syn/srh-first-hop-looked-up wait_until 10 sh -c \
		"jq -c 'select(.hook == \"egress\" and .dst == \"2001:db8::30\" and .proto == \"tcp\")' '$T/egressd.out' | grep -q ."
fi

# ---- decisions taken from the cache, by any socket of the level
# connect and sendmsg take an allowed decision from their level's slot for
# the same protocol, destination and port under the same epoch and policy,
# whatever the socket (a fresh socket each attempt here, all on CPU 0):
# never across a change (the epoch), a port, a protocol, a policy, or from
# another level (each nested binding decides for itself).
ectl_ok setup policy add dc --default allow || die "policy dc"
ectl_ok setup policy add dco --default allow || die "policy dco"
ectl_ok setup policy add dc2 --default allow || die "policy dc2"
ectl_ok setup deny 192.0.2.10/32 --proto tcp --port 5322 --policy dc || die "deny port"
ectl_ok setup deny 192.0.2.10/32 --proto udp --port 5321 --policy dc || die "deny proto"
ectl_ok setup deny 192.0.2.10/32 --proto tcp --port 5323 --policy dco || die "deny outer"
ectl_ok setup deny 192.0.2.10/32 --proto tcp --port 5321 --policy dc2 || die "deny dc2"
mkcg d d/kid
ectl_ok setup attach "$CGROOT/d" --policy dco || die "attach dco"
ectl_ok setup attach "$CGROOT/d/kid" --policy dc || die "attach dc"
listen dcu udp 192.0.2.10 5320
listen dct tcp 192.0.2.10 5321
listen dcp tcp 192.0.2.10 5322
listen dco tcp 192.0.2.10 5323
listen dcx udp 192.0.2.10 5321
pr() { run_as "$CGROOT/d/kid" root taskset -c 0 "$PROBE" "$@" 2>&1; }
check_eq dcache/udp-first-socket ok "$(pr udp 192.0.2.10 5320)"
check_eq dcache/udp-second-socket ok "$(pr udp 192.0.2.10 5320)"
check dcache/udp-both-delivered wait_count dcu 2
check_eq dcache/tcp-first-socket ok "$(pr tcp 192.0.2.10 5321)"
check_eq dcache/tcp-second-socket ok "$(pr tcp 192.0.2.10 5321)"
check dcache/slot-names-rule sh -c "bpftool map dump pinned '$PIN/maps/egress_cache' -j |
	jq -e '[.. | objects | select(.port? == 5321 and .proto? == 6 and .rule_id? > 0)] | length > 0' >/dev/null"
check_eq dcache/another-port-EPERM EPERM "$(pr tcp 192.0.2.10 5322)"
check_eq dcache/tcp-again ok "$(pr tcp 192.0.2.10 5321)"
check_eq dcache/another-protocol-EPERM EPERM "$(pr udp 192.0.2.10 5321)"
check_eq dcache/outer-level-decides-EPERM EPERM "$(pr tcp 192.0.2.10 5323)"
check_eq dcache/outer-level-decides-again-EPERM EPERM "$(pr tcp 192.0.2.10 5323)"
sleep 0.3
check_eq dcache/port-refused-got-nothing 0 "$(count dcp)"
check_eq dcache/proto-refused-got-nothing 0 "$(count dcx)"
check_eq dcache/outer-refused-got-nothing 0 "$(count dco)"
check_eq dcache/tcp-again2 ok "$(pr tcp 192.0.2.10 5321)"
ectl_ok dcache/rebind detach "$CGROOT/d/kid" || die detach
ectl_ok dcache/rebind attach "$CGROOT/d/kid" --policy dc2 || die "attach dc2"
check_eq dcache/another-policy-EPERM EPERM "$(pr tcp 192.0.2.10 5321)"
ectl_ok dcache/rebind detach "$CGROOT/d/kid" || die detach
ectl_ok dcache/rebind attach "$CGROOT/d/kid" --policy dc || die "attach dc"
check_eq dcache/udp-cached-again ok "$(pr udp 192.0.2.10 5320)"
ectl_ok dcache/change deny 192.0.2.10/32 --proto udp --port 5320 --policy dc
check_eq dcache/udp-after-change-EPERM EPERM "$(pr udp 192.0.2.10 5320)"
check_eq dcache/tcp-cached-again ok "$(pr tcp 192.0.2.10 5321)"
ectl_ok dcache/outer-change deny 192.0.2.10/32 --proto tcp --port 5321 --policy dco
check_eq dcache/tcp-after-outer-change-EPERM EPERM "$(pr tcp 192.0.2.10 5321)"
sleep 0.3
check_eq dcache/udp-delivered-before-change-only 3 "$(count dcu)"

# The SYN's slot is any plain TCP socket's of the level, never a raw
# socket's: counted by the rule's hit counter, which a lookup of the
# backstop counts and a decision from the slot does not (connect counts
# each of its own).
ectl_ok setup allow 192.0.2.10/32 --proto tcp --port 5324 --policy dc || die "allow 5324"
listen dcr tcp 192.0.2.10 5324
hits_5324() {
	ectl list --policy dc --counters --json |
		jq -r '.[] | select(.cidr == "192.0.2.10/32" and (.port | tostring) == "5324") | .hits.allowed'
}
check_eq dcache/syn-first-connect ok "$(pr tcp 192.0.2.10 5324)"
check_eq dcache/syn-from-slot-counted-once 1 "$(hits_5324)"
check_eq dcache/syn-second-socket ok "$(pr tcp 192.0.2.10 5324)"
check_eq dcache/syn-second-socket-from-slot 2 "$(hits_5324)"
check_eq dcache/raw-syn-sent ok "$(pr raw-connected tcp 192.0.2.10 5324)"
check_eq dcache/raw-syn-looked-up 3 "$(hits_5324)"

finish

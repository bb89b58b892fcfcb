#!/bin/bash
# 73-explain.sh - egressctl explain: what the kernel decides for a
# destination and why, and that it agrees with the kernel.
#
# 1. Fixed cases: the deciding rule and the reason (longest prefix, deny
#    beats allow at equal prefix, a longer rule whose protocol or port does
#    not match, the default), nested bindings and the errno that wins, the
#    loopback and v4-mapped mappings, --policy, --json, --batch, and bad
#    input (exit 2, one line).
# 2. The property: EXPLAIN_ROUNDS rounds (default 12, and more until 3,000 cases) of a random policy set
#    (4 policies, random defaults and errnos, up to 10 rules each, /0 to
#    host prefixes, protocols, ports and ranges) bound at random levels of
#    a cgroup tree; in every bound cgroup random destinations (v4, v6,
#    v4-mapped, 0.0.0.0, ::, NAT64, 6to4, IPv4-compatible), protocols and
#    ports.  `explain --batch` answers each, and a real connect() (TCP) or
#    sendto() (UDP) from a process in that cgroup, inside the test netns
#    where every address is local (AnyIP), must end the same way: allowed
#    (ok / ECONNREFUSED) or denied with exactly explain's errno.  At least
#    1,000 cases (3,000 by default), no disagreement.  Some cases also go through the
#    one-shot command, whose exit code (0 allowed, 1 denied) must agree.
#    EXPLAIN_SEED reproduces a run.
source "$(dirname "$0")/../lib.sh"
setup

command -v python3 >/dev/null 2>&1 || die "python3 not installed (scripts/deps.sh test)"
start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"

# every address routes to the netns's own lo: an allowed TCP connect is
# refused at once (no listener), an allowed UDP sendto succeeds
ip -n "$NS" route add local 0.0.0.0/0 dev lo || die "AnyIP v4 route"
ip -n "$NS" -6 route add local ::/0 dev lo || die "AnyIP v6 route"

# ---------------------------------------------------------------- fixed cases

ectl_ok setup policy add outer --default deny --errno EACCES || die "policy add outer"
ectl_ok setup allow 10.0.0.0/8 --proto tcp --policy outer || die "allow"
ectl_ok setup allow 10.1.0.0/16 --policy outer || die "allow"
ectl_ok setup deny 10.1.0.0/16 --port 22 --policy outer || die "deny"
ectl_ok setup allow 10.1.2.0/24 --proto udp --policy outer || die "allow"
ectl_ok setup allow 127.0.0.0/8 --policy outer || die "allow"
ectl_ok setup deny 127.0.0.0/8 --port 22 --policy outer || die "deny"
ectl_ok setup allow 2001:db8::/32 --proto tcp --port 443 --policy outer || die "allow"
ectl_ok setup policy add inner --default allow || die "policy add inner"
ectl_ok setup deny 127.0.0.1/32 --policy inner || die "deny"
ectl_ok setup deny ::1/128 --proto udp --policy inner || die "deny"
mkcg a a/b a/b/c unbound
ectl_ok setup attach "$CGROOT/a" --policy outer || die "attach outer"
ectl_ok setup attach "$CGROOT/a/b" --policy inner || die "attach inner"

# X FIELD-CHECKS... : explain --json for the leaf a/b/c, jq checks on it
xj() { ectl explain --cgroup "$CGROOT/a/b/c" --json "$@" 2>&1; }

out=$(xj 10.1.2.3 --port 22)
check_json deny-beats-allow/verdict '.verdict == "deny" and .errno == "EACCES"' "$out"
check_json deny-beats-allow/rule \
	'.policies[1].policy == "outer" and .policies[1].rule.rule == "deny 10.1.0.0/16 any 22" and .policies[1].why == "deny-beats-allow"' "$out"
check_json deny-beats-allow/loser \
	'[.policies[1].rules[] | select(.rule == "allow 10.1.0.0/16") | .result] == ["deny-beats-allow"]' "$out"
check_json longer-proto-skipped \
	'[.policies[1].rules[] | select(.rule == "allow 10.1.2.0/24 udp") | .result] == ["protocol-differs"] and (.policies[1].reason | test("allow 10.1.2.0/24 udp is longer, but its protocol does not match"))' "$out"
check_json path-order \
	".policies[0].cgroup == \"$CGROOT/a/b\" and .policies[1].cgroup == \"$CGROOT/a\" and .policies[0].policy == \"inner\" and .policies[0].mode == \"enforce\"" "$out"
check_json inner-default '.policies[0].why == "default" and .policies[0].default == "allow" and .policies[0].verdict == "allow"' "$out"

out=$(xj 10.1.2.3 --port 80)
check_json longest-prefix \
	'.verdict == "allow" and .policies[1].rule.rule == "allow 10.1.0.0/16" and .policies[1].why == "longest-prefix" and ([.policies[1].rules[] | select(.rule == "allow 10.0.0.0/8 tcp") | .result] == ["shorter-prefix"])' "$out"
out=$(xj 10.9.9.9 --proto udp --port 53)
check_json default-deny '.verdict == "deny" and .policies[1].why == "default" and .policies[1].default == "deny" and ([.policies[1].rules[].result] == ["protocol-differs"])' "$out"
out=$(xj 2001:db8::1 --port 80)
check_json port-differs '.verdict == "deny" and ([.policies[1].rules[].result] == ["port-differs"]) and .policies[1].why == "default"' "$out"

# 0.0.0.0 is 127.0.0.1: inner denies with EPERM, outer allows
out=$(xj 0.0.0.0 --port 80)
check_json any4-mapping '.decided_as == ["127.0.0.1"] and (.mapping | test("127.0.0.1")) and .policies[0].rule.rule == "deny 127.0.0.1/32" and .verdict == "deny" and .errno == "EPERM"' "$out"
out=$(xj :: --proto udp --port 53)
check_json any6-mapping '.decided_as == ["::1"] and .policies[0].rule.rule == "deny ::1/128 udp" and .verdict == "deny"' "$out"
out=$(xj ::ffff:10.1.2.3 --port 80)
check_json v4mapped '.decided_as == ["10.1.2.3"] and .verdict == "allow"' "$out"
# both deny: the errno is the outermost non-EPERM one, as the kernel returns it
out=$(xj 0.0.0.0 --proto udp --port 22)
check_json errno-outer-wins '.verdict == "deny" and .policies[0].errno == "EPERM" and .policies[1].errno == "EACCES" and .errno == "EACCES"' "$out"
expect kernel/errno-outer-wins EACCES "$CGROOT/a/b/c" root udp 0.0.0.0 22
expect kernel/any4-denied EPERM "$CGROOT/a/b/c" root tcp 0.0.0.0 80
expect kernel/mapped-allowed ECONNREFUSED "$CGROOT/a/b/c" root tcp ::ffff:10.1.2.3 80

# exit codes and text
check_rc exit/allowed 0 ectl explain --cgroup "$CGROOT/a/b/c" 10.1.2.3 --port 80
check_rc exit/denied 1 ectl explain --cgroup "$CGROOT/a/b/c" 10.1.2.3 --port 22
check_rc exit/policy-alone 0 ectl explain --policy inner 10.1.2.3 --port 22
out=$(ectl explain --cgroup "$CGROOT/a/b/c" 10.1.2.3 --port 22 2>&1)
case $out in
*"deny 10.1.0.0/16 any 22"*decides*"verdict: deny, errno EACCES (from policy outer at $CGROOT/a)"*)
	pass text/verdict-line ;;
*) fail text/verdict-line "$out" ;;
esac
out=$(ectl explain --policy outer 10.7.7.7 --json 2>&1)
check_json policy-alone/json '.policies | length == 1 and .[0].cgroup == null and .[0].policy == "outer" and .[0].rule.rule == "allow 10.0.0.0/8 tcp"' "$out"
check_json no-port '.port == null' "$out"

# --batch: one JSON line per line, blank lines and comments skipped, a bad line reported
out=$(printf '10.1.2.3 tcp 22\n\n# comment\n10.1.2.3 udp 53\nnot-an-address\n::ffff:127.0.0.1\n' |
	ectl explain --cgroup "$CGROOT/a/b/c" --batch 2>&1)
rc=$?
check_eq batch/exit-bad-line 2 "$rc"
check_eq batch/lines 4 "$(printf '%s\n' "$out" | wc -l)"
check_json batch/first '.line == 1 and .verdict == "deny" and .errno == "EACCES"' "$(printf '%s\n' "$out" | sed -n 1p)"
check_json batch/udp '.line == 4 and .verdict == "allow" and .proto == "udp" and .port == 53' "$(printf '%s\n' "$out" | sed -n 2p)"
check_json batch/error '.line == 5 and (.error | test("not-an-address"))' "$(printf '%s\n' "$out" | sed -n 3p)"
check_json batch/mapped '.line == 6 and .decided_as == ["127.0.0.1"] and .verdict == "deny"' "$(printf '%s\n' "$out" | sed -n 4p)"

out=$(ectl explain --help 2>&1)
check help/usage grep -q '^usage: egressctl explain (--cgroup DIR | --policy NAME) DST' <<<"$out"
check help/listed grep -qF 'explain (--cgroup DIR | --policy NAME)' <<<"$(ectl help 2>&1)"

# bad input: exit 2, one line, nothing changed
bad() {
	local n=$1 rc
	shift
	check_bad "bad/$n" ectl explain "$@"
	_run ectl explain "$@" >/dev/null 2>&1
	rc=$?
	check_eq "bad/$n-exit-2" 2 "$rc"
}
bad destination --cgroup "$CGROOT/a" 10.0.0.0/8
bad name --cgroup "$CGROOT/a" example.com
bad unknown-policy --policy nope 10.1.2.3
bad unbound --cgroup "$CGROOT/unbound" 10.1.2.3
bad not-a-cgroup --cgroup "$T" 10.1.2.3
bad no-such-dir --cgroup "$CGROOT/missing" 10.1.2.3
bad both --cgroup "$CGROOT/a" --policy outer 10.1.2.3
bad neither 10.1.2.3
bad proto --cgroup "$CGROOT/a" 10.1.2.3 --proto icmp
bad port --cgroup "$CGROOT/a" 10.1.2.3 --port 70000
bad no-destination --cgroup "$CGROOT/a"
bad batch-with-dst --cgroup "$CGROOT/a" --batch 10.1.2.3
check_bad bad/not-loaded timeout "$TO" "$EGRESSCTL" explain --pin-dir "$T/nothing" --policy outer 10.1.2.3

ectl_ok setup detach "$CGROOT/a/b" || die "detach"
ectl_ok setup detach "$CGROOT/a" || die "detach"

# ---------------------------------------------------------------- the property

cat >"$T/prop.py" <<'PY'
"""Random policies and bindings; explain --batch against real sockets."""
import errno, ipaddress, json, os, random, socket, subprocess, sys, time

ectl, pin, cgroot, rounds, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(seed)
NODES = ["n1", "n1/n2", "n1/n2/n3", "n1/n4", "n5", "n5/n6", "n5/n6/n7"]
POLS = ["p0", "p1", "p2", "p3"]
ERRNOS = ["EPERM", "EPERM", "EACCES", "EHOSTUNREACH", "ETIMEDOUT", "EADDRNOTAVAIL", "ENETDOWN"]
V4 = ["10.1.2.3", "10.1.2.200", "10.1.9.9", "10.200.0.1", "127.0.0.1", "192.0.2.10", "192.0.2.99",
      "198.51.100.7", "1.2.3.4"]
V6 = ["2001:db8::1", "2001:db8::ff", "2001:db8:1::5", "2001:db8:ffff::1", "::1", "fd00::1",
      "64:ff9b::a01:203", "2002:a01:203::1", "::a01:203"]
V4PLEN = [0, 8, 12, 16, 20, 24, 26, 30, 31, 32, 32]
V6PLEN = [0, 16, 32, 48, 64, 96, 104, 112, 120, 127, 128, 128]
PORTS = [22, 53, 80, 443, 8080]


def ectl_run(*args, stdin=None):
    return subprocess.run([ectl, args[0], "--pin-dir", pin, *args[1:]], input=stdin,
                          capture_output=True, text=True, timeout=60)


def rand_rule():
    v6 = rng.random() < 0.4
    base = ipaddress.ip_address(rng.choice(V6 if v6 else V4))
    plen = rng.choice(V6PLEN if v6 else V4PLEN)
    net = ipaddress.ip_network(f"{base}/{plen}", strict=False)
    proto = rng.choice([None, None, "tcp", "udp"])
    r = rng.random()
    port = None if r < 0.5 else str(rng.choice(PORTS)) if r < 0.8 else \
        "%d-%d" % tuple(sorted(rng.sample([1, 22, 53, 54, 80, 443, 1024, 8080, 65535], 2)))
    return (str(net), proto, port), rng.choice(["allow", "deny"])


def gen_policies():
    pols = {}
    for name in POLS:
        rules = {}
        for _ in range(rng.randint(0, 10)):
            match, action = rand_rule()
            rules[match] = action        # one action per match, as policies require
        pols[name] = (rng.choice(["allow", "deny"]), rng.choice(ERRNOS), rules)
    return pols


def policy_file(pols):
    lines = []
    for name, (dflt, err, rules) in pols.items():
        lines.append(f"policy add {name} --default {dflt} --errno {err}")
        for (cidr, proto, port), action in rules.items():
            lines.append(f"{action} {cidr}" + (f" --proto {proto}" if proto else "") +
                         (f" --port {port}" if port else "") + f" --policy {name}")
    return "\n".join(lines) + "\n"


def rand_dest(pols):
    r = rng.random()
    if r < 0.08:
        return rng.choice(["0.0.0.0", "::", "::ffff:0.0.0.0", "127.0.0.1", "::1"])
    cidrs = [m[0] for _, _, rules in pols.values() for m in rules]
    if r < 0.75 and cidrs:
        net = ipaddress.ip_network(rng.choice(cidrs))
        k = rng.random()
        off = 0 if k < 0.15 else net.num_addresses - 1 if k < 0.3 else rng.randrange(net.num_addresses)
        a = net.network_address + off
    else:
        a = ipaddress.ip_address(rng.choice(V4 + V6))
    if a.version == 4:
        # no multicast, 240/4, 0/8 or lo's broadcast: the kernel refuses those itself
        if a.is_multicast or a.is_reserved or int(a) >> 24 == 0 and int(a) != 0 or \
                str(a) == "127.255.255.255":
            a = ipaddress.ip_address(rng.choice(V4))
        if rng.random() < 0.15:
            return "::ffff:" + str(a)
    elif a.is_multicast or a.is_link_local:
        a = ipaddress.ip_address(rng.choice(V6))
    return str(a)


def rand_port(pols):
    ports = [1, 65535] + PORTS
    for _, _, rules in pols.values():
        for (_, _, port) in rules:
            if port:
                lo, _, hi = port.partition("-")
                hi = hi or lo
                ports += [int(lo), int(hi), max(1, int(lo) - 1), min(65535, int(hi) + 1)]
    return rng.choice(ports) if rng.random() < 0.85 else rng.randint(1, 65535)


def move_to(cg):
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def attempt(proto, addr, port):
    """What the kernel does: 'allow', or the errno name of a denial."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.settimeout(5)
    try:
        if proto == "tcp":
            s.connect((addr, port))
        else:
            s.sendto(b"explain", (addr, port))
        return "allow"
    except OSError as e:
        if proto == "tcp" and e.errno == errno.ECONNREFUSED:
            return "allow"      # reached the netns's lo: nobody listens there
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


total = bad = oneshot = 0
seen, kinds = {}, set()
t0 = time.time()
rnd = -1
while rnd + 1 < rounds or total < 3000:
    rnd += 1
    pols = gen_policies()
    pf = policy_file(pols)
    r = ectl_run("apply", "-f", "-", stdin=pf)
    if r.returncode:
        print(f"SETUP round {rnd}: apply failed: {r.stderr.strip()}\n{pf}")
        sys.exit(1)
    bound = {}
    for node in NODES:
        if rng.random() < 0.5:
            bound[node] = rng.choice(POLS)
            r = ectl_run("attach", os.path.join(cgroot, node), "--policy", bound[node])
        else:
            r = ectl_run("detach", os.path.join(cgroot, node))
            r.returncode = 0 if "is not bound" in r.stderr else r.returncode
        if r.returncode:
            print(f"SETUP round {rnd}: attach/detach {node}: {r.stderr.strip()}")
            sys.exit(1)
    for node in NODES:
        path = [n for n in NODES if node == n or node.startswith(n + "/")]
        if not any(n in bound for n in path):
            continue
        cg = os.path.join(cgroot, node)
        cases = [(rand_dest(pols), rng.choice(["tcp", "udp"]), rand_port(pols)) for _ in range(45)]
        r = ectl_run("explain", "--cgroup", cg, "--batch",
                     stdin="".join(f"{a} {p} {n}\n" for a, p, n in cases))
        answers = [json.loads(l) for l in r.stdout.splitlines()]
        if r.returncode or len(answers) != len(cases):
            print(f"SETUP round {rnd} {node}: explain --batch exit {r.returncode}: {r.stderr.strip()}")
            sys.exit(1)
        move_to(cg)
        got = [attempt(p, a, n) for a, p, n in cases]
        move_to(cgroot)
        for (a, p, n), ans, k in zip(cases, answers, got):
            want = "allow" if ans["verdict"] == "allow" else ans["errno"]
            total += 1
            seen[k] = seen.get(k, 0) + 1
            kinds.add(ans["policies"][0]["why"])
            if want != k:
                bad += 1
                if bad <= 5:
                    print(f"DISAGREE round {rnd} seed {seed} cgroup {node} bound {bound}: {a} {p} {n}: "
                          f"explain {want}, kernel {k}\n  explain: {json.dumps(ans)}\n  policies:\n{pf}")
        # the one-shot command: exit 0 allowed, 1 denied, for two of the cases
        for (a, p, n), k in list(zip(cases, got))[:2]:
            r = ectl_run("explain", "--cgroup", cg, a, "--proto", p, "--port", str(n))
            oneshot += 1
            if r.returncode != (0 if k == "allow" else 1):
                bad += 1
                print(f"DISAGREE one-shot {a} {p} {n} in {node}: exit {r.returncode}, kernel {k}: "
                      f"{r.stdout}{r.stderr}")
print(f"cases {total} one-shot {oneshot} disagreements {bad} seconds {time.time() - t0:.1f} seed {seed} "
      f"rounds {rnd + 1} outcomes {json.dumps(seen, sort_keys=True)} reasons {sorted(kinds)}")
PY

mkcg n1/n2/n3 n1/n4 n5/n6/n7
seed=${EXPLAIN_SEED:-$RANDOM$RANDOM}
rounds=${EXPLAIN_ROUNDS:-12}
out=$(timeout 300 nsenter --net="/run/netns/$NS" python3 "$T/prop.py" "$EGRESSCTL" "$PIN" "$CGROOT" \
	"$rounds" "$seed" 2>&1)
rc=$?
summary=$(printf '%s\n' "$out" | grep '^cases ' | tail -1)
echo "# property: $summary"
if [ $rc -ne 0 ] || [ -z "$summary" ]; then
	fail property/ran "exit $rc (seed $seed): $out"
else
	set -- $summary
	if [ "$2" -ge 1000 ]; then
		pass property/at-least-1000-cases
	else
		fail property/at-least-1000-cases "only $2 cases (seed $seed)"
	fi
	check_eq property/no-disagreement 0 "$6"
	[ "$6" = 0 ] || printf '%s\n' "$out" | grep -A3 '^DISAGREE' | head -40
fi

finish

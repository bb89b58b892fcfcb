#!/usr/bin/env python3
"""genpolicy.py - writes an egressctl policy file (and, optionally, an nft
element list of the same size) for the benchmark.  Deterministic (seeded).

  genpolicy.py --name NAME --family 4|6 --size N --mix realistic|dense
               --allow ADDR [--deny ADDR] --out FILE [--nft FILE]

The policy: default deny, "allow ADDR/32" (/128), "deny DENY/32" (/128) when
N >= 2, and N-2 filler rules, N rules in total:
  realistic  IPv4 /8../32 (/8../15 rare, mostly /16../24, 13% /32) over 1.0.0.0-222.255.255.255,
             IPv6 /48../128 over 2000::/3; 10% carry --proto/--port; 70% allow;
             nothing inside 127.0.0.0/8 or 2001:db8::/32 (the benchmark's own
             destinations keep their verdicts: allowed, denied, or the default);
  dense      consecutive full-length prefixes right after ADDR: the deepest
             path in the kernel's LPM trie to ADDR (the worst case).
The nft list holds the same prefixes minus DENY (so that "!= @set" denies it),
topped up to the same count with addresses next to ADDR.
"""
import argparse
import random
import socket

p = argparse.ArgumentParser()
p.add_argument("--name", required=True)
p.add_argument("--family", type=int, choices=(4, 6), required=True)
p.add_argument("--size", type=int, required=True)
p.add_argument("--mix", choices=("realistic", "dense"), required=True)
p.add_argument("--allow", required=True)
p.add_argument("--deny")
p.add_argument("--seed", type=int, default=6)
p.add_argument("--nft")
p.add_argument("--out", required=True)
a = p.parse_args()

fam = socket.AF_INET if a.family == 4 else socket.AF_INET6
bits = 32 if a.family == 4 else 128
nbytes = bits // 8


def to_int(s):
    return int.from_bytes(socket.inet_pton(fam, s), "big")


def to_str(v):
    return socket.inet_ntop(fam, v.to_bytes(nbytes, "big"))


rnd = random.Random(a.seed * 1000003 + a.size * 7 + a.family * 3 + (a.mix == "dense"))
allow = to_int(a.allow)
deny = to_int(a.deny) if a.deny else None
seen = set()
rules = []          # (addr, plen, action, extra)


def add(addr, plen, action, extra=""):
    if (addr, plen) in seen:
        return
    seen.add((addr, plen))
    rules.append((addr, plen, action, extra))


add(allow, bits, "allow")
if a.size >= 2 and deny is not None:
    add(deny, bits, "deny")

if a.mix == "dense":
    i = 1
    while len(rules) < a.size:
        v = allow + i
        i += 1
        if v != deny:
            add(v, bits, "allow" if i % 3 else "deny")
else:
    if a.family == 4:
        # per 100 rules; /8../15 rare, as in real allow/block lists
        plens = [(8, 0.01), (10, 0.02), (12, 0.05), (14, 0.1), (16, 3), (18, 4), (20, 8),
                 (22, 14), (24, 50), (26, 3), (28, 3), (30, 2), (32, 12.82)]
        lo, hi = 0x01000000, 0xDF000000
        avoid = (0x7F000000, 0x80000000)                          # 127.0.0.0/8
    else:
        plens = [(48, 30), (52, 5), (56, 20), (60, 5), (64, 25), (96, 3), (112, 2), (128, 10)]
        lo, hi = 0x2 << 125, 0x4 << 125                          # 2000::/3
        avoid = (0x20010db8 << 96, 0x20010db9 << 96)              # 2001:db8::/32
    pl = [x for x, _ in plens]
    cum = []
    acc = 0
    for _, w in plens:
        acc += w
        cum.append(acc)
    ports = ["--proto tcp --port 443", "--proto tcp --port 80", "--proto udp --port 53",
             "--port 8000-8999", "--proto tcp"]
    guard = 0
    while len(rules) < a.size and guard < a.size * 20:
        guard += 1
        plen = rnd.choices(pl, cum_weights=cum)[0]
        host = bits - plen
        net = (rnd.randrange(lo, hi) >> host) << host
        end = net + (1 << host)
        if net < avoid[1] and end > avoid[0]:
            continue
        extra = rnd.choice(ports) if rnd.random() < 0.1 else ""
        add(net, plen, "allow" if rnd.random() < 0.7 else "deny", extra)

with open(a.out, "w") as f:
    f.write(f"# bench/genpolicy.py: {a.size} rules, IPv{a.family}, {a.mix}\n")
    f.write(f"policy add {a.name} --default deny\n")
    for addr, plen, action, extra in rules:
        f.write(f"{action} {to_str(addr)}/{plen} {extra + ' ' if extra else ''}--policy {a.name}\n")

if a.nft:
    elems = [(to_str(addr) if plen == bits else f"{to_str(addr)}/{plen}")
             for addr, plen, _, _ in rules if not (addr == deny and plen == bits)]
    j = 0
    while len(elems) < len(rules):
        j += 1
        elems.append(to_str(allow + (1 << 20) + j))
    with open(a.nft, "w") as f:
        f.write(",\n".join(elems) + "\n")
print(len(rules))

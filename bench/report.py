#!/usr/bin/env python3
"""report.py OUTDIR RESULTS.md - turns bench/run.sh's raw data into the table
(stdout) and bench/RESULTS.md.  Every figure is a per-round ratio or
difference against the baseline arm of the same round; the median is shown
with its interquartile range [p25..p75]."""
import glob
import json
import os
import statistics
import sys

OUT, DEST = sys.argv[1], sys.argv[2]


def q(v, p):
    v = sorted(v)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def med(v):
    return q(v, 0.5)


def spread(v, fmt="{:.0f}"):
    if not v:
        return "n/a"
    return f"{fmt.format(med(v))} [{fmt.format(q(v, .25))}..{fmt.format(q(v, .75))}]"


def read(name):
    p = os.path.join(OUT, name)
    return open(p, errors="replace").read() if os.path.exists(p) else ""


meta = dict(line.split("\t", 1) for line in read("meta.tsv").splitlines() if "\t" in line)


def load_overhead(name):
    rounds = {}
    for line in read(name + ".tsv").splitlines():
        f = line.split("\t")
        if len(f) < 9:
            continue
        r = int(f[1])
        rounds.setdefault(r, {})[f[2]] = dict(ns=float(f[3]), prog=float(f[4]), all=float(f[5]),
                                             ok=int(f[6]), eperm=int(f[7]), other=int(f[8]))
    return rounds


def per_round(rounds, fn):
    out = []
    for r in sorted(rounds):
        try:
            v = fn(rounds[r])
        except (KeyError, ZeroDivisionError):
            continue
        if v is not None:
            out.append(v)
    return out


rows = []          # (section, scenario, figure, goal, verdict)
notes = []
goal_rows = []     # (goal, measured, met)


def add(section, scenario, figure, goal="", verdict=""):
    rows.append((section, scenario, figure, goal, verdict))


def ok(b):
    return "met" if b else "MISSED"


# ------------------------------------------------------------------ overhead
kinds = {"udp4": "UDP sendto, IPv4", "udp6": "UDP sendto, IPv6", "tcp4": "TCP connect, IPv4",
         "tcp6": "TCP connect, IPv6"}
sane = []
for kind, label in kinds.items():
    R = load_overhead(kind)
    if not R:
        continue
    sec = f"Per-call cost: {label} (baseline: the same call from an unbound cgroup, same round)"
    base = per_round(R, lambda a: a["none"]["ns"])
    add(sec, "baseline (none)", f"{spread(base)} ns per call")
    arms = [a for a in R[min(R)] if a != "none"]
    for arm in arms:
        ratio = per_round(R, lambda a, arm=arm: a[arm]["ns"] / a["none"]["ns"])
        diff = per_round(R, lambda a, arm=arm: a[arm]["ns"] - a["none"]["ns"])
        prog = per_round(R, lambda a, arm=arm: a[arm]["prog"] if a[arm]["prog"] >= 0 else None)
        allp = per_round(R, lambda a, arm=arm: a[arm]["all"] if a[arm]["all"] >= 0 else None)
        fig = f"x{spread(ratio, '{:.3f}')} ({spread(diff, '{:+.0f}')} ns)"
        if prog:
            fig += f"; program {spread(prog)} ns/call, all programs {spread(allp)} ns/op"
        goal = verdict = ""
        expect_deny = "deny" in arm
        tot = sum(R[r][arm]["ok"] for r in R), sum(R[r][arm]["eperm"] for r in R), sum(R[r][arm]["other"] for r in R)
        if (expect_deny and tot[0]) or (not expect_deny and tot[1]) or tot[2]:
            notes.append(f"{kind} {arm}: unexpected results ok={tot[0]} EPERM={tot[1]} other={tot[2]}")
        floor = per_round(R, lambda a: a["noop-prog"]["prog"]) if "noop-prog" in R[min(R)] else []
        if prog and floor and arm.startswith("egress"):
            fig += f"; program net of the no-op floor {med(prog) - med(floor):.0f} ns"
        if arm == "egress-1k-r" or arm == "egress-1k-d":
            m = med(allp)
            goal = "program ≤ 100 ns/call"
            verdict = ok(m <= 100)
            net = f", {med(prog) - med(floor):.0f} ns net of the no-op program's {med(floor):.0f} ns" if floor else ""
            goal_rows.append((f"allowed-path program cost ≤ 100 ns at 1,000 rules ({kind}, {arm[-1] == 'r' and 'realistic' or 'dense'})",
                              f"all programs {m:.0f} ns per call (hook program {med(prog):.0f} ns{net})", verdict))
            if kind.startswith("udp"):
                added = (med(ratio) - 1) * 100
                goal += "; ≤ 5% added to sendto"
                v2 = ok(added <= 5)
                verdict += "; " + v2
                goal_rows.append((f"≤ 5% added to a loopback UDP sendto at 1,000 rules ({kind}, {arm[-1] == 'r' and 'realistic' or 'dense'})",
                                  f"{added:+.1f}% ({med(diff):+.0f} ns)", v2))
        if arm.startswith("egress-100k"):
            sc = per_round(R, lambda a, arm=arm: a[arm]["all"] / a["egress-1"]["all"])
            sh = per_round(R, lambda a, arm=arm: a[arm]["prog"] / a["egress-1"]["prog"])
            fig += f"; vs 1 rule: program x{spread(sh, '{:.2f}')}, all x{spread(sc, '{:.2f}')}"
            goal = "≤ 1.5× the 1-rule cost"
            verdict = ok(med(sh) <= 1.5)
            goal_rows.append((f"100,000 rules ≤ 1.5× the 1-rule cost ({kind}, {'realistic' if arm.endswith('r') else 'dense /32' if kind[-1] == '4' else 'dense /128'})",
                              f"x{med(sh):.2f} (hook program), x{med(sc):.2f} (all programs)", verdict))
        if arm.startswith("nft-") and not arm.startswith("nft-deny"):
            eg = "egress-" + arm[4:].replace("_", "-")
            if eg in R[min(R)]:
                rr = per_round(R, lambda a, arm=arm, eg=eg: a[arm]["ns"] / a[eg]["ns"])
                nd = per_round(R, lambda a, arm=arm: a[arm]["ns"] - a["none"]["ns"])
                ed = per_round(R, lambda a, eg=eg: a[eg]["ns"] - a["none"]["ns"])
                fig += f"; call with nft ÷ call with egress ({eg}) x{spread(rr, '{:.3f}')}"
                goal = "egress faster than nftables"
                verdict = ok(med(rr) >= 1.0)
                goal_rows.append((f"faster than nftables ({kind}, {arm[4:]})",
                                  f"nft adds {med(nd):+.0f} ns, egress {med(ed):+.0f} ns; nft/egress call time x{med(rr):.3f}",
                                  verdict))
        if arm == "nft-deny-1k-r" and "egress-deny-1k-r" in R[min(R)]:
            rr = per_round(R, lambda a: a["nft-deny-1k-r"]["ns"] / a["egress-deny-1k-r"]["ns"])
            fig += f"; denied call with nft ÷ with egress x{spread(rr, '{:.2f}')}"
        add(sec, arm, fig, goal, verdict)

# ------------------------------------------------------------------ unbound
R = load_overhead("unbound")
if R:
    d = per_round(R, lambda a: a["unbound-elsewhere"]["ns"] - a["unbound-nowhere"]["ns"])
    r_ = per_round(R, lambda a: a["unbound-elsewhere"]["ns"] / a["unbound-nowhere"]["ns"])
    sec = "Unbound cgroup (UDP sendto IPv4 from a cgroup egress does not govern)"
    val, how = med(d), f"{med(d):+.0f} ns [{q(d, .25):+.0f}..{q(d, .75):+.0f}]"
    if q(d, .75) - q(d, .25) > 100:
        # bimodal: in some rounds another tenant's programs had the hooks' static keys on
        # already, so the "nowhere" baseline paid the same; judge by the clean rounds
        cut = (q(d, .25) + q(d, .75)) / 2
        clean = [x for x in d if x >= cut]
        val = med(clean)
        how = (f"{val:+.0f} ns in the {len(clean)} of {len(d)} rounds where no other tenant had the hooks on "
               f"(all rounds: {how}; per round: {' '.join(f'{x:+.0f}' for x in d)})")
        notes.append("unbound: bimodal — other tenants' tests attached cgroup programs during part of the run, "
                     "which turns the kernel's static keys on for everyone, so the 'nowhere' baseline paid the same")
    add(sec, "sibling bound vs not bound", f"{spread(d, '{:+.0f}')} ns (x{spread(r_, '{:.3f}')})",
        "≤ 30 ns", ok(val <= 30))
    goal_rows.append(("unbound cgroups pay ≤ 30 ns", how, ok(val <= 30)))

# ------------------------------------------------------------------ per-rule hit counters
R = load_overhead("rule-hits")
if R:
    sec = ("Per-rule hit counters (UDP sendto IPv4; the same policy in two fresh instances, one whose "
           "programs count and one whose programs do not, arms interleaved)")
    for pol in ("1", "1k-r", "deny-1k-r"):
        h, n, h2 = "hits-" + pol, "nohits-" + pol, "hits2-" + pol
        if h not in R[min(R)] or n not in R[min(R)]:
            continue
        d = per_round(R, lambda a, h=h, n=n: a[h]["prog"] - a[n]["prog"])
        ph = per_round(R, lambda a, h=h: a[h]["prog"])
        pn = per_round(R, lambda a, n=n: a[n]["prog"])
        fig = (f"program {spread(ph)} ns/call counting, {spread(pn)} without: "
               f"{spread(d, '{:+.1f}')} ns a decision")
        aa = per_round(R, lambda a, h=h, h2=h2: a[h2]["prog"] - a[h]["prog"]) if h2 in R[min(R)] else []
        if aa:
            fig += f"; two equal counting instances (A/A) differ by {spread(aa, '{:+.1f}')} ns"
        if pol.startswith("deny"):
            # the denial path (event, rate limit, egress_seen) varies more between two equal
            # instances than the counter costs: shown, judged on the allowed path
            add(sec, pol, fig + " (shown, not judged: the A/A spread is the noise)")
            continue
        v = ok(med(d) <= 10)
        add(sec, pol, fig, "≤ 10 ns a decision", v)
        goal_rows.append((f"per-rule hit counters add ≤ 10 ns a decision (udp4, {pol} rule{'s' if pol != '1' else ''}, allowed)",
                          f"{med(d):+.1f} ns (program {med(ph):.0f} vs {med(pn):.0f} ns/call)", v))

# ------------------------------------------------------------------ 1 vs 10,000 bound
R = load_overhead("bound1-vs-10k")
if R:
    sec = "1 versus 10,000 bound cgroups (UDP sendto IPv4, 1-rule policy, separate egress instances)"
    for arm in ("one-bound", "10k-bound"):
        ratio = per_round(R, lambda a, arm=arm: a[arm]["ns"] / a["none"]["ns"])
        prog = per_round(R, lambda a, arm=arm: a[arm]["prog"])
        add(sec, arm, f"x{spread(ratio, '{:.3f}')} vs unbound; program {spread(prog)} ns/call")
    rr = per_round(R, lambda a: a["10k-bound"]["prog"] / a["one-bound"]["prog"])
    add(sec, "10k ÷ 1 (program cost)", f"x{spread(rr, '{:.3f}')}")
bm = [line.split("\t") for line in read("bindmany.tsv").splitlines() if line.startswith("bind\t")]
if bm:
    us = [float(x[2]) for x in bm]
    add("1 versus 10,000 bound cgroups (UDP sendto IPv4, 1-rule policy, separate egress instances)",
        "in-process bind (as state_bind), first 100 vs last 100 of 10,000",
        f"{med(us[:100]):.0f} µs → {med(us[-100:]):.0f} µs (x{med(us[-100:]) / med(us[:100]):.2f}); all 10,000 in {sum(us) / 1e6:.2f} s")

# ------------------------------------------------------------------ control plane
cmds = {}
for line in read("cmds.tsv").splitlines():
    f = line.split("\t")
    if len(f) == 3:
        cmds.setdefault(f[0], []).append((int(f[1]), float(f[2]) / 1000.0))


def byround(a, b):
    A, Bv = dict(cmds.get(a, [])), dict(cmds.get(b, []))
    return [(A[r], Bv[r]) for r in sorted(A) if r in Bv]


sec = "Control plane (wall time of the egressctl command, exec included; baseline in the same round)"
if cmds:
    noop = [v for _, v in cmds.get("ctl-noop", [])]
    add(sec, "egressctl policy list (exec + open state; baseline)", f"{spread(noop, '{:.2f}')} ms")
    one = [v for _, v in cmds.get("attach-one", [])]
    many = [v for _, v in cmds.get("attach-many", [])]
    pr = byround("attach-many", "attach-one")
    nb = byround("attach-many", "ctl-noop")
    add(sec, "attach, 1 bound", f"{spread(one, '{:.2f}')} ms")
    m_net = [a - b for a, b in nb]
    add(sec, "attach, 10,000 bound", f"{spread(many, '{:.2f}')} ms; ÷ 1 bound x{spread([a / b for a, b in pr], '{:.2f}')}; "
        f"minus exec baseline {spread(m_net, '{:+.2f}')} ms", "≤ 1 ms",
        ok(med(m_net) <= 1.0) + (" (binding work)" if med(many) > 1 else ""))
    goal_rows.append(("binding a cgroup ≤ 1 ms with 10,000 bound",
                      f"{med(m_net):.2f} ms of binding work ({med(many):.2f} ms wall with exec)", ok(med(m_net) <= 1.0)))
    a1 = [v for _, v in cmds.get("apply-1", [])]
    an = [v for _, v in cmds.get("apply-100k-new", [])]
    ar = [v for _, v in cmds.get("apply-100k-replace", [])]
    dn = [a - b for a, b in byround("apply-100k-new", "apply-1")]
    dr = [a - b for a, b in byround("apply-100k-replace", "apply-1-again")]
    add(sec, "apply, 1 rule (baseline)", f"{spread(a1, '{:.1f}')} ms")
    add(sec, "apply, 100,000 rules, new policy", f"{spread(an, '{:.0f}')} ms ({spread(dn, '{:+.0f}')} ms vs 1 rule)",
        "≤ 100 ms", ok(med(an) <= 100))
    add(sec, "apply, 100,000 rules replacing 100,000 others", f"{spread(ar, '{:.0f}')} ms ({spread(dr, '{:+.0f}')} ms vs 1 rule)",
        "≤ 100 ms", ok(med(ar) <= 100))
    goal_rows.append(("100,000-rule apply ≤ 100 ms", f"new {med(an):.0f} ms, replace {med(ar):.0f} ms", ok(max(med(an), med(ar)) <= 100)))
# issue 12 goal 5: apply ÷ the kernel floor (bench/floor.c), per round
fl_ratio = [a / b for a, b in byround("apply-100k-new", "floor-100k") if b > 0]
if fl_ratio:
    add(sec, "kernel floor of the 100,000-rule apply (bench/floor.c: the same trie and host entries into fresh maps, batched)",
        f"{spread([v for _, v in cmds.get('floor-100k', [])], '{:.0f}')} ms")
    add(sec, "apply of 100,000 rules ÷ its kernel floor (same round; apply's exec, parse and compile included)",
        f"x{spread(fl_ratio, '{:.2f}')}", "≤ 1.2", ok(med(fl_ratio) <= 1.2))
    goal_rows.append(("`apply -f` of 100,000 rules ≤ 1.2 × the kernel floor", f"x{spread(fl_ratio, '{:.2f}')} "
                      f"({med(an):.0f} ms vs floor {med([v for _, v in cmds.get('floor-100k', [])]):.0f} ms)",
                      ok(med(fl_ratio) <= 1.2)))
# issue 12 goal 4: one rule edit, 100,000 rules ÷ 1 rule, per round
for verb in ("deny", "remove"):
    er = [a / b for a, b in byround(f"edit-{verb}-100k", f"edit-{verb}-1") if b > 0]
    if er:
        e1 = [v for _, v in cmds.get(f"edit-{verb}-1", [])]
        en = [v for _, v in cmds.get(f"edit-{verb}-100k", [])]
        add(sec, f"egressctl {verb} of one rule: 1-rule policy / 100,000-rule policy",
            f"{spread(e1, '{:.1f}')} ms / {spread(en, '{:.1f}')} ms")
        add(sec, f"egressctl {verb} of one rule, 100,000 rules ÷ 1 rule (same round, exec included)",
            f"x{spread(er, '{:.2f}')}", "≤ 1.5", ok(med(er) <= 1.5))
        goal_rows.append((f"one rule edit ({verb}) with 100,000 rules ≤ 1.5 × on a 1-rule policy",
                          f"x{spread(er, '{:.2f}')} ({med(en):.1f} ms vs {med(e1):.1f} ms)", ok(med(er) <= 1.5)))
init = dict(line.split("\t") for line in read("apply-initial.tsv").splitlines() if "\t" in line)
if init:
    add(sec, "initial applies (once, not interleaved)",
        ", ".join(f"{k} {int(v) / 1000:.0f} ms" for k, v in init.items()))

vis = {}
for line in read("visible.tsv").splitlines():
    f = line.split("\t")
    if len(f) == 7:
        vis.setdefault(f[1], []).append((f[3], float(f[4]) / 1000.0, float(f[5]), int(f[6])))
sec2 = "Rule change → next syscall (egressctl deny/remove 127.0.0.1/32 --proto udp; a sendto right after it returns)"
allvis = []
for label, v in vis.items():
    walls = [w for _, w, _, _ in v]
    seen = [s for _, _, s, _ in v]
    firsts = sum(1 for _, _, _, t in v if t == 0)
    allvis += seen if label != "1-rule" else []
    add(sec2, f"{label}: egressctl wall", f"{spread(walls, '{:.1f}')} ms (n={len(v)})")
    add(sec2, f"{label}: return → first sendto with the new verdict",
        f"p50 {med(seen):.2f} µs, p99 {q(seen, .99):.2f} µs, max {max(seen):.2f} µs; first call after return saw it {firsts}/{len(v)}",
        "≤ 20 µs p99" if label != "1-rule" else "", ok(q(seen, .99) <= 20) if label != "1-rule" else "")
if "1-rule" in vis:
    w1 = med([w for _, w, _, _ in vis["1-rule"]])
    for label in vis:
        if label != "1-rule":
            add(sec2, f"{label}: wall ÷ 1-rule policy", f"x{med([w for _, w, _, _ in vis[label]]) / w1:.0f}")
if allvis:
    wl = [w for lab, v in vis.items() if lab != "1-rule" for _, w, _, _ in v]
    goal_rows.append(("rule change visible to the next syscall ≤ 20 µs p99 (100,000 rules present)",
                      f"p99 {q(allvis, .99):.2f} µs after egressctl returns (but egressctl itself takes {med(wl):.0f} ms)",
                      ok(q(allvis, .99) <= 20)))

# ------------------------------------------------------------------ flood
fl = [line.split("\t") for line in read("flood.tsv").splitlines() if line.startswith("flood\t")]


def status_delta(inst, r):
    try:
        a = json.load(open(os.path.join(OUT, f"flood-{inst}-{r}-before.json")))
        b = json.load(open(os.path.join(OUT, f"flood-{inst}-{r}-after.json")))
    except (OSError, ValueError):
        return None
    d = {}
    for k in ("ringbuf_drops", "events_delivered", "events_suppressed"):
        if k in a and k in b:
            d[k] = b[k] - a[k]
    pa = {p["name"]: p for p in a["policies"]}
    den = 0
    for p in b["policies"]:
        if p["name"] in pa:
            den += p["hooks"]["sendmsg4"]["denied"] - pa[p["name"]]["hooks"]["sendmsg4"]["denied"]
    d["denied"] = den
    return d


sec3 = "Denial flood (one process on one CPU: unconnected UDP sendto to a denied address; egressd on the other CPU)"
if fl:
    base = [float(x[6]) for x in fl if x[1] == "allowed-unbound"]
    add(sec3, "baseline: allowed sendto from an unbound cgroup", f"{spread(base, '{:,.0f}')} calls/s")
    for inst, desc in (("main", "egressd defaults (event rate limit per cgroup)" if meta.get("rate_limit") == "1" else "egressd defaults"),
                       ("one", "egressd --event-rate 0 (no rate limit)" if meta.get("rate_limit") == "1" else "second instance")):
        xs = [x for x in fl if x[1] == inst]
        if not xs:
            continue
        rates = [float(x[6]) for x in xs]
        cpus = [float(x[7]) * 100 for x in xs]
        exact = []
        extra = []
        for i, x in enumerate(xs, 1):
            d = status_delta(inst, i)
            if d is None:
                continue
            eperm = int(x[3])
            exact.append(d["denied"] == eperm)
            delivered_lines = int(x[9])
            acc = d.get("events_delivered", 0) + d.get("events_suppressed", 0) + d.get("ringbuf_drops", 0)
            extra.append(f"round {i}: {eperm:,} denials, counter +{d['denied']:,}, events delivered {d.get('events_delivered', 'n/a'):,} "
                         f"(lines from egressd {delivered_lines:,}), suppressed {d.get('events_suppressed', 'n/a'):,}, "
                         f"dropped {d.get('ringbuf_drops', 'n/a'):,}; delivered+suppressed+dropped = {acc:,}")
        rss = max(int(x[12]) for x in xs)
        fig = (f"{spread(rates, '{:,.0f}')} denials/s (x{med(rates) / med(base):.2f} the allowed rate); egressd CPU "
               f"{spread(cpus, '{:.1f}')}% of a core; VmHWM {rss / 1024:.1f} MiB; counters exact in {sum(exact)}/{len(exact)} rounds")
        met = med(rates) >= 1e6 and all(exact) and med(cpus) <= 10
        add(sec3, desc, fig, "≥ 1,000,000/s, exact, egressd ≤ 10%", ok(met))
        goal_rows.append((f"≥ 1,000,000 denials/s, exact counters, egressd ≤ 10% of a core — {desc}",
                          f"{med(rates):,.0f}/s, egressd {med(cpus):.1f}%, exact {sum(exact)}/{len(exact)}", ok(met)))
        for e in extra:
            notes.append(f"flood {inst} {e}")

# ------------------------------------------------------------------ memory
sec4 = "Map memory (bpftool memlock of each policy's LPM trie)"
try:
    status = json.load(open(sorted(glob.glob(os.path.join(OUT, "flood-main-*-after.json")))[-1]))
    outer = json.load(open(os.path.join(OUT, "outer.json")))
    maps = {m["id"]: m for m in json.load(open(os.path.join(OUT, "maps.json")))}
    id2map = {}
    for e in outer:
        k = int.from_bytes(bytes(int(x, 16) for x in e["key"]), "little")
        v = int.from_bytes(bytes(int(x, 16) for x in e["value"]), "little")
        id2map[k] = v
    mem = {}
    for p in status["policies"]:
        m = maps.get(id2map.get(p["id"]))
        if m:
            mem[p["name"]] = (p["rules"], m.get("bytes_memlock", 0))
    for name in sorted(mem, key=lambda n: (n[:2], mem[n][0], n)):
        if not name.startswith("p"):
            continue
        rules, ml = mem[name]
        add(sec4, name, f"{rules:,} rules, memlock {ml / 1024:,.0f} KiB")
    for fam in "46":
        for mix in "rd":
            a, b = mem.get(f"p{fam}-1"), mem.get(f"p{fam}-100k-{mix}")
            if a and b:
                add(sec4, f"per rule, IPv{fam} {'realistic' if mix == 'r' else 'dense'}",
                    f"{(b[1] - a[1]) / (b[0] - a[0]):.0f} bytes (100,000-rule trie minus 1-rule trie)")
    notes.append("memlock counts the trie's entries (node + key + 24-byte value); the kernel's "
                 "intermediate (branch) nodes are not in it, so the real footprint is up to ~2x.")
except (OSError, ValueError, IndexError, KeyError) as e:
    notes.append(f"map memory: not available ({e})")

# ------------------------------------------------------------------ memory per rule vs nft (issue 12 goal 7)
sec5 = "Kernel memory per rule: egress's maps (bpftool memlock: trie + host tables + list tables + store) beside nftables' set (slab)"


def mem_per_rule(outdir):
    """{policy: (rules, trie, hosts, lists, store, nft samples)} of one run's raw data (bytes)."""
    status = json.load(open(os.path.join(outdir, "mem-status.json")))
    outer = json.load(open(os.path.join(outdir, "outer.json")))
    hosts = json.load(open(os.path.join(outdir, "hosts-outer.json")))
    maps = {m["id"]: m for m in json.load(open(os.path.join(outdir, "maps.json")))}

    def kv(e):
        if "formatted" in e:
            return int(e["formatted"]["key"]), int(e["formatted"]["value"])
        return (int.from_bytes(bytes(int(x, 16) for x in e["key"]), "little"),
                int.from_bytes(bytes(int(x, 16) for x in e["value"]), "little"))
    tries = dict(kv(e) for e in outer)
    htabs = dict(kv(e) for e in hosts)
    try:
        ltabs = dict(kv(e) for e in json.load(open(os.path.join(outdir, "lists-outer.json"))))
    except (OSError, ValueError):
        ltabs = {}	# a build before the list tables
    store = {}
    nft = {}
    for line in open(os.path.join(outdir, "mem.tsv")).read().splitlines():
        f = line.split("\t")
        if f[0] == "store":
            store[f[1]] = int(f[3])
        elif f[0] == "nft":
            nft.setdefault(f[1], []).append(int(f[3]))
    rules = {p["name"]: (p["id"], p["rules"]) for p in status["policies"]}
    out = {}
    for name in ("p4-1k-r", "p4-100k-r", "p4-100k-d", "p6-1k-r", "p6-100k-r"):
        if name not in rules:
            continue
        pid, n = rules[name]
        trie = maps.get(tries.get(pid), {}).get("bytes_memlock", 0)
        ht = sum(maps.get(htabs.get(slot), {}).get("bytes_memlock", 0) for slot in (2 * pid, 2 * pid + 1))
        lt = sum(maps.get(ltabs.get(slot), {}).get("bytes_memlock", 0) for slot in (2 * pid, 2 * pid + 1))
        out[name] = (n, trie, ht, lt, store.get(name, 0), nft.get("s" + name[1:], []))
    return out


try:
    for name, (n, trie, ht, lt, st, ns) in mem_per_rule(OUT).items():
        per = (trie + ht + lt + st) / n
        nb = med(ns) if ns else None
        fig = (f"egress {per:,.0f} B/rule (trie {trie / n:,.0f} + hosts {ht / n:,.0f} + lists {lt / n:,.0f} + "
               f"store {st / n:,.0f}; {(trie + ht + lt + st) / 1024:,.0f} KiB for {n:,} rules)")
        if nb is not None:
            fig += f"; nft {nb / n:,.0f} B/rule ({nb / 1024:,.0f} KiB, IQR {spread([v / n for v in ns])})"
        verdict = ok(per <= nb / n) if nb else ""
        add(sec5, name, fig, "≤ nftables" if nb else "", verdict)
        if nb:
            goal_rows.append((f"kernel memory per rule ≤ nftables ({name})",
                              f"egress {per:,.0f} B/rule, nft {nb / n:,.0f} B/rule", verdict))
    notes.append("memory: egress = bytes_memlock (bpftool) of the policy's LPM trie, both host-table and list-table slots and its "
                 "store map; nft = the growth of /proc/slabinfo caches (active objects × object size) when the "
                 "same set is loaded alone into a table, counting only caches that shrink back when the table is "
                 "deleted, median of 3 cycles. The LPM trie's memlock leaves out its branch nodes (see above).")
except (OSError, ValueError, IndexError, KeyError) as e:
    notes.append(f"memory per rule: not available ({e})")

# ------------------------------------------------------------------ issue 12 goals, before and after
def issue12(outdir):
    """The issue-12 goal figures of one run's raw data: [(goal, figure, met)]."""
    def ld(name):
        rounds = {}
        path = os.path.join(outdir, name + ".tsv")
        for line in (open(path).read().splitlines() if os.path.exists(path) else []):
            f = line.split("\t")
            if len(f) >= 9:
                rounds.setdefault(int(f[1]), {})[f[2]] = float(f[3])
                rounds[int(f[1])][f[2] + "/bpf"] = float(f[5])	# all programs, ns per call
        return rounds

    out = []
    for kind in ("udp4", "udp6"):
        R = ld(kind)
        if not R or "none" not in R[min(R)]:
            continue
        have_noop = "noop-prog" in R[min(R)]
        nd = per_round(R, lambda a: a["noop-prog"] - a["none"]) if have_noop else []
        for arm, desc in (("egress-1k-r", "1k realistic"), ("egress-100k-r", "100k realistic")):
            if arm not in R[min(R)]:
                continue
            rr = per_round(R, lambda a, arm=arm: a[arm] / a["none"])
            ed = per_round(R, lambda a, arm=arm: a[arm] - a["none"])
            out.append((f"1. allowed UDP sendto ≤ 1.05 × unbound ({kind}, {desc})",
                        f"x{spread(rr, '{:.3f}')}", med(rr) <= 1.05))
            if nd:
                out.append((f"1. egress's added ns ≤ 2 × no-op programs' ({kind}, {desc})",
                            f"egress {spread(ed, '{:+.0f}')} ns, no-op {spread(nd, '{:+.0f}')} ns: "
                            f"x{med(ed) / med(nd) if med(nd) > 0 else float('inf'):.2f}",
                            med(ed) <= 2 * med(nd)))
            if have_noop:
                # BPF run time (stats pass): far steadier than wall time on a shared machine
                eb = per_round(R, lambda a, arm=arm: a[arm + "/bpf"] if a[arm + "/bpf"] >= 0 else None)
                nb = per_round(R, lambda a: a["noop-prog/bpf"] if a["noop-prog/bpf"] >= 0 else None)
                if eb and nb:
                    out.append((f"1. (BPF run time) egress programs ≤ 2 × no-op programs per datagram ({kind}, {desc})",
                                f"egress {spread(eb)} ns, no-op {spread(nb)} ns: x{med(eb) / med(nb):.2f}",
                                med(eb) <= 2 * med(nb)))
    for kind in ("tcp4", "tcp6"):
        R = ld(kind)
        if not R or "egress-1k-r" not in R[min(R)]:
            continue
        for arm, desc in (("egress-1", "1 rule"), ("egress-1k-r", "1k realistic")):
            rr = per_round(R, lambda a, arm=arm: a[arm] / a["none"])
            eb = per_round(R, lambda a, arm=arm: a[arm + "/bpf"] if a[arm + "/bpf"] >= 0 else None)
            out.append((f"2. TCP connect ≤ 1.03 × unbound ({kind}, {desc})",
                        f"x{spread(rr, '{:.3f}')}; BPF run time {spread(eb)} ns per connect", med(rr) <= 1.03))
    for kind in ("udp4", "udp6", "tcp4", "tcp6"):
        R = ld(kind)
        if not R:
            continue
        for n in ("1", "1k_r", "100k_r", "100k_d"):
            arm, eg = "nft-" + n, "egress-" + n.replace("_", "-")
            if arm in R[min(R)] and eg in R[min(R)]:
                rr = per_round(R, lambda a, arm=arm, eg=eg: a[arm] / a[eg])
                out.append((f"3. nft / egress call time ≥ 1.00 ({kind}, {n.replace('_', ' ')})",
                            f"x{spread(rr, '{:.3f}')}", med(rr) >= 1.0))
    # goals 4 and 5: the control plane's commands, per round (cmds.tsv)
    cm = {}
    cpath = os.path.join(outdir, "cmds.tsv")
    for line in (open(cpath).read().splitlines() if os.path.exists(cpath) else []):
        f = line.split("\t")
        if len(f) == 3:
            cm.setdefault(f[0], {})[int(f[1])] = float(f[2]) / 1000.0

    def rounds_of(a, b):
        return [cm[a][r] / cm[b][r] for r in sorted(cm.get(a, {})) if r in cm.get(b, {}) and cm[b][r] > 0]
    for verb in ("deny", "remove"):
        er = rounds_of(f"edit-{verb}-100k", f"edit-{verb}-1")
        if er:
            out.append((f"4. one rule edit ({verb}) with 100,000 rules ≤ 1.5 × on a 1-rule policy",
                        f"x{spread(er, '{:.2f}')} ({med(list(cm[f'edit-{verb}-100k'].values())):.1f} ms vs "
                        f"{med(list(cm[f'edit-{verb}-1'].values())):.1f} ms)", med(er) <= 1.5))
    fr = rounds_of("apply-100k-new", "floor-100k")
    if fr:
        out.append(("5. `apply -f` of 100,000 rules ≤ 1.2 × the kernel floor",
                    f"x{spread(fr, '{:.2f}')} ({med(list(cm['apply-100k-new'].values())):.0f} ms vs floor "
                    f"{med(list(cm['floor-100k'].values())):.0f} ms; replacing 100,000 others "
                    + (f"{med(list(cm['apply-100k-replace'].values())):.0f} ms)" if cm.get('apply-100k-replace')
                       else "n/a)"), med(fr) <= 1.2))
    R = ld("unbound")
    if R and "unbound-noop-elsewhere" in R[min(R)]:
        d = per_round(R, lambda a: a["unbound-elsewhere"] - a["unbound-noop-elsewhere"])
        d0 = per_round(R, lambda a: a["unbound-elsewhere"] - a["unbound-nowhere"])
        n0 = per_round(R, lambda a: a["unbound-noop-elsewhere"] - a["unbound-nowhere"])
        # egress's own programs' run time per call from the unbound cgroup (BPF run-time stats
        # of every program of the instance): what egress itself executes there
        eb = per_round(R, lambda a: a["unbound-elsewhere/bpf"] if a["unbound-elsewhere/bpf"] >= 0 else None)
        own = f"; egress programs ran {spread(eb, '{:.1f}')} ns per call there" if eb else ""
        out.append(("6. unbound cgroup: egress loaded elsewhere vs no-op programs elsewhere ≤ +10 ns",
                    f"{spread(d, '{:+.0f}')} ns (vs nothing loaded: egress {spread(d0, '{:+.0f}')} ns, "
                    f"no-op {spread(n0, '{:+.0f}')} ns{own})", med(d) <= 10))
    try:
        for name, (n, trie, ht, lt, st, ns) in mem_per_rule(outdir).items():
            if ns:
                per, nb = (trie + ht + lt + st) / n, med(ns) / n
                out.append((f"7. kernel memory per rule ≤ nftables ({name})",
                            f"egress {per:,.0f} B/rule, nft {nb:,.0f} B/rule", per <= nb))
    except (OSError, ValueError, IndexError, KeyError):
        pass
    return out


after12 = issue12(OUT)
BEFORE = os.environ.get("BENCH_BEFORE", "")
before12 = dict((g, (f, m)) for g, f, m in issue12(BEFORE)) if BEFORE and os.path.isdir(BEFORE) else {}
before_meta = {}
if before12:
    bm = os.path.join(BEFORE, "meta.tsv")
    before_meta = dict(l.split("\t", 1) for l in open(bm).read().splitlines() if "\t" in l) if os.path.exists(bm) else {}
for g, f, m in after12:
    b = before12.get(g)
    goal_rows.append((g, (f"before {b[0]} → after {f}" if b else f), ok(m)))

# the change history RESULTS.md keeps: carried over from the previous file, this run's before/after added
history = ""
if os.path.exists(DEST):
    old_md = open(DEST).read()
    i = old_md.find("\n## Changes")
    if i >= 0:
        j = old_md.find("\n## ", i + 1)
        history = old_md[i + 1:j if j >= 0 else len(old_md)].strip()
if before12:
    entry = [f"### {meta.get('commit', '?')} against {before_meta.get('commit', '?')} "
             f"(both measured with this bench on the same machine, one run each)\n",
             f"{os.environ.get('BENCH_CHANGE', '')}\n" if os.environ.get("BENCH_CHANGE") else "",
             "| goal | before | after | |", "|---|---|---|---|"]
    for g, f, m in after12:
        b = before12.get(g)
        entry.append(f"| {g} | {b[0] if b else 'n/a'} | {f} | **{ok(m)}** |")
    body = history[len("## Changes"):].strip() if history else ""
    history = "## Changes\n\n" + "\n".join(x for x in entry if x != "") + ("\n\n" + body if body else "")

# ------------------------------------------------------------------ nft set sizes, host
nsz = read("nft-set-sizes.tsv").strip()
host = read("host.txt").strip()
host_end = read("host-end.txt").strip()


def attachments(txt):
    lines = [l for l in txt.splitlines() if l[:1].isspace() and l.strip()[:1].isdigit()]
    return lines


# ------------------------------------------------------------------ write
table = []
w1 = max(len(r[1]) for r in rows) if rows else 10
cur = None
for sec, sc, fig, goal, verdict in rows:
    if sec != cur:
        table.append(f"\n{sec}")
        cur = sec
    g = f"   [goal {goal}: {verdict}]" if goal else ""
    table.append(f"  {sc:<{w1}}  {fig}{g}")
print("\n".join(table))
print("\nGoals:")
for g, m, v in goal_rows:
    print(f"  {v:<7} {g}: {m}")

md = []
md.append("# egress benchmark results\n")
md.append(f"Reproduce: `make bench` (as root; runs `bash bench/run.sh`). This run: {float(meta.get('elapsed', 0)):.0f} s.\n")
md.append("| | |\n|---|---|")
md.append(f"| machine | {meta.get('machine', '?')} ({meta.get('hypervisor', '?')}) |")
md.append(f"| kernel | {meta.get('kernel', '?')} |")
md.append(f"| egress | {meta.get('commit', '?')} (the working tree as built by `make`) |")
md.append(f"| nftables | {meta.get('nft', '?')} (rule: `socket cgroupv2 level {meta.get('nft_cg', '?').split(' level ')[-1]} \"{meta.get('nft_cg', '?').split(' level ')[0]}\" ip daddr != @set drop`) |")
md.append(f"| rounds | overhead {meta.get('rounds', '?').split()[0]} (TCP {meta.get('rounds', '? ?').split()[1]}), quick={meta.get('quick')} |")
md.append(f"| kernel.bpf_stats_enabled | {meta.get('stats_sysctl')} before and after: stats were enabled through a BPF_ENABLE_STATS fd only during the stats passes (refcounted, released on exit) |")
md.append("")
md.append("## Method\n")
md.append("""- Everything runs in the benchmark's own netns (loopback: 127.0.0.1 / 2001:db8::1 allowed, 127.0.0.2 / 2001:db8::2 denied),
  its own cgroup subtree `egress-bench.<pid>` and its own bpffs; three egressd instances (`main`, `one`, `many`) on CPU 0,
  the measuring process (`build/bench/egbench`, from `bench/egbench.c`) pinned to CPU 1 with taskset.
- Arms are interleaved: every round runs every arm once (order rotated per round; arms needing an nft chain are grouped,
  the chain is added/removed between groups), and each figure is the median over rounds of the per-round ratio
  (or difference) to the round's baseline arm, with the interquartile range in brackets.
- Baseline `none`: the same socket call from an unbound cgroup. `noop-prog`: a cgroup with programs on every hook egress
  uses (sendmsg, connect, sock_create, setsockopt, cgroup_skb egress and ingress) that only return 1 (`bench/noop.bpf.c`):
  the kernel's own hook overhead. Unbound: the same call from a cgroup nothing governs while nothing, no-op programs, or
  egress is attached to a sibling. `egress-N-r|d`: a cgroup bound to a policy of N rules,
  realistic mix (IPv4 /8–/32, IPv6 /48–/128, 10% with proto/port, 70% allow) or dense consecutive /32 (/128) next to the
  destination (deepest LPM-trie path). `egress-deny-*`: the same policies, a denied destination.
- UDP: K unconnected `sendto()` of 16 bytes timed as a batch (receiver drained between batches); TCP: each `connect()` timed
  alone on a fresh socket, then closed with SO_LINGER 0 and the peer accepted (untimed); the arm's figure in a round is the
  median of its connects (one stretched by an interrupt moves a mean of a few hundred by more than egress costs).
- Program cost: BPF run-time stats (run_time_ns / run_cnt) in a separate pass each round: `program` = the hook's program per
  call, `all programs` = the run time of every program of the egress instance (hook + sock_create/setsockopt/skb egress
  programs when the build has them) divided by the number of calls.
- nft: a table `inet egress_bench` in the benchmark's netns, sets of the same size (interval sets with auto-merge for the
  realistic mix, plain sets for dense /32), one output-hook rule for the nft arm's cgroup.
""")
md.append("## Goals\n")
md.append("| goal | measured | |\n|---|---|---|")
for g, m, v in goal_rows:
    md.append(f"| {g} | {m} | **{v}** |")
if history:
    md.append("\n" + history + "\n")
md.append("\n## All figures\n")
cur = None
for sec, sc, fig, goal, verdict in rows:
    if sec != cur:
        md.append(f"\n### {sec}\n\n| scenario | figure | goal |\n|---|---|---|")
        cur = sec
    md.append(f"| {sc} | {fig} | {goal + ': **' + verdict + '**' if goal else ''} |")
if os.path.exists(os.path.join(os.path.dirname(DEST), "results.png")):
    md.append("\n![per-call cost](results.png)\n")
md.append("\n## Notes\n")
for n in notes:
    md.append(f"- {n}")
if nsz:
    md.append("- nft set sizes as loaded (auto-merge folds overlapping prefixes): " +
              ", ".join(l.replace("\t", " = ") for l in nsz.splitlines()))
md.append("\n## The host before the baseline\n")
att = attachments(host)
md.append(f"`bpftool cgroup tree` found {len(att)} cgroup attachment(s) outside the benchmark before it started; "
          "none on the root or on the benchmark's path (the baseline cgroup's effective list is empty below). "
          "Attachments anywhere switch the kernel's per-hook static key on, so the `none` baseline already pays "
          "the (empty) hook check when other tenants have programs of the same type attached.\n")
md.append("```\n" + host + "\n```\n")
md.append("At the end (other tenants' tests come and go):\n\n```\n" + host_end + "\n```\n")
md.append(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")).read()
          if os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")) else "")
open(DEST, "w").write("\n".join(md) + "\n")

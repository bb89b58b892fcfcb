#!/usr/bin/env python3
"""chart.py OUTDIR PNG - program cost per call by policy size (median and IQR
over rounds), from bench/run.sh's raw data.  Needs matplotlib."""
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUT, PNG = sys.argv[1], sys.argv[2]
arms = ["noop-prog", "egress-1", "egress-1k-r", "egress-1k-d", "egress-100k-r", "egress-100k-d",
        "egress-deny-1", "egress-deny-1k-r", "egress-deny-100k-d"]
fig, ax = plt.subplots(figsize=(10, 4.5))
width = 0.2
for i, kind in enumerate(["udp4", "udp6", "tcp4", "tcp6"]):
    p = os.path.join(OUT, kind + ".tsv")
    if not os.path.exists(p):
        continue
    vals = {}
    for line in open(p):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 6 and float(f[5]) >= 0:
            vals.setdefault(f[2], []).append(float(f[5]))
    xs, ms, lo, hi = [], [], [], []
    for j, a in enumerate(arms):
        v = sorted(vals.get(a, []))
        if not v:
            continue
        m = v[len(v) // 2]
        xs.append(j + (i - 1.5) * width)
        ms.append(m)
        lo.append(m - v[len(v) // 4])
        hi.append(v[(3 * len(v)) // 4] - m)
    ax.bar(xs, ms, width, yerr=[lo, hi], label=kind, capsize=2)
ax.axhline(100, color="red", linestyle="--", linewidth=1, label="goal: 100 ns (allowed path)")
ax.set_xticks(range(len(arms)))
ax.set_xticklabels(arms, rotation=30, ha="right", fontsize=8)
ax.set_ylabel("BPF run time per call (ns), all programs")
ax.set_title("egress program cost by policy size (median, IQR over rounds)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(PNG, dpi=110)

#!/usr/bin/env python3
"""An alpha-beta cost model of one data-parallel training step (not a test).

    t_step(P) = t_comp(b) + t_other(b) + exposed(P),  b = G / P images per rank
    t_comp(b)   per-rank forward + backward of b images: measured at
                several b with every core of the node busy (2 ranks here:
                cores that share caches, memory and a power budget compute
                slower than one alone, and a cluster job keeps them all
                busy; one rank alone for P = 1), interpolated linearly in
                log-log between the points (and extrapolated along the end
                segments)
    t_other(b)  the rest of a step on one rank (the minibatch's floats made
                from the uint8 images, the optimizer's update of every
                parameter, which does not shrink as ranks are added): the
                least-squares line o0 + o1 b through the measured points
    t_ar(P)   = 2 log2(P) alpha + 2 (P - 1) / P * S * beta   (a latency per
                round of recursive halving/doubling, each byte sent twice as
                in a ring)
    exposed   = max(t_ar - f_b t_comp, 0) + (1 - eta) min(t_ar, f_b t_comp)

G is the global batch, S the bytes summed per step (4 per parameter, 2 with
--grad-dtype bf16), f_b the part of compute the sum can run behind (the
backward pass after the first bucket: 2 of the 3 matrix products of an
MLP, so 2/3), eta the share of that overlap achieved (0 without --overlap;
measured by tests/bench/scaling.sh over the emulated link), alpha and beta
the latency and inverse bandwidth of the network. images/s = G / t_step.
Two ways to add ranks: strong scaling (G fixed, P up to G) and weak
scaling (b fixed at 128 images per rank, G = 128 P), to 4096 ranks.
Not modelled: the slowest of P ranks' jitter beyond what 2 ranks measure
(imbalance grows with P on shared machines), contention between nodes
(network congestion).

Input: a JSON file of measurements (tests/bench/scaling.sh writes one):
  {"cpu": "...", "params": 203530, "batch": 512,
   "compute": [[b, compute s per step, other s per step], ...]   1-rank steps at per-rank batch b
                                                    (other s may be left out: 0)
   "compute_full": [...]                            the same with every core busy (optional)
   "eta": 0.6,
   "networks": {"shm": [alpha, beta], "link": [alpha, beta]},
   "measured": [{"net": "shm", "ranks": 2, "dtype": "fp32", "overlap": 0, "rate": 1.0e5,
                 "compute": seconds per step}, ...]}
With overlap the compute term grows by the measured cost of overlapping
(the median ratio of compute per step, on against off).
Prints the inputs, predicted vs measured for every measured run, and the
predicted images/s on 100 Gb/s InfiniBand and 25 Gb/s Ethernet clusters,
with and without overlap and bf16; with --svg FILE, a plot of the weak-scaling efficiency.
Usage: tests/bench/scaling_model.py MEASURED.json [--svg FILE]
"""
import json
import math
import sys

# Published-typical figures for the two cluster networks (per message
# latency in seconds, seconds per byte): HDR/EDR InfiniBand at 100 Gb/s
# with ~2 us MPI latency, and 25 Gb/s Ethernet with TCP at ~25 us.
CLUSTERS = {"100 Gb/s InfiniBand": (2e-6, 8 / 100e9 / 0.9), "25 Gb/s Ethernet": (25e-6, 8 / 25e9 / 0.9)}
F_BACKWARD = 2.0 / 3.0


def curve(m, ranks):
    """The per-rank step measurements that apply: every core of the node busy
    ("compute_full", 2 ranks here) for 2 ranks or more, one rank alone for one."""
    return m["compute_full"] if ranks > 1 and "compute_full" in m else m["compute"]


def compute_s(pts, b):
    """Per-rank compute of b images: log-log interpolation of the measured points."""
    pts = sorted(pts)
    i = 0
    while i + 2 < len(pts) and b > pts[i + 1][0]:
        i += 1
    (b0, t0), (b1, t1) = pts[i][:2], pts[i + 1][:2]
    slope = math.log(t1 / t0) / math.log(b1 / b0)
    return t0 * (b / b0) ** slope


def other_s(pts, b):
    """The rest of a step on one rank: a least-squares line through the measured points."""
    pts = [(p[0], p[2] if len(p) > 2 else 0.0) for p in pts]
    n = len(pts)
    mb = sum(b for b, _ in pts) / n
    mo = sum(o for _, o in pts) / n
    sbb = sum((b - mb) ** 2 for b, _ in pts)
    slope = sum((b - mb) * (o - mo) for b, o in pts) / sbb if sbb > 0 else 0.0
    return max(mo + slope * (b - mb), 0.0)


def allreduce_s(ranks, nbytes, alpha, beta):
    if ranks == 1:
        return 0.0
    return 2 * math.log2(ranks) * alpha + 2 * (ranks - 1) / ranks * nbytes * beta


def step_s(ranks, per_rank, m, net, dtype, eta):
    pts = curve(m, ranks)
    comp = compute_s(pts, per_rank)
    if eta > 0 and ranks > 1:
        comp *= 1 + m["overlap_cost"]
    ar = allreduce_s(ranks, m["params"] * (2 if dtype == "bf16" else 4), *net)
    if dtype == "bf16" and ranks > 1:
        ar += m["convert"] * m["params"]
    behind = F_BACKWARD * comp
    return comp + other_s(pts, per_rank) + max(ar - behind, 0.0) + (1 - eta) * min(ar, behind)


def rate(ranks, per_rank, m, net, dtype, eta):
    return ranks * per_rank / step_s(ranks, per_rank, m, net, dtype, eta)


def svg_plot(path, series, ranks):
    """Weak-scaling efficiency (images/s per rank against one rank) against ranks (log 2 axis)."""
    w, h, left, bottom = 720, 440, 70, 50
    x = lambda p: left + (w - left - 20) * math.log2(p) / math.log2(ranks[-1])
    y = lambda v: h - bottom - (h - bottom - 150) * v
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13">Predicted weak-scaling efficiency, '
           f'128 images per rank (alpha-beta model)</text>']
    for p in ranks:
        out.append(f'<text x="{x(p):.1f}" y="{h - bottom + 16}" text-anchor="middle">{p}</text>')
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{left}" x2="{w - 20}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:.2f}</text>')
    out.append(f'<text x="{w / 2}" y="{h - 10}" text-anchor="middle">ranks (1 per core)</text>')
    out.append(f'<text x="16" y="{h / 2}" transform="rotate(-90 16 {h / 2})" text-anchor="middle">'
               f'images/s per rank / 1 rank</text>')
    for i, (name, vals) in enumerate(series):
        eff = [v / (p * vals[0]) for p, v in zip(ranks, vals)]
        pts = " ".join(f"{x(p):.1f},{y(e):.1f}" for p, e in zip(ranks, eff))
        c = colors[i % len(colors)]
        out.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{pts}"/>')
        out.append(f'<text x="{left + 10}" y="{40 + 13 * i}" fill="{c}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    m = json.load(open(sys.argv[1]))
    G = m["batch"]
    # The 16-bit passes (rounding with the residual, the sum operation,
    # back to float) cost CPU time per parameter: the difference of the
    # 2-rank shared-memory steps, bf16 against fp32, less the bytes saved.
    by = {(r["net"], r["ranks"], r["dtype"], r["overlap"]): G / r["rate"] for r in m["measured"]}
    beta = m["networks"]["shm"][1]
    m["convert"] = max((by[("shm", 2, "bf16", 0)] - by[("shm", 2, "fp32", 0)] + 2 * m["params"] * beta) / m["params"], 0.0)
    print(f"== model of {m['cpu']}: MLP with {m['params']} parameters")
    for key, what in (("compute", "one rank alone"), ("compute_full", "every core busy")):
        if key in m:
            print(f"   per rank and step, {what}: " + ", ".join(
                f"{p[0]} images {p[1] * 1e3:.3f} + {other_s(m[key], p[0]) * 1e3:.3f} ms" for p in sorted(m[key])))
    print("   (compute + the rest of the step, the latter a fitted line)")
    # What overlapping costs the backward pass (row blocks, the transfer's
    # CPU work moved into it): the median ratio of compute per step, on
    # against off, over the measured pairs.
    ratios = sorted(r["compute"] / o["compute"] for r in m["measured"] for o in m["measured"]
                    if r["overlap"] and not o["overlap"] and (r["net"], r["dtype"], r["ranks"]) == (o["net"], o["dtype"], o["ranks"]))
    m["overlap_cost"] = ratios[len(ratios) // 2] - 1 if ratios else 0.0
    if m["eta"] == 0:
        m["eta"] = 1e-9  # "on" still pays its cost
    print(f"   overlap over the link: eta = {m['eta']:.2f} of the wait hidden, compute +{100 * m['overlap_cost']:.0f} %; "
          f"16-bit passes {m['convert'] * 1e9:.2f} ns per parameter")
    for name, (a, b) in m["networks"].items():
        print(f"   {name}: alpha {a * 1e6:.1f} us, bandwidth {1 / b / 1e9:.2f} GB/s")
    print(f"== predicted vs measured, global batch {G}")
    worst = 0.0
    for run in m["measured"]:
        net = m["networks"][run["net"]]
        p = rate(run["ranks"], G / run["ranks"], m, net, run["dtype"], m["eta"] if run["overlap"] else 0.0)
        err = p / run["rate"] - 1
        worst = max(worst, abs(err))
        print(f"   {run['net']:5s} {run['ranks']:3d} ranks {run['dtype']} overlap {'on ' if run['overlap'] else 'off'}: "
              f"measured {run['rate']:9.0f}  predicted {p:9.0f}  ({100 * err:+.0f} %)")
    print(f"   worst error {100 * worst:.0f} %")
    etas = [("off", 0.0), (f"on (eta {m['eta']:.2f}, as measured here)", m["eta"]),
            ("on (eta 1: the NIC moves the bytes; assumed, not measured)", 1.0)]
    series = []
    for title, ranks, per_rank in (
            (f"strong scaling: global batch {G}", [2 ** k for k in range(int(math.log2(G)) + 1)], lambda p: G / p),
            ("weak scaling: 128 images per rank", [2 ** k for k in range(13)], lambda p: 128)):
        print(f"== predicted images/s, {title}, one rank per core of this CPU")
        print("   ranks " + " ".join(f"{p:>9d}" for p in ranks))
        for cname, net in CLUSTERS.items():
            for dtype in ("fp32", "bf16"):
                for ename, eta in etas:
                    vals = [rate(p, per_rank(p), m, net, dtype, eta) for p in ranks]
                    name = f"{cname}, {dtype}, overlap {ename}"
                    print(f"   {name}")
                    print("         " + " ".join(f"{v:9.0f}" for v in vals))
                    if title.startswith("weak") and eta < 1:
                        series.append((name, vals))
        plot_ranks = ranks
    if "--svg" in sys.argv:
        svg_plot(sys.argv[sys.argv.index("--svg") + 1], series, plot_ranks)


if __name__ == "__main__":
    main()

"""Hard selection instances at scale: time-to-target for anneal, neal, tabu and gurobi.

Instances (all seeded):

* ``mdp-euclid``: maximum diversity, k of n points in [0, 10]^d (d drawn from 2..20) maximising
  the summed pairwise Euclidean distance;
* ``mdp-int``: maximum diversity with uniform integer weights in 0..10;
* ``features``: feature selection (correlation relevance - redundancy) over n = 2,000-4,000
  correlated candidate features (latent-factor data), k = 100;
* ``slates``: a slate of k from n candidates (64-d vectors, diversity 0.5) with ten groups,
  each capped at k / 5 (and the first at least k / 10).

All are minimised as :class:`~qanneal_llm.qubo.SubsetModel` (diversity as its negative). For each
instance: anneal (default, and ``time_limit`` 0.1 / 1 / 10 s with its best-so-far trace), neal
(default, and 10x sweeps), tabu (dwave-samplers, default and ``time_limit``), and gurobipy (its
free licence, n <= 2,000, with a time limit and its incumbent trace). Anneal's time-limited
runs and gurobi use ``--threads`` (all cores by default); the rest run on one. The reference is
the best value any of them found; the gap of each is ``(value - reference) / |reference|``.
On slates (built from vectors) the time-limited runs also report the convex relaxation's lower
bound (:mod:`qanneal_llm.qubo.relaxation`), so the reference's distance from the optimum is
bounded too.
Memory: the dense quadratic matrix, and the peak Python-side allocation (tracemalloc) of
building the model and of a default solve (the kernels add O(n) more).

    python benchmarks/hard.py --quick                      # n = 500 only, 1 s limits (minutes)
    python benchmarks/hard.py --sizes 500,1000 --limits 0.1,1,10
    python benchmarks/hard.py                              # everything (~8 min quiet)
    python benchmarks/hard.py --anneal-only --solver-seed 1 --out benchmarks/results/hard_seed1.json

Writes ``benchmarks/results/hard.json`` and ``benchmarks/results/hard_curves.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np
from reference import gurobi_model

from qanneal_llm import feature_model, slate_model, solve, subset_model
from qanneal_llm._validation import available_cores

NEAL_MAX_N = 2000  # a dense penalty BQM past this takes minutes to build and sweep
GUROBI_MAX_N = 2000  # the free licence's size limit


def mdp_euclid(n, k, seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 21))
    points = rng.uniform(0, 10, size=(n, d))
    sq = (points**2).sum(1)
    distance = np.sqrt(np.maximum(sq[:, None] + sq[None] - 2 * points @ points.T, 0.0))
    np.fill_diagonal(distance, 0.0)
    return subset_model(np.zeros(n), -distance, k), {"d": d}


def mdp_int(n, k, seed):
    rng = np.random.default_rng(seed)
    w = np.triu(rng.integers(0, 11, size=(n, n)), 1).astype(float)
    return subset_model(np.zeros(n), -(w + w.T), k), {}


def features(n, k, seed):
    rng = np.random.default_rng(seed)
    samples, factors = 600, 40
    latent = rng.normal(size=(samples, factors))
    X = latent @ rng.normal(size=(factors, n)) + rng.normal(size=(samples, n))
    y = latent[:, :5] @ rng.normal(size=5) + 0.5 * rng.normal(size=samples)
    return feature_model(X, y, k), {"samples": samples}


def slates(n, k, seed):
    rng = np.random.default_rng(seed)
    genre = rng.integers(0, 10, size=n)
    groups = {f"g{g}": np.flatnonzero(genre == g).tolist() for g in range(10)}
    bounds = {name: (None, max(1, k // 5)) for name in groups}
    bounds["g0"] = (max(1, k // 10), max(1, k // 5))
    model = slate_model(
        rng.random(n),
        k,
        vectors=rng.normal(size=(n, 64)),
        diversity=0.5,
        groups=groups,
        group_bounds=bounds,
    )
    return model, {"groups": 10}


def instances(sizes, quick):
    for n in sizes:
        for frac in (10, 5):
            yield "mdp-euclid", n, n // frac, mdp_euclid
            yield "mdp-int", n, n // frac, mdp_int
    for n in (2000,) if quick else (2000, 4000):
        yield "features", n, 100, features
    for n in (1000,) if quick else (1000, 2000):
        yield "slates", n, n // 20, slates


def gurobi_trace(model, time_limit, threads):
    """Gurobi's incumbents ``[(seconds, objective)]`` and whether it proved optimality; ``None``
    when the licence refuses the model."""
    import gurobipy as gp
    from gurobipy import GRB

    trace = []

    def callback(m, where):
        if where == GRB.Callback.MIPSOL:
            value = m.cbGet(GRB.Callback.MIPSOL_OBJ)
            if not trace or value < trace[-1][1]:
                trace.append((time.perf_counter() - started, value))

    try:
        m, _ = gurobi_model(model, time_limit, threads=threads)
        started = time.perf_counter()
        m.optimize(callback)
    except gp.GurobiError as exc:
        return None, str(exc)
    return trace, m.Status == GRB.OPTIMAL


def run_instance(model, limits, gurobi_limit, seed, neal_10x_max_n, threads, others=True):
    runs = {}

    def record(name, result, seconds, trace=None):
        runs[name] = {
            "objective": result.objective,
            "seconds": seconds,
            "time_to_best": result.info.get("time_to_best", seconds),
            "restarts": result.info.get("restarts"),
            "trace": trace or [(seconds, result.objective)],
        }
        if "lower_bound" in result.info:  # a slate from vectors: its relaxation's bound
            runs[name]["lower_bound"] = result.info["lower_bound"]

    def timed(solver, **options):
        start = time.perf_counter()
        result = solve(model, solver, seed=seed, **options)
        return result, time.perf_counter() - start

    tracemalloc.start()
    result, seconds = timed("anneal")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    record("anneal", result, seconds)
    for limit in limits:
        result, seconds = timed("anneal", time_limit=limit, threads=threads)
        record(f"anneal tl={limit:g}", result, seconds, result.info["trace"])
    if others and model.n <= NEAL_MAX_N:
        neal = [("neal", {}), ("neal 10x", {"num_sweeps": 10_000})]
        for name, options in neal[: 2 if model.n <= neal_10x_max_n else 1]:
            result, seconds = timed("neal", polish=False, **options)
            record(name, result, seconds)
            runs[name]["repaired"] = result.repaired
        result, seconds = timed("tabu", polish=False)
        record("tabu", result, seconds)
        result, seconds = timed("tabu", polish=False, time_limit=max(limits))
        record(f"tabu tl={max(limits):g}", result, seconds)
    if others and model.n <= GUROBI_MAX_N and gurobi_limit > 0:
        start = time.perf_counter()
        trace, optimal = gurobi_trace(model, gurobi_limit, threads)
        if not trace:
            print(f"  gurobi: no incumbent within {gurobi_limit:g} s ({optimal or 'time limit'})")
        else:
            runs["gurobi"] = {
                "objective": trace[-1][1],
                "seconds": time.perf_counter() - start,
                "time_to_best": trace[-1][0],
                "optimal": bool(optimal),
                "trace": trace,
            }
    reference = min(r["objective"] for r in runs.values())
    for r in runs.values():
        r["gap"] = (r["objective"] - reference) / abs(reference)
    return runs, reference, peak


def plot(rows, path):
    import matplotlib.pyplot as plt

    shown = rows[:6]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), squeeze=False)
    for ax, row in zip(axes.flat, shown, strict=False):
        ref = row["reference"]
        for name, run in row["runs"].items():
            t, v = np.array(run["trace"], dtype=float).T
            gaps = np.maximum((v - ref) / abs(ref), 1e-7)
            ax.step(np.maximum(t, 1e-3), gaps, where="post", marker=".", label=name)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="seconds",
            ylabel="gap to best known (floor 1e-7)",
            title=f"{row['kind']} n={row['n']} k={row['k']}",
        )
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1000,2000,5000")
    parser.add_argument("--limits", default="0.1,1,10", help="anneal time limits (s)")
    parser.add_argument("--gurobi-limit", type=float, help="seconds (default 60, --quick 10)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="n = 500, limits 0.1,1, gurobi 10 s, neal 10x at n = 500 only",
    )
    parser.add_argument("--anneal-only", action="store_true", help="skip neal, tabu, gurobi")
    parser.add_argument(
        "--neal-10x-max-n",
        type=int,
        default=1000,
        help="largest n for neal's 10x sweeps (minutes per run past it; --quick: 500)",
    )
    parser.add_argument("--kinds", default="mdp-euclid,mdp-int,features,slates")
    parser.add_argument("--seed", type=int, default=0, help="instances' seed (and solvers')")
    parser.add_argument(
        "--solver-seed",
        type=int,
        help="solvers' seed, if not --seed: the same instances searched again (hard_seeds.py)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=available_cores(),
        help="threads of anneal's time-limited runs and of gurobi (default: all cores)",
    )
    parser.add_argument("--out", default="benchmarks/results/hard.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.limits = "500", "0.1,1"
    if args.gurobi_limit is None:
        args.gurobi_limit = 10.0 if args.quick else 60.0
    sizes = [int(s) for s in args.sizes.split(",")]
    limits = [float(s) for s in args.limits.split(",")]
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    solve(subset_model([0.0, 1.0, 2.0], np.zeros((3, 3)), 1), seed=0)  # load the kernels
    rows = []
    print(f"loadavg {os.getloadavg()}  cpu {platform.processor() or platform.machine()}")
    print(f"{'instance':<24}{'solver':<14}{'objective':>16}{'gap %':>10}{'s':>8}{'to best':>9}")
    for kind, n, k, build in instances(sizes, args.quick):
        if kind not in args.kinds.split(","):
            continue
        tracemalloc.start()
        model, extra = build(n, k, args.seed)
        build_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        runs, reference, peak = run_instance(
            model,
            limits,
            args.gurobi_limit,
            args.seed if args.solver_seed is None else args.solver_seed,
            min(args.neal_10x_max_n, 500) if args.quick else args.neal_10x_max_n,
            args.threads,
            others=not args.anneal_only,
        )
        row = {"kind": kind, "n": n, "k": k, **extra, "reference": reference, "runs": runs}
        bounds = [r["lower_bound"] for r in runs.values() if "lower_bound" in r]
        if bounds:
            row["lower_bound"] = max(bounds)
        row.update(
            quadratic_mb=model.quadratic.nbytes / 2**20,
            build_peak_mb=build_peak / 2**20,
            solve_peak_mb=peak / 2**20,
        )
        rows.append(row)
        for name, r in runs.items():
            print(
                f"{kind + f' {n}/{k}':<24}{name:<14}{r['objective']:>16.6g}"
                f"{100 * r['gap']:>10.4f}{r['seconds']:>8.2f}{r['time_to_best']:>9.2f}"
            )
        if bounds:
            print(
                f"{'':<24}relaxation bound {row['lower_bound']:.6g}: the reference is at most"
                f" {100 * (reference - row['lower_bound']) / abs(reference):.3f}% above optimal"
            )
        print(
            f"{'':<24}memory: Q {row['quadratic_mb']:.0f} MB, build peak"
            f" {row['build_peak_mb']:.0f} MB, solve peak"
            f" {row['solve_peak_mb']:.0f} MB, loadavg {os.getloadavg()[0]:.1f}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "loadavg": os.getloadavg(),
        "cpu": platform.processor(),
        "args": vars(args),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=float))
    plot(rows, out.with_name(out.stem + "_curves.png"))
    print(f"wrote {out} and {out.with_name(out.stem + '_curves.png')}")


if __name__ == "__main__":
    main()

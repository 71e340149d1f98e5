"""One slate per ml-100k user, all at once: our batch solver against a loop of neal calls.

Candidates are each user's top-M unseen items by ItemKNN scores on the RecBole-protocol train
split (seed 2020); relevance is those scores min-max scaled per user; similarity is the cosine
of the items' all-MiniLM-L6-v2 text vectors. Three tables:

1. all 943 users (M = 100, k = 10): wall time of ``solve_many`` vs a loop of neal calls at its
   default settings on the same penalty BQMs, and the mean gap to the optimum certified by
   gurobipy (free size-limited licence) on a random sample of users;
2. single-problem latency at n = 200, k = 10;
3. scaling, n = 50..2,000 and k = 5..50: time and gap for ours and neal.

    python benchmarks/batch_slates.py [--certify 60] [--out benchmarks/results/batch.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from reference import gurobi_optimum

from qanneal_llm import slate_model, solve, solve_many
from qanneal_llm.embeddings import TextEncoder
from recsys.baselines import ItemKNN
from recsys.datasets import load_movielens
from recsys.metrics import topk_from_scores
from recsys.splits import random_split
from recsys.texts import item_texts


def certify(model, time_limit=120.0):
    """The gurobi-certified optimum, or None when gurobi cannot certify it."""
    found = gurobi_optimum(model, time_limit)
    return found[0] if found is not None and found[2] else None


def user_slates(m_candidates: int, k: int, diversity: float, seed: int = 2020):
    ml = load_movielens()
    split = random_split(ml.ratings, seed=seed)
    vectors = TextEncoder().encode(item_texts(ml.items.loc[split.data.item_ids]))
    knn = ItemKNN().fit(split)
    users = np.arange(split.data.n_users)
    scores = knn.decision_function(users)
    candidates = topk_from_scores(scores, split.seen("test"), m_candidates)
    models = []
    for u in users:
        cand = candidates[u]
        rel = scores[u, cand]
        rel = (rel - rel.min()) / (np.ptp(rel) or 1.0)
        models.append(slate_model(rel, k, vectors=vectors[cand], diversity=diversity, ids=cand))
    return models


def neal_loop(models, seed):
    from dwave.samplers import SimulatedAnnealingSampler

    sampler = SimulatedAnnealingSampler()
    bqms = [m.to_bqm() for m in models]
    start = time.perf_counter()
    best = [sampler.sample(b, seed=seed + i).first for i, b in enumerate(bqms)]
    seconds = time.perf_counter() - start
    objectives, feasible = [], []
    for model, sample in zip(models, best, strict=True):
        x = np.array([sample.sample[i] for i in range(model.n)])
        feasible.append(model.is_feasible(x))
        objectives.append(model.objective(x))
    return seconds, np.array(objectives), np.array(feasible)


def gap(value, reference):
    return (value - reference) / abs(reference)


def random_slate(n, k, seed, diversity):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 64))
    return slate_model(rng.random(n), k, vectors=v, diversity=diversity)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--diversity", type=float, default=0.1)
    parser.add_argument("--certify", type=int, default=60, help="users to certify with gurobi")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/batch.json"))
    args = parser.parse_args(argv)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}",
        "command": "python benchmarks/batch_slates.py",
    }
    solve(random_slate(30, 5, 0, 0.5), seed=0)  # compile the kernels outside the timings

    t = time.perf_counter()
    models = user_slates(args.candidates, args.k, args.diversity)
    print(
        f"built {len(models)} slate models (M = {args.candidates}, k = {args.k}, "
        f"diversity = {args.diversity}) in {time.perf_counter() - t:.2f} s"
    )

    t = time.perf_counter()
    ours = solve_many(models, seed=args.seed)
    ours_s = time.perf_counter() - t
    ours_obj = np.array([r.objective for r in ours])
    neal_s, neal_obj, neal_ok = neal_loop(models, args.seed)

    rng = np.random.default_rng(args.seed)
    sample = rng.choice(len(models), size=min(args.certify, len(models)), replace=False)
    certified = {int(u): certify(models[u]) for u in sample}
    certified = {u: v for u, v in certified.items() if v is not None}
    ours_gaps = np.array([gap(ours_obj[u], v) for u, v in certified.items()])
    neal_gaps = np.array([gap(neal_obj[u], v) for u, v in certified.items()])
    table1 = {
        "users": len(models),
        "ours_seconds": ours_s,
        "neal_loop_seconds": neal_s,
        "speedup": neal_s / ours_s,
        "certified_users": len(certified),
        "ours_mean_gap": float(ours_gaps.mean()),
        "ours_at_optimum": int((ours_gaps < 1e-9).sum()),
        "neal_mean_gap": float(neal_gaps.mean()),
        "neal_feasible_fraction": float(neal_ok.mean()),
        "ours_better_than_neal_fraction": float(np.mean(ours_obj < neal_obj - 1e-9)),
        "ours_worse_than_neal_fraction": float(np.mean(ours_obj > neal_obj + 1e-9)),
    }
    report["all_users"] = table1
    print("\n1. all users, one slate each")
    print(f"{'':<28}{'ours (solve_many)':>20}{'neal loop (default)':>22}")
    print(f"{'wall time, s':<28}{ours_s:>20.2f}{neal_s:>22.2f}")
    print(f"{'speed-up':<28}{table1['speedup']:>20.1f}x")
    print(f"{'mean gap, certified users':<28}{ours_gaps.mean():>20.4%}{neal_gaps.mean():>22.4%}")
    print(
        f"{'at certified optimum':<28}{table1['ours_at_optimum']:>17}/{len(certified)}"
        f"{int((neal_gaps < 1e-9).sum()):>19}/{len(certified)}"
    )
    print(f"{'feasible (raw backend)':<28}{'100%':>20}{neal_ok.mean():>22.1%}")

    # 2. single-problem latency, n = 200
    lat_models = user_slates(200, args.k, args.diversity)[:20]
    times, gaps = [], []
    for i, model in enumerate(lat_models):
        t = time.perf_counter()
        result = solve(model, seed=i)
        times.append(time.perf_counter() - t)
        opt = certify(model)
        if opt is not None:
            gaps.append(gap(result.objective, opt))
    report["latency_n200"] = {
        "median_ms": 1e3 * float(np.median(times)),
        "p90_ms": 1e3 * float(np.percentile(times, 90)),
        "certified": len(gaps),
        "at_optimum": int(np.sum(np.array(gaps) < 1e-9)),
    }
    print(
        f"\n2. one problem, n = 200, k = {args.k} (20 users): median "
        f"{report['latency_n200']['median_ms']:.1f} ms, p90 "
        f"{report['latency_n200']['p90_ms']:.1f} ms; at the certified optimum "
        f"{report['latency_n200']['at_optimum']}/{len(gaps)}"
    )

    if not args.skip_scaling:
        print("\n3. scaling (random 64-d slates, diversity 0.5)")
        header = f"{'n':>6}{'k':>5}{'ref':>6} | {'ours s':>8}{'gap':>9} | {'neal s':>8}{'gap':>9}"
        print(header)
        rows = []
        for n in (50, 100, 200, 500, 1000, 2000):
            for k in (5, 10, 20, 50):
                if k >= n:
                    continue
                model = random_slate(n, k, seed=n + k, diversity=0.5)
                t = time.perf_counter()
                ours_r = solve(model, seed=1)
                o_s = time.perf_counter() - t
                t = time.perf_counter()
                neal_r = solve(model, "neal", seed=1, polish=False)
                n_s = time.perf_counter() - t
                ref = certify(model, 60) if n <= 200 else None
                kind = "cert" if ref is not None else "best"
                if ref is None:
                    ref = min(ours_r.objective, neal_r.objective)
                row = {
                    "n": n,
                    "k": k,
                    "reference": kind,
                    "ours_seconds": o_s,
                    "ours_gap": gap(ours_r.objective, ref),
                    "neal_seconds": n_s,
                    "neal_gap": gap(neal_r.objective, ref),
                    "neal_repaired": neal_r.repaired,
                }
                rows.append(row)
                print(
                    f"{n:>6}{k:>5}{kind:>6} | {o_s:>8.3f}{row['ours_gap']:>9.3%} | "
                    f"{n_s:>8.3f}{row['neal_gap']:>8.3%}{'*' if neal_r.repaired else ''}"
                )
        report["scaling"] = rows
        print(
            "ref: cert = gurobi-certified optimum; best = best of the two (no certificate "
            "past the free licence's size). * = neal's sample was infeasible and repaired."
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

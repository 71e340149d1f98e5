"""The QPU path offline: embedding once vs per problem, and the window route, on a P16 mock.

Slate QUBOs like the recommend stage's (n candidates, k chosen, relevance - 0.5 * cosine of
64-d random unit vectors) go through ``MockDWaveSampler`` on a Pegasus P16 graph (an Advantage's
size) three ways:

- ``minorminer``: ``EmbeddingComposite`` per problem, a heuristic minor-embedding each time
  (the old path; only at the sizes in ``--minorminer-n``, it takes tens of seconds each);
- ``clique/problem``: a fresh busclique clique embedding and ``FixedEmbeddingComposite`` per
  problem (what a new ``DWaveCliqueSampler`` per user would do);
- ``clique once``: ``solve_many(models, "mock-qpu")``, one cached embedding and composite for
  the whole batch (ours).

Times are CPU time of the mock (embedding, embedding the BQM, the mock's greedy descent,
unembedding), not QPU time: a mock says nothing about the QPU's answers, only about the cost of
our path around them. The window route solves n = 1,000 slates with 100-variable windows.

    python benchmarks/qpu_mock.py [--problems 20] [--minorminer-n 40] [--out ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from qanneal_llm import slate_model, solve, solve_many
from qanneal_llm.solvers import leap


def slates(n: int, k: int, count: int, seed: int):
    rng = np.random.default_rng(seed)
    return [
        slate_model(rng.random(n), k, vectors=rng.normal(size=(n, 64)), diversity=0.5)
        for _ in range(count)
    ]


def per_problem_embedding(models, reads: int, how: str, seed: int) -> dict:
    """Embed each problem anew (``how``: 'minorminer' or 'clique') and sample it on the mock."""
    from dwave.embedding.chain_strength import uniform_torque_compensation
    from dwave.system import EmbeddingComposite, FixedEmbeddingComposite
    from minorminer.busclique import find_clique_embedding

    mock = leap.MockQPUBackend().child(seed)
    graph = leap.topology_graph("pegasus", (16,))
    seconds, chains, breaks = [], [], []
    for model in models:
        bqm = model.to_bqm()
        strength = float(uniform_torque_compensation(bqm))
        start = time.perf_counter()
        if how == "minorminer":
            sampler = EmbeddingComposite(mock, embedding_parameters={"random_seed": seed})
        else:
            sampler = FixedEmbeddingComposite(mock, find_clique_embedding(model.n, graph))
        sampleset = sampler.sample(
            bqm, chain_strength=strength, num_reads=reads, return_embedding=True
        )
        sampleset.resolve()
        seconds.append(time.perf_counter() - start)
        embedding = sampleset.info["embedding_context"]["embedding"]
        chains.append(max(len(c) for c in embedding.values()))
        breaks.append(float(np.mean(sampleset.record.chain_break_fraction)))
    return {
        "seconds_per_problem": float(np.mean(seconds)),
        "first_problem_seconds": seconds[0],
        "max_chain_length": int(max(chains)),
        "chain_break_fraction": float(np.mean(breaks)),
    }


def clique_once(models, reads: int, seed: int) -> dict:
    """Ours: one cached clique embedding for the batch (cache emptied first, so its one-time
    cost is in the figures)."""
    leap._EMBEDDINGS.clear()
    start = time.perf_counter()
    results = solve_many(models, "mock-qpu", seed=seed, num_reads=reads)
    wall = time.perf_counter() - start
    backend = [r.timings["backend"] for r in results]
    return {
        "seconds_per_problem": float(np.mean(backend)),
        "first_problem_seconds": backend[0],  # includes finding the embedding
        "solve_seconds_per_problem": wall / len(models),
        "max_chain_length": int(max(r.info["max_chain_length"] for r in results)),
        "chain_break_fraction": float(np.mean([r.info["chain_break_fraction"] for r in results])),
        "repaired": int(sum(r.repaired for r in results)),
        "qpu_access_seconds": float(sum(r.info["qpu_access_seconds"] for r in results)),
    }


def window_route(n: int, k: int, window: int, count: int, reads: int, seed: int) -> dict:
    rows = []
    for model in slates(n, k, count, seed + 7):
        start = time.perf_counter()
        result = solve(model, "mock-qpu", seed=seed, window=window, num_reads=reads)
        anneal = solve(model, "anneal", seed=seed)
        rows.append(
            {
                "seconds": time.perf_counter() - start - anneal.timings["total"],
                "qpu_calls": result.info["qpu_calls"],
                "qpu_access_seconds": result.info["qpu_access_seconds"],
                "qpu_improvements": result.info["qpu_improvements"],
                "gap_to_anneal": (result.objective - anneal.objective) / abs(anneal.objective),
                "feasible": result.feasible,
            }
        )
    return {
        "n": n,
        "k": k,
        "window": window,
        "problems": count,
        "seconds_per_problem": float(np.mean([r["seconds"] for r in rows])),
        "qpu_calls": int(sum(r["qpu_calls"] for r in rows)),
        "qpu_access_seconds": float(sum(r["qpu_access_seconds"] for r in rows)),
        "qpu_improvements": int(sum(r["qpu_improvements"] for r in rows)),
        "max_gap_to_anneal": float(max(r["gap_to_anneal"] for r in rows)),
        "all_feasible": all(r["feasible"] for r in rows),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--minorminer-n", type=int, nargs="*", default=[40])
    parser.add_argument("--minorminer-problems", type=int, default=3)
    parser.add_argument("--reads", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/qpu_mock.json"))
    args = parser.parse_args()

    solve(slates(20, 3, 1, 99)[0], "mock-qpu", seed=0, num_reads=2)  # build the mock, compile
    print(
        f"{'n':>4} {'k':>3} {'way':<15} {'probs':>5} {'s/problem':>10} {'first s':>8}"
        f" {'chain':>6} {'breaks':>7}",
        flush=True,
    )
    rows = []
    for n, k in ((40, 5), (100, 10)):
        models = slates(n, k, args.problems, args.seed + n)
        ways = [("clique once", models, lambda ms: clique_once(ms, args.reads, args.seed))]
        ways.append(
            (
                "clique/problem",
                models,
                lambda ms: per_problem_embedding(ms, args.reads, "clique", args.seed),
            )
        )
        if n in args.minorminer_n:
            few = models[: args.minorminer_problems]
            ways.append(
                (
                    "minorminer",
                    few,
                    lambda ms: per_problem_embedding(ms, args.reads, "minorminer", args.seed),
                )
            )
        for way, chosen, run in ways:
            r = {"n": n, "k": k, "way": way, "problems": len(chosen), **run(chosen)}
            rows.append(r)
            print(
                f"{r['n']:>4} {r['k']:>3} {r['way']:<15} {r['problems']:>5}"
                f" {r['seconds_per_problem']:>10.3f} {r['first_problem_seconds']:>8.3f}"
                f" {r['max_chain_length']:>6} {r['chain_break_fraction']:>7.3f}",
                flush=True,
            )
    window = window_route(1000, 10, 100, 3, args.reads, args.seed)
    print(
        f"window route n={window['n']} k={window['k']} window={window['window']}:"
        f" {window['seconds_per_problem']:.2f} s/problem, {window['qpu_calls']} QPU calls,"
        f" {window['qpu_access_seconds'] * 1e3:.1f} ms QPU access in all, QPU answer beat the"
        f" incumbent {window['qpu_improvements']} times, max gap to anneal alone"
        f" {window['max_gap_to_anneal']:.2e}, all feasible: {window['all_feasible']}"
    )
    report = {
        "cpu": platform.processor() or platform.machine(),
        "loadavg": os.getloadavg(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "embedding": rows,
        "window_route": window,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"loadavg {os.getloadavg()}; wrote {args.out}")


if __name__ == "__main__":
    main()

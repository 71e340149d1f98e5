"""Cold start on MovieLens-100k over several split seeds: new items and new users.

Run ``python benchmarks/coldstart.py`` (``--seeds 10`` by default; ``--protocol cold-items`` or
``cold-users`` for one half). Prints mean +- sd over the seeds and paired wins, and writes
``benchmarks/results/coldstart.json``.

Cold items (CQFS protocol, items 70/10/20): ItemKNN-CBF (top-100 warm neighbours per cold item)
on all 384 MiniLM dimensions, on them centred, on PCA-64 and on ``ColdStartFeatures`` (64
features); the content-only ranking head; and the QUBO slate on the head's top 50. Cold users
(users 70/10/20, each held-out user's ratings split into answers and truth): a 10-item onboarding
slate chosen by the QUBO, the 10 most popular items, 10 random items or greedy max-coverage, then
ItemKNN from the answers. Every setting (ColdStartFeatures' neighbourhood, head epochs, the
onboarding weights) is chosen per split on its validation stage, whose cold items or users are
carved from the warm ones; the test stage is touched once.

BLAS and torch run on one thread (the machine is shared); embeddings come from the TextEncoder
cache after the first run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qanneal_llm.embeddings import TextEncoder  # noqa: E402
from recsys.coldstart.protocol import ColdConfig, run_cold_items, run_cold_users  # noqa: E402
from recsys.datasets import load_movielens  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"

ITEM_TARGETS = [
    ("knn_cbf_coldstart_features", "knn_cbf_pca64"),
    ("knn_cbf_coldstart_features", "knn_cbf_all"),
    ("knn_cbf_coldstart_features", ("knn_cbf_pca64", "knn_cbf_all")),
    ("content_head", "knn_cbf_all"),
]
USER_TARGETS = [("qubo", "most_popular"), ("qubo", "greedy_coverage"), ("qubo", "random")]


def _table(runs: list[dict], metric: str = "ndcg") -> tuple[list[str], dict]:
    names = list(runs[0]["metrics"])
    values = {n: np.array([r["metrics"][n][metric] for r in runs]) for n in names}
    lines = [f"| method | {metric.upper()}@10 mean ± sd | per seed |", "|---|---|---|"]
    for n in names:
        v = values[n]
        per = " ".join(f"{x:.3f}" for x in v)
        lines.append(f"| {n} | {v.mean():.4f} ± {v.std(ddof=1) if v.size > 1 else 0:.4f} | {per} |")
    return lines, values


def _wins(values: dict, targets) -> list[str]:
    lines = ["| comparison | wins / splits | mean difference |", "|---|---|---|"]
    for a, b in targets:
        d = values[a] - _best(values, b)
        lines.append(f"| {a} > {_name(b)} | {int((d > 0).sum())} / {d.size} | {d.mean():+.4f} |")
    return lines


def _best(values: dict, b) -> np.ndarray:
    """The baseline's per-split values; for a tuple, the best of them in each split."""
    return np.max([values[x] for x in b], axis=0) if isinstance(b, tuple) else values[b]


def _name(b) -> str:
    return f"both {' and '.join(b)}" if isinstance(b, tuple) else b


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="split seeds 0..N-1 (default 10)")
    parser.add_argument("--protocol", choices=("both", "cold-items", "cold-users"), default="both")
    parser.add_argument("--output", default=str(RESULTS / "coldstart.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    ml = load_movielens()
    encoder = TextEncoder()
    report: dict = {"seeds": list(range(args.seeds))}
    started = time.perf_counter()
    with threadpool_limits(1):
        for protocol, runner, targets in (
            ("cold-items", run_cold_items, ITEM_TARGETS),
            ("cold-users", run_cold_users, USER_TARGETS),
        ):
            if args.protocol not in ("both", protocol):
                continue
            runs = []
            for seed in range(args.seeds):
                run = runner(ml, encoder, ColdConfig(seed=seed))
                print(
                    f"[{protocol}] seed {seed}: "
                    + ", ".join(f"{n} {m['ndcg']:.4f}" for n, m in run["metrics"].items())
                    + f" ({run['seconds']:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
                run.pop("per_user_ndcg")
                runs.append(run)
            lines, values = _table(runs)
            lines += [""] + _wins(values, targets)
            if protocol == "cold-items":
                ild_lines, _ = _table(
                    [
                        {
                            "metrics": {
                                n: r["metrics"][n]
                                for n in ("content_head", "content_head+qubo_slate")
                            }
                        }
                        for r in runs
                    ],
                    "ild",
                )
                lines += [""] + ild_lines
            print(f"\n## {protocol} ({args.seeds} split seeds)\n")
            print("\n".join(lines))
            report[protocol] = {
                "runs": runs,
                "mean": {n: float(v.mean()) for n, v in values.items()},
                "sd": {n: float(v.std(ddof=1)) if v.size > 1 else 0.0 for n, v in values.items()},
                "wins": {f"{a} > {b}": int((values[a] > values[b]).sum()) for a, b in targets},
            }
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=_json) + "\n")
    print(f"\nwrote {out} ({report['seconds']} s, load {' '.join(report['loadavg'])})")
    return 0


def _json(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


if __name__ == "__main__":
    raise SystemExit(main())

"""Text classification on MiniLM embeddings: which k of the 384 dimensions should a head see?

For each data set of ``examples/text_classification.py`` (MovieLens-100k titles -> genres,
multi-label; BBC News headline + lead -> topic) and each seed, one random 60/20/20
train/validation/test split. Feature sets: all 384 dimensions; and at each k, PCA-k, the QUBO
selection of :class:`QUBOFeatureSelector` (correlation, mutual information, conditional MI;
the "anneal" solver), and k random dimensions. Every selector and head is fitted on the
training part only; each feature set is scored with both heads (balanced logistic regression,
the small torch MLP) on the validation and the test parts. "PCA axes + QUBO correlation" lets
the QUBO choose k of the 384 principal axes instead of k raw dimensions. Besides every k, a row
per method reports the test score at the k its validation micro-F1 chose.

Run ``python benchmarks/text_classification.py`` (defaults: 5 seeds, k = 16 32 64, both data
sets, both heads, one thread). Prints the tables (mean +- sd over seeds) and writes
``benchmarks/results/text_classification.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from text_classification import (  # noqa: E402
    HEADS,
    TextEmbedder,
    f1_scores,
    load,
    make_head,
    split,
)

from qanneal_llm.estimators import QUBOFeatureSelector  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
QUBO_METHODS = ("correlation", "mutual_info", "conditional_mi")
FEATURE_SETS = (
    "PCA",
    *[f"QUBO {m}" for m in QUBO_METHODS],
    "PCA axes + QUBO correlation",
    "random",
)


def _load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def feature_sets(X, y, train, ks, seed):
    """Yield ``(name, k, columns or a fitted transformer, seconds, info)``, fitted on
    ``train`` rows."""
    yield "all 384", X.shape[1], np.arange(X.shape[1]), 0.0, {}
    for k in ks:
        start = time.perf_counter()
        pca = PCA(n_components=k, random_state=seed).fit(X[train])
        yield "PCA", k, pca, time.perf_counter() - start, {}
        for method in QUBO_METHODS:
            start = time.perf_counter()
            sel = QUBOFeatureSelector(k=k, method=method, seed=seed).fit(X[train], y[train])
            info = {"solver": sel.result_.solver, "repaired": bool(sel.result_.repaired)}
            yield (
                f"QUBO {method}",
                k,
                sel.get_support(indices=True),
                time.perf_counter() - start,
                info,
            )
        start = time.perf_counter()
        on_axes = make_pipeline(
            PCA(random_state=seed), QUBOFeatureSelector(k=k, method="correlation", seed=seed)
        ).fit(X[train], y[train])
        yield "PCA axes + QUBO correlation", k, on_axes, time.perf_counter() - start, {}
        rng = np.random.default_rng(seed)
        yield "random", k, np.sort(rng.choice(X.shape[1], size=k, replace=False)), 0.0, {}


def run(name, seeds, ks, heads):
    data = load(name)
    start = time.perf_counter()
    X = TextEmbedder().transform(data.texts).astype(np.float64)
    embed_seconds = time.perf_counter() - start
    rows = []
    for seed in seeds:
        train, val, test = split(data, seed)
        for fs, k, cols, sel_seconds, info in feature_sets(X, data.y, train, ks, seed):
            Z = cols.transform(X) if hasattr(cols, "transform") else X[:, cols]
            for head in heads:
                model = make_pipeline(StandardScaler(), make_head(head, data.multi_label, seed))
                t0 = time.perf_counter()
                model.fit(Z[train], data.y[train])
                t1 = time.perf_counter()
                test_pred = model.predict(Z[test])
                t2 = time.perf_counter()
                rows.append(
                    {
                        "data": name,
                        "seed": seed,
                        "features": fs,
                        "k": int(k),
                        "head": head,
                        "val": f1_scores(data.y[val], model.predict(Z[val])),
                        "test": f1_scores(data.y[test], test_pred),
                        "select_seconds": sel_seconds,
                        "head_fit_seconds": t1 - t0,
                        "predict_seconds": t2 - t1,
                        **info,
                    }
                )
        print(f"  {name} seed {seed} done (load {_load()})", flush=True)
    meta = {
        "data": name,
        "source": data.source,
        "n_texts": len(data.texts),
        "n_classes": len(data.label_names),
        "multi_label": data.multi_label,
        "split_sizes": [len(p) for p in split(data, seeds[0])],
        "embed_seconds": embed_seconds,
    }
    return meta, rows


def _ms(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.3f}"


def summarise(rows, heads, ks) -> tuple[str, list[dict]]:
    """Markdown table (mean ± sd over seeds) and its rows, k-by-validation rows included."""
    keys = [("all 384", 384)] + [(fs, k) for k in ks for fs in FEATURE_SETS]
    by_val = {}
    for fs in FEATURE_SETS:
        for head in heads:
            for seed in sorted({r["seed"] for r in rows}):
                cand = [
                    r
                    for r in rows
                    if r["features"] == fs and r["head"] == head and r["seed"] == seed
                ]
                best = max(cand, key=lambda r: (r["val"]["f1_micro"], -r["k"]))
                by_val.setdefault((fs, head), []).append(best)
    header = (
        "| features | k | "
        + " | ".join(f"{h} micro-F1 | {h} macro-F1" for h in heads)
        + " | select s |"
    )
    lines = [header, "|" + "---|" * (3 + 2 * len(heads))]
    table = []
    for fs, k in keys + [(fs, "val") for fs in FEATURE_SETS[:-1]]:
        cells, entry = [], {"features": fs, "k": k}
        for head in heads:
            if k == "val":
                sel = by_val[(fs, head)]
                entry[f"{head}_chosen_k"] = [r["k"] for r in sel]
            else:
                sel = [r for r in rows if r["features"] == fs and r["k"] == k and r["head"] == head]
            for metric in ("f1_micro", "f1_macro"):
                vals = [r["test"][metric] for r in sel]
                entry[f"{head}_{metric}"] = [float(np.mean(vals)), float(np.std(vals, ddof=1))]
                cells.append(_ms(vals))
        secs = [r["select_seconds"] for r in sel]
        entry["select_seconds"] = float(np.mean(secs))
        label = "k by val" if k == "val" else str(k)
        lines.append(f"| {fs} | {label} | " + " | ".join(cells) + f" | {np.mean(secs):.2f} |")
        table.append(entry)
    return "\n".join(lines), table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["movielens", "bbc"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--heads", nargs="+", default=list(HEADS), choices=HEADS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "text_classification.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    report = {
        "command": "python benchmarks/text_classification.py " + " ".join(argv or sys.argv[1:]),
        "cpu": _cpu(),
        "threads": args.threads,
        "load_before": _load(),
        "data": {},
    }
    with threadpool_limits(args.threads):
        for name in args.data:
            meta, rows = run(name, args.seeds, args.ks, args.heads)
            text, table = summarise(rows, args.heads, args.ks)
            sizes = "/".join(map(str, meta["split_sizes"]))
            print(
                f"\n{meta['source']}: {meta['n_texts']} texts, {meta['n_classes']} classes,"
                f" {'multi-label' if meta['multi_label'] else 'single-label'};"
                f" train/val/test {sizes}; seeds {args.seeds}; embedding"
                f" {meta['embed_seconds']:.1f} s (0 when cached)\n{text}"
            )
            stages = {
                s: float(np.mean([r[s] for r in rows]))
                for s in ("head_fit_seconds", "predict_seconds")
            }
            print(
                "mean head fit / predict s: "
                + ", ".join(
                    f"{h} {np.mean([r['head_fit_seconds'] for r in rows if r['head'] == h]):.2f}"
                    f" / {np.mean([r['predict_seconds'] for r in rows if r['head'] == h]):.3f}"
                    for h in args.heads
                )
            )
            report["data"][name] = {**meta, "table": table, "stages": stages, "rows": rows}
    report["load_after"] = _load()
    print(
        f"\nCPU {report['cpu']}, {args.threads} thread(s); load {report['load_before']} ->"
        f" {report['load_after']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

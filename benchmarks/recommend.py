"""MovieLens-100k: the ranking head against MostPop, ItemKNN and BPR-MF, and the QUBO slate
against MMR and greedy DPP, all on one split (RecBole's default protocol, seed 0).

Run ``python benchmarks/recommend.py`` (add ``--cli-timing`` to also time the README command
cold and warm). Prints the tables and writes ``benchmarks/results/recommend.json`` plus
``recommend_pareto.png`` and ``recommend_heads.png`` next to it.

The accuracy-diversity comparison re-ranks the *same* top-100 candidates of the head with the
*same* relevance (scores min-max scaled per user) and the same item vectors (full 384-d text
embeddings, which ILD@10 also uses); every list is shown best-relevance first. For each MMR and
DPP operating point we find the QUBO sweep point with NDCG@10 no more than 1% below it and
compare ILD@10.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qanneal_llm.ranking import RankingHeadRecommender  # noqa: E402
from recsys.baselines import BPRMF, ItemKNN, MostPop  # noqa: E402
from recsys.metrics import evaluate, topk_from_scores  # noqa: E402
from recsys.pipelines.recommend import (  # noqa: E402
    RecommendConfig,
    candidate_lists,
    embed_items,
    load_split,
    qubo_slates,
    rerank_baseline,
    select_features,
    user_content,
)

RESULTS = ROOT / "benchmarks" / "results"
QUBO_LAMBDAS = (
    0.0,
    0.02,
    0.05,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.35,
    0.4,
    0.45,
    0.5,
    0.6,
    0.7,
    0.8,
    1.0,
    1.2,
    1.5,
    2.0,
)
GREEDY_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
COLS = ("ndcg", "recall", "mrr", "hit", "precision", "ild", "coverage", "novelty")


def _row(name, m, extra=""):
    return f"{name:<28}" + "".join(f"{m[c]:>10.4f}" for c in COLS) + f"  {extra}"


def _header():
    return f"{'method':<28}" + "".join(f"{c:>10}" for c in COLS)


def fit_head(split, item_features, seed, **kw):
    torch.set_num_threads(1)
    head = RankingHeadRecommender(seed=seed, **kw)
    return head.fit(
        split.matrix("train"),
        user_features=None if item_features is None else user_content(split, item_features),
        item_features=item_features,
        valid=split.matrix("valid"),
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--skip-bpr", action="store_true", help="skip BPR-MF (slowest baseline)")
    parser.add_argument("--cli-timing", action="store_true", help="time the CLI cold and warm")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    cfg = RecommendConfig(seed=args.seed, show_progress=False)
    out: dict = {"seed": args.seed, "machine": f"{os.cpu_count()} CPU cores", "timings": {}}

    t = time.perf_counter()
    ml, split = load_split(cfg)
    item_vectors = embed_items(ml, split)
    out["timings"]["load_embed"] = time.perf_counter() - t
    users = np.arange(split.data.n_users)
    seen = split.seen("test")

    t = time.perf_counter()
    feat = select_features(item_vectors, split.matrix("train"), args.n_features, seed=args.seed)
    out["timings"]["feature_selection"] = time.perf_counter() - t
    sel = np.asarray(feat.indices)
    out["feature_selection"] = {k: v for k, v in feat.to_dict().items() if k != "info"}

    # -- accuracy: heads vs baselines -----------------------------------------------------
    methods, heads = {}, {}
    variants = {
        f"head: QUBO {sel.size} dims + ids": dict(features=item_vectors[:, sel]),
        "head: all 384 dims + ids": dict(features=item_vectors),
        "head: ids only (no content)": dict(features=None),
        f"head: QUBO {sel.size} dims, BPR loss": dict(features=item_vectors[:, sel], loss="bpr"),
    }
    rng = np.random.default_rng(args.seed)
    random_dims = np.sort(rng.choice(item_vectors.shape[1], sel.size, replace=False))
    variants[f"head: random {sel.size} dims + ids"] = dict(features=item_vectors[:, random_dims])
    for name, spec in variants.items():
        spec = dict(spec)
        feats = spec.pop("features")
        # weight decay chosen per variant on *valid* NDCG@10 (test is only read afterwards)
        t = time.perf_counter()
        fits = [fit_head(split, feats, args.seed, weight_decay=wd, **spec) for wd in (0.0, 1e-4)]
        seconds = (time.perf_counter() - t) / len(fits)
        head = max(fits, key=lambda h: h.history_[h.best_epoch_]["valid_ndcg"])
        m = evaluate(head.predict(users, 10, exclude=seen), split, item_vectors=item_vectors)
        best_valid = head.history_[head.best_epoch_]["valid_ndcg"]
        m.update(
            fit_seconds=seconds,
            best_epoch=head.best_epoch_,
            valid_ndcg=best_valid,
            weight_decay=head.weight_decay,
        )
        methods[name], heads[name] = m, head
    baselines = [("MostPop", MostPop()), ("ItemKNN", ItemKNN())]
    if not args.skip_bpr:
        baselines.append(("BPR-MF", BPRMF(seed=args.seed)))
    for name, model in baselines:
        t = time.perf_counter()
        model.fit(split)
        seconds = time.perf_counter() - t
        top = topk_from_scores(model.decision_function(users), seen, 10)
        methods[name] = evaluate(top, split, item_vectors=item_vectors)
        methods[name]["fit_seconds"] = seconds
    out["accuracy"] = methods
    print("\nAccuracy on the test part (full ranking, 943 users, same split):")
    print(_header())
    for name, m in methods.items():
        extra = f"fit {m['fit_seconds']:.1f} s"
        if "valid_ndcg" in m:
            extra += f", valid {m['valid_ndcg']:.4f}, wd {m['weight_decay']:g}"
        print(_row(name, m, extra))

    # -- accuracy vs diversity ------------------------------------------------------------
    main_head = heads[f"head: QUBO {sel.size} dims + ids"]
    cands, cand_scores = candidate_lists(main_head.decision_function(users), split, 100)
    sweep = {"qubo": [], "mmr": [], "dpp": []}
    for lam in QUBO_LAMBDAS:
        slates, info = qubo_slates(cands, cand_scores, item_vectors, 10, lam, "anneal", args.seed)
        m = evaluate(slates, split, item_vectors=item_vectors)
        m.update(weight=lam, solver=info)
        sweep["qubo"].append(m)
        print(
            f"qubo lambda={lam}: ndcg {m['ndcg']:.4f} ild {m['ild']:.4f} ({info['seconds']:.1f} s,"
            f" {info['n_repaired']} repaired)"
        )
    for method in ("mmr", "dpp"):
        for w in GREEDY_WEIGHTS:
            t = time.perf_counter()
            top = rerank_baseline(cands, cand_scores, item_vectors, 10, method, w)
            m = evaluate(top, split, item_vectors=item_vectors)
            m.update(weight=w, seconds=time.perf_counter() - t)
            sweep[method].append(m)
    out["pareto"] = sweep

    comparison = []
    frontier = sorted(sweep["qubo"], key=lambda q: q["ndcg"])
    f_ndcg = np.array([q["ndcg"] for q in frontier])
    f_ild = np.maximum.accumulate([q["ild"] for q in frontier][::-1])[::-1]
    for method in ("mmr", "dpp"):
        for p in sweep[method]:
            ok = [q for q in sweep["qubo"] if q["ndcg"] >= 0.99 * p["ndcg"]]
            best = max(ok, key=lambda q: q["ild"]) if ok else None
            inside = f_ndcg[0] <= p["ndcg"] <= f_ndcg[-1]
            comparison.append(
                {
                    "baseline": method,
                    "weight": p["weight"],
                    "ndcg": p["ndcg"],
                    "ild": p["ild"],
                    "qubo_lambda": None if best is None else best["weight"],
                    "qubo_ndcg": None if best is None else best["ndcg"],
                    "qubo_ild": None if best is None else best["ild"],
                    "qubo_wins": bool(best is not None and best["ild"] > p["ild"]),
                    # ILD of the QUBO frontier interpolated at exactly the baseline's NDCG
                    "qubo_ild_at_same_ndcg": (
                        float(np.interp(p["ndcg"], f_ndcg, f_ild)) if inside else None
                    ),
                }
            )
    out["pareto_comparison"] = comparison
    print("\nAt the same NDCG@10 (QUBO within 1% below), which slate is more diverse?")
    print(
        f"{'baseline':<10}{'weight':>7}{'ndcg':>9}{'ild':>9} | {'qubo lam':>9}{'ndcg':>9}"
        f"{'ild':>9}  winner"
    )
    for c in comparison:
        q = (
            ("-", float("nan"), float("nan"))
            if c["qubo_lambda"] is None
            else (c["qubo_lambda"], c["qubo_ndcg"], c["qubo_ild"])
        )
        win = "QUBO" if c["qubo_wins"] else c["baseline"].upper()
        interp = c["qubo_ild_at_same_ndcg"]
        interp = "   n/a" if interp is None else f"{interp:.4f}"
        print(
            f"{c['baseline']:<10}{c['weight']:>7}{c['ndcg']:>9.4f}{c['ild']:>9.4f} |"
            f" {q[0]!s:>8}{q[1]:>9.4f}{q[2]:>9.4f}  {win:<5} interpolated QUBO ILD {interp}"
        )
    n_win = sum(c["qubo_wins"] for c in comparison)
    print(f"QUBO more diverse at matched accuracy in {n_win} of {len(comparison)} points")

    if args.cli_timing:
        out["cli_timing"] = cli_timing()
        print("\nCLI wall times:", out["cli_timing"])

    (RESULTS / "recommend.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    plots(sweep, methods)
    print(f"\nwrote {RESULTS / 'recommend.json'}, recommend_pareto.png, recommend_heads.png")
    return 0


def cli_timing() -> dict:
    """Wall time of the README command with an empty cache (cold) and again (warm)."""
    timings = {}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as outdir:
        env = {**os.environ, "QANNEAL_LLM_CACHE": cache, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "recsys.cli", "recommend", "--output", outdir, "--quiet"]
        for label in ("cold", "warm"):
            t = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
            timings[f"{label}_seconds"] = round(time.perf_counter() - t, 1)
    timings["command"] = "qanneal-llm recommend --output <dir> --quiet"
    return timings


def plots(sweep, methods) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    styles = {
        "qubo": ("o-", "QUBO slate (lambda sweep)"),
        "mmr": ("s--", "MMR"),
        "dpp": ("^--", "greedy DPP"),
    }
    for method, (style, label) in styles.items():
        pts = sweep[method]
        ax.plot([p["ild"] for p in pts], [p["ndcg"] for p in pts], style, label=label, ms=5)
    ax.set_xlabel("ILD@10 (mean pairwise 1 - cosine, 384-d text embeddings)")
    ax.set_ylabel("NDCG@10 (test)")
    ax.set_title("Accuracy vs diversity on the head's top-100 candidates, ml-100k")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / "recommend_pareto.png", dpi=130)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    names = list(methods)
    ax.barh(names, [methods[n]["ndcg"] for n in names])
    ax.set_xlabel("NDCG@10 (test)")
    ax.set_title("Ranking heads vs baselines, same split")
    fig.tight_layout()
    fig.savefig(RESULTS / "recommend_heads.png", dpi=130)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())

"""The S&P 500 backtest under a clean protocol: tune on 2000-2012, report 2013-2022.

1. **Scorers.** For every scorer size (``hidden``) and run seed, the walk-forward ranking heads
   are trained once over 2000-2022 as an ensemble of ``members`` (each member its own seed);
   a score at a month end only ever uses months whose next-month return was known then, so one
   pass serves validation and test. The ensemble's score is the mean of its members' z-scores.
2. **Validation (2000-2012 only).** The scorer size is the one with the highest mean
   cross-sectional rank correlation (Spearman IC) between ensemble score and next-month return
   over the 2000-2012 rebalances. Then every QUBO row gets the ``(k, risk aversion, lookback,
   semantic weight)`` of the grid with the highest mean net Sharpe over 2000-2012 (mean over
   run seeds; the semantic weight only matters for the text row).
3. **Test.** Each row runs 2000-2022 with its chosen settings for every run seed, once with the
   ensemble and once with member 0 alone (the old single-seed scorer), and is reported on
   2013-2022 (out of sample) and 2000-2022, mean +- sd over seeds, with the Sharpe difference
   to equal weight and its HAC (Ledoit-Wolf 2008) and studentized block-bootstrap p-values
   (median over seeds), Holm-adjusted over the rows, and the deflated Sharpe ratio of each
   row's validation winner given the size of the grid it was picked from.

Baselines keep the pipeline's defaults (k = 5, risk aversion 2, 252-day lookback): equal
weight, the comparison every p-value is against, has no setting at all.

Run: ``python benchmarks/finance.py [--seeds 0 1 2 3 4] [--members 5] [--hidden 8 16 32]``.
Scorer runs are cached in ``--cache`` (default ``/tmp/qanneal_finance``), keyed by setting.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from recsys import metrics, stats
from recsys.datasets import load_sp500
from recsys.features import forward_returns, month_ends
from recsys.pipelines.portfolio import asset_embeddings, run_backtest, walk_forward_scores
from recsys.pipelines.portfolio_config import BacktestConfig
from recsys.pipelines.portfolio_scorer import ensemble_scores

OUT = Path(__file__).parent / "results"
VALID_END, TEST_START = "2012-12-31", "2013-01-01"
GRID = {
    "k": [3, 5, 8],
    "risk_aversion": [1.0, 2.0, 4.0],
    "lookback": [126, 252],
    "semantic_penalty": [0.02, 0.05, 0.1],
}
QUBO_ROWS = [
    f"{v}_{w}"
    for v in ("qubo_text", "qubo_no_semantic", "qubo_no_text")
    for w in ("equal", "min_variance")
]


def _sharpe(r: pd.Series) -> float:
    return metrics.sharpe_ratio(r.to_numpy(), periods_per_year=252)


def member_scores(data, embeddings, sectors, hidden, seed, members, cache: Path):
    path = cache / f"scores_h{hidden}_s{seed}_m{members}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    config = BacktestConfig(hidden=hidden, seed=seed, ensemble=members)
    t = time.perf_counter()
    out = walk_forward_scores(data.prices, embeddings, config)
    print(f"  scorer hidden={hidden} seed={seed}: {time.perf_counter() - t:.0f} s", flush=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(out))
    tmp.replace(path)
    return out


def rank_ic(scores: pd.DataFrame, labels: pd.DataFrame, end: str) -> float:
    """Mean Spearman IC over the month ends whose next-month return is known by ``end``."""
    last = pd.Timestamp(end) - pd.offsets.MonthEnd(1)
    dates = [d for d in scores.index if d <= last and d in labels.index]
    ics = [spearmanr(scores.loc[d], labels.loc[d]).statistic for d in dates]
    return float(np.nanmean(ics))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--hidden", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--cache", default="/tmp/qanneal_finance")
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load = open("/proc/loadavg").read().split()[:3]

    data = load_sp500()
    embeddings = asset_embeddings(data)
    sectors = {t: d["sector"] for t, d in data.descriptions.items()}
    labels = forward_returns(data.prices, month_ends(data.prices.index))[data.tickers]

    # 1-2a. scorers, and the scorer size by validation rank IC
    pool = {
        (h, s): member_scores(data, embeddings, sectors, h, s, args.members, cache)
        for h in args.hidden
        for s in args.seeds
    }
    ics = {}
    for h in args.hidden:
        for head in ("qubo_text", "qubo_no_text"):
            ics[(h, head)] = float(
                np.mean(
                    [
                        rank_ic(ensemble_scores(pool[(h, s)][head]), labels, VALID_END)
                        for s in args.seeds
                    ]
                )
            )
    hidden = max(args.hidden, key=lambda h: ics[(h, "qubo_text")] + ics[(h, "qubo_no_text")])
    print("validation rank IC by scorer size:", {f"{h}/{hd}": v for (h, hd), v in ics.items()})
    print("chosen scorer size:", hidden, flush=True)

    def scores_for(seed, single):
        heads = pool[(hidden, seed)]
        return {
            head: ensemble_scores(members[:1] if single else members)
            for head, members in heads.items()
        }

    # 2b. the selection grid on 2000-2012
    valid = []
    combos = list(itertools.product(*GRID.values()))
    for combo in combos:
        params = dict(zip(GRID, combo, strict=True))
        for seed in args.seeds:
            config = BacktestConfig(end=VALID_END, hidden=hidden, seed=seed, **params)
            res = run_backtest(
                data.prices, embeddings, sectors, config, scores=scores_for(seed, False),
                baselines=False,
            )  # fmt: skip
            for row in QUBO_ROWS:
                sharpe = res.table.loc[row, "sharpe"]
                valid.append({**params, "seed": seed, "row": row, "sharpe": sharpe})
        print(f"  grid {params}", flush=True)
    valid = pd.DataFrame(valid)
    keys = list(GRID)
    mean_valid = valid.groupby(["row", *keys])["sharpe"].mean().reset_index()
    chosen = {}
    for row in QUBO_ROWS:
        part = mean_valid[mean_valid.row == row]
        if not row.startswith("qubo_text"):
            part = part[part.semantic_penalty == GRID["semantic_penalty"][0]]
        best = part.loc[part.sharpe.idxmax()]
        chosen[row] = {k: int(best[k]) if k in ("k", "lookback") else float(best[k]) for k in keys}
        chosen[row]["validation_sharpe"] = float(best.sharpe)
        chosen[row]["n_tried"] = len(part)
        chosen[row]["tried_sharpes"] = part.sharpe.tolist()
    shown = {r: {k: v for k, v in c.items() if k != "tried_sharpes"} for r, c in chosen.items()}
    print("chosen on 2000-2012:", shown, flush=True)

    # 3. test: every row with its settings, every seed, ensemble and single scorer
    returns: dict[tuple, pd.Series] = {}
    base = run_backtest(
        data.prices, embeddings, sectors, BacktestConfig(hidden=hidden, seed=args.seeds[0]),
        scores=scores_for(args.seeds[0], False),
    )  # fmt: skip
    baselines = [c for c in base.returns.columns if not c.startswith("qubo")]
    for name in baselines:
        returns[(name, "-", 0)] = base.returns[name]
    by_config: dict[tuple, list[str]] = {}
    for row, c in chosen.items():
        by_config.setdefault(tuple(c[k] for k in keys), []).append(row)
    for combo, rows in by_config.items():
        params = dict(zip(keys, combo, strict=True))
        for seed in args.seeds:
            for scorer in ("ensemble", "single"):
                config = BacktestConfig(hidden=hidden, seed=seed, **params)
                res = run_backtest(
                    data.prices, embeddings, sectors, config,
                    scores=scores_for(seed, scorer == "single"), baselines=False,
                )  # fmt: skip
                for row in rows:
                    returns[(row, scorer, seed)] = res.returns[row]
    ew = returns[("equal_weight", "-", 0)]

    table = []
    for (row, scorer), group in itertools.groupby(sorted(returns), key=lambda key: key[:2]):
        entries = [returns[key] for key in group]
        out = {"row": row, "scorer": scorer, "seeds": len(entries)}
        for period, sl in (("test", slice(TEST_START, None)), ("all", slice(None))):
            sharpes = [_sharpe(r[sl]) for r in entries]
            out[f"sharpe_{period}_mean"] = float(np.mean(sharpes))
            out[f"sharpe_{period}_sd"] = float(np.std(sharpes, ddof=1)) if len(sharpes) > 1 else 0.0
            if row == "equal_weight":
                continue
            tests_h = [stats.sharpe_difference_hac(r[sl], ew[sl]) for r in entries]
            tests_b = [
                stats.sharpe_difference_bootstrap(r[sl], ew[sl], n_boot=args.n_boot, seed=0)
                for r in entries
            ]
            out[f"diff_{period}"] = float(np.mean([t.difference for t in tests_h]))
            out[f"p_hac_{period}"] = float(np.median([t.p_value for t in tests_h]))
            out[f"p_boot_{period}"] = float(np.median([t.p_value for t in tests_b]))
        if row in chosen:
            out["settings"] = {k: chosen[row][k] for k in keys}
            r0 = entries[0][:VALID_END]
            out["validation_dsr"] = stats.deflated_sharpe_ratio(r0, chosen[row]["tried_sharpes"])[
                "dsr"
            ]
        table.append(out)
    table = pd.DataFrame(table)
    tested = table.row != "equal_weight"
    table.loc[tested, "p_boot_test_holm"] = stats.holm(table.loc[tested, "p_boot_test"].to_numpy())
    table = table.sort_values("sharpe_test_mean", ascending=False)

    # the scorer's seed noise before and after the ensemble
    noise = {}
    for head in ("qubo_text", "qubo_no_text"):
        single = [ensemble_scores(pool[(hidden, s)][head][:1]) for s in args.seeds]
        ens = [ensemble_scores(pool[(hidden, s)][head]) for s in args.seeds]
        noise[head] = {
            f"score_var_across_seeds_{name}": float(np.mean(np.var(np.stack(s), axis=0, ddof=1)))
            for name, s in (("single", single), ("ensemble", ens))
        }
    pd.set_option("display.width", 200)
    cols = ["row", "scorer", "sharpe_test_mean", "sharpe_test_sd", "diff_test", "p_hac_test"]
    cols += ["p_boot_test", "p_boot_test_holm", "sharpe_all_mean", "sharpe_all_sd", "p_hac_all"]
    cols += ["p_boot_all", "validation_dsr"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("score variance across seeds (z-scores):", json.dumps(noise))
    report = {
        "command": "python benchmarks/finance.py --seeds "
        + " ".join(map(str, args.seeds))
        + f" --members {args.members} --hidden "
        + " ".join(map(str, args.hidden))
        + f" --n-boot {args.n_boot}",
        "machine": f"{platform.machine()}, python {platform.python_version()}",
        "loadavg_start": load,
        "seconds": time.perf_counter() - started,
        "validation_rank_ic": {f"{h}/{hd}": v for (h, hd), v in ics.items()},
        "hidden": hidden,
        "grid": GRID,
        "chosen": chosen,
        "validation_grid": valid.to_dict(orient="records"),
        "table": json.loads(table.to_json(orient="records")),
        "score_noise": noise,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "finance.json").write_text(json.dumps(report, indent=2))
    print(f"{report['seconds']:.0f} s; wrote {OUT / 'finance.json'}")


if __name__ == "__main__":
    main()

"""The S&P 500 backtest under a clean protocol: tune on 2000-2012, report 2013-2022.

1. **Scorers.** For every scorer size (``hidden``) and run seed, the walk-forward ranking heads
   are trained once over 2000-2022 as an ensemble of ``members`` (each member its own seed);
   a score at a month end only ever uses months whose next-month return was known then, so one
   pass serves validation and test. The ensemble's score is the mean of its members' z-scores.
2. **Validation (2000-2012 only).** The scorer size is the one whose ensemble (run seed 0,
   heads trained on 2000-2012 data only) has the highest mean cross-sectional rank correlation
   (Spearman IC) between score and next-month return over the 2000-2012 rebalances. Then every
   QUBO row gets the ``(k, risk aversion, lookback)`` of the grid with the highest mean net
   Sharpe over 2000-2012 (mean over the first ``--grid-seeds`` run seeds, each an ensemble;
   semantic weight at its default),
   and the text rows then the semantic weight of its grid at those settings.
3. **Test.** Each row runs 2000-2022 with its chosen settings for every run seed with the
   ensemble (and, for the settings of the best validation row, also with member 0 alone: the
   old single-seed scorer, for the spread before and after averaging), and is reported on
   2013-2022 (out of sample) and 2000-2022, mean +- sd over seeds, with the Sharpe difference
   to equal weight, its HAC (Ledoit-Wolf 2008) p-value (median over seeds) and the
   studentized block-bootstrap p-value of the seed-averaged strategy (the mean of the seeds'
   daily returns), Holm-adjusted over the rows, and the deflated Sharpe ratio of each
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
from concurrent.futures import ProcessPoolExecutor
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


def member_scores(data, embeddings, hidden, seed, members, cache: Path, end="2022-12-31"):
    path = cache / f"scores_h{hidden}_s{seed}_m{members}_{end}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    config = BacktestConfig(hidden=hidden, seed=seed, ensemble=members, end=end)
    t = time.perf_counter()
    out = walk_forward_scores(data.prices, embeddings, config)
    print(f"  scorer hidden={hidden} seed={seed}: {time.perf_counter() - t:.0f} s", flush=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(out))
    tmp.replace(path)
    return out


_STATE: dict = {}


def _init_worker() -> None:
    """Each worker process loads the data and (cached) embeddings once."""
    data = load_sp500()
    _STATE.update(
        data=data,
        embeddings=asset_embeddings(data),
        sectors={t: d["sector"] for t, d in data.descriptions.items()},
    )


def _scores_job(job):
    hidden, seed, members, cache, end = job
    return member_scores(_STATE["data"], _STATE["embeddings"], hidden, seed, members, cache, end)


def _run_job(job):
    """One backtest on given scores: ``(key, params, seed, scores, baselines, end)``."""
    key, params, seed, scores, baselines, end = job
    config = BacktestConfig(seed=seed, end=end, **params)
    res = run_backtest(
        _STATE["data"].prices, _STATE["embeddings"], _STATE["sectors"], config,
        scores=scores, baselines=baselines,
    )  # fmt: skip
    return key, res.returns, res.table["sharpe"]


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
    parser.add_argument("--workers", type=int, default=2, help="backtests run in parallel")
    parser.add_argument("--grid-seeds", type=int, default=1, help="run seeds in the grid")
    parser.add_argument(
        "--smoke", action="store_true", help="one grid point and short spans: checks the script"
    )
    args = parser.parse_args()
    if args.smoke:
        for key in GRID:
            GRID[key] = GRID[key][1:3] if key == "semantic_penalty" else GRID[key][1:2]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load = open("/proc/loadavg").read().split()[:3]

    _init_worker()
    data = _STATE["data"]
    labels = forward_returns(data.prices, month_ends(data.prices.index))[data.tickers]
    pool_exec = ProcessPoolExecutor(max_workers=args.workers, initializer=_init_worker)
    print(f"load average at start: {load}", flush=True)

    # 1-2a. the scorer size by validation rank IC (heads trained on 2000-2012 only, seed 0)
    ics = {}
    jobs = [(h, args.seeds[0], args.members, cache, VALID_END) for h in args.hidden]
    for h, heads in zip(args.hidden, pool_exec.map(_scores_job, jobs), strict=True):
        for head in ("qubo_text", "qubo_no_text"):
            ics[(h, head)] = rank_ic(ensemble_scores(heads[head]), labels, VALID_END)
    hidden = max(args.hidden, key=lambda h: ics[(h, "qubo_text")] + ics[(h, "qubo_no_text")])
    print("validation rank IC by scorer size:", {f"{h}/{hd}": v for (h, hd), v in ics.items()})
    print("chosen scorer size:", hidden, flush=True)
    jobs = [(hidden, s, args.members, cache, "2022-12-31") for s in args.seeds]
    # the grid below needs only the first seeds: the others train while it runs
    futures = {
        s: pool_exec.submit(_scores_job, job) for s, job in zip(args.seeds, jobs, strict=True)
    }
    pool: dict = {}

    def scores_for(seed, single):
        if seed not in pool:
            pool[seed] = futures[seed].result()
        heads = pool[seed]
        return {
            head: ensemble_scores(members[:1] if single else members)
            for head, members in heads.items()
        }

    # 2b. the selection grid on 2000-2012, on the first --grid-seeds run seeds: (k, risk aversion,
    # lookback) with the default semantic weight, then the semantic weight for the text rows
    # at their chosen (k, risk aversion, lookback)
    valid = []
    grid_seeds = args.seeds[: args.grid_seeds]

    def validate(param_list):
        jobs = [
            (
                (i, seed),
                {**params, "hidden": hidden},
                seed,
                scores_for(seed, False),
                False,
                VALID_END,
            )
            for i, params in enumerate(param_list)
            for seed in grid_seeds
        ]
        for (i, seed), _, sharpes in pool_exec.map(_run_job, jobs):
            for row in QUBO_ROWS:
                valid.append({**param_list[i], "seed": seed, "row": row, "sharpe": sharpes[row]})
        print(f"  validated {len(param_list)} settings", flush=True)

    gamma0 = BacktestConfig().semantic_penalty
    stage1 = [k for k in GRID if k != "semantic_penalty"]
    validate(
        [
            {**dict(zip(stage1, combo, strict=True)), "semantic_penalty": gamma0}
            for combo in itertools.product(*(GRID[k] for k in stage1))
        ]
    )
    keys = list(GRID)

    def best_of(rows):
        mean = pd.DataFrame(valid).groupby(["row", *keys])["sharpe"].mean().reset_index()
        return mean[mean.row.isin(rows)]

    text_rows = [r for r in QUBO_ROWS if r.startswith("qubo_text")]
    for row in text_rows:
        part = best_of([row])
        best = part.loc[part.sharpe.idxmax()]
        for gamma in GRID["semantic_penalty"]:
            params = {k: best[k] for k in stage1}
            params = {k: int(v) if k in ("k", "lookback") else float(v) for k, v in params.items()}
            if (
                gamma != gamma0
                and not (
                    (part.semantic_penalty == gamma)
                    & (part.k == params["k"])
                    & (part.risk_aversion == params["risk_aversion"])
                    & (part.lookback == params["lookback"])
                ).any()
            ):
                validate([{**params, "semantic_penalty": gamma}])
    mean_valid = best_of(QUBO_ROWS)
    chosen = {}
    for row in QUBO_ROWS:
        part = mean_valid[mean_valid.row == row]
        if not row.startswith("qubo_text"):
            part = part[part.semantic_penalty == gamma0]
        best = part.loc[part.sharpe.idxmax()]
        chosen[row] = {k: int(best[k]) if k in ("k", "lookback") else float(best[k]) for k in keys}
        chosen[row]["validation_sharpe"] = float(best.sharpe)
        chosen[row]["n_tried"] = len(part)
        chosen[row]["tried_sharpes"] = part.sharpe.tolist()
    valid = pd.DataFrame(valid)
    shown = {r: {k: v for k, v in c.items() if k != "tried_sharpes"} for r, c in chosen.items()}
    print("chosen on 2000-2012:", shown, flush=True)

    # 3. test: every row with its settings and every seed; the single-head scorer (member 0
    # alone) too for the settings of the best validation row, for the before/after spread
    returns: dict[tuple, pd.Series] = {}
    end = "2022-12-31"
    by_config: dict[tuple, list[str]] = {}
    for row, c in chosen.items():
        by_config.setdefault(tuple(c[k] for k in keys), []).append(row)
    jobs = [
        ("base", {"hidden": hidden}, args.seeds[0], scores_for(args.seeds[0], False), True, end)
    ]
    top = max(chosen, key=lambda row: chosen[row]["validation_sharpe"])
    for combo in by_config:
        params = {**dict(zip(keys, combo, strict=True)), "hidden": hidden}
        scorers = ("ensemble", "single") if top in by_config[combo] else ("ensemble",)
        for seed in args.seeds:
            for scorer in scorers:
                scores = scores_for(seed, scorer == "single")
                jobs.append(((combo, seed, scorer), params, seed, scores, False, end))
    for key, rets, _ in pool_exec.map(_run_job, jobs):
        if key == "base":
            for name in rets.columns:
                if not name.startswith("qubo"):
                    returns[(name, "-", 0)] = rets[name]
            continue
        combo, seed, scorer = key
        for row in by_config[combo]:
            returns[(row, scorer, seed)] = rets[row]
    pool_exec.shutdown()
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
            # the bootstrap on the seed-averaged strategy (mean daily return over the seeds)
            pooled = pd.concat(entries, axis=1).mean(axis=1)
            boot = stats.sharpe_difference_bootstrap(pooled[sl], ew[sl], n_boot=args.n_boot, seed=0)
            out[f"diff_{period}"] = float(np.mean([t.difference for t in tests_h]))
            out[f"p_hac_{period}"] = float(np.median([t.p_value for t in tests_h]))
            out[f"p_boot_{period}"] = boot.p_value
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
        single = [ensemble_scores(pool[s][head][:1]) for s in args.seeds]
        ens = [ensemble_scores(pool[s][head]) for s in args.seeds]
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
        + f" --n-boot {args.n_boot} --grid-seeds {args.grid_seeds} --workers {args.workers}",
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

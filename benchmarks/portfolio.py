"""The full S&P 500 backtest: 2000-2022, monthly, 10 bp costs, every row, measured.

Writes ``benchmarks/results/portfolio.json`` (the pipeline's report plus this machine's timings
and, with several seeds, the spread of every row's Sharpe ratio across seeds) and the PNG plots
of the first seed next to it. Baselines do not depend on the seed; the QUBO rows do, through the
scorer's initialisation, the dimension-selection QUBO and the annealer, so one seed's table is
one draw and the spread says how far to trust a difference between rows.

Run: ``python benchmarks/portfolio.py [--seeds 0 1 2] [--solver anneal]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import pandas as pd

from recsys.datasets import load_sp500
from recsys.pipelines.portfolio import (
    BacktestConfig,
    asset_embeddings,
    run_backtest,
)
from recsys.pipelines.portfolio_report import format_table, write_report

OUT = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--solver", default="anneal")
    args = parser.parse_args()

    t = time.perf_counter()
    data = load_sp500()
    embeddings = asset_embeddings(data)
    setup = time.perf_counter() - t
    sectors = {ticker: d["sector"] for ticker, d in data.descriptions.items()}

    sharpes, first = {}, None
    for seed in args.seeds:
        config = BacktestConfig(solver=args.solver, seed=seed)
        result = run_backtest(data.prices, embeddings, sectors, config)
        sharpes[seed] = result.table["sharpe"]
        print(f"seed {seed}: {result.timings['total']:.1f} s")
        if first is None:
            first = result
    first.data["source"] = data.source
    paths = write_report(first, OUT)

    report = json.loads(Path(paths["report"]).read_text())
    spread = pd.DataFrame(sharpes)
    report["benchmark"] = {
        "command": "python benchmarks/portfolio.py "
        + " ".join(["--seeds", *map(str, args.seeds), "--solver", args.solver]),
        "machine": f"{platform.machine()}, python {platform.python_version()}",
        "data_and_embedding_seconds": setup,
        "sharpe_by_seed": json.loads(spread.to_json()),
        "sharpe_mean": spread.mean(axis=1).to_dict(),
        "sharpe_std": spread.std(axis=1, ddof=1).to_dict() if len(args.seeds) > 1 else None,
    }
    Path(paths["report"]).write_text(json.dumps(report, indent=2))
    print(format_table(first.table))
    if len(args.seeds) > 1:
        print("\nSharpe across seeds (mean, std):")
        print(
            pd.DataFrame({"mean": spread.mean(axis=1), "std": spread.std(axis=1, ddof=1)})
            .sort_values("mean", ascending=False)
            .to_string(float_format=lambda v: f"{v:.3f}")
        )
    print("solver:", json.dumps(first.solver_summary))
    print("timings:", {k: round(v, 1) for k, v in first.timings.items()})
    print("wrote", ", ".join(paths.values()))


if __name__ == "__main__":
    main()

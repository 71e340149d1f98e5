"""How large a universe the walk-forward backtest handles in about a minute, from a user CSV.

Writes a prices CSV of ``n`` assets (2000-2022 business days; log returns from a five-factor
model on bootstrapped days of skfolio's real factor ETF returns plus idiosyncratic noise, seeded:
only the size matters for timing), reads it back with :func:`recsys.datasets.load_prices_csv`
(the ``--prices-csv`` path) and times :func:`run_backtest` without text (a user CSV has no
descriptions unless given), 2005-2022, every row and baseline, default settings.

Run: ``python benchmarks/finance_scale.py [--sizes 20 50 100 200]``; it records the load
average next to every timing, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.datasets import load_prices_csv
from recsys.pipelines.portfolio import run_backtest
from recsys.pipelines.portfolio_config import BacktestConfig

OUT = Path(__file__).parent / "results"


def synthetic_prices(n: int, seed: int = 0) -> pd.DataFrame:
    from skfolio.datasets import load_factors_dataset

    factors = np.log1p(load_factors_dataset().pct_change(fill_method=None).iloc[1:].to_numpy())
    dates = pd.bdate_range("2000-01-03", "2022-12-30")
    rng = np.random.default_rng(seed)
    days = factors[rng.integers(0, len(factors), len(dates))]
    B = rng.normal(0.2, 0.15, size=(n, factors.shape[1]))
    logret = days @ B.T + rng.normal(size=(len(dates), n)) * rng.uniform(0.01, 0.03, n)
    prices = 50.0 * np.exp(np.cumsum(logret, axis=0))
    return pd.DataFrame(prices, index=dates, columns=[f"A{i:04d}" for i in range(n)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 100, 200])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"prices_{n}.csv"
            synthetic_prices(n).rename_axis("date").to_csv(path)
            load = open("/proc/loadavg").read().split()[0]
            t = time.perf_counter()
            data = load_prices_csv(path, require_descriptions=False)
            result = run_backtest(data.prices, None, None, BacktestConfig(start="2005-01-01"))
            seconds = time.perf_counter() - t
            row = {"n_assets": n, "seconds": seconds, "loadavg_1min": load, **result.timings}
            rows.append(row)
            print(json.dumps(row), flush=True)
    OUT.mkdir(exist_ok=True)
    report = {
        "command": "python benchmarks/finance_scale.py --sizes " + " ".join(map(str, args.sizes)),
        "machine": f"{platform.machine()} {platform.processor()}",
        "rows": rows,
    }
    (OUT / "finance_scale.json").write_text(json.dumps(report, indent=2))
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.1f}"))


if __name__ == "__main__":
    main()

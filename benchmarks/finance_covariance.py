"""Does a covariance target built from the assets' texts lower out-of-sample risk?

At every month end from 2000-01 to 2022-11 each estimator sees only the last ``window`` daily
returns (60 or 126 days) of the 20 S&P 500 stocks and builds two long-only minimum-variance
portfolios: over all 20, and over the ``k`` assets :class:`PortfolioSelector` picks with a
pure-risk QUBO (expected returns zero) under the same covariance, weighted by minimum
variance. The weights are held constant (rebalanced daily to target, no costs: this measures
risk estimation, not trading) until the next month end. The out-of-sample daily returns are
concatenated and their annualised volatility reported for 2000-2022, 2000-2012 and 2013-2022.

Estimators: the sample covariance; scikit-learn's Ledoit-Wolf (scaled identity target);
Ledoit-Wolf toward constant correlation and toward the single index (equal-weight market);
the three text targets of :class:`qanneal_llm.covariance.TargetShrinkage`. Two intensity rules:
``analytic`` (Ledoit-Wolf's, inside each window: nothing is tuned, so every period is out of
sample) and ``tuned_2000_2012`` (one fixed intensity per estimator and window, the one on a
0, 0.1, ..., 1 grid whose all-20 minimum-variance volatility was lowest over 2000-2012; its
2013-2022 column is the honest one). The text is today's one-paragraph description of each company
(a look-ahead a reader should keep in mind: the business descriptions are written now).

Run: ``python benchmarks/finance_covariance.py [--windows 60 126] [--k 5]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.covariance import EmpiricalCovariance, LedoitWolf, ShrunkCovariance

from qanneal_llm.covariance import TargetShrinkage
from qanneal_llm.embeddings import TextEncoder
from qanneal_llm.portfolio import PortfolioSelector, min_variance_weights
from recsys.datasets import load_sp500
from recsys.features import month_ends
from recsys.texts import asset_texts

OUT = Path(__file__).parent / "results"
SPLIT = "2012-12-31"


CLASSICAL = ["sample", "lw_identity", "lw_constant_correlation", "lw_single_index"]
TEXT = ["text_similarity", "text_blocks", "text_index"]
GRID = np.round(np.linspace(0.0, 1.0, 11), 2)


def estimators(embeddings, shrinkage=None) -> dict:
    """Every estimator; with ``shrinkage`` (name -> intensity) the shrunk ones use that fixed
    intensity instead of the analytic one (the sample covariance has none)."""
    fixed = shrinkage or {}
    out = {
        "sample": EmpiricalCovariance(),
        "lw_identity": ShrunkCovariance(shrinkage=fixed["lw_identity"])
        if "lw_identity" in fixed
        else LedoitWolf(),
    }
    targets = {
        "lw_constant_correlation": "constant_correlation",
        "lw_single_index": "single_index",
        "text_similarity": "text_similarity",
        "text_blocks": "text_blocks",
        "text_index": "text_index",
    }
    for name, target in targets.items():
        emb = embeddings if name.startswith("text") else None
        out[name] = TargetShrinkage(target, embeddings=emb, shrinkage=fixed.get(name))
    return out


def _windows(daily, dates, window):
    for date, nxt in zip(dates[:-1], dates[1:], strict=True):
        loc = daily.index.get_loc(date)
        hold = daily.loc[date:nxt].iloc[1:]
        yield date, daily.iloc[loc - window + 1 : loc + 1].to_numpy(), hold


def tune_shrinkage(daily, dates, window, embeddings) -> dict:
    """Per estimator, the fixed intensity on a 0, 0.1, ..., 1 grid whose all-20 minimum-variance
    portfolio had the lowest out-of-sample volatility over 2000-2012 (validation only)."""
    valid = dates[dates <= pd.Timestamp(SPLIT)]
    valid = dates[: len(valid) + 1]  # the last validation month is held into January 2013
    ests = {k: v for k, v in estimators(embeddings).items() if k != "sample"}
    out = {name: {d: [] for d in GRID} for name in ests}
    for _, X, hold in _windows(daily, valid, window):
        held = hold[:SPLIT].to_numpy()
        sample = np.cov(X.T, ddof=0)
        for name, est in ests.items():
            est.fit(X)
            target = (
                np.eye(len(sample)) * np.trace(sample) / len(sample)
                if name == "lw_identity"
                else est.target_
            )
            for d in GRID:
                w = min_variance_weights((1 - d) * sample + d * target)
                out[name][d].append(held @ w)
    return {
        name: float(min(GRID, key=lambda d: np.concatenate(out[name][d]).std())) for name in out
    }


def _vol(r: pd.Series) -> float:
    return float(r.std(ddof=1) * np.sqrt(252))


def run(prices: pd.DataFrame, embeddings, windows, k, start="2000-01-01", end="2022-12-31"):
    daily = prices.pct_change(fill_method=None).iloc[1:]
    dates = month_ends(prices.index, start, end)
    rows, tuned = [], {}
    for window in windows:
        tuned[window] = tune_shrinkage(daily, dates, window, embeddings)
        for rule, fixed in (("analytic", None), ("tuned_2000_2012", tuned[window])):
            for name, est in estimators(embeddings, fixed).items():
                if rule != "analytic" and name == "sample":
                    continue
                pieces = {"all_20": [], f"qubo_k{k}": []}
                intensities = []
                for _, X, hold in _windows(daily, dates, window):
                    cov = est.fit(X).covariance_
                    intensities.append(getattr(est, "shrinkage_", 0.0))
                    sel = PortfolioSelector(
                        k, risk_aversion=1.0, covariance=est, weighting="min_variance", seed=0
                    ).fit(X, expected_returns=np.zeros(X.shape[1]))
                    r = hold.to_numpy()
                    pieces["all_20"].append(pd.Series(r @ min_variance_weights(cov), hold.index))
                    pieces[f"qubo_k{k}"].append(pd.Series(r @ sel.weights_, hold.index))
                for universe, parts in pieces.items():
                    r = pd.concat(parts)
                    rows.append(
                        {
                            "window": window,
                            "rule": rule,
                            "universe": universe,
                            "estimator": name,
                            "vol_2000_2022": _vol(r),
                            "vol_2000_2012": _vol(r[:SPLIT]),
                            "vol_2013_2022": _vol(r[SPLIT:]),
                            "mean_shrinkage": float(np.mean(intensities)),
                        }
                    )
    return pd.DataFrame(rows), tuned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, nargs="+", default=[60, 126])
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    data = load_sp500()
    embeddings = TextEncoder().encode(asset_texts(data.descriptions, data.tickers))
    table, tuned = run(data.prices, embeddings, args.windows, args.k)
    gains = []
    for (window, rule, universe), group in table.groupby(["window", "rule", "universe"]):
        g = group.set_index("estimator")
        classical = [c for c in CLASSICAL if c in g.index]
        periods = ("vol_2000_2022", "vol_2000_2012", "vol_2013_2022")
        for period in periods if rule == "analytic" else ("vol_2013_2022",):
            best = g.loc[classical, period].idxmin()
            for text in TEXT:
                gains.append(
                    {
                        "window": window,
                        "rule": rule,
                        "universe": universe,
                        "period": period,
                        "text_target": text,
                        "best_classical": best,
                        "relative_vol_change": float(g.loc[text, period] / g.loc[best, period] - 1),
                    }
                )
    gains = pd.DataFrame(gains)
    pd.set_option("display.width", 160)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("\nIntensities tuned on 2000-2012:", json.dumps(tuned))
    print("\nText target against the best classical target (negative = lower volatility):")
    print(gains.to_string(index=False, float_format=lambda v: f"{v:+.2%}"))
    OUT.mkdir(exist_ok=True)
    report = {
        "command": "python benchmarks/finance_covariance.py --windows "
        + " ".join(map(str, args.windows))
        + f" --k {args.k}",
        "machine": f"{platform.machine()}, python {platform.python_version()}",
        "seconds": time.perf_counter() - started,
        "tuned_shrinkage": tuned,
        "table": table.to_dict(orient="records"),
        "text_vs_best_classical": gains.to_dict(orient="records"),
    }
    (OUT / "finance_covariance.json").write_text(json.dumps(report, indent=2))
    print(f"\n{report['seconds']:.0f} s; wrote {OUT / 'finance_covariance.json'}")


if __name__ == "__main__":
    main()

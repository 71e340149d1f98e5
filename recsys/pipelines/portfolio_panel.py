"""What every decision of a walk-forward backtest reads, computed once from the prices.

Features, labels and volatilities at every month end, the daily returns, the rebalance dates
that have enough history, and the per-date seeds, so that the engine, the scorer and any sweep
over selection settings see exactly the same panel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from qanneal_llm.solvers import seed_stream
from recsys.features import (
    FEATURES,
    forward_returns,
    month_ends,
    price_features,
    standardise_by_date,
)
from recsys.pipelines.portfolio_config import BacktestConfig

__all__ = ["Panel", "build_panel", "decision_seed"]


def decision_seed(seed: int, date: pd.Timestamp, salt: int) -> int:
    """A seed that depends only on the run seed and the date, so a decision does not change
    when the backtest window around it does."""
    return int(seed_stream([seed, date.toordinal(), salt], 1)[0])


@dataclass
class Panel:
    """What every decision of a backtest reads, computed once from the prices."""

    tickers: list[str]
    position: dict  # month end -> its row in ``features``/``labels``
    features: np.ndarray  # (month ends, assets, FEATURES), standardised per date
    complete: np.ndarray  # month ends whose features are all finite
    labels: np.ndarray  # next-month returns (month ends, assets)
    raw_vol: pd.DataFrame  # unstandardised 252-day volatility (month ends x assets)
    daily: pd.DataFrame  # daily simple returns
    dates: pd.DatetimeIndex  # the rebalance dates, then the last date held to


def build_panel(prices: pd.DataFrame, config: BacktestConfig) -> Panel:
    tickers = list(prices.columns)
    all_ends = month_ends(prices.index)
    raw = price_features(prices, all_ends)
    cube = standardise_by_date(raw).to_numpy().reshape(len(all_ends), len(tickers), len(FEATURES))
    complete = np.isfinite(cube).all(axis=(1, 2))
    position = {d: i for i, d in enumerate(all_ends)}
    first_ok = np.argmax(complete) if complete.any() else len(all_ends)
    dates = month_ends(prices.index, config.start, config.end)
    dates = dates[[position[d] >= first_ok + config.min_train_months for d in dates]]
    dates = dates[[prices.index.get_loc(d) >= config.lookback for d in dates]]
    if len(dates) < 2:
        raise ValueError(
            f"fewer than 2 month ends in {config.start}..{config.end} have a full year of"
            f" features and {config.min_train_months} training months before them; start later"
            " or supply earlier prices"
        )
    return Panel(
        tickers=tickers,
        position=position,
        features=cube,
        complete=complete,
        labels=forward_returns(prices, all_ends)[tickers].to_numpy(),
        raw_vol=raw["vol_252"].unstack()[tickers],
        daily=prices.pct_change(fill_method=None),
        dates=dates,
    )

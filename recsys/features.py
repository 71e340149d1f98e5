"""Per-asset features at rebalance dates, computed from past prices only.

Every feature at date ``t`` is a function of the prices on or before ``t`` (trailing windows,
never centred or full-sample statistics), so a backtest that decides at the close of ``t`` sees
exactly what a trader would have seen then. The one forward-looking quantity, the next-period
return that the ranking model learns to predict, lives in :func:`forward_returns` and is named as
a label so it cannot be mistaken for a feature.

Windows are in trading days: 21 (a month), 63 (a quarter), 126, 252 (a year). The 12-1 momentum
skips the last month because one-month returns tend to reverse (Jegadeesh 1990), which would
otherwise cancel part of the year's trend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "FEATURES",
    "forward_returns",
    "month_ends",
    "price_features",
    "standardise_by_date",
]

FEATURES = (
    "mom_21",
    "mom_63",
    "mom_126",
    "mom_252_21",
    "vol_63",
    "vol_252",
    "drawdown_252",
    "corr_mkt_252",
)


def _check_prices(prices) -> pd.DataFrame:
    if not isinstance(prices, pd.DataFrame) or not isinstance(prices.index, pd.DatetimeIndex):
        raise ValueError(
            "prices must be a pandas DataFrame with a DatetimeIndex (dates x tickers); load them"
            " with recsys.datasets.load_sp500 or load_prices_csv"
        )
    if not prices.index.is_monotonic_increasing or prices.index.has_duplicates:
        raise ValueError("prices' dates must be unique and increasing; sort and deduplicate them")
    values = prices.to_numpy(dtype=np.float64)
    if np.any(values[np.isfinite(values)] <= 0):
        raise ValueError("prices must be positive; found zero or negative prices")
    return prices.astype(np.float64)


def month_ends(index: pd.DatetimeIndex, start=None, end=None) -> pd.DatetimeIndex:
    """The last trading day of each calendar month in ``index`` within ``[start, end]``.

    >>> idx = pd.to_datetime(["2020-01-30", "2020-01-31", "2020-02-03", "2020-02-28"])
    >>> [d.strftime("%Y-%m-%d") for d in month_ends(idx)]
    ['2020-01-31', '2020-02-28']
    """
    index = pd.DatetimeIndex(index)
    last = pd.Series(index, index=index).groupby(index.to_period("M")).max()
    dates = pd.DatetimeIndex(last.to_numpy())
    if start is not None:
        dates = dates[dates >= pd.Timestamp(start)]
    if end is not None:
        dates = dates[dates <= pd.Timestamp(end)]
    return dates


def price_features(prices: pd.DataFrame, dates=None) -> pd.DataFrame:
    """Features of every asset at each of ``dates`` (default: all dates), past prices only.

    Returns a frame indexed by ``(date, asset)`` with the columns in :data:`FEATURES`. A value is
    NaN until its window is full or while the asset has missing prices in it; callers drop those
    rows. The market, for the correlation, is the equal-weight average of the assets' daily
    returns, so no outside index is needed and a user's own universe works as well.

    >>> idx = pd.bdate_range("2020-01-01", periods=300)
    >>> px = pd.DataFrame({"A": np.linspace(10, 20, 300), "B": np.linspace(20, 10, 300)}, idx)
    >>> f = price_features(px, idx[-1:])
    >>> bool(f.loc[(idx[-1], "A"), "mom_21"] > 0 > f.loc[(idx[-1], "B"), "mom_21"])
    True
    """
    prices = _check_prices(prices)
    dates = prices.index if dates is None else pd.DatetimeIndex(dates)
    missing = dates.difference(prices.index)
    if len(missing):
        raise ValueError(f"dates not in the price index, e.g. {missing[0].date()}; use its dates")
    daily = prices.pct_change(fill_method=None)
    market = daily.mean(axis=1, skipna=True)
    frames = {
        "mom_21": prices / prices.shift(21) - 1.0,
        "mom_63": prices / prices.shift(63) - 1.0,
        "mom_126": prices / prices.shift(126) - 1.0,
        "mom_252_21": prices.shift(21) / prices.shift(252) - 1.0,
        "vol_63": daily.rolling(63).std() * np.sqrt(252),
        "vol_252": daily.rolling(252).std() * np.sqrt(252),
        "drawdown_252": prices / prices.rolling(252).max() - 1.0,
        "corr_mkt_252": daily.rolling(252).corr(market),
    }
    stacked = {name: frame.loc[dates].stack(future_stack=True) for name, frame in frames.items()}
    out = pd.DataFrame(stacked, columns=list(FEATURES))
    out.index.names = ["date", "asset"]
    return out


def forward_returns(prices: pd.DataFrame, dates) -> pd.DataFrame:
    """The label: each asset's simple return from each date to the next one (dates x assets).

    The last date has no next date and gets NaN. The return from ``dates[i]`` to ``dates[i+1]``
    is known only at ``dates[i+1]``; a walk-forward trainer must use it no earlier.
    """
    prices = _check_prices(prices)
    at = prices.loc[pd.DatetimeIndex(dates)]
    return at.shift(-1) / at - 1.0


def standardise_by_date(frame: pd.DataFrame) -> pd.DataFrame:
    """Z-score each column across the assets of each date (the first index level).

    Ranking compares assets with each other on one date, so only cross-sectional differences
    matter; removing each date's mean and scale also keeps calm and turbulent years on one scale.
    A column that is constant on a date becomes zero there.
    """
    grouped = frame.groupby(level=0)
    centred = frame - grouped.transform("mean")
    std = grouped.transform("std", ddof=0)
    return (centred / std.where(std > 1e-12)).fillna(0.0).where(frame.notna())

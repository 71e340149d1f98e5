"""Daily prices of assets with a short text per asset, for the portfolio use case.

:func:`load_sp500` gives the 20 S&P 500 stocks shipped with skfolio (1990-01-02 to 2022-12-28)
and the descriptions in ``sp500_assets.json`` (company name, sector and a plain sentence or two
on the business), which are what the text encoder embeds. :func:`load_prices_csv` reads your
own prices with the same checks, since a gap or a zero price would silently turn into infinite
or missing returns further down.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["AssetData", "load_asset_descriptions", "load_prices_csv", "load_sp500"]

_FIELDS = ("name", "sector", "description")


@dataclass(frozen=True)
class AssetData:
    """Prices and descriptions of a set of assets.

    Attributes
    ----------
    prices : DataFrame
        Daily prices, indexed by a sorted, duplicate-free DatetimeIndex, one column per
        ticker; all values finite and positive.
    descriptions : dict
        ticker -> ``{"name": ..., "sector": ..., "description": ...}`` for every column.
    source : str
        Where the prices came from.
    """

    prices: pd.DataFrame
    descriptions: dict[str, dict[str, str]]
    source: str

    @property
    def tickers(self) -> list[str]:
        return list(self.prices.columns)

    def __repr__(self) -> str:
        span = f"{self.prices.index[0]:%Y-%m-%d} to {self.prices.index[-1]:%Y-%m-%d}"
        return f"AssetData({len(self.tickers)} assets, {len(self.prices)} days, {span})"


def load_asset_descriptions(path=None) -> dict[str, dict[str, str]]:
    """Read ticker descriptions from a JSON file (default: the packaged S&P 500 ones).

    The file maps each ticker to an object with non-empty ``name``, ``sector`` and
    ``description`` strings.

    Examples
    --------
    >>> load_asset_descriptions()["MSFT"]["sector"]
    'Information Technology'
    """
    if path is None:
        text = resources.files("recsys.datasets").joinpath("sp500_assets.json").read_text("utf-8")
        where = "sp500_assets.json"
    else:
        text = Path(path).read_text("utf-8")
        where = str(path)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where} is not valid JSON: {exc}") from None
    return _check_descriptions(raw, where)


def _check_descriptions(raw, where: str) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must map tickers to descriptions, got {type(raw).__name__}")
    out = {}
    for ticker, entry in raw.items():
        missing = [
            f for f in _FIELDS if not isinstance(entry, dict) or not str(entry.get(f) or "").strip()
        ]
        if missing:
            raise ValueError(
                f"{where}: {ticker!r} lacks {', '.join(missing)}; give each ticker non-empty"
                f" {', '.join(_FIELDS)}"
            )
        out[str(ticker)] = {f: str(entry[f]).strip() for f in _FIELDS}
    return out


def load_sp500(start=None, end=None) -> AssetData:
    """Daily prices of the 20 S&P 500 stocks shipped with skfolio, with their descriptions.

    Parameters
    ----------
    start, end : str or Timestamp, optional
        Keep dates in ``[start, end]`` (both inclusive).

    Examples
    --------
    >>> data = load_sp500(start="2020-01-01", end="2020-12-31")
    >>> data.prices.shape, data.descriptions["AAPL"]["name"]
    ((253, 20), 'Apple Inc.')
    """
    try:
        from skfolio.datasets import load_sp500_dataset
    except ImportError as exc:
        raise ImportError(
            "the S&P 500 prices ship with skfolio; install it with `pip install skfolio`"
            " (or the project's 'finance' extra)"
        ) from exc
    prices = load_sp500_dataset()
    prices.index = pd.DatetimeIndex(prices.index, name="date")
    prices = prices.loc[start:end]
    if prices.empty:
        raise ValueError(
            f"no prices between {start} and {end}; the data covers 1990-01-02 to 2022-12-28"
        )
    return _assemble(prices, load_asset_descriptions(), "skfolio.datasets.load_sp500_dataset")


def load_prices_csv(path, descriptions=None, *, require_descriptions=True) -> AssetData:
    """Read your own daily prices: a date column, then one column per ticker.

    The date column is the one named ``date`` (any case), else the first column.

    Parameters
    ----------
    path : path-like
        The CSV file.
    descriptions : path-like or dict, optional
        A JSON file (or dict) in the format of :func:`load_asset_descriptions`, covering every
        ticker in the CSV. Defaults to the packaged S&P 500 descriptions.
    require_descriptions : bool, default True
        False keeps tickers that have no description (they are then absent from
        ``AssetData.descriptions``): for uses that need neither texts nor sectors.

    Raises
    ------
    ValueError
        For missing or non-numeric prices, non-positive prices, duplicate or unsorted dates,
        and tickers without a description; the message names the offending cells.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} does not read as a CSV file: {exc}") from None
    if frame.empty:
        raise ValueError(f"{path} has no price rows; give one row per date")
    if frame.shape[1] < 2:
        raise ValueError(f"{path} needs a date column and at least one ticker column")
    named = [c for c in frame.columns if str(c).strip().lower() == "date"]
    date_col = named[0] if named else frame.columns[0]
    try:
        dates = pd.to_datetime(frame.pop(date_col), format="mixed")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: column {date_col!r} does not parse as dates: {exc}") from None
    frame.index = pd.DatetimeIndex(dates, name="date")
    if isinstance(descriptions, dict):
        descriptions = _check_descriptions(descriptions, "descriptions")
    else:
        descriptions = load_asset_descriptions(descriptions)
    return _assemble(frame, descriptions, str(path), require_descriptions)


def _assemble(prices: pd.DataFrame, descriptions: dict, source: str, require=True) -> AssetData:
    prices = prices.copy()
    prices.columns = [str(c).strip() for c in prices.columns]
    dupes = prices.index[prices.index.duplicated()]
    if len(dupes):
        raise ValueError(
            f"{source}: duplicate dates {[f'{d:%Y-%m-%d}' for d in dupes[:5]]}; keep one row per"
            " date"
        )
    if not prices.index.is_monotonic_increasing:
        bad = int(np.argmax(np.diff(prices.index.asi8) < 0)) + 1
        raise ValueError(
            f"{source}: dates are not sorted ({prices.index[bad - 1]:%Y-%m-%d} is followed by"
            f" {prices.index[bad]:%Y-%m-%d}); sort the rows by date"
        )
    for ticker in prices.columns:
        column = pd.to_numeric(prices[ticker], errors="coerce")
        text_bad = column.isna() & prices[ticker].notna()
        if text_bad.any():
            raise ValueError(
                f"{source}: {ticker} has a non-numeric price {prices[ticker][text_bad].iloc[0]!r}"
                f" on {column.index[text_bad][0]:%Y-%m-%d}"
            )
        if column.isna().any():
            raise ValueError(
                f"{source}: {ticker} has {int(column.isna().sum())} missing prices (first on"
                f" {column.index[column.isna()][0]:%Y-%m-%d}); fill or drop those dates, or"
                " drop the ticker"
            )
        if (column <= 0).any():
            raise ValueError(
                f"{source}: {ticker} has a non-positive price {column[column <= 0].iloc[0]} on"
                f" {column.index[column <= 0][0]:%Y-%m-%d}; prices must be positive"
            )
        prices[ticker] = column.astype(np.float64)
    lacking = [t for t in prices.columns if t not in descriptions]
    if lacking and require:
        raise ValueError(
            f"no description for {lacking}; pass descriptions= a JSON file mapping each ticker to"
            f" {{{', '.join(repr(f) for f in _FIELDS)}}}"
        )
    described = {t: descriptions[t] for t in prices.columns if t in descriptions}
    return AssetData(prices, described, source)

"""The two datasets of qanneal-llm's use cases, as canonical pandas tables.

* :func:`load_movielens`: MovieLens-100k ratings, movies and users, from a local copy, the
  project cache, GroupLens or the copy inside the RecBole wheel, verified by checksum.
* :func:`load_sp500`: daily prices of 20 S&P 500 stocks shipped with skfolio, with a short
  factual description of each company; :func:`load_prices_csv` reads your own prices.
"""

from recsys.datasets.movielens import GENRES, DatasetUnavailableError, MovieLens, load_movielens
from recsys.datasets.sp500 import AssetData, load_asset_descriptions, load_prices_csv, load_sp500

__all__ = [
    "GENRES",
    "AssetData",
    "DatasetUnavailableError",
    "MovieLens",
    "load_asset_descriptions",
    "load_movielens",
    "load_prices_csv",
    "load_sp500",
]

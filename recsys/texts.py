"""The strings the text encoder sees, built in one place so every pipeline embeds the same text.

Sentence encoders were trained on natural sentences, so the builders write short plain sentences
rather than ``key=value`` dumps, and restore the natural word order of MovieLens titles stored
as "Usual Suspects, The".

Examples
--------
>>> item_text({"title": "Usual Suspects, The", "year": 1995, "genres": ("Crime", "Thriller")})
'The Usual Suspects (1995). Genres: Crime, Thriller.'
>>> user_text({"age": 24, "gender": "M", "occupation": "technician"}, ["Toy Story (1995)"])
'A 24-year-old man, occupation: technician. Movies they rated highest: Toy Story (1995).'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd

__all__ = [
    "asset_text",
    "asset_texts",
    "display_title",
    "item_text",
    "item_texts",
    "user_text",
    "user_texts",
]

_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<article>The|A|An|Les|La|Le|Il|El|Die|Der|Das)$")
_GENDER = {"M": "man", "F": "woman"}


def display_title(title: str, year=None) -> str:
    """A title as people write it, with the year in brackets when known.

    >>> display_title("Misérables, Les", 1995)
    'Les Misérables (1995)'
    """
    title = str(title).strip()
    match = _TRAILING_ARTICLE.match(title)
    if match:
        title = f"{match['article']} {match['rest']}"
    if year is not None and not pd.isna(year):
        title = f"{title} ({int(year)})"
    return title


def item_text(row) -> str:
    """A movie as one sentence: title, year and genres (a row of ``MovieLens.items``)."""
    text = display_title(row["title"], row["year"])
    genres = [g for g in row["genres"] if g != "unknown"]
    if genres:
        text += f". Genres: {', '.join(genres)}"
    return text + "."


def item_texts(items: pd.DataFrame) -> list[str]:
    """:func:`item_text` of every row, in the order of ``items``."""
    return [item_text(row) for _, row in items.iterrows()]


def user_text(user_row, titles: Sequence[str]) -> str:
    """A user as who they are and which movies they liked most.

    Parameters
    ----------
    user_row : mapping
        ``age``, ``gender`` ("M"/"F") and ``occupation``, as in ``MovieLens.users``.
    titles : sequence of str
        Display titles of their favourite movies, best first; may be empty.
    """
    person = _GENDER.get(str(user_row["gender"]).upper(), "person")
    text = f"A {int(user_row['age'])}-year-old {person}, occupation: {user_row['occupation']}."
    if len(titles):
        text += f" Movies they rated highest: {'; '.join(titles)}."
    return text


def user_texts(ml, ratings: pd.DataFrame | None = None, max_titles: int = 20) -> dict[int, str]:
    """:func:`user_text` of every user of ``ml``, keyed by user id in the order of ``ml.users``.

    Parameters
    ----------
    ml : MovieLens
        Supplies the users and the item titles.
    ratings : DataFrame, optional
        The ratings to draw favourites from; defaults to all of ``ml.ratings``. Pass only the
        training split when evaluating, or test items leak into the profiles.
    max_titles : int
        Favourites per user: highest rating first, the most recent first among equal ratings.
        Users without ratings get the demographic sentence alone.
    """
    if isinstance(max_titles, bool) or not isinstance(max_titles, int) or max_titles < 0:
        raise ValueError(f"max_titles must be a non-negative integer, got {max_titles!r}")
    ratings = ml.ratings if ratings is None else ratings
    missing = {"user_id", "item_id", "rating", "timestamp"} - set(ratings.columns)
    if missing:
        raise ValueError(f"ratings lacks columns {sorted(missing)}; pass a slice of ml.ratings")
    names = {i: display_title(t, y) for i, t, y in ml.items[["title", "year"]].itertuples()}
    unknown = {int(i) for i in ratings["item_id"].unique()} - names.keys()
    if unknown:
        raise ValueError(f"ratings refer to items not in ml.items, e.g. {sorted(unknown)[:5]}")
    best = ratings.sort_values(
        ["user_id", "rating", "timestamp"], ascending=[True, False, False], kind="stable"
    )
    favourites = best.groupby("user_id", sort=False).head(max_titles)
    titles = favourites.groupby("user_id", sort=False)["item_id"].agg(
        lambda ids: [names[i] for i in ids]
    )
    return {
        int(uid): user_text(row, titles.get(uid, []))
        for uid, row in zip(ml.users.index, ml.users.to_dict("records"), strict=True)
    }


def asset_text(ticker: str, description: Mapping[str, str]) -> str:
    """An asset as its name, ticker, sector and what the business does.

    >>> asset_text("KO", {"name": "The Coca-Cola Company", "sector": "Consumer Staples",
    ...                   "description": "Makes soft drinks."})
    'The Coca-Cola Company (KO), Consumer Staples sector. Makes soft drinks.'
    """
    return (
        f"{description['name']} ({ticker}), {description['sector']} sector. "
        + (description["description"])
    )


def asset_texts(descriptions: Mapping[str, Mapping[str, str]], tickers: Sequence[str]) -> list[str]:
    """:func:`asset_text` of each ticker, in the order given (e.g. ``AssetData.tickers``)."""
    lacking = [t for t in tickers if t not in descriptions]
    if lacking:
        raise ValueError(
            f"no description for {lacking}; add name, sector and description for each ticker"
        )
    return [asset_text(t, descriptions[t]) for t in tickers]

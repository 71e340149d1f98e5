"""Text builders: what the encoder sees for items, users and assets."""

import pandas as pd
import pytest

from recsys.datasets import MovieLens, load_asset_descriptions
from recsys.texts import (
    asset_text,
    asset_texts,
    display_title,
    item_text,
    item_texts,
    user_text,
    user_texts,
)


@pytest.fixture
def ml():
    items = pd.DataFrame(
        {
            "title": ["Usual Suspects, The", "Toy Story", "unknown", "Misérables, Les"],
            "year": pd.array([1995, 1995, None, 1995], dtype="Int64"),
            "genres": [("Crime", "Thriller"), ("Animation", "Comedy"), ("unknown",), ()],
        },
        index=pd.Index([10, 20, 30, 40], name="item_id"),
    )
    users = pd.DataFrame(
        {
            "age": [24, 53, 30],
            "gender": ["M", "F", "F"],
            "occupation": ["technician", "other", "writer"],
            "zip_code": ["85711", "94043", "32067"],
        },
        index=pd.Index([1, 2, 3], name="user_id"),
    )
    ratings = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2],
            "item_id": [10, 20, 40, 20, 30],
            "rating": [3.0, 5.0, 5.0, 1.0, 4.0],
            "timestamp": [100, 200, 300, 100, 200],
        }
    )
    return MovieLens(ratings, items, users, "test")


def test_item_text_has_title_year_and_genres(ml):
    texts = item_texts(ml.items)
    assert texts[0] == "The Usual Suspects (1995). Genres: Crime, Thriller."
    assert texts[1] == "Toy Story (1995). Genres: Animation, Comedy."
    assert texts[2] == "unknown."  # no year, and the placeholder genre is not a genre
    assert texts[3] == "Les Misérables (1995)."
    assert item_text(ml.items.loc[20]) == texts[1]


def test_display_title_only_moves_a_trailing_article():
    assert display_title("Postino, Il") == "Il Postino"
    assert display_title("Good, The Bad and The Ugly, The", 1966) == (
        "The Good, The Bad and The Ugly (1966)"
    )
    assert display_title("To Wong Foo, Thanks for Everything! Julie Newmar") == (
        "To Wong Foo, Thanks for Everything! Julie Newmar"
    )
    assert display_title("Heat", pd.NA) == "Heat"


def test_user_texts_rank_favourites_by_rating_then_recency(ml):
    texts = user_texts(ml)
    assert list(texts) == [1, 2, 3]
    assert texts[1] == (
        "A 24-year-old man, occupation: technician. Movies they rated highest: "
        "Les Misérables (1995); Toy Story (1995); The Usual Suspects (1995)."
    )
    assert texts[2].startswith("A 53-year-old woman, occupation: other. Movies they rated")
    assert texts[2].index("unknown") < texts[2].index("Toy Story")
    assert texts[3] == "A 30-year-old woman, occupation: writer."
    assert user_texts(ml, max_titles=1)[1].endswith("highest: Les Misérables (1995).")


def test_user_texts_use_only_the_ratings_given(ml):
    train = ml.ratings[ml.ratings["timestamp"] < 300]
    texts = user_texts(ml, ratings=train)
    assert "Misérables" not in texts[1] and "Toy Story" in texts[1]


def test_user_texts_reject_bad_input(ml):
    with pytest.raises(ValueError, match="max_titles"):
        user_texts(ml, max_titles=-1)
    with pytest.raises(ValueError, match="lacks columns"):
        user_texts(ml, ratings=ml.ratings.drop(columns="timestamp"))
    stray = pd.concat([ml.ratings, ml.ratings.iloc[:1].assign(item_id=99)])
    with pytest.raises(ValueError, match=r"not in ml.items, e.g. \[99\]"):
        user_texts(ml, ratings=stray)


def test_user_text_without_titles_and_unknown_gender():
    text = user_text({"age": 40, "gender": "X", "occupation": "none"}, [])
    assert text == "A 40-year-old person, occupation: none."


def test_asset_texts_follow_ticker_order_and_name_the_company():
    descriptions = load_asset_descriptions()
    tickers = ["XOM", "AAPL", "KO"]
    texts = asset_texts(descriptions, tickers)
    for ticker, text in zip(tickers, texts, strict=True):
        assert text == asset_text(ticker, descriptions[ticker])
        assert text.startswith(f"{descriptions[ticker]['name']} ({ticker}),")
        assert descriptions[ticker]["description"] in text
    with pytest.raises(ValueError, match=r"no description for \['ZZZ'\]"):
        asset_texts(descriptions, ["AAPL", "ZZZ"])

"""The split must match RecBole's protocol and never leak: disjoint parts, per-user 8:1:1 with
RecBole's rounding, reproducible by seed."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.splits import InteractionData, UnknownIdError, random_split, split_counts


def _ratings(counts, n_items=60, seed=0):
    """Ratings where user ``100 + u`` has ``counts[u]`` distinct items (raw ids are offset so
    index mapping is exercised)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u, c in enumerate(counts):
        for item in rng.choice(n_items, size=c, replace=False):
            rows.append(
                (100 + u, 1000 + int(item), int(rng.integers(1, 6)), int(rng.integers(1e9)))
            )
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def _pairs(df):
    return set(zip(df.user_id, df.item_id, strict=True))


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, [1, 0, 0]),
        (2, [1, 0, 1]),
        (3, [1, 1, 1]),
        (10, [8, 1, 1]),
        (20, [16, 2, 2]),
        (25, [21, 2, 2]),
        (29, [25, 2, 2]),
    ],
)
def test_split_counts_match_recbole_rounding(n, expected):
    assert split_counts(n, (0.8, 0.1, 0.1)) == expected


@given(st.integers(0, 500))
def test_split_counts_partition_every_interaction(n):
    cnt = split_counts(n, (0.8, 0.1, 0.1))
    assert sum(cnt) == n and min(cnt) >= 0
    if n:
        assert cnt[0] >= 1


def test_split_is_disjoint_complete_and_per_user_8_1_1():
    counts = [20, 10, 3, 1, 25, 7]
    ratings = _ratings(counts)
    split = random_split(ratings, seed=3)
    train, valid, test = _pairs(split.train), _pairs(split.valid), _pairs(split.test)
    assert not (train & valid) and not (train & test) and not (valid & test)
    assert train | valid | test == _pairs(ratings)
    for u, c in enumerate(counts):
        sizes = [
            int((part.user_id == 100 + u).sum()) for part in (split.train, split.valid, split.test)
        ]
        assert sizes == split_counts(c, (0.8, 0.1, 0.1))
    assert list(split.train.columns) == ["user_id", "item_id", "rating", "timestamp"]


def test_split_is_deterministic_by_seed():
    ratings = _ratings([30] * 8)
    a, b, c = (random_split(ratings, seed=s) for s in (7, 7, 8))
    assert _pairs(a.test) == _pairs(b.test) and _pairs(a.valid) == _pairs(b.valid)
    assert _pairs(a.test) != _pairs(c.test)


def test_matrices_and_seen_masks():
    split = random_split(_ratings([20, 12, 9]), seed=0)
    train, valid, test = (split.matrix(p) for p in ("train", "valid", "test"))
    assert train.shape == (split.data.n_users, split.data.n_items) == (3, split.data.n_items)
    assert set(np.unique(train.data)) == {1.0}
    assert train.nnz == len(split.train) and test.nnz == len(split.test)
    assert (split.seen("valid") != train).nnz == 0
    assert (split.seen("test") != (train + valid)).nnz == 0
    assert split.seen("test").multiply(test).nnz == 0
    with pytest.raises(ValueError, match="part"):
        split.seen("train")
    with pytest.raises(ValueError, match="part"):
        split.matrix("holdout")


def test_interaction_data_maps_and_rejects_unknown_ids():
    data = InteractionData.from_ratings(pd.DataFrame({"user_id": [5, 3, 5], "item_id": [9, 2, 4]}))
    assert data.n_users == 2 and data.n_items == 3
    assert data.user_ids.tolist() == [3, 5]
    assert data.item_index([2, 9]).tolist() == [0, 2]
    with pytest.raises(UnknownIdError, match="unknown item id"):
        data.item_index([4, 77])
    with pytest.raises(KeyError):
        data.user_index([4])
    with pytest.raises(ValueError):
        data.user_index([4])


def test_bad_inputs_are_refused():
    ratings = _ratings([5, 5])
    with pytest.raises(ValueError, match="duplicate"):
        random_split(pd.concat([ratings, ratings.iloc[:1]]))
    with pytest.raises(ValueError, match="lacks column"):
        random_split(ratings.rename(columns={"user_id": "user"}))
    with pytest.raises(ValueError, match="ratios"):
        random_split(ratings, ratios=(0.8, 0.2))
    with pytest.raises(ValueError, match="integer ids"):
        random_split(ratings.astype({"item_id": float}))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=8), st.integers(0, 2**31))
def test_split_property_partition_and_sizes(counts, seed):
    ratings = _ratings(counts, n_items=40, seed=seed % 1000)
    split = random_split(ratings, seed=seed)
    assert len(split.train) + len(split.valid) + len(split.test) == len(ratings)
    per_user = split.test.groupby("user_id").size()
    for u, c in enumerate(counts):
        assert per_user.get(100 + u, 0) == split_counts(c, (0.8, 0.1, 0.1))[2]

"""ColdStartFeatures and the cold-start protocol splits, on small synthetic catalogues."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from qanneal_llm import ColdStartFeatures
from recsys.coldstart.splits import cold_item_split, cold_user_split

GENRES = ["space war", "love story", "haunted house", "cowboy town", "kids cartoon", "spy chase"]


class HashingEncoder:
    """Character n-gram hashing: a real, deterministic text featuriser that needs no model."""

    def __init__(self):
        self.vectorizer = HashingVectorizer(n_features=64, analyzer="char_wb", ngram_range=(2, 3))

    def encode(self, texts):
        return self.vectorizer.transform(list(texts)).toarray().astype(np.float32)


def _catalogue(n_items=60, n_users=80, seed=0):
    """Items of six kinds; each user likes two kinds, so kind drives the interactions."""
    rng = np.random.default_rng(seed)
    kind = np.arange(n_items) % len(GENRES)
    texts = [f"{GENRES[g]} number {i}" for i, g in enumerate(kind)]
    taste = np.array([rng.choice(len(GENRES), 2, replace=False) for _ in range(n_users)])
    likes = (kind[None, :] == taste[:, :1]) | (kind[None, :] == taste[:, 1:])
    R = sp.csr_matrix((likes & (rng.random((n_users, n_items)) < 0.6)).astype(float))
    return texts, R, kind


def test_fit_transform_shapes_and_cold_items():
    texts, R, _ = _catalogue()
    R = R.tolil()
    R[:, 50:] = 0  # ten cold items
    est = ColdStartFeatures(n_features=8, encoder=HashingEncoder(), n_components=12, seed=0)
    est.fit(texts, R.tocsr())
    assert est.transform(texts).shape == (60, 8)
    assert est.transform(["space war sequel", "a new cowboy town"]).shape == (2, 8)
    assert est.warm_.sum() == 50 and not est.warm_[50:].any()
    assert est.selected_.shape == (8,) and np.all(np.diff(est.selected_) > 0)
    assert len(est.get_feature_names_out()) == 8
    assert len(est.candidate_names_) >= 8 and est.result_.feasible
    assert np.all(est.weights_ >= 0) and np.all(np.isfinite(est.transform(texts)))


def test_cold_items_texts_and_zero_columns_do_not_change_the_fit():
    texts, R, _ = _catalogue()
    R = R.tolil()
    R[:, 50:] = 0
    R = R.tocsr()
    other = texts[:50] + [f"something else entirely {i}" for i in range(10)]
    kw = dict(n_features=6, encoder=HashingEncoder(), n_components=10, solver="anneal", seed=3)
    a = ColdStartFeatures(**kw).fit(texts, R)
    b = ColdStartFeatures(**kw).fit(other, R)
    assert a.selected_.tolist() == b.selected_.tolist()
    np.testing.assert_allclose(a.transform(texts[:50]), b.transform(texts[:50]), atol=1e-9)


def test_features_carry_the_collaborative_signal_to_cold_items():
    texts, R, kind = _catalogue(n_items=90, n_users=150)
    R = R.tolil()
    R[:, 72:] = 0
    est = ColdStartFeatures(n_features=6, encoder=HashingEncoder(), n_components=16, seed=0)
    F = est.fit(texts, R.tocsr()).transform(texts)
    unit = F / np.linalg.norm(F, axis=1, keepdims=True)
    sim = unit[72:] @ unit[:72].T  # cold vs warm
    nearest = kind[:72][np.argmax(sim, axis=1)]
    assert np.mean(nearest == kind[72:]) >= 0.8


def test_dataframe_texts_with_metadata():
    texts, R, kind = _catalogue()
    frame = pd.DataFrame({"text": texts, "kind": kind.astype(float), "flag": kind == 2})
    est = ColdStartFeatures(n_features=5, encoder=HashingEncoder(), n_components=6)
    est.fit(frame, R)
    assert any(n.startswith("meta:") for n in est.candidate_names_)
    assert est.transform(frame.iloc[:3]).shape == (3, 5)
    with pytest.raises(ValueError, match="views"):
        est.transform(texts)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("shape", "item columns"),
        ("too_many", "exceeds the"),
        ("nan", "NaN"),
        ("nan_meta", "NaN"),
        ("no_warm", "warm items"),
        ("bad_k", "n_features"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(change, message):
    texts, R, kind = _catalogue()
    n_features, data = 4, texts
    if change == "shape":
        R = R[:, :-1]
    elif change == "too_many":
        n_features = 10_000
    elif change == "nan":
        R = R.astype(float).tolil()
        R[0, 0] = np.nan
        R = R.tocsr()
    elif change == "nan_meta":
        data = pd.DataFrame({"text": texts, "year": np.where(kind == 1, np.nan, 1990.0)})
    elif change == "no_warm":
        R = sp.csr_matrix(R.shape)
    elif change == "bad_k":
        n_features = 0
    est = ColdStartFeatures(n_features=n_features, encoder=HashingEncoder(), n_components=6)
    with pytest.raises(ValueError, match=message):
        est.fit(data, R)


def _ratings(n_users=40, n_items=50, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < 0.3
    u, i = np.nonzero(mask)
    return pd.DataFrame({"user_id": u + 1, "item_id": i + 1, "rating": 4, "timestamp": 0})


def test_cold_item_split_leaks_no_cold_interaction_into_fit():
    split = cold_item_split(_ratings(), fractions=(0.1, 0.2), seed=5)
    parts = [split.train_items, split.valid_items, split.test_items]
    assert sum(p.size for p in parts) == split.data.n_items
    assert np.unique(np.concatenate(parts)).size == split.data.n_items
    for part in ("valid", "test"):
        warm, cold = split.stage(part)
        fit = split.fit_matrix(part)
        assert fit[:, cold].nnz == 0
        assert (fit[:, warm] != split.matrix[:, warm]).nnz == 0
    assert np.intersect1d(split.stage("test")[0], split.test_items).size == 0


def test_cold_user_split_keeps_answers_and_truth_apart():
    split = cold_user_split(_ratings(), fractions=(0.1, 0.2), seed=2)
    held = np.concatenate([split.valid_users, split.test_users])
    assert split.answers.multiply(split.truth).nnz == 0
    both = split.answers + split.truth
    assert (both[held] != split.matrix[held]).nnz == 0
    for part in ("valid", "test"):
        warm, cold = split.stage(part)
        assert split.warm_matrix(part)[cold].nnz == 0
        assert np.intersect1d(warm, cold).size == 0
    assert np.setdiff1d(np.flatnonzero(split.answers.getnnz(axis=1)), held).size == 0


def test_onboarding_strategies_and_ranking_from_answers():
    from recsys.coldstart.users import (
        greedy_coverage,
        most_popular,
        qubo_onboarding,
        random_items,
        rank_after_onboarding,
    )

    texts, R, kind = _catalogue(n_items=60, n_users=120)
    W = R.tolil()
    W[100:] = 0  # users 100.. are cold
    W = W.tocsr()
    vectors = HashingEncoder().encode(texts)
    pop = np.asarray(W.sum(axis=0)).ravel()
    assert set(most_popular(W, 5)) == set(np.argsort(-pop, kind="stable")[:5])
    assert len(set(random_items(W, 5, seed=1))) == 5
    cover = greedy_coverage(W, 5)
    assert cover.size == 5 and pop[cover[0]] > 0
    assert np.array_equal(qubo_onboarding(W, vectors, 5, diversity=0.0)[0], most_popular(W, 5))
    diverse, result = qubo_onboarding(W, vectors, 6, diversity=5.0, n_candidates=30)
    assert result.feasible and len(set(kind[diverse])) >= 4
    cold = np.arange(100, 120)
    answers = sp.csr_matrix(R.multiply(np.arange(60)[None, :] % 2 == 0))
    truth = sp.csr_matrix(R - answers)
    per_user = rank_after_onboarding(W, answers, truth, cold, cover, k=10)
    assert np.all((per_user["ndcg"] >= 0) & (per_user["ndcg"] <= 1))
    assert per_user["revealed"].max() <= 5


def test_cold_protocols_run_end_to_end_on_a_small_catalogue():
    from types import SimpleNamespace

    from recsys.coldstart.protocol import ColdConfig, run_cold_items, run_cold_users

    texts, R, kind = _catalogue(n_items=60, n_users=100, seed=3)
    u, i = R.nonzero()
    ratings = pd.DataFrame({"user_id": u + 1, "item_id": i + 1, "rating": 4, "timestamp": 0})
    items = pd.DataFrame(
        {
            "title": texts,
            "year": 1990 + kind,
            "genres": [(GENRES[g].split()[0].title(),) for g in kind],
        },
        index=pd.Index(np.arange(1, 61), name="item_id"),
    )
    ml = SimpleNamespace(ratings=ratings, items=items)
    config = ColdConfig(
        n_features=8,
        k=5,
        n_candidates=8,
        head_grid=[{"epochs": 2}],
        feature_grid=[{"neighbors": None}],
        onboarding_grid=[{"diversity": 0.1, "collaborative": 0.0}],
    )
    report = run_cold_items(ml, HashingEncoder(), config)
    assert {"knn_cbf_all", "knn_cbf_coldstart_features", "content_head+qubo_slate"} <= set(
        report["metrics"]
    )
    assert report["data"]["test_items"] == 12 and report["coldstart_features"]["feasible"]
    for metrics in report["metrics"].values():  # measured, not placeholders
        assert 0 <= metrics["ndcg"] <= 1
    users = run_cold_users(ml, HashingEncoder(), config)
    assert set(users["metrics"]) == {"qubo", "most_popular", "random", "greedy_coverage"}
    assert all(len(s) == 5 for s in users["slates"].values())
    assert all(0 <= m["ndcg"] <= 1 for m in users["metrics"].values())
    assert users["metrics"]["most_popular"]["ndcg"] > 0  # the ranking finds held-out items


def test_feature_bank_fit_transform_encodes_once_and_matches_fit_then_transform():
    from qanneal_llm.feature_bank import TextFeatureBank

    class Counting(HashingEncoder):
        def __init__(self):
            super().__init__()
            self.texts_encoded = 0

        def encode(self, texts):
            self.texts_encoded += len(texts)
            return super().encode(texts)

    texts, _, _ = _catalogue()
    warm = np.arange(60) < 50
    enc = Counting()
    bank = TextFeatureBank(enc, n_components=12, attributes=("a war story",))
    once = bank.fit_transform(texts, reference=warm)
    assert enc.texts_encoded == 60 + 1  # the items and the one prompt, each encoded once
    expected = TextFeatureBank(HashingEncoder(), 12, ("a war story",)).fit(texts, warm)
    np.testing.assert_array_equal(once, expected.transform(texts))
    np.testing.assert_array_equal(once, bank.transform(texts))
    _, R, _ = _catalogue()
    enc = Counting()
    ColdStartFeatures(n_features=6, encoder=enc, n_components=10).fit(texts, R)
    assert enc.texts_encoded == 60  # ColdStartFeatures.fit encodes the catalogue once

"""Metrics against hand-computed cases and RecBole's definitions, plus invariants."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from recsys import metrics as M
from recsys.splits import random_split


def _csr(rows, n_items):
    """Sparse binary matrix from a list of per-user item lists."""
    r = [u for u, items in enumerate(rows) for _ in items]
    c = [i for items in rows for i in items]
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(rows), n_items))


# --- top-k -----------------------------------------------------------------------------------


def test_topk_excludes_masked_items_and_breaks_ties_by_index():
    scores = np.array([[1.0, 1.0, 1.0, 1.0, 0.0], [0.0, 5.0, 5.0, 1.0, 5.0]])
    top = M.topk_from_scores(scores, _csr([[1], [2]], 5), k=3)
    assert top.tolist() == [[0, 2, 3], [1, 4, 3]]


def test_stored_zeros_are_not_interactions():
    exclude = sp.csr_matrix((np.array([0.0, 1.0]), ([0, 0], [0, 1])), shape=(1, 3))
    assert M.topk_from_scores(np.array([[3.0, 2.0, 1.0]]), exclude, k=2).tolist() == [[0, 2]]
    truth = sp.csr_matrix((np.array([0.0, 1.0]), ([0, 0], [1, 2])), shape=(1, 3))
    assert M.ranking_metrics(np.array([[2]]), truth, k=1)["recall"] == 1.0


def test_topk_refuses_too_few_rankable_items_and_nan():
    with pytest.raises(ValueError, match="rankable"):
        M.topk_from_scores(np.ones((1, 3)), _csr([[0, 1]], 3), k=2)
    with pytest.raises(ValueError, match="NaN"):
        M.topk_from_scores(np.array([[np.nan, 1.0]]), None, k=1)
    with pytest.raises(ValueError, match="exceeds"):
        M.topk_from_scores(np.ones((1, 3)), None, k=4)
    with pytest.raises(ValueError, match="shape"):
        M.topk_from_scores(np.ones((2, 3)), _csr([[0]], 3), k=1)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, (4, 12), elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, -3.0])),
    hnp.arrays(bool, (4, 12), elements=st.booleans()),
    st.integers(1, 5),
)
def test_topk_equals_stable_sort_reference(scores, mask, k):
    mask[:, :6] = False  # keep at least 6 rankable items per row
    exclude = sp.csr_matrix(mask.astype(float))
    top = M.topk_from_scores(scores, exclude, k=k)
    masked = np.where(mask, -np.inf, scores)
    reference = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    assert np.array_equal(top, reference)
    assert not mask[np.arange(4)[:, None], top].any()


# --- ranking metrics -------------------------------------------------------------------------


def test_ranking_metrics_hand_computed():
    # User 0: hit at rank 2 of 3, |truth| = 2. User 1: no truth, ignored. User 2: hits at 1 and 3.
    top = np.array([[0, 1, 2], [0, 1, 2], [4, 0, 3]])
    truth = _csr([[1, 5], [], [4, 3, 5, 6]], 7)
    per = M.per_user_ranking_metrics(top, truth, k=3)
    d = [1 / math.log2(i + 2) for i in range(3)]
    assert per["users"].tolist() == [0, 2]
    np.testing.assert_allclose(per["ndcg"], [d[1] / (d[0] + d[1]), (d[0] + d[2]) / sum(d)])
    np.testing.assert_allclose(per["recall"], [1 / 2, 2 / 4])
    np.testing.assert_allclose(per["mrr"], [1 / 2, 1.0])
    np.testing.assert_allclose(per["hit"], [1.0, 1.0])
    np.testing.assert_allclose(per["precision"], [1 / 3, 2 / 3])
    summary = M.ranking_metrics(top, truth, k=3)
    assert summary == pytest.approx({n: per[n].mean() for n in M.RANKING_METRICS})


def test_ranking_metrics_use_only_first_k_columns_and_reject_duplicates():
    truth = _csr([[3]], 5)
    assert M.ranking_metrics(np.array([[0, 1, 3]]), truth, k=2)["hit"] == 0.0
    with pytest.raises(ValueError, match="repeats"):
        M.ranking_metrics(np.array([[1, 1]]), truth, k=2)
    with pytest.raises(ValueError, match="columns"):
        M.ranking_metrics(np.array([[1, 2]]), truth, k=3)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_ranking_metric_invariants(data):
    n_items, k = 15, 5
    rows = data.draw(
        st.lists(st.sets(st.integers(0, n_items - 1), min_size=1), min_size=1, max_size=6)
    )
    truth = _csr([sorted(r) for r in rows], n_items)
    top = np.array([data.draw(st.permutations(range(n_items)))[:k] for _ in rows])
    per = M.per_user_ranking_metrics(top, truth, k=k)
    for name in M.RANKING_METRICS:
        assert np.all((per[name] >= 0) & (per[name] <= 1 + 1e-12))
    assert np.all(per["recall"] <= per["hit"]) and np.all(per["mrr"] <= per["hit"])
    # Ranking the truth first is ideal.
    ideal = np.array([(sorted(r) + [i for i in range(n_items) if i not in r])[:k] for r in rows])
    np.testing.assert_allclose(M.per_user_ranking_metrics(ideal, truth, k=k)["ndcg"], 1.0)


# --- beyond accuracy -------------------------------------------------------------------------


def test_ild_coverage_novelty_hand_computed():
    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, 0.0]])
    assert M.ild(np.array([[0, 1]]), vectors) == pytest.approx(1.0)
    assert M.ild(np.array([[0, 3]]), vectors) == pytest.approx(0.0)
    assert M.ild(np.array([[0, 1, 2]]), vectors) == pytest.approx((1 + 2 * (1 - 0.5**0.5)) / 3)
    assert M.coverage(np.array([[0, 1], [1, 2]]), 4) == 0.75
    assert M.novelty(np.array([[0, 1]]), np.array([0.5, 0.25, 1.0, 1.0])) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="zeros"):
        M.ild(np.array([[0, 1]]), np.array([[0.0, 0.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="infinite"):
        M.novelty(np.array([[0]]), np.array([0.0]))


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, (8, 3), elements=st.floats(0.1, 1.0)), st.integers(2, 6))
def test_ild_matches_brute_force(vectors, k):
    top = np.array([np.arange(k), np.arange(8 - k, 8)])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    brute = np.mean(
        [
            np.mean([1 - unit[a] @ unit[b] for i, a in enumerate(row) for b in row[i + 1 :]])
            for row in top
        ]
    )
    assert M.ild(top, vectors) == pytest.approx(brute, abs=1e-9)


def _tiny_split():
    rng = np.random.default_rng(0)
    rows = [(u, int(i), 4, 0) for u in range(6) for i in rng.choice(12, 10, replace=False)]
    return random_split(pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"]))


def test_evaluate_bundles_metrics_and_refuses_leaks():
    split = _tiny_split()
    scores = np.random.default_rng(1).random((6, 12))
    top = M.topk_from_scores(scores, split.seen("test"), k=2)
    result = M.evaluate(top, split, item_vectors=np.eye(12) + 0.1, k=2)
    assert set(result) == {*M.RANKING_METRICS, "coverage", "novelty", "ild", "n_users"}
    assert result["ndcg"] == pytest.approx(M.ranking_metrics(top, split.matrix("test"), 2)["ndcg"])
    leaky = M.topk_from_scores(scores, None, k=12)
    with pytest.raises(ValueError, match="leakage"):
        M.evaluate(leaky, split, k=12)
    valid_top = M.topk_from_scores(scores, split.seen("valid"), k=2)
    assert M.evaluate(valid_top, split, k=2, part="valid")["n_users"] == 6


# --- portfolio -------------------------------------------------------------------------------


def test_finance_hand_computed():
    r = np.array([0.10, -0.20, 0.05, 0.0])
    assert M.annualised_return(r, periods_per_year=4) == pytest.approx(1.1 * 0.8 * 1.05 - 1)
    assert M.annualised_volatility(r, periods_per_year=4) == pytest.approx(np.std(r, ddof=1) * 2)
    assert M.sharpe_ratio(r, periods_per_year=4) == pytest.approx(r.mean() / np.std(r, ddof=1) * 2)
    downside = np.sqrt((0.2**2) / 4)
    assert M.sortino_ratio(r, periods_per_year=4) == pytest.approx(r.mean() / downside * 2)
    assert M.max_drawdown(r) == pytest.approx(1 - 0.88 / 1.1)  # peak 1.1, trough 0.88
    assert M.cvar(np.arange(1, 101) / 100 - 0.5, alpha=0.95) == pytest.approx(0.47)
    assert math.isnan(M.sharpe_ratio([0.01, 0.01, 0.01]))
    summary = M.portfolio_summary(r, periods_per_year=4, turnover=0.3)
    assert summary["cvar_95"] == pytest.approx(0.2) and summary["turnover"] == 0.3


def test_sharpe_with_risk_free_rate_is_lower():
    r = np.random.default_rng(0).normal(0.001, 0.01, 500)
    assert M.sharpe_ratio(r, risk_free=0.05) < M.sharpe_ratio(r)


def test_turnover_one_way_and_drift():
    assert M.turnover([1.0, 0.0], [0.0, 1.0]) == 1.0
    assert M.turnover([[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [1.0, 0.0]]) == 0.25
    # Holding through a price move is no trade once weights are drifted.
    assert M.turnover([0.5, 0.5], [0.6, 0.4], returns=[0.2, -0.2]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same"):
        M.turnover([0.5, 0.5], [1.0, 0.0, 0.0])


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, st.integers(2, 60), elements=st.floats(-0.5, 0.5)))
def test_finance_invariants(r):
    # returns above -100% never lose everything, but 60 losses of 50% round to a drawdown of 1.0
    assert 0.0 <= M.max_drawdown(r) <= 1.0
    assert M.cvar(r) >= -r.mean() - 1e-12
    if np.std(r) > 1e-6:
        assert M.sharpe_ratio(3 * r) == pytest.approx(M.sharpe_ratio(r))

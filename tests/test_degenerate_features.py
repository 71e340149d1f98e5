"""Degenerate columns (constant, or negligible next to the others) are never selected while an
informative column is left, whichever builder, method or redundancy weight is used."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qanneal_llm import collaborative_feature_model, feature_model, solve
from qanneal_llm.estimators import QUBOFeatureSelector
from qanneal_llm.qubo.features import informative_columns, standardize

BUILDERS = ("correlation", "mutual_info", "conditional_mi", "collaborative")


def _build(builder, X, y, k, redundancy):
    if builder == "collaborative":
        rng = np.random.default_rng(1)
        C = rng.random((X.shape[0], X.shape[0]))
        return collaborative_feature_model(X, (C + C.T) / 2, k, redundancy=redundancy)
    return feature_model(X, y, k, method=builder, redundancy=redundancy)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    d=st.integers(2, 9),
    n_degenerate=st.integers(1, 6),
    k=st.integers(1, 9),
    builder=st.sampled_from(BUILDERS),
    redundancy=st.sampled_from([0.0, 1.0, 4.0]),
    kind=st.sampled_from(["constant", "tiny", "float32"]),
)
def test_no_builder_selects_a_degenerate_column_while_an_informative_one_is_left(
    seed, d, n_degenerate, k, builder, redundancy, kind
):
    rng = np.random.default_rng(seed)
    n = 40
    X = rng.normal(size=(n, d)).astype(np.float32).astype(np.float64)
    # at least one normal column stays: "tiny" is only negligible next to a wider column
    bad = rng.choice(d, size=min(n_degenerate, d - 1), replace=False)
    for col in bad:
        if kind == "constant":
            X[:, col] = rng.normal()
        elif kind == "tiny":  # MiniLM's dim 319: ~1e-8 values with ~2e-9 spread
            X[:, col] = 1e-8 + 2e-9 * rng.normal(size=n)
        else:  # a constant that went through float32 arithmetic
            X[:, col] = (np.float32(0.3) * np.ones(n, np.float32) / np.float32(3.0)) * 3
    y = X[:, 0] * 0.5 + rng.normal(size=n)
    k = min(k, d)
    model = _build(builder, X, y, k, redundancy)
    chosen = set(solve(model, "exact").indices)
    informative = set(np.flatnonzero(informative_columns(X)).tolist())
    assert informative.isdisjoint(bad)
    if len(informative) >= k:
        assert chosen <= informative
    else:
        assert informative <= chosen


def test_minilm_like_columns_are_flagged_and_standardised_to_zero():
    rng = np.random.default_rng(0)
    X = rng.normal(0, 0.05, size=(300, 6)).astype(np.float32)
    X[:, 1] = np.float32(0.0123)  # exactly constant
    X[:, 4] = (1e-8 + 2e-9 * rng.normal(size=300)).astype(np.float32)
    mask = informative_columns(X)
    assert mask.tolist() == [True, False, True, True, False, True]
    Z = standardize(X)
    assert np.all(Z[:, [1, 4]] == 0) and np.allclose(Z[:, mask].std(axis=0), 1)


def test_selector_keeps_all_informative_columns_when_k_exceeds_them():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=50), np.ones(50), rng.normal(size=50), np.zeros(50)])
    sel = QUBOFeatureSelector(k=3, solver="exact").fit(X, X[:, 0] + X[:, 2])
    assert {0, 2} <= set(sel.get_support(indices=True).tolist())


def test_feature_names_must_match_columns():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="feature_names"):
        feature_model(X, X[:, 0], 2, feature_names=["a", "b"])

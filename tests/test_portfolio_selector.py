"""PortfolioSelector, minimum-variance weights and the covariance helper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.covariance import LedoitWolf

from qanneal_llm.portfolio import PortfolioSelector, min_variance_weights, shrunk_covariance


@pytest.fixture
def returns():
    rng = np.random.default_rng(7)
    factor = rng.normal(0, 0.01, size=(300, 1))
    X = 0.6 * factor + rng.normal(0, 0.01, size=(300, 8)) * np.linspace(0.5, 2.0, 8)
    return pd.DataFrame(X, columns=[f"A{i}" for i in range(8)])


@pytest.mark.parametrize("weighting", ["equal", "min_variance"])
def test_weights_long_only_sum_to_one_and_hold_k(returns, weighting):
    sel = PortfolioSelector(k=3, weighting=weighting, seed=1).fit(returns)
    w = sel.weights_
    assert w.shape == (8,)
    assert np.all(w >= 0)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert sel.support_.sum() == 3
    assert np.all(w[~sel.support_] == 0)
    assert sel.ids_ == [c for c, s in zip(returns.columns, sel.support_, strict=True) if s]
    if weighting == "equal":
        assert np.allclose(w[sel.support_], 1 / 3)


def test_expected_returns_drive_the_choice(returns):
    mu = np.zeros(8)
    mu[[2, 5, 7]] = 0.01  # a daily 1% edge dwarfs any risk difference
    sel = PortfolioSelector(k=3, seed=0).fit(returns, expected_returns=mu)
    assert sel.ids_ == ["A2", "A5", "A7"]
    assert sel.result_.feasible and sel.result_.solver == "anneal"


def test_semantic_penalty_spreads_over_businesses():
    # Four assets with identical returns statistics; 0 and 1 share a business, so do 2 and 3.
    rng = np.random.default_rng(0)
    X = rng.normal(0, 0.01, size=(400, 4))
    emb = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    mu = np.array([0.002, 0.0019, 0.0, 0.0])
    plain = PortfolioSelector(k=2, seed=0).fit(X, expected_returns=mu)
    assert plain.ids_ == [0, 1]
    semantic = PortfolioSelector(k=2, semantic_penalty=0.01, embeddings=emb, seed=0)
    semantic.fit(X, expected_returns=mu)
    assert semantic.ids_[0] == 0 and semantic.ids_[1] in (2, 3)


def test_sector_bounds_are_respected(returns):
    mu = np.array([0.01, 0.01, 0.01, 0, 0, 0, 0, 0])
    sectors = {"tech": ["A0", "A1", "A2"], "other": [f"A{i}" for i in range(3, 8)]}
    sel = PortfolioSelector(k=3, sectors=sectors, sector_bounds={"tech": (0, 1)}, seed=0).fit(
        returns, expected_returns=mu
    )
    assert len(set(sel.ids_) & set(sectors["tech"])) == 1


def test_min_variance_matches_closed_form_and_beats_equal_weight():
    # Two assets: w1 = (s2^2 - c) / (s1^2 + s2^2 - 2c) when it lies in [0, 1].
    cov = np.array([[0.04, 0.006], [0.006, 0.09]])
    w = min_variance_weights(cov)
    expected = (0.09 - 0.006) / (0.04 + 0.09 - 0.012)
    assert w[0] == pytest.approx(expected, abs=1e-6)
    rng = np.random.default_rng(3)
    A = rng.normal(size=(6, 6))
    cov = A @ A.T + 0.1 * np.eye(6)
    w = min_variance_weights(cov)
    eq = np.full(6, 1 / 6)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    assert w @ cov @ w <= eq @ cov @ eq + 1e-12


def test_min_variance_agrees_with_skfolio():
    skfolio = pytest.importorskip("skfolio")
    from skfolio.optimization import MeanRisk, ObjectiveFunction
    from skfolio.prior import EmpiricalPrior

    rng = np.random.default_rng(5)
    X = rng.normal(0, 0.01, size=(500, 5)) * np.array([1, 2, 1.5, 0.7, 3])
    X[:, 1] += 0.8 * X[:, 0]
    cov = np.cov(X, rowvar=False)
    ref = MeanRisk(
        objective_function=ObjectiveFunction.MINIMIZE_RISK,
        prior_estimator=EmpiricalPrior(covariance_estimator=skfolio.moments.EmpiricalCovariance()),
    ).fit(X)
    assert np.allclose(min_variance_weights(cov), ref.weights_, atol=2e-3)


def test_shrunk_covariance_is_ledoit_wolf_by_default(returns):
    assert np.allclose(shrunk_covariance(returns), LedoitWolf().fit(returns).covariance_)
    assert np.allclose(shrunk_covariance(returns, "sample"), np.cov(returns, rowvar=False, ddof=0))
    with pytest.raises(ValueError, match="unknown covariance method 'lw'"):
        shrunk_covariance(returns, "lw")


def test_sklearn_conventions_and_predict(returns):
    sel = PortfolioSelector(k=4, weighting="min_variance", seed=2)
    assert clone(sel).get_params() == sel.get_params()
    assert not hasattr(sel, "weights_")
    sel.fit(returns)
    assert list(sel.feature_names_in_) == list(returns.columns)
    portfolio = sel.predict(returns)
    assert np.allclose(np.asarray(portfolio.returns), returns.to_numpy() @ sel.weights_)


def test_same_seed_same_choice(returns):
    mu = np.random.default_rng(9).normal(0, 1e-3, size=8)
    a = PortfolioSelector(k=4, seed=11).fit(returns, expected_returns=mu)
    b = PortfolioSelector(k=4, seed=11).fit(returns, expected_returns=mu)
    assert a.ids_ == b.ids_ and a.result_.seed == 11


@pytest.mark.parametrize(
    ("params", "fit_kwargs", "message"),
    [
        ({"k": 9}, {}, r"k = 9 but n_features = 8 \(assets\)"),
        ({"weighting": "risk_parity"}, {}, "weighting must be one of"),
        ({}, {"expected_returns": np.zeros(3)}, "one value per asset"),
        ({"embeddings": np.ones((3, 2))}, {}, "one row per asset"),
        ({"semantic_penalty": 0.1}, {}, "needs the assets' similarity"),
    ],
)
def test_bad_input_is_named(returns, params, fit_kwargs, message):
    with pytest.raises(ValueError, match=message):
        PortfolioSelector(**params).fit(returns, **fit_kwargs)


def test_nan_returns_are_rejected(returns):
    bad = returns.copy()
    bad.iloc[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PortfolioSelector(k=2).fit(bad)


@pytest.mark.parametrize(("n_assets", "k"), [(1, 1), (3, 1), (8, 2), (20, 5)])
def test_default_k_is_a_quarter_of_the_universe(n_assets, k):
    X = np.random.default_rng(n_assets).normal(0, 0.01, size=(40, n_assets))
    sel = PortfolioSelector().fit(X)
    assert sel.k_ == k and sel.support_.sum() == k and sel.result_.seed == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"seed": 1.5}, "seed must be an integer or None"),
        ({"seed": True}, "seed must be an integer or None"),
        ({"solver_options": [("num_reads", 2)]}, "solver_options must be a dict or None"),
        ({"k": 0}, r"k = 0 but n_features = 8"),
        ({"k": 1.5}, r"fraction and must be in \(0, 1\]"),
    ],
)
def test_solver_seed_and_options_are_checked_like_the_other_selectors(returns, params, message):
    with pytest.raises(ValueError, match=message):
        PortfolioSelector(**params).fit(returns)

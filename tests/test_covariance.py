"""TargetShrinkage: the classical Ledoit-Wolf targets and the text-built ones."""

import numpy as np
import pytest
from sklearn.base import clone

from qanneal_llm.covariance import TARGETS, TargetShrinkage, text_similarity
from qanneal_llm.portfolio import PortfolioSelector


def _lw_constant_correlation(X):
    """LW 2004 written out as in their paper's appendix (constant correlation r-bar)."""
    t, n = X.shape
    x = X - X.mean(axis=0)
    s = x.T @ x / t
    sd = np.sqrt(np.diag(s))
    rbar = (np.sum(s / np.outer(sd, sd)) - n) / (n * (n - 1))
    f = rbar * np.outer(sd, sd)
    np.fill_diagonal(f, np.diag(s))
    y = x**2
    pi_mat = y.T @ y / t - 2 * (x.T @ x) * s / t + s**2
    theta = (x**3).T @ x / t - np.diag(s)[:, None] * s
    np.fill_diagonal(theta, 0)
    rho = np.trace(pi_mat) + rbar * np.sum(np.outer(1 / sd, sd) * theta)
    delta = np.clip((pi_mat.sum() - rho) / np.linalg.norm(s - f) ** 2 / t, 0, 1)
    return delta * f + (1 - delta) * s, delta


def _blocks(seed, t, n_per=4, groups=4, within=0.6, between=0.2):
    rng = np.random.default_rng(seed)
    n = n_per * groups
    labels = np.repeat(np.arange(groups), n_per)
    corr = np.where(labels[:, None] == labels[None, :], within, between)
    np.fill_diagonal(corr, 1.0)
    vol = rng.uniform(0.01, 0.03, n)
    cov = corr * np.outer(vol, vol)
    X = rng.multivariate_normal(np.zeros(n), cov, size=t)
    emb = np.eye(groups)[labels] + 0.05 * rng.normal(size=(n, groups))
    return X, cov, emb


def test_constant_correlation_matches_the_papers_formula():
    X = np.random.default_rng(0).standard_t(5, size=(60, 8)) @ np.triu(np.ones((8, 8))) / 8
    est = TargetShrinkage("constant_correlation").fit(X)
    cov, delta = _lw_constant_correlation(X)
    assert est.shrinkage_ == pytest.approx(delta, rel=1e-10)
    np.testing.assert_allclose(est.covariance_, cov, rtol=1e-10)


def test_text_target_with_uninformative_texts_is_constant_correlation():
    X, _, _ = _blocks(1, 60)
    n = X.shape[1]
    simplex = np.eye(n)  # every centred pair has the same cosine
    text = TargetShrinkage("text_similarity", embeddings=simplex).fit(X)
    const = TargetShrinkage("constant_correlation").fit(X)
    np.testing.assert_allclose(text.covariance_, const.covariance_, rtol=1e-10)
    assert text.target_params_[1] == 0.0


@pytest.mark.parametrize("target", ["text_similarity", "text_blocks"])
def test_text_target_that_knows_the_blocks_beats_constant_correlation(target):
    """Block-correlated returns, texts that encode the blocks: over 20 draws of 60 days the
    text target is closer to the true covariance (Frobenius) than constant correlation."""
    wins = 0
    for seed in range(20):
        X, cov, emb = _blocks(seed, 60)
        text = TargetShrinkage(target, embeddings=emb, n_blocks=4).fit(X).covariance_
        const = TargetShrinkage("constant_correlation").fit(X).covariance_
        wins += np.linalg.norm(text - cov) < np.linalg.norm(const - cov)
    assert wins >= 16


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_gives_a_positive_definite_covariance(target):
    X, _, emb = _blocks(2, 30)
    est = TargetShrinkage(target, embeddings=emb).fit(X)
    assert 0.0 <= est.shrinkage_ <= 1.0
    np.testing.assert_allclose(est.covariance_, est.covariance_.T)
    np.testing.assert_allclose(np.diag(est.covariance_), np.diag(np.cov(X.T, ddof=0)))
    assert np.linalg.eigvalsh(est.covariance_).min() > 0


def test_fixed_shrinkage_and_sklearn_api():
    X, _, emb = _blocks(3, 60)
    est = TargetShrinkage("text_blocks", embeddings=emb, shrinkage=0.3)
    fitted = clone(est).fit(X)
    assert fitted.shrinkage_ == 0.3
    sample = np.cov(X.T, ddof=0)
    np.testing.assert_allclose(fitted.covariance_, 0.7 * sample + 0.3 * fitted.target_)
    assert est.get_params()["n_blocks"] is None
    assert sorted(set(fitted.blocks_)) == [0, 1, 2, 3]


def test_it_plugs_into_portfolio_selector():
    X, _, emb = _blocks(4, 126)
    est = TargetShrinkage("text_similarity", embeddings=emb)
    sel = PortfolioSelector(k=4, covariance=est, weighting="min_variance", seed=0)
    sel.fit(X, expected_returns=np.zeros(X.shape[1]))
    np.testing.assert_allclose(sel.covariance_, clone(est).fit(X).covariance_)
    assert sel.weights_.sum() == pytest.approx(1.0)


def test_bad_input_is_named():
    X, _, emb = _blocks(5, 60)
    with pytest.raises(ValueError, match="needs embeddings"):
        TargetShrinkage("text_blocks").fit(X)
    with pytest.raises(ValueError, match="one row per asset"):
        TargetShrinkage("text_similarity", embeddings=emb[:3]).fit(X)
    with pytest.raises(ValueError, match="unknown target"):
        TargetShrinkage("sector").fit(X)
    with pytest.raises(ValueError, match="shrinkage"):
        TargetShrinkage(shrinkage=1.5).fit(X)
    with pytest.raises(ValueError, match="zero variance"):
        TargetShrinkage().fit(np.column_stack([X[:, :3], np.ones(60)]))
    with pytest.raises(ValueError, match="undefined"):
        text_similarity(np.ones((3, 4)))


def test_text_index_adds_industry_structure_to_the_market_model():
    """Market plus industry returns, texts that encode the industries: the text-index target is
    closer to the truth than the single-index one in most of 20 draws of 60 days."""
    wins = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        labels = np.repeat(np.arange(4), 4)
        beta = rng.uniform(0.7, 1.3, 16)
        ind = np.eye(4)[labels] * 0.012
        idio = rng.uniform(0.008, 0.015, 16)
        cov = 0.01**2 * np.outer(beta, beta) + ind @ ind.T + np.diag(idio**2)
        X = rng.multivariate_normal(np.zeros(16), cov, size=60)
        emb = np.eye(4)[labels] + 0.05 * rng.normal(size=(16, 4))
        text = TargetShrinkage("text_index", embeddings=emb).fit(X)
        index = TargetShrinkage("single_index").fit(X)
        wins += np.linalg.norm(text.target_ - cov) < np.linalg.norm(index.target_ - cov)
        assert 0.0 <= text.target_params_[1] <= 1.0
    assert wins >= 16

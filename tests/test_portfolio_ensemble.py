"""The backtest's scorer ensemble, and scores computed once and reused across runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recsys.pipelines import portfolio as pf
from recsys.pipelines.portfolio_scorer import ensemble_score, ensemble_scores, member_seeds

CONFIG = pf.BacktestConfig(
    start="2018-01-01",
    end="2018-12-31",
    k=3,
    retrain_every=6,
    min_train_months=12,
    embedding_dims=2,
    epochs=20,
    hidden=8,
    seed=5,
)


@pytest.fixture(scope="module")
def prices():
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2015-01-01", "2018-12-31")
    daily = rng.normal(0.0003, 0.01, (len(dates), 1)) + rng.normal(0.0002, 0.015, (len(dates), 6))
    prices = 50 * np.exp(np.cumsum(np.log1p(daily), axis=0))
    return pd.DataFrame(prices, index=dates, columns=[f"T{i}" for i in range(6)])


@pytest.fixture(scope="module")
def embeddings(prices):
    return np.random.default_rng(1).normal(size=(prices.shape[1], 12))


@pytest.fixture(scope="module")
def members(prices, embeddings):
    return pf.walk_forward_scores(prices, embeddings, dataclasses.replace(CONFIG, ensemble=3))


def test_member_seeds_keep_the_single_head_as_member_zero():
    assert member_seeds(7, 1) == [7]
    seeds = member_seeds(7, 4)
    assert seeds[0] == 7 and len(set(seeds)) == 4


def test_ensemble_score_is_the_mean_z_score():
    raw = np.array([[1.0, 2.0, 3.0], [10.0, 0.0, 5.0]])
    z = (raw - raw.mean(axis=1, keepdims=True)) / raw.std(axis=1, keepdims=True)
    np.testing.assert_allclose(ensemble_score(raw), z.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(ensemble_score(raw[0]), z[0], atol=1e-9)


def test_members_differ_and_member_zero_is_the_single_head(prices, embeddings, members):
    single = pf.walk_forward_scores(prices, embeddings, CONFIG)
    assert set(members) == {"qubo_text", "qubo_no_text"}
    for head in members:
        assert len(members[head]) == 3 and len(single[head]) == 1
        pd.testing.assert_frame_equal(members[head][0], single[head][0])
        assert not np.allclose(members[head][0], members[head][1])


def test_given_scores_reproduce_the_trained_run(prices, embeddings, members):
    config = dataclasses.replace(CONFIG, ensemble=3)
    trained = pf.run_backtest(prices, embeddings, config=config)
    given = {head: ensemble_scores(frames) for head, frames in members.items()}
    reused = pf.run_backtest(prices, embeddings, config=config, scores=given, baselines=False)
    assert not any(name in reused.weights for name in pf.BASELINES)
    # the given scores were used, not recomputed: no scorer was trained and no member scored
    assert trained.scorer["retrains"] and reused.scorer["retrains"] == []
    assert reused.member_scores == {}
    for name, frame in reused.weights.items():
        pd.testing.assert_frame_equal(frame, trained.weights[name])
    for head in given:
        np.testing.assert_allclose(trained.scores[head], given[head], atol=1e-12)
        assert len(trained.member_scores[head]) == 3


def test_averaging_members_lowers_the_seed_noise(prices, embeddings):
    """Across four run seeds, the ensemble of three has less score variance than one head."""
    single, ensemble = [], []
    for seed in range(4):
        config = dataclasses.replace(CONFIG, seed=seed, ensemble=3)
        frames = pf.walk_forward_scores(prices, None, config)["qubo_no_text"]
        single.append(ensemble_scores(frames[:1]).to_numpy())
        ensemble.append(ensemble_scores(frames).to_numpy())
    var = lambda xs: float(np.var(np.stack(xs), axis=0, ddof=1).mean())  # noqa: E731
    assert var(ensemble) < var(single)


def test_given_scores_are_checked(prices, embeddings, members):
    given = {head: ensemble_scores(frames) for head, frames in members.items()}
    with pytest.raises(ValueError, match="lacks the 'qubo_text' head"):
        pf.run_backtest(
            prices, embeddings, config=CONFIG, scores={"qubo_no_text": given["qubo_no_text"]}
        )
    short = {head: frame.iloc[1:] for head, frame in given.items()}
    with pytest.raises(ValueError, match="misses rebalance dates"):
        pf.run_backtest(prices, embeddings, config=CONFIG, scores=short)
    with pytest.raises(ValueError, match="ensemble must be at least 1"):
        pf.run_backtest(prices, embeddings, config=dataclasses.replace(CONFIG, ensemble=0))

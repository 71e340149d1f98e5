"""The QUBO builders encode the objectives they claim, in every form (model, BQM, CQM)."""

import itertools

import dimod
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qanneal_llm.qubo import (
    InfeasibleModelError,
    collaborative_feature_model,
    feature_model,
    portfolio_model,
    slate_model,
    subset_model,
)
from qanneal_llm.qubo.features import relevance_redundancy
from qanneal_llm.solvers import model_from_cqm, solve


def random_slate(n, k, seed, groups=False):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 8))
    kwargs = {}
    if groups:
        kwargs["groups"] = {"even": list(range(0, n, 2)), "low": list(range(n // 2))}
        kwargs["group_bounds"] = {"even": (1, max(1, k - 1)), "low": (None, k // 2 + 1)}
    return slate_model(rng.random(n), k, vectors=vectors, diversity=0.7, **kwargs)


bits = st.integers(min_value=3, max_value=9).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.integers(1, n),
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.integers(0, 10_000),
    )
)


@given(bits)
@settings(max_examples=60, deadline=None)
def test_bqm_energy_is_objective_plus_cardinality_penalty(case):
    n, k, x, seed = case
    model = random_slate(n, k, seed)
    bqm = model.to_bqm()
    a = model.penalty_strength()
    energy = bqm.energy({i: x[i] for i in range(n)})
    expected = model.objective(x) + a * (sum(x) - k) ** 2
    assert energy == pytest.approx(expected, rel=1e-9, abs=1e-9)


@given(bits)
@settings(max_examples=60, deadline=None)
def test_slate_objective_is_relevance_minus_diversity_times_similarity(case):
    n, k, x, seed = case
    rng = np.random.default_rng(seed)
    rel, sim = rng.random(n), rng.uniform(-1, 1, size=(n, n))
    sim = (sim + sim.T) / 2
    model = slate_model(rel, k, similarity=sim, diversity=0.3)
    chosen = [i for i in range(n) if x[i]]
    pairs = sum(sim[i, j] for i, j in itertools.combinations(chosen, 2))
    assert model.objective(x) == pytest.approx(-rel[chosen].sum() + 0.3 * pairs)
    parts = model.breakdown(x)
    assert parts["relevance"] == pytest.approx(-rel[chosen].sum())
    assert parts["similarity"] == pytest.approx(0.3 * pairs)


@given(st.integers(0, 10_000), st.integers(2, 6))
@settings(max_examples=40, deadline=None)
def test_portfolio_objective_is_equal_weight_mean_variance(seed, k):
    rng = np.random.default_rng(seed)
    n = 8
    mu = rng.normal(0.01, 0.02, n)
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n
    sim = np.corrcoef(rng.normal(size=(n, 5)))
    held = [0, 3, 5]
    model = portfolio_model(
        mu,
        cov,
        k,
        risk_aversion=2.0,
        similarity=sim,
        semantic_penalty=0.5,
        held=held,
        switch_cost=0.004,
    )
    x = np.zeros(n)
    x[rng.choice(n, k, replace=False)] = 1
    w = x / k
    chosen = np.flatnonzero(x)
    mean_sim = np.mean([sim[i, j] for i, j in itertools.combinations(chosen, 2)]) if k > 1 else 0
    bought = len(set(chosen) - set(held))  # each new name trades 1/K at a round-trip cost
    expected = -mu @ w + 2.0 * w @ cov @ w + 0.5 * mean_sim + 0.004 * bought / k
    assert model.objective(x) == pytest.approx(expected)
    assert model.breakdown(x)["trading"] == pytest.approx(0.004 * bought / k)


def test_cqm_round_trip_keeps_objective_and_constraints():
    model = random_slate(12, 4, seed=3, groups=True)
    back, labels = model_from_cqm(model.to_cqm())
    assert labels == list(range(12))
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.integers(0, 2, 12)
        assert back.objective(x) == pytest.approx(model.objective(x))
        assert back.is_feasible(x) == model.is_feasible(x)


def test_bqm_with_group_bounds_has_feasible_ground_state():
    model = random_slate(10, 4, seed=5, groups=True)
    bqm = model.to_bqm()
    best = dimod.ExactSolver().sample(bqm).first
    x = np.array([best.sample[i] for i in range(10)])
    assert model.is_feasible(x)
    feasible = [np.isin(np.arange(10), c).astype(int) for c in itertools.combinations(range(10), 4)]
    optimum = min(model.objective(f) for f in feasible if model.is_feasible(f))
    assert model.objective(x) == pytest.approx(optimum)
    assert best.energy == pytest.approx(optimum)


def test_reduced_model_keeps_forced_choices_and_objective():
    model = slate_model(
        np.linspace(0, 1, 8),
        4,
        vectors=np.eye(8),
        ids=list("abcdefgh"),
        forced_in=["a"],
        forced_out=["h"],
    )
    reduced, free = model.reduced()
    assert reduced.k == 3 and reduced.n == 6
    assert "a" not in reduced.ids and "h" not in reduced.ids
    x_free = np.array([1, 1, 0, 0, 1, 0])
    x = model.expand(x_free, free)
    assert x[0] == 1 and x[7] == 0
    assert reduced.objective(x_free) == pytest.approx(model.objective(x))


@given(st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_feasible_rows_agrees_with_is_feasible(seed):
    rng = np.random.default_rng(seed)
    n = 9
    model = slate_model(
        rng.random(n),
        4,
        vectors=rng.normal(size=(n, 3)),
        groups={"a": [0, 1, 2, 3], "b": [3, 4, 5]},
        group_bounds={"a": (1, 2), "b": (None, 1)},
        forced_in=[6],
        forced_out=[8],
    )
    states = rng.integers(0, 2, size=(40, n))
    states[:20, 6], states[:20, 8] = 1, 0  # many rows that keep the forced choices
    states[0] = model.expand(solve(model.reduced()[0], "exact").x, model.reduced()[1])
    expected = [model.is_feasible(x) for x in states]
    assert expected[0] and not all(expected)
    assert model.feasible_rows(states).tolist() == expected


def test_violations_name_what_is_broken():
    model = random_slate(10, 4, seed=1, groups=True)
    messages = model.violations(np.zeros(10, int))
    assert any("cardinality" in m for m in messages)
    assert any("even" in m for m in messages)
    assert model.violations(np.array([2] + [0] * 9)) == ["values other than 0 and 1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"relevance": [np.nan, 1.0], "k": 1}, "NaN"),
        ({"relevance": [np.inf, 1.0], "k": 1}, "NaN or inf"),
        ({"relevance": [], "k": 1}, "empty"),
        ({"relevance": [[1.0, 2.0]], "k": 1}, "1-dimensional"),
        ({"relevance": [1.0, 2.0], "k": 0}, "at least 1"),
        ({"relevance": [1.0, 2.0], "k": 3}, "exceeds"),
        ({"relevance": [1.0, 2.0], "k": 1.5}, "positive integer"),
    ],
)
def test_bad_slate_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        slate_model(similarity=np.eye(max(1, len(np.ravel(kwargs["relevance"])))), **kwargs)


def test_bad_similarity_is_named():
    with pytest.raises(ValueError, match="symmetric"):
        slate_model([1.0, 2.0], 1, similarity=[[1.0, 0.5], [0.1, 1.0]])
    with pytest.raises(ValueError, match="shape"):
        slate_model([1.0, 2.0], 1, similarity=np.eye(3))
    with pytest.raises(ValueError, match="exactly one"):
        slate_model([1.0, 2.0], 1)
    with pytest.raises(ValueError, match="rows"):
        slate_model([1.0, 2.0], 1, vectors=np.ones((3, 2)))


def test_bad_ids_and_groups_are_named():
    with pytest.raises(ValueError, match="unknown ids"):
        slate_model([1.0, 2.0], 1, vectors=np.eye(2), ids=["a", "b"], forced_in=["z"])
    with pytest.raises(ValueError, match="unique"):
        slate_model([1.0, 2.0], 1, vectors=np.eye(2), ids=["a", "a"])
    with pytest.raises(InfeasibleModelError, match="at least 3"):
        slate_model(
            [1.0, 2.0, 3.0], 2, vectors=np.eye(3), groups={"g": [0]}, group_bounds={"g": (3, None)}
        )
    with pytest.raises(ValueError, match="missing from groups"):
        slate_model([1.0, 2.0], 1, vectors=np.eye(2), group_bounds={"g": (1, 1)})
    with pytest.raises(InfeasibleModelError, match="forced in"):
        slate_model([1.0, 2.0, 3.0], 1, vectors=np.eye(3), forced_in=[0, 1])


def test_portfolio_rejects_bad_covariance_and_missing_similarity():
    with pytest.raises(ValueError, match="negative variances"):
        portfolio_model([0.1, 0.2], -np.eye(2), 1)
    with pytest.raises(ValueError, match="similarity"):
        portfolio_model([0.1, 0.2], np.eye(2), 1, semantic_penalty=1.0)
    with pytest.raises(ValueError, match="exceeds the 2 assets"):
        portfolio_model([0.1, 0.2], np.eye(2), 3)
    with pytest.raises(ValueError, match="held names unknown"):
        portfolio_model([0.1, 0.2], np.eye(2), 1, ids=["A", "B"], held=["Z"], switch_cost=0.01)


@pytest.mark.parametrize("method", ["correlation", "mutual_info", "conditional_mi"])
def test_constant_columns_give_zero_scores_not_nan(method):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    X[:, 2] = 0.7  # a dead embedding dimension
    y = (X[:, 0] + X[:, 4] > 0).astype(float)
    relevance, pair = relevance_redundancy(X, y, method)
    assert np.all(np.isfinite(relevance)) and np.all(np.isfinite(pair))
    assert relevance[2] == pytest.approx(0.0, abs=1e-12)
    assert relevance[[0, 4]].min() > relevance[[1, 3, 5]].max()


def test_feature_models_prefer_informative_non_redundant_columns():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 6))
    X[:, 1] = X[:, 0] + 0.05 * rng.normal(size=500)  # a near-copy of column 0
    y = X[:, 0] + 0.8 * X[:, 3]
    from qanneal_llm.solvers import solve

    for method in ("correlation", "mutual_info"):
        chosen = set(solve(feature_model(X, y, 2, method=method, redundancy=2.0), "exact").ids)
        assert 3 in chosen and len(chosen & {0, 1}) == 1, (method, chosen)


def test_collaborative_features_follow_the_collaborative_similarity():
    rng = np.random.default_rng(2)
    clusters = rng.integers(0, 4, size=120)
    collab = (clusters[:, None] == clusters[None, :]).astype(float)
    informative = clusters[:, None] * 1.0 + 0.1 * rng.normal(size=(120, 2))
    noise = rng.normal(size=(120, 4))
    F = np.hstack([noise[:, :2], informative, noise[:, 2:]])
    model = collaborative_feature_model(F, collab, 2, redundancy=0.0)
    assert np.argsort(model.linear)[:2].tolist() in ([2, 3], [3, 2])
    import scipy.sparse as sp

    sparse = collaborative_feature_model(F, sp.csr_matrix(collab), 2, redundancy=0.0)
    np.testing.assert_allclose(sparse.linear, model.linear)
    with pytest.raises(ValueError, match="match item_features"):
        collaborative_feature_model(F, collab[:10, :10], 2)


def test_subset_model_ids_decode():
    model = subset_model([0.0, 1.0, 2.0], np.zeros((3, 3)), 2, ids=["x", "y", "z"])
    assert model.decode([1, 0, 1]) == ["x", "z"]


@pytest.mark.parametrize("method", ["correlation", "mutual_info", "conditional_mi"])
def test_multi_label_relevance_is_the_mean_over_labels(method):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 5))
    Y = np.column_stack([X[:, 0] > 0, X[:, 2] + 0.3 * rng.normal(size=120) > 0.5]).astype(float)
    rel, pair = relevance_redundancy(X, Y, method, n_bins=4)
    per_label = [relevance_redundancy(X, Y[:, j], method, n_bins=4) for j in range(2)]
    np.testing.assert_allclose(rel, np.mean([r for r, _ in per_label], axis=0), atol=1e-6)
    np.testing.assert_allclose(pair, np.mean([p for _, p in per_label], axis=0), atol=1e-6)
    one = relevance_redundancy(X, Y[:, :1], method, n_bins=4)  # a one-column 2-D y is 1-D y
    np.testing.assert_allclose(one[0], per_label[0][0], atol=1e-6)
    with pytest.raises(ValueError, match="rows but y has"):
        relevance_redundancy(X, Y[:-1], method)


def test_conditional_mi_matches_a_direct_count():
    from qanneal_llm.qubo.features import quantile_bins

    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)  # three classes, one rare
    codes = quantile_bins(X, 3)

    def cmi(i, j):  # I(X_i; Y | X_j) from the plain definition
        total = 0.0
        for a, b, c in itertools.product(range(3), range(3), range(3)):
            p_abc = np.mean((codes[:, i] == a) & (codes[:, j] == b) & (y == c))
            if p_abc > 0:
                p_b = np.mean(codes[:, j] == b)
                p_ab = np.mean((codes[:, i] == a) & (codes[:, j] == b))
                p_bc = np.mean((codes[:, j] == b) & (y == c))
                total += p_abc * np.log(p_b * p_abc / (p_ab * p_bc))
        return total

    _, pair = relevance_redundancy(X, y.astype(float), "conditional_mi", n_bins=3)
    for i, j in itertools.combinations(range(4), 2):
        assert -pair[i, j] == pytest.approx((cmi(i, j) + cmi(j, i)) / 2, abs=1e-6)

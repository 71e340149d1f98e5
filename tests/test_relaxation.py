"""The convex relaxation of Gram-factor models: exact on 0/1 selections, a valid bound, an exact
linear step, and the time-limit search that uses its support."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from qanneal_llm import slate_model, solve
from qanneal_llm.qubo import InfeasibleModelError, subset_model
from qanneal_llm.qubo.relaxation import relax, relaxable, relaxed_objective, top_k
from qanneal_llm.solvers import swap_anneal


def grouped_slate(seed, n=12, k=4, d=3, n_groups=3, bounds=True):
    rng = np.random.default_rng(seed)
    genre = rng.integers(0, n_groups, size=n)
    groups = {f"g{g}": np.flatnonzero(genre == g).tolist() for g in range(n_groups)}
    group_bounds = {}
    if bounds:
        # a minimum on the first group and a cap on the second, both always satisfiable
        group_bounds["g0"] = (min(1, len(groups["g0"])), None)
        group_bounds["g1"] = (None, max(1, min(k - 1, len(groups["g1"]))))
    return slate_model(
        rng.random(n),
        k,
        vectors=rng.normal(size=(n, d)),
        diversity=float(rng.uniform(0.1, 2.0)),
        groups=groups,
        group_bounds=group_bounds,
    )


def brute_force_optimum(model):
    best = np.inf
    for chosen in itertools.combinations(range(model.n), model.k):
        x = np.zeros(model.n, np.int8)
        x[list(chosen)] = 1
        if model.is_feasible(x):
            best = min(best, float(model.objective(x)))
    return best


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.data())
def test_relaxed_objective_equals_the_objective_on_every_selection(seed, data):
    model = grouped_slate(seed)
    x = np.array(data.draw(st.lists(st.integers(0, 1), min_size=model.n, max_size=model.n)))
    assert relaxed_objective(model, x) == pytest.approx(float(model.objective(x)), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000))
def test_top_k_is_the_lp_optimum_over_relaxed_selections(seed):
    model = grouped_slate(seed, n=14, k=5)
    w = np.random.default_rng(seed).normal(size=model.n)
    x = top_k(model, w)
    assert model.is_feasible(x)
    member = model.groups.astype(float)
    rows = np.vstack([member, -member])
    rhs = np.concatenate([model.group_bounds[:, 1], -model.group_bounds[:, 0]])
    lp = linprog(w, A_ub=rows, b_ub=rhs, A_eq=np.ones((1, model.n)), b_eq=[model.k], bounds=(0, 1))
    assert lp.status == 0
    assert w @ x == pytest.approx(lp.fun, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_bound_is_below_the_exact_optimum_and_the_relaxation_converges(seed):
    model = grouped_slate(seed, n=11, k=4)
    optimum = brute_force_optimum(model)
    relaxation = relax(model, steps=3000)
    assert relaxation.bound <= optimum + 1e-9
    assert relaxation.bound <= relaxation.value + 1e-12
    assert relaxation.value <= optimum + 1e-9  # the relaxation is a minimum over a superset
    assert relaxation.value - relaxation.bound < 1e-3 * (1 + abs(optimum))
    assert relaxation.x.sum() == pytest.approx(model.k)
    assert relaxation.x.min() >= -1e-12 and relaxation.x.max() <= 1 + 1e-12
    counts = model.groups @ relaxation.x
    assert np.all(counts >= model.group_bounds[:, 0] - 1e-9)
    assert np.all(counts <= model.group_bounds[:, 1] + 1e-9)


def test_slates_from_vectors_carry_a_checked_factor_and_reduced_keeps_it_consistent():
    model = grouped_slate(0, n=10, k=3)
    assert model.factor is not None and relaxable(model)
    sim = model.quadratic / np.abs(model.quadratic).max()
    assert slate_model(np.ones(10), 3, similarity=sim).factor is None
    # as many dimensions as candidates: the factor would outweigh the quadratic
    assert slate_model(np.ones(4), 2, vectors=np.eye(4)).factor is None
    forced = dataclasses.replace(model, forced_in=np.eye(10, dtype=bool)[2])
    assert not relaxable(forced)
    reduced, free = forced.reduced()
    assert relaxable(reduced) and reduced.factor.shape[0] == len(free) == 9
    x = np.zeros(9, np.int8)
    x[[0, 5]] = 1
    expected = float(forced.objective(forced.expand(x, free)))
    assert relaxed_objective(reduced, x) == pytest.approx(expected)


def test_a_factor_that_does_not_give_the_quadratic_is_refused():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(8, 3))
    quadratic = F @ F.T
    model = subset_model(np.zeros(8), quadratic, 3, factor=F)
    assert np.array_equal(model.factor, F)
    with pytest.raises(ValueError, match="does not equal quadratic off the diagonal"):
        subset_model(np.zeros(8), quadratic, 3, factor=F[:, ::-1] + 0.1)
    off_by_one_pair = quadratic.copy()
    off_by_one_pair[2, 5] += 1e-3
    off_by_one_pair[5, 2] += 1e-3
    with pytest.raises(ValueError, match="does not equal quadratic off the diagonal"):
        subset_model(np.zeros(8), off_by_one_pair, 3, factor=F)
    with pytest.raises(ValueError, match="factor has 7 rows for 8 candidates"):
        subset_model(np.zeros(8), quadratic, 3, factor=F[:7])
    with pytest.raises(ValueError, match="factor"):
        subset_model(np.zeros(8), quadratic, 3, factor=np.full((8, 3), np.nan))


def test_overlapping_groups_and_unmeetable_bounds_are_named():
    rng = np.random.default_rng(2)
    overlapping = slate_model(
        rng.random(8), 3, vectors=rng.normal(size=(8, 3)),
        groups={"a": [0, 1, 2], "b": [2, 3]}, group_bounds={"a": (None, 2)},
    )  # fmt: skip
    assert not relaxable(overlapping)
    with pytest.raises(ValueError, match="at most one group"):
        top_k(overlapping, np.zeros(8))
    with pytest.raises(ValueError, match=r"relax model.reduced\(\)\[0\]"):
        relax(overlapping)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        relax(grouped_slate(0), steps=0)
    too_many = slate_model(
        rng.random(8), 3, vectors=rng.normal(size=(8, 3)),
        groups={"a": [0, 1], "b": [2, 3]}, group_bounds={"a": (2, None), "b": (2, None)},
    )  # fmt: skip
    with pytest.raises(InfeasibleModelError, match="the minimums need 4"):
        top_k(too_many, np.zeros(8))


def test_a_time_limit_on_a_vector_slate_searches_the_support_and_reports_a_bound():
    rng = np.random.default_rng(3)
    n, k = 24, 4
    genre = rng.integers(0, 3, size=n)
    model = slate_model(
        rng.random(n), k, vectors=rng.normal(size=(n, 4)), diversity=0.5,
        groups={f"g{g}": np.flatnonzero(genre == g).tolist() for g in range(3)},
        group_bounds={"g0": (1, 2)},
    )  # fmt: skip
    optimum = brute_force_optimum(model)
    result = solve(model, seed=0, time_limit=0.3, threads=1)
    info = result.info
    assert result.feasible and result.objective == pytest.approx(optimum)
    assert info["lower_bound"] <= optimum + 1e-9
    assert info["relaxation_steps"] >= 1 and info["relaxation_seconds"] > 0
    sizes = info["core_sizes"]  # shorter lists of candidates were searched alone, shortest first
    assert sizes and all(k < size <= n // 2 for size in sizes) and sizes == sorted(set(sizes))
    assert info["core_seconds"] > 0 and info["reads"] >= 2
    assert info["time_to_best"] <= info["anneal_seconds"]
    assert info["trace"][-1][1] == pytest.approx(result.objective)
    # a warm start is the user's: the plain anytime search runs from it
    _, objectives, warm = swap_anneal(
        model, seed=0, time_limit=0.05, threads=1, num_reads=1, initial_states=result.x[None]
    )
    assert "lower_bound" not in warm and objectives.min() <= result.objective + 1e-12


def test_a_time_limit_searches_the_relaxations_short_list_then_its_support_then_all(
    monkeypatch,
):
    from qanneal_llm.solvers import swap_annealer

    n = 200
    model = grouped_slate(0, n=n, k=10, d=16, n_groups=4)
    searched = []
    run_anytime = swap_annealer.run_anytime
    monkeypatch.setattr(
        swap_annealer,
        "run_anytime",
        lambda plan: searched.append((plan.model.n, len(plan.seeds))) or run_anytime(plan),
    )
    result = solve(model, seed=0, time_limit=0.3, threads=1)
    # the same steps give the same relaxed values, so the short list can be formed again
    x = relax(model, steps=result.info["relaxation_steps"]).x
    short = (x > swap_annealer.CORES[0][0]) | (top_k(model, -x) == 1)
    (short_n, short_reads), (support_n, support_reads), *rest = searched
    assert short_n == short.sum() and short_n < support_n <= n // 2 and short_reads == 1
    assert result.info["core_sizes"] == [short_n, support_n] and support_reads == 1
    # every candidate last, with the default's reads (the first from the lists' best)
    assert rest == [(n, 16)] and result.info["max_reads"] == 16
    assert result.feasible and result.objective <= model.objective(top_k(model, -x)) + 1e-9

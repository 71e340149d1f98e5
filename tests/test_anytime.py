"""The anytime mode: ``time_limit`` keeps searching, never loses to the default, stays feasible."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qanneal_llm import slate_model, solve, solve_many, subset_model
from qanneal_llm.qubo.repair import kernel_arrays, polish
from qanneal_llm.solvers import SolverError, UnknownOptionError, anytime, preflight, swap_anneal
from qanneal_llm.solvers.anytime import (
    DEFAULT_ROUNDS_PER_READ,
    PLATEAU_STALL,
    PLATEAU_TIES,
    crossover,
    perturb,
)
from qanneal_llm.solvers.local import TabuBackend


def diversity_instance(n, k, seed, groups=False):
    """Max-diversity: k of n points in [0, 10]^4 maximising the summed pairwise distance."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 10, size=(n, 4))
    distance = np.linalg.norm(points[:, None] - points[None], axis=-1)
    kwargs = {}
    if groups:
        kwargs = {
            "groups": {"a": list(range(0, n, 3)), "b": list(range(1, n, 2))},
            "group_bounds": {"a": (k // 2, None), "b": (None, k // 4)},
        }
    return subset_model(np.zeros(n), -distance, k, **kwargs)


@pytest.mark.parametrize("groups", [False, True])
def test_time_limit_searches_on_and_reports(groups):
    model = diversity_instance(120, 15, 0, groups=groups)
    result = solve(model, seed=4, time_limit=0.3)
    info = result.info
    assert result.feasible and not result.repaired and model.is_feasible(result.x)
    assert info["time_limit"] == 0.3 and info["restarts"] >= 1
    assert info["anneal_seconds"] >= 0.3
    assert 0 <= info["time_to_best"] <= info["anneal_seconds"]
    assert info["fresh_reads"] <= info["restarts"] and info["improvements"] >= 0
    # the trace holds the default reads' new bests (at least one) plus one per improvement
    assert 1 <= len(info["trace"]) - info["improvements"] <= info["reads"]
    times, values = np.array(info["trace"]).T
    assert np.all(np.diff(times) >= 0) and np.all(np.diff(values) < 0)
    assert times[-1] == info["time_to_best"] and values[-1] == pytest.approx(result.objective)


@pytest.mark.parametrize("seed", range(4))
def test_time_limit_never_worse_than_the_default(seed):
    model = diversity_instance(150, 30, seed, groups=seed % 2 == 1)
    default = solve(model, seed=seed)
    anytime = solve(model, seed=seed, time_limit=0.25)
    assert anytime.feasible
    assert anytime.objective <= default.objective + 1e-9 * abs(default.objective)


def test_time_limit_first_runs_exactly_the_default_reads():
    model = diversity_instance(100, 20, 3)
    states, objectives, info = swap_anneal(model, seed=11)
    more, more_objectives, more_info = swap_anneal(model, seed=11, time_limit=0.2)
    reads = info["reads"]
    assert more_info["reads"] == reads and more_info["beta_range"] == info["beta_range"]
    np.testing.assert_array_equal(more[:reads], states)
    np.testing.assert_allclose(more_objectives[:reads], objectives)
    assert more_objectives.min() <= objectives.min()


def test_no_read_starts_after_the_reads_share_of_the_limit(monkeypatch):
    # at n = 5,000 the default's reads alone filled a 1 s limit; past READS_SHARE of it the
    # rounds take over (with a share of 0 only the first read, which sets the temperatures)
    model = diversity_instance(100, 20, 3)
    _, _, full = swap_anneal(model, seed=11, time_limit=0.2, threads=1)
    monkeypatch.setattr(anytime, "READS_SHARE", 0.0)
    states, _, cut = swap_anneal(model, seed=11, time_limit=0.2, threads=1)
    assert full["reads"] > 1 and cut["reads"] == 1 and cut["restarts"] >= 1
    assert model.feasible_rows(states).all()


def test_default_without_time_limit_is_unchanged_and_reports_no_restarts():
    model = diversity_instance(80, 10, 5)
    a, b = solve(model, seed=2), solve(model, seed=2)
    assert a.ids == b.ids and "restarts" not in a.info and "time_to_best" not in a.info


def test_solve_many_gives_each_problem_the_limit():
    models = [diversity_instance(90, 12, s, groups=s == 1) for s in range(3)]
    default = solve_many(models, seed=7, n_jobs=2)
    anytime = solve_many(models, seed=7, n_jobs=2, time_limit=0.15)
    for d, a in zip(default, anytime, strict=True):
        assert a.feasible and a.info["restarts"] >= 1 and a.info["anneal_seconds"] >= 0.15
        assert a.objective <= d.objective + 1e-9 * abs(d.objective)


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "1", True])
def test_bad_time_limits_are_refused_up_front(bad):
    model = diversity_instance(30, 5, 0)
    with pytest.raises(SolverError, match="time_limit must be a positive, finite number"):
        solve(model, seed=0, time_limit=bad)
    with pytest.raises(SolverError, match="time_limit must be a positive"):
        preflight("anneal", n=30, k=5, time_limit=bad)
    with pytest.raises(SolverError, match="time_limit must be a positive"):
        solve_many([model], seed=0, time_limit=bad)


def test_neal_refuses_time_limit_and_tabu_maps_it_to_its_timeout():
    model = diversity_instance(40, 6, 1)
    with pytest.raises(UnknownOptionError, match="'neal' has no option 'time_limit'"):
        solve(model, "neal", seed=0, time_limit=1.0)
    result = solve(model, "tabu", seed=0, time_limit=0.05)
    assert result.feasible
    tabu = TabuBackend()  # seconds in all -> milliseconds per read
    assert tabu.sample_options(None, {"time_limit": 0.05}) == {"timeout": 50}
    assert tabu.sample_options(None, {"time_limit": 0.05, "num_reads": 5}) == {
        "num_reads": 5,
        "timeout": 10,
    }


@given(st.integers(0, 10_000), st.integers(1, 6))
@settings(max_examples=40, deadline=None)
def test_perturbation_keeps_cardinality_and_group_bounds(seed, strength):
    model = diversity_instance(24, 8, seed % 7, groups=True)
    rng = np.random.default_rng(seed)
    x = solve(model, seed=seed, num_sweeps=2, local_search=False).x.astype(np.int8)
    _, _, G, lo, hi = kernel_arrays(model)
    y = perturb(x, strength, G, lo, hi, rng)
    assert y.sum() == model.k and model.is_feasible(y)
    assert np.count_nonzero(x != y) <= 2 * strength


@given(st.integers(0, 10_000), st.booleans())
@settings(max_examples=40, deadline=None)
def test_crossover_keeps_what_both_parents_chose_and_every_bound(seed, groups):
    model = diversity_instance(30, 9, seed % 5, groups=groups)
    rng = np.random.default_rng(seed)
    a = solve(model, seed=seed, num_sweeps=2, local_search=False).x.astype(np.int8)
    b = solve(model, seed=seed + 1, num_sweeps=2, local_search=False).x.astype(np.int8)
    child = crossover(model, a, b, rng)
    assert child.sum() == model.k and model.is_feasible(child)
    if not groups:  # a repair may move any candidate; without groups the backbone stays
        assert np.all(child[(a == 1) & (b == 1)] == 1)
        assert np.all(child[(a == 0) & (b == 0)] == 0)


def test_anytime_crosses_distinct_elite_states_only():
    # integer weights: a rugged problem whose rounds end in many distinct local optima
    rng = np.random.default_rng(0)
    w = np.triu(rng.integers(0, 11, size=(150, 150)), 1).astype(float)
    info = solve(subset_model(np.zeros(150), -(w + w.T), 30), seed=1, time_limit=0.3).info
    assert 0 < info["crossovers"] < info["restarts"]
    # an easy problem: every round ends in the same optimum, nothing distinct to cross
    info = solve(diversity_instance(120, 20, 7), seed=1, time_limit=0.2).info
    assert info["crossovers"] == 0 and info["restarts"] > 10


def test_a_long_stall_moves_the_rounds_to_a_fresh_read_and_keeps_the_best(monkeypatch):
    from qanneal_llm.solvers.anytime import improve
    from qanneal_llm.solvers.swap_annealer import plan_anneal

    # short reads and walks on integer weights: the rounds stall often and a fresh read is
    # worse than the best; every round a perturbation, the epochs after 4 stalled rounds
    monkeypatch.setattr(anytime, "CROSSOVER", 0.0)
    monkeypatch.setattr(anytime, "RESTART_AFTER", 2)
    monkeypatch.setattr(anytime, "NEW_EPOCH_AFTER", 4)
    rng = np.random.default_rng(5)
    w = np.triu(rng.integers(0, 11, size=(120, 120)), 1).astype(float)
    model = subset_model(np.zeros(120), -(w + w.T), 25)
    plan = plan_anneal(
        model, seed=2, num_reads=2, agree=0, num_sweeps=2, tabu_stall=2, tabu_iterations=4
    )
    states, energies, hot, cold = anytime.plan_reads(
        plan, plan.x0, plan.beta_range, plan.num_sweeps, plan.seeds, iterations=4, stall=2
    )
    events = [("found", float(e)) for e in energies]  # in order: what was found, what perturbed
    reads, shake = anytime.plan_reads, anytime.perturb

    def recording_reads(*args, **kwargs):
        found = reads(*args, **kwargs)
        events.append(("found", float(found[1][0])))
        return found

    def recording_perturb(x, *args):
        events.append(("center", float(model.objective(x) - model.offset)))
        return shake(x, *args)

    monkeypatch.setattr(anytime, "plan_reads", recording_reads)
    monkeypatch.setattr(anytime, "perturb", recording_perturb)
    best, energy, stats = improve(
        plan, list(states), list(energies), np.array([hot, cold]), start=0.0, stall=2, rounds=80
    )
    assert stats["epochs"] >= 1 and stats["fresh_reads"] > stats["epochs"]
    # some rounds perturbed a selection worse than the best found before them: a new epoch's
    # center (perturbing the best for good never does)
    best_so_far, off_best = np.inf, 0
    for kind, value in events:
        if kind == "found":
            best_so_far = min(best_so_far, value)
        else:
            assert value >= best_so_far - 1e-9
            off_best += value > best_so_far + 1e-9
    assert off_best >= 1
    # and the best overall comes back, whatever epoch found it
    assert energy == pytest.approx(min(value for kind, value in events if kind == "found"))
    assert model.is_feasible(best)
    assert model.objective(best) == pytest.approx(energy + model.offset)


def test_default_tabu_stall_grows_with_the_smaller_side_of_the_swaps():
    from qanneal_llm.solvers.swap_annealer import plan_anneal

    small, large = diversity_instance(60, 10, 0), diversity_instance(400, 300, 0)
    assert plan_anneal(small, seed=0).tabu_stall == 100
    plan = plan_anneal(large, seed=0)
    assert plan.tabu_stall == 200 and plan.tabu_iterations >= 400
    assert plan_anneal(large, seed=0, tabu_stall=30).tabu_stall == 30


def test_default_adds_memetic_rounds_only_when_the_reads_never_agree():
    rng = np.random.default_rng(3)
    w = np.triu(rng.integers(0, 11, size=(200, 200)), 1).astype(float)
    rugged = subset_model(np.zeros(200), -(w + w.T), 40)
    states, objectives, info = swap_anneal(rugged, seed=5, num_reads=6)
    # never agreed: a fixed number of rounds per read, on integer weights' plateaus with item
    # tenures
    assert info["reads"] == 6 and info["rounds"] == 6 * DEFAULT_ROUNDS_PER_READ
    assert info["round_tabu"] == "items"
    assert len(states) in (6, 7) and rugged.feasible_rows(states).all()
    np.testing.assert_allclose(objectives, rugged.objective(states))
    kernel_only, kernel_objectives, _ = swap_anneal(rugged, seed=5, num_reads=6, agree=0)
    np.testing.assert_array_equal(states[:6], kernel_only)  # the same reads, then the rounds
    assert objectives.min() <= kernel_objectives.min()
    # a time limit's rounds start from reads at least as low, and 0.5 s runs more of them
    anytime = solve(rugged, seed=5, num_reads=6, time_limit=0.5)
    assert anytime.objective <= objectives.min() + 1e-9 * abs(objectives.min())
    # a round that improves on the reads adds its best as one more row, not one more read
    states, _, info = swap_anneal(rugged, seed=1, num_reads=6)
    assert info["improvements"] >= 1 and len(states) == 7
    assert info["reads"] == info["max_reads"] == 6
    easy = swap_anneal(diversity_instance(80, 10, 5), seed=2)[2]
    assert easy["reads"] < easy["max_reads"] and "rounds" not in easy
    # continuous weights that never agree either (unit vectors that must cancel): the rounds
    # forbid visited selections
    rng = np.random.default_rng(0)
    slate = slate_model(rng.random(200), 20, vectors=rng.normal(size=(200, 16)), diversity=0.5)
    states, _, info = swap_anneal(slate, seed=5, num_reads=6)
    assert info["rounds"] == 6 * DEFAULT_ROUNDS_PER_READ and info["round_tabu"] == "solutions"
    assert slate.feasible_rows(states).all()


def test_threads_run_rounds_in_batches_that_follow_the_seed(monkeypatch):
    from qanneal_llm.solvers import anytime
    from qanneal_llm.solvers.anytime import _thread_pool, improve
    from qanneal_llm.solvers.swap_annealer import plan_anneal

    batches, real_map = [], anytime._map

    def recording_map(pool, fn, items, *args):
        batches.append((pool is not None, len(items)))
        return real_map(pool, fn, items, *args)

    monkeypatch.setattr(anytime, "_map", recording_map)

    rng = np.random.default_rng(4)
    w = np.triu(rng.integers(0, 11, size=(120, 120)), 1).astype(float)
    model = subset_model(np.zeros(120), -(w + w.T), 25)
    states, energies, info = swap_anneal(model, seed=3, num_reads=4, agree=0)
    energies = list(energies - model.offset)
    beta = np.array(info["beta_range"])

    def run(threads):
        plan = plan_anneal(model, seed=3, num_reads=4, agree=0, threads=threads)
        with _thread_pool(threads) as pool:
            best, energy, stats = improve(
                plan, list(states), energies, beta, start=0.0, stall=plan.tabu_stall, rounds=9,
                pool=pool,
            )  # fmt: skip
        return best, energy, stats

    one = run(1)
    assert batches == [(False, 1)] * 9  # one thread: round by round, no pool
    batches.clear()
    two, again = run(2), run(2)
    # 9 rounds on 2 threads are 5 batches on the pool, the last one short
    assert batches == 2 * ([(True, 2)] * 4 + [(True, 1)])
    # the same seed and threads take the same path
    np.testing.assert_array_equal(two[0], again[0])
    assert two[1] == again[1] and two[2] == again[2] and two[2]["rounds"] == 9
    for best, energy, _ in (one, two):  # (never above the reads' best: it starts there)
        assert model.is_feasible(best) and energy <= min(energies)
        assert model.objective(best) == pytest.approx(energy + model.offset)


def test_threads_are_all_cores_for_solve_and_one_per_problem_in_a_batch():
    from qanneal_llm._validation import available_cores

    model = diversity_instance(60, 8, 2)
    assert solve(model, seed=0, time_limit=0.05).info["threads"] == available_cores()
    assert solve(model, seed=0, time_limit=0.05, threads=1).info["threads"] == 1
    (result,) = solve_many([model], seed=0, time_limit=0.05)
    assert result.info["threads"] == 1
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            solve(model, seed=0, time_limit=0.05, threads=bad)
        with pytest.raises(ValueError, match="omit it to use every core"):
            preflight("anneal", n=60, k=8, threads=bad)


def test_a_time_limit_walks_longer_on_the_plateaus_of_integer_weights():
    rng = np.random.default_rng(2)
    w = np.triu(rng.integers(0, 11, size=(300, 300)), 1).astype(float)
    plateau = subset_model(np.zeros(300), -(w + w.T), 40)
    continuous = diversity_instance(300, 40, 2)
    for model, tied in ((plateau, True), (continuous, False)):
        states, _, info = swap_anneal(model, seed=3, time_limit=0.05)
        assert 0.0 <= info["tied_share"] <= 1.0
        assert (info["tied_share"] > PLATEAU_TIES) is tied
        assert info["round_stall"] == info["tabu_stall"] * (PLATEAU_STALL if tied else 1)
        assert info["round_tabu"] == ("items" if tied else "solutions")
        assert model.feasible_rows(states).all()


def test_a_limit_shorter_than_one_read_still_returns_a_local_optimum():
    # the timer fires inside the first read's annealing: it stops there but still descends, so
    # what comes back is a local optimum (no swap improves it), not a half-annealed state
    model = diversity_instance(400, 60, 5, groups=True)
    result = solve(model, seed=2, time_limit=1e-4)
    # a precondition, not a check of the stop flag: the reads loop itself never starts a
    # second read once the limit has passed
    assert result.info["reads"] == 1
    assert result.feasible and not result.repaired
    np.testing.assert_array_equal(polish(model, result.x)[0][0], result.x)

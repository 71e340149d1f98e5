"""Problems larger than the QPU: the QPU re-solves a window of the variables inside our loop.

A dense problem of more variables than the QPU's largest clique cannot be embedded whole. Here
our swap annealer finds a selection, then each round picks a window of at most the QPU's size
by energy impact (the chosen candidates whose removal would gain most, the unchosen whose
addition would), fixes every other variable, and hands the QPU the window's own problem:
choose ``k'`` of the window, where ``k'`` is how many of the window are chosen now (a
:class:`SubsetModel`, so cardinality and group bounds stay exact; an infeasible QPU answer is
repaired). The QPU's answer is written back and the annealer's local search (descent and swap
tabu) continues from it; the round is kept only when the whole objective improves. The loop
stops after ``rounds`` rounds or ``patience`` rounds in a row without improvement.

This is a large-neighbourhood search with the QPU as its move, in the spirit of dwave-hybrid's
``EnergyImpactDecomposer``; ``info`` says how often the QPU's own answer beat the incumbent
(``qpu_improvements``), so a user sees what the QPU contributed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from qanneal_llm.qubo.model import SubsetModel
from qanneal_llm.qubo.repair import repair
from qanneal_llm.solvers.base import Samples, below
from qanneal_llm.solvers.swap_annealer import swap_anneal


def energy_impact(model: SubsetModel, x: np.ndarray) -> np.ndarray:
    """What flipping each variable alone would gain (positive: the objective would fall).

    Parameters
    ----------
    model : SubsetModel
        The problem.
    x : ndarray of 0/1, shape (n,)
        The current selection.

    Returns
    -------
    ndarray of shape (n,)
    """
    field = model.linear + model.quadratic @ x
    return np.where(x == 1, field, -field)


def choose_window(
    model: SubsetModel, x: np.ndarray, size: int, avoid: np.ndarray | None = None
) -> np.ndarray:
    """``size`` variables of highest energy impact: up to half of them chosen ones, the rest
    unchosen; unchosen variables in ``avoid`` (the last window that did not help) come last.

    Parameters
    ----------
    model : SubsetModel
        The problem.
    x : ndarray of 0/1, shape (n,)
        The current selection.
    size : int
        Window size (what fits the QPU).
    avoid : ndarray of int, optional
        The last window that did not help.

    Returns
    -------
    ndarray of int, shape (size,)
        Variable positions.
    """
    impact = energy_impact(model, x.astype(np.float64))
    chosen, unchosen = np.flatnonzero(x == 1), np.flatnonzero(x == 0)
    n_in = min(len(chosen), max(size // 2, size - len(unchosen)))
    n_out = min(size - n_in, len(unchosen))
    top_in = chosen[np.argsort(-impact[chosen], kind="stable")[:n_in]]
    rank = -impact[unchosen]
    if avoid is not None:
        rank = rank + np.where(np.isin(unchosen, avoid), np.inf, 0.0)
    top_out = unchosen[np.argsort(rank, kind="stable")[:n_out]]
    return np.sort(np.concatenate([top_in, top_out]))


def window_model(model: SubsetModel, x: np.ndarray, window: np.ndarray) -> SubsetModel:
    """The problem over ``window`` with every other variable fixed at its value in ``x``.

    Parameters
    ----------
    model : SubsetModel
        The problem.
    x : ndarray of 0/1, shape (n,)
        The current selection; fixes every variable outside ``window``.
    window : ndarray of int
        The free variables.

    Returns
    -------
    SubsetModel
        Choosing as many of ``window`` as ``x`` does.
    """
    inside = np.zeros(model.n, dtype=bool)
    inside[window] = True
    fixed = dataclasses.replace(model, forced_in=(x == 1) & ~inside, forced_out=(x == 0) & ~inside)
    sub, free = fixed.reduced()
    assert np.array_equal(free, window)
    return sub


def _best_window_state(sub: SubsetModel, states: np.ndarray, rng) -> tuple[np.ndarray, bool]:
    """The best feasible window sample, or the best repaired one (and whether it was)."""
    feasible = sub.feasible_rows(states)
    values = np.asarray(sub.objective(states), dtype=np.float64).reshape(-1)
    if feasible.any():
        return states[feasible][np.argmin(values[feasible])], False
    mended = np.stack([repair(sub, states[i], rng) for i in np.argsort(values)[:5]])
    return mended[np.argmin(sub.objective(mended))], True


def window_search(
    model: SubsetModel,
    sample_window: Callable[[SubsetModel, int], Samples],
    *,
    size: int,
    seed: int,
    rounds: int = 8,
    patience: int = 3,
    start: np.ndarray | None = None,
) -> Samples:
    """Improve a selection of ``model`` by QPU-solved windows of ``size`` variables.

    ``sample_window(sub, seed)`` samples a window problem (the QPU path). The search starts
    from ``start`` (a feasible 0/1 vector) or else from the swap annealer's answer. Returns
    the final selection as :class:`Samples` whose ``info`` sums the QPU's access time over
    every call.

    Parameters
    ----------
    model : SubsetModel
        The problem.
    sample_window : callable
        ``sample_window(sub, seed) -> Samples`` for a window problem.
    size : int
        Window size.
    seed : int
        The only source of randomness.
    rounds : int, default=8
        Windows tried at most.
    patience : int, default=3
        Stop after this many windows without improvement.
    start : ndarray of 0/1, shape (n,), optional
        A feasible start; the swap annealer's answer when omitted.

    Returns
    -------
    Samples
    """
    rng = np.random.default_rng(seed)
    if start is None:
        states, values, _ = swap_anneal(model, seed=seed)
        x = states[int(np.argmin(values))].copy()
    else:
        x = np.asarray(start, dtype=np.int8).copy()
    best = float(model.objective(x))
    info = {
        "route": "window",
        "window": int(size),
        "start_objective": best,
        "rounds": 0,
        "qpu_calls": 0,
        "qpu_improvements": 0,
        "improvements": 0,
        "repaired_windows": 0,
        "qpu_access_seconds": 0.0,
        "chain_break_fractions": [],
    }
    avoid, stale = None, 0
    for _ in range(rounds):
        info["rounds"] += 1
        window = choose_window(model, x, size, avoid)
        sub = window_model(model, x, window)
        draw = int(rng.integers(0, 2**31 - 1))
        answer = sample_window(sub, draw)
        info["qpu_calls"] += 1
        info["qpu_access_seconds"] += answer.info.get("qpu_access_seconds", 0.0)
        info["chain_break_fractions"].append(answer.info.get("chain_break_fraction"))
        y, mended = _best_window_state(sub, answer.states, rng)
        info["repaired_windows"] += int(mended)
        moved = x.copy()
        moved[window] = y
        qpu_value = float(model.objective(moved))
        info["qpu_improvements"] += int(below(qpu_value, best))
        searched, found, _ = swap_anneal(
            model, seed=draw, initial_states=moved[None], num_reads=1, agree=0, num_sweeps=0
        )
        value = float(found[0])
        if below(value, best):
            x, best, avoid, stale = searched[0].copy(), value, None, 0
            info["improvements"] += 1
        else:
            avoid, stale = window[x[window] == 0], stale + 1
            if stale >= patience:
                break
    info["final_objective"] = best
    return Samples(x[None].astype(np.int8), info)

"""Turning any 0/1 vector into a feasible selection, and improving it.

Penalty backends (neal, tabu, the QPU, hybrid BQM) can return samples that break the cardinality
or a group bound. Rather than hand such a sample to a user, we repair it with the cheapest greedy
moves that restore feasibility; :func:`polish` then improves it with steepest-descent swaps.
Callers mark the result as repaired, so the user always knows.
"""

from __future__ import annotations

import numpy as np

from qanneal_llm import _kernels
from qanneal_llm.qubo.model import InfeasibleModelError, SubsetModel


def kernel_arrays(model: SubsetModel):
    """The model's arrays in the contiguous dtypes the compiled kernels take.

    Parameters
    ----------
    model : SubsetModel
        The model.

    Returns
    -------
    tuple of ndarray
        ``(linear, quadratic, groups, group_min, group_max)``: float64, float64, int64
        ``(n_groups, n)`` membership, int64 bounds.
    """
    n = model.n
    groups = model.groups.astype(np.int64) if model.groups.size else np.zeros((0, n), np.int64)
    bounds = model.group_bounds if model.groups.size else np.zeros((0, 2), np.int64)
    return (
        np.ascontiguousarray(model.linear, dtype=np.float64),
        np.ascontiguousarray(model.quadratic, dtype=np.float64),
        np.ascontiguousarray(groups),
        np.ascontiguousarray(bounds[:, 0], dtype=np.int64),
        np.ascontiguousarray(bounds[:, 1], dtype=np.int64),
    )


def feasible_start(model: SubsetModel, rng: np.random.Generator, attempts: int = 50) -> np.ndarray:
    """A random feasible selection (uniform over k-subsets when there are no groups).

    Parameters
    ----------
    model : SubsetModel
        The model.
    rng : numpy.random.Generator
        The only source of randomness.
    attempts : int, default=50
        Randomised greedy fills tried before giving up on group bounds.

    Returns
    -------
    ndarray of int8, shape (n,)

    Raises
    ------
    InfeasibleModelError
        If no attempt meets every group bound.
    """
    n, k = model.n, model.k
    if not model.groups.size:
        x = np.zeros(n, dtype=np.int8)
        x[rng.choice(n, size=k, replace=False)] = 1
        return x
    for _ in range(attempts):
        x = _greedy_fill(model, np.zeros(n, np.int8), rng.permutation(n), rng)
        if x is not None:
            return x
    raise InfeasibleModelError(
        f"found no selection of {k} that meets every group bound in {attempts} randomised"
        " attempts; check that the group minimums and maximums can be met together"
    )


def _greedy_fill(model, x, order, rng):
    groups, (lo, hi) = model.groups, model.group_bounds.T
    counts = groups[:, x.astype(bool)].sum(axis=1)
    total = int(x.sum())
    for g in rng.permutation(len(groups)):
        for i in order:
            if counts[g] >= lo[g] or total >= model.k:
                break
            if groups[g, i] and not x[i] and np.all(counts + groups[:, i] <= hi):
                x[i] = 1
                counts += groups[:, i]
                total += 1
    for i in order:
        if total >= model.k:
            break
        if not x[i] and np.all(counts + groups[:, i] <= hi):
            x[i] = 1
            counts += groups[:, i]
            total += 1
    return x if model.is_feasible(x) else None


def repair(model: SubsetModel, x, rng: np.random.Generator) -> np.ndarray:
    """A feasible selection close to ``x``: drop the costliest, then add the cheapest.

    Candidates are dropped while too many are chosen or a group is over its maximum (the one
    whose removal lowers the objective most first), then added while too few are chosen or a
    group is under its minimum (cheapest first, members of groups under their minimum first).
    If greedy moves cannot meet the bounds, a random feasible start is used instead.

    Parameters
    ----------
    model : SubsetModel
        The model ``x`` should satisfy.
    x : array-like of 0/1, shape (n,)
        A possibly infeasible sample (e.g. a QPU answer with broken chains).
    rng : numpy.random.Generator
        Used only for the random fallback.

    Returns
    -------
    ndarray of int8, shape (n,)
        Feasible.
    """
    x = np.asarray(x).astype(np.int8).copy()
    h, J = model.linear, model.quadratic
    groups, (lo, hi) = model.groups, model.group_bounds.T
    for _ in range(model.n):
        chosen = x.astype(bool)
        counts = groups[:, chosen].sum(axis=1)
        over = counts > hi
        if chosen.sum() <= model.k and not over.any():
            break
        field = h + J @ x
        if over.any():
            mask = chosen & groups[over].any(axis=0)
        else:
            keeps_minimums = np.all(counts[:, None] - groups >= lo[:, None], axis=0)
            mask = chosen & keeps_minimums if (chosen & keeps_minimums).any() else chosen
        candidates = np.flatnonzero(mask)
        x[candidates[np.argmax(field[candidates])]] = 0
    for _ in range(model.n):
        chosen = x.astype(bool)
        counts = groups[:, chosen].sum(axis=1)
        under = counts < lo
        if chosen.sum() >= model.k:
            break
        field = h + J @ x
        mask = ~chosen
        if groups.size:
            mask &= np.all(counts[:, None] + groups <= hi[:, None], axis=0)
            if under.any() and (mask & groups[under].any(axis=0)).any():
                mask &= groups[under].any(axis=0)
        candidates = np.flatnonzero(mask)
        if not candidates.size:
            break
        x[candidates[np.argmin(field[candidates])]] = 1
    if model.is_feasible(x):
        return x
    return feasible_start(model, rng)


def polish(model: SubsetModel, xs) -> tuple[np.ndarray, np.ndarray]:
    """Steepest-descent swaps (one chosen out, one unchosen in) from each feasible row of ``xs``.

    Parameters
    ----------
    model : SubsetModel
        The model.
    xs : array-like of 0/1, shape (m, n) or (n,)
        Feasible starting states.

    Returns
    -------
    states : ndarray of int8, shape (m, n)
        Local optima under swaps, still feasible.
    objectives : ndarray of float64, shape (m,)
        Their objectives.
    """
    xs = np.atleast_2d(np.asarray(xs, dtype=np.int8))
    h, J, G, lo, hi = kernel_arrays(model)
    states, energies = _kernels.polish_states(h, J, G, lo, hi, np.ascontiguousarray(xs))
    return states, energies + model.offset

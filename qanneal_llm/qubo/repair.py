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
    x = np.zeros(n, dtype=np.int8)
    if not model.groups.size:
        x[rng.choice(n, size=k, replace=False)] = 1
        return x
    fill = _greedy_filler(model)
    for _ in range(attempts):
        if fill(x, rng.permutation(n), rng):
            return x
    raise InfeasibleModelError(
        f"found no selection of {k} that meets every group bound in {attempts}"
        " randomised attempts; check that the group minimums and maximums can be met"
        " together"
    )


def _greedy_filler(model):
    """``fill(x, order, rng)``: fill an empty ``x`` up to k in ``order``, members of groups
    under their minimum first (groups in a random order), then anyone who keeps every maximum;
    returns whether that met every bound (``x`` is left empty when not).

    Plain Python on lists: numpy's per-call overhead on these tiny arrays cost more than
    annealing the problem (benchmarks/batch_slates.py).
    """
    lo, hi = (b.tolist() for b in model.group_bounds.T)
    items, member_groups = np.nonzero(model.groups.T)  # sorted by item
    ends = np.searchsorted(items, np.arange(model.n + 1)).tolist()
    member_groups = member_groups.tolist()
    member_of = [member_groups[a:b] for a, b in zip(ends[:-1], ends[1:], strict=True)]
    k, plain = model.k, model.forced_in is None and model.forced_out is None

    def fill(x, order, rng):
        xs = [0] * len(member_of)
        counts = [0] * len(lo)
        total = 0
        room = all(h >= 0 for h in hi)  # a maximum below zero refuses every addition

        def fits(i):
            return room and not xs[i] and all(counts[q] < hi[q] for q in member_of[i])

        def add(i):
            xs[i] = 1
            for q in member_of[i]:
                counts[q] += 1

        order = order.tolist()
        for g in rng.permutation(len(lo)).tolist():
            for i in order:
                if counts[g] >= lo[g] or total >= k:
                    break
                if g in member_of[i] and fits(i):
                    add(i)
                    total += 1
        for i in order:
            if total >= k:
                break
            if fits(i):
                add(i)
                total += 1
        x[:] = xs
        if plain:
            ok = total == k and all(a <= c <= b for a, c, b in zip(lo, counts, hi, strict=True))
        else:
            ok = bool(model.feasible_rows(x)[0])
        if not ok:
            x[:] = 0
        return ok

    return fill


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

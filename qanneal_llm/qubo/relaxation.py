"""The convex relaxation of a selection whose pairwise costs are a Gram matrix, and its bound.

When ``quadratic = F @ F.T`` off the diagonal (a slate built from vectors: ``F`` is the unit
vectors times ``sqrt(diversity)``), reading each ``x_i^2`` as ``x_i`` gives

    f(x) = offset + (linear - |F_i|^2 / 2) @ x + |F.T @ x|^2 / 2,

which equals the objective on every 0/1 selection and is convex over the relaxed ones
(``0 <= x <= 1``, ``sum x = k``, the group bounds). Its minimum is a lower bound on every
selection's objective: a certificate a user can quote for slates too big for an exact solver.
And its support is a short list that holds the best selections: on four tuning slates (2,000
candidates, k = 100, 64-d vectors, other seeds than ``benchmarks/hard.py``'s) it kept 319-340
candidates, and every item of the best selection kept for each (10-20 s answers) was among
them; on a 1,000-candidate one, one item of 50 was not, which is why a search of the support
alone is followed by one on every candidate (``benchmarks/RESULTS.md``).

Frank-Wolfe fits: its linear step is a top-k under the group bounds (:func:`top_k`, exact when
each candidate is in at most one group, so every step's bound is valid), its line
search is exact for a quadratic, and each step costs two sorts and two ``n x d`` products.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from qanneal_llm._validation import positive_int
from qanneal_llm.qubo.model import InfeasibleModelError, SubsetModel

#: A relaxed value above this puts a candidate in the support (Frank-Wolfe leaves the
#: candidates of early steps with weights that shrink geometrically but never reach 0).
SUPPORT = 1e-6


@dataclass(frozen=True)
class Relaxation:
    """A Frank-Wolfe run on the relaxation of a model.

    ``x`` is the relaxed selection reached, ``value`` the relaxed objective there, ``bound``
    a lower bound on the objective of every feasible selection (the best Frank-Wolfe gap
    bound seen), ``steps`` the steps taken and ``seconds`` their time.
    """

    x: np.ndarray
    value: float
    bound: float
    steps: int
    seconds: float

    @property
    def support(self) -> np.ndarray:
        """Candidates the relaxed selection uses (a boolean mask)."""
        return self.x > SUPPORT


def relaxable(model: SubsetModel) -> bool:
    """Whether :func:`relax` applies: the model carries a Gram ``factor``, has no forced
    candidates (relax its :meth:`~SubsetModel.reduced` model) and each candidate is in at most
    one group (overlapping groups, such as films with several genres, make the linear step an
    LP that :func:`top_k` does not solve)."""
    return model.factor is not None and not model.has_forced and _disjoint_groups(model)


def _disjoint_groups(model: SubsetModel) -> bool:
    """Whether each candidate is in at most one group."""
    return not model.groups.size or int(model.groups.sum(axis=0).max()) <= 1


def relaxed_objective(model: SubsetModel, x) -> float:
    """The relaxation's objective at a relaxed selection ``x`` (the model's objective when
    ``x`` is 0/1)."""
    x = np.asarray(x, dtype=np.float64)
    s = model.factor.T @ x
    return float(model.offset + _relaxed_cost(model) @ x + 0.5 * s @ s)


def _relaxed_cost(model: SubsetModel) -> np.ndarray:
    """The relaxation's linear term, ``linear - |F_i|^2 / 2``: reading ``x_i^2`` as ``x_i``
    takes back the diagonal that ``|F.T @ x|^2`` adds."""
    F = model.factor
    return model.linear - 0.5 * np.einsum("ij,ij->i", F, F)


def top_k(model: SubsetModel, weights) -> np.ndarray:
    """The feasible selection of least ``weights @ x``: each group's minimum from its
    cheapest members, then the cheapest of the rest under the group maximums.

    Over disjoint groups the constraint matrix is totally unimodular, so this 0/1 selection is
    also the minimum over the relaxed selections (Frank-Wolfe's linear step); ``top_k(model,
    -x)`` rounds a relaxed ``x`` to the feasible selection nearest it.

    Raises
    ------
    ValueError
        If a candidate is in more than one group (see :func:`relaxable`).
    InfeasibleModelError
        If the group bounds cannot be met.
    """
    return _top_k_of(model)(weights)


def _top_k_of(model: SubsetModel):
    """:func:`top_k` for ``model`` as a function of the weights, its group lookup done once
    (a Frank-Wolfe step then costs two sorts, the second a radix sort of small ints)."""
    n, k = model.n, model.k
    n_groups = model.groups.shape[0] if model.groups.size else 0
    group_of = np.full(n, n_groups, np.int16 if n_groups < 2**15 - 1 else np.int64)
    if not _disjoint_groups(model):
        raise ValueError("top_k needs each candidate in at most one group")
    if n_groups:
        member, where = np.nonzero(model.groups)
        group_of[where] = member
    lo = np.append(model.group_bounds[:n_groups, 0], 0)
    hi = np.append(model.group_bounds[:n_groups, 1], k)
    places = np.arange(n)
    labels = np.arange(n_groups + 1)

    def solve(weights) -> np.ndarray:
        order = np.argsort(weights)
        group = group_of[order]
        by_group = np.argsort(group, kind="stable")
        first = np.searchsorted(group[by_group], labels)
        rank = np.empty(n, np.int64)  # each candidate's place in its group, cheapest first
        rank[by_group] = places - first[group[by_group]]
        needed = rank < lo[group]
        extra = np.flatnonzero(~needed & (rank < hi[group]))[: k - int(needed.sum())]
        if needed.sum() > k or needed.sum() + len(extra) < k:
            raise InfeasibleModelError(
                f"no selection of {k} meets the group bounds: the minimums need"
                f" {int(needed.sum())} and the maximums allow {int(needed.sum()) + len(extra)}"
            )
        x = np.zeros(n, np.int8)
        x[order[needed]] = 1
        x[order[extra]] = 1
        return x

    return solve


def relax(model: SubsetModel, *, steps: int = 300, deadline: float | None = None) -> Relaxation:
    """Minimise the convex relaxation of ``model`` by Frank-Wolfe.

    Parameters
    ----------
    model : SubsetModel
        A model :func:`relaxable` accepts.
    steps : int, default=300
        At most this many steps (300 take about 0.04 s at n = 2,000, d = 64); it stops earlier
        when the gap closes.
    deadline : float, optional
        A ``time.perf_counter()`` value to stop at (after at least one step).

    Returns
    -------
    Relaxation
    """
    if not relaxable(model):
        raise ValueError(
            "relax needs a model with a Gram factor (slate_model(vectors=...)), no forced"
            " candidates (relax model.reduced()[0]) and each candidate in at most one group"
        )
    steps = positive_int(steps, "steps", fix="Frank-Wolfe needs at least one step")
    start = time.perf_counter()
    F = model.factor
    cost = _relaxed_cost(model)
    linear_step = _top_k_of(model)
    x = linear_step(model.linear).astype(np.float64)
    s = F.T @ x
    bound = -np.inf
    step = 0
    while step < steps and (step == 0 or deadline is None or time.perf_counter() < deadline):
        step += 1
        value = cost @ x + 0.5 * s @ s
        gradient = cost + F @ s
        d = linear_step(gradient) - x
        slope = gradient @ d
        bound = max(bound, value + slope)
        if slope >= -1e-12 * (1.0 + abs(value)):
            break
        sd = F.T @ d
        curvature = sd @ sd
        gamma = 1.0 if curvature <= 0 else min(1.0, -slope / curvature)
        x += gamma * d
        s += gamma * sd
    value = relaxed_objective(model, x)
    return Relaxation(
        x=x,
        value=value,
        bound=min(float(bound + model.offset), value),
        steps=step,
        seconds=time.perf_counter() - start,
    )

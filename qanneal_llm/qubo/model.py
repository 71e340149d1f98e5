"""The one model every builder returns: choose exactly ``k`` of ``n`` candidates.

Feature selection, slates and portfolios are all "keep k of n, minimise a quadratic objective,
respect some counts". Holding them in one type lets one set of solvers, one feasibility check and
one repair serve all three, and lets each backend pick the form it needs: the constrained form
(exact cardinality and group bounds) for the local annealer and Leap's CQM solver, or the
penalty BQM for neal, tabu and the QPU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import dimod
import numpy as np

from qanneal_llm._validation import cardinality, finite_array, square_symmetric

#: Random probes that check a factor against the quadratic (:func:`gram_factor`).
GRAM_PROBES = 4


class InfeasibleModelError(ValueError):
    """The constraints admit no selection (e.g. group minimums that add up to more than k)."""


@dataclass(frozen=True, eq=False)
class SubsetModel:
    """Choose exactly ``k`` of ``n`` candidates minimising ``objective(x)``.

    ``objective(x) = offset + linear @ x + sum_{i<j} quadratic[i, j] x_i x_j`` for a 0/1 vector
    ``x``; ``quadratic`` is symmetric with a zero diagonal. ``components`` keeps the named terms
    the builder summed (e.g. relevance and similarity), so a result can say how much each
    contributed; either part of a component may be ``None`` for zero. ``factor``, when known,
    holds rows ``F`` with ``quadratic = F @ F.T`` off the diagonal (a slate built from vectors):
    the objective is then convex over relaxed selections, which gives a lower bound and a
    short list of likely candidates (:mod:`qanneal_llm.qubo.relaxation`). Build it with
    :func:`subset_model` or one of the builders in :mod:`qanneal_llm.qubo`, which validate
    their input.
    """

    linear: np.ndarray
    quadratic: np.ndarray
    k: int
    ids: np.ndarray
    offset: float = 0.0
    groups: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    group_bounds: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    group_names: tuple = ()
    forced_in: np.ndarray | None = None
    forced_out: np.ndarray | None = None
    factor: np.ndarray | None = None
    components: Mapping[str, tuple[np.ndarray | None, np.ndarray | None]] = field(
        default_factory=dict
    )
    name: str = "subset"

    @property
    def n(self) -> int:
        """Number of candidates."""
        return int(self.linear.shape[0])

    # -- evaluation ---------------------------------------------------------------------------
    def objective(self, x) -> np.ndarray | float:
        """Objective of one 0/1 vector or of each row of a matrix of them.

        Parameters
        ----------
        x : array-like of shape (n,) or (m, n)
            Selections.

        Returns
        -------
        float or ndarray of shape (m,)
        """
        return _quadratic_value(np.asarray(x, dtype=np.float64), self.linear, self.quadratic) + (
            self.offset
        )

    def breakdown(self, x) -> dict[str, float]:
        """Value of each named component at ``x``; they sum to the objective minus the offset.

        Parameters
        ----------
        x : array-like of shape (n,)
            A selection.

        Returns
        -------
        dict of str to float
        """
        x = np.asarray(x, dtype=np.float64)
        return {
            name: float(_quadratic_value(x, lin, quad))
            for name, (lin, quad) in self.components.items()
        }

    def violations(self, x) -> list[str]:
        """Human-readable list of every constraint ``x`` breaks; empty when feasible.

        Parameters
        ----------
        x : array-like of shape (n,)
            A selection.

        Returns
        -------
        list of str
        """
        x = np.asarray(x)
        if x.shape != (self.n,):
            raise ValueError(f"a sample must have shape ({self.n},), got {x.shape}")
        if not np.all((x == 0) | (x == 1)):
            return ["values other than 0 and 1"]
        chosen = x.astype(bool)
        out = []
        if chosen.sum() != self.k:
            out.append(f"cardinality: chose {int(chosen.sum())}, need exactly {self.k}")
        if self.groups.size:
            counts = self.groups[:, chosen].sum(axis=1)
            for name, c, (lo, hi) in zip(self.group_names, counts, self.group_bounds, strict=True):
                if not lo <= c <= hi:
                    out.append(f"group {name!r}: chose {int(c)}, allowed {int(lo)}..{int(hi)}")
        if self.forced_in is not None and not np.all(chosen[self.forced_in]):
            out.append("a forced-in candidate is missing")
        if self.forced_out is not None and np.any(chosen[self.forced_out]):
            out.append("a forced-out candidate is chosen")
        return out

    def is_feasible(self, x) -> bool:
        """Whether ``x`` meets every constraint; :meth:`violations` says which it breaks.

        Parameters
        ----------
        x : array-like of shape (n,)

        Returns
        -------
        bool
        """
        return not self.violations(x)

    def feasible_rows(self, states) -> np.ndarray:
        """Whether each row of ``states`` meets every constraint.

        The vectorised :meth:`is_feasible`, for checking many samples at once.

        Parameters
        ----------
        states : array-like of shape (m, n)
            Selections.

        Returns
        -------
        ndarray of bool, shape (m,)
        """
        states = np.atleast_2d(np.asarray(states))
        ok = np.all((states == 0) | (states == 1), axis=1) & (states.sum(axis=1) == self.k)
        if self.groups.size:
            counts = states @ self.groups.T.astype(np.int64)
            lo, hi = self.group_bounds[:, 0], self.group_bounds[:, 1]
            ok &= np.all((counts >= lo) & (counts <= hi), axis=1)
        if self.forced_in is not None:
            ok &= np.all(states[:, self.forced_in] == 1, axis=1)
        if self.forced_out is not None:
            ok &= np.all(states[:, self.forced_out] == 0, axis=1)
        return ok

    def decode(self, x) -> list:
        """The ids of the chosen candidates, in candidate order.

        Parameters
        ----------
        x : array-like of 0/1, shape (n,)
            A selection.

        Returns
        -------
        list
        """
        return self.ids[np.asarray(x).astype(bool)].tolist()

    # -- forced candidates --------------------------------------------------------------------
    def reduced(self) -> tuple[SubsetModel, np.ndarray]:
        """The model over the free candidates only, and their positions in this model.

        Forced-in candidates move into the offset and the linear terms; forced-out ones vanish.
        Solvers work on the reduced model, so a forced choice can never be undone by a backend.
        """
        fin = self.forced_in if self.forced_in is not None else np.zeros(self.n, bool)
        fout = self.forced_out if self.forced_out is not None else np.zeros(self.n, bool)
        if not fin.any() and not fout.any():
            return self, np.arange(self.n)
        free = np.flatnonzero(~fin & ~fout)
        xin = fin.astype(np.float64)
        linear = self.linear[free] + self.quadratic[np.ix_(free, np.flatnonzero(fin))].sum(axis=1)
        counts_in = self.groups[:, fin].sum(axis=1) if self.groups.size else np.zeros(0, int)
        bounds = np.maximum(self.group_bounds - counts_in[:, None], 0)
        model = SubsetModel(
            linear=linear,
            quadratic=self.quadratic[np.ix_(free, free)],
            k=self.k - int(fin.sum()),
            ids=self.ids[free],
            offset=float(self.objective(xin)),
            groups=self.groups[:, free] if self.groups.shape[1] == self.n else self.groups,
            group_bounds=bounds,
            group_names=self.group_names,
            factor=None if self.factor is None else self.factor[free],
            components={},
            name=self.name,
        )
        return model, free

    def expand(self, x_free, free: np.ndarray) -> np.ndarray:
        """Lift a sample of :meth:`reduced` back to this model's candidates.

        Parameters
        ----------
        x_free : array-like of shape (..., n_free)
            Samples over the free candidates.
        free : ndarray of int
            Their positions, as returned by :meth:`reduced`.

        Returns
        -------
        ndarray of int8, shape (..., n)
            With forced-in candidates set.
        """
        x_free = np.asarray(x_free)
        x = np.zeros(x_free.shape[:-1] + (self.n,), dtype=np.int8)
        if self.forced_in is not None:
            x[..., self.forced_in] = 1
        x[..., free] = x_free
        return x

    # -- dimod forms --------------------------------------------------------------------------
    def penalty_strength(self) -> float:
        """A penalty weight large enough that breaking a constraint never pays.

        Adding one candidate to a feasible selection changes the objective by at most
        ``|h_i| + sum of the k largest |J_ij|``; removing one by less. A weight above the largest
        such change makes every one-step violation cost more than it can gain, and violations of
        size m cost m^2 times as much. Larger weights only squeeze the objective into fewer bits
        of QPU precision, so we stay just above the bound.
        """
        absq = np.abs(self.quadratic)
        kk = min(self.k, max(self.n - 1, 1))
        top = -np.partition(-absq, kk - 1, axis=1)[:, :kk].sum(axis=1) if self.n > 1 else 0.0
        bound = float(np.max(np.abs(self.linear) + top))
        return 1.1 * bound if bound > 0 else 1.0

    def to_bqm(self, penalty: float | None = None) -> dimod.BinaryQuadraticModel:
        """Penalty form: objective + penalty * (sum x - k)^2, plus slack-bit group penalties.

        Variables are the integer positions ``0..n-1`` (slack bits are strings). Forced
        candidates must be removed first with :meth:`reduced`.

        Parameters
        ----------
        penalty : float, optional
            The penalty weight; :meth:`penalty_strength` when omitted.

        Returns
        -------
        dimod.BinaryQuadraticModel
        """
        self._require_no_forced("to_bqm")
        a = self.penalty_strength() if penalty is None else float(penalty)
        if not a > 0:
            raise ValueError(f"penalty must be positive, got {penalty!r}")
        n, k = self.n, self.k
        upper = np.triu(self.quadratic, 1) + np.triu(np.full((n, n), 2.0 * a), 1)
        upper[np.diag_indices(n)] = self.linear + a * (1.0 - 2.0 * k)
        bqm = dimod.BinaryQuadraticModel(upper, "BINARY")
        bqm.offset = self.offset + a * k * k
        for name, members, (lo, hi) in self._active_groups():
            terms = [(int(i), 1) for i in members]
            bqm.add_linear_inequality_constraint(
                terms, lagrange_multiplier=a, label=f"slack_{name}", lb=int(lo), ub=int(hi)
            )
        return bqm

    def to_cqm(self) -> dimod.ConstrainedQuadraticModel:
        """Constrained form: the objective with exact cardinality and group bounds."""
        self._require_no_forced("to_cqm")
        n = self.n
        upper = np.triu(self.quadratic, 1)
        upper[np.diag_indices(n)] = self.linear
        objective = dimod.BinaryQuadraticModel(upper, "BINARY")
        objective.offset = self.offset
        cqm = dimod.ConstrainedQuadraticModel()
        cqm.set_objective(objective)
        cqm.add_constraint_from_iterable(
            [(i, 1) for i in range(n)], "==", rhs=self.k, label="cardinality"
        )
        for name, members, (lo, hi) in self._active_groups():
            terms = [(int(i), 1) for i in members]
            if lo > 0:
                cqm.add_constraint_from_iterable(terms, ">=", rhs=int(lo), label=f"{name}>=")
            if hi < len(members):
                cqm.add_constraint_from_iterable(terms, "<=", rhs=int(hi), label=f"{name}<=")
        return cqm

    def _active_groups(self):
        for name, row, (lo, hi) in zip(
            self.group_names, self.groups, self.group_bounds, strict=True
        ):
            members = np.flatnonzero(row)
            if lo > 0 or hi < len(members):
                yield name, members, (max(int(lo), 0), min(int(hi), len(members)))

    @property
    def has_forced(self) -> bool:
        """Whether some candidate is forced in or out (solvers work on :meth:`reduced`)."""
        return (self.forced_in is not None and bool(self.forced_in.any())) or (
            self.forced_out is not None and bool(self.forced_out.any())
        )

    def _require_no_forced(self, what: str) -> None:
        if self.has_forced:
            raise ValueError(
                f"{what}() needs a model without forced candidates; call reduced() first"
            )


def _quadratic_value(x: np.ndarray, linear, quadratic):
    """``linear @ x + x @ quadratic @ x / 2`` for one vector or each row; ``None`` parts are 0."""
    value = 0.0 if linear is None else x @ linear
    if quadratic is not None:
        value = value + 0.5 * np.sum((x @ quadratic) * x, axis=-1)
    return float(value) if np.ndim(value) == 0 else value


def subset_model(
    linear,
    quadratic,
    k: int,
    *,
    ids: Sequence | None = None,
    offset: float = 0.0,
    groups: Mapping[str, Sequence] | None = None,
    group_bounds: Mapping[str, tuple[int | None, int | None]] | None = None,
    forced_in: Sequence | None = None,
    forced_out: Sequence | None = None,
    components: Mapping[str, tuple[np.ndarray | None, np.ndarray | None]] | None = None,
    factor=None,
    name: str = "subset",
) -> SubsetModel:
    """Validate plain arrays and build a :class:`SubsetModel`.

    Parameters
    ----------
    linear : array-like of shape (n,)
        Per-candidate costs.
    quadratic : array-like of shape (n, n)
        Symmetric pairwise costs (the diagonal is ignored).
    k : int
        How many to choose, ``1..n``.
    ids : sequence, optional
        Candidate ids (default: positions).
    offset : float, default=0.0
        Constant added to the objective.
    groups : mapping of str to sequence, optional
        Group name -> ids of its members (a candidate may sit in several groups, e.g. a film's
        genres).
    group_bounds : mapping of str to (int or None, int or None), optional
        Group name -> ``(min, max)`` counts, ``None`` meaning unbounded.
    forced_in, forced_out : sequence, optional
        Ids that must / must not be chosen.
    components : mapping, optional
        Named ``(linear, quadratic)`` terms the costs are the sum of, for result breakdowns.
    factor : array-like of shape (n, d), optional
        Rows whose inner products are ``quadratic`` off the diagonal (checked), when the costs
        are a Gram matrix: the search then uses the convex relaxation
        (:mod:`qanneal_llm.qubo.relaxation`).
    name : str, default="subset"
        What the model is, for reports.

    Returns
    -------
    SubsetModel

    Raises
    ------
    InfeasibleModelError
        If the bounds admit no selection.

    Examples
    --------
    >>> m = subset_model([-1.0, -2.0, -3.0], [[0, 1, 0], [1, 0, 0], [0, 0, 0]], k=2,
    ...                  ids=["a", "b", "c"])
    >>> m.objective([0, 1, 1]), m.decode([0, 1, 1])
    (-5.0, ['b', 'c'])
    """
    linear = finite_array(linear, "linear", 1)
    n = linear.shape[0]
    quadratic = square_symmetric(quadratic, "quadratic", n).copy()
    np.fill_diagonal(quadratic, 0.0)
    k = cardinality(k, n)
    ids_arr = np.arange(n) if ids is None else np.asarray(list(ids), dtype=object)
    if ids_arr.shape != (n,):
        raise ValueError(f"ids must list one id per candidate ({n}), got {len(ids_arr)}")
    position = {key: i for i, key in enumerate(ids_arr.tolist())}
    if len(position) != n:
        raise ValueError("ids must be unique; found duplicates")
    if ids is None:
        ids_arr = ids_arr.astype(np.int64)

    def positions(keys, what: str) -> np.ndarray:
        keys = list(keys)
        unknown = [key for key in keys if key not in position]
        if unknown:
            raise ValueError(f"{what} names unknown ids {unknown[:5]}; use ids of the candidates")
        return np.array([position[key] for key in keys], dtype=np.int64)

    mask_in = np.zeros(n, dtype=bool)
    mask_out = np.zeros(n, dtype=bool)
    if forced_in is not None:
        mask_in[positions(forced_in, "forced_in")] = True
    if forced_out is not None:
        mask_out[positions(forced_out, "forced_out")] = True
    if np.any(mask_in & mask_out):
        raise ValueError("a candidate is both forced in and forced out")
    if mask_in.sum() > k:
        raise InfeasibleModelError(f"{int(mask_in.sum())} candidates are forced in but k = {k}")
    if n - mask_out.sum() < k:
        raise InfeasibleModelError(f"only {n - int(mask_out.sum())} candidates remain for k = {k}")

    groups = dict(groups or {})
    group_bounds = dict(group_bounds or {})
    unknown_groups = set(group_bounds) - set(groups)
    if unknown_groups:
        raise ValueError(f"group_bounds names groups {sorted(unknown_groups)} missing from groups")
    names = tuple(groups)
    membership = np.zeros((len(names), n), dtype=bool)
    bounds = np.zeros((len(names), 2), dtype=np.int64)
    for g, gname in enumerate(names):
        membership[g, positions(groups[gname], f"group {gname!r}")] = True
        lo, hi = group_bounds.get(gname, (None, None))
        size = int(membership[g].sum())
        lo = 0 if lo is None else int(lo)
        hi = min(size, k) if hi is None else int(hi)
        if lo > min(size, k):
            raise InfeasibleModelError(
                f"group {gname!r} needs at least {lo} but has {size} members and k = {k}"
            )
        if lo < 0 or hi < lo:
            raise ValueError(f"group {gname!r}: bounds ({lo}, {hi}) need 0 <= min <= max")
        bounds[g] = (lo, hi)
        if int(membership[g, mask_in].sum()) > hi:
            raise InfeasibleModelError(f"group {gname!r}: more forced-in members than its max {hi}")
    return SubsetModel(
        linear=linear,
        quadratic=quadratic,
        k=k,
        ids=ids_arr,
        offset=float(offset),
        groups=membership,
        group_bounds=bounds,
        group_names=names,
        forced_in=mask_in if mask_in.any() else None,
        forced_out=mask_out if mask_out.any() else None,
        factor=None if factor is None else gram_factor(factor, quadratic),
        components=_shared_components(components or {}, linear, quadratic),
        name=name,
    )


def gram_factor(factor, quadratic: np.ndarray) -> np.ndarray:
    """``factor`` as float64, checked to give ``quadratic`` off the diagonal: a factor that did
    not match would make the relaxation's lower bound a false claim.

    The check compares ``quadratic @ r`` with ``factor @ (factor.T @ r)`` less the diagonal
    for a few seeded Gaussian ``r`` (Freivalds' test): O(n^2), where forming ``factor @
    factor.T`` again, as the builder already did for the similarity, costs O(n^2 d) (n = 5,000,
    d = 384: 0.08 s against 0.30 s; n = 2,000, d = 64: 0.007 against 0.020 s).
    """
    n = quadratic.shape[0]
    factor = finite_array(factor, "factor", 2)
    if factor.shape[0] != n:
        raise ValueError(f"factor has {factor.shape[0]} rows for {n} candidates")
    probes = np.random.default_rng(0).normal(size=(n, GRAM_PROBES))
    diagonal = np.einsum("ij,ij->i", factor, factor)
    gap = quadratic @ probes - (factor @ (factor.T @ probes) - diagonal[:, None] * probes)
    tol = 1e-8 * (1.0 + float(np.max(np.abs(quadratic), initial=0.0))) * np.sqrt(n)
    if np.max(np.abs(gap), initial=0.0) > tol:
        raise ValueError(
            "factor @ factor.T does not equal quadratic off the diagonal; pass the rows whose"
            " inner products are the pairwise costs, or no factor"
        )
    return factor


def _shared_components(components, linear, quadratic) -> dict:
    """Components that equal the model's own terms point at them: one copy in memory and in a
    pickle (half the bytes a slate model costs to ship to another process)."""
    own = {}
    for name, (lin, quad) in components.items():
        if lin is not None and np.shape(lin) == linear.shape and np.array_equal(lin, linear):
            lin = linear
        if quad is not None and np.shape(quad) == quadratic.shape:
            if np.array_equal(quad, quadratic):
                quad = quadratic
        own[name] = (lin, quad)
    return own

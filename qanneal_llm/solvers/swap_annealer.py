"""The constraint-preserving simulated annealer, with the face Ocean users know.

:func:`swap_anneal` works on a :class:`~qanneal_llm.qubo.SubsetModel` directly.
:class:`SwapAnnealingSampler` wraps it in the interface of Leap's ``LeapHybridCQMSampler``:
``sample_cqm(cqm)`` returns a ``dimod.SampleSet`` with ``is_feasible``, so Ocean code can swap
Leap's hybrid CQM solver for this local one, and back, without touching anything else.

Why swaps: a penalty QUBO asks single-bit-flip annealing (neal) to climb out of every feasible
state through an infeasible one; at its defaults it ends 22-83% above the certified optimum
on our slate, portfolio and feature benchmarks. Moves that exchange a chosen candidate for an
unchosen one stay feasible and reach the optimum in a fraction of the time
(``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import dimod
import numpy as np

from qanneal_llm._validation import available_cores, positive_int
from qanneal_llm.qubo.model import SubsetModel, subset_model
from qanneal_llm.qubo.relaxation import SUPPORT, relax, relaxable, top_k
from qanneal_llm.qubo.repair import feasible_start, kernel_arrays
from qanneal_llm.solvers.anytime import (
    DEFAULT_ROUND_STALL,
    DEFAULT_ROUNDS_PER_READ,
    PLATEAU_TIES,
    check_time_limit,
    improve,
    plan_info,
    plan_reads,
    run_anytime,
    tied_share,
)
from qanneal_llm.solvers.base import below, check_options

#: Frank-Wolfe steps of a time limit's relaxation (0.04 s at n = 2,000, d = 64), and the share
#: of the limit it may take at most.
RELAX_STEPS = 300
RELAX_SHARE = 0.1
#: The searches of the relaxation's candidates alone that come before the one of every
#: candidate, each ``(relaxed value a candidate needs, share of the time left it takes)``:
#: the short list of clearly used candidates (about 150 of 2,000 on the tuning slates), then
#: the whole support (about 330), then every candidate for the rest.
CORES = ((0.01, 0.6), (SUPPORT, 0.5))
#: A list of candidates is searched alone only when it leaves out at least half of them.
CORE_MAX = 0.5


@dataclass
class AnnealPlan:
    """Everything one kernel call needs, drawn up front from the seed, so a batch can run plans
    on threads and still give each problem exactly what a lone :func:`swap_anneal` would."""

    model: SubsetModel
    arrays: tuple
    x0: np.ndarray
    beta_range: np.ndarray
    num_sweeps: int
    seeds: np.ndarray
    agree: int
    local_search: bool
    tabu_iterations: int
    tabu_stall: int
    time_limit: float | None = None
    threads: int = 1
    warm_start: bool = False


def plan_anneal(
    model: SubsetModel,
    *,
    num_reads: int = 16,
    agree: int = 3,
    num_sweeps: int = 50,
    beta_range: tuple[float, float] | None = None,
    seed: int | None = None,
    local_search: bool = True,
    tabu_iterations: int | None = None,
    tabu_stall: int | str | None = "auto",
    initial_states: np.ndarray | None = None,
    time_limit: float | None = None,
    threads: int | None = None,
) -> AnnealPlan:
    """Check the options of :func:`swap_anneal` and draw its per-read seeds from ``seed``.

    Parameters
    ----------
    model : SubsetModel
        The problem (no forced candidates: solve the :meth:`~SubsetModel.reduced` model).
    num_reads, agree, num_sweeps, beta_range, local_search, tabu_iterations, tabu_stall
        As in :func:`swap_anneal`.
    seed : int, optional
        The only source of randomness.
    initial_states : ndarray of shape (num_reads, n), optional
        One feasible start per read (e.g. a previous answer), instead of random ones.
    time_limit : float, optional
        Seconds to keep searching (:mod:`~qanneal_llm.solvers.anytime`); none by default.
        The search returns at the limit, at most one steepest descent after it, even when
        the default's reads alone would take longer.
    threads : int, optional
        Threads the ``time_limit`` search runs its reads and rounds on (default: the cores
        this process may use). The default search always runs on one, so its answer is the
        same on every machine.

    Returns
    -------
    AnnealPlan
    """
    model._require_no_forced("swap_anneal")
    time_limit = check_time_limit(time_limit)
    if num_reads < 1 or num_sweeps < 0 or agree < 0:
        raise ValueError(
            f"need num_reads >= 1, num_sweeps >= 0 and agree >= 0, got {num_reads},"
            f" {num_sweeps}, {agree}"
        )
    threads = check_threads(threads)
    rng = np.random.default_rng(seed)
    if initial_states is not None:
        x0 = np.atleast_2d(np.asarray(initial_states, dtype=np.int8))
        bad = (
            np.flatnonzero(~model.feasible_rows(x0)).tolist() if x0.shape[1:] == (model.n,) else []
        )
        if x0.shape != (num_reads, model.n) or bad:
            raise ValueError(
                f"initial_states must be {num_reads} feasible rows of length {model.n}"
                + (f"; rows {bad[:5]} are infeasible" if bad else f", got shape {x0.shape}")
            )
    elif model.groups.size:
        # one start here, so a model whose bounds cannot be met fails up front with a clear
        # error; the kernel draws the starts of the later reads only if they run
        x0 = feasible_start(model, rng)[None]
    else:
        x0 = np.zeros((0, model.n), dtype=np.int8)
    if tabu_stall == "auto":
        tabu_stall = auto_tabu_stall(model.n, model.k)
    if tabu_iterations is None:
        tabu_iterations = max(200, model.n, 2 * (tabu_stall or 0))
    return AnnealPlan(
        model=model,
        arrays=kernel_arrays(model),
        x0=np.ascontiguousarray(x0),
        beta_range=np.array(beta_range if beta_range is not None else (0.0, 0.0), dtype=float),
        num_sweeps=int(num_sweeps),
        seeds=rng.integers(0, 2**31 - 1, size=num_reads),
        agree=int(agree),
        local_search=bool(local_search),
        tabu_iterations=int(tabu_iterations) if local_search else 0,
        tabu_stall=int(tabu_iterations if tabu_stall is None else tabu_stall),
        time_limit=time_limit,
        threads=threads,
        warm_start=initial_states is not None,
    )


def check_threads(threads) -> int:
    """``threads`` as an int (``None``: :func:`~qanneal_llm._validation.available_cores`); a
    ``ValueError`` naming the fix when it is not a positive integer."""
    if threads is None:
        return available_cores()
    return positive_int(threads, "threads", fix="omit it to use every core")


def auto_tabu_stall(n: int, k: int) -> int:
    """The default ``tabu_stall``: 100 steps, or twice the smaller side of the swap
    neighbourhood (``min(k, n - k)``) up to 500. A slate of 10 keeps the fast 100; rugged
    selections of hundreds (maximum diversity with integer weights) need a tabu walk long
    enough to cross their plateaus (``benchmarks/RESULTS.md``, tuned on other seeds than
    ``benchmarks/hard.py``'s)."""
    return max(100, min(500, 2 * min(k, n - k)))


def run_plan(plan: AnnealPlan) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run one plan: ``(states, objectives, info)``. Releases the GIL while it anneals.

    Parameters
    ----------
    plan : AnnealPlan
        From :func:`plan_anneal`.

    Returns
    -------
    states : ndarray of int8, shape (reads, n)
    objectives : ndarray of float64, shape (reads,)
    info : dict
        Reads run and allowed, the sweep and tabu settings, the temperature range used and
        ``anneal_seconds``; with a ``time_limit``, also ``time_to_best`` and ``restarts``
        (see :func:`~qanneal_llm.solvers.anytime.run_anytime`).
    """
    if plan.time_limit is not None:
        if not plan.warm_start and relaxable(plan.model):
            return run_relaxed(plan)
        return run_anytime(plan)
    start = time.perf_counter()
    states, energies, hot, cold = plan_reads(
        plan, plan.x0, plan.beta_range, plan.num_sweeps, plan.seeds, agree=plan.agree,
        local_search=plan.local_search, iterations=plan.tabu_iterations, stall=plan.tabu_stall,
    )  # fmt: skip
    reads = len(states)
    extra = {}
    tol = 1e-9 * (1.0 + abs(energies.min()))
    if (
        plan.local_search
        and plan.agree > 0
        and np.count_nonzero(energies <= energies.min() + tol) < plan.agree
    ):
        # a rugged problem: the reads never agreed, so a few rounds of memetic tabu search per
        # read allowed (a time_limit search's rounds, drawn alike, with longer tabu walks, and
        # like them forbidding visited selections off the plateaus of integer weights)
        plateau = tied_share(plan, states[int(np.argmin(energies))]) > PLATEAU_TIES
        best, best_energy, stats = improve(
            plan, list(states), list(energies), np.array([hot, cold]), start=start,
            stall=max(plan.tabu_stall, DEFAULT_ROUND_STALL),
            rounds=DEFAULT_ROUNDS_PER_READ * len(plan.seeds), solution_tabu=not plateau,
        )  # fmt: skip
        if stats["improvements"]:
            states = np.vstack([states, best[None]])
            energies = np.append(energies, best_energy)
        extra = {
            "rounds": stats["rounds"],
            "improvements": stats["improvements"],
            "round_tabu": stats["round_tabu"],
        }
    info = plan_info(plan, reads, (hot, cold), start, **extra)
    return states, energies + plan.model.offset, info


def run_relaxed(plan: AnnealPlan) -> tuple[np.ndarray, np.ndarray, dict]:
    """A time limit on a model whose pairwise costs are a Gram matrix (a slate from vectors).

    Frank-Wolfe on the convex relaxation (:mod:`~qanneal_llm.qubo.relaxation`) gives a lower
    bound and the relaxed value of every candidate. The anytime search then runs on shorter
    lists of candidates before it runs on all of them (``CORES``): first on those the
    relaxation clearly uses (about 150 of 2,000 on the tuning slates), from its rounding;
    then on its whole support (about 330); then on every candidate for the rest, so one the
    lists leave out can still come in. Each list's search starts from the best the one before
    found; the last search's reads are the default's, the first from that best and the others
    from random starts: on slates of 20 from 2,000 candidates the lists can leave out part of
    the best selection, and those reads took the mean gap of 1 s from 0.155% to 0.095% (the
    default's own is 0.051%: there the relaxation misleads).
    On the tuning slates (2,000 candidates, k = 100, other seeds than ``benchmarks/hard.py``'s)
    the support alone took the mean gap of 1 s to the best known from 0.157% (every candidate)
    to 0.060%; the short list before it then took 0.051% to 0.040% (and 10 s from 0.032% to
    0.022%; ``benchmarks/RESULTS.md``). ``info`` adds ``lower_bound``, ``relaxation_steps``,
    ``relaxation_seconds``, ``core_sizes`` (of the lists searched alone) and
    ``core_seconds`` (their time) to :func:`~qanneal_llm.solvers.anytime.run_anytime`'s
    keys; ``trace``, ``time_to_best``, ``reads``, ``restarts`` and ``epochs`` cover every
    search.
    """
    start = time.perf_counter()
    deadline = start + plan.time_limit
    model = plan.model
    relaxation = relax(model, steps=RELAX_STEPS, deadline=start + RELAX_SHARE * plan.time_limit)
    x = top_k(model, -relaxation.x)
    trace, core_sizes, counts = [], [], dict.fromkeys(("reads", "restarts", "epochs"), 0)
    core_start = time.perf_counter()
    for threshold, share in CORES:
        core = (relaxation.x > threshold) | (x == 1)  # with the start, so it stays feasible
        size = int(core.sum())
        if not model.k < size <= CORE_MAX * model.n or size in core_sizes:
            continue
        restricted = replace(model, forced_out=~core)
        core_model, free = restricted.reduced()
        search_start = time.perf_counter()
        core_plan = plan_anneal(
            core_model, num_reads=1, initial_states=x[free][None], seed=int(plan.seeds[0]),
            time_limit=share * max(deadline - search_start, 1e-3), threads=plan.threads,
            num_sweeps=plan.num_sweeps, local_search=plan.local_search,
        )  # fmt: skip
        states, objectives, info = run_anytime(core_plan)
        x = restricted.expand(states[np.argmin(objectives)], free)
        _extend(trace, info["trace"], search_start - start)
        counts = {key: counts[key] + info[key] for key in counts}
        core_sizes.append(size)
    core_seconds = time.perf_counter() - core_start if core_sizes else 0.0
    full_start = time.perf_counter()
    full_plan = replace(plan, x0=x[None], time_limit=max(deadline - full_start, 1e-3))
    states, objectives, info = run_anytime(full_plan)
    _extend(trace, info["trace"], full_start - start)
    info.update(
        max_reads=len(plan.seeds),
        **{key: counts[key] + info[key] for key in counts},
        time_limit=plan.time_limit,
        anneal_seconds=time.perf_counter() - start,
        time_to_best=trace[-1][0],
        trace=trace,
        lower_bound=relaxation.bound,
        relaxation_steps=relaxation.steps,
        relaxation_seconds=relaxation.seconds,
        core_sizes=core_sizes,
        core_seconds=core_seconds,
    )
    return states, objectives, info


def _extend(trace: list, later: list, offset: float) -> None:
    """Append to ``trace`` the new bests of a later search's ``trace`` (its times shifted by
    ``offset`` seconds): the entries below the last one already there."""
    for t, value in later:
        if not trace or below(value, trace[-1][1]):
            trace.append((t + offset, value))


def swap_anneal(model: SubsetModel, **options) -> tuple[np.ndarray, np.ndarray, dict]:
    """Anneal ``model`` with swap moves: ``(states (reads, n), objectives, info)``.

    Each read anneals from a random feasible start over ``num_sweeps`` sweeps (default 50) of
    ``n`` proposed swaps, the temperature falling geometrically from a hot end that accepts
    the median uphill swap half the time to a cold end that accepts a small one 1% of the time
    (``beta_range`` overrides). With ``local_search`` (default on) it then descends by the best
    improving swap and runs swap tabu search for up to ``tabu_iterations`` steps (default
    ``max(200, n, 2 * tabu_stall)``), stopping after ``tabu_stall`` steps without a new best
    (default ``"auto"``: :func:`auto_tabu_stall`, 100 for small selections).
    Reads restart until ``agree`` of them (default 3) reach the same best energy, at most
    ``num_reads`` (default 16): easy problems cost three reads, rugged ones get more, and when
    even those never agree, ``DEFAULT_ROUNDS_PER_READ * num_reads`` (4 x) rounds of memetic
    tabu search follow
    (:func:`~qanneal_llm.solvers.anytime.improve`; ``info["rounds"]``), whose walks forbid
    visited selections unless the problem is a plateau of tied swaps (``info["round_tabu"]``:
    on slates of 2,000 candidates, k = 100, it took the default's mean gap to the better of
    the two from 0.108% to 0.004%, in 1.39 s against 1.35 s, benchmarks/RESULTS.md).
    ``time_limit`` (seconds) then keeps searching by iterated tabu search until the limit
    and reports ``time_to_best`` and ``restarts`` (:mod:`~qanneal_llm.solvers.anytime`).
    Annealing finds the region, tabu search closes the last fraction of a percent
    (benchmarks/solvers.py).

    Parameters
    ----------
    model : SubsetModel
        The problem.
    **options
        ``num_reads``, ``agree``, ``num_sweeps``, ``beta_range``, ``seed``, ``local_search``,
        ``tabu_iterations``, ``tabu_stall``, ``initial_states``, ``time_limit``, ``threads``
        (see :func:`plan_anneal`).

    Returns
    -------
    states : ndarray of int8, shape (reads, n)
        Every read's final state, all feasible.
    objectives : ndarray of float64, shape (reads,)
    info : dict
    """
    return run_plan(plan_anneal(model, **options))


def run_plans(plans, n_jobs: int | None = None):
    """Run plans on ``n_jobs`` threads (default: all cores), yielding results in input order.

    ``plans`` may be a generator: plans are submitted as they are drawn up, so the Python work
    of preparing the next problems overlaps the compiled work of solving earlier ones.

    Parameters
    ----------
    plans : iterable of AnnealPlan
        From :func:`plan_anneal`.
    n_jobs : int, optional
        Threads; all cores by default.

    Yields
    ------
    tuple
        :func:`run_plan`'s ``(states, objectives, info)`` per plan, in input order.
    """
    n_jobs = n_jobs or available_cores()
    if n_jobs <= 1:
        yield from (run_plan(p) for p in plans)
        return
    with ThreadPoolExecutor(n_jobs) as pool:
        pending = deque()
        for plan in plans:
            pending.append(pool.submit(run_plan, plan))
            while pending and pending[0].done():
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class SwapAnnealingSampler:
    """A local stand-in for ``LeapHybridCQMSampler`` on selection CQMs.

    It accepts CQMs of binary variables whose constraints are one cardinality equality over all
    variables with unit coefficients, plus unit-coefficient ``<=``/``>=`` bounds on subsets
    (groups): the shape every builder in :mod:`qanneal_llm.qubo` produces.

    >>> from qanneal_llm.qubo import subset_model
    >>> model = subset_model([-3.0, -2.0, -1.0, 0.0], [[0, 5, 0, 0], [5, 0, 0, 0],
    ...                      [0, 0, 0, 0], [0, 0, 0, 0]], k=2)
    >>> sampleset = SwapAnnealingSampler().sample_cqm(model.to_cqm(), seed=0)
    >>> best = sampleset.filter(lambda row: row.is_feasible).first
    >>> sorted(v for v, on in best.sample.items() if on), float(best.energy)
    ([0, 2], -4.0)
    """

    parameters = {
        name: []
        for name in (
            "num_reads",
            "agree",
            "num_sweeps",
            "beta_range",
            "local_search",
            "tabu_iterations",
            "tabu_stall",
            "time_limit",
            "threads",
            "seed",
        )
    }
    properties: dict = {}

    def sample_cqm(
        self, cqm: dimod.ConstrainedQuadraticModel, *, seed: int | None = None, **options
    ) -> dimod.SampleSet:
        """Sample a selection CQM; ``options`` are those in :attr:`parameters`.

        Parameters
        ----------
        cqm : dimod.ConstrainedQuadraticModel
            A selection CQM: binary variables, one cardinality equality, optional group bounds
            (what :meth:`SubsetModel.to_cqm` writes).
        seed : int, optional
            The only source of randomness.
        **options
            See :attr:`parameters`.

        Returns
        -------
        dimod.SampleSet
            One row per read, with ``is_feasible``.
        """
        check_options(type(self).__name__, self.parameters, options)
        model, labels = model_from_cqm(cqm)
        start = time.perf_counter()
        states, _, info = swap_anneal(model, seed=seed, **options)
        info["run_time"] = time.perf_counter() - start
        return dimod.SampleSet.from_samples_cqm((states, labels), cqm, info=info)


def model_from_cqm(cqm: dimod.ConstrainedQuadraticModel) -> tuple[SubsetModel, list]:
    """Read a selection CQM back into a :class:`SubsetModel` (and its variable order).

    Parameters
    ----------
    cqm : dimod.ConstrainedQuadraticModel
        A selection CQM.

    Returns
    -------
    model : SubsetModel
    variables : list
        The CQM's variables in the model's candidate order.

    Raises
    ------
    ValueError
        If the CQM is not a selection problem (non-binary variables, other constraints).
    """
    labels = list(cqm.variables)
    if any(cqm.vartype(v) is not dimod.BINARY for v in labels):
        raise ValueError("SwapAnnealingSampler needs binary variables only")
    index = {v: i for i, v in enumerate(labels)}
    n = len(labels)
    linear = np.zeros(n)
    quadratic = np.zeros((n, n))
    for v, bias in cqm.objective.iter_linear():
        linear[index[v]] += bias
    for u, v, bias in cqm.objective.iter_quadratic():
        quadratic[index[u], index[v]] += bias
        quadratic[index[v], index[u]] += bias
    k = None
    groups, bounds = {}, {}
    for label, comp in cqm.constraints.items():
        lhs = comp.lhs
        terms = dict(lhs.linear)
        unit = not getattr(lhs, "num_interactions", 0) and all(b == 1 for b in terms.values())
        rhs = comp.rhs - lhs.offset
        sense = comp.sense.value
        if not unit or rhs != int(rhs):
            raise ValueError(
                f"constraint {label!r} is not a count over variables (unit coefficients, integer"
                " bound); SwapAnnealingSampler handles cardinality and group-count constraints"
                " only: use LeapHybridCQMSampler for general CQMs"
            )
        if sense == "==" and len(terms) == n and k is None:
            k = int(rhs)
            continue
        lo, hi = bounds.get(label, (None, None))
        if sense in ("==", ">="):
            lo = int(rhs)
        if sense in ("==", "<="):
            hi = int(rhs)
        groups[label] = [index[v] for v in terms]
        bounds[label] = (lo, hi)
    if k is None:
        raise ValueError(
            "the CQM has no cardinality constraint (sum of all variables == k); the swap moves"
            " need one"
        )
    model = subset_model(
        linear, quadratic, k, offset=cqm.objective.offset, groups=groups, group_bounds=bounds
    )
    return model, labels

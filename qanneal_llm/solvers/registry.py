"""One registry of backends and one ``solve`` call that checks everything they return.

Backends only propose selections. ``solve`` decides what the user gets: it picks the best
feasible proposal, repairs (and says so) when none is feasible, polishes with improving swaps,
and re-checks feasibility against the model itself before returning.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import dimod
import numpy as np

from qanneal_llm.qubo.model import SubsetModel
from qanneal_llm.qubo.repair import polish as polish_states
from qanneal_llm.qubo.repair import repair as repair_state
from qanneal_llm.solvers.base import (
    Backend,
    Samples,
    SolverError,
    UnknownSolverError,
    below,
    check_options,
)
from qanneal_llm.solvers.leap import HybridBackend, MockQPUBackend, QPUBackend
from qanneal_llm.solvers.local import (
    AnnealBackend,
    CQMSamplerBackend,
    DimodSamplerBackend,
    ExactBackend,
    NealBackend,
    TabuBackend,
)
from qanneal_llm.solvers.result import SelectionResult
from qanneal_llm.solvers.swap_annealer import SwapAnnealingSampler

_BACKENDS: dict[str, Callable[[], Backend]] = {}


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make ``solve(model, solver=name)`` use ``factory()``, a :class:`Backend`.

    Parameters
    ----------
    name : str
        The solver name users pass to :func:`solve`.
    factory : callable
        Returns a fresh :class:`Backend`; called once per solve.
    """
    _BACKENDS[name] = factory


def available_backends() -> list[str]:
    """The registered solver names.

    Returns
    -------
    list of str
    """
    return sorted(_BACKENDS)


def get_backend(solver) -> Backend:
    """A backend from a registered name, a backend object, or a sampler to adapt.

    Samplers are adapted by what they are: ours (:class:`SwapAnnealingSampler`) and Leap's
    ``LeapHybridCQMSampler`` get the constrained model (CQM), any other ``dimod.Sampler`` the
    penalty BQM.

    Parameters
    ----------
    solver : str, Backend or dimod.Sampler
        What the caller passed as ``solver``.

    Returns
    -------
    Backend

    Raises
    ------
    UnknownSolverError
        If ``solver`` is a name no backend is registered under (a ``ValueError``).
    TypeError
        If ``solver`` is not something a backend can be made of.
    """
    if isinstance(solver, str):
        if solver not in _BACKENDS:
            raise UnknownSolverError(
                f"unknown solver {solver!r}; choose one of {', '.join(available_backends())}"
                " (or pass a dimod sampler)"
            )
        return _BACKENDS[solver]()
    if isinstance(solver, SwapAnnealingSampler) or _is_leap_cqm_sampler(solver):
        return CQMSamplerBackend(solver)
    if isinstance(solver, dimod.Sampler):
        return DimodSamplerBackend(solver)
    if isinstance(solver, Backend):
        return solver
    raise TypeError(
        f"solver must be a name ({', '.join(available_backends())}), a Backend, a dimod.Sampler"
        f" or SwapAnnealingSampler, got {type(solver).__name__}"
    )


def _is_leap_cqm_sampler(solver) -> bool:
    # only an imported dwave.system can have made one, so never import it just to ask
    system = sys.modules.get("dwave.system")
    return system is not None and isinstance(solver, system.LeapHybridCQMSampler)


def preflight(
    solver,
    *,
    n: int | None = None,
    k: int | None = None,
    seed: int | None = None,
    polish: bool = True,
    **options,
) -> None:
    """Refuse, before any expensive stage, a solve that cannot run.

    Raises a :class:`~qanneal_llm.solvers.SolverError` (a ``ValueError``) with a one-line
    message when ``solver`` is unknown, an option is not one the backend declares, a Leap
    token is missing (:class:`MissingTokenError`), ``exact`` would enumerate too many
    subsets for (``n``, ``k``), or ``n`` dense variables do not fit the QPU. ``seed`` and
    ``polish`` are accepted so that the arguments of a later :func:`solve` can be passed as
    they are.

    Parameters
    ----------
    solver : str, Backend or dimod.Sampler
        As in :func:`solve`.
    n, k : int, optional
        The problem size, for the size checks of ``exact`` and the QPU.
    seed : int, optional
        Accepted and ignored.
    polish : bool, default=True
        Accepted and ignored.
    **options
        Backend options to check against its declared ``parameters``.

    Examples
    --------
    >>> preflight("anneal", n=100, k=10, num_sweeps=100)
    >>> preflight("neal", num_sweepz=10)
    Traceback (most recent call last):
    ...
    qanneal_llm.solvers.base.UnknownOptionError: solver 'neal' has no option 'num_sweepz'; ...
    """
    backend = get_backend(solver)
    check_options(backend.name, backend.parameters, options)
    if n is not None and k is not None and not 0 <= k <= n:
        raise SolverError(f"need 0 <= k <= n, got k = {k} for n = {n} candidates")
    backend.check(n=n, k=k, options=options)


def _require_models(models, call: str) -> None:
    for model in models:
        if not isinstance(model, SubsetModel):
            raise TypeError(
                f"{call} needs a SubsetModel, got {type(model).__name__}; build one with"
                " qanneal_llm.subset_model, slate_model, feature_model,"
                " collaborative_feature_model or portfolio_model"
            )


for _backend in (
    AnnealBackend,
    NealBackend,
    TabuBackend,
    ExactBackend,
    QPUBackend,
    MockQPUBackend,
    HybridBackend,
):
    register_backend(_backend.name, _backend)


def new_seed() -> int:
    """A fresh seed, for calls that were given none (and report it). Seeds stay below 2**31
    because some backends (dwave-samplers' tabu, the mock QPU) take only 32-bit seeds.

    Returns
    -------
    int
    """
    return int(np.random.SeedSequence().generate_state(1)[0] >> 1)


def solve(
    model: SubsetModel,
    solver="anneal",
    *,
    seed: int | None = None,
    polish: bool = True,
    **options,
) -> SelectionResult:
    """Solve ``model`` with ``solver`` and return a checked :class:`SelectionResult`.

    ``solver`` is a registered name (:func:`available_backends`), a :class:`Backend`, or a
    sampler (see :func:`get_backend`). ``seed`` drives every random step (drawn and reported
    when not given). ``options`` go to the backend and must be among its ``parameters``
    (e.g. ``num_reads``, ``num_sweeps``, ``local_search`` for ``anneal``; ``penalty``,
    ``chain_strength`` for the QPU).

    Whatever the backend, ``solve`` keeps the best feasible proposal (repairing, and saying
    so, when none is feasible). ``polish=True`` then runs steepest-descent swaps from it until
    no single swap improves it (``result.polished`` says whether that helped);
    ``polish=False`` returns the backend's own best (repaired if needed), to see what a
    backend does alone. It is skipped when the backend already ends in such a local optimum
    (``anneal`` with its ``local_search`` on).

    Parameters
    ----------
    model : SubsetModel
        The problem.
    solver : str, Backend or dimod.Sampler, default="anneal"
        Which backend solves it.
    seed : int, optional
        Seeds every random step; drawn and recorded in the result when omitted.
    polish : bool, default=True
        Run steepest-descent swaps on the backend's best.
    **options
        Backend options (its declared ``parameters``).

    Returns
    -------
    SelectionResult
        Feasible, with the solver, seed, timings and whether it was repaired or polished.

    Examples
    --------
    >>> from qanneal_llm.qubo import subset_model
    >>> model = subset_model([-1.0, -2.0, -3.0], [[0, 0, 0], [0, 0, 4], [0, 4, 0]], k=2)
    >>> result = solve(model, "exact")
    >>> result.ids, result.objective, result.feasible
    ([0, 2], -4.0, True)
    """
    started = time.perf_counter()
    _require_models([model], "solve")
    backend = get_backend(solver)
    check_options(backend.name, backend.parameters, options)
    seed = new_seed() if seed is None else int(seed)
    reduced, free = model.reduced()
    if _trivial(reduced):
        samples, seconds = _trivial_samples(reduced), 0.0
    else:
        backend.check(n=reduced.n, k=reduced.k, options=options)
        t = time.perf_counter()
        samples = backend.sample(reduced, seed=seed, **options)
        seconds = time.perf_counter() - t
    return _finish(
        model,
        reduced=reduced,
        free=free,
        samples=samples,
        solver=backend.name,
        seed=seed,
        polish=polish,
        backend_seconds=seconds,
        started=started,
    )


def solve_many(
    models: Sequence[SubsetModel],
    solver="anneal",
    *,
    seed: int | None = None,
    n_jobs: int | None = None,
    polish: bool = True,
    executor=None,
    **options,
) -> list[SelectionResult]:
    """Solve many models: problem ``i`` gets seed ``seed_stream(seed, len(models))[i]``.

    Backends with a batch mode (the default ``anneal``) prepare every problem first, then run
    them on ``n_jobs`` threads (default: all cores) with the GIL released; each result is
    identical to ``solve(models[i], solver, seed=seeds[i], **options)`` (with a ``time_limit``,
    each problem's search runs on one of those threads: ``threads=1``). Other backends are
    called one problem at a time. ``polish`` is as in :func:`solve`. ``executor="ray"`` (or a
    :class:`qanneal_llm.distributed.RayExecutor`) solves chunks of ``models`` on a Ray cluster
    instead, with the same seeds and the same results.

    Parameters
    ----------
    models : sequence of SubsetModel
        The problems.
    solver : str, Backend or dimod.Sampler, default="anneal"
        As in :func:`solve`.
    seed : int, optional
        Seeds the whole batch (see :func:`seed_stream`).
    n_jobs : int, optional
        Threads for batch-capable backends; all cores by default.
    polish : bool, default=True
        As in :func:`solve`.
    executor : {None, "ray"} or RayExecutor, optional
        Where to run the batch.
    **options
        Backend options.

    Returns
    -------
    list of SelectionResult
        One per model, in order.
    """
    if isinstance(models, SubsetModel):
        raise TypeError("solve_many needs a sequence of SubsetModels; for one model use solve")
    backend = get_backend(solver)
    check_options(backend.name, backend.parameters, options)
    seed = new_seed() if seed is None else int(seed)
    if executor is not None:
        from qanneal_llm.distributed import as_executor

        runner = as_executor(executor)
        return list(runner.solve_iter(models, solver, seed=seed, polish=polish, **options))
    models = list(models)
    _require_models(models, "solve_many")
    seeds = [int(s) for s in seed_stream(seed, len(models))]
    return _run_batch(models, seeds, backend, n_jobs=n_jobs, polish=polish, options=options)


def solve_batch(
    models: Sequence[SubsetModel],
    seeds: Sequence[int],
    solver="anneal",
    *,
    n_jobs: int | None = None,
    polish: bool = True,
    **options,
) -> list[SelectionResult]:
    """:func:`solve_many` with one given seed per model (what each worker of a distributed
    batch runs on its chunk).

    Parameters
    ----------
    models : sequence of SubsetModel
        The problems.
    seeds : sequence of int
        One seed per model.
    solver, n_jobs, polish, **options
        As in :func:`solve_many`.

    Returns
    -------
    list of SelectionResult
    """
    _require_models(models, "solve_many")
    backend = get_backend(solver)
    check_options(backend.name, backend.parameters, options)
    return _run_batch(models, seeds, backend, n_jobs=n_jobs, polish=polish, options=options)


def _run_batch(
    models: Sequence[SubsetModel],
    seeds: Sequence[int],
    backend: Backend,
    *,
    n_jobs: int | None,
    polish: bool,
    options: dict,
) -> list[SelectionResult]:
    """:func:`solve_batch` once the models, the backend and its options are checked."""
    if backend.sample_many is None:
        return [
            solve(m, backend, seed=s, polish=polish, **options)
            for m, s in zip(models, seeds, strict=True)
        ]
    started = time.perf_counter()
    reduced = [m.reduced() for m in models]
    todo = [i for i, (r, _) in enumerate(reduced) if not _trivial(r)]
    for i in todo:
        backend.check(n=reduced[i][0].n, k=reduced[i][0].k, options=options)
    batch = backend.sample_many(
        [reduced[i][0] for i in todo], [seeds[i] for i in todo], n_jobs=n_jobs, **options
    )
    batch, todo = iter(batch), set(todo)
    results, own_seconds = [], []
    # the batch is a generator in input order: each problem is checked as soon as it is
    # solved, overlapping the threads' later work; its timings are set once the batch is
    # done (its share of the batch plus its own checks)
    for i, (model, (red, free)) in enumerate(zip(models, reduced, strict=True)):
        t = time.perf_counter()
        sample = next(batch) if i in todo else _trivial_samples(red)
        results.append(
            _finish(
                model,
                reduced=red,
                free=free,
                samples=sample,
                solver=backend.name,
                seed=seeds[i],
                polish=polish,
                backend_seconds=0.0,
                started=t,
            )
        )
        own_seconds.append(results[-1].timings["total"])
    batch_seconds = time.perf_counter() - started
    per_problem = (batch_seconds - sum(own_seconds)) / max(len(models), 1)
    for result, own in zip(results, own_seconds, strict=True):
        result.info.update(batch_size=len(models), batch_seconds=batch_seconds)
        result.timings.update(backend=per_problem, total=per_problem + own)
    return results


def seed_stream(seed: int, count: int) -> np.ndarray:
    """One seed per problem, derived from ``seed``: a batch is reproducible as a whole, and
    problem ``i`` always gets the same seed whatever the batch around it.

    Parameters
    ----------
    seed : int
        The batch's seed.
    count : int
        How many seeds.

    Returns
    -------
    ndarray of uint32, shape (count,)
        Each below ``2**31``.
    """
    return np.random.SeedSequence(seed).generate_state(count) >> 1


def _trivial(reduced: SubsetModel) -> bool:
    return reduced.k in (0, reduced.n)


def _trivial_samples(reduced: SubsetModel) -> Samples:
    states = np.full((1, reduced.n), 1 if reduced.k else 0, dtype=np.int8)
    return Samples(states, {"trivial": True})


def _finish(
    model: SubsetModel,
    *,
    reduced: SubsetModel,
    free: np.ndarray,
    samples: Samples,
    solver: str,
    seed: int,
    polish: bool,
    backend_seconds: float,
    started: float,
) -> SelectionResult:
    """Check the backend's proposals, repair or polish, and build the user's result."""
    timings: dict[str, float] = {"backend": backend_seconds}
    states, info, sampleset = samples.states, dict(samples.info), samples.sampleset
    rng = np.random.default_rng(seed)

    t = time.perf_counter()
    objectives = np.asarray(reduced.objective(states), dtype=np.float64).reshape(-1)
    feasible = reduced.feasible_rows(states)
    info["feasible_fraction"] = float(feasible.mean())
    repaired = not feasible.any()
    if repaired:
        order = np.argsort(objectives)[:10]
        candidates = np.stack([repair_state(reduced, states[i], rng) for i in order])
        info["backend_objective"] = None
    else:
        candidates = states[feasible][np.argsort(objectives[feasible])[:1]]
        info["backend_objective"] = float(objectives[feasible].min())
    timings["check_repair"] = time.perf_counter() - t

    t = time.perf_counter()
    values = np.asarray(reduced.objective(candidates)).reshape(-1)
    polished = False
    if polish and reduced.n > reduced.k > 0 and not info.get("local_optima"):
        before = values.min()
        candidates, values = polish_states(reduced, candidates)
        polished = bool(below(values.min(), before))
    best = candidates[int(np.argmin(values))]
    timings["polish"] = time.perf_counter() - t

    x = model.expand(best, free)
    violations = model.violations(x)
    if violations:
        raise RuntimeError(f"internal error: the selection breaks {violations}; please report it")
    timings["total"] = time.perf_counter() - started
    return SelectionResult(
        ids=model.decode(x),
        indices=np.flatnonzero(x),
        x=x,
        objective=float(values.min()) if reduced is model else float(model.objective(x)),
        breakdown=model.breakdown(x),
        feasible=True,
        repaired=repaired,
        polished=polished,
        solver=solver,
        seed=seed,
        timings=timings,
        info=info,
        sampleset=sampleset,
    )

"""One registry of backends and one ``solve`` call that checks everything they return.

Backends only propose selections. ``solve`` decides what the user gets: it picks the best
feasible proposal, repairs (and says so) when none is feasible, polishes with improving swaps,
and re-checks feasibility against the model itself before returning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import dimod
import numpy as np

from qanneal_llm.qubo.model import SubsetModel
from qanneal_llm.qubo.repair import polish as polish_states
from qanneal_llm.qubo.repair import repair as repair_state
from qanneal_llm.solvers.base import Samples
from qanneal_llm.solvers.leap import HybridBackend, MockQPUBackend, QPUBackend
from qanneal_llm.solvers.local import (
    AnnealBackend,
    DimodSamplerBackend,
    ExactBackend,
    NealBackend,
    TabuBackend,
)
from qanneal_llm.solvers.result import SelectionResult

_BACKENDS: dict[str, Callable[[], object]] = {}


def register_backend(name: str, factory: Callable[[], object]) -> None:
    """Make ``solve(model, solver=name)`` use ``factory()``; the backend needs
    ``sample(model, *, seed, **options) -> Samples``."""
    _BACKENDS[name] = factory


def available_backends() -> list[str]:
    return sorted(_BACKENDS)


def get_backend(solver):
    """A backend from a registered name, a backend object, or any dimod sampler."""
    if isinstance(solver, str):
        if solver not in _BACKENDS:
            raise ValueError(
                f"unknown solver {solver!r}; choose one of {available_backends()} or pass a dimod"
                " sampler"
            )
        return _BACKENDS[solver]()
    if isinstance(solver, dimod.Sampler) or hasattr(solver, "properties"):
        return DimodSamplerBackend(solver)
    if callable(getattr(solver, "sample", None)):
        return solver
    raise TypeError(f"solver must be a name, a backend or a dimod sampler, got {type(solver)}")


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
    because some backends (dwave-samplers' tabu, the mock QPU) take only 32-bit seeds."""
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

    ``seed`` drives every random step (drawn and reported when not given). ``options`` go to
    the backend (e.g. ``num_reads``, ``num_sweeps``, ``penalty``, ``chain_strength``).

    >>> from qanneal_llm.qubo import subset_model
    >>> model = subset_model([-1.0, -2.0, -3.0], [[0, 0, 0], [0, 0, 4], [0, 4, 0]], k=2)
    >>> result = solve(model, "exact")
    >>> result.ids, result.objective, result.feasible
    ([0, 2], -4.0, True)
    """
    started = time.perf_counter()
    backend = get_backend(solver)
    seed = new_seed() if seed is None else int(seed)
    reduced, free = model.reduced()
    if _trivial(reduced):
        samples, seconds = _trivial_samples(reduced), 0.0
    else:
        t = time.perf_counter()
        samples = backend.sample(reduced, seed=seed, **options)
        seconds = time.perf_counter() - t
    return finish(model, reduced, free, samples, backend.name, seed, polish, seconds, started)


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
    identical to ``solve(models[i], solver, seed=seeds[i], **options)``. Other backends are
    called one problem at a time. ``executor="ray"`` (or a
    :class:`qanneal_llm.distributed.RayExecutor`) solves chunks of ``models`` on a Ray cluster
    instead, with the same seeds and the same results.
    """
    seed = new_seed() if seed is None else int(seed)
    if executor is not None:
        from qanneal_llm.distributed import as_executor

        runner = as_executor(executor)
        return list(runner.solve_iter(models, solver, seed=seed, polish=polish, **options))
    seeds = [int(s) for s in seed_stream(seed, len(models))]
    return solve_batch(models, seeds, solver, n_jobs=n_jobs, polish=polish, **options)


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
    batch runs on its chunk)."""
    backend = get_backend(solver)
    if not hasattr(backend, "sample_many"):
        return [
            solve(m, backend, seed=s, polish=polish, **options)
            for m, s in zip(models, seeds, strict=True)
        ]
    started = time.perf_counter()
    reduced = [m.reduced() for m in models]
    todo = [i for i, (r, _) in enumerate(reduced) if not _trivial(r)]
    batch = backend.sample_many(
        [reduced[i][0] for i in todo], [seeds[i] for i in todo], n_jobs=n_jobs, **options
    )
    samples = dict(zip(todo, batch, strict=True))
    batch_seconds = time.perf_counter() - started
    per_problem = batch_seconds / max(len(todo), 1)
    results = []
    for i, (model, (red, free)) in enumerate(zip(models, reduced, strict=True)):
        sample = samples.get(i) or _trivial_samples(red)
        sample.info.update(batch_size=len(models), batch_seconds=batch_seconds)
        # each result's total is its share of the batch plus its own checks
        begun = time.perf_counter() - per_problem
        results.append(
            finish(model, red, free, sample, backend.name, seeds[i], polish, per_problem, begun)
        )
    return results


def seed_stream(seed: int, count: int) -> np.ndarray:
    """One seed per problem, derived from ``seed``: a batch is reproducible as a whole, and
    problem ``i`` always gets the same seed whatever the batch around it."""
    return np.random.SeedSequence(seed).generate_state(count) >> 1


def _trivial(reduced: SubsetModel) -> bool:
    return reduced.k in (0, reduced.n)


def _trivial_samples(reduced: SubsetModel) -> Samples:
    states = np.full((1, reduced.n), 1 if reduced.k else 0, dtype=np.int8)
    return Samples(states, {"trivial": True})


def finish(model, reduced, free, samples, solver_name, seed, polish, backend_seconds, started):
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
        polished = bool(values.min() < before - 1e-9 * (1 + abs(before)))
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
        solver=solver_name,
        seed=seed,
        timings=timings,
        info=info,
        sampleset=sampleset,
    )

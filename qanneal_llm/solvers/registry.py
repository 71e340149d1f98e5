"""One registry of backends and one ``solve`` call that checks everything they return.

Backends only propose selections. ``solve`` decides what the user gets: it picks the best
feasible proposal, repairs (and says so) when none is feasible, polishes with improving swaps,
and re-checks feasibility against the model itself before returning.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import dimod
import numpy as np

from qanneal_llm.qubo.model import SubsetModel
from qanneal_llm.qubo.repair import polish as polish_states
from qanneal_llm.qubo.repair import repair as repair_state
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
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    reduced, free = model.reduced()
    rng = np.random.default_rng(seed)
    timings: dict[str, float] = {}
    info: dict = {}
    sampleset = None
    if reduced.k in (0, reduced.n):
        states = np.full((1, reduced.n), 1 if reduced.k else 0, dtype=np.int8)
        info["trivial"] = True
    else:
        t = time.perf_counter()
        samples = backend.sample(reduced, seed=seed, **options)
        timings["backend"] = time.perf_counter() - t
        states, info, sampleset = samples.states, dict(samples.info), samples.sampleset

    t = time.perf_counter()
    objectives = np.asarray(reduced.objective(states), dtype=np.float64).reshape(-1)
    feasible = np.array([reduced.is_feasible(s) for s in states])
    info["feasible_fraction"] = float(feasible.mean())
    repaired = not feasible.any()
    if repaired:
        order = np.argsort(objectives)[:10]
        candidates = np.stack([repair_state(reduced, states[i], rng) for i in order])
    else:
        candidates = states[feasible][np.argsort(objectives[feasible])[:1]]
    info["backend_objective"] = float(objectives[feasible].min()) if not repaired else None
    timings["check_repair"] = time.perf_counter() - t

    t = time.perf_counter()
    polished = False
    if polish:
        improved, values = polish_states(reduced, candidates)
        before = np.asarray(reduced.objective(candidates)).reshape(-1)
        polished = bool(values.min() < before.min() - 1e-9 * (1 + abs(before.min())))
        candidates = improved
    values = np.asarray(reduced.objective(candidates)).reshape(-1)
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
        objective=float(model.objective(x)),
        breakdown=model.breakdown(x),
        feasible=True,
        repaired=repaired,
        polished=polished,
        solver=backend.name,
        seed=seed,
        timings=timings,
        info=info,
        sampleset=sampleset,
    )

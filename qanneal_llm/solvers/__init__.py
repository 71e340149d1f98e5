"""Solvers: one registry from a name (or a sampler) to a backend, one checked result."""

from qanneal_llm.solvers.base import (
    Backend,
    BackendBase,
    MissingTokenError,
    ProblemTooLargeError,
    Samples,
    SolverError,
    UnknownOptionError,
    UnknownSolverError,
)
from qanneal_llm.solvers.leap import leap_token
from qanneal_llm.solvers.registry import (
    available_backends,
    get_backend,
    preflight,
    register_backend,
    seed_stream,
    solve,
    solve_many,
)
from qanneal_llm.solvers.result import SelectionResult
from qanneal_llm.solvers.swap_annealer import SwapAnnealingSampler, model_from_cqm, swap_anneal

__all__ = [
    "Backend",
    "BackendBase",
    "MissingTokenError",
    "ProblemTooLargeError",
    "Samples",
    "SelectionResult",
    "SolverError",
    "SwapAnnealingSampler",
    "UnknownOptionError",
    "UnknownSolverError",
    "available_backends",
    "get_backend",
    "leap_token",
    "model_from_cqm",
    "preflight",
    "register_backend",
    "seed_stream",
    "solve",
    "solve_many",
    "swap_anneal",
]

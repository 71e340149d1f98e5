"""Solvers: one registry from a name (or a dimod sampler) to a backend, one checked result."""

from qanneal_llm.solvers.leap import MissingTokenError, leap_token
from qanneal_llm.solvers.registry import (
    available_backends,
    get_backend,
    register_backend,
    seed_stream,
    solve,
    solve_many,
)
from qanneal_llm.solvers.result import SelectionResult
from qanneal_llm.solvers.swap_annealer import SwapAnnealingSampler, model_from_cqm, swap_anneal

__all__ = [
    "MissingTokenError",
    "SelectionResult",
    "SwapAnnealingSampler",
    "available_backends",
    "get_backend",
    "leap_token",
    "model_from_cqm",
    "register_backend",
    "seed_stream",
    "solve",
    "solve_many",
    "swap_anneal",
]

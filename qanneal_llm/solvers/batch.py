"""Solving many selection models in one call (one slate per user, one portfolio per date)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qanneal_llm.qubo.model import SubsetModel
from qanneal_llm.solvers.registry import solve
from qanneal_llm.solvers.result import SelectionResult


def seed_stream(seed: int | None, count: int) -> np.ndarray:
    """One seed per problem, derived from ``seed`` so a batch is reproducible as a whole and
    problem ``i`` always gets the same seed whatever the batch around it."""
    return np.random.SeedSequence(seed).generate_state(count, dtype=np.uint64) >> np.uint64(1)


def solve_many(
    models: Sequence[SubsetModel], solver="anneal", *, seed: int | None = None, **options
) -> list[SelectionResult]:
    """Solve each model with :func:`~qanneal_llm.solvers.solve`, seeded from one stream."""
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    seeds = seed_stream(seed, len(models))
    return [solve(m, solver, seed=int(s), **options) for m, s in zip(models, seeds, strict=True)]

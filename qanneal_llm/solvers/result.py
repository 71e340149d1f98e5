"""The one answer every backend gives: what was chosen, how good it is, and how it was obtained."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import dimod
import numpy as np

from qanneal_llm.storage import json_default


@dataclass
class SelectionResult:
    """A decoded, checked selection.

    ``objective`` is the model's objective at ``x`` (lower is better). ``feasible`` is checked
    against the model, never taken from the backend; ``repaired`` says the backend's best sample
    broke a constraint and was mended; ``polished`` says steepest-descent swaps improved what the
    backend returned (``info['backend_objective']`` keeps the backend's own value).
    """

    ids: list
    indices: np.ndarray
    x: np.ndarray
    objective: float
    breakdown: dict
    feasible: bool
    repaired: bool
    polished: bool
    solver: str
    seed: int | None
    timings: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    sampleset: dimod.SampleSet | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready summary (no raw sample set)."""
        return json.loads(
            json.dumps(
                {
                    "ids": self.ids,
                    "objective": self.objective,
                    "breakdown": self.breakdown,
                    "feasible": self.feasible,
                    "repaired": self.repaired,
                    "polished": self.polished,
                    "solver": self.solver,
                    "seed": self.seed,
                    "timings": self.timings,
                    "info": self.info,
                },
                default=json_default,
            )
        )

    def __str__(self) -> str:
        flags = "feasible" if self.feasible else "INFEASIBLE"
        if self.repaired:
            flags += ", repaired"
        if self.polished:
            flags += ", polished"
        return (
            f"{len(self.ids)} chosen by {self.solver} (seed {self.seed}): objective "
            f"{self.objective:.6g}, {flags}, {self.timings.get('total', float('nan')):.3f} s"
        )

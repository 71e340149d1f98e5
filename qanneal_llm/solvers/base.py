"""What a backend must give back, and the shared path for backends that take a penalty BQM."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dimod
import numpy as np

from qanneal_llm.qubo.model import SubsetModel


@dataclass
class Samples:
    """Raw candidate selections from one backend call, over the reduced model's candidates."""

    states: np.ndarray
    info: dict = field(default_factory=dict)
    sampleset: dimod.SampleSet | None = None


def states_from_sampleset(sampleset: dimod.SampleSet, n: int) -> np.ndarray:
    """The candidate bits ``0..n-1`` of every sample (slack bits dropped), as int8 rows."""
    if not len(sampleset):
        raise RuntimeError("the backend returned an empty sample set")
    columns = [sampleset.variables.index(i) for i in range(n)]
    return np.ascontiguousarray(sampleset.record.sample[:, columns], dtype=np.int8)


class BQMBackend:
    """A backend that solves the penalty form with a dimod sampler.

    Subclasses say which sampler to use (:meth:`sampler`), which call options it gets
    (:meth:`sample_options`; ``takes_seed`` passes the seed on) and what else to report
    (:meth:`extra_info`); ``penalty`` overrides the calibrated penalty weight.
    """

    name = "bqm"
    takes_seed = False

    def sampler(self, seed: int):
        raise NotImplementedError

    def sample_options(self, bqm: dimod.BinaryQuadraticModel, seed: int, options: dict) -> dict:
        return {"seed": seed, **options} if self.takes_seed else options

    def extra_info(self, sampleset: dimod.SampleSet, options: dict) -> dict:
        return {}

    def sample(self, model: SubsetModel, *, seed: int, penalty: float | None = None, **options):
        bqm = model.to_bqm(penalty)
        sampler = self.sampler(seed)
        options = self.sample_options(bqm, seed, options)
        start = time.perf_counter()
        sampleset = sampler.sample(bqm, **options)
        sampleset.resolve()
        info = {
            "penalty": model.penalty_strength() if penalty is None else float(penalty),
            "num_variables": bqm.num_variables,
            "num_samples": len(sampleset),
            "sample_seconds": time.perf_counter() - start,
            "best_bqm_energy": float(sampleset.first.energy),
            **self.extra_info(sampleset, options),
        }
        return Samples(states_from_sampleset(sampleset, model.n), info, sampleset)

"""Backends that run on this machine: the swap annealer (default), neal, tabu, brute force, and
any dimod sampler a user passes in."""

from __future__ import annotations

import itertools
import math
import time

import dimod
import numpy as np

from qanneal_llm.qubo.model import InfeasibleModelError, SubsetModel
from qanneal_llm.solvers.anytime import check_time_limit
from qanneal_llm.solvers.base import (
    BackendBase,
    BQMBackend,
    ProblemTooLargeError,
    Samples,
    states_from_sampleset,
)
from qanneal_llm.solvers.swap_annealer import (
    SwapAnnealingSampler,
    check_threads,
    plan_anneal,
    run_plans,
    swap_anneal,
)


class AnnealBackend(BackendBase):
    """Constraint-preserving swap annealing, then descent and swap tabu search (the default).

    Its options are :attr:`SwapAnnealingSampler.parameters` (the seed comes from ``solve``):
    declaring a new option there declares it here.
    """

    name = "anneal"
    parameters = {p: [] for p in SwapAnnealingSampler.parameters if p != "seed"}

    def check(self, *, n, k, options) -> None:
        """Refuse a ``time_limit`` that is not a positive, finite number of seconds, and
        ``threads`` that are not a positive integer."""
        check_time_limit(options.get("time_limit"))
        check_threads(options.get("threads"))

    def sample(self, model: SubsetModel, *, seed: int, **options) -> Samples:
        states, _, info = swap_anneal(model, seed=seed, **options)
        return self._samples(states, info, options)

    def sample_many(self, models, seeds, *, n_jobs=None, **options):
        """Yield one :class:`Samples` per model, in order, solving on ``n_jobs`` threads (one
        each, unless ``threads`` says otherwise: the batch already fills the cores)."""
        options = {"threads": 1, **options}
        plans = (plan_anneal(m, seed=s, **options) for m, s in zip(models, seeds, strict=True))
        for states, _, info in run_plans(plans, n_jobs):
            yield self._samples(states, info, options)

    @staticmethod
    def _samples(states, info, options) -> Samples:
        # With its local search on, every read already ends where no swap improves it.
        info.update(num_samples=len(states), local_optima=options.get("local_search", True))
        return Samples(states, info)


class NealBackend(BQMBackend):
    """dwave-samplers' simulated annealing (neal) on the penalty BQM, at its own defaults."""

    name = "neal"

    def sampler(self):
        from dwave.samplers import SimulatedAnnealingSampler

        return SimulatedAnnealingSampler()


class TabuBackend(BQMBackend):
    """dwave-samplers' multistart tabu search on the penalty BQM. ``time_limit`` (seconds)
    becomes the sampler's ``timeout`` (milliseconds per read), shared over ``num_reads``."""

    name = "tabu"

    def sampler(self):
        from dwave.samplers import TabuSampler

        return TabuSampler()

    @property
    def parameters(self) -> dict[str, list]:
        return {**super().parameters, "time_limit": []}

    def check(self, *, n, k, options) -> None:
        """Refuse a ``time_limit`` that is not a positive, finite number of seconds."""
        check_time_limit(options.get("time_limit"))

    def sample_options(self, bqm, options: dict) -> dict:
        options = dict(options)
        time_limit = check_time_limit(options.pop("time_limit", None))
        if time_limit is not None:
            reads = options.get("num_reads") or 1
            options["timeout"] = max(1, int(1000 * time_limit / reads))
        return options


class DimodSamplerBackend(BQMBackend):
    """Any ``dimod.Sampler`` instance, given the penalty BQM."""

    def __init__(self, sampler: dimod.Sampler):
        self._sampler = sampler
        self.name = type(sampler).__name__

    def sampler(self):
        return self._sampler


class CQMSamplerBackend(BackendBase):
    """A sampler with Leap's CQM interface (``sample_cqm``), given the constrained form: ours
    (:class:`SwapAnnealingSampler`) or ``LeapHybridCQMSampler``."""

    def __init__(self, sampler):
        self._sampler = sampler
        self.name = type(sampler).__name__

    @property
    def parameters(self) -> dict[str, list]:
        return {p: [] for p in self._sampler.parameters if p != "seed"}

    def sample(self, model: SubsetModel, *, seed: int, **options) -> Samples:
        if "seed" in self._sampler.parameters:
            options = {"seed": seed, **options}
        start = time.perf_counter()
        sampleset = self._sampler.sample_cqm(model.to_cqm(), **options)
        sampleset.resolve()
        info = {"num_samples": len(sampleset), "sample_seconds": time.perf_counter() - start}
        return Samples(states_from_sampleset(sampleset, model.n), info, sampleset)


class ExactBackend(BackendBase):
    """Brute force over every feasible k-subset; a certified optimum for small problems.

    The work is C(n, k) subsets, so a ``max_subsets`` limit turns a hopeless call into a clear
    error instead of an endless one.
    """

    name = "exact"
    parameters = {"max_subsets": []}
    max_subsets = 2_000_000

    def check(self, *, n, k, options) -> None:
        """Refuse more than ``max_subsets`` subsets C(n, k)."""
        if n is None or k is None:
            return
        limit = options.get("max_subsets", self.max_subsets)
        total = math.comb(n, k)
        if total > limit:
            raise ProblemTooLargeError(
                f"exact search would enumerate C({n}, {k}) = {total:,} subsets, over the limit of"
                f" {limit:,}; use solver='anneal' (or raise max_subsets)"
            )

    def sample(self, model: SubsetModel, *, seed: int, max_subsets: int = max_subsets) -> Samples:
        n, k = model.n, model.k
        total = math.comb(n, k)
        self.check(n=n, k=k, options={"max_subsets": max_subsets})
        start = time.perf_counter()
        best_value, best = np.inf, None
        combos = itertools.combinations(range(n), k)
        rows, cols = np.triu_indices(k, 1)
        while True:
            chunk = np.fromiter(
                itertools.chain.from_iterable(itertools.islice(combos, 200_000)), dtype=np.int64
            ).reshape(-1, k)
            if not len(chunk):
                break
            values = model.linear[chunk].sum(axis=1)
            if k > 1:
                values += model.quadratic[chunk[:, rows], chunk[:, cols]].sum(axis=1)
            if model.groups.size:
                counts = model.groups[:, chunk].sum(axis=2)
                ok = np.all(
                    (counts >= model.group_bounds[:, :1]) & (counts <= model.group_bounds[:, 1:]),
                    axis=0,
                )
                values = np.where(ok, values, np.inf)
            i = int(np.argmin(values))
            if values[i] < best_value:
                best_value, best = values[i], chunk[i]
        if best is None:
            raise InfeasibleModelError("no k-subset meets the group bounds")
        x = np.zeros((1, n), dtype=np.int8)
        x[0, best] = 1
        return Samples(x, {"subsets": total, "enumerate_seconds": time.perf_counter() - start})

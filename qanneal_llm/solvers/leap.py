"""D-Wave Leap backends (QPU and hybrid) and an offline mock of the QPU path.

Selection QUBOs are dense, so the QPU takes them through a clique embedding (minorminer's
``busclique``, the embedding ``DWaveCliqueSampler`` uses): one embedding per problem size and
QPU graph, found once and reused by every problem of that size (``FixedEmbeddingComposite``),
never a heuristic minor-embedding per problem (about a minute for a dense K_100). A problem
larger than the largest clique is refused up front with the size that fits. Chain strength is
explicit and reported with the chain-break fraction and the QPU access time. The hybrid CQM
solver takes the constrained form, so it never needs a penalty. ``mock-qpu`` runs the same
path on ``MockDWaveSampler`` with a Pegasus P16 graph (an Advantage's size), so CI exercises
the QPU code without a token.
"""

from __future__ import annotations

import copy
import functools
import os
import time

import numpy as np

from qanneal_llm.qubo.model import SubsetModel
from qanneal_llm.solvers.base import (
    BackendBase,
    MissingTokenError,
    ProblemTooLargeError,
    Samples,
    SolverError,
    states_from_sampleset,
)

# QPU parameters that make sense for an embedded problem (qubit-level ones such as
# ``initial_state`` or ``flux_biases`` do not); ours come after.
QPU_PARAMETERS = (
    "num_reads",
    "annealing_time",
    "anneal_schedule",
    "fast_anneal",
    "programming_thermalization",
    "readout_thermalization",
    "reduce_intersample_correlation",
    "label",
)
ADVANTAGE_SHAPE = ("pegasus", (16,))


def leap_token(token: str | None = None) -> str:
    """The Leap token from the argument, ``DWAVE_API_TOKEN`` or the Ocean config file."""
    if token:
        return token
    if os.environ.get("DWAVE_API_TOKEN"):
        return os.environ["DWAVE_API_TOKEN"]
    try:
        from dwave.cloud.config import load_config

        found = load_config().get("token")
    except Exception:  # an unreadable config file is the same as none for this question
        found = None
    if not found:
        raise MissingTokenError(
            "no D-Wave Leap API token found: set the DWAVE_API_TOKEN environment variable or run"
            " `dwave setup` (or pass token=...); to test the QPU path offline use"
            " solver='mock-qpu', and for local solving solver='anneal'"
        )
    return found


@functools.lru_cache(maxsize=8)
def topology_graph(topology_type: str, shape: tuple):
    """The perfect-yield graph of a QPU topology (e.g. ``("pegasus", (16,))``)."""
    import dwave.graphs as dnx

    make = {"pegasus": dnx.pegasus_graph, "zephyr": dnx.zephyr_graph, "chimera": dnx.chimera_graph}
    if topology_type not in make:
        raise ValueError(f"topology_type must be one of {sorted(make)}, got {topology_type!r}")
    return make[topology_type](*shape)


def largest_clique_size(graph) -> int:
    """How many dense variables fit on ``graph`` (busclique's largest clique; cached on disk by
    minorminer per graph)."""
    from minorminer.busclique import busgraph_cache

    return len(busgraph_cache(graph).largest_clique())


_EMBEDDINGS: dict = {}


def clique_embedding(graph, key, n: int) -> dict:
    """A clique embedding of variables ``0..n-1`` on ``graph``, found once per (``key``, n)."""
    if (key, n) not in _EMBEDDINGS:
        from minorminer.busclique import find_clique_embedding

        _EMBEDDINGS[key, n] = find_clique_embedding(n, graph)
    return _EMBEDDINGS[key, n]


def too_large(n: int, largest: int, where: str) -> ProblemTooLargeError:
    return ProblemTooLargeError(
        f"a dense problem of {n} variables does not fit {where}: the largest clique embedding"
        f" holds {largest} variables; use fewer candidates, solver='leap-hybrid', or a local"
        " solver such as 'anneal'"
    )


class QPUBackend(BackendBase):
    """The penalty BQM on a Leap QPU through a cached clique embedding.

    ``chain_strength`` defaults to uniform torque compensation (prefactor 1.414) computed here,
    so the value used is known and reported; pass a number to set it.
    """

    name = "leap-qpu"
    parameters = {p: [] for p in (*QPU_PARAMETERS, "chain_strength", "penalty")}

    def __init__(self, token: str | None = None, solver: str | dict | None = None):
        self.token = token
        self.solver = solver

    def child(self, seed: int):
        """The structured QPU sampler."""
        from dwave.system import DWaveSampler

        kwargs = {"token": leap_token(self.token)}
        if self.solver is not None:
            kwargs["solver"] = self.solver
        return DWaveSampler(**kwargs)

    def nominal_graph(self):
        """The graph a size check can use before connecting (an Advantage at full yield, an
        upper bound on any real one: the working graph is checked again when sampling)."""
        return topology_graph(*ADVANTAGE_SHAPE)

    def check(self, *, n, k, options) -> None:
        """A token (for Leap) and a problem that fits the QPU's largest clique."""
        leap_token(self.token)
        if n is not None:
            largest = largest_clique_size(self.nominal_graph())
            if n > largest:
                raise too_large(n, largest, f"{self.name}'s QPU graph")

    def sample(
        self, model: SubsetModel, *, seed: int, chain_strength=None, penalty=None, **options
    ) -> Samples:
        from dwave.embedding.chain_strength import uniform_torque_compensation
        from dwave.system import FixedEmbeddingComposite

        child = self.child(seed)
        graph = child.to_networkx_graph()
        key = (self.name, child.properties.get("chip_id"), graph.number_of_nodes())
        largest = largest_clique_size(graph)
        if model.n > largest:
            raise too_large(model.n, largest, f"{self.name}'s working graph")
        embedding = clique_embedding(graph, key, model.n)
        bqm = model.to_bqm(penalty)
        if chain_strength is None:
            chain_strength = float(uniform_torque_compensation(bqm))
        options = {"num_reads": 100, **options}
        start = time.perf_counter()
        sampler = FixedEmbeddingComposite(child, embedding)
        sampleset = sampler.sample(bqm, chain_strength=chain_strength, **options)
        sampleset.resolve()
        chain_lengths = [len(chain) for chain in embedding.values()]
        timing = dict(sampleset.info.get("timing", {}))
        info = {
            "penalty": model.penalty_strength() if penalty is None else float(penalty),
            "num_variables": bqm.num_variables,
            "num_samples": len(sampleset),
            "sample_seconds": time.perf_counter() - start,
            "best_bqm_energy": float(sampleset.first.energy),
            "embedding": "clique",
            "chain_strength": chain_strength,
            "num_reads": options["num_reads"],
            "chain_break_fraction": float(np.mean(sampleset.record.chain_break_fraction)),
            "max_chain_length": max(chain_lengths, default=0),
            "qubits": int(sum(chain_lengths)),
            "qpu_access_seconds": timing.get("qpu_access_time", 0.0) * 1e-6,
            "qpu_timing": timing,
        }
        return Samples(states_from_sampleset(sampleset, model.n), info, sampleset)


@functools.lru_cache(maxsize=4)
def _mock(topology_type: str, shape: tuple):
    from dwave.system.testing import MockDWaveSampler

    return MockDWaveSampler(topology_type=topology_type, topology_shape=list(shape))


class MockQPUBackend(QPUBackend):
    """The QPU path, offline, on ``MockDWaveSampler`` with a Pegasus P16 graph."""

    name = "mock-qpu"

    def __init__(self, topology_type: str = "pegasus", topology_shape=(16,)):
        super().__init__()
        self.topology_type = topology_type
        self.topology_shape = tuple(topology_shape)

    def child(self, seed: int):
        # the mock is built once per topology; each call gets a copy seeded for it
        mock = copy.copy(_mock(self.topology_type, self.topology_shape))
        mock.substitute_kwargs = {**mock.substitute_kwargs, "seed": seed}
        return mock

    def nominal_graph(self):
        return topology_graph(self.topology_type, self.topology_shape)

    def check(self, *, n, k, options) -> None:
        if n is not None:
            largest = largest_clique_size(self.nominal_graph())
            if n > largest:
                raise too_large(n, largest, f"the mock QPU's {self.topology_type} graph")


class HybridBackend(BackendBase):
    """Leap's hybrid solvers: ``LeapHybridCQMSampler`` on the constrained form (default), or
    ``LeapHybridSampler`` on the penalty BQM with ``form='bqm'``; ``time_limit`` (seconds) and
    ``label`` go to Leap."""

    name = "leap-hybrid"
    parameters = {"form": [], "penalty": [], "time_limit": [], "label": []}

    def __init__(self, token: str | None = None):
        self.token = token

    def check(self, *, n, k, options) -> None:
        if options.get("form", "cqm") not in ("cqm", "bqm"):
            raise SolverError(f"form must be 'cqm' or 'bqm', got {options['form']!r}")
        leap_token(self.token)

    def sample(
        self, model: SubsetModel, *, seed: int, form: str = "cqm", penalty=None, **options
    ) -> Samples:
        self.check(n=model.n, k=model.k, options={"form": form})
        token = leap_token(self.token)
        start = time.perf_counter()
        if form == "cqm":
            from dwave.system import LeapHybridCQMSampler

            sampleset = LeapHybridCQMSampler(token=token).sample_cqm(model.to_cqm(), **options)
        else:
            from dwave.system import LeapHybridSampler

            sampleset = LeapHybridSampler(token=token).sample(model.to_bqm(penalty), **options)
        sampleset.resolve()
        timing = {k: v for k, v in sampleset.info.items() if k.endswith("time")}
        info = {
            "form": form,
            "num_samples": len(sampleset),
            "sample_seconds": time.perf_counter() - start,
            "time_limit": options.get("time_limit"),
            "qpu_access_seconds": timing.get("qpu_access_time", 0.0) * 1e-6,
            "leap_timing": timing,
        }
        return Samples(states_from_sampleset(sampleset, model.n), info, sampleset)

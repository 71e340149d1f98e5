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
from qanneal_llm.solvers.qpu_window import window_search

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
    """The Leap token from the argument, ``DWAVE_API_TOKEN`` or the Ocean config file.

    Parameters
    ----------
    token : str, optional
        An explicit token, used as given.

    Returns
    -------
    str

    Raises
    ------
    MissingTokenError
        Saying to set ``DWAVE_API_TOKEN`` or run ``dwave setup``.
    """
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
    """The perfect-yield graph of a QPU topology (e.g. ``("pegasus", (16,))``).

    Parameters
    ----------
    topology_type : {"pegasus", "zephyr", "chimera"}
        The topology family.
    shape : tuple of int
        Its ``topology_shape``.

    Returns
    -------
    networkx.Graph
    """
    import dwave.graphs as dnx

    make = {"pegasus": dnx.pegasus_graph, "zephyr": dnx.zephyr_graph, "chimera": dnx.chimera_graph}
    if topology_type not in make:
        raise ValueError(f"topology_type must be one of {sorted(make)}, got {topology_type!r}")
    return make[topology_type](*shape)


def largest_clique_size(graph) -> int:
    """How many dense variables fit on ``graph`` (busclique's largest clique; cached on disk by
    minorminer per graph).

    Parameters
    ----------
    graph : networkx.Graph
        A QPU working graph.

    Returns
    -------
    int
    """
    from minorminer.busclique import busgraph_cache

    return len(busgraph_cache(graph).largest_clique())


@functools.lru_cache(maxsize=8)
def topology_clique_size(topology_type: str, shape: tuple) -> int:
    """:func:`largest_clique_size` of a topology at full yield.

    Parameters
    ----------
    topology_type : str
        As in :func:`topology_graph`.
    shape : tuple of int
        As in :func:`topology_graph`.

    Returns
    -------
    int
    """
    return largest_clique_size(topology_graph(topology_type, shape))


_EMBEDDINGS: dict = {}  # (graph key, n) -> clique embedding
_LARGEST: dict = {}  # graph key -> largest clique size


def clique_embedding(graph, key, n: int) -> dict:
    """A clique embedding of variables ``0..n-1`` on ``graph``, found once per (``key``, n).

    Parameters
    ----------
    graph : networkx.Graph
        A QPU working graph.
    key : hashable
        Names ``graph`` in the cache.
    n : int
        Variables to embed.

    Returns
    -------
    dict
        Variable -> chain of qubits.
    """
    if (key, n) not in _EMBEDDINGS:
        from minorminer.busclique import find_clique_embedding

        _EMBEDDINGS[key, n] = find_clique_embedding(n, graph)
    return _EMBEDDINGS[key, n]


def too_large(n: int, largest: int, where: str) -> ProblemTooLargeError:
    """The error for ``n`` dense variables on a QPU whose largest clique holds ``largest``.

    Parameters
    ----------
    n : int
        Variables of the problem.
    largest : int
        Largest clique embedding of the graph.
    where : str
        The graph, for the message.

    Returns
    -------
    ProblemTooLargeError
        Naming the three ways out (a window, fewer candidates, the hybrid solver).
    """
    return ProblemTooLargeError(
        f"a dense problem of {n} variables does not fit {where}: the largest clique embedding"
        f" holds {largest} variables; pass window=<at most {largest}> to let the QPU solve"
        " windows of it inside the annealer, use fewer candidates, or solver='leap-hybrid'"
    )


class QPUBackend(BackendBase):
    """The penalty BQM on a Leap QPU through a cached clique embedding.

    ``chain_strength`` defaults to uniform torque compensation (prefactor 1.414) computed here,
    so the value used is known and reported; pass a number to set it. ``window`` (at most the
    largest clique) sends a larger problem through :func:`~qanneal_llm.solvers.qpu_window.
    window_search`: the QPU solves windows of that many variables inside the annealer's loop,
    for up to ``window_rounds`` rounds (default 8). ``info['qpu_access_seconds']`` sums the
    QPU access time of every call.
    """

    name = "leap-qpu"
    parameters = {
        p: [] for p in (*QPU_PARAMETERS, "chain_strength", "penalty", "window", "window_rounds")
    }
    default_reads = 100

    def __init__(self, token: str | None = None, solver: str | dict | None = None):
        self.token = token
        self.solver = solver
        self._child = self._graph = None
        self._composites: dict = {}  # n -> FixedEmbeddingComposite, built once per size

    def child(self, seed: int):
        """The structured QPU sampler (connected once per backend)."""
        if self._child is None:
            from dwave.system import DWaveSampler

            kwargs = {"token": leap_token(self.token)}
            if self.solver is not None:
                kwargs["solver"] = self.solver
            self._child = DWaveSampler(**kwargs)
        return self._child

    def nominal_topology(self) -> tuple[str, tuple]:
        """The topology a size check can use before connecting (an Advantage at full yield, an
        upper bound on any real one: the working graph is checked again when sampling)."""
        return ADVANTAGE_SHAPE

    def working_graph(self):
        """The QPU's working graph and a key naming it (for the embedding cache)."""
        if self._graph is None:
            child = self.child(0)
            key = (child.solver.name, child.properties.get("chip_id"))
            self._graph = (child.to_networkx_graph(), key)
        return self._graph

    def embedding(self, n: int) -> dict:
        """The clique embedding of ``n`` variables on the working graph, found once per graph
        and size; refuses a size larger than the largest clique."""
        graph, key = self.working_graph()
        if key not in _LARGEST:
            _LARGEST[key] = largest_clique_size(graph)
        largest = _LARGEST[key]
        if n > largest:
            raise too_large(n, largest, f"{self.name}'s working graph")
        return clique_embedding(graph, key, n)

    def check(self, *, n, k, options) -> None:
        """A token (for Leap) and a problem that fits the QPU's largest clique, or a window
        that does."""
        leap_token(self.token)
        self._check_size(n, options, f"{self.name}'s QPU graph")

    def _check_size(self, n, options, where: str) -> None:
        largest = topology_clique_size(*self.nominal_topology())
        window = options.get("window")
        if window is not None and not 2 <= window <= largest:
            raise SolverError(
                f"window must be between 2 and {largest} (the largest clique on {where}), got"
                f" {window}"
            )
        if n is not None and window is None and n > largest:
            raise too_large(n, largest, where)

    def sample(
        self,
        model: SubsetModel,
        *,
        seed: int,
        window: int | None = None,
        window_rounds: int = 8,
        **options,
    ) -> Samples:
        if window is None or window >= model.n:
            return self._sample_clique(model, seed, **options)

        def sample_window(sub: SubsetModel, draw: int) -> Samples:
            return self._sample_clique(sub, draw, **options)

        samples = window_search(model, sample_window, size=window, seed=seed, rounds=window_rounds)
        samples.info["local_optima"] = True  # it ends with the annealer's local search
        return samples

    def _sample_clique(
        self, model: SubsetModel, seed: int, *, chain_strength=None, penalty=None, **options
    ) -> Samples:
        from dwave.embedding.chain_strength import uniform_torque_compensation
        from dwave.system import FixedEmbeddingComposite

        child = self.child(seed)
        # candidates are 0..n-1, group slack bits follow: number them all 0..m-1
        bqm, labels = model.to_bqm(penalty).relabel_variables_as_integers(inplace=False)
        m = bqm.num_variables
        t = time.perf_counter()
        embedding = self.embedding(m)
        embed_seconds = time.perf_counter() - t
        if chain_strength is None:
            chain_strength = float(uniform_torque_compensation(bqm))
        options = {"num_reads": self.default_reads, **options}
        start = time.perf_counter()
        if m not in self._composites:
            self._composites[m] = FixedEmbeddingComposite(child, embedding)
        sampleset = self._composites[m].sample(bqm, chain_strength=chain_strength, **options)
        sampleset.resolve()
        sampleset.relabel_variables(labels)
        chain_lengths = [len(chain) for chain in embedding.values()]
        timing = dict(sampleset.info.get("timing", {}))
        info = {
            "penalty": model.penalty_strength() if penalty is None else float(penalty),
            "num_variables": bqm.num_variables,
            "num_samples": len(sampleset),
            "embedding": "clique",
            "embedding_seconds": embed_seconds,
            "sample_seconds": time.perf_counter() - start,
            "best_bqm_energy": float(sampleset.first.energy),
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

    default_reads = 10  # the mock's reads are CPU time, not QPU samples

    def child(self, seed: int):
        # built once per topology (seconds for P16); the seed is set right before each call
        mock = _mock(self.topology_type, self.topology_shape)
        mock.substitute_kwargs = {**mock.substitute_kwargs, "seed": seed}
        return mock

    def nominal_topology(self):
        return self.topology_type, self.topology_shape

    def working_graph(self):
        # the mock works at full yield: its graph is the topology's own
        graph = topology_graph(self.topology_type, self.topology_shape)
        return graph, ("mock", self.topology_type, self.topology_shape)

    def check(self, *, n, k, options) -> None:
        self._check_size(n, options, f"the mock QPU's {self.topology_type} graph")


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

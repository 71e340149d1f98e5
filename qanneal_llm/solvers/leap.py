"""D-Wave Leap backends (QPU and hybrid) and an offline mock of the QPU path.

The QPU takes the penalty BQM through ``EmbeddingComposite`` with an explicit chain strength, and
reports the chain-break fraction; the hybrid CQM solver takes the constrained form, so it never
needs a penalty. ``mock-qpu`` runs the very same embedding path on ``MockDWaveSampler`` with a
Pegasus graph (the default Chimera graph cannot embed 30 dense variables), so CI exercises the
QPU code without a token.
"""

from __future__ import annotations

import os
import time

import numpy as np

from qanneal_llm.qubo.model import SubsetModel
from qanneal_llm.solvers.base import BQMBackend, Samples, states_from_sampleset


class MissingTokenError(RuntimeError):
    """No Leap API token could be found."""


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


class QPUBackend(BQMBackend):
    """The penalty BQM on a QPU through ``EmbeddingComposite``.

    ``chain_strength`` defaults to uniform torque compensation (prefactor 1.414) computed here,
    so the value used is known and reported; pass a number to set it.
    """

    name = "leap-qpu"

    def __init__(self, token: str | None = None, solver: str | dict | None = None):
        self.token = token
        self.solver = solver

    def child_sampler(self, seed: int):
        from dwave.system import DWaveSampler

        kwargs = {"token": leap_token(self.token)}
        if self.solver is not None:
            kwargs["solver"] = self.solver
        return DWaveSampler(**kwargs)

    def sampler(self, seed: int):
        from dwave.system import EmbeddingComposite

        return EmbeddingComposite(self.child_sampler(seed))

    def sample_options(self, bqm, seed, options):
        from dwave.embedding.chain_strength import uniform_torque_compensation

        options = {"num_reads": 100, **options, "return_embedding": True}
        if options.get("chain_strength") is None:
            options["chain_strength"] = float(uniform_torque_compensation(bqm))
        return options

    def extra_info(self, sampleset, options):
        embedding = sampleset.info.get("embedding_context", {}).get("embedding", {})
        chain_lengths = [len(chain) for chain in embedding.values()]
        return {
            "chain_strength": options["chain_strength"],
            "num_reads": options["num_reads"],
            "chain_break_fraction": float(np.mean(sampleset.record.chain_break_fraction)),
            "max_chain_length": max(chain_lengths, default=0),
            "qubits": int(sum(chain_lengths)),
            "qpu_timing": dict(sampleset.info.get("timing", {})),
        }


class MockQPUBackend(QPUBackend):
    """The QPU path, offline, on ``MockDWaveSampler`` with a Pegasus P6 graph."""

    name = "mock-qpu"

    def __init__(self, topology_type: str = "pegasus", topology_shape=(6,)):
        super().__init__()
        self.topology_type = topology_type
        self.topology_shape = list(topology_shape)

    def child_sampler(self, seed: int):
        from dwave.system.testing import MockDWaveSampler

        return MockDWaveSampler(
            topology_type=self.topology_type,
            topology_shape=self.topology_shape,
            substitute_kwargs={"seed": seed},
        )


class HybridBackend:
    """Leap's hybrid solvers: ``LeapHybridCQMSampler`` on the constrained form (default), or
    ``LeapHybridSampler`` on the penalty BQM with ``form='bqm'``."""

    name = "leap-hybrid"

    def __init__(self, token: str | None = None):
        self.token = token

    def sample(
        self, model: SubsetModel, *, seed: int, form: str = "cqm", penalty=None, **options
    ) -> Samples:
        token = leap_token(self.token)
        start = time.perf_counter()
        if form == "cqm":
            from dwave.system import LeapHybridCQMSampler

            sampleset = LeapHybridCQMSampler(token=token).sample_cqm(model.to_cqm(), **options)
        elif form == "bqm":
            from dwave.system import LeapHybridSampler

            sampleset = LeapHybridSampler(token=token).sample(model.to_bqm(penalty), **options)
        else:
            raise ValueError(f"form must be 'cqm' or 'bqm', got {form!r}")
        sampleset.resolve()
        info = {
            "form": form,
            "num_samples": len(sampleset),
            "sample_seconds": time.perf_counter() - start,
            "leap_timing": {k: v for k, v in sampleset.info.items() if k.endswith("time")},
        }
        return Samples(states_from_sampleset(sampleset, model.n), info, sampleset)

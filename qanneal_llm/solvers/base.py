"""What a backend is, what it must give back, and the errors a solver call raises up front.

Every backend follows :class:`Backend`: a ``name``, the ``parameters`` it accepts (dimod's
convention: a dict keyed by option name), ``sample(model, *, seed, **options)`` returning
:class:`Samples`, ``check`` for what can be refused before any work, and ``sample_many`` (a
batch mode) or ``None``. :class:`BackendBase` gives the defaults; :class:`BQMBackend` is the
shared path for backends that hand the penalty BQM to a dimod sampler.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import dimod
import numpy as np

from qanneal_llm.qubo.model import SubsetModel


def below(value: float, than: float) -> bool:
    """Whether ``value`` is lower than ``than`` by more than rounding (a relative 1e-9)."""
    return value < than - 1e-9 * (1.0 + abs(than))


class SolverError(ValueError):
    """A solver call that cannot run as asked; the message says what to change (one line)."""


class UnknownSolverError(SolverError):
    """No backend is registered under the given name."""


class UnknownOptionError(SolverError):
    """An option the chosen backend does not declare in its ``parameters``."""


class ProblemTooLargeError(SolverError):
    """The problem is too large for the chosen backend (brute force, or the QPU's graph)."""


class MissingTokenError(SolverError):
    """No Leap API token could be found."""


@dataclass
class Samples:
    """Raw candidate selections from one backend call, over the reduced model's candidates."""

    states: np.ndarray
    info: dict = field(default_factory=dict)
    sampleset: dimod.SampleSet | None = None


@runtime_checkable
class Backend(Protocol):
    """The interface :func:`~qanneal_llm.solvers.solve` calls.

    ``parameters`` lists every option ``sample`` accepts besides ``seed`` (anything else is
    refused by name). ``check`` raises a :class:`SolverError` for what is knowable from the
    size alone (``n`` candidates, ``k`` chosen, either may be ``None``) and ``options``.
    ``sample_many(models, seeds, *, n_jobs, **options)`` yields one :class:`Samples` per
    model in order; ``None`` when the backend has no batch mode.
    """

    name: str
    parameters: Mapping[str, list]
    sample_many: Callable[..., Iterable[Samples]] | None

    def sample(self, model: SubsetModel, *, seed: int, **options) -> Samples:
        """Propose selections for ``model``.

        Parameters
        ----------
        model : SubsetModel
            The reduced model (no forced candidates).
        seed : int
            The only source of randomness; equal seeds give equal samples.
        **options
            Only names in ``parameters``.

        Returns
        -------
        Samples
            Candidate states (feasible or not: :func:`solve` checks and repairs) and info.
        """
        ...

    def check(self, *, n: int | None, k: int | None, options: Mapping) -> None:
        """Raise a :class:`SolverError` for a call that cannot run, before any work.

        Parameters
        ----------
        n, k : int or None
            Candidates and how many to choose, when known.
        options : mapping
            The options the call would pass to :meth:`sample`.
        """
        ...


class BackendBase:
    """Defaults for a :class:`Backend`: no options, nothing to check, no batch mode."""

    name = "backend"
    parameters: Mapping[str, list] = {}
    sample_many = None

    def check(self, *, n: int | None, k: int | None, options: Mapping) -> None:
        """Nothing to refuse up front."""

    def sample(self, model: SubsetModel, *, seed: int, **options) -> Samples:
        """See :meth:`Backend.sample`; subclasses implement it."""
        raise NotImplementedError


def check_options(name: str, parameters: Mapping, options: Mapping) -> None:
    """Refuse options that solver ``name`` does not declare in ``parameters``.

    Where dimod's ``remove_unknown_kwargs`` warns and drops them, we refuse and name the valid
    ones: a typo should not silently run with defaults.

    Parameters
    ----------
    name : str
        The solver, for the message.
    parameters : mapping
        Its declared options.
    options : mapping
        The options given.

    Raises
    ------
    UnknownOptionError
        Naming the unknown options and the valid ones.
    """
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        valid = ", ".join(sorted(parameters)) or "none"
        raise UnknownOptionError(
            f"solver {name!r} has no option {', '.join(map(repr, unknown))}; its options are:"
            f" {valid}"
        )


def states_from_sampleset(sampleset: dimod.SampleSet, n: int) -> np.ndarray:
    """The candidate bits ``0..n-1`` of every sample (slack bits dropped), as int8 rows.

    Parameters
    ----------
    sampleset : dimod.SampleSet
        A sampler's answer to :meth:`SubsetModel.to_bqm`'s model.
    n : int
        Number of candidates.

    Returns
    -------
    ndarray of int8, shape (num_samples, n)
    """
    if not len(sampleset):
        raise RuntimeError("the backend returned an empty sample set")
    columns = [sampleset.variables.index(i) for i in range(n)]
    return np.ascontiguousarray(sampleset.record.sample[:, columns], dtype=np.int8)


class BQMBackend(BackendBase):
    """A backend that solves the penalty form with a dimod sampler.

    Subclasses say which sampler to use (:meth:`sampler`), which call options it gets
    (:meth:`sample_options`) and what else to report (:meth:`extra_info`). The seed is passed
    on when the sampler declares a ``seed`` parameter; ``penalty`` overrides the calibrated
    penalty weight.
    """

    name = "bqm"

    def sampler(self) -> dimod.Sampler:
        """The dimod sampler to call; subclasses implement it."""
        raise NotImplementedError

    @property
    def parameters(self) -> dict[str, list]:
        """The sampler's own parameters (less ``seed``) plus ``penalty``."""
        names = set(self.sampler().parameters) - {"seed"}
        return {name: [] for name in sorted(names | {"penalty"})}

    def sample_options(self, bqm: dimod.BinaryQuadraticModel, options: dict) -> dict:
        """The options the sampler is called with (default: as given)."""
        return options

    def extra_info(self, sampleset: dimod.SampleSet, options: dict) -> dict:
        """What else to report about a call (default: nothing)."""
        return {}

    def sample(self, model: SubsetModel, *, seed: int, penalty: float | None = None, **options):
        """See :meth:`Backend.sample`; ``penalty`` overrides the calibrated penalty weight."""
        bqm = model.to_bqm(penalty)
        sampler = self.sampler()
        if "seed" in sampler.parameters:
            options = {"seed": seed, **options}
        options = self.sample_options(bqm, options)
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

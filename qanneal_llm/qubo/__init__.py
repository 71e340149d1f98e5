"""QUBO builders: plain arrays in, a validated :class:`SubsetModel` out."""

from qanneal_llm.qubo.model import InfeasibleModelError, SubsetModel, subset_model

__all__ = ["InfeasibleModelError", "SubsetModel", "subset_model"]

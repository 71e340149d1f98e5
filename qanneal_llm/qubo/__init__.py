"""QUBO builders: plain arrays in, a validated :class:`SubsetModel` out."""

from qanneal_llm.qubo.features import collaborative_feature_model, feature_model
from qanneal_llm.qubo.model import InfeasibleModelError, SubsetModel, subset_model
from qanneal_llm.qubo.portfolio import portfolio_model
from qanneal_llm.qubo.relaxation import relax
from qanneal_llm.qubo.selection import cosine_similarity, slate_model

__all__ = [
    "InfeasibleModelError",
    "SubsetModel",
    "collaborative_feature_model",
    "cosine_similarity",
    "feature_model",
    "portfolio_model",
    "relax",
    "slate_model",
    "subset_model",
]

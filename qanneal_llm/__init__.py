"""qanneal-llm: hand a pipeline's "which k to keep" choice to an annealer.

Text encoders embed users, items and assets; the QUBO builders in :mod:`qanneal_llm.qubo`
turn those embeddings into selection problems; :func:`qanneal_llm.solve` solves them on any
registered backend (local annealers, D-Wave Leap, a mock QPU) and says how it did.
"""

from qanneal_llm.qubo import (
    InfeasibleModelError,
    SubsetModel,
    collaborative_feature_model,
    feature_model,
    portfolio_model,
    slate_model,
    subset_model,
)
from qanneal_llm.solvers import (
    SelectionResult,
    SwapAnnealingSampler,
    available_backends,
    solve,
    solve_many,
)

__version__ = "0.1.0"


def __getattr__(name: str):
    # ColdStartFeatures pulls in scikit-learn and scipy.stats; importing it lazily keeps
    # `import qanneal_llm` (and so the CLI's up-front solver checks) fast.
    if name == "ColdStartFeatures":
        from qanneal_llm.coldstart import ColdStartFeatures

        return ColdStartFeatures
    raise AttributeError(f"module 'qanneal_llm' has no attribute {name!r}")


__all__ = [
    "ColdStartFeatures",
    "InfeasibleModelError",
    "SelectionResult",
    "SubsetModel",
    "SwapAnnealingSampler",
    "available_backends",
    "collaborative_feature_model",
    "feature_model",
    "portfolio_model",
    "slate_model",
    "solve",
    "solve_many",
    "subset_model",
]

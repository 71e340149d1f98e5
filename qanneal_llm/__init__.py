"""qanneal-llm: hand a pipeline's "which k to keep" choice to an annealer.

Text encoders embed users, items and assets; the QUBO builders in :mod:`qanneal_llm.qubo`
turn those embeddings into selection problems; :func:`qanneal_llm.solve` solves them on any
registered backend (local annealers, D-Wave Leap, a mock QPU) and says how it did.
"""

__version__ = "0.1.0"

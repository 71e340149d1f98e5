"""Slate selection: k of n candidates, relevant but not alike.

Maximise ``sum relevance - diversity * sum_{pairs} similarity`` over exactly ``k`` candidates,
optionally with per-group minimum/maximum counts (genres, brands) and forced-in/forced-out ids.
The model minimises, so relevance enters the linear terms negated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qanneal_llm._validation import finite_array, square_symmetric, unit_rows
from qanneal_llm.qubo.model import SubsetModel, subset_model


def cosine_similarity(vectors, name: str = "vectors") -> np.ndarray:
    """Pairwise cosine similarity of the rows of ``vectors``.

    An all-zero row raises (see :func:`~qanneal_llm._validation.unit_rows`): calling it
    "similar to nothing" would make a missing embedding the most diverse pick of every slate.
    The same rule holds for :class:`~qanneal_llm.portfolio.PortfolioSelector`'s embeddings and
    for :mod:`recsys`' MMR, DPP and ILD.

    Parameters
    ----------
    vectors : array-like of shape (n, d)
        Finite vectors.
    name : str, default="vectors"
        Their name in error messages.

    Returns
    -------
    ndarray of shape (n, n)

    Examples
    --------
    >>> cosine_similarity([[1.0, 0.0], [1.0, 1.0]]).round(4).tolist()
    [[1.0, 0.7071], [0.7071, 1.0]]
    """
    unit = unit_rows(vectors, name)
    return unit @ unit.T


def slate_model(
    relevance,
    k: int,
    *,
    similarity=None,
    vectors=None,
    diversity: float = 0.5,
    ids: Sequence | None = None,
    groups: Mapping[str, Sequence] | None = None,
    group_bounds: Mapping[str, tuple[int | None, int | None]] | None = None,
    forced_in: Sequence | None = None,
    forced_out: Sequence | None = None,
) -> SubsetModel:
    """Build the slate model from relevance scores and a similarity (or the vectors giving it).

    Parameters
    ----------
    relevance : array-like of shape (n,)
        Each candidate's relevance (higher is better).
    k : int
        Slate size.
    similarity : array-like of shape (n, n), optional
        Symmetric pairwise similarity; give this or ``vectors``.
    vectors : array-like of shape (n, d), optional
        Candidate vectors; their cosine similarity is used. With ``d < n`` the model keeps
        them (scaled) as its ``factor``, and ``solve(..., time_limit=...)`` starts from the
        convex relaxation (:mod:`qanneal_llm.qubo.relaxation`).
    diversity : float, default=0.5
        Weight of the summed pairwise similarity against the summed relevance.
    ids : sequence, optional
        Candidate ids.
    groups, group_bounds : mapping, optional
        Group name -> member ids, and group name -> ``(min, max)`` counts in the slate.
    forced_in, forced_out : sequence, optional
        Ids that must / must not be in the slate.

    Returns
    -------
    SubsetModel

    Examples
    --------
    >>> m = slate_model([0.9, 0.8, 0.1], k=2, similarity=[[1, 0.95, 0], [0.95, 1, 0], [0, 0, 1]],
    ...                 diversity=1.0, ids=["a", "b", "c"])
    >>> from qanneal_llm.solvers import solve
    >>> solve(m, "exact").ids
    ['a', 'c']
    """
    relevance = finite_array(relevance, "relevance", 1)
    n = relevance.shape[0]
    if (similarity is None) == (vectors is None):
        raise ValueError("give exactly one of similarity (n x n) or vectors (n x d)")
    if not np.isfinite(diversity) or diversity < 0:
        raise ValueError(f"diversity must be a finite number >= 0, got {diversity!r}")
    factor = None
    if vectors is not None:
        vectors = finite_array(vectors, "vectors", 2)
        if vectors.shape[0] != n:
            raise ValueError(f"vectors has {vectors.shape[0]} rows for {n} relevance scores")
        unit = unit_rows(vectors, "vectors")
        similarity = unit @ unit.T
        if unit.shape[1] < n:
            # the pairwise costs are a low-rank Gram matrix: its factor is smaller than the
            # quadratic, and the search may use their convex relaxation
            factor = np.sqrt(diversity) * unit
    similarity = square_symmetric(similarity, "similarity", n).copy()
    np.fill_diagonal(similarity, 0.0)
    linear_rel, quad_sim = -relevance, diversity * similarity
    return subset_model(
        linear_rel,
        quad_sim,
        k,
        ids=ids,
        groups=groups,
        group_bounds=group_bounds,
        forced_in=forced_in,
        forced_out=forced_out,
        components={"relevance": (linear_rel, None), "similarity": (None, quad_sim)},
        factor=factor,
        name="slate",
    )

"""Portfolio selection: K of n assets, held in equal weight.

With weights ``x / K`` the equal-weight portfolio's expected return is ``mu @ x / K`` and its
variance ``x @ Sigma @ x / K^2``; the semantic term is the mean pairwise text similarity of the
held assets, ``sum_{i<j} S_ij x_i x_j / C(K, 2)``, which penalises holding several companies
that do the same business even when their past returns have not yet diverged. With ``held``
and ``switch_cost`` the model also knows what trading costs: entering an asset not held now
sells ``1/K`` of something else and buys ``1/K`` of it, so each such asset adds
``switch_cost / K`` (``switch_cost``: the round-trip cost rate spread over the holding period,
in the units of ``expected_returns``). The model minimises ``-return + risk_aversion *
variance + semantic_penalty * similarity + switching cost``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qanneal_llm._validation import cardinality, finite_array, square_symmetric
from qanneal_llm.qubo.model import SubsetModel, subset_model


def portfolio_model(
    expected_returns,
    covariance,
    k: int,
    *,
    risk_aversion: float = 1.0,
    similarity=None,
    semantic_penalty: float = 0.0,
    ids: Sequence | None = None,
    sectors: Mapping[str, Sequence] | None = None,
    sector_bounds: Mapping[str, tuple[int | None, int | None]] | None = None,
    held: Sequence | None = None,
    switch_cost: float = 0.0,
) -> SubsetModel:
    """Build the equal-weight K-asset selection model.

    Parameters
    ----------
    expected_returns : array-like of shape (n,)
        Per-period expected returns.
    covariance : array-like of shape (n, n)
        Covariance of the returns, in the same units.
    k : int
        Number of assets to hold.
    risk_aversion : float, default=1.0
        Weight of the equal-weight portfolio variance.
    similarity : array-like of shape (n, n), optional
        Pairwise text similarity of the assets (needed when ``semantic_penalty > 0``).
    semantic_penalty : float, default=0.0
        Weight of the held assets' mean pairwise similarity.
    ids : sequence, optional
        Asset ids.
    sectors, sector_bounds : mapping, optional
        Sector -> member ids, and sector -> ``(min, max)`` counts among the held.
    held : sequence, optional
        Ids held now, for ``switch_cost``.
    switch_cost : float, default=0.0
        Round-trip cost of entering an asset not held now, per holding period.

    Returns
    -------
    SubsetModel

    Examples
    --------
    >>> import numpy as np
    >>> m = portfolio_model([0.10, 0.09, 0.02], np.diag([0.04, 0.04, 0.01]), k=2,
    ...                     ids=["A", "B", "C"])
    >>> round(m.objective([1, 1, 0]), 6)  # -(0.19 / 2) + (0.04 + 0.04) / 4
    -0.075
    """
    mu = finite_array(expected_returns, "expected_returns", 1)
    n = mu.shape[0]
    sigma = square_symmetric(covariance, "covariance", n)
    if np.any(np.diag(sigma) < 0):
        raise ValueError(
            "covariance has negative variances on its diagonal; it is not a covariance"
        )
    k = cardinality(k, n, "assets")
    for name, value in (
        ("risk_aversion", risk_aversion),
        ("semantic_penalty", semantic_penalty),
        ("switch_cost", switch_cost),
    ):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if semantic_penalty and similarity is None:
        raise ValueError("semantic_penalty > 0 needs the assets' similarity matrix")

    ret_lin = -mu / k
    risk_lin = risk_aversion * np.diag(sigma) / k**2
    risk_quad = risk_aversion * 2.0 * sigma / k**2
    np.fill_diagonal(risk_quad, 0.0)
    sem_quad = np.zeros((n, n))
    if similarity is not None:
        sim = square_symmetric(similarity, "similarity", n).copy()
        np.fill_diagonal(sim, 0.0)
        pairs = k * (k - 1) / 2
        sem_quad = semantic_penalty * sim / pairs if pairs else sem_quad
    trade_lin = np.zeros(n)
    if switch_cost:
        position = {key: i for i, key in enumerate(range(n) if ids is None else list(ids))}
        unknown = [key for key in (held or []) if key not in position]
        if unknown:
            raise ValueError(f"held names unknown assets {unknown[:5]}; use the assets' ids")
        trade_lin[:] = switch_cost / k
        trade_lin[[position[key] for key in (held or [])]] = 0.0
    return subset_model(
        ret_lin + risk_lin + trade_lin,
        risk_quad + sem_quad,
        k,
        ids=ids,
        groups=sectors,
        group_bounds=sector_bounds,
        components={
            "return": (ret_lin, None),
            "risk": (risk_lin, risk_quad),
            "similarity": (None, sem_quad),
            "trading": (trade_lin, None),
        },
        name="portfolio",
    )

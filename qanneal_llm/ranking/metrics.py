"""Binary NDCG@k, the one implementation both the head's early stopping and recsys report use."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["ndcg_at_k"]


def ndcg_at_k(top, truth: sp.csr_matrix, k: int) -> np.ndarray:
    """Per-row binary NDCG@k of ranked lists against truth rows (RecBole's definition).

    The ideal DCG is over ``min(|truth|, k)`` items; any stored non-zero of ``truth`` counts as
    relevant. :func:`recsys.metrics.ranking_metrics` reports this same function's values.

    Parameters
    ----------
    top : array-like of int, shape (n, >= k)
        Ranked item indices per row, best first.
    truth : scipy.sparse.csr_matrix of shape (n, n_items)
        The held-out interactions, one row per row of ``top``, explicit zeros eliminated.
    k : int
        The cut-off.

    Returns
    -------
    ndarray of shape (n,)
        NDCG@k per row; NaN for rows without truth, so callers can average over the rest.

    Examples
    --------
    >>> ndcg_at_k(np.array([[2, 0]]), sp.csr_matrix([[1, 0, 0]]), k=2).round(4).tolist()
    [0.6309]
    """
    top = np.asarray(top)[:, :k]
    n_truth = np.diff(truth.indptr)
    hits = np.asarray(truth[np.repeat(np.arange(top.shape[0]), top.shape[1]), top.ravel()])
    hits = (hits.reshape(top.shape) != 0).astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(n_truth, top.shape[1])]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_truth > 0, hits @ discounts / ideal, np.nan)

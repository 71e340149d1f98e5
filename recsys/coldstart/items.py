"""Cold items: rank items that have no interactions yet, from their content alone.

Scorers (each returns a ``(n_users, n_cold)`` score matrix for one stage of a
:class:`~recsys.coldstart.splits.ColdItemSplit`):

- :func:`knn_cbf_scores` - ItemKNN-CBF as in CQFS: cosine between a cold item's content vector
  and every warm item's, the ``neighbors`` most similar warm items kept, a user's score the sum
  over the warm items they interacted with.
- :func:`content_head_scores` - the ranking head without id embeddings
  (:class:`qanneal_llm.ranking.RankingHeadRecommender` with ``use_ids=False``), trained on the
  warm items; a cold item is scored through the learned content projection only (no item bias:
  nothing is known about its popularity).

:func:`evaluate_scores` ranks the stage's cold items for every user with at least one of them in
their interactions and averages NDCG/Recall/... at ``k``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.decomposition import PCA

from qanneal_llm._validation import torch_threads
from qanneal_llm.ranking import RankingHeadRecommender
from recsys.metrics import per_user_ranking_metrics, topk_from_scores

__all__ = [
    "content_head_scores",
    "evaluate_scores",
    "knn_cbf_scores",
    "pca_vectors",
]


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def knn_cbf_scores(vectors, fit_matrix, warm, cold, neighbors: int = 100):
    """ItemKNN-CBF scores of the ``cold`` items for every user (rows of ``fit_matrix``)."""
    V = np.asarray(vectors, dtype=np.float64)
    sim = _unit(V[cold]) @ _unit(V[warm]).T
    m = min(int(neighbors), sim.shape[1])
    if m < sim.shape[1]:
        drop = np.argpartition(-sim, m - 1, axis=1)[:, m:]
        np.put_along_axis(sim, drop, 0.0, axis=1)
    R = sp.csr_matrix(fit_matrix)[:, warm]
    return np.asarray(R @ sim.T, dtype=np.float64)


def pca_vectors(vectors, warm, n_components: int, seed: int = 0) -> np.ndarray:
    """PCA to ``n_components`` fitted on the warm items' vectors, applied to all items."""
    V = np.asarray(vectors, dtype=np.float64)
    pca = PCA(n_components=n_components, random_state=seed).fit(V[warm])
    return pca.transform(V)


def content_head_scores(
    vectors, fit_matrix, warm, cold, *, dim=64, epochs=20, seed=0, threads=1, lr=3e-3
):
    """Train the content-only ranking head on the warm items and score the cold ones.

    Returns ``(scores (n_users, n_cold), fitted head)``. Users are represented by the mean
    content vector of their warm items; warm items by their content vectors alone.
    (Predicting a cold item's bias from its content by ridge regression on the warm items'
    learned biases was tried and changed NDCG@10 by less than 0.001, so cold items get none.)
    """
    V = np.asarray(vectors, dtype=np.float32)
    V = V - V[warm].mean(axis=0)
    R = sp.csr_matrix(fit_matrix)[:, warm]
    counts = np.asarray(R.sum(axis=1)).ravel()
    users_feat = np.asarray(R @ V[warm]) / np.maximum(counts, 1)[:, None]
    head = RankingHeadRecommender(dim=dim, use_ids=False, epochs=epochs, seed=seed, lr=lr)
    with torch_threads(int(threads)):
        head.fit(R, user_features=users_feat.astype(np.float32), item_features=V[warm])
        module = head.module_
        with torch.inference_mode():
            u = module.user_vectors(torch.arange(R.shape[0]))
            i = module.item_proj(torch.from_numpy(np.ascontiguousarray(V[cold])))
            scores = (u @ i.T).double().numpy()
    return scores, head


def evaluate_scores(scores, truth_cold: sp.csr_matrix, k: int = 10) -> dict:
    """Per-user metrics of ranking the cold items by ``scores``; users without cold truth are
    skipped. Returns the per-user arrays (``users``, ``ndcg``, ...)."""
    truth = sp.csr_matrix(truth_cold)
    has = np.flatnonzero(np.diff(truth.indptr) > 0)
    top = topk_from_scores(np.asarray(scores)[has], None, k)
    per_user = per_user_ranking_metrics(top, truth[has], k)
    per_user["users"] = has[per_user["users"]]
    return per_user

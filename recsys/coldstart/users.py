"""Cold users: a new user rates a short onboarding slate, then gets recommendations.

A brand-new user has no history, so the system first asks about ``k`` items. What to ask is a
selection problem: items the user is likely to know (else the answer says nothing), unlike each
other (ten sequels of one film teach one thing about taste), spread over what people watch.
:func:`qubo_onboarding` poses it as the slate QUBO

``maximise sum_i p_i - diversity * sum_{i<j} cos(v_i, v_j)``, exactly ``k`` items,

over the ``n_candidates`` most popular warm items, with ``p_i`` the share of warm users who
interacted with item ``i`` (the chance a new user can answer) and ``v_i`` the item's LLM text
embedding centred on the warm items' mean (raw MiniLM cosines are all positive). The baselines
ask about the ``k`` most popular items, ``k`` random warm items, or a greedy max-coverage choice
(each next item the one known by the most warm users not yet covered).

:func:`rank_after_onboarding` then ranks every item for each cold user from the answers alone:
ItemKNN (collaborative, fitted on the warm users) over the items the user said they know, with
popularity breaking ties (and ranking alone for users who knew none). Items the user was asked
about and knew are not recommended again.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from qanneal_llm import slate_model, solve
from qanneal_llm.qubo import cosine_similarity
from recsys.baselines import ItemKNN
from recsys.metrics import per_user_ranking_metrics, topk_from_scores

__all__ = [
    "STRATEGIES",
    "greedy_coverage",
    "most_popular",
    "onboarding_slate",
    "qubo_onboarding",
    "random_items",
    "rank_after_onboarding",
]

STRATEGIES = ("qubo", "most_popular", "random", "greedy_coverage")


def _popularity(warm_matrix: sp.csr_matrix) -> np.ndarray:
    n_warm_users = max(int((warm_matrix.getnnz(axis=1) > 0).sum()), 1)
    return np.asarray(warm_matrix.sum(axis=0)).ravel() / n_warm_users


def most_popular(warm_matrix, k: int) -> np.ndarray:
    """The ``k`` items most warm users interacted with (ties to the lower index)."""
    pop = _popularity(warm_matrix)
    return np.sort(np.lexsort((np.arange(pop.size), -pop))[:k])


def random_items(warm_matrix, k: int, seed: int = 0) -> np.ndarray:
    """``k`` items drawn uniformly from those with at least one warm interaction."""
    warm = np.flatnonzero(_popularity(warm_matrix) > 0)
    return np.sort(np.random.default_rng(seed).choice(warm, size=k, replace=False))


def greedy_coverage(warm_matrix, k: int) -> np.ndarray:
    """Greedy max-coverage: each next item is the one known by most not-yet-covered warm users."""
    csc = sp.csc_matrix(warm_matrix)
    covered = np.zeros(csc.shape[0], dtype=bool)
    chosen: list[int] = []
    for _ in range(k):
        gain = np.asarray(csc[~covered].sum(axis=0)).ravel()
        gain[chosen] = -1
        if gain.max() <= 0:  # everyone covered: fall back to popularity
            gain = _popularity(warm_matrix).copy()
            gain[chosen] = -1
        best = int(np.argmax(gain))
        chosen.append(best)
        covered |= np.asarray(csc[:, best].toarray()).ravel() > 0
    return np.sort(np.array(chosen, dtype=np.int64))


def qubo_onboarding(
    warm_matrix,
    item_vectors,
    k: int,
    *,
    n_candidates: int = 100,
    diversity: float = 0.1,
    collaborative: float = 0.0,
    solver: str = "anneal",
    seed: int = 0,
    **options,
):
    """The QUBO onboarding slate (see the module docstring); returns ``(items, result)``."""
    pop = _popularity(warm_matrix)
    m = min(int(n_candidates), int((pop > 0).sum()))
    if k > m:
        raise ValueError(f"k = {k} exceeds the {m} onboarding candidates; raise n_candidates")
    cands = np.lexsort((np.arange(pop.size), -pop))[:m]
    V = np.asarray(item_vectors, dtype=np.float64)
    V = V[cands] - V[pop > 0].mean(axis=0)
    similarity = cosine_similarity(V)
    if collaborative > 0:
        co = sp.csc_matrix(warm_matrix)[:, cands]
        similarity = (1 - collaborative) * similarity + collaborative * cosine_similarity(
            co.T.toarray()
        )
    relevance = pop[cands] / pop[cands].max()
    model = slate_model(relevance, k, similarity=similarity, diversity=diversity)
    result = solve(model, solver, seed=seed, **options)
    return np.sort(cands[np.asarray(result.indices)]), result


def onboarding_slate(strategy: str, warm_matrix, item_vectors, k: int, seed: int = 0, **kw):
    """The slate of ``strategy`` (one of :data:`STRATEGIES`) as sorted item indices."""
    if strategy == "qubo":
        return qubo_onboarding(warm_matrix, item_vectors, k, seed=seed, **kw)[0]
    if strategy == "most_popular":
        return most_popular(warm_matrix, k)
    if strategy == "random":
        return random_items(warm_matrix, k, seed)
    if strategy == "greedy_coverage":
        return greedy_coverage(warm_matrix, k)
    raise ValueError(f"unknown onboarding strategy {strategy!r}; choose one of {STRATEGIES}")


def rank_after_onboarding(warm_matrix, answers, truth, users, slate, k: int = 10, knn=None):
    """Per-user metrics at ``k`` for ``users`` after they answered about ``slate``.

    ``answers`` holds what each user would say they know; only its entries inside ``slate`` are
    revealed. ``truth`` (disjoint from ``answers``) is what the ranking is scored on. ``knn`` is
    an :class:`~recsys.baselines.ItemKNN` fitted on ``warm_matrix`` (fitted here when omitted).
    """
    knn = knn if knn is not None else ItemKNN().fit(sp.csr_matrix(warm_matrix))
    asked = np.zeros(warm_matrix.shape[1])
    asked[np.asarray(slate)] = 1.0
    revealed = sp.csr_matrix(sp.csr_matrix(answers)[users] @ sp.diags(asked))
    revealed.eliminate_zeros()
    pop = _popularity(warm_matrix)
    scores = np.asarray((revealed @ knn.similarity_).todense(), dtype=np.float64)
    scores += 1e-6 * pop / max(pop.max(), 1e-12) * max(scores.max(), 1.0)
    t = sp.csr_matrix(truth)[users]
    has = np.flatnonzero(np.diff(t.indptr) > 0)
    top = topk_from_scores(scores[has], revealed[has], k)
    out = per_user_ranking_metrics(top, t[has], k)
    out["revealed"] = np.diff(revealed.indptr)[has].astype(np.float64)
    return out

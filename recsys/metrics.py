"""Ranking, beyond-accuracy and portfolio metrics.

The ranking metrics follow RecBole's definitions (v1.2.1) so results can be set beside published
numbers: binary relevance, NDCG's ideal DCG over ``min(|truth|, k)`` items, Recall = hits/|truth|,
Precision = hits/k, MRR = 1/rank of the first hit inside the top k (else 0), Hit = any hit; each is
averaged over the users who have at least one truth item. NDCG is
:func:`qanneal_llm.ranking.ndcg_at_k`, the function the ranking head early-stops on, so the
two can never disagree.

>>> import numpy as np, scipy.sparse as sp
>>> scores = np.array([[0.9, 0.8, 0.1, 0.5], [0.2, 0.3, 0.4, 0.1]])
>>> topk = topk_from_scores(scores, exclude=sp.csr_matrix(([1.0], ([0], [0])), shape=(2, 4)), k=2)
>>> topk.tolist()
[[1, 3], [2, 1]]
>>> truth = sp.csr_matrix(([1.0, 1.0], ([0, 1], [3, 0])), shape=(2, 4))
>>> {name: round(v, 4) for name, v in ranking_metrics(topk, truth, k=2).items()}
{'ndcg': 0.3155, 'recall': 0.5, 'mrr': 0.25, 'hit': 0.5, 'precision': 0.25}
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from qanneal_llm._validation import finite_array, interaction_matrix, positive_int, unit_rows
from qanneal_llm.ranking.metrics import ndcg_at_k

__all__ = [
    "RANKING_METRICS",
    "annualised_return",
    "annualised_volatility",
    "coverage",
    "cvar",
    "evaluate",
    "ild",
    "max_drawdown",
    "novelty",
    "per_user_ranking_metrics",
    "portfolio_summary",
    "ranking_metrics",
    "sharpe_ratio",
    "sortino_ratio",
    "topk_from_scores",
    "turnover",
]

#: The keys of :func:`ranking_metrics` and :func:`per_user_ranking_metrics`.
RANKING_METRICS = ("ndcg", "recall", "mrr", "hit", "precision")


def _check_topk(topk, n_items: int | None, k: int | None = None) -> np.ndarray:
    arr = np.asarray(topk)
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"topk must be a (users, k) array of item indices, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"topk must hold integer item indices, got dtype {arr.dtype}")
    if k is not None:
        if k > arr.shape[1]:
            raise ValueError(f"k = {k} but topk has only {arr.shape[1]} columns")
        arr = arr[:, :k]
    if arr.size and (arr.min() < 0 or (n_items is not None and arr.max() >= n_items)):
        raise ValueError(f"topk holds item indices outside 0..{n_items}")
    srt = np.sort(arr, axis=1)
    if np.any(srt[:, 1:] == srt[:, :-1]):
        raise ValueError("topk repeats an item within a user's list; each item may appear once")
    return arr


def topk_from_scores(scores, exclude=None, k: int = 10) -> np.ndarray:
    """Indices of each row's ``k`` best items, best first, never returning an excluded item.

    Excluded items are set to -inf before selection, and a score of -inf from the model means
    "never recommend" too; a row with fewer than ``k`` rankable items is an error rather than a
    silently padded list. Ties are broken towards the lower item index so results do not depend on
    the selection algorithm.
    """
    s = _scores(scores)
    n_users, n_items = s.shape
    k = positive_int(k, "k")
    if k > n_items:
        raise ValueError(f"k = {k} exceeds the {n_items} items")
    if exclude is not None:
        ex = interaction_matrix(exclude, "exclude", s.shape)
        rows = np.repeat(np.arange(n_users), np.diff(ex.indptr))
        s[rows, ex.indices] = -np.inf
    rankable = np.isfinite(s).sum(axis=1)
    if np.any(rankable < k):
        u = int(np.argmax(rankable < k))
        raise ValueError(
            f"user row {u} has only {rankable[u]} rankable items (not excluded, score > -inf),"
            f" fewer than k = {k}"
        )
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(s, part, axis=1).min(axis=1)
    # Rows whose k-th value is tied with items left outside the partition must pick the ties by
    # index; argpartition gives no such guarantee, so redo those rows with a stable sort.
    tied = np.flatnonzero((s >= kth[:, None]).sum(axis=1) > k)
    if tied.size:
        part[tied] = np.argsort(-s[tied], axis=1, kind="stable")[:, :k]
    vals = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1).astype(np.int64)


def _scores(scores) -> np.ndarray:
    s = np.array(scores, dtype=np.float64)
    if s.ndim != 2 or s.size == 0:
        raise ValueError(f"scores must be a non-empty (users, items) array, got shape {s.shape}")
    if np.isnan(s).any() or np.isposinf(s).any():
        raise ValueError("scores contain NaN or +inf; a model that produced them is broken")
    return s


def per_user_ranking_metrics(topk, truth, k: int = 10) -> dict[str, np.ndarray]:
    """Per-user ranking metrics, for significance tests and breakdowns.

    Returns one array per metric (see the module docstring for the definitions) plus ``"users"``,
    the row indices of the users evaluated: those with at least one truth item.
    """
    k = positive_int(k, "k")
    top = np.asarray(topk)
    if top.ndim != 2:
        raise ValueError(f"topk must be 2-dimensional, got shape {top.shape}")
    if not sp.issparse(truth):
        raise ValueError(f"truth must be a scipy sparse matrix, got {type(truth).__name__}")
    if truth.shape[0] != top.shape[0]:
        raise ValueError(
            f"topk has {top.shape[0]} user rows but truth has {truth.shape[0]};"
            " pass one row per user"
        )
    top = _check_topk(top, truth.shape[1], k)
    tr = interaction_matrix(truth, "truth", truth.shape)
    n_truth = np.diff(tr.indptr)
    users = np.flatnonzero(n_truth > 0)
    if users.size == 0:
        raise ValueError("truth has no interactions; there is nothing to evaluate")
    top = top[users]
    rows = np.repeat(users, k)
    hits = (np.asarray(tr[rows, top.ravel()]).reshape(users.size, k) > 0).astype(np.float64)
    n_hits = hits.sum(axis=1)
    first = np.argmax(hits, axis=1)
    return {
        "users": users,
        "ndcg": ndcg_at_k(top, tr[users], k),
        "recall": n_hits / n_truth[users],
        "mrr": np.where(n_hits > 0, 1.0 / (first + 1), 0.0),
        "hit": (n_hits > 0).astype(np.float64),
        "precision": n_hits / k,
    }


def ranking_metrics(topk, truth, k: int = 10) -> dict[str, float]:
    """NDCG, Recall, MRR, Hit and Precision at ``k``, averaged over users with truth items."""
    per_user = per_user_ranking_metrics(topk, truth, k)
    return {name: float(per_user[name].mean()) for name in RANKING_METRICS}


def ild(topk, item_vectors) -> float:
    """Intra-list diversity: mean pairwise cosine distance (1 - cos) inside each list, averaged.

    Computed from the norm of each list's summed unit vectors, so it is O(users * k * d) rather
    than forming a k x k Gram matrix per user.
    """
    vectors = unit_rows(item_vectors, "item_vectors")
    top = _check_topk(topk, vectors.shape[0])
    k = top.shape[1]
    if k < 2:
        raise ValueError("ILD needs lists of at least 2 items")
    summed = vectors[top].sum(axis=1)
    mean_cos = ((summed * summed).sum(axis=1) - k) / (k * (k - 1))
    return float(np.mean(1.0 - mean_cos))


def coverage(topk, n_items: int) -> float:
    """Catalogue coverage: the fraction of all items recommended to at least one user."""
    n_items = positive_int(n_items, "n_items")
    top = _check_topk(topk, n_items)
    return float(np.unique(top).size / n_items)


def novelty(topk, item_popularity) -> float:
    """Mean self-information ``-log2(p_i)`` of the recommended items.

    ``item_popularity[i]`` is the fraction of users who interacted with item ``i`` in training
    (``count_i / n_users``). A zero is refused because its self-information is infinite; smooth
    unseen items first (:func:`evaluate` counts them as seen once).
    """
    pop = finite_array(item_popularity, "item_popularity", 1)
    if np.any(pop <= 0) or np.any(pop > 1):
        raise ValueError(
            "item_popularity must be fractions in (0, 1] (count_i / n_users); zero popularity"
            " has infinite self-information, so floor unseen items at 1 / n_users"
        )
    top = _check_topk(topk, pop.size)
    return float(np.mean(-np.log2(pop[top])))


def evaluate(topk, split, item_vectors=None, k: int = 10, part: str = "test") -> dict[str, float]:
    """All recommendation metrics of one run on ``split`` (``part`` is ``"test"`` or ``"valid"``).

    ``topk`` has one row per user of ``split.data``. Every metric, including coverage, novelty and
    ILD, is computed over the users that have truth items in ``part``, so all numbers describe the
    same lists. A list that contains an item the user already saw (train, plus valid when testing)
    raises: those are the leaks that make offline numbers meaningless. Novelty uses training
    popularity with unseen items counted as seen once.
    """
    k = positive_int(k, "k")
    n_users, n_items = split.data.n_users, split.data.n_items
    top = np.asarray(topk)
    if top.ndim != 2 or top.shape[0] != n_users:
        raise ValueError(f"topk must have one row per user ({n_users}), got shape {top.shape}")
    top = _check_topk(top, n_items, k)
    seen = split.seen(part)
    leaked = np.asarray(seen[np.repeat(np.arange(n_users), k), top.ravel()]).ravel() > 0
    if leaked.any():
        u = int(np.flatnonzero(leaked)[0] // k)
        raise ValueError(
            f"leakage: user row {u}'s list contains an item already seen before {part}; rank with"
            f" topk_from_scores(scores, exclude=split.seen({part!r}))"
        )
    per_user = per_user_ranking_metrics(top, split.matrix(part), k)
    evaluated = top[per_user["users"]]
    train_users = np.asarray((split.matrix("train") > 0).sum(axis=0)).ravel()
    result = {name: float(per_user[name].mean()) for name in RANKING_METRICS}
    result["coverage"] = coverage(evaluated, n_items)
    result["novelty"] = novelty(evaluated, np.maximum(train_users, 1) / n_users)
    if item_vectors is not None:
        vectors = np.asarray(item_vectors)
        if vectors.ndim != 2 or vectors.shape[0] != n_items:
            raise ValueError(
                f"item_vectors must have one row per item ({n_items}), got {vectors.shape}"
            )
        result["ild"] = ild(evaluated, vectors)
    result["n_users"] = int(per_user["users"].size)
    return result


# --- portfolio metrics ----------------------------------------------------------------------


def _returns(returns) -> np.ndarray:
    return finite_array(returns, "returns", 1)


def _ppy(periods_per_year) -> float:
    ppy = float(periods_per_year)
    if not np.isfinite(ppy) or ppy <= 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year!r}")
    return ppy


def annualised_return(returns, periods_per_year: float = 252) -> float:
    """Compound annual growth rate of simple per-period returns.

    Compounding, not ``mean * periods``, because that is what an investor actually earns.

    >>> round(annualised_return([0.1, 0.1], periods_per_year=2), 4)
    0.21
    """
    r = _returns(returns)
    ppy = _ppy(periods_per_year)
    if np.any(r <= -1):
        raise ValueError("a return of -100% or worse wipes out the portfolio; CAGR is undefined")
    return float(np.expm1(np.log1p(r).sum() * ppy / r.size))


def annualised_volatility(returns, periods_per_year: float = 252) -> float:
    """Sample standard deviation (ddof=1) of the returns, scaled by sqrt(periods_per_year)."""
    r = _returns(returns)
    if r.size < 2:
        raise ValueError("volatility needs at least 2 returns")
    return float(r.std(ddof=1) * np.sqrt(_ppy(periods_per_year)))


def _per_period_rate(risk_free: float, ppy: float) -> float:
    if not np.isfinite(risk_free) or risk_free <= -1:
        raise ValueError(f"risk_free must be an annual rate above -1, got {risk_free!r}")
    return float((1.0 + risk_free) ** (1.0 / ppy) - 1.0)


def sharpe_ratio(returns, risk_free: float = 0.0, periods_per_year: float = 252) -> float:
    """Annualised Sharpe ratio: mean excess return over its sample std, times sqrt(periods).

    ``risk_free`` is an annual rate, de-compounded to one period. Constant returns have no
    volatility and give NaN, since the ratio is undefined rather than infinite.

    >>> round(sharpe_ratio([0.01, -0.01, 0.02, 0.0], periods_per_year=4), 4)
    0.7746
    """
    r = _returns(returns)
    if r.size < 2:
        raise ValueError("the Sharpe ratio needs at least 2 returns")
    ppy = _ppy(periods_per_year)
    excess = r - _per_period_rate(risk_free, ppy)
    sd = excess.std(ddof=1)
    if sd <= 1e-15 * max(1.0, float(np.abs(excess).max())):
        return float("nan")
    return float(excess.mean() / sd * np.sqrt(ppy))


def sortino_ratio(returns, risk_free: float = 0.0, periods_per_year: float = 252) -> float:
    """Annualised Sortino ratio: mean excess return over the downside deviation.

    Downside deviation is ``sqrt(mean(min(excess, 0)**2))`` over *all* periods (Sortino & Price),
    so a strategy is not rewarded for having few but large losses. No losses at all gives NaN.
    """
    r = _returns(returns)
    ppy = _ppy(periods_per_year)
    excess = r - _per_period_rate(risk_free, ppy)
    downside = np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2))
    if downside == 0:
        return float("nan")
    return float(excess.mean() / downside * np.sqrt(ppy))


def max_drawdown(returns) -> float:
    """Largest peak-to-trough fall of the compounded wealth curve, as a positive fraction.

    The starting wealth of 1 counts as a peak, so a first-period loss is a drawdown.

    >>> round(max_drawdown([0.1, -0.5, 0.2]), 4)
    0.5
    """
    r = _returns(returns)
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    peak = np.maximum.accumulate(wealth)
    return float(np.max(1.0 - wealth / peak))


def cvar(returns, alpha: float = 0.95) -> float:
    """Historical CVaR (expected shortfall): mean of the worst ``1 - alpha`` of returns, as a loss.

    The tail holds ``ceil((1 - alpha) * n)`` returns (at least one). Positive means a loss.

    >>> cvar(np.arange(-10, 10) / 100, alpha=0.9)
    0.095
    """
    r = _returns(returns)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    n_tail = max(1, int(np.ceil((1.0 - alpha) * r.size - 1e-9)))
    return float(-np.sort(r)[:n_tail].mean())


def turnover(weights_before, weights_after, returns=None) -> float:
    """One-way turnover: ``sum |w_after - w_before| / 2``, averaged over rebalances.

    Half the L1 change is the fraction of the portfolio sold (equal to the fraction bought), the
    convention of most fund reports. Pass 1-D weights for one rebalance or ``(rebalances, assets)``
    arrays for a series. If ``returns`` (same shape: asset returns over the holding period) is
    given, ``weights_before`` are first drifted by them, ``w * (1 + r) / sum(w * (1 + r))``, so
    that only trades, not price moves, count as turnover.

    >>> turnover([0.5, 0.5, 0.0], [0.0, 0.5, 0.5])
    0.5
    """
    before = np.asarray(weights_before, dtype=np.float64)
    after = np.asarray(weights_after, dtype=np.float64)
    if before.shape != after.shape or before.ndim not in (1, 2):
        raise ValueError(
            f"weights_before {before.shape} and weights_after {after.shape} must have the same"
            " 1-D (assets) or 2-D (rebalances, assets) shape"
        )
    before = finite_array(np.atleast_2d(before), "weights_before", 2)
    after = finite_array(np.atleast_2d(after), "weights_after", 2)
    if returns is not None:
        ret = np.asarray(returns, dtype=np.float64)
        if ret.shape != np.asarray(weights_before).shape:
            raise ValueError(f"returns must have the weights' shape, got {ret.shape}")
        grown = before * (1.0 + finite_array(np.atleast_2d(ret), "returns", 2))
        total = grown.sum(axis=1, keepdims=True)
        if np.any(np.abs(total) < 1e-12):
            raise ValueError("drifted weights sum to zero; cannot renormalise them")
        before = grown / total
    return float(np.mean(np.abs(after - before).sum(axis=1) / 2.0))


def portfolio_summary(
    returns, periods_per_year: float = 252, turnover: float | None = None
) -> dict[str, float]:
    """The headline numbers of one backtest, under the same conventions as the functions above.

    ``turnover`` is passed through (computed by :func:`turnover` from the weights, which the
    return series alone does not carry).
    """
    r = _returns(returns)
    summary = {
        "annualised_return": annualised_return(r, periods_per_year),
        "annualised_volatility": annualised_volatility(r, periods_per_year),
        "sharpe": sharpe_ratio(r, periods_per_year=periods_per_year),
        "sortino": sortino_ratio(r, periods_per_year=periods_per_year),
        "max_drawdown": max_drawdown(r),
        "cvar_95": cvar(r, 0.95),
        "n_periods": int(r.size),
    }
    if turnover is not None:
        summary["turnover"] = float(turnover)
    return summary

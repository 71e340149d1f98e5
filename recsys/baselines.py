"""The baselines recommender engineers trust, on the same split and metrics as our pipeline.

MostPop and ItemKNN are the floors any model must clear; BPR-MF is the classic learned baseline
(RecBole reports NDCG@10 of about 0.28 on ml-100k under this protocol). MMR and greedy DPP are
the established ways to trade relevance for diversity, so the QUBO slate selector is compared
with them as re-rankers of the *same* candidate scores.

Every recommender follows scikit-learn's conventions: hyper-parameters in ``__init__``, checks
in ``fit``, learned state with a trailing underscore, and ``decision_function(user_indices)``
returning a ``(len(user_indices), n_items)`` score array (scikit-learn's name for raw scores;
``score`` would promise one number) to pass to :func:`recsys.metrics.topk_from_scores`.

>>> import scipy.sparse as sp
>>> train = sp.csr_matrix([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0]])
>>> MostPop().fit(train).decision_function([0]).tolist()
[[3.0, 2.0, 1.0, 0.0]]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from qanneal_llm._validation import (
    interaction_matrix,
    positive_int,
    resolve_device,
    torch_threads,
    unit_rows,
)
from qanneal_llm.ranking import sample_negatives
from qanneal_llm.ranking.optimizer import FunctionalAdam
from recsys.metrics import ranking_metrics, topk_from_scores

__all__ = ["BPRMF", "ItemKNN", "MostPop", "dpp_greedy", "mmr", "rerank"]


def _train_and_valid(split_or_train, valid=None):
    """Accept a :class:`recsys.splits.Split` or a sparse train matrix (+ optional valid)."""
    if hasattr(split_or_train, "matrix") and hasattr(split_or_train, "seen"):
        train = split_or_train.matrix("train")
        if valid is None:
            valid = split_or_train.matrix("valid")
    elif sp.issparse(split_or_train):
        train = split_or_train
    else:
        raise ValueError(
            "fit expects a recsys.splits.Split or a scipy sparse (users x items) train matrix,"
            f" got {type(split_or_train).__name__}"
        )
    train = interaction_matrix(train, "the train matrix")
    if train.shape[0] == 0 or train.shape[1] == 0 or train.nnz == 0:
        raise ValueError(f"the train matrix is empty (shape {train.shape}, {train.nnz} entries)")
    if valid is not None:
        if not sp.issparse(valid) or valid.shape != train.shape:
            raise ValueError(
                f"valid must be a sparse matrix of the train shape {train.shape},"
                f" got {getattr(valid, 'shape', type(valid).__name__)}"
            )
        valid = sp.csr_matrix(valid, dtype=np.float64)
    return train, valid


class _Recommender(BaseEstimator):
    """Shared ``decision_function`` plumbing: fitted check and user-index validation."""

    def decision_function(self, user_indices) -> np.ndarray:
        """Scores of every item for the given users; higher means recommend first.

        Parameters
        ----------
        user_indices : array-like of int, shape (n,)
            Rows of the training matrix.

        Returns
        -------
        ndarray of shape (n, n_items)
        """
        if not hasattr(self, "n_items_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit first")
        users = np.asarray(user_indices)
        if users.ndim != 1 or (users.size and not np.issubdtype(users.dtype, np.integer)):
            raise ValueError(f"user_indices must be a 1-D array of ints, got {users!r}")
        if users.size and (users.min() < 0 or users.max() >= self.n_users_):
            raise ValueError(f"user_indices must lie in 0..{self.n_users_ - 1}")
        return self._decision_function(users.astype(np.int64))


class MostPop(_Recommender):
    """Recommend the items with most training interactions to everyone."""

    def fit(self, split_or_train, valid=None):
        train, _ = _train_and_valid(split_or_train, valid)
        self.n_users_, self.n_items_ = train.shape
        self.item_counts_ = np.asarray(train.sum(axis=0), dtype=np.float64).ravel()
        return self

    def _decision_function(self, users):
        return np.tile(self.item_counts_, (users.size, 1))


class ItemKNN(_Recommender):
    """Item-based collaborative filtering with shrunk cosine similarity (RecBole's ItemKNN).

    ``sim(i, j) = |U_i & U_j| / (sqrt(|U_i| |U_j|) + shrink + 1e-6)``; each item keeps only its
    ``k`` most similar neighbours, and a user's score for ``i`` sums the similarities between
    ``i`` and the items the user interacted with. Shrinkage damps similarities supported by few
    co-occurrences.
    """

    def __init__(self, k: int = 100, shrink: float = 10.0, block_size: int = 1024):
        self.k = k
        self.shrink = shrink
        self.block_size = block_size

    def fit(self, split_or_train, valid=None):
        train, _ = _train_and_valid(split_or_train, valid)
        for name in ("k", "block_size"):
            positive_int(getattr(self, name), name)
        if not np.isfinite(self.shrink) or self.shrink < 0:
            raise ValueError(f"shrink must be a non-negative number, got {self.shrink!r}")
        n_items = train.shape[1]
        k = min(int(self.k), n_items - 1) if n_items > 1 else 0
        csc = train.tocsc()
        norms = np.sqrt(np.asarray(csc.sum(axis=0)).ravel())
        rows, cols, vals = [], [], []
        # Column blocks keep memory at O(n_items * block_size) instead of a dense item x item.
        for start in range(0, n_items, int(self.block_size)):
            stop = min(start + int(self.block_size), n_items)
            co = (csc.T @ csc[:, start:stop]).toarray()
            sim = co / (norms[:, None] * norms[None, start:stop] + self.shrink + 1e-6)
            sim[np.arange(start, stop), np.arange(stop - start)] = 0.0
            if k == 0:
                continue
            top = np.argpartition(-sim, k - 1, axis=0)[:k]
            top_vals = np.take_along_axis(sim, top, axis=0)
            keep = top_vals > 0
            rows.append(top[keep])
            cols.append(np.nonzero(keep)[1] + start)
            vals.append(top_vals[keep])
        if rows:
            rows, cols, vals = (np.concatenate(x) for x in (rows, cols, vals))
        self.similarity_ = sp.csr_matrix((vals, (rows, cols)), shape=(n_items, n_items))
        self.train_ = train
        self.n_users_, self.n_items_ = train.shape
        return self

    def _decision_function(self, users):
        return np.asarray((self.train_[users] @ self.similarity_).todense(), dtype=np.float64)


class BPRMF(_Recommender):
    """Matrix factorisation trained with Bayesian Personalised Ranking (Rendle et al., 2009).

    One uniformly sampled negative (an item the user has not interacted with in train) per
    positive per epoch, Adam, Xavier-normal initialisation as in RecBole. When validation data is
    available, training stops after ``patience`` epochs without a better validation NDCG@10 and
    the best epoch's factors are kept, the same early stopping RecBole applies.

    ``history_`` holds one dict per epoch (``epoch``, ``loss``, and ``valid_ndcg`` when
    validating); ``best_epoch_`` is the epoch whose factors were kept.

    ``n_threads`` (torch intra-op threads during ``fit``, restored afterwards; None leaves torch's
    setting alone) defaults to 1 because the batches are too small to gain from threads, and on
    a shared CPU their spin-waiting costs an order of magnitude: 5 ml-100k epochs took 4.4 s with
    1 thread and 54 s with 2 on a loaded 2-core machine.
    """

    def __init__(
        self,
        dim: int = 64,
        lr: float = 2e-3,
        epochs: int = 200,
        batch_size: int = 2048,
        weight_decay: float = 0.0,
        seed: int = 0,
        patience: int = 10,
        device: str = "cpu",
        n_threads: int | None = 1,
    ):
        self.dim = dim
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.seed = seed
        self.patience = patience
        self.device = device
        self.n_threads = n_threads

    def fit(self, split_or_train, valid_csr=None):
        """Train on the train matrix; a Split's own valid part is used for early stopping."""
        train, valid = _train_and_valid(split_or_train, valid_csr)
        for name in ("dim", "epochs", "batch_size", "patience"):
            positive_int(getattr(self, name), name)
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if not (np.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be non-negative, got {self.weight_decay!r}")
        n_users, n_items = train.shape
        if n_items < 2:
            raise ValueError("BPR needs at least 2 items to sample negatives")
        if np.any(np.diff(train.indptr) >= n_items):
            raise ValueError("a user has interacted with every item, so no negative exists")
        with torch_threads(self.n_threads):
            self._train(train, valid)
        return self

    def _train(self, train, valid):
        n_users, n_items = train.shape
        device = resolve_device(self.device)
        gen = torch.Generator().manual_seed(int(self.seed))
        rng = np.random.default_rng(int(self.seed))
        users_t = torch.empty(n_users, int(self.dim))
        items_t = torch.empty(n_items, int(self.dim))
        torch.nn.init.xavier_normal_(users_t, generator=gen)
        torch.nn.init.xavier_normal_(items_t, generator=gen)
        user_emb = torch.nn.Parameter(users_t.to(device))
        item_emb = torch.nn.Parameter(items_t.to(device))
        opt = FunctionalAdam(
            [user_emb, item_emb], lr=float(self.lr), weight_decay=float(self.weight_decay)
        )

        pos_users = np.repeat(np.arange(n_users), np.diff(train.indptr))
        pos_items = train.indices.astype(np.int64)
        pos_keys = np.sort(pos_users * n_items + pos_items)
        valid_users = (
            np.flatnonzero(np.diff(valid.indptr) > 0) if valid is not None else np.array([])
        )

        self.n_users_, self.n_items_ = n_users, n_items
        self.history_ = []
        best, best_state, since_best = -np.inf, None, 0
        for epoch in range(int(self.epochs)):
            order = rng.permutation(pos_users.size)
            u_all, i_all = pos_users[order], pos_items[order]
            j_all = sample_negatives(rng, u_all, n_items, pos_keys)
            total = 0.0
            for start in range(0, order.size, int(self.batch_size)):
                sl = slice(start, start + int(self.batch_size))
                u = torch.from_numpy(u_all[sl]).to(device)
                i = torch.from_numpy(i_all[sl]).to(device)
                j = torch.from_numpy(j_all[sl]).to(device)
                eu = user_emb[u]
                diff = (eu * (item_emb[i] - item_emb[j])).sum(dim=1)
                loss = -torch.nn.functional.logsigmoid(diff).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * u.shape[0]
            record = {"epoch": epoch, "loss": total / order.size}
            self.user_factors_ = user_emb.detach().cpu().numpy().astype(np.float64)
            self.item_factors_ = item_emb.detach().cpu().numpy().astype(np.float64)
            if valid_users.size:
                scores = self._decision_function(valid_users)
                top = topk_from_scores(scores, train[valid_users], k=10)
                ndcg = ranking_metrics(top, valid[valid_users], k=10)["ndcg"]
                record["valid_ndcg"] = ndcg
                if ndcg > best:
                    best, since_best = ndcg, 0
                    best_state = (epoch, self.user_factors_.copy(), self.item_factors_.copy())
                else:
                    since_best += 1
            self.history_.append(record)
            if valid_users.size and since_best >= int(self.patience):
                break
        if best_state is not None:
            self.best_epoch_, self.user_factors_, self.item_factors_ = best_state
        else:
            self.best_epoch_ = len(self.history_) - 1

    def _decision_function(self, users):
        return self.user_factors_[users] @ self.item_factors_.T


# --- re-rankers ------------------------------------------------------------------------------


def _candidates(candidate_scores, candidate_vectors, k):
    """Validate one user's candidates; return relevance in [0, 1] and unit vectors.

    Scores are min-max normalised per list (all equal -> all zero), so a diversity weight means
    the same thing whatever the scale of the model's raw scores, for MMR and DPP alike.
    """
    scores = np.asarray(candidate_scores, dtype=np.float64)
    vectors = np.asarray(candidate_vectors, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(
            f"candidate_scores must be a non-empty 1-D array, got shape {scores.shape}"
        )
    if vectors.ndim != 2 or vectors.shape[0] != scores.size:
        raise ValueError(
            f"candidate_vectors must be ({scores.size}, d) to match the scores,"
            f" got shape {vectors.shape}"
        )
    if not (np.all(np.isfinite(scores)) and np.all(np.isfinite(vectors))):
        raise ValueError("candidate scores or vectors contain NaN or inf")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= scores.size:
        raise ValueError(f"k must be an integer in 1..{scores.size} (the candidates), got {k!r}")
    span = scores.max() - scores.min()
    rel = (scores - scores.min()) / span if span > 0 else np.zeros_like(scores)
    return rel, unit_rows(vectors, "candidate_vectors"), int(k)


def _check_weight(value, name):
    if not (np.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


def mmr(candidate_scores, candidate_vectors, k: int, lambda_: float = 0.5) -> np.ndarray:
    """Maximal Marginal Relevance (Carbonell & Goldstein, 1998): indices into the candidates.

    Greedily picks ``argmax (1 - lambda_) * rel_i - lambda_ * max_{j chosen} cos(i, j)``;
    ``lambda_`` is the diversity weight, so 0 returns the relevance order and 1 ignores relevance
    after the first pick. Ties go to the lower index.

    >>> mmr([0.9, 0.8, 0.1], [[1, 0], [1, 0.01], [0, 1]], k=2, lambda_=0.0).tolist()
    [0, 1]
    >>> mmr([0.9, 0.8, 0.1], [[1, 0], [1, 0.01], [0, 1]], k=2, lambda_=0.7).tolist()
    [0, 2]
    """
    rel, unit, k = _candidates(candidate_scores, candidate_vectors, k)
    lam = _check_weight(lambda_, "lambda_")
    chosen = [int(np.argmax(rel))]
    max_sim = unit @ unit[chosen[0]]
    available = np.ones(rel.size, dtype=bool)
    available[chosen[0]] = False
    for _ in range(k - 1):
        gain = np.where(available, (1 - lam) * rel - lam * max_sim, -np.inf)
        best = int(np.argmax(gain))
        chosen.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, unit @ unit[best])
    return np.array(chosen, dtype=np.int64)


_DPP_JITTER = 1e-6


def dpp_greedy(
    candidate_scores,
    candidate_vectors,
    k: int,
    theta: float | None = None,
    alpha: float | None = None,
) -> np.ndarray:
    """Fast greedy MAP inference for a DPP (Chen, Zhang & Zhou, NeurIPS 2018): candidate indices.

    The kernel is ``L = diag(q) S diag(q)`` with ``q = exp(alpha * rel)`` and ``S`` the cosine
    similarity of the candidate vectors. Since ``det L_Y = prod q_i**2 * det S_Y``, the greedy gain
    of item ``j`` is ``2 alpha rel_j + log e_j**2``, where ``e_j**2`` is ``j``'s incremental
    Cholesky residual in ``S``; working on ``S`` alone keeps ``exp`` from overflowing. The
    Cholesky rows are updated in O(k M) per pick, O(k**2 M) per list, as in the paper.

    Give either ``alpha`` (>= 0, the paper's kernel parameter) or ``theta`` in [0, 1], the
    *diversity* weight (default 0.5): the gain becomes ``(1 - theta) rel_j + theta log e_j**2``,
    so theta = 0 is the relevance order and theta = 1 maximises diversity alone. This is the
    paper's ``theta`` flipped (theirs weighs relevance) so it reads like MMR's ``lambda_``;
    ``alpha = (1 - theta) / (2 theta)``. ``S + 1e-6 I`` keeps the kernel positive definite, so
    lists longer than the embedding rank stay defined (the extra picks follow relevance).

    >>> dpp_greedy([0.9, 0.8, 0.1], [[1, 0], [1, 0.01], [0, 1]], k=2, theta=0.0).tolist()
    [0, 1]
    >>> dpp_greedy([0.9, 0.8, 0.1], [[1, 0], [1, 0.01], [0, 1]], k=2, theta=0.5).tolist()
    [0, 2]
    """
    rel, unit, k = _candidates(candidate_scores, candidate_vectors, k)
    if theta is not None and alpha is not None:
        raise ValueError("give theta or alpha, not both")
    if alpha is not None:
        if not (np.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be a non-negative number, got {alpha!r}")
        w_rel, w_div = 2.0 * float(alpha), 1.0
    else:
        theta = _check_weight(0.5 if theta is None else theta, "theta")
        w_rel, w_div = 1.0 - theta, theta
    m = rel.size
    rows = np.zeros((k, m))
    residual = np.full(m, 1.0 + _DPP_JITTER)
    available = np.ones(m, dtype=bool)
    chosen = []
    for t in range(k):
        log_res = np.log(np.maximum(residual, _DPP_JITTER * 1e-3))
        gain = np.where(available, w_rel * rel + w_div * log_res, -np.inf)
        j = int(np.argmax(gain))
        chosen.append(j)
        available[j] = False
        s_j = unit @ unit[j]
        s_j[j] += _DPP_JITTER
        rows[t] = (s_j - rows[:t, j] @ rows[:t]) / np.sqrt(max(residual[j], _DPP_JITTER * 1e-3))
        residual = residual - rows[t] ** 2
    return np.array(chosen, dtype=np.int64)


def rerank(scores, exclude, item_vectors, k: int = 10, n_candidates: int = 100, method="mmr", **kw):
    """Re-rank every user's top ``n_candidates`` (by ``scores``) down to ``k`` items.

    ``method`` is ``"mmr"`` or ``"dpp"``; ``kw`` goes to :func:`mmr` or :func:`dpp_greedy`.
    Candidates come from :func:`recsys.metrics.topk_from_scores`, so excluded items stay out.
    Returns a ``(users, k)`` array of item indices, like ``topk_from_scores``.
    """
    rerankers = {"mmr": mmr, "dpp": dpp_greedy}
    if method not in rerankers:
        raise ValueError(f"method must be one of {sorted(rerankers)}, got {method!r}")
    vectors = np.asarray(item_vectors, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if vectors.ndim != 2 or s.ndim != 2 or vectors.shape[0] != s.shape[1]:
        raise ValueError(
            f"item_vectors must have one row per item column of scores {s.shape},"
            f" got shape {vectors.shape}"
        )
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, (int, np.integer)):
        raise ValueError(f"n_candidates must be an integer, got {n_candidates!r}")
    if n_candidates < k:
        raise ValueError(f"n_candidates ({n_candidates}) must be at least k ({k})")
    cands = topk_from_scores(s, exclude, k=min(int(n_candidates), s.shape[1]))
    out = np.empty((s.shape[0], k), dtype=np.int64)
    for u, row in enumerate(cands):
        out[u] = row[rerankers[method](s[u, row], vectors[row], k, **kw)]
    return out

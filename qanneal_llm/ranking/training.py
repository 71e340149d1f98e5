"""One training epoch of the head: users batched with all their positives, one loss per step.

Kept apart from the estimator so the optimisation (what a step computes) reads on its own, and
the estimator only orchestrates: checks, early stopping, checkpoints.
"""

from __future__ import annotations

import numpy as np
import torch

from qanneal_llm.ranking.head import RankingHead
from qanneal_llm.ranking.losses import bpr_loss, sample_negatives, sampled_softmax_loss
from qanneal_llm.ranking.optimizer import FunctionalAdam

__all__ = ["batch_loss", "run_epoch"]


def run_epoch(
    module: RankingHead,
    opt: FunctionalAdam,
    indptr: np.ndarray,
    indices: np.ndarray,
    pos_keys: np.ndarray,
    rng: np.random.Generator,
    device: torch.device,
    *,
    loss: str,
    n_negatives: int | None,
    temperature: float,
    batch_size: int,
) -> float:
    """One shuffled pass over the users with positives.

    Parameters
    ----------
    module : RankingHead
        Trained in place.
    opt : FunctionalAdam
        Over ``module``'s parameters.
    indptr, indices : ndarray
        The binary users x items training matrix in CSR form, ``indices`` as int64 (converted
        once by the caller, not on every epoch).
    pos_keys : ndarray of int64
        Sorted ``user * n_items + item`` keys of the positives (for BPR's negatives).
    rng : numpy.random.Generator
        Shuffling and negative sampling.
    device : torch.device
        Where ``module`` lives.
    loss, n_negatives, temperature, batch_size
        The estimator's parameters of the same names.

    Returns
    -------
    float
        Mean loss per positive pair.
    """
    module.train()
    order = rng.permutation(np.flatnonzero(np.diff(indptr) > 0))
    total, n_pairs = 0.0, 0
    for start in range(0, order.size, batch_size):
        users = order[start : start + batch_size]
        counts = indptr[users + 1] - indptr[users]
        local = np.repeat(np.arange(users.size), counts)
        items = np.concatenate([indices[indptr[u] : indptr[u + 1]] for u in users])
        value = batch_loss(
            module,
            users,
            local,
            items,
            pos_keys,
            rng,
            device,
            loss=loss,
            n_negatives=n_negatives,
            temperature=temperature,
        )
        opt.zero_grad()
        value.backward()
        opt.step()
        total += float(value.detach()) * items.size
        n_pairs += items.size
    return total / n_pairs


def batch_loss(
    module: RankingHead,
    users: np.ndarray,
    local: np.ndarray,
    items: np.ndarray,
    pos_keys: np.ndarray,
    rng: np.random.Generator,
    device: torch.device,
    *,
    loss: str,
    n_negatives: int | None,
    temperature: float,
) -> torch.Tensor:
    """Loss of one step over a batch of users and all their training positives.

    Batching by user lets the full softmax share one log-sum-exp per user across all of that
    user's positives: the exact full-catalogue loss at the cost of one user x item score matrix
    per step, instead of one per positive pair.

    Parameters
    ----------
    module : RankingHead
        The head being trained.
    users : ndarray of int64, shape (U,)
        The batch's users.
    local, items : ndarray of int64, shape (P,)
        Each positive pair's position in ``users`` and its item.
    pos_keys, rng, device
        As in :func:`run_epoch`.
    loss, n_negatives, temperature
        The estimator's parameters of the same names.

    Returns
    -------
    torch.Tensor
        The scalar loss, with gradients.
    """
    n_items = module.n_items
    uvec = module.user_vectors(torch.from_numpy(users).to(device))
    local_t = torch.from_numpy(local).to(device)
    items_t = torch.from_numpy(items).to(device)
    if loss == "softmax" and (n_negatives is None or n_negatives >= n_items):
        scores = module.scores(uvec) / temperature
        lse = torch.logsumexp(scores, dim=1)
        return (lse[local_t] - scores[local_t, items_t]).mean()
    upair = uvec[local_t]
    pos = module.pair_scores(upair, items_t)
    if loss == "bpr":
        neg_np = sample_negatives(rng, users[local], n_items, pos_keys)
        neg_items = torch.from_numpy(neg_np).to(device)
        neg = module.pair_scores(upair, neg_items)
        return bpr_loss(pos, neg)
    neg_items = torch.from_numpy(rng.integers(0, n_items, int(n_negatives))).to(device)
    neg = module.scores(uvec, neg_items)
    accidental = neg_items[None, :] == items_t[:, None]
    return sampled_softmax_loss(pos, neg[local_t], accidental, temperature)

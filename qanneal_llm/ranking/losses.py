"""The head's two training losses and the negative sampler BPR needs.

BPR pushes each positive above one sampled negative (as in BPR-MF); the sampled-softmax listwise
loss pushes it above many at once, which is what lets the head beat BPR-MF.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["LOSSES", "bpr_loss", "sample_negatives", "sampled_softmax_loss"]

#: The ``loss`` values :class:`~qanneal_llm.ranking.RankingHeadRecommender` accepts.
LOSSES = ("softmax", "bpr")


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Bayesian Personalised Ranking: ``-log sigmoid(s_pos - s_neg)``, averaged.

    Parameters
    ----------
    pos, neg : torch.Tensor of shape (B,)
        Scores of each positive pair and of its sampled negative.

    Returns
    -------
    torch.Tensor
        The scalar loss.

    Examples
    --------
    >>> round(float(bpr_loss(torch.tensor([2.0]), torch.tensor([0.0]))), 4)
    0.1269
    """
    return -torch.nn.functional.logsigmoid(pos - neg).mean()


def sampled_softmax_loss(
    pos: torch.Tensor,
    neg: torch.Tensor,
    accidental: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Cross-entropy of each positive against its row of negatives.

    Parameters
    ----------
    pos : torch.Tensor of shape (B,)
        Scores of the positives.
    neg : torch.Tensor of shape (B, N)
        Scores of each positive's negatives.
    accidental : torch.Tensor of bool, shape (B, N), optional
        Negatives that are the positive itself; removed from the denominator, since pushing an
        item below itself teaches nothing.
    temperature : float, default=1.0
        The logits are divided by it.

    Returns
    -------
    torch.Tensor
        The scalar loss.

    Examples
    --------
    >>> round(float(sampled_softmax_loss(torch.tensor([0.0]), torch.zeros(1, 3))), 4)  # log 4
    1.3863
    """
    logits = torch.cat([pos[:, None], neg], dim=1) / temperature
    if accidental is not None:
        mask = torch.cat([torch.zeros_like(accidental[:, :1]), accidental], dim=1)
        logits = logits.masked_fill(mask, float("-inf"))
    return torch.nn.functional.cross_entropy(
        logits, torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
    )


def sample_negatives(rng, users, n_items: int, pos_keys) -> np.ndarray:
    """One uniform item per row that the row's user has not interacted with.

    Rejection sampling: draw uniformly, redraw the rows that hit a positive. Shared by the head's
    BPR loss and :class:`recsys.baselines.BPRMF`, so both see negatives drawn the same way.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    users : ndarray of int64, shape (B,)
        The user of each row.
    n_items : int
        Catalogue size.
    pos_keys : ndarray of int64
        Sorted ``user * n_items + item`` keys of all positives; every user must leave at least
        one item out, or the loop never ends (callers check it).

    Returns
    -------
    ndarray of int64, shape (B,)
        The sampled items.

    Examples
    --------
    >>> keys = np.array([0 * 3 + 0, 0 * 3 + 1])  # user 0 saw items 0 and 1
    >>> sample_negatives(np.random.default_rng(0), np.array([0, 0]), 3, keys).tolist()
    [2, 2]
    """
    neg = rng.integers(0, n_items, size=users.size)
    bad = np.arange(users.size)
    while bad.size:
        keys = users[bad] * n_items + neg[bad]
        pos = np.searchsorted(pos_keys, keys)
        bad = bad[pos_keys[np.minimum(pos, pos_keys.size - 1)] == keys]
        neg[bad] = rng.integers(0, n_items, size=bad.size)
    return neg

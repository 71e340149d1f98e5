"""User vectors built from the vectors of the items each user interacted with."""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_user_vectors"]


def weighted_user_vectors(
    user_idx,
    item_idx,
    item_vectors,
    ratings=None,
    timestamps=None,
    n_users=None,
    half_life_days=None,
) -> np.ndarray:
    """One vector per user: the weighted mean of the vectors of the items they interacted with.

    A user's taste is read from what they rated, weighted by how much they liked it and, with
    ``half_life_days``, by how recently: an interaction ``half_life_days`` older than the user's
    latest one counts half as much. Measuring age from each user's own latest interaction keeps
    the weights of long-inactive users from underflowing; a common reference would scale all of
    a user's weights equally and so give the same direction.

    Parameters
    ----------
    user_idx, item_idx : array-like of int, shape (n_interactions,)
        Zero-based user rows and item rows (into ``item_vectors``).
    item_vectors : array-like, shape (n_items, dim)
    ratings : array-like, shape (n_interactions,), optional
        Non-negative weights (e.g. star ratings); all 1 when omitted. Subtract a baseline and
        clip at zero beforehand to let low ratings count for nothing.
    timestamps : array-like, shape (n_interactions,), optional
        Unix seconds; required with ``half_life_days``.
    n_users : int, optional
        Number of output rows; defaults to ``max(user_idx) + 1``.
    half_life_days : float, optional
        Recency half-life; no recency weighting when omitted.

    Returns
    -------
    ndarray of float32, shape (n_users, dim)
        L2-normalised rows. A user without interactions (or whose weights are all zero) gets a
        zero row, which scores 0 against every item rather than inventing a taste.

    Examples
    --------
    >>> vecs = weighted_user_vectors([0, 0, 1], [0, 1, 1], [[1.0, 0.0], [0.0, 1.0]],
    ...                              ratings=[5, 1, 3], n_users=3)
    >>> vecs.astype(float).round(3).tolist()
    [[0.981, 0.196], [0.0, 1.0], [0.0, 0.0]]
    """
    from scipy import sparse

    users = np.asarray(user_idx)
    items = np.asarray(item_idx)
    vectors = np.asarray(item_vectors, dtype=np.float64)
    if users.ndim != 1 or items.shape != users.shape:
        raise ValueError(
            f"user_idx and item_idx must be 1-d and of equal length, got shapes {users.shape}"
            f" and {items.shape}"
        )
    for name, arr in (("user_idx", users), ("item_idx", items)):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must hold integer row indices, got dtype {arr.dtype}")
        if arr.size and arr.min() < 0:
            raise ValueError(f"{name} must be non-negative row indices; map ids to rows first")
    if vectors.ndim != 2:
        raise ValueError(f"item_vectors must be 2-d (n_items, dim), got shape {vectors.shape}")
    if items.size and items.max() >= vectors.shape[0]:
        raise ValueError(
            f"item_idx refers to row {items.max()} but item_vectors has {vectors.shape[0]} rows"
        )
    needed = int(users.max()) + 1 if users.size else 0
    if n_users is None:
        n_users = needed
    elif n_users < needed:
        raise ValueError(f"n_users = {n_users} but user_idx refers to row {needed - 1}")

    weights = np.ones(users.shape, dtype=np.float64)
    if ratings is not None:
        weights = np.asarray(ratings, dtype=np.float64)
        if weights.shape != users.shape:
            raise ValueError(f"ratings has shape {weights.shape}, expected {users.shape}")
        if not np.all(np.isfinite(weights)) or (weights < 0).any():
            raise ValueError(
                "ratings must be finite and non-negative; shift or clip them (e.g. np.clip(r - 2,"
                " 0, None)) before using them as weights"
            )
    if half_life_days is not None:
        if timestamps is None:
            raise ValueError("half_life_days needs timestamps (unix seconds per interaction)")
        if not half_life_days > 0:
            raise ValueError(f"half_life_days must be positive, got {half_life_days!r}")
        ts = np.asarray(timestamps, dtype=np.float64)
        if ts.shape != users.shape:
            raise ValueError(f"timestamps has shape {ts.shape}, expected {users.shape}")
        latest = np.full(n_users, -np.inf)
        np.maximum.at(latest, users, ts)
        age_days = (latest[users] - ts) / 86400.0
        weights = weights * np.exp2(-age_days / half_life_days)

    matrix = sparse.csr_matrix((weights, (users, items)), shape=(n_users, vectors.shape[0]))
    summed = np.asarray(matrix @ vectors)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    np.divide(summed, norms, out=summed, where=norms > 0)
    return summed.astype(np.float32)

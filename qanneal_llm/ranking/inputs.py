"""Input checks of the ranking head: content vectors and user rows, with messages that say
which row or shape is wrong and how to fix it."""

from __future__ import annotations

import numpy as np

__all__ = ["content_features", "user_rows"]


def content_features(value, name: str, n_rows: int) -> np.ndarray | None:
    """Content vectors as a finite float32 ``(n_rows, d)`` array, or ``None`` when not given.

    Parameters
    ----------
    value : array-like of shape (n_rows, d) or None
        One row per user (or item) of the interaction matrix.
    name : str
        ``"user_features"`` or ``"item_features"``, for the message.
    n_rows : int
        Rows the interaction matrix has on that side.

    Returns
    -------
    ndarray of float32 or None

    Examples
    --------
    >>> content_features([[1, 2], [3, 4]], "item_features", 2).dtype
    dtype('float32')
    """
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != n_rows or arr.shape[1] == 0:
        raise ValueError(
            f"{name} must have shape ({n_rows}, d) with one row per {name.split('_')[0]} of the"
            f" interaction matrix, got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; impute or drop those rows first")
    return arr


def user_rows(user_indices, n_users: int) -> np.ndarray:
    """``user_indices`` as int64 rows of the training matrix, or a ValueError.

    Parameters
    ----------
    user_indices : array-like of int, shape (n,)
        Rows of the training matrix (map raw user ids to rows first).
    n_users : int
        Rows the training matrix has.

    Returns
    -------
    ndarray of int64, shape (n,)

    Examples
    --------
    >>> user_rows([2, 0], n_users=3).tolist()
    [2, 0]
    """
    users = np.asarray(user_indices)
    if users.ndim != 1 or (users.size and not np.issubdtype(users.dtype, np.integer)):
        raise ValueError(f"user_indices must be a 1-D array of integer rows, got {users!r}")
    if users.size and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(
            f"user_indices must lie in 0..{n_users - 1} (rows of the train matrix);"
            " map raw user ids to rows first"
        )
    return users.astype(np.int64)

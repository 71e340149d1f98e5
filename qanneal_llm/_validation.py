"""Input checks shared by the builders and estimators, so every bad input gets the same kind of
message: what is wrong, where, and what to do instead."""

from __future__ import annotations

import numpy as np


def finite_array(value, name: str, ndim: int, dtype=np.float64) -> np.ndarray:
    """Return ``value`` as a finite float array of ``ndim`` dimensions, or raise ValueError."""
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be numeric; could not convert it to an array: {exc}"
        ) from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; give at least one element")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0].tolist()
        raise ValueError(
            f"{name} contains NaN or inf (first at index {bad}); clean or impute it before building"
            " the model"
        )
    return arr


def square_symmetric(value, name: str, n: int, *, atol: float = 1e-8) -> np.ndarray:
    """Return ``value`` as a finite symmetric ``(n, n)`` array, or raise ValueError."""
    arr = finite_array(value, name, 2)
    if arr.shape != (n, n):
        raise ValueError(
            f"{name} must have shape ({n}, {n}) to match the {n} candidates, got {arr.shape}"
        )
    asym = float(np.max(np.abs(arr - arr.T)))
    scale = max(1.0, float(np.max(np.abs(arr))))
    if asym > atol * scale:
        raise ValueError(
            f"{name} must be symmetric (max |A - A.T| = {asym:.3g}); pass (A + A.T) / 2 if the"
            " asymmetry is numerical noise"
        )
    return (arr + arr.T) / 2


def cardinality(k, n: int, what: str = "candidates") -> int:
    """Return ``k`` as an int in ``1..n``, or raise ValueError naming the allowed range."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = int(k)
    if k <= 0:
        raise ValueError(f"k must be at least 1, got {k}")
    if k > n:
        raise ValueError(f"k = {k} exceeds the {n} {what}; choose k <= {n} or add {what}")
    return k

"""Input checks shared by the builders and estimators, so every bad input gets the same kind of
message: what is wrong, where, and what to do instead."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp


def finite_array(value, name: str, ndim: int, dtype=np.float64) -> np.ndarray:
    """Return ``value`` as a finite float array of ``ndim`` dimensions, or raise ValueError.

    Parameters
    ----------
    value : array-like
        The input.
    name : str
        Its name in the message.
    ndim : int
        The required number of dimensions.
    dtype : numpy dtype, default=numpy.float64
        The array's dtype.

    Returns
    -------
    ndarray
        Non-empty, finite, ``ndim``-dimensional.

    Examples
    --------
    >>> finite_array([1, 2], "relevance", 1).tolist()
    [1.0, 2.0]
    """
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
            f"{name} contains NaN or inf (first at index {bad}); clean or impute it first"
        )
    return arr


def square_symmetric(value, name: str, n: int, *, atol: float = 1e-8) -> np.ndarray:
    """Return ``value`` as a finite symmetric ``(n, n)`` array, or raise ValueError.

    Asymmetry up to ``atol`` (relative to the largest entry) is numerical noise and is averaged
    away; more is a mistake the caller should see.

    Parameters
    ----------
    value : array-like of shape (n, n)
        The matrix.
    name : str
        Its name in the message.
    n : int
        The number of candidates it must match.
    atol : float, default=1e-8
        Tolerated relative asymmetry.

    Returns
    -------
    ndarray of shape (n, n)
        ``(A + A.T) / 2``.
    """
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
    """Return ``k`` as an int in ``1..n``, or raise ValueError naming the allowed range.

    Parameters
    ----------
    k : int
        How many to choose.
    n : int
        How many there are.
    what : str, default="candidates"
        What the ``n`` are, for the message.

    Returns
    -------
    int
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = int(k)
    if k <= 0:
        raise ValueError(f"k must be at least 1, got {k}")
    if k > n:
        raise ValueError(f"k = {k} exceeds the {n} {what}; choose k <= {n} or add {what}")
    return k


def positive_int(value, name: str, fix: str = "") -> int:
    """Return ``value`` as an int >= 1, or raise ValueError naming the parameter.

    Booleans are refused although Python counts them as ints: ``epochs=True`` is a mistake.

    Parameters
    ----------
    value : int
        The value to check.
    name : str
        The parameter's name, for the message.
    fix : str, optional
        What to do instead, appended to the message.

    Returns
    -------
    int

    Examples
    --------
    >>> positive_int(3, "epochs")
    3
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}" + (fix and f"; {fix}"))
    return int(value)


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, where the OS has one): a
    container or ``taskset`` gets fewer than the host's ``os.cpu_count()``."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_seed(seed) -> int | None:
    """Return ``seed`` as an int, or ``None`` (the solver draws one and records it).

    Parameters
    ----------
    seed : int or None
        An estimator's ``seed`` parameter.

    Returns
    -------
    int or None

    Examples
    --------
    >>> check_seed(np.int64(4)), check_seed(None)
    (4, None)
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    return None if seed is None else int(seed)


def check_solver_options(solver_options) -> dict:
    """Return a fresh dict of backend options (``None`` means none), or raise ValueError.

    A copy, so a backend that pops options never edits the estimator's parameter.

    Parameters
    ----------
    solver_options : mapping or None
        An estimator's ``solver_options`` parameter.

    Returns
    -------
    dict
    """
    if solver_options is None:
        return {}
    if not isinstance(solver_options, Mapping):
        raise ValueError(f"solver_options must be a dict or None, got {solver_options!r}")
    return dict(solver_options)


def unit_rows(vectors, name: str) -> np.ndarray:
    """Rows of ``vectors`` scaled to unit length, for cosine similarities.

    An all-zero row raises: its cosine is undefined, and treating it as "similar to nothing"
    would let a missing embedding look like the most diverse choice. Every cosine in the project
    (slates, portfolios, MMR, DPP, ILD) goes through here, so the rule is the same everywhere.

    Parameters
    ----------
    vectors : array-like of shape (n, d)
        Finite vectors.
    name : str
        Their name in the message.

    Returns
    -------
    ndarray of shape (n, d)

    Examples
    --------
    >>> unit_rows([[3.0, 4.0]], "vectors").tolist()
    [[0.6, 0.8]]
    """
    arr = finite_array(vectors, name, 2)
    norms = np.linalg.norm(arr, axis=1)
    if np.any(norms == 0):
        raise ValueError(
            f"{name} row {int(np.argmin(norms))} is all zeros, so its cosine similarity is"
            " undefined; drop that row or give it a real vector"
        )
    return arr / norms[:, None]


def interaction_matrix(X, name: str, shape: tuple[int, int] | None = None) -> sp.csr_matrix:
    """A users x items interaction matrix as binary CSR: every stored non-zero is one interaction.

    Accepts scipy sparse or dense 2-D input; refuses NaN/inf and (when ``shape`` is given) any
    other shape. Works on a copy: the caller's matrix is never modified. The ranking head, its
    NDCG, the baselines and the metrics all read interactions through this one rule.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions (counts, ratings or 0/1).
    name : str
        Its name in the message.
    shape : tuple of int, optional
        The shape it must have.

    Returns
    -------
    scipy.sparse.csr_matrix of float64
        Ones where ``X`` has a non-zero, explicit zeros removed.

    Examples
    --------
    >>> interaction_matrix([[0, 2.5], [0, 0]], "X").toarray().tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """
    if sp.issparse(X):
        mat = sp.csr_matrix(X, dtype=np.float64, copy=True)
    else:
        arr = None if X is None else np.asarray(X, dtype=np.float64)
        if arr is None or arr.ndim != 2:
            raise ValueError(
                f"{name} must be a 2-D (users x items) interaction matrix, scipy sparse or dense,"
                f" got {type(X).__name__} with shape {getattr(arr, 'shape', None)}"
            )
        mat = sp.csr_matrix(arr)
    if not np.all(np.isfinite(mat.data)):
        raise ValueError(f"{name} contains NaN or inf; interactions must be finite")
    if shape is not None and mat.shape != tuple(shape):
        raise ValueError(f"{name} has shape {mat.shape}, expected {tuple(shape)} (users x items)")
    mat.eliminate_zeros()
    mat.data[:] = 1.0
    return mat


def resolve_device(device):
    """The torch device for ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a torch.device.

    ``"auto"`` picks CUDA when present; an explicit CUDA device on a machine without one raises
    here, at construction, rather than deep inside the first forward pass.

    Parameters
    ----------
    device : str or torch.device
        The requested device.

    Returns
    -------
    torch.device
    """
    import torch

    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; use 'cpu' or 'auto'")
    return dev


@contextlib.contextmanager
def torch_threads(n_threads: int | None):
    """Run the block with torch's intra-op pool capped at ``n_threads`` (``None``: unchanged).

    Restored afterwards even on error. Small models (the ranking head, BPR-MF, the finance
    scorer) gain nothing from threads, and on a shared CPU the threads' spin-waiting made
    training an order of magnitude slower (5 ml-100k BPR epochs: 4.4 s on 1 thread, 54 s on 2,
    loaded 2-core machine).

    Parameters
    ----------
    n_threads : int or None
        The cap.

    Yields
    ------
    None
    """
    import torch

    if n_threads is not None:
        n_threads = positive_int(n_threads, "n_threads")
    before = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)

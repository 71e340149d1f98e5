"""Feature selection: k of d features, relevant to a target and not redundant with each other.

Three notions of relevance and redundancy:

- ``"correlation"``: absolute Pearson correlation with the target, and between features
  (mRMR with correlation).
- ``"mutual_info"``: mutual information with the target, and between features (mRMR), on
  quantile-binned columns.
- ``"conditional_mi"``: as D-Wave's MIQUBO, relevance ``I(X_i; Y)`` and a pair bonus
  ``I(X_j; Y | X_i)`` (symmetrised) rewarding features that add information about ``Y`` given
  each other.

:func:`collaborative_feature_model` needs no target: in the spirit of CQFS (Nembrini et al.,
Entropy 2021) it keeps the content features whose item-item similarity agrees with a
collaborative item-item similarity.

The pair terms are scaled by ``2 / k`` so that, at exactly k chosen, relevance and redundancy are
weighed like mRMR's ``mean relevance - mean redundancy`` at ``redundancy=1``.

Degenerate columns are never chosen while an informative one is left. A column is degenerate when
its spread is negligible next to its own magnitude or next to the widest column
(:func:`informative_columns`): all-MiniLM-L6-v2 has dimensions that are exactly constant on real
texts (127, 223) and one of magnitude ~1e-8 (319) that an absolute cutoff would rescale into a
unit-variance "feature". Every builder forces such columns out of the model (or, if fewer than
``k`` informative columns exist, forces all the informative ones in), so no solver can pick them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from qanneal_llm._validation import cardinality, finite_array
from qanneal_llm.qubo.model import SubsetModel, subset_model

__all__ = [
    "METHODS",
    "collaborative_feature_model",
    "feature_model",
    "informative_columns",
    "relevance_redundancy",
    "similarity_fit_terms",
    "similarity_weights",
    "standardize",
]

METHODS = ("correlation", "mutual_info", "conditional_mi")


RTOL = 1e-6


def informative_columns(X, rtol: float = RTOL) -> np.ndarray:
    """Boolean mask of the columns whose spread is not negligible.

    A column is degenerate when its standard deviation is at most ``rtol`` times its own largest
    magnitude (a constant, up to float rounding) or at most ``rtol`` times the largest column
    standard deviation (a column living at a scale ~1e-6 below the others, such as MiniLM's
    ~1e-8 dimension). Rescale features first if their units truly differ by a factor of 1e6.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The features.
    rtol : float, default=RTOL
        Relative spread below which a column is degenerate.

    Returns
    -------
    ndarray of bool, shape (n_features,)

    Examples
    --------
    >>> informative_columns([[1.0, 5.0, 1e-8], [2.0, 5.0, 3e-8]]).tolist()
    [True, False, False]
    """
    X = np.asarray(X, dtype=np.float64)
    std = X.std(axis=0)
    magnitude = np.abs(X).max(axis=0)
    widest = float(std.max()) if std.size else 0.0
    return (std > rtol * magnitude) & (std > rtol * widest)


def standardize(X: np.ndarray) -> np.ndarray:
    """Centre and scale columns; degenerate columns (:func:`informative_columns`) become zeros.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The features.

    Returns
    -------
    ndarray of shape (n_samples, n_features)
        Zero mean, unit variance; zeros in degenerate columns.
    """
    X = np.asarray(X, dtype=np.float64)
    centred = X - X.mean(axis=0)
    std = centred.std(axis=0)
    keep = informative_columns(X)
    return np.divide(centred, std, out=np.zeros_like(centred), where=keep)


def quantile_bins(X: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-frequency bin codes ``0..n_bins-1`` per column; equal values share a bin, so a
    constant column is a single bin.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The features.
    n_bins : int
        Bins per column.

    Returns
    -------
    ndarray of int, shape (n_samples, n_features)
    """
    edges = np.quantile(X, np.linspace(0, 1, n_bins + 1)[1:-1], axis=0)
    codes = np.empty(X.shape, dtype=np.int64)
    for col in range(X.shape[1]):
        codes[:, col] = np.searchsorted(edges[:, col], X[:, col], side="right")
    return codes


def _one_hot(codes: np.ndarray, n_bins: int) -> np.ndarray:
    n, d = codes.shape
    out = np.zeros((n, d * n_bins), dtype=np.float32)
    out[np.arange(n)[:, None], np.arange(d) * n_bins + codes] = 1.0
    return out


def _mi_from_joint(joint: np.ndarray, axes_a, axes_b) -> np.ndarray:
    """MI from a joint probability table summed over the given axes."""
    pa = joint.sum(axis=axes_b, keepdims=True)
    pb = joint.sum(axis=axes_a, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = joint * np.log(joint / (pa * pb))
    return np.nansum(terms, axis=tuple(sorted(set(axes_a) | set(axes_b))))


def _target_codes(y: np.ndarray, n_bins: int) -> np.ndarray:
    values, codes = np.unique(y, return_inverse=True)
    if len(values) <= 2 * n_bins:
        return codes
    return quantile_bins(y[:, None], n_bins)[:, 0]


def relevance_redundancy(X, y, method: str = "correlation", n_bins: int = 8):
    """``(relevance (d,), pair (d, d))`` for ``method``; ``pair`` is a redundancy to penalise
    (correlation, mutual_info) or, for conditional_mi, a bonus (returned negated).

    A 2-D ``y`` of shape (n, t), such as a multi-label indicator matrix, is scored one column
    at a time and the relevance (and the conditional-MI pair bonus) averaged over the ``t``
    columns, so every label counts alike however rare it is; redundancy does not involve ``y``.

    Parameters
    ----------
    X : array-like of shape (n_samples, d)
        The features.
    y : array-like of shape (n_samples,) or (n_samples, t)
        The target(s).
    method : {"correlation", "mutual_info", "conditional_mi"}, default="correlation"
        How relevance and redundancy are measured.
    n_bins : int, default=8
        Quantile bins for the information measures.

    Returns
    -------
    relevance : ndarray of shape (d,)
    pair : ndarray of shape (d, d)
    """
    X = finite_array(X, "X", 2)
    Y = finite_array(y, "y", 2 if np.ndim(y) == 2 else 1)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {Y.shape[0]}; they must match")
    if X.shape[0] < 3:
        raise ValueError("need at least 3 samples to estimate relevance and redundancy")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    n, d = X.shape
    if method == "correlation":
        Z, zy = standardize(X), standardize(Y)
        return (np.abs(Z.T @ zy) / n).mean(axis=1), np.abs(Z.T @ Z) / n
    codes = quantile_bins(X, n_bins)
    onehot = _one_hot(codes, n_bins)
    pair_counts = onehot.T @ onehot  # co-occurrence counts of (feature, bin) pairs
    yhots = []
    for column in Y.T:
        ycodes = _target_codes(column, n_bins)
        yhot = np.zeros((n, int(ycodes.max()) + 1), dtype=np.float32)
        yhot[np.arange(n), ycodes] = 1.0
        yhots.append(yhot)
    relevance = np.mean(
        [_mi_from_joint((onehot.T @ yh).reshape(d, n_bins, -1) / n, (1,), (2,)) for yh in yhots],
        axis=0,
    )
    if method == "mutual_info":
        joint = (pair_counts / n).reshape(d, n_bins, d, n_bins)
        return relevance, _mi_from_joint(joint, (1,), (3,))
    return relevance, -_conditional_mi_bonus(onehot, pair_counts, yhots, n_bins)


def _entropy(counts: np.ndarray, n: int, axis) -> np.ndarray:
    """Entropy (nats) of the probabilities ``counts / n`` summed over ``axis``, for integer
    counts: ``(sum c log n - sum c log c) / n`` with ``c log c`` looked up, not computed."""
    c = np.rint(counts).astype(np.int64)
    values = np.arange(1, n + 1, dtype=np.float64)
    c_log_c = np.concatenate([[0.0], values * np.log(values)])
    return (c.sum(axis=axis) * np.log(n) - c_log_c[c].sum(axis=axis)) / n


def _conditional_mi_bonus(onehot, pair_counts, yhots, n_bins: int) -> np.ndarray:
    """Symmetrised ``I(X_i; Y | X_j) = H(X_i, X_j) + H(X_j, Y) - H(X_j) - H(X_i, X_j, Y)``,
    averaged over the targets (one-hot class matrices ``yhots``).

    The three-way counts of a class are a product over that class's rows only; the largest
    class is the pair counts minus the others (exact: the counts are integers), so a rare
    label costs a product over its few positive rows.
    """
    n, width = onehot.shape
    d = width // n_bins
    cmi = _entropy(pair_counts.reshape(d, n_bins, d, n_bins), n, (1, 3))
    cmi -= _entropy(onehot.sum(axis=0).reshape(d, n_bins), n, 1)[None, :]
    for yhot in yhots:
        members = yhot.astype(bool).T
        h_jy = _entropy((onehot.T @ yhot).reshape(d, n_bins, yhot.shape[1]), n, (1, 2))
        largest = int(members.sum(axis=1).argmax())
        h_ijy, rest = np.zeros((d, d)), pair_counts.copy()
        for c, rows in enumerate(members):
            if c != largest:
                counts = onehot[rows].T @ onehot[rows]
                rest -= counts
                h_ijy += _entropy(counts.reshape(d, n_bins, d, n_bins), n, (1, 3))
        h_ijy += _entropy(rest.reshape(d, n_bins, d, n_bins), n, (1, 3))
        cmi += (h_jy[None, :] - h_ijy) / len(yhots)
    return (cmi + cmi.T) / 2


def feature_model(
    X,
    y,
    k: int,
    *,
    method: str = "correlation",
    redundancy: float = 1.0,
    n_bins: int = 8,
    feature_names: Sequence | None = None,
) -> SubsetModel:
    """Select k columns of ``X`` for predicting ``y``.

    Parameters
    ----------
    X : array-like of shape (n_samples, d)
        The candidate features.
    y : array-like of shape (n_samples,) or (n_samples, t)
        The target(s).
    k : int
        How many features to keep.
    method : {"correlation", "mutual_info", "conditional_mi"}, default="correlation"
        See :func:`relevance_redundancy`.
    redundancy : float, default=1.0
        Weight of the redundancy penalty against relevance.
    n_bins : int, default=8
        Quantile bins for the information measures.
    feature_names : sequence, optional
        Ids of the features.

    Returns
    -------
    SubsetModel
        Degenerate columns are forced out.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); X[:, 1] = X[:, 0] + 0.01 * rng.normal(size=200)
    >>> y = X[:, 0] + X[:, 3]
    >>> from qanneal_llm.solvers import solve
    >>> chosen = set(solve(feature_model(X, y, k=2), "exact").ids)
    >>> 3 in chosen and len(chosen & {0, 1}) == 1  # column 3 and one of the two copies of 0
    True
    """
    relevance, pair = relevance_redundancy(X, y, method, n_bins)
    return _model_from_scores(
        relevance,
        pair,
        k,
        redundancy,
        feature_names,
        f"features:{method}",
        informative_columns(np.asarray(X, dtype=np.float64)),
    )


def collaborative_feature_model(
    item_features,
    collaborative_similarity,
    k: int,
    *,
    redundancy: float = 1.0,
    score: str = "agreement",
    feature_names: Sequence | None = None,
) -> SubsetModel:
    """Select k content features whose item-item similarity agrees with the collaborative one.

    With ``score="agreement"`` (CQFS), feature ``f``'s relevance is ``z_f @ C @ z_f`` over item
    pairs (self-pairs excluded), with ``z_f`` the standardised feature column and ``C`` the
    collaborative similarity (dense or sparse, items x items): high when items that users treat
    alike also sit together along ``f``; redundancy is the features' absolute correlation.

    With ``score="least_squares"`` (CQFS's ``CFW_D``), both terms come from the least-squares fit
    of ``C`` by ``sum_f w_f z_f z_f^T`` off the diagonal (:func:`similarity_fit_terms`):
    relevance is the correlation of ``z_f z_f^T`` with ``C`` and redundancy the correlation of
    two features' similarity matrices, so the QUBO keeps features that explain the
    collaborative similarity without explaining the same part twice.

    Parameters
    ----------
    item_features : array-like of shape (n_items, d)
        Content features of the items (e.g. text-embedding dimensions).
    collaborative_similarity : {array-like, sparse matrix} of shape (n_items, n_items)
        Item-item similarity from interactions.
    k : int
        How many features to keep.
    redundancy : float, default=1.0
        Weight of the redundancy penalty.
    score : {"agreement", "least_squares"}, default="agreement"
        How relevance and redundancy are measured (see above).
    feature_names : sequence, optional
        Ids of the features.

    Returns
    -------
    SubsetModel
    """
    F = finite_array(item_features, "item_features", 2)
    n_items = F.shape[0]
    C = _similarity(collaborative_similarity, n_items)
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose one of {SCORES}")
    Z = standardize(F)
    if score == "agreement":
        relevance = _offdiag_agreement(Z, C)
        redundancy_matrix = np.abs(Z.T @ Z) / n_items
    else:
        b, G = similarity_fit_terms(Z, C)
        energy = np.sqrt(np.maximum(np.diag(G), 0.0))
        safe = np.where(energy > 0, energy, 1.0)
        relevance = np.where(energy > 0, b / safe, 0.0)
        redundancy_matrix = np.where(np.outer(energy, energy) > 0, G / np.outer(safe, safe), 0.0)
    scale = np.abs(relevance).max()
    relevance = relevance / scale if scale > 0 else relevance
    return _model_from_scores(
        relevance,
        redundancy_matrix,
        k,
        redundancy,
        feature_names,
        f"features:collaborative:{score}",
        informative_columns(F),
    )


SCORES = ("agreement", "least_squares")


def _similarity(value, n_items: int):
    if sp.issparse(value):
        C = sp.csr_matrix(value, dtype=np.float64)
        if not np.all(np.isfinite(C.data)):
            raise ValueError("collaborative_similarity contains NaN or inf")
    else:
        C = finite_array(value, "collaborative_similarity", 2)
    if C.shape != (n_items, n_items):
        raise ValueError(
            f"collaborative_similarity must be ({n_items}, {n_items}) to match item_features'"
            f" {n_items} items, got {C.shape}"
        )
    return C


def _offdiag_agreement(Z: np.ndarray, C) -> np.ndarray:
    """``sum_{u != v} C_uv Z_uj Z_vj`` per column ``j``: how well each feature's item-item
    products agree with ``C`` off the diagonal."""
    diag = np.asarray(C.diagonal()).ravel()
    return np.asarray((C @ Z) * Z).sum(axis=0) - (diag[:, None] * Z**2).sum(axis=0)


def similarity_fit_terms(Z: np.ndarray, C) -> tuple[np.ndarray, np.ndarray]:
    """Normal equations ``(b, G)`` of fitting ``C`` by ``sum_f w_f z_f z_f^T`` off the diagonal.

    ``b_f = sum_{i != j} C_ij z_if z_jf`` and ``G_fg = (z_f . z_g)^2 - sum_i z_if^2 z_ig^2``, so
    the weights minimising ``sum_{i != j} (C_ij - sum_f w_f z_if z_jf)^2`` solve ``G w = b``.
    ``C`` may be dense or sparse (e.g. each item's top neighbours only).

    Parameters
    ----------
    Z : ndarray of shape (n_items, d)
        Standardised features.
    C : {array-like, sparse matrix} of shape (n_items, n_items)
        The similarity to fit.

    Returns
    -------
    b : ndarray of shape (d,)
    G : ndarray of shape (d, d)
    """
    Z = np.asarray(Z, dtype=np.float64)
    b = _offdiag_agreement(Z, C)
    Z2 = Z**2
    G = (Z.T @ Z) ** 2 - Z2.T @ Z2
    return b, (G + G.T) / 2


def similarity_weights(Z: np.ndarray, C, ridge: float = 1e-3) -> np.ndarray:
    """Non-negative least-squares feature weights (CQFS's ``CFW_D``) of ``C`` on ``Z``'s columns.

    ``ridge`` is relative to the mean diagonal of ``G`` and keeps near-duplicate features from
    trading huge opposite weights.

    Parameters
    ----------
    Z : ndarray of shape (n_items, d)
        Standardised features.
    C : {array-like, sparse matrix} of shape (n_items, n_items)
        The similarity to fit.
    ridge : float, default=1e-3
        Relative ridge on ``G``'s diagonal.

    Returns
    -------
    ndarray of shape (d,)
        Non-negative weights.
    """
    from scipy.optimize import nnls

    b, G = similarity_fit_terms(Z, C)
    d = G.shape[0]
    G = G + ridge * max(float(np.mean(np.diag(G))), 1e-12) * np.eye(d)
    L = np.linalg.cholesky(G)
    w, _ = nnls(L.T, np.linalg.solve(L, b))
    return w


def _model_from_scores(
    relevance, pair, k, redundancy, feature_names, name, informative
) -> SubsetModel:
    d = relevance.shape[0]
    k = cardinality(k, d, "features")
    ids = list(range(d)) if feature_names is None else list(feature_names)
    if len(ids) != d:
        raise ValueError(f"feature_names must name each of the {d} features, got {len(ids)}")
    degenerate = [key for key, ok in zip(ids, informative, strict=True) if not ok]
    useful = [key for key, ok in zip(ids, informative, strict=True) if ok]
    if len(useful) >= k:
        forced = {"forced_out": degenerate or None}
    else:  # every informative column is in; constant ones only fill the remaining slots
        forced = {"forced_in": useful or None}
    if not np.isfinite(redundancy) or redundancy < 0:
        raise ValueError(f"redundancy must be a finite number >= 0, got {redundancy!r}")
    pair = np.array(pair, dtype=np.float64)
    pair = (pair + pair.T) / 2  # float32 contingency sums leave rounding-level asymmetry
    np.fill_diagonal(pair, 0.0)
    quad = redundancy * (2.0 / k) * pair
    lin = -np.asarray(relevance, dtype=np.float64)
    return subset_model(
        lin,
        quad,
        k,
        ids=feature_names,
        components={"relevance": (lin, None), "redundancy": (None, quad)},
        name=name,
        **forced,
    )

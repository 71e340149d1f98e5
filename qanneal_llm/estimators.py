"""scikit-learn faces for the QUBO selectors, so they drop into Pipelines and grid searches.

:class:`QUBOFeatureSelector` is a ``SelectorMixin`` transformer: ``fit(X, y)`` builds the
relevance-redundancy feature QUBO (:func:`qanneal_llm.feature_model`), solves it with any
registered backend and keeps the chosen columns; ``get_support``, ``transform`` and
``inverse_transform`` come with the mixin. :class:`SlateSelector` picks ``k`` candidates that are
relevant but not alike (:func:`qanneal_llm.slate_model`). Both keep the full
:class:`~qanneal_llm.SelectionResult` in ``result_``, so a fitted selector says which solver and
seed produced it, how long it took and whether the answer had to be repaired.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 6)); y = X[:, 0] + X[:, 4]
>>> sel = QUBOFeatureSelector(k=2, solver="exact").fit(X, y)
>>> sel.get_support(indices=True).tolist(), sel.transform(X).shape
([0, 4], (200, 2))
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted

from qanneal_llm._validation import finite_array
from qanneal_llm.qubo.features import METHODS, feature_model
from qanneal_llm.qubo.selection import slate_model
from qanneal_llm.solvers.registry import solve

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6 validates through a method instead

    def validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)


__all__ = ["QUBOFeatureSelector", "SlateSelector"]


def _seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    return None if seed is None else int(seed)


def _options(solver_options) -> dict:
    if solver_options is None:
        return {}
    if not isinstance(solver_options, dict):
        raise ValueError(f"solver_options must be a dict or None, got {solver_options!r}")
    return dict(solver_options)


class QUBOFeatureSelector(SelectorMixin, BaseEstimator):
    """Keep the ``k`` features that best predict ``y`` without repeating each other.

    Parameters
    ----------
    k : int or float
        How many features to keep: an int in ``1..n_features``, or a fraction in ``(0, 1]`` of
        the features (rounded, at least one), handy when the width is not known in advance.
    method : {"correlation", "mutual_info", "conditional_mi"}
        How relevance and redundancy are measured; see :mod:`qanneal_llm.qubo.features`.
    redundancy : float
        Weight of the redundancy penalty against relevance (0 = plain top-k by relevance).
    n_bins : int
        Quantile bins for the mutual-information methods.
    solver : str or dimod sampler
        Any backend of :func:`qanneal_llm.solve` ("anneal", "neal", "tabu", "exact",
        "mock-qpu", "leap-qpu", "leap-hybrid").
    seed : int or None
        Seeds the solver; ``None`` draws one and records it in ``result_.seed``.
    solver_options : dict or None
        Extra options for the backend (``num_reads``, ``num_sweeps``, ...).

    Attributes
    ----------
    support_ : ndarray of bool, shape (n_features_in_,)
    k_ : int
        The number of features kept.
    result_ : SelectionResult
        The solver's checked answer (objective, breakdown, solver, seed, timings, repaired).
    n_features_in_ : int
    """

    def __init__(
        self,
        k=0.5,
        method="correlation",
        redundancy=1.0,
        n_bins=8,
        solver="anneal",
        seed=0,
        solver_options=None,
    ):
        self.k = k
        self.method = method
        self.redundancy = redundancy
        self.n_bins = n_bins
        self.solver = solver
        self.seed = seed
        self.solver_options = solver_options

    def _resolve_k(self, n_features: int) -> int:
        k = self.k
        if isinstance(k, bool) or not isinstance(k, numbers.Real):
            raise ValueError(f"k must be an int count or a float fraction, got {k!r}")
        if isinstance(k, numbers.Integral):
            if not 1 <= k <= n_features:
                raise ValueError(
                    f"k = {k} but X has {n_features} features; choose k in 1..{n_features} or a"
                    " fraction in (0, 1]"
                )
            return int(k)
        if not 0 < k <= 1:
            raise ValueError(
                f"a float k is a fraction of the features and must be in (0, 1], got {k}"
            )
        return max(1, int(round(k * n_features)))

    def fit(self, X, y):
        """Build the feature QUBO from ``X`` (n_samples, n_features) and ``y``, then solve it.

        A non-numeric 1-D ``y`` (class labels) is encoded as class codes first. A 2-D ``y``
        (n_samples, n_targets), e.g. a multi-label indicator matrix, must be numeric; each
        feature's relevance is then its mean relevance over the targets
        (:func:`~qanneal_llm.qubo.features.relevance_redundancy`).
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False, multi_output=True)
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {METHODS}")
        if X.shape[0] < 3:
            raise ValueError(
                f"need at least 3 samples to measure relevance and redundancy, got"
                f" n_samples = {X.shape[0]}"
            )
        y = np.asarray(y)
        if y.ndim == 2 and not np.issubdtype(y.dtype, np.number):
            raise ValueError(
                "a 2-D y must be numeric (a 0/1 indicator matrix for multi-label targets);"
                " encode it with sklearn.preprocessing.MultiLabelBinarizer first"
            )
        if not np.issubdtype(y.dtype, np.number):
            y = np.unique(y, return_inverse=True)[1]
        y = finite_array(y, "y", y.ndim)
        self.k_ = self._resolve_k(X.shape[1])
        model = feature_model(
            X, y, self.k_, method=self.method, redundancy=self.redundancy, n_bins=self.n_bins
        )
        self.result_ = solve(
            model, self.solver, seed=_seed(self.seed), **_options(self.solver_options)
        )
        support = np.zeros(X.shape[1], dtype=bool)
        support[self.result_.indices] = True
        self.support_ = support
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        return tags


class SlateSelector(BaseEstimator):
    """Choose ``k`` candidates maximising relevance minus ``diversity`` x pairwise similarity.

    ``fit(X, y)`` takes the candidates' vectors ``X`` (n, d; cosine similarity is used) or,
    with ``X=None``, a precomputed ``similarity`` (n, n), and their relevance ``y`` (n,).

    Attributes
    ----------
    indices_ : ndarray of int
        Positions of the chosen candidates, ascending.
    ids_ : list
        Their ids (``ids`` passed to fit, else the positions).
    support_ : ndarray of bool, shape (n,)
    result_ : SelectionResult

    >>> sel = SlateSelector(k=2, diversity=1.0, solver="exact")
    >>> sel.fit([[1, 0], [1, 0.05], [0, 1]], [0.9, 0.8, 0.1]).indices_.tolist()
    [0, 2]
    """

    def __init__(self, k=10, diversity=0.5, solver="anneal", seed=0, solver_options=None):
        self.k = k
        self.diversity = diversity
        self.solver = solver
        self.seed = seed
        self.solver_options = solver_options

    def fit(self, X, y, *, similarity=None, ids=None, groups=None, group_bounds=None):
        """Solve the slate QUBO; ``groups``/``group_bounds`` add per-group count limits."""
        if (X is None) == (similarity is None):
            raise ValueError("give candidate vectors X or similarity=, exactly one of them")
        model = slate_model(
            y,
            self.k,
            vectors=X,
            similarity=similarity,
            diversity=self.diversity,
            ids=ids,
            groups=groups,
            group_bounds=group_bounds,
        )
        self.result_ = solve(
            model, self.solver, seed=_seed(self.seed), **_options(self.solver_options)
        )
        self.indices_ = np.asarray(self.result_.indices, dtype=np.int64)
        self.ids_ = list(self.result_.ids)
        self.support_ = np.asarray(self.result_.x, dtype=bool)
        return self

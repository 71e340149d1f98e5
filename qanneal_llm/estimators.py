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

import numpy as np
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted

from qanneal_llm._validation import finite_array
from qanneal_llm.base import BaseQUBOSelector, validate_data
from qanneal_llm.qubo.features import METHODS, feature_model
from qanneal_llm.qubo.selection import slate_model

__all__ = ["QUBOFeatureSelector", "SlateSelector"]


class QUBOFeatureSelector(SelectorMixin, BaseQUBOSelector):
    """Keep the ``k`` features that best predict ``y`` without repeating each other.

    A feature-selection transformer: plain top-k by relevance keeps near copies of the best
    feature, and the QUBO's redundancy term is what drops them.

    Parameters
    ----------
    k : int or float, default=0.5
        How many features to keep: an int in ``1..n_features``, or a fraction in ``(0, 1]`` of
        the features (rounded, at least one), handy when the width is not known in advance.
    method : {"correlation", "mutual_info", "conditional_mi"}, default="correlation"
        How relevance and redundancy are measured; see :mod:`qanneal_llm.qubo.features`.
    redundancy : float, default=1.0
        Weight of the redundancy penalty against relevance (0 = plain top-k by relevance).
    n_bins : int, default=8
        Quantile bins for the mutual-information methods.
    solver : str or dimod sampler, default="anneal"
        Any backend of :func:`qanneal_llm.solve` ("anneal", "neal", "tabu", "exact",
        "mock-qpu", "leap-qpu", "leap-hybrid").
    seed : int or None, default=0
        Seeds the solver; ``None`` draws one and records it in ``result_.seed``.
    solver_options : dict or None, default=None
        Extra options for the backend (``num_reads``, ``num_sweeps``, ...).

    Attributes
    ----------
    k_ : int
        The number of features kept.
    result_ : SelectionResult
        The solver's checked answer (objective, breakdown, solver, seed, timings, repaired).
    support_ : ndarray of bool, shape (n_features_in_,)
        Mask of the kept features.
    indices_ : ndarray of int
        Positions of the kept features, ascending.
    ids_ : list
        The kept features' positions (as ``indices_``, in a list, like the other selectors).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    SlateSelector : the same solve for candidates rather than features.
    qanneal_llm.feature_model : the QUBO this estimator builds.
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

    def fit(self, X, y):
        """Build the feature QUBO from ``X`` and ``y``, then solve it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; at least 3 samples.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target. A non-numeric 1-D ``y`` holds class labels: the mutual-information methods
            see them as categories, ``"correlation"`` as one 0/1 column per class (a class code
            is no quantity to correlate with). A 2-D ``y``, e.g. a multi-label indicator
            matrix, must be numeric. With several columns each feature's relevance is its mean
            relevance over them (:func:`~qanneal_llm.qubo.features.relevance_redundancy`).

        Returns
        -------
        self : QUBOFeatureSelector
            The fitted selector.
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
            codes = np.unique(y, return_inverse=True)[1].ravel()
            y = np.eye(codes.max() + 1)[codes] if self.method == "correlation" else codes
        y = finite_array(y, "y", y.ndim)
        self.k_ = self._resolve_k(X.shape[1], "n_features", "features")
        model = feature_model(
            X, y, self.k_, method=self.method, redundancy=self.redundancy, n_bins=self.n_bins
        )
        return self._solve(model)

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        return tags


class SlateSelector(BaseQUBOSelector):
    """Choose ``k`` candidates maximising relevance minus ``diversity`` x pairwise similarity.

    The rows of ``X`` are the candidates (scikit-learn's samples), its columns their vector
    components; ``y`` is each candidate's relevance. A greedy top-k by relevance returns near
    duplicates when the best candidates are alike; the QUBO trades a little relevance for a slate
    whose members differ.

    Parameters
    ----------
    k : int or float, default=10
        Slate size: an int in ``1..n_candidates`` or a fraction in ``(0, 1]`` of the candidates.
    diversity : float, default=0.5
        Weight of the pairwise similarity penalty (0 = top-k by relevance).
    solver : str or dimod sampler, default="anneal"
        Any backend of :func:`qanneal_llm.solve`.
    seed : int or None, default=0
        Seeds the solver; ``None`` draws one and records it in ``result_.seed``.
    solver_options : dict or None, default=None
        Extra options for the backend.

    Attributes
    ----------
    k_ : int
        The slate size.
    result_ : SelectionResult
        The solver's checked answer.
    support_ : ndarray of bool, shape (n_candidates,)
        Mask of the chosen candidates.
    indices_ : ndarray of int
        Positions of the chosen candidates, ascending.
    ids_ : list
        Their ids (``ids`` passed to fit, else the positions).
    n_features_in_ : int
        Width of the candidate vectors (absent when fitted on a ``similarity`` matrix).

    Examples
    --------
    >>> sel = SlateSelector(k=2, diversity=1.0, solver="exact")
    >>> sel.fit([[1, 0], [1, 0.05], [0, 1]], [0.9, 0.8, 0.1]).indices_.tolist()
    [0, 2]
    """

    _sklearn_xfail_checks = {
        "check_estimators_dtypes": (
            "the check's integer copy of its random X has an all-zero row, a candidate whose"
            " cosine similarity is undefined, which the slate model refuses by design"
        ),
    }

    def __init__(self, k=10, diversity=0.5, solver="anneal", seed=0, solver_options=None):
        self.k = k
        self.diversity = diversity
        self.solver = solver
        self.seed = seed
        self.solver_options = solver_options

    def fit(self, X, y, *, similarity=None, ids=None, groups=None, group_bounds=None):
        """Solve the slate QUBO.

        Parameters
        ----------
        X : array-like of shape (n_candidates, d) or None
            The candidates' vectors (cosine similarity is used); ``None`` with ``similarity``.
        y : array-like of shape (n_candidates,)
            Each candidate's relevance.
        similarity : array-like of shape (n_candidates, n_candidates), optional
            A precomputed symmetric similarity, instead of ``X``.
        ids : sequence, optional
            Candidate ids for ``ids_`` and ``result_.ids``.
        groups, group_bounds : mapping, optional
            Group name -> candidate ids, and group name -> ``(min, max)`` counts in the slate.

        Returns
        -------
        self : SlateSelector
            The fitted selector.
        """
        if (X is None) == (similarity is None):
            raise ValueError("give candidate vectors X or similarity=, exactly one of them")
        if X is not None:
            X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        elif hasattr(self, "n_features_in_"):  # a refit on similarity has no vector width
            del self.n_features_in_
        self.k_ = self._resolve_k(
            np.shape(similarity if X is None else X)[0], "n_samples", "candidates"
        )
        model = slate_model(
            y,
            self.k_,
            vectors=X,
            similarity=similarity,
            diversity=self.diversity,
            ids=ids,
            groups=groups,
            group_bounds=group_bounds,
        )
        return self._solve(model)

"""Content features for items nobody has interacted with yet, chosen by a QUBO.

On warm items the ids carry the signal; for a new item, content is all there is. Following CQFS
(Nembrini et al., Entropy 2021), :class:`ColdStartFeatures` lets the warm items teach which
content features matter: it builds a bank of candidates from the item texts
(:class:`qanneal_llm.feature_bank.TextFeatureBank`: principal components of several text views,
zero-shot attribute scores, metadata), scores each against the collaborative item-item
similarity of the warm items, solves a feature-selection QUBO through :func:`qanneal_llm.solve`,
and weights the chosen features by CQFS's least-squares ``CFW_D`` fit so that content
similarity imitates collaborative similarity. ``transform`` needs only the texts, so it serves
warm and brand-new items alike.

>>> import numpy as np, scipy.sparse as sp
>>> class Letters:  # a toy encoder: letter counts (use a TextEncoder in practice)
...     def encode(self, texts):
...         return np.array([[t.count(c) for c in "abcdefgh"] for t in texts], float)
>>> texts = ["aab", "abb", "ccd", "cdd", "eef", "eff", "ggh", "ghh"]
>>> R = sp.csr_matrix(np.kron(np.eye(4), np.ones((3, 2)))[:, :8])  # pairs of alike items
>>> R[:, 7] = 0  # the last item is cold
>>> csf = ColdStartFeatures(n_features=3, n_components=4, solver="exact").fit(texts, R)
>>> csf.transform(["aaab", "gh"]).shape
(2, 3)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from qanneal_llm._validation import (
    check_seed,
    check_solver_options,
    interaction_matrix,
    positive_int,
)
from qanneal_llm.base import BaseQUBOSelector
from qanneal_llm.feature_bank import TextFeatureBank, split_views
from qanneal_llm.qubo.features import (
    SCORES,
    collaborative_feature_model,
    similarity_weights,
    standardize,
)

__all__ = ["ColdStartFeatures", "item_cosine"]

WEIGHTINGS = ("least_squares", "uniform")


def item_cosine(interactions, neighbors: int | None = None) -> sp.csr_matrix | np.ndarray:
    """Item-item cosine of the interaction columns, zero diagonal; with ``neighbors``, only each
    item's top neighbours are kept (sparse), as an ItemKNN would use them.

    Parameters
    ----------
    interactions : {array-like, sparse matrix} of shape (n_users, n_items)
        User-item interactions.
    neighbors : int, optional
        Neighbours kept per item.

    Returns
    -------
    ndarray or scipy.sparse.csr_matrix of shape (n_items, n_items)
        An item without interactions is similar to nothing (zero row): no evidence is not an
        error here, unlike an all-zero content vector.
    """
    csc = sp.csc_matrix(interactions, dtype=np.float64)
    co = (csc.T @ csc).toarray()
    norms = np.sqrt(np.diag(co))
    sim = co / np.maximum(np.outer(norms, norms), 1e-12)
    np.fill_diagonal(sim, 0.0)
    if neighbors is None or neighbors >= sim.shape[0] - 1:
        return sim
    top = np.argpartition(-sim, neighbors - 1, axis=1)[:, :neighbors]
    rows = np.repeat(np.arange(sim.shape[0]), neighbors)
    vals = np.take_along_axis(sim, top, axis=1).ravel()
    out = sp.csr_matrix((vals, (rows, top.ravel())), shape=sim.shape)
    return (out + out.T) / 2


def _collaborative_projection(content: np.ndarray, C, n_factors: int):
    """Ridge map from the warm items' content to their top collaborative factors.

    The factors are the leading eigenvectors of the collaborative similarity scaled by the root of
    their eigenvalues (so their dot products approximate it); each becomes a candidate
    ``"cf:<j>"`` that any item's text predicts (the MARec / "align content with collaborative
    data in closed form" idea). The ridge strength is chosen by leave-one-out on the warm items.
    Returns ``(coef, mean, scale)`` to standardise the predictions, or ``None`` when
    ``n_factors`` is 0.
    """
    if n_factors <= 0:
        return None
    from sklearn.linear_model import RidgeCV

    dense = C.toarray() if sp.issparse(C) else np.asarray(C)
    vals, vecs = np.linalg.eigh((dense + dense.T) / 2)
    order = np.argsort(vals)[::-1][: min(n_factors, dense.shape[0] - 1)]
    order = order[vals[order] > 0]
    if order.size == 0:
        return None
    targets = vecs[:, order] * np.sqrt(vals[order])
    ridge = RidgeCV(alphas=np.logspace(-1, 4, 11), fit_intercept=False)
    coef = ridge.fit(content, targets).coef_.T
    pred = content @ coef
    std = pred.std(axis=0)
    return coef, pred.mean(axis=0), np.where(std > 0, std, 1.0)


def _interactions(X, n_items: int) -> sp.csr_matrix:
    X = interaction_matrix(X, "interactions")
    if X.shape[1] != n_items:
        raise ValueError(
            f"interactions has {X.shape[1]} item columns but texts describe {n_items} items;"
            " give one column per text, in the same order (cold items as all-zero columns)"
        )
    return X


class ColdStartFeatures(TransformerMixin, BaseQUBOSelector):
    """Select and weight ``n_features`` content features that imitate collaborative similarity.

    Parameters
    ----------
    n_features : int
        How many candidates to keep (the output width).
    encoder : object with ``encode(list[str])`` or None
        The text encoder; ``None`` uses :class:`qanneal_llm.embeddings.TextEncoder` (cached).
    n_components : int
        Principal components per text view in the candidate bank.
    attributes : sequence of str
        Attribute prompts for zero-shot attribute candidates (see :mod:`qanneal_llm.feature_bank`).
    attribute_view : str or None
        The text view the prompts are scored on (default: the first).
    score : {"least_squares", "agreement"}
        How candidates are scored against the warm items' collaborative similarity: CQFS's
        ``CFW_D`` least-squares terms, or CQFS's plain agreement with correlation redundancy.
    redundancy : float
        Weight of the redundancy term in the QUBO (0 = top candidates by relevance).
    neighbors : int or None
        Keep each warm item's top collaborative neighbours only (``None``: the dense cosine).
    weighting : {"least_squares", "uniform"}
        Output columns scaled by the square roots of non-negative ``CFW_D`` weights fitted on
        the chosen features, or left standardised.
    ridge : float
        Relative ridge of the weight fit.
    solver, seed, solver_options
        The backend of :func:`qanneal_llm.solve`, its seed and extra options.

    Attributes
    ----------
    bank_ : TextFeatureBank
    candidate_names_ : ndarray of str, shape (n_candidates,)
    selected_ : ndarray of int, shape (n_features,)
        Positions of the chosen candidates, ascending.
    weights_ : ndarray, shape (n_features,)
    relevance_ : ndarray, shape (n_candidates,)
        The QUBO's relevance of every candidate (minus its linear term).
    k_, support_, indices_, ids_
        As for every :class:`~qanneal_llm.base.BaseQUBOSelector`: the count, mask, positions
        and names of the chosen candidates.
    result_ : SelectionResult
        The solver's checked answer (solver, seed, timings, feasibility).
    warm_ : ndarray of bool, shape (n_items,)
        The items of ``fit`` with at least one interaction.
    """

    def __init__(
        self,
        n_features=64,
        encoder=None,
        n_components=64,
        attributes=(),
        attribute_view=None,
        score="least_squares",
        redundancy=1.0,
        neighbors=None,
        weighting="least_squares",
        ridge=1e-3,
        n_collaborative=32,
        solver="anneal",
        seed=0,
        solver_options=None,
    ):
        self.n_features = n_features
        self.encoder = encoder
        self.n_components = n_components
        self.attributes = attributes
        self.attribute_view = attribute_view
        self.score = score
        self.redundancy = redundancy
        self.neighbors = neighbors
        self.weighting = weighting
        self.ridge = ridge
        self.n_collaborative = n_collaborative
        self.solver = solver
        self.seed = seed
        self.solver_options = solver_options

    def _check_params(self) -> None:
        positive_int(self.n_features, "n_features")
        if self.score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {self.score!r}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if self.neighbors is not None:
            positive_int(self.neighbors, "neighbors")
        if not (np.isfinite(self.ridge) and self.ridge >= 0):
            raise ValueError(f"ridge must be a finite number >= 0, got {self.ridge!r}")
        check_seed(self.seed)
        check_solver_options(self.solver_options)

    def fit(self, texts, interactions):
        """Build the bank on the warm items, score, select with a QUBO and weight.

        Parameters
        ----------
        texts : sequence of str or DataFrame
            One entry per item (see :func:`qanneal_llm.feature_bank.split_views`).
        interactions : sparse or dense (n_users, n_items)
            Any non-zero is an interaction; cold items are all-zero columns and only contribute
            their texts (to nothing that is scored).
        """
        self._check_params()
        views, _ = split_views(texts)
        n_items = len(next(iter(views.values())))
        R = _interactions(interactions, n_items)
        warm = np.asarray(R.getnnz(axis=0) > 0).ravel()
        if warm.sum() < 3:
            raise ValueError(
                f"only {int(warm.sum())} items have interactions; need at least 3 warm items to"
                " learn which content features matter"
            )
        encoder = self.encoder
        if encoder is None:
            from qanneal_llm.embeddings import TextEncoder

            encoder = TextEncoder()
        bank = TextFeatureBank(
            encoder, self.n_components, tuple(self.attributes or ()), self.attribute_view
        )
        content = bank.fit_transform(texts, reference=warm)
        C = item_cosine(R[:, warm], self.neighbors)
        self.projection_ = _collaborative_projection(content[warm], C, int(self.n_collaborative))
        F = self._candidates(content)[warm]
        names = np.concatenate(
            [bank.names_, [f"cf:{j}" for j in range(F.shape[1] - bank.n_candidates)]]
        ).astype(object)
        if self.n_features > names.size:
            raise ValueError(
                f"n_features = {self.n_features} exceeds the {names.size} candidates in the"
                " bank; lower n_features, or add text views, attributes, n_components or"
                " n_collaborative"
            )
        model = collaborative_feature_model(
            F,
            C,
            int(self.n_features),
            redundancy=float(self.redundancy),
            score=self.score,
            feature_names=list(names),
        )
        self.k_ = int(self.n_features)
        self._solve(model)  # result_, indices_, ids_ and support_ over the candidates
        selected = np.sort(self.indices_)
        if self.weighting == "least_squares":
            weights = similarity_weights(standardize(F[:, selected]), C, self.ridge)
        else:
            weights = np.ones(selected.size)
        self.bank_, self.warm_ = bank, warm
        self.candidate_names_ = names
        self.selected_, self.weights_ = selected, weights
        self.relevance_ = -np.asarray(model.linear)
        self.n_features_in_ = len(views) + len(bank.meta_columns_)
        return self

    def transform(self, texts) -> np.ndarray:
        """The chosen, weighted features ``(n_texts, n_features)`` of any items.

        Parameters
        ----------
        texts : sequence of str or pandas.DataFrame
            Items to describe, warm or new.

        Returns
        -------
        ndarray of shape (n_texts, n_features)
        """
        check_is_fitted(self, "selected_")
        F = self._candidates(self.bank_.transform(texts))[:, self.selected_]
        return F * np.sqrt(self.weights_)

    def _candidates(self, content: np.ndarray) -> np.ndarray:
        """The bank's candidates plus the text-predicted collaborative factors."""
        if self.projection_ is None:
            return content
        coef, mean, scale = self.projection_
        return np.hstack([content, (content @ coef - mean) / scale])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the chosen candidates (``"<view>:pc<j>"``, ``"attr:<prompt>"``, ...).

        Parameters
        ----------
        input_features : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        ndarray of object, shape (n_features,)
        """
        check_is_fitted(self, "selected_")
        return np.asarray(self.candidate_names_[self.selected_], dtype=object)

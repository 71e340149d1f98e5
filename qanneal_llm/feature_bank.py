"""Content features worth selecting from: what an item *is*, computed from its text alone.

Selecting raw dimensions of a dense sentence embedding is a poor search space: every dimension
carries a little and none means anything on its own. :class:`TextFeatureBank` builds candidates
that do, every one computable for an item nobody has interacted with yet:

- ``"<view>:pc<j>"`` - the j-th principal component of a text view's embeddings (for items,
  e.g. the title alone, or title + year + genres). The PCA is fitted on the reference (warm)
  items after centring on their mean: MiniLM item embeddings are anisotropic (every pairwise
  cosine is positive; WhitenRec, arXiv 2402.10602), and centring removes the shared offset that
  otherwise swamps item-item similarities.
- ``"attr:<prompt>"`` - zero-shot attribute scores: the cosine between an item's embedding and a
  short attribute prompt such as "a film for children", both from the same encoder. The prompts
  are the caller's, written once and documented where the use case lives.
- ``"meta:<column>"`` - numeric metadata the caller already has (a release year, one-hot genres).

Every candidate is standardised with the reference items' mean and standard deviation, so
candidates compete on how they order items, not on their units. Degenerate candidates (constant
on the reference items, e.g. an attribute that ignores every item) are flagged by
:func:`qanneal_llm.qubo.features.informative_columns` and never selected downstream.

Inputs are either a sequence of strings (one view named ``"text"``) or a pandas DataFrame whose
string columns are text views and whose numeric or boolean columns are metadata.
"""

from __future__ import annotations

import numpy as np

from qanneal_llm._validation import finite_array, positive_int

__all__ = ["TextFeatureBank", "split_views"]


def split_views(texts) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    """``(text views, metadata columns)`` of ``texts``, validated.

    A sequence of strings is one view ``"text"``; a DataFrame gives one view per string column
    and one metadata column per numeric or boolean column (NaN is refused: impute it first).

    Parameters
    ----------
    texts : sequence of str or pandas.DataFrame
        One entry (row) per item.

    Returns
    -------
    views : dict of str to list of str
    metadata : dict of str to ndarray
    """
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(texts, pd.DataFrame):
        if len(texts) == 0:
            raise ValueError("texts is an empty DataFrame; give at least one item")
        views, meta = {}, {}
        for col in texts.columns:
            series = texts[col]
            if series.dtype == bool or pd.api.types.is_numeric_dtype(series):
                meta[str(col)] = finite_array(series.to_numpy(), f"texts[{col!r}]", 1)
            elif all(isinstance(v, str) for v in series):
                views[str(col)] = series.tolist()
            else:
                raise ValueError(
                    f"texts column {col!r} mixes strings and other values; a text view must hold"
                    " only str and metadata only numbers or booleans"
                )
        if not views:
            raise ValueError("texts has no string column; give at least one text view")
        return views, meta
    if isinstance(texts, (str, bytes)):
        raise ValueError("texts must be a sequence of strings (one per item), not one string")
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty; give one text per item")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise ValueError(f"texts[{bad}] is {type(texts[bad]).__name__}, not str")
    return {"text": texts}, {}


class TextFeatureBank:
    """Fit the candidate features on reference items, then compute them for any item.

    Parameters
    ----------
    encoder : object with ``encode(list[str]) -> (n, dim) array``
        A :class:`qanneal_llm.embeddings.TextEncoder` (cached on disk) or anything alike.
    n_components : int
        Principal components kept per text view (fewer if the view has fewer reference items).
    attributes : sequence of str
        Attribute prompts scored zero-shot against ``attribute_view``.
    attribute_view : str or None
        The view the prompts are scored on; ``None`` takes the first text view.
    """

    def __init__(self, encoder, n_components=64, attributes=(), attribute_view=None):
        self.encoder = encoder
        self.n_components = n_components
        self.attributes = attributes
        self.attribute_view = attribute_view

    def fit(self, texts, reference: np.ndarray | None = None) -> TextFeatureBank:
        """Fit PCA, prompt vectors and standardisation on the ``reference`` rows (default all).

        Parameters
        ----------
        texts : sequence of str or pandas.DataFrame
            Every item's texts (see :func:`split_views`).
        reference : ndarray of bool, shape (n_items,), optional
            The items the statistics are fitted on (e.g. the warm ones); all when omitted.

        Returns
        -------
        self : TextFeatureBank
        """
        self._fit(texts, reference)
        return self

    def fit_transform(self, texts, reference: np.ndarray | None = None) -> np.ndarray:
        """:meth:`fit`, then :meth:`transform` of the same ``texts``, encoding them only once.

        Parameters
        ----------
        texts : sequence of str or pandas.DataFrame
            Every item's texts (see :func:`split_views`).
        reference : ndarray of bool, shape (n_items,), optional
            The items the statistics are fitted on; all when omitted.

        Returns
        -------
        ndarray of shape (n_items, n_candidates)
        """
        return (self._fit(texts, reference) - self.mean_) / self.scale_

    def _fit(self, texts, reference) -> np.ndarray:
        """Fit the bank; return the unstandardised candidates of ``texts``."""
        views, meta = split_views(texts)
        n = len(next(iter(views.values())))
        ref = np.ones(n, dtype=bool) if reference is None else np.asarray(reference, dtype=bool)
        if ref.shape != (n,):
            raise ValueError(f"reference must be a boolean mask over the {n} items")
        if ref.sum() < 2:
            raise ValueError("need at least 2 reference items to fit the feature bank")
        positive_int(self.n_components, "n_components")
        prompts = list(self.attributes or ())
        if any(not isinstance(p, str) or not p.strip() for p in prompts):
            raise ValueError("attributes must be non-empty strings (short attribute prompts)")
        attr_view = self.attribute_view or next(iter(views))
        if prompts and attr_view not in views:
            raise ValueError(f"attribute_view {attr_view!r} is not a text view of {list(views)}")
        self.views_, self.meta_columns_ = list(views), list(meta)
        self.attribute_view_ = attr_view
        self.pca_ = {}
        embs = self._embed(views)
        for name, emb in embs.items():
            mean = emb[ref].mean(axis=0)
            _, s, vt = np.linalg.svd(emb[ref] - mean, full_matrices=False)
            keep = int(min(self.n_components, vt.shape[0], int((s > 1e-9 * s[0]).sum())))
            self.pca_[name] = (mean, vt[:keep].T)
        self.prompt_vectors_ = (
            np.asarray(self.encoder.encode(prompts), dtype=np.float64) if prompts else None
        )
        self.prompts_ = prompts
        raw, names = self._raw(embs, meta)
        self.names_ = np.asarray(names, dtype=object)
        self.mean_ = raw[ref].mean(axis=0)
        std = raw[ref].std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return raw

    def transform(self, texts) -> np.ndarray:
        """Standardised candidates ``(n_items, n_candidates)``; names in ``names_``.

        Parameters
        ----------
        texts : sequence of str or pandas.DataFrame
            Items to describe, warm or new.

        Returns
        -------
        ndarray of shape (n_items, n_candidates)
        """
        views, meta = split_views(texts)
        if list(views) != self.views_ or list(meta) != self.meta_columns_:
            raise ValueError(
                f"texts must have the views {self.views_} and metadata {self.meta_columns_} seen"
                f" in fit, got {list(views)} and {list(meta)}"
            )
        raw, _ = self._raw(self._embed(views), meta)
        return (raw - self.mean_) / self.scale_

    def _embed(self, views: dict[str, list[str]]) -> dict[str, np.ndarray]:
        lengths = {len(v) for v in views.values()}
        if len(lengths) != 1:
            raise ValueError("every text view must have one entry per item")
        return {
            name: np.asarray(self.encoder.encode(view), dtype=np.float64)
            for name, view in views.items()
        }

    def _raw(self, embs: dict[str, np.ndarray], meta: dict[str, np.ndarray]):
        blocks: list[np.ndarray] = []
        names: list[str] = []
        n = len(next(iter(embs.values())))
        if any(len(m) != n for m in meta.values()):
            raise ValueError("every metadata column must have one entry per item")
        for name in self.views_:
            emb = embs[name]
            mean, comps = self.pca_[name]
            blocks.append((emb - mean) @ comps)
            names += [f"{name}:pc{j}" for j in range(comps.shape[1])]
            if name == self.attribute_view_ and self.prompt_vectors_ is not None:
                unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
                p = self.prompt_vectors_
                blocks.append(unit @ (p / np.linalg.norm(p, axis=1, keepdims=True)).T)
                names += [f"attr:{prompt}" for prompt in self.prompts_]
        for name in self.meta_columns_:
            blocks.append(np.asarray(meta[name], dtype=np.float64)[:, None])
            names.append(f"meta:{name}")
        return np.hstack(blocks), names

    @property
    def n_candidates(self) -> int:
        """Number of candidate features the bank produces."""
        return int(self.names_.size)

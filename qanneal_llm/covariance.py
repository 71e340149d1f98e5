"""Covariance shrinkage toward structured targets, one of them built from the assets' texts.

With 60 or 126 daily returns on 20 assets the sample covariance has about as many free
correlations (190) as the window has days, and a minimum-variance portfolio chases its noise.
Ledoit and Wolf shrink it toward a target with few parameters: a constant correlation
(LW 2004, "Honey, I shrunk the sample covariance matrix") or a single-index model (LW 2003).
:class:`TargetShrinkage` adds two targets that take their structure from language instead:

* ``"text_similarity"``: target correlations ``a + b * s_ij``, with ``s_ij`` the cosine of the
  assets' centred text embeddings and ``a, b >= 0``, ``a + b <= 1`` fitted by least squares to
  the window's sample correlations (two parameters, like constant correlation's one; the bounds
  keep the target positive semi-definite, since it is then ``a 11' + b S + (1 - a - b) I``);
* ``"text_index"``: the single-index target plus text-structured residual correlation: the
  market explains what all stocks share, and ``b * s_ij`` (``b`` in [0, 1] fitted by least
  squares to the window's residual correlations) adds what companies in a similar business
  share beyond it (market + industry, with the industries read from text);
* ``"text_blocks"``: the assets are clustered by their text embeddings (average-linkage cosine)
  and the target correlation of a pair is the mean sample correlation of its pair of clusters:
  the sector blocks the text implies.

Every target keeps the sample variances on its diagonal. The intensity is Ledoit-Wolf's
analytic one (asymptotically optimal under Frobenius loss) unless ``shrinkage`` fixes it. For
the correlation-structured targets it is LW 2004's formula with the target correlation of each
pair in place of the constant one; the fitted target parameters are treated as fixed, as LW
treat their mean correlation. ``"text_index"`` uses the single-index intensity of LW 2003 (its
text part treated as fixed).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import lsq_linear
from sklearn.base import BaseEstimator

from qanneal_llm._validation import finite_array
from qanneal_llm.base import validate_data

__all__ = ["TARGETS", "TargetShrinkage", "text_similarity"]

TARGETS = ("constant_correlation", "single_index", "text_similarity", "text_blocks", "text_index")


def text_similarity(embeddings) -> np.ndarray:
    """Cosine similarity of the embeddings after centring them on their mean.

    Sentence-encoder vectors share a large common direction (every cosine of MiniLM asset texts
    is positive); centring removes it, so the similarity says which assets are *more* alike than
    the average pair.

    Parameters
    ----------
    embeddings : array-like of shape (n_assets, d)
        One text embedding per asset.

    Returns
    -------
    ndarray of shape (n_assets, n_assets)
        Symmetric, ones on the diagonal.
    """
    emb = finite_array(embeddings, "embeddings", 2)
    centred = emb - emb.mean(axis=0)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    if np.any(norms <= 1e-12):
        raise ValueError(
            "an embedding equals the mean of all embeddings after centring; its similarity is"
            " undefined (are two or fewer assets given, or duplicate texts?)"
        )
    unit = centred / norms
    sim = np.clip(unit @ unit.T, -1.0, 1.0)
    np.fill_diagonal(sim, 1.0)
    return sim


def _text_blocks(embeddings, n_blocks: int) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    dist = 1.0 - text_similarity(embeddings)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(np.clip(dist, 0.0, None), checks=False), method="average")
    return fcluster(tree, t=n_blocks, criterion="maxclust") - 1


class TargetShrinkage(BaseEstimator):
    """Ledoit-Wolf shrinkage ``(1 - d) S + d F`` toward a structured target ``F``.

    Parameters
    ----------
    target : one of :data:`TARGETS`.
    embeddings : ``(n_assets, dim)`` text embeddings, one row per column of ``X``; needed by
        the text targets.
    n_blocks : number of text clusters for ``"text_blocks"``; ``None`` uses ``round(sqrt(n))``.
    shrinkage : fixed intensity in [0, 1]; ``None`` uses the analytic Ledoit-Wolf intensity.

    Attributes
    ----------
    covariance_ : the shrunk covariance; ``target_`` the target ``F``; ``shrinkage_`` the
        intensity used; ``location_`` the column means; ``blocks_`` the text clusters
        (``"text_blocks"`` only); ``target_params_`` the fitted ``(a, b)`` (``"text_similarity"``).

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4)) @ np.array([[1, .5, 0, 0], [0, 1, 0, 0], [0, 0, 1, .5],
    ...                                          [0, 0, 0, 1.]])
    >>> emb = np.array([[1, 0.1, 0], [1, 0, 0.1], [0, 1, 0.1], [0.1, 1, 0]])
    >>> est = TargetShrinkage("text_similarity", embeddings=emb).fit(X)
    >>> bool(0 <= est.shrinkage_ <= 1), est.covariance_.shape
    (True, (4, 4))
    """

    def __init__(
        self, target="constant_correlation", *, embeddings=None, n_blocks=None, shrinkage=None
    ):
        self.target = target
        self.embeddings = embeddings
        self.n_blocks = n_blocks
        self.shrinkage = shrinkage

    def fit(self, X, y=None):
        """Estimate the shrunk covariance of the columns of ``X`` (observations x assets).

        Parameters
        ----------
        X : array-like of shape (n_observations, n_assets)
            Returns.
        y : None
            Ignored.

        Returns
        -------
        self : TargetShrinkage
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2, ensure_min_features=2)
        t, n = X.shape
        if self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}; choose one of {TARGETS}")
        if self.shrinkage is not None and not 0.0 <= self.shrinkage <= 1.0:
            raise ValueError(f"shrinkage must be in [0, 1] or None, got {self.shrinkage!r}")
        self.location_ = X.mean(axis=0)
        x = X - self.location_
        sample = x.T @ x / t
        var = np.diag(sample).copy()
        if np.any(var <= 0):
            raise ValueError("an asset has zero variance in the window; drop it or widen it")
        std = np.sqrt(var)
        if self.target in ("single_index", "text_index"):
            target, intensity = _single_index(x, sample)
            if self.target == "text_index":
                target = target + self._residual_text_part(x, target)
        else:
            corr = sample / np.outer(std, std)
            r_target = self._target_correlation(corr, n)
            target = r_target * np.outer(std, std)
            np.fill_diagonal(target, var)
            intensity = _correlation_intensity(x, sample, std, r_target, target)
        self.target_ = target
        self.shrinkage_ = float(intensity if self.shrinkage is None else self.shrinkage)
        cov = (1.0 - self.shrinkage_) * sample + self.shrinkage_ * target
        self.covariance_ = (cov + cov.T) / 2
        return self

    def _embeddings(self, n: int) -> np.ndarray:
        if self.embeddings is None:
            raise ValueError(f"target {self.target!r} needs embeddings= (one row per asset)")
        emb = finite_array(self.embeddings, "embeddings", 2)
        if emb.shape[0] != n:
            raise ValueError(f"embeddings need one row per asset ({n}), got {emb.shape[0]}")
        return emb

    def _residual_text_part(self, x, index_target) -> np.ndarray:
        """``b s_ij sqrt(e_i e_j)`` off the diagonal, ``e`` the single-index residual
        variances; with ``b`` in [0, 1] the whole target stays positive semi-definite."""
        n = x.shape[1]
        sim = text_similarity(self._embeddings(n))
        mkt = x.mean(axis=1)
        beta = x.T @ mkt / (mkt @ mkt)
        resid = x - np.outer(mkt, beta)
        e = np.clip(np.diag(index_target) - beta**2 * (mkt @ mkt) / x.shape[0], 1e-18, None)
        sd = np.sqrt(e)
        rc = (resid.T @ resid / x.shape[0]) / np.outer(sd, sd)
        off = ~np.eye(n, dtype=bool)
        s, r = sim[off], rc[off]
        b = float(np.clip(s @ r / (s @ s), 0.0, 1.0)) if s @ s > 0 else 0.0
        self.target_params_ = (0.0, b)
        part = b * sim * np.outer(sd, sd)
        np.fill_diagonal(part, 0.0)
        return part

    def _target_correlation(self, corr: np.ndarray, n: int) -> np.ndarray:
        off = ~np.eye(n, dtype=bool)
        if self.target == "constant_correlation":
            return np.full((n, n), corr[off].mean())
        emb = self._embeddings(n)
        if self.target == "text_similarity":
            sim = text_similarity(emb)
            s, r = sim[off], corr[off]
            if np.ptp(s) <= 1e-12:
                a, b = float(np.clip(r.mean(), 0.0, 1.0)), 0.0
            else:
                a, b = lsq_linear(np.column_stack([np.ones_like(s), s]), r, bounds=(0, 1)).x
                if a + b > 1.0:
                    a, b = a / (a + b), b / (a + b)
            self.target_params_ = (float(a), float(b))
            return a + b * sim
        n_blocks = self.n_blocks if self.n_blocks is not None else max(1, round(np.sqrt(n)))
        if not 1 <= n_blocks <= n:
            raise ValueError(f"n_blocks must be in 1..{n}, got {n_blocks}")
        blocks = _text_blocks(emb, n_blocks)
        self.blocks_ = blocks
        onehot = np.eye(blocks.max() + 1)[blocks]
        pair_sum = onehot.T @ np.where(off, corr, 0.0) @ onehot
        pair_cnt = onehot.T @ off.astype(float) @ onehot
        mean_all = corr[off].mean()
        with np.errstate(invalid="ignore", divide="ignore"):
            block_corr = np.where(pair_cnt > 0, pair_sum / pair_cnt, mean_all)
        r_target = onehot @ block_corr @ onehot.T
        # block means need not be positive semi-definite: clip the eigenvalues, keep unit diag
        vals, vecs = np.linalg.eigh(np.where(off, r_target, 1.0))
        fixed = (vecs * np.clip(vals, 1e-6, None)) @ vecs.T
        d = np.sqrt(np.diag(fixed))
        return fixed / np.outer(d, d)


def _correlation_intensity(x, sample, std, r_target, target) -> float:
    """LW 2004's analytic intensity for a target ``r_ij sqrt(s_ii s_jj)`` with fixed ``r_ij``."""
    t, n = x.shape
    y = x**2
    pi_mat = y.T @ y / t - sample**2
    pi = pi_mat.sum()
    theta = (x**3).T @ x / t - np.diag(sample)[:, None] * sample
    np.fill_diagonal(theta, 0.0)
    ratio = std[None, :] / std[:, None]
    off = ~np.eye(n, dtype=bool)
    rho = np.trace(pi_mat) + np.sum((r_target * ratio * theta)[off])
    gamma = np.linalg.norm(sample - target, "fro") ** 2
    if gamma <= 0:
        return 1.0
    return float(np.clip((pi - rho) / gamma / t, 0.0, 1.0))


def _single_index(x, sample) -> tuple[np.ndarray, float]:
    """LW 2003's single-index target (equal-weight market) and its analytic intensity."""
    t, n = x.shape
    mkt = x.mean(axis=1)
    cov_mkt = x.T @ mkt / t
    var_mkt = mkt @ mkt / t
    target = np.outer(cov_mkt, cov_mkt) / var_mkt
    np.fill_diagonal(target, np.diag(sample))
    c = np.linalg.norm(sample - target, "fro") ** 2
    y = x**2
    p = np.sum(y.T @ y) / t - np.sum(sample**2)
    rdiag = np.sum(y**2) / t - np.sum(np.diag(sample) ** 2)
    z = x * mkt[:, None]
    v1 = y.T @ z / t - cov_mkt[:, None] * sample
    roff1 = (np.sum(v1 * cov_mkt[None, :]) - np.sum(np.diag(v1) * cov_mkt)) / var_mkt
    v3 = z.T @ z / t - var_mkt * sample
    roff3 = (
        np.sum(v3 * np.outer(cov_mkt, cov_mkt)) - np.sum(np.diag(v3) * cov_mkt**2)
    ) / var_mkt**2
    r = rdiag + 2 * roff1 - roff3
    if c <= 0:
        return target, 1.0
    return target, float(np.clip((p - r) / c / t, 0.0, 1.0))

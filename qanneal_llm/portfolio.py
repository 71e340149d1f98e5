"""Choose K assets with a QUBO, then weight them: an estimator that sits beside skfolio's.

:class:`PortfolioSelector` follows skfolio's optimisation estimators: ``fit(X)`` on a
``(observations, assets)`` matrix of linear returns, the weights in ``weights_``, and
``predict(X)`` returning a :class:`skfolio.Portfolio`. The selection is the cardinality-K
problem of :func:`qanneal_llm.portfolio_model` (return, risk, text similarity, sector counts),
solved by any registered solver; the weighting over the chosen K is then either

* ``"equal"``: ``1/K`` each, exactly the portfolio the QUBO scored, or
* ``"min_variance"``: long-only minimum variance over the chosen K, which keeps the QUBO's
  choice of *what* to hold but lets the covariance decide *how much*; the QUBO scored the
  equal-weight version, so the refined portfolio's variance is never higher than the one scored.

Covariances are shrunk (Ledoit-Wolf by default) because a year of daily returns on a few dozen
assets gives a sample covariance whose smallest eigenvalues are mostly noise, and both the QUBO's
risk term and the minimum-variance step would chase that noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import minimize
from sklearn.base import clone
from sklearn.covariance import OAS, EmpiricalCovariance, LedoitWolf
from sklearn.utils.validation import check_is_fitted

from qanneal_llm._validation import finite_array, square_symmetric
from qanneal_llm.base import BaseQUBOSelector, validate_data
from qanneal_llm.qubo import cosine_similarity, portfolio_model

__all__ = ["PortfolioSelector", "min_variance_weights", "shrunk_covariance"]

_COVARIANCES = {"ledoit_wolf": LedoitWolf, "oas": OAS, "sample": EmpiricalCovariance}
WEIGHTINGS = ("equal", "min_variance")


def shrunk_covariance(returns, method="ledoit_wolf") -> np.ndarray:
    """Covariance of the columns of ``returns``, shrunk so its small eigenvalues are not noise.

    Parameters
    ----------
    returns : array-like of shape (n_observations, n_assets)
        At least 2 observations.
    method : {"ledoit_wolf", "oas", "sample"} or estimator, default="ledoit_wolf"
        A name, or any estimator with ``fit(X)`` and a ``covariance_`` attribute
        (scikit-learn's and skfolio's both qualify); it is cloned, never refitted in place.

    Returns
    -------
    ndarray of shape (n_assets, n_assets)
        Symmetric.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(60, 3))
    >>> cov = shrunk_covariance(X)
    >>> cov.shape, bool(np.allclose(cov, cov.T))
    ((3, 3), True)
    """
    X = finite_array(returns, "returns", 2)
    if X.shape[0] < 2:
        raise ValueError(f"a covariance needs at least 2 observations, got {X.shape[0]}")
    if isinstance(method, str):
        if method not in _COVARIANCES:
            raise ValueError(
                f"unknown covariance method {method!r}; choose one of {sorted(_COVARIANCES)} or"
                " pass an estimator with fit(X) and covariance_"
            )
        estimator = _COVARIANCES[method]()
    elif callable(getattr(method, "fit", None)):
        estimator = clone(method)
    else:
        raise TypeError(
            f"covariance must be a method name or an estimator with fit(X), got {type(method)}"
        )
    cov = np.asarray(estimator.fit(X).covariance_, dtype=np.float64)
    return (cov + cov.T) / 2


def min_variance_weights(covariance) -> np.ndarray:
    """Long-only, fully invested weights of least variance ``w' C w`` under ``covariance``.

    Solved by SLSQP from equal weights; weights below 1e-8 are set to zero and the rest
    renormalised, so the result sums to one exactly and carries no numerical dust.

    Parameters
    ----------
    covariance : array-like of shape (n, n)
        Symmetric covariance of the chosen assets.

    Returns
    -------
    ndarray of shape (n,)
        Non-negative, summing to one.

    Raises
    ------
    RuntimeError
        If SLSQP does not converge.

    Examples
    --------
    >>> w = min_variance_weights([[0.04, 0.0], [0.0, 0.01]])
    >>> [round(float(v), 4) for v in w]  # inverse-variance for uncorrelated assets
    [0.2, 0.8]
    """
    cov = square_symmetric(covariance, "covariance", np.asarray(covariance).shape[0])
    n = cov.shape[0]
    if n == 1:
        return np.ones(1)
    scale = float(np.mean(np.diag(cov))) or 1.0
    c = cov / scale
    res = minimize(
        lambda w: w @ c @ w,
        np.full(n, 1.0 / n),
        jac=lambda w: 2.0 * c @ w,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(n)}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    w = np.where(res.x > 1e-8, res.x, 0.0)
    if not res.success or w.sum() <= 0:
        raise RuntimeError(f"minimum-variance weights did not converge: {res.message}")
    return w / w.sum()


class PortfolioSelector(BaseQUBOSelector):
    """Hold ``k`` assets chosen by a QUBO; weight them equally or by minimum variance.

    The selection minimises ``-mu.x/K + risk_aversion * x'Cx/K^2 + semantic_penalty * mean
    pairwise cosine similarity of the chosen assets' embeddings``, with ``mu`` and ``C`` in the
    units of ``X`` (per-period returns). ``semantic_penalty`` is therefore a per-period return:
    how much expected return one unit of mean similarity is worth giving up.

    Parameters
    ----------
    k : int or float, default=0.25
        Number of assets to hold: an int in ``1..n_assets``, or a fraction in ``(0, 1]`` of the
        assets (rounded, at least one). The default adapts to the universe: a quarter of it,
        5 of the 20 bundled S&P 500 assets, 1 of a 3-asset toy; an explicit int larger than
        the universe is an error, never silently clipped.
    risk_aversion : float, default=1.0
        Weight of the equal-weight portfolio variance in the QUBO.
    semantic_penalty : float, default=0.0
        Weight of the chosen assets' mean pairwise similarity (needs ``embeddings``).
    embeddings : array-like of shape (n_assets, d), optional
        Text embeddings, one row per column of ``X``; an all-zero row is an error.
    weighting : {"equal", "min_variance"}, default="equal"
        How the chosen ``k`` are weighted.
    covariance : {"ledoit_wolf", "oas", "sample"} or estimator, default="ledoit_wolf"
        The covariance estimate (any estimator with ``fit(X)`` and ``covariance_``).
    sectors, sector_bounds : mapping, optional
        Sector -> asset ids (column names, or positions for arrays), and sector -> ``(min,
        max)`` counts among the chosen.
    switch_cost : float, default=0.0
        Cost, in the units of ``X`` over one holding period, of entering an asset not held now
        (round trip, e.g. ``2 * 0.001 / 21`` for 10 bp per side and monthly holding on daily
        returns); with ``fit(..., held=...)`` the QUBO weighs it against the gain.
    solver : str or dimod sampler, default="anneal"
        Any backend of :func:`qanneal_llm.solve`.
    solver_options : dict or None, default=None
        Extra options for the backend.
    seed : int or None, default=0
        Seeds the solver; ``None`` draws one and records it in ``result_.seed``.

    Attributes
    ----------
    k_ : int
        The number of assets held.
    result_ : SelectionResult
        The solver's checked answer (objective, breakdown, solver, seed, timings, repaired).
    support_ : ndarray of bool, shape (n_assets,)
        Mask of the chosen assets.
    indices_ : ndarray of int
        Positions of the chosen assets, ascending.
    ids_ : list
        Their ids: column names for a DataFrame, else positions.
    weights_ : ndarray of shape (n_assets,)
        Portfolio weights, zero outside the chosen assets, summing to one.
    covariance_ : ndarray of shape (n_assets, n_assets)
        The shrunk covariance the QUBO and the weighting used.
    expected_returns_ : ndarray of shape (n_assets,)
        The return view the QUBO traded on.
    model_ : SubsetModel
        The selection model that was solved.
    n_features_in_ : int
        Number of assets seen in ``fit``.
    feature_names_in_ : ndarray of str
        Asset names, when ``X`` was a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(0.0005, 0.01, size=(250, 6))
    >>> sel = PortfolioSelector(k=3, seed=0).fit(X, expected_returns=[3e-3, 2e-3, 1e-3, 0, 0, 0])
    >>> sel.ids_, float(sel.weights_.sum()), int((sel.weights_ > 0).sum())
    ([0, 1, 2], 1.0, 3)
    """

    _sklearn_xfail_checks = {
        "check_methods_sample_order_invariance": (
            "predict returns a skfolio Portfolio (a dated return series with its own measures),"
            " not an array the check can index and reorder"
        ),
    }

    def __init__(
        self,
        k=0.25,
        *,
        risk_aversion: float = 1.0,
        semantic_penalty: float = 0.0,
        embeddings=None,
        weighting: str = "equal",
        covariance="ledoit_wolf",
        sectors: Mapping[str, Sequence] | None = None,
        sector_bounds: Mapping[str, tuple] | None = None,
        switch_cost: float = 0.0,
        solver="anneal",
        solver_options: Mapping | None = None,
        seed: int | None = 0,
    ):
        self.k = k
        self.risk_aversion = risk_aversion
        self.semantic_penalty = semantic_penalty
        self.embeddings = embeddings
        self.weighting = weighting
        self.covariance = covariance
        self.sectors = sectors
        self.sector_bounds = sector_bounds
        self.switch_cost = switch_cost
        self.solver = solver
        self.solver_options = solver_options
        self.seed = seed

    def fit(self, X, y=None, *, expected_returns=None, held=None):
        """Choose and weight the assets.

        Parameters
        ----------
        X : array-like of shape (n_observations, n_assets)
            Linear returns, at least 2 observations.
        y : None
            Ignored; present for scikit-learn's API.
        expected_returns : array-like of shape (n_assets,), optional
            The view to trade on, in ``X``'s units (e.g. a ranking model's scores mapped to
            returns); the sample mean of ``X`` when omitted.
        held : sequence, optional
            Ids of the assets held now, for ``switch_cost``.

        Returns
        -------
        self : PortfolioSelector
            The fitted selector.
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        n = X.shape[1]
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        ids = list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else list(range(n))
        mu = X.mean(axis=0) if expected_returns is None else expected_returns
        mu = finite_array(mu, "expected_returns", 1)
        if mu.shape != (n,):
            raise ValueError(
                f"expected_returns must give one value per asset ({n}), got shape {mu.shape}"
            )
        similarity = None
        if self.embeddings is not None:
            emb = finite_array(self.embeddings, "embeddings", 2)
            if emb.shape[0] != n:
                raise ValueError(
                    f"embeddings must have one row per asset ({n}), got {emb.shape[0]} rows"
                )
            similarity = cosine_similarity(emb, "embeddings")
        self.k_ = self._resolve_k(n, "n_features", "assets")
        self.covariance_ = shrunk_covariance(X, self.covariance)
        self.expected_returns_ = mu
        self.model_ = portfolio_model(
            mu,
            self.covariance_,
            self.k_,
            risk_aversion=self.risk_aversion,
            similarity=similarity,
            semantic_penalty=self.semantic_penalty,
            ids=ids,
            sectors=self.sectors,
            sector_bounds=self.sector_bounds,
            held=held,
            switch_cost=self.switch_cost,
        )
        self._solve(self.model_)
        weights = np.zeros(n)
        if self.weighting == "equal":
            weights[self.indices_] = 1.0 / len(self.indices_)
        else:
            chosen = self.indices_
            weights[chosen] = min_variance_weights(self.covariance_[np.ix_(chosen, chosen)])
        self.weights_ = weights
        return self

    def predict(self, X):
        """The fitted portfolio's returns over ``X``.

        Parameters
        ----------
        X : array-like of shape (n_observations, n_assets)
            Linear returns of the same assets, in the same order.

        Returns
        -------
        portfolio : skfolio.Portfolio
            ``X @ weights_`` with skfolio's measures (Sharpe, drawdowns, ...).
        """
        check_is_fitted(self, "weights_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        try:
            from skfolio import Portfolio
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(
                "predict returns a skfolio Portfolio; install it with "
                "`pip install qanneal-llm[finance]`, or use X @ weights_ directly"
            ) from None
        return Portfolio(X, self.weights_)

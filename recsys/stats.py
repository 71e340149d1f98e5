"""Is one strategy's Sharpe ratio really higher than another's? Tests a quant would accept.

Daily portfolio returns are autocorrelated and fat-tailed, and two strategies on the same assets
are strongly correlated, so the textbook Jobson-Korkie test (iid normal returns) is too
optimistic. Ledoit and Wolf (2008, "Robust performance hypothesis testing with the Sharpe
ratio", J. Empirical Finance 15) give two tests that stay valid under both:

* :func:`sharpe_difference_hac`: the delta method on the four moments
  ``(mean_1, mean_2, E r_1^2, E r_2^2)`` with a heteroskedasticity and autocorrelation
  consistent (HAC) long-run covariance (Bartlett kernel, Newey-West bandwidth);
* :func:`sharpe_difference_bootstrap`: a studentized circular block bootstrap (the blocks drawn
  by :class:`arch.bootstrap.CircularBlockBootstrap`), which LW 2008 recommend for small samples.

Trying many rows and reporting the best inflates its Sharpe ratio; :func:`deflated_sharpe_ratio`
(Bailey and Lopez de Prado 2014) and :func:`holm` account for the number of rows tried.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import kurtosis, norm, skew

__all__ = [
    "SharpeTest",
    "compare_to_baseline",
    "deflated_sharpe_ratio",
    "hac_covariance",
    "holm",
    "sharpe_difference_bootstrap",
    "sharpe_difference_hac",
]

EULER_GAMMA = 0.5772156649015329


@dataclass(frozen=True)
class SharpeTest:
    """The difference ``SR_1 - SR_2`` (annualised), its standard error and two-sided p-value.

    ``method`` says how the p-value was obtained (kernel and bandwidth, or block length and
    number of resamples), so a table can print it next to the number.
    """

    sharpe_1: float
    sharpe_2: float
    difference: float
    std_error: float
    p_value: float
    method: str
    n_obs: int

    def to_dict(self) -> dict:
        return asdict(self)


def _pair(returns_1, returns_2) -> np.ndarray:
    r = np.column_stack([np.asarray(returns_1, np.float64), np.asarray(returns_2, np.float64)])
    if r.ndim != 2 or r.shape[1] != 2:
        raise ValueError("pass two one-dimensional return series of the same length")
    if r.shape[0] < 10:
        raise ValueError(f"a Sharpe ratio test needs at least 10 returns, got {r.shape[0]}")
    if not np.isfinite(r).all():
        raise ValueError("returns contain NaN or inf; align the two series and drop missing days")
    return r


def _moments(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``u = (mean_1, mean_2, E r_1^2, E r_2^2)`` and the gradient of ``SR_1 - SR_2`` at ``u``."""
    m = r.mean(axis=0)
    g = (r**2).mean(axis=0)
    var = g - m**2
    grad = np.array(
        [
            g[0] / var[0] ** 1.5,
            -g[1] / var[1] ** 1.5,
            -m[0] / (2 * var[0] ** 1.5),
            m[1] / (2 * var[1] ** 1.5),
        ]
    )
    return m / np.sqrt(var), grad


def hac_covariance(y, lags: int | None = None) -> np.ndarray:
    """Long-run covariance of the rows of ``y`` (T x p) with Bartlett weights (Newey-West).

    ``Psi = Gamma_0 + sum_{j=1..L} (1 - j/(L+1)) (Gamma_j + Gamma_j')`` with
    ``Gamma_j = sum_t y_t y_{t-j}' / T`` on the demeaned ``y``. ``lags=None`` uses the
    Newey-West (1994) rule ``floor(4 (T/100)^(2/9))``.

    >>> y = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    >>> float(hac_covariance(y, lags=1)[0, 0])  # 1 + 2 * 0.5 * (-3/4)
    0.25
    """
    y = np.asarray(y, np.float64)
    if y.ndim == 1:
        y = y[:, None]
    t = y.shape[0]
    if lags is None:
        lags = int(np.floor(4 * (t / 100) ** (2 / 9)))
    if not 0 <= lags < t:
        raise ValueError(f"lags must be in 0..{t - 1}, got {lags}")
    z = y - y.mean(axis=0)
    psi = z.T @ z / t
    for j in range(1, lags + 1):
        gamma = z[j:].T @ z[:-j] / t
        psi += (1 - j / (lags + 1)) * (gamma + gamma.T)
    return psi


def sharpe_difference_hac(
    returns_1, returns_2, *, lags: int | None = None, periods_per_year: float = 252
) -> SharpeTest:
    """Ledoit-Wolf (2008) HAC test of ``H0: SR_1 = SR_2`` (two-sided, normal reference).

    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(0.0005, 0.01, 2000)
    >>> sharpe_difference_hac(a, a).p_value
    1.0
    """
    r = _pair(returns_1, returns_2)
    t = r.shape[0]
    if lags is None:
        lags = int(np.floor(4 * (t / 100) ** (2 / 9)))
    sr, grad = _moments(r)
    y = np.column_stack([r, r**2])
    se = float(np.sqrt(max(grad @ hac_covariance(y, lags) @ grad, 0.0) / t))
    diff = float(sr[0] - sr[1])
    return _annualised(
        sr,
        diff,
        se,
        _two_sided(diff, se),
        f"HAC delta method, Bartlett kernel, {lags} lags",
        t,
        periods_per_year,
    )


def _annualised(sr, diff, se, p, method: str, t: int, periods_per_year: float) -> SharpeTest:
    """A :class:`SharpeTest` from per-period Sharpe ratios, difference and standard error."""
    scale = np.sqrt(periods_per_year)
    return SharpeTest(
        float(sr[0] * scale), float(sr[1] * scale), diff * scale, se * scale, p, method, t
    )


def _degenerate_p(diff: float, se: float) -> float | None:
    """The p-value when ``se`` is numerically zero (1 if ``diff`` is too, else 0); else None."""
    if se <= 1e-14 * max(1.0, abs(diff)):
        return 1.0 if abs(diff) <= 1e-14 else 0.0
    return None


def _two_sided(diff: float, se: float) -> float:
    p = _degenerate_p(diff, se)
    return float(2 * norm.sf(abs(diff) / se)) if p is None else p


def _block_se(r: np.ndarray, block: int) -> tuple[float, float]:
    """Difference of per-period Sharpe ratios and its standard error from the natural
    variance estimator of ``T/block`` non-overlapping blocks (LW 2008, Section 3.2)."""
    sr, grad = _moments(r)
    y = np.column_stack([r, r**2])
    b = y.shape[0] // block
    sums = (y[: b * block] - y.mean(axis=0)).reshape(b, block, 4).sum(axis=1) / np.sqrt(block)
    psi = sums.T @ sums / b
    return float(sr[0] - sr[1]), float(np.sqrt(max(grad @ psi @ grad, 0.0) / y.shape[0]))


def sharpe_difference_bootstrap(
    returns_1,
    returns_2,
    *,
    block_size: int | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    periods_per_year: float = 252,
) -> SharpeTest:
    """Studentized circular block bootstrap test of ``H0: SR_1 = SR_2`` (LW 2008).

    Pairs of returns are resampled in circular blocks, so the cross-correlation and the short
    memory of the two series are kept. The p-value is
    ``(1 + #{|d* - d| / se* >= |d| / se}) / (1 + n_boot)``. ``block_size=None`` takes the
    Politis-White optimal circular block length of the moment series (at least 2), from
    :func:`arch.bootstrap.optimal_block_length`.
    """
    from arch.bootstrap import CircularBlockBootstrap, optimal_block_length

    r = _pair(returns_1, returns_2)
    if n_boot < 99:
        raise ValueError(f"n_boot must be at least 99 for a usable p-value, got {n_boot}")
    if block_size is None:
        lengths = optimal_block_length(np.column_stack([r, r**2]))["circular"]
        block_size = max(2, int(np.ceil(np.nanmax(lengths.to_numpy()))))
    if not 1 <= block_size <= r.shape[0] // 2:
        raise ValueError(f"block_size must be in 1..{r.shape[0] // 2}, got {block_size}")
    diff, se = _block_se(r, block_size)
    p = _degenerate_p(diff, se)
    if p is None:
        stat = abs(diff) / se
        bs = CircularBlockBootstrap(block_size, r, seed=np.random.default_rng(seed))
        hits = 0
        for data, _ in bs.bootstrap(n_boot):
            d_star, se_star = _block_se(data[0], block_size)
            hits += se_star > 0 and abs(d_star - diff) / se_star >= stat
        p = (1 + hits) / (1 + n_boot)
    return _annualised(
        _moments(r)[0],
        diff,
        se,
        float(p),
        f"studentized circular block bootstrap, block {block_size}, {n_boot} resamples",
        r.shape[0],
        periods_per_year,
    )


def deflated_sharpe_ratio(returns, trial_sharpes, *, periods_per_year: float = 252) -> dict:
    """Probability that the true Sharpe ratio of ``returns`` beats the best of pure luck.

    Bailey and Lopez de Prado (2014): with ``N = len(trial_sharpes)`` rows tried whose annual
    Sharpe ratios vary with variance ``V``, the best of ``N`` skill-less rows is expected near
    ``SR0 = sqrt(V) ((1 - g) z(1 - 1/N) + g z(1 - 1/(N e)))``; the deflated Sharpe ratio is the
    probabilistic Sharpe ratio of ``returns`` against ``SR0``, corrected for the skewness and
    kurtosis of the returns. ``N = 1`` gives the plain probabilistic Sharpe ratio against 0.

    >>> rng = np.random.default_rng(1)
    >>> r = rng.normal(0.0004, 0.01, 2500)
    >>> one = deflated_sharpe_ratio(r, [0.6])["dsr"]
    >>> many = deflated_sharpe_ratio(r, np.linspace(0.0, 0.6, 30))["dsr"]
    >>> bool(one > many)
    True
    """
    r = np.asarray(returns, np.float64)
    trials = np.asarray(trial_sharpes, np.float64) / np.sqrt(periods_per_year)
    if r.size < 10 or not np.isfinite(r).all():
        raise ValueError("returns must be at least 10 finite values")
    if trials.size < 1 or not np.isfinite(trials).all():
        raise ValueError("trial_sharpes must list the (finite) Sharpe ratio of every row tried")
    n = trials.size
    sr = r.mean() / r.std(ddof=1)
    if n == 1:
        sr0 = 0.0
    else:
        sd = trials.std(ddof=1)
        sr0 = sd * (
            (1 - EULER_GAMMA) * norm.ppf(1 - 1 / n) + EULER_GAMMA * norm.ppf(1 - 1 / (n * np.e))
        )
    g3, g4 = skew(r), kurtosis(r, fisher=False)
    denom = np.sqrt(max(1 - g3 * sr + (g4 - 1) / 4 * sr**2, 1e-12))
    dsr = float(norm.cdf((sr - sr0) * np.sqrt(r.size - 1) / denom))
    scale = np.sqrt(periods_per_year)
    return {"sharpe": float(sr * scale), "sr0": float(sr0 * scale), "n_trials": n, "dsr": dsr}


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (family-wise error over all rows tested).

    >>> holm([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, np.float64)
    if p.ndim != 1 or np.any((p < 0) | (p > 1)) or not np.isfinite(p).all():
        raise ValueError("p_values must be a 1-d list of numbers in [0, 1]")
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((p.size - np.arange(p.size)) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def compare_to_baseline(
    returns, baseline: str, *, n_boot: int = 2000, seed: int = 0, periods_per_year: float = 252
):
    """Every column of ``returns`` (a DataFrame of aligned daily returns) against ``baseline``.

    One row per other column: both Sharpe ratios, their difference, the HAC and bootstrap
    p-values, and the Holm-adjusted bootstrap p-value over all the columns compared (the
    family-wise correction for having tried that many rows).
    """
    import pandas as pd

    if baseline not in returns.columns:
        raise ValueError(f"baseline {baseline!r} is not a column; have {list(returns.columns)}")
    frame = returns.dropna()
    rows = {}
    for name in frame.columns.drop(baseline):
        hac = sharpe_difference_hac(frame[name], frame[baseline], periods_per_year=periods_per_year)
        boot = sharpe_difference_bootstrap(
            frame[name], frame[baseline], n_boot=n_boot, seed=seed,
            periods_per_year=periods_per_year,
        )  # fmt: skip
        rows[name] = {
            "sharpe": hac.sharpe_1,
            "sharpe_baseline": hac.sharpe_2,
            "difference": hac.difference,
            "p_hac": hac.p_value,
            "p_bootstrap": boot.p_value,
        }
    table = pd.DataFrame(rows).T
    if len(table):
        table["p_bootstrap_holm"] = holm(table["p_bootstrap"].to_numpy(dtype=float))
    return table

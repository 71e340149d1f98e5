"""Sharpe-difference tests, HAC covariance, deflated Sharpe ratio and Holm adjustment."""

import numpy as np
import pytest

from recsys import stats


def _correlated(seed, n=3000, edge=0.0):
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0003, 0.01, n)
    a = common + rng.normal(0.0, 0.004, n)
    b = common + rng.normal(edge, 0.004, n)
    return a, b


def test_hac_matches_hand_computation():
    y = np.array([[1.0, 2.0], [3.0, 1.0], [0.0, 0.0], [2.0, 5.0], [4.0, 2.0]])
    z = y - y.mean(axis=0)
    t = len(y)
    g0 = sum(np.outer(z[i], z[i]) for i in range(t)) / t
    g1 = sum(np.outer(z[i], z[i - 1]) for i in range(1, t)) / t
    g2 = sum(np.outer(z[i], z[i - 2]) for i in range(2, t)) / t
    hand = g0 + (2 / 3) * (g1 + g1.T) + (1 / 3) * (g2 + g2.T)
    np.testing.assert_allclose(stats.hac_covariance(y, lags=2), hand, rtol=1e-12)
    np.testing.assert_allclose(stats.hac_covariance(y, lags=0), np.cov(y.T, ddof=0), rtol=1e-12)


def test_hac_se_matches_iid_delta_method_without_lags():
    """With no lags and iid normal returns the delta-method variance of one Sharpe ratio is
    (1 + SR^2 / 2) / T (Lo 2002); against a constant-Sharpe twin built from noise the test's
    variance must be close to the sum of the two."""
    rng = np.random.default_rng(3)
    n = 20000
    a, b = rng.normal(0.001, 0.01, n), rng.normal(0.0005, 0.01, n)
    test = stats.sharpe_difference_hac(a, b, lags=0, periods_per_year=1)
    sr_a, sr_b = a.mean() / a.std(), b.mean() / b.std()
    expected = np.sqrt(((1 + sr_a**2 / 2) + (1 + sr_b**2 / 2)) / n)
    assert test.std_error == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("method", ["hac", "bootstrap"])
def test_identical_series_give_p_one(method):
    a, _ = _correlated(0)
    fn = getattr(stats, f"sharpe_difference_{method}")
    kwargs = {"n_boot": 199} if method == "bootstrap" else {}
    out = fn(a, a.copy(), **kwargs)
    assert out.difference == 0.0
    assert out.p_value == 1.0


@pytest.mark.parametrize("method", ["hac", "bootstrap"])
def test_clearly_better_series_gives_small_p(method):
    a, b = _correlated(1, edge=0.0006)
    fn = getattr(stats, f"sharpe_difference_{method}")
    kwargs = {"n_boot": 199} if method == "bootstrap" else {}
    out = fn(b, a, **kwargs)
    assert out.difference > 0.5
    assert out.p_value < 0.01


@pytest.mark.parametrize("method", ["hac", "bootstrap"])
def test_same_distribution_is_not_significant(method):
    a, b = _correlated(2, edge=0.0)
    fn = getattr(stats, f"sharpe_difference_{method}")
    kwargs = {"n_boot": 199} if method == "bootstrap" else {}
    assert fn(a, b, **kwargs).p_value > 0.05


def test_bootstrap_is_reproducible_and_reports_its_method():
    a, b = _correlated(4, edge=0.0002)
    one = stats.sharpe_difference_bootstrap(a, b, n_boot=199, seed=5)
    two = stats.sharpe_difference_bootstrap(a, b, n_boot=199, seed=5)
    assert one == two
    assert "block" in one.method and "199" in one.method


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="NaN"):
        stats.sharpe_difference_hac([np.nan] * 20, np.zeros(20))
    with pytest.raises(ValueError, match="at least 10"):
        stats.sharpe_difference_hac([0.1, 0.2], [0.1, 0.3])
    with pytest.raises(ValueError, match="n_boot"):
        stats.sharpe_difference_bootstrap(*_correlated(0, 100), n_boot=10)


def test_deflated_sharpe_single_trial_is_probabilistic_sharpe():
    rng = np.random.default_rng(7)
    r = rng.normal(0.0005, 0.01, 1000)
    out = stats.deflated_sharpe_ratio(r, [1.0])
    sr = r.mean() / r.std(ddof=1)
    from scipy.stats import kurtosis, norm, skew

    g3, g4 = skew(r), kurtosis(r, fisher=False)
    psr = norm.cdf(sr * np.sqrt(len(r) - 1) / np.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))
    assert out["sr0"] == 0.0
    assert out["dsr"] == pytest.approx(psr, rel=1e-12)
    assert stats.deflated_sharpe_ratio(r, np.linspace(0, 1.0, 50))["dsr"] < out["dsr"]


def test_holm_never_lowers_and_keeps_order():
    p = np.array([0.2, 0.001, 0.04, 0.5])
    adj = stats.holm(p)
    assert np.all(adj >= p) and np.all(adj <= 1)
    assert np.argsort(adj, kind="stable").tolist() == np.argsort(p, kind="stable").tolist()
    assert adj[1] == pytest.approx(0.004)


def test_compare_to_baseline_table():
    import pandas as pd

    a, b = _correlated(6, edge=0.0006)
    frame = pd.DataFrame({"base": a, "better": b, "same": a.copy()})
    table = stats.compare_to_baseline(frame, "base", n_boot=199)
    assert list(table.index) == ["better", "same"]
    assert table.loc["better", "p_hac"] < 0.01
    assert table.loc["same", "p_bootstrap"] > 0.5
    assert (table["p_bootstrap_holm"] >= table["p_bootstrap"]).all()
    with pytest.raises(ValueError, match="baseline"):
        stats.compare_to_baseline(frame, "nope")

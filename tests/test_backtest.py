"""The walk-forward backtest: no look-ahead, valid weights, cost accounting, CLI and bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from recsys import metrics
from recsys.cli import main as cli_main
from recsys.features import month_ends, price_features
from recsys.pipelines import portfolio as pf

CONFIG = pf.BacktestConfig(
    start="2018-01-01",
    end="2019-03-31",
    k=3,
    retrain_every=6,
    min_train_months=12,
    embedding_dims=2,
    epochs=30,
    seed=3,
)


def synthetic_prices(n_assets=7, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", "2019-03-29")
    market = rng.normal(0.0003, 0.01, size=(len(dates), 1))
    daily = market + rng.normal(0.0002, 0.015, size=(len(dates), n_assets))
    prices = 50 * np.exp(np.cumsum(np.log1p(daily), axis=0))
    return pd.DataFrame(prices, index=dates, columns=[f"T{i}" for i in range(n_assets)])


@pytest.fixture(scope="module")
def prices():
    return synthetic_prices()


@pytest.fixture(scope="module")
def embeddings(prices):
    return np.random.default_rng(1).normal(size=(prices.shape[1], 16))


@pytest.fixture(scope="module")
def result(prices, embeddings):
    return pf.run_backtest(prices, embeddings, config=CONFIG)


def test_no_look_ahead(prices, embeddings, result):
    """Scrambling every price after ``cutoff`` leaves every decision up to ``cutoff`` unchanged.

    The cutoff is a retraining date, where training on the month that has just begun (whose
    return is not yet known) would be the easiest leak to make.
    """
    cutoff = pd.Timestamp("2018-07-31")
    rng = np.random.default_rng(42)
    future = prices.index > cutoff
    shocked = prices.copy()
    shocked.loc[future] *= np.exp(np.cumsum(rng.normal(0, 0.05, size=(future.sum(), 7)), axis=0))
    other = pf.run_backtest(shocked, embeddings, config=CONFIG)
    changed_after = False
    for name, frame in result.weights.items():
        past = frame.index <= cutoff
        assert past.sum() == 7
        pd.testing.assert_frame_equal(frame[past], other.weights[name][past], check_exact=True)
        changed_after |= not np.allclose(frame[~past], other.weights[name][~past])
    for name, frame in result.scores.items():
        past = frame.index <= cutoff
        pd.testing.assert_frame_equal(frame[past], other.scores[name][past], check_exact=True)
    assert changed_after, "the perturbation must change later decisions, or the test is vacuous"


def test_weights_long_only_sum_to_one_and_k_respected(result):
    assert set(result.weights) == {
        *pf.BASELINES,
        *(f"{v}_{w}" for v in pf.QUBO_VARIANTS for w in CONFIG.weightings),
    }
    for name, frame in result.weights.items():
        w = frame.to_numpy()
        assert np.all(w >= 0), name
        assert np.allclose(w.sum(axis=1), 1.0, atol=1e-9), name
        held = (w > 0).sum(axis=1)
        if name.startswith("qubo") and name.endswith("_equal"):
            assert np.all(held == CONFIG.k), name
        elif name.startswith(("qubo", "momentum")):
            assert np.all((held >= 1) & (held <= CONFIG.k)), name
    first_dates = result.weights["equal_weight"].index
    assert first_dates[0] == pd.Timestamp("2018-01-31")
    assert len(first_dates) == result.data["n_rebalances"] == 14


def test_solver_provenance(result):
    for variant in pf.QUBO_VARIANTS:
        summary = result.solver_summary[variant]
        assert summary["n_solves"] == result.data["n_rebalances"]
        assert summary["feasible"] == summary["n_solves"]
        assert summary["solver"] == ["anneal"]
    retrains = result.scorer["retrains"]
    assert [r["date"] for r in retrains] == ["2018-01-31", "2018-07-31", "2019-01-31"]
    assert retrains[1]["train_months"] > retrains[0]["train_months"]
    assert all(len(r["text_dims"]) == CONFIG.embedding_dims for r in retrains)


def test_metrics_table_is_the_metrics_of_the_return_series(result):
    r = result.returns["equal_weight"]
    row = result.table.loc["equal_weight"]
    assert row["sharpe"] == pytest.approx(metrics.sharpe_ratio(r, periods_per_year=252))
    assert row["max_drawdown"] == pytest.approx(metrics.max_drawdown(r))
    assert row["cvar_95"] == pytest.approx(metrics.cvar(r, 0.95))
    assert list(result.table["sharpe"]) == sorted(result.table["sharpe"], reverse=True)


def test_simulation_against_hand_computed_series():
    dates = pd.to_datetime(["2020-01-31", "2020-02-03", "2020-02-04", "2020-02-05"])
    prices = pd.DataFrame({"A": [10.0, 11.0, 11.0, 12.1], "B": [20.0, 20.0, 18.0, 18.0]}, dates)
    weights = pd.DataFrame([[0.5, 0.5], [1.0, 0.0]], index=dates[[0, 2]], columns=["A", "B"])
    returns, turnover = pf._simulate(prices, weights, dates[-1], cost_bps=10.0)
    # Day 1: buy 0.5/0.5 (cost 10 bp on 1.0 traded), A +10%: (1 - 0.001) * 1.05 - 1.
    # Day 2: drifted 0.55/0.45 (value 1.05), B -10%: 1.1 / 1.05 ... -> (0.55 + 0.405) / 1.0.
    day1 = 0.999 * 1.05 - 1
    day2 = (0.5 * 1.1 + 0.5 * 0.9) / 1.05 - 1
    # Day 3: sell to 100% A from drifted (0.55/1.0, 0.45/1.0): traded |1 - .55| + |0 - .45| = .9.
    drifted = np.array([0.55, 0.45]) / 1.0
    day3 = (1 - 0.001 * 0.9) * 1.1 - 1
    assert np.allclose(returns.to_numpy(), [day1, day2, day3])
    assert turnover == pytest.approx(metrics.turnover(drifted, [1.0, 0.0]))
    assert turnover == pytest.approx(0.45)


def test_features_use_only_the_past(prices):
    shocked = prices.copy()
    shocked.iloc[801:] *= 3.0
    dates = month_ends(prices.index[:801])
    pd.testing.assert_frame_equal(price_features(prices, dates), price_features(shocked, dates))


def test_config_and_window_errors_are_clear(prices):
    with pytest.raises(ValueError, match="k = 9 must be between 1 and the 7 assets"):
        pf.run_backtest(prices, config=pf.BacktestConfig(k=9))
    with pytest.raises(ValueError, match="start later or supply earlier prices"):
        pf.run_backtest(prices, config=pf.BacktestConfig(start="2015-01-01", end="2015-12-31"))
    with pytest.raises(ValueError, match="max_per_sector needs each asset's sector"):
        pf.run_backtest(prices, config=pf.BacktestConfig(max_per_sector=1))


def _argv(tmp_path, csv, **extra) -> list[str]:
    argv = [
        "portfolio", "--quiet",
        "--prices-csv", str(csv), "--descriptions", str(tmp_path / "desc.json"),
        "--start", "2018-06-01", "--end", "2019-03-31", "--k", "2", "--no-text",
        "--max-per-sector", "1", "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return argv


def _write_inputs(tmp_path, prices):
    desc = {
        t: {"name": f"Company {t}", "sector": "S1" if i < 4 else "S2", "description": "Makes x."}
        for i, t in enumerate(prices.columns)
    }
    (tmp_path / "desc.json").write_text(json.dumps(desc))
    csv = tmp_path / "prices.csv"
    prices.rename_axis("date").to_csv(csv)
    return csv


def test_cli_own_csv_writes_report_and_plots(tmp_path, prices, capsys):
    csv = _write_inputs(tmp_path, prices)
    assert cli_main(_argv(tmp_path, csv)) == 0
    report = json.loads((tmp_path / "out" / "portfolio.json").read_text())
    assert {row["strategy"] for row in report["table"]} >= {"equal_weight", "min_variance"}
    assert report["solver_summary"]["qubo_no_text"]["feasible"] == 9
    assert report["data"]["source"] == str(csv)
    for held in report["holdings"]["qubo_no_text_equal"].values():
        assert len(held) == 2 and len({h for h in held if int(h[1]) < 4}) <= 1
    for png in ("equity", "drawdown", "holdings"):
        assert (tmp_path / "out" / f"portfolio_{png}.png").stat().st_size > 1000
    assert "sharpe" in capsys.readouterr().out


def test_cli_rejects_a_bad_csv_clearly(tmp_path, prices, capsys):
    broken = prices.copy()
    broken.iloc[100, 2] = -1.0
    csv = _write_inputs(tmp_path, broken)
    assert cli_main(_argv(tmp_path, csv)) == 2
    assert "T2 has a non-positive price" in capsys.readouterr().err
    gappy = prices.copy()
    gappy.iloc[5, 0] = np.nan
    csv = _write_inputs(tmp_path, gappy)
    assert cli_main(_argv(tmp_path, csv)) == 2
    assert "T0 has 1 missing prices" in capsys.readouterr().err


def test_cost_aware_selection_trades_less(prices):
    # The QUBO knows the round-trip cost of entering a name it does not hold; at 50 bp a side
    # that must show up as fewer switches than the same run blind to costs.
    runs = {
        aware: pf.run_backtest(
            prices, config=dataclasses.replace(CONFIG, cost_bps=50.0, cost_aware=aware)
        )
        for aware in (False, True)
    }
    row = "qubo_no_text_equal"
    assert runs[True].table.loc[row, "turnover"] < runs[False].table.loc[row, "turnover"]

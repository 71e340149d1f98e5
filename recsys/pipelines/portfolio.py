"""Walk-forward backtest of LLM-aware asset selection against the portfolios quants already use.

At the close of each month end ``t`` every strategy decides its weights from prices up to ``t``
only; they are held (drifting with prices) until the next month end, and every trade pays
``cost_bps`` basis points of the value traded (a full switch of the book costs twice that:
sell one unit, buy another). Metrics are on the daily returns net of those costs.

The QUBO strategies:

1. A small MLP scores each asset at each month end from its past-price features
   (:mod:`recsys.features`, standardised across the assets of the date) and, for the text
   variant, the embedding dimensions a feature-selection QUBO picked as most related to past
   next-month returns. It is trained with a listwise (ListNet) loss over the assets of each
   past month, retrained every ``retrain_every`` months on all months whose next-month return
   was already known.
2. The scores, z-scored across assets and multiplied by ``return_scale`` (an annual return per
   standard deviation of score: how much we believe the head), are the expected returns of
   :class:`qanneal_llm.portfolio.PortfolioSelector`, whose QUBO trades them against the
   Ledoit-Wolf risk of the last ``lookback`` days and, with ``semantic_penalty``, against the
   mean text similarity of the chosen K.

Rows: ``qubo_text`` (scores with text dims + semantic term), ``qubo_no_semantic`` (same scores,
no semantic term), ``qubo_no_text`` (scores from prices only, no semantic term), each weighted
equally and by long-only minimum variance over the K; and the baselines equal weight over all,
inverse volatility, minimum variance (skfolio ``MeanRisk``) and mean-variance (skfolio, same
risk aversion) over the top-K by 12-1 momentum.

The config and its flags live in :mod:`recsys.pipelines.portfolio_config`, the ranking heads in
:mod:`recsys.pipelines.portfolio_scorer`, the report and plots in
:mod:`recsys.pipelines.portfolio_report`, the command's run in
:mod:`recsys.pipelines.portfolio_run`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from qanneal_llm.portfolio import PortfolioSelector, min_variance_weights
from qanneal_llm.qubo.features import standardize
from recsys import metrics
from recsys.features import FEATURES
from recsys.pipelines.portfolio_config import TRADING_DAYS, BacktestConfig
from recsys.pipelines.portfolio_panel import Panel, build_panel, decision_seed
from recsys.pipelines.portfolio_scorer import (
    WalkForwardScorer,
    ensemble_score,
    given_scores,
    zscore,
)

__all__ = [
    "BASELINES",
    "QUBO_VARIANTS",
    "BacktestConfig",
    "BacktestResult",
    "asset_embeddings",
    "run_backtest",
    "walk_forward_scores",
]

QUBO_VARIANTS = ("qubo_text", "qubo_no_semantic", "qubo_no_text")
BASELINES = ("equal_weight", "inverse_volatility", "min_variance", "momentum_mean_variance")


@dataclass
class BacktestResult:
    """What a backtest produced: net daily returns, weights per rebalance, metrics, provenance.

    ``scores`` holds the score the selection used for every asset at every rebalance, per head
    (``qubo_no_text``, and ``qubo_text`` when embeddings were given): the ensemble's mean
    z-score. ``member_scores`` keeps each member's raw scores (head -> one frame per member;
    empty when the scores were given to :func:`run_backtest`); it is not in the JSON report
    (:func:`recsys.pipelines.portfolio_report.report_dict`).
    """

    config: BacktestConfig
    returns: pd.DataFrame
    weights: dict[str, pd.DataFrame]
    scores: dict[str, pd.DataFrame]
    table: pd.DataFrame
    solver_summary: dict
    scorer: dict
    timings: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    member_scores: dict = field(default_factory=dict)


def _skfolio_weights(window: pd.DataFrame, objective: str, risk_aversion: float) -> np.ndarray:
    from skfolio.moments import LedoitWolf
    from skfolio.optimization import MeanRisk, ObjectiveFunction
    from skfolio.prior import EmpiricalPrior

    model = MeanRisk(
        objective_function=getattr(ObjectiveFunction, objective),
        risk_aversion=risk_aversion,
        prior_estimator=EmpiricalPrior(covariance_estimator=LedoitWolf()),
    )
    w = np.clip(np.asarray(model.fit(window).weights_, dtype=np.float64), 0.0, None)
    return w / w.sum()


def _baseline_weights(panel: Panel, i: int, date, window, config) -> dict[str, np.ndarray]:
    n = len(panel.tickers)
    inv = 1.0 / panel.raw_vol.loc[date].to_numpy()
    out = {
        "equal_weight": np.full(n, 1.0 / n),
        "inverse_volatility": inv / inv.sum(),
        "min_variance": _skfolio_weights(window, "MINIMIZE_RISK", 1.0),
    }
    momentum = panel.features[i, :, FEATURES.index("mom_252_21")]
    top = np.argsort(-momentum, kind="stable")[: config.k]
    mv = np.zeros(n)
    mv[top] = _skfolio_weights(window.iloc[:, top], "MAXIMIZE_UTILITY", config.risk_aversion)
    out["momentum_mean_variance"] = mv
    return out


def _sector_groups(tickers, sectors, config: BacktestConfig):
    """``(sectors, sector_bounds)`` for :class:`PortfolioSelector` (None without a cap)."""
    if config.max_per_sector is None:
        return None, None
    groups: dict[str, list] = {}
    for asset in tickers:
        groups.setdefault(sectors[asset], []).append(asset)
    return groups, {s: (0, config.max_per_sector) for s in groups}


def _select(variant, score, window, held, embeddings, groups, config, date) -> PortfolioSelector:
    """One rebalance's QUBO selection for ``variant`` from the head's ``score`` of the assets."""
    z = zscore(score)
    text = variant == "qubo_text"
    # a switch sells and buys 1/K, each at cost_bps, and is held for about a month
    switch_cost = 2 * config.cost_bps / 1e4 / (TRADING_DAYS / 12) if config.cost_aware else 0.0
    return PortfolioSelector(
        config.k,
        risk_aversion=config.risk_aversion,
        semantic_penalty=config.semantic_penalty / TRADING_DAYS if text else 0.0,
        embeddings=embeddings if text else None,
        weighting="equal",
        sectors=groups[0],
        sector_bounds=groups[1],
        switch_cost=switch_cost,
        solver=config.solver,
        solver_options=config.solver_options or None,
        seed=decision_seed(config.seed, date, 2),
    ).fit(window, expected_returns=z * config.return_scale / TRADING_DAYS, held=held)


def _weightings(selector: PortfolioSelector, config: BacktestConfig) -> dict[str, np.ndarray]:
    """The selection weighted each way of ``config.weightings``."""
    out = {}
    for w in config.weightings:
        if w == "equal":
            out[w] = selector.weights_
        else:
            chosen = np.flatnonzero(selector.support_)
            refined = np.zeros(selector.support_.shape[0])
            refined[chosen] = min_variance_weights(selector.covariance_[np.ix_(chosen, chosen)])
            out[w] = refined
    return out


@dataclass
class _Book:
    """Everything the walk-forward loop records."""

    variants: list[str]
    weights: dict = field(default_factory=dict)  # strategy -> {date: weights}
    scores: dict = field(default_factory=dict)  # head -> {date: ensemble scores}
    members: dict = field(default_factory=dict)  # head -> {date: (members, assets) raw}
    solves: dict = field(default_factory=dict)  # variant -> [SelectionResult]
    retrains: list = field(default_factory=list)
    timings: dict = field(default_factory=lambda: dict.fromkeys(_TIMED, 0.0))


_TIMED = ("training", "selection", "baselines")


def _book(variants, config: BacktestConfig, baselines: bool = True) -> _Book:
    book = _Book(variants)
    book.weights = {name: {} for name in BASELINES} if baselines else {}
    for v in variants:
        for w in config.weightings:
            book.weights[f"{v}_{w}"] = {}
    book.solves = {v: [] for v in variants}
    book.scores = {v: {} for v in variants if v != "qubo_no_semantic"}
    book.members = {v: {} for v in book.scores}
    return book


def _rebalances(dates, show_progress: bool):
    if not show_progress:
        return enumerate(dates)
    import sys

    from tqdm.auto import tqdm

    return enumerate(tqdm(dates, file=sys.stderr, desc="rebalances", unit="month"))


def _setup(prices, embeddings, sectors, config):
    config = config or BacktestConfig()
    n = prices.shape[1]
    config.validate(n, sectors)
    if embeddings is not None:
        embeddings = np.asarray(embeddings, dtype=np.float64)
        if embeddings.shape[0] != n:
            raise ValueError(f"embeddings need one row per asset ({n}), got {embeddings.shape}")
    emb_std = standardize(embeddings) if embeddings is not None else None
    return config, embeddings, emb_std, build_panel(prices, config)


def walk_forward_scores(
    prices: pd.DataFrame, embeddings: np.ndarray | None = None, config: BacktestConfig | None = None
) -> dict[str, list[pd.DataFrame]]:
    """The ranking heads' raw scores at every rebalance, without any selection: head -> one
    ``(rebalance dates x assets)`` frame per ensemble member.

    Each score uses only months whose next-month return was known at its date, so one pass
    over a long span serves a validation part and a test part alike; hand
    :func:`~recsys.pipelines.portfolio_scorer.ensemble_scores` of them to
    ``run_backtest(..., scores=)`` to try many selection settings on the same scores.
    """
    config, _, emb_std, panel = _setup(prices, embeddings, None, config)
    scorer = WalkForwardScorer(panel, emb_std, config, _Book([]), decision_seed)
    rows: dict[str, dict] = {}
    for step, date in enumerate(panel.dates[:-1]):
        for head, members in scorer(step, date).items():
            rows.setdefault(head, {})[date] = members
    return {
        head: [
            pd.DataFrame({d: m[j] for d, m in by_date.items()}, index=panel.tickers).T
            for j in range(config.ensemble)
        ]
        for head, by_date in rows.items()
    }


def run_backtest(
    prices: pd.DataFrame,
    embeddings: np.ndarray | None = None,
    sectors: dict[str, str] | None = None,
    config: BacktestConfig | None = None,
    show_progress: bool = False,
    *,
    scores: dict[str, pd.DataFrame] | None = None,
    baselines: bool = True,
) -> BacktestResult:
    """Run every strategy walk-forward over ``prices`` (dates x assets, daily, complete).

    ``embeddings`` (assets x d) enable the ``qubo_text`` rows; ``sectors`` (asset -> sector)
    enables ``config.max_per_sector``; ``show_progress`` draws a bar over the rebalances. See
    the module docstring for the protocol. ``scores`` (head -> dates x assets, e.g. from
    :func:`walk_forward_scores`) replaces the heads' training with scores computed before;
    ``baselines=False`` runs the QUBO rows only. Both serve a sweep over selection settings.
    """
    started = time.perf_counter()
    config, embeddings, emb_std, panel = _setup(prices, embeddings, sectors, config)
    groups = _sector_groups(panel.tickers, sectors, config)
    variants = [v for v in QUBO_VARIANTS if emb_std is not None or v == "qubo_no_text"]
    book = _book(variants, config, baselines)
    if scores is not None:
        scores = given_scores(scores, list(book.scores), panel.dates[:-1], panel.tickers)
    scorer = WalkForwardScorer(panel, emb_std, config, book, decision_seed)
    held = {v: [] for v in book.variants}
    for step, date in _rebalances(panel.dates[:-1], show_progress):
        i = panel.position[date]
        if scores is None:
            members = scorer(step, date)
        else:
            members = {head: frame.loc[date].to_numpy()[None, :] for head, frame in scores.items()}
        loc = prices.index.get_loc(date)
        window = panel.daily.iloc[loc - config.lookback + 1 : loc + 1]
        t = time.perf_counter()
        if baselines:
            for name, w in _baseline_weights(panel, i, date, window, config).items():
                book.weights[name][date] = w
        book.timings["baselines"] += time.perf_counter() - t

        t = time.perf_counter()
        score = {}
        for name, member_scores in members.items():
            score[name] = ensemble_score(member_scores)
            book.scores[name][date] = score[name]
            if scores is None:
                book.members[name][date] = member_scores
        score["qubo_no_semantic"] = score.get("qubo_text")
        for v in book.variants:
            selector = _select(v, score[v], window, held[v], embeddings, groups, config, date)
            held[v] = list(selector.ids_)
            book.solves[v].append(selector.result_)
            for w, weights in _weightings(selector, config).items():
                book.weights[f"{v}_{w}"][date] = weights
        book.timings["selection"] += time.perf_counter() - t
    return _result(prices, panel, config, book, started)


def _result(prices, panel: Panel, config, book: _Book, started: float) -> BacktestResult:
    """Simulate every strategy's holdings and summarise them into a :class:`BacktestResult`."""
    tickers, dates = panel.tickers, panel.dates

    def frame(rows):
        return pd.DataFrame.from_dict(rows, orient="index", columns=tickers)

    frames = {name: frame(rows) for name, rows in book.weights.items()}
    returns, turnovers = {}, {}
    for name, weights in frames.items():
        returns[name], turnovers[name] = _simulate(prices, weights, dates[-1], config.cost_bps)
    returns = pd.DataFrame(returns)
    table = pd.DataFrame(
        {
            name: metrics.portfolio_summary(returns[name], TRADING_DAYS, turnover=turnovers[name])
            for name in returns
        }
    ).T.sort_values("sharpe", ascending=False)
    book.timings["total"] = time.perf_counter() - started
    return BacktestResult(
        config=config,
        returns=returns,
        weights=frames,
        scores={name: frame(rows) for name, rows in book.scores.items()},
        table=table,
        solver_summary={v: _solver_summary(book.solves[v]) for v in book.variants},
        scorer={"retrains": book.retrains, "features": list(FEATURES)},
        timings=book.timings,
        member_scores={
            head: [frame({d: m[j] for d, m in by_date.items()}) for j in range(config.ensemble)]
            for head, by_date in book.members.items()
            if by_date
        },
        data={
            "assets": tickers,
            "first_rebalance": f"{dates[0]:%Y-%m-%d}",
            "last_rebalance": f"{dates[-2]:%Y-%m-%d}",
            "end": f"{dates[-1]:%Y-%m-%d}",
            "n_rebalances": len(dates) - 1,
        },
    )


def _simulate(prices: pd.DataFrame, weights: pd.DataFrame, end, cost_bps: float):
    """Daily net returns of holding ``weights`` (set at each row's close) until the next row.

    Weights drift with prices between rebalances; each rebalance pays ``cost_bps`` on
    ``sum |w_new - w_drifted|``, taken from the first day's return. Returns the series and the
    mean one-way turnover of the rebalances after the first (the first is the initial purchase).
    """
    cost = cost_bps / 1e4
    ends = list(weights.index) + [pd.Timestamp(end)]
    held = np.zeros(weights.shape[1])
    pieces, trades_before, trades_after = [], [], []
    for (start, w), stop in zip(weights.iterrows(), ends[1:], strict=True):
        w = w.to_numpy()
        traded = np.abs(w - held).sum()
        if start != weights.index[0]:
            trades_before.append(held)
            trades_after.append(w)
        segment = prices.loc[start:stop]
        growth = segment.to_numpy() / segment.to_numpy()[0]
        value = growth @ w
        r = value[1:] / value[:-1] - 1.0
        r[0] = (1.0 - cost * traded) * (1.0 + r[0]) - 1.0
        pieces.append(pd.Series(r, index=segment.index[1:]))
        held = growth[-1] * w / value[-1]
    turnover = (
        metrics.turnover(np.array(trades_before), np.array(trades_after)) if trades_after else 0.0
    )
    return pd.concat(pieces), turnover


def _solver_summary(results) -> dict:
    """How the QUBO selections were obtained, summarised over the rebalances."""
    total = [r.timings.get("total", 0.0) for r in results]
    return {
        "solver": sorted({r.solver for r in results}),
        "n_solves": len(results),
        "feasible": int(sum(r.feasible for r in results)),
        "repaired": int(sum(r.repaired for r in results)),
        "polished": int(sum(r.polished for r in results)),
        "seconds_total": float(np.sum(total)),
        "seconds_max": float(np.max(total)) if total else 0.0,
        "seeds": "SeedSequence([seed, date.toordinal(), 2]) per rebalance date",
    }


def asset_embeddings(data, encoder=None) -> np.ndarray:
    """Text embeddings of the assets (cached on disk by the encoder; default
    :class:`qanneal_llm.embeddings.TextEncoder`)."""
    from recsys.texts import asset_texts

    if encoder is None:
        from qanneal_llm.embeddings import TextEncoder

        encoder = TextEncoder()
    return encoder.encode(asset_texts(data.descriptions, data.tickers))

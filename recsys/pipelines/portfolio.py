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
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from qanneal_llm import feature_model, solve
from qanneal_llm.portfolio import PortfolioSelector, min_variance_weights
from qanneal_llm.qubo.features import standardize
from recsys import metrics
from recsys.features import (
    FEATURES,
    forward_returns,
    month_ends,
    price_features,
    standardise_by_date,
)

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "asset_embeddings",
    "configure_parser",
    "format_table",
    "load_assets",
    "run_backtest",
    "run_from_args",
    "write_report",
]

logger = logging.getLogger(__name__)

QUBO_VARIANTS = ("qubo_text", "qubo_no_semantic", "qubo_no_text")
BASELINES = ("equal_weight", "inverse_volatility", "min_variance", "momentum_mean_variance")
TRADING_DAYS = 252


@dataclass(frozen=True)
class BacktestConfig:
    """Every choice of a backtest run; the JSON report records all of it.

    ``risk_aversion`` weighs portfolio variance against expected return (per-period units cancel,
    so it reads like an annual mean-variance trade-off); ``semantic_penalty`` and
    ``return_scale`` are annual returns.
    """

    start: str = "2000-01-01"
    end: str = "2022-12-31"
    k: int = 5
    risk_aversion: float = 2.0
    semantic_penalty: float = 0.05
    return_scale: float = 0.05
    weightings: tuple[str, ...] = ("equal", "min_variance")
    cost_bps: float = 10.0
    cost_aware: bool = True
    lookback: int = TRADING_DAYS
    retrain_every: int = 12
    min_train_months: int = 24
    embedding_dims: int = 8
    hidden: int = 16
    epochs: int = 200
    learning_rate: float = 0.01
    max_per_sector: int | None = None
    solver: str = "anneal"
    seed: int = 0

    def validate(self, n_assets: int) -> None:
        if not 1 <= self.k <= n_assets:
            raise ValueError(f"k = {self.k} must be between 1 and the {n_assets} assets")
        for name in ("risk_aversion", "semantic_penalty", "return_scale", "cost_bps"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        bad = [w for w in self.weightings if w not in ("equal", "min_variance")]
        if bad or not self.weightings:
            raise ValueError(f"weightings must be 'equal' and/or 'min_variance', got {bad}")
        for name in ("lookback", "retrain_every", "min_train_months", "hidden", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_per_sector is not None and self.max_per_sector < 1:
            raise ValueError(f"max_per_sector must be at least 1, got {self.max_per_sector}")


@dataclass
class BacktestResult:
    """What a backtest produced: net daily returns, weights per rebalance, metrics, provenance.

    ``scores`` holds the ranking head's raw score of every asset at every rebalance, per head
    (``qubo_no_text``, and ``qubo_text`` when embeddings were given).
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

    def to_dict(self) -> dict:
        """JSON-ready report: config, metrics table, solver and scorer provenance, holdings."""
        holdings = {
            name: {
                f"{d:%Y-%m-%d}": [a for a, v in row.items() if v > 0] for d, row in frame.iterrows()
            }
            for name, frame in self.weights.items()
            if name.startswith("qubo_") or name.startswith("momentum")
        }
        table = self.table.reset_index().rename(columns={"index": "strategy"})
        return {
            "config": dataclasses.asdict(self.config),
            "data": self.data,
            "metrics_conventions": (
                "daily net-of-cost returns, 252 periods per year, risk-free 0; cvar_95 is the"
                " daily historical CVaR; turnover is one-way per rebalance (drift-adjusted),"
                " averaged over rebalances after the first; costs charged on |trade| at every"
                " rebalance including the first"
            ),
            "table": json.loads(table.to_json(orient="records")),
            "solver_summary": self.solver_summary,
            "scorer": self.scorer,
            "holdings": holdings,
            "timings": self.timings,
        }


# --- the ranking head ------------------------------------------------------------------------


@contextlib.contextmanager
def _one_torch_thread():
    """Run torch on one thread: the scorer is so small that thread hand-offs cost more than
    they save, and on a busy machine several threads spinning made training 10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train_scorer(X: np.ndarray, y: np.ndarray, config: BacktestConfig, seed: int):
    """An MLP scoring (month, asset) rows, fitted with ListNet over each month's assets.

    ``X`` is (months, assets, features), ``y`` (months, assets) next-month returns. The target
    of each month is the softmax of its z-scored returns, so the loss asks for the ordering of
    the month, not the level of returns, which swings with the market. Initialisation and
    training are seeded and run full-batch, so the same data always gives the same scorer.
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = torch.nn.Sequential(
            torch.nn.Linear(X.shape[2], config.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(config.hidden, 1),
        )
    xs = torch.tensor(X, dtype=torch.float32)
    z = (y - y.mean(axis=1, keepdims=True)) / (y.std(axis=1, keepdims=True) + 1e-12)
    target = torch.softmax(torch.as_tensor(z, dtype=torch.float32), dim=1)
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    loss = torch.tensor(float("nan"))
    with _one_torch_thread():
        for _ in range(config.epochs):
            opt.zero_grad()
            loss = F.cross_entropy(net(xs).squeeze(-1), target)
            loss.backward()
            opt.step()
    net.eval()
    return net, float(loss.detach())


def _select_text_dims(emb_std, y, config: BacktestConfig, seed: int) -> list[int]:
    """The embedding dims a correlation feature-selection QUBO keeps for predicting the
    cross-sectional next-month return (relevance) without repeating each other (redundancy)."""
    months, n = y.shape
    rows = np.tile(emb_std, (months, 1))
    target = (y - y.mean(axis=1, keepdims=True)) / (y.std(axis=1, keepdims=True) + 1e-12)
    model = feature_model(rows, target.reshape(-1), k=config.embedding_dims)
    return sorted(int(i) for i in solve(model, config.solver, seed=seed).ids)


# --- the engine ------------------------------------------------------------------------------


def _decision_seed(seed: int, date: pd.Timestamp, salt: int) -> int:
    """A seed that depends only on the run seed and the date, so a decision does not change
    when the backtest window around it does."""
    return int(np.random.SeedSequence([seed, date.toordinal(), salt]).generate_state(1)[0] >> 1)


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


def run_backtest(
    prices: pd.DataFrame,
    embeddings: np.ndarray | None = None,
    sectors: dict[str, str] | None = None,
    config: BacktestConfig | None = None,
) -> BacktestResult:
    """Run every strategy walk-forward over ``prices`` (dates x assets, daily, complete).

    ``embeddings`` (assets x d) enable the ``qubo_text`` rows; ``sectors`` (asset -> sector)
    enables ``config.max_per_sector``. See the module docstring for the protocol.
    """
    config = config or BacktestConfig()
    started = time.perf_counter()
    tickers = list(prices.columns)
    n = len(tickers)
    config.validate(n)
    if embeddings is not None:
        embeddings = np.asarray(embeddings, dtype=np.float64)
        if embeddings.shape[0] != n:
            raise ValueError(f"embeddings need one row per asset ({n}), got {embeddings.shape}")
    if config.max_per_sector is not None and sectors is None:
        raise ValueError("max_per_sector needs each asset's sector; pass sectors=")

    all_ends = month_ends(prices.index)
    feats = standardise_by_date(price_features(prices, all_ends))
    raw_vol = price_features(prices, all_ends)["vol_252"].unstack()[tickers]
    feat_cube = feats.to_numpy().reshape(len(all_ends), n, len(FEATURES))
    complete = np.isfinite(feat_cube).all(axis=(1, 2))
    labels = forward_returns(prices, all_ends)[tickers].to_numpy()
    daily = prices.pct_change(fill_method=None)

    position = {d: i for i, d in enumerate(all_ends)}
    first_ok = np.argmax(complete) if complete.any() else len(all_ends)
    dates = month_ends(prices.index, config.start, config.end)
    dates = dates[[position[d] >= first_ok + config.min_train_months for d in dates]]
    dates = dates[[prices.index.get_loc(d) >= config.lookback for d in dates]]
    if len(dates) < 2:
        raise ValueError(
            f"fewer than 2 month ends in {config.start}..{config.end} have a full year of"
            f" features and {config.min_train_months} training months before them; start later"
            " or supply earlier prices"
        )

    emb_std = standardize(embeddings) if embeddings is not None else None
    group_map, group_bounds = None, None
    if config.max_per_sector is not None:
        group_map = {}
        for asset in tickers:
            group_map.setdefault(sectors[asset], []).append(asset)
        group_bounds = {s: (0, config.max_per_sector) for s in group_map}

    variants = [v for v in QUBO_VARIANTS if embeddings is not None or v == "qubo_no_text"]
    weights = {name: {} for name in BASELINES}
    for v in variants:
        for w in config.weightings:
            weights[f"{v}_{w}"] = {}
    solves: dict[str, list] = {v: [] for v in variants}
    held_now: dict[str, list] = {v: [] for v in variants}
    score_log: dict[str, dict] = {v: {} for v in variants if v != "qubo_no_semantic"}
    scorer_log: list[dict] = []
    nets: dict[str, torch.nn.Module] = {}
    text_dims: list[int] = []
    timings = {"training": 0.0, "selection": 0.0, "baselines": 0.0}

    for step, date in enumerate(dates[:-1]):
        i = position[date]
        if step % config.retrain_every == 0:
            t = time.perf_counter()
            # Month m is a training example once its next-month return is known: m + 1 <= i.
            train = np.flatnonzero(complete[:i])
            X_tr, y_tr = feat_cube[train], labels[train]
            seed = _decision_seed(config.seed, date, 1)
            entry = {"date": f"{date:%Y-%m-%d}", "train_months": len(train)}
            nets["qubo_no_text"], entry["loss_no_text"] = _train_scorer(X_tr, y_tr, config, seed)
            if emb_std is not None:
                text_dims = _select_text_dims(emb_std, y_tr, config, seed)
                dims = np.broadcast_to(emb_std[:, text_dims], X_tr.shape[:2] + (len(text_dims),))
                X_text = np.concatenate([X_tr, dims], axis=2)
                nets["qubo_text"], entry["loss_text"] = _train_scorer(X_text, y_tr, config, seed)
                entry["text_dims"] = text_dims
            scorer_log.append(entry)
            timings["training"] += time.perf_counter() - t

        loc = prices.index.get_loc(date)
        window = daily.iloc[loc - config.lookback + 1 : loc + 1]
        t = time.perf_counter()
        weights["equal_weight"][date] = np.full(n, 1.0 / n)
        inv = 1.0 / raw_vol.loc[date].to_numpy()
        weights["inverse_volatility"][date] = inv / inv.sum()
        weights["min_variance"][date] = _skfolio_weights(window, "MINIMIZE_RISK", 1.0)
        top = np.argsort(-feat_cube[i, :, FEATURES.index("mom_252_21")], kind="stable")[: config.k]
        mv = np.zeros(n)
        mv[top] = _skfolio_weights(window.iloc[:, top], "MAXIMIZE_UTILITY", config.risk_aversion)
        weights["momentum_mean_variance"][date] = mv
        timings["baselines"] += time.perf_counter() - t

        t = time.perf_counter()
        inputs = {"qubo_no_text": feat_cube[i]}
        if emb_std is not None:
            inputs["qubo_text"] = np.concatenate([feat_cube[i], emb_std[:, text_dims]], axis=1)
        scores = {}
        with torch.inference_mode():
            for name, x in inputs.items():
                out = nets[name](torch.tensor(x, dtype=torch.float32)).squeeze(-1)
                scores[name] = out.numpy().astype(np.float64)
                score_log[name][date] = scores[name]
        scores["qubo_no_semantic"] = scores.get("qubo_text")
        gamma = config.semantic_penalty / TRADING_DAYS
        # a switch sells and buys 1/K, each at cost_bps, and is held for about a month
        switch_cost = 2 * config.cost_bps / 1e4 / (TRADING_DAYS / 12) if config.cost_aware else 0.0
        for v in variants:
            score = scores[v]
            z = (score - score.mean()) / (score.std() + 1e-12)
            selector = PortfolioSelector(
                config.k,
                risk_aversion=config.risk_aversion,
                semantic_penalty=gamma if v == "qubo_text" else 0.0,
                embeddings=embeddings if v == "qubo_text" else None,
                weighting="equal",
                sectors=group_map,
                sector_bounds=group_bounds,
                switch_cost=switch_cost,
                solver=config.solver,
                seed=_decision_seed(config.seed, date, 2),
            ).fit(
                window,
                expected_returns=z * config.return_scale / TRADING_DAYS,
                held=held_now[v],
            )
            held_now[v] = list(selector.ids_)
            solves[v].append(selector.result_)
            for w in config.weightings:
                if w == "equal":
                    weights[f"{v}_{w}"][date] = selector.weights_
                else:
                    chosen = np.flatnonzero(selector.support_)
                    refined = np.zeros(n)
                    refined[chosen] = min_variance_weights(
                        selector.covariance_[np.ix_(chosen, chosen)]
                    )
                    weights[f"{v}_{w}"][date] = refined
        timings["selection"] += time.perf_counter() - t

    frames = {
        name: pd.DataFrame.from_dict(rows, orient="index", columns=tickers)
        for name, rows in weights.items()
    }
    returns, turnovers = {}, {}
    for name, frame in frames.items():
        returns[name], turnovers[name] = _simulate(prices, frame, dates[-1], config.cost_bps)
    returns = pd.DataFrame(returns)
    table = pd.DataFrame(
        {
            name: metrics.portfolio_summary(returns[name], TRADING_DAYS, turnover=turnovers[name])
            for name in returns
        }
    ).T.sort_values("sharpe", ascending=False)
    timings["total"] = time.perf_counter() - started
    return BacktestResult(
        config=config,
        returns=returns,
        weights=frames,
        scores={
            name: pd.DataFrame.from_dict(rows, orient="index", columns=tickers)
            for name, rows in score_log.items()
        },
        table=table,
        solver_summary={v: _solver_summary(solves[v]) for v in variants},
        scorer={"retrains": scorer_log, "features": list(FEATURES)},
        timings=timings,
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


# --- data, report, plots, CLI ----------------------------------------------------------------


def load_assets(prices_csv=None, descriptions=None):
    """Prices and descriptions: the packaged S&P 500 set, or your CSV (and descriptions JSON)."""
    from recsys.datasets import load_prices_csv, load_sp500

    if prices_csv is None:
        if descriptions is not None:
            raise ValueError("--descriptions applies to --prices-csv; the S&P 500 set has its own")
        return load_sp500()
    return load_prices_csv(prices_csv, descriptions)


def asset_embeddings(data) -> np.ndarray:
    """Text embeddings of the assets (cached on disk by the encoder)."""
    from qanneal_llm.embeddings import TextEncoder
    from recsys.texts import asset_texts

    return TextEncoder().encode(asset_texts(data.descriptions, data.tickers))


def write_report(result: BacktestResult, out_dir, *, plots: bool = True) -> dict[str, str]:
    """Write ``portfolio.json`` and, with ``plots``, the equity, drawdown and holdings PNGs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": str(out / "portfolio.json")}
    tmp = out / "portfolio.json.tmp"
    tmp.write_text(json.dumps(result.to_dict(), indent=2, allow_nan=True))
    tmp.replace(out / "portfolio.json")
    if plots:
        paths.update(_plots(result, out))
    return paths


def _plots(result: BacktestResult, out: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wealth = (1.0 + result.returns).cumprod()
    order = list(result.table.index)
    paths = {}
    fig, ax = plt.subplots(figsize=(11, 6))
    for name in order:
        ax.plot(wealth.index, wealth[name], lw=1.6 if name.startswith("qubo") else 1.0, label=name)
    ax.set_yscale("log")
    ax.set_title(f"Growth of 1, net of {result.config.cost_bps:g} bp costs (best Sharpe first)")
    ax.legend(fontsize=7, ncol=2)
    paths["equity"] = str(out / "portfolio_equity.png")
    fig.tight_layout()
    fig.savefig(paths["equity"], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(11, 4))
    for name in order:
        ax.plot(wealth.index, wealth[name] / wealth[name].cummax() - 1.0, lw=0.8, label=name)
    ax.set_title("Drawdown")
    ax.legend(fontsize=7, ncol=2)
    paths["drawdown"] = str(out / "portfolio_drawdown.png")
    fig.tight_layout()
    fig.savefig(paths["drawdown"], dpi=120)
    plt.close(fig)

    main = next(name for name in order if name.startswith("qubo"))
    held = result.weights[main]
    fig, ax = plt.subplots(figsize=(11, 5))
    ax.imshow(held.T.to_numpy(), aspect="auto", cmap="Blues", interpolation="nearest")
    ax.set_yticks(range(held.shape[1]), held.columns, fontsize=7)
    ticks = np.linspace(0, len(held) - 1, min(12, len(held))).astype(int)
    ax.set_xticks(ticks, [f"{held.index[i]:%Y-%m}" for i in ticks], fontsize=7)
    ax.set_title(f"Weights over time: {main}")
    paths["holdings"] = str(out / "portfolio_holdings.png")
    fig.tight_layout()
    fig.savefig(paths["holdings"], dpi=120)
    plt.close(fig)
    return paths


def format_table(table: pd.DataFrame) -> str:
    """The metrics table as fixed-width text, best Sharpe first."""
    cols = [
        "annualised_return",
        "annualised_volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "cvar_95",
        "turnover",
    ]
    return table[cols].to_string(float_format=lambda v: f"{v:.3f}")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    d = BacktestConfig()
    add = parser.add_argument
    add("--prices-csv", help="your daily prices: a date column, one column per ticker")
    add("--descriptions", help="JSON ticker -> {name, sector, description} for --prices-csv")
    add("--start", default=d.start, help="first rebalance date (default %(default)s)")
    add("--end", default=d.end, help="last date (default %(default)s)")
    add("--k", type=int, default=d.k, help="assets to hold (default %(default)s)")
    add("--risk-aversion", type=float, default=d.risk_aversion)
    add(
        "--semantic-penalty",
        type=float,
        default=d.semantic_penalty,
        help="annual return traded for one unit of mean text similarity (default %(default)s)",
    )
    add(
        "--return-scale",
        type=float,
        default=d.return_scale,
        help="annual return per standard deviation of the ranking score (default %(default)s)",
    )
    add("--weighting", choices=("equal", "min_variance", "both"), default="both")
    add(
        "--cost-bps",
        type=float,
        default=d.cost_bps,
        help="cost in basis points of value traded (default %(default)s)",
    )
    add(
        "--cost-blind",
        action="store_true",
        help="leave trading costs out of the QUBO (they are always charged in the backtest)",
    )
    add("--retrain-every", type=int, default=d.retrain_every, help="months between retrains")
    add("--embedding-dims", type=int, default=d.embedding_dims)
    add("--max-per-sector", type=int, default=None, help="at most this many per sector")
    add("--no-text", action="store_true", help="skip the text encoder and the text rows")
    add("--solver", default=d.solver, help="a registered solver name (default %(default)s)")
    add("--seed", type=int, default=d.seed)
    add(
        "--output",
        "--out",
        dest="out",
        default="results/portfolio",
        help="folder for the JSON report and PNG plots",
    )
    add("--no-plots", action="store_true")


def config_from_args(args: argparse.Namespace) -> BacktestConfig:
    weightings = ("equal", "min_variance") if args.weighting == "both" else (args.weighting,)
    return BacktestConfig(
        start=args.start,
        end=args.end,
        k=args.k,
        risk_aversion=args.risk_aversion,
        semantic_penalty=args.semantic_penalty,
        return_scale=args.return_scale,
        weightings=weightings,
        cost_bps=args.cost_bps,
        cost_aware=not args.cost_blind,
        retrain_every=args.retrain_every,
        embedding_dims=args.embedding_dims,
        max_per_sector=args.max_per_sector,
        solver=args.solver,
        seed=args.seed,
    )


def run_from_args(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    data = load_assets(args.prices_csv, args.descriptions)
    embeddings = None if args.no_text else asset_embeddings(data)
    sectors = {t: data.descriptions[t]["sector"] for t in data.tickers}
    result = run_backtest(data.prices, embeddings, sectors, config)
    result.data["source"] = data.source
    paths = write_report(result, args.out, plots=not args.no_plots)
    print(format_table(result.table))
    print(f"solver: {json.dumps(result.solver_summary)}")
    print(f"{result.timings['total']:.1f} s; wrote {', '.join(paths.values())}")
    return 0

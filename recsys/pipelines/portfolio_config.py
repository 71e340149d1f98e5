"""Every choice of a ``portfolio`` backtest: the config dataclass and its command-line options.

Only the standard library is imported at module level, so ``qanneal-llm portfolio --help``
and any mistyped flag answer at once; pandas, torch and skfolio load when a run starts.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field

from recsys.pipelines.options import add_solver_option_flag, positive_int, solver_options

__all__ = [
    "ARTEFACTS",
    "TRADING_DAYS",
    "WEIGHTINGS",
    "BacktestConfig",
    "config_from_args",
    "configure_parser",
]

TRADING_DAYS = 252
WEIGHTINGS = ("equal", "min_variance")
# What a run writes to its output folder.
ARTEFACTS = (
    "portfolio.json",
    "portfolio_equity.png",
    "portfolio_drawdown.png",
    "portfolio_holdings.png",
)


@dataclass(frozen=True)
class BacktestConfig:
    """Every choice of a backtest run; the JSON report records all of it.

    ``risk_aversion`` weighs portfolio variance against expected return (per-period units cancel,
    so it reads like an annual mean-variance trade-off); ``semantic_penalty`` and
    ``return_scale`` are annual returns. ``solver_options`` go to the selection QUBO's solver.
    """

    start: str = "2000-01-01"
    end: str = "2022-12-31"
    k: int = 5
    risk_aversion: float = 2.0
    semantic_penalty: float = 0.05
    return_scale: float = 0.05
    weightings: tuple[str, ...] = WEIGHTINGS
    cost_bps: float = 10.0
    cost_aware: bool = True
    lookback: int = TRADING_DAYS
    retrain_every: int = 12
    min_train_months: int = 24
    embedding_dims: int = 8
    hidden: int = 16
    ensemble: int = 1
    epochs: int = 200
    learning_rate: float = 0.01
    max_per_sector: int | None = None
    solver: str = "anneal"
    seed: int = 0
    solver_options: dict = field(default_factory=dict)

    def validate_values(self) -> None:
        """The checks that need no data: every number in range, the dates, the weightings."""
        for name in ("risk_aversion", "semantic_penalty", "return_scale", "cost_bps"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"{name} (--{name.replace('_', '-')}) must be a finite number >= 0,"
                    f" got {value!r}"
                )
        bad = [w for w in self.weightings if w not in WEIGHTINGS]
        if bad or not self.weightings:
            raise ValueError(f"weightings must be 'equal' and/or 'min_variance', got {bad}")
        positive = ("lookback", "retrain_every", "min_train_months", "hidden", "ensemble", "epochs")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        self.validate_dates()
        if self.max_per_sector is not None and self.max_per_sector < 1:
            raise ValueError(f"max_per_sector must be at least 1, got {self.max_per_sector}")

    def validate(self, n_assets: int, sectors: dict[str, str] | None = None) -> None:
        """Raise ``ValueError`` naming the flag to fix for any value the backtest cannot use.

        ``sectors`` (asset -> sector) lets ``max_per_sector`` be checked for feasibility.
        """
        if not 1 <= self.k <= n_assets:
            raise ValueError(f"k = {self.k} must be between 1 and the {n_assets} assets")
        self.validate_values()
        if self.max_per_sector is None:
            return
        if sectors is None:
            raise ValueError("max_per_sector needs each asset's sector; pass sectors=")
        n_sectors = len(set(sectors.values()))
        if n_sectors * self.max_per_sector < self.k:
            raise ValueError(
                f"k = {self.k} assets cannot be held with at most {self.max_per_sector} per"
                f" sector: the assets span {n_sectors} sectors, so at most"
                f" {n_sectors * self.max_per_sector} fit; raise --max-per-sector or lower --k"
            )

    def validate_dates(self) -> None:
        """Raise ``ValueError`` unless ``start`` and ``end`` are dates in that order."""
        import pandas as pd

        dates = {}
        for name in ("start", "end"):
            try:
                dates[name] = pd.Timestamp(getattr(self, name))
            except (ValueError, TypeError):
                dates[name] = None
            if dates[name] is None or dates[name] is pd.NaT:
                raise ValueError(
                    f"--{name} {getattr(self, name)!r} is not a date; write it as YYYY-MM-DD"
                )
        if dates["start"] > dates["end"]:
            raise ValueError(f"--start {self.start} is after --end {self.end}; swap them")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``qanneal-llm portfolio``."""
    d = BacktestConfig()
    add = parser.add_argument
    add("--prices-csv", help="your daily prices: a date column, one column per ticker")
    add(
        "--descriptions",
        help="JSON ticker -> {name, sector, description} for --prices-csv (needed for the text"
        " rows and --max-per-sector; not with --no-text)",
    )
    add("--start", default=d.start, help="first rebalance date, YYYY-MM-DD (default %(default)s)")
    add("--end", default=d.end, help="last date, YYYY-MM-DD (default %(default)s)")
    add("--k", type=positive_int, default=d.k, help="assets to hold (default %(default)s)")
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
    add("--weighting", choices=(*WEIGHTINGS, "both"), default="both")
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
    add(
        "--retrain-every",
        type=positive_int,
        default=d.retrain_every,
        help="months between retrains (default %(default)s)",
    )
    add("--embedding-dims", type=positive_int, default=d.embedding_dims)
    add(
        "--ensemble",
        type=positive_int,
        default=d.ensemble,
        help="ranking heads per variant, each its own seed, scores averaged (default %(default)s)",
    )
    add("--max-per-sector", type=positive_int, default=None, help="at most this many per sector")
    add("--no-text", action="store_true", help="skip the text encoder and the text rows")
    add("--solver", default=d.solver, help="a registered solver name (default %(default)s)")
    add_solver_option_flag(parser, "the asset-selection QUBOs")
    add("--seed", type=int, default=d.seed)
    add(
        "--output",
        "--out",
        dest="out",
        default="results/portfolio",
        help="folder for the JSON report and PNG plots; replaced whole at the end of a"
        " successful run (default %(default)s)",
    )
    add("--no-plots", action="store_true")


def config_from_args(args: argparse.Namespace) -> BacktestConfig:
    """The backtest config of parsed arguments."""
    weightings = WEIGHTINGS if args.weighting == "both" else (args.weighting,)
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
        ensemble=args.ensemble,
        max_per_sector=args.max_per_sector,
        solver=args.solver,
        seed=args.seed,
        solver_options=solver_options(args),
    )

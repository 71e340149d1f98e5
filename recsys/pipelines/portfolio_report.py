"""What a ``portfolio`` backtest reports: ``portfolio.json``, three plots, the printed table."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from qanneal_llm.storage import atomic_write_bytes

__all__ = ["format_table", "report_dict", "write_report"]

TABLE_COLUMNS = [
    "annualised_return",
    "annualised_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "cvar_95",
    "turnover",
]


def report_dict(result) -> dict:
    """JSON-ready report: config, metrics table, solver and scorer provenance, holdings."""
    holdings = {
        name: {f"{d:%Y-%m-%d}": [a for a, v in row.items() if v > 0] for d, row in frame.iterrows()}
        for name, frame in result.weights.items()
        if name.startswith("qubo_") or name.startswith("momentum")
    }
    table = result.table.reset_index().rename(columns={"index": "strategy"})
    return {
        "config": dataclasses.asdict(result.config),
        "data": result.data,
        "metrics_conventions": (
            "daily net-of-cost returns, 252 periods per year, risk-free 0; cvar_95 is the"
            " daily historical CVaR; turnover is one-way per rebalance (drift-adjusted),"
            " averaged over rebalances after the first; costs charged on |trade| at every"
            " rebalance including the first"
        ),
        "table": json.loads(table.to_json(orient="records")),
        "solver_summary": result.solver_summary,
        "scorer": result.scorer,
        "holdings": holdings,
        "timings": result.timings,
    }


def write_report(result, out_dir, *, plots: bool = True) -> dict[str, str]:
    """Write ``portfolio.json`` and, with ``plots``, the equity, drawdown and holdings PNGs
    into ``out_dir``; returns ``{what: path}``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": str(out / "portfolio.json")}
    report = json.dumps(report_dict(result), indent=2, allow_nan=True)
    atomic_write_bytes(out / "portfolio.json", report.encode())
    if plots:
        paths.update(_plots(result, out))
    return paths


def _styles(order: list[str]) -> dict[str, dict]:
    """A colour per strategy family and a line style per weighting, so lines can be told
    apart: QUBO rows solid and thick, baselines thin; min-variance weightings dashed."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    styles = {}
    for i, name in enumerate(order):
        styles[name] = {
            "color": cmap(i % 10),
            "lw": 1.8 if name.startswith("qubo") else 1.1,
            "ls": "--" if name.endswith("min_variance") and name.startswith("qubo") else "-",
        }
    return styles


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return str(path)


def _plots(result, out: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wealth = (1.0 + result.returns).cumprod()
    order = list(result.table.index)
    styles = _styles(order)
    paths = {}

    fig, ax = plt.subplots(figsize=(11, 6))
    for name in order:
        ax.plot(wealth.index, wealth[name], label=name, **styles[name])
    ax.set_yscale("log")
    ax.set_xlabel("date")
    ax.set_ylabel("value of 1 invested (log scale)")
    ax.set_title(
        f"Growth of 1, net of {result.config.cost_bps:g} bp costs (legend: best Sharpe first)"
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="upper left")
    paths["equity"] = _save(fig, out / "portfolio_equity.png")
    paths["drawdown"] = _drawdown_plot(wealth, order, styles, out / "portfolio_drawdown.png")
    paths["holdings"] = _holdings_plot(result, order, out / "portfolio_holdings.png")
    return paths


def _drawdown_plot(wealth: pd.DataFrame, order, styles, path: Path) -> str:
    """Small multiples: one panel per strategy (best Sharpe first), each against equal weight
    in grey, so no two of ten lines have to be told apart by colour."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    drawdown = wealth / wealth.cummax() - 1.0
    cols = 2
    rows = int(np.ceil(len(order) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(11, 1.6 * rows + 0.8), sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    reference = "equal_weight" if "equal_weight" in drawdown else None
    for ax, name in zip(axes, order, strict=False):
        if reference and name != reference:
            ax.fill_between(drawdown.index, drawdown[reference], 0, color="0.85", lw=0)
        ax.plot(drawdown.index, drawdown[name], color=styles[name]["color"], lw=0.9)
        ax.set_title(f"{name} (max {drawdown[name].min():.0%})", fontsize=8, loc="left")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.tick_params(labelsize=7)
    for ax in axes[len(order) :]:
        ax.set_visible(False)
    for ax in axes[::cols]:
        ax.set_ylabel("drawdown", fontsize=8)
    note = " (grey: equal_weight)" if reference else ""
    fig.suptitle(f"Drawdown from the running peak, net of costs{note}", fontsize=10)
    return _save(fig, path)


def _holdings_plot(result, order, path: Path) -> str:
    import matplotlib.pyplot as plt

    main = next(name for name in order if name.startswith("qubo"))
    held = result.weights[main]
    fig, ax = plt.subplots(figsize=(11, 5))
    image = ax.imshow(held.T.to_numpy(), aspect="auto", cmap="Blues", interpolation="nearest")
    ax.set_yticks(range(held.shape[1]), held.columns, fontsize=7)
    ticks = np.linspace(0, len(held) - 1, min(12, len(held))).astype(int)
    ax.set_xticks(ticks, [f"{held.index[i]:%Y-%m}" for i in ticks], fontsize=7)
    ax.set_xlabel("rebalance date")
    ax.set_ylabel("asset")
    ax.set_title(f"Weights over time: {main} (best-Sharpe QUBO row)")
    fig.colorbar(image, ax=ax, label="portfolio weight", fraction=0.03, pad=0.01)
    return _save(fig, path)


def format_table(table: pd.DataFrame) -> str:
    """The metrics table as fixed-width text, best Sharpe first."""
    return table[TABLE_COLUMNS].to_string(float_format=lambda v: f"{v:.3f}")

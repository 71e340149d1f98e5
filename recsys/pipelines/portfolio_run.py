"""``qanneal-llm portfolio``: check everything up front, load, embed, backtest, report.

Checks that need no data (the finance extra, the output folder, input files, dates, the
solver's name, options and token) run before anything loads; checks that need the prices (k
against the number of assets, sector caps, descriptions, problem sizes) run right after the
cheap price load and before the encoder or any training.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from recsys.pipelines.checks import check_solver, require_module
from recsys.pipelines.outputs import check_output_folder, staged_output
from recsys.pipelines.portfolio_config import ARTEFACTS, BacktestConfig, config_from_args
from recsys.pipelines.progress import Progress

__all__ = ["check_data", "check_inputs", "check_text", "load_assets", "run_from_args"]


def _readable_file(flag: str, path) -> None:
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{flag} {p}: no such file; check the path")
    if not p.is_file():
        raise ValueError(f"{flag} {p} is a folder, not a file")
    if not os.access(p, os.R_OK):
        raise PermissionError(f"{flag} {p}: not readable; check its permissions")


def check_inputs(args: argparse.Namespace, config: BacktestConfig) -> None:
    """Every check that needs no data; raises the error the CLI prints as one line."""
    require_module("skfolio", "finance", "portfolio")
    check_output_folder(args.out, "portfolio", ARTEFACTS)
    if args.descriptions is not None and args.prices_csv is None:
        raise ValueError("--descriptions applies to --prices-csv; the S&P 500 set has its own")
    for flag in ("prices_csv", "descriptions"):
        if getattr(args, flag) is not None:
            _readable_file(f"--{flag.replace('_', '-')}", getattr(args, flag))
    config.validate_values()
    check_solver("--solver", config.solver, **config.solver_options)


def load_assets(prices_csv=None, descriptions=None):
    """Prices and descriptions: the packaged S&P 500 set, or your CSV (and descriptions JSON).

    CSV tickers without a description are kept (absent from ``descriptions``):
    :func:`check_data` says which flag needs them.
    """
    from recsys.datasets import load_prices_csv, load_sp500

    if prices_csv is None:
        if descriptions is not None:
            raise ValueError("--descriptions applies to --prices-csv; the S&P 500 set has its own")
        return load_sp500()
    return load_prices_csv(prices_csv, descriptions, require_descriptions=False)


def check_data(args, config: BacktestConfig, data) -> dict | None:
    """Checks that need the prices; returns each asset's sector (None when not needed)."""
    tickers = data.tickers
    lacking = [t for t in tickers if t not in data.descriptions]
    if lacking and not args.no_text:
        raise ValueError(
            f"no description for {lacking[:5]}{' ...' if len(lacking) > 5 else ''}: pass"
            " --descriptions FILE (JSON ticker -> {name, sector, description}) covering every"
            " ticker of --prices-csv, or use --no-text"
        )
    if lacking and config.max_per_sector is not None:
        raise ValueError(
            f"--max-per-sector needs each asset's sector, and {lacking[:5]} have none: pass"
            " --descriptions FILE covering every ticker of --prices-csv"
        )
    if not 1 <= config.k <= len(tickers):
        raise ValueError(f"--k {config.k} must be between 1 and the {len(tickers)} assets")
    sectors = None if lacking else {t: data.descriptions[t]["sector"] for t in tickers}
    config.validate(len(tickers), sectors)
    check_solver("--solver", config.solver, n=len(tickers), k=config.k, **config.solver_options)
    return sectors


def check_text(config: BacktestConfig, text_dim: int) -> None:
    """Checks of the text feature selection over the encoder's ``text_dim`` dimensions."""
    if config.embedding_dims > text_dim:
        raise ValueError(
            f"--embedding-dims {config.embedding_dims} exceeds the {text_dim} dimensions"
            f" of the asset embeddings; choose at most {text_dim}"
        )
    check_solver(
        "--solver", config.solver, n=text_dim, k=config.embedding_dims,
        context=" (for the text feature selection; or use --no-text)",
    )  # fmt: skip


def run_from_args(args: argparse.Namespace) -> int:
    """Run the command; prints the metrics table and where the report went. 0 on success."""
    config = config_from_args(args)
    progress = Progress("portfolio", show=not args.quiet)
    check_inputs(args, config)  # quick and silent: an error is the only line printed
    from recsys.pipelines.kernel_warmup import KernelWarmup

    with KernelWarmup(progress) as kernels:  # the solver kernels compile beside load and embed
        return _run(args, config, progress, kernels)


def _run(args, config: BacktestConfig, progress: Progress, kernels) -> int:
    source = args.prices_csv or "the S&P 500 set shipped with skfolio"
    with progress.stage("load", f"prices from {source}"):
        data = load_assets(args.prices_csv, args.descriptions)
        sectors = check_data(args, config, data)
    with progress.stage("start", "importing torch and the pipeline"):
        from recsys.pipelines.portfolio import asset_embeddings, run_backtest
        from recsys.pipelines.portfolio_report import format_table, write_report

        encoder = None
        if not args.no_text:
            from qanneal_llm.embeddings import TextEncoder

            encoder = TextEncoder(show_progress=not args.quiet)
            check_text(config, encoder.dim)
    embeddings = None
    if encoder is not None:
        with progress.stage("embed", f"{len(data.tickers)} asset descriptions"):
            embeddings = asset_embeddings(data, encoder)
    what = f"{len(data.tickers)} assets, {config.start}..{config.end}, solver {config.solver}"
    with progress.stage("backtest", what):
        kernels.wait()
        result = run_backtest(data.prices, embeddings, sectors, config, not args.quiet)
    result.data["source"] = data.source
    with staged_output(args.out, "portfolio", ARTEFACTS) as folder:
        with progress.stage("report", "portfolio.json" + ("" if args.no_plots else " and plots")):
            written = write_report(result, folder, plots=not args.no_plots)
    paths = [str(Path(args.out) / Path(p).name) for p in written.values()]
    print(format_table(result.table))
    print(f"solver: {json.dumps(result.solver_summary)}")
    print(f"{result.timings['total']:.1f} s; wrote {', '.join(paths)}")
    return 0

"""The ``qanneal-llm`` command: one subcommand per use case.

Each pipeline module owns its options and its run: it exposes ``configure_parser(parser)`` and
``run_from_args(args) -> int``, so this file only wires names to modules.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "recommend": ("recsys.pipelines.recommend", "recommend movies on MovieLens-100k"),
    "portfolio": ("recsys.pipelines.portfolio", "select assets and backtest on S&P 500 prices"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qanneal-llm",
        description="LLM embeddings + QUBO selection (neal, Leap) for recommenders and portfolios.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        module.configure_parser(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    return int(module.run_from_args(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

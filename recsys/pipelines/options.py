"""Command-line option types shared by the pipelines' parsers (standard library only)."""

from __future__ import annotations

import argparse
import ast

__all__ = ["add_solver_option_flag", "positive_int", "solver_options"]


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (argparse turns the ValueError into a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _option(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. num_reads=20), got {text!r}")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return name.strip(), value


def add_solver_option_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--solver-option NAME=VALUE`` (repeatable): a backend option for ``what``."""
    parser.add_argument(
        "--solver-option",
        dest="solver_option",
        action="append",
        type=_option,
        default=[],
        metavar="NAME=VALUE",
        help=f"an option of the solver for {what} (repeatable), e.g. num_reads=20; values are"
        " Python literals, else strings",
    )


def solver_options(args: argparse.Namespace) -> dict:
    """The ``--solver-option`` pairs as a dict (the last one of a name wins)."""
    return dict(getattr(args, "solver_option", None) or [])

"""The ``qanneal-llm`` command: one subcommand per use case, one error contract for all.

The parser is built from the pipelines' config modules, which import only the standard
library, so ``--help``, ``--version`` and any mistyped flag answer at once; the engines (torch,
transformers, numba, pandas) load only when a run starts.

Error contract, the same for every subcommand:

* a user error (a bad flag value or file, bad data, an unknown solver or solver option, a
  missing Leap token or extra, an infeasible constraint, a problem too large for the chosen
  solver) prints one line ``qanneal-llm <cmd>: error: <what and how to fix>`` on stderr and
  exits 2; everything checkable without data is checked before any expensive stage;
* any other failure prints one line and exits 1; ``--debug`` shows the traceback instead;
* either way the output folder is left as it was (see :mod:`recsys.pipelines.outputs`).

A new flag goes in the pipeline's ``*_config.configure_parser``; a new subcommand is one entry
in :data:`SUBCOMMANDS` plus a ``run_<name>(args) -> int`` function here.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import os
import signal
import sys
import threading

__all__ = ["SUBCOMMANDS", "UsageError", "build_parser", "console_main", "main"]

SUBCOMMANDS = {
    "recommend": ("recsys.pipelines.recommend_config", "recommend movies on MovieLens-100k"),
    "portfolio": (
        "recsys.pipelines.portfolio_config",
        "select assets and backtest them walk-forward on S&P 500 prices (or your own CSV)",
    ),
}

EPILOG = (
    "Errors print one line and exit 2 (your input) or 1 (anything else); --debug shows the"
    " traceback. The output folder is written only when the run succeeds and then replaced"
    " whole; a folder holding anything but a previous run's results is refused."
)


class UsageError(Exception):
    """A parse error, raised instead of argparse's usage-and-exit so it prints as one line."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(self.prog, f"{message} (see {self.prog} --help)")


class _Version(argparse.Action):
    """``--version``, read from the installed metadata only when asked (importlib.metadata
    costs a fifth of a second, which --help should not pay)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = f"qanneal-llm {version('qanneal-llm')}"
        except PackageNotFoundError:
            text = "qanneal-llm (not installed as a package)"
        print(text)
        parser.exit()


def _common_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--quiet",
        action="store_true",
        help="print nothing but errors and the final summary (no stage lines, no bars)",
    )
    common.add_argument(
        "--debug", action="store_true", help="show the full traceback when something fails"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; imports only the pipelines' (standard-library) config modules."""
    parser = _Parser(
        prog="qanneal-llm",
        description="LLM embeddings + QUBO selection (neal, Leap) for recommenders and portfolios.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_flags()
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        module.configure_parser(
            sub.add_parser(
                name, help=help_text, description=help_text, epilog=EPILOG, parents=[common]
            )
        )
    return parser


@contextlib.contextmanager
def _quiet_libraries(enabled: bool):
    """Silence what the libraries print themselves (transformers' weight-loading bar, logging
    and warnings) for the run: under --quiet only errors and the final summary reach the
    terminal. Everything is restored afterwards (``main`` may run inside a test process)."""
    if not enabled:
        yield
        return
    import logging
    import os
    import warnings

    saved_env = {k: os.environ.get(k) for k in _HF_QUIET_ENV}
    saved_disable = logging.root.manager.disable
    hf_logging = sys.modules.get("transformers.utils.logging")
    if hf_logging:
        saved_hf = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.disable(logging.WARNING)
            os.environ.update(_HF_QUIET_ENV)  # read when transformers is imported
            if hf_logging:  # already imported: tell it directly
                hf_logging.set_verbosity_error()
                hf_logging.disable_progress_bar()
            yield
    finally:
        logging.disable(saved_disable)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if hf_logging:
            hf_logging.set_verbosity(saved_hf[0])
            if saved_hf[1]:
                hf_logging.enable_progress_bar()


_HF_QUIET_ENV = {"TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def _terminate(signum, frame):
    raise KeyboardInterrupt  # so a killed run cleans up its temporary folder too


def run_recommend(args: argparse.Namespace) -> int:
    from recsys.pipelines.progress import Progress
    from recsys.pipelines.recommend_config import check_before_loading, config_from_args

    config = config_from_args(args)
    check_before_loading(config)
    from recsys.pipelines.kernel_warmup import KernelWarmup

    progress = Progress("recommend", not args.quiet)
    with KernelWarmup(progress):  # the solver kernels compile beside the imports (first run)
        with progress.stage("start", "importing torch ..."):
            import torch  # noqa: F401 - the pipeline's largest import, announced on its own

            progress.note("start: importing the pipeline ...")
            if config.protocol == "warm":
                from recsys.pipelines.recommend import run
                from recsys.pipelines.recommend_report import format_summary
            else:
                from recsys.coldstart.run import format_summary, run
        print(format_summary(run(config)))
    return 0


def run_portfolio(args: argparse.Namespace) -> int:
    from recsys.pipelines.portfolio_run import run_from_args

    return run_from_args(args)


_USER_ERRORS = (ValueError, FileNotFoundError, IsADirectoryError, PermissionError, ImportError)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Parse, run one subcommand, and map every failure to one stderr line and an exit code."""
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:  # reported by the subcommand, not the top-level parser
            prog = f"qanneal-llm {args.command}"
            raise UsageError(prog, f"unrecognized arguments: {' '.join(extra)} (see {prog} --help)")
    except UsageError as exc:
        print(f"{exc.prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    prefix = f"qanneal-llm {args.command}: error:"
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        with _quiet_libraries(args.quiet):
            return int(globals()[f"run_{args.command}"](args) or 0)
    except KeyboardInterrupt:
        print(f"{prefix} interrupted; the output folder was left as it was", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        if isinstance(exc, _USER_ERRORS):
            print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
            return 2
        print(
            f"{prefix} {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for the"
            " traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def console_main() -> None:
    """The ``qanneal-llm`` executable: :func:`main`, then a quick exit.

    When a run returns, its files are written and fsynced and its summary printed; what is
    left is the interpreter tearing down torch, transformers and numba module by module, about
    a second of a seven-second demo. Like mypy, skip that: run the ``atexit`` handlers
    (logging, Ray), flush, and leave with ``os._exit``.
    """
    code = main()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console_main()

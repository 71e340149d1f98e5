"""Up-front checks the pipelines run before any expensive stage, with messages that name
the command-line flag to change."""

from __future__ import annotations

import importlib.util

__all__ = ["check_solver", "load_head_checkpoint", "require_module"]


def check_solver(flag: str, solver: str, *, n=None, k=None, **options) -> None:
    """Raise ``ValueError`` if ``solver`` cannot take a k-of-n problem with ``options``
    (``n``, ``k`` None: check only the name, the options and the Leap token).

    The solver's own preflight says what is wrong (unknown name or option, missing Leap
    token, too large for exact search or the QPU); this prefixes the flag that chose it.
    """
    try:
        from qanneal_llm.solvers import preflight
    except ImportError:  # TODO(cli): drop once qanneal_llm.solvers.preflight is on main
        preflight = _name_and_token_only
    try:
        preflight(solver, n=n, k=k, **options)
    except ValueError as exc:
        raise ValueError(f"{flag} {solver}: {exc}") from exc


def _name_and_token_only(solver, *, n, k, **options) -> None:
    from qanneal_llm.solvers import MissingTokenError, available_backends, leap_token

    if solver not in available_backends():
        raise ValueError(f"unknown solver; choose one of {', '.join(available_backends())}")
    if solver.startswith("leap-"):
        try:
            leap_token()
        except MissingTokenError as exc:
            raise ValueError(str(exc)) from None


def load_head_checkpoint(path):
    """The ranking head saved at ``path``, or a ``ValueError`` saying it is not one.

    Never tells the user to delete the file: it is their input, not a cache.
    """
    from qanneal_llm.ranking import RankingHeadRecommender
    from qanneal_llm.storage import CorruptFileError

    try:
        return RankingHeadRecommender.load(path)
    except CorruptFileError as exc:
        detail = exc.reason
    except (ValueError, KeyError, RuntimeError) as exc:
        detail = str(exc)
    raise ValueError(
        f"--head {path} is not a ranking-head checkpoint ({detail}); pass the head.qllm that"
        " `qanneal-llm recommend` wrote to its output folder, or leave out --head to train one"
    )


def require_module(module: str, extra: str, command: str) -> None:
    """Raise ``ImportError`` naming the pip extra when ``module`` is not installed."""
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"`qanneal-llm {command}` needs {module}, which is not installed; install the"
            f" '{extra}' extra: pip install 'qanneal-llm[{extra}]' (or pip install {module})"
        )

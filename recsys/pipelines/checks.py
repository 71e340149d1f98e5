"""Up-front checks the pipelines run before any expensive stage, with messages that name
the command-line flag to change."""

from __future__ import annotations

import importlib.util
import re

__all__ = ["check_solver", "load_head_checkpoint", "require_module"]


def check_solver(flag: str, solver: str, *, n=None, k=None, context="", **options) -> None:
    """Raise ``ValueError`` if ``solver`` cannot take a k-of-n problem with ``options``
    (``n``, ``k`` None: check only the name, the options and the Leap token).

    The solver's own preflight says what is wrong (unknown name or option, missing Leap
    token, too large for exact search or the QPU); this prefixes the flag that chose it (and
    ``context``) and names flags where the library's message names Python arguments.
    """
    from qanneal_llm.solvers import preflight

    try:
        preflight(solver, n=n, k=k, **options)
    except ValueError as exc:
        raise ValueError(f"{flag} {solver}{context}: {_as_flags(str(exc), flag)}") from exc


def _as_flags(message: str, flag: str) -> str:
    message = re.sub(r"solver='([\w-]+)'", rf"{flag} \1", message)
    message = message.replace(" (or pass token=...)", "")
    return re.sub(r"raise (max_\w+)", r"raise it with --solver-option \1=N", message)


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
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install counts as missing
        found = False
    if not found:
        raise ImportError(
            f"`qanneal-llm {command}` needs {module}, which is not installed; install the"
            f" '{extra}' extra: pip install 'qanneal-llm[{extra}]' (or pip install {module})"
        )

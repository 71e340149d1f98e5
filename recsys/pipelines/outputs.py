"""Output folders that are never left half-written.

A run writes into a hidden temporary folder beside its output folder and moves it into place
only when everything is written, so a failed or interrupted run leaves the previous results
exactly as they were and never a stray ``head.qllm`` or a stale plot beside a new report.

The rule for an existing output folder: it is **replaced whole** when it is empty or holds a
previous run of the same command (it carries a ``.qanneal-llm`` marker, or holds nothing but
files that command writes); anything else (your own files, another command's results, a file
instead of a folder) is refused before the run starts, so a mistyped ``--output`` never
deletes what it should not. Only the standard library is imported here: the CLI checks the
folder before anything heavy loads.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["MARKER", "check_output_folder", "staged_output"]

MARKER = ".qanneal-llm"


def _owner(folder: Path, artefacts: Iterable[str]) -> str | None:
    """The command whose results ``folder`` holds ("" for an empty folder), else None."""
    names = {p.name for p in folder.iterdir()}
    if not names:
        return ""
    if MARKER in names:
        try:
            return str(json.loads((folder / MARKER).read_text("utf-8"))["command"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return "legacy" if names <= set(artefacts) else None


def check_output_folder(path, command: str, artefacts: Iterable[str]) -> Path:
    """Raise ``ValueError`` (naming the fix) unless a ``command`` run may write to ``path``.

    ``artefacts`` are the names a run of ``command`` writes: a folder holding only those (from
    a version without the marker) counts as a previous run.
    """
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--output {out} is a file, not a folder; choose a folder path")
    parent = out.parent
    if out.is_dir():
        owner = _owner(out, artefacts)
        if owner not in ("", "legacy", command):
            what = f"the results of `qanneal-llm {owner}`" if owner else "files of your own"
            raise ValueError(
                f"--output {out} holds {what}; a run replaces its output folder whole, so choose"
                " an empty or new folder (or the folder of a previous run of this command)"
            )
    else:
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise ValueError(f"--output {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--output {out}: cannot write in {parent}; choose a writable folder")
    return out


@contextlib.contextmanager
def staged_output(path, command: str, artefacts: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces ``path`` whole, else it vanishes.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with staged_output(out, "demo") as tmp:
    ...     _ = (tmp / "report.json").write_text("{}")
    >>> sorted(p.name for p in out.iterdir())
    ['.qanneal-llm', 'report.json']
    """
    out = check_output_folder(path, command, artefacts)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        (tmp / MARKER).write_text(json.dumps({"command": command}) + "\n", "utf-8")
        yield tmp
        # Checked again: another process may have put something there meanwhile.
        check_output_folder(out, command, artefacts)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
        try:
            os.replace(tmp, out)
        except OSError:
            if old is not None:
                os.replace(old / out.name, out)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)

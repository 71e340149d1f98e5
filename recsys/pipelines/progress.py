"""Stage lines for the pipelines: what runs now, and how long it took.

A user should never sit through a silent pause: every stage prints one line when it starts
(what it does) and one when it ends (its wall time), and the times land in the report. The
lines go to stdout, before the final summary, so stderr carries errors only (the CLI's error
contract: one line); ``show=False`` (the CLI's ``--quiet``) keeps the timings and prints
nothing.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

__all__ = ["Progress"]


class Progress:
    """Times named stages and, when ``show``, prints ``[command] stage: ...`` lines.

    Examples
    --------
    >>> p = Progress("demo", show=False)
    >>> with p.stage("load", "reading"):
    ...     pass
    >>> list(p.timings)
    ['load']
    """

    def __init__(self, command: str, show: bool = True):
        self.command = command
        self.show = bool(show)
        self.timings: dict[str, float] = {}

    def note(self, message: str) -> None:
        """One line on stdout (when shown)."""
        if self.show:
            print(f"[{self.command}] {message}", file=sys.stdout, flush=True)

    @contextlib.contextmanager
    def stage(self, name: str, what: str = "") -> Iterator[None]:
        """Time the block as stage ``name``; ``what`` says what it does."""
        self.note(f"{name}: {what} ..." if what else f"{name} ...")
        started = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - started, 3)
        self.note(f"{name}: done in {self.timings[name]:.1f} s")

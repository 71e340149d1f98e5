"""The pipelines' side of the solver kernels' first-run compile (:mod:`qanneal_llm._precompile`).

A run starts the child compile before its expensive stages, waits for it (saying so, with a
line every second) right before its first solve, and stops it when the run fails.
"""

from __future__ import annotations

from qanneal_llm import _precompile
from recsys.pipelines.progress import Progress

__all__ = ["KernelWarmup"]


class KernelWarmup:
    """``with KernelWarmup(progress) as kernels: ...; kernels.wait(); solve(...)``."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.compiling = _precompile.start()

    def __enter__(self) -> KernelWarmup:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and self.compiling is not None:
            self.compiling.cancel()

    def wait(self) -> None:
        """Return once the kernels are in numba's cache (at once when they already were)."""
        if self.compiling is None or not self.compiling.running():
            return
        self.progress.note(
            "waiting for the solver kernels to finish compiling (first run after install"
            " only: about 7 s of one core in all, then cached) ..."
        )
        self.compiling.wait(
            lambda s: self.progress.note(f"  still compiling, {s:.0f} s since it started ...")
        )

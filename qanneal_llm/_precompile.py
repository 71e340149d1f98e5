"""Compile the solver kernels in a child process while the parent does its own first-run work.

numba compiles :mod:`qanneal_llm._kernels` on their first call (about 7 s of one core after an
install) and keeps the machine code in its on-disk cache. A thread cannot hide that compile:
numba's typing and lowering are Python and hold the GIL, so they stall the parent's imports,
tokenisation and training loop instead of running beside them (measured: the embedding stage
went from 4.5 s to 13 s with a compile thread beside it). A child process compiles into the
same cache (same interpreter, same source file, same ``NUMBA_CACHE_DIR``) on the other core; the
parent :meth:`KernelCompile.wait`\\ s for it before its first kernel call and then loads the
cache in a fraction of a second. The child runs at a lower priority, so the parent's own
threads win a contended core.

Results never depend on the timing: a parent that calls a kernel without waiting simply
compiles it itself, and numba writes its cache files atomically.

Only the standard library is imported here, so a command can start the child before it
imports torch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["KernelCompile", "start"]

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[1])
_CHILD = (
    "import os, sys\n"
    'os.nice({nice}) if hasattr(os, "nice") else None\n'
    "sys.path.insert(0, {parent!r})\n"
    "from qanneal_llm._kernels import _compile_all\n"
    "_compile_all()\n"
)
_NICE = 10


class KernelCompile:
    """A running (or finished) child compile of the kernels into numba's cache."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.started = time.perf_counter()

    @classmethod
    def spawn(cls) -> KernelCompile:
        """A new child compiling into the cache this process's environment names."""
        code = _CHILD.format(nice=_NICE, parent=_PACKAGE_PARENT)
        process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return cls(process)

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self, tick: Callable[[float], None] | None = None, every: float = 1.0) -> bool:
        """Block until the child is done; ``tick(elapsed seconds)`` is called every ``every``
        seconds meanwhile (a progress line, so a long wait is never silent). Returns whether
        the cache was filled (otherwise the first kernel call compiles in this process)."""
        while True:
            try:
                return self.process.wait(timeout=every) == 0
            except subprocess.TimeoutExpired:
                if tick is not None:
                    tick(time.perf_counter() - self.started)

    def cancel(self) -> None:
        """Stop the child if it still runs (numba's cache files are written atomically, so a
        stopped compile leaves no partial entry)."""
        if self.running():
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_started: KernelCompile | None = None


def start() -> KernelCompile | None:
    """Start the child compile once per process and return it; ``None`` when the kernels are
    already loaded here (nothing to overlap) or numba's JIT is disabled."""
    global _started
    if _started is not None:
        return _started
    kernels = sys.modules.get("qanneal_llm._kernels")
    if (kernels is not None and kernels.compiled()) or os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return None
    _started = KernelCompile.spawn()
    return _started

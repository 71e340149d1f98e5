"""The solver kernels: one signature covers every call, and a child process can compile them
into numba's cache for the parent (the first run's compile, overlapped)."""

import subprocess
import sys
import time

import numpy as np

from qanneal_llm import _kernels, _precompile, feature_model, slate_model, solve, solve_many
from qanneal_llm.qubo.repair import polish

_LOAD_AND_COUNT = (
    "from qanneal_llm import _kernels as k; k._compile_all();"
    "print(sum(f.stats.cache_hits[s] for f in (k.anneal_reads, k.polish_states)"
    " for s in f.signatures), sum(sum(f.stats.cache_misses.values())"
    " for f in (k.anneal_reads, k.polish_states)))"
)


def test_compile_all_covers_every_call_the_solvers_make():
    _kernels._compile_all()
    assert _kernels.compiled()
    before = (list(_kernels.anneal_reads.signatures), list(_kernels.polish_states.signatures))
    rng = np.random.default_rng(3)
    slate = slate_model(rng.random(30), 4, vectors=rng.normal(size=(30, 5)), diversity=0.2)
    grouped = slate_model(
        rng.random(30), 4, vectors=rng.normal(size=(30, 5)),
        groups={"a": range(0, 30, 2)}, group_bounds={"a": (1, 2)},
    )  # fmt: skip
    features = feature_model(rng.normal(size=(60, 12)), rng.normal(size=60), 3)
    for model in (slate, grouped, features):
        assert solve(model, "anneal", seed=1).feasible
    solve_many([slate, grouped], "anneal", seed=2)
    solve(slate, "neal", seed=0, num_reads=2, num_sweeps=20)  # polished by polish_states
    polish(slate, (np.arange(30) < 4).astype(np.int8))
    after = (list(_kernels.anneal_reads.signatures), list(_kernels.polish_states.signatures))
    assert after == before and [len(s) for s in after] == [1, 1]


def test_already_compiled_process_starts_no_child(monkeypatch):
    monkeypatch.setattr(_precompile, "_started", None)
    _kernels._compile_all()
    assert _precompile.start() is None


def test_child_compile_fills_the_cache_a_new_process_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    stopped = _precompile.KernelCompile.spawn()
    time.sleep(2.5)  # mid-compile: a stopped child must leave nothing a later load trips on
    stopped.cancel()
    assert not stopped.running() and stopped.process.returncode != 0
    child = _precompile.KernelCompile.spawn()
    ticks = []
    assert child.wait(ticks.append, every=0.5)
    assert not child.running() and ticks == sorted(ticks)
    # a compile takes seconds, so the wait ticked, about every half second
    assert ticks and all(b - a >= 0.45 for a, b in zip(ticks, ticks[1:], strict=False))
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_COUNT], capture_output=True, text=True, check=True
    )
    hits, misses = map(int, out.stdout.split())
    assert (hits, misses) == (2, 0)  # both kernels loaded from the child's cache, none compiled

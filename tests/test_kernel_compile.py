"""The solver kernels are compiled for one signature, which the background compile covers."""

import numpy as np

from qanneal_llm import _kernels, feature_model, slate_model, solve, solve_many
from qanneal_llm.qubo.repair import polish


def test_background_compile_covers_every_call_the_solvers_make():
    thread = _kernels.compile_in_background()
    assert _kernels.compile_in_background() is thread  # once per process
    thread.join()
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

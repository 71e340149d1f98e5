"""Solving and embedding on a local Ray cluster give exactly the local answers."""

import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qanneal_llm.distributed import RayExecutor, local_cluster_options, seed_block
from qanneal_llm.qubo import slate_model
from qanneal_llm.solvers import seed_stream, solve_many
from qanneal_llm.solvers.local import AnnealBackend


@pytest.fixture(scope="session")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(**local_cluster_options(num_cpus=2))
    yield ray
    ray.shutdown()


def _models(count, seed=0, max_n=30):
    rng = np.random.default_rng(seed)
    models = []
    for i in range(count):
        n = int(rng.integers(6, max_n))
        k = n if i == 3 else (1 if i == 4 else int(rng.integers(1, n)))
        forced = [0] if i % 5 == 4 else None  # 3 and 4 leave nothing to solve
        models.append(
            slate_model(
                rng.random(n), k, vectors=rng.normal(size=(n, 8)), ids=range(n), forced_in=forced
            )
        )
    return models


def _same(local, remote):
    assert len(local) == len(remote)
    for a, b in zip(local, remote, strict=True):
        assert (a.ids, a.seed, a.solver) == (b.ids, b.seed, b.solver)
        assert np.array_equal(a.x, b.x)
        assert a.objective == b.objective and a.breakdown == b.breakdown
        assert (a.feasible, a.repaired, a.polished) == (b.feasible, b.repaired, b.polished)


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**64),
    start=st.integers(0, 300),
    length=st.integers(0, 300),
)
def test_seed_block_is_a_slice_of_the_local_seed_stream(seed, start, length):
    expected = seed_stream(seed, start + length)[start:]
    assert np.array_equal(seed_block(seed, start, start + length), expected)


@pytest.mark.parametrize(
    "chunk_size, cpus_per_task, max_in_flight",
    [(1, 1, None), (3, 2, None), (7, 1, 1), (100, 1, None)],
)
def test_ray_solve_many_equals_local(ray_cluster, chunk_size, cpus_per_task, max_in_flight):
    models = _models(24)
    local = solve_many(models, seed=11)
    executor = RayExecutor(
        chunk_size=chunk_size, cpus_per_task=cpus_per_task, max_in_flight=max_in_flight
    )
    _same(local, solve_many(models, seed=11, executor=executor))


def test_one_problem_at_a_time_backends_equal_local_too(ray_cluster):
    models = _models(6, seed=1, max_n=12)
    local = solve_many(models, "exact", seed=5)
    _same(local, solve_many(models, "exact", seed=5, executor=RayExecutor(chunk_size=2)))


def test_a_stream_is_drawn_lazily_and_yielded_in_order(ray_cluster):
    models = _models(30, seed=2)
    drawn = []

    def stream():
        for i, model in enumerate(models):
            drawn.append(i)
            yield model

    executor = RayExecutor(chunk_size=4, max_in_flight=2)
    results = executor.solve_iter(stream(), seed=3)
    first = next(results)
    assert len(drawn) <= 4 * 3  # two chunks in flight plus the one being refilled, not all 30
    _same(solve_many(models, seed=3), [first, *results])


def test_a_worker_that_dies_mid_batch_is_retried_and_every_result_comes_once(ray_cluster, tmp_path):
    marker = tmp_path / "died-once"

    class DiesOnce(AnnealBackend):
        def sample_many(self, models, seeds, **options):
            if not marker.exists():
                marker.write_text("the first attempt killed its worker")
                os._exit(1)
            return super().sample_many(models, seeds, **options)

    models = _models(12, seed=4)
    remote = solve_many(models, DiesOnce(), seed=9, executor=RayExecutor(chunk_size=5))
    assert marker.exists()
    _same(solve_many(models, seed=9), remote)


def test_unknown_solver_and_executor_fail_on_the_driver(ray_cluster):
    with pytest.raises(ValueError, match="unknown solver"):
        solve_many(_models(2), "no-such-solver", executor="ray")
    with pytest.raises(ValueError, match="no option 'num_sweepz'"):
        solve_many(_models(2), executor="ray", num_sweepz=10)
    with pytest.raises(ValueError, match="unknown executor 'spark'"):
        solve_many(_models(2), executor="spark")


def test_ray_requested_but_not_installed_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install 'qanneal-llm\[ray\]'"):
        solve_many(_models(2), seed=0, executor="ray")


TEXTS = [
    "Toy Story (1995): animation, children's, comedy",
    "GoldenEye (1995): action, adventure, thriller",
    "Four Rooms (1995): thriller",
    "A user, 24, technician, who rated many comedies and a few dramas highly",
    "Star Wars",
    "Toy Story (1995): animation, children's, comedy",  # a duplicate
] + [f"Movie {i}: " + "drama, " * (i % 9) + "romance" for i in range(40)]


class RecordingExecutor(RayExecutor):
    def __init__(self, **params):
        super().__init__(**params)
        self.sent = []

    def encode(self, encoder, texts):
        self.sent.append(list(texts))
        return super().encode(encoder, texts)


def test_ray_encode_gives_the_local_vectors_and_fills_the_same_cache(ray_cluster, tmp_path):
    from qanneal_llm.embeddings import TextEncoder

    cached = TEXTS[:10]  # in the cache before the run, locally and on Ray alike
    encoder = TextEncoder(dtype="float32", batch_size=8, cache=tmp_path / "local")
    encoder.encode(cached)
    local = encoder.encode(TEXTS)
    encoder = TextEncoder(dtype="float32", batch_size=8, cache=tmp_path / "ray")
    encoder.encode(cached)
    executor = RecordingExecutor()
    remote = encoder.encode(TEXTS, executor=executor)
    assert remote.dtype == local.dtype == np.float32
    assert np.array_equal(remote, local)
    sent = [t for call in executor.sent for t in call]
    assert sorted(sent) == sorted(set(TEXTS) - set(cached))

    again = RecordingExecutor()
    fresh = TextEncoder(dtype="float32", batch_size=8, cache=tmp_path / "ray")
    assert np.array_equal(fresh.encode(TEXTS, executor=again), local)
    assert again.sent == []  # everything came from the verified cache


def test_own_seeds_per_problem_match_the_local_batch_with_those_seeds(ray_cluster):
    from qanneal_llm.distributed import ray_session
    from qanneal_llm.solvers.registry import solve_batch

    models, seeds = _models(9, seed=6), [17 * i + 1 for i in range(9)]
    with ray_session(chunk_size=4) as executor:  # joins the running session, leaves it up
        remote = list(executor.solve_iter(models, seeds=iter(seeds)))
        with pytest.raises(ValueError, match="seeds ran out after 5 models"):
            list(executor.solve_iter(models, seeds=seeds[:5]))
    assert ray_cluster.is_initialized()
    _same(solve_batch(models, seeds), remote)


def test_a_slate_model_ships_its_quadratic_terms_once():
    import pickle

    model = _models(1, seed=7, max_n=90)[0]
    blob = pickle.dumps(model, protocol=5)
    assert len(blob) < 1.2 * model.quadratic.nbytes  # the similarity component is not a copy
    back = pickle.loads(blob)
    x = np.zeros(model.n)
    x[: model.k] = 1
    assert back.breakdown(x) == model.breakdown(x) and back.objective(x) == model.objective(x)


def test_recommend_with_ray_writes_the_local_report(ray_cluster, tmp_path):
    from qanneal_llm.embeddings import TextEncoder
    from recsys.pipelines.recommend import run
    from recsys.pipelines.recommend_config import RecommendConfig

    reports = {}
    for ray in (None, "local"):  # "local" joins the test session's cluster
        config = RecommendConfig(
            max_users=40, max_items=120, epochs=2, n_features=16, baselines=False,
            show_progress=False, output=str(tmp_path / f"out-{ray}"), ray=ray,
        )  # fmt: skip
        encoder = TextEncoder(cache=tmp_path / f"cache-{ray}")  # empty: the items are embedded
        reports[ray] = run(config, encoder=encoder)
    local, remote = reports[None], reports["local"]
    assert remote["metrics"] == local["metrics"]  # ILD@10 included: the same item vectors
    assert remote["feature_selection"]["selected"] == local["feature_selection"]["selected"]
    assert remote["head"]["best_valid_ndcg"] == local["head"]["best_valid_ndcg"]
    assert remote["slates"]["mean_objective"] == local["slates"]["mean_objective"]
    assert remote["slates"]["executor"].startswith("RayExecutor(")
    assert local["slates"]["executor"] == "this machine"


def test_recommend_ray_flag_parses_and_needs_ray(monkeypatch, tmp_path):
    from recsys.cli import build_parser
    from recsys.pipelines.recommend_config import check_before_loading, config_from_args

    def config(*flags):
        args = build_parser().parse_args(["recommend", "--output", str(tmp_path / "o"), *flags])
        return config_from_args(args)

    assert config().ray is None
    assert config("--ray").ray == "local"
    assert config("--ray", "ray://head:10001").ray == "ray://head:10001"
    with pytest.raises(ValueError, match="--ray runs the warm protocol only"):
        config("--ray", "--protocol", "cold-items").validate()
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install 'qanneal-llm\[ray\]'"):
        check_before_loading(config("--ray"))

"""TextEncoder against sentence-transformers, its numeric routes, and its cache."""

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from qanneal_llm import encoder_routes
from qanneal_llm.embeddings import EmbeddingCache, TextEncoder
from qanneal_llm.storage import CACHE_ENV_VAR

SAMPLE = [
    "Toy Story (1995). Genres: Animation, Children's, Comedy.",
    "The Usual Suspects (1995). Genres: Crime, Thriller.",
    "Les Misérables (1995). Genres: Drama, Musical.",
    "A 24-year-old man, occupation: technician. Movies they rated highest: "
    + "; ".join(f"Movie number {i} (1990)" for i in range(80)),  # longer than 256 tokens
    "Apple Inc. (AAPL), Information Technology sector. Apple designs consumer electronics.",
    "x",
]


@pytest.fixture(scope="module")
def encoder32():
    enc = TextEncoder(dtype="float32", cache=False)
    enc.encode(SAMPLE[:1])  # load once for the module
    return enc


@pytest.fixture(scope="module")
def sample32(encoder32):
    return encoder32.encode(SAMPLE)


@pytest.fixture(scope="module")
def reference():
    st = pytest.importorskip("sentence_transformers")
    from qanneal_llm.embeddings import _default_model_dir

    model = st.SentenceTransformer(str(_default_model_dir()), device="cpu")
    return model.encode(SAMPLE, normalize_embeddings=True, convert_to_numpy=True)


def test_matches_sentence_transformers_in_float32(sample32, reference):
    vectors = sample32
    assert vectors.shape == (len(SAMPLE), 384)
    assert vectors.dtype == np.float32
    assert np.min(np.sum(vectors * reference, axis=1)) > 0.99999


def test_default_route_matches_sentence_transformers(reference, tmp_path):
    enc = TextEncoder(cache=tmp_path)
    assert enc.device.type in ("cpu", "cuda")
    bar = 0.99 if enc.dtype == "int8" else 0.999  # int8 is the fast route of CPUs without bf16
    assert np.min(np.sum(enc.encode(SAMPLE) * reference, axis=1)) > bar


def test_rows_are_unit_norm_and_unnormalised_rows_are_not(sample32):
    np.testing.assert_allclose(np.linalg.norm(sample32, axis=1), 1, atol=1e-5)
    raw = TextEncoder(dtype="float32", normalize=False, cache=False).encode(SAMPLE[:2])
    assert np.all(np.abs(np.linalg.norm(raw, axis=1) - 1) > 1e-3)


def test_deterministic_and_independent_of_batch_company(encoder32, sample32):
    short = [t for t in SAMPLE if len(t) < 200]
    first = encoder32.encode(short)
    np.testing.assert_array_equal(first, encoder32.encode(short))
    np.testing.assert_allclose(first, sample32[[SAMPLE.index(t) for t in short]], atol=2e-5)
    alone = np.vstack([encoder32.encode([t]) for t in short[:2]])
    np.testing.assert_allclose(alone, first[:2], atol=2e-5)
    reordered = encoder32.encode(short[::-1] + short[:1])
    np.testing.assert_allclose(reordered, np.vstack([first[::-1], first[:1]]), atol=2e-5)


def test_cls_and_last_pooling_pick_the_right_token(encoder32):
    text = SAMPLE[1]
    tok, model = encoder32._tokenizer, encoder32._model
    with torch.inference_mode():
        hidden = model(**tok([text], return_tensors="pt"))[0][0].numpy()
    for pooling, row in (("cls", 0), ("last", -1)):
        enc = TextEncoder(dtype="float32", pooling=pooling, normalize=False, cache=False)
        np.testing.assert_allclose(enc.encode([text])[0], hidden[row], atol=1e-5)


def test_empty_input_and_duplicates(encoder32):
    assert encoder32.encode([]).shape == (0, 384)
    out = encoder32.encode(["same", "other", "same"])
    np.testing.assert_array_equal(out[0], out[2])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"pooling": "max"}, "pooling"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_length": 2.5}, "max_length"),
        ({"dtype": "int4"}, "dtype"),
        ({"device": "gpu7"}, "device"),
        ({"cache": 3}, "cache"),
    ],
)
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TextEncoder(**kwargs)


def test_bad_texts_are_named(encoder32):
    with pytest.raises(TypeError, match="wrap a single text"):
        encoder32.encode("one text")
    with pytest.raises(TypeError, match=r"texts\[1\] is float"):
        encoder32.encode(["ok", float("nan")])


def test_cache_hit_never_loads_the_model(tmp_path):
    first = TextEncoder(cache=tmp_path)
    vectors = first.encode(SAMPLE[:3])
    second = TextEncoder(cache=tmp_path)
    np.testing.assert_array_equal(second.encode(SAMPLE[:3][::-1]), vectors[::-1])
    assert second._model is None
    assert second.model_id == first.model_id and "all-MiniLM-L6-v2" in second.model_id
    # A new text is a miss: it loads the model and leaves the cached rows unchanged.
    mixed = second.encode([SAMPLE[3], SAMPLE[0]])
    assert second._model is not None
    np.testing.assert_array_equal(mixed[1], vectors[0])


def test_settings_that_change_vectors_change_the_cache_key(tmp_path):
    base = TextEncoder(cache=tmp_path, dtype="float32")
    namespaces = {
        base.cache_namespace,
        TextEncoder(cache=tmp_path, dtype="float32", pooling="cls").cache_namespace,
        TextEncoder(cache=tmp_path, dtype="float32", max_length=32).cache_namespace,
        TextEncoder(cache=tmp_path, dtype="float32", normalize=False).cache_namespace,
        *(TextEncoder(cache=tmp_path, dtype=d).cache_namespace for d in ("float16", "bfloat16")),
        TextEncoder(cache=tmp_path, dtype="int8").cache_namespace,
    }
    assert len(namespaces) == 7
    # how texts are batched does not change the vectors' identity
    batched = TextEncoder(cache=tmp_path, dtype="float32", batch_size=7).cache_namespace
    assert batched == base.cache_namespace


def test_corrupt_cache_entry_is_reported_and_recomputed(tmp_path):
    enc = TextEncoder(dtype="float32", cache=tmp_path)
    good = enc.encode(SAMPLE[:2])
    (shard,) = (tmp_path / enc.cache_namespace).glob("*.qllm")
    data = bytearray(shard.read_bytes())
    data[-10] ^= 0xFF
    shard.write_bytes(bytes(data))

    fresh = TextEncoder(dtype="float32", cache=tmp_path)
    with pytest.warns(RuntimeWarning, match="recomputed"):
        again = fresh.encode(SAMPLE[:2])
    np.testing.assert_allclose(again, good, atol=1e-6)
    assert fresh._model is not None
    assert not shard.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = TextEncoder(dtype="float32", cache=tmp_path)
        np.testing.assert_array_equal(third.encode(SAMPLE[:2]), again)
        assert third._model is None


def test_truncated_cache_entry_is_never_returned(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put("ns", ["a", "b"], np.ones((2, 4)))
    (shard,) = (tmp_path / "ns").glob("*.qllm")
    shard.write_bytes(shard.read_bytes()[:-7])
    with pytest.warns(RuntimeWarning, match="corrupt"):
        vectors, found = EmbeddingCache(tmp_path).get("ns", ["a", "b"])
    assert vectors is None and not found.any()


def test_default_cache_location_follows_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path))
    assert TextEncoder().cache.directory == tmp_path / "embeddings"
    assert TextEncoder(cache=False).cache is None


def test_many_puts_are_merged_and_all_rows_survive(tmp_path):
    cache = EmbeddingCache(tmp_path)
    rng = np.random.default_rng(1)
    rows = {}
    for i in range(20):
        vec = rng.normal(size=(1, 3)).astype(np.float32)
        cache.put("ns", [f"t{i}"], vec)
        rows[f"t{i}"] = vec[0]
    assert len(list((tmp_path / "ns").glob("*.qllm"))) <= 9
    vectors, found = EmbeddingCache(tmp_path).get("ns", list(rows))
    assert found.all()
    np.testing.assert_array_equal(vectors, np.vstack(list(rows.values())))


def test_two_processes_writing_at_once(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from qanneal_llm.embedding_cache import EmbeddingCache
        cache = EmbeddingCache(sys.argv[1])
        for i in range(40):
            text = f"t{i}"
            cache.put("ns", [text], np.full((1, 4), i, dtype=np.float32))
        """
    )
    root = str(Path(__file__).resolve().parents[1])
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=root) for _ in range(2)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vectors, found = EmbeddingCache(tmp_path).get("ns", [f"t{i}" for i in range(40)])
    assert found.all()
    np.testing.assert_array_equal(vectors[:, 0], np.arange(40))


def test_unwritable_cache_warns_but_still_returns_vectors(encoder32, sample32, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    enc = TextEncoder(dtype="float32", cache=blocker / "cache")
    with pytest.warns(RuntimeWarning) as record:
        vectors = enc.encode(SAMPLE[:2])
    messages = " ".join(str(w.message) for w in record)
    assert "unreadable" in messages and "not written" in messages
    np.testing.assert_allclose(vectors, sample32[:2], atol=2e-5)


@pytest.fixture(scope="module")
def item_slice():
    from recsys.datasets import load_movielens
    from recsys.texts import item_texts

    return list(item_texts(load_movielens().items))[::17]  # 99 real item texts


@pytest.fixture(scope="module")
def encoder8():
    enc = TextEncoder(dtype="int8", cache=False)
    enc.encode(SAMPLE[:1])  # quantise once; later int8 encoders share the loaded model
    return enc


def test_int8_route_keeps_cosine_to_float32_on_real_texts(encoder32, encoder8, item_slice):
    exact = encoder32.encode(item_slice)
    enc = encoder8
    fast = enc.encode(item_slice)
    cosines = np.sum(fast * exact, axis=1)
    assert cosines.min() >= 0.99, cosines.min()
    assert not np.allclose(fast, exact, atol=1e-4)  # it really is another route
    # the Linear layers are int8, but the first feed-forward output stays float32
    kinds = {type(m).__name__ for m in enc._model.modules()}
    assert "FullRangeLinear" in kinds
    assert type(enc._model.encoder.layer[0].output.dense) is torch.nn.Linear


def test_routes_never_share_cached_vectors(encoder32, encoder8, tmp_path):
    texts = SAMPLE[:2]
    int8 = TextEncoder(dtype="int8", cache=tmp_path).encode(texts)
    exact = TextEncoder(dtype="float32", cache=tmp_path)
    vectors = exact.encode(texts)
    assert exact._model is not None  # a miss: the int8 vectors were not returned
    np.testing.assert_allclose(vectors, encoder32.encode(texts), atol=2e-5)
    assert np.abs(vectors - int8).max() > 1e-4
    again = TextEncoder(dtype="int8", cache=tmp_path)
    np.testing.assert_array_equal(again.encode(texts), int8)
    assert again._model is None


@pytest.mark.parametrize(
    "bf16, int8, expected",
    [(True, True, "int8"), (True, False, "bfloat16"), (False, True, "int8"),
     (False, False, "float32")],
)  # fmt: skip
def test_default_route_per_cpu_kind(monkeypatch, bf16, int8, expected):
    monkeypatch.delenv(encoder_routes.BF16_ENV, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_vnni_supported", lambda: int8)
    assert encoder_routes.default_dtype("cpu") == expected
    enc = TextEncoder(cache=False, device="cpu")
    assert enc.dtype == expected
    assert TextEncoder(cache=False, dtype="float32").dtype == "float32"  # the exact path


def test_bf16_detection_can_be_overridden(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_vnni_supported", lambda: False)
    monkeypatch.delenv(encoder_routes.BF16_ENV, raising=False)
    assert encoder_routes.default_dtype("cpu") == "bfloat16"  # detected
    monkeypatch.setenv(encoder_routes.BF16_ENV, "0")
    assert encoder_routes.default_dtype("cpu") == "float32"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.delenv(encoder_routes.BF16_ENV)
    assert encoder_routes.default_dtype("cpu") == "float32"  # detected
    monkeypatch.setenv(encoder_routes.BF16_ENV, "1")
    assert encoder_routes.default_dtype("cpu") == "bfloat16"
    monkeypatch.setenv(encoder_routes.BF16_ENV, "maybe")
    with pytest.raises(ValueError, match="QANNEAL_LLM_CPU_BF16 must be '0' or '1'"):
        encoder_routes.default_dtype("cpu")


def test_a_fully_cached_run_never_imports_transformers(encoder32, tmp_path):
    TextEncoder(dtype="float32", cache=tmp_path).encode(SAMPLE[:2])
    script = textwrap.dedent(
        """
        import sys
        from qanneal_llm.embeddings import TextEncoder
        enc = TextEncoder(dtype="float32", cache=sys.argv[1])
        vectors = enc.encode(sys.argv[2:])
        assert vectors.shape == (2, enc.dim), vectors.shape
        assert "transformers" not in sys.modules, "a cache hit imported transformers"
        """
    )
    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), *SAMPLE[:2]],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert done.returncode == 0, done.stderr[-2000:]

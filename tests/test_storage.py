"""Verified storage: round trips, and every kind of damage is caught rather than returned."""

import json

import numpy as np
import pytest

from qanneal_llm.storage import (
    CACHE_ENV_VAR,
    CorruptFileError,
    atomic_write_bytes,
    cache_root,
    load_verified,
    save_verified,
)


@pytest.fixture
def stored(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "vectors": rng.normal(size=(5, 3)).astype(np.float32),
        "ids": np.arange(5, dtype=np.int64),
        "names": np.asarray(["a", "bé", "c", "d", "e"]),
    }
    path = tmp_path / "blob.qllm"
    save_verified(path, arrays, {"model": "m", "n": 5})
    return path, arrays


def test_round_trip_keeps_arrays_dtypes_and_meta(stored):
    path, arrays = stored
    loaded, meta = load_verified(path)
    assert meta == {"model": "m", "n": 5}
    assert loaded.keys() == arrays.keys()
    for name, arr in arrays.items():
        assert loaded[name].dtype == arr.dtype
        np.testing.assert_array_equal(loaded[name], arr)


@pytest.mark.parametrize("cut", [3, 20, -1, -100])
def test_truncated_file_is_detected(stored, cut):
    path, _ = stored
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(CorruptFileError, match="delete it") as info:
        load_verified(path)
    assert info.value.path == path
    assert str(path) in str(info.value)


def test_flipped_payload_byte_fails_checksum(stored):
    path, _ = stored
    data = bytearray(path.read_bytes())
    data[-50] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="sha256"):
        load_verified(path)


def test_trailing_bytes_and_foreign_files_are_rejected(stored, tmp_path):
    path, _ = stored
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(CorruptFileError, match="payload"):
        load_verified(path)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.arange(3))
    with pytest.raises(CorruptFileError, match="signature"):
        load_verified(other)


def test_corrupt_error_is_a_value_error():
    assert issubclass(CorruptFileError, ValueError)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_verified(tmp_path / "nope.qllm")


def test_object_arrays_and_unserialisable_meta_are_refused(tmp_path):
    with pytest.raises(ValueError, match="pickle"):
        save_verified(tmp_path / "x.qllm", {"a": np.array([{}, 1], dtype=object)}, {})
    with pytest.raises(ValueError, match="JSON"):
        save_verified(tmp_path / "x.qllm", {"a": np.zeros(2)}, {"bad": object()})
    assert not list(tmp_path.iterdir())


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "sub" / "f.json"
    atomic_write_bytes(path, json.dumps({"v": 1}).encode())
    atomic_write_bytes(path, json.dumps({"v": 2}).encode())
    assert json.loads(path.read_text()) == {"v": 2}
    assert [p.name for p in path.parent.iterdir()] == ["f.json"]


def test_cache_root_follows_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv(CACHE_ENV_VAR)
    assert "qanneal-llm" in str(cache_root())

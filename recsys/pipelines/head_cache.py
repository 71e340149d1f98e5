"""Trained ranking heads kept by their inputs, so running the same command again skips training.

Training is the longest stage of a warm ``qanneal-llm recommend`` (4-5 s of its 12), and its
output is a function of its inputs alone: the training and validation interactions, the user
and item features, every estimator parameter (the seed included) and torch's thread count. A
run whose inputs hash to a stored head loads it instead of retraining: the same command run
twice, or a run that changes only the slate stage (``--lambda``, ``--solver``, ``--k``), gets
the head it would have trained, bit for bit. The key also covers the ranking code itself (its
source files), torch's version and the machine's architecture, so an upgrade retrains.

Entries are :func:`qanneal_llm.storage.save_verified` files (written atomically, sha256-checked
when read); a damaged one is reported, dropped and retrained. ``--retrain`` ignores the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from qanneal_llm.embedding_cache import warn_cache
from qanneal_llm.storage import CorruptFileError, cache_root

__all__ = ["head_key", "load_head", "store_head"]


@functools.cache
def _ranking_source_digest() -> str:
    import qanneal_llm.ranking as ranking

    digest = hashlib.sha256()
    for path in sorted(Path(ranking.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def head_key(params: dict, threads, train, valid, user_features, item_features) -> str:
    """The cache key of a head with ``params`` fitted on these inputs with ``threads`` torch
    threads (None: torch's default)."""
    import torch

    digest = hashlib.sha256()
    identity = {
        "params": params,
        "threads": threads,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "ranking_source": _ranking_source_digest(),
    }
    digest.update(json.dumps(identity, sort_keys=True, default=str).encode())
    for matrix in (train, valid):
        csr = sp.csr_matrix(matrix)
        for part in (np.asarray(csr.shape), csr.indptr, csr.indices, csr.data):
            _update(digest, part)
    for array in (user_features, item_features):
        _update(digest, np.asarray(array))
    return digest.hexdigest()[:40]


def _update(digest, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())


def _path(key: str, directory=None) -> Path:
    return Path(directory or cache_root() / "heads") / f"{key}.qllm"


def load_head(key: str, directory=None):
    """The head stored under ``key``, or None (missing, or damaged: then warned and deleted)."""
    from qanneal_llm.ranking import RankingHeadRecommender

    path = _path(key, directory)
    if not path.is_file():
        return None
    try:
        return RankingHeadRecommender.load(path)
    except (CorruptFileError, ValueError, KeyError, RuntimeError) as exc:
        warn_cache(f"cached ranking head {path} is unusable ({exc}); training a new one")
        path.unlink(missing_ok=True)
        return None


def store_head(key: str, head, directory=None) -> Path | None:
    """Store ``head`` under ``key``; a cache that cannot be written costs speed, not the run."""
    path = _path(key, directory)
    try:
        head.save(path)
    except OSError as exc:
        warn_cache(f"ranking-head cache {path.parent} not written: {exc}")
        return None
    return path

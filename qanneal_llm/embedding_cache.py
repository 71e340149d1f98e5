"""A disk cache of text vectors shared by runs and processes.

Each namespace (one encoder's settings: model identity, pooling, max length, normalisation and
numeric route) is a folder of shard files written with
:func:`qanneal_llm.storage.save_verified`. Writers never share a file, readers verify every
shard, and a namespace with many shards is merged under a file lock, so a warm lookup reads a
handful of files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from qanneal_llm.storage import CorruptFileError, cache_root, load_verified, save_verified

__all__ = ["EmbeddingCache"]

logger = logging.getLogger(__name__)

_SHARD_SUFFIX = ".qllm"
# Merge a namespace's shards into one once there are more than this many, so a warm lookup
# reads a handful of files rather than one per past call.
_MAX_SHARDS = 8


def warn_cache(message: str) -> None:
    """Warn (once per message) and log: cache trouble costs speed, never results.

    Parameters
    ----------
    message : str
        What went wrong and what happens instead, in one sentence.
    """
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    logger.warning(message)


def _text_keys(texts: Sequence[str]) -> list[bytes]:
    return [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in texts]


class EmbeddingCache:
    """Vectors of texts already encoded, kept on disk across runs and processes.

    Each namespace (one model identity + pooling + max length + normalisation + dtype) is a
    folder of shard files written with :func:`qanneal_llm.storage.save_verified`: every
    :meth:`put` writes one new shard under a unique name, so two processes writing at once never
    touch the same file. A shard that fails verification is reported (``warnings`` and
    ``logging``), deleted, and its texts count as misses, so they are recomputed instead of
    returned. When a namespace holds many shards they are merged under a file lock.

    Parameters
    ----------
    directory : path-like, optional
        Where to keep the cache. Defaults to ``embeddings/`` under
        :func:`qanneal_llm.storage.cache_root` (``$QANNEAL_LLM_CACHE`` or the platform's user
        cache dir).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> cache = EmbeddingCache(tempfile.mkdtemp())
    >>> cache.put("demo", ["a", "b"], np.eye(2, dtype=np.float32))
    >>> vectors, found = cache.get("demo", ["b", "c"])
    >>> found.tolist(), vectors[0].tolist()
    ([True, False], [0.0, 1.0])
    """

    def __init__(self, directory=None):
        self.directory = (
            Path(directory).expanduser() if directory is not None else cache_root() / "embeddings"
        )
        self._index: dict[str, dict[bytes, np.ndarray]] = {}
        self._seen: dict[str, set[str]] = {}

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.directory)!r})"

    def _folder(self, namespace: str) -> Path:
        if not namespace or any(c in namespace for c in "/\\:") or namespace.startswith("."):
            raise ValueError(
                f"namespace must be a plain folder name (no slashes, colons or leading dot), got"
                f" {namespace!r}"
            )
        return self.directory / namespace

    def _refresh(self, namespace: str) -> dict[bytes, np.ndarray]:
        index = self._index.setdefault(namespace, {})
        seen = self._seen.setdefault(namespace, set())
        folder = self._folder(namespace)
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(_SHARD_SUFFIX))
        except FileNotFoundError:
            return index
        except OSError as exc:
            warn_cache(f"embedding cache {folder} unreadable ({exc}); encoding without it")
            return index
        for name in names:
            if name in seen:
                continue
            entries = self._read_shard(folder / name)
            if entries is not None:
                seen.add(name)
                for key, row in zip(*entries, strict=True):
                    index.setdefault(key.tobytes(), row)
        return index

    def _read_shard(self, path: Path):
        try:
            arrays, _ = load_verified(path)
            keys, vectors = arrays["keys"], arrays["vectors"]
            if keys.ndim != 2 or keys.shape[1] != 32 or vectors.shape[:1] != keys.shape[:1]:
                raise CorruptFileError(path, "keys and vectors do not line up")
        except FileNotFoundError:
            # Merged away by another process between listing and reading; its rows live on
            # in the merged shard, which the next refresh reads.
            return None
        except (CorruptFileError, KeyError) as exc:
            warn_cache(f"embedding cache: {exc}; its texts will be recomputed")
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            return None
        return keys, vectors

    def get(self, namespace: str, texts: Sequence[str]) -> tuple[np.ndarray | None, np.ndarray]:
        """Look texts up.

        Parameters
        ----------
        namespace : str
            The encoder's cache key (model, pooling, route, ...): vectors never cross it.
        texts : sequence of str

        Returns
        -------
        vectors : ndarray of shape (n, dim) or None
            Rows of the texts found (rows of missing texts are zeros); None if none was found.
        found : ndarray of bool, shape (n,)
        """
        index = self._refresh(namespace)
        rows = [index.get(k) for k in _text_keys(texts)]
        found = np.array([r is not None for r in rows], dtype=bool)
        if not found.any():
            return None, found
        dim = next(r for r in rows if r is not None).shape[0]
        out = np.zeros((len(rows), dim), dtype=np.float32)
        for i, row in enumerate(rows):
            if row is not None:
                out[i] = row
        return out, found

    def put(self, namespace: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store the vectors of texts (one row per text) that are not stored yet.

        Parameters
        ----------
        namespace : str
            The encoder's cache key, as in :meth:`get`.
        texts : sequence of str
        vectors : array-like of shape (len(texts), dim)
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(
                f"vectors must have one row per text: got shape {vectors.shape} for"
                f" {len(texts)} texts"
            )
        index = self._refresh(namespace)
        keys = _text_keys(texts)
        new = {k: i for i, k in enumerate(keys) if k not in index}
        if not new:
            return
        rows = list(new.values())
        key_array = np.frombuffer(b"".join(new), dtype=np.uint8).reshape(len(new), 32)
        name = f"shard-{uuid.uuid4().hex}{_SHARD_SUFFIX}"
        folder = self._folder(namespace)
        save_verified(
            folder / name,
            {"keys": key_array, "vectors": vectors[rows]},
            {"namespace": namespace, "count": len(rows)},
        )
        self._seen[namespace].add(name)
        for key, row in zip(new, vectors[rows], strict=True):
            index[key] = row
        self._maybe_compact(namespace)

    def _maybe_compact(self, namespace: str) -> None:
        folder = self._folder(namespace)
        if sum(n.endswith(_SHARD_SUFFIX) for n in os.listdir(folder)) <= _MAX_SHARDS:
            return
        try:
            with FileLock(str(folder / ".compact.lock"), timeout=0):
                names = sorted(n for n in os.listdir(folder) if n.endswith(_SHARD_SUFFIX))
                shards = [(n, self._read_shard(folder / n)) for n in names]
                shards = [(n, s) for n, s in shards if s is not None]
                merged = f"shard-{uuid.uuid4().hex}{_SHARD_SUFFIX}"
                save_verified(
                    folder / merged,
                    {
                        "keys": np.concatenate([s[0] for _, s in shards]),
                        "vectors": np.concatenate([s[1] for _, s in shards]),
                    },
                    {"namespace": namespace, "count": sum(len(s[0]) for _, s in shards)},
                )
                self._seen[namespace].add(merged)
                for n, _ in shards:
                    (folder / n).unlink(missing_ok=True)
        except Timeout:
            return  # another process is merging the same namespace

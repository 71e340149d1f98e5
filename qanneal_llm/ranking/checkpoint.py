"""Checkpoints of a fitted head: written atomically, sha256-verified on read, weights bit-exact.

The file is :func:`qanneal_llm.storage.save_verified`'s format: the module's ``state_dict`` as
arrays (content buffers included, so a checkpoint scores on its own) plus a JSON header with the
estimator's parameters, shapes and training history.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from qanneal_llm._validation import resolve_device
from qanneal_llm.ranking.head import RankingHead
from qanneal_llm.storage import load_verified, save_verified

__all__ = ["load_head", "save_head"]

# The kind string names the estimator's historical import path; it is data, never re-imported.
_CHECKPOINT_KIND = "qanneal_llm.ranking.RankingHeadRecommender"
_CHECKPOINT_VERSION = 1


def save_head(estimator, path) -> Path:
    """Write a fitted :class:`~qanneal_llm.ranking.RankingHeadRecommender` to ``path``.

    Parameters
    ----------
    estimator : RankingHeadRecommender
        A fitted head.
    path : str or os.PathLike
        Destination; replaced atomically, so a crash never leaves half a checkpoint.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    arrays = {
        name: tensor.detach().cpu().numpy()
        for name, tensor in estimator.module_.state_dict().items()
    }
    meta = {
        "kind": _CHECKPOINT_KIND,
        "version": _CHECKPOINT_VERSION,
        "params": estimator.get_params(),
        "n_users": estimator.n_users_,
        "n_items": estimator.n_items_,
        "best_epoch": estimator.best_epoch_,
        "history": estimator.history_,
        "fit_seconds": getattr(estimator, "fit_seconds_", None),
    }
    save_verified(path, arrays, meta)
    return Path(path)


def load_head(cls, path, device: str | None = None):
    """Read a head written by :func:`save_head` into a new ``cls`` instance, bit for bit.

    Parameters
    ----------
    cls : type
        :class:`~qanneal_llm.ranking.RankingHeadRecommender` (or a subclass).
    path : str or os.PathLike
        The checkpoint.
    device : str, optional
        Overrides the saved ``device`` parameter (e.g. load a GPU-trained head on ``"cpu"``).

    Returns
    -------
    RankingHeadRecommender
        Fitted, in eval mode.

    Raises
    ------
    FileNotFoundError
        No checkpoint at ``path``.
    qanneal_llm.storage.CorruptFileError
        The file is damaged (checksum or format).
    ValueError
        The file is another kind or version of checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no ranking-head checkpoint at {path}; train one and call save(path) first"
        )
    arrays, meta = load_verified(path)
    if meta.get("kind") != _CHECKPOINT_KIND or meta.get("version") != _CHECKPOINT_VERSION:
        raise ValueError(
            f"{path} is not a version-{_CHECKPOINT_VERSION} ranking-head checkpoint"
            f" (kind {meta.get('kind')!r}, version {meta.get('version')!r}); retrain and save"
        )
    params = dict(meta["params"])
    if device is not None:
        params["device"] = device
    est = cls(**params)
    dev = resolve_device(est.device)
    tensors = {name: torch.from_numpy(np.array(arr)) for name, arr in arrays.items()}
    module = RankingHead(
        meta["n_users"],
        meta["n_items"],
        int(est.dim),
        tensors.get("user_features"),
        tensors.get("item_features"),
        use_ids=bool(est.use_ids),
    )
    module.load_state_dict(tensors, strict=True)
    est.module_ = module.to(dev).eval()
    est.n_users_, est.n_items_ = int(meta["n_users"]), int(meta["n_items"])
    est.n_features_in_ = est.n_items_
    est.best_epoch_, est.history_ = int(meta["best_epoch"]), list(meta["history"])
    est.fit_seconds_ = meta.get("fit_seconds")
    return est

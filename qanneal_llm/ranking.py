"""A ranking head that scores (user, item) pairs from embeddings and, optionally, learned ids.

Text embeddings know what an item *is*; interactions know who *likes* it. The head joins the two:

``score(u, i) = <E_u[u] + A x_u, E_i[i] + B y_i> + b_i``

with ``x_u`` and ``y_i`` the user's and item's content vectors (for example the text-embedding
dimensions a feature-selection QUBO kept, and the mean of the vectors of a user's training
items), ``A`` and ``B`` learned projections to a shared space, ``E_u`` and ``E_i`` learned id
embeddings (matrix factorisation; drop them with ``use_ids=False`` to get a pure content model
that can score unseen items) and ``b_i`` an item bias that absorbs popularity.

Two losses: BPR (one sampled negative per positive, as in BPR-MF) and a sampled-softmax listwise
loss (each positive against ``n_negatives`` shared uniform negatives, or the whole catalogue when
``n_negatives`` is ``None``). The listwise loss is what lets the head beat BPR-MF: it pushes the
positive above many items per step instead of one.

:class:`RankingHeadRecommender` wraps the module in scikit-learn's conventions: ``fit`` on a
sparse user x item matrix with early stopping on validation NDCG@10, ``decision_function`` for
raw scores, ``predict`` for top-k lists, ``score`` for NDCG@k, and ``save``/``load`` through
:func:`qanneal_llm.storage.save_verified`, which writes atomically and checks a sha256 on read.

>>> import numpy as np, scipy.sparse as sp
>>> X = sp.csr_matrix(np.eye(4)[[0, 1, 2, 3, 0, 1]][:, [0, 1, 2, 3]])
>>> head = RankingHeadRecommender(dim=4, epochs=3, seed=0).fit(X)
>>> head.predict([0, 1], k=2, exclude=X[:2]).shape
(2, 2)
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from qanneal_llm.storage import load_verified, save_verified

__all__ = ["LOSSES", "RankingHead", "RankingHeadRecommender", "bpr_loss", "sampled_softmax_loss"]

LOSSES = ("softmax", "bpr")
_CHECKPOINT_KIND = "qanneal_llm.ranking.RankingHeadRecommender"
_CHECKPOINT_VERSION = 1


class RankingHead(torch.nn.Module):
    """The scoring module; see the module docstring for the formula.

    Content vectors are buffers, not parameters: they are inputs fixed by the embedding and
    selection stages, saved with the weights so a checkpoint scores on its own.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int,
        user_features: torch.Tensor | None = None,
        item_features: torch.Tensor | None = None,
        use_ids: bool = True,
    ):
        super().__init__()
        if not use_ids and (user_features is None or item_features is None):
            raise ValueError("without ids, both users and items need features to be scored")
        self.n_users, self.n_items, self.dim = int(n_users), int(n_items), int(dim)
        self.use_ids = bool(use_ids)
        self.has_user_features = user_features is not None
        self.has_item_features = item_features is not None
        if self.has_user_features:
            self.register_buffer("user_features", user_features.float())
            self.user_proj = torch.nn.Linear(user_features.shape[1], dim, bias=False)
        if self.has_item_features:
            self.register_buffer("item_features", item_features.float())
            self.item_proj = torch.nn.Linear(item_features.shape[1], dim, bias=False)
        if self.use_ids:
            self.user_emb = torch.nn.Embedding(n_users, dim)
            self.item_emb = torch.nn.Embedding(n_items, dim)
        self.item_bias = torch.nn.Parameter(torch.zeros(n_items))

    def reset_parameters(self, generator: torch.Generator) -> None:
        """Seeded initialisation: small normal ids (MF practice), Xavier projections."""
        with torch.no_grad():
            if self.use_ids:
                self.user_emb.weight.normal_(0.0, 0.01, generator=generator)
                self.item_emb.weight.normal_(0.0, 0.01, generator=generator)
            for name in ("user_proj", "item_proj"):
                if hasattr(self, name):
                    torch.nn.init.xavier_normal_(getattr(self, name).weight, generator=generator)
            self.item_bias.zero_()

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        out = self.user_emb(users) if self.use_ids else 0.0
        if self.has_user_features:
            out = out + self.user_proj(self.user_features[users])
        if not torch.is_tensor(out):
            out = torch.zeros(users.shape[0], self.dim, device=self.item_bias.device)
        return out

    def item_vectors(self, items: torch.Tensor | None = None) -> torch.Tensor:
        """Vectors of ``items`` (all items when ``None``, the common case when ranking)."""
        if items is None:
            items = torch.arange(self.n_items, device=self.item_bias.device)
        out = self.item_emb(items) if self.use_ids else 0.0
        if self.has_item_features:
            out = out + self.item_proj(self.item_features[items])
        if not torch.is_tensor(out):
            out = torch.zeros(items.shape[0], self.dim, device=self.item_bias.device)
        return out

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of the pairs ``(users[j], items[j])``."""
        return (self.user_vectors(users) * self.item_vectors(items)).sum(-1) + self.item_bias[items]

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """``(len(users), n_items)`` scores: every item for every given user."""
        return self.user_vectors(users) @ self.item_vectors().T + self.item_bias


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Bayesian Personalised Ranking: ``-log sigmoid(s_pos - s_neg)``, averaged.

    >>> round(float(bpr_loss(torch.tensor([2.0]), torch.tensor([0.0]))), 4)
    0.1269
    """
    return -torch.nn.functional.logsigmoid(pos - neg).mean()


def sampled_softmax_loss(
    pos: torch.Tensor,
    neg: torch.Tensor,
    accidental: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Cross-entropy of each positive against its row of negatives, ``(B,)`` vs ``(B, N)``.

    ``accidental`` (bool ``(B, N)``) marks negatives that are the positive itself; they are
    removed from the denominator, since pushing an item below itself teaches nothing.

    >>> round(float(sampled_softmax_loss(torch.tensor([0.0]), torch.zeros(1, 3))), 4)  # log 4
    1.3863
    """
    logits = torch.cat([pos[:, None], neg], dim=1) / temperature
    if accidental is not None:
        mask = torch.cat([torch.zeros_like(accidental[:, :1]), accidental], dim=1)
        logits = logits.masked_fill(mask, float("-inf"))
    return torch.nn.functional.cross_entropy(
        logits, torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
    )


def _as_csr(X, name: str, shape=None) -> sp.csr_matrix:
    if sp.issparse(X):
        mat = sp.csr_matrix(X, dtype=np.float64)
    else:
        arr = np.asarray(X, dtype=np.float64) if X is not None else None
        if arr is None or arr.ndim != 2:
            raise ValueError(
                f"{name} must be a 2-D (users x items) interaction matrix, scipy sparse or dense,"
                f" got {type(X).__name__} with shape {getattr(arr, 'shape', None)}"
            )
        mat = sp.csr_matrix(arr)
    if not np.all(np.isfinite(mat.data)):
        raise ValueError(f"{name} contains NaN or inf; interactions must be finite")
    if shape is not None and mat.shape != shape:
        raise ValueError(f"{name} has shape {mat.shape}, expected {shape} (the train matrix's)")
    mat.eliminate_zeros()
    mat.data[:] = 1.0
    return mat


def _features(value, name: str, n_rows: int) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != n_rows or arr.shape[1] == 0:
        raise ValueError(
            f"{name} must have shape ({n_rows}, d) with one row per {name.split('_')[0]} of the"
            f" interaction matrix, got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; impute or drop those rows first")
    return arr


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _resolve_device(device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but CUDA is not available here; use 'cpu' or 'auto'")
    return dev


def ndcg_at_k(top: np.ndarray, truth: sp.csr_matrix, k: int) -> np.ndarray:
    """Per-row binary NDCG@k of ranked lists against truth rows (RecBole's definition).

    ``top`` is ``(n, >=k)`` item indices, ``truth`` an ``(n, n_items)`` sparse matrix; rows
    without truth get NaN so callers can average over the rest.

    >>> ndcg_at_k(np.array([[2, 0]]), sp.csr_matrix([[1, 0, 0]]), k=2).round(4).tolist()
    [0.6309]
    """
    top = np.asarray(top)[:, :k]
    n_truth = np.diff(truth.indptr)
    hits = np.asarray(truth[np.repeat(np.arange(top.shape[0]), top.shape[1]), top.ravel()])
    hits = (hits.reshape(top.shape) > 0).astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(n_truth, top.shape[1])]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_truth > 0, hits @ discounts / ideal, np.nan)


class RankingHeadRecommender(BaseEstimator):
    """Fit, rank and checkpoint a :class:`RankingHead` the scikit-learn way.

    Parameters
    ----------
    dim : int
        Width of the shared user/item space.
    loss : {"softmax", "bpr"}
        Sampled-softmax listwise loss or BPR.
    n_negatives : int or None
        Shared uniform negatives per batch for the softmax loss; ``None`` uses every item.
    temperature : float
        Softmax temperature (the logits are divided by it).
    use_ids : bool
        Learn per-user and per-item id embeddings on top of the content projections.
    lr, weight_decay : float
        Adam's step size and L2 penalty.
    epochs, batch_size, patience : int
        At most ``epochs`` passes over the users (``batch_size`` users with all their training
        positives per step); with validation data, stop after
        ``patience`` epochs without a better validation NDCG@``eval_k`` and keep the best epoch.
    eval_k : int
        The cut-off of the early-stopping metric.
    seed : int
        Seeds initialisation, shuffling and negative sampling: equal seeds give equal heads.
    device : {"cpu", "cuda", "auto"}
    max_seconds : float or None
        Stop training after this much wall time (the best epoch so far is kept).
    show_progress : bool
        A tqdm bar over epochs on stderr, showing the loss and validation NDCG.

    Attributes
    ----------
    module_ : RankingHead
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``seconds`` and, when validating, ``valid_ndcg``.
    best_epoch_ : int
    n_users_, n_items_ : int
    fit_seconds_ : float
    """

    def __init__(
        self,
        dim: int = 64,
        loss: str = "softmax",
        n_negatives: int | None = None,
        temperature: float = 1.0,
        use_ids: bool = True,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        epochs: int = 60,
        batch_size: int = 64,
        patience: int = 5,
        eval_k: int = 10,
        seed: int = 0,
        device: str = "cpu",
        max_seconds: float | None = None,
        show_progress: bool = False,
    ):
        self.dim = dim
        self.loss = loss
        self.n_negatives = n_negatives
        self.temperature = temperature
        self.use_ids = use_ids
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.eval_k = eval_k
        self.seed = seed
        self.device = device
        self.max_seconds = max_seconds
        self.show_progress = show_progress

    # -- fitting ------------------------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("dim", "epochs", "batch_size", "patience", "eval_k"):
            _positive_int(getattr(self, name), name)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.n_negatives is not None:
            _positive_int(self.n_negatives, "n_negatives")
        for name in ("lr", "temperature"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (np.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be positive or None, got {self.max_seconds!r}")

    def fit(self, X, y=None, *, user_features=None, item_features=None, valid=None):
        """Train on the positives of ``X`` (sparse users x items; any non-zero is a positive).

        ``user_features`` ``(n_users, d_u)`` and ``item_features`` ``(n_items, d_i)`` are the
        content vectors; give neither for a pure id model. ``valid`` (same shape as ``X``) turns
        on early stopping on its NDCG@``eval_k``, ranking only items outside ``X`` as in the
        evaluation protocol. ``y`` is ignored (present for scikit-learn's API).
        """
        del y
        self._check_params()
        train = _as_csr(X, "X")
        n_users, n_items = train.shape
        if train.nnz == 0:
            raise ValueError(f"X has no interactions (shape {train.shape}); nothing to learn from")
        if n_items < 2:
            raise ValueError("ranking needs at least 2 items")
        ufeat = _features(user_features, "user_features", n_users)
        ifeat = _features(item_features, "item_features", n_items)
        if not self.use_ids and (ufeat is None or ifeat is None):
            raise ValueError(
                "use_ids=False needs both user_features and item_features, since without ids a"
                " side with no features has nothing to score with; pass e.g. the mean of each"
                " user's item features as user_features, or set use_ids=True"
            )
        valid_csr = _as_csr(valid, "valid", train.shape) if valid is not None else None
        if self.loss == "bpr" and np.any(np.diff(train.indptr) >= n_items):
            raise ValueError("a user interacted with every item, so BPR has no negative to sample")

        device = _resolve_device(self.device)
        gen = torch.Generator().manual_seed(int(self.seed))
        rng = np.random.default_rng(int(self.seed))
        module = RankingHead(
            n_users,
            n_items,
            int(self.dim),
            None if ufeat is None else torch.from_numpy(ufeat),
            None if ifeat is None else torch.from_numpy(ifeat),
            use_ids=bool(self.use_ids),
        )
        module.reset_parameters(gen)
        module.to(device)
        opt = torch.optim.Adam(
            module.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay)
        )

        indptr, indices = train.indptr, train.indices.astype(np.int64)
        pos_keys = np.sort(np.repeat(np.arange(n_users), np.diff(indptr)) * n_items + indices)
        active = np.flatnonzero(np.diff(indptr) > 0)
        valid_users = (
            np.flatnonzero(np.diff(valid_csr.indptr) > 0) if valid_csr is not None else None
        )
        self.module_, self.n_users_, self.n_items_ = module, n_users, n_items
        self.history_ = []
        best, best_state, since_best = -np.inf, None, 0
        started = time.perf_counter()
        bar = None
        if self.show_progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=int(self.epochs), desc="training head", unit="epoch", file=sys.stderr)
        for epoch in range(int(self.epochs)):
            t0 = time.perf_counter()
            module.train()
            order = rng.permutation(active)
            total, n_pairs = 0.0, 0
            for start in range(0, order.size, int(self.batch_size)):
                users = order[start : start + int(self.batch_size)]
                counts = indptr[users + 1] - indptr[users]
                local = np.repeat(np.arange(users.size), counts)
                items = np.concatenate([indices[indptr[u] : indptr[u + 1]] for u in users])
                loss = self._batch_loss(module, users, local, items, pos_keys, rng, device)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * items.size
                n_pairs += items.size
            record = {"epoch": epoch, "loss": total / n_pairs}
            if valid_users is not None and valid_users.size:
                ndcg = float(
                    np.nanmean(
                        ndcg_at_k(
                            self._topk(valid_users, int(self.eval_k), train[valid_users]),
                            valid_csr[valid_users],
                            int(self.eval_k),
                        )
                    )
                )
                record["valid_ndcg"] = ndcg
                if ndcg > best:
                    best, since_best = ndcg, 0
                    best_state = (epoch, copy.deepcopy(module.state_dict()))
                else:
                    since_best += 1
            record["seconds"] = time.perf_counter() - t0
            self.history_.append(record)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    {k: round(v, 4) for k, v in record.items() if k in ("loss", "valid_ndcg")}
                )
            if valid_users is not None and since_best >= int(self.patience):
                break
            if self.max_seconds is not None and time.perf_counter() - started > self.max_seconds:
                break
        if bar is not None:
            bar.close()
        if best_state is not None:
            self.best_epoch_ = best_state[0]
            module.load_state_dict(best_state[1])
        else:
            self.best_epoch_ = len(self.history_) - 1
        module.eval()
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _batch_loss(self, module, users, local, items, pos_keys, rng, device):
        """Loss of one step over a batch of users and all their training positives.

        Batching by user lets the full softmax share one log-sum-exp per user across all of
        that user's positives: the exact full-catalogue loss at the cost of one user x item
        score matrix per step, instead of one per positive pair.
        """
        n_items = module.n_items
        uvec = module.user_vectors(torch.from_numpy(users).to(device))
        local_t = torch.from_numpy(local).to(device)
        items_t = torch.from_numpy(items).to(device)
        temperature = float(self.temperature)
        if self.loss == "softmax" and (self.n_negatives is None or self.n_negatives >= n_items):
            scores = (uvec @ module.item_vectors().T + module.item_bias) / temperature
            lse = torch.logsumexp(scores, dim=1)
            return (lse[local_t] - scores[local_t, items_t]).mean()
        upair = uvec[local_t]
        pos = (upair * module.item_vectors(items_t)).sum(-1) + module.item_bias[items_t]
        if self.loss == "bpr":
            neg_np = _sample_negatives(rng, users[local], n_items, pos_keys)
            neg_items = torch.from_numpy(neg_np).to(device)
            neg = (upair * module.item_vectors(neg_items)).sum(-1) + module.item_bias[neg_items]
            return bpr_loss(pos, neg)
        neg_items = torch.from_numpy(rng.integers(0, n_items, int(self.n_negatives))).to(device)
        neg = uvec @ module.item_vectors(neg_items).T + module.item_bias[neg_items]
        accidental = neg_items[None, :] == items_t[:, None]
        return sampled_softmax_loss(pos, neg[local_t], accidental, temperature)

    # -- using a fitted head ------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call fit(...) or load(path) first"
            )

    def _users(self, user_indices) -> np.ndarray:
        users = np.asarray(user_indices)
        if users.ndim != 1 or (users.size and not np.issubdtype(users.dtype, np.integer)):
            raise ValueError(f"user_indices must be a 1-D array of integer rows, got {users!r}")
        if users.size and (users.min() < 0 or users.max() >= self.n_users_):
            raise ValueError(
                f"user_indices must lie in 0..{self.n_users_ - 1} (rows of the train matrix);"
                " map raw user ids to rows first"
            )
        return users.astype(np.int64)

    def decision_function(self, user_indices, batch_size: int = 1024) -> np.ndarray:
        """Raw scores ``(len(user_indices), n_items)``; higher means recommend first."""
        self._check_fitted()
        users = self._users(user_indices)
        device = self.module_.item_bias.device
        out = np.empty((users.size, self.n_items_), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, users.size, batch_size):
                chunk = torch.from_numpy(users[start : start + batch_size]).to(device)
                out[start : start + batch_size] = self.module_.score_all(chunk).cpu().numpy()
        return out

    def _topk(self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None) -> np.ndarray:
        scores = self.decision_function(users).astype(np.float64)
        if exclude is not None:
            rows = np.repeat(np.arange(users.size), np.diff(exclude.indptr))
            scores[rows, exclude.indices] = -np.inf
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(scores, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)
        return np.take_along_axis(part, order, axis=1)

    def predict(self, user_indices, k: int = 10, exclude=None) -> np.ndarray:
        """Top-``k`` item indices per user, best first; ``exclude`` rows (sparse, one per user)
        mark items never to return, e.g. the user's training items."""
        self._check_fitted()
        users = self._users(user_indices)
        k = _positive_int(k, "k")
        if k > self.n_items_:
            raise ValueError(f"k = {k} exceeds the {self.n_items_} items")
        ex = (
            _as_csr(exclude, "exclude", (users.size, self.n_items_))
            if exclude is not None
            else None
        )
        if ex is not None and np.any(self.n_items_ - np.diff(ex.indptr) < k):
            raise ValueError(f"a user has fewer than k = {k} items left after exclusion")
        return self._topk(users, k, ex)

    def score(self, X, y=None, *, exclude=None, k: int | None = None) -> float:
        """Mean NDCG@k of the head's lists against the truth matrix ``X`` (users x items).

        Users without truth items are skipped; ``exclude`` (same shape) masks items already
        seen, so pass the train matrix when scoring on held-out data.
        """
        del y
        self._check_fitted()
        truth = _as_csr(X, "X", (self.n_users_, self.n_items_))
        k = int(self.eval_k) if k is None else _positive_int(k, "k")
        users = np.flatnonzero(np.diff(truth.indptr) > 0)
        if users.size == 0:
            raise ValueError("X has no interactions; there is nothing to score against")
        ex = _as_csr(exclude, "exclude", truth.shape)[users] if exclude is not None else None
        return float(np.nanmean(ndcg_at_k(self._topk(users, k, ex), truth[users], k)))

    # -- checkpoints --------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the fitted head atomically to ``path`` (sha256-verified on load)."""
        self._check_fitted()
        arrays = {
            name: tensor.detach().cpu().numpy()
            for name, tensor in self.module_.state_dict().items()
        }
        meta = {
            "kind": _CHECKPOINT_KIND,
            "version": _CHECKPOINT_VERSION,
            "params": self.get_params(),
            "n_users": self.n_users_,
            "n_items": self.n_items_,
            "best_epoch": self.best_epoch_,
            "history": self.history_,
            "fit_seconds": getattr(self, "fit_seconds_", None),
        }
        save_verified(path, arrays, meta)
        return Path(path)

    @classmethod
    def load(cls, path, device: str | None = None) -> RankingHeadRecommender:
        """Read a head written by :meth:`save`; the weights come back bit for bit.

        Raises ``FileNotFoundError`` when there is no checkpoint and
        :class:`qanneal_llm.storage.CorruptFileError` when it is damaged.
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
        dev = _resolve_device(est.device)
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
        est.best_epoch_, est.history_ = int(meta["best_epoch"]), list(meta["history"])
        est.fit_seconds_ = meta.get("fit_seconds")
        return est


def _sample_negatives(rng, users, n_items, pos_keys):
    """One uniform item per row that the user has not interacted with (rejection sampling)."""
    neg = rng.integers(0, n_items, size=users.size)
    bad = np.arange(users.size)
    while bad.size:
        keys = users[bad] * n_items + neg[bad]
        pos = np.searchsorted(pos_keys, keys)
        bad = bad[pos_keys[np.minimum(pos, pos_keys.size - 1)] == keys]
        neg[bad] = rng.integers(0, n_items, size=bad.size)
    return neg

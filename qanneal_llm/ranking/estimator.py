""":class:`RankingHeadRecommender`: fit, rank and checkpoint a :class:`RankingHead` the
scikit-learn way."""

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

from qanneal_llm._validation import interaction_matrix, positive_int, resolve_device
from qanneal_llm.base import validate_data
from qanneal_llm.ranking.checkpoint import load_head, save_head
from qanneal_llm.ranking.head import RankingHead
from qanneal_llm.ranking.inputs import content_features, user_rows
from qanneal_llm.ranking.losses import LOSSES
from qanneal_llm.ranking.metrics import ndcg_at_k
from qanneal_llm.ranking.optimizer import FunctionalAdam
from qanneal_llm.ranking.training import run_epoch

__all__ = ["RankingHeadRecommender"]

_USER_INDICES = (
    "its predict, decision_function and score take user rows (and a truth matrix), not rows of"
    " the interaction matrix X, so the check's calls with X do not apply"
)


class RankingHeadRecommender(BaseEstimator):
    """Fit, rank and checkpoint a :class:`~qanneal_llm.ranking.RankingHead`.

    ``fit`` takes a users x items interaction matrix ``X`` (its columns, the items, are
    scikit-learn's features: ``n_features_in_ == n_items_``) and stops early on validation
    NDCG@``eval_k``; ``decision_function`` gives raw scores, ``predict`` top-k lists and
    ``score`` NDCG@k, each for user rows; ``save``/``load`` write and read verified checkpoints.

    Parameters
    ----------
    dim : int, default=64
        Width of the shared user/item space.
    loss : {"softmax", "bpr"}, default="softmax"
        Sampled-softmax listwise loss or BPR.
    n_negatives : int or None, default=None
        Shared uniform negatives per batch for the softmax loss; ``None`` uses every item.
    temperature : float, default=1.0
        Softmax temperature (the logits are divided by it).
    use_ids : bool, default=True
        Learn per-user and per-item id embeddings on top of the content projections.
    lr : float, default=3e-3
        Adam's step size.
    weight_decay : float, default=1e-4
        Adam's L2 penalty.
    epochs : int, default=60
        At most this many passes over the users (``batch_size`` users with all their training
        positives per step).
    batch_size : int, default=64
        Users per step.
    patience : int, default=5
        With validation data, stop after this many epochs without a better validation
        NDCG@``eval_k`` and keep the best epoch.
    eval_k : int, default=10
        The cut-off of the early-stopping metric and of ``score``'s default.
    seed : int, default=0
        Seeds initialisation, shuffling and negative sampling: equal seeds give equal heads.
    device : {"cpu", "cuda", "cuda:N", "auto"}, default="cpu"
        Where to train; an unavailable CUDA device is an error.
    max_seconds : float or None, default=None
        Stop training after this much wall time (the best epoch so far is kept).
    show_progress : bool, default=False
        A tqdm bar over epochs on stderr, showing the loss and validation NDCG.

    Attributes
    ----------
    module_ : RankingHead
        The trained module, in eval mode.
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``seconds`` and, when validating, ``valid_ndcg``.
    best_epoch_ : int
        The epoch whose weights were kept.
    n_users_, n_items_ : int
        Shape of the training matrix.
    n_features_in_ : int
        ``n_items_``, scikit-learn's name for the width of ``X``.
    fit_seconds_ : float
        Wall time of ``fit``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.csr_matrix(np.eye(4)[[0, 1, 2, 3, 0, 1]][:, [0, 1, 2, 3]])
    >>> head = RankingHeadRecommender(dim=4, epochs=3, seed=0).fit(X)
    >>> head.predict([0, 1], k=2, exclude=X[:2]).shape
    (2, 2)
    """

    _sklearn_xfail_checks = {
        name: _USER_INDICES
        for name in (
            "check_dict_unchanged",
            "check_dtype_object",
            "check_estimators_dtypes",
            "check_estimators_nan_inf",
            "check_estimators_pickle",
            "check_f_contiguous_array_estimator",
            "check_fit2d_predict1d",
            "check_fit_idempotent",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_n_features_in_after_fitting",
        )
    }

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6 reads expected failures from this tag
        return {"_xfail_checks": dict(self._sklearn_xfail_checks)}

    # -- fitting ------------------------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("dim", "epochs", "batch_size", "patience", "eval_k"):
            positive_int(getattr(self, name), name)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.n_negatives is not None:
            positive_int(self.n_negatives, "n_negatives")
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

    def _check_inputs(self, X, user_features, item_features, valid):
        """Validate ``fit``'s inputs; return the binary train and valid matrices and features."""
        train = interaction_matrix(
            validate_data(self, X, accept_sparse="csr", dtype=np.float64), "X"
        )
        n_users, n_items = train.shape
        if train.nnz == 0:
            raise ValueError(f"X has no interactions (shape {train.shape}); nothing to learn from")
        if n_items < 2:
            raise ValueError(
                f"ranking needs at least 2 items, got n_features = {n_items} (items, columns of X)"
            )
        ufeat = content_features(user_features, "user_features", n_users)
        ifeat = content_features(item_features, "item_features", n_items)
        if not self.use_ids and (ufeat is None or ifeat is None):
            raise ValueError(
                "use_ids=False needs both user_features and item_features, since without ids a"
                " side with no features has nothing to score with; pass e.g. the mean of each"
                " user's item features as user_features, or set use_ids=True"
            )
        valid_csr = interaction_matrix(valid, "valid", train.shape) if valid is not None else None
        if self.loss == "bpr" and np.any(np.diff(train.indptr) >= n_items):
            raise ValueError("a user interacted with every item, so BPR has no negative to sample")
        return train, ufeat, ifeat, valid_csr

    def fit(self, X, y=None, *, user_features=None, item_features=None, valid=None):
        """Train on the positives of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Training interactions; any stored non-zero is a positive.
        y : None
            Ignored; present for scikit-learn's API.
        user_features : array-like of shape (n_users, d_u), optional
            The users' content vectors (give neither features for a pure id model).
        item_features : array-like of shape (n_items, d_i), optional
            The items' content vectors.
        valid : {array-like, sparse matrix} of shape (n_users, n_items), optional
            Held-out interactions; turns on early stopping on their NDCG@``eval_k``, ranking
            only items outside ``X`` as in the evaluation protocol.

        Returns
        -------
        self : RankingHeadRecommender
            The fitted head, holding the best epoch's weights.
        """
        del y
        self._check_params()
        train, ufeat, ifeat, valid_csr = self._check_inputs(X, user_features, item_features, valid)
        n_users, n_items = train.shape
        device = resolve_device(self.device)
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
        opt = FunctionalAdam(
            module.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay)
        )
        self.module_, self.n_users_, self.n_items_ = module, n_users, n_items
        self.history_ = []
        started = time.perf_counter()
        self._train(opt, train, valid_csr, rng, device, started)
        module.eval()
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _train(self, opt, train, valid_csr, rng, device, started) -> None:
        """The epoch loop: train, validate, keep the best epoch, stop on patience or time."""
        module = self.module_
        n_items = module.n_items
        indptr, indices = train.indptr, train.indices.astype(np.int64)
        pos_keys = np.sort(
            np.repeat(np.arange(train.shape[0]), np.diff(indptr)) * n_items + indices
        )
        valid_users = (
            np.flatnonzero(np.diff(valid_csr.indptr) > 0) if valid_csr is not None else None
        )
        if valid_users is not None:  # the rows every epoch's validation reads
            seen_rows, truth_rows = train[valid_users], valid_csr[valid_users]
        best, best_state, since_best = -np.inf, None, 0
        bar = None
        if self.show_progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=int(self.epochs), desc="training head", unit="epoch", file=sys.stderr)
        for epoch in range(int(self.epochs)):
            t0 = time.perf_counter()
            loss = run_epoch(
                module,
                opt,
                indptr,
                indices,
                pos_keys,
                rng,
                device,
                loss=self.loss,
                n_negatives=self.n_negatives,
                temperature=float(self.temperature),
                batch_size=int(self.batch_size),
            )
            record = {"epoch": epoch, "loss": loss}
            if valid_users is not None and valid_users.size:
                top = self._topk(valid_users, int(self.eval_k), seen_rows)
                ndcg = float(np.nanmean(ndcg_at_k(top, truth_rows, int(self.eval_k))))
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

    # -- using a fitted head ------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call fit(...) or load(path) first"
            )

    def _users(self, user_indices) -> np.ndarray:
        return user_rows(user_indices, self.n_users_)

    def decision_function(self, user_indices, batch_size: int = 1024) -> np.ndarray:
        """Raw scores of every item for the given users; higher means recommend first.

        Parameters
        ----------
        user_indices : array-like of int, shape (n,)
            Rows of the training matrix.
        batch_size : int, default=1024
            Users scored per forward pass (bounds memory at ``batch_size x n_items``).

        Returns
        -------
        ndarray of float32, shape (n, n_items)
        """
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
        """Top-``k`` item indices per user, best first.

        Parameters
        ----------
        user_indices : array-like of int, shape (n,)
            Rows of the training matrix.
        k : int, default=10
            List length.
        exclude : {array-like, sparse matrix} of shape (n, n_items), optional
            Items never to return, one row per user, e.g. the users' training items.

        Returns
        -------
        ndarray of int, shape (n, k)
        """
        self._check_fitted()
        users = self._users(user_indices)
        k = positive_int(k, "k")
        if k > self.n_items_:
            raise ValueError(f"k = {k} exceeds the {self.n_items_} items")
        shape = (users.size, self.n_items_)
        ex = None if exclude is None else interaction_matrix(exclude, "exclude", shape)
        if ex is not None and np.any(self.n_items_ - np.diff(ex.indptr) < k):
            raise ValueError(f"a user has fewer than k = {k} items left after exclusion")
        return self._topk(users, k, ex)

    def score(self, X, y=None, *, exclude=None, k: int | None = None) -> float:
        """Mean NDCG@k of the head's lists against the truth matrix ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Held-out interactions; users without any are skipped.
        y : None
            Ignored; present for scikit-learn's API.
        exclude : {array-like, sparse matrix} of shape (n_users, n_items), optional
            Items already seen, masked from the lists; pass the train matrix when scoring on
            held-out data.
        k : int, optional
            The cut-off; ``eval_k`` when omitted.

        Returns
        -------
        float
            NDCG@k averaged over the users with truth items.
        """
        del y
        self._check_fitted()
        truth = interaction_matrix(X, "X", (self.n_users_, self.n_items_))
        k = int(self.eval_k) if k is None else positive_int(k, "k")
        if k > self.n_items_:
            raise ValueError(f"k = {k} exceeds the {self.n_items_} items; pass a smaller k=")
        users = np.flatnonzero(np.diff(truth.indptr) > 0)
        if users.size == 0:
            raise ValueError("X has no interactions; there is nothing to score against")
        ex = None
        if exclude is not None:
            ex = interaction_matrix(exclude, "exclude", truth.shape)[users]
        return float(np.nanmean(ndcg_at_k(self._topk(users, k, ex), truth[users], k)))

    # -- checkpoints --------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the fitted head atomically to ``path``; see :func:`~qanneal_llm.ranking.save_head`.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        pathlib.Path
        """
        self._check_fitted()
        return save_head(self, path)

    @classmethod
    def load(cls, path, device: str | None = None) -> RankingHeadRecommender:
        """Read a head written by :meth:`save`, bit for bit; see
        :func:`~qanneal_llm.ranking.load_head`.

        Parameters
        ----------
        path : str or os.PathLike
        device : str, optional
            Overrides the saved ``device``.

        Returns
        -------
        RankingHeadRecommender
            Fitted, in eval mode.
        """
        return load_head(cls, path, device)

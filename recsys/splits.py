"""Interaction indexing and the RecBole-default random split.

Numbers are only comparable with published baselines when the protocol is the same, so the split
reproduces RecBole's ``eval_args: {split: {RS: [0.8, 0.1, 0.1]}, group_by: user, order: RO}``:
every rating is an interaction, each user's interactions are shuffled with the seed and cut 8:1:1
with RecBole's rounding (:func:`split_counts`). The random stream differs from RecBole's (torch),
so the same seed gives a different but statistically equivalent split.

>>> import pandas as pd
>>> ratings = pd.DataFrame({"user_id": [7] * 10 + [9] * 3, "item_id": list(range(10)) + [1, 2, 3],
...                         "rating": 4, "timestamp": 0})
>>> split = random_split(ratings, seed=0)
>>> [len(split.train), len(split.valid), len(split.test)]
[9, 2, 2]
>>> split.matrix("train").shape
(2, 10)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["InteractionData", "Split", "UnknownIdError", "random_split", "split_counts"]

_PARTS = ("train", "valid", "test")


class UnknownIdError(ValueError, KeyError):
    """An id that the mapping has never seen.

    It is both a ``ValueError`` (bad input) and a ``KeyError`` (failed lookup), so callers can
    catch whichever their code already expects.
    """

    def __str__(self) -> str:
        # KeyError would repr() the message and wrap it in quotes; the plain text reads better.
        return str(self.args[0]) if self.args else ""


def _require_columns(df: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{name} lacks column(s) {missing}; it has {list(df.columns)}. Rename the user and"
            " item columns to 'user_id' and 'item_id'."
        )


def _integer_column(df: pd.DataFrame, column: str) -> np.ndarray:
    values = df[column].to_numpy()
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(
            f"column {column!r} must hold integer ids, got dtype {values.dtype}; map string ids to"
            " integers first"
        )
    return values.astype(np.int64, copy=False)


@dataclass(frozen=True, eq=False)
class InteractionData:
    """The bijection between raw user/item ids and the contiguous row/column indices of matrices.

    Built from *all* ratings before splitting, so an item that only appears in the test part still
    has a column and can be ranked: full ranking is over the whole catalogue, as in RecBole.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray

    @classmethod
    def from_ratings(cls, ratings_df: pd.DataFrame) -> InteractionData:
        """Index users and items in ascending raw-id order, so the mapping is reproducible."""
        _require_columns(ratings_df, ["user_id", "item_id"], "ratings_df")
        if len(ratings_df) == 0:
            raise ValueError("ratings_df is empty; there is nothing to index")
        users = np.unique(_integer_column(ratings_df, "user_id"))
        items = np.unique(_integer_column(ratings_df, "item_id"))
        return cls(user_ids=users, item_ids=items)

    @property
    def n_users(self) -> int:
        return int(self.user_ids.size)

    @property
    def n_items(self) -> int:
        return int(self.item_ids.size)

    def user_index(self, raw_ids) -> np.ndarray:
        """Row indices of raw user ids; unknown ids raise :class:`UnknownIdError`."""
        return self._lookup(self.user_ids, raw_ids, "user")

    def item_index(self, raw_ids) -> np.ndarray:
        """Column indices of raw item ids; unknown ids raise :class:`UnknownIdError`."""
        return self._lookup(self.item_ids, raw_ids, "item")

    @staticmethod
    def _lookup(known: np.ndarray, raw_ids, what: str) -> np.ndarray:
        raw = np.asarray(raw_ids)
        if raw.size and not np.issubdtype(raw.dtype, np.integer):
            raise ValueError(f"{what} ids must be integers, got dtype {raw.dtype}")
        raw = raw.astype(np.int64, copy=False)
        pos = np.searchsorted(known, raw)
        found = (pos < known.size) & (known[np.minimum(pos, known.size - 1)] == raw)
        if not np.all(found):
            unknown = np.unique(raw[~found])
            shown = ", ".join(str(u) for u in unknown[:5])
            more = f" and {unknown.size - 5} more" if unknown.size > 5 else ""
            raise UnknownIdError(
                f"unknown {what} id(s): {shown}{more}; the mapping knows {known.size} {what}s"
                f" (raw ids {known[0]}..{known[-1]})"
            )
        return pos

    def matrix(self, df: pd.DataFrame) -> sp.csr_matrix:
        """Binary ``(n_users, n_items)`` matrix of the interactions in ``df``."""
        _require_columns(df, ["user_id", "item_id"], "df")
        rows = self.user_index(_integer_column(df, "user_id"))
        cols = self.item_index(_integer_column(df, "item_id"))
        mat = sp.csr_matrix(
            (np.ones(rows.size, dtype=np.float64), (rows, cols)), shape=(self.n_users, self.n_items)
        )
        mat.sum_duplicates()
        mat.data[:] = 1.0
        return mat


@dataclass(frozen=True, eq=False)
class Split:
    """Train/valid/test interactions plus the id mapping they share."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    data: InteractionData
    seed: int
    ratios: tuple[float, float, float]
    _matrices: dict = field(default_factory=dict, init=False, repr=False)

    def matrix(self, part: str) -> sp.csr_matrix:
        """Binary interaction matrix of ``"train"``, ``"valid"`` or ``"test"`` (a copy: built
        once per part, since a run asks for each a few dozen times)."""
        if part not in self._matrices:
            self._matrices[part] = self.data.matrix(self._part(part))
        return self._matrices[part].copy()

    def seen(self, part: str = "test") -> sp.csr_matrix:
        """Items to mask when ranking for ``part``: train for valid, train + valid for test.

        This is RecBole's full-ranking rule; an item the user already interacted with must never
        be recommended, or every metric leaks.
        """
        if part == "valid":
            return self.matrix("train")
        if part == "test":
            both = self.matrix("train") + self.matrix("valid")
            both.data[:] = 1.0
            return both
        raise ValueError(f"part must be 'valid' or 'test' to have a seen mask, got {part!r}")

    def _part(self, part: str) -> pd.DataFrame:
        if part not in _PARTS:
            raise ValueError(f"part must be one of {_PARTS}, got {part!r}")
        return getattr(self, part)


def split_counts(n: int, ratios: Sequence[float]) -> list[int]:
    """Sizes of the parts of one user's ``n`` interactions, with RecBole's rounding.

    Every part but the first is rounded down, the first takes the rest, and a part whose exact
    share is in (0, 1) is bumped to one interaction while the first part keeps at least one. This
    is ``recbole.data.dataset.Dataset._calcu_split_ids`` (v1.2.1), so per-user sizes match.

    >>> split_counts(10, (0.8, 0.1, 0.1)), split_counts(5, (0.8, 0.1, 0.1))
    ([8, 1, 1], [3, 1, 1])
    >>> split_counts(1, (0.8, 0.1, 0.1))
    [1, 0, 0]
    """
    total = float(sum(ratios))
    shares = [r / total for r in ratios]
    cnt = [int(s * n) for s in shares]
    cnt[0] = n - sum(cnt[1:])
    for i in range(1, len(shares)):
        if cnt[0] <= 1:
            break
        if 0 < shares[-i] * n < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


def random_split(ratings_df: pd.DataFrame, ratios=(0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Per-user random split of the ratings into train/valid/test (RecBole's default protocol).

    Duplicate ``(user_id, item_id)`` pairs are refused: they could land in train and test at once
    and leak the answer into training.
    """
    _require_columns(ratings_df, ["user_id", "item_id"], "ratings_df")
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or not all(np.isfinite(r) and r > 0 for r in ratios):
        raise ValueError(
            f"ratios must be three positive numbers (train, valid, test), got {ratios}"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    data = InteractionData.from_ratings(ratings_df)
    users = data.user_index(_integer_column(ratings_df, "user_id"))
    items = data.item_index(_integer_column(ratings_df, "item_id"))
    keys = users * data.n_items + items
    if np.unique(keys).size != keys.size:
        raise ValueError(
            "ratings_df has duplicate (user_id, item_id) pairs; keep one per pair (for example the"
            " latest by timestamp) so the same interaction cannot be in train and test"
        )

    # A global shuffle followed by a stable sort by user gives each user an independent random
    # order, exactly what RecBole's shuffle-then-group does.
    order = np.random.default_rng(int(seed)).permutation(len(ratings_df))
    order = order[np.argsort(users[order], kind="stable")]
    sizes = np.bincount(users, minlength=data.n_users)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank_in_user = np.arange(order.size) - np.repeat(starts, sizes)

    counts = np.array([split_counts(int(n), ratios) for n in sizes])
    cut1 = np.repeat(counts[:, 0], sizes)
    cut2 = cut1 + np.repeat(counts[:, 1], sizes)
    part = np.empty(order.size, dtype=np.int8)
    part[order] = (rank_in_user >= cut1).astype(np.int8) + (rank_in_user >= cut2)
    frames = [ratings_df[part == p] for p in range(3)]
    return Split(*frames, data=data, seed=int(seed), ratios=ratios)

"""Cold splits: whole items or whole users held out, with a validation part carved from the warm.

Cold items (CQFS, Nembrini et al. 2021): items are split 70/10/20 into train, validation and
test items, each with *all* their interactions. Settings are chosen by fitting on the train items
and ranking the validation items; the test score comes from fitting on train + validation items
and ranking the test items. No test item's interactions are seen before it is ranked.

Cold users: users are split the same way; a held-out user's ratings are divided at random into
an "answer" half (what the user would say when asked about an item) and a fixed "truth" half
that every onboarding strategy is scored on, so strategies that ask about popular items do not
change what they are graded against (Rashid et al., IUI 2002).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.splits import InteractionData

__all__ = ["ColdItemSplit", "ColdUserSplit", "cold_item_split", "cold_user_split"]


def _partition(n: int, fractions, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    valid_frac, test_frac = (float(f) for f in fractions)
    if not (0 < valid_frac and 0 < test_frac and valid_frac + test_frac < 1):
        raise ValueError(
            f"valid and test fractions must be positive and sum below 1, got {fractions}"
        )
    order = np.random.default_rng(int(seed)).permutation(n)
    n_test, n_valid = max(1, int(round(test_frac * n))), max(1, int(round(valid_frac * n)))
    if n_test + n_valid >= n:
        raise ValueError(f"{n} entities are too few to hold out {n_valid} + {n_test}")
    test, valid = order[:n_test], order[n_test : n_test + n_valid]
    return np.sort(order[n_test + n_valid :]), np.sort(valid), np.sort(test)


def _stage(part: str, train, valid, test) -> tuple[np.ndarray, np.ndarray]:
    """``(warm, cold)`` indices: validation is cold against train; test against train + valid."""
    if part == "valid":
        return train, valid
    if part == "test":
        return np.union1d(train, valid), test
    raise ValueError(f"part must be 'valid' or 'test', got {part!r}")


def _keep(matrix: sp.csr_matrix, index: np.ndarray, axis: int) -> sp.csr_matrix:
    """``matrix`` with every row (``axis=0``) or column (``axis=1``) outside ``index`` zeroed."""
    keep = np.zeros(matrix.shape[axis])
    keep[index] = 1.0
    out = sp.csr_matrix(sp.diags(keep) @ matrix if axis == 0 else matrix @ sp.diags(keep))
    out.eliminate_zeros()
    return out


@dataclass(frozen=True, eq=False)
class ColdItemSplit:
    """Item index sets over one binary users x items matrix (all ratings)."""

    matrix: sp.csr_matrix
    data: InteractionData
    train_items: np.ndarray
    valid_items: np.ndarray
    test_items: np.ndarray
    seed: int

    def stage(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        """``(warm items, cold items)`` of the ``"valid"`` or ``"test"`` stage."""
        return _stage(part, self.train_items, self.valid_items, self.test_items)

    def fit_matrix(self, part: str) -> sp.csr_matrix:
        """The interactions a model may learn from: the stage's cold columns zeroed."""
        return _keep(self.matrix, self.stage(part)[0], axis=1)


def _binary(ratings: pd.DataFrame) -> tuple[sp.csr_matrix, InteractionData]:
    data = InteractionData.from_ratings(ratings)
    return data.matrix(ratings), data


def cold_item_split(ratings: pd.DataFrame, fractions=(0.1, 0.2), seed: int = 0) -> ColdItemSplit:
    """Hold out ``fractions`` = (validation, test) of the items with all their interactions."""
    matrix, data = _binary(ratings)
    train, valid, test = _partition(data.n_items, fractions, seed)
    return ColdItemSplit(matrix, data, train, valid, test, int(seed))


@dataclass(frozen=True, eq=False)
class ColdUserSplit:
    """User index sets, and each held-out user's answers vs truth halves."""

    matrix: sp.csr_matrix
    data: InteractionData
    train_users: np.ndarray
    valid_users: np.ndarray
    test_users: np.ndarray
    answers: sp.csr_matrix
    truth: sp.csr_matrix
    seed: int

    def stage(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        """``(warm users, cold users)``: valid users are cold for the validation stage only."""
        return _stage(part, self.train_users, self.valid_users, self.test_users)

    def warm_matrix(self, part: str) -> sp.csr_matrix:
        """All interactions of the stage's warm users (rows of cold users are empty)."""
        return _keep(self.matrix, self.stage(part)[0], axis=0)


def cold_user_split(
    ratings: pd.DataFrame, fractions=(0.1, 0.2), seed: int = 0, answer_share: float = 0.5
) -> ColdUserSplit:
    """Hold out ``fractions`` = (validation, test) of the users; split each held-out user's
    interactions into answers (``answer_share``) and truth, at random with ``seed``."""
    if not 0 < answer_share < 1:
        raise ValueError(f"answer_share must be in (0, 1), got {answer_share!r}")
    matrix, data = _binary(ratings)
    train, valid, test = _partition(data.n_users, fractions, seed)
    rng = np.random.default_rng((int(seed), 1))
    coo = matrix.tocoo()
    held = np.isin(coo.row, np.concatenate([valid, test]))
    is_answer = held & (rng.random(coo.nnz) < answer_share)
    is_truth = held & ~is_answer

    def part(mask):
        return sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=matrix.shape)

    return ColdUserSplit(matrix, data, train, valid, test, part(is_answer), part(is_truth), seed)

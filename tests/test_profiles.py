"""User vectors from the vectors of the items they rated."""

import numpy as np
import pytest

from recsys.profiles import weighted_user_vectors


def test_weighted_user_vectors_match_an_explicit_loop():
    rng = np.random.default_rng(7)
    n_users, n_items, n = 6, 9, 40
    users = rng.integers(0, n_users - 1, n)  # the last user has no interactions
    items = rng.integers(0, n_items, n)
    vectors = rng.normal(size=(n_items, 5))
    ratings = rng.integers(1, 6, n).astype(float)
    stamps = rng.integers(0, 400 * 86400, n)
    out = weighted_user_vectors(users, items, vectors, ratings, stamps, n_users, half_life_days=30)
    assert out.shape == (n_users, 5) and out.dtype == np.float32
    for u in range(n_users - 1):
        mine = users == u
        if not mine.any():
            continue
        age = (stamps[mine].max() - stamps[mine]) / 86400
        expected = ((ratings[mine] * 0.5 ** (age / 30))[:, None] * vectors[items[mine]]).sum(0)
        np.testing.assert_allclose(out[u], expected / np.linalg.norm(expected), atol=1e-5)
    np.testing.assert_array_equal(out[-1], 0)


def test_recency_favours_recent_items_and_ignores_a_users_time_shift():
    vectors = np.eye(2)
    args = ([0, 0], [0, 1], vectors, [1, 1])
    recent_second = weighted_user_vectors(*args, [0, 100 * 86400], half_life_days=10)
    assert recent_second[0, 1] > 0.99
    shifted = weighted_user_vectors(*args, [5e8, 5e8 + 100 * 86400], half_life_days=10)
    np.testing.assert_allclose(shifted, recent_second, atol=1e-6)
    plain = weighted_user_vectors(*args)
    np.testing.assert_allclose(plain[0], [2**-0.5, 2**-0.5], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ratings": [-1, 2]}, "non-negative"),
        ({"half_life_days": 5}, "timestamps"),
        ({"timestamps": [0, 1], "half_life_days": 0}, "positive"),
        ({"n_users": 1}, "n_users"),
    ],
)
def test_weighted_user_vectors_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        weighted_user_vectors([0, 1], [0, 1], np.eye(2), **kwargs)


def test_weighted_user_vectors_checks_indices():
    with pytest.raises(ValueError, match="item_vectors has 2 rows"):
        weighted_user_vectors([0], [5], np.eye(2))
    with pytest.raises(ValueError, match="integer"):
        weighted_user_vectors([0.5], [0], np.eye(2))

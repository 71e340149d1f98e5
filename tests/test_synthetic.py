"""The synthetic slate workload: seeded per user, with ml-100k's measured statistics."""

import numpy as np
import pytest

from recsys.synthetic import ML100K, synthetic_slate, synthetic_slates


def test_each_user_is_the_same_whatever_slice_draws_it():
    whole = list(synthetic_slates(8, seed=3))
    part = list(synthetic_slates(3, seed=3, start=4))
    for a, b in zip(whole[4:7], part, strict=True):
        assert np.array_equal(a.linear, b.linear) and np.array_equal(a.quadratic, b.quadratic)
    assert not np.array_equal(whole[0].linear, synthetic_slate(0, seed=4).linear)


def test_models_are_the_pipelines_slate_models():
    model = synthetic_slate(0, k=7, diversity=0.2)
    assert (model.n, model.k, model.name) == (ML100K.n_candidates, 7, "slate")
    relevance = -model.linear
    assert relevance[0] == 1.0 and relevance[-1] == 0.0 and np.all(np.diff(relevance) <= 0)


def test_workload_statistics_match_the_fitted_ml100k_ones():
    models = list(synthetic_slates(300, seed=1))
    relevance = np.stack([-m.linear for m in models])
    # measured on ml-100k's slate stage (python -m recsys.synthetic --measure)
    for rank, real in {1: 0.914, 10: 0.659, 50: 0.268, 80: 0.095}.items():
        assert abs(relevance[:, rank].mean() - real) < 0.03
    cosines = [m.quadratic[np.triu_indices(m.n, 1)] / 0.1 for m in models]
    assert abs(np.mean([c.mean() for c in cosines]) - 0.4793) < 0.01
    assert abs(np.mean([c.std() for c in cosines]) - 0.081) < 0.01


def test_negative_user_count_is_refused():
    with pytest.raises(ValueError, match="n_users must be >= 0"):
        list(synthetic_slates(-1))

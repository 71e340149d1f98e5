"""The shared helpers of qanneal_llm._validation, and the drifted behaviours decided once."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from qanneal_llm._validation import (
    check_seed,
    check_solver_options,
    interaction_matrix,
    positive_int,
    resolve_device,
    torch_threads,
    unit_rows,
)
from qanneal_llm.portfolio import PortfolioSelector
from qanneal_llm.qubo import cosine_similarity, slate_model
from qanneal_llm.ranking import ndcg_at_k, sample_negatives
from recsys.baselines import mmr
from recsys.metrics import ild, ranking_metrics


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "3", None])
def test_positive_int_refuses_everything_but_positive_ints(bad):
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        positive_int(bad, "epochs")


def test_seed_and_options_checks():
    assert check_seed(np.int32(5)) == 5 and check_seed(None) is None
    for bad in (1.0, True, "0"):
        with pytest.raises(ValueError, match="seed must be an integer or None"):
            check_seed(bad)
    options = {"num_reads": 2}
    copied = check_solver_options(options)
    copied.pop("num_reads")
    assert options == {"num_reads": 2} and check_solver_options(None) == {}
    with pytest.raises(ValueError, match="solver_options must be a dict"):
        check_solver_options([("num_reads", 2)])


def test_zero_rows_raise_in_every_cosine():
    """Decided once: an all-zero vector has no cosine; every caller refuses it by row."""
    vectors = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    calls = [
        lambda: cosine_similarity(vectors),
        lambda: slate_model([1.0, 0.5, 0.2], 2, vectors=vectors),
        lambda: mmr([1.0, 0.5, 0.2], vectors, k=2),
        lambda: ild(np.array([[0, 1]]), vectors),
        lambda: PortfolioSelector(k=2, embeddings=vectors).fit(
            np.random.default_rng(0).normal(0, 0.01, size=(30, 3))
        ),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="row 1 is all zeros"):
            call()
    assert np.allclose(unit_rows([[3.0, 4.0], [0.0, 2.0]], "v"), [[0.6, 0.8], [0.0, 1.0]])


def test_interaction_matrix_one_rule_for_dense_sparse_and_explicit_zeros():
    """Decided once: any stored non-zero is one interaction; dense and sparse alike; a copy."""
    raw = sp.csr_matrix(np.array([[0.0, 2.0, -1.0], [0.0, 0.0, 0.0]]))
    raw.data[0] = 0.0  # an explicitly stored zero is not an interaction
    out = interaction_matrix(raw, "X")
    assert out.toarray().tolist() == [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    assert raw.data.tolist() == [0.0, -1.0]  # the caller's matrix is untouched
    dense = interaction_matrix([[0, 2.0, -1.0], [0, 0, 0]], "X")
    assert dense.toarray().tolist() == [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match="NaN or inf"):
        interaction_matrix(sp.csr_matrix([[np.nan, 1.0]]), "X")
    with pytest.raises(ValueError, match=r"expected \(3, 3\)"):
        interaction_matrix(out, "valid", (3, 3))
    with pytest.raises(ValueError, match="2-D"):
        interaction_matrix([1.0, 2.0], "X")


def test_recsys_ndcg_is_the_plugins_ndcg():
    rng = np.random.default_rng(0)
    truth = sp.csr_matrix((rng.random((40, 25)) < 0.1).astype(float))
    top = np.argsort(rng.random((40, 25)), axis=1)[:, :10]
    per_row = ndcg_at_k(top, truth, 10)
    assert ranking_metrics(top, truth, k=10)["ndcg"] == float(np.nanmean(per_row))


def test_sample_negatives_never_returns_a_positive():
    rng = np.random.default_rng(0)
    train = sp.csr_matrix((rng.random((30, 12)) < 0.5).astype(float))
    users = np.repeat(np.arange(30), np.diff(train.indptr))
    keys = np.sort(users * 12 + train.indices)
    neg = sample_negatives(np.random.default_rng(1), users, 12, keys)
    assert not np.any(np.asarray(train[users, neg]).ravel())


def test_resolve_device_and_torch_threads():
    assert resolve_device("cpu").type == "cpu" and resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu7")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    before = torch.get_num_threads()
    other = before + 1  # a change whatever torch's default, so the restore is visible
    with pytest.raises(RuntimeError), torch_threads(other):
        assert torch.get_num_threads() == other
        raise RuntimeError("restored even on error")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n_threads must be a positive integer"), torch_threads(0):
        pass

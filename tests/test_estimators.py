"""scikit-learn faces of the QUBO selectors."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator

from qanneal_llm.estimators import QUBOFeatureSelector, SlateSelector


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8))
    X[:, 5] = X[:, 2] + 0.01 * rng.normal(size=300)  # a near copy of column 2
    y = 2 * X[:, 2] + X[:, 6] + 0.1 * rng.normal(size=300)
    return X, y


def test_selects_relevant_and_drops_the_redundant_copy(regression):
    X, y = regression
    sel = QUBOFeatureSelector(k=2, solver="exact").fit(X, y)
    chosen = set(sel.get_support(indices=True).tolist())
    assert 6 in chosen and len(chosen & {2, 5}) == 1
    assert sel.result_.solver == "exact" and sel.result_.feasible and not sel.result_.repaired
    assert sel.transform(X).shape == (300, 2)


def test_plain_top_k_without_redundancy_keeps_both_copies(regression):
    X, y = regression
    sel = QUBOFeatureSelector(k=2, redundancy=0.0, solver="exact").fit(X, y)
    assert set(sel.get_support(indices=True).tolist()) == {2, 5}


def test_fraction_k_seed_and_class_labels(regression):
    X, y = regression
    sel = QUBOFeatureSelector(k=0.25, method="mutual_info", seed=7).fit(X, y)
    assert sel.k_ == 2 and sel.result_.seed == 7
    labels = np.where(y > 0, "pos", "neg")
    assert QUBOFeatureSelector(k=3).fit(X, labels).support_.sum() == 3


def test_in_a_pipeline(regression):
    X, y = regression
    pipe = make_pipeline(QUBOFeatureSelector(k=2), LinearRegression()).fit(X, y)
    assert pipe.score(X, y) > 0.95


@pytest.mark.parametrize(
    "kwargs, X_change, match",
    [
        ({"k": 9}, None, "k = 9 but n_features = 8"),
        ({"k": 1.5}, None, r"fraction .* \(0, 1\]"),
        ({"method": "chi2"}, None, "unknown method"),
        ({}, "nan", "NaN"),
    ],
)
def test_bad_input(regression, kwargs, X_change, match):
    X, y = regression
    X = X.copy()
    if X_change == "nan":
        X[3, 1] = np.nan
    with pytest.raises(ValueError, match=match):
        QUBOFeatureSelector(**kwargs).fit(X, y)


def test_passes_sklearn_estimator_checks():
    check_estimator(QUBOFeatureSelector())


def test_slate_selector_trades_relevance_for_diversity():
    vectors = [[1, 0], [1, 0.02], [0.98, 0.05], [0, 1]]
    relevance = [0.9, 0.85, 0.8, 0.3]
    greedy = SlateSelector(k=2, diversity=0.0, solver="exact").fit(vectors, relevance)
    diverse = SlateSelector(k=2, diversity=1.0, solver="exact").fit(vectors, relevance)
    assert greedy.indices_.tolist() == [0, 1]
    assert diverse.indices_.tolist() == [0, 3]
    assert diverse.support_.tolist() == [True, False, False, True]
    assert clone(diverse).get_params() == diverse.get_params()


def test_slate_selector_ids_similarity_and_errors():
    sim = np.array([[1, 0.9, 0], [0.9, 1, 0], [0, 0, 1.0]])
    sel = SlateSelector(k=2, diversity=1.0, seed=3).fit(
        None, [1.0, 0.9, 0.2], similarity=sim, ids=["a", "b", "c"]
    )
    assert sel.ids_ == ["a", "c"] and sel.result_.seed == 3 and sel.result_.feasible
    assert not hasattr(sel, "n_features_in_")
    assert sel.fit([[1, 0], [1, 0.1], [0, 1]], [1.0, 0.9, 0.2]).n_features_in_ == 2
    sel.fit(None, [1.0, 0.9, 0.2], similarity=sim)
    assert not hasattr(sel, "n_features_in_") and sel.k_ == 2
    with pytest.raises(ValueError, match="exactly one"):
        SlateSelector().fit([[1.0]], [1.0], similarity=[[1.0]])
    with pytest.raises(ValueError, match=r"k = 5 but n_samples = 2 \(candidates\)"):
        SlateSelector(k=5).fit([[1, 0], [0, 1]], [0.5, 0.5])


def test_multi_label_y_keeps_a_feature_for_each_label():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    Y = np.column_stack([X[:, 1] > 0, X[:, 4] > 0.5, X[:, 1] + 0.1 * X[:, 0] > 0]).astype(int)
    sel = QUBOFeatureSelector(k=2, solver="exact").fit(X, Y)
    assert sel.get_support(indices=True).tolist() == [1, 4]  # label 2 alone would not pick 4
    only_first = QUBOFeatureSelector(k=2, solver="exact", redundancy=0).fit(X, Y[:, [0, 2]])
    assert 4 not in only_first.get_support(indices=True)
    with pytest.raises(ValueError, match="MultiLabelBinarizer"):
        QUBOFeatureSelector(k=2).fit(X, np.array([["a", "b"]] * 300))


def test_class_labels_are_categories_for_correlation():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 7))
    labels = np.array(["a", "b", "c"])[X[:, [1, 3, 5]].argmax(axis=1)]
    sel = QUBOFeatureSelector(k=3, solver="exact", redundancy=0).fit(X, labels)
    assert sel.get_support(indices=True).tolist() == [1, 3, 5]
    codes = np.unique(labels, return_inverse=True)[1]  # a number: "b" sits between a and c
    by_code = QUBOFeatureSelector(k=3, solver="exact", redundancy=0).fit(X, codes)
    assert 3 not in by_code.get_support(indices=True)

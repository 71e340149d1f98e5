"""MovieLens-100k end to end: embeddings -> feature QUBO -> ranking head -> slate QUBO -> metrics.

Stages, each a function whose output the next one takes (and which can be reused):

1. :func:`load_split` - the ratings, split 8:1:1 per user as RecBole does by default.
2. :func:`embed_items` - item texts through :class:`qanneal_llm.embeddings.TextEncoder`, whose
   on-disk cache makes a second run skip the model entirely.
3. :func:`select_features` - a CQFS-style QUBO keeps the ``n_features`` of the 384 embedding
   dimensions whose item-item similarity agrees with the item-item cosine of training
   interactions (:func:`qanneal_llm.collaborative_feature_model`).
4. :func:`fit_head` - a :class:`qanneal_llm.ranking.RankingHeadRecommender` on the selected
   dimensions plus id embeddings, early-stopped on validation NDCG@10 (or loaded from a
   checkpoint).
5. :func:`candidate_lists` - every unseen item scored, the top ``n_candidates`` kept.
6. :func:`qubo_slates` - per user, the slate QUBO ``relevance - lambda x similarity`` with
   ``k`` items, relevance the head's candidate scores min-max scaled to [0, 1] per user and
   similarity the cosine of the full 384-d item text embeddings (the vectors ILD@10 is measured
   with), solved with ``solve_many``. :func:`rerank_baseline` runs MMR and greedy DPP on the same
   candidates and relevance.

All lists are evaluated with :func:`recsys.metrics.evaluate` on the test part, ranking only
items outside train + valid, so no method can recommend what the user already saw. Re-ranked
slates are sets; each is shown best-relevance first, so the comparison between QUBO, MMR and DPP
is about *which* items they choose.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from qanneal_llm import collaborative_feature_model, slate_model, solve, solve_many
from qanneal_llm.embeddings import TextEncoder, weighted_user_vectors
from qanneal_llm.ranking import LOSSES, RankingHeadRecommender
from qanneal_llm.storage import json_default
from recsys.baselines import ItemKNN, MostPop, dpp_greedy, mmr
from recsys.metrics import evaluate, topk_from_scores
from recsys.splits import Split, random_split

__all__ = [
    "RecommendConfig",
    "candidate_lists",
    "collaborative_similarity",
    "configure_parser",
    "embed_items",
    "fit_head",
    "load_split",
    "qubo_slates",
    "rerank_baseline",
    "run",
    "run_from_args",
    "select_features",
]

DATASETS = ("ml-100k",)
_SOLVE_CHUNK = 128


@dataclass
class RecommendConfig:
    """Every choice a run makes; stored verbatim in the report."""

    dataset: str = "ml-100k"
    solver: str = "anneal"
    k: int = 10
    diversity: float = 0.1
    n_features: int = 64
    feature_solver: str = "anneal"
    n_candidates: int = 100
    loss: str = "softmax"
    dim: int = 64
    epochs: int = 100
    seed: int = 0
    output: str = "results/recommend"
    head_path: str | None = None
    max_users: int | None = None
    max_items: int | None = None
    baselines: bool = True
    baseline_weight: float = 0.3
    show_progress: bool = True
    torch_threads: int | None = 1
    solver_options: dict = field(default_factory=dict)

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {DATASETS}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("k", "n_features", "n_candidates", "dim", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.k > self.n_candidates:
            raise ValueError(
                f"k = {self.k} exceeds n_candidates = {self.n_candidates}; the slate is chosen"
                " from the candidates, so raise --candidates or lower --k"
            )
        if not (np.isfinite(self.diversity) and self.diversity >= 0):
            raise ValueError(f"diversity (lambda) must be >= 0, got {self.diversity!r}")
        if not 0 <= self.baseline_weight <= 1:
            raise ValueError(f"baseline_weight must be in [0, 1], got {self.baseline_weight!r}")
        if self.head_path is not None and not Path(self.head_path).is_file():
            raise FileNotFoundError(
                f"no ranking-head checkpoint at {self.head_path}; run once without --head, then"
                " pass the head.qllm it writes to the output folder"
            )
        for name in ("max_users", "max_items"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 2):
                raise ValueError(f"{name} must be an integer >= 2 or None, got {value!r}")


def _progress(iterable, show: bool, **kw):
    if not show:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, file=sys.stderr, **kw)


# -- stages -----------------------------------------------------------------------------------
def load_split(config: RecommendConfig):
    """The dataset and its split; ``max_users``/``max_items`` keep the lowest user ids and the
    most-rated items (a deterministic slice for quick runs and tests)."""
    from recsys.datasets import load_movielens

    ml = load_movielens()
    ratings = ml.ratings
    if config.max_items is not None:
        counts = ratings.groupby("item_id").size().sort_values(ascending=False, kind="stable")
        ratings = ratings[ratings.item_id.isin(counts.index[: config.max_items])]
    if config.max_users is not None:
        keep = np.sort(ratings.user_id.unique())[: config.max_users]
        ratings = ratings[ratings.user_id.isin(keep)]
    return ml, random_split(ratings.reset_index(drop=True), seed=config.seed)


def embed_items(ml, split: Split, encoder: TextEncoder | None = None, show_progress=False):
    """Text embeddings ``(n_items, 384)`` in the split's item order (rows = item indices)."""
    from recsys.texts import item_texts

    encoder = encoder or TextEncoder(show_progress=show_progress)
    items = ml.items.loc[split.data.item_ids]
    return np.asarray(encoder.encode(list(item_texts(items))), dtype=np.float32)


def collaborative_similarity(train: sp.csr_matrix) -> np.ndarray:
    """Item-item cosine of the training interaction columns, zero diagonal (CQFS's signal)."""
    csc = sp.csc_matrix(train, dtype=np.float64)
    co = (csc.T @ csc).toarray()
    norms = np.sqrt(np.diag(co))
    sim = co / np.maximum(np.outer(norms, norms), 1e-12)
    np.fill_diagonal(sim, 0.0)
    return sim


def select_features(item_vectors, train, n_features: int, solver="anneal", seed=0, **options):
    """Solve the collaborative feature QUBO; the result's ``indices`` are the kept dimensions."""
    model = collaborative_feature_model(item_vectors, collaborative_similarity(train), n_features)
    return solve(model, solver, seed=seed, **options)


def user_content(split: Split, item_features: np.ndarray) -> np.ndarray:
    """Each user's content vector: rating-weighted mean of their *training* items' features."""
    train = split.train
    return weighted_user_vectors(
        split.data.user_index(train.user_id.to_numpy()),
        split.data.item_index(train.item_id.to_numpy()),
        item_features,
        ratings=train.rating.to_numpy(dtype=np.float64) if "rating" in train else None,
        n_users=split.data.n_users,
    )


def fit_head(split: Split, item_features, config: RecommendConfig) -> RankingHeadRecommender:
    """Train the head on train, early-stopping on valid (the test part is never looked at).

    ``config.torch_threads`` caps torch's threads while training (restored after): the head's
    matrices are small, so extra threads mostly add synchronisation, and on a shared machine
    they oversubscribe the cores.
    """
    head = RankingHeadRecommender(
        dim=config.dim,
        loss=config.loss,
        epochs=config.epochs,
        seed=config.seed,
        show_progress=config.show_progress,
    )
    before = torch.get_num_threads()
    if config.torch_threads:
        torch.set_num_threads(int(config.torch_threads))
    try:
        return head.fit(
            split.matrix("train"),
            user_features=user_content(split, item_features),
            item_features=item_features,
            valid=split.matrix("valid"),
        )
    finally:
        torch.set_num_threads(before)


def candidate_lists(scores: np.ndarray, split: Split, n_candidates: int, part: str = "test"):
    """Top ``n_candidates`` unseen items per user and their scores (clamped to what every user
    can still be shown)."""
    seen = split.seen(part)
    rankable = int((scores.shape[1] - np.diff(seen.indptr)).min())
    m = min(int(n_candidates), rankable)
    cands = topk_from_scores(scores, seen, k=m)
    return cands, np.take_along_axis(scores, cands, axis=1)


def _relevance(cand_scores: np.ndarray) -> np.ndarray:
    low = cand_scores.min(axis=1, keepdims=True)
    span = cand_scores.max(axis=1, keepdims=True) - low
    return np.divide(cand_scores - low, span, out=np.zeros_like(cand_scores), where=span > 0)


def qubo_slates(
    cands,
    cand_scores,
    item_vectors,
    k,
    diversity,
    solver="anneal",
    seed=0,
    show_progress=False,
    **options,
):
    """One slate QUBO per user over its candidates; returns ``(slates (U, k), solver summary)``.

    Slates are returned in descending relevance. The summary counts feasible, repaired and
    polished answers and records the solver, base seed and time.
    """
    vectors = np.asarray(item_vectors, dtype=np.float64)
    rel = _relevance(np.asarray(cand_scores, dtype=np.float64))
    started = time.perf_counter()
    results = []
    chunks = range(0, cands.shape[0], _SOLVE_CHUNK)
    for c, start in enumerate(_progress(chunks, show_progress, desc="slate QUBOs", unit="chunk")):
        rows = range(start, min(start + _SOLVE_CHUNK, cands.shape[0]))
        models = [
            slate_model(rel[u], k, vectors=vectors[cands[u]], diversity=diversity) for u in rows
        ]
        chunk_seed = int(np.random.SeedSequence((int(seed), c)).generate_state(1)[0] >> 1)
        results.extend(solve_many(models, solver, seed=chunk_seed, **options))
    slates = np.empty((cands.shape[0], k), dtype=np.int64)
    for u, res in enumerate(results):
        chosen = np.asarray(res.indices)
        chosen = chosen[np.argsort(-rel[u, chosen], kind="stable")]
        slates[u] = cands[u, chosen]
    summary = {
        "solver": results[0].solver if results else solver,
        "seed": int(seed),
        "seeds": "per chunk of 128 users: SeedSequence((seed, chunk)), then solve_many's stream",
        "n_problems": len(results),
        "n_feasible": int(sum(r.feasible for r in results)),
        "n_repaired": int(sum(r.repaired for r in results)),
        "n_polished": int(sum(r.polished for r in results)),
        "mean_objective": float(np.mean([r.objective for r in results])) if results else None,
        "seconds": time.perf_counter() - started,
        "options": options,
    }
    return slates, summary


def rerank_baseline(cands, cand_scores, item_vectors, k, method="mmr", weight=0.5):
    """MMR (``weight`` = its lambda) or greedy DPP (``weight`` = theta) on the same candidates
    and relevance as the QUBO; lists in descending relevance like :func:`qubo_slates`."""
    vectors = np.asarray(item_vectors, dtype=np.float64)
    rel = _relevance(np.asarray(cand_scores, dtype=np.float64))
    out = np.empty((cands.shape[0], k), dtype=np.int64)
    for u in range(cands.shape[0]):
        if method == "mmr":
            chosen = mmr(rel[u], vectors[cands[u]], k, lambda_=weight)
        elif method == "dpp":
            chosen = dpp_greedy(rel[u], vectors[cands[u]], k, theta=weight)
        else:
            raise ValueError(f"method must be 'mmr' or 'dpp', got {method!r}")
        chosen = chosen[np.argsort(-rel[u, chosen], kind="stable")]
        out[u] = cands[u, chosen]
    return out


# -- the whole run ----------------------------------------------------------------------------
def _metrics(topk, split, item_vectors, k):
    return {
        name: (round(value, 6) if isinstance(value, float) else value)
        for name, value in evaluate(topk, split, item_vectors=item_vectors, k=k).items()
    }


def run(
    config: RecommendConfig,
    item_vectors: np.ndarray | None = None,
    encoder: TextEncoder | None = None,
) -> dict:
    """Run every stage, write ``report.json``, ``head.qllm`` and PNGs to ``config.output``.

    ``item_vectors`` skips the embedding stage (e.g. vectors computed elsewhere); ``encoder``
    replaces the default :class:`TextEncoder` (another model, another cache). Returns the
    report dict.
    """
    config.validate()
    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    show = config.show_progress

    def stage(name):
        timings[name] = time.perf_counter()
        if show:
            print(f"[recommend] {name} ...", file=sys.stderr, flush=True)

    def done(name):
        timings[name] = round(time.perf_counter() - timings[name], 3)

    started = time.perf_counter()
    stage("load")
    ml, split = load_split(config)
    done("load")

    stage("embed")
    if item_vectors is None:
        item_vectors = embed_items(ml, split, encoder, show_progress=show)
    item_vectors = np.asarray(item_vectors, dtype=np.float32)
    if item_vectors.shape[0] != split.data.n_items:
        raise ValueError(
            f"item_vectors has {item_vectors.shape[0]} rows, the split has {split.data.n_items}"
            " items; embed the items of this split"
        )
    done("embed")

    stage("feature_selection")
    n_features = min(config.n_features, item_vectors.shape[1])
    feat = select_features(
        item_vectors, split.matrix("train"), n_features, config.feature_solver, config.seed
    )
    selected = np.asarray(feat.indices)
    done("feature_selection")

    stage("head")
    if config.head_path:
        head = RankingHeadRecommender.load(config.head_path)
        if (head.n_users_, head.n_items_) != (split.data.n_users, split.data.n_items):
            raise ValueError(
                f"the head at {config.head_path} was trained on {head.n_users_} users x"
                f" {head.n_items_} items, this split has {split.data.n_users} x"
                f" {split.data.n_items}; rerun without --head to train a matching one"
            )
        head_source = f"loaded from {config.head_path}"
    else:
        head = fit_head(split, item_vectors[:, selected], config)
        head_source = "trained"
    head.save(out / "head.qllm")
    done("head")

    stage("candidates")
    users = np.arange(split.data.n_users)
    scores = head.decision_function(users).astype(np.float64)
    cands, cand_scores = candidate_lists(scores, split, config.n_candidates)
    head_top = cands[:, : config.k]
    done("candidates")

    stage("slates")
    slates, solver_info = qubo_slates(
        cands,
        cand_scores,
        item_vectors,
        config.k,
        config.diversity,
        config.solver,
        config.seed,
        show_progress=show,
        **config.solver_options,
    )
    done("slates")

    stage("evaluate")
    methods = {
        "head": _metrics(head_top, split, item_vectors, config.k),
        "qubo_slate": _metrics(slates, split, item_vectors, config.k),
    }
    if config.baselines:
        for name, model in (("MostPop", MostPop()), ("ItemKNN", ItemKNN())):
            top = topk_from_scores(model.fit(split).score(users), split.seen("test"), config.k)
            methods[name] = _metrics(top, split, item_vectors, config.k)
        for method in ("mmr", "dpp"):
            top = rerank_baseline(
                cands, cand_scores, item_vectors, config.k, method, config.baseline_weight
            )
            methods[f"{method}@{config.baseline_weight}"] = _metrics(
                top, split, item_vectors, config.k
            )
    done("evaluate")
    timings["total"] = round(time.perf_counter() - started, 3)

    report = {
        "config": asdict(config),
        "data": {
            "dataset": config.dataset,
            "n_users": split.data.n_users,
            "n_items": split.data.n_items,
            "n_train": len(split.train),
            "n_valid": len(split.valid),
            "n_test": len(split.test),
            "split": f"per-user random {split.ratios}, seed {split.seed}",
            "protocol": "full ranking over items outside train+valid, test part, @k",
        },
        "metrics": methods,
        "feature_selection": {
            "n_selected": int(selected.size),
            "of": int(item_vectors.shape[1]),
            "selected": selected.tolist(),
            "solver": feat.solver,
            "seed": feat.seed,
            "objective": feat.objective,
            "breakdown": feat.breakdown,
            "feasible": feat.feasible,
            "repaired": feat.repaired,
            "seconds": feat.timings.get("total"),
        },
        "head": {
            "source": head_source,
            "params": head.get_params(),
            "best_epoch": head.best_epoch_,
            "epochs_run": len(head.history_),
            "best_valid_ndcg": max(
                (h.get("valid_ndcg", float("nan")) for h in head.history_), default=None
            ),
            "fit_seconds": head.fit_seconds_,
            "checkpoint": str(out / "head.qllm"),
        },
        "slates": {
            "k": config.k,
            "lambda": config.diversity,
            "n_candidates": int(cands.shape[1]),
            "relevance": "head scores of the candidates, min-max scaled to [0, 1] per user",
            "similarity": f"cosine of the full {item_vectors.shape[1]}-d item text embeddings",
            **solver_info,
        },
        "timings_seconds": timings,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=json_default) + "\n")
    _plots(report, head, out)
    return report


def _plots(report: dict, head: RankingHeadRecommender, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [h["epoch"] for h in head.history_]
    if any("valid_ndcg" in h for h in head.history_):
        ax.plot(epochs, [h.get("valid_ndcg", np.nan) for h in head.history_], label="valid NDCG@10")
        ax.axvline(head.best_epoch_, color="grey", ls="--", label="kept epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("valid NDCG@10")
    ax.set_title("Ranking head training (early stopping on valid)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "training.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, m in report["metrics"].items():
        if "ild" in m:
            ax.scatter(m["ild"], m["ndcg"], s=40)
            ax.annotate(
                name, (m["ild"], m["ndcg"]), fontsize=8, xytext=(4, 2), textcoords="offset points"
            )
    ax.set_xlabel("ILD@10 (1 - cosine of item text embeddings)")
    ax.set_ylabel("NDCG@10 (test)")
    ax.set_title("Accuracy vs diversity, same split")
    fig.tight_layout()
    fig.savefig(out / "accuracy_diversity.png", dpi=120)
    plt.close(fig)


# -- command line -----------------------------------------------------------------------------
def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``qanneal-llm recommend``."""
    d = RecommendConfig()
    parser.add_argument("--dataset", default=d.dataset, choices=DATASETS)
    parser.add_argument(
        "--solver",
        default=d.solver,
        help="slate QUBO backend: anneal, neal, tabu, exact, mock-qpu, leap-qpu,"
        " leap-hybrid (default %(default)s)",
    )
    parser.add_argument("--k", type=int, default=d.k, help="slate size (default %(default)s)")
    parser.add_argument(
        "--lambda",
        dest="diversity",
        type=float,
        default=d.diversity,
        help="diversity weight of the slate QUBO (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--output", default=d.output, help="folder for report.json, PNGs, head")
    parser.add_argument(
        "--n-features",
        type=int,
        default=d.n_features,
        help="embedding dimensions the feature QUBO keeps (default %(default)s)",
    )
    parser.add_argument("--feature-solver", default=d.feature_solver)
    parser.add_argument(
        "--candidates",
        dest="n_candidates",
        type=int,
        default=d.n_candidates,
        help="top-M candidates per user for the slate (default %(default)s)",
    )
    parser.add_argument("--loss", default=d.loss, choices=LOSSES)
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument(
        "--head",
        dest="head_path",
        default=None,
        help="reuse a saved head checkpoint instead of training",
    )
    parser.add_argument("--max-users", type=int, default=None, help="slice for quick runs")
    parser.add_argument("--max-items", type=int, default=None, help="slice for quick runs")
    parser.add_argument(
        "--no-baselines",
        dest="baselines",
        action="store_false",
        help="skip MostPop, ItemKNN, MMR and DPP",
    )
    parser.add_argument(
        "--quiet", dest="show_progress", action="store_false", help="no progress bars"
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Build the config from parsed arguments, run, print a short table; 0 on success."""
    fields = RecommendConfig.__dataclass_fields__
    config = RecommendConfig(**{k: v for k, v in vars(args).items() if k in fields})
    try:
        report = run(config)
    except (ValueError, FileNotFoundError) as exc:
        print(f"qanneal-llm recommend: error: {exc}", file=sys.stderr)
        return 2
    cols = ("ndcg", "recall", "mrr", "hit", "precision", "ild", "coverage", "novelty")
    print(f"{'method':<14}" + "".join(f"{c:>11}" for c in cols))
    for name, m in report["metrics"].items():
        print(f"{name:<14}" + "".join(f"{m.get(c, float('nan')):>11.4f}" for c in cols))
    s = report["slates"]
    print(
        f"slates: {s['n_problems']} by {s['solver']} (seed {s['seed']}), {s['n_feasible']}"
        f" feasible, {s['n_repaired']} repaired; total {report['timings_seconds']['total']:.1f} s;"
        f" report in {Path(config.output) / 'report.json'}"
    )
    return 0

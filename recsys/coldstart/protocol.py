"""The two cold-start protocols end to end, every setting chosen on the validation stage.

:func:`run_cold_items` - items held out with all their interactions (CQFS's 70/10/20):
ItemKNN-CBF on all embedding dimensions, on PCA and on :class:`qanneal_llm.ColdStartFeatures`;
the content-only ranking head; and the QUBO slate re-ranking the head's top candidates.
:func:`run_cold_users` - users held out; each gets an onboarding slate of ``k`` items to rate,
chosen by the QUBO or a baseline, and is then ranked from the answers.

Both fit their choices (``ColdStartFeatures`` settings, head epochs and step size, onboarding
weights) on the validation stage, whose cold entities are carved from the warm ones, and only
then touch the test stage. Each returns a JSON-ready report: per-method mean metrics, per-user
NDCG arrays, the chosen settings and what solved what.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from qanneal_llm import ColdStartFeatures
from recsys.baselines import ItemKNN
from recsys.coldstart.content import MOVIE_ATTRIBUTES, item_views
from recsys.coldstart.items import (
    content_head_scores,
    evaluate_scores,
    knn_cbf_scores,
    pca_vectors,
)
from recsys.coldstart.splits import cold_item_split, cold_user_split
from recsys.coldstart.users import onboarding_slate, qubo_onboarding, rank_after_onboarding
from recsys.metrics import ild

__all__ = ["ColdConfig", "run_cold_items", "run_cold_users"]

PROTOCOLS = ("cold-items", "cold-users")


@dataclass
class ColdConfig:
    """Every choice of a cold-start run, stored verbatim in its report."""

    seed: int = 0
    k: int = 10
    n_features: int = 64
    neighbors: int = 100
    feature_grid: list = field(default_factory=lambda: [{"neighbors": None}, {"neighbors": 100}])
    head_grid: list = field(
        default_factory=lambda: [{"epochs": 30, "lr": 3e-3}, {"epochs": 60, "lr": 1e-2}]
    )
    head_dim: int = 64
    n_candidates: int = 50
    diversity: float = 0.1
    onboarding_grid: list = field(
        default_factory=lambda: [
            {"diversity": d, "collaborative": b} for b in (0.0, 0.5, 1.0) for d in (0.05, 0.1, 0.2)
        ]
    )
    solver: str = "anneal"
    threads: int = 1


def _embed(encoder, views):
    return np.asarray(encoder.encode(views["text"].tolist()), dtype=np.float64)


def _summary(per_user: dict) -> dict:
    return {
        name: round(float(np.mean(values)), 6)
        for name, values in per_user.items()
        if name not in ("users",)
    } | {"n_users": int(len(per_user["users"]))}


def _csf(config, encoder, settings, views, fit):
    return ColdStartFeatures(
        config.n_features,
        encoder=encoder,
        attributes=MOVIE_ATTRIBUTES,
        solver=config.solver,
        seed=config.seed,
        **settings,
    ).fit(views, fit)


def _head(config, settings, E, fit, warm, cold):
    return content_head_scores(
        E,
        fit,
        warm,
        cold,
        dim=config.head_dim,
        seed=config.seed,
        threads=config.threads,
        **settings,
    )


def run_cold_items(ml, encoder, config: ColdConfig, ratings=None) -> dict:
    """Cold-item protocol on ``ml`` (a MovieLens); ``ratings`` defaults to all of them."""
    from recsys.pipelines.recommend import qubo_slates

    started = time.perf_counter()
    split = cold_item_split(ml.ratings if ratings is None else ratings, seed=config.seed)
    views = item_views(ml.items.loc[split.data.item_ids])
    E = _embed(encoder, views)
    chosen: dict = {}

    # -- validation stage: fit on train items, rank validation items --------------------------
    warm, cold = split.stage("valid")
    fit, truth = split.fit_matrix("valid"), split.matrix[:, cold]
    valid_scores = {}
    for settings in config.feature_grid:
        F = _csf(config, encoder, settings, views, fit).transform(views)
        score = knn_cbf_scores(F, fit, warm, cold, config.neighbors)
        valid_scores[repr(settings)] = evaluate_scores(score, truth, config.k)["ndcg"].mean()
    best = max(config.feature_grid, key=lambda s: valid_scores[repr(s)])
    chosen["features"] = {"settings": best, "valid_ndcg": valid_scores}
    head_valid = {}
    for settings in config.head_grid:
        S, _ = _head(config, settings, E, fit, warm, cold)
        head_valid[repr(settings)] = evaluate_scores(S, truth, config.k)["ndcg"].mean()
    head_settings = max(config.head_grid, key=lambda s: head_valid[repr(s)])
    chosen["head"] = {"settings": head_settings, "valid_ndcg": head_valid}

    # -- test stage: fit on train + validation items, rank test items -------------------------
    warm, cold = split.stage("test")
    fit, truth = split.fit_matrix("test"), split.matrix[:, cold]
    csf = _csf(config, encoder, best, views, fit)
    content = {
        "knn_cbf_all": E,
        "knn_cbf_all_centred": E - E[warm].mean(axis=0),
        f"knn_cbf_pca{config.n_features}": pca_vectors(E, warm, config.n_features, config.seed),
        "knn_cbf_coldstart_features": csf.transform(views),
    }
    per_user = {
        name: evaluate_scores(knn_cbf_scores(V, fit, warm, cold, config.neighbors), truth, config.k)
        for name, V in content.items()
    }
    S, head = _head(config, head_settings, E, fit, warm, cold)
    per_user["content_head"] = evaluate_scores(S, truth, config.k)
    users = per_user["content_head"]["users"]
    m = min(config.n_candidates, len(cold))
    cands = np.argsort(-S[users], axis=1, kind="stable")[:, :m]
    slates, slate_info = qubo_slates(
        cands,
        np.take_along_axis(S[users], cands, axis=1),
        E[cold],
        config.k,
        config.diversity,
        config.solver,
        config.seed,
    )
    full = np.full(S.shape, -np.inf)
    rows = np.repeat(users, config.k)
    full[rows, slates.ravel()] = np.tile(np.arange(config.k, 0, -1), users.size)
    full[np.isinf(full)] = -1e9
    per_user["content_head+qubo_slate"] = evaluate_scores(full, truth, config.k)
    head_top = cands[:, : config.k]
    metrics = {name: _summary(values) for name, values in per_user.items()}
    metrics["content_head"]["ild"] = round(ild(head_top, E[cold]), 6)
    metrics["content_head+qubo_slate"]["ild"] = round(ild(slates, E[cold]), 6)
    return {
        "protocol": "cold-items",
        "config": asdict(config),
        "data": {
            "n_users": split.data.n_users,
            "n_items": split.data.n_items,
            "train_items": int(split.train_items.size),
            "valid_items": int(split.valid_items.size),
            "test_items": int(split.test_items.size),
            "split": f"items 70/10/20 at random, seed {config.seed}; every interaction of a"
            " held-out item is held out with it",
            "ranking": f"each user's held-out items among all {len(cold)} test items, @{config.k}",
        },
        "chosen_on_validation": chosen,
        "coldstart_features": {
            "selected": csf.get_feature_names_out().tolist(),
            "n_candidates": int(len(csf.candidate_names_)),
            "solver": csf.result_.solver,
            "seed": csf.result_.seed,
            "objective": csf.result_.objective,
            "feasible": csf.result_.feasible,
            "seconds": csf.result_.timings.get("total"),
        },
        "head": {**head_settings, "fit_seconds": head.fit_seconds_, "use_ids": False},
        "slates": {"k": config.k, "lambda": config.diversity, "n_candidates": m, **slate_info},
        "metrics": metrics,
        "per_user_ndcg": {name: values["ndcg"] for name, values in per_user.items()},
        "seconds": round(time.perf_counter() - started, 3),
    }


def run_cold_users(ml, encoder, config: ColdConfig, ratings=None) -> dict:
    """Cold-user protocol: onboarding slates of ``config.k`` items, then ItemKNN from answers."""
    started = time.perf_counter()
    split = cold_user_split(ml.ratings if ratings is None else ratings, seed=config.seed)
    E = _embed(encoder, item_views(ml.items.loc[split.data.item_ids]))

    def evaluate(W, cold, slate, knn):
        return rank_after_onboarding(W, split.answers, split.truth, cold, slate, config.k, knn)

    W = split.warm_matrix("valid")
    cold = split.stage("valid")[1]
    knn = ItemKNN().fit(W)
    valid = {}
    for settings in config.onboarding_grid:
        slate, _ = qubo_onboarding(
            W, E, config.k, n_candidates=100, solver=config.solver, seed=config.seed, **settings
        )
        valid[repr(settings)] = evaluate(W, cold, slate, knn)["ndcg"].mean()
    best = max(config.onboarding_grid, key=lambda s: valid[repr(s)])

    W = split.warm_matrix("test")
    cold = split.stage("test")[1]
    knn = ItemKNN().fit(W)
    slate, result = qubo_onboarding(
        W, E, config.k, n_candidates=100, solver=config.solver, seed=config.seed, **best
    )
    slates = {"qubo": slate}
    for strategy in ("most_popular", "random", "greedy_coverage"):
        slates[strategy] = onboarding_slate(strategy, W, E, config.k, seed=config.seed)
    per_user = {name: evaluate(W, cold, s, knn) for name, s in slates.items()}
    metrics = {name: _summary(values) for name, values in per_user.items()}
    for name, s in slates.items():
        metrics[name]["slate_ild"] = round(ild(s[None, :], E), 6)
    return {
        "protocol": "cold-users",
        "config": asdict(config),
        "data": {
            "n_users": split.data.n_users,
            "n_items": split.data.n_items,
            "warm_users": int(split.stage("test")[0].size),
            "test_users": int(split.test_users.size),
            "split": f"users 70/10/20 at random, seed {config.seed}; a held-out user's ratings"
            " split at random into answers (half) and truth (half)",
            "ranking": f"all items but the answered ones, truth half, @{config.k}",
        },
        "chosen_on_validation": {"onboarding": best, "valid_ndcg": valid},
        "slates": {name: s.tolist() for name, s in slates.items()},
        "qubo": {
            "solver": result.solver,
            "seed": result.seed,
            "objective": result.objective,
            "feasible": result.feasible,
        },
        "metrics": metrics,
        "per_user_ndcg": {name: values["ndcg"] for name, values in per_user.items()},
        "seconds": round(time.perf_counter() - started, 3),
    }

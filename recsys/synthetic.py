"""Slate workloads of any size with the statistics of the ml-100k slate stage.

Scaling the slate stage to millions of users needs millions of users' candidate lists, which we
do not have. :func:`synthetic_slates` draws them instead, one user at a time and seeded per
user, from a model fitted to what the real pipeline hands its solver
(:func:`recsys.pipelines.recommend.qubo_slates`):

* **candidates**: ``n_candidates`` per user (the pipeline keeps the top 100 unseen items of
  every ml-100k user, so the measured count is 100 for all 943 users);
* **relevance**: the pipeline min-max scales each user's candidate scores to [0, 1]. Its
  profile over ranks is matched by the top ``n_candidates`` of ``pool`` uniform draws
  transformed as ``-(1 - u) ** gamma`` and scaled the same way, with ``gamma`` log-normal
  across users (this fits the mean *and* the spread of the relevance at every rank);
* **similarity**: each user's candidate vectors are ``sqrt(rho) c + sqrt(1 - rho) z_i``
  (``c`` a per-user direction, ``z_i`` random unit vectors in ``dim`` dimensions): pairwise
  cosines average ``rho`` (normal across users) with a within-user spread set by ``dim``.

:data:`ML100K` holds the fitted values, measured by::

    python -m recsys.synthetic --measure

which runs the real pipeline's stages up to the slate stage (default ``RecommendConfig``) and
prints the fit next to the real and the synthetic statistics. On 2026-11-29 it printed:

=================  ===========================================  ==========  =============
workload           relevance at rank 1 / 10 / 50 / 80 (sd)      mean cos    cos sd (user)
=================  ===========================================  ==========  =============
ml-100k (943)      .914 (.071) .659 (.084) .268 (.056) .095     .479 (.031) .081
synthetic (943)    .922 (.066) .663 (.089) .262 (.058) .089     .475 (.032) .082
=================  ===========================================  ==========  =============

Not modelled: any correlation between an item's relevance and its similarity to the others.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from qanneal_llm.qubo import slate_model
from qanneal_llm.qubo.model import SubsetModel

__all__ = ["ML100K", "SlateStatistics", "measure", "synthetic_slate", "synthetic_slates"]


@dataclass(frozen=True)
class SlateStatistics:
    """Parameters of the synthetic slate workload (see the module docstring)."""

    n_candidates: int
    pool: int
    gamma_median: float
    gamma_log_sd: float
    rho_mean: float
    rho_sd: float
    dim: int


#: Fitted to ml-100k's slate stage (943 users) by ``python -m recsys.synthetic --measure``.
ML100K = SlateStatistics(
    n_candidates=100,
    pool=1586,
    gamma_median=0.35,
    gamma_log_sd=0.3,
    rho_mean=0.4793,
    rho_sd=0.0312,
    dim=62,
)


def _relevance_and_vectors(rng: np.random.Generator, stats: SlateStatistics):
    n = stats.n_candidates
    # the top n of `pool` uniforms: the largest is the pool-th order statistic, and so on down
    top = np.cumprod(rng.random(n) ** (1.0 / np.arange(stats.pool, stats.pool - n, -1)))
    gamma = stats.gamma_median * np.exp(stats.gamma_log_sd * rng.standard_normal())
    raw = -((1.0 - top) ** gamma)
    relevance = (raw - raw[-1]) / (raw[0] - raw[-1])
    rho = float(np.clip(rng.normal(stats.rho_mean, stats.rho_sd), 0.0, 0.99))
    centre = rng.standard_normal(stats.dim)
    spread = rng.standard_normal((n, stats.dim))
    vectors = np.sqrt(rho) * centre / np.linalg.norm(centre) + np.sqrt(1.0 - rho) * (
        spread / np.linalg.norm(spread, axis=1, keepdims=True)
    )
    return relevance, vectors


def synthetic_slate(
    user: int,
    *,
    k: int = 10,
    diversity: float = 0.1,
    stats: SlateStatistics = ML100K,
    seed: int = 0,
) -> SubsetModel:
    """User ``user``'s slate model: the same for the same ``(seed, user)`` whatever else is
    drawn, so any slice of a workload can be rebuilt anywhere."""
    rng = np.random.default_rng(np.random.SeedSequence((int(seed), int(user))))
    relevance, vectors = _relevance_and_vectors(rng, stats)
    return slate_model(relevance, k, vectors=vectors, diversity=diversity)


def synthetic_slates(
    n_users: int,
    *,
    k: int = 10,
    diversity: float = 0.1,
    stats: SlateStatistics = ML100K,
    seed: int = 0,
    start: int = 0,
) -> Iterator[SubsetModel]:
    """Users ``start .. start + n_users - 1``'s slate models, built one at a time (a generator:
    memory does not grow with ``n_users``). ``k`` and ``diversity`` default to the recommend
    pipeline's."""
    if n_users < 0:
        raise ValueError(f"n_users must be >= 0, got {n_users}")
    for user in range(start, start + n_users):
        yield synthetic_slate(user, k=k, diversity=diversity, stats=stats, seed=seed)


# -- measuring ------------------------------------------------------------------------------------
def slate_stage_statistics(relevance: np.ndarray, vectors_per_user) -> dict:
    """Summary statistics of a slate workload: the relevance at a few ranks (mean and spread
    over users) and the pairwise cosine of each user's candidates (mean over users, spread of
    the per-user mean, mean within-user spread)."""
    ranks = [1, 2, 5, 10, 20, 50, 80]
    means, spreads = [], []
    for vectors in vectors_per_user:
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        cos = (unit @ unit.T)[np.triu_indices(len(unit), 1)]
        means.append(cos.mean())
        spreads.append(cos.std())
    return {
        "n_candidates": int(relevance.shape[1]),
        "relevance_at_rank": {r: round(float(relevance[:, r].mean()), 3) for r in ranks},
        "relevance_sd_at_rank": {r: round(float(relevance[:, r].std()), 3) for r in ranks},
        "cosine_mean": round(float(np.mean(means)), 4),
        "cosine_user_mean_sd": round(float(np.std(means)), 4),
        "cosine_within_sd": round(float(np.mean(spreads)), 4),
    }


def fit(relevance: np.ndarray, vectors_per_user, pool: int, seed: int = 0) -> SlateStatistics:
    """Fit :class:`SlateStatistics` to a real slate stage (a grid search for the relevance
    shape by simulation; the cosine parameters in closed form)."""
    rng = np.random.default_rng(seed)
    real = slate_stage_statistics(relevance, vectors_per_user)
    n = relevance.shape[1]
    profile, spread = relevance.mean(axis=0), relevance.std(axis=0)
    uniforms = -np.sort(-rng.random((2000, pool)), axis=1)[:, :n]
    normal = rng.standard_normal((2000, 1))
    best = None
    for median in np.arange(0.20, 0.60, 0.01):
        for log_sd in np.arange(0.0, 0.61, 0.05):
            raw = -((1.0 - uniforms) ** (median * np.exp(log_sd * normal)))
            rel = (raw - raw[:, -1:]) / (raw[:, :1] - raw[:, -1:])
            error = np.abs(rel.mean(0) - profile).mean() + np.abs(rel.std(0) - spread).mean()
            if best is None or error < best[0]:
                best = (error, round(float(median), 2), round(float(log_sd), 2))
    rho = real["cosine_mean"]
    # to first order in 1/dim, cos(v_i, v_j) of v = sqrt(rho) c + sqrt(1 - rho) z (normalised)
    # is rho plus noise of variance (1 - rho)**2 (1 + 2 rho (1 - rho)) / dim
    variance = (1.0 - rho) ** 2 * (1.0 + 2.0 * rho * (1.0 - rho))
    dim = int(round(variance / real["cosine_within_sd"] ** 2))
    return SlateStatistics(
        n_candidates=n,
        pool=int(pool),
        gamma_median=best[1],
        gamma_log_sd=best[2],
        rho_mean=rho,
        rho_sd=real["cosine_user_mean_sd"],
        dim=dim,
    )


def measure(config=None) -> tuple[SlateStatistics, dict, dict]:
    """Run the recommend pipeline up to its slate stage and fit :class:`SlateStatistics`;
    returns the fit and the real and the synthetic workload's statistics."""
    from recsys.pipelines.recommend import (
        _relevance,
        candidate_lists,
        embed_items,
        fit_head,
        load_split,
        select_features,
    )
    from recsys.pipelines.recommend_config import RecommendConfig

    config = config or RecommendConfig(show_progress=False)
    ml, split = load_split(config)
    vectors = embed_items(ml, split)
    train = split.matrix("train")
    kept = np.asarray(
        select_features(
            vectors, train, config.n_features, config.feature_solver, config.seed
        ).indices
    )
    head = fit_head(split, vectors[:, kept], config)
    scores = head.decision_function(np.arange(split.data.n_users)).astype(np.float64)
    cands, cand_scores = candidate_lists(scores, split, config.n_candidates)
    relevance = _relevance(cand_scores)
    per_user = [vectors[c].astype(np.float64) for c in cands]
    pool = int(round(float((split.data.n_items - np.diff(split.seen("test").indptr)).mean())))
    stats = fit(relevance, per_user, pool, seed=config.seed)

    rng = np.random.default_rng(config.seed)
    drawn = [_relevance_and_vectors(rng, stats) for _ in range(len(cands))]
    synthetic = slate_stage_statistics(np.stack([r for r, _ in drawn]), [v for _, v in drawn])
    return stats, slate_stage_statistics(relevance, per_user), synthetic


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m recsys.synthetic", description=__doc__)
    parser.add_argument(
        "--measure", action="store_true", help="fit the statistics to ml-100k's slate stage"
    )
    args = parser.parse_args(argv)
    if not args.measure:
        print(ML100K)
        return
    stats, real, synthetic = measure()
    print(f"fitted: {asdict(stats)}")
    print(f"ml-100k slate stage: {real}")
    print(f"synthetic (fitted):  {synthetic}")


if __name__ == "__main__":
    main()

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

With ``config.ray`` (``--ray [ADDRESS]``) stages 2 and 6 run on a Ray cluster
(:mod:`qanneal_llm.distributed`) and give the same vectors and slates, hence the same report.

All lists are evaluated with :func:`recsys.metrics.evaluate` on the test part, ranking only
items outside train + valid, so no method can recommend what the user already saw. Re-ranked
slates are sets; each is shown best-relevance first, so the comparison between QUBO, MMR and DPP
is about *which* items they choose.
"""

from __future__ import annotations

import itertools
import sys
import time
from contextlib import nullcontext

import numpy as np

from qanneal_llm import collaborative_feature_model, slate_model, solve, solve_many
from qanneal_llm._validation import torch_threads
from qanneal_llm.coldstart import item_cosine
from qanneal_llm.embeddings import TextEncoder
from qanneal_llm.ranking import RankingHeadRecommender
from qanneal_llm.solvers import seed_stream
from recsys.baselines import ItemKNN, MostPop, dpp_greedy, mmr
from recsys.metrics import evaluate, topk_from_scores
from recsys.pipelines import head_cache
from recsys.pipelines.checks import check_solver, load_head_checkpoint
from recsys.pipelines.kernel_warmup import KernelWarmup
from recsys.pipelines.outputs import staged_output
from recsys.pipelines.progress import Progress
from recsys.pipelines.recommend_config import ARTEFACTS, RecommendConfig, check_before_loading
from recsys.pipelines.recommend_report import build_report, write_report
from recsys.profiles import weighted_user_vectors
from recsys.splits import Split, random_split

__all__ = [
    "RecommendConfig",
    "candidate_lists",
    "embed_items",
    "fit_head",
    "load_split",
    "preflight",
    "qubo_slates",
    "rerank_baseline",
    "run",
    "select_features",
]

_SOLVE_CHUNK = 128


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


def embed_items(
    ml, split: Split, encoder: TextEncoder | None = None, show_progress=False, executor=None
):
    """Text embeddings ``(n_items, 384)`` in the split's item order (rows = item indices)."""
    from recsys.texts import item_texts

    encoder = encoder or TextEncoder(show_progress=show_progress)
    items = ml.items.loc[split.data.item_ids]
    vectors = encoder.encode(list(item_texts(items)), executor=executor)
    return np.asarray(vectors, dtype=np.float32)


def select_features(item_vectors, train, n_features: int, solver="anneal", seed=0, **options):
    """Solve the collaborative feature QUBO; the result's ``indices`` are the kept dimensions."""
    # CQFS's signal: the item-item cosine of the training interactions, zero diagonal
    model = collaborative_feature_model(item_vectors, item_cosine(train), n_features)
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


def _new_head(config: RecommendConfig) -> RankingHeadRecommender:
    return RankingHeadRecommender(
        dim=config.dim,
        loss=config.loss,
        epochs=config.epochs,
        seed=config.seed,
        show_progress=config.show_progress,
    )


def _head_inputs(split: Split, item_features) -> dict:
    return dict(
        train=split.matrix("train"),
        valid=split.matrix("valid"),
        user_features=user_content(split, item_features),
        item_features=item_features,
    )


def _fit(config: RecommendConfig, inputs: dict) -> RankingHeadRecommender:
    with torch_threads(config.torch_threads or None):
        return _new_head(config).fit(
            inputs["train"],
            user_features=inputs["user_features"],
            item_features=inputs["item_features"],
            valid=inputs["valid"],
        )


def fit_head(split: Split, item_features, config: RecommendConfig) -> RankingHeadRecommender:
    """Train the head on train, early-stopping on valid (the test part is never looked at).

    ``config.torch_threads`` caps torch's threads while training (restored after): the head's
    matrices are small, so extra threads mostly add synchronisation, and on a shared machine
    they oversubscribe the cores.
    """
    return _fit(config, _head_inputs(split, item_features))


def _cached_fit_head(split: Split, item_features, config: RecommendConfig):
    """:func:`fit_head`, or the head an earlier run trained on identical inputs (with
    ``config.reuse_head``); returns ``(head, source)``."""
    inputs = _head_inputs(split, item_features)
    params = {k: v for k, v in _new_head(config).get_params().items() if k != "show_progress"}
    key = head_cache.head_key(params, config.torch_threads or None, **inputs)
    if config.reuse_head and (head := head_cache.load_head(key)) is not None:
        head.set_params(show_progress=config.show_progress)
        return head, "cache: trained by an earlier run on identical inputs (--retrain to redo)"
    head = _fit(config, inputs)
    head_cache.store_head(key, head)
    return head, "trained"


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
    executor=None,
    **options,
):
    """One slate QUBO per user over its candidates; returns ``(slates (U, k), solver summary)``.

    Slates are returned in descending relevance. The summary counts feasible, repaired and
    polished answers and records the solver, base seed and time. ``executor`` (e.g. a
    :class:`qanneal_llm.distributed.RayExecutor`) solves them elsewhere with the same seeds.
    """
    vectors = np.asarray(item_vectors, dtype=np.float64)
    rel = _relevance(np.asarray(cand_scores, dtype=np.float64))
    started = time.perf_counter()
    models = (
        slate_model(rel[u], k, vectors=vectors[cands[u]], diversity=diversity)
        for u in range(cands.shape[0])
    )
    chunks = range(0, cands.shape[0], _SOLVE_CHUNK)
    if executor is None:
        results = []
        for c, _ in enumerate(_progress(chunks, show_progress, desc="slate QUBOs", unit="chunk")):
            chunk = list(itertools.islice(models, _SOLVE_CHUNK))
            results.extend(solve_many(chunk, solver, seed=_chunk_seed(seed, c), **options))
    else:
        from qanneal_llm.distributed import as_executor

        seeds = itertools.chain.from_iterable(
            seed_stream(_chunk_seed(seed, c), min(_SOLVE_CHUNK, cands.shape[0] - start))
            for c, start in enumerate(chunks)
        )
        results = list(as_executor(executor).solve_iter(models, solver, seeds=seeds, **options))
    slates = np.empty((cands.shape[0], k), dtype=np.int64)
    for u, res in enumerate(results):
        slates[u] = _by_relevance(cands[u], rel[u], np.asarray(res.indices))
    summary = {
        "solver": results[0].solver if results else solver,
        "seed": int(seed),
        "seeds": "per chunk of 128 users: SeedSequence((seed, chunk)), then solve_many's stream",
        "executor": "this machine" if executor is None else repr(executor),
        "n_problems": len(results),
        "n_feasible": int(sum(r.feasible for r in results)),
        "n_repaired": int(sum(r.repaired for r in results)),
        "n_polished": int(sum(r.polished for r in results)),
        "mean_objective": float(np.mean([r.objective for r in results])) if results else None,
        "seconds": time.perf_counter() - started,
        "options": options,
    }
    return slates, summary


def _chunk_seed(seed, chunk: int) -> int:
    return int(seed_stream((int(seed), chunk), 1)[0])


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
        out[u] = _by_relevance(cands[u], rel[u], chosen)
    return out


def _by_relevance(cands_u, rel_u, chosen):
    """The items of one user's ``chosen`` candidate positions, in descending relevance."""
    return cands_u[chosen[np.argsort(-rel_u[chosen], kind="stable")]]


# -- the whole run ----------------------------------------------------------------------------
def _metrics(topk, split, item_vectors, k):
    return {
        name: (round(value, 6) if isinstance(value, float) else value)
        for name, value in evaluate(topk, split, item_vectors=item_vectors, k=k).items()
    }


def preflight(config: RecommendConfig, encoder=None, item_vectors=None):
    """Every check that needs no data, run before anything expensive; returns
    ``(encoder, head)``: the encoder to embed with (None when ``item_vectors`` are given) and
    the ``--head`` checkpoint, loaded and verified (None when training).

    Raises ``ValueError`` (or ``FileNotFoundError``) naming the flag to fix: config values,
    the output folder, ``--n-features`` beyond the embedding width, the solvers (name,
    options, Leap token, size) and a ``--head`` file that is not a checkpoint.
    """
    check_before_loading(config)
    if item_vectors is None:
        encoder = encoder or TextEncoder(show_progress=config.show_progress)
        dim = encoder.dim
    else:
        encoder, dim = None, int(np.shape(item_vectors)[1])
    if config.n_features > dim:
        raise ValueError(
            f"--n-features {config.n_features} exceeds the {dim} dimensions of the item"
            f" embeddings; choose at most {dim}"
        )
    check_solver("--feature-solver", config.feature_solver, n=dim, k=config.n_features)
    head = load_head_checkpoint(config.head_path) if config.head_path else None
    return encoder, head


def _executor(config: RecommendConfig):
    """``--ray``: a Ray executor for the run (a local cluster when no address is given)."""
    if config.ray is None:
        return nullcontext(None)
    from qanneal_llm.distributed import ray_session

    return ray_session(None if config.ray == "local" else config.ray)


def _load_or_fit_head(config, split, item_features, head):
    if head is None:
        return _cached_fit_head(split, item_features, config)
    if (head.n_users_, head.n_items_) != (split.data.n_users, split.data.n_items):
        raise ValueError(
            f"--head {config.head_path} was trained on {head.n_users_} users x"
            f" {head.n_items_} items, this split has {split.data.n_users} x"
            f" {split.data.n_items}; rerun without --head to train a matching one"
        )
    return head, f"loaded from {config.head_path}"


def _evaluate_all(config, split, item_vectors, lists: dict, cands, cand_scores) -> dict:
    """Metrics of the head's top k, the QUBO slates and (with ``baselines``) the baselines."""
    methods = {name: _metrics(top, split, item_vectors, config.k) for name, top in lists.items()}
    if config.baselines:
        users = np.arange(split.data.n_users)
        for name, model in (("MostPop", MostPop()), ("ItemKNN", ItemKNN())):
            top = topk_from_scores(
                model.fit(split).decision_function(users), split.seen("test"), config.k
            )
            methods[name] = _metrics(top, split, item_vectors, config.k)
        for method in ("mmr", "dpp"):
            top = rerank_baseline(
                cands, cand_scores, item_vectors, config.k, method, config.baseline_weight
            )
            methods[f"{method}@{config.baseline_weight}"] = _metrics(
                top, split, item_vectors, config.k
            )
    return methods


def run(
    config: RecommendConfig,
    item_vectors: np.ndarray | None = None,
    encoder: TextEncoder | None = None,
) -> dict:
    """Run every stage, write ``report.json``, ``head.qllm`` and PNGs to ``config.output``.

    ``item_vectors`` skips the embedding stage (e.g. vectors computed elsewhere); ``encoder``
    replaces the default :class:`TextEncoder` (another model, another cache). Everything that
    can be checked without data is checked first (:func:`preflight`); the files are written to
    a temporary folder that replaces ``config.output`` whole only when the run succeeds
    (:func:`recsys.pipelines.outputs.staged_output`). Returns the report dict.
    """
    progress = Progress("recommend", config.show_progress)
    stage = progress.stage
    with stage("checks", "the encoder's width against --n-features, the solvers, --head"):
        encoder, head = preflight(config, encoder, item_vectors)
    # A first run after install compiles the solver kernels (~7 s of one core): a child process
    # does it while the data loads and the texts embed (the CLI starts it even before torch is
    # imported); later runs load numba's cache in a fraction of a second.
    kernels = KernelWarmup(progress)
    output = staged_output(config.output, "recommend", ARTEFACTS)
    with kernels, _executor(config) as executor, output as folder:
        started = time.perf_counter()
        with stage("load", f"{config.dataset} ratings, per-user 8:1:1 split"):
            ml, split = load_split(config)
        with stage("embed", f"{split.data.n_items} item texts" if encoder else "given vectors"):
            if item_vectors is None:
                item_vectors = embed_items(
                    ml, split, encoder, show_progress=config.show_progress, executor=executor
                )
            item_vectors = np.asarray(item_vectors, dtype=np.float32)
            if item_vectors.shape[0] != split.data.n_items:
                raise ValueError(
                    f"item_vectors has {item_vectors.shape[0]} rows, the split has"
                    f" {split.data.n_items} items; embed the items of this split"
                )
        what = f"keep {config.n_features} of {item_vectors.shape[1]} dims ({config.feature_solver})"
        with stage("feature_selection", what):
            kernels.wait()
            feat = select_features(
                item_vectors, split.matrix("train"), config.n_features, config.feature_solver,
                config.seed,
            )  # fmt: skip
            selected = np.asarray(feat.indices)
        with stage("head", f"loading {config.head_path}" if head else "the ranking head"):
            head, head_source = _load_or_fit_head(config, split, item_vectors[:, selected], head)
            head.save(folder / "head.qllm")
        with stage("candidates", f"top {config.n_candidates} unseen items per user"):
            scores = head.decision_function(np.arange(split.data.n_users)).astype(np.float64)
            cands, cand_scores = candidate_lists(scores, split, config.n_candidates)
        what = f"{split.data.n_users} slate QUBOs, k = {config.k} ({config.solver})"
        with stage("slates", what):
            slates, solver_info = qubo_slates(
                cands, cand_scores, item_vectors, config.k, config.diversity, config.solver,
                config.seed, show_progress=config.show_progress, executor=executor,
                **config.solver_options,
            )  # fmt: skip
        with stage("evaluate", f"metrics @{config.k} on the test part"):
            lists = {"head": cands[:, : config.k], "qubo_slate": slates}
            methods = _evaluate_all(config, split, item_vectors, lists, cands, cand_scores)
        progress.timings["total"] = round(time.perf_counter() - started, 3)
        report = build_report(
            config, split, methods, feat, item_vectors.shape[1], head, head_source,
            dict(n_candidates=int(cands.shape[1]), **solver_info), progress.timings,
        )  # fmt: skip
        write_report(report, head, folder)
    return report

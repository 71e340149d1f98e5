"""The backtest's ranking heads: small MLPs that score each asset at a rebalance date.

One head scores from past-price features only (``qubo_no_text``); with embeddings, a second
also sees the embedding dimensions a feature-selection QUBO picked (``qubo_text``). Both are
refitted every ``retrain_every`` months on the months whose next-month return is known.

With ``config.ensemble = M`` each head is M networks, each from its own seed, and the score of
an asset is the mean of the members' z-scores across the assets of the date: one seed's
initialisation moved the old single-head backtest's Sharpe ratios by more than the differences
between rows, and averaging M members divides that noise by about M.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from qanneal_llm import feature_model, solve
from qanneal_llm._validation import torch_threads
from qanneal_llm.ranking.optimizer import FunctionalAdam
from qanneal_llm.solvers import seed_stream

__all__ = [
    "ensemble_score",
    "ensemble_scores",
    "fit_scorers",
    "given_scores",
    "member_seeds",
    "score_assets",
    "select_text_dims",
    "train_scorer",
    "WalkForwardScorer",
    "zscore",
]


def train_scorer(X: np.ndarray, y: np.ndarray, config, seed: int):
    """An MLP scoring (month, asset) rows, fitted with ListNet over each month's assets.

    ``X`` is (months, assets, features), ``y`` (months, assets) next-month returns. The target
    of each month is the softmax of its z-scored returns, so the loss asks for the ordering of
    the month, not the level of returns, which swings with the market. Initialisation and
    training are seeded and run full-batch, so the same data always gives the same scorer.
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = torch.nn.Sequential(
            torch.nn.Linear(X.shape[2], config.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(config.hidden, 1),
        )
    xs = torch.tensor(X, dtype=torch.float32)
    z = zscore(y)
    target = torch.softmax(torch.as_tensor(z, dtype=torch.float32), dim=1)
    opt = FunctionalAdam(net.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    loss = torch.tensor(float("nan"))
    # One thread: the scorer is so small that thread hand-offs cost more than they save.
    with torch_threads(1):
        for _ in range(config.epochs):
            opt.zero_grad()
            loss = F.cross_entropy(net(xs).squeeze(-1), target)
            loss.backward()
            opt.step()
    net.eval()
    return net, float(loss.detach())


def select_text_dims(emb_std, y, config, seed: int) -> list[int]:
    """The embedding dims a correlation feature-selection QUBO keeps for predicting the
    cross-sectional next-month return (relevance) without repeating each other (redundancy)."""
    months, n = y.shape
    rows = np.tile(emb_std, (months, 1))
    target = zscore(y)
    model = feature_model(rows, target.reshape(-1), k=config.embedding_dims)
    return sorted(int(i) for i in solve(model, config.solver, seed=seed).ids)


def member_seeds(seed: int, ensemble: int) -> list[int]:
    """The seeds of an ensemble's members: member 0 keeps ``seed`` (so a one-member ensemble is
    the single head), the others are drawn from ``SeedSequence([seed, m])``."""
    return [seed] + [int(seed_stream([seed, m], 1)[0]) for m in range(1, ensemble)]


def fit_scorers(X_tr, y_tr, emb_std, config, seed: int) -> tuple[dict, list[int], dict]:
    """Refit the heads on ``X_tr`` (months, assets, features) and ``y_tr``.

    Returns ``(nets, text_dims, log)``: the ``config.ensemble`` networks per variant, the
    embedding dims the text head sees (empty without embeddings; chosen once, with ``seed``)
    and the members' mean final losses and the dims for the report.
    """
    seeds = member_seeds(seed, config.ensemble)
    nets, log = {}, {}
    fitted = [train_scorer(X_tr, y_tr, config, s) for s in seeds]
    nets["qubo_no_text"] = [net for net, _ in fitted]
    log["loss_no_text"] = float(np.mean([loss for _, loss in fitted]))
    text_dims: list[int] = []
    if emb_std is not None:
        text_dims = select_text_dims(emb_std, y_tr, config, seed)
        dims = np.broadcast_to(emb_std[:, text_dims], X_tr.shape[:2] + (len(text_dims),))
        X_text = np.concatenate([X_tr, dims], axis=2)
        fitted = [train_scorer(X_text, y_tr, config, s) for s in seeds]
        nets["qubo_text"] = [net for net, _ in fitted]
        log["loss_text"] = float(np.mean([loss for _, loss in fitted]))
        log["text_dims"] = text_dims
    return nets, text_dims, log


def score_assets(nets: dict, features: np.ndarray, emb_std, text_dims) -> dict[str, np.ndarray]:
    """Each member's raw score of every asset from this date's ``features`` (assets, features):
    head -> ``(members, assets)``."""
    inputs = {"qubo_no_text": features}
    if emb_std is not None:
        inputs["qubo_text"] = np.concatenate([features, emb_std[:, text_dims]], axis=1)
    scores = {}
    with torch.inference_mode():
        for name, x in inputs.items():
            xs = torch.tensor(x, dtype=torch.float32)
            members = [net(xs).squeeze(-1).numpy().astype(np.float64) for net in nets[name]]
            scores[name] = np.stack(members)
    return scores


def zscore(scores: np.ndarray) -> np.ndarray:
    """Each row (the assets of one date) centred and scaled to unit spread."""
    centred = scores - scores.mean(axis=-1, keepdims=True)
    return centred / (scores.std(axis=-1, keepdims=True) + 1e-12)


def ensemble_score(member_scores) -> np.ndarray:
    """The ensemble's score of each asset: the mean over members of their z-scores across the
    assets (``member_scores`` is ``(members, assets)`` or one member's ``(assets,)``)."""
    return zscore(np.atleast_2d(np.asarray(member_scores, dtype=np.float64))).mean(axis=0)


def ensemble_scores(members) -> pd.DataFrame:
    """:func:`ensemble_score` date by date over a list of members' ``(dates x assets)`` frames."""
    if not members:
        raise ValueError("an ensemble needs at least one member's scores")
    stacked = np.stack([np.asarray(m, dtype=np.float64) for m in members])
    return pd.DataFrame(
        zscore(stacked).mean(axis=0), index=members[0].index, columns=members[0].columns
    )


class WalkForwardScorer:
    """The ranking heads walking forward: refitted every ``retrain_every`` rebalances on the
    months whose next-month return is known, then asked for each date's member scores."""

    def __init__(self, panel, emb_std, config, book, decision_seed):
        self.panel, self.emb_std, self.config, self.book = panel, emb_std, config, book
        self.decision_seed = decision_seed
        self.nets: dict = {}
        self.text_dims: list[int] = []

    def __call__(self, step: int, date) -> dict[str, np.ndarray]:
        panel, config = self.panel, self.config
        i = panel.position[date]
        t = time.perf_counter()
        if step % config.retrain_every == 0:
            # Month m is a training example once its next-month return is known: m + 1 <= i.
            train = np.flatnonzero(panel.complete[:i])
            self.nets, self.text_dims, log = fit_scorers(
                panel.features[train], panel.labels[train], self.emb_std, config,
                self.decision_seed(config.seed, date, 1),
            )  # fmt: skip
            entry = {"date": f"{date:%Y-%m-%d}", "train_months": len(train), **log}
            self.book.retrains.append(entry)
        self.book.timings["training"] += time.perf_counter() - t
        return score_assets(self.nets, panel.features[i], self.emb_std, self.text_dims)


def given_scores(scores, heads, dates, tickers) -> dict[str, pd.DataFrame]:
    """Check scores handed to :func:`run_backtest`: every head, every rebalance, every asset."""
    out = {}
    for head in heads:
        if head not in scores:
            raise ValueError(f"scores= lacks the {head!r} head; give one frame per head {heads}")
        frame = scores[head]
        missing_dates = dates.difference(frame.index)
        missing_assets = [t for t in tickers if t not in frame.columns]
        if len(missing_dates) or missing_assets:
            raise ValueError(
                f"scores[{head!r}] misses rebalance dates {list(missing_dates[:3])} or assets"
                f" {missing_assets[:3]}; compute them with walk_forward_scores over this span"
            )
        out[head] = frame.loc[dates, tickers]
        if not np.isfinite(out[head].to_numpy()).all():
            raise ValueError(f"scores[{head!r}] contains NaN or inf")
    return out

"""The backtest's ranking heads: small MLPs that score each asset at a rebalance date.

One head scores from past-price features only (``qubo_no_text``); with embeddings, a second
also sees the embedding dimensions a feature-selection QUBO picked (``qubo_text``). Both are
refitted every ``retrain_every`` months on the months whose next-month return is known.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from qanneal_llm import feature_model, solve

__all__ = ["fit_scorers", "score_assets", "select_text_dims", "train_scorer"]


@contextlib.contextmanager
def _one_torch_thread():
    """Run torch on one thread: the scorer is so small that thread hand-offs cost more than
    they save, and on a busy machine several threads spinning made training 10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
    z = (y - y.mean(axis=1, keepdims=True)) / (y.std(axis=1, keepdims=True) + 1e-12)
    target = torch.softmax(torch.as_tensor(z, dtype=torch.float32), dim=1)
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    loss = torch.tensor(float("nan"))
    with _one_torch_thread():
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
    target = (y - y.mean(axis=1, keepdims=True)) / (y.std(axis=1, keepdims=True) + 1e-12)
    model = feature_model(rows, target.reshape(-1), k=config.embedding_dims)
    return sorted(int(i) for i in solve(model, config.solver, seed=seed).ids)


def fit_scorers(X_tr, y_tr, emb_std, config, seed: int) -> tuple[dict, list[int], dict]:
    """Refit the heads on ``X_tr`` (months, assets, features) and ``y_tr``.

    Returns ``(nets, text_dims, log)``: the head per variant, the embedding dims the text head
    sees (empty without embeddings) and the losses and dims for the report.
    """
    nets, log = {}, {}
    nets["qubo_no_text"], log["loss_no_text"] = train_scorer(X_tr, y_tr, config, seed)
    text_dims: list[int] = []
    if emb_std is not None:
        text_dims = select_text_dims(emb_std, y_tr, config, seed)
        dims = np.broadcast_to(emb_std[:, text_dims], X_tr.shape[:2] + (len(text_dims),))
        X_text = np.concatenate([X_tr, dims], axis=2)
        nets["qubo_text"], log["loss_text"] = train_scorer(X_text, y_tr, config, seed)
        log["text_dims"] = text_dims
    return nets, text_dims, log


def score_assets(nets: dict, features: np.ndarray, emb_std, text_dims) -> dict[str, np.ndarray]:
    """Each head's raw score of every asset from this date's ``features`` (assets, features)."""
    inputs = {"qubo_no_text": features}
    if emb_std is not None:
        inputs["qubo_text"] = np.concatenate([features, emb_std[:, text_dims]], axis=1)
    scores = {}
    with torch.inference_mode():
        for name, x in inputs.items():
            out = nets[name](torch.tensor(x, dtype=torch.float32)).squeeze(-1)
            scores[name] = out.numpy().astype(np.float64)
    return scores

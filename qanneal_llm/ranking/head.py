"""The torch module that scores (user, item) pairs; the formula is in :mod:`qanneal_llm.ranking`."""

from __future__ import annotations

import torch

__all__ = ["RankingHead"]


class RankingHead(torch.nn.Module):
    """``score(u, i) = <E_u[u] + A x_u, E_i[i] + B y_i> + b_i`` as a torch module.

    Content vectors are buffers, not parameters: they are inputs fixed by the embedding and
    selection stages, saved with the weights so a checkpoint scores on its own.

    Parameters
    ----------
    n_users, n_items : int
        Rows and columns of the interaction matrix.
    dim : int
        Width of the shared user/item space.
    user_features : torch.Tensor of shape (n_users, d_u), optional
        The users' content vectors ``x_u``.
    item_features : torch.Tensor of shape (n_items, d_i), optional
        The items' content vectors ``y_i``.
    use_ids : bool, default=True
        Learn id embeddings ``E_u``, ``E_i``; without them both sides need features.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int,
        user_features: torch.Tensor | None = None,
        item_features: torch.Tensor | None = None,
        use_ids: bool = True,
    ):
        super().__init__()
        if not use_ids and (user_features is None or item_features is None):
            raise ValueError("without ids, both users and items need features to be scored")
        self.n_users, self.n_items, self.dim = int(n_users), int(n_items), int(dim)
        self.use_ids = bool(use_ids)
        self.has_user_features = user_features is not None
        self.has_item_features = item_features is not None
        if self.has_user_features:
            self.register_buffer("user_features", user_features.float())
            self.user_proj = torch.nn.Linear(user_features.shape[1], dim, bias=False)
        if self.has_item_features:
            self.register_buffer("item_features", item_features.float())
            self.item_proj = torch.nn.Linear(item_features.shape[1], dim, bias=False)
        if self.use_ids:
            self.user_emb = torch.nn.Embedding(n_users, dim)
            self.item_emb = torch.nn.Embedding(n_items, dim)
        self.item_bias = torch.nn.Parameter(torch.zeros(n_items))

    def reset_parameters(self, generator: torch.Generator) -> None:
        """Seeded initialisation: small normal ids (MF practice), Xavier projections.

        Parameters
        ----------
        generator : torch.Generator
            The only source of randomness, so equal seeds give equal heads.
        """
        with torch.no_grad():
            if self.use_ids:
                self.user_emb.weight.normal_(0.0, 0.01, generator=generator)
                self.item_emb.weight.normal_(0.0, 0.01, generator=generator)
            for name in ("user_proj", "item_proj"):
                if hasattr(self, name):
                    torch.nn.init.xavier_normal_(getattr(self, name).weight, generator=generator)
            self.item_bias.zero_()

    def _side(self, ids: torch.Tensor, emb: str, proj: str, features: str) -> torch.Tensor:
        """One side's vectors: id embedding plus projected content, whichever exist."""
        out = getattr(self, emb)(ids) if self.use_ids else 0.0
        if hasattr(self, proj):
            out = out + getattr(self, proj)(getattr(self, features)[ids])
        if not torch.is_tensor(out):
            out = torch.zeros(ids.shape[0], self.dim, device=self.item_bias.device)
        return out

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        """Vectors ``E_u[u] + A x_u`` of ``users``, shape ``(len(users), dim)``.

        Parameters
        ----------
        users : torch.Tensor of int64
            User rows.

        Returns
        -------
        torch.Tensor of shape (len(users), dim)
        """
        return self._side(users, "user_emb", "user_proj", "user_features")

    def item_vectors(self, items: torch.Tensor | None = None) -> torch.Tensor:
        """Vectors ``E_i[i] + B y_i`` of ``items``; all items when ``None`` (ranking's case).

        Parameters
        ----------
        items : torch.Tensor of int64, optional
            Item columns.

        Returns
        -------
        torch.Tensor of shape (len(items), dim)
        """
        if items is None:
            items = torch.arange(self.n_items, device=self.item_bias.device)
        return self._side(items, "item_emb", "item_proj", "item_features")

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of the pairs ``(users[j], items[j])``.

        Parameters
        ----------
        users, items : torch.Tensor of int64, shape (B,)
            Paired user rows and item columns.

        Returns
        -------
        torch.Tensor of shape (B,)
        """
        return self.pair_scores(self.user_vectors(users), items)

    def pair_scores(self, uvec: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of user vectors ``uvec[j]`` (from :meth:`user_vectors`) with ``items[j]``."""
        return (uvec * self.item_vectors(items)).sum(-1) + self.item_bias[items]

    def scores(self, uvec: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of every user vector in ``uvec`` with every item of ``items`` (all items when
        ``None``), shape ``(len(uvec), len(items))``."""
        bias = self.item_bias if items is None else self.item_bias[items]
        return uvec @ self.item_vectors(items).T + bias

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """Every item's score for every given user.

        Parameters
        ----------
        users : torch.Tensor of int64
            User rows.

        Returns
        -------
        torch.Tensor of shape (len(users), n_items)
        """
        return self.scores(self.user_vectors(users))

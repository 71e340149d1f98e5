"""Adam for the head, stepped through torch's functional ``torch.optim.adam.adam``.

The arithmetic is :class:`torch.optim.Adam`'s, bit for bit (same function, same state, L2
``weight_decay`` added to the gradient). What it avoids is :class:`torch.optim.Optimizer`
itself: its ``step`` and ``zero_grad`` import ``torch._dynamo`` (and sympy with it) on their
first call, about a second of every fresh process that trains a head, a sixth of the demo's
first run on a 2-core CPU.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim.adam import adam

__all__ = ["FunctionalAdam"]


class FunctionalAdam:
    """``torch.optim.Adam(params, lr, betas, eps, weight_decay)`` without its dynamo import.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.ones(2))
    >>> opt = FunctionalAdam([w], lr=0.1)
    >>> (w ** 2).sum().backward(); opt.step(); opt.zero_grad()
    >>> [round(v, 6) for v in w.detach().tolist()]  # Adam's first step moves each by lr
    [0.9, 0.9]
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        self.params = list(params)
        self.lr, self.betas, self.eps = float(lr), tuple(map(float, betas)), float(eps)
        self.weight_decay = float(weight_decay)
        step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
        self.state = [
            (
                torch.tensor(0.0, dtype=step_dtype),
                torch.zeros_like(p, memory_format=torch.preserve_format),
                torch.zeros_like(p, memory_format=torch.preserve_format),
            )
            for p in self.params
        ]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        adam(
            [self.params[i] for i in live],
            [self.params[i].grad for i in live],
            [self.state[i][1] for i in live],
            [self.state[i][2] for i in live],
            [],
            [self.state[i][0] for i in live],
            foreach=False,
            amsgrad=False,
            beta1=self.betas[0],
            beta2=self.betas[1],
            lr=self.lr,
            weight_decay=self.weight_decay,
            eps=self.eps,
            maximize=False,
        )

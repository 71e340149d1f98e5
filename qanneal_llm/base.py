"""The base every QUBO selector estimator shares, so they check, solve and report alike.

A selector answers "which ``k`` of these ``n`` to keep" by building a
:class:`~qanneal_llm.SubsetModel` in ``fit`` and handing it to :func:`qanneal_llm.solve`.
:class:`BaseQUBOSelector` owns what is the same for all of them: the ``k`` rule (a count or a
fraction), the ``solver`` / ``seed`` / ``solver_options`` checks, and the fitted attributes

``k_``
    How many were kept.
``result_``
    The solver's checked :class:`~qanneal_llm.SelectionResult` (objective, breakdown, solver,
    seed, timings, feasibility, whether it was repaired): how the answer was obtained.
``support_``
    Boolean mask over the ``n`` candidates.
``indices_``
    Positions of the kept candidates, ascending.
``ids_``
    Their ids (the model's ids: column names, candidate ids, or the positions).

``seed`` defaults to ``0`` on every selector, so a default fit is reproducible; ``None`` draws a
seed, which ``result_.seed`` records.

A subclass writes ``__init__`` (parameters only) and ``fit``; ``fit`` validates its input, sets
``k_ = self._resolve_k(n, what, noun)``, builds the model and returns ``self._solve(model)``.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator

from qanneal_llm._validation import check_seed, check_solver_options
from qanneal_llm.solvers.registry import solve

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6 validates through a method instead

    def validate_data(estimator, *args, **kwargs):
        """scikit-learn < 1.6: the same validation, reached through the estimator's method."""
        return estimator._validate_data(*args, **kwargs)


__all__ = ["BaseQUBOSelector", "validate_data"]


class BaseQUBOSelector(BaseEstimator):
    """Shared checks, solving and fitted attributes of the QUBO selectors.

    Subclasses define ``k``, ``solver``, ``seed`` and ``solver_options`` as ``__init__``
    parameters. See the module docstring for the fitted attributes and the subclass contract.

    Class attribute ``_sklearn_xfail_checks`` maps scikit-learn ``check_estimator`` checks
    that cannot apply to a selector's input to the reason; it feeds both scikit-learn's
    ``expected_failed_checks`` (>= 1.6) and the ``_xfail_checks`` tag (older versions).
    """

    _sklearn_xfail_checks: dict[str, str] = {}

    def _resolve_k(self, n: int, what: str, noun: str) -> int:
        """``self.k`` as a count in ``1..n``: an int as given, a float as a fraction of ``n``.

        The message names ``n`` the way scikit-learn's own errors do (``what``: ``"n_samples"``
        or ``"n_features"``), says what they are (``noun``) and gives both ways out.
        """
        k = self.k
        if isinstance(k, bool) or not isinstance(k, numbers.Real):
            raise ValueError(f"k must be an int count or a float fraction, got {k!r}")
        if isinstance(k, numbers.Integral):
            if not 1 <= k <= n:
                raise ValueError(
                    f"k = {k} but {what} = {n} ({noun}); choose k in 1..{n} or a fraction in (0, 1]"
                )
            return int(k)
        if not 0 < k <= 1:
            raise ValueError(f"a float k is a fraction and must be in (0, 1], got {k}")
        return max(1, int(round(k * n)))

    def _solve(self, model):
        """Solve ``model`` with this estimator's solver settings and set the fitted attributes."""
        self.result_ = solve(
            model,
            self.solver,
            seed=check_seed(self.seed),
            **check_solver_options(self.solver_options),
        )
        self.indices_ = np.asarray(self.result_.indices, dtype=np.int64)
        self.ids_ = list(self.result_.ids)
        support = np.zeros(model.n, dtype=bool)
        support[self.indices_] = True
        self.support_ = support
        return self

    def __sklearn_tags__(self):
        # Looks like a no-op, but scikit-learn >= 1.6 refuses (check_estimator_tags_renamed) a
        # class that defines _more_tags without also defining __sklearn_tags__.
        return super().__sklearn_tags__()

    def _more_tags(self):  # scikit-learn < 1.6 reads expected failures from this tag
        return {"_xfail_checks": dict(self._sklearn_xfail_checks)}

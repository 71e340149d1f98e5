"""Certified optima for the benchmarks, from gurobipy's free size-limited licence.

Used only here, never at run time: the licence allows 2,000 variables and refuses larger models.
"""

from __future__ import annotations

import numpy as np


def gurobi_model(model, time_limit: float, threads: int = 2):
    """A gurobipy model ``(m, x)`` of a :class:`SubsetModel`: its objective, the cardinality
    and every group bound. Raises ``gurobipy.GurobiError`` past the licence's size."""
    import gurobipy as gp
    from gurobipy import GRB

    env = gp.Env(params={"OutputFlag": 0})
    m = gp.Model(env=env)
    x = m.addMVar(model.n, vtype=GRB.BINARY)
    m.setObjective(model.linear @ x + 0.5 * (x @ model.quadratic @ x) + model.offset)
    m.addConstr(x.sum() == model.k)
    for members, (lo, hi) in zip(model.groups, model.group_bounds, strict=True):
        count = x[np.flatnonzero(members)].sum()
        m.addConstr(count >= lo)
        m.addConstr(count <= hi)
    m.Params.TimeLimit, m.Params.Threads = time_limit, threads
    return m, x


def gurobi_optimum(model, time_limit: float = 120.0) -> tuple[float, float, bool] | None:
    """``(objective, bound, certified)`` of a :class:`SubsetModel` (group bounds included),
    or ``None`` when gurobi refuses the model (past the licence's size)."""
    import gurobipy as gp
    from gurobipy import GRB

    try:
        m, _ = gurobi_model(model, time_limit)
        m.Params.MIPGap, m.Params.MIPGapAbs = 0.0, 1e-9
        m.optimize()
    except gp.GurobiError as exc:
        print(f"  (gurobi refused: {exc})")
        return None
    return float(m.ObjVal), float(m.ObjBound), m.Status == GRB.OPTIMAL

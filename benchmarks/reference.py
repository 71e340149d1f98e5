"""Certified optima for the benchmarks, from gurobipy's free size-limited licence.

Used only here, never at run time: the licence allows 2,000 variables and refuses larger models.
"""

from __future__ import annotations


def gurobi_optimum(model, time_limit: float = 120.0) -> tuple[float, float, bool] | None:
    """``(objective, bound, certified)`` of a group-free :class:`SubsetModel`, or ``None`` when
    gurobi refuses the model (past the licence's size)."""
    import gurobipy as gp
    from gurobipy import GRB

    if model.groups.size:
        raise ValueError("the benchmark reference handles cardinality only, not group bounds")
    try:
        env = gp.Env(params={"OutputFlag": 0})
        m = gp.Model(env=env)
        x = m.addMVar(model.n, vtype=GRB.BINARY)
        m.setObjective(model.linear @ x + 0.5 * (x @ model.quadratic @ x) + model.offset)
        m.addConstr(x.sum() == model.k)
        m.Params.MIPGap, m.Params.MIPGapAbs = 0.0, 1e-9
        m.Params.TimeLimit, m.Params.Threads = time_limit, 2
        m.optimize()
    except gp.GurobiError as exc:
        print(f"  (gurobi refused: {exc})")
        return None
    return float(m.ObjVal), float(m.ObjBound), m.Status == GRB.OPTIMAL

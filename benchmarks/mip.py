"""The selection step against mixed-integer programming on the same k-of-n objective.

Objective (ours, :func:`qanneal_llm.portfolio_model`): choose exactly ``k`` of ``n`` assets held
at ``1/k`` each, minimising ``-mu.x/k + q x'Cx/k^2``. skfolio states the same problem as
``MeanRisk(MAXIMIZE_UTILITY, VARIANCE, risk_aversion=q, cardinality=k, threshold_long=1/k,
max_weights=1/k)``: with a budget of 1, every held weight is pinned to exactly ``1/k`` and
exactly ``k`` are held, so its mixed-integer program (cvxpy -> SCIP) is ours. gurobipy solves
the binary quadratic program directly (dense ``C`` up to n = 200, factor form above; its free
licence stops at 2,000 variables / constraints / non-zeros, which rules out n = 500), and
SCIP through pyscipopt solves the factor form directly (the certificate at n = 500).
Every solution is scored under our :class:`SubsetModel` objective, so "optimal" means the same
number for all three.

Instances:

* ``real20``: the 20 S&P 500 stocks, ``mu`` and Ledoit-Wolf ``C`` from the 252 days to the last
  close of 2007, 2012, 2017 and 2022 (skfolio's own prior estimator fits them; we read them back
  from it), k = 5;
* ``factor100`` / ``factor500``: ``C = B Omega B' + D`` and ``mu = alpha + B f`` with ``Omega``
  and ``f`` the covariance and mean of the daily returns of skfolio's five real factor ETFs
  (``load_factors_dataset``: MTUM, QUAL, SIZE, USMV, VLUE, 2014-2022), loadings ``B`` drawn
  around 0.2 each, idiosyncratic daily vol 1-3% and alphas of about 5% a year (seeded), k = 10.

Our ``anneal`` runs 5 seeds per instance (after one warm-up solve that compiles its kernels);
its time is the median. q = 2 throughout (daily returns, like the backtest's default).

Run: ``python benchmarks/mip.py [--time-limit 600] [--sizes 100 500]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from qanneal_llm import portfolio_model, solve

OUT = Path(__file__).parent / "results"
Q = 2.0


def _fixed_prior_class():
    from skfolio.prior import BasePrior, ReturnDistribution

    class FixedPrior(BasePrior):
        """A prior that returns the given ``mu`` and ``covariance`` whatever ``X`` is."""

        def __init__(self, mu=None, covariance=None):
            self.mu = mu
            self.covariance = covariance

        def fit(self, X, y=None, **fit_params):
            self.return_distribution_ = ReturnDistribution(
                mu=np.asarray(self.mu), covariance=np.asarray(self.covariance), returns=X
            )
            return self

    return FixedPrior


def real_instances(years=(2007, 2012, 2017, 2022)):
    from skfolio.moments import LedoitWolf
    from skfolio.prior import EmpiricalPrior

    from recsys.datasets import load_sp500

    returns = load_sp500().prices.pct_change(fill_method=None).iloc[1:]
    for year in years:
        window = returns[: f"{year}-12-31"].iloc[-252:].to_numpy()
        prior = EmpiricalPrior(covariance_estimator=LedoitWolf()).fit(window)
        dist = prior.return_distribution_
        yield f"real20 {year}", dist.mu, dist.covariance, 5, window, prior


def factor_instances(sizes, seeds=(0, 1, 2)):
    from skfolio.datasets import load_factors_dataset

    factors = load_factors_dataset().pct_change(fill_method=None).iloc[1:].to_numpy()
    omega, fbar = np.cov(factors.T), factors.mean(axis=0)
    FixedPrior = _fixed_prior_class()
    for n in sizes:
        for seed in seeds:
            rng = np.random.default_rng([n, seed])
            B = rng.normal(0.2, 0.15, size=(n, factors.shape[1]))
            idio = rng.uniform(0.01, 0.03, n)
            alpha = rng.normal(0.0, 0.05 / 252, n)
            mu = alpha + B @ fbar
            cov = B @ omega @ B.T + np.diag(idio**2)
            sim = factors @ B.T + rng.normal(size=(len(factors), n)) * idio
            factor_form = (B, omega, idio)
            yield f"factor{n} s{seed}", mu, cov, 10, sim, FixedPrior(mu, cov), factor_form


def skfolio_mip(X, prior, k, time_limit):
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    model = MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_UTILITY,
        risk_measure=RiskMeasure.VARIANCE,
        risk_aversion=Q,
        prior_estimator=prior,
        cardinality=k,
        threshold_long=1.0 / k,
        max_weights=1.0 / k,
        solver="SCIP",
        solver_params={"scip_params": {"limits/time": float(time_limit)}},
    )
    t = time.perf_counter()
    model.fit(X)
    seconds = time.perf_counter() - t
    w = np.asarray(model.weights_)
    return (w > 0.5 / k).astype(np.int8), seconds, w


def gurobi_bqp(mu, cov, k, time_limit, factor_form=None):
    """gurobipy on the binary program, in scaled units (daily returns give objectives near
    1e-4, where default tolerances decide ties): objective x 1e4, factor exposures x 100,
    tolerances at their tightest."""
    import gurobipy as gp

    n, scale = len(mu), 1e4
    with gp.Env(params={"OutputFlag": 0}) as env, gp.Model(env=env) as m:
        m.Params.TimeLimit = time_limit
        m.Params.MIPGap = 0.0
        m.Params.FeasibilityTol = 1e-9
        m.Params.OptimalityTol = 1e-9
        m.Params.IntFeasTol = 1e-9
        x = m.addMVar(n, vtype="B")
        m.addConstr(x.sum() == k)
        if factor_form is None:
            m.setObjective(scale * (-(mu @ x) / k + Q * (x @ cov @ x) / k**2))
        else:
            B, omega, idio = factor_form
            L = np.linalg.cholesky(omega)
            y = m.addMVar(L.shape[1], lb=-gp.GRB.INFINITY)
            m.addConstr(y == 100.0 * (B @ L).T @ x)
            risk = y @ y / 1e4 + (idio**2) @ x
            m.setObjective(scale * (-(mu @ x) / k + Q * risk / k**2))
        t = time.perf_counter()
        try:
            m.optimize()
        except gp.GurobiError as err:
            return None, None, f"not run: {err}"
        seconds = time.perf_counter() - t
        status = "optimal" if m.Status == gp.GRB.OPTIMAL else f"status {m.Status}, gap {m.MIPGap}"
        return np.round(x.X).astype(np.int8), seconds, status


def scip_factor(mu, k, factor_form, time_limit):
    """SCIP (pyscipopt) on the factor form of the same program, well scaled: binaries ``x``,
    exposures ``y = 100 (B L)' x`` with ``Omega = L L'``, and ``z >= y'y`` (convex), so it
    certifies the optimum where gurobipy's free licence cannot run."""
    from pyscipopt import Model, quicksum

    B, omega, idio = factor_form
    L = np.linalg.cholesky(omega)
    BL = 100.0 * (B @ L)
    n, r = len(mu), L.shape[1]
    m = Model()
    m.hideOutput()
    m.setParam("limits/time", float(time_limit))
    m.setParam("limits/gap", 0.0)
    m.setParam("limits/absgap", 0.0)
    x = [m.addVar(vtype="B") for _ in range(n)]
    y = [m.addVar(lb=None) for _ in range(r)]
    z = m.addVar(lb=0.0)
    m.addCons(quicksum(x) == k)
    for j in range(r):
        m.addCons(y[j] == quicksum(BL[i, j] * x[i] for i in range(n)))
    m.addCons(quicksum(y[j] * y[j] for j in range(r)) <= z)
    scale = 1e4
    lin = scale * (-mu / k + Q * idio**2 / k**2)
    m.setObjective(quicksum(lin[i] * x[i] for i in range(n)) + scale * Q / k**2 / 1e4 * z)
    t = time.perf_counter()
    m.optimize()
    seconds = time.perf_counter() - t
    x_val = np.array([round(m.getVal(v)) for v in x], dtype=np.int8)
    return x_val, seconds, f"{m.getStatus()}, gap {m.getGap():.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--time-limit", type=float, default=600.0)
    args = parser.parse_args()
    load = open("/proc/loadavg").read().split()[:3]

    warm = portfolio_model(np.zeros(8), np.eye(8), 3)
    solve(warm, "anneal", seed=0)

    instances = [(*inst, None) for inst in real_instances()]
    instances += list(factor_instances(args.sizes, args.seeds))
    rows = []
    for name, mu, cov, k, X, prior, factor_form in instances:
        model = portfolio_model(mu, cov, k, risk_aversion=Q)
        ours, times = [], []
        for seed in range(5):
            t = time.perf_counter()
            res = solve(model, "anneal", seed=seed)
            times.append(time.perf_counter() - t)
            ours.append(model.objective(res.x))
        x_sk, t_sk, w_sk = skfolio_mip(X, prior, k, args.time_limit)
        sk_obj = model.objective(x_sk) if model.is_feasible(x_sk) else np.nan
        x_gu, t_gu, gu_status = gurobi_bqp(mu, cov, k, args.time_limit, factor_form)
        gu_obj = model.objective(x_gu) if x_gu is not None else np.nan
        x_sf, t_sf, sf_status = (None, None, "dense instance: gurobi certifies it")
        if factor_form is not None:
            x_sf, t_sf, sf_status = scip_factor(mu, k, factor_form, args.time_limit)
        sf_obj = model.objective(x_sf) if x_sf is not None else np.nan
        best = np.nanmin([min(ours), sk_obj, gu_obj, sf_obj])
        scale = abs(best)
        row = {
            "instance": name,
            "n": len(mu),
            "k": k,
            "anneal_best_gap": float((min(ours) - best) / scale),
            "anneal_worst_gap": float((max(ours) - best) / scale),
            "anneal_seeds_at_best": int(np.sum(np.isclose(ours, best, rtol=1e-9, atol=0))),
            "anneal_median_s": float(np.median(times)),
            "skfolio_scip_gap": float((sk_obj - best) / scale),
            "skfolio_scip_s": t_sk,
            "skfolio_weights_exact": bool(np.allclose(w_sk[x_sk == 1], 1.0 / k, atol=1e-6)),
            "gurobi_gap": float((gu_obj - best) / scale) if x_gu is not None else None,
            "gurobi_s": t_gu,
            "gurobi_status": gu_status,
            "scip_factor_gap": float((sf_obj - best) / scale) if x_sf is not None else None,
            "scip_factor_s": t_sf,
            "scip_factor_status": sf_status,
            "speedup_vs_skfolio": t_sk / float(np.median(times)),
            "objective_best": float(best),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows)
    cols = ["instance", "anneal_worst_gap", "anneal_seeds_at_best", "anneal_median_s"]
    cols += ["skfolio_scip_gap", "skfolio_scip_s", "gurobi_gap", "gurobi_s", "scip_factor_gap"]
    cols += ["scip_factor_s", "speedup_vs_skfolio"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    load_after = open("/proc/loadavg").read().split()[:3]
    report = {
        "command": "python benchmarks/mip.py --sizes "
        + " ".join(map(str, args.sizes))
        + " --seeds "
        + " ".join(map(str, args.seeds))
        + f" --time-limit {args.time_limit:g}",
        "machine": f"{platform.machine()} {platform.processor()}, python "
        f"{platform.python_version()}",
        "loadavg_before_after": [load, load_after],
        "rows": rows,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "mip.json").write_text(json.dumps(report, indent=2, default=str))
    print("loadavg before/after:", load, load_after, "; wrote", OUT / "mip.json")


if __name__ == "__main__":
    main()

"""LLM-aware asset selection on 20 S&P 500 stocks, in two steps.

1. One decision, skfolio style: embed what each company does, let the QUBO pick 5 of the 20
   stocks on the last year of returns (with a penalty on holding similar businesses), weight
   them by minimum variance, and compare with skfolio's own minimum-variance portfolio.
2. A short walk-forward backtest (2015-2022, monthly, 10 bp costs) against the baselines.

Run: ``python examples/portfolio_sp500.py`` (about a minute; the full 2000-2022 run is
``qanneal-llm portfolio`` or ``python benchmarks/portfolio.py``).
"""

from skfolio.optimization import MeanRisk, ObjectiveFunction
from skfolio.preprocessing import prices_to_returns

from qanneal_llm.portfolio import PortfolioSelector
from recsys.datasets import load_sp500
from recsys.pipelines.portfolio import (
    BacktestConfig,
    asset_embeddings,
    run_backtest,
)
from recsys.pipelines.portfolio_report import format_table

data = load_sp500()
embeddings = asset_embeddings(data)
last_year = prices_to_returns(data.prices).iloc[-252:]

selector = PortfolioSelector(
    k=5, semantic_penalty=0.05 / 252, embeddings=embeddings, weighting="min_variance", seed=0
).fit(last_year)
print("QUBO picks:", selector.ids_, "|", selector.result_)
held = [round(float(w), 3) for w in selector.weights_[selector.support_]]
print("weights:", dict(zip(selector.ids_, held, strict=True)))
minvar = MeanRisk(objective_function=ObjectiveFunction.MINIMIZE_RISK).fit(last_year)
for name, model in (("qubo K=5 min-var", selector), ("skfolio min-var", minvar)):
    p = model.predict(last_year)
    print(f"{name:>18}: in-sample annualised vol {p.annualized_standard_deviation:.3f}")

sectors = {t: d["sector"] for t, d in data.descriptions.items()}
result = run_backtest(
    data.prices, embeddings, sectors, BacktestConfig(start="2015-01-01", end="2022-12-31")
)
print(format_table(result.table))
print("solver:", result.solver_summary["qubo_text"])

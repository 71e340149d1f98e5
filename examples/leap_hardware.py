"""The slate step of the recommender on D-Wave hardware.

With ``DWAVE_API_TOKEN`` set (or a ``dwave setup`` config) each user's slate QUBO goes to a Leap
QPU through a clique embedding found once and reused; without one this script says so and runs
the same models on the offline mock QPU (solver "mock-qpu"), so the code path is exercised
anywhere. QPU time is precious, so the candidate list is cut to 30 per user and only a few users
are sent.
Every answer is decoded, checked, repaired if needed, and the report says which happened.
"""

from pathlib import Path

import numpy as np

from qanneal_llm import slate_model, solve
from qanneal_llm.solvers import MissingTokenError, leap_token
from recsys.pipelines import recommend as rec

try:
    leap_token()
    solver = "leap-qpu"
except MissingTokenError as missing:
    solver = "mock-qpu"
    print(f"{missing}\nRunning on the mock QPU instead.")

config = rec.RecommendConfig(n_candidates=30, show_progress=False)
ml, split = rec.load_split(config)
item_vectors = rec.embed_items(ml, split)
saved = Path("results/recommend/head.qllm")  # written by `qanneal-llm recommend`
if saved.is_file():
    head = rec.RankingHeadRecommender.load(saved)
else:
    selected = rec.select_features(item_vectors, split.matrix("train"), config.n_features).indices
    head = rec.fit_head(split, item_vectors[:, selected], config)

scores = head.decision_function(np.arange(split.data.n_users))
cands, cand_scores = rec.candidate_lists(scores, split, 30)
cands, cand_scores = cands[:3], cand_scores[:3]  # QPU time is precious: three users
for u, (cand, score) in enumerate(zip(cands, cand_scores, strict=True)):
    relevance = (score - score.min()) / (score.max() - score.min())
    model = slate_model(
        relevance,
        10,
        vectors=item_vectors[cand],
        diversity=0.1,
        ids=split.data.item_ids[cand].tolist(),
    )
    qpu = solve(model, solver, seed=u, num_reads=100)
    local = solve(model, "anneal", seed=u)
    info = qpu.info
    print(
        f"user {split.data.user_ids[u]}: {solver} objective {qpu.objective:.3f}"
        f" (local anneal {local.objective:.3f}), repaired={qpu.repaired},"
        f" chain breaks {info.get('chain_break_fraction', float('nan')):.2f},"
        f" {qpu.timings['total']:.1f} s"
    )
    print("   ", "; ".join(ml.items.loc[qpu.ids, "title"].tolist()))

"""MovieLens-100k through the Python API: embed, select features by QUBO, train the head, then
choose a diverse 10-movie slate per user with the slate QUBO and compare it with the head's own
top 10. The CLI equivalent is ``qanneal-llm recommend``."""

import numpy as np

from recsys.metrics import evaluate
from recsys.pipelines import recommend as rec

config = rec.RecommendConfig(n_features=64, diversity=0.1, seed=0, show_progress=True)
ml, split = rec.load_split(config)
item_vectors = rec.embed_items(ml, split, show_progress=True)  # cached after the first run
selected = rec.select_features(item_vectors, split.matrix("train"), config.n_features).indices
head = rec.fit_head(split, item_vectors[:, selected], config)

scores = head.decision_function(np.arange(split.data.n_users))
cands, cand_scores = rec.candidate_lists(scores, split, config.n_candidates)
slates, info = rec.qubo_slates(cands, cand_scores, item_vectors, config.k, config.diversity)

for name, lists in (("head top-10", cands[:, : config.k]), ("QUBO slate", slates)):
    m = evaluate(lists, split, item_vectors=item_vectors)
    print(
        f"{name:<12} NDCG@10 {m['ndcg']:.4f}  ILD@10 {m['ild']:.4f}  coverage {m['coverage']:.3f}"
    )
print(
    f"{info['n_problems']} slates by {info['solver']}, {info['n_repaired']} repaired,"
    f" {info['seconds']:.1f} s"
)
titles = ml.items.loc[split.data.item_ids[slates[0]], "title"].tolist()
print("user", split.data.user_ids[0], "gets:", "; ".join(titles))

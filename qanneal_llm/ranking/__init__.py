"""A ranking head that scores (user, item) pairs from embeddings and, optionally, learned ids.

Text embeddings know what an item *is*; interactions know who *likes* it. The head joins the two:

``score(u, i) = <E_u[u] + A x_u, E_i[i] + B y_i> + b_i``

with ``x_u`` and ``y_i`` the user's and item's content vectors (for example the text-embedding
dimensions a feature-selection QUBO kept, and the mean of the vectors of a user's training
items), ``A`` and ``B`` learned projections to a shared space, ``E_u`` and ``E_i`` learned id
embeddings (matrix factorisation; drop them with ``use_ids=False`` to get a pure content model
that can score unseen items) and ``b_i`` an item bias that absorbs popularity.

The package, one job a module:

* :mod:`~qanneal_llm.ranking.head`: :class:`RankingHead`, the torch module;
* :mod:`~qanneal_llm.ranking.losses`: BPR and the sampled-softmax listwise loss (each positive
  against ``n_negatives`` shared uniform negatives, or the whole catalogue), and the negative
  sampler;
* :mod:`~qanneal_llm.ranking.training`: one epoch and one batch's loss;
* :mod:`~qanneal_llm.ranking.inputs`: checks of content vectors and user rows;
* :mod:`~qanneal_llm.ranking.metrics`: binary NDCG@k, shared with :mod:`recsys.metrics`;
* :mod:`~qanneal_llm.ranking.checkpoint`: atomic, sha256-verified, bit-exact checkpoints;
* :mod:`~qanneal_llm.ranking.estimator`: :class:`RankingHeadRecommender`, the scikit-learn face.

>>> import numpy as np, scipy.sparse as sp
>>> X = sp.csr_matrix(np.eye(4)[[0, 1, 2, 3, 0, 1]][:, [0, 1, 2, 3]])
>>> head = RankingHeadRecommender(dim=4, epochs=3, seed=0).fit(X)
>>> head.decision_function([0]).shape
(1, 4)
"""

from qanneal_llm.ranking.checkpoint import load_head, save_head
from qanneal_llm.ranking.estimator import RankingHeadRecommender
from qanneal_llm.ranking.head import RankingHead
from qanneal_llm.ranking.losses import LOSSES, bpr_loss, sample_negatives, sampled_softmax_loss
from qanneal_llm.ranking.metrics import ndcg_at_k

__all__ = [
    "LOSSES",
    "RankingHead",
    "RankingHeadRecommender",
    "bpr_loss",
    "load_head",
    "ndcg_at_k",
    "sample_negatives",
    "sampled_softmax_loss",
    "save_head",
]

"""The recommend pipeline end to end on a small slice of the real MovieLens-100k."""

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from qanneal_llm.embeddings import TextEncoder
from recsys.cli import main as cli_main
from recsys.pipelines import recommend as rec
from recsys.pipelines.recommend_config import RecommendConfig


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from recsys.datasets import DatasetUnavailableError

    config = rec.RecommendConfig(
        max_users=60,
        max_items=150,
        n_features=16,
        n_candidates=30,
        epochs=8,
        dim=16,
        show_progress=False,
        output=str(tmp_path_factory.mktemp("out")),
    )
    try:
        ml, split = rec.load_split(config)
    except DatasetUnavailableError as exc:
        pytest.skip(f"MovieLens-100k unavailable here: {exc}")
    encoder = TextEncoder(cache=tmp_path_factory.mktemp("emb"))
    vectors = rec.embed_items(ml, split, encoder)
    return config, ml, split, vectors


def test_split_never_leaks_test_items_into_training(small):
    _, _, split, _ = small
    key = lambda df: set(zip(df.user_id, df.item_id, strict=True))  # noqa: E731
    train, valid, test = key(split.train), key(split.valid), key(split.test)
    assert not (train & test) and not (train & valid) and not (valid & test)


def test_pipeline_end_to_end(small):
    config, _, split, vectors = small
    report = rec.run(config, item_vectors=vectors)
    out = Path(config.output)
    for name in ("report.json", "head.qllm", "training.png", "accuracy_diversity.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "report.json").read_text())["config"]["seed"] == 0
    assert report["data"]["n_users"] == 60 and report["data"]["n_items"] == 150
    s = report["slates"]
    assert s["solver"] == "anneal" and s["n_problems"] == 60 and s["n_feasible"] == 60
    assert {"n_repaired", "seed", "seconds"} <= set(s)
    assert report["feature_selection"]["n_selected"] == 16
    for name in ("head", "qubo_slate", "MostPop", "ItemKNN", "mmr@0.3", "dpp@0.3"):
        m = report["metrics"][name]
        assert 0 <= m["ndcg"] <= 1 and 0 <= m["ild"] <= 2, name
    # a head trained for a few epochs on the slice must still beat recommending at random
    rng = np.random.default_rng(0)
    scores = rng.random((split.data.n_users, split.data.n_items))
    random_top = rec.topk_from_scores(scores, split.seen("test"), 10)
    assert report["metrics"]["head"]["ndcg"] > rec.evaluate(random_top, split)["ndcg"]


def test_training_items_are_never_recommended(small):
    config, _, split, vectors = small
    selected = rec.select_features(vectors, split.matrix("train"), 8).indices
    head = rec.fit_head(split, vectors[:, selected], config)
    scores = head.decision_function(np.arange(split.data.n_users))
    cands, cand_scores = rec.candidate_lists(scores, split, 30)
    slates, info = rec.qubo_slates(cands, cand_scores, vectors, 10, 0.1, seed=1)
    seen = split.seen("test").toarray().astype(bool)
    for lists in (cands, slates, rec.rerank_baseline(cands, cand_scores, vectors, 10, "dpp")):
        assert not seen[np.arange(lists.shape[0])[:, None], lists].any()
    # slates are drawn from the candidates and are reproducible from the seed
    assert all(set(s) <= set(c) for s, c in zip(slates, cands, strict=True))
    again, _ = rec.qubo_slates(cands, cand_scores, vectors, 10, 0.1, seed=1)
    np.testing.assert_array_equal(slates, again)
    assert info["n_feasible"] == split.data.n_users


def test_saved_head_is_reused(small, tmp_path):
    config, _, _, vectors = small
    first = rec.run(config, item_vectors=vectors)
    reuse = rec.RecommendConfig(
        **{
            **asdict(config),
            "output": str(tmp_path),
            "head_path": str(Path(config.output) / "head.qllm"),
            "baselines": False,
        }
    )
    second = rec.run(reuse, item_vectors=vectors)
    assert second["head"]["source"].startswith("loaded")
    assert second["metrics"]["head"] == first["metrics"]["head"]


def test_cli_reports_bad_input_and_runs(small, tmp_path, capsys):
    assert cli_main(["recommend", "--k", "40", "--candidates", "30", "--quiet"]) == 2
    assert "exceeds n_candidates" in capsys.readouterr().err
    head = Path(small[0].output) / "head.qllm"
    assert (
        cli_main(
            [
                "recommend",
                "--head",
                str(tmp_path / "missing.qllm"),
                "--quiet",
                "--output",
                str(tmp_path),
                "--max-users",
                "60",
                "--max-items",
                "150",
                "--no-baselines",
                "--n-features",
                "16",
                "--candidates",
                "30",
            ]
        )
        == 2
    )
    assert "no ranking-head checkpoint" in capsys.readouterr().err
    assert head.is_file()


def test_failed_run_leaves_the_previous_results_untouched(small, tmp_path, monkeypatch):
    config, _, _, vectors = small
    out = tmp_path / "results"
    first = rec.run(RecommendConfig(**{**asdict(config), "output": str(out)}), item_vectors=vectors)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"head.qllm", "report.json"} <= set(before) and first["slates"]["n_problems"] == 60

    def fail(*args, **kwargs):
        raise RuntimeError("the slate stage broke")

    monkeypatch.setattr(rec, "qubo_slates", fail)  # after the head stage has written head.qllm
    with pytest.raises(RuntimeError, match="slate stage broke"):
        rec.run(RecommendConfig(**{**asdict(config), "output": str(out)}), item_vectors=vectors)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["results"]  # no partial folder beside it


def test_head_cache_reuses_only_a_head_trained_on_identical_inputs(small, tmp_path, monkeypatch):
    from dataclasses import replace

    config, _, split, vectors = small
    monkeypatch.setenv("QANNEAL_LLM_CACHE", str(tmp_path))
    trained = []
    real_fit = rec._fit
    monkeypatch.setattr(rec, "_fit", lambda *a, **k: trained.append(1) or real_fit(*a, **k))
    feats = np.ascontiguousarray(vectors[:, :16])
    users = np.arange(split.data.n_users)

    first, source = rec._cached_fit_head(split, feats, config)
    assert source == "trained" and len(trained) == 1
    again, source = rec._cached_fit_head(split, feats, replace(config, show_progress=True))
    assert source.startswith("cache") and len(trained) == 1
    np.testing.assert_array_equal(again.decision_function(users), first.decision_function(users))
    assert again.history_ == first.history_ and again.best_epoch_ == first.best_epoch_

    # other features, another seed or --retrain: trained again
    for feats_, config_ in (
        (feats + np.float32(1e-3), config),
        (feats, replace(config, seed=1)),
        (feats, replace(config, reuse_head=False)),
    ):
        _, source = rec._cached_fit_head(split, feats_, config_)
        assert source == "trained"
    assert len(trained) == 4

    # a damaged entry is reported, dropped and replaced by a retrained head
    for path in (tmp_path / "heads").glob("*.qllm"):
        path.write_bytes(path.read_bytes()[:-10])
    with pytest.warns(RuntimeWarning, match="unusable"):
        redone, source = rec._cached_fit_head(split, feats, config)
    assert source == "trained" and len(trained) == 5
    np.testing.assert_array_equal(redone.decision_function(users), first.decision_function(users))


def test_retrain_flag_turns_the_head_cache_off():
    from recsys.cli import build_parser
    from recsys.pipelines.recommend_config import config_from_args

    parser = build_parser()
    assert config_from_args(parser.parse_args(["recommend"])).reuse_head
    assert not config_from_args(parser.parse_args(["recommend", "--retrain"])).reuse_head

"""`qanneal-llm recommend --protocol cold-items|cold-users` on a small slice of MovieLens-100k."""

import json

import pytest

from recsys.cli import main as cli_main

SLICE = ["--max-users", "60", "--max-items", "150", "--quiet", "--k", "5"]


@pytest.fixture(scope="module", autouse=True)
def movielens():
    from recsys.datasets import DatasetUnavailableError, load_movielens

    try:
        load_movielens()
    except DatasetUnavailableError as exc:
        pytest.skip(f"MovieLens-100k unavailable here: {exc}")


def test_cold_items_protocol_runs_and_reports(tmp_path, capsys):
    out = tmp_path / "items"
    args = ["recommend", "--protocol", "cold-items", "--n-features", "16", "--candidates", "20"]
    assert cli_main(args + SLICE + ["--output", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["protocol"] == "cold-items" and report["data"]["test_items"] == 30
    assert {"knn_cbf_all", "knn_cbf_pca16", "knn_cbf_coldstart_features", "content_head"} <= set(
        report["metrics"]
    )
    assert len(report["coldstart_features"]["selected"]) == 16
    assert report["slates"]["n_feasible"] == report["slates"]["n_problems"]
    assert "knn_cbf_coldstart_features" in capsys.readouterr().out


def test_cold_users_protocol_runs_and_bad_protocol_is_one_line(tmp_path, capsys):
    out = tmp_path / "users"
    assert cli_main(["recommend", "--protocol", "cold-users", *SLICE, "--output", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["slates"]) == {"qubo", "most_popular", "random", "greedy_coverage"}
    assert all(len(s) == 5 for s in report["slates"].values())
    assert cli_main(["recommend", "--protocol", "cold"]) == 2
    assert "invalid choice" in capsys.readouterr().err

"""``qanneal-llm recommend --protocol cold-items|cold-users``: a cold protocol from the
recommend command's config, its report written like every run's (whole or not at all)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from qanneal_llm.storage import json_default
from recsys.coldstart.protocol import PROTOCOLS, ColdConfig, run_cold_items, run_cold_users
from recsys.pipelines.outputs import staged_output
from recsys.pipelines.progress import Progress
from recsys.pipelines.recommend_config import ARTEFACTS, RecommendConfig

__all__ = ["format_summary", "run"]


def run(config: RecommendConfig, encoder=None) -> dict:
    """Run ``config.protocol`` on ``config.dataset`` and write ``report.json`` to its output.

    The cold protocols use ``seed``, ``k`` (slate and onboarding size, metrics @k),
    ``n_features``, ``n_candidates`` (the cold-item slate's candidates), ``diversity`` (the
    slate's lambda), ``solver`` and ``max_users``/``max_items``; the warm head's options do not
    apply. Every other setting is chosen on the protocol's validation stage.
    """
    from qanneal_llm.embeddings import TextEncoder
    from recsys.pipelines.recommend import load_split

    config.validate()
    if config.protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {config.protocol!r}")
    progress = Progress("recommend", config.show_progress)
    cold = ColdConfig(
        seed=config.seed,
        k=config.k,
        n_features=config.n_features,
        n_candidates=config.n_candidates,
        diversity=config.diversity,
        solver=config.solver,
        threads=config.torch_threads or 1,
    )
    with staged_output(config.output, "recommend", ARTEFACTS) as folder:
        with progress.stage("load", f"{config.dataset} ratings"):
            ml, split = load_split(config)
            ratings = pd.concat([split.train, split.valid, split.test], ignore_index=True)
        runner = run_cold_items if config.protocol == "cold-items" else run_cold_users
        with progress.stage(config.protocol, "validation stage, then the test stage"):
            report = runner(ml, encoder or TextEncoder(), cold, ratings=ratings)
        report.pop("per_user_ndcg")
        report["recommend_config"] = config.__dict__
        (folder / "report.json").write_text(
            json.dumps(report, indent=2, default=json_default) + "\n"
        )
    return report


def format_summary(report: dict) -> str:
    """The metrics table, what was chosen on validation, and where the report is."""
    columns = ("ndcg", "recall", "mrr", "hit")
    lines = [f"{report['protocol']}: {report['data']['split']}"]
    lines.append(f"{'method':<28}" + "".join(f"{c:>9}" for c in columns))
    for name, m in report["metrics"].items():
        lines.append(f"{name:<28}" + "".join(f"{m[c]:>9.4f}" for c in columns))
    chosen = report["chosen_on_validation"]
    lines.append(
        "chosen on validation: "
        + json.dumps(
            {
                k: v.get("settings", v) if isinstance(v, dict) else v
                for k, v in chosen.items()
                if k != "valid_ndcg"
            }
        )
    )
    out = Path(report["recommend_config"]["output"]) / "report.json"
    lines.append(f"total {report['seconds']:.1f} s; report in {out}")
    return "\n".join(lines)

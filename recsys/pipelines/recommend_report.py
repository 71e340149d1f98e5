"""What a ``recommend`` run reports: the JSON report, its plots and the printed summary."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from qanneal_llm.storage import json_default

__all__ = ["build_report", "format_summary", "write_report"]

SUMMARY_COLUMNS = ("ndcg", "recall", "mrr", "hit", "precision", "ild", "coverage", "novelty")


def build_report(config, split, methods, feat, dim, head, head_source, slates, timings) -> dict:
    """The report dict: config, data, metrics per method, and how every stage was obtained.

    ``feat`` is the feature selection's result over ``dim`` embedding dimensions; ``slates``
    the slate stage's solver summary plus ``n_candidates``.
    """
    selected = np.asarray(feat.indices)
    return {
        "config": asdict(config),
        "data": {
            "dataset": config.dataset,
            "n_users": split.data.n_users,
            "n_items": split.data.n_items,
            "n_train": len(split.train),
            "n_valid": len(split.valid),
            "n_test": len(split.test),
            "split": f"per-user random {split.ratios}, seed {split.seed}",
            "protocol": "full ranking over items outside train+valid, test part, @k",
        },
        "metrics": methods,
        "feature_selection": {
            "n_selected": int(selected.size),
            "of": int(dim),
            "selected": selected.tolist(),
            "solver": feat.solver,
            "seed": feat.seed,
            "objective": feat.objective,
            "breakdown": feat.breakdown,
            "feasible": feat.feasible,
            "repaired": feat.repaired,
            "seconds": feat.timings.get("total"),
        },
        "head": {
            "source": head_source,
            "params": head.get_params(),
            "best_epoch": head.best_epoch_,
            "epochs_run": len(head.history_),
            "best_valid_ndcg": max(
                (h.get("valid_ndcg", float("nan")) for h in head.history_), default=None
            ),
            "fit_seconds": head.fit_seconds_,
            "checkpoint": str(Path(config.output) / "head.qllm"),
        },
        "slates": {
            "k": config.k,
            "lambda": config.diversity,
            "n_candidates": slates["n_candidates"],
            "relevance": "head scores of the candidates, min-max scaled to [0, 1] per user",
            "similarity": f"cosine of the full {dim}-d item text embeddings",
            **{k: v for k, v in slates.items() if k != "n_candidates"},
        },
        "timings_seconds": timings,
    }


def write_report(report: dict, head, folder) -> None:
    """``report.json``, ``training.png`` and ``accuracy_diversity.png`` into ``folder``."""
    out = Path(folder)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=json_default) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [h["epoch"] for h in head.history_]
    if any("valid_ndcg" in h for h in head.history_):
        ax.plot(epochs, [h.get("valid_ndcg", np.nan) for h in head.history_], label="valid NDCG@10")
        ax.axvline(head.best_epoch_, color="grey", ls="--", label="kept epoch")
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel("valid NDCG@10")
    ax.set_title("Ranking head training (early stopping on valid)")
    fig.tight_layout()
    fig.savefig(out / "training.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, m in report["metrics"].items():
        if "ild" in m:
            ax.scatter(m["ild"], m["ndcg"], s=40)
            ax.annotate(
                name, (m["ild"], m["ndcg"]), fontsize=8, xytext=(4, 2), textcoords="offset points"
            )
    ax.set_xlabel("ILD@10 (1 - cosine of item text embeddings)")
    ax.set_ylabel("NDCG@10 (test)")
    ax.set_title("Accuracy vs diversity, same split")
    fig.tight_layout()
    fig.savefig(out / "accuracy_diversity.png", dpi=120)
    plt.close(fig)


def format_summary(report: dict) -> str:
    """The metrics table and one line on how the slates were obtained, for the terminal."""
    lines = [f"{'method':<14}" + "".join(f"{c:>11}" for c in SUMMARY_COLUMNS)]
    for name, m in report["metrics"].items():
        lines.append(
            f"{name:<14}" + "".join(f"{m.get(c, float('nan')):>11.4f}" for c in SUMMARY_COLUMNS)
        )
    s = report["slates"]
    lines.append(
        f"slates: {s['n_problems']} by {s['solver']} (seed {s['seed']}), {s['n_feasible']}"
        f" feasible, {s['n_repaired']} repaired; total {report['timings_seconds']['total']:.1f} s;"
        f" report in {Path(report['config']['output']) / 'report.json'}"
    )
    return "\n".join(lines)

"""Every choice of a ``recommend`` run: the config dataclass and its command-line options.

Only the standard library is imported here, so ``qanneal-llm recommend --help`` and any
mistyped flag answer at once; the engine (:mod:`recsys.pipelines.recommend`) loads torch and
the encoder when a run starts.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path

from recsys.pipelines.checks import check_solver
from recsys.pipelines.options import add_solver_option_flag, positive_int, solver_options
from recsys.pipelines.outputs import check_output_folder

__all__ = [
    "ARTEFACTS",
    "DATASETS",
    "LOSSES",
    "PROTOCOLS",
    "RecommendConfig",
    "check_before_loading",
    "config_from_args",
    "configure_parser",
]

DATASETS = ("ml-100k",)
# "warm": the per-user 8:1:1 split; the cold protocols are run by recsys.coldstart.
PROTOCOLS = ("warm", "cold-items", "cold-users")
# The ranking head's losses (qanneal_llm.ranking.LOSSES, which imports torch; a test keeps
# the two equal).
LOSSES = ("softmax", "bpr")
# What a run writes to its output folder.
ARTEFACTS = ("report.json", "head.qllm", "training.png", "accuracy_diversity.png")
SOLVERS_HELP = "anneal, neal, tabu, exact, mock-qpu, leap-qpu, leap-hybrid"


@dataclass
class RecommendConfig:
    """Every choice a run makes; stored verbatim in the report."""

    dataset: str = "ml-100k"
    solver: str = "anneal"
    k: int = 10
    diversity: float = 0.1
    n_features: int = 64
    feature_solver: str = "anneal"
    n_candidates: int = 100
    loss: str = "softmax"
    dim: int = 64
    epochs: int = 100
    seed: int = 0
    output: str = "results/recommend"
    head_path: str | None = None
    max_users: int | None = None
    max_items: int | None = None
    baselines: bool = True
    baseline_weight: float = 0.3
    show_progress: bool = True
    torch_threads: int | None = 1
    solver_options: dict = field(default_factory=dict)
    protocol: str = "warm"
    ray: str | None = None
    reuse_head: bool = True

    def validate(self) -> None:
        """Raise ``ValueError`` naming the flag to fix for any value a run cannot use."""
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {DATASETS}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; choose one of {PROTOCOLS}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("k", "n_features", "n_candidates", "dim", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.k > self.n_candidates:
            raise ValueError(
                f"k = {self.k} exceeds n_candidates = {self.n_candidates}; the slate is chosen"
                " from the candidates, so raise --candidates or lower --k"
            )
        if not (math.isfinite(self.diversity) and self.diversity >= 0):
            raise ValueError(f"diversity (--lambda) must be >= 0, got {self.diversity!r}")
        if not 0 <= self.baseline_weight <= 1:
            raise ValueError(f"baseline_weight must be in [0, 1], got {self.baseline_weight!r}")
        if self.head_path is not None and not Path(self.head_path).is_file():
            raise FileNotFoundError(
                f"no ranking-head checkpoint at {self.head_path}; run once without --head, then"
                " pass the head.qllm it writes to the output folder"
            )
        if self.ray is not None and self.protocol != "warm":
            raise ValueError(f"--ray runs the warm protocol only, not --protocol {self.protocol}")
        for name in ("max_users", "max_items"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 2):
                raise ValueError(
                    f"{name} (--{name.replace('_', '-')}) must be an integer >= 2 or None,"
                    f" got {value!r}"
                )


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``qanneal-llm recommend``."""
    d = RecommendConfig()
    add = parser.add_argument
    add("--dataset", default=d.dataset, choices=DATASETS)
    add(
        "--protocol",
        default=d.protocol,
        choices=PROTOCOLS,
        help="warm: per-user 8:1:1 split; cold-items: 20%% of items held out, ranked from their"
        " text alone; cold-users: 20%% of users held out, asked about --k onboarding items first"
        " (default %(default)s)",
    )
    add(
        "--solver",
        default=d.solver,
        help=f"slate QUBO backend: {SOLVERS_HELP} (default %(default)s)",
    )
    add_solver_option_flag(parser, "the slate QUBOs")
    add("--k", type=positive_int, default=d.k, help="slate size (default %(default)s)")
    add(
        "--lambda",
        dest="diversity",
        type=float,
        default=d.diversity,
        help="diversity weight of the slate QUBO (default %(default)s)",
    )
    add("--seed", type=int, default=d.seed)
    add(
        "--output",
        default=d.output,
        help="folder for report.json, PNGs and head.qllm; replaced whole at the end of a"
        " successful run (default %(default)s)",
    )
    add(
        "--n-features",
        type=positive_int,
        default=d.n_features,
        help="embedding dimensions the feature QUBO keeps (default %(default)s)",
    )
    add("--feature-solver", default=d.feature_solver, help="feature QUBO backend (default anneal)")
    add(
        "--candidates",
        dest="n_candidates",
        type=positive_int,
        default=d.n_candidates,
        help="top-M candidates per user for the slate (default %(default)s)",
    )
    add("--loss", default=d.loss, choices=LOSSES)
    add("--epochs", type=positive_int, default=d.epochs)
    add("--head", dest="head_path", help="reuse a head.qllm a previous run wrote, not training")
    add(
        "--retrain",
        dest="reuse_head",
        action="store_false",
        help="train the head even when a run on identical inputs cached one",
    )
    add("--max-users", type=int, default=None, help="slice for quick runs")
    add("--max-items", type=int, default=None, help="slice for quick runs")
    add(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run the embedding and slate stages on Ray: the cluster at ADDRESS (auto,"
        " ray://host:10001, ...), or without one a local cluster started for this run; same"
        " report (needs the ray extra)",
    )
    add(
        "--no-baselines",
        dest="baselines",
        action="store_false",
        help="skip MostPop, ItemKNN, MMR and DPP",
    )


def config_from_args(args: argparse.Namespace) -> RecommendConfig:
    """The config of parsed arguments (``--quiet`` turns the progress off)."""
    fields = RecommendConfig.__dataclass_fields__
    values = {k: v for k, v in vars(args).items() if k in fields}
    values["show_progress"] = not getattr(args, "quiet", False)
    values["solver_options"] = solver_options(args)
    return RecommendConfig(**values)


def check_before_loading(config: RecommendConfig) -> None:
    """The checks that need neither data nor the engine (so they answer in about a second):
    config values, the output folder, both solvers' names and options, the Leap token and
    whether the slate problem fits the slate solver."""
    config.validate()
    if config.ray is not None and importlib.util.find_spec("ray") is None:
        raise ImportError("--ray needs Ray: pip install 'qanneal-llm[ray]'")
    check_output_folder(config.output, "recommend", ARTEFACTS)
    check_solver("--feature-solver", config.feature_solver)
    check_solver(
        "--solver", config.solver, n=config.n_candidates, k=config.k, **config.solver_options
    )

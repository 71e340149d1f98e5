"""The ``qanneal-llm`` command's error contract, run as a user runs it: the installed entry point
in a child process.

Every bad input must give exit code 2, exactly one stderr line ``qanneal-llm <cmd>: error:
...`` naming the problem and the fix, no traceback, and leave the output folder exactly as it
was. Each case answers within seconds because the check runs before anything expensive; the
cases run a few at a time to keep the whole file short.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.cli import main as cli_main
from recsys.pipelines.outputs import MARKER, staged_output

ROOT = Path(__file__).resolve().parents[1]
ENTRY = shutil.which("qanneal-llm")

# (id, argv with {placeholders} for files made by the fixture, fragments the message must have)
CATALOGUE = [
    ("rec-k-not-int", "recommend --k x", ["argument --k", "whole number", "--help"]),
    ("rec-k-zero", "recommend --k 0", ["argument --k", "at least 1"]),
    ("rec-unknown-flag", "recommend --bogus", ["unrecognized arguments: --bogus"]),
    ("rec-k-over-candidates", "recommend --k 40 --candidates 30", ["--candidates", "--k"]),
    ("rec-lambda-negative", "recommend --lambda -1", ["--lambda", ">= 0"]),
    ("rec-unknown-solver", "recommend --solver anneall", ["--solver anneall", "anneal, exact"]),
    ("rec-unknown-feature-solver", "recommend --feature-solver nope", ["--feature-solver nope"]),
    (
        "rec-unknown-solver-option",
        "recommend --solver-option num_sweepz=10",
        ["no option 'num_sweepz'", "num_sweeps"],
    ),
    ("rec-solver-option-syntax", "recommend --solver-option oops", ["NAME=VALUE"]),
    ("rec-missing-token", "recommend --solver leap-qpu", ["DWAVE_API_TOKEN", "dwave setup"]),
    ("rec-exact-too-large", "recommend --solver exact", ["C(100, 10)", "--solver anneal"]),
    (
        "rec-qpu-too-large",
        "recommend --solver mock-qpu --candidates 400",
        ["400 variables", "holds"],
    ),
    ("rec-output-is-file", "recommend --output {file}", ["is a file"]),
    ("rec-output-not-ours", "recommend --output {mine}", ["files of your own"]),
    ("rec-n-features-too-many", "recommend --n-features 1000", ["384 dimensions", "at most 384"]),
    ("rec-head-not-checkpoint", "recommend --head {json}", ["not a ranking-head checkpoint"]),
    ("rec-head-missing", "recommend --head {tmp}/none.qllm", ["no ranking-head checkpoint"]),
    ("pf-csv-missing", "portfolio --prices-csv {tmp}/none.csv", ["no such file"]),
    ("pf-csv-is-folder", "portfolio --prices-csv {tmp}", ["is a folder"]),
    ("pf-csv-empty", "portfolio --no-text --prices-csv {empty}", ["does not read as a CSV"]),
    ("pf-csv-no-rows", "portfolio --no-text --prices-csv {header}", ["has no price rows"]),
    ("pf-csv-nan", "portfolio --no-text --prices-csv {nan}", ["T0 has 1 missing prices"]),
    ("pf-csv-text", "portfolio --no-text --prices-csv {text}", ["T1 has a non-numeric price"]),
    ("pf-bad-date", "portfolio --start notadate", ["--start 'notadate' is not a date"]),
    ("pf-dates-swapped", "portfolio --start 2020-01-01 --end 2010-01-01", ["is after --end"]),
    ("pf-k-zero", "portfolio --k 0", ["argument --k", "at least 1"]),
    ("pf-risk-aversion-negative", "portfolio --risk-aversion -1", ["--risk-aversion", ">= 0"]),
    ("pf-k-too-many", "portfolio --no-text --prices-csv {csv} --k 9", ["--k 9", "7 assets"]),
    ("pf-unknown-solver", "portfolio --solver anneall", ["--solver anneall"]),
    ("pf-missing-token", "portfolio --solver leap-hybrid", ["DWAVE_API_TOKEN"]),
    (
        "pf-infeasible-sectors",
        "portfolio --no-text --prices-csv {csv} --descriptions {desc} --k 3 --max-per-sector 1",
        ["2 sectors", "--max-per-sector"],
    ),
    (
        "pf-sector-cap-without-descriptions",
        "portfolio --no-text --prices-csv {csv} --max-per-sector 1",
        ["--max-per-sector needs each asset's sector", "--descriptions"],
    ),
    (
        "pf-text-without-descriptions",
        "portfolio --prices-csv {csv}",
        ["no description for", "--descriptions FILE", "--no-text"],
    ),
    ("pf-descriptions-without-csv", "portfolio --descriptions {desc}", ["--prices-csv"]),
    (
        "pf-exact-text-dims-too-large",
        "portfolio --prices-csv {csv} --descriptions {desc} --solver exact --k 3",
        ["text feature selection", "--no-text"],
    ),
    ("pf-output-is-file", "portfolio --output {file}", ["is a file"]),
    ("pf-finance-extra-missing", "portfolio --no-text", ["finance", "pip install"]),
]

# A sitecustomize that makes skfolio look uninstalled (for the missing-extra case only).
_NO_SKFOLIO = """
import sys

class _NoSkfolio:
    def find_spec(self, name, path=None, target=None):
        if name == "skfolio" or name.startswith("skfolio."):
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, _NoSkfolio())
"""


def _prices(n_assets=7, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", "2019-03-29")
    daily = rng.normal(0.0003, 0.01, (len(dates), 1)) + rng.normal(0, 0.015, (len(dates), n_assets))
    prices = 50 * np.exp(np.cumsum(np.log1p(daily), axis=0))
    return pd.DataFrame(prices, index=dates, columns=[f"T{i}" for i in range(n_assets)])


def _make_inputs(tmp: Path) -> dict[str, str]:
    prices = _prices().rename_axis("date")
    files = {"tmp": str(tmp)}
    prices.to_csv(tmp / "prices.csv")
    files["csv"] = str(tmp / "prices.csv")
    (tmp / "empty.csv").write_text("")
    files["empty"] = str(tmp / "empty.csv")
    (tmp / "header.csv").write_text("date,T0,T1\n")
    files["header"] = str(tmp / "header.csv")
    nan = prices.copy()
    nan.iloc[5, 0] = np.nan
    nan.to_csv(tmp / "nan.csv")
    files["nan"] = str(tmp / "nan.csv")
    text = prices.astype(object)
    text.iloc[7, 1] = "twelve"
    text.to_csv(tmp / "text.csv")
    files["text"] = str(tmp / "text.csv")
    desc = {
        t: {"name": f"Company {t}", "sector": "S1" if i < 4 else "S2", "description": "Makes x."}
        for i, t in enumerate(prices.columns)
    }
    (tmp / "desc.json").write_text(json.dumps(desc))
    files["desc"] = str(tmp / "desc.json")
    (tmp / "head.json").write_text('{"not": "a checkpoint"}')
    files["json"] = str(tmp / "head.json")
    (tmp / "a_file.txt").write_text("mine")
    files["file"] = str(tmp / "a_file.txt")
    (tmp / "mine").mkdir()
    (tmp / "mine" / "thesis.tex").write_text("precious")
    files["mine"] = str(tmp / "mine")
    return files


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _run_case(case, files, base: Path, env):
    name, argv, _ = case
    out = base / "outputs" / name / "results"
    out.mkdir(parents=True)
    (out / MARKER).write_text(json.dumps({"command": argv.split()[0]}))
    (out / "report.json").write_text('{"previous": true}')
    args = argv.format(**files).split()
    if "--output" not in args:
        args += ["--output", str(out)]
    case_env = dict(env)
    if name == "pf-finance-extra-missing":
        site = base / "no_skfolio"
        site.mkdir()
        (site / "sitecustomize.py").write_text(textwrap.dedent(_NO_SKFOLIO))
        case_env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    # a case naming its own --output (an existing file, a folder that is not ours) must leave
    # that untouched too, not only the default output folder
    target = Path(args[args.index("--output") + 1])

    def state():
        named = target.read_bytes() if target.is_file() else _snapshot(target)
        return _snapshot(out.parent), named

    before = state()
    proc = subprocess.run(
        [ENTRY, *args], env=case_env, capture_output=True, text=True, timeout=120, cwd=base
    )
    return proc, before, state()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    if ENTRY is None:
        pytest.fail("the qanneal-llm entry point is not installed (pip install -e .)")
    base = tmp_path_factory.mktemp("cli")
    files = _make_inputs(base)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWAVE")}
    env.update(
        PYTHONPATH=str(ROOT),
        HOME=str(base / "home"),  # no `dwave setup` config file either
        XDG_CONFIG_HOME=str(base / "home" / ".config"),
        QANNEAL_LLM_CACHE=str(base / "cache"),
        MPLBACKEND="Agg",
    )
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = pool.map(lambda c: _run_case(c, files, base, env), CATALOGUE)
        return dict(zip([c[0] for c in CATALOGUE], results, strict=True))


@pytest.mark.parametrize("case", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(outcomes, case):
    name, argv, fragments = case
    proc, before, after = outcomes[name]
    command = argv.split()[0]
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"qanneal-llm {command}: error: "), lines[0]
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "delete" not in lines[0]
    assert after == before, "the output folder (or a sibling) changed"


def test_debug_shows_the_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["portfolio", "--start", "notadate", "--debug", "--output", str(tmp_path / "o")]
    proc = subprocess.run([ENTRY, *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "is not a date" in proc.stderr


def test_help_and_version_import_nothing_heavy():
    code = textwrap.dedent(
        """
        import contextlib, io, sys
        from recsys.cli import main
        for argv in (["--help"], ["recommend", "--help"], ["portfolio", "--help"], ["--version"]):
            with contextlib.redirect_stdout(io.StringIO()) as out:
                try:
                    main(argv)
                except SystemExit as exc:
                    assert exc.code == 0, (argv, exc.code)
            assert out.getvalue().strip(), argv
        heavy = ("torch", "transformers", "numba", "pandas", "matplotlib", "qanneal_llm")
        print(sorted(m for m in heavy if m in sys.modules))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    version = subprocess.run([ENTRY, "--version"], env=env, capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("qanneal-llm ")


def test_own_csv_without_descriptions_runs_under_no_text(tmp_path, capsys):
    _prices().rename_axis("date").to_csv(tmp_path / "p.csv")
    out = tmp_path / "out"
    argv = [
        "portfolio", "--prices-csv", str(tmp_path / "p.csv"), "--no-text", "--quiet",
        "--start", "2018-06-01", "--end", "2019-03-31", "--k", "2", "--no-plots",
        "--output", str(out),
    ]  # fmt: skip
    assert cli_main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # --quiet: nothing but the summary, on stdout
    assert "sharpe" in captured.out and str(out / "portfolio.json") in captured.out
    report = json.loads((out / "portfolio.json").read_text())
    assert report["data"]["assets"] == [f"T{i}" for i in range(7)]
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "portfolio.json"]


def test_staged_output_replaces_whole_or_leaves_untouched(tmp_path):
    out = tmp_path / "results"
    with staged_output(out, "demo") as folder:
        (folder / "a.txt").write_text("first")
        (folder / "stale.png").write_text("x")
    for failure in (RuntimeError("the run failed"), KeyboardInterrupt()):
        with pytest.raises(type(failure)), staged_output(out, "demo") as folder:
            (folder / "a.txt").write_text("half-written")
            raise failure
    assert (out / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no partial folder left
    with staged_output(out, "demo") as folder:
        (folder / "a.txt").write_text("second")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "a.txt"]  # stale.png is gone
    assert (out / "a.txt").read_text() == "second"
    with pytest.raises(ValueError, match="qanneal-llm demo"), staged_output(out, "other"):
        pass
    assert (out / "a.txt").read_text() == "second"


def test_parser_constants_match_the_library():
    # The config modules repeat these so that --help need not import torch.
    from qanneal_llm.ranking import LOSSES
    from recsys.pipelines.recommend_config import LOSSES as CLI_LOSSES

    assert CLI_LOSSES == LOSSES


def test_console_main_flushes_runs_atexit_and_keeps_the_exit_code():
    code = (
        "import atexit, sys\n"
        "import recsys.cli as cli\n"
        "atexit.register(lambda: print('atexit handler ran', file=sys.stderr))\n"
        "cli.main = lambda: (print('summary line', end=''), 3)[1]\n"
        "cli.console_main()\n"
        "print('never reached')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (3, "summary line")
    assert done.stderr.strip() == "atexit handler ran"

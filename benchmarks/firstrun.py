"""Benchmark: a new user's first run of README's demo, cold then warm, in a fresh venv.

Builds a virtual environment (``python -m venv``; ``pip install -c constraints.txt <repo>``, a
regular install, not editable, reusing pip's own download cache), points every cache the demo
touches at empty temporary folders (``QANNEAL_LLM_CACHE`` for the data and embeddings,
``NUMBA_CACHE_DIR`` for the compiled kernels, ``HF_HOME``), then runs ``qanneal-llm recommend``
verbatim from an empty folder: once cold, then ``--warm`` more times with the caches filled.

The last run adds ``--retrain``: warm caches, but the ranking head trained again instead of
loaded from the head cache (what a run that changes the head's inputs costs).

Prints, per run: the wall clock, the stage table from ``report.json``, and the longest silence
(the longest gap between two pieces of output on stdout/stderr, progress bars included), plus
the CPU model, whether torch reports native bf16, the encoder's route, and the load average.

``--no-bf16`` emulates a CPU without native bf16 on one that has it: oneDNN is capped below
its bf16 instructions (``ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI``, a Cascade Lake's) and the
encoder's bf16 detection is overridden (``QANNEAL_LLM_CPU_BF16=0``), so the run takes the route
and the speed such a CPU would.

Targets (issue 9): cold < 20 s, warm < 8 s wall, no silence > 2 s, on 2 cores without bf16.

Run: ``python benchmarks/firstrun.py [--no-bf16] [--warm 1] [--venv DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEMO = ["qanneal-llm", "recommend"]
EMULATE_NO_BF16 = {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_VNNI", "QANNEAL_LLM_CPU_BF16": "0"}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def build_venv(venv: Path) -> float:
    """A fresh venv with the project installed as a user would; returns the seconds it took."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    done = subprocess.run(
        [*pip, "-c", str(REPO / "constraints.txt"), str(REPO)], capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"pip install failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def timed_run(cmd, env, cwd) -> tuple[float, float, int, str]:
    """Run ``cmd``: (wall s, (longest gap between outputs s, the output before it), exit code,
    output tail)."""
    started = last = time.perf_counter()
    longest, after = 0.0, "(start)"
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks = []
    while True:
        chunk = proc.stdout.read1(4096)
        now = time.perf_counter()
        if not chunk:
            break
        if now - last > longest:
            longest, after = now - last, _last_line(chunks)
        last = now
        chunks.append(chunk)
    code = proc.wait()
    end = time.perf_counter()
    if end - last > longest:
        longest, after = end - last, _last_line(chunks)
    text = b"".join(chunks).decode(errors="replace").replace("\r", "\n")
    return end - started, (longest, after), code, "\n".join(text.strip().splitlines()[-6:])


def _last_line(chunks) -> str:
    text = b"".join(chunks[-4:]).decode(errors="replace").replace("\r", "\n").strip()
    return text.splitlines()[-1][:90] if text else "(start)"


def probe(python: Path, env) -> dict:
    code = (
        "import json, torch; from qanneal_llm.embeddings import default_dtype;"
        "print(json.dumps({'torch_native_bf16': bool(torch.cpu._is_avx512_bf16_supported()"
        " or torch.cpu._is_amx_tile_supported()), 'encoder_route': default_dtype('cpu'),"
        " 'torch': torch.__version__}))"
    )
    out = subprocess.run([str(python), "-c", code], env=env, capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {"probe_error": out.stderr[-300:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-bf16", action="store_true", help="emulate a CPU without bf16")
    parser.add_argument("--warm", type=int, default=1, help="warm runs after the cold one")
    parser.add_argument(
        "--venv",
        type=Path,
        help="reuse this venv (made if missing; the project is reinstalled from this tree)",
    )
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the runs (default: all)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="qanneal-firstrun-"))
    try:
        venv = args.venv or tmp / "venv"
        install_s = None
        if not (venv / "bin" / "qanneal-llm").exists():
            print(f"building a fresh venv in {venv} ...", flush=True)
            install_s = build_venv(venv)
        else:  # a reused venv gets this tree's code (dependencies as they are)
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
                 "--force-reinstall", str(REPO)],
                check=True,
            )  # fmt: skip
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith(("NUMBA_", "HF_"))
        }
        env.update(
            PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            QANNEAL_LLM_CACHE=str(tmp / "cache"),
            NUMBA_CACHE_DIR=str(tmp / "numba"),
            HF_HOME=str(tmp / "hf"),
            PYTHONUNBUFFERED="1",
        )
        env.pop("OMP_NUM_THREADS", None)
        if args.threads:
            env["OMP_NUM_THREADS"] = str(args.threads)
        if args.no_bf16:
            env.update(EMULATE_NO_BF16)
        facts = {
            "cpu": cpu_model(),
            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "emulated_no_bf16": bool(args.no_bf16),
            **probe(venv / "bin" / "python", env),
        }
        runs = []
        plan = [("cold", DEMO)] + [("warm", DEMO)] * args.warm
        plan.append(("retrain", [*DEMO, "--retrain"]))  # warm, but the head trained again
        for i, (label, cmd) in enumerate(plan):
            work = tmp / f"run{i}"
            work.mkdir()
            load_before = os.getloadavg()[0]
            wall, (silence, after), code, tail = timed_run(cmd, env, work)
            report = work / "results" / "recommend" / "report.json"
            stages = json.loads(report.read_text())["timings_seconds"] if report.exists() else {}
            runs.append(
                {
                    "run": label,
                    "wall_s": round(wall, 2),
                    "longest_silence_s": round(silence, 2),
                    "longest_silence_after": after,
                    "exit_code": code,
                    "stages_s": stages,
                    "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                }
            )
            if code:
                print(f"{label} run failed (exit {code}):\n{tail}", file=sys.stderr)
    finally:
        if args.venv is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(tmp / "cache", ignore_errors=True)

    kind = "emulated without bf16" if args.no_bf16 else "as is"
    print(
        f"CPU: {facts['cpu']} ({kind}), {facts['cores']} cores; torch native bf16:"
        f" {facts.get('torch_native_bf16')} ({'overridden: no' if args.no_bf16 else 'detected'});"
        f" encoder route: {facts.get('encoder_route')}"
    )
    if install_s is not None:
        print(f"fresh venv + pip install: {install_s:.0f} s")
    names = [n for n in runs[0]["stages_s"] if n != "total"]
    print(f"`{' '.join(DEMO)}`" + "".join(f"{r['run']:>10}" for r in runs))
    for name in [*names, "total"]:
        print(
            f"  {name:<20}"
            + "".join(f"{r['stages_s'].get(name, float('nan')):>10.2f}" for r in runs)
        )
    print(f"  {'wall clock':<20}" + "".join(f"{r['wall_s']:>10.2f}" for r in runs))
    print(f"  {'longest silence':<20}" + "".join(f"{r['longest_silence_s']:>10.2f}" for r in runs))
    print(f"  {'load avg (before)':<20}" + "".join(f"{r['loadavg_1min'][0]:>10.2f}" for r in runs))
    for r in runs:
        print(f"  {r['run']} run's longest silence came after: {r['longest_silence_after']!r}")
    cold, warm = runs[0], [r for r in runs if r["run"] == "warm"]
    quiet = [r["longest_silence_s"] for r in runs]
    verdict = [
        f"cold < 20 s: {'met' if cold['wall_s'] < 20 else 'MISSED'}",
        f"warm < 8 s: {'met' if warm and max(r['wall_s'] for r in warm) < 8 else 'MISSED'}",
        f"no silence > 2 s: {'met' if max(quiet) <= 2 else 'MISSED'} ({max(quiet):.1f} s)",
    ]
    print("targets: " + "; ".join(verdict))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "firstrun_nobf16.json" if args.no_bf16 else "firstrun.json"
    out = {"facts": facts, "install_s": install_s, "runs": runs}
    (RESULTS / name).write_text(json.dumps(out, indent=2) + "\n")
    return 1 if any(r["exit_code"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())

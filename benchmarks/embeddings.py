"""Benchmark: embedding the 1,682 MovieLens-100k item texts, per numeric route and CPU kind.

For each kind of CPU this machine can be (as it is, and emulated without native bf16), in a
child process of its own, on the same texts and in alternating rounds (so background load hits
all routes alike), best round kept:

* naive: float32, batches of 128 in input order padded to the longest text, ``torch.no_grad``
  (the baseline DESIGN.md measured at 215 texts/s);
* TextEncoder ``dtype="float32"`` (the exact path), ``"bfloat16"`` and ``"int8"`` (dynamic
  quantisation), each from an empty cache, and the route ``dtype=None`` picks on that CPU;
* warm: a new TextEncoder on the filled cache (the model is never loaded).

Cosines are of each route's vectors to the float32 ones of the same process (min and mean over
the texts). Throughput excludes the one-off model load, reported on its own line.

Emulating a CPU without bf16 on one that has it: oneDNN (torch's bf16 matmuls) is capped below
its bf16 instructions with ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI`` (Cascade Lake's ISA, the
usual cloud Xeon without bf16; fbgemm's int8 kernels use its VNNI too), and the encoder's bf16
detection is overridden with ``QANNEAL_LLM_CPU_BF16=0``. Both must be set before torch starts,
hence the child processes.

Targets (issue 9): >= 600 texts/s by default on a CPU without bf16 (2 cores), cosine >= 0.99
to float32; warm < 0.2 s.

Run: ``python benchmarks/embeddings.py [--rounds 3] [--kinds native no-bf16]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
KINDS = {
    "native": {},
    "no-bf16": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_VNNI", "QANNEAL_LLM_CPU_BF16": "0"},
}
ROUTES = ("float32", "bfloat16", "int8")


def naive_encode(tokenizer, model, texts, batch_size=128):
    import torch

    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
            hidden = model(**enc)[0]
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=1))
    return torch.cat(out).numpy()


def measure(rounds: int) -> dict:
    """One CPU kind (whatever the environment makes this process): every route, timed."""
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    from qanneal_llm.embeddings import TextEncoder, _default_model_dir, default_dtype
    from recsys.datasets import load_movielens
    from recsys.texts import item_texts

    texts = list(item_texts(load_movielens().items))
    folder = str(_default_model_dir())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    naive_model = AutoModel.from_pretrained(folder).eval()

    loads, keep = {}, []  # a live encoder keeps its loaded model shared with the cold runs
    for route in ROUTES:
        enc = TextEncoder(dtype=route, cache=False)
        start = time.perf_counter()
        enc.encode(["warm-up"])
        loads[route] = round(time.perf_counter() - start, 3)
        keep.append(enc)

    times = {"naive": [], **{r: [] for r in ROUTES}}
    vectors = {}
    for _ in range(rounds):
        start = time.perf_counter()
        vectors["naive"] = naive_encode(tokenizer, naive_model, texts)
        times["naive"].append(time.perf_counter() - start)
        for route in ROUTES:
            with tempfile.TemporaryDirectory() as tmp:
                enc = TextEncoder(dtype=route, cache=tmp)
                start = time.perf_counter()
                vectors[route] = enc.encode(texts)
                times[route].append(time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        filled = TextEncoder(cache=tmp).encode(texts)
        warm_times = []
        for _ in range(rounds):
            fresh = TextEncoder(cache=tmp)
            start = time.perf_counter()
            warm = fresh.encode(texts)
            warm_times.append(time.perf_counter() - start)
            assert fresh._loaded is None, "a fully cached call must not load the model"
        np.testing.assert_array_equal(warm, filled)

    reference = vectors["float32"]
    rows = {}
    for name, seconds in times.items():
        cos = np.sum(vectors[name] * reference, axis=1)
        rows[name] = {
            "best_s": round(min(seconds), 3),
            "texts_per_s": round(len(texts) / min(seconds), 1),
            "min_cos": round(float(cos.min()), 5),
            "mean_cos": round(float(cos.mean()), 5),
        }
    return {
        "n_texts": len(texts),
        "torch_threads": torch.get_num_threads(),
        "torch_native_bf16": bool(
            torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        ),
        "default_route": default_dtype("cpu"),
        "model_load_s": loads,
        "routes": rows,
        "warm_s": round(min(warm_times), 4),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (best kept)")
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=list(KINDS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.rounds)))
        return 0

    results = {}
    for kind in args.kinds:
        env = {**os.environ, "PYTHONPATH": str(REPO), **KINDS[kind]}
        if not KINDS[kind]:
            for name in KINDS["no-bf16"]:
                env.pop(name, None)
        cmd = [sys.executable, __file__, "--child", "--rounds", str(args.rounds)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode:
            print(done.stderr[-2000:], file=sys.stderr)
            return 1
        results[kind] = json.loads(done.stdout.strip().splitlines()[-1])

    first = next(iter(results.values()))
    print(
        f"MovieLens-100k item texts: n = {first['n_texts']}, CPU {cpu_model()},"
        f" torch threads = {first['torch_threads']}"
    )
    for kind, res in results.items():
        label = "as is" if kind == "native" else "emulated without bf16"
        print(
            f"\nCPU kind: {kind} ({label}); torch native bf16: {res['torch_native_bf16']};"
            f" default route: {res['default_route']}; load average {res['loadavg']}"
        )
        loads = ", ".join(f"{k} {v:.2f} s" for k, v in res["model_load_s"].items())
        print(f"model load + first text: {loads}")
        print(f"{'route':<34}{'best s':>8}{'texts/s':>10}{'min cos':>10}{'mean cos':>10}")
        for name, row in res["routes"].items():
            label = "naive fp32, batch 128, unsorted" if name == "naive" else f"TextEncoder {name}"
            if name == res["default_route"]:
                label += " (default)"
            print(
                f"{label:<34}{row['best_s']:>8.3f}{row['texts_per_s']:>10.0f}"
                f"{row['min_cos']:>10.4f}{row['mean_cos']:>10.4f}"
            )
        print(f"{'warm (cache hit)':<34}{res['warm_s']:>8.3f}")
        default = res["routes"][res["default_route"]]
        ok_speed = default["texts_per_s"] >= 600
        ok_cos = default["min_cos"] >= 0.99
        ok_warm = res["warm_s"] < 0.2
        print(
            f"targets: default >= 600 texts/s: {'met' if ok_speed else 'MISSED'}"
            f" ({default['texts_per_s']:.0f}); min cosine >= 0.99: {'met' if ok_cos else 'MISSED'}"
            f" ({default['min_cos']:.4f}); warm < 0.2 s: {'met' if ok_warm else 'MISSED'}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "embeddings.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

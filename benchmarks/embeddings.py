"""Benchmark: embedding the 1,682 MovieLens-100k item texts, cold and warm.

Compares, on the same texts and in alternating rounds (so background load hits both alike):

* naive: float32, batches of 128 in input order padded to the longest text, ``torch.no_grad``
  (the baseline measured in DESIGN.md at 215 texts/s);
* TextEncoder float32: length-sorted batches and ``inference_mode``, empty cache;
* TextEncoder default dtype (bfloat16 on CPUs with native bf16), empty cache;
* warm: a new TextEncoder on the filled cache (the model is never loaded).

Cold throughput excludes the one-off model load, which is reported on its own line.
Targets: cold >= 600 texts/s with the default settings, warm < 0.2 s.

Run: ``python3 benchmarks/embeddings.py [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qanneal_llm.embeddings import TextEncoder, _default_model_dir  # noqa: E402
from recsys.datasets import load_movielens  # noqa: E402
from recsys.texts import item_texts  # noqa: E402


def naive_encode(tokenizer, model, texts, batch_size=128):
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


def cold(texts, dtype):
    with tempfile.TemporaryDirectory() as tmp:
        enc = TextEncoder(dtype=dtype, cache=tmp)
        start = time.perf_counter()
        vectors = enc.encode(texts)
        return time.perf_counter() - start, vectors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (best kept)")
    args = parser.parse_args()

    texts = item_texts(load_movielens().items)
    n = len(texts)
    from transformers import AutoModel, AutoTokenizer

    folder = str(_default_model_dir())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    naive_model = AutoModel.from_pretrained(folder).eval()

    loads = {}
    keep = []  # holding a loaded encoder keeps its model shared with the cold runs
    for dtype in ("float32", None):
        enc = TextEncoder(dtype=dtype, cache=False)
        start = time.perf_counter()
        enc.encode(["warm-up"])
        loads[str(enc.dtype)] = time.perf_counter() - start
        keep.append(enc)
    default_dtype = str(keep[-1].dtype).removeprefix("torch.")

    times = {"naive": [], "float32": [], default_dtype: []}
    for _ in range(args.rounds):
        start = time.perf_counter()
        reference = naive_encode(tokenizer, naive_model, texts)
        times["naive"].append(time.perf_counter() - start)
        seconds, ours32 = cold(texts, "float32")
        times["float32"].append(seconds)
        seconds, ours = cold(texts, None)
        times[default_dtype].append(seconds)

    with tempfile.TemporaryDirectory() as tmp:
        filled = TextEncoder(cache=tmp).encode(texts)
        warm_times = []
        for _ in range(args.rounds):
            fresh = TextEncoder(cache=tmp)
            start = time.perf_counter()
            warm = fresh.encode(texts)
            warm_times.append(time.perf_counter() - start)
            assert fresh._loaded is None, "a fully cached call must not load the model"
        np.testing.assert_array_equal(warm, filled)

    def cos(a, b):
        return float(np.min(np.sum(a * b, axis=1)))

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"MovieLens-100k item texts: n = {n}, torch threads = {torch.get_num_threads()},"
        f" cpus = {os.cpu_count()}, load average = {load} (other work skews all rows alike)"
    )
    print(f"model load: {', '.join(f'{k} {v:.2f} s' for k, v in loads.items())}")
    print(f"{'run':<40}{'best s':>8}{'texts/s':>10}{'min cos vs naive':>18}")
    rows = [
        ("naive fp32, batch 128, unsorted", "naive", reference),
        ("TextEncoder float32, cold", "float32", ours32),
        (f"TextEncoder {default_dtype} (default), cold", default_dtype, ours),
    ]
    for label, key, vectors in rows:
        best = min(times[key])
        print(f"{label:<40}{best:>8.3f}{n / best:>10.0f}{cos(vectors, reference):>18.5f}")
    best_warm = min(warm_times)
    print(
        f"{'TextEncoder warm (cache hit)':<40}{best_warm:>8.3f}{n / best_warm:>10.0f}"
        f"{cos(warm, reference):>18.5f}"
    )
    cold_rate = n / min(times[default_dtype])
    print(
        f"targets: cold >= 600 texts/s: {'met' if cold_rate >= 600 else 'MISSED'}"
        f" ({cold_rate:.0f}); warm < 0.2 s: {'met' if best_warm < 0.2 else 'MISSED'}"
        f" ({best_warm:.3f} s)"
    )


if __name__ == "__main__":
    main()

"""Slates per second on a local Ray cluster against the local thread pool, side by side.

Workload: synthetic users with ml-100k's slate statistics (:mod:`recsys.synthetic`: 100
candidates, k = 10, diversity 0.1), drawn one at a time on the driver, solved by the default
``anneal`` backend. For every size (10^3 .. ``--max-users``) the same stream is solved

* locally: ``solve_batch`` on chunks of the stream with the thread pool of ``--threads``
  threads (what ``solve_many`` runs), seeds from the same stream;
* on a fresh local Ray cluster with 1 and with 2 worker processes
  (``RayExecutor.solve_iter``), after a warm-up that loads the compiled kernels.

Every run's objectives must add up to the local run's (same seeds, same answers). It reports
slates/s and the Ray/local ratio, each Ray worker's peak RSS (``VmHWM``) and the driver's RSS,
the serialisation cost per model (bytes; ms to pickle and unpickle as Ray does; ms of a
``ray.put`` + ``ray.get`` round trip per model), the driver's cost of drawing one model, and an
extrapolation to 10 million users a day.

    python benchmarks/scale.py [--max-users 100000] [--chunk-size 256] [--out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from qanneal_llm.distributed import RayExecutor, local_cluster_options, seed_block
from qanneal_llm.solvers.registry import solve_batch
from recsys.synthetic import ML100K, synthetic_slates

SEED = 0
USERS_PER_DAY = 10_000_000


def _status(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` memory field in bytes (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _worker_pids() -> list[int]:
    """Ray worker processes of this session (the raylet's children titled ``ray::...``)."""
    import ray

    raylet = ray._private.worker._global_node.all_processes["raylet"][0].process.pid
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        title = cmdline.split(b"\0")[0]  # workers retitle themselves ray::IDLE, ray::<task>
        if parent == raylet and title.startswith(b"ray::") and not title.endswith(b"Agent"):
            pids.append(int(entry.name))
    return pids


def run_local(n_users: int, chunk: int, threads: int) -> tuple[float, float]:
    started, total, start = time.perf_counter(), 0.0, 0
    stream = synthetic_slates(n_users, seed=SEED)
    while models := list(itertools.islice(stream, chunk)):
        seeds = seed_block(SEED, start, start + len(models)).tolist()
        total += sum(r.objective for r in solve_batch(models, seeds, n_jobs=threads))
        start += len(models)
    return time.perf_counter() - started, total


def run_ray(n_users: int, workers: int, chunk: int) -> dict:
    import ray

    ray.init(**local_cluster_options(num_cpus=workers))
    try:
        executor = RayExecutor(chunk_size=chunk)
        for _ in executor.solve_iter(synthetic_slates(4 * workers, seed=SEED + 1), seed=1):
            pass  # warm-up: every worker loads the compiled kernels
        started, total = time.perf_counter(), 0.0
        for result in executor.solve_iter(synthetic_slates(n_users, seed=SEED), seed=SEED):
            total += result.objective
        seconds = time.perf_counter() - started
        peaks = [_status(pid, "VmHWM") for pid in _worker_pids()]
        return {
            "seconds": seconds,
            "objective_sum": total,
            "worker_peak_rss_mb": round(max(peaks) / 2**20, 1) if peaks else None,
            "workers_seen": len(peaks),
            "driver_rss_mb": round(_status(os.getpid(), "VmRSS") / 2**20, 1),
        }
    finally:
        ray.shutdown()


def serialisation(count: int = 200) -> dict:
    import ray
    from ray import cloudpickle

    models = list(synthetic_slates(count, seed=SEED))
    started = time.perf_counter()
    blobs = [cloudpickle.dumps(m, protocol=5) for m in models]
    dumped = time.perf_counter()
    for blob in blobs:
        cloudpickle.loads(blob)
    loaded = time.perf_counter()
    ray.init(**local_cluster_options(num_cpus=1))
    try:
        ray.get(ray.put(models[:8]))
        t = time.perf_counter()
        ray.get(ray.put(models))
        round_trip = time.perf_counter() - t
    finally:
        ray.shutdown()
    t = time.perf_counter()
    for _ in synthetic_slates(count, seed=SEED + 2):
        pass
    drawn = time.perf_counter() - t
    return {
        "bytes_per_model": int(np.mean([len(b) for b in blobs])),
        "pickle_ms_per_model": round(1e3 * (dumped - started) / count, 3),
        "unpickle_ms_per_model": round(1e3 * (loaded - dumped) / count, 3),
        "put_get_ms_per_model": round(1e3 * round_trip / count, 3),
        "draw_ms_per_model": round(1e3 * drawn / count, 3),
    }


def extrapolate(rate_per_worker: float, driver_ms: float) -> list[str]:
    need = USERS_PER_DAY / 86_400
    lines = [
        f"10M users/day = {need:.0f} slates/s on average. Measured: {rate_per_worker:.0f}"
        " slates/s per Ray worker process (2-worker run / 2) on this CPU.",
        "Assumptions: the per-core rate holds on other nodes' cores (same CPU class, same"
        " 100-candidate slates); users are independent, so throughput adds up across nodes"
        " (no shared state, one task per chunk); the driver draws models at"
        f" {driver_ms:.2f} ms each, so one driver feeds at most {1e3 / driver_ms:.0f} models/s:"
        " above that, build the models on the workers (one task per user range) or run one"
        " driver per shard.",
    ]
    for nodes, cores in ((1, 2), (1, 8), (4, 8), (16, 8)):
        rate = rate_per_worker * nodes * cores
        lines.append(
            f"  {nodes} node(s) x {cores} cores: {rate:,.0f} slates/s -> 10M users in"
            f" {USERS_PER_DAY / rate / 3600:.2f} h"
        )
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-users", type=int, default=100_000)
    parser.add_argument("--min-users", type=int, default=1_000)
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2, help="local thread pool size")
    parser.add_argument("--out", default="benchmarks/results/scale.json")
    args = parser.parse_args(argv)
    # one BLAS thread: the models are drawn in the driver, whose small matrix products only
    # slow down when OpenBLAS spreads them over cores the solvers are using
    threadpool_limits(1)
    sizes = [n for n in (10**e for e in range(3, 8)) if args.min_users <= n <= args.max_users]
    solve_batch(list(synthetic_slates(8, seed=SEED + 1)), list(range(8)))  # compile/load kernels
    rows = []
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'users':>9} {'local/s':>9} {'ray1/s':>9} {'ray2/s':>9} {'ray2/local':>10}"
          f" {'worker RSS MB':>13} {'driver MB':>9}  loadavg")  # fmt: skip
    for n in sizes:
        load_before = os.getloadavg()
        local_s, local_total = run_local(n, 2 * args.chunk_size, args.threads)
        ray1 = run_ray(n, 1, args.chunk_size)
        ray2 = run_ray(n, 2, args.chunk_size)
        for run in (ray1, ray2):
            if not np.isclose(run["objective_sum"], local_total, rtol=1e-12, atol=1e-9):
                raise SystemExit(
                    f"Ray answers differ from local at {n} users: {run} vs {local_total}"
                )
        row = {
            "users": n,
            "local_slates_per_s": n / local_s,
            "ray1_slates_per_s": n / ray1["seconds"],
            "ray2_slates_per_s": n / ray2["seconds"],
            "ray2_over_local": local_s / ray2["seconds"],
            "ray1": ray1,
            "ray2": ray2,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        }
        rows.append(row)
        print(
            f"{n:>9,} {row['local_slates_per_s']:>9.0f} {row['ray1_slates_per_s']:>9.0f}"
            f" {row['ray2_slates_per_s']:>9.0f} {row['ray2_over_local']:>10.2f}"
            f" {ray1['worker_peak_rss_mb']:>6}/{ray2['worker_peak_rss_mb']:<6}"
            f" {ray2['driver_rss_mb']:>9}  {' '.join(f'{x:.1f}' for x in row['loadavg_after'])}",
            flush=True,
        )
    ser = serialisation()
    print(
        f"serialisation per model: {ser['bytes_per_model']:,} bytes, pickle"
        f" {ser['pickle_ms_per_model']} ms + unpickle {ser['unpickle_ms_per_model']} ms,"
        f" ray.put+get {ser['put_get_ms_per_model']} ms; drawing a model on the driver"
        f" {ser['draw_ms_per_model']} ms"
    )
    lines = extrapolate(rows[-1]["ray2_slates_per_s"] / 2, ser["draw_ms_per_model"])
    print("\n".join(lines))
    out = {
        "command": "python benchmarks/scale.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "workload": {"stats": ML100K.__dict__, "k": 10, "diversity": 0.1, "solver": "anneal"},
        "chunk_size": args.chunk_size,
        "threads": args.threads,
        "rows": rows,
        "serialisation": ser,
        "extrapolation": lines,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

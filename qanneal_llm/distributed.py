"""Solve and embed on a Ray cluster, with the answers a single machine gives.

A recommender that re-solves every user's slate daily outgrows one machine; its owners already
run Ray for batch work. :class:`RayExecutor` ships chunks of models to Ray tasks that each run
the compiled batch path (:func:`qanneal_llm.solvers.registry.solve_batch`), and texts to a Ray
Data actor pool that loads the encoder once per actor. Nothing here schedules, queues or
retries by itself: Ray does, so a worker that dies mid-chunk is re-run by Ray's task retries.

Same answers: problem ``i`` of a stream gets the seed ``seed_stream(seed, count)[i]`` of the
local batch, whatever the chunking (:func:`seed_block` computes any slice of that stream without
the prefix), so ``solve_many(..., executor="ray")`` returns what ``solve_many(...)`` returns.
Texts travel in the very forward batches the local encoder would run, on actors with the local
torch thread count, so their vectors are bit-identical to a local ``encode``.

Bounded memory: :meth:`RayExecutor.solve_iter` draws models from any iterable as chunks are
submitted and keeps at most ``max_in_flight`` chunks submitted or waiting to be yielded, so the
driver's and the workers' memory do not grow with the number of users.
"""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np

from qanneal_llm._validation import positive_int

__all__ = ["RayExecutor", "as_executor", "local_cluster_options", "ray_session", "seed_block"]

# numpy's SeedSequence.generate_state hash (numpy/random/bit_generator.pyx); word i depends
# only on the entropy pool and i, which is what lets a chunk compute its own seeds.
_INIT_B, _MULT_B, _XSHIFT = 0x8B51F9DD, 0x58F38DED, 16


def seed_block(seed: int, start: int, stop: int) -> np.ndarray:
    """``seed_stream(seed, stop)[start:stop]`` without computing the first ``start`` seeds.

    A stream of unknown length gets its seeds chunk by chunk this way, in time and memory
    proportional to the chunk.

    Parameters
    ----------
    seed : int
        The batch's seed.
    start, stop : int
        The slice of the stream.

    Returns
    -------
    ndarray of int64, shape (stop - start,)
    """
    if not 0 <= start <= stop:
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    pool = np.random.SeedSequence(int(seed)).pool.astype(np.uint64)
    index = np.arange(start, stop, dtype=np.uint64)
    mask = np.uint64(0xFFFFFFFF)
    multipliers = np.full(stop - start, _MULT_B, dtype=np.uint32)
    if stop > start:
        multipliers[0] = (_INIT_B * pow(_MULT_B, start, 1 << 32)) & 0xFFFFFFFF
    with np.errstate(over="ignore"):
        hash_const = np.cumprod(multipliers, dtype=np.uint32).astype(np.uint64)
        data = pool[index % np.uint64(len(pool))] ^ hash_const
        data = (data * ((hash_const * np.uint64(_MULT_B)) & mask)) & mask
    data ^= data >> np.uint64(_XSHIFT)
    return (data >> np.uint64(1)).astype(np.int64)


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            "executor='ray' needs Ray, which is not installed: pip install 'qanneal-llm[ray]'"
            " (or pip install 'ray[data]')"
        ) from exc
    return ray


def as_executor(executor) -> RayExecutor:
    """The executor named by ``executor``: ``"ray"`` (defaults) or a :class:`RayExecutor`.

    Parameters
    ----------
    executor : {"ray"} or RayExecutor
        What the caller passed as ``executor``.

    Returns
    -------
    RayExecutor
    """
    if isinstance(executor, RayExecutor):
        return executor
    if executor == "ray":
        return RayExecutor()
    raise ValueError(
        f"unknown executor {executor!r}; use None (this machine), 'ray' or a RayExecutor(...)"
    )


def _solve_chunk(models, seeds, solver, n_jobs, polish, options):
    from qanneal_llm.solvers.registry import solve_batch

    return solve_batch(models, seeds, solver, n_jobs=n_jobs, polish=polish, **options)


class _EncodeActor:
    """One per Ray worker: loads the encoder's weights once, then runs whole forward batches."""

    def __init__(self, encoder, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.encoder = encoder

    def __call__(self, batch: dict) -> dict:
        positions, vectors = [], []
        for pos, texts in zip(batch["pos"], batch["texts"], strict=True):
            positions.append(np.asarray(pos, dtype=np.int64))
            vectors.append(self.encoder._compute([str(t) for t in texts]))
        return {"pos": np.concatenate(positions), "vector": np.concatenate(vectors)}


class RayExecutor:
    """Run :func:`~qanneal_llm.solvers.solve_many` and ``TextEncoder.encode`` on Ray.

    Parameters
    ----------
    address : str, optional
        The cluster to join (``"auto"``, ``"ray://host:10001"``, ...). ``None`` uses the Ray
        session this process already has, or starts a local one.
    chunk_size : int
        Models per Ray task. Bigger chunks amortise the per-task cost; smaller ones spread
        a short batch over more workers. Results do not depend on it.
    max_in_flight : int, optional
        Chunks submitted but not yet yielded, at most; bounds the memory of a stream. Default:
        twice the cluster's CPUs.
    cpus_per_task : int
        CPUs each solving task reserves, and the threads it solves its chunk on.
    max_retries : int
        How often Ray re-runs a chunk whose worker died (Ray's task ``max_retries``).
    encode_actors : int, optional
        Encoder actors (one model load each). Default: as many as the cluster's CPUs allow.
    encode_threads : int, optional
        torch threads per encoder actor. Default: this process's torch thread count, which
        keeps float32 vectors bit-identical to a local ``encode`` (the matrix products round
        differently on a different number of threads).
    init_options : dict, optional
        Passed to ``ray.init`` when this executor starts or joins the cluster.

    Examples
    --------
    >>> executor = RayExecutor(chunk_size=512)
    >>> executor.chunk_size
    512
    """

    def __init__(
        self,
        address=None,
        chunk_size=256,
        max_in_flight=None,
        cpus_per_task=1,
        max_retries=3,
        encode_actors=None,
        encode_threads=None,
        init_options=None,
    ):
        self.address = address
        self.chunk_size = chunk_size
        self.max_in_flight = max_in_flight
        self.cpus_per_task = cpus_per_task
        self.max_retries = max_retries
        self.encode_actors = encode_actors
        self.encode_threads = encode_threads
        self.init_options = init_options

    def __repr__(self) -> str:
        return (
            f"RayExecutor(address={self.address!r}, chunk_size={self.chunk_size},"
            f" max_in_flight={self.max_in_flight}, cpus_per_task={self.cpus_per_task})"
        )

    def _ray(self):
        ray = _import_ray()
        for name in ("chunk_size", "cpus_per_task"):
            positive_int(getattr(self, name), name)
        if not ray.is_initialized():
            ray.init(address=self.address, **(self.init_options or {}))
        return ray

    def _cluster_cpus(self, ray) -> int:
        return max(int(ray.cluster_resources().get("CPU", 1)), 1)

    # -- solving ------------------------------------------------------------------------------
    def solve_iter(
        self,
        models: Iterable,
        solver="anneal",
        *,
        seed: int | None = None,
        seeds: Iterable[int] | None = None,
        polish: bool = True,
        **options,
    ) -> Iterator:
        """Yield ``solve_many(models, solver, seed=seed, ...)``'s results in input order.

        ``models`` may be any iterable, e.g. a generator that builds each user's model on
        demand: it is drawn as chunks are submitted, never all at once. ``seeds`` (an iterable
        as long as ``models``) gives each problem its own seed instead of ``seed``'s stream,
        for callers with a seeding scheme of their own.

        Parameters
        ----------
        models : iterable of SubsetModel
            The problems, drawn lazily.
        solver : str or Backend, default="anneal"
            As in :func:`~qanneal_llm.solve`.
        seed : int, optional
            Seeds the batch as :func:`~qanneal_llm.solve_many` does.
        seeds : iterable of int, optional
            One seed per model instead.
        polish : bool, default=True
            As in :func:`~qanneal_llm.solve`.
        **options
            Backend options.

        Yields
        ------
        SelectionResult
            One per model, in input order.
        """
        if (seed is None) == (seeds is None):
            raise ValueError("give exactly one of seed (a stream is derived) or seeds (one each)")
        from qanneal_llm.solvers.registry import preflight

        preflight(solver, **options)  # an unknown solver or option fails here, not on workers
        ray = self._ray()
        in_flight = self.max_in_flight or 2 * self._cluster_cpus(ray)
        task = ray.remote(_solve_chunk).options(
            num_cpus=self.cpus_per_task, max_retries=self.max_retries, retry_exceptions=False
        )
        solver_ref = ray.put(solver)
        chunks = _seeded_chunks(models, self.chunk_size, seed, seeds)
        pending: dict = {}  # object ref -> chunk number
        ready: dict = {}  # chunk number -> results waiting for the chunks before them
        submitted = emitted = 0
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) + len(ready) < in_flight:
                    chunk = next(chunks, None)
                    if chunk is None:
                        exhausted = True
                        break
                    args = (*chunk, solver_ref, self.cpus_per_task, polish, options)
                    pending[task.remote(*args)] = submitted
                    submitted += 1
                if emitted in ready:
                    yield from ready.pop(emitted)
                    emitted += 1
                elif pending:
                    done, _ = ray.wait(list(pending), num_returns=1)
                    for ref in done:
                        ready[pending.pop(ref)] = ray.get(ref)
                else:
                    return
        finally:
            for ref in pending:
                ray.cancel(ref)

    # -- embedding ----------------------------------------------------------------------------
    def encode(self, encoder, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` computed on a Ray Data actor pool (what ``encode`` calls for the
        texts its cache lacks); same forward batches, hence same vectors, as ``_compute``.

        Parameters
        ----------
        encoder : TextEncoder
            The encoder whose model the actors load.
        texts : list of str
            Texts to embed.

        Returns
        -------
        ndarray of shape (len(texts), dim)
        """
        import torch

        from qanneal_llm.embeddings import _length_batches

        ray = self._ray()
        _, lengths = encoder._tokenize(texts)
        groups = _length_batches(lengths, encoder.batch_size)
        threads = self.encode_threads or torch.get_num_threads()
        # an actor reserves at most the cluster's CPUs, so it is always placed; it still runs
        # `threads` torch threads, which is what keeps the vectors bit-identical
        cpus = min(threads, self._cluster_cpus(ray))
        actors = self.encode_actors or max(self._cluster_cpus(ray) // cpus, 1)
        shipped = copy.copy(encoder)  # without its weights (TextEncoder.__getstate__)
        shipped.cache, shipped.show_progress = None, False
        rows = [{"pos": g.astype(np.int64), "texts": [texts[i] for i in g]} for g in groups]
        vectors = ray.data.from_items(rows).map_batches(
            _EncodeActor,
            fn_constructor_args=(shipped, threads),
            batch_size=1,
            batch_format="numpy",
            concurrency=min(actors, len(groups)),
            num_cpus=cpus,
        )
        out = np.empty((len(texts), encoder.dim), dtype=np.float32)
        context = ray.data.DataContext.get_current()
        bars, context.enable_progress_bars = context.enable_progress_bars, encoder.show_progress
        try:
            for batch in vectors.iter_batches(batch_format="numpy", batch_size=None):
                out[batch["pos"]] = batch["vector"]
        finally:
            context.enable_progress_bars = bars
        return out


@contextmanager
def ray_session(address=None, num_cpus: int | None = None, **params) -> Iterator[RayExecutor]:
    """A :class:`RayExecutor` (``params``) on the cluster at ``address``; without one, on a
    local cluster of ``num_cpus`` CPUs started here and shut down on exit. A session this
    process already has is used as it is.

    Parameters
    ----------
    address : str, optional
        A running cluster to join.
    num_cpus : int, optional
        CPUs of the local cluster started when there is none.
    **params
        :class:`RayExecutor` parameters.

    Yields
    ------
    RayExecutor
    """
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        options = {} if address else local_cluster_options(num_cpus)
        ray.init(address=address, **options)
    try:
        yield RayExecutor(address=address, **params)
    finally:
        if started:
            ray.shutdown()


def _seeded_chunks(models: Iterable, size: int, seed, seeds) -> Iterator[tuple[list, list]]:
    """Chunks of ``models`` with their seeds: from ``seed``'s stream, or drawn from ``seeds``."""
    models, own, start = iter(models), None if seeds is None else iter(seeds), 0
    while chunk := list(itertools.islice(models, size)):
        if own is None:
            chunk_seeds = seed_block(seed, start, start + len(chunk)).tolist()
        else:
            chunk_seeds = [int(s) for s in itertools.islice(own, len(chunk))]
            if len(chunk_seeds) < len(chunk):
                raise ValueError(f"seeds ran out after {start + len(chunk_seeds)} models")
        yield chunk, chunk_seeds
        start += len(chunk)


def local_cluster_options(num_cpus: int | None = None) -> dict:
    """``ray.init`` options for a small local cluster next to other work (no dashboard, a
    modest object store).

    Parameters
    ----------
    num_cpus : int, optional
        CPUs the cluster may use.

    Returns
    -------
    dict
    """
    return {
        "num_cpus": num_cpus or os.cpu_count(),
        "include_dashboard": False,
        "object_store_memory": 256 * 1024**2,
        "log_to_driver": False,
    }

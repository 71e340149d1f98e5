"""The anytime mode of the swap annealer: keep searching until a time limit, return the best.

``solve(model, time_limit=seconds)`` first runs the default search's reads (the same seeds,
temperatures and ``agree`` stop as without a limit; each read's tabu walk runs its full stall,
where the default halves the stall of a read that has reached an earlier read's best, so every
read ends at least as low as the default's unless the limit cuts it; on several threads a
batch of reads runs at once, and a read the default would have skipped because the batch's
first ones agreed is kept; no read starts after ``READS_SHARE`` of the limit),
then spends the rest of the time in memetic iterated tabu search, after the best
maximum-diversity heuristics (Palubeckis 2007; Wang et al. 2014; Zhou, Hao & Duval 2017): each
round starts either from the best selection perturbed by a few random feasible swaps, or (half
the rounds) from a backbone crossover of two of the ten best distinct selections found (keep
what both chose, fill at random from what one chose), descends and runs swap tabu search from
there, and keeps the result when it is better; after a run of rounds without progress, a fresh
random annealing read leaves the basin, and after a longer one the rounds start a new epoch
around such a read (it replaces the selection they perturb and the ten they cross; the best
overall is kept). Off the plateaus (below) a round's tabu walk forbids the selections it has visited
rather than the items it moved recently (solution-based tabu search, after Lai, Hao et
al.): on the tuning slates (2,000 candidates, k = 100) the mean gap
to the best known after 1 s fell from 0.081% to 0.054%, and after 10 s from 0.054% to 0.032%;
on integer weights it lost (``benchmarks/RESULTS.md``). The crossover half was
chosen on generated instances with other seeds than ``benchmarks/hard.py``'s: with 1 s it found
better selections on 5 of 12 integer-weight instances (n = 500-2,000) and worse on none
(``benchmarks/RESULTS.md``). A round's tabu walk stops after the reads' own stall (at least
500 before, as the default's rounds still do: on the tuning slates, 2,000 candidates, the
shorter rounds ended 0-0.090% from the best known after 3 s where the longer ones ended
0.062-0.151%). On integer weights, whose swaps mostly tie (:func:`tied_share`), the rounds
walk ``PLATEAU_STALL`` times longer. Every round calls the one compiled kernel the default
search uses (:func:`~qanneal_llm._kernels.anneal_reads`, same signature), so there is nothing
more to compile. At the limit a timer sets the kernel's ``stop`` flag: the read or round
under way ends its annealing at the next sweep and its tabu walk at the next step, so the
overshoot is at most one steepest descent (a read cut while it anneals still descends to a
local optimum; on n = 5,000, k = 1,000, ``time_limit=0.1`` returned after 0.23 s, where
finishing the reads under way had taken 0.46 s). At least one round runs, even when the
reads used up the limit.

The kernel releases the GIL, so reads and rounds run ``threads`` at a time (``solve``: every
core this process may use; ``solve_many``: one per problem, the batch fills the cores). A
batch of rounds is drawn from the best and elite states as they stood before it and merged in
order, so everything random comes from the plan's seeds: two runs with the same seed and
threads follow the same path and differ only in where the time limit cuts it. The default
search (no limit) always runs on one thread, so its answer is the same on every machine.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from qanneal_llm import _kernels
from qanneal_llm.qubo.repair import repair
from qanneal_llm.solvers.base import SolverError, below

#: Rounds without a new best before a fresh annealing read replaces a perturbation.
RESTART_AFTER = 25
#: Rounds without a better center after which the next fresh read becomes the center (a new
#: epoch; the best overall is kept). Perturbing one best for good had stalled: a 30 s run on
#: an integer-weight tuning instance (n = 2,000, k = 200) found its best at 1.45 s. With
#: epochs after 100 rounds, 10 s on four such instances (k = 200, 400, solver seeds 0-7, 32
#: runs) ended 0.0073% from the best known on average instead of 0.0108%, within 0.01% on 25
#: runs instead of 20 (better on 9, worse on 2); 16 runs at n = 1,000 stayed at the best
#: known. Epochs after 25 rounds (every fresh read) did better at n = 2,000 (0.0064%) but
#: lost one n = 1,000 run (0.05%). A default search's 64 rounds (at its 16 reads) never get
#: this far, and neither do 1 s at n = 2,000 on integer weights (benchmarks/RESULTS.md).
NEW_EPOCH_AFTER = 100
#: Share of rounds that start from a crossover of two elite states instead of a perturbed best.
CROSSOVER = 0.5
#: Distinct best states kept for crossovers.
ELITE = 10
#: Memetic rounds per allowed read that the default (no time limit) adds when its reads never
#: agree (chosen on tuning instances, benchmarks/RESULTS.md).
DEFAULT_ROUNDS_PER_READ = 4
#: Tabu steps without a new best before one of those rounds ends, at least: a fixed number of
#: rounds searches more when each is longer (with the reads' shorter stall the default lost on
#: 3 of the 20 hard instances and won on none), where a time limit's rounds take the reads'
#: stall and run more rounds a second.
DEFAULT_ROUND_STALL = 500
#: Share of sampled swap deltas that tie with another one above which a problem is a plateau.
PLATEAU_TIES = 0.5
#: How many times the reads' stall a time limit's rounds walk on a plateau.
PLATEAU_STALL = 8
#: A plateau round's tabu walk ends after at most this many times its stall in steps.
PLATEAU_ITERATIONS = 10
#: Chosen and unchosen items sampled to measure the ties (their swaps: up to 64 x 64).
TIE_ITEMS = 64
#: Share of a time limit after which no further default read starts, so the memetic rounds get
#: the rest: at n = 5,000 the reads alone had filled 1 s (mdp-int 5000/500 tuning instance at
#: 1 s, solver seeds 0-3: mean gap 0.120% -> 0.036%); at n <= 2,000 they end before it and
#: every answer of the 1 s tuning runs stayed the same (benchmarks/RESULTS.md).
READS_SHARE = 0.5


def check_time_limit(time_limit) -> float | None:
    """``time_limit`` as a float, or ``None`` for the default (no limit, no anytime search).

    Parameters
    ----------
    time_limit : float or None
        Seconds.

    Returns
    -------
    float or None

    Raises
    ------
    SolverError
        A ``ValueError``, if it is not a positive, finite number of seconds.
    """
    if time_limit is None:
        return None
    if (
        isinstance(time_limit, bool)
        or not isinstance(time_limit, numbers.Real)
        or not math.isfinite(time_limit)
        or time_limit <= 0
    ):
        raise SolverError(
            f"time_limit must be a positive, finite number of seconds, got {time_limit!r};"
            " omit it for the default (fast) search"
        )
    return float(time_limit)


def run_anytime(plan) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run ``plan`` (an :class:`~qanneal_llm.solvers.swap_annealer.AnnealPlan` with a
    ``time_limit``) as an anytime search: ``(states, objectives, info)``.

    ``info`` adds to the default's keys ``time_limit``, ``time_to_best`` (seconds from the
    start until the returned best was found), ``restarts`` (searches run after the default
    reads: perturbation rounds plus fresh reads), ``fresh_reads``, ``epochs`` (see
    :func:`improve`), ``improvements``, ``tied_share``, ``round_stall`` (the rounds' tabu
    stall, longer on the plateaus :func:`tied_share` detects) and ``round_tabu`` (what their
    walks forbid: ``"items"`` moved recently on plateaus, ``"solutions"`` visited elsewhere),
    and ``trace``, the ``(seconds, objective)`` of every new best (a time-to-target curve).
    """
    start = time.perf_counter()
    deadline = start + plan.time_limit
    model = plan.model

    # Phase 1: the default reads (the first alone: it sets the temperatures), stopping as the
    # default does (``agree``) or at READS_SHARE of the limit; on several threads, a batch of
    # reads at a time.
    beta = plan.beta_range
    states, energies = [], []
    best_energy, overall, time_to_best = np.inf, np.inf, 0.0
    trace = []

    def read(r, beta):
        x0 = plan.x0[r : r + 1] if r < len(plan.x0) else plan.x0[:0]
        return plan_reads(
            plan, x0, beta, plan.num_sweeps, [plan.seeds[r]], local_search=plan.local_search,
            iterations=plan.tabu_iterations, stall=plan.tabu_stall, stop=stop,
        )  # fmt: skip

    stop = np.zeros(1, np.int8)
    timer = threading.Timer(max(0.0, deadline - time.perf_counter()), stop.fill, (1,))
    timer.start()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(timer.cancel)
        pool = cleanup.enter_context(_thread_pool(plan.threads))
        r, agreed = 0, False
        reads_end = start + READS_SHARE * plan.time_limit
        while r < len(plan.seeds) and not agreed and (r == 0 or time.perf_counter() < reads_end):
            batch = range(r, r + 1 if r == 0 else min(r + plan.threads, len(plan.seeds)))
            for st, en, hot, cold in _map(pool, read, batch, beta):
                beta = np.array([hot, cold])
                states.append(st[0])
                energies.append(en[0])
                if en[0] < best_energy:
                    best_energy, time_to_best = en[0], time.perf_counter() - start
                    trace.append((time_to_best, float(en[0] + model.offset)))
                # the kernel's own stopping rule, so the reads run are the default's
                tol = 1e-9 * (1.0 + abs(en[0]))
                if en[0] < overall - tol:
                    overall = en[0]
                agreed = agreed or (
                    plan.agree > 0 and sum(e <= overall + tol for e in energies) >= plan.agree
                )
            r = batch.stop
        reads = len(states)

        # Phase 2: memetic iterated tabu search until the limit; walks on a plateau run longer.
        ties = tied_share(plan, states[int(np.argmin(energies))])
        plateau = ties > PLATEAU_TIES
        stall = plan.tabu_stall * (PLATEAU_STALL if plateau else 1)
        best, best_energy, stats = improve(
            plan, states, energies, beta, start=start, stall=stall, deadline=deadline,
            trace=trace, pool=pool, iterations=PLATEAU_ITERATIONS * stall if plateau else None,
            stop=stop, solution_tabu=not plateau,
        )  # fmt: skip
    if stats["improvements"]:
        states.append(best)
        energies.append(best_energy)
        time_to_best = stats["time_to_best"]
    info = plan_info(
        plan,
        reads,
        beta,
        start,
        time_limit=plan.time_limit,
        threads=plan.threads,
        time_to_best=time_to_best,
        restarts=stats["rounds"],
        fresh_reads=stats["fresh_reads"],
        epochs=stats["epochs"],
        tied_share=ties,
        round_stall=stall,
        round_tabu=stats["round_tabu"],
        crossovers=stats["crossovers"],
        improvements=stats["improvements"],
        trace=trace,
    )
    return np.stack(states), np.asarray(energies) + model.offset, info


def tied_share(plan, x: np.ndarray) -> float:
    """Share of the swaps between ``TIE_ITEMS`` random chosen and unchosen items of ``x``
    whose delta equals another one's.

    Integer weights (maximum diversity on 0..10, counts, votes) tie on most swaps: the
    landscape is plateaus, which a tabu walk crosses only when it runs long enough, so a
    time limit's rounds then walk ``PLATEAU_STALL`` times the reads' stall. On the tuning
    instances (integer weights, n = 500-5,000, other seeds than ``benchmarks/hard.py``'s)
    the longer walks ended nearer the best known after 1 s; continuous weights (slates,
    Euclidean distances, feature selection) tie on almost no swap (``benchmarks/RESULTS.md``).
    """
    h, J = plan.arrays[:2]
    chosen, unchosen = np.flatnonzero(x), np.flatnonzero(x == 0)
    if not len(chosen) or not len(unchosen):
        return 0.0
    rng = np.random.default_rng([int(s) for s in plan.seeds])
    i = rng.choice(chosen, min(TIE_ITEMS, len(chosen)), replace=False)
    j = rng.choice(unchosen, min(TIE_ITEMS, len(unchosen)), replace=False)
    field_i = h[i] + J[np.ix_(i, chosen)].sum(axis=1)
    field_j = h[j] + J[np.ix_(j, chosen)].sum(axis=1)
    delta = field_j[None, :] - field_i[:, None] - J[np.ix_(i, j)]
    return 1.0 - len(np.unique(delta)) / delta.size


def plan_info(plan, reads: int, beta, start: float, **extra) -> dict:
    """The ``info`` of a run of ``plan``: the reads run and allowed, its sweep and tabu
    settings, the temperature range ``beta`` it used, ``anneal_seconds`` since ``start``, and
    ``extra``."""
    return {
        "reads": reads,
        "max_reads": len(plan.seeds),
        "agree": plan.agree,
        "num_sweeps": plan.num_sweeps,
        "tabu_iterations": plan.tabu_iterations,
        "tabu_stall": plan.tabu_stall,
        "beta_range": (float(beta[0]), float(beta[1])),
        "anneal_seconds": time.perf_counter() - start,
        **extra,
    }


def plan_reads(
    plan, x0, beta, sweeps, seeds, *, agree=0, local_search=True, iterations, stall,
    stop=_kernels.NEVER, solution_tabu=False,
):  # fmt: skip
    """One call of the compiled kernel (:func:`~qanneal_llm._kernels.anneal_reads`) on
    ``plan``'s model: ``(states, energies, hot, cold)``, energies without the offset. It
    returns early once ``stop[0]`` is set; with ``solution_tabu`` its tabu walks forbid
    visited selections instead of recently moved items."""
    return _kernels.anneal_reads(
        *plan.arrays, plan.model.k, x0, beta, sweeps, np.asarray(seeds, np.int64), agree,
        local_search, iterations, stall, stop, solution_tabu,
    )  # fmt: skip


def improve(
    plan, states, energies, beta, *, start, stall, deadline=None, rounds=None, trace=None,
    pool=None, iterations=None, stop=_kernels.NEVER, solution_tabu=False,
):  # fmt: skip
    """Memetic iterated tabu search from the states found so far, until ``deadline`` (a
    ``time.perf_counter()`` value) or for ``rounds`` rounds: ``(best, best_energy, stats)``.

    Each round starts either from the center (the best selection of this epoch) perturbed by
    a few random feasible swaps or from a crossover of two of the epoch's elite states, and
    runs descent + swap tabu search (ending after ``stall`` steps without a new best; with
    ``solution_tabu`` the walk forbids the selections it has visited instead of recently
    moved items); after ``RESTART_AFTER`` rounds without progress a fresh annealing read
    replaces one, and after ``NEW_EPOCH_AFTER`` that read starts a new epoch: it becomes the
    center and the whole elite, so the rounds leave a basin they had stopped improving in.
    The best overall is kept and returned. At least one round runs. ``energies`` exclude the
    model offset; ``trace`` (if given) gets the ``(seconds since start, objective)`` of every
    new best. With a thread ``pool`` of ``w``
    threads, rounds run ``w`` at a time: each batch is drawn from the center and elite as they
    stood before it and merged in order, so the path depends on the seed and ``w`` only.
    """
    model = plan.model
    _, _, G, lo, hi = plan.arrays
    n, k = model.n, model.k
    tabu_iterations = iterations or plan.tabu_iterations or max(200, n)
    width = plan.threads if pool is not None else 1

    def kernel(x0, b, sweeps, seed):
        return plan_reads(
            plan, x0, b, sweeps, [seed], iterations=tabu_iterations, stall=stall, stop=stop,
            solution_tabu=solution_tabu,
        )  # fmt: skip

    rng = np.random.default_rng([int(s) for s in plan.seeds])
    best = states[int(np.argmin(energies))].copy()
    best_energy = float(min(energies))
    center, center_energy = best, best_energy  # what the rounds perturb: this epoch's best
    time_to_best = None
    elite: list = []
    for x, e in zip(states, energies, strict=True):
        _keep_elite(elite, x.copy(), float(e))
    polish_beta = np.ones(2)
    done = fresh = crossovers = improvements = stalled = epochs = 0
    max_strength = max(1, min(k, n - k))
    strength_cap = min(max_strength, max(2, math.ceil(0.1 * max_strength)))
    while 0 < k < n and (
        done == 0
        or (
            (deadline is None or time.perf_counter() < deadline)
            and (rounds is None or done < rounds)
        )
    ):
        jobs, fresh_reads = [], []
        for slot in range(width if rounds is None else min(width, max(1, rounds - done))):
            done += 1
            seed = int(rng.integers(0, 2**31 - 1))
            fresh_reads.append(bool(stalled + slot) and (stalled + slot) % RESTART_AFTER == 0)
            if fresh_reads[-1]:
                fresh += 1
                jobs.append((plan.x0[:0], beta, plan.num_sweeps, seed))
                continue
            if len(elite) >= 2 and rng.random() < CROSSOVER:
                crossovers += 1
                a, b = rng.choice(len(elite), size=2, replace=False)
                x0 = crossover(model, elite[a][0], elite[b][0], rng)
            else:
                strength = int(rng.integers(1, strength_cap + 1))
                x0 = perturb(center, strength, G, lo, hi, rng)
            jobs.append((x0[None], polish_beta, 0, seed))
        results = _map(pool, lambda job: kernel(*job), jobs)
        for is_fresh, (st, en, _, _) in zip(fresh_reads, results, strict=True):
            x, energy = st[0].copy(), float(en[0])
            if is_fresh and stalled >= NEW_EPOCH_AFTER:
                # a long stall around this center: search around the fresh read from now on
                center, center_energy, elite, stalled = x, energy, [(x, energy)], 0
                epochs += 1
            else:
                _keep_elite(elite, x, energy)
                if below(energy, center_energy):
                    center, center_energy, stalled = x, energy, 0
                else:
                    stalled += 1
            if below(energy, best_energy):
                best, best_energy = x, energy
                time_to_best = time.perf_counter() - start
                if trace is not None:
                    trace.append((time_to_best, best_energy + model.offset))
                improvements += 1
    stats = {
        "round_tabu": "solutions" if solution_tabu else "items",
        "rounds": done,
        "fresh_reads": fresh,
        "epochs": epochs,
        "crossovers": crossovers,
        "improvements": improvements,
        "time_to_best": time_to_best,
    }
    return best, best_energy, stats


def _thread_pool(threads: int):
    """A pool of ``threads`` threads to run kernel calls on (they release the GIL), or a
    stand-in holding ``None`` for one thread."""
    return ThreadPoolExecutor(threads) if threads > 1 else contextlib.nullcontext()


def _map(pool, fn, items, *args):
    """``fn(item, *args)`` for every item, in order: on ``pool``'s threads when given."""
    if pool is None:
        return [fn(item, *args) for item in items]
    return list(pool.map(lambda item: fn(item, *args), items))


def perturb(x, strength, G, lo, hi, rng) -> np.ndarray:
    """``x`` after ``strength`` random swaps that keep every group bound (``G`` membership,
    ``lo``/``hi`` bounds; a swap that would break one is redrawn, a few times at most)."""
    x = x.copy()
    counts = G @ x.astype(np.int64) if G.size else None
    for _ in range(strength):
        chosen, unchosen = np.flatnonzero(x), np.flatnonzero(x == 0)
        for _attempt in range(20):
            i, j = rng.choice(chosen), rng.choice(unchosen)
            if counts is not None:
                after = counts - G[:, i] + G[:, j]
                if np.any(after < lo) or np.any(after > hi):
                    continue
                counts = after
            x[i], x[j] = 0, 1
            break
    return x


def crossover(model, a, b, rng) -> np.ndarray:
    """A child of two selections: every candidate both chose, the rest drawn at random from
    those only one chose (the backbone crossover of memetic maximum-diversity search), made
    to meet the group bounds by :func:`~qanneal_llm.qubo.repair.repair` when it breaks one."""
    both = (a == 1) & (b == 1)
    either = np.flatnonzero((a == 1) ^ (b == 1))
    child = both.astype(np.int8)
    child[rng.choice(either, size=model.k - int(both.sum()), replace=False)] = 1
    if model.groups.size and not model.is_feasible(child):
        child = repair(model, child, rng)
    return child


def _keep_elite(elite: list, x: np.ndarray, energy: float) -> None:
    """Add ``(x, energy)`` to the best-first ``elite`` list unless it holds ``x`` already."""
    if any(np.array_equal(x, y) for y, _ in elite):
        return
    elite.append((x, energy))
    elite.sort(key=lambda item: item[1])
    del elite[ELITE:]

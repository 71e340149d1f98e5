"""Compiled inner loops of the constraint-preserving annealer and the swap polish.

A move swaps one chosen candidate for one unchosen one, so the cardinality can never break, and a
move that would push a group count out of its bounds is refused, so group bounds never break
either. Each swap is priced in O(1) from the local field ``g = h + J x``; only an accepted swap
costs O(n) to update the field. The loops are compiled with numba and release the GIL, so threads
can run many problems at once.

Compiling them takes about 7 s of one core on the first call after an install; numba then keeps
the machine code in its cache (``__pycache__`` beside this file, or ``NUMBA_CACHE_DIR``), and
later processes load it in well under a second. That is why the loops copy, fill and
allocate element by element (``np.empty`` and a loop, never ``a[:] = b``, ``np.arange`` or
``np.sort``): numba compiles each of those library routines separately for every type it
meets, and they had made the compile 10 s. The one ``np.zeros``, of the visited set's
uint64 slots, costs nothing measurable (a cold compile took 7.8 s with it and with a loop).
Each kernel is compiled for one
signature only (:func:`~qanneal_llm.qubo.repair.kernel_arrays` fixes the dtypes), and a pipeline
can have a child process compile it while it loads data and embeds texts
(:mod:`qanneal_llm._precompile`), so a first run overlaps the compile with work it does anyway
instead of pausing for it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_MULT = np.uint64(2685821657736338717)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: The ``stop`` flag of a search without a time limit: never set.
NEVER = np.zeros(1, np.int8)
#: Slots of a solution-tabu walk's visited set, at most (a power of two).
VISITED_MAX = 1 << 21


@njit(cache=True, nogil=True)
def _seed_state(seed):
    """A non-zero xorshift state from a seed (one splitmix64 step)."""
    z = np.uint64(seed) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    state = np.empty(1, np.uint64)
    state[0] = z if z != 0 else _GOLDEN
    return state


@njit(cache=True, nogil=True)
def _uniform(state):
    """xorshift64* in [0, 1): a few cycles, where numpy's generator costs tens of ns a call."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return ((x * _MULT) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True)
def _randint(state, n):
    return min(int(_uniform(state) * n), n - 1)


@njit(cache=True, nogil=True)
def _swap_ok(G, lo, hi, counts, i, j):
    for q in range(G.shape[0]):
        c = counts[q] - G[q, i] + G[q, j]
        if c < lo[q] or c > hi[q]:
            return False
    return True


@njit(cache=True, nogil=True)
def _apply_swap(J, g, counts, G, chosen, unchosen, a, b):
    i = chosen[a]
    j = unchosen[b]
    n = g.shape[0]
    for t in range(n):
        g[t] += J[j, t] - J[i, t]
    for q in range(G.shape[0]):
        counts[q] += G[q, j] - G[q, i]
    chosen[a] = j
    unchosen[b] = i


@njit(cache=True, nogil=True)
def _copy_into(dst, src):
    for t in range(src.shape[0]):
        dst[t] = src[t]


@njit(cache=True, nogil=True)
def _write_state(row, chosen):
    """The 0/1 state with exactly ``chosen`` set, into ``row``."""
    for i in range(row.shape[0]):
        row[i] = 0
    for c in range(chosen.shape[0]):
        row[chosen[c]] = 1


@njit(cache=True, nogil=True)
def _row_max(J):
    n = J.shape[0]
    out = np.empty(n)
    for i in range(n):
        m = -np.inf
        for t in range(n):
            if t != i and J[i, t] > m:
                m = J[i, t]
        out[i] = m
    return out


@njit(cache=True, nogil=True)
def _visited(table, mask, key):
    """Whether the open-addressing set ``table`` (size ``mask + 1``, 0 for empty) holds
    ``key``."""
    p = key & mask
    while True:
        v = table[p]
        if v == key:
            return True
        if v == 0:
            return False
        p = (p + np.uint64(1)) & mask


@njit(cache=True, nogil=True)
def _visit(table, mask, key):
    """Add ``key`` to the open-addressing set ``table``."""
    p = key & mask
    while table[p] != 0 and table[p] != key:
        p = (p + np.uint64(1)) & mask
    table[p] = key


@njit(cache=True, nogil=True)
def _best_swap(
    J, jmax, g, counts, G, lo, hi, chosen, unchosen, tabu_until, it, aspiration, near, near_g,
    keys, key, table, mask,
):  # fmt: skip
    """The lowest-delta allowed swap ``(delta, a, b)``; ``a = -1`` when none is allowed.

    A swap is allowed when it keeps the group bounds and neither item is tabu, unless its
    delta is below ``aspiration``; with ``mask > 0`` also only when the selection it leads to
    (its hash ``key ^ keys[i] ^ keys[j]``) is not in the visited set ``table``. Exact, but
    it rarely reads all k x (n - k) swaps: a swap out of ``i`` into ``j`` costs at least
    ``g[j] - g[i] - max_t J[i, t]``. So the chosen item with the most promising bound (among
    those not tabu, whose best swap is most likely allowed) is priced against every unchosen
    one first; that best leaves only the few unchosen items whose field can still beat it
    (listed in ``near``, a work array of length n - k), and only the chosen items whose bound
    can, to pair up.
    This keeps a step near O(n) where pricing by sorted fields cost O(k^2) (a tabu step on
    n = 2,000, k = 400 took 87 us; the shortlist without the sort 36 us, and 11.5 us once
    the first row is one that is not tabu; benchmarks/RESULTS.md).
    """
    k = chosen.shape[0]
    nu = unchosen.shape[0]
    top = -np.inf
    top_free = -np.inf
    first = 0
    for a in range(k):
        i = chosen[a]
        bound = g[i] + jmax[i]
        if bound > top:
            top = bound
            if top_free == -np.inf:
                first = a
        if bound > top_free and tabu_until[i] < it:
            top_free = bound
            first = a
    best = np.inf
    ba = -1
    bb = -1
    # one pass over the unchosen items: price them against the first row, find the lowest
    # field, and list those under the shortlist limit (a superset: ``best`` only falls)
    gmin = np.inf
    m = 0
    for c in range(k):
        a = first if c == 0 else (c - 1 if c <= first else c)
        i = chosen[a]
        gi = g[i]
        if c > 0 and gmin - gi - jmax[i] >= best:
            continue
        i_tabu = tabu_until[i] >= it
        threshold = best + gi + jmax[i]
        for e in range(nu if c == 0 else m):
            if c == 0:
                b = e
                j = unchosen[b]
                gj = g[j]
                if gj < gmin:
                    gmin = gj
                if gj < best + top:
                    near[m] = b
                    near_g[m] = gj
                    m += 1
                if gj >= threshold:
                    continue
            else:
                gj = near_g[e]  # contiguous: most of the shortlist is read only to be skipped
                if gj >= threshold:
                    continue
                b = near[e]
                j = unchosen[b]
            d = gj - gi - J[i, j]
            if d < best:
                if (i_tabu or tabu_until[j] >= it) and d >= aspiration:
                    continue
                if mask and _visited(table, mask, key ^ keys[i] ^ keys[j]):
                    continue
                if _swap_ok(G, lo, hi, counts, i, j):
                    best = d
                    ba = a
                    bb = b
                    threshold = best + gi + jmax[i]
        if c == 0:
            kept = 0
            for e in range(m):
                if near_g[e] < best + top:
                    near[kept] = near[e]
                    near_g[kept] = near_g[e]
                    kept += 1
            m = kept
    return best, ba, bb


@njit(cache=True, nogil=True)
def _descend(J, jmax, g, counts, G, lo, hi, chosen, unchosen, energy):
    """Steepest descent over all swaps until none improves; returns the final energy."""
    never = np.empty(g.shape[0], np.int64)
    for t in range(g.shape[0]):
        never[t] = 0
    near = np.empty(unchosen.shape[0], np.int64)
    near_g = np.empty(unchosen.shape[0])
    none = np.empty(1, np.uint64)
    while True:
        best, ba, bb = _best_swap(
            J, jmax, g, counts, G, lo, hi, chosen, unchosen, never, 1, -np.inf, near, near_g,
            none, np.uint64(0), none, np.uint64(0),
        )  # fmt: skip
        if ba < 0 or best >= -1e-12 * (1.0 + abs(energy)):
            return energy
        _apply_swap(J, g, counts, G, chosen, unchosen, ba, bb)
        energy += best


@njit(cache=True, nogil=True)
def _tabu(
    J,
    jmax,
    g,
    counts,
    G,
    lo,
    hi,
    chosen,
    unchosen,
    energy,
    iterations,
    stall,
    best_chosen,
    rng,
    target,
    stop,
    solution_tabu,
):
    """Swap tabu search: take the best swap whose items were not moved recently (or that beats
    the best so far), even uphill, for ``iterations`` steps. Leaves the best state visited in
    ``best_chosen`` and returns its energy. Stops early after ``stall`` steps without a new
    best; once the best equals ``target`` (an earlier read's best, so this read agrees with
    it), after half that: agreeing reads are the common case on easy problems, where the
    full stall only confirmed what was known (a batch of slates: ~25% less kernel time,
    optimal as often within noise, benchmarks/batch_slates.py). A removed item stays out for
    ~k/10 steps and an added one in for ~k/30 (at least 7 and 3): the fixed 7 and 3 let
    selections of hundreds cycle (on integer-weight tuning instances the longer tenures left 1
    of 18 above 0.05% of the best known where the fixed ones left 2, benchmarks/RESULTS.md).
    Neither exceeds half of the items it locks, and when every swap the group bounds allow is
    tabu the best of them is taken: on 10 candidates with a tight group minimum and maximum
    the walk had stopped, or cycled, two steps in, and 3 of 1,502 small grouped problems ended
    above the optimum (none after). Ends as soon as ``stop[0]`` is set (a time limit's timer
    sets it from another thread).

    With ``solution_tabu`` no item is tabu: a step may not return to any selection the walk
    has visited (each is kept as a 64-bit Zobrist hash, the XOR of its items' random keys, in
    an open-addressing set). On slates built from vectors a good selection's vectors nearly
    cancel, so every swap out of it adds about the same to their sum's length, and the
    selections a few swaps away are many and close in value: a walk there needs only to not
    come back. On four tuning slates (2,000 candidates, k = 100) the time limit's rounds with
    it ended at a mean 0.054% from the best known after 1 s and 0.032% after 10 s, against
    0.081% and 0.054% with item tenures (benchmarks/RESULTS.md). On integer weights, whose
    swaps tie on plateaus, it lost, so item tenures stay there."""
    n = g.shape[0]
    k = chosen.shape[0]
    nu = unchosen.shape[0]
    tabu_until = np.empty(n, np.int64)
    for t in range(n):
        tabu_until[t] = 0
    near = np.empty(nu, np.int64)
    near_g = np.empty(nu)
    tenure_out = min(nu // 2, max(7, k // 10))
    tenure_in = min(k // 2, max(3, k // 30))
    # the visited set: room for every step of the walk (at most 64 stalls of it, and at most
    # VISITED_MAX slots: 16 MB) at a load of at most one half, past which a walk adds no more
    # (it still stops at its stall)
    size = 1
    if solution_tabu:
        while size < min(4 * (min(iterations, 64 * max(stall, 1)) + 2), VISITED_MAX):
            size *= 2
    mask = np.uint64(size - 1)
    table = np.zeros(size, np.uint64)
    keys = np.empty(n if solution_tabu else 1, np.uint64)
    key = np.uint64(0)
    stored = 0
    if solution_tabu:
        key_state = _seed_state(n)
        for t in range(n):
            _uniform(key_state)
            keys[t] = key_state[0]
        for c in range(k):
            key ^= keys[chosen[c]]
        _visit(table, mask, key)
        stored = 1
    best_energy = energy
    _copy_into(best_chosen, chosen)
    last_improvement = 0
    tol = 1e-9 * (1.0 + abs(target)) if target < np.inf else 0.0
    for it in range(1, iterations + 1):
        if abs(best_energy - target) <= tol:
            # this read agrees with an earlier one: half the stall to find better, then stop
            target = np.inf
            stall = stall // 2
            last_improvement = it
        if it - last_improvement > stall or stop[0]:
            break
        aspiration = best_energy - energy - 1e-12
        best, ba, bb = _best_swap(
            J, jmax, g, counts, G, lo, hi, chosen, unchosen, tabu_until, it, aspiration, near,
            near_g, keys, key, table, mask,
        )  # fmt: skip
        if ba < 0:
            # every swap the group bounds allow is tabu (small or tightly bounded problems):
            # take the best of them rather than end the walk
            best, ba, bb = _best_swap(
                J, jmax, g, counts, G, lo, hi, chosen, unchosen, tabu_until, it, np.inf, near,
                near_g, keys, key, table, np.uint64(0),
            )  # fmt: skip
            if ba < 0:
                break
        i = chosen[ba]
        j = unchosen[bb]
        _apply_swap(J, g, counts, G, chosen, unchosen, ba, bb)
        energy += best
        if solution_tabu:
            key ^= keys[i] ^ keys[j]
            if 2 * stored < size:
                _visit(table, mask, key)
                stored += 1
        else:
            tabu_until[i] = it + tenure_out + _randint(rng, 3)
            tabu_until[j] = it + tenure_in
        if energy < best_energy - 1e-12:
            best_energy = energy
            _copy_into(best_chosen, chosen)
            last_improvement = it
    return best_energy


@njit(cache=True, nogil=True)
def _setup(h, J, G, x, chosen, unchosen, g, counts):
    n = x.shape[0]
    a = 0
    b = 0
    for i in range(n):
        if x[i]:
            chosen[a] = i
            a += 1
        else:
            unchosen[b] = i
            b += 1
    energy = 0.0
    for t in range(n):
        s = h[t]
        for c in range(a):
            s += J[chosen[c], t]
        g[t] = s
    for c in range(a):
        i = chosen[c]
        energy += 0.5 * (g[i] + h[i])
    for q in range(G.shape[0]):
        s = 0
        for c in range(a):
            s += G[q, chosen[c]]
        counts[q] = s
    return energy


@njit(cache=True, nogil=True)
def swap_delta_scale(h, J, x):
    """``(1st percentile, median)`` of the nonzero |delta| of every swap from state ``x``."""
    n = x.shape[0]
    k = 0
    for i in range(n):
        k += x[i]
    chosen = np.empty(k, np.int64)
    unchosen = np.empty(n - k, np.int64)
    g = np.empty(n)
    _setup(h, J, np.empty((0, n), np.int64), x, chosen, unchosen, g, np.empty(0, np.int64))
    deltas = np.empty(k * (n - k))
    m = 0
    for i in chosen:
        for j in unchosen:
            d = abs(g[j] - g[i] - J[i, j])
            if d > 0:
                deltas[m] = d
                m += 1
    if m == 0:
        return 0.0, 0.0
    return _select(deltas, m, (m - 1) // 100), _select(deltas, m, (m - 1) // 2)


@njit(cache=True, nogil=True)
def _select(a, m, rank):
    """The ``rank``-th smallest of ``a[:m]`` (Hoare's quickselect, middle pivot; reorders
    ``a``). np.sort would do, but compiling its quicksort cost a first run about 1.2 s."""
    lo = 0
    hi = m - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if rank <= j:
            hi = j
        elif rank >= i:
            lo = i
        else:
            return a[rank]
    return a[rank]


@njit(cache=True, nogil=True)
def _random_subset(rng, n, k, x):
    """A uniform random k-subset into ``x`` (partial Fisher-Yates)."""
    perm = np.empty(n, np.int64)
    for i in range(n):
        perm[i] = i
    for i in range(n):
        x[i] = 0
    for c in range(k):
        t = c + _randint(rng, n - c)
        perm[c], perm[t] = perm[t], perm[c]
        x[perm[c]] = 1


@njit(cache=True, nogil=True)
def _feasible_subset(rng, G, lo, hi, k, x, attempts):
    """A random k-subset into ``x`` that meets every group bound; returns whether one was found.

    Randomised greedy fill, ``attempts`` times at most: in a random item order, members of
    groups under their minimum first (groups in a random order), then anyone who keeps every
    maximum. Drawn here rather than in Python, and only for the reads that run, so a batch of
    group-bounded problems pays a few microseconds a start instead of a Python fill for every
    read it might run (benchmarks/batch_slates.py).
    """
    n = x.shape[0]
    m = G.shape[0]
    order = np.empty(n, np.int64)
    for i in range(n):
        order[i] = i
    group_order = np.empty(m, np.int64)
    for q in range(m):
        group_order[q] = q
    counts = np.empty(m, np.int64)
    for _ in range(attempts):
        for c in range(n - 1):
            t = c + _randint(rng, n - c)
            order[c], order[t] = order[t], order[c]
        for c in range(m - 1):
            t = c + _randint(rng, m - c)
            group_order[c], group_order[t] = group_order[t], group_order[c]
        for i in range(n):
            x[i] = 0
        for p in range(m):
            counts[p] = 0
        total = 0
        for pass_ in range(m + 1):
            q = group_order[pass_] if pass_ < m else -1
            for c in range(n):
                if total >= k or (q >= 0 and counts[q] >= lo[q]):
                    break
                i = order[c]
                if x[i] or (q >= 0 and G[q, i] == 0):
                    continue
                fits = True
                for p in range(m):
                    if G[p, i] and counts[p] >= hi[p]:
                        fits = False
                        break
                if fits:
                    x[i] = 1
                    total += 1
                    for p in range(m):
                        counts[p] += G[p, i]
        ok = total == k
        for p in range(m):
            if counts[p] < lo[p] or counts[p] > hi[p]:
                ok = False
        if ok:
            return True
    for i in range(n):
        x[i] = 0
    return False


@njit(cache=True, nogil=True)
def anneal_reads(
    h,
    J,
    G,
    lo,
    hi,
    k,
    x0,
    beta_range,
    num_sweeps,
    seeds,
    agree,
    polish,
    tabu_iterations,
    tabu_stall,
    stop,
    solution_tabu,
):
    """Anneal up to ``len(seeds)`` reads; returns ``(states, energies, hot, cold)``.

    Read ``r`` starts from ``x0[r]`` when given (it must be feasible) or else from a random
    feasible k-subset drawn with ``seeds[r]`` (uniform without group bounds, a randomised
    greedy fill with them: see ``_feasible_subset``). The temperature
    falls geometrically from ``beta_range[0]`` to ``beta_range[1]`` over ``num_sweeps`` sweeps
    of ``n`` proposed swaps; a non-positive ``beta_range[0]`` asks for the default range from
    the first start's swap deltas (see ``swap_delta_scale``). Each read keeps the best state it
    visited and, with ``polish``, descends from it and runs swap tabu search (on visited
    selections rather than item tenures with ``solution_tabu``, see ``_tabu``). With ``agree > 0``
    reads stop once ``agree`` of them have reached the best energy found: easy problems stop
    after a couple of reads, rugged ones keep restarting. Energies exclude the model offset.
    Once ``stop[0]`` is set (by a time limit's timer, from another thread) the read under way
    ends its annealing at the next sweep and its tabu walk at the next step, and no further
    read starts: a time limit is kept to within a sweep or a step, not a whole read.
    """
    n = h.shape[0]
    max_reads = seeds.shape[0]
    nu = n - k
    out = np.empty((max_reads, n), np.int8)  # every returned row is written in full
    energies = np.empty(max_reads)
    chosen = np.empty(k, np.int64)
    unchosen = np.empty(nu, np.int64)
    best_chosen = np.empty(k, np.int64)
    g = np.empty(n)
    counts = np.empty(G.shape[0], np.int64)
    jmax = _row_max(J)
    start = np.empty(n, np.int8)
    hot = beta_range[0]
    cold = beta_range[1]
    betas = np.empty(num_sweeps)
    overall = np.inf
    used = max_reads
    for r in range(max_reads):
        rng = _seed_state(seeds[r])
        if r < x0.shape[0]:
            for i in range(n):
                start[i] = x0[r, i]
        elif G.shape[0] == 0:
            _random_subset(rng, n, k, start)
        elif not _feasible_subset(rng, G, lo, hi, k, start, 50):
            raise ValueError(
                "found no selection of k that meets every group bound in 50 randomised"
                " attempts; check that the group minimums and maximums can be met together"
            )
        if r == 0:
            if hot <= 0:
                small, median = swap_delta_scale(h, J, start)
                if median > 0:
                    hot = np.log(2.0) / median
                    cold = np.log(100.0) / max(small, 1e-9 * median)
                else:
                    hot = 1.0
                    cold = 1.0
            for s in range(num_sweeps):
                frac = s / (num_sweeps - 1) if num_sweeps > 1 else 0.0
                betas[s] = hot * (cold / hot) ** frac
        energy = _setup(h, J, G, start, chosen, unchosen, g, counts)
        best_energy = energy
        _copy_into(best_chosen, chosen)
        if nu > 0 and k > 0:
            for s in range(num_sweeps):
                if stop[0]:
                    break
                beta = betas[s]
                for _ in range(n):
                    a = _randint(rng, k)
                    b = _randint(rng, nu)
                    i = chosen[a]
                    j = unchosen[b]
                    d = g[j] - g[i] - J[i, j]
                    if d > 0.0 and _uniform(rng) >= np.exp(-beta * d):
                        continue
                    if not _swap_ok(G, lo, hi, counts, i, j):
                        continue
                    _apply_swap(J, g, counts, G, chosen, unchosen, a, b)
                    energy += d
                    if energy < best_energy:
                        best_energy = energy
                        _copy_into(best_chosen, chosen)
        _write_state(out[r], best_chosen)
        if polish and nu > 0 and k > 0:
            energy = _setup(h, J, G, out[r], chosen, unchosen, g, counts)
            energy = _descend(J, jmax, g, counts, G, lo, hi, chosen, unchosen, energy)
            best_energy = energy
            _copy_into(best_chosen, chosen)
            if tabu_iterations > 0:
                best_energy = _tabu(
                    J,
                    jmax,
                    g,
                    counts,
                    G,
                    lo,
                    hi,
                    chosen,
                    unchosen,
                    energy,
                    tabu_iterations,
                    tabu_stall,
                    best_chosen,
                    rng,
                    overall if agree > 0 else np.inf,
                    stop,
                    solution_tabu,
                )
            _write_state(out[r], best_chosen)
        energies[r] = best_energy
        if agree > 0:
            tol = 1e-9 * (1.0 + abs(best_energy))
            if best_energy < overall - tol:
                overall = best_energy
            hits = 0
            for q in range(r + 1):
                if energies[q] <= overall + tol:
                    hits += 1
            if hits >= agree:
                used = r + 1
                break
        if stop[0]:
            used = r + 1
            break
    return out[:used], energies[:used], hot, cold


@njit(cache=True, nogil=True)
def polish_states(h, J, G, lo, hi, xs):
    """Steepest-descent swaps from each feasible row of ``xs``; returns states and energies."""
    reads, n = xs.shape
    out = np.empty((reads, n), np.int8)
    energies = np.empty(reads)
    g = np.empty(n)
    counts = np.empty(G.shape[0], np.int64)
    jmax = _row_max(J)
    for r in range(reads):
        k = 0
        for i in range(n):
            k += xs[r, i]
        chosen = np.empty(k, np.int64)
        unchosen = np.empty(n - k, np.int64)
        energy = _setup(h, J, G, xs[r], chosen, unchosen, g, counts)
        energies[r] = _descend(J, jmax, g, counts, G, lo, hi, chosen, unchosen, energy)
        _write_state(out[r], chosen)
    return out, energies


def _compile_all() -> None:
    """Compile (or load from numba's cache) both entry points for the one signature the
    solvers call them with: float64 fields, int64 groups, bounds, seeds and scalars, int8
    states, all C-contiguous and writable."""
    n = 4
    h = np.zeros(n)
    J = np.zeros((n, n))
    G = np.zeros((0, n), np.int64)
    bounds = np.zeros(0, np.int64)
    x0 = np.zeros((0, n), np.int8)
    seeds = np.arange(2, dtype=np.int64)
    anneal_reads(h, J, G, bounds, bounds, 2, x0, np.zeros(2), 2, seeds, 0, True, 2, 2, NEVER, False)
    polish_states(h, J, G, bounds, bounds, np.array([[1, 1, 0, 0]], np.int8))


def compiled() -> bool:
    """Whether both kernels are ready in this process (compiled or loaded from the cache)."""
    return bool(anneal_reads.signatures and polish_states.signatures)

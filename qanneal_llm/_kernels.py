"""Compiled inner loops of the constraint-preserving annealer and the swap polish.

A move swaps one chosen candidate for one unchosen one, so the cardinality can never break, and a
move that would push a group count out of its bounds is refused, so group bounds never break
either. Each swap is priced in O(1) from the local field ``g = h + J x``; only an accepted swap
costs O(n) to update the field. The loops are compiled with numba and release the GIL, so threads
can run many problems at once.
"""

from __future__ import annotations

import numpy as np
from numba import njit


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
def _best_swap(J, jmax, g, counts, G, lo, hi, chosen, unchosen, tabu_until, it, aspiration):
    """The lowest-delta allowed swap ``(delta, a, b)``; ``a = -1`` when none is allowed.

    A swap is allowed when it keeps the group bounds and neither item is tabu, unless its
    delta is below ``aspiration``. Unchosen items are scanned by increasing field, and the scan
    for a chosen ``i`` stops once ``g[j] - g[i] - max_t J[i, t]`` cannot beat the best found,
    so the search stays exact while usually reading a small part of the k x (n - k) swaps.
    """
    k = chosen.shape[0]
    nu = unchosen.shape[0]
    gj = np.empty(nu)
    for b in range(nu):
        gj[b] = g[unchosen[b]]
    order = np.argsort(gj, kind="mergesort")
    best = np.inf
    ba = -1
    bb = -1
    for a in range(k):
        i = chosen[a]
        gi = g[i]
        bound = gi + jmax[i]
        i_tabu = tabu_until[i] >= it
        for t in range(nu):
            b = order[t]
            if gj[b] - bound >= best:
                break
            j = unchosen[b]
            d = gj[b] - gi - J[i, j]
            if d < best:
                if (i_tabu or tabu_until[j] >= it) and d >= aspiration:
                    continue
                if _swap_ok(G, lo, hi, counts, i, j):
                    best = d
                    ba = a
                    bb = b
    return best, ba, bb


@njit(cache=True, nogil=True)
def _descend(J, jmax, g, counts, G, lo, hi, chosen, unchosen, energy):
    """Steepest descent over all swaps until none improves; returns the final energy."""
    never = np.zeros(g.shape[0], np.int64)
    while True:
        best, ba, bb = _best_swap(
            J, jmax, g, counts, G, lo, hi, chosen, unchosen, never, 1, -np.inf
        )
        if ba < 0 or best >= -1e-12 * (1.0 + abs(energy)):
            return energy
        _apply_swap(J, g, counts, G, chosen, unchosen, ba, bb)
        energy += best


@njit(cache=True, nogil=True)
def _tabu(J, jmax, g, counts, G, lo, hi, chosen, unchosen, energy, iterations, stall, best_chosen):
    """Swap tabu search: take the best swap whose items were not moved recently (or that beats
    the best so far), even uphill, for ``iterations`` steps. Leaves the best state visited in
    ``best_chosen`` and returns its energy. Stops early after ``stall`` steps without a new
    best."""
    k = chosen.shape[0]
    nu = unchosen.shape[0]
    tabu_until = np.zeros(g.shape[0], np.int64)
    tenure_out = min(nu - 1, 7)
    tenure_in = min(k - 1, 3)
    best_energy = energy
    best_chosen[:] = chosen
    last_improvement = 0
    for it in range(1, iterations + 1):
        if it - last_improvement > stall:
            break
        aspiration = best_energy - energy - 1e-12
        best, ba, bb = _best_swap(
            J, jmax, g, counts, G, lo, hi, chosen, unchosen, tabu_until, it, aspiration
        )
        if ba < 0:
            break
        i = chosen[ba]
        j = unchosen[bb]
        _apply_swap(J, g, counts, G, chosen, unchosen, ba, bb)
        energy += best
        tabu_until[i] = it + tenure_out + np.random.randint(3)
        tabu_until[j] = it + tenure_in
        if energy < best_energy - 1e-12:
            best_energy = energy
            best_chosen[:] = chosen
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
def anneal_reads(
    h, J, G, lo, hi, x0, betas, steps_per_beta, seeds, polish, tabu_iterations, tabu_stall
):
    """Anneal each row of ``x0`` (a feasible start) and return the best states and energies.

    ``energy`` excludes any model offset. The schedule is ``betas``, each held for
    ``steps_per_beta`` proposed swaps; every read keeps the best state it visited and, when
    ``polish`` is true, finishes with steepest-descent swaps from it.
    """
    reads, n = x0.shape
    k = 0
    for i in range(n):
        k += x0[0, i]
    nu = n - k
    out = np.zeros((reads, n), np.int8)
    energies = np.empty(reads)
    chosen = np.empty(k, np.int64)
    unchosen = np.empty(nu, np.int64)
    best_chosen = np.empty(k, np.int64)
    g = np.empty(n)
    counts = np.empty(G.shape[0], np.int64)
    jmax = _row_max(J)
    for r in range(reads):
        np.random.seed(seeds[r])
        energy = _setup(h, J, G, x0[r], chosen, unchosen, g, counts)
        best_energy = energy
        best_chosen[:] = chosen
        if nu > 0 and k > 0:
            for s in range(betas.shape[0]):
                beta = betas[s]
                for _ in range(steps_per_beta):
                    a = np.random.randint(k)
                    b = np.random.randint(nu)
                    i = chosen[a]
                    j = unchosen[b]
                    d = g[j] - g[i] - J[i, j]
                    if d > 0.0 and np.random.random() >= np.exp(-beta * d):
                        continue
                    if not _swap_ok(G, lo, hi, counts, i, j):
                        continue
                    _apply_swap(J, g, counts, G, chosen, unchosen, a, b)
                    energy += d
                    if energy < best_energy:
                        best_energy = energy
                        best_chosen[:] = chosen
        x = np.zeros(n, np.int8)
        for c in range(k):
            x[best_chosen[c]] = 1
        if polish and nu > 0 and k > 0:
            energy = _setup(h, J, G, x, chosen, unchosen, g, counts)
            energy = _descend(J, jmax, g, counts, G, lo, hi, chosen, unchosen, energy)
            best_energy = energy
            best_chosen[:] = chosen
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
                )
            x[:] = 0
            for c in range(k):
                x[best_chosen[c]] = 1
        out[r] = x
        energies[r] = best_energy
    return out, energies


@njit(cache=True, nogil=True)
def polish_states(h, J, G, lo, hi, xs):
    """Steepest-descent swaps from each feasible row of ``xs``; returns states and energies."""
    reads, n = xs.shape
    out = xs.copy()
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
        out[r, :] = 0
        for c in range(k):
            out[r, chosen[c]] = 1
    return out, energies

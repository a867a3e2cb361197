"""Reuse profiles: how the units of a layer's events reuse streamed slices and stationary row
groups, measured once from the layer's input events and valid for every mapping
(docs/system-model.md §The analytic estimator).

The system engine's scratch pools are least-recently-used caches (:mod:`flexspim.system.kernel`):
a chip-wide one of ``K`` streamed slots and the home macro's spill slots. Whether an access hits
an LRU cache of any size follows from its *stack distance*, the number of distinct items used
since the previous access to the same item (Mattson et al., IBM Systems Journal 9(2), 1970):
one pass over the access sequence gives the hits of every cache size. The access sequence of a
layer depends on its input events, the stationary operand and the lane packing, not on the
lane width, the residency or the placement: channel groups only repeat each access ``n_cg``
times in a row (an item is then ``n_cg * D + n_cg - 1`` items away, ``D`` the distance in keys
without the channel group), so one :class:`ReuseProfile` per (stationary operand, packing)
serves every mapping of the layer.

A profile holds, summed over samples and timesteps (the pools are emptied every timestep):

- ``accesses``, ``cold`` (first accesses of a timestep) and ``distances`` (histogram of stack
  distances ``D`` of the other accesses) of the streamed slice keys in arrival order;
- the same of the stationary row groups (``group_*``), for the spill slots;
- ``key_units``: histogram of the accesses per key and timestep (``event_order = "target"``
  loads a key once per timestep when one of its units is resident);
- ``sorted_*``: the stack distances of the keys when the units run group by group, keys sorted
  within a group (the order of spilled groups under ``target``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from flexspim.compile.geometry import Stationary

try:
    from numba import njit
except ImportError:  # pragma: no cover - without Numba the same code runs as plain Python

    def njit(*args, **kwargs):  # type: ignore[no-redef]
        if args and callable(args[0]):
            return args[0]
        return lambda f: f


@dataclass(frozen=True, eq=False)
class ReuseProfile:
    """Reuse of one layer's streamed keys and stationary groups (module docstring), summed over
    ``n_samples`` samples and all timesteps; distances are histograms indexed by ``D``."""

    accesses: float
    cold: float
    distances: np.ndarray
    group_accesses: float
    group_cold: float
    group_distances: np.ndarray
    key_units: np.ndarray
    sorted_cold: float
    sorted_distances: np.ndarray
    n_samples: int
    n_groups: int = 0
    pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pair_counts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    step_counts: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def hits(self, capacity: float, n_cg: int, scale: float = 1.0) -> float:
        """Accesses per sample (channel groups included) that find their key in an LRU cache of
        ``capacity`` items; ``scale`` shrinks the distances (a subset of the items)."""
        return _hits(self.distances, capacity, n_cg, scale) / self.n_samples

    def group_hits(self, capacity: float, n_cg: int, scale: float = 1.0) -> float:
        return _hits(self.group_distances, capacity, n_cg, scale) / self.n_samples

    def sorted_hits(self, capacity: float, n_cg: int, scale: float = 1.0) -> float:
        return _hits(self.sorted_distances, capacity, n_cg, scale) / self.n_samples

    def same_macro(self, macro_of: np.ndarray) -> float:
        """Fraction of two units in a row (channel groups included) that run on the same macro
        (``macro_of[group, cg]``)."""
        n_cg = macro_of.shape[1]
        inner = float(self.accesses) * (n_cg - 1)        # cg -> cg + 1 inside one access
        same_inner = float(self.accesses) * float(
            (macro_of[:, 1:] == macro_of[:, :-1]).mean()) * (n_cg - 1) if n_cg > 1 else 0.0
        if self.steps.size:
            g1, g2 = np.divmod(self.steps, self.n_groups)
            same = float((self.step_counts * (macro_of[g1, -1] == macro_of[g2, 0])).sum())
        else:
            same = 0.0
        total = inner + float(self.step_counts.sum())
        return (same + same_inner) / total if total > 0 else 1.0

    def remote(self, macro_of: np.ndarray, capacity: float | None = None) -> float:
        """Re-accesses per sample (channel groups included) whose previous use of the key ran
        on another macro: ``macro_of[group, cg]`` is the macro each row group runs on (-1:
        leave the pair out); with ``capacity``, only re-accesses that hit an LRU cache of that
        size (distances inside a bucket taken as uniform)."""
        if self.pairs.size == 0:
            return 0.0
        g = self.n_groups
        bucket, rest = np.divmod(self.pairs, g * g)
        g1, g2 = np.divmod(rest, g)
        m1, m2 = macro_of[g1], macro_of[g2]                        # [pairs, n_cg]
        n_cg = macro_of.shape[1]
        differ = ((m1 != m2) & (m1 >= 0) & (m2 >= 0)).sum(axis=1)
        weight = self.pair_counts
        if capacity is not None:
            lo = 2.0 ** bucket - 1
            hi = 2.0 ** (bucket + 1) - 1
            top = (capacity + 1) / n_cg - 1             # item distance n_cg*D + n_cg - 1 < K
            weight = weight * np.clip((top - lo) / (hi - lo), 0.0, 1.0)
        return float((weight * differ).sum()) / self.n_samples


def _hits(hist: np.ndarray, capacity: float, n_cg: int, scale: float) -> float:
    """Accesses that find their item in an LRU cache of ``capacity`` items when ``n = n_cg * D
    + n_cg - 1`` distinct items came in between and each of them competes for the cache with
    probability ``scale`` (a subset of the items, e.g. the spilled groups among all groups): a
    hit while fewer than ``capacity`` of the ``n`` compete (binomial)."""
    if hist.size == 0 or capacity <= 0:
        return 0.0
    n = n_cg * np.arange(hist.size, dtype=np.float64) + n_cg - 1
    if scale >= 1.0:
        return float(n_cg * hist[n < capacity].sum())
    if scale <= 0.0:
        return float(n_cg * hist.sum())
    return float(n_cg * (hist * binomial_below(n, scale, capacity)).sum())


def binomial_below(n: np.ndarray, p: float, limit: float) -> np.ndarray:
    """``P(Binomial(n, p) < limit)`` for each ``n`` (terms summed in log space, so that large
    ``n`` never underflows to a wrong zero)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.ones_like(n)
    big = n >= limit                      # below the limit for sure otherwise
    if not big.any():
        return out
    m = n[big]
    k = int(math.ceil(limit))             # j = 0 .. k - 1 count
    log_term = m * math.log1p(-p)
    ratio = math.log(p) - math.log1p(-p)
    total = np.exp(log_term)
    for j in range(k - 1):
        log_term = log_term + np.log(np.maximum(m - j, 1e-300)) - math.log(j + 1) + ratio
        total += np.exp(log_term)
    out[big] = np.minimum(total, 1.0)
    return out


# ----------------------------------------------------------------------------- sequences

@njit(cache=True)
def _ws_event(q: int, h: int, w: int, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
              oh: int, ow: int, pack: int, nblk: int, keys: np.ndarray, groups: np.ndarray,
              n: int) -> int:
    """Append one WS event's accesses: per tap block with a valid tap, its key (pack 1: the
    output position; else (event position, block)) and its group (input channel, block)."""
    c = q // (h * w)
    y = (q // w) % h
    x = q % w
    for b in range(nblk):
        pos1 = -1
        for s in range(pack):
            tap = b * pack + s
            if tap >= kh * kw:
                break
            ny = y + ph - tap // kw
            nx = x + pw - tap % kw
            if ny < 0 or nx < 0 or ny % sh != 0 or nx % sw != 0:
                continue
            if ny // sh >= oh or nx // sw >= ow:
                continue
            pos1 = (ny // sh) * ow + nx // sw
        if pos1 < 0:
            continue
        keys[n] = pos1 if pack == 1 else (y * w + x) * nblk + b
        groups[n] = c * nblk + b
        n += 1
    return n


@njit(cache=True)
def _os_event(q: int, h: int, w: int, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
              oh: int, ow: int, pack: int, nblk: int, keys: np.ndarray, groups: np.ndarray,
              n: int, hits: np.ndarray) -> int:
    """Append one OS event's accesses: per output x block it reaches (ascending), its key
    (input channel, kernel row, column offset, partial block) and its group (the block)."""
    c = q // (h * w)
    y = (q // w) % h
    x = q % w
    jr = kw + (pack - 1) * sw
    nh = 0
    for i in range(kh):
        ny = y + ph - i
        if ny < 0 or ny % sh != 0 or ny // sh >= oh:
            continue
        for j in range(kw):
            nx = x + pw - j
            if nx < 0 or nx % sw != 0 or nx // sw >= ow:
                continue
            hits[nh] = (ny // sh) * nblk + (nx // sw) // pack
            nh += 1
    for a in range(1, nh):                # insertion sort of a few blocks
        val = hits[a]
        b2 = a - 1
        while b2 >= 0 and hits[b2] > val:
            hits[b2 + 1] = hits[b2]
            b2 -= 1
        hits[b2 + 1] = val
    u = 0
    while u < nh:
        pb = hits[u]
        while u < nh and hits[u] == pb:
            u += 1
        oy = pb // nblk
        xb = pb % nblk
        i = y + ph - oy * sh
        j0 = x + pw - xb * pack * sw
        partial = 1 if (xb == nblk - 1 and ow % pack != 0) else 0
        keys[n] = ((c * kh + i) * jr + j0) * 2 + partial
        groups[n] = pb
        n += 1
    return n


@njit(cache=True)
def _stack(seq: np.ndarray, n_keys: int, last: np.ndarray, tree: np.ndarray,
           dist: np.ndarray) -> int:
    """Stack distances of ``seq`` (Fenwick tree over access times); writes them into ``dist``
    (-1 for a first access) and returns the number of first accesses. ``last`` (size
    ``n_keys``, all -1) and ``tree`` (size ``len(seq) + 1``, all 0) are left clean."""
    n = seq.size
    cold = 0
    for i in range(n):
        k = seq[i]
        j = last[k]
        if j < 0:
            cold += 1
            dist[i] = -1
        else:
            # marked positions in (j, i): prefix(i - 1) - prefix(j)
            a = 0
            p = i
            while p > 0:
                a += tree[p]
                p -= p & -p
            b = 0
            p = j + 1
            while p > 0:
                b += tree[p]
                p -= p & -p
            dist[i] = a - b
            p = j + 1
            while p <= n:
                tree[p] -= 1
                p += p & -p
        p = i + 1
        while p <= n:
            tree[p] += 1
            p += p & -p
        last[k] = i
    for i in range(n):
        last[seq[i]] = -1
    tree[:] = 0
    return cold


@njit(cache=True)
def _sequences(xs: np.ndarray, geom: np.ndarray, ws: bool, pack: int, nblk: int,
               keys: np.ndarray, groups: np.ndarray, hits: np.ndarray) -> int:
    """The keys and groups of one timestep's units (channel groups left out) in arrival order."""
    h, w, kh, kw, sh, sw = geom[0], geom[1], geom[2], geom[3], geom[4], geom[5]
    ph, pw, oh, ow = geom[6], geom[7], geom[8], geom[9]
    n = 0
    for q in range(xs.size):
        for _ in range(xs[q]):
            if ws:
                n = _ws_event(q, h, w, kh, kw, sh, sw, ph, pw, oh, ow, pack, nblk, keys, groups,
                              n)
            else:
                n = _os_event(q, h, w, kh, kw, sh, sw, ph, pw, oh, ow, pack, nblk, keys, groups,
                              n, hits)
    return n


@njit(cache=True)
def _bucket(d: int) -> int:
    """``floor(log2(d + 1))``: stack distances ``[2**b - 1, 2**(b + 1) - 1)`` share bucket b."""
    b = 0
    v = d + 1
    while v > 1:
        v >>= 1
        b += 1
    return b


@njit(cache=True)
def _timestep(xs: np.ndarray, geom: np.ndarray, ws: bool, pack: int, nblk: int,
              per_event: int, n_keys: int, n_groups: int, last: np.ndarray,
              prev_group: np.ndarray, hits: np.ndarray, count: np.ndarray,
              out_d: np.ndarray, out_gd: np.ndarray, out_sd: np.ndarray, out_ku: np.ndarray,
              totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add one timestep's accesses to the histograms and ``totals`` = (accesses, cold, group
    accesses, group cold, sorted cold); returns the codes ``(bucket * G + previous group) * G +
    group`` of its re-accesses (``G`` groups), the pairs of groups that use a key one after the
    other, and the codes ``previous group * G + group`` of every two units in a row."""
    tot = 0
    for q in range(xs.size):
        tot += xs[q]
    keys = np.empty(tot * per_event, dtype=np.int64)
    groups = np.empty(tot * per_event, dtype=np.int64)
    n = _sequences(xs, geom, ws, pack, nblk, keys, groups, hits)
    keys, groups = keys[:n], groups[:n]
    tree = np.zeros(n + 1, dtype=np.int64)
    dist = np.empty(n, dtype=np.int64)
    totals[0] += n
    totals[1] += _stack(keys, n_keys, last, tree, dist)
    pairs = np.empty(n, dtype=np.int64)
    n_pairs = 0
    for i in range(n):
        k = keys[i]
        if dist[i] >= 0:
            out_d[dist[i]] += 1
            pairs[n_pairs] = (_bucket(dist[i]) * n_groups + prev_group[k]) * n_groups + groups[i]
            n_pairs += 1
        prev_group[k] = groups[i]
    totals[2] += n
    totals[3] += _stack(groups, n_groups, last, tree, dist)
    for i in range(n):
        if dist[i] >= 0:
            out_gd[dist[i]] += 1
    order = np.argsort(groups * n_keys + keys, kind="mergesort")
    totals[4] += _stack(keys[order], n_keys, last, tree, dist)
    for i in range(n):
        if dist[i] >= 0:
            out_sd[dist[i]] += 1
    for i in range(n):
        count[keys[i]] += 1
    for i in range(n):
        if count[keys[i]] > 0:
            out_ku[min(count[keys[i]], out_ku.size - 1)] += 1
            count[keys[i]] = 0
    steps = np.empty(max(n - 1, 0), dtype=np.int64)
    for i in range(1, n):
        steps[i - 1] = groups[i - 1] * n_groups + groups[i]
    return pairs[:n_pairs], steps


@dataclass(frozen=True)
class _Layout:
    """A layer's access layout: geometry row for the kernels, keys, groups, accesses per event."""

    geom: np.ndarray
    ws: bool
    nblk: int
    n_keys: int
    n_groups: int
    per_event: int


def _layout(in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
            padding: tuple[int, int], out_hw: tuple[int, int], in_channels: int,
            stationary: Stationary, pack: int) -> _Layout:
    ws = stationary == "weights"
    (h, w), (kh, kw), (oh, ow) = in_hw, kernel, out_hw
    nblk = -(-(kh * kw) // pack) if ws else -(-ow // pack)    # blocks (OS: per output row)
    if ws:
        n_keys = oh * ow if pack == 1 else h * w * nblk
        n_groups = in_channels * nblk
    else:
        n_keys = in_channels * kh * (kw + (pack - 1) * stride[1]) * 2
        n_groups = oh * nblk
    geom = np.array([h, w, kh, kw, stride[0], stride[1], padding[0], padding[1], oh, ow],
                    dtype=np.int64)
    return _Layout(geom, ws, int(nblk), int(n_keys), int(n_groups),
                   int(nblk if ws else kh * kw))


def layer_profile(x: np.ndarray, in_hw: tuple[int, int], kernel: tuple[int, int],
                  stride: tuple[int, int], padding: tuple[int, int], out_hw: tuple[int, int],
                  in_channels: int, stationary: Stationary, pack: int) -> ReuseProfile:
    """The :class:`ReuseProfile` of a layer (a convolution; a linear layer is 1 x 1 on a 1 x 1
    map) whose input counts are ``x`` ``[T, N, c_in * h * w]``."""
    lay = _layout(in_hw, kernel, stride, padding, out_hw, in_channels, stationary, pack)
    n_keys, n_groups, per_event = lay.n_keys, lay.n_groups, lay.per_event
    xs = np.ascontiguousarray(x, dtype=np.int64)
    longest = int(xs.sum(axis=2).max(initial=0)) * per_event + 2
    hists = [np.zeros(longest, dtype=np.float64) for _ in range(3)]
    key_units = np.zeros(max(longest, 2), dtype=np.float64)
    totals = np.zeros(5, dtype=np.float64)
    last = np.full(max(n_keys, n_groups), -1, dtype=np.int64)
    prev = np.zeros(n_keys, dtype=np.int64)
    hits = np.empty(kernel[0] * kernel[1], dtype=np.int64)
    count = np.zeros(n_keys, dtype=np.int64)
    codes = [_timestep(xs[t, s], lay.geom, lay.ws, int(pack), lay.nblk, per_event, n_keys,
                       n_groups, last, prev, hits, count, hists[0], hists[1], hists[2],
                       key_units, totals)
             for s in range(xs.shape[1]) for t in range(xs.shape[0])]
    empty = np.zeros(0, dtype=np.int64)
    pairs, pair_counts = np.unique(np.concatenate([c[0] for c in codes]) if codes else empty,
                                   return_counts=True)
    steps, step_counts = np.unique(np.concatenate([c[1] for c in codes]) if codes else empty,
                                   return_counts=True)
    trim = [np.trim_zeros(hh, "b") for hh in (*hists, key_units)]
    return ReuseProfile(accesses=float(totals[0]), cold=float(totals[1]), distances=trim[0],
                        group_accesses=float(totals[2]), group_cold=float(totals[3]),
                        group_distances=trim[1], key_units=trim[3],
                        sorted_cold=float(totals[4]), sorted_distances=trim[2],
                        n_samples=max(int(x.shape[1]), 1), n_groups=int(n_groups),
                        pairs=pairs, pair_counts=pair_counts.astype(np.float64),
                        steps=steps, step_counts=step_counts.astype(np.float64))


# ----------------------------------------------------------------------------- on a placement

@dataclass(frozen=True)
class MacroReuse:
    """Accesses per sample (channel groups included) of a layer's streamed slices in the order
    the controller runs them on one placement, with a chip-wide LRU pool of ``sum(caps)`` slots. ``local``
    re-accesses find their slice in the macro that runs them (the previous use ran there and
    fewer than ``caps[m]`` other slices were used on that macro since); ``remote`` ones find it
    on another macro (one move over the bus), ``remote_full`` of them while the macro's slots
    are full (its oldest slice moves out: a second move; a macro's slices are counted as they
    arrive and move on, not which one leaves).
    ``miss_full`` loads come while the macro is full and the pool is not (its oldest slice
    moves to a macro with room), ``miss_both_full`` while both are (the oldest slice moves to
    where the pool's least recently used one left, unless that was the same macro).
    ``spill_hits``: units on spilled groups whose group is still in the home macro's spill
    slots (LRU over the spilled groups in running order)."""

    local: float
    remote: float
    remote_full: float = 0.0
    miss_full: float = 0.0
    miss_both_full: float = 0.0
    spill_hits: float = 0.0


@njit(cache=True)
def _placed_units(keys: np.ndarray, groups: np.ndarray, n_cg: int, macro_of: np.ndarray,
                  resident: np.ndarray, target: bool, n_items: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The items (``key * n_cg + cg``) and macros of one timestep's units in the order they
    run: arrival order, or under ``target`` the resident units by item, then the spilled ones
    by (group, item), stable (the system engine's order)."""
    n = keys.size * n_cg
    items = np.empty(n, dtype=np.int64)
    macs = np.empty(n, dtype=np.int64)
    gids = np.empty(n, dtype=np.int64)
    sortval = np.empty(n, dtype=np.int64)
    for i in range(keys.size):
        for c in range(n_cg):
            j = i * n_cg + c
            items[j] = keys[i] * n_cg + c
            macs[j] = macro_of[groups[i], c]
            g = groups[i] * n_cg + c
            gids[j] = g if not resident[groups[i], c] else -1
            sortval[j] = items[j] if resident[groups[i], c] else (g + 1) * n_items + items[j]
    if not target:
        return items, macs, gids
    order = np.argsort(sortval, kind="mergesort")
    return items[order], macs[order], gids[order]


@njit(cache=True)
def _spill_hits(gids: np.ndarray, k_spill: int, glast: np.ndarray) -> int:
    """Units on spilled groups (``gids`` >= 0, in running order) whose group is still in the
    home macro's LRU spill slots: its stack distance among the spilled groups < ``k_spill``."""
    seq = gids[gids >= 0]
    dist = np.empty(seq.size, dtype=np.int64)
    _stack(seq, glast.size, glast, np.zeros(seq.size + 1, dtype=np.int64), dist)
    hits = 0
    for i in range(seq.size):
        if 0 <= dist[i] < k_spill:
            hits += 1
    return hits


@njit(cache=True)
def _local_distances(items: np.ndarray, macs: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Stack distances of each unit's item within the units of its own macro (-1: first)."""
    n = items.size
    order = np.argsort(macs, kind="mergesort")
    local_d = np.empty(n, dtype=np.int64)
    start = 0
    while start < n:
        end = start
        while end < n and macs[order[end]] == macs[order[start]]:
            end += 1
        sub = items[order[start:end]]
        dsub = np.empty(end - start, dtype=np.int64)
        _stack(sub, last.size, last, np.zeros(end - start + 1, dtype=np.int64), dsub)
        for j in range(end - start):
            local_d[order[start + j]] = dsub[j]
        start = end
    return local_d


@njit(cache=True)
def _fenwick_add(tree: np.ndarray, i: int, v: int) -> None:
    p = i + 1
    while p < tree.size:
        tree[p] += v
        p += p & -p


@njit(cache=True)
def _fenwick_sum(tree: np.ndarray, i: int) -> int:
    """Marks at positions ``0 .. i`` (inclusive)."""
    a = 0
    p = i + 1
    while p > 0:
        a += tree[p]
        p -= p & -p
    return a


@njit(cache=True)
def _slot_members(item: int, n_cg: int, geom: np.ndarray, pack: int, nblk: int,
                  out: np.ndarray) -> int:
    """Membranes (``position * n_cg + cg``) a packed WS slice ``item`` holds; returns how many."""
    cg = item % n_cg
    rest = item // n_cg
    blk = rest % nblk
    y, x = (rest // nblk) // geom[1], (rest // nblk) % geom[1]
    kh, kw, sh, sw, ph, pw, oh, ow = geom[2], geom[3], geom[4], geom[5], geom[6], geom[7], \
        geom[8], geom[9]
    n = 0
    for s in range(pack):
        tap = blk * pack + s
        if tap >= kh * kw:
            break
        ny = y + ph - tap // kw
        nx = x + pw - tap % kw
        if ny < 0 or nx < 0 or ny % sh != 0 or nx % sw != 0 or ny // sh >= oh or nx // sw >= ow:
            continue
        out[n] = ((ny // sh) * ow + nx // sw) * n_cg + cg
        n += 1
    return n


@njit(cache=True)
def _evict_holders(k: int, i: int, n_cg: int, geom: np.ndarray, pack: int, nblk: int,
                   holder: np.ndarray, last: np.ndarray, tree: np.ndarray, total: int,
                   prev_macro: np.ndarray, held: np.ndarray, members: np.ndarray) -> int:
    """A packed WS slice ``k`` loaded at time ``i``: the slices still in the pool that hold one
    of its membranes leave (a membrane lives in one slice at a time); returns how many left."""
    left = 0
    before = _fenwick_sum(tree, i - 1) if i > 0 else 0
    for j in range(_slot_members(k, n_cg, geom, pack, nblk, members)):
        h = holder[members[j]]
        if h >= 0 and h != k and last[h] >= 0 and before - _fenwick_sum(tree, last[h]) < total:
            held[prev_macro[h]] -= 1
            _fenwick_add(tree, last[h], -1)       # out of the pool: no longer in its stack
            last[h] = -1
            left += 1
        holder[members[j]] = k
    return left


@njit(cache=True)
def _placed_step(keys: np.ndarray, groups: np.ndarray, n_cg: int, macro_of: np.ndarray,
                 resident: np.ndarray, target: bool, caps: np.ndarray, total: int,
                 last: np.ndarray, prev_macro: np.ndarray, geom: np.ndarray, packed: bool,
                 pack: int, nblk: int, holder: np.ndarray, k_spill: int, glast: np.ndarray,
                 out: np.ndarray) -> None:
    """Add one timestep's accesses to ``out`` (:class:`MacroReuse`'s fields): stack distances
    over the whole chip and within each macro's units; packed WS slices that share a membrane
    evict each other (``packed``)."""
    items, macs, gids = _placed_units(keys, groups, n_cg, macro_of, resident, target,
                                      last.size)
    out[5] += _spill_hits(gids, k_spill, glast)
    n = items.size
    local_d = _local_distances(items, macs, last)
    tree = np.zeros(n + 1, dtype=np.int64)
    held = np.zeros(caps.size, dtype=np.int64)    # slices each macro holds (tracked as moved)
    members = np.empty(pack, dtype=np.int64)
    pooled = 0
    for i in range(n):
        k, m = items[i], macs[i]
        full = held[m] >= caps[m]
        j = last[k]
        d = _fenwick_sum(tree, i - 1) - _fenwick_sum(tree, j) if j >= 0 else -1
        if j >= 0:
            _fenwick_add(tree, j, -1)
        if 0 <= d < total:
            a = prev_macro[k]
            if a == m and local_d[i] < caps[m]:
                out[0] += 1
            else:
                out[1] += 1
                if full:
                    out[2] += 1                    # m's oldest slice takes the freed place
                else:
                    if a >= 0 and a != m:
                        held[a] -= 1
                    held[m] += 1
        else:
            if packed:
                pooled -= _evict_holders(k, i, n_cg, geom, pack, nblk, holder, last, tree,
                                         total, prev_macro, held, members)
                full = held[m] >= caps[m]
            if pooled >= total:
                if full:
                    out[4] += 1                    # a slice leaves; m's oldest may go there
                else:
                    held[m] += 1
            else:
                pooled += 1
                if full:
                    out[3] += 1                    # m's oldest moves to a macro with room
                    for f in range(caps.size):
                        if held[f] < caps[f] and f != m:
                            held[f] += 1
                            break
                else:
                    held[m] += 1
        _fenwick_add(tree, i, 1)
        last[k] = i
        prev_macro[k] = m
    for i in range(n):
        prev_macro[items[i]] = -1
        last[items[i]] = -1
    for i in range(holder.size if packed else 0):
        holder[i] = -1


def macro_reuse(x: np.ndarray, in_hw: tuple[int, int], kernel: tuple[int, int],
                stride: tuple[int, int], padding: tuple[int, int], out_hw: tuple[int, int],
                in_channels: int, stationary: Stationary, pack: int, macro_of: np.ndarray,
                caps: np.ndarray, resident: np.ndarray | None = None,
                target: bool = False, spill_slots: int = 0) -> MacroReuse:
    """The :class:`MacroReuse` of a layer whose input counts are ``x`` ``[T, N, c_in * h * w]``
    on a placement: ``macro_of[group, cg]`` the macro each unit runs on, ``caps[m]`` each
    macro's streamed slots, ``resident[group, cg]`` whether the group is in the arrays (default:
    all), ``target`` the controller's sorted order instead of arrival order, ``spill_slots``
    the home macro's spill slots (every timestep starts with empty pools)."""
    lay = _layout(in_hw, kernel, stride, padding, out_hw, in_channels, stationary, pack)
    xs = np.ascontiguousarray(x, dtype=np.int64)
    mo = np.ascontiguousarray(macro_of, dtype=np.int64)
    n_cg = int(mo.shape[1])
    caps_i = np.ascontiguousarray(np.floor(caps), dtype=np.int64)
    res = np.ones(mo.shape, dtype=np.bool_) if resident is None else \
        np.ascontiguousarray(resident, dtype=np.bool_)
    longest = int(xs.sum(axis=2).max(initial=0)) * lay.per_event + 2
    keys = np.empty(longest, dtype=np.int64)
    groups = np.empty(longest, dtype=np.int64)
    hits = np.empty(kernel[0] * kernel[1], dtype=np.int64)
    last = np.full(lay.n_keys * n_cg, -1, dtype=np.int64)
    prev_macro = np.full(lay.n_keys * n_cg, -1, dtype=np.int64)
    packed = lay.ws and pack > 1
    oh, ow = out_hw
    holder = np.full(oh * ow * n_cg if packed else 0, -1, dtype=np.int64)
    glast = np.full(mo.size, -1, dtype=np.int64)
    out = np.zeros(6, dtype=np.float64)
    for s in range(xs.shape[1]):
        for t in range(xs.shape[0]):
            n = _sequences(xs[t, s], lay.geom, lay.ws, int(pack), lay.nblk, keys, groups, hits)
            _placed_step(keys[:n], groups[:n], n_cg, mo, res, bool(target), caps_i,
                         int(caps_i.sum()), last, prev_macro, lay.geom, packed, int(pack),
                         lay.nblk, holder, int(spill_slots), glast, out)
    n_samples = max(int(xs.shape[1]), 1)
    return MacroReuse(*(float(v) / n_samples for v in out))

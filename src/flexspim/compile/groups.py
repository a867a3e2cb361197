"""Bits of every row group and which groups the compiler chooses (docs/compiler.md §Placement).

The groups of one layer differ in size: the last channel group may hold fewer output channels
than the others, and under lane packing the last tap block (WS) or x block (OS) fewer slots. A
resident group costs its rows whatever it holds, so the compiler keeps the **largest groups
first**; among groups of equal size it picks them evenly spread over the group indices
(:func:`~flexspim.compile.geometry.spread_mask`), so that activity that varies across channels
or positions meets the arrays, the buffer and DRAM in proportion. The same rule chooses which
spilled groups and which memory groups of the streamed operand sit in the buffer.

With this rule the bits held by the ``k`` chosen groups are the sum of the ``k`` largest group
sizes, a concave, piecewise-linear function of ``k`` (one piece per distinct size): the
compiler's integer program models it exactly and the mapping records exact bit counts.
"""

from __future__ import annotations

import numpy as np

from flexspim.compile.geometry import LayerGeometry, OptionGeometry, spread_mask


def _channels(og: OptionGeometry, n: int, n_channels: int) -> np.ndarray:
    """Output channels of each of ``n`` groups numbered with the channel group fastest."""
    cg = np.arange(n, dtype=np.int64) % og.n_cg
    return np.minimum(og.channels_per_group, n_channels - cg * og.channels_per_group)


def stationary_group_bits(geo: LayerGeometry, og: OptionGeometry) -> np.ndarray:
    """Bits of the operands each stationary row group holds (``[groups]``, int64; group
    numbering in :mod:`flexspim.compile.geometry`)."""
    chans = _channels(og, og.groups, geo.out_channels)
    block = (np.arange(og.groups, dtype=np.int64) // og.n_cg) % og.n_blocks
    ws = og.option.stationary == "weights"
    span = geo.taps if ws else geo.out_hw[1]
    slots = np.minimum(og.pack, span - block * og.pack)
    return chans * slots * (geo.w_bits if ws else geo.v_bits)


def memory_group_bits(geo: LayerGeometry, og: OptionGeometry) -> np.ndarray:
    """Bits of each memory group of the streamed operand (``[memory_groups]``, int64):
    membranes under WS, weights under OS; the last channel group may be partial."""
    chans = _channels(og, og.memory_groups, geo.out_channels)
    return chans * (geo.v_bits if og.option.stationary == "weights" else geo.w_bits)


def select_groups(bits: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the ``k`` groups chosen among groups of sizes ``bits``: the largest
    first, evenly spread among groups of equal size (module docstring)."""
    bits = np.asarray(bits)
    if not 0 <= k <= bits.size:
        raise ValueError(f"select_groups: cannot choose {k} of {bits.size} groups")
    mask = np.zeros(bits.size, dtype=bool)
    left = int(k)
    for size in np.unique(bits)[::-1]:
        if left == 0:
            break
        idx = np.flatnonzero(bits == size)
        take = min(left, idx.size)
        mask[idx[spread_mask(idx.size, take)]] = True
        left -= take
    return mask


def largest_first(bits: np.ndarray) -> np.ndarray:
    """``[n + 1]`` cumulative bits of the groups taken largest first: entry ``k`` is what
    :func:`select_groups` (``bits``, ``k``) holds."""
    return np.concatenate(([0], np.cumsum(np.sort(np.asarray(bits, dtype=np.int64))[::-1])))


def fitting_groups(bits: np.ndarray, capacity_bits: float) -> int:
    """How many groups, taken largest first, fit in ``capacity_bits``."""
    cum = largest_first(bits)
    return int(np.searchsorted(cum, capacity_bits + 1e-9, side="right")) - 1


def resident_bits_pieces(bits: np.ndarray) -> list[tuple[float, float]]:
    """``(intercept, slope)`` of the affine pieces whose minimum is the bits held by the ``k``
    largest groups, for every ``k`` in ``[0, groups]`` (concave: one piece per distinct size)."""
    sizes = np.sort(np.asarray(bits, dtype=np.int64))[::-1]
    pieces, start, held = [], 0, 0
    for size in np.unique(sizes)[::-1]:
        count = int(np.count_nonzero(sizes == size))
        pieces.append((float(held - size * start), float(size)))
        start += count
        held += int(size) * count
    return pieces


def layer_bits(geo: LayerGeometry, og: OptionGeometry, resident_groups: int,
               streamed_buffer_groups: int, spilled_buffer_groups: int) -> tuple[int, int, int]:
    """Exact (resident, streamed-in-buffer, spilled-in-buffer) bits of a layer mapped with
    these group counts under the selection rule of this module."""
    cum = largest_first(stationary_group_bits(geo, og))
    k, j = int(resident_groups), int(spilled_buffer_groups)
    streamed = largest_first(memory_group_bits(geo, og))[int(streamed_buffer_groups)]
    return int(cum[k]), int(streamed), int(cum[k + j] - cum[k])


def whole_groups(bits: np.ndarray, buffered_bits: float) -> int:
    """How many groups, taken largest first, lie wholly within ``buffered_bits``."""
    return fitting_groups(bits, buffered_bits)


def buffer_fractions(bits: np.ndarray, buffered_bits: float) -> np.ndarray:
    """Fraction of each group's bits kept in the buffer when ``buffered_bits`` of them are: the
    groups :func:`select_groups` takes first are wholly there, the next one partly (a group may
    be split between the buffer and DRAM), the others not at all."""
    bits = np.asarray(bits, dtype=np.int64)
    k = whole_groups(bits, buffered_bits)
    first = select_groups(bits, k)
    frac = first.astype(np.float64)
    rest = float(buffered_bits) - float(bits[first].sum())
    if k < bits.size and rest > 0:
        nxt = select_groups(bits, k + 1) & ~first
        frac[nxt] = rest / float(bits[nxt].sum())
    return frac

"""Placement of resident row groups into the macros' rows, and of off-array operands into the
buffer and DRAM (docs/compiler.md §Placement)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flexspim.compile.mapping import Tile
from flexspim.compile.rules import BITS_PER_KIB, buffer_capacity
from flexspim.hw import Hardware


@dataclass(frozen=True)
class Request:
    """Ask to place ``groups`` row groups of ``rows_per_group`` rows, ``lane_cols`` wide."""

    layer: str
    groups: int
    rows_per_group: int
    lane_cols: int


def place_groups(requests: Sequence[Request], order: Sequence[int], hw: Hardware,
                 scratch_rows: int) -> list[tuple[int, tuple[Tile, ...], int]]:
    """First-fit placement, requests taken in ``order``: each macro fills its rows
    ``[scratch_rows, rows)`` from the top; a request takes as many whole groups as fit in the
    first macro with room, then the next. Returns per request (placed groups, tiles, home
    macro); the home macro is the one holding its first tile, else the macro with most room."""
    n, rows = hw.system.n_macros, hw.macro.rows
    used = [scratch_rows] * n
    out: list[tuple[int, tuple[Tile, ...], int] | None] = [None] * len(requests)
    for i in order:
        req = requests[i]
        left, tiles = req.groups, []
        g = req.rows_per_group
        for m in range(n):
            if left <= 0:
                break
            fit = (rows - used[m]) // g if g > 0 else 0
            take = min(fit, left)
            if take > 0:
                tiles.append(Tile(m, used[m], used[m] + take * g, 0, req.lane_cols, take))
                used[m] += take * g
                left -= take
        out[i] = (req.groups - left, tuple(tiles), -1)
    result: list[tuple[int, tuple[Tile, ...], int]] = []
    for placed, tiles, _ in out:  # type: ignore[misc]
        home = tiles[0].macro if tiles else min(range(n), key=lambda m: (used[m], m))
        result.append((placed, tiles, home))
    return result


@dataclass(frozen=True)
class OffArrayItem:
    """An operand (or part) kept outside the arrays: ``bits``, and memory traffic per bit."""

    layer: str
    kind: str  # "streamed" or "spilled"
    bits: float
    traffic_per_bit: float


def allocate_buffer(items: Sequence[OffArrayItem], hw: Hardware) -> list[float]:
    """Bits of each item held in the buffer: items with the most traffic per bit first (optimal
    for a linear cost per bit), the rest in DRAM. With DRAM disabled, everything must fit
    (rule ``buffer-capacity``)."""
    buffer_capacity([(it.layer, it.bits) for it in items], hw)
    cap = hw.system.buffer_kib * BITS_PER_KIB
    out = [0.0] * len(items)
    for i in sorted(range(len(items)), key=lambda j: (-items[j].traffic_per_bit, j)):
        take = min(items[i].bits, cap)
        out[i] = take
        cap -= take
    return out

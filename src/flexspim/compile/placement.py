"""Placement of resident row groups into the macros' rows, and of off-array operands into the
buffer and DRAM (docs/compiler.md §Placement)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flexspim.compile.mapping import Tile
from flexspim.compile.rules import BITS_PER_KIB, buffer_capacity
from flexspim.hw import Hardware

#: Placement strategies: ``balanced`` spreads each layer's groups evenly over the macros with
#: room (its events then run on several macros in parallel); ``first-fit`` fills one macro
#: after the other (fewest macros per layer, fewest routed events).
PLACEMENTS: tuple[str, ...] = ("balanced", "first-fit")


@dataclass(frozen=True)
class Request:
    """Ask to place ``groups`` row groups of ``rows_per_group`` rows, ``lane_cols`` wide."""

    layer: str
    groups: int
    rows_per_group: int
    lane_cols: int


def _balanced(want: int, free: list[int]) -> list[int]:
    """Groups per macro, at most ``free[m]`` each, summing to ``min(want, sum(free))``, with the
    largest share as small as possible (water filling; ties go to the lower macro index)."""
    want = min(want, sum(free))
    take = [0] * len(free)
    left = want
    open_ = [m for m in range(len(free)) if free[m] > 0]
    while left > 0 and open_:
        share = max(left // len(open_), 1)
        for m in list(open_):
            if left <= 0:
                break
            add = min(share, free[m] - take[m], left)
            take[m] += add
            left -= add
            if take[m] >= free[m]:
                open_.remove(m)
    return take


def place_groups(requests: Sequence[Request], order: Sequence[int], hw: Hardware,
                 scratch_rows: int, strategy: str = "balanced", whole_layers: bool = False
                 ) -> list[tuple[int, tuple[Tile, ...], int]]:
    """Place requests in ``order``: every macro keeps rows ``[0, scratch_rows)`` for scratch and
    fills the rest from the top. ``balanced`` gives each request an even share of every macro
    with room; ``first-fit`` fills the first macro with room, then the next. With
    ``whole_layers`` a request is placed only when all of its groups fit. Returns per request
    (placed groups, tiles in macro order, home macro); the home macro is the macro with the most
    free rows after placement (ties: the lowest index)."""
    n, rows = hw.system.n_macros, hw.macro.rows
    used = [scratch_rows] * n
    placed: list[tuple[int, tuple[Tile, ...]] | None] = [None] * len(requests)
    for i in order:
        req = requests[i]
        g = req.rows_per_group
        free = [(rows - used[m]) // g if g > 0 else 0 for m in range(n)]
        if whole_layers and sum(free) < req.groups:
            placed[i] = (0, ())
            continue
        if strategy == "balanced":
            take = _balanced(req.groups, free)
        else:
            take, left = [0] * n, req.groups
            for m in range(n):
                take[m] = min(free[m], left)
                left -= take[m]
        tiles = []
        for m in range(n):
            if take[m] > 0:
                tiles.append(Tile(m, used[m], used[m] + take[m] * g, 0, req.lane_cols, take[m]))
                used[m] += take[m] * g
        placed[i] = (sum(take), tuple(tiles))
    home = min(range(n), key=lambda m: (used[m], m))
    return [(k, tiles, home) for k, tiles in placed]  # type: ignore[misc]


@dataclass(frozen=True, eq=False)
class OffArrayItem:
    """An operand (or part) kept outside the arrays: groups of ``group_bits`` bits each, and
    the energy saved per bit moved from DRAM to the buffer."""

    layer: str
    kind: str  # "streamed" or "spilled"
    group_bits: np.ndarray
    traffic_per_bit: float

    @property
    def bits(self) -> int:
        return int(np.sum(self.group_bits))


def allocate_buffer(items: Sequence[OffArrayItem], hw: Hardware) -> list[int]:
    """Bits of each item held in the buffer: items with the most energy saved per bit first
    (optimal for a linear cost per bit), each as far as the buffer has room, the rest in DRAM
    (the group at the edge split between the two). With DRAM disabled, everything must fit
    (rule ``buffer-capacity``)."""
    buffer_capacity([(it.layer, it.bits) for it in items], hw)
    if not hw.system.dram.enabled:
        return [it.bits for it in items]
    cap = int(hw.system.buffer_kib * BITS_PER_KIB)
    out = [0] * len(items)
    for i in sorted(range(len(items)), key=lambda j: (-items[j].traffic_per_bit, j)):
        out[i] = min(items[i].bits, cap)
        cap -= out[i]
    return out

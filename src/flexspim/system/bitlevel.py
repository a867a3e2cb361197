"""The bit-level mode of the system engine: the mapping executed row operation by row operation
on the bit-level macro model (:class:`flexspim.macro.Macro`), for small networks.

Each macro is a :class:`~flexspim.macro.Macro` holding the mapping's resident row groups at their
rows (loaded before the run, not counted), with the mapping's operand shapes: a membrane of
``v_rows`` rows and a weight of ``w_rows`` rows in the same ``cols``-column lane, lanes side by
side as the group's slots and channels, carries chained across row segments, weight rows past
``w_rows`` run in sign-extension mode, the last segment narrowed to the membrane's width, unused
columns in standby. Streamed slices are written into the scratch rows (``[0, w_rows)`` for a
weight, ``[w_rows, w_rows + v_rows)`` for a membrane) with row writes, membranes read back with
row reads; membranes kept outside the arrays are held by the controller, and every bit moved to
or from the buffer or DRAM is counted (:func:`charge`). Threshold
compares read membrane rows in place (counted as compare reads, not as row reads), resets write
rows back. The controller follows the same schedule and rules as the fast mode
(:mod:`flexspim.system.kernel`), written again here from the macro's point of view; counts come
from the macros' own counters and the stores, so the two modes check each other.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from flexspim.compile.program import (
    LayerProgram,
    Program,
    compare_groups,
    leak_operand_rows,
)
from flexspim.energy.counts import COUNT_FIELDS, FIELD_INDEX, PHASES
from flexspim.hw import Hardware
from flexspim.macro.array import Macro, decode_bits, encode_bits
from flexspim.macro.leak import leak_row_group
from flexspim.net.layers import SpikingLayer
from flexspim.net.network import IntNetwork
from flexspim.sim.common import batch_stats, new_tallies
from flexspim.system.routing import passive

F = FIELD_INDEX
P_INIT, P_LEAK, P_INTEGRATE, P_FIRE = (PHASES.index(p)
                                        for p in ("init", "leak", "integrate", "fire"))


def charge(row: np.ndarray, buffered: float, bits: float, read: bool) -> None:
    """Add ``bits`` read from (or written to) memory to a macro's count row: the fraction
    ``buffered`` of them at the buffer, the rest at DRAM."""
    kind = "_read_bits" if read else "_write_bits"
    row[F["buffer" + kind]] += bits * buffered
    row[F["dram" + kind]] += bits * (1.0 - buffered)


@dataclass(frozen=True)
class Lane:
    """One active lane of a unit: its lane index in the row group, the neuron it updates, the
    weight (c_out, c_in, i, j) it adds, and its memory group."""

    lane: int
    neuron: int
    weight: tuple[int, int, int, int]
    group: int


def unit_lanes(lp: LayerProgram, q: int, block: int, cg: int) -> list[Lane]:
    """The active lanes of the unit (event at flat input q, tap/x block, channel group)."""
    g = lp.geo
    (kh, kw), (sh, sw), (ph, pw) = g.kernel, g.stride, g.padding
    h, w = g.in_hw
    oh, ow = g.out_hw
    c, y, x = q // (h * w), (q // w) % h, q % w
    c0, c1 = cg * lp.channels_per_group, min(g.out_channels, (cg + 1) * lp.channels_per_group)
    out = []
    for s in range(lp.pack):
        if lp.ws:
            tap = block * lp.pack + s
            if tap >= kh * kw:
                break
            i, j = divmod(tap, kw)
            ny, nx = y + ph - i, x + pw - j
            if ny < 0 or nx < 0 or ny % sh or nx % sw or ny // sh >= oh or nx // sw >= ow:
                continue
            oy, ox = ny // sh, nx // sw
        else:
            oy, ox = block // lp.n_blocks, (block % lp.n_blocks) * lp.pack + s
            if ox >= ow:
                break
            i, j = y + ph - oy * sh, x + pw - ox * sw
            if not (0 <= i < kh and 0 <= j < kw):
                continue
        pos = oy * ow + ox
        for ch in range(c0, c1):
            grp = pos * lp.n_cg + cg if lp.ws else \
                (c * kh * kw + i * kw + j) * lp.n_cg + cg
            out.append(Lane(s * (c1 - c0) + ch - c0, ch * oh * ow + pos, (ch, c, i, j), grp))
    return out


def event_units(lp: LayerProgram, q: int) -> list[tuple[int, int, int]]:
    """(block, channel group, slice key) of every unit of an event, in execution order (WS: tap
    blocks ascending; OS: x blocks hit, ascending; channel groups inner)."""
    g = lp.geo
    (kh, kw), (sh, sw), (ph, pw) = g.kernel, g.stride, g.padding
    h, w = g.in_hw
    oh, ow = g.out_hw
    c, y, x = q // (h * w), (q // w) % h, q % w
    blocks: dict[int, int] = {}
    for i in range(kh):
        for j in range(kw):
            ny, nx = y + ph - i, x + pw - j
            if ny < 0 or nx < 0 or ny % sh or nx % sw or ny // sh >= oh or nx // sw >= ow:
                continue
            oy, ox = ny // sh, nx // sw
            b = (i * kw + j) // lp.pack if lp.ws else oy * lp.n_blocks + ox // lp.pack
            blocks.setdefault(b, oy * ow + ox)
    out = []
    for b in sorted(blocks):
        for cg in range(lp.n_cg):
            out.append((b, cg, _slice_key(lp, c, y, x, b, cg, blocks[b])))
    return out


def _slice_key(lp: LayerProgram, c: int, y: int, x: int, b: int, cg: int, pos: int) -> int:
    g = lp.geo
    if lp.ws:
        if lp.pack == 1:
            return pos * lp.n_cg + cg
        return ((y * g.in_hw[1] + x) * lp.n_blocks + b) * lp.n_cg + cg
    (kh, kw), (sh, sw), (ph, pw) = g.kernel, g.stride, g.padding
    oy, xb = divmod(b, lp.n_blocks)
    i, j0 = y + ph - oy * sh, x + pw - xb * lp.pack * sw
    if lp.pack == 1:
        return (c * kh * kw + i * kw + j0) * lp.n_cg + cg
    partial = int(xb == lp.n_blocks - 1 and g.out_hw[1] % lp.pack != 0)
    span = kw + (lp.pack - 1) * sw
    return (((c * kh + i) * span + j0) * 2 + partial) * lp.n_cg + cg


def stationary_group(lp: LayerProgram, q: int, block: int, cg: int) -> int:
    """Index of the stationary row group a unit runs on."""
    if lp.ws:
        c = q // (lp.geo.in_hw[0] * lp.geo.in_hw[1])
        return (c * lp.n_blocks + block) * lp.n_cg + cg
    return block * lp.n_cg + cg


class _Layer:
    """Controller state of one layer on the macros for one sample."""

    def __init__(self, lp: LayerProgram, prog: Program, hw: Hardware, macros: list[Macro]):
        self.lp, self.prog, self.hw, self.macros = lp, prog, hw, macros
        self.cols = lp.cols
        self.stream: dict[int, int] = {}      # neuron -> membrane value kept in memory

    # ---------------------------------------------------------------- operand placement
    def group_lanes(self, g: int) -> list[tuple[int, int]]:
        """(lane, neuron) of every operand slot of OS membrane group g."""
        lp = self.lp
        oh, ow = lp.geo.out_hw
        pb, cg = divmod(g, lp.n_cg)
        oy, xb = divmod(pb, lp.n_blocks)
        c0 = cg * lp.channels_per_group
        c1 = min(lp.geo.out_channels, c0 + lp.channels_per_group)
        out = []
        for s in range(lp.pack):
            ox = xb * lp.pack + s
            if ox >= ow:
                break
            for ch in range(c0, c1):
                out.append((s * (c1 - c0) + ch - c0, ch * oh * ow + oy * ow + ox))
        return out

    def weight_group_lanes(self, g: int) -> list[tuple[int, tuple[int, int, int, int]]]:
        """(lane, weight index) of every slot of WS weight group g."""
        lp = self.lp
        kh, kw = lp.geo.kernel
        rest, cg = divmod(g, lp.n_cg)
        c, b = divmod(rest, lp.n_blocks)
        c0 = cg * lp.channels_per_group
        c1 = min(lp.geo.out_channels, c0 + lp.channels_per_group)
        out = []
        for s in range(lp.pack):
            tap = b * lp.pack + s
            if tap >= kh * kw:
                break
            for ch in range(c0, c1):
                out.append((s * (c1 - c0) + ch - c0, (ch, c, tap // kw, tap % kw)))
        return out

    def write_lanes(self, m: int, row0: int, n_rows: int, lanes: list[tuple[int, int]],
                    bits: int, count: bool = True) -> None:
        """Write integer operands into lanes (sign-extended over ``n_rows`` rows)."""
        mac = self.macros[m]
        rows = [mac.bits[row0 + r].copy() for r in range(n_rows)]
        if lanes:
            vals = np.array([v for _, v in lanes], dtype=np.int64)
            cells = encode_bits(vals, n_rows * self.cols)
            for k, (lane, _) in enumerate(lanes):
                for r in range(n_rows):
                    rows[r][lane * self.cols:(lane + 1) * self.cols] = \
                        cells[k, r * self.cols:(r + 1) * self.cols]
        for r in range(n_rows):
            if count:
                mac.write_row(row0 + r, rows[r])
            else:
                mac._bits[row0 + r] = rows[r]  # set-up load: not part of the workload

    def read_lanes(self, m: int, row0: int, n_rows: int, lanes: list[int], bits: int,
                   count: bool) -> list[int]:
        """Integer operands of ``lanes`` (rows read counted when ``count``)."""
        mac = self.macros[m]
        rows = np.stack([mac.read_row(row0 + r) if count else mac.bits[row0 + r]
                         for r in range(n_rows)])                  # [rows, cols]
        if not lanes:
            return []
        idx = np.asarray(lanes, dtype=np.int64)[:, None] * self.cols + np.arange(self.cols)
        cells = rows[:, idx].transpose(1, 0, 2).reshape(len(lanes), n_rows * self.cols)
        return decode_bits(cells, bits).tolist()

    def load_resident(self) -> None:
        """Place the resident weights (WS) at their rows; resident membranes are written by
        the init phase."""
        lp = self.lp
        if not lp.ws:
            return
        for g in np.flatnonzero(lp.stat_macro >= 0):
            lanes = [(lane, int(lp.weight[idx])) for lane, idx in self.weight_group_lanes(int(g))]
            self.write_lanes(int(lp.stat_macro[g]), int(lp.stat_row[g]), lp.w_rows, lanes,
                             lp.w_bits, count=False)


def _configure(mac: Macro, lanes: list[int], cols: int, width: int) -> None:
    """Control cells: the given lanes (sorted) active on their first ``width`` columns."""
    mac.configure_lanes_at([lane * cols for lane in lanes], cols, width)


class _Pools:
    """The controller's scratch pools from the macro's point of view (module docstring): the
    streamed pool, one LRU over every macro's streamed slots with moves between macros, and the
    home macro's spill slots. Written independently of :mod:`flexspim.system.kernel`; the same
    rules, so that the two modes check each other."""

    def __init__(self, lp: LayerProgram, n_macros: int):
        self.lp = lp
        self.cap = [int(c) for c in lp.cap]
        self.recent: OrderedDict[int, None] = OrderedDict()      # oldest first
        self.local: list[OrderedDict[int, int]] = [OrderedDict() for _ in range(n_macros)]
        self.where: dict[int, int] = {}                         # key -> macro
        self.value: dict[int, list[tuple[int, int, int, int]]] = {}  # key -> lanes held
        self.pending: dict[int, tuple[float, float]] = {}       # key -> bits to write back
        self.bits: dict[int, float] = {}
        self.holder: dict[int, int] = {}                        # membrane group -> key
        self.spill: list[list[float]] = [[-1, -1, 0.0, 0.0] for _ in range(lp.k_spill)]

    def free_slot(self, m: int) -> int:
        used = set(self.local[m].values())
        return next(i for i in range(self.cap[m]) if i not in used)

    def total(self) -> int:
        return sum(self.cap)


class _Exec(_Layer):
    """Runs one layer's units, compares and resets on the macros (see the module docstring)."""

    def __init__(self, lp: LayerProgram, prog: Program, hw: Hardware, macros: list[Macro]):
        super().__init__(lp, prog, hw, macros)
        self.reuse = hw.system.controller.scratch_reuse
        self.wraps: dict[int, int] = {}
        self.touched: set[int] = set()
        self.spiked_prev: set[int] = set()
        self.neuron_group = [self._compare_group(n) for n in range(lp.n_neurons)]
        self.pools = _Pools(lp, prog.n_macros)

    # ---------------------------------------------------------------- streamed pool
    def _slot_row(self, m: int, key: int) -> int:
        return int(self.lp.slot_rows[m, self.pools.local[m][key]])

    def _read_slice(self, key: int, count: bool = True) -> list[tuple[int, int, int, int]]:
        """The slice's lanes with the values its rows hold (membranes are read back)."""
        lp, pl = self.lp, self.pools
        lanes = pl.value[key]
        m = pl.where[key]
        if lp.ws:
            vals = self.read_lanes(m, self._slot_row(m, key), lp.s_rows,
                                   [ln for ln, _, _, _ in lanes], lp.v_bits, count=count)
            return [(ln, n, lvl, v) for (ln, n, lvl, _), v in zip(lanes, vals, strict=True)]
        if count:
            for r in range(lp.s_rows):
                self.macros[m].read_row(self._slot_row(m, key) + r)
        return lanes

    def _write_slice(self, m: int, key: int, lanes: list[tuple[int, int, int, int]]) -> None:
        lp = self.lp
        bits = lp.v_bits if lp.ws else lp.w_bits
        self.write_lanes(m, self._slot_row(m, key), lp.s_rows,
                         [(ln, v) for ln, _, _, v in lanes], bits)

    def _move(self, key: int, dst: int, rows: np.ndarray, slot: int | None = None) -> None:
        """Move a cached slice to macro ``dst`` (read out, written in, bits over the bus)."""
        pl = self.pools
        lanes = self._read_slice(key)
        src = pl.where.pop(key)
        del pl.local[src][key]
        pl.local[dst][key] = pl.free_slot(dst) if slot is None else slot
        pl.local[dst].move_to_end(key, last=False)             # oldest on its new macro
        pl.where[key] = dst
        self._write_slice(dst, key, lanes)
        pl.value[key] = lanes
        rows[dst, F["transfer_bits"]] += pl.bits[key]

    def _drop(self, key: int, rows: np.ndarray) -> None:
        """Write the slice back (membranes) and forget it."""
        lp, pl = self.lp, self.pools
        m = pl.where[key]
        buf, dram = pl.pending.pop(key, (0.0, 0.0))
        if buf > 0 or dram > 0:
            for _, n, level, v in self._read_slice(key):
                self.stream[n] = v
                charge(rows[m], level, lp.v_bits, read=False)
        del pl.local[m][key]
        del pl.where[key]
        del pl.recent[key]
        del pl.value[key]
        for grp in [g for g, k in pl.holder.items() if k == key]:
            del pl.holder[grp]

    def _touch(self, key: int) -> None:
        pl = self.pools
        pl.recent.move_to_end(key)
        pl.local[pl.where[key]].move_to_end(key)

    def _swap_in(self, key: int, m: int, rows: np.ndarray) -> None:
        """A slice held by another macro comes to ``m``; when ``m`` is full, its least recently
        used slice goes to the freed slot."""
        pl = self.pools
        a = pl.where[key]
        if len(pl.local[m]) >= pl.cap[m]:
            y = next(iter(pl.local[m]))
            lanes_x = self._read_slice(key)
            slot_x, slot_y = pl.local[a][key], pl.local[m][y]
            del pl.local[a][key]
            self._move(y, a, rows, slot=slot_x)
            pl.local[m][key] = slot_y
            pl.where[key] = m
            self._write_slice(m, key, lanes_x)
            rows[m, F["transfer_bits"]] += pl.bits[key]
        else:
            self._move(key, m, rows)
        self._touch(key)

    def _load(self, key: int, m: int, lanes: list[Lane], rows: np.ndarray) -> None:
        """A slice no macro holds is loaded from memory into ``m``."""
        lp, pl = self.lp, self.pools
        if lp.ws and lp.pack > 1:          # a membrane lives in one slice
            for grp in dict.fromkeys(ln.group for ln in lanes):
                if grp in pl.holder:
                    self._drop(pl.holder[grp], rows)
        freed = -1
        if len(pl.recent) >= pl.total():
            victim = next(iter(pl.recent))
            freed = pl.where[victim]
            self._drop(victim, rows)
        if len(pl.local[m]) >= pl.cap[m]:
            dst = freed if freed >= 0 and freed != m else next(
                d for d in range(len(pl.cap)) if d != m and len(pl.local[d]) < pl.cap[d])
            self._move(next(iter(pl.local[m])), dst, rows)
        if lp.ws:
            held = [(ln.lane, ln.neuron, float(lp.mem_buffered[ln.group]),
                     self.stream[ln.neuron]) for ln in lanes]
            bits = lp.v_bits
        else:
            held = [(ln.lane, -1, float(lp.mem_buffered[ln.group]), int(lp.weight[ln.weight]))
                    for ln in lanes]
            bits = lp.w_bits
        buf = float(sum(bits * f for _, _, f, _ in held))
        dram = float(sum(bits * (1.0 - f) for _, _, f, _ in held))
        charge(rows[m], 1.0, buf, read=True)
        charge(rows[m], 0.0, dram, read=True)
        pl.local[m][key] = pl.free_slot(m)
        pl.where[key] = m
        pl.recent[key] = None
        pl.value[key] = held
        pl.bits[key] = buf + dram
        if lp.ws:
            pl.pending[key] = (buf, dram)
            if lp.pack > 1:
                for ln in lanes:
                    pl.holder[ln.group] = key
        self._write_slice(m, key, held)

    def stream_in(self, key: int, m: int, lanes: list[Lane], rows: np.ndarray) -> int:
        """Bring the unit's streamed slice into macro ``m``; returns its first row."""
        where = self.pools.where.get(key, -1)
        if where == m:
            self._touch(key)
        elif where >= 0:
            self._swap_in(key, m, rows)
        else:
            self._load(key, m, lanes, rows)
        return self._slot_row(m, key)

    # ---------------------------------------------------------------- spill slots
    def spill_in(self, g: int, clock: int, rows: np.ndarray) -> int:
        """Bring spilled group ``g`` into the home macro's spill slots (LRU); returns its row."""
        lp = self.lp
        slots = self.pools.spill
        for j, slot in enumerate(slots):
            if slot[0] == g:
                slot[1] = clock
                return j * lp.sp_rows
        j = min(range(len(slots)), key=lambda i: (slots[i][1], i))
        self.spill_out(j, rows)
        row0 = j * lp.sp_rows
        f = float(lp.stat_buffered[g])
        if lp.ws:
            vals = [(lane, int(lp.weight[idx])) for lane, idx in self.weight_group_lanes(g)]
            self.write_lanes(lp.home, row0, lp.w_rows, vals, lp.w_bits)
        else:
            vals = [(lane, self.stream[n]) for lane, n in self.group_lanes(g)]
            self.write_lanes(lp.home, row0, lp.v_rows, vals, lp.v_bits)
        bits = float(lp.stat_bits[g])
        charge(rows[lp.home], f, bits, read=True)
        slots[j] = [g, clock, 0.0, 0.0]
        if not lp.ws:
            slots[j][2], slots[j][3] = bits * f, bits * (1.0 - f)
        return row0

    def spill_out(self, j: int, rows: np.ndarray) -> None:
        lp = self.lp
        g, _, buf, dram = self.pools.spill[j]
        if g >= 0 and (buf > 0 or dram > 0):
            pairs = self.group_lanes(int(g))
            vals = self.read_lanes(lp.home, j * lp.sp_rows, lp.v_rows,
                                   [ln for ln, _ in pairs], lp.v_bits, count=True)
            for (_, n), v in zip(pairs, vals, strict=True):
                self.stream[n] = v
            charge(rows[lp.home], 1.0, buf, read=False)
            charge(rows[lp.home], 0.0, dram, read=False)
        self.pools.spill[j] = [-1, -1, 0.0, 0.0]

    def flush(self, rows: np.ndarray) -> None:
        """Empty both pools: membranes are written back."""
        for key in list(self.pools.recent):
            self._drop(key, rows)
        for j in range(len(self.pools.spill)):
            self.spill_out(j, rows)

    def run_unit(self, q: int, block: int, cg: int, key: int, clock: int,
                 rows: np.ndarray) -> int:
        """One unit on its macro; returns the macro."""
        lp = self.lp
        g = stationary_group(lp, q, block, cg)
        spilled = lp.stat_macro[g] < 0
        m = lp.home if spilled else int(lp.stat_macro[g])
        lanes = unit_lanes(lp, q, block, cg)
        spill_row = self.spill_in(g, clock, rows) if spilled else -1
        s_row = self.stream_in(key, m, lanes, rows)
        if lp.ws:
            w_row0, v_row0 = (spill_row if spilled else int(lp.stat_row[g])), s_row
        else:
            w_row0, v_row0 = s_row, (spill_row if spilled else int(lp.stat_row[g]))
        self._add(m, lanes, v_row0, w_row0)
        rows[m, F["units"]] += 1
        for ln in lanes:
            self.touched.add(self.neuron_group[ln.neuron])
        if not self.reuse:
            self.flush(rows)
        return m

    def _add(self, m: int, lanes: list[Lane], v_row0: int, w_row0: int) -> None:
        lp = self.lp
        mac = self.macros[m]
        order = sorted(lanes, key=lambda ln: ln.lane)
        ids = [ln.lane for ln in order]
        ovf = np.zeros(len(ids), dtype=np.int8)
        for k in range(lp.v_rows):
            width = lp.cols if k < lp.v_rows - 1 else lp.v_bits - (lp.v_rows - 1) * lp.cols
            _configure(mac, ids, lp.cols, width)
            ovf = mac.row_op(v_row0 + k, w_row0 + k if k < lp.w_rows else None,
                             first_segment=k == 0, last_segment=k == lp.v_rows - 1)
        for ln, d in zip(order, ovf.tolist(), strict=True):
            self.wraps[ln.neuron] = self.wraps.get(ln.neuron, 0) + int(d)

    # ---------------------------------------------------------------- compare and reset
    def _compare_group(self, neuron: int) -> int:
        lp = self.lp
        npos = lp.geo.out_positions
        ch, pos = divmod(neuron, npos)
        if lp.ws:
            return pos * lp.n_cg + ch // lp.channels_per_group
        oy, ox = divmod(pos, lp.geo.out_hw[1])
        return ((oy * lp.n_blocks) + ox // lp.pack) * lp.n_cg + ch // lp.channels_per_group

    def group_neurons(self, g: int) -> list[tuple[int, int]]:
        """(lane, neuron) of compare group g."""
        lp = self.lp
        if not lp.ws:
            return self.group_lanes(g)
        pos, cg = divmod(g, lp.n_cg)
        c0 = cg * lp.channels_per_group
        c1 = min(lp.geo.out_channels, c0 + lp.channels_per_group)
        return [(ch - c0, ch * lp.geo.out_positions + pos) for ch in range(c0, c1)]

    def membranes(self) -> np.ndarray:
        """Every membrane, read without counting (statistics and final state)."""
        lp = self.lp
        v = np.zeros(lp.n_neurons, dtype=np.int64)
        for g in range(compare_groups(lp)):
            pairs = self.group_neurons(g)
            if not lp.ws and lp.stat_macro[g] >= 0:
                vals = self.read_lanes(int(lp.stat_macro[g]), int(lp.stat_row[g]), lp.v_rows,
                                       [ln for ln, _ in pairs], lp.v_bits, count=False)
            else:
                vals = [self.stream[n] for _, n in pairs]
            for (_, n), val in zip(pairs, vals, strict=True):
                v[n] = val
        return v

    def fire(self, t: int, rows: np.ndarray, out: np.ndarray) -> None:
        """Compare the (active) groups with the threshold, write spikes into ``out`` and reset."""
        lp = self.lp
        active = self.hw.system.controller.compare == "all" or t == 0
        spiked: set[int] = set()
        for g in range(compare_groups(lp)):
            if not (active or g in self.touched or g in self.spiked_prev):
                continue
            pairs = self.group_neurons(g)
            resident = not lp.ws and lp.stat_macro[g] >= 0
            if resident:
                m = int(lp.stat_macro[g])
                vals = self.read_lanes(m, int(lp.stat_row[g]), lp.v_rows,
                                       [ln for ln, _ in pairs], lp.v_bits, count=False)
                rows[m, F["compare_row_reads"]] += lp.v_rows
            else:
                level = float(lp.stat_buffered[g] if not lp.ws else lp.mem_buffered[g])
                vals = [self.stream[n] for _, n in pairs]
                charge(rows[lp.home], level, len(pairs) * lp.v_bits, read=True)
            reset = []
            for (lane, n), val in zip(pairs, vals, strict=True):
                if val >= lp.threshold:
                    out[n] = 1
                    new = 0 if lp.reset_zero else val - lp.threshold
                    reset.append((lane, n, new))
            if not reset:
                continue
            spiked.add(g)
            if resident:
                self.write_lanes(m, int(lp.stat_row[g]), lp.v_rows,
                                 [(lane, new) for lane, _, new in reset], lp.v_bits)
            else:
                for _, n, new in reset:
                    self.stream[n] = new
                charge(rows[lp.home], level, len(reset) * lp.v_bits, read=False)
        self.spiked_prev = spiked
        self.touched = set()

    def init(self, rows: np.ndarray) -> None:
        """Set every membrane to its initial value (resident rows written, the rest stored)."""
        lp = self.lp
        for g in range(compare_groups(lp)):
            pairs = self.group_neurons(g)
            if not lp.ws and lp.stat_macro[g] >= 0:
                self.write_lanes(int(lp.stat_macro[g]), int(lp.stat_row[g]), lp.v_rows,
                                 [(lane, int(lp.initial[n])) for lane, n in pairs], lp.v_bits)
            else:
                for _, n in pairs:
                    self.stream[n] = int(lp.initial[n])
        _charge_init(lp, rows)


def leak_phase(ex: _Exec, rows: np.ndarray) -> None:
    """Leak every membrane row group of a leaky layer in the arrays (docs/macro.md "Leak"):
    resident groups in place, the others brought into the home macro's scratch rows from their
    memory level, leaked there and stored back."""
    lp = ex.lp
    if lp.leak is None:
        return
    op_rows = leak_operand_rows(lp)
    for g in range(compare_groups(lp)):
        pairs = ex.group_neurons(g)
        starts = [lane * lp.cols for lane, _ in pairs]
        leak = dict(kind=lp.leak.kind, amount=lp.leak.amount, v_bits=lp.v_bits, cols=lp.cols,
                    starts=starts, operand_rows=op_rows)
        if not lp.ws and lp.stat_macro[g] >= 0:
            leak_row_group(ex.macros[int(lp.stat_macro[g])], membrane_row=int(lp.stat_row[g]),
                           scratch_row=0, **leak)
            continue
        level = float(lp.stat_buffered[g] if not lp.ws else lp.mem_buffered[g])
        bits = len(pairs) * lp.v_bits
        charge(rows[lp.home], level, bits, read=True)
        ex.write_lanes(lp.home, 0, lp.v_rows, [(lane, ex.stream[n]) for lane, n in pairs],
                       lp.v_bits)
        leak_row_group(ex.macros[lp.home], membrane_row=0, scratch_row=lp.v_rows, **leak)
        values = ex.read_lanes(lp.home, 0, lp.v_rows, [lane for lane, _ in pairs], lp.v_bits,
                               count=True)
        for (_, n), v in zip(pairs, values, strict=True):
            ex.stream[n] = v
        charge(rows[lp.home], level, bits, read=False)


def _charge_init(lp: LayerProgram, rows: np.ndarray) -> None:
    """Memory writes of the initial membranes kept outside the arrays (on the home macro)."""
    if not lp.ws:
        for g in np.flatnonzero(lp.stat_macro < 0):
            charge(rows[lp.home], float(lp.stat_buffered[g]), float(lp.stat_bits[g]), False)
        return
    for g in range(lp.mem_bits.size):
        cg = g % lp.n_cg
        chans = min(lp.channels_per_group, lp.geo.out_channels - cg * lp.channels_per_group)
        charge(rows[lp.home], float(lp.mem_buffered[g]), chans * lp.v_bits, False)


def _take_counters(macros: list[Macro], rows: np.ndarray) -> None:
    """Add each macro's counters since the last call to its count row, then clear them."""
    for m, mac in enumerate(macros):
        c = mac.counters
        p = mac.spec.phases_per_add
        rows[m, F["row_ops"]] += c.row_ops
        rows[m, F["active_col_ops"]] += c.active_col_phases / p
        rows[m, F["standby_col_ops"]] += c.standby_col_phases / p
        rows[m, F["array_row_writes"]] += c.row_writes
        rows[m, F["array_row_reads"]] += c.row_reads
        rows[m, F["sops"]] += c.sops
        mac.reset_counters()


def _integrate(ex: _Exec, x_t: np.ndarray, src: np.ndarray, rows: np.ndarray) -> None:
    """The integrate phase of one timestep: units in schedule order, routing counted."""
    lp = ex.lp
    units: list[tuple[int, int, int, int]] = []
    n_ev = 0
    for q in np.flatnonzero(x_t).tolist():
        for _ in range(int(x_t[q])):
            ev = event_units(lp, q)
            dests = set()
            for b, cg, key in ev:
                g = stationary_group(lp, q, b, cg)
                dests.add(int(lp.stat_macro[g]) if lp.stat_macro[g] >= 0 else lp.home)
                units.append((q, b, cg, key))
            for m in dests:
                if m != int(src[q]):
                    rows[m, F["routed_events"]] += 1
            n_ev += 1
    if ex.hw.system.controller.event_order == "target":
        # resident units by streamed key, then spilled units group by group (stable)
        def order(u: tuple[int, int, int, int]) -> int:
            g = stationary_group(lp, u[0], u[1], u[2])
            return u[3] if lp.stat_macro[g] >= 0 else (g + 1) * lp.keyspace + u[3]

        units.sort(key=order)
    for clock, (q, b, cg, key) in enumerate(units):
        ex.run_unit(q, b, cg, key, clock, rows)
    ex.flush(rows)


def _run_layer(ex: _Exec, x: np.ndarray, srcs: np.ndarray, counts: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One layer of one sample over all timesteps; returns (spikes [T, neurons], stats
    [T, 5] as the fast mode, final membranes)."""
    n_t = x.shape[0]
    macros = ex.macros
    out = np.zeros((n_t, ex.lp.n_neurons), dtype=np.uint8)
    stats = np.zeros((n_t, 5), dtype=np.int64)
    for t in range(n_t):
        rows = counts[t]
        if t == 0:
            ex.init(rows[P_INIT])
            _take_counters(macros, rows[P_INIT])
        leak_phase(ex, rows[P_LEAK])
        _take_counters(macros, rows[P_LEAK])
        _integrate(ex, x[t], srcs[t % srcs.shape[0]], rows[P_INTEGRATE])
        _take_counters(macros, rows[P_INTEGRATE])
        v = ex.membranes()
        stats[t, 0] = int(rows[P_INTEGRATE, :, F["sops"]].sum())
        stats[t, 2] = sum(1 for d in ex.wraps.values() if d != 0)
        stats[t, 3], stats[t, 4] = int(v.min()), int(v.max())
        ex.wraps = {}
        ex.fire(t, rows[P_FIRE], out[t])
        _take_counters(macros, rows[P_FIRE])
        stats[t, 1] = int(out[t].sum())
    return out, stats, ex.membranes()


def run_batch_bitlevel(net: IntNetwork, prog: Program, hw: Hardware, spikes: np.ndarray,
                       return_membranes: bool) -> tuple[Any, np.ndarray]:
    """One batch ``[T, N, ...]`` sample by sample on fresh macros; returns (BatchStats, counts
    ``[N, T, layers, phases, macros, fields]``)."""
    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    steps, samples = new_tallies(len(net.layers), n_t, n)
    counts = np.zeros((n, n_t, len(prog.layers), len(PHASES), prog.n_macros, len(COUNT_FIELDS)))
    finals: list[list[np.ndarray]] = [[] for _ in prog.layers]
    output = np.zeros((n, net.n_classes), dtype=np.int64)
    vmin = np.full((len(net.layers), n_t), np.iinfo(np.int64).max, dtype=np.int64)
    vmax = np.full((len(net.layers), n_t), np.iinfo(np.int64).min, dtype=np.int64)
    for s in range(n):
        macros = [Macro(hw.macro) for _ in range(prog.n_macros)]
        execs = [_Exec(lp, prog, hw, macros) for lp in prog.layers]
        for ex in execs:
            ex.load_resident()
        x = np.asarray(spikes[:, s], dtype=np.int64).reshape(n_t, 1, -1)
        srcs = np.full((1, 1, x.shape[2]), -1, dtype=np.int64)
        k = 0
        for li, layer in enumerate(net.layers):
            per = x[:, 0].sum(axis=1, dtype=np.int64)
            steps["inputs"][li] += per
            samples["inputs"][s, li] = per.sum()
            if isinstance(layer, SpikingLayer):
                out, st, final = _run_layer(execs[k], x[:, 0], srcs[:, 0], counts[s, :, k])
                steps["sops"][li] += st[:, 0]
                samples["sops"][s, li] = st[:, 0].sum()
                steps["overflow"][li] += st[:, 2]
                vmin[li] = np.minimum(vmin[li], st[:, 3])
                vmax[li] = np.maximum(vmax[li], st[:, 4])
                finals[k].append(final.reshape(net.shapes[li][1]))
                x = out.reshape(n_t, 1, -1)
                srcs = execs[k].lp.neuron_macro.reshape(1, 1, -1)
                k += 1
            else:
                x, srcs = passive(layer, x, srcs, net.shapes[li][0])
            spk = x[:, 0].sum(axis=1, dtype=np.int64)
            steps["spikes"][li] += spk
            samples["spikes"][s, li] = spk.sum()
        output[s] = x[:, 0].sum(axis=0, dtype=np.int64)
    spiking = [i for i, layer in enumerate(net.layers) if isinstance(layer, SpikingLayer)]
    for li in spiking:
        steps["vmin"][li], steps["vmax"][li] = vmin[li], vmax[li]
    fin = [np.stack(f) for f in finals] if return_membranes else None
    return batch_stats(output, steps, samples, fin), counts

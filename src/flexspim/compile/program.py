"""A mapping is a program: what each macro's controller needs to execute it
(docs/system-model.md). Used by the system engine and by the analytic estimator.

:func:`build_program` checks that the mapping belongs to the network and the hardware, checks
the capacities it relies on (scratch rows, rows per macro, the buffer when DRAM is off), and
builds one :class:`LayerProgram` per spiking layer: the layer as a convolution, and lookup
tables from every row group to where it lives (macro and first row for resident groups; for the
others the fraction of their bits in the buffer, the rest in DRAM: a group at the buffer's edge
may be split between the two).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexspim.compile.geometry import (
    LayerGeometry,
    Option,
    OptionGeometry,
    Stationary,
    layer_geometry,
    option_geometry,
)
from flexspim.compile.groups import (
    buffer_fractions,
    memory_group_bits,
    select_groups,
    stationary_group_bits,
)
from flexspim.compile.mapping import LayerMapping, Mapping
from flexspim.compile.rules import (
    BITS_PER_KIB,
    hardware_matches,
    mapping_matches,
)
from flexspim.energy.counts import COUNT_FIELDS
from flexspim.errors import MappingError
from flexspim.hw import Hardware
from flexspim.macro.leak import leak_operand_bits
from flexspim.net.layers import Leak, SpikingLayer
from flexspim.net.network import IntNetwork


@dataclass(frozen=True, eq=False)
class LayerProgram:
    """One spiking layer as executed on the macros (all arrays int64).

    The layer is a convolution ``[c_in, h, w] -> [c_out, oh, ow]`` (a linear layer is 1 x 1);
    ``weight`` is ``[c_out, c_in, kh, kw]``; membranes are numbered C-order over
    ``[c_out, oh, ow]``. ``stationary`` is the operand kept in the arrays (``ws``: it is the weights).

    - ``stat_macro[g]``: macro of stationary group g, -1 when spilled; ``stat_row[g]``: its first
      row there; ``stat_buffered[g]``: fraction of a spilled group's bits in the buffer (the
      rest in DRAM); ``stat_bits[g]``: bits of the operands it holds.
    - ``mem_buffered[k]``: fraction of memory group k of the streamed operand in the buffer;
      ``mem_bits[k]``: its bits.
    - ``home``: macro that runs spilled groups and compares membranes kept outside the arrays.
    - ``neuron_macro[n]``: where neuron n's spikes start from (the macro holding its membrane,
      else ``home``).
    - The scratch pools (:func:`scratch_layout`): ``slot_rows[m, i]`` is the first row of
      streamed slot i of macro m (-1 past the macro's ``cap[m]`` slots), ``s_rows`` rows each;
      the home macro's ``k_spill`` spill slots start at rows ``j * sp_rows``; ``keyspace``
      streamed slice keys exist.
    """

    name: str
    index: int
    geo: LayerGeometry
    weight: np.ndarray
    threshold: int
    reset_zero: bool
    initial: np.ndarray
    stationary: Stationary
    cols: int
    pack: int
    lanes: int
    n_cg: int
    channels_per_group: int
    n_blocks: int
    v_rows: int
    w_rows: int
    stat_macro: np.ndarray
    stat_row: np.ndarray
    stat_buffered: np.ndarray
    stat_bits: np.ndarray
    mem_buffered: np.ndarray
    mem_bits: np.ndarray
    home: int
    neuron_macro: np.ndarray
    slot_rows: np.ndarray
    s_rows: int
    sp_rows: int
    k_spill: int
    keyspace: int
    leak: Leak | None = None

    @property
    def ws(self) -> bool:
        """Whether the weights are the stationary operand (WS; else OS)."""
        return self.stationary == "weights"

    @property
    def cap(self) -> np.ndarray:
        """Streamed slots per macro."""
        return (self.slot_rows >= 0).sum(axis=1).astype(np.int64)

    @property
    def v_bits(self) -> int:
        return self.geo.v_bits

    @property
    def w_bits(self) -> int:
        return self.geo.w_bits

    @property
    def n_neurons(self) -> int:
        return self.geo.n_neurons

    def cg_channels(self, cg: int) -> int:
        """Output channels in channel group ``cg`` (the last one may be partial)."""
        return min(self.channels_per_group, self.geo.out_channels - cg * self.channels_per_group)


@dataclass(frozen=True, eq=False)
class Program:
    """Every spiking layer's :class:`LayerProgram` (in network order) and the system it runs on."""

    layers: tuple[LayerProgram, ...]
    n_macros: int
    macro_rows: int
    macro_cols: int
    scratch_rows: int
    policy: str


def check_mapping(net: IntNetwork, mapping: Mapping, hw: Hardware) -> None:
    """Raise MappingError unless ``mapping`` was compiled for ``net`` on ``hw`` (rules
    ``network-match`` and ``hardware-match``)."""
    expected = [(lay.name, lay.n_weights, int(np.prod(net.shapes[i][1])), lay.w_bits,
                 lay.v_bits) for i, lay in enumerate(net.layers) if isinstance(lay, SpikingLayer)]
    actual = [(lm.name, lm.n_weights, lm.n_neurons, lm.w_bits, lm.v_bits)
              for lm in mapping.layers]
    mapping_matches(expected, actual, f"mapping for network '{mapping.network}'")
    hardware_matches(mapping.rows, mapping.cols, mapping.n_macros, hw,
                     f"mapping for network '{mapping.network}'")


def scratch_slots(hw: Hardware) -> int:
    """Slices of each operand kind the reserved scratch rows hold (1 under ``auto``)."""
    k = hw.system.controller.scratch_slices
    return 1 if k == "auto" else int(k)


def _check_rows(mapping: Mapping, hw: Hardware) -> None:
    """Rules ``scratch-rows`` and ``macro-rows``: every layer's streamed operands fit the
    scratch rows; tiles lie below the scratch rows, inside the macro, hold whole groups and
    never share a row (two layers' resident operands in one row would overwrite each other)."""
    placed: list[list[tuple[int, int, str]]] = [[] for _ in range(mapping.n_macros)]
    for lm in mapping.layers:
        need = scratch_slots(hw) * (lm.weight_shape[0] + lm.membrane_shape[0])
        if need > mapping.scratch_rows:
            raise MappingError("scratch-rows", f"layer '{lm.name}': {scratch_slots(hw)} "
                               f"streamed weight(s) and membrane(s) need {need} scratch rows, "
                               f"the mapping reserves {mapping.scratch_rows}; recompile the "
                               f"mapping for this hardware")
        for t in lm.tiles:
            if t.row_start < mapping.scratch_rows or t.rows != t.groups * lm.rows_per_group:
                raise MappingError("macro-rows", f"layer '{lm.name}': tile {t} overlaps the "
                                   f"scratch rows or does not hold {t.groups} groups of "
                                   f"{lm.rows_per_group} rows; recompile the mapping")
            if t.row_stop > mapping.rows:
                raise MappingError("macro-rows", f"layer '{lm.name}': tile {t} ends past the "
                                   f"last row of a {mapping.rows}-row macro; recompile the "
                                   f"mapping")
            for start, stop, other in placed[t.macro]:
                if t.row_start < stop and start < t.row_stop:
                    raise MappingError("macro-rows", f"layer '{lm.name}': tile {t} shares "
                                       f"rows with layer '{other}' (rows [{start}, {stop}) of "
                                       f"macro {t.macro}); recompile the mapping")
            placed[t.macro].append((t.row_start, t.row_stop, lm.name))


def _check_capacity(mapping: Mapping, hw: Hardware) -> None:
    """Rules ``scratch-rows``, ``macro-rows`` and ``buffer-capacity`` on a loaded mapping."""
    _check_rows(mapping, hw)
    if not hw.system.dram.enabled:
        held = sum(lm.streamed_bits - lm.streamed_buffer_bits + lm.spilled_dram_bits
                   for lm in mapping.layers)
        if held > 0.5:
            raise MappingError("buffer-capacity", f"the mapping keeps {held:.0f} bits in DRAM "
                               f"but DRAM is disabled in the hardware; recompile the mapping")
    buffered = sum(lm.streamed_buffer_bits + lm.spilled_buffer_bits for lm in mapping.layers)
    if buffered > hw.system.buffer_kib * BITS_PER_KIB + 0.5:
        raise MappingError("buffer-capacity", f"the mapping keeps {buffered / BITS_PER_KIB:.1f} "
                           f"KiB in the buffer, the hardware has {hw.system.buffer_kib:g} KiB; "
                           f"recompile the mapping for this hardware")


def _stationary_tables(lm: LayerMapping, bits: np.ndarray, rows_per_group: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(macro, first row, buffered fraction) of every stationary group of ``lm``, whose groups
    hold ``bits`` each (:func:`~flexspim.compile.groups.select_groups` chooses them)."""
    macro = np.full(bits.size, -1, dtype=np.int64)
    row = np.full(bits.size, -1, dtype=np.int64)
    frac = np.zeros(bits.size)
    resident = np.flatnonzero(select_groups(bits, lm.resident_groups))
    k = 0
    for t in lm.tiles:
        idx = resident[k:k + t.groups]
        macro[idx] = t.macro
        row[idx] = t.row_start + rows_per_group * np.arange(t.groups)
        k += t.groups
    spilled = np.flatnonzero(macro < 0)
    frac[spilled] = buffer_fractions(bits[spilled], lm.spilled_buffer_bits)
    return macro, row, frac


def _check_bits(lm: LayerMapping, stat_bits: np.ndarray, macro: np.ndarray,
                stat_buffered: np.ndarray, mem_bits: np.ndarray, mem_buffered: np.ndarray
                ) -> None:
    """Rule ``network-match``: the bits the mapping records are those its groups hold."""
    spilled = macro < 0
    held = (int(stat_bits[~spilled].sum()), int(round(float(mem_bits @ mem_buffered))),
            int(round(float(stat_bits[spilled] @ stat_buffered[spilled]))))
    recorded = (lm.resident_bits, lm.streamed_buffer_bits, lm.spilled_buffer_bits)
    if held != recorded:
        raise MappingError("network-match", f"layer '{lm.name}': the mapping records "
                           f"(resident, streamed in buffer, spilled in buffer) = {recorded} bits, "
                           f"its groups hold {held}; recompile the mapping")


def _neuron_macro(geo: LayerGeometry, stat_macro: np.ndarray, stationary: Stationary, pack: int,
                  n_cg: int, cpg: int, n_blocks: int, home: int) -> np.ndarray:
    """Macro each neuron's spikes leave from (its membrane's macro under OS, else home)."""
    n = geo.n_neurons
    if stationary == "weights":
        return np.full(n, home, dtype=np.int64)
    ch, pos = np.divmod(np.arange(n), geo.out_positions)
    oy, ox = np.divmod(pos, geo.out_hw[1])
    g = ((oy * n_blocks) + ox // pack) * n_cg + ch // cpg
    m = stat_macro[g]
    return np.where(m >= 0, m, home).astype(np.int64)


def slice_keyspace(geo: LayerGeometry, og: OptionGeometry) -> int:
    """How many streamed slice keys a layer has (docs/system-model.md §Scratch pools): memory
    groups without packing; with packing, (event position, tap block) under WS and (input
    channel, kernel row, column offset, partial block) under OS, times the channel groups."""
    if og.pack == 1:
        return og.memory_groups
    if og.option.stationary == "weights":
        return geo.in_hw[0] * geo.in_hw[1] * og.n_blocks * og.n_cg
    span = geo.kernel[1] + (og.pack - 1) * geo.stride[1]
    return geo.in_channels * geo.kernel[0] * span * 2 * og.n_cg


def macro_rows_used(mapping: Mapping) -> np.ndarray:
    """Per macro, the first row past the reserved scratch rows and every resident tile."""
    used = np.full(mapping.n_macros, mapping.scratch_rows, dtype=np.int64)
    for lm in mapping.layers:
        for t in lm.tiles:
            used[t.macro] = max(used[t.macro], t.row_stop)
    return used


def scratch_layout(og: OptionGeometry, mapping: Mapping, hw: Hardware, used: np.ndarray
                   ) -> tuple[np.ndarray, int, int, int]:
    """The layer's scratch pools: (first row of every streamed slot ``[macros, slots]``, -1
    padded; rows per streamed slot; rows per spill slot; spill slots).

    ``scratch_slices = k``: the reserved rows hold k spill slots, then k streamed slots.
    ``auto``: one spill slot, streamed slots in the rest of the reserved rows, and more streamed
    slots in every row past the macro's last tile (``used``)."""
    ws = og.option.stationary == "weights"
    s_rows, sp_rows = (og.v_rows, og.w_rows) if ws else (og.w_rows, og.v_rows)
    k = hw.system.controller.scratch_slices
    n, rows = mapping.n_macros, mapping.rows
    starts: list[list[int]] = []
    for m in range(n):
        if k != "auto":
            starts.append([int(k) * sp_rows + i * s_rows for i in range(int(k))])
            continue
        first = list(range(sp_rows, mapping.scratch_rows - s_rows + 1, s_rows))
        free = list(range(int(used[m]), rows - s_rows + 1, s_rows))
        starts.append(first + free)
    width = max(len(a) for a in starts)
    table = np.full((n, width), -1, dtype=np.int64)
    for m, a in enumerate(starts):
        table[m, :len(a)] = a
    return table, s_rows, sp_rows, 1 if k == "auto" else int(k)


def layer_program(net: IntNetwork, lm: LayerMapping, hw: Hardware,
                  mapping: Mapping) -> LayerProgram:
    """The :class:`LayerProgram` of one layer of ``mapping``."""
    geo = layer_geometry(net, lm.index)
    og = option_geometry(geo, Option(lm.stationary, lm.cols, lm.pack), hw)
    if (og.groups, og.rows_per_group, og.memory_groups) != \
            (lm.groups, lm.rows_per_group, lm.memory_groups):
        raise MappingError("network-match", f"layer '{lm.name}': the mapping's groups do not "
                           f"match the layer's shape; recompile the mapping")
    layer = net.layers[lm.index]
    weight = np.asarray(layer.weight, dtype=np.int64)
    weight = weight.reshape(geo.out_channels, geo.in_channels, *geo.kernel)
    stat_bits, mem_bits = stationary_group_bits(geo, og), memory_group_bits(geo, og)
    macro, row, stat_buffered = _stationary_tables(lm, stat_bits, og.rows_per_group)
    mem_buffered = buffer_fractions(mem_bits, lm.streamed_buffer_bits)
    _check_bits(lm, stat_bits, macro, stat_buffered, mem_bits, mem_buffered)
    init = layer.initial_membrane
    initial = (np.zeros(geo.n_neurons, dtype=np.int64) if init is None
               else np.asarray(init, dtype=np.int64).reshape(-1))
    slots, s_rows, sp_rows, k_spill = scratch_layout(og, mapping, hw, macro_rows_used(mapping))
    need = leak_scratch_rows(layer.leak, geo.v_bits, lm.cols)
    if need > mapping.scratch_rows:
        raise MappingError("scratch-rows", f"layer '{lm.name}': leaking a membrane row group "
                           f"outside the arrays needs {need} scratch rows, the mapping reserves "
                           f"{mapping.scratch_rows}; recompile the mapping for this network")
    return LayerProgram(
        name=lm.name, index=lm.index, geo=geo, weight=np.ascontiguousarray(weight),
        threshold=int(layer.threshold), reset_zero=layer.reset == "zero", initial=initial,
        stationary=lm.stationary, cols=lm.cols, pack=lm.pack, lanes=og.lanes, n_cg=og.n_cg,
        channels_per_group=og.channels_per_group, n_blocks=og.n_blocks, v_rows=og.v_rows,
        w_rows=og.w_rows, stat_macro=macro, stat_row=row, stat_buffered=stat_buffered,
        stat_bits=stat_bits, mem_buffered=mem_buffered, mem_bits=mem_bits,
        home=lm.home_macro,
        neuron_macro=_neuron_macro(geo, macro, lm.stationary, lm.pack, og.n_cg, og.channels_per_group,
                                   og.n_blocks, lm.home_macro),
        slot_rows=slots, s_rows=s_rows, sp_rows=sp_rows, k_spill=k_spill,
        keyspace=slice_keyspace(geo, og), leak=layer.leak)



def build_program(net: IntNetwork, mapping: Mapping, hw: Hardware) -> Program:
    """Check ``mapping`` against ``net`` and ``hw`` and build its :class:`Program`."""
    check_mapping(net, mapping, hw)
    _check_capacity(mapping, hw)
    layers = tuple(layer_program(net, lm, hw, mapping) for lm in mapping.layers)
    return Program(layers, mapping.n_macros, mapping.rows, mapping.cols, mapping.scratch_rows,
                   mapping.policy)


def compare_groups(lp: LayerProgram) -> int:
    """Groups the threshold compare works on: stationary groups (OS) or memory groups (WS)."""
    return int(lp.stat_macro.size if not lp.ws else lp.mem_bits.size)


def init_counts(lp: LayerProgram, n_macros: int) -> np.ndarray:
    """``[macros, fields]`` of setting the layer's membranes to their initial values at the start
    of an inference: resident membrane rows are written in the array, the others in memory."""
    out = np.zeros((n_macros, len(COUNT_FIELDS)))
    f = {name: i for i, name in enumerate(COUNT_FIELDS)}
    if not lp.ws:
        res = lp.stat_macro >= 0
        np.add.at(out[:, f["array_row_writes"]], lp.stat_macro[res], lp.v_rows)
        bits, buf = lp.stat_bits[~res].astype(np.float64), lp.stat_buffered[~res]
    else:
        bits, buf = lp.mem_bits.astype(np.float64), lp.mem_buffered
    out[lp.home, f["buffer_write_bits"]] += float(bits @ buf)
    out[lp.home, f["dram_write_bits"]] += float(bits @ (1.0 - buf))
    return out


def leak_scratch_rows(leak: Leak | None, v_bits: int, cols: int) -> int:
    """Scratch rows a leaky layer needs: a membrane row group (``v_rows``) and the leak's
    operand beside it (0 without a leak)."""
    if leak is None:
        return 0
    return -(-v_bits // cols) + -(-leak_operand_bits(leak.kind, leak.amount, v_bits) // cols)


def leak_operand_rows(lp: LayerProgram) -> int:
    """Scratch rows of a leak's operand ``-t``: as few as its bits need (docs/macro.md)."""
    if lp.leak is None:
        return 0
    return -(-leak_operand_bits(lp.leak.kind, lp.leak.amount, lp.v_bits) // lp.cols)


def group_lanes(lp: LayerProgram) -> np.ndarray:
    """Neurons of every compare group: membrane row groups (OS), memory groups (WS)."""
    if lp.ws:
        cg = np.arange(lp.mem_bits.size) % lp.n_cg
        return np.minimum(lp.channels_per_group, lp.geo.out_channels - cg * lp.channels_per_group)
    return lp.stat_bits // lp.v_bits


def leak_counts(lp: LayerProgram, n_macros: int, macro_cols: int) -> np.ndarray:
    """``[macros, fields]`` of one timestep's leak of a leaky layer (zeros without a leak).

    Every membrane row group is leaked in the array (docs/macro.md "Leak"): ``v_rows`` rows
    read, the operand ``-t`` written into ``operand_rows`` scratch rows, ``v_rows`` row
    operations of the group's lanes. A resident group (OS) is leaked in place on its macro; a
    group outside the arrays (WS, or spilled) is brought into the home macro's scratch rows from
    its memory level and stored back after (``v_rows`` row writes and reads, its bits read and
    written)."""
    out = np.zeros((n_macros, len(COUNT_FIELDS)))
    if lp.leak is None:
        return out
    f = {name: i for i, name in enumerate(COUNT_FIELDS)}
    lanes = group_lanes(lp).astype(np.float64)
    if not lp.ws:
        where = np.where(lp.stat_macro >= 0, lp.stat_macro, lp.home)
        buf, bits, outside = lp.stat_buffered, lp.stat_bits, lp.stat_macro < 0
    else:
        where = np.full(lanes.size, lp.home)
        buf, bits, outside = lp.mem_buffered, lp.mem_bits, np.ones(lanes.size, dtype=bool)
    v_rows = lp.v_rows
    per = np.zeros((lanes.size, len(COUNT_FIELDS)))
    per[:, f["row_ops"]] = v_rows
    per[:, f["active_col_ops"]] = lanes * lp.v_bits
    per[:, f["standby_col_ops"]] = v_rows * macro_cols - lanes * lp.v_bits
    per[:, f["array_row_reads"]] = v_rows + outside * v_rows
    per[:, f["array_row_writes"]] = leak_operand_rows(lp) + outside * v_rows
    for name, share in (("buffer", buf), ("dram", 1.0 - buf)):
        moved = outside * bits * share
        per[:, f[f"{name}_read_bits"]] = moved
        per[:, f[f"{name}_write_bits"]] = moved
    np.add.at(out, where, per)
    return out

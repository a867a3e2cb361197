"""The mapping-aware work model: what a mapped layer does per run, in countable units, and what
each unit costs (docs/system-model.md). One model serves three users: the ``optimal`` search
(:mod:`flexspim.compile.policies`), the simulator's per-macro counts (:mod:`flexspim.sim.system`)
and the cost report (:mod:`flexspim.energy.system`).

Per spiking layer, with ``S`` SOPs, ``E`` input events, ``O`` output spikes, ``N`` neurons,
``T`` timesteps, ``n`` samples, resident fraction ``r`` of the stationary operand (Fig. 4):

- row operations ``S / out_channels * ceil(out_channels / lanes) * v_rows`` (all lanes of one
  output position update in parallel, one row operation per membrane row segment), active
  column-operations ``S * cols * v_rows``, the rest of each row's columns in standby (Fig. 3);
- threshold compares ``N * T * n`` of ``v_bits`` each;
- WS: every SOP reads its membrane from the buffer/DRAM into scratch rows and writes it back
  (``2 v`` bits of array I/O and of memory traffic per SOP), compares read every membrane and
  resets write the spiking ones at the memory level, membranes are initialised there per sample;
  the spilled ``1 - r`` of the weights is read per SOP (``w`` bits) into scratch rows;
- OS: every SOP reads its weight from the buffer/DRAM into scratch rows (``w`` bits); resident
  membranes are compared in place and reset/initialised by array writes; the spilled ``1 - r``
  of the membranes behaves like WS membranes;
- memory traffic of an off-array item is split between buffer and DRAM in proportion to its bits
  held in each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from flexspim.compile.geometry import (
    LayerGeometry,
    Option,
    OptionGeometry,
    layer_geometry,
    option_geometry,
)
from flexspim.compile.mapping import LayerMapping, Mapping
from flexspim.compile.rules import hardware_matches, mapping_matches
from flexspim.energy import ops
from flexspim.hw import Hardware
from flexspim.net.layers import SpikingLayer
from flexspim.net.network import IntNetwork

#: Energy components of a cost report, in order.
COMPONENTS: tuple[str, ...] = ("macro_compute", "array_io", "buffer", "dram", "routing",
                               "leakage")


@dataclass(frozen=True)
class LayerCounts:
    """Work of one spiking layer over a run (all samples), in model units (floats: parts of a
    layer split by its resident fraction are expected values)."""

    layer: str
    sops: float = 0.0
    input_events: float = 0.0
    output_events: float = 0.0
    row_ops: float = 0.0
    active_col_ops: float = 0.0
    standby_col_ops: float = 0.0
    compares: float = 0.0
    compare_bits: float = 0.0
    array_read_bits: float = 0.0
    array_write_bits: float = 0.0
    buffer_read_bits: float = 0.0
    buffer_write_bits: float = 0.0
    dram_read_bits: float = 0.0
    dram_write_bits: float = 0.0
    routed_events: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class MacroCounts:
    """Work done by one macro over a run (the macro's share of each layer's array work)."""

    macro: int
    row_ops: float = 0.0
    active_col_ops: float = 0.0
    standby_col_ops: float = 0.0
    compares: float = 0.0
    array_read_bits: float = 0.0
    array_write_bits: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_MACRO_FIELDS = ("row_ops", "active_col_ops", "standby_col_ops", "compares", "array_read_bits",
                 "array_write_bits")


@dataclass(frozen=True)
class SystemCounts:
    """Counts of a mapped run: per spiking layer, per macro, and per memory level (totals)."""

    policy: str
    n_samples: int
    n_timesteps: int
    n_macros: int
    layers: tuple[LayerCounts, ...]
    macros: tuple[MacroCounts, ...]

    def total(self, name: str) -> float:
        """Sum of count ``name`` over all layers."""
        return float(sum(getattr(lc, name) for lc in self.layers))

    @property
    def levels(self) -> dict[str, dict[str, float]]:
        """Traffic per memory level in bits: ``{"array"|"buffer"|"dram": {"read", "write"}}``."""
        return {lvl: {"read": self.total(f"{lvl}_read_bits"),
                      "write": self.total(f"{lvl}_write_bits")}
                for lvl in ("array", "buffer", "dram")}

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "n_samples": self.n_samples,
                "n_timesteps": self.n_timesteps, "n_macros": self.n_macros,
                "layers": [lc.to_dict() for lc in self.layers],
                "macros": [mc.to_dict() for mc in self.macros], "levels": self.levels}


@dataclass(frozen=True)
class Prices:
    """Energy (pJ) and time (ns) of each counted unit, from the hardware description.

    Macro units come from :mod:`flexspim.energy.ops` (row operation split into its fixed part and
    its per-active and per-standby column parts, row I/O per bit, all voltage-scaled); compare,
    buffer, DRAM, routing and leakage from ``hw.system_energy``/``hw.system``.
    """

    row_pj: float
    active_col_pj: float
    standby_col_pj: float
    read_bit_pj: float
    write_bit_pj: float
    compare_bit_pj: float
    buffer_bit_pj: float
    dram_bit_pj: float
    routing_event_pj: float
    leakage_uw: float
    row_op_ns: float
    cycle_ns: float
    row_bits: int
    buffer_bits_per_cycle: float
    dram_bits_per_ns: float

    @classmethod
    def from_hw(cls, hw: Hardware) -> Prices:
        e0 = ops.row_op_energy_pj(hw, 0, 0)
        se, sys = hw.system_energy, hw.system
        leak = (hw.system.n_macros * ops.leakage_power_uw(hw)
                + sys.buffer_kib * se.buffer_leakage_uw_per_kib)
        return cls(
            row_pj=e0,
            active_col_pj=ops.row_op_energy_pj(hw, 1, 0) - e0,
            standby_col_pj=ops.row_op_energy_pj(hw, 0, 1) - e0,
            read_bit_pj=ops.row_io_energy_pj(hw, read_bits=1),
            write_bit_pj=ops.row_io_energy_pj(hw, write_bits=1),
            compare_bit_pj=se.compare_pj_per_bit * ops.voltage_scale(hw),
            buffer_bit_pj=se.buffer_pj_per_bit,
            dram_bit_pj=sys.dram.pj_per_bit,
            routing_event_pj=se.routing_pj_per_event,
            leakage_uw=leak,
            row_op_ns=ops.row_op_time_ns(hw),
            cycle_ns=1000.0 / hw.clock_mhz,
            row_bits=hw.macro.cols,
            buffer_bits_per_cycle=float(sys.buffer_bits_per_cycle),
            dram_bits_per_ns=sys.dram_gbit_per_s,
        )

    def time_ns(self, c: LayerCounts) -> float:
        """Time of a layer's work, its parts in sequence (docs/system-model.md §Latency)."""
        array_bits = c.array_read_bits + c.array_write_bits + c.compare_bits
        buffer_bits = c.buffer_read_bits + c.buffer_write_bits
        dram_bits = c.dram_read_bits + c.dram_write_bits
        return (c.row_ops * self.row_op_ns + array_bits / self.row_bits * self.cycle_ns
                + buffer_bits / self.buffer_bits_per_cycle * self.cycle_ns
                + dram_bits / self.dram_bits_per_ns)

    def energy_pj(self, c: LayerCounts) -> dict[str, float]:
        """Energy of a layer's work per component (pJ); leakage over the layer's time."""
        return {
            "macro_compute": (c.row_ops * self.row_pj + c.active_col_ops * self.active_col_pj
                              + c.standby_col_ops * self.standby_col_pj
                              + c.compare_bits * self.compare_bit_pj),
            "array_io": c.array_read_bits * self.read_bit_pj
            + c.array_write_bits * self.write_bit_pj,
            "buffer": (c.buffer_read_bits + c.buffer_write_bits) * self.buffer_bit_pj,
            "dram": (c.dram_read_bits + c.dram_write_bits) * self.dram_bit_pj,
            "routing": c.routed_events * self.routing_event_pj,
            "leakage": self.leakage_uw * self.time_ns(c) * 1e-3,
        }

    def total_pj(self, c: LayerCounts) -> float:
        return float(sum(self.energy_pj(c).values()))


@dataclass(frozen=True)
class LayerTotals:
    """Activity of one spiking layer over a run: input events, SOPs and output spikes."""

    input_events: float
    sops: float
    output_events: float


def layer_counts(geo: LayerGeometry, og: OptionGeometry, resident_groups: float,
                 streamed_buffer_bits: float, spilled_buffer_bits: float, act: LayerTotals,
                 n_samples: int, n_timesteps: int, macro_cols: int,
                 routed_events: float = 0.0) -> LayerCounts:
    """Counts of one mapped layer (module docstring); linear in ``resident_groups`` and in the
    buffer bits of its off-array items (the rest of those items is in DRAM)."""
    v, w = geo.v_bits, geo.w_bits
    s, o = act.sops, act.output_events
    r = resident_groups / og.groups if og.groups else 1.0
    row_ops = s / geo.out_channels * og.row_ops_per_position
    active = s * og.option.cols * og.v_rows
    compares = float(geo.n_neurons) * n_timesteps * n_samples
    init_bits = float(geo.n_neurons) * v * n_samples
    # traffic (read, write) of a membrane kept outside the arrays, for all neurons
    mem_read = s * v + compares * v
    mem_write = s * v + o * v + init_bits
    if og.option.stationary == "weights":
        stat_bits, strm_bits = geo.weight_bits, geo.membrane_bits
        strm_rw = (mem_read, mem_write)
        stat_rw = (s * w, 0.0)                      # spilled weights, if fully spilled
        arr_r = s * v
        arr_w = s * v + (1.0 - r) * s * w
    else:
        stat_bits, strm_bits = geo.membrane_bits, geo.weight_bits
        strm_rw = (s * w, 0.0)
        stat_rw = (mem_read, mem_write)             # spilled membranes, if fully spilled
        arr_r = (1.0 - r) * s * v
        arr_w = s * w + (1.0 - r) * s * v + r * (o * v + init_bits)
    spilled = stat_bits * (1.0 - r)
    buf_r = buf_w = dram_r = dram_w = 0.0
    for (rd, wr), full_bits, held, buffered in (
            (strm_rw, strm_bits, float(strm_bits), streamed_buffer_bits),
            (stat_rw, stat_bits, spilled, spilled_buffer_bits)):
        if full_bits <= 0:
            continue
        dr, dw = rd / full_bits, wr / full_bits     # traffic per bit of the item
        buf_r += dr * buffered
        buf_w += dw * buffered
        dram_r += dr * (held - buffered)
        dram_w += dw * (held - buffered)
    return LayerCounts(
        layer=geo.name, sops=s, input_events=act.input_events, output_events=o, row_ops=row_ops,
        active_col_ops=active, standby_col_ops=row_ops * macro_cols - active, compares=compares,
        compare_bits=compares * v, array_read_bits=arr_r, array_write_bits=arr_w,
        buffer_read_bits=buf_r, buffer_write_bits=buf_w, dram_read_bits=dram_r,
        dram_write_bits=dram_w, routed_events=routed_events)


def layer_option_geometry(lm: LayerMapping, geo: LayerGeometry, hw: Hardware) -> OptionGeometry:
    """The :class:`OptionGeometry` a :class:`LayerMapping` was compiled with."""
    return option_geometry(geo, Option(lm.stationary, lm.cols), hw)


def check_mapping(net: IntNetwork, mapping: Mapping, hw: Hardware) -> None:
    """Raise MappingError unless ``mapping`` was compiled for ``net`` on ``hw``."""
    expected = [(lay.name, lay.n_weights, _neurons(net, i), lay.w_bits, lay.v_bits)
                for i, lay in enumerate(net.layers) if isinstance(lay, SpikingLayer)]
    actual = [(lm.name, lm.n_weights, lm.n_neurons, lm.w_bits, lm.v_bits)
              for lm in mapping.layers]
    mapping_matches(expected, actual, f"mapping for network '{mapping.network}'")
    hardware_matches(mapping.rows, mapping.cols, mapping.n_macros, hw,
                     f"mapping for network '{mapping.network}'")


def _neurons(net: IntNetwork, index: int) -> int:
    return int(math.prod(net.shapes[index][1]))


def routed_events(mapping: Mapping, input_events: Sequence[float]) -> list[float]:
    """Events sent between macros, per mapped layer: an event produced on macro m goes to every
    other macro holding part of the next layer (multicast); input events from the sensor reach
    the first layer's macros, counted beyond the first."""
    out: list[float] = []
    prev: list[float] | None = None
    for lm, e in zip(mapping.layers, input_events, strict=True):
        share = lm.macro_share(mapping.n_macros)
        hosts = [m for m, x in enumerate(share) if x > 0]
        if prev is None:
            out.append(e * max(len(hosts) - 1, 0))
        else:
            out.append(e * sum(p * len([h for h in hosts if h != m])
                               for m, p in enumerate(prev) if p > 0))
        prev = share
    return out


def mapping_counts(net: IntNetwork, mapping: Mapping, hw: Hardware,
                   totals: Sequence[LayerTotals], n_samples: int,
                   n_timesteps: int) -> SystemCounts:
    """Counts of a mapped run from per-spiking-layer activity totals (over all samples)."""
    check_mapping(net, mapping, hw)
    routed = routed_events(mapping, [t.input_events for t in totals])
    layers: list[LayerCounts] = []
    macros = [dict.fromkeys(_MACRO_FIELDS, 0.0) for _ in range(mapping.n_macros)]
    for lm, tot, rt in zip(mapping.layers, totals, routed, strict=True):
        geo = layer_geometry(net, lm.index)
        og = layer_option_geometry(lm, geo, hw)
        lc = layer_counts(geo, og, lm.resident_groups,
                          lm.streamed_buffer_bits, lm.spilled_buffer_bits, tot, n_samples,
                          n_timesteps, hw.macro.cols, rt)
        layers.append(lc)
        for m, share in enumerate(lm.macro_share(mapping.n_macros)):
            for k in _MACRO_FIELDS:
                macros[m][k] += share * getattr(lc, k)
    return SystemCounts(mapping.policy, int(n_samples), int(n_timesteps), mapping.n_macros,
                        tuple(layers),
                        tuple(MacroCounts(m, **d) for m, d in enumerate(macros)))


def activity_totals(net: IntNetwork, input_events: Sequence[float],
                    output_events: Sequence[float]) -> list[LayerTotals]:
    """Expected totals per spiking layer from events into and out of every layer of ``net``;
    SOPs = input events x the layer's mean fan-out (exact for uniform event positions)."""
    out = []
    for i, layer in enumerate(net.layers):
        if isinstance(layer, SpikingLayer):
            geo = layer_geometry(net, i)
            out.append(LayerTotals(float(input_events[i]), float(input_events[i]) * geo.fan_out,
                                   float(output_events[i])))
    return out

"""The analytic estimator: expected counts of a mapped run without executing it
(docs/system-model.md §Estimator).

It fills the same :class:`~flexspim.energy.counts.WorkCounts` as the system engine, with
expected values per timestep from an :class:`~flexspim.compile.Activity` (events, spikes and,
when measured, SOPs per layer), under these assumptions:

- events are spread uniformly over the input channels and positions of a layer, so every row
  group of a layer gets the same units, a unit on a spilled group moves that group's bits, and
  a memory group's traffic falls on the buffer and DRAM in proportion to the bits each holds
  (the compiler spreads residency and buffer groups evenly among groups of equal size,
  :func:`~flexspim.compile.groups.select_groups`, to make this hold);
- with ``event_order = "arrival"`` two successive units of a macro need the same streamed slice
  only in a layer whose events all update the same membranes (a linear layer with one channel
  group); there a slice is loaded once per timestep and macro that has work
  (``1 - exp(-units)``, Poisson); with ``"target"`` every distinct slice of a timestep is loaded
  once per macro (``keys * (1 - exp(-units / keys))``);
- compares and resets: a row group has a spike with probability ``1 - exp(-spikes / groups)``.

The compiler's ``optimal`` search minimises the same energy (:func:`layer_totals` at one macro)
and the system engine's counts are checked against :func:`estimate_counts` in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from flexspim.compile.activity import Activity
from flexspim.compile.geometry import (
    LayerGeometry,
    Option,
    OptionGeometry,
    event_targets,
    network_geometry,
    option_geometry,
    units_per_event,
)
from flexspim.compile.mapping import Mapping
from flexspim.compile.program import (
    BUFFER,
    LayerProgram,
    Program,
    build_program,
    init_counts,
)
from flexspim.energy.counts import COUNT_FIELDS, FIELD_INDEX, PHASES, WorkCounts
from flexspim.hw import Hardware
from flexspim.net.network import IntNetwork

F = FIELD_INDEX
P_INIT, P_INTEGRATE, P_FIRE = (PHASES.index(p) for p in ("init", "integrate", "fire"))


@dataclass(frozen=True)
class LayerLoad:
    """Activity of one spiking layer per sample (over all ``n_timesteps``)."""

    events: float
    sops: float
    spikes: float
    n_timesteps: int


def layer_loads(net: IntNetwork, activity: Activity) -> list[LayerLoad]:
    """Per spiking layer: events in, SOPs (measured, else events x mean fan-out), spikes out."""
    activity.check(net)
    out = []
    geos = {g.index: g for g in network_geometry(net)}
    for i in range(len(net.layers)):
        if i not in geos:
            continue
        e = activity.input_events[i]
        s = activity.sops[i] if activity.sops is not None else e * geos[i].fan_out
        out.append(LayerLoad(e, s, activity.output_events(i), activity.n_timesteps))
    return out


def expected_units(geo: LayerGeometry, og: OptionGeometry, load: LayerLoad) -> float:
    """Expected units of the layer per sample: exact from SOPs without packing (each valid tap of
    an event is one unit per channel group), else events x mean units per event, scaled by the
    measured SOPs over the uniform-position SOPs."""
    if load.sops <= 0 or load.events <= 0:
        return 0.0
    if og.pack == 1:
        return load.sops * og.n_cg / geo.out_channels
    return load.events * units_per_event(geo, og) * load.sops / (load.events * geo.fan_out)


def _distinct(units: float, keys: float, n_t: int) -> float:
    """Expected distinct keys over ``n_t`` timesteps when ``units`` (all timesteps) draw
    uniformly from ``keys``."""
    if units <= 0 or n_t <= 0:
        return 0.0
    per = units / n_t
    if keys <= 0:
        return units
    return n_t * keys * -math.expm1(-per / keys)


@dataclass(frozen=True)
class Share:
    """What one macro does of a layer, per sample: ``units`` on resident groups and ``spilled``
    units (on spilled groups, home macro only)."""

    units: float
    spilled: float


@dataclass(frozen=True)
class Spilled:
    """The stationary operand outside the arrays: ``bits`` in all, ``buffer_bits`` of them in
    the buffer (the rest in DRAM)."""

    bits: float
    buffer_bits: float

    @property
    def dram_bits(self) -> float:
        return self.bits - self.buffer_bits


#: What a macro other than the home macro moves of spilled groups.
NO_SPILL = Spilled(0.0, 0.0)


def _loads(units: float, keys: float, n_t: int, hw: Hardware, single_target: bool) -> float:
    """Streamed-slice loads of ``units`` on one macro (module docstring)."""
    ctl = hw.system.controller
    if not ctl.scratch_reuse:
        return units
    if ctl.event_order == "target":
        return min(units, _distinct(units, keys, n_t))
    if single_target:
        return min(units, _distinct(units, 1.0, n_t))
    return units


def slice_keys(geo: LayerGeometry, og: OptionGeometry) -> float:
    """How many different streamed slices the layer's units can need (the controller's keys:
    memory groups without packing; with packing, event position and tap block (WS) or input
    channel, kernel row and column offset (OS))."""
    if og.pack == 1:
        return float(og.memory_groups)
    if og.option.stationary == "weights":
        return float(geo.in_hw[0] * geo.in_hw[1] * og.n_blocks * og.n_cg)
    span = geo.kernel[1] + (og.pack - 1) * geo.stride[1]
    return float(geo.in_channels * geo.kernel[0] * span * 2 * og.n_cg)


def integrate_counts(geo: LayerGeometry, og: OptionGeometry, load: LayerLoad, share: Share,
                     total_units: float, f_stream: float, spilled: Spilled,
                     hw: Hardware) -> np.ndarray:
    """Expected integrate-phase counts ``[fields]`` of one macro doing ``share`` of the layer.

    ``f_stream``: fraction of the streamed operand's bits in the buffer; ``spilled``: the
    stationary bits outside the arrays that this macro loads (:data:`NO_SPILL` off the home
    macro). Every row group gets ``total_units / groups`` units, and a unit on a spilled group
    moves that group's bits, so the spilled traffic is linear in ``spilled``."""
    out = np.zeros(len(COUNT_FIELDS))
    u = share.units + share.spilled
    if u <= 0 or total_units <= 0:
        return out
    lanes = load.sops * u / total_units
    v, w, n_t = geo.v_bits, geo.w_bits, load.n_timesteps
    ws = og.option.stationary == "weights"
    single = geo.out_positions == 1 and geo.taps == 1 and og.n_cg == 1
    out[F["units"]] = u
    out[F["sops"]] = lanes
    out[F["row_ops"]] = u * og.v_rows
    out[F["active_col_ops"]] = lanes * v
    out[F["standby_col_ops"]] = u * og.v_rows * hw.macro.cols - lanes * v
    # streamed slices: membranes (WS) in and out of scratch rows, weights (OS) in
    loads = _loads(u, slice_keys(geo, og), n_t, hw, single and ws)
    bits = loads * lanes / u * (v if ws else w)
    out[F["array_row_writes"]] += loads * (og.v_rows if ws else og.w_rows)
    out[F["buffer_read_bits"]] += bits * f_stream
    out[F["dram_read_bits"]] += bits * (1 - f_stream)
    if ws:
        out[F["array_row_reads"]] += loads * og.v_rows
        out[F["buffer_write_bits"]] += bits * f_stream
        out[F["dram_write_bits"]] += bits * (1 - f_stream)
    # spilled stationary groups, run on the home macro: a spilled membrane group stays in the
    # scratch rows while successive units hit it only in a linear layer with one channel group
    # (then it has one group); spilled weights change every unit
    per_unit = _loads(total_units, 1.0, n_t, hw, True) / total_units if single and not ws \
        else 1.0
    sp = per_unit * share.spilled
    moved = per_unit * total_units / max(og.groups, 1)
    out[F["array_row_writes"]] += sp * (og.w_rows if ws else og.v_rows)
    out[F["buffer_read_bits"]] += moved * spilled.buffer_bits
    out[F["dram_read_bits"]] += moved * spilled.dram_bits
    if not ws:
        out[F["array_row_reads"]] += sp * og.v_rows
        out[F["buffer_write_bits"]] += moved * spilled.buffer_bits
        out[F["dram_write_bits"]] += moved * spilled.dram_bits
    return out


def _compare_fraction(og: OptionGeometry, geo: LayerGeometry, load: LayerLoad, units: float,
                      hw: Hardware) -> float:
    """Expected fraction of compare groups compared per timestep."""
    if hw.system.controller.compare == "all":
        return 1.0
    n_t = load.n_timesteps
    groups = og.groups if og.option.stationary == "membranes" else og.memory_groups
    lam = (units + load.spikes) / max(n_t * groups, 1)
    rest = -math.expm1(-lam)
    return (1.0 + (n_t - 1) * rest) / n_t


def fire_counts(geo: LayerGeometry, og: OptionGeometry, load: LayerLoad, resident: float,
                spilled: Spilled, f_stream: float, units: float, hw: Hardware
                ) -> tuple[np.ndarray, np.ndarray]:
    """Expected fire-phase counts: (in the arrays of a macro holding ``resident`` groups; in
    memory, on the home macro: membranes outside the arrays, ``spilled`` under OS, all of them
    under WS), per sample over all timesteps."""
    arr, mem = np.zeros(len(COUNT_FIELDS)), np.zeros(len(COUNT_FIELDS))
    n_t, v = load.n_timesteps, geo.v_bits
    a = _compare_fraction(og, geo, load, units, hw)
    if og.option.stationary == "membranes":
        p_spk = -math.expm1(-load.spikes / max(n_t * og.groups, 1))
        arr[F["compare_row_reads"]] = resident * og.v_rows * n_t * a
        arr[F["array_row_writes"]] = resident * og.v_rows * n_t * p_spk
        # spikes fall on the neurons evenly: those outside the arrays write their bits back
        levels = (spilled.buffer_bits, spilled.dram_bits)
        reads = tuple(b * n_t * a for b in levels)
        writes = tuple(load.spikes * b / max(geo.n_neurons, 1) for b in levels)
    else:
        reads = (geo.membrane_bits * n_t * a * f_stream,
                 geo.membrane_bits * n_t * a * (1 - f_stream))
        writes = (load.spikes * v * f_stream, load.spikes * v * (1 - f_stream))
    mem[F["buffer_read_bits"]], mem[F["dram_read_bits"]] = reads
    mem[F["buffer_write_bits"]], mem[F["dram_write_bits"]] = writes
    return arr, mem


def layer_totals(geo: LayerGeometry, og: OptionGeometry, load: LayerLoad, hw: Hardware,
                 resident_groups: float, resident_bits: float, streamed_buffer_bits: float,
                 spilled_buffer_bits: float) -> np.ndarray:
    """Expected counts ``[phases, fields]`` of one layer per sample, all on one macro (the
    compiler's search; routing excluded). Linear in the four placement arguments."""
    st = og.option.stationary
    u = expected_units(geo, og, load)
    r = resident_groups / og.groups if og.groups else 1.0
    s_bits = geo.streamed_bits(st)
    f_stream = streamed_buffer_bits / s_bits if s_bits else 0.0
    spilled = Spilled(geo.operand_bits(st) - resident_bits, spilled_buffer_bits)
    out = np.zeros((len(PHASES), len(COUNT_FIELDS)))
    out[P_INTEGRATE] = integrate_counts(geo, og, load, Share(u * r, u * (1 - r)), u, f_stream,
                                        spilled, hw)
    arr, mem = fire_counts(geo, og, load, resident_groups, spilled, f_stream, u, hw)
    out[P_FIRE] = arr + mem
    v = geo.v_bits
    if st == "membranes":
        out[P_INIT, F["array_row_writes"]] = resident_groups * og.v_rows
        out[P_INIT, F["buffer_write_bits"]] = spilled.buffer_bits
        out[P_INIT, F["dram_write_bits"]] = spilled.dram_bits
    else:
        out[P_INIT, F["buffer_write_bits"]] = geo.n_neurons * v * f_stream
        out[P_INIT, F["dram_write_bits"]] = geo.n_neurons * v * (1 - f_stream)
    return out


def _levels(lp: LayerProgram) -> tuple[float, Spilled]:
    """Buffer fraction of the streamed operand's bits, and the spilled stationary bits."""
    mb = lp.mem_bits
    f_stream = float(mb[lp.mem_level == BUFFER].sum() / mb.sum()) if mb.sum() else 0.0
    sp = lp.stat_macro < 0
    return f_stream, Spilled(float(lp.stat_bits[sp].sum()),
                             float(lp.stat_bits[sp & (lp.stat_level == BUFFER)].sum()))


def _host_presence(lp: LayerProgram, n_macros: int) -> np.ndarray:
    """``[events, macros]``: whether an event (one per input channel under WS, one per input
    position under OS, interior events) has a unit on each macro."""
    hosts = np.where(lp.stat_macro >= 0, lp.stat_macro, lp.home)
    g = lp.geo
    if lp.stationary == 0:
        per_c = hosts.reshape(g.in_channels, -1)
        out = np.zeros((g.in_channels, n_macros), dtype=bool)
        np.put_along_axis(out, per_c, True, axis=1)
        return out
    out = np.zeros((g.in_hw[0] * g.in_hw[1], n_macros), dtype=bool)
    for _tap, idx, oy, ox in event_targets(g.kernel, g.stride, g.padding, g.in_hw, g.out_hw):
        pb = oy * lp.n_blocks + ox // lp.pack
        for cg in range(lp.n_cg):
            out[idx, hosts[pb * lp.n_cg + cg]] = True
    return out


def routed_estimate(prog: Program, k: int, events: float) -> np.ndarray:
    """Expected deliveries per macro of layer k's input events (per sample), for uniformly
    placed events: an event reaches every macro holding one of its units, except the macro it
    left from (drawn from where the previous layer's neurons are; events of the first layer
    come from the sensor and every delivery counts)."""
    lp = prog.layers[k]
    if events <= 0:
        return np.zeros(prog.n_macros)
    present = _host_presence(lp, prog.n_macros).mean(axis=0)
    if k > 0:
        src = np.bincount(prog.layers[k - 1].neuron_macro, minlength=prog.n_macros)
        p_src = src / max(src.sum(), 1)
    else:
        p_src = np.zeros(prog.n_macros)
    return events * present * (1 - p_src)


def estimate_counts(net: IntNetwork, mapping: Mapping, hw: Hardware,
                    activity: Activity) -> WorkCounts:
    """Expected :class:`WorkCounts` of one inference (one sample, ``activity.n_timesteps``
    identical timesteps) of ``mapping`` under ``activity``."""
    prog = build_program(net, mapping, hw)
    loads = layer_loads(net, activity)
    n_t, n_m = activity.n_timesteps, prog.n_macros
    data = np.zeros((1, n_t, len(prog.layers), len(PHASES), n_m, len(COUNT_FIELDS)))
    for k, (lp, load, lm) in enumerate(zip(prog.layers, loads, mapping.layers, strict=True)):
        og = option_geometry(lp.geo, Option(lm.stationary, lm.cols, lm.pack), hw)
        u = expected_units(lp.geo, og, load)
        f_stream, spill = _levels(lp)
        resident = np.bincount(lp.stat_macro[lp.stat_macro >= 0], minlength=n_m)
        g = max(og.groups, 1)
        for m in range(n_m):
            home = m == lp.home
            share = Share(u * resident[m] / g, u * lm.spilled_groups / g if home else 0.0)
            data[0, :, k, P_INTEGRATE, m] = integrate_counts(
                lp.geo, og, load, share, u, f_stream, spill if home else NO_SPILL, hw) / n_t
            arr, mem = fire_counts(lp.geo, og, load, float(resident[m]), spill, f_stream, u, hw)
            data[0, :, k, P_FIRE, m] = arr / n_t
            if m == lp.home:
                data[0, :, k, P_FIRE, m] += mem / n_t
        data[0, :, k, P_INTEGRATE, :, F["routed_events"]] = \
            routed_estimate(prog, k, load.events)[None, :] / n_t
        data[0, 0, k, P_INIT] = init_counts(lp, n_m)
    return WorkCounts(data, tuple(lp.name for lp in prog.layers), policy=mapping.policy,
                      source="estimate")

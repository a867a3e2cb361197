"""The analytic estimator: expected counts of a mapped run without executing it
(docs/system-model.md §The analytic estimator).

It fills the same :class:`~flexspim.energy.counts.WorkCounts` as the system engine, with
expected values per timestep, from an :class:`~flexspim.compile.Activity` and the mapping's
program, following the engine's controller rule by rule:

- **compute** (units, SOPs, row operations, active and standby columns) per macro: every
  stationary row group's units and lanes from the layer's input events per position (measured,
  or uniform for an assumed activity), on the macro that holds the group (the home macro when it
  is spilled) — exact for measured events;
- **streamed slices** through the chip-wide LRU pool of ``K`` slots: in arrival order the hits
  of an LRU cache of ``K`` slots follow from the stack distances of the layer's reuse profile
  (:mod:`flexspim.compile.reuse`; exact for the same events); sorted by target, a key is loaded
  once per timestep if one of its units is on a resident group (the resident groups being spread
  evenly, a key with ``n`` units has one with probability ``1 - (1 - r)**n``), and the spilled
  groups' units reuse keys at the sorted-order stack distances, shrunk by the spilled fraction;
- **moves between macros**: a hit finds its slice on another macro with the probability that two
  units of the layer run on different macros (``1 - sum(u_m**2)``, ``u_m`` the units' shares);
  once the pool is full, every move brings one back;
- **spilled groups** through the home macro's spill slots: LRU hits from the group stack
  distances in arrival order, one load per spilled group and timestep under target order;
- compares and resets: a row group has a spike with probability ``1 - exp(-spikes / groups)``.

The compiler's searches price options with :func:`layer_totals` (one macro) and the chosen
mappings with :func:`estimate_counts`; both use the same prices as the engine
(:mod:`flexspim.energy.prices`). The engine's counts are checked against these in the tests.
"""

from __future__ import annotations

import functools
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
)
from flexspim.compile.mapping import Mapping
from flexspim.compile.program import (
    LayerProgram,
    Program,
    build_program,
    init_counts,
    leak_counts,
    scratch_slots,
)
from flexspim.compile.reuse import MacroReuse, ReuseProfile
from flexspim.energy.counts import COUNT_FIELDS, FIELD_INDEX, PHASES, WorkCounts
from flexspim.hw import Hardware
from flexspim.macro.leak import leak_operand_bits
from flexspim.net.layers import Leak
from flexspim.net.network import IntNetwork

F = FIELD_INDEX
P_INIT, P_LEAK, P_INTEGRATE, P_FIRE = (PHASES.index(p)
                                        for p in ("init", "leak", "integrate", "fire"))


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


# ----------------------------------------------------------------------------- compute

@dataclass(frozen=True)
class GroupWork:
    """Expected units and lanes (SOPs) per sample of every stationary row group."""

    units: np.ndarray
    lanes: np.ndarray

    @property
    def total_units(self) -> float:
        return float(self.units.sum())


@functools.lru_cache(maxsize=512)
def _event_blocks(kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                  in_hw: tuple[int, int], out_hw: tuple[int, int], pack: int, ws: bool
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The row-group blocks an event reaches, as pairs: (input position ``y * w + x``, block,
    valid taps of the block): tap blocks under WS, output x blocks (all rows) under OS."""
    n_xb = -(-out_hw[1] // pack)
    pos, blk = [], []
    for tap, idx, oy, ox in event_targets(kernel, stride, padding, in_hw, out_hw):
        pos.append(idx)
        blk.append(np.full(idx.size, tap // pack) if ws else oy * n_xb + ox // pack)
    if not pos:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    n_blocks = -(-(kernel[0] * kernel[1]) // pack) if ws else out_hw[0] * n_xb
    code = np.concatenate(pos).astype(np.int64) * n_blocks + np.concatenate(blk)
    uniq, slots = np.unique(code, return_counts=True)
    return uniq // n_blocks, uniq % n_blocks, slots.astype(np.float64)


def _blocks(geo: LayerGeometry, og: OptionGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _event_blocks(geo.kernel, geo.stride, geo.padding, geo.in_hw, geo.out_hw, og.pack,
                         og.option.stationary == "weights")


def group_work(geo: LayerGeometry, og: OptionGeometry, event_map: np.ndarray,
               sops: float | None = None) -> GroupWork:
    """Units and lanes of every stationary row group from the input events per position
    (``event_map`` ``[c_in * h * w]`` per sample); ``sops`` rescales the lanes to a measured
    SOP count."""
    pos, blk, slots = _blocks(geo, og)
    e = np.asarray(event_map, dtype=np.float64).reshape(geo.in_channels, -1)
    if og.option.stationary == "weights":
        nb = og.n_blocks
        units = np.zeros((geo.in_channels, nb))
        lanes = np.zeros((geo.in_channels, nb))
        for b in range(nb):               # a few tap blocks
            sel = blk == b
            units[:, b] = e[:, pos[sel]].sum(axis=1)
            lanes[:, b] = e[:, pos[sel]] @ slots[sel]
        units, lanes = units.reshape(-1), lanes.reshape(-1)
    else:
        n = geo.out_hw[0] * -(-geo.out_hw[1] // og.pack)
        ec = e.sum(axis=0)[pos]
        units = np.bincount(blk, weights=ec, minlength=n)
        lanes = np.bincount(blk, weights=ec * slots, minlength=n)
    chans = np.minimum(og.channels_per_group,
                       geo.out_channels - np.arange(og.n_cg) * og.channels_per_group)
    u = np.repeat(units, og.n_cg)
    lanes_g = (lanes[:, None] * chans[None, :]).reshape(-1)
    if sops is not None and lanes_g.sum() > 0:
        lanes_g = lanes_g * (sops / lanes_g.sum())
    return GroupWork(u, lanes_g)


def compute_counts(units: float, lanes: float, og: OptionGeometry, geo: LayerGeometry,
                   hw: Hardware) -> np.ndarray:
    """Counts ``[fields]`` of ``units`` row-operation groups adding ``lanes`` SOPs."""
    out = np.zeros(len(COUNT_FIELDS))
    out[F["units"]] = units
    out[F["sops"]] = lanes
    out[F["row_ops"]] = units * og.v_rows
    out[F["active_col_ops"]] = lanes * geo.v_bits
    out[F["standby_col_ops"]] = units * og.v_rows * hw.macro.cols - lanes * geo.v_bits
    return out


# ----------------------------------------------------------------------------- scratch pools

@dataclass(frozen=True)
class Pools:
    """What the layer's units do to the scratch pools, per sample (module docstring):
    streamed-slice loads (``misses``), moves between macros, spilled-group loads."""

    misses: float
    moves: float
    spill_misses: float


def _fraction(hits: float, total: float) -> float:
    return min(1.0, hits / total) if total > 0 else 0.0


def _streamed_target(prof: ReuseProfile, n_cg: int, scale: float, r: float, capacity: float,
                     n_t: int) -> tuple[float, float, float, float]:
    """Sorted by target, per sample: (loads of the resident pass, loads of the spilled pass,
    the spilled pass's hits on its own keys, and on keys the resident pass left in the pool),
    from the keys' unit counts and the sorted-order stack distances."""
    n = np.arange(prof.key_units.size, dtype=np.float64)
    ku = prof.key_units / prof.n_samples * scale * n_cg
    first = float((ku * (1.0 - (1.0 - r) ** n)).sum())
    spilled_keys = float((ku * (1.0 - r ** n)).sum())
    both = float((ku * (1.0 - r ** n - (1.0 - r) ** n)).sum())
    s = 1.0 - r
    accesses2 = s * scale * n_cg * prof.accesses / prof.n_samples
    total_reaccess = n_cg * (prof.accesses - prof.sorted_cold) / prof.n_samples
    frac = _fraction(prof.sorted_hits(capacity, n_cg, s), total_reaccess)
    reaccess = max(0.0, accesses2 - spilled_keys)
    kept = both * min(1.0, capacity * n_t / first) if first > 0 else 0.0
    return first, accesses2 - reaccess * frac - kept, reaccess * frac, kept


def _hits_away(prof: ReuseProfile, scale: float, n_cg: int, hits: float, remote: float,
               capacity: float, caps: np.ndarray, shares: np.ndarray) -> float:
    """Hits of the chip's pool (arrival order) whose slice a macro's own slots were too few to
    keep, beyond the ``remote`` ones (previous use on another macro). A macro running a share
    ``s`` of the units keeps its most recent slices (the swap rule), so it finds a slice at
    stack distance ``d`` in its own slots while ``d < cap / s``; otherwise the slice comes from
    another macro and the macro's oldest slice goes back in its place (two moves)."""
    if hits <= 0:
        return 0.0
    away = 0.0
    for cap_m, share_m in zip(caps, shares, strict=True):
        if share_m > 0:
            own = scale * prof.hits(min(capacity, float(cap_m) / float(share_m)), n_cg)
            away += share_m * max(0.0, hits - own)
    return away * max(0.0, 1.0 - remote / hits)


def pools(prof: ReuseProfile, og: OptionGeometry, units: float, resident_units: float,
          capacity: float, k_spill: int, hosts: np.ndarray | None, home: int, hw: Hardware,
          n_t: int, caps: np.ndarray | None = None, shares: np.ndarray | None = None,
          placed: MacroReuse | None = None) -> Pools:
    """The scratch pools' work of a layer with ``units`` (``resident_units`` of them on
    resident groups) per sample, a streamed pool of ``capacity`` slots and ``k_spill`` spill
    slots; ``hosts[group]`` is the macro holding each row group (-1: spilled, run on ``home``;
    None: one macro); ``placed``: the accesses on this placement in the controller's order
    (hits of the chip's pool, local and remote from each macro's own stack distances, instead
    of the models of the shares and of the pairs)."""
    ctl = hw.system.controller
    n_cg = og.n_cg
    base = n_cg * prof.accesses / prof.n_samples
    scale = units / base if base > 0 else 0.0
    r = min(1.0, resident_units / units) if units > 0 else 1.0
    spilled = units - resident_units
    groups_first = scale * n_cg * prof.group_cold / prof.n_samples * (1.0 - r)
    if not ctl.scratch_reuse:
        return Pools(units, 0.0, spilled)
    run_on = np.where(hosts >= 0, hosts, home) if hosts is not None else None
    swaps = 0.0                     # hits on another macro that push the oldest slice back
    elsewhere = 0.0                 # a full pool's oldest slice is on another macro
    if run_on is not None:
        n_m = int((caps > 0).sum()) if caps is not None else int(run_on.max()) + 1
        stay = prof.same_macro(run_on.reshape(-1, n_cg))
        elsewhere = stay + (1.0 - stay) * (1.0 - 1.0 / max(n_m - 1, 1)) if n_m > 1 else 0.0
    if ctl.event_order == "target":
        first, loads2, _, kept = _streamed_target(prof, n_cg, scale, r, capacity, n_t)
        misses = first + loads2
        remote = 0.0
        if hosts is not None:
            resident = hosts[hosts >= 0]
            away = float((resident != home).mean()) if resident.size else 0.0
            remote = scale * prof.remote(hosts.reshape(-1, n_cg)) + kept * away
        spill = groups_first
        if placed is not None:
            misses = units - scale * (placed.local + placed.remote)
    else:
        hits = scale * prof.hits(capacity, n_cg)
        misses = units - hits
        remote = 0.0
        if placed is not None:
            misses = units - scale * (placed.local + placed.remote)
        elif run_on is not None:
            remote = scale * prof.remote(run_on.reshape(-1, n_cg), capacity)
            if caps is not None and shares is not None:
                swaps = _hits_away(prof, scale, n_cg, hits, remote, capacity, caps, shares)
        g_total = n_cg * (prof.group_accesses - prof.group_cold) / prof.n_samples
        frac = _fraction(prof.group_hits(k_spill, n_cg, 1.0 - r), g_total)
        spill = groups_first + max(0.0, spilled - groups_first) * (1.0 - frac)
        if placed is not None:
            spill = max(0.0, spilled - scale * placed.spill_hits)
    per_step = misses / n_t
    full = max(0.0, 1.0 - capacity / per_step) if per_step > 0 else 0.0
    if placed is not None:
        moves = scale * (placed.remote + placed.remote_full + placed.miss_full
                         + placed.miss_both_full * elsewhere)
        return Pools(misses, moves, spill)
    moves = remote * (1.0 + full) + 2.0 * swaps + misses * full * elsewhere
    if caps is not None and shares is not None and len(caps) > 1:
        # a macro whose own slots are full while the chip's are not passes its oldest slice
        # to a macro with room at every load, and back at every hit from elsewhere
        for cap_m, share_m in zip(caps, shares, strict=True):
            mine = misses * share_m / n_t
            local = max(0.0, 1.0 - cap_m / mine) if mine > 0 else 0.0
            extra = max(0.0, local - full)
            moves += (misses * share_m + remote * share_m) * extra
    return Pools(misses, moves, spill)


def pool_counts(pl: Pools, og: OptionGeometry, geo: LayerGeometry, slice_bits: float,
                f_stream: float, spill_bits: float, f_spill: float, s_rows: int,
                sp_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts ``[fields]`` of the pools' work: (streamed slices and moves, on the macros in
    proportion to their units; spilled groups, on the home macro)."""
    ws = og.option.stationary == "weights"
    st, sp = np.zeros(len(COUNT_FIELDS)), np.zeros(len(COUNT_FIELDS))
    bits = pl.misses * slice_bits
    st[F["array_row_writes"]] = (pl.misses + pl.moves) * s_rows
    st[F["array_row_reads"]] = (pl.misses if ws else 0.0) * s_rows + pl.moves * s_rows
    st[F["buffer_read_bits"]] = bits * f_stream
    st[F["dram_read_bits"]] = bits * (1 - f_stream)
    st[F["transfer_bits"]] = pl.moves * slice_bits
    if ws:
        st[F["buffer_write_bits"]] = bits * f_stream
        st[F["dram_write_bits"]] = bits * (1 - f_stream)
    sbits = pl.spill_misses * spill_bits
    sp[F["array_row_writes"]] = pl.spill_misses * sp_rows
    sp[F["buffer_read_bits"]] = sbits * f_spill
    sp[F["dram_read_bits"]] = sbits * (1 - f_spill)
    if not ws:
        sp[F["array_row_reads"]] = pl.spill_misses * sp_rows
        sp[F["buffer_write_bits"]] = sbits * f_spill
        sp[F["dram_write_bits"]] = sbits * (1 - f_spill)
    return st, sp


# ----------------------------------------------------------------------------- fire

@dataclass(frozen=True)
class FireStats:
    """Per compare group (membrane groups under OS, memory groups under WS) and sample, over all
    timesteps: how often it is compared, in how many timesteps one of its neurons spikes, and
    its spikes."""

    compared: np.ndarray
    spiking: np.ndarray
    spikes: np.ndarray


def _group_counts(geo: LayerGeometry, og: OptionGeometry, spikes: np.ndarray) -> np.ndarray:
    """``[T, N, compare groups]``: spikes of each compare group (channel groups of ``cpg``
    channels; under OS also ``pack`` neighbouring x positions), group numbering of
    :mod:`flexspim.compile.geometry`."""
    n_t, n = spikes.shape[0], spikes.shape[1]
    (oh, ow), c, cpg = geo.out_hw, geo.out_channels, og.channels_per_group
    x = np.zeros((n_t, n, og.n_cg * cpg, oh, ow), dtype=np.int32)
    x[:, :, :c] = spikes.reshape(n_t, n, c, oh, ow)
    x = x.reshape(n_t, n, og.n_cg, cpg, oh, ow).sum(axis=3)            # [T, N, cg, oh, ow]
    if og.option.stationary == "weights":
        return x.reshape(n_t, n, og.n_cg, oh * ow).transpose(0, 1, 3, 2).reshape(n_t, n, -1)
    nxb = og.n_blocks
    y = np.zeros((n_t, n, og.n_cg, oh, nxb * og.pack), dtype=np.int32)
    y[..., :ow] = x
    y = y.reshape(n_t, n, og.n_cg, oh, nxb, og.pack).sum(axis=5)     # [T, N, cg, oh, xb]
    return y.transpose(0, 1, 3, 4, 2).reshape(n_t, n, -1)


def fire_stats(geo: LayerGeometry, og: OptionGeometry, events: np.ndarray, spikes: np.ndarray,
               hw: Hardware) -> FireStats:
    """:class:`FireStats` from a layer's input counts ``[T, N, inputs]`` and output spikes
    ``[T, N, neurons]``: with ``compare = active`` a group is compared at the first timestep,
    when an event reaches it, or after one of its neurons spiked."""
    n_t, n = spikes.shape[0], max(spikes.shape[1], 1)
    ng = og.groups if og.option.stationary == "membranes" else og.memory_groups
    cnt = _group_counts(geo, og, np.asarray(spikes))
    hit = cnt > 0
    if hw.system.controller.compare == "all":
        compared = np.full(ng, float(n_t))
    else:
        active = _touched(geo, og, events, ng)
        active[0] = True
        active[1:] |= hit[:-1]
        compared = active.sum(axis=(0, 1)) / n
    return FireStats(compared, hit.sum(axis=(0, 1)) / n,
                     cnt.sum(axis=(0, 1), dtype=np.float64) / n)


def _touched(geo: LayerGeometry, og: OptionGeometry, events: np.ndarray, ng: int) -> np.ndarray:
    """``[T, N, compare groups]``: whether an event of the timestep reaches the group."""
    ev = events.reshape(events.shape[0], events.shape[1], geo.in_channels, -1).any(axis=2)
    if og.option.stationary == "membranes":
        pos, blk, _ = _blocks(geo, og)
        reached = _scatter_any(ev[:, :, pos], blk, geo.out_hw[0] * og.n_blocks)
        return np.repeat(reached, og.n_cg, axis=2)[:, :, :ng]
    reached = np.zeros(ev.shape[:2] + (geo.out_positions,), dtype=bool)
    for _tap, idx, oy, ox in event_targets(geo.kernel, geo.stride, geo.padding, geo.in_hw,
                                          geo.out_hw):
        reached[:, :, oy * geo.out_hw[1] + ox] |= ev[:, :, idx]
    return np.repeat(reached, og.n_cg, axis=2)[:, :, :ng]


def _scatter_any(hit: np.ndarray, target: np.ndarray, n: int) -> np.ndarray:
    """``[..., n]``: whether any of the items ``hit[..., i]`` with ``target[i] == t`` is set."""
    out = np.zeros(hit.shape[:-1] + (n,))
    if hit.shape[-1] == 0:
        return out > 0
    flat = hit.reshape(-1, hit.shape[-1]).astype(np.float64)
    res = out.reshape(-1, n)
    for r in range(flat.shape[0]):
        res[r] = np.bincount(target, weights=flat[r], minlength=n)
    return out > 0


def fire_counts(lp: LayerProgram, og: OptionGeometry, fs: FireStats, n_macros: int
                ) -> np.ndarray:
    """Expected fire-phase counts ``[macros, fields]`` per sample: resident membrane groups
    compared in place and reset (OS), the others read from and written to their memory level
    by the home macro."""
    out = np.zeros((n_macros, len(COUNT_FIELDS)))
    v = lp.geo.v_bits
    if not lp.ws:
        res = lp.stat_macro >= 0
        np.add.at(out[:, F["compare_row_reads"]], lp.stat_macro[res], fs.compared[res] * og.v_rows)
        np.add.at(out[:, F["array_row_writes"]], lp.stat_macro[res], fs.spiking[res] * og.v_rows)
        buf, bits = lp.stat_buffered, lp.stat_bits.astype(np.float64)
        outside = (~res).astype(np.float64)
    else:
        buf, bits = lp.mem_buffered, lp.mem_bits.astype(np.float64)
        outside = np.ones(buf.size)
    for name, share in (("buffer", buf), ("dram", 1.0 - buf)):
        w = outside * share
        out[lp.home, F[f"{name}_read_bits"]] += float((fs.compared * bits * w).sum())
        out[lp.home, F[f"{name}_write_bits"]] += float((fs.spikes * w).sum()) * v
    return out


# ----------------------------------------------------------------------------- one layer

def slot_rows(og: OptionGeometry) -> tuple[int, int]:
    """(rows of a streamed slot, rows of a spill slot) of an option."""
    ws = og.option.stationary == "weights"
    return (og.v_rows, og.w_rows) if ws else (og.w_rows, og.v_rows)


def nominal_capacity(og: OptionGeometry, hw: Hardware, free_rows: float = 0.0) -> float:
    """Streamed slots of a layer over all macros when ``free_rows`` rows (all macros) are left
    past the resident operands: the reserved slots, plus the free rows under ``auto``."""
    s_rows, _ = slot_rows(og)
    n = hw.system.n_macros
    extra = free_rows // s_rows if hw.system.controller.scratch_slices == "auto" else 0.0
    return float(n * scratch_slots(hw) + extra)


def leak_totals(geo: LayerGeometry, og: OptionGeometry, leak: Leak | None, resident: float,
                f_mem: float, macro_cols: int) -> np.ndarray:
    """Counts ``[fields]`` of one timestep's leak (:func:`~flexspim.compile.program.leak_counts`)
    with a fraction ``resident`` of the membrane groups in the arrays and a fraction ``f_mem``
    of the others' bits in the buffer."""
    out = np.zeros(len(COUNT_FIELDS))
    if leak is None:
        return out
    groups = og.groups if og.option.stationary == "membranes" else og.memory_groups
    outside = groups * (1.0 - resident)
    op_rows = -(-leak_operand_bits(leak.kind, leak.amount, geo.v_bits) // og.option.cols)
    active = geo.n_neurons * geo.v_bits
    out[F["row_ops"]] = groups * og.v_rows
    out[F["active_col_ops"]] = active
    out[F["standby_col_ops"]] = groups * og.v_rows * macro_cols - active
    out[F["array_row_reads"]] = (groups + outside) * og.v_rows
    out[F["array_row_writes"]] = groups * op_rows + outside * og.v_rows
    bits = geo.membrane_bits * (1.0 - resident)
    for name, share in (("buffer", f_mem), ("dram", 1.0 - f_mem)):
        out[F[f"{name}_read_bits"]] = out[F[f"{name}_write_bits"]] = bits * share
    return out


def layer_totals(geo: LayerGeometry, og: OptionGeometry, load: LayerLoad, hw: Hardware,
                 resident_groups: float, resident_bits: float, streamed_buffer_bits: float,
                 spilled_buffer_bits: float, profile: ReuseProfile, work: GroupWork,
                 fs: FireStats, capacity: float, leak: Leak | None = None) -> np.ndarray:
    """Expected counts ``[phases, fields]`` of one layer per sample, all on one macro (the
    compiler's search; routing excluded), ``capacity`` streamed slots. Linear in the buffered
    bits; the resident groups hold an even share of the units, compares and spikes."""
    st = og.option.stationary
    r = resident_groups / og.groups if og.groups else 1.0
    u, lanes = work.total_units, float(work.lanes.sum())
    s_bits = geo.streamed_bits(st)
    f_stream = streamed_buffer_bits / s_bits if s_bits else 0.0
    spilled = geo.operand_bits(st) - resident_bits
    f_spill = spilled_buffer_bits / spilled if spilled > 0 else 0.0
    pl = pools(profile, og, u, u * r, capacity, scratch_slots(hw), None, 0, hw,
               load.n_timesteps)
    s_rows, sp_rows = slot_rows(og)
    bits = (geo.v_bits if st == "weights" else geo.w_bits) * lanes / u if u > 0 else 0.0
    n_spilled = og.groups - resident_groups
    g_bits = spilled / n_spilled if n_spilled > 0 else 0.0
    stream, spill = pool_counts(pl, og, geo, bits, f_stream, g_bits, f_spill, s_rows, sp_rows)
    out = np.zeros((len(PHASES), len(COUNT_FIELDS)))
    out[P_INTEGRATE] = compute_counts(u, lanes, og, geo, hw) + stream + spill
    compared, spikes = float(fs.compared.sum()), float(fs.spikes.sum())
    mean_bits = geo.membrane_bits / max(fs.compared.size, 1)     # bits of a compare group
    fire = out[P_FIRE]
    if st == "membranes":
        fire[F["compare_row_reads"]] = r * compared * og.v_rows
        fire[F["array_row_writes"]] = r * float(fs.spiking.sum()) * og.v_rows
        mem_reads, mem_writes, f_mem = (1 - r) * compared * mean_bits, \
            (1 - r) * spikes * geo.v_bits, f_spill
    else:
        mem_reads, mem_writes, f_mem = compared * mean_bits, spikes * geo.v_bits, f_stream
    fire[F["buffer_read_bits"]], fire[F["dram_read_bits"]] = \
        mem_reads * f_mem, mem_reads * (1 - f_mem)
    fire[F["buffer_write_bits"]], fire[F["dram_write_bits"]] = \
        mem_writes * f_mem, mem_writes * (1 - f_mem)
    if st == "membranes":
        out[P_INIT, F["array_row_writes"]] = resident_groups * og.v_rows
        out[P_INIT, F["buffer_write_bits"]] = spilled_buffer_bits
        out[P_INIT, F["dram_write_bits"]] = spilled - spilled_buffer_bits
    else:
        out[P_INIT, F["buffer_write_bits"]] = geo.n_neurons * geo.v_bits * f_stream
        out[P_INIT, F["dram_write_bits"]] = geo.n_neurons * geo.v_bits * (1 - f_stream)
    out[P_LEAK] = load.n_timesteps * leak_totals(
        geo, og, leak, r if st == "membranes" else 0.0, f_mem, hw.macro.cols)
    return out


# ----------------------------------------------------------------------------- a mapping

def memory_accesses(geo: LayerGeometry, og: OptionGeometry, event_map: np.ndarray
                    ) -> np.ndarray:
    """Expected units per sample that use each memory group of the streamed operand: under WS
    the events reaching the group's output position, under OS the events of its input channel
    whose tap reaches an output."""
    e = np.asarray(event_map, dtype=np.float64).reshape(geo.in_channels, -1)
    if og.option.stationary == "weights":
        acc = np.zeros(geo.out_positions)
        tot = e.sum(axis=0)
        for _tap, idx, oy, ox in event_targets(geo.kernel, geo.stride, geo.padding, geo.in_hw,
                                              geo.out_hw):
            np.add.at(acc, oy * geo.out_hw[1] + ox, tot[idx])
    else:
        acc = np.zeros((geo.in_channels, geo.taps))
        for tap, idx, _oy, _ox in event_targets(geo.kernel, geo.stride, geo.padding, geo.in_hw,
                                                geo.out_hw):
            acc[:, tap] = e[:, idx].sum(axis=1)
    return np.repeat(acc.reshape(-1), og.n_cg)[:og.memory_groups]


def _share(weights: np.ndarray, buffered: np.ndarray) -> float:
    """The buffer's share of traffic spread over groups by ``weights`` (each group's bits times
    how often it moves)."""
    total = float(weights.sum())
    if total > 0:
        return float(weights @ buffered) / total
    return float(buffered.mean()) if buffered.size else 0.0


def _levels(lp: LayerProgram, og: OptionGeometry, work: GroupWork, event_map: np.ndarray
            ) -> tuple[float, tuple[float, float], float]:
    """The buffer's share of the streamed operand's traffic; spilled stationary bits (buffer,
    DRAM); the buffer's share of the spilled groups' traffic. Traffic is spread over the groups
    by how often their units use them."""
    acc = memory_accesses(lp.geo, og, event_map)
    f_stream = _share(acc * lp.mem_bits, lp.mem_buffered)
    sp = lp.stat_macro < 0
    buf = float(lp.stat_bits[sp].astype(np.float64) @ lp.stat_buffered[sp])
    total = float(lp.stat_bits[sp].sum())
    f_spill = _share(work.units[sp] * lp.stat_bits[sp], lp.stat_buffered[sp])
    return f_stream, (buf, total - buf), f_spill


def _sources(net: IntNetwork, prog: Program, index: int) -> np.ndarray | None:
    """Macro each input event of layer ``index`` leaves from (None: the sensor): the previous
    spiking layer's neuron macros, through flattening, and through a max-pool the macro of each
    window's first input (its first spiking input in the engine)."""
    k = sum(1 for lp in prog.layers if lp.index < index)
    if k == 0:
        return None
    src = prog.layers[k - 1].neuron_macro
    for i in range(prog.layers[k - 1].index + 1, index):
        layer = net.layers[i]
        if layer.kind == "maxpool":
            c, h, w = net.shapes[i][0]
            _, oh, ow = net.shapes[i][1]
            sh, sw = layer.stride  # type: ignore[attr-defined]
            grid = src.reshape(c, h, w)
            src = grid[:, :oh * sh:sh, :ow * sw:sw][:, :oh, :ow].reshape(-1)
    return src


def routed_counts(net: IntNetwork, prog: Program, k: int, og: OptionGeometry,
                  event_map: np.ndarray) -> np.ndarray:
    """Expected deliveries per macro of layer k's input events per sample: every macro running
    one of an event's units, except the one it leaves from (sensor events: every delivery)."""
    lp = prog.layers[k]
    geo = lp.geo
    hosts = np.where(lp.stat_macro >= 0, lp.stat_macro, lp.home)
    pos, blk, _ = _blocks(geo, og)
    e = np.asarray(event_map, dtype=np.float64).reshape(geo.in_channels, -1)
    hw_n = geo.in_hw[0] * geo.in_hw[1]
    src = _sources(net, prog, lp.index)
    src = None if src is None else src.reshape(geo.in_channels, -1)
    out = np.zeros(prog.n_macros)
    for m in range(prog.n_macros):
        on = (hosts == m).reshape(-1, og.n_cg).any(axis=1)         # per cg-agnostic group
        if lp.ws:
            on = on.reshape(geo.in_channels, -1)                    # [c, tap blocks]
            present = np.zeros((geo.in_channels, hw_n), dtype=bool)
            for b in range(on.shape[1]):
                present[:, pos[blk == b]] |= on[:, b:b + 1]
        else:
            reach = np.bincount(pos, weights=on[blk].astype(np.float64), minlength=hw_n) > 0
            present = np.broadcast_to(reach, e.shape)
        keep = present if src is None else present & (src != m)
        out[m] = float((e * keep).sum())
    return out


def layer_counts(net: IntNetwork, lp: LayerProgram, og: OptionGeometry, load: LayerLoad,
                 activity: Activity, hw: Hardware, n_macros: int) -> np.ndarray:
    """Expected counts ``[phases, macros, fields]`` of one mapped layer per sample (routing
    and the init phase apart)."""
    geo = lp.geo
    st = og.option.stationary
    key = (lp.index, st, og.option.cols, og.pack)
    work = activity.cached(("work", *key), lambda: group_work(
        geo, og, activity.event_map(net, lp.index), load.sops))
    hosts = np.where(lp.stat_macro >= 0, lp.stat_macro, lp.home)
    u_m = np.bincount(hosts, weights=work.units, minlength=n_macros)
    l_m = np.bincount(hosts, weights=work.lanes, minlength=n_macros)
    u = float(u_m.sum())
    share = u_m / u if u > 0 else np.full(n_macros, 1.0 / n_macros)
    resident_u = float(work.units[lp.stat_macro >= 0].sum())
    prof = activity.profile(net, lp.index, st, og.pack)
    placed = None
    if n_macros > 1 and hw.system.controller.scratch_reuse:
        placed = activity.placed_reuse(net, lp.index, st, og.pack, hosts.reshape(-1, og.n_cg),
                                       lp.cap, (lp.stat_macro >= 0).reshape(-1, og.n_cg),
                                       hw.system.controller.event_order == "target",
                                       lp.k_spill)
    pl = pools(prof, og, u, resident_u, float(lp.cap.sum()), lp.k_spill,
               lp.stat_macro if n_macros > 1 else None, lp.home, hw, load.n_timesteps,
               lp.cap.astype(np.float64), share, placed)
    f_stream, spilled_bits, f_spill = _levels(lp, og, work, activity.event_map(net, lp.index))
    sp_groups = int((lp.stat_macro < 0).sum())
    g_bits = sum(spilled_bits) / sp_groups if sp_groups else 0.0
    bits = (geo.v_bits if st == "weights" else geo.w_bits) * float(l_m.sum()) / u if u else 0.0
    stream, spill = pool_counts(pl, og, geo, bits, f_stream, g_bits, f_spill, lp.s_rows,
                                lp.sp_rows)
    out = np.zeros((len(PHASES), n_macros, len(COUNT_FIELDS)))
    for m in range(n_macros):
        out[P_INTEGRATE, m] = compute_counts(u_m[m], l_m[m], og, geo, hw) + stream * share[m]
    out[P_INTEGRATE, lp.home] += spill
    fs = activity.cached(("fire", *key, hw.system.controller.compare), lambda: fire_stats(
        geo, og, activity.layer_events(net, lp.index), activity.layer_spikes(net, lp.index), hw))
    out[P_FIRE] = fire_counts(lp, og, fs, n_macros)
    out[P_LEAK] = load.n_timesteps * leak_counts(lp, n_macros, hw.macro.cols)
    return out


def estimate_counts(net: IntNetwork, mapping: Mapping, hw: Hardware, activity: Activity,
                    program: Program | None = None) -> WorkCounts:
    """Expected :class:`WorkCounts` of one inference (one sample, ``activity.n_timesteps``
    identical timesteps) of ``mapping`` under ``activity`` (``program``: the mapping's program
    when the caller built it already)."""
    prog = program if program is not None else build_program(net, mapping, hw)
    loads = layer_loads(net, activity)
    n_t, n_m = activity.n_timesteps, prog.n_macros
    data = np.zeros((1, n_t, len(prog.layers), len(PHASES), n_m, len(COUNT_FIELDS)))
    for k, (lp, load, lm) in enumerate(zip(prog.layers, loads, mapping.layers, strict=True)):
        og = option_geometry(lp.geo, Option(lm.stationary, lm.cols, lm.pack), hw)
        data[0, :, k] = layer_counts(net, lp, og, load, activity, hw, n_m)[None] / n_t
        data[0, :, k, P_INTEGRATE, :, F["routed_events"]] = routed_counts(
            net, prog, k, og, activity.event_map(net, lp.index))[None, :] / n_t
        data[0, :, k, P_INIT] = 0.0
        data[0, 0, k, P_INIT] = init_counts(lp, n_m)
    return WorkCounts(data, tuple(lp.name for lp in prog.layers), policy=mapping.policy,
                      source="estimate")



"""Stationarity policies and :func:`compile_network` (paper §III, Fig. 4; docs/compiler.md).

- ``ws``: weights stationary in every layer (the classic CIM-SNN dataflow);
- ``os``: membranes stationary in every layer;
- ``hs-min``: hybrid stationarity as we read the paper (§III, Fig. 4: "HS-min"): the smaller
  operand of each layer stays (what HS-min minimises is not in the text we could read);
- ``hs-traffic``: hybrid stationarity by traffic: per layer the operand whose residency saves
  the most memory traffic per array row, under the macros' capacity
  (:func:`traffic_stationarity`);
- ``optimal``: an exact integer linear program (PuLP/CBC) over every layer's stationary
  operand, lane width, lane packing and resident row groups, and the buffer share of every
  off-array operand, minimising the estimated energy of one inference
  (:mod:`flexspim.compile.estimate`, priced by :mod:`flexspim.energy.prices`) under the macros'
  rows and the buffer size.

The fixed policies choose, per layer, the operand shape by capacity (:func:`capacity_shapes`:
the densest first, so the most stationary operands are resident, then cheaper shapes while
everything still fits), then fill the arrays with the row groups that save the most energy per
row. ``stationary={"conv1": "membranes"}`` forces layers under any policy (the others follow
the policy).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Sequence
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field

import numpy as np

from flexspim.compile.activity import Activity
from flexspim.compile.estimate import (
    FireStats,
    GroupWork,
    LayerLoad,
    estimate_counts,
    fire_stats,
    group_work,
    layer_loads,
    layer_totals,
    nominal_capacity,
)
from flexspim.compile.geometry import (
    STATIONARY,
    LayerGeometry,
    Option,
    OptionGeometry,
    Stationary,
    max_pack,
    network_geometry,
    option_geometry,
)
from flexspim.compile.groups import (
    layer_bits,
    memory_group_bits,
    stationary_group_bits,
    whole_groups,
)
from flexspim.compile.mapping import LayerMapping, Mapping
from flexspim.compile.placement import (
    PLACEMENTS,
    OffArrayItem,
    Request,
    allocate_buffer,
    place_groups,
)
from flexspim.compile.program import leak_scratch_rows, scratch_slots
from flexspim.compile.rules import BITS_PER_KIB, scratch_reserve_fits, scratch_rows_fit
from flexspim.energy.counts import FIELD_INDEX
from flexspim.energy.prices import Prices, dynamic_energy_pj, price
from flexspim.errors import ConfigError, MappingError
from flexspim.hw import Hardware
from flexspim.net.network import IntNetwork

POLICIES: tuple[str, ...] = ("ws", "os", "hs-min", "hs-traffic", "optimal")
#: Short names accepted for forced stationarity (``--stationary conv1=os``).
STATIONARY_ALIASES: dict[str, Stationary] = {"ws": "weights", "weights": "weights", "w": "weights",
                                      "os": "membranes", "membranes": "membranes",
                                      "v": "membranes"}


@dataclass(frozen=True)
class _Ctx:
    """Everything a policy needs: geometry, activity per layer, prices and the options."""

    net: IntNetwork
    hw: Hardware
    activity: Activity
    geos: tuple[LayerGeometry, ...]
    loads: tuple[LayerLoad, ...]
    prices: Prices
    shapes: tuple[tuple[int, ...], ...]
    forced: tuple[Stationary | None, ...]
    placement: str
    forced_shapes: tuple[tuple[int, int] | None, ...] = ()
    whole_layers: bool = False
    #: Rows left free past the resident operands, all macros together, that ``auto`` scratch
    #: slots use (the policies place once, then price again with the rows they left).
    free_rows: float = 0.0
    _work: dict = field(default_factory=dict, compare=False, repr=False)

    def work(self, i: int, og: OptionGeometry) -> GroupWork:
        """Units and lanes of layer i's row groups under an option (kept once computed)."""
        o = og.option
        key = ("work", i, o.stationary, o.cols, o.pack)
        if key not in self._work:
            g = self.geos[i]
            self._work[key] = group_work(g, og, self.activity.event_map(self.net, g.index),
                                         self.loads[i].sops)
        return self._work[key]

    def fire(self, i: int, og: OptionGeometry) -> FireStats:
        """Compares and spikes of layer i's compare groups under an option (kept)."""
        o = og.option
        key = ("fire", i, o.stationary, o.cols, o.pack)
        if key not in self._work:
            g = self.geos[i]
            self._work[key] = fire_stats(g, og, self.activity.layer_events(self.net, g.index),
                                         self.activity.layer_spikes(self.net, g.index),
                                         self.hw)
        return self._work[key]

    def energy(self, i: int, og: OptionGeometry, k: float, r: float, bs: float,
               bp: float) -> float:
        """Estimated energy (pJ per inference, routing excluded) of layer i with ``k`` resident
        groups holding ``r`` bits, ``bs`` streamed and ``bp`` spilled bits in the buffer.

        Leakage is charged over the layer's busy time on one macro divided by the macro count
        (its work spread over every macro), which keeps the objective linear."""
        g = self.geos[i]
        prof = self.activity.profile(self.net, g.index, og.option.stationary, og.pack)
        tot = layer_totals(g, og, self.loads[i], self.hw, k, r, bs, bp, prof, self.work(i, og),
                           self.fire(i, og), nominal_capacity(og, self.hw, self.free_rows),
                           self.net.layers[g.index].leak)
        dyn = dynamic_energy_pj(tot, self.prices)
        leak_uw = self.hw.system.n_macros * self.prices.macro_leakage_uw \
            + self.prices.buffer_leakage_uw
        busy = float(self.prices.busy_ns(tot).sum()) / self.hw.system.n_macros
        return dyn + leak_uw * busy * 1e-3

    def traffic(self, i: int, og: OptionGeometry) -> tuple[float, float]:
        """Energy saved per bit of the streamed and of the spilled operand moved to the buffer
        (the same for every residency: the energy is linear)."""
        base = self.energy(i, og, 0, 0.0, 0.0, 0.0)
        return (base - self.energy(i, og, 0, 0.0, 1.0, 0.0),
                base - self.energy(i, og, 0, 0.0, 0.0, 1.0))

    def options(self, i: int, stationary: Sequence[Stationary] = STATIONARY) -> list[OptionGeometry]:
        """Every shape (lane width, packing) of layer i for the allowed stationary operands."""
        allowed = [self.forced[i]] if self.forced[i] else list(stationary)
        shape = self.forced_shapes[i] if self.forced_shapes else None
        out = []
        for st in allowed:
            if shape is not None:
                out.append(option_geometry(self.geos[i], Option(st, *shape), self.hw))
                continue
            for c in self.shapes[i]:
                for p in pack_candidates(self.geos[i], st, c, self.hw):
                    out.append(option_geometry(self.geos[i], Option(st, c, p), self.hw))
        return out


def pack_candidates(geo: LayerGeometry, stationary: Stationary, cols: int, hw: Hardware
                    ) -> tuple[int, ...]:
    """Packings worth considering: for each number of tap blocks (WS) or x blocks (OS), the
    smallest packing that reaches it, at most 8 of them (the largest included)."""
    top = max_pack(geo, stationary, cols, hw)
    span = geo.taps if stationary == "weights" else geo.out_hw[1]
    seen: dict[int, int] = {}
    for p in range(1, top + 1):
        seen.setdefault(-(-span // p), p)
    packs = sorted(seen.values())
    if len(packs) > 8:
        packs = sorted({packs[int(round(j * (len(packs) - 1) / 7))] for j in range(8)})
    return tuple(packs)


def _forced(net: IntNetwork, stationary: MappingType[str, str] | None
            ) -> tuple[Stationary | None, ...]:
    geos = network_geometry(net)
    names = [g.name for g in geos]
    forced = dict.fromkeys(names)
    for name, st in (stationary or {}).items():
        if name not in forced:
            raise ConfigError(f"stationary: network '{net.name}' has no spiking layer '{name}'; "
                              f"layers: {', '.join(names)}")
        key = str(st).strip().lower()
        if key not in STATIONARY_ALIASES:
            raise ConfigError(f"stationary: layer '{name}' = {st!r}; use ws (weights) or os "
                              f"(membranes)")
        forced[name] = STATIONARY_ALIASES[key]
    return tuple(forced[n] for n in names)


def _forced_shapes(net: IntNetwork, hw: Hardware,
                   shapes: MappingType[str, int | tuple[int, int]] | None
                   ) -> tuple[tuple[int, int] | None, ...]:
    geos = network_geometry(net)
    names = [g.name for g in geos]
    out: dict[str, tuple[int, int] | None] = dict.fromkeys(names)
    for name, shape in (shapes or {}).items():
        if name not in out:
            raise ConfigError(f"shapes: network '{net.name}' has no spiking layer '{name}'; "
                              f"layers: {', '.join(names)}")
        cols, pack = (int(shape), 1) if isinstance(shape, (int, np.integer)) else \
            (int(shape[0]), int(shape[1]))
        geo = geos[names.index(name)]
        if cols not in scratch_rows_fit(geo, hw) and not (
                1 <= cols <= hw.macro.cols and
                -(-geo.v_bits // cols) + -(-geo.w_bits // cols) <= hw.macro.rows):
            raise ConfigError(f"shapes: layer '{name}': lanes of {cols} columns do not fit a "
                              f"{hw.macro.rows} x {hw.macro.cols} macro with scratch rows")
        out[name] = (cols, pack)
    return tuple(out[n] for n in names)


def _context(net: IntNetwork, hw: Hardware, activity: Activity | None,
             stationary: MappingType[str, str] | None, placement: str,
             shapes: MappingType[str, int | tuple[int, int]] | None = None) -> _Ctx:
    act = activity if activity is not None else Activity.from_sparsity(net)
    act.check(net)
    geos = network_geometry(net)
    cands = tuple(scratch_rows_fit(g, hw) for g in geos)
    return _Ctx(net, hw, act, geos, tuple(layer_loads(net, act)), Prices.from_hw(hw), cands,
                _forced(net, stationary), placement, _forced_shapes(net, hw, shapes))


def _full_energy(ctx: _Ctx, i: int, og: OptionGeometry) -> float:
    """Estimated energy of layer i under ``og`` with its stationary operand fully resident and
    the streamed operand in the buffer (the cost per operation of a shape)."""
    g, st = ctx.geos[i], og.option.stationary
    return ctx.energy(i, og, og.groups, g.operand_bits(st), g.streamed_bits(st), 0.0)


def _shape_options(ctx: _Ctx, i: int, stationary: Stationary) -> list[OptionGeometry]:
    st = ctx.forced[i] or stationary
    opts = ctx.options(i, (st,))
    if not opts:
        raise MappingError("scratch-rows", f"layer '{ctx.geos[i].name}': no operand shape "
                           f"fits the macro's rows; use a larger macro")
    return opts


def _array_rows(ctx: _Ctx, ogs: Sequence[OptionGeometry]) -> int:
    """Rows the macros offer to resident operands with these shapes (scratch rows apart)."""
    hw = ctx.hw
    scratch = scratch_slots(hw) * max(og.scratch_rows for og in ogs)
    return hw.system.n_macros * max(hw.macro.rows - scratch, 0)


def _scratch_rows(ctx: _Ctx, ogs: Sequence[OptionGeometry]) -> int:
    """Scratch rows every macro reserves for these shapes (streamed slots, leak rows)."""
    return max([scratch_slots(ctx.hw) * og.scratch_rows for og in ogs]
               + [leak_scratch_rows(ctx.net.layers[g.index].leak, g.v_bits, og.option.cols)
                  for g, og in zip(ctx.geos, ogs, strict=True)])


def _all_resident(ctx: _Ctx, ogs: Sequence[OptionGeometry]) -> bool:
    """Whether every layer's stationary operand is wholly resident with these shapes: the rows
    add up, and the placement puts every group in a macro (groups never straddle macros)."""
    if sum(og.stationary_rows for og in ogs) > _array_rows(ctx, ogs):
        return False
    scratch = _scratch_rows(ctx, ogs)
    if scratch > ctx.hw.macro.rows:
        return False
    reqs = [Request(g.name, og.groups, og.rows_per_group, og.lane_cols)
            for g, og in zip(ctx.geos, ogs, strict=True)]
    placed = place_groups(reqs, range(len(ogs)), ctx.hw, scratch, ctx.placement,
                          ctx.whole_layers)
    return all(k == og.groups for (k, _, _), og in zip(placed, ogs, strict=True))


def capacity_shapes(ctx: _Ctx, stationary: Sequence[str]) -> list[OptionGeometry]:
    """Per layer the operand shape (lane width, packing) for ``stationary[i]``: the densest
    shape first, the one whose stationary operand and scratch slots take the fewest rows of
    all the macros, so that the most stationary operands are resident; then, while every layer stays wholly resident, shapes
    cheaper per operation, the largest energy saving per extra row first (docs/compiler.md)."""
    opts = [_shape_options(ctx, i, st) for i, st in enumerate(stationary)]
    cost = [{id(og): _full_energy(ctx, i, og) for og in o} for i, o in enumerate(opts)]
    n_m = ctx.hw.system.n_macros
    choice = [min(o, key=lambda og, i=i: (
        og.stationary_rows + n_m * scratch_slots(ctx.hw) * og.scratch_rows, cost[i][id(og)]))
              for i, o in enumerate(opts)]
    if not _all_resident(ctx, choice):
        return choice
    while True:
        best: tuple[float, int, OptionGeometry] | None = None
        for i, o in enumerate(opts):
            for og in o:
                saving = cost[i][id(choice[i])] - cost[i][id(og)]
                if saving <= 1e-9:
                    continue
                trial = choice[:i] + [og] + choice[i + 1:]
                if not _all_resident(ctx, trial):
                    continue
                score = saving / max(og.stationary_rows - choice[i].stationary_rows, 1)
                if best is None or score > best[0]:
                    best = (score, i, og)
        if best is None:
            return choice
        choice[best[1]] = best[2]


def _layer_mapping(g: LayerGeometry, og: OptionGeometry, k: int, tiles: tuple, home: int,
                   streamed_buffer_bits: int, spilled_buffer_bits: int) -> LayerMapping:
    """The mapping of one layer with ``k`` resident groups and these bits in the buffer."""
    resident_bits = layer_bits(g, og, k, 0, 0)[0]
    spilled_sizes = np.sort(stationary_group_bits(g, og))[::-1][k:]
    bs = whole_groups(memory_group_bits(g, og), streamed_buffer_bits)
    bp = whole_groups(spilled_sizes, spilled_buffer_bits)
    return LayerMapping(
        name=g.name, index=g.index, stationary=og.option.stationary, cols=og.option.cols,
        weight_shape=(og.w_rows, og.option.cols), membrane_shape=(og.v_rows, og.option.cols),
        lanes=og.lanes, n_weights=g.n_weights, n_neurons=g.n_neurons, w_bits=g.w_bits,
        v_bits=g.v_bits, groups=og.groups, rows_per_group=og.rows_per_group,
        resident_groups=int(k), resident_bits=resident_bits, tiles=tiles, home_macro=home,
        pack=og.pack, group_lanes=og.group_lanes, memory_groups=og.memory_groups,
        streamed_buffer_groups=int(bs), spilled_buffer_groups=int(bp),
        streamed_buffer_bits=streamed_buffer_bits, spilled_buffer_bits=spilled_buffer_bits)


def _build(ctx: _Ctx, policy: str, ogs: Sequence[OptionGeometry], want: Sequence[int],
           order: Sequence[int], search: dict | None = None) -> Mapping:
    """Place the wanted resident groups, allocate the buffer and assemble the mapping."""
    hw = ctx.hw
    scratch = _scratch_rows(ctx, ogs)
    scratch_reserve_fits(scratch, hw, ctx.geos[0].name)
    reqs = [Request(g.name, int(k), og.rows_per_group, og.lane_cols)
            for g, og, k in zip(ctx.geos, ogs, want, strict=True)]
    placed = place_groups(reqs, order, hw, scratch, ctx.placement, ctx.whole_layers)
    items: list[OffArrayItem] = []
    for i, (og, (k, _, _)) in enumerate(zip(ogs, placed, strict=True)):
        g = ctx.geos[i]
        ds, dp = ctx.traffic(i, og)
        # the k largest groups are resident (flexspim.compile.groups), the others spilled
        spilled = np.sort(stationary_group_bits(g, og))[::-1][k:]
        items.append(OffArrayItem(g.name, "streamed", memory_group_bits(g, og), ds))
        items.append(OffArrayItem(g.name, "spilled", spilled, dp))
    buf = allocate_buffer(items, hw)
    layers = [_layer_mapping(ctx.geos[i], og, k, tiles, home, buf[2 * i], buf[2 * i + 1])
              for i, (og, (k, tiles, home)) in enumerate(zip(ogs, placed, strict=True))]
    return Mapping(policy=policy, n_macros=hw.system.n_macros, rows=hw.macro.rows,
                   cols=hw.macro.cols, scratch_rows=scratch, layers=tuple(layers),
                   network=ctx.net.name, search=dict(search or {}))


def _fill_order(ctx: _Ctx, ogs: Sequence[OptionGeometry]) -> list[int]:
    """Layers in order of the energy saved per array row by making their stationary operand
    resident (the spilled part priced in DRAM)."""
    saving = []
    for i, og in enumerate(ogs):
        st_bits = ctx.geos[i].operand_bits(og.option.stationary)
        strm = ctx.geos[i].streamed_bits(og.option.stationary)
        e0 = ctx.energy(i, og, 0, 0.0, strm, st_bits)
        e1 = ctx.energy(i, og, og.groups, st_bits, strm, 0.0)
        saving.append((e0 - e1) / max(og.stationary_rows, 1))
    return sorted(range(len(ogs)), key=lambda j: (-saving[j], j))


def _fixed(ctx: _Ctx, policy: str, choose: Callable[[LayerGeometry], str]) -> Mapping:
    ogs = capacity_shapes(ctx, [choose(g) for g in ctx.geos])
    return _build(ctx, policy, ogs, [og.groups for og in ogs], _fill_order(ctx, ogs))


def _ws(ctx: _Ctx) -> Mapping:
    return _fixed(ctx, "ws", lambda g: "weights")


def _os(ctx: _Ctx) -> Mapping:
    return _fixed(ctx, "os", lambda g: "membranes")


def _hs_min(ctx: _Ctx) -> Mapping:
    return _fixed(ctx, "hs-min", LayerGeometry.smaller_operand)


def _traffic_bits(ctx: _Ctx, i: int, og: OptionGeometry, resident: bool) -> float:
    """Bits moved between the arrays and memory (buffer and DRAM) per inference by layer i
    under ``og``, its stationary operand wholly resident or wholly spilled."""
    g, st = ctx.geos[i], og.option.stationary
    k, r = (og.groups, g.operand_bits(st)) if resident else (0, 0.0)
    tot = layer_totals(g, og, ctx.loads[i], ctx.hw, k, r, 0.0, 0.0,
                       ctx.activity.profile(ctx.net, g.index, st, og.pack), ctx.work(i, og),
                       ctx.fire(i, og), nominal_capacity(og, ctx.hw, ctx.free_rows),
                       ctx.net.layers[g.index].leak)
    f = [FIELD_INDEX[n] for n in ("buffer_read_bits", "buffer_write_bits", "dram_read_bits",
                                  "dram_write_bits")]
    return float(tot[..., f].sum())


def traffic_stationarity(ctx: _Ctx) -> list[str]:
    """``hs-traffic``: per layer the stationary operand that minimises the memory traffic the
    estimator predicts under the macros' capacity. Each (layer, operand) is worth the traffic it
    saves, against the layer's best with nothing resident, per array row it needs at its
    densest shape; the most valuable go first while rows are left (the last one partly), and
    layers left without rows keep the operand that moves the fewest bits."""
    cands, base = [], []
    for i in range(len(ctx.geos)):
        opts = {st: min(_shape_options(ctx, i, st), key=lambda og: og.stationary_rows)
                for st in ([ctx.forced[i]] if ctx.forced[i] else STATIONARY)}
        none = {st: _traffic_bits(ctx, i, og, False) for st, og in opts.items()}
        base.append(min(none, key=lambda st: (none[st], st)))
        for st, og in opts.items():
            value = none[base[-1]] - _traffic_bits(ctx, i, og, True)
            cands.append((value / max(og.stationary_rows, 1), i, st, og))
    left = _array_rows(ctx, [c[3] for c in cands])
    chosen: dict[int, str] = {}
    for _, i, st, og in sorted(cands, key=lambda c: (-c[0], c[1], c[2])):
        if i in chosen or left <= 0:
            continue
        chosen[i] = st
        left -= og.stationary_rows
    return [chosen.get(i, base[i]) for i in range(len(ctx.geos))]


def _hs_traffic(ctx: _Ctx) -> Mapping:
    sts = traffic_stationarity(ctx)
    return _fixed(ctx, "hs-traffic", lambda g: sts[ctx.geos.index(g)])


def estimated_energy_pj(ctx: _Ctx, mapping: Mapping) -> float:
    """Estimated energy of one inference (pJ, routing and leakage included) of ``mapping``."""
    counts = estimate_counts(ctx.net, mapping, ctx.hw, ctx.activity)
    energy, _ = price(counts, ctx.prices)
    return float(energy.sum())


#: Fractions of a layer's row groups at which the ILP evaluates the energy of an option
#: (piecewise linear between them).
RESIDENCY_POINTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


def _buffer_slopes(ctx: _Ctx, i: int, og: OptionGeometry) -> tuple[float, float]:
    """Energy (pJ) a bit of the streamed, and of the spilled, operand saves in the buffer: what
    it saves at the residency where it saves least (the saving depends on residency; the
    smaller one keeps the program from promising more than the estimator gives)."""
    g = ctx.geos[i]
    sizes = np.sort(stationary_group_bits(g, og))[::-1]
    ks = sorted({int(round(f * og.groups)) for f in RESIDENCY_POINTS})
    cs, cp = -np.inf, -np.inf
    for kk in ks:
        r = float(sizes[:kk].sum())
        e = ctx.energy(i, og, kk, r, 0.0, 0.0)
        cs = max(cs, ctx.energy(i, og, kk, r, 1.0, 0.0) - e)
        if kk < og.groups:
            cp = max(cp, ctx.energy(i, og, kk, r, 0.0, 1.0) - e)
    return float(cs), float(cp if np.isfinite(cp) else 0.0)


def _residency_segments(prob, ctx: _Ctx, i: int, og: OptionGeometry, x, k, t) -> None:
    """Constrain ``t`` to lie on or above the energy of ``k`` resident groups of layer i under
    ``og``, piecewise linear through :data:`RESIDENCY_POINTS` (resident bits those of the
    largest groups)."""
    g = ctx.geos[i]
    sizes = np.sort(stationary_group_bits(g, og))[::-1]
    ks = sorted({int(round(f * og.groups)) for f in RESIDENCY_POINTS})
    es = [ctx.energy(i, og, kk, float(sizes[:kk].sum()), 0.0, 0.0) for kk in ks]
    for (k0, e0), (k1, e1) in zip(zip(ks, es, strict=True), zip(ks[1:], es[1:], strict=True),
                                  strict=False):
        slope = (e1 - e0) / max(k1 - k0, 1)
        prob += t >= (e0 - slope * k0) * x + slope * k
    if len(ks) == 1:
        prob += t >= es[0] * x


def _ilp_layer(prob, pulp, ctx: _Ctx, i: int, x: dict, k: dict, bs: dict, bp: dict,
               s_var, objective: list, cap_rows: list, cap_buf: list, scale: float
               ) -> list[OptionGeometry]:
    """Variables and constraints of layer i: one binary per option, its resident groups and the
    buffered bits; returns the options."""
    g, hw = ctx.geos[i], ctx.hw
    layer_opts = ctx.options(i)
    for j, og in enumerate(layer_opts):
        st = og.option.stationary
        b_s, b_p = float(g.streamed_bits(st)), float(g.operand_bits(st))
        x[i, j] = prob.add_variable(f"x_{i}_{j}", 0, 1, cat="Binary")
        k[i, j] = prob.add_variable(f"k_{i}_{j}", 0, og.groups, cat="Integer")
        if ctx.whole_layers:            # a layer is resident whole or not at all
            z = prob.add_variable(f"z_{i}_{j}", 0, 1, cat="Binary")
            prob += k[i, j] == og.groups * z
        bs[i, j] = prob.add_variable(f"bs_{i}_{j}", 0)
        bp[i, j] = prob.add_variable(f"bp_{i}_{j}", 0)
        # the energy along residency, piecewise linear between RESIDENCY_POINTS (exact there;
        # t lies on or above every segment's line, the upper envelope of a convex curve)
        t = prob.add_variable(f"t_{i}_{j}", 0)
        _residency_segments(prob, ctx, i, og, x[i, j], k[i, j], t)
        cs, cp = _buffer_slopes(ctx, i, og)
        objective += [scale * t, scale * cs * bs[i, j], scale * cp * bp[i, j]]
        prob += k[i, j] <= og.groups * x[i, j]
        prob += bs[i, j] <= b_s * x[i, j]
        # the k largest groups hold at most k times the largest: what stays spilled is at least
        # this (exact when the groups are equal)
        largest = float(stationary_group_bits(g, og).max(initial=0))
        spilled = b_p * x[i, j] - largest * k[i, j]
        prob += bp[i, j] <= spilled
        if not hw.system.dram.enabled:
            prob += bs[i, j] == b_s * x[i, j]
            prob += bp[i, j] == spilled
        prob += s_var >= scratch_slots(hw) * og.scratch_rows * x[i, j]
        cap_rows.append(og.rows_per_group * k[i, j])
        cap_buf += [bs[i, j], bp[i, j]]
    prob += pulp.lpSum(x[i, j] for j in range(len(layer_opts))) == 1
    return layer_opts


def _solve(ctx: _Ctx) -> tuple[list[OptionGeometry], list[int], str, float]:
    """Solve the ILP; returns (options, resident groups, solver status, objective in pJ)."""
    import pulp

    hw = ctx.hw
    n, rows = hw.system.n_macros, hw.macro.rows
    scale = 1e-3  # objective in nJ keeps the solver's numbers moderate
    prob = pulp.LpProblem("flexspim_mapping", pulp.LpMinimize)
    x, k, bs, bp = {}, {}, {}, {}
    s_var = prob.add_variable("scratch_rows", 0, rows)
    objective: list = []
    cap_rows: list = []
    cap_buf: list = []
    opts = [_ilp_layer(prob, pulp, ctx, i, x, k, bs, bp, s_var, objective, cap_rows, cap_buf,
                       scale) for i in range(len(ctx.geos))]
    prob += pulp.lpSum(cap_rows) + n * s_var <= n * rows
    prob += pulp.lpSum(cap_buf) <= hw.system.buffer_kib * BITS_PER_KIB
    prob += pulp.lpSum(objective)
    with warnings.catch_warnings():
        # PuLP 3.x announces that the bundled CBC moves to an extra in 4.0; it is still the
        # solver shipped inside the installed pulp (pyproject extra "opt")
        warnings.simplefilter("ignore", DeprecationWarning)
        status = pulp.LpStatus[prob.solve(pulp.PULP_CBC_CMD(msg=False))]
    if status != "Optimal":
        raise MappingError(
            "capacity",
            f"network '{ctx.net.name}': no mapping fits {n} macro(s) of {rows} rows and a "
            f"{hw.system.buffer_kib:g} KiB buffer with DRAM "
            f"{'enabled' if hw.system.dram.enabled else 'disabled'} (solver: {status}); "
            f"add macros, enlarge the buffer or enable DRAM")
    ogs, want = [], []
    for i in range(len(ctx.geos)):
        j = max(range(len(opts[i])), key=lambda jj: x[i, jj].value() or 0.0)
        ogs.append(opts[i][j])
        want.append(int(round(k[i, j].value() or 0.0)))
    return ogs, want, status, float(pulp.value(prob.objective)) / scale


def _optimal(ctx: _Ctx) -> Mapping:
    t0 = time.perf_counter()
    ogs, want, status, objective_pj = _solve(ctx)
    order = sorted(range(len(ogs)), key=lambda jj: (-ogs[jj].rows_per_group, jj))
    best = _build(ctx, "optimal", ogs, want, order)
    best_e = estimated_energy_pj(ctx, best)
    ilp_e = best_e
    source = "ilp"
    # the ILP's objective is linear (leakage over a spread busy time, routing left out); the
    # fixed policies are priced with the full estimate too and kept if they come out lower
    for name, fn in (("ws", _ws), ("os", _os), ("hs-min", _hs_min), ("hs-traffic", _hs_traffic)):
        try:
            cand = fn(ctx)
        except MappingError:
            continue
        e = estimated_energy_pj(ctx, cand)
        if e < best_e - 1e-6 * abs(best_e):
            best, best_e, source = cand, e, name
    search = {"solver": "pulp-cbc", "status": status, "ilp_objective_pj": objective_pj,
              "ilp_mapping_energy_pj": ilp_e,
              "estimated_energy_pj": best_e, "solve_s": time.perf_counter() - t0,
              "source": source}
    return Mapping(policy="optimal", n_macros=best.n_macros, rows=best.rows, cols=best.cols,
                   scratch_rows=best.scratch_rows, layers=best.layers, network=best.network,
                   search=search)


#: Policy registry: name -> function building the mapping from the compile context.
_POLICY_FUNCS: dict[str, Callable[[_Ctx], Mapping]] = {
    "ws": _ws, "os": _os, "hs-min": _hs_min, "hs-traffic": _hs_traffic, "optimal": _optimal,
}


def compile_network(net: IntNetwork, hw: Hardware, *, policy: str = "hs-min",
                    activity: Activity | None = None,
                    stationary: MappingType[str, str] | None = None,
                    placement: str = "balanced",
                    shapes: MappingType[str, int | tuple[int, int]] | None = None,
                    whole_layers: bool = False) -> Mapping:
    """Map ``net`` onto ``hw.system.n_macros`` macros with ``policy`` (one of
    :data:`POLICIES`); ``activity`` (default: :meth:`Activity.from_sparsity` defaults) weighs
    the estimated energy that chooses shapes, residency and (for ``optimal``) stationarity.
    ``stationary`` forces layers (``{"conv1": "os"}``); ``shapes`` forces a layer's lane width
    or (lane width, packing) (``{"conv1": (4, 2)}``); ``placement`` is one of
    :data:`~flexspim.compile.placement.PLACEMENTS`; with ``whole_layers`` a layer's stationary
    operand is resident whole or not at all (paper Fig. 4's layer-wise granularity).

    Raises MappingError naming the rule, the layer and what is short.
    """
    if policy not in _POLICY_FUNCS:
        raise ConfigError(f"unknown policy '{policy}'; use one of {', '.join(POLICIES)}")
    if placement not in PLACEMENTS:
        raise ConfigError(f"unknown placement '{placement}'; use one of {', '.join(PLACEMENTS)}")
    ctx = dataclasses.replace(_context(net, hw, activity, stationary, placement, shapes),
                              whole_layers=bool(whole_layers))
    mapping = _POLICY_FUNCS[policy](ctx)
    search = dict(mapping.search)
    if policy != "optimal":
        search["estimated_energy_pj"] = estimated_energy_pj(ctx, mapping)
    search["activity"] = ctx.activity.describe()
    search["forced"] = {g.name: f for g, f in zip(ctx.geos, ctx.forced, strict=True) if f}
    search["placement"] = placement
    search["whole_layers"] = bool(whole_layers)
    return Mapping(policy=mapping.policy, n_macros=mapping.n_macros, rows=mapping.rows,
                   cols=mapping.cols, scratch_rows=mapping.scratch_rows, layers=mapping.layers,
                   network=mapping.network, search=search, hardware=hw)

"""Stationarity policies and :func:`compile_network` (paper §III, Fig. 4; docs/compiler.md).

- ``ws``: weights stationary in every layer (the classic CIM-SNN dataflow);
- ``os``: membranes stationary in every layer;
- ``hs-min``: the paper's hybrid rule, the smaller operand of each layer stays;
- ``optimal``: an exact integer linear program (PuLP/CBC) over every layer's stationary
  operand, lane width and resident row groups, and the buffer share of every off-array
  operand, minimising the modelled energy of the run (:mod:`flexspim.compile.model`) under the
  macros' rows and the buffer size.

The fixed policies choose, per layer, the lane width with the lowest modelled energy for their
stationary operand, then fill the arrays with the row groups that save the most energy per row.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flexspim.compile.activity import Activity
from flexspim.compile.geometry import (
    STATIONARY,
    LayerGeometry,
    Option,
    OptionGeometry,
    network_geometry,
    option_geometry,
)
from flexspim.compile.mapping import LayerMapping, Mapping
from flexspim.compile.model import (
    LayerTotals,
    Prices,
    activity_totals,
    layer_counts,
    mapping_counts,
)
from flexspim.compile.placement import (
    OffArrayItem,
    Request,
    allocate_buffer,
    place_groups,
)
from flexspim.compile.rules import (
    BITS_PER_KIB,
    scratch_reserve_fits,
    scratch_rows_fit,
)
from flexspim.errors import ConfigError, MappingError
from flexspim.hw import Hardware
from flexspim.net.network import IntNetwork

POLICIES: tuple[str, ...] = ("ws", "os", "hs-min", "optimal")


@dataclass(frozen=True)
class _Ctx:
    """Everything a policy needs: geometry, activity totals (per sample) and prices."""

    net: IntNetwork
    hw: Hardware
    activity: Activity
    geos: tuple[LayerGeometry, ...]
    totals: tuple[LayerTotals, ...]
    prices: Prices
    shapes: tuple[tuple[int, ...], ...]

    def energy(self, i: int, og: OptionGeometry, k: float, bs: float, bp: float) -> float:
        """Modelled energy (pJ per sample, routing excluded) of layer i under one choice."""
        c = layer_counts(self.geos[i], og, k, bs, bp, self.totals[i], 1,
                         self.activity.n_timesteps, self.hw.macro.cols)
        return self.prices.total_pj(c)

    def traffic(self, i: int, og: OptionGeometry, k: float) -> tuple[float, float]:
        """Memory traffic per buffered bit of the streamed and of the spilled item."""
        def level_bits(bs: float, bp: float) -> float:
            c = layer_counts(self.geos[i], og, k, bs, bp, self.totals[i], 1,
                             self.activity.n_timesteps, self.hw.macro.cols)
            return c.buffer_read_bits + c.buffer_write_bits
        base = level_bits(0.0, 0.0)
        return level_bits(1.0, 0.0) - base, level_bits(0.0, 1.0) - base


def _context(net: IntNetwork, hw: Hardware, activity: Activity | None) -> _Ctx:
    act = activity if activity is not None else Activity.from_sparsity(net)
    act.check(net)
    geos = network_geometry(net)
    outs = [act.output_events(i) for i in range(len(net.layers))]
    totals = tuple(activity_totals(net, act.input_events, outs))
    shapes = tuple(scratch_rows_fit(g, hw) for g in geos)
    return _Ctx(net, hw, act, geos, totals, Prices.from_hw(hw), shapes)


def _best_shape(ctx: _Ctx, i: int, stationary: str) -> OptionGeometry:
    """Lane width with the lowest energy for ``stationary``, fully resident, off-array in the
    buffer (ties: the widest span)."""
    best: tuple[float, OptionGeometry] | None = None
    for c in ctx.shapes[i]:
        og = option_geometry(ctx.geos[i], Option(stationary, c), ctx.hw)
        e = ctx.energy(i, og, og.groups, ctx.geos[i].streamed_bits(stationary), 0.0)
        if best is None or e < best[0] - 1e-9:
            best = (e, og)
    if best is None:
        raise MappingError("scratch-rows", f"layer '{ctx.geos[i].name}': no operand shape "
                           f"fits the macro's rows; use a larger macro")
    return best[1]


def _build(ctx: _Ctx, policy: str, ogs: Sequence[OptionGeometry], want: Sequence[int],
           order: Sequence[int], search: dict | None = None) -> Mapping:
    """Place the wanted resident groups, allocate the buffer and assemble the mapping."""
    hw = ctx.hw
    scratch = max(og.scratch_rows for og in ogs)
    scratch_reserve_fits(scratch, hw, ctx.geos[0].name)
    reqs = [Request(g.name, int(k), og.rows_per_group, og.lane_cols)
            for g, og, k in zip(ctx.geos, ogs, want, strict=True)]
    placed = place_groups(reqs, order, hw, scratch)
    items: list[OffArrayItem] = []
    for i, (og, (k, _, _)) in enumerate(zip(ogs, placed, strict=True)):
        g = ctx.geos[i]
        st = og.option.stationary
        ds, dp = ctx.traffic(i, og, k)
        spilled = g.operand_bits(st) * (1.0 - (k / og.groups if og.groups else 1.0))
        items.append(OffArrayItem(g.name, "streamed", float(g.streamed_bits(st)), ds))
        items.append(OffArrayItem(g.name, "spilled", spilled, dp))
    buf = allocate_buffer(items, hw)
    layers = []
    for i, (og, (k, tiles, home)) in enumerate(zip(ogs, placed, strict=True)):
        g = ctx.geos[i]
        layers.append(LayerMapping(
            name=g.name, index=g.index, stationary=og.option.stationary, cols=og.option.cols,
            weight_shape=(og.w_rows, og.option.cols), membrane_shape=(og.v_rows, og.option.cols),
            lanes=og.lanes, n_weights=g.n_weights, n_neurons=g.n_neurons, w_bits=g.w_bits,
            v_bits=g.v_bits, groups=og.groups, rows_per_group=og.rows_per_group,
            resident_groups=int(k), tiles=tiles, home_macro=home,
            streamed_buffer_bits=buf[2 * i], streamed_dram_bits=items[2 * i].bits - buf[2 * i],
            spilled_buffer_bits=buf[2 * i + 1],
            spilled_dram_bits=items[2 * i + 1].bits - buf[2 * i + 1]))
    return Mapping(policy=policy, n_macros=hw.system.n_macros, rows=hw.macro.rows,
                   cols=hw.macro.cols, scratch_rows=scratch, layers=tuple(layers),
                   network=ctx.net.name, search=dict(search or {}))


def _fixed(ctx: _Ctx, policy: str, choose: Callable[[LayerGeometry], str]) -> Mapping:
    ogs = [_best_shape(ctx, i, choose(g)) for i, g in enumerate(ctx.geos)]
    saving = []
    for i, og in enumerate(ogs):
        st_bits = ctx.geos[i].operand_bits(og.option.stationary)
        strm = ctx.geos[i].streamed_bits(og.option.stationary)
        e0 = ctx.energy(i, og, 0, strm, st_bits)
        e1 = ctx.energy(i, og, og.groups, strm, 0.0)
        saving.append((e0 - e1) / max(og.stationary_rows, 1))
    order = sorted(range(len(ogs)), key=lambda j: (-saving[j], j))
    return _build(ctx, policy, ogs, [og.groups for og in ogs], order)


def _ws(ctx: _Ctx) -> Mapping:
    return _fixed(ctx, "ws", lambda g: "weights")


def _os(ctx: _Ctx) -> Mapping:
    return _fixed(ctx, "os", lambda g: "membranes")


def _hs_min(ctx: _Ctx) -> Mapping:
    return _fixed(ctx, "hs-min", LayerGeometry.smaller_operand)


def modelled_energy_pj(ctx: _Ctx, mapping: Mapping) -> float:
    """Modelled energy per sample (pJ, routing included) of ``mapping`` under the context."""
    counts = mapping_counts(ctx.net, mapping, ctx.hw, ctx.totals, 1, ctx.activity.n_timesteps)
    return float(sum(ctx.prices.total_pj(c) for c in counts.layers))


def _optimal(ctx: _Ctx) -> Mapping:
    import pulp

    t0 = time.perf_counter()
    hw = ctx.hw
    n, rows = hw.system.n_macros, hw.macro.rows
    scale = 1e-3  # objective in nJ keeps the solver's numbers moderate
    prob = pulp.LpProblem("flexspim_mapping", pulp.LpMinimize)
    opts: list[list[OptionGeometry]] = []
    x, k, bs, bp = {}, {}, {}, {}
    s_var = prob.add_variable("scratch_rows", 0, rows)
    objective = []
    cap_rows, cap_buf = [], []
    for i, g in enumerate(ctx.geos):
        layer_opts = [option_geometry(g, Option(st, c), hw) for st in STATIONARY
                      for c in ctx.shapes[i]]
        opts.append(layer_opts)
        for j, og in enumerate(layer_opts):
            st = og.option.stationary
            b_s, b_p = float(g.streamed_bits(st)), float(g.operand_bits(st))
            x[i, j] = prob.add_variable(f"x_{i}_{j}", 0, 1, cat="Binary")
            k[i, j] = prob.add_variable(f"k_{i}_{j}", 0, og.groups, cat="Integer")
            bs[i, j] = prob.add_variable(f"bs_{i}_{j}", 0)
            bp[i, j] = prob.add_variable(f"bp_{i}_{j}", 0)
            base = ctx.energy(i, og, 0, 0.0, 0.0)
            ck = (ctx.energy(i, og, og.groups, 0.0, 0.0) - base) / max(og.groups, 1)
            cs = ctx.energy(i, og, 0, 1.0, 0.0) - base
            cp = ctx.energy(i, og, 0, 0.0, 1.0) - base
            objective += [scale * base * x[i, j], scale * ck * k[i, j],
                          scale * cs * bs[i, j], scale * cp * bp[i, j]]
            prob += k[i, j] <= og.groups * x[i, j]
            prob += bs[i, j] <= b_s * x[i, j]
            spilled = b_p * x[i, j] - (b_p / max(og.groups, 1)) * k[i, j]
            prob += bp[i, j] <= spilled
            if not hw.system.dram.enabled:
                prob += bs[i, j] == b_s * x[i, j]
                prob += bp[i, j] == spilled
            prob += s_var >= og.scratch_rows * x[i, j]
            cap_rows.append(og.rows_per_group * k[i, j])
            cap_buf += [bs[i, j], bp[i, j]]
        prob += pulp.lpSum(x[i, j] for j in range(len(layer_opts))) == 1
    prob += pulp.lpSum(cap_rows) + n * s_var <= n * rows
    prob += pulp.lpSum(cap_buf) <= hw.system.buffer_kib * BITS_PER_KIB
    prob += pulp.lpSum(objective)
    with warnings.catch_warnings():
        # PuLP 3.x announces that the bundled CBC moves to an extra in 4.0; it is still the
        # solver shipped inside the installed pulp (pyproject extra "opt")
        warnings.simplefilter("ignore", DeprecationWarning)
        status = prob.solve(pulp.PULP_CBC_CMD(msg=False))
    status_name = pulp.LpStatus[status]
    if status_name != "Optimal":
        raise MappingError(
            "capacity",
            f"network '{ctx.net.name}': no mapping fits {n} macro(s) of {rows} rows and a "
            f"{hw.system.buffer_kib:g} KiB buffer with DRAM "
            f"{'enabled' if hw.system.dram.enabled else 'disabled'} (solver: {status_name}); "
            f"add macros, enlarge the buffer or enable DRAM")
    ogs, want, dens = [], [], []
    for i in range(len(ctx.geos)):
        j = max(range(len(opts[i])), key=lambda jj: x[i, jj].value() or 0.0)
        og = opts[i][j]
        ogs.append(og)
        want.append(int(round(k[i, j].value() or 0.0)))
        dens.append(og.rows_per_group)
    order = sorted(range(len(ogs)), key=lambda jj: (-dens[jj], jj))
    objective_pj = float(pulp.value(prob.objective)) / scale
    solve_s = time.perf_counter() - t0
    best = _build(ctx, "optimal", ogs, want, order)
    best_e = modelled_energy_pj(ctx, best)
    source = "ilp"
    for name, fn in (("ws", _ws), ("os", _os), ("hs-min", _hs_min)):
        try:
            cand = fn(ctx)
        except MappingError:
            continue
        e = modelled_energy_pj(ctx, cand)
        if e < best_e - 1e-6 * abs(best_e):
            best, best_e, source = cand, e, name
    search = {"solver": "pulp-cbc", "status": status_name, "ilp_objective_pj": objective_pj,
              "modelled_energy_pj": best_e, "solve_s": solve_s, "source": source}
    return Mapping(policy="optimal", n_macros=best.n_macros, rows=best.rows, cols=best.cols,
                   scratch_rows=best.scratch_rows, layers=best.layers, network=best.network,
                   search=search)


#: Policy registry: name -> function building the mapping from the compile context.
_POLICY_FUNCS: dict[str, Callable[[_Ctx], Mapping]] = {
    "ws": _ws, "os": _os, "hs-min": _hs_min, "optimal": _optimal,
}


def compile_network(net: IntNetwork, hw: Hardware, *, policy: str = "hs-min",
                    activity: Activity | None = None) -> Mapping:
    """Map ``net`` onto ``hw.system.n_macros`` macros with ``policy`` (one of
    :data:`POLICIES`); ``activity`` (default: :meth:`Activity.from_sparsity` defaults) weighs
    the modelled energy that chooses shapes, residency and (for ``optimal``) stationarity.

    Raises MappingError naming the rule, the layer and what is short.
    """
    if policy not in _POLICY_FUNCS:
        raise ConfigError(f"unknown policy '{policy}'; use one of {', '.join(POLICIES)}")
    ctx = _context(net, hw, activity)
    mapping = _POLICY_FUNCS[policy](ctx)
    if policy != "optimal":
        search = {"modelled_energy_pj": modelled_energy_pj(ctx, mapping)}
        mapping = Mapping(policy=mapping.policy, n_macros=mapping.n_macros, rows=mapping.rows,
                          cols=mapping.cols, scratch_rows=mapping.scratch_rows,
                          layers=mapping.layers, network=mapping.network, search=search)
    return mapping

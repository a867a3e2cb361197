"""Energy and latency of macro operations (docs/design.md §4 ``energy``, macro half; docs/energy.md).

Units: pJ (energy), ns (time), mW / uW (power), bits.

Model (paper §II-III; parameters in :class:`flexspim.hw.MacroEnergy`, each with its source)::

    E_row_op(V) = (n_active * e_col_active_pj
                   + n_standby * e_col_active_pj * (1 - standby_saving)
                   + e_row_pj) * s(V),            s(V) = (V / v_ref) ** voltage_exponent
    E_read(V)   = bits * e_read_pj_per_bit * s(V),  E_write(V) = bits * e_write_pj_per_bit * s(V)
    t_row_op    = max(phases_per_add / f_cim, 1 / f_sys)

Energies of workloads come from the bit-level macro model's counters
(:class:`flexspim.macro.MacroCounters`): column energy is spread evenly over the
``phases_per_add`` phases of a row operation, so ``active_col_phases / phases_per_add`` columns
are charged ``e_col_active_pj`` each. :func:`calibrate_macro_energy` derives the parameters from
the paper's power figures; :func:`macro_characterisation` is the ``flexspim macro-sweep`` study.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from flexspim.errors import ConfigError
from flexspim.hw.spec import Hardware, MacroEnergy, MacroSpec
from flexspim.macro import MacroCounters, in_memory_add

#: The paper's figures the model is calibrated on and compared with (arXiv 2410.23082).
PAPER_FIGURES: dict[str, float] = {
    "pj_per_sop_8w16v_0v9": 5.7,   # §III / Table I: 5.7 pJ/SOP at 0.9 V, 8-bit W / 16-bit V
    "pj_per_sop_8w16v_1v1": 7.2,   # §III / Table I: 7.2 pJ/SOP at 1.1 V
    "full_power_mw_0v9": 6.8,      # Table I: 6.8 mW at 0.9 V / 75.5 MHz
    "full_power_mw_1v1": 17.9,     # Table I: 17.9 mW at 1.1 V / 157 MHz
    "standby_saving": 0.87,        # §II: precharge standby saves 87% of a column's energy
    "max_gain_vs_rowwise": 4.3,    # Fig. 7(a): up to 4.3x less energy than row-wise stacking
    "shape_spread_16b_32och": 0.24,  # Fig. 7(a): < 24% across shapes, 16 bit, 32 out channels
}

#: Fraction of a full-row operation's energy taken by wordline drivers, row decoders and control
#: (assumption: CACTI 7's decoder + wordline share of a 16 kB 40 nm SRAM read, ~10.5%).
ROW_SHARE_DEFAULT = 0.105


# ----------------------------------------------------------------------------- primitives

def voltage_scale(hw: Hardware) -> float:
    """Energy scale factor at ``hw.voltage``: ``(V / v_ref) ** voltage_exponent`` (unitless)."""
    me = hw.macro_energy
    return float((hw.voltage / me.v_ref) ** me.voltage_exponent)


def _count(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
            or not math.isfinite(value):
        raise ConfigError(f"{name} = {value!r}: expected a count >= 0")
    return float(value)


def row_op_energy_pj(hw: Hardware, active_cols: int, standby_cols: int | None = None) -> float:
    """Energy (pJ) of one row operation, all five phases, at ``hw.voltage``.

    ``standby_cols`` defaults to ``hw.macro.cols - active_cols`` (paper §II: unused columns in
    precharge standby use ``1 - standby_saving`` of an active column's energy).
    """
    a = _count(active_cols, "active_cols")
    s = hw.macro.cols - a if standby_cols is None else _count(standby_cols, "standby_cols")
    if s < 0:
        raise ConfigError(f"active_cols = {active_cols} exceeds the macro's {hw.macro.cols} "
                          f"columns")
    me = hw.macro_energy
    e = a * me.e_col_active_pj + s * me.e_col_active_pj * (1.0 - me.standby_saving) + me.e_row_pj
    return e * voltage_scale(hw)


def row_io_energy_pj(hw: Hardware, read_bits: int = 0, write_bits: int = 0) -> float:
    """Energy (pJ) of reading ``read_bits`` and writing ``write_bits`` from outside the array."""
    me = hw.macro_energy
    r = _count(read_bits, "read_bits")
    w = _count(write_bits, "write_bits")
    return (r * me.e_read_pj_per_bit + w * me.e_write_pj_per_bit) * voltage_scale(hw)


def counters_energy_breakdown_pj(hw: Hardware, counters: MacroCounters) -> dict[str, float]:
    """Energy (pJ) of what ``counters`` counted, by component.

    Keys: ``active_columns``, ``standby_columns`` (column-phases / phases_per_add columns),
    ``row_overhead`` (row operations x e_row_pj), ``row_reads`` and ``row_writes`` (whole rows of
    ``hw.macro.cols`` bits each).
    """
    me, p, scale = hw.macro_energy, hw.macro.phases_per_add, voltage_scale(hw)
    e_col = me.e_col_active_pj / p
    return {
        "active_columns": counters.active_col_phases * e_col * scale,
        "standby_columns": counters.standby_col_phases * e_col * (1.0 - me.standby_saving)
        * scale,
        "row_overhead": counters.row_ops * me.e_row_pj * scale,
        "row_reads": counters.row_reads * hw.macro.cols * me.e_read_pj_per_bit * scale,
        "row_writes": counters.row_writes * hw.macro.cols * me.e_write_pj_per_bit * scale,
    }


def counters_energy_pj(hw: Hardware, counters: MacroCounters) -> float:
    """Total energy (pJ) of ``counters``: column-phases, row operations, row reads and writes."""
    return float(sum(counters_energy_breakdown_pj(hw, counters).values()))


def row_op_time_ns(hw: Hardware) -> float:
    """Time (ns) of one row operation: ``max(phases_per_add / f_cim, 1 / f_sys)``.

    Paper §II: five phases of the 942 MHz CIM clock (5.3 ns) fit in one system cycle (13.2 ns at
    75.5 MHz, 6.4 ns at 157 MHz), so the system clock issues one row operation per cycle.
    """
    m = hw.macro
    return max(m.phases_per_add * 1e3 / m.f_cim_mhz, 1e3 / hw.clock_mhz)


def leakage_power_uw(hw: Hardware) -> float:
    """Leakage power (uW) of one macro at ``hw.voltage``.

    ``leakage_uw`` is given at ``v_ref``; the leakage current is taken as constant over the
    characterised 0.9-1.1 V range (assumption), so the power scales as V / v_ref.
    """
    me = hw.macro_energy
    return me.leakage_uw * hw.voltage / me.v_ref


# ----------------------------------------------------------------------------- per SOP

def layout_counters(spec: MacroSpec, *, w_bits: int, v_bits: int, cols: int | None = None,
                    n_lanes: int | None = None, lanes_per_row: int | None = None
                    ) -> MacroCounters:
    """Counters of one addition of ``n_lanes`` lanes in a layout, run through the macro model.

    ``n_lanes`` defaults to one full row group (``lanes_per_row`` or as many lanes as fit the
    columns). The operand values do not change the counts, so zeros are added.
    """
    c = min(v_bits, spec.cols) if cols is None else cols
    if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= spec.cols:
        raise ConfigError(f"cols = {c!r}: must be in [1, {spec.cols}] columns per lane")
    n = (lanes_per_row or spec.cols // c) if n_lanes is None else n_lanes
    zeros = [0] * int(n)
    return in_memory_add(zeros, zeros, v_bits=v_bits, w_bits=w_bits, cols=c, spec=spec,
                         lanes_per_row=lanes_per_row).counters


def pj_per_sop(hw: Hardware, *, w_bits: int, v_bits: int, cols: int | None = None,
               n_lanes: int | None = None, lanes_per_row: int | None = None) -> float:
    """Energy per SOP (pJ) of a lane layout, from the macro model's counters.

    ``cols`` columns per lane (default ``v_bits``: each membrane one row), ``n_lanes`` lanes
    added together (default: one full row group), ``lanes_per_row`` lanes side by side (default:
    as many as fit). Dynamic energy only (leakage is a power, see :func:`leakage_power_uw`).
    """
    counters = layout_counters(hw.macro, w_bits=w_bits, v_bits=v_bits, cols=cols,
                               n_lanes=n_lanes, lanes_per_row=lanes_per_row)
    if counters.sops == 0:
        raise ConfigError("pj_per_sop: the layout has no lanes; pass n_lanes >= 1")
    return counters_energy_pj(hw, counters) / counters.sops


def full_activity_power_mw(hw: Hardware, *, w_bits: int = 8, v_bits: int = 16) -> float:
    """Macro power (mW) at full activity: one full-row operation every row-op time, plus leakage.

    Full activity: every lane of a full row (default layout, ``cols = v_bits``) adds in every
    row operation, and a row operation is issued every :func:`row_op_time_ns`.
    """
    counters = layout_counters(hw.macro, w_bits=w_bits, v_bits=v_bits)
    e_row_op = counters_energy_pj(hw, counters) / counters.row_ops
    return e_row_op / row_op_time_ns(hw) + leakage_power_uw(hw) * 1e-3


# ----------------------------------------------------------------------------- calibration

def calibrate_macro_energy(spec: MacroSpec | None = None, *,
                           power_high_mw: float = 17.9, v_high: float = 1.1,
                           f_high_mhz: float = 157.0, power_low_mw: float = 6.8,
                           v_low: float = 0.9, f_low_mhz: float = 75.5,
                           row_share: float = ROW_SHARE_DEFAULT,
                           base: MacroEnergy | None = None) -> MacroEnergy:
    """MacroEnergy whose full-activity power equals the paper's two power figures (Table I).

    Calibration layout (docs/energy.md): 8-bit weights, 16-bit membranes, each membrane one row x
    16 columns, 16 lanes per 256-column row, one row operation per system cycle. Steps:

    1. the macro model gives the active columns of one full-row operation of that layout;
    2. E_high = (power_high - leakage(v_high)) / f_high is the energy of one row operation at
       v_high (pJ); ``row_share`` of it is ``e_row_pj``, the rest is spread over the active
       columns (``e_col_active_pj``);
    3. E_low at v_low the same way; ``voltage_exponent = ln(E_low / E_high) / ln(v_low / v_high)``.

    ``v_ref = v_high``; ``standby_saving``, read/write energies and leakage come from ``base``
    (default: the MacroEnergy defaults).
    """
    spec = spec if spec is not None else MacroSpec()
    base = base if base is not None else MacroEnergy()
    counters = layout_counters(spec, w_bits=8, v_bits=16)
    active_cols = counters.active_col_phases / counters.phases
    leak_high_mw = base.leakage_uw * 1e-3
    leak_low_mw = base.leakage_uw * 1e-3 * v_low / v_high
    e_high = (power_high_mw - leak_high_mw) / f_high_mhz * 1e3
    e_low = (power_low_mw - leak_low_mw) / f_low_mhz * 1e3
    return dataclasses.replace(
        base, v_ref=v_high, e_row_pj=row_share * e_high,
        e_col_active_pj=(1.0 - row_share) * e_high / active_cols,
        voltage_exponent=math.log(e_low / e_high) / math.log(v_low / v_high))


# ----------------------------------------------------------------------------- technology

#: Energy per operation of a CMOS node against its supply V, ``a V^2 + b V + c`` (relative
#: units, the same for every node), from Stillmaker & Baas, "Scaling equations for the accurate
#: prediction of CMOS device performance from 180 nm to 7 nm", Integration, the VLSI Journal 58
#: (2017) 74-81, energy table, as UCLA NanoCAD's nodeScale tabulates it (the 65 nm polynomial is
#: the one the authors' corrigendum evaluates at 1.3 V). 40 nm (FlexSpIM) is not tabulated;
#: ``LP45`` stands in for it (docs/energy.md, "Another node: the SpiDR preset").
TECH_ENERGY_POLY: dict[str, tuple[float, float, float]] = {
    "65": (3.755, -4.398, 1.975),
    "LP45": (1.103, -0.362, 0.2767),
}


def technology_energy_factor(node: str, voltage: float) -> float:
    """Relative energy per operation of ``node`` at ``voltage`` (Stillmaker & Baas, 2017)."""
    if node not in TECH_ENERGY_POLY:
        raise ConfigError(f"technology node '{node}': no energy scaling for it; known: "
                          f"{', '.join(TECH_ENERGY_POLY)}")
    if not 0.5 <= voltage <= 1.5:
        raise ConfigError(f"voltage = {voltage!r} V: the scaling equations are fitted over "
                          f"0.5-1.5 V; choose a supply inside it")
    a, b, c = TECH_ENERGY_POLY[node]
    return a * voltage ** 2 + b * voltage + c


def node_energy_ratio(to_node: str, from_node: str, voltage: float) -> float:
    """Energy of the same circuit in ``to_node`` over its energy in ``from_node``, both at
    ``voltage`` (unitless)."""
    return technology_energy_factor(to_node, voltage) / technology_energy_factor(from_node,
                                                                                 voltage)


def scale_macro_energy(base: MacroEnergy, ratio: float) -> MacroEnergy:
    """``base`` with every energy (active column, row, read and write per bit) times ``ratio``;
    the reference supply, voltage exponent, standby saving and leakage are kept."""
    return dataclasses.replace(
        base, e_col_active_pj=base.e_col_active_pj * ratio, e_row_pj=base.e_row_pj * ratio,
        e_read_pj_per_bit=base.e_read_pj_per_bit * ratio,
        e_write_pj_per_bit=base.e_write_pj_per_bit * ratio)


# ----------------------------------------------------------------------------- the sweep

#: Weight and membrane widths of the width sweep (bits).
SWEEP_W_BITS: tuple[int, ...] = (1, 2, 4, 8, 16)
SWEEP_V_BITS: tuple[int, ...] = (4, 8, 12, 16, 24, 32)
#: Output-channel counts (lanes updated by one input event) of the Fig. 7(a) comparison.
SWEEP_CHANNELS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def _at(hw: Hardware, voltage: float) -> Hardware:
    return hw.with_(voltage=voltage, f_sys_mhz=None, allow_extrapolation=True)


def supply_points(hw: Hardware) -> tuple[float, ...]:
    """The characterised supplies the calibration rows are given at: ``macro.v_min`` and
    ``macro.v_max`` (0.9 and 1.1 V for FlexSpIM; one point when they are equal)."""
    return tuple(sorted({hw.macro.v_min, hw.macro.v_max}))


def voltage_tag(voltage: float) -> str:
    """The key suffix of a supply: ``0v9`` for 0.9 V, ``1v1`` for 1.1 V, ``0v85`` for 0.85 V."""
    text = f"{voltage:.2f}".rstrip("0")
    return (text + "0" if text.endswith(".") else text).replace(".", "v")


def paper_figures(hw: Hardware) -> dict[str, float]:
    """The FlexSpIM paper's figures (:data:`PAPER_FIGURES`) when ``hw`` describes FlexSpIM; for
    another chip none: those figures are FlexSpIM's measurements, not that chip's."""
    return dict(PAPER_FIGURES) if hw.name == Hardware().name else {}


def shapes_for(bits: int) -> list[tuple[int, int]]:
    """Operand shapes (rows, cols) that hold ``bits`` exactly: cols divides bits."""
    return [(bits // c, c) for c in range(1, bits + 1) if bits % c == 0]


def _shape_point(hw: Hardware, w_bits: int, v_bits: int, channels: int, rows: int, cols: int,
                 lanes_per_row: int | None = None) -> dict[str, Any]:
    c = layout_counters(hw.macro, w_bits=w_bits, v_bits=v_bits, cols=cols, n_lanes=channels,
                        lanes_per_row=lanes_per_row)
    return {"shape": f"{rows}x{cols}", "rows": rows, "cols": cols, "row_ops": c.row_ops,
            "pj_per_sop": counters_energy_pj(hw, c) / c.sops}


#: Kernel taps of one event available for lane packing in the Fig. 7(a) shape study: a 3 x 3
#: convolution (the kernels of the paper's SCNN and of every network preset here).
PACKING_TAPS = 9


def packed_lanes(spec: MacroSpec, channels: int, cols: int, taps: int = PACKING_TAPS) -> int:
    """Lanes one event fills in a row with lane packing: ``channels`` lanes per kernel tap and
    as many taps side by side as fit (at most ``taps``), at least one tap's lanes."""
    per_row = spec.cols // cols
    pack = max(1, min(taps, per_row // channels)) if channels <= per_row else 1
    return min(channels * pack, max(per_row, channels))


def macro_characterisation(hw: Hardware, *, w_bits: int = 8, v_bits: int = 16,
                           channels_for_spread: int = 32,
                           progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The ``flexspim macro-sweep`` study: every number comes from the macro model's counters.

    Definitions (docs/energy.md):

    - ``pj_per_sop_8w16v_0v9`` / ``_1v1``: energy per SOP of the calibration layout at 0.9 / 1.1 V;
      ``full_power_mw_0v9`` / ``_1v1``: :func:`full_activity_power_mw` there (the supplies are
      :func:`supply_points`, tagged by :func:`voltage_tag`: ``_0v85`` for the SpiDR preset).
    - ``paper``: :func:`paper_figures` (empty for a chip other than FlexSpIM); ``chip``: its name.
    - ``standby_saving``: 1 - (energy per standby column-phase) / (energy per active
      column-phase), measured on a half-filled row (8 lanes of 16 columns).
    - row-wise stacking (paper Fig. 7(a)): one operand per row (shape 1 x v_bits), one lane per
      row operation, the other columns in standby. ``gain(K)`` for K output channels (lanes
      updated by one event) = row-wise energy per SOP / the best flexible shape's;
      ``max_gain_vs_rowwise`` is the largest over :data:`SWEEP_CHANNELS`.
    - ``shape_spread_16b_32och``: over the shapes rows x cols = v_bits (cols dividing v_bits) of
      ``channels_for_spread`` lanes, max / min energy per SOP - 1;
      ``shape_spread_16b_32och_half_row``: the same over the shapes whose lanes fill at least
      half a row (the others leave most columns in standby for many row operations);
      ``shape_spread_16b_32och_packed``: the same over all shapes with lane packing, the lanes of
      up to :data:`PACKING_TAPS` kernel taps of one event side by side in a row
      (:func:`packed_lanes`).

    The width and shape tables are at ``hw.voltage``. ``progress(label)`` is called once per
    sweep point (for a progress bar).
    """
    tick = progress if progress is not None else (lambda _label: None)
    out: dict[str, Any] = {"chip": hw.name, "voltage_v": hw.voltage, "f_sys_mhz": hw.clock_mhz,
                           "w_bits": w_bits, "v_bits": v_bits,
                           "supply_points_v": list(supply_points(hw))}
    for v in supply_points(hw):
        hv, tag = _at(hw, v), voltage_tag(v)
        out[f"pj_per_sop_8w16v_{tag}"] = pj_per_sop(hv, w_bits=8, v_bits=16)
        out[f"full_power_mw_{tag}"] = full_activity_power_mw(hv, w_bits=8, v_bits=16)
        out[f"f_sys_mhz_{tag}"] = hv.clock_mhz
        tick(f"calibration point {v} V")
    half = layout_counters(hw.macro, w_bits=8, v_bits=16, n_lanes=hw.macro.cols // 32)
    parts = counters_energy_breakdown_pj(hw, half)
    per_active = parts["active_columns"] / half.active_col_phases
    per_standby = parts["standby_columns"] / half.standby_col_phases
    out["standby_saving"] = 1.0 - per_standby / per_active
    tick("standby")

    widths = []
    for vb in SWEEP_V_BITS:
        for wb in SWEEP_W_BITS:
            if wb <= vb:
                widths.append({"w_bits": wb, "v_bits": vb, "cols": min(vb, hw.macro.cols),
                               "pj_per_sop": pj_per_sop(hw, w_bits=wb, v_bits=vb)})
        tick(f"widths v={vb}")
    out["width_sweep"] = widths

    channels = []
    for k in SWEEP_CHANNELS:
        rowwise = _shape_point(hw, w_bits, v_bits, k, 1, v_bits, lanes_per_row=1)
        flexible = [_shape_point(hw, w_bits, v_bits, k, r, c) for r, c in shapes_for(v_bits)]
        best = min(flexible, key=lambda p: p["pj_per_sop"])
        channels.append({"channels": k, "rowwise_pj_per_sop": rowwise["pj_per_sop"],
                         "best_shape": best["shape"], "best_pj_per_sop": best["pj_per_sop"],
                         "gain": rowwise["pj_per_sop"] / best["pj_per_sop"],
                         "shapes": flexible})
        tick(f"channels {k}")
    out["channel_sweep"] = channels
    top = max(channels, key=lambda p: p["gain"])
    out["max_gain_vs_rowwise"] = top["gain"]
    out["max_gain_channels"] = top["channels"]

    spread_pts = [_shape_point(hw, w_bits, v_bits, channels_for_spread, r, c)
                  for r, c in shapes_for(v_bits)]
    e = [p["pj_per_sop"] for p in spread_pts]
    out["shape_sweep"] = spread_pts
    out["shape_spread_16b_32och"] = max(e) / min(e) - 1.0
    half = [p["pj_per_sop"] for p in spread_pts
            if channels_for_spread * p["cols"] * 2 >= hw.macro.cols]
    out["shape_spread_16b_32och_half_row"] = max(half) / min(half) - 1.0 if half else None
    packed = [{**_shape_point(hw, w_bits, v_bits,
                              packed_lanes(hw.macro, channels_for_spread, c), r, c),
               "lanes": packed_lanes(hw.macro, channels_for_spread, c)}
              for r, c in shapes_for(v_bits)]
    ep = [p["pj_per_sop"] for p in packed]
    out["shape_sweep_packed"] = packed
    out["shape_spread_16b_32och_packed"] = max(ep) / min(ep) - 1.0
    out["row_op_time_ns"] = row_op_time_ns(hw)
    out["leakage_uw"] = leakage_power_uw(hw)
    out["paper"] = paper_figures(hw)
    tick("shapes")
    return out


__all__ = [
    "PAPER_FIGURES",
    "ROW_SHARE_DEFAULT",
    "SWEEP_CHANNELS",
    "SWEEP_V_BITS",
    "SWEEP_W_BITS",
    "PACKING_TAPS",
    "TECH_ENERGY_POLY",
    "calibrate_macro_energy",
    "counters_energy_breakdown_pj",
    "counters_energy_pj",
    "full_activity_power_mw",
    "layout_counters",
    "leakage_power_uw",
    "macro_characterisation",
    "node_energy_ratio",
    "paper_figures",
    "packed_lanes",
    "pj_per_sop",
    "row_io_energy_pj",
    "row_op_energy_pj",
    "row_op_time_ns",
    "scale_macro_energy",
    "shapes_for",
    "supply_points",
    "technology_energy_factor",
    "voltage_tag",
    "voltage_scale",
]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def _supply_rows(res: dict[str, Any], paper: dict[str, float]) -> list[tuple[str, str, str]]:
    """Energy per SOP and full-activity power at each characterised supply (the supplies read
    from the keys, ``pj_per_sop_8w16v_0v9`` -> 0.9 V)."""
    prefix = "pj_per_sop_8w16v_"
    points = sorted(float(k[len(prefix):].replace("v", ".")) for k in res if k.startswith(prefix))
    rows = []
    for v in points:
        t = voltage_tag(v)
        rows.append((f"energy/SOP 8b W / 16b V at {v:g} V (pJ)",
                     _num(paper.get(f"pj_per_sop_8w16v_{t}"), ".1f"),
                     f"{res[f'pj_per_sop_8w16v_{t}']:.2f}"))
    for v in points:
        t = voltage_tag(v)
        f = res.get(f"f_sys_mhz_{t}")
        clock = f" / {f:g} MHz" if f is not None else ""
        rows.append((f"power, full activity, {v:g} V{clock} (mW)",
                     _num(paper.get(f"full_power_mw_{t}"), ".1f"),
                     f"{res[f'full_power_mw_{t}']:.2f}"))
    return rows


def characterisation_rows(res: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(quantity, paper, model) rows of the characterisation table (``flexspim macro-sweep``,
    ``flexspim demo``) from a :func:`macro_characterisation` result; the paper column is ``-``
    where the paper gives no figure (every row, for a chip other than FlexSpIM)."""
    paper = res["paper"]
    gain = paper.get("max_gain_vs_rowwise")
    spread = paper.get("shape_spread_16b_32och")
    return [
        *_supply_rows(res, paper),
        ("standby column saving", _pct(paper.get("standby_saving")),
         _pct(res["standby_saving"])),
        ("max gain vs row-wise stacking", "-" if gain is None else f"up to {gain:.1f}x",
         f"{res['max_gain_vs_rowwise']:.2f}x (K={res['max_gain_channels']})"),
        ("spread across shapes, 16 b, 32 och", "-" if spread is None else f"< {_pct(spread)}",
         _pct(res["shape_spread_16b_32och"])),
        ("  same, shapes filling >= half a row", "-",
         _pct(res.get("shape_spread_16b_32och_half_row"))),
        ("  same, lanes of 3 x 3 kernel taps packed", "-",
         _pct(res.get("shape_spread_16b_32och_packed"))),
    ]

"""Reproduce the paper's headline results (docs/reproduce.md): Fig. 4, Fig. 7a, Fig. 7b-d and
Table I of arXiv 2410.23082, each as PNG + JSON, with the paper's numbers beside the model's.

:func:`reproduce` returns the summary dictionary (also written to ``summary.json``); ``quick``
uses a coarser Fig. 7 grid. Fig. 4 and Fig. 7b-d run on the paper-scale workload with every
mapping executed by the system engine (:mod:`flexspim.reproduce.system`); Fig. 7a and Table I
come from the bit-level macro model (:mod:`flexspim.energy.ops`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from flexspim._io import write_json
from flexspim._plot import polish, save_figure
from flexspim.energy import ops
from flexspim.hw import Hardware, default_hardware, load_preset
from flexspim.reproduce import system as rs

#: The paper's numbers (arXiv 2410.23082, abstract, §III, §IV, Table I).
PAPER = {
    "stationary_operands_gain_hsmin_vs_ws": 0.46,  # Fig. 4: HS-min holds 46% more operands
    "max_system_saving_hs_vs_ws": 0.90,      # Fig. 7: up to 90% energy saved
    "pj_per_sop_8w16v_0v9": 5.7,             # Table I
    "pj_per_sop_8w16v_1v1": 7.2,             # Table I
    "max_gain_vs_rowwise": 4.3,              # Fig. 7a: up to 4.3x vs row-wise stacking
    "shape_spread_16b_32och": 0.24,          # Fig. 7a: < 24% across shapes
}

#: Every JSON file of ``reproduce`` carries this format name (with a ``figure`` key) and version.
REPRODUCE_FORMAT = "flexspim-reproduce"
REPRODUCE_VERSION = 1

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _document(figure: str, res: dict[str, Any]) -> dict[str, Any]:
    """``res`` with the format name, version and figure name in front."""
    return {"format": REPRODUCE_FORMAT, "version": REPRODUCE_VERSION, "figure": figure, **res}


def _save(fig: Any, path: Path) -> None:
    polish(fig)
    fig.tight_layout()
    save_figure(fig, path)


def fig7a(hw: Hardware, out: Path) -> dict[str, Any]:
    """Energy per SOP across operand shapes (paper Fig. 7a), from the macro model."""
    char = ops.macro_characterisation(hw)
    n_lanes = 32  # paper Fig. 7a: 32 output channels
    curves: dict[str, list[dict[str, float]]] = {}
    for v_bits in (4, 8, 16):
        w_bits = max(1, v_bits // 2)
        pts = []
        for cols in sorted({math.ceil(v_bits / r) for r in range(1, v_bits + 1)}):
            if n_lanes * cols > hw.macro.cols and cols != v_bits:
                lanes = hw.macro.cols // cols
            else:
                lanes = min(n_lanes, hw.macro.cols // cols)
            pts.append({"cols": cols, "rows": math.ceil(v_bits / cols), "n_lanes": lanes,
                        "pj_per_sop": ops.pj_per_sop(hw, w_bits=w_bits, v_bits=v_bits,
                                                     cols=cols, n_lanes=lanes)})
        curves[f"{w_bits}w{v_bits}v"] = pts
    packed = [{"cols": p["cols"], "rows": p["rows"], "n_lanes": p["lanes"],
               "pj_per_sop": p["pj_per_sop"]} for p in char.get("shape_sweep_packed", [])]
    res = {"macro_characterisation": char, "curves": curves, "packed_8w16v": packed}
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    ax = axes[0]
    for name, pts in curves.items():
        ax.plot([p["rows"] for p in pts], [p["pj_per_sop"] for p in pts], "o-", label=name)
    if packed:
        ax.plot([p["rows"] for p in packed], [p["pj_per_sop"] for p in packed], "k^--",
                label="8w16v, 3x3 taps packed")
    ax.set_xlabel("rows per membrane operand (lane width = ceil(bits / rows))")
    ax.set_ylabel("pJ per SOP")
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=7)
    ax.set_title(f"Fig. 7a: energy per SOP across shapes, 32 lanes ({hw.voltage} V)",
                 fontsize=9)
    sweep = char.get("channel_sweep", [])
    if sweep:
        axes[1].plot([p["channels"] for p in sweep], [p["gain"] for p in sweep], "o-",
                     label="best shape vs row-wise")
        axes[1].axhline(PAPER["max_gain_vs_rowwise"], color="C7", ls="--", label="paper 4.3x")
        axes[1].set(xlabel="output channels (lanes per event)", xscale="log",
                    ylabel="energy gain (x)", title="gain against row-wise stacking")
        axes[1].title.set_size(9)
        axes[1].legend(fontsize=7)
    else:
        axes[1].axis("off")
    fig.tight_layout()
    _save(fig, out / "fig7a_shapes.png")
    write_json(out / "fig7a_shapes.json", _document("fig7a_shapes", res))
    return res


@dataclasses.dataclass(frozen=True)
class ChipFigure:
    """One published energy figure of a digital SNN/CIM chip, as its source states it.

    ``tops_per_w``: tera-operations per second per watt, operations as the source counts them;
    ``acc_bits``: width of the accumulation each operation performs (the membrane width), which
    the 1-bit normalisation divides by; ``None`` where the source does not state a value.
    """

    name: str
    technology_nm: int
    tops_per_w: float
    acc_bits: int
    w_bits: int | None
    supply_v: float | None
    clock_mhz: float | None
    condition: str
    source: str

    @property
    def pj_per_op(self) -> float:
        """Energy per operation (pJ): 1 TOPS/W is one operation per pJ."""
        return 1.0 / self.tops_per_w

    @property
    def pj_per_1bit_op(self) -> float:
        """Energy per 1-bit addition (pJ): pJ per operation / accumulated bits."""
        return self.pj_per_op / self.acc_bits


#: Other chips beside FlexSpIM in Table I: only figures with a citable source, each as stated.
OTHER_CHIPS: tuple[ChipFigure, ...] = (
    ChipFigure("IMPULSE", 65, 0.99, 11, None, 0.85, 200.0,
               "signed 11-bit operations (fused weight and membrane 10T-SRAM CIM macro)",
               "Agrawal et al., IEEE Solid-State Circuits Letters 4 (2021) 137-140, "
               "doi:10.1109/LSSC.2021.3092727, abstract"),
    ChipFigure("SpiDR", 65, 5.0, 7, 4, None, None,
               "up to 5 TOPS/W at 95% input sparsity, 4-bit weights, 7-bit membranes",
               "Sharma et al., arXiv:2411.02854 (2024), abstract"),
)

#: Figures other chips report that the printed table sets beside our model's (their sources in
#: :data:`OTHER_CHIPS`): SpiDR's abstract, up to 5 TOPS/W at 95% input sparsity, 4-bit weights,
#: 7-bit membranes.
REPORTED: dict[str, float] = {"spidr_tops_per_w_4w7v": 5.0}

#: SpiDR's reported condition: the input sparsity of its 5 TOPS/W (arXiv:2411.02854, abstract).
SPIDR_INPUT_SPARSITY = 0.95

#: How Table I puts the chips on one scale (also in docs/reproduce.md).
TABLE1_NORMALISATION = (
    "pJ per operation = 1 / (TOPS/W) as each source reports it (one SOP = one operation for "
    "FlexSpIM); pJ per 1-bit addition = pJ per operation / accumulated (membrane) bits; no "
    "technology, supply or sparsity scaling")


def _flexspim_rows(hw: Hardware) -> list[dict[str, Any]]:
    """FlexSpIM at 8-bit weights / 16-bit membranes, 0.9 and 1.1 V: paper and model."""
    rows = []
    for v, paper_key in ((0.9, "pj_per_sop_8w16v_0v9"), (1.1, "pj_per_sop_8w16v_1v1")):
        hv = hw.with_(voltage=v, f_sys_mhz=None)
        for who, e, src in (("FlexSpIM (paper)", PAPER[paper_key],
                             "Chauvaux et al., arXiv:2410.23082 (ISCAS 2025), Table I"),
                            ("FlexSpIM (model)", ops.pj_per_sop(hv, w_bits=8, v_bits=16),
                             "flexspim.energy.ops.pj_per_sop, default hardware")):
            rows.append({"chip": who, "technology_nm": 40, "supply_v": v,
                         "clock_mhz": round(hv.clock_mhz, 1), "w_bits": 8, "acc_bits": 16,
                         "pj_per_op": e, "pj_per_1bit_op": e / 16,
                         "tops_per_w_1bit": 16 / e, "condition": "8-bit weights, 16-bit "
                         "membranes", "source": src})
    return rows


def spidr_model_row(hw: Hardware) -> dict[str, Any]:
    """Our model's figure for SpiDR's reported condition (docs/reproduce.md, "SpiDR: our model
    beside its 5 TOPS/W").

    Energy per SOP of the macro model on ``hw`` (the ``spidr`` preset) at SpiDR's widths, 4-bit
    weights and 7-bit membranes (each membrane one row of 7 columns, full rows; dynamic energy),
    as TOPS/W with one SOP counted as one operation, as Table I counts FlexSpIM. Input sparsity
    does not enter: the model is event-driven, a zero input costs no SOP. SpiDR's abstract does
    not define its operation, so the same energy is also given under the other counts it may
    use: two operations per SOP, and the skipped inputs counted as operations (x 1 / (1 - 0.95)).
    """
    chip = next(c for c in OTHER_CHIPS if c.name == "SpiDR")
    w_bits, v_bits = chip.w_bits or 1, chip.acc_bits
    e = ops.pj_per_sop(hw, w_bits=w_bits, v_bits=v_bits)
    dense = 1.0 / (1.0 - SPIDR_INPUT_SPARSITY)
    return {"chip": "SpiDR (model)", "technology_nm": hw.macro.technology_nm,
            "supply_v": hw.voltage, "clock_mhz": round(hw.clock_mhz, 1), "w_bits": w_bits,
            "acc_bits": v_bits, "pj_per_op": e, "pj_per_1bit_op": e / v_bits,
            "tops_per_w_1bit": v_bits / e, "tops_per_w": 1.0 / e,
            "tops_per_w_two_ops_per_sop": 2.0 / e,
            "tops_per_w_skipped_counted": dense / e,
            "tops_per_w_skipped_counted_two_ops": 2.0 * dense / e,
            "reported_tops_per_w": chip.tops_per_w,
            "condition": f"{w_bits}-bit weights, {v_bits}-bit membranes; one SOP = one "
                         f"operation; energy per performed SOP (event-driven: input sparsity "
                         f"does not change it)",
            "source": f"flexspim.energy.ops.pj_per_sop, hardware '{hw.name}' "
                      f"({hw.macro.technology_nm} nm, {hw.voltage:g} V)"}


def _other_chip_rows() -> list[dict[str, Any]]:
    return [{"chip": c.name, "technology_nm": c.technology_nm, "supply_v": c.supply_v,
             "clock_mhz": c.clock_mhz, "w_bits": c.w_bits, "acc_bits": c.acc_bits,
             "reported_tops_per_w": c.tops_per_w, "pj_per_op": c.pj_per_op,
             "pj_per_1bit_op": c.pj_per_1bit_op, "tops_per_w_1bit": 1 / c.pj_per_1bit_op,
             "condition": c.condition, "source": c.source} for c in OTHER_CHIPS]


def table1(hw: Hardware, out: Path) -> dict[str, Any]:
    """Table I: FlexSpIM's pJ/SOP at 8-bit weights / 16-bit membranes at 0.9 and 1.1 V (paper
    and model) beside other chips' published figures, and our model's figure for SpiDR beside
    SpiDR's (:func:`spidr_model_row`), all on the 1-bit scale of :data:`TABLE1_NORMALISATION`
    (a v-bit in-memory addition is v one-bit full-adder operations; docs/reproduce.md).

    The model rows of a chip use ``hw`` when it describes that chip (``hw.name``), else the
    chip's preset (``flexspim``, ``spidr``)."""
    flex_hw = hw if hw.name == "FlexSpIM" else load_preset("flexspim")
    spidr_hw = hw if hw.name == "SpiDR" else load_preset("spidr")
    ours = _flexspim_rows(flex_hw)
    spidr = spidr_model_row(spidr_hw)
    others = _other_chip_rows()
    at = next(i for i, c in enumerate(others) if c["chip"] == "SpiDR") + 1
    chips = ours + others[:at] + [spidr] + others[at:]
    model = {f"{r['supply_v']:.1f}V": r for r in ours if r["chip"] == "FlexSpIM (model)"}
    rows = {k: {"pj_per_sop": r["pj_per_op"], "pj_per_1bit_sop": r["pj_per_1bit_op"],
                "tsops_per_w_1bit": r["tops_per_w_1bit"]} for k, r in model.items()}
    res = {"rows": rows, "chips": chips, "spidr": spidr,
           "pj_per_sop_8w16v_0v9": rows["0.9V"]["pj_per_sop"],
           "pj_per_sop_8w16v_1v1": rows["1.1V"]["pj_per_sop"],
           "spidr_tops_per_w_4w7v": spidr["tops_per_w"],
           "normalisation": TABLE1_NORMALISATION}
    write_json(out / "table1.json", _document("table1", res))
    _plot_table1(chips, out / "table1.png")
    return res


def _plot_table1(chips: list[dict[str, Any]], path: Path) -> None:
    """Bars of pJ per 1-bit addition, one per chip and operating point, value on each bar."""
    plt = _plt()
    labels = [f"{c['chip']}\n{c['technology_nm']} nm" + (f", {c['supply_v']:g} V"
                                                          if c["supply_v"] else "")
              for c in chips]
    colours = ["C0" if "model" in c["chip"] else "C7" if "paper" in c["chip"] else "C1"
               for c in chips]
    fig, ax = plt.subplots(figsize=(8.5, 3.8))
    vals = [c["pj_per_1bit_op"] for c in chips]
    bars = ax.bar(range(len(chips)), vals, color=colours)
    for b, c in zip(bars, chips, strict=True):
        ax.annotate(f"{c['pj_per_1bit_op']:.3f}\n({c['w_bits'] or '?'}w/{c['acc_bits']}v)",
                    (b.get_x() + b.get_width() / 2, b.get_height()), ha="center",
                    va="bottom", fontsize=7)
    ax.set_xticks(range(len(chips)), labels, fontsize=7)
    ax.set_xlabel("chip, process node and supply")
    ax.set_ylabel("pJ per 1-bit addition")
    ax.set_ylim(0, 1.25 * max(vals))
    ax.set_title("Table I: energy per operation / accumulated bits, as each source reports it "
                 "(no technology or sparsity scaling)", fontsize=9)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color="C7", label="FlexSpIM, paper"),
                       Patch(color="C0", label="this model (FlexSpIM; SpiDR preset)"),
                       Patch(color="C1", label="other chips, published figure")],
              fontsize=7, loc="upper left")
    fig.tight_layout()
    _save(fig, path)


def _fmt(v: float | None, pct: bool) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if pct else f"{v:.2f}"


#: Where each result's difference from the paper is explained (printed under the table).
EXPLAINED_IN: dict[str, str] = {
    "stationary_operands_gain_hsmin_vs_ws": "docs/reproduce.md, section 'Fig. 4: stationary "
                                            "operands'",
    "max_system_saving_hs_vs_ws": "docs/reproduce.md, section 'Fig. 7: system energy'",
    "max_gain_vs_rowwise": "docs/energy.md, section 'What the model gives (0.9 V)'",
    "shape_spread_16b_32och": "docs/energy.md, section 'What the model gives (0.9 V)' (the shape "
                              "spread)",
    "pj_per_sop_8w16v_0v9": "docs/energy.md, section 'What the model gives (0.9 V)'",
    "pj_per_sop_8w16v_1v1": "docs/energy.md, section 'What the model gives (0.9 V)'",
    "spidr_tops_per_w_4w7v": "docs/reproduce.md, section 'SpiDR: our model beside its 5 TOPS/W'",
}

#: Relative difference from the paper's value above which a result counts as different.
DIFFERENCE_TOLERANCE = 0.05

#: The printed rows: label, summary key, shown as a percentage.
TABLE_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("Fig. 4 stationary operands HS-min vs WS", "stationary_operands_gain_hsmin_vs_ws", True),
    ("  same, partly resident layers counted", "stationary_operands_gain_hsmin_vs_ws_partial",
     True),
    ("Fig. 4 stationary operands optimal vs WS", "stationary_operands_gain_optimal_vs_ws", True),
    ("Fig. 4 energy saved optimal vs HS-min", "energy_saving_optimal_vs_hsmin", True),
    ("Fig. 7 max saving HS-min vs WS", "max_system_saving_hs_vs_ws", True),
    ("Fig. 7 max saving optimal vs WS", "max_system_saving_optimal_vs_ws", True),
    ("Fig. 7 latency, 1 macro / 16 macros (x)", "latency_speedup_16_vs_1_macros", False),
    ("Fig. 7 estimate vs engine, largest error", "analytic_vs_engine_max_rel_error", True),
    ("Fig. 7a max gain vs row-wise (x)", "max_gain_vs_rowwise", False),
    ("Fig. 7a spread across shapes 16b/32och", "shape_spread_16b_32och", True),
    ("  same, 3x3 kernel taps packed", "shape_spread_16b_32och_packed", True),
    ("Table I pJ/SOP 8w/16v at 0.9 V", "pj_per_sop_8w16v_0v9", False),
    ("Table I pJ/SOP 8w/16v at 1.1 V", "pj_per_sop_8w16v_1v1", False),
    ("Table I pJ per 1-bit SOP at 0.9 V", "pj_per_1bit_sop_0v9", False),
    ("Table I SpiDR TOPS/W 4w/7v (SpiDR's paper)", "spidr_tops_per_w_4w7v", False),
)


def reference(key: str) -> float | None:
    """The published value a summary key is compared with: the FlexSpIM paper's
    (:data:`PAPER`), or another chip's (:data:`REPORTED`)."""
    return PAPER.get(key, REPORTED.get(key))


def differs(key: str, model: float | None) -> bool:
    """Whether the model's value misses the paper's (an upper bound for the shape spread)."""
    paper = reference(key)
    if paper is None or model is None:
        return False
    if key == "shape_spread_16b_32och":
        return model >= paper
    return abs(model - paper) > DIFFERENCE_TOLERANCE * abs(paper)


def print_table(summary: dict[str, Any]) -> str:
    """The printed table (metric, paper, model), Table I beside other chips, and under it
    where each difference from the paper is explained."""
    lines = [f"{'result':<42}{'paper':>10}{'model':>10}"]
    chip = summary.get("hardware", "FlexSpIM")
    if chip != "FlexSpIM":
        lines.insert(0, f"paper: the FlexSpIM paper's values (SpiDR's for its row); model: "
                        f"computed on the '{chip}' hardware (Table I: each chip on its own)")
    for label, key, pct in TABLE_ROWS:
        paper = reference(key)
        paper_s = ("<" if key == "shape_spread_16b_32och" else "") + _fmt(paper, pct) \
            if paper is not None else "-"
        mark = " *" if differs(key, summary.get(key)) else ""
        lines.append(f"{label:<42}{paper_s:>10}{_fmt(summary.get(key), pct):>10}{mark}")
    lines += ["", *table1_lines(summary.get("table1_chips", []))]
    notes = [(label, key) for label, key, _ in TABLE_ROWS if differs(key, summary.get(key))]
    if notes:
        lines += ["", "* differs from the paper; where each difference is explained:"]
        lines += [f"  {label}: {EXPLAINED_IN.get(key, 'docs/reproduce.md')}"
                  for label, key in notes]
    return "\n".join(lines)


def table1_lines(chips: list[dict[str, Any]]) -> list[str]:
    """Table I as printed: each chip's reported figure and its 1-bit normalisation, with
    the source beside it."""
    if not chips:
        return []
    out = ["Table I beside other chips, normalised as docs/reproduce.md, section 'Table I: "
           "other chips' says:", f"  {TABLE1_NORMALISATION}",
           f"  {'chip':<18}{'node':>6}{'supply':>8}{'w/v bits':>10}{'pJ/op':>8}"
           f"{'pJ/1-bit op':>13}  source"]
    for c in chips:
        supply = f"{c['supply_v']:g} V" if c.get("supply_v") else "-"
        wv = f"{c['w_bits'] or '-'}/{c['acc_bits']}"
        out.append(f"  {c['chip']:<18}{c['technology_nm']:>4}nm{supply:>8}{wv:>10}"
                   f"{c['pj_per_op']:>8.3f}{c['pj_per_1bit_op']:>13.4f}  {c['source']}")
    spidr = next((c for c in chips if c["chip"] == "SpiDR (model)"), None)
    if spidr is not None:
        out += spidr_lines(spidr)
    return out


def spidr_lines(row: dict[str, Any]) -> list[str]:
    """SpiDR's reported TOPS/W beside the model's, under each operation count its abstract
    leaves open (:func:`spidr_model_row`)."""
    s = round(100 * SPIDR_INPUT_SPARSITY)
    return [f"  SpiDR at {row['w_bits']}-bit weights / {row['acc_bits']}-bit membranes: reported "
            f"up to {row['reported_tops_per_w']:g} TOPS/W at {s}% input sparsity; model "
            f"{row['tops_per_w']:.2f} TOPS/W counting one operation per SOP",
            f"    (the same energy reads {row['tops_per_w_two_ops_per_sop']:.2f} TOPS/W at two "
            f"operations per SOP, {row['tops_per_w_skipped_counted']:.1f} / "
            f"{row['tops_per_w_skipped_counted_two_ops']:.1f} if the {s}% skipped inputs count "
            f"as operations; why they differ: {EXPLAINED_IN['spidr_tops_per_w_4w7v']})"]


def _fig4_files(f4: dict[str, Any], out: Path) -> None:
    """Fig. 4's JSON and figure: stationary operands per policy (whole layers, partial)."""
    write_json(out / "fig4_stationary_operands.json", _document("fig4_stationary_operands", f4))
    plt = _plt()
    pols = list(f4["policies"])
    whole = [f4["policies"][p]["operands_whole_layers"] for p in pols]
    part = [f4["policies"][p]["operands_partial"] for p in pols]
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    x = np.arange(len(pols))
    ax.bar(x - 0.2, whole, 0.4, color="C0", label="whole layers resident")
    ax.bar(x + 0.2, part, 0.4, color="C1", hatch="//", label="partly resident layers too")
    ax.set_xticks(x, pols)
    ax.set_xlabel("stationarity policy")
    ax.set_ylabel("stationary operands in 2 macros")
    ax.set_title("Fig. 4: stationary operands on two macros (paper-scale SCNN)", fontsize=9)
    ax.legend(fontsize=7)
    _save(fig, out / "fig4_stationary_operands.png")


def _fig7_files(rows: list[dict[str, Any]], keys: dict[str, Any], grid: Any, out: Path) -> None:
    write_json(out / "fig7bcd_system.json", _document("fig7bcd_system", {"grid": rows, **keys}))
    rs.plot_fig7(rows, grid, out / "fig7bcd_system.png", _save)


def reproduce(quick: bool, out_dir: str | os.PathLike[str], *,
              progress: bool = False, grid: Any = None,
              hw: Hardware | None = None) -> dict[str, Any]:
    """Compute every figure and table, write PNG + JSON into ``out_dir`` and ``summary.json``;
    return the summary (keys in docs/reproduce.md). ``grid`` replaces the Fig. 7 grid of
    ``quick`` (a :class:`~flexspim.reproduce.system.Fig7Grid`); ``hw`` the hardware the figures
    run on (default: the paper's, the ``flexspim`` preset)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hw = hw if hw is not None else default_hardware()
    g = grid if grid is not None else (rs.QUICK_GRID if quick else rs.FULL_GRID)
    n_points = len(g.points()) * len(rs.FIG7_POLICIES)
    with tqdm(total=n_points + 3, desc="reproduce", unit="step", disable=not progress) as bar:
        net, densities = rs.paper_workload()
        bar.update(1)
        _trace, act = rs.workload_trace(net, rs.random_inputs(net, rs.REFERENCE_SPARSITY,
                                                              g.samples, seed=1))
        f4 = rs.fig4(net, hw, act)
        _fig4_files(f4, out)
        bar.update(1)
        f7a = fig7a(hw, out)
        rows = rs.run_grid(net, hw, g, out, lambda _pid: bar.update(1))
        keys = rs.fig7_keys(rows, g)
        _fig7_files(rows, keys, g, out)
        t1 = table1(hw, out)
        bar.update(1)
    char = f7a["macro_characterisation"]
    summary: dict[str, Any] = {
        "quick": quick, "hardware": hw.name, "network": net.name,
        "n_timesteps": rs.N_TIMESTEPS,
        "calibration": {**rs.CALIBRATION, "hidden_densities": densities},
        "thresholds": {la.name: la.threshold for la in net.spiking_layers},
        "fig7_grid": dataclasses.asdict(g),
        **{k: v for k, v in f4.items() if k != "policies"},
        "stationary_operands": {p: {k: v for k, v in c.items() if k != "per_layer"}
                                for p, c in f4["policies"].items()},
        **keys,
        "max_gain_vs_rowwise": char.get("max_gain_vs_rowwise"),
        "shape_spread_16b_32och": char.get("shape_spread_16b_32och"),
        "shape_spread_16b_32och_half_row": char.get("shape_spread_16b_32och_half_row"),
        "shape_spread_16b_32och_packed": char.get("shape_spread_16b_32och_packed"),
        "pj_per_sop_8w16v_0v9": t1["pj_per_sop_8w16v_0v9"],
        "pj_per_sop_8w16v_1v1": t1["pj_per_sop_8w16v_1v1"],
        "pj_per_1bit_sop_0v9": t1["rows"]["0.9V"]["pj_per_1bit_sop"],
        "pj_per_1bit_sop_1v1": t1["rows"]["1.1V"]["pj_per_1bit_sop"],
        "spidr_tops_per_w_4w7v": t1["spidr_tops_per_w_4w7v"],
        "table1_chips": t1["chips"],
        "paper": PAPER,
        "reported": REPORTED,
        "files": sorted(p.name for p in out.iterdir() if p.suffix in (".png", ".json")),
    }
    write_json(out / "summary.json", _document("summary", summary))
    return summary

"""Reproduce the paper's headline results (docs/reproduce.md): Fig. 4, Fig. 7a, Fig. 7b-d and
Table I of arXiv 2410.23082, each as PNG + JSON, with the paper's numbers beside the model's.

:func:`reproduce` returns the summary dictionary (also written to ``summary.json``); ``quick``
uses coarser sweeps. All system numbers come from :func:`flexspim.energy.system.estimate_cost`
(the analytic form of the simulator-driven cost model) on the default 6-conv DVS Gesture
network, with activity from :class:`~flexspim.compile.Activity` defaults.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from flexspim._io import write_json
from flexspim._plot import polish, save_figure
from flexspim.compile import POLICIES, Activity, compile_network
from flexspim.compile.activity import DEFAULT_HIDDEN_DENSITY, DEFAULT_TIMESTEPS
from flexspim.energy import ops
from flexspim.energy.system import estimate_cost
from flexspim.hw import Hardware, default_hardware
from flexspim.net.network import IntNetwork
from flexspim.net.presets import dvs_gesture_scnn

#: The paper's numbers (arXiv 2410.23082, abstract, §III, §IV, Table I).
PAPER = {
    "stationary_gain_hsmin_vs_ws": 0.46,     # Fig. 4: HS-min holds 46% more operands stationary
    "max_system_saving_hs_vs_ws": 0.90,      # Fig. 7: up to 90% energy saved
    "pj_per_sop_8w16v_0v9": 5.7,             # Table I
    "pj_per_sop_8w16v_1v1": 7.2,             # Table I
    "max_gain_vs_rowwise": 4.3,              # Fig. 7a: up to 4.3x vs row-wise stacking
    "shape_spread_16b_32och": 0.24,          # Fig. 7a: < 24% across shapes
}

#: Every JSON file of ``reproduce`` carries this format name (with a ``figure`` key) and version.
REPRODUCE_FORMAT = "flexspim-reproduce"
REPRODUCE_VERSION = 1

QUICK_MACROS = (1, 2, 4, 8, 16, 18, 32)
FULL_MACROS = (1, 2, 3, 4, 6, 8, 12, 16, 18, 24, 32)
QUICK_SPARSITY = (0.85, 0.9, 0.95, 0.99)
FULL_SPARSITY = (0.85, 0.87, 0.89, 0.91, 0.93, 0.95, 0.97, 0.99)


def _with_macros(hw: Hardware, n: int) -> Hardware:
    return hw.with_(system=dataclasses.replace(hw.system, n_macros=n))


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


def fig4(net: IntNetwork, hw: Hardware, activity: Activity, out: Path) -> dict[str, Any]:
    """Stationary-operand fraction of each policy on two macros (paper Fig. 4)."""
    hw2 = _with_macros(hw, 2)
    maps = {p: compile_network(net, hw2, policy=p, activity=activity) for p in POLICIES}
    frac = {p: m.stationary_fraction for p, m in maps.items()}
    per_layer = {p: {lm.name: {"stationary": lm.stationary,
                               "stationary_fraction": lm.stationary_fraction,
                               "resident_fraction": lm.resident_fraction}
                     for lm in m.layers} for p, m in maps.items()}
    energy = {p: estimate_cost(net, m, hw2, activity).energy_per_inference_uj
              for p, m in maps.items()}
    res = {"stationary_fraction": frac, "per_layer": per_layer,
           "energy_per_inference_uj": energy,
           "stationary_gain_hsmin_vs_ws": frac["hs-min"] / frac["ws"] - 1.0,
           "stationary_gain_optimal_vs_ws": frac["optimal"] / frac["ws"] - 1.0,
           "energy_saving_optimal_vs_hsmin": 1.0 - energy["optimal"] / energy["hs-min"]}
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar(list(frac), [100 * v for v in frac.values()], color=["C0", "C1", "C2", "C3"])
    ax.set_ylabel("stationary operands held in arrays (% of all operand bits)")
    ax.set_title("Fig. 4: stationary-operand fraction, 2 macros", fontsize=9)
    ax.yaxis.label.set_size(7)
    _save(fig, out / "fig4_stationary_fraction.png")
    write_json(out / "fig4_stationary_fraction.json", _document("fig4_stationary_fraction", res))
    return res


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
    res = {"macro_characterisation": char, "curves": curves}
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    ax = axes[0]
    for name, pts in curves.items():
        ax.plot([p["rows"] for p in pts], [p["pj_per_sop"] for p in pts], "o-", label=name)
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


def fig7bcd(net: IntNetwork, hw: Hardware, macros: tuple[int, ...],
            sparsities: tuple[float, ...], n_timesteps: int, out: Path,
            progress: bool = False) -> dict[str, Any]:
    """System energy against macro count and input sparsity, WS-only vs HS-min and optimal
    (paper Fig. 7b-d)."""
    from tqdm import tqdm

    policies = ("ws", "hs-min", "optimal")
    grid: list[dict[str, Any]] = []
    with tqdm(total=len(macros) * len(sparsities), desc="fig7 sweep", unit="point",
              disable=not progress) as bar:
        for s in sparsities:
            act = Activity.from_sparsity(net, input_sparsity=s, n_timesteps=n_timesteps)
            for n in macros:
                hw_n = _with_macros(hw, n)
                e = {}
                for p in policies:
                    m = compile_network(net, hw_n, policy=p, activity=act)
                    e[p] = estimate_cost(net, m, hw_n, act).energy_per_inference_uj
                grid.append({"n_macros": n, "input_sparsity": s, "energy_uj": e,
                             "saving_hs_vs_ws": 1 - e["hs-min"] / e["ws"],
                             "saving_optimal_vs_ws": 1 - e["optimal"] / e["ws"]})
                bar.update(1)
    sim = fig7_simulated(net, hw, (2, 16, 18), sparsities, n_timesteps, 2)
    best_hs = max(grid, key=lambda g: g["saving_hs_vs_ws"])
    best_opt = max(grid, key=lambda g: g["saving_optimal_vs_ws"])
    res = {"grid": grid, "max_system_saving_hs_vs_ws": best_hs["saving_hs_vs_ws"],
           "max_system_saving_hs_vs_ws_at": {k: best_hs[k] for k in ("n_macros",
                                                                     "input_sparsity")},
           "max_system_saving_optimal_vs_ws": best_opt["saving_optimal_vs_ws"],
           "max_system_saving_optimal_vs_ws_at": {k: best_opt[k] for k in ("n_macros",
                                                                           "input_sparsity")},
           "simulated_activity": sim}
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    s_mid = sparsities[len(sparsities) // 2]
    for p in policies:
        pts = [g for g in grid if g["input_sparsity"] == s_mid]
        axes[0].plot([g["n_macros"] for g in pts], [g["energy_uj"][p] for g in pts], "o-",
                     label=p)
    axes[0].set(xlabel="macros", ylabel="uJ per inference", xscale="log",
                title=f"Fig. 7b: energy vs macros ({100 * s_mid:.0f}% sparse)")
    n_big = 16 if 16 in macros else macros[-1]
    for p in policies:
        pts = [g for g in grid if g["n_macros"] == n_big]
        axes[1].plot([100 * g["input_sparsity"] for g in pts], [g["energy_uj"][p] for g in pts],
                     "o-", label=p)
    axes[1].set(xlabel="input sparsity (%)", ylabel="uJ per inference", yscale="log",
                title=f"Fig. 7c: energy vs sparsity ({n_big} macros)")
    for s in sparsities:
        pts = [g for g in grid if g["input_sparsity"] == s]
        axes[2].plot([g["n_macros"] for g in pts], [100 * g["saving_hs_vs_ws"] for g in pts],
                     "o-", label=f"HS-min, {100 * s:.0f}%")
    axes[2].set(xlabel="macros", ylabel="energy saved vs WS-only (%)", xscale="log",
                title="Fig. 7d: saving of HS-min vs WS-only")
    for ax in axes:
        ax.title.set_size(9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    _save(fig, out / "fig7bcd_system.png")
    write_json(out / "fig7bcd_system.json", _document("fig7bcd_system", res))
    return res


def simulated_activity(net: IntNetwork, sparsity: float, n_timesteps: int, n_samples: int,
                       seed: int = 0) -> Activity:
    """Activity measured by simulating ``net`` on random inputs: every (pixel, polarity,
    timestep) bin holds an event with probability ``1 - sparsity``."""
    import numpy as np

    from flexspim.sim import simulate

    rng = np.random.default_rng(seed)
    x = (rng.random((n_timesteps, n_samples, *net.input_shape)) >= sparsity).astype(np.int64)
    res = simulate(net, x)
    return Activity.from_result(net, res.input_events.sum(axis=1),
                                res.output_spikes.sum(axis=1), n_samples, n_timesteps)


def fig7_simulated(net: IntNetwork, hw: Hardware, macros: tuple[int, ...],
                   sparsities: tuple[float, ...], n_timesteps: int,
                   n_samples: int) -> dict[str, Any]:
    """The Fig. 7 savings with activity measured by a small simulation of the (random-weight)
    default network at each input sparsity instead of a fixed hidden density."""
    grid = []
    for s in sparsities:
        act = simulated_activity(net, s, n_timesteps, n_samples)
        for n in macros:
            hw_n = _with_macros(hw, n)
            e = {p: estimate_cost(net, compile_network(net, hw_n, policy=p, activity=act),
                                  hw_n, act).energy_per_inference_uj
                 for p in ("ws", "hs-min", "optimal")}
            grid.append({"n_macros": n, "input_sparsity": s, "energy_uj": e,
                         "hidden_events": list(act.input_events[1:]),
                         "saving_hs_vs_ws": 1 - e["hs-min"] / e["ws"],
                         "saving_optimal_vs_ws": 1 - e["optimal"] / e["ws"]})
    return {"n_samples": n_samples, "grid": grid,
            "max_system_saving_hs_vs_ws": max(g["saving_hs_vs_ws"] for g in grid),
            "max_system_saving_optimal_vs_ws": max(g["saving_optimal_vs_ws"] for g in grid)}


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


def table1(hw: Hardware, out: Path) -> dict[str, Any]:
    """Table I: FlexSpIM's pJ/SOP at 8-bit weights / 16-bit membranes at 0.9 and 1.1 V (paper
    and model) beside other chips' published figures, all on the 1-bit scale of
    :data:`TABLE1_NORMALISATION` (a v-bit in-memory addition is v one-bit full-adder
    operations; docs/reproduce.md)."""
    ours = _flexspim_rows(hw)
    others = [{"chip": c.name, "technology_nm": c.technology_nm, "supply_v": c.supply_v,
               "clock_mhz": c.clock_mhz, "w_bits": c.w_bits, "acc_bits": c.acc_bits,
               "reported_tops_per_w": c.tops_per_w, "pj_per_op": c.pj_per_op,
               "pj_per_1bit_op": c.pj_per_1bit_op, "tops_per_w_1bit": 1 / c.pj_per_1bit_op,
               "condition": c.condition, "source": c.source} for c in OTHER_CHIPS]
    model = {f"{r['supply_v']:.1f}V": r for r in ours if r["chip"] == "FlexSpIM (model)"}
    rows = {k: {"pj_per_sop": r["pj_per_op"], "pj_per_1bit_sop": r["pj_per_1bit_op"],
                "tsops_per_w_1bit": r["tops_per_w_1bit"]} for k, r in model.items()}
    res = {"rows": rows, "chips": ours + others,
           "pj_per_sop_8w16v_0v9": rows["0.9V"]["pj_per_sop"],
           "pj_per_sop_8w16v_1v1": rows["1.1V"]["pj_per_sop"],
           "normalisation": TABLE1_NORMALISATION}
    write_json(out / "table1.json", _document("table1", res))
    _plot_table1(ours + others, out / "table1.png")
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
                       Patch(color="C0", label="FlexSpIM, this model"),
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
    "stationary_gain_hsmin_vs_ws": "docs/reproduce.md, section 'Fig. 4: stationary operands'",
    "max_system_saving_hs_vs_ws": "docs/reproduce.md, section 'Fig. 7: system energy'",
    "max_gain_vs_rowwise": "docs/energy.md, section 'What the model gives (0.9 V)'",
    "shape_spread_16b_32och": "docs/energy.md, section 'What the model gives (0.9 V)' (the shape "
                              "spread)",
    "pj_per_sop_8w16v_0v9": "docs/energy.md, section 'What the model gives (0.9 V)'",
    "pj_per_sop_8w16v_1v1": "docs/energy.md, section 'What the model gives (0.9 V)'",
}

#: Relative difference from the paper's value above which a result counts as different.
DIFFERENCE_TOLERANCE = 0.05

#: The printed rows: label, summary key, shown as a percentage.
TABLE_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("Fig. 4 stationary gain HS-min vs WS", "stationary_gain_hsmin_vs_ws", True),
    ("Fig. 4 stationary gain optimal vs WS", "stationary_gain_optimal_vs_ws", True),
    ("Fig. 4 energy saved optimal vs HS-min", "energy_saving_optimal_vs_hsmin", True),
    ("Fig. 7 max saving HS-min vs WS", "max_system_saving_hs_vs_ws", True),
    ("Fig. 7 max saving optimal vs WS", "max_system_saving_optimal_vs_ws", True),
    ("Fig. 7 max saving HS-min vs WS, sim. act.",
     "max_system_saving_hs_vs_ws_simulated_activity", True),
    ("Fig. 7a max gain vs row-wise (x)", "max_gain_vs_rowwise", False),
    ("Fig. 7a spread across shapes 16b/32och", "shape_spread_16b_32och", True),
    ("Table I pJ/SOP 8w/16v at 0.9 V", "pj_per_sop_8w16v_0v9", False),
    ("Table I pJ/SOP 8w/16v at 1.1 V", "pj_per_sop_8w16v_1v1", False),
    ("Table I pJ per 1-bit SOP at 0.9 V", "pj_per_1bit_sop_0v9", False),
)


def differs(key: str, model: float | None) -> bool:
    """Whether the model's value misses the paper's (an upper bound for the shape spread)."""
    paper = PAPER.get(key)
    if paper is None or model is None:
        return False
    if key == "shape_spread_16b_32och":
        return model >= paper
    return abs(model - paper) > DIFFERENCE_TOLERANCE * abs(paper)


def print_table(summary: dict[str, Any]) -> str:
    """The printed table (metric, paper, model), Table I beside other chips, and under it
    where each difference from the paper is explained."""
    lines = [f"{'result':<42}{'paper':>10}{'model':>10}"]
    for label, key, pct in TABLE_ROWS:
        paper = PAPER.get(key)
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
    return out


def reproduce(quick: bool, out_dir: str | os.PathLike[str], *,
              progress: bool = False) -> dict[str, Any]:
    """Compute every figure and table, write PNG + JSON into ``out_dir`` and ``summary.json``;
    return the summary (keys in docs/reproduce.md)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    net = dvs_gesture_scnn()
    hw = default_hardware()
    n_t = DEFAULT_TIMESTEPS
    act = Activity.from_sparsity(net, n_timesteps=n_t)
    f4 = fig4(net, hw, act, out)
    f7a = fig7a(hw, out)
    f7 = fig7bcd(net, hw, QUICK_MACROS if quick else FULL_MACROS,
                 QUICK_SPARSITY if quick else FULL_SPARSITY, n_t, out, progress)
    t1 = table1(hw, out)
    char = f7a["macro_characterisation"]
    summary: dict[str, Any] = {
        "quick": quick,
        "network": net.name,
        "hidden_density": DEFAULT_HIDDEN_DENSITY,
        "n_timesteps": n_t,
        "stationary_fraction": f4["stationary_fraction"],
        "stationary_gain_hsmin_vs_ws": f4["stationary_gain_hsmin_vs_ws"],
        "stationary_gain_optimal_vs_ws": f4["stationary_gain_optimal_vs_ws"],
        "energy_saving_optimal_vs_hsmin": f4["energy_saving_optimal_vs_hsmin"],
        "max_system_saving_hs_vs_ws": f7["max_system_saving_hs_vs_ws"],
        "max_system_saving_hs_vs_ws_at": f7["max_system_saving_hs_vs_ws_at"],
        "max_system_saving_optimal_vs_ws": f7["max_system_saving_optimal_vs_ws"],
        "max_system_saving_optimal_vs_ws_at": f7["max_system_saving_optimal_vs_ws_at"],
        "max_system_saving_hs_vs_ws_simulated_activity":
            f7["simulated_activity"]["max_system_saving_hs_vs_ws"],
        "max_system_saving_optimal_vs_ws_simulated_activity":
            f7["simulated_activity"]["max_system_saving_optimal_vs_ws"],
        "max_gain_vs_rowwise": char.get("max_gain_vs_rowwise"),
        "shape_spread_16b_32och": char.get("shape_spread_16b_32och"),
        "pj_per_sop_8w16v_0v9": t1["pj_per_sop_8w16v_0v9"],
        "pj_per_sop_8w16v_1v1": t1["pj_per_sop_8w16v_1v1"],
        "pj_per_1bit_sop_0v9": t1["rows"]["0.9V"]["pj_per_1bit_sop"],
        "pj_per_1bit_sop_1v1": t1["rows"]["1.1V"]["pj_per_1bit_sop"],
        "table1_chips": t1["chips"],
        "paper": PAPER,
        "files": sorted(p.name for p in out.iterdir() if p.suffix in (".png", ".json")),
    }
    write_json(out / "summary.json", _document("summary", summary))
    return summary

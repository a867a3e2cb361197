"""The macro's figures: Fig. 7a (energy per SOP across operand shapes) and Table I (FlexSpIM's
pJ/SOP beside other chips' published figures, and our model's figure for SpiDR), both from the
bit-level macro model (:mod:`flexspim.energy.ops`; docs/reproduce.md)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from flexspim._io import write_json
from flexspim.energy import ops
from flexspim.hw import Hardware, load_preset
from flexspim.reproduce.documents import document
from flexspim.reproduce.figures import pyplot, save
from flexspim.reproduce.paper import PAPER


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
    plt = pyplot()
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
    save(fig, out / "fig7a_shapes.png")
    write_json(out / "fig7a_shapes.json", document("fig7a_shapes", res))
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
    write_json(out / "table1.json", document("table1", res))
    _plot_table1(chips, out / "table1.png")
    return res


def _plot_table1(chips: list[dict[str, Any]], path: Path) -> None:
    """Bars of pJ per 1-bit addition, one per chip and operating point, value on each bar."""
    plt = pyplot()
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
    save(fig, path)

"""Fig. 4: stationary operands of every policy on two macros (docs/reproduce.md, "Fig. 4's
network"), counted in operands (partly resident layers included, and layers held whole), in
unpadded bits, and as the SOP-weighted resident fraction; the headline network and the
paper-scale one beside it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flexspim.reproduce.figures import pyplot
from flexspim.reproduce.points import PointTask, Results
from flexspim.reproduce.workloads import MACRO_BITS, NetSpec

#: Labels of the policies in figures and tables (``hs-min`` is our reading of the paper's rule).
POLICY_LABELS = {"ws": "ws", "os": "os", "hs-min": "hs-min*", "hs-traffic": "hs-traffic",
                 "optimal": "optimal"}
#: Printed under every table that shows ``hs-min``.
HS_MIN_NOTE = ("* hs-min: our reading of the paper's HS-min (each layer keeps its smaller "
               "operand); what the paper's rule minimises is not in the text we could read")

#: Fig. 4's measures, the key of each gain against WS-only.
MEASURES = {"operands_whole_layers": "operands", "operands_partial": "operands_partial",
            "stationary_bits": "bits", "sop_weighted_resident_fraction": "sop_weighted"}


def gain(counts: Mapping[str, Mapping[str, Any]], policy: str, measure: str) -> float | None:
    """``counts[policy][measure] / counts['ws'][measure] - 1`` (None without a base)."""
    base = counts.get("ws", {}).get(measure)
    value = counts.get(policy, {}).get(measure)
    if not base or value is None:
        return None
    return float(value) / float(base) - 1.0


def network_counts(net: NetSpec, policies: Sequence[str],
                   tasks: Mapping[tuple[str, str, bool], PointTask], results: Results
                   ) -> dict[str, Any]:
    """Per policy the counts of the usual mapping, and the whole-layer count of the mapping
    compiled with ``whole_layers``; the gains against WS-only."""
    counts: dict[str, dict[str, Any]] = {}
    for p in policies:
        part = results.get(tasks[(net.name, p, False)])
        whole = results.get(tasks[(net.name, p, True)])
        c: dict[str, Any] = dict(part or {})
        c["operands_whole_layers"] = whole["operands_whole_layers"] if whole else None
        c["whole_layers"] = whole["whole_layers"] if whole else None
        c["error"] = results.errors.get(tasks[(net.name, p, False)].key)
        counts[p] = c
    gains = {f"{m}_gain_vs_ws": {p: gain(counts, p, key) for p in policies if p != "ws"}
             for key, m in MEASURES.items()}
    return {"network": net.name, "input_hw": net.input_hw, "base": net.base,
            "policies": counts, **gains}


def fig4(networks: Sequence[NetSpec], policies: Sequence[str],
         tasks: Mapping[tuple[str, str, bool], PointTask], results: Results) -> dict[str, Any]:
    """Fig. 4's document; the headline keys are those of the first network."""
    nets = [network_counts(n, policies, tasks, results) for n in networks]
    head = nets[0]
    g = {key: head[f"{m}_gain_vs_ws"] for key, m in MEASURES.items()}
    e = {p: (c.get("estimated_energy_uj")) for p, c in head["policies"].items()}
    saving = 1.0 - e["optimal"] / e["hs-min"] if e.get("optimal") and e.get("hs-min") else None
    return {
        "n_macros": 2, "rules": "paper", "networks": nets, "headline_network": head["network"],
        "stationary_operands_gain_hsmin_vs_ws": g["operands_whole_layers"].get("hs-min"),
        "stationary_operands_gain_optimal_vs_ws": g["operands_whole_layers"].get("optimal"),
        "stationary_operands_gain_hsmin_vs_ws_partial": g["operands_partial"].get("hs-min"),
        "stationary_operands_gain_optimal_vs_ws_partial": g["operands_partial"].get("optimal"),
        "stationary_bits_gain_hsmin_vs_ws": g["stationary_bits"].get("hs-min"),
        "stationary_bits_gain_optimal_vs_ws": g["stationary_bits"].get("optimal"),
        "sop_weighted_fraction_gain_hsmin_vs_ws": g["sop_weighted_resident_fraction"].get(
            "hs-min"),
        "energy_saving_optimal_vs_hsmin": saving,
        "estimated_energy_per_inference_uj": e,
    }


def _bars(ax: Any, x: np.ndarray, values: Sequence[float | None], width: float, offset: float,
          fmt: Callable[[float], str], **style: Any) -> None:
    v = [np.nan if a is None else float(a) for a in values]
    bars = ax.bar(x + offset, [0 if np.isnan(a) else a for a in v], width, **style)
    for b, a in zip(bars, v, strict=True):
        ax.annotate("n/a" if np.isnan(a) else fmt(a), (b.get_x() + b.get_width() / 2,
                                                       b.get_height()),
                    ha="center", va="bottom", fontsize=7, rotation=90)


def plot_fig4(doc: Mapping[str, Any], path: Path, save: Callable[[Any, Path], None]) -> None:
    """One row per network: operands (whole layers, partial), unpadded bits in macros, and the
    SOP-weighted resident fraction, per policy."""
    plt = pyplot()
    nets = doc["networks"]
    fig, axes = plt.subplots(len(nets), 3, figsize=(13, 3.6 * len(nets)), squeeze=False)
    for row, net in zip(axes, nets, strict=True):
        pols = list(net["policies"])
        x = np.arange(len(pols))
        c = [net["policies"][p] for p in pols]
        _bars(row[0], x, [k.get("operands_whole_layers") for k in c], 0.4, -0.2,
              lambda a: f"{a:,.0f}", color="C0", label="layers held whole")
        _bars(row[0], x, [k.get("operands_partial") for k in c], 0.4, 0.2,
              lambda a: f"{a:,.0f}", color="C1", hatch="//", label="partly resident too")
        row[0].set(ylabel="stationary operands in the arrays",
                   title=f"{net['network']}: stationary operands, 2 macros")
        row[0].legend(fontsize=7, loc="upper left")
        bits = [None if k.get("stationary_bits") is None else k["stationary_bits"] / MACRO_BITS
                for k in c]
        _bars(row[1], x, bits, 0.6, 0.0, lambda a: f"{a:.2f}", color="C2")
        row[1].set(ylabel="resident operand bits (macros of 16 kB)",
                   title=f"{net['network']}: stationary bits (unpadded)")
        frac = [None if k.get("sop_weighted_resident_fraction") is None
                else 100 * k["sop_weighted_resident_fraction"] for k in c]
        _bars(row[2], x, frac, 0.6, 0.0, lambda a: f"{a:.1f}%", color="C4")
        row[2].set(ylabel="SOPs on a resident operand (%)", ylim=(0, 115),
                   title=f"{net['network']}: SOP-weighted resident fraction")
        for ax in row:
            ax.set_xticks(x, [POLICY_LABELS.get(p, p) for p in pols], fontsize=8)
            ax.set_xlabel("policy (* our reading of the paper's HS-min)")
            ax.title.set_size(9)
            ax.margins(y=0.25)
    fig.suptitle("Fig. 4: what each policy keeps stationary on two macros (paper rule set; "
                 "compiled for the activity measured at 95% input sparsity)", fontsize=10)
    save(fig, path)

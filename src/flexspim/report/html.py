"""The self-contained HTML report: sections from a :class:`~flexspim.report.document.RunData`,
figures drawn with matplotlib (Agg, imported when a figure is drawn) and embedded as base64 PNG.

Sections (registry :data:`SECTIONS`, in page order): summary; accuracy and confusion matrix;
per-layer activity (spike densities, SOPs, overflow); energy breakdown (nJ per inference, in
tables and figures alike); latency (µs); macro occupancy (paper Fig. 4: which rows and columns of
each 512 x 256 array hold which layer's stationary operand); stationarity per layer (WS/OS, paper
§III); the hardware description with each parameter's source; further results the document
carries. A section whose data the document lacks says how to get it; "further results" is left
out when there are none.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np

from flexspim import __version__
from flexspim._io import write_text_atomic
from flexspim._plot import figure_format, pyplot, save_figure
from flexspim.compile.plot import draw_mapping, mapping_figure_size
from flexspim.report.document import RunData, run_data
from flexspim.report.macros import draw_timeline, draw_utilisation, timeline_arrays

# ----------------------------------------------------------------------------- small helpers


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v == 0:
            return "0"
        if abs(v) >= 1e4:
            return f"{v:,.0f}"  # thousands separators, never e-notation
        if abs(v) < 1e-3:
            return f"{v:.3g}"
        return f"{v:,.4g}" if abs(v) >= 1000 else f"{v:.4g}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(_fmt(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _missing(what: str, how: str) -> str:
    return f'<p class="missing">No {_esc(what)} in this result: {_esc(how)}.</p>'


def _png(draw: Callable[[Any], None], size: tuple[float, float] = (8.0, 3.6),
         alt: str = "figure") -> str:
    """Run ``draw(fig)`` on a new Agg figure; an ``<img>`` with the PNG embedded (base64) and
    ``alt`` as its text."""
    plt = pyplot()
    fig = plt.figure(figsize=size)
    try:
        draw(fig)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")  # keep outside legends
    finally:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _numbers(obj: Any) -> dict[str, float]:
    """The numeric entries of a mapping (name -> number), in order."""
    if not isinstance(obj, dict):
        return {}
    return {str(k): float(v) for k, v in obj.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


#: Unit suffixes of document keys and how a reader writes them.
_UNITS: tuple[tuple[str, str], ...] = (("_uj", " (µJ)"), ("_us", " (µs)"), ("_pj", " (pJ)"),
                                       ("_nj", " (nJ)"), ("_mhz", " (MHz)"), ("_s", " (s)"))


def label(key: str) -> str:
    """A document key as words: ``latency_per_inference_us`` -> ``latency per inference (µs)``."""
    text = str(key)
    for suffix, unit in _UNITS:
        if text.endswith(suffix):
            text = text[: -len(suffix)] + unit
            break
    return text.replace("_", " ")


def _nj(pj: float) -> str:
    """Energy in pJ written in nJ with fixed decimals (never e-notation)."""
    v = pj / 1e3
    if v == 0:
        return "0"
    return f"{v:,.1f}" if abs(v) >= 100 else f"{v:,.3f}" if abs(v) >= 0.01 else f"{v:.6f}"


# ----------------------------------------------------------------------------- sections

def layer_rows(run: RunData) -> list[tuple[str, Any]]:
    """Summary rows counting the layers: the spiking ones (they hold neurons) and the routing
    ones (max-pool, flatten) apart; a result that does not record layer kinds says so."""
    sim = run.simulation
    spiking = sim.spiking_layer_names
    if spiking is None and run.mapping is not None:
        spiking = [lm.name for lm in run.mapping.layers]
    if spiking is None:
        return [("layers", f"{len(sim.layer_names)} (spiking and routing; re-run the simulation "
                           f"to tell them apart)")]
    routing = [n for n in sim.layer_names if n not in spiking]
    rows: list[tuple[str, Any]] = [("spiking layers", f"{len(spiking)} ({', '.join(spiking)})")]
    if routing:
        rows.append(("routing layers", f"{len(routing)} ({', '.join(routing)})"))
    return rows


def section_summary(run: RunData) -> str:
    sim = run.simulation
    rows: list[tuple[str, Any]] = [
        ("network", sim.network), ("engine", sim.engine), ("samples", sim.n_samples),
        ("timesteps per sample", sim.n_timesteps), *layer_rows(run),
        ("accuracy", f"{100 * sim.accuracy:.2f} %" if sim.accuracy is not None else None),
        ("SOPs per inference", sim.total_sops / max(sim.n_samples, 1)),
        ("overflow events", int(sim.overflow_events.sum())),
    ]
    if run.cost is not None:
        e = run.cost.get("energy_per_inference_uj")
        rows += [("energy per inference (nJ)", _nj(1e6 * e) if isinstance(e, (int, float))
                  else None),
                 ("latency per inference (µs)", run.cost.get("latency_per_inference_us"))]
    if run.mapping is not None:
        rows += [("mapping policy", run.mapping.policy), ("macros", run.mapping.n_macros),
                 ("stationary fraction", f"{100 * run.mapping.stationary_fraction:.1f} %")]
    return _table(("quantity", "value"), rows)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """``[classes, classes]`` counts: row = true class, column = predicted class."""
    n = max(n_classes, int(labels.max(initial=-1)) + 1, int(predictions.max(initial=-1)) + 1)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (labels.astype(np.int64), predictions.astype(np.int64)), 1)
    return cm


def section_accuracy(run: RunData) -> str:
    sim = run.simulation
    if sim.labels is None or sim.n_samples == 0:
        return _missing("labels", "simulate with labels (flexspim simulate on a dataset) to get "
                        "accuracy and a confusion matrix")
    cm = confusion_matrix(sim.labels, sim.predictions, int(sim.output_counts.shape[1]))
    per_class = [(c, int(cm[c].sum()), int(cm[c, c]),
                  f"{100 * cm[c, c] / cm[c].sum():.1f} %" if cm[c].sum() else None)
                 for c in range(cm.shape[0])]

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(1, 1, 1)
        im = ax.imshow(cm, cmap="Blues")
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title("Confusion matrix (samples)", fontsize=10)
        ax.set_xticks(range(cm.shape[0]))
        ax.set_yticks(range(cm.shape[0]))
        if cm.shape[0] <= 16:
            for i in range(cm.shape[0]):
                for j in range(cm.shape[1]):
                    if cm[i, j]:
                        ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                                color="white" if cm[i, j] > cm.max() / 2 else "black")
        fig.colorbar(im, ax=ax, fraction=0.046)

    return (f"<p>Accuracy <b>{100 * (sim.accuracy or 0):.2f} %</b> on {sim.n_samples} "
            f"samples ({int(np.trace(cm))} correct).</p>"
            + _png(draw, (5.5, 4.6), "confusion matrix: true class against predicted class")
            + _table(("class", "samples", "correct", "recall"), per_class))


def section_layers(run: RunData) -> str:
    sim = run.simulation
    n = max(sim.n_samples, 1)
    try:
        density = sim.spike_density
    except ValueError:
        density = np.full(len(sim.layer_names), np.nan)
    spiking = sim.spiking_layer_names
    rows = []
    for i, name in enumerate(sim.layer_names):
        kind = () if spiking is None else (
            f"{'spiking' if name in spiking else 'routing'} ({sim.layer_kinds[i]})",)
        rows.append((name, *kind, sim.input_events[i].sum() / n, sim.sops[i].sum() / n,
                     sim.output_spikes[i].sum() / n,
                     None if np.isnan(density[i]) else float(density[i]),
                     int(sim.overflow_events[i].sum()), int(sim.membrane_min[i].min()),
                     int(sim.membrane_max[i].max())))
    names = sim.layer_names

    def draw(fig: Any) -> None:
        ax1 = fig.add_subplot(1, 2, 1)
        ax1.bar(range(len(names)), np.nan_to_num(density), color="tab:blue")
        ax1.set_title("Output spike density", fontsize=9)
        ax1.set_ylabel("spikes per neuron per timestep")
        ax2 = fig.add_subplot(1, 2, 2)
        ax2.bar(range(len(names)), sim.layer_sops / n, color="tab:orange")
        ax2.set_title("Synaptic operations", fontsize=9)
        ax2.set_ylabel("SOPs per inference" + (" (log scale)" if np.any(sim.layer_sops > 0)
                                                else ""))
        if np.any(sim.layer_sops > 0):
            ax2.set_yscale("log")
        for ax in (ax1, ax2):
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
            ax.set_xlabel("layer")
            ax.grid(axis="y", alpha=0.3)

    return _png(draw, alt="spike density and SOPs per layer") + _table(
        ("layer", *(() if spiking is None else ("kind",)), "input events / inf.", "SOPs / inf.",
         "output spikes / inf.", "spike density", "overflow events", "membrane min",
         "membrane max"), rows)


def _per_sample(cost: dict[str, Any]) -> float:
    n = cost.get("n_samples", 1)
    return float(n) if isinstance(n, (int, float)) and not isinstance(n, bool) and n > 0 else 1.0


def energy_tables(cost: dict[str, Any]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(component -> pJ per inference, layer -> component -> pJ per inference) of a cost
    document (``CostReport.to_dict()``: totals over ``n_samples`` samples)."""
    n = _per_sample(cost)
    comps = {k: v / n for k, v in _numbers(cost.get("total_pj")).items()}
    raw = cost.get("per_layer_pj")
    per_layer = ({str(layer): {k: v / n for k, v in _numbers(vals).items()}
                  for layer, vals in raw.items() if isinstance(vals, dict)}
                 if isinstance(raw, dict) else {})
    return comps, per_layer


def _component_colours(names: Sequence[str]) -> dict[str, Any]:
    """One colour per energy component, the same in every panel and every report."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {k: cmap(i % cmap.N) for i, k in enumerate(names)}


def draw_energy_breakdown(fig: Any, comps: dict[str, float],
                          per_layer: dict[str, dict[str, float]]) -> None:
    """Draw on ``fig``: energy per component (bars) and per layer (stacked by component), in nJ
    per inference, from :func:`energy_tables`; each component has one colour in both panels and
    the legend lists only components with energy."""
    names = [k for k in comps if comps[k] > 0] or list(comps)
    colours = _component_colours(list(comps))
    layers = list(per_layer)
    ax1 = fig.add_subplot(1, 2, 1)
    ax1.barh(range(len(names)), [comps[k] / 1e3 for k in names],
             color=[colours[k] for k in names], edgecolor="0.25", linewidth=0.5)
    ax1.set_yticks(range(len(names)))
    ax1.set_yticklabels([label(k) for k in names], fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel("energy per inference (nJ)")
    ax1.set_ylabel("component")
    ax1.set_title("by component", fontsize=9)
    ax1.grid(axis="x", alpha=0.3)
    ax2 = fig.add_subplot(1, 2, 2)
    bottom = np.zeros(len(layers))
    for k in names:
        vals = np.array([per_layer[la].get(k, 0.0) / 1e3 for la in layers])
        if not vals.any():
            continue
        ax2.bar(range(len(layers)), vals, bottom=bottom, label=label(k), color=colours[k],
                edgecolor="0.25", linewidth=0.5)
        bottom += vals
    ax2.set_xticks(range(len(layers)))
    ax2.set_xticklabels(layers, rotation=45, ha="right", fontsize=8)
    ax2.set_xlabel("layer")
    ax2.set_ylabel("energy per inference (nJ)")
    ax2.set_title("by layer, stacked by component", fontsize=9)
    ax2.grid(axis="y", alpha=0.3)
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def plot_energy_breakdown(cost: Any, path: str | os.PathLike[str]) -> None:
    """Write a figure (PNG, SVG or PDF by the suffix of ``path``) of the energy breakdown of
    ``cost`` (a CostReport or its document), atomically."""
    figure_format(path)
    doc = cost.to_dict() if hasattr(cost, "to_dict") else dict(cost)
    comps, per_layer = energy_tables(doc)
    fig = pyplot().figure(figsize=(11.0, 0.3 * len(comps) + 3.4))
    draw_energy_breakdown(fig, comps, per_layer)
    total = sum(comps.values()) / 1e3
    policy = f", policy {doc['policy']}" if doc.get("policy") else ""
    fig.suptitle(f"Energy per inference: {total:,.1f} nJ{policy}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def section_energy(run: RunData) -> str:
    if run.cost is None:
        return _missing("cost", "give the run a mapping and cost (flexspim simulate --mapping, "
                        "or flexspim demo)")
    comps, per_layer = energy_tables(run.cost)
    parts = []
    e = run.cost.get("energy_per_inference_uj")
    if isinstance(e, (int, float)):
        policy = run.cost.get("policy")
        parts.append(f"<p>Energy per inference <b>{_nj(1e6 * float(e))} nJ</b>"
                     f"{' (policy ' + _esc(policy) + ')' if policy else ''}.</p>")
    if comps:
        total = sum(comps.values()) or 1.0
        names = list(comps)

        def draw(fig: Any) -> None:
            draw_energy_breakdown(fig, comps, per_layer)

        parts.append(_png(draw, (10.0, 0.3 * len(names) + 3.0),
                          "energy per inference by component and by layer"))
        parts.append(_table(("component", "energy per inference (nJ)", "share"),
                            [(label(k), _nj(v), f"{100 * v / total:.1f} %")
                             for k, v in comps.items()]))
    if per_layer:
        cols = list(dict.fromkeys(c for v in per_layer.values() for c in v))
        parts.append("<h3>Energy per layer (nJ per inference)</h3>")
        parts.append(_table(("layer", *[label(c) for c in cols], "total"),
                            [(k, *[_nj(v[c]) if c in v else None for c in cols],
                              _nj(sum(v.values()))) for k, v in per_layer.items()]))
    parts.append(_phase_table(run.cost))
    return "".join(parts) or _missing("energy breakdown", "the cost part is empty")


#: What each phase of a timestep does (docs/system-model.md).
PHASE_NOTES: dict[str, str] = {
    "init": "membranes set to their initial values (first timestep)",
    "leak": "leaky layers' membranes decayed, every timestep, before its events",
    "integrate": "input events: row operations, streamed operands moved",
    "fire": "threshold compare and reset",
}


def _phase_table(cost: dict[str, Any]) -> str:
    """Energy per phase of the layer-first schedule (nJ per inference), "leak" beside
    "integrate" and "fire"."""
    raw = cost.get("per_phase_pj")
    if not isinstance(raw, dict) or not raw:
        return ""
    n = _per_sample(cost)
    rows = [(ph, PHASE_NOTES.get(ph, ""), _nj(sum(_numbers(v).values()) / n))
            for ph, v in raw.items() if isinstance(v, dict)]
    return ("<h3>Energy per phase (nJ per inference)</h3>"
            + _table(("phase", "what it does", "energy per inference (nJ)"), rows))


def section_latency(run: RunData) -> str:
    if run.cost is None:
        return _missing("latency", "give the run a mapping and cost")
    keys = [k for k in _numbers(run.cost) if "latency" in k]
    per_layer = _numbers(run.cost.get("per_layer_latency_us"))
    if not keys and not per_layer:
        return _missing("latency", "the cost part holds no latency figures")
    out = _table(("quantity", "value"), [(label(k), run.cost[k]) for k in keys])
    if per_layer:
        out += "<h3>Latency per layer</h3>"
        out += _table(("layer", "latency per inference (µs)"), list(per_layer.items()))
    return out


def macro_occupancy(run: RunData) -> list[dict[str, Any]]:
    """Per macro: cells (bits) used by each layer's resident operand and by scratch rows."""
    m = run.mapping
    if m is None:
        return []
    out = []
    for macro in range(m.n_macros):
        by_layer: dict[str, int] = {}
        for lm in m.layers:
            cells = sum(t.rows * (t.col_stop - t.col_start) for t in lm.tiles
                        if t.macro == macro)
            if cells:
                by_layer[lm.name] = by_layer.get(lm.name, 0) + cells
        total = m.rows * m.cols
        scratch = m.scratch_rows * m.cols
        out.append({"macro": macro, "layers": by_layer, "scratch": scratch,
                    "used": sum(by_layer.values()), "capacity": total})
    return out


def section_occupancy(run: RunData) -> str:
    m = run.mapping
    if m is None:
        return _missing("mapping", "give the run a mapping (flexspim compile, then flexspim "
                        "simulate --mapping)")
    occ = macro_occupancy(run)

    def draw(fig: Any) -> None:
        draw_mapping(fig, m)

    rows = [(o["macro"], o["used"], o["scratch"], o["capacity"],
             f"{100 * (o['used'] + o['scratch']) / o['capacity']:.1f} %",
             ", ".join(f"{k} ({v})" for k, v in o["layers"].items()) or "-") for o in occ]

    return (_png(draw, mapping_figure_size(m), "rows and columns of each macro by layer and "
                 "operand")
            + f"<p>Each macro is {m.rows} rows x {m.cols} columns; rows 0-{m.scratch_rows - 1} "
              f"are scratch rows for streamed operands.</p>"
            + _table(("macro", "stationary cells", "scratch cells", "capacity (cells)",
                      "occupancy", "layers (cells)"), rows))


def section_stationarity(run: RunData) -> str:
    m = run.mapping
    if m is None:
        return _missing("mapping", "give the run a mapping to see which operand each layer "
                        "keeps stationary")
    rows = [(lm.name, "WS (weights)" if lm.stationary == "weights" else "OS (membranes)",
             lm.w_bits, lm.v_bits, f"{lm.weight_shape[0]}x{lm.weight_shape[1]}", lm.lanes,
             f"{100 * lm.resident_fraction:.1f} %", f"{100 * lm.stationary_fraction:.1f} %",
             lm.spilled_bits) for lm in m.layers]

    def draw(fig: Any) -> None:
        from matplotlib.patches import Patch

        kinds = {"weights": ("tab:blue", "", "weight-stationary (WS)"),
                 "membranes": ("tab:purple", "//", "output-stationary (OS)")}
        ax = fig.add_subplot(1, 1, 1)
        for i, lm in enumerate(m.layers):
            colour, hatch, _ = kinds[lm.stationary]
            ax.bar(i, 100 * lm.resident_fraction, color=colour, hatch=hatch, edgecolor="white")
        ax.set_xticks(range(len(m.layers)))
        ax.set_xticklabels([lm.name for lm in m.layers], rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("layer")
        ax.set_ylabel("stationary operand resident (%)")
        ax.set_ylim(0, 105)
        ax.set_title(f"Stationary operand held in the arrays per layer (policy {m.policy})",
                     fontsize=9)
        used = dict.fromkeys(lm.stationary for lm in m.layers)
        ax.legend(handles=[Patch(facecolor=kinds[k][0], hatch=kinds[k][1], edgecolor="white",
                                 label=kinds[k][2]) for k in used],
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)

    return (f"<p>Policy <b>{_esc(m.policy)}</b>: {100 * m.stationary_fraction:.1f} % of all "
            f"operand bits stay stationary in the arrays.</p>"
            + _png(draw, alt="stationary operand resident per layer")
            + _table(("layer", "stationary", "w bits", "v bits", "operand rows x cols",
                      "lanes", "resident", "stationary fraction", "spilled bits"), rows))


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any, str]]:
    out: list[tuple[str, Any, str]] = []
    for f in fields(obj):
        val = getattr(obj, f.name)
        name = f"{prefix}{f.name}"
        if is_dataclass(val):
            out += _flatten(val, name + ".")
        else:
            unit = f.metadata.get("unit", "")
            out.append((name + (f" ({unit})" if unit else ""), val,
                        f.metadata.get("source", "")))
    return out


def section_hardware(run: RunData) -> str:
    hw = run.hardware
    if hw is None:
        return _missing("hardware description", "give the run its hardware")
    rows = _flatten(hw)
    rows.insert(0, ("system clock in use (MHz)", hw.clock_mhz, "derived from the voltage"))
    return _table(("parameter", "value", "source"), rows)


#: NeuroBench metrics: (key in the run document, label with units).
NEUROBENCH_ROWS: tuple[tuple[str, str], ...] = (
    ("effective_acs", "effective ACs (synaptic operations) per sample"),
    ("dense_ops", "dense operations per sample"),
    ("activation_sparsity", "activation sparsity"),
    ("connection_sparsity", "connection sparsity"),
    ("footprint_bytes", "model footprint (bytes, float32 parameters)"),
    ("footprint_bytes_deployed", "footprint at the network's widths (bytes)"),
)


def section_neurobench(run: RunData) -> str:
    nb = (run.extra or {}).get("neurobench")
    if not isinstance(nb, dict):  # optional: runs made without 'flexspim simulate' lack them
        return ("<p>Not computed for this run; 'flexspim simulate --json' adds them "
                "(docs/simulator.md).</p>")
    rows = [(label, nb.get(key)) for key, label in NEUROBENCH_ROWS]
    return ("<p>NeuroBench's definitions (docs/simulator.md), computed from the integer network "
            "and the simulation.</p>" + _table(("metric", "value"), rows))


#: Parts of ``extra`` that a section of their own shows.
_OWN_SECTIONS = ("neurobench", "counts")

#: Words for the keys the commands write into a run document's ``extra`` (``simulate
#: --mapping``: ``system_engine``; the demo: the policies compared, its checks, its accuracy),
#: and how their values read: ``""`` as they are, ``"%"`` a fraction in percent, ``"%2"`` the
#: same with two decimals, ``"+%"`` a relative difference in signed percent.
EXTRA_LABELS: dict[str, tuple[str, str]] = {
    "system_engine": ("analytic estimate against the executed run", ""),
    "mode": ("system engine mode", ""),
    "policy": ("policy", ""),
    "estimate_energy_per_inference_uj": ("analytic estimate of the energy per inference (µJ)",
                                         ""),
    "energy_rel": ("energy, estimate against run", "+%"),
    "latency_rel": ("latency, estimate against run", "+%"),
    "estimate_vs_engine_energy": ("energy, estimate against run", "+%"),
    "estimate_vs_engine_latency": ("latency, estimate against run", "+%"),
    "energy_per_inference_uj": ("energy per inference (µJ)", ""),
    "latency_per_inference_us": ("latency per inference (µs)", ""),
    "latency_per_timestep_us": ("latency per timestep (µs)", ""),
    "stationary_fraction": ("stationary share of the operand bits", "%"),
    "stationary_operands": ("stationary operands in the arrays", ""),
    "compile_and_cost_s": ("time to compile and cost (s)", ""),
    "predictions": ("predictions, fast engine = integer reference", ""),
    "output_counts": ("output spike counts, fast engine = integer reference", ""),
    "spikes": ("spikes per layer and timestep, fast engine = integer reference", ""),
    "sops": ("SOPs per layer and timestep, fast engine = integer reference", ""),
    "bitlevel_vs_fast": ("bit-level macro model = fast engine", ""),
    "system_bitlevel_vs_fast": ("system engine in bit-level mode = fast engine", ""),
    "bit_exact": ("every check above", ""),
    "hardware": ("accuracy of the hardware simulator (fast engine)", "%2"),
    "reference": ("accuracy of the integer reference", "%2"),
}
#: ``system_engine_<policy>_vs_fast``: the demo's check of the system engine on one mapping.
_SYSTEM_CHECK = re.compile(r"system_engine_(.+)_vs_fast")


def extra_label(key: str) -> str:
    """The words for a key of ``extra`` (:data:`EXTRA_LABELS`; other keys as :func:`label`)."""
    m = _SYSTEM_CHECK.fullmatch(key)
    if m:
        return f"system engine on the {m.group(1)} mapping = fast engine"
    return EXTRA_LABELS[key][0] if key in EXTRA_LABELS else label(key)


def extra_value(key: str, value: Any) -> Any:
    """A value of ``extra`` as it reads (percentages where :data:`EXTRA_LABELS` says so)."""
    how = EXTRA_LABELS.get(key, ("", ""))[1]
    if not how or not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    return {"%": f"{100 * value:.1f} %", "%2": f"{100 * value:.2f} %",
            "+%": f"{100 * value:+.2f} %"}[how]


def section_extra(run: RunData) -> str:
    """Whatever else the run document carries, in words (:func:`extra_label`); empty (the
    section is left out) when nothing."""
    shown = {k: v for k, v in (run.extra or {}).items() if k not in _OWN_SECTIONS}
    if not shown:
        return ""
    parts = []
    for key, val in shown.items():
        parts.append(f"<h3>{_esc(extra_label(key))}</h3>")
        if isinstance(val, list) and val and all(isinstance(r, dict) for r in val):
            cols = list(dict.fromkeys(k for r in val for k in r
                                      if not isinstance(r[k], (dict, list))))
            parts.append(_table([extra_label(c) for c in cols],
                                [[extra_value(c, r.get(c)) for c in cols] for r in val]))
        elif isinstance(val, dict) and all(not isinstance(v, (dict, list)) for v in val.values()):
            parts.append(_table(("quantity", "value"), [(extra_label(k), extra_value(k, v))
                                                        for k, v in val.items()]))
        else:
            parts.append(f"<pre>{_esc(json.dumps(val, indent=2, default=str))}</pre>")
    return "".join(parts)


def section_macros(run: RunData) -> str:
    """Per-macro utilisation and the timeline of the first inference (system engine)."""
    if run.cost is None or not run.cost.get("per_macro"):
        return _missing("per-macro data", "run the mapping on the system engine (flexspim "
                        "simulate NETWORK DATA --mapping FILE)")
    per = run.cost["per_macro"]
    how = ("counted by the system engine from the executed events"
           if run.cost.get("source", "engine") == "engine" else "expected by the analytic estimator")
    parts = [f"<p>Work per macro, {how}; the timeline is the first inference, each bar one "
             f"macro busy in one phase of the layer-first schedule.</p>"]
    phase, _, _, _ = timeline_arrays(run.cost)
    if phase.size:
        parts.append(_png(lambda fig: draw_timeline(fig, run.cost),
                          (10.0, 1.7 + 0.3 * min(len(per), 32))))
    parts.append(_png(lambda fig: draw_utilisation(fig, run.cost), (8.0, 2.8)))
    parts.append(_table(("macro", "utilisation", "busy per inference (us)",
                         "row operations per inference"),
                        [(p.get("macro"), f"{100 * float(p.get('utilisation', 0)):.1f} %",
                          p.get("busy_us"), p.get("row_ops")) for p in per]))
    return "".join(parts)


#: The report's sections, in page order: (anchor, title, renderer).
SECTIONS: tuple[tuple[str, str, Callable[[RunData], str]], ...] = (
    ("summary", "Summary", section_summary),
    ("accuracy", "Accuracy and confusion matrix", section_accuracy),
    ("layers", "Per-layer spike densities and SOPs", section_layers),
    ("neurobench", "NeuroBench metrics", section_neurobench),
    ("energy", "Energy breakdown", section_energy),
    ("latency", "Latency", section_latency),
    ("macros", "Macros: utilisation and timeline", section_macros),
    ("occupancy", "Macro occupancy", section_occupancy),
    ("stationarity", "Stationarity per layer", section_stationarity),
    ("hardware", "Hardware description", section_hardware),
    ("extra", "Further results", section_extra),
)

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left} th{background:#f4f4f4}
.missing{color:#a60;font-style:italic} img{max-width:100%} nav a{margin-right:1em}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto}
"""


def render_report(run: RunData, *, title: str | None = None) -> str:
    """The whole report as one HTML string (no external files)."""
    ttl = title or f"flexspim report: {run.simulation.network}"
    parts = [(a, t, fn(run)) for a, t, fn in SECTIONS]
    shown = [(a, t, html_) for a, t, html_ in parts if html_]  # a section with nothing is left out
    nav = "".join(f'<a href="#{a}">{_esc(t)}</a>' for a, t, _ in shown)
    body = "".join(f'<section id="{a}"><h2>{_esc(t)}</h2>{html_}</section>'
                   for a, t, html_ in shown)
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{_esc(ttl)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{_esc(ttl)}</h1>"
            f"<p>Source: {_esc(run.source)}; flexspim {__version__}.</p><nav>{nav}</nav>"
            f"{body}</body></html>\n")


def write_report(doc: Any, path: str | os.PathLike[str], *, title: str | None = None) -> None:
    """Write the HTML report of a run document (dict), a SimResult dict, or :class:`RunData`
    to ``path`` (atomically)."""
    run = doc if isinstance(doc, RunData) else run_data(doc, "<run document>")
    write_text_atomic(path, render_report(run, title=title))

"""Reproduce the paper's headline results (docs/reproduce.md): Fig. 4, Fig. 7a, Fig. 7b-d and
Table I of arXiv 2410.23082, and a workload map of where the hybrid dataflow pays, each as PNG +
JSON, with the paper's numbers beside the model's.

:func:`reproduce` computes a :class:`~flexspim.reproduce.plan.Plan` (``quick`` or the full one)
through the sweep machinery (Dask, a resumable SQLite store: :mod:`flexspim.reproduce.compute`)
and writes the figures and ``summary.json``. Fig. 4, Fig. 7b-d and the workload map run every
policy under every controller rule set (:mod:`flexspim.reproduce.rules`), Fig. 7 and the map
executed on the system engine; Fig. 7a and Table I come from the bit-level macro model
(:mod:`flexspim.reproduce.macro_figs`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from flexspim._io import write_json
from flexspim.hw import Hardware, default_hardware
from flexspim.reproduce.compute import compute, figure_documents
from flexspim.reproduce.documents import REPRODUCE_FORMAT, REPRODUCE_VERSION, document
from flexspim.reproduce.fig4 import plot_fig4
from flexspim.reproduce.fig7 import plot_fig7
from flexspim.reproduce.figures import save
from flexspim.reproduce.macro_figs import (
    OTHER_CHIPS,
    ChipFigure,
    fig7a,
    spidr_model_row,
    table1,
)
from flexspim.reproduce.paper import EXPLAINED_IN, PAPER, REPORTED, differs, reference
from flexspim.reproduce.plan import FULL, QUICK, Plan
from flexspim.reproduce.printed import TABLE_ROWS, print_table, table1_lines
from flexspim.reproduce.rules import HEADLINE_RULES, RULE_SETS
from flexspim.reproduce.workloads import CALIBRATION, N_TIMESTEPS, SAMPLES
from flexspim.reproduce.workmap import plot_map

__all__ = ["EXPLAINED_IN", "FULL", "OTHER_CHIPS", "PAPER", "QUICK", "REPORTED",
           "REPRODUCE_FORMAT", "REPRODUCE_VERSION", "TABLE_ROWS", "ChipFigure", "Plan",
           "differs", "fig7a", "print_table", "reference", "reproduce", "spidr_model_row",
           "table1", "table1_lines"]


def _write_figures(docs: dict[str, Any], plan: Plan, out: Path) -> list[str]:
    """Fig. 4, Fig. 7b-d and the workload map as JSON and PNG."""
    write_json(out / "fig4_stationary_operands.json",
               document("fig4_stationary_operands", docs["fig4"]))
    plot_fig4(docs["fig4"], out / "fig4_stationary_operands.png", save)
    write_json(out / "fig7bcd_system.json", document("fig7bcd_system", docs["fig7"]))
    plot_fig7(docs["fig7"]["grid"], plan.fig7, plan.rules, plan.policies,
              out / "fig7bcd_system.png", save)
    write_json(out / "workload_map.json", document("workload_map", docs["workload_map"]))
    best = docs["fig7"]["best_realistic_rules"]
    maps = []
    for r in docs["workload_map"]["grid"]["rules"]:
        label = "the paper's flow" if r == HEADLINE_RULES else \
            "the best realistic" if r == best else "realistic"
        maps.append(f"workload_map_{r}.png")
        plot_map(docs["workload_map"]["cells"], plan.workload_map, r, label, plan.policies,
                 out / maps[-1], save)
    return maps


def _summary_keys(docs: dict[str, Any]) -> dict[str, Any]:
    """The figures' keys for ``summary.json`` (docs/reproduce.md, "Files and keys")."""
    f4, f7, wm = docs["fig4"], docs["fig7"], docs["workload_map"]
    slim = [{**{k: v for k, v in n.items() if k != "policies"},
             "policies": {p: {k: v for k, v in c.items() if k != "per_layer"}
                          for p, c in n["policies"].items()}} for n in f4["networks"]]
    ref = f7["reference_point"]
    at_ref = [r for r in f7["grid"] if all(r[k] == v for k, v in ref.items())]
    head = wm["workload_map_max_saving_vs_ws"].get("paper", {}).get("hs-min", {})
    overall = wm["workload_map_max_saving"]
    return {**{k: v for k, v in f4.items() if k != "networks"}, "fig4_networks": slim,
            **{k: v for k, v in f7.items() if k != "grid"}, "fig7_reference_energy": at_ref,
            **{k: v for k, v in wm.items() if k not in ("cells", "grid")},
            "workload_map_max_saving_hs_vs_ws": head.get("saving"),
            "workload_map_max_saving_any": overall["saving"] if overall else None,
            "workload_map_savings": [{k: c[k] for k in ("input_hw", "base", "n_macros",
                                                        "rules", "saving_vs_ws")}
                                     for c in wm["cells"]]}


def _macro_keys(f7a: dict[str, Any], t1: dict[str, Any]) -> dict[str, Any]:
    char = f7a["macro_characterisation"]
    return {
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
    }


def _run_info(plan: Plan, computed: Any, started: float, load: tuple[float, ...]
              ) -> dict[str, Any]:
    return {"plan": plan.name, "n_timesteps": N_TIMESTEPS, "samples": SAMPLES,
            "calibration": {**CALIBRATION, "networks": computed.calibration},
            "rule_sets": {r.name: {**r.controller(), "realistic": r.realistic,
                                   "assumes": r.assumes} for r in RULE_SETS},
            "headline_rules": HEADLINE_RULES, "policies": list(plan.policies),
            "points": {"total": len(computed.results.metrics) + len(computed.results.errors),
                       "computed_now": computed.results.computed,
                       "failed": len(computed.results.errors)},
            "seconds": time.perf_counter() - started, "load_average_at_start": list(load)}


def reproduce(quick: bool, out_dir: str | os.PathLike[str], *, progress: bool = False,
              plan: Plan | None = None, hw: Hardware | None = None,
              scheduler: str | None = None, workers: int | None = None,
              client: Any = None) -> dict[str, Any]:
    """Compute every figure and table, write PNG + JSON into ``out_dir`` and ``summary.json``;
    return the summary (keys in docs/reproduce.md). ``plan`` replaces the plan of ``quick``
    (:data:`~flexspim.reproduce.plan.QUICK` or :data:`~flexspim.reproduce.plan.FULL`); ``hw``
    the hardware the figures run on (default: the paper's, the ``flexspim`` preset); the points
    run on ``client``, else on the Dask scheduler at ``scheduler``, else on a LocalCluster of
    ``workers`` workers, and are kept in ``out_dir/points.sqlite`` (an interrupted run
    resumes)."""
    started, load = time.perf_counter(), os.getloadavg()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hw = hw if hw is not None else default_hardware()
    plan = plan if plan is not None else (QUICK if quick else FULL)
    computed = compute(plan, hw, out, scheduler=scheduler, workers=workers, client=client,
                       progress=progress)
    docs = figure_documents(computed)
    maps = _write_figures(docs, plan, out)
    f7a, t1 = fig7a(hw, out), table1(hw, out)
    summary: dict[str, Any] = {
        "quick": quick, "hardware": hw.name, **_summary_keys(docs), **_macro_keys(f7a, t1),
        "paper": PAPER, "reported": REPORTED, "workload_map_figures": maps,
        **_run_info(plan, computed, started, load),
    }
    summary["files"] = sorted({*(p.name for p in out.iterdir() if p.suffix in (".png", ".json")),
                               "summary.json"})
    write_json(out / "summary.json", document("summary", summary))
    return summary

"""Pareto fronts of a sweep and their plot (energy against accuracy, energy against latency)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from flexspim._plot import MARKERS, figure_format, pyplot, save_figure
from flexspim.dse.store import PointResult

#: Objective direction per metric: +1 larger is better, -1 smaller is better.
DIRECTIONS: dict[str, int] = {
    "energy_per_inference_uj": -1,
    "latency_per_inference_us": -1,
    "latency_per_timestep_us": -1,
    "energy_per_inference_pj": -1,
    "accuracy": +1,
    "stationary_fraction": +1,
}


def _value(r: PointResult, metric: str) -> float | None:
    v = r.metrics.get(metric)
    return None if v is None else float(v)


def pareto_front(results: Sequence[PointResult], objectives: Sequence[str]) -> list[PointResult]:
    """The points (status ok, every objective known) that no other point dominates.

    A point dominates another when it is at least as good in every objective of
    :data:`DIRECTIONS` and better in one. Returned sorted by the first objective.
    """
    for m in objectives:
        if m not in DIRECTIONS:
            raise KeyError(m)
    pts = [(r, [DIRECTIONS[m] * float(_value(r, m) or 0.0) for m in objectives])
           for r in results
           if r.status == "ok" and all(_value(r, m) is not None for m in objectives)]
    front = []
    for r, a in pts:
        dominated = any(all(x >= y for x, y in zip(b, a, strict=True)) and b != a
                        for _, b in pts)
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: (float(_value(r, objectives[0]) or 0.0), r.key))


#: The panels a sweep plot may have: (metric on the y axis, its label).
PANELS: tuple[tuple[str, str], ...] = (("accuracy", "accuracy (%)"),
                                       ("latency_per_inference_us", "latency per inference (µs)"))


def _group(r: PointResult, field: str) -> str:
    v = getattr(r.point, field)
    return "base" if v is None else str(v)


def _draw_panel(ax: Any, pts: Sequence[PointResult], metric: str, label: str) -> list[str]:
    """Every point (colour: policy, marker: macro count) and the Pareto front as a line."""
    scale = 100.0 if metric == "accuracy" else 1.0
    policies = sorted({_group(r, "policy") for r in pts})
    macros = sorted({_group(r, "n_macros") for r in pts}, key=lambda m: (len(m), m))
    for r in pts:
        ci, mi = policies.index(_group(r, "policy")), macros.index(_group(r, "n_macros"))
        ax.scatter(float(_value(r, "energy_per_inference_uj") or 0.0),
                   scale * float(_value(r, metric) or 0.0), s=26, color=f"C{ci % 10}",
                   marker=MARKERS[mi % len(MARKERS)], alpha=0.8, edgecolors="none")
    front = pareto_front(pts, ["energy_per_inference_uj", metric])
    ax.plot([_value(r, "energy_per_inference_uj") for r in front],
            [scale * float(_value(r, metric) or 0.0) for r in front], "-", c="0.15", lw=1.2,
            zorder=0)
    energies = [float(_value(r, "energy_per_inference_uj") or 0.0) for r in pts]
    wide = min(energies) > 0 and max(energies) / min(energies) > 20
    ax.set_xlabel("energy per inference (µJ" + (", log scale)" if wide else ")"))
    ax.set_ylabel(label)
    if wide:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    return [r.key for r in front]


def _legend(fig: Any, pts: Sequence[PointResult]) -> None:
    """One legend below the panels: colours = policies, markers = macro counts, the front."""
    from matplotlib.lines import Line2D

    policies = sorted({_group(r, "policy") for r in pts})
    macros = sorted({_group(r, "n_macros") for r in pts}, key=lambda m: (len(m), m))
    handles = [Line2D([], [], ls="", marker="o", color=f"C{i % 10}", label=f"policy {p}")
               for i, p in enumerate(policies)]
    handles += [Line2D([], [], ls="", marker=MARKERS[i % len(MARKERS)], color="0.4",
                       label=f"{m} macro(s)") for i, m in enumerate(macros)]
    handles.append(Line2D([], [], ls="-", color="0.15", label="Pareto front"))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(len(handles), 6), fontsize=8, frameon=False)


def plot_pareto(results: Sequence[PointResult], path: str | os.PathLike[str], *,
                title: str = "sweep") -> dict[str, list[str]]:
    """Draw energy per inference (µJ) against accuracy (when the results hold it) and against
    latency (µs): each point coloured by policy and marked by macro count, each panel's Pareto
    front a line. Writes PNG, SVG or PDF by the suffix of ``path``, atomically.

    Returns the keys on each drawn panel's front (a metric no point holds gets no panel).
    """
    figure_format(path)
    ok = [r for r in results if r.status == "ok"
          and _value(r, "energy_per_inference_uj") is not None]
    panels = [(m, lab) for m, lab in PANELS if any(_value(r, m) is not None for r in ok)]
    fig = pyplot().figure(figsize=(5.6 * max(len(panels), 1) + 0.4, 4.6))
    fronts: dict[str, list[str]] = {}
    if not panels:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no feasible point to draw", ha="center", va="center",
                transform=ax.transAxes)
        ax.axis("off")
    for i, (metric, label) in enumerate(panels):
        pts = [r for r in ok if _value(r, metric) is not None]
        fronts[metric] = _draw_panel(fig.add_subplot(1, len(panels), i + 1), pts, metric, label)
    n_failed = sum(r.status != "ok" for r in results)
    fig.suptitle(f"{title}: {len(ok)} feasible points"
                 + (f", {n_failed} infeasible (not drawn)" if n_failed else ""), fontsize=11)
    fig.tight_layout()
    if ok:
        _legend(fig, ok)
    save_figure(fig, path, dpi=120)
    return fronts

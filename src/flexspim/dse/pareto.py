"""Pareto fronts of a sweep and their plot (energy against accuracy, energy against latency)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from flexspim._io import write_with
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


def _label(r: PointResult) -> str:
    p = r.point.to_dict()
    return ", ".join(f"{k}={v}" for k, v in p.items() if v is not None)


def plot_pareto(results: Sequence[PointResult], path: str | os.PathLike[str], *,
                title: str = "sweep") -> dict[str, list[str]]:
    """Draw energy per inference (uJ) against accuracy and against latency (us), every point
    grey and the Pareto front highlighted; writes a PNG/SVG/PDF atomically (by suffix).

    Returns the keys on each front. A panel without data (no accuracy in an analytic sweep)
    says so in the figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (("accuracy", "accuracy"), ("latency_per_inference_us", "latency per inference (us)"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    fronts: dict[str, list[str]] = {}
    for ax, (metric, label) in zip(axes, panels, strict=True):
        pts = [r for r in results if r.status == "ok" and _value(r, metric) is not None
               and _value(r, "energy_per_inference_uj") is not None]
        ax.set_xlabel("energy per inference (uJ)")
        ax.set_ylabel(label)
        if not pts:
            ax.text(0.5, 0.5, f"no {label} in these results", ha="center", va="center",
                    transform=ax.transAxes)
            fronts[metric] = []
            continue
        ax.scatter([_value(r, "energy_per_inference_uj") for r in pts],
                   [_value(r, metric) for r in pts], s=14, c="0.7", label="points")
        front = pareto_front(pts, ["energy_per_inference_uj", metric])
        fronts[metric] = [r.key for r in front]
        ax.plot([_value(r, "energy_per_inference_uj") for r in front],
                [_value(r, metric) for r in front], "o-", c="tab:red", ms=5,
                label="Pareto front")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(f"{title}: {sum(r.status == 'ok' for r in results)} points")
    fig.tight_layout()
    fmt = os.fspath(path).rsplit(".", 1)[-1].lower() if "." in os.fspath(path) else "png"

    def _save(tmp: Any) -> None:
        fig.savefig(tmp, format=fmt, dpi=120)

    try:
        write_with(path, _save)
    finally:
        plt.close(fig)
    return fronts

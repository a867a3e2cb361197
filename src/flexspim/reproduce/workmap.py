"""The workload map: where hybrid pays (docs/reproduce.md, "The workload map").

The saving of each policy against WS-only, executed on the system engine, at every input size x
base width x macro count, for every rule set; heat maps for each rule set, and where (if
anywhere) a saving reaches the paper's 90%.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flexspim.reproduce.fig4 import POLICY_LABELS
from flexspim.reproduce.fig7 import saving
from flexspim.reproduce.figures import pyplot
from flexspim.reproduce.plan import MapGrid
from flexspim.reproduce.points import PointTask, Results

#: The paper's headline: up to 90% energy saved (abstract, §IV).
PAPER_SAVING = 0.90


def map_cells(grid: MapGrid, rules: Sequence[str], policies: Sequence[str],
              tasks: Mapping[tuple[int, int, int, str, str], PointTask], results: Results
              ) -> list[dict[str, Any]]:
    """One cell per (input, base, macros, rule set): every policy's energy (uJ, executed),
    the estimate's error, and the saving against WS-only (None where a mapping did not fit)."""
    cells = []
    for net in grid.networks():
        for n in grid.macros:
            for r in rules:
                runs = {p: results.get(tasks[(net.input_hw, net.base, n, r, p)])
                        for p in policies}
                energy = {p: (m["energy_uj"] if m else None) for p, m in runs.items()}
                cells.append({
                    "input_hw": net.input_hw, "base": net.base, "network": net.name,
                    "n_macros": n, "rules": r, "energy_uj": energy,
                    "estimate_rel_error": {p: (m["estimate_rel_error"] if m else None)
                                           for p, m in runs.items()},
                    "sop_weighted_resident_fraction": {
                        p: (m["sop_weighted_resident_fraction"] if m else None)
                        for p, m in runs.items()},
                    "saving_vs_ws": {p: saving(energy, p) for p in policies if p != "ws"},
                    "errors": {p: results.errors[tasks[(net.input_hw, net.base, n, r, p)].key]
                               for p in policies
                               if tasks[(net.input_hw, net.base, n, r, p)].key in results.errors},
                })
    return cells


def map_keys(cells: Sequence[dict[str, Any]], rules: Sequence[str],
             policies: Sequence[str]) -> dict[str, Any]:
    """Per rule set and policy the largest saving and where; every cell at or above the
    paper's 90%; the estimator's largest error over the map."""
    where = ("input_hw", "base", "n_macros")
    best: dict[str, dict[str, Any]] = {}
    for r in rules:
        best[r] = {}
        for p in (p for p in policies if p != "ws"):
            pts = [(c["saving_vs_ws"][p], c) for c in cells
                   if c["rules"] == r and c["saving_vs_ws"].get(p) is not None]
            s, c = max(pts, key=lambda t: t[0]) if pts else (None, None)
            best[r][p] = {"saving": s, "at": {k: c[k] for k in where} if c else None}
    reach = [{"rules": c["rules"], "policy": p, "saving": v, **{k: c[k] for k in where}}
             for c in cells for p, v in c["saving_vs_ws"].items()
             if v is not None and v >= PAPER_SAVING]
    overall = max(((v["saving"], r, p, v["at"]) for r, d in best.items() for p, v in d.items()
                   if v["saving"] is not None), default=None, key=lambda t: t[0])
    errors = [abs(e) for c in cells for e in c["estimate_rel_error"].values() if e is not None]
    return {"workload_map_max_saving_vs_ws": best,
            "workload_map_max_saving": None if overall is None else {
                "saving": overall[0], "rules": overall[1], "policy": overall[2],
                "at": overall[3]},
            "workload_map_cells_reaching_paper": reach,
            "workload_map_analytic_vs_engine_max_rel_error": max(errors) if errors else None}


def _matrix(cells: Sequence[dict[str, Any]], grid: MapGrid, r: str, p: str) -> np.ndarray:
    rows = [(n.input_hw, n.base) for n in grid.networks()]
    m = np.full((len(rows), len(grid.macros)), np.nan)
    for c in cells:
        if c["rules"] == r and c["saving_vs_ws"].get(p) is not None:
            m[rows.index((c["input_hw"], c["base"])), grid.macros.index(c["n_macros"])] = \
                100 * c["saving_vs_ws"][p]
    return m


def _heat(ax: Any, m: np.ndarray, grid: MapGrid, title: str) -> Any:
    """One annotated heat map of savings (%), red for a loss, blue for a saving."""
    im = ax.imshow(np.clip(m, -100, 100), cmap="RdBu", vmin=-100, vmax=100, aspect="auto")
    for (i, j), v in np.ndenumerate(m):
        text = "n/a" if np.isnan(v) else f"{v:+.0f}%"
        dark = not np.isnan(v) and abs(v) > 55
        ax.text(j, i, text, ha="center", va="center", fontsize=9,
                color="white" if dark else "black")
    ax.set_xticks(range(len(grid.macros)), [str(n) for n in grid.macros])
    ax.set_yticks(range(len(grid.networks())),
                  [f"{n.input_hw}x{n.input_hw}, b={n.base}" for n in grid.networks()])
    ax.set(xlabel="macros (16 kB each)", ylabel="input size, base width", title=title)
    ax.title.set_size(9)
    return im


def plot_map(cells: Sequence[dict[str, Any]], grid: MapGrid, r: str, label: str,
             policies: Sequence[str], path: Path, save: Callable[[Any, Path], None]) -> None:
    """The heat maps of one rule set: one panel per policy against WS-only."""
    plt = pyplot()
    pols = [p for p in policies if p != "ws"]
    cols = 2 if len(pols) > 1 else 1
    n_rows = -(-len(pols) // cols)
    h = max(2.6, 0.42 * len(grid.networks()) + 1.6)
    fig, axes = plt.subplots(n_rows, cols, figsize=(6.2 * cols + 1.2, h * n_rows),
                             squeeze=False, layout="constrained")
    im = None
    for ax, p in zip(axes.flat, pols, strict=False):
        im = _heat(ax, _matrix(cells, grid, r, p), grid,
                   f"{POLICY_LABELS.get(p, p)} vs WS-only")
    for ax in list(axes.flat)[len(pols):]:
        ax.axis("off")
    fig.suptitle(f"Workload map, rule set '{r}' ({label}): energy saved against WS-only (%), "
                 f"executed on the system engine, {100 * grid.sparsity:.0f}% input sparsity, "
                 f"{grid.buffer_kib:g} KiB buffer (* hs-min: our reading of the paper)",
                 fontsize=10)
    if im is not None:
        bar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.9)
        bar.set_label("energy saved vs WS-only (%); negative: more energy")
    save(fig, path)

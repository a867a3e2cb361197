"""Per-macro figures of a system-engine run: the timeline of the first inference (macros x time,
one bar per phase of the layer-first schedule) and the utilisation of each macro.

Both read a cost document (``CostReport.to_dict()``): its ``timeline`` (``phase_ns[t][layer]
[phase]``, ``busy_ns[t][layer][phase][macro]``) and ``per_macro`` entries.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from flexspim._io import write_with


def timeline_arrays(cost: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(phase durations ``[T, L, P]`` ns, busy ``[T, L, P, M]`` ns, layer names, phase names)
    of a cost document; empty arrays without a timeline."""
    tl = cost.get("timeline") or {}
    phase = np.asarray(tl.get("phase_ns", []), dtype=float)
    busy = np.asarray(tl.get("busy_ns", []), dtype=float)
    if phase.ndim != 3 or busy.ndim != 4:
        return np.zeros((0, 0, 0)), np.zeros((0, 0, 0, 0)), [], []
    return phase, busy, list(tl.get("layers", [])), list(tl.get("phases", []))


def draw_timeline(fig: Any, cost: dict[str, Any], *, max_macros: int = 32) -> None:
    """Macros x time of the first inference: each bar is a macro busy in one phase, coloured by
    layer, hatched for the fire phase (compare and reset); the gaps are macros waiting for the
    slowest macro or for the shared buffer/DRAM (the phase's makespan)."""
    import matplotlib.patches as mpatches

    phase, busy, layers, phases = timeline_arrays(cost)
    ax = fig.add_subplot(1, 1, 1)
    if phase.size == 0:
        ax.text(0.5, 0.5, "no timeline in this cost", ha="center", va="center")
        ax.set_axis_off()
        return
    n_t, n_l, n_p = phase.shape
    n_m = min(busy.shape[3], max_macros)
    cmap = __import__("matplotlib").colormaps["tab10" if n_l <= 10 else "tab20"]
    start = np.concatenate([[0.0], np.cumsum(phase.reshape(-1))])[:-1].reshape(phase.shape)
    for m in range(n_m):
        for t in range(n_t):
            for li in range(n_l):
                for p in range(n_p):
                    b = busy[t, li, p, m]
                    if b <= 0:
                        continue
                    ax.barh(m, b / 1e3, left=start[t, li, p] / 1e3, height=0.8,
                            color=cmap(li % cmap.N), edgecolor="none",
                            hatch="///" if phases and phases[p] == "fire" else None)
    handles = [mpatches.Patch(color=cmap(i % cmap.N), label=name) for i, name in enumerate(layers)]
    handles.append(mpatches.Patch(facecolor="white", edgecolor="black", hatch="///",
                                  label="compare + reset"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)
    ax.set_xlabel("time within the first inference (us)")
    ax.set_ylabel("macro")
    ax.set_yticks(range(n_m))
    ax.set_ylim(n_m - 0.5, -0.5)
    ax.set_xlim(0, float(phase.sum()) / 1e3)
    mark_timesteps(ax, phase.sum(axis=(1, 2)) / 1e3)
    ax.set_title(f"Timeline of one inference on {busy.shape[3]} macro(s) "
                 f"({n_t} timesteps x {n_l} layers, layer-first)", fontsize=9, pad=14)


#: Most timestep numbers written along the top of a timeline (every k-th beyond it).
MAX_TIMESTEP_LABELS = 24


def mark_timesteps(ax: Any, durations_us: np.ndarray) -> None:
    """Timesteps told apart: a grey band behind every other one, a dashed line where each one
    after the first begins (gid ``timestep``), and the timestep numbers (0 = the first) centred
    over their spans on a top axis."""
    ends = np.cumsum(durations_us)
    starts = ends - durations_us
    for t in range(1, len(starts), 2):
        ax.axvspan(float(starts[t]), float(ends[t]), color="0.92", zorder=0, linewidth=0)
    for x in starts[1:]:
        ax.axvline(float(x), color="black", linewidth=0.9, linestyle=(0, (3, 2)),
                   gid="timestep", zorder=3)
    top = ax.secondary_xaxis("top")
    step = max(1, int(np.ceil(len(starts) / MAX_TIMESTEP_LABELS)))
    shown = range(0, len(starts), step)
    top.set_xticks([float(starts[t] + ends[t]) / 2 for t in shown], [str(t) for t in shown])
    top.tick_params(axis="x", length=0, labelsize=7)
    top.set_xlabel("timestep", fontsize=7, labelpad=2)


def draw_utilisation(fig: Any, cost: dict[str, Any]) -> None:
    """Bar per macro: busy time / latency (%) and row operations per inference."""
    per = cost.get("per_macro") or []
    ax = fig.add_subplot(1, 1, 1)
    if not per:
        ax.text(0.5, 0.5, "no per-macro data in this cost", ha="center", va="center")
        ax.set_axis_off()
        return
    x = np.arange(len(per))
    ax.bar(x, [100 * float(p.get("utilisation", 0.0)) for p in per], color="tab:blue")
    ax.set_xlabel("macro")
    ax.set_ylabel("busy time / latency (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(x)
    ax.set_title("Macro utilisation", fontsize=9)


def plot_timeline(cost: Any, path: str | os.PathLike[str]) -> None:
    """Write the timeline figure of a CostReport (or its document) as PNG, SVG or PDF by the
    file's extension, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    doc = cost.to_dict() if hasattr(cost, "to_dict") else dict(cost)
    n_m = len(doc.get("per_macro") or []) or 1
    fig = plt.figure(figsize=(10.0, 1.5 + 0.3 * min(n_m, 32)))
    fmt = str(path).rsplit(".", 1)[-1].lower()
    fmt = fmt if fmt in ("png", "svg", "pdf") else "png"
    try:
        draw_timeline(fig, doc)
        fig.tight_layout()
        write_with(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=110))
    finally:
        plt.close(fig)

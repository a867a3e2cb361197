"""Picture of a mapping: each macro's rows x columns coloured by layer and operand."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from flexspim._plot import figure_format, pyplot, save_figure
from flexspim.compile.mapping import Mapping
from flexspim.errors import ConfigError
from flexspim.hw import Hardware

_SCRATCH = (0.55, 0.55, 0.55)
_STANDBY = (0.88, 0.88, 0.88)


def mapping_legend(mapping: Mapping) -> list[tuple[str, tuple[float, ...]]]:
    """(label, RGB colour) of everything :func:`draw_mapping` draws, and only that.

    Each layer's tiles in its colour (weights full colour, membranes a lighter tint), with the
    rows they take, so that a band too thin to see at full scale still has its size.
    """
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(mapping.layers) <= 10 else "tab20"]
    legend: list[tuple[str, tuple[float, ...]]] = []
    if mapping.scratch_rows > 0:
        legend.append((f"scratch rows ({mapping.scratch_rows} per macro)", _SCRATCH))
    if any(t.col_stop - t.col_start < mapping.cols for lm in mapping.layers for t in lm.tiles):
        legend.append(("standby columns", _STANDBY))
    for i, lm in enumerate(mapping.layers):
        if not lm.tiles:
            continue
        base = np.array(cmap(i % cmap.N)[:3])
        colour = base if lm.stationary == "weights" else 0.55 * base + 0.45
        what = "weights (WS)" if lm.stationary == "weights" else "membranes (OS)"
        rows = sum(t.rows for t in lm.tiles)
        legend.append((f"{lm.name}: {what}, {rows} row{'s' if rows != 1 else ''}",
                       tuple(float(c) for c in colour)))
    return legend


def _draw_macro(ax: Any, mapping: Mapping, macro: int,
                colours: dict[str, tuple[float, ...]]) -> None:
    """One macro as rectangles (rows down, columns across). A band thinner than 1% of the
    rows is drawn on top with an outline, so that it stays visible at any figure size."""
    from matplotlib.patches import Rectangle

    def box(x: float, y: float, w: float, h: float, c: tuple[float, ...]) -> None:
        thin = h < mapping.rows / 100
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, facecolor=c, edgecolor=c,
                               linewidth=1.5 if thin else 0.0, zorder=3 if thin else 1))

    if mapping.scratch_rows > 0:
        box(0, 0, mapping.cols, mapping.scratch_rows, _SCRATCH)
    used = False
    for lm in mapping.layers:
        for t in lm.tiles:
            if t.macro != macro:
                continue
            used = True
            if t.col_stop - t.col_start < mapping.cols:
                box(0, t.row_start, mapping.cols, t.rows, _STANDBY)
            box(t.col_start, t.row_start, t.col_stop - t.col_start, t.rows, colours[lm.name])
    if not used:
        ax.text(mapping.cols / 2, mapping.rows / 2, "no resident operand", ha="center",
                va="center", fontsize=8, color="0.4")
    pad_r, pad_c = 0.015 * mapping.rows, 0.015 * mapping.cols  # keep edge bands off the frame
    ax.set_xlim(-0.5 - pad_c, mapping.cols - 0.5 + pad_c)
    ax.set_ylim(mapping.rows - 0.5 + pad_r, -0.5 - pad_r)


def draw_mapping(fig: Any, mapping: Mapping) -> None:
    """Draw on ``fig`` one panel per macro (rows down, columns across, up to four panels a
    row), each cell coloured by the layer and operand it holds, with axis labels, a title and
    a legend below the panels listing only what is drawn."""
    from matplotlib.patches import Patch

    legend = mapping_legend(mapping)
    colours = {lab.split(":")[0]: c for lab, c in legend}
    n = mapping.n_macros
    ncol = min(n, 4)
    nrow = math.ceil(n / ncol)
    axes = fig.subplots(nrow, ncol, squeeze=False, sharex=True, sharey=True)
    for m in range(nrow * ncol):
        ax = axes[m // ncol][m % ncol]
        if m >= n:
            ax.axis("off")
            continue
        _draw_macro(ax, mapping, m, colours)
        ax.set_title(f"macro {m}", fontsize=9)
        ax.set_xticks([0, mapping.cols // 2, mapping.cols - 1])
        ax.set_yticks([0, mapping.rows // 2, mapping.rows - 1])
        ax.tick_params(labelsize=7)
        if m + ncol >= n:  # the lowest panel of its column: ticks and label
            ax.set_xlabel("column (bit line)", fontsize=8)
            ax.tick_params(labelbottom=True)
        if m % ncol == 0:
            ax.set_ylabel("row (word line)", fontsize=8)
    fig.suptitle(f"{mapping.network} on {n} macro(s) of {mapping.rows} x {mapping.cols}: "
                 f"policy {mapping.policy}, stationary fraction "
                 f"{100 * mapping.stationary_fraction:.1f}%", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.legend(handles=[Patch(facecolor=c, edgecolor="0.3", label=lab) for lab, c in legend],
               loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(3, len(legend)),
               fontsize=8, frameon=False)


def mapping_figure_size(mapping: Mapping) -> tuple[float, float]:
    """Inches (width, height) that :func:`draw_mapping` needs for ``mapping``."""
    ncol = min(mapping.n_macros, 4)
    nrow = math.ceil(mapping.n_macros / ncol)
    return 2.6 * ncol + 0.8, 2.9 * nrow + 0.8


def plot_mapping(mapping: Mapping, hw: Hardware, path: str | os.PathLike[str]) -> None:
    """Write :func:`draw_mapping`'s figure to ``path`` (PNG, SVG or PDF by its suffix).

    ``hw`` must have the mapping's macro geometry (the one it was compiled for)."""
    figure_format(path)
    if (hw.macro.rows, hw.macro.cols) != (mapping.rows, mapping.cols):
        raise ConfigError(f"mapping for {mapping.rows} x {mapping.cols} macros drawn on "
                          f"hardware of {hw.macro.rows} x {hw.macro.cols}; use the hardware "
                          f"it was compiled for")
    fig = pyplot().figure(figsize=mapping_figure_size(mapping))
    draw_mapping(fig, mapping)
    save_figure(fig, path)

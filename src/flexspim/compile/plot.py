"""Picture of a mapping: each macro's rows x columns coloured by layer and operand."""

from __future__ import annotations

import math
import os

import numpy as np

from flexspim._io import write_with
from flexspim.compile.mapping import Mapping
from flexspim.hw import Hardware

_SCRATCH = (0.55, 0.55, 0.55)
_STANDBY = (0.88, 0.88, 0.88)


def macro_images(mapping: Mapping) -> tuple[np.ndarray, list[tuple[str, tuple[float, ...]]]]:
    """RGB images ``[n_macros, rows, cols, 3]`` and the legend (label, colour).

    Scratch rows grey, each layer's tiles in its colour (weights full colour, membranes a
    lighter tint), columns beside a tile's lanes (standby) light grey, free cells white.
    """
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(mapping.layers) <= 10 else "tab20"]
    img = np.ones((mapping.n_macros, mapping.rows, mapping.cols, 3))
    img[:, : mapping.scratch_rows, :, :] = _SCRATCH
    legend: list[tuple[str, tuple[float, ...]]] = [("scratch rows", _SCRATCH),
                                                   ("standby columns", _STANDBY)]
    for i, lm in enumerate(mapping.layers):
        base = np.array(cmap(i % cmap.N)[:3])
        colour = base if lm.stationary == "weights" else 0.55 * base + 0.45
        for t in lm.tiles:
            img[t.macro, t.row_start:t.row_stop, :, :] = _STANDBY
            img[t.macro, t.row_start:t.row_stop, t.col_start:t.col_stop, :] = colour
        if lm.tiles:
            legend.append((f"{lm.name} {lm.stationary}", tuple(float(c) for c in colour)))
    return img, legend


def plot_mapping(mapping: Mapping, hw: Hardware, path: str | os.PathLike[str]) -> None:
    """Write a PNG with one panel per macro (rows down, columns across) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    img, legend = macro_images(mapping)
    n = mapping.n_macros
    ncol = min(n, 8)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(1.6 * ncol + 3.4, 3.0 * nrow), squeeze=False)
    for m in range(nrow * ncol):
        ax = axes[m // ncol][m % ncol]
        if m >= n:
            ax.axis("off")
            continue
        ax.imshow(img[m], aspect="auto", interpolation="nearest")
        ax.set_title(f"macro {m}", fontsize=8)
        ax.set_xticks([0, hw.macro.cols - 1])
        ax.set_yticks([0, hw.macro.rows - 1])
        ax.tick_params(labelsize=6)
    fig.legend(handles=[Patch(color=c, label=lab) for lab, c in legend], loc="center right",
               fontsize=7, frameon=False)
    fig.suptitle(f"{mapping.network}: policy {mapping.policy}, stationary fraction "
                 f"{100 * mapping.stationary_fraction:.1f}%", fontsize=9)
    fig.subplots_adjust(right=0.7)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)



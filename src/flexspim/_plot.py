"""Figure helpers shared by every part that draws: the file type from the name, atomic saving,
and series styles that stay apart without colour.

matplotlib is imported only inside the functions (it is the ``plot`` extra). Every figure
flexspim writes goes through :func:`save_figure`, so ``x.svg`` holds SVG, ``x.pdf`` PDF and
``x.png`` PNG, and any other name is refused before anything is written.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from flexspim._io import write_with
from flexspim.errors import ConfigError

#: The file types a figure may be written as (matplotlib format names = file suffixes).
FIGURE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")

#: Marker and line style per series, in order: series stay distinguishable in grey print and
#: for readers who do not tell the colours apart.
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
LINESTYLES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (3, 1)))


def figure_format(path: str | os.PathLike[str], what: str | None = None) -> str:
    """The file type of a figure path (``png``, ``svg`` or ``pdf``, from its suffix).

    ``what`` names the option or argument the path came from (``--plot``) in the error; any
    other suffix raises :class:`~flexspim.errors.ConfigError` naming the path.
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in FIGURE_FORMATS:
        return suffix
    label = f"{what} {os.fspath(path)}" if what else os.fspath(path)
    kind = f"'.{suffix}'" if suffix else "no file type"
    raise ConfigError(f"{label}: {kind} is not a figure type flexspim writes; end the name in "
                      f"{', '.join('.' + f for f in FIGURE_FORMATS)}")


def series_style(i: int) -> dict[str, Any]:
    """Colour, marker and line style of the ``i``-th series of a line plot."""
    return {"color": f"C{i % 10}", "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int = 110,
                what: str | None = None) -> None:
    """Write ``fig`` to ``path`` atomically as the type its suffix names, then close it."""
    fmt = figure_format(path, what)
    try:
        write_with(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi,
                                                 bbox_inches="tight"))
    finally:
        pyplot().close(fig)


def polish(fig: Any, *, min_font: float = 8.0) -> None:
    """Make a drawn figure readable on its own, whatever drew it.

    Each axes' data lines (those with markers) get a marker and line style of their own besides
    their colour; a log axis gets plain tick labels (``200``, not ``2 x 10^2``); labels, titles
    and legends smaller than ``min_font`` points grow to it; a legend is redrawn where it
    covers the fewest points, listing only labelled series.
    """
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _pos: f"{v:g}")
    for ax in fig.get_axes():
        data = [ln for ln in ax.get_lines() if ln.get_marker() not in (None, "None", "")]
        for i, ln in enumerate(data):
            style = series_style(i)
            ln.set_marker(style["marker"])
            ln.set_linestyle(style["linestyle"])
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "log":
                axis.set_major_formatter(plain)
                axis.set_minor_formatter(plain if _few_decades(ax, axis) else
                                         FuncFormatter(lambda _v, _p: ""))
            axis.label.set_size(max(axis.label.get_size(), min_font))
        ax.title.set_size(max(ax.title.get_size(), min_font + 1))
        legend = ax.get_legend()
        if legend is not None:
            size = max(legend.get_texts()[0].get_fontsize(), min_font) if legend.get_texts() \
                else min_font
            handles, labels = ax.get_legend_handles_labels()
            if not handles:  # a legend of handles made by hand: keep them
                handles = list(legend.legend_handles)
                labels = [t.get_text() for t in legend.get_texts()]
            ax.legend(handles, labels, fontsize=size, loc="best", framealpha=0.85)


def _few_decades(ax: Any, axis: Any) -> bool:
    """Whether a log axis spans less than one decade (so minor ticks need labels too)."""
    lo, hi = ax.get_xlim() if axis is ax.xaxis else ax.get_ylim()
    return lo > 0 and hi > 0 and math.log10(hi / lo) < 1

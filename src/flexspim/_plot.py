"""Figure helpers shared by every part that draws: the file type from the name, atomic saving,
and series styles that stay apart without colour.

matplotlib is imported only inside the functions (it is the ``plot`` extra). Every figure
flexspim writes goes through :func:`save_figure`, so ``x.svg`` holds SVG, ``x.pdf`` PDF and
``x.png`` PNG, and any other name is refused before anything is written.
"""

from __future__ import annotations

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

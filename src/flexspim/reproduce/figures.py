"""Plotting helpers shared by the figures of ``reproduce`` (matplotlib imported on use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flexspim._plot import polish, pyplot, save_figure

__all__ = ["POLICY_COLOURS", "pyplot", "save"]

#: Colour of each policy in every figure (markers and line styles follow the series order,
#: :func:`flexspim._plot.polish`; the policies are always drawn in the same order).
POLICY_COLOURS: dict[str, str] = {"ws": "C0", "os": "C3", "hs-min": "C1", "hs-traffic": "C4",
                                  "optimal": "C2"}


def save(fig: Any, path: Path) -> None:
    """Polish, lay out and save a figure (type by the file name), then close it."""
    polish(fig)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    save_figure(fig, path)

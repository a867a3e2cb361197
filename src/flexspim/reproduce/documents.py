"""The JSON documents ``reproduce`` writes: one per figure, each carrying the format name, the
version and the figure's name (docs/formats.md)."""

from __future__ import annotations

from typing import Any

#: Every JSON file of ``reproduce`` carries this format name (with a ``figure`` key) and version.
#: Version 2: Fig. 4 per network and policy, Fig. 7 per rule set and policy, the workload map.
REPRODUCE_FORMAT = "flexspim-reproduce"
REPRODUCE_VERSION = 2


def document(figure: str, res: dict[str, Any]) -> dict[str, Any]:
    """``res`` with the format name, version and figure name in front."""
    return {"format": REPRODUCE_FORMAT, "version": REPRODUCE_VERSION, "figure": figure, **res}

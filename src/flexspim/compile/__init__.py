"""The compiler (docs/design.md §4 ``compile``; docs/compiler.md): per-layer stationarity (weights =
WS or membranes = OS, paper §III and Fig. 4), operand shapes, placement of row groups in the
macros' rows and columns, spilling to the buffer and DRAM, and the versioned mapping file.

:func:`compile_network` maps an :class:`~flexspim.net.IntNetwork` with one of :data:`POLICIES`;
:func:`save_mapping`/:func:`load_mapping` read and write ``flexspim-mapping`` version 1;
:func:`plot_mapping` draws each macro's rows and columns; :func:`overflow_bounds` proves, from
the weights and thresholds, whether a layer's membranes can overflow.
"""

from flexspim.compile.activity import Activity
from flexspim.compile.geometry import STATIONARY, LayerGeometry, network_geometry
from flexspim.compile.mapping import (
    MAPPING_FORMAT,
    MAPPING_VERSION,
    LayerMapping,
    Mapping,
    Tile,
    load_mapping,
    save_mapping,
)
from flexspim.compile.model import (
    COMPONENTS,
    LayerCounts,
    LayerTotals,
    MacroCounts,
    Prices,
    SystemCounts,
    activity_totals,
    mapping_counts,
)
from flexspim.compile.overflow import OverflowBound, overflow_bounds
from flexspim.compile.plot import plot_mapping
from flexspim.compile.policies import POLICIES, compile_network

__all__ = [
    "COMPONENTS",
    "MAPPING_FORMAT",
    "MAPPING_VERSION",
    "POLICIES",
    "STATIONARY",
    "Activity",
    "LayerCounts",
    "LayerGeometry",
    "LayerMapping",
    "LayerTotals",
    "MacroCounts",
    "OverflowBound",
    "Mapping",
    "Prices",
    "SystemCounts",
    "Tile",
    "activity_totals",
    "compile_network",
    "load_mapping",
    "mapping_counts",
    "network_geometry",
    "overflow_bounds",
    "plot_mapping",
    "save_mapping",
]

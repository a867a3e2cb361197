"""The compiler (docs/design.md §4 ``compile``; docs/compiler.md): per-layer stationarity (weights =
WS or membranes = OS, paper §III and Fig. 4), operand shapes, placement of row groups in the
macros' rows and columns, spilling to the buffer and DRAM, and the versioned mapping file.

:func:`compile_network` maps an :class:`~flexspim.net.IntNetwork` with one of :data:`POLICIES`;
:func:`save_mapping`/:func:`load_mapping` read and write ``flexspim-mapping`` version 2;
:func:`build_program` turns a mapping into the tables the system engine executes, and
:func:`estimate_counts` gives its expected counts without executing it;
:func:`plot_mapping` draws each macro's rows and columns; :func:`overflow_bounds` proves, from
the weights and thresholds, whether a layer's membranes can overflow.
"""

from flexspim.compile.activity import Activity
from flexspim.compile.estimate import estimate_counts, layer_loads, layer_totals
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
from flexspim.compile.overflow import OverflowBound, overflow_bounds
from flexspim.compile.placement import PLACEMENTS
from flexspim.compile.plot import plot_mapping
from flexspim.compile.policies import POLICIES, compile_network
from flexspim.compile.program import LayerProgram, Program, build_program

__all__ = [
    "MAPPING_FORMAT",
    "MAPPING_VERSION",
    "PLACEMENTS",
    "POLICIES",
    "STATIONARY",
    "Activity",
    "LayerGeometry",
    "LayerMapping",
    "LayerProgram",
    "OverflowBound",
    "Mapping",
    "Program",
    "Tile",
    "build_program",
    "compile_network",
    "estimate_counts",
    "layer_loads",
    "layer_totals",
    "load_mapping",
    "network_geometry",
    "overflow_bounds",
    "plot_mapping",
    "save_mapping",
]

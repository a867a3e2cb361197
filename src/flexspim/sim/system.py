"""Mapping-aware counts of a simulated run (DESIGN.md §4 ``sim``; docs/system-model.md).

:func:`system_counts` turns a :class:`~flexspim.sim.SimResult` (per layer and timestep input
events, SOPs and output spikes, summed over samples) and a compiled
:class:`~flexspim.compile.Mapping` into :class:`SystemCounts`: per layer and per macro the row
operations, active and standby column-operations, threshold compares and array row reads/writes
of streamed operands; per memory level (buffer, DRAM) the traffic in bits; and the events routed
between macros. The spikes themselves do not depend on the mapping (DESIGN.md §3), so one
simulation can be costed under any mapping.
"""

from __future__ import annotations

from flexspim.compile.mapping import Mapping
from flexspim.compile.model import (
    LayerCounts,
    LayerTotals,
    MacroCounts,
    SystemCounts,
    mapping_counts,
)
from flexspim.errors import FormatError
from flexspim.hw import Hardware
from flexspim.net.layers import SpikingLayer
from flexspim.net.network import IntNetwork
from flexspim.sim.result import SimResult

__all__ = ["LayerCounts", "MacroCounts", "SystemCounts", "result_totals", "system_counts"]


def result_totals(net: IntNetwork, result: SimResult) -> list[LayerTotals]:
    """Input events, SOPs and output spikes of every spiking layer, summed over the run."""
    names = [layer.name for layer in net.layers]
    if list(result.layer_names) != names:
        raise FormatError(f"simulation result of layers {', '.join(result.layer_names)} does "
                          f"not belong to network '{net.name}' ({', '.join(names)}); simulate "
                          f"this network")
    return [LayerTotals(float(result.input_events[i].sum()), float(result.sops[i].sum()),
                        float(result.output_spikes[i].sum()))
            for i, layer in enumerate(net.layers) if isinstance(layer, SpikingLayer)]


def system_counts(net: IntNetwork, mapping: Mapping, hw: Hardware,
                  result: SimResult) -> SystemCounts:
    """Per-layer, per-macro and per-level counts of the simulated run under ``mapping``.

    Raises MappingError when the mapping was compiled for another network or hardware.
    """
    return mapping_counts(net, mapping, hw, result_totals(net, result), result.n_samples,
                          result.n_timesteps)

"""The event-driven, bit-exact simulator (docs/design.md §4 ``sim``; docs/simulator.md).

:func:`simulate` runs an :class:`~flexspim.net.IntNetwork` layer-first per timestep on binned
spikes ``[T, N, *input_shape]`` or event streams, with the ``fast`` (vectorised, default),
``bitlevel`` (every SOP through the macro's phases on bit planes, :mod:`flexspim.macro.bitslice`)
or ``bitcell`` (every SOP through the per-cell macro model) engine, and returns a :class:`SimResult`
with predictions, output spikes per class and per-layer, per-timestep counts (input events, SOPs,
output spikes, overflow events, membrane min/max). All engines agree with the PyTorch integer
reference :mod:`flexspim.net.reference` bit for bit.
"""

from flexspim.sim.engine import ENGINES, bin_event_streams, prepare_inputs, simulate
from flexspim.sim.result import (
    RESULT_FORMAT,
    RESULT_VERSION,
    SimResult,
    load_result,
    result_differences,
)

__all__ = [
    "ENGINES",
    "RESULT_FORMAT",
    "RESULT_VERSION",
    "SimResult",
    "bin_event_streams",
    "load_result",
    "prepare_inputs",
    "result_differences",
    "simulate",
]

"""The activity trace: what a network does on a batch of inputs, which no mapping changes
(docs/system-model.md §Replay).

The arithmetic (spikes, membranes, SOPs) does not depend on where operands live, so the system
engine simulates each input once (:func:`record_trace`, the fast simulator with every layer's
output events recorded) and replays the :class:`Trace` on every mapping it executes: only the
counting of the mapping's work runs again. :meth:`Trace.take` cuts batches of samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flexspim.net.layers import SpikingLayer
from flexspim.net.network import IntNetwork
from flexspim.sim.batches import NetworkEngine, check_batch_size, check_labels, run_batches
from flexspim.sim.common import layer_input_bounds, merge_stats
from flexspim.sim.engine import assemble_result, prepare_inputs
from flexspim.sim.fast import run_batch
from flexspim.sim.result import SimResult


@dataclass(frozen=True, eq=False)
class Trace:
    """A network's activity on ``N`` samples of ``T`` timesteps.

    ``inputs``: the binned input counts ``[T, N, inputs]`` (int64); ``layer_outputs[l]``: the
    output events of layer ``l`` ``[T, N, outputs]`` (uint8; every layer, pooling and
    flattening included); ``result``: the simulation result of the same run.
    """

    network: str
    inputs: np.ndarray
    layer_outputs: tuple[np.ndarray, ...]
    result: SimResult

    @property
    def n_samples(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def n_timesteps(self) -> int:
        return int(self.inputs.shape[0])

    def layer_inputs(self, index: int) -> np.ndarray:
        """Input counts ``[T, N, inputs]`` of layer ``index``."""
        return self.inputs if index == 0 else self.layer_outputs[index - 1]

    def take(self, start: int, stop: int) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Inputs and layer outputs of samples ``[start, stop)``."""
        return (self.inputs[:, start:stop],
                tuple(np.ascontiguousarray(o[:, start:stop]) for o in self.layer_outputs))

    def event_maps(self, net: IntNetwork) -> list[np.ndarray]:
        """Input events per position of every spiking layer, summed over timesteps and samples
        (NeuroBench's effective ACs need them; :mod:`flexspim.sim.metrics`)."""
        return [self.layer_inputs(i).sum(axis=(0, 1), dtype=np.int64).reshape(net.shapes[i][0])
                for i, layer in enumerate(net.layers) if isinstance(layer, SpikingLayer)]


def record_trace(net: IntNetwork, inputs: Any, *, n_time_bins: int | None = None,
                 sensor_size: Sequence[int] | None = None, labels: Any = None,
                 batch_size: int = 64, progress: bool = False,
                 return_membranes: bool = False) -> Trace:
    """Simulate ``net`` on ``inputs`` (as :func:`flexspim.sim.simulate` takes them) with the fast
    engine and record every layer's output events (and, with ``return_membranes``, the final
    membranes in the result)."""
    check_batch_size(batch_size)
    spikes = prepare_inputs(net, inputs, n_time_bins=n_time_bins, sensor_size=sensor_size)
    layer_input_bounds(net, int(spikes.max()) if spikes.size else 0)
    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    lab = check_labels(labels, n)
    engine = NetworkEngine(net, spikes, run_batch, name="simulate (fast)",
                           return_membranes=return_membranes, record=True)
    merged = merge_stats(run_batches(engine, n, batch_size, progress))
    outputs = tuple(merged.layer_outputs or ())
    result = assemble_result(net, merged, "fast", n_t, lab)
    flat = np.ascontiguousarray(np.asarray(spikes, dtype=np.int64).reshape(n_t, n, -1))
    return Trace(net.name, flat, outputs, result)

"""NeuroBench's metrics of a simulated run (docs/simulator.md §NeuroBench metrics).

The definitions are NeuroBench's (Yik et al., "The neurobench framework for benchmarking
neuromorphic computing algorithms and systems", Nature Communications 2025; package
``neurobench``), computed from the integer network and the simulation, so that our numbers sit
beside its DVS Gesture results:

- ``effective_acs``: accumulate operations per sample: input events times the *nonzero* weights
  they reach, over every spiking layer and timestep (NeuroBench's Effective_ACs; our ``sops``
  also count zero weights, docs/design.md §3). It needs each layer's input events per position,
  which :func:`layer_event_maps` gives;
- ``dense_ops``: synaptic operations per sample if every input position fired at every timestep
  through every weight, zero or not (NeuroBench's Dense);
- ``activation_sparsity``: fraction of neuron outputs (spiking layers, all timesteps and samples)
  that are 0;
- ``connection_sparsity``: fraction of weights that are 0 (conv and linear layers);
- ``footprint_bytes``: NeuroBench's model footprint, the bytes of the parameters as stored in a
  float32 PyTorch model (4 per weight; the integer network has no biases or buffers);
  ``footprint_bytes_deployed``: the same weights at their ``w_bits`` plus every neuron's
  ``v_bits`` membrane, as the macros hold them.

NeuroBench binarizes each layer's input (an event count of 2 at one position is one operation);
input event counts above 1 (several events of a pixel in one time bin) make our
``effective_acs`` count each event, as the chip does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flexspim.net import Conv2d, IntNetwork, Linear, SpikingLayer
from flexspim.sim.common import conv_fanout, layer_neurons
from flexspim.sim.result import SimResult


def layer_event_maps(net: IntNetwork, spikes: Any, batch_size: int = 64) -> list[np.ndarray]:
    """Input events per position of every spiking layer, summed over timesteps and samples
    (``spikes``: binned input ``[T, N, *input_shape]``); runs the integer reference on
    ``batch_size`` samples at a time."""
    from flexspim.net.reference import run_reference  # imports torch

    spikes = np.asarray(spikes, dtype=np.int64)
    maps: list[np.ndarray] | None = None
    for start in range(0, spikes.shape[1], max(int(batch_size), 1)):
        part = spikes[:, start:start + batch_size]
        ref = run_reference(net, part)
        x = part.sum(axis=(0, 1))
        found: list[np.ndarray] = []
        for li, layer in enumerate(net.layers):
            if isinstance(layer, SpikingLayer):
                found.append(x)
            out = ref.spikes[li]
            x = np.asarray(out.numpy() if hasattr(out, "numpy") else out).sum(axis=(0, 1))
        maps = found if maps is None else [a + b for a, b in zip(maps, found, strict=True)]
    return maps or []


def _nonzero_fanout(layer: SpikingLayer, in_shape: tuple[int, ...]) -> np.ndarray:
    """Nonzero weights each input position reaches (shape ``in_shape``)."""
    nz = (np.asarray(layer.weight) != 0).astype(np.int64)
    if isinstance(layer, Linear):
        return nz.sum(axis=0).reshape(in_shape)
    c, h, w = in_shape
    out = np.zeros(in_shape, dtype=np.int64)
    kh, kw = nz.shape[2:]
    oh, ow = layer.output_shape(in_shape)[1:]
    per_tap = nz.sum(axis=0)  # [C, KH, KW]
    for y in range(oh):
        for x in range(ow):
            for ky in range(kh):
                iy = y * layer.stride[0] + ky - layer.padding[0]
                if not 0 <= iy < h:
                    continue
                for kx in range(kw):
                    ix = x * layer.stride[1] + kx - layer.padding[1]
                    if 0 <= ix < w:
                        out[:, iy, ix] += per_tap[:, ky, kx]
    return out


def effective_acs(net: IntNetwork, maps: list[np.ndarray]) -> int:
    """Input events times the nonzero weights they reach, all layers (``maps`` from
    :func:`layer_event_maps`), over the whole run."""
    layers = [(la, shp[0]) for la, shp in zip(net.layers, net.shapes, strict=True)
              if isinstance(la, SpikingLayer)]
    return int(sum(int((m * _nonzero_fanout(la, shp)).sum())
                   for (la, shp), m in zip(layers, maps, strict=True)))


def dense_ops_per_timestep(net: IntNetwork) -> int:
    """Synapses of all spiking layers that exist (zero weights included, padding taps not)."""
    total = 0
    for layer, (shp, _) in zip(net.layers, net.shapes, strict=True):
        if isinstance(layer, Conv2d):
            total += int(conv_fanout(layer, (shp[1], shp[2])).sum()) * shp[0]
        elif isinstance(layer, Linear):
            total += int(layer.weight.size)
    return total


def neurobench_metrics(net: IntNetwork, result: SimResult,
                       maps: list[np.ndarray] | None = None) -> dict[str, Any]:
    """NeuroBench's metrics of ``result`` (module docstring); ``effective_acs`` (per sample) is
    None without ``maps``."""
    n = max(result.n_samples, 1)
    spiking = [i for i, la in enumerate(net.layers) if isinstance(la, SpikingLayer)]
    sizes = np.asarray(layer_neurons(net), dtype=np.float64)
    fired = float(result.output_spikes[spiking].sum())
    slots = float(sizes[spiking].sum()) * result.n_timesteps * result.n_samples
    weights = [np.asarray(la.weight) for la in net.spiking_layers]
    n_weights = sum(w.size for w in weights)
    neurons = sum(int(np.prod(out)) for la, (_, out) in zip(net.layers, net.shapes, strict=True)
                  if isinstance(la, SpikingLayer))
    return {
        "effective_acs": None if maps is None else effective_acs(net, maps) / n,
        "dense_ops": float(dense_ops_per_timestep(net) * result.n_timesteps),
        "activation_sparsity": 1.0 - fired / slots if slots else 0.0,
        "connection_sparsity": (sum(int((w == 0).sum()) for w in weights) / n_weights
                                if n_weights else 0.0),
        "footprint_bytes": 4 * n_weights,
        "footprint_bytes_deployed": (sum(w.size * la.w_bits for w, la in
                                         zip(weights, net.spiking_layers, strict=True))
                                     + sum(int(np.prod(out)) * la.v_bits for la, (_, out)
                                           in zip(net.layers, net.shapes, strict=True)
                                           if isinstance(la, SpikingLayer))) / 8,
        "neurons": neurons,
    }

"""NIR interchange (Neuromorphic Intermediate Representation, nir >= 1.0); docs/nir.md.

Import lives in :mod:`flexspim.train.nir_import` (re-exported here). Export
(:func:`network_to_nir`, :func:`model_to_nir`) writes a chain of NIR nodes::

    Input -> [Conv2d | Linear] -> IF -> ... -> [SumPool2d -> Threshold] -> Flatten -> ... -> Output

- a spiking layer becomes its synapse node (``Conv2d`` with a zero bias, or ``Linear``) named as
  the layer, then an ``IF`` node ``<name>_if`` with ``r = 1``, ``v_reset = 0`` and
  ``v_threshold = theta - 0.5``: NIR fires on ``v > v_threshold``, the integer network on
  ``v >= theta``, identical for integer membranes. NIR has no subtract reset and no widths, so
  the node's metadata holds ``reset``, ``w_bits``, ``v_bits`` and the integer ``threshold``;
- a layer with a shift leak k gets a ``LIF`` node ``<name>_lif`` instead: ``tau = 2**k * dt``
  (decay ``1 - dt/tau = 1 - 2**-k`` per step of ``dt`` = :data:`DEFAULT_DT`, snnTorch's),
  ``r = tau / dt`` (input gain 1), ``v_leak = 0``, the same threshold and reset; the metadata
  adds ``leak`` (``shift``), ``leak_shift`` (k), ``dt`` and ``leak_rounding`` (``toward zero``:
  NIR's LIF is a real-valued decay, the integer network truncates ``v / 2**k``). A constant
  leak has no NIR node (NIR's leaks are exponential) and is refused;
- ``SpikeMaxPool`` (OR of spikes) becomes ``SumPool2d`` then ``Threshold(0.5)`` named
  ``<name>_or`` (NIR has no max-pool; a sum of binary spikes above 0.5 is their OR).

Import: :mod:`flexspim.train.nir_import`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from flexspim._io import write_with
from flexspim.errors import FormatError, NetworkError
from flexspim.net import Conv2d, IntNetwork, Linear, SpikeMaxPool, SpikingLayer
from flexspim.train.model import export_network
from flexspim.train.nir_import import DEFAULT_DT, ImportReport, import_nir, network_from_nir


def _nir() -> Any:
    try:
        import nir  # the nir extra: only NIR files need it
    except ImportError:
        raise FormatError("NIR support needs the 'nir' package; install flexspim[nir]") from None
    return nir


def _weight_dtype(largest: int) -> type:
    """A dtype that holds every integer weight up to ``largest`` in magnitude exactly: float32
    below 2**24 (what torch-based tools expect), float64 below 2**53, else int64."""
    return np.float32 if largest < 2**24 else np.float64 if largest < 2**53 else np.int64


def _threshold_dtype(threshold: float) -> type:
    """float32 while ``theta - 0.5`` is exact in it (theta < 2**23), else float64 (the node's
    metadata holds the integer threshold exactly in any case)."""
    return np.float32 if abs(threshold) < 2.0**23 else np.float64


def _neuron_node(nir: Any, layer: SpikingLayer, shape: tuple[int, ...], threshold: float
                 ) -> tuple[str, Any]:
    """(name suffix, node): an ``IF`` node, or a ``LIF`` node for a shift leak (module
    docstring)."""
    meta: dict[str, Any] = {"reset": layer.reset, "w_bits": int(layer.w_bits),
                            "v_bits": int(layer.v_bits), "threshold": int(layer.threshold)}
    v_thr = np.full(shape, threshold, dtype=_threshold_dtype(threshold))
    leak = layer.leak
    if leak is None:
        return "_if", nir.IF(r=np.ones(shape, dtype=np.float32), v_threshold=v_thr,
                             v_reset=np.zeros(shape, dtype=np.float32), metadata=meta)
    if leak.kind != "shift":
        raise NetworkError(f"layer '{layer.name}': a {leak.kind} leak has no NIR node (NIR's "
                           f"LIF decays exponentially); export IF or shift-leak layers only, "
                           f"or keep the flexspim network file")
    tau = float(2 ** leak.amount) * DEFAULT_DT  # float64: dt / tau is exactly 2**-k
    meta.update(leak="shift", leak_shift=int(leak.amount), dt=DEFAULT_DT,
                leak_rounding="toward zero")
    return "_lif", nir.LIF(tau=np.full(shape, tau), r=np.full(shape, tau / DEFAULT_DT),
                           v_leak=np.zeros(shape), v_threshold=v_thr,
                           v_reset=np.zeros(shape, dtype=np.float32), metadata=meta)


def _graph_from_layers(net: IntNetwork, weights: dict[str, np.ndarray],
                       thresholds: dict[str, float]) -> Any:
    nir = _nir()
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array(net.input_shape))}
    chain = ["input"]
    for layer, (shp_in, shp_out) in zip(net.layers, net.shapes, strict=True):
        if isinstance(layer, Conv2d):
            nodes[layer.name] = nir.Conv2d(
                input_shape=tuple(int(s) for s in shp_in[1:]), weight=weights[layer.name],
                stride=tuple(layer.stride), padding=tuple(layer.padding), dilation=(1, 1),
                groups=1, bias=np.zeros(layer.out_channels, dtype=np.float32))
        elif isinstance(layer, Linear):
            nodes[layer.name] = nir.Linear(weight=weights[layer.name])
        elif isinstance(layer, SpikeMaxPool):
            nodes[layer.name] = nir.SumPool2d(kernel_size=np.array(layer.kernel),
                                              stride=np.array(layer.stride),
                                              padding=np.array([0, 0]))
            nodes[f"{layer.name}_or"] = nir.Threshold(
                threshold=np.full(shp_out, 0.5, dtype=np.float32))
        else:
            nodes[layer.name] = nir.Flatten(input_type={"input": np.array(shp_in)},
                                            start_dim=0, end_dim=-1)
        chain.append(layer.name)
        if isinstance(layer, SpikeMaxPool):
            chain.append(f"{layer.name}_or")
        if isinstance(layer, SpikingLayer):
            suffix, node = _neuron_node(nir, layer, shp_out, thresholds[layer.name])
            nodes[f"{layer.name}{suffix}"] = node
            chain.append(f"{layer.name}{suffix}")
    nodes["output"] = nir.Output(output_type=np.array(net.shapes[-1][1]))
    chain.append("output")
    return nir.NIRGraph(nodes=nodes, edges=list(zip(chain[:-1], chain[1:], strict=True)),
                        metadata={"source": "flexspim", "network": net.name})


def network_to_nir(net: IntNetwork) -> Any:
    """The integer network as a ``nir.NIRGraph`` (weights as float32 integers; module docstring)."""
    weights = {}
    for la in net.spiking_layers:
        w = np.asarray(la.weight, dtype=np.int64)
        largest = max(-int(w.min()), int(w.max())) if w.size else 0
        weights[la.name] = w.astype(_weight_dtype(largest))
    thresholds = {la.name: la.threshold - 0.5 for la in net.spiking_layers}
    return _graph_from_layers(net, weights, thresholds)


def model_to_nir(model: Any) -> Any:
    """The float model of a :class:`~flexspim.train.QuantSNN` as a ``nir.NIRGraph``.

    Weights are the trained float weights, ``v_threshold`` the float threshold ``tau`` (same
    units); the metadata holds the widths and integer threshold of the quantized model.
    """
    net = export_network(model)
    weights = {name: p.detach().cpu().numpy().astype(np.float32)
               for name, p in model.weights.items()}
    thresholds = {name: float(p.detach()) for name, p in model.thresholds.items()}
    return _graph_from_layers(net, weights, thresholds)


def write_nir(graph: Any, path: str | os.PathLike[str]) -> None:
    """Write a NIR graph to ``path`` (HDF5, atomically)."""
    nir = _nir()
    write_with(path, lambda tmp: nir.write(tmp, graph))


__all__ = ["DEFAULT_DT", "ImportReport", "import_nir", "model_to_nir", "network_from_nir",
           "network_to_nir", "write_nir"]

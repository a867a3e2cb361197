"""NIR interchange (Neuromorphic Intermediate Representation, nir >= 1.0).

Export (:func:`network_to_nir`, :func:`model_to_nir`) writes a chain of NIR nodes::

    Input -> [Conv2d | Linear] -> IF -> ... -> [SumPool2d -> Threshold] -> Flatten -> ... -> Output

- a spiking layer becomes its synapse node (``Conv2d`` with a zero bias, or ``Linear``) named as
  the layer, then an ``IF`` node ``<name>_if`` with ``r = 1``, ``v_reset = 0`` and
  ``v_threshold = theta - 0.5``: NIR fires on ``v > v_threshold``, the integer network on
  ``v >= theta``, identical for integer membranes. NIR has no subtract reset and no widths, so
  the node's metadata holds ``reset``, ``w_bits``, ``v_bits`` and the integer ``threshold``;
- ``SpikeMaxPool`` (OR of spikes) becomes ``SumPool2d`` then ``Threshold(0.5)`` named
  ``<name>_or`` (NIR has no max-pool; a sum of binary spikes above 0.5 is their OR).

Import (:func:`network_from_nir`) accepts chains of Input, Conv2d, Linear, Affine (zero bias),
IF, LIF, CubaLIF, SumPool2d/AvgPool2d followed by a Threshold, Flatten and Output, as snnTorch,
Norse and Sinabs write them, and quantizes each synapse + neuron pair to ``w_bits`` / ``v_bits``:

- input gain per step: IF ``r``; LIF ``r * dt / tau`` (snnTorch writes ``r = tau / dt``, gain 1);
  CubaLIF ``r * w_in * dt / tau_mem`` (the synaptic filter replaced by its DC gain);
- effective weights ``W * gain`` are scaled by ``s = max|W gain| / (2**(w_bits-1) - 1)`` and
  rounded; ``s = 1`` when they already are integers inside the ``w_bits``-bit two's-complement
  range ``[-2**(w_bits-1), 2**(w_bits-1) - 1]``. The threshold becomes ``theta =
  floor(v_threshold / s) + 1`` (``v * s > v_threshold``), clipped to ``[1, 2**(v_bits-1) - 1]``
  (a clip is noted); at ``s = 1`` the integer ``threshold`` of flexspim's metadata is used when
  it agrees with ``v_threshold``. So an integer network exported by flexspim reimports
  bit-identically at its own widths, at any width (weights are written as float32 below
  2**24, float64 below 2**53, int64 above; thresholds as float32 below 2**23, else float64,
  with the exact integer in the metadata);
- Flatten: any ``start_dim`` / ``end_dim`` (a leading batch dimension in its ``input_type``
  included) that flattens the whole (C, H, W) sample to one vector;
- leaks (finite ``tau``) and synaptic filters have no counterpart in the IF hardware model
  (paper §II: IF neurons, no leak); they are dropped and listed in the :class:`ImportReport`.
- reset: the node's ``reset`` metadata if present, else ``reset`` given by the caller, else NIR's
  own semantics (reset to ``v_reset``, which must be 0: mode ``zero``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flexspim._io import write_with
from flexspim.errors import FormatError, NetworkError
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, SpikeMaxPool, SpikingLayer
from flexspim.net.layers import RESET_MODES, int_range

#: snnTorch's export time step (s), used for LIF/CubaLIF input gains unless the caller says.
DEFAULT_DT = 1e-4


def _nir() -> Any:
    try:
        import nir
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


def _if_node(nir: Any, layer: SpikingLayer, shape: tuple[int, ...], threshold: float) -> Any:
    return nir.IF(r=np.ones(shape, dtype=np.float32),
                  v_threshold=np.full(shape, threshold, dtype=_threshold_dtype(threshold)),
                  v_reset=np.zeros(shape, dtype=np.float32),
                  metadata={"reset": layer.reset, "w_bits": int(layer.w_bits),
                            "v_bits": int(layer.v_bits), "threshold": int(layer.threshold)})


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
            nodes[f"{layer.name}_if"] = _if_node(nir, layer, shp_out, thresholds[layer.name])
            chain.append(f"{layer.name}_if")
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
    from flexspim.train.model import export_network

    net = export_network(model)
    weights = {name: p.detach().cpu().numpy().astype(np.float32)
               for name, p in model.weights.items()}
    thresholds = {name: float(p.detach()) for name, p in model.thresholds.items()}
    return _graph_from_layers(net, weights, thresholds)


def write_nir(graph: Any, path: str | os.PathLike[str]) -> None:
    """Write a NIR graph to ``path`` (HDF5, atomically)."""
    nir = _nir()
    write_with(path, lambda tmp: nir.write(tmp, graph))


# ---------------------------------------------------------------------------------------------
# import


@dataclass(frozen=True)
class ImportReport:
    """What :func:`network_from_nir` did: per-layer weight scales and every approximation."""

    scales: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _arr(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _weights(value: Any) -> np.ndarray:
    """Synapse weights: int64 when stored as integers (exact at any width), else float64."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    return arr.astype(np.int64) if np.issubdtype(arr.dtype, np.integer) else arr.astype(np.float64)


def _meta(node: Any, key: str) -> Any:
    val = (getattr(node, "metadata", None) or {}).get(key)
    if isinstance(val, np.ndarray) and val.shape == ():
        val = val[()]
    if isinstance(val, bytes):
        val = val.decode("utf-8")
    if isinstance(val, np.generic):
        val = val.item()
    return val


def _uniform(name: str, node: Any, key: str, value: Any) -> float:
    arr = _arr(value).reshape(-1)
    if arr.size == 0:
        raise NetworkError(f"NIR node '{name}' ({type(node).__name__}): field '{key}' is empty")
    if not np.allclose(arr, arr[0], rtol=1e-6, atol=0.0, equal_nan=True):
        raise NetworkError(f"NIR node '{name}' ({type(node).__name__}): '{key}' differs between "
                           f"neurons; the integer network has one value per layer")
    return float(arr[0])


@dataclass
class _State:
    """Walk state of the importer: the current shape and what is pending."""

    w_bits: int
    v_bits: int
    reset: str | None
    dt: float
    shape: tuple[int, ...] = ()
    layers: list[Any] = field(default_factory=list)
    synapse: tuple[str, Any, dict[str, Any]] | None = None
    pool: tuple[str, Any] | None = None
    scales: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _conv_padding(name: str, node: Any, kernel: tuple[int, int]) -> tuple[int, int]:
    pad = node.padding
    if isinstance(pad, str):
        if pad == "valid":
            return (0, 0)
        if any(k % 2 == 0 for k in kernel):
            raise NetworkError(f"NIR node '{name}' (Conv2d): padding 'same' with an even kernel "
                               f"{kernel} is asymmetric; not supported")
        return (kernel[0] // 2, kernel[1] // 2)
    p = np.broadcast_to(np.asarray(pad, dtype=np.int64).reshape(-1), (2,))
    return int(p[0]), int(p[1])


def _pair_of(value: Any) -> tuple[int, int]:
    p = np.broadcast_to(np.asarray(value, dtype=np.int64).reshape(-1), (2,))
    return int(p[0]), int(p[1])


def _check_no_pending(st: _State, name: str, node: Any) -> None:
    if st.synapse is not None:
        raise NetworkError(f"NIR node '{name}' ({type(node).__name__}) follows synapse node "
                           f"'{st.synapse[0]}' without a neuron node between; add IF/LIF "
                           f"neurons after every Conv2d/Linear")
    if st.pool is not None:
        raise NetworkError(f"NIR node '{st.pool[0]}' ({type(st.pool[1]).__name__}): pooling must "
                           f"be followed by a Threshold node (spike OR); '{name}' follows it")


def _on_input(st: _State, name: str, node: Any) -> None:
    shape = tuple(int(s) for s in _arr(node.input_type["input"]).reshape(-1))
    if len(shape) == 4 and shape[0] == 1:
        shape = shape[1:]  # a batch dimension left in by the exporter
    st.shape = shape


def _on_conv(st: _State, name: str, node: Any) -> None:
    _check_no_pending(st, name, node)
    w = _weights(node.weight)
    if w.ndim != 4 or len(st.shape) != 3 or w.shape[1] != st.shape[0]:
        raise NetworkError(f"NIR node '{name}' (Conv2d): weight {w.shape} does not fit input "
                           f"{st.shape}")
    if int(np.asarray(node.groups)) != 1 or _pair_of(node.dilation) != (1, 1):
        raise NetworkError(f"NIR node '{name}' (Conv2d): groups {node.groups} / dilation "
                           f"{node.dilation} not supported; use groups=1, dilation=1")
    bias = getattr(node, "bias", None)
    if bias is not None and np.any(_arr(bias) != 0):
        raise NetworkError(f"NIR node '{name}' (Conv2d): nonzero bias; the integer network has "
                           f"no bias, retrain with bias=False")
    stride = _pair_of(node.stride)
    padding = _conv_padding(name, node, (w.shape[2], w.shape[3]))
    oh = (st.shape[1] + 2 * padding[0] - w.shape[2]) // stride[0] + 1
    ow = (st.shape[2] + 2 * padding[1] - w.shape[3]) // stride[1] + 1
    st.synapse = (name, w, {"kind": "conv2d", "stride": stride, "padding": padding})
    st.shape = (int(w.shape[0]), int(oh), int(ow))


def _on_linear(st: _State, name: str, node: Any) -> None:
    _check_no_pending(st, name, node)
    w = _weights(node.weight)
    bias = getattr(node, "bias", None)
    if bias is not None and np.any(_arr(bias) != 0):
        raise NetworkError(f"NIR node '{name}' ({type(node).__name__}): nonzero bias; the "
                           f"integer network has no bias, retrain with bias=False")
    if w.ndim != 2 or st.shape != (w.shape[1],):
        raise NetworkError(f"NIR node '{name}' ({type(node).__name__}): weight {w.shape} does "
                           f"not fit input {st.shape}; flatten first")
    st.synapse = (name, w, {"kind": "linear"})
    st.shape = (int(w.shape[0]),)


def _gain_if(name: str, node: Any, dt: float) -> tuple[float, list[str]]:
    return _uniform(name, node, "r", node.r), []


def _leak_gain(name: str, node: Any, tau: float, r: float, dt: float) -> tuple[float, list[str]]:
    """Input gain ``r * dt / tau`` of a leaky neuron; ``tau = r = inf`` (snnTorch beta = 1,
    ``r = tau / dt``) is the IF limit with gain 1."""
    kind = type(node).__name__
    if math.isinf(tau) and math.isinf(r):
        return 1.0, []
    if math.isinf(tau) or math.isinf(r) or tau <= 0:
        raise NetworkError(f"NIR node '{name}' ({kind}): tau = {tau:g}, r = {r:g} give no finite "
                           f"input gain; export with a finite time constant")
    return r * dt / tau, [f"{name}: {kind} leak (tau = {tau:g} s) dropped; the hardware neuron "
                          f"is IF"]


def _gain_lif(name: str, node: Any, dt: float) -> tuple[float, list[str]]:
    tau = _uniform(name, node, "tau", node.tau)
    gain, notes = _leak_gain(name, node, tau, _uniform(name, node, "r", node.r), dt)
    if _uniform(name, node, "v_leak", node.v_leak) != 0:
        notes.append(f"{name}: v_leak dropped")
    return gain, notes


def _gain_cuba(name: str, node: Any, dt: float) -> tuple[float, list[str]]:
    tau = _uniform(name, node, "tau_mem", node.tau_mem)
    gain, notes = _leak_gain(name, node, tau, _uniform(name, node, "r", node.r), dt)
    w_in = _uniform(name, node, "w_in", node.w_in)
    return gain * w_in, [*notes, f"{name}: CubaLIF synaptic filter replaced by its DC gain"]


#: Neuron node type name -> input gain per time step (and notes about what was dropped).
_NEURON_GAIN: dict[str, Callable[[str, Any, float], tuple[float, list[str]]]] = {
    "IF": _gain_if, "LIF": _gain_lif, "CubaLIF": _gain_cuba,
}


def _quantize_weights(w_eff: np.ndarray, w_bits: int) -> tuple[np.ndarray, float]:
    """Integer weights of ``w_bits`` bits and their scale (float units per weight unit).

    Weights that already are integers inside the ``w_bits``-bit two's-complement range keep
    scale 1 (an exported integer network reimports bit-identically); any others are scaled
    symmetrically, ``s = max|w| / (2**(w_bits-1) - 1)`` (1 bit: ``s = max|w|``, levels
    {-1, 0}), and rounded to nearest.
    """
    lo, hi = int_range(w_bits)
    if w_eff.size and np.all(w_eff == np.round(w_eff)) and w_eff.min() >= lo and w_eff.max() <= hi:
        return np.round(w_eff).astype(np.int64), 1.0
    top = max(hi, 1)
    w_eff = w_eff.astype(np.float64)
    amax = float(np.abs(w_eff).max()) if w_eff.size else 0.0
    scale = amax / top if amax > 0 else 1.0
    q = np.clip(np.round(w_eff / scale), -top if w_bits > 1 else -1, top if w_bits > 1 else 0)
    return q.astype(np.int64), scale


def _stored_threshold(node: Any, v_thr: float) -> int | None:
    """The integer threshold flexspim wrote in the node's metadata, if it agrees with
    ``v_threshold`` (``theta - 0.5``, to the precision the float was stored with); else None."""
    meta = _meta(node, "threshold")
    if isinstance(meta, (bool, float)) or not isinstance(meta, int):
        return None
    tolerance = 0.5 + abs(v_thr) * float(np.finfo(np.float32).eps)
    return int(meta) if abs((meta - 0.5) - v_thr) <= tolerance else None


def _on_neuron(st: _State, name: str, node: Any) -> None:
    kind = type(node).__name__
    if st.synapse is None:
        raise NetworkError(f"NIR node '{name}' ({kind}): a neuron node must follow a Conv2d or "
                           f"Linear node")
    syn_name, w, info = st.synapse
    gain, notes = _NEURON_GAIN[kind](name, node, st.dt)
    st.notes += notes
    v_thr = _uniform(name, node, "v_threshold", node.v_threshold)
    v_reset = getattr(node, "v_reset", None)
    reset = _meta(node, "reset") or st.reset
    if reset is None:
        if v_reset is not None and _uniform(name, node, "v_reset", v_reset) != 0:
            raise NetworkError(f"NIR node '{name}' ({kind}): v_reset = {v_reset!r} is not 0; "
                               f"the integer network resets to 0 or subtracts the threshold")
        reset = "zero"
    if reset not in RESET_MODES:
        raise NetworkError(f"NIR node '{name}' ({kind}): reset {reset!r}; use one of "
                           f"{', '.join(RESET_MODES)}")
    if v_thr <= 0 or gain <= 0:
        raise NetworkError(f"NIR node '{name}' ({kind}): threshold {v_thr:g} and input gain "
                           f"{gain:g} must be > 0")
    q, scale = _quantize_weights(w if gain == 1.0 else w * gain, st.w_bits)
    theta_max = int_range(st.v_bits)[1]
    theta = _stored_threshold(node, v_thr) if scale == 1.0 else None
    if theta is None:
        theta = math.floor(v_thr / scale) + 1
    if theta > theta_max:
        st.notes.append(f"{syn_name}: threshold {theta} clipped to {theta_max}, the largest "
                        f"{st.v_bits}-bit membrane value; import with a larger --v-bits")
    theta = int(min(max(theta, 1), theta_max))
    common = dict(name=syn_name, weight=q, w_bits=st.w_bits, v_bits=st.v_bits,
                  threshold=theta, reset=reset)
    if info["kind"] == "conv2d":
        st.layers.append(Conv2d(**common, stride=info["stride"], padding=info["padding"]))
    else:
        st.layers.append(Linear(**common))
    st.scales[syn_name] = scale
    st.synapse = None


def _on_pool(st: _State, name: str, node: Any) -> None:
    _check_no_pending(st, name, node)
    if _pair_of(node.padding) != (0, 0):
        raise NetworkError(f"NIR node '{name}' ({type(node).__name__}): padding {node.padding} "
                           f"not supported; spike pooling does not pad")
    st.pool = (name, node)


def _on_threshold(st: _State, name: str, node: Any) -> None:
    if st.pool is None:
        raise NetworkError(f"NIR node '{name}' (Threshold): only supported after a SumPool2d or "
                           f"AvgPool2d node (spike OR pooling)")
    pname, pool = st.pool
    kernel, stride = _pair_of(pool.kernel_size), _pair_of(pool.stride)
    area = kernel[0] * kernel[1] if type(pool).__name__ == "AvgPool2d" else 1
    thr = _uniform(name, node, "threshold", node.threshold)
    if not 0 <= thr * area < 1:
        raise NetworkError(f"NIR node '{name}' (Threshold): threshold {thr:g} after "
                           f"'{pname}' is not an OR of binary spikes (needs 0 <= threshold < "
                           f"{1 / area:g})")
    layer = SpikeMaxPool(name=pname, kernel=kernel, stride=stride)
    st.shape = layer.output_shape(st.shape)
    st.layers.append(layer)
    st.pool = None


def _flatten_dims(node: Any, ndim: int) -> tuple[int, int, int]:
    """(start, end, batch) of a Flatten node over a sample of ``ndim`` dims: ``batch`` is 1 when
    its ``input_type`` keeps a leading batch dimension (torch's ``start_dim=1``), else 0."""
    in_type = getattr(node, "input_type", None)
    in_shape = in_type.get("input") if isinstance(in_type, dict) else None
    n_in = _arr(in_shape).reshape(-1).size if in_shape is not None else ndim
    batch = 1 if n_in == ndim + 1 else 0
    full = ndim + batch
    start, end = int(np.asarray(node.start_dim)), int(np.asarray(node.end_dim))
    return (start + full if start < 0 else start) - batch, (end + full if end < 0 else end) - batch, batch


def _on_flatten(st: _State, name: str, node: Any) -> None:
    _check_no_pending(st, name, node)
    start, end, batch = _flatten_dims(node, len(st.shape))
    if start > 0 or end < len(st.shape) - 1 or start < -batch:
        dims = f"{int(np.asarray(node.start_dim))}..{int(np.asarray(node.end_dim))}"
        raise NetworkError(f"NIR node '{name}' (Flatten): dims {dims} of input {st.shape} "
                           f"(batch dimension: {'yes' if batch else 'no'}) do not flatten the "
                           f"whole sample; the integer network flattens (C, H, W) to one vector")
    st.layers.append(Flatten(name=name))
    st.shape = (int(np.prod(st.shape)),)


def _on_output(st: _State, name: str, node: Any) -> None:
    _check_no_pending(st, name, node)


#: NIR node type name -> handler. Anything else is reported as unsupported.
_HANDLERS: dict[str, Callable[[_State, str, Any], None]] = {
    "Input": _on_input, "Conv2d": _on_conv, "Linear": _on_linear, "Affine": _on_linear,
    "IF": _on_neuron, "LIF": _on_neuron, "CubaLIF": _on_neuron,
    "SumPool2d": _on_pool, "AvgPool2d": _on_pool, "Threshold": _on_threshold,
    "Flatten": _on_flatten, "Output": _on_output,
}


def _chain(graph: Any) -> list[str]:
    """Node names from the single Input to the single Output; a branching graph is an error."""
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    for name, node in graph.nodes.items():
        if type(node).__name__ not in _HANDLERS:
            raise NetworkError(f"NIR node '{name}' ({type(node).__name__}) is not supported; "
                               f"supported node types: {', '.join(sorted(_HANDLERS))}")
        if len(succ.get(name, [])) > 1 or len(pred.get(name, [])) > 1:
            raise NetworkError(f"NIR node '{name}' ({type(node).__name__}) has several inputs or "
                               f"outputs (recurrence or branches); only feed-forward chains are "
                               f"supported")
    inputs = [n for n, node in graph.nodes.items() if type(node).__name__ == "Input"]
    if len(inputs) != 1:
        raise NetworkError(f"NIR graph has {len(inputs)} Input nodes; exactly one is supported")
    order = [inputs[0]]
    while succ.get(order[-1]):
        nxt = succ[order[-1]][0]
        if nxt in order:
            raise NetworkError(f"NIR node '{nxt}' closes a cycle; only feed-forward chains are "
                               f"supported")
        order.append(nxt)
    if len(order) != len(graph.nodes):
        missing = sorted(set(graph.nodes) - set(order))
        raise NetworkError(f"NIR nodes {', '.join(missing)} are not on the chain from the Input "
                           f"node; only one connected chain is supported")
    return order


def network_from_nir(graph: Any, *, w_bits: int = 8, v_bits: int = 16, reset: str | None = None,
                     dt: float = DEFAULT_DT, name: str = "nir_import"
                     ) -> tuple[IntNetwork, ImportReport]:
    """Quantize a NIR graph to an :class:`IntNetwork` of ``w_bits`` / ``v_bits`` (module docstring).

    Unsupported nodes raise NetworkError naming the node and its type.
    """
    if reset is not None and reset not in RESET_MODES:
        raise NetworkError(f"reset = {reset!r}; use one of {', '.join(RESET_MODES)}")
    if not 1 <= int(w_bits) <= int(v_bits) or int(v_bits) < 2:
        raise NetworkError(f"w_bits = {w_bits}, v_bits = {v_bits}: need 1 <= w_bits <= v_bits "
                           f"and v_bits >= 2")
    st = _State(w_bits=int(w_bits), v_bits=int(v_bits), reset=reset, dt=float(dt))
    order = _chain(graph)
    input_shape: tuple[int, ...] = ()
    for node_name in order:
        node = graph.nodes[node_name]
        _HANDLERS[type(node).__name__](st, node_name, node)
        if node_name == order[0]:
            input_shape = st.shape
    if st.synapse is not None or st.pool is not None:
        last = st.synapse[0] if st.synapse is not None else st.pool[0]  # type: ignore[index]
        raise NetworkError(f"NIR node '{last}' ends the graph without a neuron/threshold node")
    if not st.layers:
        raise NetworkError("NIR graph holds no layers")
    net = IntNetwork(input_shape=input_shape, layers=tuple(st.layers), name=name)
    return net, ImportReport(scales=dict(st.scales), notes=tuple(st.notes))


def import_nir(path: str | os.PathLike[str], **kwargs: Any) -> tuple[IntNetwork, ImportReport]:
    """Read a ``.nir`` file and quantize it with :func:`network_from_nir` (same keywords)."""
    nir = _nir()
    p = Path(path)
    if not p.is_file():
        raise FormatError(f"{p}: no such NIR file; check the path")
    try:
        graph = nir.read(p)
    except Exception as exc:  # h5py / nir raise many types for a bad file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FormatError(f"{p}: not a readable NIR file ({first[:120]})") from None
    kwargs.setdefault("name", p.stem)
    try:
        return network_from_nir(graph, **kwargs)
    except NetworkError as exc:
        raise NetworkError(f"{p}: {exc}") from None

"""Biases as always-on inputs: exact, with nothing but the network's own neurons (docs/nir.md).

The FlexSpIM neuron has no bias (paper §II: IF neurons, membrane += weight per input event). A
bias ``b`` added to a neuron's input at every timestep is one more weight, ``b``, on an input
that carries an event at every timestep: the macro holds it like any other weight and adds it
once per timestep. :func:`fold_biases` builds those inputs:

- the network input gains ``always_on`` trailing channels that are 1 at every position and
  timestep (:attr:`flexspim.net.IntNetwork.always_on`; the simulator appends them to the data);
- a layer with a bias gets the bias as the weight from one always-on input channel (a conv: at a
  kernel tap that lies inside the input for every output position, so every position adds it);
- a layer whose successors need always-on inputs passes them on through *relay* neurons: extra
  output channels whose weights from the always-on inputs add up to exactly the layer's threshold
  ``theta`` (pieces of at most ``2**(w_bits-1) - 1``), so they fire at every timestep and, under
  either reset, return to 0 (a leak leaves a zero membrane at zero, so relays of a leaky layer
  fire at every timestep too; they take the layer's leak like its other neurons);
- spike max-pooling keeps an always-on channel always on, and flattening a ``(C, H, W)`` map
  turns each always-on channel into ``H * W`` always-on features.

The relays and bias weights cost what they would cost on the chip (SOPs, compares, spikes); the
last layer (the classes) never gets relays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from flexspim.errors import NetworkError
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, SpikeMaxPool, SpikingLayer
from flexspim.net.layers import int_range

Layer = Conv2d | Linear | SpikeMaxPool | Flatten


@dataclass(frozen=True)
class BiasFold:
    """The layers with their always-on weights, the always-on input channels, and notes."""

    layers: tuple[Layer, ...]
    always_on: int
    notes: tuple[str, ...]


def _w_max(layer: SpikingLayer, why: str) -> int:
    top = int_range(layer.w_bits)[1]
    if top < 1:
        raise NetworkError(f"layer '{layer.name}': {why} needs a positive weight, and "
                           f"{layer.w_bits}-bit weights have none; import with --w-bits 2 or more")
    return top


def _needs(layers: list[Layer], shapes: list[tuple[tuple[int, ...], tuple[int, ...]]],
           biases: dict[str, np.ndarray]) -> tuple[dict[str, int], dict[str, int], int]:
    """Walk back from the last layer: always-on inputs each spiking layer needs (``need``, in
    its input's channels or features) and relays it must emit; returns (need, relays, n0)."""
    need: dict[str, int] = {}
    relays: dict[str, int] = {}
    wanted, per_unit = 0, 1  # always-on units wanted downstream; features per unit here
    for layer, (shp_in, _) in zip(reversed(layers), reversed(shapes), strict=True):
        if isinstance(layer, Flatten):
            per_unit = int(np.prod(shp_in[1:])) if len(shp_in) > 1 else 1
        elif isinstance(layer, SpikingLayer):
            relays[layer.name] = math.ceil(wanted / per_unit)
            own = 1 if np.any(biases.get(layer.name, 0)) else 0
            relay_in = (math.ceil(layer.threshold / _w_max(layer, "a relay neuron"))
                        if relays[layer.name] else 0)
            need[layer.name] = max(own, relay_in)
            wanted, per_unit = need[layer.name], 1
    return need, relays, math.ceil(wanted / per_unit)


def _split(total: int, top: int) -> list[int]:
    """``total`` as pieces of at most ``top`` (the largest first)."""
    return [top] * (total // top) + ([total % top] if total % top else [])


def _inside_tap(n_in: int, n_out: int, kernel: int, stride: int, pad: int) -> int:
    """A kernel tap that falls inside the input for every output position."""
    for tap in range(kernel):
        if tap - pad >= 0 and (n_out - 1) * stride + tap - pad <= n_in - 1:
            return tap
    raise NetworkError(f"no kernel tap of a {kernel}-wide kernel (stride {stride}, padding "
                       f"{pad}) lies inside a {n_in}-wide input for every output position; an "
                       f"always-on input cannot carry this layer's bias")


def _conv_with_on(layer: Conv2d, shp_in: tuple[int, ...], shp_out: tuple[int, ...],
                  on: list[int], bias: np.ndarray | None, n_relay: int) -> Conv2d:
    w = np.asarray(layer.weight, dtype=np.int64)
    o, c, kh, kw = w.shape
    out = np.zeros((o + n_relay, shp_in[0], kh, kw), dtype=np.int64)
    out[:o, :c] = w
    try:
        th = _inside_tap(shp_in[1], shp_out[1], kh, layer.stride[0], layer.padding[0])
        tw = _inside_tap(shp_in[2], shp_out[2], kw, layer.stride[1], layer.padding[1])
    except NetworkError as exc:
        raise NetworkError(f"layer '{layer.name}': {exc}") from None
    if bias is not None:
        out[:o, on[0], th, tw] = bias
    for k, piece in enumerate(_split(layer.threshold, int_range(layer.w_bits)[1]) if n_relay
                              else []):
        out[o:, on[k], th, tw] = piece
    return Conv2d(name=layer.name, weight=out, w_bits=layer.w_bits, v_bits=layer.v_bits,
                  threshold=layer.threshold, reset=layer.reset, stride=layer.stride,
                  padding=layer.padding, leak=layer.leak)


def _linear_with_on(layer: Linear, n_in: int, on: list[int], bias: np.ndarray | None,
                    n_relay: int) -> Linear:
    w = np.asarray(layer.weight, dtype=np.int64)
    o, c = w.shape
    out = np.zeros((o + n_relay, n_in), dtype=np.int64)
    out[:o, :c] = w
    if bias is not None:
        out[:o, on[0]] = bias
    for k, piece in enumerate(_split(layer.threshold, int_range(layer.w_bits)[1]) if n_relay
                              else []):
        out[o:, on[k]] = piece
    return Linear(name=layer.name, weight=out, w_bits=layer.w_bits, v_bits=layer.v_bits,
                  threshold=layer.threshold, reset=layer.reset, leak=layer.leak)


def _grow(shape: tuple[int, ...], extra: int) -> tuple[int, ...]:
    return (shape[0] + extra, *shape[1:])


def fold_biases(input_shape: tuple[int, ...], layers: list[Layer],
                biases: dict[str, np.ndarray]) -> BiasFold:
    """The layers of a chain with integer ``biases`` (per output channel or feature, by layer
    name) folded into always-on inputs (module docstring). Without a nonzero bias, the layers
    come back unchanged with ``always_on = 0``."""
    if not any(np.any(b) for b in biases.values()):
        return BiasFold(tuple(layers), 0, ())
    shapes = IntNetwork(input_shape, tuple(layers)).shapes
    need, relays, n0 = _needs(layers, shapes, biases)
    shape = _grow(input_shape, n0)
    on = list(range(input_shape[0], input_shape[0] + n0))  # always-on units of `shape`
    out: list[Layer] = []
    notes = [f"input: {n0} always-on channel(s) appended (they hold the biases)"]
    for layer, (_, real_out) in zip(layers, shapes, strict=True):
        if isinstance(layer, Flatten):
            per = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            on = [c * per + j for c in on for j in range(per)]
        elif isinstance(layer, SpikingLayer):
            bias = biases.get(layer.name)
            bias = bias if bias is not None and np.any(bias) else None
            r = relays[layer.name]
            if len(on) < need[layer.name]:
                raise NetworkError(f"layer '{layer.name}': needs {need[layer.name]} always-on "
                                   f"inputs, has {len(on)}")  # an internal invariant
            if isinstance(layer, Conv2d):
                layer = _conv_with_on(layer, shape, real_out, on, bias, r)
            else:
                layer = _linear_with_on(layer, int(np.prod(shape)), on, bias, r)
            on = list(range(real_out[0], real_out[0] + r))
            if bias is not None:
                notes.append(f"{layer.name}: bias held as the weight of an always-on input")
            if r:
                notes.append(f"{layer.name}: {r} relay neuron(s)/channel(s) pass the always-on "
                             f"input on")
        shape = layer.output_shape(shape)
        out.append(layer)
    return BiasFold(tuple(out), n0, tuple(notes))

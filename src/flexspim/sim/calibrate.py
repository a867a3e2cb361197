"""Threshold calibration: give an untrained network realistic activity.

A network with random weights spikes far too much or not at all. :func:`calibrate_thresholds`
sets, layer after layer, the threshold at which each hidden layer's spike density (spikes per
neuron and timestep) on the given inputs is closest to a target, the way the simulator benchmark
prepares its network (10% hidden density, inside the 5-15% that trained DVS Gesture SCNNs show).
The last layer keeps its threshold. Each layer's synaptic input is computed once (an exact
float64 convolution of binary spikes); thresholds are searched by bisection on an
integrate-and-fire scan of it (no wrap: the search only needs densities). The calibrated network
is then simulated exactly like any other.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from flexspim.net.layers import Conv2d, Flatten, Linear, SpikeMaxPool, SpikingLayer
from flexspim.net.network import IntNetwork

#: Default target density of hidden layers. Source: the simulator benchmark (hidden layers at
#: 5-15%, 10% the middle).
TARGET_DENSITY = 0.10


def _synaptic(layer: SpikingLayer, x: np.ndarray) -> np.ndarray:
    """``[T, N, neurons]`` float64 synaptic input of binary/count inputs ``x`` ``[T, N, ...]``."""
    import torch

    t, n = x.shape[:2]
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64).reshape(t * n, *x.shape[2:]))
    w = torch.from_numpy(np.asarray(layer.weight, dtype=np.float64))
    if isinstance(layer, Conv2d):
        out = torch.nn.functional.conv2d(xt, w, stride=layer.stride, padding=layer.padding)
    else:
        out = xt.reshape(t * n, -1) @ w.T
    return out.reshape(t, n, -1).numpy()


def _scan(syn: np.ndarray, threshold: int, reset_zero: bool, init: np.ndarray) -> np.ndarray:
    """Integrate-and-fire over T; returns spikes ``[T, N, neurons]`` (uint8)."""
    v = np.broadcast_to(init, syn.shape[1:]).astype(np.float64).copy()
    out = np.zeros(syn.shape, dtype=np.uint8)
    for t in range(syn.shape[0]):
        v += syn[t]
        s = v >= threshold
        out[t] = s
        if reset_zero:
            v[s] = 0.0
        else:
            v -= threshold * s
    return out


def _passive(layer: object, x: np.ndarray, in_shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(layer, SpikeMaxPool):
        import torch

        t, n = x.shape[:2]
        xt = torch.from_numpy(x.reshape(t * n, *in_shape).astype(np.float32))
        out = torch.nn.functional.max_pool2d(xt, layer.kernel, layer.stride)
        return (out > 0).numpy().astype(np.uint8).reshape(t, n, -1)
    if isinstance(layer, Flatten):
        return x.reshape(x.shape[0], x.shape[1], -1)
    raise TypeError(f"layer '{getattr(layer, 'name', '?')}': no calibration rule")


def _threshold_for(syn: np.ndarray, layer: SpikingLayer, target: float) -> tuple[int, float]:
    """Bisection on the threshold (density falls as it rises); returns (threshold, density)."""
    init = (np.zeros(syn.shape[2]) if layer.initial_membrane is None
            else np.asarray(layer.initial_membrane, dtype=np.float64).reshape(-1))
    lo, hi = 1, (1 << (layer.v_bits - 1)) - 1
    zero = layer.reset == "zero"
    while lo < hi:
        mid = (lo + hi) // 2
        if float(_scan(syn, mid, zero, init).mean()) > target:
            lo = mid + 1
        else:
            hi = mid
    return lo, float(_scan(syn, lo, zero, init).mean())


def calibrate_thresholds(net: IntNetwork, spikes: np.ndarray, target: float = TARGET_DENSITY
                         ) -> tuple[IntNetwork, list[float]]:
    """``net`` with every hidden spiking layer's threshold set so that its density on ``spikes``
    (``[T, N, *input_shape]``) is closest to ``target`` from below or at it; returns the network
    and the densities reached (one per hidden spiking layer)."""
    layers = list(net.layers)
    spiking = [i for i, la in enumerate(layers) if isinstance(la, SpikingLayer)]
    x = np.asarray(spikes).reshape(spikes.shape[0], spikes.shape[1], -1)
    densities: list[float] = []
    for i, layer in enumerate(layers):
        in_shape = net.shapes[i][0]
        if not isinstance(layer, (Conv2d, Linear)):
            x = _passive(layer, x, in_shape)
            continue
        if i == spiking[-1]:
            break
        syn = _synaptic(layer, x.reshape(x.shape[0], x.shape[1], *in_shape))
        thr, d = _threshold_for(syn, layer, target)
        layers[i] = dataclasses.replace(layer, threshold=int(thr))
        densities.append(d)
        x = _scan(syn, thr, layer.reset == "zero",
                  np.zeros(syn.shape[2]) if layer.initial_membrane is None else
                  np.asarray(layer.initial_membrane, dtype=np.float64).reshape(-1))
    return dataclasses.replace(net, layers=tuple(layers)), densities

"""Quantization-aware surrogate-gradient IF/LIF SNN whose evaluation is the integer network's
arithmetic.

Units and quantization (per spiking layer ``l``, docs/design.md §3):

- weights: symmetric, one scale per layer ``s_l = max|w_l| / q_max`` with
  ``q_max = 2**(w_bits-1) - 1`` (1 bit: ``s_l = max|w_l|``, levels {-1, 0}, the 1-bit
  two's-complement range); ``q_l = clamp(round(w_l / s_l))`` with a straight-through estimator;
- membranes are kept in units of ``s_l``: ``v`` is an integer of ``v_bits`` bits;
- the threshold is learned (or fixed) in float units ``tau_l`` and used as the integer
  ``theta_l = clamp(round(tau_l / s_l), 1, 2**(v_bits-1) - 1)`` (straight-through estimator);
- per timestep: ``v <- v - leak_term(v)`` (leaky layers only), ``v <- wrap_v(v + sum q x)``,
  ``spike = v >= theta``, reset by subtracting ``theta`` (default) or to zero. ``wrap_v`` is the
  macro adder's two's-complement wrap; training applies the same wrap in the forward pass with
  an identity gradient ("wrap-aware" training: an overflow that happens is seen by the loss
  exactly as the chip would compute it);
- the leak (:class:`~flexspim.net.Leak`, one per spiking layer or none) is the integer network's
  own, on the integer-valued membrane: ``v - trunc(v / 2**k)`` (shift) or ``v - clamp(v, -c, c)``
  (constant, ``c`` in integer membrane units), exact in float32 below 2**24. Its gradient is
  straight-through: the smooth decay ``1 - 2**-k`` for a shift (what the exact step function
  approximates; it carries the temporal credit assignment of BPTT), the identity for a
  constant. So the forward pass computes exactly the leak :func:`export_network` writes.
- spikes use a fast-sigmoid surrogate gradient on ``z = (v - theta) / theta``:
  ``d spike / d z = 1 / (1 + slope |z|)**2`` (SuperSpike, Zenke & Ganguli 2018).

Integer-exact evaluation: :meth:`QuantSNN.forward` with ``exact=True`` runs the same code in
float64 without gradients; every value is an integer below 2**53, so the result equals the
integer reference (:mod:`flexspim.net.reference`) bit for bit and :func:`export_network` is
lossless. On a CUDA device the exact evaluation runs with cuDNN and TF32 off
(:func:`flexspim._device.exact_math`: im2col + a float64 GEMM, exact for integers below 2**53),
so it is exact there too. Prediction: argmax of the last layer's spike counts over all timesteps (ties: lowest
index).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from flexspim._device import exact_math
from flexspim.errors import ConfigError
from flexspim.net import Conv2d, Flatten, IntNetwork, Leak, Linear, SpikeMaxPool
from flexspim.net.layers import RESET_MODES, int_range
from flexspim.train.arch import Architecture, ConvSpec, FlattenSpec, LinearSpec, PoolSpec

#: Default surrogate slope (snnTorch's fast_sigmoid uses 25 with threshold 1 in units of the
#: membrane; here z is normalised by the threshold; 1 trained best on the digits preset: 91% vs
#: 48% after 3-4 epochs with 5).
DEFAULT_SURROGATE_SLOPE = 1.0
#: Default initial threshold in float weight units (snnTorch/Norse default threshold 1.0).
DEFAULT_THRESHOLD_INIT = 1.0


def weight_levels(bits: int) -> tuple[int, int]:
    """Smallest and largest integer weight of a ``bits``-bit symmetric quantizer.

    ``bits >= 2``: ``[-(2**(bits-1) - 1), 2**(bits-1) - 1]`` (symmetric); 1 bit: ``[-1, 0]``.
    """
    if bits == 1:
        return -1, 0
    top = (1 << (bits - 1)) - 1
    return -top, top


def quantize_weight(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer-valued weights (straight-through gradient) and their scale ``s`` (float units)."""
    lo, hi = weight_levels(bits)
    amax = w.detach().abs().max().clamp_min(1e-12)
    scale = amax / max(hi, 1)
    u = w / scale
    q = u + (torch.round(u).clamp(lo, hi) - u).detach()
    return q, scale


def integer_threshold(tau: torch.Tensor, scale: torch.Tensor, v_bits: int) -> torch.Tensor:
    """``theta = clamp(round(tau / s), 1, 2**(v_bits-1) - 1)`` with a straight-through gradient."""
    t = tau / scale
    return t + (torch.round(t).clamp(1, int_range(v_bits)[1]) - t).detach()


def wrap_float(v: torch.Tensor, bits: int) -> torch.Tensor:
    """Two's-complement wrap of integer-valued floats into ``v_bits`` (identity gradient)."""
    half = float(1 << (bits - 1))
    wrapped = torch.remainder(v + half, 2.0 * half) - half
    return v + (wrapped - v).detach()


def leak_float(v: torch.Tensor, leak: Leak) -> torch.Tensor:
    """``v - leak_term(v)`` of integer-valued floats, exact (module docstring); the gradient is
    the smooth decay ``1 - 2**-k`` of a shift leak, the identity of a constant leak."""
    if leak.kind == "shift":
        exact = v - torch.trunc(v * 2.0 ** -leak.amount)
        smooth = v * (1.0 - 2.0 ** -leak.amount)
    else:
        exact = v - v.clamp(-leak.amount, leak.amount)
        smooth = v
    # the value is exactly `exact` (smooth - smooth is 0 exactly; smooth + (exact - smooth)
    # could round in float32), the gradient that of `smooth`
    return exact.detach() + (smooth - smooth.detach())


class _Spike(torch.autograd.Function):
    """Heaviside ``z >= 0`` forward, fast-sigmoid surrogate backward."""

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.save_for_backward(z)
        ctx.slope = slope
        return (z >= 0).to(z.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (z,) = ctx.saved_tensors
        return grad / (1.0 + ctx.slope * z.abs()) ** 2, None


def _leaks(leaks: Leak | Sequence[Leak | None] | None, n: int) -> list[Leak | None]:
    """One leak (or None) per spiking layer from one for all or one per layer."""
    if leaks is None or isinstance(leaks, Leak):
        return [leaks] * n
    out = list(leaks)
    if len(out) != n:
        raise ConfigError(f"leaks: {len(out)} given, the network has {n} spiking layers; give "
                          f"one leak or one per spiking layer")
    return out


def _per_layer(bits: int | Sequence[int], n: int, name: str) -> list[int]:
    out = [int(bits)] * n if isinstance(bits, (int, np.integer)) else [int(b) for b in bits]
    if len(out) != n:
        raise ConfigError(f"{name}: {len(out)} values given, the network has {n} spiking layers; "
                          f"give one value or one per spiking layer")
    for b in out:
        if b < 1:
            raise ConfigError(f"{name} = {b} must be an integer >= 1")
    return out


class QuantSNN(nn.Module):
    """A quantization-aware IF (or, with ``leaks``, LIF) SNN built from an :class:`Architecture`.

    ``forward(x)`` takes event counts ``[T, N, C, H, W]`` and returns the output layer's spike
    counts ``[N, classes]`` (float, differentiable through the surrogate). With ``exact=True``
    it computes the integer network's arithmetic exactly (float64, no gradient). ``leaks``: one
    :class:`~flexspim.net.Leak` for every spiking layer, or one per layer (None: IF).
    """

    def __init__(self, arch: Architecture, *, w_bits: int | Sequence[int] = 8,
                 v_bits: int | Sequence[int] = 16, reset: str = "subtract",
                 learn_threshold: bool = True,
                 threshold_init: float = DEFAULT_THRESHOLD_INIT,
                 surrogate_slope: float = DEFAULT_SURROGATE_SLOPE,
                 leaks: Leak | Sequence[Leak | None] | None = None) -> None:
        super().__init__()
        n = len(arch.spiking)
        self.arch = arch
        self.w_bits = _per_layer(w_bits, n, "w_bits")
        self.v_bits = _per_layer(v_bits, n, "v_bits")
        self.leaks = _leaks(leaks, n)
        for spec, wb, vb, leak in zip(arch.spiking, self.w_bits, self.v_bits, self.leaks,
                                      strict=True):
            if vb < 2 or wb > vb:
                raise ConfigError(f"layer '{spec.name}': w_bits = {wb}, v_bits = {vb}; a weight "
                                  f"is added into its membrane, so 1 <= w_bits <= v_bits, "
                                  f"v_bits >= 2")
            if leak is not None:
                try:
                    leak.check(vb, spec.name)
                except ValueError as exc:
                    raise ConfigError(str(exc)) from None
        if reset not in RESET_MODES:
            raise ConfigError(f"reset = {reset!r}; use one of {', '.join(RESET_MODES)}")
        if threshold_init <= 0:
            raise ConfigError(f"threshold_init = {threshold_init} must be > 0")
        self.reset = reset
        self.surrogate_slope = float(surrogate_slope)
        self.weights = nn.ParameterDict()
        self.thresholds = nn.ParameterDict()
        self.shapes: list[tuple[int, ...]] = []
        shape: tuple[int, ...] = tuple(arch.input_shape)
        for spec in arch.layers:
            shape = _OUT_SHAPE[type(spec)](spec, shape)
            self.shapes.append(shape)
        shape = tuple(arch.input_shape)
        for spec, out in zip(arch.layers, self.shapes, strict=True):
            if isinstance(spec, (ConvSpec, LinearSpec)):
                wshape = ((spec.out_channels, shape[0], spec.kernel, spec.kernel)
                          if isinstance(spec, ConvSpec) else (spec.out_features, shape[0]))
                w = torch.empty(wshape)
                nn.init.kaiming_normal_(w, nonlinearity="relu")
                self.weights[spec.name] = nn.Parameter(w)
                self.thresholds[spec.name] = nn.Parameter(torch.tensor(float(threshold_init)),
                                                          requires_grad=learn_threshold)
            shape = out

    @property
    def n_classes(self) -> int:
        return int(np.prod(self.shapes[-1]))

    def bits_of(self, name: str) -> tuple[int, int]:
        """(w_bits, v_bits) of spiking layer ``name``."""
        i = [s.name for s in self.arch.spiking].index(name)
        return self.w_bits[i], self.v_bits[i]

    def leak_of(self, name: str) -> Leak | None:
        """The leak of spiking layer ``name`` (None: IF)."""
        return self.leaks[[s.name for s in self.arch.spiking].index(name)]

    def quantized(self, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(integer-valued weights, integer-valued threshold, scale) of spiking layer ``name``."""
        wb, vb = self.bits_of(name)
        q, scale = quantize_weight(self.weights[name], wb)
        theta = integer_threshold(self.thresholds[name], scale, vb)
        return q, theta, scale

    def forward(self, x: torch.Tensor, exact: bool = False) -> torch.Tensor:
        if x.ndim != 2 + len(self.arch.input_shape) or tuple(x.shape[2:]) != self.arch.input_shape:
            raise ConfigError(f"model input shape {tuple(x.shape)} does not match [T, N, "
                              f"{', '.join(map(str, self.arch.input_shape))}]")
        with torch.set_grad_enabled(torch.is_grad_enabled() and not exact), \
                exact_math(x.device) if exact else nullcontext():
            h = x.to(torch.float64 if exact else torch.float32)
            for spec in self.arch.layers:
                h = _STEP[type(spec)](self, spec, h, exact)
            return h.sum(dim=0).flatten(1)

    def _neurons(self, name: str, syn: torch.Tensor, exact: bool) -> torch.Tensor:
        """IF/LIF dynamics over time for synaptic input ``syn`` ``[T, N, ...]``; returns spikes."""
        q, theta, _ = self.quantized(name)
        _, vb = self.bits_of(name)
        leak = self.leak_of(name)
        if exact:
            theta = theta.detach().to(syn.dtype)
        v = torch.zeros_like(syn[0])
        out = []
        for t in range(syn.shape[0]):
            if leak is not None:
                v = leak_float(v, leak)
            v = wrap_float(v + syn[t], vb)
            if exact:
                s = (v >= theta).to(v.dtype)
            else:
                s = _Spike.apply((v - theta) / theta, self.surrogate_slope)
            out.append(s)
            if self.reset == "subtract":
                v = wrap_float(v - theta.detach() * s.detach(), vb)
            else:
                v = v * (1.0 - s.detach())
        return torch.stack(out)

    def _conv(self, spec: ConvSpec, h: torch.Tensor, exact: bool) -> torch.Tensor:
        q, _, _ = self.quantized(spec.name)
        q = q.detach().to(h.dtype) if exact else q
        n_t, n = h.shape[:2]
        syn = F.conv2d(h.flatten(0, 1), q, stride=spec.stride, padding=spec.padding)
        return self._neurons(spec.name, syn.unflatten(0, (n_t, n)), exact)

    def _linear(self, spec: LinearSpec, h: torch.Tensor, exact: bool) -> torch.Tensor:
        q, _, _ = self.quantized(spec.name)
        q = q.detach().to(h.dtype) if exact else q
        return self._neurons(spec.name, h @ q.T, exact)

    def _pool(self, spec: PoolSpec, h: torch.Tensor, exact: bool) -> torch.Tensor:
        n_t, n = h.shape[:2]
        return F.max_pool2d(h.flatten(0, 1), spec.kernel).unflatten(0, (n_t, n))

    def _flatten(self, spec: FlattenSpec, h: torch.Tensor, exact: bool) -> torch.Tensor:
        return h.flatten(2)


def _conv_shape(spec: ConvSpec, shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) != 3:
        raise ConfigError(f"layer '{spec.name}': conv2d needs a (C, H, W) input, gets {shape}")
    h = (shape[1] + 2 * spec.padding - spec.kernel) // spec.stride + 1
    w = (shape[2] + 2 * spec.padding - spec.kernel) // spec.stride + 1
    if h < 1 or w < 1:
        raise ConfigError(f"layer '{spec.name}': kernel {spec.kernel} larger than input {shape}")
    return (spec.out_channels, h, w)


def _pool_shape(spec: PoolSpec, shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) != 3 or shape[1] < spec.kernel or shape[2] < spec.kernel:
        raise ConfigError(f"layer '{spec.name}': pool {spec.kernel} does not fit input {shape}")
    return (shape[0], shape[1] // spec.kernel, shape[2] // spec.kernel)


def _linear_shape(spec: LinearSpec, shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) != 1:
        raise ConfigError(f"layer '{spec.name}': linear needs a flat input, gets {shape}; add a "
                          f"flatten layer before it")
    return (spec.out_features,)


_OUT_SHAPE: dict[type, Callable[[Any, tuple[int, ...]], tuple[int, ...]]] = {
    ConvSpec: _conv_shape, PoolSpec: _pool_shape, LinearSpec: _linear_shape,
    FlattenSpec: lambda spec, shape: (int(np.prod(shape)),),
}
_STEP: dict[type, Callable[[QuantSNN, Any, torch.Tensor, bool], torch.Tensor]] = {
    ConvSpec: QuantSNN._conv, LinearSpec: QuantSNN._linear, PoolSpec: QuantSNN._pool,
    FlattenSpec: QuantSNN._flatten,
}


def _as_time_major(x: Any) -> torch.Tensor:
    """Frames ``[N, T, C, H, W]`` (as :func:`flexspim.data.load_frames` returns) -> ``[T, N, ...]``."""
    t = torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x
    return t.transpose(0, 1)


@torch.no_grad()
def integer_counts(model: QuantSNN, frames: Any, batch_size: int = 128) -> np.ndarray:
    """Output spike counts ``[N, classes]`` (int64) of the exact integer evaluation, on the
    model's device.

    ``frames``: event counts ``[N, T, C, H, W]`` (samples first, as ``load_frames`` returns).
    """
    x = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    device = next(model.parameters()).device
    parts = [model(_as_time_major(x[i : i + batch_size]).to(device), exact=True).cpu()
             for i in range(0, x.shape[0], batch_size)]
    return torch.cat(parts).to(torch.int64).numpy()


def integer_predictions(model: QuantSNN, frames: Any, batch_size: int = 128) -> np.ndarray:
    """Predicted classes ``[N]``: argmax of :func:`integer_counts` (ties: lowest index)."""
    return np.argmax(integer_counts(model, frames, batch_size), axis=1).astype(np.int64)


def export_network(model: QuantSNN, name: str | None = None) -> IntNetwork:
    """The :class:`~flexspim.net.IntNetwork` that computes exactly what ``model`` evaluates.

    Weights are ``q_l`` (integers of ``w_bits``), thresholds ``theta_l`` (integers in weight
    units, ``v_bits``), the model's reset mode and leaks; layer names are the architecture's.
    """
    layers: list = []
    with torch.no_grad():
        for spec in model.arch.layers:
            if isinstance(spec, (ConvSpec, LinearSpec)):
                q, theta, _ = model.quantized(spec.name)
                wb, vb = model.bits_of(spec.name)
                common = dict(name=spec.name, weight=q.round().to(torch.int64).cpu().numpy(),
                              w_bits=wb, v_bits=vb, threshold=int(theta.round().item()),
                              reset=model.reset, leak=model.leak_of(spec.name))
                if isinstance(spec, ConvSpec):
                    layers.append(Conv2d(**common, stride=(spec.stride, spec.stride),
                                         padding=(spec.padding, spec.padding)))
                else:
                    layers.append(Linear(**common))
            elif isinstance(spec, PoolSpec):
                layers.append(SpikeMaxPool(name=spec.name, kernel=(spec.kernel, spec.kernel)))
            else:
                layers.append(Flatten(name=spec.name))
    return IntNetwork(input_shape=model.arch.input_shape, layers=tuple(layers),
                      name=name or model.arch.name)

"""Layers of the integer network (docs/design.md §3, §4 ``net``; docs/arithmetic.md).

Every spiking layer (``Conv2d``, ``Linear``) holds integer weights of ``w_bits`` bits and
integrate-and-fire neurons whose membranes are ``v_bits``-bit two's-complement integers,
optionally leaky (``leak``, a :class:`Leak`; None, the default, is no leak: IF)::

    at timestep t (t = 0, 1, ..., T-1):
        v <- v - leak_term(v)                       only with a leak (LIF), every neuron
        v <- wrap_v(v + sum of the weights of this timestep's input events)
        s  = (v >= threshold)
        v <- wrap_v(v - threshold)  if s and reset == "subtract"   (default)
        v <- 0                      if s and reset == "zero"

``wrap_v`` wraps modulo 2**v_bits into [-2**(v_bits-1), 2**(v_bits-1) - 1] (the macro's adder).

The leak is applied once per timestep to every membrane of the layer, before that timestep's
events are integrated, at t = 0 too (an ``initial_membrane`` is leaked once before the first
events; a zero membrane stays zero). Its term, exact in integers:

- ``Leak("shift", k)``, 1 <= k <= v_bits - 1: ``leak_term(v) = trunc(v / 2**k)``, rounded
  toward zero (``sign(v) * (|v| >> k)``), so ``v <- v - trunc(v / 2**k)`` ~ ``v * (1 - 2**-k)``.
  Rounding toward zero makes the decay symmetric, ``leak(-v) = -leak(v)``: a membrane of either
  sign with ``|v| < 2**k`` is left as it is (an arithmetic shift, ``v >> k``, rounds toward
  -inf instead and would decay -1 to 0 but never +1).
- ``Leak("constant", c)``, 1 <= c <= 2**(v_bits-1) - 1: ``leak_term(v) = clamp(v, -c, c)``,
  i.e. ``v <- v - sign(v) * min(|v|, c)``: c units toward zero, never past it.

Both give ``|v - leak_term(v)| <= |v|`` with the sign of v (or 0), so a leaked membrane stays in
the ``v_bits`` range: the leak acts on the wrapped membrane and can never overflow (nor count
an overflow event). There is no bias. ``SpikeMaxPool`` ORs the spikes in each window; ``Flatten``
only reshapes. Shapes are (channels, height, width) for feature maps and (features,) after
flattening.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from flexspim.errors import NetworkError
from flexspim.macro.leak import LEAK_KINDS, leak_range

ResetMode = Literal["subtract", "zero"]
RESET_MODES: tuple[str, ...] = ("subtract", "zero")
#: Default reset: subtract the threshold (keeps the residual charge; the usual choice for
#: rate-coded SNNs converted or trained with surrogate gradients).
DEFAULT_RESET: ResetMode = "subtract"

MAX_BITS = 64


def int_range(bits: int) -> tuple[int, int]:
    """Smallest and largest value of a ``bits``-bit two's-complement integer."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def wrap(values: np.ndarray | int, bits: int) -> np.ndarray | int:
    """Wrap integers modulo 2**bits into the signed range (two's complement)."""
    if isinstance(values, (int, np.integer)):
        m = 1 << bits
        return ((int(values) + (m >> 1)) % m) - (m >> 1)
    v = np.asarray(values, dtype=np.int64)
    if bits >= 64:
        return v.copy()
    # Python ints so that bits = 63 does not overflow (2**63 is not an int64); the sum v + half
    # may wrap modulo 2**64, which the mask (a divisor) leaves correct.
    half = np.int64(1 << (bits - 1))
    mask = np.int64((1 << bits) - 1)
    with np.errstate(over="ignore"):
        return ((v + half) & mask) - half


@dataclass(frozen=True)
class Leak:
    """The leak of a spiking layer's membranes (module docstring): ``kind`` ``shift`` (amount:
    the shift k, ``v <- v - trunc(v / 2**k)``) or ``constant`` (amount: c, ``v <- v -
    clamp(v, -c, c)``). Its range depends on the layer's ``v_bits`` (:meth:`check`)."""

    kind: str
    amount: int

    def __post_init__(self) -> None:
        if self.kind not in LEAK_KINDS:
            raise NetworkError(f"leak kind {self.kind!r}: use one of {', '.join(LEAK_KINDS)}")
        if isinstance(self.amount, bool) or not isinstance(self.amount, (int, np.integer)) \
                or self.amount < 1:
            raise NetworkError(f"leak {self.kind} = {self.amount!r} must be an integer >= 1")
        object.__setattr__(self, "amount", int(self.amount))

    def check(self, v_bits: int, layer: str) -> None:
        """Raise NetworkError naming ``layer`` unless the amount fits ``v_bits``-bit membranes
        (a shift in [1, v_bits - 1], a constant in [1, 2**(v_bits-1) - 1])."""
        lo, hi = leak_range(self.kind, v_bits)
        if not lo <= self.amount <= hi:
            raise NetworkError(f"layer '{layer}': leak {self.kind} = {self.amount} must be in "
                               f"[{lo}, {hi}] for v_bits = {v_bits}")

    def term(self, v: np.ndarray | int) -> np.ndarray | int:
        """``leak_term(v)`` of integers (module docstring): ``trunc(v / 2**k)`` or
        ``clamp(v, -c, c)``; int64 arrays or Python ints."""
        if isinstance(v, (int, np.integer)):
            x, a = int(v), self.amount
            if self.kind == "shift":
                return (abs(x) >> a) * (1 if x > 0 else -1)
            return max(-a, min(a, x))
        arr = np.asarray(v, dtype=np.int64)
        if self.kind == "shift":
            mask = np.int64((1 << self.amount) - 1)
            return (arr + np.where(arr < 0, mask, np.int64(0))) >> np.int64(self.amount)
        return np.clip(arr, -self.amount, self.amount)

    def apply(self, v: np.ndarray | int) -> np.ndarray | int:
        """The leaked membrane ``v - leak_term(v)``."""
        return v - self.term(v)  # type: ignore[operator]

    def to_dict(self) -> dict[str, object]:
        """``{"kind": ..., "amount": ...}`` (the network file's ``leak`` field)."""
        return {"kind": self.kind, "amount": self.amount}


def _pair(value: int | tuple[int, int] | list[int], name: str, layer: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        out = (int(value), int(value))
    else:
        out = tuple(int(x) for x in value)  # type: ignore[assignment]
    if len(out) != 2:
        raise NetworkError(f"layer '{layer}': field '{name}' = {value!r} must be one integer "
                           f"or a pair")
    return out  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class SpikingLayer:
    """Fields shared by layers with weights and integrate-and-fire neurons (leaky with
    ``leak``)."""

    kind: ClassVar[str] = "spiking"

    name: str
    weight: np.ndarray
    w_bits: int
    v_bits: int
    threshold: int
    reset: ResetMode = DEFAULT_RESET
    #: Initial membrane: None (all zero), or an int array of the layer's output shape.
    initial_membrane: np.ndarray | None = None
    #: The membranes' leak (module docstring); None: no leak (IF), the default.
    leak: Leak | None = None

    def _validate_neurons(self) -> None:
        n = self.name
        for key in ("w_bits", "v_bits", "threshold"):
            val = getattr(self, key)
            if not isinstance(val, (int, np.integer)) or isinstance(val, bool):
                raise NetworkError(f"layer '{n}': field '{key}' = {val!r} must be an integer")
        if not 1 <= self.w_bits <= MAX_BITS:
            raise NetworkError(f"layer '{n}': w_bits = {self.w_bits} must be in [1, {MAX_BITS}]")
        if not 2 <= self.v_bits <= MAX_BITS:
            raise NetworkError(f"layer '{n}': v_bits = {self.v_bits} must be in [2, {MAX_BITS}] "
                               f"(a membrane needs room for a positive threshold)")
        if self.w_bits > self.v_bits:
            raise NetworkError(f"layer '{n}': w_bits = {self.w_bits} > v_bits = {self.v_bits}; "
                               f"a weight is added into its membrane, so w_bits <= v_bits")
        lo, hi = int_range(self.v_bits)
        if not 1 <= self.threshold <= hi:
            raise NetworkError(f"layer '{n}': threshold = {self.threshold} must be in [1, {hi}] "
                               f"(positive and representable in v_bits = {self.v_bits})")
        if self.reset not in RESET_MODES:
            raise NetworkError(f"layer '{n}': reset = {self.reset!r}; use one of "
                               f"{', '.join(RESET_MODES)}")
        if self.leak is not None:
            if not isinstance(self.leak, Leak):
                raise NetworkError(f"layer '{n}': leak = {self.leak!r} must be a Leak(kind, "
                                   f"amount) or None (no leak)")
            self.leak.check(self.v_bits, n)
        w = self.weight
        if not isinstance(w, np.ndarray) or not np.issubdtype(w.dtype, np.integer):
            raise NetworkError(f"layer '{n}': weights must be an integer array, got "
                               f"{getattr(w, 'dtype', type(w).__name__)}")
        wlo, whi = int_range(self.w_bits)
        if w.size and (int(w.min()) < wlo or int(w.max()) > whi):
            bad = int(w.min()) if int(w.min()) < wlo else int(w.max())
            raise NetworkError(f"layer '{n}': weight {bad} does not fit w_bits = {self.w_bits} "
                               f"(range [{wlo}, {whi}]); raise w_bits or re-quantize")
        if self.initial_membrane is not None:
            m = self.initial_membrane
            if not isinstance(m, np.ndarray) or not np.issubdtype(m.dtype, np.integer):
                raise NetworkError(f"layer '{n}': initial_membrane must be an integer array")
            if m.size and (int(m.min()) < lo or int(m.max()) > hi):
                raise NetworkError(f"layer '{n}': initial_membrane values must fit v_bits = "
                                   f"{self.v_bits} (range [{lo}, {hi}])")

    @property
    def n_weights(self) -> int:
        """Number of stored weights."""
        return int(self.weight.size)


@dataclass(frozen=True, eq=False)
class Conv2d(SpikingLayer):
    """2-D convolution into IF neurons. ``weight``: int [out_channels, in_channels, kh, kw].

    Cross-correlation as in ``torch.nn.functional.conv2d`` with zero padding; no bias.
    """

    kind: ClassVar[str] = "conv2d"
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stride", _pair(self.stride, "stride", self.name))
        object.__setattr__(self, "padding", _pair(self.padding, "padding", self.name))
        if getattr(self.weight, "ndim", 0) != 4:
            raise NetworkError(f"layer '{self.name}': conv2d weights must have 4 dimensions "
                               f"[out, in, kh, kw], got shape {getattr(self.weight, 'shape', None)}")
        if min(self.stride) < 1 or min(self.padding) < 0:
            raise NetworkError(f"layer '{self.name}': stride {self.stride} must be >= 1 and "
                               f"padding {self.padding} >= 0")
        self._validate_neurons()

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1])

    @property
    def kernel_size(self) -> tuple[int, int]:
        return int(self.weight.shape[2]), int(self.weight.shape[3])

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise NetworkError(f"layer '{self.name}': expects input (channels={self.in_channels},"
                               f" height, width), gets {tuple(input_shape)}; shapes do not chain")
        _, h, w = input_shape
        kh, kw = self.kernel_size
        oh = (h + 2 * self.padding[0] - kh) // self.stride[0] + 1
        ow = (w + 2 * self.padding[1] - kw) // self.stride[1] + 1
        if oh < 1 or ow < 1:
            raise NetworkError(f"layer '{self.name}': kernel {kh}x{kw} is larger than the padded "
                               f"input {h}x{w}")
        return (self.out_channels, oh, ow)


@dataclass(frozen=True, eq=False)
class Linear(SpikingLayer):
    """Fully connected layer into IF neurons. ``weight``: int [out_features, in_features]."""

    kind: ClassVar[str] = "linear"

    def __post_init__(self) -> None:
        if getattr(self.weight, "ndim", 0) != 2:
            raise NetworkError(f"layer '{self.name}': linear weights must have 2 dimensions "
                               f"[out, in], got shape {getattr(self.weight, 'shape', None)}")
        self._validate_neurons()

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    @property
    def in_features(self) -> int:
        return int(self.weight.shape[1])

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if tuple(input_shape) != (self.in_features,):
            raise NetworkError(f"layer '{self.name}': expects input ({self.in_features},), gets "
                               f"{tuple(input_shape)}; add a flatten layer or fix the weights")
        return (self.out_features,)


@dataclass(frozen=True, eq=False)
class SpikeMaxPool:
    """Spike max-pooling: an output spikes when any input in its window spikes (OR).

    No weights, no membranes, no SOPs; windows do not pad.
    """

    kind: ClassVar[str] = "maxpool"
    name: str
    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kernel", _pair(self.kernel, "kernel", self.name))
        stride = self.kernel if self.stride is None else self.stride
        object.__setattr__(self, "stride", _pair(stride, "stride", self.name))
        if min(self.kernel) < 1 or min(self.stride) < 1:  # type: ignore[arg-type]
            raise NetworkError(f"layer '{self.name}': kernel {self.kernel} and stride "
                               f"{self.stride} must be >= 1")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3:
            raise NetworkError(f"layer '{self.name}': max-pool needs (channels, height, width) "
                               f"input, gets {tuple(input_shape)}")
        c, h, w = input_shape
        kh, kw = self.kernel
        sh, sw = self.stride  # type: ignore[misc]
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        if oh < 1 or ow < 1:
            raise NetworkError(f"layer '{self.name}': pool window {kh}x{kw} is larger than the "
                               f"input {h}x{w}")
        return (c, oh, ow)


@dataclass(frozen=True, eq=False)
class Flatten:
    """Reshape (channels, height, width) to (channels*height*width,), C-order."""

    kind: ClassVar[str] = "flatten"
    name: str

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(np.prod(input_shape)),)


Layer = Conv2d | Linear | SpikeMaxPool | Flatten

#: Registry from the ``kind`` written in files to the layer class.
LAYER_TYPES: dict[str, type] = {cls.kind: cls for cls in (Conv2d, Linear, SpikeMaxPool, Flatten)}


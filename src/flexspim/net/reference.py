"""The PyTorch integer reference: the ground truth of the arithmetic (docs/design.md §3).

Runs an :class:`~flexspim.net.IntNetwork` on binned spikes in exact int64 arithmetic, layer-first
per timestep, the way the chip does (paper §III, Fig. 1: "for each timestep, for each layer,
process that layer's input events, then compare membranes with the threshold and emit spikes")::

    for t in range(T):
        x = spikes[t]                                   # counts: k = k events at a pixel
        for layer in net.layers:
            conv2d / linear:  v = v - leak_term(v)       # only a leaky layer (t = 0 too)
                              exact = v + W * x          # one SOP per (event, existing synapse)
                              overflow += (exact outside the v_bits range)
                              v = wrap_v(exact)          # the macro's adder wraps mod 2**v_bits
                              s = v >= threshold;  v = v - threshold*s  (or 0 where s)
                              x = s
            maxpool:          x = OR over each window    (no SOPs)
            flatten:          x = x reshaped

Kept short and obviously right on purpose: convolutions are a plain sum over kernel taps of
shifted inputs times that tap's weights; SOPs are counted per tap as ``out_channels x`` the input
events that the tap reads (taps in the zero padding read nothing, so they do not exist).
The simulator's engines (:mod:`flexspim.sim`) must reproduce its spikes, membranes and counts.

Devices: ``run_reference(..., device="cuda")`` runs the same int64 arithmetic on a GPU. CUDA has
no int64 matrix product, so there the channel sums of a tap (and linear layers) are elementwise
products summed by :func:`int64_matmul`; every value stays an exact int64, as on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from flexspim.errors import FormatError, NetworkError
from flexspim.net.layers import Conv2d, Flatten, Leak, SpikeMaxPool, SpikingLayer, int_range
from flexspim.net.network import IntNetwork

#: Largest magnitude the reference lets an exact sum reach, so that int64 never wraps silently.
INT64_SAFE = 1 << 62
#: Elements of the widest temporary :func:`int64_matmul` builds on a device without an int64
#: matrix product (16 Mi int64 = 128 MiB; not a model parameter).
INT64_MATMUL_CHUNK = 1 << 24


@dataclass(frozen=True, eq=False)
class ReferenceResult:
    """What :func:`run_reference` returns. ``L`` = ``len(net.layers)``, all arrays int64.

    Per-timestep counts are ``[T, N, L]``; the properties without ``step_`` sum them over T.
    Rows of maxpool/flatten layers have zero SOPs, zero overflow and zero membrane min/max.
    """

    #: ``[N, classes]`` output spikes of the last layer, summed over T.
    output_counts: np.ndarray
    #: ``[N]`` predicted class: argmax of ``output_counts`` (ties: lowest index).
    predictions: np.ndarray
    #: Output events of every layer, ``[T, N, *output shape]`` each.
    spikes: list[np.ndarray]
    #: Membranes after the last timestep, one ``[N, *output shape]`` per spiking layer.
    final_membranes: list[np.ndarray]
    #: ``[T, N, L]`` input events (sum of input counts) of each layer.
    step_input_events: np.ndarray
    #: ``[T, N, L]`` synaptic operations (one per event and existing synapse).
    step_sops: np.ndarray
    #: ``[T, N, L]`` output events (spikes; for maxpool/flatten their output events).
    step_output_spikes: np.ndarray
    #: ``[T, N, L]`` neurons whose exact sum (membrane, leaked, + the timestep's inputs) left
    #: the range.
    step_overflow: np.ndarray
    #: ``[T, N, L]`` smallest / largest membrane after integration (wrapped), before reset.
    step_membrane_min: np.ndarray
    step_membrane_max: np.ndarray
    #: With ``return_membranes``: per spiking layer ``[T, N, *shape]`` membranes after
    #: integration, before reset (the values compared with the threshold); otherwise None.
    membrane_trace: list[np.ndarray] | None = None

    @property
    def sops(self) -> np.ndarray:
        """``[N, L]`` SOPs per sample and layer."""
        return self.step_sops.sum(axis=0)

    @property
    def overflow(self) -> np.ndarray:
        """``[N, L]`` overflow events per sample and layer."""
        return self.step_overflow.sum(axis=0)

    @property
    def input_events(self) -> np.ndarray:
        """``[N, L]`` input events per sample and layer."""
        return self.step_input_events.sum(axis=0)

    @property
    def output_spikes(self) -> np.ndarray:
        """``[N, L]`` output events per sample and layer."""
        return self.step_output_spikes.sum(axis=0)


def wrap_t(v: torch.Tensor, bits: int) -> torch.Tensor:
    """:func:`flexspim.net.wrap` for int64 tensors: modulo 2**bits into the signed range."""
    if bits >= 64:
        return v.clone()
    half = 1 << (bits - 1)
    return ((v + half) & ((1 << bits) - 1)) - half


def _shift_term(v: torch.Tensor, k: int) -> torch.Tensor:
    """``trunc(v / 2**k)`` of int64 ``v``: an arithmetic shift of v biased by ``2**k - 1``
    where v < 0 (no intermediate leaves int64)."""
    return (v + ((v >> 63) & ((1 << k) - 1))) >> k


#: Leak kind -> its term ``leak_term(v)`` on int64 tensors (:mod:`flexspim.net.layers`).
LEAK_TERMS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "shift": _shift_term,
    "constant": lambda v, c: v.clamp(-c, c),
}


def leak_t(v: torch.Tensor, leak: Leak | None) -> torch.Tensor:
    """The leaked membranes ``v - leak_term(v)`` of int64 ``v`` (``v`` itself without a leak)."""
    if leak is None:
        return v
    return v - LEAK_TERMS[leak.kind](v, leak.amount)


def int64_matmul(x: torch.Tensor, w: torch.Tensor, *, elementwise: bool | None = None
                 ) -> torch.Tensor:
    """Exact ``x @ w.T`` of int64 tensors ``x [N, F]`` and ``w [O, F]`` -> ``[N, O]``, any device.

    On the CPU the matrix product; elsewhere (CUDA has no int64 ``addmm``), or with
    ``elementwise=True``, elementwise products summed over F, in chunks of output features of
    at most :data:`INT64_MATMUL_CHUNK` elements.
    """
    if not (x.device.type != "cpu" if elementwise is None else elementwise):
        return x @ w.T
    out = torch.empty((x.shape[0], w.shape[0]), dtype=torch.int64, device=x.device)
    step = max(1, INT64_MATMUL_CHUNK // max(1, x.shape[0] * x.shape[1]))
    for o in range(0, w.shape[0], step):
        out[:, o : o + step] = (x[:, None, :] * w[None, o : o + step, :]).sum(dim=2)
    return out


def channel_mix(tap: torch.Tensor, w_tap: torch.Tensor, *, elementwise: bool | None = None
                ) -> torch.Tensor:
    """Exact int64 ``sum_c tap[n, c, h, w] * w_tap[o, c]`` -> ``[N, O, H, W]`` on any device
    (``elementwise``: as for :func:`int64_matmul`)."""
    if not (tap.device.type != "cpu" if elementwise is None else elementwise):
        return torch.einsum("nchw,oc->nohw", tap, w_tap)
    n, c, h, w = tap.shape
    flat = tap.permute(0, 2, 3, 1).reshape(n * h * w, c)
    return int64_matmul(flat, w_tap, elementwise=True).reshape(n, h, w, -1).permute(0, 3, 1, 2)


def _conv_taps(layer: Conv2d, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Synaptic input ``[N, O, OH, OW]`` and SOPs ``[N]`` of one timestep ``x`` ``[N, C, H, W]``."""
    w = torch.as_tensor(layer.weight, dtype=torch.int64).to(x.device)
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    xp = torch.nn.functional.pad(x, (pw, pw, ph, ph))
    oh = (x.shape[2] + 2 * ph - kh) // sh + 1
    ow = (x.shape[3] + 2 * pw - kw) // sw + 1
    out = torch.zeros((x.shape[0], w.shape[0], oh, ow), dtype=torch.int64, device=x.device)
    sops = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)
    for i in range(kh):
        for j in range(kw):
            tap = xp[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
            out += channel_mix(tap, w[:, :, i, j])
            sops += w.shape[0] * tap.reshape(x.shape[0], -1).sum(dim=1)
    return out, sops


def _synaptic_input(layer: SpikingLayer, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample synaptic input and per-sample SOPs ``[N]`` of one timestep."""
    if isinstance(layer, Conv2d):
        return _conv_taps(layer, x)
    w = torch.as_tensor(layer.weight, dtype=torch.int64).to(x.device)
    return int64_matmul(x, w), x.sum(dim=1) * w.shape[0]


def _maxpool(layer: SpikeMaxPool, x: torch.Tensor) -> torch.Tensor:
    kh, kw = layer.kernel
    sh, sw = layer.stride  # type: ignore[misc]
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = torch.zeros((x.shape[0], x.shape[1], oh, ow), dtype=torch.bool, device=x.device)
    for i in range(kh):
        for j in range(kw):
            out |= x[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] > 0
    return out.to(torch.int64)


def _flatten(layer: Flatten, x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


#: Dispatch table for the layers without neurons.
_PASSIVE: dict[type, Callable[[Any, torch.Tensor], torch.Tensor]] = {
    SpikeMaxPool: _maxpool,
    Flatten: _flatten,
}


def as_spike_tensor(net: IntNetwork, spikes: Any) -> torch.Tensor:
    """Check binned spikes ``[T, N, *input_shape]`` (nonnegative integer counts); int64 tensor."""
    if isinstance(spikes, torch.Tensor):
        t = spikes.detach().cpu()
    else:
        arr = np.asarray(spikes)
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise FormatError(f"input spikes: dtype {arr.dtype} is not an integer type; pass "
                              f"integer event counts [T, N, *input_shape]")
        t = torch.from_numpy(arr.astype(np.int64))
    if t.is_floating_point() or t.is_complex():
        raise FormatError(f"input spikes: dtype {t.dtype} is not an integer type; pass integer "
                          f"event counts [T, N, *input_shape]")
    shape = tuple(net.input_shape)
    if t.ndim != 2 + len(shape) or tuple(t.shape[2:]) != shape:
        raise NetworkError(f"input spikes: shape {tuple(t.shape)} does not match [T, N, "
                           f"{', '.join(map(str, shape))}] of network '{net.name}'")
    if t.shape[0] < 1 or t.shape[1] < 1:
        raise FormatError(f"input spikes: shape {tuple(t.shape)} has no timestep or no sample; "
                          f"pass at least one of each")
    t = t.to(torch.int64)
    if t.numel() and int(t.min()) < 0:
        raise FormatError("input spikes: negative event counts; counts must be >= 0")
    return t


def check_int64_safe(net: IntNetwork, max_count: int) -> None:
    """Raise NetworkError when an exact sum could exceed 2**62 (int64 would wrap silently).

    Bound per layer: 2**(v_bits-1) + max over neurons of sum|w| over the fan-in x the largest
    input count (``max_count`` for the first layer, 1 after a spiking layer).
    """
    count = max(int(max_count), 1)
    for layer in net.layers:
        if isinstance(layer, SpikingLayer):
            w = np.abs(np.asarray(layer.weight, dtype=object))
            per_neuron = w.reshape(w.shape[0], -1).sum(axis=1)
            fan = int(per_neuron.max()) if per_neuron.size else 0
            if (1 << (layer.v_bits - 1)) + fan * count >= INT64_SAFE:
                raise NetworkError(f"layer '{layer.name}': membranes of v_bits = {layer.v_bits} "
                                   f"plus inputs up to {fan * count} can exceed 2**62; exact "
                                   f"simulation needs v_bits <= 61 and smaller weights")
            count = 1


def run_reference(net: IntNetwork, spikes: Any, *, return_membranes: bool = False,
                  device: Any = None) -> ReferenceResult:
    """Run ``net`` on binned spikes ``[T, N, *net.input_shape]`` (nonnegative counts).

    Returns spikes, final membranes and per-timestep counts (see :class:`ReferenceResult`).
    Arithmetic: docs/design.md §3 and the docstring of :mod:`flexspim.net.layers`. ``device``: a
    ``torch.device`` or its name (default the CPU); the results are the same on every device.
    """
    dev = torch.device("cpu" if device is None else device)
    x_all = as_spike_tensor(net, spikes)
    n_t, n = int(x_all.shape[0]), int(x_all.shape[1])
    check_int64_safe(net, int(x_all.max()) if x_all.numel() else 0)
    x_all = x_all.to(dev)
    n_l = len(net.layers)
    shapes = [out for _, out in net.shapes]

    def zeros(*shape: int) -> torch.Tensor:
        return torch.zeros(shape, dtype=torch.int64, device=dev)

    v: dict[int, torch.Tensor] = {}
    for li, layer in enumerate(net.layers):
        if isinstance(layer, SpikingLayer):
            init = layer.initial_membrane
            v[li] = (zeros(n, *shapes[li]) if init is None else torch.as_tensor(
                init, dtype=torch.int64).to(dev).expand(n, *shapes[li]).clone())
    counts = {k: zeros(n_t, n, n_l) for k in ("inputs", "sops", "spikes", "overflow", "vmin",
                                               "vmax")}
    trains = [zeros(n_t, n, *shapes[li]) for li in range(n_l)]
    trace = {li: zeros(n_t, n, *shapes[li]) for li in v} if return_membranes else None
    for t in range(n_t):
        x = x_all[t]
        for li, layer in enumerate(net.layers):
            counts["inputs"][t, :, li] = x.reshape(n, -1).sum(dim=1)
            if isinstance(layer, SpikingLayer):
                syn, sops = _synaptic_input(layer, x)
                lo, hi = int_range(layer.v_bits)
                exact = leak_t(v[li], layer.leak) + syn
                counts["sops"][t, :, li] = sops
                counts["overflow"][t, :, li] = ((exact < lo) | (exact > hi)).reshape(n, -1).sum(1)
                mem = wrap_t(exact, layer.v_bits)
                counts["vmin"][t, :, li] = mem.reshape(n, -1).min(dim=1).values
                counts["vmax"][t, :, li] = mem.reshape(n, -1).max(dim=1).values
                if trace is not None:
                    trace[li][t] = mem
                fired = mem >= layer.threshold
                if layer.reset == "subtract":
                    mem = wrap_t(mem - layer.threshold * fired.to(torch.int64), layer.v_bits)
                else:
                    mem = torch.where(fired, torch.zeros_like(mem), mem)
                v[li] = mem
                x = fired.to(torch.int64)
            else:
                x = _PASSIVE[type(layer)](layer, x)
            trains[li][t] = x
            counts["spikes"][t, :, li] = x.reshape(n, -1).sum(dim=1)
    return _result(trains, v, counts, trace)


def _result(trains: list[torch.Tensor], v: dict[int, torch.Tensor],
            counts: dict[str, torch.Tensor], trace: dict[int, torch.Tensor] | None
            ) -> ReferenceResult:
    """The :class:`ReferenceResult` of a run, copied to host memory as NumPy arrays."""
    def host(t: torch.Tensor) -> np.ndarray:
        return t.cpu().numpy()

    out = host(trains[-1].sum(dim=0).reshape(trains[-1].shape[1], -1))
    return ReferenceResult(
        output_counts=out,
        predictions=np.argmax(out, axis=1).astype(np.int64),
        spikes=[host(tr) for tr in trains],
        final_membranes=[host(v[li]) for li in sorted(v)],
        step_input_events=host(counts["inputs"]),
        step_sops=host(counts["sops"]),
        step_output_spikes=host(counts["spikes"]),
        step_overflow=host(counts["overflow"]),
        step_membrane_min=host(counts["vmin"]),
        step_membrane_max=host(counts["vmax"]),
        membrane_trace=[host(trace[li]) for li in sorted(trace)] if trace is not None else None,
    )

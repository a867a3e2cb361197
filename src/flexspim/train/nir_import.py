"""NIR import: a chain of NIR nodes -> an :class:`~flexspim.net.IntNetwork` (docs/nir.md).

Accepted chains are those snnTorch, Sinabs, SpikingJelly, Norse and flexspim write::

    Input -> [Conv2d | Linear | Affine] -> neuron -> ... -> [pooling] -> [Flatten] -> ... -> Output

Each synapse + neuron pair becomes one spiking layer quantized to ``w_bits`` / ``v_bits``:

- neurons: ``IF`` (the chip's integrate-and-fire neuron, paper §II) and ``LIF``. Input gain
  per timestep of an IF: ``r`` (Sinabs, Norse, flexspim write ``r = 1``), or 1 when ``r * dt =
  1`` (SpikingJelly writes ``r = 1/dt``, NIR's continuous-time IF). A LIF, ``tau dv/dt =
  (v_leak - v) + r I``, is read in forward-Euler steps of ``dt`` (as snnTorch, SpikingJelly and
  Norse step it): ``v <- (1 - dt/tau) v + (dt/tau) v_leak + (r dt/tau) I``. Its decay per step
  ``1 - dt/tau`` becomes the nearest integer leak (:func:`nearest_leak`: a shift k, decay
  ``1 - 2**-k``, or no leak at all), the relative error of the decay is reported per layer,
  the input gain is ``r dt / tau`` and ``(dt/tau) v_leak`` becomes a bias. ``tau = r = inf``
  (snnTorch's ``Leaky(beta=1)``) is IF with gain 1. Refused, in one line that gives the reason
  and the nearest model that imports: a decay faster than the fastest integer leak (``tau <
  2 dt``: nearest ``tau = 2 dt``, shift 1), time constants that differ between the neurons of a
  layer (nearest: one per layer, their median), and a synaptic filter (``CubaLIF``: nearest a
  LIF with its ``tau_mem``);
- biases (``Conv2d.bias``, ``Affine.bias``) become weights of always-on inputs
  (:mod:`flexspim.train.nir_bias`);
- pooling followed by a ``Threshold`` is spike OR pooling (``SpikeMaxPool``); ``AvgPool2d`` /
  ``SumPool2d`` followed (through an optional ``Flatten``) by a synapse is a linear map of the
  spikes and is folded into that synapse as a sum-pooling convolution: every weight is spread over
  its pooling window (a conv: kernel ``K * k``, stride ``s * k``, padding ``p * k``), and the
  average's ``1 / k**2`` moves into the threshold;
- effective weights ``W * gain`` (and biases ``b * gain * d``, ``d`` the pooling divisor) are
  scaled by ``s = max|.| / (2**(w_bits-1) - 1)`` and rounded; ``s = 1`` when they already are
  integers inside the ``w_bits``-bit range. The threshold becomes ``theta = floor(v_threshold *
  d / s) + 1`` (``v > v_threshold``), clipped to ``[1, 2**(v_bits-1) - 1]`` (noted); at ``s = 1``
  the integer ``threshold`` of flexspim's metadata is used when it agrees. An integer network
  exported by flexspim reimports bit-identically, at any width;
- Flatten: any ``start_dim`` / ``end_dim`` (a leading batch dimension included) that flattens the
  whole (C, H, W) sample to one vector;
- reset: the node's ``reset`` metadata if present, else ``reset`` given by the caller, else NIR's
  own semantics (reset to ``v_reset``, which must be 0: mode ``zero``). In that last case the
  report says so, because snnTorch and Sinabs reset by subtraction by default and write
  ``v_reset = 0`` (or nothing) all the same (:data:`RESET_NOTE`).

NIR has no batch-norm node: fold batch-norm into the synapse before exporting
(:func:`flexspim.train.nir_torch.fold_batchnorm`).
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flexspim.errors import FormatError, NetworkError
from flexspim.net import Conv2d, Flatten, IntNetwork, Leak, Linear, SpikeMaxPool
from flexspim.net.layers import RESET_MODES, int_range
from flexspim.train.nir_bias import fold_biases

#: snnTorch's and SpikingJelly's export time step (s): SpikingJelly's IF ``r = 1/dt``.
DEFAULT_DT = 1e-4
#: What a framework's model imports as (for refusal messages).
NEURON_HINT = ("export IF or LIF neurons: snnTorch Leaky, Sinabs IAF / LIF, SpikingJelly "
               "IFNode / LIFNode, Norse IAFCell / LIFBoxCell")
#: Said at import when the reset comes from the file's ``v_reset`` alone (no ``--reset``, no
#: flexspim metadata): which reset that is, which frameworks mean another one, how to choose.
RESET_NOTE = ("reset: the file gives no reset but v_reset = 0, so neurons reset to zero (NIR's "
              "meaning, --reset zero); snnTorch (Leaky, Synaptic: reset_mechanism='subtract' by "
              "default) and Sinabs (IAF, LIF: MembraneSubtract by default) subtract the "
              "threshold yet write v_reset = 0 or nothing: for such a model import with --reset "
              "subtract (--reset zero keeps zero and drops this note)")


def _nir() -> Any:
    try:
        import nir  # the nir extra: only NIR files need it
    except ImportError:
        raise FormatError("NIR support needs the 'nir' package; install flexspim[nir]") from None
    return nir


@dataclass(frozen=True)
class ImportReport:
    """What :func:`network_from_nir` did: per-layer weight scales, the relative error of each
    leaky layer's decay per timestep (``(integer decay - file's decay) / file's decay``), and
    every approximation (``notes``)."""

    scales: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    decay_errors: dict[str, float] = field(default_factory=dict)


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


def _where(name: str, node: Any) -> str:
    return f"NIR node '{name}' ({type(node).__name__})"


def _uniform(name: str, node: Any, key: str, value: Any) -> float:
    arr = _arr(value).reshape(-1)
    if arr.size == 0:
        raise NetworkError(f"{_where(name, node)}: field '{key}' is empty")
    if not np.allclose(arr, arr[0], rtol=1e-6, atol=0.0, equal_nan=True):
        raise NetworkError(f"{_where(name, node)}: '{key}' differs between neurons; the integer "
                           f"network has one value per layer")
    return float(arr[0])


def _pair_of(value: Any) -> tuple[int, int]:
    p = np.broadcast_to(np.asarray(value, dtype=np.int64).reshape(-1), (2,))
    return int(p[0]), int(p[1])


@dataclass
class _Synapse:
    """A Conv2d/Linear/Affine node waiting for its neuron, pooling already folded in."""

    name: str
    kind: str
    weight: np.ndarray
    bias: np.ndarray | None
    divisor: float = 1.0
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)


@dataclass
class _Pool:
    """A pooling node waiting for a Threshold (OR pooling) or a synapse (folded)."""

    name: str
    node: Any
    in_shape: tuple[int, ...]
    flatten: str | None = None


@dataclass
class _State:
    """Walk state of the importer: the current shape and what is pending."""

    w_bits: int
    v_bits: int
    reset: str | None
    dt: float
    shape: tuple[int, ...] = ()
    layers: list[Any] = field(default_factory=list)
    synapse: _Synapse | None = None
    pool: _Pool | None = None
    biases: dict[str, np.ndarray] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    decay_errors: dict[str, float] = field(default_factory=dict)
    reset_implied: bool = False


def _check_no_pending(st: _State, name: str, node: Any) -> None:
    if st.synapse is not None:
        raise NetworkError(f"{_where(name, node)} follows synapse node '{st.synapse.name}' "
                           f"without a neuron node between; add IF neurons after every "
                           f"Conv2d/Linear")
    if st.pool is not None:
        raise NetworkError(f"NIR node '{st.pool.name}' ({type(st.pool.node).__name__}): pooling "
                           f"must be followed by a Threshold node (spike OR) or, through a "
                           f"Flatten, by a Conv2d/Linear node (folded); '{name}' follows it")


def _on_input(st: _State, name: str, node: Any) -> None:
    shape = tuple(int(s) for s in _arr(node.input_type["input"]).reshape(-1))
    if len(shape) in (2, 4) and shape[0] == 1:
        shape = shape[1:]  # a batch dimension left in by the exporter
    st.shape = shape


def _conv_padding(name: str, node: Any, kernel: tuple[int, int]) -> tuple[int, int]:
    pad = node.padding
    if isinstance(pad, str):
        if pad == "valid":
            return (0, 0)
        if any(k % 2 == 0 for k in kernel):
            raise NetworkError(f"{_where(name, node)}: padding 'same' with an even kernel "
                               f"{kernel} is asymmetric; not supported")
        return (kernel[0] // 2, kernel[1] // 2)
    return _pair_of(pad)


def _bias(name: str, node: Any, n_out: int) -> np.ndarray | None:
    bias = getattr(node, "bias", None)
    if bias is None:
        return None
    b = np.broadcast_to(_arr(bias).reshape(-1), (n_out,)).astype(np.float64)
    return b if np.any(b != 0) else None


def _pool_window(pool: _Pool, name: str) -> tuple[tuple[int, int], float]:
    """Kernel of a pooling node folded into synapse ``name`` (stride = kernel) and its divisor
    (the window's area for AvgPool2d, 1 for SumPool2d)."""
    kernel, stride = _pair_of(pool.node.kernel_size), _pair_of(pool.node.stride)
    if stride != kernel:
        raise NetworkError(f"NIR node '{pool.name}' ({type(pool.node).__name__}): stride "
                           f"{stride} differs from kernel {kernel}; only non-overlapping pooling "
                           f"folds into '{name}'; use stride = kernel")
    area = kernel[0] * kernel[1] if type(pool.node).__name__ == "AvgPool2d" else 1
    return kernel, float(area)


def _fold_pool_linear(st: _State, pool: _Pool, name: str, node: Any, w: np.ndarray
                      ) -> np.ndarray:
    """Linear weights over the pooled, flattened map -> weights over the unpooled map."""
    (kh, kw), _ = _pool_window(pool, name)
    c, h, wd = pool.in_shape
    hp, wp = h // kh, wd // kw
    if w.shape[1] != c * hp * wp:
        raise NetworkError(f"{_where(name, node)}: weight {w.shape} does not fit the pooled "
                           f"input ({c}, {hp}, {wp}) of '{pool.name}'")
    grid = w.reshape(w.shape[0], c, hp, wp).repeat(kh, axis=2).repeat(kw, axis=3)
    full = np.zeros((w.shape[0], c, h, wd), dtype=w.dtype)
    full[:, :, :hp * kh, :wp * kw] = grid
    st.layers.append(Flatten(name=pool.flatten or f"{pool.name}_flat"))
    return full.reshape(w.shape[0], -1)


def _on_synapse_common(st: _State, name: str, node: Any) -> None:
    if st.synapse is not None:
        _check_no_pending(st, name, node)
    if st.pool is not None and st.pool.flatten is None and type(node).__name__ != "Conv2d":
        raise NetworkError(f"{_where(name, node)} follows pooling '{st.pool.name}' without a "
                           f"Flatten node")


def _on_conv(st: _State, name: str, node: Any) -> None:
    _on_synapse_common(st, name, node)
    w = _weights(node.weight)
    pool = st.pool
    in_shape = pool.in_shape if pool is not None else st.shape
    if int(np.asarray(node.groups)) != 1 or _pair_of(node.dilation) != (1, 1):
        raise NetworkError(f"{_where(name, node)}: groups {node.groups} / dilation "
                           f"{node.dilation} not supported; use groups=1, dilation=1")
    stride = _pair_of(node.stride)
    padding = _conv_padding(name, node, (w.shape[2], w.shape[3]) if w.ndim == 4 else (1, 1))
    if pool is not None and pool.flatten is not None:
        raise NetworkError(f"{_where(name, node)}: follows Flatten '{pool.flatten}'")
    if w.ndim != 4 or len(st.shape) != 3 or w.shape[1] != st.shape[0]:
        raise NetworkError(f"{_where(name, node)}: weight {w.shape} does not fit input "
                           f"{st.shape}")
    oh = (st.shape[1] + 2 * padding[0] - w.shape[2]) // stride[0] + 1
    ow = (st.shape[2] + 2 * padding[1] - w.shape[3]) // stride[1] + 1
    divisor = 1.0
    if pool is not None:
        (kh, kw), divisor = _pool_window(pool, name)
        if in_shape[1] % kh or in_shape[2] % kw:
            raise NetworkError(f"NIR node '{pool.name}': input {in_shape} is not a whole number "
                               f"of {kh} x {kw} windows; the pooling cannot fold into '{name}'")
        w = w.repeat(kh, axis=2).repeat(kw, axis=3)
        stride, padding = (stride[0] * kh, stride[1] * kw), (padding[0] * kh, padding[1] * kw)
        st.notes.append(f"{name}: {type(pool.node).__name__} '{pool.name}' folded in as a "
                        f"sum-pooling convolution")
        st.pool = None
    st.synapse = _Synapse(name, "conv2d", w, _bias(name, node, w.shape[0]), divisor,
                          stride, padding)
    st.shape = (int(w.shape[0]), int(oh), int(ow))


def _on_linear(st: _State, name: str, node: Any) -> None:
    _on_synapse_common(st, name, node)
    w = _weights(node.weight)
    if st.pool is not None:
        _pool_window(st.pool, name)  # refuses overlapping windows first
    if w.ndim != 2 or st.shape != (w.shape[1],):
        raise NetworkError(f"{_where(name, node)}: weight {w.shape} does not fit input "
                           f"{st.shape}; flatten first")
    divisor = 1.0
    if st.pool is not None:
        pool = st.pool
        _, divisor = _pool_window(pool, name)
        w = _fold_pool_linear(st, pool, name, node, w)
        st.notes.append(f"{name}: {type(pool.node).__name__} '{pool.name}' folded in as a "
                        f"sum-pooling convolution")
        st.pool = None
    st.synapse = _Synapse(name, "linear", w, _bias(name, node, w.shape[0]), divisor)
    st.shape = (int(w.shape[0]),)


@dataclass(frozen=True)
class _Neuron:
    """A neuron node read as an integer neuron: input gain per timestep, decay per timestep
    (None: no leak), the time constant behind it, and the input per timestep that a resting
    potential ``v_leak`` adds."""

    gain: float
    decay: float | None = None
    tau: float = math.inf
    rest: float = 0.0


def _model_if(name: str, node: Any, dt: float) -> _Neuron:
    r = _uniform(name, node, "r", node.r)
    return _Neuron(1.0 if math.isclose(r * dt, 1.0, rel_tol=1e-6) else r)


def _tau(name: str, node: Any, dt: float) -> float:
    """The layer's time constant; one line naming the nearest model when it differs between
    neurons or is not a positive time."""
    arr = _arr(node.tau).reshape(-1)
    if arr.size and not np.allclose(arr, arr[0], rtol=1e-6, atol=0.0):
        raise NetworkError(f"{_where(name, node)}: tau differs between neurons ({arr.min():g} "
                           f"to {arr.max():g} s); the integer network has one leak per layer: "
                           f"nearest representable is one tau per layer, e.g. their median "
                           f"{float(np.median(arr)):g} s")
    tau = _uniform(name, node, "tau", node.tau)
    if not tau > 0:
        raise NetworkError(f"{_where(name, node)}: tau = {tau:g} s is not a time constant "
                           f"(must be > 0); nearest representable: tau = {2 * dt:g} s (leak "
                           f"shift 1) or inf (no leak)")
    return tau


def _model_lif(name: str, node: Any, dt: float) -> _Neuron:
    tau = _tau(name, node, dt)
    r = _uniform(name, node, "r", node.r)
    v_leak = _uniform(name, node, "v_leak", node.v_leak)
    if math.isinf(tau):
        if math.isinf(r) and v_leak == 0:
            return _Neuron(1.0)  # snnTorch Leaky(beta=1): tau = r = dt / (1 - beta) = inf, IF
        raise NetworkError(f"{_where(name, node)}: tau = inf with r = {r:g}, v_leak = "
                           f"{v_leak:g}: no input reaches the membrane; nearest representable: "
                           f"an IF neuron (tau = r = inf, v_leak = 0)")
    decay = 1.0 - dt / tau
    if decay < 0.5:
        raise NetworkError(f"{_where(name, node)}: tau = {tau:g} s at dt = {dt:g} s decays by "
                           f"{decay:.4g} per step, faster than the fastest integer leak (a "
                           f"shift of 1 halves the membrane); nearest representable: tau = "
                           f"{2 * dt:g} s (leak shift 1), or import with the exporter's --dt")
    return _Neuron(r * dt / tau, decay, tau, dt / tau * v_leak)


def _model_cuba(name: str, node: Any, dt: float) -> _Neuron:
    tau = _uniform(name, node, "tau_mem", node.tau_mem)
    raise NetworkError(f"{_where(name, node)}: current-based neuron (a synaptic current filter "
                       f"before the leaky membrane) cannot be represented; nearest "
                       f"representable: a LIF neuron with tau = tau_mem = {tau:g} s and no "
                       f"synaptic filter; {NEURON_HINT}")


#: Neuron node type name -> its reading as an integer neuron (or a refusal).
_NEURON_MODEL: dict[str, Callable[[str, Any, float], _Neuron]] = {
    "IF": _model_if, "LIF": _model_lif, "CubaLIF": _model_cuba,
}


def nearest_leak(decay: float, v_bits: int) -> tuple[Leak | None, float]:
    """The integer leak whose decay per step is nearest ``decay`` (in [0.5, 1]): a shift k in
    [1, v_bits - 1] (decay ``1 - 2**-k``) or none (decay 1); returns it and its decay."""
    options: list[tuple[Leak | None, float]] = [(None, 1.0)]
    options += [(Leak("shift", k), 1.0 - 2.0 ** -k) for k in range(1, v_bits)]
    return min(options, key=lambda o: abs(o[1] - decay))


def _leak_of(st: _State, syn: _Synapse, model: _Neuron) -> Leak | None:
    """The nearest integer leak of a LIF, its decay error recorded and noted."""
    if model.decay is None:
        return None
    leak, decay = nearest_leak(model.decay, st.v_bits)
    err = (decay - model.decay) / model.decay
    st.decay_errors[syn.name] = err
    got = "no leak (IF)" if leak is None else f"leak shift {leak.amount}"
    st.notes.append(f"{syn.name}: LIF tau = {model.tau:g} s at dt = {st.dt:g} s decays by "
                    f"{model.decay:.6g} per step -> {got}, decay {decay:.6g}: relative error "
                    f"{err:+.3%}")
    return leak


def _quantize(w_eff: np.ndarray, b_eff: np.ndarray | None, w_bits: int
              ) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Integer weights (and biases) of ``w_bits`` bits and their common scale.

    Values that already are integers inside the ``w_bits``-bit two's-complement range keep
    scale 1 (an exported integer network reimports bit-identically); any others are scaled
    symmetrically, ``s = max|.| / (2**(w_bits-1) - 1)`` (1 bit: ``s = max|.|``, levels
    {-1, 0}), and rounded to nearest.
    """
    lo, hi = int_range(w_bits)
    allv = w_eff.reshape(-1) if b_eff is None else np.concatenate([w_eff.reshape(-1), b_eff])
    if allv.size and np.all(allv == np.round(allv)) and allv.min() >= lo and allv.max() <= hi:
        return (np.round(w_eff).astype(np.int64),
                None if b_eff is None else np.round(b_eff).astype(np.int64), 1.0)
    top = max(hi, 1)
    amax = float(np.abs(allv.astype(np.float64)).max()) if allv.size else 0.0
    scale = amax / top if amax > 0 else 1.0
    bounds = (-top, top) if w_bits > 1 else (-1, 0)

    def q(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(x.astype(np.float64) / scale), *bounds).astype(np.int64)

    return q(w_eff), None if b_eff is None else q(b_eff), scale


def _stored_threshold(node: Any, v_thr: float) -> int | None:
    """The integer threshold flexspim wrote in the node's metadata, if it agrees with
    ``v_threshold`` (``theta - 0.5``, to the precision the float was stored with); else None."""
    meta = _meta(node, "threshold")
    if isinstance(meta, (bool, float)) or not isinstance(meta, int):
        return None
    tolerance = 0.5 + abs(v_thr) * float(np.finfo(np.float32).eps)
    return int(meta) if abs((meta - 0.5) - v_thr) <= tolerance else None


def _reset_mode(st: _State, name: str, node: Any) -> str:
    reset = _meta(node, "reset") or st.reset
    if reset is None:
        v_reset = getattr(node, "v_reset", None)
        value = 0.0 if v_reset is None else _uniform(name, node, "v_reset", v_reset)
        if value != 0:
            raise NetworkError(f"{_where(name, node)}: v_reset = {value:g} is not 0; the "
                               f"integer network resets to 0 or subtracts the threshold: "
                               f"nearest representable: v_reset = 0 (--reset zero) or "
                               f"--reset subtract")
        st.reset_implied = True
        reset = "zero"
    if reset not in RESET_MODES:
        raise NetworkError(f"{_where(name, node)}: reset {reset!r}; use one of "
                           f"{', '.join(RESET_MODES)}")
    return reset


def _threshold(st: _State, syn: _Synapse, node: Any, v_thr: float, scale: float) -> int:
    theta = (_stored_threshold(node, v_thr) if scale == 1.0 and syn.divisor == 1.0 else None)
    if theta is None:
        theta = math.floor(v_thr * syn.divisor / scale) + 1
    theta_max = int_range(st.v_bits)[1]
    if theta > theta_max:
        st.notes.append(f"{syn.name}: threshold {theta} clipped to {theta_max}, the largest "
                        f"{st.v_bits}-bit membrane value; import with a larger --v-bits")
    return int(min(max(theta, 1), theta_max))


def _on_neuron(st: _State, name: str, node: Any) -> None:
    if st.synapse is None:
        raise NetworkError(f"{_where(name, node)}: a neuron node must follow a Conv2d or Linear "
                           f"node")
    syn = st.synapse
    model = _NEURON_MODEL[type(node).__name__](name, node, st.dt)
    gain = model.gain
    v_thr = _uniform(name, node, "v_threshold", node.v_threshold)
    reset = _reset_mode(st, name, node)
    if v_thr <= 0 or gain <= 0:
        raise NetworkError(f"{_where(name, node)}: threshold {v_thr:g} and input gain {gain:g} "
                           f"must be > 0")
    b_eff = None if syn.bias is None else syn.bias * gain * syn.divisor
    if model.rest:
        n_out = syn.weight.shape[0]
        b_eff = (np.zeros(n_out) if b_eff is None else b_eff) + model.rest * syn.divisor
        st.notes.append(f"{syn.name}: resting potential v_leak held as a bias of dt/tau * "
                        f"v_leak = {model.rest:g} per step")
    q, bq, scale = _quantize(syn.weight if gain == 1.0 else syn.weight * gain, b_eff, st.w_bits)
    common = dict(name=syn.name, weight=q, w_bits=st.w_bits, v_bits=st.v_bits,
                  threshold=_threshold(st, syn, node, v_thr, scale), reset=reset,
                  leak=_leak_of(st, syn, model))
    if syn.kind == "conv2d":
        st.layers.append(Conv2d(**common, stride=syn.stride, padding=syn.padding))
    else:
        st.layers.append(Linear(**common))
    if bq is not None:
        st.biases[syn.name] = bq
    st.scales[syn.name] = scale
    st.synapse = None


def _on_pool(st: _State, name: str, node: Any) -> None:
    _check_no_pending(st, name, node)
    if _pair_of(node.padding) != (0, 0):
        raise NetworkError(f"{_where(name, node)}: padding {node.padding} not supported; spike "
                           f"pooling does not pad")
    if len(st.shape) != 3:
        raise NetworkError(f"{_where(name, node)}: input {st.shape} is not a (C, H, W) map")
    st.pool = _Pool(name, node, st.shape)
    kernel, stride = _pair_of(node.kernel_size), _pair_of(node.stride)
    st.shape = (st.shape[0], (st.shape[1] - kernel[0]) // stride[0] + 1,
                (st.shape[2] - kernel[1]) // stride[1] + 1)


def _on_threshold(st: _State, name: str, node: Any) -> None:
    if st.pool is None or st.pool.flatten is not None:
        raise NetworkError(f"NIR node '{name}' (Threshold): only supported right after a "
                           f"SumPool2d or AvgPool2d node (spike OR pooling)")
    pool = st.pool
    kernel, stride = _pair_of(pool.node.kernel_size), _pair_of(pool.node.stride)
    area = kernel[0] * kernel[1] if type(pool.node).__name__ == "AvgPool2d" else 1
    thr = _uniform(name, node, "threshold", node.threshold)
    if not 0 <= thr * area < 1:
        raise NetworkError(f"NIR node '{name}' (Threshold): threshold {thr:g} after "
                           f"'{pool.name}' is not an OR of binary spikes (needs 0 <= threshold "
                           f"< {1 / area:g})")
    st.layers.append(SpikeMaxPool(name=pool.name, kernel=kernel, stride=stride))
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
    if st.synapse is not None or (st.pool is not None and st.pool.flatten is not None):
        _check_no_pending(st, name, node)
    start, end, batch = _flatten_dims(node, len(st.shape))
    if start > 0 or end < len(st.shape) - 1 or start < -batch:
        dims = f"{int(np.asarray(node.start_dim))}..{int(np.asarray(node.end_dim))}"
        raise NetworkError(f"NIR node '{name}' (Flatten): dims {dims} of input {st.shape} "
                           f"(batch dimension: {'yes' if batch else 'no'}) do not flatten the "
                           f"whole sample; the integer network flattens (C, H, W) to one vector")
    if st.pool is not None:
        st.pool.flatten = name  # the Flatten layer is added when the pooling folds
    else:
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
            raise NetworkError(f"{_where(name, node)} is not supported; supported node types: "
                               f"{', '.join(sorted(_HANDLERS))}")
        if len(succ.get(name, [])) > 1 or len(pred.get(name, [])) > 1:
            raise NetworkError(f"{_where(name, node)} has several inputs or outputs (recurrence "
                               f"or branches); only feed-forward chains are supported")
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

    Unsupported nodes raise NetworkError naming the node, its type and the fix.
    """
    if reset is not None and reset not in RESET_MODES:
        raise NetworkError(f"reset = {reset!r}; use one of {', '.join(RESET_MODES)}")
    if not 1 <= int(w_bits) <= int(v_bits) or int(v_bits) < 2:
        raise NetworkError(f"w_bits = {w_bits}, v_bits = {v_bits}: need 1 <= w_bits <= v_bits "
                           f"and v_bits >= 2")
    if not math.isfinite(float(dt)) or float(dt) <= 0:
        raise NetworkError(f"dt = {dt}: the time step must be a number of seconds > 0 "
                           f"(snnTorch's is {DEFAULT_DT})")
    st = _State(w_bits=int(w_bits), v_bits=int(v_bits), reset=reset, dt=float(dt))
    order = _chain(graph)
    input_shape: tuple[int, ...] = ()
    for node_name in order:
        node = graph.nodes[node_name]
        _HANDLERS[type(node).__name__](st, node_name, node)
        if node_name == order[0]:
            input_shape = st.shape
    if st.synapse is not None or st.pool is not None:
        last = st.synapse.name if st.synapse is not None else st.pool.name  # type: ignore[union-attr]
        raise NetworkError(f"NIR node '{last}' ends the graph without a neuron/threshold node")
    if not st.layers:
        raise NetworkError("NIR graph holds no layers")
    fold = fold_biases(input_shape, st.layers, st.biases)
    net = IntNetwork(input_shape=(input_shape[0] + fold.always_on, *input_shape[1:]),
                     layers=fold.layers, name=name, always_on=fold.always_on)
    reset_note = (RESET_NOTE,) if st.reset_implied else ()
    return net, ImportReport(scales=dict(st.scales), notes=(*reset_note, *st.notes,
                                                            *fold.notes),
                             decay_errors=dict(st.decay_errors))


def import_nir(path: str | os.PathLike[str], **kwargs: Any) -> tuple[IntNetwork, ImportReport]:
    """Read a ``.nir`` file and quantize it with :func:`network_from_nir` (same keywords)."""
    nir = _nir()
    p = Path(path)
    if not p.is_file():
        raise FormatError(f"{p}: no such NIR file; check the path")
    try:  # shapes are checked node by node below; nir's own check refuses batch dimensions
        graph = (nir.read(p, type_check=False)
                 if "type_check" in inspect.signature(nir.read).parameters else nir.read(p))
    except Exception as exc:  # h5py / nir raise many types for a bad file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FormatError(f"{p}: not a readable NIR file ({first[:120]})") from None
    kwargs.setdefault("name", p.stem)
    try:
        return network_from_nir(graph, **kwargs)
    except NetworkError as exc:
        raise NetworkError(f"{p}: {exc}") from None

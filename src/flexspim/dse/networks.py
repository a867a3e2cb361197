"""Networks and data a sweep evaluates: the built-in networks, the shipped digits model, and
re-quantisation of a trained network to other per-layer bit widths.

Re-quantisation (docs/dse.md, "Mixed precision") exploits the chip's 1-bit operand granularity
(paper §II): a spiking layer trained at ``w_bits = b`` runs at ``b'`` by scaling its weights and
threshold together by ``2**(b' - b)`` (rounding half up when narrowing, then clipping the weights
to the ``b'``-bit range), so that an IF neuron with subtract reset behaves the same wherever no
rounding or clipping happens. The membrane width ``v_bits`` is then set as asked; a threshold
that no longer fits is clipped to the largest ``v_bits`` value, and membranes that overflow wrap
as the chip's adder does (docs/design.md §3).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from flexspim.data import DigitsEvents, load_frames
from flexspim.errors import ConfigError
from flexspim.net import IntNetwork, SpikingLayer, int_range, load_network
from flexspim.net.presets import dvs_gesture_scnn

#: Built-in networks: the default DVS Gesture architecture (seeded random weights, analytic only)
#: and the shipped trained digits model (analytic or simulated on the offline digits test split).
BUILTIN_NETWORKS: tuple[str, ...] = ("dvs_gesture", "digits")


@dataclass(frozen=True)
class NetworkRef:
    """Which network a sweep evaluates: a built-in name or a file, with a digest of its content.

    ``digest`` is part of every point's key, so editing the network file makes new points.
    """

    kind: str  # "dvs_gesture" | "digits" | "file"
    path: str | None = None
    digest: str = ""


#: The trained digits model shipped in the package (made by ``flexspim train``; docs/dse.md).
SHIPPED_MODEL = "digits_net.npz"
#: Its training record beside it (time bins, accuracy, the command that made it).
SHIPPED_MODEL_INFO = "digits_net.json"
#: Bit widths of the default DVS Gesture network when a point does not set them: the paper's
#: 8-bit weights / 16-bit membranes (5.7-7.2 pJ/SOP is quoted there).
DVS_DEFAULT_BITS = (8, 16)


def shipped_model_path() -> Path:
    """Path of the shipped digits model; ConfigError if the package has none."""
    p = Path(str(resources.files("flexspim") / "assets" / SHIPPED_MODEL))
    if not p.is_file():
        raise ConfigError(f"the shipped digits model {p} is missing; re-install flexspim or "
                          f"train it with 'flexspim train' (docs/dse.md)")
    return p


def shipped_model_info() -> dict[str, Any]:
    """The JSON record beside the shipped model (``n_time_bins`` at least); {} if absent."""
    p = shipped_model_path().with_name(SHIPPED_MODEL_INFO)
    if not p.is_file():
        return {}
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"{p}: the shipped model's record is not valid JSON; re-install "
                          f"flexspim") from None
    return doc if isinstance(doc, dict) else {}


def shipped_time_bins(default: int = 16) -> int:
    """Timesteps the shipped model was trained with (its record's ``n_time_bins``)."""
    info = shipped_model_info()
    for key in ("n_time_bins", "time_bins", "n_timesteps"):
        if isinstance(info.get(key), int) and info[key] > 0:
            return int(info[key])
    return default


def shipped_model_digest() -> str:
    """SHA-256 (16 hex digits) of the shipped model file (part of every point's key)."""
    return hashlib.sha256(shipped_model_path().read_bytes()).hexdigest()[:16]


def _per_layer(bits: int | tuple[int, ...] | None, n: int, field: str) -> list[int | None]:
    if bits is None:
        return [None] * n
    if isinstance(bits, int):
        return [bits] * n
    if len(bits) != n:
        raise ConfigError(f"{field} = {list(bits)} gives {len(bits)} widths, the network has "
                          f"{n} spiking layers; give one per layer or one for all")
    return list(bits)


def _scale(values: np.ndarray, shift: int) -> np.ndarray:
    """Multiply by 2**shift; for shift < 0 divide, rounding half up (arithmetic shifts)."""
    v = np.asarray(values, dtype=np.int64)
    if shift >= 0:
        return v << shift
    d = -shift
    return (v + (1 << (d - 1))) >> d


def requantise(net: IntNetwork, w_bits: int | tuple[int, ...] | None = None,
               v_bits: int | tuple[int, ...] | None = None) -> IntNetwork:
    """``net`` with per-layer weight/membrane widths changed (module docstring for the rule).

    ``None`` keeps a layer's width. ConfigError names the layer when a width does not work
    (``w_bits > v_bits``).
    """
    layers = net.spiking_layers
    wb = _per_layer(w_bits, len(layers), "w_bits")
    vb = _per_layer(v_bits, len(layers), "v_bits")
    new_by_name: dict[str, SpikingLayer] = {}
    for layer, w_new, v_new in zip(layers, wb, vb, strict=True):
        w_to = layer.w_bits if w_new is None else int(w_new)
        v_to = layer.v_bits if v_new is None else int(v_new)
        if w_to > v_to:
            raise ConfigError(f"layer '{layer.name}': w_bits = {w_to} > v_bits = {v_to}; a "
                              f"weight is added into its membrane, so choose w_bits <= v_bits")
        shift = w_to - layer.w_bits
        wlo, whi = int_range(w_to)
        vlo, vhi = int_range(v_to)
        weight = np.clip(_scale(layer.weight, shift), wlo, whi)
        threshold = int(np.clip(_scale(np.array(layer.threshold), shift), 1, vhi))
        init = layer.initial_membrane
        if init is not None:
            init = np.clip(_scale(init, shift), vlo, vhi)
        new_by_name[layer.name] = dataclasses.replace(
            layer, weight=weight, w_bits=w_to, v_bits=v_to, threshold=threshold,
            initial_membrane=init)
    return IntNetwork(input_shape=net.input_shape,
                      layers=tuple(new_by_name.get(getattr(x, "name", ""), x)
                                   for x in net.layers),
                      name=net.name)


def build_network(ref: NetworkRef, w_bits: int | tuple[int, ...] | None = None,
                  v_bits: int | tuple[int, ...] | None = None) -> IntNetwork:
    """The network a point evaluates, at the point's bit widths."""
    if ref.kind == "dvs_gesture":
        wb = DVS_DEFAULT_BITS[0] if w_bits is None else w_bits
        vb = DVS_DEFAULT_BITS[1] if v_bits is None else v_bits
        n = len(dvs_gesture_scnn().spiking_layers)
        wl, vl = _per_layer(wb, n, "w_bits"), _per_layer(vb, n, "v_bits")
        for i, (w, v) in enumerate(zip(wl, vl, strict=True)):
            if w is not None and v is not None and w > v:
                raise ConfigError(f"spiking layer {i}: w_bits = {w} > v_bits = {v}; choose "
                                  f"w_bits <= v_bits")
        return dvs_gesture_scnn(w_bits=wl, v_bits=vl, seed=0)  # type: ignore[arg-type]
    path = shipped_model_path() if ref.kind == "digits" else Path(str(ref.path))
    net = _load_cached(str(path), ref.digest)
    if w_bits is None and v_bits is None:
        return net
    return requantise(net, w_bits, v_bits)


@lru_cache(maxsize=4)
def _load_cached(path: str, digest: str) -> IntNetwork:
    """Load a network file once per worker (keyed by path and content digest)."""
    return load_network(path)


@lru_cache(maxsize=2)
def digits_test_data(n_time_bins: int, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` test samples of the offline digits dataset (a seeded subset; all of them if
    ``samples`` >= the split), binned: spikes int64 ``[T, N, 2, H, W]`` and labels ``[N]``."""
    frames, labels = load_frames(DigitsEvents(split="test", seed=0), n_time_bins)
    frames = np.asarray(frames)
    labels = np.asarray(labels).astype(np.int64)
    n = frames.shape[0]
    if samples < n:
        idx = np.sort(np.random.default_rng(seed).choice(n, size=samples, replace=False))
        frames, labels = frames[idx], labels[idx]
    spikes = np.ascontiguousarray(np.moveaxis(frames, 1, 0)).astype(np.int64)
    spikes.setflags(write=False)
    labels.setflags(write=False)
    return spikes, labels

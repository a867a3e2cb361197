"""The integer-network file format, versions 1 and 2 (documented in docs/formats.md).

One ``.npz`` (NumPy zip) holding:

- ``header``: a 0-d unicode array with a JSON document
  ``{"format": "flexspim-network", "version": 1 or 2, "name": ..., "input_shape": [C, H, W],
  "layers": [{"kind": "conv2d", "name": ..., "w_bits": ..., "v_bits": ..., "threshold": ...,
  "reset": ..., "stride": [..], "padding": [..], "has_initial_membrane": bool,
  "leak": {"kind": "shift" | "constant", "amount": N}}, ...], "always_on": N}``
  (``always_on`` only when N > 0: trailing always-on input channels; ``leak`` only on a leaky
  layer);
- ``<layer name>.weight``: int64 weights for every conv2d/linear layer;
- ``<layer name>.initial_membrane``: int64, only where the header says so.

Version 2 added ``leak``. A network without a leaky layer is written as version 1, byte for
byte as before (releases that predate the leak read it); a network with one is written as
version 2, which those releases refuse rather than simulate without the leak. Both load here.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from flexspim._io import check_versioned, stamped, write_bytes_atomic
from flexspim.errors import FlexspimError, FormatError, NetworkError
from flexspim.net.layers import (
    LAYER_TYPES,
    Conv2d,
    Flatten,
    Leak,
    Linear,
    SpikeMaxPool,
    SpikingLayer,
)
from flexspim.net.network import IntNetwork

NETWORK_FORMAT = "flexspim-network"
#: The newest version (written for a network with a leaky layer; 1 otherwise).
NETWORK_VERSION = 2
#: The versions this release reads.
NETWORK_VERSIONS = (1, 2)


def network_header(net: IntNetwork) -> dict[str, Any]:
    """The JSON header of ``net`` (everything but the arrays)."""
    layers: list[dict[str, Any]] = []
    for layer in net.layers:
        entry: dict[str, Any] = {"kind": layer.kind, "name": layer.name}
        if isinstance(layer, SpikingLayer):
            entry.update(w_bits=int(layer.w_bits), v_bits=int(layer.v_bits),
                         threshold=int(layer.threshold), reset=layer.reset,
                         has_initial_membrane=layer.initial_membrane is not None)
            if layer.leak is not None:
                entry["leak"] = layer.leak.to_dict()
        if isinstance(layer, Conv2d):
            entry.update(stride=list(layer.stride), padding=list(layer.padding))
        if isinstance(layer, SpikeMaxPool):
            entry.update(kernel=list(layer.kernel), stride=list(layer.stride))
        layers.append(entry)
    leaky = any(layer.leak is not None for layer in net.spiking_layers)
    header = {"format": NETWORK_FORMAT, "version": NETWORK_VERSION if leaky else 1,
              "name": net.name, "input_shape": list(net.input_shape), "layers": layers}
    if net.always_on:
        header["always_on"] = int(net.always_on)
    return header


def network_to_bytes(net: IntNetwork) -> bytes:
    """The file contents of ``net``."""
    header = stamped(network_header(net))  # + flexspim_version: the release writing the file
    arrays: dict[str, np.ndarray] = {"header": np.array(json.dumps(header))}
    for layer in net.layers:
        if isinstance(layer, SpikingLayer):
            arrays[f"{layer.name}.weight"] = np.asarray(layer.weight, dtype=np.int64)
            if layer.initial_membrane is not None:
                arrays[f"{layer.name}.initial_membrane"] = np.asarray(layer.initial_membrane,
                                                                      dtype=np.int64)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def save_network(net: IntNetwork, path: str | os.PathLike[str]) -> None:
    """Write ``net`` to ``path`` (atomically)."""
    write_bytes_atomic(path, network_to_bytes(net))


def _field(entry: dict[str, Any], key: str, where: str) -> Any:
    if key not in entry:
        raise FormatError(f"{where}: missing field '{key}'")
    return entry[key]


def load_network(path: str | os.PathLike[str]) -> IntNetwork:
    """Read an integer network; any problem raises FormatError/NetworkError naming the file."""
    p = Path(path)
    if not p.exists():
        raise FormatError(f"{p}: no such network file; check the path")
    if p.is_dir():
        raise FormatError(f"{p}: is a folder, expected a network file (.npz)")
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        raise FormatError(f"{p}: not a flexspim network file (byte 0: {magic!r} is not the start "
                          f"of a .npz archive); write one with save_network or 'flexspim export'")
    try:
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise FormatError(f"{p}: not a flexspim network file, truncated or corrupt ({exc}); "
                          f"re-export it with 'flexspim export'") from None
    except ValueError as exc:
        raise FormatError(f"{p}: corrupt network file ({exc})") from None
    if "header" not in arrays:
        raise FormatError(f"{p}: not a flexspim network file (no header); re-export it")
    try:
        header = json.loads(str(arrays["header"]))
    except json.JSONDecodeError as exc:
        raise FormatError(f"{p}: corrupt network header ({exc.msg})") from None
    check_versioned(header, NETWORK_FORMAT, NETWORK_VERSIONS, p,
                    fix_format="write one with save_network or 'flexspim export'",
                    fix="re-export the network with this version of flexspim")
    try:
        return _build_network(header, arrays, str(p))
    except FlexspimError as exc:
        raise type(exc)(f"{p}: {exc}") from None
    except (TypeError, ValueError, KeyError) as exc:
        raise FormatError(f"{p}: malformed network header ({exc})") from None


def _leak(raw: Any, layer: str) -> Leak | None:
    """The ``leak`` field of a layer entry: absent or null (no leak), or ``{"kind", "amount"}``."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"kind", "amount"}:
        raise FormatError(f"layer '{layer}': field 'leak' = {raw!r} must be {{\"kind\": "
                          f"\"shift\" or \"constant\", \"amount\": N}} or absent (no leak)")
    amount = raw["amount"]
    try:
        return Leak(kind=raw["kind"], amount=amount)
    except NetworkError as exc:
        raise NetworkError(f"layer '{layer}': {exc}") from None


def _build_network(header: dict[str, Any], arrays: dict[str, np.ndarray], where: str) -> IntNetwork:
    layers = []
    raw_layers = _field(header, "layers", where)
    if not isinstance(raw_layers, list):
        raise FormatError(f"{where}: header field 'layers' must be a list")
    for i, entry in enumerate(raw_layers):
        lw = f"layer {i}"
        if not isinstance(entry, dict):
            raise FormatError(f"{lw}: must be a mapping")
        kind = _field(entry, "kind", lw)
        name = str(_field(entry, "name", lw))
        if kind not in LAYER_TYPES:
            raise NetworkError(f"layer '{name}': unknown layer kind '{kind}'; known: "
                               f"{', '.join(LAYER_TYPES)}")
        if kind in ("conv2d", "linear"):
            key = f"{name}.weight"
            if key not in arrays:
                raise FormatError(f"layer '{name}': weights '{key}' missing from the file")
            init = None
            if entry.get("has_initial_membrane"):
                ikey = f"{name}.initial_membrane"
                if ikey not in arrays:
                    raise FormatError(f"layer '{name}': '{ikey}' missing from the file")
                init = arrays[ikey].astype(np.int64)
            common = dict(name=name, weight=arrays[key].astype(np.int64),
                          w_bits=int(_field(entry, "w_bits", lw)),
                          v_bits=int(_field(entry, "v_bits", lw)),
                          threshold=int(_field(entry, "threshold", lw)),
                          reset=_field(entry, "reset", lw), initial_membrane=init,
                          leak=_leak(entry.get("leak"), name))
            if kind == "conv2d":
                layers.append(Conv2d(**common, stride=tuple(entry.get("stride", (1, 1))),
                                     padding=tuple(entry.get("padding", (0, 0)))))
            else:
                layers.append(Linear(**common))
        elif kind == "maxpool":
            layers.append(SpikeMaxPool(name=name, kernel=tuple(_field(entry, "kernel", lw)),
                                       stride=tuple(_field(entry, "stride", lw))))
        else:
            layers.append(Flatten(name=name))
    return IntNetwork(input_shape=tuple(_field(header, "input_shape", where)),
                      layers=tuple(layers), name=str(header.get("name", "network")),
                      always_on=int(header.get("always_on", 0)))

"""The event router between layers: max-pooling (OR of a window) and flattening need no macro
work; each event keeps the macro it leaves from, so routing can be counted at the next layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from flexspim.errors import ConfigError
from flexspim.net.layers import Flatten, SpikeMaxPool
from flexspim.system import kernel


def route_maxpool(layer: SpikeMaxPool, x: np.ndarray, srcs: np.ndarray,
                  in_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Max-pool (OR) of ``x`` ``[T, N, C*H*W]`` and the macro each pooled event leaves from
    (that of the first spiking input of its window, row-major; -1 without a spike)."""
    c, h, w = in_shape
    kh, kw = layer.kernel
    sh, sw = layer.stride  # type: ignore[misc]
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((x.shape[0], x.shape[1], c * oh * ow), dtype=np.uint8)
    out_src = np.zeros(out.shape, dtype=np.int64)
    kernel.route_maxpool(x, np.ascontiguousarray(srcs, dtype=np.int64), c, h, w, kh, kw, sh, sw,
                         out, out_src)
    return out, out_src


def passive(layer: Any, x: np.ndarray, srcs: np.ndarray, in_shape: tuple[int, ...]
             ) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(layer, SpikeMaxPool):
        return route_maxpool(layer, x, srcs, in_shape)
    if isinstance(layer, Flatten):
        return x, srcs
    raise ConfigError(f"layer '{layer.name}': the system engine has no rule for {layer.kind}")



"""Integer network (docs/design.md §4 ``net``): the deployable description of a quantized SNN.

Layers (:class:`Conv2d`, :class:`Linear`, :class:`SpikeMaxPool`, :class:`Flatten`) with integer
weights, per-layer ``w_bits``/``v_bits``, integer thresholds, a reset mode and an optional
integer :class:`Leak` (IF by default, LIF with a leak); saved and loaded with
:func:`save_network` / :func:`load_network` (format ``flexspim-network`` versions 1 and 2).
The PyTorch integer reference that defines the arithmetic is :mod:`flexspim.net.reference`.
"""

from flexspim.net.io import (
    NETWORK_FORMAT,
    NETWORK_VERSION,
    NETWORK_VERSIONS,
    load_network,
    save_network,
)
from flexspim.net.layers import (
    DEFAULT_RESET,
    LAYER_TYPES,
    LEAK_KINDS,
    RESET_MODES,
    Conv2d,
    Flatten,
    Layer,
    Leak,
    Linear,
    SpikeMaxPool,
    SpikingLayer,
    int_range,
    wrap,
)
from flexspim.net.network import IntNetwork

__all__ = [
    "DEFAULT_RESET",
    "LAYER_TYPES",
    "LEAK_KINDS",
    "NETWORK_FORMAT",
    "NETWORK_VERSION",
    "NETWORK_VERSIONS",
    "RESET_MODES",
    "Conv2d",
    "Flatten",
    "IntNetwork",
    "Layer",
    "Leak",
    "Linear",
    "SpikeMaxPool",
    "SpikingLayer",
    "int_range",
    "load_network",
    "save_network",
    "wrap",
]

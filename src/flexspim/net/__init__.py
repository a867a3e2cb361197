"""Integer network (docs/design.md §4 ``net``): the deployable description of a quantized IF SNN.

Layers (:class:`Conv2d`, :class:`Linear`, :class:`SpikeMaxPool`, :class:`Flatten`) with integer
weights, per-layer ``w_bits``/``v_bits``, integer thresholds and a reset mode; saved and loaded
with :func:`save_network` / :func:`load_network` (format ``flexspim-network`` version 1).
The PyTorch integer reference that defines the arithmetic is :mod:`flexspim.net.reference`.
"""

from flexspim.net.io import NETWORK_FORMAT, NETWORK_VERSION, load_network, save_network
from flexspim.net.layers import (
    DEFAULT_RESET,
    LAYER_TYPES,
    RESET_MODES,
    Conv2d,
    Flatten,
    Layer,
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
    "NETWORK_FORMAT",
    "NETWORK_VERSION",
    "RESET_MODES",
    "Conv2d",
    "Flatten",
    "IntNetwork",
    "Layer",
    "Linear",
    "SpikeMaxPool",
    "SpikingLayer",
    "int_range",
    "load_network",
    "save_network",
    "wrap",
]

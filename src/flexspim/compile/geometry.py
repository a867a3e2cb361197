"""Geometry of a spiking layer on the FlexSpIM array (paper §II, Fig. 3; docs/design.md §3).

A layer has two operand kinds: ``w_bits`` weights and ``v_bits`` membranes. Both share one
column span of ``cols`` columns per SOP lane (the *operand shape*): a membrane occupies
``v_rows = ceil(v_bits / cols)`` rows and a weight ``w_rows = ceil(w_bits / cols)`` rows of that
span (the weight is sign-extended by the adder). One row holds ``lanes = macro_cols // cols``
lanes side by side; the other ``macro_cols - lanes * cols`` columns stay in precharge standby.

The stationary operand is stored in *row groups*: one group is ``rows_per_group`` rows holding up
to ``lanes`` operands that one input event updates together (the output channels of one input
channel and kernel tap for weights, the output channels of one output position for membranes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flexspim.errors import MappingError
from flexspim.hw import Hardware
from flexspim.net.layers import Conv2d, Linear, SpikingLayer
from flexspim.net.network import IntNetwork

#: The two stationary operands: weight-stationary (WS) and output-stationary (OS).
STATIONARY: tuple[str, ...] = ("weights", "membranes")


def _valid_pairs(n_in: int, n_out: int, k: int, stride: int, pad: int) -> int:
    """Number of (output index, kernel tap) pairs whose input index lies inside [0, n_in)."""
    total = 0
    for o in range(n_out):
        start = o * stride - pad
        lo, hi = max(0, -start), min(k, n_in - start)
        total += max(0, hi - lo)
    return total


@dataclass(frozen=True)
class LayerGeometry:
    """Sizes of one spiking layer that the mapping and the cost model need.

    ``fan_out`` is the mean number of SOPs per input event (synapses per input neuron, taps that
    fall into the zero padding excluded), exact for uniformly placed events.
    ``positions_per_event`` is the mean number of output positions one event reaches (each with
    ``out_channels`` SOPs); ``stationary groups`` follow the module docstring.
    """

    name: str
    index: int
    kind: str
    w_bits: int
    v_bits: int
    out_channels: int
    in_channels: int
    taps: int
    out_positions: int
    n_weights: int
    n_neurons: int
    n_inputs: int
    fan_out: float

    @property
    def weight_bits(self) -> int:
        """All weight bits of the layer."""
        return self.n_weights * self.w_bits

    @property
    def membrane_bits(self) -> int:
        """All membrane bits of the layer."""
        return self.n_neurons * self.v_bits

    def operand_bits(self, stationary: str) -> int:
        """Bits of the ``stationary`` operand ("weights" or "membranes")."""
        return self.weight_bits if stationary == "weights" else self.membrane_bits

    def streamed_bits(self, stationary: str) -> int:
        """Bits of the other (streamed) operand."""
        return self.membrane_bits if stationary == "weights" else self.weight_bits

    def smaller_operand(self) -> str:
        """The operand with fewer bits (ties: weights), the paper's HS-min choice (Fig. 4)."""
        return "weights" if self.weight_bits <= self.membrane_bits else "membranes"


def layer_geometry(net: IntNetwork, index: int) -> LayerGeometry:
    """The :class:`LayerGeometry` of ``net.layers[index]`` (a conv2d or linear layer)."""
    layer = net.layers[index]
    in_shape, out_shape = net.shapes[index]
    if isinstance(layer, Conv2d):
        c_out, c_in = layer.out_channels, layer.in_channels
        kh, kw = layer.kernel_size
        _, h, w = in_shape
        _, oh, ow = out_shape
        pairs = (_valid_pairs(h, oh, kh, layer.stride[0], layer.padding[0])
                 * _valid_pairs(w, ow, kw, layer.stride[1], layer.padding[1]))
        n_inputs = c_in * h * w
        fan_out = c_out * pairs / (h * w)
        return LayerGeometry(layer.name, index, "conv2d", layer.w_bits, layer.v_bits, c_out,
                             c_in, kh * kw, oh * ow, layer.n_weights, c_out * oh * ow, n_inputs,
                             float(fan_out))
    if isinstance(layer, Linear):
        return LayerGeometry(layer.name, index, "linear", layer.w_bits, layer.v_bits,
                             layer.out_features, layer.in_features, 1, 1, layer.n_weights,
                             layer.out_features, layer.in_features, float(layer.out_features))
    raise MappingError("spiking-layer", f"layer '{layer.name}' ({layer.kind}) has no operands to "
                       f"map; only conv2d and linear layers are mapped")


def network_geometry(net: IntNetwork) -> tuple[LayerGeometry, ...]:
    """Geometry of every spiking layer of ``net``, in order."""
    return tuple(layer_geometry(net, i) for i, layer in enumerate(net.layers)
                 if isinstance(layer, SpikingLayer))


@dataclass(frozen=True)
class Option:
    """One way to map a layer: which operand is stationary and the lane width ``cols``."""

    stationary: str
    cols: int


@dataclass(frozen=True)
class OptionGeometry:
    """Row and column use of a layer under an :class:`Option` on a ``rows x cols`` macro.

    - ``v_rows``/``w_rows``: rows of one membrane / weight operand (``ceil(bits / cols)``);
    - ``lanes``: SOP lanes per row (``macro_cols // cols``); ``lane_cols = lanes * cols``;
    - ``groups``: row groups of the stationary operand, ``rows_per_group`` rows each;
    - ``scratch_rows``: rows for one streamed row group of both operands (``w_rows + v_rows``),
      so that a streamed operand or a spilled part of the stationary one can be processed;
    - ``row_ops_per_position``: row operations to add one event into the ``out_channels``
      membranes of one output position: ``ceil(out_channels / lanes) * v_rows``.
    """

    option: Option
    v_rows: int
    w_rows: int
    lanes: int
    lane_cols: int
    groups: int
    rows_per_group: int
    scratch_rows: int
    row_ops_per_position: int

    @property
    def stationary_rows(self) -> int:
        """Rows of the whole stationary operand."""
        return self.groups * self.rows_per_group


def option_geometry(geo: LayerGeometry, option: Option, hw: Hardware) -> OptionGeometry:
    """Row/column use of ``geo`` under ``option`` (see :class:`OptionGeometry`)."""
    c = option.cols
    lanes = hw.macro.cols // c
    v_rows = math.ceil(geo.v_bits / c)
    w_rows = math.ceil(geo.w_bits / c)
    ch_groups = math.ceil(geo.out_channels / lanes)
    if option.stationary == "weights":
        groups, per_group = ch_groups * geo.in_channels * geo.taps, w_rows
    else:
        groups, per_group = ch_groups * geo.out_positions, v_rows
    return OptionGeometry(option, v_rows, w_rows, lanes, lanes * c, groups, per_group,
                          w_rows + v_rows, ch_groups * v_rows)


def shape_candidates(geo: LayerGeometry, hw: Hardware) -> tuple[int, ...]:
    """Lane widths worth considering: for every row count r of a membrane, the narrowest span
    ``ceil(v_bits / r)`` that reaches it (a wider span with the same rows only loses lanes),
    limited to the macro's columns and to shapes whose scratch rows fit the macro."""
    out: set[int] = set()
    for r in range(1, geo.v_bits + 1):
        c = math.ceil(geo.v_bits / r)
        if c <= hw.macro.cols and math.ceil(geo.v_bits / c) + math.ceil(geo.w_bits / c) \
                <= hw.macro.rows:
            out.add(c)
    return tuple(sorted(out, reverse=True))

"""Geometry of a spiking layer on the FlexSpIM array (paper §II, Fig. 3; docs/compiler.md).

A layer has two operand kinds: ``w_bits`` weights and ``v_bits`` membranes. Both share one
column span of ``cols`` columns per SOP lane (the *operand shape*): a membrane occupies
``v_rows = ceil(v_bits / cols)`` rows and a weight ``w_rows = ceil(w_bits / cols)`` rows of that
span (the weight is sign-extended by the adder). One row holds ``lanes = macro_cols // cols``
lanes side by side; the columns of unused lanes stay in precharge standby.

A linear layer is treated as a 1 x 1 convolution of ``in_features`` channels on a 1 x 1 map.

**Channel groups.** The ``out_channels`` lanes that one input event updates at one output
position are split into ``n_cg = ceil(out_channels / lanes)`` channel groups of at most ``lanes``.

**Lane packing.** When one channel group holds every output channel with room to spare
(``out_channels * pack <= lanes``), ``pack`` kernel taps (weights stationary) or ``pack``
neighbouring output positions of one output row (membranes stationary) share a row group side by
side, so one row operation updates the lanes of several taps or positions of the same event.

**Row groups of the stationary operand** (indices in this order; ``resident`` and ``spilled``
groups are chosen by :func:`spread_mask`):

- weights (WS): group ``(c_in, tap block b, cg)``, ``((c_in * n_blocks) + b) * n_cg + cg``;
  a tap block is taps ``[b*pack, (b+1)*pack)`` in row-major (i, j) order;
- membranes (OS): group ``(oy, x block xb, cg)``, ``((oy * n_xblocks) + xb) * n_cg + cg``;
  an x block is output columns ``[xb*pack, (xb+1)*pack)`` of output row ``oy``.

Lane ``s * out_in_group + k`` of a group (slot s, channel k of the group) sits at columns
``[lane * cols, (lane + 1) * cols)``.

**Operand groups in memory** (what the buffer or DRAM holds, unpacked): weights
``(c_in, tap, cg)`` at ``((c_in * taps) + tap) * n_cg + cg``; membranes ``(position, cg)`` at
``position * n_cg + cg``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from flexspim.errors import MappingError
from flexspim.hw import Hardware
from flexspim.net.layers import Conv2d, Linear, SpikingLayer
from flexspim.net.network import IntNetwork

#: The two stationary operands: weight-stationary (WS) and output-stationary (OS).
#: The operand a layer keeps in the arrays (paper Sec. II): its weights (WS) or its membranes
#: (OS); the other one streams through the scratch rows.
Stationary = Literal["weights", "membranes"]
STATIONARY: tuple[Stationary, ...] = ("weights", "membranes")


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
    """Sizes of one spiking layer as a convolution (a linear layer is 1 x 1 on a 1 x 1 map).

    ``fan_out`` is the mean number of SOPs per input event (synapses per input neuron, taps that
    fall into the zero padding excluded), exact for uniformly placed events.
    """

    name: str
    index: int
    kind: str
    w_bits: int
    v_bits: int
    out_channels: int
    in_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    fan_out: float

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def out_positions(self) -> int:
        return self.out_hw[0] * self.out_hw[1]

    @property
    def n_weights(self) -> int:
        return self.out_channels * self.in_channels * self.taps

    @property
    def n_neurons(self) -> int:
        return self.out_channels * self.out_positions

    @property
    def n_inputs(self) -> int:
        return self.in_channels * self.in_hw[0] * self.in_hw[1]

    @property
    def weight_bits(self) -> int:
        """All weight bits of the layer."""
        return self.n_weights * self.w_bits

    @property
    def membrane_bits(self) -> int:
        """All membrane bits of the layer."""
        return self.n_neurons * self.v_bits

    def operand_count(self, operand: str) -> int:
        """Number of ``operand`` ("weights" or "membranes") operands."""
        return self.n_weights if operand == "weights" else self.n_neurons

    def operand_bits(self, stationary: Stationary) -> int:
        """Bits of the ``stationary`` operand ("weights" or "membranes")."""
        return self.weight_bits if stationary == "weights" else self.membrane_bits

    def streamed_bits(self, stationary: Stationary) -> int:
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
        return LayerGeometry(layer.name, index, "conv2d", layer.w_bits, layer.v_bits, c_out,
                             c_in, (kh, kw), tuple(layer.stride), tuple(layer.padding), (h, w),
                             (oh, ow), float(c_out * pairs / (h * w)))
    if isinstance(layer, Linear):
        return LayerGeometry(layer.name, index, "linear", layer.w_bits, layer.v_bits,
                             layer.out_features, layer.in_features, (1, 1), (1, 1), (0, 0),
                             (1, 1), (1, 1), float(layer.out_features))
    raise MappingError("spiking-layer", f"layer '{layer.name}' ({layer.kind}) has no operands to "
                       f"map; only conv2d and linear layers are mapped")


def network_geometry(net: IntNetwork) -> tuple[LayerGeometry, ...]:
    """Geometry of every spiking layer of ``net``, in order."""
    return tuple(layer_geometry(net, i) for i, layer in enumerate(net.layers)
                 if isinstance(layer, SpikingLayer))


@dataclass(frozen=True)
class Option:
    """One way to map a layer: the stationary operand, the lane width ``cols`` and the number of
    taps (WS) or output positions (OS) packed side by side in a row group."""

    stationary: Stationary
    cols: int
    pack: int = 1


@dataclass(frozen=True)
class OptionGeometry:
    """Row and column use of a layer under an :class:`Option` (module docstring).

    - ``v_rows``/``w_rows``: rows of one membrane / weight (``ceil(bits / cols)``);
    - ``lanes``: lanes per row; ``n_cg`` channel groups of at most ``channels_per_group``;
    - ``group_lanes``: lanes a stationary row group uses (``pack * channels_per_group``);
    - ``groups``: row groups of the stationary operand, ``rows_per_group`` rows each;
    - ``memory_groups``: unpacked groups of the streamed operand in memory;
    - ``scratch_rows``: rows for one streamed weight and one streamed membrane slice.
    """

    option: Option
    v_rows: int
    w_rows: int
    lanes: int
    n_cg: int
    channels_per_group: int
    n_blocks: int
    groups: int
    rows_per_group: int
    memory_groups: int
    scratch_rows: int

    @property
    def pack(self) -> int:
        return self.option.pack

    @property
    def group_lanes(self) -> int:
        return self.pack * self.channels_per_group

    @property
    def lane_cols(self) -> int:
        """Columns a stationary row group spans."""
        return self.group_lanes * self.option.cols

    @property
    def stationary_rows(self) -> int:
        """Rows of the whole stationary operand."""
        return self.groups * self.rows_per_group


def max_pack(geo: LayerGeometry, stationary: Stationary, cols: int, hw: Hardware) -> int:
    """Largest lane packing for ``cols``-column lanes: taps (WS) or x positions (OS) that fit
    beside one full channel group in a row."""
    lanes = hw.macro.cols // cols
    if geo.out_channels > lanes:
        return 1
    limit = geo.taps if stationary == "weights" else geo.out_hw[1]
    return max(1, min(lanes // geo.out_channels, limit))


def option_geometry(geo: LayerGeometry, option: Option, hw: Hardware) -> OptionGeometry:
    """Row/column use of ``geo`` under ``option`` (see :class:`OptionGeometry`)."""
    c, pack = option.cols, option.pack
    lanes = hw.macro.cols // c
    if c < 1 or lanes < 1:
        raise MappingError("operand-shape", f"layer '{geo.name}': lanes of {c} columns do not "
                           f"fit a {hw.macro.cols}-column macro")
    if pack < 1 or pack > max_pack(geo, option.stationary, c, hw):
        raise MappingError("lane-packing", f"layer '{geo.name}': pack = {pack} "
                           f"{'taps' if option.stationary == 'weights' else 'positions'} of "
                           f"{geo.out_channels} lanes at {c} columns do not fit one row; use "
                           f"pack <= {max_pack(geo, option.stationary, c, hw)}")
    v_rows, w_rows = math.ceil(geo.v_bits / c), math.ceil(geo.w_bits / c)
    n_cg = math.ceil(geo.out_channels / lanes)
    per_group = min(geo.out_channels, lanes)
    if option.stationary == "weights":
        n_blocks = math.ceil(geo.taps / pack)
        groups, rows = geo.in_channels * n_blocks * n_cg, w_rows
        memory_groups = geo.out_positions * n_cg
    else:
        n_blocks = math.ceil(geo.out_hw[1] / pack)
        groups, rows = geo.out_hw[0] * n_blocks * n_cg, v_rows
        memory_groups = geo.in_channels * geo.taps * n_cg
    return OptionGeometry(option, v_rows, w_rows, lanes, n_cg, per_group, n_blocks, groups,
                          rows, memory_groups, w_rows + v_rows)


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


def spread_order(n_total: int) -> np.ndarray:
    """Rank of each of ``n_total`` indices in an evenly spreading order: index i is at
    ``floor(v_j n)`` for the j-th term ``v_j`` of the base-2 van der Corput sequence (0, 1/2,
    1/4, 3/4, 1/8, ...), each index at its first occurrence. Every prefix of the order is
    spread over the range (within a factor two of the even spacing), and the first k indices
    are a subset of the first k + 1."""
    n = int(n_total)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    m = max(int(n - 1).bit_length(), 0)
    j = np.arange(1 << m, dtype=np.int64)
    rev = np.zeros_like(j)
    for b in range(m):                                   # bit reversal of j over m bits
        rev |= ((j >> b) & 1) << (m - 1 - b)
    idx = (rev * n) >> m                                 # floor(v_j n), v_j = rev / 2^m
    _, first = np.unique(idx, return_index=True)         # every index occurs (2^m >= n)
    rank = np.empty(n, dtype=np.int64)
    rank[idx[np.sort(first)]] = np.arange(n, dtype=np.int64)
    return rank


def spread_mask(n_total: int, n_selected: int) -> np.ndarray:
    """Boolean mask selecting the first ``n_selected`` of ``n_total`` indices in
    :func:`spread_order`: evenly spread, and nested (selecting one more never drops one).

    Used for which row groups stay resident and which off-array groups sit in the buffer, so
    that activity that varies across channels or positions meets each level in proportion; the
    nesting keeps more arrays or more buffer from moving any group's accesses back to DRAM.
    """
    n, k = int(n_total), int(n_selected)
    if not 0 <= k <= n:
        raise ValueError(f"spread_mask: cannot select {k} of {n}")
    return spread_order(n) < k


def units_per_event(geo: LayerGeometry, og: OptionGeometry) -> float:
    """Mean row-operation groups (units) one input event causes, over uniformly placed events:
    WS: tap blocks holding a valid tap; OS: x blocks hit; times the channel groups."""
    return _units_per_event(geo.kernel, geo.stride, geo.padding, geo.in_hw, geo.out_hw,
                            og.pack, og.option.stationary == "weights") * og.n_cg


def event_targets(kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                  in_hw: tuple[int, int], out_hw: tuple[int, int]
                  ) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """For every kernel tap (row-major), the input positions (flat ``y * w + x``) whose events
    reach an output through it, and those outputs' ``oy``, ``ox``."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    (h, w), (oh, ow) = in_hw, out_hw
    ys, xs = np.divmod(np.arange(h * w), w)
    out = []
    for i in range(kh):
        for j in range(kw):
            ny, nx = ys + ph - i, xs + pw - j
            ok = (ny >= 0) & (nx >= 0) & (ny % sh == 0) & (nx % sw == 0)
            ok &= (ny // sh < oh) & (nx // sw < ow)
            idx = np.flatnonzero(ok)
            out.append((i * kw + j, idx, ny[idx] // sh, nx[idx] // sw))
    return out


@functools.lru_cache(maxsize=4096)
def _units_per_event(kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                     in_hw: tuple[int, int], out_hw: tuple[int, int], pack: int,
                     ws: bool) -> float:
    (kh, kw), (h, w), (oh, ow) = kernel, in_hw, out_hw
    n_xb = -(-ow // pack)
    n_blocks = -(-(kh * kw) // pack) if ws else oh * n_xb
    hit = np.zeros((h * w, n_blocks), dtype=bool)
    for tap, idx, oy, ox in event_targets(kernel, stride, padding, in_hw, out_hw):
        block = np.full(idx.size, tap // pack) if ws else oy * n_xb + ox // pack
        hit[idx, block] = True
    return float(hit.sum()) / (h * w)

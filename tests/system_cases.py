"""Shared cases for the system-engine tests: hardware variants, mappings written field by field,
small hand-checkable networks, and hypothesis strategies of mapped networks."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from hypothesis import assume, event
from hypothesis import strategies as st
from strategies import _neuron_fields as neuron_fields
from strategies import int_networks, spike_inputs

from flexspim.compile import POLICIES, LayerMapping, Mapping, Tile, compile_network
from flexspim.compile.geometry import (
    Option,
    layer_geometry,
    max_pack,
    network_geometry,
    option_geometry,
)
from flexspim.compile.groups import layer_bits
from flexspim.compile.placement import PLACEMENTS
from flexspim.energy.counts import COUNT_FIELDS
from flexspim.errors import MappingError
from flexspim.hw import Hardware, default_hardware
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear


def hw_with(n_macros: int = 2, rows: int = 512, cols: int = 256, *, dram: bool = True,
            **system) -> Hardware:
    """The default hardware with ``n_macros`` macros of ``rows x cols``, DRAM on or off and
    other ``system`` fields (``buffer_kib=...``)."""
    hw = default_hardware()
    sysp = dataclasses.replace(hw.system, n_macros=n_macros,
                               dram=dataclasses.replace(hw.system.dram, enabled=dram), **system)
    return hw.with_(macro=dataclasses.replace(hw.macro, rows=rows, cols=cols), system=sysp)


def with_controller(hw: Hardware, **rules) -> Hardware:
    """``hw`` with controller rules changed (``scratch_reuse=False``, ...)."""
    ctl = dataclasses.replace(hw.system.controller, **rules)
    return hw.with_(system=dataclasses.replace(hw.system, controller=ctl))


def hand_layer(net: IntNetwork, index: int, hw: Hardware, stationary: str, cols: int, *,
               tiles: Sequence[tuple[int, int, int]] = (), home: int = 0, pack: int = 1,
               streamed_buffer: int = 0, spilled_buffer: int = 0) -> LayerMapping:
    """A layer mapping written field by field: ``tiles`` are (macro, first row, groups)."""
    geo = layer_geometry(net, index)
    og = option_geometry(geo, Option(stationary, cols, pack), hw)
    tl = tuple(Tile(m, r, r + g * og.rows_per_group, 0, og.lane_cols, g) for m, r, g in tiles)
    resident = sum(t.groups for t in tl)
    bits = layer_bits(geo, og, resident, streamed_buffer, spilled_buffer)
    return LayerMapping(
        name=geo.name, index=index, stationary=stationary, cols=cols,
        weight_shape=(og.w_rows, cols), membrane_shape=(og.v_rows, cols), lanes=og.lanes,
        n_weights=geo.n_weights, n_neurons=geo.n_neurons, w_bits=geo.w_bits, v_bits=geo.v_bits,
        groups=og.groups, rows_per_group=og.rows_per_group,
        resident_groups=resident, resident_bits=bits[0], tiles=tl, home_macro=home, pack=pack,
        group_lanes=og.group_lanes, memory_groups=og.memory_groups,
        streamed_buffer_groups=streamed_buffer, spilled_buffer_groups=spilled_buffer,
        streamed_buffer_bits=bits[1], spilled_buffer_bits=bits[2])


def hand_mapping(net: IntNetwork, hw: Hardware, *layers: LayerMapping,
                 scratch_rows: int = 2) -> Mapping:
    return Mapping(policy="hand", n_macros=hw.system.n_macros, rows=hw.macro.rows,
                   cols=hw.macro.cols, scratch_rows=scratch_rows, layers=tuple(layers),
                   network=net.name)


def totals(run, macro: int | None = None, phase: int | None = None) -> dict[str, float]:
    """``{field: total}`` of a run's counts, optionally of one macro and/or phase."""
    d = run.counts.data
    if phase is not None:
        d = d[:, :, :, phase:phase + 1]
    if macro is not None:
        d = d[:, :, :, :, macro:macro + 1]
    return dict(zip(COUNT_FIELDS, d.sum(axis=(0, 1, 2, 3, 4)).tolist(), strict=True))


def nonzero(counts: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in counts.items() if v}


def tiny() -> IntNetwork:
    """4 inputs -> 3 IF neurons, all weights 1, threshold 1, subtract reset."""
    return IntNetwork(input_shape=(4,), layers=(
        Linear(name="fc", weight=np.ones((3, 4), dtype=np.int64), w_bits=4, v_bits=8,
               threshold=1),), name="tiny")


def tiny_inputs(*extra: tuple[int, int]) -> np.ndarray:
    x = np.zeros((2, 1, 4), dtype=np.int64)  # [T, N, 4]
    x[0, 0, :2] = 1   # t0: 2 events -> every membrane 2 -> spike, membrane 1
    x[1, 0, 3] = 1    # t1: 1 event  -> every membrane 2 -> spike again
    for t, q in extra:
        x[t, 0, q] = 1
    return x


def two_layer() -> IntNetwork:
    """a: 4 -> 3, b: 3 -> 3, all weights 1, threshold 1: every neuron of a spikes at t0 and t1
    of :func:`tiny_inputs`, so b gets 3 events per timestep, one from each neuron of a."""
    one = dict(w_bits=4, v_bits=8, threshold=1)
    return IntNetwork(input_shape=(4,), layers=(
        Linear(name="a", weight=np.ones((3, 4), dtype=np.int64), **one),
        Linear(name="b", weight=np.ones((3, 3), dtype=np.int64), **one)), name="two")


def conv_net() -> IntNetwork:
    rng = np.random.default_rng(3)
    return IntNetwork(input_shape=(2, 8, 8), layers=(
        Conv2d(name="c1", weight=rng.integers(-3, 4, (8, 2, 3, 3)), w_bits=3, v_bits=10,
               threshold=3, padding=(1, 1)),
        Conv2d(name="c2", weight=rng.integers(-3, 4, (16, 8, 3, 3)), w_bits=3, v_bits=10,
               threshold=3, stride=(2, 2), padding=(1, 1)),
        Flatten(name="flat"),
        Linear(name="fc", weight=rng.integers(-3, 4, (4, 256)), w_bits=3, v_bits=10,
               threshold=2)), name="conv")


def conv_inputs(n: int = 3, t: int = 4, seed: int = 0, density: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).random((t, n, 2, 8, 8)) < density).astype(np.int64)


@st.composite
def conv_networks(draw: st.DrawFn) -> IntNetwork:
    """1-2 convolutions of 1-3 channels (room for lane packing) then a linear layer."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape: tuple[int, ...] = (draw(st.integers(1, 2)), draw(st.integers(3, 7)),
                              draw(st.integers(3, 7)))
    input_shape = shape
    layers: list = []
    for i in range(draw(st.integers(1, 2))):
        c, h, w = shape
        ph, pw = draw(st.integers(0, 1)), draw(st.integers(0, 1))
        kh, kw = draw(st.integers(1, min(3, h + 2 * ph))), draw(st.integers(1, min(3, w + 2 * pw)))
        c_out = draw(st.integers(1, 3))
        stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        oh, ow = (h + 2 * ph - kh) // stride[0] + 1, (w + 2 * pw - kw) // stride[1] + 1
        layers.append(Conv2d(name=f"conv{i}", stride=stride, padding=(ph, pw),
                             **neuron_fields(draw, rng, (c_out, c, kh, kw), (c_out, oh, ow),
                                             c * kh * kw, leaky=True)))
        shape = layers[-1].output_shape(shape)
    layers.append(Flatten(name="flatten"))
    n_in = int(np.prod(shape))
    layers.append(Linear(name="fc", **neuron_fields(draw, rng, (3, n_in), (3,), n_in,
                                                    leaky=True)))
    return IntNetwork(input_shape=input_shape, layers=tuple(layers), name="conv")


@st.composite
def mapped_cases(draw: st.DrawFn):
    """(network, inputs, mapping, hardware) over small macros (rows 24-96, cols 16-64), 1-3
    macros, every controller rule, buffers of 0 (none), 0.05 and 1 KiB with DRAM on, forced
    stationarity and shapes on some layers (lane widths down to 1 column, so membranes and
    weights span several rows; lane packing up to the row's width), policies and placements.

    The network and inputs shrink as hypothesis draws them; the mapping's choices come from a
    generator seeded by hypothesis, so that every policy, rule and shape is drawn as often as
    the others (hypothesis would favour the first of each list)."""
    net = draw(st.one_of(int_networks(leaky=True), conv_networks()))
    x = draw(spike_inputs(net))
    # seeded by a drawn integer and by the example itself, so repeated seeds still differ
    rng = np.random.default_rng([draw(st.integers(0, 2**32 - 1)), x.size, int(x.sum()),
                                 *(int(np.sum(la.weight)) % 2**31 for la in net.spiking_layers)])

    def pick(options: Sequence):
        return options[int(rng.integers(len(options)))]

    rows, cols = pick([24, 32, 48, 96]), pick([16, 32, 64])
    hw = with_controller(hw_with(int(rng.integers(1, 4)), rows, cols,
                                 buffer_kib=pick([0.0, 0.05, 1.0])),
                         scratch_reuse=bool(rng.integers(2)),
                         event_order=pick(["arrival", "target"]), compare=pick(["all", "active"]),
                         scratch_slices=pick(["auto", 1, 2, 3]))
    shapes, stationary = {}, {}
    for g in network_geometry(net):
        fits = [c for c in range(1, cols + 1) if -(-g.v_bits // c) + -(-g.w_bits // c) <= rows]
        assume(fits)
        if rng.random() < 0.7:
            stationary[g.name] = pick(["weights", "membranes"])
        if g.name in stationary and rng.random() < 0.8:
            multi = [c for c in fits if c < g.v_bits]       # membranes of several rows
            c = pick(multi if multi and rng.random() < 0.5 else fits)
            top = max_pack(g, stationary[g.name], c, hw)
            shapes[g.name] = (c, int(rng.integers(2, top + 1)) if top > 1 and rng.random() < 0.7
                              else 1)
    policy = pick(POLICIES)
    try:
        m = compile_network(net, hw, policy=policy, stationary=stationary, shapes=shapes,
                            placement=pick(PLACEMENTS))
    except MappingError:
        assume(False)
    # what the examples cover (shown by pytest --hypothesis-show-statistics)
    event(f"policy {policy}, {hw.system.n_macros} macro(s)")
    event(f"multi-row membranes: {any(lm.membrane_shape[0] > 1 for lm in m.layers)}")
    event(f"multi-row weights: {any(lm.weight_shape[0] > 1 for lm in m.layers)}")
    event(f"lane packing: {any(lm.pack > 1 for lm in m.layers)}")
    event(f"spilled groups: {any(lm.resident_groups < lm.groups for lm in m.layers)}")
    event(f"leaky layers: {any(la.leak is not None for la in net.spiking_layers)}")
    return net, x, m, hw

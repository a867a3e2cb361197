"""Hypothesis strategies: random small integer networks and random binned spike inputs.

The networks cover every layer type (conv2d with kernels 1-3, stride 1-2, padding 0-1; spike
max-pool; flatten; linear), weight widths 1-32 and membrane widths 2-32, both reset modes, initial
membranes sometimes, with ``leaky=True`` leaks (none, shift or constant, their whole range and
its edges; off by default, for the engines that do not execute leaks yet), and weights/thresholds
drawn so that spikes happen and, with narrow membranes, membranes wrap (overflow). Arrays come from a NumPy generator seeded by hypothesis, so
examples stay small to describe and shrink by their parameters.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from flexspim.net import Conv2d, Flatten, IntNetwork, Leak, Linear, SpikeMaxPool, int_range


def leaks(v_bits: int, typical: int = 1) -> st.SearchStrategy[Leak | None]:
    """No leak, or a shift k in [1, v_bits - 1] or a constant c in [1, 2**(v_bits-1) - 1]: the
    edges of each range, a value near ``typical`` (a threshold) and anything between."""
    hi = (1 << (v_bits - 1)) - 1
    shift = st.one_of(st.sampled_from([1, v_bits - 1]), st.integers(1, v_bits - 1))
    const = st.one_of(st.sampled_from([1, hi, max(1, min(hi, typical // 4))]),
                      st.integers(1, hi))
    return st.one_of(st.none(), st.builds(Leak, st.just("shift"), shift),
                     st.builds(Leak, st.just("constant"), const))


def _neuron_fields(draw: st.DrawFn, rng: np.random.Generator, shape: tuple[int, ...],
                   out_shape: tuple[int, ...], fan_in: int, leaky: bool = False) -> dict:
    w_bits = draw(st.integers(1, 32))
    v_bits = draw(st.integers(max(2, w_bits), 32))
    wlo, whi = int_range(w_bits)
    # magnitude: the full weight range (overflows narrow membranes) or a small one
    mag = draw(st.sampled_from(["full", "small"]))
    if mag == "small" and w_bits > 1:
        q = max(1, whi // 8)
        wlo, whi = -q, q
    # bias towards positive weights sometimes, so that deep layers still spike
    lo_eff = draw(st.sampled_from([wlo, wlo // 2, 0, 0])) if whi > 0 else wlo
    weight = rng.integers(lo_eff, whi + 1, size=shape, dtype=np.int64)
    vlo, vhi = int_range(v_bits)
    typical = max(1, min(vhi, int(max(abs(wlo), whi) * max(1, fan_in) // 8)))
    thr = draw(st.sampled_from(["one", "one", "typical", "any"]))
    threshold = {"one": 1, "typical": typical,
                 "any": int(rng.integers(1, vhi + 1))}[thr]
    init = None
    if draw(st.booleans()) and draw(st.booleans()):
        init = rng.integers(vlo, vhi + 1, size=out_shape, dtype=np.int64)
    return dict(weight=weight, w_bits=w_bits, v_bits=v_bits, threshold=threshold,
                reset=draw(st.sampled_from(["subtract", "zero"])), initial_membrane=init,
                leak=draw(leaks(v_bits, threshold)) if leaky else None)


@st.composite
def int_networks(draw: st.DrawFn, max_feature_layers: int = 3, max_linear: int = 2,
                 leaky: bool = False) -> IntNetwork:
    """A random valid :class:`IntNetwork` (input 1-3 channels of up to 7x7, or a flat input);
    ``leaky``: spiking layers may leak."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layers: list = []
    flat_input = draw(st.integers(0, 5)) == 0
    if flat_input:
        shape: tuple[int, ...] = (draw(st.integers(1, 12)),)
    else:
        shape = (draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    input_shape = shape
    if not flat_input:
        for i in range(draw(st.integers(0, max_feature_layers))):
            c, h, w = shape
            kind = draw(st.sampled_from(["conv", "conv", "pool"]))
            if kind == "pool" and min(h, w) >= 2:
                k = draw(st.integers(1, min(2, h, w)))
                s = draw(st.integers(1, 2))
                layer = SpikeMaxPool(name=f"pool{i}", kernel=(k, k), stride=(s, s))
            else:
                ph, pw = draw(st.integers(0, 1)), draw(st.integers(0, 1))
                kh = draw(st.integers(1, min(3, h + 2 * ph)))
                kw = draw(st.integers(1, min(3, w + 2 * pw)))
                stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
                c_out = draw(st.integers(1, 4))
                oh = (h + 2 * ph - kh) // stride[0] + 1
                ow = (w + 2 * pw - kw) // stride[1] + 1
                layer = Conv2d(name=f"conv{i}", stride=stride, padding=(ph, pw),
                               **_neuron_fields(draw, rng, (c_out, c, kh, kw), (c_out, oh, ow),
                                                c * kh * kw, leaky))
            layers.append(layer)
            shape = layer.output_shape(shape)
        n_linear = draw(st.integers(0 if layers else 1, max_linear))
        if n_linear:
            layers.append(Flatten(name="flatten"))
            shape = (int(np.prod(shape)),)
        elif not layers or not isinstance(layers[-1], Conv2d):
            n_linear = 1
            layers.append(Flatten(name="flatten"))
            shape = (int(np.prod(shape)),)
    else:
        n_linear = draw(st.integers(1, max_linear))
    for j in range(n_linear):
        out = draw(st.integers(1, 6))
        layers.append(Linear(name=f"fc{j}", **_neuron_fields(draw, rng, (out, shape[0]), (out,),
                                                              shape[0], leaky)))
        shape = (out,)
    return IntNetwork(input_shape=input_shape, layers=tuple(layers), name="random")


@st.composite
def spike_inputs(draw: st.DrawFn, net: IntNetwork, max_t: int = 4, max_n: int = 3) -> np.ndarray:
    """Binned spikes ``[T, N, *net.input_shape]``: sparse to dense, counts up to 3 sometimes."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_t, n = draw(st.integers(1, max_t)), draw(st.integers(1, max_n))
    density = draw(st.sampled_from([0.0, 0.1, 0.3, 0.7, 1.0]))
    max_count = draw(st.sampled_from([1, 1, 3]))
    shape = (n_t, n, *net.input_shape)
    counts = rng.integers(1, max_count + 1, size=shape)
    return np.where(rng.random(shape) < density, counts, 0).astype(np.int64)


@st.composite
def networks_and_inputs(draw: st.DrawFn, **kwargs: int | bool
                        ) -> tuple[IntNetwork, np.ndarray]:
    """A random network and random inputs for it."""
    net = draw(int_networks(**kwargs))
    return net, draw(spike_inputs(net))

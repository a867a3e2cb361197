"""Proof that a layer's membranes cannot overflow (docs/design.md §3 "Overflow").

For every spiking layer, bound the membrane right after integration (the value the adder
writes, before the threshold compare) over ``T`` timesteps, with exact integers. Per output
channel ``o`` and timestep the input adds at most ``P_o = m * sum(max(w, 0))`` and at least
``N_o = m * sum(min(w, 0))`` over its weights, where ``m`` is the most events one input can
carry per timestep (``max_input_count`` for the network input, 1 for spikes). Starting from the
initial membrane range ``[a, b]``:

    peak_hi(t) = after_hi(t-1) + P          peak_lo(t) = after_lo(t-1) + N
    after_hi(t) = max(min(peak_hi, thr - 1), peak_hi - thr)    (subtract reset)
                = max(min(peak_hi, thr - 1), 0)                 (zero reset)
    after_lo(t) = min(peak_lo, 0)

A layer can overflow only if some ``peak`` leaves ``[-2**(v-1), 2**(v-1) - 1]``; otherwise no
input of that size can make it wrap within ``T`` timesteps (a proof, not a test).
"""

from __future__ import annotations

from dataclasses import dataclass

from flexspim.errors import ConfigError
from flexspim.net.layers import SpikingLayer, int_range
from flexspim.net.network import IntNetwork


@dataclass(frozen=True)
class OverflowBound:
    """Bounds ``[lo, hi]`` of a layer's integrated membranes over ``n_timesteps`` timesteps."""

    layer: str
    v_bits: int
    lo: int
    hi: int
    n_timesteps: int

    @property
    def can_overflow(self) -> bool:
        """True unless the bounds prove the ``v_bits`` adder never wraps."""
        vmin, vmax = int_range(self.v_bits)
        return self.lo < vmin or self.hi > vmax

    @property
    def headroom_bits(self) -> int:
        """Smallest membrane width that the bounds prove safe."""
        bits = 2
        while True:
            vmin, vmax = int_range(bits)
            if vmin <= self.lo and self.hi <= vmax:
                return bits
            bits += 1


def _bound(layer: SpikingLayer, m: int, n_timesteps: int) -> OverflowBound:
    w = layer.weight.reshape(layer.weight.shape[0], -1).astype(object)
    pos = max(int(sum(max(int(x), 0) for x in row)) for row in w) * m
    neg = min(int(sum(min(int(x), 0) for x in row)) for row in w) * m
    init = layer.initial_membrane
    a = int(init.min()) if init is not None and init.size else 0
    b = int(init.max()) if init is not None and init.size else 0
    thr = int(layer.threshold)
    after_hi, after_lo = b, a
    lo, hi = a, b
    for _ in range(n_timesteps):
        peak_hi, peak_lo = after_hi + pos, after_lo + neg
        hi, lo = max(hi, peak_hi), min(lo, peak_lo)
        if layer.reset == "subtract":
            after_hi = max(min(peak_hi, thr - 1), peak_hi - thr)
        else:
            after_hi = max(min(peak_hi, thr - 1), 0)
        after_lo = min(peak_lo, 0)
    return OverflowBound(layer.name, int(layer.v_bits), lo, hi, n_timesteps)


def overflow_bounds(net: IntNetwork, n_timesteps: int,
                    max_input_count: int = 1) -> tuple[OverflowBound, ...]:
    """Bounds of every spiking layer's integrated membranes over ``n_timesteps`` timesteps when
    no network input carries more than ``max_input_count`` events per timestep."""
    if int(n_timesteps) < 1 or int(max_input_count) < 0:
        raise ConfigError(f"overflow_bounds: n_timesteps = {n_timesteps} must be >= 1 and "
                          f"max_input_count = {max_input_count} >= 0")
    out = []
    m = int(max_input_count)
    for layer in net.layers:
        if isinstance(layer, SpikingLayer):
            out.append(_bound(layer, m, int(n_timesteps)))
            m = 1  # spikes are binary; pooling ORs them, flatten passes them on
    return tuple(out)



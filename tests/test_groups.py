"""Row-group sizes and the choice of groups (flexspim.compile.groups), and what exact bit
counts guarantee: the buffer is never overfilled and the ILP objective bounds every policy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexspim.compile import POLICIES, Activity, compile_network
from flexspim.compile.geometry import Option, layer_geometry, option_geometry, spread_mask
from flexspim.compile.groups import (
    fitting_groups,
    largest_first,
    memory_group_bits,
    resident_bits_pieces,
    select_groups,
    stationary_group_bits,
)
from flexspim.compile.program import build_program
from flexspim.compile.rules import BITS_PER_KIB
from flexspim.errors import MappingError
from flexspim.hw import default_hardware
from flexspim.mapped import estimate_cost
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear

sizes = st.lists(st.sampled_from([3, 5, 8, 8, 8, 12]), min_size=0, max_size=40)


@settings(max_examples=60, deadline=None)
@given(bits=sizes, data=st.data())
def test_choice_takes_the_largest_groups_and_spreads_equal_ones(bits, data) -> None:
    bits = np.array(bits, dtype=np.int64)
    k = data.draw(st.integers(0, bits.size))
    mask = select_groups(bits, k)
    assert mask.sum() == k
    assert bits[mask].sum() == largest_first(bits)[k]
    if 0 < k < bits.size:
        assert bits[mask].min() >= bits[~mask].max()
    # the concave pieces give exactly the bits of the k largest groups, for every k
    pieces = resident_bits_pieces(bits)
    for kk in range(bits.size + 1):
        assert min((a + b * kk for a, b in pieces), default=0.0) == largest_first(bits)[kk]
    cap = data.draw(st.integers(0, int(bits.sum()) + 5))
    n = fitting_groups(bits, cap)
    assert largest_first(bits)[n] <= cap
    assert n == bits.size or largest_first(bits)[n + 1] > cap


def test_equal_groups_are_evenly_spread() -> None:
    mask = select_groups(np.full(12, 7), 4)
    assert list(np.flatnonzero(mask)) == [0, 3, 6, 9]
    # the partial channel groups (every third) go last
    mask = select_groups(np.tile([8, 8, 3], 4), 8)
    assert mask.reshape(4, 3)[:, :2].all() and not mask.reshape(4, 3)[:, 2].any()


@settings(max_examples=80, deadline=None)
@given(n=st.integers(0, 300), data=st.data())
def test_one_more_group_never_drops_a_chosen_one(n: int, data) -> None:
    """The choice is nested: with one more group resident or buffered, every group chosen
    before still is (otherwise more arrays or more buffer could send a busy group's accesses
    back to DRAM). Equal groups stay spread: no gap between chosen ones exceeds twice the
    even spacing."""
    k = data.draw(st.integers(0, n))
    a, b = spread_mask(n, k), spread_mask(n, min(k + 1, n))
    assert a.sum() == k and not (a & ~b).any()
    if k >= 2:
        idx = np.flatnonzero(a)
        gaps = np.diff(np.concatenate((idx, [idx[0] + n])))
        assert gaps.max() <= 2 * -(-n // k), (n, k, idx)


def test_group_bits_add_up_to_the_operands() -> None:
    net = _partial_net()
    hw = _small_hw()
    geo = layer_geometry(net, 0)
    for st_, pack in (("membranes", 1), ("weights", 1)):
        og = option_geometry(geo, Option(st_, 2, pack), hw)
        assert stationary_group_bits(geo, og).sum() == geo.operand_bits(st_)
        assert memory_group_bits(geo, og).sum() == geo.streamed_bits(st_)
        assert len(set(stationary_group_bits(geo, og))) == 2     # a partial channel group


def _partial_net() -> IntNetwork:
    """38 output channels: 8 lanes of 2 columns leave a partial last channel group."""
    return IntNetwork(input_shape=(1, 4, 4), layers=(
        Conv2d(name="c0", weight=np.ones((38, 1, 3, 3), dtype=np.int64), w_bits=11, v_bits=17,
               threshold=1, padding=(1, 1)),
        Flatten(name="flat"),
        Linear(name="fc", weight=np.zeros((1, 608), dtype=np.int64), w_bits=4, v_bits=12,
               threshold=1)), name="partial")


def _small_hw():
    hw = default_hardware()
    return hw.with_(macro=dataclasses.replace(hw.macro, rows=32, cols=16),
                    system=dataclasses.replace(hw.system, n_macros=1, buffer_kib=1.0))


def test_partial_groups_never_overfill_the_buffer_and_the_ilp_bounds_every_policy() -> None:
    """Groups of unequal size: the bits the buffer holds, counted from the executed program's
    tables, fit its capacity, and the ILP objective stays below every fixed policy's estimated
    energy without routing."""
    net, hw = _partial_net(), _small_hw()
    act = Activity.from_sparsity(net, input_sparsity=0.5, n_timesteps=5)
    maps = {p: compile_network(net, hw, policy=p, activity=act) for p in POLICIES}
    for m in maps.values():
        prog = build_program(net, m, hw)
        held = sum(float(lp.stat_bits[lp.stat_macro < 0] @ lp.stat_buffered[lp.stat_macro < 0])
                   + float(lp.mem_bits @ lp.mem_buffered) for lp in prog.layers)
        assert held <= hw.system.buffer_kib * BITS_PER_KIB
        assert held == sum(lm.streamed_buffer_bits + lm.spilled_buffer_bits for lm in m.layers)
    ilp = maps["optimal"].search["ilp_objective_pj"]
    for p in ("ws", "os", "hs-min"):
        rep = estimate_cost(net, maps[p], hw, act)
        assert ilp <= rep.total_energy_pj - rep.total_pj["routing"]
    assert maps["optimal"].search["estimated_energy_pj"] == pytest.approx(ilp, rel=0.02)


def test_recorded_bits_that_the_groups_do_not_hold_are_refused() -> None:
    net, hw = _partial_net(), _small_hw()
    m = compile_network(net, hw, policy="os")
    lm = dataclasses.replace(m.layers[0], resident_bits=m.layers[0].resident_bits + 1)
    bad = dataclasses.replace(m, layers=(lm, *m.layers[1:]))
    with pytest.raises(MappingError, match=r"\[network-match\] layer 'c0'.*recompile"):
        build_program(net, bad, hw)

"""Bit-sliced macro addition and leak (flexspim.macro.bitslice) against the per-cell macro model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexspim.errors import OperandError
from flexspim.macro import in_memory_add, in_memory_leak, leak_operand_bits, leak_range
from flexspim.macro.bitslice import (
    ALL_LANES,
    LEAK_CODES,
    add_planes,
    bitsliced_add,
    bitsliced_leak,
    from_planes,
    lane_masks,
    leak_planes,
    to_planes,
)


def _values(rng: np.random.Generator, bits: int, n: int) -> np.ndarray:
    if bits == 64:
        return rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64, endpoint=True)
    return rng.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1, n, dtype=np.int64,
                        endpoint=True)


@settings(max_examples=300, deadline=None)
@given(v_bits=st.integers(2, 64), data=st.data(), n=st.integers(0, 200),
       seed=st.integers(0, 2**32 - 1))
def test_bitsliced_add_equals_the_per_cell_model(v_bits: int, data: st.DataObject, n: int,
                                                 seed: int) -> None:
    """Membranes, overflow directions and every counter equal in_memory_add's, for any widths,
    operand shapes (columns per lane) and lane counts (several words, partial last word)."""
    w_bits = data.draw(st.integers(1, v_bits))
    cols = data.draw(st.one_of(st.none(), st.integers(1, v_bits)))
    rng = np.random.default_rng(seed)
    m, w = _values(rng, v_bits, n), _values(rng, w_bits, n)
    try:
        want = in_memory_add(m, w, v_bits=v_bits, w_bits=w_bits, cols=cols)
    except OperandError as exc:  # too many lanes for the macro at this shape: same error
        with pytest.raises(OperandError) as got:
            bitsliced_add(m, w, v_bits=v_bits, w_bits=w_bits, cols=cols)
        assert str(got.value) == str(exc)
        return
    got = bitsliced_add(m, w, v_bits=v_bits, w_bits=w_bits, cols=cols)
    np.testing.assert_array_equal(got.membranes, want.membranes)
    np.testing.assert_array_equal(got.overflow, want.overflow)
    assert got.counters == want.counters


def test_extreme_values_wrap_both_ways() -> None:
    m = np.array([32767, -32768, 32767, -32768, 0, -1])
    w = np.array([1, -1, 32767, -32768, -32768, -1])
    res = bitsliced_add(m, w, v_bits=16, w_bits=16)
    assert res.membranes.tolist() == [-32768, 32767, -2, 0, -32768, -2]
    assert res.overflow.tolist() == [1, -1, 1, -1, 0, 0]


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), v_bits=st.integers(2, 40))
def test_inactive_lanes_keep_their_membranes(seed: int, v_bits: int) -> None:
    """add_planes writes back only the active lanes; the others keep every bit."""
    rng = np.random.default_rng(seed)
    w_bits = int(rng.integers(1, v_bits + 1))
    m, w = _values(rng, v_bits, 64), _values(rng, w_bits, 64)
    active = np.uint64(int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2)))
    planes = to_planes(m, v_bits)[0].copy()
    ovf, _ = add_planes(planes, 0, to_planes(w, w_bits)[0], 0, w_bits, v_bits, active)
    on = np.array([(int(active) >> i) & 1 for i in range(64)], dtype=bool)
    got = from_planes(planes[None, :], v_bits, 64)
    full = in_memory_add(m, w, v_bits=v_bits, w_bits=w_bits)
    np.testing.assert_array_equal(got[on], full.membranes[on])
    np.testing.assert_array_equal(got[~on], m[~on])
    assert int(ovf) & ~int(active) == 0


def test_planes_round_trip_and_masks() -> None:
    vals = np.array([-(2**63), 2**63 - 1, -1, 0, 5] * 30, dtype=np.int64)
    np.testing.assert_array_equal(from_planes(to_planes(vals, 64), 64, vals.size), vals)
    small = np.array([-4, 3, -1, 0])
    np.testing.assert_array_equal(from_planes(to_planes(small, 3), 3, 4), small)
    assert lane_masks(64).tolist() == [int(ALL_LANES)]
    assert lane_masks(70).tolist() == [int(ALL_LANES), 63]


@settings(max_examples=200, deadline=None)
@given(v_bits=st.integers(2, 64), data=st.data(), n=st.integers(0, 200),
       seed=st.integers(0, 2**32 - 1))
def test_bitsliced_leak_equals_the_per_cell_model(v_bits: int, data: st.DataObject, n: int,
                                                  seed: int) -> None:
    """The leak on bit planes (periphery shift or compare-and-select, then add_planes):
    membranes, overflow flags (none) and counters equal in_memory_leak's, for every width,
    shape, operand rows, shift and constant (their edges included) and membrane edges."""
    kind = data.draw(st.sampled_from(["shift", "constant"]))
    lo, hi = leak_range(kind, v_bits)
    amount = data.draw(st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi)))
    cols = data.draw(st.one_of(st.none(), st.integers(1, v_bits)))
    c = v_bits if cols is None else cols
    least = -(-leak_operand_bits(kind, amount, v_bits) // c)
    rows = data.draw(st.one_of(st.none(), st.integers(least, -(-v_bits // c))))
    rng = np.random.default_rng(seed)
    m = _values(rng, v_bits, n)
    m[: min(n, 4)] = [-(1 << (v_bits - 1)), -1, 0, (1 << (v_bits - 1)) - 1][: min(n, 4)]
    kw = dict(kind=kind, amount=amount, v_bits=v_bits, cols=cols, operand_rows=rows)
    try:
        want = in_memory_leak(m, **kw)
    except OperandError as exc:  # too many lanes for the macro at this shape: same error
        with pytest.raises(OperandError) as got:
            bitsliced_leak(m, **kw)
        assert str(got.value) == str(exc)
        return
    got = bitsliced_leak(m, **kw)
    np.testing.assert_array_equal(got.membranes, want.membranes)
    np.testing.assert_array_equal(got.overflow, want.overflow)
    assert got.counters == want.counters and not got.overflow.any()


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), v_bits=st.integers(2, 40))
def test_leak_planes_leave_inactive_lanes(seed: int, v_bits: int) -> None:
    rng = np.random.default_rng(seed)
    m = _values(rng, v_bits, 64)
    active = np.uint64(int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2)))
    planes = to_planes(m, v_bits)[0].copy()
    leak_planes(planes, 0, v_bits, LEAK_CODES["shift"], 1, v_bits,
                np.zeros(v_bits, dtype=np.uint64), active)
    on = np.array([(int(active) >> i) & 1 for i in range(64)], dtype=bool)
    got = from_planes(planes[None, :], v_bits, 64)
    want = in_memory_leak(m, kind="shift", amount=1, v_bits=v_bits).membranes
    np.testing.assert_array_equal(got[on], want[on])
    np.testing.assert_array_equal(got[~on], m[~on])

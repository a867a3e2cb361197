"""The bit-level macro model: arithmetic, phases, counters, standby columns, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexspim.errors import OperandError
from flexspim.hw import MacroSpec
from flexspim.macro import (
    END,
    MID,
    STANDBY,
    START,
    Macro,
    MacroCounters,
    carry_chain,
    dual_wordline_read,
    in_memory_add,
    in_memory_leak,
    lane_codes,
    leak_cost,
    leak_operand_bits,
    leak_range,
    leak_row_group,
    overflow_direction,
    parse_lanes,
    precharge,
    single_wordline_read,
    sum_bits,
)


def wrap(x: int, bits: int) -> int:
    half = 1 << (bits - 1)
    return ((x + half) % (1 << bits)) - half


def expected(m: int, w: int, bits: int) -> tuple[int, int]:
    total = m + w
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return wrap(total, bits), (1 if total > hi else -1 if total < lo else 0)


@st.composite
def add_cases(draw: st.DrawFn) -> tuple[int, int, int, list[int], list[int]]:
    v_bits = draw(st.integers(1, 64))
    w_bits = draw(st.integers(1, v_bits))
    cols = draw(st.integers(1, v_bits))
    n = draw(st.integers(1, 40))

    def values(bits: int) -> st.SearchStrategy[int]:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return st.one_of(st.sampled_from([lo, hi, 0, -1, lo + 1, hi - 1][: 2 + 2 * (bits > 1)]),
                         st.integers(lo, hi))

    ms = draw(st.lists(values(v_bits), min_size=n, max_size=n))
    ws = draw(st.lists(values(w_bits), min_size=n, max_size=n))
    return v_bits, w_bits, cols, ms, ws


@settings(max_examples=150, deadline=None)
@given(add_cases())
def test_bit_level_addition_equals_integer_arithmetic(case: tuple) -> None:
    v_bits, w_bits, cols, ms, ws = case
    res = in_memory_add(ms, ws, v_bits=v_bits, w_bits=w_bits, cols=cols)
    exp = [expected(m, w, v_bits) for m, w in zip(ms, ws, strict=True)]
    assert res.membranes.dtype == np.int64
    assert res.membranes.tolist() == [e[0] for e in exp]
    assert res.overflow.dtype == np.int8
    assert res.overflow.tolist() == [e[1] for e in exp]
    assert res.counters.sops == len(ms)


def test_many_lanes_fill_the_macro() -> None:
    rng = np.random.default_rng(1)
    n = 4096  # 256 row groups of 16 lanes x (1 weight + 1 membrane row) = all 512 rows
    m = rng.integers(-(2**15), 2**15, n)
    w = rng.integers(-128, 128, n)
    out, counters = in_memory_add(m, w, v_bits=16, w_bits=8)
    assert np.array_equal(out, ((m + w + 2**15) % 2**16) - 2**15)
    assert counters.row_ops == 256 and counters.standby_col_phases == 0


def test_extremes_and_direction_of_overflow() -> None:
    res = in_memory_add([127, -128, 127, -128, 5], [1, -1, -128, 127, -7], v_bits=8, w_bits=8)
    assert res.membranes.tolist() == [-128, 127, -1, -1, -2]
    assert res.overflow.tolist() == [1, -1, 0, 0, 0]
    one = in_memory_add([0, -1, 0, -1], [0, 0, -1, -1], v_bits=1, w_bits=1)
    assert one.membranes.tolist() == [0, -1, -1, 0]
    assert one.overflow.tolist() == [0, 0, 0, -1]
    big = in_memory_add([2**63 - 1, -(2**63)], [1, -1], v_bits=64, w_bits=2, cols=7)
    assert big.membranes.tolist() == [-(2**63), 2**63 - 1]
    assert big.overflow.tolist() == [1, -1]


def test_shape_and_unpacking() -> None:
    m = np.arange(-6, 6).reshape(3, 4)
    w = np.ones((3, 4), dtype=np.int64) * -3
    membranes, counters = in_memory_add(m, w, v_bits=6, w_bits=3, cols=2)
    assert membranes.shape == (3, 4) and np.array_equal(membranes, m - 3)
    assert isinstance(counters, MacroCounters)
    empty = in_memory_add([], [], v_bits=8, w_bits=4)
    assert empty.membranes.size == 0 and empty.counters == MacroCounters()


# ----------------------------------------------------------------------------- phases

def test_dual_wordline_read_gives_and_nor() -> None:
    w = np.array([0, 0, 1, 1], dtype=np.uint8)
    m = np.array([0, 1, 0, 1], dtype=np.uint8)
    bl, blb = precharge(w.shape)
    assert bl.tolist() == [1, 1, 1, 1] and blb.tolist() == [1, 1, 1, 1]
    and_, nor = dual_wordline_read(bl, blb, w, m)
    assert and_.tolist() == [0, 0, 0, 1]
    assert nor.tolist() == [1, 0, 0, 0]
    s_and, s_nor = single_wordline_read(bl, blb, m, w)  # sign bit plays the weight
    assert s_and.tolist() == and_.tolist() and s_nor.tolist() == nor.tolist()


def test_carry_chain_and_sum_by_hand() -> None:
    # LSB first: w = 0b0111 (7), m = 0b0001 (1) in 4 bits: 7 + 1 = 8 -> 0b1000 (-8, overflow)
    w = np.array([[1, 1, 1, 0]], dtype=np.uint8)
    m = np.array([[1, 0, 0, 0]], dtype=np.uint8)
    bl, blb = precharge(w.shape)
    and_, nor = dual_wordline_read(bl, blb, w, m)
    c, c_out = carry_chain(and_, nor, np.zeros(1, dtype=np.uint8))
    assert c.tolist() == [[0, 1, 1, 1]] and c_out.tolist() == [0]
    s = sum_bits(and_, nor, c)
    assert s.tolist() == [[0, 0, 0, 1]]
    assert overflow_direction(c, c_out, s).tolist() == [1]
    # carry-in from the latch: 0 + 0 + 1 = 1, no carry out
    z = np.zeros((1, 3), dtype=np.uint8)
    c2, out2 = carry_chain(z, np.ones((1, 3), dtype=np.uint8), np.ones(1, dtype=np.uint8))
    assert c2.tolist() == [[1, 0, 0]] and out2.tolist() == [0]
    # -1 + -1 = -2: carries out, no overflow
    ones = np.ones((1, 4), dtype=np.uint8)
    a, n = dual_wordline_read(*precharge(ones.shape), ones, ones)
    c3, out3 = carry_chain(a, n, np.zeros(1, dtype=np.uint8))
    s3 = sum_bits(a, n, c3)
    assert s3.tolist() == [[0, 1, 1, 1]] and out3.tolist() == [1]
    assert overflow_direction(c3, out3, s3).tolist() == [0]


def test_control_codes_parse() -> None:
    codes = np.array([START, MID, END, STANDBY, END, START, END], dtype=np.uint8)
    starts, widths = parse_lanes(codes)
    assert starts.tolist() == [0, 4, 5] and widths.tolist() == [3, 1, 2]
    assert parse_lanes(lane_codes(3, 4, 2))[1].tolist() == [2, 2, 2]
    for bad in ([START, STANDBY], [MID, END], [START, START, END], [START, MID], [4]):
        with pytest.raises(OperandError):
            parse_lanes(np.array(bad))


# ----------------------------------------------------------------------------- counters

def test_counters_single_row_by_hand() -> None:
    c = in_memory_add([1, 2, 3, 4], [1, 1, 1, 1], v_bits=16, w_bits=8).counters
    assert c == MacroCounters(phases=5, row_ops=1, active_col_phases=5 * 64,
                              standby_col_phases=5 * (256 - 64), sops=4)


def test_counters_multi_segment_by_hand() -> None:
    # 20 lanes, 12-bit membranes at 5 columns: segments of 5, 5 and 2 columns, 1 row group
    c = in_memory_add(list(range(20)), [1] * 20, v_bits=12, w_bits=4, cols=5).counters
    active = 20 * 5 + 20 * 5 + 20 * 2
    assert c.row_ops == 3 and c.phases == 15
    assert c.active_col_phases == 5 * active
    assert c.standby_col_phases == 5 * (3 * 256 - active)
    # two row groups when one row holds fewer lanes: 3 lanes per row group
    c2 = in_memory_add([0] * 5, [0] * 5, v_bits=4, w_bits=4, cols=4, lanes_per_row=3).counters
    assert c2.row_ops == 2 and c2.active_col_phases == 5 * 4 * 5


def test_counters_add_and_dict() -> None:
    a = MacroCounters(phases=5, row_ops=1, sops=3)
    b = MacroCounters(row_reads=2, row_writes=1, sops=1)
    assert (a + b).as_dict() == {"phases": 5, "row_ops": 1, "active_col_phases": 0,
                                 "standby_col_phases": 0, "row_reads": 2, "row_writes": 1,
                                 "sops": 4}
    assert sum([a, b]) == a + b


def test_row_io_is_counted() -> None:
    mac = Macro(MacroSpec(rows=8, cols=16))
    row = np.arange(16) % 2
    mac.write_row(3, row)
    assert mac.read_row(3).tolist() == row.tolist()
    assert mac.counters.row_writes == 1 and mac.counters.row_reads == 1
    mac.reset_counters()
    assert mac.counters == MacroCounters()


# ----------------------------------------------------------------------------- row operations

@settings(max_examples=40, deadline=None)
@given(st.data())
def test_row_ops_one_by_one_equal_vectorised_add(data: st.DataObject) -> None:
    v_bits = data.draw(st.integers(2, 24))
    w_bits = data.draw(st.integers(1, v_bits))
    cols = data.draw(st.integers(1, v_bits))
    n = data.draw(st.integers(1, 12))
    ms = data.draw(st.lists(st.integers(-(1 << (v_bits - 1)), (1 << (v_bits - 1)) - 1),
                            min_size=n, max_size=n))
    ws = data.draw(st.lists(st.integers(-(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1),
                            min_size=n, max_size=n))
    spec = MacroSpec(rows=64, cols=32)
    lpr = 32 // cols
    fast = in_memory_add(ms, ws, v_bits=v_bits, w_bits=w_bits, cols=cols, spec=spec)

    mac = Macro(spec)
    block = mac.allocate(n, w_bits=w_bits, v_bits=v_bits, cols=cols)
    mac.write_weights(block, ws, count=False)
    mac.write_membranes(block, ms, count=False)
    wrows, mrows = block.weight_rows(), block.membrane_rows()
    ovf = []
    for g in range(block.groups):
        lanes = min(lpr, n - g * lpr)
        for k in range(block.v_rows):
            width = cols if k < block.v_rows - 1 else block.last_width
            mac.configure_lanes(lanes, cols, width=width)
            last = k == block.v_rows - 1
            o = mac.row_op(int(mrows[g, k]), int(wrows[g, k]) if k < block.w_rows else None,
                           first_segment=k == 0, last_segment=last)
            if last:
                ovf += o.tolist()
    assert mac.read_membranes(block, count=False).tolist() == fast.membranes.tolist()
    assert mac.read_weights(block, count=False).tolist() == ws  # additions leave weights
    assert ovf == fast.overflow.tolist()
    assert mac.counters == fast.counters


def test_standby_columns_and_other_rows_unchanged() -> None:
    rng = np.random.default_rng(3)
    mac = Macro(MacroSpec(rows=16, cols=64))
    for r in range(16):
        mac.write_row(r, rng.integers(0, 2, 64))
    before = mac.bits.copy()
    ctrl = np.zeros(64, dtype=np.uint8)
    ctrl[8:16] = lane_codes(2, 4)
    ctrl[40:43] = lane_codes(1, 3)
    mac.configure(ctrl)
    mac.row_op(5, 2)
    after = mac.bits
    standby = ctrl == STANDBY
    assert np.array_equal(after[:, standby], before[:, standby])
    others = np.arange(16) != 5
    assert np.array_equal(after[others], before[others])
    c = mac.counters
    assert c.active_col_phases == 5 * 11 and c.standby_col_phases == 5 * 53
    # the active columns hold weight row 2 + membrane row 5, lane by lane
    starts, widths = mac.lanes
    def val(row: np.ndarray, s0: int, wd: int) -> int:
        return sum(int(b) << i for i, b in enumerate(row[s0:s0 + wd].tolist()))

    for s0, wd in zip(starts.tolist(), widths.tolist(), strict=True):
        total = (val(before[2], s0, wd) + val(before[5], s0, wd)) % (1 << wd)
        assert val(after[5], s0, wd) == total


def test_sign_extension_mode_uses_latched_sign() -> None:
    mac = Macro(MacroSpec(rows=4, cols=4))
    mac.configure_lanes(1, 4)
    mac.write_row(0, [1, 1, 1, 1])  # weight segment: -1 (sign 1)
    mac.write_row(1, [0, 0, 0, 0])  # membrane segment 0
    mac.write_row(2, [0, 0, 0, 0])  # membrane segment 1 (no weight row: sign-extended)
    mac.row_op(1, 0, first_segment=True, last_segment=False)
    assert mac.sign_latch.tolist() == [1] and mac.carry_latch.tolist() == [0]
    mac.row_op(2, None, first_segment=False, last_segment=True)
    assert mac.read_row(1).tolist() == [1, 1, 1, 1] and mac.read_row(2).tolist() == [1, 1, 1, 1]


# ----------------------------------------------------------------------------- errors

def test_errors_leave_the_array_intact() -> None:
    mac = Macro(MacroSpec(rows=8, cols=16))
    block = mac.allocate(4, w_bits=4, v_bits=8, cols=4)
    mac.write_membranes(block, [1, 2, 3, 4])
    mac.configure_lanes(4, 4)
    bits, ctrl, free, counts = mac.bits.copy(), mac.ctrl, mac.free_rows, mac.counters
    with pytest.raises(OperandError, match=r"membranes\[2\] = 300"):
        mac.write_membranes(block, [9, 9, 300, 9])
    with pytest.raises(OperandError, match="lanes"):
        mac.write_weights(block, [1, 2, 3])
    with pytest.raises(OperandError, match="rows"):
        mac.allocate(100, w_bits=8, v_bits=8, cols=8)
    with pytest.raises(OperandError, match="column"):
        mac.configure([START] * 16)
    with pytest.raises(OperandError, match="0 or 1"):
        mac.write_row(0, [2] * 16)
    with pytest.raises(OperandError, match="row"):
        mac.row_op(99, 0)
    with pytest.raises(OperandError, match="different rows"):
        mac.row_op(3, 3)
    assert np.array_equal(mac.bits, bits) and np.array_equal(mac.ctrl, ctrl)
    assert mac.free_rows == free and mac.counters == counts
    assert mac.read_membranes(block, count=False).tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError):
        mac.bits[0, 0] = 1  # the public view is read-only


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"membranes": [128], "weights": [0], "v_bits": 8, "w_bits": 8}, r"membranes\[0\] = 128"),
    ({"membranes": [0], "weights": [-9], "v_bits": 8, "w_bits": 4}, r"weights\[0\] = -9"),
    ({"membranes": [0, 1], "weights": [0], "v_bits": 8, "w_bits": 4}, "one weight per lane"),
    ({"membranes": [0], "weights": [0], "v_bits": 8, "w_bits": 9}, "w_bits = 9 > v_bits"),
    ({"membranes": [0], "weights": [0], "v_bits": 65, "w_bits": 4}, "v_bits = 65"),
    ({"membranes": [0], "weights": [0], "v_bits": 8, "w_bits": 4, "cols": 0}, "cols = 0"),
    ({"membranes": [0.5], "weights": [0], "v_bits": 8, "w_bits": 4}, "dtype float64"),
    ({"membranes": [2**70], "weights": [0], "v_bits": 64, "w_bits": 4}, "does not fit"),
    ({"membranes": [0] * 5000, "weights": [0] * 5000, "v_bits": 16, "w_bits": 8},
     "at most 4096 lanes"),
])
def test_in_memory_add_errors_are_one_line(kwargs: dict, pattern: str) -> None:
    with pytest.raises(OperandError, match=pattern) as exc:
        in_memory_add(kwargs.pop("membranes"), kwargs.pop("weights"), **kwargs)
    assert "\n" not in str(exc.value)


# ----------------------------------------------------------------------------- the leak

def leaked(v: int, kind: str, amount: int) -> int:
    """The integer leak of docs/arithmetic.md, written out on Python integers."""
    if kind == "shift":
        return v - (abs(v) >> amount) * (1 if v > 0 else -1 if v < 0 else 0)
    return v - max(-amount, min(amount, v))


@st.composite
def leak_cases(draw: st.DrawFn) -> tuple[int, str, int, int, int, list[int]]:
    """(v_bits, kind, amount, cols, operand rows, membranes): every width, multi-row operands,
    the leak's range edges and the membranes' edges (most negative, -1, 0, 1, largest)."""
    v_bits = draw(st.integers(2, 64))
    kind = draw(st.sampled_from(["shift", "constant"]))
    lo, hi = leak_range(kind, v_bits)
    amount = draw(st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi)))
    cols = draw(st.integers(1, v_bits))
    v_rows = -(-v_bits // cols)
    least = -(-leak_operand_bits(kind, amount, v_bits) // cols)
    rows = draw(st.integers(least, v_rows))
    vlo, vhi = -(1 << (v_bits - 1)), (1 << (v_bits - 1)) - 1
    edges = [vlo, -1, 0, 1, vhi, vlo + 1, hi, -hi]
    n = draw(st.integers(1, 30))
    ms = draw(st.lists(st.one_of(st.sampled_from([e for e in edges if vlo <= e <= vhi]),
                                 st.integers(vlo, vhi)), min_size=n, max_size=n))
    return v_bits, kind, amount, cols, rows, ms


@settings(max_examples=200, deadline=None)
@given(leak_cases())
def test_in_memory_leak_equals_the_integer_leak(case: tuple) -> None:
    """Through the per-cell array (read, periphery, scratch rows, in-memory addition): the
    integer leak for every width, shape, shift, constant and edge value; never an overflow, no
    SOP; counters = leak_cost per row group."""
    v_bits, kind, amount, cols, rows, ms = case
    spec = MacroSpec(rows=512, cols=max(cols, 64))
    res = in_memory_leak(ms, kind=kind, amount=amount, v_bits=v_bits, cols=cols, spec=spec,
                         operand_rows=rows)
    assert res.membranes.tolist() == [leaked(v, kind, amount) for v in ms]
    assert not res.overflow.any() and res.counters.sops == 0
    lpr = spec.cols // cols
    groups = -(-len(ms) // lpr)
    want = sum((leak_cost(min(lpr, len(ms) - g * lpr), v_bits=v_bits, cols=cols,
                          operand_rows=rows, spec=spec) for g in range(groups)), MacroCounters())
    assert res.counters == want


def test_leak_cost_of_one_row_group_by_hand() -> None:
    """16 lanes of 16-bit membranes at 1 x 16: one row read, one row write, one row operation;
    at 4 columns per lane (4 rows): 4 reads, 4 writes (or 2 with the narrowest shift operand),
    4 row operations; no SOP."""
    assert leak_cost(16, v_bits=16, cols=16) == MacroCounters(
        phases=5, row_ops=1, active_col_phases=5 * 256, standby_col_phases=0, row_reads=1,
        row_writes=1)
    c = in_memory_leak(list(range(-8, 8)), kind="shift", amount=4, v_bits=16, cols=4).counters
    assert c == MacroCounters(phases=20, row_ops=4, active_col_phases=5 * 16 * 16,
                              standby_col_phases=5 * (4 * 256 - 16 * 16), row_reads=4,
                              row_writes=4)
    assert leak_operand_bits("shift", 8, 16) == 9 and leak_operand_bits("constant", 5, 16) == 4
    narrow = in_memory_leak([100, -100], kind="shift", amount=8, v_bits=16, cols=4,
                            operand_rows=3)
    assert narrow.membranes.tolist() == [100, -100] and narrow.counters.row_writes == 3
    assert narrow.counters.row_ops == 4


def test_leak_row_group_in_place_leaves_other_cells() -> None:
    """Lanes at scattered columns of a used macro (as a system engine holds them): only their
    membrane cells change; the scratch rows change only in the lanes' columns; other rows,
    other columns and the counters of the rest stay."""
    rng = np.random.default_rng(5)
    spec = MacroSpec(rows=16, cols=64)
    mac = Macro(spec)
    for r in range(16):
        mac.write_row(r, rng.integers(0, 2, 64))
    mac.reset_counters()
    starts, cols, v_bits = np.array([0, 12, 40]), 6, 10  # two rows per membrane, 6 + 4 bits
    before = mac.bits.copy()

    def value(bits: np.ndarray, s0: int) -> int:
        cells = np.concatenate([bits[7, s0:s0 + cols], bits[8, s0:s0 + cols]])[:v_bits]
        u = sum(int(b) << i for i, b in enumerate(cells.tolist()))
        return u - (1 << v_bits) if u >> (v_bits - 1) else u

    res = leak_row_group(mac, kind="constant", amount=37, v_bits=v_bits, cols=cols,
                         starts=starts, membrane_row=7, scratch_row=2)
    after = mac.bits
    for s0 in starts.tolist():
        assert value(after, s0) == leaked(value(before, s0), "constant", 37)
    lane_cols = np.zeros(64, bool)
    for s0 in starts.tolist():
        lane_cols[s0:s0 + cols] = True
    padding = np.zeros(64, bool)  # cells past v_bits in the last membrane row: never written
    for s0 in starts.tolist():
        padding[s0 + v_bits - cols:s0 + cols] = True
    untouched = [r for r in range(16) if r not in (2, 3, 7, 8)]
    assert np.array_equal(after[untouched], before[untouched])
    assert np.array_equal(after[:, ~lane_cols], before[:, ~lane_cols])
    assert np.array_equal(after[8, padding], before[8, padding])
    assert res.counters == leak_cost(3, v_bits=v_bits, cols=cols, spec=spec)
    assert mac.counters == res.counters and res.overflow.tolist() == [0, 0, 0]


def test_leak_errors_are_one_line_and_leave_the_array_intact() -> None:
    mac = Macro(MacroSpec(rows=8, cols=16))
    mac.write_row(1, [1] * 16)
    bits, counts = mac.bits.copy(), mac.counters
    base = dict(kind="shift", amount=2, v_bits=8, cols=4, starts=[0, 4], membrane_row=0,
                scratch_row=4)
    for change, pattern in [
        ({"kind": "exp"}, "leak kind 'exp'"), ({"amount": 8}, r"leak shift = 8 .*\[1, 7\]"),
        ({"kind": "constant", "amount": 128}, r"\[1, 127\]"), ({"v_bits": 1}, "v_bits = 1"),
        ({"starts": [0, 2]}, "without overlapping"), ({"starts": [14]}, "do not fit"),
        ({"scratch_row": 1}, "overlap membrane rows"), ({"membrane_row": 7}, "membrane_row = 7"),
        ({"operand_rows": 1}, r"operand_rows = 1: .* needs \[2, 2\] rows"),
        ({"cols": 0}, "cols = 0"),
    ]:
        with pytest.raises(OperandError, match=pattern) as exc:
            leak_row_group(mac, **{**base, **change})
        assert "\n" not in str(exc.value)
    assert np.array_equal(mac.bits, bits) and mac.counters == counts
    with pytest.raises(OperandError, match=r"membranes\[0\] = 200"):
        in_memory_leak([200], kind="shift", amount=1, v_bits=8)

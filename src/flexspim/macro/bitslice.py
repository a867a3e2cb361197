"""Bit-sliced execution of the macro's in-memory addition (docs/design.md §3; paper §II, Fig. 2-3).

The per-cell model (:class:`flexspim.macro.Macro`) holds one byte per SRAM cell and runs each
phase on arrays of cells. Here the same phases run on *bit planes*: a plane is one 64-bit word
that holds the same bit position (the same column of the operand) of 64 lanes, so one word
operation is that phase on 64 columns of 64 lanes at once::

    for bit b = 0 .. v_bits-1 (column order, LSB first; carry c = 0 at the first segment):
        1. precharge:    BL = BLB = all ones
        2. read:         w_b = weight plane b, or the latched sign plane past the weight's bits
                         (sign-extension mode: single wordline)
                         BL  &= w_b AND m_b            BLB &= NOR(w_b, m_b)
        3. carry:        p = NOT(BL OR BLB)            c_next = BL OR (p AND c)
        4. sum:          s = p XOR c
        5. write-back:   m_b = s on the active lanes, m_b unchanged elsewhere
    overflow = c(into the sign column) XOR c(out of it);  direction +1 if s_sign else -1

Row segments (an operand of ``cols`` columns per row) only decide where a row operation ends:
the carry out of a segment is latched and is the carry into the next segment's first column,
the same value the ripple above carries from bit ``k*cols - 1`` to bit ``k*cols``; so the word
operations do not depend on the shape, only the counters do (:func:`add_counters`).

:func:`add_planes` is the kernel (compiled by Numba where installed; the simulator's
``bitlevel`` engine runs it for every SOP); :func:`bitsliced_add` is the drop-in counterpart of
:func:`flexspim.macro.in_memory_add`, proven equal to it (membranes, overflow and counters) by
tests/test_bitslice.py.

The leak (:mod:`flexspim.macro.leak`) runs the same way: :func:`leak_planes` forms the
periphery's operand ``-t(v)`` from the membrane planes with word operations (the biased
arithmetic shift of a ``shift`` leak; the two comparisons and the multiplexer of a
``constant`` leak, :func:`at_least`) and adds it with :func:`add_planes`;
:func:`bitsliced_leak` is the counterpart of :func:`flexspim.macro.leak.in_memory_leak`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

try:  # compiled where Numba is installed; the same functions run interpreted otherwise
    import numba
except ImportError:  # pragma: no cover - exercised only where Numba is not installed
    numba = None

from flexspim.errors import OperandError
from flexspim.hw.spec import MacroSpec
from flexspim.macro.add import InMemoryAddResult
from flexspim.macro.array import LaneBlock, Macro, check_values
from flexspim.macro.counters import MacroCounters
from flexspim.macro.leak import InMemoryLeakResult, leak_block, leak_cost

#: Lanes per bit plane (one machine word).
WORD_LANES = 64
#: A plane with every lane set.
ALL_LANES = np.uint64(0xFFFFFFFFFFFFFFFF)


def _jit(f: Callable[..., Any]) -> Callable[..., Any]:
    if numba is None:
        return f
    return numba.njit(cache=True, nogil=True, inline="always")(f)  # type: ignore[no-any-return]


@_jit
def add_planes(m: Any, mo: int, w: Any, wo: int, w_bits: int, v_bits: int, active: Any
               ) -> tuple[Any, Any]:
    """membrane += weight on the ``active`` lanes of one word (module docstring).

    ``m[mo : mo + v_bits]`` are the membrane planes (LSB first, written in place), ``w[wo :
    wo + w_bits]`` the weight planes, all uint64. Returns (overflow word, sign word of the
    results): lane i overflowed where bit i of the first is set, upward (+1) where bit i of
    the second is also set, downward (-1) otherwise.
    """
    sign = w[wo + w_bits - 1]  # latched at the weight's sign column
    carry = np.uint64(0)
    c_in = np.uint64(0)
    s = np.uint64(0)
    keep = ~active
    for b in range(v_bits):
        w_b = w[wo + b] if b < w_bits else sign  # dual wordline, then sign-extension mode
        m_b = m[mo + b]
        bl = ALL_LANES & w_b & m_b  # precharged BL stays high only if both cells hold 1
        blb = ALL_LANES & ~w_b & ~m_b  # precharged BLB stays high only if both hold 0
        p = ~(bl | blb)
        c_in = carry
        carry = bl | (p & carry)
        s = p ^ c_in
        m[mo + b] = (s & active) | (m_b & keep)
    return (c_in ^ carry) & active, s & active


def to_planes(values: np.ndarray, bits: int) -> np.ndarray:
    """uint64 ``[ceil(n/64), bits]``: the two's-complement bits of int64 ``values`` (n lanes,
    lane i in bit i % 64 of word i // 64; bits past 63 repeat the sign)."""
    vals = np.asarray(values, dtype=np.int64).reshape(-1)
    n_words = -(-vals.size // WORD_LANES)
    padded = np.zeros(n_words * WORD_LANES, dtype=np.int64)
    padded[: vals.size] = vals
    shifts = np.minimum(np.arange(bits), 63)
    cells = ((padded[:, None] >> shifts[None, :]) & 1).astype(np.uint8)  # [lanes, bits]
    by_word = cells.reshape(n_words, WORD_LANES, bits).transpose(0, 2, 1)
    packed = np.packbits(by_word, axis=-1, bitorder="little")  # [words, bits, 8]
    return np.ascontiguousarray(packed).view(np.uint64).reshape(n_words, bits)


def from_planes(planes: np.ndarray, bits: int, n: int) -> np.ndarray:
    """int64 ``[n]``: the signed values of the first n lanes of ``planes`` ``[words, >= bits]``
    (:func:`to_planes`)."""
    words = np.ascontiguousarray(planes[:, :bits], dtype=np.uint64)
    cells = np.unpackbits(words.view(np.uint8).reshape(*words.shape, 8), axis=-1,
                          bitorder="little")  # [words, bits, 64]
    cells = cells.transpose(0, 2, 1).reshape(-1, bits)[:n].astype(np.uint64)
    u = (cells << np.arange(bits, dtype=np.uint64)[None, :]).sum(axis=1, dtype=np.uint64)
    if bits >= 64:
        return u.view(np.int64)
    sb = np.uint64(1) << np.uint64(bits - 1)
    return ((u ^ sb) - sb).view(np.int64)


def lane_masks(n: int) -> np.ndarray:
    """uint64 ``[ceil(n/64)]``: the words of n active lanes."""
    n_words = -(-n // WORD_LANES)
    out = np.full(n_words, ALL_LANES, dtype=np.uint64)
    if n % WORD_LANES:
        out[-1] = np.uint64((1 << (n % WORD_LANES)) - 1)
    return out


def add_counters(block: LaneBlock, spec: MacroSpec) -> MacroCounters:
    """Counters of one addition on every lane of ``block`` (as :meth:`Macro.add` counts them):
    one row operation per membrane segment and row group, ``phases_per_add`` phases each; each
    lane computes on v_bits columns, every other column of those row operations stands by."""
    row_ops = block.groups * block.v_rows
    active = spec.phases_per_add * block.n_lanes * block.v_bits
    return MacroCounters(phases=row_ops * spec.phases_per_add, row_ops=row_ops,
                         active_col_phases=active,
                         standby_col_phases=spec.phases_per_add * row_ops * spec.cols - active,
                         sops=block.n_lanes)


@_jit
def _add_words(m: Any, w: Any, active: Any, w_bits: int, v_bits: int, ovf: Any, up: Any
               ) -> None:
    for i in range(m.shape[0]):
        ovf[i], up[i] = add_planes(m[i], 0, w[i], 0, w_bits, v_bits, active[i])


def bitsliced_add(membranes: Any, weights: Any, *, v_bits: int, w_bits: int,
                  cols: int | None = None, spec: MacroSpec | None = None,
                  lanes_per_row: int | None = None) -> InMemoryAddResult:
    """membrane += weight for every lane, as :func:`~flexspim.macro.in_memory_add` computes it
    (same arguments, checks, results and counters), on bit planes.

    The lanes are laid out in a fresh macro exactly as ``in_memory_add`` lays them out (which
    fixes the counters); the arithmetic runs as word operations, 64 lanes per word.
    """
    spec = spec if spec is not None else MacroSpec()
    m_in = np.asarray(membranes)
    w_in = np.asarray(weights)
    if m_in.shape != w_in.shape:
        raise OperandError(f"bitsliced_add: {m_in.size} membranes (shape {m_in.shape}) and "
                           f"{w_in.size} weights (shape {w_in.shape}); pass one weight per lane")
    block = Macro(spec).allocate(int(m_in.size), w_bits=w_bits, v_bits=v_bits, cols=cols,
                                 lanes_per_row=lanes_per_row)
    m_vals = check_values(m_in, block.v_bits, "membranes")
    w_vals = check_values(w_in, block.w_bits, "weights")
    m_planes = to_planes(m_vals, block.v_bits)
    active = lane_masks(m_vals.size)
    ovf = np.zeros(active.size, dtype=np.uint64)
    up = np.zeros(active.size, dtype=np.uint64)
    _add_words(m_planes, to_planes(w_vals, block.w_bits), active, block.w_bits, block.v_bits,
               ovf, up)
    n = m_vals.size
    wrapped = from_planes(ovf[:, None], 1, n) != 0
    upward = from_planes(up[:, None], 1, n) != 0
    direction = np.where(wrapped, np.where(upward, 1, -1), 0).astype(np.int8)
    return InMemoryAddResult(from_planes(m_planes, block.v_bits, n).reshape(m_in.shape),
                             direction.reshape(m_in.shape), add_counters(block, spec))


#: Codes of the leak kinds in the compiled kernels (0: no leak).
LEAK_CODES: dict[str, int] = {"shift": 1, "constant": 2}


@_jit
def _bit(value: Any, b: int) -> Any:
    """Plane of bit ``b`` of the signed int64 ``value`` (its sign past bit 63), as all lanes."""
    return ALL_LANES if (value >> min(b, 63)) & 1 else np.uint64(0)


@_jit
def at_least(m: Any, mo: int, v_bits: int, value: Any) -> Any:
    """Lanes of one word where the membrane ``m[mo : mo + v_bits]`` is >= ``value`` (a signed
    int64 with ``|value| < 2**(v_bits-1)``): the sign of ``v - value``, added on the planes one
    bit wider (membrane and ``-value`` sign-extended)."""
    neg = -value
    carry = np.uint64(0)
    s = np.uint64(0)
    for b in range(v_bits + 1):
        a = m[mo + min(b, v_bits - 1)]
        t = _bit(neg, b)
        s = a ^ t ^ carry
        carry = (a & t) | (carry & (a ^ t))
    return ~s


@_jit
def _equal(m: Any, mo: int, v_bits: int, value: Any) -> Any:
    """Lanes of one word whose membrane equals ``value``."""
    eq = ALL_LANES
    for b in range(v_bits):
        eq &= ~(m[mo + b] ^ _bit(value, b))
    return eq


@_jit
def _shift_operand(m: Any, mo: int, v_bits: int, k: int, op: Any) -> None:
    """``op[0 : v_bits]`` = planes of ``-trunc(v / 2**k)``: v plus ``2**k - 1`` where negative,
    shifted right by k with the sign repeated, negated (invert, add one)."""
    sign = m[mo + v_bits - 1]
    carry = np.uint64(0)
    for b in range(v_bits):
        a = m[mo + b]
        x = sign if b < k else np.uint64(0)
        op[b] = a ^ x ^ carry
        carry = (a & x) | (carry & (a ^ x))
    for b in range(v_bits):  # op[b + k] is read before it is overwritten
        op[b] = op[min(b + k, v_bits - 1)]
    carry = ALL_LANES
    for b in range(v_bits):
        x = ~op[b]
        op[b] = x ^ carry
        carry = x & carry


@_jit
def _constant_operand(m: Any, mo: int, v_bits: int, c: Any, op: Any) -> None:
    """``op[0 : v_bits]`` = planes of ``-clamp(v, -c, c)``: -c where v > c, c where v < -c,
    else -v (invert, add one)."""
    above = at_least(m, mo, v_bits, c) & ~_equal(m, mo, v_bits, c)
    below = ~at_least(m, mo, v_bits, -c)
    inside = ~(above | below)
    carry = ALL_LANES
    for b in range(v_bits):
        x = ~m[mo + b]
        neg_v = x ^ carry
        carry = x & carry
        op[b] = (above & _bit(-c, b)) | (below & _bit(c, b)) | (inside & neg_v)


@_jit
def leak_planes(m: Any, mo: int, v_bits: int, kind: int, amount: Any, op_bits: int, op: Any,
                active: Any) -> tuple[Any, Any]:
    """membrane -= t(membrane) on the ``active`` lanes of one word (:mod:`flexspim.macro.leak`):
    the periphery writes ``-t`` into the planes ``op`` (uint64, at least ``v_bits`` long;
    ``kind`` a :data:`LEAK_CODES` value, ``amount`` the shift k or the constant c), then
    :func:`add_planes` adds its first ``op_bits`` planes, sign-extended. Returns add_planes'
    (overflow word, sign word); the overflow word is always 0."""
    if kind == 1:
        _shift_operand(m, mo, v_bits, amount, op)
    else:
        _constant_operand(m, mo, v_bits, np.int64(amount), op)
    return add_planes(m, mo, op, 0, op_bits, v_bits, active)


@_jit
def _leak_words(m: Any, active: Any, v_bits: int, kind: int, amount: int, op_bits: int,
                op: Any, ovf: Any, up: Any) -> None:
    for i in range(m.shape[0]):
        ovf[i], up[i] = leak_planes(m[i], 0, v_bits, kind, amount, op_bits, op, active[i])


def bitsliced_leak(membranes: Any, *, kind: str, amount: int, v_bits: int,
                   cols: int | None = None, spec: MacroSpec | None = None,
                   lanes_per_row: int | None = None, operand_rows: int | None = None
                   ) -> InMemoryLeakResult:
    """Leak every membrane once, as :func:`flexspim.macro.leak.in_memory_leak` computes it
    (same arguments, checks, results and counters), on bit planes."""
    spec = spec if spec is not None else MacroSpec()
    m_in = np.asarray(membranes)
    block, rows = leak_block(Macro(spec), int(m_in.size), kind=kind, amount=amount,
                             v_bits=v_bits, cols=cols, lanes_per_row=lanes_per_row,
                             operand_rows=operand_rows)
    m_vals = check_values(m_in, block.v_bits, "membranes")
    planes = to_planes(m_vals, v_bits)
    active = lane_masks(m_vals.size)
    ovf = np.zeros(active.size, dtype=np.uint64)
    up = np.zeros(active.size, dtype=np.uint64)
    _leak_words(planes, active, v_bits, LEAK_CODES[kind], int(amount),
                min(v_bits, rows * block.cols), np.zeros(v_bits, dtype=np.uint64), ovf, up)
    n = m_vals.size
    wrapped = from_planes(ovf[:, None], 1, n) != 0
    direction = np.where(wrapped, np.where(from_planes(up[:, None], 1, n) != 0, 1, -1), 0)
    counters = sum((leak_cost(min(block.lanes_per_row, n - g * block.lanes_per_row),
                              v_bits=v_bits, cols=block.cols, operand_rows=rows, spec=spec)
                    for g in range(block.groups)), MacroCounters())
    return InMemoryLeakResult(from_planes(planes, v_bits, n).reshape(m_in.shape),
                              direction.astype(np.int8).reshape(m_in.shape), counters)
